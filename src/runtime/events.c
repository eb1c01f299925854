#include "runtime/events.h"

#include "util/clock.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/kube_path.h"
#include "util/log.h"
#include "util/sbuf.h"
#include "util/strmap.h"
#include "util/timefmt.h"

#define MAX_TRACKED 4096

typedef struct series {
	char *event_name;
	char *ns;
	int count;
	int sent_count;
	int64_t last_seen_us;
	int64_t last_sent_us;
} series;

typedef struct bucket {
	double tokens;
	int64_t last_us;
} bucket;

struct events {
	kube_client *client;
	char *controller, *instance;
	metrics *m;
	pthread_mutex_t mu;
	strmap series;  /* uid|type|reason|note -> series* */
	strmap buckets; /* uid -> bucket* */
	uint64_t created, patched, dropped, seq;
	int64_t dedup_us, patch_every_us, refill_us;
	int burst;
	int64_t last_sweep_us;
};

static void series_free(void *p)
{
	series *s = p;
	if (!s)
		return;
	free(s->event_name);
	free(s->ns);
	free(s);
}

events *events_new(kube_client *c, const char *controller, const char *instance, metrics *m)
{
	events *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->client = c;
	e->controller = strdup(controller);
	e->instance = strdup(instance);
	e->m = m;
	pthread_mutex_init(&e->mu, NULL);
	events_set_windows(e, 0, 0, 0, 0);
	if (!e->controller || !e->instance) {
		events_free(e);
		return NULL;
	}
	if (m) {
		int rc =
			metrics_declare(m, "memshack_events_created_total", METRIC_COUNTER, "Events created.", NULL, 0);
		rc |= metrics_declare(m, "memshack_events_aggregated_total", METRIC_COUNTER,
				      "Repeated events folded into an existing Event's series.", NULL, 0);
		rc |= metrics_declare(m, "memshack_events_dropped_total", METRIC_COUNTER,
				      "Events dropped by the per-object rate limit.", NULL, 0);
		if (rc) {
			events_free(e);
			return NULL;
		}
	}
	return e;
}

void events_set_windows(events *e, int64_t dedup_us, int64_t patch_every_us, int burst, int64_t refill_us)
{
	e->dedup_us = dedup_us > 0 ? dedup_us : 600LL * 1000000;
	e->patch_every_us = patch_every_us > 0 ? patch_every_us : 30LL * 1000000;
	e->burst = burst > 0 ? burst : 25;
	e->refill_us = refill_us > 0 ? refill_us : 300LL * 1000000;
}

void events_free(events *e)
{
	if (!e)
		return;
	strmap_release(&e->series, series_free);
	strmap_release(&e->buckets, free);
	pthread_mutex_destroy(&e->mu);
	free(e->controller);
	free(e->instance);
	free(e);
}

static bool take_token(events *e, const char *uid, int64_t now)
{
	bucket *b = strmap_get(&e->buckets, uid, NULL);
	if (!b) {
		b = calloc(1, sizeof *b);
		if (!b || strmap_put(&e->buckets, uid, b, NULL, NULL)) {
			free(b);
			return true;
		}
		b->tokens = e->burst;
		b->last_us = now;
	}
	b->tokens += (double)(now - b->last_us) / (double)e->refill_us;
	if (b->tokens > e->burst)
		b->tokens = e->burst;
	b->last_us = now;
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}

typedef struct {
	const events *e;
	int64_t now;
	size_t quota; /* series to drop, expired or not, when the table is full */
} sweep;

static bool series_stale(void *ud, const char *key, void *value)
{
	(void)key;
	sweep *w = ud;
	const series *s = value;
	bool expired = w->now - s->last_seen_us > w->e->dedup_us;
	if (!expired && !w->quota)
		return false;
	if (w->quota)
		w->quota--;
	return true;
}

static bool bucket_full(void *ud, const char *key, void *value)
{
	(void)key;
	sweep *w = ud;
	const bucket *b = value;
	return b->tokens + (double)(w->now - b->last_us) / (double)w->e->refill_us >= w->e->burst;
}

/*
 * Forgets what no longer matters, so that memory stays flat however many
 * objects come and go: series not seen within the dedup window and token
 * buckets idle long enough to be full again (a fresh bucket is the same),
 * every tenth of the dedup window; and, when the series table is full
 * anyway, a quarter of it. Locked.
 */
static void expire(events *e, int64_t now)
{
	bool full = e->series.len >= MAX_TRACKED;
	if (!full && now - e->last_sweep_us < e->dedup_us / 10)
		return;
	e->last_sweep_us = now;
	sweep w = { e, now, full ? e->series.len / 4 : 0 };
	strmap_remove_if(&e->series, series_stale, &w, series_free);
	strmap_remove_if(&e->buckets, bucket_full, &w, free);
}

static void patch_series(events *e, series *s)
{
	char when[40];
	timefmt_rfc3339_micro(clock_wall_us(), when, sizeof when);
	json_t *p = json_pack("{s:{s:i, s:s}}", "series", "count", s->count, "lastObservedTime", when);
	kube_error err = KUBE_ERROR_INIT;
	char *path = kube_path(&KUBE_RES_EVENTS, s->ns, s->event_name, NULL, &err);
	if (p && path && kube_patch(e->client, path, KUBE_PATCH_MERGE, p, NULL, &err) == 0) {
		e->patched++;
		s->sent_count = s->count;
	} else if (path) {
		log_write(LOG_DEBUG, "events", s->event_name, "updating event series: %s", kube_strerror(&err));
	}
	free(path);
	json_decref(p);
	kube_error_release(&err);
}

void events_record(events *e, json_t *regarding, const char *type, const char *reason, const char *action,
		   const char *fmt, ...)
{
	json_t *meta = json_object_get(regarding, "metadata");
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	if (!uid || !name)
		return;
	if (!ns || !*ns)
		ns = "default";
	sbuf note = SBUF_INIT, key = SBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	int built = sbuf_vaddf(&note, fmt, ap);
	va_end(ap);
	if (note.len > 1024) { /* the API limits notes to 1 kB */
		note.len = 1024;
		note.buf[1024] = '\0';
	}
	if (built < 0 || sbuf_addf(&key, "%s|%s|%s|%s", uid, type, reason, note.buf) < 0) {
		log_write(LOG_WARN, "events", name, "cannot record event %s: out of memory", reason);
		sbuf_release(&note);
		sbuf_release(&key);
		return;
	}
	int64_t now = clock_mono_us();
	pthread_mutex_lock(&e->mu);
	series *s = strmap_get(&e->series, key.buf, NULL);
	if (s && now - s->last_seen_us <= e->dedup_us) {
		s->count++;
		s->last_seen_us = now;
		if (e->m)
			metrics_add(e->m, "memshack_events_aggregated_total", NULL, 1);
		if (now - s->last_sent_us >= e->patch_every_us) {
			s->last_sent_us = now;
			patch_series(e, s);
		}
		goto out;
	}
	if (!take_token(e, uid, now)) {
		e->dropped++;
		if (e->m)
			metrics_add(e->m, "memshack_events_dropped_total", NULL, 1);
		goto out;
	}
	expire(e, now);
	char when[40];
	timefmt_rfc3339_micro(clock_wall_us(), when, sizeof when);
	sbuf ename = SBUF_INIT;
	int named = sbuf_addf(&ename, "%.200s.%llx%04llx", name, (unsigned long long)clock_wall_us(),
			      (unsigned long long)(e->seq++ & 0xffff));
	json_t *ev =
		named < 0
			? NULL
			: json_pack(
				  "{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s?, s:s?, s:s, s:s, s:s}}",
				  "apiVersion", "events.k8s.io/v1", "kind", "Event", "metadata", "name", ename.buf,
				  "namespace", ns, "eventTime", when, "reportingController", e->controller,
				  "reportingInstance", e->instance, "action", action, "reason", reason, "note",
				  note.buf, "type", type, "regarding", "apiVersion",
				  json_string_value(json_object_get(regarding, "apiVersion")), "kind",
				  json_string_value(json_object_get(regarding, "kind")), "name", name, "namespace", ns,
				  "uid", uid);
	kube_error err = KUBE_ERROR_INIT;
	char *path = kube_path(&KUBE_RES_EVENTS, ns, NULL, NULL, &err);
	if (ev && path && kube_create(e->client, path, ev, NULL, &err) == 0) {
		e->created++;
		if (e->m)
			metrics_add(e->m, "memshack_events_created_total", NULL, 1);
		series *ns_ = calloc(1, sizeof *ns_);
		if (ns_) {
			ns_->event_name = sbuf_detach(&ename);
			ns_->ns = strdup(ns);
			ns_->count = ns_->sent_count = 1;
			ns_->last_seen_us = ns_->last_sent_us = now;
			void *old = NULL;
			if (!ns_->event_name || !ns_->ns || strmap_put(&e->series, key.buf, ns_, &old, NULL))
				series_free(ns_);
			series_free(old);
		}
	} else {
		log_write(LOG_WARN, "events", name, "cannot create event %s: %s", reason, kube_strerror(&err));
	}
	sbuf_release(&ename);
	free(path);
	json_decref(ev);
	kube_error_release(&err);
out:
	pthread_mutex_unlock(&e->mu);
	sbuf_release(&note);
	sbuf_release(&key);
}

uint64_t events_created(events *e)
{
	pthread_mutex_lock(&e->mu);
	uint64_t n = e->created;
	pthread_mutex_unlock(&e->mu);
	return n;
}

uint64_t events_patched(events *e)
{
	pthread_mutex_lock(&e->mu);
	uint64_t n = e->patched;
	pthread_mutex_unlock(&e->mu);
	return n;
}

uint64_t events_dropped(events *e)
{
	pthread_mutex_lock(&e->mu);
	uint64_t n = e->dropped;
	pthread_mutex_unlock(&e->mu);
	return n;
}
