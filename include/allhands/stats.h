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
/* The normal distribution's 90th percentile: [low, high] spans the 10th to the 90th. */
#define AH_WAIT_Z 1.28

/* Why an estimate is unknown (known = FALSE). */
typedef enum {
	AH_WAIT_UNSAID = 0,       /* no reason given (or known) */
	AH_WAIT_NOT_ADMITTING,    /* the queue does not move: room closed or paused, node paused or draining */
	AH_WAIT_NO_DEPARTURES,    /* seats must be freed first and nobody has left yet: nothing to measure */
} ah_wait_reason;

typedef struct {
	gboolean known;
	gint64 median_us;
	gint64 low_us;
	gint64 high_us;
	/* Known, but admission before the room's window ends is unlikely (the median would be past it):
	 * median_us, low_us and high_us are then capped at the time left until the end. */
	gboolean beyond_window;
	ah_wait_reason reason;    /* when unknown */
} ah_wait_estimate;

ah_wait_estimate ah_wait_estimate_for(guint position, const ah_rate *r, gint64 now);
/* The same from a rate and its spread given directly (events/s); unknown when rate is ~0. */
ah_wait_estimate ah_wait_estimate_at(guint position, double rate, double spread);
/* Whether `next` differs meaningfully from what the attendee was last told (`told`): known-ness,
 * beyond_window or the reason changed, or (both within the window) the median moved by more than
 * 10% and more than 2 s. */
gboolean ah_wait_estimate_changed(const ah_wait_estimate *told, const ah_wait_estimate *next);
/* Cap an estimate at the end of the window, `left_us` from now (< 0: none): see beyond_window. */
void ah_wait_estimate_cap(ah_wait_estimate *e, gint64 left_us);

/* --- Seat turnover: how often the seats of one level (node, tenant or room) are given up. Seats
 * are released one at a time, each at a rate (hazard) per seat held, so the level's release rate
 * is hazard x seats held; the meter integrates the seats held over time (seat-seconds) and keeps
 * that integral at each of the latest AH_TURNOVER_KEEP releases. The hazard is then estimated as
 * releases / seat-seconds since the oldest kept release (or since the first seat while fewer were
 * kept). The time since the last release counts as exposure, so a long silence lowers the rate
 * gradually (in proportion to the time), never exponentially. */
#define AH_TURNOVER_KEEP 16
/* Releases needed before a turnover estimate is known. */
#define AH_TURNOVER_MIN_RELEASES 2

typedef struct {
	double seat_s;        /* seat-seconds held so far */
	gint64 seat_at;       /* when seat_s was last brought up to `now` (0: no seat yet) */
	guint seats;          /* seats held since seat_at */
	guint32 kept;         /* releases kept (<= AH_TURNOVER_KEEP) */
	guint32 next;         /* ring index of the next release */
	guint64 releases;     /* releases ever */
	double at[AH_TURNOVER_KEEP]; /* seat_s at each kept release */
} ah_turnover;

void ah_turnover_init(ah_turnover *t);
/* From `now` on, `seats` seats are held at this level. */
void ah_turnover_seats(ah_turnover *t, guint seats, gint64 now);
/* A seat was released at `now` (call before ah_turnover_seats() with the lower count). */
void ah_turnover_release(ah_turnover *t, gint64 now);
/* The evidence at `now`: *releases over *seat_s seat-seconds, and the seats held now. */
void ah_turnover_read(const ah_turnover *t, gint64 now, double *releases, double *seat_s, guint *seats);
/* The wait for the `needed`-th next release (>= 1) of a level whose seats were released `releases`
 * times over `seat_s` seat-seconds and which holds `seats` seats now. Releases are taken as a
 * Poisson process of rate hazard x seats with the hazard uncertain (Gamma(releases, seat_s)), so
 * the wait is seat_s / seats x G(needed) / G(releases) with G(a) a Gamma(a, 1) variable: its
 * logarithm is approximated by a normal of mean ln(seat_s / seats) + digamma(needed) -
 * digamma(releases) and variance trigamma(needed) + trigamma(releases), and the median and 80%
 * range [low, high] are that normal's 50th, 10th and 90th percentiles. Unknown when releases <
 * 0.5 or nothing was measured. */
ah_wait_estimate ah_wait_estimate_turnover(double needed, double releases, double seat_s, guint seats);
/* The same prepared once for many `needed` (a report sweep): the parts that depend on the evidence
 * only. known = FALSE when releases < 0 or nothing was measured. */
typedef struct {
	gboolean known;
	double ln_scale;      /* ln(seat_s / seats) - digamma(releases + 1/2) */
	double var, third;    /* trigamma and tetragamma of releases + 1/2 */
} ah_turnover_model;
void ah_turnover_model_init(ah_turnover_model *m, double releases, double seat_s, guint seats);
/* The wait for the `needed`-th next release at the normal quantile z (0: median, -1.28 / 1.28:
 * the 10th / 90th percentiles), microseconds, capped at AH_WAIT_MAX_US. The model must be known. */
gint64 ah_turnover_quantile(const ah_turnover_model *m, double needed, double z);
/* The 10th, 50th and 90th percentiles at once (one evaluation of the polygamma functions). */
void ah_turnover_range(const ah_turnover_model *m, double needed, gint64 *low, gint64 *median, gint64 *high);

#endif
