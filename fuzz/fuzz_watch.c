/*
 * libFuzzer harness: the watch stream line splitter and event decoder.
 *
 * Raw: byte 0 picks the chunk size the stream arrives in (1..256 bytes);
 * the rest is the stream. Every complete line is decoded and, when it is
 * an event, checked for shape. A small max_line exercises the overflow path.
 *
 * Per object: the same bytes become one hostile value (fuzz_hostile.h)
 * inside an otherwise valid event between two good ones. The good events
 * must come through whole, the hostile one must be read or set aside under
 * its own name (never end the stream), and the resourceVersion must end
 * at the last event's.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_hostile.h"
#include "runtime/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_line(void *ud, const char *line, size_t len)
{
	(void)ud;
	if (!len || memchr(line, '\n', len))
		abort(); /* the splitter hands out non-empty lines without their newline */
	watch_event ev;
	watch_event_decode(line, len, &ev);
	if (ev.type == WATCH_INVALID ? ev.object != NULL : ev.object == NULL)
		abort();
	if ((ev.type == WATCH_ADDED || ev.type == WATCH_MODIFIED || ev.type == WATCH_DELETED ||
	     ev.type == WATCH_UNDECODABLE) &&
	    !json_is_object(ev.object))
		abort();
	if (ev.type == WATCH_UNDECODABLE &&
	    (!ev.rv || !json_string_value(json_object_get(json_object_get(ev.object, "metadata"), "name"))))
		abort(); /* set aside means named */
	if (!memchr(ev.detail, '\0', sizeof ev.detail))
		abort();
	watch_event_release(&ev);
	return 0;
}

typedef struct replay {
	watch_sm sm;
	int n;
} replay;

static int on_event_line(void *ud, const char *line, size_t len)
{
	replay *r = ud;
	watch_event ev;
	watch_event_decode(line, len, &ev);
	watch_apply a = watch_sm_on_event(&r->sm, &ev, 1, 0.5);
	const char *name = json_string_value(json_object_get(json_object_get(ev.object, "metadata"), "name"));
	static const char *const want[] = { "good1", "hostile", "good2" };
	if (r->n >= 3 || !name || strcmp(name, want[r->n]))
		abort(); /* each event is about its own object */
	if (r->n != 1 ? a != WATCH_APPLY_UPSERT : (a != WATCH_APPLY_UPSERT && a != WATCH_APPLY_QUARANTINE))
		abort(); /* the good ones are read; the hostile one is read or set aside, never ends the stream */
	if (r->n != 1 && json_integer_value(json_object_get(json_object_get(ev.object, "spec"), "v")) != 7)
		abort();
	r->n++;
	watch_event_release(&ev);
	return 0;
}

static void per_object(const uint8_t *data, size_t size)
{
	sbuf s = SBUF_INIT;
	if (sbuf_adds(&s, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"good1\",\"resourceVersion\":\"1\"},"
			  "\"spec\":{\"v\":7}}}\n{\"type\":\"MODIFIED\",\"object\":"))
		abort();
	fuzz_hostile_object("hostile", "2", data, size, &s);
	if (sbuf_adds(
		    &s,
		    "}\n{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"good2\",\"resourceVersion\":\"3\"},"
		    "\"spec\":{\"v\":7}}}\n"))
		abort();
	replay r = { .n = 0 };
	watch_sm_init(&r.sm, 300);
	watch_sm_list_ok(&r.sm, "0", 0);
	watch_lines wl;
	watch_lines_init(&wl, 0);
	size_t chunk = size ? (size_t)data[size - 1] + 1 : 1;
	for (size_t off = 0; off < s.len; off += chunk)
		watch_lines_feed(&wl, s.buf + off, s.len - off < chunk ? s.len - off : chunk, on_event_line, &r);
	if (r.n != 3 || strcmp(r.sm.rv, "3") || r.sm.restarts)
		abort();
	watch_lines_release(&wl);
	watch_sm_release(&r.sm);
	sbuf_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	watch_lines wl;
	watch_lines_init(&wl, 4096);
	for (size_t off = 1; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		watch_lines_feed(&wl, (const char *)data + off, n, on_line, NULL);
	}
	watch_lines_release(&wl);
	per_object(data, size);
	return 0;
}
