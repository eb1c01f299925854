/*
 * conditions — status conditions by the Kubernetes API conventions. Pure.
 *
 * A condition is {type, status: True|False|Unknown, reason (CamelCase),
 * message, lastTransitionTime, observedGeneration}; the list is a map keyed
 * on type. lastTransitionTime changes only when the status flips.
 */
#ifndef MEMSHACK_UTIL_CONDITIONS_H
#define MEMSHACK_UTIL_CONDITIONS_H

#include <jansson.h>
#include <stdbool.h>

/* The condition of this type in the array, or NULL. Borrowed. */
json_t *conditions_find(json_t *conditions, const char *type);

/*
 * Sets (or adds) condition `type` in the JSON array `conditions`, in place.
 * `now` is an RFC 3339 time, used as lastTransitionTime for a new condition
 * or a status flip. Returns true if anything observable changed (status,
 * reason, message or observedGeneration).
 */
bool conditions_set(json_t *conditions, const char *type, const char *status, const char *reason, const char *message,
		    json_int_t observed_generation, const char *now);

/* Removes condition `type` from the array, if there. */
void conditions_remove(json_t *conditions, const char *type);

/* Whether condition `type` has status "True". */
bool conditions_is_true(json_t *conditions, const char *type);

/* A copy of the conditions of `status` (a status object, borrowed, may be NULL), or a new empty array. New reference, NULL when out of memory. */
json_t *conditions_copy_of(json_t *status);

/*
 * The status of an object whose spec cannot be used (any kind): `old`
 * (borrowed, may be NULL) with Ready False, Progressing False and Degraded
 * True, reason InvalidSpec and `message`, and observedGeneration. `now` is
 * RFC 3339. New reference.
 */
json_t *conditions_invalid_spec_status(json_t *old, long long generation, const char *message, const char *now);

/* Whether two status objects differ in anything but their conditions' transition times (a write is due). */
bool conditions_status_differs(json_t *a, json_t *b);

#endif
