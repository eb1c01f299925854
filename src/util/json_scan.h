/*
 * json_scan — reading JSON text without building a tree: where a value
 * starts and ends, an object's member by name, the elements of an array,
 * the text of one string.
 *
 * For what a tree decoder refuses (nesting deeper than it allows, bytes
 * or numbers it rejects): one list item or watch event can still be told
 * apart from its neighbours and named, so it alone is set aside. No
 * recursion and no allocation: any nesting depth costs nothing; every scan
 * is bounded by the text it is given. Lenient by design: it finds extents
 * and never judges a value's content (the decoder does that).
 */
#ifndef MEMSHACK_UTIL_JSON_SCAN_H
#define MEMSHACK_UTIL_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* The bytes [start, end) of buf. */
typedef struct json_span {
	size_t start, end;
} json_span;

/*
 * Skips white space from pos, then one complete value: *ret is its extent.
 * Returns 0, or -1 when no complete value starts there (end of text,
 * unbalanced brackets, an unterminated string).
 */
int json_scan_value(const char *buf, size_t len, size_t pos, json_span *ret);

/* The value of the member named key at the top level of the object at obj. 0, or -1 (not an object, not found). */
int json_scan_member(const char *buf, json_span obj, const char *key, json_span *ret);

/*
 * Calls fn(ud, element) for each element of the array at arr, in order;
 * stops early when fn returns non-zero and returns that value. Returns 0,
 * or -1 when arr is not a well-formed array at its top level.
 */
int json_scan_elements(const char *buf, json_span arr, int (*fn)(void *ud, json_span element), void *ud);

/*
 * The text of the string token at s, unescaped into out (NUL-terminated,
 * at most outlen-1 bytes). Returns 0; -1 when s is not a string, when the
 * text does not fit, or when it holds a NUL or another control character
 * (a name, uid or resourceVersion never does).
 */
int json_scan_string(const char *buf, json_span s, char *out, size_t outlen);

/* The index just past the closing quote of the string token opening at buf[i], or len + 1 when it is unterminated. */
size_t json_scan_string_end(const char *buf, size_t len, size_t i);

/* The value of the four hex digits at p (a \u escape's); 0, or -1 when they are not four hex digits. */
int json_scan_hex4(const char *p, unsigned *ret);

#endif
