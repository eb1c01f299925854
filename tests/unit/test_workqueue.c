#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "runtime/workqueue.h"

static int64_t fake_now;
static int64_t fake_clock(void *ud)
{
	(void)ud;
	return fake_now;
}

static workqueue *fake_queue(void)
{
	fake_now = 1000000000;
	workqueue_options o = { .clock = fake_clock, .qps = 10, .burst = 100 };
	return workqueue_new(&o);
}

static void expect_get(workqueue *q, const char *want)
{
	char *k = workqueue_try_get(q);
	if (!want) {
		if (k)
			print_message("unexpected key %s\n", k);
		assert_null(k);
		return;
	}
	assert_non_null(k);
	assert_string_equal(k, want);
	workqueue_done(q, k);
	free(k);
}

static void test_dedup_and_fifo(void **state)
{
	(void)state;
	workqueue *q = fake_queue();
	workqueue_add(q, "a");
	workqueue_add(q, "b");
	workqueue_add(q, "a");
	workqueue_add(q, "c");
	workqueue_add(q, "b");
	assert_int_equal(workqueue_len(q), 3);
	expect_get(q, "a");
	expect_get(q, "b");
	expect_get(q, "c");
	expect_get(q, NULL);
	workqueue_free(q);
}

static void test_no_concurrent_same_key(void **state)
{
	(void)state;
	workqueue *q = fake_queue();
	workqueue_add(q, "a");
	char *k = workqueue_try_get(q);
	assert_string_equal(k, "a");
	/* Re-added while processing: not handed out again until done. */
	workqueue_add(q, "a");
	workqueue_add(q, "a");
	assert_null(workqueue_try_get(q));
	assert_int_equal(workqueue_len(q), 0);
	workqueue_done(q, k);
	free(k);
	/* ...then runs once more. */
	expect_get(q, "a");
	expect_get(q, NULL);
	workqueue_free(q);
}

static void test_backoff_growth_and_forget(void **state)
{
	(void)state;
	workqueue *q = fake_queue();
	int64_t want = 5000;
	for (int i = 0; i < 8; i++) {
		int64_t d = workqueue_add_rate_limited(q, "x");
		assert_int_equal(d, want);
		want *= 2;
		assert_null(workqueue_try_get(q)); /* not due yet */
		fake_now += d;
		expect_get(q, "x");
	}
	assert_int_equal(workqueue_failures(q, "x"), 8);
	workqueue_forget(q, "x");
	assert_int_equal(workqueue_failures(q, "x"), 0);
	assert_int_equal(workqueue_add_rate_limited(q, "x"), 5000);
	/* The cap: 1000 s. */
	workqueue_options o = { .clock = fake_clock, .base_delay_us = 5000, .max_delay_us = 1000LL * 1000000 };
	workqueue *q2 = workqueue_new(&o);
	int64_t d = 0;
	for (int i = 0; i < 40; i++)
		d = workqueue_add_rate_limited(q2, "y");
	assert_int_equal(d, 1000LL * 1000000);
	workqueue_free(q2);
	workqueue_free(q);
}

static void test_overall_rate_limit(void **state)
{
	(void)state;
	workqueue *q = fake_queue(); /* 10 qps, burst 100 */
	char key[16];
	int64_t last = 0;
	for (int i = 0; i < 101; i++) {
		snprintf(key, sizeof key, "k%d", i);
		last = workqueue_add_rate_limited(q, key);
	}
	/* The 101st distinct key has no per-key history but waits for a token: 0.1 s. */
	assert_true(last >= 99000 && last <= 101000);
	workqueue_free(q);
}

static void test_delayed_ordering(void **state)
{
	(void)state;
	workqueue *q = fake_queue();
	workqueue_add_after(q, "late", 300);
	workqueue_add_after(q, "early", 100);
	workqueue_add_after(q, "middle", 200);
	workqueue_add_after(q, "early", 250); /* keeps the earlier time */
	workqueue_add_after(q, "late", 50);   /* moves earlier */
	assert_int_equal(workqueue_delayed(q), 3);
	expect_get(q, NULL);
	fake_now += 60;
	expect_get(q, "late");
	expect_get(q, NULL);
	fake_now += 1000;
	expect_get(q, "early");
	expect_get(q, "middle");
	expect_get(q, NULL);
	/* A delayed add of a key already queued for now is a no-op on dispatch (dedup). */
	workqueue_add(q, "z");
	workqueue_add_after(q, "z", 10);
	fake_now += 20;
	expect_get(q, "z");
	expect_get(q, NULL);
	workqueue_free(q);
}

typedef struct worker_state {
	workqueue *q;
	pthread_mutex_t mu;
	int active[4];
	int violations;
	int processed;
} worker_state;

static void *worker(void *p)
{
	worker_state *w = p;
	char *k;
	while ((k = workqueue_get(w->q))) {
		int idx = k[0] - 'a';
		pthread_mutex_lock(&w->mu);
		if (w->active[idx]++)
			w->violations++;
		pthread_mutex_unlock(&w->mu);
		nanosleep(&(struct timespec){ 0, 200000 }, NULL);
		pthread_mutex_lock(&w->mu);
		w->active[idx]--;
		w->processed++;
		pthread_mutex_unlock(&w->mu);
		workqueue_done(w->q, k);
		free(k);
	}
	return NULL;
}

static void test_threads_and_drain(void **state)
{
	(void)state;
	worker_state w = { .q = workqueue_new(NULL), .mu = PTHREAD_MUTEX_INITIALIZER };
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, &w);
	for (int i = 0; i < 2000; i++) {
		char key[2] = { (char)('a' + i % 4), 0 };
		workqueue_add(w.q, key);
	}
	workqueue_add_after(w.q, "a", 2000); /* real clock: due in 2 ms */
	for (int i = 0; i < 200 && (workqueue_len(w.q) || workqueue_delayed(w.q)); i++)
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	workqueue_shutdown(w.q);
	workqueue_drain(w.q);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(w.violations, 0);
	assert_true(w.processed >= 4);
	assert_null(workqueue_get(w.q)); /* after shutdown */
	workqueue_add(w.q, "ignored");
	assert_int_equal(workqueue_len(w.q), 0);
	workqueue_free(w.q);
}

/* High keys go first; a high add raises a queued normal key; every key is still handed out once. */
static void test_priorities(void **state)
{
	(void)state;
	workqueue *q = fake_queue();
	workqueue_add(q, "a");
	workqueue_add(q, "b");
	workqueue_add_priority(q, "c", WORKQUEUE_HIGH);
	workqueue_add(q, "d");
	workqueue_add_priority(q, "b", WORKQUEUE_HIGH); /* raised */
	workqueue_add(q, "b");                          /* a normal add leaves it high */
	assert_int_equal(workqueue_len(q), 4);
	expect_get(q, "c");
	expect_get(q, "b");
	assert_int_equal(workqueue_len(q), 2);
	expect_get(q, "a");
	expect_get(q, "d");
	expect_get(q, NULL); /* b's stale normal entry was dropped, not handed out */
	assert_int_equal(workqueue_len(q), 0);
	assert_int_equal(workqueue_adds_total(q), 4);
	workqueue_free(q);
}

/* How long each key waited, and at which priority: from its add, its raise, or its re-queue by done(). */
static void test_wait_times(void **state)
{
	(void)state;
	workqueue *q = fake_queue();
	workqueue_wait w;
	workqueue_add(q, "a");
	fake_now += 300000;
	workqueue_add_priority(q, "b", WORKQUEUE_HIGH);
	fake_now += 200000;
	char *k = workqueue_get_waited(q, WORKQUEUE_NORMAL, &w);
	assert_string_equal(k, "b");
	assert_int_equal(w.priority, WORKQUEUE_HIGH);
	assert_int_equal(w.waited_us, 200000);
	workqueue_done(q, k);
	free(k);
	k = workqueue_get_waited(q, WORKQUEUE_NORMAL, &w);
	assert_string_equal(k, "a");
	assert_int_equal(w.priority, WORKQUEUE_NORMAL);
	assert_int_equal(w.waited_us, 500000);
	workqueue_add(q, "a"); /* while a worker holds it: queued again by done() */
	fake_now += 100000;
	workqueue_done(q, k);
	free(k);
	fake_now += 50000;
	k = workqueue_get_waited(q, WORKQUEUE_NORMAL, &w);
	assert_string_equal(k, "a");
	assert_int_equal(w.waited_us, 50000);
	workqueue_done(q, k);
	free(k);
	workqueue_free(q);
}

typedef struct reserved_state {
	workqueue *q;
	pthread_mutex_t mu;
	char taken[8][8];
	int n;
} reserved_state;

/* The worker kept for high keys: records what it takes. */
static void *high_worker(void *p)
{
	reserved_state *r = p;
	char *k;
	while ((k = workqueue_get_waited(r->q, WORKQUEUE_HIGH, NULL))) {
		pthread_mutex_lock(&r->mu);
		if (r->n < 8)
			snprintf(r->taken[r->n++], sizeof r->taken[0], "%s", k);
		pthread_mutex_unlock(&r->mu);
		workqueue_done(r->q, k);
		free(k);
	}
	return NULL;
}

static int taken_count(reserved_state *r)
{
	pthread_mutex_lock(&r->mu);
	int n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* A worker that takes only high keys leaves normal ones to the others, and is woken by a high add. */
static void test_reserved_worker(void **state)
{
	(void)state;
	reserved_state r = { .q = workqueue_new(NULL), .mu = PTHREAD_MUTEX_INITIALIZER };
	pthread_t t;
	pthread_create(&t, NULL, high_worker, &r);
	workqueue_add(r.q, "n1");
	workqueue_add(r.q, "n2");
	nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	assert_int_equal(taken_count(&r), 0); /* woken by the adds, but they are not for it */
	assert_int_equal(workqueue_len(r.q), 2);
	workqueue_add_priority(r.q, "h1", WORKQUEUE_HIGH);
	for (int i = 0; i < 200 && taken_count(&r) < 1; i++)
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	assert_int_equal(taken_count(&r), 1);
	assert_string_equal(r.taken[0], "h1");
	/* A normal key raised to high is its too; the rest stay for the other workers. */
	workqueue_add_priority(r.q, "n2", WORKQUEUE_HIGH);
	for (int i = 0; i < 200 && taken_count(&r) < 2; i++)
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	assert_string_equal(r.taken[1], "n2");
	char *k = workqueue_try_get(r.q);
	assert_string_equal(k, "n1");
	workqueue_done(r.q, k);
	free(k);
	assert_null(workqueue_try_get(r.q)); /* n2's stale normal entry is dropped */
	workqueue_shutdown(r.q);
	pthread_join(t, NULL);
	assert_int_equal(taken_count(&r), 2);
	workqueue_free(r.q);
}

/* A key raised while a worker holds it comes back first when done; its stale entry never reaches a second worker. */
static void test_priority_while_processing(void **state)
{
	(void)state;
	workqueue *q = fake_queue();
	workqueue_add(q, "a");
	workqueue_add_priority(q, "a", WORKQUEUE_HIGH); /* entries: high a (live), normal a (stale) */
	char *k = workqueue_try_get(q);
	assert_string_equal(k, "a");
	workqueue_add(q, "a"); /* changed again while processing */
	workqueue_add(q, "z");
	assert_int_equal(workqueue_len(q), 1); /* z; a waits for done */
	char *z = workqueue_try_get(q);        /* the stale normal a is skipped: z, not a */
	assert_string_equal(z, "z");
	expect_get(q, NULL);
	workqueue_add_priority(q, "a", WORKQUEUE_HIGH); /* raised while held */
	workqueue_add(q, "y");
	workqueue_done(q, k); /* a is queued again, at high */
	free(k);
	expect_get(q, "a");
	expect_get(q, "y");
	expect_get(q, NULL);
	workqueue_done(q, z);
	free(z);
	expect_get(q, NULL);
	workqueue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dedup_and_fifo),
		cmocka_unit_test(test_priorities),
		cmocka_unit_test(test_priority_while_processing),
		cmocka_unit_test(test_wait_times),
		cmocka_unit_test(test_reserved_worker),
		cmocka_unit_test(test_no_concurrent_same_key),
		cmocka_unit_test(test_backoff_growth_and_forget),
		cmocka_unit_test(test_overall_rate_limit),
		cmocka_unit_test(test_delayed_ordering),
		cmocka_unit_test(test_threads_and_drain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
