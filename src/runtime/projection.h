/*
 * projection — what the store keeps of an owned child: enough to find it,
 * judge its owner and readiness, and know whether what we applied is still
 * there. Pure. (apiVersion and kind are the informer's resource; the store
 * keeps resourceVersion beside the projection.)
 *
 * Kept: metadata.name, namespace, uid, generation, deletionTimestamp, the
 * controller ownerReference (uid and controller: enough for
 * is_controlled_by(); handlers map events to owners from the full object),
 * the annotation memshack.io/applied-digest; and from
 * status only the fields named in the NULL-terminated list passed as ud
 * (e.g. readyReplicas, observedGeneration).
 */
#ifndef MEMSHACK_RUNTIME_PROJECTION_H
#define MEMSHACK_RUNTIME_PROJECTION_H

#include <jansson.h>

#define MEMSHACK_DIGEST_ANNOTATION "memshack.io/applied-digest"

/* A store_project_fn: ud is a `const char *const *` list of status fields (or NULL). New reference. */
json_t *project_owned_child(void *ud, json_t *obj);

#endif
