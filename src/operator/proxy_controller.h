/*
 * proxy_controller — reconciles MemcachedProxy objects: reads the target
 * Service and its EndpointSlices from the cache, builds the server list
 * (core/proxy.h), and applies the gateway objects (always: a proxy whose
 * Service is missing or empty still gets its Deployment, with a config that
 * answers errors until servers appear). Status: Ready, Progressing, Degraded
 * with reasons ServiceNotFound, PortNotFound, NoEndpoints, PodsNotReady,
 * Ready; the server list; the config digest; gateway counts. Events on
 * membership changes and on missing Services.
 */
#ifndef MEMSHACK_OPERATOR_PROXY_CONTROLLER_H
#define MEMSHACK_OPERATOR_PROXY_CONTROLLER_H

#include "runtime/manager.h"

extern const kube_resource PROXY_RES;

/* The controller's context: what its reconciles share (caches, memos, options). Passed to reconcile as its user data. */
typedef struct proxy_controller proxy_controller;

/*
 * Adds the informers and the controller to the manager, which owns them.
 * Returns the context (free with proxy_controller_free after manager_free),
 * or NULL (logged; nothing added).
 */
/* exporter_image: of the mcrouter exporter sidecar (memshack's own; NULL: GATEWAY_DEFAULT_EXPORTER_IMAGE). */
proxy_controller *proxy_controller_new(manager *m, const char *cluster_domain, const char *exporter_image);
void proxy_controller_free(proxy_controller *pc);

/*
 * One reconcile of key in the calling thread, as a worker runs it; and the
 * cache the controller reads for `kind`, borrowed, or NULL: "MemcachedProxy",
 * "Backend" (every Service in scope: the one a proxy points at),
 * "EndpointSlice", and its own children "Deployment", "Service",
 * "ConfigMap", "PodDisruptionBudget". For tests that fill the caches
 * themselves (tests/unit/test_alloc_failure.c).
 */
reconcile_result proxy_controller_reconcile(proxy_controller *pc, const char *key);
store *proxy_controller_cache(proxy_controller *pc, const char *kind);

#endif
