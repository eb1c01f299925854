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

/* Adds pools to jpools ("servers", "protocol", "server_timeout") and "PoolRoute|NAME" to routes. 0, or -1 with err. */
static int add_pools(json_t *jpools, json_t *routes, const mcrouter_pool *pools, size_t n, const mcrouter_options *o,
		     char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const mcrouter_pool *p = &pools[i];
		if (!pool_name_valid(p->name) || json_object_get(jpools, p->name)) {
			snprintf(err, errlen, "bad or duplicate pool name '%.60s'", p->name ? p->name : "");
			return -1;
		}
		if (!p->n_servers) {
			snprintf(err, errlen, "pool '%s' has no servers", p->name);
			return -1;
		}
		json_t *servers = json_array();
		for (size_t k = 0; k < p->n_servers; k++) {
			if (!mcrouter_server_valid(p->servers[k])) {
				snprintf(err, errlen, "pool '%s': bad server '%.80s'", p->name, p->servers[k]);
				json_decref(servers);
				return -1;
			}
			json_array_append_new(servers, json_string(p->servers[k]));
		}
		char route[80];
		snprintf(route, sizeof route, "PoolRoute|%s", p->name);
		/* Fail closed: a server or pool lost to a failed allocation would silently move keys. */
		if (json_array_size(servers) != p->n_servers) {
			json_decref(servers);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (json_object_set_new(jpools, p->name,
					json_pack("{s:o, s:s, s:i}", "servers", servers, "protocol", "ascii",
						  "server_timeout", o->server_timeout_ms)) ||
		    json_array_append_new(routes, json_string(route))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* The read policy over children (a new reference; NULL: no memory), named "reads". */
static json_t *read_handle(json_t *children, size_t n, const mcrouter_options *o)
{
	json_t *reads =
		json_pack("{s:s, s:s, s:O}", "type", read_routes[o->read], "name", "reads", "children", children);
	if (reads && o->read == MC_READ_LATEST &&
	    (json_object_set_new(reads, "failover_count", json_integer((json_int_t)n)) ||
	     json_object_set_new(reads, "thread_local_failover", json_true()) ||
	     json_object_set_new(reads, "failover_errors",
				 json_pack("[s, s, s, s]", "connect_timeout", "timeout", "connect_error", "tko")))) {
		json_decref(reads);
		return NULL; /* never a read route without its failover */
	}
	return reads;
}

/* The write policy over routes: the one route itself when there is one (a new reference; NULL: no memory). */
static json_t *write_branch(json_t *routes, const mcrouter_options *o)
{
	if (json_array_size(routes) == 1)
		return json_incref(json_array_get(routes, 0));
	return json_pack("{s:s, s:O}", "type", write_routes[o->write], "children", routes);
}

/* The top route: reads (get, gets, lease-get, metaget, cas) and writes (everything else) by name. */
static json_t *operation_selector(void)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "type", "OperationSelectorRoute", "default_policy",
			 "writes", "operation_policies", "get", "reads", "gets", "reads", "lease-get", "reads",
			 "metaget", "reads", "cas", "reads");
}

static json_t *named(json_t *route, const char *name);

static bool migrating(const mcrouter_migration *m, size_t n_pools)
{
	if (!m)
		return false;
	for (size_t k = 0; m->warm_from && k < n_pools; k++)
		if (m->warm_from[k])
			return true;
	return m->n_old > 0;
}

static json_t *plain_config(json_t *jpools, json_t *children, size_t n_pools, const mcrouter_options *o)
{
	if (n_pools == 1)
		/* Sharded only: every operation to the one pool. */
		return json_pack("{s:O, s:{s:s, s:O}}", "pools", jpools, "route", "type", "OperationSelectorRoute",
				 "default_policy", json_array_get(children, 0));
	return json_pack("{s:O, s:[o, o], s:o}", "pools", jpools, "named_handles", read_handle(children, n_pools, o),
			 named(write_branch(children, o), "writes"), "route", operation_selector());
}

/* Whether name is one of the pools. */
static bool has_pool(const mcrouter_pool *pools, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(pools[i].name, name))
			return true;
	return false;
}

/*
 * route (stolen) as a named handle: an object gets "name" (a copy of it), a
 * "PoolRoute|..." string is wrapped in a one-child FailoverRoute. New
 * reference, or NULL (no memory).
 */
static json_t *named(json_t *route, const char *name)
{
	json_t *h = json_is_string(route) ? json_pack("{s:s, s:[O]}", "type", "FailoverRoute", "children", route)
					  : json_deep_copy(route);
	json_decref(route);
	if (h && json_object_set_new(h, "name", json_string(name))) {
		json_decref(h);
		return NULL;
	}
	return h;
}

/* Writes: the write policy over the routed pools and, when there are old pools, over them too, both synchronously. */
static json_t *write_handle(json_t *routed, json_t *old_routes, const mcrouter_options *o)
{
	if (!json_array_size(old_routes))
		return write_branch(routed, o);
	return json_pack("{s:s, s:[o, o]}", "type", "AllSyncRoute", "children", write_branch(routed, o),
			 write_branch(old_routes, o));
}

/*
 * The cold side of a pool warmed from the old layout: reads (and cas) from
 * the pool itself, anything else — the warm-up's `add` of a value found in
 * the old layout — to every pool in fill (the new layout's pools) at once.
 * Otherwise a value would reach only the replica pool it was read through,
 * and after the window reads through another pool (mcrouter spreads them by
 * proxy thread) would miss it. One pool: the pool itself. New reference.
 */
static json_t *fill_all(json_t *route, json_t *fill)
{
	if (json_array_size(fill) < 2)
		return json_incref(route);
	return json_pack("{s:s, s:{s:s, s:O}, s:{s:O, s:O, s:O, s:O, s:O}}", "type", "OperationSelectorRoute",
			 "default_policy", "type", "AllSyncRoute", "children", fill, "operation_policies", "get", route,
			 "gets", route, "lease-get", route, "metaget", route, "cas", route);
}

static json_t *migration_config(json_t *jpools, json_t *routed, json_t *old_routes, const mcrouter_pool *pools,
				size_t n_pools, const mcrouter_migration *m, const mcrouter_options *o, char *err,
				size_t errlen)
{
	/* The routed pools warmed from the old layout: each copy goes to all of them. */
	json_t *fill = json_array();
	for (size_t k = 0; fill && k < n_pools; k++) {
		const char *from = m->warm_from ? m->warm_from[k] : NULL;
		if (from && has_pool(m->old, m->n_old, from) && json_array_append(fill, json_array_get(routed, k))) {
			json_decref(fill);
			fill = NULL;
		}
	}
	json_t *children = fill ? json_array() : NULL;
	for (size_t k = 0; children && k < n_pools; k++) {
		const char *from = m->warm_from ? m->warm_from[k] : NULL;
		json_t *child;
		if (!from) {
			child = json_incref(json_array_get(routed, k));
		} else {
			if (!strcmp(from, pools[k].name) ||
			    !(has_pool(pools, n_pools, from) || has_pool(m->old, m->n_old, from))) {
				snprintf(err, errlen, "pool '%s' cannot be warmed from '%.60s'", pools[k].name, from);
				json_decref(children);
				json_decref(fill);
				return NULL;
			}
			char warm[80];
			snprintf(warm, sizeof warm, "PoolRoute|%s", from);
			json_t *cold = has_pool(m->old, m->n_old, from) ? fill_all(json_array_get(routed, k), fill)
									: json_incref(json_array_get(routed, k));
			child = json_pack("{s:s, s:o, s:s, s:i}", "type", "WarmUpRoute", "cold", cold, "warm", warm,
					  "exptime", m->warm_exptime_s);
		}
		if (json_array_append_new(children, child)) {
			json_decref(children);
			children = NULL;
		}
	}
	json_t *reads = NULL;
	if (children && n_pools == 1) {
		json_t *only = json_array_get(children, 0);
		reads = named(json_incref(only), "reads");
	} else if (children) {
		reads = read_handle(children, n_pools, o);
	}
	json_decref(children);
	json_decref(fill);
	return json_pack("{s:O, s:[o, o], s:o}", "pools", jpools, "named_handles", reads,
			 named(write_handle(routed, old_routes, o), "writes"), "route", operation_selector());
}

char *mcrouter_config_render(const mcrouter_pool *pools, size_t n_pools, const mcrouter_options *o, char *err,
			     size_t errlen)
{
	return mcrouter_config_render_migration(pools, n_pools, NULL, o, err, errlen);
}

char *mcrouter_config_render_migration(const mcrouter_pool *pools, size_t n_pools, const mcrouter_migration *m,
				       const mcrouter_options *o, char *err, size_t errlen)
{
	if (!n_pools) {
		snprintf(err, errlen, "no pools");
		return NULL;
	}
	if ((unsigned)o->read > MC_READ_RANDOM || (unsigned)o->write > MC_WRITE_ALLASYNC || o->server_timeout_ms <= 0) {
		snprintf(err, errlen, "bad routing options");
		return NULL;
	}
	bool migration = migrating(m, n_pools);
	if (migration && m->warm_exptime_s <= 0) {
		snprintf(err, errlen, "warm-up needs an exptime");
		return NULL;
	}
	json_t *jpools = json_object(), *routed = json_array(), *old_routes = json_array();
	json_t *config = NULL;
	err[0] = 0;
	if (!jpools || !routed || !old_routes)
		snprintf(err, errlen, "out of memory");
	else if (!add_pools(jpools, routed, pools, n_pools, o, err, errlen) &&
		 (!migration || !add_pools(jpools, old_routes, m->old, m->n_old, o, err, errlen)))
		config = migration ? migration_config(jpools, routed, old_routes, pools, n_pools, m, o, err, errlen)
				   : plain_config(jpools, routed, n_pools, o);
	json_decref(jpools);
	json_decref(routed);
	json_decref(old_routes);
	char *text = config ? json_encode(config, JSON_SORT_KEYS | JSON_INDENT(2)) : NULL;
	json_decref(config);
	if (!text && !err[0])
		snprintf(err, errlen, "out of memory");
	return text;
}
