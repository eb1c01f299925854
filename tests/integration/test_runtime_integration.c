/*
 * Runtime helpers against a real kube-apiserver (minimal profile): event
 * aggregation under a hot loop, server-side apply of objects and status with
 * conditions, pruning of owned objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it_support.h"
#include "runtime/apply.h"
#include "util/conditions.h"
#include "runtime/events.h"

static char ns_buf[128];
static const char *ns;
static kube_client *admin;

static int setup(void **state)
{
	(void)state;
	admin = it_client(NULL);
	ns = it_namespace_create(admin, "it-runtime", ns_buf, sizeof ns_buf);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	it_namespace_delete(admin, ns);
	kube_client_free(admin);
	return 0;
}

static json_t *make_cm(const char *name, json_t *owner)
{
	json_t *cm = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
			       "metadata", "name", name, "namespace", ns, "labels", "it", "runtime", "data", "k", "v");
	if (owner)
		json_object_set_new(json_object_get(cm, "metadata"), "ownerReferences",
				    json_pack("[o]", apply_owner_reference(owner)));
	return cm;
}

static size_t count_events(const char *reason, long long *ret_series)
{
	char *coll = it_path(&KUBE_RES_EVENTS, ns, NULL, NULL);
	json_t *list = NULL;
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_list(admin, coll, NULL, &list, &err), 0);
	size_t n = 0, i;
	json_t *e;
	*ret_series = 0;
	json_array_foreach (json_object_get(list, "items"), i, e) {
		if (strcmp(it_str(e, "reason", NULL), reason))
			continue;
		n++;
		json_t *c = json_object_get(json_object_get(e, "series"), "count");
		if (json_is_integer(c))
			*ret_series = json_integer_value(c);
	}
	json_decref(list);
	free(coll);
	return n;
}

static void test_events_aggregated(void **state)
{
	(void)state;
	kube_error err = KUBE_ERROR_INIT;
	json_t *owner = NULL;
	json_t *cm = make_cm("regarding", NULL);
	assert_int_equal(apply_object(admin, "memshack", &KUBE_RES_CONFIGMAPS, cm, &owner, &err), 0);
	events *ev = events_new(admin, "memshack.io/test", "it-1", NULL);
	events_set_windows(ev, 0, 500000 /* patch series at most every 0.5 s */, 3, 0);
	/* A hot loop: 200 identical events in a row. */
	for (int i = 0; i < 200; i++)
		events_record(ev, owner, "Warning", "Fighting", "Reconcile", "someone keeps changing %s", "regarding");
	long long series = 0;
	assert_int_equal(count_events("Fighting", &series), 1); /* one Event object */
	assert_int_equal(events_created(ev), 1);
	assert_true(events_patched(ev) <= 2); /* bounded API writes */
	it_sleep_ms(600);
	events_record(ev, owner, "Warning", "Fighting", "Reconcile", "someone keeps changing %s", "regarding");
	assert_int_equal(count_events("Fighting", &series), 1);
	assert_int_equal(series, 201); /* the count is carried by series */
	/* Distinct notes for one object: burst 3, then dropped. */
	for (int i = 0; i < 10; i++)
		events_record(ev, owner, "Normal", "Distinct", "Reconcile", "note %d", i);
	assert_int_equal(count_events("Distinct", &series), 2); /* the burst of 3 had one token spent on Fighting */
	assert_int_equal(events_dropped(ev), 8);
	events_free(ev);
	json_decref(owner);
	json_decref(cm);
}

static const kube_resource WIDGETS = { "it.memshack.io", "v1", "widgets", "Widget", true };

static void test_status_with_conditions(void **state)
{
	(void)state;
	kube_error err = KUBE_ERROR_INIT;
	/* The Widget CRD comes from the client suite when it ran first; make sure it is here. */
	const char *crd_text =
		"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		"\"metadata\":{\"name\":\"widgets.it.memshack.io\"},"
		"\"spec\":{\"group\":\"it.memshack.io\",\"scope\":\"Namespaced\","
		"\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":\"Widget\"},"
		"\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"subresources\":{\"status\":{}},"
		"\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";
	json_t *crd = json_loads(crd_text, 0, NULL);
	char *crd_path = it_path(&KUBE_RES_CRDS, NULL, "widgets.it.memshack.io", NULL);
	if (kube_apply(admin, crd_path, crd, "memshack-test", true, NULL, &err))
		fail_msg("applying the Widget CRD: %s", kube_strerror(&err));
	kube_error_release(&err);
	json_t *w = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i}}", "apiVersion", "it.memshack.io/v1", "kind", "Widget",
			      "metadata", "name", "status-w", "namespace", ns, "spec", "size", 1);
	json_t *got = NULL;
	int rc = -1;
	for (int i = 0; i < 100 && rc; i++) {
		rc = apply_object(admin, "memshack", &WIDGETS, w, &got, &err);
		if (rc) {
			kube_error_release(&err);
			it_sleep_ms(100);
		}
	}
	assert_int_equal(rc, 0);
	json_t *conds = json_array();
	conditions_set(conds, "Ready", "False", "Creating", "creating", 1, "2026-11-21T00:00:00Z");
	json_t *status = json_pack("{s:i, s:O}", "observedGeneration", 1, "conditions", conds);
	assert_int_equal(apply_status(admin, "memshack", &WIDGETS, ns, "status-w", status, &err), 0);
	char *one = it_path(&WIDGETS, ns, "status-w", NULL);
	json_t *after = NULL;
	assert_int_equal(kube_get(admin, one, &after, &err), 0);
	json_t *c = conditions_find(json_object_get(json_object_get(after, "status"), "conditions"), "Ready");
	assert_string_equal(it_str(c, "reason", NULL), "Creating");
	/* Re-applying the same status changes nothing. */
	const char *rv = it_str(after, "metadata", "resourceVersion", NULL);
	char rv_copy[32];
	snprintf(rv_copy, sizeof rv_copy, "%s", rv);
	assert_int_equal(apply_status(admin, "memshack", &WIDGETS, ns, "status-w", status, &err), 0);
	json_decref(after);
	assert_int_equal(kube_get(admin, one, &after, &err), 0);
	assert_string_equal(it_str(after, "metadata", "resourceVersion", NULL), rv_copy);
	json_decref(after);
	json_decref(status);
	json_decref(conds);
	json_decref(got);
	json_decref(w);
	json_decref(crd);
	free(crd_path);
	free(one);
}

static void test_prune_owned(void **state)
{
	(void)state;
	kube_error err = KUBE_ERROR_INIT;
	json_t *owner = NULL, *other = NULL;
	json_t *o1 = make_cm("owner", NULL), *o2 = make_cm("other-owner", NULL);
	assert_int_equal(apply_object(admin, "memshack", &KUBE_RES_CONFIGMAPS, o1, &owner, &err), 0);
	assert_int_equal(apply_object(admin, "memshack", &KUBE_RES_CONFIGMAPS, o2, &other, &err), 0);
	const char *names[] = { "child-a", "child-b", "child-c" };
	for (int i = 0; i < 3; i++) {
		json_t *c = make_cm(names[i], owner);
		assert_int_equal(apply_object(admin, "memshack", &KUBE_RES_CONFIGMAPS, c, NULL, &err), 0);
		json_decref(c);
	}
	json_t *foreign = make_cm("child-foreign", other);
	assert_int_equal(apply_object(admin, "memshack", &KUBE_RES_CONFIGMAPS, foreign, NULL, &err), 0);
	char *coll = it_path(&KUBE_RES_CONFIGMAPS, ns, NULL, NULL);
	json_t *list = NULL;
	kube_list_options lo = { .label_selector = "it=runtime" };
	assert_int_equal(kube_list(admin, coll, &lo, &list, &err), 0);
	const char *keep[] = { "child-a", NULL };
	int n = apply_prune_owned(admin, &KUBE_RES_CONFIGMAPS, json_object_get(list, "items"),
				  it_str(owner, "metadata", "uid", NULL), keep, &err);
	assert_int_equal(n, 2);
	json_decref(list);
	assert_int_equal(kube_list(admin, coll, &lo, &list, &err), 0);
	/* child-a (kept), child-foreign (another owner), the owners themselves. */
	size_t i;
	json_t *o;
	int found = 0;
	json_array_foreach (json_object_get(list, "items"), i, o) {
		const char *name = it_str(o, "metadata", "name", NULL);
		assert_true(strcmp(name, "child-b") && strcmp(name, "child-c"));
		found += !strcmp(name, "child-a") || !strcmp(name, "child-foreign");
	}
	assert_int_equal(found, 2);
	/* Pruning again from the stale list: already gone counts as done, nothing fails. */
	json_t *stale = json_pack("[o]", make_cm("child-b", owner));
	json_object_set_new(json_object_get(json_array_get(stale, 0), "metadata"), "uid", json_string("0000-gone"));
	assert_int_equal(apply_prune_owned(admin, &KUBE_RES_CONFIGMAPS, stale, it_str(owner, "metadata", "uid", NULL),
					   keep, &err),
			 0);
	json_decref(stale);
	json_decref(list);
	json_decref(foreign);
	json_decref(owner);
	json_decref(other);
	json_decref(o1);
	json_decref(o2);
	free(coll);
}

int main(void)
{
	if (!getenv("KUBECONFIG")) {
		fprintf(stderr, "run through ctest (testenv fixture)\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_aggregated),
		cmocka_unit_test(test_status_with_conditions),
		cmocka_unit_test(test_prune_owned),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
