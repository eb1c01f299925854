/*
 * libFuzzer harness: EndpointSlices -> mcrouter servers. The input is JSON
 * {"proxy": MemcachedProxy, "service": Service, "slices": [EndpointSlice...]}
 * (any part may be missing or malformed). The mapper must not crash; every
 * server it returns is a valid, unique "host:port"; and a non-empty list
 * builds a config that passes fuzz_check with exactly those servers.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mcrouter_config.h"
#include "core/proxy.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return 0;
	}
	json_t *proxy = json_object_get(doc, "proxy");
	json_t *fallback = NULL;
	if (!proxy)
		proxy = fallback =
			json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "apiVersion", "memshack.io/v1alpha1",
				  "kind", "MemcachedProxy", "metadata", "name", "p", "namespace", "ns", "spec",
				  "serviceName", "memcached", "servicePort", "memcache");
	char err[512], why[512];
	proxy_spec *p = NULL;
	if (proxy_spec_parse(proxy, &p, err, sizeof err) == 0) {
		json_t *slices = json_object_get(doc, "slices");
		json_t *servers = NULL;
		why[0] = '\0';
		proxy_servers_result r =
			proxy_servers(p, json_object_get(doc, "service"), json_is_array(slices) ? slices : NULL,
				      "cluster.local", &servers, why, sizeof why);
		if ((r == PROXY_SERVERS_OK || r == PROXY_NO_ENDPOINTS) != (servers != NULL))
			abort();
		size_t i, j;
		json_t *s;
		json_array_foreach (servers, i, s) {
			const char *str = json_string_value(s);
			if (!str || !mcrouter_server_valid(str))
				abort();
			for (j = 0; j < i; j++)
				if (!strcmp(str, json_string_value(json_array_get(servers, j))))
					abort(); /* duplicates */
		}
		if (servers && json_array_size(servers)) {
			proxy_desired d;
			if (proxy_desired_build(p, servers, &(gateway_env){ .cluster_domain = "cluster.local" }, &d,
						err, sizeof err))
				abort();
			fuzz_check_mcrouter_config(d.config_text, json_array_size(servers));
			proxy_desired_release(&d);
		}
		json_decref(servers);
		proxy_spec_free(p);
	}
	json_decref(fallback);
	json_decref(doc);
	return 0;
}
