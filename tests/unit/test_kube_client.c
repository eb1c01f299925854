/*
 * kube_client's deadline and retry limits against a tiny HTTP server on
 * loopback that misbehaves on purpose: it never answers (a blackholed
 * connection: open, silent) or answers 429 with a long Retry-After.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kube/kube_client.h"
#include "util/clock.h"

static void pause_100ms(void)
{
	struct timespec ts = { 0, 100000000L };
	nanosleep(&ts, NULL);
}

typedef enum server_mode { SILENT, TOO_MANY } server_mode;

typedef struct server {
	int listen_fd;
	int port;
	server_mode mode;
	atomic_int connections;
	atomic_int requests; /* request heads read */
	atomic_bool stop;
	pthread_t thread;
} server;

/* Reads one request head (up to the blank line); a body is read as it comes and ignored. */
static int read_head(int fd)
{
	char buf[4096];
	size_t have = 0;
	while (have < sizeof buf - 1) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 2000) <= 0)
			return -1;
		ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return 0;
	}
	return -1;
}

static void *serve(void *p)
{
	server *s = p;
	int open_fds[64];
	int n_open = 0;
	while (!atomic_load(&s->stop)) {
		struct pollfd lp = { s->listen_fd, POLLIN, 0 };
		if (poll(&lp, 1, 50) <= 0)
			continue;
		int fd = accept(s->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&s->connections, 1);
		if (read_head(fd) == 0)
			atomic_fetch_add(&s->requests, 1);
		if (s->mode == TOO_MANY) {
			static const char answer[] = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 20\r\n"
						     "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
			if (write(fd, answer, sizeof answer - 1) < 0)
				fail_msg("write");
			close(fd);
		} else if (n_open < 64) {
			open_fds[n_open++] = fd; /* silent: held open, never answered */
		} else {
			close(fd);
		}
	}
	for (int i = 0; i < n_open; i++)
		close(open_fds[i]);
	return NULL;
}

static server *server_start(server_mode mode)
{
	server *s = calloc(1, sizeof *s);
	assert_non_null(s);
	s->mode = mode;
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->listen_fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(s->listen_fd, 16), 0);
	socklen_t len = sizeof a;
	assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
	return s;
}

static void server_stop(server *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	free(s);
}

static kube_client *client_for(server *s, const kube_client_options *o)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
	kube_config cfg = { .server = url, .namespace = "default" };
	kube_client *c = NULL;
	kube_error err = KUBE_ERROR_INIT;
	if (kube_client_new(&cfg, o, &c, &err))
		fail_msg("%s", kube_strerror(&err));
	return c;
}

static int64_t in_300ms(void *ud, const char *method)
{
	(void)method;
	return *(int64_t *)ud;
}

static int64_t writes_refused(void *ud, const char *method)
{
	(void)ud;
	return strcmp(method, "GET") ? 0 : INT64_MAX;
}

/* A silent server: the deadline, not the 30 s timeout, ends the request. */
static void test_deadline_cuts_a_silent_request(void **state)
{
	(void)state;
	server *s = server_start(SILENT);
	kube_client *c = client_for(s, NULL);
	int64_t deadline = clock_mono_us() + 300000;
	kube_client_set_deadline(c, in_300ms, &deadline);
	kube_error err = KUBE_ERROR_INIT;
	int64_t t0 = clock_mono_us();
	json_t *obj = json_pack("{s:s}", "kind", "Lease");
	assert_int_equal(kube_replace(c, "/apis/coordination.k8s.io/v1/namespaces/x/leases/y", obj, NULL, &err), -1);
	int64_t took = clock_mono_us() - t0;
	assert_int_equal(err.kind, KUBE_ERR_DEADLINE);
	assert_true(took >= 250000 && took < 1500000);
	/*
	 * Past the deadline nothing more is sent. curl's timeout has millisecond
	 * granularity and may end the attempt just before the deadline: wait
	 * until it has surely passed.
	 */
	kube_error_release(&err);
	while (clock_mono_us() <= deadline)
		pause_100ms();
	int before = atomic_load(&s->connections);
	assert_int_equal(kube_replace(c, "/apis/coordination.k8s.io/v1/namespaces/x/leases/y", obj, NULL, &err), -1);
	assert_int_equal(err.kind, KUBE_ERR_DEADLINE);
	assert_non_null(strstr(kube_strerror(&err), "not sent"));
	pause_100ms();
	assert_int_equal(atomic_load(&s->connections), before);
	json_decref(obj);
	kube_error_release(&err);
	kube_client_free(c);
	server_stop(s);
}

/* A 429 with Retry-After 20 s: the client does not sleep past its deadline; the server's answer stands. */
static void test_retry_after_never_sleeps_past_the_deadline(void **state)
{
	(void)state;
	server *s = server_start(TOO_MANY);
	kube_client *c = client_for(s, NULL);
	int64_t deadline = clock_mono_us() + 2000000;
	kube_client_set_deadline(c, in_300ms, &deadline);
	kube_error err = KUBE_ERROR_INIT;
	int64_t t0 = clock_mono_us();
	assert_int_equal(kube_get(c, "/api/v1/namespaces/default", NULL, &err), -1);
	assert_true(clock_mono_us() - t0 < 1000000);
	assert_int_equal(err.kind, KUBE_ERR_API);
	assert_int_equal(err.http_code, 429);
	assert_int_equal(atomic_load(&s->requests), 1);
	kube_error_release(&err);
	kube_client_free(c);
	server_stop(s);
}

/* max_retries < 0: one attempt, whatever the server says. */
static void test_no_retries(void **state)
{
	(void)state;
	server *s = server_start(TOO_MANY);
	kube_client_options o = { .max_retries = -1 };
	kube_client *c = client_for(s, &o);
	kube_error err = KUBE_ERROR_INIT;
	int64_t t0 = clock_mono_us();
	assert_int_equal(kube_get(c, "/api/v1/namespaces/default", NULL, &err), -1);
	assert_true(clock_mono_us() - t0 < 1000000);
	assert_int_equal(err.http_code, 429);
	assert_int_equal(atomic_load(&s->requests), 1);
	kube_error_release(&err);
	kube_client_free(c);
	server_stop(s);
}

/* A fence that refuses writes: nothing is sent for them, reads go through. */
static void test_fence_refuses_writes_only(void **state)
{
	(void)state;
	server *s = server_start(TOO_MANY);
	kube_client_options o = { .max_retries = -1 };
	kube_client *c = client_for(s, &o);
	kube_client_set_deadline(c, writes_refused, NULL);
	kube_error err = KUBE_ERROR_INIT;
	json_t *obj =
		json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name", "a");
	assert_int_equal(kube_create(c, "/api/v1/namespaces/default/configmaps", obj, NULL, &err), -1);
	assert_int_equal(err.kind, KUBE_ERR_DEADLINE);
	kube_error_release(&err);
	assert_int_equal(kube_apply(c, "/api/v1/namespaces/default/configmaps/a", obj, "t", true, NULL, &err), -1);
	assert_int_equal(err.kind, KUBE_ERR_DEADLINE);
	kube_error_release(&err);
	assert_int_equal(kube_delete(c, "/api/v1/namespaces/default/configmaps/a", NULL, NULL, &err), -1);
	assert_int_equal(err.kind, KUBE_ERR_DEADLINE);
	kube_error_release(&err);
	pause_100ms();
	assert_int_equal(atomic_load(&s->connections), 0);
	assert_int_equal(kube_get(c, "/api/v1/namespaces/default/configmaps/a", NULL, &err), -1);
	assert_int_equal(err.http_code, 429); /* the read reached the server */
	assert_int_equal(atomic_load(&s->requests), 1);
	kube_error_release(&err);
	json_decref(obj);
	kube_client_free(c);
	server_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline_cuts_a_silent_request),
		cmocka_unit_test(test_retry_after_never_sleeps_past_the_deadline),
		cmocka_unit_test(test_no_retries),
		cmocka_unit_test(test_fence_refuses_writes_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
