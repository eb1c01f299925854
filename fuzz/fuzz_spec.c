/*
 * libFuzzer harness: the spec parsers and validators. The input is YAML or
 * JSON text (a Memshack or a MemcachedProxy, as a user or a pre-upgrade CRD
 * would let through); it goes through yaml_json_load, then both parsers.
 * Whatever a parser accepts must build children, and the mcrouter config
 * must pass fuzz_check (valid JSON, numShards x numReplicas valid servers,
 * nothing mcrouter would expand as a macro). A refusal must say why.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "core/proxy.h"
#include "fuzz_check.h"
#include "util/yaml_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	json_t *obj = yaml_json_load((const char *)data, size, err, sizeof err);
	if (!obj)
		return 0;
	memshack_spec *s = NULL;
	err[0] = '\0';
	if (memshack_spec_parse(obj, &s, err, sizeof err) == 0) {
		memshack_desired d;
		if (memshack_desired_build(s, &(gateway_env){ .cluster_domain = "cluster.local" }, &d, err, sizeof err))
			abort(); /* an accepted spec always builds */
		fuzz_check_mcrouter_config(d.config_text, (size_t)s->num_shards * (size_t)s->num_replicas);
		memshack_desired_release(&d);
		memshack_spec_free(s);
	} else if (!err[0]) {
		abort();
	}
	proxy_spec *p = NULL;
	err[0] = '\0';
	if (proxy_spec_parse(obj, &p, err, sizeof err) == 0) {
		json_t *servers =
			json_pack("[s, s]", "10.0.0.1:11211", "memcached-0.memcached.ns.svc.cluster.local:11211");
		proxy_desired d;
		if (proxy_desired_build(p, servers, &(gateway_env){ .cluster_domain = "cluster.local" }, &d, err,
					sizeof err))
			abort();
		fuzz_check_mcrouter_config(d.config_text, 2);
		proxy_desired_release(&d);
		json_decref(servers);
		proxy_spec_free(p);
	} else if (!err[0]) {
		abort();
	}
	json_decref(obj);
	return 0;
}
