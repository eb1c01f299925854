/*
 * gateway — the mcrouter gateway objects shared by Memshack and
 * MemcachedProxy (one implementation, two front doors): the Deployment
 * running mcrouter with its ConfigMap mounted as a directory (so config
 * changes reload without restarts), the ClusterIP Service, the ConfigMap
 * holding config.json and its md5, and a PodDisruptionBudget. Pure.
 */
#ifndef MEMSHACK_CORE_GATEWAY_H
#define MEMSHACK_CORE_GATEWAY_H

#include <jansson.h>
#include <stdbool.h>

/* On the gateway ConfigMap: the md5 of the config.json it holds. */
#define MEMSHACK_CONFIG_MD5_ANNOTATION "memshack.io/config-md5"
/* The users pods run as: the memcached image's own user, and nobody for mcrouter (it owns no files). */
#define MEMSHACK_MEMCACHED_UID 11211
#define MEMSHACK_MCROUTER_UID 65534

/* What the objects' builders need to know of where they run (the cluster and the operator). */
typedef struct gateway_env {
	const char *cluster_domain;     /* DNS domain of Services, e.g. "cluster.local" */
	const char *exporter_image;     /* memshack's own image: the mcrouter exporter sidecar */
	const char *operator_namespace; /* where the operator runs (its probes reach the gateways); NULL: unknown */
} gateway_env;

/* The image of `memshack mcrouter-exporter` when none is given (scripts/image.sh builds it). */
#define GATEWAY_DEFAULT_EXPORTER_IMAGE "memshack-operator:latest"

typedef struct gateway_params {
	const char *name; /* Deployment, Service and PDB name */
	const char *namespace;
	const char *config_map; /* ConfigMap name */
	json_t *metadata;       /* borrowed: labels + ownerReferences to copy onto every object */
	json_t *selector;       /* borrowed: pod selector (matchLabels) */
	const char *image;
	int port;
	int replicas;
	json_t *extra_args;    /* borrowed array, may be NULL */
	json_t *resources;     /* borrowed, NULL for defaults */
	json_t *node_selector; /* borrowed, may be NULL */
	json_t *tolerations;   /* borrowed, may be NULL */
	const char *priority_class;
	bool spread;          /* prefer one gateway per node */
	json_t *sidecar;      /* borrowed: a second container (the exporter), or NULL */
	json_t *metrics_port; /* borrowed: a second Service port (the exporter's), or NULL */
} gateway_params;

/* New references. */
json_t *gateway_deployment(const gateway_params *p);
json_t *gateway_service(const gateway_params *p);
json_t *gateway_pdb(const gateway_params *p);
json_t *gateway_config_map(const gateway_params *p, const char *config_text, const char *config_md5);

/* Shared pieces for pod templates. New references. */
json_t *gateway_container_security(void);
json_t *gateway_pod_security(int uid);
/* metadata {name, namespace} plus a deep copy of `base` (labels, ownerReferences). */
json_t *gateway_meta(const char *name, const char *ns, json_t *base);
/*
 * Adds the controller owner reference (kind, name, uid; nothing when uid is
 * NULL) to a metadata object (borrowed). 0, or -1 when it could not be added:
 * the caller must not build a child without its owner.
 */
int gateway_set_owner(json_t *meta, const char *kind, const char *name, const char *uid);
/*
 * The scheduling every pod memshack makes shares, set on podspec (stolen):
 * nodeSelector and tolerations (borrowed; empty ones are left out),
 * priorityClassName (NULL: none), and `anti` (stolen) as the preferred pod
 * anti-affinity term when want_anti. Returns podspec, or NULL (released)
 * when anything could not be set, want_anti with a NULL anti included.
 */
json_t *gateway_schedule(json_t *podspec, json_t *node_selector, json_t *tolerations, const char *priority_class,
			 bool want_anti, json_t *anti);

#endif
