#define _GNU_SOURCE /* pipe2 */
#include "util/json_encode.h"
#include "kube/kube_credential.h"

#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/sbuf.h"
#include "util/timefmt.h"

extern char **environ;

#define MAX_TOKEN_BYTES (64u << 10)
#define MAX_EXEC_OUTPUT (1u << 20)

struct kube_credential {
	pthread_mutex_t mu;
	char *static_token;
	char *token_file;
	kube_exec_config *exec; /* borrowed copy owned here */
	char *server;           /* for KUBERNETES_EXEC_INFO cluster info */
	/* cache */
	kube_auth cached;
	bool have_cached;
	int64_t refresh_at_mono_us; /* token file: re-read after this */
	int64_t expires_at_us;      /* exec: wall-clock expiry, 0 = none */
};

void kube_auth_release(kube_auth *a)
{
	if (!a)
		return;
	free(a->token);
	free(a->cert.data);
	free(a->key.data);
	memset(a, 0, sizeof *a);
}

static int blob_copy(kube_blob *dst, const kube_blob *src)
{
	dst->data = NULL;
	dst->len = 0;
	if (!src->data)
		return 0;
	dst->data = malloc(src->len + 1);
	if (!dst->data)
		return -1;
	memcpy(dst->data, src->data, src->len + 1);
	dst->len = src->len;
	return 0;
}

static int auth_copy(kube_auth *dst, const kube_auth *src)
{
	memset(dst, 0, sizeof *dst);
	if ((src->token && !(dst->token = strdup(src->token))) || blob_copy(&dst->cert, &src->cert) ||
	    blob_copy(&dst->key, &src->key)) {
		kube_auth_release(dst);
		return -1;
	}
	return 0;
}

static void exec_free(kube_exec_config *x)
{
	if (!x)
		return;
	free(x->api_version);
	free(x->command);
	for (size_t i = 0; i < x->n_args; i++)
		free(x->args[i]);
	free(x->args);
	for (size_t i = 0; i < x->n_env; i++)
		free(x->env[i]);
	free(x->env);
	free(x);
}

static kube_exec_config *exec_copy(const kube_exec_config *src)
{
	kube_exec_config *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->provide_cluster_info = src->provide_cluster_info;
	x->api_version = strdup(src->api_version);
	x->command = strdup(src->command);
	x->args = calloc(src->n_args + 1, sizeof *x->args);
	x->env = calloc(src->n_env + 1, sizeof *x->env);
	bool ok = x->api_version && x->command && x->args && x->env;
	for (size_t i = 0; ok && i < src->n_args; i++, x->n_args++)
		ok = (x->args[i] = strdup(src->args[i])) != NULL;
	for (size_t i = 0; ok && i < src->n_env; i++, x->n_env++)
		ok = (x->env[i] = strdup(src->env[i])) != NULL;
	if (!ok) {
		exec_free(x);
		return NULL;
	}
	return x;
}

int kube_credential_new(const kube_config *cfg, kube_credential **ret, kube_error *err)
{
	kube_credential *c = calloc(1, sizeof *c);
	if (!c)
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&c->mu, NULL);
	bool ok = true;
	if (cfg->token)
		ok &= (c->static_token = strdup(cfg->token)) != NULL;
	if (cfg->token_file)
		ok &= (c->token_file = strdup(cfg->token_file)) != NULL;
	if (cfg->exec)
		ok &= (c->exec = exec_copy(cfg->exec)) != NULL;
	if (cfg->server)
		ok &= (c->server = strdup(cfg->server)) != NULL;
	if (!ok) {
		kube_credential_free(c);
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	}
	*ret = c;
	return 0;
}

void kube_credential_free(kube_credential *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c->static_token);
	free(c->token_file);
	exec_free(c->exec);
	free(c->server);
	kube_auth_release(&c->cached);
	free(c);
}

bool kube_credential_refreshable(const kube_credential *c)
{
	return c->exec || (c->token_file && !c->static_token);
}

void kube_credential_invalidate(kube_credential *c)
{
	pthread_mutex_lock(&c->mu);
	c->have_cached = false;
	kube_auth_release(&c->cached);
	pthread_mutex_unlock(&c->mu);
}

static int read_token_file(const char *path, kube_auth *out, kube_error *err)
{
	kube_blob b = { 0 };
	kube_error e = KUBE_ERROR_INIT;
	if (kube_config_read_file(path, MAX_TOKEN_BYTES, &b, &e)) {
		kube_error_set(err, KUBE_ERR_AUTH, "token file: %s", e.message ? e.message : path);
		kube_error_release(&e);
		return -1;
	}
	/* Trim surrounding whitespace (files usually end in a newline). */
	char *s = (char *)b.data;
	size_t start = strspn(s, " \t\r\n"), end = b.len;
	while (end > start && strchr(" \t\r\n", s[end - 1]))
		end--;
	if (end == start) {
		free(b.data);
		return kube_error_set(err, KUBE_ERR_AUTH, "token file '%s' is empty", path);
	}
	out->token = strndup(s + start, end - start);
	free(b.data);
	return out->token ? 0 : kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
}

int kube_exec_credential_parse(const char *text, size_t len, const char *api_version, kube_auth *ret,
			       long long *ret_expiry_us, kube_error *err)
{
	json_error_t je;
	json_t *doc = json_loadb(text, len, 0, &je);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return kube_error_set(err, KUBE_ERR_AUTH, "exec plugin output is not a JSON object: %s", je.text);
	}
	int rc = -1;
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	const char *api = json_string_value(json_object_get(doc, "apiVersion"));
	json_t *st = json_object_get(doc, "status");
	const char *token = json_string_value(json_object_get(st, "token"));
	const char *cert = json_string_value(json_object_get(st, "clientCertificateData"));
	const char *key = json_string_value(json_object_get(st, "clientKeyData"));
	const char *exp = json_string_value(json_object_get(st, "expirationTimestamp"));
	kube_auth a = { 0 };
	int64_t expiry = 0;
	if (!kind || strcmp(kind, "ExecCredential")) {
		kube_error_set(err, KUBE_ERR_AUTH, "exec plugin output has kind '%s', want ExecCredential",
			       kind ? kind : "");
	} else if (!api || strcmp(api, api_version)) {
		kube_error_set(err, KUBE_ERR_AUTH, "exec plugin answered apiVersion '%s', want '%s'", api ? api : "",
			       api_version);
	} else if (!json_is_object(st)) {
		kube_error_set(err, KUBE_ERR_AUTH, "exec plugin output has no status");
	} else if ((token && *token) == ((cert && *cert) || (key && *key))) {
		kube_error_set(
			err, KUBE_ERR_AUTH,
			"exec plugin status must hold either a token or clientCertificateData and clientKeyData");
	} else if (!token && (!cert || !*cert || !key || !*key)) {
		kube_error_set(err, KUBE_ERR_AUTH,
			       "exec plugin status has only one of clientCertificateData and clientKeyData");
	} else if (exp && timefmt_parse_rfc3339(exp, &expiry)) {
		kube_error_set(err, KUBE_ERR_AUTH, "exec plugin expirationTimestamp '%s' is not RFC 3339", exp);
	} else {
		bool ok = true;
		if (token)
			ok = (a.token = strdup(token)) != NULL;
		else {
			ok = (a.cert.data = (unsigned char *)strdup(cert)) &&
			     (a.key.data = (unsigned char *)strdup(key));
			a.cert.len = strlen(cert);
			a.key.len = strlen(key);
		}
		if (!ok) {
			kube_auth_release(&a);
			kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		} else {
			*ret = a;
			*ret_expiry_us = expiry;
			rc = 0;
		}
	}
	json_decref(doc);
	return rc;
}

/* Runs the plugin; its stdout in *out, a bounded tail of stderr in *errtext. */
/* "KUBERNETES_EXEC_INFO=<ExecCredential JSON>" for the plugin's environment (caller frees), or NULL (no memory). */
static char *exec_info_env(const kube_credential *c)
{
	const kube_exec_config *x = c->exec;
	json_t *spec = json_pack("{s:b}", "interactive", 0);
	if (spec && x->provide_cluster_info && c->server &&
	    json_object_set_new(spec, "cluster", json_pack("{s:s}", "server", c->server))) {
		json_decref(spec);
		spec = NULL; /* never an ExecCredential without the cluster it asked for */
	}
	json_t *ei = json_pack("{s:s, s:s, s:o}", "apiVersion", x->api_version, "kind", "ExecCredential", "spec", spec);
	char *ei_text = ei ? json_encode(ei, JSON_COMPACT) : NULL;
	json_decref(ei);
	sbuf info = SBUF_INIT;
	char *env = ei_text && !sbuf_addf(&info, "KUBERNETES_EXEC_INFO=%s", ei_text) ? sbuf_detach(&info) : NULL;
	sbuf_release(&info);
	free(ei_text);
	return env;
}

/*
 * Reads the plugin's stdout into out and the tail of its stderr into errtext
 * until both close, within KUBE_EXEC_TIMEOUT_S. 0, or -1 with err set (the
 * plugin was killed: too slow, or too much output).
 */
static int read_plugin_output(pid_t pid, const char *command, int out_fd, int err_fd, sbuf *out, sbuf *errtext,
			      kube_error *err)
{
	int64_t deadline = clock_mono_us() + (int64_t)KUBE_EXEC_TIMEOUT_S * 1000000;
	bool out_open = true, err_open = true, overflow = false;
	while (out_open || err_open) {
		int64_t left = deadline - clock_mono_us();
		if (left <= 0) {
			kill(pid, SIGKILL);
			return kube_error_set(err, KUBE_ERR_AUTH, "exec plugin '%s' did not finish within %d s",
					      command, KUBE_EXEC_TIMEOUT_S);
		}
		struct pollfd pf[2] = { { out_open ? out_fd : -1, POLLIN, 0 }, { err_open ? err_fd : -1, POLLIN, 0 } };
		int pr = poll(pf, 2, (int)(left / 1000) + 1);
		if (pr < 0 && errno != EINTR) {
			kill(pid, SIGKILL);
			return kube_error_set(err, KUBE_ERR_AUTH, "exec plugin: poll: %s", strerror(errno));
		}
		char buf[4096];
		for (int i = 0; i < 2; i++) {
			if (pr <= 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(pf[i].fd, buf, sizeof buf);
			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				if (i == 0)
					out_open = false;
				else
					err_open = false;
				continue;
			}
			if (i == 0) {
				if (sbuf_add(out, buf, (size_t)n))
					overflow = true;
			} else {
				/* stderr only explains a failure: a chunk lost to no memory shortens the explanation. */
				if (sbuf_add(errtext, buf, (size_t)n) < 0)
					continue;
				if (errtext->len > 2048)
					sbuf_consume(errtext, errtext->len - 1024);
			}
		}
	}
	if (overflow) {
		kill(pid, SIGKILL);
		return kube_error_set(err, KUBE_ERR_AUTH, "exec plugin '%s' wrote more than %u bytes", command,
				      MAX_EXEC_OUTPUT);
	}
	return 0;
}

/* Reaps the plugin; when it had run to the end (ran_ok), a non-zero exit or a signal is the error (with its stderr's tail). */
static int reap_plugin(pid_t pid, const char *command, bool ran_ok, const sbuf *errtext, kube_error *err)
{
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!ran_ok)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	size_t n = errtext->len;
	while (n && (errtext->buf[n - 1] == '\n' || errtext->buf[n - 1] == '\r'))
		n--;
	if (WIFEXITED(status))
		return kube_error_set(err, KUBE_ERR_AUTH, "exec plugin '%s' exited with status %d%s%.*s", command,
				      WEXITSTATUS(status), n ? ": " : "", (int)(n > 300 ? 300 : n), errtext->buf);
	return kube_error_set(err, KUBE_ERR_AUTH, "exec plugin '%s' was killed by signal %d", command,
			      WTERMSIG(status));
}

static int run_plugin(const kube_credential *c, sbuf *out, sbuf *errtext, kube_error *err)
{
	const kube_exec_config *x = c->exec;
	int rc = -1;
	char **argv = NULL, **envp = NULL;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	bool fa_init = false;
	char *info = exec_info_env(c);
	size_t n_env = 0;
	while (environ && environ[n_env])
		n_env++;
	envp = calloc(n_env + x->n_env + 2, sizeof *envp);
	argv = calloc(x->n_args + 2, sizeof *argv);
	if (!info || !envp || !argv) {
		kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		goto out;
	}
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++) {
		if (strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21))
			envp[k++] = environ[i];
	}
	for (size_t i = 0; i < x->n_env; i++)
		envp[k++] = x->env[i];
	envp[k++] = info;
	argv[0] = x->command;
	for (size_t i = 0; i < x->n_args; i++)
		argv[i + 1] = x->args[i];

	if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		kube_error_set(err, KUBE_ERR_AUTH, "exec plugin: pipe: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	fa_init = true;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	pid_t pid = -1;
	int e = posix_spawnp(&pid, x->command, &fa, NULL, argv, envp);
	if (e) {
		kube_error_set(err, KUBE_ERR_AUTH, "exec plugin '%s' could not be started: %s", x->command,
			       strerror(e));
		goto out;
	}
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	bool ran_ok = read_plugin_output(pid, x->command, outp[0], errp[0], out, errtext, err) == 0;
	rc = reap_plugin(pid, x->command, ran_ok, errtext, err);
out:
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(argv);
	free(envp);
	free(info);
	return rc;
}

static int refresh_locked(kube_credential *c, kube_error *err)
{
	kube_auth_release(&c->cached);
	c->have_cached = false;
	if (c->exec) {
		sbuf out = SBUF_INIT, errtext = SBUF_INIT;
		out.limit = MAX_EXEC_OUTPUT;
		long long expiry = 0;
		int rc = run_plugin(c, &out, &errtext, err);
		if (!rc)
			rc = kube_exec_credential_parse(out.buf, out.len, c->exec->api_version, &c->cached, &expiry,
							err);
		sbuf_release(&out);
		sbuf_release(&errtext);
		if (rc)
			return -1;
		c->expires_at_us = expiry;
	} else if (c->token_file && !c->static_token) {
		if (read_token_file(c->token_file, &c->cached, err))
			return -1;
		c->refresh_at_mono_us = clock_mono_us() + (int64_t)KUBE_TOKEN_FILE_REFRESH_S * 1000000;
	} else if (c->static_token) {
		if (!(c->cached.token = strdup(c->static_token)))
			return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	}
	c->have_cached = true;
	return 0;
}

int kube_credential_get(kube_credential *c, kube_auth *ret, kube_error *err)
{
	pthread_mutex_lock(&c->mu);
	bool stale = !c->have_cached;
	if (!stale && c->exec && c->expires_at_us && clock_wall_us() >= c->expires_at_us)
		stale = true;
	if (!stale && c->token_file && !c->static_token && !c->exec && clock_mono_us() >= c->refresh_at_mono_us)
		stale = true;
	int rc = 0;
	if (stale)
		rc = refresh_locked(c, err);
	if (!rc && auth_copy(ret, &c->cached))
		rc = kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	pthread_mutex_unlock(&c->mu);
	return rc;
}
