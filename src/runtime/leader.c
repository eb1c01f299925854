#include "runtime/leader.h"

#include "util/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/kube_path.h"
#include "util/json_lenient.h"
#include "util/log.h"
#include "util/sbuf.h"
#include "util/timefmt.h"
#include "util/object_meta.h"

leader_decision leader_decide(leader_observed *obs, const char *identity, const char *holder, const char *renew_time,
			      const char *rv, long duration_s, int64_t now_us)
{
	if (holder && *holder && !strcmp(holder, identity))
		return LEADER_RENEW;
	if (!holder || !*holder)
		return LEADER_ACQUIRE;
	sbuf sb = SBUF_INIT;
	if (sbuf_addf(&sb, "%s|%s|%s", holder, renew_time ? renew_time : "", rv ? rv : "") < 0)
		return LEADER_WAIT; /* fail closed: without the record, the holder is not known to have stopped */
	if (!obs->record || strcmp(obs->record, sb.buf)) {
		free(obs->record);
		obs->record = sbuf_detach(&sb);
		obs->changed_us = now_us;
		return LEADER_WAIT;
	}
	sbuf_release(&sb);
	if (duration_s <= 0)
		duration_s = 15;
	return now_us >= obs->changed_us + (int64_t)duration_s * 1000000 ? LEADER_ACQUIRE : LEADER_WAIT;
}

void leader_observed_release(leader_observed *obs)
{
	free(obs->record);
	obs->record = NULL;
}

struct leader {
	kube_client *client;
	char *namespace, *name, *identity;
	long duration_s, deadline_s, retry_s;
	json_t *held; /* the Lease as we last wrote it (the renewal's fast path), or NULL */
	void (*on_started)(void *);
	void (*on_lost)(void *);
	void *ud;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stopping;
	bool leading;
	int64_t valid_until_us; /* leading: start of the last successful renewal + renew deadline */
	bool taken;             /* the Lease names another holder while we lead */
	leader_observed obs;
};

/*
 * The Lease client's deadline: while leading, every request ends by the
 * fence (a renewal that hangs never outlives the leadership it renews).
 * A candidate's requests only have the client's own timeout.
 */
static int64_t lease_deadline(void *ud, const char *method)
{
	(void)method;
	leader *l = ud;
	int64_t until = leader_valid_until(l);
	return until ? until : INT64_MAX;
}

leader *leader_new(kube_client *c, const leader_options *o, kube_error *err)
{
	if (!o->namespace || !o->name) {
		kube_error_set(err, KUBE_ERR_INVALID, "leader election needs a Lease namespace and name");
		return NULL;
	}
	leader *l = calloc(1, sizeof *l);
	/* The condition variable first: leader_free (every later failure's path) uses it. */
	if (!l || clock_cond_init(&l->cond)) {
		free(l);
		kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		return NULL;
	}
	l->client = c;
	l->duration_s = o->lease_duration_s > 0 ? o->lease_duration_s : 15;
	l->deadline_s = o->renew_deadline_s > 0 ? o->renew_deadline_s : 10;
	l->retry_s = o->retry_period_s > 0 ? o->retry_period_s : 2;
	l->on_started = o->on_started;
	l->on_lost = o->on_lost;
	l->ud = o->ud;
	l->namespace = strdup(o->namespace);
	l->name = strdup(o->name);
	if (o->identity) {
		l->identity = strdup(o->identity);
	} else {
		char host[256] = "memshack";
		gethostname(host, sizeof host - 1);
		host[sizeof host - 1] = '\0';
		sbuf sb = SBUF_INIT;
		int named = sbuf_addf(&sb, "%s_%08lx", host,
				      (unsigned long)((uint64_t)clock_wall_us() * 2654435761u ^ (uint64_t)getpid()));
		l->identity = named == 0 ? sbuf_detach(&sb) : NULL;
		sbuf_release(&sb);
	}
	pthread_mutex_init(&l->mu, NULL);
	if (!l->namespace || !l->name || !l->identity) {
		leader_free(l);
		kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (l->deadline_s >= l->duration_s || l->retry_s >= l->deadline_s) {
		leader_free(l);
		kube_error_set(err, KUBE_ERR_INVALID,
			       "leader election needs retry period < renew deadline < lease duration");
		return NULL;
	}
	kube_client_set_deadline(c, lease_deadline, l);
	return l;
}

static json_t *lease_body(leader *l, json_t *current, const char *holder, long duration, bool acquire)
{
	char now[40];
	timefmt_rfc3339_micro(clock_wall_us(), now, sizeof now);
	json_t *spec = json_object_get(current, "spec");
	json_t *body =
		current ? json_deep_copy(current)
			: json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}", "apiVersion", "coordination.k8s.io/v1", "kind",
				    "Lease", "metadata", "name", l->name, "namespace", l->namespace, "spec");
	if (!body)
		return NULL;
	json_t *s = json_object_get(body, "spec");
	if (!json_is_object(s)) {
		s = json_object();
		json_object_set_new(body, "spec", s);
	}
	json_object_set_new(s, "holderIdentity", json_string(holder));
	json_object_set_new(s, "leaseDurationSeconds", json_integer(duration));
	json_object_set_new(s, "renewTime", json_string(now));
	if (acquire) {
		json_object_set_new(s, "acquireTime", json_string(now));
		json_t *tr = json_object_get(spec, "leaseTransitions");
		const char *old = json_string_value(json_object_get(spec, "holderIdentity"));
		json_int_t n = json_is_integer(tr) ? json_integer_value(tr) : 0;
		if (current && old && *old)
			n++;
		json_object_set_new(s, "leaseTransitions", json_integer(n));
	}
	return body;
}

/*
 * The Lease's holderIdentity. One holding a NUL or another control
 * character is somebody else's, never ours: json_string_value would stop
 * at a NUL and could read "us\0else" as "us".
 */
static const char *holder_of(json_t *spec)
{
	json_t *h = json_object_get(spec, "holderIdentity");
	const char *clean = json_string_clean(h);
	return clean ? clean : json_is_string(h) ? "(a holder identity with control characters)" : NULL;
}

/* PUTs body; on success keeps the Lease as written for the next renewal. */
static int write_lease(leader *l, const char *path, json_t *body, kube_error *err)
{
	json_t *written = NULL;
	if (kube_replace(l->client, path, body, &written, err))
		return -1;
	json_decref(l->held);
	l->held = written;
	return 0;
}

/* One round. Returns true when this process holds the Lease, renewed in this round. */
static bool try_round(leader *l)
{
	kube_error err = KUBE_ERROR_INIT;
	char *path = kube_path(&KUBE_RES_LEASES, l->namespace, l->name, NULL, &err);
	json_t *cur = NULL, *body = NULL;
	bool leading = false;
	if (!path)
		goto out;
	if (l->leading && l->held) {
		/* Fast path: renew the Lease as we last wrote it; a conflict means someone else wrote. */
		body = lease_body(l, l->held, l->identity, l->duration_s, false);
		if (body && write_lease(l, path, body, &err) == 0) {
			leading = true;
			goto out;
		}
		json_decref(body);
		body = NULL;
		if (!kube_error_is_conflict(&err)) {
			/* Kept: if the write did land, the next PUT's conflict costs one read. */
			log_write(LOG_WARN, "leader-election", NULL, "renewing lease: %s", kube_strerror(&err));
			goto out;
		}
		json_decref(l->held);
		l->held = NULL;
		kube_error_release(&err);
	}
	if (kube_get(l->client, path, &cur, &err)) {
		if (!kube_error_is_not_found(&err)) {
			log_write(LOG_WARN, "leader-election", NULL, "reading lease: %s", kube_strerror(&err));
			goto out;
		}
		kube_error_release(&err);
		char *coll = kube_path(&KUBE_RES_LEASES, l->namespace, NULL, NULL, &err);
		body = lease_body(l, NULL, l->identity, l->duration_s, true);
		json_t *written = NULL;
		if (coll && body && kube_create(l->client, coll, body, &written, &err) == 0) {
			leading = true;
			json_decref(l->held);
			l->held = written;
		} else if (coll) {
			log_write(LOG_DEBUG, "leader-election", NULL, "creating lease: %s", kube_strerror(&err));
		}
		free(coll);
		goto out;
	}
	json_t *spec = json_object_get(cur, "spec");
	const char *holder = holder_of(spec);
	const char *renew = json_string_value(json_object_get(spec, "renewTime"));
	const char *rv = object_meta_str(cur, "resourceVersion");
	json_t *dur = json_object_get(spec, "leaseDurationSeconds");
	if (l->leading && (!holder || strcmp(holder, l->identity))) {
		/* Somebody else holds it now: we lost it, whatever the deadline says. */
		l->taken = true;
		goto out;
	}
	leader_decision d =
		leader_decide(&l->obs, l->identity, holder, renew, rv,
			      json_is_integer(dur) ? (long)json_integer_value(dur) : l->duration_s, clock_mono_us());
	if (d == LEADER_WAIT)
		goto out;
	body = lease_body(l, cur, l->identity, l->duration_s, d == LEADER_ACQUIRE);
	if (body && write_lease(l, path, body, &err) == 0)
		leading = true;
	else if (kube_error_is_conflict(&err))
		log_write(LOG_INFO, "leader-election", NULL, "lease %s/%s was written by someone else", l->namespace,
			  l->name);
	else
		log_write(LOG_WARN, "leader-election", NULL, "writing lease: %s", kube_strerror(&err));
out:
	json_decref(cur);
	json_decref(body);
	free(path);
	kube_error_release(&err);
	return leading;
}

static void *run(void *p)
{
	leader *l = p;
	for (;;) {
		pthread_mutex_lock(&l->mu);
		bool stop = l->stopping;
		pthread_mutex_unlock(&l->mu);
		if (stop)
			break;
		/* A renewal counts from before it was sent: the standby counts from after it saw it. */
		int64_t round_start = clock_mono_us();
		bool ok = try_round(l);
		bool was = l->leading; /* written by this thread only */
		if (ok) {
			pthread_mutex_lock(&l->mu);
			l->leading = true;
			l->valid_until_us = round_start + (int64_t)l->deadline_s * 1000000;
			pthread_mutex_unlock(&l->mu);
			if (!was) {
				log_write(LOG_INFO, "leader-election", NULL, "became leader of lease %s/%s as %s",
					  l->namespace, l->name, l->identity);
				if (l->on_started)
					l->on_started(l->ud);
			}
		} else if (was && (l->taken || clock_mono_us() >= leader_valid_until(l))) {
			pthread_mutex_lock(&l->mu);
			l->leading = false;
			l->valid_until_us = 0;
			pthread_mutex_unlock(&l->mu);
			log_write(LOG_ERROR, "leader-election", NULL, "lost lease %s/%s (%s)", l->namespace, l->name,
				  l->taken ? "another holder took it" : "no renewal within the renew deadline");
			if (l->on_lost)
				l->on_lost(l->ud);
			break;
		}
		/*
		 * Leaders renew every retry period; candidates poll at the same
		 * pace. A leader whose renewals fail wakes at its fence at the
		 * latest, to report the loss there.
		 */
		int64_t wake = round_start + (int64_t)l->retry_s * 1000000;
		pthread_mutex_lock(&l->mu);
		if (l->leading && l->valid_until_us < wake)
			wake = l->valid_until_us;
		if (!l->stopping)
			clock_cond_wait_until(&l->cond, &l->mu, wake);
		pthread_mutex_unlock(&l->mu);
	}
	return NULL;
}

int leader_start(leader *l)
{
	if (pthread_create(&l->thread, NULL, run, l))
		return -1;
	l->started = true;
	return 0;
}

static void release(leader *l)
{
	kube_error err = KUBE_ERROR_INIT;
	char *path = kube_path(&KUBE_RES_LEASES, l->namespace, l->name, NULL, &err);
	json_t *cur = NULL, *body = NULL;
	if (path && kube_get(l->client, path, &cur, &err) == 0) {
		const char *holder = holder_of(json_object_get(cur, "spec"));
		if (holder && !strcmp(holder, l->identity)) {
			body = lease_body(l, cur, "", 1, false);
			if (body && kube_replace(l->client, path, body, NULL, &err) == 0)
				log_write(LOG_INFO, "leader-election", NULL, "released lease %s/%s", l->namespace,
					  l->name);
			else
				log_write(LOG_WARN, "leader-election", NULL, "releasing lease: %s",
					  kube_strerror(&err));
		}
	}
	json_decref(cur);
	json_decref(body);
	free(path);
	kube_error_release(&err);
}

/* Asks the loop to stop; false when it is not running. */
static bool ask_stop(leader *l)
{
	if (!l || !l->started)
		return false;
	pthread_mutex_lock(&l->mu);
	l->stopping = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mu);
	return true;
}

void leader_abandon(leader *l)
{
	if (!ask_stop(l))
		return;
	pthread_detach(l->thread);
	l->started = false;
}

void leader_stop(leader *l, bool rel)
{
	if (!ask_stop(l))
		return;
	pthread_join(l->thread, NULL);
	l->started = false;
	if (rel && leader_is_leading(l))
		release(l);
	pthread_mutex_lock(&l->mu);
	l->leading = false;
	l->valid_until_us = 0;
	pthread_mutex_unlock(&l->mu);
}

void leader_free(leader *l)
{
	if (!l)
		return;
	leader_stop(l, false);
	leader_observed_release(&l->obs);
	json_decref(l->held);
	free(l->namespace);
	free(l->name);
	free(l->identity);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cond);
	free(l);
}

bool leader_is_leading(leader *l)
{
	pthread_mutex_lock(&l->mu);
	bool b = l->leading;
	pthread_mutex_unlock(&l->mu);
	return b;
}

int64_t leader_valid_until(leader *l)
{
	pthread_mutex_lock(&l->mu);
	int64_t t = l->leading ? l->valid_until_us : 0;
	pthread_mutex_unlock(&l->mu);
	return t;
}

int64_t leader_fence(void *ud, const char *method)
{
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
		return INT64_MAX;
	return leader_valid_until(ud); /* 0 when not leading: refused */
}
