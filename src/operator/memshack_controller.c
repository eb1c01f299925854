#include "operator/memshack_controller.h"

#include "util/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "core/memshack_status.h"
#include "core/migration.h"
#include "operator/children.h"
#include "operator/gateway_probe.h"
#include "runtime/apply.h"
#include "runtime/projection.h"
#include "runtime/watch.h"
#include "util/conditions.h"
#include "util/log.h"
#include "util/sbuf.h"
#include "util/strmap.h"
#include "util/timefmt.h"
#include "util/object_meta.h"

const kube_resource MEMSHACK_RES = { MEMSHACK_GROUP, MEMSHACK_VERSION_NAME, "memshacks", "Memshack", true };

/* Per Memshack: when its config last changed, and which config its gateways were last seen to confirm. */
typedef struct config_memo {
	int64_t since;          /* monotonic µs of the last config change */
	char md5[33];           /* the config last written */
	char confirmed[33];     /* md5 all gateways reported, "" until they do */
	memshack_layout routed; /* what that config routes to */
	/* What the config before it routed to (gateways may serve it until they confirm). */
	memshack_layout prev_routed;
	int64_t status_written; /* monotonic µs of our last status write, 0: none */
	/* The migration record as this operator last wrote it (status.migration may lag); mig_known: set. */
	memshack_migration mig;
	bool mig_known;
	int unreachable_streak; /* reconciles in a row in which a gateway did not answer */
} config_memo;

struct memshack_controller {
	manager *m;
	informer *ms;
	informer *children_inf[CHILD_KINDS];
	informer *gateway_pods; /* projected: name, namespace, the Memshack label, podIP, Ready, deletionTimestamp */
	char *domain;
	char *exporter_image;
	gateway_env env; /* domain, exporter_image, and the operator's namespace (the client's) */
	int64_t removal_delay_us;
	int probe_timeout_ms; /* 0: gateways are not asked */
	pthread_mutex_t mu;
	children *children;
	strmap config_changed; /* "ns/name" -> config_memo* */
	metrics *metrics;
};

/* store_lookup of a child: 1 (*ret set), 0 (not cached) or -1 (no memory). */
static int cached_child(memshack_controller *ctl, child_kind kind, const char *ns, const char *name, json_t **ret)
{
	char key[400];
	snprintf(key, sizeof key, "%s/%s", ns, name);
	return store_lookup(informer_store(ctl->children_inf[kind]), key, ret);
}

/* The labels of a per-Memshack series: namespace="NS",name="NAME" (escaped) into buf; returns buf. */
static char *object_labels(const char *ns, const char *name, char *buf, size_t len)
{
	char ens[300], ename[300];
	snprintf(buf, len, "namespace=\"%s\",name=\"%s\"", metrics_label_escape(ns, ens, sizeof ens),
		 metrics_label_escape(name, ename, sizeof ename));
	return buf;
}

/* Forgets what we applied for a Memshack that is gone. */
static void forget(memshack_controller *ctl, const char *key)
{
	const char *slash = strchr(key, '/');
	if (!slash)
		return;
	children_forget_owner(ctl->children, key, "-memshack");
	pthread_mutex_lock(&ctl->mu);
	free(strmap_remove(&ctl->config_changed, key, NULL));
	pthread_mutex_unlock(&ctl->mu);
	char ns[256], labels[700];
	snprintf(ns, sizeof ns, "%.*s", (int)(slash - key), key);
	metrics_remove(ctl->metrics, "memshack_gateway_config_loaded",
		       object_labels(ns, slash + 1, labels, sizeof labels));
}

/* What the gateway pod cache keeps (new reference). */
static json_t *project_gateway_pod(void *ud, json_t *pod)
{
	(void)ud;
	json_t *md = json_object_get(pod, "metadata"), *st = json_object_get(pod, "status");
	const char *ready = "False";
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(st, "conditions"), i, c) {
		if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Ready"))
			ready = json_string_value(json_object_get(c, "status")) ?: "False";
	}
	json_t *out = json_pack("{s:{s:O*, s:O*, s:O*, s:O*}, s:{s:O*, s:s}}", "metadata", "name",
				json_object_get(md, "name"), "namespace", json_object_get(md, "namespace"),
				"deletionTimestamp", json_object_get(md, "deletionTimestamp"), "labels",
				json_object_get(md, "labels"), "status", "podIP", json_object_get(st, "podIP"), "ready",
				ready);
	return out;
}

/* What a listed gateway pod loses at once: project_gateway_pod and map_gateway_pod read metadata and status. */
static const char *const gateway_pod_list_drop[] = { "spec", NULL };

/* A gateway pod's event wakes its Memshack (the memshack.io/memshack label names it). */
static void map_gateway_pod(void *ud, controller *c, informer_event ev, const char *key, json_t *obj)
{
	(void)ud, (void)ev;
	const char *owner = object_meta_label(obj, MEMSHACK_LABEL);
	const char *slash = strchr(key, '/');
	if (!owner || !slash)
		return;
	char k[600];
	snprintf(k, sizeof k, "%.*s/%s", (int)(slash - key), key, owner);
	controller_enqueue(c, k);
}

static bool gateway_pod_of(void *ud, json_t *pod)
{
	const char *owner = object_meta_label(pod, MEMSHACK_LABEL);
	return owner && !strcmp(owner, ud) && !json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp");
}

/*
 * Asks every ready gateway pod of the Memshack which config it loaded (all at
 * once: one timeout at most, however many do not answer) and fills o->probe. Gateway pods are named <name>-memshack-<hash>-<id>; only
 * those keys are parsed, and the label must name this Memshack.
 */
static void probe_gateways(memshack_controller *ctl, const memshack_spec *s, const char *md5, memshack_observed *o)
{
	memset(&o->probe, 0, sizeof o->probe);
	if (ctl->probe_timeout_ms <= 0)
		return;
	o->probe.probed = true;
	char prefix[400];
	snprintf(prefix, sizeof prefix, "%s/%s-memshack-", s->namespace, s->name);
	json_t *pods = store_list_prefix(informer_store(ctl->gateway_pods), prefix, gateway_pod_of, (void *)s->name);
	gateway_probe_req *reqs = calloc(json_array_size(pods) + 1, sizeof *reqs);
	const char **names = calloc(json_array_size(pods) + 1, sizeof *names);
	size_t n = 0, i;
	json_t *pod;
	json_array_foreach (pods, i, pod) {
		json_t *st = json_object_get(pod, "status");
		const char *ip = json_string_value(json_object_get(st, "podIP"));
		const char *name = object_meta_str(pod, "name");
		if (!reqs || !names || !ip || !name ||
		    strcmp(json_string_value(json_object_get(st, "ready")) ?: "", "True"))
			continue;
		reqs[n] = (gateway_probe_req){ .ip = ip, .port = s->mcrouter_port };
		names[n++] = name;
	}
	/* No memory for the list: nobody asked, so nothing is confirmed (fail closed). */
	o->probe.pods = reqs && names ? (int)n : 1;
	o->probe.unreachable = reqs && names ? 0 : 1;
	gateway_probe_all(reqs, n, ctl->probe_timeout_ms);
	for (i = 0; i < n; i++) {
		if (reqs[i].rc) {
			o->probe.unreachable++;
			snprintf(o->probe.unreachable_pod, sizeof o->probe.unreachable_pod, "%s", names[i]);
			log_write(LOG_DEBUG, "memshack", s->name, "gateway %s: %s", names[i], reqs[i].err);
			metrics_add(ctl->metrics, "memshack_gateway_probes_total", "result=\"unreachable\"", 1);
		} else if (!strcmp(reqs[i].digest, md5)) {
			o->probe.loaded++;
			metrics_add(ctl->metrics, "memshack_gateway_probes_total", "result=\"current\"", 1);
		} else {
			snprintf(o->probe.stale_pod, sizeof o->probe.stale_pod, "%s", names[i]);
			snprintf(o->probe.stale_digest, sizeof o->probe.stale_digest, "%s", reqs[i].digest);
			metrics_add(ctl->metrics, "memshack_gateway_probes_total", "result=\"other\"", 1);
		}
	}
	free(reqs);
	free(names);
	json_decref(pods);
	char labels[700];
	metrics_set(ctl->metrics, "memshack_gateway_config_loaded",
		    object_labels(s->namespace, s->name, labels, sizeof labels), o->probe.loaded);
}

static bool owned_by_filter(void *ud, json_t *obj)
{
	return apply_is_controlled_by(obj, ud);
}

static int write_status(memshack_controller *ctl, json_t *ms, json_t *status, kube_error *err)
{
	if (!conditions_status_differs(json_object_get(ms, "status"), status))
		return 0;
	return apply_status(manager_client(ctl->m), MEMSHACK_FIELD_MANAGER, &MEMSHACK_RES,
			    object_meta_str(ms, "namespace"), object_meta_str(ms, "name"), status, err);
}

/*
 * What the caches say of s's pools (those of layout generation g) and
 * gateway. 0, or -1 when a cached child could not be read (decide nothing).
 */
static int observe(memshack_controller *ctl, const memshack_spec *s, int g, memshack_observed *o)
{
	memset(o, 0, sizeof *o);
	o->pool_generation = g;
	for (int k = 0; k < s->num_replicas && k < MEMSHACK_MAX_POOLS; k++) {
		char name[128];
		memshack_layout_pool_name(s, g, k, name, sizeof name);
		json_t *sts = NULL;
		if (cached_child(ctl, CHILD_STATEFULSET, s->namespace, name, &sts) < 0)
			return -1;
		if (sts && apply_is_controlled_by(sts, s->uid)) {
			o->pools[k].exists = true;
			o->pools[k].ready = (int)json_integer_value(
				json_object_get(json_object_get(sts, "status"), "readyReplicas"));
			o->pools[k].current = memshack_rollout_done(sts, s->num_shards);
		}
		json_decref(sts);
	}
	char name[128];
	memshack_gateway_name(s, name, sizeof name);
	json_t *dep = NULL;
	if (cached_child(ctl, CHILD_DEPLOYMENT, s->namespace, name, &dep) < 0)
		return -1;
	if (dep && apply_is_controlled_by(dep, s->uid)) {
		o->gateway_exists = true;
		o->gateway_ready =
			(int)json_integer_value(json_object_get(json_object_get(dep, "status"), "readyReplicas"));
		o->gateway_current = memshack_rollout_done(dep, s->mcrouter_pool_size);
	}
	json_decref(dep);
	return 0;
}

/*
 * The most pods any pool StatefulSet of s in layout generation g has now
 * (status.replicas), 0 if none is cached; -1 when one could not be read.
 */
static int pool_pods_now(memshack_controller *ctl, const memshack_spec *s, int g)
{
	int most = 0;
	for (int k = 0; k < s->num_replicas && k < MEMSHACK_MAX_POOLS; k++) {
		char name[128];
		memshack_layout_pool_name(s, g, k, name, sizeof name);
		json_t *sts = NULL;
		if (cached_child(ctl, CHILD_STATEFULSET, s->namespace, name, &sts) < 0)
			return -1;
		if (sts && apply_is_controlled_by(sts, s->uid)) {
			int n = (int)json_integer_value(json_object_get(json_object_get(sts, "status"), "replicas"));
			most = n > most ? n : most;
		}
		json_decref(sts);
	}
	return most;
}

/* Whether a child of s (any kind, named <name>-memshack...) is set aside as undecodable. */
static bool children_unreadable(memshack_controller *ctl, const memshack_spec *s)
{
	char prefix[400];
	snprintf(prefix, sizeof prefix, "%s/%s-memshack", s->namespace, s->name);
	for (child_kind k = 0; k < CHILD_KINDS; k++)
		if (informer_quarantined_prefix(ctl->children_inf[k], prefix))
			return true;
	return informer_quarantined_prefix(ctl->gateway_pods, prefix);
}

/* What the phases of one reconcile share. */
typedef struct pass {
	memshack_controller *ctl;
	const char *key;
	json_t *ms;
	memshack_spec *s;
	char now[40];
	char err[512];
	const char *apply_error; /* NULL, or err */
	kube_error kerr;
	memshack_observed o;      /* the caches before applying (they move only with events, which requeue) */
	memshack_observed probed; /* what the gateways answered */
	memshack_layout route;
	migration_step step;         /* what core/migration decided (step.plain: routed as always) */
	memshack_migration recorded; /* the migration record this pass started from */
	memshack_desired d;
	bool confirmed;     /* every gateway serves the config being written */
	bool held;          /* pools kept at their size until the gateways move */
	int64_t config_age; /* since the config being written was written (0: now, or not known) */
	int64_t defer_us;   /* the shortest hold-back of a contested child */
	int64_t now_us;
	sbuf changed;      /* what was applied, for the log and the Event */
	bool changes_lost; /* something was applied that changed could not list (no memory) */
	reconcile_result res;
} pass;

/* Lists one change for the log and the Event; one the list has no memory for is still told, as lost. */
static void note_change(pass *p, const char *what, const char *name)
{
	if (sbuf_addf(&p->changed, "%s%s %s", p->changed.len ? ", " : "", what, name) < 0)
		p->changes_lost = true;
}

static const reconcile_result RECONCILE_FAILED = { RECONCILE_ERROR, 0 };

/* An invalid spec: status Ready=False InvalidSpec, told once (log, Event), not again on every resync. */
static void report_invalid_spec(pass *p)
{
	json_t *gen = json_object_get(json_object_get(p->ms, "metadata"), "generation");
	json_t *st = conditions_invalid_spec_status(json_object_get(p->ms, "status"), json_integer_value(gen), p->err,
						    p->now);
	if (conditions_status_differs(json_object_get(p->ms, "status"), st)) {
		log_write(LOG_WARN, "memshack", p->key, "invalid spec: %s", p->err);
		events_record(manager_events(p->ctl->m), p->ms, "Warning", "InvalidSpec", "Validate", "%s", p->err);
	}
	if (write_status(p->ctl, p->ms, st, &p->kerr)) {
		log_write(LOG_WARN, "memshack", p->key, "writing status: %s", kube_strerror(&p->kerr));
		p->res = RECONCILE_FAILED;
	}
	json_decref(st);
}

/* What the config written last routes to: this operator's memo, or after a restart the status ({0, 0, 0}: nothing). */
static memshack_layout last_routed(pass *p)
{
	memshack_controller *ctl = p->ctl;
	memshack_layout last = { 0, 0, 0 };
	pthread_mutex_lock(&ctl->mu);
	config_memo *memo = strmap_get(&ctl->config_changed, p->key, NULL);
	if (memo)
		last = memo->routed;
	pthread_mutex_unlock(&ctl->mu);
	if (!last.shards) { /* after a restart: what the last status said */
		json_t *rt = json_object_get(json_object_get(p->ms, "status"), "routing");
		last = (memshack_layout){ (int)json_integer_value(json_object_get(rt, "shards")),
					  (int)json_integer_value(json_object_get(rt, "replicaPools")),
					  (int)json_integer_value(json_object_get(rt, "generation")) };
	}
	return last;
}

/*
 * The migration record: this operator's memo, or after a restart
 * status.migration. 0, or -1 when the status holds one that cannot be read
 * (nothing may be decided from it).
 */
static int recorded_migration(pass *p, memshack_migration *m)
{
	memshack_controller *ctl = p->ctl;
	pthread_mutex_lock(&ctl->mu);
	config_memo *memo = strmap_get(&ctl->config_changed, p->key, NULL);
	bool known = memo && memo->mig_known;
	if (known)
		*m = memo->mig;
	pthread_mutex_unlock(&ctl->mu);
	if (known)
		return 0;
	return migration_from_json(json_object_get(json_object_get(p->ms, "status"), "migration"), m);
}

/* What the config routes to when no migration runs: new shards and pools only once their pods are ready. */
static memshack_layout plan_route(pass *p)
{
	int ready[MEMSHACK_MAX_POOLS];
	for (int k = 0; k < MEMSHACK_MAX_POOLS; k++)
		ready[k] = p->o.pools[k].exists ? p->o.pools[k].ready : 0;
	memshack_layout last = last_routed(p);
	if (last.generation != p->step.plan.build.generation)
		last = (memshack_layout){ 0, 0,
					  0 }; /* another layout: route the spec's (its pods are up: it was warmed) */
	int n_pools = p->s->num_replicas < MEMSHACK_MAX_POOLS ? p->s->num_replicas : MEMSHACK_MAX_POOLS;
	memshack_layout r = memshack_route_layout(p->s, last, ready, n_pools);
	r.generation = p->step.plan.build.generation;
	return r;
}

/*
 * When no status says what is routed (a Memshack whose status was lost or
 * never written): the layout its pool StatefulSets make, the newest
 * generation of them, so pods in place are never taken for absent. *l stays
 * {0, 0, 0} when there are none. 0, 1 (pools exist whose size is not known
 * yet), or -1 (the cache could not be read).
 */
static int infer_layout(pass *p, memshack_layout *l)
{
	const memshack_spec *s = p->s;
	if (!s->uid)
		return 0;
	char prefix[400];
	snprintf(prefix, sizeof prefix, "%s/%s-memshack-", s->namespace, s->name);
	json_t *owned = store_list_prefix(informer_store(p->ctl->children_inf[CHILD_STATEFULSET]), prefix,
					  owned_by_filter, s->uid);
	if (!owned)
		return -1;
	size_t i;
	json_t *sts;
	json_array_foreach (owned, i, sts) {
		int g, k;
		if (!memshack_parse_pool_name(s, object_meta_str(sts, "name"), &g, &k))
			continue;
		/* The cache keeps status, not spec: the pods it runs. */
		int n = (int)json_integer_value(json_object_get(json_object_get(sts, "status"), "replicas"));
		if (g > l->generation || !l->pools)
			*l = (memshack_layout){ n, 0, g };
		if (g == l->generation)
			l->pools++, l->shards = n > l->shards ? n : l->shards;
	}
	json_decref(owned);
	if (l->pools && l->shards <= 0)
		return 1; /* pools exist, their size not yet known: decide nothing */
	if (l->pools)
		log_write(LOG_INFO, "memshack", p->key,
			  "no routing in the status: taking %d shards x %d pools (layout %d)", l->shards, l->pools,
			  l->generation);
	return 0;
}

/*
 * Decides the layouts (core/migration) and builds the children: a warm
 * migration's plan, or the spec routed as always. 0, or -1 (p->err says why).
 */
static int plan_and_build(pass *p)
{
	memshack_controller *ctl = p->ctl;
	const memshack_spec *s = p->s;
	if (recorded_migration(p, &p->recorded)) {
		snprintf(p->err, sizeof p->err, "status.migration cannot be read: nothing decided until it can");
		return -1;
	}
	memshack_layout current = last_routed(p);
	int inferred = current.pools ? 0 : infer_layout(p, &current);
	if (inferred) {
		snprintf(p->err, sizeof p->err, "%s",
			 inferred < 0 ? "reading cached pools: out of memory"
				      : "no routing in the status and the pools' size is not known yet");
		return -1;
	}
	int g = p->recorded.phase != MIGRATION_NONE ? p->recorded.to.generation : current.generation;
	if (observe(ctl, s, g, &p->o)) {
		snprintf(p->err, sizeof p->err, "reading cached children: out of memory");
		return -1;
	}
	int ready[MEMSHACK_MAX_POOLS];
	for (int k = 0; k < MEMSHACK_MAX_POOLS; k++)
		ready[k] = p->o.pools[k].exists ? p->o.pools[k].ready : 0;
	migration_input in = { .current = current,
			       .mig = p->recorded,
			       .ready = ready,
			       .n_ready = MEMSHACK_MAX_POOLS,
			       .now = (long long)time(NULL),
			       .window_s = s->migration_window_s,
			       .warm_exptime_s = s->migration_exptime_s };
	p->step = memshack_migration_step(s, s->migration_mode == MC_MIGRATION_WARMUP, &in);
	/* The status shows the pools being built: observe them when that is another generation. */
	if (p->step.plan.build.generation != g && observe(ctl, s, p->step.plan.build.generation, &p->o)) {
		snprintf(p->err, sizeof p->err, "reading cached children: out of memory");
		return -1;
	}
	if (p->step.plain) {
		p->route = plan_route(p);
		return memshack_desired_build_routed(s, &ctl->env, p->route, &p->d, p->err, sizeof p->err);
	}
	p->route = p->step.plan.route;
	return memshack_desired_build_plan(s, &ctl->env, &p->step.plan, &p->d, p->err, sizeof p->err);
}

/*
 * Asks the gateways which config they serve (before applying: shrinking and
 * removed pools wait for it) and holds shrinking pools at the pods a gateway
 * may still route to. 0, or -1 (nothing may be written: the caller fails).
 */
static int probe_and_hold(pass *p)
{
	memshack_controller *ctl = p->ctl;
	const memshack_spec *s = p->s;
	probe_gateways(ctl, s, p->d.config_md5, &p->probed);
	p->confirmed = memshack_gateways_confirmed(s, &p->probed);
	p->now_us = clock_mono_us();
	pthread_mutex_lock(&ctl->mu);
	config_memo *memo = strmap_get(&ctl->config_changed, p->key, NULL);
	/* Age of the config we are about to write: 0 when it differs from the last one written. */
	bool same_config = memo && !strcmp(memo->md5, p->d.config_md5);
	p->config_age = same_config ? p->now_us - memo->since : 0;
	/* Shards a gateway may still route to: those of the config before this one (unknown after a restart: all pods). */
	int pods_now = pool_pods_now(ctl, s, p->route.generation);
	int served = !memo ? pods_now : same_config ? memo->prev_routed.shards : memo->routed.shards;
	pthread_mutex_unlock(&ctl->mu);
	if (pods_now < 0) {
		log_write(LOG_ERROR, "memshack", p->key, "reading cached pools: out of memory");
		return -1;
	}
	int hold_pods = served < pods_now ? served : pods_now;
	/* A migration never shrinks pods in place: its layouts are kept or dropped whole. */
	p->held = p->step.plain && !p->confirmed && p->config_age < ctl->removal_delay_us && hold_pods > s->num_shards;
	if (!p->held)
		return 0;
	if (memshack_desired_hold_shards(&p->d, hold_pods)) {
		/* Fail closed: applying the pools as built would shrink them before the gateways moved. */
		log_write(LOG_ERROR, "memshack", p->key, "cannot build children: out of memory");
		return -1;
	}
	/* Said once when the config is written; each pass that waits again (about once a second) only at debug. */
	log_write(p->config_age == 0 ? LOG_INFO : LOG_DEBUG, "memshack", p->key,
		  "pools keep %d pods until every gateway loaded the config with %d shards", hold_pods, s->num_shards);
	return 0;
}

/* Applies what differs, in order (Services and pools, then the config, then the gateway); records the config's age. */
static void apply_children(pass *p)
{
	memshack_controller *ctl = p->ctl;
	bool config_changed = false, config_current = false;
	size_t i;
	json_t *obj;
	json_array_foreach (p->d.objects, i, obj) {
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		child_kind k = child_kind_named(kind);
		bool applied = false;
		int64_t defer = 0;
		int rc = k == CHILD_KINDS
				 ? -1
				 : children_apply(ctl->children, ctl->children_inf[k], obj, &applied, &defer, &p->kerr);
		if (rc < 0) {
			snprintf(p->err, sizeof p->err, "applying %s %s: %s", kind, object_meta_str(obj, "name"),
				 kube_strerror(&p->kerr));
			log_write(LOG_WARN, "memshack", p->key, "%s", p->err);
			p->apply_error = p->err;
			kube_error_release(&p->kerr);
			break;
		}
		/* Not served: prometheus-operator's CRD is not installed; said in status, tried again (schedule_next). */
		if (k == CHILD_SERVICEMONITOR)
			p->o.service_monitor = rc == CHILDREN_NOT_SERVED ? MONITORING_SM_NO_CRD : MONITORING_SM_APPLIED;
		if (rc == CHILDREN_NOT_SERVED)
			continue;
		children_note_contested(manager_events(ctl->m), p->ms, obj, defer, &p->defer_us);
		if (k == CHILD_CONFIGMAP)
			config_current = true; /* written now, or already so */
		if (!applied)
			continue;
		note_change(p, kind, object_meta_str(obj, "name"));
		if (k == CHILD_CONFIGMAP)
			config_changed = true;
	}
	pthread_mutex_lock(&ctl->mu);
	config_memo *memo = strmap_get(&ctl->config_changed, p->key, NULL);
	/*
	 * The config's age counts from when it was written: a config whose write
	 * failed (or was not reached) is not the one the gateways may have.
	 */
	if (config_current && (config_changed || !memo || strcmp(memo->md5, p->d.config_md5))) {
		if (!memo && (memo = calloc(1, sizeof *memo)) &&
		    strmap_put(&ctl->config_changed, p->key, memo, NULL, NULL)) {
			free(memo);
			memo = NULL;
		}
		/* First sight after a start: the config may be old news, but we cannot know; wait once. */
		if (memo) {
			memo->since = p->now_us, memo->confirmed[0] = '\0';
			snprintf(memo->md5, sizeof memo->md5, "%s", p->d.config_md5);
			memo->prev_routed = memo->routed;
		}
		p->config_age = 0;
	}
	if (memo && !p->apply_error)
		memo->routed = p->route;
	pthread_mutex_unlock(&ctl->mu);
	p->confirmed = p->confirmed && !p->apply_error;
}

/* Announced once per config, when every wanted gateway is ready and on it. */
static void announce_config_loaded(pass *p)
{
	memshack_controller *ctl = p->ctl;
	if (!p->confirmed || p->probed.probe.pods < p->s->mcrouter_pool_size)
		return;
	pthread_mutex_lock(&ctl->mu);
	config_memo *memo = strmap_get(&ctl->config_changed, p->key, NULL);
	bool announced = !memo || !strcmp(memo->confirmed, p->d.config_md5);
	if (memo)
		snprintf(memo->confirmed, sizeof memo->confirmed, "%s", p->d.config_md5);
	pthread_mutex_unlock(&ctl->mu);
	if (announced || p->probed.probe.pods <= 0)
		return;
	log_write(LOG_INFO, "memshack", p->key, "%d of %d gateways loaded config %s (%.1f s after it was written)",
		  p->probed.probe.loaded, p->probed.probe.pods, p->d.config_md5, (double)p->config_age / 1e6);
	events_record(manager_events(ctl->m), p->ms, "Normal", "ConfigLoaded", "Reconcile",
		      "%d of %d gateways loaded config %.12s", p->probed.probe.loaded, p->probed.probe.pods,
		      p->d.config_md5);
}

/*
 * Moves the migration on once every gateway loaded the config written (or,
 * when they are not asked, once the removal bound passed since it was
 * written), records where it stands, and tells a change of phase.
 */
static void advance_migration(pass *p)
{
	memshack_controller *ctl = p->ctl;
	migration_step *st = &p->step;
	if (p->apply_error)
		return; /* nothing recorded: the next pass decides again from the same record */
	/* Decided as pruning is: confirmed, or the bound passed since the config was written (a gateway never answering). */
	bool loaded =
		memshack_prune_decide(true, p->confirmed, p->probed.probe.probed, p->config_age, ctl->removal_delay_us)
			.remove_now;
	if (st->await_gateways && loaded)
		migration_confirmed(st, (long long)time(NULL), p->s->migration_window_s);
	pthread_mutex_lock(&ctl->mu);
	config_memo *memo = strmap_get(&ctl->config_changed, p->key, NULL);
	if (memo)
		memo->mig = st->next, memo->mig_known = true;
	pthread_mutex_unlock(&ctl->mu);
	for (int i = 0; i < st->n_events; i++) {
		const memshack_migration *m = &st->events[i].m;
		char layouts[200], msg[300];
		snprintf(msg, sizeof msg, "%s: %s", migration_phase_names[m->phase],
			 migration_describe(m, layouts, sizeof layouts));
		log_write(LOG_INFO, "memshack", p->key, "migration %s", msg);
		events_record(manager_events(ctl->m), p->ms, "Normal", st->events[i].reason, "Migrate", "%s", msg);
	}
}

/* The names of the pool StatefulSets to keep: every pool of the layouts the step keeps, into names; NULL-ended. */
static void kept_pools(const pass *p, char (*names)[128], const char **keep, int max)
{
	const migration_step *st = &p->step;
	memshack_layout layouts[3] = { st->plan.build, st->next.from, st->next.to };
	int n = 0;
	for (int i = 0; i < st->n_keep; i++) {
		int g = st->keep[i], pools = 0;
		for (int l = 0; l < 3; l++)
			if (layouts[l].generation == g && layouts[l].pools > pools &&
			    (l == 0 || st->next.phase != MIGRATION_NONE))
				pools = layouts[l].pools;
		for (int k = 0; k < pools && n < max; k++)
			keep[n] = memshack_layout_pool_name(p->s, g, k, names[n], sizeof names[n]), n++;
	}
	keep[n] = NULL;
}

static bool is_kept(const char *const *keep, const char *name)
{
	for (; *keep; keep++)
		if (name && !strcmp(*keep, name))
			return true;
	return false;
}

/* Prunes StatefulSets of removed pools, once the gateways have had time to load the new config (memshack_prune_decide). */
static void prune_removed_pools(pass *p)
{
	memshack_controller *ctl = p->ctl;
	const memshack_spec *s = p->s;
	if (p->apply_error || !s->uid)
		return;
	/* Pools are named <name>-memshack-[gG-]pool-<k>: only those keys are parsed (O(own), not O(all)). */
	char pool_prefix[400];
	snprintf(pool_prefix, sizeof pool_prefix, "%s/%s-memshack-", s->namespace, s->name);
	json_t *owned = store_list_prefix(informer_store(ctl->children_inf[CHILD_STATEFULSET]), pool_prefix,
					  owned_by_filter, s->uid);
	if (!owned) {
		/* Fail closed: which pools exist could not be read. */
		snprintf(p->err, sizeof p->err, "pruning removed pools: out of memory");
		p->apply_error = p->err;
		return;
	}
	/* The pools of the layouts kept (on the stack: at most two layouts of MEMSHACK_MAX_POOLS). */
	char names[2 * MEMSHACK_MAX_POOLS][128];
	const char *keep[2 * MEMSHACK_MAX_POOLS + 1] = { NULL };
	kept_pools(p, names, keep, 2 * MEMSHACK_MAX_POOLS);
	if (!keep[0]) {
		/* Fail closed: keeping nothing would delete every pool. */
		log_write(LOG_ERROR, "memshack", p->key, "no pool to keep: pruning skipped");
		json_decref(owned);
		return;
	}
	bool extra = false;
	size_t i;
	json_t *obj;
	json_array_foreach (owned, i, obj) {
		int g, k;
		const char *name = object_meta_str(obj, "name");
		extra |= memshack_parse_pool_name(s, name, &g, &k) && !is_kept(keep, name);
	}
	const memshack_observed *pr = &p->probed;
	memshack_prune_plan plan =
		memshack_prune_decide(extra, p->confirmed, pr->probe.probed, p->config_age, ctl->removal_delay_us);
	if (plan.wait_us > 0) {
		p->res = (reconcile_result){ RECONCILE_REQUEUE_AFTER, plan.wait_us };
		log_write(
			LOG_INFO, "memshack", p->key,
			"removed pools wait for gateways to load the new config (%d of %d confirmed; at most %.1f s more)",
			pr->probe.loaded, pr->probe.pods, (double)(ctl->removal_delay_us - p->config_age) / 1e6);
	} else if (plan.remove_now) {
		if (plan.unconfirmed) {
			log_write(
				LOG_WARN, "memshack", p->key,
				"removing pools after %.0f s although gateways did not confirm the new config (%d of %d)",
				(double)p->config_age / 1e6, pr->probe.loaded, pr->probe.pods);
			events_record(manager_events(ctl->m), p->ms, "Warning", "GatewayNotConfirmed", "Reconcile",
				      "removing pools after %.0f s: %d of %d gateways confirmed config %.12s",
				      (double)p->config_age / 1e6, pr->probe.loaded, pr->probe.pods, p->d.config_md5);
		}
		int n = apply_prune_owned(manager_client(ctl->m), &KUBE_RES_STATEFULSETS, owned, s->uid, keep,
					  &p->kerr);
		if (n < 0) {
			snprintf(p->err, sizeof p->err, "pruning removed pools: %s", kube_strerror(&p->kerr));
			p->apply_error = p->err;
			kube_error_release(&p->kerr);
		} else if (n > 0) {
			char pools[40];
			snprintf(pools, sizeof pools, "%d pool(s)", n);
			note_change(p, "removed", pools);
		}
	}
	json_decref(owned);
}

/* Deletes the NetworkPolicies and the ServiceMonitor this Memshack owns that its spec no longer asks for. */
static void prune_optional_children(pass *p)
{
	static const child_kind kinds[] = { CHILD_NETWORKPOLICY, CHILD_SERVICEMONITOR };
	const memshack_spec *s = p->s;
	if (p->apply_error || !s->uid)
		return;
	char prefix[400];
	snprintf(prefix, sizeof prefix, "%s/%s-memshack", s->namespace, s->name);
	int removed = children_prune_unwanted(p->ctl->children_inf, kinds, 2, manager_client(p->ctl->m), prefix, s->uid,
					      p->d.objects, &p->kerr);
	if (removed < 0) {
		snprintf(p->err, sizeof p->err, "pruning switched-off children: %s", kube_strerror(&p->kerr));
		p->apply_error = p->err;
		kube_error_release(&p->kerr);
	} else if (removed > 0) {
		char what[64];
		snprintf(what, sizeof what, "%d NetworkPolicy/ServiceMonitor", removed);
		note_change(p, "removed", what);
	}
}

/* After this pass's probes: how long until a gateway that did not answer is asked again (memshack_unreachable_retry_us). */
static int64_t unreachable_retry(pass *p)
{
	pthread_mutex_lock(&p->ctl->mu);
	config_memo *memo = strmap_get(&p->ctl->config_changed, p->key, NULL);
	int streak = 0;
	if (memo)
		streak = p->probed.probe.unreachable ? memo->unreachable_streak++ : (memo->unreachable_streak = 0);
	pthread_mutex_unlock(&p->ctl->mu);
	return memshack_unreachable_retry_us(streak);
}

/*
 * When to reconcile again: while gateways have not confirmed, every second up
 * to the bound, past it every 5 s while they answer with an old config, and
 * while one does not answer from 5 s doubling to 60 s (each such probe costs a
 * worker its timeout); held pools at the bound at the latest; a contested
 * child after its hold-back. A failure: with backoff.
 */
static void schedule_next(pass *p)
{
	int64_t bound = p->ctl->removal_delay_us;
	int64_t unreachable_after = unreachable_retry(p);
	if (p->apply_error) {
		p->res = RECONCILE_FAILED;
		return;
	}
	if (p->probed.probe.probed && !p->confirmed && p->res.outcome == RECONCILE_DONE)
		p->res = (reconcile_result){ RECONCILE_REQUEUE_AFTER, p->config_age < bound         ? 1000000
								      : p->probed.probe.unreachable ? unreachable_after
												    : 5000000 };
	if (p->held && p->res.outcome == RECONCILE_DONE)
		p->res = (reconcile_result){ RECONCILE_REQUEUE_AFTER, bound - p->config_age + 100000 };
	/* A migration's window end, or its wait for the gateways. */
	int64_t mig_us = p->step.requeue_s > 0 ? p->step.requeue_s * 1000000 : 0;
	if (mig_us > 0 && (p->res.outcome == RECONCILE_DONE ||
			   (p->res.outcome == RECONCILE_REQUEUE_AFTER && p->res.after_us > mig_us)))
		p->res = (reconcile_result){ RECONCILE_REQUEUE_AFTER, mig_us };
	if (p->defer_us > 0 && (p->res.outcome != RECONCILE_REQUEUE_AFTER || p->res.after_us > p->defer_us + 100000))
		p->res = (reconcile_result){ RECONCILE_REQUEUE_AFTER, p->defer_us + 100000 };
	/* Waiting for prometheus-operator's CRD: look again as often as its cache does (not an error: no backoff). */
	if (p->o.service_monitor == MONITORING_SM_NO_CRD &&
	    (p->res.outcome == RECONCILE_DONE ||
	     (p->res.outcome == RECONCILE_REQUEUE_AFTER && p->res.after_us > WATCH_BACKOFF_MAX_US)))
		p->res = (reconcile_result){ RECONCILE_REQUEUE_AFTER, WATCH_BACKOFF_MAX_US };
}

/* Logs and records what changed, then writes the status if it differs. */
static void report(pass *p)
{
	memshack_controller *ctl = p->ctl;
	if (p->changed.len || p->changes_lost) {
		const char *lost = p->changes_lost ? " (and more: out of memory to list them)" : "";
		log_write(LOG_INFO, "memshack", p->key, "applied: %s%s", p->changed.buf, lost);
		events_record(manager_events(ctl->m), p->ms, "Normal", "Applied", "Reconcile", "applied %s%s",
			      p->changed.buf, lost);
	}
	if (p->apply_error)
		events_record(manager_events(ctl->m), p->ms, "Warning", "ApplyFailed", "Reconcile", "%s",
			      p->apply_error);
	p->o.apply_error = p->apply_error;
	p->o.probe = p->probed.probe;
	p->o.routed_shards = p->route.shards, p->o.routed_pools = p->route.pools;
	p->o.routed_generation = p->route.generation;
	/* The record this pass reached; after a failed apply, the one it started from. */
	p->o.migration = p->apply_error ? &p->recorded : &p->step.next;
	char endpoint[400], selector[200];
	memshack_endpoint(p->s, ctl->domain, endpoint, sizeof endpoint);
	snprintf(selector, sizeof selector, "%s=%s,app.kubernetes.io/component=gateway", MEMSHACK_LABEL, p->s->name);
	json_t *st = memshack_status_build(p->s, &p->o, json_object_get(p->ms, "status"), endpoint, selector,
					   p->d.config_md5, p->now);
	if (!st) {
		log_write(LOG_ERROR, "memshack", p->key, "building status: out of memory");
		p->res = RECONCILE_FAILED;
		return;
	}
	/* While only progress shows, at most one status write per interval (memshack_status_write_decide). */
	pthread_mutex_lock(&ctl->mu);
	config_memo *memo = strmap_get(&ctl->config_changed, p->key, NULL);
	int64_t since = memo && memo->status_written ? clock_mono_us() - memo->status_written : INT64_MAX;
	pthread_mutex_unlock(&ctl->mu);
	memshack_status_plan plan = memshack_status_write_decide(json_object_get(p->ms, "status"), st, since,
								 MEMSHACK_STATUS_PROGRESS_INTERVAL_US,
								 MEMSHACK_STATUS_CONVERGING_INTERVAL_US);
	if (plan.write_now && write_status(ctl, p->ms, st, &p->kerr)) {
		log_write(LOG_WARN, "memshack", p->key, "writing status: %s", kube_strerror(&p->kerr));
		p->res = RECONCILE_FAILED;
	} else if (plan.write_now) {
		pthread_mutex_lock(&ctl->mu);
		if ((memo = strmap_get(&ctl->config_changed, p->key, NULL)))
			memo->status_written = clock_mono_us();
		pthread_mutex_unlock(&ctl->mu);
	} else if (plan.wait_us > 0 &&
		   (p->res.outcome == RECONCILE_DONE ||
		    (p->res.outcome == RECONCILE_REQUEUE_AFTER && p->res.after_us > plan.wait_us))) {
		p->res = (reconcile_result){ RECONCILE_REQUEUE_AFTER, plan.wait_us };
	}
	json_decref(st);
}

/* The reconcile of a readable, live Memshack (p->ms). */
static void reconcile_memshack(pass *p)
{
	if (memshack_spec_parse(p->ms, &p->s, p->err, sizeof p->err)) {
		report_invalid_spec(p);
		return;
	}
	if (children_unreadable(p->ctl, p->s)) {
		/* Fail closed: what we would decide from (pods, pools, the config) is not all readable. */
		log_write(LOG_WARN, "memshack", p->key, "a child cannot be decoded: nothing written until it can be");
		return; /* its next readable version (or deletion) wakes us through its owner reference */
	}
	if (plan_and_build(p)) {
		log_write(LOG_ERROR, "memshack", p->key, "cannot build children: %s", p->err);
		p->res = RECONCILE_FAILED;
		return;
	}
	if (probe_and_hold(p)) {
		p->res = RECONCILE_FAILED;
		return;
	}
	apply_children(p);
	announce_config_loaded(p);
	advance_migration(p);
	prune_removed_pools(p);
	prune_optional_children(p);
	schedule_next(p);
	report(p);
}

static reconcile_result reconcile(void *ud, const char *key)
{
	memshack_controller *ctl = ud;
	reconcile_result done = { RECONCILE_DONE, 0 };
	json_t *ms = NULL;
	if (store_lookup(informer_store(ctl->ms), key, &ms) < 0)
		return RECONCILE_FAILED; /* cached but unreadable for now: not gone */
	if (!ms) {
		int reported = children_report_undecodable(manager_client(ctl->m), manager_events(ctl->m), ctl->ms,
							   &MEMSHACK_RES, "memshack", key);
		if (reported)
			return reported < 0 ? RECONCILE_FAILED : done;
	}
	if (!ms || object_meta_str(ms, "deletionTimestamp")) {
		json_decref(ms);
		forget(ctl, key);
		return done;
	}
	pass p = { .ctl = ctl, .key = key, .ms = ms, .kerr = KUBE_ERROR_INIT, .changed = SBUF_INIT, .res = done };
	timefmt_now_rfc3339(p.now, sizeof p.now);
	reconcile_memshack(&p);
	sbuf_release(&p.changed);
	memshack_desired_release(&p.d);
	kube_error_release(&p.kerr);
	memshack_spec_free(p.s);
	json_decref(ms);
	return p.res;
}

reconcile_result memshack_controller_reconcile(memshack_controller *ctl, const char *key)
{
	return reconcile(ctl, key);
}

store *memshack_controller_cache(memshack_controller *ctl, const char *kind)
{
	if (!strcmp(kind, "Memshack"))
		return informer_store(ctl->ms);
	if (!strcmp(kind, "Pod"))
		return informer_store(ctl->gateway_pods);
	child_kind k = child_kind_named(kind);
	return k < CHILD_KINDS ? informer_store(ctl->children_inf[k]) : NULL;
}

void memshack_controller_free(memshack_controller *ctl)
{
	if (!ctl)
		return;
	children_free(ctl->children);
	strmap_release(&ctl->config_changed, free);
	pthread_mutex_destroy(&ctl->mu);
	free(ctl->domain);
	free(ctl->exporter_image);
	free(ctl);
}

/* Frees what setup built but did not hand to the manager, then ctl. */
static void setup_failed(memshack_controller *ctl, controller *c)
{
	controller_free(c);
	informer_free(ctl->ms);
	for (child_kind k = 0; k < CHILD_KINDS; k++)
		informer_free(ctl->children_inf[k]);
	informer_free(ctl->gateway_pods);
	memshack_controller_free(ctl);
}

memshack_controller *memshack_controller_new(manager *m, const memshack_controller_options *o)
{
	memshack_controller *ctl = calloc(1, sizeof *ctl);
	if (!ctl) {
		log_error("memshack controller setup failed: out of memory");
		return NULL;
	}
	ctl->m = m;
	ctl->metrics = manager_metrics(m);
	ctl->config_changed = (strmap)STRMAP_INIT;
	ctl->domain = strdup(o && o->cluster_domain ? o->cluster_domain : "cluster.local");
	ctl->exporter_image = strdup(o && o->exporter_image ? o->exporter_image : GATEWAY_DEFAULT_EXPORTER_IMAGE);
	ctl->env = (gateway_env){ ctl->domain, ctl->exporter_image, kube_client_namespace(manager_client(m)) };
	ctl->removal_delay_us = o && o->pool_removal_delay_us >= 0 ? o->pool_removal_delay_us : 60LL * 1000000;
	ctl->probe_timeout_ms = o ? o->gateway_probe_timeout_ms : 0;
	int declared = metrics_declare(
		ctl->metrics, "memshack_gateway_config_loaded", METRIC_GAUGE,
		"Ready gateway pods of a Memshack that answered the md5 of its current mcrouter config", NULL, 0);
	declared |= metrics_declare(
		ctl->metrics, "memshack_gateway_probes_total", METRIC_COUNTER,
		"Gateway pods asked for their loaded config, by answer (current, other, unreachable)", NULL, 0);
	pthread_mutex_init(&ctl->mu, NULL);
	ctl->children = children_new(manager_client(m), ctl->metrics);
	kube_error err = KUBE_ERROR_INIT;
	informer_options mo = { .res = &MEMSHACK_RES, .namespace = manager_namespace(m), .metrics = ctl->metrics };
	ctl->ms = informer_new(manager_client(m), &mo, &err);
	for (child_kind k = 0; k < CHILD_KINDS; k++) {
		informer_options co = { .res = child_kind_resource(k),
					.namespace = manager_namespace(m),
					.label_selector = MEMSHACK_LABEL,
					.project = project_owned_child,
					.list_drop = child_list_drop(),
					.metrics = ctl->metrics };
		co.project_ud = (void *)child_kind_projection(k);
		/* Kinds with a generation: spec edits change the projection; status noise outside it wakes nobody. */
		co.notify_kept_changes_only = k == CHILD_STATEFULSET || k == CHILD_DEPLOYMENT || k == CHILD_PDB ||
					      k == CHILD_NETWORKPOLICY || k == CHILD_SERVICEMONITOR;
		co.optional = k == CHILD_SERVICEMONITOR; /* prometheus-operator's CRD may not be installed */
		ctl->children_inf[k] = informer_new(manager_client(m), &co, &err);
	}
	informer_options po = { .res = &KUBE_RES_PODS,
				.namespace = manager_namespace(m),
				.label_selector = "app.kubernetes.io/component=gateway," MEMSHACK_LABEL,
				.project = project_gateway_pod,
				.list_drop = gateway_pod_list_drop,
				.notify_kept_changes_only = true,
				.metrics = ctl->metrics };
	ctl->gateway_pods = informer_new(manager_client(m), &po, &err);
	controller_options cop = { .name = "memshack",
				   .workers = manager_workers(m),
				   .reconcile = reconcile,
				   .ud = ctl,
				   .metrics = ctl->metrics };
	controller *c = controller_new(&cop);
	bool ok = !declared && ctl->domain && ctl->exporter_image && ctl->children && ctl->ms && c &&
		  !controller_watch_primary(c, ctl->ms);
	for (child_kind k = 0; ok && k < CHILD_KINDS; k++)
		ok = ctl->children_inf[k] && !controller_watch_owned(c, ctl->children_inf[k], "Memshack");
	ok = ok && ctl->gateway_pods && !controller_watch_mapped(c, ctl->gateway_pods, map_gateway_pod, NULL);
	/* The manager owns them from here. */
	informer *parts[CHILD_KINDS + 2] = { ctl->ms, ctl->gateway_pods };
	for (child_kind k = 0; k < CHILD_KINDS; k++)
		parts[2 + k] = ctl->children_inf[k];
	if (ok && manager_add(m, parts, sizeof parts / sizeof *parts, c)) {
		kube_error_set(&err, KUBE_ERR_INVALID, "the manager has no room for another controller");
		ok = false;
	}
	if (!ok) {
		log_error("memshack controller setup failed: %s",
			  err.kind != KUBE_OK ? kube_strerror(&err) : "out of memory");
		kube_error_release(&err);
		setup_failed(ctl, c);
		return NULL;
	}
	return ctl;
}
