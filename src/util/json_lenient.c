#include "util/json_lenient.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_scan.h"
#include "util/sbuf.h"

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t k;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		k = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		k = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		k = 4, cp = c & 0x07;
	else
		return 0;
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return k;
}

/* Whether the string token ending just before `after` is an object key (next non-space byte is ':'). */
static bool is_key(const char *buf, size_t len, size_t after)
{
	while (after < len && (buf[after] == ' ' || buf[after] == '\t' || buf[after] == '\n' || buf[after] == '\r'))
		after++;
	return after < len && buf[after] == ':';
}

/* The end of the string token opening at i (index past its closing quote), or len when unterminated. */
static size_t string_end(const char *buf, size_t len, size_t i)
{
	size_t end = json_scan_string_end(buf, len, i);
	return end > len ? len : end;
}

/* Copies the string token [i, end) repaired. Returns -1 when out of memory. */
static int repair_string(sbuf *o, const char *buf, size_t i, size_t end, bool key)
{
	if (sbuf_addch(o, '"'))
		return -1;
	size_t stop = end > i + 1 && buf[end - 1] == '"' ? end - 1 : end;
	int rc = 0;
	for (i++; i < stop && !rc;) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\\') {
			unsigned cp = 0, lo = 0;
			if (i + 1 >= stop) {
				rc = sbuf_add(o, replacement, 3);
				i++;
			} else if (buf[i + 1] != 'u') {
				if (strchr("\"\\/bfnrt", buf[i + 1]))
					rc = sbuf_add(o, buf + i, 2);
				else
					rc = sbuf_add(o, replacement, 3); /* "\x": not an escape */
				i += 2;
			} else if (stop - i < 6 || json_scan_hex4(buf + i + 2, &cp)) {
				rc = sbuf_add(o, replacement, 3);
				i += 2;
			} else if (cp >= 0xD800 && cp <= 0xDBFF && stop - i >= 12 && buf[i + 6] == '\\' &&
				   buf[i + 7] == 'u' && !json_scan_hex4(buf + i + 8, &lo) && lo >= 0xDC00 &&
				   lo <= 0xDFFF) {
				rc = sbuf_add(o, buf + i, 12); /* a valid pair */
				i += 12;
			} else if (cp >= 0xD800 && cp <= 0xDFFF) {
				rc = sbuf_adds(o, "\\uFFFD"); /* lone or reversed surrogate */
				i += 6;
			} else if (cp == 0 && key) {
				rc = sbuf_adds(o, "\\uFFFD"); /* jansson holds no NUL in a key */
				i += 6;
			} else {
				rc = sbuf_add(o, buf + i, 6);
				i += 6;
			}
		} else if (c < 0x20 || c == 0x7f) {
			rc = key && c == 0 ? sbuf_adds(o, "\\uFFFD") : sbuf_addf(o, "\\u%04x", c);
			i++;
		} else {
			size_t k = utf8_len((const unsigned char *)buf + i, stop - i);
			rc = k ? sbuf_add(o, buf + i, k) : sbuf_add(o, replacement, 3);
			i += k ? k : 1;
		}
	}
	return rc || sbuf_addch(o, '"') ? -1 : 0;
}

/* Copies the number token [i, end): kept if jansson can hold it, widened to a real, or quoted. */
static int repair_number(sbuf *o, const char *buf, size_t i, size_t end)
{
	size_t n = end - i;
	char small[64];
	char *tok = n < sizeof small ? small : malloc(n + 1);
	if (!tok)
		return -1;
	memcpy(tok, buf + i, n);
	tok[n] = '\0';
	bool real = strpbrk(tok, ".eE") != NULL;
	int rc;
	errno = 0;
	if (!real) {
		(void)strtoll(tok, NULL, 10);
		if (errno != ERANGE) {
			rc = sbuf_add(o, tok, n);
			goto out;
		}
	}
	errno = 0;
	double d = strtod(tok, NULL);
	if (isfinite(d) && !(errno == ERANGE && fabs(d) > 1))
		rc = real ? sbuf_add(o, tok, n) : sbuf_addf(o, "%s.0", tok);
	else
		rc = sbuf_addf(o, "\"%s\"",
			       tok); /* beyond a double: the spec parser refuses a string where a number belongs */
out:
	if (tok != small)
		free(tok);
	return rc;
}

char *json_repair(const char *buf, size_t len, size_t *ret_len)
{
	sbuf o;
	sbuf_init(&o);
	int rc = 0;
	for (size_t i = 0; i < len && !rc;) {
		char c = buf[i];
		if (c == '"') {
			size_t end = string_end(buf, len, i);
			rc = repair_string(&o, buf, i, end, is_key(buf, len, end));
			i = end;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t end = i + 1;
			while (end < len && strchr("0123456789+-.eE", buf[end]))
				end++;
			rc = repair_number(&o, buf, i, end);
			i = end;
		} else {
			rc = sbuf_addch(&o, c);
			i++;
		}
	}
	if (rc) {
		sbuf_release(&o);
		return NULL;
	}
	*ret_len = o.len;
	return sbuf_detach(&o);
}

json_t *json_loadb_lenient(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	json_error_t e;
	json_t *doc = json_loadb(buf, len, flags | JSON_ALLOW_NUL, &e);
	if (!doc) {
		json_error_t first = e;
		size_t rlen = 0;
		char *fixed = json_repair(buf, len, &rlen);
		if (fixed) {
			doc = json_loadb(fixed, rlen, flags | JSON_ALLOW_NUL, &e);
			free(fixed);
		}
		if (!doc)
			e = first; /* report what was wrong with the text as sent */
	}
	if (!doc && err) {
		/* jansson quotes the text near the error: keep the message printable ASCII (a JSON string, a log line). */
		for (char *c = e.text; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
		*err = e;
	}
	return doc;
}

const char *json_string_clean(const json_t *v)
{
	const char *s = json_string_value(v);
	if (!s)
		return NULL;
	size_t n = json_string_length(v);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return NULL;
	}
	return s;
}
