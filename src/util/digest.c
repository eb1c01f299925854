#include "util/digest.h"
#include "util/json_encode.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void digest_md5_hex(const void *data, size_t len, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(data, len, md, &n, EVP_md5(), NULL))
		n = 0;
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < 16; i++) {
		out[2 * i] = i < n ? hex[md[i] >> 4] : '0';
		out[2 * i + 1] = i < n ? hex[md[i] & 15] : '0';
	}
	out[32] = '\0';
}

int digest_json_md5(json_t *v, char out[33])
{
	char *text = json_encode(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (!text) {
		memset(out, '0', 32);
		out[32] = '\0';
		return -1;
	}
	digest_md5_hex(text, strlen(text), out);
	free(text);
	return 0;
}
