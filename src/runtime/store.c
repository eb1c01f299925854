#include "runtime/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"

typedef struct entry {
	char *text; /* compact JSON of the projection */
	size_t len;
	char *rv;
} entry;

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
	entry *e = p;
	if (!e)
		return;
	free(e->text);
	free(e->rv);
	free(e);
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
	return sizeof *e + strlen(key) + 1 + e->len + 1 + (e->rv ? strlen(e->rv) + 1 : 0) + sizeof(strmap_entry) * 4 / 3;
}

static entry *make_entry(store *s, json_t *obj)
{
	json_t *kept = s->project(s->ud, obj);
	if (!kept)
		return NULL;
	entry *e = calloc(1, sizeof *e);
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (e) {
		e->text = json_dumps(kept, JSON_COMPACT);
		e->rv = rv ? strdup(rv) : NULL;
		if (!e->text || (rv && !e->rv)) {
			entry_free(e);
			e = NULL;
		} else {
			e->len = strlen(e->text);
		}
	}
	json_decref(kept);
	return e;
}

int store_upsert(store *s, json_t *obj, bool *ret_changed)
{
	char key[512];
	if (!store_key_of(obj, key, sizeof key))
		return -1;
	entry *e = make_entry(s, obj);
	if (!e)
		return -1;
	pthread_rwlock_wrlock(&s->lock);
	void *old = NULL;
	bool replaced = false;
	int rc = strmap_put(&s->map, key, e, &old, &replaced);
	if (rc == 0) {
		if (ret_changed) {
			entry *o = old;
			*ret_changed = !replaced || !o->rv || !e->rv || strcmp(o->rv, e->rv);
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
	strmap fresh = STRMAP_INIT;
	size_t bytes = 0;
	size_t i;
	json_t *obj;
	json_array_foreach(items, i, obj)
	{
		char key[512];
		if (!store_key_of(obj, key, sizeof key))
			continue;
		entry *e = make_entry(s, obj);
		void *dup = NULL;
		bool replaced = false;
		if (!e || strmap_put(&fresh, key, e, &dup, &replaced)) {
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
			entry *e = v;
			json_t *gone = json_loadb(e->text, e->len, 0, NULL);
			on_vanished(ud, key, gone);
			json_decref(gone);
		}
	}
	json_array_foreach(items, i, obj)
	{
		char k[512];
		if (!on_changed || !store_key_of(obj, k, sizeof k))
			continue;
		entry *prev = strmap_get(&old, k, NULL);
		const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
		if (!prev || !prev->rv || !rv || strcmp(prev->rv, rv))
			on_changed(ud, k, obj);
	}
	strmap_release(&old, entry_free);
	return 0;
}

json_t *store_get(store *s, const char *key)
{
	pthread_rwlock_rdlock(&s->lock);
	entry *e = strmap_get(&s->map, key, NULL);
	json_t *obj = e ? json_loadb(e->text, e->len, 0, NULL) : NULL;
	pthread_rwlock_unlock(&s->lock);
	return obj;
}

json_t *store_list(store *s, bool (*filter)(void *ud, json_t *obj), void *ud)
{
	json_t *out = json_array();
	if (!out)
		return NULL;
	pthread_rwlock_rdlock(&s->lock);
	size_t it = 0;
	void *v;
	while (strmap_next(&s->map, &it, NULL, &v)) {
		entry *e = v;
		json_t *obj = json_loadb(e->text, e->len, 0, NULL);
		if (obj && (!filter || filter(ud, obj)))
			json_array_append(out, obj);
		json_decref(obj);
	}
	pthread_rwlock_unlock(&s->lock);
	return out;
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
