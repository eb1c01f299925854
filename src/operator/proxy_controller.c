#include "operator/proxy_controller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/memshack_desired.h"
#include "core/memshack_status.h"
#include "core/proxy.h"
#include "operator/children.h"
#include "runtime/apply.h"
#include "runtime/watch.h"
#include "util/conditions.h"
#include "runtime/projection.h"
#include "util/log.h"
#include "util/sbuf.h"
#include "util/timefmt.h"
#include "util/object_meta.h"

const kube_resource PROXY_RES = { MEMSHACK_GROUP, MEMSHACK_VERSION_NAME, "memcachedproxies", "MemcachedProxy", true };

struct proxy_controller {
	manager *m;
	informer *proxies;
	informer *services;                  /* every Service in scope (projected: name and ports) */
	informer *slices;                    /* EndpointSlices with a service-name label */
	informer *children_inf[CHILD_KINDS]; /* the kinds it makes: Deployment, Service, ConfigMap, PDB */
	children *children;
	char *domain;
	char *exporter_image;
	gateway_env env;
};

/* The kinds of child a MemcachedProxy has. */
static const child_kind proxy_child_kinds[] = { CHILD_DEPLOYMENT, CHILD_SERVICE,       CHILD_CONFIGMAP,
						CHILD_PDB,        CHILD_NETWORKPOLICY, CHILD_SERVICEMONITOR };
/* Those made only when the spec asks (deleted when it no longer does). */
static const child_kind proxy_optional_kinds[] = { CHILD_NETWORKPOLICY, CHILD_SERVICEMONITOR };
#define PROXY_CHILD_KINDS (sizeof proxy_child_kinds / sizeof proxy_child_kinds[0])

/* The cache of the child kind named kind, or NULL when proxies make no such child. */
static informer *cache_for(proxy_controller *pc, const char *kind)
{
	child_kind k = child_kind_named(kind);
	return k < CHILD_KINDS ? pc->children_inf[k] : NULL;
}

typedef struct slice_filter {
	const char *ns, *svc;
} slice_filter;

static bool slice_of(void *ud, json_t *obj)
{
	slice_filter *f = ud;
	const char *svc = object_meta_label(obj, "kubernetes.io/service-name");
	const char *ns = object_meta_str(obj, "namespace");
	return svc && ns && !strcmp(svc, f->svc) && !strcmp(ns, f->ns);
}

/*
 * Applies d's children in order. Returns NULL, or err holding what failed;
 * *config_changed when the ConfigMap was written; *defer_us lowered to a
 * contested child's hold-back.
 */
static const char *apply_children(proxy_controller *pc, json_t *owner, proxy_desired *d, bool *config_changed,
				  int64_t *defer_us, monitoring_sm_state *sm, char *err, size_t errlen)
{
	size_t i;
	json_t *child;
	kube_error kerr = KUBE_ERROR_INIT;
	json_array_foreach (d->objects, i, child) {
		bool applied = false;
		int64_t defer = 0;
		const char *kind = json_string_value(json_object_get(child, "kind"));
		int rc = children_apply(pc->children, cache_for(pc, kind), child, &applied, &defer, &kerr);
		if (rc < 0) {
			snprintf(err, errlen, "applying %s %s: %s", kind, object_meta_str(child, "name"),
				 kube_strerror(&kerr));
			kube_error_release(&kerr);
			return err;
		}
		/* Not served: prometheus-operator's CRD is not installed; said in status, looked at again in 30 s. */
		if (child_kind_named(kind) == CHILD_SERVICEMONITOR)
			*sm = rc == CHILDREN_NOT_SERVED ? MONITORING_SM_NO_CRD : MONITORING_SM_APPLIED;
		if (rc == CHILDREN_NOT_SERVED)
			continue;
		*config_changed |= applied && !strcmp(kind, "ConfigMap");
		children_note_contested(manager_events(pc->m), owner, child, defer, defer_us);
	}
	/* The NetworkPolicy and ServiceMonitor the spec no longer asks for. */
	const char *uid = object_meta_str(owner, "uid");
	char prefix[400];
	snprintf(prefix, sizeof prefix, "%s/%s-proxy", object_meta_str(owner, "namespace"),
		 object_meta_str(owner, "name"));
	if (uid && children_prune_unwanted(pc->children_inf, proxy_optional_kinds, 2, manager_client(pc->m), prefix,
					   uid, d->objects, &kerr) < 0) {
		snprintf(err, errlen, "pruning switched-off children: %s", kube_strerror(&kerr));
		kube_error_release(&kerr);
		return err;
	}
	return NULL;
}

/* Writes status (borrowed; NULL: nothing to write) when it differs from obj's. 0, or -1 (logged). */
static int write_status(proxy_controller *pc, json_t *obj, json_t *status, const char *key)
{
	if (!status || !conditions_status_differs(json_object_get(obj, "status"), status))
		return 0;
	kube_error kerr = KUBE_ERROR_INIT;
	if (apply_status(manager_client(pc->m), MEMSHACK_FIELD_MANAGER, &PROXY_RES, object_meta_str(obj, "namespace"),
			 object_meta_str(obj, "name"), status, &kerr)) {
		log_write(LOG_WARN, "memcachedproxy", key, "writing status: %s", kube_strerror(&kerr));
		kube_error_release(&kerr);
		return -1;
	}
	return 0;
}

/*
 * The servers of p's Service (*servers, a new array) and the result of
 * reading them. 1; 0 when its Service or a slice cannot be decoded (write
 * nothing until it can be: a config without an unreadable slice would drop
 * its servers); -1 on no memory (retry: a shorter list would move keys).
 */
static int read_servers(proxy_controller *pc, const proxy_spec *p, const char *key, json_t **servers,
			proxy_servers_result *pr, char *why, size_t whylen)
{
	char skey[400], slices_prefix[402];
	snprintf(skey, sizeof skey, "%s/%s", p->namespace, p->service_name);
	snprintf(slices_prefix, sizeof slices_prefix, "%s-", skey); /* its EndpointSlices: <service>-<suffix> */
	if (informer_is_quarantined(pc->services, skey) || informer_quarantined_prefix(pc->slices, slices_prefix)) {
		log_write(LOG_WARN, "memcachedproxy", key,
			  "its Service or a slice cannot be decoded: nothing written until it can be");
		return 0;
	}
	slice_filter sf = { p->namespace, p->service_name };
	json_t *service = NULL, *slices = NULL;
	if (store_lookup(informer_store(pc->services), skey, &service) < 0 ||
	    !(slices = store_list(informer_store(pc->slices), slice_of, &sf))) {
		log_write(LOG_ERROR, "memcachedproxy", key, "reading the Service and its slices: out of memory");
		json_decref(service);
		return -1;
	}
	*pr = proxy_servers(p, service, slices, pc->domain, servers, why, whylen);
	json_decref(service);
	json_decref(slices);
	if (*pr == PROXY_SERVERS_NOMEM || (!*servers && !(*servers = json_array()))) {
		log_write(LOG_ERROR, "memcachedproxy", key, "%s", *pr == PROXY_SERVERS_NOMEM ? why : "out of memory");
		return -1;
	}
	return 1;
}

static reconcile_result reconcile(void *ud, const char *key)
{
	proxy_controller *pc = ud;
	reconcile_result done = { RECONCILE_DONE, 0 }, failed = { RECONCILE_ERROR, 0 };
	json_t *obj = NULL;
	if (store_lookup(informer_store(pc->proxies), key, &obj) < 0)
		return failed; /* cached but unreadable for now: not gone */
	if (!obj) {
		int reported = children_report_undecodable(manager_client(pc->m), manager_events(pc->m), pc->proxies,
							   &PROXY_RES, "memcachedproxy", key);
		if (reported)
			return reported < 0 ? failed : done;
	}
	if (!obj || object_meta_str(obj, "deletionTimestamp")) {
		children_forget_owner(pc->children, key, "-proxy"); /* its children go through their owner references */
		json_decref(obj);
		return done;
	}
	char err[512], why[512], now[40];
	timefmt_now_rfc3339(now, sizeof now);
	kube_error kerr = KUBE_ERROR_INIT;
	proxy_spec *p = NULL;
	reconcile_result res = done;
	json_t *status = NULL, *servers = NULL;
	long long gen = json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));
	json_t *old = json_object_get(obj, "status");
	if (proxy_spec_parse(obj, &p, err, sizeof err)) {
		status = conditions_invalid_spec_status(old, gen, err, now);
		/* Told once (log, Event), not again on every resync: zero writes when nothing changed. */
		if (conditions_status_differs(old, status)) {
			log_write(LOG_WARN, "memcachedproxy", key, "invalid spec: %s", err);
			events_record(manager_events(pc->m), obj, "Warning", "InvalidSpec", "Validate", "%s", err);
		}
		goto write_status;
	}
	char skey[400];
	proxy_servers_result pr = PROXY_SERVERS_OK;
	int read = read_servers(pc, p, key, &servers, &pr, why, sizeof why);
	if (read <= 0) {
		res = read < 0 ? failed : done;
		goto out;
	}
	proxy_desired d;
	if (proxy_desired_build(p, servers, &pc->env, &d, err, sizeof err)) {
		log_write(LOG_ERROR, "memcachedproxy", key, "cannot build children: %s", err);
		res = failed;
		goto out;
	}
	int64_t defer_us = 0; /* the shortest hold-back of a contested child */
	bool config_changed = false;
	monitoring_sm_state sm = MONITORING_SM_UNKNOWN;
	const char *apply_error = apply_children(pc, obj, &d, &config_changed, &defer_us, &sm, err, sizeof err);
	if (defer_us > 0 && !apply_error && res.outcome == RECONCILE_DONE)
		res = (reconcile_result){ RECONCILE_REQUEUE_AFTER, defer_us + 100000 };
	if (sm == MONITORING_SM_NO_CRD && !apply_error &&
	    (res.outcome == RECONCILE_DONE || res.after_us > WATCH_BACKOFF_MAX_US))
		res = (reconcile_result){ RECONCILE_REQUEUE_AFTER, WATCH_BACKOFF_MAX_US };
	if (config_changed) {
		log_write(LOG_INFO, "memcachedproxy", key, "config now has %zu servers", json_array_size(servers));
		events_record(manager_events(pc->m), obj, "Normal", "ServersChanged", "Reconcile",
			      "mcrouter config now routes to %zu servers", json_array_size(servers));
	}
	/* Status. */
	char gname[128];
	snprintf(skey, sizeof skey, "%s/%s", p->namespace, proxy_gateway_name(p, gname, sizeof gname));
	json_t *dep = NULL;
	if (store_lookup(informer_store(pc->children_inf[CHILD_DEPLOYMENT]), skey, &dep) < 0) {
		log_write(LOG_ERROR, "memcachedproxy", key, "reading the gateway Deployment: out of memory");
		proxy_desired_release(&d);
		res = failed;
		goto out;
	}
	int ready = dep && apply_is_controlled_by(dep, p->uid)
			    ? (int)json_integer_value(json_object_get(json_object_get(dep, "status"), "readyReplicas"))
			    : 0;
	json_decref(dep);
	status = proxy_status_build(p, pr, why, servers, ready, apply_error, old, pc->domain, d.config_md5, now, sm);
	const char *reason = proxy_servers_reason(pr);
	if (apply_error)
		res = failed;
	proxy_desired_release(&d);
	/* Told once per status change, not again on every resync. */
	if (!apply_error && reason && conditions_status_differs(old, status))
		events_record(manager_events(pc->m), obj, "Warning", reason, "Reconcile", "%s", why);
write_status:
	if (write_status(pc, obj, status, key))
		res = failed;
out:
	json_decref(status);
	json_decref(servers);
	json_decref(obj);
	proxy_spec_free(p);
	kube_error_release(&kerr);
	return res;
}

/* A Service or EndpointSlice changed: wake the proxies that point at it. */
static void map_to_proxies(void *ud, controller *c, informer_event ev, const char *key, json_t *obj)
{
	proxy_controller *pc = ud;
	(void)ev;
	(void)key;
	const char *ns = object_meta_str(obj, "namespace");
	const char *svc = object_meta_label(obj, "kubernetes.io/service-name");
	if (!svc)
		svc = object_meta_str(obj, "name"); /* a Service (slices carry the service-name label) */
	if (!ns || !svc)
		return;
	json_t *all = store_list(informer_store(pc->proxies), NULL, NULL);
	size_t i;
	json_t *p;
	json_array_foreach (all, i, p) {
		const char *target = json_string_value(json_object_get(json_object_get(p, "spec"), "serviceName"));
		const char *pns = object_meta_str(p, "namespace");
		if (target && pns && !strcmp(target, svc) && !strcmp(pns, ns)) {
			char k[512];
			snprintf(k, sizeof k, "%s/%s", pns, object_meta_str(p, "name"));
			controller_enqueue(c, k);
		}
	}
	json_decref(all);
}

static json_t *project_service(void *ud, json_t *obj)
{
	(void)ud;
	json_t *meta = json_object_get(obj, "metadata");
	return json_pack("{s:{s:O?, s:O?, s:O?}, s:{s:O?}}", "metadata", "name", json_object_get(meta, "name"),
			 "namespace", json_object_get(meta, "namespace"), "uid", json_object_get(meta, "uid"), "spec",
			 "ports", json_object_get(json_object_get(obj, "spec"), "ports"));
}

reconcile_result proxy_controller_reconcile(proxy_controller *pc, const char *key)
{
	return reconcile(pc, key);
}

store *proxy_controller_cache(proxy_controller *pc, const char *kind)
{
	informer *inf = !strcmp(kind, "MemcachedProxy")  ? pc->proxies
			: !strcmp(kind, "Backend")       ? pc->services
			: !strcmp(kind, "EndpointSlice") ? pc->slices
							 : cache_for(pc, kind);
	return inf ? informer_store(inf) : NULL;
}

void proxy_controller_free(proxy_controller *pc)
{
	if (!pc)
		return;
	children_free(pc->children);
	free(pc->domain);
	free(pc->exporter_image);
	free(pc);
}

proxy_controller *proxy_controller_new(manager *m, const char *domain, const char *exporter_image)
{
	proxy_controller *pc = calloc(1, sizeof *pc);
	if (!pc) {
		log_error("memcachedproxy controller setup failed: out of memory");
		return NULL;
	}
	pc->m = m;
	pc->domain = strdup(domain ? domain : "cluster.local");
	pc->exporter_image = strdup(exporter_image ? exporter_image : GATEWAY_DEFAULT_EXPORTER_IMAGE);
	pc->env = (gateway_env){ pc->domain, pc->exporter_image, kube_client_namespace(manager_client(m)) };
	pc->children = children_new(manager_client(m), manager_metrics(m));
	kube_error err = KUBE_ERROR_INIT;
	const char *ns = manager_namespace(m);
	metrics *mx = manager_metrics(m);
	informer_options po = { .res = &PROXY_RES, .namespace = ns, .metrics = mx };
	informer_options so = { .res = &KUBE_RES_SERVICES, .namespace = ns, .project = project_service, .metrics = mx };
	informer_options eo = { .res = &KUBE_RES_ENDPOINTSLICES,
				.namespace = ns,
				.label_selector = "kubernetes.io/service-name",
				.metrics = mx };
	pc->proxies = informer_new(manager_client(m), &po, &err);
	pc->services = informer_new(manager_client(m), &so, &err);
	pc->slices = informer_new(manager_client(m), &eo, &err);
	for (size_t i = 0; i < PROXY_CHILD_KINDS; i++) {
		child_kind k = proxy_child_kinds[i];
		informer_options co = { .res = child_kind_resource(k),
					.namespace = ns,
					.label_selector = PROXY_LABEL,
					.project = project_owned_child,
					.project_ud = (void *)child_kind_projection(k),
					.list_drop = child_list_drop(),
					.optional = k == CHILD_SERVICEMONITOR,
					.metrics = mx };
		pc->children_inf[k] = informer_new(manager_client(m), &co, &err);
	}
	controller_options cop = {
		.name = "memcachedproxy", .workers = manager_workers(m), .reconcile = reconcile, .ud = pc, .metrics = mx
	};
	controller *c = controller_new(&cop);
	/* The primary, the two mapped sources, then one cache per child kind (PROXY_CHILD_KINDS). */
	enum { SOURCES = 3, ALL = SOURCES + PROXY_CHILD_KINDS };
	informer *all[ALL] = { pc->proxies, pc->services, pc->slices };
	for (size_t i = 0; i < PROXY_CHILD_KINDS; i++)
		all[SOURCES + i] = pc->children_inf[proxy_child_kinds[i]];
	bool ok = pc->domain && pc->exporter_image && pc->children && pc->proxies && pc->services && pc->slices && c &&
		  !controller_watch_primary(c, pc->proxies) &&
		  !controller_watch_mapped(c, pc->services, map_to_proxies, pc) &&
		  !controller_watch_mapped(c, pc->slices, map_to_proxies, pc);
	for (size_t i = SOURCES; ok && i < ALL; i++)
		ok = all[i] && !controller_watch_owned(c, all[i], "MemcachedProxy");
	/* The manager owns them from here. */
	if (ok && manager_add(m, all, ALL, c)) {
		kube_error_set(&err, KUBE_ERR_INVALID, "the manager has no room for another controller");
		ok = false;
	}
	if (!ok) {
		log_error("memcachedproxy controller setup failed: %s",
			  err.kind != KUBE_OK ? kube_strerror(&err) : "out of memory");
		kube_error_release(&err);
		controller_free(c);
		for (size_t i = 0; i < ALL; i++)
			informer_free(all[i]);
		proxy_controller_free(pc);
		return NULL;
	}
	return pc;
}
