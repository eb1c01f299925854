/*
 * cachetest — an end-to-end check of a memcached-protocol endpoint (a
 * Memshack gateway, a MemcachedProxy, or memcached itself), the seed's
 * `cargo test cache`: for a number of keys and several value sizes it sets,
 * gets, adds (must fail on an existing key, succeed on a new one), replaces,
 * increments, deletes and multi-gets, comparing every answer with what it
 * wrote. Every mismatch is reported; the run fails if there is any.
 *
 * ASCII protocol only (what mcrouter speaks). Connects over TCP with a
 * timeout; every read is bounded.
 */
#ifndef MEMSHACK_CACHETEST_H
#define MEMSHACK_CACHETEST_H

#include <stdio.h>

typedef struct cachetest_options {
	const char *host;
	const char *port;
	int keys;         /* default 100 */
	const int *sizes; /* value sizes in bytes; NULL = 1, 100, 1000, 10000, 100000 */
	int n_sizes;
	int timeout_ms;     /* per operation, default 2000 */
	const char *prefix; /* key prefix, default "memshack-cachetest-<pid>-" */
	FILE *report;       /* where mismatches and the summary go */
} cachetest_options;

typedef struct cachetest_result {
	long operations;
	long mismatches;
	long errors; /* connection or protocol errors */
} cachetest_result;

/* Runs the test. Returns 0 when every answer matched, 1 otherwise. */
int cachetest_run(const cachetest_options *o, cachetest_result *r);

/* `memshack cachetest` command line. */
int cachetest_main(int argc, char **argv);

#endif
