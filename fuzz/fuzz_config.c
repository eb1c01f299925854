/*
 * libFuzzer harness: the mcrouter config generator, driven by structure. The
 * bytes choose a Memshack's name, namespace, cluster domain (arbitrary bytes,
 * '@', '%', quotes and unicode included), shard and replica counts, policies
 * and timeout. Whatever the parser accepts must build, and the config must be
 * valid JSON whose servers are exactly numShards x numReplicas valid
 * "host:port" strings naming this Memshack's pods, with nothing mcrouter
 * would expand as a macro.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct bytes {
	const uint8_t *p;
	size_t n;
} bytes;

static unsigned take_byte(bytes *b)
{
	if (!b->n)
		return 0;
	b->n--;
	return *b->p++;
}

/* A string of up to `max` bytes, ended early by a 0 byte. */
static char *take_string(bytes *b, size_t max)
{
	char *s = calloc(max + 1, 1);
	size_t i = 0;
	while (i < max && b->n) {
		unsigned c = take_byte(b);
		if (!c)
			break;
		s[i++] = (char)c;
	}
	return s;
}

static bool utf8_ok(const char *s)
{
	json_t *t = json_string(s);
	json_decref(t);
	return t != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bytes b = { data, size };
	int shards = (int)take_byte(&b) % 70, replicas = (int)take_byte(&b) % 10;
	unsigned rp = take_byte(&b) % 5, wp = take_byte(&b) % 6, timeout = take_byte(&b) * 50;
	char *name = take_string(&b, 70), *ns = take_string(&b, 70), *domain = take_string(&b, 80);
	json_t *spec = json_pack("{s:i, s:i, s:i, s:{s:i}}", "numShards", shards, "numReplicas", replicas,
				 "mcrouterPoolSize", 2, "mcrouter", "serverTimeoutMs", (int)timeout);
	if (rp < 4)
		json_object_set_new(json_object_get(spec, "mcrouter"), "readPolicy",
				    json_string(mc_read_policy_names[rp]));
	if (wp < 5)
		json_object_set_new(json_object_get(spec, "mcrouter"), "writePolicy",
				    json_string(mc_write_policy_names[wp]));
	json_t *obj = json_pack("{s:s, s:s, s:{s:s?, s:s?}, s:o}", "apiVersion", MEMSHACK_API_VERSION, "kind",
				"Memshack", "metadata", "name", utf8_ok(name) ? name : NULL, "namespace",
				utf8_ok(ns) ? ns : NULL, "spec", spec);
	char err[512];
	memshack_spec *s = NULL;
	if (obj && memshack_spec_parse(obj, &s, err, sizeof err) == 0) {
		memshack_desired d;
		const char *dom = domain[0] ? domain : "cluster.local";
		if (memshack_desired_build(s, &(gateway_env){ .cluster_domain = dom }, &d, err, sizeof err) == 0) {
			size_t n = fuzz_check_mcrouter_config(d.config_text, (size_t)shards * (size_t)replicas);
			/* Every server is one of this Memshack's pods. */
			char prefix[200];
			snprintf(prefix, sizeof prefix, "\"%s-memshack-pool-", name);
			size_t found = 0;
			for (const char *p = d.config_text; (p = strstr(p, prefix)); p++)
				found++;
			if (found != n)
				abort();
			memshack_desired_release(&d);
		} else if (!strcmp(dom, "cluster.local")) {
			abort(); /* with a good domain, an accepted spec always builds */
		}
		memshack_spec_free(s);
	}
	json_decref(obj);
	free(name);
	free(ns);
	free(domain);
	return 0;
}
