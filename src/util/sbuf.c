#include "util/sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char sbuf_empty_[1];

void sbuf_init(sbuf *sb)
{
	sb->buf = sbuf_empty_;
	sb->len = 0;
	sb->cap = 0;
	sb->limit = 0;
}

void sbuf_release(sbuf *sb)
{
	size_t limit = sb->limit;
	if (sb->cap)
		free(sb->buf);
	sbuf_init(sb);
	sb->limit = limit;
}

char *sbuf_detach(sbuf *sb)
{
	char *out = sb->cap ? sb->buf : strdup("");
	size_t limit = sb->limit;
	sbuf_init(sb);
	sb->limit = limit;
	return out;
}

static int sbuf_grow(sbuf *sb, size_t extra)
{
	if (extra > (size_t)-1 / 2 - sb->len)
		return -1;
	size_t need = sb->len + extra + 1;
	if (sb->limit && need - 1 > sb->limit)
		return -1;
	if (need <= sb->cap)
		return 0;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	char *nb = realloc(sb->cap ? sb->buf : NULL, cap);
	if (!nb)
		return -1;
	if (!sb->cap)
		nb[0] = '\0';
	sb->buf = nb;
	sb->cap = cap;
	return 0;
}

int sbuf_add(sbuf *sb, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (sbuf_grow(sb, len))
		return -1;
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
	return 0;
}

int sbuf_adds(sbuf *sb, const char *s)
{
	return sbuf_add(sb, s, strlen(s));
}

int sbuf_addch(sbuf *sb, char c)
{
	return sbuf_add(sb, &c, 1);
}

int sbuf_vaddf(sbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || sbuf_grow(sb, (size_t)n))
		return -1;
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return 0;
}

int sbuf_addf(sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = sbuf_vaddf(sb, fmt, ap);
	va_end(ap);
	return r;
}

int sbuf_add_urlencoded(sbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t old = sb->len;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int r;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_' || *p == '.' || *p == '~') {
			r = sbuf_addch(sb, (char)*p);
		} else {
			char enc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			r = sbuf_add(sb, enc, 3);
		}
		if (r) {
			sb->len = old;
			if (sb->cap)
				sb->buf[old] = '\0';
			return -1;
		}
	}
	return 0;
}

void sbuf_reset(sbuf *sb)
{
	sb->len = 0;
	if (sb->cap)
		sb->buf[0] = '\0';
}

void sbuf_consume(sbuf *sb, size_t n)
{
	if (n >= sb->len) {
		sbuf_reset(sb);
		return;
	}
	memmove(sb->buf, sb->buf + n, sb->len - n);
	sb->len -= n;
	sb->buf[sb->len] = '\0';
}
