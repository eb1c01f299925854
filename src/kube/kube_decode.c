#include "kube/kube_decode.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_lenient.h"
#include "util/json_scan.h"

/* Sets member key of obj to the string at member key of the object at span, if it reads cleanly. */
static void copy_scanned(json_t *obj, const char *buf, json_span span, const char *key)
{
	json_span v;
	char text[512];
	if (!json_scan_member(buf, span, key, &v) && !json_scan_string(buf, v, text, sizeof text) && *text)
		json_object_set_new(obj, key, json_string(text));
}

json_t *kube_identity_scan(const char *buf, size_t start, size_t end)
{
	json_span obj, meta;
	if (json_scan_value(buf, end, start, &obj) || json_scan_member(buf, obj, "metadata", &meta))
		return NULL;
	json_t *id = json_object(), *md = json_object();
	if (!id || !md) {
		json_decref(id);
		json_decref(md);
		return NULL;
	}
	copy_scanned(id, buf, obj, "apiVersion");
	copy_scanned(id, buf, obj, "kind");
	copy_scanned(md, buf, meta, "namespace");
	copy_scanned(md, buf, meta, "name");
	copy_scanned(md, buf, meta, "uid");
	copy_scanned(md, buf, meta, "resourceVersion");
	if (!json_object_get(md, "name")) {
		json_decref(md);
		json_decref(id);
		return NULL;
	}
	if (json_object_set_new(id, "metadata", md)) { /* md is released either way */
		json_decref(id);
		return NULL;
	}
	return id;
}

/* A decoded item we can use: an object with a string metadata.name. */
static bool usable(json_t *item)
{
	return json_is_object(item) && json_string_clean(json_object_get(json_object_get(item, "metadata"), "name"));
}

static int set_aside(kube_list_page *page, const char *buf, json_span item, const char *reason)
{
	json_t *id = kube_identity_scan(buf, item.start, item.end);
	if (!id) {
		page->unnamed++;
		return 0;
	}
	char r[200];
	snprintf(r, sizeof r, "cannot be decoded: %s", reason);
	return json_array_append_new(page->undecodable, json_pack("{s:o, s:s}", "object", id, "reason", r));
}

typedef struct split {
	const char *buf;
	kube_list_page *page;
	int failed;
} split;

static int on_item(void *ud, json_span item)
{
	split *s = ud;
	json_error_t je;
	json_t *obj = json_loadb_lenient(s->buf + item.start, item.end - item.start, 0, &je);
	if (usable(obj))
		return json_array_append_new(s->page->items, obj) ? (s->failed = -1) : 0;
	const char *why = obj ? "not an object with metadata.name" : je.text;
	json_decref(obj);
	return set_aside(s->page, s->buf, item, why) ? (s->failed = -1) : 0;
}

static void read_meta(kube_list_page *page, json_t *meta)
{
	const char *rv = json_string_clean(json_object_get(meta, "resourceVersion"));
	const char *cont = json_string_clean(json_object_get(meta, "continue"));
	page->resource_version = rv && *rv ? strdup(rv) : NULL;
	page->continue_token = cont && *cont ? strdup(cont) : NULL;
}

/* The whole page decoded: keep the usable items, set the rest aside by position. */
static int from_tree(kube_list_page *page, json_t *doc, char *why, size_t whylen)
{
	json_t *items = json_object_get(doc, "items");
	if (!json_is_object(doc) || (items && !json_is_array(items) && !json_is_null(items))) {
		snprintf(why, whylen, "list has no items array");
		return -1;
	}
	read_meta(page, json_object_get(doc, "metadata"));
	size_t i;
	json_t *item;
	json_array_foreach (items, i, item) {
		if (usable(item)) {
			if (json_array_append(page->items, item))
				return snprintf(why, whylen, "out of memory"), -1;
			continue;
		}
		json_t *md = json_object_get(item, "metadata");
		if (json_is_object(item) && json_string_clean(json_object_get(md, "name"))) {
			json_t *id = json_pack("{s:O*, s:O*, s:O}", "apiVersion", json_object_get(item, "apiVersion"),
					       "kind", json_object_get(item, "kind"), "metadata", md);
			if (json_array_append_new(page->undecodable, json_pack("{s:o, s:s}", "object", id, "reason",
									       "not a usable object")))
				return snprintf(why, whylen, "out of memory"), -1;
		} else {
			page->unnamed++;
		}
	}
	return 0;
}

int kube_list_page_decode(const char *buf, size_t len, kube_list_page *page, char *why, size_t whylen)
{
	memset(page, 0, sizeof *page);
	page->items = json_array();
	page->undecodable = json_array();
	if (!page->items || !page->undecodable) {
		kube_list_page_release(page);
		return snprintf(why, whylen, "out of memory"), -1;
	}
	json_error_t je;
	json_t *doc = json_loadb_lenient(buf, len, 0, &je);
	if (doc) {
		int rc = from_tree(page, doc, why, whylen);
		json_decref(doc);
		if (rc)
			kube_list_page_release(page);
		return rc;
	}
	/* Some item cannot be decoded: split the page without a tree and decode item by item. */
	json_span top, meta, items;
	if (json_scan_value(buf, len, 0, &top) || buf[top.start] != '{' ||
	    (json_scan_member(buf, top, "items", &items) == 0 && buf[items.start] != '[' &&
	     strncmp(buf + items.start, "null", 4))) {
		snprintf(why, whylen, "list is not valid JSON: %.120s", je.text);
		kube_list_page_release(page);
		return -1;
	}
	if (!json_scan_member(buf, top, "metadata", &meta)) {
		json_t *m = json_loadb_lenient(buf + meta.start, meta.end - meta.start, 0, NULL);
		read_meta(page, m);
		json_decref(m);
	}
	split s = { buf, page, 0 };
	bool have_items = !json_scan_member(buf, top, "items", &items) && buf[items.start] == '[';
	if (have_items && (json_scan_elements(buf, items, on_item, &s) || s.failed)) {
		snprintf(why, whylen, s.failed ? "out of memory" : "list items are not a JSON array: %.120s", je.text);
		kube_list_page_release(page);
		return -1;
	}
	return 0;
}

void kube_list_page_release(kube_list_page *page)
{
	json_decref(page->items);
	json_decref(page->undecodable);
	free(page->resource_version);
	free(page->continue_token);
	memset(page, 0, sizeof *page);
}
