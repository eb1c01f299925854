/*
 * json_lenient — JSON decoding that survives integers beyond 64 bits.
 *
 * jansson refuses a whole document when one integer does not fit a
 * json_int_t; the API server happily stores such numbers in custom
 * resources (a schema-less CRD, a field it does not validate). One hostile
 * object must not make a whole LIST unreadable, so on that one error the
 * text is decoded again with every such integer read as a real (which the
 * spec parsers then refuse as "must be an integer").
 */
#ifndef MEMSHACK_UTIL_JSON_LENIENT_H
#define MEMSHACK_UTIL_JSON_LENIENT_H

#include <jansson.h>
#include <stddef.h>

/* As json_loadb(buf, len, flags, err): a new reference, or NULL with err set. */
json_t *json_loadb_lenient(const char *buf, size_t len, size_t flags, json_error_t *err);

#endif
