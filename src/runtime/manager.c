#include "runtime/manager.h"

#include <errno.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/kube_config.h"
#include "runtime/httpserver.h"
#include "runtime/leader.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/sbuf.h"

#define MAX_PARTS 32

struct manager {
	manager_options o;
	char *name;
	char *lease_ns;
	char *lease_name;
	char *watch_ns;
	char *identity;
	kube_client *client;
	metrics *metrics;
	events *events;
	leader *leader;
	kube_client *lease_client; /* the leader's own (leader election only) */
	informer *informers[MAX_PARTS];
	int n_informers;
	controller *controllers[MAX_PARTS];
	int n_controllers;
	http_server *metrics_srv, *health_srv;
	int metrics_port;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool shutdown;
	bool leading;
	bool lost;
	int signals;
	sigset_t sigs;
	pthread_t sig_thread;
	bool sig_thread_started;
};

static void usage(FILE *f, const char *prog, const char *about)
{
	fprintf(f,
		"usage: %s [flags]\n%s%s"
		"\n"
		"flags:\n"
		"  --kubeconfig PATH                 kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
		"  --context NAME                    kubeconfig context\n"
		"  --namespace NS                    watch only this namespace (default: all)\n"
		"  --workers N                       concurrent reconciles per controller (default 2), plus one\n"
		"                                    worker kept for new objects and spec changes\n"
		"  --leader-elect                    run leader election; only the leader reconciles\n"
		"  --lease-namespace NS              namespace of the Lease (default: the client's namespace)\n"
		"  --lease-name NAME                 name of the Lease\n"
		"  --leader-elect-lease-duration S   (default 15)\n"
		"  --leader-elect-renew-deadline S   (default 10)\n"
		"  --leader-elect-retry-period S     (default 2)\n"
		"                                    Lease requests go over a connection of their own and\n"
		"                                    time out after half the renew deadline; a leader that\n"
		"                                    could not renew within the renew deadline writes\n"
		"                                    nothing more and exits 1\n"
		"  --identity ID                     leader identity (default: hostname + random suffix)\n"
		"  --metrics-bind-address ADDR       /metrics (default :8080; 0 disables)\n"
		"  --health-probe-bind-address ADDR  /healthz and /readyz (default :8081; 0 disables)\n"
		"  --log-format json|text            (default text)\n"
		"  --log-level debug|info|warn|error (default info)\n"
		"  --event-series-interval S         patch a repeated Event's count at most every S s (default 30)\n"
		"  --sync-period S                   reconcile every object again every S s, jittered +-10 %%\n"
		"                                    (default 36000; 0: never)\n",
		prog, about ? about : "", about ? "\n" : "");
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The manager's flags (getopt_long values). */
enum manager_flag {
	F_KC = 256,
	F_CTX,
	F_NS,
	F_WORKERS,
	F_LE,
	F_LNS,
	F_LNAME,
	F_LDUR,
	F_LREN,
	F_LRET,
	F_ID,
	F_MET,
	F_HEALTH,
	F_LFMT,
	F_LLVL,
	F_EVSI,
	F_SYNC,
	F_HELP
};

/* Sets the value flag ch from arg: 0, -1 for a bad value, 1 when ch is not a value flag. */
static int set_flag(manager_options *o, int ch, const char *arg)
{
	long v;
	switch (ch) {
	case F_KC: o->kubeconfig = arg; break;
	case F_CTX: o->context = arg; break;
	case F_NS: o->namespace = arg; break;
	case F_WORKERS:
		if (parse_long(arg, 1, 64, &v))
			return -1;
		o->workers = (int)v;
		break;
	case F_LE:
		if (arg && strcmp(arg, "true") && strcmp(arg, "false"))
			return -1;
		o->leader_elect = !arg || !strcmp(arg, "true");
		break;
	case F_LNS: o->lease_namespace = arg; break;
	case F_LNAME: o->lease_name = arg; break;
	case F_LDUR:
		if (parse_long(arg, 1, 3600, &o->lease_duration_s))
			return -1;
		break;
	case F_LREN:
		if (parse_long(arg, 1, 3600, &o->renew_deadline_s))
			return -1;
		break;
	case F_LRET:
		if (parse_long(arg, 1, 3600, &o->retry_period_s))
			return -1;
		break;
	case F_ID: o->identity = arg; break;
	case F_MET: o->metrics_addr = arg; break;
	case F_HEALTH: o->health_addr = arg; break;
	case F_LFMT:
		if (strcmp(arg, "json") && strcmp(arg, "text"))
			return -1;
		o->log_json = !strcmp(arg, "json");
		break;
	case F_LLVL: {
		log_level lv;
		if (log_parse_level(arg, &lv))
			return -1;
		o->log_level = arg;
		break;
	}
	case F_EVSI:
		if (parse_long(arg, 1, 3600, &o->event_series_interval_s))
			return -1;
		break;
	case F_SYNC:
		if (parse_long(arg, 0, 30L * 24 * 3600, &v))
			return -1;
		o->sync_period_s = v ? v : -1;
		break;
	default: return 1;
	}
	return 0;
}

int manager_parse_flags(manager_options *o, int argc, char **argv, const char *prog, const char *about)
{
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, F_KC },
		{ "context", required_argument, NULL, F_CTX },
		{ "namespace", required_argument, NULL, F_NS },
		{ "workers", required_argument, NULL, F_WORKERS },
		{ "leader-elect", optional_argument, NULL, F_LE },
		{ "lease-namespace", required_argument, NULL, F_LNS },
		{ "lease-name", required_argument, NULL, F_LNAME },
		{ "leader-elect-lease-duration", required_argument, NULL, F_LDUR },
		{ "leader-elect-renew-deadline", required_argument, NULL, F_LREN },
		{ "leader-elect-retry-period", required_argument, NULL, F_LRET },
		{ "identity", required_argument, NULL, F_ID },
		{ "metrics-bind-address", required_argument, NULL, F_MET },
		{ "health-probe-bind-address", required_argument, NULL, F_HEALTH },
		{ "log-format", required_argument, NULL, F_LFMT },
		{ "log-level", required_argument, NULL, F_LLVL },
		{ "event-series-interval", required_argument, NULL, F_EVSI },
		{ "sync-period", required_argument, NULL, F_SYNC },
		{ "help", no_argument, NULL, F_HELP },
		{ NULL, 0, NULL, 0 },
	};
	o->metrics_addr = o->metrics_addr ? o->metrics_addr : ":8080";
	o->health_addr = o->health_addr ? o->health_addr : ":8081";
	o->log_level = o->log_level ? o->log_level : "info";
	optind = 1;
	opterr = 0;
	int ch;
	int longindex = -1;
	while ((ch = getopt_long(argc, argv, "", opts, &longindex)) != -1) {
		int set = ch == F_HELP ? 2 : set_flag(o, ch, optarg);
		if (set == 0)
			continue;
		if (set < 0)
			goto bad_value;
		switch (ch) {
		case F_HELP: usage(stdout, prog, about); return 1;
		default:
			fprintf(stderr, "%s: unknown or incomplete flag '%s'\n", prog, argv[optind - 1]);
			usage(stderr, prog, about);
			return 2;
		}
		continue;
	bad_value:
		fprintf(stderr, "%s: bad value '%s' for --%s\n", prog, optarg ? optarg : "",
			longindex >= 0 ? opts[longindex].name : "?");
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		return 2;
	}
	return 0;
}

static unsigned long random_suffix(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((unsigned long)ts.tv_nsec * 2654435761ul ^ (unsigned long)getpid() ^ (unsigned long)ts.tv_sec) &
	       0xffffffful;
}

static void observe_request(void *ud, const char *method, long code, double seconds)
{
	(void)seconds;
	manager *m = ud;
	char l[96];
	snprintf(l, sizeof l, "method=\"%s\",code=\"%ld\"", method, code);
	metrics_add(m->metrics, "memshack_api_requests_total", l, 1);
}

/*
 * Loads the kubeconfig and creates the API client, the Lease's own client
 * (leader election) and m->lease_ns. 0, or -1 (logged; m left for manager_free).
 */
static int connect_clients(manager *m, const manager_options *o)
{
	kube_config_options co = { 0 };
	kube_config_options_from_env(&co);
	co.kubeconfig = o->kubeconfig;
	co.context = o->context;
	kube_config *cfg = NULL;
	kube_error err = KUBE_ERROR_INIT;
	int rc = kube_config_load(&co, &cfg, &err) || kube_client_new(cfg, NULL, &m->client, &err) ? -1 : 0;
	if (!rc && o->leader_elect) {
		long deadline_s = o->renew_deadline_s > 0 ? o->renew_deadline_s : 10;
		kube_client_options lo = { .timeout_ms = deadline_s * 500, .max_retries = -1 };
		rc = kube_client_new(cfg, &lo, &m->lease_client, &err);
	}
	if (rc) {
		log_error("%s", kube_strerror(&err));
		kube_error_release(&err);
		kube_config_free(cfg);
		return -1;
	}
	m->lease_ns = strdup(o->lease_namespace && *o->lease_namespace ? o->lease_namespace : cfg->namespace);
	kube_config_free(cfg);
	return 0;
}

manager *manager_new(const manager_options *o, const char *name, const char *reporting_controller)
{
#ifdef __GLIBC__
	/*
	 * glibc gives threads up to 8 arenas per core, each holding its own free
	 * memory; our threads (informers, workers, HTTP) allocate little and
	 * rarely at once, so two arenas are enough and keep RSS lower and
	 * flatter (bench/soak.sh). MALLOC_ARENA_MAX in the environment wins.
	 */
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 2);
#endif
	log_level lv = LOG_INFO;
	log_parse_level(o->log_level ? o->log_level : "info", &lv);
	log_configure(lv, o->log_json, stderr);
	manager *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->o = *o;
	pthread_mutex_init(&m->mu, NULL);
	if (clock_cond_init(&m->cond)) {
		pthread_mutex_destroy(&m->mu);
		free(m);
		return NULL;
	}
	m->name = strdup(name);
	/* A peer closing a socket must be an error return, never a process-killing SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	/* Signals go to the signal thread only: block them before any thread starts. */
	sigemptyset(&m->sigs);
	sigaddset(&m->sigs, SIGTERM);
	sigaddset(&m->sigs, SIGINT);
	sigaddset(&m->sigs, SIGUSR2); /* manager_free's way to end the signal thread */
	pthread_sigmask(SIG_BLOCK, &m->sigs, NULL);

	if (connect_clients(m, o)) {
		manager_free(m);
		return NULL;
	}
	sbuf ln = SBUF_INIT;
	int named = o->lease_name && *o->lease_name ? sbuf_adds(&ln, o->lease_name) : sbuf_addf(&ln, "%s-leader", name);
	m->lease_name = named == 0 ? sbuf_detach(&ln) : NULL;
	sbuf_release(&ln);
	m->watch_ns = o->namespace && *o->namespace ? strdup(o->namespace) : NULL;
	m->metrics = metrics_new();
	if (!m->name || !m->lease_ns || !m->lease_name || !m->metrics) {
		log_error("out of memory");
		manager_free(m);
		return NULL;
	}
	int declared =
		metrics_declare(m->metrics, "memshack_api_requests_total", METRIC_COUNTER,
				"Requests to the Kubernetes API by method and HTTP code (0: no response).", NULL, 0);
	declared |=
		metrics_declare(m->metrics, "memshack_leader", METRIC_GAUGE, "1 while this process leads.", NULL, 0);
	declared |= metrics_declare(m->metrics, "memshack_process_resident_memory_bytes", METRIC_GAUGE,
				    "Resident set size.", NULL, 0);
#ifdef __GLIBC__
	declared |= metrics_declare(
		m->metrics, "memshack_process_heap_inuse_bytes", METRIC_GAUGE,
		"Bytes the C allocator counts as in use: all arenas and mmapped blocks, including freed chunks parked in per-thread caches (tcache).",
		NULL, 0);
	declared |= metrics_declare(
		m->metrics, "memshack_process_heap_free_bytes", METRIC_GAUGE,
		"Free bytes the C allocator holds (fragmentation and caches: RSS growth here is not a leak).", NULL, 0);
#endif
	if (declared) {
		log_error("out of memory");
		manager_free(m);
		return NULL;
	}
	kube_client_set_observer(m->client, observe_request, m);
	if (m->lease_client)
		kube_client_set_observer(m->lease_client, observe_request, m);
	char host[128] = "memshack";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	sbuf idb = SBUF_INIT;
	int identified = o->identity && *o->identity ? sbuf_adds(&idb, o->identity)
						     : sbuf_addf(&idb, "%s_%lx", host, (unsigned long)random_suffix());
	m->identity = identified == 0 ? sbuf_detach(&idb) : NULL;
	sbuf_release(&idb);
	const char *id = m->identity;
	m->events = events_new(m->client, reporting_controller, id, m->metrics);
	if (m->events && o->event_series_interval_s > 0)
		events_set_windows(m->events, 0, o->event_series_interval_s * 1000000, 0, 0);
	if (!m->events || !m->identity) {
		manager_free(m);
		return NULL;
	}
	return m;
}

void manager_free(manager *m)
{
	if (!m)
		return;
	if (m->sig_thread_started) {
		/* It reads m on every signal: end it before m goes. */
		pthread_kill(m->sig_thread, SIGUSR2);
		pthread_join(m->sig_thread, NULL);
	}
	for (int i = 0; i < m->n_controllers; i++)
		controller_free(m->controllers[i]);
	for (int i = 0; i < m->n_informers; i++)
		informer_free(m->informers[i]);
	leader_free(m->leader);
	kube_client_free(m->lease_client);
	events_free(m->events);
	http_server_stop(m->metrics_srv);
	http_server_stop(m->health_srv);
	kube_client_free(m->client);
	metrics_free(m->metrics);
	free(m->name);
	free(m->lease_ns);
	free(m->lease_name);
	free(m->watch_ns);
	free(m->identity);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cond);
	free(m);
}

kube_client *manager_client(manager *m)
{
	return m->client;
}
metrics *manager_metrics(manager *m)
{
	return m->metrics;
}
events *manager_events(manager *m)
{
	return m->events;
}
const char *manager_namespace(manager *m)
{
	return m->watch_ns;
}
int manager_workers(manager *m)
{
	return m->o.workers > 0 ? m->o.workers : 2;
}

const char *manager_identity(manager *m)
{
	return m->identity;
}

int manager_add(manager *m, informer *const *informers, size_t n, controller *c)
{
	if (n > (size_t)(MAX_PARTS - m->n_informers) || m->n_controllers == MAX_PARTS)
		return -1;
	for (size_t i = 0; i < n; i++)
		m->informers[m->n_informers++] = informers[i];
	m->controllers[m->n_controllers++] = c;
	return 0;
}

static bool is_ready(void *ud, char *why, size_t len)
{
	manager *m = ud;
	for (int i = 0; i < m->n_informers; i++) {
		if (!informer_synced(m->informers[i])) {
			snprintf(why, len, "cache of %s not synced", informer_resource(m->informers[i])->plural);
			return false;
		}
	}
	pthread_mutex_lock(&m->mu);
	bool down = m->shutdown || m->lost;
	pthread_mutex_unlock(&m->mu);
	if (down) {
		snprintf(why, len, "shutting down");
		return false;
	}
	return true;
}

static char *render_metrics(void *ud)
{
	manager *m = ud;
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	metrics_set(m->metrics, "memshack_process_resident_memory_bytes", NULL,
		    (double)rss * (double)sysconf(_SC_PAGESIZE));
#ifdef __GLIBC__
	struct mallinfo2 mi = mallinfo2();
	metrics_set(m->metrics, "memshack_process_heap_inuse_bytes", NULL, (double)(mi.uordblks + mi.hblkhd));
	metrics_set(m->metrics, "memshack_process_heap_free_bytes", NULL, (double)mi.fordblks);
#endif
	metrics_set(m->metrics, "memshack_leader", NULL, m->leader ? (leader_is_leading(m->leader) ? 1 : 0) : 1);
	return metrics_render(m->metrics);
}

static bool shutting_down(manager *m)
{
	pthread_mutex_lock(&m->mu);
	bool down = m->shutdown;
	pthread_mutex_unlock(&m->mu);
	return down;
}

static void *signal_thread(void *p)
{
	manager *m = p;
	for (;;) {
		int sig = 0;
		if (sigwait(&m->sigs, &sig))
			continue;
		if (sig == SIGUSR2)
			return NULL; /* manager_free: the manager is going away */
		pthread_mutex_lock(&m->mu);
		m->signals++;
		int n = m->signals;
		m->shutdown = true;
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->mu);
		if (n == 1) {
			log_info("received %s: finishing in-flight work (again to exit at once)",
				 sig == SIGTERM ? "SIGTERM" : "SIGINT");
			for (int i = 0; i < m->n_controllers; i++)
				controller_halt(m->controllers[i]);
		} else {
			log_warn("received a second signal: exiting now");
			/* In-flight reconciles are not waited for: their threads are let go, as when the lease is lost. */
			for (int i = 0; i < m->n_controllers; i++)
				controller_abandon(m->controllers[i]);
			fflush(NULL);
			_exit(1);
		}
	}
	return NULL;
}

static void on_started_leading(void *ud)
{
	manager *m = ud;
	pthread_mutex_lock(&m->mu);
	m->leading = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}

static void on_lost(void *ud)
{
	manager *m = ud;
	/* Stop reconciling at once: no new keys, and the process exits. */
	for (int i = 0; i < m->n_controllers; i++)
		controller_halt(m->controllers[i]);
	pthread_mutex_lock(&m->mu);
	m->lost = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}

/*
 * Memory the allocator holds but nobody uses goes back to the kernel: glibc
 * only shrinks an arena from its top, so the pages of free chunks inside it
 * (left by a relist's or a big reconcile's transient buffers) would stay
 * resident and RSS would creep up for hours; malloc_trim releases them.
 */
#define MEMORY_RETURN_INTERVAL_S 60

/* The next resync interval: --sync-period (default 10 h) times [0.9, 1.1); INT64_MAX when off. */
static int64_t sync_period_us(manager *m)
{
	long s = m->o.sync_period_s ? m->o.sync_period_s : 36000;
	if (s < 0)
		return INT64_MAX / 2;
	double jitter = 0.9 + 0.2 * (double)(random_suffix() % 1000000) / 1e6;
	return (int64_t)((double)s * 1e6 * jitter);
}

static void return_free_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Starts /metrics and the health probes (one server when they share an address). 0, or 1 (logged). */
static int start_http(manager *m)
{
	char errbuf[256];
	http_handlers h = { is_ready, render_metrics, m };
	if (m->o.metrics_addr && strcmp(m->o.metrics_addr, "0")) {
		m->metrics_srv = http_server_start(m->o.metrics_addr, &h, &m->metrics_port, errbuf, sizeof errbuf);
		if (!m->metrics_srv) {
			log_error("metrics server: %s", errbuf);
			return 1;
		}
		log_info("serving metrics on %s (port %d)", m->o.metrics_addr, m->metrics_port);
	}
	if (m->o.health_addr && strcmp(m->o.health_addr, "0") &&
	    !(m->o.metrics_addr && !strcmp(m->o.health_addr, m->o.metrics_addr))) {
		int port = 0;
		m->health_srv = http_server_start(m->o.health_addr, &h, &port, errbuf, sizeof errbuf);
		if (!m->health_srv) {
			log_error("health server: %s", errbuf);
			return 1;
		}
		log_info("serving health probes on %s (port %d)", m->o.health_addr, port);
	}
	return 0;
}

/* Creates the elector and fences the controllers' writes by its leadership (before any thread uses the client). 0, or 1. */
static int prepare_leader_election(manager *m)
{
	if (!m->o.leader_elect)
		return 0;
	kube_error err = KUBE_ERROR_INIT;
	leader_options lo = { .namespace = m->lease_ns,
			      .name = m->lease_name,
			      .identity = m->identity,
			      .lease_duration_s = m->o.lease_duration_s,
			      .renew_deadline_s = m->o.renew_deadline_s,
			      .retry_period_s = m->o.retry_period_s,
			      .on_started = on_started_leading,
			      .on_lost = on_lost,
			      .ud = m };
	m->leader = leader_new(m->lease_client, &lo, &err);
	if (!m->leader) {
		log_error("%s", kube_strerror(&err));
		kube_error_release(&err);
		return 1;
	}
	kube_client_set_deadline(m->client, leader_fence, m->leader);
	return 0;
}

/*
 * The lease is lost: exit at once. An in-flight reconcile must not be
 * waited for (it would keep writing as a leader that is not one); the
 * threads are let go, not left running unaccounted.
 */
static void exit_lost(manager *m)
{
	log_error("leadership lost: exiting");
	for (int i = 0; i < m->n_controllers; i++)
		controller_abandon(m->controllers[i]);
	leader_abandon(m->leader);
	fflush(NULL);
	_exit(1);
}

/* Sleeps (m->mu held) until something changed or a timer is due, and runs the due timers (memory return, resync). */
static void wait_and_run_timers(manager *m, int64_t *next_trim, int64_t *next_sync)
{
	int64_t now_us = clock_mono_us(), wake = *next_trim < *next_sync ? *next_trim : *next_sync;
	if (now_us < wake && clock_cond_wait_until(&m->cond, &m->mu, wake) != ETIMEDOUT)
		return;
	pthread_mutex_unlock(&m->mu);
	now_us = clock_mono_us();
	if (now_us >= *next_trim) {
		return_free_memory();
		*next_trim = now_us + MEMORY_RETURN_INTERVAL_S * 1000000LL;
	}
	if (now_us >= *next_sync) {
		size_t n = 0;
		for (int i = 0; i < m->n_controllers; i++)
			n += controller_resync(m->controllers[i]);
		log_info("periodic resync: %zu objects queued", n);
		*next_sync = now_us + sync_period_us(m);
	}
	pthread_mutex_lock(&m->mu);
}

/* Starts every controller (the caches are synced first). 0, or 1 when one did not start. */
static int start_controllers(manager *m)
{
	int code = 0;
	for (int i = 0; i < m->n_controllers; i++) {
		if (controller_start(m->controllers[i], INT64_MAX / 2) && !shutting_down(m)) {
			log_error("controller %s did not start", controller_name(m->controllers[i]));
			code = 1;
		}
	}
	return code;
}

int manager_run(manager *m)
{
	/* Before any thread starts: /metrics reads m->leader, and the client's deadline is set once. */
	if (prepare_leader_election(m))
		return 1;
	if (start_http(m))
		return 1;
	if (pthread_create(&m->sig_thread, NULL, signal_thread, m)) {
		log_error("cannot start the signal thread");
		return 1;
	}
	m->sig_thread_started = true;
	for (int i = 0; i < m->n_informers; i++) {
		if (informer_start(m->informers[i])) {
			log_error("cannot start informer");
			return 1;
		}
	}
	if (m->leader) {
		log_info("leader election on lease %s/%s as %s", m->lease_ns, m->lease_name, m->identity);
		if (leader_start(m->leader)) {
			log_error("cannot start leader election");
			return 1;
		}
	} else {
		pthread_mutex_lock(&m->mu);
		m->leading = true;
		pthread_mutex_unlock(&m->mu);
	}
	int code = 0;
	bool controllers_started = false;
	int64_t next_trim = clock_mono_us() + MEMORY_RETURN_INTERVAL_S * 1000000LL, next_sync = INT64_MAX;
	for (;;) {
		pthread_mutex_lock(&m->mu);
		while (!m->shutdown && !m->lost && (controllers_started || !m->leading))
			wait_and_run_timers(m, &next_trim, &next_sync);
		bool shutdown = m->shutdown, lost = m->lost, lead = m->leading;
		pthread_mutex_unlock(&m->mu);
		if (lost)
			exit_lost(m);
		if (shutdown)
			break;
		if (lead && !controllers_started) {
			controllers_started = true;
			next_sync = clock_mono_us() + sync_period_us(m);
			code = start_controllers(m);
		}
	}
	/* Graceful: finish in-flight reconciles, release the lease, stop watching. */
	for (int i = 0; i < m->n_controllers; i++)
		controller_stop(m->controllers[i]);
	if (m->leader)
		leader_stop(m->leader, true);
	for (int i = 0; i < m->n_informers; i++)
		informer_request_stop(m->informers[i]);
	for (int i = 0; i < m->n_informers; i++)
		informer_stop(m->informers[i]);
	log_info("stopped");
	return code;
}
