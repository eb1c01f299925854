/*
 * kube_client — HTTP requests to the Kubernetes API. Thread-safe.
 *
 * One client serves any number of threads: libcurl easy handles are pooled
 * and their connections, TLS sessions and DNS cache are shared, so requests
 * reuse connections (HTTP/2 where the server offers it over TLS).
 *
 * Every request:
 *  - authenticates with the kube_credential (bearer token) or the client
 *    certificate, verifies the server against the CA (unless the kubeconfig
 *    says insecure-skip-tls-verify), and honours tls-server-name;
 *  - on 401 with a refreshable credential (token file, exec plugin) re-reads
 *    the credential and retries once;
 *  - on 429, or a 5xx carrying Retry-After, waits Retry-After (capped) and
 *    retries, any verb (the server did not act on it);
 *  - on a connection reset or an empty reply retries only GET;
 *  - maps any non-2xx answer to a KUBE_ERR_API kube_error with the Status;
 *  - with a deadline hook (kube_client_set_deadline), never starts an
 *    attempt or a retry wait at or past its deadline and cuts an attempt's
 *    timeout to the time left (KUBE_ERR_DEADLINE).
 */
#ifndef MEMSHACK_KUBE_CLIENT_H
#define MEMSHACK_KUBE_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/kube_config.h"
#include "kube/kube_error.h"
#include "util/must_use.h"

typedef struct kube_client kube_client;

typedef struct kube_client_options {
	long timeout_ms;         /* whole request, default 30000 */
	long connect_timeout_ms; /* default 10000 */
	int max_retries;         /* retries for 429 / resets, default (0) 5; negative: none */
	long max_retry_after_s;  /* cap on an honoured Retry-After, default 30 */
	const char *user_agent;  /* default "memshack/<version>" */
} kube_client_options;

/* Called after every HTTP exchange (retries included); code 0 = no response. */
typedef void (*kube_request_observer)(void *ud, const char *method, long code, double seconds);

/* opts may be NULL. Copies what it needs from cfg. Free with kube_client_free(). */
MEMSHACK_MUST_USE int kube_client_new(const kube_config *cfg, const kube_client_options *opts, kube_client **ret,
				      kube_error *err);
void kube_client_free(kube_client *c);
void kube_client_set_observer(kube_client *c, kube_request_observer fn, void *ud);
/*
 * The deadline of a request: called before every attempt and every retry
 * wait with the request's method; returns a CLOCK_MONOTONIC time in µs
 * (clock_mono_us) the attempt must end by, or INT64_MAX for none. A
 * deadline already passed refuses the request with KUBE_ERR_DEADLINE before
 * anything is sent. Called from any thread that makes requests: fn must be
 * thread-safe. Set it before the client is shared; NULL removes it.
 * Streams (kube_stream) are not bounded by it.
 */
typedef int64_t (*kube_deadline_fn)(void *ud, const char *method);
void kube_client_set_deadline(kube_client *c, kube_deadline_fn fn, void *ud);
/* The default namespace from the configuration. Borrowed, never NULL. */
const char *kube_client_namespace(const kube_client *c);
/* The server URL. Borrowed. */
const char *kube_client_server(const kube_client *c);

/*
 * One request. `path` starts with '/' and may carry a query. On any HTTP
 * answer *ret_status is set; on 2xx returns 0 and, if ret_body is not NULL,
 * the body (NUL-terminated, caller frees) in *ret_body / *ret_len. A non-2xx
 * answer returns -1 with a KUBE_ERR_API error.
 */
MEMSHACK_MUST_USE int kube_request(kube_client *c, const char *method, const char *path, const char *content_type,
				   const char *body, size_t body_len, long *ret_status, char **ret_body,
				   size_t *ret_len, kube_error *err);

/*
 * A streaming GET (watch): `on_data` receives the body as it arrives, in
 * arbitrary chunks; it returns 0 to continue or non-zero to stop (the call
 * then returns 0). `timeout_s` bounds the whole request (0 = none);
 * `idle_timeout_s` drops a connection silent for that long (0 = none).
 * About once a second on_data is also called with (NULL, 0): a chance to
 * stop a silent stream. Not retried. A non-2xx answer returns -1 with its
 * Status (410 Gone included).
 */
typedef int (*kube_stream_fn)(void *ud, const char *data, size_t len);
MEMSHACK_MUST_USE int kube_stream(kube_client *c, const char *path, kube_stream_fn on_data, void *ud, long timeout_s,
				  long idle_timeout_s, kube_error *err);

/* ---- JSON conveniences; `ret` may be NULL; returned objects are new references ---- */

MEMSHACK_MUST_USE int kube_get(kube_client *c, const char *path, json_t **ret, kube_error *err);
MEMSHACK_MUST_USE int kube_create(kube_client *c, const char *path, json_t *obj, json_t **ret, kube_error *err);
/* PUT: obj should carry metadata.resourceVersion; a stale one gives 409 Conflict. */
MEMSHACK_MUST_USE int kube_replace(kube_client *c, const char *path, json_t *obj, json_t **ret, kube_error *err);

typedef enum kube_patch_type {
	KUBE_PATCH_MERGE,     /* application/merge-patch+json */
	KUBE_PATCH_JSON,      /* application/json-patch+json */
	KUBE_PATCH_STRATEGIC, /* built-in types only */
} kube_patch_type;
MEMSHACK_MUST_USE int kube_patch(kube_client *c, const char *path, kube_patch_type type, json_t *patch, json_t **ret,
				 kube_error *err);

/* Server-side apply of `obj` (must carry apiVersion, kind, metadata.name) as `field_manager`. */
MEMSHACK_MUST_USE int kube_apply(kube_client *c, const char *path, json_t *obj, const char *field_manager, bool force,
				 json_t **ret, kube_error *err);

/* propagation: "Foreground", "Background", "Orphan" or NULL (server default). */
MEMSHACK_MUST_USE int kube_delete(kube_client *c, const char *path, const char *propagation, json_t **ret,
				  kube_error *err);
/* The same, only if the object still has this UID (preconditions.uid): never deletes a re-created object. */
MEMSHACK_MUST_USE int kube_delete_uid(kube_client *c, const char *path, const char *propagation, const char *uid,
				      json_t **ret, kube_error *err);

typedef struct kube_list_options {
	const char *label_selector; /* or NULL */
	const char *field_selector; /* or NULL */
	unsigned limit;             /* page size; 0 = 500 */
	/*
	 * Or NULL: called on each item (a JSON object the list owns) as its
	 * page arrives, before the next page is asked for; it may delete what
	 * the caller will never read, so that a long list holds no more than
	 * what is kept of it (the full text and tree of one page at a time).
	 */
	void (*trim_item)(void *ud, json_t *item);
	void *trim_ud;
} kube_list_options;

/*
 * Lists a collection page by page (limit/continue) into one List object:
 * {"items": [...], "metadata": {"resourceVersion": RV}, "undecodable":
 * [{"object": IDENTITY, "reason": "..."}], "unnamed": N} (new reference).
 * Items are decoded one by one (kube_decode.h): an item that cannot be
 * decoded never fails the list; it is named in undecodable (or only
 * counted in unnamed when not even its name can be read). If a continue
 * token expires (410) mid-way, the list starts again (at most 3 times).
 * opts may be NULL.
 */
MEMSHACK_MUST_USE int kube_list(kube_client *c, const char *path, const kube_list_options *opts, json_t **ret,
				kube_error *err);

#endif
