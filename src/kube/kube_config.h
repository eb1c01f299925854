/*
 * kube_config — where the API server is and how to authenticate to it.
 *
 * Sources, in this order (as controller-runtime does):
 *   1. an explicit kubeconfig path (--kubeconfig);
 *   2. KUBECONFIG, a ':'-separated list of files merged so that the first
 *      file to set a value wins (missing files are skipped);
 *   3. in-cluster: KUBERNETES_SERVICE_HOST/PORT plus the service-account
 *      token, CA and namespace files;
 *   4. ~/.kube/config.
 *
 * Kubeconfig fields understood: current-context; contexts[].context.{cluster,
 * user,namespace}; clusters[].cluster.{server, certificate-authority(-data),
 * insecure-skip-tls-verify, tls-server-name}; users[].user.{token, tokenFile,
 * client-certificate(-data), client-key(-data), exec}. Relative file paths
 * resolve against the folder of the file that names them. Files named by
 * certificate-authority / client-certificate / client-key are read at load
 * time; the token file is re-read by kube_credential.
 *
 * Every problem yields KUBE_ERR_CONFIG with a one-line message naming the
 * file, the entry and the field.
 */
#ifndef MEMSHACK_KUBE_CONFIG_H
#define MEMSHACK_KUBE_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/kube_error.h"
#include "util/must_use.h"

typedef struct kube_blob {
	unsigned char *data; /* NUL-terminated; len excludes the NUL */
	size_t len;
} kube_blob;

typedef struct kube_exec_config {
	char *api_version; /* client.authentication.k8s.io/v1 or /v1beta1 */
	char *command;
	char **args; /* n_args entries */
	size_t n_args;
	char **env; /* "NAME=value", n_env entries */
	size_t n_env;
	bool provide_cluster_info;
} kube_exec_config;

typedef struct kube_config {
	char *server; /* "https://host:port", no trailing '/' */
	char *tls_server_name;
	bool insecure_skip_tls_verify;
	kube_blob ca;          /* PEM, from -data or the file */
	kube_blob client_cert; /* PEM */
	kube_blob client_key;  /* PEM */
	char *token;
	char *token_file; /* absolute path */
	kube_exec_config *exec;
	char *namespace; /* never NULL: "default" when unset */
	char *context;   /* context used; NULL in cluster */
	char *origin;    /* the file(s) or "in-cluster", for messages */
	bool in_cluster;
} kube_config;

typedef struct kube_config_options {
	const char *kubeconfig;     /* --kubeconfig, or NULL */
	const char *context;        /* --context, or NULL for current-context */
	const char *kubeconfig_env; /* the value of KUBECONFIG, or NULL */
	const char *home;           /* $HOME, or NULL */
	const char *service_host;   /* KUBERNETES_SERVICE_HOST, or NULL */
	const char *service_port;   /* KUBERNETES_SERVICE_PORT, or NULL */
	const char *sa_dir;         /* NULL = /var/run/secrets/kubernetes.io/serviceaccount */
} kube_config_options;

/* Fills the environment-derived fields of opts from getenv(). */
void kube_config_options_from_env(kube_config_options *opts);

/*
 * Loads the configuration as described above. On success stores a new
 * kube_config (free with kube_config_free) in *ret.
 */
MEMSHACK_MUST_USE int kube_config_load(const kube_config_options *opts, kube_config **ret, kube_error *err);

/*
 * Parses one kubeconfig document. `origin` names it in messages; relative
 * paths resolve against base_dir (NULL: the current directory).
 */
MEMSHACK_MUST_USE int kube_config_parse(const char *text, size_t len, const char *origin, const char *base_dir,
					const char *context, kube_config **ret, kube_error *err);

/*
 * Builds the configuration from an already merged kubeconfig JSON tree whose
 * file paths are absolute. Borrowed `doc`.
 */
MEMSHACK_MUST_USE int kube_config_from_json(json_t *doc, const char *origin, const char *context, kube_config **ret,
					    kube_error *err);

/* In-cluster configuration only. */
MEMSHACK_MUST_USE int kube_config_in_cluster(const kube_config_options *opts, kube_config **ret, kube_error *err);

void kube_config_free(kube_config *cfg);

/* Reads a whole file (at most max bytes) into *ret (NUL-terminated; caller frees). */
MEMSHACK_MUST_USE int kube_config_read_file(const char *path, size_t max, kube_blob *ret, kube_error *err);

#endif
