/* allhands: example tests of admission for scheduled rooms (plugin/core/admission.c): closed rooms
 * pre-queue, opening admits in waves, shuffling a room's queue places, clearing a room.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "admission-fixture.h"

static void test_rooms_closed_prequeues(fixture *f, gconstpointer data)
{
	join_admitted(f, 1, 1, "acme", "town");
	connect_all(f, 1, 1);
	g_assert_cmpint(ah_admission_set_room_open(f->adm, "acme", "town", FALSE), ==, TRUE);
	g_assert_cmpint(ah_admission_set_room_open(f->adm, "acme", "town", FALSE), ==, TRUE);
	/* Closing never evicts. */
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_ACTIVE);
	/* Seats are free, yet the closed room's attendees queue and get positions. */
	join_queued(f, 2, "acme", "town", 1);
	join_queued(f, 3, "acme", "town", 2);
	/* Another room is admitted at once: the closed room's queue holds nobody up. */
	join_admitted(f, 4, 4, "acme", "hall");
	join_admitted(f, 5, 5, "globex", "lobby");
	connect_all(f, 4, 5);
	assert_events(f, "");
	/* Nothing to do for the closed queue: the control loop sleeps. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	f->now += 100 * SEC;
	tick(f);
	assert_events(f, "");
	/* A cap update keeps the room closed. */
	g_assert_cmpint(ah_admission_set_room(f->adm, "acme", "town", 50), ==, TRUE);
	join_queued(f, 6, "acme", "town", 3);
	leave(f, 2, AH_ADM_QUEUED);
	assert_events(f, "P3=1/2 P6=2/2");
	assert_queue(f, NULL, NULL, "3 6");
	assert_counts(f, "acme", "town", 1, 0, 2, 0);
	assert_counts(f, NULL, NULL, 3, 0, 2, 0);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	g_assert_cmpint(ah_admission_set_room_open(f->adm, "acme", "nowhere", FALSE), ==, FALSE);
	g_assert_cmpint(ah_admission_set_room_open(f->adm, "nobody", "town", TRUE), ==, FALSE);
	g_assert_cmpint(ah_admission_set_room_open(f->adm, NULL, NULL, TRUE), ==, FALSE);
}

static void test_rooms_open_admits_in_waves(fixture *f, gconstpointer data)
{
	g_assert_cmpint(ah_admission_set_room_open(f->adm, "acme", "town", FALSE), ==, TRUE);
	join_queued(f, 1, "acme", "town", 1);
	join_queued(f, 2, "acme", "town", 2);
	join_queued(f, 3, "acme", "town", 3);
	join_queued(f, 4, "acme", "town", 4);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	/* Opening admits nobody by itself; the next wave is due now. */
	g_assert_cmpint(ah_admission_set_room_open(f->adm, "acme", "town", TRUE), ==, TRUE);
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_QUEUED);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now);
	tick(f);
	assert_events(f, "A1 A2 P3=1/2 P4=2/2");
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now + INTERVAL);
	/* Now open, the room's queue is admissible: a newcomer does not jump it. */
	join_queued(f, 5, "acme", "town", 3);
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "A3 A4 P5=1/1");
	/* The node has one seat left. */
	f->now += INTERVAL;
	tick(f);
	assert_events(f, "A5");
	assert_counts(f, "acme", "town", 0, 5, 0, 0);
	/* Closing again stops the waves but keeps the seats. */
	g_assert_cmpint(ah_admission_set_room_open(f->adm, "acme", "town", FALSE), ==, TRUE);
	leave(f, 1, AH_ADM_CONNECTING);
	join_queued(f, 6, "acme", "town", 1);
	f->now += INTERVAL;
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now - 3 * INTERVAL + TIMEOUT);
	tick(f);
	assert_events(f, "");
	assert_counts(f, "acme", "town", 0, 4, 1, 0);
}

/* A fresh engine with 12 queued pids (town: 1..8, hall: 101..104, joining interleaved), its
 * town entries shuffled with `seed`; returns town's queue as a string (caller frees). */
static char *shuffled_queue(guint32 seed)
{
	ah_admission_config c = default_config;
	ah_admission *adm;
	GArray *q;
	GString *s = g_string_new(NULL);
	c.capacity = 0;
	adm = ah_admission_new(&c);
	ah_admission_set_tenant(adm, "acme", 100);
	ah_admission_set_room(adm, "acme", "town", 100);
	ah_admission_set_room(adm, "acme", "hall", 100);
	for (guint64 i = 0, town = 1, hall = 101; i < 12; i++)
		ah_admission_join(adm, i % 3 == 2 ? hall++ : town++, "acme", i % 3 == 2 ? "hall" : "town", 0, NULL, NULL);
	g_assert_cmpint(ah_admission_shuffle_room(adm, "acme", "town", seed, NULL), ==, TRUE);
	q = ah_admission_queue(adm, "acme", "town");
	for (guint i = 0; i < q->len; i++)
		g_string_append_printf(s, "%s%" G_GUINT64_FORMAT, i > 0 ? " " : "", g_array_index(q, guint64, i));
	g_array_free(q, TRUE);
	ah_admission_free(adm);
	return g_string_free(s, FALSE);
}

/* Shuffles town with `seed` and checks the outcome against the positions before. */
static void shuffle_and_check(fixture *f, guint32 seed)
{
	guint before[9], events_for[9] = {0};
	guint64 seen = 0;
	for (guint64 pid = 1; pid <= 8; pid++)
		before[pid] = ah_admission_position(f->adm, pid);
	g_assert_cmpint(ah_admission_shuffle_room(f->adm, "acme", "town", seed, f->events), ==, TRUE);
	/* Positions are reported by the next sweep, which is due now. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now);
	tick(f);
	/* The hall entries keep their places (positions are per room). */
	assert_queue(f, "acme", "hall", "101 102 103 104");
	for (guint64 pid = 101; pid <= 104; pid++)
		g_assert_cmpuint(ah_admission_position(f->adm, pid), ==, pid - 100);
	/* The town entries are the same pids, on town's places 1..8. */
	for (guint64 pid = 1; pid <= 8; pid++) {
		guint position = ah_admission_position(f->adm, pid);
		g_assert_cmpint(ah_admission_state(f->adm, pid), ==, AH_ADM_QUEUED);
		g_assert_cmpuint(position, >=, 1);
		g_assert_cmpuint(position, <=, 8);
		g_assert_cmpuint(seen & (G_GUINT64_CONSTANT(1) << position), ==, 0);
		seen |= G_GUINT64_CONSTANT(1) << position;
	}
	/* One POSITION event for each town pid that moved, with its new place; none for the others. */
	for (guint i = 0; i < f->events->len; i++) {
		const ah_adm_event *ev = &g_array_index(f->events, ah_adm_event, i);
		g_assert_cmpint(ev->kind, ==, AH_ADM_EV_POSITION);
		g_assert_cmpuint(ev->pid, >=, 1);
		g_assert_cmpuint(ev->pid, <=, 8);
		g_assert_cmpuint(ev->position, ==, ah_admission_position(f->adm, ev->pid));
		g_assert_cmpuint(ev->queue_length, ==, 8);
		events_for[ev->pid]++;
	}
	for (guint64 pid = 1; pid <= 8; pid++)
		g_assert_cmpuint(events_for[pid], ==, ah_admission_position(f->adm, pid) != before[pid] ? 1 : 0);
	g_array_set_size(f->events, 0);
}

static void test_rooms_shuffle_is_permutation(fixture *f, gconstpointer data)
{
	static const guint32 seeds[] = {1, 2, 3, 42, 1234, 99991};
	GHashTable *outcomes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	set_config(f, 0, 2, INTERVAL, TIMEOUT);
	for (guint64 i = 0, town = 0, hall = 100; i < 12; i++) {
		if (i % 3 == 2) {
			hall++;
			join_queued(f, hall, "acme", "hall", (guint)(hall - 100));
		} else {
			town++;
			join_queued(f, town, "acme", "town", (guint)town);
		}
	}
	for (guint i = 0; i < G_N_ELEMENTS(seeds); i++) {
		char *a = shuffled_queue(seeds[i]), *b = shuffled_queue(seeds[i]);
		/* Deterministic for a seed. */
		g_assert_cmpstr(a, ==, b);
		g_free(b);
		g_hash_table_add(outcomes, a);
		shuffle_and_check(f, seeds[i]);
	}
	/* 8! orders: several seeds do not all give the same one. */
	g_assert_cmpuint(g_hash_table_size(outcomes), >, 1);
	g_hash_table_destroy(outcomes);
	/* Rooms with no or one queued entry, and unknown rooms. */
	g_assert_cmpint(ah_admission_shuffle_room(f->adm, "globex", "lobby", 7, f->events), ==, TRUE);
	join_queued(f, 200, "globex", "lobby", 1);
	g_assert_cmpint(ah_admission_shuffle_room(f->adm, "globex", "lobby", 7, f->events), ==, TRUE);
	assert_events(f, "");
	g_assert_cmpint(ah_admission_shuffle_room(f->adm, "acme", "nowhere", 7, f->events), ==, FALSE);
	g_assert_cmpint(ah_admission_shuffle_room(f->adm, NULL, "town", 7, f->events), ==, FALSE);
	assert_events(f, "");
}

/* After a shuffle the O(1) links still point at the right places: leaving and waves follow the
 * new order. */
static void test_rooms_shuffle_keeps_links(fixture *f, gconstpointer data)
{
	GArray *q;
	guint64 first, second;
	set_config(f, 0, 1, INTERVAL, TIMEOUT);
	join_queued(f, 1, "acme", "town", 1);
	join_queued(f, 2, "acme", "town", 2);
	join_queued(f, 3, "acme", "hall", 1);
	join_queued(f, 4, "acme", "town", 3);
	g_assert_cmpint(ah_admission_shuffle_room(f->adm, "acme", "town", 42, NULL), ==, TRUE);
	g_assert_cmpuint(ah_admission_position(f->adm, 3), ==, 1);
	q = ah_admission_queue(f->adm, "acme", "town");
	first = g_array_index(q, guint64, 0);
	second = g_array_index(q, guint64, 1);
	g_array_free(q, TRUE);
	leave(f, first, AH_ADM_QUEUED);
	g_assert_cmpuint(ah_admission_position(f->adm, second), ==, 1);
	g_assert_cmpuint(ah_admission_position(f->adm, 3), ==, 1);
	/* Close hall so the wave has to take town's new head. */
	g_assert_cmpint(ah_admission_set_room_open(f->adm, "acme", "hall", FALSE), ==, TRUE);
	set_config(f, 5, 1, INTERVAL, TIMEOUT);
	g_array_set_size(f->events, 0);
	tick(f);
	g_assert_cmpuint(f->events->len, >=, 1);
	g_assert_cmpint(g_array_index(f->events, ah_adm_event, 0).kind, ==, AH_ADM_EV_ADMITTED);
	g_assert_cmpuint(g_array_index(f->events, ah_adm_event, 0).pid, ==, second);
	g_assert_cmpint(ah_admission_state(f->adm, second), ==, AH_ADM_CONNECTING);
	assert_counts(f, NULL, NULL, 0, 1, 2, 0);
}

static void test_rooms_clear(fixture *f, gconstpointer data)
{
	GArray *removed = g_array_new(FALSE, FALSE, sizeof(guint64));
	set_config(f, 3, 2, INTERVAL, TIMEOUT);
	join_admitted(f, 1, 1, "acme", "town");
	g_assert_cmpint(ah_admission_add_presenter(f->adm, 50, "acme", "town"), ==, TRUE);
	join_admitted(f, 2, 2, "acme", "hall");
	join_admitted(f, 3, 3, "acme", "town");
	connect_all(f, 3, 3);
	join_queued(f, 4, "globex", "lobby", 1);
	join_queued(f, 5, "acme", "town", 1);
	join_queued(f, 6, "acme", "hall", 1);
	join_queued(f, 7, "acme", "town", 2);
	join_queued(f, 8, "globex", "lobby", 2);
	g_assert_cmpint(ah_admission_set_room_open(f->adm, "acme", "town", FALSE), ==, TRUE);
	/* Queued in queue order, then seated in join order; the presenter stays. */
	g_assert_cmpint(ah_admission_clear_room(f->adm, "acme", "town", FALSE, removed), ==, TRUE);
	assert_removed(removed, "5 7 1 3");
	/* Nobody is admitted by the clearing itself (another room ending now is cleared first)... */
	assert_events(f, "");
	/* ...two seats freed: the wave that is due at the next tick takes one of each tenant (globex
	 * was ready first, then acme's hall); 8 moves up in lobby. */
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, f->now);
	ah_admission_tick(f->adm, f->now, f->events);
	assert_events(f, "A4 A6 P8=1/1");
	g_assert_cmpint(ah_admission_state(f->adm, 1), ==, AH_ADM_NONE);
	g_assert_cmpint(ah_admission_state(f->adm, 5), ==, AH_ADM_NONE);
	g_assert_cmpint(ah_admission_state(f->adm, 50), ==, AH_ADM_ACTIVE);
	assert_counts(f, "acme", "town", 0, 0, 0, 1);
	assert_counts(f, NULL, NULL, 0, 3, 1, 0);
	/* The room stays, closed as it was. */
	join_queued(f, 9, "acme", "town", 1);
	g_assert_cmpint(ah_admission_clear_room(f->adm, "acme", "town", FALSE, NULL), ==, TRUE);
	ah_admission_tick(f->adm, f->now, f->events);
	assert_events(f, "");
	assert_queue(f, NULL, NULL, "8");
	g_assert_cmpint(ah_admission_clear_room(f->adm, "acme", "nowhere", TRUE, removed), ==, FALSE);
	g_assert_cmpuint(removed->len, ==, 0);
	/* With presenters: the presenter's tenant seat goes too. */
	g_assert_cmpint(ah_admission_clear_room(f->adm, "acme", "town", TRUE, removed), ==, TRUE);
	assert_removed(removed, "50");
	g_assert_cmpint(ah_admission_state(f->adm, 50), ==, AH_ADM_NONE);
	assert_counts(f, "acme", "town", 0, 0, 0, 0);
	g_array_free(removed, TRUE);
}

/* With no seat freed and no wave due, nobody hears of it: positions are per room, so clearing a
 * room moves nobody else (the old rule, one queue for the node, moved those behind). */
static void test_rooms_clear_positions(fixture *f, gconstpointer data)
{
	GArray *removed = g_array_new(FALSE, FALSE, sizeof(guint64));
	set_config(f, 0, 2, INTERVAL, TIMEOUT);
	join_queued(f, 1, "acme", "hall", 1);
	join_queued(f, 2, "acme", "town", 1);
	join_queued(f, 3, "globex", "lobby", 1);
	join_queued(f, 4, "acme", "town", 2);
	join_queued(f, 5, "acme", "hall", 2);
	g_assert_cmpint(ah_admission_clear_room(f->adm, "acme", "town", FALSE, removed), ==, TRUE);
	assert_removed(removed, "2 4");
	ah_admission_tick(f->adm, f->now, f->events);
	assert_events(f, "");
	g_assert_cmpuint(ah_admission_position(f->adm, 3), ==, 1);
	g_assert_cmpuint(ah_admission_position(f->adm, 5), ==, 2);
	g_assert_cmpint(ah_admission_next_deadline(f->adm, f->now), ==, G_MAXINT64);
	g_array_free(removed, TRUE);
}

/* --- config and deadlines */

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	add("/admission/rooms/closed-prequeues", test_rooms_closed_prequeues);
	add("/admission/rooms/open-admits-in-waves", test_rooms_open_admits_in_waves);
	add("/admission/rooms/shuffle-is-permutation", test_rooms_shuffle_is_permutation);
	add("/admission/rooms/shuffle-keeps-links", test_rooms_shuffle_keeps_links);
	add("/admission/rooms/clear", test_rooms_clear);
	add("/admission/rooms/clear-reports-positions", test_rooms_clear_positions);
	return g_test_run();
}
