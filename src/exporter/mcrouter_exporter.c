#include "exporter/mcrouter_exporter.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mcrouter_stats.h"
#include "mcproto/mcconn.h"
#include "runtime/httpserver.h"
#include "runtime/metrics.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/sbuf.h"

#define MAX_REPLY_BYTES (8u << 20) /* `stats all` is ~10 KB; `stats servers` ~200 B a destination */

struct mcrouter_exporter {
	char *host, *port;
	int timeout_ms;
	pthread_mutex_t mu;
	unsigned long long scrapes[2]; /* success, error */
};

mcrouter_exporter *mcrouter_exporter_new(const mcrouter_exporter_options *o)
{
	mcrouter_exporter *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->host = strdup(o && o->host ? o->host : "127.0.0.1");
	x->port = strdup(o && o->port ? o->port : "5000");
	x->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : 2000;
	pthread_mutex_init(&x->mu, NULL);
	if (!x->host || !x->port) {
		mcrouter_exporter_free(x);
		return NULL;
	}
	return x;
}

void mcrouter_exporter_free(mcrouter_exporter *x)
{
	if (!x)
		return;
	pthread_mutex_destroy(&x->mu);
	free(x->host);
	free(x->port);
	free(x);
}

/* Sends `command` and reads its reply through the END line into reply. 0, or -1 with a reason. */
static int ask(mcconn *c, const char *command, sbuf *reply, char *why, size_t whylen)
{
	sbuf_reset(reply);
	if (mcconn_send(c, command, strlen(command))) {
		snprintf(why, whylen, "sending '%.*s' failed or timed out", (int)strcspn(command, "\r"), command);
		return -1;
	}
	char line[8192];
	for (;;) {
		if (mcconn_read_line(c, line, sizeof line)) {
			snprintf(why, whylen, "mcrouter's reply to '%.*s' ended early or timed out",
				 (int)strcspn(command, "\r"), command);
			return -1;
		}
		if (sbuf_adds(reply, line) || sbuf_adds(reply, "\r\n") || reply->len > MAX_REPLY_BYTES) {
			snprintf(why, whylen, "mcrouter's reply is over %u bytes", MAX_REPLY_BYTES);
			return -1;
		}
		/* END closes a stats reply; anything else that is not a STAT line is an error answer. */
		if (!strcmp(line, "END") || strncmp(line, "STAT ", 5))
			return 0;
	}
}

/* Asks mcrouter both questions and reads the answers into s. 0, or -1 with a reason. */
static int fetch(mcrouter_exporter *x, mcrouter_samples *s, char *why, size_t whylen)
{
	mcconn c = MCCONN_INIT(x->timeout_ms);
	sbuf reply = SBUF_INIT;
	int rc = mcconn_dial(&c, x->host, x->port, why, whylen);
	if (!rc)
		rc = ask(&c, "stats all\r\n", &reply, why, whylen);
	if (!rc)
		rc = mcrouter_stats_read(reply.buf, reply.len, s, why, whylen);
	if (!rc)
		rc = ask(&c, "stats servers\r\n", &reply, why, whylen);
	if (!rc)
		rc = mcrouter_servers_read(reply.buf, reply.len, s, why, whylen);
	sbuf_release(&reply);
	mcconn_close(&c);
	return rc;
}

/* `name="value"` pairs of a sample, escaped. 0, or -1 when they do not fit. */
static int labels_of(const mcrouter_sample *x, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; i < MCROUTER_MAX_LABELS && x->label_names[i]; i++) {
		char esc[600];
		metrics_label_escape(x->label_values[i], esc, sizeof esc);
		int n = snprintf(out + used, len - used, "%s%s=\"%s\"", used ? "," : "", x->label_names[i], esc);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

static int declare_all(metrics *m)
{
	int rc = metrics_declare(m, "mcrouter_up", METRIC_GAUGE, "1 when mcrouter answered the last scrape's stats",
				 NULL, 0);
	rc |= metrics_declare(m, "mcrouter_exporter_scrape_duration_seconds", METRIC_GAUGE,
			      "How long asking mcrouter for its stats took", NULL, 0);
	rc |= metrics_declare(m, "mcrouter_exporter_scrapes_total", METRIC_COUNTER,
			      "Scrapes by result (success, error)", NULL, 0);
	for (size_t i = 0; i < MCROUTER_N_FAMILIES; i++)
		rc |= metrics_declare(m, MCROUTER_FAMILIES[i].name,
				      MCROUTER_FAMILIES[i].kind == MCROUTER_COUNTER ? METRIC_COUNTER : METRIC_GAUGE,
				      MCROUTER_FAMILIES[i].help, NULL, 0);
	return rc;
}

char *mcrouter_exporter_scrape(mcrouter_exporter *x)
{
	metrics *m = metrics_new();
	if (!m || declare_all(m)) {
		metrics_free(m);
		return NULL;
	}
	mcrouter_samples s = MCROUTER_SAMPLES_INIT;
	char why[300] = "";
	int64_t start = clock_mono_us();
	bool up = fetch(x, &s, why, sizeof why) == 0;
	double took = (double)(clock_mono_us() - start) / 1e6;
	if (!up)
		log_write(LOG_WARN, "mcrouter-exporter", NULL, "scrape of %s:%s failed: %s", x->host, x->port, why);
	for (size_t i = 0; up && i < s.n; i++) {
		const mcrouter_family *f = &MCROUTER_FAMILIES[s.v[i].family];
		char labels[1400];
		if (labels_of(&s.v[i], labels, sizeof labels))
			continue; /* cannot happen: the core bounds every label value; skipped, never truncated */
		if (f->kind == MCROUTER_COUNTER)
			metrics_add(m, f->name, labels, s.v[i].value); /* a fresh registry: adding sets it */
		else
			metrics_set(m, f->name, labels, s.v[i].value);
	}
	mcrouter_samples_release(&s);
	pthread_mutex_lock(&x->mu);
	x->scrapes[up ? 0 : 1]++;
	metrics_add(m, "mcrouter_exporter_scrapes_total", "result=\"success\"", (double)x->scrapes[0]);
	metrics_add(m, "mcrouter_exporter_scrapes_total", "result=\"error\"", (double)x->scrapes[1]);
	pthread_mutex_unlock(&x->mu);
	metrics_set(m, "mcrouter_up", NULL, up ? 1 : 0);
	metrics_set(m, "mcrouter_exporter_scrape_duration_seconds", NULL, took);
	char *page = metrics_render(m);
	metrics_free(m);
	return page;
}

static char *serve_metrics(void *ud)
{
	return mcrouter_exporter_scrape(ud);
}

static bool always_ready(void *ud, char *why, size_t len)
{
	(void)ud, (void)why, (void)len;
	return true;
}

static const char USAGE[] =
	"usage: memshack mcrouter-exporter [--mcrouter HOST:PORT] [--listen ADDR] [--timeout-ms MS]\n"
	"Serves the stats of the mcrouter at HOST:PORT (default 127.0.0.1:5000) as Prometheus metrics\n"
	"on ADDR (default :9151): /metrics, /healthz, /readyz.\n";

int mcrouter_exporter_main(int argc, char **argv)
{
	static const struct option opts[] = { { "mcrouter", required_argument, NULL, 'm' },
					      { "listen", required_argument, NULL, 'l' },
					      { "timeout-ms", required_argument, NULL, 't' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	mcrouter_exporter_options o = { .listen = ":9151" };
	char target[300] = "127.0.0.1:5000";
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "m:l:t:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'm': snprintf(target, sizeof target, "%s", optarg); break;
		case 'l': o.listen = optarg; break;
		case 't':
			o.timeout_ms = atoi(optarg);
			if (o.timeout_ms < 1 || o.timeout_ms > 60000) {
				fprintf(stderr, "memshack mcrouter-exporter: --timeout-ms takes 1..60000\n");
				return 2;
			}
			break;
		case 'h': fputs(USAGE, stdout); return 0;
		default: fputs(USAGE, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(USAGE, stderr);
		return 2;
	}
	if (mcconn_split_address(target, &o.host, &o.port)) {
		fprintf(stderr, "memshack mcrouter-exporter: --mcrouter wants HOST:PORT, got '%s'\n", target);
		return 2;
	}
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	mcrouter_exporter *x = mcrouter_exporter_new(&o);
	if (!x) {
		fprintf(stderr, "memshack mcrouter-exporter: out of memory\n");
		return 1;
	}
	http_handlers h = { .ready = always_ready, .metrics = serve_metrics, .ud = x };
	char err[256] = "";
	int bound = 0;
	http_server *srv = http_server_start(o.listen, &h, &bound, err, sizeof err);
	if (!srv) {
		fprintf(stderr, "memshack mcrouter-exporter: cannot listen on %s: %s\n", o.listen, err);
		mcrouter_exporter_free(x);
		return 1;
	}
	log_write(LOG_INFO, "mcrouter-exporter", NULL, "serving the stats of mcrouter %s:%s on port %d", o.host, o.port,
		  bound);
	int sig = 0;
	sigwait(&sigs, &sig);
	log_write(LOG_INFO, "mcrouter-exporter", NULL, "stopping on signal %d", sig);
	http_server_stop(srv);
	mcrouter_exporter_free(x);
	return 0;
}
