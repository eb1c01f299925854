/*
 * gateway_probe — asks a running mcrouter which config it loaded:
 * `get __mcrouter__.config_md5_digest` over the memcached protocol answers
 * the md5 of the config text mcrouter parsed, which equals the md5 memshack
 * wrote into the ConfigMap (status.configDigest) once the gateway reloaded it.
 *
 * I/O: one TCP connection per call, every wait bounded by timeout_ms.
 */
#ifndef MEMSHACK_OPERATOR_GATEWAY_PROBE_H
#define MEMSHACK_OPERATOR_GATEWAY_PROBE_H

#include <stddef.h>

/*
 * Connects to ip:port and reads the loaded config's md5 into digest (32 hex
 * characters + NUL). Returns 0, or -1 with a one-line reason in err (cannot
 * connect, timed out, or not an mcrouter answer).
 */
int gateway_probe_digest(const char *ip, int port, int timeout_ms, char digest[static 33], char *err, size_t errlen);

/* One gateway to ask: ip and port in; rc (0 or -1), digest and err out. */
typedef struct gateway_probe_req {
	const char *ip; /* borrowed */
	int port;
	int rc;
	char digest[33];
	char err[256];
} gateway_probe_req;

/*
 * Asks all n gateways at once (one thread each, at most 64 at a time), so
 * the whole call waits about one timeout however many do not answer. Fills
 * each request's rc, digest and err.
 */
void gateway_probe_all(gateway_probe_req *reqs, size_t n, int timeout_ms);

#endif
