/*
 * leader — leader election on a coordination.k8s.io/v1 Lease.
 *
 * Every retry period the elector reads the Lease. The holder renews it by
 * PUT with the resourceVersion it read (a 409 means somebody else wrote:
 * lost). A candidate takes the Lease when it has no holder or when the
 * holder's record has not changed for leaseDurationSeconds as measured by
 * the candidate's own clock (never by the holder's renewTime). A holder that
 * cannot renew within the renew deadline has lost. On release (shutdown) the
 * holder writes an empty holder and a 1 s duration so a standby takes over
 * at once.
 *
 * No two leaders write at once (client-go's contract, enforced by time, not
 * by the loop noticing):
 *  - The Lease is read and written over a client of its own (its own
 *    connection, so a renewal never queues behind the workers' requests),
 *    each request bounded by the request timeout and never running or
 *    waiting (Retry-After) past the renew deadline.
 *  - A leader renews by writing the Lease it last wrote (one PUT); only a
 *    conflict costs a read.
 *  - Leadership is valid until the start of the last successful renewal plus
 *    the renew deadline: leader_fence() refuses every write after that
 *    instant and cuts off writes in flight at it. A standby takes over only
 *    after the lease duration has passed since it saw that renewal, so the
 *    old leader's last write ends at least (lease duration - renew deadline)
 *    before the new leader's first.
 *  - At the fence the loop reports the loss (on_lost) and stops.
 *
 * The decision is a pure function (leader_decide), unit-tested; the loop
 * runs on its own thread and reports through callbacks.
 */
#ifndef MEMSHACK_RUNTIME_LEADER_H
#define MEMSHACK_RUNTIME_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "kube/kube_client.h"
#include "util/must_use.h"

typedef enum leader_decision { LEADER_WAIT, LEADER_ACQUIRE, LEADER_RENEW } leader_decision;

typedef struct leader_observed {
	char *record;       /* holder + renewTime + resourceVersion last seen (owned) */
	int64_t changed_us; /* local monotonic time it last changed */
} leader_observed;

/*
 * holder/renew_time/rv as read (NULL or "" when absent); duration_s the
 * Lease's leaseDurationSeconds. Updates *obs. Pure.
 */
leader_decision leader_decide(leader_observed *obs, const char *identity, const char *holder, const char *renew_time,
			      const char *rv, long duration_s, int64_t now_us);
void leader_observed_release(leader_observed *obs);

typedef struct leader_options {
	const char *namespace; /* Lease namespace */
	const char *name;      /* Lease name */
	const char *identity;  /* NULL: hostname + random suffix */
	long lease_duration_s; /* default 15 */
	long renew_deadline_s; /* default 10 */
	long retry_period_s;   /* default 2 */
	void (*on_started)(void *ud);
	void (*on_lost)(void *ud);
	void *ud;
} leader_options;

typedef struct leader leader;

/*
 * lease_client is the leader's own client (borrowed; it must outlive the
 * leader, and serve nothing else): leader_new installs its deadline on it.
 */
leader *leader_new(kube_client *lease_client, const leader_options *o, kube_error *err);
MEMSHACK_MUST_USE int leader_start(leader *l);
/* Stops the loop; if leading and release is true, releases the Lease. */
void leader_stop(leader *l, bool release);
/* Tells the loop to stop and lets go of its thread without waiting (a process about to exit at once). */
void leader_abandon(leader *l);
void leader_free(leader *l);
bool leader_is_leading(leader *l);
/*
 * The instant (clock_mono_us) this process's leadership ends unless renewed:
 * the start of the last successful renewal plus the renew deadline; 0 when
 * not leading. Thread-safe.
 */
int64_t leader_valid_until(leader *l);
/*
 * A kube_deadline_fn for the client the controllers write with (ud: the
 * leader): reads (GET) are never bounded, writes end by leader_valid_until
 * (and are refused when not leading).
 */
int64_t leader_fence(void *ud, const char *method);

#endif
