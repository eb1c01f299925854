/*
 * apply — writing desired state: server-side apply of owned objects and of
 * status, owner references, and pruning of owned objects no longer desired.
 */
#ifndef MEMSHACK_RUNTIME_APPLY_H
#define MEMSHACK_RUNTIME_APPLY_H

#include <jansson.h>
#include <stdbool.h>

#include "kube/kube_client.h"
#include "kube/kube_path.h"
#include "util/must_use.h"

/*
 * Server-side apply of `desired` (borrowed; must carry apiVersion, kind,
 * metadata.name and, for namespaced resources, metadata.namespace) as
 * field_manager (the controller's name: the fields it owns), with force.
 * *ret (may be NULL): the object after.
 */
MEMSHACK_MUST_USE int apply_object(kube_client *c, const char *field_manager, const kube_resource *res, json_t *desired,
				   json_t **ret, kube_error *err);

/* Server-side apply of `status` (borrowed) through the /status subresource of ns/name, as field_manager. */
MEMSHACK_MUST_USE int apply_status(kube_client *c, const char *field_manager, const kube_resource *res, const char *ns,
				   const char *name, json_t *status, kube_error *err);

/*
 * Reports an object we cannot decode (identity: apiVersion, kind,
 * metadata namespace/name, borrowed): a JSON merge patch of its /status
 * setting conditions to one Ready=False condition with reason Undecodable
 * and message. A merge patch needs nothing read from the object, and
 * leaves the status fields it does not name as they were.
 */
MEMSHACK_MUST_USE int apply_status_undecodable(kube_client *c, const kube_resource *res, json_t *identity,
					       const char *message, const char *now, kube_error *err);

/* A controller ownerReference to `owner` (borrowed). New reference, or NULL if owner lacks identity. */
json_t *apply_owner_reference(json_t *owner);

/* Whether obj's controller ownerReference has this UID. */
bool apply_is_controlled_by(json_t *obj, const char *owner_uid);

/*
 * Deletes every object of `existing` (a JSON array, borrowed) that is
 * controlled by owner_uid and whose name is not in `keep` (NULL-terminated).
 * Deletes carry a UID precondition and background propagation; a NotFound
 * counts as done. Returns how many were deleted, or -1 (err set) on the
 * first failure.
 */
MEMSHACK_MUST_USE int apply_prune_owned(kube_client *c, const kube_resource *res, json_t *existing,
					const char *owner_uid, const char *const *keep, kube_error *err);

#endif
