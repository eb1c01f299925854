#include "runtime/projection.h"

#include <string.h>

static void copy_key(json_t *dst, json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);
	if (v)
		json_object_set(dst, key, v);
}

json_t *project_owned_child(void *ud, json_t *obj)
{
	const projection_fields *keep = ud;
	const char *annotation = keep ? keep->annotation : NULL;
	const char *const *status_fields = keep ? keep->status : NULL;
	json_t *out = json_object();
	json_t *meta = json_object_get(obj, "metadata");
	json_t *m = json_object();
	if (!out || !m) {
		json_decref(out);
		json_decref(m);
		return NULL;
	}
	/* apiVersion and kind are the informer's; namespace is in the key; the store keeps resourceVersion. */
	static const char *const meta_keys[] = { "name", "namespace", "uid", "generation", "deletionTimestamp" };
	for (size_t i = 0; i < sizeof meta_keys / sizeof *meta_keys; i++)
		copy_key(m, meta, meta_keys[i]);
	size_t i;
	json_t *ref;
	json_array_foreach (json_object_get(meta, "ownerReferences"), i, ref) {
		if (!json_is_true(json_object_get(ref, "controller")))
			continue;
		/* Enough for apply_is_controlled_by(); events map to owners from the full object, not the cache. */
		json_t *r = json_object();
		copy_key(r, ref, "uid");
		json_object_set_new(r, "controller", json_true());
		json_object_set_new(m, "ownerReferences", json_pack("[o]", r));
		break;
	}
	json_t *kept = annotation ? json_object_get(json_object_get(meta, "annotations"), annotation) : NULL;
	if (kept)
		json_object_set_new(m, "annotations", json_pack("{s:O}", annotation, kept));
	json_object_set_new(out, "metadata", m);
	json_t *st = json_object_get(obj, "status");
	if (status_fields && json_is_object(st)) {
		json_t *s = json_object();
		for (size_t k = 0; status_fields[k]; k++)
			copy_key(s, st, status_fields[k]);
		json_object_set_new(out, "status", s);
	}
	return out;
}
