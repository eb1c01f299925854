/*
 * cm_mirror — a small controller built on memshack's runtime, for the
 * runtime's integration tests: every ConfigMap labelled
 * memshack.io/mirror-source=true gets a copy "<name>-mirror" (owned by it,
 * annotated with the identity of the process that wrote it). Edits to a
 * mirror are reverted; a mirror whose source is gone is deleted. A reconcile
 * that finds the mirror as desired writes nothing.
 *
 * Flags: the manager's (see --help), plus MIRROR_SLOW_MS in the environment
 * to make each reconcile take that long (for shutdown tests).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/apply.h"
#include "runtime/manager.h"
#include "util/log.h"

typedef struct mirror {
	manager *m;
	informer *sources;
	informer *mirrors;
	long slow_ms;
} mirror;

static json_t *desired_mirror(mirror *mr, json_t *src)
{
	json_t *meta = json_object_get(src, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	char mname[300];
	snprintf(mname, sizeof mname, "%s-mirror", name);
	json_t *ref = apply_owner_reference(src);
	json_t *data = json_object_get(src, "data");
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s}, s:[o]}, s:O}", "apiVersion", "v1", "kind",
			 "ConfigMap", "metadata", "name", mname, "namespace", ns, "labels", "memshack.io/mirror-of",
			 name, "annotations", "memshack.io/mirrored-by", manager_identity(mr->m), "ownerReferences",
			 ref, "data", data ? data : json_object());
}

static bool same_data(json_t *a, json_t *b)
{
	json_t *da = json_object_get(a, "data"), *db = json_object_get(b, "data");
	return (json_object_size(da) == 0 && json_object_size(db) == 0) || (da && db && json_equal(da, db));
}

static reconcile_result reconcile(void *ud, const char *key)
{
	mirror *mr = ud;
	reconcile_result ok = { RECONCILE_DONE, 0 }, fail = { RECONCILE_ERROR, 0 };
	if (mr->slow_ms) {
		struct timespec ts = { mr->slow_ms / 1000, (mr->slow_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	char mkey[600];
	snprintf(mkey, sizeof mkey, "%s-mirror", key);
	json_t *src = store_get(informer_store(mr->sources), key);
	json_t *have = store_get(informer_store(mr->mirrors), mkey);
	kube_error err = KUBE_ERROR_INIT;
	reconcile_result res = ok;
	if (!src) {
		if (have) {
			char *path = kube_path(
				&KUBE_RES_CONFIGMAPS,
				json_string_value(json_object_get(json_object_get(have, "metadata"), "namespace")),
				json_string_value(json_object_get(json_object_get(have, "metadata"), "name")), NULL,
				&err);
			if (!path || (kube_delete(manager_client(mr->m), path, "Background", NULL, &err) &&
				      !kube_error_is_not_found(&err))) {
				log_write(LOG_WARN, "cm-mirror", key, "deleting mirror: %s", kube_strerror(&err));
				res = fail;
			} else {
				log_write(LOG_INFO, "cm-mirror", key, "deleted mirror");
			}
			free(path);
		}
		goto out;
	}
	if (have && same_data(src, have)) {
		log_write(LOG_INFO, "cm-mirror", key, "reconciled: up to date");
		goto out;
	}
	json_t *want = desired_mirror(mr, src);
	if (!want || apply_object(manager_client(mr->m), "cm-mirror", &KUBE_RES_CONFIGMAPS, want, NULL, &err)) {
		log_write(LOG_WARN, "cm-mirror", key, "applying mirror: %s", kube_strerror(&err));
		res = fail;
	} else {
		log_write(LOG_INFO, "cm-mirror", key, "reconciled: mirror written by %s", manager_identity(mr->m));
		events_record(manager_events(mr->m), src, "Normal", have ? "MirrorUpdated" : "MirrorCreated", "Mirror",
			      "mirror %s written", mkey);
	}
	json_decref(want);
out:
	json_decref(src);
	json_decref(have);
	kube_error_release(&err);
	return res;
}

int main(int argc, char **argv)
{
	manager_options o = { 0 };
	int rc = manager_parse_flags(&o, argc, argv, "cm_mirror",
				     "Mirrors labelled ConfigMaps (runtime test controller).");
	if (rc)
		return rc == 1 ? 0 : 2;
	manager *m = manager_new(&o, "cm-mirror", "memshack.io/operator");
	if (!m)
		return 1;
	mirror mr = { .m = m };
	const char *slow = getenv("MIRROR_SLOW_MS");
	mr.slow_ms = slow ? atol(slow) : 0;
	kube_error err = KUBE_ERROR_INIT;
	informer_options so = { .res = &KUBE_RES_CONFIGMAPS,
				.namespace = manager_namespace(m),
				.label_selector = "memshack.io/mirror-source=true",
				.metrics = manager_metrics(m) };
	informer_options mo = { .res = &KUBE_RES_CONFIGMAPS,
				.namespace = manager_namespace(m),
				.label_selector = "memshack.io/mirror-of",
				.metrics = manager_metrics(m) };
	const char *wt = getenv("MIRROR_WATCH_TIMEOUT_S");
	if (wt)
		so.min_watch_timeout_s = mo.min_watch_timeout_s = atol(wt);
	mr.sources = informer_new(manager_client(m), &so, &err);
	mr.mirrors = informer_new(manager_client(m), &mo, &err);
	controller_options co = { .name = "cm-mirror",
				  .workers = manager_workers(m),
				  .reconcile = reconcile,
				  .ud = &mr,
				  .metrics = manager_metrics(m) };
	controller *c = controller_new(&co);
	informer *parts[] = { mr.sources, mr.mirrors };
	if (!mr.sources || !mr.mirrors || !c || controller_watch_primary(c, mr.sources) ||
	    controller_watch_owned(c, mr.mirrors, "ConfigMap") || manager_add(m, parts, 2, c)) {
		log_error("setup failed: %s", kube_strerror(&err));
		return 1;
	}
	rc = manager_run(m);
	manager_free(m);
	kube_error_release(&err);
	return rc;
}
