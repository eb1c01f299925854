#include "util/json_encode.h"

#include <stdbool.h>

#include "util/sbuf.h"

typedef struct encoding {
	sbuf text;
	bool failed; /* sticky: jansson may go on after a write we refused */
} encoding;

static int write_part(const char *buf, size_t len, void *ud)
{
	encoding *e = ud;
	if (e->failed || sbuf_add(&e->text, buf, len)) {
		e->failed = true;
		return -1;
	}
	return 0;
}

char *json_encode(const json_t *v, size_t flags)
{
	if (!v)
		return NULL;
	encoding e = { SBUF_INIT, false };
	if (json_dump_callback(v, write_part, &e, flags) || e.failed) {
		sbuf_release(&e.text);
		return NULL;
	}
	return sbuf_detach(&e.text);
}
