#include "util/yaml_emit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/sbuf.h"

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
	return sbuf_add(data, buffer, size) == 0;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int emit_scalar(yaml_emitter_t *em, const char *text, size_t len, bool plain_ok)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	if (!plain_ok)
		style = memchr(text, '\n', len) ? YAML_LITERAL_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)len, plain_ok, 1, style);
	return yaml_emitter_emit(em, &ev);
}

/* Would a plain scalar with this text be read back as a string equal to it? */
static bool string_is_plain_safe(const char *s, size_t len)
{
	if (len == 0 || strlen(s) != len)
		return false;
	static const char *const special[] = { "null",  "Null", "NULL", "~",   "true", "True", "TRUE", "false", "False",
					       "FALSE", "yes",  "Yes",  "YES", "no",   "No",   "NO",   "on",    "On",
					       "ON",    "off",  "Off",  "OFF", "y",    "Y",    "n",    "N",     NULL };
	for (size_t i = 0; special[i]; i++)
		if (!strcmp(s, special[i]))
			return false;
	/* Anything that starts like a number is quoted. */
	const char *p = s;
	if (*p == '-' || *p == '+' || *p == '.')
		p++;
	if (*p >= '0' && *p <= '9')
		return false;
	if (strpbrk(s, "\n\t\"'#:{}[],&*!|>%@`\\") || s[0] == ' ' || s[len - 1] == ' ' || s[0] == '-' || s[0] == '?')
		return false;
	return true;
}

static int emit_value(yaml_emitter_t *em, json_t *v, int sort_keys)
{
	yaml_event_t ev;
	char num[64];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return 0;
		size_t n = json_object_size(v), i = 0;
		const char **keys = malloc((n + 1) * sizeof *keys);
		if (!keys)
			return 0;
		const char *k;
		json_t *x;
		json_object_foreach (v, k, x)
			keys[i++] = k;
		if (sort_keys)
			qsort(keys, n, sizeof *keys, cmp_keys);
		for (i = 0; i < n; i++) {
			if (!emit_scalar(em, keys[i], strlen(keys[i]),
					 string_is_plain_safe(keys[i], strlen(keys[i]))) ||
			    !emit_value(em, json_object_get(v, keys[i]), sort_keys)) {
				free(keys);
				return 0;
			}
		}
		free(keys);
		yaml_mapping_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev);
	}
	case JSON_ARRAY: {
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return 0;
		size_t i;
		json_t *x;
		json_array_foreach (v, i, x) {
			if (!emit_value(em, x, sort_keys))
				return 0;
		}
		yaml_sequence_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev);
	}
	case JSON_STRING:
		return emit_scalar(em, json_string_value(v), json_string_length(v),
				   string_is_plain_safe(json_string_value(v), json_string_length(v)));
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_scalar(em, num, strlen(num), true);
	case JSON_REAL:
		snprintf(num, sizeof num, "%.17g", json_real_value(v));
		return emit_scalar(em, num, strlen(num), true);
	case JSON_TRUE: return emit_scalar(em, "true", 4, true);
	case JSON_FALSE: return emit_scalar(em, "false", 5, true);
	case JSON_NULL:
	default: return emit_scalar(em, "null", 4, true);
	}
}

char *yaml_emit_documents(json_t *docs, int sort_keys)
{
	sbuf out = SBUF_INIT;
	yaml_emitter_t em;
	yaml_event_t ev;
	if (!yaml_emitter_initialize(&em))
		return NULL;
	yaml_emitter_set_output(&em, write_handler, &out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, 4096);
	yaml_emitter_set_indent(&em, 2);
	int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &ev);
	size_t i;
	json_t *d;
	json_array_foreach (docs, i, d) {
		if (!ok)
			break;
		ok = yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0) && yaml_emitter_emit(&em, &ev) &&
		     emit_value(&em, d, sort_keys) && yaml_document_end_event_initialize(&ev, 1) &&
		     yaml_emitter_emit(&em, &ev);
	}
	ok = ok && yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em);
	yaml_emitter_delete(&em);
	if (!ok) {
		sbuf_release(&out);
		return NULL;
	}
	return sbuf_detach(&out);
}
