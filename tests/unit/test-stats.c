/* allhands: unit tests of the measurement primitives (include/allhands/stats.h,
 * plugin/core/stats.c): histogram quantiles, the rate meter and the expected-wait estimate.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "allhands/stats.h"

#define SEC G_GINT64_CONSTANT(1000000)
#define MS G_GINT64_CONSTANT(1000)
/* Arbitrary, not 0: the meter must not treat time 0 as special. */
#define T0 (G_GINT64_CONSTANT(5000) * SEC)

/* --- Histogram */

static void test_hist_empty(void)
{
	ah_hist h;
	ah_hist_init(&h);
	g_assert_cmpuint(ah_hist_quantile(&h, 0.0), ==, 0);
	g_assert_cmpuint(ah_hist_quantile(&h, 0.5), ==, 0);
	g_assert_cmpuint(ah_hist_quantile(&h, 1.0), ==, 0);
	g_assert_cmpuint(h.count, ==, 0);
}

static void test_hist_small_exact(void)
{
	ah_hist h;
	ah_hist_init(&h);
	for (guint64 v = 0; v < 4; v++)
		ah_hist_add(&h, v);
	g_assert_cmpuint(ah_hist_quantile(&h, 0.0), ==, 0);
	g_assert_cmpuint(ah_hist_quantile(&h, 0.25), ==, 0);
	g_assert_cmpuint(ah_hist_quantile(&h, 0.26), ==, 1);
	g_assert_cmpuint(ah_hist_quantile(&h, 0.5), ==, 1);
	g_assert_cmpuint(ah_hist_quantile(&h, 0.75), ==, 2);
	g_assert_cmpuint(ah_hist_quantile(&h, 1.0), ==, 3);
	/* q outside [0, 1] is clamped */
	g_assert_cmpuint(ah_hist_quantile(&h, -1.0), ==, 0);
	g_assert_cmpuint(ah_hist_quantile(&h, 7.0), ==, 3);
	g_assert_cmpuint(ah_hist_quantile(&h, NAN), ==, 0);
}

static void test_hist_constant(void)
{
	ah_hist h;
	ah_hist_init(&h);
	for (int i = 0; i < 1000; i++)
		ah_hist_add(&h, 777);
	g_assert_cmpuint(h.count, ==, 1000);
	g_assert_cmpuint(h.max, ==, 777);
	/* the bucket's upper bound is capped at the max seen */
	for (double q = 0.0; q <= 1.0; q += 0.125)
		g_assert_cmpuint(ah_hist_quantile(&h, q), ==, 777);
}

static void test_hist_uniform(void)
{
	static const double qs[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0};
	ah_hist h;
	ah_hist_init(&h);
	/* 1..10000 in a scrambled order (7919 is prime, so this visits each value once) */
	for (guint64 i = 0; i < 10000; i++)
		ah_hist_add(&h, (i * 7919) % 10000 + 1);
	g_assert_cmpuint(h.count, ==, 10000);
	g_assert_cmpuint(h.max, ==, 10000);
	for (guint i = 0; i < G_N_ELEMENTS(qs); i++) {
		double exact = ceil(qs[i] * 10000);
		double got = (double)ah_hist_quantile(&h, qs[i]);
		g_assert_cmpfloat(got, >=, exact);
		g_assert_cmpfloat(got, <=, 1.25 * exact);
	}
}

static void test_hist_bucket_bounds(void)
{
	/* Alone with a bigger sample, a value's median is its bucket's upper bound: never below the
	 * value, at most 25% above it, and exact below 4. */
	GRand *rnd = g_rand_new_with_seed(42);
	for (int i = 0; i < 20000; i++) {
		guint64 v = i < 1000 ? (guint64)i : (guint64)g_rand_int(rnd) << g_rand_int_range(rnd, 0, 4);
		ah_hist h;
		ah_hist_init(&h);
		ah_hist_add(&h, v);
		ah_hist_add(&h, G_GUINT64_CONSTANT(1) << 40);
		guint64 got = ah_hist_quantile(&h, 0.5);
		g_assert_cmpuint(got, >=, v);
		if (v < 4)
			g_assert_cmpuint(got, ==, v);
		else
			g_assert_cmpfloat((double)got, <=, 1.25 * (double)v);
	}
	g_rand_free(rnd);
}

static void test_hist_huge_clamped(void)
{
	ah_hist h;
	ah_hist_init(&h);
	for (int i = 0; i < 99; i++)
		ah_hist_add(&h, 10);
	guint64 huge = G_GUINT64_CONSTANT(1) << 50;
	ah_hist_add(&h, huge);
	ah_hist_add(&h, G_MAXUINT64);
	g_assert_cmpuint(h.buckets[AH_HIST_BUCKETS - 1], ==, 2);
	g_assert_cmpuint(h.max, ==, G_MAXUINT64);
	g_assert_cmpuint(ah_hist_quantile(&h, 0.5), >=, 10);
	g_assert_cmpuint(ah_hist_quantile(&h, 0.5), <=, 12);
	g_assert_cmpuint(ah_hist_quantile(&h, 1.0), ==, G_MAXUINT64);
	/* only huge values: the last bucket reports the max seen */
	ah_hist_init(&h);
	ah_hist_add(&h, huge);
	g_assert_cmpuint(ah_hist_quantile(&h, 0.5), ==, huge);
}

/* --- Rate meter */

/* `per_s` events a second, one every 1/per_s s, for `secs` seconds from `start`. */
static gint64 feed_steady(ah_rate *r, guint per_s, guint secs, gint64 start)
{
	gint64 step = SEC / per_s;
	gint64 t = start;
	for (guint i = 0; i < per_s * secs; i++, t += step)
		ah_rate_add(r, 1, t);
	return t;
}

static void test_rate_empty(void)
{
	ah_rate r;
	ah_rate_init(&r);
	g_assert_cmpfloat(ah_rate_per_s(&r, T0), ==, 0.0);
	g_assert_cmpfloat(ah_rate_spread(&r, T0), ==, 0.0);
	g_assert_cmpint(ah_rate_known(&r, T0), ==, FALSE);
	ah_rate_add(&r, 0, T0);
	g_assert_cmpuint(r.events, ==, 0);
	g_assert_cmpint(ah_rate_known(&r, T0 + 10 * SEC), ==, FALSE);
}

static void test_rate_open_window(void)
{
	ah_rate r;
	ah_rate_init(&r);
	ah_rate_add(&r, 5, T0);
	/* younger than 0.5 s: too little to say */
	g_assert_cmpfloat(ah_rate_per_s(&r, T0 + 400 * MS), ==, 0.0);
	g_assert_cmpfloat(fabs(ah_rate_per_s(&r, T0 + 500 * MS) - 10.0), <, 1e-9);
	g_assert_cmpfloat(fabs(ah_rate_per_s(&r, T0 + 800 * MS) - 6.25), <, 1e-9);
	g_assert_cmpint(ah_rate_known(&r, T0 + 800 * MS), ==, FALSE);
	/* one complete window is not enough to be known */
	g_assert_cmpfloat(fabs(ah_rate_per_s(&r, T0 + 1 * SEC) - 5.0), <, 1e-9);
	g_assert_cmpint(ah_rate_known(&r, T0 + 1 * SEC), ==, FALSE);
}

static void test_rate_steady(void)
{
	ah_rate r;
	ah_rate_init(&r);
	gint64 t = feed_steady(&r, 10, 10, T0);
	g_assert_cmpuint(r.events, ==, 100);
	g_assert_cmpfloat(fabs(ah_rate_per_s(&r, t) - 10.0), <, 1e-9);
	g_assert_cmpfloat(ah_rate_spread(&r, t), <, 1e-9);
	g_assert_cmpint(ah_rate_known(&r, t), ==, TRUE);
	/* known from the second complete window on */
	ah_rate_init(&r);
	t = feed_steady(&r, 10, 1, T0);
	g_assert_cmpint(ah_rate_known(&r, t), ==, FALSE);
	t = feed_steady(&r, 10, 1, t);
	g_assert_cmpint(ah_rate_known(&r, t), ==, TRUE);
}

static void test_rate_min_events(void)
{
	ah_rate r;
	ah_rate_init(&r);
	ah_rate_add(&r, 1, T0);
	ah_rate_add(&r, 1, T0 + 1 * SEC);
	g_assert_cmpint(ah_rate_known(&r, T0 + 3 * SEC), ==, FALSE);
	ah_rate_add(&r, 1, T0 + 2 * SEC);
	g_assert_cmpint(ah_rate_known(&r, T0 + 3 * SEC), ==, TRUE);
}

static void test_rate_decays_const(void)
{
	ah_rate r;
	ah_rate_init(&r);
	gint64 t = feed_steady(&r, 20, 10, T0);
	ah_rate copy = r;
	double prev = ah_rate_per_s(&r, t);
	for (gint64 dt = 1 * SEC; dt <= 30 * SEC; dt += 1 * SEC) {
		double now = ah_rate_per_s(&r, t + dt);
		g_assert_cmpfloat(now, <, prev);
		prev = now;
	}
	/* 0.7 per silent window */
	g_assert_cmpfloat(fabs(ah_rate_per_s(&r, t + 1 * SEC) - 20.0 * 0.7), <, 1e-9);
	/* readers do not mutate */
	g_assert_cmpint(memcmp(&copy, &r, sizeof(r)), ==, 0);
	/* a long stall: the rate is ~0 and no longer known */
	g_assert_cmpfloat(ah_rate_per_s(&r, t + 3600 * SEC), <, 1e-3);
	g_assert_cmpint(ah_rate_known(&r, t + 3600 * SEC), ==, FALSE);
	g_assert_cmpint(ah_rate_known(&r, t + 2 * SEC), ==, TRUE);
	/* and it comes back when events resume */
	gint64 t2 = feed_steady(&r, 20, 20, t + 3600 * SEC);
	g_assert_cmpfloat(ah_rate_per_s(&r, t2), >, 19.0);
	g_assert_cmpint(ah_rate_known(&r, t2), ==, TRUE);
}

static void test_rate_spread(void)
{
	ah_rate r;
	ah_rate_init(&r);
	gint64 t = T0;
	for (int w = 0; w < 30; w++) {
		t = feed_steady(&r, w % 2 ? 15 : 5, 1, t);
	}
	double rate = ah_rate_per_s(&r, t);
	double spread = ah_rate_spread(&r, t);
	g_test_message("alternating 5/15 per s: rate %.2f/s, spread %.2f/s", rate, spread);
	g_assert_cmpfloat(rate, >, 7.0);
	g_assert_cmpfloat(rate, <, 13.0);
	g_assert_cmpfloat(spread, >, 3.0);
	g_assert_cmpfloat(spread, <, 7.0);
}

/* --- Wait estimate */

static void test_wait_unknown(void)
{
	ah_rate r;
	ah_rate_init(&r);
	ah_wait_estimate e = ah_wait_estimate_for(5, &r, T0);
	g_assert_cmpint(e.known, ==, FALSE);
	g_assert_cmpint(e.median_us, ==, 0);
	g_assert_cmpint(e.low_us, ==, 0);
	g_assert_cmpint(e.high_us, ==, 0);
	ah_rate_add(&r, 100, T0);
	e = ah_wait_estimate_for(5, &r, T0 + 1500 * MS);
	g_assert_cmpint(e.known, ==, FALSE);
}

static void test_wait_steady(void)
{
	ah_rate r;
	ah_rate_init(&r);
	gint64 t = feed_steady(&r, 10, 10, T0);
	/* spread 0: only the arrivals' randomness, +-1.28 sqrt(100) / 10 s */
	ah_wait_estimate e = ah_wait_estimate_for(100, &r, t);
	g_assert_cmpint(e.known, ==, TRUE);
	g_assert_cmpint(e.median_us, ==, 10 * SEC);
	g_assert_cmpint(llabs(e.low_us - 8720 * MS), <=, 1);
	g_assert_cmpint(llabs(e.high_us - 11280 * MS), <=, 1);
	/* the head of the queue: may be admitted at any moment */
	e = ah_wait_estimate_for(1, &r, t);
	g_assert_cmpint(e.median_us, ==, 100 * MS);
	g_assert_cmpint(e.low_us, ==, 0);
	g_assert_cmpint(llabs(e.high_us - 228 * MS), <=, 1);
	/* position 0 is treated as 1 */
	ah_wait_estimate e0 = ah_wait_estimate_for(0, &r, t);
	g_assert_cmpint(e0.median_us, ==, e.median_us);
}

static void test_wait_spread_widens(void)
{
	ah_rate steady, noisy;
	ah_rate_init(&steady);
	ah_rate_init(&noisy);
	gint64 t = feed_steady(&steady, 10, 30, T0);
	gint64 t2 = T0;
	for (int w = 0; w < 30; w++)
		t2 = feed_steady(&noisy, w % 2 ? 16 : 4, 1, t2);
	g_assert_cmpint(t, ==, t2);
	ah_wait_estimate a = ah_wait_estimate_for(50, &steady, t);
	ah_wait_estimate b = ah_wait_estimate_for(50, &noisy, t);
	g_test_message("position 50 at 10/s: steady [%.1f, %.1f, %.1f] s, noisy (4/16 per s) "
				   "[%.1f, %.1f, %.1f] s",
				   a.low_us / 1e6, a.median_us / 1e6, a.high_us / 1e6, b.low_us / 1e6, b.median_us / 1e6,
				   b.high_us / 1e6);
	g_assert_cmpint(b.known, ==, TRUE);
	g_assert_cmpint(b.low_us, <=, b.median_us);
	g_assert_cmpint(b.median_us, <=, b.high_us);
	g_assert_cmpint(b.high_us - b.low_us, >, a.high_us - a.low_us);
	/* the pessimistic rate never goes below a quarter of the measured one */
	double rate = ah_rate_per_s(&noisy, t2);
	double p = 50;
	g_assert_cmpfloat((double)b.high_us, <=, (p + 1.28 * sqrt(p)) / (rate / 4) * 1e6 + 1);
}

static void test_wait_capped(void)
{
	ah_rate r;
	ah_rate_init(&r);
	/* 3 events over 2 windows, then a 20 s stall: known, but very slow */
	ah_rate_add(&r, 2, T0);
	ah_rate_add(&r, 1, T0 + 1 * SEC);
	gint64 t = T0 + 22 * SEC;
	g_assert_cmpint(ah_rate_known(&r, t), ==, TRUE);
	ah_wait_estimate e = ah_wait_estimate_for(G_MAXUINT, &r, t);
	g_assert_cmpint(e.known, ==, TRUE);
	g_assert_cmpint(e.median_us, ==, AH_WAIT_MAX_US);
	g_assert_cmpint(e.high_us, ==, AH_WAIT_MAX_US);
	g_assert_cmpint(e.low_us, <=, AH_WAIT_MAX_US);
	e = ah_wait_estimate_for(3, &r, t);
	g_assert_cmpint(e.low_us, <=, e.median_us);
	g_assert_cmpint(e.median_us, <=, e.high_us);
	g_assert_cmpint(e.high_us, <=, AH_WAIT_MAX_US);
}

static void test_wait_changed(void)
{
	ah_wait_estimate unknown = {FALSE, 0, 0, 0, FALSE, AH_WAIT_UNSAID};
	ah_wait_estimate s100 = {TRUE, 100 * SEC, 80 * SEC, 120 * SEC, FALSE, AH_WAIT_UNSAID};
	ah_wait_estimate s105 = {TRUE, 105 * SEC, 0, 0, FALSE, AH_WAIT_UNSAID};
	ah_wait_estimate s115 = {TRUE, 115 * SEC, 0, 0, FALSE, AH_WAIT_UNSAID};
	ah_wait_estimate s10 = {TRUE, 10 * SEC, 0, 0, FALSE, AH_WAIT_UNSAID};
	ah_wait_estimate s11_5 = {TRUE, 11500 * MS, 0, 0, FALSE, AH_WAIT_UNSAID};
	ah_wait_estimate s13 = {TRUE, 13 * SEC, 0, 0, FALSE, AH_WAIT_UNSAID};
	ah_wait_estimate s7 = {TRUE, 7 * SEC, 0, 0, FALSE, AH_WAIT_UNSAID};
	g_assert_cmpint(ah_wait_estimate_changed(&unknown, &unknown), ==, FALSE);
	g_assert_cmpint(ah_wait_estimate_changed(&unknown, &s100), ==, TRUE);
	g_assert_cmpint(ah_wait_estimate_changed(&s100, &unknown), ==, TRUE);
	g_assert_cmpint(ah_wait_estimate_changed(&s100, &s100), ==, FALSE);
	g_assert_cmpint(ah_wait_estimate_changed(&s100, &s105), ==, FALSE); /* 5% */
	g_assert_cmpint(ah_wait_estimate_changed(&s100, &s115), ==, TRUE);
	g_assert_cmpint(ah_wait_estimate_changed(&s115, &s100), ==, TRUE);
	g_assert_cmpint(ah_wait_estimate_changed(&s10, &s11_5), ==, FALSE); /* 15% but 1.5 s */
	g_assert_cmpint(ah_wait_estimate_changed(&s10, &s13), ==, TRUE);
	g_assert_cmpint(ah_wait_estimate_changed(&s10, &s7), ==, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/stats/hist/empty", test_hist_empty);
	g_test_add_func("/stats/hist/small-exact", test_hist_small_exact);
	g_test_add_func("/stats/hist/constant", test_hist_constant);
	g_test_add_func("/stats/hist/quantile", test_hist_uniform);
	g_test_add_func("/stats/hist/bucket-bounds", test_hist_bucket_bounds);
	g_test_add_func("/stats/hist/huge-clamped", test_hist_huge_clamped);
	g_test_add_func("/stats/rate/empty", test_rate_empty);
	g_test_add_func("/stats/rate/open-window", test_rate_open_window);
	g_test_add_func("/stats/rate/steady", test_rate_steady);
	g_test_add_func("/stats/rate/min-events", test_rate_min_events);
	g_test_add_func("/stats/rate/decays-const", test_rate_decays_const);
	g_test_add_func("/stats/rate/spread", test_rate_spread);
	g_test_add_func("/stats/wait/unknown", test_wait_unknown);
	g_test_add_func("/stats/wait/steady", test_wait_steady);
	g_test_add_func("/stats/wait/spread-widens", test_wait_spread_widens);
	g_test_add_func("/stats/wait/capped", test_wait_capped);
	g_test_add_func("/stats/wait/changed", test_wait_changed);
	return g_test_run();
}
