/*
 * fault_proxy — a misbehaving memcached for cachetest's own tests: listens
 * on 127.0.0.1:LISTEN, forwards to 127.0.0.1:UPSTREAM, and misbehaves:
 *   drop-writes  answers STORED to set/add/replace without forwarding them
 *   corrupt      changes every 'x' to 'y' in what the server sends back
 * One client connection at a time; runs until killed.
 * Usage: fault_proxy MODE LISTEN_PORT UPSTREAM_PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_upstream(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* drop-writes: consumes complete commands from buf; returns bytes consumed. */
static size_t filter_client(char *buf, size_t len, int client, int up)
{
	size_t used = 0;
	for (;;) {
		char *nl = memchr(buf + used, '\n', len - used);
		if (!nl)
			return used;
		size_t line_len = (size_t)(nl - (buf + used)) + 1;
		char cmd[16] = "";
		sscanf(buf + used, "%15s", cmd);
		if (!strcmp(cmd, "set") || !strcmp(cmd, "add") || !strcmp(cmd, "replace")) {
			char key[300];
			unsigned flags, exptime;
			int bytes = 0;
			if (sscanf(buf + used, "%*s %299s %u %u %d", key, &flags, &exptime, &bytes) != 4 || bytes < 0)
				bytes = 0;
			size_t need = line_len + (size_t)bytes + 2;
			if (len - used < need)
				return used;
			if (write_all(client, "STORED\r\n", 8))
				return len;
			used += need;
		} else {
			if (write_all(up, buf + used, line_len))
				return len;
			used += line_len;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: fault_proxy drop-writes|corrupt LISTEN_PORT UPSTREAM_PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int drop = !strcmp(argv[1], "drop-writes");
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 8)) {
		perror("fault_proxy: listen");
		return 1;
	}
	for (;;) {
		int client = accept(ls, NULL, NULL);
		if (client < 0)
			continue;
		int up = connect_upstream(atoi(argv[3]));
		if (up < 0) {
			close(client);
			continue;
		}
		char *cbuf = malloc(4 << 20);
		size_t clen = 0;
		for (;;) {
			struct pollfd p[2] = { { client, POLLIN, 0 }, { up, POLLIN, 0 } };
			if (poll(p, 2, -1) < 0)
				break;
			char buf[65536];
			if (p[0].revents) {
				ssize_t n = read(client, buf, sizeof buf);
				if (n <= 0)
					break;
				if (!drop) {
					if (write_all(up, buf, (size_t)n))
						break;
				} else {
					if (clen + (size_t)n > (4u << 20))
						break;
					memcpy(cbuf + clen, buf, (size_t)n);
					clen += (size_t)n;
					size_t used = filter_client(cbuf, clen, client, up);
					memmove(cbuf, cbuf + used, clen - used);
					clen -= used;
				}
			}
			if (p[1].revents) {
				ssize_t n = read(up, buf, sizeof buf);
				if (n <= 0)
					break;
				if (!drop)
					for (ssize_t i = 0; i < n; i++)
						if (buf[i] == 'x')
							buf[i] = 'y';
				if (write_all(client, buf, (size_t)n))
					break;
			}
		}
		free(cbuf);
		close(client);
		close(up);
	}
}
