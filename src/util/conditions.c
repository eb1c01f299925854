#include "util/conditions.h"

#include <string.h>

json_t *conditions_find(json_t *conditions, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (conditions, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

void conditions_remove(json_t *conditions, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (conditions, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && !strcmp(t, type)) {
			json_array_remove(conditions, i);
			return;
		}
	}
}

static bool str_eq(json_t *obj, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(obj, key));
	return v && want && !strcmp(v, want);
}

bool conditions_set(json_t *conditions, const char *type, const char *status, const char *reason, const char *message,
		    json_int_t observed_generation, const char *now)
{
	json_t *c = conditions_find(conditions, type);
	if (!c) {
		c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "type", type, "status", status, "reason", reason,
			      "message", message ? message : "", "lastTransitionTime", now, "observedGeneration",
			      observed_generation);
		if (c)
			json_array_append_new(conditions, c);
		return c != NULL;
	}
	bool changed = false;
	if (!str_eq(c, "status", status)) {
		json_object_set_new(c, "status", json_string(status));
		json_object_set_new(c, "lastTransitionTime", json_string(now));
		changed = true;
	}
	if (!str_eq(c, "reason", reason)) {
		json_object_set_new(c, "reason", json_string(reason));
		changed = true;
	}
	if (!str_eq(c, "message", message ? message : "")) {
		json_object_set_new(c, "message", json_string(message ? message : ""));
		changed = true;
	}
	json_t *og = json_object_get(c, "observedGeneration");
	if (!json_is_integer(og) || json_integer_value(og) != observed_generation) {
		json_object_set_new(c, "observedGeneration", json_integer(observed_generation));
		changed = true;
	}
	if (!json_is_string(json_object_get(c, "lastTransitionTime")))
		json_object_set_new(c, "lastTransitionTime", json_string(now));
	return changed;
}

bool conditions_is_true(json_t *conditions, const char *type)
{
	return str_eq(conditions_find(conditions, type), "status", "True");
}

json_t *conditions_copy_of(json_t *status)
{
	json_t *c = json_object_get(status, "conditions");
	return json_is_array(c) ? json_deep_copy(c) : json_array();
}

json_t *conditions_invalid_spec_status(json_t *old, long long generation, const char *message, const char *now)
{
	json_t *st = json_is_object(old) ? json_deep_copy(old) : json_object();
	json_t *conds = conditions_copy_of(old);
	conditions_set(conds, "Ready", "False", "InvalidSpec", message, generation, now);
	conditions_set(conds, "Progressing", "False", "InvalidSpec", message, generation, now);
	conditions_set(conds, "Degraded", "True", "InvalidSpec", message, generation, now);
	json_object_set_new(st, "conditions", conds);
	json_object_set_new(st, "observedGeneration", json_integer(generation));
	return st;
}

static json_t *without_times(json_t *st)
{
	json_t *c = json_deep_copy(st);
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(c, "conditions"), i, x)
		json_object_del(x, "lastTransitionTime");
	return c;
}

bool conditions_status_differs(json_t *a, json_t *b)
{
	if (!a || !b)
		return a != b;
	json_t *x = without_times(a), *y = without_times(b);
	bool d = !json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return d;
}
