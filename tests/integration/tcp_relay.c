/*
 * tcp_relay — a TCP relay between one process and the kube-apiserver that
 * can go bad the way networks do, for the leader-election tests:
 *
 *   forward      relays both ways (the start)
 *   blackhole    every connection, open or new, stays open and is read, but
 *                nothing is relayed either way (a partition that leaves the
 *                TCP connections up); what is read is dropped
 *   stale        the connections open now are blackholed, new ones relay (a
 *                NAT or load balancer that lost the state of its flows: the
 *                old connections hang, a reconnect works)
 *   delay MS     relays, holding everything the server sends for MS ms
 *                (a server that answers slowly; order is kept)
 *
 * The mode is the first line of MODE_FILE, re-read every 20 ms. Going back
 * to forward closes the blackholed connections (after a partition that long
 * their peers would have given up on them); new ones relay again.
 * Upstream connections are made from SOURCE_IP (e.g. 127.0.0.2), so the
 * server's audit log tells this process's requests from everyone else's.
 *
 * Usage: tcp_relay LISTEN_PORT UPSTREAM_PORT SOURCE_IP MODE_FILE
 * Listens on 127.0.0.1, connects to 127.0.0.1:UPSTREAM_PORT. Runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256

typedef struct chunk {
	int64_t release_ms;
	size_t len;
	struct chunk *next;
	char data[];
} chunk;

typedef struct conn {
	int cfd, ufd; /* client side, upstream side (-1 while blackholed from the start) */
	bool blackholed;
	chunk *head, *tail; /* server -> client, held back in delay mode */
} conn;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static int connect_upstream(int port, const char *source_ip)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = 0 };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (inet_pton(AF_INET, source_ip, &src.sin_addr) != 1 || bind(fd, (struct sockaddr *)&src, sizeof src) ||
	    connect(fd, (struct sockaddr *)&dst, sizeof dst)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void conn_close(conn *c)
{
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->ufd >= 0)
		close(c->ufd);
	while (c->head) {
		chunk *n = c->head->next;
		free(c->head);
		c->head = n;
	}
	memset(c, 0, sizeof *c);
	c->cfd = c->ufd = -1;
}

typedef enum mode { FORWARD, BLACKHOLE, STALE, DELAY } mode;

static mode read_mode(const char *path, mode cur, long *delay_ms)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return cur;
	char line[64] = "";
	mode m = cur;
	if (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "forward", 7))
			m = FORWARD;
		else if (!strncmp(line, "blackhole", 9))
			m = BLACKHOLE;
		else if (!strncmp(line, "stale", 5))
			m = STALE;
		else if (sscanf(line, "delay %ld", delay_ms) == 1)
			m = DELAY;
	}
	fclose(f);
	return m;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: tcp_relay LISTEN_PORT UPSTREAM_PORT SOURCE_IP MODE_FILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int listen_port = atoi(argv[1]), up_port = atoi(argv[2]);
	const char *source_ip = argv[3], *mode_file = argv[4];
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 64)) {
		perror("tcp_relay: listen");
		return 1;
	}
	static conn conns[MAX_CONNS];
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].cfd = conns[i].ufd = -1;
	mode m = FORWARD;
	long delay_ms = 0;
	char buf[65536];
	for (;;) {
		mode nm = read_mode(mode_file, m, &delay_ms);
		if ((nm == BLACKHOLE || nm == STALE) && nm != m) {
			for (int i = 0; i < MAX_CONNS; i++)
				if (conns[i].cfd >= 0)
					conns[i].blackholed = true;
		} else if (nm == FORWARD && m != FORWARD) {
			for (int i = 0; i < MAX_CONNS; i++)
				if (conns[i].cfd >= 0 && conns[i].blackholed)
					conn_close(&conns[i]);
		}
		m = nm;
		/* Release what the delay held back. */
		int64_t now = now_ms(), next_release = INT64_MAX;
		for (int i = 0; i < MAX_CONNS; i++) {
			conn *c = &conns[i];
			while (c->head && (c->blackholed || c->head->release_ms <= now)) {
				chunk *k = c->head;
				int bad = c->blackholed ? 0 : write_all(c->cfd, k->data, k->len);
				c->head = k->next;
				if (!c->head)
					c->tail = NULL;
				free(k);
				if (bad) {
					conn_close(c);
					break;
				}
			}
			if (c->head && c->head->release_ms < next_release)
				next_release = c->head->release_ms;
		}
		struct pollfd pfd[1 + 2 * MAX_CONNS];
		int who[1 + 2 * MAX_CONNS];
		int n = 0;
		pfd[n].fd = lfd, pfd[n].events = POLLIN, who[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++) {
			if (conns[i].cfd < 0)
				continue;
			pfd[n].fd = conns[i].cfd, pfd[n].events = POLLIN, who[n++] = i;
			if (conns[i].ufd >= 0)
				pfd[n].fd = conns[i].ufd, pfd[n].events = POLLIN, who[n++] = MAX_CONNS + i;
		}
		int wait = 20;
		if (next_release != INT64_MAX && next_release - now < wait)
			wait = next_release - now > 0 ? (int)(next_release - now) : 0;
		if (poll(pfd, (nfds_t)n, wait) <= 0)
			continue;
		for (int k = 0; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			if (who[k] == -1) {
				int cfd = accept(lfd, NULL, NULL);
				if (cfd < 0)
					continue;
				int slot = -1;
				for (int i = 0; i < MAX_CONNS && slot < 0; i++)
					if (conns[i].cfd < 0)
						slot = i;
				if (slot < 0) {
					close(cfd);
					continue;
				}
				conn *c = &conns[slot];
				c->cfd = cfd;
				c->blackholed = m == BLACKHOLE;
				c->ufd = c->blackholed ? -1 : connect_upstream(up_port, source_ip);
				if (!c->blackholed && c->ufd < 0)
					conn_close(c);
				continue;
			}
			bool from_client = who[k] < MAX_CONNS;
			conn *c = &conns[from_client ? who[k] : who[k] - MAX_CONNS];
			if (c->cfd < 0 || pfd[k].fd != (from_client ? c->cfd : c->ufd))
				continue; /* closed earlier in this round */
			ssize_t r = read(pfd[k].fd, buf, sizeof buf);
			if (r <= 0) {
				conn_close(c);
				continue;
			}
			if (c->blackholed)
				continue; /* read and dropped */
			if (from_client) {
				if (write_all(c->ufd, buf, (size_t)r))
					conn_close(c);
			} else if (m == DELAY || c->head) {
				chunk *ch = malloc(sizeof *ch + (size_t)r);
				if (!ch) {
					conn_close(c);
					continue;
				}
				ch->release_ms = now_ms() + (m == DELAY ? delay_ms : 0);
				ch->len = (size_t)r;
				ch->next = NULL;
				memcpy(ch->data, buf, (size_t)r);
				if (c->tail)
					c->tail->next = ch;
				else
					c->head = ch;
				c->tail = ch;
			} else if (write_all(c->cfd, buf, (size_t)r)) {
				conn_close(c);
			}
		}
	}
}
