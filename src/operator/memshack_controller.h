/*
 * memshack_controller — reconciles Memshack objects into their children.
 *
 * One reconcile of namespace/name:
 *  1. Reads the Memshack from the cache; gone or being deleted: nothing to do
 *     (children go with it through their ownerReferences).
 *  2. Parses the spec. Invalid: status Ready=False/Degraded=True with reason
 *     InvalidSpec and a message naming the field, a Warning event; no retry
 *     until the object changes.
 *  3. Builds the desired children (memshack_desired.h) and applies, in order,
 *     only those that differ from what is cached (by the applied-digest
 *     annotation and the generation / resourceVersion seen after our last
 *     apply): an unchanged Memshack costs zero writes, and a hand edit of a
 *     child (a scaled StatefulSet, an edited config) is reverted.
 *  4. Asks every ready gateway pod (a projected pod informer: name, label,
 *     podIP, Ready) which config it loaded: `get
 *     __mcrouter__.config_md5_digest` on its mcrouter port (gateway_probe.h),
 *     compared with the md5 just written. Result: status.gateway.configLoaded,
 *     the ConfigLoaded condition, the memshack_gateway_config_loaded gauge, and
 *     a ConfigLoaded event when every gateway confirmed a new config.
 *  5. Prunes StatefulSets of removed replica pools once every gateway
 *     confirmed a config that no longer names them; --pool-removal-delay is
 *     the upper bound, used when a gateway cannot be asked or keeps an old
 *     config (then a GatewayNotConfirmed Warning says so). While gateways
 *     have not confirmed, the key is requeued every second; past the bound
 *     every 5 s (a gateway on an old config) or, while one does not answer,
 *     from 5 s doubling to 60 s (each probe of it costs a worker its timeout).
 *  6. Writes status (conditions, counts, endpoint, config digest) only when
 *     it changed.
 */
#ifndef MEMSHACK_OPERATOR_MEMSHACK_CONTROLLER_H
#define MEMSHACK_OPERATOR_MEMSHACK_CONTROLLER_H

#include <stdint.h>

#include "runtime/manager.h"

extern const kube_resource MEMSHACK_RES;

typedef struct memshack_controller_options {
	const char *cluster_domain; /* default "cluster.local" */
	const char *
		exporter_image; /* the mcrouter exporter sidecar's image (memshack's own); default GATEWAY_DEFAULT_EXPORTER_IMAGE */
	int64_t pool_removal_delay_us; /* upper bound; 0: none (pools go once the config dropped them); < 0 or no options: 60 s */
	int gateway_probe_timeout_ms; /* per gateway; 0 = do not ask gateways (time bound only) */
} memshack_controller_options;

/* The controller's context: what its reconciles share (caches, memos, options). Passed to reconcile as its user data. */
typedef struct memshack_controller memshack_controller;

/*
 * Adds the informers and the controller to the manager, which owns them.
 * Returns the context (free with memshack_controller_free after
 * manager_free), or NULL (logged; nothing added).
 */
memshack_controller *memshack_controller_new(manager *m, const memshack_controller_options *o);
void memshack_controller_free(memshack_controller *ctl);

/*
 * One reconcile of key ("namespace/name") in the calling thread, exactly as
 * a worker runs it; and the cache the controller reads for `kind`
 * ("Memshack", "Service", "StatefulSet", "PodDisruptionBudget", "ConfigMap",
 * "Deployment", or "Pod": its gateway pods), borrowed, or NULL. The manager
 * need not run: a test (tests/unit/test_alloc_failure.c) fills the caches
 * itself and calls reconcile directly.
 */
reconcile_result memshack_controller_reconcile(memshack_controller *ctl, const char *key);
store *memshack_controller_cache(memshack_controller *ctl, const char *kind);

#endif
