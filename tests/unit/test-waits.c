/* allhands: honest waits, as a person in the queue sees them (issue 12, section 5).
 *
 * Deterministic: time is driven by hand, randomness comes from seeded GRands. What an attendee
 * sees is what admission tells it: the estimate in its join answer, then the POSITION events;
 * each told estimate is checked against the attendee's actual admission time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "allhands/admission.h"
#include "allhands/stats.h"

#define SEC G_GINT64_CONSTANT(1000000)
#define MS G_GINT64_CONSTANT(1000)
#define MAX_PIDS 40000

/* What one attendee was told, and when it got its seat. */
typedef struct {
	gint64 told_at;
	ah_wait_estimate told;
	gint64 joined_at, admitted_at;
	gint64 left_at;      /* seated: when it will leave (0: not seated) */
	gboolean grew;       /* a told median more than doubled within 6 s of the previous one */
	guint8 tenant;
} person;

typedef struct {
	ah_admission *adm;
	GArray *events;
	gint64 now;
	person *people;      /* by pid */
	guint64 next_pid;
	GRand *rand;
	/* Of every known estimate told: how many; how many held the actual wait; how many had a
	 * median within a factor 3 of it (2 s slack); attendees who saw one grow x2 within 6 s. */
	guint told, covered, sharp, grew;
	guint first, first_covered;  /* the first known estimate of each attendee */
} world;

static void world_init(world *w, const ah_admission_config *c, guint32 seed)
{
	w->adm = ah_admission_new(c);
	w->events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
	w->now = 1000 * SEC;
	w->people = g_new0(person, MAX_PIDS);
	w->next_pid = 1;
	w->rand = g_rand_new_with_seed(seed);
	w->told = w->covered = w->sharp = w->grew = 0;
	w->first = w->first_covered = 0;
}

static void world_free(world *w)
{
	ah_admission_free(w->adm);
	g_array_free(w->events, TRUE);
	g_free(w->people);
	g_rand_free(w->rand);
}

static ah_admission_config waves_config(guint capacity)
{
	ah_admission_config c;
	ah_admission_config_defaults(&c);
	c.capacity = capacity;
	c.wave_size = 10;
	c.wave_interval_us = 200 * MS;
	c.admit_timeout_us = 30 * SEC;
	c.update_interval_us = SEC;
	return c;
}

/* An estimate told to pid at w->now: the earlier one of the same attendee is settled first. */
static void tell(world *w, guint64 pid, const ah_wait_estimate *e)
{
	person *p = &w->people[pid];
	if (e->known && p->told.known && w->now - p->told_at <= 6 * SEC && e->median_us > 2 * p->told.median_us + SEC)
		p->grew = TRUE;
	p->told = *e;
	p->told_at = w->now;
	if (e->known) {
		g_assert_cmpint(e->low_us, <=, e->median_us);
		g_assert_cmpint(e->median_us, <=, e->high_us);
	}
}

/* The ranges told to a person, kept until its admission: the last 8, and the first. */
typedef struct {
	gint64 at, low, median, high;
} told_range;
static told_range ranges[MAX_PIDS][8];
static guint range_count[MAX_PIDS];
static told_range first_range[MAX_PIDS];

static gboolean holds(const told_range *r, gint64 admitted_at)
{
	gint64 actual = admitted_at - r->at;
	/* A range is told in milliseconds and the waves come every 200 ms: that much slack. */
	return actual >= r->low - 200 * MS && actual <= r->high + 200 * MS;
}

static void keep_range(world *w, guint64 pid, const ah_wait_estimate *e)
{
	guint i = range_count[pid] % 8;
	if (!e->known)
		return;
	ranges[pid][i] = (told_range){w->now, e->low_us, e->median_us, e->high_us};
	if (range_count[pid] == 0 && first_range[pid].at == 0)
		first_range[pid] = ranges[pid][i];
	range_count[pid]++;
}

static void settle(world *w, guint64 pid)
{
	person *p = &w->people[pid];
	guint n = MIN(range_count[pid], 8);
	for (guint i = 0; i < n; i++) {
		gint64 actual = p->admitted_at - ranges[pid][i].at;
		w->told++;
		w->covered += holds(&ranges[pid][i], p->admitted_at);
		if (ranges[pid][i].median <= 3 * actual + 2 * SEC && 3 * ranges[pid][i].median + 2 * SEC >= actual)
			w->sharp++;
	}
	if (first_range[pid].at != 0) {
		w->first++;
		w->first_covered += holds(&first_range[pid], p->admitted_at);
	}
	range_count[pid] = 0;
	w->grew += p->grew;
}

static void handle_events(world *w, gint64 (*stay)(world *, guint8))
{
	for (guint i = 0; i < w->events->len; i++) {
		const ah_adm_event *ev = &g_array_index(w->events, ah_adm_event, i);
		person *p = &w->people[ev->pid];
		if (ev->kind == AH_ADM_EV_POSITION) {
			tell(w, ev->pid, &ev->estimate);
			keep_range(w, ev->pid, &ev->estimate);
		} else if (ev->kind == AH_ADM_EV_ADMITTED) {
			p->admitted_at = w->now;
			g_assert_cmpint(ah_admission_connected(w->adm, ev->pid, w->now), ==, TRUE);
			p->left_at = w->now + stay(w, p->tenant);
			settle(w, ev->pid);
		}
	}
	g_array_set_size(w->events, 0);
}

/* A new attendee of tenant t ("t0"/"t1", room "r") joins at w->now. */
static guint64 arrive(world *w, guint8 t, gint64 (*stay)(world *, guint8))
{
	guint64 pid = w->next_pid++;
	ah_adm_join out;
	person *p = &w->people[pid];
	ah_adm_state s;
	g_assert_cmpuint(pid, <, MAX_PIDS);
	p->tenant = t;
	p->joined_at = w->now;
	s = ah_admission_join_class(w->adm, pid, t ? "t1" : "t0", "r", AH_ADM_ORDINARY, w->now, &out, w->events);
	if (s == AH_ADM_CONNECTING) {
		p->admitted_at = w->now;
		g_assert_cmpint(ah_admission_connected(w->adm, pid, w->now), ==, TRUE);
		p->left_at = w->now + stay(w, t);
	} else {
		g_assert_cmpint(s, ==, AH_ADM_QUEUED);
		tell(w, pid, &out.estimate);
		keep_range(w, pid, &out.estimate);
	}
	handle_events(w, stay);
	return pid;
}

/* Everyone seated whose stay is over leaves now. */
static guint departures(world *w, gint64 (*stay)(world *, guint8))
{
	guint n = 0;
	for (guint64 pid = 1; pid < w->next_pid; pid++) {
		person *p = &w->people[pid];
		if (p->left_at != 0 && p->left_at <= w->now) {
			p->left_at = 0;
			g_assert_cmpint(ah_admission_leave(w->adm, pid, w->now, w->events), ==, AH_ADM_ACTIVE);
			n++;
		}
	}
	handle_events(w, stay);
	return n;
}

static void setup_tenants(world *w, guint tenant_cap, guint room_cap)
{
	for (int t = 0; t < 2; t++) {
		ah_admission_set_tenant(w->adm, t ? "t1" : "t0", tenant_cap);
		g_assert_cmpint(ah_admission_set_room(w->adm, t ? "t1" : "t0", "r", room_cap), ==, TRUE);
	}
}

/* --- the turnover meter and its estimate */

static void test_turnover_meter(void)
{
	ah_turnover t;
	double releases, seat_s;
	guint seats;
	gint64 now = 100 * SEC;
	ah_wait_estimate a, b, capped;
	ah_turnover_init(&t);
	ah_turnover_read(&t, now, &releases, &seat_s, &seats);
	g_assert_cmpfloat(releases, ==, 0);
	g_assert_cmpfloat(seat_s, ==, 0);
	/* 10 seats for 100 s, 5 of them given up along the way (and taken again at once). */
	ah_turnover_seats(&t, 10, now);
	for (int i = 1; i <= 5; i++)
		ah_turnover_release(&t, now + i * 20 * SEC);
	ah_turnover_read(&t, now + 100 * SEC, &releases, &seat_s, &seats);
	g_assert_cmpfloat(releases, ==, 5);
	g_assert_cmpfloat(fabs(seat_s - 1000), <, 1e-6);
	g_assert_cmpuint(seats, ==, 10);
	/* Half the seats for the next 100 s: half the seat-seconds. */
	ah_turnover_seats(&t, 5, now + 100 * SEC);
	ah_turnover_read(&t, now + 200 * SEC, &releases, &seat_s, &seats);
	g_assert_cmpfloat(fabs(seat_s - 1500), <, 1e-6);
	/* A full ring: the oldest kept release starts the exposure, the others count. */
	for (int i = 1; i <= AH_TURNOVER_KEEP; i++)
		ah_turnover_release(&t, now + 200 * SEC + i * SEC);
	ah_turnover_read(&t, now + 200 * SEC + AH_TURNOVER_KEEP * SEC, &releases, &seat_s, &seats);
	g_assert_cmpfloat(releases, ==, AH_TURNOVER_KEEP - 1);
	g_assert_cmpfloat(fabs(seat_s - 5.0 * (AH_TURNOVER_KEEP - 1)), <, 1e-6);
	/* 15 releases over 75 seat-seconds with 5 seats held: one a second. The 3rd next release comes
	 * after about 3 s; 5 s without a release lengthens that by the exposure's growth (75 -> 100
	 * seat-seconds), never x6. */
	a = ah_wait_estimate_turnover(3, 15, 75, 5);
	b = ah_wait_estimate_turnover(3, 15, 100, 5);
	g_assert_true(a.known);
	g_assert_cmpint(a.median_us, >, 2 * SEC);
	g_assert_cmpint(a.median_us, <, 4 * SEC);
	g_assert_cmpint(a.low_us, <, a.median_us);
	g_assert_cmpint(a.median_us, <, a.high_us);
	g_assert_cmpfloat((double)b.median_us / a.median_us, <, 1.4);
	/* More releases needed, longer; nothing measured, unknown (and why). */
	g_assert_cmpint(ah_wait_estimate_turnover(30, 15, 75, 5).median_us, >, 8 * a.median_us);
	b = ah_wait_estimate_turnover(3, 15, 0, 5);
	g_assert_false(b.known);
	g_assert_cmpint(b.reason, ==, AH_WAIT_NO_DEPARTURES);
	/* The window's end caps it, and says so once the median is past it. */
	capped = a;
	ah_wait_estimate_cap(&capped, 2 * SEC);
	g_assert_true(capped.beyond_window);
	g_assert_cmpint(capped.median_us, ==, 2 * SEC);
	g_assert_cmpint(capped.high_us, ==, 2 * SEC);
	g_assert_cmpint(capped.low_us, ==, MIN(a.low_us, 2 * SEC));
	capped = a;
	ah_wait_estimate_cap(&capped, 100 * SEC);
	g_assert_false(capped.beyond_window);
	g_assert_cmpint(capped.high_us, ==, a.high_us);
	/* Once beyond, the capped figures counting down are no news; coming back within is. */
	b = capped;
	ah_wait_estimate_cap(&a, 2 * SEC);
	capped = a;
	ah_wait_estimate_cap(&capped, SEC);
	g_assert_false(ah_wait_estimate_changed(&a, &capped));
	g_assert_true(ah_wait_estimate_changed(&a, &b));
}

/* --- the reproductions */

/* Steady pace: the seated leave one every 4 s (a fixed stay for everyone). */
static gint64 stay_steady(world *w, guint8 t)
{
	return 80 * SEC;
}

/* How many queued attendees' latest told estimate is unknown. */
static guint unknown_now(world *w)
{
	guint n = 0;
	for (guint64 pid = 1; pid < w->next_pid; pid++)
		n += ah_admission_state(w->adm, pid) == AH_ADM_QUEUED && !w->people[pid].told.known;
	return n;
}

/* Steady arrivals (one every `every`) for `span`, ticks every 200 ms; returns the attendee-ticks
 * spent with an unknown wait after the first `warmup`. */
static guint run_steady(world *w, gint64 span, gint64 every, gint64 warmup, gint64 (*stay)(world *, guint8))
{
	guint unknown = 0;
	for (gint64 start = w->now, next_arrival = w->now + every; w->now < start + span; w->now += 200 * MS) {
		departures(w, stay);
		if (w->now >= next_arrival) {
			arrive(w, 0, stay);
			next_arrival += every;
		}
		ah_admission_tick(w->adm, w->now, w->events);
		handle_events(w, stay);
		if (w->now >= start + warmup)
			unknown += unknown_now(w);
	}
	return unknown;
}

/* A full node (20 seats) where attendees leave slowly and steadily (one every 4 s) and a queue of
 * ~10 waits: what every queued attendee was told must not grow x6 in 5 s (it did: the admission
 * rate decayed by 0.7 a second between admissions; one attendee was told 1,968 s at position 2
 * and admitted 4 s later), and the told ranges must hold the actual waits. */
static void test_full_node_slow_departures(void)
{
	ah_admission_config c = waves_config(20);
	world w;
	world_init(&w, &c, 1);
	setup_tenants(&w, 1000, 1000);
	/* 20 seated, joined 4 s apart in the past (so they leave 4 s apart), then 10 queued. */
	for (guint i = 0; i < 20; i++) {
		guint64 pid = arrive(&w, 0, stay_steady);
		w.people[pid].left_at = w.now + (gint64)(i + 1) * 4 * SEC;
		w.now += 200 * MS;
		ah_admission_tick(w.adm, w.now, w.events);
		handle_events(&w, stay_steady);
	}
	for (guint i = 0; i < 10; i++)
		arrive(&w, 0, stay_steady);
	/* Five minutes: a newcomer every 4 s keeps the queue at ~10. */
	run_steady(&w, 300 * SEC, 4 * SEC, 0, stay_steady);
	g_test_message("full node: %u estimates told, %u held the actual wait, %u within x3, %u attendees saw x2 growth",
		w.told, w.covered, w.sharp, w.grew);
	g_assert_cmpuint(w.told, >=, 60);
	g_assert_cmpuint(w.grew, ==, 0);
	g_assert_cmpfloat((double)w.sharp / w.told, >=, 0.8);
	g_assert_cmpfloat((double)w.covered / w.told, >=, 0.8);
	world_free(&w);
}

/* A small capped room (3 seats on a big node) whose attendees leave every 20 s: the queue must
 * get a known estimate (it said "estimating..." forever: the admission rate was never "known" at
 * one admission per 20 s), and it must hold. */
static gint64 stay_small_room(world *w, guint8 t)
{
	return 60 * SEC;
}

static void test_small_room_known(void)
{
	ah_admission_config c = waves_config(1000);
	world w;
	guint known_at_end = 0, unknown;
	world_init(&w, &c, 2);
	setup_tenants(&w, 1000, 3);
	for (guint i = 0; i < 3; i++) {
		guint64 pid = arrive(&w, 0, stay_small_room);
		w.people[pid].left_at = w.now + (gint64)(i + 1) * 20 * SEC;
	}
	for (guint i = 0; i < 4; i++)
		arrive(&w, 0, stay_small_room);
	/* Ten minutes, a newcomer every 20 s; after the first two departures (100 s), nobody in the
	 * queue is left with "estimating...". */
	unknown = run_steady(&w, 600 * SEC, 20 * SEC, 100 * SEC, stay_small_room);
	/* Everyone still queued knows its wait by now. */
	for (guint64 pid = 1; pid < w.next_pid; pid++)
		if (ah_admission_state(w.adm, pid) == AH_ADM_QUEUED) {
			g_assert_cmpint(w.people[pid].told.known, ==, TRUE);
			known_at_end++;
		}
	g_test_message("small room: %u estimates told, %u held the actual wait; %u attendee-ticks unknown", w.told,
		w.covered, unknown);
	g_assert_cmpuint(unknown, ==, 0);
	g_assert_cmpuint(known_at_end, >=, 3);
	g_assert_cmpuint(w.told, >=, 20);
	g_assert_cmpfloat((double)w.covered / w.told, >=, 0.8);
	world_free(&w);
}

/* --- calibration: many random arrival and departure processes */

typedef enum { STAY_EXPONENTIAL, STAY_STEADY, STAY_LOGNORMAL, STAY_KINDS } stay_kind;
static const char *const stay_names[STAY_KINDS] = {"exponential", "steady", "lognormal"};

typedef enum { BIND_NODE, BIND_ROOM, BIND_SHARED, BIND_KINDS } bind_kind;
static const char *const bind_names[BIND_KINDS] = {"node", "room", "two tenants"};

/* The process of one scenario: how long people stay (its kind and mean, per tenant). */
static stay_kind sim_kind;
static double sim_mean_s[2];

static gint64 stay_random(world *w, guint8 t)
{
	double mean = sim_mean_s[t], x;
	switch (sim_kind) {
	case STAY_EXPONENTIAL:
		x = -mean * log(1 - g_rand_double(w->rand));
		break;
	case STAY_STEADY:
		x = mean * g_rand_double_range(w->rand, 0.7, 1.3);
		break;
	default: {
		/* lognormal, sigma 1, of that mean */
		double u1 = 1 - g_rand_double(w->rand), u2 = g_rand_double(w->rand);
		double z = sqrt(-2 * log(u1)) * cos(2 * G_PI * u2);
		x = mean * exp(z - 0.5);
		break;
	}
	}
	return (gint64)(x * SEC) + 1;
}

/* A stay drawn with a probability proportional to its length (cut at 8 means). */
static gint64 length_biased_stay(world *w, guint8 t)
{
	for (;;) {
		gint64 x = stay_random(w, t);
		if (g_rand_double(w->rand) * 8 * sim_mean_s[t] * SEC < (double)x)
			return x;
	}
}

/* Seated attendees by the time they leave (a pid in the tree's key order: time, then pid). */
static gint by_leave(gconstpointer a, gconstpointer b, gpointer data)
{
	const person *people = data;
	guint64 x = GPOINTER_TO_SIZE(a), y = GPOINTER_TO_SIZE(b);
	gint64 tx = people[x].left_at, ty = people[y].left_at;
	return tx != ty ? (tx < ty ? -1 : 1) : (x < y ? -1 : x > y);
}

typedef struct {
	guint told, covered, first, first_covered, sharp;
} tally;

/* The seats are taken already, by people who came at random times before: what is left of each
 * stay is a random part of a length-biased stay (a steady state's residual life). */
static void fill_seats(world *w, guint seats, gboolean two_tenants)
{
	for (guint i = 0; i < seats; i++) {
		guint64 pid = arrive(w, two_tenants ? (guint8)(i % 2) : 0, stay_random);
		person *p = &w->people[pid];
		if (p->left_at == 0) {
			w->now += 200 * MS;
			ah_admission_tick(w->adm, w->now, w->events);
			handle_events(w, stay_random);
		}
		p->left_at = w->now + (gint64)(g_rand_double(w->rand) * (double)length_biased_stay(w, p->tenant)) + 1;
	}
}

/* Everyone seated (a leave time set) and not in the tree yet goes into it. */
static void track_seated(world *w, GSequence *seated)
{
	for (guint64 pid = 1; pid < w->next_pid; pid++)
		if (w->people[pid].left_at != 0 && g_sequence_lookup(seated, GSIZE_TO_POINTER(pid), by_leave, w->people) == NULL)
			g_sequence_insert_sorted(seated, GSIZE_TO_POINTER(pid), by_leave, w->people);
}

/* Whoever's stay is over leaves now. */
static void leave_due(world *w, GSequence *seated)
{
	GSequenceIter *head;
	while (!g_sequence_iter_is_end(head = g_sequence_get_begin_iter(seated)) &&
		w->people[GPOINTER_TO_SIZE(g_sequence_get(head))].left_at <= w->now) {
		guint64 pid = GPOINTER_TO_SIZE(g_sequence_get(head));
		g_sequence_remove(head);
		w->people[pid].left_at = 0;
		g_assert_cmpint(ah_admission_leave(w->adm, pid, w->now, w->events), ==, AH_ADM_ACTIVE);
	}
}

/* One scenario: capacity, process and binding drawn from the seed; runs until `admissions`
 * attendees came out of the queue. */
static void run_scenario(guint32 seed, stay_kind kind, bind_kind bind, tally *out)
{
	ah_admission_config c;
	world w;
	guint seats, admitted = 0;
	double arrival_rate;
	gint64 next_arrival;
	GSequence *seated;
	memset(range_count, 0, sizeof(range_count));
	memset(first_range, 0, sizeof(first_range));
	c = waves_config(0);
	world_init(&w, &c, seed);
	seats = (guint)g_rand_int_range(w.rand, 3, 120);
	sim_kind = kind;
	sim_mean_s[0] = exp(g_rand_double_range(w.rand, log(30), log(1200)));
	sim_mean_s[1] = bind == BIND_SHARED ? sim_mean_s[0] * g_rand_double_range(w.rand, 0.5, 2) : sim_mean_s[0];
	c.capacity = bind == BIND_ROOM ? 100000 : seats;
	ah_admission_set_config(w.adm, &c, w.now);
	setup_tenants(&w, 100000, bind == BIND_ROOM ? seats : 100000);
	if (bind == BIND_SHARED)
		g_assert_cmpint(ah_admission_set_tenant_share(w.adm, "t1", 2, 0, 0), ==, TRUE);
	/* Arrivals outpace departures by 5% to 60%, so a queue forms and stays. */
	arrival_rate = seats / sim_mean_s[0] * g_rand_double_range(w.rand, 1.05, 1.6);
	seated = g_sequence_new(NULL);
	fill_seats(&w, seats, bind == BIND_SHARED);
	track_seated(&w, seated);
	next_arrival = w.now;
	/* Arrivals stop after a while and the queue drains: every told estimate is settled (stopping
	 * with people still queued would drop the longest waits, and bias the count). */
	while (admitted < 2 * seats + 20 || ah_admission_counts(w.adm, NULL, NULL).queued > 0) {
		gboolean arriving = admitted < 2 * seats + 20 && w.next_pid < MAX_PIDS - 10;
		GSequenceIter *head = g_sequence_get_begin_iter(seated);
		gint64 t_leave = g_sequence_iter_is_end(head) ? G_MAXINT64 : w.people[GPOINTER_TO_SIZE(g_sequence_get(head))].left_at;
		gint64 t = MIN(MIN(t_leave, arriving ? next_arrival : G_MAXINT64), ah_admission_next_deadline(w.adm, w.now));
		w.now = MAX(w.now, t);
		leave_due(&w, seated);
		if (arriving && w.now >= next_arrival) {
			arrive(&w, bind == BIND_SHARED ? (guint8)g_rand_int_range(w.rand, 0, 2) : 0, stay_random);
			next_arrival = w.now + (gint64)(-log(1 - g_rand_double(w.rand)) / arrival_rate * SEC) + 1;
		}
		ah_admission_tick(w.adm, w.now, w.events);
		/* Whoever got a seat is now seated: into the tree. */
		for (guint i = 0; i < w.events->len; i++)
			admitted += g_array_index(w.events, ah_adm_event, i).kind == AH_ADM_EV_ADMITTED;
		handle_events(&w, stay_random);
		track_seated(&w, seated);
	}
	out->told += w.told;
	out->covered += w.covered;
	out->sharp += w.sharp;
	out->first += w.first;
	out->first_covered += w.first_covered;
	g_sequence_free(seated);
	world_free(&w);
}

/* The announced ranges hold the actual waits at least 80% of the time, over many random
 * processes: stays exponential, steady (+-30%) or lognormal (heavy tailed), with means from 30 s
 * to 20 min; 3..120 seats; a full node, a capped room on a big node, or two tenants (weights 1
 * and 2, different stays) sharing a full node; arrivals 5-60% faster than departures. A statistical
 * property of a seeded simulation: deterministic. */
static void test_calibration(void)
{
	tally all = {0};
	for (int b = 0; b < BIND_KINDS; b++)
		for (int k = 0; k < STAY_KINDS; k++) {
			tally t = {0};
			for (guint32 seed = 1; seed <= 20; seed++)
				run_scenario(seed * 7919 + (guint32)(b * 31 + k), (stay_kind)k, (bind_kind)b, &t);
			g_test_message("%s, %s stays: %u estimates, %.1f%% in range, %.1f%% median within x3; first told: %u, "
				"%.1f%% in range", bind_names[b], stay_names[k], t.told, 100.0 * t.covered / MAX(t.told, 1),
				100.0 * t.sharp / MAX(t.told, 1), t.first, 100.0 * t.first_covered / MAX(t.first, 1));
			g_assert_cmpuint(t.told, >=, 100);
			g_assert_cmpfloat((double)t.covered / t.told, >=, 0.75);
			all.told += t.told;
			all.covered += t.covered;
			all.first += t.first;
			all.first_covered += t.first_covered;
			all.sharp += t.sharp;
		}
	g_test_message("all: %u estimates, %.1f%% in range, %.1f%% median within x3; first told: %u, %.1f%% in range",
		all.told, 100.0 * all.covered / all.told, 100.0 * all.sharp / all.told, all.first,
		100.0 * all.first_covered / all.first);
	g_assert_cmpfloat((double)all.covered / all.told, >=, 0.8);
	g_assert_cmpfloat((double)all.first_covered / all.first, >=, 0.8);
	/* ...and are not merely wide: the medians are close (the old ones held by being very wide, with
	 * a third of the medians off by more than x3). */
	g_assert_cmpfloat((double)all.sharp / all.told, >=, 0.9);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/waits/turnover-meter", test_turnover_meter);
	g_test_add_func("/waits/full-node/slow-departures", test_full_node_slow_departures);
	g_test_add_func("/waits/small-room/known", test_small_room_known);
	g_test_add_func("/waits/calibration", test_calibration);
	return g_test_run();
}
