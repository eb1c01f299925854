#include "runtime/controller.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/object_meta.h"

#define MAX_SOURCES 16
#define MAX_WORKERS 64

/* How a source's events become keys. */
typedef enum source_mode {
	SOURCE_PRIMARY, /* the object's own key */
	SOURCE_OWNED,   /* the key of its controller owner of owner_kind */
	SOURCE_MAPPED,  /* whatever map enqueues */
} source_mode;

typedef struct source {
	controller *c;
	informer *inf;
	source_mode mode;
	char *owner_kind;
	controller_map_fn map;
	void *ud;
} source;

/* What a worker thread is given: its controller, and the lowest priority it takes. */
typedef struct worker_arg {
	controller *c;
	workqueue_priority min;
} worker_arg;

struct controller {
	char *name;
	char labels[160];
	char wait_labels[2][200]; /* labels of the queue-wait histogram, by workqueue_priority */
	int n_workers;
	reconcile_fn reconcile;
	void *ud;
	metrics *metrics;
	workqueue *queue;
	source sources[MAX_SOURCES];
	int n_sources;
	pthread_t workers[MAX_WORKERS + 1]; /* n_workers, then the one kept for high keys */
	worker_arg args[MAX_WORKERS + 1];
	int running;
	pthread_mutex_t mu;
	bool stopping;
};

controller *controller_new(const controller_options *o)
{
	controller *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->name = strdup(o->name ? o->name : "controller");
	c->n_workers = o->workers > 0 ? (o->workers > MAX_WORKERS ? MAX_WORKERS : o->workers) : 2;
	c->reconcile = o->reconcile;
	c->ud = o->ud;
	c->metrics = o->metrics;
	c->queue = workqueue_new(o->queue);
	pthread_mutex_init(&c->mu, NULL);
	if (!c->name || !c->queue) {
		controller_free(c);
		return NULL;
	}
	snprintf(c->labels, sizeof c->labels, "controller=\"%s\"", c->name);
	snprintf(c->wait_labels[WORKQUEUE_NORMAL], sizeof c->wait_labels[0], "%s,priority=\"normal\"", c->labels);
	snprintf(c->wait_labels[WORKQUEUE_HIGH], sizeof c->wait_labels[0], "%s,priority=\"high\"", c->labels);
	if (c->metrics) {
		static const double buckets[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
		int rc = metrics_declare(c->metrics, "memshack_reconcile_total", METRIC_COUNTER,
					 "Reconciles by controller and result.", NULL, 0);
		rc |= metrics_declare(c->metrics, "memshack_reconcile_duration_seconds", METRIC_HISTOGRAM,
				      "Time spent in one reconcile.", buckets, sizeof buckets / sizeof *buckets);
		rc |= metrics_declare(c->metrics, "memshack_workqueue_depth", METRIC_GAUGE,
				      "Keys ready in the work queue.", NULL, 0);
		rc |= metrics_declare(c->metrics, "memshack_workqueue_adds_total", METRIC_COUNTER,
				      "Keys added to the work queue.", NULL, 0);
		rc |= metrics_declare(c->metrics, "memshack_workqueue_retries_total", METRIC_COUNTER,
				      "Keys re-added with backoff after an error.", NULL, 0);
		rc |= metrics_declare(
			c->metrics, "memshack_workqueue_queue_duration_seconds", METRIC_HISTOGRAM,
			"How long a key waited in the work queue before a worker took it, by priority (high: a new object or spec).",
			buckets, sizeof buckets / sizeof *buckets);
		if (rc) {
			controller_free(c);
			return NULL;
		}
	}
	return c;
}

void controller_free(controller *c)
{
	if (!c)
		return;
	controller_stop(c);
	workqueue_free(c->queue);
	for (int i = 0; i < c->n_sources; i++)
		free(c->sources[i].owner_kind);
	pthread_mutex_destroy(&c->mu);
	free(c->name);
	free(c);
}

static void update_queue_metrics(controller *c)
{
	if (!c->metrics)
		return;
	char l[200];
	snprintf(l, sizeof l, "name=\"%s\"", c->name);
	metrics_set(c->metrics, "memshack_workqueue_depth", l, (double)workqueue_len(c->queue));
}

static void enqueue_at(controller *c, const char *key, workqueue_priority prio)
{
	workqueue_add_priority(c->queue, key, prio);
	if (c->metrics) {
		char l[200];
		snprintf(l, sizeof l, "name=\"%s\"", c->name);
		metrics_add(c->metrics, "memshack_workqueue_adds_total", l, 1);
	}
	update_queue_metrics(c);
}

void controller_enqueue(controller *c, const char *key)
{
	enqueue_at(c, key, WORKQUEUE_NORMAL);
}

/*
 * Whether obj's spec has changed since its controller last said it saw it: a
 * new object, or metadata.generation ahead of status.observedGeneration. Such
 * a change is what a user waits for, so it goes before re-reconciles caused
 * by child status churn. An object without a generation never is.
 */
static bool spec_unobserved(json_t *obj)
{
	json_t *gen = json_object_get(json_object_get(obj, "metadata"), "generation");
	if (!json_is_integer(gen))
		return false;
	json_t *seen = json_object_get(json_object_get(obj, "status"), "observedGeneration");
	return !json_is_integer(seen) || json_integer_value(seen) != json_integer_value(gen);
}

size_t controller_resync(controller *c)
{
	size_t n = 0;
	for (int i = 0; i < c->n_sources; i++) {
		if (c->sources[i].mode != SOURCE_PRIMARY)
			continue;
		/* Keys only: parsing every cached object for this would fault in megabytes at once. */
		size_t len;
		char **keys = store_keys(informer_store(c->sources[i].inf), &len);
		if (!keys) {
			log_write(LOG_WARN, c->name, NULL, "periodic resync skipped: out of memory");
			continue;
		}
		for (size_t k = 0; k < len; k++)
			controller_enqueue(c, keys[k]);
		n += len;
		store_keys_free(keys);
	}
	return n;
}

/* The controller ownerReference's name, if its kind matches. Borrowed. */
static const char *controller_owner(json_t *obj, const char *kind)
{
	size_t i;
	json_t *ref;
	json_array_foreach (json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, ref) {
		if (json_is_true(json_object_get(ref, "controller"))) {
			const char *k = json_string_value(json_object_get(ref, "kind"));
			return k && !strcmp(k, kind) ? json_string_value(json_object_get(ref, "name")) : NULL;
		}
	}
	return NULL;
}

static void on_event(void *ud, informer_event ev, const char *key, json_t *obj)
{
	source *s = ud;
	switch (s->mode) {
	case SOURCE_PRIMARY:
		enqueue_at(s->c, key,
			   ev == INFORMER_UPSERT && spec_unobserved(obj) ? WORKQUEUE_HIGH : WORKQUEUE_NORMAL);
		break;
	case SOURCE_OWNED: {
		const char *owner = obj ? controller_owner(obj, s->owner_kind) : NULL;
		if (owner) {
			const char *ns = object_meta_str(obj, "namespace");
			char k[512];
			snprintf(k, sizeof k, "%s%s%s", ns ? ns : "", ns ? "/" : "", owner);
			controller_enqueue(s->c, k);
		}
		break;
	}
	case SOURCE_MAPPED: s->map(s->ud, s->c, ev, key, obj);
	}
}

static int add_source(controller *c, informer *inf, source_mode mode, const char *kind, controller_map_fn map, void *ud)
{
	if (c->n_sources == MAX_SOURCES)
		return -1;
	source *s = &c->sources[c->n_sources];
	*s = (source){ c, inf, mode, kind ? strdup(kind) : NULL, map, ud };
	if ((kind && !s->owner_kind) || informer_add_handler(inf, on_event, s)) {
		free(s->owner_kind);
		return -1;
	}
	c->n_sources++;
	return 0;
}

int controller_watch_primary(controller *c, informer *inf)
{
	return add_source(c, inf, SOURCE_PRIMARY, NULL, NULL, NULL);
}

int controller_watch_owned(controller *c, informer *inf, const char *owner_kind)
{
	return add_source(c, inf, SOURCE_OWNED, owner_kind, NULL, NULL);
}

int controller_watch_mapped(controller *c, informer *inf, controller_map_fn map, void *ud)
{
	return add_source(c, inf, SOURCE_MAPPED, NULL, map, ud);
}

static void *worker(void *p)
{
	const worker_arg *a = p;
	controller *c = a->c;
	char *key;
	workqueue_wait wait;
	while ((key = workqueue_get_waited(c->queue, a->min, &wait))) {
		update_queue_metrics(c);
		if (c->metrics)
			metrics_observe(c->metrics, "memshack_workqueue_queue_duration_seconds",
					c->wait_labels[wait.priority], (double)wait.waited_us / 1e6);
		double t0 = clock_mono_seconds();
		reconcile_result r = c->reconcile(c->ud, key);
		double dt = clock_mono_seconds() - t0;
		const char *result = "success";
		switch (r.outcome) {
		case RECONCILE_DONE: workqueue_forget(c->queue, key); break;
		case RECONCILE_REQUEUE_AFTER:
			workqueue_forget(c->queue, key);
			workqueue_add_after(c->queue, key, r.after_us);
			result = "requeue_after";
			break;
		case RECONCILE_ERROR: {
			int64_t d = workqueue_add_rate_limited(c->queue, key);
			result = "error";
			log_write(LOG_DEBUG, c->name, key, "reconcile failed; retry in %.3f s", (double)d / 1e6);
			if (c->metrics) {
				char l[200];
				snprintf(l, sizeof l, "name=\"%s\"", c->name);
				metrics_add(c->metrics, "memshack_workqueue_retries_total", l, 1);
			}
			break;
		}
		}
		if (c->metrics) {
			char l[256];
			snprintf(l, sizeof l, "%s,result=\"%s\"", c->labels, result);
			metrics_add(c->metrics, "memshack_reconcile_total", l, 1);
			metrics_observe(c->metrics, "memshack_reconcile_duration_seconds", c->labels, dt);
		}
		workqueue_done(c->queue, key);
		free(key);
	}
	return NULL;
}

int controller_start(controller *c, int64_t sync_timeout_us)
{
	for (int i = 0; i < c->n_sources; i++) {
		int64_t left = sync_timeout_us;
		while (!informer_synced(c->sources[i].inf)) {
			pthread_mutex_lock(&c->mu);
			bool stop = c->stopping;
			pthread_mutex_unlock(&c->mu);
			if (stop || left <= 0) {
				log_write(LOG_ERROR, c->name, NULL, "caches did not sync");
				return -1;
			}
			informer_wait_synced(c->sources[i].inf, 100000);
			left -= 100000;
		}
	}
	pthread_mutex_lock(&c->mu);
	int rc = 0;
	if (!c->stopping) {
		/*
		 * n_workers take every key (high first), and one more only high keys
		 * (new objects, spec changes), so that a user's change never waits
		 * for a reconcile that status churn started.
		 */
		for (int i = 0; i <= c->n_workers; i++) {
			c->args[i] = (worker_arg){ c, i < c->n_workers ? WORKQUEUE_NORMAL : WORKQUEUE_HIGH };
			if (pthread_create(&c->workers[c->running], NULL, worker, &c->args[i])) {
				rc = -1;
				break;
			}
			c->running++;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (!rc)
		log_write(LOG_INFO, c->name, NULL,
			  "caches synced; %d workers started (one of them only for new objects and spec changes)",
			  c->running);
	return rc;
}

void controller_halt(controller *c)
{
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_mutex_unlock(&c->mu);
	workqueue_shutdown(c->queue);
}

void controller_stop(controller *c)
{
	controller_halt(c);
	workqueue_drain(c->queue);
	pthread_mutex_lock(&c->mu);
	int n = c->running;
	c->running = 0;
	pthread_mutex_unlock(&c->mu);
	for (int i = 0; i < n; i++)
		pthread_join(c->workers[i], NULL);
}

void controller_abandon(controller *c)
{
	controller_halt(c);
	pthread_mutex_lock(&c->mu);
	int n = c->running;
	c->running = 0;
	pthread_mutex_unlock(&c->mu);
	for (int i = 0; i < n; i++)
		pthread_detach(c->workers[i]);
}

const char *controller_name(controller *c)
{
	return c->name;
}
