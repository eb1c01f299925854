/*
 * mcrouter_exporter — `memshack mcrouter-exporter`: serves a local mcrouter's
 * stats as Prometheus metrics. mcrouter answers `stats` over its memcached
 * port but has no Prometheus endpoint; this runs beside it (a sidecar of the
 * gateway pods), and on every scrape of /metrics connects to mcrouter, asks
 * `stats all` and `stats servers`, and answers with what core/mcrouter_stats
 * reads from them, plus:
 *   mcrouter_up                                  1 when mcrouter answered both, else 0
 *   mcrouter_exporter_scrape_duration_seconds    how long asking took
 *   mcrouter_exporter_scrapes_total{result}      scrapes by result (success, error)
 * A scrape that fails still answers 200 with mcrouter_up 0 (as Prometheus'
 * exporters do), and the reason is logged. /healthz and /readyz answer "ok"
 * while the process runs. SIGTERM or SIGINT stops it (exit 0).
 */
#ifndef MEMSHACK_EXPORTER_MCROUTER_EXPORTER_H
#define MEMSHACK_EXPORTER_MCROUTER_EXPORTER_H

typedef struct mcrouter_exporter_options {
	const char *host;   /* mcrouter's address, default 127.0.0.1 */
	const char *port;   /* default 5000 */
	const char *listen; /* the metrics address, default ":9151" */
	int timeout_ms;     /* per wait on mcrouter, default 2000 */
} mcrouter_exporter_options;

typedef struct mcrouter_exporter mcrouter_exporter;

/* Copies what it needs of o (NULL fields take their defaults). NULL on no memory. */
mcrouter_exporter *mcrouter_exporter_new(const mcrouter_exporter_options *o);
void mcrouter_exporter_free(mcrouter_exporter *x);

/* One scrape: the whole metrics page (caller frees), or NULL on no memory. Thread-safe. */
char *mcrouter_exporter_scrape(mcrouter_exporter *x);

/* `memshack mcrouter-exporter` command line. */
int mcrouter_exporter_main(int argc, char **argv);

#endif
