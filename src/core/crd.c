#include "core/crd.h"

#include <string.h>

#include "core/memshack_spec.h"
#include "core/monitoring.h"
#include "core/proxy.h"

static json_t *int_schema(const spec_int_field *f)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "type", "integer", "format", "int32", "minimum",
			 (json_int_t)f->min, "maximum", (json_int_t)f->max, "default", (json_int_t)f->def,
			 "description", f->description);
}

static json_t *str_schema(const spec_str_field *f)
{
	json_t *s = json_pack("{s:s, s:s}", "type", "string", "description", f->description);
	if (f->def)
		json_object_set_new(s, "default", json_string(f->def));
	switch (f->kind) {
	case SPEC_STR_ENUM: {
		json_t *e = json_array();
		for (size_t i = 0; f->enums[i]; i++)
			json_array_append_new(e, json_string(f->enums[i]));
		json_object_set_new(s, "enum", e);
		break;
	}
	case SPEC_STR_IMAGE:
		json_object_set_new(s, "minLength", json_integer(1));
		json_object_set_new(s, "maxLength", json_integer(512));
		json_object_set_new(s, "pattern", json_string("^[A-Za-z0-9][A-Za-z0-9._/:@-]*[A-Za-z0-9]$"));
		break;
	case SPEC_STR_SIZE: json_object_set_new(s, "pattern", json_string("^[0-9]{1,10}[kKmM]?$")); break;
	case SPEC_STR_NAME:
		json_object_set_new(s, "maxLength", json_integer(253));
		json_object_set_new(s, "pattern",
				    json_string("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"));
		break;
	}
	return s;
}

static json_t *args_schema(const char *what)
{
	char d[160];
	snprintf(d, sizeof d, "Extra command-line arguments for %s, appended after memshack's own (an argv: no shell).",
		 what);
	return json_pack("{s:s, s:s, s:i, s:{s:s, s:i}}", "type", "array", "description", d, "maxItems", 64, "items",
			 "type", "string", "maxLength", 1024);
}

static json_t *quantity_map(const char *d)
{
	return json_pack(
		"{s:s, s:s, s:{s:[{s:s}, {s:s}], s:b, s:s}}", "type", "object", "description", d,
		"additionalProperties", "anyOf", "type", "integer", "type", "string", "x-kubernetes-int-or-string", 1,
		"pattern",
		"^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$");
}

static json_t *resources_schema(const char *what)
{
	char d[200];
	snprintf(d, sizeof d, "Compute resources of the %s container (default: sized from the other settings).", what);
	return json_pack("{s:s, s:s, s:{s:o, s:o}}", "type", "object", "description", d, "properties", "limits",
			 quantity_map("Most the container may use."), "requests",
			 quantity_map("What the scheduler reserves."));
}

/* Places schema `s` (new) at dotted `path` under spec properties, creating sub-objects. */
static void put(json_t *props, const char *path, json_t *s)
{
	const char *dot = strchr(path, '.');
	if (!dot) {
		json_object_set_new(props, path, s);
		return;
	}
	char head[64];
	snprintf(head, sizeof head, "%.*s", (int)(dot - path), path);
	json_t *sub = json_object_get(props, head);
	put(json_object_get(sub, "properties"), dot + 1, s);
}

static json_t *spec_schema(void)
{
	json_t *props = json_object();
	json_object_set_new(props, "memcached",
			    json_pack("{s:s, s:s, s:{}, s:{}}", "type", "object", "description", "The memcached pods.",
				      "default", "properties"));
	json_object_set_new(props, "mcrouter",
			    json_pack("{s:s, s:s, s:{}, s:{}}", "type", "object", "description",
				      "The mcrouter gateway pods and routing.", "default", "properties"));
	json_object_set_new(props, "scheduling",
			    json_pack("{s:s, s:s, s:{}, s:{}}", "type", "object", "description",
				      "Where every pod of this Memshack may run.", "default", "properties"));
	json_object_set_new(props, "migration",
			    json_pack("{s:s, s:s, s:{}, s:{}}", "type", "object", "description",
				      "How numShards and numReplicas changes are carried out.", "default",
				      "properties"));
	for (size_t i = 0; i < memshack_n_int_fields; i++)
		put(props, memshack_int_fields[i].path, int_schema(&memshack_int_fields[i]));
	for (size_t i = 0; i < memshack_n_str_fields; i++)
		put(props, memshack_str_fields[i].path, str_schema(&memshack_str_fields[i]));
	put(props, "memcached.extraArgs", args_schema("memcached"));
	put(props, "mcrouter.extraArgs", args_schema("mcrouter"));
	put(props, "memcached.resources", resources_schema("memcached"));
	put(props, "mcrouter.resources", resources_schema("mcrouter"));
	put(props, "scheduling.nodeSelector",
	    json_pack("{s:s, s:s, s:{s:s}}", "type", "object", "description", "Node labels every pod requires.",
		      "additionalProperties", "type", "string"));
	put(props, "scheduling.tolerations",
	    json_pack(
		    "{s:s, s:s, s:i, s:{s:s, s:{s:{s:s}, s:{s:s, s:[s, s]}, s:{s:s}, s:{s:s, s:[s, s, s]}, s:{s:s, s:s}}}}",
		    "type", "array", "description", "Taints every pod tolerates.", "maxItems", 32, "items", "type",
		    "object", "properties", "key", "type", "string", "operator", "type", "string", "enum", "Exists",
		    "Equal", "value", "type", "string", "effect", "type", "string", "enum", "NoSchedule",
		    "PreferNoSchedule", "NoExecute", "tolerationSeconds", "type", "integer", "format", "int64"));
	if (monitoring_schema(props, true)) {
		json_decref(props);
		return NULL;
	}
	/* The same bound memshack_spec_parse enforces (MEMSHACK_MAX_MEMBERS), said by the API server at admission. */
	char rule[80], message[80];
	snprintf(rule, sizeof rule, "self.numShards * self.numReplicas <= %d", MEMSHACK_MAX_MEMBERS);
	snprintf(message, sizeof message, "numShards × numReplicas must be at most %d", MEMSHACK_MAX_MEMBERS);
	json_t *rules = json_pack("[{s:s, s:s, s:s}]", "rule", rule, "message", message, "reason", "FieldValueInvalid");
	return json_pack("{s:s, s:s, s:o, s:o}", "type", "object", "description",
			 "A sharded, replicated memcached cluster behind a pool of mcrouter gateways.", "properties",
			 props, "x-kubernetes-validations", rules);
}

static json_t *status_schema(void)
{
	json_t *cond = json_pack(
		"{s:s, s:[s, s, s, s], s:{s:{s:s}, s:{s:s, s:[s, s, s]}, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:s}}}",
		"type", "object", "required", "type", "status", "reason", "lastTransitionTime", "properties", "type",
		"type", "string", "status", "type", "string", "enum", "True", "False", "Unknown", "reason", "type",
		"string", "message", "type", "string", "lastTransitionTime", "type", "string", "format", "date-time",
		"observedGeneration", "type", "integer", "format", "int64");
	json_t *counts = json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}}}", "type", "object", "properties", "name",
				   "type", "string", "desired", "type", "integer", "ready", "type", "integer");
	json_t *routing = json_pack("{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:{s:s, s:s}}}", "type", "object", "description",
				    "What the mcrouter config routes to: it lags the spec while new pods start.",
				    "properties", "shards", "type", "integer", "replicaPools", "type", "integer",
				    "generation", "type", "integer", "description",
				    "The layout generation (0: the first; a warm resharding makes the next).");
	json_t *layout = json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}}}", "type", "object", "properties", "generation",
				   "type", "integer", "shards", "type", "integer", "replicaPools", "type", "integer");
	json_t *migration = json_pack(
		"{s:s, s:s, s:{s:{s:s, s:[s, s, s, s]}, s:o, s:O, s:{s:s, s:s}, s:{s:s, s:s}}}", "type", "object",
		"description",
		"The warm migration (spec.migration.mode WarmUp) of a numShards or numReplicas change: from which "
		"layout to which, its phase, and when its warm-up window ends.",
		"properties", "phase", "type", "string", "enum", "None", "Preparing", "Warming", "Finishing", "from",
		layout, "to", layout, "windowEnd", "type", "string", "format", "date-time", "newestGeneration", "type",
		"integer", "description", "The newest layout generation ever built: never reused.");
	json_t *gateway = json_deep_copy(counts);
	json_object_set_new(json_object_get(gateway, "properties"), "configLoaded",
			    json_pack("{s:s, s:s}", "type", "integer", "description",
				      "Ready gateway pods that answered the md5 of the current config "
				      "(get __mcrouter__.config_md5_digest)."));
	return json_pack(
		"{s:s, s:s, s:{s:{s:s, s:s}, s:{s:s, s:s, s:[s], s:o}, s:{s:s, s:s, s:o}, s:o, s:{s:s, s:s}, s:{s:s, s:s},"
		" s:{s:s, s:s}, s:{s:s, s:s}, s:o, s:o}}",
		"type", "object", "description", "What the operator observed.", "properties", "observedGeneration",
		"type", "integer", "format", "int64", "conditions", "type", "array", "x-kubernetes-list-type", "map",
		"x-kubernetes-list-map-keys", "type", "items", cond, "pools", "type", "array", "description",
		"Desired and ready memcached pods per replica pool.", "items", counts, "gateway", gateway, "replicas",
		"type", "integer", "description", "Ready gateway pods (the scale subresource reads this).", "selector",
		"type", "string", "description", "Label selector of the gateway pods (for the HPA).", "endpoint",
		"type", "string", "description", "Where clients connect: host:port of the gateway Service.",
		"configDigest", "type", "string", "description", "md5 of the mcrouter configuration last written.",
		"routing", routing, "migration", migration);
}

json_t *crd_memshack(void)
{
	json_t *schema = json_pack(
		"{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:o, s:o}, s:[{s:s, s:s}]}", "type", "object", "description",
		"Memshack runs numShards × numReplicas memcached pods behind mcrouterPoolSize mcrouter gateways.",
		"properties", "apiVersion", "type", "string", "kind", "type", "string", "metadata", "type", "object",
		"spec", spec_schema(), "status", status_schema(), "x-kubernetes-validations", "rule",
		"self.metadata.name.size() <= 30", "message",
		"metadata.name must be at most 30 characters (child objects and pod DNS names extend it)");
	json_t *columns = json_pack(
		"[{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s, "
		"s:i}, {s:s, s:s, s:s}]",
		"name", "Shards", "type", "integer", "jsonPath", ".spec.numShards", "name", "Replicas", "type",
		"integer", "jsonPath", ".spec.numReplicas", "name", "Gateways", "type", "integer", "jsonPath",
		".spec.mcrouterPoolSize", "name", "Ready", "type", "string", "jsonPath",
		".status.conditions[?(@.type==\"Ready\")].status", "name", "Migration", "type", "string", "jsonPath",
		".status.migration.phase", "name", "Endpoint", "type", "string", "jsonPath", ".status.endpoint",
		"priority", 1, "name", "Age", "type", "date", "jsonPath", ".metadata.creationTimestamp");
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:[s]},"
			 " s:[{s:s, s:b, s:b, s:{s:o}, s:{s:{}, s:{s:s, s:s, s:s}}, s:o}]}}",
			 "apiVersion", "apiextensions.k8s.io/v1", "kind", "CustomResourceDefinition", "metadata",
			 "name", "memshacks.memshack.io", "labels", "app.kubernetes.io/part-of", "memshack", "spec",
			 "group", MEMSHACK_GROUP, "scope", "Namespaced", "names", "plural", "memshacks", "singular",
			 "memshack", "kind", "Memshack", "listKind", "MemshackList", "shortNames", "ms", "versions",
			 "name", MEMSHACK_VERSION_NAME, "served", 1, "storage", 1, "schema", "openAPIV3Schema", schema,
			 "subresources", "status", "scale", "specReplicasPath", ".spec.mcrouterPoolSize",
			 "statusReplicasPath", ".status.replicas", "labelSelectorPath", ".status.selector",
			 "additionalPrinterColumns", columns);
}

static json_t *proxy_spec_schema(void)
{
	json_t *props = json_object();
	json_object_set_new(props, "mcrouter",
			    json_pack("{s:s, s:s, s:{}, s:{}}", "type", "object", "description",
				      "The mcrouter pods and routing.", "default", "properties"));
	json_object_set_new(
		props, "serviceName",
		json_pack("{s:s, s:s, s:i, s:s}", "type", "string", "description",
			  "An existing Service in the same namespace whose endpoints are the memcached servers.",
			  "maxLength", 63, "pattern", "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"));
	json_object_set_new(props, "servicePort",
			    json_pack("{s:b, s:[{s:s}, {s:s}], s:s, s:[{s:s, s:s}]}", "x-kubernetes-int-or-string", 1,
				      "anyOf", "type", "integer", "type", "string", "description",
				      "The Service's port: its number or its name.", "x-kubernetes-validations", "rule",
				      "type(self) == int ? (self >= 1 && self <= 65535) : (self.size() <= 15 && "
				      "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))",
				      "message", "servicePort must be a port number (1-65535) or a port name"));
	for (size_t i = 0; i < proxy_n_int_fields; i++)
		put(props, proxy_int_fields[i].path, int_schema(&proxy_int_fields[i]));
	for (size_t i = 0; i < proxy_n_str_fields; i++)
		put(props, proxy_str_fields[i].path, str_schema(&proxy_str_fields[i]));
	put(props, "mcrouter.extraArgs", args_schema("mcrouter"));
	put(props, "mcrouter.resources", resources_schema("mcrouter"));
	if (monitoring_schema(props, false)) {
		json_decref(props);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:[s, s], s:o}", "type", "object", "description",
			 "mcrouter in front of an existing memcached Service, following its endpoints.", "required",
			 "serviceName", "servicePort", "properties", props);
}

static json_t *proxy_status_schema(void)
{
	json_t *st = status_schema();
	json_t *props = json_object_get(st, "properties");
	json_object_del(props, "pools");
	json_object_del(props, "routing");
	json_object_del(props, "migration");
	json_object_set_new(props, "servers",
			    json_pack("{s:s, s:s, s:{s:s}}", "type", "array", "description",
				      "The memcached servers in the mcrouter config, in hashing order.", "items",
				      "type", "string"));
	json_object_set_new(props, "serverCount", json_pack("{s:s}", "type", "integer"));
	return st;
}

json_t *crd_memcachedproxy(void)
{
	json_t *schema =
		json_pack("{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:o, s:o}, s:[s]}", "type", "object", "description",
			  "MemcachedProxy runs mcrouter in front of the endpoints of an existing memcached Service.",
			  "properties", "apiVersion", "type", "string", "kind", "type", "string", "metadata", "type",
			  "object", "spec", proxy_spec_schema(), "status", proxy_status_schema(), "required", "spec");
	json_t *columns = json_pack(
		"[{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]", "name",
		"Service", "type", "string", "jsonPath", ".spec.serviceName", "name", "Pool", "type", "string",
		"jsonPath", ".spec.pool", "name", "Servers", "type", "integer", "jsonPath", ".status.serverCount",
		"name", "Ready", "type", "string", "jsonPath", ".status.conditions[?(@.type==\"Ready\")].status",
		"name", "Age", "type", "date", "jsonPath", ".metadata.creationTimestamp");
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:[s]},"
			 " s:[{s:s, s:b, s:b, s:{s:o}, s:{s:{}, s:{s:s, s:s, s:s}}, s:o}]}}",
			 "apiVersion", "apiextensions.k8s.io/v1", "kind", "CustomResourceDefinition", "metadata",
			 "name", "memcachedproxies.memshack.io", "labels", "app.kubernetes.io/part-of", "memshack",
			 "spec", "group", MEMSHACK_GROUP, "scope", "Namespaced", "names", "plural", "memcachedproxies",
			 "singular", "memcachedproxy", "kind", "MemcachedProxy", "listKind", "MemcachedProxyList",
			 "shortNames", "mp", "versions", "name", MEMSHACK_VERSION_NAME, "served", 1, "storage", 1,
			 "schema", "openAPIV3Schema", schema, "subresources", "status", "scale", "specReplicasPath",
			 ".spec.replicas", "statusReplicasPath", ".status.replicas", "labelSelectorPath",
			 ".status.selector", "additionalPrinterColumns", columns);
}

json_t *crd_all(void)
{
	return json_pack("[o, o]", crd_memshack(), crd_memcachedproxy());
}
