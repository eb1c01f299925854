#include "fuzz_check.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mcrouter_config.h"

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_check: %s: %s\n", what, detail ? detail : "");
	abort();
}

static void check_string(const char *s)
{
	if (s[0] == '@' || strchr(s, '%'))
		fail("macro or substitution characters in the config", s);
}

static void walk(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach (v, k, x) {
			check_string(k);
			walk(x);
		}
		break;
	case JSON_ARRAY:
		json_array_foreach (v, i, x)
			walk(x);
		break;
	case JSON_STRING: check_string(json_string_value(v)); break;
	default: break;
	}
}

size_t fuzz_check_mcrouter_config(const char *text, size_t want_servers)
{
	json_error_t e;
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	if (!doc)
		fail("config is not valid JSON", e.text);
	json_t *pools = json_object_get(doc, "pools");
	if (!json_is_object(pools) || !json_object_size(pools))
		fail("config has no pools", NULL);
	if (!json_object_get(doc, "route"))
		fail("config has no route", NULL);
	walk(doc);
	size_t n = 0, i;
	const char *name;
	json_t *pool, *server;
	json_object_foreach (pools, name, pool) {
		json_t *servers = json_object_get(pool, "servers");
		if (!json_is_array(servers) || !json_array_size(servers))
			fail("a pool without servers", name);
		json_array_foreach (servers, i, server) {
			const char *s = json_string_value(server);
			if (!s || !mcrouter_server_valid(s))
				fail("invalid server string", s);
			n++;
		}
	}
	if (want_servers ? n != want_servers : n == 0) {
		char d[64];
		snprintf(d, sizeof d, "%zu servers, want %zu", n, want_servers);
		fail("server count", d);
	}
	json_decref(doc);
	return n;
}
