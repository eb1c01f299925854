/*
 * memshack — the operator's command line.
 *
 *   memshack check [--kubeconfig PATH] [--context NAME]
 *       Loads the configuration, connects, and reports the server version and
 *       the identity the server sees. Exit 0 when both work.
 *   memshack render [-o yaml|json] [--config-only] [--cluster-domain D] [--endpoints F]
 *                   [--exporter-image IMAGE] [--operator-namespace NS] [--from OLD-FILE] FILE|-
 *       Prints every object the operator would create for the Memshack and
 *       MemcachedProxy objects in FILE (YAML or JSON, several documents
 *       allowed), without a cluster. A MemcachedProxy's servers come from the
 *       Service and EndpointSlice documents in FILE and in --endpoints F.
 *       --config-only prints just the mcrouter configurations. --from shows a
 *       change from the same Memshacks in OLD-FILE as a warm migration
 *       (core/migration.h) in its warm-up window: the new layout's objects
 *       and the config that reads it first and the old layout on a miss.
 *   memshack crd
 *       Prints the CustomResourceDefinitions (YAML).
 *   memshack version
 */
#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cachetest/cachetest.h"
#include "exporter/mcrouter_exporter.h"
#include "core/crd.h"
#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "core/memshack_status.h"
#include "core/migration.h"
#include "core/proxy.h"
#include "kube/kube_client.h"
#include "kube/kube_config.h"
#include "kube/kube_path.h"
#include "operator/memshack_controller.h"
#include "operator/proxy_controller.h"
#include "runtime/manager.h"
#include "util/yaml_emit.h"
#include "util/yaml_json.h"
#include "util/json_encode.h"
#include "util/object_meta.h"

#ifndef MEMSHACK_VERSION
#define MEMSHACK_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
	fputs("usage: memshack <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  run       run the operator (see memshack run --help)\n"
	      "  check     connect to the API server and report its version and who we are\n"
	      "  render    print the objects (and mcrouter config) for Memshacks in a file, offline\n"
	      "  crd       print the CustomResourceDefinitions\n"
	      "  cachetest check a memcached endpoint end to end: memshack cachetest HOST:PORT\n"
	      "  mcrouter-exporter  serve a local mcrouter's stats as Prometheus metrics (see --help)\n"
	      "  version   print memshack's version\n"
	      "\n"
	      "options (check):\n"
	      "  --kubeconfig PATH   kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
	      "  --context NAME      kubeconfig context (default: current-context)\n",
	      f);
}

static int fail(kube_error *err)
{
	fprintf(stderr, "memshack: error: %s\n", kube_strerror(err));
	kube_error_release(err);
	return 1;
}

static int cmd_check(int argc, char **argv)
{
	kube_config_options opts = { 0 };
	kube_config_options_from_env(&opts);
	static const struct option longopts[] = { { "kubeconfig", required_argument, NULL, 'k' },
						  { "context", required_argument, NULL, 'c' },
						  { "help", no_argument, NULL, 'h' },
						  { NULL, 0, NULL, 0 } };
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k': opts.kubeconfig = optarg; break;
		case 'c': opts.context = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	kube_error err = KUBE_ERROR_INIT;
	kube_config *cfg = NULL;
	if (kube_config_load(&opts, &cfg, &err))
		return fail(&err);
	kube_client *c = NULL;
	int rc = kube_client_new(cfg, NULL, &c, &err);
	kube_config_free(cfg);
	if (rc)
		return fail(&err);
	json_t *ver = NULL, *review = NULL, *resp = NULL;
	char *path = NULL;
	if (kube_get(c, "/version", &ver, &err))
		goto failed;
	review = json_pack("{s:s, s:s}", "apiVersion", "authentication.k8s.io/v1", "kind", "SelfSubjectReview");
	if (!(path = kube_path(&KUBE_RES_SELFSUBJECTREVIEWS, NULL, NULL, NULL, &err)))
		goto failed;
	if (kube_create(c, path, review, &resp, &err))
		goto failed;
	const char *user = json_string_value(
		json_object_get(json_object_get(json_object_get(resp, "status"), "userInfo"), "username"));
	const char *version = json_string_value(json_object_get(ver, "gitVersion"));
	printf("server %s: Kubernetes %s, authenticated as %s, namespace %s\n", kube_client_server(c),
	       version ? version : "(unknown version)", user ? user : "(anonymous)", kube_client_namespace(c));
	json_decref(ver);
	json_decref(review);
	json_decref(resp);
	free(path);
	kube_client_free(c);
	return 0;
failed:
	json_decref(ver);
	json_decref(review);
	json_decref(resp);
	free(path);
	kube_client_free(c);
	return fail(&err);
}

/* If argv[*i] is flag (as "--flag V" or "--flag=V"), stores its value in *val
 * (NULL when missing) and returns true, consuming the value's argument. */
static bool flag_value(int argc, char **argv, int *i, const char *flag, const char **val)
{
	size_t n = strlen(flag);
	const char *a = argv[*i];
	if (strncmp(a, flag, n) || (a[n] != '=' && a[n] != '\0'))
		return false;
	*val = a[n] == '=' ? a + n + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
	if (*val && !**val)
		*val = NULL;
	return true;
}

/* Parses a number in [lo, hi] into *out; false if it is not one. */
static bool flag_number(const char *val, double lo, double hi, double *out)
{
	char *end;
	*out = strtod(val, &end);
	return !*end && *out >= lo && *out <= hi;
}

static int cmd_run(int argc, char **argv)
{
	/* Our own flags first; the rest are the manager's. */
	memshack_controller_options mo = { .cluster_domain = "cluster.local",
					   .pool_removal_delay_us = 60LL * 1000000,
					   .gateway_probe_timeout_ms = 500 };
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	int n = 0;
	for (int i = 0; rest && i < argc; i++) {
		const char *val = NULL, *bad = NULL;
		double num;
		if (flag_value(argc, argv, &i, "--cluster-domain", &val)) {
			if (!(bad = val ? NULL : "--cluster-domain needs a value"))
				mo.cluster_domain = val;
		} else if (flag_value(argc, argv, &i, "--exporter-image", &val)) {
			if (!(bad = val && *val ? NULL : "--exporter-image needs a value"))
				mo.exporter_image = val;
		} else if (flag_value(argc, argv, &i, "--pool-removal-delay", &val)) {
			if (!(bad = val && flag_number(val, 0, 3600, &num)
					    ? NULL
					    : "--pool-removal-delay takes seconds (0..3600)"))
				mo.pool_removal_delay_us = (int64_t)(num * 1e6);
		} else if (flag_value(argc, argv, &i, "--gateway-probe-timeout-ms", &val)) {
			if (!(bad = val && flag_number(val, 0, 10000, &num)
					    ? NULL
					    : "--gateway-probe-timeout-ms takes milliseconds (0..10000)"))
				mo.gateway_probe_timeout_ms = (int)num;
		} else {
			rest[n++] = argv[i];
			continue;
		}
		if (bad) {
			fprintf(stderr, "memshack run: %s\n", bad);
			free(rest);
			return 2;
		}
	}
	manager_options o = { 0 };
	int rc = manager_parse_flags(
		&o, n, rest, "memshack run",
		"Runs the operator.\n"
		"  --cluster-domain D        cluster DNS domain for memcached FQDNs (default cluster.local)\n"
		"  --exporter-image IMAGE    image of the mcrouter exporter sidecar (spec.monitoring.exporter):\n"
		"                            memshack's own (default " GATEWAY_DEFAULT_EXPORTER_IMAGE ")\n"
		"  --pool-removal-delay S    at most this many seconds a removed pool waits for every gateway\n"
		"                            to confirm the new config (default 60; 0: none, it goes once\n"
		"                            the config no longer naming it is written)\n"
		"  --gateway-probe-timeout-ms MS  how long to wait for a gateway's config digest (default 500;\n"
		"                            0: gateways are not asked, pools wait the full delay)");
	if (rc) {
		free(rest);
		return rc == 1 ? 0 : 2;
	}
	manager *m = manager_new(&o, "memshack", "memshack.io/operator");
	memshack_controller *mc = m ? memshack_controller_new(m, &mo) : NULL;
	proxy_controller *pc = mc ? proxy_controller_new(m, mo.cluster_domain, mo.exporter_image) : NULL;
	rc = pc ? manager_run(m) : 1;
	manager_free(m); /* stops and frees informers and controllers: only then their contexts */
	memshack_controller_free(mc);
	proxy_controller_free(pc);
	free(rest);
	return rc;
}

static int cmd_crd(void)
{
	json_t *crds = crd_all();
	char *text = crds ? yaml_emit_documents(crds, 0) : NULL;
	json_decref(crds);
	if (!text) {
		fprintf(stderr, "memshack: error: cannot render the CRDs\n");
		return 1;
	}
	fputs(text, stdout);
	free(text);
	return 0;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f)
		return NULL;
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			if (cap >= (64u << 20)) {
				free(buf);
				buf = NULL;
				break;
			}
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

/* The Service (namespace/name) and its EndpointSlices among docs. */
static void find_service(json_t *docs, const char *ns, const char *name, json_t **svc, json_t *slices)
{
	size_t i;
	json_t *d;
	*svc = NULL;
	json_array_foreach (docs, i, d) {
		const char *kind = json_string_value(json_object_get(d, "kind"));
		json_t *meta = json_object_get(d, "metadata");
		const char *dns = json_string_value(json_object_get(meta, "namespace"));
		if (!kind || strcmp(dns ? dns : "default", ns))
			continue;
		if (!strcmp(kind, "Service") && !strcmp((json_string_value(json_object_get(meta, "name"))
								 ? json_string_value(json_object_get(meta, "name"))
								 : ""),
							name))
			*svc = d;
		const char *owner = json_string_value(
			json_object_get(json_object_get(meta, "labels"), "kubernetes.io/service-name"));
		if (!strcmp(kind, "EndpointSlice") && owner && !strcmp(owner, name))
			json_array_append(slices, d);
	}
}

static int render_proxy(json_t *doc, json_t *docs, const gateway_env *env, bool config_only, json_t *out,
			const char *path)
{
	char err[512], why[512];
	proxy_spec *p = NULL;
	const char *name = object_meta_str(doc, "name");
	if (proxy_spec_parse(doc, &p, err, sizeof err)) {
		fprintf(stderr, "memshack: error: %s: MemcachedProxy '%s': %s\n", path, name ? name : "?", err);
		return 1;
	}
	json_t *svc = NULL, *slices = json_array(), *servers = NULL;
	find_service(docs, p->namespace, p->service_name, &svc, slices);
	proxy_servers_result r = proxy_servers(p, svc, slices, env->cluster_domain, &servers, why, sizeof why);
	if (r != PROXY_SERVERS_OK)
		fprintf(stderr,
			"memshack: warning: MemcachedProxy '%s': %s (the config answers errors until servers appear)\n",
			p->name, why);
	if (!servers)
		servers = json_array();
	proxy_desired d;
	int rc = 0;
	if (proxy_desired_build(p, servers, env, &d, err, sizeof err)) {
		fprintf(stderr, "memshack: error: MemcachedProxy '%s': %s\n", p->name, err);
		rc = 1;
	} else {
		if (config_only)
			printf("%s\n", d.config_text);
		else
			json_array_extend(out, d.objects);
		proxy_desired_release(&d);
	}
	json_decref(servers);
	json_decref(slices);
	proxy_spec_free(p);
	return rc;
}

/* Every YAML/JSON document of the file (or "-": stdin), as an array (new reference); NULL after printing why. */
static json_t *load_documents(const char *path)
{
	size_t len = 0;
	char *text = read_all(path, &len);
	if (!text) {
		fprintf(stderr, "memshack: error: cannot read '%s'\n", path);
		return NULL;
	}
	char err[512];
	json_t *docs = yaml_json_load_all(text, len, err, sizeof err);
	free(text);
	if (!docs)
		fprintf(stderr, "memshack: error: %s: %s\n", path, err);
	return docs;
}

/* The Memshack named like doc (same name and namespace) in docs (borrowed), or NULL. */
static json_t *same_memshack(json_t *docs, json_t *doc)
{
	const char *name = object_meta_str(doc, "name"), *ns = object_meta_str(doc, "namespace");
	size_t i;
	json_t *o;
	json_array_foreach (docs, i, o) {
		const char *n = object_meta_str(o, "name"), *on = object_meta_str(o, "namespace");
		if (!strcmp(json_string_value(json_object_get(o, "kind")) ?: "", "Memshack") && n && name &&
		    !strcmp(n, name) && !strcmp(on ?: "", ns ?: ""))
			return o;
	}
	return NULL;
}

/*
 * The plan while the Memshack changes from old (a spec of the same object)
 * to s: a migration's WARMING phase (every new pod taken as ready), or the
 * spec itself when the change needs none.
 */
static memshack_plan render_plan(const memshack_spec *old, const memshack_spec *s)
{
	int ready[MEMSHACK_MAX_POOLS];
	for (int k = 0; k < MEMSHACK_MAX_POOLS; k++)
		ready[k] = s->num_shards;
	migration_input in = { .current = { old->num_shards, old->num_replicas, 0 },
			       .ready = ready,
			       .n_ready = MEMSHACK_MAX_POOLS,
			       .window_s = s->migration_window_s,
			       .warm_exptime_s = s->migration_exptime_s };
	return memshack_migration_step(s, s->migration_mode == MC_MIGRATION_WARMUP, &in).plan;
}

/*
 * Renders one Memshack: its config to stdout (config_only) or its objects
 * appended to out; with from (the documents of the old spec), the objects
 * and config while it migrates from there. 0, or 1 after printing why.
 */
static int render_memshack(json_t *doc, json_t *from, const gateway_env *env, bool config_only, json_t *out,
			   const char *path)
{
	char err[512];
	memshack_spec *spec = NULL, *old = NULL;
	memshack_desired d = { 0 };
	json_t *old_doc = from ? same_memshack(from, doc) : NULL;
	int rc = memshack_spec_parse(doc, &spec, err, sizeof err);
	if (!rc && from && !old_doc)
		rc = spec_fail(err, sizeof err, "not in the --from file");
	else if (!rc && old_doc && !(rc = memshack_spec_parse(old_doc, &old, err, sizeof err))) {
		memshack_plan plan = render_plan(old, spec);
		rc = memshack_desired_build_plan(spec, env, &plan, &d, err, sizeof err);
	} else if (!rc)
		rc = memshack_desired_build(spec, env, &d, err, sizeof err);
	if (rc) {
		const char *name = object_meta_str(doc, "name");
		fprintf(stderr, "memshack: error: %s: Memshack '%s': %s\n", path, name ? name : "?", err);
	} else if (config_only) {
		fputs(d.config_text, stdout), fputc('\n', stdout);
	} else if (json_array_extend(out, d.objects)) {
		rc = 1;
	}
	memshack_desired_release(&d);
	memshack_spec_free(spec);
	memshack_spec_free(old);
	return rc ? 1 : 0;
}

/* Prints the rendered objects as YAML documents or one JSON List. 0, or 1 after printing why. */
static int print_rendered(json_t *out, const char *format)
{
	char *t = NULL;
	if (!strcmp(format, "json")) {
		json_t *list = json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List", "items", out);
		t = list ? json_encode(list, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		json_decref(list);
		if (t)
			puts(t);
	} else {
		t = yaml_emit_documents(out, 0);
		if (t)
			fputs(t, stdout);
	}
	int rc = t ? 0 : 1;
	if (rc)
		fprintf(stderr, "memshack: error: cannot write %s\n", strcmp(format, "json") ? "YAML" : "JSON");
	free(t);
	return rc;
}

static int cmd_render(int argc, char **argv)
{
	static const struct option longopts[] = { { "output", required_argument, NULL, 'o' },
						  { "config-only", no_argument, NULL, 'c' },
						  { "cluster-domain", required_argument, NULL, 'd' },
						  { "endpoints", required_argument, NULL, 'e' },
						  { "exporter-image", required_argument, NULL, 'x' },
						  { "operator-namespace", required_argument, NULL, 'n' },
						  { "from", required_argument, NULL, 'f' },
						  { "help", no_argument, NULL, 'h' },
						  { NULL, 0, NULL, 0 } };
	const char *format = "yaml", *endpoints = NULL, *from_path = NULL;
	gateway_env env = { .cluster_domain = "cluster.local",
			    .exporter_image = GATEWAY_DEFAULT_EXPORTER_IMAGE,
			    .operator_namespace = "memshack-system" };
	bool config_only = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o': format = optarg; break;
		case 'c': config_only = true; break;
		case 'd': env.cluster_domain = optarg; break;
		case 'e': endpoints = optarg; break;
		case 'x': env.exporter_image = optarg; break;
		case 'n': env.operator_namespace = optarg; break;
		case 'f': from_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || (strcmp(format, "yaml") && strcmp(format, "json"))) {
		fprintf(stderr,
			"usage: memshack render [-o yaml|json] [--config-only] [--cluster-domain D] [--endpoints F]\n"
			"                       [--exporter-image IMAGE] [--operator-namespace NS] [--from OLD-FILE] FILE|-\n");
		return 2;
	}
	const char *path = argv[optind];
	json_t *docs = load_documents(path);
	json_t *more = endpoints && docs ? load_documents(endpoints) : NULL;
	if (!docs || (endpoints && (!more || json_array_extend(docs, more)))) {
		json_decref(docs);
		json_decref(more);
		return 1;
	}
	json_decref(more);
	json_t *from = from_path ? load_documents(from_path) : NULL;
	if (from_path && !from) {
		json_decref(docs);
		return 1;
	}
	json_t *out = json_array();
	int rc = 0;
	size_t i;
	json_t *doc;
	json_array_foreach (docs, i, doc) {
		const char *kind = json_string_value(json_object_get(doc, "kind"));
		const char *api = json_string_value(json_object_get(doc, "apiVersion"));
		if (!kind || !api || strcmp(api, MEMSHACK_API_VERSION))
			continue;
		if (!strcmp(kind, "MemcachedProxy")) {
			if (render_proxy(doc, docs, &env, config_only, out, path))
				rc = 1;
			continue;
		}
		if (!strcmp(kind, "Memshack") && render_memshack(doc, from, &env, config_only, out, path))
			rc = 1;
	}
	json_decref(docs);
	json_decref(from);
	if (!config_only && json_array_size(out)) {
		if (print_rendered(out, format))
			rc = 1;
	} else if (!config_only && !rc) {
		fprintf(stderr, "memshack: error: %s: no memshack.io/v1alpha1 Memshack or MemcachedProxy objects\n",
			path);
		rc = 1;
	}
	json_decref(out);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "render"))
		return cmd_render(argc - 1, argv + 1);
	if (!strcmp(cmd, "cachetest"))
		return cachetest_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "mcrouter-exporter"))
		return mcrouter_exporter_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "crd"))
		return cmd_crd();
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("memshack %s\n", MEMSHACK_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "memshack: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
