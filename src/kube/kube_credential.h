/*
 * kube_credential — the bearer token or client certificate presented to the
 * API server, kept fresh. Thread-safe.
 *
 *  - static token (kubeconfig `token`): used as is.
 *  - token file (kubeconfig `tokenFile`, in-cluster service-account token):
 *    re-read every 60 s and after kube_credential_invalidate() (a 401), so
 *    rotated bound tokens are picked up without a restart.
 *  - exec plugin (client.authentication.k8s.io v1/v1beta1): the command is
 *    run with an argv (never a shell), stdin from /dev/null, the kubeconfig's
 *    env added, KUBERNETES_EXEC_INFO set; its ExecCredential is cached until
 *    status.expirationTimestamp, or until invalidated. A plugin that runs
 *    longer than 60 s is killed.
 */
#ifndef MEMSHACK_KUBE_CREDENTIAL_H
#define MEMSHACK_KUBE_CREDENTIAL_H

#include <stdbool.h>

#include "kube/kube_config.h"
#include "kube/kube_error.h"
#include "util/must_use.h"

typedef struct kube_auth {
	char *token;    /* bearer token, or NULL */
	kube_blob cert; /* PEM client certificate from an exec plugin, or empty */
	kube_blob key;  /* PEM key for it */
} kube_auth;

typedef struct kube_credential kube_credential;

#define KUBE_TOKEN_FILE_REFRESH_S 60
#define KUBE_EXEC_TIMEOUT_S 60

/* Copies what it needs from cfg. Free with kube_credential_free(). */
MEMSHACK_MUST_USE int kube_credential_new(const kube_config *cfg, kube_credential **ret, kube_error *err);
void kube_credential_free(kube_credential *cred);

/*
 * The credential to send now, as copies in *ret (release with
 * kube_auth_release). An empty kube_auth means "no credential" (anonymous or
 * client certificate from the kubeconfig, which the client handles).
 */
MEMSHACK_MUST_USE int kube_credential_get(kube_credential *cred, kube_auth *ret, kube_error *err);

/* Forgets the cached credential so the next get re-reads or re-runs it. */
void kube_credential_invalidate(kube_credential *cred);

/* Whether invalidating can produce a different credential (file or exec). */
bool kube_credential_refreshable(const kube_credential *cred);

void kube_auth_release(kube_auth *auth);

/*
 * Decodes an ExecCredential document (pure). On success sets the token or
 * cert/key in *ret and *ret_expiry_us (0 = no expiry). `api_version` is what
 * the kubeconfig asked for.
 */
int kube_exec_credential_parse(const char *json_text, size_t len, const char *api_version, kube_auth *ret,
			       long long *ret_expiry_us, kube_error *err);

#endif
