#include "core/monitoring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gateway.h"
#include "core/memshack_spec.h"
#include "util/conditions.h"

void monitoring_release(monitoring_spec *m)
{
	free(m->exporter_image);
	free(m->interval);
	json_decref(m->resources);
	json_decref(m->service_monitor_labels);
	json_decref(m->client_selector);
	json_decref(m->client_namespace_selector);
	json_decref(m->metrics_namespace_selector);
	memset(m, 0, sizeof *m);
}

/* An optional object at key of parent: NULL when absent or null; -1 (err) when not an object. */
static int section(json_t *parent, const char *key, const char *path, const char *const *known, json_t **out, char *err,
		   size_t errlen)
{
	json_t *v = json_object_get(parent, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return spec_fail(err, errlen, "%s: must be an object", path);
	*out = v;
	return spec_check_keys(v, path, known, err, errlen);
}

static int read_bool(json_t *obj, const char *key, const char *path, bool *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return spec_fail(err, errlen, "%s: must be true or false", path);
	*out = json_is_true(v);
	return 0;
}

/* A map of label keys to label values (labels, matchLabels); at most 32. */
static int check_label_map(json_t *v, const char *path, char *err, size_t errlen)
{
	if (!json_is_object(v) || json_object_size(v) > 32)
		return spec_fail(err, errlen, "%s: must be a map of at most 32 labels", path);
	const char *k;
	json_t *x;
	json_object_foreach (v, k, x) {
		if (!spec_label_key_valid(k))
			return spec_fail(err, errlen, "%s: '%.60s' is not a label key", path, k);
		if (!json_is_string(x) || !spec_label_value_valid(json_string_value(x), json_string_length(x), true))
			return spec_fail(err, errlen, "%s.%.60s: must be a label value", path, k);
	}
	return 0;
}

static int check_expression(json_t *e, const char *path, char *err, size_t errlen)
{
	static const char *const keys[] = { "key", "operator", "values", NULL };
	if (!json_is_object(e))
		return spec_fail(err, errlen, "%s: must be an object", path);
	if (spec_check_keys(e, path, keys, err, errlen))
		return -1;
	const char *key = json_string_value(json_object_get(e, "key"));
	const char *op = json_string_value(json_object_get(e, "operator"));
	json_t *values = json_object_get(e, "values");
	if (!key || !spec_label_key_valid(key))
		return spec_fail(err, errlen, "%s.key: must be a label key", path);
	bool set_op = op && (!strcmp(op, "In") || !strcmp(op, "NotIn"));
	if (!op || (!set_op && strcmp(op, "Exists") && strcmp(op, "DoesNotExist")))
		return spec_fail(err, errlen, "%s.operator: must be In, NotIn, Exists or DoesNotExist", path);
	size_t n = json_is_array(values) ? json_array_size(values) : 0;
	if (values && !json_is_null(values) && !json_is_array(values))
		return spec_fail(err, errlen, "%s.values: must be a list", path);
	if (set_op ? n == 0 || n > 64 : n != 0)
		return spec_fail(err, errlen, "%s.values: %s", path,
				 set_op ? "In and NotIn need 1 to 64 values" : "Exists and DoesNotExist take none");
	size_t i;
	json_t *x;
	json_array_foreach (values, i, x)
		if (!json_is_string(x) || !spec_label_value_valid(json_string_value(x), json_string_length(x), true))
			return spec_fail(err, errlen, "%s.values[%zu]: must be a label value", path, i);
	return 0;
}

/* A metav1.LabelSelector {matchLabels, matchExpressions}: a copy into *out, or NULL when absent. */
static int read_selector(json_t *parent, const char *key, const char *path, json_t **out, char *err, size_t errlen)
{
	static const char *const keys[] = { "matchLabels", "matchExpressions", NULL };
	json_t *v;
	if (section(parent, key, path, keys, &v, err, errlen))
		return -1;
	if (!v)
		return 0;
	char sub[160];
	json_t *ml = json_object_get(v, "matchLabels"), *me = json_object_get(v, "matchExpressions");
	snprintf(sub, sizeof sub, "%s.matchLabels", path);
	if (ml && !json_is_null(ml) && check_label_map(ml, sub, err, errlen))
		return -1;
	if (me && !json_is_null(me) && (!json_is_array(me) || json_array_size(me) > 32))
		return spec_fail(err, errlen, "%s.matchExpressions: must be a list of at most 32", path);
	size_t i;
	json_t *e;
	json_array_foreach (me, i, e) {
		snprintf(sub, sizeof sub, "%s.matchExpressions[%zu]", path, i);
		if (check_expression(e, sub, err, errlen))
			return -1;
	}
	if (!(*out = json_deep_copy(v)))
		return spec_fail(err, errlen, "out of memory");
	return 0;
}

/* A Prometheus duration: one or more <digits><unit>, units ms, s, m, h. */
static bool duration_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 16)
		return false;
	while (*s) {
		size_t d = strspn(s, "0123456789");
		if (!d)
			return false;
		s += d;
		if (!strncmp(s, "ms", 2))
			s += 2;
		else if (*s == 's' || *s == 'm' || *s == 'h')
			s++;
		else
			return false;
	}
	return true;
}

static int read_exporter(json_t *mon, bool memcached, const int *reserved, monitoring_spec *out, char *err,
			 size_t errlen)
{
	static const char *const mc_keys[] = { "enabled", "image", "port", "resources", NULL };
	static const char *const gw_keys[] = { "enabled", "port", "resources", NULL };
	json_t *exp;
	if (section(mon, "exporter", "spec.monitoring.exporter", memcached ? mc_keys : gw_keys, &exp, err, errlen) ||
	    read_bool(exp, "enabled", "spec.monitoring.exporter.enabled", &out->exporter, err, errlen))
		return -1;
	json_t *image = json_object_get(exp, "image"), *port = json_object_get(exp, "port");
	if (memcached) {
		if (image && !json_is_null(image) &&
		    (!json_is_string(image) || !spec_image_valid(json_string_value(image))))
			return spec_fail(err, errlen,
					 "spec.monitoring.exporter.image: must be a container image reference");
		const char *im = json_is_string(image) ? json_string_value(image) : MONITORING_EXPORTER_IMAGE;
		if (!(out->exporter_image = strdup(im)))
			return spec_fail(err, errlen, "out of memory");
	}
	out->port = MONITORING_PORT;
	if (port && !json_is_null(port)) {
		if (!json_is_integer(port) || json_integer_value(port) < 1024 || json_integer_value(port) > 65535)
			return spec_fail(err, errlen, "spec.monitoring.exporter.port: must be between 1024 and 65535");
		out->port = (int)json_integer_value(port);
	}
	for (size_t i = 0; reserved && reserved[i]; i++)
		if (out->port == reserved[i])
			return spec_fail(err, errlen,
					 "spec.monitoring.exporter.port: %d is taken by the pod's own container",
					 out->port);
	json_t *r = json_object_get(exp, "resources");
	if (spec_check_resources(r, "spec.monitoring.exporter.resources", err, errlen))
		return -1;
	if (json_is_object(r) && !(out->resources = json_deep_copy(r)))
		return spec_fail(err, errlen, "out of memory");
	return 0;
}

static int read_service_monitor(json_t *mon, monitoring_spec *out, char *err, size_t errlen)
{
	static const char *const keys[] = { "enabled", "interval", "labels", NULL };
	json_t *sm;
	if (section(mon, "serviceMonitor", "spec.monitoring.serviceMonitor", keys, &sm, err, errlen) ||
	    read_bool(sm, "enabled", "spec.monitoring.serviceMonitor.enabled", &out->service_monitor, err, errlen))
		return -1;
	json_t *iv = json_object_get(sm, "interval"), *labels = json_object_get(sm, "labels");
	if (iv && !json_is_null(iv) && (!json_is_string(iv) || !duration_valid(json_string_value(iv))))
		return spec_fail(err, errlen,
				 "spec.monitoring.serviceMonitor.interval: must be a duration such as 30s or 1m");
	if (!(out->interval = strdup(json_is_string(iv) ? json_string_value(iv) : MONITORING_INTERVAL)))
		return spec_fail(err, errlen, "out of memory");
	if (labels && !json_is_null(labels)) {
		if (check_label_map(labels, "spec.monitoring.serviceMonitor.labels", err, errlen))
			return -1;
		if (!(out->service_monitor_labels = json_deep_copy(labels)))
			return spec_fail(err, errlen, "out of memory");
	}
	if (out->service_monitor && !out->exporter)
		return spec_fail(err, errlen,
				 "spec.monitoring.serviceMonitor.enabled: needs spec.monitoring.exporter.enabled "
				 "(the ServiceMonitor scrapes the exporters)");
	return 0;
}

int monitoring_parse(json_t *spec, bool memcached, const int *reserved_ports, monitoring_spec *out, char *err,
		     size_t errlen)
{
	static const char *const mon_keys[] = { "exporter", "serviceMonitor", NULL };
	static const char *const np_keys[] = { "enabled", "clientSelector", "clientNamespaceSelector",
					       "metricsNamespaceSelector", NULL };
	memset(out, 0, sizeof *out);
	json_t *mon, *np;
	if (section(spec, "monitoring", "spec.monitoring", mon_keys, &mon, err, errlen) ||
	    read_exporter(mon, memcached, reserved_ports, out, err, errlen) ||
	    read_service_monitor(mon, out, err, errlen) ||
	    section(spec, "networkPolicy", "spec.networkPolicy", np_keys, &np, err, errlen) ||
	    read_bool(np, "enabled", "spec.networkPolicy.enabled", &out->network_policy, err, errlen) ||
	    read_selector(np, "clientSelector", "spec.networkPolicy.clientSelector", &out->client_selector, err,
			  errlen) ||
	    read_selector(np, "clientNamespaceSelector", "spec.networkPolicy.clientNamespaceSelector",
			  &out->client_namespace_selector, err, errlen) ||
	    read_selector(np, "metricsNamespaceSelector", "spec.networkPolicy.metricsNamespaceSelector",
			  &out->metrics_namespace_selector, err, errlen))
		return -1;
	return 0;
}

void monitoring_set_condition(json_t *conds, const monitoring_spec *m, monitoring_sm_state state, long long generation,
			      const char *now)
{
	if (!m->service_monitor)
		conditions_remove(conds, "ServiceMonitorReady");
	else if (state == MONITORING_SM_APPLIED)
		conditions_set(conds, "ServiceMonitorReady", "True", "Applied",
			       "the ServiceMonitor selects the exporters' metrics ports", generation, now);
	else if (state == MONITORING_SM_NO_CRD)
		conditions_set(conds, "ServiceMonitorReady", "False", "CRDNotInstalled",
			       "monitoring.coreos.com/v1 ServiceMonitor is not served by the API server: install "
			       "prometheus-operator's CRDs; the ServiceMonitor is created when they appear",
			       generation, now);
}

/* --- schema ------------------------------------------------------------------------------ */

static json_t *selector_schema(const char *description)
{
	return json_pack(
		"{s:s, s:s, s:s, s:{s:{s:s, s:{s:s}}, s:{s:s, s:i, s:{s:s, s:[s, s], s:{s:{s:s}, s:{s:s, s:[s, s, s, s]},"
		" s:{s:s, s:{s:s}}}}}}}",
		"type", "object", "description", description, "x-kubernetes-map-type", "atomic", "properties",
		"matchLabels", "type", "object", "additionalProperties", "type", "string", "matchExpressions", "type",
		"array", "maxItems", 32, "items", "type", "object", "required", "key", "operator", "properties", "key",
		"type", "string", "operator", "type", "string", "enum", "In", "NotIn", "Exists", "DoesNotExist",
		"values", "type", "array", "items", "type", "string");
}

static json_t *exporter_schema(bool memcached)
{
	json_t *props = json_pack(
		"{s:{s:s, s:b, s:s}, s:{s:s, s:s, s:i, s:i, s:i, s:s}}", "enabled", "type", "boolean", "default", 0,
		"description",
		memcached ? "Run a Prometheus exporter beside every memcached (prom/memcached-exporter) and every "
			    "mcrouter (memshack mcrouter-exporter), each on a container port named metrics. Enabling "
			    "it rolls the pods."
			  : "Run memshack mcrouter-exporter beside every mcrouter, on a container port named metrics. "
			    "Enabling it rolls the pods.",
		"port", "type", "integer", "format", "int32", "minimum", 1024, "maximum", 65535, "default",
		MONITORING_PORT, "description", "The exporters' metrics port (in every pod and on the Services).");
	json_t *res = json_pack(
		"{s:s, s:s, s:{s:{s:s, s:{s:[{s:s}, {s:s}], s:b}}, s:{s:s, s:{s:[{s:s}, {s:s}], s:b}}}}", "type",
		"object", "description", "Compute resources of each exporter container (default: 10m CPU, 16Mi-64Mi).",
		"properties", "limits", "type", "object", "additionalProperties", "anyOf", "type", "integer", "type",
		"string", "x-kubernetes-int-or-string", 1, "requests", "type", "object", "additionalProperties",
		"anyOf", "type", "integer", "type", "string", "x-kubernetes-int-or-string", 1);
	if (!props || json_object_set_new(props, "resources", res))
		goto fail;
	if (memcached &&
	    json_object_set_new(props, "image",
				json_pack("{s:s, s:s, s:s, s:i, s:i}", "type", "string", "default",
					  MONITORING_EXPORTER_IMAGE, "description", "Image of the memcached exporter.",
					  "minLength", 1, "maxLength", 512)))
		goto fail;
	return json_pack("{s:s, s:s, s:o}", "type", "object", "description", "Prometheus exporters as sidecars.",
			 "properties", props);
fail:
	json_decref(props);
	return NULL;
}

int monitoring_schema(json_t *props, bool memcached)
{
	json_t *sm = json_pack(
		"{s:s, s:s, s:{s:{s:s, s:b, s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:{s:s}}}}", "type", "object",
		"description",
		"A prometheus-operator ServiceMonitor for the exporters (needs exporter.enabled and the "
		"monitoring.coreos.com CRDs; until they exist the ServiceMonitorReady condition says so).",
		"properties", "enabled", "type", "boolean", "default", 0, "description", "Create the ServiceMonitor.",
		"interval", "type", "string", "default", MONITORING_INTERVAL, "description",
		"How often Prometheus scrapes, e.g. 30s or 1m.", "labels", "type", "object", "description",
		"Extra labels on the ServiceMonitor (for a Prometheus serviceMonitorSelector).", "additionalProperties",
		"type", "string");
	json_t *mon = json_pack("{s:s, s:s, s:{s:o, s:o}}", "type", "object", "description",
				"Metrics for Prometheus: exporter sidecars and a ServiceMonitor.", "properties",
				"exporter", exporter_schema(memcached), "serviceMonitor", sm);
	json_t *np = json_pack(
		"{s:s, s:s, s:{s:{s:s, s:b, s:s}, s:o, s:o, s:o}}", "type", "object", "description",
		memcached ? "Ingress NetworkPolicies: memcached pods take connections only from their gateways; "
			    "gateways only from the selected clients and the operator's namespace."
			  : "An Ingress NetworkPolicy: the gateways take connections only from the selected clients "
			    "and the operator's namespace.",
		"properties", "enabled", "type", "boolean", "default", 0, "description", "Create the NetworkPolicies.",
		"clientSelector",
		selector_schema("Client pods let in (default: every pod of the namespaces selected below)."),
		"clientNamespaceSelector",
		selector_schema("Namespaces of the client pods (default: this object's namespace only)."),
		"metricsNamespaceSelector",
		selector_schema("Namespaces let in on the metrics port (default: every namespace)."));
	if (!mon || !np) {
		json_decref(mon);
		json_decref(np);
		return -1;
	}
	return json_object_set_new(props, "monitoring", mon) || json_object_set_new(props, "networkPolicy", np) ? -1
														: 0;
}

/* --- objects ------------------------------------------------------------------------------ */

static json_t *exporter_resources(const monitoring_spec *m)
{
	if (m->resources)
		return json_deep_copy(m->resources);
	return json_pack("{s:{s:s, s:s}, s:{s:s}}", "requests", "cpu", "10m", "memory", "16Mi", "limits", "memory",
			 "64Mi");
}

/* The sidecar container: name, image, args (stolen), the metrics port, resources, the restricted securityContext. */
static json_t *sidecar(const monitoring_spec *m, const char *image, json_t *args)
{
	return json_pack("{s:s, s:s, s:o, s:[{s:s, s:i, s:s}], s:o, s:o}", "name", MONITORING_CONTAINER, "image", image,
			 "args", args, "ports", "name", MONITORING_PORT_NAME, "containerPort", m->port, "protocol",
			 "TCP", "resources", exporter_resources(m), "securityContext", gateway_container_security());
}

json_t *monitoring_memcached_exporter(const monitoring_spec *m, int memcached_port)
{
	char addr[64], listen[64];
	snprintf(addr, sizeof addr, "--memcached.address=127.0.0.1:%d", memcached_port);
	snprintf(listen, sizeof listen, "--web.listen-address=:%d", m->port);
	return sidecar(m, m->exporter_image ? m->exporter_image : MONITORING_EXPORTER_IMAGE,
		       json_pack("[s, s]", addr, listen));
}

json_t *monitoring_mcrouter_exporter(const monitoring_spec *m, const char *image, int mcrouter_port)
{
	char addr[64], listen[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", mcrouter_port);
	snprintf(listen, sizeof listen, ":%d", m->port);
	return sidecar(m, image,
		       json_pack("[s, s, s, s, s]", "mcrouter-exporter", "--mcrouter", addr, "--listen", listen));
}

int monitoring_gateway_exporter(const monitoring_spec *m, const char *image, int mcrouter_port, json_t **sidecar,
				json_t **port)
{
	*sidecar = *port = NULL;
	if (!m->exporter)
		return 0;
	*sidecar = monitoring_mcrouter_exporter(m, image ? image : GATEWAY_DEFAULT_EXPORTER_IMAGE, mcrouter_port);
	*port = monitoring_service_port(m);
	if (*sidecar && *port)
		return 0;
	json_decref(*sidecar);
	json_decref(*port);
	*sidecar = *port = NULL;
	return -1;
}

json_t *monitoring_service_port(const monitoring_spec *m)
{
	return json_pack("{s:s, s:i, s:s, s:s}", "name", MONITORING_PORT_NAME, "port", m->port, "targetPort",
			 MONITORING_PORT_NAME, "protocol", "TCP");
}

json_t *monitoring_service_monitor(const monitoring_spec *m, const char *name, const char *ns, json_t *base,
				   json_t *service_labels)
{
	json_t *meta = gateway_meta(name, ns, base);
	json_t *labels = json_object_get(meta, "labels");
	/* The user's labels first: ours (the memshack label the operator's cache selects by) win. */
	json_t *merged = m->service_monitor_labels ? json_deep_copy(m->service_monitor_labels) : json_object();
	if (!meta || !labels || !merged || json_object_update(merged, labels)) {
		json_decref(meta);
		json_decref(merged);
		return NULL;
	}
	if (json_object_set_new(meta, "labels", merged)) {
		json_decref(meta);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:o, s:{s:{s:O}, s:{s:[s]}, s:[{s:s, s:s, s:s, s:s}], s:[s, s, s]}}", "apiVersion",
			 "monitoring.coreos.com/v1", "kind", "ServiceMonitor", "metadata", meta, "spec", "selector",
			 "matchLabels", service_labels, "namespaceSelector", "matchNames", ns, "endpoints", "port",
			 MONITORING_PORT_NAME, "interval", m->interval ? m->interval : MONITORING_INTERVAL, "path",
			 "/metrics", "scheme", "http", "podTargetLabels", "memshack.io/memshack", "memshack.io/pool",
			 "app.kubernetes.io/component");
}

json_t *monitoring_network_policy(const monitoring_spec *m, const char *name, const char *ns, json_t *base,
				  json_t *pod_labels, int port, json_t *from)
{
	json_t *ingress = json_pack("[{s:O, s:[{s:s, s:i}]}]", "from", from, "ports", "protocol", "TCP", "port", port);
	if (ingress && m->exporter) {
		json_t *peer = m->metrics_namespace_selector
				       ? json_pack("[{s:O}]", "namespaceSelector", m->metrics_namespace_selector)
				       : json_pack("[{s:{}}]", "namespaceSelector");
		if (json_array_append_new(ingress, json_pack("{s:o, s:[{s:s, s:i}]}", "from", peer, "ports", "protocol",
							     "TCP", "port", m->port))) {
			json_decref(ingress);
			ingress = NULL;
		}
	}
	return json_pack("{s:s, s:s, s:o, s:{s:{s:O}, s:[s], s:o}}", "apiVersion", "networking.k8s.io/v1", "kind",
			 "NetworkPolicy", "metadata", gateway_meta(name, ns, base), "spec", "podSelector",
			 "matchLabels", pod_labels, "policyTypes", "Ingress", "ingress", ingress);
}

json_t *monitoring_gateway_peers(const monitoring_spec *m, const char *operator_namespace)
{
	json_t *client = m->client_selector ? json_pack("{s:O}", "podSelector", m->client_selector)
					    : json_pack("{s:{}}", "podSelector");
	if (client && m->client_namespace_selector &&
	    json_object_set(client, "namespaceSelector", m->client_namespace_selector)) {
		json_decref(client);
		client = NULL;
	}
	json_t *peers = json_pack("[o]", client);
	if (peers && operator_namespace && *operator_namespace &&
	    json_array_append_new(peers, json_pack("{s:{s:{s:s}}}", "namespaceSelector", "matchLabels",
						   "kubernetes.io/metadata.name", operator_namespace))) {
		json_decref(peers);
		return NULL;
	}
	return peers;
}
