/*
 * metrics — a small Prometheus registry: counters, gauges and histograms
 * with labels, rendered in the text exposition format 0.0.4. Thread-safe.
 *
 * Families are declared once; series are created on first use and named by
 * a label string such as `result="success"` (build it with
 * metrics_label_escape for user-controlled values). Output is deterministic:
 * families in declaration order, series sorted by their labels.
 */
#ifndef MEMSHACK_RUNTIME_METRICS_H
#define MEMSHACK_RUNTIME_METRICS_H

#include <stddef.h>

#include "util/must_use.h"

typedef enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type;

typedef struct metrics metrics;

metrics *metrics_new(void);
void metrics_free(metrics *m);

/* Declares a family; buckets (ascending upper bounds) for histograms only. 0, or -1 on bad input. */
MEMSHACK_MUST_USE int metrics_declare(metrics *m, const char *name, metric_type type, const char *help,
				      const double *buckets, size_t n_buckets);

/* labels may be NULL or "" for the unlabelled series. Unknown families are ignored. */
void metrics_add(metrics *m, const char *name, const char *labels, double v);
void metrics_set(metrics *m, const char *name, const char *labels, double v);
void metrics_observe(metrics *m, const char *name, const char *labels, double v);
/* Removes one series (a per-object gauge whose object is gone). No-op if absent. */
void metrics_remove(metrics *m, const char *name, const char *labels);
/* The current value of a counter or gauge series (0 if none). */
double metrics_value(metrics *m, const char *name, const char *labels);

/* The whole registry as Prometheus text (caller frees), or NULL on no memory. */
MEMSHACK_MUST_USE char *metrics_render(metrics *m);

/* Writes `value` escaped for a label value (\\, \", \n) into buf; returns buf. */
char *metrics_label_escape(const char *value, char *buf, size_t len);

#endif
