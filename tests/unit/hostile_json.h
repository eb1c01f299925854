/*
 * Hostile JSON for the per-object decoding tests (test_decode, test_watch):
 * spec payloads covering every decode failure of issue 13, and helpers that
 * wrap them into Memshack objects. Header-only; each helper's result is
 * malloc'd and the caller frees it.
 */
#ifndef MEMSHACK_TESTS_HOSTILE_JSON_H
#define MEMSHACK_TESTS_HOSTILE_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hostile_payload {
	const char *name;
	const char *spec;       /* JSON text of spec; NULL: built by the test (deep nesting) */
	bool decodes;           /* the lenient decoder reads it */
	const char *spec_error; /* a substring of the spec parser's message; NULL: valid */
} hostile_payload;

static const hostile_payload hostile_payloads[] = {
	{ "nul-in-arg", "{\"memcached\":{\"extraArgs\":[\"-v\\u0000--port=1\"]}}", true,
	  "spec.memcached.extraArgs[0]" },
	{ "nul-in-image", "{\"memcachedImage\":\"memcached:1.6\\u0000evil\"}", true,
	  "spec.memcachedImage: must not contain" },
	{ "escaped-control", "{\"mcrouterImage\":\"mcrouter\\u0001\"}", true, "spec.mcrouterImage: must not contain" },
	{ "escaped-del", "{\"mcrouterImage\":\"mcrouter\\u007f\"}", true, "spec.mcrouterImage: must not contain" },
	{ "escaped-tab", "{\"memcached\":{\"maxItemSize\":\"1m\\t\"}}", true,
	  "spec.memcached.maxItemSize: must not contain" },
	{ "raw-control-byte", "{\"memcachedImage\":\"a\x01\"}", true, "spec.memcachedImage: must not contain" },
	{ "nul-in-key", "{\"memcached\":{\"extra\\u0000Args\":[]}}", true, "spec.memcached" },
	{ "lone-high-surrogate", "{\"memcachedImage\":\"\\ud800\"}", true, "spec.memcachedImage" },
	{ "lone-low-surrogate", "{\"memcachedImage\":\"x\\udfff\"}", true, "spec.memcachedImage" },
	{ "reversed-surrogates", "{\"mcrouterImage\":\"\\udc00\\ud800\"}", true, "spec.mcrouterImage" },
	{ "invalid-utf8", "{\"memcachedImage\":\"mem\xff\xfe\"}", true, "spec.memcachedImage" },
	{ "overlong-utf8", "{\"memcachedImage\":\"\xc0\xaf\"}", true, "spec.memcachedImage" },
	{ "truncated-utf8", "{\"memcachedImage\":\"\xe2\x82\"}", true, "spec.memcachedImage" },
	{ "int-beyond-64-bits", "{\"numShards\":123456789012345678901234567890}", true, "spec.numShards" },
	{ "negative-int-beyond-64-bits", "{\"numShards\":-123456789012345678901234567890}", true, "spec.numShards" },
	{ "float-beyond-double", "{\"numShards\":1e400}", true, "spec.numShards" },
	{ "negative-float-beyond-double", "{\"mcrouterPort\":-2.5E+999}", true, "spec.mcrouterPort" },
	{ "int-of-400-digits",
	  "{\"numShards\":"
	  "1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000}",
	  true, "spec.numShards" },
	{ "duplicate-keys", "{\"numShards\":1000,\"numShards\":2}", true, NULL },
	{ "bad-escape", "{\"memcachedImage\":\"a\\qb\"}", true, "spec.memcachedImage" },
	{ "broken-inside", "{\"numShards\":,\"x\":tru}", false, NULL },
	{ "nested-1000", NULL, true, "spec: unknown field" },
	{ "nested-3000", NULL, false, NULL },
};
static const size_t hostile_n_payloads = sizeof hostile_payloads / sizeof *hostile_payloads;

/* "[[[...]]]" n deep. */
static inline char *hostile_deep(size_t n)
{
	char *s = malloc(2 * n + 1);
	if (!s)
		abort();
	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\0';
	return s;
}

/* A Memshack ns/name at resourceVersion rv with spec (JSON text; NULL: the named deep payload). */
static inline char *hostile_object_for(const hostile_payload *h, const char *name, const char *rv)
{
	char *deep = NULL;
	const char *spec = h->spec;
	if (!spec) {
		size_t depth = strstr(h->name, "3000") ? 3000 : 1000;
		char *d = hostile_deep(depth);
		deep = malloc(strlen(d) + 16);
		if (!deep)
			abort();
		sprintf(deep, "{\"x\":%s}", d);
		free(d);
		spec = deep;
	}
	size_t n = strlen(spec) + strlen(name) * 2 + strlen(rv) + 256;
	char *s = malloc(n);
	if (!s)
		abort();
	snprintf(s, n,
		 "{\"apiVersion\":\"memshack.io/v1alpha1\",\"kind\":\"Memshack\",\"metadata\":{\"name\":\"%s\","
		 "\"namespace\":\"ns\",\"uid\":\"uid-%s\",\"resourceVersion\":\"%s\",\"generation\":1},\"spec\":%s}",
		 name, name, rv, spec);
	free(deep);
	return s;
}

static inline char *hostile_object(const char *name, const char *rv, const char *spec)
{
	hostile_payload h = { "custom", spec, true, NULL };
	return hostile_object_for(&h, name, rv);
}

#endif
