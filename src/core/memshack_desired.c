#include "core/memshack_desired.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gateway.h"
#include "core/mcrouter_config.h"
#include "core/monitoring.h"
#include "util/digest.h"

char *memshack_pool_name(const memshack_spec *s, int k, char *buf, size_t len)
{
	return memshack_layout_pool_name(s, 0, k, buf, len);
}

char *memshack_layout_pool_name(const memshack_spec *s, int generation, int k, char *buf, size_t len)
{
	if (generation > 0)
		snprintf(buf, len, "%s-memshack-g%d-pool-%d", s->name, generation, k);
	else
		snprintf(buf, len, "%s-memshack-pool-%d", s->name, k);
	return buf;
}

char *memshack_headless_name(const memshack_spec *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s-memshack-memcached", s->name);
	return buf;
}

char *memshack_config_name(const memshack_spec *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s-memshack-mcrouter", s->name);
	return buf;
}

char *memshack_gateway_name(const memshack_spec *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s-memshack", s->name);
	return buf;
}

char *memshack_endpoint(const memshack_spec *s, const char *domain, char *buf, size_t len)
{
	snprintf(buf, len, "%s-memshack.%s.svc.%s:%d", s->name, s->namespace, domain, s->mcrouter_port);
	return buf;
}

int memshack_stamp_digest(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	json_t *ann = json_object_get(meta, "annotations");
	if (!ann) {
		ann = json_object();
		if (json_object_set_new(meta, "annotations", ann))
			return -1;
	}
	json_object_del(ann, MEMSHACK_DIGEST_ANNOTATION);
	char md5[33];
	if (digest_json_md5(obj, md5))
		return -1;
	return json_object_set_new(ann, MEMSHACK_DIGEST_ANNOTATION, json_string(md5)) ? -1 : 0;
}

int memshack_desired_hold_shards(memshack_desired *d, int replicas)
{
	size_t i;
	json_t *obj;
	json_array_foreach (d->objects, i, obj) {
		json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
		json_t *spec = json_object_get(obj, "spec");
		if (strcmp(json_string_value(json_object_get(obj, "kind")) ?: "", "StatefulSet") ||
		    !json_object_get(labels, MEMSHACK_POOL_LABEL) ||
		    json_integer_value(json_object_get(spec, "replicas")) >= replicas)
			continue;
		if (json_object_set_new(spec, "replicas", json_integer(replicas)) || memshack_stamp_digest(obj))
			return -1;
	}
	return 0;
}

/*
 * Every builder below returns a new reference, or NULL when anything of it
 * could not be built (no memory): never an object with a part missing (an
 * apply of it would remove that part). json_pack fails as a whole when an
 * "o" argument is NULL, so a failure anywhere reaches the top.
 */

/* labels (new, stolen) and the owner reference, as gateway_params.metadata expects. */
static json_t *meta_base(const memshack_spec *s, json_t *labels)
{
	json_t *m = json_pack("{s:o}", "labels", labels);
	if (gateway_set_owner(m, "Memshack", s->name, s->uid)) {
		json_decref(m);
		return NULL;
	}
	return m;
}

/* metadata with labels (stolen), owner reference and namespace. New reference. */
static json_t *meta(const memshack_spec *s, const char *name, json_t *labels)
{
	json_t *base = meta_base(s, labels);
	json_t *m = gateway_meta(name, s->namespace, base);
	json_decref(base);
	return m;
}

/* l (stolen) with label key = value (a number). New reference, or NULL (no memory; l released). */
static json_t *with_number_label(json_t *l, const char *key, int value)
{
	char v[16];
	snprintf(v, sizeof v, "%d", value);
	if (l && json_object_set_new(l, key, json_string(v))) {
		json_decref(l);
		return NULL;
	}
	return l;
}

static json_t *labels(const memshack_spec *s, const char *app, const char *component, int pool)
{
	json_t *l =
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "app.kubernetes.io/name", app, "app.kubernetes.io/instance",
			  s->name, "app.kubernetes.io/component", component, "app.kubernetes.io/managed-by", "memshack",
			  "app.kubernetes.io/part-of", "memshack", MEMSHACK_LABEL, s->name);
	return pool >= 0 ? with_number_label(l, MEMSHACK_POOL_LABEL, pool) : l;
}

static json_t *selector(const memshack_spec *s, const char *component, int pool)
{
	json_t *l = json_pack("{s:s, s:s}", MEMSHACK_LABEL, s->name, "app.kubernetes.io/component", component);
	return pool >= 0 ? with_number_label(l, MEMSHACK_POOL_LABEL, pool) : l;
}

/* The number at *p (no leading zero, at most max_digits digits), advancing *p; -1 when there is none. */
static int leading_number(const char **p, int max_digits)
{
	const char *q = *p;
	int n = 0, digits = 0;
	while (*q >= '0' && *q <= '9' && digits < max_digits + 1)
		n = n * 10 + (*q++ - '0'), digits++;
	if (!digits || digits > max_digits || (digits > 1 && **p == '0'))
		return -1;
	*p = q;
	return n;
}

bool memshack_parse_pool_name(const memshack_spec *s, const char *name, int *generation, int *k)
{
	char prefix[300];
	int n = snprintf(prefix, sizeof prefix, "%s-memshack-", s->name);
	if (!name || n < 0 || (size_t)n >= sizeof prefix || strncmp(name, prefix, (size_t)n))
		return false;
	const char *p = name + n;
	int g = 0;
	if (*p == 'g') {
		p++;
		g = leading_number(&p, 4);
		if (g < 1 || strncmp(p, "-", 1))
			return false;
		p++;
	}
	if (strncmp(p, "pool-", 5))
		return false;
	p += 5;
	int idx = leading_number(&p, 1);
	if (idx < 0 || *p)
		return false;
	*generation = g, *k = idx;
	return true;
}

/* l (stolen) with memshack.io/layout=G when G > 0 (a layout of a warm resharding). New reference or NULL. */
static json_t *with_layout(json_t *l, int generation)
{
	return generation > 0 ? with_number_label(l, MEMSHACK_LAYOUT_LABEL, generation) : l;
}

static const char *topology_key(const memshack_spec *s)
{
	return s->spread == MC_SPREAD_ZONE ? "topology.kubernetes.io/zone" : "kubernetes.io/hostname";
}

static json_t *args_list(const char *const *fixed, json_t *extra)
{
	json_t *a = json_array();
	for (size_t i = 0; a && fixed[i]; i++) {
		if (json_array_append_new(a, json_string(fixed[i]))) {
			json_decref(a);
			return NULL;
		}
	}
	if (a && extra && json_array_extend(a, extra)) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *resources_or(json_t *given, const char *req_cpu, const char *req_mem, const char *lim_mem)
{
	if (given)
		return json_deep_copy(given);
	return json_pack("{s:{s:s, s:s}, s:{s:s}}", "requests", "cpu", req_cpu, "memory", req_mem, "limits", "memory",
			 lim_mem);
}

/* Pool k of layout generation g, with `replicas` pods. */
static json_t *statefulset(const memshack_spec *s, int g, int k, int replicas)
{
	char name[128], headless[128], m[16], c[16], t[16], req[24], lim[24];
	memshack_layout_pool_name(s, g, k, name, sizeof name);
	memshack_headless_name(s, headless, sizeof headless);
	snprintf(m, sizeof m, "%d", s->memory_mib);
	snprintf(c, sizeof c, "%d", s->max_connections);
	snprintf(t, sizeof t, "%d", s->threads);
	snprintf(req, sizeof req, "%dMi", s->memory_mib + 32);
	snprintf(lim, sizeof lim, "%dMi", s->memory_mib + 64);
	char port[16];
	snprintf(port, sizeof port, "%d", MEMSHACK_MEMCACHED_PORT);
	const char *fixed[] = { "-p", port, "-U", "0", "-m", m, "-c", c, "-t", t, "-I", s->max_item_size, NULL };
	json_t *container = json_pack(
		"{s:s, s:s, s:[s], s:o, s:[{s:s, s:i, s:s}], s:{s:{s:s}, s:i, s:i}, s:{s:{s:s}, s:i, s:i, s:i}, s:o, s:o}",
		"name", "memcached", "image", s->memcached_image, "command", "memcached", "args",
		args_list(fixed, s->memcached_args), "ports", "name", "memcached", "containerPort",
		MEMSHACK_MEMCACHED_PORT, "protocol", "TCP", "readinessProbe", "tcpSocket", "port", "memcached",
		"periodSeconds", 5, "failureThreshold", 2, "livenessProbe", "tcpSocket", "port", "memcached",
		"initialDelaySeconds", 10, "periodSeconds", 10, "failureThreshold", 3, "resources",
		resources_or(s->memcached_resources, "50m", req, lim), "securityContext", gateway_container_security());
	json_t *podspec = json_pack("{s:[o], s:o, s:b, s:i}", "containers", container, "securityContext",
				    gateway_pod_security(MEMSHACK_MEMCACHED_UID), "automountServiceAccountToken", 0,
				    "terminationGracePeriodSeconds", 30);
	if (podspec && s->monitoring.exporter &&
	    json_array_append_new(json_object_get(podspec, "containers"),
				  monitoring_memcached_exporter(&s->monitoring, MEMSHACK_MEMCACHED_PORT))) {
		json_decref(podspec);
		podspec = NULL;
	}
	json_t *anti = NULL;
	if (s->spread != MC_SPREAD_NONE)
		/* The same shard (pod index) of different replica pools lands on different nodes/zones. */
		anti = json_pack("{s:i, s:{s:{s:o}, s:[s], s:s}}", "weight", 100, "podAffinityTerm", "labelSelector",
				 "matchLabels", selector(s, "pool", -1), "matchLabelKeys",
				 "apps.kubernetes.io/pod-index", "topologyKey", topology_key(s));
	podspec = gateway_schedule(podspec, s->node_selector, s->tolerations, s->priority_class,
				   s->spread != MC_SPREAD_NONE, anti);
	return json_pack("{s:s, s:s, s:o, s:{s:i, s:s, s:s, s:{s:o}, s:{s:{s:o}, s:o}, s:{s:s}, s:i}}", "apiVersion",
			 "apps/v1", "kind", "StatefulSet", "metadata",
			 meta(s, name, with_layout(labels(s, "memcached", "pool", k), g)), "spec", "replicas", replicas,
			 "serviceName", headless, "podManagementPolicy", "Parallel", "selector", "matchLabels",
			 with_layout(selector(s, "pool", k), g), "template", "metadata", "labels",
			 with_layout(labels(s, "memcached", "pool", k), g), "spec", podspec, "updateStrategy", "type",
			 "RollingUpdate", "revisionHistoryLimit", 3);
}

static json_t *headless_service(const memshack_spec *s)
{
	char name[128];
	memshack_headless_name(s, name, sizeof name);
	json_t *svc =
		json_pack("{s:s, s:s, s:o, s:{s:s, s:b, s:o, s:[{s:s, s:i, s:s, s:s}]}}", "apiVersion", "v1", "kind",
			  "Service", "metadata", meta(s, name, labels(s, "memcached", "pool", -1)), "spec", "clusterIP",
			  "None", "publishNotReadyAddresses", 1, "selector", selector(s, "pool", -1), "ports", "name",
			  "memcached", "port", MEMSHACK_MEMCACHED_PORT, "targetPort", "memcached", "protocol", "TCP");
	if (svc && s->monitoring.exporter &&
	    json_array_append_new(json_object_get(json_object_get(svc, "spec"), "ports"),
				  monitoring_service_port(&s->monitoring))) {
		json_decref(svc);
		return NULL;
	}
	return svc;
}

/* The NetworkPolicies: memcached pods from their gateways; gateways from the clients and the operator. */
static int append_network_policies(const memshack_spec *s, const gateway_env *env, json_t *objects)
{
	char name[128];
	json_t *pool_meta = meta_base(s, labels(s, "memcached", "pool", -1)),
	       *gw_meta = meta_base(s, labels(s, "mcrouter", "gateway", -1));
	json_t *pools = selector(s, "pool", -1), *gateways = selector(s, "gateway", -1);
	json_t *from_gateways = json_pack("[{s:{s:O}}]", "podSelector", "matchLabels", gateways);
	json_t *clients = monitoring_gateway_peers(&s->monitoring, env->operator_namespace);
	int rc = -1;
	if (pool_meta && gw_meta && pools && gateways && from_gateways && clients &&
	    !json_array_append_new(objects, monitoring_network_policy(&s->monitoring,
								      memshack_headless_name(s, name, sizeof name),
								      s->namespace, pool_meta, pools,
								      MEMSHACK_MEMCACHED_PORT, from_gateways)) &&
	    !json_array_append_new(
		    objects, monitoring_network_policy(&s->monitoring, memshack_gateway_name(s, name, sizeof name),
						       s->namespace, gw_meta, gateways, s->mcrouter_port, clients)))
		rc = 0;
	json_decref(pool_meta);
	json_decref(gw_meta);
	json_decref(pools);
	json_decref(gateways);
	json_decref(from_gateways);
	json_decref(clients);
	return rc;
}

/* The ServiceMonitor over both Services (they carry the memshack label). */
static json_t *service_monitor(const memshack_spec *s)
{
	char name[128];
	json_t *base = meta_base(s, labels(s, "memshack", "monitoring", -1));
	json_t *sel = json_pack("{s:s}", MEMSHACK_LABEL, s->name);
	json_t *sm = base && sel
			     ? monitoring_service_monitor(&s->monitoring, memshack_gateway_name(s, name, sizeof name),
							  s->namespace, base, sel)
			     : NULL;
	json_decref(base);
	json_decref(sel);
	return sm;
}

size_t memshack_desired_count(const memshack_spec *s)
{
	return (size_t)s->num_replicas + 6 + (s->monitoring.network_policy ? 2 : 0) +
	       (s->monitoring.service_monitor ? 1 : 0);
}

static json_t *pdb(const memshack_spec *s, const char *name, const char *app, const char *component)
{
	return json_pack("{s:s, s:s, s:o, s:{s:i, s:{s:o}}}", "apiVersion", "policy/v1", "kind", "PodDisruptionBudget",
			 "metadata", meta(s, name, labels(s, app, component, -1)), "spec", "maxUnavailable", 1,
			 "selector", "matchLabels", selector(s, component, -1));
}

static gateway_params gateway_of(const memshack_spec *s, char *name, char *cfg, json_t *base, json_t *sel,
				 json_t *sidecar, json_t *metrics_port)
{
	gateway_params p = { .name = memshack_gateway_name(s, name, 128),
			     .namespace = s->namespace,
			     .config_map = memshack_config_name(s, cfg, 128),
			     .metadata = base,
			     .selector = sel,
			     .image = s->mcrouter_image,
			     .port = s->mcrouter_port,
			     .replicas = s->mcrouter_pool_size,
			     .extra_args = s->mcrouter_args,
			     .resources = s->mcrouter_resources,
			     .node_selector = s->node_selector,
			     .tolerations = s->tolerations,
			     .priority_class = s->priority_class,
			     .spread = s->spread != MC_SPREAD_NONE,
			     .sidecar = sidecar,
			     .metrics_port = metrics_port };
	return p;
}

/*
 * Appends the gateway's objects (ConfigMap, Deployment, Service, PDB), the
 * NetworkPolicies and the ServiceMonitor the spec asks for to out->objects;
 * one that could not be built is missing (the caller counts). 0, or -1.
 */
static int append_gateway(const memshack_spec *s, const gateway_env *env, memshack_desired *out)
{
	char gname[128], cfg[128];
	json_t *base = meta_base(s, labels(s, "mcrouter", "gateway", -1));
	json_t *sel = selector(s, "gateway", -1);
	const monitoring_spec *mon = &s->monitoring;
	json_t *sidecar, *mport;
	bool parts = !monitoring_gateway_exporter(mon, env->exporter_image, s->mcrouter_port, &sidecar, &mport);
	gateway_params gp = gateway_of(s, gname, cfg, base, sel, sidecar, mport);
	json_array_append_new(out->objects, gateway_config_map(&gp, out->config_text, out->config_md5));
	if (parts) {
		json_array_append_new(out->objects, gateway_deployment(&gp));
		json_array_append_new(out->objects, gateway_service(&gp));
	}
	json_array_append_new(out->objects, gateway_pdb(&gp));
	json_decref(base);
	json_decref(sel);
	json_decref(sidecar);
	json_decref(mport);
	if (mon->network_policy && append_network_policies(s, env, out->objects))
		return -1;
	if (mon->service_monitor)
		json_array_append_new(out->objects, service_monitor(s));
	return 0;
}

memshack_layout memshack_route_layout(const memshack_spec *s, memshack_layout last, const int *ready, int n_ready)
{
	memshack_layout want = { s->num_shards, s->num_replicas, last.generation };
	if (last.shards <= 0 || last.pools <= 0)
		return want;
	memshack_layout r = { want.shards, want.pools < last.pools ? want.pools : last.pools, last.generation };
	if (want.shards > last.shards) {
		for (int k = 0; k < r.pools; k++) {
			if (k >= n_ready || ready[k] < want.shards) {
				r.shards = last.shards;
				break;
			}
		}
	}
	while (r.pools < want.pools && r.pools < n_ready && ready[r.pools] >= r.shards)
		r.pools++;
	return r;
}

int memshack_desired_build(const memshack_spec *s, const gateway_env *env, memshack_desired *out, char *err,
			   size_t errlen)
{
	memshack_layout all = { s->num_shards, s->num_replicas, 0 };
	return memshack_desired_build_routed(s, env, all, out, err, errlen);
}

int memshack_desired_build_routed(const memshack_spec *s, const gateway_env *env, memshack_layout route,
				  memshack_desired *out, char *err, size_t errlen)
{
	if (route.pools < 1 || route.pools > s->num_replicas || route.shards < 1 || route.shards > s->num_shards) {
		memset(out, 0, sizeof *out);
		snprintf(err, errlen, "routed layout %d x %d is outside the spec's %d x %d", route.shards, route.pools,
			 s->num_shards, s->num_replicas);
		return -1;
	}
	memshack_plan plan = { .build = { s->num_shards, s->num_replicas, route.generation }, .route = route };
	return memshack_desired_build_plan(s, env, &plan, out, err, errlen);
}

static bool layout_valid(memshack_layout l, bool may_be_empty)
{
	if (may_be_empty && l.pools == 0)
		return true;
	return l.pools >= 1 && l.pools <= 8 /* numReplicas at most */ && l.shards >= 1 &&
	       l.shards <= MEMSHACK_MAX_MEMBERS && l.generation >= 0 && l.generation <= MEMSHACK_MAX_LAYOUT_GENERATION;
}

/* The plan's pools for mcrouter: the routed ones ("r0"...) and the old ones ("old0"...), servers in shard order. */
typedef struct plan_pools {
	mcrouter_pool *pools; /* route.pools routed, then old.pools old */
	char (*names)[16];
	char **servers;
	size_t n_servers;
	const char **warm_from; /* route.pools entries */
} plan_pools;

static void plan_pools_free(plan_pools *pp)
{
	for (size_t i = 0; pp->servers && i < pp->n_servers; i++)
		free(pp->servers[i]);
	free(pp->servers);
	free(pp->names);
	free(pp->pools);
	free(pp->warm_from);
}

/* Fills pools[first + k] for the layout's pools. 0, or -1 (no memory). */
static int layout_pools(const memshack_spec *s, const char *domain, memshack_layout l, const char *prefix,
			plan_pools *pp, size_t first, size_t *next_server)
{
	char headless[128];
	memshack_headless_name(s, headless, sizeof headless);
	for (int k = 0; k < l.pools; k++) {
		char pool[128];
		memshack_layout_pool_name(s, l.generation, k, pool, sizeof pool);
		char **names = &pp->servers[*next_server];
		for (int i = 0; i < l.shards; i++) {
			char buf[400];
			snprintf(buf, sizeof buf, "%s-%d.%s.%s.svc.%s:%d", pool, i, headless, s->namespace, domain,
				 MEMSHACK_MEMCACHED_PORT);
			if (!(pp->servers[(*next_server)++] = strdup(buf)))
				return -1;
		}
		snprintf(pp->names[first + (size_t)k], sizeof pp->names[0], "%s%d", prefix, k);
		pp->pools[first + (size_t)k] =
			(mcrouter_pool){ pp->names[first + (size_t)k], (const char *const *)names, (size_t)l.shards };
	}
	return 0;
}

static int plan_pools_make(const memshack_spec *s, const char *domain, const memshack_plan *p, plan_pools *pp)
{
	size_t n = (size_t)p->route.pools + (size_t)p->old.pools;
	pp->n_servers = (size_t)p->route.pools * (size_t)p->route.shards + (size_t)p->old.pools * (size_t)p->old.shards;
	pp->pools = calloc(n, sizeof *pp->pools);
	pp->names = calloc(n, sizeof *pp->names);
	pp->servers = calloc(pp->n_servers, sizeof *pp->servers);
	pp->warm_from = calloc((size_t)p->route.pools, sizeof *pp->warm_from);
	if (!pp->pools || !pp->names || !pp->servers || !pp->warm_from)
		return -1;
	size_t next = 0;
	if (layout_pools(s, domain, p->route, "r", pp, 0, &next) ||
	    layout_pools(s, domain, p->old, "old", pp, (size_t)p->route.pools, &next))
		return -1;
	for (int k = 0; k < p->route.pools; k++) {
		if (p->old.pools)
			/* A new layout's pool K is warmed from the old layout's pool K (or its last). */
			pp->warm_from[k] = pp->names[p->route.pools + (k < p->old.pools ? k : p->old.pools - 1)];
		else if (p->warm_replicas_from > 0 && k >= p->warm_replicas_from)
			/* A new replica pool is warmed from a routed pool that was there before it. */
			pp->warm_from[k] = pp->names[k % p->warm_replicas_from];
	}
	return 0;
}

/* The mcrouter config of the plan into out. 0, or -1 with err. */
static int plan_config(const memshack_spec *s, const gateway_env *env, const memshack_plan *p, memshack_desired *out,
		       char *err, size_t errlen)
{
	plan_pools pp = { 0 };
	int rc = -1;
	if (plan_pools_make(s, env->cluster_domain, p, &pp)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	mcrouter_options mo = { s->read_policy, s->write_policy, s->server_timeout_ms };
	mcrouter_migration mig = { .old = pp.pools + p->route.pools,
				   .n_old = (size_t)p->old.pools,
				   .warm_from = pp.warm_from,
				   .warm_exptime_s = p->warm_exptime_s };
	out->config_text = mcrouter_config_render_migration(pp.pools, (size_t)p->route.pools, &mig, &mo, err, errlen);
	if (!out->config_text)
		goto out;
	digest_md5_hex(out->config_text, strlen(out->config_text), out->config_md5);
	rc = 0;
out:
	plan_pools_free(&pp);
	return rc;
}

int memshack_desired_build_plan(const memshack_spec *s, const gateway_env *env, const memshack_plan *p,
				memshack_desired *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (!layout_valid(p->build, false) || !layout_valid(p->route, false) || !layout_valid(p->old, true) ||
	    p->warm_replicas_from < 0 || p->warm_replicas_from >= p->route.pools + 1 ||
	    (p->old.pools && p->old.generation == p->route.generation)) {
		snprintf(err, errlen, "bad layout plan: build %d x %d (g%d), route %d x %d (g%d), old %d x %d (g%d)",
			 p->build.shards, p->build.pools, p->build.generation, p->route.shards, p->route.pools,
			 p->route.generation, p->old.shards, p->old.pools, p->old.generation);
		return -1;
	}
	if (plan_config(s, env, p, out, err, errlen))
		goto fail;
	out->objects = json_array();
	if (!out->objects) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	char name[128];
	json_array_append_new(out->objects, headless_service(s));
	for (int k = 0; k < p->build.pools; k++)
		json_array_append_new(out->objects, statefulset(s, p->build.generation, k, p->build.shards));
	json_array_append_new(out->objects, pdb(s, memshack_headless_name(s, name, sizeof name), "memcached", "pool"));
	if (append_gateway(s, env, out)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/*
	 * Fail closed: an object that could not be built is missing from the
	 * array (appending NULL fails), and a caller must never take a missing
	 * object for one no longer desired.
	 */
	if (json_array_size(out->objects) !=
	    memshack_desired_count(s) - (size_t)s->num_replicas + (size_t)p->build.pools) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	size_t i;
	json_t *o;
	json_array_foreach (out->objects, i, o) {
		if (memshack_stamp_digest(o)) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	return 0;
fail:
	memshack_desired_release(out);
	return -1;
}

void memshack_desired_release(memshack_desired *d)
{
	json_decref(d->objects);
	free(d->config_text);
	memset(d, 0, sizeof *d);
}
