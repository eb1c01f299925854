/*
 * projection — what the store keeps of an owned child: enough to find it,
 * judge its owner and readiness, and know whether what we applied is still
 * there. Pure. (apiVersion and kind are the informer's resource; the store
 * keeps resourceVersion beside the projection.)
 *
 * Kept: metadata.name, namespace, uid, generation, deletionTimestamp, the
 * controller ownerReference (uid and controller: enough for
 * apply_is_controlled_by(); handlers map events to owners from the full object),
 * the one annotation the controller names (the digest of what it applied);
 * and from status only the fields it names (e.g. readyReplicas,
 * observedGeneration). What to keep is the caller's: the runtime knows no
 * operator's names.
 */
#ifndef MEMSHACK_RUNTIME_PROJECTION_H
#define MEMSHACK_RUNTIME_PROJECTION_H

#include <jansson.h>

/* What project_owned_child keeps beside identity and the controller owner. */
typedef struct projection_fields {
	const char *annotation;    /* one metadata.annotations key, or NULL */
	const char *const *status; /* NULL-terminated status fields, or NULL */
} projection_fields;

/* A store_project_fn: ud is a `const projection_fields *` (or NULL: identity only). New reference. */
json_t *project_owned_child(void *ud, json_t *obj);

#endif
