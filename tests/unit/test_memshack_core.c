/*
 * The Memshack core: spec defaults and validation, and the semantics of the
 * generated children and mcrouter configs (beyond the golden files).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crd.h"
#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "core/memshack_status.h"
#include "runtime/apply.h"
#include "util/conditions.h"
#include "util/digest.h"
#include "util/yaml_json.h"

static const gateway_env TEST_ENV = { .cluster_domain = "cluster.local",
				      .exporter_image = "memshack-operator:test",
				      .operator_namespace = "memshack-system" };

static json_t *load_yaml(const char *text)
{
	char err[256];
	json_t *v = yaml_json_load(text, strlen(text), err, sizeof err);
	if (!v)
		print_message("yaml: %s\n", err);
	assert_non_null(v);
	return v;
}

static memshack_spec *parse_ok(const char *yaml)
{
	json_t *o = load_yaml(yaml);
	memshack_spec *s = NULL;
	char err[512];
	if (memshack_spec_parse(o, &s, err, sizeof err)) {
		print_message("parse: %s\n", err);
		fail();
	}
	json_decref(o);
	return s;
}

static void test_defaults(void **state)
{
	(void)state;
	memshack_spec *s =
		parse_ok("apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: d, namespace: n}\n");
	assert_int_equal(s->mcrouter_pool_size, 2);
	assert_int_equal(s->num_shards, 3);
	assert_int_equal(s->num_replicas, 2);
	assert_int_equal(s->mcrouter_port, 5000);
	assert_string_equal(s->memcached_image, "memcached:1.6-alpine");
	assert_int_equal(s->memory_mib, 64);
	assert_string_equal(s->max_item_size, "1m");
	assert_int_equal(s->read_policy, MC_READ_LATEST);
	assert_int_equal(s->write_policy, MC_WRITE_ALLSYNC);
	assert_int_equal(s->spread, MC_SPREAD_NODE);
	assert_null(s->uid);
	memshack_spec_free(s);
}

/* Every case in tests/data/invalid-memshacks.yaml is refused by the core with its expected message. */
static void test_invalid_table(void **state)
{
	(void)state;
	FILE *f = fopen(TEST_DATA_DIR "/invalid-memshacks.yaml", "rb");
	assert_non_null(f);
	char *buf = malloc(1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	char err[512];
	json_t *docs = yaml_json_load_all(buf, n, err, sizeof err);
	free(buf);
	assert_non_null(docs);
	assert_true(json_array_size(docs) >= 20);
	size_t i;
	json_t *d;
	json_array_foreach (docs, i, d) {
		json_t *ann = json_object_get(json_object_get(d, "metadata"), "annotations");
		const char *expect = json_string_value(json_object_get(ann, "test.memshack.io/expect"));
		memshack_spec *s = NULL;
		int rc = memshack_spec_parse(d, &s, err, sizeof err);
		if (rc == 0 || !strstr(err, expect)) {
			print_message("case %zu (%s): rc=%d err='%s' want '%s'\n", i,
				      json_string_value(json_object_get(json_object_get(d, "metadata"), "name")), rc,
				      rc ? err : "", expect);
			memshack_spec_free(s);
			fail();
		}
		assert_null(strchr(err, '\n'));
	}
	json_decref(docs);
}

static json_t *find(json_t *objects, const char *kind, const char *name)
{
	size_t i;
	json_t *o;
	json_array_foreach (objects, i, o) {
		if (!strcmp(json_string_value(json_object_get(o, "kind")), kind) &&
		    (!name ||
		     !strcmp(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")), name)))
			return o;
	}
	return NULL;
}

static const char *s_at(json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(o, a), b));
}

static void check_semantics(int shards, int replicas, const char *read, const char *write)
{
	char yaml[512];
	snprintf(yaml, sizeof yaml,
		 "apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: sem, namespace: ns1, uid: u-1}\n"
		 "spec: {numShards: %d, numReplicas: %d, mcrouter: {readPolicy: %s, writePolicy: %s}}\n",
		 shards, replicas, read, write);
	memshack_spec *s = parse_ok(yaml);
	memshack_desired d;
	char err[256];
	assert_int_equal(memshack_desired_build(s, &TEST_ENV, &d, err, sizeof err), 0);
	json_t *cfg = json_loads(d.config_text, 0, NULL);
	assert_non_null(cfg);
	/* Every operation is routed: OperationSelectorRoute with a default_policy. */
	json_t *route = json_object_get(cfg, "route");
	assert_string_equal(s_at(cfg, "route", "type"), "OperationSelectorRoute");
	const char *def = json_string_value(json_object_get(route, "default_policy"));
	assert_non_null(def);
	/* One pool per replica, servers in ordinal order, FQDNs from the StatefulSet and Service names. */
	json_t *pools = json_object_get(cfg, "pools");
	assert_int_equal(json_object_size(pools), replicas);
	json_t *headless = find(d.objects, "Service", "sem-memshack-memcached");
	assert_non_null(headless);
	assert_string_equal(json_string_value(json_object_get(json_object_get(headless, "spec"), "clusterIP")), "None");
	assert_true(json_is_true(json_object_get(json_object_get(headless, "spec"), "publishNotReadyAddresses")));
	for (int k = 0; k < replicas; k++) {
		char pool[16], sts_name[64];
		snprintf(pool, sizeof pool, "r%d", k);
		snprintf(sts_name, sizeof sts_name, "sem-memshack-pool-%d", k);
		json_t *sts = find(d.objects, "StatefulSet", sts_name);
		assert_non_null(sts);
		json_t *spec = json_object_get(sts, "spec");
		assert_int_equal(json_integer_value(json_object_get(spec, "replicas")), shards);
		assert_string_equal(json_string_value(json_object_get(spec, "podManagementPolicy")), "Parallel");
		const char *svc = json_string_value(json_object_get(spec, "serviceName"));
		assert_string_equal(svc, "sem-memshack-memcached");
		json_t *servers = json_object_get(json_object_get(pools, pool), "servers");
		assert_int_equal(json_array_size(servers), shards);
		for (int i = 0; i < shards; i++) {
			char want[256];
			snprintf(want, sizeof want, "%s-%d.%s.ns1.svc.cluster.local:11211", sts_name, i, svc);
			assert_string_equal(json_string_value(json_array_get(servers, (size_t)i)), want);
		}
	}
	if (replicas == 1) {
		assert_string_equal(def, "PoolRoute|r0");
	} else {
		char want_w[64], want_r[64];
		snprintf(want_w, sizeof want_w, "%sRoute", write);
		snprintf(want_r, sizeof want_r, "%sRoute", read);
		assert_string_equal(def, "writes");
		json_t *handles = json_object_get(cfg, "named_handles");
		json_t *reads = NULL, *writes = NULL;
		size_t i;
		json_t *h;
		json_array_foreach (handles, i, h) {
			if (!strcmp(json_string_value(json_object_get(h, "name")), "reads"))
				reads = h;
			else
				writes = h;
		}
		assert_string_equal(json_string_value(json_object_get(writes, "type")), want_w);
		assert_string_equal(json_string_value(json_object_get(reads, "type")), want_r);
		assert_int_equal(json_array_size(json_object_get(writes, "children")), replicas);
		json_t *ops = json_object_get(route, "operation_policies");
		static const char *const read_ops[] = { "get", "gets", "lease-get", "metaget" };
		for (size_t k = 0; k < 4; k++)
			assert_string_equal(json_string_value(json_object_get(ops, read_ops[k])), "reads");
		/* cas never goes through the write (All*) route. */
		assert_string_equal(json_string_value(json_object_get(ops, "cas")), "reads");
	}
	/* The ConfigMap carries exactly this text and its md5. */
	json_t *cm = find(d.objects, "ConfigMap", "sem-memshack-mcrouter");
	assert_string_equal(s_at(cm, "data", "config.json"), d.config_text);
	char md5[33];
	digest_md5_hex(d.config_text, strlen(d.config_text), md5);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(json_object_get(cm, "metadata"), "annotations"),
						  MEMSHACK_CONFIG_MD5_ANNOTATION)),
		md5);
	/* The gateway mounts it as a directory (never subPath) and reads the file. */
	json_t *dep = find(d.objects, "Deployment", "sem-memshack");
	json_t *pod = json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec");
	json_t *c0 = json_array_get(json_object_get(pod, "containers"), 0);
	size_t i;
	json_t *vm;
	bool mounted = false;
	json_array_foreach (json_object_get(c0, "volumeMounts"), i, vm) {
		assert_null(json_object_get(vm, "subPath"));
		if (!strcmp(json_string_value(json_object_get(vm, "mountPath")), "/etc/mcrouter"))
			mounted = true;
	}
	assert_true(mounted);
	assert_string_equal(json_string_value(json_array_get(json_object_get(c0, "args"), 0)),
			    "--config=file:/etc/mcrouter/config.json");
	/* Every object is owned by the Memshack and labelled; every pod is restricted. */
	json_t *o;
	json_array_foreach (d.objects, i, o) {
		assert_true(apply_is_controlled_by(o, "u-1"));
		assert_string_equal(s_at(json_object_get(o, "metadata"), "labels", "app.kubernetes.io/managed-by"),
				    "memshack");
		json_t *tpl = json_object_get(json_object_get(o, "spec"), "template");
		if (!tpl)
			continue;
		json_t *ps = json_object_get(tpl, "spec");
		assert_true(json_is_true(json_object_get(json_object_get(ps, "securityContext"), "runAsNonRoot")));
		assert_string_equal(s_at(json_object_get(ps, "securityContext"), "seccompProfile", "type"),
				    "RuntimeDefault");
		json_t *csc = json_object_get(json_array_get(json_object_get(ps, "containers"), 0), "securityContext");
		assert_true(json_is_false(json_object_get(csc, "allowPrivilegeEscalation")));
		assert_true(json_is_true(json_object_get(csc, "readOnlyRootFilesystem")));
		assert_string_equal(json_string_value(json_array_get(
					    json_object_get(json_object_get(csc, "capabilities"), "drop"), 0)),
				    "ALL");
	}
	json_decref(cfg);
	memshack_desired_release(&d);
	memshack_spec_free(s);
}

static void test_config_semantics(void **state)
{
	(void)state;
	check_semantics(2, 2, "Latest", "AllSync"); /* the seed */
	check_semantics(4, 1, "Latest", "AllSync"); /* sharded only */
	check_semantics(1, 3, "Latest", "AllSync"); /* replicated only */
	check_semantics(1, 1, "Latest", "AllSync");
	check_semantics(64, 3, "Latest", "AllSync"); /* large */
	for (int r = 0; mc_read_policy_names[r]; r++)
		for (int w = 0; mc_write_policy_names[w]; w++)
			check_semantics(2, 2, mc_read_policy_names[r], mc_write_policy_names[w]);
}

static void test_digest_stable_and_sensitive(void **state)
{
	(void)state;
	const char *base =
		"apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: x, namespace: n, uid: u}\n";
	char y1[256], y2[256];
	snprintf(y1, sizeof y1, "%sspec: {mcrouterPoolSize: 2}\n", base);
	snprintf(y2, sizeof y2, "%sspec: {mcrouterPoolSize: 3}\n", base);
	memshack_spec *a = parse_ok(y1), *b = parse_ok(y1), *c = parse_ok(y2);
	memshack_desired da, db, dc;
	char err[128];
	assert_int_equal(memshack_desired_build(a, &TEST_ENV, &da, err, sizeof err), 0);
	assert_int_equal(memshack_desired_build(b, &TEST_ENV, &db, err, sizeof err), 0);
	assert_int_equal(memshack_desired_build(c, &TEST_ENV, &dc, err, sizeof err), 0);
	assert_true(json_equal(da.objects, db.objects));
	/* Only the gateway Deployment changes with mcrouterPoolSize: the pools' digests stay. */
	size_t i;
	json_t *o;
	int differ = 0;
	json_array_foreach (da.objects, i, o) {
		json_t *other = json_array_get(dc.objects, i);
		const char *d1 = s_at(json_object_get(o, "metadata"), "annotations", "memshack.io/applied-digest");
		const char *d2 = s_at(json_object_get(other, "metadata"), "annotations", "memshack.io/applied-digest");
		if (strcmp(d1, d2)) {
			differ++;
			assert_string_equal(json_string_value(json_object_get(o, "kind")), "Deployment");
		}
	}
	assert_int_equal(differ, 1);
	memshack_desired_release(&da);
	memshack_desired_release(&db);
	memshack_desired_release(&dc);
	memshack_spec_free(a);
	memshack_spec_free(b);
	memshack_spec_free(c);
}

static void test_status(void **state)
{
	(void)state;
	memshack_spec *s = parse_ok(
		"apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: st, namespace: n, generation: 4}\n"
		"spec: {numShards: 2, numReplicas: 2, mcrouterPoolSize: 2}\n");
	memshack_observed o = { 0 };
	o.pools[0].exists = o.pools[1].exists = true;
	o.pools[0].ready = 2;
	o.pools[1].ready = 1;
	o.pools[0].current = o.pools[1].current = true;
	o.gateway_exists = o.gateway_current = true;
	o.gateway_ready = 2;
	json_t *st = memshack_status_build(s, &o, NULL, "ep", "sel", "md5", "2026-01-01T00:00:00Z");
	json_t *conds = json_object_get(st, "conditions");
	assert_false(conditions_is_true(conds, "Ready"));
	assert_true(conditions_is_true(conds, "Progressing"));
	assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 4);
	o.pools[1].ready = 2;
	json_t *st2 = memshack_status_build(s, &o, st, "ep", "sel", "md5", "2026-01-01T00:01:00Z");
	conds = json_object_get(st2, "conditions");
	assert_true(conditions_is_true(conds, "Ready"));
	assert_false(conditions_is_true(conds, "Progressing"));
	assert_string_equal(
		json_string_value(json_object_get(conditions_find(conds, "Degraded"), "lastTransitionTime")),
		"2026-01-01T00:00:00Z"); /* unchanged status: time kept */
	assert_true(conditions_status_differs(st, st2));
	json_t *st3 = memshack_status_build(s, &o, st2, "ep", "sel", "md5", "2026-01-01T00:02:00Z");
	assert_false(conditions_status_differs(st2, st3)); /* nothing new: no write */
	json_t *bad = conditions_invalid_spec_status(st3, 5, "spec.numShards: must be between 1 and 256 (got 0)",
						     "2026-01-01T00:03:00Z");
	assert_string_equal(json_string_value(json_object_get(
				    conditions_find(json_object_get(bad, "conditions"), "Ready"), "reason")),
			    "InvalidSpec");
	json_decref(st);
	json_decref(st2);
	json_decref(st3);
	json_decref(bad);
	memshack_spec_free(s);
}

static const char *cond_field(json_t *st, const char *type, const char *field)
{
	return json_string_value(json_object_get(conditions_find(json_object_get(st, "conditions"), type), field));
}

/* Which Ready / Progressing / Degraded a Memshack gets from what was observed (memshack_status_build). */
static void test_status_choice(void **state)
{
	(void)state;
	const char *two = "apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: sc, namespace: n}\n"
			  "spec: {numShards: 2, numReplicas: 2, mcrouterPoolSize: 2}\n";
	const char *none = "apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: sc, namespace: n}\n"
			   "spec: {numShards: 2, numReplicas: 2, mcrouterPoolSize: 0}\n";
	/* A row a decision. */
	/* clang-format off */
	static const struct {
		const char *name;
		bool no_gateways;             /* mcrouterPoolSize 0 */
		int ready0, ready1, gw_ready; /* ready pods of pool 0, pool 1, gateways */
		bool exists1, current1, gw_current;
		int routed_shards; /* 0: the spec */
		const char *apply_error;
		const char *ready, *ready_reason, *progressing, *progressing_reason, *degraded, *degraded_reason;
	} rows[] = {
		{ "all ready and current: Ready, Stable", false, 2, 2, 2, true, true, true, 0, NULL, "True", "Ready",
		  "False", "Stable", "False", "AsExpected" },
		{ "a pod of pool 1 not ready: PodsNotReady, Scaling", false, 2, 1, 2, true, true, true, 0, NULL,
		  "False", "PodsNotReady", "True", "Scaling", "False", "AsExpected" },
		{ "a gateway not ready: PodsNotReady", false, 2, 2, 1, true, true, true, 0, NULL, "False",
		  "PodsNotReady", "True", "Scaling", "False", "AsExpected" },
		{ "pool 1 missing: its ready count is not believed", false, 2, 2, 2, false, true, true, 0, NULL,
		  "False", "PodsNotReady", "True", "Scaling", "False", "AsExpected" },
		{ "a shrinking pool's extra pods do not count", false, 3, 1, 2, true, true, true, 0, NULL, "False",
		  "PodsNotReady", "True", "Scaling", "False", "AsExpected" },
		{ "ready, a pool's rollout not observed yet: still Scaling", false, 2, 2, 2, true, false, true, 0, NULL,
		  "True", "Ready", "True", "Scaling", "False", "AsExpected" },
		{ "ready, the gateway rollout not observed yet: still Scaling", false, 2, 2, 2, true, true, false, 0,
		  NULL, "True", "Ready", "True", "Scaling", "False", "AsExpected" },
		{ "ready, the config still routes to fewer shards: still Scaling", false, 2, 2, 2, true, true, true, 1,
		  NULL, "True", "Ready", "True", "Scaling", "False", "AsExpected" },
		{ "an apply failed, pods ready: Degraded ApplyFailed, not Progressing", false, 2, 2, 2, true, true,
		  true, 0, "applying StatefulSet x: boom", "True", "Ready", "False", "ApplyFailed", "True",
		  "ApplyFailed" },
		{ "an apply failed, pods not ready", false, 1, 2, 2, true, true, true, 0,
		  "applying StatefulSet x: boom", "False", "PodsNotReady", "False", "ApplyFailed", "True",
		  "ApplyFailed" },
		{ "no gateways wanted, pools ready: not Ready (nothing serves), Stable", true, 2, 2, 0, true, true,
		  true, 0, NULL, "False", "NoGateways", "False", "Stable", "False", "AsExpected" },
		{ "no gateways wanted, pools scaling", true, 2, 0, 0, true, true, true, 0, NULL, "False", "NoGateways",
		  "True", "Scaling", "False", "AsExpected" },
	};
	/* clang-format on */
	memshack_spec *with = parse_ok(two), *without = parse_ok(none);
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		memshack_observed o = { 0 };
		o.pools[0].exists = true;
		o.pools[0].current = true;
		o.pools[0].ready = rows[i].ready0;
		o.pools[1].exists = rows[i].exists1;
		o.pools[1].current = rows[i].current1;
		o.pools[1].ready = rows[i].ready1;
		o.gateway_exists = true;
		o.gateway_current = rows[i].gw_current;
		o.gateway_ready = rows[i].gw_ready;
		o.routed_shards = rows[i].routed_shards;
		o.apply_error = rows[i].apply_error;
		json_t *st = memshack_status_build(rows[i].no_gateways ? without : with, &o, NULL, "ep", "sel", "md5",
						   "2026-12-02T00:00:00Z");
		const char *want[][3] = { { "Ready", rows[i].ready, rows[i].ready_reason },
					  { "Progressing", rows[i].progressing, rows[i].progressing_reason },
					  { "Degraded", rows[i].degraded, rows[i].degraded_reason } };
		for (size_t k = 0; k < 3; k++) {
			const char *got = cond_field(st, want[k][0], "status"),
				   *reason = cond_field(st, want[k][0], "reason");
			if (!got || !reason || strcmp(got, want[k][1]) || strcmp(reason, want[k][2]))
				fail_msg("%s: %s=%s (%s), want %s (%s)", rows[i].name, want[k][0], got ? got : "-",
					 reason ? reason : "-", want[k][1], want[k][2]);
		}
		json_decref(st);
	}
	memshack_spec_free(with);
	memshack_spec_free(without);
}

/* What the gateways answered → ConfigLoaded, status.gateway.configLoaded, and whether removed pools may go. */
static void test_status_config_loaded(void **state)
{
	(void)state;
	memshack_spec *s = parse_ok(
		"apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: cl, namespace: n, generation: 1}\n"
		"spec: {numShards: 1, numReplicas: 1, mcrouterPoolSize: 3}\n");
	memshack_observed o = { 0 };
	const char *t = "2026-01-01T00:00:00Z";
	/* probing off: Unknown, never confirmed (the time bound alone decides) */
	json_t *st = memshack_status_build(s, &o, NULL, "ep", "sel", "0123456789abcdef0123456789abcdef", t);
	assert_string_equal(cond_field(st, "ConfigLoaded", "status"), "Unknown");
	assert_string_equal(cond_field(st, "ConfigLoaded", "reason"), "ProbeDisabled");
	assert_false(memshack_gateways_confirmed(s, &o));
	json_decref(st);
	/* 2 of 3 on the current config, one still on an old one: Loading, named */
	o.probe.probed = true;
	o.probe.pods = 3;
	o.probe.loaded = 2;
	snprintf(o.probe.stale_pod, sizeof o.probe.stale_pod, "cl-memshack-abc-1");
	snprintf(o.probe.stale_digest, sizeof o.probe.stale_digest, "ffffffffffffffffffffffffffffffff");
	st = memshack_status_build(s, &o, NULL, "ep", "sel", "0123456789abcdef0123456789abcdef", t);
	assert_string_equal(cond_field(st, "ConfigLoaded", "status"), "False");
	assert_string_equal(cond_field(st, "ConfigLoaded", "reason"), "Loading");
	assert_non_null(
		strstr(cond_field(st, "ConfigLoaded", "message"), "2 of 3 gateways loaded config 0123456789ab"));
	assert_non_null(
		strstr(cond_field(st, "ConfigLoaded", "message"), "cl-memshack-abc-1 serves config ffffffffffff"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "gateway"), "configLoaded")), 2);
	assert_false(memshack_gateways_confirmed(s, &o));
	json_decref(st);
	/* one did not answer: GatewayUnreachable, not confirmed even if the others agree */
	o.probe.loaded = 2;
	o.probe.unreachable = 1;
	o.probe.stale_pod[0] = '\0';
	snprintf(o.probe.unreachable_pod, sizeof o.probe.unreachable_pod, "cl-memshack-abc-2");
	st = memshack_status_build(s, &o, NULL, "ep", "sel", "0123456789abcdef0123456789abcdef", t);
	assert_string_equal(cond_field(st, "ConfigLoaded", "reason"), "GatewayUnreachable");
	assert_non_null(strstr(cond_field(st, "ConfigLoaded", "message"), "cl-memshack-abc-2"));
	assert_false(memshack_gateways_confirmed(s, &o));
	json_decref(st);
	/* all three: Loaded, confirmed */
	o.probe.unreachable = 0;
	o.probe.loaded = 3;
	st = memshack_status_build(s, &o, NULL, "ep", "sel", "0123456789abcdef0123456789abcdef", t);
	assert_string_equal(cond_field(st, "ConfigLoaded", "status"), "True");
	assert_string_equal(cond_field(st, "ConfigLoaded", "reason"), "Loaded");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "gateway"), "configLoaded")), 3);
	assert_true(memshack_gateways_confirmed(s, &o));
	json_decref(st);
	/* no ready gateway although some are wanted: nobody to ask, not confirmed */
	memset(&o.probe, 0, sizeof o.probe);
	o.probe.probed = true;
	st = memshack_status_build(s, &o, NULL, "ep", "sel", "0123456789abcdef0123456789abcdef", t);
	assert_string_equal(cond_field(st, "ConfigLoaded", "reason"), "NoReadyGateways");
	assert_false(memshack_gateways_confirmed(s, &o));
	json_decref(st);
	memshack_spec_free(s);
	/* mcrouterPoolSize 0: no gateway can serve an old config */
	s = parse_ok(
		"apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: cl, namespace: n, generation: 1}\n"
		"spec: {numShards: 1, numReplicas: 1, mcrouterPoolSize: 0}\n");
	assert_true(memshack_gateways_confirmed(s, &o));
	memshack_spec_free(s);
}

/* When a changed status is written (memshack_status_write_decide): at once unless only progress shows. */
static void test_status_write_decision(void **state)
{
	(void)state;
	/* Conditions: 0 Ready, 1 Progressing, 2 Degraded, 3 ConfigLoaded; converging (Ready False). */
	const char *base =
		"{\"observedGeneration\": 2, \"conditions\": [{\"type\": \"Ready\", \"status\": \"False\", \"reason\": "
		"\"PodsNotReady\", \"message\": \"1 of 6 memcached pods\", \"lastTransitionTime\": \"T0\"}, "
		"{\"type\": \"Progressing\", \"status\": \"True\", \"reason\": \"Scaling\", \"message\": \"m\"}, "
		"{\"type\": \"Degraded\", \"status\": \"False\", \"reason\": \"AsExpected\", \"message\": \"\"}, "
		"{\"type\": \"ConfigLoaded\", \"status\": \"False\", \"reason\": \"NoReadyGateways\", \"message\": \"m\"}], "
		"\"pools\": [{\"name\": \"p0\", \"desired\": 3, \"ready\": 1}], \"gateway\": {\"name\": \"g\", "
		"\"desired\": 2, \"ready\": 1, \"configLoaded\": 0}, \"replicas\": 1, \"endpoint\": \"e\", "
		"\"configDigest\": \"d1\", \"routing\": {\"shards\": 3, \"replicaPools\": 2}}";
	/* Test intervals (the decision is the same for any): I while Ready, C while converging. */
	enum { S = 1000000, I = 5 * S, C = 30 * S };
	/*
	 * Each row edits a copy of base (ready: Ready made True in both first):
	 * path (element `at` of an array), new value (JSON), how long since the
	 * last write, the plan.
	 */
	/* clang-format off */
	static const struct {
		const char *name;
		bool ready;
		const char *field;
		int at;
		const char *sub, *value;
		int64_t since;
		bool now;
		int64_t wait;
	} rows[] = {
		{ "nothing changed: no write", false, NULL, 0, NULL, NULL, 0, false, 0 },
		{ "only a transition time: no write", false, "conditions", 0, "lastTransitionTime", "\"T1\"", 0, false, 0 },
		{ "a pool's ready count, 0.3 s after a write: held for the rest of the interval", false, "pools", 0, "ready", "2", S * 3 / 10, false, C - S * 3 / 10 },
		{ "converging, a pool's ready count past the ready interval: still held", false, "pools", 0, "ready", "2", I + S, false, C - I - S },
		{ "a pool's ready count, an interval after: now", false, "pools", 0, "ready", "2", C, true, 0 },
		{ "a pool's ready count, never written by us: now", false, "pools", 0, "ready", "2", INT64_MAX, true, 0 },
		{ "the Ready message alone (counts): held", false, "conditions", 0, "message", "\"2 of 6 memcached pods\"", S / 10, false, C - S / 10 },
		{ "gateway ready count: held", false, "gateway", 0, "ready", "2", S / 2, false, C - S / 2 },
		{ "the scale subresource's replicas: held", false, "replicas", 0, NULL, "2", S / 2, false, C - S / 2 },
		{ "converging, ConfigLoaded turns True: held (progress)", false, "conditions", 3, "status", "\"True\"", S, false, C - S },
		{ "converging, ConfigLoaded's reason: held", false, "conditions", 3, "reason", "\"Loading\"", S, false, C - S },
		{ "converging, Ready's reason: held", false, "conditions", 0, "reason", "\"NoGateways\"", S, false, C - S },
		{ "converging, Progressing's reason: held", false, "conditions", 1, "reason", "\"Waiting\"", S, false, C - S },
		{ "Ready turns True: now, however recent the last write", false, "conditions", 0, "status", "\"True\"", 1, true, 0 },
		{ "Degraded turns True: now", false, "conditions", 2, "status", "\"True\"", 1, true, 0 },
		{ "Degraded's reason: now", false, "conditions", 2, "reason", "\"ApplyFailed\"", 1, true, 0 },
		{ "ready, Ready turns False: now", true, "conditions", 0, "status", "\"False\"", 1, true, 0 },
		{ "ready, ConfigLoaded's status: now", true, "conditions", 3, "status", "\"True\"", 1, true, 0 },
		{ "ready, Progressing's reason: now", true, "conditions", 1, "reason", "\"Stable\"", 1, true, 0 },
		{ "ready, a pool's ready count: held", true, "pools", 0, "ready", "2", S, false, I - S },
		{ "ready, a pool's ready count, an interval after: now", true, "pools", 0, "ready", "2", I, true, 0 },
		{ "observedGeneration: now", false, "observedGeneration", 0, NULL, "3", 1, true, 0 },
		{ "the config digest: now", false, "configDigest", 0, NULL, "\"d2\"", 1, true, 0 },
		{ "routing: now", false, "routing", 0, "shards", "4", 1, true, 0 },
		{ "a pool's desired size: now", false, "pools", 0, "desired", "4", 1, true, 0 },
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		json_t *old = json_loads(base, 0, NULL);
		assert_non_null(old);
		if (rows[i].ready)
			json_object_set_new(json_array_get(json_object_get(old, "conditions"), 0), "status",
					    json_string("True"));
		json_t *next = json_deep_copy(old);
		if (rows[i].field) {
			json_t *v = json_loads(rows[i].value, JSON_DECODE_ANY, NULL),
			       *at = json_object_get(next, rows[i].field);
			if (json_is_array(at))
				at = json_array_get(at, (size_t)rows[i].at);
			if (rows[i].sub)
				json_object_set_new(at, rows[i].sub, v);
			else
				json_object_set_new(next, rows[i].field, v);
		}
		memshack_status_plan p = memshack_status_write_decide(old, next, rows[i].since, I, C);
		if (p.write_now != rows[i].now || p.wait_us != rows[i].wait)
			fail_msg("%s: now %d wait %lld", rows[i].name, p.write_now, (long long)p.wait_us);
		json_decref(old);
		json_decref(next);
	}
	/* The first status of an object: now. */
	json_t *first = json_loads(base, 0, NULL);
	assert_true(memshack_status_write_decide(NULL, first, 0, I, C).write_now);
	json_decref(first);
}

/* How soon a gateway that did not answer is asked again: 5 s, doubling, at most 60 s. */
static void test_unreachable_retry(void **state)
{
	(void)state;
	static const struct {
		int streak;
		int64_t us;
	} rows[] = { { 0, 5000000 },  { 1, 10000000 }, { 2, 20000000 },      { 3, 40000000 },
		     { 4, 60000000 }, { 5, 60000000 }, { 1000000, 60000000 } };
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		if (memshack_unreachable_retry_us(rows[i].streak) != rows[i].us)
			fail_msg("streak %d: %lld", rows[i].streak,
				 (long long)memshack_unreachable_retry_us(rows[i].streak));
}

/* When a pool's or the gateway's rollout is done (memshack_rollout_done), which Progressing reports. */
static void test_rollout_done(void **state)
{
	(void)state;
	/* clang-format off */
	static const struct {
		const char *name, *json;
		int want;
		bool done;
	} rows[] = {
		{ "observed, 3 of 3 on the update revision: done",
		  "{\"metadata\": {\"generation\": 2}, \"status\": {\"observedGeneration\": 2, \"replicas\": 3, \"updatedReplicas\": 3, \"currentRevision\": \"r2\", \"updateRevision\": \"r2\"}}", 3, true },
		{ "a generation not yet observed: not done",
		  "{\"metadata\": {\"generation\": 3}, \"status\": {\"observedGeneration\": 2, \"replicas\": 3, \"updatedReplicas\": 3}}", 3, false },
		{ "a hand edit to 4, observed: not done (4 pods, 3 wanted)",
		  "{\"metadata\": {\"generation\": 3}, \"status\": {\"observedGeneration\": 3, \"replicas\": 4, \"updatedReplicas\": 4}}", 3, false },
		{ "scaling down, one pod still going: not done",
		  "{\"metadata\": {\"generation\": 4}, \"status\": {\"observedGeneration\": 4, \"replicas\": 4, \"updatedReplicas\": 3}}", 3, false },
		{ "a rolling update half way: not done",
		  "{\"metadata\": {\"generation\": 5}, \"status\": {\"observedGeneration\": 5, \"replicas\": 3, \"updatedReplicas\": 1, \"currentRevision\": \"r1\", \"updateRevision\": \"r2\"}}", 3, false },
		{ "all updated, revision not yet switched: not done",
		  "{\"metadata\": {\"generation\": 5}, \"status\": {\"observedGeneration\": 5, \"replicas\": 3, \"updatedReplicas\": 3, \"currentRevision\": \"r1\", \"updateRevision\": \"r2\"}}", 3, false },
		{ "a Deployment (no revisions in its status), 2 of 2: done",
		  "{\"metadata\": {\"generation\": 1}, \"status\": {\"observedGeneration\": 1, \"replicas\": 2, \"updatedReplicas\": 2}}", 2, true },
		{ "a Deployment surging (3 pods for 2): not done",
		  "{\"metadata\": {\"generation\": 2}, \"status\": {\"observedGeneration\": 2, \"replicas\": 3, \"updatedReplicas\": 2}}", 2, false },
		{ "0 wanted, no status counts: done",
		  "{\"metadata\": {\"generation\": 1}, \"status\": {\"observedGeneration\": 1}}", 0, true },
		{ "no status yet: not done", "{\"metadata\": {\"generation\": 1}}", 1, false },
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		json_t *w = json_loads(rows[i].json, 0, NULL);
		assert_non_null(w);
		if (memshack_rollout_done(w, rows[i].want) != rows[i].done)
			fail_msg("%s", rows[i].name);
		json_decref(w);
	}
	assert_false(memshack_rollout_done(NULL, 0));
}

/* When removed pools go (memshack_prune_decide), and which names are the spec's pools. */
static void test_prune_decision(void **state)
{
	(void)state;
	enum { S = 1000000 };
	const int64_t delay = 60LL * S;
	const struct {
		const char *name;
		bool extra, confirmed, probed;
		int64_t age;
		bool now, unconfirmed;
		int64_t wait;
	} rows[] = {
		{ "no removed pool: nothing", false, false, true, 0, false, false, 0 },
		{ "confirmed by every gateway: now", true, true, true, 1 * S, true, false, 0 },
		{ "not confirmed, not asked, just written: wait for the bound", true, false, false, 0, false, false,
		  delay + S / 10 },
		{ "not confirmed, asked: ask again within 1 s", true, false, true, 10 * S, false, false, S },
		{ "not confirmed, asked, 0.5 s before the bound: wait that long", true, false, true, delay - S / 2,
		  false, false, S / 2 + S / 10 },
		{ "not confirmed, not asked, at the bound: now", true, false, false, delay, true, false, 0 },
		{ "not confirmed, asked, at the bound: now, and say so", true, false, true, delay + S, true, true, 0 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		memshack_prune_plan p =
			memshack_prune_decide(rows[i].extra, rows[i].confirmed, rows[i].probed, rows[i].age, delay);
		if (p.remove_now != rows[i].now || p.unconfirmed != rows[i].unconfirmed || p.wait_us != rows[i].wait)
			fail_msg("%s: now %d unconfirmed %d wait %lld", rows[i].name, p.remove_now, p.unconfirmed,
				 (long long)p.wait_us);
	}
	/* --pool-removal-delay 0: no delay, even for a config written this instant. */
	memshack_prune_plan none = memshack_prune_decide(true, false, false, 0, 0);
	assert_true(none.remove_now);
	assert_false(none.unconfirmed);
	assert_int_equal(none.wait_us, 0);
}

/* Growth is routed only once the new pods are ready; shrinking at once; never a flap. */
static void test_route_layout(void **state)
{
	(void)state;
	memshack_spec *s =
		parse_ok("apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: rl, namespace: n}\n"
			 "spec: {numShards: 3, numReplicas: 3, mcrouterPoolSize: 1}\n");
	memshack_layout none = { 0, 0, 0 }, two = { 2, 2, 0 }, r;
	int ready[3] = { 2, 2, 0 };
	r = memshack_route_layout(s, none, ready, 3); /* nothing routed yet: the spec */
	assert_int_equal(r.shards, 3);
	assert_int_equal(r.pools, 3);
	r = memshack_route_layout(s, two, ready, 3); /* third shard and pool not ready: keep 2 x 2 */
	assert_int_equal(r.shards, 2);
	assert_int_equal(r.pools, 2);
	ready[0] = 3; /* pool 0 has its third shard, pool 1 not yet */
	r = memshack_route_layout(s, two, ready, 3);
	assert_int_equal(r.shards, 2);
	ready[1] = 3;
	r = memshack_route_layout(s, two, ready, 3); /* both routed pools have 3: route 3 shards; pool 2 still empty */
	assert_int_equal(r.shards, 3);
	assert_int_equal(r.pools, 2);
	ready[2] = 2; /* pool 2 has 2 of the 3 routed shards: not yet */
	r = memshack_route_layout(s, (memshack_layout){ 3, 2, 0 }, ready, 3);
	assert_int_equal(r.pools, 2);
	ready[2] = 3;
	r = memshack_route_layout(s, (memshack_layout){ 3, 2, 0 }, ready, 3);
	assert_int_equal(r.pools, 3);
	/* a routed pod going unready never shrinks the routing */
	ready[0] = 1;
	r = memshack_route_layout(s, (memshack_layout){ 3, 3, 0 }, ready, 3);
	assert_int_equal(r.shards, 3);
	assert_int_equal(r.pools, 3);
	memshack_spec_free(s);
	/* shrinking is routed at once, whatever is ready */
	s = parse_ok("apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: rl, namespace: n}\n"
		     "spec: {numShards: 2, numReplicas: 1, mcrouterPoolSize: 1}\n");
	int none_ready[1] = { 0 };
	r = memshack_route_layout(s, (memshack_layout){ 3, 3, 0 }, none_ready, 1);
	assert_int_equal(r.shards, 2);
	assert_int_equal(r.pools, 1);
	/* a routed config lists only routed servers; pool StatefulSets follow the spec, or are held */
	memshack_desired d;
	char err[256];
	memshack_spec_free(s);
	s = parse_ok("apiVersion: memshack.io/v1alpha1\nkind: Memshack\nmetadata: {name: rl, namespace: n}\n"
		     "spec: {numShards: 3, numReplicas: 2, mcrouterPoolSize: 1}\n");
	assert_int_equal(memshack_desired_build_routed(s, &TEST_ENV, (memshack_layout){ 2, 1, 0 }, &d, err, sizeof err),
			 0);
	assert_non_null(strstr(d.config_text, "rl-memshack-pool-0-1."));
	assert_null(strstr(d.config_text, "rl-memshack-pool-0-2."));
	assert_null(strstr(d.config_text, "rl-memshack-pool-1-"));
	int sts = 0;
	size_t i;
	json_t *o;
	json_array_foreach (d.objects, i, o) {
		if (!strcmp(json_string_value(json_object_get(o, "kind")), "StatefulSet")) {
			sts++;
			assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas")),
					 3);
		}
	}
	assert_int_equal(sts, 2);
	const char *digest_before = json_string_value(json_object_get(
		json_object_get(json_object_get(json_array_get(d.objects, 1), "metadata"), "annotations"),
		"memshack.io/applied-digest"));
	char before[33];
	snprintf(before, sizeof before, "%s", digest_before);
	assert_int_equal(memshack_desired_hold_shards(&d, 5), 0); /* held: 5 pods stay until gateways confirmed */
	json_t *sts0 = json_array_get(d.objects, 1);
	assert_string_equal(json_string_value(json_object_get(sts0, "kind")), "StatefulSet");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(sts0, "spec"), "replicas")), 5);
	assert_string_not_equal(
		json_string_value(json_object_get(json_object_get(json_object_get(sts0, "metadata"), "annotations"),
						  "memshack.io/applied-digest")),
		before);
	assert_int_equal(memshack_desired_hold_shards(&d, 2), 0); /* fewer than the spec: no-op */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(sts0, "spec"), "replicas")), 5);
	memshack_desired_release(&d);
	/* a layout outside the spec is refused */
	assert_int_equal(memshack_desired_build_routed(s, &TEST_ENV, (memshack_layout){ 4, 1, 0 }, &d, err, sizeof err),
			 -1);
	memshack_spec_free(s);
}

static void test_crd_matches_field_table(void **state)
{
	(void)state;
	json_t *crd = crd_memshack();
	json_t *props = json_object_get(
		json_object_get(
			json_object_get(
				json_object_get(
					json_array_get(json_object_get(json_object_get(crd, "spec"), "versions"), 0),
					"schema"),
				"openAPIV3Schema"),
			"properties"),
		"spec");
	props = json_object_get(props, "properties");
	for (size_t i = 0; i < memshack_n_int_fields; i++) {
		const spec_int_field *f = &memshack_int_fields[i];
		char head[64];
		const char *dot = strchr(f->path, '.');
		json_t *node = props;
		if (dot) {
			snprintf(head, sizeof head, "%.*s", (int)(dot - f->path), f->path);
			node = json_object_get(json_object_get(props, head), "properties");
		}
		json_t *field = json_object_get(node, dot ? dot + 1 : f->path);
		assert_non_null(field);
		assert_int_equal(json_integer_value(json_object_get(field, "default")), f->def);
		assert_int_equal(json_integer_value(json_object_get(field, "minimum")), f->min);
		assert_int_equal(json_integer_value(json_object_get(field, "maximum")), f->max);
		assert_non_null(json_object_get(field, "description"));
	}
	json_decref(crd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_invalid_table),
		cmocka_unit_test(test_config_semantics),
		cmocka_unit_test(test_digest_stable_and_sensitive),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_config_loaded),
		cmocka_unit_test(test_status_choice),
		cmocka_unit_test(test_status_write_decision),
		cmocka_unit_test(test_rollout_done),
		cmocka_unit_test(test_route_layout),
		cmocka_unit_test(test_prune_decision),
		cmocka_unit_test(test_crd_matches_field_table),
		cmocka_unit_test(test_unreachable_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
