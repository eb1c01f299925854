#include "core/migration.h"

#include <stdio.h>
#include <string.h>

#include "util/timefmt.h"

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

/* Adds the change of phase to st->events, with st->next as it stands. */
static void tell(migration_step *st, const char *reason)
{
	if (st->n_events < (int)(sizeof st->events / sizeof *st->events))
		st->events[st->n_events++] = (migration_event){ reason, st->next };
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
	migration_step st = { .next = m };
	if (event)
		tell(&st, event);
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
		tell(st, "MigrationWarming");
		return;
	}
	if (m->phase == MIGRATION_FINISHING) {
		st->keep[0] = m->to.generation;
		st->n_keep = 1;
		*m = (memshack_migration){ .phase = MIGRATION_NONE, .from = m->to, .to = m->to, .newest = m->newest };
		st->requeue_s = 0;
		tell(st, "MigrationFinished");
	}
}

const char *migration_describe(const memshack_migration *m, char *buf, size_t len)
{
	snprintf(buf, len, "from %d shards x %d pools (layout %d) to %d x %d (layout %d)", m->from.shards,
		 m->from.pools, m->from.generation, m->to.shards, m->to.pools, m->to.generation);
	return buf;
}

static json_t *layout_json(memshack_layout l)
{
	return json_pack("{s:i, s:i, s:i}", "generation", l.generation, "shards", l.shards, "replicaPools", l.pools);
}

json_t *migration_to_json(const memshack_migration *m)
{
	if (m->phase == MIGRATION_NONE && m->newest <= 0)
		return json_null();
	if (m->phase == MIGRATION_NONE)
		return json_pack("{s:s, s:i}", "phase", migration_phase_names[MIGRATION_NONE], "newestGeneration",
				 m->newest);
	json_t *j = json_pack("{s:s, s:o, s:o, s:i}", "phase", migration_phase_names[m->phase], "from",
			      layout_json(m->from), "to", layout_json(m->to), "newestGeneration", m->newest);
	if (j && m->window_end > 0) {
		char t[40];
		timefmt_rfc3339((int64_t)m->window_end * 1000000, t, sizeof t);
		if (json_object_set_new(j, "windowEnd", json_string(t))) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

static int layout_from_json(json_t *j, memshack_layout *l)
{
	json_t *g = json_object_get(j, "generation"), *sh = json_object_get(j, "shards"),
	       *p = json_object_get(j, "replicaPools");
	if (!json_is_integer(g) || !json_is_integer(sh) || !json_is_integer(p))
		return -1;
	*l = (memshack_layout){ (int)json_integer_value(sh), (int)json_integer_value(p), (int)json_integer_value(g) };
	return l->shards >= 1 && l->shards <= MEMSHACK_MAX_MEMBERS && l->pools >= 1 && l->pools <= 8 &&
			       l->generation >= 0 && l->generation <= MEMSHACK_MAX_LAYOUT_GENERATION
		       ? 0
		       : -1;
}

int migration_from_json(json_t *j, memshack_migration *m)
{
	*m = (memshack_migration){ .phase = MIGRATION_NONE };
	if (!j || json_is_null(j))
		return 0;
	const char *phase = json_string_value(json_object_get(j, "phase"));
	int ph = -1;
	for (int i = 0; phase && migration_phase_names[i]; i++)
		if (!strcmp(migration_phase_names[i], phase))
			ph = i;
	json_t *newest = json_object_get(j, "newestGeneration");
	if (ph < 0 || !json_is_integer(newest) || json_integer_value(newest) < 0 ||
	    json_integer_value(newest) > MEMSHACK_MAX_LAYOUT_GENERATION)
		return -1;
	m->phase = (migration_phase)ph;
	m->newest = (int)json_integer_value(newest);
	if (m->phase == MIGRATION_NONE)
		return 0;
	if (layout_from_json(json_object_get(j, "from"), &m->from) ||
	    layout_from_json(json_object_get(j, "to"), &m->to))
		return -1;
	const char *end = json_string_value(json_object_get(j, "windowEnd"));
	int64_t us;
	if (end && timefmt_parse_rfc3339(end, &us))
		return -1;
	m->window_end = end ? us / 1000000 : 0;
	return 0;
}
