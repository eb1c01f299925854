#include "util/base64.h"

#include <stdlib.h>

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, unsigned char **ret_out, size_t *ret_len)
{
	unsigned char *out = malloc(len / 4 * 3 + 4);
	if (!out)
		return -1;
	size_t n = 0, pad = 0;
	unsigned acc = 0, bits = 0, chars = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = b64_value(c);
		if (v < 0 || pad)
			goto bad; /* bad character, or data after padding */
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		chars++;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (chars % 4 == 1 || pad > 2 || (pad && (chars + pad) % 4 != 0))
		goto bad;
	out[n] = '\0';
	*ret_out = out;
	*ret_len = n;
	return 0;
bad:
	free(out);
	return -1;
}
