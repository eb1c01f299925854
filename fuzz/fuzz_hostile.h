/*
 * fuzz_hostile — turns fuzzer bytes into one hostile JSON value that keeps
 * the text around it well-framed: the bytes as the raw content of a string
 * (any escape, surrogate, control or invalid UTF-8 byte; a newline, which
 * would end a watch line, becomes "\n"), as a number token (huge,
 * malformed), as nesting up to 4095 levels, or as duplicate keys. Whatever it
 * holds, an object carrying it can still be named by a scanner, so the
 * harnesses can assert that one bad object costs only itself.
 */
#ifndef MEMSHACK_FUZZ_HOSTILE_H
#define MEMSHACK_FUZZ_HOSTILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/sbuf.h"

/* Appends the value to out (aborts when out of memory). */
void fuzz_hostile_value(const uint8_t *data, size_t size, sbuf *out);
/* Appends {"apiVersion":"v1","kind":"X","metadata":{"name":NAME,"namespace":"ns","resourceVersion":RV},"spec":{"v":VALUE}}. */
void fuzz_hostile_object(const char *name, const char *rv, const uint8_t *data, size_t size, sbuf *out);

#endif
