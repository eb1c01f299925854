#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_path.h"

static void expect_path(const kube_resource *r, const char *ns, const char *name, const char *sub, const char *want)
{
	kube_error err = KUBE_ERROR_INIT;
	char *p = kube_path(r, ns, name, sub, &err);
	if (!p)
		print_message("error: %s\n", kube_strerror(&err));
	assert_non_null(p);
	assert_string_equal(p, want);
	free(p);
	kube_error_release(&err);
}

static void expect_invalid(const kube_resource *r, const char *ns, const char *name, const char *sub)
{
	kube_error err = KUBE_ERROR_INIT;
	assert_null(kube_path(r, ns, name, sub, &err));
	assert_int_equal(err.kind, KUBE_ERR_INVALID);
	kube_error_release(&err);
}

static void test_core_and_named(void **state)
{
	(void)state;
	expect_path(&KUBE_RES_PODS, "default", NULL, NULL, "/api/v1/namespaces/default/pods");
	expect_path(&KUBE_RES_PODS, "default", "p-1", NULL, "/api/v1/namespaces/default/pods/p-1");
	expect_path(&KUBE_RES_PODS, NULL, NULL, NULL, "/api/v1/pods");
	expect_path(&KUBE_RES_PODS, "", NULL, NULL, "/api/v1/pods");
	expect_path(&KUBE_RES_NAMESPACES, "ignored", "kube-system", NULL, "/api/v1/namespaces/kube-system");
	expect_path(&KUBE_RES_STATEFULSETS, "ns1", "web", "scale",
		    "/apis/apps/v1/namespaces/ns1/statefulsets/web/scale");
	expect_path(&KUBE_RES_CRDS, NULL, "memshacks.memshack.io", NULL,
		    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/memshacks.memshack.io");
	kube_resource ms = { "memshack.io", "v1alpha1", "memshacks", "Memshack", true };
	expect_path(&ms, "demo", "test", "status", "/apis/memshack.io/v1alpha1/namespaces/demo/memshacks/test/status");
	expect_path(&ms, NULL, NULL, NULL, "/apis/memshack.io/v1alpha1/memshacks");
}

static void test_rejects_hostile_names(void **state)
{
	(void)state;
	expect_invalid(&KUBE_RES_PODS, "default", "../secrets", NULL);
	expect_invalid(&KUBE_RES_PODS, "default", "..", NULL);
	expect_invalid(&KUBE_RES_PODS, "default", "", NULL);
	expect_invalid(&KUBE_RES_PODS, "default", "a?b", NULL);
	expect_invalid(&KUBE_RES_PODS, "default", "a%2Fb", NULL);
	expect_invalid(&KUBE_RES_PODS, "de/fault", "a", NULL);
	expect_invalid(&KUBE_RES_PODS, NULL, "a", NULL);           /* namespaced object, no namespace */
	expect_invalid(&KUBE_RES_PODS, "default", NULL, "status"); /* subresource without name */
	expect_invalid(&KUBE_RES_PODS, "default", "a", "st/atus");
	kube_resource bad = { "Apps", "v1", "x", "X", true };
	expect_invalid(&bad, "default", NULL, NULL);
	char long_name[300];
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	expect_invalid(&KUBE_RES_PODS, "default", long_name, NULL);
}

static void test_query(void **state)
{
	(void)state;
	const char *kv[] = { "labelSelector", "app=x,tier in (a,b)", "continue", NULL, "limit", "500", NULL };
	char *q = kube_path_query("/api/v1/pods", kv);
	assert_string_equal(q, "/api/v1/pods?labelSelector=app%3Dx%2Ctier%20in%20%28a%2Cb%29&limit=500");
	char *q2 = kube_path_query(q, (const char *[]){ "watch", "1", NULL });
	assert_string_equal(q2 + strlen(q), "&watch=1");
	free(q);
	free(q2);
	char *v = kube_api_version(&KUBE_RES_DEPLOYMENTS);
	assert_string_equal(v, "apps/v1");
	free(v);
	v = kube_api_version(&KUBE_RES_PODS);
	assert_string_equal(v, "v1");
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_and_named),
		cmocka_unit_test(test_rejects_hostile_names),
		cmocka_unit_test(test_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
