#include "runtime/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"
#include "util/strmap.h"

typedef struct series {
	double value; /* counter / gauge */
	double sum;   /* histogram */
	uint64_t count;
	uint64_t *bucket_counts; /* cumulative at render time; raw per bucket here */
} series;

typedef struct family {
	char *name;
	char *help;
	metric_type type;
	double *buckets;
	size_t n_buckets;
	strmap series; /* labels -> series* */
} family;

struct metrics {
	pthread_mutex_t mu;
	family *fams;
	size_t n, cap;
};

metrics *metrics_new(void)
{
	metrics *m = calloc(1, sizeof *m);
	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void series_free(void *p)
{
	series *s = p;
	if (s)
		free(s->bucket_counts);
	free(s);
}

void metrics_free(metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->fams[i].name);
		free(m->fams[i].help);
		free(m->fams[i].buckets);
		strmap_release(&m->fams[i].series, series_free);
	}
	free(m->fams);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static family *find_family(metrics *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->fams[i].name, name))
			return &m->fams[i];
	return NULL;
}

int metrics_declare(metrics *m, const char *name, metric_type type, const char *help, const double *buckets,
		    size_t n_buckets)
{
	if (!name || !*name || (type == METRIC_HISTOGRAM && !n_buckets))
		return -1;
	for (size_t i = 1; i < n_buckets; i++)
		if (!(buckets[i] > buckets[i - 1]))
			return -1;
	pthread_mutex_lock(&m->mu);
	int rc = 0;
	if (find_family(m, name))
		goto out;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		family *f = realloc(m->fams, cap * sizeof *f);
		if (!f) {
			rc = -1;
			goto out;
		}
		m->fams = f;
		m->cap = cap;
	}
	family *f = &m->fams[m->n];
	memset(f, 0, sizeof *f);
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->type = type;
	if (type == METRIC_HISTOGRAM) {
		f->buckets = malloc(n_buckets * sizeof *f->buckets);
		if (f->buckets)
			memcpy(f->buckets, buckets, n_buckets * sizeof *buckets);
		f->n_buckets = n_buckets;
	}
	if (!f->name || !f->help || (type == METRIC_HISTOGRAM && !f->buckets)) {
		free(f->name);
		free(f->help);
		free(f->buckets);
		rc = -1;
		goto out;
	}
	m->n++;
out:
	pthread_mutex_unlock(&m->mu);
	return rc;
}

/* Locked. */
static series *get_series(family *f, const char *labels)
{
	if (!labels)
		labels = "";
	series *s = strmap_get(&f->series, labels, NULL);
	if (s)
		return s;
	s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	if (f->type == METRIC_HISTOGRAM && !(s->bucket_counts = calloc(f->n_buckets, sizeof *s->bucket_counts))) {
		free(s);
		return NULL;
	}
	if (strmap_put(&f->series, labels, s, NULL, NULL)) {
		series_free(s);
		return NULL;
	}
	return s;
}

static void update(metrics *m, const char *name, const char *labels, double v, metric_type want)
{
	pthread_mutex_lock(&m->mu);
	family *f = find_family(m, name);
	series *s = f && f->type == want ? get_series(f, labels) : NULL;
	if (s) {
		if (want == METRIC_COUNTER) {
			if (v > 0)
				s->value += v;
		} else if (want == METRIC_GAUGE) {
			s->value = v;
		} else {
			s->sum += v;
			s->count++;
			for (size_t i = 0; i < f->n_buckets; i++) {
				if (v <= f->buckets[i]) {
					s->bucket_counts[i]++;
					break;
				}
			}
		}
	}
	pthread_mutex_unlock(&m->mu);
}

void metrics_add(metrics *m, const char *name, const char *labels, double v)
{
	update(m, name, labels, v, METRIC_COUNTER);
}
void metrics_set(metrics *m, const char *name, const char *labels, double v)
{
	update(m, name, labels, v, METRIC_GAUGE);
}
void metrics_observe(metrics *m, const char *name, const char *labels, double v)
{
	update(m, name, labels, v, METRIC_HISTOGRAM);
}

void metrics_remove(metrics *m, const char *name, const char *labels)
{
	pthread_mutex_lock(&m->mu);
	family *f = find_family(m, name);
	if (f)
		series_free(strmap_remove(&f->series, labels ? labels : "", NULL));
	pthread_mutex_unlock(&m->mu);
}

double metrics_value(metrics *m, const char *name, const char *labels)
{
	pthread_mutex_lock(&m->mu);
	family *f = find_family(m, name);
	series *s = f ? strmap_get(&f->series, labels ? labels : "", NULL) : NULL;
	double v = s ? s->value : 0;
	pthread_mutex_unlock(&m->mu);
	return v;
}

char *metrics_label_escape(const char *value, char *buf, size_t len)
{
	size_t o = 0;
	for (const char *p = value; *p && o + 3 < len; p++) {
		if (*p == '\\' || *p == '"') {
			buf[o++] = '\\';
			buf[o++] = *p;
		} else if (*p == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
	return buf;
}

static int add_number(sbuf *sb, double v)
{
	if (isinf(v))
		return sbuf_adds(sb, v > 0 ? "+Inf" : "-Inf");
	if (isnan(v))
		return sbuf_adds(sb, "NaN");
	if (v == (double)(long long)v && fabs(v) < 1e15)
		return sbuf_addf(sb, "%lld", (long long)v);
	return sbuf_addf(sb, "%.17g", v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int series_name(sbuf *sb, const char *name, const char *suffix, const char *labels, const char *extra)
{
	bool has = labels && *labels;
	int rc = sbuf_addf(sb, "%s%s", name, suffix);
	if (has || extra)
		rc |= sbuf_addf(sb, "{%s%s%s}", has ? labels : "", has && extra ? "," : "", extra ? extra : "");
	return rc | sbuf_addch(sb, ' ');
}

/* One line per bucket, then _sum and _count: the histogram series s of family f. */
static int render_histogram(sbuf *sb, const family *f, const char *labels, const series *s)
{
	int rc = 0;
	uint64_t cum = 0;
	for (size_t b = 0; b < f->n_buckets && rc == 0; b++) {
		cum += s->bucket_counts[b];
		sbuf le = SBUF_INIT;
		rc |= sbuf_adds(&le, "le=\"");
		rc |= add_number(&le, f->buckets[b]);
		rc |= sbuf_addch(&le, '"');
		rc |= series_name(sb, f->name, "_bucket", labels, le.buf);
		sbuf_release(&le);
		rc |= sbuf_addf(sb, "%llu\n", (unsigned long long)cum);
	}
	rc |= series_name(sb, f->name, "_bucket", labels, "le=\"+Inf\"");
	rc |= sbuf_addf(sb, "%llu\n", (unsigned long long)s->count);
	rc |= series_name(sb, f->name, "_sum", labels, NULL);
	rc |= add_number(sb, s->sum);
	rc |= sbuf_addch(sb, '\n');
	rc |= series_name(sb, f->name, "_count", labels, NULL);
	return rc | sbuf_addf(sb, "%llu\n", (unsigned long long)s->count);
}

char *metrics_render(metrics *m)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	sbuf sb = SBUF_INIT;
	int rc = 0;
	pthread_mutex_lock(&m->mu);
	/* All or nothing: a page with a family or a line missing would read as a reset to a scraper. */
	for (size_t i = 0; i < m->n && rc == 0; i++) {
		family *f = &m->fams[i];
		rc |= sbuf_addf(&sb, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, types[f->type]);
		const char **keys = malloc((f->series.len + 1) * sizeof *keys);
		if (!keys) {
			rc = -1;
			break;
		}
		size_t n = 0, it = 0;
		const char *k;
		while (strmap_next(&f->series, &it, &k, NULL))
			keys[n++] = k;
		qsort(keys, n, sizeof *keys, cmp_str);
		for (size_t j = 0; j < n && rc == 0; j++) {
			series *s = strmap_get(&f->series, keys[j], NULL);
			if (f->type == METRIC_HISTOGRAM) {
				rc |= render_histogram(&sb, f, keys[j], s);
				continue;
			}
			rc |= series_name(&sb, f->name, "", keys[j], NULL);
			rc |= add_number(&sb, s->value);
			rc |= sbuf_addch(&sb, '\n');
		}
		free(keys);
	}
	pthread_mutex_unlock(&m->mu);
	char *text = rc == 0 ? sbuf_detach(&sb) : NULL;
	sbuf_release(&sb);
	return text;
}
