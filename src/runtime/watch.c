#include "runtime/watch.h"
#include "kube/kube_decode.h"
#include "util/json_lenient.h"
#include "util/json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void watch_lines_init(watch_lines *wl, size_t max_line)
{
	sbuf_init(&wl->partial);
	wl->max_line = max_line ? max_line : WATCH_MAX_LINE;
}

void watch_lines_release(watch_lines *wl)
{
	sbuf_release(&wl->partial);
}

void watch_lines_reset(watch_lines *wl)
{
	sbuf_reset(&wl->partial);
}

static int emit(const char *line, size_t len, watch_line_fn fn, void *ud)
{
	while (len && (line[len - 1] == '\r'))
		len--;
	if (!len)
		return 0;
	return fn(ud, line, len);
}

int watch_lines_feed(watch_lines *wl, const char *data, size_t len, watch_line_fn fn, void *ud)
{
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		int r;
		if (wl->partial.len) {
			if (wl->partial.len + (i - start) > wl->max_line ||
			    sbuf_add(&wl->partial, data + start, i - start)) {
				sbuf_reset(&wl->partial);
				return -1;
			}
			r = emit(wl->partial.buf, wl->partial.len, fn, ud);
			sbuf_reset(&wl->partial);
		} else {
			if (i - start > wl->max_line)
				return -1;
			r = emit(data + start, i - start, fn, ud);
		}
		start = i + 1;
		if (r) {
			/* Keep the rest for a later feed? The caller stops the stream: drop it. */
			return r;
		}
	}
	if (start < len) {
		if (wl->partial.len + (len - start) > wl->max_line ||
		    sbuf_add(&wl->partial, data + start, len - start)) {
			sbuf_reset(&wl->partial);
			return -1;
		}
	}
	return 0;
}

void watch_event_release(watch_event *ev)
{
	json_decref(ev->object);
	ev->object = NULL;
	ev->rv = NULL;
}

static void invalid(watch_event *ev, const char *why)
{
	json_decref(ev->object);
	ev->object = NULL;
	ev->rv = NULL;
	ev->type = WATCH_INVALID;
	snprintf(ev->detail, sizeof ev->detail, "%s", why);
}

static watch_event_type type_named(const char *type)
{
	static const struct {
		const char *name;
		watch_event_type t;
	} types[] = { { "ADDED", WATCH_ADDED },
		      { "MODIFIED", WATCH_MODIFIED },
		      { "DELETED", WATCH_DELETED },
		      { "BOOKMARK", WATCH_BOOKMARK },
		      { "ERROR", WATCH_ERROR } };
	for (size_t i = 0; type && i < sizeof types / sizeof *types; i++)
		if (!strcmp(type, types[i].name))
			return types[i].t;
	return WATCH_INVALID;
}

/*
 * An event about one object we cannot use: named by identity (a new
 * reference, taken) when it has a name and resourceVersion and the line
 * said ADDED, MODIFIED or DELETED; otherwise the line names nothing.
 */
static void undecodable(watch_event *ev, watch_event_type claimed, json_t *identity, const char *why)
{
	json_t *md = json_object_get(identity, "metadata");
	const char *rv = json_string_clean(json_object_get(md, "resourceVersion"));
	if (!rv || !*rv || !json_string_clean(json_object_get(md, "name")) ||
	    (claimed != WATCH_ADDED && claimed != WATCH_MODIFIED && claimed != WATCH_DELETED)) {
		json_decref(identity);
		invalid(ev, why);
		return;
	}
	json_decref(ev->object);
	ev->object = identity;
	ev->type = WATCH_UNDECODABLE;
	ev->claimed = claimed;
	ev->rv = rv;
	snprintf(ev->detail, sizeof ev->detail, "%s", why);
}

/* The line is not JSON we can read: scan it for the event's type and its object's identity. */
static void decode_scanned(const char *line, size_t len, watch_event *ev, const char *error)
{
	char why[160], type[16] = "";
	snprintf(why, sizeof why, "cannot be decoded: %.120s", error);
	json_span top, t, obj;
	if (json_scan_value(line, len, 0, &top) || json_scan_member(line, top, "object", &obj)) {
		snprintf(why, sizeof why, "watch event is not valid JSON: %.100s", error);
		invalid(ev, why);
		return;
	}
	if (!json_scan_member(line, top, "type", &t))
		(void)json_scan_string(line, t, type, sizeof type); /* left "" when unreadable: names nothing */
	undecodable(ev, type_named(type), kube_identity_scan(line, obj.start, obj.end), why);
}

void watch_event_decode(const char *line, size_t len, watch_event *ev)
{
	memset(ev, 0, sizeof *ev);
	json_error_t je;
	json_t *doc = json_loadb_lenient(line, len, 0, &je);
	if (!doc) {
		decode_scanned(line, len, ev, je.text);
		return;
	}
	json_t *obj = json_object_get(doc, "object");
	watch_event_type t = type_named(json_string_value(json_object_get(doc, "type")));
	if (!json_is_object(doc) || t == WATCH_INVALID || !json_is_object(obj)) {
		json_decref(doc);
		invalid(ev, "watch event lacks type or object");
		return;
	}
	ev->object = json_incref(obj);
	json_decref(doc);
	ev->type = t;
	if (t == WATCH_ERROR) {
		json_t *code = json_object_get(ev->object, "code");
		ev->code = json_is_integer(code) ? (long)json_integer_value(code) : 0;
		const char *msg = json_string_value(json_object_get(ev->object, "message"));
		snprintf(ev->detail, sizeof ev->detail, "%s", msg ? msg : "watch error");
		return;
	}
	json_t *md = json_object_get(ev->object, "metadata");
	ev->rv = json_string_clean(json_object_get(md, "resourceVersion"));
	if (!ev->rv || !*ev->rv) {
		invalid(ev, "watch event object has no metadata.resourceVersion");
	} else if (t != WATCH_BOOKMARK && !json_string_clean(json_object_get(md, "name"))) {
		/* Decoded, but not an object we can key: named by what can be read, or nothing. */
		json_t *id = json_pack("{s:O*, s:O*, s:O}", "apiVersion", json_object_get(ev->object, "apiVersion"),
				       "kind", json_object_get(ev->object, "kind"), "metadata", md);
		undecodable(ev, t, id, "watch event object has no usable metadata.name");
	}
}

void watch_sm_init(watch_sm *sm, long min_timeout_s)
{
	memset(sm, 0, sizeof *sm);
	sm->state = WATCH_NEED_LIST;
	sm->min_timeout_s = min_timeout_s > 0 ? min_timeout_s : 300;
}

void watch_sm_release(watch_sm *sm)
{
	free(sm->rv);
	sm->rv = NULL;
}

static void set_rv(watch_sm *sm, const char *rv)
{
	if (!rv)
		return;
	char *copy = strdup(rv);
	if (!copy)
		return; /* keep the old one: resuming from it only repeats events */
	free(sm->rv);
	sm->rv = copy;
}

static void backoff(watch_sm *sm, int64_t now_us, double rand01, watch_state then)
{
	int64_t d = WATCH_BACKOFF_INITIAL_US;
	for (unsigned i = 0; i < sm->failures && d < WATCH_BACKOFF_MAX_US; i++)
		d *= 2;
	if (d > WATCH_BACKOFF_MAX_US)
		d = WATCH_BACKOFF_MAX_US;
	d = (int64_t)((double)d * (0.75 + 0.5 * rand01)); /* ±25% */
	sm->failures++;
	sm->state = WATCH_BACKOFF;
	sm->after_backoff = then;
	sm->retry_at_us = now_us + d;
}

watch_action watch_sm_next(watch_sm *sm, int64_t now_us, double rand01)
{
	watch_action a = { WATCH_DO_WAIT, 0, 0 };
	if (sm->state == WATCH_BACKOFF) {
		if (now_us < sm->retry_at_us) {
			a.wait_us = sm->retry_at_us - now_us;
			return a;
		}
		sm->state = (sm->after_backoff == WATCH_WATCHING && sm->rv) ? WATCH_WATCHING : WATCH_NEED_LIST;
	}
	if (sm->state == WATCH_NEED_LIST) {
		a.what = WATCH_DO_LIST;
		return a;
	}
	a.what = WATCH_DO_WATCH;
	a.timeout_s = sm->min_timeout_s + (long)(rand01 * (double)sm->min_timeout_s);
	return a;
}

void watch_sm_list_ok(watch_sm *sm, const char *rv, int64_t now_us)
{
	(void)now_us;
	set_rv(sm, rv);
	sm->state = WATCH_WATCHING;
	sm->relists++;
}

void watch_sm_list_failed(watch_sm *sm, int64_t now_us, double rand01)
{
	backoff(sm, now_us, rand01, WATCH_NEED_LIST);
}

void watch_sm_watch_started(watch_sm *sm, int64_t now_us)
{
	sm->watch_started_us = now_us;
	sm->healthy = false;
}

static void mark_healthy(watch_sm *sm)
{
	sm->healthy = true;
	sm->failures = 0;
}

watch_apply watch_sm_on_event(watch_sm *sm, const watch_event *ev, int64_t now_us, double rand01)
{
	switch (ev->type) {
	case WATCH_ADDED:
	case WATCH_MODIFIED:
		set_rv(sm, ev->rv);
		mark_healthy(sm);
		return WATCH_APPLY_UPSERT;
	case WATCH_DELETED:
		set_rv(sm, ev->rv);
		mark_healthy(sm);
		return WATCH_APPLY_DELETE;
	case WATCH_BOOKMARK:
		set_rv(sm, ev->rv);
		mark_healthy(sm);
		return WATCH_APPLY_NONE;
	case WATCH_ERROR:
		sm->restarts++;
		if (ev->code == 410) {
			/* Our resourceVersion is too old: list again, swap the store. */
			sm->state = WATCH_NEED_LIST;
			return WATCH_APPLY_RESTART;
		}
		backoff(sm, now_us, rand01, WATCH_WATCHING);
		return WATCH_APPLY_RESTART;
	case WATCH_UNDECODABLE:
		/* One object we cannot read: it alone is set aside, the stream goes on past it. */
		set_rv(sm, ev->rv);
		mark_healthy(sm);
		return ev->claimed == WATCH_DELETED ? WATCH_APPLY_DELETE : WATCH_APPLY_QUARANTINE;
	case WATCH_INVALID:
	default:
		/*
		 * A line that names no object: resuming from our resourceVersion
		 * would replay it forever, so list afresh (after a backoff).
		 */
		sm->restarts++;
		backoff(sm, now_us, rand01, WATCH_NEED_LIST);
		return WATCH_APPLY_RESTART;
	}
}

void watch_sm_stream_ended(watch_sm *sm, int64_t now_us, long http_code, bool error, double rand01)
{
	if (sm->state != WATCH_WATCHING)
		return; /* already decided by an event (410 or garbage) */
	if (!sm->healthy && sm->watch_started_us && now_us - sm->watch_started_us >= WATCH_HEALTHY_AFTER_US)
		mark_healthy(sm);
	sm->restarts++;
	if (http_code == 410) {
		sm->state = WATCH_NEED_LIST;
		return;
	}
	if (error) {
		backoff(sm, now_us, rand01, WATCH_WATCHING);
		return;
	}
	/* A clean end (timeoutSeconds reached): watch again from rv at once. */
	sm->state = WATCH_WATCHING;
}
