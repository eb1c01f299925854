/*
 * memshack_spec — the Memshack custom resource (memshack.io/v1alpha1):
 * parsing, defaulting and validation. Pure.
 *
 * The field table (memshack_int_fields and friends) is the single source of
 * names, limits, defaults and descriptions: the parser applies it and the
 * CRD generator (crd.h) emits the OpenAPI schema from it, so the two cannot
 * drift. An invalid spec gives one message naming the field, e.g.
 * "spec.numShards: must be between 1 and 256 (got 0)".
 */
#ifndef MEMSHACK_CORE_MEMSHACK_SPEC_H
#define MEMSHACK_CORE_MEMSHACK_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "core/monitoring.h"
#include "util/must_use.h"

#define MEMSHACK_GROUP "memshack.io"
#define MEMSHACK_VERSION_NAME "v1alpha1"
#define MEMSHACK_API_VERSION "memshack.io/v1alpha1"
#define MEMSHACK_MEMCACHED_PORT 11211
#define MEMSHACK_MAX_MEMBERS 1024 /* numShards × numReplicas */
/* spec.migration defaults (seconds): the warm-up window, and the TTL of values it copies. */
#define MEMSHACK_MIGRATION_WINDOW_S 300
#define MEMSHACK_MIGRATION_WARM_EXPTIME_S 3600

typedef enum mc_read_policy { MC_READ_LATEST, MC_READ_FAILOVER, MC_READ_ALLFASTEST, MC_READ_RANDOM } mc_read_policy;
typedef enum mc_write_policy {
	MC_WRITE_ALLSYNC,
	MC_WRITE_ALLMAJORITY,
	MC_WRITE_ALLINITIAL,
	MC_WRITE_ALLFASTEST,
	MC_WRITE_ALLASYNC
} mc_write_policy;
typedef enum mc_spread { MC_SPREAD_NODE, MC_SPREAD_ZONE, MC_SPREAD_NONE } mc_spread;
typedef enum mc_migration_mode { MC_MIGRATION_WARMUP, MC_MIGRATION_INPLACE } mc_migration_mode;

extern const char *const mc_read_policy_names[];    /* "Latest", ... NULL-terminated */
extern const char *const mc_write_policy_names[];   /* "AllSync", ... */
extern const char *const mc_spread_names[];         /* "Node", "Zone", "None" */
extern const char *const mc_migration_mode_names[]; /* "WarmUp", "InPlace" */

/*
 * The field tables: one row per spec field, read into the parsed struct at
 * `offset` (offsetof), so a new field is one row. They also generate the
 * CRD schema (crd.c).
 */
/* One integer field of the spec: read into an int at offset. */
typedef struct spec_int_field {
	const char *path; /* "numShards", "memcached.memoryMiB" */
	long long min, max, def;
	const char *description;
	size_t offset;
} spec_int_field;

/* One string field: read into a char * (a copy) at offset, or for SPEC_STR_ENUM the index into enums, an int (C enum). */
typedef struct spec_str_field {
	const char *path;
	const char *def;          /* NULL: optional, no default */
	const char *const *enums; /* NULL: free text (validated by kind) */
	int kind;                 /* SPEC_STR_* */
	const char *description;
	size_t offset;
} spec_str_field;

enum { SPEC_STR_IMAGE, SPEC_STR_ENUM, SPEC_STR_SIZE, SPEC_STR_NAME };

extern const spec_int_field memshack_int_fields[];
extern const size_t memshack_n_int_fields;
extern const spec_str_field memshack_str_fields[];
extern const size_t memshack_n_str_fields;

typedef struct memshack_spec {
	char *name;
	char *namespace;
	char *uid; /* may be NULL (render without a cluster) */
	long long generation;
	int mcrouter_pool_size;
	int num_shards;
	int num_replicas;
	int mcrouter_port;
	char *memcached_image;
	char *mcrouter_image;
	int memory_mib;
	int max_connections;
	int threads;
	char *max_item_size;
	json_t *memcached_args;      /* array of strings (owned) */
	json_t *memcached_resources; /* object or NULL (owned) */
	mc_read_policy read_policy;
	mc_write_policy write_policy;
	int server_timeout_ms;
	json_t *mcrouter_args;
	json_t *mcrouter_resources;
	json_t *node_selector; /* object or NULL */
	json_t *tolerations;   /* array or NULL */
	char *priority_class;  /* or NULL */
	mc_spread spread;
	/* spec.migration: how numShards and numReplicas changes are carried out (core/migration.h). */
	mc_migration_mode migration_mode;
	int migration_window_s;
	int migration_exptime_s;
	monitoring_spec monitoring; /* spec.monitoring and spec.networkPolicy */
} memshack_spec;

/*
 * Parses a Memshack object (borrowed). On success stores a new spec (free
 * with memshack_spec_free) in *ret and returns 0; otherwise returns -1 with
 * a one-line message in err naming the field.
 */
MEMSHACK_MUST_USE int memshack_spec_parse(json_t *obj, memshack_spec **ret, char *err, size_t errlen);
void memshack_spec_free(memshack_spec *s);

/* Helpers shared with MemcachedProxy's parser. */
/* Writes a formatted message into err; returns -1. */
int spec_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The value at a dotted path ("a.b") under spec (borrowed), or NULL. */
json_t *spec_at_path(json_t *spec, const char *path);
/* Index of v in a NULL-terminated name list, or -1. */
int spec_enum_index(const char *const *names, const char *v);
/*
 * Reads the table's fields from spec (borrowed; may be NULL: defaults) into
 * target (a memshack_spec or a proxy_spec). Strings are copies the target's
 * free function releases. 0, or -1 with err naming the field (or "out of
 * memory"); on failure what was copied stays in target for its free.
 */
MEMSHACK_MUST_USE int spec_read_int_fields(json_t *spec, const spec_int_field *fields, size_t n, void *target,
					   char *err, size_t errlen);
MEMSHACK_MUST_USE int spec_read_str_fields(json_t *spec, const spec_str_field *fields, size_t n, void *target,
					   char *err, size_t errlen);

/* Validators shared with MemcachedProxy (true when valid). */
bool spec_image_valid(const char *s);
bool spec_quantity_valid(const char *s);
bool spec_dns_label_valid(const char *s);
bool spec_dns_subdomain_valid(const char *s);
/* A label value: empty (when allow_empty) or <= 63 of [A-Za-z0-9_.-], alphanumeric at both ends. */
bool spec_label_value_valid(const char *v, size_t n, bool allow_empty);
/* A label key: [prefix/]name, the prefix a DNS subdomain. */
bool spec_label_key_valid(const char *k);
/* obj (an object) holds only keys in known (NULL-terminated); writes err naming path and the key otherwise. */
int spec_check_keys(json_t *obj, const char *path, const char *const *known, char *err, size_t errlen);
/* Validates an optional resources object {limits:{}, requests:{}} (borrowed); writes err on failure. */
int spec_check_resources(json_t *r, const char *path, char *err, size_t errlen);
/*
 * Validates an optional extraArgs array; writes err on failure. An argument
 * that sets one of `reserved` (NULL-terminated "-p", "--port" ...; NULL:
 * none) is refused — in any spelling getopt accepts: "-p1", bundled "-vp",
 * "--port=1", or an abbreviation such as "--conf".
 */
int spec_check_args(json_t *a, const char *path, const char *const *reserved, char *err, size_t errlen);
/*
 * Refuses any string (value or key) under v that holds a NUL or another
 * control character (U+0000-001F, U+007F), naming where:
 * "spec.memcached.extraArgs[0]: must not contain control characters (U+0000)".
 * A NUL would otherwise cut the string short, silently, into something
 * that may pass every other check. path names v ("spec").
 */
int spec_check_text(json_t *v, const char *path, char *err, size_t errlen);
/* Flags memshack sets on memcached (port, UDP off, listen address...) and mcrouter (config, port). */
extern const char *const memcached_reserved_flags[];
extern const char *const mcrouter_reserved_flags[];

#endif
