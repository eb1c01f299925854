#include "kube/kube_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/base64.h"
#include "util/sbuf.h"
#include "util/yaml_json.h"

#define MAX_KUBECONFIG_BYTES (16u << 20)
#define MAX_PEM_BYTES (1u << 20)
#define DEFAULT_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static const char *const EXEC_V1 = "client.authentication.k8s.io/v1";
static const char *const EXEC_V1BETA1 = "client.authentication.k8s.io/v1beta1";

void kube_config_options_from_env(kube_config_options *opts)
{
	opts->kubeconfig_env = getenv("KUBECONFIG");
	opts->home = getenv("HOME");
	opts->service_host = getenv("KUBERNETES_SERVICE_HOST");
	opts->service_port = getenv("KUBERNETES_SERVICE_PORT");
}

static void blob_release(kube_blob *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

void kube_config_free(kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->tls_server_name);
	blob_release(&cfg->ca);
	blob_release(&cfg->client_cert);
	blob_release(&cfg->client_key);
	free(cfg->token);
	free(cfg->token_file);
	if (cfg->exec) {
		free(cfg->exec->api_version);
		free(cfg->exec->command);
		for (size_t i = 0; i < cfg->exec->n_args; i++)
			free(cfg->exec->args[i]);
		free(cfg->exec->args);
		for (size_t i = 0; i < cfg->exec->n_env; i++)
			free(cfg->exec->env[i]);
		free(cfg->exec->env);
		free(cfg->exec);
	}
	free(cfg->namespace);
	free(cfg->context);
	free(cfg->origin);
	free(cfg);
}

int kube_config_read_file(const char *path, size_t max, kube_blob *ret, kube_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return kube_error_set(err, KUBE_ERR_CONFIG, "cannot open '%s': %s", path, strerror(errno));
	sbuf sb = SBUF_INIT;
	sb.limit = max;
	char buf[8192];
	size_t n;
	int rc = 0;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		if (sbuf_add(&sb, buf, n)) {
			rc = kube_error_set(err, KUBE_ERR_CONFIG, "'%s' is larger than %zu bytes", path, max);
			break;
		}
	}
	if (!rc && ferror(f))
		rc = kube_error_set(err, KUBE_ERR_CONFIG, "cannot read '%s': %s", path, strerror(errno));
	fclose(f);
	if (rc) {
		sbuf_release(&sb);
		return -1;
	}
	ret->len = sb.len;
	ret->data = (unsigned char *)sbuf_detach(&sb);
	if (!ret->data)
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	return 0;
}

/* ---- JSON access with typed, named errors ---- */

typedef struct where {
	const char *origin;
	const char *what; /* "cluster", "user", "context" */
	const char *name;
	kube_error *err;
} where;

/* Optional string field: 0 with *out NULL when absent, -1 on wrong type. */
static int get_str(const where *w, json_t *obj, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return kube_error_set(w->err, KUBE_ERR_CONFIG, "%s: %s '%s': %s must be a string", w->origin, w->what,
				      w->name, key);
	*out = json_string_value(v);
	if (!**out)
		*out = NULL;
	return 0;
}

static int get_bool(const where *w, json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);
	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return kube_error_set(w->err, KUBE_ERR_CONFIG, "%s: %s '%s': %s must be true or false", w->origin,
				      w->what, w->name, key);
	*out = json_is_true(v);
	return 0;
}

static int dup_to(char **dst, const char *src, kube_error *err)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
}

static bool looks_like_pem(const kube_blob *b)
{
	return b->len && strstr((const char *)b->data, "-----BEGIN ") != NULL;
}

/*
 * PEM material from KEY-data (base64) or KEY (a file). `label` names it in
 * messages. Leaves *out empty when neither is set.
 */
static int load_pem(const where *w, json_t *obj, const char *file_key, kube_blob *out)
{
	char data_key[64];
	snprintf(data_key, sizeof data_key, "%s-data", file_key);
	const char *data, *file;
	if (get_str(w, obj, data_key, &data) || get_str(w, obj, file_key, &file))
		return -1;
	if (data) {
		if (base64_decode(data, strlen(data), &out->data, &out->len))
			return kube_error_set(w->err, KUBE_ERR_CONFIG, "%s: %s '%s': %s is not valid base64", w->origin,
					      w->what, w->name, data_key);
		if (!looks_like_pem(out)) {
			blob_release(out);
			return kube_error_set(w->err, KUBE_ERR_CONFIG, "%s: %s '%s': %s does not hold PEM data",
					      w->origin, w->what, w->name, data_key);
		}
		return 0;
	}
	if (file) {
		kube_error e = KUBE_ERROR_INIT;
		if (kube_config_read_file(file, MAX_PEM_BYTES, out, &e)) {
			kube_error_set(w->err, KUBE_ERR_CONFIG, "%s: %s '%s': %s: %s", w->origin, w->what, w->name,
				       file_key, e.message ? e.message : "unreadable");
			kube_error_release(&e);
			return -1;
		}
		if (!looks_like_pem(out)) {
			blob_release(out);
			return kube_error_set(w->err, KUBE_ERR_CONFIG, "%s: %s '%s': %s '%s' does not hold PEM data",
					      w->origin, w->what, w->name, file_key, file);
		}
	}
	return 0;
}

/* The entry named `name` in the list `list_key` (e.g. "clusters"), and its inner object. */
static json_t *find_named(json_t *doc, const char *list_key, const char *inner_key, const char *name)
{
	json_t *list = json_object_get(doc, list_key);
	size_t i;
	json_t *e;
	json_array_foreach (list, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n && !strcmp(n, name)) {
			json_t *inner = json_object_get(e, inner_key);
			return inner ? inner : json_null();
		}
	}
	return NULL;
}

static int parse_exec(const where *w, json_t *ex, kube_config *cfg)
{
	kube_error *err = w->err;
	if (!json_is_object(ex))
		return kube_error_set(err, KUBE_ERR_CONFIG, "%s: user '%s': exec must be a mapping", w->origin,
				      w->name);
	const char *api, *cmd;
	if (get_str(w, ex, "apiVersion", &api) || get_str(w, ex, "command", &cmd))
		return -1;
	if (!cmd)
		return kube_error_set(err, KUBE_ERR_CONFIG, "%s: user '%s': exec has no command", w->origin, w->name);
	if (!api)
		return kube_error_set(err, KUBE_ERR_CONFIG, "%s: user '%s': exec has no apiVersion", w->origin,
				      w->name);
	if (strcmp(api, EXEC_V1) && strcmp(api, EXEC_V1BETA1))
		return kube_error_set(err, KUBE_ERR_CONFIG,
				      "%s: user '%s': exec apiVersion '%s' is not supported (use %s or %s)", w->origin,
				      w->name, api, EXEC_V1, EXEC_V1BETA1);
	kube_exec_config *x = calloc(1, sizeof *x);
	if (!x)
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	cfg->exec = x;
	if (dup_to(&x->api_version, api, err) || dup_to(&x->command, cmd, err))
		return -1;
	if (get_bool(w, ex, "provideClusterInfo", &x->provide_cluster_info))
		return -1;
	json_t *args = json_object_get(ex, "args");
	if (args && !json_is_null(args)) {
		if (!json_is_array(args))
			return kube_error_set(err, KUBE_ERR_CONFIG, "%s: user '%s': exec args must be a list",
					      w->origin, w->name);
		x->args = calloc(json_array_size(args) + 1, sizeof *x->args);
		if (!x->args)
			return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		size_t i;
		json_t *a;
		json_array_foreach (args, i, a) {
			if (!json_is_string(a))
				return kube_error_set(err, KUBE_ERR_CONFIG,
						      "%s: user '%s': exec args[%zu] must be a string", w->origin,
						      w->name, i);
			if (dup_to(&x->args[x->n_args], json_string_value(a), err))
				return -1;
			x->n_args++;
		}
	}
	json_t *env = json_object_get(ex, "env");
	if (env && !json_is_null(env)) {
		if (!json_is_array(env))
			return kube_error_set(err, KUBE_ERR_CONFIG, "%s: user '%s': exec env must be a list", w->origin,
					      w->name);
		x->env = calloc(json_array_size(env) + 1, sizeof *x->env);
		if (!x->env)
			return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		size_t i;
		json_t *e;
		json_array_foreach (env, i, e) {
			const char *n = json_string_value(json_object_get(e, "name"));
			const char *v = json_string_value(json_object_get(e, "value"));
			if (!n || !*n || strchr(n, '=') || !v)
				return kube_error_set(err, KUBE_ERR_CONFIG,
						      "%s: user '%s': exec env[%zu] needs a name and a value",
						      w->origin, w->name, i);
			sbuf sb = SBUF_INIT;
			if (sbuf_addf(&sb, "%s=%s", n, v))
				return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
			x->env[x->n_env++] = sbuf_detach(&sb);
		}
	}
	return 0;
}

static int parse_user(const where *w, json_t *user, kube_config *cfg)
{
	if (!json_is_object(user))
		return kube_error_set(w->err, KUBE_ERR_CONFIG, "%s: user '%s' must be a mapping", w->origin, w->name);
	const char *token, *token_file;
	if (get_str(w, user, "token", &token) || get_str(w, user, "tokenFile", &token_file))
		return -1;
	if (dup_to(&cfg->token, token, w->err) || dup_to(&cfg->token_file, token_file, w->err))
		return -1;
	if (load_pem(w, user, "client-certificate", &cfg->client_cert) ||
	    load_pem(w, user, "client-key", &cfg->client_key))
		return -1;
	if (!!cfg->client_cert.data != !!cfg->client_key.data)
		return kube_error_set(w->err, KUBE_ERR_CONFIG, "%s: user '%s' has a client %s but no client %s",
				      w->origin, w->name, cfg->client_cert.data ? "certificate" : "key",
				      cfg->client_cert.data ? "key" : "certificate");
	const char *user_name, *password;
	if (get_str(w, user, "username", &user_name) || get_str(w, user, "password", &password))
		return -1;
	if (user_name || password)
		return kube_error_set(w->err, KUBE_ERR_CONFIG,
				      "%s: user '%s': basic authentication (username/password) is not supported by "
				      "Kubernetes since 1.19",
				      w->origin, w->name);
	if (json_object_get(user, "auth-provider"))
		return kube_error_set(w->err, KUBE_ERR_CONFIG,
				      "%s: user '%s': auth-provider plugins were removed from Kubernetes; use exec",
				      w->origin, w->name);
	json_t *ex = json_object_get(user, "exec");
	if (ex && !json_is_null(ex) && parse_exec(w, ex, cfg))
		return -1;
	return 0;
}

static int parse_cluster(const where *w, json_t *cl, kube_config *cfg)
{
	if (!json_is_object(cl))
		return kube_error_set(w->err, KUBE_ERR_CONFIG, "%s: cluster '%s' must be a mapping", w->origin,
				      w->name);
	const char *server, *sni;
	if (get_str(w, cl, "server", &server) || get_str(w, cl, "tls-server-name", &sni) ||
	    get_bool(w, cl, "insecure-skip-tls-verify", &cfg->insecure_skip_tls_verify))
		return -1;
	if (!server)
		return kube_error_set(w->err, KUBE_ERR_CONFIG, "%s: cluster '%s' has no server", w->origin, w->name);
	if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))
		return kube_error_set(w->err, KUBE_ERR_CONFIG,
				      "%s: cluster '%s': server '%s' must start with https:// or http://", w->origin,
				      w->name, server);
	size_t n = strlen(server);
	while (n > 8 && server[n - 1] == '/')
		n--;
	cfg->server = strndup(server, n);
	if (!cfg->server || dup_to(&cfg->tls_server_name, sni, w->err))
		return kube_error_set(w->err, KUBE_ERR_NOMEM, "out of memory");
	if (load_pem(w, cl, "certificate-authority", &cfg->ca))
		return -1;
	if (cfg->insecure_skip_tls_verify && cfg->ca.data)
		return kube_error_set(w->err, KUBE_ERR_CONFIG,
				      "%s: cluster '%s': insecure-skip-tls-verify and a certificate authority "
				      "cannot both be set",
				      w->origin, w->name);
	return 0;
}

int kube_config_from_json(json_t *doc, const char *origin, const char *context, kube_config **ret, kube_error *err)
{
	if (!json_is_object(doc))
		return kube_error_set(err, KUBE_ERR_CONFIG, "%s: not a kubeconfig (expected a mapping)", origin);
	where w = { origin, "kubeconfig", origin, err };
	const char *current;
	if (get_str(&w, doc, "current-context", &current))
		return -1;
	const char *ctx_name = context && *context ? context : current;
	if (!ctx_name)
		return kube_error_set(err, KUBE_ERR_CONFIG, "%s: no current-context is set (pass --context)", origin);
	json_t *ctx = find_named(doc, "contexts", "context", ctx_name);
	if (!ctx)
		return kube_error_set(err, KUBE_ERR_CONFIG, "%s: context '%s' not found", origin, ctx_name);
	w.what = "context";
	w.name = ctx_name;
	if (!json_is_object(ctx))
		return kube_error_set(err, KUBE_ERR_CONFIG, "%s: context '%s' must be a mapping", origin, ctx_name);
	const char *cluster_name, *user_name, *ns;
	if (get_str(&w, ctx, "cluster", &cluster_name) || get_str(&w, ctx, "user", &user_name) ||
	    get_str(&w, ctx, "namespace", &ns))
		return -1;
	if (!cluster_name)
		return kube_error_set(err, KUBE_ERR_CONFIG, "%s: context '%s' names no cluster", origin, ctx_name);
	json_t *cl = find_named(doc, "clusters", "cluster", cluster_name);
	if (!cl)
		return kube_error_set(err, KUBE_ERR_CONFIG,
				      "%s: context '%s' refers to cluster '%s', which is not defined", origin, ctx_name,
				      cluster_name);
	json_t *user = NULL;
	if (user_name) {
		user = find_named(doc, "users", "user", user_name);
		if (!user)
			return kube_error_set(err, KUBE_ERR_CONFIG,
					      "%s: context '%s' refers to user '%s', which is not defined", origin,
					      ctx_name, user_name);
	}
	kube_config *cfg = calloc(1, sizeof *cfg);
	if (!cfg)
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	w.what = "cluster";
	w.name = cluster_name;
	int rc = parse_cluster(&w, cl, cfg);
	if (!rc && user && !json_is_null(user)) {
		w.what = "user";
		w.name = user_name;
		rc = parse_user(&w, user, cfg);
	}
	if (!rc && (dup_to(&cfg->namespace, ns ? ns : "default", err) || dup_to(&cfg->context, ctx_name, err) ||
		    dup_to(&cfg->origin, origin, err)))
		rc = -1;
	if (rc) {
		kube_config_free(cfg);
		return -1;
	}
	*ret = cfg;
	return 0;
}

/* ---- files: relative paths and merging ---- */

static char *join_path(const char *dir, const char *p)
{
	if (!dir || !*dir || p[0] == '/')
		return strdup(p);
	sbuf sb = SBUF_INIT;
	if (sbuf_addf(&sb, "%s/%s", dir, p)) {
		sbuf_release(&sb);
		return NULL;
	}
	return sbuf_detach(&sb);
}

static int resolve_key(json_t *obj, const char *key, const char *dir, bool only_if_path)
{
	const char *p = json_string_value(json_object_get(obj, key));
	if (!p || !*p || p[0] == '/')
		return 0;
	if (only_if_path && !strchr(p, '/'))
		return 0; /* a bare command name is looked up on PATH */
	char *abs = join_path(dir, p);
	if (!abs || json_object_set_new(obj, key, json_string(abs))) {
		free(abs);
		return -1;
	}
	free(abs);
	return 0;
}

/* Makes the file paths of one kubeconfig document absolute. */
static int resolve_paths(json_t *doc, const char *dir)
{
	size_t i;
	json_t *e;
	int r = 0;
	json_array_foreach (json_object_get(doc, "clusters"), i, e) {
		json_t *c = json_object_get(e, "cluster");
		if (json_is_object(c))
			r |= resolve_key(c, "certificate-authority", dir, false);
	}
	json_array_foreach (json_object_get(doc, "users"), i, e) {
		json_t *u = json_object_get(e, "user");
		if (!json_is_object(u))
			continue;
		r |= resolve_key(u, "client-certificate", dir, false);
		r |= resolve_key(u, "client-key", dir, false);
		r |= resolve_key(u, "tokenFile", dir, false);
		json_t *ex = json_object_get(u, "exec");
		if (json_is_object(ex))
			r |= resolve_key(ex, "command", dir, true);
	}
	return r ? -1 : 0;
}

static int check_lists(json_t *doc, const char *origin, kube_error *err)
{
	static const char *const lists[] = { "clusters", "contexts", "users" };
	if (!json_is_object(doc))
		return kube_error_set(err, KUBE_ERR_CONFIG, "%s: not a kubeconfig (expected a mapping)", origin);
	for (size_t k = 0; k < 3; k++) {
		json_t *l = json_object_get(doc, lists[k]);
		if (!l || json_is_null(l))
			continue;
		if (!json_is_array(l))
			return kube_error_set(err, KUBE_ERR_CONFIG, "%s: %s must be a list", origin, lists[k]);
		size_t i;
		json_t *e;
		json_array_foreach (l, i, e) {
			if (!json_is_object(e) || !json_is_string(json_object_get(e, "name")))
				return kube_error_set(err, KUBE_ERR_CONFIG, "%s: %s[%zu] has no name", origin, lists[k],
						      i);
		}
	}
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Parses a file into a JSON tree with absolute paths. New reference via *ret. */
static int load_doc(const char *text, size_t len, const char *origin, const char *base_dir, json_t **ret,
		    kube_error *err)
{
	char msg[256];
	json_t *doc;
	size_t blank = 0; /* text need not be NUL-terminated */
	while (blank < len && strchr(" \t\r\n", text[blank]) && text[blank])
		blank++;
	if (blank == len)
		doc = json_object(); /* an empty file is an empty config, as in client-go */
	else
		doc = yaml_json_load(text, len, msg, sizeof msg);
	if (!doc)
		return kube_error_set(err, KUBE_ERR_CONFIG, "%s: invalid YAML: %s", origin, msg);
	if (check_lists(doc, origin, err)) {
		json_decref(doc);
		return -1;
	}
	if (resolve_paths(doc, base_dir)) {
		json_decref(doc);
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	}
	*ret = doc;
	return 0;
}

int kube_config_parse(const char *text, size_t len, const char *origin, const char *base_dir, const char *context,
		      kube_config **ret, kube_error *err)
{
	json_t *doc;
	if (load_doc(text, len, origin, base_dir, &doc, err))
		return -1;
	int rc = kube_config_from_json(doc, origin, context, ret, err);
	json_decref(doc);
	return rc;
}

/* Adds the named entries of src's list that dst lacks (first file wins). */
static int merge_list(json_t *dst, json_t *src, const char *key)
{
	json_t *from = json_object_get(src, key);
	if (!json_is_array(from))
		return 0;
	json_t *to = json_object_get(dst, key);
	if (!to) {
		to = json_array();
		if (!to || json_object_set_new(dst, key, to))
			return -1;
	}
	size_t i, j;
	json_t *e, *have;
	json_array_foreach (from, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		bool dup = false;
		json_array_foreach (to, j, have) {
			if (!strcmp(json_string_value(json_object_get(have, "name")), name))
				dup = true;
		}
		if (!dup && json_array_append(to, e))
			return -1;
	}
	return 0;
}

static int load_files(const char *list, const char *context, bool is_list, kube_config **ret, kube_error *err)
{
	json_t *merged = json_object();
	sbuf origin = SBUF_INIT;
	char *copy = strdup(list);
	int rc = -1, found = 0;
	if (!merged || !copy) {
		kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		goto out;
	}
	char *save = NULL;
	/* An explicit path is one file that must exist; KUBECONFIG is a list whose missing files are skipped. */
	for (char *p = is_list ? strtok_r(copy, ":", &save) : copy; p;
	     p = is_list ? strtok_r(NULL, ":", &save) : NULL) {
		if (!*p)
			continue;
		if (is_list && access(p, F_OK) != 0)
			continue;
		kube_blob b = { 0 };
		if (kube_config_read_file(p, MAX_KUBECONFIG_BYTES, &b, err))
			goto out;
		char *dir = dir_of(p);
		json_t *doc = NULL;
		int r = dir ? load_doc((const char *)b.data, b.len, p, dir, &doc, err)
			    : kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		free(dir);
		blob_release(&b);
		if (r)
			goto out;
		const char *cur = json_string_value(json_object_get(doc, "current-context"));
		if (cur && *cur && !json_object_get(merged, "current-context"))
			json_object_set_new(merged, "current-context", json_string(cur));
		if (merge_list(merged, doc, "clusters") || merge_list(merged, doc, "contexts") ||
		    merge_list(merged, doc, "users")) {
			json_decref(doc);
			kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
			goto out;
		}
		json_decref(doc);
		if (sbuf_addf(&origin, "%s%s", found ? ":" : "", p) < 0) {
			kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
			goto out;
		}
		found++;
	}
	if (!found) {
		kube_error_set(err, KUBE_ERR_CONFIG, "KUBECONFIG='%s' names no existing file", list);
		goto out;
	}
	rc = kube_config_from_json(merged, origin.buf, context, ret, err);
out:
	json_decref(merged);
	sbuf_release(&origin);
	free(copy);
	return rc;
}

int kube_config_in_cluster(const kube_config_options *opts, kube_config **ret, kube_error *err)
{
	const char *host = opts->service_host, *port = opts->service_port;
	if (!host || !*host || !port || !*port)
		return kube_error_set(
			err, KUBE_ERR_CONFIG,
			"not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset");
	const char *dir = opts->sa_dir ? opts->sa_dir : DEFAULT_SA_DIR;
	kube_config *cfg = calloc(1, sizeof *cfg);
	if (!cfg)
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	cfg->in_cluster = true;
	sbuf sb = SBUF_INIT;
	int rc = 0;
	if (strchr(host, ':'))
		rc |= sbuf_addf(&sb, "https://[%s]:%s", host, port);
	else
		rc |= sbuf_addf(&sb, "https://%s:%s", host, port);
	cfg->server = sbuf_detach(&sb);
	rc |= sbuf_addf(&sb, "%s/token", dir);
	cfg->token_file = sbuf_detach(&sb);
	cfg->origin = strdup("in-cluster");
	if (rc || !cfg->server || !cfg->token_file || !cfg->origin) {
		kube_config_free(cfg);
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	}
	if (access(cfg->token_file, R_OK) != 0) {
		kube_error_set(err, KUBE_ERR_CONFIG, "in-cluster: cannot read the service-account token '%s': %s",
			       cfg->token_file, strerror(errno));
		kube_config_free(cfg);
		return -1;
	}
	rc = sbuf_addf(&sb, "%s/ca.crt", dir) < 0 ? kube_error_set(err, KUBE_ERR_NOMEM, "out of memory")
						  : kube_config_read_file(sb.buf, MAX_PEM_BYTES, &cfg->ca, err);
	sbuf_reset(&sb);
	if (!rc) {
		kube_blob ns = { 0 };
		kube_error ignore = KUBE_ERROR_INIT;
		/* The namespace file is optional ("default" without it); a path that cannot be built reads as absent. */
		if (sbuf_addf(&sb, "%s/namespace", dir) == 0 && kube_config_read_file(sb.buf, 256, &ns, &ignore) == 0) {
			size_t n = strcspn((const char *)ns.data, " \t\r\n");
			cfg->namespace = n ? strndup((const char *)ns.data, n) : NULL;
			blob_release(&ns);
		}
		kube_error_release(&ignore);
		if (!cfg->namespace && !(cfg->namespace = strdup("default")))
			rc = kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	}
	sbuf_release(&sb);
	if (rc) {
		kube_config_free(cfg);
		return -1;
	}
	*ret = cfg;
	return 0;
}

int kube_config_load(const kube_config_options *opts, kube_config **ret, kube_error *err)
{
	if (opts->kubeconfig && *opts->kubeconfig)
		return load_files(opts->kubeconfig, opts->context, false, ret, err);
	if (opts->kubeconfig_env && *opts->kubeconfig_env)
		return load_files(opts->kubeconfig_env, opts->context, true, ret, err);
	if (opts->service_host && *opts->service_host)
		return kube_config_in_cluster(opts, ret, err);
	if (opts->home && *opts->home) {
		sbuf sb = SBUF_INIT;
		if (sbuf_addf(&sb, "%s/.kube/config", opts->home)) {
			sbuf_release(&sb);
			return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		}
		if (access(sb.buf, F_OK) == 0) {
			int rc = load_files(sb.buf, opts->context, false, ret, err);
			sbuf_release(&sb);
			return rc;
		}
		sbuf_release(&sb);
	}
	return kube_error_set(err, KUBE_ERR_CONFIG,
			      "no configuration: pass --kubeconfig, set KUBECONFIG, run in a cluster, or create "
			      "~/.kube/config");
}
