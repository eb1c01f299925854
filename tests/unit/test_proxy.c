/* MemcachedProxy core: spec parsing and EndpointSlices -> servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/proxy.h"
#include "util/yaml_json.h"

static json_t *y(const char *text)
{
	char err[256];
	json_t *v = yaml_json_load(text, strlen(text), err, sizeof err);
	if (!v)
		print_message("yaml: %s\n", err);
	assert_non_null(v);
	return v;
}

static proxy_spec *spec(const char *port, const char *pool)
{
	char text[512];
	snprintf(text, sizeof text,
		 "apiVersion: memshack.io/v1alpha1\nkind: MemcachedProxy\nmetadata: {name: px, namespace: ns, uid: u}\n"
		 "spec: {serviceName: mc, servicePort: %s, pool: %s}\n",
		 port, pool);
	json_t *o = y(text);
	proxy_spec *p = NULL;
	char err[256];
	if (proxy_spec_parse(o, &p, err, sizeof err)) {
		print_message("parse: %s\n", err);
		fail();
	}
	json_decref(o);
	return p;
}

static const char *SERVICE =
	"metadata: {name: mc, namespace: ns}\n"
	"spec: {ports: [{name: memcache, port: 11211, targetPort: 11311}, {name: metrics, port: 9150}]}\n";

/* An endpoint: pod name, address, hostname (or ~), ready, terminating. */
static void ep(char *buf, size_t len, const char *pod, const char *addr, const char *host, int ready, int term)
{
	snprintf(
		buf + strlen(buf), len - strlen(buf),
		"  - {addresses: [\"%s\"], hostname: %s, targetRef: {kind: Pod, name: %s}, conditions: {ready: %s, terminating: %s}}\n",
		addr, host, pod, ready ? "true" : "false", term ? "true" : "false");
}

static json_t *slices_of(const char *const *docs, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, y(docs[i]));
	return a;
}

static void assert_servers(json_t *got, const char *const *want, size_t n)
{
	if (json_array_size(got) != n) {
		char *t = json_dumps(got, 0);
		print_message("got %s\n", t);
		free(t);
	}
	assert_int_equal(json_array_size(got), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(json_string_value(json_array_get(got, i)), want[i]);
}

static void test_statefulset_hostnames_natural_order(void **state)
{
	(void)state;
	char a[4096] = "addressType: IPv4\nports: [{name: memcache, port: 11311}]\nendpoints:\n";
	char b[4096] = "addressType: IPv4\nports: [{name: memcache, port: 11311}]\nendpoints:\n";
	ep(a, sizeof a, "mc-10", "10.0.0.10", "mc-10", 1, 0);
	ep(a, sizeof a, "mc-2", "10.0.0.2", "mc-2", 1, 0);
	ep(b, sizeof b, "mc-0", "10.0.0.1", "mc-0", 1, 0);
	ep(b, sizeof b, "mc-1", "10.0.0.5", "mc-1", 1, 0);
	ep(b, sizeof b, "mc-2", "10.0.0.2", "mc-2", 1, 0); /* the same endpoint in two slices */
	const char *docs[] = { a, b };
	json_t *slices = slices_of(docs, 2), *svc = y(SERVICE), *servers = NULL;
	proxy_spec *p = spec("11211", "Sharded");
	char why[256];
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_SERVERS_OK);
	const char *want[] = { "mc-0.mc.ns.svc.cluster.local:11311", "mc-1.mc.ns.svc.cluster.local:11311",
			       "mc-2.mc.ns.svc.cluster.local:11311", "mc-10.mc.ns.svc.cluster.local:11311" };
	assert_servers(servers, want, 4);
	json_decref(servers);
	json_decref(slices);
	json_decref(svc);
	proxy_spec_free(p);
}

static void test_ports_named_and_numbered(void **state)
{
	(void)state;
	char a[2048] =
		"addressType: IPv4\nports: [{name: memcache, port: 11311}, {name: metrics, port: 9150}]\nendpoints:\n";
	ep(a, sizeof a, "x", "10.1.0.1", "~", 1, 0);
	const char *docs[] = { a };
	json_t *slices = slices_of(docs, 1), *svc = y(SERVICE), *servers = NULL;
	char why[256];
	const char *by_number[] = { "10.1.0.1:11311" }, *metrics[] = { "10.1.0.1:9150" };
	proxy_spec *p = spec("11211", "Sharded");
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_SERVERS_OK);
	assert_servers(servers, by_number, 1);
	json_decref(servers);
	proxy_spec_free(p);
	p = spec("memcache", "Sharded");
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_SERVERS_OK);
	assert_servers(servers, by_number, 1);
	json_decref(servers);
	proxy_spec_free(p);
	p = spec("metrics", "Sharded");
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_SERVERS_OK);
	assert_servers(servers, metrics, 1);
	json_decref(servers);
	proxy_spec_free(p);
	p = spec("12345", "Sharded");
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_NO_PORT);
	assert_non_null(strstr(why, "has no port 12345"));
	proxy_spec_free(p);
	p = spec("nope", "Sharded");
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_NO_PORT);
	assert_int_equal(proxy_servers(p, NULL, slices, "cluster.local", &servers, why, sizeof why), PROXY_NO_SERVICE);
	assert_non_null(strstr(why, "does not exist"));
	proxy_spec_free(p);
	json_decref(slices);
	json_decref(svc);
}

static void test_dual_stack_and_ip_changes(void **state)
{
	(void)state;
	char v4[2048] = "addressType: IPv4\nports: [{name: memcache, port: 11311}]\nendpoints:\n";
	char v6[2048] = "addressType: IPv6\nports: [{name: memcache, port: 11311}]\nendpoints:\n";
	ep(v4, sizeof v4, "pod-b", "10.0.0.9", "~", 1, 0);
	ep(v4, sizeof v4, "pod-a", "10.0.0.7", "~", 1, 0);
	ep(v6, sizeof v6, "pod-a", "fd00::7", "~", 1, 0);
	ep(v6, sizeof v6, "pod-b", "fd00::9", "~", 1, 0);
	json_t *svc = y(SERVICE), *servers = NULL;
	char why[256];
	proxy_spec *p = spec("memcache", "Sharded");
	const char *both[] = { v4, v6 };
	json_t *slices = slices_of(both, 2);
	const char *want4[] = { "10.0.0.7:11311", "10.0.0.9:11311" };
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_SERVERS_OK);
	assert_servers(servers, want4, 2); /* IPv4 when both families exist; each pod once */
	json_decref(servers);
	json_decref(slices);
	const char *only6[] = { v6 };
	slices = slices_of(only6, 1);
	const char *want6[] = { "[fd00::7]:11311", "[fd00::9]:11311" };
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_SERVERS_OK);
	assert_servers(servers, want6, 2);
	json_decref(servers);
	json_decref(slices);
	/* pod-a restarts with an IP that sorts after pod-b's: the order (by pod) holds. */
	char moved[2048] = "addressType: IPv4\nports: [{name: memcache, port: 11311}]\nendpoints:\n";
	ep(moved, sizeof moved, "pod-b", "10.0.0.9", "~", 1, 0);
	ep(moved, sizeof moved, "pod-a", "10.0.0.99", "~", 1, 0);
	const char *m[] = { moved };
	slices = slices_of(m, 1);
	const char *want_moved[] = { "10.0.0.99:11311", "10.0.0.9:11311" };
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_SERVERS_OK);
	assert_servers(servers, want_moved, 2);
	json_decref(servers);
	json_decref(slices);
	json_decref(svc);
	proxy_spec_free(p);
}

static void test_not_ready_policy(void **state)
{
	(void)state;
	char s[2048] = "addressType: IPv4\nports: [{name: memcache, port: 11311}]\nendpoints:\n";
	ep(s, sizeof s, "mc-0", "10.0.0.1", "mc-0", 1, 0);
	ep(s, sizeof s, "mc-1", "10.0.0.2", "mc-1", 0, 0);                             /* restarting */
	ep(s, sizeof s, "mc-2", "10.0.0.3", "mc-2", 0, 1);                             /* going away */
	strcat(s, "  - {addresses: [\"1.2.3.4@evil\"], conditions: {ready: true}}\n"); /* never reaches the config */
	const char *docs[] = { s };
	json_t *slices = slices_of(docs, 1), *svc = y(SERVICE), *servers = NULL;
	char why[256];
	proxy_spec *p = spec("memcache", "Sharded");
	const char *sharded[] = { "mc-0.mc.ns.svc.cluster.local:11311", "mc-1.mc.ns.svc.cluster.local:11311" };
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_SERVERS_OK);
	assert_servers(servers, sharded, 2);
	json_decref(servers);
	proxy_spec_free(p);
	p = spec("memcache", "Replicated");
	const char *replicated[] = { "mc-0.mc.ns.svc.cluster.local:11311" };
	assert_int_equal(proxy_servers(p, svc, slices, "cluster.local", &servers, why, sizeof why), PROXY_SERVERS_OK);
	assert_servers(servers, replicated, 1);
	json_decref(servers);
	json_t *empty = json_array();
	assert_int_equal(proxy_servers(p, svc, empty, "cluster.local", &servers, why, sizeof why), PROXY_NO_ENDPOINTS);
	assert_int_equal(json_array_size(servers), 0);
	/* With no servers the config still loads: every request gets an error reply. */
	proxy_desired d;
	char err[128];
	assert_int_equal(proxy_desired_build(p, servers, &(gateway_env){ .cluster_domain = "cluster.local" }, &d, err,
					     sizeof err),
			 0);
	json_t *cfg = json_loads(d.config_text, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(cfg, "route"), "default_policy"), "type")),
			    "ErrorRoute");
	assert_int_equal(json_array_size(d.objects), 4);
	json_decref(cfg);
	proxy_desired_release(&d);
	json_decref(servers);
	json_decref(empty);
	json_decref(slices);
	json_decref(svc);
	proxy_spec_free(p);
}

static void test_spec_errors(void **state)
{
	(void)state;
	const char *bad[] = {
		"metadata: {name: p}\nspec: {servicePort: 11211}\n",
		"metadata: {name: p}\nspec: {serviceName: Bad_Name, servicePort: 11211}\n",
		"metadata: {name: p}\nspec: {serviceName: mc, servicePort: 0}\n",
		"metadata: {name: p}\nspec: {serviceName: mc, servicePort: 11211, pool: Mirrored}\n",
		"metadata: {name: p}\nspec: {serviceName: mc, servicePort: 11211, replicas: -1}\n",
		"metadata: {name: p}\nspec: {serviceName: mc, servicePort: 11211, extra: 1}\n",
		"metadata: {name: p}\nspec: {serviceName: mc, servicePort: [1]}\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *o = y(bad[i]);
		proxy_spec *p = NULL;
		char err[256];
		assert_int_equal(proxy_spec_parse(o, &p, err, sizeof err), -1);
		assert_non_null(strstr(err, "spec"));
		json_decref(o);
	}
}

/* Which status a proxy gets (proxy_status_build), table-driven: Ready/Degraded/Progressing and their reasons. */
static void test_status_decision(void **state)
{
	(void)state;
	proxy_spec *p = spec("memcache", "Sharded"); /* replicas default 1 */
	json_t *servers = y("[\"10.0.0.1:11211\"]");
	static const struct {
		proxy_servers_result pr;
		int ready;
		const char *apply_error;
		const char *ready_status, *reason, *degraded, *progressing;
	} rows[] = {
		{ PROXY_SERVERS_OK, 1, NULL, "True", "Ready", "False", "False" },
		{ PROXY_SERVERS_OK, 0, NULL, "False", "PodsNotReady", "False", "True" },
		{ PROXY_NO_SERVICE, 1, NULL, "False", "ServiceNotFound", "True", "False" },
		{ PROXY_NO_PORT, 1, NULL, "False", "PortNotFound", "True", "False" },
		{ PROXY_NO_ENDPOINTS, 0, NULL, "False", "NoEndpoints", "True", "True" },
		{ PROXY_SERVERS_OK, 1, "applying ConfigMap x: boom", "False", "ApplyFailed", "True", "False" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		json_t *st = proxy_status_build(p, rows[i].pr, "why", servers, rows[i].ready, rows[i].apply_error, NULL,
						"cluster.local", "0123456789abcdef0123456789abcdef",
						"2026-12-02T00:00:00Z", MONITORING_SM_UNKNOWN);
		assert_non_null(st);
		const char *want[][2] = { { "Ready", rows[i].ready_status },
					  { "Degraded", rows[i].degraded },
					  { "Progressing", rows[i].progressing } };
		for (size_t k = 0; k < 3; k++) {
			size_t j;
			json_t *c;
			const char *got = NULL, *reason = NULL;
			json_array_foreach (json_object_get(st, "conditions"), j, c) {
				if (!strcmp(json_string_value(json_object_get(c, "type")), want[k][0])) {
					got = json_string_value(json_object_get(c, "status"));
					reason = json_string_value(json_object_get(c, "reason"));
				}
			}
			if (!got || strcmp(got, want[k][1]) || (k == 0 && strcmp(reason, rows[i].reason)))
				fail_msg("row %zu: %s=%s (%s), want %s", i, want[k][0], got ? got : "-",
					 reason ? reason : "-", want[k][1]);
		}
		assert_string_equal(json_string_value(json_object_get(st, "endpoint")),
				    "px-proxy.ns.svc.cluster.local:11211");
		assert_int_equal(json_integer_value(json_object_get(st, "serverCount")), 1);
		json_decref(st);
	}
	json_decref(servers);
	proxy_spec_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statefulset_hostnames_natural_order),
		cmocka_unit_test(test_ports_named_and_numbered),
		cmocka_unit_test(test_dual_stack_and_ip_changes),
		cmocka_unit_test(test_not_ready_policy),
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_status_decision),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
