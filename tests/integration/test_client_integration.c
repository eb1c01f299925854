/*
 * The Kubernetes client against a real kube-apiserver (testenv, minimal profile).
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
#include <sys/stat.h>
#include <unistd.h>

#include "it_support.h"
#include "kube/kube_config.h"

static char ns_buf[128];
static const char *ns;
static kube_client *admin;

typedef struct counter {
	pthread_mutex_t mu;
	int requests;
	int by_method_get;
} counter;

static void count_request(void *ud, const char *method, long code, double seconds)
{
	(void)code;
	(void)seconds;
	counter *ct = ud;
	pthread_mutex_lock(&ct->mu);
	ct->requests++;
	if (!strcmp(method, "GET"))
		ct->by_method_get++;
	pthread_mutex_unlock(&ct->mu);
}

static int setup(void **state)
{
	(void)state;
	admin = it_client(NULL);
	ns = it_namespace_create(admin, "it-client", ns_buf, sizeof ns_buf);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	it_namespace_delete(admin, ns);
	kube_client_free(admin);
	return 0;
}

static json_t *configmap(const char *name, const char *value)
{
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
			 "name", name, "labels", "suite", "client", "data", "value", value);
}

static void test_create_get_delete(void **state)
{
	(void)state;
	kube_error err = KUBE_ERROR_INIT;
	char *coll = it_path(&KUBE_RES_CONFIGMAPS, ns, NULL, NULL);
	char *one = it_path(&KUBE_RES_CONFIGMAPS, ns, "cgd", NULL);
	json_t *cm = configmap("cgd", "v1"), *created = NULL, *got = NULL;
	assert_int_equal(kube_create(admin, coll, cm, &created, &err), 0);
	assert_non_null(it_str(created, "metadata", "uid", NULL));
	/* Creating it again: AlreadyExists, a 409 that is not a conflict. */
	assert_int_equal(kube_create(admin, coll, cm, NULL, &err), -1);
	assert_true(kube_error_is_already_exists(&err));
	kube_error_release(&err);
	assert_int_equal(kube_get(admin, one, &got, &err), 0);
	assert_string_equal(it_str(got, "data", "value", NULL), "v1");
	assert_string_equal(it_str(got, "metadata", "uid", NULL), it_str(created, "metadata", "uid", NULL));
	/*
	 * Foreground propagation reaches the server: with no garbage collector in
	 * the minimal profile the object stays, marked for deletion and held by
	 * the foregroundDeletion finalizer.
	 */
	json_t *marked = NULL;
	assert_int_equal(kube_delete(admin, one, "Foreground", &marked, &err), 0);
	assert_non_null(it_str(marked, "metadata", "deletionTimestamp", NULL));
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_object_get(marked, "metadata"), "finalizers"), 0)),
			    "foregroundDeletion");
	json_decref(marked);
	json_t *release = json_pack("{s:{s:n}}", "metadata", "finalizers");
	assert_int_equal(kube_patch(admin, one, KUBE_PATCH_MERGE, release, NULL, &err), 0);
	json_decref(release);
	json_decref(got);
	got = NULL;
	assert_int_equal(kube_get(admin, one, &got, &err), -1);
	assert_true(kube_error_is_not_found(&err));
	assert_non_null(strstr(kube_strerror(&err), "API error 404 NotFound"));
	assert_non_null(strstr(kube_strerror(&err), "\"cgd\" not found"));
	kube_error_release(&err);
	assert_int_equal(kube_delete(admin, one, NULL, NULL, &err), -1);
	assert_true(kube_error_is_not_found(&err));
	kube_error_release(&err);
	json_decref(cm);
	json_decref(created);
	free(coll);
	free(one);
}

/* kube_list_options.trim_item for test_list_paging: drops a ConfigMap's data, counts the calls. */
static void drop_data(void *ud, json_t *item)
{
	++*(int *)ud;
	json_object_del(item, "data");
}

static void test_list_paging(void **state)
{
	(void)state;
	kube_error err = KUBE_ERROR_INIT;
	char *coll = it_path(&KUBE_RES_CONFIGMAPS, ns, NULL, NULL);
	for (int i = 0; i < 25; i++) {
		char name[32];
		snprintf(name, sizeof name, "page-%02d", i);
		json_t *cm = configmap(name, "x");
		json_object_set_new(json_object_get(cm, "metadata"), "labels", json_pack("{s:s}", "suite", "paging"));
		assert_int_equal(kube_create(admin, coll, cm, NULL, &err), 0);
		json_decref(cm);
	}
	counter ct = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	kube_client_set_observer(admin, count_request, &ct);
	kube_list_options lo = { .label_selector = "suite=paging", .limit = 10 };
	json_t *list = NULL;
	assert_int_equal(kube_list(admin, coll, &lo, &list, &err), 0);
	kube_client_set_observer(admin, NULL, NULL);
	json_t *items = json_object_get(list, "items");
	assert_int_equal(json_array_size(items), 25);
	assert_int_equal(ct.by_method_get, 3); /* 10 + 10 + 5 */
	assert_non_null(it_str(list, "metadata", "resourceVersion", NULL));
	/* Every item once, in name order (etcd key order). */
	for (size_t i = 0; i < 25; i++) {
		char name[32];
		snprintf(name, sizeof name, "page-%02zu", i);
		assert_string_equal(it_str(json_array_get(items, i), "metadata", "name", NULL), name);
	}
	json_decref(list);
	/* trim_item sees every item of every page; what it deletes is gone from the list. */
	int trimmed = 0;
	kube_list_options trim = {
		.label_selector = "suite=paging", .limit = 10, .trim_item = drop_data, .trim_ud = &trimmed
	};
	assert_int_equal(kube_list(admin, coll, &trim, &list, &err), 0);
	assert_int_equal(trimmed, 25);
	items = json_object_get(list, "items");
	assert_int_equal(json_array_size(items), 25);
	for (size_t i = 0; i < 25; i++) {
		assert_null(json_object_get(json_array_get(items, i), "data"));
		assert_non_null(it_str(json_array_get(items, i), "metadata", "name", NULL));
	}
	json_decref(list);
	/* The selector is applied by the server. */
	kube_list_options none = { .label_selector = "suite=nothing-matches" };
	assert_int_equal(kube_list(admin, coll, &none, &list, &err), 0);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	/* All namespaces (namespace NULL). */
	char *all = it_path(&KUBE_RES_CONFIGMAPS, NULL, NULL, NULL);
	assert_int_equal(kube_list(admin, all, &lo, &list, &err), 0);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 25);
	json_decref(list);
	free(all);
	free(coll);
}

static void test_apply_idempotent(void **state)
{
	(void)state;
	kube_error err = KUBE_ERROR_INIT;
	char *one = it_path(&KUBE_RES_CONFIGMAPS, ns, "applied", NULL);
	json_t *cm = configmap("applied", "first"), *r1 = NULL, *r2 = NULL, *r3 = NULL;
	assert_int_equal(kube_apply(admin, one, cm, "memshack", true, &r1, &err), 0);
	assert_int_equal(kube_apply(admin, one, cm, "memshack", true, &r2, &err), 0);
	/* The second apply changed nothing: same resourceVersion. */
	assert_string_equal(it_str(r1, "metadata", "resourceVersion", NULL),
			    it_str(r2, "metadata", "resourceVersion", NULL));
	json_t *mf = json_object_get(json_object_get(r2, "metadata"), "managedFields");
	assert_string_equal(it_str(json_array_get(mf, 0), "manager", NULL), "memshack");
	/* A real change does bump it. */
	json_object_set_new(json_object_get(cm, "data"), "value", json_string("second"));
	assert_int_equal(kube_apply(admin, one, cm, "memshack", true, &r3, &err), 0);
	assert_string_not_equal(it_str(r2, "metadata", "resourceVersion", NULL),
				it_str(r3, "metadata", "resourceVersion", NULL));
	assert_string_equal(it_str(r3, "data", "value", NULL), "second");
	/* Another manager taking the same field without force: a conflict. */
	json_object_set_new(json_object_get(cm, "data"), "value", json_string("third"));
	assert_int_equal(kube_apply(admin, one, cm, "someone-else", false, NULL, &err), -1);
	assert_int_equal(err.http_code, 409);
	kube_error_release(&err);
	json_decref(cm);
	json_decref(r1);
	json_decref(r2);
	json_decref(r3);
	free(one);
}

static void test_update_conflict_and_patches(void **state)
{
	(void)state;
	kube_error err = KUBE_ERROR_INIT;
	char *coll = it_path(&KUBE_RES_CONFIGMAPS, ns, NULL, NULL);
	char *one = it_path(&KUBE_RES_CONFIGMAPS, ns, "updated", NULL);
	json_t *cm = configmap("updated", "a"), *created = NULL, *fresh = NULL, *patched = NULL;
	assert_int_equal(kube_create(admin, coll, cm, &created, &err), 0);
	json_t *stale = json_deep_copy(created);
	json_object_set_new(json_object_get(created, "data"), "value", json_string("b"));
	assert_int_equal(kube_replace(admin, one, created, &fresh, &err), 0);
	assert_string_equal(it_str(fresh, "data", "value", NULL), "b");
	/* Writing with the old resourceVersion: 409 Conflict. */
	json_object_set_new(json_object_get(stale, "data"), "value", json_string("c"));
	assert_int_equal(kube_replace(admin, one, stale, NULL, &err), -1);
	assert_true(kube_error_is_conflict(&err));
	assert_non_null(strstr(kube_strerror(&err), "the object has been modified"));
	kube_error_release(&err);
	/* Merge patch and JSON patch. */
	json_t *mp = json_pack("{s:{s:s}}", "data", "extra", "m");
	assert_int_equal(kube_patch(admin, one, KUBE_PATCH_MERGE, mp, &patched, &err), 0);
	assert_string_equal(it_str(patched, "data", "extra", NULL), "m");
	json_decref(patched);
	json_t *jp = json_pack("[{s:s, s:s, s:s}]", "op", "replace", "path", "/data/value", "value", "j");
	assert_int_equal(kube_patch(admin, one, KUBE_PATCH_JSON, jp, &patched, &err), 0);
	assert_string_equal(it_str(patched, "data", "value", NULL), "j");
	json_decref(patched);
	/* A JSON patch whose test fails is refused with a clear error. */
	json_t *bad = json_pack("[{s:s, s:s, s:s}]", "op", "test", "path", "/data/value", "value", "nope");
	assert_int_equal(kube_patch(admin, one, KUBE_PATCH_JSON, bad, NULL, &err), -1);
	assert_true(err.http_code == 422 || err.http_code == 400 || err.http_code == 500);
	kube_error_release(&err);
	json_decref(bad);
	json_decref(mp);
	json_decref(jp);
	json_decref(cm);
	json_decref(created);
	json_decref(stale);
	json_decref(fresh);
	free(coll);
	free(one);
}

static const kube_resource WIDGETS = { "it.memshack.io", "v1", "widgets", "Widget", true };

static void ensure_crd(void)
{
	kube_error err = KUBE_ERROR_INIT;
	const char *crd_text =
		"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		"\"metadata\":{\"name\":\"widgets.it.memshack.io\"},"
		"\"spec\":{\"group\":\"it.memshack.io\",\"scope\":\"Namespaced\","
		"\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":\"Widget\"},"
		"\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"subresources\":{\"status\":{}},"
		"\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{"
		"\"spec\":{\"type\":\"object\",\"properties\":{\"size\":{\"type\":\"integer\",\"minimum\":1}}},"
		"\"status\":{\"type\":\"object\",\"properties\":{\"ready\":{\"type\":\"integer\"}}}}}}}]}}";
	json_t *crd = json_loads(crd_text, 0, NULL);
	assert_non_null(crd);
	char *path = it_path(&KUBE_RES_CRDS, NULL, "widgets.it.memshack.io", NULL);
	assert_int_equal(kube_apply(admin, path, crd, "memshack-test", true, NULL, &err), 0);
	json_decref(crd);
	/* Wait for Established (bounded). */
	bool established = false;
	for (int i = 0; i < 100 && !established; i++) {
		json_t *got = NULL;
		assert_int_equal(kube_get(admin, path, &got, &err), 0);
		size_t k;
		json_t *c;
		json_array_foreach (json_object_get(json_object_get(got, "status"), "conditions"), k, c) {
			if (!strcmp(it_str(c, "type", NULL), "Established") &&
			    !strcmp(it_str(c, "status", NULL), "True"))
				established = true;
		}
		json_decref(got);
		if (!established)
			it_sleep_ms(100);
	}
	assert_true(established);
	free(path);
}

static void test_crd_status_subresource(void **state)
{
	(void)state;
	ensure_crd();
	kube_error err = KUBE_ERROR_INIT;
	char *coll = it_path(&WIDGETS, ns, NULL, NULL);
	char *one = it_path(&WIDGETS, ns, "w1", NULL);
	char *status = it_path(&WIDGETS, ns, "w1", "status");
	json_t *w = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "it.memshack.io/v1", "kind", "Widget",
			      "metadata", "name", "w1", "spec", "size", 3);
	json_t *created = NULL, *after = NULL, *got = NULL;
	/* The CRD's API appears shortly after Established; retry a NotFound briefly. */
	int rc = -1;
	for (int i = 0; i < 50 && rc; i++) {
		rc = kube_create(admin, coll, w, &created, &err);
		if (rc) {
			assert_true(kube_error_is_not_found(&err));
			kube_error_release(&err);
			it_sleep_ms(100);
		}
	}
	assert_int_equal(rc, 0);
	/* Status written through the main resource is ignored... */
	json_t *mp = json_pack("{s:{s:i}}", "status", "ready", 9);
	assert_int_equal(kube_patch(admin, one, KUBE_PATCH_MERGE, mp, &after, &err), 0);
	assert_null(json_object_get(after, "status"));
	json_decref(after);
	/* ...and accepted through /status, which leaves the spec alone. */
	json_t *sp = json_pack("{s:{s:i}, s:{s:i}}", "status", "ready", 2, "spec", "size", 100);
	assert_int_equal(kube_patch(admin, status, KUBE_PATCH_MERGE, sp, &after, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(after, "status"), "ready")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(after, "spec"), "size")), 3);
	/* The generation counts spec changes only. */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(after, "metadata"), "generation")), 1);
	/* Status by server-side apply too. */
	json_t *sa = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "it.memshack.io/v1", "kind", "Widget",
			       "metadata", "name", "w1", "status", "ready", 3);
	assert_int_equal(kube_apply(admin, status, sa, "memshack", true, NULL, &err), 0);
	assert_int_equal(kube_get(admin, one, &got, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(got, "status"), "ready")), 3);
	/* Schema validation errors come back with the field named. */
	json_t *bad = json_pack("{s:{s:i}}", "spec", "size", 0);
	assert_int_equal(kube_patch(admin, one, KUBE_PATCH_MERGE, bad, NULL, &err), -1);
	assert_int_equal(err.http_code, 422);
	assert_non_null(strstr(kube_strerror(&err), "spec.size"));
	kube_error_release(&err);
	/* Strategic merge patch is for built-in types only: refused on a CRD. */
	assert_int_equal(kube_patch(admin, one, KUBE_PATCH_STRATEGIC, mp, NULL, &err), -1);
	assert_int_equal(err.http_code, 415);
	kube_error_release(&err);
	assert_int_equal(kube_delete(admin, one, "Background", NULL, &err), 0);
	json_decref(bad);
	json_decref(sa);
	json_decref(sp);
	json_decref(mp);
	json_decref(w);
	json_decref(created);
	json_decref(after);
	json_decref(got);
	free(coll);
	free(one);
	free(status);
}

static const char *whoami(kube_client *c, kube_error *err, json_t **keep)
{
	char *path = it_path(&KUBE_RES_SELFSUBJECTREVIEWS, NULL, NULL, NULL);
	json_t *review = json_pack("{s:s, s:s}", "apiVersion", "authentication.k8s.io/v1", "kind", "SelfSubjectReview");
	*keep = NULL;
	int rc = kube_create(c, path, review, keep, err);
	json_decref(review);
	free(path);
	return rc ? NULL : it_str(*keep, "status", "userInfo", "username", NULL);
}

static void test_authentication(void **state)
{
	(void)state;
	kube_error err = KUBE_ERROR_INIT;
	json_t *keep = NULL;
	/* Bearer token (context admin) and client certificate (context admin-cert). */
	assert_string_equal(whoami(admin, &err, &keep), "memshack-admin");
	json_decref(keep);
	kube_client *cert = it_client("admin-cert");
	assert_string_equal(whoami(cert, &err, &keep), "memshack-admin");
	json_decref(keep);
	char *coll = it_path(&KUBE_RES_CONFIGMAPS, ns, NULL, NULL);
	json_t *list = NULL;
	assert_int_equal(kube_list(cert, coll, NULL, &list, &err), 0);
	json_decref(list);
	kube_client_free(cert);
	/* A user without RBAC grants is authenticated but forbidden. */
	kube_client *user = it_client("user");
	assert_string_equal(whoami(user, &err, &keep), "memshack-user");
	json_decref(keep);
	assert_int_equal(kube_list(user, coll, NULL, &list, &err), -1);
	assert_int_equal(err.http_code, 403);
	assert_non_null(strstr(kube_strerror(&err), "forbidden"));
	kube_error_release(&err);
	kube_client_free(user);
	free(coll);
}

/* Writes a kubeconfig beside the testenv one using tokenFile or exec. */
static char *write_variant_kubeconfig(const char *dir, const char *user_yaml)
{
	kube_config_options o = { 0 };
	kube_config_options_from_env(&o);
	kube_config *cfg = NULL;
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_config_load(&o, &cfg, &err), 0);
	char *path = malloc(512);
	snprintf(path, 512, "%s/kubeconfig", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
		"apiVersion: v1\nkind: Config\ncurrent-context: c\n"
		"clusters:\n- name: k\n  cluster:\n    server: %s\n    certificate-authority-data: |\n",
		cfg->server);
	/* Re-encode the CA we loaded (PEM) as base64 for the -data field. */
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	fputs("      ", f);
	for (size_t i = 0; i < cfg->ca.len; i += 3) {
		unsigned v = (unsigned)cfg->ca.data[i] << 16;
		if (i + 1 < cfg->ca.len)
			v |= (unsigned)cfg->ca.data[i + 1] << 8;
		if (i + 2 < cfg->ca.len)
			v |= cfg->ca.data[i + 2];
		fputc(tbl[(v >> 18) & 63], f);
		fputc(tbl[(v >> 12) & 63], f);
		fputc(i + 1 < cfg->ca.len ? tbl[(v >> 6) & 63] : '=', f);
		fputc(i + 2 < cfg->ca.len ? tbl[v & 63] : '=', f);
	}
	fprintf(f, "\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nusers:\n- name: u\n  user:\n%s",
		user_yaml);
	fclose(f);
	kube_config_free(cfg);
	return path;
}

static char *admin_token(void)
{
	const char *dir = getenv("MEMSHACK_TESTENV_DIR");
	assert_non_null(dir);
	char path[512];
	snprintf(path, sizeof path, "%s/admin.token", dir);
	kube_blob b = { 0 };
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_config_read_file(path, 4096, &b, &err), 0);
	return (char *)b.data;
}

static kube_client *client_for(const char *kubeconfig)
{
	kube_config_options o = { .kubeconfig = kubeconfig };
	kube_config *cfg = NULL;
	kube_client *c = NULL;
	kube_error err = KUBE_ERROR_INIT;
	if (kube_config_load(&o, &cfg, &err) || kube_client_new(cfg, NULL, &c, &err)) {
		print_message("%s\n", kube_strerror(&err));
		fail();
	}
	kube_config_free(cfg);
	return c;
}

static void write_text(const char *path, const char *text)
{
	char tmp[600];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
	assert_true(n > 0 && (size_t)n < sizeof tmp); /* a truncated name would write somewhere else */
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0); /* atomic, as the kubelet swaps projected tokens */
}

static void test_token_file_rotation(void **state)
{
	(void)state;
	char dir[] = "/tmp/memshack-it-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char token_path[600];
	snprintf(token_path, sizeof token_path, "%s/token", dir);
	write_text(token_path, "not-a-valid-token\n");
	char *kc = write_variant_kubeconfig(dir, "    tokenFile: token\n");
	kube_client *c = client_for(kc);
	kube_error err = KUBE_ERROR_INIT;
	json_t *keep = NULL;
	/* The file holds a bad token: 401, with a message that names the cause. */
	assert_null(whoami(c, &err, &keep));
	assert_true(kube_error_is_unauthorized(&err));
	assert_non_null(strstr(kube_strerror(&err), "rejected the credential"));
	kube_error_release(&err);
	/* Rotated: the next request gets 401 on the cached token, re-reads the file, succeeds. */
	char *tok = admin_token();
	write_text(token_path, tok);
	assert_string_equal(whoami(c, &err, &keep), "memshack-admin");
	json_decref(keep);
	kube_client_free(c);
	free(tok);
	unlink(token_path);
	unlink(kc);
	rmdir(dir);
	free(kc);
}

static void test_exec_plugin(void **state)
{
	(void)state;
	char dir[] = "/tmp/memshack-it-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char script[600], yaml[1024];
	snprintf(script, sizeof script, "%s/get-token", dir);
	char *tok = admin_token();
	FILE *f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f,
		"#!/bin/sh\n[ \"$MODE\" = it ] || exit 7\n"
		"printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
		"\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"2999-01-01T00:00:00Z\"}}'\n",
		tok);
	fclose(f);
	chmod(script, 0700);
	snprintf(yaml, sizeof yaml,
		 "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ./get-token\n"
		 "      env: [{name: MODE, value: it}]\n      interactiveMode: Never\n");
	char *kc = write_variant_kubeconfig(dir, yaml);
	kube_client *c = client_for(kc);
	kube_error err = KUBE_ERROR_INIT;
	json_t *keep = NULL;
	assert_string_equal(whoami(c, &err, &keep), "memshack-admin");
	json_decref(keep);
	kube_client_free(c);
	free(tok);
	unlink(script);
	unlink(kc);
	rmdir(dir);
	free(kc);
}

/* The PEM file dir/name as a string (new reference). */
static json_t *pem_string(const char *dir, const char *name)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	kube_blob b = { 0 };
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_config_read_file(path, 65536, &b, &err), 0);
	json_t *s = json_stringn((const char *)b.data, b.len);
	free(b.data);
	assert_non_null(s);
	return s;
}

/*
 * An exec plugin that hands out a client certificate (the testenv admin's):
 * the client presents it, per request (it may change), whichever way this
 * libcurl takes PEM (from memory, or from a memfd with the GnuTLS build).
 */
static void test_exec_plugin_client_cert(void **state)
{
	(void)state;
	const char *env = getenv("MEMSHACK_TESTENV_DIR");
	assert_non_null(env);
	char pki[512], dir[] = "/tmp/memshack-it-XXXXXX";
	snprintf(pki, sizeof pki, "%s/pki", env);
	assert_non_null(mkdtemp(dir));
	json_t *doc = json_pack("{s:s, s:s, s:{s:o, s:o}}", "apiVersion", "client.authentication.k8s.io/v1", "kind",
				"ExecCredential", "status", "clientCertificateData", pem_string(pki, "admin.crt"),
				"clientKeyData", pem_string(pki, "admin.key"));
	char *cred = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	assert_non_null(cred);
	char cred_path[600], script[600];
	snprintf(cred_path, sizeof cred_path, "%s/cred.json", dir);
	write_text(cred_path, cred);
	free(cred);
	snprintf(script, sizeof script, "%s/get-cert", dir);
	write_text(script, "#!/bin/sh\nexec cat \"$(dirname \"$0\")/cred.json\"\n");
	chmod(script, 0700);
	char *kc = write_variant_kubeconfig(dir, "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
						 "      command: ./get-cert\n      interactiveMode: Never\n");
	kube_client *c = client_for(kc);
	kube_error err = KUBE_ERROR_INIT;
	json_t *keep = NULL;
	/* Twice: the second request reuses the connection or makes a new one, with the same identity. */
	for (int i = 0; i < 2; i++) {
		assert_string_equal(whoami(c, &err, &keep), "memshack-admin");
		json_decref(keep);
		keep = NULL;
	}
	kube_client_free(c);
	unlink(script);
	unlink(cred_path);
	unlink(kc);
	rmdir(dir);
	free(kc);
}

typedef struct worker_arg {
	kube_client *c;
	const char *path;
	int ok;
} worker_arg;

static void *worker(void *p)
{
	worker_arg *a = p;
	for (int i = 0; i < 40; i++) {
		kube_error err = KUBE_ERROR_INIT;
		json_t *got = NULL;
		if (kube_get(a->c, a->path, &got, &err) == 0)
			a->ok++;
		json_decref(got);
		kube_error_release(&err);
	}
	return NULL;
}

static void test_concurrent_requests(void **state)
{
	(void)state;
	char *coll = it_path(&KUBE_RES_CONFIGMAPS, ns, NULL, NULL);
	pthread_t t[4];
	worker_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (worker_arg){ admin, coll, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].ok, 40);
	}
	free(coll);
}

int main(void)
{
	if (!getenv("KUBECONFIG")) {
		fprintf(stderr, "KUBECONFIG is not set: run through ctest (testenv fixture)\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_get_delete),       cmocka_unit_test(test_list_paging),
		cmocka_unit_test(test_apply_idempotent),        cmocka_unit_test(test_update_conflict_and_patches),
		cmocka_unit_test(test_crd_status_subresource),  cmocka_unit_test(test_authentication),
		cmocka_unit_test(test_token_file_rotation),     cmocka_unit_test(test_exec_plugin),
		cmocka_unit_test(test_exec_plugin_client_cert), cmocka_unit_test(test_concurrent_requests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
