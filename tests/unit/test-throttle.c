/* allhands: unit tests of the failure bucket (include/allhands/throttle.h, plugin/core/throttle.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib.h>

#include "allhands/throttle.h"

#define SEC G_GINT64_CONSTANT(1000000)

/* `burst` failures in a row, then refused for one interval, then one more per interval. */
static void test_burst_then_rate(void)
{
	const ah_fail_limit limit = { 3, 2 * SEC };
	ah_fail_bucket b = { 0 };
	gint64 now = 100 * SEC;
	for (guint i = 0; i < 3; i++) {
		g_assert_cmpint(ah_fail_check(&b, &limit, now), ==, 0);
		ah_fail_record(&b, &limit, now);
	}
	g_assert_cmpint(ah_fail_check(&b, &limit, now), ==, 2 * SEC);
	g_assert_cmpint(ah_fail_check(&b, &limit, now + SEC), ==, SEC);
	g_assert_cmpint(ah_fail_wait(&b, &limit, now + SEC), ==, SEC);
	g_assert_cmpuint(b.refused, ==, 2);
	g_assert_cmpuint(b.failed, ==, 3);
	now += 2 * SEC;
	g_assert_cmpint(ah_fail_check(&b, &limit, now), ==, 0);
	ah_fail_record(&b, &limit, now);
	g_assert_cmpint(ah_fail_check(&b, &limit, now), ==, 2 * SEC);
	g_assert_false(ah_fail_idle(&b, now));
	/* after burst intervals everything is forgiven */
	now += 3 * 2 * SEC;
	g_assert_true(ah_fail_idle(&b, now));
	for (guint i = 0; i < 3; i++) {
		g_assert_cmpint(ah_fail_check(&b, &limit, now), ==, 0);
		ah_fail_record(&b, &limit, now);
	}
	g_assert_cmpint(ah_fail_check(&b, &limit, now), >, 0);
}

/* A slow steady guesser (one failure per interval) is never refused; a faster one is held to the rate. */
static void test_sustained_rate(void)
{
	const ah_fail_limit limit = { 10, 6 * SEC };
	ah_fail_bucket slow = { 0 }, fast = { 0 };
	guint allowed = 0;
	gint64 now = SEC;
	for (guint i = 0; i < 100; i++, now += 6 * SEC) {
		g_assert_cmpint(ah_fail_check(&slow, &limit, now), ==, 0);
		ah_fail_record(&slow, &limit, now);
	}
	/* one attempt a second for 600 s: 10 at once, then one per 6 s */
	for (now = SEC; now <= 601 * SEC; now += SEC) {
		if (ah_fail_check(&fast, &limit, now) == 0) {
			ah_fail_record(&fast, &limit, now);
			allowed++;
		}
	}
	g_assert_cmpuint(allowed, ==, 10 + 600 / 6);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/throttle/burst-then-rate", test_burst_then_rate);
	g_test_add_func("/throttle/sustained-rate", test_sustained_rate);
	return g_test_run();
}
