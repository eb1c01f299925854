/*
 * Allocation failures never delete or shrink anything (issue 14, part 2), the
 * way SQLite tests itself: every allocation our code makes (malloc, calloc,
 * realloc, strdup, strndup: wrapped at link time; jansson's through its
 * allocator hooks) is counted on the reconciling thread, and for N = 1, 2, ...
 * the Nth fails, until a run completes with no failure injected.
 *
 * Scenarios: one full reconcile of the seed sample (yaml/test.yaml), a shard
 * change 3 -> 2 as a warm migration (the default: a new layout is built) and
 * in place (the pools held until the gateways move), a replica scale-down
 * with pool pruning (3 -> 2), a
 * MemcachedProxy reconcile, the work queue's add/get/done, and the key list a
 * periodic resync queues (store_keys: every key or none).
 *
 * The controllers run for real, against a fake API server on loopback that
 * records every request and answers every write with its body (their caches
 * are filled by the test, and never move, so every run starts from the same
 * state). For every N, each write must be one the run without failures
 * makes (the same method, path and body: never a smaller config, fewer
 * replicas, a missing pool), and each DELETE one it makes too; status and
 * Events may differ (they report the failure). No crash; no leak (the ASan
 * pass checks at exit). Prints how many allocations and distinct allocation
 * sites (return addresses) each scenario failed.
 *
 * Usage: test_alloc_failure [STRIDE]   (fail every STRIDE-th N; default 1: all)
 * A site is the call in our code that led to the allocation (the first
 * frame of this executable on the stack: jansson's allocations count where
 * our code called jansson).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dlfcn.h>
#include <execinfo.h>

#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "operator/memshack_controller.h"
#include "operator/proxy_controller.h"
#include "runtime/store.h"
#include "runtime/workqueue.h"
#include "util/log.h"
#include "util/sbuf.h"
#include "util/yaml_json.h"

/* ---- counted allocation, failing the Nth on the armed thread ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static long trap_at; /* MEMSHACK_ALLOC_TRAP=N: print where allocation N fails */
static _Thread_local bool armed;
static _Thread_local long alloc_count, fail_at;
static _Thread_local bool injected;
#define MAX_SITES 8192
static _Thread_local void *sites[MAX_SITES]; /* where an injected failure hit (distinct return addresses) */
static _Thread_local size_t n_sites;
static _Thread_local void *last_site; /* where this run's failure was injected */

static void *own_base; /* where this executable is loaded */

/* The first return address on the stack inside this executable, past the allocator wrappers. */
static void *our_caller(void *fallback)
{
	void *bt[24];
	int n = backtrace(bt, 24);
	/* [0] is in our_caller, [1] in fail_now, [2] in the allocator wrapper: the caller starts at [3]. */
	for (int i = 3; i < n; i++) {
		Dl_info info;
		if (dladdr(bt[i], &info) && info.dli_fbase == own_base)
			return bt[i];
	}
	return fallback;
}

static bool fail_now(void *site)
{
	if (!armed)
		return false;
	if (++alloc_count != fail_at)
		return false;
	injected = true;
	site = our_caller(site);
	last_site = site;
	if (trap_at && trap_at == fail_at) {
		void *bt[32];
		int n = backtrace(bt, 32);
		backtrace_symbols_fd(bt, n, 2);
	}
	size_t i = 0;
	while (i < n_sites && sites[i] != site)
		i++;
	if (i == n_sites && n_sites < MAX_SITES)
		sites[n_sites++] = site;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __real_strndup(s, n);
}

static void *json_alloc(size_t n)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __real_malloc(n);
}

static void arm(long n)
{
	alloc_count = 0;
	fail_at = n;
	injected = false;
	armed = true;
}

static void disarm(void)
{
	armed = false;
}

/* ---- the fake API server: records requests, answers writes with their body ---- */

typedef struct request_rec {
	char method[8];
	char *path;
	json_t *body; /* NULL for none */
} request_rec;

typedef struct fake_api {
	struct MHD_Daemon *d;
	int port;
	pthread_mutex_t mu;
	request_rec *recs;
	size_t n, cap;
} fake_api;

static void fake_clear(fake_api *f)
{
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n; i++) {
		free(f->recs[i].path);
		json_decref(f->recs[i].body);
	}
	f->n = 0;
	pthread_mutex_unlock(&f->mu);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned code, char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)version;
	fake_api *f = cls;
	sbuf *body = *con_cls;
	if (!body) {
		body = calloc(1, sizeof *body);
		*con_cls = body;
		return body ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		if (sbuf_add(body, upload, *upload_size) < 0)
			return MHD_NO; /* the test's own server out of memory: the request fails, loudly */
		*upload_size = 0;
		return MHD_YES;
	}
	json_t *obj = body->len ? json_loadb(body->buf, body->len, 0, NULL) : NULL;
	pthread_mutex_lock(&f->mu);
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->recs = realloc(f->recs, f->cap * sizeof *f->recs);
	}
	request_rec *r = &f->recs[f->n++];
	snprintf(r->method, sizeof r->method, "%s", method);
	r->path = strdup(url);
	r->body = json_incref(obj);
	pthread_mutex_unlock(&f->mu);
	if (!strcmp(method, "GET")) {
		json_decref(obj);
		return respond(
			conn, 404,
			strdup("{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}"));
	}
	if (!strcmp(method, "DELETE")) {
		json_decref(obj);
		return respond(conn, 200, strdup("{\"kind\":\"Status\",\"status\":\"Success\"}"));
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		return respond(
			conn, 400,
			strdup("{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"BadRequest\",\"code\":400}"));
	}
	json_t *answer = json_deep_copy(obj);
	json_t *md = json_object_get(answer, "metadata");
	if (!json_is_object(md)) {
		md = json_object();
		json_object_set_new(answer, "metadata", md);
	}
	json_object_set_new(md, "resourceVersion", json_string("100"));
	json_object_set_new(md, "generation", json_integer(2));
	if (!json_object_get(md, "uid"))
		json_object_set_new(md, "uid", json_string("uid-written"));
	char *text = json_dumps(answer, JSON_COMPACT);
	json_decref(answer);
	json_decref(obj);
	return respond(conn, !strcmp(method, "POST") ? 201 : 200, text);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)conn, (void)toe;
	sbuf *body = *con_cls;
	if (body) {
		sbuf_release(body);
		free(body);
	}
	*con_cls = NULL;
}

static fake_api *fake_start(void)
{
	fake_api *f = calloc(1, sizeof *f);
	assert_non_null(f);
	pthread_mutex_init(&f->mu, NULL);
	f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, f,
				MHD_OPTION_NOTIFY_COMPLETED, completed, f, MHD_OPTION_END);
	assert_non_null(f->d);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	f->port = info->port;
	return f;
}

static void fake_stop(fake_api *f)
{
	MHD_stop_daemon(f->d);
	fake_clear(f);
	free(f->recs);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* ---- the reference run and the check of every other run against it ---- */

static bool is_free_form(const request_rec *r)
{
	size_t n = strlen(r->path);
	return strstr(r->path, "/events") || (n > 7 && !strcmp(r->path + n - 7, "/status"));
}

/* The writes of the run without failures: "METHOD PATH" -> body (or null). */
static json_t *reference_of(fake_api *f)
{
	json_t *ref = json_object();
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n; i++) {
		request_rec *r = &f->recs[i];
		if (!strcmp(r->method, "GET") || is_free_form(r))
			continue;
		char k[1200];
		snprintf(k, sizeof k, "%s %s", r->method, r->path);
		json_object_set(ref, k, r->body ? r->body : json_null());
	}
	pthread_mutex_unlock(&f->mu);
	return ref;
}

/* The first place a and b differ, as a path into buf. */
static void first_difference(json_t *a, json_t *b, char *buf, size_t len)
{
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;
		json_object_foreach (a, k, v) {
			if (!json_equal(v, json_object_get(b, k))) {
				size_t n = strlen(buf);
				snprintf(buf + n, len - n, ".%s", k);
				first_difference(v, json_object_get(b, k), buf, len);
				return;
			}
		}
		json_object_foreach (b, k, v) {
			if (!json_object_get(a, k)) {
				size_t n = strlen(buf);
				snprintf(buf + n, len - n, ".%s (missing)", k);
				return;
			}
		}
	}
	if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
		for (size_t i = 0; i < json_array_size(a); i++) {
			if (!json_equal(json_array_get(a, i), json_array_get(b, i))) {
				size_t n = strlen(buf);
				snprintf(buf + n, len - n, "[%zu]", i);
				first_difference(json_array_get(a, i), json_array_get(b, i), buf, len);
				return;
			}
		}
	}
	char *ta = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : NULL,
	     *tb = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, ": %.120s instead of %.120s", ta ? ta : "(none)", tb ? tb : "(none)");
	free(ta);
	free(tb);
}

/* Counts writes of this run that the reference run does not make (printing the first few). */
static int unexpected_writes(fake_api *f, json_t *ref, long n, size_t *writes)
{
	int bad = 0;
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n; i++) {
		request_rec *r = &f->recs[i];
		if (!strcmp(r->method, "GET") || is_free_form(r))
			continue;
		(*writes)++;
		char k[1200];
		snprintf(k, sizeof k, "%s %s", r->method, r->path);
		json_t *want = json_object_get(ref, k);
		if (want && json_equal(want, r->body ? r->body : json_null()))
			continue;
		if (bad++ < 3) {
			char where[600] = "";
			if (want) {
				/* Past the digest annotation: what of the object itself differs. */
				json_t *a = json_deep_copy(r->body), *b = json_deep_copy(want);
				json_object_del(json_object_get(json_object_get(a, "metadata"), "annotations"),
						"memshack.io/applied-digest");
				json_object_del(json_object_get(json_object_get(a, "metadata"), "annotations"),
						"memshack.io/config-md5");
				json_object_del(json_object_get(json_object_get(b, "metadata"), "annotations"),
						"memshack.io/config-md5");
				json_object_del(json_object_get(json_object_get(b, "metadata"), "annotations"),
						"memshack.io/applied-digest");
				if (json_equal(a, b))
					first_difference(r->body, want, where, sizeof where);
				else
					first_difference(a, b, where, sizeof where);
				json_decref(a);
				json_decref(b);
			}
			print_error("failing allocation %ld (called from %p): %s %s: %s%s\n", n, last_site, r->method,
				    r->path,
				    want ? "differs from the reference run's at body" : "not made by the reference run",
				    where);
		}
	}
	pthread_mutex_unlock(&f->mu);
	return bad;
}

typedef struct scenario {
	const char *name;
	void (*reset)(void *ud); /* back to the start state, disarmed */
	reconcile_result (*run)(void *ud);
	void *ud;
	void (*check_reference)(json_t *ref); /* optional: asserts what the run without failures wrote */
} scenario;

static long stride = 1;

/* Fails allocation N = 1, 1+stride, ... until a run completes with none injected. */
static void run_scenario(fake_api *f, const scenario *sc)
{
	sc->reset(sc->ud);
	fake_clear(f);
	arm(0);
	reconcile_result ok = sc->run(sc->ud);
	long total = alloc_count;
	disarm();
	assert_int_not_equal(ok.outcome, RECONCILE_ERROR);
	json_t *ref = reference_of(f);
	for (size_t i = 0; getenv("MEMSHACK_ALLOC_VERBOSE") && i < f->n; i++) {
		char *b = f->recs[i].body ? json_dumps(f->recs[i].body, JSON_COMPACT) : NULL;
		print_message("reference: %s %s %.300s\n", f->recs[i].method, f->recs[i].path, b ? b : "");
		free(b);
	}
	assert_true(json_object_size(ref) > 0);
	if (sc->check_reference)
		sc->check_reference(ref);
	n_sites = 0;
	long runs = 0, failed_runs = 0, bad = 0;
	size_t writes_in_failed = 0;
	for (long n = 1;; n += stride) {
		sc->reset(sc->ud);
		fake_clear(f);
		arm(n);
		reconcile_result r = sc->run(sc->ud);
		bool hit = injected;
		disarm();
		runs++;
		if (!hit)
			break;
		failed_runs += r.outcome == RECONCILE_ERROR;
		bad += unexpected_writes(f, ref, n, &writes_in_failed);
	}
	printf("%-34s %6ld allocations per run; failed each of %ld (stride %ld) at %zu distinct sites; "
	       "%ld runs returned an error (retried), %zu writes made by failed runs, %ld not the reference's\n",
	       sc->name, total, runs - 1, stride, n_sites, failed_runs, writes_in_failed, bad);
	for (size_t i = 0; getenv("MEMSHACK_ALLOC_VERBOSE") && i < n_sites; i++)
		print_message("site %p\n", sites[i]);
	json_decref(ref);
	assert_int_equal(bad, 0);
}

/* ---- fixtures ---- */

static fake_api *api;
static char kubeconfig[256];
static manager *mgr_prune, *mgr_hold;
static memshack_controller *ms_prune, *ms_hold;
static proxy_controller *proxies;

static const char *NS = "alloc";

static json_t *load_seed(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/yaml/test.yaml", SOURCE_DIR);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	char text[4096];
	size_t len = fread(text, 1, sizeof text, fp);
	fclose(fp);
	char msg[256];
	json_t *doc = yaml_json_load(text, len, msg, sizeof msg);
	assert_non_null(doc);
	return doc;
}

/* Every optional part of a spec set, so that losing any of it to a failed allocation would show. */
static void set_every_option(json_t *spec)
{
	json_t *opts =
		json_pack("{s:{s:i, s:[s], s:{s:{s:s, s:s}, s:{s:s}}}, s:{s:s, s:[s], s:{s:{s:s}}},"
			  " s:{s:{s:s}, s:[{s:s, s:s, s:s}], s:s, s:s}}",
			  "memcached", "memoryMiB", 128, "extraArgs", "-R", "resources", "requests", "cpu", "100m",
			  "memory", "160Mi", "limits", "memory", "192Mi", "mcrouter", "readPolicy", "Latest",
			  "extraArgs", "--num-proxies=2", "resources", "requests", "cpu", "20m", "scheduling",
			  "nodeSelector", "pool", "cache", "tolerations", "key", "dedicated", "operator", "Exists",
			  "effect", "NoSchedule", "priorityClassName", "cache-critical", "spreadAcross", "Zone");
	assert_non_null(opts);
	assert_int_equal(json_object_update(spec, opts), 0);
	json_decref(opts);
	/* Monitoring and NetworkPolicies: sidecars, metrics ports, two policies (the ServiceMonitor's cache is empty). */
	json_t *mon = json_pack("{s:{s:{s:b, s:{s:{s:s}}}, s:{s:b, s:{s:s}}}, s:{s:b, s:{s:{s:s}}, s:{s:{s:s}}}}",
				"monitoring", "exporter", "enabled", 1, "resources", "requests", "cpu", "5m",
				"serviceMonitor", "enabled", 1, "labels", "release", "prometheus", "networkPolicy",
				"enabled", 1, "clientSelector", "matchLabels", "app", "web", "metricsNamespaceSelector",
				"matchLabels", "team", "monitoring");
	assert_non_null(mon);
	assert_int_equal(json_object_update(spec, mon), 0);
	json_decref(mon);
}

/* A Memshack as the API server would serve it: the seed's spec with shards/replicas, ours; every option when full. */
static json_t *memshack_object_with(int shards, int replicas, json_t *status, bool full)
{
	json_t *ms = load_seed();
	if (full)
		set_every_option(json_object_get(ms, "spec"));
	json_t *md = json_object_get(ms, "metadata");
	json_object_set_new(md, "namespace", json_string(NS));
	json_object_set_new(md, "uid", json_string("uid-memshack-test"));
	json_object_set_new(md, "resourceVersion", json_string("7"));
	json_object_set_new(md, "generation", json_integer(2));
	json_t *spec = json_object_get(ms, "spec");
	if (shards)
		json_object_set_new(spec, "numShards", json_integer(shards));
	if (replicas)
		json_object_set_new(spec, "numReplicas", json_integer(replicas));
	if (status)
		json_object_set_new(ms, "status", status);
	return ms;
}

static json_t *memshack_object(int shards, int replicas, json_t *status)
{
	return memshack_object_with(shards, replicas, status, false);
}

/* The children a converged Memshack of this size has, as the API server serves them, in ctl's caches. */
static void seed_children(memshack_controller *ctl, int shards, int replicas, bool full)
{
	json_t *ms = memshack_object_with(shards, replicas, NULL, full);
	memshack_spec *s = NULL;
	char err[256];
	if (memshack_spec_parse(ms, &s, err, sizeof err))
		fail_msg("spec: %s", err);
	memshack_desired d;
	assert_int_equal(
		memshack_desired_build(s, &(gateway_env){ .cluster_domain = "cluster.local" }, &d, err, sizeof err), 0);
	size_t i;
	json_t *obj;
	json_array_foreach (d.objects, i, obj) {
		json_t *o = json_deep_copy(obj);
		json_t *md = json_object_get(o, "metadata");
		json_object_set_new(md, "uid", json_sprintf("uid-child-%zu", i));
		json_object_set_new(md, "resourceVersion", json_string("10"));
		json_object_set_new(md, "generation", json_integer(1));
		const char *kind = json_string_value(json_object_get(o, "kind"));
		if (!strcmp(kind, "StatefulSet") || !strcmp(kind, "Deployment")) {
			json_t *n = json_object_get(json_object_get(o, "spec"), "replicas");
			json_object_set_new(o, "status",
					    json_pack("{s:O, s:O, s:i}", "replicas", n, "readyReplicas", n,
						      "observedGeneration", 1));
		}
		store *st = memshack_controller_cache(ctl, kind);
		assert_non_null(st);
		assert_int_equal(store_upsert(st, o, NULL), 0);
		json_decref(o);
	}
	memshack_desired_release(&d);
	memshack_spec_free(s);
	json_decref(ms);
}

typedef struct ms_case {
	memshack_controller *ctl;
	json_t *ms; /* the Memshack in the cache */
} ms_case;

static void ms_reset(void *ud)
{
	ms_case *c = ud;
	store *st = memshack_controller_cache(c->ctl, "Memshack");
	char key[300];
	snprintf(key, sizeof key, "%s/test", NS);
	/* Gone from the cache, a reconcile forgets what it applied: as after a restart. */
	store_delete(st, key, NULL);
	memshack_controller_reconcile(c->ctl, key);
	assert_int_equal(store_upsert(st, c->ms, NULL), 0);
}

static reconcile_result ms_run(void *ud)
{
	ms_case *c = ud;
	char key[300];
	snprintf(key, sizeof key, "%s/test", NS);
	return memshack_controller_reconcile(c->ctl, key);
}

/* The first reconcile writes the config without the removed pool, the second (its config now older than the removal delay) prunes. */
static reconcile_result ms_run_twice(void *ud)
{
	reconcile_result first = ms_run(ud);
	reconcile_result second = ms_run(ud);
	return first.outcome == RECONCILE_ERROR ? first : second;
}

static void clear_caches(memshack_controller *ctl)
{
	static const char *const kinds[] = { "Service", "StatefulSet", "PodDisruptionBudget", "ConfigMap",
					     "Deployment" };
	for (size_t k = 0; k < 5; k++) {
		store *st = memshack_controller_cache(ctl, kinds[k]);
		json_t *all = store_list(st, NULL, NULL);
		size_t i;
		json_t *o;
		json_array_foreach (all, i, o) {
			char key[400];
			store_delete(st, store_key_of(o, key, sizeof key), NULL);
		}
		json_decref(all);
	}
}

static void test_seed_full_reconcile(void **state)
{
	(void)state;
	clear_caches(ms_hold);
	ms_case c = { ms_hold, memshack_object(0, 0, NULL) };
	scenario sc = { "seed sample, full reconcile", ms_reset, ms_run, &c, NULL };
	run_scenario(api, &sc);
	json_decref(c.ms);
}

/* numShards 3 -> 2 with every option, from converged children; mode: spec.migration.mode, NULL for the default. */
static void shard_scale_down(const char *name, const char *mode)
{
	clear_caches(ms_hold);
	seed_children(ms_hold, 3, 2, true);
	json_t *status = json_pack("{s:I, s:{s:i, s:i}}", "observedGeneration", (json_int_t)1, "routing", "shards", 3,
				   "replicaPools", 2);
	ms_case c = { ms_hold, memshack_object_with(2, 2, status, true) };
	if (mode)
		assert_int_equal(json_object_set_new(json_object_get(c.ms, "spec"), "migration",
						     json_pack("{s:s}", "mode", mode)),
				 0);
	scenario sc = { name, ms_reset, ms_run, &c, NULL };
	run_scenario(api, &sc);
	json_decref(c.ms);
}

/* The default: a warm migration starts (a new layout is built beside the old). */
static void test_shard_scale_down(void **state)
{
	(void)state;
	shard_scale_down("shard change 3 -> 2 (warm), every option", NULL);
}

/* In place: the pools are held at 3 pods until the gateways move. */
static void test_shard_scale_down_in_place(void **state)
{
	(void)state;
	shard_scale_down("shard scale-down 3 -> 2 in place", "InPlace");
}

static void test_replica_scale_down_prunes(void **state)
{
	(void)state;
	clear_caches(ms_prune);
	seed_children(ms_prune, 2, 3, false);
	json_t *status = json_pack("{s:I, s:{s:i, s:i}}", "observedGeneration", (json_int_t)1, "routing", "shards", 2,
				   "replicaPools", 3);
	ms_case c = { ms_prune, memshack_object(2, 2, status) };
	/* The reference run must prune pool 2 for this scenario to test pruning. */
	scenario sc = { "replica scale-down 3 -> 2, pruning", ms_reset, ms_run_twice, &c, NULL };
	ms_reset(&c);
	fake_clear(api);
	ms_run_twice(&c);
	bool deleted = false;
	for (size_t i = 0; i < api->n; i++)
		deleted |= !strcmp(api->recs[i].method, "DELETE") &&
			   strstr(api->recs[i].path, "/statefulsets/test-memshack-pool-2");
	assert_true(deleted);
	run_scenario(api, &sc);
	json_decref(c.ms);
}

typedef struct proxy_case {
	json_t *proxy;
} proxy_case;

static void proxy_reset(void *ud)
{
	proxy_case *c = ud;
	store *st = proxy_controller_cache(proxies, "MemcachedProxy");
	char key[300];
	snprintf(key, sizeof key, "%s/cache", NS);
	store_delete(st, key, NULL);
	proxy_controller_reconcile(proxies, key);
	assert_int_equal(store_upsert(st, c->proxy, NULL), 0);
}

static reconcile_result proxy_run(void *ud)
{
	(void)ud;
	char key[300];
	snprintf(key, sizeof key, "%s/cache", NS);
	return proxy_controller_reconcile(proxies, key);
}

/* The reference config routes to all three servers (so a config missing one would be caught). */
static void proxy_reference_has_all_servers(json_t *ref)
{
	char k[300];
	snprintf(k, sizeof k, "PATCH /api/v1/namespaces/%s/configmaps/cache-proxy-config", NS);
	const char *config =
		json_string_value(json_object_get(json_object_get(json_object_get(ref, k), "data"), "config.json"));
	assert_non_null(config);
	assert_non_null(strstr(config, "10.0.0.1:11211"));
	assert_non_null(strstr(config, "10.0.0.2:11211"));
	assert_non_null(strstr(config, "10.0.0.3:11211"));
}

static void test_proxy_reconcile(void **state)
{
	(void)state;
	json_t *svc = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:[{s:s, s:i, s:s}]}}", "apiVersion", "v1", "kind",
				"Service", "metadata", "name", "backend", "namespace", NS, "uid", "uid-backend", "spec",
				"ports", "name", "memcache", "port", 11211, "protocol", "TCP");
	json_t *slice =
		json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:s, s:[{s:s, s:i, s:s}], s:[]}", "apiVersion",
			  "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "name", "backend-x1", "namespace",
			  NS, "resourceVersion", "3", "labels", "kubernetes.io/service-name", "backend", "addressType",
			  "IPv4", "ports", "name", "memcache", "port", 11211, "protocol", "TCP", "endpoints");
	for (int i = 1; i <= 3; i++)
		json_array_append_new(json_object_get(slice, "endpoints"), json_pack("{s:[s], s:{s:b}}", "addresses",
										     i == 1   ? "10.0.0.1"
										     : i == 2 ? "10.0.0.2"
											      : "10.0.0.3",
										     "conditions", "ready", 1));
	assert_int_equal(store_upsert(proxy_controller_cache(proxies, "Backend"), svc, NULL), 0);
	assert_int_equal(store_upsert(proxy_controller_cache(proxies, "EndpointSlice"), slice, NULL), 0);
	json_decref(svc);
	json_decref(slice);
	proxy_case c = { json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:i}, s:{s:s, s:s, s:i}}", "apiVersion",
				   "memshack.io/v1alpha1", "kind", "MemcachedProxy", "metadata", "name", "cache",
				   "namespace", NS, "uid", "uid-proxy", "resourceVersion", "5", "generation", 1, "spec",
				   "serviceName", "backend", "servicePort", "memcache", "replicas", 2) };
	scenario sc = { "MemcachedProxy reconcile", proxy_reset, proxy_run, &c, proxy_reference_has_all_servers };
	run_scenario(api, &sc);
	json_decref(c.proxy);
}

/*
 * Runs run(ud) once with no failure injected (counting its allocations), then once
 * failing each allocation in turn (every stride-th), until a run completes with no
 * failure injected; check(ud, failed), if not NULL, runs after each, disarmed. Prints
 * what it did under `what`, ending with `claim`.
 */
static void fail_each(const char *what, const char *claim, void (*run)(void *ud), void (*check)(void *ud, bool failed),
		      void *ud)
{
	long runs = 0, total = 0;
	n_sites = 0;
	for (long n = 0;; n = n ? n + stride : 1) {
		arm(n);
		run(ud);
		bool hit = injected;
		disarm();
		if (check)
			check(ud, hit);
		if (!n)
			total = alloc_count;
		runs++;
		if (n && !hit)
			break;
	}
	printf("%-34s %6ld allocations per run; failed each of %ld (stride %ld) at %zu distinct sites; %s\n", what,
	       total, runs - 2, stride, n_sites, claim);
}

/* ---- the work queue: one key is never handed to two workers, whatever fails ---- */

/* Takes every key ready in q; none may be one held already (held[0..n), then those taken). Returns the new n (extra keys beyond 8 are freed). */
static int take_ready(workqueue *q, char *held[8], int n)
{
	for (char *k; (k = workqueue_try_get(q));) {
		for (int i = 0; i < n; i++)
			assert_string_not_equal(k, held[i]);
		if (n < 8)
			held[n++] = k;
		else
			free(k);
	}
	return n;
}

/* Marks held[0..n) done and frees them. */
static void done_all(workqueue *q, char *held[8], int n)
{
	for (int i = 0; i < n; i++) {
		workqueue_done(q, held[i]);
		free(held[i]);
		held[i] = NULL;
	}
}

static void workqueue_run(void *ud)
{
	(void)ud;
	static const char *const keys[] = { "ns/a", "ns/b", "ns/c", "ns/d" };
	workqueue *q = workqueue_new(NULL);
	if (!q)
		return;
	char *held[8] = { 0 }; /* keys being processed */
	int n_held = 0;
	for (size_t i = 0; i < 4; i++)
		workqueue_add(q, keys[i]);
	/* Two workers take keys; the keys they hold are added again while processed. */
	for (int w = 0; w < 2; w++) {
		char *k = workqueue_try_get(q);
		if (k)
			held[n_held++] = k;
	}
	for (int i = 0; i < n_held; i++)
		workqueue_add(q, held[i]);
	/* Nobody else may get a key that is being processed. */
	n_held = take_ready(q, held, n_held);
	done_all(q, held, n_held);
	/* After done, re-added keys come back once each. */
	done_all(q, held, take_ready(q, held, 0));
	workqueue_free(q);
}

static void test_workqueue(void **state)
{
	(void)state;
	fail_each("work queue add/get/done", "no key held twice", workqueue_run, NULL, NULL);
}

/* ---- the periodic resync's key list: every key or none, never a partial list ---- */

typedef struct keys_case {
	store *st;
	char **keys;
	size_t len;
} keys_case;

static void keys_run(void *ud)
{
	keys_case *c = ud;
	c->len = 99;
	c->keys = store_keys(c->st, &c->len);
}

static void keys_check(void *ud, bool failed)
{
	keys_case *c = ud;
	if (c->keys) {
		assert_int_equal(c->len, 5);
		for (size_t i = 0; i < c->len; i++)
			assert_memory_equal(c->keys[i], NS, strlen(NS));
		assert_null(c->keys[5]);
	} else {
		assert_int_equal(c->len, 0);
		assert_true(failed);
	}
	store_keys_free(c->keys);
	c->keys = NULL;
}

static void test_store_keys(void **state)
{
	(void)state;
	keys_case c = { store_new(NULL, NULL), NULL, 0 };
	assert_non_null(c.st);
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof name, "m%d", i);
		json_t *o = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "namespace", NS, "name", name,
				      "resourceVersion", "1");
		assert_int_equal(store_upsert(c.st, o, NULL), 0);
		json_decref(o);
	}
	fail_each("resync key list", "all keys or none", keys_run, keys_check, &c);
	store_free(c.st);
}

static int setup(void **state)
{
	(void)state;
	json_set_alloc_funcs(json_alloc, free);
	api = fake_start();
	snprintf(kubeconfig, sizeof kubeconfig, "/tmp/memshack-alloc-%d.kubeconfig", (int)getpid());
	FILE *fp = fopen(kubeconfig, "w");
	assert_non_null(fp);
	fprintf(fp,
		"apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {server: \"http://127.0.0.1:%d\"}\n"
		"users:\n- name: fake\n  user: {token: t}\ncontexts:\n- name: fake\n  context: {cluster: fake, user: fake, namespace: %s}\n"
		"current-context: fake\n",
		api->port, NS);
	fclose(fp);
	manager_options o = { .kubeconfig = kubeconfig,
			      .namespace = NS,
			      .workers = 1,
			      .metrics_addr = "0",
			      .health_addr = "0",
			      .log_level = "error" };
	mgr_prune = manager_new(&o, "memshack-alloc", "memshack.io/operator");
	mgr_hold = manager_new(&o, "memshack-alloc", "memshack.io/operator");
	assert_non_null(mgr_prune);
	assert_non_null(mgr_hold);
	/* Prune as soon as the config is written (--pool-removal-delay 0) in one; hold shrinking pools for a minute in the other. */
	memshack_controller_options prune = { .pool_removal_delay_us = 0, .gateway_probe_timeout_ms = 0 };
	memshack_controller_options hold = { .pool_removal_delay_us = 60000000, .gateway_probe_timeout_ms = 0 };
	ms_prune = memshack_controller_new(mgr_prune, &prune);
	ms_hold = memshack_controller_new(mgr_hold, &hold);
	proxies = proxy_controller_new(mgr_hold, "cluster.local", NULL);
	assert_non_null(ms_prune);
	assert_non_null(ms_hold);
	assert_non_null(proxies);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	manager_free(mgr_prune);
	manager_free(mgr_hold);
	memshack_controller_free(ms_prune);
	memshack_controller_free(ms_hold);
	proxy_controller_free(proxies);
	fake_stop(api);
	unlink(kubeconfig);
	return 0;
}

int main(int argc, char **argv)
{
	Dl_info self;
	if (dladdr((void *)&main, &self))
		own_base = self.dli_fbase;
	const char *trap = getenv("MEMSHACK_ALLOC_TRAP");
	trap_at = trap ? strtol(trap, NULL, 10) : 0;
	if (argc > 1)
		stride = strtol(argv[1], NULL, 10) > 0 ? strtol(argv[1], NULL, 10) : 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workqueue),
		cmocka_unit_test(test_seed_full_reconcile),
		cmocka_unit_test(test_shard_scale_down),
		cmocka_unit_test(test_shard_scale_down_in_place),
		cmocka_unit_test(test_replica_scale_down_prunes),
		cmocka_unit_test(test_proxy_reconcile),
		cmocka_unit_test(test_store_keys),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
