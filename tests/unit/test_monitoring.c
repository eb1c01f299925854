/*
 * spec.monitoring and spec.networkPolicy (core/monitoring.h) as the objects
 * built from them mean: every selector matches the pods it should and no
 * others, every port it names is a port of those pods, and what is off adds
 * nothing. Also what the parser refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "core/monitoring.h"
#include "core/proxy.h"
#include "util/yaml_json.h"

static const gateway_env ENV = { .cluster_domain = "cluster.local",
				 .exporter_image = "registry.example/memshack-operator:1.0",
				 .operator_namespace = "memshack-system" };

static const char *const WATCHED =
	"apiVersion: memshack.io/v1alpha1\n"
	"kind: Memshack\n"
	"metadata: {name: watched, namespace: shop, uid: 0a1b2c3d-0000-4000-8000-000000000001}\n"
	"spec:\n"
	"  numShards: 3\n"
	"  numReplicas: 2\n"
	"  mcrouterPort: 5000\n"
	"  monitoring:\n"
	"    exporter: {enabled: true, port: 9200}\n"
	"    serviceMonitor: {enabled: true, labels: {release: prometheus}}\n"
	"  networkPolicy:\n"
	"    enabled: true\n"
	"    clientSelector: {matchLabels: {app: checkout}}\n";

static json_t *load(const char *yaml)
{
	char err[256];
	json_t *doc = yaml_json_load(yaml, strlen(yaml), err, sizeof err);
	if (!doc)
		fail_msg("%s", err);
	return doc;
}

/* Builds the objects of a Memshack given as YAML; NULL (with err) when the spec is refused. */
static json_t *build(const char *yaml, char *err, size_t errlen)
{
	json_t *doc = load(yaml);
	memshack_spec *s = NULL;
	memshack_desired d;
	json_t *objects = NULL;
	if (!memshack_spec_parse(doc, &s, err, errlen)) {
		assert_int_equal(memshack_desired_build(s, &ENV, &d, err, errlen), 0);
		assert_int_equal(json_array_size(d.objects), memshack_desired_count(s));
		objects = json_incref(d.objects);
		memshack_desired_release(&d);
	}
	memshack_spec_free(s);
	json_decref(doc);
	return objects;
}

static json_t *find(json_t *objects, const char *kind, const char *name)
{
	size_t i;
	json_t *o;
	json_array_foreach (objects, i, o) {
		json_t *meta = json_object_get(o, "metadata");
		if (!strcmp(json_string_value(json_object_get(o, "kind")), kind) &&
		    (!name || !strcmp(json_string_value(json_object_get(meta, "name")), name)))
			return o;
	}
	return NULL;
}

/* Whether every label of matchLabels `sel` is on `labels` (an empty selector matches everything). */
static bool matches(json_t *sel, json_t *labels)
{
	const char *k;
	json_t *v;
	json_object_foreach (sel, k, v) {
		const char *have = json_string_value(json_object_get(labels, k));
		if (!have || strcmp(have, json_string_value(v)))
			return false;
	}
	return true;
}

static json_t *template_labels(json_t *workload)
{
	return json_object_get(
		json_object_get(json_object_get(json_object_get(workload, "spec"), "template"), "metadata"), "labels");
}

static json_t *containers(json_t *workload)
{
	return json_object_get(json_object_get(json_object_get(json_object_get(workload, "spec"), "template"), "spec"),
			       "containers");
}

/* The container port named `name` of the workload's pods: its number, or -1. */
static int container_port(json_t *workload, const char *name)
{
	size_t i, j;
	json_t *c, *p;
	json_array_foreach (containers(workload), i, c)
		json_array_foreach (json_object_get(c, "ports"), j, p)
			if (!strcmp(json_string_value(json_object_get(p, "name")), name))
				return (int)json_integer_value(json_object_get(p, "containerPort"));
	return -1;
}

static json_t *container(json_t *workload, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach (containers(workload), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "name")), name))
			return c;
	return NULL;
}

static json_t *ingress_rule(json_t *np, size_t i)
{
	return json_array_get(json_object_get(json_object_get(np, "spec"), "ingress"), i);
}

static int rule_port(json_t *rule)
{
	return (int)json_integer_value(json_object_get(json_array_get(json_object_get(rule, "ports"), 0), "port"));
}

/* Each NetworkPolicy selects exactly its pods and lets in, on their ports, exactly the peers it should. */
static void test_network_policies_select_their_pods(void **state)
{
	(void)state;
	char err[256];
	json_t *objs = build(WATCHED, err, sizeof err);
	assert_non_null(objs);
	json_t *pool0 = find(objs, "StatefulSet", "watched-memshack-pool-0"),
	       *pool1 = find(objs, "StatefulSet", "watched-memshack-pool-1"),
	       *gw = find(objs, "Deployment", "watched-memshack");
	json_t *np_mc = find(objs, "NetworkPolicy", "watched-memshack-memcached"),
	       *np_gw = find(objs, "NetworkPolicy", "watched-memshack");
	assert_non_null(pool0), assert_non_null(pool1), assert_non_null(gw);
	assert_non_null(np_mc), assert_non_null(np_gw);
	json_t *mc_sel = json_object_get(json_object_get(json_object_get(np_mc, "spec"), "podSelector"), "matchLabels");
	json_t *gw_sel = json_object_get(json_object_get(json_object_get(np_gw, "spec"), "podSelector"), "matchLabels");
	/* The memcached policy covers both pools' pods and not the gateways; the gateway one the reverse. */
	assert_true(matches(mc_sel, template_labels(pool0)) && matches(mc_sel, template_labels(pool1)));
	assert_false(matches(mc_sel, template_labels(gw)));
	assert_true(matches(gw_sel, template_labels(gw)));
	assert_false(matches(gw_sel, template_labels(pool0)) || matches(gw_sel, template_labels(pool1)));
	/* Memcached takes 11211 from its own gateways only (not from its own pools, not from anyone else). */
	json_t *from = json_object_get(ingress_rule(np_mc, 0), "from");
	assert_int_equal(json_array_size(from), 1);
	json_t *peer = json_object_get(json_object_get(json_array_get(from, 0), "podSelector"), "matchLabels");
	assert_null(json_object_get(json_array_get(from, 0), "namespaceSelector"));
	assert_true(matches(peer, template_labels(gw)));
	assert_false(matches(peer, template_labels(pool0)));
	assert_string_equal(json_string_value(json_object_get(peer, MEMSHACK_LABEL)), "watched");
	assert_int_equal(rule_port(ingress_rule(np_mc, 0)), container_port(pool0, "memcached"));
	/* Gateways take the mcrouter port from the clients and the operator's namespace. */
	from = json_object_get(ingress_rule(np_gw, 0), "from");
	assert_int_equal(json_array_size(from), 2);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(json_array_get(from, 0), "podSelector"), "matchLabels"),
			"app")),
		"checkout");
	assert_null(json_object_get(json_array_get(from, 0), "namespaceSelector")); /* this namespace only */
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(json_array_get(from, 1), "namespaceSelector"), "matchLabels"),
			"kubernetes.io/metadata.name")),
		"memshack-system");
	assert_int_equal(rule_port(ingress_rule(np_gw, 0)), container_port(gw, "mcrouter"));
	/* The metrics port, on both, from every namespace (no metricsNamespaceSelector given). */
	assert_int_equal(rule_port(ingress_rule(np_mc, 1)), container_port(pool0, MONITORING_PORT_NAME));
	assert_int_equal(rule_port(ingress_rule(np_gw, 1)), container_port(gw, MONITORING_PORT_NAME));
	assert_int_equal(rule_port(ingress_rule(np_gw, 1)), 9200);
	assert_int_equal(
		json_object_size(json_object_get(json_array_get(json_object_get(ingress_rule(np_gw, 1), "from"), 0),
						 "namespaceSelector")),
		0);
	assert_null(ingress_rule(np_gw, 2));
	json_decref(objs);
}

/* The exporters: named metrics port, loopback scrape, restricted, no readiness probe; Services and ServiceMonitor agree. */
static void test_exporters_and_service_monitor(void **state)
{
	(void)state;
	char err[256];
	json_t *objs = build(WATCHED, err, sizeof err);
	assert_non_null(objs);
	json_t *pool = find(objs, "StatefulSet", "watched-memshack-pool-1"), *gw = find(objs, "Deployment", NULL);
	json_t *me = container(pool, MONITORING_CONTAINER), *mx = container(gw, MONITORING_CONTAINER);
	assert_non_null(me), assert_non_null(mx);
	assert_string_equal(json_string_value(json_object_get(me, "image")), MONITORING_EXPORTER_IMAGE);
	assert_string_equal(json_string_value(json_array_get(json_object_get(me, "args"), 0)),
			    "--memcached.address=127.0.0.1:11211");
	assert_string_equal(json_string_value(json_array_get(json_object_get(me, "args"), 1)),
			    "--web.listen-address=:9200");
	assert_string_equal(json_string_value(json_object_get(mx, "image")), ENV.exporter_image);
	assert_string_equal(json_string_value(json_array_get(json_object_get(mx, "args"), 0)), "mcrouter-exporter");
	assert_string_equal(json_string_value(json_array_get(json_object_get(mx, "args"), 2)), "127.0.0.1:5000");
	assert_string_equal(json_string_value(json_array_get(json_object_get(mx, "args"), 4)), ":9200");
	json_t *side[] = { me, mx };
	for (int i = 0; i < 2; i++) {
		/* A pod's readiness is its data container's: the exporter has no probe of its own. */
		assert_null(json_object_get(side[i], "readinessProbe"));
		assert_false(json_is_true(
			json_object_get(json_object_get(side[i], "securityContext"), "allowPrivilegeEscalation")));
		assert_true(json_is_true(
			json_object_get(json_object_get(side[i], "securityContext"), "readOnlyRootFilesystem")));
	}
	/* The data containers keep their probes. */
	assert_non_null(json_object_get(container(pool, "memcached"), "readinessProbe"));
	assert_non_null(json_object_get(container(gw, "mcrouter"), "readinessProbe"));
	/* The ServiceMonitor selects both Services, each with a metrics port aimed at the pods' named port. */
	json_t *sm = find(objs, "ServiceMonitor", "watched-memshack");
	assert_non_null(sm);
	json_t *sel = json_object_get(json_object_get(json_object_get(sm, "spec"), "selector"), "matchLabels");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(sm, "metadata"), "labels"), "release")),
			    "prometheus");
	int services = 0;
	size_t i, j;
	json_t *o, *p;
	json_array_foreach (objs, i, o) {
		if (strcmp(json_string_value(json_object_get(o, "kind")), "Service"))
			continue;
		assert_true(matches(sel, json_object_get(json_object_get(o, "metadata"), "labels")));
		services++;
		bool has_metrics = false;
		json_array_foreach (json_object_get(json_object_get(o, "spec"), "ports"), j, p)
			if (!strcmp(json_string_value(json_object_get(p, "name")), MONITORING_PORT_NAME))
				has_metrics = json_integer_value(json_object_get(p, "port")) == 9200 &&
					      !strcmp(json_string_value(json_object_get(p, "targetPort")),
						      MONITORING_PORT_NAME);
		assert_true(has_metrics);
	}
	assert_int_equal(services, 2);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(json_object_get(sm, "spec"), "endpoints"), 0), "port")),
		MONITORING_PORT_NAME);
	json_decref(objs);
}

/* Everything off (the default): no sidecar, no metrics port, no policy, no ServiceMonitor. */
static void test_off_adds_nothing(void **state)
{
	(void)state;
	char err[256];
	json_t *objs = build("apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: plain}\n"
			     "spec: {numShards: 2, numReplicas: 2, monitoring: {serviceMonitor: {interval: 1m}}}\n",
			     err, sizeof err);
	assert_non_null(objs);
	assert_int_equal(json_array_size(objs), 2 + 6);
	assert_null(find(objs, "NetworkPolicy", NULL));
	assert_null(find(objs, "ServiceMonitor", NULL));
	assert_null(container(find(objs, "StatefulSet", NULL), MONITORING_CONTAINER));
	assert_null(container(find(objs, "Deployment", NULL), MONITORING_CONTAINER));
	assert_int_equal(container_port(find(objs, "Deployment", NULL), MONITORING_PORT_NAME), -1);
	json_decref(objs);
}

/* What the parser refuses, each with the field named. */
static void test_refused(void **state)
{
	(void)state;
	static const struct {
		const char *spec, *error;
	} rows[] = {
		{ "{monitoring: {serviceMonitor: {enabled: true}}}",
		  "spec.monitoring.serviceMonitor.enabled: needs spec.monitoring.exporter.enabled" },
		{ "{monitoring: {exporter: {enabled: true, port: 11211}}}",
		  "spec.monitoring.exporter.port: 11211 is taken" },
		{ "{mcrouterPort: 9150, monitoring: {exporter: {enabled: true}}}",
		  "spec.monitoring.exporter.port: 9150 is taken" },
		{ "{monitoring: {exporter: {port: 80}}}",
		  "spec.monitoring.exporter.port: must be between 1024 and 65535" },
		{ "{monitoring: {exporter: {enabled: yes-please}}}",
		  "spec.monitoring.exporter.enabled: must be true or false" },
		{ "{monitoring: {exporter: {image: 'bad image'}}}",
		  "spec.monitoring.exporter.image: must be a container image" },
		{ "{monitoring: {exporter: {colour: red}}}", "spec.monitoring.exporter: unknown field 'colour'" },
		{ "{monitoring: {serviceMonitor: {interval: soon}}}",
		  "spec.monitoring.serviceMonitor.interval: must be a duration" },
		{ "{monitoring: {serviceMonitor: {labels: {'bad key!': x}}}}",
		  "spec.monitoring.serviceMonitor.labels: 'bad key!' is not a label key" },
		{ "{networkPolicy: {clientSelector: {matchExpressions: [{key: app, operator: Near}]}}}",
		  "spec.networkPolicy.clientSelector.matchExpressions[0].operator: must be In, NotIn, Exists or DoesNotExist" },
		{ "{networkPolicy: {clientSelector: {matchExpressions: [{key: app, operator: In}]}}}",
		  "spec.networkPolicy.clientSelector.matchExpressions[0].values: In and NotIn need 1 to 64 values" },
		{ "{networkPolicy: {clientNamespaceSelector: {matchLabels: {team: 'a b'}}}}",
		  "spec.networkPolicy.clientNamespaceSelector.matchLabels.team: must be a label value" },
		{ "{networkPolicy: {metricsNamespaceSelector: []}}",
		  "spec.networkPolicy.metricsNamespaceSelector: must be an object" },
		{ "{networkPolicy: {enabled: true, allow: all}}", "spec.networkPolicy: unknown field 'allow'" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		char yaml[512], err[256] = "";
		snprintf(yaml, sizeof yaml,
			 "apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: x}\nspec: %s\n",
			 rows[i].spec);
		json_t *objs = build(yaml, err, sizeof err);
		if (objs || strncmp(err, rows[i].error, strlen(rows[i].error)))
			fail_msg("%s: got '%s'", rows[i].spec, objs ? "accepted" : err);
	}
}

/* The MemcachedProxy's gateway half: its policy selects its pods, its ServiceMonitor its Service. */
static void test_proxy_gateway_half(void **state)
{
	(void)state;
	const char *yaml = "apiVersion: memshack.io/v1alpha1\nkind: MemcachedProxy\n"
			   "metadata: {name: legacy, namespace: shop, uid: u-1}\n"
			   "spec: {serviceName: legacy, servicePort: 11211, port: 5000,\n"
			   "  monitoring: {exporter: {enabled: true}, serviceMonitor: {enabled: true}},\n"
			   "  networkPolicy: {enabled: true, clientNamespaceSelector: {matchLabels: {team: shop}}}}\n";
	json_t *doc = load(yaml);
	char err[256];
	proxy_spec *p = NULL;
	assert_int_equal(proxy_spec_parse(doc, &p, err, sizeof err), 0);
	json_t *servers = json_pack("[s]", "192.0.2.1:11211");
	proxy_desired d;
	assert_int_equal(proxy_desired_build(p, servers, &ENV, &d, err, sizeof err), 0);
	assert_int_equal(json_array_size(d.objects), proxy_desired_count(p));
	json_t *dep = find(d.objects, "Deployment", NULL), *svc = find(d.objects, "Service", NULL),
	       *np = find(d.objects, "NetworkPolicy", NULL), *sm = find(d.objects, "ServiceMonitor", NULL);
	assert_non_null(dep), assert_non_null(svc), assert_non_null(np), assert_non_null(sm);
	assert_true(matches(json_object_get(json_object_get(json_object_get(np, "spec"), "podSelector"), "matchLabels"),
			    template_labels(dep)));
	assert_int_equal(rule_port(ingress_rule(np, 0)), container_port(dep, "mcrouter"));
	assert_int_equal(rule_port(ingress_rule(np, 1)), container_port(dep, MONITORING_PORT_NAME));
	json_t *peer = json_array_get(json_object_get(ingress_rule(np, 0), "from"), 0);
	assert_int_equal(json_object_size(json_object_get(peer, "podSelector")), 0); /* every pod of those namespaces */
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(peer, "namespaceSelector"), "matchLabels"), "team")),
		"shop");
	assert_true(matches(json_object_get(json_object_get(json_object_get(sm, "spec"), "selector"), "matchLabels"),
			    json_object_get(json_object_get(svc, "metadata"), "labels")));
	assert_string_equal(json_string_value(json_object_get(container(dep, MONITORING_CONTAINER), "image")),
			    ENV.exporter_image);
	proxy_desired_release(&d);
	/* A proxy has no memcached of its own: no exporter image to choose. */
	json_t *bad = load("apiVersion: memshack.io/v1alpha1\nkind: MemcachedProxy\nmetadata: {name: x}\n"
			   "spec: {serviceName: s, servicePort: 1, monitoring: {exporter: {image: a/b:c}}}\n");
	proxy_spec *q = NULL;
	assert_int_equal(proxy_spec_parse(bad, &q, err, sizeof err), -1);
	assert_string_equal(err, "spec.monitoring.exporter: unknown field 'image'");
	json_decref(bad);
	json_decref(servers);
	proxy_spec_free(p);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_network_policies_select_their_pods),
		cmocka_unit_test(test_exporters_and_service_monitor),
		cmocka_unit_test(test_off_adds_nothing),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_proxy_gateway_half),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
