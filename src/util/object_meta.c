#include "util/object_meta.h"

static json_t *meta_field(const json_t *obj, const char *key)
{
	return json_object_get(json_object_get(obj, "metadata"), key);
}

const char *object_meta_str(const json_t *obj, const char *key)
{
	return json_string_value(meta_field(obj, key));
}

const char *object_meta_label(const json_t *obj, const char *label)
{
	return json_string_value(json_object_get(meta_field(obj, "labels"), label));
}

const char *object_meta_annotation(const json_t *obj, const char *annotation)
{
	return json_string_value(json_object_get(meta_field(obj, "annotations"), annotation));
}
