/* allhands: example tests for plugin/core/admission.c.
 *
 * One fresh ah_admission per test, time driven by hand (microseconds). Events are compared as a
 * compact string so a failure shows the whole sequence: "T5" timed out, "A5" admitted,
 * "P5=1/3" position 1 of a queue of 3.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "admission-fixture.h"

static void test_caps_node(fixture *f, gconstpointer data)
{
	join_admitted(f, 1, 3, "acme", "town");
	join_admitted(f, 4, 5, "globex", "lobby");
	/* Positions are per room. */
	join_queued(f, 6, "acme", "hall", 1);
	join_queued(f, 7, "globex", "lobby", 1);
	assert_events(f, "");
	assert_counts(f, NULL, NULL, 0, 5, 2, 0);
	connect_all(f, 1, 2);
	assert_counts(f, NULL, NULL, 2, 3, 2, 0);
	assert_counts(f, "acme", NULL, 2, 1, 1, 0);
	assert_counts(f, "acme", "town", 2, 1, 0, 0);
	assert_counts(f, "acme", "hall", 0, 0, 1, 0);
	/* Presenters take no node seat. */
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "town"), ==, TRUE);
	assert_counts(f, NULL, NULL, 2, 3, 2, 0);
	assert_counts(f, "acme", "town", 2, 1, 0, 1);
	g_assert_cmpint(ah_admission_state(f->adm, 50), ==, AH_ADM_ACTIVE);
}

static void test_caps_tenant_across_rooms(fixture *f, gconstpointer data)
{
	set_config(f, 100, 10, INTERVAL, TIMEOUT);
	ah_admission_set_tenant(f->adm, "acme", 4);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "hall"), ==, TRUE);
	join_admitted(f, 1, 2, "acme", "town");
	join_admitted(f, 3, 3, "acme", "hall");
	/* 1 presenter + 3 attendees in two rooms: the tenant is full. */
	join_queued(f, 4, "acme", "town", 1);
	join_queued(f, 5, "acme", "hall", 1);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 51, "acme", "town"), ==, FALSE);
	g_assert_cmpint(ah_admission_state(f->adm, 51), ==, AH_ADM_NONE);
	/* Another tenant is not affected, and is not held up by acme's blocked queue. */
	join_admitted(f, 10, 10, "globex", "lobby");
	assert_counts(f, "acme", NULL, 0, 3, 2, 1);
	/* The presenter leaving frees a tenant seat for the head of the queue. */
	leave(f, 50, AH_ADM_ACTIVE);
	/* 5 is alone in hall's queue: its position does not change. */
	assert_events(f, "A4");
	assert_counts(f, "acme", NULL, 0, 4, 1, 0);
	/* A presenter does not queue, and does not jump the queue: the tenant is full. */
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 52, "acme", "hall"), ==, FALSE);
	leave(f, 1, AH_ADM_CONNECTING);
	assert_events(f, "");
	/* The wave interval has not elapsed: the freed seat waits for the next wave... */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + INTERVAL);
	/* ...but a presenter takes it at once: presenters never queue. */
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 52, "acme", "hall"), ==, TRUE);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "");
	assert_queue(f, NULL, NULL, "5");
}

static void test_caps_room(fixture *f, gconstpointer data)
{
	ah_admission_set_room(f->adm, "acme", "town", 2);
	join_admitted(f, 1, 2, "acme", "town");
	join_queued(f, 3, "acme", "town", 1);
	/* Other rooms of the tenant still admit; presenters do not use room attendee seats. */
	join_admitted(f, 4, 4, "acme", "hall");
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "town"), ==, TRUE);
	assert_counts(f, "acme", "town", 0, 2, 1, 1);
	leave(f, 2, AH_ADM_CONNECTING);
	assert_events(f, "A3");
	assert_counts(f, "acme", "town", 0, 2, 0, 1);
}

static void test_caps_zero(fixture *f, gconstpointer data)
{
	ah_admission_set_room(f->adm, "acme", "town", 0);
	ah_admission_set_tenant(f->adm, "globex", 0);
	join_queued(f, 1, "acme", "town", 1);
	join_queued(f, 2, "globex", "lobby", 1);
	join_admitted(f, 3, 3, "acme", "hall");
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "globex", "lobby"), ==, FALSE);
	/* Queued attendees in open rooms and an admission just now: the drift check (5 s after the
	 * last sweep) comes before the admit timeout. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + 5 * SEC);
	connect_all(f, 3, 3);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + 5 * SEC);
	/* A minute after the last admission the drift checks stop: nothing is pending. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now + 60 * SEC), ==, G_MAXINT64);
	f->now += 100 * SEC;
	tick(f);
	assert_events(f, "");
	/* The node's queue lists rooms in no set order: check room by room. */
	assert_queue(f, "acme", NULL, "1");
	assert_queue(f, "globex", NULL, "2");
	/* Node capacity 0: nobody is admitted at all. */
	set_config(f, 0, 2, INTERVAL, TIMEOUT);
	join_queued(f, 4, "acme", "hall", 1);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	ah_admission_set_room(f->adm, "acme", "town", 10);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	set_config(f, 10, 2, INTERVAL, TIMEOUT);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now);
	tick(f);
	/* No global arrival order any more: acme's rooms take turns, hall (ready first, it queued
	 * while town was at cap 0) before town; 2 keeps place 1 of its room, so it hears nothing. */
	assert_events(f, "A4 A1");
}

static void test_caps_lowering_never_evicts(fixture *f, gconstpointer data)
{
	join_admitted(f, 1, 5, "acme", "town");
	connect_all(f, 1, 3);
	join_queued(f, 6, "acme", "town", 1);
	set_config(f, 2, 2, INTERVAL, TIMEOUT);
	ah_admission_set_tenant(f->adm, "acme", 1);
	ah_admission_set_room(f->adm, "acme", "town", 1);
	assert_counts(f, NULL, NULL, 3, 2, 1, 0);
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_ACTIVE);
	/* Over every cap: seats freed by leaving are not given away until back under it. */
	leave(f, 1, AH_ADM_ACTIVE);
	leave(f, 2, AH_ADM_ACTIVE);
	f->now += 5 * INTERVAL;
	tick(f);
	/* Nobody is admitted; 6 hears a known estimate: its queue has never moved, but two seats were
	 * given up, so the seat turnover (2 releases over the seat-time held) is measured. */
	assert_events(f, "P6=1/1");
	g_assert_cmpint(ah_admission_state(f->adm, 6), ==, AH_ADM_QUEUED);
	set_config(f, 10, 2, INTERVAL, TIMEOUT);
	ah_admission_set_tenant(f->adm, "acme", 10);
	tick(f);
	assert_events(f, "");
	ah_admission_set_room(f->adm, "acme", "town", 4);
	tick(f);
	assert_events(f, "A6");
}

/* --- queue and waves */

static void test_queue_order(fixture *f, gconstpointer data)
{
	set_config(f, 1, 1, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 1, "acme", "town");
	/* Positions are per room (1-based place in the room's queue, of the room's queue length). */
	join_queued(f, 2, "globex", "lobby", 1);
	join_queued(f, 3, "acme", "hall", 1);
	join_queued(f, 4, "acme", "town", 1);
	join_queued(f, 5, "globex", "lobby", 2);
	join_queued(f, 6, "globex", "lobby", 3);
	assert_events(f, "");
	assert_queue(f, "globex", NULL, "2 5 6");
	assert_queue(f, "acme", "town", "4");
	assert_queue(f, "acme", "hall", "3");
	assert_queue(f, "nobody", NULL, "");
	assert_queue(f, "acme", "nowhere", "");
	g_assert_cmpuint(ah_admission_position(f->adm, 4), ==, 1);
	g_assert_cmpuint(ah_admission_position(f->adm, 6), ==, 3);
	g_assert_cmpuint(ah_admission_position(f->adm, 1), ==, 0);
	/* Leaving the middle moves only those behind, in the same room. */
	leave(f, 5, AH_ADM_QUEUED);
	assert_events(f, "P6=2/2");
	/* Leaving the back moves nobody. */
	leave(f, 6, AH_ADM_QUEUED);
	assert_events(f, "");
	/* The old rule (one global arrival order) is gone: tenants take turns (fair order), globex
	 * first since it was ready first. */
	leave(f, 1, AH_ADM_CONNECTING);
	assert_events(f, "A2");
	g_assert_cmpuint(ah_admission_position(f->adm, 2), ==, 0);
	/* Then acme, whose rooms take turns: hall was ready before town. */
	leave(f, 2, AH_ADM_CONNECTING);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "A3");
	g_assert_cmpuint(ah_admission_position(f->adm, 4), ==, 1);
}

static void test_queue_no_jumping(fixture *f, gconstpointer data)
{
	set_config(f, 2, 1, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 2, "acme", "town");
	join_queued(f, 3, "acme", "town", 1);
	join_queued(f, 4, "acme", "town", 2);
	leave(f, 1, AH_ADM_CONNECTING);
	assert_events(f, "A3 P4=1/1");
	/* A seat is free now, but 4 is waiting for the next wave: a newcomer, even of another
	 * tenant, queues (first of its own room) instead of taking the seat. */
	leave(f, 2, AH_ADM_CONNECTING);
	assert_events(f, "");
	join_queued(f, 5, "globex", "lobby", 1);
	assert_events(f, "");
	f->now += INTERVAL;
	tick(f);
	/* acme's turn came first (it was ready first); 5 keeps its place 1 of 1, and hears its first
	 * known estimate: two seats were given up over the seat-time held, so the turnover is measured. */
	assert_events(f, "A4 P5=1/1");
	assert_queue(f, NULL, NULL, "5");
}

static void test_wave_size_and_interval(fixture *f, gconstpointer data)
{
	gint64 start;
	join_admitted(f, 1, 5, "acme", "town");
	for (guint64 pid = 6; pid <= 12; pid++)
		join_queued(f, pid, "acme", "town", (guint)(pid - 5));
	assert_events(f, "");
	assert_counts(f, NULL, NULL, 0, 5, 7, 0);
	connect_all(f, 1, 5);
	/* Four seats free at once: the first wave runs at once, with the one seat free then. */
	f->now += 30 * SEC;
	start = f->now;
	leave(f, 1, AH_ADM_ACTIVE);
	assert_events(f, "A6 P7=1/6 P8=2/6 P9=3/6 P10=4/6 P11=5/6 P12=6/6");
	leave(f, 2, AH_ADM_ACTIVE);
	leave(f, 3, AH_ADM_ACTIVE);
	leave(f, 4, AH_ADM_ACTIVE);
	assert_events(f, "");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, start + INTERVAL);
	f->now = start + INTERVAL - 1;
	tick(f);
	assert_events(f, "");
	f->now = start + INTERVAL;
	tick(f);
	assert_events(f, "A7 A8 P9=1/4 P10=2/4 P11=3/4 P12=4/4");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, start + 2 * INTERVAL);
	/* A late tick runs one wave, not the ones it missed. */
	f->now = start + 5 * INTERVAL;
	tick(f);
	assert_events(f, "A9 P10=1/3 P11=2/3 P12=3/3");
	/* The node is full again: only the admit timeouts and the drift check (5 s after this
	 * sweep, while admissions are recent) are pending. */
	assert_counts(f, NULL, NULL, 1, 4, 3, 0);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, MIN(start + TIMEOUT, f->now + 5 * SEC));
	connect_all(f, 6, 9);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + 5 * SEC);
	/* Raising capacity lets the next wave admit more (still at most wave_size). */
	set_config(f, 20, 2, INTERVAL, TIMEOUT);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + INTERVAL);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "A10 A11 P12=1/1");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + INTERVAL);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "A12");
	assert_counts(f, NULL, NULL, 5, 3, 0, 0);
}

static void test_wave_room_blocked_head(fixture *f, gconstpointer data)
{
	set_config(f, 2, 5, INTERVAL, TIMEOUT);
	ah_admission_set_room(f->adm, "acme", "town", 1);
	join_admitted(f, 1, 1, "acme", "town");
	join_admitted(f, 2, 2, "globex", "lobby");
	join_queued(f, 3, "acme", "town", 1);
	join_queued(f, 4, "globex", "lobby", 1);
	join_queued(f, 5, "acme", "town", 2);
	join_queued(f, 6, "acme", "hall", 1);
	/* Town is full: its entries keep their places and hold nobody up. The freed seat goes to
	 * globex, ready first (fair order across tenants, not arrival order). */
	leave(f, 2, AH_ADM_CONNECTING);
	assert_events(f, "A4");
	assert_queue(f, "acme", "town", "3 5");
	assert_queue(f, "acme", "hall", "6");
	/* Room cap raised and node seats free: acme's rooms take turns (hall was ready first), and
	 * town's entries come in their order. */
	set_config(f, 10, 5, INTERVAL, TIMEOUT);
	ah_admission_set_room(f->adm, "acme", "town", 3);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "A6 A3 A5");
}

static void test_wave_tenant_blocked_head(fixture *f, gconstpointer data)
{
	set_config(f, 10, 5, INTERVAL, TIMEOUT);
	ah_admission_set_tenant(f->adm, "acme", 1);
	join_admitted(f, 1, 1, "acme", "town");
	join_queued(f, 2, "acme", "hall", 1);
	/* Queue head blocked by its tenant: other tenants are admitted at once. */
	join_admitted(f, 3, 3, "globex", "lobby");
	assert_queue(f, NULL, NULL, "2");
	/* No wave is possible; the drift check (5 s) comes before the admit timeouts. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + 5 * SEC);
	leave(f, 1, AH_ADM_CONNECTING);
	assert_events(f, "A2");
}

/* --- admit timeout */

static void test_timeout_frees_seat(fixture *f, gconstpointer data)
{
	gint64 admitted = f->now;
	set_config(f, 2, 2, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 2, "acme", "town");
	join_queued(f, 3, "acme", "town", 1);
	join_queued(f, 4, "acme", "town", 2);
	connect_all(f, 2, 2);
	/* Open room with a queue and recent admissions: a drift check 5 s after the last sweep
	 * comes first; after it, 1's admit timeout. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, admitted + 5 * SEC);
	f->now = admitted + 5 * SEC;
	tick(f);
	assert_events(f, "");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, admitted + TIMEOUT);
	f->now = admitted + TIMEOUT - 1;
	tick(f);
	assert_events(f, "");
	f->now = admitted + TIMEOUT;
	/* At its deadline the seat is gone even before tick() reports it. */
	g_assert_cmpint(ah_admission_connected(f->adm, 1, f->now), ==, FALSE);
	tick(f);
	assert_events(f, "T1 A3 P4=1/1");
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_NONE);
	g_assert_cmpint(ah_admission_state(f->adm, 3), ==, AH_ADM_CONNECTING);
	leave(f, 1, AH_ADM_NONE);
	/* The new seat's deadline counts from its own admission (the drift check comes first). */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + 5 * SEC);
	f->now += TIMEOUT - 1;
	g_assert_cmpint(ah_admission_connected(f->adm, 3, f->now), ==, TRUE);
	g_assert_cmpint(ah_admission_connected(f->adm, 3, f->now), ==, FALSE);
	/* The queue waits: the node is full with active attendees; only drift checks are pending,
	 * and only for a minute after the last admission. */
	tick(f);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + 5 * SEC);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now + 60 * SEC), ==, G_MAXINT64);
}

static void test_timeout_in_join(fixture *f, gconstpointer data)
{
	set_config(f, 1, 1, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 1, "acme", "town");
	join_queued(f, 2, "acme", "town", 1);
	/* A join at a later time first runs what is due: 1 times out, 2 gets its seat. */
	f->now += TIMEOUT;
	join_queued(f, 3, "acme", "town", 1);
	assert_events(f, "T1 A2");
	/* A leave too: 2 times out after 3 leaves, and the seat goes to nobody. */
	f->now += TIMEOUT;
	leave(f, 3, AH_ADM_QUEUED);
	assert_events(f, "T2");
	assert_counts(f, NULL, NULL, 0, 0, 0, 0);
}

static void test_timeout_config_change(fixture *f, gconstpointer data)
{
	gint64 admitted = f->now;
	join_admitted(f, 1, 1, "acme", "town");
	f->now += SEC;
	join_admitted(f, 2, 2, "acme", "town");
	/* Deadlines follow the current admit_timeout, counted from each admission. */
	set_config(f, 5, 2, INTERVAL, 3 * SEC);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, admitted + 3 * SEC);
	set_config(f, 5, 2, INTERVAL, SEC / 2);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now);
	tick(f);
	assert_events(f, "T1");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, admitted + SEC + SEC / 2);
}

/* --- leave */

static void test_leave_every_state(fixture *f, gconstpointer data)
{
	set_config(f, 2, 2, INTERVAL, TIMEOUT);
	ah_admission_set_tenant(f->adm, "acme", 3);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "hall"), ==, TRUE);
	join_admitted(f, 1, 2, "acme", "town");
	connect_all(f, 2, 2);
	join_queued(f, 3, "acme", "town", 1);
	join_queued(f, 4, "globex", "lobby", 1);
	assert_counts(f, "acme", NULL, 1, 1, 1, 1);

	/* Another room's queue: 4 does not move. */
	leave(f, 3, AH_ADM_QUEUED);
	assert_events(f, "");
	assert_counts(f, "acme", NULL, 1, 1, 0, 1);
	leave(f, 1, AH_ADM_CONNECTING);
	assert_events(f, "A4");
	assert_counts(f, "acme", NULL, 1, 0, 0, 1);
	join_queued(f, 5, "acme", "town", 1);
	leave(f, 50, AH_ADM_ACTIVE);
	assert_events(f, "");
	assert_counts(f, "acme", NULL, 1, 0, 1, 0);
	assert_counts(f, "acme", "hall", 0, 0, 0, 0);
	leave(f, 2, AH_ADM_ACTIVE);
	assert_events(f, "");
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "A5");
	leave(f, 5, AH_ADM_CONNECTING);
	leave(f, 4, AH_ADM_CONNECTING);
	leave(f, 4, AH_ADM_NONE);
	leave(f, 99, AH_ADM_NONE);
	assert_events(f, "");
	assert_counts(f, NULL, NULL, 0, 0, 0, 0);
	assert_counts(f, "acme", NULL, 0, 0, 0, 0);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	/* A pid that left may join again. */
	join_admitted(f, 5, 5, "acme", "town");
}

/* --- removing rooms and tenants */

static void test_remove_room(fixture *f, gconstpointer data)
{
	GArray *removed = g_array_new(FALSE, FALSE, sizeof(guint64));
	set_config(f, 3, 5, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 1, "acme", "town");
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "town"), ==, TRUE);
	join_admitted(f, 2, 3, "acme", "hall");
	connect_all(f, 1, 1);
	join_queued(f, 4, "globex", "lobby", 1);
	join_queued(f, 5, "acme", "town", 1);
	join_queued(f, 6, "globex", "lobby", 2);
	/* Members are reported queued first, then seated (in the order they took their current
	 * state: 1 connected after 50 came); their seats and queue places are freed. */
	g_assert_cmpint(ah_admission_remove_room(f->adm, "acme", "town", removed), ==, TRUE);
	assert_removed(removed, "5 50 1");
	g_assert_cmpint(ah_admission_state(f->adm, 5), ==, AH_ADM_NONE);
	assert_counts(f, NULL, NULL, 0, 2, 2, 0);
	assert_counts(f, "acme", NULL, 0, 2, 0, 0);
	assert_counts(f, "acme", "town", 0, 0, 0, 0);
	g_assert_cmpuint(ah_admission_position(f->adm, 6), ==, 2);
	/* No events array here: the next tick runs the wave, now; 6 moves up in its room. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now);
	tick(f);
	assert_events(f, "A4 P6=1/1");
	g_assert_cmpint(ah_admission_remove_room(f->adm, "acme", "town", removed), ==, FALSE);
	g_assert_cmpint(join(f, 7, "acme", "town"), ==, AH_ADM_NONE);
	g_assert_cmpint(ah_admission_remove_room(f->adm, "acme", "hall", NULL), ==, TRUE);
	assert_counts(f, NULL, NULL, 0, 1, 1, 0);
	g_array_free(removed, TRUE);
}

static void test_remove_reports_positions(fixture *f, gconstpointer data)
{
	GArray *removed = g_array_new(FALSE, FALSE, sizeof(guint64));
	set_config(f, 1, 2, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 1, "acme", "town");
	join_queued(f, 2, "acme", "hall", 1);
	join_queued(f, 3, "globex", "lobby", 1);
	join_queued(f, 4, "globex", "lobby", 2);
	connect_all(f, 1, 1);
	/* Past the drift window: nothing is pending while the node is full. */
	f->now += 60 * SEC;
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	g_assert_cmpint(ah_admission_remove_room(f->adm, "acme", "hall", removed), ==, TRUE);
	assert_removed(removed, "2");
	/* Positions are per room: removing hall moves nobody else, but a sweep is due. */
	g_assert_cmpuint(ah_admission_position(f->adm, 3), ==, 1);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now);
	tick(f);
	assert_events(f, "");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	/* Removing globex's room with 3 and 4 queued leaves no queue: nothing is due. */
	g_assert_cmpint(ah_admission_remove_room(f->adm, "globex", "lobby", removed), ==, TRUE);
	assert_removed(removed, "3 4");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	g_array_free(removed, TRUE);
}

static void test_remove_tenant(fixture *f, gconstpointer data)
{
	GArray *removed = g_array_new(FALSE, FALSE, sizeof(guint64));
	set_config(f, 2, 5, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 1, "acme", "town");
	join_admitted(f, 2, 2, "acme", "hall");
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "town"), ==, TRUE);
	join_queued(f, 3, "acme", "hall", 1);
	join_queued(f, 4, "globex", "lobby", 1);
	g_assert_cmpint(ah_admission_remove_tenant(f->adm, "acme", removed), ==, TRUE);
	/* Rooms come in no set order: sort before comparing. */
	g_array_sort(removed, compare_pid);
	assert_removed(removed, "1 2 3 50");
	assert_counts(f, NULL, NULL, 0, 0, 1, 0);
	assert_counts(f, "acme", NULL, 0, 0, 0, 0);
	tick(f);
	assert_events(f, "A4");
	g_assert_cmpint(ah_admission_remove_tenant(f->adm, "acme", removed), ==, FALSE);
	g_assert_cmpint(ah_admission_set_room(f->adm, "acme", "town", 10), ==, FALSE);
	/* A recreated tenant starts empty. */
	ah_admission_set_tenant(f->adm, "acme", 10);
	g_assert_cmpint(ah_admission_set_room(f->adm, "acme", "town", 10), ==, TRUE);
	assert_counts(f, "acme", "town", 0, 0, 0, 0);
	join_admitted(f, 1, 1, "acme", "town");
	g_assert_cmpint(ah_admission_remove_tenant(f->adm, "globex", NULL), ==, TRUE);
	assert_counts(f, NULL, NULL, 0, 1, 0, 0);
	g_array_free(removed, TRUE);
}

/* --- scheduled rooms (issue 3) */

static void test_config_get_and_sanitize(fixture *f, gconstpointer data)
{
	const ah_admission_config *c = ah_admission_get_config(f->adm);
	g_assert_cmpuint(c->capacity, ==, 5);
	g_assert_cmpuint(c->wave_size, ==, 2);
	g_assert_cmpint(c->wave_interval_us, ==, INTERVAL);
	g_assert_cmpint(c->admit_timeout_us, ==, TIMEOUT);
	set_config(f, 7, 0, -5, 0);
	c = ah_admission_get_config(f->adm);
	g_assert_cmpuint(c->capacity, ==, 7);
	g_assert_cmpuint(c->wave_size, ==, 1);
	g_assert_cmpint(c->wave_interval_us, ==, 0);
	g_assert_cmpint(c->admit_timeout_us, ==, 1);
}

static void test_config_raise_capacity(fixture *f, gconstpointer data)
{
	set_config(f, 1, 3, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 1, "acme", "town");
	for (guint64 pid = 2; pid <= 6; pid++)
		join_queued(f, pid, "acme", "town", (guint)(pid - 1));
	/* The node is full: the drift check (5 s) comes before 1's admit timeout. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + 5 * SEC);
	set_config(f, 3, 3, INTERVAL, TIMEOUT);
	tick(f);
	assert_events(f, "A2 A3 P4=1/3 P5=2/3 P6=3/3");
	set_config(f, 10, 3, INTERVAL, TIMEOUT);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + INTERVAL);
	/* A longer interval set in between pushes the next wave back. */
	set_config(f, 10, 3, 3 * INTERVAL, TIMEOUT);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + 3 * INTERVAL);
	f->now += 3 * INTERVAL;
	tick(f);
	assert_events(f, "A4 A5 A6");
}

static void test_deadline_values(fixture *f, gconstpointer data)
{
	gint64 t0 = f->now;
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	set_config(f, 1, 1, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 1, "acme", "town");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, t0 + TIMEOUT);
	/* A queued entry that cannot be admitted adds no wave deadline, only the drift check of
	 * its estimate 5 s after the last sweep (an admission happened less than a minute ago). */
	join_queued(f, 2, "acme", "town", 1);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, t0 + 5 * SEC);
	f->now += SEC;
	connect_all(f, 1, 1);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, t0 + 5 * SEC);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, t0 + 60 * SEC), ==, G_MAXINT64);
	/* A free seat and no wave yet: due now. */
	leave(f, 1, AH_ADM_ACTIVE);
	assert_events(f, "A2");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + TIMEOUT);
	join_queued(f, 3, "acme", "town", 1);
	leave(f, 2, AH_ADM_CONNECTING);
	/* A free seat right after a wave: due one interval after it. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + INTERVAL);
	/* Asked late, a deadline already passed reads as now. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now + 5 * INTERVAL), ==, f->now + 5 * INTERVAL);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "A3");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + TIMEOUT);
}

static void test_deadline_interval_zero(fixture *f, gconstpointer data)
{
	set_config(f, 1, 2, 0, TIMEOUT);
	join_admitted(f, 1, 1, "acme", "town");
	join_queued(f, 2, "acme", "town", 1);
	join_queued(f, 3, "acme", "town", 2);
	set_config(f, 10, 1, 0, TIMEOUT);
	/* One wave per call; with no interval the next one is due at once. */
	tick(f);
	assert_events(f, "A2 P3=1/1");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now);
	tick(f);
	assert_events(f, "A3");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + TIMEOUT);
}

/* --- errors */

static void test_errors(fixture *f, gconstpointer data)
{
	ah_adm_counts c;
	g_assert_cmpint(join(f, 1, "acme", "nowhere"), ==, AH_ADM_NONE);
	g_assert_cmpint(join(f, 1, "nobody", "town"), ==, AH_ADM_NONE);
	g_assert_cmpint(join(f, 1, NULL, "town"), ==, AH_ADM_NONE);
	g_assert_cmpint(join(f, 0, "acme", "town"), ==, AH_ADM_NONE);
	g_assert_cmpint(ah_admission_set_room(f->adm, "nobody", "town", 5), ==, FALSE);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "nowhere"), ==, FALSE);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "nobody", "town"), ==, FALSE);
	g_assert_cmpint(ah_admission_connected(f->adm, 1, f->now), ==, FALSE);
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_NONE);
	g_assert_cmpuint(ah_admission_position(f->adm, 1), ==, 0);
	g_assert_cmpint(ah_admission_remove_room(f->adm, "acme", "nowhere", NULL), ==, FALSE);
	g_assert_cmpint(ah_admission_remove_tenant(f->adm, "nobody", NULL), ==, FALSE);

	/* Double join, whatever the state, and presenter/attendee pid clashes. */
	set_config(f, 1, 2, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 1, "acme", "town");
	join_queued(f, 2, "acme", "town", 1);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "town"), ==, TRUE);
	g_assert_cmpint(join(f, 1, "acme", "town"), ==, AH_ADM_NONE);
	g_assert_cmpint(join(f, 2, "globex", "lobby"), ==, AH_ADM_NONE);
	g_assert_cmpuint(f->position, ==, 0);
	g_assert_cmpint(join(f, 50, "acme", "town"), ==, AH_ADM_NONE);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 1, "acme", "town"), ==, FALSE);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "town"), ==, FALSE);
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 0, "acme", "town"), ==, FALSE);
	/* Only CONNECTING attendees connect. */
	g_assert_cmpint(ah_admission_connected(f->adm, 2, f->now), ==, FALSE);
	g_assert_cmpint(ah_admission_connected(f->adm, 50, f->now), ==, FALSE);
	assert_events(f, "");
	assert_counts(f, NULL, NULL, 0, 1, 1, 0);
	assert_counts(f, "acme", "town", 0, 1, 1, 1);
	c = ah_admission_counts(f->adm, "nobody", NULL);
	g_assert_cmpuint(c.active + c.connecting + c.queued + c.presenters, ==, 0);
	c = ah_admission_counts(f->adm, "acme", "nowhere");
	g_assert_cmpuint(c.active + c.connecting + c.queued + c.presenters, ==, 0);
	/* Events and position may be NULL. */
	g_assert_cmpint(ah_admission_join(f->adm, 3, "acme", "town", f->now, NULL, NULL), ==, AH_ADM_QUEUED);
	g_assert_cmpint(ah_admission_leave(f->adm, 2, f->now, NULL), ==, AH_ADM_QUEUED);
	g_assert_cmpuint(ah_admission_position(f->adm, 3), ==, 1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	add("/admission/caps/node-capacity", test_caps_node);
	add("/admission/caps/tenant-across-rooms", test_caps_tenant_across_rooms);
	add("/admission/caps/room", test_caps_room);
	add("/admission/caps/zero", test_caps_zero);
	add("/admission/caps/lowering-never-evicts", test_caps_lowering_never_evicts);
	add("/admission/queue/order", test_queue_order);
	add("/admission/queue/no-jumping", test_queue_no_jumping);
	add("/admission/wave/size-and-interval", test_wave_size_and_interval);
	add("/admission/wave/room-blocked-head", test_wave_room_blocked_head);
	add("/admission/wave/tenant-blocked-head", test_wave_tenant_blocked_head);
	add("/admission/timeout/frees-seat", test_timeout_frees_seat);
	add("/admission/timeout/in-join-and-leave", test_timeout_in_join);
	add("/admission/timeout/config-change", test_timeout_config_change);
	add("/admission/leave/every-state", test_leave_every_state);
	add("/admission/remove/room", test_remove_room);
	add("/admission/remove/tenant", test_remove_tenant);
	add("/admission/remove/positions-on-next-tick", test_remove_reports_positions);
	add("/admission/config/get-and-sanitize", test_config_get_and_sanitize);
	add("/admission/config/raise-capacity", test_config_raise_capacity);
	add("/admission/deadline/values", test_deadline_values);
	add("/admission/deadline/interval-zero", test_deadline_interval_zero);
	add("/admission/errors/unknown-and-double", test_errors);
	return g_test_run();
}
