#define _GNU_SOURCE /* getaddrinfo with C17 */
#include "mcproto/mcconn.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int mcconn_split_address(char *s, const char **host, const char **port)
{
	char *colon = strrchr(s, ':');
	if (!colon || colon == s || !colon[1])
		return -1;
	*colon = '\0';
	*host = s;
	if (s[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		*host = s + 1;
	}
	*port = colon + 1;
	return 0;
}

int mcconn_dial(mcconn *c, const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	int e = getaddrinfo(host, port, &hints, &res);
	if (e) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(e));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS) {
			snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
			close(fd);
			fd = -1;
			continue;
		}
		struct pollfd p = { fd, POLLOUT, 0 };
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (poll(&p, 1, c->timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) {
			snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port,
				 soerr ? strerror(soerr) : "timed out");
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	c->fd = fd;
	sbuf_reset(&c->in);
	return 0;
}

int mcconn_send(mcconn *c, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd p = { c->fd, POLLOUT, 0 };
			if (poll(&p, 1, c->timeout_ms) != 1)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

int mcconn_fill(mcconn *c, size_t need)
{
	while (c->in.len < need) {
		struct pollfd p = { c->fd, POLLIN, 0 };
		if (poll(&p, 1, c->timeout_ms) != 1)
			return -1;
		char buf[16384];
		ssize_t n = recv(c->fd, buf, sizeof buf, 0);
		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		if (sbuf_add(&c->in, buf, (size_t)n))
			return -1;
	}
	return 0;
}

int mcconn_read_line(mcconn *c, char *out, size_t outlen)
{
	for (;;) {
		char *nl = memchr(c->in.buf, '\n', c->in.len);
		if (nl) {
			size_t n = (size_t)(nl - c->in.buf);
			size_t copy = n && nl[-1] == '\r' ? n - 1 : n;
			if (copy >= outlen)
				copy = outlen - 1;
			memcpy(out, c->in.buf, copy);
			out[copy] = '\0';
			sbuf_consume(&c->in, n + 1);
			return 0;
		}
		if (c->in.len > 8192 || mcconn_fill(c, c->in.len + 1))
			return -1;
	}
}

int mcconn_get(mcconn *c, const char *key, char *out, size_t outlen, bool *found)
{
	*found = false;
	char req[300], line[512];
	int n = snprintf(req, sizeof req, "get %s\r\n", key);
	if (n < 0 || (size_t)n >= sizeof req || mcconn_send(c, req, (size_t)n) ||
	    mcconn_read_line(c, line, sizeof line))
		return -1;
	if (!strcmp(line, "END"))
		return 0;
	unsigned flags;
	int len;
	char k[256];
	if (sscanf(line, "VALUE %255s %u %d", k, &flags, &len) != 3 || len < 0 || len > (1 << 20)) {
		snprintf(out, outlen, "%s", line);
		return -1;
	}
	if (mcconn_fill(c, (size_t)len + 2))
		return -1;
	size_t copy = (size_t)len < outlen ? (size_t)len : outlen - 1;
	memcpy(out, c->in.buf, copy);
	out[copy] = '\0';
	sbuf_consume(&c->in, (size_t)len + 2);
	if (mcconn_read_line(c, line, sizeof line) || strcmp(line, "END"))
		return -1;
	*found = true;
	return 0;
}

void mcconn_close(mcconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	sbuf_release(&c->in);
}
