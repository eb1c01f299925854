#include "fuzz_hostile.h"

#include <stdlib.h>
#include <string.h>

static void add(sbuf *out, const void *p, size_t n)
{
	if (sbuf_add(out, p, n))
		abort();
}

void fuzz_hostile_value(const uint8_t *data, size_t size, sbuf *out)
{
	unsigned op = size ? data[0] % 5 : 0;
	const uint8_t *p = size ? data + 1 : data;
	size_t n = size ? size - 1 : 0;
	switch (op) {
	case 0: /* raw string content */
		add(out, "\"", 1);
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '\n')
				add(out, "\\n", 2);
			else if (p[i] == '"')
				add(out, "\\\"", 2);
			else if (p[i] == '\\' && (i + 1 == n || p[i + 1] == '\n'))
				add(out, "\\\\", 2); /* would escape the closing quote or a newline */
			else if (p[i] == '\\') {
				add(out, p + i, 2); /* any escape at all: \u with anything after it, \q ... */
				i++;
			} else
				add(out, p + i, 1);
		}
		add(out, "\"", 1);
		break;
	case 1: { /* a number token: digits, signs, exponents, in any amount */
		add(out, "1", 1);
		for (size_t i = 0; i < n; i++) {
			char c = "0123456789eE+-.9"[p[i] & 15];
			add(out, &c, 1);
		}
		break;
	}
	case 2: { /* nesting: up to 4095 deep, past the decoder's 2048 (deeper costs time, not coverage) */
		size_t depth = n >= 2 ? ((size_t)p[0] << 8 | p[1]) & 4095 : n;
		for (size_t i = 0; i < depth; i++)
			add(out, i & 1 ? "{\"k\":" : "[", i & 1 ? 5 : 1);
		add(out, "0", 1);
		for (size_t i = depth; i-- > 0;)
			add(out, i & 1 ? "}" : "]", 1);
		break;
	}
	case 3: /* duplicate keys with string values from the bytes */
		add(out, "{\"d\":", 5);
		fuzz_hostile_value(p, n / 2, out);
		add(out, ",\"d\":", 5);
		fuzz_hostile_value(p + n / 2, n - n / 2, out);
		add(out, "}", 1);
		break;
	default: /* \u escapes from the bytes: surrogates, NUL, controls, reversed pairs */
		add(out, "\"", 1);
		for (size_t i = 0; i + 1 < n; i += 2) {
			char u[8];
			static const char hex[] = "0123456789abcdef";
			unsigned v = (unsigned)p[i] << 8 | p[i + 1];
			u[0] = '\\', u[1] = 'u', u[2] = hex[v >> 12], u[3] = hex[(v >> 8) & 15],
			u[4] = hex[(v >> 4) & 15], u[5] = hex[v & 15];
			add(out, u, 6);
		}
		add(out, "\"", 1);
	}
}

void fuzz_hostile_object(const char *name, const char *rv, const uint8_t *data, size_t size, sbuf *out)
{
	if (sbuf_addf(out,
		      "{\"apiVersion\":\"v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\","
		      "\"resourceVersion\":\"%s\"},\"spec\":{\"v\":",
		      name, rv))
		abort();
	fuzz_hostile_value(data, size, out);
	add(out, "}}", 2);
}
