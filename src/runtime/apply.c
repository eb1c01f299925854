#include "runtime/apply.h"

#include "util/conditions.h"
#include "util/object_meta.h"

#include <stdlib.h>
#include <string.h>

int apply_object(kube_client *c, const char *field_manager, const kube_resource *res, json_t *desired, json_t **ret,
		 kube_error *err)
{
	char *path = kube_path(res, object_meta_str(desired, "namespace"), object_meta_str(desired, "name"), NULL, err);
	if (!path)
		return -1;
	int rc = kube_apply(c, path, desired, field_manager, true, ret, err);
	free(path);
	return rc;
}

int apply_status(kube_client *c, const char *field_manager, const kube_resource *res, const char *ns, const char *name,
		 json_t *status, kube_error *err)
{
	char *api = kube_api_version(res);
	char *path = api ? kube_path(res, ns, name, "status", err) : NULL;
	json_t *body = path ? json_pack("{s:s, s:s, s:{s:s}, s:O}", "apiVersion", api, "kind", res->kind, "metadata",
					"name", name, "status", status)
			    : NULL;
	int rc = -1;
	if (body && ns && res->namespaced)
		json_object_set_new(json_object_get(body, "metadata"), "namespace", json_string(ns));
	if (body)
		rc = kube_apply(c, path, body, field_manager, true, NULL, err);
	if (rc && err->kind == KUBE_ERR_API && err->http_code == 500 && err->message &&
	    strstr(err->message, "typed live object")) {
		/*
		 * Server-side apply needs the stored object to match its schema's
		 * types; one written before a CRD upgrade may not (a string where an
		 * integer now belongs). A merge patch of /status does not: the
		 * condition that explains the problem still gets through.
		 */
		kube_error_release(err);
		json_t *patch = json_pack("{s:O}", "status", status);
		rc = patch ? kube_patch(c, path, KUBE_PATCH_MERGE, patch, NULL, err) : -1;
		json_decref(patch);
	} else if (!body && (path || !api))
		kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	json_decref(body);
	free(path);
	free(api);
	return rc;
}

int apply_status_undecodable(kube_client *c, const kube_resource *res, json_t *identity, const char *message,
			     const char *now, kube_error *err)
{
	char *path = kube_path(res, object_meta_str(identity, "namespace"), object_meta_str(identity, "name"), "status",
			       err);
	if (!path)
		return -1;
	json_t *conds = json_array();
	json_t *patch = conds ? json_pack("{s:{s:O}}", "status", "conditions", conds) : NULL;
	int rc = -1;
	if (patch) {
		conditions_set(conds, "Ready", "False", "Undecodable", message, 0, now);
		json_object_del(json_array_get(conds, 0),
				"observedGeneration"); /* unknown: the object cannot be read */
		rc = kube_patch(c, path, KUBE_PATCH_MERGE, patch, NULL, err);
	} else {
		kube_error_set(err, KUBE_ERR_NOMEM, "out of memory");
	}
	json_decref(patch);
	json_decref(conds);
	free(path);
	return rc;
}

json_t *apply_owner_reference(json_t *owner)
{
	const char *api = json_string_value(json_object_get(owner, "apiVersion"));
	const char *kind = json_string_value(json_object_get(owner, "kind"));
	const char *name = object_meta_str(owner, "name"), *uid = object_meta_str(owner, "uid");
	if (!api || !kind || !name || !uid)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion", api, "kind", kind, "name", name, "uid", uid,
			 "controller", 1, "blockOwnerDeletion", 1);
}

bool apply_is_controlled_by(json_t *obj, const char *owner_uid)
{
	size_t i;
	json_t *ref;
	json_array_foreach (json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, ref) {
		const char *uid = json_string_value(json_object_get(ref, "uid"));
		if (json_is_true(json_object_get(ref, "controller")) && uid && owner_uid && !strcmp(uid, owner_uid))
			return true;
	}
	return false;
}

int apply_prune_owned(kube_client *c, const kube_resource *res, json_t *existing, const char *owner_uid,
		      const char *const *keep, kube_error *err)
{
	int deleted = 0;
	size_t i;
	json_t *obj;
	json_array_foreach (existing, i, obj) {
		if (!apply_is_controlled_by(obj, owner_uid))
			continue;
		const char *name = object_meta_str(obj, "name");
		bool wanted = false;
		for (size_t k = 0; keep && keep[k] && !wanted; k++)
			wanted = name && !strcmp(keep[k], name);
		if (wanted || !name || object_meta_str(obj, "deletionTimestamp"))
			continue;
		char *path = kube_path(res, object_meta_str(obj, "namespace"), name, NULL, err);
		if (!path)
			return -1;
		int rc = kube_delete_uid(c, path, "Background", object_meta_str(obj, "uid"), NULL, err);
		free(path);
		if (rc && !kube_error_is_not_found(err) && !kube_error_is_conflict(err))
			return -1;
		if (rc)
			kube_error_release(err); /* gone already, or re-created (UID precondition failed) */
		else
			deleted++;
	}
	return deleted;
}
