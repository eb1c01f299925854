/*
 * clock — the two clocks the I/O shell reads: monotonic time for timeouts,
 * backoff and lease observation; wall time for timestamps written to the API.
 * And the one way the shell's threads wait on a condition variable with a
 * timeout: by the monotonic clock, so a step of the wall clock never moves it.
 * (The pure core takes times as arguments and never calls these.)
 */
#ifndef MEMSHACK_UTIL_CLOCK_H
#define MEMSHACK_UTIL_CLOCK_H

#include <pthread.h>
#include <stdint.h>

/* Microseconds of CLOCK_MONOTONIC. */
int64_t clock_mono_us(void);
/* CLOCK_MONOTONIC in seconds, for durations reported as doubles (metrics). */
double clock_mono_seconds(void);
/* Microseconds since the epoch (CLOCK_REALTIME). */
int64_t clock_wall_us(void);

/* Initialises *cond so that clock_cond_wait_until measures by CLOCK_MONOTONIC. 0, or an errno value. */
int clock_cond_init(pthread_cond_t *cond);
/*
 * With mu held: waits on cond (initialised by clock_cond_init) until it is
 * signalled or clock_mono_us() reaches when_us. Returns pthread_cond_timedwait's
 * result (ETIMEDOUT when the time came); returns ETIMEDOUT at once when
 * when_us has already passed.
 */
int clock_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t when_us);

#endif
