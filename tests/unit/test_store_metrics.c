#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/apply.h"
#include "runtime/metrics.h"
#include "runtime/projection.h"
#include "runtime/store.h"

static json_t *obj(const char *ns, const char *name, const char *rv, const char *value)
{
	return json_pack("{s:s, s:{s:s, s:s, s:s, s:[{s:s}]}, s:{s:s}}", "kind", "ConfigMap", "metadata", "namespace",
			 ns, "name", name, "resourceVersion", rv, "managedFields", "manager", "kubectl", "data", "v",
			 value);
}

typedef struct seen {
	char keys[16][64];
	int n;
} seen;

static void remember(void *ud, const char *key, json_t *o)
{
	(void)o;
	seen *s = ud;
	snprintf(s->keys[s->n++], 64, "%s", key);
}

static void test_upsert_get_trim(void **state)
{
	(void)state;
	store *s = store_new(NULL, NULL);
	json_t *a = obj("ns", "a", "1", "x");
	bool changed;
	assert_int_equal(store_upsert(s, a, &changed), 0);
	assert_true(changed);
	assert_int_equal(store_upsert(s, a, &changed), 0);
	assert_false(changed); /* same resourceVersion */
	json_t *got = store_get(s, "ns/a");
	assert_non_null(got);
	assert_null(json_object_get(json_object_get(got, "metadata"), "managedFields"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "data"), "v")), "x");
	/* A read is a private copy: changing it does not change the cache. */
	json_object_set_new(json_object_get(got, "data"), "v", json_string("mutated"));
	json_t *again = store_get(s, "ns/a");
	assert_string_equal(json_string_value(json_object_get(json_object_get(again, "data"), "v")), "x");
	/* The input object is untouched by trimming. */
	assert_non_null(json_object_get(json_object_get(a, "metadata"), "managedFields"));
	bool existed;
	store_delete(s, "ns/a", &existed);
	assert_true(existed);
	store_delete(s, "ns/a", &existed);
	assert_false(existed);
	assert_null(store_get(s, "ns/a"));
	assert_int_equal(store_bytes(s), 0);
	json_decref(a);
	json_decref(got);
	json_decref(again);
	store_free(s);
}

static void test_replace_synthesises_deletes(void **state)
{
	(void)state;
	store *s = store_new(NULL, NULL);
	assert_false(store_synced(s));
	json_t *a = obj("ns", "a", "1", "x"), *b = obj("ns", "b", "1", "x"), *c = obj("ns", "c", "1", "x");
	assert_int_equal(store_upsert(s, a, NULL), 0);
	assert_int_equal(store_upsert(s, b, NULL), 0);
	/* Relist: b changed, a vanished, c new. */
	json_t *b2 = obj("ns", "b", "2", "y");
	json_t *items = json_pack("[O, O]", b2, c);
	seen changed = { .n = 0 }, vanished = { .n = 0 };
	seen *both[2] = { &changed, &vanished };
	(void)both;
	assert_int_equal(store_replace(s, items, remember, NULL, &changed), 0);
	assert_int_equal(changed.n, 2);
	assert_int_equal(store_len(s), 2);
	assert_true(store_synced(s));
	assert_int_equal(store_upsert(s, a, NULL), 0);
	assert_int_equal(store_replace(s, items, NULL, remember, &vanished), 0);
	assert_int_equal(vanished.n, 1);
	assert_string_equal(vanished.keys[0], "ns/a");
	assert_null(store_get(s, "ns/a"));
	json_t *got = store_get(s, "ns/b");
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "data"), "v")), "y");
	json_decref(got);
	json_t *all = store_list(s, NULL, NULL);
	assert_int_equal(json_array_size(all), 2);
	json_decref(all);
	/* The keys alone (what a periodic resync queues), nothing parsed. */
	size_t n = 99;
	char **keys = store_keys(s, &n);
	assert_non_null(keys);
	assert_int_equal(n, 2);
	assert_null(keys[2]);
	bool has_b = false, has_c = false;
	for (size_t i = 0; i < n; i++)
		has_b |= !strcmp(keys[i], "ns/b"), has_c |= !strcmp(keys[i], "ns/c");
	assert_true(has_b && has_c);
	store_keys_free(keys);
	json_decref(items);
	json_decref(a);
	json_decref(b);
	json_decref(b2);
	json_decref(c);
	store_free(s);
}

static json_t *only_name(void *ud, json_t *o)
{
	(void)ud;
	return json_pack("{s:{s:O}}", "metadata", "name", json_object_get(json_object_get(o, "metadata"), "name"));
}

static void test_projection(void **state)
{
	(void)state;
	store *full = store_new(NULL, NULL), *proj = store_new(only_name, NULL);
	json_t *a = obj("ns", "a", "1", "a long value that the projection drops .............................");
	assert_int_equal(store_upsert(full, a, NULL), 0);
	assert_int_equal(store_upsert(proj, a, NULL), 0);
	assert_true(store_bytes(proj) < store_bytes(full));
	json_t *got = store_get(proj, "ns/a");
	assert_null(json_object_get(got, "data"));
	json_decref(got);
	json_decref(a);
	store_free(full);
	store_free(proj);
}

static void test_owned_child_projection(void **state)
{
	(void)state;
	json_t *sts = json_loads(
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"x-pool-0\","
		"\"namespace\":\"ns\",\"uid\":\"u1\",\"resourceVersion\":\"7\",\"generation\":4,"
		"\"labels\":{\"a\":\"b\"},\"annotations\":{\"memshack.io/applied-digest\":\"d1\",\"other\":\"x\"},"
		"\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Other\",\"name\":\"o\",\"uid\":\"u0\"},"
		"{\"apiVersion\":\"memshack.io/v1alpha1\",\"kind\":\"Memshack\",\"name\":\"x\",\"uid\":\"owner\","
		"\"controller\":true}],\"managedFields\":[{}]},\"spec\":{\"replicas\":3},"
		"\"status\":{\"replicas\":3,\"readyReplicas\":2,\"currentRevision\":\"r\"}}",
		0, NULL);
	static const char *const status[] = { "readyReplicas", NULL };
	static const projection_fields fields = { "memshack.io/applied-digest", status };
	json_t *p = project_owned_child((void *)&fields, sts);
	json_t *want =
		json_loads("{\"metadata\":{\"name\":\"x-pool-0\",\"namespace\":\"ns\",\"uid\":\"u1\",\"generation\":4,"
			   "\"ownerReferences\":[{\"uid\":\"owner\",\"controller\":true}],"
			   "\"annotations\":{\"memshack.io/applied-digest\":\"d1\"}},\"status\":{\"readyReplicas\":2}}",
			   0, NULL);
	assert_true(json_equal(p, want));
	/* What the cache keeps still answers "is this ours?". */
	assert_true(apply_is_controlled_by(p, "owner"));
	assert_false(apply_is_controlled_by(p, "u0"));
	json_decref(p);
	json_decref(want);
	json_decref(sts);
}

/* store_upsert_diff: a status update outside the projection changes the resourceVersion, not what is kept. */
static void test_upsert_kept_changes(void **state)
{
	(void)state;
	static const char *const status[] = { "readyReplicas", NULL };
	static const projection_fields fields = { "memshack.io/applied-digest", status };
	store *s = store_new(project_owned_child, (void *)&fields);
	const char *fmt =
		"{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"resourceVersion\":\"%d\",\"generation\":%d},"
		"\"status\":{\"readyReplicas\":%d,\"currentRevision\":\"%s\"}}";
	struct {
		int rv, gen, ready;
		const char *rev;
		bool changed, kept_changed;
	} steps[] = {
		{ 1, 1, 0, "a", true, true },   /* new */
		{ 2, 1, 0, "b", true, false },  /* status outside the projection */
		{ 2, 1, 0, "b", false, false }, /* the same again (relist) */
		{ 3, 1, 1, "b", true, true },   /* a projected status field */
		{ 4, 2, 1, "b", true, true },   /* a spec edit: generation */
	};
	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
		char text[400];
		snprintf(text, sizeof text, fmt, steps[i].rv, steps[i].gen, steps[i].ready, steps[i].rev);
		json_t *o = json_loads(text, 0, NULL);
		bool changed = !steps[i].changed, kept = !steps[i].kept_changed;
		assert_int_equal(store_upsert_diff(s, o, &changed, &kept), 0);
		assert_int_equal(changed, steps[i].changed);
		assert_int_equal(kept, steps[i].kept_changed);
		json_decref(o);
	}
	json_t *got = store_get(s, "ns/p");
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "metadata"), "resourceVersion")),
			    "4");
	json_decref(got);
	store_free(s);
}

static void test_metrics_render(void **state)
{
	(void)state;
	metrics *m = metrics_new();
	double buckets[] = { 0.01, 0.1, 1 };
	assert_int_equal(
		metrics_declare(m, "memshack_reconcile_total", METRIC_COUNTER, "Reconciles by result.", NULL, 0), 0);
	assert_int_equal(metrics_declare(m, "memshack_workqueue_depth", METRIC_GAUGE, "Keys waiting.", NULL, 0), 0);
	assert_int_equal(metrics_declare(m, "memshack_reconcile_duration_seconds", METRIC_HISTOGRAM, "Reconcile time.",
					 buckets, 3),
			 0);
	double bad[] = { 1, 0.5 };
	assert_int_equal(metrics_declare(m, "bad", METRIC_HISTOGRAM, "x", bad, 2), -1);
	metrics_add(m, "memshack_reconcile_total", "result=\"success\"", 2);
	metrics_add(m, "memshack_reconcile_total", "result=\"error\"", 1);
	metrics_add(m, "memshack_reconcile_total", "result=\"success\"", 1);
	metrics_add(m, "memshack_reconcile_total", "result=\"success\"", -5); /* counters never go down */
	metrics_set(m, "memshack_workqueue_depth", NULL, 7);
	metrics_set(m, "memshack_workqueue_depth", NULL, 4);
	metrics_observe(m, "memshack_reconcile_duration_seconds", NULL, 0.005);
	metrics_observe(m, "memshack_reconcile_duration_seconds", NULL, 0.5);
	metrics_observe(m, "memshack_reconcile_duration_seconds", NULL, 5);
	metrics_add(m, "undeclared", NULL, 1);
	char *text = metrics_render(m);
	const char *want = "# HELP memshack_reconcile_total Reconciles by result.\n"
			   "# TYPE memshack_reconcile_total counter\n"
			   "memshack_reconcile_total{result=\"error\"} 1\n"
			   "memshack_reconcile_total{result=\"success\"} 3\n"
			   "# HELP memshack_workqueue_depth Keys waiting.\n"
			   "# TYPE memshack_workqueue_depth gauge\n"
			   "memshack_workqueue_depth 4\n"
			   "# HELP memshack_reconcile_duration_seconds Reconcile time.\n"
			   "# TYPE memshack_reconcile_duration_seconds histogram\n"
			   "memshack_reconcile_duration_seconds_bucket{le=\"0.01\"} 1\n"
			   "memshack_reconcile_duration_seconds_bucket{le=\"0.10000000000000001\"} 1\n"
			   "memshack_reconcile_duration_seconds_bucket{le=\"1\"} 2\n"
			   "memshack_reconcile_duration_seconds_bucket{le=\"+Inf\"} 3\n"
			   "memshack_reconcile_duration_seconds_sum 5.5049999999999999\n"
			   "memshack_reconcile_duration_seconds_count 3\n";
	assert_string_equal(text, want);
	free(text);
	assert_true(metrics_value(m, "memshack_reconcile_total", "result=\"success\"") == 3);
	char esc[64];
	assert_string_equal(metrics_label_escape("a\"b\\c\nd", esc, sizeof esc), "a\\\"b\\\\c\\nd");
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upsert_get_trim),     cmocka_unit_test(test_replace_synthesises_deletes),
		cmocka_unit_test(test_projection),          cmocka_unit_test(test_owned_child_projection),
		cmocka_unit_test(test_upsert_kept_changes), cmocka_unit_test(test_metrics_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
