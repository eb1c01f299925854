/*
 * clock — the two clocks the I/O shell reads: monotonic time for timeouts,
 * backoff and lease observation; wall time for timestamps written to the API.
 * (The pure core takes times as arguments and never calls these.)
 */
#ifndef MEMSHACK_UTIL_CLOCK_H
#define MEMSHACK_UTIL_CLOCK_H

#include <stdint.h>

/* Microseconds of CLOCK_MONOTONIC. */
int64_t clock_mono_us(void);
/* Microseconds since the epoch (CLOCK_REALTIME). */
int64_t clock_wall_us(void);

#endif
