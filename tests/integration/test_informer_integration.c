/*
 * The informer against a real kube-apiserver (testenv "faults" profile:
 * minimal, watch cache off, so an old resourceVersion really expires):
 * events in order; the API server killed and restarted; a forced 410.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it_support.h"
#include "runtime/informer.h"

#define MAX_SEEN 256

typedef struct seen {
	pthread_mutex_t mu;
	char line[MAX_SEEN][128];
	int n;
} seen;

static seen rec = { PTHREAD_MUTEX_INITIALIZER, { { 0 } }, 0 };
static char ns_buf[128];
static const char *ns;
static kube_client *admin;

static void handler(void *ud, informer_event ev, const char *key, json_t *obj)
{
	(void)ud;
	const char *v = json_string_value(json_object_get(json_object_get(obj, "data"), "v"));
	pthread_mutex_lock(&rec.mu);
	if (rec.n < MAX_SEEN)
		snprintf(rec.line[rec.n++], 128, "%s %s %s", ev == INFORMER_UPSERT ? "upsert" : "delete",
			 strchr(key, '/') + 1, v ? v : "-");
	pthread_mutex_unlock(&rec.mu);
}

static void reset_seen(void)
{
	pthread_mutex_lock(&rec.mu);
	rec.n = 0;
	pthread_mutex_unlock(&rec.mu);
}

static bool saw(const char *line)
{
	pthread_mutex_lock(&rec.mu);
	bool found = false;
	for (int i = 0; i < rec.n && !found; i++)
		found = !strcmp(rec.line[i], line);
	pthread_mutex_unlock(&rec.mu);
	return found;
}

static void wait_saw(const char *line)
{
	for (int i = 0; i < 300 && !saw(line); i++)
		it_sleep_ms(100);
	if (!saw(line)) {
		pthread_mutex_lock(&rec.mu);
		for (int i = 0; i < rec.n; i++)
			print_message("seen: %s\n", rec.line[i]);
		pthread_mutex_unlock(&rec.mu);
		print_message("never saw '%s'\n", line);
		fail();
	}
}

static void put_cm(const char *name, const char *v)
{
	char *one = it_path(&KUBE_RES_CONFIGMAPS, ns, name, NULL);
	json_t *cm = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
			       "name", name, "data", "v", v);
	kube_error err = KUBE_ERROR_INIT;
	if (kube_apply(admin, one, cm, "it", true, NULL, &err)) {
		print_message("apply %s: %s\n", name, kube_strerror(&err));
		fail();
	}
	json_decref(cm);
	free(one);
}

static void del_cm(const char *name)
{
	char *one = it_path(&KUBE_RES_CONFIGMAPS, ns, name, NULL);
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_delete(admin, one, NULL, NULL, &err), 0);
	free(one);
}

/* The store holds exactly what the API lists (names and values). */
static void assert_store_matches_api(informer *inf)
{
	char *coll = it_path(&KUBE_RES_CONFIGMAPS, ns, NULL, NULL);
	json_t *list = NULL;
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_list(admin, coll, NULL, &list, &err), 0);
	json_t *items = json_object_get(list, "items");
	assert_int_equal(store_len(informer_store(inf)), json_array_size(items));
	size_t i;
	json_t *o;
	json_array_foreach (items, i, o) {
		char key[256];
		snprintf(key, sizeof key, "%s/%s", ns, it_str(o, "metadata", "name", NULL));
		json_t *cached = store_get(informer_store(inf), key);
		assert_non_null(cached);
		assert_string_equal(it_str(cached, "metadata", "resourceVersion", NULL),
				    it_str(o, "metadata", "resourceVersion", NULL));
		json_decref(cached);
	}
	json_decref(list);
	free(coll);
}

static informer *start_informer(long min_timeout_s)
{
	informer_options o = { .res = &KUBE_RES_CONFIGMAPS, .namespace = ns, .min_watch_timeout_s = min_timeout_s };
	kube_error err = KUBE_ERROR_INIT;
	informer *inf = informer_new(admin, &o, &err);
	assert_non_null(inf);
	assert_int_equal(informer_add_handler(inf, handler, NULL), 0);
	assert_int_equal(informer_start(inf), 0);
	assert_true(informer_wait_synced(inf, 30000000));
	return inf;
}

static void testenv(const char *verb, const char *what)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s %s %s --dir %s >/dev/null", TESTENV_SH, verb, what,
		 getenv("MEMSHACK_TESTENV_DIR"));
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	(void)state;
	admin = it_client(NULL);
	ns = it_namespace_create(admin, "it-informer", ns_buf, sizeof ns_buf);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	it_namespace_delete(admin, ns);
	kube_client_free(admin);
	return 0;
}

static void test_events_in_order(void **state)
{
	(void)state;
	reset_seen();
	informer *inf = start_informer(300);
	put_cm("a", "1");
	put_cm("a", "2");
	put_cm("a", "3");
	put_cm("b", "1");
	del_cm("a");
	wait_saw("delete a 3");
	pthread_mutex_lock(&rec.mu);
	const char *want[] = { "upsert a 1", "upsert a 2", "upsert a 3", "upsert b 1", "delete a 3" };
	int found = 0;
	for (int i = 0; i < rec.n; i++)
		if (found < 5 && !strcmp(rec.line[i], want[found]))
			found++;
	assert_int_equal(rec.n, 5);
	pthread_mutex_unlock(&rec.mu);
	assert_int_equal(found, 5);
	assert_store_matches_api(inf);
	informer_free(inf);
	del_cm("b");
}

static void test_apiserver_restart(void **state)
{
	(void)state;
	reset_seen();
	informer *inf = start_informer(300);
	put_cm("r1", "1");
	wait_saw("upsert r1 1");
	uint64_t restarts = informer_restarts(inf);
	testenv("stop", "kube-apiserver");
	it_sleep_ms(3000); /* the informer's watch breaks; it backs off and retries */
	testenv("start", "kube-apiserver");
	/* Changes made before the informer is back. */
	put_cm("r1", "2");
	put_cm("r2", "1");
	del_cm("r1");
	wait_saw("upsert r2 1");
	wait_saw("delete r1 2");
	assert_true(informer_restarts(inf) > restarts);
	assert_store_matches_api(inf);
	informer_free(inf);
	del_cm("r2");
}

static long long etcd_revision(void)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "curl -s -X POST http://127.0.0.1:$(cat %s/etcd.port)/v3/kv/range -d '{\"key\":\"AA==\"}'",
		 getenv("MEMSHACK_TESTENV_DIR"));
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char out[4096] = "";
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	pclose(p);
	json_t *doc = json_loads(out, 0, NULL);
	const char *rev = it_str(doc, "header", "revision", NULL);
	long long r = rev ? atoll(rev) : 0;
	json_decref(doc);
	assert_true(r > 0);
	return r;
}

static void test_forced_410_relists(void **state)
{
	(void)state;
	reset_seen();
	put_cm("keep", "1");
	put_cm("gone", "1");
	informer *inf = start_informer(300);
	wait_saw("upsert gone 1");
	uint64_t relists = informer_relists(inf);
	/* The informer stops watching (its resourceVersion kept) while things change... */
	informer_pause(inf);
	put_cm("keep", "2");
	put_cm("new", "1");
	del_cm("gone");
	/* ...and etcd forgets the history it would resume from. */
	char cmd[512];
	snprintf(
		cmd, sizeof cmd,
		"curl -sf -X POST http://127.0.0.1:$(cat %s/etcd.port)/v3/kv/compaction -d '{\"revision\":\"%lld\",\"physical\":true}' >/dev/null",
		getenv("MEMSHACK_TESTENV_DIR"), etcd_revision());
	assert_int_equal(system(cmd), 0);
	informer_resume(inf);
	/* 410 -> relist: the vanished object gets a synthesised delete, the rest upserts. */
	wait_saw("delete gone 1");
	wait_saw("upsert keep 2");
	wait_saw("upsert new 1");
	assert_int_equal(informer_relists(inf), relists + 1);
	assert_store_matches_api(inf);
	/* Nothing duplicated: each change seen once. */
	pthread_mutex_lock(&rec.mu);
	int keep2 = 0;
	for (int i = 0; i < rec.n; i++)
		keep2 += !strcmp(rec.line[i], "upsert keep 2");
	pthread_mutex_unlock(&rec.mu);
	assert_int_equal(keep2, 1);
	/* And it keeps watching after the relist. */
	put_cm("after", "1");
	wait_saw("upsert after 1");
	informer_free(inf);
}

int main(void)
{
	if (!getenv("KUBECONFIG") || !getenv("MEMSHACK_TESTENV_DIR")) {
		fprintf(stderr, "run through ctest (testenv fixture)\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_in_order),
		cmocka_unit_test(test_apiserver_restart),
		cmocka_unit_test(test_forced_410_relists),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
