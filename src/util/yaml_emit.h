/*
 * yaml_emit — JSON values to YAML text (block style, keys in the order
 * given), for manifests people read: `memshack render`, generated CRDs.
 * Strings that YAML would read as something else (numbers, booleans, null,
 * leading indicators) are quoted; multi-line strings use literal blocks.
 * Pure.
 */
#ifndef MEMSHACK_UTIL_YAML_EMIT_H
#define MEMSHACK_UTIL_YAML_EMIT_H

#include <jansson.h>
#include "util/must_use.h"

/*
 * Each value of `docs` (a JSON array, borrowed) as one YAML document, joined
 * with "---". Returns new text (caller frees), or NULL on failure.
 * sort_keys orders mapping keys; otherwise jansson's insertion order.
 */
MEMSHACK_MUST_USE char *yaml_emit_documents(json_t *docs, int sort_keys);

#endif
