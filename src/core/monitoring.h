/*
 * monitoring — spec.monitoring and spec.networkPolicy of Memshack and
 * MemcachedProxy: parsing, their CRD schema, and the objects they add.
 * Pure.
 *
 * spec.monitoring.exporter {enabled, image, port, resources}: a sidecar in
 * every pod that serves Prometheus metrics on a container port named
 * "metrics": prom/memcached-exporter beside each memcached (Memshack pools;
 * `image`), and `memshack mcrouter-exporter` (memshack's own image, given by
 * the operator) beside each mcrouter. Both scrape their neighbour over
 * loopback and keep answering (with *_up 0) when it is down; neither has a
 * readiness probe, so a pod's readiness is its data container's alone.
 * The pods' Services gain a "metrics" port.
 *
 * spec.monitoring.serviceMonitor {enabled, interval, labels}: a
 * monitoring.coreos.com/v1 ServiceMonitor NAME-memshack selecting the
 * object's Services by its memshack label, scraping their "metrics" port.
 * Needs the exporter.
 *
 * spec.networkPolicy {enabled, clientSelector, clientNamespaceSelector,
 * metricsNamespaceSelector}: Ingress NetworkPolicies. Memcached pods take
 * connections on 11211 only from their own gateway pods; gateway pods take
 * them on the mcrouter port only from the selected clients (pods matching
 * clientSelector in namespaces matching clientNamespaceSelector; either
 * absent: every pod of the object's namespace / only that namespace) and
 * from the operator's namespace (its config probes); the metrics port from
 * namespaces matching metricsNamespaceSelector (absent: every namespace).
 * Egress is not restricted.
 */
#ifndef MEMSHACK_CORE_MONITORING_H
#define MEMSHACK_CORE_MONITORING_H

#include <jansson.h>
#include <stdbool.h>

#include "util/must_use.h"

#define MONITORING_EXPORTER_IMAGE "prom/memcached-exporter:v0.16.0"
#define MONITORING_PORT 9150
#define MONITORING_PORT_NAME "metrics"
#define MONITORING_INTERVAL "30s"
/* The name of the sidecar container in pool and gateway pods. */
#define MONITORING_CONTAINER "exporter"

typedef struct monitoring_spec {
	bool exporter;                  /* spec.monitoring.exporter.enabled */
	char *exporter_image;           /* memcached_exporter's image (owned; Memshack only, NULL for a proxy) */
	int port;                       /* the sidecars' metrics port */
	json_t *resources;              /* of each sidecar, or NULL for the defaults (owned) */
	bool service_monitor;           /* spec.monitoring.serviceMonitor.enabled */
	char *interval;                 /* scrape interval, e.g. "30s" (owned) */
	json_t *service_monitor_labels; /* extra labels on the ServiceMonitor, or NULL (owned) */
	bool network_policy;            /* spec.networkPolicy.enabled */
	json_t *client_selector;        /* LabelSelectors, or NULL (owned) */
	json_t *client_namespace_selector;
	json_t *metrics_namespace_selector;
} monitoring_spec;

/* What became of the ServiceMonitor a spec asks for, in one reconcile. */
typedef enum monitoring_sm_state {
	MONITORING_SM_UNKNOWN, /* not asked for, or not reached in this pass (the condition stays as it was) */
	MONITORING_SM_APPLIED, /* applied, or already as desired */
	MONITORING_SM_NO_CRD,  /* monitoring.coreos.com/v1 servicemonitors is not served */
} monitoring_sm_state;

/*
 * The ServiceMonitorReady condition in conds (a status's conditions array):
 * absent when the spec asks for no ServiceMonitor; True (Applied) or False
 * (CRDNotInstalled: the operator looks again every 30 s) by state; left as it
 * was for MONITORING_SM_UNKNOWN.
 */
void monitoring_set_condition(json_t *conds, const monitoring_spec *m, monitoring_sm_state state, long long generation,
			      const char *now);

/*
 * Reads spec.monitoring and spec.networkPolicy of spec (borrowed; may be
 * NULL: all off) into out. memcached: the object has memcached pods
 * (Memshack: exporter.image is allowed). reserved_ports: ports of the pods'
 * own containers the metrics port must not take (0-terminated). 0, or -1
 * with err naming the field; out then holds what was read (release it).
 */
MEMSHACK_MUST_USE int monitoring_parse(json_t *spec, bool memcached, const int *reserved_ports, monitoring_spec *out,
				       char *err, size_t errlen);
void monitoring_release(monitoring_spec *m);

/* The CRD schema of spec.monitoring and spec.networkPolicy, set into props (spec's properties). 0, or -1. */
MEMSHACK_MUST_USE int monitoring_schema(json_t *props, bool memcached);

/*
 * Builders; each returns a new reference, or NULL when anything could not be
 * built (no memory): never an object with a part missing.
 */
/* The memcached_exporter sidecar, scraping 127.0.0.1:memcached_port. */
json_t *monitoring_memcached_exporter(const monitoring_spec *m, int memcached_port);
/* The mcrouter exporter sidecar (`memshack mcrouter-exporter`, image: memshack's own), scraping 127.0.0.1:mcrouter_port. */
json_t *monitoring_mcrouter_exporter(const monitoring_spec *m, const char *image, int mcrouter_port);
/*
 * A gateway's exporter parts: when the exporter is on, its sidecar
 * (monitoring_mcrouter_exporter of image, or GATEWAY_DEFAULT_EXPORTER_IMAGE
 * when NULL) and the Service's metrics port, new references into *sidecar
 * and *port; both NULL when it is off. 0, or -1 (no memory; both NULL).
 */
int monitoring_gateway_exporter(const monitoring_spec *m, const char *image, int mcrouter_port, json_t **sidecar,
				json_t **port);
/* The Service port {name: metrics, port, targetPort: metrics}. */
json_t *monitoring_service_port(const monitoring_spec *m);
/*
 * The ServiceMonitor `name` in ns: metadata from base (borrowed: labels,
 * ownerReferences) plus the spec's labels; selects Services carrying every
 * label of service_labels (borrowed) in ns, their "metrics" port.
 */
json_t *monitoring_service_monitor(const monitoring_spec *m, const char *name, const char *ns, json_t *base,
				   json_t *service_labels);
/*
 * The NetworkPolicy `name` in ns (metadata from base) over the pods matching
 * pod_labels (borrowed), letting in, on `port`, the pods matching `from`
 * (borrowed NetworkPolicyPeer array), and on the metrics port (when the
 * exporter is on) the metrics namespaces. New reference.
 */
json_t *monitoring_network_policy(const monitoring_spec *m, const char *name, const char *ns, json_t *base,
				  json_t *pod_labels, int port, json_t *from);
/*
 * The peers a gateway lets in on its mcrouter port: the selected clients
 * and the operator's namespace (operator_namespace; NULL or "": none).
 * A new array, or NULL (no memory).
 */
json_t *monitoring_gateway_peers(const monitoring_spec *m, const char *operator_namespace);

#endif
