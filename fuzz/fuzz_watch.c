/*
 * libFuzzer harness: the watch stream line splitter and event decoder.
 * Byte 0 picks the chunk size the stream arrives in (1..256 bytes); the rest
 * is the stream. Every complete line is decoded and, when it is an event,
 * checked for shape. A small max_line exercises the overflow path.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	if ((ev.type == WATCH_ADDED || ev.type == WATCH_MODIFIED || ev.type == WATCH_DELETED) && !json_is_object(ev.object))
		abort();
	if (!memchr(ev.detail, '\0', sizeof ev.detail))
		abort();
	watch_event_release(&ev);
	return 0;
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
	return 0;
}
