#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/json_lenient.h"
#include "util/sbuf.h"
#include "util/strmap.h"
#include "util/timefmt.h"

static bool ends_odd(void *ud, const char *key, void *value)
{
	(void)value;
	(*(int *)ud)++;
	return (key[strlen(key) - 1] - '0') % 2 == 1;
}

static void test_strmap(void **state)
{
	(void)state;
	strmap m = STRMAP_INIT;
	char key[16];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "k%d", i);
		int *v = malloc(sizeof *v);
		*v = i;
		assert_int_equal(strmap_put(&m, key, v, NULL, NULL), 0);
	}
	assert_int_equal(m.len, 100);
	free(strmap_remove(&m, "k10", NULL));
	bool found = true;
	assert_null(strmap_get(&m, "k10", &found));
	assert_false(found);
	/* remove_if visits each live entry once and drops exactly those it says. */
	int visited = 0;
	assert_int_equal(strmap_remove_if(&m, ends_odd, &visited, free), 50);
	assert_int_equal(visited, 99);
	assert_int_equal(m.len, 49);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "k%d", i);
		int *v = strmap_get(&m, key, NULL);
		if (i % 2 == 1 || i == 10)
			assert_null(v);
		else
			assert_int_equal(*v, i);
	}
	size_t it = 0, n = 0;
	const char *k;
	while (strmap_next(&m, &it, &k, NULL))
		n++;
	assert_int_equal(n, 49);
	/* Tombstones are reused: the map does not grow under churn. */
	size_t cap = m.cap;
	for (int round = 0; round < 50; round++) {
		int *v = malloc(sizeof *v);
		*v = round;
		assert_int_equal(strmap_put(&m, "churn", v, NULL, NULL), 0);
		free(strmap_remove(&m, "churn", NULL));
	}
	assert_int_equal(m.cap, cap);
	strmap_release(&m, free);
	assert_int_equal(m.len, 0);
}

static void test_base64(void **state)
{
	(void)state;
	unsigned char *out;
	size_t n;
	assert_int_equal(base64_decode("aGVsbG8=", 8, &out, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal((char *)out, "hello");
	free(out);
	assert_int_equal(base64_decode("aGVs\nbG8", 8, &out, &n), 0); /* folded, unpadded */
	assert_string_equal((char *)out, "hello");
	free(out);
	assert_int_equal(base64_decode("", 0, &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	assert_int_equal(base64_decode("aGVsbG8*", 8, &out, &n), -1);  /* bad character */
	assert_int_equal(base64_decode("aGVsbG8=x", 9, &out, &n), -1); /* data after padding */
	assert_int_equal(base64_decode("a", 1, &out, &n), -1);         /* dangling */
	assert_int_equal(base64_decode("aGVsbA===", 9, &out, &n), -1); /* too much padding */
}

static void test_sbuf(void **state)
{
	(void)state;
	sbuf sb = SBUF_INIT;
	assert_string_equal(sb.buf, "");
	assert_int_equal(sbuf_addf(&sb, "%d-%s", 7, "x"), 0);
	assert_string_equal(sb.buf, "7-x");
	assert_int_equal(sbuf_add_urlencoded(&sb, "a b/c=d&é"), 0);
	assert_string_equal(sb.buf, "7-xa%20b%2Fc%3Dd%26%C3%A9");
	sbuf_consume(&sb, 3);
	assert_string_equal(sb.buf, "a%20b%2Fc%3Dd%26%C3%A9");
	sbuf_release(&sb);
	sb.limit = 4;
	assert_int_equal(sbuf_adds(&sb, "abcd"), 0);
	assert_int_equal(sbuf_adds(&sb, "e"), -1); /* over the limit: unchanged */
	assert_string_equal(sb.buf, "abcd");
	char *d = sbuf_detach(&sb);
	assert_string_equal(d, "abcd");
	free(d);
}

static void test_rfc3339(void **state)
{
	(void)state;
	int64_t us;
	assert_int_equal(timefmt_parse_rfc3339("1970-01-01T00:00:00Z", &us), 0);
	assert_int_equal(us, 0);
	assert_int_equal(timefmt_parse_rfc3339("2026-11-21T23:25:40.123456Z", &us), 0);
	char buf[40];
	assert_string_equal(timefmt_rfc3339_micro(us, buf, sizeof buf), "2026-11-21T23:25:40.123456Z");
	assert_string_equal(timefmt_rfc3339(us, buf, sizeof buf), "2026-11-21T23:25:40Z");
	int64_t us2;
	assert_int_equal(timefmt_parse_rfc3339("2026-11-22T01:25:40.123456+02:00", &us2), 0);
	assert_int_equal(us, us2);
	assert_int_equal(timefmt_parse_rfc3339("2026-11-21 23:25", &us), -1);
	assert_int_equal(timefmt_parse_rfc3339("2026-13-21T23:25:40Z", &us), -1);
	assert_int_equal(timefmt_parse_rfc3339("2026-11-21T23:25:40", &us), -1);
	assert_int_equal(timefmt_parse_rfc3339("2026-11-21T23:25:40Zjunk", &us), -1);
}

/* One integer beyond 64 bits must not make a whole document unreadable. */
static void test_json_lenient(void **state)
{
	(void)state;
	const char *text =
		"{\"items\":[{\"n\":18446744073709551616,\"s\":\"99999999999999999999\",\"m\":-92233720368547758080,"
		"\"ok\":42,\"r\":1.5e400,\"e\":123456789012345678901e2}]}";
	json_error_t e;
	json_t *plain = json_loadb(text, strlen(text), 0, &e);
	assert_null(plain); /* what jansson alone does */
	json_t *doc = json_loadb_lenient(text, strlen(text), 0, &e);
	assert_non_null(doc);
	/* 1.5e400 is beyond a double: it reads as a string, which a number field refuses */
	json_t *r = json_object_get(json_array_get(json_object_get(doc, "items"), 0), "r");
	assert_string_equal(json_string_value(r), "1.5e400");
	assert_true(json_is_real(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "e")));
	json_decref(doc);
	const char *text2 =
		"{\"items\":[{\"n\":18446744073709551616,\"s\":\"99999999999999999999\",\"m\":-92233720368547758080,"
		"\"ok\":42,\"q\":\"a\\\"1234567890123456789012\"}]}";
	doc = json_loadb_lenient(text2, strlen(text2), 0, &e);
	assert_non_null(doc);
	json_t *item = json_array_get(json_object_get(doc, "items"), 0);
	assert_true(json_is_real(json_object_get(item, "n")));
	assert_true(json_real_value(json_object_get(item, "n")) > 1.8e19);
	assert_true(json_real_value(json_object_get(item, "m")) < -9.2e19);
	assert_string_equal(json_string_value(json_object_get(item, "s")),
			    "99999999999999999999"); /* strings untouched */
	assert_string_equal(json_string_value(json_object_get(item, "q")), "a\"1234567890123456789012");
	assert_int_equal(json_integer_value(json_object_get(item, "ok")), 42);
	json_decref(doc);
	assert_null(json_loadb_lenient("{\"a\":", 5, 0, &e)); /* still refuses broken JSON */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strmap),  cmocka_unit_test(test_base64),       cmocka_unit_test(test_sbuf),
		cmocka_unit_test(test_rfc3339), cmocka_unit_test(test_json_lenient),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
