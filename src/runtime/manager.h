/*
 * manager — the operator process around controllers: flags, logs, the
 * Kubernetes client, informers, leader election, signals and the HTTP
 * endpoints (health, readiness, metrics).
 *
 * Lifecycle (manager_run):
 *  - HTTP servers and informers start at once (standbys keep warm caches).
 *  - Controllers start when this process leads (or at once without
 *    --leader-elect), after their informers synced.
 *  - A lost lease halts every controller immediately and the process exits 1.
 *  - The first SIGTERM/SIGINT stops taking work, lets in-flight reconciles
 *    finish, releases the lease and exits 0; a second exits 1 at once.
 *  - While leading, every object is reconciled again every --sync-period
 *    (10 h by default, jittered ±10 %), as controller-runtime's SyncPeriod.
 * /readyz is 200 once every informer has synced (leading or standing by).
 */
#ifndef MEMSHACK_RUNTIME_MANAGER_H
#define MEMSHACK_RUNTIME_MANAGER_H

#include <stdbool.h>

#include "kube/kube_client.h"
#include "runtime/controller.h"
#include "runtime/events.h"
#include "runtime/informer.h"
#include "runtime/metrics.h"
#include "util/must_use.h"

typedef struct manager_options {
	const char *kubeconfig;
	const char *context;
	const char *namespace; /* watch scope; NULL or "" = all namespaces */
	bool leader_elect;
	const char *lease_namespace;                             /* default: the kubeconfig / in-cluster namespace */
	const char *lease_name;                                  /* default: "<name>-leader" */
	const char *identity;                                    /* default: hostname + random suffix */
	long lease_duration_s, renew_deadline_s, retry_period_s; /* 15, 10, 2 */
	int workers;                                             /* default 2 */
	const char *metrics_addr;                                /* default ":8080"; "0" disables */
	const char *health_addr;                                 /* default ":8081"; "0" disables */
	long event_series_interval_s; /* default 30: a repeated Event's count is patched at most this often */
	long sync_period_s; /* every object reconciled again this often, ±10 %; default 36000 (10 h); -1: never */
	bool log_json;
	const char *log_level; /* default "info" */
} manager_options;

/*
 * Parses the common flags from argv (getopt_long, from argv[1]). Returns 0,
 * 1 after printing --help to stdout, or 2 after printing an error.
 */
int manager_parse_flags(manager_options *o, int argc, char **argv, const char *prog, const char *about);

typedef struct manager manager;

/*
 * Configures logging, loads the configuration, creates the client. name:
 * the process's (logs, Lease default, metrics); reporting_controller: what
 * its Events say reported them (e.g. "example.io/operator"). NULL on
 * failure (logged).
 */
manager *manager_new(const manager_options *o, const char *name, const char *reporting_controller);
void manager_free(manager *m);

kube_client *manager_client(manager *m);
metrics *manager_metrics(manager *m);
events *manager_events(manager *m);
/* The watch namespace, or NULL for all. Borrowed. */
const char *manager_namespace(manager *m);
const char *manager_identity(manager *m);
int manager_workers(manager *m);

/*
 * Hands a controller and the n informers it watches to the manager, which
 * frees them from then on. All or nothing: -1 when the manager has no room
 * for them all, and then nothing is taken (the caller still owns them).
 */
MEMSHACK_MUST_USE int manager_add(manager *m, informer *const *informers, size_t n, controller *c);

/* Runs until a signal or a lost lease; returns the process exit code. */
int manager_run(manager *m);

#endif
