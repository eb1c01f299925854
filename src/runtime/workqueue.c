#include "runtime/workqueue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/strmap.h"

typedef struct delayed {
	int64_t at;
	uint64_t seq; /* FIFO among equal times */
	char *key;
} delayed;

/* A FIFO of ready keys (owned copies), each with when it was queued. */
typedef struct ring_entry {
	char *key;
	int64_t at;
} ring_entry;

typedef struct ring {
	ring_entry *buf;
	size_t head, count, cap;
} ring;

struct workqueue {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	workqueue_options o;
	/*
	 * Ready keys, one FIFO per priority; high is served first. A key raised
	 * to high while queued at normal is pushed on the high FIFO and its
	 * normal entry goes stale: an entry is live only while `dirty` holds its
	 * key at that entry's priority and no worker holds the key, and stale
	 * entries are dropped when they reach the front.
	 */
	ring ready[2];
	size_t queued;     /* distinct keys with a live entry */
	strmap dirty;      /* key -> (intptr) 1 + priority: queued or to be re-queued */
	strmap processing; /* key -> NULL */
	strmap waiting;    /* key -> (intptr) index+1 into heap */
	delayed *heap;
	size_t heap_len, heap_cap;
	uint64_t seq;
	strmap failures; /* key -> (intptr) count */
	double tokens;
	int64_t bucket_last; /* last token refill */
	bool shutdown;
	uint64_t adds, retries;
};

static int64_t default_clock(void *ud)
{
	(void)ud;
	return clock_mono_us();
}

static int64_t now(workqueue *q)
{
	return q->o.clock(q->o.clock_ud);
}

workqueue *workqueue_new(const workqueue_options *opts)
{
	workqueue *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	if (opts)
		q->o = *opts;
	if (q->o.base_delay_us <= 0)
		q->o.base_delay_us = 5000;
	if (q->o.max_delay_us <= 0)
		q->o.max_delay_us = 1000LL * 1000000;
	if (q->o.qps <= 0)
		q->o.qps = 10;
	if (q->o.burst <= 0)
		q->o.burst = 100;
	if (!q->o.clock)
		q->o.clock = default_clock;
	pthread_mutex_init(&q->mu, NULL);
	if (clock_cond_init(&q->cond)) {
		pthread_mutex_destroy(&q->mu);
		free(q);
		return NULL;
	}
	q->tokens = q->o.burst;
	q->bucket_last = now(q);
	return q;
}

void workqueue_free(workqueue *q)
{
	if (!q)
		return;
	for (int p = 0; p < 2; p++) {
		ring *r = &q->ready[p];
		for (size_t i = 0; i < r->count; i++)
			free(r->buf[(r->head + i) % r->cap].key);
		free(r->buf);
	}
	for (size_t i = 0; i < q->heap_len; i++)
		free(q->heap[i].key);
	free(q->heap);
	strmap_release(&q->dirty, NULL);
	strmap_release(&q->processing, NULL);
	strmap_release(&q->waiting, NULL);
	strmap_release(&q->failures, NULL);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	free(q);
}

static int ring_push(ring *r, const char *key, int64_t at)
{
	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		ring_entry *f = malloc(cap * sizeof *f);
		if (!f)
			return -1;
		for (size_t i = 0; i < r->count; i++)
			f[i] = r->buf[(r->head + i) % r->cap];
		free(r->buf);
		r->buf = f;
		r->cap = cap;
		r->head = 0;
	}
	char *k = strdup(key);
	if (!k)
		return -1;
	r->buf[(r->head + r->count) % r->cap] = (ring_entry){ k, at };
	r->count++;
	return 0;
}

/* The priority `dirty` holds for key, or -1 when it holds none. Locked. */
static int dirty_priority(workqueue *q, const char *key)
{
	bool found;
	intptr_t v = (intptr_t)strmap_get(&q->dirty, key, &found);
	return found ? (int)v - 1 : -1;
}

static bool is_processing(workqueue *q, const char *key)
{
	bool found;
	strmap_get(&q->processing, key, &found);
	return found;
}

/*
 * client-go's Add: dedup via dirty; not queued while processing. A key
 * queued at normal priority and added at high is raised (a high entry is
 * pushed; the normal one goes stale). Locked.
 */
static void add_locked(workqueue *q, const char *key, workqueue_priority prio)
{
	if (q->shutdown)
		return;
	int have = dirty_priority(q, key);
	if (have >= (int)prio)
		return;
	if (have < 0)
		q->adds++;
	/* A raise that cannot be recorded leaves the key at its priority: still queued once. */
	if (strmap_put(&q->dirty, key, (void *)(intptr_t)(1 + (int)prio), NULL, NULL))
		return;
	if (is_processing(q, key))
		return; /* re-queued by done(), at the priority dirty holds */
	if (ring_push(&q->ready[prio], key, now(q))) {
		if (have < 0)
			strmap_remove(&q->dirty, key, NULL);
		else
			/* a replacement: allocates nothing, cannot fail */
			MEMSHACK_IGNORE_RESULT(strmap_put(&q->dirty, key, (void *)(intptr_t)(1 + have), NULL, NULL));
		return;
	}
	if (have < 0)
		q->queued++;
	/* Every getter: one woken at random could be one that takes only high keys. */
	pthread_cond_broadcast(&q->cond);
}

void workqueue_add(workqueue *q, const char *key)
{
	workqueue_add_priority(q, key, WORKQUEUE_NORMAL);
}

void workqueue_add_priority(workqueue *q, const char *key, workqueue_priority prio)
{
	pthread_mutex_lock(&q->mu);
	add_locked(q, key, prio);
	pthread_mutex_unlock(&q->mu);
}

/* ---- delayed keys: a binary min-heap on (at, seq), indexed by key ---- */

static bool heap_less(const delayed *a, const delayed *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_set(workqueue *q, size_t i, delayed d)
{
	q->heap[i] = d;
	/*
	 * Can fail only for a key new to the map (a replacement allocates
	 * nothing). Then a later add_after of that key finds no index and adds
	 * a second heap entry: both promote through add_locked, which
	 * deduplicates — at worst an early reconcile, never two workers.
	 */
	MEMSHACK_IGNORE_RESULT(strmap_put(&q->waiting, d.key, (void *)(intptr_t)(i + 1), NULL, NULL));
}

static void heap_up(workqueue *q, size_t i)
{
	delayed d = q->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(&d, &q->heap[p]))
			break;
		heap_set(q, i, q->heap[p]);
		i = p;
	}
	heap_set(q, i, d);
}

static void heap_down(workqueue *q, size_t i)
{
	delayed d = q->heap[i];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const delayed *best = &d;
		if (l < q->heap_len && heap_less(&q->heap[l], best))
			m = l, best = &q->heap[l];
		if (r < q->heap_len && heap_less(&q->heap[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(q, i, q->heap[m]);
		i = m;
	}
	heap_set(q, i, d);
}

static void add_after_locked(workqueue *q, const char *key, int64_t delay_us)
{
	if (q->shutdown)
		return;
	if (delay_us <= 0) {
		add_locked(q, key, WORKQUEUE_NORMAL);
		return;
	}
	int64_t at = now(q) + delay_us;
	bool found;
	intptr_t idx = (intptr_t)strmap_get(&q->waiting, key, &found);
	if (found) {
		size_t i = (size_t)idx - 1;
		if (at < q->heap[i].at) { /* keep the earliest time */
			q->heap[i].at = at;
			heap_up(q, i);
			pthread_cond_broadcast(&q->cond);
		}
		return;
	}
	if (q->heap_len == q->heap_cap) {
		size_t cap = q->heap_cap ? q->heap_cap * 2 : 16;
		delayed *h = realloc(q->heap, cap * sizeof *h);
		if (!h)
			return;
		q->heap = h;
		q->heap_cap = cap;
	}
	char *k = strdup(key);
	if (!k)
		return;
	q->heap[q->heap_len] = (delayed){ at, q->seq++, k };
	q->heap_len++;
	heap_up(q, q->heap_len - 1);
	pthread_cond_broadcast(&q->cond); /* a getter may need to wake earlier */
}

void workqueue_add_after(workqueue *q, const char *key, int64_t delay_us)
{
	pthread_mutex_lock(&q->mu);
	add_after_locked(q, key, delay_us);
	pthread_mutex_unlock(&q->mu);
}

/* Moves due delayed keys to the ready queue; returns the next due time or INT64_MAX. Locked. */
static int64_t promote_due(workqueue *q)
{
	int64_t t = now(q);
	while (q->heap_len && q->heap[0].at <= t) {
		delayed d = q->heap[0];
		strmap_remove(&q->waiting, d.key, NULL);
		q->heap_len--;
		if (q->heap_len) {
			q->heap[0] = q->heap[q->heap_len];
			heap_down(q, 0);
		}
		add_locked(q, d.key, WORKQUEUE_NORMAL);
		free(d.key);
	}
	return q->heap_len ? q->heap[0].at : INT64_MAX;
}

/* ---- rate limiting ---- */

static int64_t bucket_delay_locked(workqueue *q)
{
	/* Token bucket with reservations, like golang.org/x/time/rate. */
	int64_t t = now(q);
	double elapsed = (double)(t - q->bucket_last) / 1e6;
	q->bucket_last = t;
	q->tokens += elapsed * q->o.qps;
	if (q->tokens > q->o.burst)
		q->tokens = q->o.burst;
	q->tokens -= 1;
	if (q->tokens >= 0)
		return 0;
	return (int64_t)(-q->tokens / q->o.qps * 1e6);
}

int64_t workqueue_add_rate_limited(workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	intptr_t fails = (intptr_t)strmap_get(&q->failures, key, NULL);
	/* A failure that cannot be counted keeps this key's backoff at its current step. */
	MEMSHACK_IGNORE_RESULT(strmap_put(&q->failures, key, (void *)(fails + 1), NULL, NULL));
	int64_t backoff = q->o.base_delay_us;
	for (intptr_t i = 0; i < fails && backoff < q->o.max_delay_us; i++)
		backoff *= 2;
	if (backoff > q->o.max_delay_us)
		backoff = q->o.max_delay_us;
	int64_t bucket = bucket_delay_locked(q);
	int64_t delay = backoff > bucket ? backoff : bucket;
	q->retries++;
	add_after_locked(q, key, delay);
	pthread_mutex_unlock(&q->mu);
	return delay;
}

void workqueue_forget(workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	strmap_remove(&q->failures, key, NULL);
	pthread_mutex_unlock(&q->mu);
}

int workqueue_failures(workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	int n = (int)(intptr_t)strmap_get(&q->failures, key, NULL);
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* ---- handing out ---- */

/*
 * The next key, marked processing; NULL when none is ready. When marking
 * it fails (no memory) the key stays queued and *stalled is set: handing
 * it out unmarked would let add() queue it for a second worker.
 */
static char *take_locked(workqueue *q, workqueue_priority min, bool *stalled, workqueue_wait *wait)
{
	for (;;) {
		int p = q->ready[WORKQUEUE_HIGH].count || min == WORKQUEUE_HIGH ? WORKQUEUE_HIGH : WORKQUEUE_NORMAL;
		ring *r = &q->ready[p];
		if (!r->count)
			return NULL;
		char *k = r->buf[r->head].key;
		int64_t at = r->buf[r->head].at;
		bool live = dirty_priority(q, k) == p && !is_processing(q, k);
		if (live && strmap_put(&q->processing, k, NULL, NULL, NULL)) {
			*stalled = true;
			return NULL;
		}
		r->head = (r->head + 1) % r->cap;
		r->count--;
		if (!live) {
			free(k); /* stale: the key was raised, or taken from the other FIFO */
			continue;
		}
		strmap_remove(&q->dirty, k, NULL);
		q->queued--;
		if (wait)
			*wait = (workqueue_wait){ (workqueue_priority)p, now(q) - at };
		return k;
	}
}

char *workqueue_try_get(workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	char *k = NULL;
	bool stalled = false; /* the caller asks again anyway */
	if (!q->shutdown) {
		promote_due(q);
		k = take_locked(q, WORKQUEUE_NORMAL, &stalled, NULL);
	}
	pthread_mutex_unlock(&q->mu);
	return k;
}

char *workqueue_get(workqueue *q)
{
	return workqueue_get_waited(q, WORKQUEUE_NORMAL, NULL);
}

char *workqueue_get_waited(workqueue *q, workqueue_priority min, workqueue_wait *wait)
{
	pthread_mutex_lock(&q->mu);
	char *k = NULL;
	while (!q->shutdown) {
		int64_t next = promote_due(q);
		bool stalled = false;
		if ((k = take_locked(q, min, &stalled, wait)))
			break;
		if (stalled)
			next = now(q) + 10000; /* out of memory: try again in 10 ms */
		if (next == INT64_MAX) {
			pthread_cond_wait(&q->cond, &q->mu);
		} else {
			/* Sleep until the next delayed key is due (the clock may be a test clock: cap the wait). */
			int64_t sleep_us = next - now(q);
			if (sleep_us > 1000000)
				sleep_us = 1000000;
			if (sleep_us < 1000)
				sleep_us = 1000;
			clock_cond_wait_until(&q->cond, &q->mu, clock_mono_us() + sleep_us);
		}
	}
	pthread_mutex_unlock(&q->mu);
	return k;
}

void workqueue_done(workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	strmap_remove(&q->processing, key, NULL);
	int p = dirty_priority(q, key);
	if (p >= 0 && !q->shutdown && ring_push(&q->ready[p], key, now(q)) == 0)
		q->queued++;
	pthread_cond_broadcast(&q->cond); /* getters, and drain(), which waits on processing */
	pthread_mutex_unlock(&q->mu);
}

size_t workqueue_len(workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->queued;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t workqueue_delayed(workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->heap_len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

uint64_t workqueue_adds_total(workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	uint64_t n = q->adds;
	pthread_mutex_unlock(&q->mu);
	return n;
}

uint64_t workqueue_retries_total(workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	uint64_t n = q->retries;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void workqueue_shutdown(workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutdown = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

void workqueue_drain(workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	while (q->processing.len)
		pthread_cond_wait(&q->cond, &q->mu);
	pthread_mutex_unlock(&q->mu);
}
