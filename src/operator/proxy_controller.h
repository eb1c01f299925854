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

int proxy_controller_setup(manager *m, const char *cluster_domain);

#endif
