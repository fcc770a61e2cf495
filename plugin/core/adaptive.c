/* allhands: adaptive wave sizing and the join-rate budget (include/allhands/adaptive.h).
 *
 * Owns the concurrency limit L on attendees that are admitted but still connecting, the setup-time
 * and CPU measurements it is steered by, and the token bucket that caps the join rate. It must not
 * know about queues, rooms or tenants: admission asks it how many to admit and feeds it samples.
 * Pure: no Janus header, no clock reads (time is the `now` argument), no logging, no locks, no
 * allocation, no global state. Called by admission on the control thread.
 *
 * DESIGN
 * Measurements. Each setup sample x (microseconds) updates recent = 0.7 recent + 0.3 x (the first
 * sample sets recent and baseline to x), then the baseline: it follows a lower recent quickly
 * (baseline = 0.5 baseline + 0.5 recent) and a higher one only while L is at min_limit (baseline =
 * 0.95 baseline + 0.05 recent per sample). At min_limit the node is as lightly loaded as admission
 * can make it, so a setup time that stays high there is the node's new normal (a permanently slower
 * node is re-learnt within a few dozen samples); anywhere else an upward drift is a ratchet: the
 * controller holds recent near tolerance * baseline, so any drift towards recent raises the
 * equilibrium again and again (the simulation ran into the CPU target that way with a drift of
 * 0.005 per sample). A CPU sample replaces the last one and marks the update as due.
 * Law. ah_adaptive_wave() updates L only when a setup or CPU sample came in since the last call:
 *   g_setup = clamp(max(tolerance * baseline, baseline + SETUP_SLACK) / recent, 0.5, 1)
 *             (1 before the first setup sample; SETUP_SLACK 100 ms)
 *   g_cpu   = clamp(cpu_target / cpu, 0.5, 1)                  (1 if cpu_target <= 0, no sample or 0)
 *   g       = min(g_setup, g_cpu)
 *   e       = min(1, max(n, 1) / max(connecting, 1))   with n the setup samples since the last call
 *   g < 1 (setup time above tolerance * baseline, or CPU above cpu_target):   L = L * g^e
 *   g = 1 and connecting + demand >= L / 2 (the limit is in use):             L = L + 0.5 sqrt(L) e
 * then L is clamped into [min_limit, max_limit], and the wave may admit max(0, floor(L) - connecting).
 * e is the share of the connecting attendees whose outcome the update has seen: L is multiplied by g
 * (or grows by 0.5 sqrt(L)) once per turnover of the connecting set, however often waves run. The
 * signals lag by about one setup time (a sample arrives when its attendee is done; CPU falls only as
 * attendees finish), so applying the full factor at every wave cut L again and again for the same
 * overload (the simulation collapsed to min_limit every few seconds); the decrease still acts at
 * once, with no smoothing, from the first wave that sees the overload. A CPU-only update with
 * nobody connecting applies the full factor (nothing is in flight to wait for).
 * Token bucket: the usual one, `rate` tokens per second up to `burst`, starting full.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>

#include "allhands/adaptive.h"

#define RECENT_ALPHA 0.3
#define BASELINE_DOWN 0.5
#define BASELINE_UP 0.05
#define GRADIENT_MIN 0.5
#define GROWTH 0.5
#define PENDING_CPU 0x80000000u
/* A setup time within this much of the baseline is not a signal, whatever the tolerance says: on a
 * LAN the baseline is 40-70 ms and its jitter alone crossed 1.5 x, holding the limit near min_limit
 * while the node had room (join-storm benchmark, docs/benchmarks.md). 100 ms is below what a user
 * notices; from a baseline of 200 ms up, tolerance * baseline is the larger target anyway. */
#define SETUP_SLACK_US 100000.0

static ah_adaptive_config sanitize(const ah_adaptive_config *in)
{
	ah_adaptive_config c = *in;
	if (c.min_limit < 1)
		c.min_limit = 1;
	if (c.max_limit < c.min_limit)
		c.max_limit = c.min_limit;
	if (c.initial_limit < c.min_limit)
		c.initial_limit = c.min_limit;
	if (c.initial_limit > c.max_limit)
		c.initial_limit = c.max_limit;
	if (!(c.tolerance >= 1.0))
		c.tolerance = 1.0;
	return c;
}

static double clamp_limit(const ah_adaptive *a, double l)
{
	if (!(l >= (double)a->config.min_limit))
		return (double)a->config.min_limit;
	if (l > (double)a->config.max_limit)
		return (double)a->config.max_limit;
	return l;
}

static double clamp_gradient(double g)
{
	if (!(g >= GRADIENT_MIN))
		return GRADIENT_MIN;
	return g > 1.0 ? 1.0 : g;
}

void ah_adaptive_init(ah_adaptive *a, const ah_adaptive_config *config)
{
	a->config = sanitize(config);
	a->limit = (double)a->config.initial_limit;
	a->baseline_us = 0.0;
	a->recent_us = 0.0;
	a->samples = 0;
	a->cpu = -1.0;
	a->pending_samples = 0;
}

void ah_adaptive_set_config(ah_adaptive *a, const ah_adaptive_config *config)
{
	a->config = sanitize(config);
	a->limit = clamp_limit(a, a->limit);
}

static void note_pending(ah_adaptive *a)
{
	if ((a->pending_samples & ~PENDING_CPU) < ~PENDING_CPU)
		a->pending_samples++;
}

void ah_adaptive_setup_sample(ah_adaptive *a, gint64 setup_us)
{
	double x = setup_us > 0 ? (double)setup_us : 0.0;
	if (a->samples == 0) {
		a->recent_us = x;
		a->baseline_us = x;
	} else {
		a->recent_us += RECENT_ALPHA * (x - a->recent_us);
		if (a->recent_us < a->baseline_us)
			a->baseline_us += BASELINE_DOWN * (a->recent_us - a->baseline_us);
		else if (a->limit <= (double)a->config.min_limit)
			a->baseline_us += BASELINE_UP * (a->recent_us - a->baseline_us);
	}
	a->samples++;
	note_pending(a);
}

void ah_adaptive_cpu_sample(ah_adaptive *a, double cpu)
{
	a->cpu = cpu > 0.0 ? cpu : 0.0;
	a->pending_samples |= PENDING_CPU;
}

double ah_adaptive_setup_target_us(const ah_adaptive *a)
{
	return a->samples > 0 ? MAX(a->config.tolerance * a->baseline_us, a->baseline_us + SETUP_SLACK_US) : 0.0;
}

static double gradient(const ah_adaptive *a)
{
	double g = 1.0;
	if (a->samples > 0 && a->recent_us > 0.0)
		g = clamp_gradient(ah_adaptive_setup_target_us(a) / a->recent_us);
	if (a->config.cpu_target > 0.0 && a->cpu > 0.0) {
		double gc = clamp_gradient(a->config.cpu_target / a->cpu);
		if (gc < g)
			g = gc;
	}
	return g;
}

guint ah_adaptive_wave(ah_adaptive *a, guint connecting, guint demand)
{
	if (a->pending_samples > 0) {
		guint n = a->pending_samples & ~PENDING_CPU;
		a->pending_samples = 0;
		/* the share of the connecting attendees whose outcome this update has seen */
		double e = (double)(n > 0 ? n : 1) / (double)(connecting > 0 ? connecting : 1);
		if (e > 1.0)
			e = 1.0;
		double l = a->limit;
		double g = gradient(a);
		if (g < 1.0)
			l *= pow(g, e);
		else if ((double)connecting + (double)demand >= l / 2)
			l += GROWTH * sqrt(l) * e;
		a->limit = clamp_limit(a, l);
	}
	guint lim = ah_adaptive_limit(a);
	return connecting >= lim ? 0 : lim - connecting;
}

double ah_adaptive_outlook(const ah_adaptive *a)
{
	/* Healthy: L grows by 0.5 sqrt(L) per turnover of the connecting set, so it reaches max_limit
	 * within a few setup times; a queue that takes longer than that moves at max_limit's pace. */
	return gradient(a) >= 1.0 ? (double)a->config.max_limit : (double)ah_adaptive_limit(a);
}

double ah_adaptive_setup_us(const ah_adaptive *a)
{
	return a->samples > 0 ? a->recent_us : 0.0;
}

guint ah_adaptive_limit(const ah_adaptive *a)
{
	guint l = (guint)floor(a->limit);
	return l < a->config.min_limit ? a->config.min_limit : l;
}

/* --- Token bucket */

static void bucket_refill(ah_bucket *b, gint64 now)
{
	if (now <= b->last)
		return;
	if (b->rate > 0.0) {
		b->tokens += b->rate * (double)(now - b->last) / 1e6;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
	}
	b->last = now;
}

void ah_bucket_init(ah_bucket *b, double rate, guint burst, gint64 now)
{
	b->rate = rate;
	b->burst = burst >= 1 ? (double)burst : 1.0;
	b->tokens = b->burst;
	b->last = now;
}

void ah_bucket_set(ah_bucket *b, double rate, guint burst, gint64 now)
{
	gboolean was_unlimited = b->rate <= 0.0;
	bucket_refill(b, now);
	b->rate = rate;
	b->burst = burst >= 1 ? (double)burst : 1.0;
	/* Coming from unlimited, whatever was taken meanwhile does not count: start full. */
	if (was_unlimited || b->rate <= 0.0 || b->tokens > b->burst)
		b->tokens = b->burst;
}

guint ah_bucket_available(ah_bucket *b, gint64 now)
{
	if (b->rate <= 0.0)
		return G_MAXUINT;
	bucket_refill(b, now);
	return b->tokens >= 1.0 ? (guint)floor(b->tokens) : 0;
}

void ah_bucket_take(ah_bucket *b, guint n, gint64 now)
{
	if (b->rate <= 0.0)
		return;
	bucket_refill(b, now);
	b->tokens -= (double)n;
	if (b->tokens < 0.0)
		b->tokens = 0.0;
}

gint64 ah_bucket_next(const ah_bucket *b, gint64 now)
{
	if (b->rate <= 0.0)
		return now;
	double tokens = b->tokens;
	if (now > b->last) {
		tokens += b->rate * (double)(now - b->last) / 1e6;
		if (tokens > b->burst)
			tokens = b->burst;
	}
	if (tokens >= 1.0)
		return now;
	return now + (gint64)ceil((1.0 - tokens) * 1e6 / b->rate);
}
