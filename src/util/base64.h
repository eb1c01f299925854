/*
 * base64 — strict standard-alphabet base64 decoding (RFC 4648 §4).
 *
 * Whitespace (space, tab, CR, LF) is skipped, as in kubeconfig "-data"
 * fields that were folded. Padding is optional; any other character, or a
 * dangling single character, is an error.
 */
#ifndef MEMSHACK_UTIL_BASE64_H
#define MEMSHACK_UTIL_BASE64_H

#include <stddef.h>
#include "util/must_use.h"

/*
 * Decodes `len` bytes of `in`. On success returns 0 and stores a new buffer
 * (caller frees; NUL-terminated for convenience, the terminator not counted)
 * in *ret_out and its length in *ret_len. Returns -1 on invalid input or no
 * memory, leaving the out-parameters untouched.
 */
MEMSHACK_MUST_USE int base64_decode(const char *in, size_t len, unsigned char **ret_out, size_t *ret_len);

#endif
