/*
 * sbuf — a growable, always NUL-terminated byte buffer.
 *
 * Invariants: after sbuf_init() (or SBUF_INIT) `buf` is never NULL and
 * buf[len] == '\0'. Appending functions return 0, or -1 when memory runs out
 * or the buffer would exceed `limit` (0 = no limit); on failure the contents
 * are left as they were.
 *
 * Ownership: the sbuf owns `buf`. sbuf_release() frees it and re-initialises;
 * sbuf_detach() hands it to the caller (free() it) and re-initialises.
 */
#ifndef MEMSHACK_UTIL_SBUF_H
#define MEMSHACK_UTIL_SBUF_H

#include <stdarg.h>
#include <stddef.h>
#include "util/must_use.h"

typedef struct sbuf {
	char *buf;
	size_t len;
	size_t cap;
	size_t limit;
} sbuf;

extern char sbuf_empty_[1];
#define SBUF_INIT                    \
	{                            \
		sbuf_empty_, 0, 0, 0 \
	}

void sbuf_init(sbuf *sb);
void sbuf_release(sbuf *sb);
/* Returns the contents (caller frees) and leaves sb empty; NULL on no memory. */
MEMSHACK_MUST_USE char *sbuf_detach(sbuf *sb);
MEMSHACK_MUST_USE int sbuf_add(sbuf *sb, const void *data, size_t len);
MEMSHACK_MUST_USE int sbuf_adds(sbuf *sb, const char *s);
MEMSHACK_MUST_USE int sbuf_addch(sbuf *sb, char c);
MEMSHACK_MUST_USE int sbuf_addf(sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
MEMSHACK_MUST_USE int sbuf_vaddf(sbuf *sb, const char *fmt, va_list ap);
/* Appends s percent-encoded for a URL query value or path segment. */
MEMSHACK_MUST_USE int sbuf_add_urlencoded(sbuf *sb, const char *s);
void sbuf_reset(sbuf *sb);
/* Removes the first n bytes. */
void sbuf_consume(sbuf *sb, size_t n);

#endif
