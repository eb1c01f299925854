/*
 * mcconn — one client connection speaking memcached's ASCII protocol (to
 * memcached or mcrouter): dial with a timeout, send, and bounded reads of
 * lines and payloads. Every wait is bounded by the connection's timeout, so a
 * silent peer costs at most timeout_ms per call, never a hang.
 *
 * Used by `memshack cachetest`, the operator's gateway digest probe and the
 * test/benchmark load generator. Not thread-safe: one connection per thread.
 */
#ifndef MEMSHACK_MCCONN_H
#define MEMSHACK_MCCONN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sbuf.h"

typedef struct mcconn {
	int fd;         /* -1 when closed */
	int timeout_ms; /* per wait */
	sbuf in;        /* bytes received and not yet consumed */
} mcconn;

#define MCCONN_INIT(timeout)             \
	{                                \
		-1, (timeout), SBUF_INIT \
	}

/*
 * Splits "HOST:PORT" or "[V6]:PORT" in place (s is modified): *host and *port
 * point into s. Returns 0, or -1 when s has no non-empty HOST and PORT.
 */
int mcconn_split_address(char *s, const char **host, const char **port);

/* Resolves host (getaddrinfo: name or address) and connects, waiting at most
 * c->timeout_ms. Returns 0, or -1 with a one-line reason in err. */
int mcconn_dial(mcconn *c, const char *host, const char *port, char *err, size_t errlen);

/* Sends all of data. Returns 0, or -1 on error or timeout. */
int mcconn_send(mcconn *c, const char *data, size_t len);

/* Makes sure at least `need` bytes are buffered in c->in. Returns 0, or -1 on
 * error, end of stream or timeout. */
int mcconn_fill(mcconn *c, size_t need);

/* Reads one "\r\n"- (or "\n"-) terminated line into out, without the
 * terminator, truncated to outlen - 1 bytes. Lines longer than 8 KiB are an
 * error. Returns 0 or -1. */
int mcconn_read_line(mcconn *c, char *out, size_t outlen);

/* `get KEY`: on a hit copies the value (NUL-terminated, truncated to
 * outlen - 1) into out and sets *found; on a miss *found = false. Returns 0,
 * or -1 on an I/O error or an unexpected reply (copied into out). */
int mcconn_get(mcconn *c, const char *key, char *out, size_t outlen, bool *found);

/* Closes the socket and frees the buffer; the struct may be dialled again. */
void mcconn_close(mcconn *c);

#endif
