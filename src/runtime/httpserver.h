/*
 * httpserver — the operator's HTTP endpoints, on libmicrohttpd:
 *   GET /healthz  200 "ok" while the process runs
 *   GET /readyz   200 "ok" when ready(), else 503 with the reason
 *   GET /metrics  Prometheus text (version 0.0.4) from metrics()
 * Anything else is 404; methods other than GET/HEAD are 405.
 */
#ifndef MEMSHACK_RUNTIME_HTTPSERVER_H
#define MEMSHACK_RUNTIME_HTTPSERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct http_server http_server;

typedef struct http_handlers {
	/* Ready or not; on false writes a one-line reason into why. */
	bool (*ready)(void *ud, char *why, size_t len);
	/* The metrics text (caller frees), or NULL. */
	char *(*metrics)(void *ud);
	void *ud;
} http_handlers;

/*
 * Listens on `addr` ("host:port", ":port" for all addresses, or "0" for
 * none: returns NULL without error). *ret_port gets the bound port (useful
 * with port 0 as in "127.0.0.1:0"). Returns NULL on failure with a message
 * in errbuf.
 */
http_server *http_server_start(const char *addr, const http_handlers *h, int *ret_port, char *errbuf, size_t errlen);
void http_server_stop(http_server *s);

#endif
