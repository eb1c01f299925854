#include "runtime/httpserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct http_server {
	struct MHD_Daemon *d;
	http_handlers h;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned code, const char *ctype, char *body, bool owned)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body,
								 owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	(void)con_cls;
	http_server *s = cls;
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return respond(conn, 405, "text/plain", "method not allowed\n", false);
	if (!strcmp(url, "/healthz") || !strcmp(url, "/livez"))
		return respond(conn, 200, "text/plain", "ok\n", false);
	if (!strcmp(url, "/readyz")) {
		char why[256] = "not ready";
		bool ok = s->h.ready ? s->h.ready(s->h.ud, why, sizeof why) : true;
		if (ok)
			return respond(conn, 200, "text/plain", "ok\n", false);
		char body[300];
		snprintf(body, sizeof body, "%s\n", why);
		return respond(conn, 503, "text/plain", body, false);
	}
	if (!strcmp(url, "/metrics") && s->h.metrics) {
		char *text = s->h.metrics(s->h.ud);
		if (!text)
			return respond(conn, 500, "text/plain", "metrics unavailable\n", false);
		return respond(conn, 200, "text/plain; version=0.0.4; charset=utf-8", text, true);
	}
	return respond(conn, 404, "text/plain", "not found\n", false);
}

http_server *http_server_start(const char *addr, const http_handlers *h, int *ret_port, char *errbuf, size_t errlen)
{
	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!addr || !*addr || !strcmp(addr, "0"))
		return NULL;
	const char *colon = strrchr(addr, ':');
	if (!colon) {
		snprintf(errbuf, errlen, "bind address '%s' is not host:port", addr);
		return NULL;
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || colon[1] == '\0') {
		snprintf(errbuf, errlen, "bind address '%s' has a bad port", addr);
		return NULL;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	char host[64];
	size_t hl = (size_t)(colon - addr);
	if (hl >= sizeof host) {
		snprintf(errbuf, errlen, "bind address '%s' has a bad host", addr);
		return NULL;
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (hl == 0 || !strcmp(host, "0.0.0.0"))
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
	else if (!strcmp(host, "localhost"))
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(errbuf, errlen, "bind address '%s': '%s' is not an IPv4 address", addr, host);
		return NULL;
	}
	http_server *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	s->h = *h;
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, 64u,
				MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!s->d) {
		snprintf(errbuf, errlen, "cannot listen on %s: %s", addr, strerror(errno));
		free(s);
		return NULL;
	}
	if (ret_port) {
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
		*ret_port = info ? (int)info->port : (int)port;
	}
	return s;
}

void http_server_stop(http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
