/*
 * kube_path — REST paths for Kubernetes resources. Pure.
 *
 *   core:   /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUBRESOURCE]]
 *   named:  /apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME[/SUBRESOURCE]]
 *
 * Names, namespaces and subresources are validated (non-empty, no '/', not
 * '.' or '..', bounded length) so a hostile name can never address another
 * path. Cluster-scoped resources ignore `ns`; namespaced ones with ns NULL or
 * "" address all namespaces (list/watch only: a name then is an error).
 */
#ifndef MEMSHACK_KUBE_PATH_H
#define MEMSHACK_KUBE_PATH_H

#include <stdbool.h>

#include "kube/kube_error.h"

typedef struct kube_resource {
	const char *group;   /* "" or NULL for the core group */
	const char *version; /* "v1" */
	const char *plural;  /* "statefulsets" */
	const char *kind;    /* "StatefulSet" (for apiVersion/kind in bodies) */
	bool namespaced;
} kube_resource;

extern const kube_resource KUBE_RES_NAMESPACES;
extern const kube_resource KUBE_RES_CONFIGMAPS;
extern const kube_resource KUBE_RES_SECRETS;
extern const kube_resource KUBE_RES_SERVICES;
extern const kube_resource KUBE_RES_PODS;
extern const kube_resource KUBE_RES_SERVICEACCOUNTS;
extern const kube_resource KUBE_RES_NODES;
extern const kube_resource KUBE_RES_DEPLOYMENTS;
extern const kube_resource KUBE_RES_STATEFULSETS;
extern const kube_resource KUBE_RES_ENDPOINTSLICES;
extern const kube_resource KUBE_RES_PODDISRUPTIONBUDGETS;
extern const kube_resource KUBE_RES_NETWORKPOLICIES;
extern const kube_resource KUBE_RES_SERVICEMONITORS; /* prometheus-operator's CRD: may not be served */
extern const kube_resource KUBE_RES_LEASES;
extern const kube_resource KUBE_RES_EVENTS;
extern const kube_resource KUBE_RES_CRDS;
extern const kube_resource KUBE_RES_SELFSUBJECTREVIEWS;

/* Whether s is usable as an object name / path segment (see above). */
bool kube_name_valid(const char *s);

/*
 * The path of a collection (name NULL) or of one object, optionally a
 * subresource ("status", "scale"). Returns a new string (caller frees), or
 * NULL with *err set (KUBE_ERR_INVALID) when an argument is not valid.
 */
char *kube_path(const kube_resource *res, const char *ns, const char *name, const char *subresource, kube_error *err);

/* "apps/v1" or "v1". Returns a new string (caller frees), NULL on no memory. */
char *kube_api_version(const kube_resource *res);

/*
 * Appends query parameters to a path: `kv` is a NULL-terminated list of
 * key, value pairs; a pair whose value is NULL is skipped. Values are
 * percent-encoded. Returns a new string (caller frees), NULL on no memory.
 */
char *kube_path_query(const char *path, const char *const *kv);

#endif
