/*
 * store — the informer's cache of objects, safe for concurrent readers.
 *
 * Each object is kept as compact JSON text (far smaller than a jansson
 * tree) after an optional projection: by default metadata.managedFields is
 * dropped; a projection callback can keep only the fields a controller reads
 * (for owned children: identity, owner references, labels, the status fields
 * watched, and the digest of what we applied). A read parses a fresh copy,
 * so callers own what they get and can never mutate the cache.
 *
 * Keys are "namespace/name", or "name" for cluster-scoped objects.
 */
#ifndef MEMSHACK_RUNTIME_STORE_H
#define MEMSHACK_RUNTIME_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "util/must_use.h"

typedef struct store store;

/* Returns a new reference to what to keep of obj (borrowed), or NULL to keep nothing. */
typedef json_t *(*store_project_fn)(void *ud, json_t *obj);

/* project may be NULL (default trim). Returns NULL on no memory. */
store *store_new(store_project_fn project, void *ud);
void store_free(store *s);

/* The object's key into buf; returns buf, or NULL if it has no metadata.name. */
char *store_key_of(json_t *obj, char *buf, size_t len);

/* Inserts or replaces obj (borrowed). *ret_changed (may be NULL): resourceVersion differed. */
MEMSHACK_MUST_USE int store_upsert(store *s, json_t *obj, bool *ret_changed);
/* The same; *ret_kept_changed (may be NULL): what the store keeps (the projection, resourceVersion aside) is new or differs. */
MEMSHACK_MUST_USE int store_upsert_diff(store *s, json_t *obj, bool *ret_changed, bool *ret_kept_changed);
/* Removes the key; *ret_existed (may be NULL). */
void store_delete(store *s, const char *key, bool *ret_existed);

typedef void (*store_replace_fn)(void *ud, const char *key, json_t *obj);
/*
 * Replaces the whole content with `items` (a JSON array, borrowed) in one
 * step: readers see either the old or the new content. Afterwards calls
 * on_vanished(key, last cached copy) for every key that is gone (a synthesised delete)
 * and on_changed(key, obj) for every object added or changed. Marks synced.
 */
MEMSHACK_MUST_USE int store_replace(store *s, json_t *items, store_replace_fn on_changed, store_replace_fn on_vanished,
				    void *ud);

/* A parsed copy (new reference, caller owns) or NULL: when absent, or when no copy could be made (no memory). */
json_t *store_get(store *s, const char *key);
/*
 * For decisions, which must tell the two apart: 1 with *ret a parsed copy
 * (new reference), 0 with *ret NULL when key is not cached, -1 with *ret
 * NULL when the copy could not be made (no memory: decide nothing).
 */
MEMSHACK_MUST_USE int store_lookup(store *s, const char *key, json_t **ret);
/* Parsed copies of every object for which filter (may be NULL) is true; a new array, or NULL (no memory: never a partial list). */
MEMSHACK_MUST_USE json_t *store_list(store *s, bool (*filter)(void *ud, json_t *obj), void *ud);
/* The same, only for keys ("namespace/name") starting with key_prefix (NULL: all); others are not parsed. NULL on no memory. */
MEMSHACK_MUST_USE json_t *store_list_prefix(store *s, const char *key_prefix, bool (*filter)(void *ud, json_t *obj),
					    void *ud);
/*
 * The keys cached now ("namespace/name"), nothing parsed: a new NULL-terminated
 * array of new strings (free each, then the array; store_keys_free does both),
 * its length in *n. NULL on no memory (never a partial list).
 */
MEMSHACK_MUST_USE char **store_keys(store *s, size_t *n);
void store_keys_free(char **keys);
size_t store_len(store *s);
/* Bytes held: entry structs, key and text buffers (what a cached object costs). */
size_t store_bytes(store *s);
bool store_synced(store *s);

/* The default projection: a copy without metadata.managedFields. */
json_t *store_trim(void *ud, json_t *obj);

#endif
