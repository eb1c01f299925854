#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/sbuf.h"
#include "util/timefmt.h"

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
	assert_int_equal(base64_decode("aGVsbG8*", 8, &out, &n), -1); /* bad character */
	assert_int_equal(base64_decode("aGVsbG8=x", 9, &out, &n), -1); /* data after padding */
	assert_int_equal(base64_decode("a", 1, &out, &n), -1);          /* dangling */
	assert_int_equal(base64_decode("aGVsbA===", 9, &out, &n), -1);  /* too much padding */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_sbuf),
		cmocka_unit_test(test_rfc3339),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
