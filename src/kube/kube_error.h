/*
 * kube_error — the one error type of the Kubernetes client.
 *
 * Every fallible client function takes a `kube_error *err` last, returns 0 on
 * success and -1 on failure, and on failure fills *err. A kube_error owns its
 * strings: release it with kube_error_release() (safe on a cleared error and
 * before re-use). An error from the API server carries the HTTP code and the
 * decoded metav1.Status (reason, message, causes).
 */
#ifndef MEMSHACK_KUBE_ERROR_H
#define MEMSHACK_KUBE_ERROR_H

#include <stdbool.h>
#include <stddef.h>

typedef enum kube_error_kind {
	KUBE_OK = 0,
	KUBE_ERR_CONFIG,    /* kubeconfig / in-cluster configuration unusable */
	KUBE_ERR_AUTH,      /* credential could not be obtained (token file, exec plugin) */
	KUBE_ERR_TRANSPORT, /* no HTTP response: connect, TLS, timeout, reset */
	KUBE_ERR_API,       /* the API server answered with an HTTP error status */
	KUBE_ERR_DECODE,    /* the response body was not what the API promises */
	KUBE_ERR_INVALID,   /* a bad argument from the caller (e.g. a name with '/') */
	KUBE_ERR_NOMEM,
	KUBE_ERR_DEADLINE, /* the request's deadline (kube_client_set_deadline) passed: not sent, or cut off */
} kube_error_kind;

typedef struct kube_error_cause {
	char *reason;  /* e.g. "FieldValueInvalid", may be NULL */
	char *message; /* may be NULL */
	char *field;   /* e.g. "spec.numShards", may be NULL */
} kube_error_cause;

typedef struct kube_error {
	kube_error_kind kind;
	long http_code; /* HTTP status for KUBE_ERR_API, else 0 */
	char *reason;   /* Status.reason (e.g. "NotFound"), or NULL */
	char *message;  /* one line, never NULL once set */
	kube_error_cause *causes;
	size_t n_causes;
	long retry_after_s; /* Retry-After / Status.details.retryAfterSeconds, or 0 */
	char *text_;        /* kube_strerror()'s cache */
} kube_error;

#define KUBE_ERROR_INIT                                  \
	{                                                \
		KUBE_OK, 0, NULL, NULL, NULL, 0, 0, NULL \
	}

void kube_error_release(kube_error *err);

/* Sets kind and a printf-formatted message, replacing any earlier error. Returns -1. */
int kube_error_set(kube_error *err, kube_error_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Sets an API error from an HTTP status and a response body that should be a
 * metav1.Status; a body that is not one still gives a useful message (the
 * HTTP reason phrase and a prefix of the body). Returns -1.
 */
int kube_error_from_response(kube_error *err, long http_code, const char *body, size_t len);

/*
 * One line describing the error, e.g. "API error 409 Conflict: Operation
 * cannot be fulfilled ...". The string is owned by err and valid until the
 * next change to it. Never NULL.
 */
const char *kube_strerror(kube_error *err);

/* The Status reason for an HTTP code when the server sent none. Static string. */
const char *kube_reason_for_code(long http_code);

bool kube_error_is_not_found(const kube_error *err);
bool kube_error_is_conflict(const kube_error *err); /* 409 Conflict (stale resourceVersion) */
bool kube_error_is_already_exists(const kube_error *err);
bool kube_error_is_gone(const kube_error *err); /* 410 Expired/Gone */
bool kube_error_is_unauthorized(const kube_error *err);

#endif
