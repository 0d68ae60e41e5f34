// SPDX-License-Identifier: GPL-2.0
/*
 * staleleg: the atomblk.io/stale-legs label and what a stage of a mirror
 * may assemble from the marks its replicas carry. The rule a user relies
 * on: a leg some replica marks stale is never part of the mirror again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lib/staleleg.h"

static void labels_parse_to_leg_masks_and_back(void **state)
{
	char text[STALELEG_TEXT_MAX];
	unsigned int mask = 99;

	assert_int_equal(staleleg_parse(NULL, 2, &mask), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(staleleg_parse("", 2, &mask), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(staleleg_parse("1", 2, &mask), 0);
	assert_int_equal(mask, 2);
	assert_int_equal(staleleg_parse("2,0", 3, &mask), 0);
	assert_int_equal(mask, 5);
	staleleg_format(mask, text);
	assert_string_equal(text, "0,2");
	staleleg_format(0, text);
	assert_string_equal(text, "");
	staleleg_format(7, text);
	assert_string_equal(text, "0,1,2");
}

static void labels_that_are_not_leg_lists_are_refused(void **state)
{
	static const char *const bad[] = { "2",	 "0,",	",0",  "0,,1", "a",
					   "-1", "0 1", "1,1", "10",   " 0" };
	unsigned int mask;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mask = 99;
		assert_int_equal(staleleg_parse(bad[i], 2, &mask), -EINVAL);
		assert_int_equal(mask, 0);
	}
}

static void without_marks_every_leg_is_connected(void **state)
{
	unsigned int marks[3] = {};
	struct staleleg_plan p;

	staleleg_plan(3, 7, marks, 0, &p);
	assert_int_equal(p.verdict, STALELEG_STAGE);
	assert_int_equal(p.stale, 0);
	assert_int_equal(p.connect, 7);
	/* nothing could be read: connecting decides (UNAVAILABLE as before) */
	staleleg_plan(2, 0, marks, 0, &p);
	assert_int_equal(p.verdict, STALELEG_STAGE);
	assert_int_equal(p.connect, 3);
}

static void a_leg_marked_by_a_fresh_replica_is_left_out(void **state)
{
	unsigned int marks[3] = { 0, 1, 0 }; /* leg 1 says: leg 0 missed writes */
	struct staleleg_plan p;

	staleleg_plan(2, 3, marks, 0, &p);
	assert_int_equal(p.verdict, STALELEG_STAGE);
	assert_int_equal(p.stale, 1);
	assert_int_equal(p.connect, 2);
	/* 3 legs: the mark of any one replica counts, unreadable leg 2 is still tried */
	staleleg_plan(3, 3, marks, 0, &p);
	assert_int_equal(p.stale, 1);
	assert_int_equal(p.connect, 6);
	/* marks accumulate: leg 2 said leg 1, leg 1 said leg 0 */
	marks[2] = 2;
	staleleg_plan(3, 7, marks, 0, &p);
	assert_int_equal(p.stale, 3);
	assert_int_equal(p.connect, 4);
	assert_int_equal(p.verdict, STALELEG_STAGE);
}

static void marks_the_node_has_not_delivered_yet_count_too(void **state)
{
	unsigned int marks[2] = { 0, 0 };
	struct staleleg_plan p;

	staleleg_plan(2, 3, marks, 2, &p);
	assert_int_equal(p.stale, 2);
	assert_int_equal(p.connect, 1);
	assert_int_equal(p.verdict, STALELEG_STAGE);
}

static void only_stale_legs_answering_means_wait_for_the_current_one(void **state)
{
	unsigned int marks[2] = { 1, 0 }; /* leg 0 carries its own mark; leg 1 does not answer */
	struct staleleg_plan p;

	staleleg_plan(2, 1, marks, 0, &p);
	assert_int_equal(p.verdict, STALELEG_WAIT);
	assert_int_equal(p.stale, 1);
	assert_int_equal(p.connect, 2);
}

static void each_side_marking_the_other_is_a_split_brain(void **state)
{
	unsigned int marks[3] = { 2, 1, 0 };
	struct staleleg_plan p;

	staleleg_plan(2, 3, marks, 0, &p);
	assert_int_equal(p.verdict, STALELEG_SPLIT);
	assert_int_equal(p.stale, 3);
	assert_int_equal(p.connect, 0);
	/* 3 legs, leg 2 unreachable but marked by leg 1 */
	marks[1] = 5;
	staleleg_plan(3, 3, marks, 0, &p);
	assert_int_equal(p.verdict, STALELEG_SPLIT);
}

static void leg_lists_read_as_text(void **state)
{
	char buf[64];

	staleleg_list(5, buf, sizeof(buf));
	assert_string_equal(buf, "leg 0, leg 2");
	staleleg_list(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(labels_parse_to_leg_masks_and_back),
		cmocka_unit_test(labels_that_are_not_leg_lists_are_refused),
		cmocka_unit_test(without_marks_every_leg_is_connected),
		cmocka_unit_test(a_leg_marked_by_a_fresh_replica_is_left_out),
		cmocka_unit_test(marks_the_node_has_not_delivered_yet_count_too),
		cmocka_unit_test(only_stale_legs_answering_means_wait_for_the_current_one),
		cmocka_unit_test(each_side_marking_the_other_is_a_split_brain),
		cmocka_unit_test(leg_lists_read_as_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
