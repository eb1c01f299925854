/*
 * json_lenient — decoding JSON the API server stored, whatever it holds.
 *
 * The API server stores, and sends back, text a strict decoder refuses:
 * "\u0000" in a string, integers beyond 64 bits, and (from clients and
 * relays that are not Go) invalid UTF-8, lone UTF-16 surrogate escapes,
 * raw control characters, numbers beyond a double. One such object must
 * not make a whole LIST or watch stream unreadable, so:
 *
 *  - strings may hold NUL (JSON_ALLOW_NUL): json_string_length() is the
 *    truth, json_string_value() stops at the first NUL. Whoever validates a
 *    string must compare the two (see json_string_clean);
 *  - when the strict decode fails, the text is repaired and decoded again:
 *    invalid UTF-8 and lone surrogates become U+FFFD, raw control bytes in
 *    strings are escaped, a NUL in an object key becomes U+FFFD (jansson
 *    cannot hold it), integers beyond 64 bits become reals, and numbers
 *    beyond a double become strings holding their digits — each then
 *    refused by the spec parser that reads the field ("must be an
 *    integer").
 *
 * What no repair can read (nesting deeper than jansson's 2048 levels,
 * broken structure) stays an error: the caller sets that object aside.
 */
#ifndef MEMSHACK_UTIL_JSON_LENIENT_H
#define MEMSHACK_UTIL_JSON_LENIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "util/must_use.h"

/* As json_loadb(buf, len, flags | JSON_ALLOW_NUL, err): a new reference, or NULL with err set (its text printable ASCII). */
MEMSHACK_MUST_USE json_t *json_loadb_lenient(const char *buf, size_t len, size_t flags, json_error_t *err);

/*
 * The repaired copy of buf described above (caller frees; *ret_len its
 * length), or NULL when out of memory. Exposed for tests and fuzzers.
 */
MEMSHACK_MUST_USE char *json_repair(const char *buf, size_t len, size_t *ret_len);

/* v's text when v is a string holding no NUL and no other control character (U+0000-001F, U+007F); else NULL. */
const char *json_string_clean(const json_t *v);

#endif
