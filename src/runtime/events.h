/*
 * events — Kubernetes Events (events.k8s.io/v1) about our objects, with
 * aggregation so a hot loop cannot flood the API server.
 *
 *  - An event identical to one sent in the last 10 minutes (same object,
 *    type, reason and note) is not created again: its series.count grows,
 *    and the Event is patched with the new count at most once per 30 s.
 *  - Per object, new Events are limited by a token bucket (burst 25,
 *    then one per 5 minutes); the rest are dropped and counted
 *    (memshack_events_dropped_total).
 *
 * Thread-safe. Sending is synchronous; failures are logged, never fatal.
 */
#ifndef MEMSHACK_RUNTIME_EVENTS_H
#define MEMSHACK_RUNTIME_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#include "kube/kube_client.h"
#include "runtime/metrics.h"

typedef struct events events;

/* controller: reportingController (e.g. "example.io/operator"); instance: reportingInstance. */
events *events_new(kube_client *c, const char *controller, const char *instance, metrics *m);
void events_free(events *e);

/* regarding: the object (borrowed; apiVersion, kind, metadata.namespace/name/uid). type: "Normal" or "Warning". */
void events_record(events *e, json_t *regarding, const char *type, const char *reason, const char *action,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Counters for tests and metrics. */
uint64_t events_created(events *e);
uint64_t events_patched(events *e);
uint64_t events_dropped(events *e);

/* Aggregation windows, overridable for tests (microseconds). */
void events_set_windows(events *e, int64_t dedup_us, int64_t patch_every_us, int burst, int64_t refill_us);

#endif
