/*
 * controller — keys from informers into a work queue, N workers calling a
 * reconcile function, and one more worker that takes only high-priority keys
 * (new objects and spec changes), so a user's change never waits behind
 * reconciles that status churn started. Level-based: handlers only enqueue
 * keys; the reconciler reads the caches.
 *
 * Workers start only after every watched informer has synced. Results:
 * done (forget the key's failures), requeue after a delay, or error (per-key
 * exponential backoff). Each reconcile is counted and timed in metrics:
 * memshack_reconcile_total{controller,result}, memshack_reconcile_duration_seconds{controller},
 * memshack_workqueue_depth/adds_total/retries_total{name},
 * memshack_workqueue_queue_duration_seconds{controller,priority}.
 */
#ifndef MEMSHACK_RUNTIME_CONTROLLER_H
#define MEMSHACK_RUNTIME_CONTROLLER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/informer.h"
#include "runtime/metrics.h"
#include "runtime/workqueue.h"
#include "util/must_use.h"

typedef enum reconcile_outcome { RECONCILE_DONE, RECONCILE_REQUEUE_AFTER, RECONCILE_ERROR } reconcile_outcome;

typedef struct reconcile_result {
	reconcile_outcome outcome;
	int64_t after_us; /* RECONCILE_REQUEUE_AFTER */
} reconcile_result;

/* Reconciles one key ("namespace/name"). Called from worker threads; never twice at once for a key. */
typedef reconcile_result (*reconcile_fn)(void *ud, const char *key);

typedef struct controller_options {
	const char *name; /* for logs and metrics */
	int workers;      /* default 2 */
	reconcile_fn reconcile;
	void *ud;
	metrics *metrics;               /* optional */
	const workqueue_options *queue; /* optional */
} controller_options;

typedef struct controller controller;

controller *controller_new(const controller_options *opts);
void controller_free(controller *c);

/*
 * The informer's objects are the controller's own: their keys are enqueued,
 * ahead of every other key (WORKQUEUE_HIGH) when the object is new or its
 * metadata.generation is ahead of its status.observedGeneration (a spec
 * change not yet handled); other events (status writes, deletes, resyncs,
 * children) are normal.
 */
MEMSHACK_MUST_USE int controller_watch_primary(controller *c, informer *inf);
/*
 * The informer's objects are children: an object whose controller
 * ownerReference has kind `owner_kind` enqueues "<its namespace>/<owner name>".
 */
MEMSHACK_MUST_USE int controller_watch_owned(controller *c, informer *inf, const char *owner_kind);
/* Any other mapping: map() calls controller_enqueue for the keys it finds. */
typedef void (*controller_map_fn)(void *ud, controller *c, informer_event ev, const char *key, json_t *obj);
MEMSHACK_MUST_USE int controller_watch_mapped(controller *c, informer *inf, controller_map_fn map, void *ud);

void controller_enqueue(controller *c, const char *key);
/*
 * Queues every object its primary informers hold (a periodic resync, as
 * controller-runtime's SyncPeriod: a missed event or drift while the
 * operator was down is corrected without waiting for a change). Returns
 * how many keys were queued.
 */
size_t controller_resync(controller *c);

/*
 * Waits (up to sync_timeout_us, or until controller_stop) for every watched
 * informer to sync, then starts the workers. 0, or -1 if not synced.
 */
MEMSHACK_MUST_USE int controller_start(controller *c, int64_t sync_timeout_us);
/* Stops handing out keys, lets in-flight reconciles finish, joins workers. */
void controller_stop(controller *c);
/* Stops handing out keys at once, without waiting (lost leadership). */
void controller_halt(controller *c);
/*
 * Halts and lets go of the workers without waiting for them: for a process
 * about to exit at once (lost leadership), where an in-flight reconcile
 * must not be waited for — it would keep writing.
 */
void controller_abandon(controller *c);
const char *controller_name(controller *c);

#endif
