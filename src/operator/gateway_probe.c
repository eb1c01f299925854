#include "operator/gateway_probe.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mcproto/mcconn.h"

int gateway_probe_digest(const char *ip, int port, int timeout_ms, char digest[static 33], char *err, size_t errlen)
{
	mcconn c = MCCONN_INIT(timeout_ms);
	char portstr[16], value[64] = "";
	bool found = false;
	snprintf(portstr, sizeof portstr, "%d", port);
	digest[0] = '\0';
	if (mcconn_dial(&c, ip, portstr, err, errlen))
		return -1;
	int rc = mcconn_get(&c, "__mcrouter__.config_md5_digest", value, sizeof value, &found);
	mcconn_close(&c);
	if (rc || !found) {
		snprintf(err, errlen, "%s:%d: %s", ip, port,
			 rc ? (value[0] ? "unexpected reply" : "no answer") : "no config digest (not mcrouter?)");
		return -1;
	}
	size_t n = strlen(value);
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)value[i]))
			n = 0;
	if (n != 32) {
		snprintf(err, errlen, "%s:%d: config digest '%.40s' is not an md5", ip, port, value);
		return -1;
	}
	memcpy(digest, value, 33);
	return 0;
}

typedef struct probe_job {
	gateway_probe_req *req;
	int timeout_ms;
} probe_job;

static void *probe_thread(void *arg)
{
	probe_job *j = arg;
	j->req->rc = gateway_probe_digest(j->req->ip, j->req->port, j->timeout_ms, j->req->digest, j->req->err,
					  sizeof j->req->err);
	return NULL;
}

void gateway_probe_all(gateway_probe_req *reqs, size_t n, int timeout_ms)
{
	enum { BATCH = 64 };
	for (size_t at = 0; at < n; at += BATCH) {
		size_t m = n - at < BATCH ? n - at : BATCH;
		pthread_t t[BATCH];
		probe_job jobs[BATCH];
		bool started[BATCH];
		for (size_t i = 0; i < m; i++) {
			jobs[i] = (probe_job){ &reqs[at + i], timeout_ms };
			started[i] = pthread_create(&t[i], NULL, probe_thread, &jobs[i]) == 0;
			if (!started[i]) /* no thread: ask in this one */
				probe_thread(&jobs[i]);
		}
		for (size_t i = 0; i < m; i++)
			if (started[i])
				pthread_join(t[i], NULL);
	}
}
