/* allhands: the cost of reactions aggregated per room (include/allhands/reactions.h, issue 15):
 * 10,000 attendees (and 1,000 and 100,000 for the shape) reacting in a burst. Each attendee taps
 * TAPS reactions within BURST_S seconds (more than the rate limit of 5 per second lets through
 * for some), in a random order of attendees and times; a timer every TICK_MS asks
 * ah_reactions_due / ah_reactions_take, as the glue would, and formats each emission as the room's
 * message. Printed: ns per reaction (ah_reactions_add, whole passes timed with CLOCK_MONOTONIC,
 * the best of PASSES), reactions counted and dropped, emissions per second of the burst, bytes per
 * emission, the table's memory, and the messages an attendee receives compared with one message
 * per reaction. Built and run by `make bench-reactions`. Figures are printed, never asserted; the
 * program exits non-zero only when a functional check fails (totals not matching what was
 * counted, emissions closer than the interval).
 *
 * Usage: bench-reactions
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <glib.h>

#include "allhands/reactions.h"

#define TAPS 8
#define BURST_S 2
#define TICK_MS 10
#define PASSES 5

typedef struct {
	guint64 id;
	int kind;
	gint64 at_us;
} tap;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int by_time(const void *a, const void *b)
{
	gint64 x = ((const tap *)a)->at_us, y = ((const tap *)b)->at_us;
	return x < y ? -1 : x > y;
}

typedef struct {
	double ns_per_add;
	guint64 counted, dropped, emissions;
	double bytes_mean;
	gsize bytes_max;
	gsize memory;
	gint64 min_gap_us;
	int failed;
} result;

/* One pass: every tap in time order, the timer ticking between them; then the last emission. */
static void run(const tap *taps, gsize n, guint attendees, result *res, double *add_ns)
{
	ah_reactions_config cfg;
	ah_reactions_config_init(&cfg, attendees);
	ah_reactions *r = ah_reactions_new(&cfg, NULL);
	GString *msg = g_string_sized_new(256);
	ah_reactions_totals t;
	guint64 sum_bytes = 0, sum_counts = 0;
	gint64 last_emit = -1, tick = 0;
	double spent = 0;
	res->bytes_max = 0;
	res->emissions = 0;
	res->min_gap_us = G_MAXINT64;
	res->failed = 0;
	gsize i = 0;
	const gint64 end = (gint64)(BURST_S + 1) * 1000000;
	for (tick = 0; tick <= end; tick += TICK_MS * 1000) {
		gsize j = i;
		while (j < n && taps[j].at_us < tick)
			j++;
		double t0 = now_ns();
		for (gsize k = i; k < j; k++)
			ah_reactions_add(r, taps[k].id, taps[k].kind, taps[k].at_us);
		spent += now_ns() - t0;
		i = j;
		if (ah_reactions_due(r, tick) && ah_reactions_take(r, tick, &t)) {
			g_string_truncate(msg, 0);
			gsize b = ah_reactions_format(&t, msg);
			sum_bytes += b;
			res->bytes_max = MAX(res->bytes_max, b);
			res->emissions++;
			for (int k = 0; k < AH_REACTION_KINDS; k++)
				sum_counts += t.counts[k];
			if (last_emit >= 0)
				res->min_gap_us = MIN(res->min_gap_us, tick - last_emit);
			last_emit = tick;
		}
	}
	ah_reactions_stats st;
	ah_reactions_get_stats(r, &st);
	res->counted = st.counted;
	res->dropped = st.dropped_rate + st.dropped_full;
	res->memory = st.memory;
	res->bytes_mean = res->emissions ? (double)sum_bytes / res->emissions : 0;
	if (i != n || sum_counts != st.counted || st.counted + res->dropped != n ||
			(res->emissions > 1 && res->min_gap_us < cfg.interval_us))
		res->failed = 1;
	*add_ns = spent / n;
	g_string_free(msg, TRUE);
	ah_reactions_free(r);
}

static int bench(guint attendees, GRand *rand)
{
	gsize n = (gsize)attendees * TAPS;
	tap *taps = g_new(tap, n);
	for (guint a = 0; a < attendees; a++) {
		/* Each attendee starts somewhere in the first half of the burst and taps quickly. */
		gint64 start = g_rand_int_range(rand, 0, BURST_S * 1000000 / 2);
		for (guint k = 0; k < TAPS; k++) {
			tap *t = &taps[(gsize)a * TAPS + k];
			t->id = 1 + (guint64)a * 2654435761u;
			t->kind = g_rand_int_range(rand, 0, AH_REACTION_KINDS);
			t->at_us = start + (gint64)k * g_rand_int_range(rand, 50000, 250000);
		}
	}
	qsort(taps, n, sizeof(tap), by_time);
	result res = { 0 };
	double best = 1e18;
	for (int p = 0; p < PASSES; p++) {
		double ns;
		run(taps, n, attendees, &res, &ns);
		best = MIN(best, ns);
		if (res.failed)
			break;
	}
	gint64 span = taps[n - 1].at_us - taps[0].at_us;
	double secs = (span + AH_REACTIONS_DEFAULT_INTERVAL_US) / 1e6;
	printf("%7u attendees, %8zu taps in %.2f s: %5.1f ns/reaction (best of %d), %" G_GUINT64_FORMAT
		" counted, %" G_GUINT64_FORMAT " dropped by the rate limit\n",
		attendees, n, span / 1e6, best, PASSES, res.counted, res.dropped);
	printf("        %" G_GUINT64_FORMAT " emissions (%.1f per second, closest %.0f ms apart), %.0f bytes per"
		" emission (max %zu), table %zu KiB\n", res.emissions, res.emissions / secs,
		res.min_gap_us / 1e3, res.bytes_mean, res.bytes_max, res.memory / 1024);
	printf("        each attendee receives %" G_GUINT64_FORMAT " messages (%.0f bytes); one message per"
		" reaction would be %" G_GUINT64_FORMAT " each, %.3g in the room\n",
		res.emissions, res.emissions * res.bytes_mean, res.counted,
		(double)res.counted * attendees);
	if (res.failed)
		fprintf(stderr, "FAILED: totals or the interval do not match at %u attendees\n", attendees);
	g_free(taps);
	return res.failed;
}

int main(void)
{
	GRand *rand = g_rand_new_with_seed(15);
	printf("reactions: %d taps per attendee within %d s, rate limit %d per %.0f s, interval %.0f ms,"
		" timer every %d ms\n", TAPS, BURST_S, AH_REACTIONS_DEFAULT_PER_WINDOW,
		AH_REACTIONS_DEFAULT_WINDOW_US / 1e6, AH_REACTIONS_DEFAULT_INTERVAL_US / 1e3, TICK_MS);
	int failed = 0;
	failed |= bench(1000, rand);
	failed |= bench(10000, rand);
	failed |= bench(100000, rand);
	g_rand_free(rand);
	return failed;
}
