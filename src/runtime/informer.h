/*
 * informer — list-then-watch of one resource into a store, on its own thread.
 *
 * Runs the watch state machine (watch.h) against the API: a paged list fills
 * the store (atomically replacing it, with synthesised deletes for objects
 * that vanished), then a watch from the list's resourceVersion with
 * allowWatchBookmarks and a randomised timeoutSeconds keeps it current; a
 * connection silent for longer than the timeout plus 30 s is dropped. Any
 * 410 relists; errors reconnect with jittered exponential backoff.
 *
 * Handlers run on the informer thread, after the store changed, in the
 * order the events arrived; they must be quick (enqueue a key).
 */
#ifndef MEMSHACK_RUNTIME_INFORMER_H
#define MEMSHACK_RUNTIME_INFORMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube/kube_client.h"
#include "kube/kube_path.h"
#include "runtime/metrics.h"
#include "runtime/store.h"
#include "util/must_use.h"

/*
 * INFORMER_QUARANTINE: an object that cannot be decoded (kube_decode.h)
 * was set aside; the store no longer holds it (nothing may act on a stale
 * copy) and obj is only its identity: apiVersion, kind, metadata
 * namespace, name, uid, resourceVersion. Heard once, and again only when
 * the reason changes (a status write makes a new version); it leaves quarantine with a readable update (UPSERT) or its deletion.
 */
typedef enum informer_event { INFORMER_UPSERT, INFORMER_DELETE, INFORMER_QUARANTINE } informer_event;

/* obj: the full object as received (borrowed; for synthesised deletes the last cached copy; see above for quarantine). */
typedef void (*informer_handler)(void *ud, informer_event ev, const char *key, json_t *obj);

typedef struct informer_options {
	const kube_resource *res;   /* borrowed; must outlive the informer */
	const char *namespace;      /* NULL or "" = all namespaces */
	const char *label_selector; /* or NULL */
	store_project_fn project;   /* NULL = drop managedFields */
	void *project_ud;
	long min_watch_timeout_s; /* timeouts drawn from [min, 2*min); default 300 */
	unsigned page_size;       /* default 500 */
	metrics *metrics;         /* optional */
	/*
	 * Handlers hear of an update only when what the store keeps changed
	 * (its projection; resourceVersion aside): a StatefulSet status update
	 * touching no projected field wakes nobody. Only for projections that
	 * keep every field a handler cares about (generation for spec edits).
	 */
	bool notify_kept_changes_only;
	/*
	 * The resource may not be served (a CRD of another project): a list
	 * answered 404 leaves the cache empty and synced, informer_absent()
	 * true, and is tried again with the list backoff (at most 30 s apart)
	 * until it is served.
	 */
	bool optional;
	/*
	 * NULL, or a NULL-terminated list (borrowed; must outlive the informer)
	 * of top-level fields that neither the projection nor any handler
	 * reads — "spec" of owned children. Listed objects lose them, and
	 * metadata.managedFields always, as each page arrives: a list of
	 * thousands of objects then holds one page whole and no more of the
	 * rest than the projection needs (a restart at 1000 Memshacks peaked at
	 * 454 MB without it). Handlers hear listed objects so trimmed.
	 */
	const char *const *list_drop;
} informer_options;

typedef struct informer informer;

/* Copies the strings in opts. Returns NULL with *err set on failure. */
informer *informer_new(kube_client *c, const informer_options *opts, kube_error *err);
/* Before informer_start only. */
MEMSHACK_MUST_USE int informer_add_handler(informer *inf, informer_handler fn, void *ud);
MEMSHACK_MUST_USE int informer_start(informer *inf);
/* Asks the thread to stop (closing any watch within a second) without waiting. */
void informer_request_stop(informer *inf);
/* Stops the thread and joins it. */
void informer_stop(informer *inf);
void informer_free(informer *inf);

bool informer_synced(informer *inf);
/* For an optional informer: whether its last list found the resource not served. Thread-safe. */
bool informer_absent(informer *inf);
/* Waits up to timeout_us for the first list; true when synced. */
bool informer_wait_synced(informer *inf, int64_t timeout_us);
/* Borrowed; lives as long as the informer. */
store *informer_store(informer *inf);
const kube_resource *informer_resource(informer *inf);

/*
 * Objects set aside as undecodable (see INFORMER_QUARANTINE): the
 * identity of key's object (new reference, caller owns) with why into
 * reason, or NULL when key is not quarantined. Thread-safe.
 */
json_t *informer_quarantined(informer *inf, const char *key, char *reason, size_t reason_len);
/*
 * Whether key's quarantine was reported (its status and Event written),
 * and marking it so: a resync then repeats nothing. A new reason clears
 * the mark. Thread-safe.
 */
bool informer_quarantine_reported(informer *inf, const char *key);
void informer_quarantine_set_reported(informer *inf, const char *key);
/* Whether key's object is set aside. Thread-safe. */
bool informer_is_quarantined(informer *inf, const char *key);
/* Whether any object set aside has a key starting with key_prefix ("ns/name-"). Thread-safe. */
bool informer_quarantined_prefix(informer *inf, const char *key_prefix);
/* How many objects are set aside now, those that could not even be named included. Thread-safe. */
size_t informer_quarantine_len(informer *inf);

/* Test hooks: pause closes the watch and holds (rv kept); resume carries on. */
void informer_pause(informer *inf);
void informer_resume(informer *inf);
uint64_t informer_relists(informer *inf);
uint64_t informer_restarts(informer *inf);

#endif
