/*
 * json_encode — JSON text that is whole or nothing.
 *
 * jansson's json_dumps can return damaged text when memory runs out while
 * it writes: it ignores a failure to write an object's key (jansson 2.14
 * dump.c) and goes on, giving `"": ...` in place of `"spec": ...`. Sent to
 * the API server, such text would apply an object without the member; as a
 * digest it would name the wrong object. Everything memshack sends, stores
 * or digests is encoded here: any failed write fails the whole encoding.
 */
#ifndef MEMSHACK_UTIL_JSON_ENCODE_H
#define MEMSHACK_UTIL_JSON_ENCODE_H

#include <jansson.h>
#include "util/must_use.h"

/* As json_dumps(v, flags): the text (caller frees), or NULL when any of it could not be written. */
MEMSHACK_MUST_USE char *json_encode(const json_t *v, size_t flags);

#endif
