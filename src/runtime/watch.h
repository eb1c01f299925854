/*
 * watch — the pure part of list-then-watch: framing of the watch stream into
 * lines, decoding of watch events, and the watcher's state machine.
 *
 * No I/O, no clock, no randomness: times and random numbers are passed in,
 * so every transition is unit-tested without a server. The informer
 * (informer.h) runs it against kube_client.
 *
 * State machine (after kube-rs's watcher and client-go's reflector):
 *
 *   NEED_LIST --list ok (rv)--> WATCHING --stream ends cleanly--> WATCHING (re-watch from rv)
 *       ^  |                       |  \--ERROR 410 / HTTP 410 / list gone--> NEED_LIST
 *       |  '--list failed--> BACKOFF (jittered exponential) --> NEED_LIST
 *       |                          +--stream error / ERROR event--> BACKOFF --> WATCHING (from rv)
 *       '--------------------------+--a line no object can be named by--> BACKOFF --> NEED_LIST
 *
 * Decoding is per object: an event whose object cannot be decoded (or
 * decodes to something unusable) but whose kind, name and resourceVersion
 * can still be scanned out is WATCH_UNDECODABLE — the resourceVersion
 * advances, the object is set aside (quarantined) and the stream goes on.
 * Only a line that names no object (garbage, an undecodable ERROR Status, a
 * line past max_line) ends the stream, and then the watcher relists rather
 * than resume from the same resourceVersion, which would replay it forever.
 *
 * BOOKMARK events only advance the resourceVersion. Backoff starts at 0.8 s,
 * doubles to 30 s, with ±25% jitter, and resets once a watch has been healthy
 * (delivered an event, or lasted 60 s).
 */
#ifndef MEMSHACK_RUNTIME_WATCH_H
#define MEMSHACK_RUNTIME_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sbuf.h"

/* ---- line framing ---- */

typedef struct watch_lines {
	sbuf partial;
	size_t max_line;
} watch_lines;

#define WATCH_MAX_LINE (64u << 20)

void watch_lines_init(watch_lines *wl, size_t max_line);
void watch_lines_release(watch_lines *wl);
void watch_lines_reset(watch_lines *wl);
typedef int (*watch_line_fn)(void *ud, const char *line, size_t len);
/*
 * Feeds a chunk (any split); calls fn for every complete non-empty line
 * (without its '\n' or '\r'). Returns 0; the value fn returned if non-zero
 * (feeding stops); or -1 when a line grows past max_line (the partial line
 * is dropped).
 */
int watch_lines_feed(watch_lines *wl, const char *data, size_t len, watch_line_fn fn, void *ud);

/* ---- events ---- */

typedef enum watch_event_type {
	WATCH_ADDED,
	WATCH_MODIFIED,
	WATCH_DELETED,
	WATCH_BOOKMARK,
	WATCH_ERROR,
	WATCH_INVALID,     /* not a watch event naming an object: garbage, truncated, wrong shape */
	WATCH_UNDECODABLE, /* an event about one object that cannot be decoded or used; object = its identity */
} watch_event_type;

typedef struct watch_event {
	watch_event_type type;
	/*
	 * New reference, or NULL for WATCH_INVALID. WATCH_UNDECODABLE: what
	 * kube_identity_scan read of it (apiVersion, kind, metadata namespace,
	 * name, uid, resourceVersion), never the undecodable rest.
	 */
	json_t *object;
	watch_event_type claimed; /* WATCH_UNDECODABLE: the type the line gave (ADDED, MODIFIED, DELETED) */
	const char *rv;           /* object's metadata.resourceVersion (borrowed), or NULL */
	long code;                /* WATCH_ERROR: the Status code (410 = expired) */
	char detail[160];         /* WATCH_INVALID / WATCH_UNDECODABLE / WATCH_ERROR: what was wrong */
} watch_event;

/* Decodes one line. Always fills *ev; release with watch_event_release. */
void watch_event_decode(const char *line, size_t len, watch_event *ev);
void watch_event_release(watch_event *ev);

/* ---- state machine ---- */

typedef enum watch_state { WATCH_NEED_LIST, WATCH_WATCHING, WATCH_BACKOFF } watch_state;

typedef enum watch_do {
	WATCH_DO_LIST,  /* list (paged), then call watch_sm_list_ok / _failed */
	WATCH_DO_WATCH, /* watch from sm->rv with timeout_s */
	WATCH_DO_WAIT,  /* sleep wait_us, then ask again */
} watch_do;

typedef struct watch_action {
	watch_do what;
	int64_t wait_us;
	long timeout_s; /* WATCH_DO_WATCH: timeoutSeconds to ask for */
} watch_action;

typedef enum watch_apply {
	WATCH_APPLY_NONE,       /* nothing to change in the store */
	WATCH_APPLY_UPSERT,     /* add or update ev->object */
	WATCH_APPLY_DELETE,     /* remove ev->object */
	WATCH_APPLY_RESTART,    /* close this stream; next action says what to do */
	WATCH_APPLY_QUARANTINE, /* ev->object (an identity) cannot be read: drop it from the store, set it aside */
} watch_apply;

typedef struct watch_sm {
	watch_state state;
	watch_state after_backoff;
	char *rv; /* owned; resume point */
	unsigned failures;
	int64_t retry_at_us;
	int64_t watch_started_us;
	bool healthy;       /* this watch delivered something */
	long min_timeout_s; /* default 300: timeouts are drawn from [min, 2*min) */
	/*
	 * The counts of successful lists and of watch streams ended (by the
	 * server, an error, a 410 or a garbage line): the one record of them.
	 * Written by the owner's thread; atomic so that any thread may read.
	 */
	_Atomic uint64_t relists;
	_Atomic uint64_t restarts;
} watch_sm;

#define WATCH_BACKOFF_INITIAL_US 800000
#define WATCH_BACKOFF_MAX_US 30000000
#define WATCH_HEALTHY_AFTER_US 60000000

void watch_sm_init(watch_sm *sm, long min_timeout_s);
void watch_sm_release(watch_sm *sm);
/* What to do at time now; rand01 in [0,1) supplies jitter and the timeout draw. */
watch_action watch_sm_next(watch_sm *sm, int64_t now_us, double rand01);
void watch_sm_list_ok(watch_sm *sm, const char *rv, int64_t now_us);
void watch_sm_list_failed(watch_sm *sm, int64_t now_us, double rand01);
/* The watch request was made (answer 200): marks its start. */
void watch_sm_watch_started(watch_sm *sm, int64_t now_us);
/* One decoded event; advances rv. Returns what to do with the store. */
watch_apply watch_sm_on_event(watch_sm *sm, const watch_event *ev, int64_t now_us, double rand01);
/*
 * The stream ended: http_code 410 (the answer was Gone), error true for a
 * transport or HTTP failure, both false for a clean end (server timeout).
 */
void watch_sm_stream_ended(watch_sm *sm, int64_t now_us, long http_code, bool error, double rand01);

#endif
