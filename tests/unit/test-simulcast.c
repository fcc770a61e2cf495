/* allhands: unit tests of simulcast layer selection (include/allhands/simulcast.h,
 * plugin/core/simulcast.c): each test drives one receiver's state by hand, one report a second,
 * and asserts the layer at given times.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>

#include <glib.h>

#include "allhands/simulcast.h"

#define SEC G_GINT64_CONSTANT(1000000)

static const guint64 all_layers[AH_SIM_LAYERS] = { 150000, 500000, 1500000 };
static const guint64 no_medium[AH_SIM_LAYERS] = { 150000, 0, 1500000 };
static const guint64 no_high[AH_SIM_LAYERS] = { 150000, 500000, 0 };
static const guint64 high_only[AH_SIM_LAYERS] = { 0, 0, 1500000 };

/* One report at second `t`. */
static int at(ah_sim_state *s, gint64 t, double loss, guint64 remb, const guint64 *bps)
{
	int layer = ah_sim_feedback(s, t * SEC, loss, remb, bps);
	g_assert_cmpint(layer, >=, AH_SIM_LOW);
	g_assert_cmpint(layer, <=, AH_SIM_HIGH);
	g_assert_cmpint(layer, ==, s->layer);
	return layer;
}

/* Clean reports (no loss, no REMB) every second from `from` to `to` included; all must give `layer`. */
static void clean_until(ah_sim_state *s, gint64 from, gint64 to, int layer)
{
	for (gint64 t = from; t <= to; t++)
		g_assert_cmpint(at(s, t, 0.0, 0, all_layers), ==, layer);
}

/* Starting at high at t = 0, two reports of 12 % loss take it to medium at t = 2. */
static void drop_to_medium(ah_sim_state *s)
{
	ah_sim_init(s, AH_SIM_HIGH, 0);
	g_assert_cmpint(at(s, 1, 0.12, 0, all_layers), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(s, 2, 0.12, 0, all_layers), ==, AH_SIM_MEDIUM);
}

static void test_defaults(void)
{
	ah_sim_state s;
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	g_assert_cmpint(s.layer, ==, AH_SIM_HIGH);
	g_assert_cmpint(s.target, ==, AH_SIM_HIGH);
	g_assert_cmpint(s.hold_us, ==, 5 * SEC);
	clean_until(&s, 1, 30, AH_SIM_HIGH);
	ah_sim_init(&s, -4, 0);
	g_assert_cmpint(s.layer, ==, AH_SIM_LOW);
	ah_sim_init(&s, 7, 0);
	g_assert_cmpint(s.ceiling, ==, AH_SIM_HIGH);
	g_assert_cmpint(ah_sim_layer_parse("low"), ==, 0);
	g_assert_cmpint(ah_sim_layer_parse("medium"), ==, 1);
	g_assert_cmpint(ah_sim_layer_parse("high"), ==, 2);
	g_assert_cmpint(ah_sim_layer_parse("2"), ==, 2);
	g_assert_cmpint(ah_sim_layer_parse("High"), ==, -1);
	g_assert_cmpint(ah_sim_layer_parse("3"), ==, -1);
	g_assert_cmpint(ah_sim_layer_parse(""), ==, -1);
	g_assert_cmpint(ah_sim_layer_parse(NULL), ==, -1);
	g_assert_cmpstr(ah_sim_layer_name(0), ==, "low");
	g_assert_cmpstr(ah_sim_layer_name(1), ==, "medium");
	g_assert_cmpstr(ah_sim_layer_name(2), ==, "high");
	g_assert_cmpstr(ah_sim_layer_name(9), ==, "high");
	g_assert_cmpstr(ah_sim_layer_name(-1), ==, "low");
}

static void test_down_loss(void)
{
	ah_sim_state s;
	/* Sustained: above 10 % smoothed on two reports in a row. */
	drop_to_medium(&s);
	/* The first second after a change is not judged, then again two reports. */
	g_assert_cmpint(at(&s, 2, 0.5, 0, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 3, 0.12, 0, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 4, 0.12, 0, all_layers), ==, AH_SIM_LOW);
	/* Never below low. */
	for (gint64 t = 5; t < 20; t++)
		g_assert_cmpint(at(&s, t, 0.9, 0, all_layers), ==, AH_SIM_LOW);
	/* One bad report between clean ones is not enough (smoothed 6 %, then 3 %). */
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	g_assert_cmpint(at(&s, 1, 0.12, 0, all_layers), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 2, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 3, 0.12, 0, all_layers), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 4, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* 8 %: never enough. */
	for (gint64 t = 5; t < 20; t++)
		g_assert_cmpint(at(&s, t, 0.08, 0, all_layers), ==, AH_SIM_HIGH);
	/* Severe: one report above 20 %. */
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	g_assert_cmpint(at(&s, 1, 0.25, 0, all_layers), ==, AH_SIM_MEDIUM);
}

static void test_down_remb(void)
{
	ah_sim_state s;
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	/* 1.6 Mbit/s carries high (1.5). */
	g_assert_cmpint(at(&s, 1, 0.0, 1600000, all_layers), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 2, 0.0, 1600000, all_layers), ==, AH_SIM_HIGH);
	/* 1.0 twice in a row does not. */
	g_assert_cmpint(at(&s, 3, 0.0, 1000000, all_layers), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 4, 0.0, 1000000, all_layers), ==, AH_SIM_MEDIUM);
	/* Medium (0.5) fits in 0.55; not enough for a raise (1.2 x 1.5 or 1.4 x 0.5). */
	for (gint64 t = 5; t <= 20; t++)
		g_assert_cmpint(at(&s, t, 0.0, 550000, all_layers), ==, AH_SIM_MEDIUM);
	/* 0.7 = 1.4 x medium: the receiver's estimate sits at its cap, raise. */
	g_assert_cmpint(at(&s, 21, 0.0, 700000, all_layers), ==, AH_SIM_HIGH);
	/* Within 10 s of a raise a low REMB does not bring it down (the estimate ramps up)... */
	for (gint64 t = 22; t <= 30; t++)
		g_assert_cmpint(at(&s, t, 0.0, 800000, all_layers), ==, AH_SIM_HIGH);
	/* ...after it, it does at once (it has been low on every report since). */
	g_assert_cmpint(at(&s, 31, 0.0, 800000, all_layers), ==, AH_SIM_MEDIUM);
}

static void test_up_after_hold(void)
{
	ah_sim_state s;
	drop_to_medium(&s);
	/* Change at 2; the run starts at 3 (the first report judged); hold 5 s: raise at 8. */
	clean_until(&s, 3, 7, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 8, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* A report between 2 % and 10 % breaks the run. */
	drop_to_medium(&s);
	clean_until(&s, 3, 6, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 7, 0.05, 0, all_layers), ==, AH_SIM_MEDIUM);
	/* Smoothed: 2.5 % at 7, 1.25 % at 8 (a new run starts), raise at 13. */
	clean_until(&s, 8, 12, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 13, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* A REMB too low for the next layer blocks the raise; the run goes on, so it comes as soon as
	 * the REMB allows. */
	drop_to_medium(&s);
	for (gint64 t = 3; t <= 12; t++)
		g_assert_cmpint(at(&s, t, 0.0, 600000, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 13, 0.0, 1800000, all_layers), ==, AH_SIM_HIGH);
}

static void test_hold_doubling(void)
{
	ah_sim_state s;
	drop_to_medium(&s);
	clean_until(&s, 3, 7, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 8, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* Dropped 1 s after the raise (within the 5 s hold): the hold doubles to 10 s. */
	g_assert_cmpint(at(&s, 9, 0.3, 0, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(s.hold_us, ==, 10 * SEC);
	clean_until(&s, 10, 19, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 20, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* Again: 20 s. */
	g_assert_cmpint(at(&s, 21, 0.3, 0, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(s.hold_us, ==, 20 * SEC);
	clean_until(&s, 22, 41, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 42, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* This raise lasts its 20 s hold: the hold halves to 10 s. */
	clean_until(&s, 43, 61, AH_SIM_HIGH);
	g_assert_cmpint(s.hold_us, ==, 20 * SEC);
	clean_until(&s, 62, 62, AH_SIM_HIGH);
	g_assert_cmpint(s.hold_us, ==, 10 * SEC);
	/* A drop long after a raise does not double it. */
	g_assert_cmpint(at(&s, 63, 0.3, 0, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(s.hold_us, ==, 10 * SEC);
	clean_until(&s, 64, 73, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 74, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* Doubling stops at 60 s. */
	for (int i = 0; i < 6; i++) {
		gint64 t = s.last_us / SEC;
		gint64 hold = s.hold_us / SEC;
		g_assert_cmpint(at(&s, t + 1, 0.3, 0, all_layers), ==, AH_SIM_MEDIUM);
		g_assert_cmpint(s.hold_us, ==, MIN(hold * 2, 60) * SEC);
		clean_until(&s, t + 2, t + 2 + s.hold_us / SEC - 1, AH_SIM_MEDIUM);
		g_assert_cmpint(at(&s, t + 2 + s.hold_us / SEC, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	}
	g_assert_cmpint(s.hold_us, ==, 60 * SEC);
}

static void test_ceiling(void)
{
	ah_sim_state s;
	ah_sim_init(&s, AH_SIM_MEDIUM, 0);
	clean_until(&s, 1, 100, AH_SIM_MEDIUM);
	/* The connection was not holding it back: straight to the new ceiling. */
	g_assert_cmpint(ah_sim_set_ceiling(&s, AH_SIM_HIGH, 101 * SEC), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 102, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	g_assert_cmpint(ah_sim_set_ceiling(&s, AH_SIM_LOW, 103 * SEC), ==, AH_SIM_LOW);
	clean_until(&s, 104, 200, AH_SIM_LOW);
	g_assert_cmpint(ah_sim_set_ceiling(&s, 99, 201 * SEC), ==, AH_SIM_HIGH);
	/* REMB trails the bigger layer: no REMB drop for 10 s after a raised ceiling either. */
	for (gint64 t = 202; t <= 210; t++)
		g_assert_cmpint(at(&s, t, 0.0, 600000, all_layers), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 211, 0.0, 600000, all_layers), ==, AH_SIM_MEDIUM);
	/* Held back by loss: a higher ceiling lets the law raise it, it does not jump. */
	ah_sim_init(&s, AH_SIM_MEDIUM, 0);
	g_assert_cmpint(at(&s, 1, 0.3, 0, all_layers), ==, AH_SIM_LOW);
	g_assert_cmpint(ah_sim_set_ceiling(&s, AH_SIM_HIGH, 2 * SEC), ==, AH_SIM_LOW);
	clean_until(&s, 2, 6, AH_SIM_LOW);
	g_assert_cmpint(at(&s, 7, 0.0, 0, all_layers), ==, AH_SIM_MEDIUM);
	clean_until(&s, 8, 12, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 13, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
}

static void test_missing_layers(void)
{
	ah_sim_state s;
	/* Medium not received: a drop from high goes to low, a raise from low to high. */
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	g_assert_cmpint(at(&s, 1, 0.0, 0, no_medium), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 2, 0.3, 0, no_medium), ==, AH_SIM_LOW);
	for (gint64 t = 3; t <= 7; t++)
		g_assert_cmpint(at(&s, t, 0.0, 0, no_medium), ==, AH_SIM_LOW);
	g_assert_cmpint(at(&s, 8, 0.0, 0, no_medium), ==, AH_SIM_HIGH);
	/* High not received: medium is sent, and high as soon as it is back (no hold: the receiver
	 * was never held back). */
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	g_assert_cmpint(at(&s, 1, 0.0, 0, no_high), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 2, 0.0, 0, no_high), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 3, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* Nothing received at or below a low ceiling: the lowest received above it. */
	ah_sim_init(&s, AH_SIM_LOW, 0);
	g_assert_cmpint(at(&s, 1, 0.0, 0, high_only), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 2, 0.5, 0, high_only), ==, AH_SIM_HIGH);
	g_assert_cmpint(s.target, ==, AH_SIM_LOW);
	g_assert_cmpint(at(&s, 3, 0.0, 0, all_layers), ==, AH_SIM_LOW);
	/* Nothing received at all, or no bitrates: every layer counts, one step at a time. */
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	g_assert_cmpint(at(&s, 1, 0.3, 0, NULL), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 2, 0.3, 5000, (const guint64[]){ 0, 0, 0 }), ==, AH_SIM_LOW);
}

/* A layer the presenter still sends reads 0 for a second under CPU load (the bitrate is measured
 * over one-second windows): a receiver capped at low stays on low. Only after AH_SIM_GONE_US of
 * zeros is the layer gone, and then the nearest one above is sent (a picture beats none). The
 * simulcast integration test saw a "low" receiver taken up to medium by such a dip. */
static void test_layer_dip(void)
{
	ah_sim_state s;
	static const guint64 no_low[AH_SIM_LAYERS] = { 0, 500000, 1500000 };
	ah_sim_init(&s, AH_SIM_LOW, 0);
	g_assert_cmpint(at(&s, 1, 0.0, 0, all_layers), ==, AH_SIM_LOW);
	g_assert_cmpint(at(&s, 2, 0.0, 0, no_low), ==, AH_SIM_LOW);
	g_assert_cmpint(at(&s, 3, 0.0, 0, no_low), ==, AH_SIM_LOW);
	g_assert_cmpint(at(&s, 4, 0.0, 0, all_layers), ==, AH_SIM_LOW);
	/* Gone for good: 3 s after its last bitrate, medium is sent; low again once it is back. */
	g_assert_cmpint(at(&s, 5, 0.0, 0, no_low), ==, AH_SIM_LOW);
	g_assert_cmpint(at(&s, 6, 0.0, 0, no_low), ==, AH_SIM_LOW);
	g_assert_cmpint(at(&s, 7, 0.0, 0, no_low), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 8, 0.0, 0, all_layers), ==, AH_SIM_LOW);
}

static void test_unknown_feedback(void)
{
	ah_sim_state s;
	/* Nothing known: no change, ever. */
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	for (gint64 t = 1; t < 600; t += 7)
		g_assert_cmpint(at(&s, t, -1.0, 0, NULL), ==, AH_SIM_HIGH);
	/* Unknown loss neither raises nor breaks a clean run: run 3..8 with unknowns at 4..7. */
	drop_to_medium(&s);
	g_assert_cmpint(at(&s, 3, 0.0, 0, all_layers), ==, AH_SIM_MEDIUM);
	for (gint64 t = 4; t <= 7; t++)
		g_assert_cmpint(at(&s, t, -1.0, 0, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 8, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* ...and alone never raises. */
	drop_to_medium(&s);
	for (gint64 t = 3; t <= 9; t++)
		g_assert_cmpint(at(&s, t, -1.0, 0, all_layers), ==, AH_SIM_MEDIUM);
}

static void test_time(void)
{
	ah_sim_state s;
	/* The clock goes back at 8 (to 4): the run restarts, so no raise at 9 (where the old run of
	 * 3..9 would have given one) but 5 s after the first report judged (5). */
	drop_to_medium(&s);
	clean_until(&s, 3, 7, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 4, 0.0, 0, all_layers), ==, AH_SIM_MEDIUM);
	clean_until(&s, 5, 9, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 10, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* A silence of 1000 s forgets the run: a clean report then starts a new one. */
	drop_to_medium(&s);
	clean_until(&s, 3, 4, AH_SIM_MEDIUM);
	clean_until(&s, 1004, 1008, AH_SIM_MEDIUM);
	g_assert_cmpint(at(&s, 1009, 0.0, 0, all_layers), ==, AH_SIM_HIGH);
	/* ...and the loss before it: one 12 % report after it is not the second in a row. */
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	g_assert_cmpint(at(&s, 1, 0.12, 0, all_layers), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 100, 0.12, 0, all_layers), ==, AH_SIM_HIGH);
	g_assert_cmpint(at(&s, 101, 0.12, 0, all_layers), ==, AH_SIM_MEDIUM);
	/* Extreme times: no overflow, layers stay in range. */
	ah_sim_init(&s, AH_SIM_HIGH, G_MININT64);
	g_assert_cmpint(ah_sim_feedback(&s, G_MAXINT64, 0.3, 0, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(ah_sim_feedback(&s, G_MININT64, 0.3, 0, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(ah_sim_feedback(&s, G_MAXINT64, 0.0, 0, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(ah_sim_feedback(&s, 0, 0.0, 0, all_layers), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(ah_sim_set_ceiling(&s, AH_SIM_LOW, G_MAXINT64), ==, AH_SIM_LOW);
	g_assert_cmpint(ah_sim_feedback(&s, G_MININT64, 0.0, G_MAXUINT64, all_layers), ==, AH_SIM_LOW);
}

static void test_garbage(void)
{
	const double garbage[] = { NAN, INFINITY, -INFINITY, 1.5, 255.0, -0.3 };
	ah_sim_state s;
	/* Garbage loss is not known: no drop, whatever it is and however long. */
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	for (gint64 t = 1; t <= 60; t++)
		g_assert_cmpint(at(&s, t, garbage[t % G_N_ELEMENTS(garbage)], 0, all_layers), ==, AH_SIM_HIGH);
	/* Nor a raise. */
	drop_to_medium(&s);
	for (gint64 t = 3; t <= 60; t++)
		g_assert_cmpint(at(&s, t, garbage[t % G_N_ELEMENTS(garbage)], 0, all_layers), ==, AH_SIM_MEDIUM);
	/* Exactly 0 and 1 are valid: 1 is severe. */
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	g_assert_cmpint(at(&s, 1, 1.0, 0, all_layers), ==, AH_SIM_MEDIUM);
	/* Huge bitrates and REMB. */
	ah_sim_init(&s, AH_SIM_HIGH, 0);
	for (gint64 t = 1; t <= 10; t++)
		g_assert_cmpint(at(&s, t, 0.0, G_MAXUINT64, (const guint64[]){ G_MAXUINT64, G_MAXUINT64, G_MAXUINT64 }), ==,
			AH_SIM_HIGH);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/simulcast/defaults", test_defaults);
	g_test_add_func("/simulcast/down/loss", test_down_loss);
	g_test_add_func("/simulcast/down/remb", test_down_remb);
	g_test_add_func("/simulcast/up/after-hold", test_up_after_hold);
	g_test_add_func("/simulcast/up/hold-doubles-on-oscillation", test_hold_doubling);
	g_test_add_func("/simulcast/ceiling", test_ceiling);
	g_test_add_func("/simulcast/missing-layers", test_missing_layers);
	g_test_add_func("/simulcast/layer-dip", test_layer_dip);
	g_test_add_func("/simulcast/unknown-feedback", test_unknown_feedback);
	g_test_add_func("/simulcast/time/backwards-and-jumps", test_time);
	g_test_add_func("/simulcast/garbage", test_garbage);
	return g_test_run();
}
