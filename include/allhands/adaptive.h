/* allhands: adaptive wave sizing and the join-rate budget.
 *
 * Pure logic: no Janus, no clock reads (time is `now`, monotonic microseconds), no logging, no
 * locks, no allocation. Used by admission (admission.c) on the control thread.
 *
 * The adaptive controller keeps a concurrency limit L on attendees that are admitted but still
 * CONNECTING (admission -> media flowing). A wave may admit up to L - connecting. L moves by a
 * gradient law in the style of Netflix's concurrency-limits "Gradient2" and Envoy's adaptive
 * concurrency filter: a long-term baseline of connection setup time (following lower recent
 * values quickly, higher ones only while L sits at min_limit) times tolerance is compared with
 * the recent setup time, and cpu_target with the process CPU; the smaller of the two ratios
 * (clamped to [0.5, 1]) multiplies L when it is below 1, and a headroom of 0.5 sqrt(L) is added
 * while both stay within their targets, each scaled to the share of the connecting attendees seen
 * since the last update (so once per turnover of the connecting set). L shrinks at once (no
 * smoothing) when the recent setup time exceeds tolerance * baseline or the CPU exceeds
 * cpu_target. The law and its constants are documented in adaptive.c and docs/admission.md.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_ADAPTIVE_H
#define ALLHANDS_ADAPTIVE_H

#include <glib.h>

typedef struct {
	guint min_limit;     /* >= 1: L never goes below */
	guint max_limit;     /* >= min_limit: L never goes above */
	guint initial_limit; /* clamped into [min, max] */
	double cpu_target;   /* (0, 1]: fraction of the CPU the process may use; <= 0: CPU ignored */
	double tolerance;    /* >= 1: recent/baseline setup-time ratio still counted as "near" (e.g. 1.5) */
} ah_adaptive_config;

typedef struct {
	ah_adaptive_config config;
	double limit;          /* L */
	double baseline_us;    /* long-term setup time; 0 until the first sample */
	double recent_us;      /* short-term setup time; 0 until the first sample */
	guint64 samples;       /* setup-time samples seen */
	double cpu;            /* last CPU sample, fraction in [0, 1+]; < 0 until the first sample */
	guint pending_samples; /* setup samples since the last update, plus a flag bit for a CPU sample
				* (adaptive.c); an update needs at least one of either */
} ah_adaptive;

void ah_adaptive_init(ah_adaptive *a, const ah_adaptive_config *config);
/* Change bounds and targets, keeping the measurements; L is clamped into the new bounds. */
void ah_adaptive_set_config(ah_adaptive *a, const ah_adaptive_config *config);
/* One attendee's measured setup time (admitted -> media up), microseconds. */
void ah_adaptive_setup_sample(ah_adaptive *a, gint64 setup_us);
/* The process's CPU use over the last sampling period, as a fraction of the CPU it may use. */
void ah_adaptive_cpu_sample(ah_adaptive *a, double cpu);
/* Called once per wave, before admitting: updates L from the samples since the last call and
 * returns how many attendees this wave may admit: max(0, floor(L) - connecting). `demand` is how
 * many queued attendees could be admitted; L does not grow while demand and connecting together
 * stay below L/2 (an idle limit is not evidence that a bigger one is safe). */
guint ah_adaptive_wave(ah_adaptive *a, guint connecting, guint demand);
/* The current limit, rounded down (>= min_limit). */
guint ah_adaptive_limit(const ah_adaptive *a);
/* The limit to expect over the next seconds, for wait estimates: max_limit while setup time and
 * CPU are within their targets (L is growing towards it), else the current limit. */
double ah_adaptive_outlook(const ah_adaptive *a);
/* The recent setup time, microseconds; 0 before the first sample. */
double ah_adaptive_setup_us(const ah_adaptive *a);
/* The setup time the law holds the node under while L is above min_limit (it cuts L beyond it):
 * max(tolerance * baseline, baseline + slack), microseconds; 0 before the first sample. */
double ah_adaptive_setup_target_us(const ah_adaptive *a);

/* --- Join-rate budget: a token bucket of `burst` tokens refilled at `rate` per second.
 * rate <= 0 means unlimited (available() returns G_MAXUINT, next() returns now). */
typedef struct {
	double rate;   /* tokens per second */
	double burst;  /* bucket size, >= 1 */
	double tokens;
	gint64 last;   /* when tokens was last brought up to date */
} ah_bucket;

/* Starts full. */
void ah_bucket_init(ah_bucket *b, double rate, guint burst, gint64 now);
/* Change rate and burst keeping the tokens (capped at the new burst). */
void ah_bucket_set(ah_bucket *b, double rate, guint burst, gint64 now);
guint ah_bucket_available(ah_bucket *b, gint64 now);
/* Take n tokens (n <= available). */
void ah_bucket_take(ah_bucket *b, guint n, gint64 now);
/* The earliest time >= now when at least one token is available. */
gint64 ah_bucket_next(const ah_bucket *b, gint64 now);

#endif
