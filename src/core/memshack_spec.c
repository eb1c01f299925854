#include "core/memshack_spec.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

const char *const mc_read_policy_names[] = { "Latest", "Failover", "AllFastest", "Random", NULL };
const char *const mc_write_policy_names[] = { "AllSync", "AllMajority", "AllInitial", "AllFastest", "AllAsync", NULL };
const char *const mc_spread_names[] = { "Node", "Zone", "None", NULL };
const char *const mc_migration_mode_names[] = { "WarmUp", "InPlace", NULL };

#define DEFAULT_MCROUTER_IMAGE "docker-registry.wikimedia.org/mcrouter:2023.07.17.00-1-20240929"

#define FIELD(member) offsetof(memshack_spec, member)
const spec_int_field memshack_int_fields[] = {
	{ "mcrouterPoolSize", 0, 100, 2, "Number of mcrouter gateway pods (the scale subresource points here).",
	  FIELD(mcrouter_pool_size) },
	{ "numShards", 1, 256, 3, "Number of shards: memcached pods per replica pool; keys are hashed across them.",
	  FIELD(num_shards) },
	{ "numReplicas", 1, 8, 2, "Copies of every key: one replica pool (StatefulSet) each.", FIELD(num_replicas) },
	{ "mcrouterPort", 1, 65535, 5000, "Port of the gateway Service and of mcrouter.", FIELD(mcrouter_port) },
	{ "memcached.memoryMiB", 16, 1048576, 64, "Memory for items per memcached pod, in MiB (memcached -m).",
	  FIELD(memory_mib) },
	{ "memcached.maxConnections", 16, 1000000, 1024, "Simultaneous connections per memcached pod (memcached -c).",
	  FIELD(max_connections) },
	{ "memcached.threads", 1, 256, 4, "Worker threads per memcached pod (memcached -t).", FIELD(threads) },
	{ "mcrouter.serverTimeoutMs", 10, 600000, 1000, "How long mcrouter waits for a memcached reply, in ms.",
	  FIELD(server_timeout_ms) },
	{ "migration.windowSeconds", 0, 86400, MEMSHACK_MIGRATION_WINDOW_S,
	  "WarmUp: how long reads that miss the new layout fall back to the old one (from when every gateway loaded "
	  "that config); keys not read within it start cold afterwards.",
	  FIELD(migration_window_s) },
	{ "migration.warmUpExptimeSeconds", 1, 2592000, MEMSHACK_MIGRATION_WARM_EXPTIME_S,
	  "WarmUp: the TTL of every value copied from the old layout into the new one (mcrouter cannot read the "
	  "original TTL from memcached); at most your shortest TTL if a value must never outlive it.",
	  FIELD(migration_exptime_s) },
};
const size_t memshack_n_int_fields = sizeof memshack_int_fields / sizeof *memshack_int_fields;

const spec_str_field memshack_str_fields[] = {
	{ "memcachedImage", "memcached:1.6-alpine", NULL, SPEC_STR_IMAGE, "Container image of memcached.",
	  FIELD(memcached_image) },
	{ "mcrouterImage", DEFAULT_MCROUTER_IMAGE, NULL, SPEC_STR_IMAGE,
	  "Container image of mcrouter (no official image exists; see the README to build one).",
	  FIELD(mcrouter_image) },
	{ "memcached.maxItemSize", "1m", NULL, SPEC_STR_SIZE,
	  "Largest item memcached stores (memcached -I), e.g. 1m or 512k; between 1k and 1024m.",
	  FIELD(max_item_size) },
	{ "mcrouter.readPolicy", "Latest", mc_read_policy_names, SPEC_STR_ENUM,
	  "How reads pick a replica: Latest (one replica, failover on error), Failover (in order), AllFastest, Random.",
	  FIELD(read_policy) },
	{ "mcrouter.writePolicy", "AllSync", mc_write_policy_names, SPEC_STR_ENUM,
	  "How writes reach replicas: AllSync (all, worst reply), AllMajority, AllInitial, AllFastest, AllAsync.",
	  FIELD(write_policy) },
	{ "scheduling.spreadAcross", "Node", mc_spread_names, SPEC_STR_ENUM,
	  "Keep the replicas of a shard apart: on different nodes (Node), zones (Zone), or not at all (None).",
	  FIELD(spread) },
	{ "scheduling.priorityClassName", NULL, NULL, SPEC_STR_NAME, "PriorityClass of every pod.",
	  FIELD(priority_class) },
	{ "migration.mode", "WarmUp", mc_migration_mode_names, SPEC_STR_ENUM,
	  "How numShards and numReplicas changes are carried out: WarmUp (a new layout beside the old, read first "
	  "and warmed from it, every write to both, for windowSeconds) or InPlace (pools resized: keys that move "
	  "to another shard miss until written again).",
	  FIELD(migration_mode) },
};
const size_t memshack_n_str_fields = sizeof memshack_str_fields / sizeof *memshack_str_fields;
#undef FIELD
_Static_assert(sizeof(mc_read_policy) == sizeof(int) && sizeof(mc_write_policy) == sizeof(int) &&
		       sizeof(mc_spread) == sizeof(int) && sizeof(mc_migration_mode) == sizeof(int),
	       "enum fields are read as int");

/*
 * Messages quote user input: make them one line of valid UTF-8 (a status
 * condition, an Event and a log line must all take them), whatever bytes the
 * input had and wherever "%.60s" cut a character: control characters and
 * invalid or cut sequences become '?'.
 */
static void message_sanitize(char *m)
{
	unsigned char *p = (unsigned char *)m;
	while (*p) {
		size_t n = *p < 0x80             ? 1
			   : (*p & 0xE0) == 0xC0 ? 2
			   : (*p & 0xF0) == 0xE0 ? 3
			   : (*p & 0xF8) == 0xF0 ? 4
						 : 0;
		bool ok = n > 0 && !(n == 2 && *p < 0xC2) && !(n == 4 && *p > 0xF4);
		for (size_t i = 1; ok && i < n; i++)
			ok = (p[i] & 0xC0) == 0x80;
		if (ok && n == 3)
			ok = !(*p == 0xE0 && p[1] < 0xA0) && !(*p == 0xED && p[1] >= 0xA0); /* overlong, surrogates */
		if (ok && n == 4)
			ok = !(*p == 0xF0 && p[1] < 0x90) && !(*p == 0xF4 && p[1] >= 0x90);
		if (!ok) {
			*p++ = '?';
			continue;
		}
		if (n == 1 && (*p < 0x20 || *p == 0x7F))
			*p = '?';
		p += n;
	}
}

/* A label value (or a key's name part): empty or <= 63 of [A-Za-z0-9_.-], alphanumeric at both ends. */
bool spec_label_value_valid(const char *v, size_t n, bool allow_empty)
{
	if (n == 0)
		return allow_empty;
	if (n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && ((i == 0 || i == n - 1) || (c != '-' && c != '_' && c != '.')))
			return false;
	}
	return true;
}

/* A label key: [prefix/]name, the prefix a DNS subdomain. */
bool spec_label_key_valid(const char *k)
{
	const char *slash = strchr(k, '/');
	if (!slash)
		return spec_label_value_valid(k, strlen(k), false);
	char prefix[254];
	size_t pn = (size_t)(slash - k);
	if (pn == 0 || pn >= sizeof prefix)
		return false;
	memcpy(prefix, k, pn);
	prefix[pn] = '\0';
	return spec_dns_subdomain_valid(prefix) && spec_label_value_valid(slash + 1, strlen(slash + 1), false);
}

int spec_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && len) {
		vsnprintf(err, len, fmt, ap);
		message_sanitize(err);
	}
	va_end(ap);
	return -1;
}

json_t *spec_at_path(json_t *spec, const char *path)
{
	const char *dot = strchr(path, '.');
	if (!dot)
		return json_object_get(spec, path);
	char head[64];
	snprintf(head, sizeof head, "%.*s", (int)(dot - path), path);
	json_t *sub = json_object_get(spec, head);
	if (sub && !json_is_object(sub))
		return NULL;
	return json_object_get(sub, dot + 1);
}

bool spec_image_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 512)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("._-/:@", *p)))
			return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')) ||
	    s[n - 1] == ':' || s[n - 1] == '/')
		return false;
	/* A digest: name@algorithm:hex (at least 32 hex digits), once, at the end. */
	const char *at = strchr(s, '@');
	if (!at)
		return true;
	const char *colon = strchr(at, ':');
	if (strchr(at + 1, '@') || !colon || colon == at + 1 || strchr(at, '/'))
		return false;
	size_t hex = strspn(colon + 1, "0123456789abcdefABCDEF");
	return hex >= 32 && colon[1 + hex] == '\0';
}

bool spec_dns_label_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

bool spec_dns_subdomain_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 253)
		return false;
	char buf[254];
	memcpy(buf, s, n + 1);
	char *save = NULL;
	for (char *l = strtok_r(buf, ".", &save); l; l = strtok_r(NULL, ".", &save))
		if (!spec_dns_label_valid(l))
			return false;
	return s[0] != '.' && s[n - 1] != '.' && !strstr(s, "..");
}

bool spec_quantity_valid(const char *s)
{
	/* A Kubernetes quantity: digits[.digits][suffix]; suffix binary, decimal SI or exponent. */
	if (!s || !*s || strlen(s) > 32)
		return false;
	const char *p = s;
	if (*p == '+')
		p++;
	bool digits = false;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return false;
	static const char *const suffixes[] = { "",  "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u",
						"m", "k",  "M",  "G",  "T",  "P",  "E",  NULL };
	for (size_t i = 0; suffixes[i]; i++)
		if (!strcmp(p, suffixes[i]))
			return true;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!*p)
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
		return *p == '\0';
	}
	return false;
}

static bool size_valid(const char *s)
{
	/* memcached -I: bytes, or k/m suffixed; 1k .. 1024m. */
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || v <= 0 || strlen(s) > 12)
		return false;
	long long bytes = v;
	if (*end == 'k' || *end == 'K')
		bytes = v * 1024, end++;
	else if (*end == 'm' || *end == 'M')
		bytes = v * 1024 * 1024, end++;
	return *end == '\0' && bytes >= 1024 && bytes <= 1024LL * 1024 * 1024;
}

int spec_check_resources(json_t *r, const char *path, char *err, size_t errlen)
{
	if (!r || json_is_null(r))
		return 0;
	if (!json_is_object(r))
		return spec_fail(err, errlen, "%s: must be an object with limits and requests", path);
	const char *k;
	json_t *v;
	json_object_foreach (r, k, v) {
		if (strcmp(k, "limits") && strcmp(k, "requests"))
			return spec_fail(err, errlen, "%s: unknown key '%.40s' (want limits, requests)", path, k);
		if (!json_is_object(v))
			return spec_fail(err, errlen, "%s.%s: must be a map of quantities", path, k);
		const char *rk;
		json_t *q;
		json_object_foreach (v, rk, q) {
			if (!spec_dns_subdomain_valid(rk) && !strchr(rk, '/'))
				return spec_fail(err, errlen, "%s.%s: bad resource name '%.60s'", path, k, rk);
			const char *qs = json_string_value(q);
			char num[40];
			if (json_is_integer(q)) {
				snprintf(num, sizeof num, "%lld", (long long)json_integer_value(q));
				qs = json_integer_value(q) >= 0 ? num : NULL;
			}
			if (!qs || !spec_quantity_valid(qs))
				return spec_fail(err, errlen, "%s.%s.%s: '%.40s' is not a quantity (e.g. 100m, 128Mi)",
						 path, k, rk, qs ? qs : "?");
		}
	}
	return 0;
}

const char *const memcached_reserved_flags[] = { "-p", "--port",        "-U", "--udp-port", "-l", "--listen",
						 "-s", "--unix-socket", "-d", "--daemon",   NULL };
const char *const mcrouter_reserved_flags[] = { "-p", "--port",     "-f", "--config-file", "--config", "--config-str",
						"-s", "--ssl-port", NULL };

/*
 * Whether arg sets one of `reserved`: "-p", "-p5000", "--port", "--port=1",
 * and, since getopt_long takes unambiguous abbreviations, "--conf" or
 * "--config-f=..." too.
 */
static const char *reserved_flag(const char *arg, const char *const *reserved)
{
	if (arg[0] != '-' || !reserved)
		return NULL;
	if (arg[1] == '-') {
		size_t n = strcspn(arg + 2, "=");
		for (const char *const *r = reserved; *r; r++)
			if ((*r)[1] == '-' && strlen(*r + 2) == n && !strncmp(*r + 2, arg + 2, n))
				return *r; /* the whole name */
		for (const char *const *r = reserved; *r; r++)
			if ((*r)[1] == '-' && n > 0 && !strncmp(*r + 2, arg + 2, n))
				return *r; /* an abbreviation */
		return NULL;
	}
	/* "-p", "-p5000", and bundles ("-vp 1"): any reserved letter before the first non-letter counts. */
	for (const char *c = arg + 1; *c && *c != '='; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
			break;
		for (const char *const *r = reserved; *r; r++)
			if ((*r)[1] != '-' && *c == (*r)[1])
				return *r;
	}
	return NULL;
}

int spec_check_args(json_t *a, const char *path, const char *const *reserved, char *err, size_t errlen)
{
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return spec_fail(err, errlen, "%s: must be a list of strings", path);
	if (json_array_size(a) > 64)
		return spec_fail(err, errlen, "%s: at most 64 arguments", path);
	size_t i;
	json_t *v;
	json_array_foreach (a, i, v) {
		if (!json_is_string(v) || json_string_length(v) > 1024 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return spec_fail(err, errlen, "%s[%zu]: must be a string of at most 1024 characters", path, i);
		const char *r = reserved_flag(json_string_value(v), reserved);
		if (r)
			return spec_fail(err, errlen, "%s[%zu]: %s is set by memshack and cannot be overridden", path,
					 i, r);
	}
	return 0;
}

/* The first control character in s[0..n), or -1. */
static int control_char(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return (unsigned char)s[i];
	return -1;
}

static int text_fail(const char *path, int c, char *err, size_t errlen)
{
	return spec_fail(err, errlen, "%.200s: must not contain control characters (U+%04X)", path, (unsigned)c);
}

int spec_check_text(json_t *v, const char *path, char *err, size_t errlen)
{
	int c;
	char sub[256];
	if (json_is_string(v)) {
		c = control_char(json_string_value(v), json_string_length(v));
		return c >= 0 ? text_fail(path, c, err, errlen) : 0;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach (v, i, x) {
			snprintf(sub, sizeof sub, "%.200s[%zu]", path, i);
			if (spec_check_text(x, sub, err, errlen))
				return -1;
		}
		return 0;
	}
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach (v, k, x) {
			snprintf(sub, sizeof sub, "%.200s.%.40s", path, k);
			if ((c = control_char(k, strlen(k))) >= 0)
				return text_fail(sub, c, err, errlen);
			if (spec_check_text(x, sub, err, errlen))
				return -1;
		}
	}
	return 0;
}

void memshack_spec_free(memshack_spec *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->namespace);
	free(s->uid);
	free(s->memcached_image);
	free(s->mcrouter_image);
	free(s->max_item_size);
	free(s->priority_class);
	json_decref(s->memcached_args);
	json_decref(s->memcached_resources);
	json_decref(s->mcrouter_args);
	json_decref(s->mcrouter_resources);
	json_decref(s->node_selector);
	json_decref(s->tolerations);
	monitoring_release(&s->monitoring);
	free(s);
}

int spec_enum_index(const char *const *names, const char *v)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], v))
			return i;
	return -1;
}

/* Known keys, so a typo is an error rather than silently ignored. */
int spec_check_keys(json_t *obj, const char *path, const char *const *known, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	json_object_foreach (obj, k, v) {
		bool ok = false;
		for (size_t i = 0; known[i] && !ok; i++)
			ok = !strcmp(known[i], k);
		if (!ok)
			return spec_fail(err, errlen, "%s: unknown field '%.60s'", path, k);
	}
	return 0;
}

int spec_read_int_fields(json_t *spec, const spec_int_field *fields, size_t n, void *target, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const spec_int_field *f = &fields[i];
		json_t *v = json_is_object(spec) ? spec_at_path(spec, f->path) : NULL;
		long long x = f->def;
		if (v && !json_is_null(v)) {
			if (!json_is_integer(v))
				return spec_fail(err, errlen, "spec.%s: must be an integer", f->path);
			x = json_integer_value(v);
			if (x < f->min || x > f->max)
				return spec_fail(err, errlen, "spec.%s: must be between %lld and %lld (got %lld)",
						 f->path, f->min, f->max, x);
		}
		*(int *)((char *)target + f->offset) = (int)x;
	}
	return 0;
}

int spec_read_str_fields(json_t *spec, const spec_str_field *fields, size_t n, void *target, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const spec_str_field *f = &fields[i];
		json_t *v = json_is_object(spec) ? spec_at_path(spec, f->path) : NULL;
		const char *x = f->def;
		if (v && !json_is_null(v)) {
			x = json_string_value(v);
			if (!x)
				return spec_fail(err, errlen, "spec.%s: must be a string", f->path);
			bool ok = true;
			switch (f->kind) {
			case SPEC_STR_IMAGE: ok = spec_image_valid(x); break;
			case SPEC_STR_ENUM: ok = spec_enum_index(f->enums, x) >= 0; break;
			case SPEC_STR_SIZE: ok = size_valid(x); break;
			case SPEC_STR_NAME: ok = spec_dns_subdomain_valid(x); break;
			}
			if (!ok && f->kind == SPEC_STR_ENUM)
				return spec_fail(err, errlen, "spec.%s: '%.60s' is not one of the allowed values",
						 f->path, x);
			if (!ok)
				return spec_fail(err, errlen, "spec.%s: '%.80s' is not a valid %s", f->path, x,
						 f->kind == SPEC_STR_IMAGE  ? "image reference"
						 : f->kind == SPEC_STR_SIZE ? "size (1k..1024m)"
									    : "name");
		}
		char *at = (char *)target + f->offset;
		if (f->kind == SPEC_STR_ENUM) {
			*(int *)at = spec_enum_index(f->enums, x);
		} else if (x) {
			char *copy = strdup(x);
			if (!copy)
				return spec_fail(err, errlen, "out of memory");
			*(char **)at = copy;
		}
	}
	return 0;
}

/* spec.scheduling's nodeSelector and tolerations (validated, copied into s). 0, or -1 with err (no memory included). */
static int read_scheduling(memshack_spec *s, json_t *sch, char *err, size_t errlen)
{
	json_t *nsel = json_object_get(sch, "nodeSelector");
	if (nsel && !json_is_null(nsel)) {
		const char *k;
		json_t *x;
		if (!json_is_object(nsel))
			return spec_fail(err, errlen, "spec.scheduling.nodeSelector: must be a map of strings");
		json_object_foreach (nsel, k, x) {
			if (!json_is_string(x) || !spec_label_key_valid(k) ||
			    !spec_label_value_valid(json_string_value(x), json_string_length(x), true))
				return spec_fail(err, errlen,
						 "spec.scheduling.nodeSelector.%.60s: must be a label value", k);
		}
		if (!(s->node_selector = json_deep_copy(nsel)))
			return spec_fail(err, errlen, "out of memory");
	}
	json_t *tol = json_object_get(sch, "tolerations");
	if (tol && !json_is_null(tol)) {
		if (!json_is_array(tol))
			return spec_fail(err, errlen, "spec.scheduling.tolerations: must be a list");
		if (!(s->tolerations = json_deep_copy(tol)))
			return spec_fail(err, errlen, "out of memory");
	}
	return 0;
}

/* spec is an object (or absent) holding only known keys, and its sections are objects holding only known keys. */
static int check_spec_shape(json_t *spec, char *err, size_t errlen)
{
	static const char *const top[] = {
		"mcrouterPoolSize", "numShards", "numReplicas", "memcachedImage", "mcrouterImage",
		"mcrouterPort",     "memcached", "mcrouter",    "scheduling",     "monitoring",
		"networkPolicy",    "migration", NULL
	};
	static const char *const mc[] = { "memoryMiB", "maxItemSize", "maxConnections", "threads", "extraArgs",
					  "resources", NULL };
	static const char *const mr[] = {
		"readPolicy", "writePolicy", "serverTimeoutMs", "extraArgs", "resources", NULL
	};
	static const char *const sc[] = { "nodeSelector", "tolerations", "priorityClassName", "spreadAcross", NULL };
	static const char *const mg[] = { "mode", "windowSeconds", "warmUpExptimeSeconds", NULL };
	if (!json_is_object(spec))
		return 0;
	if (spec_check_keys(spec, "spec", top, err, errlen))
		return -1;
	static const struct {
		const char *key;
		const char *const *known;
	} subs[] = { { "memcached", mc }, { "mcrouter", mr }, { "scheduling", sc }, { "migration", mg } };
	for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
		json_t *sub = json_object_get(spec, subs[i].key);
		char path[40];
		snprintf(path, sizeof path, "spec.%s", subs[i].key);
		if (sub && !json_is_null(sub) && !json_is_object(sub))
			return spec_fail(err, errlen, "%s: must be an object", path);
		if (json_is_object(sub) && spec_check_keys(sub, path, subs[i].known, err, errlen))
			return -1;
	}
	return 0;
}

int memshack_spec_parse(json_t *obj, memshack_spec **ret, char *err, size_t errlen)
{
	if (!json_is_object(obj))
		return spec_fail(err, errlen, "not an object");
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	json_t *gen = json_object_get(meta, "generation");
	/* Child names append up to "-memshack-memcached" (19) and a pool suffix; StatefulSet pods need ≤ 63 for DNS. */
	if (!name || !spec_dns_label_valid(name) || strlen(name) > 30)
		return spec_fail(err, errlen,
				 "metadata.name: must be a DNS label of at most 30 characters (got '%.80s')",
				 name ? name : "");
	if (ns && !spec_dns_label_valid(ns))
		return spec_fail(err, errlen, "metadata.namespace: '%.80s' is not a DNS label", ns);
	json_t *spec = json_object_get(obj, "spec");
	if (spec && !json_is_object(spec) && !json_is_null(spec))
		return spec_fail(err, errlen, "spec: must be an object");
	if (spec_check_text(spec, "spec", err, errlen))
		return -1;
	if (check_spec_shape(spec, err, errlen))
		return -1;
	memshack_spec *s = calloc(1, sizeof *s);
	if (!s)
		return spec_fail(err, errlen, "out of memory");
	s->name = strdup(name);
	s->namespace = strdup(ns ? ns : "default");
	s->uid = uid ? strdup(uid) : NULL;
	s->generation = json_is_integer(gen) ? json_integer_value(gen) : 1;
	if (spec_read_int_fields(spec, memshack_int_fields, memshack_n_int_fields, s, err, errlen)) {
		memshack_spec_free(s);
		return -1;
	}
	if (s->num_shards * s->num_replicas > MEMSHACK_MAX_MEMBERS) {
		int n = s->num_shards * s->num_replicas;
		memshack_spec_free(s);
		return spec_fail(err, errlen, "spec: numShards × numReplicas must be at most %d (got %d)",
				 MEMSHACK_MAX_MEMBERS, n);
	}
	if (spec_read_str_fields(spec, memshack_str_fields, memshack_n_str_fields, s, err, errlen)) {
		memshack_spec_free(s);
		return -1;
	}
	json_t *mcd = json_object_get(spec, "memcached"), *mcr = json_object_get(spec, "mcrouter"),
	       *sch = json_object_get(spec, "scheduling");
	if (spec_check_args(json_object_get(mcd, "extraArgs"), "spec.memcached.extraArgs", memcached_reserved_flags,
			    err, errlen) ||
	    spec_check_args(json_object_get(mcr, "extraArgs"), "spec.mcrouter.extraArgs", mcrouter_reserved_flags, err,
			    errlen) ||
	    spec_check_resources(json_object_get(mcd, "resources"), "spec.memcached.resources", err, errlen) ||
	    spec_check_resources(json_object_get(mcr, "resources"), "spec.mcrouter.resources", err, errlen)) {
		memshack_spec_free(s);
		return -1;
	}
	json_t *v;
	s->memcached_args =
		(v = json_object_get(mcd, "extraArgs")) && json_is_array(v) ? json_deep_copy(v) : json_array();
	s->mcrouter_args =
		(v = json_object_get(mcr, "extraArgs")) && json_is_array(v) ? json_deep_copy(v) : json_array();
	s->memcached_resources =
		(v = json_object_get(mcd, "resources")) && json_is_object(v) ? json_deep_copy(v) : NULL;
	s->mcrouter_resources = (v = json_object_get(mcr, "resources")) && json_is_object(v) ? json_deep_copy(v) : NULL;
	const int pod_ports[] = { MEMSHACK_MEMCACHED_PORT, s->mcrouter_port, 0 };
	if (read_scheduling(s, sch, err, errlen) ||
	    monitoring_parse(spec, true, pod_ports, &s->monitoring, err, errlen)) {
		memshack_spec_free(s);
		return -1;
	}
	if (!s->name || !s->namespace || !s->memcached_image || !s->mcrouter_image || !s->max_item_size ||
	    !s->memcached_args || !s->mcrouter_args || (uid && !s->uid) ||
	    (json_is_object(json_object_get(mcd, "resources")) && !s->memcached_resources) ||
	    (json_is_object(json_object_get(mcr, "resources")) && !s->mcrouter_resources)) {
		memshack_spec_free(s);
		return spec_fail(err, errlen, "out of memory");
	}
	*ret = s;
	return 0;
}
