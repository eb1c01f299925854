#include "runtime/store.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"
#include "util/json_encode.h"
#include "util/object_meta.h"

/* One allocation per object: the map key, the resourceVersion, then the projection's compact JSON. */
typedef struct entry {
	uint32_t len; /* of the JSON text */
	uint16_t key_len;
	uint16_t rv_len; /* 0: none */
	char data[];     /* key '\0' rv '\0' text '\0' */
} entry;

#define ENTRY_KEY(e) ((e)->data)
#define ENTRY_RVP(e) ((e)->data + (e)->key_len + 1)
#define ENTRY_TEXT(e) ((e)->data + (e)->key_len + 1 + (e)->rv_len + 1)

struct store {
	pthread_rwlock_t lock;
	strmap map; /* key -> entry* */
	store_project_fn project;
	void *ud;
	bool synced;
	size_t bytes;
};

static void entry_free(void *p)
{
	free(p);
}

json_t *store_trim(void *ud, json_t *obj)
{
	(void)ud;
	json_t *copy = json_copy(obj); /* shallow: we replace metadata below */
	json_t *meta = json_object_get(obj, "metadata");
	if (copy && json_is_object(meta) && json_object_get(meta, "managedFields")) {
		json_t *m = json_copy(meta);
		json_object_del(m, "managedFields");
		json_object_set_new(copy, "metadata", m);
	}
	return copy;
}

store *store_new(store_project_fn project, void *ud)
{
	store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	pthread_rwlock_init(&s->lock, NULL);
	s->project = project ? project : store_trim;
	s->map = (strmap)STRMAP_INIT_BORROWED;
	s->ud = ud;
	return s;
}

void store_free(store *s)
{
	if (!s)
		return;
	strmap_release(&s->map, entry_free);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

char *store_key_of(json_t *obj, char *buf, size_t len)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	if (!name || !*name)
		return NULL;
	int n = ns && *ns ? snprintf(buf, len, "%s/%s", ns, name) : snprintf(buf, len, "%s", name);
	return n > 0 && (size_t)n < len ? buf : NULL;
}

static size_t entry_cost(const char *key, const entry *e)
{
	/* struct + key + text + rv + one hash slot (the map keeps ≤ 3/4 load). */
	(void)key;
	return sizeof *e + e->key_len + 1 + e->rv_len + 1 + e->len + 1 + sizeof(strmap_entry) * 4 / 3;
}

static entry *make_entry(store *s, json_t *obj, const char *key)
{
	json_t *kept = s->project(s->ud, obj);
	if (!kept)
		return NULL;
	const char *rv = object_meta_str(obj, "resourceVersion");
	size_t rv_len = rv ? strlen(rv) : 0;
	char *text = json_encode(kept, JSON_COMPACT);
	json_decref(kept);
	if (!text)
		return NULL;
	size_t len = strlen(text), key_len = strlen(key);
	entry *e = NULL;
	if (len < UINT32_MAX && rv_len < 256 && key_len < 1024)
		e = malloc(sizeof *e + key_len + 1 + rv_len + 1 + len + 1);
	if (e) {
		e->len = (uint32_t)len;
		e->key_len = (uint16_t)key_len;
		e->rv_len = (uint16_t)rv_len;
		memcpy(ENTRY_KEY(e), key, key_len + 1);
		memcpy(ENTRY_RVP(e), rv ? rv : "", rv_len + 1);
		memcpy(ENTRY_TEXT(e), text, len + 1);
	}
	free(text);
	return e;
}

/*
 * Whether obj encodes back to exactly the entry's text. jansson's parser
 * can return a damaged tree when memory runs out mid-way (jansson 2.14's
 * lexer ignores a failed append to a token's text: a key or a string comes
 * out cut short); the entry's text is jansson's own compact encoding, so an
 * undamaged parse reproduces it byte for byte.
 */
static bool parsed_whole(json_t *obj, const entry *e)
{
	char *again = json_encode(obj, JSON_COMPACT);
	bool same = again && strlen(again) == e->len && !memcmp(again, ENTRY_TEXT(e), e->len);
	free(again);
	return same;
}

/* Parses an entry; puts the resourceVersion kept beside the text back into metadata. NULL on no memory. */
static json_t *entry_parse(const entry *e)
{
	json_t *obj = json_loadb(ENTRY_TEXT(e), e->len, JSON_ALLOW_NUL, NULL);
	if (obj && !parsed_whole(obj, e)) {
		json_decref(obj);
		return NULL;
	}
	if (obj && e->rv_len) {
		json_t *meta = json_object_get(obj, "metadata");
		if (!json_is_object(meta)) {
			meta = json_object();
			if (json_object_set_new(obj, "metadata", meta))
				meta = NULL;
		}
		if (!meta || json_object_set_new(meta, "resourceVersion", json_string(ENTRY_RVP(e)))) {
			json_decref(obj); /* never a copy without its resourceVersion */
			return NULL;
		}
	}
	return obj;
}

static bool same_rv(const entry *a, const entry *b)
{
	return a->rv_len && b->rv_len && !strcmp(ENTRY_RVP(a), ENTRY_RVP(b));
}

int store_upsert(store *s, json_t *obj, bool *ret_changed)
{
	return store_upsert_diff(s, obj, ret_changed, NULL);
}

int store_upsert_diff(store *s, json_t *obj, bool *ret_changed, bool *ret_kept_changed)
{
	char key[512];
	if (!store_key_of(obj, key, sizeof key))
		return -1;
	entry *e = make_entry(s, obj, key);
	if (!e)
		return -1;
	pthread_rwlock_wrlock(&s->lock);
	void *old = NULL;
	bool replaced = false;
	int rc = strmap_put(&s->map, ENTRY_KEY(e), e, &old, &replaced);
	if (rc == 0) {
		if (ret_changed) {
			*ret_changed = !replaced || !same_rv(old, e);
		}
		if (ret_kept_changed) {
			const entry *o = old;
			*ret_kept_changed = !replaced || o->len != e->len || strcmp(ENTRY_TEXT(o), ENTRY_TEXT(e));
		}
		if (replaced)
			s->bytes -= entry_cost(key, old);
		s->bytes += entry_cost(key, e);
		entry_free(old);
	}
	pthread_rwlock_unlock(&s->lock);
	if (rc)
		entry_free(e);
	return rc;
}

void store_delete(store *s, const char *key, bool *ret_existed)
{
	pthread_rwlock_wrlock(&s->lock);
	bool found;
	entry *e = strmap_remove(&s->map, key, &found);
	if (found)
		s->bytes -= entry_cost(key, e);
	pthread_rwlock_unlock(&s->lock);
	entry_free(e);
	if (ret_existed)
		*ret_existed = found;
}

int store_replace(store *s, json_t *items, store_replace_fn on_changed, store_replace_fn on_vanished, void *ud)
{
	/* Build the new map outside the lock, then swap. */
	strmap fresh = STRMAP_INIT_BORROWED;
	size_t bytes = 0;
	size_t i;
	json_t *obj;
	json_array_foreach (items, i, obj) {
		char key[512];
		if (!store_key_of(obj, key, sizeof key))
			continue;
		entry *e = make_entry(s, obj, key);
		void *dup = NULL;
		bool replaced = false;
		if (!e || strmap_put(&fresh, ENTRY_KEY(e), e, &dup, &replaced)) {
			entry_free(e);
			strmap_release(&fresh, entry_free);
			return -1;
		}
		if (replaced) {
			bytes -= entry_cost(key, dup);
			entry_free(dup);
		}
		bytes += entry_cost(key, e);
	}
	pthread_rwlock_wrlock(&s->lock);
	strmap old = s->map;
	s->map = fresh;
	s->bytes = bytes;
	s->synced = true;
	pthread_rwlock_unlock(&s->lock);

	/* Notify outside the lock: vanished keys (synthesised deletes), then added or changed objects. */
	size_t it = 0;
	const char *key;
	void *v;
	while (on_vanished && strmap_next(&old, &it, &key, &v)) {
		bool found;
		pthread_rwlock_rdlock(&s->lock);
		strmap_get(&s->map, key, &found);
		pthread_rwlock_unlock(&s->lock);
		if (!found) {
			json_t *gone = entry_parse(v);
			on_vanished(ud, key, gone);
			json_decref(gone);
		}
	}
	json_array_foreach (items, i, obj) {
		char k[512];
		if (!on_changed || !store_key_of(obj, k, sizeof k))
			continue;
		entry *prev = strmap_get(&old, k, NULL);
		const char *rv = object_meta_str(obj, "resourceVersion");
		if (!prev || !prev->rv_len || !rv || strcmp(ENTRY_RVP(prev), rv))
			on_changed(ud, k, obj);
	}
	strmap_release(&old, entry_free);
	return 0;
}

json_t *store_get(store *s, const char *key)
{
	json_t *obj = NULL;
	(void)!store_lookup(s, key, &obj); /* absent and unreadable are both NULL here */
	return obj;
}

int store_lookup(store *s, const char *key, json_t **ret)
{
	pthread_rwlock_rdlock(&s->lock);
	entry *e = strmap_get(&s->map, key, NULL);
	*ret = e ? entry_parse(e) : NULL;
	pthread_rwlock_unlock(&s->lock);
	return *ret ? 1 : e ? -1 : 0;
}

json_t *store_list(store *s, bool (*filter)(void *ud, json_t *obj), void *ud)
{
	return store_list_prefix(s, NULL, filter, ud);
}

json_t *store_list_prefix(store *s, const char *key_prefix, bool (*filter)(void *ud, json_t *obj), void *ud)
{
	json_t *out = json_array();
	if (!out)
		return NULL;
	size_t plen = key_prefix ? strlen(key_prefix) : 0;
	pthread_rwlock_rdlock(&s->lock);
	size_t it = 0;
	const char *k;
	void *v;
	while (strmap_next(&s->map, &it, &k, &v)) {
		if (plen && strncmp(k, key_prefix, plen))
			continue; /* decided on the key alone: nothing parsed */
		json_t *obj = entry_parse(v);
		if (!obj || ((!filter || filter(ud, obj)) && json_array_append(out, obj))) {
			/* Fail closed: a list missing an object would be read as that object being gone. */
			json_decref(obj);
			json_decref(out);
			out = NULL;
			break;
		}
		json_decref(obj);
	}
	pthread_rwlock_unlock(&s->lock);
	return out;
}

char **store_keys(store *s, size_t *n)
{
	pthread_rwlock_rdlock(&s->lock);
	size_t len = s->map.len, got = 0, it = 0;
	char **keys = calloc(len + 1, sizeof *keys);
	const char *k;
	void *v;
	while (keys && strmap_next(&s->map, &it, &k, &v)) {
		if (!(keys[got] = strdup(k))) {
			store_keys_free(keys);
			keys = NULL;
			break;
		}
		got++;
	}
	pthread_rwlock_unlock(&s->lock);
	*n = keys ? got : 0;
	return keys;
}

void store_keys_free(char **keys)
{
	for (size_t i = 0; keys && keys[i]; i++)
		free(keys[i]);
	free(keys);
}

size_t store_len(store *s)
{
	pthread_rwlock_rdlock(&s->lock);
	size_t n = s->map.len;
	pthread_rwlock_unlock(&s->lock);
	return n;
}

size_t store_bytes(store *s)
{
	pthread_rwlock_rdlock(&s->lock);
	size_t n = s->bytes;
	pthread_rwlock_unlock(&s->lock);
	return n;
}

bool store_synced(store *s)
{
	pthread_rwlock_rdlock(&s->lock);
	bool b = s->synced;
	pthread_rwlock_unlock(&s->lock);
	return b;
}
