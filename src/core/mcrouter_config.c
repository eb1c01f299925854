#include "core/mcrouter_config.h"
#include "util/json_encode.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const read_routes[] = { "LatestRoute", "FailoverRoute", "AllFastestRoute", "RandomRoute" };
static const char *const write_routes[] = { "AllSyncRoute", "AllMajorityRoute", "AllInitialRoute", "AllFastestRoute",
					    "AllAsyncRoute" };

bool mcrouter_server_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 300)
		return false;
	const char *colon;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close == s + 1 || close[1] != ':')
			return false;
		for (const char *p = s + 1; p < close; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') ||
			      *p == ':' || *p == '.'))
				return false;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s)
			return false;
		for (const char *p = s; p < colon; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			      *p == '.' || *p == '-'))
				return false;
		if (s[0] == '-' || s[0] == '.')
			return false;
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	return colon[1] && !*end && port >= 1 && port <= 65535;
}

static bool pool_name_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 63)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

char *mcrouter_config_render(const mcrouter_pool *pools, size_t n_pools, const mcrouter_options *o, char *err,
			     size_t errlen)
{
	if (!n_pools) {
		snprintf(err, errlen, "no pools");
		return NULL;
	}
	if ((unsigned)o->read > MC_READ_RANDOM || (unsigned)o->write > MC_WRITE_ALLASYNC || o->server_timeout_ms <= 0) {
		snprintf(err, errlen, "bad routing options");
		return NULL;
	}
	json_t *jpools = json_object();
	json_t *children = json_array();
	for (size_t i = 0; i < n_pools; i++) {
		const mcrouter_pool *p = &pools[i];
		if (!pool_name_valid(p->name) || json_object_get(jpools, p->name)) {
			snprintf(err, errlen, "bad or duplicate pool name '%.60s'", p->name ? p->name : "");
			goto fail;
		}
		if (!p->n_servers) {
			snprintf(err, errlen, "pool '%s' has no servers", p->name);
			goto fail;
		}
		json_t *servers = json_array();
		for (size_t k = 0; k < p->n_servers; k++) {
			if (!mcrouter_server_valid(p->servers[k])) {
				snprintf(err, errlen, "pool '%s': bad server '%.80s'", p->name, p->servers[k]);
				json_decref(servers);
				goto fail;
			}
			json_array_append_new(servers, json_string(p->servers[k]));
		}
		char route[80];
		snprintf(route, sizeof route, "PoolRoute|%s", p->name);
		/* Fail closed: a server or pool lost to a failed allocation would silently move keys. */
		if (json_array_size(servers) != p->n_servers) {
			json_decref(servers);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (json_object_set_new(jpools, p->name,
					json_pack("{s:o, s:s, s:i}", "servers", servers, "protocol", "ascii",
						  "server_timeout", o->server_timeout_ms)) ||
		    json_array_append_new(children, json_string(route))) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	json_t *config;
	if (n_pools == 1) {
		/* Sharded only: every operation to the one pool. */
		config = json_pack("{s:o, s:{s:s, s:O}}", "pools", jpools, "route", "type", "OperationSelectorRoute",
				   "default_policy", json_array_get(children, 0));
	} else {
		json_t *reads = json_pack("{s:s, s:s, s:O}", "type", read_routes[o->read], "name", "reads", "children",
					  children);
		if (reads && o->read == MC_READ_LATEST &&
		    (json_object_set_new(reads, "failover_count", json_integer((json_int_t)n_pools)) ||
		     json_object_set_new(reads, "thread_local_failover", json_true()) ||
		     json_object_set_new(
			     reads, "failover_errors",
			     json_pack("[s, s, s, s]", "connect_timeout", "timeout", "connect_error", "tko")))) {
			json_decref(reads);
			reads = NULL; /* the config below fails to build: never one without its failover */
		}
		json_t *writes = json_pack("{s:s, s:s, s:O}", "type", write_routes[o->write], "name", "writes",
					   "children", children);
		config = json_pack("{s:o, s:[o, o], s:{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}}", "pools", jpools,
				   "named_handles", reads, writes, "route", "type", "OperationSelectorRoute",
				   "default_policy", "writes", "operation_policies", "get", "reads", "gets", "reads",
				   "lease-get", "reads", "metaget", "reads", "cas", "reads");
	}
	json_decref(children);
	char *text = config ? json_encode(config, JSON_SORT_KEYS | JSON_INDENT(2)) : NULL;
	json_decref(config);
	if (!text)
		snprintf(err, errlen, "out of memory");
	return text;
fail:
	json_decref(jpools);
	json_decref(children);
	return NULL;
}
