#include "operator/memshack_controller.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "core/memshack_status.h"
#include "runtime/apply.h"
#include "runtime/projection.h"
#include "util/log.h"
#include "util/sbuf.h"
#include "util/strmap.h"
#include "util/timefmt.h"

const kube_resource MEMSHACK_RES = { MEMSHACK_GROUP, MEMSHACK_VERSION_NAME, "memshacks", "Memshack", true };

enum { K_SERVICE, K_STATEFULSET, K_PDB, K_CONFIGMAP, K_DEPLOYMENT, K_N };
static const kube_resource *const child_res[K_N] = { &KUBE_RES_SERVICES, &KUBE_RES_STATEFULSETS,
						     &KUBE_RES_PODDISRUPTIONBUDGETS, &KUBE_RES_CONFIGMAPS,
						     &KUBE_RES_DEPLOYMENTS };
/* Kinds whose spec edits bump metadata.generation; the others are compared by resourceVersion. */
static const bool has_generation[K_N] = { false, true, true, false, true };

typedef struct memo {
	char digest[33];
	unsigned long long seen; /* generation or resourceVersion after our apply */
} memo;

typedef struct mctl {
	manager *m;
	informer *ms;
	informer *children[K_N];
	char *domain;
	int64_t removal_delay_us;
	pthread_mutex_t mu;
	strmap memos;          /* "kind/ns/name" -> memo* */
	strmap config_changed; /* "ns/name" -> int64_t* (monotonic µs of the last config change) */
	metrics *metrics;
} mctl;

static mctl ctl_;
static uint64_t writes_total;

uint64_t memshack_controller_writes(void)
{
	pthread_mutex_lock(&ctl_.mu);
	uint64_t n = writes_total;
	pthread_mutex_unlock(&ctl_.mu);
	return n;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void now_rfc3339(char *buf, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	timefmt_rfc3339((int64_t)ts.tv_sec * 1000000, buf, len);
}

static int kind_index(const char *kind)
{
	for (int i = 0; i < K_N; i++)
		if (!strcmp(child_res[i]->kind, kind))
			return i;
	return -1;
}

static const char *mstr(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static const char *digest_of(json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
						 MEMSHACK_DIGEST_ANNOTATION));
}

/* generation, or resourceVersion (numeric for etcd-backed servers; 0 when not). */
static unsigned long long seen_value(json_t *obj, int kind, const char *rv_fallback)
{
	if (has_generation[kind]) {
		json_t *g = json_object_get(json_object_get(obj, "metadata"), "generation");
		return json_is_integer(g) ? (unsigned long long)json_integer_value(g) : 0;
	}
	const char *rv = rv_fallback ? rv_fallback : mstr(obj, "resourceVersion");
	return rv ? strtoull(rv, NULL, 10) : 0;
}

static void memo_key(char *buf, size_t len, int kind, json_t *obj)
{
	snprintf(buf, len, "%s/%s/%s", child_res[kind]->kind, mstr(obj, "namespace"), mstr(obj, "name"));
}

static void memo_set(const char *key, const char *digest, unsigned long long seen)
{
	pthread_mutex_lock(&ctl_.mu);
	memo *mm = strmap_get(&ctl_.memos, key, NULL);
	if (!mm && (mm = calloc(1, sizeof *mm)) && strmap_put(&ctl_.memos, key, mm, NULL, NULL)) {
		free(mm);
		mm = NULL;
	}
	if (mm) {
		snprintf(mm->digest, sizeof mm->digest, "%s", digest);
		mm->seen = seen;
	}
	pthread_mutex_unlock(&ctl_.mu);
}

static bool memo_get(const char *key, memo *out)
{
	pthread_mutex_lock(&ctl_.mu);
	memo *mm = strmap_get(&ctl_.memos, key, NULL);
	if (mm)
		*out = *mm;
	pthread_mutex_unlock(&ctl_.mu);
	return mm != NULL;
}

/*
 * Whether `desired` must be applied, given the cached child (projection, may
 * be NULL). Records adoption of an already-correct child.
 */
static bool needs_apply(int kind, json_t *desired, json_t *cached)
{
	if (!cached)
		return true;
	const char *want = digest_of(desired), *have = digest_of(cached);
	char key[512];
	memo_key(key, sizeof key, kind, desired);
	unsigned long long seen = seen_value(cached, kind, NULL);
	memo mm;
	if (memo_get(key, &mm) && !strcmp(mm.digest, want)) {
		if (have && !strcmp(have, want))
			return seen > mm.seen; /* newer than our write: someone edited it */
		return false;                  /* the cache has not caught up with our write yet */
	}
	if (have && !strcmp(have, want)) {
		memo_set(key, want, seen); /* already as desired (e.g. after a restart): adopt */
		return false;
	}
	return true;
}

static json_t *cached_child(int kind, const char *ns, const char *name)
{
	char key[400];
	snprintf(key, sizeof key, "%s/%s", ns, name);
	return store_get(informer_store(ctl_.children[kind]), key);
}

/* Forgets what we applied for a Memshack that is gone. */
static void forget(const char *key)
{
	const char *slash = strchr(key, '/');
	if (!slash)
		return;
	char prefix[400];
	pthread_mutex_lock(&ctl_.mu);
	free(strmap_remove(&ctl_.config_changed, key, NULL));
	size_t it = 0, n = 0;
	const char *k;
	char **gone = calloc(ctl_.memos.len + 1, sizeof *gone);
	while (gone && strmap_next(&ctl_.memos, &it, &k, NULL)) {
		/* "Kind/ns/NAME-memshack..." */
		const char *rest = strchr(k, '/');
		snprintf(prefix, sizeof prefix, "%.*s/%s-memshack", (int)(slash - key), key, slash + 1);
		if (rest && !strncmp(rest + 1, prefix, strlen(prefix)))
			gone[n++] = strdup(k);
	}
	for (size_t i = 0; i < n; i++) {
		if (gone[i])
			free(strmap_remove(&ctl_.memos, gone[i], NULL));
		free(gone[i]);
	}
	free(gone);
	pthread_mutex_unlock(&ctl_.mu);
}

static int apply_child(int kind, json_t *desired, kube_error *err)
{
	json_t *after = NULL;
	if (apply_object(manager_client(ctl_.m), child_res[kind], desired, &after, err))
		return -1;
	char key[512];
	memo_key(key, sizeof key, kind, desired);
	memo_set(key, digest_of(desired), seen_value(after, kind, NULL));
	json_decref(after);
	pthread_mutex_lock(&ctl_.mu);
	writes_total++;
	pthread_mutex_unlock(&ctl_.mu);
	if (ctl_.metrics)
		metrics_add(ctl_.metrics, "memshack_child_applies_total", NULL, 1);
	return 0;
}

static bool owned_by_filter(void *ud, json_t *obj)
{
	return is_controlled_by(obj, ud);
}

static int write_status(json_t *ms, json_t *status, kube_error *err)
{
	if (!memshack_status_differs(json_object_get(ms, "status"), status))
		return 0;
	int rc = apply_status(manager_client(ctl_.m), &MEMSHACK_RES, mstr(ms, "namespace"), mstr(ms, "name"), status, err);
	if (!rc) {
		pthread_mutex_lock(&ctl_.mu);
		writes_total++;
		pthread_mutex_unlock(&ctl_.mu);
	}
	return rc;
}

static void observe(const memshack_spec *s, memshack_observed *o)
{
	memset(o, 0, sizeof *o);
	for (int k = 0; k < s->num_replicas && k < MEMSHACK_MAX_POOLS; k++) {
		char name[128];
		memshack_pool_name(s, k, name, sizeof name);
		json_t *sts = cached_child(K_STATEFULSET, s->namespace, name);
		if (sts && is_controlled_by(sts, s->uid)) {
			json_t *st = json_object_get(sts, "status");
			json_t *gen = json_object_get(json_object_get(sts, "metadata"), "generation");
			o->pools[k].exists = true;
			o->pools[k].ready = (int)json_integer_value(json_object_get(st, "readyReplicas"));
			o->pools[k].current = json_integer_value(json_object_get(st, "observedGeneration")) >= json_integer_value(gen);
		}
		json_decref(sts);
	}
	char name[128];
	memshack_gateway_name(s, name, sizeof name);
	json_t *dep = cached_child(K_DEPLOYMENT, s->namespace, name);
	if (dep && is_controlled_by(dep, s->uid)) {
		json_t *st = json_object_get(dep, "status");
		json_t *gen = json_object_get(json_object_get(dep, "metadata"), "generation");
		o->gateway_exists = true;
		o->gateway_ready = (int)json_integer_value(json_object_get(st, "readyReplicas"));
		o->gateway_current = json_integer_value(json_object_get(st, "observedGeneration")) >= json_integer_value(gen);
	}
	json_decref(dep);
}

static reconcile_result reconcile(void *ud, const char *key)
{
	(void)ud;
	reconcile_result done = { RECONCILE_DONE, 0 }, failed = { RECONCILE_ERROR, 0 };
	json_t *ms = store_get(informer_store(ctl_.ms), key);
	if (!ms || mstr(ms, "deletionTimestamp")) {
		json_decref(ms);
		forget(key);
		return done;
	}
	char now[40], err[512];
	now_rfc3339(now, sizeof now);
	kube_error kerr = KUBE_ERROR_INIT;
	memshack_spec *s = NULL;
	reconcile_result res = done;
	json_t *gen = json_object_get(json_object_get(ms, "metadata"), "generation");
	if (memshack_spec_parse(ms, &s, err, sizeof err)) {
		log_write(LOG_WARN, "memshack", key, "invalid spec: %s", err);
		json_t *st = memshack_status_invalid(json_object_get(ms, "status"), json_integer_value(gen), err, now);
		if (write_status(ms, st, &kerr)) {
			log_write(LOG_WARN, "memshack", key, "writing status: %s", kube_strerror(&kerr));
			res = failed;
		}
		events_record(manager_events(ctl_.m), ms, "Warning", "InvalidSpec", "Validate", "%s", err);
		json_decref(st);
		goto out;
	}
	memshack_desired d;
	if (memshack_desired_build(s, ctl_.domain, &d, err, sizeof err)) {
		log_write(LOG_ERROR, "memshack", key, "cannot build children: %s", err);
		res = failed;
		goto out;
	}
	/* Apply what differs, in order (Services and pools, then the config, then the gateway). */
	const char *apply_error = NULL;
	sbuf changed = SBUF_INIT;
	size_t i;
	json_t *obj;
	bool config_changed = false;
	json_array_foreach(d.objects, i, obj)
	{
		int kind = kind_index(json_string_value(json_object_get(obj, "kind")));
		json_t *cached = cached_child(kind, s->namespace, mstr(obj, "name"));
		bool need = needs_apply(kind, obj, cached);
		json_decref(cached);
		if (!need)
			continue;
		if (apply_child(kind, obj, &kerr)) {
			snprintf(err, sizeof err, "applying %s %s: %s", child_res[kind]->kind, mstr(obj, "name"),
				 kube_strerror(&kerr));
			log_write(LOG_WARN, "memshack", key, "%s", err);
			apply_error = err;
			kube_error_release(&kerr);
			break;
		}
		sbuf_addf(&changed, "%s%s %s", changed.len ? ", " : "", child_res[kind]->kind, mstr(obj, "name"));
		if (kind == K_CONFIGMAP)
			config_changed = true;
	}
	int64_t now_us = mono_us();
	pthread_mutex_lock(&ctl_.mu);
	int64_t *since = strmap_get(&ctl_.config_changed, key, NULL);
	if (config_changed || !since) {
		if (!since && (since = malloc(sizeof *since)) && strmap_put(&ctl_.config_changed, key, since, NULL, NULL)) {
			free(since);
			since = NULL;
		}
		/* First sight after a start: the config may be old news, but we cannot know; wait once. */
		if (since)
			*since = now_us;
	}
	int64_t config_age = since ? now_us - *since : 0;
	pthread_mutex_unlock(&ctl_.mu);
	/* Prune StatefulSets of removed pools, once gateways have had time to load the new config. */
	if (!apply_error && s->uid) {
		json_t *owned = store_list(informer_store(ctl_.children[K_STATEFULSET]), owned_by_filter, s->uid);
		const char **keep = calloc((size_t)s->num_replicas + 1, sizeof *keep);
		char(*names)[128] = calloc((size_t)s->num_replicas, sizeof *names);
		for (int k = 0; keep && names && k < s->num_replicas; k++)
			keep[k] = memshack_pool_name(s, k, names[k], sizeof names[k]);
		bool extra = false;
		json_array_foreach(owned, i, obj)
		{
			bool wanted = false;
			for (int k = 0; keep && keep[k] && !wanted; k++)
				wanted = !strcmp(keep[k], mstr(obj, "name"));
			extra |= !wanted;
		}
		if (extra && config_age < ctl_.removal_delay_us) {
			res = (reconcile_result){ RECONCILE_REQUEUE_AFTER, ctl_.removal_delay_us - config_age + 100000 };
			log_write(LOG_INFO, "memshack", key, "removed pools wait %.1f s for gateways to load the new config",
				  (double)(ctl_.removal_delay_us - config_age) / 1e6);
		} else if (extra && keep) {
			int n = prune_owned(manager_client(ctl_.m), &KUBE_RES_STATEFULSETS, owned, s->uid, keep, &kerr);
			if (n < 0) {
				snprintf(err, sizeof err, "pruning removed pools: %s", kube_strerror(&kerr));
				apply_error = err;
				kube_error_release(&kerr);
			} else if (n > 0) {
				pthread_mutex_lock(&ctl_.mu);
				writes_total += (uint64_t)n;
				pthread_mutex_unlock(&ctl_.mu);
				sbuf_addf(&changed, "%sremoved %d pool(s)", changed.len ? ", " : "", n);
			}
		}
		free(keep);
		free(names);
		json_decref(owned);
	}
	if (changed.len) {
		log_write(LOG_INFO, "memshack", key, "applied: %s", changed.buf);
		events_record(manager_events(ctl_.m), ms, "Normal", "Applied", "Reconcile", "applied %s", changed.buf);
	}
	if (apply_error) {
		events_record(manager_events(ctl_.m), ms, "Warning", "ApplyFailed", "Reconcile", "%s", apply_error);
		res = failed;
	}
	sbuf_release(&changed);
	memshack_observed o;
	observe(s, &o);
	o.apply_error = apply_error;
	char endpoint[400], selector[200];
	memshack_endpoint(s, ctl_.domain, endpoint, sizeof endpoint);
	snprintf(selector, sizeof selector, "%s=%s,app.kubernetes.io/component=gateway", MEMSHACK_LABEL, s->name);
	json_t *st = memshack_status_build(s, &o, json_object_get(ms, "status"), endpoint, selector, d.config_md5, now);
	if (write_status(ms, st, &kerr)) {
		log_write(LOG_WARN, "memshack", key, "writing status: %s", kube_strerror(&kerr));
		res = failed;
	}
	json_decref(st);
	memshack_desired_release(&d);
out:
	kube_error_release(&kerr);
	memshack_spec_free(s);
	json_decref(ms);
	return res;
}

int memshack_controller_setup(manager *m, const memshack_controller_options *o)
{
	memset(&ctl_, 0, sizeof ctl_);
	ctl_.m = m;
	ctl_.metrics = manager_metrics(m);
	ctl_.domain = strdup(o && o->cluster_domain ? o->cluster_domain : "cluster.local");
	ctl_.removal_delay_us = o && o->pool_removal_delay_us > 0 ? o->pool_removal_delay_us : 60LL * 1000000;
	pthread_mutex_init(&ctl_.mu, NULL);
	metrics_declare(ctl_.metrics, "memshack_child_applies_total", METRIC_COUNTER,
			"Server-side applies of child objects (0 per reconcile when nothing changed).", NULL, 0);
	kube_error err = KUBE_ERROR_INIT;
	informer_options mo = { .res = &MEMSHACK_RES, .namespace = manager_namespace(m), .metrics = ctl_.metrics };
	ctl_.ms = informer_new(manager_client(m), &mo, &err);
	static const char *const sts_status[] = { "replicas", "readyReplicas", "updatedReplicas", "observedGeneration", NULL };
	static const char *const dep_status[] = { "replicas", "readyReplicas", "updatedReplicas", "availableReplicas",
						  "observedGeneration", NULL };
	for (int k = 0; k < K_N; k++) {
		informer_options co = { .res = child_res[k], .namespace = manager_namespace(m), .label_selector = MEMSHACK_LABEL,
					.project = project_owned_child, .metrics = ctl_.metrics };
		co.project_ud = k == K_STATEFULSET ? (void *)sts_status : k == K_DEPLOYMENT ? (void *)dep_status : NULL;
		ctl_.children[k] = informer_new(manager_client(m), &co, &err);
	}
	controller_options cop = { .name = "memshack", .workers = manager_workers(m), .reconcile = reconcile,
				   .metrics = ctl_.metrics };
	controller *c = controller_new(&cop);
	bool ok = ctl_.ms && c && !controller_watch_primary(c, ctl_.ms);
	for (int k = 0; ok && k < K_N; k++)
		ok = ctl_.children[k] && !controller_watch_owned(c, ctl_.children[k], "Memshack");
	if (!ok) {
		log_error("memshack controller setup failed: %s", kube_strerror(&err));
		kube_error_release(&err);
		return -1;
	}
	manager_add_informer(m, ctl_.ms);
	for (int k = 0; k < K_N; k++)
		manager_add_informer(m, ctl_.children[k]);
	manager_add_controller(m, c);
	return 0;
}
