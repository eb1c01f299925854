#include "kube/kube_client.h"
#include "kube/kube_decode.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kube/kube_credential.h"
#include "kube/kube_path.h"
#include "util/clock.h"
#include "util/sbuf.h"
#include "util/json_lenient.h"
#include "util/json_encode.h"

#ifndef MEMSHACK_VERSION
#define MEMSHACK_VERSION "0.1.0"
#endif

#define MAX_RESPONSE_BYTES (512u << 20)
#define POOL_MAX 16

struct kube_client {
	char *base_url;   /* URL prefix requests are sent to */
	char *server;     /* as configured, for messages */
	char *connect_to; /* CURLOPT_CONNECT_TO entry for tls-server-name, or NULL */
	char *namespace;
	kube_blob ca, cert, key;
	bool insecure;
	kube_credential *cred;
	kube_client_options opts;
	char *user_agent;

	CURLSH *share;
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

	pthread_mutex_t pool_mu;
	CURL *pool[POOL_MAX];
	int pool_n;

	kube_request_observer observer;
	void *observer_ud;
	kube_deadline_fn deadline;
	void *deadline_ud;
	bool verbose; /* MEMSHACK_CURL_VERBOSE=1: libcurl traces to stderr (debugging) */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	(void)h;
	(void)access;
	kube_client *c = ud;
	pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	kube_client *c = ud;
	pthread_mutex_unlock(&c->share_mu[data]);
}

static int blob_dup(kube_blob *dst, const kube_blob *src)
{
	if (!src->data)
		return 0;
	dst->data = malloc(src->len + 1);
	if (!dst->data)
		return -1;
	memcpy(dst->data, src->data, src->len + 1);
	dst->len = src->len;
	return 0;
}

/* For tls-server-name: connect to the configured host, but name the server by its TLS name. */
static int setup_tls_name(kube_client *c, const char *server, const char *tls_name)
{
	const char *scheme_end = strstr(server, "://");
	const char *host = scheme_end + 3;
	const char *host_end;
	if (*host == '[') {
		host_end = strchr(host, ']');
		if (!host_end)
			return -1;
		host_end++;
	} else {
		host_end = host + strcspn(host, ":/");
	}
	const char *port = "443";
	size_t port_len = 3;
	if (!strncmp(server, "http://", 7))
		port = "80", port_len = 2;
	const char *rest = host_end;
	if (*host_end == ':') {
		port = host_end + 1;
		port_len = strcspn(port, "/");
		rest = port + port_len;
	}
	sbuf url = SBUF_INIT, ct = SBUF_INIT;
	int r = sbuf_addf(&url, "%.*s%s:%.*s%s", (int)(host - server), server, tls_name, (int)port_len, port, rest);
	r |= sbuf_addf(&ct, "%s:%.*s:%.*s:%.*s", tls_name, (int)port_len, port, (int)(host_end - host), host,
		       (int)port_len, port);
	if (r) {
		sbuf_release(&url);
		sbuf_release(&ct);
		return -1;
	}
	free(c->base_url);
	c->base_url = sbuf_detach(&url);
	c->connect_to = sbuf_detach(&ct);
	return c->base_url && c->connect_to ? 0 : -1;
}

int kube_client_new(const kube_config *cfg, const kube_client_options *opts, kube_client **ret, kube_error *err)
{
	pthread_once(&global_once, global_init);
	if (!cfg->server)
		return kube_error_set(err, KUBE_ERR_CONFIG, "no server in the configuration");
	kube_client *c = calloc(1, sizeof *c);
	if (!c)
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&c->pool_mu, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_mu[i], NULL);
	if (opts)
		c->opts = *opts;
	if (c->opts.timeout_ms <= 0)
		c->opts.timeout_ms = 30000;
	if (c->opts.connect_timeout_ms <= 0)
		c->opts.connect_timeout_ms = 10000;
	if (c->opts.max_retries == 0)
		c->opts.max_retries = 5;
	else if (c->opts.max_retries < 0)
		c->opts.max_retries = 0;
	if (c->opts.max_retry_after_s <= 0)
		c->opts.max_retry_after_s = 30;
	sbuf ua = SBUF_INIT;
	int ua_rc = c->opts.user_agent ? sbuf_adds(&ua, c->opts.user_agent)
				       : sbuf_addf(&ua, "memshack/%s (linux) libcurl/%s", MEMSHACK_VERSION,
						   curl_version_info(CURLVERSION_NOW)->version);
	c->user_agent = ua_rc == 0 ? sbuf_detach(&ua) : NULL;
	sbuf_release(&ua);
	c->opts.user_agent = NULL;
	c->insecure = cfg->insecure_skip_tls_verify;
	const char *verbose = getenv("MEMSHACK_CURL_VERBOSE");
	c->verbose = verbose && !strcmp(verbose, "1");
	bool ok = c->user_agent && (c->server = strdup(cfg->server)) && (c->base_url = strdup(cfg->server)) &&
		  (c->namespace = strdup(cfg->namespace ? cfg->namespace : "default")) && !blob_dup(&c->ca, &cfg->ca) &&
		  !blob_dup(&c->cert, &cfg->client_cert) && !blob_dup(&c->key, &cfg->client_key);
	if (ok && cfg->tls_server_name && setup_tls_name(c, cfg->server, cfg->tls_server_name))
		ok = false;
	if (!ok) {
		kube_client_free(c);
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	}
	if (kube_credential_new(cfg, &c->cred, err)) {
		kube_client_free(c);
		return -1;
	}
	c->share = curl_share_init();
	if (!c->share) {
		kube_client_free(c);
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*ret = c;
	return 0;
}

void kube_client_free(kube_client *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->pool_n; i++)
		curl_easy_cleanup(c->pool[i]);
	if (c->share)
		curl_share_cleanup(c->share);
	kube_credential_free(c->cred);
	free(c->base_url);
	free(c->server);
	free(c->connect_to);
	free(c->namespace);
	free(c->user_agent);
	free(c->ca.data);
	free(c->cert.data);
	free(c->key.data);
	pthread_mutex_destroy(&c->pool_mu);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_mu[i]);
	free(c);
}

void kube_client_set_deadline(kube_client *c, kube_deadline_fn fn, void *ud)
{
	c->deadline = fn;
	c->deadline_ud = ud;
}

void kube_client_set_observer(kube_client *c, kube_request_observer fn, void *ud)
{
	c->observer = fn;
	c->observer_ud = ud;
}

const char *kube_client_namespace(const kube_client *c)
{
	return c->namespace;
}

const char *kube_client_server(const kube_client *c)
{
	return c->server;
}

static CURL *handle_get(kube_client *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->pool_mu);
	if (c->pool_n)
		h = c->pool[--c->pool_n];
	pthread_mutex_unlock(&c->pool_mu);
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	return h;
}

static void handle_put(kube_client *c, CURL *h)
{
	pthread_mutex_lock(&c->pool_mu);
	if (c->pool_n < POOL_MAX) {
		c->pool[c->pool_n++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_mu);
	if (h)
		curl_easy_cleanup(h);
}

/*
 * MEMSHACK_CURL_VERBOSE=1 traces: libcurl's text and headers on stderr, with
 * the value of every Authorization header replaced (a trace must never
 * carry a credential); bodies are left out.
 */
static int trace_redacted(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
	(void)h;
	(void)ud;
	const char *mark = type == CURLINFO_TEXT         ? "* "
			   : type == CURLINFO_HEADER_IN  ? "< "
			   : type == CURLINFO_HEADER_OUT ? "> "
							 : NULL;
	if (!mark)
		return 0;
	for (size_t off = 0; off < size;) {
		const char *line = data + off;
		const char *nl = memchr(line, '\n', size - off);
		size_t len = nl ? (size_t)(nl - line) + 1 : size - off;
		/* "Authorization: Bearer ..." and HTTP/2's "[HTTP/2] [1] [authorization: Bearer ...]" alike. */
		static const char auth[] = "authorization";
		size_t at = len;
		for (size_t k = 0; k + sizeof auth - 1 <= len; k++)
			if (!strncasecmp(line + k, auth, sizeof auth - 1)) {
				at = k;
				break;
			}
		if (at < len)
			fprintf(stderr, "%s%.*sAuthorization: [redacted]\n", mark, (int)at, line);
		else
			fprintf(stderr, "%s%.*s%s", mark, (int)len, line, nl ? "" : "\n");
		off += len;
	}
	return 0;
}

/* ---- one exchange ---- */

typedef struct exchange {
	sbuf body;
	long retry_after_s;
	kube_stream_fn stream;
	void *stream_ud;
	bool stream_stopped;
	long status; /* known once headers end */
	CURL *h;
} exchange;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	exchange *x = ud;
	size_t n = size * nmemb;
	if (x->stream) {
		if (!x->status)
			curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
		if (x->status >= 200 && x->status < 300) {
			if (x->stream(x->stream_ud, ptr, n)) {
				x->stream_stopped = true;
				return 0; /* aborts the transfer */
			}
			return n;
		}
	}
	return sbuf_add(&x->body, ptr, n) ? 0 : n;
}

/* Streams: lets the consumer stop a silent stream (about once a second). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	exchange *x = ud;
	if (x->stream && x->stream(x->stream_ud, NULL, 0)) {
		x->stream_stopped = true;
		return 1;
	}
	return 0;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	exchange *x = ud;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof name - 1 && !strncasecmp(ptr, name, sizeof name - 1)) {
		char tmp[32];
		size_t len = n - (sizeof name - 1);
		if (len >= sizeof tmp)
			len = sizeof tmp - 1;
		memcpy(tmp, ptr + sizeof name - 1, len);
		tmp[len] = '\0';
		long v = strtol(tmp, NULL, 10);
		if (v > 0)
			x->retry_after_s = v;
	}
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

typedef struct request {
	const char *method;
	const char *path;
	const char *content_type;
	const char *body;
	size_t body_len;
	kube_stream_fn stream;
	void *stream_ud;
	long timeout_s;      /* stream only */
	long idle_timeout_s; /* stream only */
} request;

/* Sets every option of one transfer on h (the URL, headers, TLS, timeouts, callbacks into x). */
static void set_transfer_options(kube_client *c, CURL *h, const request *rq, long timeout_ms, const kube_auth *auth,
				 exchange *x, char *errbuf, const char *url, struct curl_slist *hdrs,
				 struct curl_slist *connect_to)
{
	/*
	 * Ordinary requests share one connection cache (and TLS sessions). A
	 * request made with curl_easy_perform cannot multiplex onto a connection
	 * another handle is using, and curl closes the oldest idle connection
	 * once the cache holds more than MAXCONNECTS (default 5) in all, busy
	 * ones included: long-lived watches in the shared cache would make every
	 * request pay a new TCP + TLS handshake. So watches keep a private
	 * connection (their handle is new, unshared and not pooled) and the
	 * cache gets room.
	 */
	if (!rq->stream)
		curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_MAXCONNECTS, (long)POOL_MAX);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	if (!strcmp(rq->method, "GET"))
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (rq->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->verbose) {
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, trace_redacted);
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	}
	if (rq->stream) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, rq->timeout_s > 0 ? rq->timeout_s : 0L);
		if (rq->idle_timeout_s > 0) {
			/* Below 1 byte/s for idle_timeout_s seconds: the connection is dead. */
			curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
			curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, rq->idle_timeout_s);
		}
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
		if (timeout_ms < c->opts.connect_timeout_ms)
			curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	if (connect_to)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca.data) {
		struct curl_blob b = { c->ca.data, c->ca.len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
		/* The configured CA alone, as client-go trusts it: not also every CA in libcurl's default path. */
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	const kube_blob *cert = auth->cert.data ? &auth->cert : &c->cert;
	const kube_blob *key = auth->cert.data ? &auth->key : &c->key;
	if (cert->data && key->data) {
		struct curl_blob cb = { cert->data, cert->len, CURL_BLOB_NOCOPY };
		struct curl_blob kb = { key->data, key->len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

/* Appends one header line to *hdrs; false (and *hdrs unchanged) when memory runs out. */
static bool append_header(struct curl_slist **hdrs, const char *line)
{
	struct curl_slist *more = curl_slist_append(*hdrs, line);
	if (!more)
		return false;
	*hdrs = more;
	return true;
}

/* Performs one HTTP exchange within timeout_ms (not for streams). Returns the CURLcode; fills x. */
static CURLcode perform(kube_client *c, const request *rq, long timeout_ms, const kube_auth *auth, exchange *x,
			char *errbuf)
{
	/* A watch gets a handle of its own: a pooled one would stay attached to the shared cache (curl_easy_reset keeps shares). */
	CURL *h = rq->stream ? curl_easy_init() : handle_get(c);
	if (!h)
		return CURLE_OUT_OF_MEMORY;
	x->h = h;
	sbuf url = SBUF_INIT, authz = SBUF_INIT, ctype = SBUF_INIT;
	struct curl_slist *hdrs = NULL;
	/* Every part is built in full or the request is not sent: a header lost to no memory would change it. */
	bool built =
		sbuf_addf(&url, "%s%s", c->base_url, rq->path) == 0 && append_header(&hdrs, "Accept: application/json");
	if (auth->token)
		built = built && sbuf_addf(&authz, "Authorization: Bearer %s", auth->token) == 0 &&
			append_header(&hdrs, authz.buf);
	if (rq->content_type)
		built = built && sbuf_addf(&ctype, "Content-Type: %s", rq->content_type) == 0 &&
			append_header(&hdrs, ctype.buf);
	struct curl_slist *connect_to = c->connect_to ? curl_slist_append(NULL, c->connect_to) : NULL;
	built = built && (!c->connect_to || connect_to);

	set_transfer_options(c, h, rq, timeout_ms, auth, x, errbuf, url.buf, hdrs, connect_to);
	errbuf[0] = '\0';
	CURLcode rc = built ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
	if (rc == CURLE_OPERATION_TIMEDOUT && !x->status) {
		/*
		 * Not a byte of an answer for the whole timeout: the connection is
		 * most likely dead without having been closed (a lost NAT or load
		 * balancer flow, a partition). libcurl keeps it ("left intact") and
		 * would hand it to the next request, which would hang the same way:
		 * shut it down so that the next request opens a new one.
		 */
		curl_socket_t fd = CURL_SOCKET_BAD;
		if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK && fd != CURL_SOCKET_BAD)
			shutdown(fd, SHUT_RDWR);
	}
	/* The handle keeps pointers to these until reset: drop them together. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_CONNECT_TO, NULL);
	if (rq->stream)
		curl_easy_cleanup(h);
	else
		handle_put(c, h);
	x->h = NULL;
	curl_slist_free_all(hdrs);
	curl_slist_free_all(connect_to);
	sbuf_release(&url);
	sbuf_release(&authz);
	sbuf_release(&ctype);
	return rc;
}

static bool reset_like(CURLcode rc)
{
	return rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_HTTP2 ||
	       rc == CURLE_HTTP2_STREAM || rc == CURLE_PARTIAL_FILE;
}

/* The request's deadline (clock_mono_us), INT64_MAX for none. */
static int64_t deadline_of(kube_client *c, const request *rq)
{
	return c->deadline && !rq->stream ? c->deadline(c->deadline_ud, rq->method) : INT64_MAX;
}

/* Sleeps ms unless that would reach the request's deadline; false when it did not sleep. */
static bool wait_within_deadline(kube_client *c, const request *rq, long ms)
{
	int64_t dl = deadline_of(c, rq);
	if (dl != INT64_MAX && clock_mono_us() + (int64_t)ms * 1000 >= dl)
		return false;
	sleep_ms(ms);
	return true;
}

/* Fills err from a non-2xx answer (x->body released). */
static void error_from_answer(exchange *x, kube_error *err)
{
	kube_error_from_response(err, x->status, x->body.buf, x->body.len);
	sbuf_release(&x->body);
	if (x->status == 401) {
		/* The server says only "Unauthorized": name the likely cause. */
		char *m = err->message;
		err->message = NULL;
		kube_error_set(err, KUBE_ERR_API,
			       "%s: the server rejected the credential (invalid or expired "
			       "token, or a certificate it does not trust)",
			       m ? m : "Unauthorized");
		free(m);
		err->http_code = 401;
		err->reason = strdup("Unauthorized");
	}
}

/*
 * A 429, or a 5xx carrying Retry-After: waits as the server asked (capped;
 * never past the request's deadline) and returns true to try again. Else
 * false: the answer in err stands (err->retry_after_s says what it asked).
 */
static bool retry_after_answer(kube_client *c, const request *rq, const exchange *x, int attempt, kube_error *err)
{
	long wait_s = x->retry_after_s ? x->retry_after_s : err->retry_after_s;
	if (rq->stream || attempt >= c->opts.max_retries || !(x->status == 429 || (x->status >= 500 && wait_s))) {
		err->retry_after_s = wait_s;
		return false;
	}
	if (wait_s <= 0)
		wait_s = 1;
	if (wait_s > c->opts.max_retry_after_s)
		wait_s = c->opts.max_retry_after_s;
	err->retry_after_s = wait_s;
	return wait_within_deadline(c, rq, wait_s * 1000); /* false: waiting would pass the deadline */
}

static int do_request(kube_client *c, const request *rq, long *ret_status, char **ret_body, size_t *ret_len,
		      kube_error *err)
{
	bool auth_retried = false;
	int attempt = 0;
	for (;;) {
		long timeout_ms = c->opts.timeout_ms;
		bool cut = false; /* the deadline shortened this attempt */
		int64_t dl = deadline_of(c, rq);
		if (dl != INT64_MAX) {
			int64_t left_ms = (dl - clock_mono_us()) / 1000;
			if (left_ms <= 0)
				return kube_error_set(err, KUBE_ERR_DEADLINE,
						      "%s %s: not sent: its deadline has passed", rq->method, rq->path);
			if (left_ms < timeout_ms) {
				timeout_ms = (long)left_ms;
				cut = true;
			}
		}
		kube_auth auth = { 0 };
		if (kube_credential_get(c->cred, &auth, err))
			return -1;
		exchange x = { .body = SBUF_INIT, .stream = rq->stream, .stream_ud = rq->stream_ud };
		x.body.limit = MAX_RESPONSE_BYTES;
		char errbuf[CURL_ERROR_SIZE];
		double t0 = clock_mono_seconds();
		CURLcode rc = perform(c, rq, timeout_ms, &auth, &x, errbuf);
		kube_auth_release(&auth);
		if (c->observer)
			c->observer(c->observer_ud, rq->method, rc == CURLE_OK || x.stream_stopped ? x.status : 0,
				    clock_mono_seconds() - t0);
		if (x.stream_stopped) {
			sbuf_release(&x.body);
			if (ret_status)
				*ret_status = x.status;
			return 0;
		}
		if (rc != CURLE_OK && x.status >= 400 && reset_like(rc)) {
			/*
			 * The server answered with an error status and closed the
			 * stream early (kube-apiserver sends HTTP/2 GOAWAY with a 401,
			 * and libcurl 7.88 then reports a partial transfer): the status
			 * is what matters, the body is best effort.
			 */
			rc = CURLE_OK;
		}
		if (rc != CURLE_OK) {
			bool retry = !rq->stream && !strcmp(rq->method, "GET") && reset_like(rc) &&
				     attempt < c->opts.max_retries;
			sbuf_release(&x.body);
			if (retry && wait_within_deadline(c, rq, 100L << (attempt < 5 ? attempt : 5))) {
				attempt++;
				continue;
			}
			if (rc == CURLE_OPERATION_TIMEDOUT && cut)
				return kube_error_set(err, KUBE_ERR_DEADLINE, "%s %s: cut off at its deadline (%ld ms)",
						      rq->method, rq->path, timeout_ms);
			if (rc == CURLE_WRITE_ERROR)
				return kube_error_set(err, KUBE_ERR_DECODE, "%s %s: response larger than %u bytes",
						      rq->method, rq->path, MAX_RESPONSE_BYTES);
			return kube_error_set(err, KUBE_ERR_TRANSPORT, "%s %s%s: %s", rq->method, c->server, rq->path,
					      errbuf[0] ? errbuf : curl_easy_strerror(rc));
		}
		if (ret_status)
			*ret_status = x.status;
		if (x.status >= 200 && x.status < 300) {
			if (ret_body) {
				*ret_len = x.body.len;
				*ret_body = sbuf_detach(&x.body);
				if (!*ret_body)
					return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
			}
			sbuf_release(&x.body);
			return 0;
		}
		if (x.status == 401 && !auth_retried && kube_credential_refreshable(c->cred)) {
			/* A rotated token or an expired exec credential: fetch anew once. */
			auth_retried = true;
			kube_credential_invalidate(c->cred);
			sbuf_release(&x.body);
			continue;
		}
		error_from_answer(&x, err);
		if (retry_after_answer(c, rq, &x, attempt, err)) {
			attempt++;
			kube_error_release(err);
			continue;
		}
		return -1;
	}
}

int kube_request(kube_client *c, const char *method, const char *path, const char *content_type, const char *body,
		 size_t body_len, long *ret_status, char **ret_body, size_t *ret_len, kube_error *err)
{
	if (!path || path[0] != '/')
		return kube_error_set(err, KUBE_ERR_INVALID, "request path must start with '/'");
	request rq = { method, path, content_type, body, body_len, NULL, NULL, 0, 0 };
	return do_request(c, &rq, ret_status, ret_body, ret_len, err);
}

int kube_stream(kube_client *c, const char *path, kube_stream_fn on_data, void *ud, long timeout_s, long idle_timeout_s,
		kube_error *err)
{
	if (!path || path[0] != '/')
		return kube_error_set(err, KUBE_ERR_INVALID, "request path must start with '/'");
	request rq = { "GET", path, NULL, NULL, 0, on_data, ud, timeout_s, idle_timeout_s };
	return do_request(c, &rq, NULL, NULL, NULL, err);
}

/* ---- JSON ---- */

static int json_exchange(kube_client *c, const char *method, const char *path, const char *ctype, json_t *obj,
			 json_t **ret, kube_error *err)
{
	char *body = NULL;
	if (obj) {
		body = json_encode(obj, JSON_COMPACT);
		if (!body)
			return kube_error_set(err, KUBE_ERR_INVALID, "%s %s: body cannot be encoded as JSON", method,
					      path);
	}
	char *resp = NULL;
	size_t len = 0;
	int rc = kube_request(c, method, path, ctype, body, body ? strlen(body) : 0, NULL, ret ? &resp : NULL, &len,
			      err);
	free(body);
	if (rc || !ret)
		return rc;
	json_error_t je;
	json_t *doc = json_loadb_lenient(resp, len, 0, &je);
	free(resp);
	if (!doc)
		return kube_error_set(err, KUBE_ERR_DECODE, "%s %s: response is not JSON: %s", method, path, je.text);
	*ret = doc;
	return 0;
}

int kube_get(kube_client *c, const char *path, json_t **ret, kube_error *err)
{
	return json_exchange(c, "GET", path, NULL, NULL, ret, err);
}

int kube_create(kube_client *c, const char *path, json_t *obj, json_t **ret, kube_error *err)
{
	return json_exchange(c, "POST", path, "application/json", obj, ret, err);
}

int kube_replace(kube_client *c, const char *path, json_t *obj, json_t **ret, kube_error *err)
{
	return json_exchange(c, "PUT", path, "application/json", obj, ret, err);
}

int kube_patch(kube_client *c, const char *path, kube_patch_type type, json_t *patch, json_t **ret, kube_error *err)
{
	static const char *const ctypes[] = { "application/merge-patch+json", "application/json-patch+json",
					      "application/strategic-merge-patch+json" };
	if ((unsigned)type > KUBE_PATCH_STRATEGIC)
		return kube_error_set(err, KUBE_ERR_INVALID, "unknown patch type");
	return json_exchange(c, "PATCH", path, ctypes[type], patch, ret, err);
}

int kube_apply(kube_client *c, const char *path, json_t *obj, const char *field_manager, bool force, json_t **ret,
	       kube_error *err)
{
	if (!field_manager || !*field_manager)
		return kube_error_set(err, KUBE_ERR_INVALID, "server-side apply needs a field manager");
	const char *kv[] = { "fieldManager", field_manager, "force", force ? "true" : NULL, NULL };
	char *full = kube_path_query(path, kv);
	if (!full)
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	int rc = json_exchange(c, "PATCH", full, "application/apply-patch+yaml", obj, ret, err);
	free(full);
	return rc;
}

int kube_delete_uid(kube_client *c, const char *path, const char *propagation, const char *uid, json_t **ret,
		    kube_error *err)
{
	json_t *opts = NULL;
	if (propagation || uid) {
		opts = json_pack("{s:s, s:s}", "apiVersion", "v1", "kind", "DeleteOptions");
		/* Never a DELETE without the options asked for: without its uid precondition it could delete a re-created object. */
		if (opts &&
		    ((propagation && json_object_set_new(opts, "propagationPolicy", json_string(propagation))) ||
		     (uid && json_object_set_new(opts, "preconditions", json_pack("{s:s}", "uid", uid))))) {
			json_decref(opts);
			opts = NULL;
		}
		if (!opts)
			return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	}
	int rc = json_exchange(c, "DELETE", path, opts ? "application/json" : NULL, opts, ret, err);
	json_decref(opts);
	return rc;
}

int kube_delete(kube_client *c, const char *path, const char *propagation, json_t **ret, kube_error *err)
{
	return kube_delete_uid(c, path, propagation, NULL, ret, err);
}

/* GETs one page of a list into *page (kube_list_page_decode). */
static int list_page(kube_client *c, const char *path, kube_list_page *page, kube_error *err)
{
	char *body = NULL;
	size_t len = 0;
	if (kube_request(c, "GET", path, NULL, NULL, 0, NULL, &body, &len, err))
		return -1;
	char why[200];
	int rc = kube_list_page_decode(body ? body : "", len, page, why, sizeof why);
	free(body);
	if (rc)
		return kube_error_set(err, KUBE_ERR_DECODE, "GET %s: %s", path, why);
	return 0;
}

int kube_list(kube_client *c, const char *path, const kube_list_options *opts, json_t **ret, kube_error *err)
{
	char limit[16];
	snprintf(limit, sizeof limit, "%u", opts && opts->limit ? opts->limit : 500u);
	for (int restart = 0;; restart++) {
		json_t *items = json_array(), *undecodable = json_array();
		size_t unnamed = 0;
		char *cont = NULL;
		char *rv = NULL;
		int rc = 0;
		if (!items || !undecodable) {
			json_decref(items);
			json_decref(undecodable);
			return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		}
		do {
			const char *kv[] = { "labelSelector",
					     opts ? opts->label_selector : NULL,
					     "fieldSelector",
					     opts ? opts->field_selector : NULL,
					     "limit",
					     limit,
					     "continue",
					     cont,
					     NULL };
			char *full = kube_path_query(path, kv);
			kube_list_page page;
			rc = full ? list_page(c, full, &page, err)
				  : kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
			free(full);
			free(cont);
			cont = NULL;
			if (rc)
				break;
			if (opts && opts->trim_item) {
				size_t i;
				json_t *item;
				json_array_foreach (page.items, i, item)
					opts->trim_item(opts->trim_ud, item);
			}
			if (json_array_extend(items, page.items) || json_array_extend(undecodable, page.undecodable))
				rc = kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
			unnamed += page.unnamed;
			free(rv);
			rv = page.resource_version;
			cont = page.continue_token;
			page.resource_version = page.continue_token = NULL;
			kube_list_page_release(&page);
		} while (cont && !rc);
		free(cont); /* NULL unless an error ended the pages early */
		if (rc) {
			json_decref(items);
			json_decref(undecodable);
			free(rv);
			if (kube_error_is_gone(err) && restart < 3) {
				kube_error_release(err);
				continue; /* the continue token expired: list again from the start */
			}
			return -1;
		}
		json_t *list = json_pack("{s:o, s:{s:s?}, s:o, s:I}", "items", items, "metadata", "resourceVersion", rv,
					 "undecodable", undecodable, "unnamed", (json_int_t)unnamed);
		free(rv);
		if (!list)
			return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
		*ret = list;
		return 0;
	}
}
