/*
 * digest — MD5 hex digests (what mcrouter reports as config_md5_digest, and
 * what we record of applied objects). Pure.
 */
#ifndef MEMSHACK_UTIL_DIGEST_H
#define MEMSHACK_UTIL_DIGEST_H

#include <jansson.h>
#include <stddef.h>
#include "util/must_use.h"

/* Writes 32 lowercase hex digits and a NUL into out. */
void digest_md5_hex(const void *data, size_t len, char out[33]);
/* MD5 of the canonical JSON (sorted keys, compact) of v. 0, or -1 when v could not be encoded (no memory). */
MEMSHACK_MUST_USE int digest_json_md5(json_t *v, char out[33]);

#endif
