/* allhands: measurement primitives for admission (include/allhands/stats.h): a log-linear
 * histogram, a windowed rate meter and the expected-wait estimate built on it.
 *
 * Owns nothing but the caller's fixed-size structs; never allocates. Pure: no Janus header, no
 * clock reads (time is the `now` argument, monotonic microseconds), no logging, no locks, no
 * global state. It must not decide anything about admission: it measures, admission decides.
 * Called by admission on the control thread.
 *
 * DESIGN
 * Histogram: bucket b < 4 holds the value b; above, a value v with 2^o <= v < 2^(o+1) (o >= 2)
 * goes to bucket 4*(o-1) + the two bits after v's leading one, so each power of two has 4
 * sub-buckets of width 2^(o-2) and a bucket's upper bound is at most 25% above any value in it.
 * Values >= 2^36 share the last bucket. A quantile is the upper bound of the bucket holding the
 * ceil(q*count)-th smallest sample, capped at the largest sample seen.
 * Rate meter: time is cut into 1 s windows aligned on the first event. When `now` passes the end
 * of the open window, that window's rate (events / 1 s) and then each whole window skipped since
 * (as a 0-rate window, at most RATE_MAX_GAP_WINDOWS of them, after which the mean is ~0 anyway)
 * are folded into an EWMA mean and an EWMA variance (alpha RATE_ALPHA). Readers at a later `now`
 * fold a copy, so a stalled queue's rate decays without the reader mutating the meter. Before the
 * first complete window the rate is the open window's count over its age once that age is at
 * least 0.5 s, and 0 before.
 * Wait estimate: with rate r and spread s (events/s) and 1-based position p,
 *   median = p / r
 *   r_lo = max(r - s, r / 4),  r_hi = r + s                      (uncertainty of the rate)
 *   low  = max(0, p / r_hi - z * sqrt(p) / r_hi)                 (plus the randomness of
 *   high = p / r_lo + z * sqrt(p) / r_lo                           p Poisson-like arrivals)
 * with z = 1.28 (the 10th/90th percentiles of a normal), all clamped into [0, AH_WAIT_MAX_US] and
 * ordered low <= median <= high. A rate below RATE_EPSILON (one admission per ~17 minutes) counts
 * as 0, i.e. unknown.
 * Seat turnover: seat-seconds are integrated as the seats held change; each release notes the
 * integral in a ring of the latest AH_TURNOVER_KEEP. The hazard per seat is releases over the
 * seat-seconds since the oldest kept one, up to now (a silence lengthens the exposure, so the rate
 * falls in proportion to the time, not exponentially). The wait for k releases is
 * E / S * G(k) / G(n + 1/2) (Jeffreys' prior on the hazard); ln of it has polygamma cumulants, and
 * its median and 10th/90th percentiles come from the Cornish-Fisher expansion (docs/admission.md).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include "allhands/stats.h"

#define RATE_ALPHA 0.3
#define RATE_MAX_GAP_WINDOWS 60
#define RATE_EPSILON 1e-3
#define WAIT_MIN_RATE_FRACTION 0.25
/* Jeffreys' prior for a Poisson rate: the hazard's posterior is Gamma(releases + 1/2, seat_s). */
#define TURNOVER_PRIOR 0.5

/* --- Histogram */

void ah_hist_init(ah_hist *h)
{
	memset(h, 0, sizeof(*h));
}

static guint hist_bucket(guint64 v)
{
	if (v < 4)
		return (guint)v;
	if (v >= (G_GUINT64_CONSTANT(1) << AH_HIST_OCTAVES))
		return AH_HIST_BUCKETS - 1;
	guint o = 63 - (guint)__builtin_clzll(v);
	guint sub = (guint)(v >> (o - 2)) & 3;
	return 4 * (o - 1) + sub;
}

static guint64 hist_upper(guint b)
{
	if (b < 4)
		return b;
	if (b == AH_HIST_BUCKETS - 1)
		return G_MAXUINT64;
	guint o = b / 4 + 1;
	guint64 sub = b % 4;
	return ((5 + sub) << (o - 2)) - 1;
}

void ah_hist_add(ah_hist *h, guint64 value)
{
	guint b = hist_bucket(value);
	if (h->buckets[b] == G_MAXUINT32)
		return; /* saturated: drop rather than wrap */
	h->buckets[b]++;
	h->count++;
	if (value > h->max)
		h->max = value;
}

guint64 ah_hist_quantile(const ah_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (!(q > 0.0))
		q = 0.0;
	if (q > 1.0)
		q = 1.0;
	guint64 rank = (guint64)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	guint64 seen = 0;
	for (guint b = 0; b < AH_HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank) {
			guint64 up = hist_upper(b);
			return up < h->max ? up : h->max;
		}
	}
	return h->max;
}

/* --- Rate meter */

void ah_rate_init(ah_rate *r)
{
	memset(r, 0, sizeof(*r));
}

static void rate_fold_one(ah_rate *r, double x)
{
	if (r->windows == 0) {
		r->mean = x;
		r->var = 0.0;
	} else {
		double d = x - r->mean;
		r->mean += RATE_ALPHA * d;
		r->var = (1.0 - RATE_ALPHA) * (r->var + RATE_ALPHA * d * d);
	}
	if (r->windows < G_MAXUINT32)
		r->windows++;
}

/* Close the open window and the empty ones skipped since, if `now` is past its end. */
static void rate_advance(ah_rate *r, gint64 now)
{
	if (r->events == 0 || now < r->window_start + AH_RATE_WINDOW_US)
		return;
	gint64 elapsed = (now - r->window_start) / AH_RATE_WINDOW_US; /* >= 1 */
	rate_fold_one(r, (double)r->in_window * 1e6 / (double)AH_RATE_WINDOW_US);
	gint64 empty = elapsed - 1;
	if (empty > RATE_MAX_GAP_WINDOWS)
		empty = RATE_MAX_GAP_WINDOWS;
	for (gint64 i = 0; i < empty; i++)
		rate_fold_one(r, 0.0);
	r->window_start += elapsed * AH_RATE_WINDOW_US;
	r->in_window = 0;
}

void ah_rate_add(ah_rate *r, guint n, gint64 now)
{
	if (n == 0)
		return;
	if (r->events == 0) {
		r->window_start = now;
		r->in_window = 0;
	} else {
		rate_advance(r, now);
	}
	r->in_window = (r->in_window > G_MAXUINT32 - n) ? G_MAXUINT32 : r->in_window + n;
	r->events += n;
}

double ah_rate_per_s(const ah_rate *r, gint64 now)
{
	if (r->events == 0)
		return 0.0;
	ah_rate c = *r;
	rate_advance(&c, now);
	if (c.windows > 0)
		return c.mean > 0.0 ? c.mean : 0.0;
	gint64 age = now - c.window_start;
	if (age < AH_RATE_WINDOW_US / 2)
		return 0.0;
	return (double)c.in_window * 1e6 / (double)age;
}

gboolean ah_rate_known(const ah_rate *r, gint64 now)
{
	if (r->events < AH_RATE_MIN_EVENTS)
		return FALSE;
	ah_rate c = *r;
	rate_advance(&c, now);
	return c.windows >= AH_RATE_MIN_WINDOWS && c.mean >= RATE_EPSILON;
}

double ah_rate_spread(const ah_rate *r, gint64 now)
{
	if (!ah_rate_known(r, now))
		return 0.0;
	ah_rate c = *r;
	rate_advance(&c, now);
	return c.var > 0.0 ? sqrt(c.var) : 0.0;
}

/* --- Wait estimate */

static gint64 wait_us(double seconds)
{
	if (!(seconds > 0.0))
		return 0;
	double us = seconds * 1e6;
	if (us >= (double)AH_WAIT_MAX_US)
		return AH_WAIT_MAX_US;
	return (gint64)us;
}

ah_wait_estimate ah_wait_estimate_for(guint position, const ah_rate *r, gint64 now)
{
	ah_wait_estimate e = {0};
	if (!ah_rate_known(r, now))
		return e;
	return ah_wait_estimate_at(position, ah_rate_per_s(r, now), ah_rate_spread(r, now));
}

ah_wait_estimate ah_wait_estimate_at(guint position, double rate, double spread)
{
	ah_wait_estimate e = {0};
	if (!(rate >= RATE_EPSILON))
		return e;
	if (!(spread >= 0))
		spread = 0;
	double p = position > 0 ? (double)position : 1.0;
	double noise = AH_WAIT_Z * sqrt(p);
	double r_lo = rate - spread;
	if (r_lo < rate * WAIT_MIN_RATE_FRACTION)
		r_lo = rate * WAIT_MIN_RATE_FRACTION;
	double r_hi = rate + spread;

	e.known = TRUE;
	e.median_us = wait_us(p / rate);
	e.low_us = wait_us((p - noise) / r_hi);
	e.high_us = wait_us((p + noise) / r_lo);
	if (e.low_us > e.median_us)
		e.low_us = e.median_us;
	if (e.high_us < e.median_us)
		e.high_us = e.median_us;
	return e;
}

gboolean ah_wait_estimate_changed(const ah_wait_estimate *told, const ah_wait_estimate *next)
{
	if (!told->known != !next->known || !told->beyond_window != !next->beyond_window)
		return TRUE;
	if (!next->known)
		return told->reason != next->reason;
	if (next->beyond_window)
		return FALSE; /* "unlikely before the end" still holds; the capped figures only count down */
	gint64 d = next->median_us - told->median_us;
	if (d < 0)
		d = -d;
	return (double)d > 0.1 * (double)told->median_us && d > 2 * G_GINT64_CONSTANT(1000000);
}

void ah_wait_estimate_cap(ah_wait_estimate *e, gint64 left_us)
{
	if (!e->known || left_us < 0)
		return;
	e->beyond_window = e->median_us > left_us;
	e->median_us = MIN(e->median_us, left_us);
	e->low_us = MIN(e->low_us, left_us);
	e->high_us = MIN(e->high_us, left_us);
}

/* --- Seat turnover */

void ah_turnover_init(ah_turnover *t)
{
	memset(t, 0, sizeof(*t));
}

/* Bring the seat-seconds up to `now` (a clock that steps back adds nothing). */
static double turnover_seat_s(const ah_turnover *t, gint64 now)
{
	if (t->seat_at == 0 || now <= t->seat_at)
		return t->seat_s;
	return t->seat_s + (double)t->seats * (double)(now - t->seat_at) / 1e6;
}

void ah_turnover_seats(ah_turnover *t, guint seats, gint64 now)
{
	t->seat_s = turnover_seat_s(t, now);
	if (now > t->seat_at || t->seat_at == 0)
		t->seat_at = now;
	t->seats = seats;
}

void ah_turnover_release(ah_turnover *t, gint64 now)
{
	ah_turnover_seats(t, t->seats, now);
	t->at[t->next] = t->seat_s;
	t->next = (t->next + 1) % AH_TURNOVER_KEEP;
	if (t->kept < AH_TURNOVER_KEEP)
		t->kept++;
	t->releases++;
}

void ah_turnover_read(const ah_turnover *t, gint64 now, double *releases, double *seat_s, guint *seats)
{
	double total = turnover_seat_s(t, now);
	/* With the ring full, the oldest kept release starts the exposure and the others count. */
	if (t->kept == AH_TURNOVER_KEEP) {
		*releases = AH_TURNOVER_KEEP - 1;
		*seat_s = total - t->at[t->next];
	} else {
		*releases = t->kept;
		*seat_s = total;
	}
	*seats = t->seats;
}

/* digamma and trigamma: recurrence up to x >= 6, then their asymptotic series. */
static double digamma(double x)
{
	double acc = 0, x2;
	for (; x < 6; x += 1)
		acc -= 1 / x;
	x2 = 1 / (x * x);
	return acc + log(x) - 0.5 / x - x2 * (1.0 / 12 - x2 * (1.0 / 120 - x2 / 252));
}

static double trigamma(double x)
{
	double acc = 0, x2;
	for (; x < 6; x += 1)
		acc += 1 / (x * x);
	x2 = 1 / (x * x);
	return acc + 1 / x + x2 / 2 + x2 / x * (1.0 / 6 - x2 * (1.0 / 30 - x2 / 42));
}

static double tetragamma(double x)
{
	double acc = 0, x2;
	for (; x < 6; x += 1)
		acc -= 2 / (x * x * x);
	x2 = 1 / (x * x);
	return acc - x2 - x2 / x - x2 * x2 * (0.5 - x2 * (1.0 / 6 - x2 / 6));
}

void ah_turnover_model_init(ah_turnover_model *m, double releases, double seat_s, guint seats)
{
	double shape = releases + TURNOVER_PRIOR;
	*m = (ah_turnover_model){0};
	if (!(releases >= 0) || !(seat_s > 0) || seats == 0)
		return;
	m->known = TRUE;
	m->ln_scale = log(seat_s / seats) - digamma(shape);
	m->var = trigamma(shape);
	m->third = tetragamma(shape);
}

/* ln W = ln(seat_s / seats) + ln G(needed) - ln G(shape): its mean, variance and third cumulant from
 * the polygamma functions, its percentiles by Cornish-Fisher (ln G is skewed to the left, which a
 * plain normal would miss: too high a low end). */
/* ln W's mean, spread and (Cornish-Fisher) skew term for `needed` releases. */
static void turnover_moments(const ah_turnover_model *m, double needed, double *mu, double *sigma, double *skew)
{
	double var;
	if (!(needed >= 1))
		needed = 1;
	var = trigamma(needed) + m->var;
	*sigma = sqrt(var);
	*skew = (tetragamma(needed) - m->third) / (var * *sigma) / 6;
	*mu = m->ln_scale + digamma(needed);
}

static gint64 turnover_at(double mu, double sigma, double skew, double z)
{
	return wait_us(exp(mu + sigma * (z + skew * (z * z - 1))));
}

gint64 ah_turnover_quantile(const ah_turnover_model *m, double needed, double z)
{
	double mu, sigma, skew;
	turnover_moments(m, needed, &mu, &sigma, &skew);
	return turnover_at(mu, sigma, skew, z);
}

void ah_turnover_range(const ah_turnover_model *m, double needed, gint64 *low, gint64 *median, gint64 *high)
{
	double mu, sigma, skew;
	turnover_moments(m, needed, &mu, &sigma, &skew);
	*low = turnover_at(mu, sigma, skew, -AH_WAIT_Z);
	*median = turnover_at(mu, sigma, skew, 0);
	*high = turnover_at(mu, sigma, skew, AH_WAIT_Z);
}

ah_wait_estimate ah_wait_estimate_turnover(double needed, double releases, double seat_s, guint seats)
{
	ah_wait_estimate e = {FALSE, 0, 0, 0, FALSE, AH_WAIT_NO_DEPARTURES};
	ah_turnover_model m;
	ah_turnover_model_init(&m, releases, seat_s, seats);
	if (!m.known)
		return e;
	e.known = TRUE;
	e.reason = AH_WAIT_UNSAID;
	ah_turnover_range(&m, needed, &e.low_us, &e.median_us, &e.high_us);
	return e;
}
