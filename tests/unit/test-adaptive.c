/* allhands: unit tests of adaptive wave sizing and the token bucket (include/allhands/adaptive.h,
 * plugin/core/adaptive.c), including a simulated node whose setup time degrades past a knee.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>

#include <glib.h>

#include "allhands/adaptive.h"

#define SEC G_GINT64_CONSTANT(1000000)
#define MS G_GINT64_CONSTANT(1000)

static const ah_adaptive_config default_config = {
	.min_limit = 1,
	.max_limit = 1000,
	.initial_limit = 4,
	.cpu_target = 0.8,
	.tolerance = 1.5,
};

/* --- The simulated node.
 * A wave every 100 ms with `demand` attendees waiting. Each admitted attendee's setup time is fixed
 * when it is admitted, from the number connecting right after that wave: SIM_BASE_US up to the
 * knee, growing linearly above it (3 more base times per knee's worth of excess). It then stays
 * connecting for that long and reports the time at the first wave after it is done. The CPU,
 * connecting / (2 * knee), is sampled every wave. */
#define SIM_BASE_US (300 * MS)
#define SIM_STEP_US (100 * MS)
#define SIM_MAX_CONNECTING 4096

typedef struct {
	ah_adaptive a;
	double knee;
	double slow; /* multiplies every setup time */
	guint demand;
	gint64 now;
	guint connecting;
	gint64 done_at[SIM_MAX_CONNECTING];
	gint64 setup[SIM_MAX_CONNECTING];
} sim_node;

static void sim_init(sim_node *s, const ah_adaptive_config *config, double knee, guint demand)
{
	ah_adaptive_init(&s->a, config);
	s->knee = knee;
	s->slow = 1.0;
	s->demand = demand;
	s->now = 0;
	s->connecting = 0;
}

static gint64 sim_setup_us(const sim_node *s, guint connecting)
{
	double c = (double)connecting;
	double base = s->slow * (double)SIM_BASE_US;
	if (c <= s->knee)
		return (gint64)base;
	return (gint64)(base * (1.0 + 3.0 * (c - s->knee) / s->knee));
}

/* One wave at s->now, then time moves on by a step. Returns how many were admitted. */
static guint sim_step(sim_node *s)
{
	for (guint i = 0; i < s->connecting;) {
		if (s->done_at[i] <= s->now) {
			ah_adaptive_setup_sample(&s->a, s->setup[i]);
			s->connecting--;
			s->done_at[i] = s->done_at[s->connecting];
			s->setup[i] = s->setup[s->connecting];
		} else {
			i++;
		}
	}
	ah_adaptive_cpu_sample(&s->a, (double)s->connecting / (2.0 * s->knee));
	guint n = ah_adaptive_wave(&s->a, s->connecting, s->demand);
	if (n > s->demand)
		n = s->demand;
	g_assert_cmpuint(s->connecting + n, <=, SIM_MAX_CONNECTING);
	g_assert_cmpuint(s->connecting + n, <=, MAX(ah_adaptive_limit(&s->a), s->connecting));
	gint64 setup = sim_setup_us(s, s->connecting + n);
	for (guint i = 0; i < n; i++) {
		s->done_at[s->connecting] = s->now + setup;
		s->setup[s->connecting] = setup;
		s->connecting++;
	}
	s->now += SIM_STEP_US;
	return n;
}

typedef struct {
	guint lmin, lmax, cmax;
	double lmean;
	guint admitted;
} sim_window;

static sim_window sim_run(sim_node *s, gint64 until)
{
	sim_window w = {G_MAXUINT, 0, 0, 0.0, 0};
	guint steps = 0;
	while (s->now < until) {
		w.admitted += sim_step(s);
		guint l = ah_adaptive_limit(&s->a);
		w.lmin = MIN(w.lmin, l);
		w.lmax = MAX(w.lmax, l);
		w.cmax = MAX(w.cmax, s->connecting);
		w.lmean += l;
		steps++;
	}
	if (steps > 0)
		w.lmean /= steps;
	return w;
}

static void test_sim_converges(void)
{
	static const double knees[] = {10, 20, 50, 200};
	for (guint k = 0; k < G_N_ELEMENTS(knees); k++) {
		sim_node *s = g_new0(sim_node, 1);
		double knee = knees[k];
		sim_init(s, &default_config, knee, 100000);
		sim_run(s, 60 * SEC);
		sim_run(s, 60 * SEC);
		sim_window w = sim_run(s, 80 * SEC);
		g_test_message("knee %.0f: limit over 60-80 s in [%u, %u], mean %.1f, peak connecting %u, "
					   "%.1f admitted/s (ideal %.1f/s)",
					   knee, w.lmin, w.lmax, w.lmean, w.cmax, w.admitted / 20.0, knee / ((double)SIM_BASE_US / SEC));
		g_assert_cmpfloat(w.lmin, >=, knee / 2);
		g_assert_cmpfloat(w.lmax, <=, 2 * knee);
		/* bounded variation: the limit swings by less than the knee */
		g_assert_cmpfloat(w.lmax - w.lmin, <=, knee);
		/* and the node is kept busy: at least half the throughput the knee allows */
		g_assert_cmpfloat(w.admitted / 20.0, >=, 0.5 * knee / ((double)SIM_BASE_US / SEC));
		g_free(s);
	}
}

static void test_sim_capacity_drop(void)
{
	sim_node *s = g_new0(sim_node, 1);
	double knee = 40;
	sim_init(s, &default_config, knee, 100000);
	sim_run(s, 60 * SEC);
	guint at_drop = s->connecting;
	guint limit_at_drop = ah_adaptive_limit(&s->a);
	s->knee = knee / 2;
	gint64 below_at = -1;
	guint peak = 0, peak_late = 0;
	while (s->now < 80 * SEC) {
		sim_step(s);
		if (below_at < 0 && ah_adaptive_limit(&s->a) < 1.5 * s->knee)
			below_at = s->now - 60 * SEC;
		peak = MAX(peak, s->connecting);
		if (s->now > 62 * SEC)
			peak_late = MAX(peak_late, s->connecting);
	}
	sim_window w = sim_run(s, 100 * SEC);
	g_test_message("knee %.0f -> %.0f at 60 s: %u connecting, limit %u at the drop; limit < 1.5 x "
				   "new knee after %.1f s; peak connecting after the drop %u (%.2f x new knee), from 62 s on "
				   "%u (%.2f x); limit over 80-100 s in [%u, %u], mean %.1f",
				   knee, s->knee, at_drop, limit_at_drop, below_at / 1e6, peak, peak / s->knee, peak_late,
				   peak_late / s->knee, w.lmin, w.lmax, w.lmean);
	g_assert_cmpint(below_at, >=, 0);
	g_assert_cmpint(below_at, <=, 5 * SEC);
	/* The controller learns of the drop only through the CPU and the setup times, so the waves
	 * right after it may still grow the limit by one step (0.5 sqrt(L) + rounding); the limit it had (<= 1.25 x the old
	 * knee in the convergence runs) bounds the peak: 2.5 x the new knee when capacity halves... */
	g_assert_cmpfloat(peak, <=, limit_at_drop + 0.5 * sqrt(limit_at_drop) + 1);
	g_assert_cmpfloat(peak, <=, 2.5 * s->knee);
	/* ...and once those have drained (2 s), at most 1.5 x the new knee connect at once */
	g_assert_cmpfloat(peak_late, <=, 1.5 * s->knee);
	g_assert_cmpfloat(w.lmin, >=, s->knee / 2);
	g_assert_cmpfloat(w.lmax, <=, 2 * s->knee);
	g_free(s);
}

static void test_sim_slower_node(void)
{
	/* The node becomes 3 x slower for good, at any load: the limit collapses to min_limit, where
	 * the baseline re-learns the new setup time, and then grows back. */
	sim_node *s = g_new0(sim_node, 1);
	double knee = 20;
	sim_init(s, &default_config, knee, 100000);
	sim_run(s, 30 * SEC);
	s->slow = 3.0;
	sim_window w1 = sim_run(s, 40 * SEC);
	sim_run(s, 90 * SEC);
	sim_window w2 = sim_run(s, 120 * SEC);
	g_test_message("node 3 x slower at 30 s: limit over 30-40 s in [%u, %u]; over 90-120 s in "
				   "[%u, %u], mean %.1f, %.1f admitted/s (ideal %.1f/s)",
				   w1.lmin, w1.lmax, w2.lmin, w2.lmax, w2.lmean, w2.admitted / 30.0, knee / (3.0 * SIM_BASE_US / SEC));
	g_assert_cmpfloat(w2.lmin, >=, knee / 2);
	g_assert_cmpfloat(w2.lmax, <=, 2 * knee);
	g_free(s);
}

static void test_no_load_no_growth(void)
{
	ah_adaptive a;
	ah_adaptive_init(&a, &default_config);
	for (int i = 0; i < 1000; i++) {
		ah_adaptive_setup_sample(&a, SIM_BASE_US);
		ah_adaptive_cpu_sample(&a, 0.1);
		g_assert_cmpuint(ah_adaptive_wave(&a, 0, 0), ==, 4);
		/* demand + connecting below L/2 is still "unused" */
		g_assert_cmpuint(ah_adaptive_wave(&a, 1, 0), ==, 3);
	}
	g_assert_cmpuint(ah_adaptive_limit(&a), ==, 4);
}

static void test_grows_to_max(void)
{
	ah_adaptive_config c = default_config;
	c.max_limit = 200;
	ah_adaptive a;
	ah_adaptive_init(&a, &c);
	guint prev = ah_adaptive_limit(&a);
	int waves = 0;
	while (ah_adaptive_limit(&a) < c.max_limit) {
		/* a full turnover: everyone connecting reports at the baseline */
		for (guint i = 0; i < ah_adaptive_limit(&a); i++)
			ah_adaptive_setup_sample(&a, SIM_BASE_US);
		ah_adaptive_wave(&a, ah_adaptive_limit(&a), 1000);
		g_assert_cmpuint(ah_adaptive_limit(&a), >=, prev);
		prev = ah_adaptive_limit(&a);
		waves++;
		g_assert_cmpint(waves, <, 1000);
	}
	g_test_message("limit 4 -> 200 in %d turnovers at baseline setup time", waves);
	for (int i = 0; i < 100; i++) {
		ah_adaptive_setup_sample(&a, SIM_BASE_US);
		ah_adaptive_wave(&a, 0, 1000);
	}
	g_assert_cmpuint(ah_adaptive_limit(&a), ==, c.max_limit);
}

static void test_bounds(void)
{
	ah_adaptive_config c = default_config;
	c.min_limit = 5;
	c.max_limit = 30;
	c.initial_limit = 100;
	ah_adaptive a;
	ah_adaptive_init(&a, &c);
	g_assert_cmpuint(ah_adaptive_limit(&a), ==, 30);
	ah_adaptive_setup_sample(&a, SIM_BASE_US);
	for (int i = 0; i < 200; i++) {
		ah_adaptive_setup_sample(&a, 100 * SEC);
		ah_adaptive_cpu_sample(&a, 5.0);
		ah_adaptive_wave(&a, 30, 1000);
		g_assert_cmpuint(ah_adaptive_limit(&a), >=, 5);
	}
	g_assert_cmpuint(ah_adaptive_limit(&a), ==, 5);
	g_assert_cmpuint(ah_adaptive_wave(&a, 0, 1000), ==, 5);
	g_assert_cmpuint(ah_adaptive_wave(&a, 7, 1000), ==, 0);

	/* min_limit 0 means 1; initial below min is raised */
	c.min_limit = 0;
	c.max_limit = 0;
	c.initial_limit = 0;
	ah_adaptive_init(&a, &c);
	g_assert_cmpuint(ah_adaptive_limit(&a), ==, 1);
	for (int i = 0; i < 100; i++) {
		ah_adaptive_setup_sample(&a, SIM_BASE_US);
		ah_adaptive_wave(&a, 1, 1000);
	}
	g_assert_cmpuint(ah_adaptive_limit(&a), ==, 1);
}

static void test_set_config(void)
{
	ah_adaptive a;
	ah_adaptive_init(&a, &default_config);
	ah_adaptive_setup_sample(&a, SIM_BASE_US);
	ah_adaptive_config c = default_config;
	c.min_limit = 10;
	c.max_limit = 20;
	ah_adaptive_set_config(&a, &c);
	g_assert_cmpuint(ah_adaptive_limit(&a), ==, 10);
	g_assert_cmpfloat(a.baseline_us, ==, (double)SIM_BASE_US);
	g_assert_cmpuint(a.samples, ==, 1);
	c.min_limit = 2;
	c.max_limit = 8;
	ah_adaptive_set_config(&a, &c);
	g_assert_cmpuint(ah_adaptive_limit(&a), ==, 8);
}

static void test_wave_count(void)
{
	ah_adaptive a;
	ah_adaptive_init(&a, &default_config);
	g_assert_cmpuint(ah_adaptive_wave(&a, 0, 100), ==, 4);
	g_assert_cmpuint(ah_adaptive_wave(&a, 3, 100), ==, 1);
	g_assert_cmpuint(ah_adaptive_wave(&a, 4, 100), ==, 0);
	g_assert_cmpuint(ah_adaptive_wave(&a, 9, 100), ==, 0);
	/* nothing pending: no update, the limit does not move */
	g_assert_cmpuint(ah_adaptive_limit(&a), ==, 4);
}

static void test_setup_slow_cuts(void)
{
	ah_adaptive a;
	ah_adaptive_config c = default_config;
	c.initial_limit = 40;
	ah_adaptive_init(&a, &c);
	for (int i = 0; i < 20; i++)
		ah_adaptive_setup_sample(&a, SIM_BASE_US);
	/* within tolerance: no cut */
	ah_adaptive_setup_sample(&a, 400 * MS);
	ah_adaptive_wave(&a, 40, 100);
	g_assert_cmpuint(ah_adaptive_limit(&a), >=, 40);
	/* far above: cut at once, by half at most */
	for (int i = 0; i < 10; i++)
		ah_adaptive_setup_sample(&a, 3 * SEC);
	guint before = ah_adaptive_limit(&a);
	ah_adaptive_wave(&a, before, 100);
	g_assert_cmpuint(ah_adaptive_limit(&a), <, before);
	g_assert_cmpuint(ah_adaptive_limit(&a), >=, before / 2);
}

/* A short baseline (a LAN: 50 ms): setup times up to baseline + 100 ms are jitter, not a signal,
 * even at twice the baseline and more; beyond that the cut comes as usual. */
static void test_setup_short_baseline(void)
{
	ah_adaptive a;
	ah_adaptive_config c = default_config;
	c.initial_limit = 40;
	ah_adaptive_init(&a, &c);
	for (int i = 0; i < 20; i++)
		ah_adaptive_setup_sample(&a, 50 * MS);
	/* recent -> about 0.7 x 50 + 0.3 x 140 = 77 ms, and stays under 150 ms for a few such samples */
	for (int i = 0; i < 3; i++) {
		ah_adaptive_setup_sample(&a, 140 * MS);
		ah_adaptive_wave(&a, 40, 100);
	}
	g_assert_cmpfloat(a.recent_us, >, 1.5 * a.baseline_us);
	g_assert_cmpuint(ah_adaptive_limit(&a), >=, 40);
	/* well past baseline + 100 ms: cut */
	for (int i = 0; i < 10; i++)
		ah_adaptive_setup_sample(&a, 400 * MS);
	guint before = ah_adaptive_limit(&a);
	ah_adaptive_wave(&a, before, 100);
	g_assert_cmpuint(ah_adaptive_limit(&a), <, before);
}

static void test_cpu_cuts(void)
{
	ah_adaptive a;
	ah_adaptive_config c = default_config;
	c.initial_limit = 40;
	ah_adaptive_init(&a, &c);
	/* nobody connecting: the whole factor at once, 40 * 0.8 / 1.0 */
	ah_adaptive_cpu_sample(&a, 1.0);
	ah_adaptive_wave(&a, 0, 100);
	g_assert_cmpuint(ah_adaptive_limit(&a), ==, 32);
	/* 32 connecting, no outcome seen yet: a 32nd of the factor */
	ah_adaptive_cpu_sample(&a, 1.0);
	ah_adaptive_wave(&a, 32, 100);
	g_assert_cmpfloat(a.limit, <, 32.0);
	g_assert_cmpfloat(a.limit, >, 31.0);
	/* once every connecting attendee has reported, the whole factor again */
	double before = a.limit;
	for (int i = 0; i < 32; i++)
		ah_adaptive_setup_sample(&a, SIM_BASE_US);
	ah_adaptive_cpu_sample(&a, 1.0);
	ah_adaptive_wave(&a, 32, 100);
	g_assert_cmpfloat(fabs(a.limit - before * 0.8), <, 1e-9);
	/* CPU ignored when cpu_target <= 0 */
	c.cpu_target = 0;
	ah_adaptive_init(&a, &c);
	ah_adaptive_cpu_sample(&a, 3.0);
	ah_adaptive_wave(&a, 40, 100);
	g_assert_cmpuint(ah_adaptive_limit(&a), >=, 40);
}

/* The outlook for wait estimates: max_limit while healthy (L is on its way there), the current L
 * once setup time or CPU has cut it; the setup time is 0 until measured. */
static void test_outlook(void)
{
	ah_adaptive a;
	ah_adaptive_config c = default_config;
	c.initial_limit = 4;
	ah_adaptive_init(&a, &c);
	g_assert_cmpfloat(ah_adaptive_setup_us(&a), ==, 0.0);
	g_assert_cmpfloat(ah_adaptive_outlook(&a), ==, (double)c.max_limit);
	for (int i = 0; i < 4; i++)
		ah_adaptive_setup_sample(&a, SIM_BASE_US);
	ah_adaptive_wave(&a, 4, 100);
	g_assert_cmpfloat(ah_adaptive_setup_us(&a), >, 0.0);
	g_assert_cmpfloat(ah_adaptive_outlook(&a), ==, (double)c.max_limit);
	/* CPU above target: the limit is cut, and the outlook is where it is now. */
	ah_adaptive_cpu_sample(&a, 1.0);
	ah_adaptive_wave(&a, 0, 100);
	g_assert_cmpfloat(ah_adaptive_outlook(&a), ==, (double)ah_adaptive_limit(&a));
	g_assert_cmpfloat(ah_adaptive_outlook(&a), <, (double)c.max_limit);
}

/* --- Token bucket */

static void test_bucket_burst_refill(void)
{
	ah_bucket b;
	ah_bucket_init(&b, 10.0, 5, 1000);
	g_assert_cmpuint(ah_bucket_available(&b, 1000), ==, 5);
	ah_bucket_take(&b, 5, 1000);
	g_assert_cmpuint(ah_bucket_available(&b, 1000), ==, 0);
	g_assert_cmpuint(ah_bucket_available(&b, 1000 + 99 * MS), ==, 0);
	g_assert_cmpuint(ah_bucket_available(&b, 1000 + 100 * MS), ==, 1);
	g_assert_cmpuint(ah_bucket_available(&b, 1000 + 350 * MS), ==, 3);
	/* capped at burst */
	g_assert_cmpuint(ah_bucket_available(&b, 1000 + 60 * SEC), ==, 5);
	ah_bucket_take(&b, 2, 1000 + 60 * SEC);
	g_assert_cmpuint(ah_bucket_available(&b, 1000 + 60 * SEC), ==, 3);
}

static void test_bucket_unlimited(void)
{
	ah_bucket b;
	ah_bucket_init(&b, 0.0, 1, 0);
	g_assert_cmpuint(ah_bucket_available(&b, 0), ==, G_MAXUINT);
	ah_bucket_take(&b, 1000000, 0);
	g_assert_cmpuint(ah_bucket_available(&b, 0), ==, G_MAXUINT);
	g_assert_cmpint(ah_bucket_next(&b, 123), ==, 123);
	ah_bucket_set(&b, -1.0, 3, 10);
	g_assert_cmpuint(ah_bucket_available(&b, 10), ==, G_MAXUINT);
}

static void test_bucket_next(void)
{
	ah_bucket b;
	ah_bucket_init(&b, 4.0, 2, 0);
	g_assert_cmpint(ah_bucket_next(&b, 0), ==, 0);
	ah_bucket_take(&b, 2, 0);
	g_assert_cmpint(ah_bucket_next(&b, 0), ==, 250 * MS);
	g_assert_cmpint(ah_bucket_next(&b, 100 * MS), ==, 250 * MS);
	g_assert_cmpint(ah_bucket_next(&b, 300 * MS), ==, 300 * MS);
	g_assert_cmpuint(ah_bucket_available(&b, 250 * MS), ==, 1);
	ah_bucket_take(&b, 1, 250 * MS);
	g_assert_cmpint(ah_bucket_next(&b, 250 * MS), ==, 500 * MS);
}

static void test_bucket_set(void)
{
	ah_bucket b;
	ah_bucket_init(&b, 1.0, 10, 0);
	ah_bucket_take(&b, 4, 0);
	/* keeps its 6 tokens under a bigger burst */
	ah_bucket_set(&b, 2.0, 20, 0);
	g_assert_cmpuint(ah_bucket_available(&b, 0), ==, 6);
	/* new rate applies from now on */
	g_assert_cmpuint(ah_bucket_available(&b, 1 * SEC), ==, 8);
	/* a smaller burst caps the tokens */
	ah_bucket_set(&b, 2.0, 3, 1 * SEC);
	g_assert_cmpuint(ah_bucket_available(&b, 1 * SEC), ==, 3);
	g_assert_cmpuint(ah_bucket_available(&b, 100 * SEC), ==, 3);
	/* burst 0 means 1 */
	ah_bucket_set(&b, 2.0, 0, 100 * SEC);
	g_assert_cmpuint(ah_bucket_available(&b, 100 * SEC), ==, 1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/adaptive/sim/converges", test_sim_converges);
	g_test_add_func("/adaptive/sim/capacity-drop", test_sim_capacity_drop);
	g_test_add_func("/adaptive/sim/slower-node", test_sim_slower_node);
	g_test_add_func("/adaptive/limit/no-load-no-growth", test_no_load_no_growth);
	g_test_add_func("/adaptive/limit/grows-to-max", test_grows_to_max);
	g_test_add_func("/adaptive/limit/bounds", test_bounds);
	g_test_add_func("/adaptive/limit/set-config", test_set_config);
	g_test_add_func("/adaptive/limit/setup-slow-cuts", test_setup_slow_cuts);
	g_test_add_func("/adaptive/limit/cpu-cuts", test_cpu_cuts);
	g_test_add_func("/adaptive/limit/short-baseline-slack", test_setup_short_baseline);
	g_test_add_func("/adaptive/wave/count", test_wave_count);
	g_test_add_func("/adaptive/limit/outlook", test_outlook);
	g_test_add_func("/adaptive/bucket/burst-refill", test_bucket_burst_refill);
	g_test_add_func("/adaptive/bucket/unlimited", test_bucket_unlimited);
	g_test_add_func("/adaptive/bucket/next", test_bucket_next);
	g_test_add_func("/adaptive/bucket/set", test_bucket_set);
	return g_test_run();
}
