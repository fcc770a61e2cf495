/* allhands: example tests of admission's fair queueing (plugin/core/admission.c and
 * admission-report.c): tenant weights (deficit round robin), reserved node seats, rooms taking
 * turns, the priority class, presenter seats, the join-rate budget, adaptive waves, rejoin grace,
 * queue bounds, pause and drain, estimates, status figures, and removal keeping the seat sums.
 *
 * One fresh ah_admission per test (the shared fixture, rebuilt with the config a test needs by
 * fresh()), time driven by hand (microseconds). Events compare as in test-admission.c: "A5"
 * admitted, "P5=1/3" position, "G5" grace expired, "D5" drained.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "admission-fixture.h"

#define MS G_GINT64_CONSTANT(1000)

/* The fixture's config (capacity 5, waves of 2 every second, reports at every call) with the
 * capacity and wave size of a test. */
static ah_admission_config config(guint capacity, guint wave_size)
{
	ah_admission_config c = default_config;
	c.capacity = capacity;
	c.wave_size = wave_size;
	return c;
}

/* Rebuilds f->adm with config c and the fixture's tenants and rooms (acme: town, hall; globex:
 * lobby; every cap 100). */
static void fresh(fixture *f, const ah_admission_config *c)
{
	ah_admission_free(f->adm);
	f->adm = ah_admission_new(c);
	ah_admission_set_tenant(f->adm, "acme", 100);
	g_assert_cmpint(ah_admission_set_room(f->adm, "acme", "town", 100), ==, TRUE);
	g_assert_cmpint(ah_admission_set_room(f->adm, "acme", "hall", 100), ==, TRUE);
	ah_admission_set_tenant(f->adm, "globex", 100);
	g_assert_cmpint(ah_admission_set_room(f->adm, "globex", "lobby", 100), ==, TRUE);
	g_array_set_size(f->events, 0);
}

/* Changes the capacity keeping the rest of the config. */
static void set_capacity(fixture *f, guint capacity)
{
	ah_admission_config c = *ah_admission_get_config(f->adm);
	c.capacity = capacity;
	ah_admission_set_config(f->adm, &c, f->now);
}

static void queue_range(fixture *f, guint64 first, guint64 last, const char *tenant, const char *room)
{
	for (guint64 pid = first; pid <= last; pid++)
		g_assert_cmpint(join(f, pid, tenant, room), ==, AH_ADM_QUEUED);
}

static ah_adm_state join_priority(fixture *f, guint64 pid, const char *tenant, const char *room)
{
	ah_adm_join out;
	ah_adm_state state = ah_admission_join_class(f->adm, pid, tenant, room, AH_ADM_PRIORITY, f->now, &out,
		f->events);
	f->position = out.position;
	return state;
}

/* How many events of `kind` in f->events are for pids in [lo, hi]. */
static guint count_events(fixture *f, ah_adm_event_kind kind, guint64 lo, guint64 hi)
{
	guint n = 0;
	for (guint i = 0; i < f->events->len; i++) {
		const ah_adm_event *ev = &g_array_index(f->events, ah_adm_event, i);
		if (ev->kind == kind && ev->pid >= lo && ev->pid <= hi)
			n++;
	}
	return n;
}

/* The pids admitted by the collected events, which are cleared. */
static GArray *take_admitted(fixture *f)
{
	GArray *pids = g_array_new(FALSE, FALSE, sizeof(guint64));
	for (guint i = 0; i < f->events->len; i++) {
		const ah_adm_event *ev = &g_array_index(f->events, ah_adm_event, i);
		if (ev->kind == AH_ADM_EV_ADMITTED)
			g_array_append_val(pids, ev->pid);
	}
	g_array_set_size(f->events, 0);
	return pids;
}

/* Every admitted pid in the collected events leaves at once (freeing its seat); returns how many. */
static guint admitted_leave(fixture *f)
{
	GArray *pids = take_admitted(f);
	guint n = pids->len;
	for (guint i = 0; i < pids->len; i++)
		leave(f, g_array_index(pids, guint64, i), AH_ADM_CONNECTING);
	g_array_free(pids, TRUE);
	return n;
}

static ah_adm_stats stats(fixture *f, const char *tenant, const char *room)
{
	ah_adm_stats s;
	g_assert_cmpint(ah_admission_stats(f->adm, tenant, room, f->now, &s), ==, TRUE);
	return s;
}

static guint node_seats(fixture *f, const char *tenant)
{
	ah_adm_counts c = ah_admission_counts(f->adm, tenant, NULL);
	return c.active + c.connecting + c.rejoining;
}

/* --- weights */

/* The node's capacity is the bottleneck; acme has weight 3, globex 1: every wave of 4 seats (a
 * whole DRR round) admits exactly 3 of acme and 1 of globex. */
static void test_share_weights(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(0, 10);
	fresh(f, &c);
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "acme", 3, 0, 0), ==, TRUE);
	queue_range(f, 1, 200, "acme", "town");
	queue_range(f, 1001, 1200, "globex", "lobby");
	set_capacity(f, 4);
	for (guint wave = 0; wave < 20; wave++) {
		tick(f);
		g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1, 200), ==, 3);
		g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1001, 1200), ==, 1);
		g_assert_cmpuint(admitted_leave(f), ==, 4);
		f->now += INTERVAL;
	}
	assert_counts(f, "acme", NULL, 0, 0, 140, 0);
	assert_counts(f, "globex", NULL, 0, 0, 180, 0);
}

/* A DRR round longer than a wave carries over: capacity 2, so a round (3 + 1) takes two waves. */
static void test_share_weights_across_waves(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(0, 10);
	guint acme = 0, globex = 0;
	fresh(f, &c);
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "acme", 3, 0, 0), ==, TRUE);
	queue_range(f, 1, 100, "acme", "town");
	queue_range(f, 1001, 1100, "globex", "lobby");
	set_capacity(f, 2);
	for (guint wave = 0; wave < 20; wave++) {
		tick(f);
		acme += count_events(f, AH_ADM_EV_ADMITTED, 1, 100);
		globex += count_events(f, AH_ADM_EV_ADMITTED, 1001, 1100);
		g_assert_cmpuint(admitted_leave(f), ==, 2);
		if (wave % 2 == 1) {
			g_assert_cmpuint(acme, ==, 3 * (wave + 1) / 2);
			g_assert_cmpuint(globex, ==, (wave + 1) / 2);
		}
		f->now += INTERVAL;
	}
	/* Unknown tenant; a weight of 0 counts as 1. */
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "nobody", 1, 0, 0), ==, FALSE);
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "acme", 0, 0, 0), ==, TRUE);
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1, 100), ==, 1);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1001, 1100), ==, 1);
}

/* --- reserved seats */

static void test_share_reserved(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(4, 10);
	fresh(f, &c);
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "acme", 1, 2, 0), ==, TRUE);
	/* globex fills the unreserved seats and queues for more. */
	join_admitted(f, 1001, 1002, "globex", "lobby");
	queue_range(f, 1003, 1010, "globex", "lobby");
	/* Others cannot take acme's reserved seats, whatever the waves. */
	for (guint i = 0; i < 3; i++) {
		f->now += INTERVAL;
		tick(f);
		assert_events(f, "");
	}
	g_assert_cmpuint(node_seats(f, "globex"), ==, 2);
	/* acme, below its reserve, gets its seats although globex queued first. */
	g_assert_cmpint(join(f, 1, "acme", "town"), !=, AH_ADM_NONE);
	g_assert_cmpint(join(f, 2, "acme", "hall"), !=, AH_ADM_NONE);
	f->now += INTERVAL;
	tick(f);
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_CONNECTING);
	g_assert_cmpint(ah_admission_state(f->adm, 2), ==, AH_ADM_CONNECTING);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1001, 1010), ==, 0);
	g_array_set_size(f->events, 0);
	/* Beyond its reserve acme competes for unreserved seats like anyone (none is free). */
	queue_range(f, 3, 3, "acme", "town");
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "");
	/* A seat freed by acme goes to acme first while it is below its reserve again... */
	leave(f, 1, AH_ADM_CONNECTING);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "A3");
	/* ...while a seat freed by globex is unreserved: DRR between the two tenants. */
	queue_range(f, 4, 4, "acme", "town");
	leave(f, 1001, AH_ADM_CONNECTING);
	f->now += INTERVAL;
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1, 1010), ==, 1);
	g_assert_cmpuint(node_seats(f, NULL), ==, 4);
}

/* A reserve larger than the need still holds the seats; larger than the node, it takes it all. */
static void test_share_reserved_beyond_need(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(4, 10);
	fresh(f, &c);
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "acme", 1, 3, 0), ==, TRUE);
	join_admitted(f, 1, 1, "acme", "town");
	join_admitted(f, 1001, 1001, "globex", "lobby");
	queue_range(f, 1002, 1005, "globex", "lobby");
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "");
	/* Two seats are free, but they are acme's. */
	g_assert_cmpuint(node_seats(f, NULL), ==, 2);
	/* Lowering the reserve gives them back at the next wave. */
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "acme", 1, 1, 0), ==, TRUE);
	f->now += INTERVAL;
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1002, 1005), ==, 2);
	g_array_set_size(f->events, 0);
	/* A reserve beyond the node's capacity: nobody else gets a seat, acme can use them all. */
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "acme", 1, 10, 0), ==, TRUE);
	leave(f, 1001, AH_ADM_CONNECTING);
	leave(f, 1002, AH_ADM_CONNECTING);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "");
	join(f, 2, "acme", "town");
	join(f, 3, "acme", "town");
	join(f, 4, "acme", "town");
	f->now += INTERVAL;
	tick(f);
	g_assert_cmpuint(node_seats(f, "acme"), ==, 3);
	g_assert_cmpuint(node_seats(f, NULL), ==, 4);
	g_assert_cmpint(ah_admission_state(f->adm, 4), ==, AH_ADM_QUEUED);
}

/* The header: "admitted at once when its caps allow it [...] and nobody queued could be admitted
 * now". globex's queue cannot be admitted (the unreserved seats are full), yet acme's attendee,
 * below its reserve, is queued until the next wave. */
static void test_share_reserved_at_once(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(4, 10);
	fresh(f, &c);
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "acme", 1, 2, 0), ==, TRUE);
	join_admitted(f, 1001, 1002, "globex", "lobby");
	queue_range(f, 1003, 1004, "globex", "lobby");
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "");
	/* globex is ready but blocked by the full unreserved seats: acme's reserve admits at once. */
	g_assert_cmpint(ah_admission_join(f->adm, 1, "acme", "town", f->now, NULL, f->events), ==, AH_ADM_CONNECTING);
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_CONNECTING);
}

/* --- within a tenant */

static void test_share_rooms_take_turns(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(0, 6);
	fresh(f, &c);
	queue_range(f, 1, 4, "acme", "town");
	queue_range(f, 11, 14, "acme", "hall");
	set_capacity(f, 100);
	tick(f);
	assert_events(f, "A1 A11 A2 A12 A3 A13 P4=1/1 P14=1/1");
}

static void test_share_priority(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(0, 4);
	fresh(f, &c);
	queue_range(f, 1, 2, "acme", "town");
	/* A priority attendee goes ahead of the room's ordinary ones, who are told. */
	g_assert_cmpint(join_priority(f, 3, "acme", "town"), ==, AH_ADM_QUEUED);
	g_assert_cmpuint(f->position, ==, 1);
	assert_events(f, "P1=2/3 P2=3/3");
	/* Behind the priority ones already there. */
	g_assert_cmpint(join_priority(f, 4, "acme", "town"), ==, AH_ADM_QUEUED);
	g_assert_cmpuint(f->position, ==, 2);
	assert_events(f, "P1=3/4 P2=4/4");
	assert_queue(f, "acme", "town", "3 4 1 2");
	g_assert_cmpuint(ah_admission_position(f->adm, 2), ==, 4);
	/* Another room's priority attendee comes before every ordinary one of the tenant. */
	queue_range(f, 11, 11, "acme", "hall");
	g_assert_cmpint(join_priority(f, 12, "acme", "hall"), ==, AH_ADM_QUEUED);
	assert_events(f, "P11=2/2");
	set_capacity(f, 100);
	tick(f);
	assert_events(f, "A3 A12 A4 A1 P2=1/1 P11=1/1");
}

static void test_share_presenter_seats(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(100, 10);
	fresh(f, &c);
	ah_admission_set_tenant(f->adm, "acme", 3);
	g_assert_cmpint(ah_admission_set_presenter_seats(f->adm, "acme", "town", 1), ==, TRUE);
	g_assert_cmpint(ah_admission_set_presenter_seats(f->adm, "acme", "nowhere", 1), ==, FALSE);
	/* Attendees cannot take the presenter seat: two of the three tenant seats are theirs. */
	join_admitted(f, 1, 2, "acme", "town");
	join_queued(f, 3, "acme", "hall", 1);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "");
	/* The tenant is full of attendees, yet the presenter gets its seat. */
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "town"), ==, TRUE);
	/* Beyond the presenter seats, a presenter needs a free tenant seat: refused when full. */
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 51, "acme", "town"), ==, FALSE);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 52, "acme", "hall"), ==, FALSE);
	assert_counts(f, "acme", NULL, 0, 2, 1, 1);
	/* The presenter leaving frees a presenter seat, still not for attendees. */
	leave(f, 50, AH_ADM_ACTIVE);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "");
	/* An attendee leaving frees an ordinary seat: the queue gets it. */
	leave(f, 1, AH_ADM_CONNECTING);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "A3");
	/* Without presenter seats the attendees may use all three. */
	g_assert_cmpint(ah_admission_set_presenter_seats(f->adm, "acme", "town", 0), ==, TRUE);
	join_admitted(f, 4, 4, "acme", "town");
	assert_counts(f, "acme", NULL, 0, 3, 0, 0);
}

/* --- join-rate budget */

static void test_share_token_bucket(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(100, 10);
	gint64 t0 = f->now;
	guint admitted = 0;
	c.wave_interval_us = 0;
	c.join_rate = 2;
	c.join_burst = 2;
	fresh(f, &c);
	/* The bucket starts full: two at once, then the queue. */
	join_admitted(f, 1, 2, "acme", "town");
	queue_range(f, 3, 40, "acme", "town");
	/* The next token comes 0.5 s later. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, t0 + 500 * MS);
	f->now = t0 + 500 * MS - 1;
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1, 40), ==, 0);
	f->now = t0 + 500 * MS;
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1, 40), ==, 1);
	g_array_set_size(f->events, 0);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, t0 + 1000 * MS);
	/* Ticking often admits no faster than the rate: 2 per second. */
	for (f->now = t0 + 600 * MS; f->now <= t0 + 4500 * MS; f->now += 100 * MS) {
		tick(f);
		admitted += count_events(f, AH_ADM_EV_ADMITTED, 1, 40);
		g_array_set_size(f->events, 0);
	}
	g_assert_cmpuint(admitted, ==, 8);
	/* After a long quiet spell the bucket holds `burst` tokens: one wave takes 2, not wave_size. */
	f->now = t0 + 60 * SEC;
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1, 40), ==, 2);
}

/* --- adaptive waves */

static void test_share_adaptive(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(0, 16);
	GArray *connecting = g_array_new(FALSE, FALSE, sizeof(guint64));
	ah_adm_stats s;
	guint limit;
	c.wave_mode = AH_WAVES_ADAPTIVE;
	c.wave_min = 2;
	c.cpu_target = 0.8;
	fresh(f, &c);
	/* Initial limit: a quarter of the wave size. */
	g_assert_cmpuint(stats(f, NULL, NULL).wave_size, ==, 4);
	ah_admission_set_tenant(f->adm, "acme", 5000);
	g_assert_cmpint(ah_admission_set_room(f->adm, "acme", "town", 5000), ==, TRUE);
	queue_range(f, 1, 1000, "acme", "town");
	set_capacity(f, 2000);
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1, 1000), ==, 4);
	{
		GArray *pids = take_admitted(f);
		g_array_append_vals(connecting, pids->data, pids->len);
		g_array_free(pids, TRUE);
	}
	/* Nobody connected: the limit is in use, the next wave admits nobody. */
	f->now += INTERVAL;
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1, 1000), ==, 0);
	g_array_set_size(f->events, 0);
	/* Setup times stay at their baseline: the limit grows; a wave never admits more than
	 * limit - connecting. */
	for (guint wave = 0; wave < 30; wave++) {
		guint before, n;
		GArray *pids;
		/* Those admitted by the last wave come up after 200 ms, every time. */
		f->now += 200 * MS;
		for (guint i = 0; i < connecting->len; i++)
			g_assert_cmpint(ah_admission_connected(f->adm, g_array_index(connecting, guint64, i), f->now), ==,
				TRUE);
		g_array_set_size(connecting, 0);
		before = ah_admission_counts(f->adm, NULL, NULL).connecting;
		f->now += INTERVAL - 200 * MS;
		tick(f);
		pids = take_admitted(f);
		n = pids->len;
		s = stats(f, NULL, NULL);
		g_assert_cmpuint(before + n, <=, s.wave_size);
		g_assert_cmpuint(s.counts.connecting, <=, s.wave_size);
		g_array_append_vals(connecting, pids->data, pids->len);
		g_array_free(pids, TRUE);
	}
	limit = stats(f, NULL, NULL).wave_size;
	g_assert_cmpuint(limit, >, 4);
	g_assert_cmpuint(limit, <=, 16);
	/* CPU above its target shrinks the limit at the next wave. */
	f->now += 200 * MS;
	for (guint i = 0; i < connecting->len; i++)
		g_assert_cmpint(ah_admission_connected(f->adm, g_array_index(connecting, guint64, i), f->now), ==, TRUE);
	ah_admission_cpu_sample(f->adm, 1.6, f->now);
	g_assert_cmpfloat(stats(f, NULL, NULL).cpu, ==, 1.6);
	f->now += INTERVAL;
	tick(f);
	s = stats(f, NULL, NULL);
	g_assert_cmpuint(s.wave_size, <, limit);
	g_assert_cmpuint(s.wave_size, <=, (limit + 1) / 2 + 1);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1, 1000), <=, s.wave_size);
	g_array_free(connecting, TRUE);
}

/* --- rejoin grace */

static void test_share_rejoin(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(1, 1);
	gint64 held;
	c.rejoin_grace_us = 30 * SEC;
	fresh(f, &c);
	join_admitted(f, 1, 1, "acme", "town");
	connect_all(f, 1, 1);
	join_queued(f, 2, "acme", "town", 1);
	/* Hold keeps the seat. */
	g_assert_cmpint(ah_admission_hold(f->adm, 1, f->now), ==, TRUE);
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_REJOINING);
	g_assert_cmpuint(ah_admission_counts(f->adm, NULL, NULL).rejoining, ==, 1);
	g_assert_cmpuint(ah_admission_counts(f->adm, "acme", "town").rejoining, ==, 1);
	g_assert_cmpint(ah_admission_hold(f->adm, 1, f->now), ==, FALSE);
	f->now += 5 * SEC;
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1, 100), ==, 0);
	g_array_set_size(f->events, 0);
	/* Rejoin passes the seat to the new pid as CONNECTING. */
	g_assert_cmpint(ah_admission_rejoin(f->adm, 1, 3, f->now), ==, TRUE);
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_NONE);
	g_assert_cmpint(ah_admission_state(f->adm, 3), ==, AH_ADM_CONNECTING);
	assert_counts(f, NULL, NULL, 0, 1, 1, 0);
	g_assert_cmpuint(ah_admission_counts(f->adm, NULL, NULL).rejoining, ==, 0);
	g_assert_cmpint(ah_admission_rejoin(f->adm, 1, 4, f->now), ==, FALSE);
	/* A CONNECTING attendee may be held too; rejoin to a known pid is refused. */
	g_assert_cmpint(ah_admission_hold(f->adm, 3, f->now), ==, TRUE);
	held = f->now;
	g_assert_cmpint(ah_admission_rejoin(f->adm, 3, 2, f->now), ==, FALSE);
	g_assert_cmpint(ah_admission_rejoin(f->adm, 3, 0, f->now), ==, FALSE);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), <=, held + 30 * SEC);
	/* At the end of the grace the seat is freed and goes to the queue. */
	f->now = held + 30 * SEC - 1;
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_GRACE_EXPIRED, 3, 3), ==, 0);
	g_array_set_size(f->events, 0);
	f->now = held + 30 * SEC;
	tick(f);
	assert_events(f, "G3 A2");
	g_assert_cmpint(ah_admission_state(f->adm, 3), ==, AH_ADM_NONE);
	assert_counts(f, NULL, NULL, 0, 1, 0, 0);
	/* Hold is refused for what is not seated: queued, presenters, unknown. */
	join_queued(f, 5, "acme", "town", 1);
	g_assert_cmpint(ah_admission_hold(f->adm, 5, f->now), ==, FALSE);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "town"), ==, TRUE);
	g_assert_cmpint(ah_admission_hold(f->adm, 50, f->now), ==, FALSE);
	g_assert_cmpint(ah_admission_hold(f->adm, 99, f->now), ==, FALSE);
	/* A held attendee may also leave. */
	g_assert_cmpint(ah_admission_hold(f->adm, 2, f->now), ==, TRUE);
	leave(f, 2, AH_ADM_REJOINING);
	g_assert_cmpuint(ah_admission_counts(f->adm, NULL, NULL).rejoining, ==, 0);
}

static void test_share_rejoin_no_grace(fixture *f, gconstpointer data)
{
	join_admitted(f, 1, 1, "acme", "town");
	g_assert_cmpint(ah_admission_hold(f->adm, 1, f->now), ==, FALSE);
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_CONNECTING);
	/* Nothing held: a rejoin is a take-over of the seat (no grace needed, nothing was lost). */
	g_assert_cmpint(ah_admission_rejoin(f->adm, 1, 2, f->now), ==, TRUE);
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_NONE);
	g_assert_cmpint(ah_admission_state(f->adm, 2), ==, AH_ADM_CONNECTING);
	g_assert_cmpuint(ah_admission_counts(f->adm, NULL, NULL).connecting, ==, 1);
	g_assert_cmpint(ah_admission_rejoin(f->adm, 1, 3, f->now), ==, FALSE);
	g_assert_cmpint(ah_admission_rejoin(f->adm, 2, 2, f->now), ==, FALSE);
}

/* --- queue bounds */

static void test_share_queue_full(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(0, 1);
	ah_adm_join out;
	c.max_queued = 5;
	fresh(f, &c);
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "globex", 1, 0, 2), ==, TRUE);
	queue_range(f, 1001, 1002, "globex", "lobby");
	/* The tenant's bound. */
	g_assert_cmpint(ah_admission_join_class(f->adm, 1003, "globex", "lobby", AH_ADM_ORDINARY, f->now, &out,
		f->events), ==, AH_ADM_REFUSED_QUEUE_FULL);
	g_assert_cmpint(out.retry_after_us, >=, 1 * SEC);
	g_assert_cmpint(out.retry_after_us, <=, 600 * SEC);
	g_assert_cmpint(ah_admission_state(f->adm, 1003), ==, AH_ADM_NONE);
	/* Other tenants still queue, up to the node's bound. */
	queue_range(f, 1, 3, "acme", "town");
	g_assert_cmpint(ah_admission_join_class(f->adm, 4, "acme", "hall", AH_ADM_PRIORITY, f->now, &out,
		f->events), ==, AH_ADM_REFUSED_QUEUE_FULL);
	g_assert_cmpint(out.retry_after_us, >=, 1 * SEC);
	g_assert_cmpint(out.retry_after_us, <=, 600 * SEC);
	g_assert_cmpuint(out.position, ==, 0);
	g_assert_cmpint(ah_admission_state(f->adm, 4), ==, AH_ADM_NONE);
	assert_counts(f, NULL, NULL, 0, 0, 5, 0);
	assert_events(f, "");
	/* A place freed is a place to take. */
	leave(f, 1, AH_ADM_QUEUED);
	join_queued(f, 4, "acme", "hall", 1);
	/* Seats are not bounded: an attendee admitted at once is not refused. */
	set_capacity(f, 100);
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "globex", 1, 0, 0), ==, TRUE);
	for (gint i = 0; i < 10; i++) {
		f->now += INTERVAL;
		tick(f);
	}
	g_array_set_size(f->events, 0);
	join_admitted(f, 10, 10, "acme", "town");
}

/* --- pause and drain */

static void test_share_pause_node(fixture *f, gconstpointer data)
{
	ah_adm_join out;
	g_assert_cmpint(ah_admission_set_paused(f->adm, NULL, NULL, TRUE), ==, TRUE);
	g_assert_cmpint(stats(f, NULL, NULL).paused, ==, TRUE);
	g_assert_cmpint(ah_admission_join_class(f->adm, 1, "acme", "town", AH_ADM_ORDINARY, f->now, &out, f->events), ==,
		AH_ADM_QUEUED);
	g_assert_cmpuint(out.position, ==, 1);
	g_assert_cmpint(out.estimate.known, ==, FALSE);
	join_queued(f, 2, "globex", "lobby", 1);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	f->now += 10 * INTERVAL;
	tick(f);
	assert_events(f, "");
	/* Resume: the next wave is due now. */
	g_assert_cmpint(ah_admission_set_paused(f->adm, NULL, NULL, FALSE), ==, TRUE);
	g_assert_cmpint(stats(f, NULL, NULL).paused, ==, FALSE);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now);
	tick(f);
	assert_events(f, "A1 A2");
}

static void test_share_pause_room(fixture *f, gconstpointer data)
{
	g_assert_cmpint(ah_admission_set_paused(f->adm, "acme", "town", TRUE), ==, TRUE);
	g_assert_cmpint(ah_admission_set_paused(f->adm, "acme", "nowhere", TRUE), ==, FALSE);
	g_assert_cmpint(stats(f, "acme", "town").paused, ==, TRUE);
	g_assert_cmpint(stats(f, "acme", "hall").paused, ==, FALSE);
	g_assert_cmpint(stats(f, NULL, NULL).paused, ==, FALSE);
	join_queued(f, 1, "acme", "town", 1);
	join_queued(f, 2, "acme", "town", 2);
	/* Other rooms are not held up. */
	join_admitted(f, 3, 3, "acme", "hall");
	connect_all(f, 3, 3);
	f->now += 10 * INTERVAL;
	tick(f);
	assert_events(f, "");
	g_assert_cmpint(ah_admission_set_paused(f->adm, "acme", "town", FALSE), ==, TRUE);
	tick(f);
	assert_events(f, "A1 A2");
}

static void test_share_drain(fixture *f, gconstpointer data)
{
	ah_adm_join out;
	set_config(f, 1, 2, INTERVAL, TIMEOUT);
	join_admitted(f, 10, 10, "acme", "town");
	queue_range(f, 1, 2, "acme", "town");
	g_assert_cmpint(join_priority(f, 4, "acme", "town"), ==, AH_ADM_QUEUED);
	queue_range(f, 3, 3, "globex", "lobby");
	g_array_set_size(f->events, 0);
	/* Queued attendees are taken out in queue order (room by room, priority first). */
	ah_admission_set_draining(f->adm, TRUE, f->events);
	assert_events(f, "D4 D1 D2 D3");
	assert_counts(f, NULL, NULL, 0, 1, 0, 0);
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_NONE);
	g_assert_cmpint(stats(f, NULL, NULL).draining, ==, TRUE);
	/* Joins are refused; the seated stay. */
	g_assert_cmpint(ah_admission_join_class(f->adm, 5, "acme", "hall", AH_ADM_ORDINARY, f->now, &out, f->events), ==,
		AH_ADM_REFUSED_DRAINING);
	g_assert_cmpint(ah_admission_state(f->adm, 5), ==, AH_ADM_NONE);
	g_assert_cmpint(ah_admission_state(f->adm, 10), ==, AH_ADM_CONNECTING);
	g_assert_cmpint(ah_admission_connected(f->adm, 10, f->now), ==, TRUE);
	/* Undrain: joins queue again, and are admitted as usual. */
	ah_admission_set_draining(f->adm, FALSE, f->events);
	g_assert_cmpint(stats(f, NULL, NULL).draining, ==, FALSE);
	join_queued(f, 5, "acme", "hall", 1);
	leave(f, 10, AH_ADM_ACTIVE);
	assert_events(f, "A5");
}

/* --- estimates */

/* `queued` attendees queued in town (estimates unknown), then seats for all: from the returned
 * t0, a tick every second admits `wave_size`. */
static gint64 steady_start(fixture *f, guint wave_size, guint queued)
{
	ah_admission_config c = config(0, wave_size);
	ah_adm_join out;
	fresh(f, &c);
	for (guint64 pid = 1; pid <= queued; pid++) {
		g_assert_cmpint(ah_admission_join_class(f->adm, pid, "acme", "town", AH_ADM_ORDINARY, f->now, &out,
			f->events), ==, AH_ADM_QUEUED);
		g_assert_cmpint(out.estimate.known, ==, FALSE);
		g_assert_cmpuint(out.queue_length, ==, pid);
	}
	set_capacity(f, 1000);
	return f->now;
}

static void test_share_estimates(fixture *f, gconstpointer data)
{
	gint64 t0 = steady_start(f, 1, 40);
	guint known = 0;
	ah_adm_join out;
	for (gint i = 0; i < 6; i++) {
		f->now = t0 + i * SEC;
		tick(f);
		for (guint j = 0; j < f->events->len; j++) {
			const ah_adm_event *ev = &g_array_index(f->events, ah_adm_event, j);
			double expected;
			if (ev->kind != AH_ADM_EV_POSITION)
				continue;
			g_assert_cmpuint(ev->queue_length, ==, 40 - (guint)i - 1);
			/* Known at once: with seats free, the waves' pace (1 a second) is what holds the
			 * queue back, so the estimate needs no measured rate. */
			g_assert_cmpint(ev->estimate.known, ==, TRUE);
			known++;
			expected = ev->position * (double)SEC;
			g_assert_cmpfloat(ev->estimate.median_us, >=, 0.7 * expected);
			g_assert_cmpfloat(ev->estimate.median_us, <=, 1.3 * expected);
			g_assert_cmpint(ev->estimate.low_us, <=, ev->estimate.median_us);
			g_assert_cmpint(ev->estimate.median_us, <=, ev->estimate.high_us);
		}
		g_array_set_size(f->events, 0);
	}
	g_assert_cmpuint(known, >, 0);
	/* A joiner is told its estimate at once. */
	g_assert_cmpint(ah_admission_join_class(f->adm, 100, "acme", "town", AH_ADM_ORDINARY, f->now, &out, f->events),
		==, AH_ADM_QUEUED);
	g_assert_cmpint(out.estimate.known, ==, TRUE);
	g_assert_cmpfloat(out.estimate.median_us, >=, 0.7 * out.position * SEC);
	g_assert_cmpfloat(out.estimate.median_us, <=, 1.3 * out.position * SEC);
	/* Paused, nobody moves: the estimates become unknown, and are reported so. */
	g_assert_cmpint(ah_admission_set_paused(f->adm, "acme", "town", TRUE), ==, TRUE);
	f->now += SEC;
	tick(f);
	g_assert_cmpuint(f->events->len, ==, ah_admission_counts(f->adm, "acme", "town").queued);
	for (guint j = 0; j < f->events->len; j++) {
		const ah_adm_event *ev = &g_array_index(f->events, ah_adm_event, j);
		g_assert_cmpint(ev->kind, ==, AH_ADM_EV_POSITION);
		g_assert_cmpint(ev->estimate.known, ==, FALSE);
	}
	g_array_set_size(f->events, 0);
	g_assert_cmpint(ah_admission_join_class(f->adm, 101, "acme", "town", AH_ADM_ORDINARY, f->now, &out, f->events),
		==, AH_ADM_QUEUED);
	g_assert_cmpint(out.estimate.known, ==, FALSE);
}

/* A storm after a quiet spell: the room's measured rate remembers the slow admissions before it,
 * but with seats free the waves' pace (join_rate 10/s) is what will move the queue: the estimates
 * follow the pace, not the memory. */
static void test_share_estimates_storm(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(1000, 100);
	ah_adm_join out;
	c.wave_interval_us = 100 * MS;
	c.join_rate = 10;
	c.join_burst = 1;
	fresh(f, &c);
	/* Quiet: one attendee every 2 s, each queued behind the previous wave's pacing for a moment. */
	for (guint64 pid = 1; pid <= 10; pid++) {
		f->now += 2 * SEC;
		ah_admission_join(f->adm, pid, "acme", "town", f->now, NULL, f->events);
		f->now += 150 * MS;
		tick(f);
		g_array_set_size(f->events, 0);
	}
	/* The storm: 50 at once. */
	f->now += SEC;
	for (guint64 pid = 100; pid < 150; pid++) {
		ah_adm_state st = ah_admission_join_class(f->adm, pid, "acme", "town", AH_ADM_ORDINARY, f->now, &out,
			f->events);
		if (st != AH_ADM_QUEUED)
			continue;
		g_assert_cmpint(out.estimate.known, ==, TRUE);
		/* position / 10 per second, not position / (the quiet spell's rate). */
		g_assert_cmpfloat(out.estimate.median_us, >=, 0.9 * out.position * 100 * MS);
		g_assert_cmpfloat(out.estimate.median_us, <=, 1.1 * out.position * 100 * MS);
	}
	g_assert_cmpuint(out.position, >=, 45);
}

/* The same storm in adaptive mode (wave_min 2 of 10, 100 ms waves, join_rate 30/s), before anyone
 * connected: each range spans 30/s (the cap) to 2 per 1.1 s (wave_min per guessed setup + interval),
 * the median at their geometric mean, or at 30/s within the current limit (2). */
static void test_share_estimates_storm_adaptive(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(1000, 10);
	ah_adm_join out;
	c.wave_mode = AH_WAVES_ADAPTIVE;
	c.wave_min = 2;
	c.wave_interval_us = 100 * MS;
	c.join_rate = 30;
	c.join_burst = 1;
	fresh(f, &c);
	const double fast = 30, slow = 2 / 1.1, mid = sqrt(fast * slow);
	guint known = 0, near = 0;
	for (guint64 pid = 100; pid < 160; pid++) {
		ah_adm_state st = ah_admission_join_class(f->adm, pid, "acme", "town", AH_ADM_ORDINARY, f->now, &out,
			f->events);
		if (st != AH_ADM_QUEUED)
			continue;
		const ah_wait_estimate *e = &out.estimate;
		const double p = out.position;
		g_assert_cmpint(e->known, ==, TRUE);
		g_assert_cmpfloat(e->low_us, <=, p * SEC / fast);
		g_assert_cmpfloat(e->high_us, >=, p * SEC / slow);
		const gboolean next_wave = out.position <= 2;
		g_assert_cmpfloat(e->median_us, >=, 0.9 * p * SEC / (next_wave ? fast : mid));
		g_assert_cmpfloat(e->median_us, <=, 1.1 * p * SEC / (next_wave ? fast : mid));
		g_assert_true(!next_wave || e->low_us == 0);
		near += next_wave;
		known++;
	}
	g_assert_cmpuint(known, >=, 55);
	g_assert_cmpuint(near, >=, 1);
}

/* Estimates from the pace hold only for the seats that are free: beyond them, a seat must be freed
 * first, and only a measured rate can say when. Two tenants 3:1 share the pace. */
static void test_share_estimates_seats(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(0, 4);
	ah_adm_join out;
	guint paced = 0, beyond = 0;
	c.wave_interval_us = SEC;
	fresh(f, &c);
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "acme", 3, 0, 0), ==, TRUE);
	queue_range(f, 1, 20, "acme", "town");
	queue_range(f, 21, 40, "globex", "lobby");
	/* 8 free seats; acme's pace is 3 of the 4 per second, its share of the free seats 6. */
	set_capacity(f, 8);
	g_array_set_size(f->events, 0);
	g_assert_cmpint(ah_admission_join_class(f->adm, 41, "acme", "town", AH_ADM_ORDINARY, f->now, &out, f->events),
		==, AH_ADM_QUEUED);
	/* The first wave admitted 4 (its size), 3 of acme's and 1 of globex's. */
	g_assert_cmpuint(ah_admission_counts(f->adm, NULL, NULL).connecting, ==, 4);
	/* Now 4 seats free, acme's share 3: positions 1..3 have paced estimates, the rest unknown. */
	g_assert_cmpint(out.estimate.known, ==, FALSE);
	f->now += 200 * MS;
	tick(f);
	for (guint j = 0; j < f->events->len; j++) {
		const ah_adm_event *ev = &g_array_index(f->events, ah_adm_event, j);
		guint64 pid = ev->pid;
		if (ev->kind != AH_ADM_EV_POSITION)
			continue;
		if (pid <= 20 && ev->position <= 3) {
			paced++;
			g_assert_cmpint(ev->estimate.known, ==, TRUE);
			g_assert_cmpfloat(ev->estimate.median_us, >=, 0.9 * ev->position * SEC / 3.0);
			g_assert_cmpfloat(ev->estimate.median_us, <=, 1.1 * ev->position * SEC / 3.0);
		} else if (ev->position > 3) {
			beyond++;
			g_assert_cmpint(ev->estimate.known, ==, FALSE);
		}
	}
	g_assert_cmpuint(paced, ==, 3);
	g_assert_cmpuint(beyond, >, 0);
}

/* With update_interval 1 s and waves every 250 ms, positions are swept at most once a second. */
static void test_share_update_interval(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(0, 1);
	gint64 t0, last = G_MININT64;
	guint sweeps = 0;
	c.wave_interval_us = 250 * MS;
	c.update_interval_us = SEC;
	fresh(f, &c);
	queue_range(f, 1, 60, "acme", "town");
	set_capacity(f, 1000);
	t0 = f->now;
	for (f->now = t0; f->now < t0 + 10 * SEC; f->now += 250 * MS) {
		tick(f);
		if (count_events(f, AH_ADM_EV_POSITION, 1, 60) > 0) {
			if (last != G_MININT64)
				g_assert_cmpint(f->now - last, >=, SEC);
			last = f->now;
			sweeps++;
		}
		g_array_set_size(f->events, 0);
		/* The deadline never asks for a sweep sooner either. */
		g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), <=, f->now + 250 * MS);
	}
	g_assert_cmpuint(sweeps, >=, 8);
	g_assert_cmpuint(ah_admission_counts(f->adm, NULL, NULL).queued, ==, 20);
}

/* --- status */

static void test_share_stats(fixture *f, gconstpointer data)
{
	ah_adm_stats s;
	ah_adm_stats none;
	gint64 t0 = steady_start(f, 1, 10);
	for (gint i = 0; i < 4; i++) {
		f->now = t0 + i * SEC;
		tick(f);
		f->now += 300 * MS;
		g_assert_cmpint(ah_admission_connected(f->adm, (guint64)i + 1, f->now), ==, TRUE);
	}
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "town"), ==, TRUE);
	s = stats(f, NULL, NULL);
	g_assert_cmpuint(s.counts.active, ==, 4);
	g_assert_cmpuint(s.counts.queued, ==, 6);
	g_assert_cmpuint(s.counts.presenters, ==, 0);
	g_assert_cmpuint(s.admitted_total, ==, 4);
	g_assert_cmpfloat(s.admitted_per_s, >, 0.5);
	g_assert_cmpuint(s.wave_size, ==, 1);
	g_assert_cmpint(s.setup_p50_us, >=, 300 * MS);
	g_assert_cmpint(s.setup_p50_us, <=, 400 * MS);
	g_assert_cmpint(s.setup_p50_us, <=, s.setup_p90_us);
	g_assert_cmpint(s.setup_p90_us, <=, s.setup_p99_us);
	g_assert_cmpint(s.wait_p50_us, >, 0);
	g_assert_cmpint(s.wait_p50_us, <=, s.wait_p90_us);
	g_assert_cmpint(s.wait_p90_us, <=, s.wait_p99_us);
	g_assert_cmpint(s.wait_p99_us, <=, 4 * SEC);
	g_assert_cmpfloat(s.cpu, <, 0);
	s = stats(f, "acme", NULL);
	g_assert_cmpuint(s.counts.presenters, ==, 1);
	g_assert_cmpuint(s.admitted_total, ==, 4);
	s = stats(f, "acme", "town");
	g_assert_cmpuint(s.admitted_total, ==, 4);
	g_assert_cmpuint(s.wave_size, ==, 0);
	/* Nothing measured yet: zeros. */
	s = stats(f, "globex", "lobby");
	g_assert_cmpuint(s.admitted_total, ==, 0);
	g_assert_cmpint(s.wait_p50_us, ==, 0);
	g_assert_cmpint(s.setup_p99_us, ==, 0);
	g_assert_cmpuint(s.estimates, ==, 0);
	g_assert_cmpint(ah_admission_stats(f->adm, "nobody", NULL, f->now, &none), ==, FALSE);
	g_assert_cmpint(ah_admission_stats(f->adm, "acme", "nowhere", f->now, &none), ==, FALSE);
}

/* Steady rate: the first known estimates come true, the error is small. */
static void test_share_estimate_error_small(fixture *f, gconstpointer data)
{
	gint64 t0 = steady_start(f, 1, 30);
	ah_adm_stats s;
	for (gint i = 0; i < 30; i++) {
		f->now = t0 + i * SEC;
		tick(f);
	}
	s = stats(f, "acme", "town");
	g_assert_cmpuint(s.admitted_total, ==, 30);
	g_assert_cmpuint(s.estimates, >=, 20);
	g_assert_cmpfloat(s.estimate_error_p50, <, 0.15);
	g_assert_cmpfloat(s.estimate_error_p50, <=, s.estimate_error_p90);
	g_assert_cmpuint(stats(f, NULL, NULL).estimates, ==, s.estimates);
}

/* The rate halves after the estimates were given: the error is large. */
static void test_share_estimate_error_large(fixture *f, gconstpointer data)
{
	gint64 t0 = steady_start(f, 2, 60);
	ah_admission_config c;
	ah_adm_stats s;
	gint i;
	for (i = 0; i < 4; i++) {
		f->now = t0 + i * SEC;
		tick(f);
	}
	c = *ah_admission_get_config(f->adm);
	c.wave_size = 1;
	ah_admission_set_config(f->adm, &c, f->now);
	for (; ah_admission_counts(f->adm, NULL, NULL).queued > 0 && i < 100; i++) {
		f->now = t0 + i * SEC;
		tick(f);
	}
	s = stats(f, "acme", "town");
	g_assert_cmpuint(s.admitted_total, ==, 60);
	g_assert_cmpuint(s.estimates, >=, 40);
	g_assert_cmpfloat(s.estimate_error_p50, >, 0.3);
	g_assert_cmpuint(stats(f, NULL, NULL).wave_size, ==, 1);
}

/* --- removal keeps the sums */

static void test_share_remove_tenant_reserve(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(4, 10);
	GArray *removed = g_array_new(FALSE, FALSE, sizeof(guint64));
	fresh(f, &c);
	g_assert_cmpint(ah_admission_set_tenant_share(f->adm, "acme", 1, 3, 0), ==, TRUE);
	join_admitted(f, 1, 1, "acme", "town");
	join_admitted(f, 1001, 1001, "globex", "lobby");
	queue_range(f, 1002, 1010, "globex", "lobby");
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "");
	g_assert_cmpint(ah_admission_remove_tenant(f->adm, "acme", removed), ==, TRUE);
	assert_removed(removed, "1");
	/* acme's reserve is gone: globex may use the whole node. */
	f->now += INTERVAL;
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1002, 1010), ==, 3);
	g_assert_cmpuint(node_seats(f, "globex"), ==, 4);
	g_array_free(removed, TRUE);
}

static void test_share_remove_room_presenter_seats(fixture *f, gconstpointer data)
{
	ah_admission_config c = config(100, 10);
	fresh(f, &c);
	ah_admission_set_tenant(f->adm, "globex", 4);
	g_assert_cmpint(ah_admission_set_room(f->adm, "globex", "stage", 10), ==, TRUE);
	g_assert_cmpint(ah_admission_set_presenter_seats(f->adm, "globex", "stage", 2), ==, TRUE);
	g_assert_cmpint(ah_admission_set_presenter_seats(f->adm, "globex", "lobby", 1), ==, TRUE);
	/* 4 tenant seats, 3 of them for presenters: one attendee. */
	join_admitted(f, 1001, 1001, "globex", "lobby");
	queue_range(f, 1002, 1004, "globex", "lobby");
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "globex", "stage"), ==, TRUE);
	g_assert_cmpint(ah_admission_remove_room(f->adm, "globex", "stage", NULL), ==, TRUE);
	/* stage's presenter seats are gone with it: two more attendees fit. */
	f->now += INTERVAL;
	tick(f);
	g_assert_cmpuint(count_events(f, AH_ADM_EV_ADMITTED, 1002, 1004), ==, 2);
	assert_counts(f, "globex", NULL, 0, 3, 1, 0);
	/* lobby's presenter seat is still there. */
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 51, "globex", "lobby"), ==, TRUE);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 52, "globex", "lobby"), ==, FALSE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	add("/admission/share/weights/three-to-one", test_share_weights);
	add("/admission/share/weights/round-across-waves", test_share_weights_across_waves);
	add("/admission/share/reserved/held-for-tenant", test_share_reserved);
	add("/admission/share/reserved/beyond-need", test_share_reserved_beyond_need);
	add("/admission/share/reserved/admitted-at-once", test_share_reserved_at_once);
	add("/admission/share/tenant/rooms-take-turns", test_share_rooms_take_turns);
	add("/admission/share/tenant/priority-first", test_share_priority);
	add("/admission/share/presenter-seats", test_share_presenter_seats);
	add("/admission/share/join-rate/token-bucket", test_share_token_bucket);
	add("/admission/share/adaptive/limit", test_share_adaptive);
	add("/admission/share/rejoin/hold-and-expire", test_share_rejoin);
	add("/admission/share/rejoin/no-grace", test_share_rejoin_no_grace);
	add("/admission/share/queue-full", test_share_queue_full);
	add("/admission/share/pause/node", test_share_pause_node);
	add("/admission/share/pause/room", test_share_pause_room);
	add("/admission/share/drain", test_share_drain);
	add("/admission/share/estimates/steady", test_share_estimates);
	add("/admission/share/estimates/storm-follows-pace", test_share_estimates_storm);
	add("/admission/share/estimates/storm-adaptive-outlook", test_share_estimates_storm_adaptive);
	add("/admission/share/estimates/pace-only-within-free-seats", test_share_estimates_seats);
	add("/admission/share/estimates/update-interval", test_share_update_interval);
	add("/admission/share/stats/figures", test_share_stats);
	add("/admission/share/stats/estimate-error-small", test_share_estimate_error_small);
	add("/admission/share/stats/estimate-error-large", test_share_estimate_error_large);
	add("/admission/share/remove/tenant-reserve", test_share_remove_tenant_reserve);
	add("/admission/share/remove/room-presenter-seats", test_share_remove_room_presenter_seats);
	return g_test_run();
}
