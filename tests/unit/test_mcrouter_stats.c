/*
 * mcrouter_stats on replies recorded from a real mcrouter (tests/data/mcrouter/:
 * `stats all` and `stats servers` of mcrouter 9d7f434 in front of two memcached
 * servers, then again with one of them stopped), and on malformed replies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mcrouter_stats.h"

static char *load(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/mcrouter/%s", TEST_DATA_DIR, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(1 << 20);
	assert_non_null(buf);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* The value of the sample of family `name` whose labels are l0 (and l1, if given); NAN if absent. */
static double value_of(const mcrouter_samples *s, const char *name, const char *l0, const char *l1)
{
	int f = mcrouter_family_index(name);
	assert_true(f >= 0);
	for (size_t i = 0; i < s->n; i++) {
		const mcrouter_sample *x = &s->v[i];
		if (x->family != (size_t)f)
			continue;
		if ((l0 == NULL) != (x->label_values[0] == NULL) || (l0 && strcmp(l0, x->label_values[0])))
			continue;
		if (l1 && (!x->label_values[1] || strcmp(l1, x->label_values[1])))
			continue;
		return x->value;
	}
	return NAN;
}

static void read_reply(const char *file, bool servers, mcrouter_samples *s)
{
	size_t len;
	char *text = load(file, &len), why[200] = "";
	int rc = servers ? mcrouter_servers_read(text, len, s, why, sizeof why)
			 : mcrouter_stats_read(text, len, s, why, sizeof why);
	if (rc)
		fail_msg("%s: %s", file, why);
	free(text);
}

static void stats_all(void **state)
{
	(void)state;
	mcrouter_samples s = MCROUTER_SAMPLES_INIT;
	read_reply("stats-all.txt", false, &s);
	assert_true(value_of(&s, "mcrouter_build_info", "0.1.0-dev mcrouter", NULL) == 1);
	assert_true(value_of(&s, "mcrouter_uptime_seconds", NULL, NULL) == 2);
	assert_true(value_of(&s, "mcrouter_servers", "up", NULL) == 2);
	assert_true(value_of(&s, "mcrouter_servers", "new", NULL) == 2);
	assert_true(value_of(&s, "mcrouter_servers", "down", NULL) == 0);
	assert_true(value_of(&s, "mcrouter_client_connections", NULL, NULL) == 1);
	/* 20 sets, then a get of each key and of a missing one: counters, not mcrouter's rates. */
	assert_true(value_of(&s, "mcrouter_commands_total", "get", NULL) == 40);
	assert_true(value_of(&s, "mcrouter_commands_total", "set", NULL) == 20);
	assert_true(value_of(&s, "mcrouter_commands_total", "delete", NULL) == 0);
	assert_true(isnan(value_of(&s, "mcrouter_commands_total", "get_out", NULL)));
	assert_true(value_of(&s, "mcrouter_requests_sent_total", NULL, NULL) == 63);
	assert_true(value_of(&s, "mcrouter_requests_replied_total", NULL, NULL) == 63);
	assert_true(value_of(&s, "mcrouter_results_total", "connect_error", NULL) == 0);
	assert_true(isnan(value_of(&s, "mcrouter_results_total", "connect_error_all", NULL)));
	/* Base units: bytes, seconds. */
	assert_true(value_of(&s, "mcrouter_resident_memory_bytes", NULL, NULL) > 1e6);
	double d = value_of(&s, "mcrouter_request_duration_seconds_average", NULL, NULL);
	assert_true(d > 0 && d < 1);
	assert_true(value_of(&s, "mcrouter_cpu_seconds_total", "user", NULL) >= 0);
	mcrouter_samples_release(&s);
}

static void stats_servers(void **state)
{
	(void)state;
	mcrouter_samples s = MCROUTER_SAMPLES_INIT;
	read_reply("stats-servers.txt", true, &s);
	assert_true(value_of(&s, "mcrouter_server_replies_total", "127.0.0.1:21211", "found") == 7);
	assert_true(value_of(&s, "mcrouter_server_replies_total", "127.0.0.1:21212", "stored") == 13);
	assert_true(value_of(&s, "mcrouter_server_destinations", "127.0.0.1:21211", "up") == 1);
	assert_true(value_of(&s, "mcrouter_server_destinations", "127.0.0.1:21211", "new") == 1);
	double lat = value_of(&s, "mcrouter_server_latency_seconds_average", "127.0.0.1:21212", NULL);
	assert_true(fabs(lat - 0.013238237) < 1e-9);
	assert_true(value_of(&s, "mcrouter_server_requests_inflight", "127.0.0.1:21211", NULL) == 0);
	assert_true(isnan(value_of(&s, "mcrouter_server_tko", "127.0.0.1:21212", "hard")));
	mcrouter_samples_release(&s);
}

/* One memcached stopped: its destination down and hard TKO, connect errors counted. */
static void server_down(void **state)
{
	(void)state;
	mcrouter_samples s = MCROUTER_SAMPLES_INIT;
	read_reply("stats-servers-down.txt", true, &s);
	assert_true(value_of(&s, "mcrouter_server_tko", "127.0.0.1:21212", "hard") == 1);
	assert_true(isnan(value_of(&s, "mcrouter_server_tko", "127.0.0.1:21211", "hard")));
	assert_true(value_of(&s, "mcrouter_server_destinations", "127.0.0.1:21212", "down") == 1);
	assert_true(value_of(&s, "mcrouter_server_destinations", "127.0.0.1:21211", "up") == 1);
	assert_true(value_of(&s, "mcrouter_server_replies_total", "127.0.0.1:21212", "connect_error") == 20);
	/* The retransmission ratios after "hard_tko;" are fields, not reply counts. */
	assert_true(isnan(value_of(&s, "mcrouter_server_replies_total", "127.0.0.1:21212", "avg_retrans_ratio")));
	read_reply("stats-all-down.txt", false, &s);
	assert_true(value_of(&s, "mcrouter_servers", "down", NULL) == 1);
	assert_true(value_of(&s, "mcrouter_results_total", "connect_error", NULL) == 20);
	assert_true(value_of(&s, "mcrouter_results_total", "tko", NULL) == 1);
	mcrouter_samples_release(&s);
}

/* Two destinations of one server (two pools, two timeouts) become one series: counts summed, the slower latency. */
static void merged_destinations(void **state)
{
	(void)state;
	const char *reply = "STAT 10.0.0.1:11211:ascii:plain:notcompressed-1000 avg_latency_us:100 pending_reqs:1 "
			    "inflight_reqs:2 up:2; found:5 notfound:1\r\n"
			    "STAT 10.0.0.1:11211:ascii:plain:notcompressed-500 avg_latency_us:300 pending_reqs:3 "
			    "inflight_reqs:4 up:1 down:1; found:7\r\n"
			    "STAT [fd00::1]:11211:ascii:plain:notcompressed-1000 avg_latency_us:50 up:1; found:1\r\n"
			    "END\r\n";
	mcrouter_samples s = MCROUTER_SAMPLES_INIT;
	char why[200];
	assert_int_equal(mcrouter_servers_read(reply, strlen(reply), &s, why, sizeof why), 0);
	assert_true(value_of(&s, "mcrouter_server_replies_total", "10.0.0.1:11211", "found") == 12);
	assert_true(value_of(&s, "mcrouter_server_destinations", "10.0.0.1:11211", "up") == 3);
	assert_true(value_of(&s, "mcrouter_server_requests_pending", "10.0.0.1:11211", NULL) == 4);
	assert_true(fabs(value_of(&s, "mcrouter_server_latency_seconds_average", "10.0.0.1:11211", NULL) - 0.0003) <
		    1e-12);
	assert_true(value_of(&s, "mcrouter_server_replies_total", "[fd00::1]:11211", "found") == 1);
	mcrouter_samples_release(&s);
}

/* Not a stats reply: refused with a reason, and what out held before is kept. */
static void malformed(void **state)
{
	(void)state;
	const char *bad[] = {
		"STAT uptime 5\r\n",                            /* no END */
		"ERROR\r\n",                                    /* an error answer */
		"STAT uptime 5\r\nVALUE k 0 1\r\nx\r\nEND\r\n", /* not a stats line */
		"STAT  5\r\nEND\r\n",                           /* no name */
		"",                                             /* nothing */
	};
	const char *bad_servers[] = {
		"STAT nohostport up:1; found:1\r\nEND\r\n",          /* no HOST:PORT */
		"STAT 1.2.3.4:11211:ascii up:x; found:1\r\nEND\r\n", /* not a number */
		"STAT 1.2.3.4:11211:ascii up:1; found:1\r\n",        /* no END */
		"SERVER_ERROR busy\r\n",
		NULL, /* a host longer than any DNS name: filled in below */
	};
	char long_host[400];
	snprintf(long_host, sizeof long_host, "STAT %0300d:11211:ascii up:1; found:1\r\nEND\r\n", 0);
	bad_servers[sizeof bad_servers / sizeof *bad_servers - 1] = long_host;
	mcrouter_samples s = MCROUTER_SAMPLES_INIT;
	char why[200];
	const char *one = "STAT uptime 7\nEND\n"; /* "\n" alone is accepted too */
	assert_int_equal(mcrouter_stats_read(one, strlen(one), &s, why, sizeof why), 0);
	assert_int_equal(s.n, 1);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why[0] = '\0';
		assert_int_equal(mcrouter_stats_read(bad[i], strlen(bad[i]), &s, why, sizeof why), -1);
		assert_true(why[0] != '\0');
		assert_int_equal(s.n, 1);
	}
	for (size_t i = 0; i < sizeof bad_servers / sizeof *bad_servers; i++) {
		why[0] = '\0';
		assert_int_equal(mcrouter_servers_read(bad_servers[i], strlen(bad_servers[i]), &s, why, sizeof why),
				 -1);
		assert_true(why[0] != '\0');
		assert_int_equal(s.n, 1);
	}
	assert_true(value_of(&s, "mcrouter_uptime_seconds", NULL, NULL) == 7);
	mcrouter_samples_release(&s);
}

/* Prometheus conventions: the prefix, counters end in _total and only counters do, names unique, help given. */
static void naming(void **state)
{
	(void)state;
	assert_true(MCROUTER_N_FAMILIES > 20);
	for (size_t i = 0; i < MCROUTER_N_FAMILIES; i++) {
		const mcrouter_family *f = &MCROUTER_FAMILIES[i];
		assert_non_null(f->name);
		assert_true(!strncmp(f->name, "mcrouter_", 9));
		size_t n = strlen(f->name);
		bool total = n > 6 && !strcmp(f->name + n - 6, "_total");
		assert_int_equal(total, f->kind == MCROUTER_COUNTER);
		assert_true(f->help && *f->help);
		for (const char *p = f->name; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(f->name, MCROUTER_FAMILIES[j].name);
	}
	assert_int_equal(mcrouter_family_index("nope"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stats_all),           cmocka_unit_test(stats_servers), cmocka_unit_test(server_down),
		cmocka_unit_test(merged_destinations), cmocka_unit_test(malformed),     cmocka_unit_test(naming),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
