#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/conditions.h"
#include "runtime/leader.h"

static const char *field(json_t *conds, const char *type, const char *key)
{
	return json_string_value(json_object_get(conditions_find(conds, type), key));
}

static void test_condition_transitions(void **state)
{
	(void)state;
	json_t *c = json_array();
	assert_true(conditions_set(c, "Ready", "False", "Creating", "creating pods", 1, "2026-01-01T00:00:00Z"));
	assert_string_equal(field(c, "Ready", "lastTransitionTime"), "2026-01-01T00:00:00Z");
	/* Same everything: no change, time kept. */
	assert_false(conditions_set(c, "Ready", "False", "Creating", "creating pods", 1, "2026-01-01T00:01:00Z"));
	assert_string_equal(field(c, "Ready", "lastTransitionTime"), "2026-01-01T00:00:00Z");
	/* New reason and message, same status: changed, but the transition time is kept. */
	assert_true(
		conditions_set(c, "Ready", "False", "WaitingForPods", "1 of 4 pods ready", 1, "2026-01-01T00:02:00Z"));
	assert_string_equal(field(c, "Ready", "lastTransitionTime"), "2026-01-01T00:00:00Z");
	assert_string_equal(field(c, "Ready", "reason"), "WaitingForPods");
	/* A new generation observed: changed, time kept. */
	assert_true(
		conditions_set(c, "Ready", "False", "WaitingForPods", "1 of 4 pods ready", 2, "2026-01-01T00:03:00Z"));
	assert_string_equal(field(c, "Ready", "lastTransitionTime"), "2026-01-01T00:00:00Z");
	/* The status flips: the transition time moves. */
	assert_true(conditions_set(c, "Ready", "True", "Ready", "all ready", 2, "2026-01-01T00:04:00Z"));
	assert_string_equal(field(c, "Ready", "lastTransitionTime"), "2026-01-01T00:04:00Z");
	assert_true(conditions_is_true(c, "Ready"));
	/* Other types are independent. */
	assert_true(conditions_set(c, "Degraded", "False", "AsExpected", "", 2, "2026-01-01T00:05:00Z"));
	assert_int_equal(json_array_size(c), 2);
	assert_false(conditions_is_true(c, "Degraded"));
	assert_false(conditions_is_true(c, "Missing"));
	json_decref(c);
}

static void test_leader_decisions(void **state)
{
	(void)state;
	leader_observed obs = { 0 };
	int64_t s = 1000000;
	/* No holder: take it. */
	assert_int_equal(leader_decide(&obs, "me", NULL, NULL, "1", 15, 0), LEADER_ACQUIRE);
	assert_int_equal(leader_decide(&obs, "me", "", NULL, "1", 15, 0), LEADER_ACQUIRE);
	/* Our own: renew. */
	assert_int_equal(leader_decide(&obs, "me", "me", "t1", "2", 15, 0), LEADER_RENEW);
	/* Someone else, fresh: wait; judged by our clock from when we saw it change. */
	assert_int_equal(leader_decide(&obs, "me", "other", "t1", "3", 15, 100 * s), LEADER_WAIT);
	assert_int_equal(leader_decide(&obs, "me", "other", "t1", "3", 15, 114 * s), LEADER_WAIT);
	/* The holder renewed (record changed): the clock restarts. */
	assert_int_equal(leader_decide(&obs, "me", "other", "t2", "4", 15, 114 * s), LEADER_WAIT);
	assert_int_equal(leader_decide(&obs, "me", "other", "t2", "4", 15, 128 * s), LEADER_WAIT);
	/* Unchanged for the whole lease duration: expired, take it. */
	assert_int_equal(leader_decide(&obs, "me", "other", "t2", "4", 15, 129 * s), LEADER_ACQUIRE);
	/* A renewTime far in the past (clock skew) does not matter: only our observation does. */
	leader_observed fresh = { 0 };
	assert_int_equal(leader_decide(&fresh, "me", "other", "1999-01-01T00:00:00Z", "9", 15, 500 * s), LEADER_WAIT);
	leader_observed_release(&obs);
	leader_observed_release(&fresh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_condition_transitions),
		cmocka_unit_test(test_leader_decisions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
