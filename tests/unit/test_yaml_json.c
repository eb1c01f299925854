#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/yaml_json.h"

static json_t *load(const char *s)
{
	char err[256];
	json_t *v = yaml_json_load(s, strlen(s), err, sizeof err);
	if (!v)
		print_message("error: %s\n", err);
	return v;
}

static void assert_json(const char *yaml, const char *want_json)
{
	json_t *got = load(yaml);
	assert_non_null(got);
	json_t *want = json_loads(want_json, JSON_DECODE_ANY, NULL);
	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		print_message("got %s want %s\n", g, want_json);
		free(g);
		fail();
	}
	json_decref(got);
	json_decref(want);
}

static void assert_error(const char *yaml, const char *needle)
{
	char err[256];
	json_t *v = yaml_json_load(yaml, strlen(yaml), err, sizeof err);
	assert_null(v);
	if (!strstr(err, needle)) {
		print_message("error '%s' lacks '%s'\n", err, needle);
		fail();
	}
}

static void test_scalars(void **state)
{
	(void)state;
	assert_json("a: 1\nb: -2\nc: 0x1F\nd: 0o17\ne: 1.5\nf: 2e3\n",
		    "{\"a\":1,\"b\":-2,\"c\":31,\"d\":15,\"e\":1.5,\"f\":2000.0}");
	assert_json("a: true\nb: False\nc: ~\nd:\ne: null\n",
		    "{\"a\":true,\"b\":false,\"c\":null,\"d\":null,\"e\":null}");
	assert_json("a: '1'\nb: \"true\"\nc: !!str 12\nd: yes\ne: 1.2.3\nf: .inf\n",
		    "{\"a\":\"1\",\"b\":\"true\",\"c\":\"12\",\"d\":\"yes\",\"e\":\"1.2.3\",\"f\":\".inf\"}");
	assert_json("big: 99999999999999999999\n", "{\"big\":1e20}");
	assert_json("s: |\n  line1\n  line2\n", "{\"s\":\"line1\\nline2\\n\"}");
}

static void test_structures(void **state)
{
	(void)state;
	assert_json("l:\n- a\n- {x: 1}\n- [1, 2]\n", "{\"l\":[\"a\",{\"x\":1},[1,2]]}");
	assert_json("{\"json\": [1, \"two\", null]}", "{\"json\":[1,\"two\",null]}");
	assert_json("base: &b {x: 1}\ncopy: *b\n", "{\"base\":{\"x\":1},\"copy\":{\"x\":1}}");
	assert_json("1: one\ntrue: t\n", "{\"1\":\"one\",\"true\":\"t\"}");
}

static void test_multi_document(void **state)
{
	(void)state;
	const char *s = "---\na: 1\n---\n---\nb: 2\n...\n";
	char err[256];
	json_t *docs = yaml_json_load_all(s, strlen(s), err, sizeof err);
	assert_non_null(docs);
	assert_int_equal(json_array_size(docs), 2);
	json_decref(docs);
	assert_error(s, "expected one YAML document, found 2");
	assert_error("", "found 0");
}

static void test_errors(void **state)
{
	(void)state;
	assert_error("a: [1, 2\n", "line");
	assert_error("a: 1\na: 2\n", "duplicate mapping key 'a'");
	assert_error("? [1]\n: x\n", "mapping key must be a scalar");
	assert_error("a: *nope\n", "unknown alias");
	assert_error("a: b: c\n", "line 1");
}

static void test_limits(void **state)
{
	(void)state;
	/* Billion laughs: each level doubles ten times. */
	const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
			   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
	assert_error(bomb, "more than");
	char deep[1200];
	memset(deep, '[', 600);
	memset(deep + 600, ']', 600);
	deep[1199] = '\0';
	deep[599] = '[';
	char err[256];
	json_t *v = yaml_json_load(deep, strlen(deep), err, sizeof err);
	assert_null(v);
	/* Embedded NUL bytes are kept inside strings, not truncated silently. */
	const char nul[] = "a: \"x\\0y\"\n";
	v = yaml_json_load(nul, sizeof nul - 1, err, sizeof err);
	assert_non_null(v);
	assert_int_equal(json_string_length(json_object_get(v, "a")), 3);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),        cmocka_unit_test(test_structures),
		cmocka_unit_test(test_multi_document), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
