#include "core/proxy.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gateway.h"
#include "core/monitoring.h"
#include "core/mcrouter_config.h"
#include "core/memshack_desired.h"
#include "util/conditions.h"
#include "util/digest.h"
#include "util/json_encode.h"

const char *const proxy_pool_names[] = { "Sharded", "Replicated", NULL };

#define FIELD(member) offsetof(proxy_spec, member)
const spec_int_field proxy_int_fields[] = {
	{ "replicas", 0, 100, 1, "Number of mcrouter pods (the scale subresource points here).", FIELD(replicas) },
	{ "port", 1, 65535, 11211, "Port of the proxy's Service and of mcrouter.", FIELD(port) },
	{ "mcrouter.serverTimeoutMs", 10, 600000, 1000, "How long mcrouter waits for a memcached reply, in ms.",
	  FIELD(server_timeout_ms) },
};
const size_t proxy_n_int_fields = sizeof proxy_int_fields / sizeof *proxy_int_fields;

const spec_str_field proxy_str_fields[] = {
	{ "pool", "Sharded", proxy_pool_names, SPEC_STR_ENUM,
	  "Sharded: keys are hashed across the servers. Replicated: every server holds every key.", FIELD(pool) },
	{ "mcrouterImage", "docker-registry.wikimedia.org/mcrouter:2023.07.17.00-1-20240929", NULL, SPEC_STR_IMAGE,
	  "Container image of mcrouter.", FIELD(mcrouter_image) },
	{ "mcrouter.readPolicy", "Latest", mc_read_policy_names, SPEC_STR_ENUM,
	  "Replicated pools: how reads pick a server (Latest, Failover, AllFastest, Random).", FIELD(read_policy) },
	{ "mcrouter.writePolicy", "AllSync", mc_write_policy_names, SPEC_STR_ENUM,
	  "Replicated pools: how writes reach the servers (AllSync, AllMajority, AllInitial, AllFastest, AllAsync).",
	  FIELD(write_policy) },
};
const size_t proxy_n_str_fields = sizeof proxy_str_fields / sizeof *proxy_str_fields;
#undef FIELD
_Static_assert(sizeof(proxy_pool) == sizeof(int), "enum fields are read as int");

void proxy_spec_free(proxy_spec *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->namespace);
	free(p->uid);
	free(p->service_name);
	free(p->service_port);
	free(p->mcrouter_image);
	json_decref(p->mcrouter_args);
	json_decref(p->mcrouter_resources);
	monitoring_release(&p->monitoring);
	free(p);
}

int proxy_spec_parse(json_t *obj, proxy_spec **ret, char *err, size_t errlen)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	if (!name || !spec_dns_label_valid(name) || strlen(name) > 40)
		return spec_fail(err, errlen,
				 "metadata.name: must be a DNS label of at most 40 characters (got '%.80s')",
				 name ? name : "");
	json_t *spec = json_object_get(obj, "spec");
	if (!json_is_object(spec))
		return spec_fail(err, errlen, "spec: must be an object with serviceName and servicePort");
	if (spec_check_text(spec, "spec", err, errlen))
		return -1;
	static const char *const known[] = { "serviceName",   "servicePort", "pool",       "replicas",      "port",
					     "mcrouterImage", "mcrouter",    "monitoring", "networkPolicy", NULL };
	const char *k;
	json_t *v;
	json_object_foreach (spec, k, v) {
		bool ok = false;
		for (size_t i = 0; known[i] && !ok; i++)
			ok = !strcmp(known[i], k);
		if (!ok)
			return spec_fail(err, errlen, "spec: unknown field '%.60s'", k);
	}
	const char *svc = json_string_value(json_object_get(spec, "serviceName"));
	if (!svc || !spec_dns_label_valid(svc))
		return spec_fail(err, errlen, "spec.serviceName: must name a Service (a DNS label), got '%.80s'",
				 svc ? svc : "");
	json_t *sp = json_object_get(spec, "servicePort");
	char portbuf[32];
	bool is_num = false;
	if (json_is_integer(sp)) {
		if (json_integer_value(sp) < 1 || json_integer_value(sp) > 65535)
			return spec_fail(err, errlen, "spec.servicePort: must be between 1 and 65535 (got %lld)",
					 (long long)json_integer_value(sp));
		snprintf(portbuf, sizeof portbuf, "%lld", (long long)json_integer_value(sp));
		is_num = true;
	} else if (json_is_string(sp) && spec_dns_label_valid(json_string_value(sp)) && json_string_length(sp) <= 15) {
		snprintf(portbuf, sizeof portbuf, "%s", json_string_value(sp));
	} else {
		return spec_fail(err, errlen, "spec.servicePort: must be a port number or a port name");
	}
	proxy_spec *p = calloc(1, sizeof *p);
	if (!p)
		return spec_fail(err, errlen, "out of memory");
	p->name = strdup(name);
	p->namespace = strdup(ns ? ns : "default");
	p->uid = uid ? strdup(uid) : NULL;
	p->generation = json_integer_value(json_object_get(meta, "generation"));
	p->service_name = strdup(svc);
	p->service_port = strdup(portbuf);
	p->port_is_number = is_num;
	if (spec_read_int_fields(spec, proxy_int_fields, proxy_n_int_fields, p, err, errlen) ||
	    spec_read_str_fields(spec, proxy_str_fields, proxy_n_str_fields, p, err, errlen)) {
		proxy_spec_free(p);
		return -1;
	}
	json_t *mcr = json_object_get(spec, "mcrouter");
	const int pod_ports[] = { p->port, 0 };
	if (monitoring_parse(spec, false, pod_ports, &p->monitoring, err, errlen) ||
	    spec_check_args(json_object_get(mcr, "extraArgs"), "spec.mcrouter.extraArgs", mcrouter_reserved_flags, err,
			    errlen) ||
	    spec_check_resources(json_object_get(mcr, "resources"), "spec.mcrouter.resources", err, errlen)) {
		proxy_spec_free(p);
		return -1;
	}
	json_t *a = json_object_get(mcr, "extraArgs"), *r = json_object_get(mcr, "resources");
	p->mcrouter_args = json_is_array(a) ? json_deep_copy(a) : json_array();
	p->mcrouter_resources = json_is_object(r) ? json_deep_copy(r) : NULL;
	if (!p->name || !p->namespace || !p->service_name || !p->service_port || !p->mcrouter_image ||
	    !p->mcrouter_args || (uid && !p->uid) || (json_is_object(r) && !p->mcrouter_resources)) {
		proxy_spec_free(p);
		return spec_fail(err, errlen, "out of memory");
	}
	*ret = p;
	return 0;
}

/* ---- servers ---- */

typedef struct member {
	char *order; /* sort key */
	char *server;
} member;

/* Natural order: digit runs compare by value, so pod-2 < pod-10. */
static int natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			const char *ea = a, *eb = b;
			while (*a == '0')
				a++;
			while (*b == '0')
				b++;
			ea = a;
			eb = b;
			while (*ea >= '0' && *ea <= '9')
				ea++;
			while (*eb >= '0' && *eb <= '9')
				eb++;
			if (ea - a != eb - b)
				return (ea - a) < (eb - b) ? -1 : 1;
			int c = strncmp(a, b, (size_t)(ea - a));
			if (c)
				return c;
			a = ea;
			b = eb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

static int member_cmp(const void *x, const void *y)
{
	const member *a = x, *b = y;
	int c = natural_cmp(a->order, b->order);
	return c ? c : strcmp(a->server, b->server);
}

/* The slice port number for the resolved port name ("" for an unnamed single port), or 0. */
static long slice_port(json_t *slice, const char *port_name)
{
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(slice, "ports"), i, p) {
		const char *n = json_string_value(json_object_get(p, "name"));
		if (!strcmp(n ? n : "", port_name) && json_is_integer(json_object_get(p, "port")))
			return (long)json_integer_value(json_object_get(p, "port"));
	}
	return 0;
}

/* spec.servicePort resolved to the name of the Service's port ("" for an unnamed one), or NULL when it has no such port. */
static const char *service_port_name(const proxy_spec *p, json_t *service)
{
	size_t i;
	json_t *sp;
	json_array_foreach (json_object_get(json_object_get(service, "spec"), "ports"), i, sp) {
		const char *n = json_string_value(json_object_get(sp, "name"));
		if (p->port_is_number ? json_integer_value(json_object_get(sp, "port")) == atol(p->service_port)
				      : (n && !strcmp(n, p->service_port)))
			return n ? n : "";
	}
	return NULL;
}

/*
 * The server ("host:port") an endpoint stands for, into buf; false when it
 * does not count (not ready for a replicated pool, terminating for a
 * sharded one, no address, or one mcrouter must not be given).
 */
static bool endpoint_server(const proxy_spec *p, json_t *ep, long port, const char *domain, char *buf, size_t len)
{
	json_t *cond = json_object_get(ep, "conditions");
	json_t *ready = json_object_get(cond, "ready"), *term = json_object_get(cond, "terminating");
	bool is_ready = !ready || json_is_true(ready); /* absent means ready */
	if (p->pool == PROXY_REPLICATED ? !is_ready : json_is_true(term))
		return false;
	const char *host = json_string_value(json_object_get(ep, "hostname"));
	const char *addr = json_string_value(json_array_get(json_object_get(ep, "addresses"), 0));
	if (host && spec_dns_label_valid(host))
		snprintf(buf, len, "%s.%s.%s.svc.%s:%ld", host, p->service_name, p->namespace, domain, port);
	else if (addr && strchr(addr, ':'))
		snprintf(buf, len, "[%s]:%ld", addr, port);
	else if (addr)
		snprintf(buf, len, "%s:%ld", addr, port);
	else
		return false;
	return mcrouter_server_valid(buf); /* never let a hostile address into the config */
}

proxy_servers_result proxy_servers(const proxy_spec *p, json_t *service, json_t *slices, const char *domain,
				   json_t **ret_servers, char *why, size_t whylen)
{
	*ret_servers = NULL;
	if (!service) {
		snprintf(why, whylen, "Service %s/%s does not exist", p->namespace, p->service_name);
		return PROXY_NO_SERVICE;
	}
	const char *port_name = service_port_name(p, service);
	size_t i;
	if (!port_name) {
		snprintf(why, whylen, "Service %s/%s has no port %s", p->namespace, p->service_name, p->service_port);
		return PROXY_NO_PORT;
	}
	bool have_v4 = false;
	json_t *slice;
	json_array_foreach (slices, i, slice) {
		const char *t = json_string_value(json_object_get(slice, "addressType"));
		have_v4 |= t && !strcmp(t, "IPv4");
	}
	size_t cap = 16, n = 0;
	member *ms = calloc(cap, sizeof *ms);
	bool nomem = !ms;
	json_array_foreach (slices, i, slice) {
		if (nomem)
			break;
		const char *type = json_string_value(json_object_get(slice, "addressType"));
		if (!type || (have_v4 && strcmp(type, "IPv4") && strcmp(type, "FQDN")) ||
		    (!have_v4 && strcmp(type, "IPv6") && strcmp(type, "FQDN")))
			continue;
		long port = slice_port(slice, port_name);
		if (port <= 0 || port > 65535)
			continue;
		size_t j;
		json_t *ep;
		json_array_foreach (json_object_get(slice, "endpoints"), j, ep) {
			char server[400];
			if (!endpoint_server(p, ep, port, domain, server, sizeof server))
				continue;
			const char *host = json_string_value(json_object_get(ep, "hostname"));
			const char *addr = json_string_value(json_array_get(json_object_get(ep, "addresses"), 0));
			const char *pod = json_string_value(json_object_get(json_object_get(ep, "targetRef"), "name"));
			if (n == cap) {
				member *bigger = realloc(ms, 2 * cap * sizeof *ms);
				if (!bigger) {
					nomem = true;
					break;
				}
				ms = bigger;
				cap *= 2;
			}
			ms[n].order = strdup(pod ? pod : host ? host : addr);
			ms[n].server = strdup(server);
			n++;
			if (!ms[n - 1].order || !ms[n - 1].server) {
				nomem = true;
				break;
			}
		}
	}
	json_t *out = nomem ? NULL : json_array();
	if (out) {
		qsort(ms, n, sizeof *ms, member_cmp);
		for (size_t k = 0; k < n; k++) {
			/* Drop duplicates (the same endpoint in two slices). */
			bool dup = false;
			for (size_t m = 0; m < k && !dup; m++)
				dup = !strcmp(ms[m].server, ms[k].server);
			if (!dup && json_array_append_new(out, json_string(ms[k].server))) {
				json_decref(out);
				out = NULL;
				break;
			}
		}
	}
	for (size_t k = 0; ms && k < n; k++) {
		free(ms[k].order);
		free(ms[k].server);
	}
	free(ms);
	if (!out) {
		/* Fail closed: a list missing a server would move its keys elsewhere. */
		snprintf(why, whylen, "out of memory listing the servers of Service %s/%s", p->namespace,
			 p->service_name);
		return PROXY_SERVERS_NOMEM;
	}
	*ret_servers = out;
	if (!json_array_size(out)) {
		snprintf(why, whylen, "Service %s/%s has no %sendpoints on port %s", p->namespace, p->service_name,
			 p->pool == PROXY_REPLICATED ? "ready " : "", p->service_port);
		return PROXY_NO_ENDPOINTS;
	}
	snprintf(why, whylen, "%zu servers", json_array_size(out));
	return PROXY_SERVERS_OK;
}

/* ---- objects ---- */

char *proxy_gateway_name(const proxy_spec *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s-proxy", p->name);
	return buf;
}

static char *config_for(const proxy_spec *p, json_t *servers, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	size_t n = json_array_size(servers);
	if (!n) {
		/* No servers yet: a valid config that answers every request with an error, until they appear. */
		json_t *c = json_pack("{s:{s:s, s:{s:s, s:s}}}", "route", "type", "OperationSelectorRoute",
				      "default_policy", "type", "ErrorRoute", "response",
				      "memshack: no memcached servers behind the Service yet");
		char *t = c ? json_encode(c, JSON_SORT_KEYS | JSON_INDENT(2)) : NULL;
		json_decref(c);
		if (!t)
			snprintf(err, errlen, "out of memory");
		return t;
	}
	const char **list = calloc(n, sizeof *list);
	for (size_t i = 0; list && i < n; i++)
		list[i] = json_string_value(json_array_get(servers, i));
	mcrouter_options mo = { p->read_policy, p->write_policy, p->server_timeout_ms };
	char *text = NULL;
	if (list && p->pool == PROXY_SHARDED) {
		mcrouter_pool pool = { "servers", list, n };
		text = mcrouter_config_render(&pool, 1, &mo, err, errlen);
	} else if (list) {
		/* Replicated: one single-server pool per server, written through the write policy. */
		mcrouter_pool *pools = calloc(n, sizeof *pools);
		char(*names)[24] = calloc(n, sizeof *names);
		for (size_t i = 0; pools && names && i < n; i++) {
			snprintf(names[i], sizeof names[i], "r%zu", i);
			pools[i] = (mcrouter_pool){ names[i], &list[i], 1 };
		}
		if (pools && names)
			text = mcrouter_config_render(pools, n, &mo, err, errlen);
		free(pools);
		free(names);
	}
	if (!list || (!text && !*err))
		snprintf(err, errlen, "out of memory");
	free(list);
	return text;
}

/* The NetworkPolicy and the ServiceMonitor the spec asks for, appended to objects (a missing one fails the count). */
static void append_monitoring(const proxy_spec *p, const gateway_env *env, const char *name, json_t *base, json_t *sel,
			      json_t *objects)
{
	const monitoring_spec *m = &p->monitoring;
	if (m->network_policy) {
		json_t *peers = monitoring_gateway_peers(m, env->operator_namespace);
		json_array_append_new(
			objects,
			peers ? monitoring_network_policy(m, name, p->namespace, base, sel, p->port, peers) : NULL);
		json_decref(peers);
	}
	if (m->service_monitor) {
		json_t *svc_labels = json_pack("{s:s}", PROXY_LABEL, p->name);
		json_array_append_new(objects,
				      svc_labels ? monitoring_service_monitor(m, name, p->namespace, base, svc_labels)
						 : NULL);
		json_decref(svc_labels);
	}
}

size_t proxy_desired_count(const proxy_spec *p)
{
	return 4 + (p->monitoring.network_policy ? 1 : 0) + (p->monitoring.service_monitor ? 1 : 0);
}

int proxy_desired_build(const proxy_spec *p, json_t *servers, const gateway_env *env, proxy_desired *out, char *err,
			size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->config_text = config_for(p, servers, err, errlen);
	if (!out->config_text)
		return -1;
	digest_md5_hex(out->config_text, strlen(out->config_text), out->config_md5);
	char name[128], cfg[160];
	proxy_gateway_name(p, name, sizeof name);
	snprintf(cfg, sizeof cfg, "%s-config", name);
	json_t *base = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "labels", "app.kubernetes.io/name", "mcrouter",
				 "app.kubernetes.io/instance", p->name, "app.kubernetes.io/component", "proxy",
				 "app.kubernetes.io/managed-by", "memshack", "app.kubernetes.io/part-of", "memshack",
				 PROXY_LABEL, p->name);
	if (gateway_set_owner(base, "MemcachedProxy", p->name, p->uid)) {
		json_decref(base);
		base = NULL; /* gateway_meta fails without it: no child without its owner */
	}
	json_t *sel = json_pack("{s:s, s:s}", PROXY_LABEL, p->name, "app.kubernetes.io/component", "proxy");
	gateway_params gp = { .name = name,
			      .namespace = p->namespace,
			      .config_map = cfg,
			      .metadata = base,
			      .selector = sel,
			      .image = p->mcrouter_image,
			      .port = p->port,
			      .replicas = p->replicas,
			      .extra_args = p->mcrouter_args,
			      .resources = p->mcrouter_resources,
			      .spread = true };
	json_t *sidecar, *mport;
	bool parts = !monitoring_gateway_exporter(&p->monitoring, env->exporter_image, p->port, &sidecar, &mport);
	gp.sidecar = sidecar, gp.metrics_port = mport;
	out->objects = json_pack("[o, o, o, o]", gateway_config_map(&gp, out->config_text, out->config_md5),
				 parts ? gateway_deployment(&gp) : NULL, parts ? gateway_service(&gp) : NULL,
				 gateway_pdb(&gp));
	if (out->objects)
		append_monitoring(p, env, name, base, sel, out->objects);
	json_decref(base);
	json_decref(sel);
	json_decref(sidecar);
	json_decref(mport);
	size_t i;
	json_t *o;
	bool ok = out->objects != NULL && json_array_size(out->objects) == proxy_desired_count(p);
	json_array_foreach (out->objects, i, o)
		ok = ok && !memshack_stamp_digest(o);
	if (!ok) {
		snprintf(err, errlen, "out of memory");
		proxy_desired_release(out);
		return -1;
	}
	return 0;
}

void proxy_desired_release(proxy_desired *d)
{
	json_decref(d->objects);
	free(d->config_text);
	memset(d, 0, sizeof *d);
}

const char *proxy_servers_reason(proxy_servers_result r)
{
	switch (r) {
	case PROXY_SERVERS_OK: return NULL;
	case PROXY_NO_SERVICE: return "ServiceNotFound";
	case PROXY_NO_PORT: return "PortNotFound";
	case PROXY_NO_ENDPOINTS: return "NoEndpoints";
	case PROXY_SERVERS_NOMEM: return "OutOfMemory";
	}
	return "Unknown";
}

json_t *proxy_status_build(const proxy_spec *p, proxy_servers_result pr, const char *why, json_t *servers, int ready,
			   const char *apply_error, json_t *old, const char *domain, const char *config_md5,
			   const char *now, monitoring_sm_state sm)
{
	long long gen = p->generation;
	json_t *conds = conditions_copy_of(old);
	const char *reason = proxy_servers_reason(pr);
	char msg[600];
	if (apply_error) {
		conditions_set(conds, "Ready", "False", "ApplyFailed", apply_error, gen, now);
		conditions_set(conds, "Degraded", "True", "ApplyFailed", apply_error, gen, now);
	} else if (reason) {
		conditions_set(conds, "Ready", "False", reason, why, gen, now);
		conditions_set(conds, "Degraded", "True", reason, why, gen, now);
	} else if (ready < p->replicas || p->replicas == 0) {
		snprintf(msg, sizeof msg, "%d of %d mcrouter pods ready; %s", ready, p->replicas, why);
		conditions_set(conds, "Ready", "False", "PodsNotReady", msg, gen, now);
		conditions_set(conds, "Degraded", "False", "AsExpected", "", gen, now);
	} else {
		snprintf(msg, sizeof msg, "%d mcrouter pods ready; %s", ready, why);
		conditions_set(conds, "Ready", "True", "Ready", msg, gen, now);
		conditions_set(conds, "Degraded", "False", "AsExpected", "", gen, now);
	}
	bool stable = ready == p->replicas;
	conditions_set(conds, "Progressing", stable ? "False" : "True", stable ? "Stable" : "Scaling",
		       stable ? "" : "mcrouter pods are starting or stopping", gen, now);
	monitoring_set_condition(conds, &p->monitoring, sm, gen, now);
	char gname[128], endpoint[400], selector[200];
	proxy_gateway_name(p, gname, sizeof gname);
	snprintf(endpoint, sizeof endpoint, "%s.%s.svc.%s:%d", gname, p->namespace, domain, p->port);
	snprintf(selector, sizeof selector, "%s=%s,app.kubernetes.io/component=proxy", PROXY_LABEL, p->name);
	return json_pack("{s:I, s:o, s:O, s:i, s:{s:s, s:i, s:i}, s:i, s:s, s:s, s:s}", "observedGeneration",
			 (json_int_t)gen, "conditions", conds, "servers", servers, "serverCount",
			 (int)json_array_size(servers), "gateway", "name", "gateway", "desired", p->replicas, "ready",
			 ready, "replicas", ready, "selector", selector, "endpoint", endpoint, "configDigest",
			 config_md5);
}
