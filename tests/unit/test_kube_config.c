#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/kube_config.h"
#include "kube/kube_credential.h"

#define KC_DIR TEST_DATA_DIR "/kubeconfig"

static kube_config *load_ctx(const char *file, const char *context)
{
	kube_config_options o = { .kubeconfig = file, .context = context };
	kube_config *cfg = NULL;
	kube_error err = KUBE_ERROR_INIT;
	if (kube_config_load(&o, &cfg, &err)) {
		print_message("error: %s\n", kube_strerror(&err));
		kube_error_release(&err);
		fail();
	}
	return cfg;
}

static void test_token_context(void **state)
{
	(void)state;
	kube_config *cfg = load_ctx(KC_DIR "/full.yaml", NULL);
	assert_string_equal(cfg->server, "https://127.0.0.1:6443"); /* trailing slash dropped */
	assert_string_equal(cfg->tls_server_name, "kubernetes.default.svc");
	assert_non_null(strstr((char *)cfg->ca.data, "MIIBfake"));
	assert_string_equal(cfg->token, "abc.def");
	assert_string_equal(cfg->namespace, "team-a");
	assert_string_equal(cfg->context, "dev");
	assert_false(cfg->insecure_skip_tls_verify);
	assert_null(cfg->exec);
	kube_config_free(cfg);
}

static void test_cert_files_relative(void **state)
{
	(void)state;
	kube_config *cfg = load_ctx(KC_DIR "/full.yaml", "certs");
	assert_string_equal(cfg->server, "https://[::1]:6443");
	assert_non_null(strstr((char *)cfg->ca.data, "MIIBfake"));
	assert_non_null(strstr((char *)cfg->client_cert.data, "MIIBclient"));
	assert_non_null(strstr((char *)cfg->client_key.data, "PRIVATE KEY"));
	assert_string_equal(cfg->namespace, "default");
	kube_config_free(cfg);
}

static void test_token_file_and_insecure(void **state)
{
	(void)state;
	kube_config *cfg = load_ctx(KC_DIR "/full.yaml", "tokenfile");
	assert_true(cfg->insecure_skip_tls_verify);
	assert_string_equal(cfg->token_file, KC_DIR "/token");
	kube_credential *cred;
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_credential_new(cfg, &cred, &err), 0);
	assert_true(kube_credential_refreshable(cred));
	kube_auth a = { 0 };
	assert_int_equal(kube_credential_get(cred, &a, &err), 0);
	assert_string_equal(a.token, "file-token-123"); /* newline trimmed */
	kube_auth_release(&a);
	kube_credential_free(cred);
	kube_config_free(cfg);
}

static void test_exec(void **state)
{
	(void)state;
	kube_config *cfg = load_ctx(KC_DIR "/full.yaml", "exec");
	assert_non_null(cfg->exec);
	assert_string_equal(cfg->exec->api_version, "client.authentication.k8s.io/v1");
	assert_string_equal(cfg->exec->command, KC_DIR "/./bin/get-token");
	assert_int_equal(cfg->exec->n_args, 2);
	assert_string_equal(cfg->exec->args[1], "dev");
	assert_int_equal(cfg->exec->n_env, 1);
	assert_string_equal(cfg->exec->env[0], "FOO=bar");
	assert_true(cfg->exec->provide_cluster_info);
	kube_config_free(cfg);
}

static void test_anonymous(void **state)
{
	(void)state;
	kube_config *cfg = load_ctx(KC_DIR "/full.yaml", "anonymous");
	assert_null(cfg->token);
	assert_null(cfg->client_cert.data);
	assert_string_equal(cfg->server, "http://localhost:8080");
	kube_config_free(cfg);
}

/* Each malformed kubeconfig gives one line naming the problem. */
static void expect_error(const char *yaml, const char *context, const char *needle)
{
	kube_config *cfg = NULL;
	kube_error err = KUBE_ERROR_INIT;
	int rc = kube_config_parse(yaml, strlen(yaml), "test.yaml", KC_DIR, context, &cfg, &err);
	if (rc == 0) {
		kube_config_free(cfg);
		print_message("expected an error containing '%s'\n", needle);
		fail();
	}
	assert_int_equal(err.kind, KUBE_ERR_CONFIG);
	const char *msg = kube_strerror(&err);
	if (!strstr(msg, needle) || strchr(msg, '\n')) {
		print_message("error '%s' lacks '%s'\n", msg, needle);
		fail();
	}
	kube_error_release(&err);
}

#define CL(extra) "clusters:\n- name: c\n  cluster:\n    server: https://h:1\n" extra
#define CTX "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"

static void test_malformed(void **state)
{
	(void)state;
	expect_error(CL("") CTX "users: [{name: u, user: {}}]\n", "missing", "context 'missing' not found");
	expect_error(CL("") "contexts: [{name: x, context: {cluster: c}}]\n", NULL, "no current-context is set");
	expect_error(CL("") "contexts: [{name: x, context: {cluster: nope}}]\ncurrent-context: x\n", NULL,
		     "refers to cluster 'nope', which is not defined");
	expect_error(CL("") CTX, NULL, "refers to user 'u', which is not defined");
	expect_error("clusters:\n- name: c\n  cluster: {}\n" CTX "users: [{name: u, user: {}}]\n", NULL,
		     "cluster 'c' has no server");
	expect_error("clusters:\n- name: c\n  cluster: {server: 'h:1'}\n" CTX "users: [{name: u, user: {}}]\n", NULL,
		     "must start with https://");
	expect_error(CL("    certificate-authority-data: '***notbase64***'\n") CTX "users: [{name: u, user: {}}]\n",
		     NULL, "cluster 'c': certificate-authority-data is not valid base64");
	expect_error(CL("    certificate-authority-data: aGVsbG8=\n") CTX "users: [{name: u, user: {}}]\n", NULL,
		     "certificate-authority-data does not hold PEM data");
	expect_error(CL("    certificate-authority: notpem.txt\n") CTX "users: [{name: u, user: {}}]\n", NULL,
		     "does not hold PEM data");
	expect_error(CL("    certificate-authority: /nonexistent/ca.pem\n") CTX "users: [{name: u, user: {}}]\n", NULL,
		     "cannot open '/nonexistent/ca.pem'");
	expect_error(CL("    insecure-skip-tls-verify: true\n    certificate-authority: ca.pem\n") CTX
		     "users: [{name: u, user: {}}]\n",
		     NULL, "cannot both be set");
	expect_error(CL("    insecure-skip-tls-verify: 'yes'\n") CTX "users: [{name: u, user: {}}]\n", NULL,
		     "insecure-skip-tls-verify must be true or false");
	expect_error(CL("") CTX "users: [{name: u, user: {client-certificate-data: '%%%'}}]\n", NULL,
		     "user 'u': client-certificate-data is not valid base64");
	expect_error(CL("") CTX "users: [{name: u, user: {client-certificate: client.crt}}]\n", NULL,
		     "user 'u' has a client certificate but no client key");
	expect_error(CL("") CTX "users: [{name: u, user: {token: 5}}]\n", NULL, "user 'u': token must be a string");
	expect_error(
		CL("") CTX
		"users: [{name: u, user: {exec: {command: x, apiVersion: client.authentication.k8s.io/v1alpha1}}}]\n",
		NULL, "is not supported");
	expect_error(CL("") CTX "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1}}}]\n",
		     NULL, "exec has no command");
	expect_error(CL("") CTX "users: [{name: u, user: {username: a, password: b}}]\n", NULL, "basic authentication");
	expect_error("clusters: 5\n", NULL, "clusters must be a list");
	expect_error("clusters:\n- cluster: {server: https://h}\n", NULL, "clusters[0] has no name");
	expect_error("clusters: [\n", NULL, "invalid YAML: line");
	expect_error("- a\n- b\n", NULL, "expected a mapping");
}

static char tmpdir[64];

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup_tmp(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/memshack-test-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	(void)state;
	const char *names[] = { "a.yaml", "b.yaml", "token", "ca.crt", "namespace" };
	for (size_t i = 0; i < 5; i++) {
		char path[256];
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
	return 0;
}

static void test_kubeconfig_list_merge(void **state)
{
	(void)state;
	write_file(tmpdir, "a.yaml",
		   "current-context: first\n"
		   "contexts: [{name: first, context: {cluster: shared, user: ua}}]\n"
		   "clusters: [{name: shared, cluster: {server: 'https://from-a:1'}}]\n"
		   "users: [{name: ua, user: {token: ta}}]\n");
	write_file(tmpdir, "b.yaml",
		   "current-context: second\n"
		   "contexts: [{name: second, context: {cluster: shared, user: ub, namespace: nb}}]\n"
		   "clusters: [{name: shared, cluster: {server: 'https://from-b:1'}}]\n"
		   "users: [{name: ub, user: {token: tb}}]\n");
	char list[512];
	snprintf(list, sizeof list, "%s/missing.yaml:%s/a.yaml:%s/b.yaml", tmpdir, tmpdir, tmpdir);
	kube_config_options o = { .kubeconfig_env = list };
	kube_config *cfg = NULL;
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_config_load(&o, &cfg, &err), 0);
	assert_string_equal(cfg->context, "first");           /* first file to set current-context wins */
	assert_string_equal(cfg->server, "https://from-a:1"); /* first file to define 'shared' wins */
	assert_string_equal(cfg->token, "ta");
	kube_config_free(cfg);
	o.context = "second"; /* defined only in b, and uses a's 'shared' cluster */
	assert_int_equal(kube_config_load(&o, &cfg, &err), 0);
	assert_string_equal(cfg->server, "https://from-a:1");
	assert_string_equal(cfg->token, "tb");
	assert_string_equal(cfg->namespace, "nb");
	kube_config_free(cfg);

	kube_config_options none = { .kubeconfig_env = "/nonexistent/a:/nonexistent/b" };
	assert_int_equal(kube_config_load(&none, &cfg, &err), -1);
	assert_non_null(strstr(kube_strerror(&err), "names no existing file"));
	kube_error_release(&err);

	/* An explicit --kubeconfig must exist, and beats KUBECONFIG. */
	kube_config_options expl = { .kubeconfig = "/nonexistent/kubeconfig", .kubeconfig_env = list };
	assert_int_equal(kube_config_load(&expl, &cfg, &err), -1);
	assert_non_null(strstr(kube_strerror(&err), "cannot open '/nonexistent/kubeconfig'"));
	kube_error_release(&err);
}

static void test_in_cluster(void **state)
{
	(void)state;
	write_file(tmpdir, "token", "sa-token\n");
	write_file(tmpdir, "ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
	write_file(tmpdir, "namespace", "memshack-system");
	kube_config_options o = {
		.service_host = "fd00::1", .service_port = "443", .sa_dir = tmpdir, .home = "/nonexistent"
	};
	kube_config *cfg = NULL;
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_config_load(&o, &cfg, &err), 0);
	assert_true(cfg->in_cluster);
	assert_string_equal(cfg->server, "https://[fd00::1]:443");
	assert_string_equal(cfg->namespace, "memshack-system");
	assert_non_null(strstr(cfg->token_file, "/token"));
	assert_non_null(cfg->ca.data);
	kube_config_free(cfg);

	kube_config_options none = { .home = "/nonexistent" };
	assert_int_equal(kube_config_load(&none, &cfg, &err), -1);
	assert_non_null(strstr(kube_strerror(&err), "no configuration"));
	kube_error_release(&err);

	kube_config_options nosa = { .service_host = "10.0.0.1", .service_port = "443", .sa_dir = "/nonexistent" };
	assert_int_equal(kube_config_load(&nosa, &cfg, &err), -1);
	assert_non_null(strstr(kube_strerror(&err), "cannot read the service-account token"));
	kube_error_release(&err);
}

static void test_exec_credential_parse(void **state)
{
	(void)state;
	const char *v1 = "client.authentication.k8s.io/v1";
	kube_auth a = { 0 };
	long long exp = -1;
	kube_error err = KUBE_ERROR_INIT;
	const char *ok = "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
			 "\"status\":{\"token\":\"tok\",\"expirationTimestamp\":\"1970-01-01T00:01:00Z\"}}";
	assert_int_equal(kube_exec_credential_parse(ok, strlen(ok), v1, &a, &exp, &err), 0);
	assert_string_equal(a.token, "tok");
	assert_int_equal(exp, 60LL * 1000000);
	kube_auth_release(&a);
	const char *cert = "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
			   "\"status\":{\"clientCertificateData\":\"C\",\"clientKeyData\":\"K\"}}";
	assert_int_equal(kube_exec_credential_parse(cert, strlen(cert), v1, &a, &exp, &err), 0);
	assert_string_equal((char *)a.cert.data, "C");
	assert_int_equal(exp, 0);
	kube_auth_release(&a);
	const char *bad[] = {
		"not json",
		"{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}",
		"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"Other\",\"status\":{\"token\":\"t\"}}",
		"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\"}",
		"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{}}",
		"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"clientKeyData\":\"K\"}}",
		"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(kube_exec_credential_parse(bad[i], strlen(bad[i]), v1, &a, &exp, &err), -1);
		assert_int_equal(err.kind, KUBE_ERR_AUTH);
		kube_error_release(&err);
	}
}

/* The exec plugin really runs: argv (no shell), env and KUBERNETES_EXEC_INFO, caching, failures. */
static void test_exec_plugin_runs(void **state)
{
	(void)state;
	char script[256];
	snprintf(script, sizeof script, "%s/plugin.sh", tmpdir);
	FILE *f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f,
		"#!/bin/sh\n"
		"echo run >> %s/runs\n"
		"[ \"$1\" = 'arg with space;$(x)' ] || { echo \"bad argv: $1\" >&2; exit 3; }\n"
		"[ \"$FOO\" = bar ] || { echo 'no env' >&2; exit 4; }\n"
		"case \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) ;; *) echo 'no exec info' >&2; exit 5;; esac\n"
		"printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		"\"status\":{\"token\":\"exec-token\"}}'\n",
		tmpdir);
	fclose(f);
	chmod(script, 0755);
	char *args[] = { "arg with space;$(x)" };
	char *env[] = { "FOO=bar" };
	kube_exec_config x = { "client.authentication.k8s.io/v1", script, args, 1, env, 1, false };
	kube_config cfg = { .server = "https://h:1", .exec = &x };
	kube_credential *cred;
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_credential_new(&cfg, &cred, &err), 0);
	kube_auth a = { 0 };
	assert_int_equal(kube_credential_get(cred, &a, &err), 0);
	assert_string_equal(a.token, "exec-token");
	kube_auth_release(&a);
	assert_int_equal(kube_credential_get(cred, &a, &err), 0); /* cached: no second run */
	kube_auth_release(&a);
	kube_credential_invalidate(cred);
	assert_int_equal(kube_credential_get(cred, &a, &err), 0); /* after a 401: runs again */
	kube_auth_release(&a);
	kube_credential_free(cred);
	char runs[256];
	snprintf(runs, sizeof runs, "%s/runs", tmpdir);
	kube_blob b = { 0 };
	assert_int_equal(kube_config_read_file(runs, 1024, &b, &err), 0);
	assert_string_equal((char *)b.data, "run\nrun\n");
	free(b.data);

	char *bad_args[] = { "wrong" };
	x.args = bad_args;
	assert_int_equal(kube_credential_new(&cfg, &cred, &err), 0);
	assert_int_equal(kube_credential_get(cred, &a, &err), -1);
	assert_non_null(strstr(kube_strerror(&err), "exited with status 3: bad argv: wrong"));
	kube_error_release(&err);
	kube_credential_free(cred);

	x.command = "/nonexistent/plugin";
	assert_int_equal(kube_credential_new(&cfg, &cred, &err), 0);
	assert_int_equal(kube_credential_get(cred, &a, &err), -1);
	assert_non_null(strstr(kube_strerror(&err), "/nonexistent/plugin"));
	kube_error_release(&err);
	kube_credential_free(cred);
	unlink(script);
	unlink(runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_context),
		cmocka_unit_test(test_cert_files_relative),
		cmocka_unit_test(test_token_file_and_insecure),
		cmocka_unit_test(test_exec),
		cmocka_unit_test(test_anonymous),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test_setup_teardown(test_kubeconfig_list_merge, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_in_cluster, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_exec_credential_parse),
		cmocka_unit_test_setup_teardown(test_exec_plugin_runs, setup_tmp, teardown_tmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
