/* allhands: scenario tests of the engine's participant side (plugin/core/engine-participants.c,
 * engine-media.c, requests-participant.c, requests-join.c): joins, the queue, publishing and
 * renegotiation, slots and routes, and every way out.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-fixture.h"

static void test_join_admitted(fixture *f, gconstpointer data)
{
	json_t *reply, *room;
	const ah_slot *s;
	guint n = 99;
	make_rooms(f);
	reply = join_attendee(f, 7);
	assert_event(reply, "admitted");
	g_assert_cmpint(reply_jsep(f), ==, AH_JSEP_OFFER);
	g_assert_cmpstr(str(reply, "tenant"), ==, "acme");
	g_assert_cmpstr(str(reply, "room"), ==, "allhands");
	g_assert_cmpint(num(reply, "id"), ==, 1);
	g_assert_cmpuint(json_array_size(json_object_get(reply, "presenters")), ==, 0);
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 7, "joined"));
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 7, "admitted"));
	/* Nobody publishes yet: the offer still has an audio and a video m-line, inactive. */
	s = slots(f, 7, &n);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpint(s[0].kind, ==, AH_MEDIA_AUDIO);
	g_assert_cmpint(s[1].kind, ==, AH_MEDIA_VIDEO);
	g_assert_false(s[0].active);
	g_assert_false(s[1].active);
	g_assert_cmpint(s[1].mindex, ==, 1);
	g_assert_cmpint(node_count(f, "connecting"), ==, 1);
	clear(f);
	start(f, 7);
	ah_engine_media_up(f->engine, 7, f->now, f->outs);
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 7, "active"));
	room = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
	g_assert_cmpstr(str(json_array_get(json_object_get(room, "attendees"), 0), "state"), ==, "active");
	g_assert_cmpstr(str(json_array_get(json_object_get(room, "attendees"), 0), "display"), ==, "Ann");
	g_assert_cmpint(num(json_object_get(room, "counts"), "active"), ==, 1);
	g_assert_cmpint(num(json_object_get(room, "counts"), "admitted"), ==, 1);
	/* A pin-protected room lets the right pin in. */
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'globex', 'max_participants': 5}"));
	assert_event(send(f, 8, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', "
		"'pin': 'pin-4321'}"), "admitted");
}

static void test_join_ids_sequential(fixture *f, gconstpointer data)
{
	make_rooms(f);
	g_assert_cmpint(num(join_attendee(f, 1), "id"), ==, 1);
	assert_error(send(f, 2, "{'request': 'join', 'tenant': 'acme', 'room': 'nope'}"), AH_ERR_NO_SUCH_ROOM);
	assert_error(send(f, 2, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', 'ptype': 'presenter', "
		"'presenter_secret': 'g-s3cret'}"), AH_ERR_TENANT_FULL);
	g_assert_cmpint(num(join_presenter(f, 2), "id"), ==, 2);
	g_assert_cmpint(num(join_attendee(f, 3), "id"), ==, 3);
	assert_event(send(f, 3, "{'request': 'leave'}"), "left");
	g_assert_cmpint(num(join_attendee(f, 3), "id"), ==, 4);
}

static void test_join_queued_position(fixture *f, gconstpointer data)
{
	json_t *reply;
	ah_out *out;
	make_rooms(f);
	/* 12 joiners, capacity 5, waves of 2 every second. */
	for (guint64 conn = 1; conn <= 12; conn++) {
		reply = join_attendee(f, conn);
		if (conn <= 5) {
			assert_event(reply, "admitted");
			continue;
		}
		assert_event(reply, "queued");
		g_assert_cmpint(reply_jsep(f), ==, AH_JSEP_NONE);
		g_assert_cmpint(num(reply, "position"), ==, conn - 5);
		g_assert_cmpint(num(reply, "queue_length"), ==, conn - 5);
		g_assert_null(slots(f, conn, &(guint){ 0 }));
	}
	clear(f);
	for (guint64 conn = 1; conn <= 5; conn++)
		connect(f, conn);
	g_assert_cmpint(node_count(f, "active"), ==, 5);
	g_assert_cmpint(node_count(f, "queued"), ==, 7);
	/* Nothing to admit while the node is full; only the estimate drift check is pending (someone
	 * was admitted within the last minute). */
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, f->now + 5 * SEC);
	reply = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "queue")), ==, 7);
	g_assert_cmpint(num(json_array_get(json_object_get(reply, "queue"), 6), "position"), ==, 7);
	clear(f);

	/* Three leave: the first freed seat goes at once (no wave yet), the others wait a wave. */
	for (guint64 conn = 1; conn <= 3; conn++)
		assert_event(send(f, conn, "{'request': 'leave'}"), "left");
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 1);
	out = find(f, AH_OUT_EVENT, 6, "admitted");
	g_assert_nonnull(out);
	g_assert_cmpint(out->jsep, ==, AH_JSEP_OFFER);
	g_assert_cmpint(node_count(f, "admitted"), ==, 3);
	clear(f);
	/* Positions are reported by the next sweep, an update interval later. */
	f->now += 100 * MS;
	tick(f);
	out = find(f, AH_OUT_EVENT, 12, "position");
	g_assert_nonnull(out);
	g_assert_cmpint(num(out->body, "position"), ==, 6);
	g_assert_cmpint(num(out->body, "queue_length"), ==, 6);
	g_assert_nonnull(json_object_get(out->body, "wait"));
	clear(f);
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, f->now + 900 * MS);
	f->now += 900 * MS;
	tick(f);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 2);
	f->now += 100 * MS;
	tick(f);
	/* A wave of 2 fills the two free seats. */
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 2);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 7, "admitted"));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 8, "admitted"));
	g_assert_cmpint(num(find(f, AH_OUT_EVENT, 12, "position")->body, "position"), ==, 4);
	g_assert_cmpuint(count(f, AH_OUT_NOTIFY, 0, "admitted"), ==, 2);
	g_assert_cmpint(node_count(f, "admitted"), ==, 5);
	g_assert_cmpint(node_count(f, "queued"), ==, 4);
	clear(f);
	for (guint64 conn = 6; conn <= 8; conn++)
		connect(f, conn);
	g_assert_cmpint(node_count(f, "active"), ==, 5);
	/* Nobody moves while the node is full: the drift check may only refresh the estimates. */
	f->now += 5 * SEC;
	tick(f);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 0);
	for (guint i = 0; i < f->outs->len; i++) {
		out = g_ptr_array_index(f->outs, i);
		if (out->kind != AH_OUT_EVENT)
			continue;
		assert_event(out->body, "position");
		g_assert_cmpint(num(out->body, "position"), ==, out->conn - 8);
	}
	g_assert_cmpint(node_count(f, "queued"), ==, 4);
}

static void test_join_start_before_admission(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 0}"));
	assert_event(join_attendee(f, 1), "queued");
	assert_error(send_jsep(f, 1, "{'request': 'start'}", "answer", NULL, 0), AH_ERR_WRONG_STATE);
	assert_error(send(f, 1, "{'request': 'start'}"), AH_ERR_WRONG_STATE);
	/* Once admitted, start works once per offer. */
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	tick(f);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 1, "admitted"));
	start(f, 1);
	assert_error(send_jsep(f, 1, "{'request': 'start'}", "answer", NULL, 0), AH_ERR_WRONG_STATE);
}

static void test_join_queued_leave(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 0}"));
	assert_event(join_attendee(f, 1), "queued");
	assert_event(join_attendee(f, 2), "queued");
	clear(f);
	assert_event(send(f, 1, "{'request': 'leave'}"), "left");
	/* No PeerConnection to close for a queued attendee; the one behind moves up (reported by the
	 * next sweep). */
	g_assert_cmpuint(count(f, AH_OUT_CLOSE_PC, 0, NULL), ==, 0);
	f->now += 100 * MS;
	tick(f);
	g_assert_cmpint(num(find(f, AH_OUT_EVENT, 2, "position")->body, "position"), ==, 1);
	g_assert_cmpstr(str(find(f, AH_OUT_NOTIFY, 1, "left")->body, "reason"), ==, "leave");
	g_assert_cmpint(node_count(f, "queued"), ==, 1);
}

/* --- presenters, offers, slots and routes */

static void test_publish_updates_attendees(fixture *f, gconstpointer data)
{
	json_t *presenters, *reply;
	ah_out *out;
	const ah_slot *s;
	guint n;
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	connect(f, 1);
	assert_event(join_attendee(f, 2), "admitted"); /* offer still unanswered */
	assert_event(join_attendee(f, 3), "admitted");
	connect(f, 3);
	join_presenter(f, 10);
	clear(f);
	publish(f, 10, av, 2);
	/* The answered attendees get "updated" with a new offer; 2 must answer its first one first. */
	out = find(f, AH_OUT_EVENT, 1, "updated");
	g_assert_nonnull(out);
	g_assert_cmpint(out->jsep, ==, AH_JSEP_OFFER);
	presenters = json_object_get(out->body, "presenters");
	g_assert_cmpuint(json_array_size(presenters), ==, 1);
	g_assert_cmpint(num(json_array_get(presenters, 0), "id"), ==, 4);
	g_assert_cmpstr(str(json_array_get(presenters, 0), "display"), ==, "CEO");
	g_assert_cmpuint(json_array_size(json_object_get(json_array_get(presenters, 0), "streams")), ==, 2);
	/* Each stream names the attendee's m-line that carries it (audio 0, video 1: the placeholders). */
	g_assert_cmpint(num(json_array_get(json_object_get(json_array_get(presenters, 0), "streams"), 0), "mindex"), ==, 0);
	g_assert_cmpint(num(json_array_get(json_object_get(json_array_get(presenters, 0), "streams"), 1), "mindex"), ==, 1);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 3, "updated"));
	g_assert_null(find(f, AH_OUT_EVENT, 2, "updated"));
	/* Routes come after the offers, once per presenter. */
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, 10, NULL), ==, 1);
	g_assert_cmpint(position_of(f, AH_OUT_ROUTES, 10), >, position_of(f, AH_OUT_EVENT, 3));
	/* The placeholders were reused: audio on m-line 0, video on 1. */
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 2);
	g_assert_true(s[0].active);
	g_assert_cmpuint(s[0].presenter, ==, 4);
	g_assert_cmpuint(s[0].presenter_conn, ==, 10);
	g_assert_cmpint(s[0].presenter_mindex, ==, 0);
	g_assert_cmpstr(s[0].codec, ==, "opus");
	g_assert_cmpstr(s[1].codec, ==, "vp8");
	/* 2's offered slots do not carry the presenter yet: no route to it. */
	g_assert_cmpuint(n_routes(f, 10, 1), ==, 2);
	g_assert_cmpuint(n_routes(f, 10, 3), ==, 2);
	g_assert_cmpuint(n_routes(f, 10, 2), ==, 0);
	clear(f);
	/* 2 answers: started, keyframe, then the pending renegotiation. */
	start(f, 2);
	g_assert_cmpint(position_of(f, AH_OUT_KEYFRAME, 10), ==, 1);
	out = find(f, AH_OUT_EVENT, 2, "updated");
	g_assert_nonnull(out);
	g_assert_cmpint(out->jsep, ==, AH_JSEP_OFFER);
	g_assert_cmpint(position_of(f, AH_OUT_RECEIVER_ROUTES, 2), >, position_of(f, AH_OUT_EVENT, 2));
	g_assert_cmpuint(n_routes(f, 10, 2), ==, 2);
	clear(f);
	/* The presenter's routes list every seated attendee; the presenter itself has no slots. */
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 6);
	g_assert_null(slots(f, 10, &n));
	g_assert_cmpuint(n, ==, 0);
	/* A joiner now gets the presenter in its first offer. */
	reply = join_attendee(f, 4);
	assert_event(reply, "admitted");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "presenters")), ==, 1);
	/* Only the joiner's own routes change: a patch for it, no rebuild of the presenter's fan-out. */
	g_assert_cmpuint(count(f, AH_OUT_RECEIVER_ROUTES, 4, NULL), ==, 1);
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, 10, NULL), ==, 0);
	g_assert_cmpuint(n_routes(f, 10, 4), ==, 2);
	/* room_info shows the presenter publishing. */
	presenters = json_object_get(json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', "
		"'room': 'allhands'}"), "room"), "presenters");
	g_assert_true(json_is_true(json_object_get(json_array_get(presenters, 0), "publishing")));
	/* media_up of an attendee asks the presenter for a keyframe. */
	clear(f);
	start(f, 4);
	clear(f);
	ah_engine_media_up(f->engine, 4, f->now, f->outs);
	g_assert_cmpuint(count(f, AH_OUT_KEYFRAME, 10, NULL), ==, 1);
}

static void test_publish_unpublish(fixture *f, gconstpointer data)
{
	const ah_slot *s;
	guint n;
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	connect(f, 1);
	join_presenter(f, 10);
	publish(f, 10, av, 2);
	connect(f, 1);
	ah_engine_media_up(f->engine, 10, f->now, f->outs);
	clear(f);
	assert_event(send(f, 10, "{'request': 'unpublish'}"), "unpublished");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 10, NULL));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 1, "updated"));
	g_assert_cmpuint(json_array_size(json_object_get(find(f, AH_OUT_EVENT, 1, "updated")->body, "presenters")), ==, 0);
	/* The presenter's fan-out is emptied. */
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 0);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 2);
	g_assert_false(s[0].active);
	g_assert_false(s[1].active);
	g_assert_cmpuint(s[0].presenter, ==, 0);
	g_assert_cmpuint(s[0].presenter_conn, ==, 0);
	clear(f);
	/* The late hangup of the closed PeerConnection changes nothing. */
	ah_engine_media_down(f->engine, 10, f->now, f->outs);
	g_assert_cmpuint(f->outs->len, ==, 0);
	assert_error(send(f, 10, "{'request': 'unpublish'}"), AH_ERR_WRONG_STATE);
	/* Publishing again works and lands on the same m-lines. */
	connect(f, 1);
	clear(f);
	publish(f, 10, av, 2);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 2);
	g_assert_true(s[0].active && s[1].active);
	/* A presenter whose PeerConnection drops stops publishing. */
	start(f, 1);
	ah_engine_media_up(f->engine, 10, f->now, f->outs);
	clear(f);
	ah_engine_media_down(f->engine, 10, f->now, f->outs);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 1, "updated"));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 10, "unpublished"));
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 0);
	/* So does one whose PeerConnection never came up (ICE failed): no media_up, then a hangup. */
	start(f, 1);
	publish(f, 10, av, 2);
	start(f, 1);
	clear(f);
	ah_engine_media_down(f->engine, 10, f->now, f->outs);
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 10, "unpublished"));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 1, "updated"));
	g_assert_cmpuint(json_array_size(json_object_get(find(f, AH_OUT_EVENT, 1, "updated")->body, "presenters")), ==, 0);
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 0);
}

static void test_slots_reuse(fixture *f, gconstpointer data)
{
	static const ah_stream_desc moved[] = {
		{ AH_MEDIA_VIDEO, 0, "vp8", "" },
		{ AH_MEDIA_AUDIO, 1, "opus", "" },
	};
	const ah_slot *s;
	guint n;
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	join_presenter(f, 10);
	join_presenter(f, 11);
	join_presenter(f, 12);
	publish(f, 10, av, 2);
	connect(f, 1);       /* answers the first offer; the pending update follows */
	start(f, 1);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 2);
	/* A second presenter's streams are appended. */
	publish(f, 11, av, 2);
	start(f, 1);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 4);
	g_assert_cmpuint(s[2].presenter_conn, ==, 11);
	g_assert_cmpint(s[2].kind, ==, AH_MEDIA_AUDIO);
	g_assert_cmpuint(s[3].presenter_conn, ==, 11);
	g_assert_cmpint(s[3].mindex, ==, 3);
	/* Republishing with m-lines in another order keeps the attendee's m-lines. */
	publish(f, 10, moved, 2);
	start(f, 1);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 4);
	g_assert_cmpuint(s[0].presenter_conn, ==, 10);
	g_assert_cmpint(s[0].kind, ==, AH_MEDIA_AUDIO);
	g_assert_cmpint(s[0].presenter_mindex, ==, 1);
	g_assert_cmpint(s[1].kind, ==, AH_MEDIA_VIDEO);
	g_assert_cmpint(s[1].presenter_mindex, ==, 0);
	g_assert_cmpuint(n_routes(f, 10, 1), ==, 2);
	/* The first presenter leaves: its m-lines go inactive, nothing moves. */
	assert_event(send(f, 10, "{'request': 'leave'}"), "left");
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 11, NULL));
	start(f, 1);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 4);
	g_assert_false(s[0].active);
	g_assert_false(s[1].active);
	g_assert_cmpuint(s[2].presenter_conn, ==, 11);
	/* A new video stream reuses the inactive video m-line, with its own codec. */
	publish(f, 12, video_only, 1);
	start(f, 1);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 4);
	g_assert_true(s[1].active);
	g_assert_cmpuint(s[1].presenter_conn, ==, 12);
	g_assert_cmpstr(s[1].codec, ==, "h264");
	g_assert_cmpstr(s[1].fmtp, ==, video_only[0].fmtp);
	g_assert_false(s[0].active);
	for (guint i = 0; i < n; i++)
		g_assert_cmpint(s[i].mindex, ==, i);
	g_assert_cmpuint(n_routes(f, 12, 1), ==, 1);
	g_assert_cmpuint(n_routes(f, 11, 1), ==, 2);
}

static void test_publish_bad_streams(fixture *f, gconstpointer data)
{
	ah_stream_desc bad = av[0];
	make_rooms(f);
	join_presenter(f, 10);
	bad.mindex = -1;
	assert_error(send_jsep(f, 10, "{'request': 'publish'}", "offer", &bad, 1), AH_ERR_INVALID_JSEP);
	bad = av[0];
	bad.kind = 7;
	assert_error(send_jsep(f, 10, "{'request': 'publish'}", "offer", &bad, 1), AH_ERR_INVALID_JSEP);
	bad = av[0];
	memset(bad.codec, 'x', sizeof(bad.codec));
	assert_error(send_jsep(f, 10, "{'request': 'publish'}", "offer", &bad, 1), AH_ERR_INVALID_JSEP);
	bad = av[0];
	bad.codec[0] = '\0';
	assert_error(send_jsep(f, 10, "{'request': 'publish'}", "offer", &bad, 1), AH_ERR_INVALID_JSEP);
	publish(f, 10, av, 2);
}

/* --- ways out */

static void test_admit_timeout(fixture *f, gconstpointer data)
{
	ah_out *out;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_attendee(f, 2), "queued");
	join_presenter(f, 10);
	publish(f, 10, av, 2);
	clear(f);
	/* The estimate drift check (someone was just admitted) comes first; nobody moves then. */
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, f->now + 5 * SEC);
	f->now += 5 * SEC;
	tick(f);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "removed"), ==, 0);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 0);
	clear(f);
	f->now += 5 * SEC - 1;
	tick(f);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "removed"), ==, 0);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 0);
	clear(f);
	f->now += 1;
	tick(f);
	out = find(f, AH_OUT_EVENT, 1, "removed");
	g_assert_nonnull(out);
	g_assert_cmpstr(str(out->body, "reason"), ==, "admit_timeout");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_cmpstr(str(find(f, AH_OUT_NOTIFY, 1, "removed")->body, "reason"), ==, "admit_timeout");
	/* Its seat went to the next in line, and the presenter's fan-out follows: a patch for each of
	 * the two receivers, no rebuild. */
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "admitted"));
	g_assert_nonnull(find(f, AH_OUT_RECEIVER_ROUTES, 1, NULL));
	g_assert_nonnull(find(f, AH_OUT_RECEIVER_ROUTES, 2, NULL));
	g_assert_null(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_cmpuint(n_routes(f, 10, 1), ==, 0);
	g_assert_cmpuint(n_routes(f, 10, 2), ==, 2);
	g_assert_null(slots(f, 1, &(guint){ 0 }));
	/* The handle is free again: a late media_up is ignored, a new join queues. */
	clear(f);
	ah_engine_media_up(f->engine, 1, f->now, f->outs);
	g_assert_cmpuint(f->outs->len, ==, 0);
	assert_event(join_attendee(f, 1), "queued");
}

static void test_kick(fixture *f, gconstpointer data)
{
	ah_out *out;
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	connect(f, 1);
	join_presenter(f, 10);
	publish(f, 10, av, 2);
	start(f, 1);
	clear(f);
	assert_success(admin(f, "{'request': 'kick', 'tenant': 'acme', 'room': 'allhands', 'id': 1}"));
	out = find(f, AH_OUT_EVENT, 1, "removed");
	g_assert_nonnull(out);
	g_assert_cmpstr(str(out->body, "reason"), ==, "kicked");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_nonnull(find(f, AH_OUT_RECEIVER_ROUTES, 1, NULL));
	g_assert_null(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 0);
	g_assert_cmpint(node_count(f, "admitted"), ==, 0);
	assert_error(admin(f, "{'request': 'kick', 'tenant': 'acme', 'room': 'allhands', "
		"'id': 1}"), AH_ERR_NO_SUCH_PARTICIPANT);
	/* Kicking a presenter renegotiates the attendees. */
	assert_event(join_attendee(f, 2), "admitted");
	connect(f, 2);
	clear(f);
	assert_success(send(f, 3, "{'request': 'kick', 'admin_key': 'op-key', 'tenant': 'acme', 'room': 'allhands', "
		"'id': 2}"));
	g_assert_cmpstr(str(find(f, AH_OUT_EVENT, 10, "removed")->body, "reason"), ==, "kicked");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 10, NULL));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "updated"));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	/* The kicked handle can join again. */
	join_presenter(f, 10);
}

static void test_destroy_room(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'other', 'max_attendees': 10, "
		"'presenter_secret': 'presenter-p'}"));
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 2}"));
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_attendee(f, 2), "admitted");
	assert_event(join_attendee(f, 3), "queued");
	assert_event(send(f, 4, "{'request': 'join', 'tenant': 'acme', 'room': 'other'}"), "queued");
	join_presenter(f, 10);
	publish(f, 10, av, 2);
	clear(f);
	assert_success(admin(f, "{'request': 'destroy_room', 'tenant': 'acme', 'room': 'allhands'}"));
	for (guint64 conn = 1; conn <= 10; conn = conn == 3 ? 10 : conn + 1) {
		ah_out *out = find(f, AH_OUT_EVENT, conn, "removed");
		g_assert_nonnull(out);
		g_assert_cmpstr(str(out->body, "reason"), ==, "room_destroyed");
		g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, conn, NULL));
	}
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_null(find(f, AH_OUT_EVENT, 4, NULL));
	g_assert_cmpuint(count(f, AH_OUT_NOTIFY, 0, "removed"), ==, 4);
	/* The queue moves up on the next tick, and the freed seats admit the other room's attendee
	 * (a request runs that due work first: status shows the seats after it). */
	clear(f);
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, f->now);
	g_assert_cmpint(node_count(f, "admitted"), ==, 1);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 4, "admitted"));
	tick(f);
	g_assert_null(slots(f, 1, &(guint){ 0 }));
	assert_error(join_attendee(f, 1), AH_ERR_NO_SUCH_ROOM);
}

static void test_destroy_tenant(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	join_presenter(f, 10);
	clear(f);
	assert_success(admin(f, "{'request': 'destroy_tenant', 'tenant': 'acme'}"));
	g_assert_cmpstr(str(find(f, AH_OUT_EVENT, 1, "removed")->body, "reason"), ==, "tenant_destroyed");
	g_assert_cmpstr(str(find(f, AH_OUT_EVENT, 10, "removed")->body, "reason"), ==, "tenant_destroyed");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 10, NULL));
	assert_error(join_attendee(f, 1), AH_ERR_NO_SUCH_TENANT);
	assert_error(admin(f, "{'request': 'list_rooms', 'tenant': 'acme'}"), AH_ERR_NO_SUCH_TENANT);
}

static void test_hangup_frees_seat(fixture *f, gconstpointer data)
{
	ah_out *out;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_attendee(f, 2), "queued");
	/* A hangup before the PeerConnection was ever up is left to the admit timeout. */
	clear(f);
	ah_engine_media_down(f->engine, 1, f->now, f->outs);
	g_assert_cmpuint(f->outs->len, ==, 0);
	connect(f, 1);
	clear(f);
	ah_engine_media_down(f->engine, 1, f->now, f->outs);
	out = find(f, AH_OUT_EVENT, 1, "left");
	g_assert_nonnull(out);
	g_assert_cmpstr(str(out->body, "reason"), ==, "hangup");
	g_assert_null(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "admitted"));
	g_assert_cmpint(node_count(f, "admitted"), ==, 1);
	g_assert_null(slots(f, 1, &(guint){ 0 }));
}

static void test_gone_frees_seat(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_event(join_attendee(f, 1), "admitted");
	connect(f, 1);
	assert_event(join_attendee(f, 2), "queued");
	join_presenter(f, 10);
	publish(f, 10, av, 2);
	clear(f);
	ah_engine_conn_gone(f->engine, 1, f->now, f->outs);
	/* Silently: nothing to the gone handle. */
	g_assert_null(find(f, AH_OUT_EVENT, 1, NULL));
	g_assert_null(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_cmpstr(str(find(f, AH_OUT_NOTIFY, 1, "left")->body, "reason"), ==, "gone");
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "admitted"));
	clear(f);
	ah_engine_conn_gone(f->engine, 10, f->now, f->outs);
	g_assert_null(find(f, AH_OUT_EVENT, 10, NULL));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 0);
	/* 2's first offer is still out: the change waits for its answer. */
	g_assert_null(find(f, AH_OUT_EVENT, 2, "updated"));
	clear(f);
	start(f, 2);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "updated"));
	g_assert_cmpint(node_count(f, "presenters"), ==, 0);
	ah_engine_conn_gone(f->engine, 99, f->now, f->outs);
	ah_engine_media_up(f->engine, 99, f->now, f->outs);
	ah_engine_media_down(f->engine, 99, f->now, f->outs);
}

static void test_leave_closes_pc(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	clear(f);
	assert_event(send(f, 1, "{'request': 'leave'}"), "left");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_cmpint(position_of(f, AH_OUT_REPLY, 1), ==, 0);
	assert_event(join_attendee(f, 1), "admitted");
	join_presenter(f, 2);
	clear(f);
	assert_event(send(f, 2, "{'request': 'leave'}"), "left");
	/* A presenter that never published has no PeerConnection. */
	g_assert_null(find(f, AH_OUT_CLOSE_PC, 2, NULL));
	g_assert_cmpint(node_count(f, "presenters"), ==, 0);
}

static void test_presenter_tenant_full(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'max_participants': 2}"));
	join_presenter(f, 10);
	assert_event(join_attendee(f, 1), "admitted");
	assert_error(send(f, 11, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'presenter', "
		"'presenter_secret': 's3cret-presenter'}"), AH_ERR_TENANT_FULL);
	/* Attendees queue instead. */
	assert_event(join_attendee(f, 2), "queued");
}

/* --- restart and the state file */

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("/engine/join/admitted", test_join_admitted);
	ADD("/engine/join/ids-sequential", test_join_ids_sequential);
	ADD("/engine/join/queued-position", test_join_queued_position);
	ADD("/engine/join/start-before-admission", test_join_start_before_admission);
	ADD("/engine/join/queued-leave", test_join_queued_leave);
	ADD("/engine/join/presenter-tenant-full", test_presenter_tenant_full);
	ADD("/engine/publish/updates-attendees-and-routes", test_publish_updates_attendees);
	ADD("/engine/publish/unpublish-and-hangup", test_publish_unpublish);
	ADD("/engine/publish/bad-streams", test_publish_bad_streams);
	ADD("/engine/slots/reuse-on-republish", test_slots_reuse);
	ADD("/engine/exit/admit-timeout", test_admit_timeout);
	ADD("/engine/exit/kick", test_kick);
	ADD("/engine/exit/destroy-room", test_destroy_room);
	ADD("/engine/exit/destroy-tenant", test_destroy_tenant);
	ADD("/engine/exit/hangup-frees-seat", test_hangup_frees_seat);
	ADD("/engine/exit/gone-frees-seat", test_gone_frees_seat);
	ADD("/engine/exit/leave-closes-pc", test_leave_closes_pc);
	return g_test_run();
}
