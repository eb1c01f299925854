#include "core/migration.h"

const char *const migration_phase_names[] = { "None", "Preparing", "Warming", "Finishing", NULL };

int migration_next_generation(int a, int b)
{
	int g = a > b ? a : b;
	do
		g = g >= MEMSHACK_MAX_LAYOUT_GENERATION ? 1 : g + 1;
	while (g == a || g == b);
	return g;
}

static bool same_shape(memshack_layout a, memshack_layout b)
{
	return a.shards == b.shards && a.pools == b.pools;
}

/* A migration from `from` to target's shape (in a new generation when the shards change), or NONE. */
static memshack_migration begin(memshack_layout from, memshack_layout target, int newest)
{
	if (newest < from.generation)
		newest = from.generation;
	memshack_migration m = { .phase = MIGRATION_NONE, .from = from, .to = from, .newest = newest };
	if (target.shards != from.shards)
		m.newest = target.generation = migration_next_generation(from.generation, newest);
	else if (target.pools > from.pools)
		target.generation = from.generation; /* new replica pools beside the routed ones */
	else
		return m; /* the same, or fewer pools: nothing to warm */
	m.phase = MIGRATION_PREPARING;
	m.to = target;
	return m;
}

/* The step when no migration runs: the spec in generation g, routed as always. */
static migration_step plain(memshack_layout target, int g, int newest)
{
	target.generation = g;
	migration_step st = { .plan = { .build = target, .route = target },
			      .next = { .from = target, .to = target, .newest = newest > g ? newest : g },
			      .keep = { g },
			      .n_keep = 1,
			      .plain = true };
	return st;
}

/* Every new pod of m->to is ready: the new layout's pools (all of them, or the added replica pools). */
static bool to_ready(const memshack_migration *m, const migration_input *in)
{
	int first = m->from.generation == m->to.generation ? m->from.pools : 0;
	for (int k = first; k < m->to.pools; k++)
		if (k >= in->n_ready || !in->ready || in->ready[k] < m->to.shards)
			return false;
	return true;
}

static void keep_both(migration_step *st, const memshack_migration *m)
{
	st->keep[0] = m->to.generation;
	st->n_keep = 1;
	if (m->from.generation != m->to.generation)
		st->keep[st->n_keep++] = m->from.generation;
}

/* The plan of a migration in phase m->phase (PREPARING, WARMING or FINISHING). */
static void plan_of(migration_step *st, const memshack_migration *m, const migration_input *in)
{
	bool same_gen = m->from.generation == m->to.generation;
	st->plan = (memshack_plan){ .build = m->to, .route = m->to, .warm_exptime_s = in->warm_exptime_s };
	keep_both(st, m);
	switch (m->phase) {
	case MIGRATION_PREPARING:
		/* The new pools are not routed until every pod of theirs is up. */
		st->plan.route = m->from;
		break;
	case MIGRATION_WARMING:
		if (same_gen)
			st->plan.warm_replicas_from = m->from.pools;
		else
			st->plan.old = m->from;
		if (!m->window_end) {
			st->await_gateways = true;
			st->requeue_s = 5;
		} else {
			st->requeue_s = m->window_end > in->now ? m->window_end - in->now : 1;
		}
		break;
	case MIGRATION_FINISHING:
		st->await_gateways = true;
		st->requeue_s = 5;
		break;
	case MIGRATION_NONE: break;
	}
}

migration_step memshack_migration_step(const memshack_spec *s, bool warm, const migration_input *in)
{
	memshack_layout target = { s->num_shards, s->num_replicas, 0 };
	memshack_migration m = in->mig;
	const char *event = NULL;
	if (m.phase == MIGRATION_NONE) {
		if (!warm || in->current.pools <= 0)
			return plain(target, in->current.pools > 0 ? in->current.generation : 0, in->mig.newest);
		m = begin(in->current, target, in->mig.newest);
		if (m.phase == MIGRATION_NONE)
			return plain(target, in->current.generation, in->mig.newest);
		event = "MigrationStarted";
	} else if (!same_shape(m.to, target) && m.phase != MIGRATION_FINISHING) {
		/* Turn back to the old layout (it received every write); what comes next starts from it. */
		m = (memshack_migration){
			.phase = MIGRATION_FINISHING, .from = m.to, .to = m.from, .newest = m.newest
		};
		event = "MigrationCancelled";
	}
	if (m.phase == MIGRATION_PREPARING && to_ready(&m, in))
		m.phase = MIGRATION_WARMING, m.window_end = 0;
	if (m.phase == MIGRATION_WARMING && m.window_end && in->now >= m.window_end)
		m.phase = MIGRATION_FINISHING;
	migration_step st = { .next = m, .event = event };
	plan_of(&st, &m, in);
	return st;
}

void migration_confirmed(migration_step *st, long long now, int window_s)
{
	memshack_migration *m = &st->next;
	if (!st->await_gateways)
		return;
	st->await_gateways = false;
	if (m->phase == MIGRATION_WARMING && !m->window_end) {
		m->window_end = now + (window_s > 0 ? window_s : 0);
		if (m->window_end <= now)
			m->window_end = now + 1; /* 0 means "not started" */
		st->requeue_s = m->window_end - now;
		st->event = "MigrationWarming";
		return;
	}
	if (m->phase == MIGRATION_FINISHING) {
		st->keep[0] = m->to.generation;
		st->n_keep = 1;
		*m = (memshack_migration){ .phase = MIGRATION_NONE, .from = m->to, .to = m->to, .newest = m->newest };
		st->requeue_s = 0;
		st->event = "MigrationFinished";
	}
}
