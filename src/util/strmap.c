#include "util/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char tombstone_[1];
#define TOMBSTONE tombstone_

static uint32_t hash_str(const char *s)
{
	/* FNV-1a, 32-bit */
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void strmap_release(strmap *m, strmap_free_fn free_value)
{
	for (size_t i = 0; i < m->cap; i++) {
		strmap_entry *e = &m->slots[i];
		if (e->key && e->key != TOMBSTONE) {
			if (!m->borrow_keys)
				free(e->key);
			if (free_value)
				free_value(e->value);
		}
	}
	free(m->slots);
	bool borrow = m->borrow_keys;
	*m = (strmap)STRMAP_INIT;
	m->borrow_keys = borrow;
}

static strmap_entry *find(const strmap *m, const char *key, uint32_t h)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = h & mask, n = 0; n < m->cap; i = (i + 1) & mask, n++) {
		strmap_entry *e = &m->slots[i];
		if (!e->key)
			return NULL;
		if (e->key != TOMBSTONE && e->hash == h && !strcmp(e->key, key))
			return e;
	}
	return NULL;
}

void *strmap_get(const strmap *m, const char *key, bool *found)
{
	strmap_entry *e = find(m, key, hash_str(key));
	if (found)
		*found = e != NULL;
	return e ? e->value : NULL;
}

static int grow(strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	/* Rehash in place when mostly tombstones. */
	if (m->cap && m->len * 2 < m->cap)
		cap = m->cap;
	strmap_entry *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		strmap_entry *e = &m->slots[i];
		if (!e->key || e->key == TOMBSTONE)
			continue;
		size_t j = e->hash & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = *e;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->len;
	return 0;
}

int strmap_put(strmap *m, const char *key, void *value, void **ret_old, bool *ret_replaced)
{
	uint32_t h = hash_str(key);
	strmap_entry *e = find(m, key, h);
	if (ret_replaced)
		*ret_replaced = e != NULL;
	if (e) {
		if (ret_old)
			*ret_old = e->value;
		e->value = value;
		if (m->borrow_keys)
			e->key = (char *)key; /* the old value (and its key) is about to go */
		return 0;
	}
	if ((m->used + 1) * 4 > m->cap * 3 && grow(m))
		return -1;
	char *k = m->borrow_keys ? (char *)key : strdup(key);
	if (!k)
		return -1;
	size_t mask = m->cap - 1, i = h & mask;
	while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = (strmap_entry){ k, value, h };
	m->len++;
	return 0;
}

void *strmap_remove(strmap *m, const char *key, bool *found)
{
	strmap_entry *e = find(m, key, hash_str(key));
	if (found)
		*found = e != NULL;
	if (!e)
		return NULL;
	void *v = e->value;
	if (!m->borrow_keys)
		free(e->key);
	e->key = TOMBSTONE;
	e->value = NULL;
	m->len--;
	return v;
}

size_t strmap_remove_if(strmap *m, strmap_pred_fn drop, void *ud, strmap_free_fn free_value)
{
	size_t n = 0;
	for (size_t i = 0; i < m->cap; i++) {
		strmap_entry *e = &m->slots[i];
		if (!e->key || e->key == TOMBSTONE || !drop(ud, e->key, e->value))
			continue;
		if (!m->borrow_keys)
			free(e->key);
		if (free_value)
			free_value(e->value);
		e->key = TOMBSTONE;
		e->value = NULL;
		m->len--;
		n++;
	}
	return n;
}

bool strmap_next(const strmap *m, size_t *iter, const char **ret_key, void **ret_value)
{
	for (; *iter < m->cap; (*iter)++) {
		strmap_entry *e = &m->slots[*iter];
		if (e->key && e->key != TOMBSTONE) {
			if (ret_key)
				*ret_key = e->key;
			if (ret_value)
				*ret_value = e->value;
			(*iter)++;
			return true;
		}
	}
	return false;
}
