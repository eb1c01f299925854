/*
 * Per-object decoding (issue 13): the lenient decoder's repairs, the
 * tree-less scanner, naming an undecodable object, and LIST pages where
 * one item cannot be read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memshack_spec.h"
#include "hostile_json.h"
#include "kube/kube_decode.h"
#include "util/json_lenient.h"
#include "util/json_scan.h"

static void test_scan(void **state)
{
	(void)state;
	const char *t =
		" {\"a\": [1, {\"b\": \"}]\\\"\"}], \"c\" : \"x\\u00e9\\ud83d\\ude00\", \"d\":null, \"a\":7} tail";
	size_t len = strlen(t);
	json_span top, v;
	assert_int_equal(json_scan_value(t, len, 0, &top), 0);
	assert_int_equal(t[top.start], '{');
	assert_int_equal(t[top.end - 1], '}');
	assert_int_equal(json_scan_member(t, top, "a", &v), 0); /* the last of duplicates, as the decoder does */
	assert_int_equal(v.end - v.start, 1);
	assert_int_equal(t[v.start], '7');
	assert_int_equal(json_scan_member(t, top, "c", &v), 0);
	char s[32];
	assert_int_equal(json_scan_string(t, v, s, sizeof s), 0);
	assert_string_equal(s, "x\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(json_scan_string(t, v, s, 4), -1); /* does not fit */
	assert_int_equal(json_scan_member(t, top, "zz", &v), -1);
	/* Unbalanced or unterminated: no value. */
	assert_int_equal(json_scan_value("{\"a\":[1}", 8, 0, &v), -1);
	assert_int_equal(json_scan_value("[\"abc", 5, 0, &v), -1);
	assert_int_equal(json_scan_value("   ", 3, 0, &v), -1);
	/* Strings holding control characters or lone surrogates are not names. */
	const char *bad[] = { "\"a\\u0000b\"", "\"a\\nb\"", "\"\\udc00\"", "\"\\ud800x\"", "\"a\x01\"", "\"\\q\"" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_span sp = { 0, strlen(bad[i]) };
		assert_int_equal(json_scan_string(bad[i], sp, s, sizeof s), -1);
	}
	/* Any depth costs nothing. */
	char *deep = hostile_deep(100000);
	assert_int_equal(json_scan_value(deep, strlen(deep), 0, &v), 0);
	assert_int_equal(v.end, strlen(deep));
	free(deep);
}

static int count(void *ud, json_span e)
{
	(void)e;
	(*(size_t *)ud)++;
	return 0;
}

static void test_elements(void **state)
{
	(void)state;
	const char *t = "[ {\"x\":1} , \"s,]\" ,3,[[]] ]";
	json_span arr = { 0, strlen(t) };
	size_t n = 0;
	assert_int_equal(json_scan_elements(t, arr, count, &n), 0);
	assert_int_equal(n, 4);
	json_span empty = { 0, 3 };
	n = 0;
	assert_int_equal(json_scan_elements("[ ]", empty, count, &n), 0);
	assert_int_equal(n, 0);
	json_span broken = { 0, 6 };
	assert_int_equal(json_scan_elements("[1 2 ]", broken, count, &n), -1);
}

/* Every hostile payload reads leniently, except nesting past jansson's limit. */
static void test_lenient_payloads(void **state)
{
	(void)state;
	for (size_t i = 0; i < hostile_n_payloads; i++) {
		const hostile_payload *h = &hostile_payloads[i];
		char *obj = hostile_object_for(h, "p", "1");
		json_error_t e;
		json_t *doc = json_loadb_lenient(obj, strlen(obj), 0, &e);
		if (h->decodes) {
			if (!doc)
				fail_msg("%s: %s", h->name, e.text);
			assert_true(json_is_object(json_object_get(doc, "spec")));
			/* Whatever was read, the spec parser refuses it with the field named (or it is valid). */
			memshack_spec *s = NULL;
			char err[512] = "";
			int rc = memshack_spec_parse(doc, &s, err, sizeof err);
			if (h->spec_error) {
				if (rc == 0 || !strstr(err, h->spec_error))
					fail_msg("%s: want '%s', got rc %d '%s'", h->name, h->spec_error, rc, err);
			} else if (rc) {
				fail_msg("%s: refused: %s", h->name, err);
			}
			memshack_spec_free(s);
		} else {
			assert_null(doc);
		}
		json_decref(doc);
		free(obj);
	}
}

/* NUL inside a key and a value; raw control bytes; bad UTF-8: what the repair makes of them. */
static void test_repair(void **state)
{
	(void)state;
	const char t[] =
		"{\"k\\u0000x\":\"a\\u0000b\",\"c\":\"\x01\",\"u\":\"\xff\xc3\",\"s\":\"\\udc00\\ud800\",\"n\":1e999}";
	size_t len = 0;
	char *fixed = json_repair(t, sizeof t - 1, &len);
	assert_non_null(fixed);
	json_error_t e;
	json_t *doc = json_loadb(fixed, len, JSON_ALLOW_NUL, &e);
	if (!doc)
		fail_msg("%s in %s", e.text, fixed);
	json_t *v = json_object_get(doc, "k\xef\xbf\xbdx");
	assert_non_null(v);
	assert_int_equal(json_string_length(v), 3); /* the NUL in a value is kept: the validator must see it */
	assert_null(json_string_clean(v));
	assert_string_equal(json_string_value(json_object_get(doc, "c")), "\x01");
	assert_string_equal(json_string_value(json_object_get(doc, "u")), "\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(json_string_value(json_object_get(doc, "s")), "\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(json_string_value(json_object_get(doc, "n")), "1e999");
	json_decref(doc);
	free(fixed);
	/* Valid text is left as it is. */
	const char ok[] = "{\"a\":[1,-2.5e3,\"\\ud83d\\ude00\",\"\xc3\xa9\",true,null],\"big\":9223372036854775807}";
	fixed = json_repair(ok, sizeof ok - 1, &len);
	assert_int_equal(len, sizeof ok - 1);
	assert_memory_equal(fixed, ok, len);
	free(fixed);
}

static void test_identity_scan(void **state)
{
	(void)state;
	char *deep = hostile_deep(5000);
	char *obj = hostile_object("deep", "42", deep);
	json_t *id = kube_identity_scan(obj, 0, strlen(obj));
	assert_non_null(id);
	json_t *md = json_object_get(id, "metadata");
	assert_string_equal(json_string_value(json_object_get(md, "name")), "deep");
	assert_string_equal(json_string_value(json_object_get(md, "namespace")), "ns");
	assert_string_equal(json_string_value(json_object_get(md, "uid")), "uid-deep");
	assert_string_equal(json_string_value(json_object_get(md, "resourceVersion")), "42");
	assert_string_equal(json_string_value(json_object_get(id, "kind")), "Memshack");
	json_decref(id);
	free(obj);
	free(deep);
	assert_null(kube_identity_scan("{\"metadata\":{\"namespace\":\"a\"}}", 0, 29));
	assert_null(kube_identity_scan("{\"metadata\":{\"name\":\"a\\u0000\"}}", 0, 31));
}

/* A page whose items are good, poisoned, and nameless: one bad item costs only itself. */
static void test_list_page(void **state)
{
	(void)state;
	char *deep = hostile_deep(3000);
	char *good1 = hostile_object("good1", "10", "{\"numShards\":2}");
	char *bad = hostile_object("bad", "11", deep);
	char *good2 = hostile_object("good2", "12", "{\"memcached\":{\"extraArgs\":[\"\\u0000\"]}}");
	size_t cap = strlen(deep) * 2 + 4096;
	char *page = malloc(cap);
	snprintf(
		page, cap,
		"{\"kind\":\"MemshackList\",\"metadata\":{\"resourceVersion\":\"99\",\"continue\":\"tok\"},\"items\":[%s,%s,"
		"{\"spec\":%s},%s,{\"metadata\":{}}]}",
		good1, bad, deep, good2);
	kube_list_page p;
	char why[200];
	assert_int_equal(kube_list_page_decode(page, strlen(page), &p, why, sizeof why), 0);
	assert_int_equal(json_array_size(p.items), 2);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(json_array_get(p.items, 1), "metadata"), "name")),
		"good2");
	assert_int_equal(json_array_size(p.undecodable), 1);
	json_t *u = json_array_get(p.undecodable, 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(json_object_get(u, "object"), "metadata"), "name")),
		"bad");
	assert_non_null(strstr(json_string_value(json_object_get(u, "reason")), "cannot be decoded"));
	assert_int_equal(p.unnamed, 2);
	assert_string_equal(p.resource_version, "99");
	assert_string_equal(p.continue_token, "tok");
	kube_list_page_release(&p);
	/* The same page when everything decodes: an unusable item still costs only itself. */
	snprintf(page, cap, "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[%s,{\"metadata\":{\"name\":7}},7]}",
		 good1);
	assert_int_equal(kube_list_page_decode(page, strlen(page), &p, why, sizeof why), 0);
	assert_int_equal(json_array_size(p.items), 1);
	assert_int_equal(p.unnamed, 2);
	assert_null(p.continue_token);
	kube_list_page_release(&p);
	/* Not a list at all. */
	const char *notlists[] = { "", "[]", "{\"items\":7}", "{\"items\":[1,", "garbage" };
	for (size_t i = 0; i < sizeof notlists / sizeof *notlists; i++) {
		assert_int_equal(kube_list_page_decode(notlists[i], strlen(notlists[i]), &p, why, sizeof why), -1);
		assert_true(why[0] != '\0');
	}
	free(page);
	free(good1);
	free(good2);
	free(bad);
	free(deep);
}

/* The biggest object the API server stores (~1.5 MB) reads like any other. */
static void test_large_object(void **state)
{
	(void)state;
	size_t n = 1500 * 1024;
	char *big = malloc(n + 64);
	snprintf(big, 64, "{\"x\":\"");
	memset(big + 6, 'a', n);
	snprintf(big + 6 + n, 58, "\"}");
	char *obj = hostile_object("big", "1", big);
	kube_list_page p;
	char why[200], *page = malloc(strlen(obj) + 64);
	sprintf(page, "{\"items\":[%s]}", obj);
	assert_int_equal(kube_list_page_decode(page, strlen(page), &p, why, sizeof why), 0);
	assert_int_equal(json_array_size(p.items), 1);
	kube_list_page_release(&p);
	free(page);
	free(obj);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_elements),
		cmocka_unit_test(test_lenient_payloads),
		cmocka_unit_test(test_repair),
		cmocka_unit_test(test_identity_scan),
		cmocka_unit_test(test_list_page),
		cmocka_unit_test(test_large_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
