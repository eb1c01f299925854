/*
 * mcrouter_config — the mcrouter configuration for sharded and replicated
 * pools, in one hop. Pure and deterministic (sorted keys, fixed indentation),
 * so the same input always gives the same text and md5.
 *
 * One pool per replica set, servers in shard (ordinal) order — the order is
 * the consistent-hashing ring. Routing is an OperationSelectorRoute with
 * default_policy always set:
 *   - one pool (sharded only): every operation to PoolRoute|<pool>;
 *   - several pools: writes to all pools through the write policy
 *     (AllSyncRoute ...), reads (get, gets, lease-get, metaget) to one pool
 *     through the read policy (LatestRoute ...), and cas through the read
 *     route too, never through an All* route: a cas token is valid only on
 *     the server that issued it.
 * Server strings are validated ("host:port", host letters, digits, '.', '-',
 * or [IPv6]) so nothing a user wrote can become an mcrouter macro (@...)
 * or substitution (%...%).
 */
#ifndef MEMSHACK_CORE_MCROUTER_CONFIG_H
#define MEMSHACK_CORE_MCROUTER_CONFIG_H

#include <stddef.h>

#include "core/memshack_spec.h"

typedef struct mcrouter_pool {
	const char *name;           /* [a-z0-9_-]+ */
	const char *const *servers; /* n_servers "host:port" strings, in ring order */
	size_t n_servers;
} mcrouter_pool;

typedef struct mcrouter_options {
	mc_read_policy read;
	mc_write_policy write;
	int server_timeout_ms; /* > 0 */
} mcrouter_options;

/* Whether s is an acceptable "host:port" / "[v6]:port" server string. */
bool mcrouter_server_valid(const char *s);

/*
 * The configuration as JSON text (caller frees), or NULL with a message in
 * err: no pools, an empty pool, a bad server or pool name. A pool with no
 * servers is an error: the caller decides what an empty membership means.
 */
char *mcrouter_config_render(const mcrouter_pool *pools, size_t n_pools, const mcrouter_options *o, char *err,
			     size_t errlen);

/*
 * A migration: the routed pools warmed from other pools while an old layout
 * lives on beside them (core/migration.h decides which).
 *   - old: pools of the layout being replaced. They are never read directly:
 *     only through warm-up. Every write (set, delete, incr, ... the default
 *     policy) reaches them too, through an AllSyncRoute over two branches:
 *     the write policy over the routed pools and the same policy over the
 *     old ones, so a value deleted or overwritten is never found there.
 *   - warm_from[k] (n_pools entries, or NULL: none) names the pool (routed
 *     or old) pool k is warmed from, or is NULL. Reads of a warmed pool go
 *     through a WarmUpRoute: the pool itself (cold) first, on a miss the
 *     warm pool, whose hit mcrouter copies into the cold pool with an `add`
 *     (never overwriting a newer value) and exptime warm_exptime_s.
 *   - cas keeps going through the read route: on a warmed pool mcrouter's
 *     WarmUpRoute answers gets from the cold pool (after copying), so the
 *     token is the cold server's; the old layout's copy is not updated by a
 *     cas (mcrouter cannot turn a cas into a delete there).
 * No old pools and no warm_from is exactly mcrouter_config_render.
 */
typedef struct mcrouter_migration {
	const mcrouter_pool *old;
	size_t n_old;
	const char *const *warm_from;
	int warm_exptime_s; /* > 0 when anything is warmed */
} mcrouter_migration;

/* mcrouter_config_render with a migration (m may be NULL). Caller frees; NULL with a message in err. */
char *mcrouter_config_render_migration(const mcrouter_pool *pools, size_t n_pools, const mcrouter_migration *m,
				       const mcrouter_options *o, char *err, size_t errlen);

#endif
