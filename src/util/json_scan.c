#include "util/json_scan.h"

#include <string.h>

static size_t skip_ws(const char *buf, size_t len, size_t i)
{
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	return i;
}

size_t json_scan_string_end(const char *buf, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (buf[i] == '\\')
			i++;
		else if (buf[i] == '"')
			return i + 1;
	}
	return len + 1;
}

static bool is_delim(char c)
{
	return c == ',' || c == ']' || c == '}' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '"' || c == '[' || c == '{';
}

int json_scan_value(const char *buf, size_t len, size_t pos, json_span *ret)
{
	size_t i = skip_ws(buf, len, pos);
	if (i >= len)
		return -1;
	size_t start = i;
	char c = buf[i];
	if (c == '"') {
		i = json_scan_string_end(buf, len, i);
		if (i > len)
			return -1;
	} else if (c == '{' || c == '[') {
		size_t depth = 0;
		for (; i < len; i++) {
			char x = buf[i];
			if (x == '"') {
				i = json_scan_string_end(buf, len, i);
				if (i > len)
					return -1;
				i--; /* the loop's i++ */
			} else if (x == '{' || x == '[') {
				depth++;
			} else if (x == '}' || x == ']') {
				if (depth == 0)
					return -1;
				if (--depth == 0) {
					i++;
					break;
				}
			}
		}
		if (depth)
			return -1;
	} else if (c == '}' || c == ']' || c == ',' || c == ':') {
		return -1;
	} else {
		while (i < len && !is_delim(buf[i]))
			i++;
	}
	ret->start = start;
	ret->end = i;
	return 0;
}

/* Walks the members (object) or elements (array) of the container at span; fn gets key span (objects) and value span. */
typedef int (*walk_fn)(void *ud, const json_span *key, json_span value);

static int walk(const char *buf, json_span c, char open, walk_fn fn, void *ud)
{
	if (c.end <= c.start + 1 || buf[c.start] != open)
		return -1;
	char close = open == '{' ? '}' : ']';
	size_t end = c.end - 1; /* the closing bracket */
	if (buf[end] != close)
		return -1;
	size_t i = skip_ws(buf, end, c.start + 1);
	if (i == end)
		return 0;
	for (;;) {
		json_span key, value;
		if (open == '{') {
			i = skip_ws(buf, end, i);
			if (i >= end || buf[i] != '"' || json_scan_value(buf, end, i, &key))
				return -1;
			i = skip_ws(buf, end, key.end);
			if (i >= end || buf[i] != ':')
				return -1;
			i++;
		}
		if (json_scan_value(buf, end, i, &value))
			return -1;
		int r = fn(ud, open == '{' ? &key : NULL, value);
		if (r)
			return r;
		i = skip_ws(buf, end, value.end);
		if (i == end)
			return 0;
		if (buf[i] != ',')
			return -1;
		i++;
	}
}

typedef struct find_member {
	const char *buf;
	const char *key;
	size_t key_len;
	json_span found;
	bool have;
} find_member;

static int on_member(void *ud, const json_span *key, json_span value)
{
	find_member *f = ud;
	/* Keys we look for are plain ASCII: compare the raw token (an escaped spelling is not matched). */
	if (key->end - key->start == f->key_len + 2 && !memcmp(f->buf + key->start + 1, f->key, f->key_len)) {
		f->found = value; /* the last of duplicate keys wins, as in the decoder */
		f->have = true;
	}
	return 0;
}

int json_scan_member(const char *buf, json_span obj, const char *key, json_span *ret)
{
	find_member f = { buf, key, strlen(key), { 0, 0 }, false };
	if (walk(buf, obj, '{', on_member, &f) || !f.have)
		return -1;
	*ret = f.found;
	return 0;
}

typedef struct each_element {
	int (*fn)(void *ud, json_span element);
	void *ud;
} each_element;

static int on_element(void *ud, const json_span *key, json_span value)
{
	(void)key;
	each_element *e = ud;
	return e->fn(e->ud, value);
}

int json_scan_elements(const char *buf, json_span arr, int (*fn)(void *ud, json_span element), void *ud)
{
	each_element e = { fn, ud };
	return walk(buf, arr, '[', on_element, &e);
}

int json_scan_hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

int json_scan_string(const char *buf, json_span s, char *out, size_t outlen)
{
	if (!outlen || s.end < s.start + 2 || buf[s.start] != '"' || buf[s.end - 1] != '"')
		return -1;
	size_t n = 0, end = s.end - 1;
	for (size_t i = s.start + 1; i < end; i++) {
		unsigned char c = (unsigned char)buf[i];
		unsigned cp;
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (c != '\\') {
			if (n + 1 >= outlen)
				return -1;
			out[n++] = (char)c;
			continue;
		}
		if (++i >= end)
			return -1;
		switch (buf[i]) {
		case '"': cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/': cp = '/'; break;
		case 'u':
			if (end - i < 5 || json_scan_hex4(buf + i + 1, &cp))
				return -1;
			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo;
				if (end - i < 7 || buf[i + 1] != '\\' || buf[i + 2] != 'u' ||
				    json_scan_hex4(buf + i + 3, &lo) || lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i += 6;
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				return -1;
			}
			break;
		default: return -1; /* \b \f \n \r \t: control characters; anything else: not JSON */
		}
		if (cp < 0x20 || cp == 0x7f)
			return -1;
		char u[4];
		size_t k;
		if (cp < 0x80) {
			u[0] = (char)cp, k = 1;
		} else if (cp < 0x800) {
			u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), k = 2;
		} else if (cp < 0x10000) {
			u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
			u[2] = (char)(0x80 | (cp & 0x3F)), k = 3;
		} else {
			u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
			u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), k = 4;
		}
		if (n + k >= outlen)
			return -1;
		memcpy(out + n, u, k);
		n += k;
	}
	out[n] = '\0';
	return 0;
}
