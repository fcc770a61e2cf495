/* allhands: admission's reporting side: queue positions and expected waits told to queued
 * attendees, the measurements behind them (admission rates, setup and wait times, estimate
 * error), status figures and queries. The seats and queues themselves are in admission.c.
 * Pure: no Janus header, no clock reads, no logging, no locks; control thread only.
 *
 * DESIGN
 * Positions are per room (priority class first), so a room's positions only change when its own
 * queue changes. Rather than tell every queued attendee about every move (O(queue) per admission),
 * a sweep runs at most once per update_interval while something changed (and every few seconds
 * otherwise, since an estimate also changes with time): it walks the queued rooms once and reports
 * the attendees whose position changed or whose estimate changed meaningfully
 * (ah_wait_estimate_changed). Each record remembers what it was last told, so a sweep costs
 * O(queued) time and nothing else. Within the free seats an estimate comes from the waves' pace;
 * beyond them from seat turnover (stats.h): the node, each tenant and each room integrate the seats
 * they hold and note each seat given up, and the wait is the time until the levels that bind (room,
 * tenant, node cap) have given up enough seats for this position, given the room's turn among its
 * tenant's rooms and its tenant's measured share of the node's queue admissions. Estimates never
 * reach past the room's window end, which the engine passes down (admission knows no schedule).
 * The first known estimate an attendee is given is kept (its median and when it was given); at
 * admission, the difference to the actual wait feeds the estimate-error histograms, which status
 * reports so an operator can see whether the estimates are honest.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include "admission-private.h"

/* Without changes, estimates still drift with time (a rate decays when admissions stop): re-check
 * them this often, for as long as admissions stopped less than DRIFT_WINDOW_US ago. */
#define DRIFT_CHECK_US (G_GINT64_CONSTANT(5) * G_USEC_PER_SEC)
#define DRIFT_WINDOW_US (G_GINT64_CONSTANT(60) * G_USEC_PER_SEC)
/* A tenant's share of the queue admissions forgets with a half-life of this many of the node's. */
#define SHARE_HALF_LIFE 32.0
#define SHARE_STEP 0.97857206208770013 /* 2^(-1/32): what one turn leaves of the counts */
/* ...and is used once it saw that many (else the weights say what its share would be). */
#define SHARE_MIN_SEEN 4.0
/* The setup time assumed at the high end of a paced estimate until an attendee has connected. */
#define SETUP_GUESS_US (1.0 * G_USEC_PER_SEC)
/* A relative estimate error is computed against at least this wait, so tiny waits do not blow it up. */
#define ERROR_FLOOR_US G_USEC_PER_SEC

/* --- measurements */

void ah_adm_measure_clear(adm_measure *m)
{
	g_free(m->meter);
	m->meter = NULL;
}

static adm_meter *meter(adm_measure *m)
{
	if (m->meter == NULL) {
		m->meter = g_new(adm_meter, 1);
		ah_hist_init(&m->meter->setup);
		ah_hist_init(&m->meter->wait);
		ah_hist_init(&m->meter->error);
		ah_turnover_init(&m->meter->turnover);
	}
	return m->meter;
}

static void measures_of(ah_admission *adm, const adm_participant *p, adm_measure *out[3])
{
	out[0] = &adm->measure;
	out[1] = &p->room->tenant->measure;
	out[2] = &p->room->measure;
}

/* t's share counts as they are at adm->turns (the turns since its mark were seen if it had a queue). */
static void share_at(const ah_admission *adm, const adm_tenant *t, double *got, double *seen)
{
	double decay;
	*got = t->got;
	*seen = t->seen;
	if (adm->turns == t->mark)
		return;
	decay = exp2(-(double)(adm->turns - t->mark) / SHARE_HALF_LIFE);
	*got *= decay;
	*seen *= decay;
	if (t->counts.queued > 0)
		*seen += (1 - decay) / (1 - SHARE_STEP);
}

void ah_adm_measure_queue(ah_admission *adm, const adm_participant *p)
{
	adm_tenant *t = p->room->tenant;
	share_at(adm, t, &t->got, &t->seen);
	t->mark = adm->turns;
}

void ah_adm_metrics_init(ah_adm_metrics *m)
{
	memset(m, 0, sizeof(*m));
	ah_metrics_hist_init(&m->setup, AH_METRICS_BOUNDS_SETUP);
	ah_metrics_hist_init(&m->wait, AH_METRICS_BOUNDS_WAIT);
	ah_metrics_hist_init(&m->error, AH_METRICS_BOUNDS_ERROR);
}

const ah_adm_metrics *ah_admission_metrics(const ah_admission *adm)
{
	return &adm->metrics;
}

/* The node's Prometheus figures of one admission (wait and error as the histograms below have them). */
static void metrics_admitted(ah_admission *adm, const adm_participant *p, guint64 wait, gboolean told,
	guint64 error, gint64 now)
{
	ah_adm_metrics *x = &adm->metrics;
	if (p->state == AH_ADM_QUEUED)
		x->admitted_queue++;
	else
		x->admitted_at_once++;
	ah_metrics_hist_observe(&x->wait, (double)wait / G_USEC_PER_SEC);
	if (told) {
		gint64 actual_ms = MAX(now - p->told_at, 0) / 1000;
		ah_metrics_hist_observe(&x->error, error / 1000.0);
		if (actual_ms >= p->told_low_ms && actual_ms <= p->told_high_ms)
			x->range_held++;
		else
			x->range_missed++;
	}
}

void ah_adm_measure_admitted(ah_admission *adm, const adm_participant *p, gint64 now)
{
	adm_measure *m[3];
	guint64 wait = now > p->since ? (guint64)(now - p->since) : 0, error = 0;
	gboolean told = p->told_ms > 0;
	if (told) {
		gint64 actual = MAX(now - p->told_at, 0), estimated = (gint64)(p->told_ms - 1) * 1000;
		error = (guint64)(ABS(actual - estimated) * 1000 / MAX(actual, ERROR_FLOOR_US));
	}
	metrics_admitted(adm, p, wait, told, error, now);
	measures_of(adm, p, m);
	adm->last_admitted = now;
	if (p->state == AH_ADM_QUEUED) {
		/* A turn of the node's queue, seen by every tenant with a queue, this one's. */
		adm_tenant *t = p->room->tenant;
		ah_adm_measure_queue(adm, p);
		adm->turns++;
		t->got = t->got * SHARE_STEP + 1;
		t->seen = t->seen * SHARE_STEP + 1;
		t->mark = adm->turns;
	}
	for (int i = 0; i < 3; i++) {
		/* A room's rate is what its queue's estimates divide by: only admissions out of the queue
		 * count there (an admission at once says nothing about how fast the queue moves). */
		if (i < 2 || p->state == AH_ADM_QUEUED)
			ah_rate_add(&m[i]->rate, 1, now);
		m[i]->admitted++;
		ah_hist_add(&meter(m[i])->wait, wait);
		if (told)
			ah_hist_add(&meter(m[i])->error, error);
	}
}

void ah_adm_measure_seats(ah_admission *adm, const adm_participant *p)
{
	adm_measure *m[3];
	const ah_adm_counts *c[3] = {&adm->counts, &p->room->tenant->counts, &p->room->counts};
	measures_of(adm, p, m);
	for (int i = 0; i < 3; i++)
		ah_turnover_seats(&meter(m[i])->turnover, ah_adm_seats(c[i]), adm->now);
}

void ah_adm_measure_released(ah_admission *adm, const adm_participant *p, gint64 now)
{
	adm_measure *m[3];
	if (p->presenter || (p->state != AH_ADM_CONNECTING && p->state != AH_ADM_ACTIVE && p->state != AH_ADM_REJOINING))
		return;
	adm->now = MAX(adm->now, now);
	measures_of(adm, p, m);
	for (int i = 0; i < 3; i++)
		ah_turnover_release(&meter(m[i])->turnover, adm->now);
}

void ah_adm_measure_connected(ah_admission *adm, const adm_participant *p, gint64 now)
{
	adm_measure *m[3];
	gint64 setup = MAX(now - p->since, 0);
	measures_of(adm, p, m);
	for (int i = 0; i < 3; i++)
		ah_hist_add(&meter(m[i])->setup, (guint64)setup);
	ah_metrics_hist_observe(&adm->metrics.setup, (double)setup / G_USEC_PER_SEC);
	ah_adaptive_setup_sample(&adm->adaptive, setup);
}

/* --- positions and estimates */

/* A level (room, tenant, node) whose seats room r's queue may wait for: the seats it has free for
 * r's queue, how many of its releases it takes on average to give r's queue one seat (`per`: r
 * competes with its tenant's other ready rooms for tenant seats, and its tenant with the other
 * ready tenants, by weight, for node seats), and its seat turnover. */
typedef struct {
	double free, per;
	double per_early;  /* for the low end: at the node, as if the other tenants' queues emptied */
	const adm_measure *m;
} wait_level;

static void levels_of(const ah_admission *adm, const adm_room *r, wait_level out[3])
{
	const adm_tenant *t = r->tenant;
	gboolean room_ready = ah_adm_linked(&t->ready[0], &r->ring[0]) || ah_adm_linked(&t->ready[1], &r->ring[1]);
	gboolean tenant_ready = ah_adm_linked(&adm->ready, &t->ready_link);
	guint64 tenant_held = (guint64)ah_adm_seats(&t->counts) + t->counts.presenters + t->presenter_gap;
	guint64 node_held = ah_adm_seats(&adm->counts), weights = adm->ready_weight + (tenant_ready ? 0 : t->weight);
	double rooms = t->ready[0].length + t->ready[1].length + (room_ready ? 0 : 1);
	out[0] = (wait_level){(double)r->max_attendees - MIN(ah_adm_seats(&r->counts), r->max_attendees), 1, 1, &r->measure};
	out[1] = (wait_level){(double)t->max_participants - MIN(tenant_held, t->max_participants), rooms, rooms, &t->measure};
	/* Below its reserve a tenant takes node seats nobody else may: its own releases count. */
	if (ah_adm_seats(&t->counts) < t->reserved) {
		out[2] = (wait_level){(double)adm->config.capacity - MIN(node_held, adm->config.capacity), rooms, rooms,
			&adm->measure};
	} else {
		/* Its share of the node's turns: as measured while it had a queue (the other tenants'
		 * queues come and go, which the weights alone do not know), else as the weights say. */
		double got, seen, share = (double)t->weight / (double)weights;
		share_at(adm, t, &got, &seen);
		if (seen >= SHARE_MIN_SEEN)
			share = CLAMP(got / seen, 0.01, 1.0);
		out[2] = (wait_level){(double)adm->config.capacity - MIN(node_held + adm->reserved_unused, adm->config.capacity),
			rooms / share, rooms, &adm->measure};
	}
}

/* What every estimate of one room needs, prepared once per room (a sweep walks a room's queue
 * with it): its levels and their turnover, its pace and free seats, the time left in its window. */
typedef struct {
	const ah_admission *adm;
	gboolean moving;
	wait_level level[3];
	double releases[3];
	ah_turnover_model model[3];
	double paced;
	guint free_seats;
	gint64 left;          /* until the window's end; -1: no end */
	const ah_rate *rate;  /* the room's admission rate (last resort) */
	gint64 now;
} wait_ctx;

static void wait_ctx_init(wait_ctx *x, const ah_admission *adm, const adm_room *r, gint64 now)
{
	x->adm = adm;
	x->now = now;
	x->rate = &r->measure.rate;
	x->left = r->ends_at == G_MAXINT64 ? -1 : MAX(r->ends_at - now, 0);
	x->moving = ah_adm_room_moving(adm, r);
	if (!x->moving)
		return;
	x->paced = ah_adm_paced_rate(adm, r, &x->free_seats);
	levels_of(adm, r, x->level);
	for (int i = 0; i < 3; i++) {
		const wait_level *l = &x->level[i];
		double seat_s = 0, last = r->counts.queued;
		guint seats = 0;
		x->releases[i] = 0;
		/* A level that does not bind even for the last in the queue is never read. */
		if (l->m->meter != NULL && (last - 0.5) * l->per + 0.5 - l->free >= 0.5)
			ah_turnover_read(&l->m->meter->turnover, now, &x->releases[i], &seat_s, &seats);
		ah_turnover_model_init(&x->model[i], x->releases[i], seat_s, seats);
	}
}

/* Position `position` when seats must first be freed. Every level that binds (needs releases)
 * holds it back, so its wait is at least each one's: the median, low and high are the largest over
 * those levels. Unknown when a level that binds has not seen AH_TURNOVER_MIN_RELEASES releases yet
 * (with `prior`, the evidence as it is, with Jeffreys' half release: a weak prior for "nobody left
 * in all that time"). *binding: whether any level needs releases. */
static ah_wait_estimate turnover_estimate(const wait_ctx *x, guint position, gboolean prior, gboolean *binding)
{
	ah_wait_estimate best = {0}, unknown = {.reason = AH_WAIT_NO_DEPARTURES};
	double p = position;
	*binding = FALSE;
	for (int i = 0; i < 3; i++) {
		/* Round robin reaches r's queue after 1 to per releases (on average (per + 1) / 2), then
		 * every per: the range spans where in the round r's turn is. */
		const wait_level *l = &x->level[i];
		const ah_turnover_model *m = &x->model[i];
		double needed = (p - 0.5) * l->per + 0.5 - l->free, early = (p - 1) * l->per_early + 1 - l->free;
		double late = p * l->per - l->free;
		gint64 low, median, high;
		if (needed < 0.5)
			continue;
		*binding = TRUE;
		if (!m->known || (x->releases[i] < AH_TURNOVER_MIN_RELEASES && !prior))
			return unknown;
		ah_turnover_range(m, needed, &low, &median, &high);
		/* Where r's turn is in the round moves the ends only when it is a fair part of the releases
		 * needed (near the head of a queue): otherwise (within 2%) the median's range does, and a
		 * sweep evaluates the polygamma functions once per attendee. */
		if (needed - early > 0.02 * needed + 0.5)
			low = ah_turnover_quantile(m, early, -AH_WAIT_Z);
		if (late - needed > 0.02 * needed + 0.5)
			high = ah_turnover_quantile(m, late, AH_WAIT_Z);
		best.known = TRUE;
		best.median_us = MAX(best.median_us, median);
		best.low_us = MAX(best.low_us, low);
		best.high_us = MAX(best.high_us, high);
	}
	best.low_us = MIN(best.low_us, best.median_us);
	best.high_us = MAX(best.high_us, best.median_us);
	return *binding ? best : unknown;
}

/* The pace's estimate. Admissions come in waves, so the first of them may be a wave interval away:
 * the high end allows for that. Fixed waves keep their pace. Adaptive waves move theirs with the
 * node's setup times and CPU, which a storm's own joins raise after the estimate is made (the storm
 * benchmark saw the pace halve within seconds): the low end assumes the limit back at max_limit at the
 * node's quiet (baseline) setup time, the high end the slowest pace the law settles at
 * while the queue lasts (min_limit attendees per turn of the longer of the setup time now and the one
 * the law tolerates, or SETUP_GUESS_US before anyone connected, plus a wave interval), plus one such
 * turn; the median is the geometric mean of that and the pace where the limit is heading, as the
 * pace lands between them (within the current limit, where the next waves decide, the pace of the
 * moment). */
static ah_wait_estimate paced_estimate(const ah_admission *adm, guint position, double paced)
{
	const double interval = (double)adm->config.wave_interval_us;
	if (adm->config.wave_mode != AH_WAVES_ADAPTIVE) {
		ah_wait_estimate e = ah_wait_estimate_at(position, paced, 0);
		e.high_us = MIN(e.high_us + (gint64)interval, AH_WAIT_MAX_US);
		return e;
	}
	const ah_adaptive *a = &adm->adaptive;
	const double setup = ah_adaptive_setup_us(a);
	const double slow_setup = setup > 0 ? MAX(setup, ah_adaptive_setup_target_us(a)) : SETUP_GUESS_US;
	const double heading_pace = ah_adm_pace_per_s(adm);
	/* A wave admits only once those connecting are through, at its next tick: a setup time plus up
	 * to an interval per turn. */
	double slow_pace = a->config.min_limit * (double)G_USEC_PER_SEC / (slow_setup + interval);
	if (adm->config.join_rate > 0)
		slow_pace = MIN(slow_pace, adm->config.join_rate);
	const double slow = heading_pace > 0 ? paced * MIN(slow_pace / heading_pace, 1.0) : paced;
	/* The fastest: max_limit at a time, each for the node's quiet (baseline) setup time. */
	const double baseline = a->samples > 0 ? a->baseline_us : 0;
	double top_pace = a->config.max_limit * (double)G_USEC_PER_SEC / MAX(interval, baseline);
	if (adm->config.join_rate > 0)
		top_pace = MIN(top_pace, adm->config.join_rate);
	const double top = heading_pace > 0 ? paced * MAX(top_pace / heading_pace, 1.0) : paced;
	const ah_wait_estimate top_e = ah_wait_estimate_at(position, top, 0);
	/* Within the current limit the next waves decide, at today's pace. */
	const gboolean next_waves = position <= ah_adaptive_limit(a);
	ah_wait_estimate e = ah_wait_estimate_at(position, next_waves ? paced : sqrt(paced * slow), 0);
	const ah_wait_estimate slow_e = ah_wait_estimate_at(position, slow, 0);
	/* Within the current limit, the next wave may come at any moment. */
	e.low_us = next_waves ? 0 : MIN(e.low_us, top_e.low_us);
	e.high_us = MIN(MAX(e.high_us, slow_e.high_us) + (gint64)(slow_setup + interval), AH_WAIT_MAX_US);
	return e;
}

static ah_wait_estimate estimate_in(const wait_ctx *x, guint position)
{
	ah_wait_estimate e = {.reason = AH_WAIT_NOT_ADMITTING};
	gboolean binding;
	if (!x->moving)
		return e;
	/* Within the seats that are free, only the waves' pace holds the queue back: that pace is a
	 * better guide than the measured rate, which at the start of a storm still remembers the quiet
	 * before it. Beyond them, seats must first be freed: the seat turnover says how fast. */
	if (x->paced > 0 && position <= x->free_seats) {
		e = paced_estimate(x->adm, position, x->paced);
	} else {
		e = turnover_estimate(x, position, FALSE, &binding);
		/* Nobody left yet, but a window end is near: say whether even a weak prior expects the
		 * seats to come before it. */
		if (!e.known && binding && x->left >= 0) {
			ah_wait_estimate guess = turnover_estimate(x, position, TRUE, &binding);
			if (guess.known && guess.median_us > x->left)
				e = guess;
		} else if (!binding) {
			e = x->paced > 0 ? paced_estimate(x->adm, position, x->paced) : ah_wait_estimate_for(position, x->rate, x->now);
		}
	}
	ah_wait_estimate_cap(&e, x->left);
	return e;
}

ah_wait_estimate ah_adm_estimate(const ah_admission *adm, const adm_room *r, guint position, gint64 now)
{
	wait_ctx x;
	wait_ctx_init(&x, adm, r, now);
	return estimate_in(&x, position);
}

void ah_adm_told(adm_participant *p, guint position, const ah_wait_estimate *e, gint64 now)
{
	guint32 median_ms = (guint32)MIN(e->median_us / 1000, G_MAXUINT32 - 1);
	p->reported = position;
	p->reported_flags = (guint8)((e->known ? 1 : 0) | (e->beyond_window ? 2 : 0) | ((e->reason & 3) << 2));
	p->reported_ms = e->known ? median_ms : 0;
	if (e->known && p->told_ms == 0) {
		p->told_at = now;
		p->told_ms = median_ms + 1;
		p->told_low_ms = (guint32)MIN(e->low_us / 1000, G_MAXUINT32);
		p->told_high_ms = (guint32)MIN((e->high_us + 999) / 1000, G_MAXUINT32);
	}
}

static void report_room(ah_admission *adm, adm_room *r, gint64 now, GArray *events)
{
	guint position = 0;
	wait_ctx ctx;
	wait_ctx_init(&ctx, adm, r, now);
	for (int c = AH_ADM_PRIORITY; c >= AH_ADM_ORDINARY; c--)
		for (adm_link *x = r->queue[c].head; x != NULL; x = x->next) {
			adm_participant *p = ADM_OF(x, adm_participant, member);
			ah_wait_estimate told = {.known = p->reported_flags & 1, .median_us = (gint64)p->reported_ms * 1000,
				.beyond_window = (p->reported_flags & 2) != 0, .reason = (ah_wait_reason)(p->reported_flags >> 2)};
			ah_wait_estimate next = estimate_in(&ctx, ++position);
			if (position == p->reported && !ah_wait_estimate_changed(&told, &next))
				continue;
			ah_adm_told(p, position, &next, now);
			if (events != NULL) {
				ah_adm_event ev = {.kind = AH_ADM_EV_POSITION, .pid = p->pid, .position = position,
					.queue_length = r->counts.queued, .estimate = next};
				g_array_append_val(events, ev);
			}
		}
}

gint64 ah_adm_report_deadline(const ah_admission *adm, gint64 now)
{
	gint64 after;
	if (adm->queued_rooms.head == NULL)
		return G_MAXINT64;
	if (!adm->swept)
		return G_MININT64;
	if (adm->dirty)
		after = adm->config.update_interval_us;
	else if (adm->moving_rooms > 0 && !adm->paused && !adm->draining && adm->last_admitted != G_MININT64 &&
		now - adm->last_admitted < DRIFT_WINDOW_US)
		after = MAX(adm->config.update_interval_us, DRIFT_CHECK_US);
	else
		return G_MAXINT64;
	return adm->last_sweep > G_MAXINT64 - after ? G_MAXINT64 : adm->last_sweep + after;
}

void ah_adm_report(ah_admission *adm, gint64 now, gboolean force, GArray *events)
{
	if (!force && now < ah_adm_report_deadline(adm, now))
		return;
	for (adm_link *x = adm->queued_rooms.head; x != NULL; x = x->next)
		report_room(adm, ADM_OF(x, adm_room, queued_link), now, events);
	adm->swept = TRUE;
	adm->last_sweep = now;
	adm->dirty = FALSE;
}

/* --- queries */

guint ah_admission_position(const ah_admission *adm, guint64 pid)
{
	const adm_participant *p = ah_adm_lookup(adm, pid);
	guint position = 0;
	if (p == NULL || p->state != AH_ADM_QUEUED)
		return 0;
	for (int c = AH_ADM_PRIORITY; c >= AH_ADM_ORDINARY; c--)
		for (const adm_link *x = p->room->queue[c].head; x != NULL; x = x->next) {
			position++;
			if (x == &p->member)
				return position;
		}
	return 0;
}

static gboolean find(const ah_admission *adm, const char *tenant, const char *room, const adm_tenant **t,
	const adm_room **r)
{
	*t = NULL;
	*r = NULL;
	if (tenant == NULL)
		return TRUE;
	*t = g_hash_table_lookup(adm->tenants, tenant);
	if (*t == NULL)
		return FALSE;
	if (room == NULL)
		return TRUE;
	*r = g_hash_table_lookup((*t)->rooms, room);
	return *r != NULL;
}

ah_adm_counts ah_admission_counts(const ah_admission *adm, const char *tenant, const char *room)
{
	const ah_adm_counts zero = {0};
	const adm_tenant *t;
	const adm_room *r;
	if (!find(adm, tenant, room, &t, &r))
		return zero;
	return r != NULL ? r->counts : t != NULL ? t->counts : adm->counts;
}

static gint64 quantile(const adm_meter *m, gsize offset, double q)
{
	return m != NULL ? (gint64)ah_hist_quantile((const ah_hist *)(const void *)((const char *)m + offset), q) : 0;
}

gboolean ah_admission_stats(const ah_admission *adm, const char *tenant, const char *room, gint64 now,
	ah_adm_stats *out)
{
	const adm_tenant *t;
	const adm_room *r;
	const adm_measure *m;
	const adm_meter *mt;
	*out = (ah_adm_stats){0};
	if (!find(adm, tenant, room, &t, &r))
		return FALSE;
	m = r != NULL ? &r->measure : t != NULL ? &t->measure : &adm->measure;
	mt = m->meter;
	out->counts = ah_admission_counts(adm, tenant, room);
	out->admitted_per_s = ah_rate_per_s(&m->rate, now);
	out->admitted_total = m->admitted;
	out->setup_p50_us = quantile(mt, offsetof(adm_meter, setup), 0.5);
	out->setup_p90_us = quantile(mt, offsetof(adm_meter, setup), 0.9);
	out->setup_p99_us = quantile(mt, offsetof(adm_meter, setup), 0.99);
	out->wait_p50_us = quantile(mt, offsetof(adm_meter, wait), 0.5);
	out->wait_p90_us = quantile(mt, offsetof(adm_meter, wait), 0.9);
	out->wait_p99_us = quantile(mt, offsetof(adm_meter, wait), 0.99);
	out->estimates = mt != NULL ? mt->error.count : 0;
	out->estimate_error_p50 = quantile(mt, offsetof(adm_meter, error), 0.5) / 1000.0;
	out->estimate_error_p90 = quantile(mt, offsetof(adm_meter, error), 0.9) / 1000.0;
	out->cpu = -1;
	if (r != NULL) {
		out->paused = r->paused;
	} else if (t == NULL) {
		out->paused = adm->paused;
		out->draining = adm->draining;
		out->cpu = adm->cpu;
		out->waves = adm->waves;
		out->last_wave_admitted = adm->last_wave_admitted;
		out->last_wave_ago_us = adm->waved ? MAX(now - adm->last_wave, 0) : -1;
		out->wave_size = adm->config.wave_mode == AH_WAVES_ADAPTIVE ? ah_adaptive_limit(&adm->adaptive)
			: adm->config.wave_size;
	}
	return TRUE;
}

static void append_room(const adm_room *r, GArray *pids)
{
	for (int c = AH_ADM_PRIORITY; c >= AH_ADM_ORDINARY; c--)
		for (const adm_link *x = r->queue[c].head; x != NULL; x = x->next)
			g_array_append_val(pids, ADM_OF(x, adm_participant, member)->pid);
}

static void append_tenant(const adm_tenant *t, GArray *pids)
{
	GHashTableIter iter;
	gpointer value;
	g_hash_table_iter_init(&iter, t->rooms);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		append_room(value, pids);
}

GArray *ah_admission_queue(const ah_admission *adm, const char *tenant, const char *room)
{
	GArray *pids = g_array_new(FALSE, FALSE, sizeof(guint64));
	const adm_tenant *t;
	const adm_room *r;
	GHashTableIter iter;
	gpointer value;
	if (!find(adm, tenant, room, &t, &r))
		return pids;
	if (r != NULL) {
		append_room(r, pids);
	} else if (t != NULL) {
		append_tenant(t, pids);
	} else {
		g_hash_table_iter_init(&iter, adm->tenants);
		while (g_hash_table_iter_next(&iter, NULL, &value))
			append_tenant(value, pids);
	}
	return pids;
}
