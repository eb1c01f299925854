#include "core/memshack_status.h"
#include "util/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memshack_desired.h"
#include "util/conditions.h"

static void config_loaded_condition(const memshack_spec *s, const memshack_observed *o, json_t *conds, const char *md5,
				    long long gen, const char *now)
{
	char msg[512];
	const char *status = "False", *reason;
	if (!o->probe.probed) {
		status = "Unknown", reason = "ProbeDisabled";
		snprintf(msg, sizeof msg, "gateways are not asked which config they loaded");
	} else if (o->probe.pods == 0) {
		if (s->mcrouter_pool_size == 0)
			status = "True", reason = "NoGateways";
		else
			reason = "NoReadyGateways";
		snprintf(msg, sizeof msg, "no ready gateway pod to ask");
	} else {
		int n = snprintf(msg, sizeof msg, "%d of %d gateways loaded config %.12s", o->probe.loaded,
				 o->probe.pods, md5);
		if (o->probe.unreachable) {
			reason = "GatewayUnreachable";
			snprintf(msg + n, sizeof msg - (size_t)n, "; %d did not answer (%.100s)", o->probe.unreachable,
				 o->probe.unreachable_pod);
		} else if (o->probe.loaded < o->probe.pods) {
			reason = "Loading";
			snprintf(msg + n, sizeof msg - (size_t)n, "; %.100s serves config %.12s", o->probe.stale_pod,
				 o->probe.stale_digest);
		} else {
			status = "True", reason = "Loaded";
		}
	}
	conditions_set(conds, "ConfigLoaded", status, reason, msg, gen, now);
}

/* Migrating: once a migration ran (the record says so), True while one runs, False (Settled) after. */
static void migrating_condition(const memshack_migration *m, json_t *conds, long long gen, const char *now)
{
	if (!m || (m->phase == MIGRATION_NONE && m->newest <= 0))
		return;
	if (m->phase == MIGRATION_NONE) {
		conditions_set(conds, "Migrating", "False", "Settled", "no migration runs", gen, now);
		return;
	}
	char msg[256], layouts[200], end[40] = "";
	if (m->phase == MIGRATION_WARMING && m->window_end > 0)
		snprintf(end, sizeof end, "; window ends %s",
			 timefmt_rfc3339((int64_t)m->window_end * 1000000, (char[32]){ 0 }, 32));
	snprintf(msg, sizeof msg, "%s%s", migration_describe(m, layouts, sizeof layouts), end);
	conditions_set(conds, "Migrating", "True", migration_phase_names[m->phase], msg, gen, now);
}

/* st (stolen) with status.migration from m, or as it was in old when m is NULL. New reference, NULL: no memory. */
static json_t *record_migration(json_t *st, const memshack_migration *m, json_t *old)
{
	json_t *rec = m ? migration_to_json(m) : json_incref(json_object_get(old, "migration"));
	if (st && m && !rec) {
		json_decref(st);
		return NULL;
	}
	if (st && rec && !json_is_null(rec) && json_object_set(st, "migration", rec)) {
		json_decref(st);
		st = NULL;
	}
	json_decref(rec);
	return st;
}

json_t *memshack_status_build(const memshack_spec *s, const memshack_observed *o, json_t *old, const char *endpoint,
			      const char *selector, const char *config_md5, const char *now)
{
	json_t *pools = json_array();
	int ready_pods = 0, want_pods = s->num_shards * s->num_replicas;
	bool pools_current = true;
	for (int k = 0; k < s->num_replicas && k < MEMSHACK_MAX_POOLS; k++) {
		char name[128];
		memshack_layout_pool_name(s, o->pool_generation, k, name, sizeof name);
		int ready = o->pools[k].exists ? o->pools[k].ready : 0;
		if (ready > s->num_shards)
			ready = s->num_shards;
		ready_pods += ready;
		pools_current &= o->pools[k].exists && o->pools[k].current;
		json_array_append_new(
			pools, json_pack("{s:s, s:i, s:i}", "name", name, "desired", s->num_shards, "ready", ready));
	}
	int gw_ready = o->gateway_exists ? o->gateway_ready : 0;
	if (gw_ready > s->mcrouter_pool_size)
		gw_ready = s->mcrouter_pool_size;
	json_t *conds = conditions_copy_of(old);
	char msg[256];
	snprintf(msg, sizeof msg, "%d of %d memcached pods and %d of %d gateways ready", ready_pods, want_pods,
		 gw_ready, s->mcrouter_pool_size);
	bool all_ready = ready_pods == want_pods && gw_ready == s->mcrouter_pool_size;
	long long gen = s->generation;
	if (o->apply_error) {
		conditions_set(conds, "Ready", all_ready ? "True" : "False", all_ready ? "Ready" : "PodsNotReady", msg,
			       gen, now);
		conditions_set(conds, "Progressing", "False", "ApplyFailed", o->apply_error, gen, now);
		conditions_set(conds, "Degraded", "True", "ApplyFailed", o->apply_error, gen, now);
	} else if (s->mcrouter_pool_size == 0) {
		conditions_set(conds, "Ready", "False", "NoGateways", "mcrouterPoolSize is 0: nothing serves clients",
			       gen, now);
		conditions_set(conds, "Progressing", ready_pods == want_pods && pools_current ? "False" : "True",
			       ready_pods == want_pods && pools_current ? "Stable" : "Scaling", msg, gen, now);
		conditions_set(conds, "Degraded", "False", "AsExpected", "", gen, now);
	} else {
		int rs = o->routed_shards ? o->routed_shards : s->num_shards,
		    rp = o->routed_pools ? o->routed_pools : s->num_replicas;
		bool routed_all = rs == s->num_shards && rp == s->num_replicas;
		if (!routed_all)
			snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
				 "; the config routes to %d shards x %d pools until the new pods are ready", rs, rp);
		bool migrating = o->migration && o->migration->phase != MIGRATION_NONE;
		bool settled = all_ready && pools_current && o->gateway_current && routed_all && !migrating;
		conditions_set(conds, "Ready", all_ready ? "True" : "False", all_ready ? "Ready" : "PodsNotReady", msg,
			       gen, now);
		conditions_set(conds, "Progressing", settled ? "False" : "True", settled ? "Stable" : "Scaling",
			       settled ? "all pools and gateways are at the desired size" : msg, gen, now);
		conditions_set(conds, "Degraded", "False", "AsExpected", "", gen, now);
	}
	config_loaded_condition(s, o, conds, config_md5, gen, now);
	monitoring_set_condition(conds, &s->monitoring, o->service_monitor, gen, now);
	migrating_condition(o->migration, conds, gen, now);
	json_t *routing = json_pack("{s:i, s:i}", "shards", o->routed_shards ? o->routed_shards : s->num_shards,
				    "replicaPools", o->routed_pools ? o->routed_pools : s->num_replicas);
	if (routing && o->routed_generation > 0 &&
	    json_object_set_new(routing, "generation", json_integer(o->routed_generation))) {
		json_decref(routing);
		routing = NULL;
	}
	json_t *st = json_pack("{s:I, s:o, s:o, s:{s:s, s:i, s:i, s:i}, s:i, s:s, s:s, s:s, s:o}", "observedGeneration",
			       (json_int_t)gen, "conditions", conds, "pools", pools, "gateway", "name", "gateway",
			       "desired", s->mcrouter_pool_size, "ready", gw_ready, "configLoaded",
			       o->probe.probed ? o->probe.loaded : 0, "replicas", gw_ready, "selector", selector,
			       "endpoint", endpoint, "configDigest", config_md5, "routing", routing);
	return record_migration(st, o->migration, old);
}

bool memshack_rollout_done(json_t *workload, int want)
{
	if (!workload)
		return false;
	json_t *st = json_object_get(workload, "status");
	json_int_t gen = json_integer_value(json_object_get(json_object_get(workload, "metadata"), "generation"));
	if (json_integer_value(json_object_get(st, "observedGeneration")) < gen)
		return false;
	if (json_integer_value(json_object_get(st, "replicas")) != want ||
	    json_integer_value(json_object_get(st, "updatedReplicas")) != want)
		return false;
	const char *current = json_string_value(json_object_get(st, "currentRevision")),
		   *update = json_string_value(json_object_get(st, "updateRevision"));
	return !current || !update || !strcmp(current, update);
}

bool memshack_gateways_confirmed(const memshack_spec *s, const memshack_observed *o)
{
	if (!o->probe.probed || o->probe.unreachable || o->probe.loaded != o->probe.pods)
		return false;
	return o->probe.pods > 0 || s->mcrouter_pool_size == 0;
}

memshack_prune_plan memshack_prune_decide(bool extra, bool confirmed, bool probed, int64_t config_age_us,
					  int64_t removal_delay_us)
{
	memshack_prune_plan plan = { false, false, 0 };
	if (!extra)
		return plan;
	if (!confirmed && config_age_us < removal_delay_us) {
		plan.wait_us = removal_delay_us - config_age_us + 100000;
		if (probed && plan.wait_us > 1000000)
			plan.wait_us = 1000000; /* ask the gateways again soon */
		return plan;
	}
	plan.remove_now = true;
	plan.unconfirmed = !confirmed && probed;
	return plan;
}

int64_t memshack_unreachable_retry_us(int streak)
{
	int64_t us = 5000000;
	for (int i = 0; i < streak && us < 60000000; i++)
		us *= 2;
	return us < 60000000 ? us : 60000000;
}

/* The status ("True", "False", ...) of condition `type` in st, or "". */
static const char *condition_status(json_t *st, const char *type)
{
	return json_string_value(json_object_get(conditions_find(json_object_get(st, "conditions"), type), "status"))
		       ?: "";
}

/*
 * A copy of st without what moves while pods start: condition messages and
 * times, ready counts; and, while the object is not ready (`converging`),
 * the reasons of every condition but Degraded and the status of
 * ConfigLoaded and Progressing (which gateway answered first, which pods
 * are still missing). NULL: no memory.
 */
static json_t *without_progress(json_t *st, bool converging)
{
	json_t *c = json_deep_copy(st);
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(c, "conditions"), i, x) {
		json_object_del(x, "message");
		json_object_del(x, "lastTransitionTime");
		const char *type = json_string_value(json_object_get(x, "type")) ?: "";
		if (converging && strcmp(type, "Degraded")) {
			json_object_del(x, "reason");
			if (strcmp(type, "Ready"))
				json_object_del(x, "status");
		}
	}
	json_array_foreach (json_object_get(c, "pools"), i, x)
		json_object_del(x, "ready");
	json_t *gw = json_object_get(c, "gateway");
	json_object_del(gw, "ready");
	json_object_del(gw, "configLoaded");
	json_object_del(c, "replicas");
	return c;
}

memshack_status_plan memshack_status_write_decide(json_t *old, json_t *next, int64_t since_write_us,
						  int64_t interval_us, int64_t converging_interval_us)
{
	memshack_status_plan plan = { false, 0 };
	if (!conditions_status_differs(old, next))
		return plan;
	bool converging = old && !strcmp(condition_status(old, "Ready"), "False") &&
			  !strcmp(condition_status(next, "Ready"), "False");
	json_t *a = old ? without_progress(old, converging) : NULL, *b = without_progress(next, converging);
	bool progress_only = a && b && json_equal(a, b);
	json_decref(a);
	json_decref(b);
	if (converging)
		interval_us = converging_interval_us;
	if (!progress_only || since_write_us >= interval_us)
		plan.write_now = true;
	else
		plan.wait_us = interval_us - since_write_us;
	return plan;
}
