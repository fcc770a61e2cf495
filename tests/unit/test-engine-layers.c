/* allhands: scenario tests of the simulcast settings in the engine: the room's `video_layer`
 * (create_room, edit_room, room_info, the state file), the attendee's `layer` (join, set_layer),
 * and the receivers' max_layer in the routes with the ROUTES that tell the glue it changed; the
 * room's `presenter_max_bitrate`.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-fixture.h"

#define PRESENTER 100

/* max_layer of presenter PRESENTER's video route to `attendee`; -1 when there is none. */
static int video_layer_of(fixture *f, guint64 attendee)
{
	GArray *routes = g_array_new(FALSE, FALSE, sizeof(ah_route));
	int layer = -1;
	ah_engine_routes(f->engine, PRESENTER, routes);
	for (guint i = 0; i < routes->len; i++) {
		const ah_route *r = &g_array_index(routes, ah_route, i);
		if (r->attendee_conn == attendee && r->kind == AH_MEDIA_VIDEO)
			layer = r->max_layer;
	}
	g_array_unref(routes);
	return layer;
}

static json_t *room_info(fixture *f)
{
	return json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
}

/* The room_info row of attendee `id`. */
static json_t *attendee_row(fixture *f, json_int_t id)
{
	json_t *attendees = json_object_get(room_info(f), "attendees");
	size_t i;
	json_t *row;
	json_array_foreach(attendees, i, row)
		if (num(row, "id") == id)
			return row;
	return NULL;
}

/* make_rooms, and a presenter publishing audio and video. */
static void on_stage(fixture *f)
{
	make_rooms(f);
	join_presenter(f, PRESENTER);
	publish(f, PRESENTER, av, G_N_ELEMENTS(av));
	clear(f);
}

static void test_room_setting(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_rooms(f);
	g_assert_cmpstr(str(room_info(f), "video_layer"), ==, "high");
	reply = admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'town', 'max_attendees': 5, "
		"'presenter_secret': 's3cret-presenter', 'video_layer': 'medium'}");
	assert_success(reply);
	g_assert_cmpstr(str(json_object_get(reply, "room"), "video_layer"), ==, "medium");
	/* Invalid values: nothing is created. */
	reply = admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'bad', 'max_attendees': 5, "
		"'presenter_secret': 's3cret-presenter', 'video_layer': 'ultra'}");
	assert_error(reply, AH_ERR_INVALID_ELEMENT);
	g_assert_cmpstr(str(reply, "error"), ==, "invalid element (video_layer: must be low, medium or high)");
	assert_error(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'bad', 'max_attendees': 5, "
		"'presenter_secret': 's3cret-presenter', 'video_layer': 2}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'bad'}"), AH_ERR_NO_SUCH_ROOM);
	/* edit_room: a valid one applies, an invalid one changes nothing (nor the other elements). */
	reply = admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'video_layer': 'low'}");
	assert_success(reply);
	g_assert_cmpstr(str(json_object_get(reply, "room"), "video_layer"), ==, "low");
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'max_attendees': 3, "
		"'video_layer': 'HIGH'}"), AH_ERR_INVALID_ELEMENT);
	g_assert_cmpstr(str(room_info(f), "video_layer"), ==, "low");
	g_assert_cmpint(num(room_info(f), "max_attendees"), ==, 100);
	/* list_rooms shows it too; a tenant may set it on its own room. */
	reply = admin(f, "{'request': 'list_rooms', 'tenant': 'acme'}");
	g_assert_cmpstr(str(json_array_get(json_object_get(reply, "rooms"), 0), "video_layer"), ==, "low");
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', "
		"'room': 'town', 'video_layer': 'high'}"));
}

static void test_join_clamps(fixture *f, gconstpointer data)
{
	on_stage(f);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'video_layer': 'medium'}"));
	/* Asks for more than the room's: gets the room's. */
	assert_event(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'layer': 'high'}"), "admitted");
	/* Asks for less: gets it. */
	assert_event(send(f, 2, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'layer': 'low'}"), "admitted");
	/* Says nothing: the room's. */
	join_attendee(f, 3);
	g_assert_cmpint(video_layer_of(f, 1), ==, AH_SIM_MEDIUM);
	g_assert_cmpint(video_layer_of(f, 2), ==, AH_SIM_LOW);
	g_assert_cmpint(video_layer_of(f, 3), ==, AH_SIM_MEDIUM);
	/* Ids: the presenter has 1, conns 1..3 have 2..4. */
	g_assert_cmpstr(str(attendee_row(f, 3), "layer"), ==, "low");
	g_assert_cmpstr(str(attendee_row(f, 2), "layer"), ==, "medium");
	/* An invalid one: refused, nothing kept. */
	assert_error(send(f, 4, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'layer': 'best'}"),
		AH_ERR_INVALID_ELEMENT);
	assert_error(send(f, 4, "{'request': 'leave'}"), AH_ERR_WRONG_STATE);
	g_assert_cmpint(node_count(f, "connecting"), ==, 3);
	clear(f);
	/* The room goes up to high: its fan-out is rebuilt; whoever asked for more gets more. */
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'video_layer': 'high'}"));
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, PRESENTER, NULL), ==, 1);
	g_assert_cmpint(video_layer_of(f, 1), ==, AH_SIM_HIGH);
	g_assert_cmpint(video_layer_of(f, 2), ==, AH_SIM_LOW);
	g_assert_cmpint(video_layer_of(f, 3), ==, AH_SIM_HIGH);
	clear(f);
	/* The same value again: nothing to rebuild. */
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'video_layer': 'high'}"));
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, PRESENTER, NULL), ==, 0);
}

static void test_set_layer(fixture *f, gconstpointer data)
{
	json_t *reply;
	on_stage(f);
	join_attendee(f, 1);
	connect(f, 1);
	clear(f);
	g_assert_cmpint(video_layer_of(f, 1), ==, AH_SIM_HIGH);
	reply = send(f, 1, "{'request': 'set_layer', 'layer': 'low'}");
	assert_event(reply, "layer");
	g_assert_cmpstr(str(reply, "layer"), ==, "low");
	g_assert_cmpuint(count(f, AH_OUT_RECEIVER_ROUTES, 1, NULL), ==, 1);
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, PRESENTER, NULL), ==, 0);
	g_assert_cmpint(video_layer_of(f, 1), ==, AH_SIM_LOW);
	g_assert_cmpstr(str(attendee_row(f, 2), "layer"), ==, "low"); /* conn 1 has id 2 */
	clear(f);
	/* The same again: no ROUTES. */
	assert_event(send(f, 1, "{'request': 'set_layer', 'layer': 'low'}"), "layer");
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, 0, NULL), ==, 0);
	g_assert_cmpuint(count(f, AH_OUT_RECEIVER_ROUTES, 0, NULL), ==, 0);
	/* More than the room's: clamped, and the answer says so. */
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'video_layer': 'medium'}"));
	clear(f);
	reply = send(f, 1, "{'request': 'set_layer', 'layer': 'high'}");
	g_assert_cmpstr(str(reply, "layer"), ==, "medium");
	g_assert_cmpint(video_layer_of(f, 1), ==, AH_SIM_MEDIUM);
	g_assert_cmpuint(count(f, AH_OUT_RECEIVER_ROUTES, 1, NULL), ==, 1);
	clear(f);
	/* Invalid and missing values change nothing. */
	assert_error(send(f, 1, "{'request': 'set_layer', 'layer': 'tiny'}"), AH_ERR_INVALID_ELEMENT);
	assert_error(send(f, 1, "{'request': 'set_layer', 'layer': 0}"), AH_ERR_INVALID_ELEMENT);
	assert_error(send(f, 1, "{'request': 'set_layer'}"), AH_ERR_MISSING_ELEMENT);
	g_assert_cmpint(video_layer_of(f, 1), ==, AH_SIM_MEDIUM);
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, 0, NULL), ==, 0);
	/* Refused: not joined, a presenter, a queued attendee (capacity 5). */
	assert_error(send(f, 50, "{'request': 'set_layer', 'layer': 'low'}"), AH_ERR_WRONG_STATE);
	assert_error(send(f, PRESENTER, "{'request': 'set_layer', 'layer': 'low'}"), AH_ERR_WRONG_STATE);
	for (guint64 conn = 2; conn <= 5; conn++)
		assert_event(join_attendee(f, conn), "admitted");
	assert_event(join_attendee(f, 6), "queued");
	assert_error(send(f, 6, "{'request': 'set_layer', 'layer': 'low'}"), AH_ERR_WRONG_STATE);
	/* A backstage monitor receives: it may. */
	assert_event(send(f, 7, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'backstage', "
		"'presenter_secret': 's3cret-presenter'}"), "admitted");
	assert_event(send(f, 7, "{'request': 'set_layer', 'layer': 'low'}"), "layer");
	g_assert_cmpint(video_layer_of(f, 7), ==, AH_SIM_LOW);
	/* Through the Admin API it is a plugin handle request. */
	assert_error(admin(f, "{'request': 'set_layer', 'layer': 'low'}"), AH_ERR_UNKNOWN_REQUEST);
}

/* The state file holds `needle`; then a restart from it. */
static void restart_from_state(fixture *f, const char *needle)
{
	char *text = NULL;
	flush_state(f);
	g_assert_true(g_file_get_contents(f->path, &text, NULL, NULL));
	g_assert_nonnull(strstr(text, needle));
	g_free(text);
	clear(f);
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
}

/* video_layer survives a restart; the state file names it. */
static void test_persisted(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'video_layer': 'low'}"));
	restart_from_state(f, "\"video_layer\": \"low\"");
	g_assert_cmpstr(str(room_info(f), "video_layer"), ==, "low");
	g_assert_cmpstr(str(json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'globex', 'room': 'standup'}"),
		"room"), "video_layer"), ==, "high");
}

/* presenter_max_bitrate: validated, shown, given to the glue for the room's presenters only (with
 * a ROUTES out when it changes, which is when the glue reads it), kept in the state file. */
static void test_presenter_max_bitrate(fixture *f, gconstpointer data)
{
	on_stage(f);
	g_assert_cmpint(num(room_info(f), "presenter_max_bitrate"), ==, 0);
	g_assert_cmpuint(ah_engine_presenter_max_bitrate(f->engine, PRESENTER), ==, 0);
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'presenter_max_bitrate': 49999}"),
		AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', "
		"'presenter_max_bitrate': 100000001}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'presenter_max_bitrate': '1M'}"),
		AH_ERR_INVALID_ELEMENT);
	g_assert_cmpint(count(f, AH_OUT_ROUTES, PRESENTER, NULL), ==, 0);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'presenter_max_bitrate': 300000}"));
	g_assert_cmpint(count(f, AH_OUT_ROUTES, PRESENTER, NULL), ==, 1);
	g_assert_cmpuint(ah_engine_presenter_max_bitrate(f->engine, PRESENTER), ==, 300000);
	g_assert_cmpint(num(room_info(f), "presenter_max_bitrate"), ==, 300000);
	join_attendee(f, 7);
	g_assert_cmpuint(ah_engine_presenter_max_bitrate(f->engine, 7), ==, 0);
	g_assert_cmpuint(ah_engine_presenter_max_bitrate(f->engine, 999), ==, 0);
	/* The same value again changes nothing. */
	clear(f);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'presenter_max_bitrate': 300000}"));
	g_assert_cmpint(count(f, AH_OUT_ROUTES, PRESENTER, NULL), ==, 0);
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'town', 'max_attendees': 5, "
		"'presenter_secret': 's3cret-presenter', 'presenter_max_bitrate': 50000}"));
	/* Kept across a restart. */
	restart_from_state(f, "\"presenter_max_bitrate\": 300000");
	g_assert_cmpint(num(room_info(f), "presenter_max_bitrate"), ==, 300000);
	g_assert_cmpint(num(json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'town'}"), "room"),
		"presenter_max_bitrate"), ==, 50000);
	/* A state file with a cap under the minimum is refused, as the request would be; the same file
	 * with the minimum loads. */
	ah_engine_free(f->engine);
	f->engine = NULL;
	const char *state = "{\"version\": 1, \"tenants\": [{\"tenant\": \"a\", \"name\": \"A\", \"max_participants\": 5, "
		"\"secret\": \"s3cret-s3cret\"}], \"rooms\": [{\"tenant\": \"a\", \"room\": \"r\", \"description\": \"\", "
		"\"max_attendees\": 1, \"presenter_secret\": \"p\", \"presenter_max_bitrate\": %d}]}";
	char *low = g_strdup_printf(state, 10), *min = g_strdup_printf(state, 50000);
	assert_state_file_refused(f, low);
	g_assert_true(g_file_set_contents(f->path, min, -1, NULL));
	f->engine = engine_new(&f->config);
	g_assert_cmpint(num(json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'a', 'room': 'r'}"), "room"),
		"presenter_max_bitrate"), ==, 50000);
	g_free(low);
	g_free(min);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("/engine/layers/room-setting", test_room_setting);
	ADD("/engine/layers/join-clamps", test_join_clamps);
	ADD("/engine/layers/set-layer", test_set_layer);
	ADD("/engine/layers/persisted", test_persisted);
	ADD("/engine/layers/presenter-max-bitrate", test_presenter_max_bitrate);
	return g_test_run();
}
