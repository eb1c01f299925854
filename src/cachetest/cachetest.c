#define _GNU_SOURCE /* getaddrinfo with C17 */
#include "cachetest/cachetest.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcproto/mcconn.h"
#include "util/sbuf.h"

typedef struct ctx {
	const cachetest_options *o;
	cachetest_result *r;
	mcconn c;
} ctx;

static void report(ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(ctx *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(x->o->report, fmt, ap);
	va_end(ap);
	fputc('\n', x->o->report);
}

static void value_for(const char *key, int size, int version, char *buf)
{
	/* Deterministic bytes that depend on the key, the size and the version. */
	unsigned h = 2166136261u ^ (unsigned)version;
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	for (int i = 0; i < size; i++) {
		h = h * 1103515245u + 12345u;
		buf[i] = alphabet[(h >> 16) % (sizeof alphabet - 1)];
	}
}

static bool io_error(ctx *x, const char *what, const char *key)
{
	x->r->errors++;
	report(x, "ERROR %s %s: connection failed or timed out", what, key);
	return false;
}

/* storage command; returns the reply line in reply. */
static bool store(ctx *x, const char *cmd, const char *key, const char *val, int len, char *reply, size_t rlen)
{
	sbuf req = SBUF_INIT;
	bool ok = sbuf_addf(&req, "%s %s 0 0 %d\r\n", cmd, key, len) == 0 && sbuf_add(&req, val, (size_t)len) == 0 &&
		  sbuf_adds(&req, "\r\n") == 0 && mcconn_send(&x->c, req.buf, req.len) == 0 &&
		  mcconn_read_line(&x->c, reply, rlen) == 0;
	sbuf_release(&req);
	x->r->operations++;
	return ok ? true : io_error(x, cmd, key);
}

typedef struct got {
	char key[256];
	char *data;
	int len;
} got;

/* get/gets of one or more keys: fills up to max results. Returns count, or -1. */
static int fetch(ctx *x, const char *keys, got *out, int max)
{
	sbuf req = SBUF_INIT;
	int rc = sbuf_addf(&req, "get %s\r\n", keys) < 0 ? -1 : mcconn_send(&x->c, req.buf, req.len);
	sbuf_release(&req);
	x->r->operations++;
	if (rc)
		return -1;
	int n = 0;
	for (;;) {
		char line[512];
		if (mcconn_read_line(&x->c, line, sizeof line))
			return -1;
		if (!strcmp(line, "END"))
			return n;
		char key[256];
		unsigned flags;
		int len;
		if (sscanf(line, "VALUE %255s %u %d", key, &flags, &len) != 3 || len < 0 || len > (64 << 20)) {
			report(x, "ERROR get: unexpected reply '%.80s'", line);
			x->r->errors++;
			return -1;
		}
		if (mcconn_fill(&x->c, (size_t)len + 2))
			return -1;
		if (n < max) {
			snprintf(out[n].key, sizeof out[n].key, "%s", key);
			out[n].data = malloc((size_t)len + 1);
			if (out[n].data)
				memcpy(out[n].data, x->c.in.buf, (size_t)len);
			out[n].len = len;
			n++;
		}
		sbuf_consume(&x->c.in, (size_t)len + 2);
	}
}

static void free_got(got *g, int n)
{
	for (int i = 0; i < n; i++)
		free(g[i].data);
}

static void expect_reply(ctx *x, const char *what, const char *key, const char *reply, const char *want)
{
	if (strcmp(reply, want)) {
		x->r->mismatches++;
		report(x, "MISMATCH %s %s: server said '%.80s', want '%s'", what, key, reply, want);
	}
}

static void expect_value(ctx *x, const char *what, const char *key, got *g, int n, const char *want, int len)
{
	got *hit = NULL;
	for (int i = 0; i < n && !hit; i++)
		if (!strcmp(g[i].key, key))
			hit = &g[i];
	if (!want) {
		if (hit) {
			x->r->mismatches++;
			report(x, "MISMATCH %s %s: found a value (%d bytes), want none", what, key, hit->len);
		}
		return;
	}
	if (!hit) {
		x->r->mismatches++;
		report(x, "MISMATCH %s %s: missing, want %d bytes", what, key, len);
	} else if (hit->len != len || !hit->data || memcmp(hit->data, want, (size_t)len)) {
		x->r->mismatches++;
		int at = 0;
		while (hit->data && at < len && at < hit->len && hit->data[at] == want[at])
			at++;
		report(x, "MISMATCH %s %s: got %d bytes, want %d (first difference at byte %d)", what, key, hit->len,
		       len, at);
	}
}

int cachetest_run(const cachetest_options *o, cachetest_result *r)
{
	static const int default_sizes[] = { 1, 100, 1000, 10000, 100000 };
	const int *sizes = o->sizes ? o->sizes : default_sizes;
	int n_sizes = o->sizes ? o->n_sizes : 5;
	int keys = o->keys > 0 ? o->keys : 100;
	memset(r, 0, sizeof *r);
	ctx x = { o, r, { -1, o->timeout_ms > 0 ? o->timeout_ms : 2000, SBUF_INIT } };
	char err[256], prefix[128];
	if (o->prefix)
		snprintf(prefix, sizeof prefix, "%s", o->prefix);
	else
		snprintf(prefix, sizeof prefix, "memshack-cachetest-%d-", (int)getpid());
	if (mcconn_dial(&x.c, o->host, o->port, err, sizeof err)) {
		report(&x, "ERROR %s", err);
		r->errors++;
		return 1;
	}
	int max = 0;
	for (int s = 0; s < n_sizes; s++)
		if (sizes[s] > max)
			max = sizes[s];
	char *val = malloc((size_t)max + 1), *val2 = malloc((size_t)max + 1);
	char reply[256];
	for (int i = 0; val && val2 && i < keys && r->errors == 0; i++) {
		int size = sizes[i % n_sizes];
		char key[200], key2[220];
		snprintf(key, sizeof key, "%sk%d", prefix, i);
		snprintf(key2, sizeof key2, "%sfresh%d", prefix, i);
		got g[4];
		int n;
		/* set, then get what was set */
		value_for(key, size, 1, val);
		if (!store(&x, "set", key, val, size, reply, sizeof reply))
			break;
		expect_reply(&x, "set", key, reply, "STORED");
		if ((n = fetch(&x, key, g, 4)) < 0 && io_error(&x, "get", key))
			break;
		expect_value(&x, "get after set", key, g, n, val, size);
		free_got(g, n);
		/* add on an existing key must not store; on a fresh key it must */
		value_for(key, size, 2, val2);
		if (!store(&x, "add", key, val2, size, reply, sizeof reply))
			break;
		expect_reply(&x, "add (existing key)", key, reply, "NOT_STORED");
		if (!store(&x, "add", key2, val2, size, reply, sizeof reply))
			break;
		expect_reply(&x, "add (new key)", key2, reply, "STORED");
		/* replace, then a multi-get of both keys */
		if (!store(&x, "replace", key, val2, size, reply, sizeof reply))
			break;
		expect_reply(&x, "replace", key, reply, "STORED");
		char both[512];
		snprintf(both, sizeof both, "%s %s", key, key2);
		if ((n = fetch(&x, both, g, 4)) < 0 && io_error(&x, "multi-get", both))
			break;
		expect_value(&x, "multi-get", key, g, n, val2, size);
		expect_value(&x, "multi-get", key2, g, n, val2, size);
		free_got(g, n);
		/* incr on a counter */
		char ckey[220];
		snprintf(ckey, sizeof ckey, "%sctr%d", prefix, i);
		if (!store(&x, "set", ckey, "41", 2, reply, sizeof reply))
			break;
		sbuf req = SBUF_INIT;
		bool ok = sbuf_addf(&req, "incr %s 1\r\n", ckey) == 0 && mcconn_send(&x.c, req.buf, req.len) == 0 &&
			  mcconn_read_line(&x.c, reply, sizeof reply) == 0;
		sbuf_release(&req);
		r->operations++;
		if (!ok && io_error(&x, "incr", ckey))
			break;
		expect_reply(&x, "incr", ckey, reply, "42");
		/* delete, then nothing is there */
		const char *dels[] = { key, key2, ckey };
		for (int d = 0; d < 3; d++) {
			sbuf dr = SBUF_INIT;
			ok = sbuf_addf(&dr, "delete %s\r\n", dels[d]) == 0 && mcconn_send(&x.c, dr.buf, dr.len) == 0 &&
			     mcconn_read_line(&x.c, reply, sizeof reply) == 0;
			sbuf_release(&dr);
			r->operations++;
			if (!ok) {
				io_error(&x, "delete", dels[d]);
				break;
			}
			expect_reply(&x, "delete", dels[d], reply, "DELETED");
		}
		if (r->errors)
			break;
		if ((n = fetch(&x, key, g, 4)) < 0 && io_error(&x, "get after delete", key))
			break;
		expect_value(&x, "get after delete", key, g, n, NULL, 0);
		free_got(g, n);
	}
	free(val);
	free(val2);
	mcconn_close(&x.c);
	fprintf(o->report, "cachetest %s:%s: %d keys, %ld operations, %ld mismatches, %ld errors\n", o->host, o->port,
		keys, r->operations, r->mismatches, r->errors);
	return r->mismatches || r->errors ? 1 : 0;
}

int cachetest_main(int argc, char **argv)
{
	static const struct option opts[] = { { "keys", required_argument, NULL, 'k' },
					      { "sizes", required_argument, NULL, 's' },
					      { "timeout-ms", required_argument, NULL, 't' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	cachetest_options o = { .report = stdout };
	int sizes[32], n_sizes = 0;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "k:s:t:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': o.keys = atoi(optarg); break;
		case 't': o.timeout_ms = atoi(optarg); break;
		case 's': {
			char *copy = strdup(optarg), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t && n_sizes < 32; t = strtok_r(NULL, ",", &save)) {
				int v = atoi(t);
				if (v < 1 || v > (1 << 20)) {
					fprintf(stderr, "memshack cachetest: sizes must be 1..1048576 bytes\n");
					free(copy);
					return 2;
				}
				sizes[n_sizes++] = v;
			}
			free(copy);
			o.sizes = sizes;
			o.n_sizes = n_sizes;
			break;
		}
		case 'h':
			printf("usage: memshack cachetest [--keys N] [--sizes 1,100,...] [--timeout-ms MS] HOST:PORT\n");
			return 0;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr,
			"usage: memshack cachetest [--keys N] [--sizes 1,100,...] [--timeout-ms MS] HOST:PORT\n");
		return 2;
	}
	char *target = strdup(argv[optind]);
	if (!target || mcconn_split_address(target, &o.host, &o.port)) {
		fprintf(stderr, "memshack cachetest: want HOST:PORT, got '%s'\n", argv[optind]);
		free(target);
		return 2;
	}
	cachetest_result r;
	int rc = cachetest_run(&o, &r);
	free(target);
	return rc;
}
