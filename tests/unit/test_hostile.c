/*
 * Bad input: every object in tests/data/hostile.yaml (Memshacks and
 * MemcachedProxies with hostile numbers, strings, nesting and arguments) is
 * refused by the core with the message its test.memshack.io/expect names,
 * or, when that says "valid", accepted and built into children whose
 * mcrouter config passes fuzz_check (valid JSON, the right servers, no '@'
 * macro or '%' substitution anywhere). Also the reserved-flag rules on
 * extraArgs in every spelling getopt accepts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz_check.h"
#include "core/memshack_desired.h"
#include "core/memshack_spec.h"
#include "core/proxy.h"
#include "util/yaml_json.h"

static json_t *load_corpus(void)
{
	FILE *f = fopen(TEST_DATA_DIR "/hostile.yaml", "rb");
	assert_non_null(f);
	char *buf = malloc(4 << 20);
	size_t n = fread(buf, 1, (4 << 20) - 1, f);
	fclose(f);
	char err[256];
	json_t *docs = yaml_json_load_all(buf, n, err, sizeof err);
	free(buf);
	if (!docs)
		print_message("hostile.yaml: %s\n", err);
	assert_non_null(docs);
	return docs;
}

static void test_corpus(void **state)
{
	(void)state;
	json_t *docs = load_corpus();
	assert_true(json_array_size(docs) >= 40);
	size_t i, valid = 0;
	json_t *d;
	json_array_foreach (docs, i, d) {
		json_t *meta = json_object_get(d, "metadata");
		const char *name = json_string_value(json_object_get(meta, "name"));
		const char *expect = json_string_value(
			json_object_get(json_object_get(meta, "annotations"), "test.memshack.io/expect"));
		assert_non_null(expect);
		bool proxy = !strcmp(json_string_value(json_object_get(d, "kind")), "MemcachedProxy");
		char err[512] = "";
		int rc;
		if (proxy) {
			proxy_spec *p = NULL;
			rc = proxy_spec_parse(d, &p, err, sizeof err);
			if (rc == 0) {
				json_t *servers = json_pack("[s]", "10.1.2.3:11211");
				proxy_desired pd;
				assert_int_equal(
					proxy_desired_build(p, servers,
							    &(gateway_env){ .cluster_domain = "cluster.local" }, &pd,
							    err, sizeof err),
					0);
				fuzz_check_mcrouter_config(pd.config_text, 1);
				proxy_desired_release(&pd);
				json_decref(servers);
				proxy_spec_free(p);
			}
		} else {
			memshack_spec *s = NULL;
			rc = memshack_spec_parse(d, &s, err, sizeof err);
			if (rc == 0) {
				memshack_desired md;
				assert_int_equal(
					memshack_desired_build(s, &(gateway_env){ .cluster_domain = "cluster.local" },
							       &md, err, sizeof err),
					0);
				fuzz_check_mcrouter_config(md.config_text,
							   (size_t)s->num_shards * (size_t)s->num_replicas);
				memshack_desired_release(&md);
				memshack_spec_free(s);
			}
		}
		bool want_valid = !strcmp(expect, "valid");
		if (want_valid ? rc != 0 : (rc == 0 || !strstr(err, expect))) {
			print_message("%s: rc=%d err='%s', want %s\n", name, rc, err, expect);
			fail();
		}
		assert_null(strchr(err, '\n'));
		valid += want_valid;
	}
	assert_true(valid >= 3);
	json_decref(docs);
}

static int args_ok(const char *const *args, const char *const *reserved, char *err, size_t len)
{
	json_t *a = json_array();
	for (; *args; args++)
		json_array_append_new(a, json_string(*args));
	int rc = spec_check_args(a, "x", reserved, err, len);
	json_decref(a);
	return rc;
}

static void test_reserved_flags(void **state)
{
	(void)state;
	char err[256];
	static const char *const refused[][3] = {
		{ "--config=file:/x", NULL },
		{ "--config-file", "/x" },
		{ "--conf", "x" },
		{ "--config-f=/x", NULL },
		{ "-f", "/x" },
		{ "-f/x", NULL },
		{ "-vf", "/x" },
		{ "--port=1", NULL },
		{ "-p1", NULL },
		{ "--po", "1" },
		{ "--config-str={}", NULL },
	};
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		if (args_ok(refused[i], mcrouter_reserved_flags, err, sizeof err) == 0) {
			print_message("mcrouter args '%s' accepted\n", refused[i][0]);
			fail();
		}
		assert_non_null(strstr(err, "is set by memshack"));
	}
	static const char *const fine[][3] = { { "--stats-root=/x", NULL },
					       { "-v", NULL },
					       { "--num-proxies", "2" },
					       { "--", NULL },
					       { "-", NULL },
					       { "plain", NULL } };
	for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) {
		if (args_ok(fine[i], mcrouter_reserved_flags, err, sizeof err)) {
			print_message("mcrouter args '%s' refused: %s\n", fine[i][0], err);
			fail();
		}
	}
	static const char *const mcd_refused[][2] = { { "-U0", NULL },          { "-vvU", NULL },
						      { "--udp-port=1", NULL }, { "-l0.0.0.0", NULL },
						      { "-s/tmp/s", NULL },     { "--listen", NULL } };
	for (size_t i = 0; i < sizeof mcd_refused / sizeof *mcd_refused; i++)
		assert_int_equal(args_ok(mcd_refused[i], memcached_reserved_flags, err, sizeof err), -1);
	static const char *const mcd_fine[] = { "-vv", "-o", "modern,slab_reassign", "-R", "40", NULL };
	assert_int_equal(args_ok(mcd_fine, memcached_reserved_flags, err, sizeof err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_reserved_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
