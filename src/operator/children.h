/*
 * children — apply-if-changed for owned child objects, shared by every
 * controller: a child is applied (server-side, field manager memshack) only
 * when the cache lacks it, its applied-digest annotation differs from the
 * desired object's, or its generation (resourceVersion for kinds without
 * generation) differs from what our last apply produced — a hand edit. A
 * child already as desired when first seen (after a restart) is adopted
 * without a write. A child someone keeps changing is reverted at once three
 * times a minute, then with a doubling delay (1 s, 2 s ... 5 min): the
 * caller is told how long to wait instead of fighting in a hot loop.
 * Thread-safe.
 */
#ifndef MEMSHACK_OPERATOR_CHILDREN_H
#define MEMSHACK_OPERATOR_CHILDREN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube/kube_client.h"
#include "kube/kube_path.h"
#include "runtime/events.h"
#include "runtime/informer.h"
#include "runtime/metrics.h"
#include "runtime/projection.h"
#include "util/must_use.h"

/* The field manager of every write memshack makes (server-side apply owns fields by it). */
#define MEMSHACK_FIELD_MANAGER "memshack"

typedef struct children children;

/*
 * The kinds of child object the controllers own, one informer per kind and
 * controller (a controller leaves the slots of kinds it never makes NULL).
 */
typedef enum child_kind {
	CHILD_SERVICE,
	CHILD_STATEFULSET,
	CHILD_PDB,
	CHILD_CONFIGMAP,
	CHILD_DEPLOYMENT,
	CHILD_NETWORKPOLICY,
	CHILD_SERVICEMONITOR, /* served only where prometheus-operator's CRDs are installed */
	CHILD_KINDS           /* the number of kinds; also "no child kind" */
} child_kind;

/* The API resource of a child kind. Static. */
const kube_resource *child_kind_resource(child_kind k);
/* The child kind whose objects have kind `kind` ("StatefulSet"), or CHILD_KINDS. */
child_kind child_kind_named(const char *kind);
/*
 * What the child caches keep of a child of kind k (a project_owned_child
 * argument): the applied-digest annotation and the status fields readiness
 * is read from. Static.
 */
const projection_fields *child_kind_projection(child_kind k);
/* What a listed child loses at once (informer_options.list_drop): the projection reads metadata and status only. Static. */
const char *const *child_list_drop(void);

children *children_new(kube_client *c, metrics *m);
void children_free(children *ch);

/*
 * Applies `desired` (borrowed) if needed, comparing with what `cache` holds.
 * *ret_applied says whether a write was made; *ret_defer_us > 0 means a
 * contested child's revert is held back that long (reconcile again then).
 * 0; CHILDREN_NOT_SERVED when cache is an optional informer whose resource
 * the API server does not serve (informer_absent: nothing was tried — the
 * caller says so and looks again later); or -1 with err set.
 */
#define CHILDREN_NOT_SERVED 1
MEMSHACK_MUST_USE int children_apply(children *ch, informer *cache, json_t *desired, bool *ret_applied,
				     int64_t *ret_defer_us, kube_error *err);

/*
 * After children_apply reported defer_us > 0 for `child` of `owner` (both
 * borrowed): records a ChildContested Warning on the owner and lowers
 * *shortest_defer_us (0: none yet) to defer_us, the delay to reconcile again.
 */
void children_note_contested(events *ev, json_t *owner, json_t *child, int64_t defer_us, int64_t *shortest_defer_us);

/*
 * Deletes the children of the given kinds (caches indexed by child_kind)
 * that owner_uid controls, whose cache keys start with key_prefix
 * ("ns/name-memshack"), and that `desired` (borrowed: the objects wanted
 * now) does not name: an optional child switched off. A kind whose cache
 * finds its resource not served is skipped. Returns how many were deleted,
 * or -1 with err set (the first failure; a cache that cannot be read fails:
 * nothing is deleted on what could not be read).
 */
MEMSHACK_MUST_USE int children_prune_unwanted(informer *const *caches, const child_kind *kinds, size_t n,
					      kube_client *c, const char *key_prefix, const char *owner_uid,
					      json_t *desired, kube_error *err);

/* Forgets the memos of children in namespace ns whose names start with prefix. */
void children_forget(children *ch, const char *ns, const char *prefix);
/* The same for the owner `key` ("namespace/name"): its children are named <name><suffix>... */
void children_forget_owner(children *ch, const char *key, const char *suffix);

/*
 * Reports key's object if inf set it aside as undecodable: Ready=False with
 * reason Undecodable on its /status (a merge patch: nothing of it needs to
 * be read) and a Warning Event; logs (as log_name) only a failed status
 * write — the informer logged the object once. Once reported, later calls
 * (a resync) write nothing. Returns 0 when key is not set aside (then it is
 * simply gone), 1 when it is (and is reported), -1 when the status write
 * failed (reconcile again with backoff).
 */
MEMSHACK_MUST_USE int children_report_undecodable(kube_client *c, events *ev, informer *inf, const kube_resource *res,
						  const char *log_name, const char *key);

#endif
