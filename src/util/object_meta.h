/*
 * object_meta — reading a Kubernetes object's metadata from its JSON. Pure.
 *
 * Every accessor takes any JSON value (NULL, a non-object, an object without
 * metadata) and returns NULL / the default then; strings are borrowed from
 * the object and live as long as it does.
 */
#ifndef MEMSHACK_UTIL_OBJECT_META_H
#define MEMSHACK_UTIL_OBJECT_META_H

#include <jansson.h>

/* metadata.<key> when it is a string ("name", "namespace", "uid", "resourceVersion", …), else NULL. Borrowed. */
const char *object_meta_str(const json_t *obj, const char *key);
/* metadata.labels.<label> when it is a string, else NULL. Borrowed. */
const char *object_meta_label(const json_t *obj, const char *label);
/* metadata.annotations.<annotation> when it is a string, else NULL. Borrowed. */
const char *object_meta_annotation(const json_t *obj, const char *annotation);

#endif
