/*
 * Warm migrations (core/migration.h): the phases of a resharding and of a
 * new replica pool, changes during a migration, generations never reused,
 * and the plan's objects and mcrouter config (core/memshack_desired.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mcrouter_config.h"
#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "core/memshack_status.h"
#include "core/migration.h"
#include "util/conditions.h"
#include "util/yaml_json.h"

static const gateway_env TEST_ENV = { .cluster_domain = "cluster.local",
				      .exporter_image = "memshack-operator:test",
				      .operator_namespace = "memshack-system" };

static memshack_spec *spec_of(int shards, int replicas)
{
	char yaml[256];
	snprintf(yaml, sizeof yaml,
		 "apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: test, namespace: ns, uid: u1}\n"
		 "spec: {numShards: %d, numReplicas: %d}\n",
		 shards, replicas);
	char err[512];
	json_t *o = yaml_json_load(yaml, strlen(yaml), err, sizeof err);
	assert_non_null(o);
	memshack_spec *s = NULL;
	assert_int_equal(memshack_spec_parse(o, &s, err, sizeof err), 0);
	json_decref(o);
	return s;
}

static void assert_layout(memshack_layout l, int shards, int pools, int generation)
{
	if (l.shards != shards || l.pools != pools || l.generation != generation) {
		print_message("layout %d x %d (g%d), want %d x %d (g%d)\n", l.shards, l.pools, l.generation, shards,
			      pools, generation);
		fail();
	}
}

/* The step told exactly one change of phase, reason. */
static void assert_event(const migration_step *st, const char *reason)
{
	assert_int_equal(st->n_events, 1);
	assert_string_equal(st->events[0].reason, reason);
}

static void assert_keep(const migration_step *st, int a, int b)
{
	int n = b < 0 ? 1 : 2;
	assert_int_equal(st->n_keep, n);
	bool has_a = st->keep[0] == a || (n == 2 && st->keep[1] == a);
	bool has_b = b < 0 || st->keep[0] == b || st->keep[1] == b;
	assert_true(has_a && has_b);
}

static migration_input input(memshack_layout current, memshack_migration mig, const int *ready, long long now)
{
	return (migration_input){ .current = current,
				  .mig = mig,
				  .ready = ready,
				  .n_ready = 8,
				  .now = now,
				  .window_s = 300,
				  .warm_exptime_s = 600 };
}

static void test_next_generation(void **state)
{
	(void)state;
	assert_int_equal(migration_next_generation(0, 0), 1);
	assert_int_equal(migration_next_generation(3, 7), 8);
	assert_int_equal(migration_next_generation(MEMSHACK_MAX_LAYOUT_GENERATION, 0), 1);
	/* wraps, never onto a live one */
	assert_int_equal(migration_next_generation(MEMSHACK_MAX_LAYOUT_GENERATION, 1), 2);
	assert_int_equal(migration_next_generation(1, MEMSHACK_MAX_LAYOUT_GENERATION), 2);
}

/* numShards 2 -> 3 with 2 replica pools: every phase, its plan, what stays, and the events. */
static void test_reshard_phases(void **state)
{
	(void)state;
	memshack_spec *s = spec_of(3, 2);
	memshack_layout cur = { 2, 2, 0 };
	memshack_migration none = { 0 };
	int not_ready[8] = { 3, 2 }, ready[8] = { 3, 3 };

	migration_input in = input(cur, none, not_ready, 1000);
	migration_step st = memshack_migration_step(s, true, &in);
	assert_false(st.plain);
	assert_int_equal(st.next.phase, MIGRATION_PREPARING);
	assert_event(&st, "MigrationStarted");
	assert_layout(st.plan.build, 3, 2, 1); /* a new generation is built */
	assert_layout(st.plan.route, 2, 2, 0); /* the old one is still routed alone */
	assert_int_equal(st.plan.old.pools, 0);
	assert_keep(&st, 0, 1);
	assert_false(st.await_gateways);

	/* still not every new pod ready: no change */
	in = input(cur, st.next, not_ready, 1010);
	st = memshack_migration_step(s, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_PREPARING);
	assert_int_equal(st.n_events, 0);

	/* every new pod ready: warm-up config, the window waits for the gateways */
	in = input(cur, st.next, ready, 1020);
	st = memshack_migration_step(s, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_WARMING);
	assert_int_equal(st.next.window_end, 0);
	assert_layout(st.plan.route, 3, 2, 1);
	assert_layout(st.plan.old, 2, 2, 0);
	assert_int_equal(st.plan.warm_exptime_s, 600);
	assert_true(st.await_gateways);
	assert_keep(&st, 0, 1);

	/* the gateways loaded it: the window starts */
	migration_confirmed(&st, 1030, 300);
	assert_int_equal(st.next.window_end, 1330);
	assert_int_equal(st.requeue_s, 300);
	assert_event(&st, "MigrationWarming");

	/* within the window: nothing changes, look again at its end */
	in = input(cur, st.next, ready, 1100);
	st = memshack_migration_step(s, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_WARMING);
	assert_false(st.await_gateways);
	assert_int_equal(st.requeue_s, 230);
	assert_layout(st.plan.old, 2, 2, 0);

	/* the window is over: the new layout alone; the old one stays until the gateways load that */
	in = input(cur, st.next, ready, 1330);
	st = memshack_migration_step(s, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_FINISHING);
	assert_layout(st.plan.route, 3, 2, 1);
	assert_int_equal(st.plan.old.pools, 0);
	assert_int_equal(st.plan.warm_replicas_from, 0);
	assert_keep(&st, 0, 1);
	assert_true(st.await_gateways);

	/* not confirmed yet: still both */
	in = input(cur, st.next, ready, 1340);
	st = memshack_migration_step(s, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_FINISHING);
	assert_keep(&st, 0, 1);

	migration_confirmed(&st, 1350, 300);
	assert_int_equal(st.next.phase, MIGRATION_NONE);
	assert_event(&st, "MigrationFinished");
	assert_keep(&st, 1, -1); /* generation 0 may go now */
	assert_int_equal(st.next.newest, 1);

	/* afterwards: plain, in generation 1 */
	in = input((memshack_layout){ 3, 2, 1 }, st.next, ready, 1400);
	st = memshack_migration_step(s, true, &in);
	assert_true(st.plain);
	assert_layout(st.plan.build, 3, 2, 1);
	assert_keep(&st, 1, -1);
	assert_int_equal(st.n_events, 0);
	memshack_spec_free(s);
}

/* numReplicas 2 -> 3: the new pool in the same generation, warmed from a pool that was there. */
static void test_replica_pool_added(void **state)
{
	(void)state;
	memshack_spec *s = spec_of(3, 3);
	memshack_layout cur = { 3, 2, 4 };
	memshack_migration none = { .newest = 4 };
	int ready[8] = { 0, 0, 3 }; /* only the new pool's pods count */
	migration_input in = input(cur, none, ready, 50);
	migration_step st = memshack_migration_step(s, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_WARMING); /* its pods were ready at once */
	assert_event(&st, "MigrationStarted");
	assert_layout(st.plan.build, 3, 3, 4);
	assert_layout(st.plan.route, 3, 3, 4);
	assert_int_equal(st.plan.old.pools, 0);
	assert_int_equal(st.plan.warm_replicas_from, 2);
	assert_keep(&st, 4, -1);
	assert_int_equal(st.next.newest, 4);

	int starting[8] = { 3, 3, 1 };
	in = input(cur, none, starting, 50);
	st = memshack_migration_step(s, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_PREPARING);
	assert_layout(st.plan.route, 3, 2, 4); /* the new pool is not routed before its pods are up */
	memshack_spec_free(s);
}

/* Changes that need no migration, and the mode off. */
static void test_plain(void **state)
{
	(void)state;
	memshack_spec *s = spec_of(3, 1);
	int ready[8] = { 3, 3, 3 };
	migration_input in = input((memshack_layout){ 3, 3, 2 }, (memshack_migration){ .newest = 5 }, ready, 1);
	migration_step st = memshack_migration_step(s, true, &in); /* fewer pools: routed at once */
	assert_true(st.plain);
	assert_layout(st.plan.build, 3, 1, 2);
	assert_int_equal(st.next.newest, 5);

	memshack_spec *t = spec_of(5, 3);
	st = memshack_migration_step(t, false, &in); /* warm-up off: resized in place */
	assert_true(st.plain);
	assert_layout(st.plan.build, 5, 3, 2);

	in.current = (memshack_layout){ 0, 0, 0 }; /* a new Memshack */
	st = memshack_migration_step(t, true, &in);
	assert_true(st.plain);
	assert_layout(st.plan.build, 5, 3, 0);
	memshack_spec_free(s);
	memshack_spec_free(t);
}

/* A change during WARMING turns back to the old layout, then starts from it; never a reused generation. */
static void test_change_during_migration(void **state)
{
	(void)state;
	memshack_spec *s3 = spec_of(3, 2), *s4 = spec_of(4, 2), *s2 = spec_of(2, 2);
	int ready[8] = { 4, 4 };
	memshack_layout cur = { 2, 2, 0 };
	migration_input in = input(cur, (memshack_migration){ 0 }, ready, 100);
	migration_step st = memshack_migration_step(s3, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_WARMING);
	migration_confirmed(&st, 100, 300);

	/* numShards 3 -> 4 within the window */
	in = input(cur, st.next, ready, 200);
	st = memshack_migration_step(s4, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_FINISHING);
	assert_event(&st, "MigrationCancelled");
	assert_layout(st.plan.route, 2, 2, 0); /* the old layout has every write */
	assert_layout(st.plan.build, 2, 2, 0);
	assert_int_equal(st.plan.old.pools, 0);
	assert_keep(&st, 0, 1);
	assert_true(st.await_gateways);
	migration_confirmed(&st, 210, 300);
	assert_int_equal(st.next.phase, MIGRATION_NONE);
	assert_keep(&st, 0, -1); /* the half-built generation 1 goes */
	/* turned back and finished in one pass: both told, each with the migration as it stood then */
	assert_int_equal(st.n_events, 2);
	assert_string_equal(st.events[0].reason, "MigrationCancelled");
	assert_int_equal(st.events[0].m.phase, MIGRATION_FINISHING);
	assert_layout(st.events[0].m.from, 3, 2, 1);
	assert_layout(st.events[0].m.to, 2, 2, 0);
	assert_string_equal(st.events[1].reason, "MigrationFinished");
	assert_int_equal(st.events[1].m.phase, MIGRATION_NONE);

	/* then a migration from generation 0 to 4 shards, in generation 2 (1 may still be going) */
	in = input(cur, st.next, ready, 220);
	st = memshack_migration_step(s4, true, &in);
	assert_event(&st, "MigrationStarted");
	assert_layout(st.plan.build, 4, 2, 2);
	assert_layout(st.plan.old, 2, 2, 0);
	migration_confirmed(&st, 220, 300);

	/* back to the old shape within the window: just the old layout again */
	in = input(cur, st.next, ready, 230);
	st = memshack_migration_step(s2, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_FINISHING);
	assert_layout(st.plan.route, 2, 2, 0);
	migration_confirmed(&st, 240, 300);
	in = input(cur, st.next, ready, 250);
	st = memshack_migration_step(s2, true, &in);
	assert_true(st.plain);
	assert_layout(st.plan.build, 2, 2, 0);
	assert_int_equal(st.next.newest, 2);

	/* a change during FINISHING waits for its end */
	in = input(cur, (memshack_migration){ 0 }, ready, 300);
	st = memshack_migration_step(s3, true, &in);
	migration_confirmed(&st, 300, 0);
	in = input(cur, st.next, ready, 301);
	st = memshack_migration_step(s3, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_FINISHING);
	in = input(cur, st.next, ready, 302);
	st = memshack_migration_step(s4, true, &in);
	assert_int_equal(st.next.phase, MIGRATION_FINISHING);
	assert_layout(st.plan.route, 3, 2, 1);
	assert_int_equal(st.n_events, 0);
	memshack_spec_free(s2);
	memshack_spec_free(s3);
	memshack_spec_free(s4);
}

static json_t *find_named(json_t *array, const char *name)
{
	size_t i;
	json_t *o;
	json_array_foreach (array, i, o) {
		if (!strcmp(json_string_value(json_object_get(o, "name")) ?: "", name))
			return o;
	}
	return NULL;
}

/* The warm-up plan's objects and config: the new generation's names, WarmUpRoute, writes to both. */
static void test_warm_plan_config(void **state)
{
	(void)state;
	memshack_spec *s = spec_of(3, 2);
	memshack_plan plan = { .build = { 3, 2, 1 }, .route = { 3, 2, 1 }, .old = { 2, 2, 0 }, .warm_exptime_s = 600 };
	memshack_desired d;
	char err[256];
	assert_int_equal(memshack_desired_build_plan(s, &TEST_ENV, &plan, &d, err, sizeof err), 0);
	json_t *sts = json_array_get(d.objects, 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(sts, "metadata"), "name")),
			    "test-memshack-g1-pool-0");
	json_t *spec = json_object_get(sts, "spec");
	assert_int_equal(json_integer_value(json_object_get(spec, "replicas")), 3);
	json_t *sel = json_object_get(json_object_get(spec, "selector"), "matchLabels");
	assert_string_equal(json_string_value(json_object_get(sel, MEMSHACK_LAYOUT_LABEL)), "1");
	json_t *tl = json_object_get(json_object_get(json_object_get(spec, "template"), "metadata"), "labels");
	assert_string_equal(json_string_value(json_object_get(tl, MEMSHACK_LAYOUT_LABEL)), "1");

	json_t *cfg = json_loads(d.config_text, 0, NULL);
	assert_non_null(cfg);
	json_t *pools = json_object_get(cfg, "pools");
	assert_int_equal(json_object_size(pools), 4);
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(json_object_get(pools, "r1"), "servers"), 2)),
		"test-memshack-g1-pool-1-2.test-memshack-memcached.ns.svc.cluster.local:11211");
	json_t *old1 = json_object_get(json_object_get(pools, "old1"), "servers");
	assert_int_equal(json_array_size(old1), 2);
	assert_string_equal(json_string_value(json_array_get(old1, 1)),
			    "test-memshack-pool-1-1.test-memshack-memcached.ns.svc.cluster.local:11211");
	json_t *handles = json_object_get(cfg, "named_handles");
	json_t *reads = find_named(handles, "reads"), *writes = find_named(handles, "writes");
	assert_string_equal(json_string_value(json_object_get(reads, "type")), "LatestRoute");
	json_t *w0 = json_array_get(json_object_get(reads, "children"), 0);
	assert_string_equal(json_string_value(json_object_get(w0, "type")), "WarmUpRoute");
	/* cold: reads from r0, the warm-up's copies (add) to every new pool */
	json_t *cold = json_object_get(w0, "cold");
	assert_string_equal(json_string_value(json_object_get(cold, "type")), "OperationSelectorRoute");
	json_t *cold_ops = json_object_get(cold, "operation_policies");
	assert_string_equal(json_string_value(json_object_get(cold_ops, "get")), "PoolRoute|r0");
	assert_string_equal(json_string_value(json_object_get(cold_ops, "cas")), "PoolRoute|r0");
	json_t *fill = json_object_get(cold, "default_policy");
	assert_string_equal(json_string_value(json_object_get(fill, "type")), "AllSyncRoute");
	assert_int_equal(json_array_size(json_object_get(fill, "children")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(fill, "children"), 1)), "PoolRoute|r1");
	assert_string_equal(json_string_value(json_object_get(w0, "warm")), "PoolRoute|old0");
	assert_int_equal(json_integer_value(json_object_get(w0, "exptime")), 600);
	/* every write to both layouts, synchronously */
	assert_string_equal(json_string_value(json_object_get(writes, "type")), "AllSyncRoute");
	json_t *branches = json_object_get(writes, "children");
	assert_int_equal(json_array_size(branches), 2);
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(json_array_get(branches, 1), "children"), 0)),
		"PoolRoute|old0");
	json_t *policies = json_object_get(json_object_get(cfg, "route"), "operation_policies");
	assert_string_equal(json_string_value(json_object_get(policies, "get")), "reads");
	assert_string_equal(json_string_value(json_object_get(json_object_get(cfg, "route"), "default_policy")),
			    "writes");
	json_decref(cfg);
	memshack_desired_release(&d);

	/* A new replica pool warmed from pool 0; nothing old. */
	memshack_spec *t = spec_of(3, 3);
	plan = (memshack_plan){
		.build = { 3, 3, 0 }, .route = { 3, 3, 0 }, .warm_replicas_from = 2, .warm_exptime_s = 60
	};
	assert_int_equal(memshack_desired_build_plan(t, &TEST_ENV, &plan, &d, err, sizeof err), 0);
	cfg = json_loads(d.config_text, 0, NULL);
	reads = find_named(json_object_get(cfg, "named_handles"), "reads");
	assert_true(json_is_string(json_array_get(json_object_get(reads, "children"), 1)));
	json_t *w2 = json_array_get(json_object_get(reads, "children"), 2);
	assert_string_equal(json_string_value(json_object_get(w2, "cold")), "PoolRoute|r2");
	assert_string_equal(json_string_value(json_object_get(w2, "warm")), "PoolRoute|r0");
	assert_int_equal(json_object_size(json_object_get(cfg, "pools")), 3);
	json_decref(cfg);
	memshack_desired_release(&d);

	/* A plan that makes no sense is refused, never half-built. */
	plan = (memshack_plan){ .build = { 3, 2, 1 }, .route = { 3, 2, 1 }, .old = { 2, 2, 1 }, .warm_exptime_s = 60 };
	assert_int_equal(memshack_desired_build_plan(s, &TEST_ENV, &plan, &d, err, sizeof err), -1);
	assert_null(d.objects);
	plan = (memshack_plan){ .build = { 3, 2, 1 }, .route = { 3, 2, 1 }, .old = { 2, 2, 0 } }; /* no exptime */
	assert_int_equal(memshack_desired_build_plan(s, &TEST_ENV, &plan, &d, err, sizeof err), -1);
	assert_non_null(strstr(err, "exptime"));
	memshack_spec_free(s);
	memshack_spec_free(t);
}

/* A warm-up from the pool itself or from a pool that is not there is refused, with the pool named. */
static void test_bad_warm_source(void **state)
{
	(void)state;
	const char *const servers[] = { "a:1", "b:1" };
	mcrouter_pool pools[] = { { "r0", servers, 2 }, { "r1", servers, 2 } };
	mcrouter_options o = { MC_READ_LATEST, MC_WRITE_ALLSYNC, 100 };
	char err[128];
	const char *self[] = { NULL, "r1" }, *absent[] = { "old9", NULL }, *ok[] = { NULL, "r0" };
	mcrouter_migration m = { .warm_from = self, .warm_exptime_s = 60 };
	assert_null(mcrouter_config_render_migration(pools, 2, &m, &o, err, sizeof err));
	assert_string_equal(err, "pool 'r1' cannot be warmed from 'r1'");
	m.warm_from = absent;
	assert_null(mcrouter_config_render_migration(pools, 2, &m, &o, err, sizeof err));
	assert_string_equal(err, "pool 'r0' cannot be warmed from 'old9'");
	m.warm_from = ok;
	char *text = mcrouter_config_render_migration(pools, 2, &m, &o, err, sizeof err);
	assert_non_null(text);
	free(text);
}

/* The record survives the status: every phase written and read back the same; a damaged one is refused. */
static void test_record_round_trip(void **state)
{
	(void)state;
	memshack_migration ms[] = {
		{ .phase = MIGRATION_PREPARING, .from = { 2, 2, 0 }, .to = { 3, 2, 1 }, .newest = 1 },
		{ .phase = MIGRATION_WARMING, .from = { 2, 2, 0 }, .to = { 3, 2, 1 }, .newest = 1 },
		{ .phase = MIGRATION_WARMING,
		  .from = { 3, 2, 7 },
		  .to = { 3, 4, 7 },
		  .window_end = 1764700000,
		  .newest = 9 },
		{ .phase = MIGRATION_FINISHING, .from = { 4, 1, 2 }, .to = { 2, 1, 0 }, .newest = 2 },
		{ .phase = MIGRATION_NONE, .newest = 5 },
	};
	for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) {
		json_t *j = migration_to_json(&ms[i]);
		assert_non_null(j);
		memshack_migration back;
		assert_int_equal(migration_from_json(j, &back), 0);
		assert_int_equal(back.phase, ms[i].phase);
		assert_int_equal(back.newest, ms[i].newest);
		if (ms[i].phase != MIGRATION_NONE) {
			assert_memory_equal(&back.from, &ms[i].from, sizeof back.from);
			assert_memory_equal(&back.to, &ms[i].to, sizeof back.to);
			assert_int_equal(back.window_end, ms[i].window_end);
		}
		json_decref(j);
	}
	/* nothing ever migrated: nothing recorded, and none read */
	memshack_migration none = { 0 }, back = { .phase = MIGRATION_WARMING };
	json_t *j = migration_to_json(&none);
	assert_true(json_is_null(j));
	json_decref(j);
	assert_int_equal(migration_from_json(NULL, &back), 0);
	assert_int_equal(back.phase, MIGRATION_NONE);
	static const char *const bad[] = {
		"{\"phase\": \"Warming\", \"newestGeneration\": 1}",
		"{\"phase\": \"Sideways\", \"newestGeneration\": 1}",
		"{\"phase\": \"None\"}",
		"{\"phase\": \"Warming\", \"newestGeneration\": 1, \"from\": {\"generation\": 0, \"shards\": 2, "
		"\"replicaPools\": 2}, \"to\": {\"generation\": 1, \"shards\": 0, \"replicaPools\": 2}}",
		"{\"phase\": \"Warming\", \"newestGeneration\": 1, \"from\": {\"generation\": 0, \"shards\": 2, "
		"\"replicaPools\": 2}, \"to\": {\"generation\": 1, \"shards\": 3, \"replicaPools\": 2}, "
		"\"windowEnd\": \"soon\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *b = json_loads(bad[i], 0, NULL);
		assert_non_null(b);
		if (migration_from_json(b, &back) != -1) {
			print_message("accepted: %s\n", bad[i]);
			fail();
		}
		json_decref(b);
	}
}

/* The status says where a migration stands: Migrating, status.migration, the routed generation. */
static void test_status_shows_migration(void **state)
{
	(void)state;
	memshack_spec *s = spec_of(3, 2);
	memshack_migration m = { .phase = MIGRATION_WARMING,
				 .from = { 2, 2, 0 },
				 .to = { 3, 2, 1 },
				 .window_end = 1764700000,
				 .newest = 1 };
	memshack_observed o = {
		.routed_shards = 3, .routed_pools = 2, .routed_generation = 1, .pool_generation = 1, .migration = &m
	};
	json_t *st = memshack_status_build(s, &o, NULL, "e:1", "sel", "md5", "2026-12-03T00:00:00Z");
	assert_non_null(st);
	json_t *c = conditions_find(json_object_get(st, "conditions"), "Migrating");
	assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
	assert_string_equal(json_string_value(json_object_get(c, "reason")), "Warming");
	assert_non_null(strstr(json_string_value(json_object_get(c, "message")), "window ends 2025-12-02T18:26:40Z"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "migration"), "phase")), "Warming");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "routing"), "generation")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(st, "pools"), 0), "name")),
			    "test-memshack-g1-pool-0");
	json_t *prog = conditions_find(json_object_get(st, "conditions"), "Progressing");
	assert_string_equal(json_string_value(json_object_get(prog, "status")), "True");

	/* over: Migrating False, the newest generation kept */
	memshack_migration over = { .phase = MIGRATION_NONE, .newest = 1 };
	o.migration = &over;
	json_t *st2 = memshack_status_build(s, &o, st, "e:1", "sel", "md5", "2026-12-03T00:10:00Z");
	c = conditions_find(json_object_get(st2, "conditions"), "Migrating");
	assert_string_equal(json_string_value(json_object_get(c, "status")), "False");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st2, "migration"), "newestGeneration")), 1);
	/* a Memshack that never migrated shows neither */
	memshack_migration never = { 0 };
	o = (memshack_observed){ .migration = &never };
	json_t *st3 = memshack_status_build(s, &o, NULL, "e:1", "sel", "md5", "2026-12-03T00:10:00Z");
	assert_null(conditions_find(json_object_get(st3, "conditions"), "Migrating"));
	assert_null(json_object_get(st3, "migration"));
	assert_null(json_object_get(json_object_get(st3, "routing"), "generation"));
	json_decref(st);
	json_decref(st2);
	json_decref(st3);
	memshack_spec_free(s);
}

/* Pool names, both ways: what the controller prunes and infers from. */
static void test_pool_names(void **state)
{
	(void)state;
	memshack_spec *s = spec_of(2, 2);
	char buf[128];
	int g = -1, k = -1;
	assert_true(memshack_parse_pool_name(s, memshack_layout_pool_name(s, 0, 1, buf, sizeof buf), &g, &k));
	assert_int_equal(g, 0);
	assert_int_equal(k, 1);
	assert_true(memshack_parse_pool_name(s, memshack_layout_pool_name(s, 9999, 7, buf, sizeof buf), &g, &k));
	assert_int_equal(g, 9999);
	assert_int_equal(k, 7);
	static const char *const not_pools[] = {
		"test-memshack-pool-",         "test-memshack-pool-01",   "test-memshack-pool-1x",
		"test-memshack-pool-10",       "test-memshack-g0-pool-1", "test-memshack-g01-pool-1",
		"test-memshack-g10000-pool-1", "test-memshack-g1pool-1",  "test-memshack-g-pool-1",
		"other-memshack-pool-0",       "test-memshack",           "test-memshack-memcached"
	};
	for (size_t i = 0; i < sizeof not_pools / sizeof *not_pools; i++) {
		if (memshack_parse_pool_name(s, not_pools[i], &g, &k)) {
			print_message("taken for a pool: %s\n", not_pools[i]);
			fail();
		}
	}
	assert_false(memshack_parse_pool_name(s, NULL, &g, &k));
	memshack_spec_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_generation),         cmocka_unit_test(test_reshard_phases),
		cmocka_unit_test(test_replica_pool_added),      cmocka_unit_test(test_plain),
		cmocka_unit_test(test_change_during_migration), cmocka_unit_test(test_warm_plan_config),
		cmocka_unit_test(test_bad_warm_source),         cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_status_shows_migration),  cmocka_unit_test(test_pool_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
