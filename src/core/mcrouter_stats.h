/*
 * mcrouter_stats — mcrouter's `stats all` and `stats servers` replies read
 * into Prometheus samples, with no I/O (the exporter, `memshack
 * mcrouter-exporter`, fetches the replies and serves the samples).
 *
 * Names follow Prometheus' conventions: the `mcrouter_` prefix, base units in
 * the name (seconds, bytes), counters end in `_total`, and a dimension is a
 * label, not a name (`cmd_get_count` is mcrouter_commands_total{command="get"}).
 * mcrouter's own rates (`cmd_get`, a moving average over its window) are left
 * out: Prometheus computes rates from the counters. A stat not in the table
 * and not of a known pattern is left out rather than guessed at.
 *
 * Families, in output order, are MCROUTER_FAMILIES; a sample names its family
 * by index. Every family is always declared, so a scrape shows each one even
 * before mcrouter has counted anything.
 */
#ifndef MEMSHACK_CORE_MCROUTER_STATS_H
#define MEMSHACK_CORE_MCROUTER_STATS_H

#include <stddef.h>

#include "util/must_use.h"

typedef enum mcrouter_metric_kind { MCROUTER_COUNTER, MCROUTER_GAUGE } mcrouter_metric_kind;

typedef struct mcrouter_family {
	const char *name;
	mcrouter_metric_kind kind;
	const char *help;
} mcrouter_family;

extern const mcrouter_family MCROUTER_FAMILIES[];
extern const size_t MCROUTER_N_FAMILIES;

#define MCROUTER_MAX_LABELS 2

/* One sample: family index, up to two labels (names are static strings, values owned), value. */
typedef struct mcrouter_sample {
	size_t family;
	const char *label_names[MCROUTER_MAX_LABELS];
	char *label_values[MCROUTER_MAX_LABELS];
	double value;
} mcrouter_sample;

typedef struct mcrouter_samples {
	mcrouter_sample *v;
	size_t n, cap;
} mcrouter_samples;

#define MCROUTER_SAMPLES_INIT \
	{                     \
		NULL, 0, 0    \
	}

/*
 * Reads a `stats` / `stats all` reply ("STAT name value" lines, then "END";
 * "\r\n" or "\n") and appends its samples to out. Returns 0, or -1 with a
 * one-line reason in why when the reply is not a stats reply (a line that is
 * not STAT, no END, an ERROR answer) or memory runs out; out then holds what
 * it held before.
 */
MEMSHACK_MUST_USE int mcrouter_stats_read(const char *reply, size_t len, mcrouter_samples *out, char *why,
					  size_t whylen);

/*
 * Reads a `stats servers` reply: one line per destination,
 * "STAT HOST:PORT:PROTOCOL:SECURITY:COMPRESSION-TIMEOUT key:value ... STATE:N ...; RESULT:N ...",
 * and appends per-server samples (label server="HOST:PORT"). Same returns.
 */
MEMSHACK_MUST_USE int mcrouter_servers_read(const char *reply, size_t len, mcrouter_samples *out, char *why,
					    size_t whylen);

/* The index of the family called name, or -1. */
int mcrouter_family_index(const char *name);

/* Frees the label values and the array; *s is empty afterwards. */
void mcrouter_samples_release(mcrouter_samples *s);

#endif
