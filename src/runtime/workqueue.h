/*
 * workqueue — the controller work queue, with client-go's semantics.
 *
 *  - Keys are strings ("namespace/name"), deduplicated: a key added many
 *    times before a worker takes it is processed once.
 *  - A key is never handed to two workers at once. A key added while it is
 *    being processed is queued again when workqueue_done() is called.
 *  - workqueue_add_rate_limited(): per-key exponential backoff (base delay
 *    doubling per failure, capped) combined with an overall token bucket
 *    (qps, burst); the larger delay wins. workqueue_forget() resets a key's
 *    failures (call it on success).
 *  - workqueue_add_after(): delayed adds; a key waiting with an earlier time
 *    keeps the earlier one.
 *  - Two priorities, like controller-runtime's priority queue: keys added
 *    with WORKQUEUE_HIGH are handed out before every normal key, and a key
 *    already queued at normal is raised by a high add (still queued once).
 *    Delayed and rate-limited adds are normal when they come due.
 *  - workqueue_shutdown(): no new keys are handed out; workqueue_get()
 *    returns NULL; workqueue_drain() waits for in-flight keys to be done.
 *
 * Thread-safe. The clock is injectable (monotonic microseconds) so the
 * policy is unit-tested without sleeping.
 */
#ifndef MEMSHACK_RUNTIME_WORKQUEUE_H
#define MEMSHACK_RUNTIME_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/must_use.h"

typedef int64_t (*workqueue_clock_fn)(void *ud);

typedef struct workqueue_options {
	int64_t base_delay_us;    /* default 5 ms */
	int64_t max_delay_us;     /* default 1000 s */
	double qps;               /* overall rate for rate-limited adds; default 10 */
	int burst;                /* default 100 */
	workqueue_clock_fn clock; /* default CLOCK_MONOTONIC */
	void *clock_ud;
} workqueue_options;

typedef struct workqueue workqueue;

/* opts may be NULL. Returns NULL on no memory. */
workqueue *workqueue_new(const workqueue_options *opts);
/* Frees the queue; call after every worker has stopped. */
void workqueue_free(workqueue *q);

typedef enum workqueue_priority { WORKQUEUE_NORMAL = 0, WORKQUEUE_HIGH = 1 } workqueue_priority;

/* Adds key at normal priority. */
void workqueue_add(workqueue *q, const char *key);
/* Adds key at prio; a high add raises a key queued at normal. */
void workqueue_add_priority(workqueue *q, const char *key, workqueue_priority prio);
void workqueue_add_after(workqueue *q, const char *key, int64_t delay_us);
/* Adds after the key's backoff delay; returns that delay (µs). */
int64_t workqueue_add_rate_limited(workqueue *q, const char *key);
void workqueue_forget(workqueue *q, const char *key);
int workqueue_failures(workqueue *q, const char *key);

/*
 * Blocks until a key is ready, then marks it processing and returns a copy
 * (caller frees, after workqueue_done). Returns NULL after shutdown.
 */
MEMSHACK_MUST_USE char *workqueue_get(workqueue *q);
/* How long a key handed out had waited, and at which priority. */
typedef struct workqueue_wait {
	workqueue_priority priority;
	int64_t waited_us; /* since it was last queued ready: added, re-queued by done(), raised, or come due */
} workqueue_wait;

/*
 * workqueue_get, also saying how long the key waited (wait may be NULL).
 * With min WORKQUEUE_HIGH only high keys are handed out: a worker kept for
 * new objects and spec changes, which never waits behind a normal reconcile.
 */
MEMSHACK_MUST_USE char *workqueue_get_waited(workqueue *q, workqueue_priority min, workqueue_wait *wait);
/* Non-blocking: a ready key (as above) or NULL. Moves due delayed keys first. */
MEMSHACK_MUST_USE char *workqueue_try_get(workqueue *q);
void workqueue_done(workqueue *q, const char *key);

size_t workqueue_len(workqueue *q);     /* keys ready to be handed out */
size_t workqueue_delayed(workqueue *q); /* keys waiting for their time */
uint64_t workqueue_adds_total(workqueue *q);
uint64_t workqueue_retries_total(workqueue *q);

void workqueue_shutdown(workqueue *q);
/* After shutdown: waits until no key is being processed. */
void workqueue_drain(workqueue *q);

#endif
