#include "operator/children.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/apply.h"
#include "core/child_decision.h"
#include "core/memshack_desired.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "util/strmap.h"
#include "util/object_meta.h"

static const kube_resource *const child_resources[CHILD_KINDS] = {
	[CHILD_SERVICE] = &KUBE_RES_SERVICES,
	[CHILD_STATEFULSET] = &KUBE_RES_STATEFULSETS,
	[CHILD_PDB] = &KUBE_RES_PODDISRUPTIONBUDGETS,
	[CHILD_CONFIGMAP] = &KUBE_RES_CONFIGMAPS,
	[CHILD_DEPLOYMENT] = &KUBE_RES_DEPLOYMENTS,
	[CHILD_NETWORKPOLICY] = &KUBE_RES_NETWORKPOLICIES,
	[CHILD_SERVICEMONITOR] = &KUBE_RES_SERVICEMONITORS,
};

const kube_resource *child_kind_resource(child_kind k)
{
	return k < CHILD_KINDS ? child_resources[k] : NULL;
}

child_kind child_kind_named(const char *kind)
{
	int k = 0;
	while (kind && k < CHILD_KINDS && strcmp(child_resources[k]->kind, kind))
		k++;
	return kind ? (child_kind)k : CHILD_KINDS;
}

const char *const *child_list_drop(void)
{
	static const char *const drop[] = { "spec", "data", "binaryData", NULL };
	return drop;
}

const projection_fields *child_kind_projection(child_kind k)
{
	static const char *const sts_status[] = { "replicas", "readyReplicas", "updatedReplicas", "observedGeneration",
						  NULL };
	static const char *const dep_status[] = { "replicas",          "readyReplicas",      "updatedReplicas",
						  "availableReplicas", "observedGeneration", NULL };
	static const projection_fields sts_keep = { MEMSHACK_DIGEST_ANNOTATION, sts_status },
				       dep_keep = { MEMSHACK_DIGEST_ANNOTATION, dep_status },
				       other_keep = { MEMSHACK_DIGEST_ANNOTATION, NULL };
	return k == CHILD_STATEFULSET ? &sts_keep : k == CHILD_DEPLOYMENT ? &dep_keep : &other_keep;
}

struct children {
	kube_client *client;
	metrics *metrics;
	pthread_mutex_t mu;
	strmap memos; /* "Kind/ns/name" -> child_memo* */
};

children *children_new(kube_client *c, metrics *m)
{
	children *ch = calloc(1, sizeof *ch);
	if (!ch)
		return NULL;
	ch->client = c;
	ch->metrics = m;
	pthread_mutex_init(&ch->mu, NULL);
	if (m && metrics_declare(m, "memshack_child_applies_total", METRIC_COUNTER,
				 "Server-side applies of child objects (none when nothing changed).", NULL, 0)) {
		children_free(ch);
		return NULL;
	}
	return ch;
}

void children_free(children *ch)
{
	if (!ch)
		return;
	strmap_release(&ch->memos, free);
	pthread_mutex_destroy(&ch->mu);
	free(ch);
}

static const char *digest_of(json_t *obj)
{
	return object_meta_annotation(obj, MEMSHACK_DIGEST_ANNOTATION);
}

static long long generation_of(json_t *obj)
{
	json_t *g = json_object_get(json_object_get(obj, "metadata"), "generation");
	return json_is_integer(g) ? (long long)json_integer_value(g) : 0;
}

/* Records our apply: after is the object the server returned, before the cached copy we decided on (either may be NULL). */
static void memo_set(children *ch, const char *key, const char *digest, json_t *after, json_t *before)
{
	pthread_mutex_lock(&ch->mu);
	child_memo *mm = strmap_get(&ch->memos, key, NULL);
	if (!mm && (mm = calloc(1, sizeof *mm)) && strmap_put(&ch->memos, key, mm, NULL, NULL)) {
		free(mm);
		mm = NULL;
	}
	if (mm) {
		if (strcmp(mm->digest, digest ? digest : ""))
			mm->reverts = 0; /* a new desired state: earlier contests are moot */
		snprintf(mm->digest, sizeof mm->digest, "%s", digest ? digest : "");
		mm->generation = generation_of(after);
		snprintf(mm->rv, sizeof mm->rv, "%s", object_meta_str(after, "resourceVersion") ?: "");
		snprintf(mm->rv_before, sizeof mm->rv_before, "%s",
			 before ? object_meta_str(before, "resourceVersion") ?: "" : "");
	}
	pthread_mutex_unlock(&ch->mu);
}

static bool memo_get(children *ch, const char *key, child_memo *out)
{
	pthread_mutex_lock(&ch->mu);
	child_memo *mm = strmap_get(&ch->memos, key, NULL);
	if (mm)
		*out = *mm;
	pthread_mutex_unlock(&ch->mu);
	return mm != NULL;
}

static void memo_note_revert(children *ch, const char *key, int reverts, int64_t now_us)
{
	pthread_mutex_lock(&ch->mu);
	child_memo *mm = strmap_get(&ch->memos, key, NULL);
	if (mm) {
		mm->reverts = reverts;
		mm->last_revert_us = now_us;
	}
	pthread_mutex_unlock(&ch->mu);
}

int children_apply(children *ch, informer *cache, json_t *desired, bool *ret_applied, int64_t *ret_defer_us,
		   kube_error *err)
{
	*ret_applied = false;
	*ret_defer_us = 0;
	if (cache && informer_absent(cache))
		return CHILDREN_NOT_SERVED;
	const char *kind = json_string_value(json_object_get(desired, "kind"));
	const char *ns = object_meta_str(desired, "namespace"), *name = object_meta_str(desired, "name");
	const char *want = digest_of(desired);
	if (!kind || !name || !want)
		return kube_error_set(err, KUBE_ERR_INVALID, "child object lacks kind, name or digest");
	char key[512], skey[400];
	snprintf(key, sizeof key, "%s/%s/%s", kind, ns ? ns : "", name);
	snprintf(skey, sizeof skey, "%s%s%s", ns ? ns : "", ns ? "/" : "", name);
	json_t *cached = NULL;
	if (store_lookup(informer_store(cache), skey, &cached) < 0)
		return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory reading the cached %s %s", kind, name);
	child_memo mm;
	memset(&mm, 0, sizeof mm);
	bool have_memo = memo_get(ch, key, &mm);
	child_seen seen = { digest_of(cached), generation_of(cached), object_meta_str(cached, "resourceVersion") };
	int64_t now_us = clock_mono_us();
	child_verdict v = child_decide(have_memo ? &mm : NULL, cached ? &seen : NULL, want,
				       child_kind_has_generation(kind), now_us);
	switch (v.action) {
	case CHILD_UP_TO_DATE: json_decref(cached); return 0;
	case CHILD_ADOPT:
		memo_set(ch, key, want, cached, NULL);
		json_decref(cached);
		return 0;
	case CHILD_DEFER:
		*ret_defer_us = v.defer_us;
		json_decref(cached);
		return 0;
	case CHILD_APPLY:
	case CHILD_REVERT: break;
	}
	child_kind k = child_kind_named(kind);
	const kube_resource *res = k < CHILD_KINDS ? child_resources[k] : NULL;
	json_t *after = NULL;
	if (!res || apply_object(ch->client, MEMSHACK_FIELD_MANAGER, res, desired, &after, err)) {
		json_decref(cached);
		return res ? -1 : kube_error_set(err, KUBE_ERR_INVALID, "unknown child kind '%s'", kind);
	}
	memo_set(ch, key, want, after, cached);
	json_decref(cached);
	if (v.action == CHILD_REVERT)
		memo_note_revert(ch, key, v.reverts + 1, now_us);
	json_decref(after);
	if (ch->metrics)
		metrics_add(ch->metrics, "memshack_child_applies_total", NULL, 1);
	*ret_applied = true;
	return 0;
}

static bool memo_under(void *ud, const char *key, void *value)
{
	(void)value;
	const char *want = ud;               /* "<ns>/<prefix>" */
	const char *rest = strchr(key, '/'); /* after "Kind" */
	return rest && !strncmp(rest + 1, want, strlen(want));
}

/* Forgets the memos whose "<ns>/<name>" starts with want. */
static void forget_under(children *ch, const char *want)
{
	pthread_mutex_lock(&ch->mu);
	strmap_remove_if(&ch->memos, memo_under, (void *)want, free);
	pthread_mutex_unlock(&ch->mu);
}

void children_forget(children *ch, const char *ns, const char *prefix)
{
	char want[600];
	snprintf(want, sizeof want, "%s/%s", ns, prefix);
	forget_under(ch, want);
}

void children_forget_owner(children *ch, const char *key, const char *suffix)
{
	char want[600];
	snprintf(want, sizeof want, "%s%s", key, suffix); /* key is "<ns>/<name>" */
	forget_under(ch, want);
}

void children_note_contested(events *ev, json_t *owner, json_t *child, int64_t defer_us, int64_t *shortest_defer_us)
{
	if (defer_us <= 0)
		return;
	if (!*shortest_defer_us || defer_us < *shortest_defer_us)
		*shortest_defer_us = defer_us;
	events_record(ev, owner, "Warning", "ChildContested", "Reconcile",
		      "%s %s keeps being changed by someone else; reverting it with a growing delay",
		      json_string_value(json_object_get(child, "kind")), object_meta_str(child, "name"));
}

int children_report_undecodable(kube_client *c, events *ev, informer *inf, const kube_resource *res,
				const char *log_name, const char *key)
{
	char reason[200], now[40];
	json_t *id = informer_quarantined(inf, key, reason, sizeof reason);
	if (!id)
		return 0;
	if (informer_quarantine_reported(inf, key)) {
		json_decref(id); /* reported already: a resync writes nothing */
		return 1;
	}
	timefmt_rfc3339(clock_wall_us(), now, sizeof now);
	kube_error kerr = KUBE_ERROR_INIT;
	int rc = 1;
	if (apply_status_undecodable(c, res, id, reason, now, &kerr)) {
		log_write(LOG_WARN, log_name, key, "reporting it cannot be decoded: %s", kube_strerror(&kerr));
		rc = -1;
	} else {
		informer_quarantine_set_reported(inf, key);
		events_record(ev, id, "Warning", "Undecodable", "Decode", "%s", reason);
	}
	kube_error_release(&kerr);
	json_decref(id);
	return rc;
}

static bool controlled_by(void *ud, json_t *obj)
{
	return apply_is_controlled_by(obj, ud);
}

int children_prune_unwanted(informer *const *caches, const child_kind *kinds, size_t n, kube_client *c,
			    const char *key_prefix, const char *owner_uid, json_t *desired, kube_error *err)
{
	int removed = 0;
	for (size_t i = 0; i < n; i++) {
		informer *inf = caches[kinds[i]];
		if (!inf || informer_absent(inf))
			continue; /* not served: nothing of it can exist */
		const char *keep[8] = { NULL };
		size_t kept = 0, j;
		json_t *obj;
		json_array_foreach (desired, j, obj)
			if (child_kind_named(json_string_value(json_object_get(obj, "kind"))) == kinds[i] &&
			    kept < sizeof keep / sizeof *keep - 1)
				keep[kept++] = object_meta_str(obj, "name");
		json_t *owned = store_list_prefix(informer_store(inf), key_prefix, controlled_by, (void *)owner_uid);
		if (!owned)
			return kube_error_set(err, KUBE_ERR_NOMEM, "out of memory listing cached %s",
					      informer_resource(inf)->plural);
		int r = json_array_size(owned) > kept
				? apply_prune_owned(c, informer_resource(inf), owned, owner_uid, keep, err)
				: 0;
		json_decref(owned);
		if (r < 0)
			return -1;
		removed += r;
	}
	return removed;
}
