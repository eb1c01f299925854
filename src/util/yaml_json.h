/*
 * yaml_json — YAML (1.2 core schema; JSON is a subset) to jansson values.
 *
 * Pure: parses a caller-supplied buffer, performs no I/O.
 *
 * Scalars: quoted or block scalars are strings; plain scalars resolve to
 * null (null, Null, NULL, ~, empty), booleans (true/false in three casings),
 * integers (decimal, 0x hex, 0o octal; beyond 64 bits a real), reals
 * (including exponents; .inf/.nan stay strings since JSON lacks them), else
 * strings. Explicit !!str forces a string. Mapping keys must be scalars and
 * unique. Aliases are expanded by copy, against a budget of expanded nodes
 * (YAML_JSON_MAX_NODES) so that "billion laughs" input fails cleanly; nesting
 * deeper than YAML_JSON_MAX_DEPTH fails too.
 *
 * Errors are written to errbuf as one line naming the line and column.
 */
#ifndef MEMSHACK_UTIL_YAML_JSON_H
#define MEMSHACK_UTIL_YAML_JSON_H

#include <jansson.h>
#include <stddef.h>
#include "util/must_use.h"

#define YAML_JSON_MAX_NODES 1000000
#define YAML_JSON_MAX_DEPTH 200

/*
 * Every non-empty document of the stream, in order, as a JSON array.
 * Returns a new reference (caller json_decref()s it), or NULL on error.
 */
MEMSHACK_MUST_USE json_t *yaml_json_load_all(const char *text, size_t len, char *errbuf, size_t errlen);

/*
 * Exactly one document. An empty stream yields an error, as do several
 * documents. Returns a new reference, or NULL on error.
 */
MEMSHACK_MUST_USE json_t *yaml_json_load(const char *text, size_t len, char *errbuf, size_t errlen);

#endif
