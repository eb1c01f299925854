/*
 * child_decide, table-driven: every path of the apply-if-changed decision
 * (create, adopt, unchanged, cache behind our write, hand edits by generation
 * and by resourceVersion, a new desired state, the contest back-off).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/child_decision.h"

#define S 1000000LL /* one second in µs */
#define NOW (1000 * S)

typedef struct row {
	const char *name;
	bool has_memo;
	child_memo memo;
	bool cached;
	child_seen seen;
	const char *want;
	bool gen;
	child_action action;
	int64_t defer_us;
	int reverts;
} row;

/* The table: a row a line or two. */
/* clang-format off */
static const row rows[] = {
	{ "not cached, no memo: create", false, { "", 0, "", "", 0, 0 }, false, { NULL, 0, NULL }, "d1", true, CHILD_APPLY, 0, 0 },
	{ "not cached, memo: create again (deleted by somebody)", true, { "d1", 2, "", "", 0, 0 }, false, { NULL, 0, NULL }, "d1", true,
	  CHILD_APPLY, 0, 0 },
	{ "cached as desired, no memo: adopt after a restart", false, { "", 0, "", "", 0, 0 }, true, { "d1", 5, "77" }, "d1", true,
	  CHILD_ADOPT, 0, 0 },
	{ "cached differs, no memo: apply", false, { "", 0, "", "", 0, 0 }, true, { "d0", 5, "77" }, "d1", true, CHILD_APPLY, 0, 0 },
	{ "cached without digest, no memo: apply", false, { "", 0, "", "", 0, 0 }, true, { NULL, 5, "77" }, "d1", false, CHILD_APPLY, 0, 0 },
	{ "our write, cache caught up: nothing", true, { "d1", 3, "", "", 0, 0 }, true, { "d1", 3, "90" }, "d1", true,
	  CHILD_UP_TO_DATE, 0, 0 },
	{ "our write, cache behind (old digest): nothing", true, { "d1", 3, "", "", 0, 0 }, true, { "d0", 2, "80" }, "d1",
	  true, CHILD_UP_TO_DATE, 0, 0 },
	{ "generation bumped after our write: revert", true, { "d1", 3, "", "", 0, 0 }, true, { "d1", 4, "95" }, "d1", true,
	  CHILD_REVERT, 0, 0 },
	{ "generation lower than ours (old cache): nothing", true, { "d1", 3, "", "", 0, 0 }, true, { "d1", 2, "85" }, "d1",
	  true, CHILD_UP_TO_DATE, 0, 0 },
	{ "no generation, rv is ours: nothing", true, { "d1", 0, "90", "80", 0, 0 }, true, { "d1", 0, "90" }, "d1", false,
	  CHILD_UP_TO_DATE, 0, 0 },
	{ "no generation, rv from before our write: nothing", true, { "d1", 0, "90", "80", 0, 0 }, true, { "d1", 0, "80" },
	  "d1", false, CHILD_UP_TO_DATE, 0, 0 },
	{ "no generation, another rv: revert (compared for equality, never as numbers)", true,
	  { "d1", 0, "90", "80", 0, 0 }, true, { "d1", 0, "100" }, "d1", false, CHILD_REVERT, 0, 0 },
	{ "no generation, a smaller-looking rv is still another version", true, { "d1", 0, "90", "80", 0, 0 }, true,
	  { "d1", 0, "9" }, "d1", false, CHILD_REVERT, 0, 0 },
	{ "no generation, no rv cached: nothing", true, { "d1", 0, "90", "80", 0, 0 }, true, { "d1", 0, NULL }, "d1", false,
	  CHILD_UP_TO_DATE, 0, 0 },
	{ "new desired state, cached already as it: adopt", true, { "d0", 3, "", "", 2, NOW - S }, true, { "d1", 4, "99" },
	  "d1", true, CHILD_ADOPT, 0, 0 },
	{ "new desired state: apply (the old contest is moot)", true, { "d0", 3, "", "", 9, NOW - S }, true,
	  { "d0", 4, "99" }, "d1", true, CHILD_APPLY, 0, 0 },
	{ "2nd revert within the window: at once", true, { "d1", 3, "", "", 2, NOW - 10 * S }, true, { "d1", 4, "95" }, "d1",
	  true, CHILD_REVERT, 0, 2 },
	{ "4th revert 0.5 s after the 3rd: held 1 s after it", true, { "d1", 3, "", "", 3, NOW - S / 2 }, true,
	  { "d1", 4, "95" }, "d1", true, CHILD_DEFER, S / 2, 3 },
	{ "4th revert 1 s after the 3rd: at once", true, { "d1", 3, "", "", 3, NOW - S }, true, { "d1", 4, "95" }, "d1",
	  true, CHILD_REVERT, 0, 3 },
	{ "6th revert: held 4 s after the 5th", true, { "d1", 3, "", "", 5, NOW - S }, true, { "d1", 4, "95" }, "d1", true,
	  CHILD_DEFER, 3 * S, 5 },
	{ "a long contest: the delay stops at 5 min", true, { "d1", 3, "", "", 40, NOW - S }, true, { "d1", 4, "95" }, "d1",
	  true, CHILD_DEFER, 299 * S, 40 },
	{ "an edit after a quiet minute starts a new contest", true, { "d1", 3, "", "", 40, NOW - 61 * S }, true,
	  { "d1", 4, "95" }, "d1", true, CHILD_REVERT, 0, 0 },
};
/* clang-format on */

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		const row *r = &rows[i];
		child_verdict v =
			child_decide(r->has_memo ? &r->memo : NULL, r->cached ? &r->seen : NULL, r->want, r->gen, NOW);
		if (v.action != r->action || v.defer_us != r->defer_us ||
		    (r->action == CHILD_REVERT && v.reverts != r->reverts))
			fail_msg("%s: action %d (want %d), defer %lld (want %lld), reverts %d (want %d)", r->name,
				 v.action, r->action, (long long)v.defer_us, (long long)r->defer_us, v.reverts,
				 r->reverts);
	}
	print_message("%zu decisions as tabled\n", sizeof rows / sizeof *rows);
}

static void test_generation_kinds(void **state)
{
	(void)state;
	assert_true(child_kind_has_generation("StatefulSet"));
	assert_true(child_kind_has_generation("Deployment"));
	assert_true(child_kind_has_generation("PodDisruptionBudget"));
	assert_false(child_kind_has_generation("ConfigMap"));
	assert_false(child_kind_has_generation("Service"));
	assert_false(child_kind_has_generation(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_generation_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
