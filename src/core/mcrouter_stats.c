#include "core/mcrouter_stats.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"

enum {
	F_BUILD_INFO,
	F_UPTIME,
	F_SERVERS,
	F_SUSPECT,
	F_CLIENT_CONNS,
	F_CONNS_OPENED,
	F_CONNS_CLOSED,
	F_CONNECT_RETRIES,
	F_RSS,
	F_VSIZE,
	F_CPU,
	F_PROCESSING,
	F_WAITING,
	F_OUTSTANDING,
	F_DEST_PENDING,
	F_DEST_INFLIGHT,
	F_DURATION,
	F_REQ_SENT,
	F_REQ_REPLIED,
	F_REQ_SUCCESS,
	F_REQ_ERROR,
	F_COMMANDS,
	F_RESULTS,
	F_CONFIG_AGE,
	F_CONFIG_SUCCESS,
	F_CONFIG_FAILURES,
	F_SERVER_DESTINATIONS,
	F_SERVER_LATENCY,
	F_SERVER_PENDING,
	F_SERVER_INFLIGHT,
	F_SERVER_REPLIES,
	F_SERVER_TKO,
	F_COUNT
};

/* clang-format off */
const mcrouter_family MCROUTER_FAMILIES[] = {
	[F_BUILD_INFO] = { "mcrouter_build_info", MCROUTER_GAUGE, "mcrouter's version, as a label; always 1" },
	[F_UPTIME] = { "mcrouter_uptime_seconds", MCROUTER_GAUGE, "Seconds since mcrouter started" },
	[F_SERVERS] = { "mcrouter_servers", MCROUTER_GAUGE, "Destinations by connection state (new, up, down, closed)" },
	[F_SUSPECT] = { "mcrouter_suspect_servers", MCROUTER_GAUGE, "Destinations with failures that are not yet marked TKO" },
	[F_CLIENT_CONNS] = { "mcrouter_client_connections", MCROUTER_GAUGE, "Open client connections" },
	[F_CONNS_OPENED] = { "mcrouter_connections_opened_total", MCROUTER_COUNTER, "Connections to destinations opened" },
	[F_CONNS_CLOSED] = { "mcrouter_connections_closed_total", MCROUTER_COUNTER, "Connections to destinations closed" },
	[F_CONNECT_RETRIES] = { "mcrouter_connect_retries_total", MCROUTER_COUNTER, "Connection attempts to destinations retried" },
	[F_RSS] = { "mcrouter_resident_memory_bytes", MCROUTER_GAUGE, "mcrouter's resident set size" },
	[F_VSIZE] = { "mcrouter_virtual_memory_bytes", MCROUTER_GAUGE, "mcrouter's virtual memory size" },
	[F_CPU] = { "mcrouter_cpu_seconds_total", MCROUTER_COUNTER, "CPU time mcrouter used, by mode (user, system)" },
	[F_PROCESSING] = { "mcrouter_proxy_requests_processing", MCROUTER_GAUGE, "Requests being routed" },
	[F_WAITING] = { "mcrouter_proxy_requests_waiting", MCROUTER_GAUGE, "Requests queued and not yet routed" },
	[F_OUTSTANDING] = { "mcrouter_requests_outstanding", MCROUTER_GAUGE, "Client requests not yet answered" },
	[F_DEST_PENDING] = { "mcrouter_destination_requests_pending", MCROUTER_GAUGE, "Requests waiting to be sent to destinations" },
	[F_DEST_INFLIGHT] = { "mcrouter_destination_requests_inflight", MCROUTER_GAUGE, "Requests sent to destinations and not yet answered" },
	[F_DURATION] = { "mcrouter_request_duration_seconds_average", MCROUTER_GAUGE, "Average time to answer a request, over mcrouter's recent window" },
	[F_REQ_SENT] = { "mcrouter_requests_sent_total", MCROUTER_COUNTER, "Requests sent to destinations" },
	[F_REQ_REPLIED] = { "mcrouter_requests_replied_total", MCROUTER_COUNTER, "Requests destinations replied to" },
	[F_REQ_SUCCESS] = { "mcrouter_requests_success_total", MCROUTER_COUNTER, "Requests to destinations that succeeded" },
	[F_REQ_ERROR] = { "mcrouter_requests_error_total", MCROUTER_COUNTER, "Requests to destinations that failed" },
	[F_COMMANDS] = { "mcrouter_commands_total", MCROUTER_COUNTER, "Client requests received, by command" },
	[F_RESULTS] = { "mcrouter_results_total", MCROUTER_COUNTER, "Failed results of requests to destinations, by kind (connect_error, tko, ...)" },
	[F_CONFIG_AGE] = { "mcrouter_config_age_seconds", MCROUTER_GAUGE, "Seconds since the config in use was loaded" },
	[F_CONFIG_SUCCESS] = { "mcrouter_config_last_success_timestamp_seconds", MCROUTER_GAUGE, "When a config was last loaded (Unix time)" },
	[F_CONFIG_FAILURES] = { "mcrouter_config_failures_total", MCROUTER_COUNTER, "Configs mcrouter failed to load" },
	[F_SERVER_DESTINATIONS] = { "mcrouter_server_destinations", MCROUTER_GAUGE, "Destinations of a server (one per proxy thread) by state (new, up, down, closed)" },
	[F_SERVER_LATENCY] = { "mcrouter_server_latency_seconds_average", MCROUTER_GAUGE, "Average reply latency of a server (the slowest of its destinations)" },
	[F_SERVER_PENDING] = { "mcrouter_server_requests_pending", MCROUTER_GAUGE, "Requests waiting to be sent to a server" },
	[F_SERVER_INFLIGHT] = { "mcrouter_server_requests_inflight", MCROUTER_GAUGE, "Requests sent to a server and not yet answered" },
	[F_SERVER_REPLIES] = { "mcrouter_server_replies_total", MCROUTER_COUNTER, "Replies from a server by result (found, notfound, stored, ...)" },
	[F_SERVER_TKO] = { "mcrouter_server_tko", MCROUTER_GAUGE, "1 while mcrouter has marked a server TKO (too many failures), by kind (soft, hard)" },
};
/* clang-format on */
const size_t MCROUTER_N_FAMILIES = F_COUNT;

/* A stat read as one sample: family, an optional fixed label, and a scale to base units. */
typedef struct stat_rule {
	const char *stat;
	int family;
	const char *label;
	const char *label_value;
	double scale;
} stat_rule;

/* clang-format off */
static const stat_rule RULES[] = {
	{ "uptime", F_UPTIME, NULL, NULL, 1 },
	{ "num_servers_new", F_SERVERS, "state", "new", 1 },
	{ "num_servers_up", F_SERVERS, "state", "up", 1 },
	{ "num_servers_down", F_SERVERS, "state", "down", 1 },
	{ "num_servers_closed", F_SERVERS, "state", "closed", 1 },
	{ "num_suspect_servers", F_SUSPECT, NULL, NULL, 1 },
	{ "num_client_connections", F_CLIENT_CONNS, NULL, NULL, 1 },
	{ "num_connections_opened", F_CONNS_OPENED, NULL, NULL, 1 },
	{ "num_connections_closed", F_CONNS_CLOSED, NULL, NULL, 1 },
	{ "num_connect_retries", F_CONNECT_RETRIES, NULL, NULL, 1 },
	{ "ps_rss", F_RSS, NULL, NULL, 1 },
	{ "ps_vsize", F_VSIZE, NULL, NULL, 1 },
	{ "rusage_user", F_CPU, "mode", "user", 1 },
	{ "rusage_system", F_CPU, "mode", "system", 1 },
	{ "proxy_reqs_processing", F_PROCESSING, NULL, NULL, 1 },
	{ "proxy_reqs_waiting", F_WAITING, NULL, NULL, 1 },
	{ "proxy_request_num_outstanding", F_OUTSTANDING, NULL, NULL, 1 },
	{ "destination_pending_reqs", F_DEST_PENDING, NULL, NULL, 1 },
	{ "destination_inflight_reqs", F_DEST_INFLIGHT, NULL, NULL, 1 },
	{ "duration_us", F_DURATION, NULL, NULL, 1e-6 },
	{ "request_sent_count", F_REQ_SENT, NULL, NULL, 1 },
	{ "request_replied_count", F_REQ_REPLIED, NULL, NULL, 1 },
	{ "request_success_count", F_REQ_SUCCESS, NULL, NULL, 1 },
	{ "request_error_count", F_REQ_ERROR, NULL, NULL, 1 },
	{ "config_age", F_CONFIG_AGE, NULL, NULL, 1 },
	{ "config_last_success", F_CONFIG_SUCCESS, NULL, NULL, 1 },
	{ "config_failures", F_CONFIG_FAILURES, NULL, NULL, 1 },
};
/* clang-format on */

/* The states a `stats servers` line counts destinations in. */
static const char *const SERVER_STATES[] = { "new", "up", "down", "closed" };

int mcrouter_family_index(const char *name)
{
	for (size_t i = 0; i < F_COUNT; i++)
		if (!strcmp(MCROUTER_FAMILIES[i].name, name))
			return (int)i;
	return -1;
}

static void sample_release(mcrouter_sample *s)
{
	for (int i = 0; i < MCROUTER_MAX_LABELS; i++)
		free(s->label_values[i]);
}

void mcrouter_samples_release(mcrouter_samples *s)
{
	for (size_t i = 0; i < s->n; i++)
		sample_release(&s->v[i]);
	free(s->v);
	*s = (mcrouter_samples)MCROUTER_SAMPLES_INIT;
}

/* Appends one sample (label values copied; n1/v1 may be NULL). 0 or -1 on no memory. */
static int append(mcrouter_samples *out, int family, const char *n0, const char *v0, size_t v0len, const char *n1,
		  const char *v1, double value)
{
	if (out->n == out->cap) {
		size_t cap = out->cap ? 2 * out->cap : 64;
		mcrouter_sample *v = realloc(out->v, cap * sizeof *v);
		if (!v)
			return -1;
		out->v = v, out->cap = cap;
	}
	mcrouter_sample s = { (size_t)family, { n0, n1 }, { NULL, NULL }, value };
	if ((n0 && !(s.label_values[0] = strndup(v0, v0len))) || (n1 && !(s.label_values[1] = strdup(v1)))) {
		sample_release(&s);
		return -1;
	}
	out->v[out->n++] = s;
	return 0;
}

/* Parses a whole token as a finite number. */
static bool number(const char *s, size_t len, double *ret)
{
	char buf[64];
	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *end;
	double v = strtod(buf, &end);
	if (*end || !isfinite(v))
		return false;
	*ret = v;
	return true;
}

/* The next line of [*p, end) without its "\r\n" or "\n"; false at the end. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len)
{
	if (*p >= end)
		return false;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	const char *stop = nl ? nl : end;
	*line = *p;
	*len = (size_t)(stop - *p);
	if (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	*p = nl ? nl + 1 : end;
	return true;
}

static int fail(char *why, size_t whylen, const char *what, const char *line, size_t len)
{
	snprintf(why, whylen, "%s: '%.*s'", what, (int)(len > 80 ? 80 : len), line);
	return -1;
}

/* Whether s[0, len) ends with suffix. */
static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && !strncmp(s + len - n, suffix, n);
}

/* Whether name is PREFIX MID SUFFIX with a non-empty MID (in *mid) that is not an _all or _out variant. */
static bool pattern(const char *name, size_t len, const char *prefix, const char *suffix, const char **mid,
		    size_t *midlen)
{
	size_t p = strlen(prefix), s = strlen(suffix);
	if (len <= p + s || strncmp(name, prefix, p) || !ends_with(name, len, suffix))
		return false;
	*mid = name + p;
	*midlen = len - p - s;
	/* cmd_get_out_count, result_tko_all_count: outgoing or all-including variants, not the plain count. */
	return !ends_with(*mid, *midlen, "_all") && !ends_with(*mid, *midlen, "_out");
}

/* One "STAT name value" line of `stats all`. */
static int stat_line(mcrouter_samples *out, const char *name, size_t nlen, const char *value, size_t vlen)
{
	if (nlen == 7 && !strncmp(name, "version", 7))
		return append(out, F_BUILD_INFO, "version", value, vlen < 127 ? vlen : 127, NULL, NULL, 1);
	double v;
	if (!number(value, vlen, &v))
		return 0; /* text stats (commandargs) and ones mcrouter leaves empty */
	for (size_t i = 0; i < sizeof RULES / sizeof *RULES; i++) {
		const stat_rule *r = &RULES[i];
		if (strlen(r->stat) == nlen && !strncmp(r->stat, name, nlen))
			return append(out, r->family, r->label, r->label_value, r->label ? strlen(r->label_value) : 0,
				      NULL, NULL, v * r->scale);
	}
	const char *mid;
	size_t midlen;
	if (pattern(name, nlen, "cmd_", "_count", &mid, &midlen))
		return append(out, F_COMMANDS, "command", mid, midlen, NULL, NULL, v);
	if (pattern(name, nlen, "result_", "_count", &mid, &midlen))
		return append(out, F_RESULTS, "result", mid, midlen, NULL, NULL, v);
	return 0;
}

/* One "STAT name value" line of `stats all` (the line without "STAT "). 0, or -1 with a reason. */
static int stats_line(void *ud, const char *line, size_t n, char *why, size_t whylen)
{
	const char *sp = memchr(line, ' ', n);
	size_t nlen = sp ? (size_t)(sp - line) : n;
	const char *value = sp ? sp + 1 : line + n;
	if (nlen == 0)
		return fail(why, whylen, "a stat without a name", line, n);
	if (stat_line(ud, line, nlen, value, (size_t)(line + n - value))) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * The frame both replies share: "STAT ..." lines up to "END". Hands each line,
 * without "STAT ", to line_fn; on any failure removes what was appended to out.
 */
static int read_reply(const char *reply, size_t len, mcrouter_samples *out,
		      int (*line_fn)(void *ud, const char *line, size_t n, char *why, size_t whylen), void *ud,
		      char *why, size_t whylen)
{
	size_t before = out->n;
	const char *p = reply, *end = reply + len, *line;
	size_t n;
	int rc = -1;
	bool ended = false;
	while (!ended && next_line(&p, end, &line, &n)) {
		if (n == 3 && !strncmp(line, "END", 3)) {
			ended = true;
			continue;
		}
		if (n < 5 || strncmp(line, "STAT ", 5)) {
			fail(why, whylen, "not a stats line", line, n);
			goto out;
		}
		if (line_fn(ud, line + 5, n - 5, why, whylen))
			goto out;
	}
	if (!ended) {
		snprintf(why, whylen, "the reply ended before END");
		goto out;
	}
	rc = 0;
out:
	while (rc && out->n > before)
		sample_release(&out->v[--out->n]);
	return rc;
}

int mcrouter_stats_read(const char *reply, size_t len, mcrouter_samples *out, char *why, size_t whylen)
{
	return read_reply(reply, len, out, stats_line, out, why, whylen);
}

/* The longest HOST:PORT: a DNS name (253), brackets, a colon and a port. Bounds merge()'s key. */
#define MAX_SERVER_ADDRESS 262

/* A per-server sample merged with the same family and labels seen before: summed, or the maximum for latencies. */
typedef struct merger {
	mcrouter_samples *out;
	strmap seen; /* "family|server|label" -> 1 + index */
} merger;

static int merge(merger *m, int family, const char *server, size_t slen, const char *n1, const char *v1, double value)
{
	/* Never truncated: slen <= MAX_SERVER_ADDRESS, v1 is a key of at most 63 bytes or a short kind. */
	char key[16 + MAX_SERVER_ADDRESS + 64];
	snprintf(key, sizeof key, "%d|%.*s|%s", family, (int)slen, server, v1 ? v1 : "");
	size_t at = (size_t)(uintptr_t)strmap_get(&m->seen, key, NULL);
	if (at) {
		double *have = &m->out->v[at - 1].value;
		*have = family == F_SERVER_LATENCY ? fmax(*have, value) : *have + value;
		return 0;
	}
	if (append(m->out, family, "server", server, slen, n1, v1, value))
		return -1;
	if (strmap_put(&m->seen, key, (void *)(uintptr_t)m->out->n, NULL, NULL)) {
		sample_release(&m->out->v[--m->out->n]);
		return -1;
	}
	return 0;
}

/* "host:port:..." or "[v6]:port:...": the length of host:port, or 0 (also when longer than any address). */
static size_t server_address(const char *key, size_t len)
{
	const char *p = key, *end = key + len;
	if (p < end && *p == '[') {
		p = memchr(p, ']', len);
		if (!p || p + 1 >= end || p[1] != ':')
			return 0;
		p++;
	} else {
		p = memchr(p, ':', len);
		if (!p || p == key)
			return 0;
	}
	const char *q = p + 1;
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	size_t n = (size_t)(q - key);
	return q > p + 1 && n <= MAX_SERVER_ADDRESS ? n : 0;
}

static bool is_state(const char *k, size_t klen)
{
	for (size_t i = 0; i < sizeof SERVER_STATES / sizeof *SERVER_STATES; i++)
		if (strlen(SERVER_STATES[i]) == klen && !strncmp(SERVER_STATES[i], k, klen))
			return true;
	return false;
}

/*
 * One token of a server line: "key:number", or a flag such as "hard_tko".
 * results: the token is after the line's last ';', a reply result count.
 * 0, 1 when the token is neither, -1 on no memory.
 */
static int server_token(merger *m, const char *server, size_t slen, const char *tok, size_t tlen, bool results)
{
	const char *colon = memchr(tok, ':', tlen);
	if (!colon && !results && tlen > 4 && ends_with(tok, tlen, "_tko")) {
		char kind[32];
		snprintf(kind, sizeof kind, "%.*s", (int)(tlen - 4), tok);
		return merge(m, F_SERVER_TKO, server, slen, "kind", kind, 1);
	}
	double v;
	if (!colon || colon == tok || !number(colon + 1, (size_t)(tok + tlen - colon - 1), &v))
		return 1; /* not a key:number */
	size_t klen = (size_t)(colon - tok);
	char key[64];
	if (klen >= sizeof key)
		return 1;
	memcpy(key, tok, klen);
	key[klen] = '\0';
	if (results)
		return merge(m, F_SERVER_REPLIES, server, slen, "result", key, v);
	if (!strcmp(key, "avg_latency_us"))
		return merge(m, F_SERVER_LATENCY, server, slen, NULL, NULL, v * 1e-6);
	if (!strcmp(key, "pending_reqs"))
		return merge(m, F_SERVER_PENDING, server, slen, NULL, NULL, v);
	if (!strcmp(key, "inflight_reqs"))
		return merge(m, F_SERVER_INFLIGHT, server, slen, NULL, NULL, v);
	if (is_state(key, klen))
		return merge(m, F_SERVER_DESTINATIONS, server, slen, "state", key, v);
	return 0; /* retransmission ratios and what later versions add */
}

/* One line of `stats servers` (without "STAT "). 0, or -1 with a reason. */
static int server_line(void *ud, const char *line, size_t n, char *why, size_t whylen)
{
	merger *m = ud;
	const char *key = line, *end = line + n;
	const char *sp = memchr(key, ' ', (size_t)(end - key));
	size_t slen = server_address(key, sp ? (size_t)(sp - key) : (size_t)(end - key));
	if (!slen)
		return fail(why, whylen, "a server line without HOST:PORT", line, n);
	/* Fields, a flag such as "hard_tko;" among them, then after the last ';' the reply counts. */
	const char *results = NULL;
	for (const char *q = end; q > key && !results; q--)
		if (q[-1] == ';')
			results = q;
	for (const char *p = sp; p && p < end;) {
		while (p < end && (*p == ' ' || *p == ';'))
			p++;
		const char *t = p;
		while (p < end && *p != ' ' && *p != ';')
			p++;
		if (p == t)
			continue;
		int rc = server_token(m, key, slen, t, (size_t)(p - t), results && t >= results);
		if (rc < 0) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		if (rc > 0)
			return fail(why, whylen, "a server field that is not key:number", t, (size_t)(p - t));
	}
	return 0;
}

int mcrouter_servers_read(const char *reply, size_t len, mcrouter_samples *out, char *why, size_t whylen)
{
	merger m = { out, STRMAP_INIT };
	int rc = read_reply(reply, len, out, server_line, &m, why, whylen);
	strmap_release(&m.seen, NULL);
	return rc;
}
