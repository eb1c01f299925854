/*
 * memshack_desired — every object the operator creates for a Memshack, as
 * JSON ready for server-side apply. Pure and deterministic.
 *
 * For Memshack NAME in namespace NS:
 *   Service      NAME-memshack-memcached   headless, publishNotReadyAddresses
 *   StatefulSet  NAME-memshack-pool-K      one per replica K, numShards pods (ordinal = shard)
 *   PDB          NAME-memshack-memcached   maxUnavailable 1 over the memcached pods
 *   ConfigMap    NAME-memshack-mcrouter    config.json (+ its md5 in an annotation)
 *   Deployment   NAME-memshack             mcrouterPoolSize mcrouter pods, config mounted as a directory
 *   Service      NAME-memshack             ClusterIP on mcrouterPort
 *   PDB          NAME-memshack             maxUnavailable 1 over the gateway pods
 * and with spec.networkPolicy.enabled (core/monitoring.h):
 *   NetworkPolicy NAME-memshack-memcached  memcached pods: 11211 from the gateways only
 *   NetworkPolicy NAME-memshack            gateways: the mcrouter port from clients and the operator
 * and with spec.monitoring.serviceMonitor.enabled:
 *   ServiceMonitor NAME-memshack           both Services' "metrics" port
 * spec.monitoring.exporter.enabled adds an exporter sidecar to the pool and
 * gateway pods and a "metrics" port to both Services.
 * Each carries the app.kubernetes.io labels, memshack.io/memshack=NAME, a
 * controller ownerReference (when the Memshack has a uid) and the
 * annotation memshack.io/applied-digest: the md5 of the object as built.
 */
#ifndef MEMSHACK_CORE_MEMSHACK_DESIRED_H
#define MEMSHACK_CORE_MEMSHACK_DESIRED_H

#include <jansson.h>

#include "core/gateway.h"
#include "core/memshack_spec.h"
#include "util/must_use.h"

#define MEMSHACK_LABEL "memshack.io/memshack"
#define MEMSHACK_POOL_LABEL "memshack.io/pool"
/* On every child: the md5 of what memshack applied (operator/children compares it with the desired one). */
#define MEMSHACK_DIGEST_ANNOTATION "memshack.io/applied-digest"

typedef struct memshack_desired {
	json_t *objects;   /* array, in apply order (new reference) */
	char *config_text; /* the mcrouter configuration (owned) */
	char config_md5[33];
} memshack_desired;

/* env: the cluster domain, memshack's own image, the operator's namespace. Returns 0, or -1 with a message in err. */
MEMSHACK_MUST_USE int memshack_desired_build(const memshack_spec *s, const gateway_env *env, memshack_desired *out,
					     char *err, size_t errlen);
/* How many objects memshack_desired_build makes for s (the list above). */
size_t memshack_desired_count(const memshack_spec *s);

/*
 * What the mcrouter config routes to: the first `pools` replica pools, each
 * with its first `shards` pods. It lags the spec while the cluster grows.
 */
typedef struct memshack_layout {
	int shards;
	int pools;
	/*
	 * Which StatefulSets: 0 is NAME-memshack-pool-K (every Memshack's
	 * first), G in 1..MEMSHACK_MAX_LAYOUT_GENERATION is
	 * NAME-memshack-gG-pool-K, made by a warm resharding (core/migration.h).
	 */
	int generation;
} memshack_layout;

/* Four digits: the pods' controller-revision-hash label ("<StatefulSet>-<hash>") stays within 63 characters. */
#define MEMSHACK_MAX_LAYOUT_GENERATION 9999
#define MEMSHACK_LAYOUT_LABEL "memshack.io/layout"

/*
 * The layout the config should route to now. `last` is what the config
 * written before routes to ({0, 0}: nothing known, route to the spec);
 * ready[k] (n_ready entries) is the number of ready pods of pool k.
 *   - Shrinking (fewer shards or pools) is routed at once: the pods that
 *     leave are kept until every gateway loaded the smaller config.
 *   - A new shard is routed once every routed pool has that many ready pods;
 *     a new pool (in order) once it has as many ready pods as there are
 *     routed shards. Until then clients never reach a pod that is not up:
 *     mcrouter would mark it down (TKO) and fail writes to it for its probe
 *     interval even after the pod came up.
 * A routed pod that becomes unready stays routed (never a flap).
 */
memshack_layout memshack_route_layout(const memshack_spec *s, memshack_layout last, const int *ready, int n_ready);

/* memshack_desired_build with the config routed to `route` (within the spec's size) instead of the spec. */
MEMSHACK_MUST_USE int memshack_desired_build_routed(const memshack_spec *s, const gateway_env *env,
						    memshack_layout route, memshack_desired *out, char *err,
						    size_t errlen);

/*
 * What to build while a layout changes (core/migration.h makes these):
 *   build  the pool StatefulSets to apply: build.pools of them (the spec's
 *          numReplicas, or the old layout's while a migration turns back),
 *          in build.generation's names, build.shards pods each (the spec's
 *          numShards, or more while a shrink is held);
 *   route  what the config reads from and writes to: route.pools pools of
 *          route.shards pods of route.generation;
 *   old    a layout that only receives writes and warms the routed pools
 *          (old.pools 0: none);
 *   warm_replicas_from  routed pools K >= this (> 0) are new replica pools,
 *          warmed from routed pool K mod this; 0: none;
 *   warm_exptime_s  the exptime of every value copied by a warm-up.
 * route == build == the spec and nothing warmed is memshack_desired_build.
 */
typedef struct memshack_plan {
	memshack_layout build;
	memshack_layout route;
	memshack_layout old;
	int warm_replicas_from;
	int warm_exptime_s;
} memshack_plan;

MEMSHACK_MUST_USE int memshack_desired_build_plan(const memshack_spec *s, const gateway_env *env,
						  const memshack_plan *plan, memshack_desired *out, char *err,
						  size_t errlen);
void memshack_desired_release(memshack_desired *d);

/* Names (into buf; returns buf). */
char *memshack_pool_name(const memshack_spec *s, int k, char *buf, size_t len); /* generation 0 */
/* Pool K of layout generation G: NAME-memshack-pool-K (G 0) or NAME-memshack-gG-pool-K. */
char *memshack_layout_pool_name(const memshack_spec *s, int generation, int k, char *buf, size_t len);
/*
 * Whether name is a pool StatefulSet name of s (as memshack_layout_pool_name
 * writes it: digits without leading zeros, G in 1..MEMSHACK_MAX_LAYOUT_GENERATION,
 * K below 8), with its generation and pool index. Pure.
 */
bool memshack_parse_pool_name(const memshack_spec *s, const char *name, int *generation, int *k);
char *memshack_headless_name(const memshack_spec *s, char *buf, size_t len);
char *memshack_config_name(const memshack_spec *s, char *buf, size_t len);
char *memshack_gateway_name(const memshack_spec *s, char *buf, size_t len);
/* "NAME-memshack.NS.svc.DOMAIN:PORT" */
char *memshack_endpoint(const memshack_spec *s, const char *cluster_domain, char *buf, size_t len);

/*
 * Shrinking numShards safely: the StatefulSets of the pools keep `replicas`
 * pods (when that is more than numShards) so no pod a gateway may still route
 * to goes away before every gateway loaded the smaller config. Sets
 * spec.replicas of every pool StatefulSet in d and re-stamps its digest; a
 * no-op when replicas <= numShards. The config in d is unchanged.
 */
MEMSHACK_MUST_USE int memshack_desired_hold_shards(memshack_desired *d,
						   int replicas); /* 0, or -1 (no memory: d unusable) */

/* Sets metadata.annotations[memshack.io/applied-digest] to the md5 of obj without it. 0, or -1 (no memory). */
MEMSHACK_MUST_USE int memshack_stamp_digest(json_t *obj);

#endif
