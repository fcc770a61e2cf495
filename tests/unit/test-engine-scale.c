/* allhands: the engine's work grows with what changed, not with the node (issue 12, section 2),
 * checked with the engine's deterministic work counters (ah_engine_work_done), never a clock:
 * - a presenter publishing or leaving in a room of N seated attendees: the whole round (the
 *   change, every attendee's answer, every fan-out the glue rebuilds) visits O(N) participants,
 *   where the old engine walked every member for every attendee (O(N^2));
 * - with 100,000 scheduled rooms, the next deadline looks at one room and a change of one room
 *   at O(log rooms), where the old engine scanned every room several times per message.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-fixture.h"
#include "allhands/persist.h"

/* Every tenant row of a version 2 state file has a signing key (64 hex characters). */
#define SCALE_SIGNING_KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

#define ATTENDEES 400
#define FIRST_ATTENDEE 1000
#define PRESENTER 100
#define OTHER_PRESENTER 101

#define N_TENANTS 100
#define ROOMS_PER_TENANT 1000
#define N_ROOMS (N_TENANTS * ROOMS_PER_TENANT)
#define T0 G_GINT64_CONSTANT(1800000000) /* real time (UNIX s) at f->now */
#define MONO0_OF_TEST (1000 * SEC)     /* the fixture's first f->now */

static guint64 member_visits(fixture *f)
{
	return ah_engine_work_done(f->engine)->member_visits;
}

static guint64 room_visits(fixture *f)
{
	return ah_engine_work_done(f->engine)->room_visits;
}

/* A fresh engine with f->config (after the test changed it). */
static void restart(fixture *f)
{
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
}

/* What the glue does with the outs: rebuild the fan-out of every ROUTES, patch it for every
 * RECEIVER_ROUTES (engine work counted). */
static guint rebuild_fanouts(fixture *f)
{
	GArray *routes = g_array_new(FALSE, FALSE, sizeof(ah_route));
	guint n = 0;
	for (guint i = 0; i < f->outs->len; i++) {
		ah_out *out = g_ptr_array_index(f->outs, i);
		g_array_set_size(routes, 0);
		if (out->kind == AH_OUT_ROUTES)
			ah_engine_routes(f->engine, out->conn, routes);
		else if (out->kind == AH_OUT_RECEIVER_ROUTES)
			ah_engine_receiver_routes(f->engine, out->conn, routes);
		n += routes->len;
	}
	g_array_unref(routes);
	return n;
}

/* Every attendee answers the offer it was sent (an "updated" event with an offer). */
static void answer_all(fixture *f, const char *event)
{
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, event), ==, ATTENDEES);
	clear(f);
	for (guint64 c = FIRST_ATTENDEE; c < FIRST_ATTENDEE + ATTENDEES; c++)
		start(f, c);
}

/* ATTENDEES seated attendees (connected), one presenter publishing and one joined only, plus a
 * few queued attendees beyond the room's cap (members that receive nothing). */
static void full_room(fixture *f)
{
	f->config.admission.capacity = 2 * ATTENDEES;
	f->config.admission.wave_size = 2 * ATTENDEES;
	restart(f);
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 1000, "
		"'secret': 'acme-tenant-secret'}"));
	{
		char *text = g_strdup_printf("{'request': 'create_room', 'tenant': 'acme', 'room': 'allhands', "
			"'max_attendees': %d, 'presenter_secret': 's3cret-presenter'}", ATTENDEES);
		assert_success(admin(f, text));
		g_free(text);
	}
	join_presenter(f, PRESENTER);
	publish(f, PRESENTER, av, G_N_ELEMENTS(av));
	for (guint64 c = FIRST_ATTENDEE; c < FIRST_ATTENDEE + ATTENDEES + 5; c++)
		join_attendee(f, c);
	for (int i = 0; i < 3; i++) {
		f->now += SEC;
		tick(f);
	}
	clear(f);
	for (guint64 c = FIRST_ATTENDEE; c < FIRST_ATTENDEE + ATTENDEES; c++)
		connect(f, c);
	g_assert_cmpint(node_count(f, "active"), ==, ATTENDEES);
	g_assert_cmpint(node_count(f, "queued"), ==, 5);
	json_t *reply = send(f, OTHER_PRESENTER, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'ptype': 'presenter', 'display': 'CFO', 'presenter_secret': 's3cret-presenter'}");
	assert_event(reply, "joined");
	clear(f);
}

/* Publish, then leave: each round, answers and fan-outs included, is O(ATTENDEES) visits. */
static void test_presenter_change(fixture *f, gconstpointer data)
{
	guint64 before;
	guint routes;
	guint n;
	full_room(f);

	before = member_visits(f);
	publish(f, OTHER_PRESENTER, video_only, G_N_ELEMENTS(video_only));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, PRESENTER, NULL));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, OTHER_PRESENTER, NULL));
	routes = rebuild_fanouts(f);
	answer_all(f, "updated");
	routes += rebuild_fanouts(f);
	/* Two presenters now reach every attendee: 3 m-lines each (av + video_only). */
	g_assert_nonnull(slots(f, FIRST_ATTENDEE, &n));
	g_assert_cmpuint(n, ==, 3);
	g_assert_cmpuint(routes, >=, 3 * ATTENDEES);
	/* Per attendee: seen by the renegotiation, its slots and presenters list (2 presenters each),
	 * its answer's keyframe requests (2), and each of the 2 fan-outs built twice: about 11. The old
	 * engine walked all ATTENDEES + 7 members twice per attendee: about 800 here. */
	g_test_message("publish round: %" G_GUINT64_FORMAT " member visits", member_visits(f) - before);
	g_assert_cmpuint(member_visits(f) - before, <=, 16 * ATTENDEES);

	clear(f);
	before = member_visits(f);
	assert_event(send(f, OTHER_PRESENTER, "{'request': 'leave'}"), "left");
	routes = rebuild_fanouts(f);
	answer_all(f, "updated");
	routes += rebuild_fanouts(f);
	g_assert_cmpuint(routes, >=, 2 * ATTENDEES);
	g_test_message("leave round: %" G_GUINT64_FORMAT " member visits", member_visits(f) - before);
	g_assert_cmpuint(member_visits(f) - before, <=, 16 * ATTENDEES);
}

/* Attendees arriving or leaving: O(presenters) each, plus the fan-outs the glue rebuilds. */
static void test_attendee_change(fixture *f, gconstpointer data)
{
	guint64 before;
	full_room(f);
	before = member_visits(f);
	for (guint64 c = FIRST_ATTENDEE; c < FIRST_ATTENDEE + 10; c++)
		assert_event(send(f, c, "{'request': 'leave'}"), "left");
	/* Five queued attendees get seats: admitted with an offer. */
	f->now += 2 * SEC;
	tick(f);
	rebuild_fanouts(f);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 5);
	/* No fan-out is rebuilt: each receiver that left or came is a patch of its own routes
	 * (RECEIVER_ROUTES), whatever the room's size. */
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, 0, NULL), ==, 0);
	g_assert_cmpuint(count(f, AH_OUT_RECEIVER_ROUTES, 0, NULL), ==, 10 + 5);
	g_test_message("10 leaves, 5 admissions: %" G_GUINT64_FORMAT " member visits", member_visits(f) - before);
	g_assert_cmpuint(member_visits(f) - before, <=, 4 * (10 + 5));
}

/* A one-off window for a room of the state, with no lobby. */
static void add_window(ah_persist_state *state, const char *tenant, const char *room, gint64 start, gint64 end)
{
	ah_persist_room *row = ah_persist_add_room(state, tenant, room, NULL, 10, NULL, "s3cret");
	row->schedule = json_pack("{s:I, s:I}", "start", (json_int_t)start, "end", (json_int_t)end);
	row->lobby_minutes = 0;
}

/* Write `state` (freed) as the state file and start an engine on it, real time T0 at f->now. */
static void start_on(fixture *f, ah_persist_state *state)
{
	json_t *json = ah_persist_to_json(state);
	g_assert_cmpint(json_dump_file(json, f->path, JSON_COMPACT), ==, 0);
	json_decref(json);
	ah_persist_state_free(state);
	restart(f);
	ah_engine_set_clock_offset(f->engine, T0 * SEC - f->now);
}

/* The state file of N_ROOMS one-off rooms, each starting at its own time (not in file order). */
static void write_rooms(fixture *f)
{
	ah_persist_state *state = ah_persist_state_new();
	for (int t = 0; t < N_TENANTS; t++) {
		char *tenant = g_strdup_printf("t%03d", t);
		ah_persist_add_tenant(state, tenant, NULL, 100, "acme-tenant-secret")->signing_key = g_strdup(SCALE_SIGNING_KEY);
		for (int r = 0; r < ROOMS_PER_TENANT; r++) {
			/* A permutation of 0..N_ROOMS-1 (7919 is prime, coprime with N_ROOMS). */
			gint64 start = T0 + 3600 + ((gint64)(t * ROOMS_PER_TENANT + r) * 7919) % N_ROOMS;
			char *room = g_strdup_printf("r%04d", r);
			add_window(state, tenant, room, start, start + 1800);
			g_free(room);
		}
		g_free(tenant);
	}
	start_on(f, state);
}

/* Room i of write_rooms starts at T0 + 3600 + (i * 7919) % N_ROOMS: 0 for i = 0, then 1 for the
 * i with i * 7919 = 1 (mod N_ROOMS). */
static void test_deadline_heap(fixture *f, gconstpointer data)
{
	guint64 before;
	gint64 first = f->now + 3600 * SEC, deadline;
	json_t *reply;
	write_rooms(f);
	/* The first entry point syncs every loaded room (closed, next change at its start). */
	ah_engine_tick(f->engine, f->now, f->outs);
	clear(f);

	before = room_visits(f);
	deadline = ah_engine_next_deadline(f->engine, f->now);
	g_assert_cmpint(deadline, ==, first);
	/* The head of the queue: one room looked at, not N_ROOMS. */
	g_assert_cmpuint(room_visits(f) - before, ==, 1);

	/* Messages between changes look at one room each (is anything due?), and so does each
	 * deadline query: not every room. */
	before = room_visits(f);
	for (int i = 0; i < 100; i++) {
		reply = send(f, FIRST_ATTENDEE + i, "{'request': 'join', 'tenant': 't042', 'room': 'r0042', 'display': 'Ann'}");
		assert_error(reply, AH_ERR_ROOM_CLOSED);
		g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, first);
	}
	g_test_message("100 messages: %" G_GUINT64_FORMAT " room visits", room_visits(f) - before);
	g_assert_cmpuint(room_visits(f) - before, <=, 100 * 2);

	/* At the first start exactly one room goes live: O(log N_ROOMS) rooms looked at. */
	clear(f);
	f->now = first;
	before = room_visits(f);
	tick(f);
	g_assert_cmpuint(count(f, AH_OUT_NOTIFY, 0, "room_state"), ==, 1);
	g_assert_cmpstr(str(find(f, AH_OUT_NOTIFY, 0, "room_state")->body, "room"), ==, "r0000");
	g_assert_cmpstr(str(find(f, AH_OUT_NOTIFY, 0, "room_state")->body, "state"), ==, "live");
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, first + SEC);
	g_test_message("a room opens: %" G_GUINT64_FORMAT " room visits", room_visits(f) - before);
	g_assert_cmpuint(room_visits(f) - before, <=, 4 * 17 + 8);

	/* Destroying a room takes it out of the queue; the next one is then the head. */
	before = room_visits(f);
	f->now = first + SEC;
	{
		/* i * 7919 = 1 (mod 100000): i = 63279, tenant t063 room r0279. */
		reply = admin(f, "{'request': 'destroy_room', 'tenant': 't063', 'room': 'r0279'}");
		assert_success(reply);
	}
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, first + 2 * SEC);
	g_assert_cmpuint(room_visits(f) - before, <=, 6 * 17 + 8);
	clear(f);
}

/* Rooms due at the same time change in a stable order (tenant, then room), whatever the queue's. */
static void test_due_order(fixture *f, gconstpointer data)
{
	static const char *const names[][2] = { { "b", "x" }, { "a", "y" }, { "b", "a" }, { "a", "b" } };
	static const char *const expected[][2] = { { "a", "b" }, { "a", "y" }, { "b", "a" }, { "b", "x" } };
	ah_persist_state *state = ah_persist_state_new();
	guint k = 0;
	ah_persist_add_tenant(state, "b", NULL, 1, "x1")->signing_key = g_strdup(SCALE_SIGNING_KEY);
	ah_persist_add_tenant(state, "a", NULL, 1, "x2")->signing_key = g_strdup(SCALE_SIGNING_KEY);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++)
		add_window(state, names[i][0], names[i][1], T0 + 60, T0 + 120);
	start_on(f, state);
	ah_engine_tick(f->engine, f->now, f->outs);
	clear(f);
	f->now += 60 * SEC;
	tick(f);
	for (guint i = 0; i < f->outs->len; i++) {
		ah_out *out = g_ptr_array_index(f->outs, i);
		if (out->kind != AH_OUT_NOTIFY || g_strcmp0(str(out->body, "event"), "room_state") != 0)
			continue;
		g_assert_cmpuint(k, <, G_N_ELEMENTS(expected));
		g_assert_cmpstr(str(out->body, "tenant"), ==, expected[k][0]);
		g_assert_cmpstr(str(out->body, "room"), ==, expected[k][1]);
		k++;
	}
	g_assert_cmpuint(k, ==, G_N_ELEMENTS(expected));
}

/* --- the schedule queue against a model: random rooms, schedules, removals and time steps */

#define MODEL_ROOMS 300

typedef struct {
	gboolean exists, scheduled;
	gint64 start, end; /* real seconds */
} model_room;

/* The model's next change of a room at real time t (-1: none): lobby, warning and grace are 0. */
static gint64 model_next(const model_room *r, gint64 t)
{
	if (!r->exists || !r->scheduled)
		return -1;
	return t < r->start ? r->start : t < r->end ? r->end : -1;
}

static gint64 model_deadline(const model_room *rooms, gint64 t)
{
	gint64 best = G_MAXINT64;
	for (guint i = 0; i < MODEL_ROOMS; i++) {
		gint64 next = model_next(&rooms[i], t);
		if (next >= 0)
			best = MIN(best, (next - T0) * SEC + MONO0_OF_TEST);
	}
	return best;
}

static guint model_step(fixture *f, model_room *rooms, GRand *rand)
{
	guint changed = 0;
	guint i = g_rand_int_range(rand, 0, MODEL_ROOMS);
	model_room *r = &rooms[i];
	gint64 t = T0 + (f->now - MONO0_OF_TEST) / SEC;
	char *text = NULL;
	switch (g_rand_int_range(rand, 0, 6)) {
	case 0: /* create, or set a schedule: a window starting in -100..1000 s, 100..600 s long */
	case 1:
		if (!r->exists)
			text = g_strdup_printf("{'request': 'create_room', 'tenant': 'acme', 'room': 'm%u', 'max_attendees': 1, "
				"'presenter_secret': 's3cret-presenter', 'lobby_minutes': 0, 'ending_warning_s': 0, 'grace_s': 0}", i);
		else {
			r->start = t + g_rand_int_range(rand, -100, 1000);
			r->end = r->start + g_rand_int_range(rand, 100, 600);
			r->scheduled = TRUE;
			text = g_strdup_printf("{'request': 'set_schedule', 'tenant': 'acme', 'room': 'm%u', 'schedule': "
				"{'start': %" G_GINT64_FORMAT ", 'end': %" G_GINT64_FORMAT "}}", i, r->start, r->end);
		}
		r->exists = TRUE;
		break;
	case 2:
		if (r->exists)
			text = g_strdup_printf("{'request': 'set_schedule', 'tenant': 'acme', 'room': 'm%u', 'schedule': null}", i);
		r->scheduled = FALSE;
		break;
	case 3:
		if (r->exists)
			text = g_strdup_printf("{'request': 'destroy_room', 'tenant': 'acme', 'room': 'm%u'}", i);
		r->exists = r->scheduled = FALSE;
		break;
	default: { /* time passes (never past a whole window: windows last 100 s or more) */
		gint64 deadline = ah_engine_next_deadline(f->engine, f->now), before = t;
		guint due = 0;
		f->now = MIN(f->now + g_rand_int_range(rand, 1, 60) * SEC, deadline);
		t = T0 + (f->now - MONO0_OF_TEST) / SEC;
		for (guint k = 0; k < MODEL_ROOMS; k++) {
			gint64 next = model_next(&rooms[k], before);
			due += next >= 0 && next <= t;
		}
		clear(f);
		tick(f);
		g_assert_cmpuint(count(f, AH_OUT_NOTIFY, 0, "room_state"), ==, due);
		changed = due;
		break;
	}
	}
	if (text != NULL)
		assert_success(admin(f, text));
	g_free(text);
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, model_deadline(rooms, t));
	return changed;
}

static void test_queue_model(fixture *f, gconstpointer data)
{
	model_room *rooms = g_new0(model_room, MODEL_ROOMS);
	GRand *rand = g_rand_new_with_seed(12);
	f->config.state_path = NULL;
	restart(f);
	f->now = MONO0_OF_TEST;
	ah_engine_set_clock_offset(f->engine, T0 * SEC - f->now);
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 10, "
		"'secret': 'acme-tenant-secret'}"));
	guint changes = 0;
	for (int step = 0; step < 20000; step++)
		changes += model_step(f, rooms, rand);
	/* Not vacuous: many rooms went live and closed on time. */
	g_assert_cmpuint(changes, >, 1000);
	g_rand_free(rand);
	g_free(rooms);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("/engine/scale/presenter-change", test_presenter_change);
	ADD("/engine/scale/attendee-change", test_attendee_change);
	ADD("/engine/scale/deadline-heap", test_deadline_heap);
	ADD("/engine/scale/due-order", test_due_order);
	ADD("/engine/scale/queue-model", test_queue_model);
	return g_test_run();
}
