#include "util/clock.h"

#include <errno.h>
#include <time.h>

static int64_t read_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_mono_us(void)
{
	return read_us(CLOCK_MONOTONIC);
}

double clock_mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t clock_wall_us(void)
{
	return read_us(CLOCK_REALTIME);
}

int clock_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);
	if (rc)
		return rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!rc)
		rc = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}

int clock_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t when_us)
{
	if (when_us <= clock_mono_us())
		return ETIMEDOUT;
	struct timespec ts = { .tv_sec = (time_t)(when_us / 1000000), .tv_nsec = (long)(when_us % 1000000) * 1000 };
	return pthread_cond_timedwait(cond, mu, &ts);
}
