#include "util/json_lenient.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A copy of buf where every integer token of more than 18 digits gets ".0" appended (caller frees). */
static char *widen_big_integers(const char *buf, size_t len, size_t *ret_len)
{
	size_t cap = len + len / 9 + 16, n = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	bool in_string = false;
	for (size_t i = 0; i < len;) {
		char c = buf[i];
		if (in_string) {
			out[n++] = c;
			i++;
			if (c == '\\' && i < len)
				out[n++] = buf[i++];
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
			out[n++] = c;
			i++;
			continue;
		}
		if (c == '-' || (c >= '0' && c <= '9')) {
			size_t start = i;
			if (c == '-')
				i++;
			size_t digits = 0;
			while (i < len && buf[i] >= '0' && buf[i] <= '9') {
				i++;
				digits++;
			}
			bool real = i < len && (buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E');
			if (n + (i - start) + 2 > cap) { /* cannot happen with the slack above, but stay safe */
				free(out);
				return NULL;
			}
			memcpy(out + n, buf + start, i - start);
			n += i - start;
			if (!real && digits > 18) {
				out[n++] = '.';
				out[n++] = '0';
			}
			continue;
		}
		out[n++] = c;
		i++;
	}
	*ret_len = n;
	return out;
}

json_t *json_loadb_lenient(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	json_error_t e;
	json_t *doc = json_loadb(buf, len, flags, &e);
	if (!doc && strstr(e.text, "too big")) {
		size_t wlen = 0;
		char *wide = widen_big_integers(buf, len, &wlen);
		if (wide) {
			doc = json_loadb(wide, wlen, flags, &e);
			free(wide);
		}
	}
	if (!doc && err)
		*err = e;
	return doc;
}
