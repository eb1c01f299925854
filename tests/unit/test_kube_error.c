#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "kube/kube_error.h"

static void test_status_decoding(void **state)
{
	(void)state;
	const char *body =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		"\"message\":\"Memshack.memshack.io \\\"x\\\" is invalid: spec.numShards: Invalid value: 0\","
		"\"reason\":\"Invalid\",\"details\":{\"causes\":[{\"reason\":\"FieldValueInvalid\","
		"\"message\":\"Invalid value: 0\",\"field\":\"spec.numShards\"},{\"reason\":\"FieldValueRequired\","
		"\"message\":\"Required value\",\"field\":\"spec.mcrouterPort\"}]},\"code\":422}";
	kube_error err = KUBE_ERROR_INIT;
	assert_int_equal(kube_error_from_response(&err, 422, body, strlen(body)), -1);
	assert_int_equal(err.kind, KUBE_ERR_API);
	assert_int_equal(err.http_code, 422);
	assert_string_equal(err.reason, "Invalid");
	assert_int_equal(err.n_causes, 2);
	assert_string_equal(err.causes[0].field, "spec.numShards");
	const char *s = kube_strerror(&err);
	assert_non_null(strstr(s, "API error 422 Invalid: Memshack.memshack.io \"x\" is invalid"));
	/* numShards is already in the message; mcrouterPort is not and is appended. */
	assert_non_null(strstr(s, "; spec.mcrouterPort: Required value"));
	assert_null(strstr(s, "; spec.numShards"));
	kube_error_release(&err);
	assert_null(err.reason);
}

static void test_predicates(void **state)
{
	(void)state;
	kube_error err = KUBE_ERROR_INIT;
	const char *conflict =
		"{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"the object has been modified\",\"code\":409}";
	kube_error_from_response(&err, 409, conflict, strlen(conflict));
	assert_true(kube_error_is_conflict(&err));
	assert_false(kube_error_is_already_exists(&err));
	const char *exists = "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"message\":\"exists\",\"code\":409}";
	kube_error_from_response(&err, 409, exists, strlen(exists));
	assert_true(kube_error_is_already_exists(&err));
	assert_false(kube_error_is_conflict(&err));
	kube_error_from_response(&err, 404, "", 0);
	assert_true(kube_error_is_not_found(&err));
	assert_string_equal(err.reason, "NotFound");
	assert_non_null(strstr(kube_strerror(&err), "empty body"));
	const char *gone =
		"{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old resource version\",\"code\":410}";
	kube_error_from_response(&err, 410, gone, strlen(gone));
	assert_true(kube_error_is_gone(&err));
	kube_error_release(&err);
}

static void test_non_status_bodies(void **state)
{
	(void)state;
	kube_error err = KUBE_ERROR_INIT;
	const char *html = "<html>\n<body>502 Bad Gateway</body>\n</html>";
	kube_error_from_response(&err, 502, html, strlen(html));
	assert_string_equal(err.reason, "InternalError");
	const char *s = kube_strerror(&err);
	assert_null(strchr(s, '\n')); /* one line */
	assert_non_null(strstr(s, "502 Bad Gateway"));
	const char *throttled = "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"slow down\","
				"\"details\":{\"retryAfterSeconds\":3},\"code\":429}";
	kube_error_from_response(&err, 429, throttled, strlen(throttled));
	assert_int_equal(err.retry_after_s, 3);
	/* Status bodies that hold what a strict decoder refuses still decode, and never leak a control character. */
	const char *nul =
		"{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"bad\\u0000hidden\\ud800\",\"code\":409}";
	kube_error_from_response(&err, 409, nul, strlen(nul));
	assert_string_equal(err.reason, "Conflict");
	assert_null(strchr(kube_strerror(&err), '\n'));
	assert_non_null(strstr(kube_strerror(&err), "bad"));
	/* An undecodable Status (deeper than the decoder goes): the code still says what happened. */
	char deep[9000];
	int n = snprintf(deep, sizeof deep, "{\"kind\":\"Status\",\"details\":");
	memset(deep + n, '[', 3000);
	memset(deep + n + 3000, ']', 3000);
	snprintf(deep + n + 6000, sizeof deep - (size_t)n - 6000, ",\"code\":503}");
	kube_error_from_response(&err, 503, deep, strlen(deep));
	assert_int_equal(err.http_code, 503);
	assert_string_equal(err.reason, "ServiceUnavailable");
	assert_true(strlen(kube_strerror(&err)) < 400);
	kube_error_set(&err, KUBE_ERR_TRANSPORT, "cannot connect to %s:\n%d", "host", 1);
	assert_string_equal(kube_strerror(&err), "connection error: cannot connect to host: 1");
	kube_error_release(&err);
	kube_error_release(&err); /* releasing twice is safe */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_decoding),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_non_status_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
