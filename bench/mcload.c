/*
 * mcload — a memcached-protocol load generator and correctness probe, for the
 * data-plane tests and benchmark (through an mcrouter gateway or straight to
 * memcached).
 *
 *   mcload HOST:PORT [--seconds S] [--conns N] [--keys K] [--size B]
 *          [--mode pairs|gets] [--prefix P] [--errors FILE] [--max-ops N]
 *
 * Each of N threads holds one connection. In `pairs` mode (default) a thread
 * repeatedly picks one of its own keys (thread i owns the keys k ≡ i mod N),
 * sets it to a value naming the thread and a sequence
 * number, then gets it: the get must return exactly that value (a "miss after
 * set" or a "stale read" is counted, not tolerated silently). In `gets` mode
 * it only gets (after one set of every key), for throughput, and counts the
 * gets that miss (misses=, per second: the hit rate of a fixed key set read
 * over and over; the summary's misses_after_set). A failed
 * connection is re-dialled after 20 ms.
 *
 * Prints one line per second ("t=... ops=... errors=... misses=...") and a
 * summary: operations, ops/s, errors by kind, misses after set, stale reads,
 * latency p50/p90/p99/max (µs) per request. --errors FILE gets one line per
 * error with its wall-clock time (ms), the operation, the key and the reply.
 * SIGTERM or SIGINT ends the run early, with the summary.
 * Exits 0 when it ran (errors are data, not failure), 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcproto/mcconn.h"

typedef struct opts {
	char host[256], port[16];
	double seconds;
	int conns, keys, size;
	bool gets_only;
	const char *prefix;
	FILE *errors;
	long max_ops;
} opts;

enum { MAX_SAMPLES = 1 << 20 };

typedef struct worker {
	const opts *o;
	int id;
	pthread_t t;
	long ops, errs, misses, stale, dial_errs;
	uint32_t *lat; /* µs per request, up to MAX_SAMPLES */
	double start, end;
	long nlat;
	_Atomic long live_ops, live_errs, live_misses;
} worker;

static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop_requested; /* SIGTERM/SIGINT: finish and print the summary */

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_error(worker *w, const char *op, const char *key, const char *reply)
{
	if (!w->o->errors)
		return;
	pthread_mutex_lock(&err_mu);
	fprintf(w->o->errors, "%lld %s %s %s\n", wall_ms(), op, key, reply);
	fflush(w->o->errors);
	pthread_mutex_unlock(&err_mu);
}

static void record(worker *w, double t0)
{
	if (w->nlat < MAX_SAMPLES)
		w->lat[w->nlat++] = (uint32_t)((now_s() - t0) * 1e6);
}

static bool set_key(worker *w, mcconn *c, const char *key, const char *val, char *reply, size_t rlen)
{
	char req[600];
	int n = snprintf(req, sizeof req, "set %s 0 0 %zu\r\n%s\r\n", key, strlen(val), val);
	double t0 = now_s();
	if (mcconn_send(c, req, (size_t)n) || mcconn_read_line(c, reply, rlen)) {
		snprintf(reply, rlen, "connection failed or timed out");
		return false;
	}
	record(w, t0);
	return !strcmp(reply, "STORED");
}

static void *run(void *arg)
{
	worker *w = arg;
	const opts *o = w->o;
	mcconn c = MCCONN_INIT(2000);
	char err[256], key[300], val[520], got[600];
	unsigned seed = (unsigned)w->id * 2654435761u + (unsigned)getpid();
	w->start = now_s();
	double end = w->start + o->seconds;
	long seq = 0;
	bool preloaded = !o->gets_only;
	while (!stop_requested && now_s() < end && (o->max_ops <= 0 || w->ops < o->max_ops)) {
		if (c.fd < 0 && mcconn_dial(&c, o->host, o->port, err, sizeof err)) {
			w->dial_errs++;
			w->errs++;
			atomic_fetch_add(&w->live_errs, 1);
			log_error(w, "connect", "-", err);
			usleep(20000);
			continue;
		}
		if (!preloaded) { /* gets mode: each thread sets its share of the keys once */
			for (int k = w->id; k < o->keys; k += o->conns) {
				snprintf(key, sizeof key, "%s%d", o->prefix, k);
				memset(val, 'v', (size_t)o->size);
				val[o->size] = '\0';
				if (!set_key(w, &c, key, val, got, sizeof got))
					log_error(w, "set", key, got);
			}
			preloaded = true;
		}
		/* pairs: thread id owns the keys id, id + conns, id + 2 conns, ... so a get sees only its own writes */
		int k = (int)(rand_r(&seed) % (unsigned)o->keys);
		if (!o->gets_only) {
			int owned = (o->keys - w->id + o->conns - 1) / o->conns; /* keys k < keys with k ≡ id */
			k = owned > 0 ? w->id + o->conns * (k % owned) : w->id % o->keys;
		}
		snprintf(key, sizeof key, "%s%d", o->prefix, k);
		bool io_ok = true;
		if (!o->gets_only) {
			int n = snprintf(val, sizeof val, "w%d-%ld-", w->id, ++seq);
			while (n < o->size && n < (int)sizeof val - 1)
				val[n++] = 'x';
			val[n] = '\0';
			w->ops++;
			atomic_fetch_add(&w->live_ops, 1);
			if (!set_key(w, &c, key, val, got, sizeof got)) {
				w->errs++;
				atomic_fetch_add(&w->live_errs, 1);
				log_error(w, "set", key, got);
				io_ok = strncmp(got, "connection", 10) != 0;
				if (!io_ok)
					mcconn_close(&c);
				continue;
			}
		}
		bool found = false;
		double t0 = now_s();
		w->ops++;
		atomic_fetch_add(&w->live_ops, 1);
		if (mcconn_get(&c, key, got, sizeof got, &found)) {
			w->errs++;
			atomic_fetch_add(&w->live_errs, 1);
			log_error(w, "get", key, got[0] ? got : "connection failed or timed out");
			mcconn_close(&c);
			continue;
		}
		record(w, t0);
		if (o->gets_only) {
			/* A miss of a key set once: the hit rate per second (no error: what a reshard costs). */
			if (!found)
				w->misses++, atomic_fetch_add(&w->live_misses, 1);
			continue;
		}
		if (!found) {
			w->misses++;
			atomic_fetch_add(&w->live_misses, 1);
			log_error(w, "miss-after-set", key, "END");
		} else if (strcmp(got, val)) {
			w->stale++;
			log_error(w, "stale-read", key, got);
		}
	}
	mcconn_close(&c);
	w->end = now_s();
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: mcload HOST:PORT [--seconds S] [--conns N] [--keys K] [--size B] [--mode pairs|gets]\n"
			"              [--prefix P] [--errors FILE] [--max-ops N]\n");
}

int main(int argc, char **argv)
{
	opts o = { .seconds = 10, .conns = 4, .keys = 1000, .size = 100, .prefix = "mcload-" };
	static const struct option lo[] = { { "seconds", 1, NULL, 's' }, { "conns", 1, NULL, 'c' },
					    { "keys", 1, NULL, 'k' },    { "size", 1, NULL, 'z' },
					    { "mode", 1, NULL, 'm' },    { "prefix", 1, NULL, 'p' },
					    { "errors", 1, NULL, 'e' },  { "max-ops", 1, NULL, 'n' },
					    { NULL, 0, NULL, 0 } };
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': o.seconds = atof(optarg); break;
		case 'c': o.conns = atoi(optarg); break;
		case 'k': o.keys = atoi(optarg); break;
		case 'z': o.size = atoi(optarg); break;
		case 'm': o.gets_only = !strcmp(optarg, "gets"); break;
		case 'p': o.prefix = optarg; break;
		case 'n': o.max_ops = atol(optarg); break;
		case 'e':
			if (!(o.errors = fopen(optarg, "w"))) {
				perror(optarg);
				return 2;
			}
			break;
		default: usage(); return 2;
		}
	}
	const char *colon = optind < argc ? strrchr(argv[optind], ':') : NULL;
	if (!colon || o.seconds <= 0 || o.conns < 1 || o.conns > 256 || o.keys < 1 || o.size < 1 || o.size > 500 ||
	    strlen(o.prefix) > 200) {
		usage();
		return 2;
	}
	snprintf(o.host, sizeof o.host, "%.*s", (int)(colon - argv[optind]), argv[optind]);
	snprintf(o.port, sizeof o.port, "%s", colon + 1);
	worker *w = calloc((size_t)o.conns, sizeof *w);
	if (!w)
		return 1;
	for (int i = 0; i < o.conns; i++) {
		w[i] = (worker){ .o = &o, .id = i, .lat = malloc(sizeof(uint32_t) * MAX_SAMPLES) };
		if (!w[i].lat || pthread_create(&w[i].t, NULL, run, &w[i])) {
			fprintf(stderr, "mcload: cannot start thread %d\n", i);
			return 1;
		}
	}
	double start = now_s(), next = start + 1;
	long last_ops = 0, last_errs = 0, last_misses = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop_requested && now_s() < start + o.seconds + 0.5) {
		usleep(50000);
		if (now_s() < next)
			continue;
		long ops = 0, errs = 0, misses = 0;
		for (int i = 0; i < o.conns; i++) {
			ops += atomic_load(&w[i].live_ops);
			errs += atomic_load(&w[i].live_errs);
			misses += atomic_load(&w[i].live_misses);
		}
		printf("t=%.0f ops=%ld errors=%ld misses=%ld\n", next - start, ops - last_ops, errs - last_errs,
		       misses - last_misses);
		fflush(stdout);
		last_ops = ops, last_errs = errs, last_misses = misses;
		next += 1;
		if (o.max_ops > 0 && ops >= o.max_ops * o.conns)
			break;
	}
	long ops = 0, errs = 0, misses = 0, stale = 0, dial = 0, nlat = 0;
	for (int i = 0; i < o.conns; i++) {
		pthread_join(w[i].t, NULL);
		ops += w[i].ops, errs += w[i].errs, misses += w[i].misses, stale += w[i].stale, dial += w[i].dial_errs;
		nlat += w[i].nlat;
	}
	double elapsed = 0;
	for (int i = 0; i < o.conns; i++)
		if (w[i].end - w[i].start > elapsed)
			elapsed = w[i].end - w[i].start;
	uint32_t *all = malloc(sizeof(uint32_t) * (size_t)(nlat ? nlat : 1));
	long at = 0;
	for (int i = 0; i < o.conns; i++) {
		if (all)
			memcpy(all + at, w[i].lat, sizeof(uint32_t) * (size_t)w[i].nlat);
		at += w[i].nlat;
		free(w[i].lat);
	}
	uint32_t p50 = 0, p90 = 0, p99 = 0, mx = 0;
	if (all && nlat) {
		qsort(all, (size_t)nlat, sizeof *all, cmp_u32);
		p50 = all[nlat * 50 / 100], p90 = all[nlat * 90 / 100], p99 = all[nlat * 99 / 100], mx = all[nlat - 1];
	}
	printf("summary ops=%ld seconds=%.2f ops_per_s=%.0f errors=%ld connect_errors=%ld misses_after_set=%ld "
	       "stale_reads=%ld p50_us=%u p90_us=%u p99_us=%u max_us=%u\n",
	       ops, elapsed, ops / elapsed, errs, dial, misses, stale, p50, p90, p99, mx);
	free(all);
	free(w);
	if (o.errors)
		fclose(o.errors);
	return 0;
}
