/*
 * kbench — the API-facing half of the benchmark suite (bench/run.sh drives it).
 * Talks to the cluster of $KUBECONFIG (the local control plane) and prints one
 * JSON object of figures on stdout. Not a test: no pass/fail.
 *
 *   kbench ceiling  --namespace NS [--threads T] [--seconds S]
 *       The API server's sustained server-side-apply rate for objects shaped
 *       like a Memshack's children (3 shards x 2 replicas, 2 gateways; built by
 *       the same core as the operator, owner references removed, workload
 *       replicas 0 so that no pods are made), from T threads applying one
 *       Memshack's children after the other, as the operator's workers do.
 *   kbench converge --namespace NS --count N [--threads T] [--timeout S] [--peer]
 *       Creates N Memshacks (3 x 2, 2 gateways) at once and times, from the
 *       first create, until every child exists and until every Memshack is
 *       Ready=True for its current generation. With --peer: N Memcached
 *       objects of the benchmark peer (the C5C3 memcached-operator,
 *       memcached.c5c3.io/v1beta1: 3 replicas with a PodDisruptionBudget, so a
 *       Deployment, a Service and a PDB each), timed the same way.
 *   kbench fair-ceiling --namespace NS --count N [--threads T] [--timeout S]
 *       The fair bound for converge: a perfect operator with T workers and
 *       nothing to read, under the same load as converge. Creates N Memshacks
 *       (3 x 2, 2 gateways) from 4 threads as converge does; T threads take
 *       each as it is created and apply exactly its 8 children as the
 *       operator builds them (real replicas and owner references, so
 *       kube-controller-manager, the scheduler and kwok make and run the same
 *       8 pods per Memshack meanwhile), then write its status once. Times,
 *       from the first create and by the same watches as converge, until every
 *       child exists; and until the last status is written.
 *   kbench latency  --namespace NS [--rate R] [--seconds S]
 *       Changes numShards (3 <-> 4) of the namespace's Memshacks round robin at
 *       R per second for S seconds (resized in place: the Memshacks kbench
 *       makes say spec.migration.mode InPlace) and times each change from the PATCH, as
 *       watches see it, to when it is applied (the operator's first write of
 *       it shows in a child), observed (status.observedGeneration) and
 *       complete (both pool StatefulSets and the mcrouter ConfigMap show it);
 *       prints p50/p90/p99/max of each.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "core/memshack_status.h"
#include "kube/kube_client.h"
#include "kube/kube_config.h"
#include "kube/kube_path.h"
#include "runtime/informer.h"
#include "util/clock.h"
#include "util/strmap.h"

static const kube_resource MEMSHACKS = { MEMSHACK_GROUP, MEMSHACK_VERSION_NAME, "memshacks", "Memshack", true };
static const kube_resource *const CHILD_KINDS[] = { &KUBE_RES_SERVICES, &KUBE_RES_STATEFULSETS, &KUBE_RES_CONFIGMAPS,
						    &KUBE_RES_DEPLOYMENTS, &KUBE_RES_PODDISRUPTIONBUDGETS };
#define N_CHILD_KINDS (sizeof CHILD_KINDS / sizeof CHILD_KINDS[0])
#define CHILDREN_PER_MEMSHACK 8 /* headless Service, 2 StatefulSets, PDB, ConfigMap, Deployment, Service, PDB */

/* What converge creates and waits for. */
typedef struct converge_target {
	const kube_resource *primary;
	const kube_resource *const *child_kinds;
	size_t n_child_kinds;
	const char *child_label;       /* a child of ours carries this label */
	const char *child_label_value; /* with this value (NULL: any) */
	size_t children_per_object;
	json_t *(*object)(const char *name); /* a new object to create (new reference) */
} converge_target;

static const kube_resource PEER_MEMCACHEDS = { "memcached.c5c3.io", "v1beta1", "memcacheds", "Memcached", true };
static const kube_resource *const PEER_CHILD_KINDS[] = { &KUBE_RES_DEPLOYMENTS, &KUBE_RES_SERVICES,
							 &KUBE_RES_PODDISRUPTIONBUDGETS };

static const char *ns = "default";
static int threads = 2, count = 1, seconds = 20, timeout_s = 1800;
static double rate = 10;
static kube_client *client;

static double now_s(void)
{
	return (double)clock_mono_us() / 1e6;
}

static void die(const char *what, kube_error *err)
{
	fprintf(stderr, "kbench: %s: %s\n", what, err ? kube_strerror(err) : "failed");
	exit(1);
}

static const char *str_at(json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(o, a), b));
}

static json_t *memshack_object(const char *name, int shards)
{
	/* InPlace: the latency phase times numShards changes resized in place, as in every run before issue 20. */
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i, s:i, s:i, s:{s:s}}}", "apiVersion",
			 MEMSHACK_GROUP "/" MEMSHACK_VERSION_NAME, "kind", "Memshack", "metadata", "name", name,
			 "namespace", ns, "spec", "numShards", shards, "numReplicas", 2, "mcrouterPoolSize", 2,
			 "migration", "mode", "InPlace");
}

/* ---- ceiling ------------------------------------------------------------------------------------ */

static json_t *memshack_object_3(const char *name)
{
	return memshack_object(name, 3);
}

/* The peer's object of the same size class: 3 memcached pods behind a PodDisruptionBudget. */
static json_t *peer_object(const char *name)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i, s:{s:{s:b, s:i}}}}", "apiVersion",
			 "memcached.c5c3.io/v1beta1", "kind", "Memcached", "metadata", "name", name, "namespace", ns,
			 "spec", "replicas", 3, "highAvailability", "podDisruptionBudget", "enabled", 1, "minAvailable",
			 2);
}

static const converge_target MEMSHACK_TARGET = { &MEMSHACKS, CHILD_KINDS,           N_CHILD_KINDS,    MEMSHACK_LABEL,
						 NULL,       CHILDREN_PER_MEMSHACK, memshack_object_3 };
static const converge_target PEER_TARGET = { &PEER_MEMCACHEDS,
					     PEER_CHILD_KINDS,
					     sizeof PEER_CHILD_KINDS / sizeof PEER_CHILD_KINDS[0],
					     "app.kubernetes.io/managed-by",
					     "memcached-operator",
					     3,
					     peer_object };
static const converge_target *converging = &MEMSHACK_TARGET; /* what converge creates */

static atomic_int next_index;
static atomic_long ceiling_writes, ceiling_errors;
static double ceiling_deadline;

static const kube_resource *resource_of(const char *kind)
{
	for (size_t k = 0; k < N_CHILD_KINDS; k++)
		if (!strcmp(CHILD_KINDS[k]->kind, kind))
			return CHILD_KINDS[k];
	return NULL;
}

/* Counts one write's outcome (kerr released). */
static void count_write(int rc, kube_error *kerr, atomic_long *writes, atomic_long *errors)
{
	if (rc) {
		atomic_fetch_add(errors, 1);
		fprintf(stderr, "kbench: write: %s\n", kube_strerror(kerr));
	} else {
		atomic_fetch_add(writes, 1);
	}
	kube_error_release(kerr);
}

/*
 * Applies the children of ms exactly as the operator builds them; with `idle`, owner references removed and
 * workload replicas 0 (no pods, no garbage collection). Returns the parsed spec (memshack_spec_free) and the
 * config's md5 in md5 (33 bytes).
 */
static memshack_spec *apply_children_of(json_t *ms, bool idle, char md5[33], atomic_long *writes, atomic_long *errors)
{
	char err[256];
	memshack_spec *s = NULL;
	memshack_desired d;
	if (memshack_spec_parse(ms, &s, err, sizeof err) ||
	    memshack_desired_build(s, &(gateway_env){ .cluster_domain = "cluster.local" }, &d, err, sizeof err)) {
		fprintf(stderr, "kbench: %s\n", err);
		exit(1);
	}
	size_t i;
	json_t *obj;
	json_array_foreach (d.objects, i, obj) {
		json_t *spec = json_object_get(obj, "spec");
		if (idle) {
			json_object_del(json_object_get(obj, "metadata"), "ownerReferences");
			if (json_object_get(spec, "replicas"))
				json_object_set_new(spec, "replicas", json_integer(0));
		}
		kube_error kerr = KUBE_ERROR_INIT;
		char *path = kube_path(resource_of(json_string_value(json_object_get(obj, "kind"))), ns,
				       str_at(obj, "metadata", "name"), NULL, &kerr);
		count_write(!path || kube_apply(client, path, obj, "memshack-bench", true, NULL, &kerr), &kerr, writes,
			    errors);
		free(path);
	}
	snprintf(md5, 33, "%s", d.config_md5);
	memshack_desired_release(&d);
	return s;
}

static void *ceiling_worker(void *arg)
{
	(void)arg;
	while (now_s() < ceiling_deadline) {
		char name[64], md5[33];
		snprintf(name, sizeof name, "ceil-%06d", atomic_fetch_add(&next_index, 1));
		json_t *ms = memshack_object(name, 3);
		json_object_set_new(json_object_get(ms, "metadata"), "uid",
				    json_string("00000000-0000-4000-8000-000000000000"));
		memshack_spec_free(apply_children_of(ms, true, md5, &ceiling_writes, &ceiling_errors));
		json_decref(ms);
	}
	return NULL;
}

static int run_ceiling(void)
{
	pthread_t t[64];
	double start = now_s();
	ceiling_deadline = start + seconds;
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, ceiling_worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double took = now_s() - start;
	printf("{\"threads\": %d, \"seconds\": %.3f, \"writes\": %ld, \"errors\": %ld, \"writes_per_second\": %.1f, "
	       "\"memshacks_applied\": %d}\n",
	       threads, took, (long)ceiling_writes, (long)ceiling_errors, (double)ceiling_writes / took,
	       (int)next_index);
	return ceiling_errors ? 1 : 0;
}

/* ---- converge ----------------------------------------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static strmap children_seen, ready_seen;
static double t_start, t_children, t_ready;

static bool memshack_ready(json_t *ms)
{
	json_t *st = json_object_get(ms, "status"), *c;
	json_int_t gen = json_integer_value(json_object_get(json_object_get(ms, "metadata"), "generation"));
	if (json_integer_value(json_object_get(st, "observedGeneration")) != gen)
		return false;
	size_t i;
	json_array_foreach (json_object_get(st, "conditions"), i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *status = json_string_value(json_object_get(c, "status"));
		if (type && status && !strcmp(type, "Ready"))
			return !strcmp(status, "True");
	}
	return false;
}

static void on_child(void *ud, informer_event ev, const char *key, json_t *obj)
{
	const kube_resource *res = ud;
	const char *label = ev == INFORMER_UPSERT
				    ? str_at(json_object_get(obj, "metadata"), "labels", converging->child_label)
				    : NULL;
	if (!label || (converging->child_label_value && strcmp(label, converging->child_label_value)))
		return;
	char kind_key[512];
	snprintf(kind_key, sizeof kind_key, "%s/%s", res->kind, key); /* a Service and a Deployment share names */
	pthread_mutex_lock(&mu);
	bool found;
	strmap_get(&children_seen, kind_key, &found);
	if (!found && !strmap_put(&children_seen, kind_key, NULL, NULL, NULL) &&
	    children_seen.len >= (size_t)count * converging->children_per_object && !t_children) {
		t_children = now_s();
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
}

static void on_memshack(void *ud, informer_event ev, const char *key, json_t *obj)
{
	(void)ud;
	if (ev != INFORMER_UPSERT || !memshack_ready(obj))
		return;
	pthread_mutex_lock(&mu);
	bool found;
	strmap_get(&ready_seen, key, &found);
	if (!found && !strmap_put(&ready_seen, key, NULL, NULL, NULL) && ready_seen.len >= (size_t)count && !t_ready) {
		t_ready = now_s();
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
}

static informer *start_informer(const kube_resource *res, informer_handler fn)
{
	kube_error err = KUBE_ERROR_INIT;
	informer_options o = { .res = res, .namespace = ns, .min_watch_timeout_s = 600 };
	informer *inf = informer_new(client, &o, &err);
	if (!inf || (fn && informer_add_handler(inf, fn, (void *)res)) || informer_start(inf))
		die("starting an informer", &err);
	if (!informer_wait_synced(inf, 60LL * 1000000))
		die("informer did not sync", NULL);
	return inf;
}

static atomic_int create_errors;

/* Converge and the fair ceiling time children from nothing: children already there would be counted. */
static void require_empty_namespace(void)
{
	pthread_mutex_lock(&mu);
	size_t already = children_seen.len;
	pthread_mutex_unlock(&mu);
	if (already) {
		fprintf(stderr, "kbench: namespace %s already holds %zu children: use a fresh one\n", ns, already);
		exit(1);
	}
}

/* Memshacks the fair ceiling's appliers have still to take (as created: uid included), in creation order; NULL in converge. */
static json_t *created_queue;
static size_t created_taken;
static int creators_left; /* create workers still running (what the appliers wait on) */

static void *create_worker(void *arg)
{
	(void)arg;
	for (int i; (i = atomic_fetch_add(&next_index, 1)) < count;) {
		char name[64];
		snprintf(name, sizeof name, "bench-%05d", i);
		json_t *ms = converging->object(name), *made = NULL;
		kube_error err = KUBE_ERROR_INIT;
		char *path = kube_path(converging->primary, ns, NULL, NULL, &err);
		if (!path || kube_create(client, path, ms, created_queue ? &made : NULL, &err)) {
			fprintf(stderr, "kbench: create %s: %s\n", name, kube_strerror(&err));
			atomic_fetch_add(&create_errors, 1);
		} else if (created_queue) {
			pthread_mutex_lock(&mu);
			json_array_append(created_queue, made);
			pthread_cond_broadcast(&cv);
			pthread_mutex_unlock(&mu);
		}
		json_decref(made);
		free(path);
		kube_error_release(&err);
		json_decref(ms);
	}
	pthread_mutex_lock(&mu);
	creators_left--;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void wait_until(double *t, double deadline)
{
	pthread_mutex_lock(&mu);
	while (!*t && now_s() < deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	pthread_mutex_unlock(&mu);
}

static int run_converge(void)
{
	size_t nk = converging->n_child_kinds;
	informer *infs[N_CHILD_KINDS + 1];
	for (size_t k = 0; k < nk; k++)
		infs[k] = start_informer(converging->child_kinds[k], on_child);
	infs[nk] = start_informer(converging->primary, on_memshack);
	require_empty_namespace();
	pthread_t t[64];
	t_start = now_s();
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, create_worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double t_created = now_s();
	double deadline = t_start + timeout_s;
	wait_until(&t_children, deadline);
	wait_until(&t_ready, deadline);
	pthread_mutex_lock(&mu);
	size_t nchildren = children_seen.len, nready = ready_seen.len;
	pthread_mutex_unlock(&mu);
	printf("{\"count\": %d, \"create_seconds\": %.3f, \"children_seconds\": %s%.3f, \"ready_seconds\": %s%.3f, "
	       "\"children\": %zu, \"ready\": %zu, \"create_errors\": %d}\n",
	       count, t_created - t_start, t_children ? "" : "-", t_children ? t_children - t_start : 1.0,
	       t_ready ? "" : "-", t_ready ? t_ready - t_start : 1.0, nchildren, nready, (int)create_errors);
	for (size_t k = 0; k <= nk; k++) {
		informer_stop(infs[k]);
		informer_free(infs[k]);
	}
	strmap_release(&children_seen, NULL);
	strmap_release(&ready_seen, NULL);
	return t_ready && !create_errors ? 0 : 1;
}

/* ---- fair ceiling -------------------------------------------------------------------------------- */

static atomic_long fair_writes, fair_errors;

/* The next created Memshack (a new reference), or NULL once every one has been taken. */
static json_t *fair_take(void)
{
	json_t *ms = NULL;
	pthread_mutex_lock(&mu);
	while (created_taken >= json_array_size(created_queue) && creators_left > 0)
		pthread_cond_wait(&cv, &mu);
	if (created_taken < json_array_size(created_queue))
		ms = json_incref(json_array_get(created_queue, created_taken++));
	pthread_mutex_unlock(&mu);
	return ms;
}

/* Applies one Memshack's children as the operator builds them, then writes its status once; failures are counted. */
static void fair_converge_one(json_t *ms)
{
	char endpoint[400], md5[33];
	memshack_spec *s = apply_children_of(ms, false, md5, &fair_writes, &fair_errors);
	memshack_observed o = { 0 };
	memshack_endpoint(s, "cluster.local", endpoint, sizeof endpoint);
	json_t *st = memshack_status_build(s, &o, NULL, endpoint, "app=bench", md5, "2026-01-01T00:00:00Z");
	json_t *patch = json_pack("{s:o}", "status", st);
	kube_error kerr = KUBE_ERROR_INIT;
	char *path = kube_path(&MEMSHACKS, ns, str_at(ms, "metadata", "name"), "status", &kerr);
	count_write(!patch || !path || kube_patch(client, path, KUBE_PATCH_MERGE, patch, NULL, &kerr), &kerr,
		    &fair_writes, &fair_errors);
	free(path);
	json_decref(patch);
	memshack_spec_free(s);
}

static void *fair_apply_worker(void *arg)
{
	(void)arg;
	for (json_t *ms; (ms = fair_take());) {
		fair_converge_one(ms);
		json_decref(ms);
	}
	return NULL;
}

static int run_fair_ceiling(void)
{
	enum { CREATORS = 4 };
	informer *infs[N_CHILD_KINDS];
	for (size_t k = 0; k < N_CHILD_KINDS; k++)
		infs[k] = start_informer(CHILD_KINDS[k], on_child);
	require_empty_namespace();
	created_queue = json_array();
	creators_left = CREATORS;
	pthread_t c[CREATORS], t[64];
	t_start = now_s();
	for (int i = 0; i < CREATORS; i++)
		pthread_create(&c[i], NULL, create_worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, fair_apply_worker, NULL);
	for (int i = 0; i < CREATORS; i++)
		pthread_join(c[i], NULL);
	double t_created = now_s();
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double t_written = now_s();
	wait_until(&t_children, t_start + timeout_s);
	pthread_mutex_lock(&mu);
	size_t nchildren = children_seen.len;
	pthread_mutex_unlock(&mu);
	printf("{\"count\": %d, \"threads\": %d, \"create_seconds\": %.3f, \"children_seconds\": %s%.3f, "
	       "\"all_written_seconds\": %.3f, \"children\": %zu, \"writes\": %ld, \"errors\": %ld, "
	       "\"create_errors\": %d}\n",
	       count, threads, t_created - t_start, t_children ? "" : "-", t_children ? t_children - t_start : 1.0,
	       t_written - t_start, nchildren, (long)fair_writes, (long)fair_errors, (int)create_errors);
	for (size_t k = 0; k < N_CHILD_KINDS; k++) {
		informer_stop(infs[k]);
		informer_free(infs[k]);
	}
	strmap_release(&children_seen, NULL);
	json_decref(created_queue);
	return t_children && !fair_errors && !create_errors ? 0 : 1;
}

/* ---- latency ------------------------------------------------------------------------------------ */

/*
 * Three moments of one spec change, each from the PATCH, each as a watch sees it:
 *   applied   the operator's first write of it shows in a child: both pool
 *             StatefulSets at the new size, or the config routing the new
 *             number of shards (a scale-up resizes the pools first and routes
 *             the new shards once their pods are ready; a scale-down routes
 *             first and shrinks the pools after);
 *   observed  the Memshack's status.observedGeneration reaches the change;
 *   complete  every child shows it (pools and config), which on a scale-up
 *             includes kube-controller-manager making the new pods, the
 *             scheduler placing them and kwok running them;
 * and, for reference, answered: the API server's answer to the PATCH itself.
 * An object is changed again once its last change was applied and observed;
 * a change not complete by then is counted as superseded.
 */
enum { AT_ANSWERED, AT_APPLIED, AT_OBSERVED, AT_COMPLETE, AT_MOMENTS };
static const char *const MOMENT_NAMES[AT_MOMENTS] = { "answered", "applied", "observed", "complete" };

typedef struct pending {
	double sent;
	int target;
	json_int_t generation; /* the patched object's, 0 until the PATCH answered */
	bool seen[AT_MOMENTS];
} pending;

static informer *ms_inf, *sts_inf, *cm_inf;
static strmap pendings;
static double *lat[AT_MOMENTS];
static size_t nlat[AT_MOMENTS];

static int count_servers(const char *config)
{
	int n = 0;
	for (const char *p = config; p && (p = strstr(p, ":11211")); p += 6)
		n++;
	return n;
}

static int sts_replicas(const char *name)
{
	char key[400];
	snprintf(key, sizeof key, "%s/%s", ns, name);
	json_t *o = store_get(informer_store(sts_inf), key);
	int r = o ? (int)json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas")) : -1;
	json_decref(o);
	return r;
}

/* With mu held: whether both pool StatefulSets of `ms` are at `target` shards (*pools), and its config routes them (*config). */
static void children_show(const char *ms, int target, bool *pools, bool *config)
{
	char name[300], key[400];
	*pools = true;
	for (int k = 0; k < 2; k++) {
		snprintf(name, sizeof name, "%s-memshack-pool-%d", ms, k);
		if (sts_replicas(name) != target)
			*pools = false;
	}
	snprintf(key, sizeof key, "%s/%s-memshack-mcrouter", ns, ms);
	json_t *cm = store_get(informer_store(cm_inf), key);
	*config = count_servers(str_at(cm, "data", "config.json")) == target * 2;
	json_decref(cm);
}

/*
 * With mu held: records moment `at` of ms's pending change p at t. Returns p, or NULL once every moment is
 * seen: the change is then forgotten (p freed).
 */
static pending *moment_seen(const char *ms, pending *p, int at, double t)
{
	if (!p->seen[at]) {
		p->seen[at] = true;
		lat[at][nlat[at]++] = t - p->sent;
	}
	for (int m = 0; m < AT_MOMENTS; m++)
		if (!p->seen[m])
			return p;
	free(strmap_remove(&pendings, ms, NULL));
	pthread_cond_broadcast(&cv);
	return NULL;
}

static void check_children(const char *ms, double t)
{
	pending *p = strmap_get(&pendings, ms, NULL);
	if (!p)
		return;
	bool pools, config;
	children_show(ms, p->target, &pools, &config);
	if (pools || config)
		p = moment_seen(ms, p, AT_APPLIED, t);
	if (p && pools && config)
		moment_seen(ms, p, AT_COMPLETE, t);
}

static void on_latency_child(void *ud, informer_event ev, const char *key, json_t *obj)
{
	(void)ud;
	(void)key;
	const char *ms = str_at(json_object_get(obj, "metadata"), "labels", MEMSHACK_LABEL);
	if (ev != INFORMER_UPSERT || !ms)
		return;
	double t = now_s();
	pthread_mutex_lock(&mu);
	check_children(ms, t);
	pthread_mutex_unlock(&mu);
}

static void on_latency_memshack(void *ud, informer_event ev, const char *key, json_t *obj)
{
	(void)ud;
	(void)key;
	const char *name = str_at(obj, "metadata", "name");
	if (ev != INFORMER_UPSERT || !name)
		return;
	double t = now_s();
	json_int_t observed = json_integer_value(json_object_get(json_object_get(obj, "status"), "observedGeneration"));
	pthread_mutex_lock(&mu);
	pending *p = strmap_get(&pendings, name, NULL);
	if (p && p->generation && observed >= p->generation)
		moment_seen(name, p, AT_OBSERVED, t);
	pthread_mutex_unlock(&mu);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(int at, double q)
{
	if (!nlat[at])
		return -1;
	size_t i = (size_t)ceil(q * (double)nlat[at]) - 1;
	return lat[at][i < nlat[at] ? i : nlat[at] - 1];
}

/* Sends one change of `name` to `target` shards; 0, or -1 (counted by the caller). */
static int send_change(const char *name, int target)
{
	pending *p = calloc(1, sizeof *p); /* owned by pendings from here */
	if (!p)
		die("out of memory", NULL);
	p->target = target;
	p->sent = now_s();
	pthread_mutex_lock(&mu);
	if (strmap_put(&pendings, name, p, NULL, NULL))
		die("out of memory", NULL);
	pthread_mutex_unlock(&mu);
	json_t *patch = json_pack("{s:{s:i}}", "spec", "numShards", target), *ret = NULL;
	kube_error err = KUBE_ERROR_INIT;
	char *path = kube_path(&MEMSHACKS, ns, name, NULL, &err);
	int rc = !path || kube_patch(client, path, KUBE_PATCH_MERGE, patch, &ret, &err) ? -1 : 0;
	pthread_mutex_lock(&mu);
	if (rc) {
		fprintf(stderr, "kbench: patch %s: %s\n", name, kube_strerror(&err));
		free(strmap_remove(&pendings, name, NULL));
	} else if ((p = strmap_get(&pendings, name, NULL))) {
		json_int_t generation =
			json_integer_value(json_object_get(json_object_get(ret, "metadata"), "generation"));
		/* The status may already show it (its watch event came before this answer): look in the cache. */
		char key[400];
		snprintf(key, sizeof key, "%s/%s", ns, name);
		json_t *cached = store_get(informer_store(ms_inf), key);
		json_int_t observed =
			json_integer_value(json_object_get(json_object_get(cached, "status"), "observedGeneration"));
		json_decref(cached);
		p->generation = generation;
		p = moment_seen(name, p, AT_ANSWERED, now_s());
		if (p && observed >= generation)
			moment_seen(name, p, AT_OBSERVED, now_s());
	}
	pthread_mutex_unlock(&mu);
	free(path);
	kube_error_release(&err);
	json_decref(patch);
	json_decref(ret);
	return rc;
}

static void print_latency(double elapsed, size_t n, int sent, int skipped, int superseded, int errors,
			  size_t unfinished)
{
	printf("{\"rate\": %.1f, \"seconds\": %.1f, \"memshacks\": %zu, \"sent\": %d, \"skipped_busy\": %d, "
	       "\"superseded\": %d, \"patch_errors\": %d, \"unfinished\": %zu",
	       rate, elapsed, n, sent, skipped, superseded, errors, unfinished);
	for (int at = 0; at < AT_MOMENTS; at++) {
		qsort(lat[at], nlat[at], sizeof *lat[at], cmp_double);
		double sum = 0;
		for (size_t q = 0; q < nlat[at]; q++)
			sum += lat[at][q];
		/* "complete" keeps the plain names (p50_ms, ...) earlier runs used for it. */
		const char *pre = at == AT_COMPLETE ? "" : MOMENT_NAMES[at], *sep = at == AT_COMPLETE ? "" : "_";
		printf(", \"%s%scompleted\": %zu, \"%s%sp50_ms\": %.1f, \"%s%sp90_ms\": %.1f, \"%s%sp99_ms\": %.1f, "
		       "\"%s%smax_ms\": %.1f, \"%s%smean_ms\": %.1f",
		       pre, sep, nlat[at], pre, sep, pct(at, 0.5) * 1e3, pre, sep, pct(at, 0.9) * 1e3, pre, sep,
		       pct(at, 0.99) * 1e3, pre, sep, nlat[at] ? lat[at][nlat[at] - 1] * 1e3 : -1.0, pre, sep,
		       nlat[at] ? sum / (double)nlat[at] * 1e3 : -1.0);
	}
	printf("}\n");
}

static int run_latency(void)
{
	ms_inf = start_informer(&MEMSHACKS, on_latency_memshack);
	sts_inf = start_informer(&KUBE_RES_STATEFULSETS, on_latency_child);
	cm_inf = start_informer(&KUBE_RES_CONFIGMAPS, on_latency_child);
	json_t *all = store_list(informer_store(ms_inf), NULL, NULL);
	size_t n = json_array_size(all);
	if (!n)
		die("no Memshacks in the namespace", NULL);
	int total = (int)(rate * seconds);
	for (int at = 0; at < AT_MOMENTS; at++)
		lat[at] = calloc((size_t)total, sizeof *lat[at]);
	int *shards = calloc(n, sizeof *shards);
	size_t i;
	json_t *ms;
	json_array_foreach (all, i, ms)
		shards[i] = (int)json_integer_value(json_object_get(json_object_get(ms, "spec"), "numShards"));
	int sent = 0, skipped = 0, superseded = 0, errors = 0;
	double start = now_s();
	for (int k = 0; k < total; k++) {
		double at = start + k / rate, wait = at - now_s();
		if (wait > 0)
			usleep((useconds_t)(wait * 1e6));
		size_t j = (size_t)k % n;
		const char *name = str_at(json_array_get(all, j), "metadata", "name");
		pthread_mutex_lock(&mu);
		pending *last = strmap_get(&pendings, name, NULL);
		bool busy = last && !(last->seen[AT_APPLIED] && last->seen[AT_OBSERVED]);
		if (last && !busy) { /* applied and observed, not complete yet: changed again */
			free(strmap_remove(&pendings, name, NULL));
			superseded++;
		}
		pthread_mutex_unlock(&mu);
		if (busy) {
			skipped++;
			continue;
		}
		int target = shards[j] == 3 ? 4 : 3;
		if (send_change(name, target))
			errors++;
		else
			shards[j] = target, sent++;
	}
	double send_end = now_s();
	/* Let the last changes land: at most 90 s, for a shrinking pool is held up to the 60 s removal bound
	 * when the gateways are not asked. */
	pthread_mutex_lock(&mu);
	while (pendings.len && now_s() < send_end + 90) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	size_t unfinished = pendings.len;
	print_latency(send_end - start, n, sent, skipped, superseded, errors, unfinished);
	pthread_mutex_unlock(&mu);
	informer *infs[] = { ms_inf, sts_inf, cm_inf };
	for (int k = 0; k < 3; k++) {
		informer_stop(infs[k]);
		informer_free(infs[k]);
	}
	strmap_release(&pendings, free);
	json_decref(all);
	free(shards);
	for (int at = 0; at < AT_MOMENTS; at++)
		free(lat[at]);
	return unfinished || errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "namespace", required_argument, NULL, 'n' },
						  { "threads", required_argument, NULL, 't' },
						  { "seconds", required_argument, NULL, 's' },
						  { "count", required_argument, NULL, 'c' },
						  { "timeout", required_argument, NULL, 'T' },
						  { "rate", required_argument, NULL, 'r' },
						  { "peer", no_argument, NULL, 'p' },
						  { NULL, 0, NULL, 0 } };
	if (argc < 2) {
		fprintf(stderr,
			"usage: kbench ceiling|converge|fair-ceiling|latency [--namespace NS] [--threads T] [--seconds S] "
			"[--count N] [--timeout S] [--rate R] [--peer]\n");
		return 2;
	}
	const char *mode = argv[1];
	int ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n': ns = optarg; break;
		case 't': threads = atoi(optarg); break;
		case 's': seconds = atoi(optarg); break;
		case 'c': count = atoi(optarg); break;
		case 'T': timeout_s = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'p': converging = &PEER_TARGET; break;
		default: return 2;
		}
	}
	if (threads < 1 || threads > 64 || count < 1 || seconds < 1 || rate <= 0) {
		fprintf(stderr, "kbench: bad arguments\n");
		return 2;
	}
	kube_config_options o = { 0 };
	kube_config_options_from_env(&o);
	kube_config *cfg = NULL;
	kube_error err = KUBE_ERROR_INIT;
	/* Its own user agent: the audit log tells the benchmark client's writes from the operator's. */
	kube_client_options co = { .user_agent = "kbench/" MEMSHACK_VERSION };
	if (kube_config_load(&o, &cfg, &err) || kube_client_new(cfg, &co, &client, &err))
		die("connecting", &err);
	kube_config_free(cfg);
	int rc;
	if (!strcmp(mode, "ceiling"))
		rc = run_ceiling();
	else if (!strcmp(mode, "converge"))
		rc = run_converge();
	else if (!strcmp(mode, "fair-ceiling"))
		rc = run_fair_ceiling();
	else if (!strcmp(mode, "latency"))
		rc = run_latency();
	else {
		fprintf(stderr, "kbench: unknown mode %s\n", mode);
		rc = 2;
	}
	kube_client_free(client);
	return rc;
}
