/*
 * strmap — a hash map from NUL-terminated string keys to pointers.
 *
 * Pure and not thread-safe (callers lock). Keys are copied and owned by the
 * map (or, in a STRMAP_INIT_BORROWED map, borrowed from the value, which must
 * keep the key alive and unchanged while it is in the map); values are the caller's (strmap_free/remove hand them back through
 * the optional free callback). Iteration order is unspecified.
 */
#ifndef MEMSHACK_UTIL_STRMAP_H
#define MEMSHACK_UTIL_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/must_use.h"

typedef struct strmap_entry {
	char *key; /* NULL: empty slot; a private sentinel: removed */
	void *value;
	uint32_t hash;
} strmap_entry;

typedef struct strmap {
	strmap_entry *slots;
	size_t cap;       /* power of two, or 0 */
	size_t len;       /* live entries */
	size_t used;      /* live + tombstones */
	bool borrow_keys; /* keys are not copied: each value owns its key (see strmap_put) */
} strmap;

#define STRMAP_INIT                  \
	{                            \
		NULL, 0, 0, 0, false \
	}
/* A map whose keys live inside their values: put() stores the key pointer as given. */
#define STRMAP_INIT_BORROWED        \
	{                           \
		NULL, 0, 0, 0, true \
	}

typedef void (*strmap_free_fn)(void *value);

/* Frees keys, and values through free_value if not NULL; leaves the map empty and reusable. */
void strmap_release(strmap *m, strmap_free_fn free_value);
/* The value for key, or NULL. *found (if not NULL) says whether the key exists. */
void *strmap_get(const strmap *m, const char *key, bool *found);
/*
 * Sets key to value. If the key existed, its old value is stored in
 * *ret_old (if not NULL) and *ret_replaced set. Returns 0, or -1 on no memory.
 */
MEMSHACK_MUST_USE int strmap_put(strmap *m, const char *key, void *value, void **ret_old, bool *ret_replaced);
/* Removes key; returns its value (or NULL) and sets *found. */
void *strmap_remove(strmap *m, const char *key, bool *found);

/*
 * Removes every entry for which drop(ud, key, value) is true, handing
 * its value to free_value (if not NULL); the key is freed as by
 * strmap_remove. Returns how many were removed. drop must not change
 * the map. Removal never moves other entries, so this is one pass.
 */
typedef bool (*strmap_pred_fn)(void *ud, const char *key, void *value);
size_t strmap_remove_if(strmap *m, strmap_pred_fn drop, void *ud, strmap_free_fn free_value);

/* Iteration: for (size_t i = 0; strmap_next(m, &i, &k, &v);) { ... } */
bool strmap_next(const strmap *m, size_t *iter, const char **ret_key, void **ret_value);

#endif
