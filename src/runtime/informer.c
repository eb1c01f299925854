#include "runtime/informer.h"

#include "util/clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/watch.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/object_meta.h"

#define MAX_HANDLERS 8
#define IDLE_MARGIN_S 30

struct informer {
	kube_client *client;
	kube_resource res;
	char *namespace;
	char *label_selector;
	long min_timeout_s;
	unsigned page_size;
	metrics *metrics;
	bool notify_kept_changes_only;
	bool optional;
	const char *const *list_drop;
	store *store;
	struct {
		informer_handler fn;
		void *ud;
	} handlers[MAX_HANDLERS];
	int n_handlers;

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stopping;
	bool paused;
	bool pause_ack;
	bool synced;
	bool absent; /* optional: the last list found the resource not served (404) */

	watch_sm sm;
	uint64_t rng;
	/* per watch stream */
	watch_lines lines;
	bool restart;
	uint64_t relists_counted, restarts_counted; /* the part of sm's counts already added to the metrics */

	/* Objects set aside as undecodable, under mu: key -> quarantined*. */
	strmap quarantine;
	size_t unnamed; /* items of the last list that could not even be named */
};

typedef struct quarantined {
	json_t *identity;
	char reason[200];
	bool reported; /* informer_quarantine_set_reported: its status and Event were written */
} quarantined;

static void identity_release(void *p)
{
	json_decref(p);
}

static void quarantined_free(void *p)
{
	quarantined *q = p;
	if (q)
		json_decref(q->identity);
	free(q);
}

static double rand01(informer *inf)
{
	/* xorshift64* */
	inf->rng ^= inf->rng >> 12;
	inf->rng ^= inf->rng << 25;
	inf->rng ^= inf->rng >> 27;
	return (double)((inf->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

informer *informer_new(kube_client *c, const informer_options *o, kube_error *err)
{
	if (!o || !o->res) {
		kube_error_set(err, KUBE_ERR_INVALID, "informer needs a resource");
		return NULL;
	}
	informer *inf = calloc(1, sizeof *inf);
	/* The condition variable first: informer_free (every later failure's path) uses it. */
	if (!inf || clock_cond_init(&inf->cond)) {
		free(inf);
		kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		return NULL;
	}
	inf->client = c;
	inf->res = *o->res;
	inf->min_timeout_s = o->min_watch_timeout_s > 0 ? o->min_watch_timeout_s : 300;
	inf->page_size = o->page_size ? o->page_size : 100;
	inf->metrics = o->metrics;
	inf->notify_kept_changes_only = o->notify_kept_changes_only;
	inf->optional = o->optional;
	inf->list_drop = o->list_drop;
	inf->namespace = o->namespace && *o->namespace ? strdup(o->namespace) : NULL;
	inf->label_selector = o->label_selector && *o->label_selector ? strdup(o->label_selector) : NULL;
	inf->store = store_new(o->project, o->project_ud);
	inf->quarantine = (strmap)STRMAP_INIT;
	pthread_mutex_init(&inf->mu, NULL);
	watch_sm_init(&inf->sm, inf->min_timeout_s);
	watch_lines_init(&inf->lines, 0);
	inf->rng = (uint64_t)clock_mono_us() ^ (uint64_t)(uintptr_t)inf ^ 0x9E3779B97F4A7C15ULL;
	if (!inf->rng)
		inf->rng = 1;
	if (!inf->store || (o->namespace && *o->namespace && !inf->namespace) ||
	    (o->label_selector && *o->label_selector && !inf->label_selector)) {
		informer_free(inf);
		kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (inf->metrics) {
		int rc = metrics_declare(inf->metrics, "memshack_watch_restarts_total", METRIC_COUNTER,
					 "Watch streams restarted (ended, failed or expired), by resource.", NULL, 0);
		rc |= metrics_declare(inf->metrics, "memshack_watch_relists_total", METRIC_COUNTER,
				      "Full lists (initial and after 410 Gone), by resource.", NULL, 0);
		rc |= metrics_declare(inf->metrics, "memshack_objects_quarantined", METRIC_GAUGE,
				      "Objects set aside because they cannot be decoded, by resource.", NULL, 0);
		if (rc) {
			informer_free(inf);
			kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
			return NULL;
		}
	}
	return inf;
}

int informer_add_handler(informer *inf, informer_handler fn, void *ud)
{
	if (inf->started || inf->n_handlers == MAX_HANDLERS)
		return -1;
	inf->handlers[inf->n_handlers].fn = fn;
	inf->handlers[inf->n_handlers].ud = ud;
	inf->n_handlers++;
	return 0;
}

static void notify(informer *inf, informer_event ev, const char *key, json_t *obj)
{
	for (int i = 0; i < inf->n_handlers; i++)
		inf->handlers[i].fn(inf->handlers[i].ud, ev, key, obj);
}

static void on_relist_changed(void *ud, const char *key, json_t *obj)
{
	notify(ud, INFORMER_UPSERT, key, obj);
}

bool informer_is_quarantined(informer *inf, const char *key)
{
	pthread_mutex_lock(&inf->mu);
	bool q = strmap_get(&inf->quarantine, key, NULL) != NULL;
	pthread_mutex_unlock(&inf->mu);
	return q;
}

static void on_relist_vanished(void *ud, const char *key, json_t *obj)
{
	informer *inf = ud;
	if (!informer_is_quarantined(inf, key)) /* set aside, not gone: heard as INFORMER_QUARANTINE */
		notify(inf, INFORMER_DELETE, key, obj);
}

static void publish_quarantine_len(informer *inf)
{
	if (!inf->metrics)
		return;
	char labels[128];
	snprintf(labels, sizeof labels, "resource=\"%s\"", inf->res.plural);
	metrics_set(inf->metrics, "memshack_objects_quarantined", labels, (double)informer_quarantine_len(inf));
}

static const char *identity_rv(json_t *id)
{
	return object_meta_str(id, "resourceVersion");
}

/*
 * Sets key's object aside (identity taken). Returns true when this is news
 * (not quarantined before, or for another reason): the caller tells the
 * handlers. Logs news once. false, too, when out of memory (then nothing changed).
 */
static bool quarantine_put(informer *inf, const char *key, json_t *identity, const char *reason)
{
	quarantined *q = calloc(1, sizeof *q);
	if (!q) {
		json_decref(identity);
		return false;
	}
	q->identity = identity;
	snprintf(q->reason, sizeof q->reason, "%s", reason);
	void *old = NULL;
	pthread_mutex_lock(&inf->mu);
	int rc = strmap_put(&inf->quarantine, key, q, &old, NULL);
	pthread_mutex_unlock(&inf->mu);
	if (rc) {
		quarantined_free(q);
		return false;
	}
	/*
	 * News is a new key or a new reason, not a new resourceVersion: reporting
	 * it (a status write) makes one, which must not be reported again.
	 */
	quarantined *was = old;
	bool news = !was || strcmp(was->reason, q->reason);
	q->reported = was && !news && was->reported; /* a new reason is reported anew */
	quarantined_free(was);
	if (news) {
		const char *rv = identity_rv(identity);
		log_write(LOG_WARN, "informer", inf->res.plural, "%s (resourceVersion %s) set aside: %s", key,
			  rv ? rv : "?", reason);
	}
	return news;
}

/* Takes key out of quarantine (read again, or deleted). */
static void quarantine_remove(informer *inf, const char *key, const char *why)
{
	pthread_mutex_lock(&inf->mu);
	quarantined *q = strmap_remove(&inf->quarantine, key, NULL);
	pthread_mutex_unlock(&inf->mu);
	if (q)
		log_write(LOG_INFO, "informer", inf->res.plural, "%s no longer set aside: %s", key, why);
	quarantined_free(q);
}

/* Swaps the quarantine for what a list found (list["undecodable"]); news to tell handlers go into news (key -> identity). */
static void quarantine_from_list(informer *inf, json_t *list, json_t *news)
{
	json_t *und = json_object_get(list, "undecodable");
	size_t i;
	json_t *u;
	json_t *kept = json_object();
	json_array_foreach (und, i, u) {
		char key[512];
		json_t *id = json_object_get(u, "object");
		if (!store_key_of(id, key, sizeof key))
			continue;
		if (quarantine_put(inf, key, json_incref(id), json_string_value(json_object_get(u, "reason")) ?: "?"))
			json_object_set(news, key, id);
		json_object_set(kept, key, json_true());
	}
	/*
	 * Set aside before, not now: read again (store_replace tells of it) or
	 * gone. Without the kept set that cannot be told: leave them be (fail
	 * closed: no synthesised delete on incomplete information).
	 */
	strmap gone = STRMAP_INIT;
	const char *k;
	void *v;
	pthread_mutex_lock(&inf->mu);
	for (size_t it = 0; kept && strmap_next(&inf->quarantine, &it, &k, &v);) {
		json_t *id = ((quarantined *)v)->identity;
		if (!json_object_get(kept, k) && !strmap_put(&gone, k, id, NULL, NULL))
			json_incref(
				id); /* gone holds a reference; without memory it stays set aside until the next list */
	}
	inf->unnamed = (size_t)json_integer_value(json_object_get(list, "unnamed"));
	pthread_mutex_unlock(&inf->mu);
	json_t *listed = gone.len ? json_object() : NULL; /* keys of the listed items, built once */
	json_array_foreach (json_object_get(list, "items"), i, u) {
		char ik[512];
		if (listed && store_key_of(u, ik, sizeof ik))
			json_object_set_new(listed, ik, json_true());
	}
	for (size_t it = 0; listed && strmap_next(&gone, &it, &k, &v);) {
		char key[512];
		snprintf(key, sizeof key, "%s", k);
		bool readable = json_object_get(listed, key) != NULL;
		quarantine_remove(inf, key, readable ? "readable again" : "deleted");
		if (!readable)
			notify(inf, INFORMER_DELETE, key, v);
	}
	json_decref(listed);
	strmap_release(&gone, identity_release);
	json_decref(kept);
	if (inf->unnamed)
		log_write(LOG_WARN, "informer", inf->res.plural,
			  "%zu listed objects could be neither decoded nor named: skipped", inf->unnamed);
}

static bool should_stop(informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	bool s = inf->stopping || inf->paused;
	pthread_mutex_unlock(&inf->mu);
	return s;
}

/* Sleeps up to us, waking early on stop/pause. */
static void wait_us(informer *inf, int64_t us)
{
	pthread_mutex_lock(&inf->mu);
	if (!inf->stopping)
		clock_cond_wait_until(&inf->cond, &inf->mu, clock_mono_us() + us);
	pthread_mutex_unlock(&inf->mu);
}

/* Adds what the state machine counted since the last call to the metrics (informers of one resource share a series). */
static void publish_counts(informer *inf)
{
	uint64_t relists = inf->sm.relists, restarts = inf->sm.restarts;
	if (inf->metrics && (relists != inf->relists_counted || restarts != inf->restarts_counted)) {
		char labels[128];
		snprintf(labels, sizeof labels, "resource=\"%s\"", inf->res.plural);
		metrics_add(inf->metrics, "memshack_watch_relists_total", labels,
			    (double)(relists - inf->relists_counted));
		metrics_add(inf->metrics, "memshack_watch_restarts_total", labels,
			    (double)(restarts - inf->restarts_counted));
	}
	inf->relists_counted = relists;
	inf->restarts_counted = restarts;
}

static char *collection_path(informer *inf, kube_error *err)
{
	return kube_path(&inf->res, inf->namespace, NULL, NULL, err);
}

/* The cache is synced (waking waiters), its resource served or not; returns whether it was absent before. */
static bool mark_synced(informer *inf, bool absent)
{
	pthread_mutex_lock(&inf->mu);
	bool was_absent = inf->absent;
	inf->absent = absent;
	inf->synced = true;
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->mu);
	return was_absent;
}

/*
 * An optional resource the API server does not serve (its CRD is not
 * installed, or was removed): the cache is empty and synced — what it
 * held is deleted, handlers hear it — and listing is tried again with the
 * list backoff (up to 30 s). Said once, not on every try.
 */
static void resource_absent(informer *inf)
{
	json_t *none = json_array();
	if (!none || store_replace(inf->store, none, on_relist_changed, on_relist_vanished, inf)) {
		json_decref(none);
		log_write(LOG_ERROR, "informer", inf->res.plural, "out of memory emptying the cache");
		watch_sm_list_failed(&inf->sm, clock_mono_us(), rand01(inf));
		return;
	}
	json_decref(none);
	if (!mark_synced(inf, true))
		log_write(LOG_INFO, "informer", inf->res.plural,
			  "not served by the API server (%s/%s: is its CRD installed?); listing it again every 30 s",
			  inf->res.group, inf->res.version);
	watch_sm_list_failed(&inf->sm, clock_mono_us(), rand01(inf));
}

/* kube_list_options.trim_item: what no reader of this informer needs goes as each page arrives. */
static void trim_listed(void *ud, json_t *item)
{
	const informer *inf = ud;
	json_object_del(json_object_get(item, "metadata"), "managedFields");
	for (const char *const *f = inf->list_drop; f && *f; f++)
		json_object_del(item, *f);
}

static void do_list(informer *inf)
{
	kube_error err = KUBE_ERROR_INIT;
	char *path = collection_path(inf, &err);
	json_t *list = NULL;
	kube_list_options lo = {
		.label_selector = inf->label_selector, .limit = inf->page_size, .trim_item = trim_listed, .trim_ud = inf
	};
	int rc = path ? kube_list(inf->client, path, &lo, &list, &err) : -1;
	free(path);
	if (rc && inf->optional && err.kind == KUBE_ERR_API && err.http_code == 404) {
		kube_error_release(&err);
		resource_absent(inf);
		return;
	}
	if (rc) {
		log_write(LOG_WARN, "informer", inf->res.plural, "list failed: %s", kube_strerror(&err));
		kube_error_release(&err);
		watch_sm_list_failed(&inf->sm, clock_mono_us(), rand01(inf));
		return;
	}
	const char *rv = object_meta_str(list, "resourceVersion");
	json_t *news = json_object();
	if (news)
		quarantine_from_list(inf, list, news);
	if (!news ||
	    store_replace(inf->store, json_object_get(list, "items"), on_relist_changed, on_relist_vanished, inf)) {
		log_write(LOG_ERROR, "informer", inf->res.plural, "out of memory filling the cache");
		watch_sm_list_failed(&inf->sm, clock_mono_us(), rand01(inf));
	} else {
		watch_sm_list_ok(&inf->sm, rv, clock_mono_us());
		publish_counts(inf);
		if (mark_synced(inf, false))
			log_write(LOG_INFO, "informer", inf->res.plural, "now served by the API server: watching it");
		log_write(LOG_DEBUG, "informer", inf->res.plural, "listed %zu objects at resourceVersion %s",
			  json_array_size(json_object_get(list, "items")), rv ? rv : "?");
		const char *k;
		json_t *id;
		json_object_foreach (news, k, id)
			notify(inf, INFORMER_QUARANTINE, k, id);
	}
	publish_quarantine_len(inf);
	json_decref(news);
	json_decref(list);
	kube_error_release(&err);
}

static int on_line(void *ud, const char *line, size_t len)
{
	informer *inf = ud;
	watch_event ev;
	watch_event_decode(line, len, &ev);
	watch_apply what = watch_sm_on_event(&inf->sm, &ev, clock_mono_us(), rand01(inf));
	char key[512];
	switch (what) {
	case WATCH_APPLY_UPSERT:
		if (store_key_of(ev.object, key, sizeof key)) {
			bool changed = true, kept_changed = true;
			if (informer_is_quarantined(inf, key)) {
				quarantine_remove(inf, key, "readable again");
				publish_quarantine_len(inf);
			}
			if (store_upsert_diff(inf->store, ev.object, &changed, &kept_changed) == 0 && changed &&
			    (kept_changed || !inf->notify_kept_changes_only))
				notify(inf, INFORMER_UPSERT, key, ev.object);
		}
		break;
	case WATCH_APPLY_DELETE:
		if (store_key_of(ev.object, key, sizeof key)) {
			store_delete(inf->store, key, NULL);
			if (informer_is_quarantined(inf, key)) {
				quarantine_remove(inf, key, "deleted");
				publish_quarantine_len(inf);
			}
			notify(inf, INFORMER_DELETE, key, ev.object);
		}
		break;
	case WATCH_APPLY_QUARANTINE:
		if (store_key_of(ev.object, key, sizeof key)) {
			store_delete(inf->store, key,
				     NULL); /* nothing may act on a copy older than what the server holds */
			json_t *id = json_incref(ev.object);
			bool news = quarantine_put(inf, key, id, ev.detail);
			publish_quarantine_len(inf);
			if (news)
				notify(inf, INFORMER_QUARANTINE, key, ev.object);
		}
		break;
	case WATCH_APPLY_RESTART:
		if (ev.type == WATCH_ERROR)
			log_write(ev.code == 410 ? LOG_INFO : LOG_WARN, "informer", inf->res.plural,
				  "watch error %ld: %s%s", ev.code, ev.detail, ev.code == 410 ? " (relisting)" : "");
		else
			log_write(LOG_WARN, "informer", inf->res.plural, "watch event names no object, relisting: %s",
				  ev.detail);
		inf->restart = true;
		break;
	case WATCH_APPLY_NONE: break;
	}
	watch_event_release(&ev);
	return inf->restart ? 1 : 0;
}

static int on_stream(void *ud, const char *data, size_t len)
{
	informer *inf = ud;
	if (should_stop(inf))
		return 1;
	if (!data)
		return 0; /* heartbeat */
	int r = watch_lines_feed(&inf->lines, data, len, on_line, inf);
	if (r < 0) {
		log_write(LOG_WARN, "informer", inf->res.plural, "watch line too long, relisting");
		watch_event bad = { .type = WATCH_INVALID };
		watch_sm_on_event(&inf->sm, &bad, clock_mono_us(), rand01(inf));
		inf->restart = true;
	}
	return r ? 1 : 0;
}

static void do_watch(informer *inf, long timeout_s)
{
	kube_error err = KUBE_ERROR_INIT;
	char *coll = collection_path(inf, &err);
	char tbuf[24];
	snprintf(tbuf, sizeof tbuf, "%ld", timeout_s);
	const char *kv[] = { "watch",
			     "1",
			     "allowWatchBookmarks",
			     "true",
			     "resourceVersion",
			     inf->sm.rv,
			     "timeoutSeconds",
			     tbuf,
			     "labelSelector",
			     inf->label_selector,
			     NULL };
	char *path = coll ? kube_path_query(coll, kv) : NULL;
	free(coll);
	if (!path) {
		kube_error_release(&err);
		watch_sm_stream_ended(&inf->sm, clock_mono_us(), 0, true, rand01(inf));
		publish_counts(inf);
		return;
	}
	watch_lines_reset(&inf->lines);
	inf->restart = false;
	watch_sm_watch_started(&inf->sm, clock_mono_us());
	int rc = kube_stream(inf->client, path, on_stream, inf, timeout_s + IDLE_MARGIN_S, timeout_s + IDLE_MARGIN_S,
			     &err);
	free(path);
	if (!inf->restart && !should_stop(inf)) {
		long code = rc && err.kind == KUBE_ERR_API ? err.http_code : 200;
		if (code == 404 && inf->optional)
			code = 410; /* no longer served (its CRD went): list again, which finds it absent */
		if (rc && !kube_error_is_gone(&err))
			log_write(LOG_WARN, "informer", inf->res.plural, "watch failed: %s", kube_strerror(&err));
		else if (rc)
			log_write(LOG_INFO, "informer", inf->res.plural, "watch expired (410), relisting");
		watch_sm_stream_ended(&inf->sm, clock_mono_us(), code, rc != 0, rand01(inf));
	}
	publish_counts(inf);
	kube_error_release(&err);
}

static void *run(void *p)
{
	informer *inf = p;
	for (;;) {
		pthread_mutex_lock(&inf->mu);
		while (inf->paused && !inf->stopping) {
			inf->pause_ack = true;
			pthread_cond_broadcast(&inf->cond);
			pthread_cond_wait(&inf->cond, &inf->mu);
		}
		inf->pause_ack = false;
		bool stop = inf->stopping;
		pthread_mutex_unlock(&inf->mu);
		if (stop)
			break;
		watch_action a = watch_sm_next(&inf->sm, clock_mono_us(), rand01(inf));
		switch (a.what) {
		case WATCH_DO_LIST: do_list(inf); break;
		case WATCH_DO_WATCH: do_watch(inf, a.timeout_s); break;
		case WATCH_DO_WAIT: wait_us(inf, a.wait_us); break;
		}
	}
	return NULL;
}

int informer_start(informer *inf)
{
	if (inf->started)
		return 0;
	if (pthread_create(&inf->thread, NULL, run, inf))
		return -1;
	inf->started = true;
	return 0;
}

void informer_request_stop(informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	inf->stopping = true;
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->mu);
}

void informer_stop(informer *inf)
{
	if (!inf || !inf->started)
		return;
	informer_request_stop(inf);
	pthread_join(inf->thread, NULL);
	inf->started = false;
}

void informer_free(informer *inf)
{
	if (!inf)
		return;
	informer_stop(inf);
	store_free(inf->store);
	strmap_release(&inf->quarantine, quarantined_free);
	watch_sm_release(&inf->sm);
	watch_lines_release(&inf->lines);
	free(inf->namespace);
	free(inf->label_selector);
	pthread_mutex_destroy(&inf->mu);
	pthread_cond_destroy(&inf->cond);
	free(inf);
}

bool informer_absent(informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	bool a = inf->absent;
	pthread_mutex_unlock(&inf->mu);
	return a;
}

bool informer_synced(informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	bool s = inf->synced;
	pthread_mutex_unlock(&inf->mu);
	return s;
}

bool informer_wait_synced(informer *inf, int64_t timeout_us)
{
	int64_t deadline = clock_mono_us() + timeout_us;
	pthread_mutex_lock(&inf->mu);
	while (!inf->synced && !inf->stopping) {
		int64_t left = deadline - clock_mono_us();
		if (left <= 0)
			break;
		clock_cond_wait_until(&inf->cond, &inf->mu, clock_mono_us() + (left < 100000 ? left : 100000));
	}
	bool s = inf->synced;
	pthread_mutex_unlock(&inf->mu);
	return s;
}

store *informer_store(informer *inf)
{
	return inf->store;
}

const kube_resource *informer_resource(informer *inf)
{
	return &inf->res;
}

void informer_pause(informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	inf->paused = true;
	pthread_cond_broadcast(&inf->cond);
	while (inf->started && !inf->pause_ack && !inf->stopping)
		pthread_cond_wait(&inf->cond, &inf->mu);
	pthread_mutex_unlock(&inf->mu);
}

void informer_resume(informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	inf->paused = false;
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->mu);
}

json_t *informer_quarantined(informer *inf, const char *key, char *reason, size_t reason_len)
{
	pthread_mutex_lock(&inf->mu);
	quarantined *q = strmap_get(&inf->quarantine, key, NULL);
	json_t *id = q ? json_deep_copy(q->identity) : NULL;
	if (q && reason && reason_len)
		snprintf(reason, reason_len, "%s", q->reason);
	pthread_mutex_unlock(&inf->mu);
	return id;
}

bool informer_quarantine_reported(informer *inf, const char *key)
{
	pthread_mutex_lock(&inf->mu);
	quarantined *q = strmap_get(&inf->quarantine, key, NULL);
	bool reported = q && q->reported;
	pthread_mutex_unlock(&inf->mu);
	return reported;
}

void informer_quarantine_set_reported(informer *inf, const char *key)
{
	pthread_mutex_lock(&inf->mu);
	quarantined *q = strmap_get(&inf->quarantine, key, NULL);
	if (q)
		q->reported = true;
	pthread_mutex_unlock(&inf->mu);
}

bool informer_quarantined_prefix(informer *inf, const char *key_prefix)
{
	size_t n = strlen(key_prefix);
	bool found = false;
	const char *k;
	void *v;
	pthread_mutex_lock(&inf->mu);
	for (size_t it = 0; !found && strmap_next(&inf->quarantine, &it, &k, &v);)
		found = !strncmp(k, key_prefix, n);
	pthread_mutex_unlock(&inf->mu);
	return found;
}

size_t informer_quarantine_len(informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	size_t n = inf->quarantine.len + inf->unnamed;
	pthread_mutex_unlock(&inf->mu);
	return n;
}

uint64_t informer_relists(informer *inf)
{
	return inf->sm.relists;
}

uint64_t informer_restarts(informer *inf)
{
	return inf->sm.restarts;
}
