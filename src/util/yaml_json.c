#include "util/yaml_json.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define JSON_INTEGER_MAX LLONG_MAX

typedef struct anchor {
	char *name;
	json_t *value;
	size_t nodes;
	struct anchor *next;
} anchor;

typedef struct frame {
	json_t *container;  /* object or array being filled */
	char *key;          /* pending mapping key, or NULL */
	const char *anchor; /* anchor name for the container (borrowed from ev) */
	char *anchor_owned;
	size_t nodes_at_start;
} frame;

typedef struct ctx {
	frame stack[YAML_JSON_MAX_DEPTH];
	int depth;
	size_t nodes;
	anchor *anchors;
	char *errbuf;
	size_t errlen;
} ctx;

static void set_err(ctx *c, const yaml_mark_t *m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(ctx *c, const yaml_mark_t *m, const char *fmt, ...)
{
	if (!c->errbuf || !c->errlen)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (m)
		snprintf(c->errbuf, c->errlen, "line %zu, column %zu: %s", m->line + 1, m->column + 1, msg);
	else
		snprintf(c->errbuf, c->errlen, "%s", msg);
}

static bool all_match(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

static bool is_float_text(const char *s)
{
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	bool digits = false;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* Resolves a plain scalar by the YAML 1.2 core schema. New reference. */
static json_t *resolve_plain(const char *s)
{
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	const char *d = s;
	int base = 10;
	bool neg = false;
	if (*d == '+' || *d == '-') {
		neg = *d == '-';
		d++;
	}
	if (d[0] == '0' && d[1] == 'x' && all_match(d + 2, "0123456789abcdefABCDEF") && d == s)
		base = 16, d += 2;
	else if (d[0] == '0' && d[1] == 'o' && all_match(d + 2, "01234567") && d == s)
		base = 8, d += 2;
	if ((base != 10 || all_match(d, "0123456789"))) {
		errno = 0;
		char *end;
		unsigned long long u = strtoull(d, &end, base);
		if (!errno && !*end) {
			if (!neg && u <= (unsigned long long)JSON_INTEGER_MAX)
				return json_integer((json_int_t)u);
			if (neg && u <= (unsigned long long)JSON_INTEGER_MAX + 1ULL)
				return json_integer(u == (unsigned long long)JSON_INTEGER_MAX + 1ULL
							    ? (json_int_t)(-JSON_INTEGER_MAX - 1)
							    : -(json_int_t)u);
		}
		if (base == 10)
			return json_real(strtod(s, NULL));
	}
	if (is_float_text(s))
		return json_real(strtod(s, NULL));
	return json_string(s);
}

static json_t *scalar_value(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	if (tag && !strcmp(tag, YAML_STR_TAG))
		return json_stringn(v, ev->data.scalar.length);
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.quoted_implicit)
		return json_stringn(v, ev->data.scalar.length);
	if (strlen(v) != ev->data.scalar.length) /* embedded NUL */
		return json_stringn(v, ev->data.scalar.length);
	return resolve_plain(v);
}

static int remember_anchor(ctx *c, const char *name, json_t *value, size_t nodes)
{
	anchor *a = calloc(1, sizeof *a);
	if (!a || !(a->name = strdup(name))) {
		free(a);
		return -1;
	}
	a->value = json_incref(value);
	a->nodes = nodes;
	a->next = c->anchors;
	c->anchors = a;
	return 0;
}

static void free_anchors(ctx *c)
{
	while (c->anchors) {
		anchor *a = c->anchors;
		c->anchors = a->next;
		free(a->name);
		json_decref(a->value);
		free(a);
	}
}

/*
 * Places a finished value (steals the reference) into the current container,
 * or into *doc when the stack is empty. Returns 0 or -1 (error set).
 */
static int place(ctx *c, json_t *v, const yaml_mark_t *m, json_t **doc)
{
	if (!v) {
		set_err(c, m, "out of memory");
		return -1;
	}
	if (c->depth == 0) {
		*doc = v;
		return 0;
	}
	frame *f = &c->stack[c->depth - 1];
	if (json_is_array(f->container)) {
		if (json_array_append_new(f->container, v)) {
			set_err(c, m, "out of memory");
			return -1;
		}
		return 0;
	}
	if (!f->key) {
		/* v is a key: it must be a scalar; use its text. */
		char buf[64];
		const char *text = NULL;
		if (json_is_string(v))
			text = json_string_value(v);
		else if (json_is_null(v))
			text = "null";
		else if (json_is_true(v))
			text = "true";
		else if (json_is_false(v))
			text = "false";
		else if (json_is_integer(v)) {
			snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			text = buf;
		} else if (json_is_real(v)) {
			snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
			text = buf;
		}
		if (!text) {
			json_decref(v);
			set_err(c, m, "a mapping key must be a scalar");
			return -1;
		}
		f->key = strdup(text);
		json_decref(v);
		if (!f->key) {
			set_err(c, m, "out of memory");
			return -1;
		}
		if (json_object_get(f->container, f->key)) {
			set_err(c, m, "duplicate mapping key '%.80s'", f->key);
			return -1;
		}
		return 0;
	}
	int r = json_object_set_new(f->container, f->key, v);
	free(f->key);
	f->key = NULL;
	if (r) {
		set_err(c, m, "out of memory");
		return -1;
	}
	return 0;
}

static int count_node(ctx *c, const yaml_mark_t *m, size_t n)
{
	if (n > YAML_JSON_MAX_NODES || c->nodes > YAML_JSON_MAX_NODES - n) {
		set_err(c, m, "document expands to more than %d nodes", YAML_JSON_MAX_NODES);
		return -1;
	}
	c->nodes += n;
	return 0;
}

static void unwind(ctx *c)
{
	while (c->depth > 0) {
		frame *f = &c->stack[--c->depth];
		json_decref(f->container);
		free(f->key);
		free(f->anchor_owned);
	}
}

/* The event handlers of yaml_json_load_all: each returns 0, or -1 with the error set in c. */

static int on_scalar(ctx *c, yaml_event_t *ev, json_t **doc)
{
	if (count_node(c, &ev->start_mark, 1))
		return -1;
	json_t *v = scalar_value(ev);
	if (v && ev->data.scalar.anchor && remember_anchor(c, (const char *)ev->data.scalar.anchor, v, 1)) {
		json_decref(v);
		v = NULL;
	}
	return place(c, v, &ev->start_mark, doc) ? -1 : 0;
}

static int on_alias(ctx *c, yaml_event_t *ev, json_t **doc)
{
	anchor *a = c->anchors;
	while (a && strcmp(a->name, (const char *)ev->data.alias.anchor))
		a = a->next;
	if (!a) {
		set_err(c, &ev->start_mark, "unknown alias '%.80s'", (const char *)ev->data.alias.anchor);
		return -1;
	}
	if (count_node(c, &ev->start_mark, a->nodes))
		return -1;
	return place(c, json_deep_copy(a->value), &ev->start_mark, doc) ? -1 : 0;
}

static int on_collection_start(ctx *c, yaml_event_t *ev)
{
	if (c->depth >= YAML_JSON_MAX_DEPTH) {
		set_err(c, &ev->start_mark, "nesting deeper than %d levels", YAML_JSON_MAX_DEPTH);
		return -1;
	}
	if (count_node(c, &ev->start_mark, 1))
		return -1;
	frame *f = &c->stack[c->depth];
	memset(f, 0, sizeof *f);
	bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
	f->container = seq ? json_array() : json_object();
	const unsigned char *an = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
	if (an)
		f->anchor_owned = strdup((const char *)an);
	f->nodes_at_start = c->nodes;
	if (!f->container || (an && !f->anchor_owned)) {
		json_decref(f->container);
		free(f->anchor_owned);
		set_err(c, &ev->start_mark, "out of memory");
		return -1;
	}
	c->depth++;
	return 0;
}

static int on_collection_end(ctx *c, yaml_event_t *ev, json_t **doc)
{
	frame f = c->stack[--c->depth];
	if (f.anchor_owned) {
		if (remember_anchor(c, f.anchor_owned, f.container, c->nodes - f.nodes_at_start + 1)) {
			free(f.anchor_owned);
			json_decref(f.container);
			set_err(c, &ev->start_mark, "out of memory");
			return -1;
		}
		free(f.anchor_owned);
	}
	free(f.key);
	return place(c, f.container, &ev->start_mark, doc) ? -1 : 0;
}

/* A document ended: a non-null one joins docs. */
static int on_document_end(ctx *c, yaml_event_t *ev, json_t *docs, json_t **doc)
{
	json_t *d = *doc;
	*doc = NULL;
	if (!d || json_is_null(d)) {
		json_decref(d);
		return 0;
	}
	if (json_array_append_new(docs, d)) {
		set_err(c, &ev->start_mark, "out of memory");
		return -1;
	}
	return 0;
}

json_t *yaml_json_load_all(const char *text, size_t len, char *errbuf, size_t errlen)
{
	ctx c = { .depth = 0, .nodes = 0, .anchors = NULL, .errbuf = errbuf, .errlen = errlen };
	if (errbuf && errlen)
		errbuf[0] = '\0';
	json_t *docs = json_array();
	if (!docs) {
		set_err(&c, NULL, "out of memory");
		return NULL;
	}
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		json_decref(docs);
		set_err(&c, NULL, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	json_t *doc = NULL;
	bool done = false, failed = false;
	while (!done && !failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			set_err(&c, &parser.problem_mark, "%s%s%s", parser.problem ? parser.problem : "invalid YAML",
				parser.context ? " " : "", parser.context ? parser.context : "");
			failed = true;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = true; break;
		case YAML_DOCUMENT_START_EVENT:
			doc = NULL;
			c.nodes = 0;
			free_anchors(&c);
			break;
		case YAML_DOCUMENT_END_EVENT: failed = on_document_end(&c, &ev, docs, &doc) != 0; break;
		case YAML_SCALAR_EVENT: failed = on_scalar(&c, &ev, &doc) != 0; break;
		case YAML_ALIAS_EVENT: failed = on_alias(&c, &ev, &doc) != 0; break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: failed = on_collection_start(&c, &ev) != 0; break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: failed = on_collection_end(&c, &ev, &doc) != 0; break;
		default: break;
		}
		yaml_event_delete(&ev);
	}
	unwind(&c);
	free_anchors(&c);
	if (failed) {
		json_decref(doc);
		json_decref(docs);
		docs = NULL;
	}
	yaml_parser_delete(&parser);
	return docs;
}

json_t *yaml_json_load(const char *text, size_t len, char *errbuf, size_t errlen)
{
	json_t *docs = yaml_json_load_all(text, len, errbuf, errlen);
	if (!docs)
		return NULL;
	if (json_array_size(docs) != 1) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "expected one YAML document, found %zu", json_array_size(docs));
		json_decref(docs);
		return NULL;
	}
	json_t *doc = json_incref(json_array_get(docs, 0));
	json_decref(docs);
	return doc;
}
