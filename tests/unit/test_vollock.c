// SPDX-License-Identifier: GPL-2.0
/* vollock: one call per volume at a time; other volumes are not affected. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>

#include <cmocka.h>

#include "lib/vollock.h"

static void a_second_lock_on_the_same_volume_is_ebusy(void **state)
{
	struct vollock *vl;

	assert_int_equal(vollock_new(&vl), 0);
	assert_int_equal(vollock_try(vl, "vol-1"), 0);
	assert_int_equal(vollock_try(vl, "vol-1"), -EBUSY);
	assert_int_equal(vollock_try(vl, "vol-2"), 0);
	assert_int_equal(vollock_held(vl), 2);
	vollock_release(vl, "vol-1");
	assert_int_equal(vollock_try(vl, "vol-1"), 0);
	vollock_release(vl, "vol-1");
	vollock_release(vl, "vol-2");
	assert_int_equal(vollock_held(vl), 0);
	vollock_free(vl);
}

static void releasing_an_unlocked_volume_changes_nothing(void **state)
{
	struct vollock *vl;

	assert_int_equal(vollock_new(&vl), 0);
	assert_int_equal(vollock_try(vl, "a"), 0);
	vollock_release(vl, "b");
	assert_int_equal(vollock_held(vl), 1);
	assert_int_equal(vollock_try(vl, "a"), -EBUSY);
	vollock_free(vl); /* frees a lock still held */
}

struct race {
	struct vollock *vl;
	atomic_int wins;
	atomic_int inside;
	atomic_int overlap;
};

/* Many threads hammer one volume: never two inside at once. */
static void *racer(void *arg)
{
	struct race *race = arg;

	for (int i = 0; i < 20000; i++) {
		if (vollock_try(race->vl, "contended") < 0)
			continue;
		if (atomic_fetch_add(&race->inside, 1) != 0)
			atomic_fetch_add(&race->overlap, 1);
		atomic_fetch_add(&race->wins, 1);
		atomic_fetch_sub(&race->inside, 1);
		vollock_release(race->vl, "contended");
	}
	return NULL;
}

static void concurrent_callers_never_hold_one_volume_together(void **state)
{
	struct race race = {};
	pthread_t threads[4];

	assert_int_equal(vollock_new(&race.vl), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, racer, &race), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	assert_int_equal(atomic_load(&race.overlap), 0);
	assert_true(atomic_load(&race.wins) > 0);
	assert_int_equal(vollock_held(race.vl), 0);
	vollock_free(race.vl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_second_lock_on_the_same_volume_is_ebusy),
		cmocka_unit_test(releasing_an_unlocked_volume_changes_nothing),
		cmocka_unit_test(concurrent_callers_never_hold_one_volume_together),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
