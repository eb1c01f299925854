#include "kube/kube_error.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"
#include "util/json_lenient.h"

void kube_error_release(kube_error *err)
{
	if (!err)
		return;
	free(err->reason);
	free(err->message);
	for (size_t i = 0; i < err->n_causes; i++) {
		free(err->causes[i].reason);
		free(err->causes[i].message);
		free(err->causes[i].field);
	}
	free(err->causes);
	free(err->text_);
	*err = (kube_error)KUBE_ERROR_INIT;
}

static char *one_line(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++)
		out[i] = (s[i] == '\n' || s[i] == '\r' || s[i] == '\0') ? ' ' : s[i];
	out[len] = '\0';
	return out;
}

int kube_error_set(kube_error *err, kube_error_kind kind, const char *fmt, ...)
{
	if (!err)
		return -1;
	kube_error_release(err);
	err->kind = kind;
	va_list ap;
	va_start(ap, fmt);
	sbuf sb = SBUF_INIT;
	if (sbuf_vaddf(&sb, fmt, ap) == 0)
		err->message = one_line(sb.buf, sb.len);
	sbuf_release(&sb);
	va_end(ap);
	return -1;
}

const char *kube_reason_for_code(long code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 406: return "NotAcceptable";
	case 409: return "Conflict";
	case 410: return "Expired";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return code >= 500 ? "InternalError" : "Unknown";
	}
}

static char *dup_json_string(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? one_line(s, strlen(s)) : NULL;
}

int kube_error_from_response(kube_error *err, long http_code, const char *body, size_t len)
{
	kube_error_release(err);
	err->kind = KUBE_ERR_API;
	err->http_code = http_code;
	json_t *st = body && len ? json_loadb_lenient(body, len, 0, NULL) : NULL;
	if (json_is_object(st) && json_is_string(json_object_get(st, "kind")) &&
	    !strcmp(json_string_value(json_object_get(st, "kind")), "Status")) {
		err->reason = dup_json_string(st, "reason");
		err->message = dup_json_string(st, "message");
		json_t *details = json_object_get(st, "details");
		json_t *ra = json_object_get(details, "retryAfterSeconds");
		if (json_is_integer(ra) && json_integer_value(ra) > 0)
			err->retry_after_s = (long)json_integer_value(ra);
		json_t *causes = json_object_get(details, "causes");
		size_t n = json_array_size(causes);
		if (n) {
			err->causes = calloc(n, sizeof *err->causes);
			if (err->causes) {
				for (size_t i = 0; i < n; i++) {
					json_t *c = json_array_get(causes, i);
					err->causes[i].reason = dup_json_string(c, "reason");
					err->causes[i].message = dup_json_string(c, "message");
					err->causes[i].field = dup_json_string(c, "field");
				}
				err->n_causes = n;
			}
		}
	}
	json_decref(st);
	if (!err->reason || !*err->reason) {
		free(err->reason);
		err->reason = strdup(kube_reason_for_code(http_code));
	}
	if (!err->message) {
		/* Not a Status: quote a bounded prefix of what the server said. */
		size_t show = len > 200 ? 200 : len;
		sbuf sb = SBUF_INIT;
		int rc = show ? sbuf_addf(&sb, "the server answered HTTP %ld: %.*s%s", http_code, (int)show, body,
					  len > show ? "..." : "")
			      : sbuf_addf(&sb, "the server answered HTTP %ld with an empty body", http_code);
		/* Without memory for the quote the error keeps its code and reason and reads "(no detail)". */
		err->message = rc == 0 ? one_line(sb.buf, sb.len) : NULL;
		sbuf_release(&sb);
	}
	return -1;
}

static const char *kind_name(kube_error_kind k)
{
	switch (k) {
	case KUBE_OK: return "no error";
	case KUBE_ERR_CONFIG: return "configuration error";
	case KUBE_ERR_AUTH: return "credential error";
	case KUBE_ERR_TRANSPORT: return "connection error";
	case KUBE_ERR_API: return "API error";
	case KUBE_ERR_DECODE: return "bad response";
	case KUBE_ERR_INVALID: return "invalid argument";
	case KUBE_ERR_NOMEM: return "out of memory";
	case KUBE_ERR_DEADLINE: return "deadline passed";
	}
	return "error";
}

const char *kube_strerror(kube_error *err)
{
	if (!err)
		return "no error";
	free(err->text_);
	err->text_ = NULL;
	sbuf sb = SBUF_INIT;
	int rc;
	if (err->kind == KUBE_ERR_API)
		rc = sbuf_addf(&sb, "API error %ld %s: %s", err->http_code, err->reason ? err->reason : "",
			       err->message ? err->message : "");
	else
		rc = sbuf_addf(&sb, "%s: %s", kind_name(err->kind), err->message ? err->message : "(no detail)");
	for (size_t i = 0; i < err->n_causes && i < 5 && rc == 0; i++) {
		const kube_error_cause *c = &err->causes[i];
		/* The Status message usually already lists the causes; add only fields it lacks. */
		if (c->field && err->message && strstr(err->message, c->field))
			continue;
		rc = sbuf_addf(&sb, "; %s%s%s", c->field ? c->field : "", c->field ? ": " : "",
			       c->message ? c->message : (c->reason ? c->reason : ""));
	}
	err->text_ = rc == 0 ? sbuf_detach(&sb) : NULL;
	sbuf_release(&sb);
	return err->text_ ? err->text_ : "out of memory";
}

static bool has_code(const kube_error *err, long code)
{
	return err && err->kind == KUBE_ERR_API && err->http_code == code;
}

bool kube_error_is_not_found(const kube_error *err)
{
	return has_code(err, 404);
}
bool kube_error_is_gone(const kube_error *err)
{
	return has_code(err, 410);
}
bool kube_error_is_unauthorized(const kube_error *err)
{
	return has_code(err, 401);
}

bool kube_error_is_conflict(const kube_error *err)
{
	return has_code(err, 409) && !(err->reason && !strcmp(err->reason, "AlreadyExists"));
}

bool kube_error_is_already_exists(const kube_error *err)
{
	return has_code(err, 409) && err->reason && !strcmp(err->reason, "AlreadyExists");
}
