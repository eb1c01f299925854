#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile_json.h"
#include "runtime/watch.h"
#include "util/sbuf.h"

typedef struct lines {
	char got[16][256];
	int n;
} lines;

static int collect(void *ud, const char *line, size_t len)
{
	lines *l = ud;
	snprintf(l->got[l->n++], 256, "%.*s", (int)len, line);
	return 0;
}

static void test_lines_any_split(void **state)
{
	(void)state;
	const char *stream = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n{\"partial";
	size_t n = strlen(stream);
	/* Every split point, and byte by byte: the same lines. */
	for (size_t split = 0; split <= n; split++) {
		watch_lines wl;
		watch_lines_init(&wl, 0);
		lines l = { .n = 0 };
		assert_int_equal(watch_lines_feed(&wl, stream, split, collect, &l), 0);
		assert_int_equal(watch_lines_feed(&wl, stream + split, n - split, collect, &l), 0);
		assert_int_equal(l.n, 3);
		assert_string_equal(l.got[0], "{\"a\":1}");
		assert_string_equal(l.got[1], "{\"b\":2}");
		assert_string_equal(l.got[2], "{\"c\":3}");
		assert_string_equal(wl.partial.buf, "{\"partial");
		watch_lines_release(&wl);
	}
	watch_lines wl;
	watch_lines_init(&wl, 0);
	lines l = { .n = 0 };
	for (size_t i = 0; i < n; i++)
		assert_int_equal(watch_lines_feed(&wl, stream + i, 1, collect, &l), 0);
	assert_int_equal(l.n, 3);
	watch_lines_release(&wl);
}

static void test_lines_too_long(void **state)
{
	(void)state;
	watch_lines wl;
	watch_lines_init(&wl, 8);
	lines l = { .n = 0 };
	assert_int_equal(watch_lines_feed(&wl, "12345", 5, collect, &l), 0);
	assert_int_equal(watch_lines_feed(&wl, "6789", 4, collect, &l), -1);
	assert_int_equal(wl.partial.len, 0);
	assert_int_equal(watch_lines_feed(&wl, "ok\n", 3, collect, &l), 0);
	assert_int_equal(l.n, 1);
	watch_lines_release(&wl);
}

static void decode(const char *s, watch_event *ev)
{
	watch_event_decode(s, strlen(s), ev);
}

static void test_decode(void **state)
{
	(void)state;
	watch_event ev;
	decode("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}", &ev);
	assert_int_equal(ev.type, WATCH_ADDED);
	assert_string_equal(ev.rv, "5");
	watch_event_release(&ev);
	decode("{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}", &ev);
	assert_int_equal(ev.type, WATCH_BOOKMARK);
	assert_string_equal(ev.rv, "9");
	watch_event_release(&ev);
	decode("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old\"}}",
	       &ev);
	assert_int_equal(ev.type, WATCH_ERROR);
	assert_int_equal(ev.code, 410);
	assert_string_equal(ev.detail, "too old");
	watch_event_release(&ev);
	const char *garbage[] = {
		"not json",
		"[1,2]",
		"{\"type\":\"ADDED\"}",
		"{\"object\":{}}",
		"{\"type\":\"WHAT\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
		"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":\"3\"}}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}", /* truncated */
	};
	for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
		decode(garbage[i], &ev);
		assert_int_equal(ev.type, WATCH_INVALID);
		assert_null(ev.object);
		assert_true(ev.detail[0] != '\0');
		watch_event_release(&ev);
	}
}

static void test_state_machine_happy_path(void **state)
{
	(void)state;
	watch_sm sm;
	watch_sm_init(&sm, 300);
	int64_t t = 1000000;
	watch_action a = watch_sm_next(&sm, t, 0.5);
	assert_int_equal(a.what, WATCH_DO_LIST);
	watch_sm_list_ok(&sm, "100", t);
	a = watch_sm_next(&sm, t, 0.5);
	assert_int_equal(a.what, WATCH_DO_WATCH);
	assert_int_equal(a.timeout_s, 450); /* drawn from [300, 600) */
	assert_string_equal(sm.rv, "100");
	watch_sm_watch_started(&sm, t);
	watch_event ev;
	decode("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"101\"}}}", &ev);
	assert_int_equal(watch_sm_on_event(&sm, &ev, t, 0.5), WATCH_APPLY_UPSERT);
	watch_event_release(&ev);
	decode("{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"102\"}}}", &ev);
	assert_int_equal(watch_sm_on_event(&sm, &ev, t, 0.5), WATCH_APPLY_DELETE);
	watch_event_release(&ev);
	decode("{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"150\"}}}", &ev);
	assert_int_equal(watch_sm_on_event(&sm, &ev, t, 0.5), WATCH_APPLY_NONE);
	watch_event_release(&ev);
	assert_string_equal(sm.rv, "150"); /* the bookmark advanced it */
	/* A clean end (timeout): watch again at once from 150, no list. */
	watch_sm_stream_ended(&sm, t + 1000, 200, false, 0.5);
	a = watch_sm_next(&sm, t + 1000, 0.0);
	assert_int_equal(a.what, WATCH_DO_WATCH);
	assert_int_equal(a.timeout_s, 300);
	assert_string_equal(sm.rv, "150");
	assert_int_equal(sm.relists, 1);
	watch_sm_release(&sm);
}

static void test_state_machine_410(void **state)
{
	(void)state;
	watch_sm sm;
	watch_sm_init(&sm, 300);
	watch_sm_list_ok(&sm, "1", 0);
	watch_sm_watch_started(&sm, 0);
	watch_event ev;
	decode("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}", &ev);
	assert_int_equal(watch_sm_on_event(&sm, &ev, 10, 0.5), WATCH_APPLY_RESTART);
	watch_event_release(&ev);
	watch_sm_stream_ended(&sm, 20, 200, false, 0.5); /* no effect: already decided */
	assert_int_equal(watch_sm_next(&sm, 20, 0.5).what, WATCH_DO_LIST);
	watch_sm_list_ok(&sm, "500", 30);
	assert_int_equal(sm.relists, 2);
	/* HTTP 410 on the watch request itself: relist too. */
	watch_sm_watch_started(&sm, 40);
	watch_sm_stream_ended(&sm, 50, 410, true, 0.5);
	assert_int_equal(watch_sm_next(&sm, 50, 0.5).what, WATCH_DO_LIST);
	watch_sm_release(&sm);
}

static void test_state_machine_backoff(void **state)
{
	(void)state;
	watch_sm sm;
	watch_sm_init(&sm, 300);
	int64_t t = 0;
	/* Failing lists back off 0.8, 1.6, 3.2 ... capped at 30 s (rand 0.5 = no jitter). */
	int64_t want = 800000;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(watch_sm_next(&sm, t, 0.5).what, WATCH_DO_LIST);
		watch_sm_list_failed(&sm, t, 0.5);
		watch_action a = watch_sm_next(&sm, t, 0.5);
		assert_int_equal(a.what, WATCH_DO_WAIT);
		assert_int_equal(a.wait_us, want > 30000000 ? 30000000 : want);
		t += a.wait_us;
		want *= 2;
	}
	/* Jitter stays within ±25%. */
	watch_sm_list_failed(&sm, t, 0.0);
	assert_int_equal(watch_sm_next(&sm, t, 0.5).wait_us, 22500000);
	t += 22500000;
	watch_sm_list_ok(&sm, "7", t);
	/* A stream error backs off, then resumes watching from rv (no list). */
	watch_sm_watch_started(&sm, t);
	watch_sm_stream_ended(&sm, t + 10, 0, true, 0.5);
	watch_action a = watch_sm_next(&sm, t + 10, 0.5);
	assert_int_equal(a.what, WATCH_DO_WAIT);
	a = watch_sm_next(&sm, t + 10 + a.wait_us, 0.5);
	assert_int_equal(a.what, WATCH_DO_WATCH);
	/* An event makes the watch healthy: failures reset. */
	watch_sm_watch_started(&sm, t + 100);
	watch_event ev;
	decode("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"8\"}}}", &ev);
	watch_sm_on_event(&sm, &ev, t + 200, 0.5);
	watch_event_release(&ev);
	assert_int_equal(sm.failures, 0);
	/*
	 * Garbage in the stream names no object: resuming from rv would replay
	 * it forever, so after a short backoff the watcher lists afresh.
	 */
	decode("garbage", &ev);
	assert_int_equal(watch_sm_on_event(&sm, &ev, t + 300, 0.5), WATCH_APPLY_RESTART);
	watch_event_release(&ev);
	a = watch_sm_next(&sm, t + 300, 0.5);
	assert_int_equal(a.what, WATCH_DO_WAIT);
	assert_int_equal(a.wait_us, 800000);
	assert_int_equal(watch_sm_next(&sm, t + 300 + a.wait_us, 0.5).what, WATCH_DO_LIST);
	watch_sm_list_ok(&sm, "8", t + 300 + a.wait_us);
	/* A non-410 ERROR event: back off and resume too. */
	decode("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,\"message\":\"boom\"}}", &ev);
	assert_int_equal(watch_sm_on_event(&sm, &ev, t + 400, 0.5), WATCH_APPLY_RESTART);
	watch_event_release(&ev);
	assert_int_equal(sm.state, WATCH_BACKOFF);
	watch_sm_release(&sm);
}

/* Decoding per object: every hostile payload is an event about that object alone. */
static void test_decode_hostile(void **state)
{
	(void)state;
	for (size_t i = 0; i < hostile_n_payloads; i++) {
		const hostile_payload *h = &hostile_payloads[i];
		char *obj = hostile_object_for(h, "h", "77");
		sbuf line = SBUF_INIT;
		assert_int_equal(sbuf_addf(&line, "{\"type\":\"MODIFIED\",\"object\":%s}", obj), 0);
		watch_event ev;
		watch_event_decode(line.buf, line.len, &ev);
		assert_string_equal(ev.rv, "77");
		if (h->decodes) {
			assert_int_equal(ev.type, WATCH_MODIFIED);
			assert_true(json_is_object(json_object_get(ev.object, "spec")));
		} else {
			/* Named, with its resourceVersion, and nothing of the undecodable rest. */
			assert_int_equal(ev.type, WATCH_UNDECODABLE);
			assert_int_equal(ev.claimed, WATCH_MODIFIED);
			assert_null(json_object_get(ev.object, "spec"));
			assert_string_equal(
				json_string_value(json_object_get(json_object_get(ev.object, "metadata"), "name")),
				"h");
			assert_non_null(strstr(ev.detail, "cannot be decoded"));
		}
		watch_event_release(&ev);
		sbuf_release(&line);
		free(obj);
	}
}

typedef struct replay {
	watch_sm sm;
	char seen[64][24]; /* "U:name", "Q:name", "D:name", "R" per event */
	int n;
} replay;

static int on_replay_line(void *ud, const char *line, size_t len)
{
	replay *r = ud;
	watch_event ev;
	watch_event_decode(line, len, &ev);
	watch_apply a = watch_sm_on_event(&r->sm, &ev, 1000, 0.5);
	const char *name = json_string_value(json_object_get(json_object_get(ev.object, "metadata"), "name"));
	static const char tag[] = { [WATCH_APPLY_NONE] = 'N',
				    [WATCH_APPLY_UPSERT] = 'U',
				    [WATCH_APPLY_DELETE] = 'D',
				    [WATCH_APPLY_RESTART] = 'R',
				    [WATCH_APPLY_QUARANTINE] = 'Q' };
	if (r->n < 64)
		snprintf(r->seen[r->n++], 24, "%c:%s", tag[a], name ? name : "");
	watch_event_release(&ev);
	return a == WATCH_APPLY_RESTART;
}

/*
 * One stream, good and poisoned events mixed, split at every byte: each
 * poisoned object is set aside alone, the stream never restarts, and the
 * resourceVersion ends at the last event's.
 */
static void test_stream_poison_any_split(void **state)
{
	(void)state;
	sbuf stream = SBUF_INIT, want = SBUF_INIT;
	int rv = 1;
	char rvs[16], name[32];
	for (size_t i = 0; i < hostile_n_payloads; i++) {
		const hostile_payload *h = &hostile_payloads[i];
		if (!h->spec || strlen(h->spec) > 200)
			continue; /* keep the stream short: it is replayed once per byte (deep nesting: test_decode_hostile) */
		snprintf(rvs, sizeof rvs, "%d", rv++);
		snprintf(name, sizeof name, "o%zu", i);
		char *good = hostile_object("good", rvs, "{\"numShards\":2}");
		snprintf(rvs, sizeof rvs, "%d", rv++);
		char *bad = hostile_object_for(h, name, rvs);
		assert_int_equal(
			sbuf_addf(&stream,
				  "{\"type\":\"MODIFIED\",\"object\":%s}\n{\"type\":\"ADDED\",\"object\":%s}\n", good,
				  bad),
			0);
		assert_int_equal(sbuf_addf(&want, "U:good %c:%s ", h->decodes ? 'U' : 'Q', name), 0);
		free(good);
		free(bad);
	}
	/* A poisoned object is deleted: the DELETED event is as undecodable as it was, and still names it. */
	snprintf(rvs, sizeof rvs, "%d", rv++);
	char *gone = hostile_object("gone", rvs, "{\"numShards\":,}");
	assert_int_equal(sbuf_addf(&stream, "{\"type\":\"DELETED\",\"object\":%s}\n", gone), 0);
	assert_int_equal(sbuf_adds(&want, "D:gone "), 0);
	free(gone);
	snprintf(rvs, sizeof rvs, "%d", rv++);
	assert_int_equal(sbuf_addf(&stream,
				   "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"%s\"}}}\n",
				   rvs),
			 0);
	assert_int_equal(sbuf_adds(&want, "N: "), 0);
	for (size_t split = 0; split <= stream.len; split++) {
		replay r = { .n = 0 };
		watch_sm_init(&r.sm, 300);
		watch_sm_list_ok(&r.sm, "0", 0);
		watch_lines wl;
		watch_lines_init(&wl, 0);
		assert_int_equal(watch_lines_feed(&wl, stream.buf, split, on_replay_line, &r), 0);
		assert_int_equal(watch_lines_feed(&wl, stream.buf + split, stream.len - split, on_replay_line, &r), 0);
		sbuf got = SBUF_INIT;
		for (int i = 0; i < r.n; i++)
			assert_int_equal(sbuf_addf(&got, "%s ", r.seen[i]), 0);
		assert_string_equal(got.buf, want.buf);
		assert_string_equal(r.sm.rv, rvs);
		assert_int_equal(r.sm.state, WATCH_WATCHING);
		assert_int_equal(r.sm.restarts, 0);
		sbuf_release(&got);
		watch_lines_release(&wl);
		watch_sm_release(&r.sm);
	}
	sbuf_release(&stream);
	sbuf_release(&want);
}

/* An undecodable line that names no object (no resourceVersion, or garbage): relist, never resume into it. */
static void test_unnamed_poison_relists(void **state)
{
	(void)state;
	watch_sm sm;
	watch_sm_init(&sm, 300);
	watch_sm_list_ok(&sm, "5", 0);
	char *deep = hostile_deep(3000);
	sbuf line = SBUF_INIT;
	assert_int_equal(
		sbuf_addf(&line, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"},\"spec\":%s}}", deep),
		0);
	watch_event ev;
	watch_event_decode(line.buf, line.len, &ev);
	assert_int_equal(ev.type, WATCH_INVALID);
	assert_int_equal(watch_sm_on_event(&sm, &ev, 10, 0.5), WATCH_APPLY_RESTART);
	watch_event_release(&ev);
	watch_action a = watch_sm_next(&sm, 10, 0.5);
	assert_int_equal(watch_sm_next(&sm, 10 + a.wait_us, 0.5).what, WATCH_DO_LIST);
	/* An ERROR whose Status cannot be decoded names nothing either. */
	sbuf_reset(&line);
	assert_int_equal(sbuf_addf(&line, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"details\":%s}}", deep),
			 0);
	watch_event_decode(line.buf, line.len, &ev);
	assert_int_equal(ev.type, WATCH_INVALID);
	watch_event_release(&ev);
	sbuf_release(&line);
	free(deep);
	watch_sm_release(&sm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_any_split),
		cmocka_unit_test(test_lines_too_long),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_state_machine_happy_path),
		cmocka_unit_test(test_state_machine_410),
		cmocka_unit_test(test_state_machine_backoff),
		cmocka_unit_test(test_decode_hostile),
		cmocka_unit_test(test_stream_poison_any_split),
		cmocka_unit_test(test_unnamed_poison_relists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
