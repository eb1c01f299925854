/*
 * memshack_status — the Memshack's status from what the operator observed
 * of its children. Pure.
 *
 * Conditions:
 *   Ready        True when every memcached pod and every gateway is ready.
 *   Progressing  True while pools or the gateway are still converging.
 *   Degraded     True when the spec is invalid (InvalidSpec) or applying
 *                failed (ApplyFailed); False (AsExpected) otherwise.
 *   ConfigLoaded True (Loaded) when every ready gateway pod answered
 *                `get __mcrouter__.config_md5_digest` with the md5 of the
 *                config just written; False with reason Loading (a gateway
 *                still serves another config: named in the message),
 *                GatewayUnreachable (one did not answer) or NoReadyGateways;
 *                Unknown (ProbeDisabled) when the operator does not ask.
 *   ServiceMonitorReady (only with spec.monitoring.serviceMonitor.enabled)
 *                True (Applied) once the ServiceMonitor is applied; False
 *                (CRDNotInstalled) while prometheus-operator's CRD is not
 *                served — the operator looks again every 30 s.
 *   Migrating    (once a warm migration ran) True while one runs, with the
 *                phase as reason (Preparing, Warming, Finishing) and the
 *                layouts and window end in the message; False (Settled).
 * status.gateway.configLoaded counts the gateways on the current config;
 * status.routing {shards, replicaPools[, generation]} is what the config
 * routes to, which lags the spec while new pods start (Progressing stays
 * True meanwhile); status.migration is the migration record
 * (migration_to_json).
 * lastTransitionTime moves only when a condition's status flips.
 */
#ifndef MEMSHACK_CORE_MEMSHACK_STATUS_H
#define MEMSHACK_CORE_MEMSHACK_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/memshack_spec.h"
#include "core/migration.h"

#define MEMSHACK_MAX_POOLS 8

typedef struct memshack_observed {
	struct {
		bool exists;
		int ready;
		bool current; /* its rollout is done at the desired size (memshack_rollout_done) */
	} pools[MEMSHACK_MAX_POOLS];
	bool gateway_exists;
	int gateway_ready;
	bool gateway_current;                /* the gateway Deployment's rollout is done at the desired size */
	const char *apply_error;             /* NULL, or why applying failed */
	int routed_shards, routed_pools;     /* what the config written routes to (0: the spec) */
	int routed_generation;               /* ... in which layout generation */
	int pool_generation;                 /* the generation of the pools above (the spec's layout) */
	const memshack_migration *migration; /* NULL: none recorded (status.migration stays as it was) */
	monitoring_sm_state service_monitor; /* what became of the ServiceMonitor */
	/* What the ready gateway pods said when asked for the config they loaded. */
	struct {
		bool probed;               /* false: the operator does not ask (probing off) */
		int pods;                  /* ready gateway pods asked */
		int loaded;                /* answered the current config's md5 */
		int unreachable;           /* did not answer (connect error, timeout, bad reply) */
		char stale_pod[128];       /* a pod on another config, or "" */
		char stale_digest[40];     /* what it reported */
		char unreachable_pod[128]; /* a pod that did not answer, or "" */
	} probe;
} memshack_observed;

/*
 * Whether a StatefulSet's or Deployment's rollout is done at `want` pods, as
 * `kubectl rollout status` judges it and more: the controller has observed
 * the latest generation, it runs exactly `want` pods (none left over from a
 * hand edit or a surge), all `want` from the latest revision, and (where the
 * status names them) the current revision is the update revision. Readiness
 * is counted apart. false for NULL.
 */
bool memshack_rollout_done(json_t *workload, int want);

/*
 * Whether every gateway is known to serve the current config: probing is on,
 * every ready gateway pod answered the current md5, and there is at least one
 * (or mcrouterPoolSize is 0, so none can serve an old one). Only then may a
 * pool the config no longer names be removed before the time bound.
 */
bool memshack_gateways_confirmed(const memshack_spec *s, const memshack_observed *o);

/* When pool StatefulSets the spec no longer has are removed. */
typedef struct memshack_prune_plan {
	bool remove_now;  /* delete them in this reconcile */
	bool unconfirmed; /* remove_now on the time bound, although the gateways did not confirm (say so) */
	int64_t wait_us;  /* > 0: not yet; reconcile again after this */
} memshack_prune_plan;

/*
 * extra: pools of s exist that the spec no longer has; confirmed: every
 * gateway serves the config without them (memshack_gateways_confirmed);
 * probed: gateways were asked at all; config_age_us: how long ago that
 * config was written (0: just now, or not known to be written);
 * removal_delay_us: the bound (--pool-removal-delay). They go once
 * confirmed, or at the bound; while gateways are asked, the wait is at most
 * 1 s so they are asked again soon. Pure.
 */
memshack_prune_plan memshack_prune_decide(bool extra, bool confirmed, bool probed, int64_t config_age_us,
					  int64_t removal_delay_us);

/*
 * How long to wait before asking again when a gateway did not answer, the
 * streak-th time in a row (0: the first): 5 s, doubling, at most 60 s. A
 * probe of a gateway that does not answer costs a worker its timeout, so a
 * dead one is asked rarely; one that missed once under load is asked again
 * soon. Pure.
 */
int64_t memshack_unreachable_retry_us(int streak);

/* Status writes that only show progress: at most one per object this often while Ready ... */
#define MEMSHACK_STATUS_PROGRESS_INTERVAL_US 5000000
/*
 * ... and while Ready is False before and after (converging): the write a
 * reader waits for then is Ready turning True, which goes at once; counts
 * on the way lag at most this much. A new Memshack so gets two status
 * writes when it is Ready within it (the first status and Ready), not one
 * per gateway and pool that comes up (issue 16: 12.5 writes per Memshack).
 */
#define MEMSHACK_STATUS_CONVERGING_INTERVAL_US 30000000

/* Whether and when to write a new status. */
typedef struct memshack_status_plan {
	bool write_now;
	int64_t wait_us; /* > 0: a change held back; reconcile again after this (then decide again) */
} memshack_status_plan;

/*
 * old: the status stored (borrowed, may be NULL); next: the one built now;
 * since_write_us: how long ago this operator last wrote this object's
 * status (INT64_MAX: not known); interval_us applies while Ready,
 * converging_interval_us while Ready is False in old and next. Nothing differs (beyond transition
 * times): no write. Something a reader acts on differs — Ready's status,
 * Degraded's status or reason, observedGeneration, the endpoint, selector,
 * config digest, routing or a pool's name or desired size; once Ready, any
 * condition's status or reason: write now (Ready turns True the moment the
 * last pod is). Only progress differs — counts of ready pods and the
 * messages saying them, and while Ready is False before and after, the
 * reasons of Ready, Progressing and ConfigLoaded and ConfigLoaded's and
 * Progressing's status: write at most once per interval, holding the change
 * back for the rest of it — the write after a burst carries the settled
 * state. Pure.
 */
memshack_status_plan memshack_status_write_decide(json_t *old, json_t *next, int64_t since_write_us,
						  int64_t interval_us, int64_t converging_interval_us);

/*
 * The new status object (new reference), built on `old` (borrowed, may be
 * NULL) so unchanged conditions keep their transition times. `now` is RFC
 * 3339. endpoint / selector / config_md5 describe what was applied.
 */
json_t *memshack_status_build(const memshack_spec *s, const memshack_observed *o, json_t *old, const char *endpoint,
			      const char *selector, const char *config_md5, const char *now);

#endif
