/*
 * migration — warm resharding and warm replica pools: which layout is
 * built, which is routed, which only warms it, and when the old one may go.
 * Pure: every input is passed in, every decision comes back as a value.
 *
 * A change of numShards builds a new layout (a new generation of pool
 * StatefulSets, memshack_desired.h names them) beside the old one, instead
 * of resizing the old one: a pod never changes the set of keys it serves,
 * so no key can come back later to a pod that still holds an old value of
 * it. A new replica pool (numReplicas up) is built in the same generation.
 * Then, phase by phase:
 *   PREPARING  the new pools start; the config still routes the old layout
 *              only (no client reaches a pod that is not up);
 *   WARMING    once every new pod is ready: reads go to the new pools first
 *              and on a miss to the old ones (mcrouter's WarmUpRoute, which
 *              copies each hit into the new pool); every write reaches both
 *              layouts. The window (window_s) starts when every gateway has
 *              loaded this config;
 *   FINISHING  after the window: the config routes the new layout alone;
 *              the old layout's StatefulSets stay until every gateway has
 *              loaded it, then the migration is over (NONE) and they go.
 * A second change during a migration is folded into one from the old
 * layout, which received every write: during PREPARING or WARMING the
 * migration turns back (FINISHING towards the old layout: the half-built
 * one goes once every gateway routes the old layout alone), then a new one
 * starts from the old layout to the new shape (none when the change went
 * back to the old shape). During FINISHING the change waits for the end
 * (one config load of the gateways), then starts from the new layout.
 * Fewer replica pools (numShards unchanged) is no migration: routed at once.
 */
#ifndef MEMSHACK_CORE_MIGRATION_H
#define MEMSHACK_CORE_MIGRATION_H

#include <stdbool.h>

#include "core/memshack_desired.h"
#include "core/memshack_spec.h"

typedef enum migration_phase {
	MIGRATION_NONE,
	MIGRATION_PREPARING,
	MIGRATION_WARMING,
	MIGRATION_FINISHING
} migration_phase;

extern const char *const migration_phase_names[]; /* "None", "Preparing", "Warming", "Finishing" */

/* What the status records between reconciles. */
typedef struct memshack_migration {
	migration_phase phase;
	memshack_layout from; /* the layout being replaced: warm, receives every write until FINISHING */
	memshack_layout to;   /* the layout being built: the spec's shape */
	long long window_end; /* unix seconds; 0 while WARMING waits for the gateways */
	/*
	 * The newest generation ever built (kept after the end): a new layout
	 * never takes the name of one dropped before, whose pods may still be
	 * going and hold values written under another layout.
	 */
	int newest;
} memshack_migration;

typedef struct migration_input {
	memshack_layout current; /* routed now when no migration runs (pools 0: nothing yet, a new Memshack) */
	memshack_migration mig;  /* the last recorded (phase NONE: none) */
	const int *ready;        /* ready pods of pool K of mig.to (or of the layout to build), n_ready entries */
	int n_ready;
	long long now;      /* unix seconds */
	int window_s;       /* >= 0 */
	int warm_exptime_s; /* > 0 */
} migration_input;

/* A change of phase to tell (an event). */
typedef struct migration_event {
	const char *reason;   /* "MigrationStarted", "MigrationWarming", "MigrationCancelled", "MigrationFinished" */
	memshack_migration m; /* where the migration stood after it */
} migration_event;

typedef struct migration_step {
	memshack_plan plan;      /* what to build and route now */
	memshack_migration next; /* to record */
	/*
	 * When every gateway has loaded the plan's config, call
	 * migration_confirmed: it starts the window (WARMING) or ends the
	 * migration (FINISHING).
	 */
	bool await_gateways;
	/* Pool StatefulSets of these generations stay (n_keep 1 or 2); others are no longer wanted. */
	int keep[2];
	int n_keep;
	long long requeue_s; /* > 0: look again after this many seconds */
	/*
	 * The changes of phase this step made, in order: each an event reason
	 * ("MigrationStarted" ...) and the migration as it stood after it. Two
	 * when one pass both turns back and (confirmed) finishes.
	 */
	migration_event events[2];
	int n_events;
	/*
	 * No migration runs: plan builds and routes the spec in plan.build's
	 * generation, and the caller routes it as it always did (new shards
	 * and pools once ready, a shrink held until the gateways load it).
	 */
	bool plain;
} migration_step;

/*
 * The step for spec s (shards, replica pools) in mode warm (false: every
 * change routed as before, no migration ever starts; one in progress goes
 * on to its end).
 */
migration_step memshack_migration_step(const memshack_spec *s, bool warm, const migration_input *in);

/*
 * Every gateway loaded step->plan's config at `now`: advances step->next,
 * keep, requeue_s and events (a window of window_s seconds starts, or the
 * migration ends). Nothing when the step did not await the gateways.
 */
void migration_confirmed(migration_step *step, long long now, int window_s);

/* The generation after both a and b (1..MEMSHACK_MAX_LAYOUT_GENERATION, never a or b). */
int migration_next_generation(int a, int b);

/*
 * "from S shards x P pools (layout G) to S x P (layout G)" into buf (len
 * bytes, truncated to fit): the layouts of m, as the Migrating condition and
 * the migration events say them. Returns buf.
 */
const char *migration_describe(const memshack_migration *m, char *buf, size_t len);

/*
 * status.migration as memshack_status_build writes it: {phase, from, to
 * ({generation, shards, replicaPools}), windowEnd (RFC 3339, while the
 * window runs), newestGeneration}; NULL (new reference: no memory) — an
 * object even for NONE when a generation was ever built, so it is not lost.
 * json_null() when there is nothing to record.
 */
json_t *migration_to_json(const memshack_migration *m);

/*
 * Reads status.migration (borrowed, may be NULL: none recorded) into *m.
 * 0, or -1 when it is there but not whole (a phase, both layouts of a
 * running migration): the caller must not start or end anything on it.
 */
int migration_from_json(json_t *j, memshack_migration *m);

#endif
