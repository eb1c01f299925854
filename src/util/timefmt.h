/*
 * timefmt — RFC 3339 timestamps as the Kubernetes API writes them. Pure.
 */
#ifndef MEMSHACK_UTIL_TIMEFMT_H
#define MEMSHACK_UTIL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Parses "2006-01-02T15:04:05[.frac](Z|±hh:mm)" to microseconds since the
 * epoch (UTC). Returns 0 and sets *ret_us, or -1 on malformed input.
 */
int timefmt_parse_rfc3339(const char *s, int64_t *ret_us);

/* Formats as "2006-01-02T15:04:05Z" into buf (at least 21 bytes). Returns buf. */
char *timefmt_rfc3339(int64_t us, char *buf, size_t len);

/* Formats as "2006-01-02T15:04:05.000000Z" (MicroTime) into buf (at least 28 bytes). */
char *timefmt_rfc3339_micro(int64_t us, char *buf, size_t len);

/* Now (the wall clock), to the second, as timefmt_rfc3339 writes it: what conditions record. Returns buf. */
char *timefmt_now_rfc3339(char *buf, size_t len);

#endif
