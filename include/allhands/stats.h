/* allhands: measurement primitives for admission (histograms, rate meters, wait estimates).
 *
 * Pure logic: no Janus, no clock reads (time is `now`, monotonic microseconds), no allocation
 * except where a function says so, no logging, no locks. Fixed-size structs, so they can be
 * embedded in admission's records.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_STATS_H
#define ALLHANDS_STATS_H

#include <glib.h>

/* --- Histogram: non-negative integer samples (e.g. microseconds), log-linear buckets.
 * Bucket layout: values 0..3 exact; above, 4 sub-buckets per power of two, so a quantile is
 * reported at most 25% above the true value (the bucket's upper bound is reported, never below
 * the true value). Values >= 2^36 are clamped into the last bucket. */
#define AH_HIST_OCTAVES 36
#define AH_HIST_SUB 4
#define AH_HIST_BUCKETS (AH_HIST_OCTAVES * AH_HIST_SUB)

typedef struct {
	guint64 count;
	guint64 max;
	guint32 buckets[AH_HIST_BUCKETS];
} ah_hist;

void ah_hist_init(ah_hist *h);
void ah_hist_add(ah_hist *h, guint64 value);
/* q in [0,1]; 0 when empty. Returns a value v such that at least q*count samples are <= v's
 * bucket (the upper bound of that bucket, capped at the max sample seen). */
guint64 ah_hist_quantile(const ah_hist *h, double q);

/* --- Rate meter: events per second, exponentially weighted over 1-second windows.
 * ah_rate_add() counts events at `now`; ah_rate_per_s() is the smoothed rate seen at `now` (a
 * meter that stops receiving events decays towards 0 as `now` advances). The meter also tracks
 * the spread of the per-window rates (for ranges). It is "known" once it has seen at least
 * AH_RATE_MIN_EVENTS events over at least AH_RATE_MIN_WINDOWS complete windows, while its rate
 * has not decayed to ~0 (below one event per 1000 s). */
#define AH_RATE_WINDOW_US G_GINT64_CONSTANT(1000000)
#define AH_RATE_MIN_EVENTS 3
#define AH_RATE_MIN_WINDOWS 2

typedef struct {
	gint64 window_start;  /* start of the current (open) window; 0 before the first event */
	guint32 in_window;    /* events in the open window */
	guint32 windows;      /* complete windows folded in (saturating) */
	guint64 events;       /* events ever counted */
	double mean;          /* smoothed events/s over complete windows */
	double var;           /* smoothed variance of the per-window rate */
} ah_rate;

void ah_rate_init(ah_rate *r);
void ah_rate_add(ah_rate *r, guint n, gint64 now);
double ah_rate_per_s(const ah_rate *r, gint64 now);
/* Standard deviation of the per-window rate, events/s (0 when unknown). */
double ah_rate_spread(const ah_rate *r, gint64 now);
gboolean ah_rate_known(const ah_rate *r, gint64 now);

/* --- Expected wait of a queued attendee at 1-based `position` whose queue is admitted at the rate
 * measured by `r`. Unknown (known = FALSE, other fields 0) while the meter is not known or its rate
 * is ~0. Otherwise median = position / rate, and [low, high] a range that widens with the spread
 * of the measured rate and with the randomness of position arrivals (documented in the .c). All
 * in microseconds, low <= median <= high, each capped at AH_WAIT_MAX_US. */
#define AH_WAIT_MAX_US (G_GINT64_CONSTANT(24) * 3600 * 1000000)

typedef struct {
	gboolean known;
	gint64 median_us;
	gint64 low_us;
	gint64 high_us;
} ah_wait_estimate;

ah_wait_estimate ah_wait_estimate_for(guint position, const ah_rate *r, gint64 now);
/* The same from a rate and its spread given directly (events/s); unknown when rate is ~0. */
ah_wait_estimate ah_wait_estimate_at(guint position, double rate, double spread);
/* Whether `next` differs meaningfully from what the attendee was last told (`told`): known-ness
 * changed, or the median moved by more than 10% and more than 2 s. */
gboolean ah_wait_estimate_changed(const ah_wait_estimate *told, const ah_wait_estimate *next);

#endif
