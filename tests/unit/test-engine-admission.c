/* allhands: scenario tests of the engine's fair admission (plugin/core/engine-admission.c,
 * engine-ghosts.c, requests-node.c and requests-join.c): tenants' weights and queue bounds, rooms' presenter seats and priority
 * class, pause/resume/drain, rejoin grace, the node settings and figures, and their persistence.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-fixture.h"

/* Room `room` of tenant `tenant`, created with the extra fields `extra` (", 'x': 1" or ""). */
static void make_room(fixture *f, const char *tenant, const char *room, const char *extra)
{
	char *text = g_strdup_printf("{'request': 'create_room', 'tenant': '%s', 'room': '%s', 'max_attendees': 100, "
		"'presenter_secret': 's3cret-presenter'%s}", tenant, room, extra);
	assert_success(admin(f, text));
	g_free(text);
}

static json_t *join_room(fixture *f, guint64 conn, const char *tenant, const char *room, const char *extra)
{
	char *text = g_strdup_printf("{'request': 'join', 'tenant': '%s', 'room': '%s'%s}", tenant, room, extra);
	json_t *reply = send(f, conn, text);
	g_free(text);
	return reply;
}

/* The element of status's `list` ("tenants" or "rooms") whose "tenant" (and "room") match. */
static json_t *status_entry(fixture *f, const char *list, const char *tenant, const char *room)
{
	json_t *entries = json_object_get(admin(f, "{'request': 'status'}"), list), *e;
	size_t i;
	json_array_foreach(entries, i, e) {
		if (g_strcmp0(str(e, "tenant"), tenant) == 0 && (room == NULL || g_strcmp0(str(e, "room"), room) == 0))
			return e;
	}
	g_assert_cmpstr(tenant, ==, "an entry in status");
	return NULL;
}

static json_t *node(fixture *f)
{
	return json_object_get(admin(f, "{'request': 'status'}"), "node");
}

static void advance(fixture *f, gint64 by)
{
	f->now += by;
	tick(f);
}

/* --- weights */

static void test_weights(fixture *f, gconstpointer data)
{
	guint a = 0, b = 0;
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 100, "
		"'secret': 'acme-tenant-secret', 'weight': 3}"));
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'globex', 'max_participants': 100, "
		"'secret': 'globex-tenant-secret'}"));
	make_room(f, "acme", "allhands", ", 'presenter_seats': 0");
	make_room(f, "globex", "standup", ", 'presenter_seats': 0");
	g_assert_cmpint(num(status_entry(f, "tenants", "acme", NULL), "weight"), ==, 3);
	g_assert_cmpint(num(status_entry(f, "tenants", "globex", NULL), "weight"), ==, 1);
	/* Both tenants queue up while the node has no seat; then 8 seats open in one wave. */
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 0}"));
	for (guint64 conn = 1; conn <= 20; conn++) {
		assert_event(join_room(f, conn, "acme", "allhands", ""), "queued");
		assert_event(join_room(f, 100 + conn, "globex", "standup", ""), "queued");
	}
	clear(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 8, 'wave_size': 8}"));
	advance(f, 1 * SEC);
	for (guint i = 0; i < f->outs->len; i++) {
		ah_out *out = g_ptr_array_index(f->outs, i);
		if (out->kind == AH_OUT_EVENT && g_strcmp0(str(out->body, "event"), "admitted") == 0) {
			if (out->conn < 100)
				a++;
			else
				b++;
		}
	}
	/* Capacity is the bottleneck: the seats are shared 3:1, each tenant in queue order. */
	g_assert_cmpuint(a, ==, 6);
	g_assert_cmpuint(b, ==, 2);
	for (guint64 conn = 1; conn <= 6; conn++)
		g_assert_nonnull(find(f, AH_OUT_EVENT, conn, "admitted"));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 101, "admitted"));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 102, "admitted"));
	g_assert_cmpint(node_count(f, "admitted"), ==, 8);
	g_assert_cmpint(node_count(f, "queued"), ==, 32);
}

/* --- priority class */

static void test_priority(fixture *f, gconstpointer data)
{
	json_t *reply, *room;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', "
		"'priority_secret': 'vip-pass'}"));
	room = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
	g_assert_true(json_is_true(json_object_get(room, "priority_class")));
	g_assert_null(json_object_get(room, "priority_secret"));
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 0}"));
	reply = join_attendee(f, 1);
	assert_event(reply, "queued");
	/* Nothing measured yet: no estimate. */
	g_assert_true(json_is_false(json_object_get(json_object_get(reply, "wait"), "known")));
	assert_event(join_attendee(f, 2), "queued");
	assert_error(send(f, 3, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'priority_secret': 'vip-pasS'}"), AH_ERR_WRONG_SECRET);
	reply = send(f, 3, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'priority_secret': 'vip-pass'}");
	assert_event(reply, "queued");
	g_assert_cmpint(num(reply, "position"), ==, 1);
	g_assert_cmpint(num(reply, "queue_length"), ==, 3);
	clear(f);
	/* The ordinary ones move back, reported by the next sweep with their wait. */
	advance(f, 100 * MS);
	g_assert_cmpint(num(find(f, AH_OUT_EVENT, 1, "position")->body, "position"), ==, 2);
	g_assert_cmpint(num(find(f, AH_OUT_EVENT, 2, "position")->body, "position"), ==, 3);
	g_assert_nonnull(json_object_get(find(f, AH_OUT_EVENT, 2, "position")->body, "wait"));
	clear(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	advance(f, 1 * SEC);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 3, "admitted"));
	g_assert_null(find(f, AH_OUT_EVENT, 1, "admitted"));
	/* "" removes the secret: the priority class is gone. */
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'priority_secret': ''}"));
	room = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
	g_assert_true(json_is_false(json_object_get(room, "priority_class")));
	assert_error(send(f, 4, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'priority_secret': 'vip-pass'}"),
		AH_ERR_WRONG_SECRET);
}

/* Positions count within the room. */
static void test_positions_per_room(fixture *f, gconstpointer data)
{
	make_rooms(f);
	make_room(f, "acme", "town", "");
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 0}"));
	g_assert_cmpint(num(join_attendee(f, 1), "position"), ==, 1);
	g_assert_cmpint(num(join_room(f, 2, "acme", "town", ""), "position"), ==, 1);
	g_assert_cmpint(num(join_attendee(f, 3), "position"), ==, 2);
	g_assert_cmpint(num(join_room(f, 4, "acme", "town", ""), "queue_length"), ==, 2);
}

/* With attendees queued and a recent admission, the estimates are checked for drift every 5 s;
 * a minute after the last admission nothing is pending any more. */
static void test_drift_check_deadline(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_event(join_attendee(f, 1), "admitted");
	connect(f, 1);
	assert_event(join_attendee(f, 2), "queued");
	clear(f);
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, f->now + 5 * SEC);
	for (guint i = 0; i < 12; i++) {
		gint64 next = ah_engine_next_deadline(f->engine, f->now);
		g_assert_cmpint(next, >, f->now);
		if (next == G_MAXINT64)
			break;
		f->now = next;
		tick(f);
		g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 0);
		clear(f);
	}
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, G_MAXINT64);
	g_assert_cmpint(node_count(f, "queued"), ==, 1);
}

/* --- queue bounds */

static void test_queue_full(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 0, 'max_queued': 2}"));
	g_assert_cmpint(num(node(f), "max_queued"), ==, 2);
	assert_event(join_attendee(f, 1), "queued");
	assert_event(join_attendee(f, 2), "queued");
	clear(f);
	reply = join_attendee(f, 3);
	assert_error(reply, AH_ERR_QUEUE_FULL);
	g_assert_cmpint(num(reply, "retry_after_ms"), >=, 0);
	/* Nothing kept: no notification, and 3 may try again. */
	g_assert_cmpuint(f->outs->len, ==, 1);
	g_assert_cmpint(node_count(f, "queued"), ==, 2);
	/* The tenant's bound. */
	assert_success(admin(f, "{'request': 'set_capacity', 'max_queued': 0}"));
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'max_queued': 2}"));
	g_assert_cmpint(num(status_entry(f, "tenants", "acme", NULL), "max_queued"), ==, 2);
	assert_error(join_attendee(f, 3), AH_ERR_QUEUE_FULL);
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'max_queued': 3}"));
	assert_event(join_attendee(f, 3), "queued");
	assert_error(join_attendee(f, 4), AH_ERR_QUEUE_FULL);
	g_assert_cmpint(node_count(f, "queued"), ==, 3);
}

/* --- drain */

static void test_drain(fixture *f, gconstpointer data)
{
	json_t *reply;
	ah_out *out;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_attendee(f, 2), "queued");
	assert_event(join_attendee(f, 3), "queued");
	clear(f);
	assert_error(send(f, 9, "{'request': 'drain', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}"),
		AH_ERR_FORBIDDEN);
	reply = admin(f, "{'request': 'drain'}");
	assert_success(reply);
	g_assert_true(json_is_true(json_object_get(json_object_get(json_object_get(reply, "node"), "admission"),
		"draining")));
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 0, "node_draining"));
	for (guint64 conn = 2; conn <= 3; conn++) {
		out = find(f, AH_OUT_EVENT, conn, "removed");
		g_assert_nonnull(out);
		g_assert_cmpstr(str(out->body, "reason"), ==, "draining");
	}
	g_assert_null(find(f, AH_OUT_EVENT, 1, "removed"));
	clear(f);
	/* Forgotten; the seated stay. */
	g_assert_cmpint(node_count(f, "queued"), ==, 0);
	g_assert_cmpint(node_count(f, "admitted"), ==, 1);
	assert_error(send(f, 2, "{'request': 'leave'}"), AH_ERR_WRONG_STATE);
	reply = join_attendee(f, 4);
	assert_error(reply, AH_ERR_DRAINING);
	g_assert_true(json_is_true(json_object_get(reply, "retry_elsewhere")));
	connect(f, 1);
	g_assert_cmpint(node_count(f, "active"), ==, 1);
	/* Resuming the node ends draining. */
	reply = admin(f, "{'request': 'resume'}");
	assert_success(reply);
	g_assert_true(json_is_false(json_object_get(json_object_get(json_object_get(reply, "node"), "admission"),
		"draining")));
	assert_event(join_attendee(f, 4), "queued");
}

/* --- pause / resume */

static void test_pause_node(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_rooms(f);
	reply = admin(f, "{'request': 'pause'}");
	assert_success(reply);
	g_assert_true(json_is_true(json_object_get(json_object_get(json_object_get(reply, "node"), "admission"),
		"paused")));
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 0, "node_paused"));
	/* Seats are free but nobody is admitted; joins still queue. */
	assert_event(join_attendee(f, 1), "queued");
	assert_event(join_attendee(f, 2), "queued");
	clear(f);
	advance(f, 5 * SEC);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 0);
	assert_success(admin(f, "{'request': 'resume'}"));
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 0, "node_resumed"));
	advance(f, 1 * SEC);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 1, "admitted"));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "admitted"));
	g_assert_true(json_is_false(json_object_get(json_object_get(node(f), "admission"), "paused")));
}

static void test_pause_room(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_rooms(f);
	make_room(f, "acme", "town", "");
	/* A tenant pauses its own room, not another tenant's. */
	reply = send(f, 9, "{'request': 'pause', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', 'room': 'allhands'}");
	assert_success(reply);
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 0, "room_paused"));
	assert_error(send(f, 9, "{'request': 'pause', 'tenant': 'globex', 'tenant_secret': 'acme-tenant-secret', "
		"'room': 'standup'}"), AH_ERR_UNAUTHORIZED);
	g_assert_true(json_is_true(json_object_get(json_object_get(status_entry(f, "rooms", "acme", "allhands"),
		"admission"), "paused")));
	g_assert_true(json_is_false(json_object_get(json_object_get(status_entry(f, "rooms", "acme", "town"),
		"admission"), "paused")));
	assert_event(join_attendee(f, 1), "queued");
	/* Other rooms are not held up. */
	assert_event(join_room(f, 2, "acme", "town", ""), "admitted");
	clear(f);
	advance(f, 5 * SEC);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 0);
	assert_success(send(f, 9, "{'request': 'resume', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', "
		"'room': 'allhands'}"));
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 0, "room_resumed"));
	advance(f, 1 * SEC);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 1, "admitted"));
}

static void test_pause_node_forbidden(fixture *f, gconstpointer data)
{
	make_rooms(f);
	/* Pausing the node is an operator request: a tenant (who must name itself to authenticate)
	 * gets forbidden, and the node is not paused. */
	assert_error(send(f, 9, "{'request': 'resume', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}"),
		AH_ERR_FORBIDDEN);
	assert_error(send(f, 9, "{'request': 'pause', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}"),
		AH_ERR_FORBIDDEN);
	g_assert_true(json_is_false(json_object_get(json_object_get(node(f), "admission"), "paused")));
	assert_event(join_attendee(f, 1), "admitted");
}

/* --- rejoin grace */

static const char *token_of(fixture *f, const json_t *body)
{
	const char *token = str(body, "rejoin_token");
	g_assert_nonnull(token);
	g_assert_cmpint(num(body, "rejoin_grace_s"), ==, 30);
	return token;
}

/* A join of acme/allhands on `conn` with a rejoin token. */
static json_t *rejoin(fixture *f, guint64 conn, const char *token)
{
	char *extra = g_strdup_printf(", 'rejoin_token': '%s'", token);
	json_t *reply = join_room(f, conn, "acme", "allhands", extra);
	g_free(extra);
	return reply;
}

/* A node with one seat and a 30 s rejoin grace; attendee 1 seated with media: its token (g_free). */
static char *seated_with_grace(fixture *f)
{
	char *token;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1, 'rejoin_grace_s': 30}"));
	token = g_strdup(token_of(f, join_attendee(f, 1)));
	connect(f, 1);
	return token;
}

/* A join with a token that holds no seat: an ordinary join, queued here. */
static void assert_not_rejoined(json_t *reply)
{
	assert_event(reply, "queued");
	g_assert_true(json_is_false(json_object_get(reply, "rejoined")));
}

static void test_rejoin(fixture *f, gconstpointer data)
{
	json_t *reply;
	char *token, *text;
	ah_out *out;
	token = seated_with_grace(f);
	g_assert_cmpint(num(node(f), "rejoin_grace_s"), ==, 30);
	assert_event(join_attendee(f, 2), "queued");
	clear(f);
	/* 1 hangs up: its seat is held, 2 stays queued. */
	ah_engine_media_down(f->engine, 1, f->now, f->outs);
	out = find(f, AH_OUT_NOTIFY, 0, "rejoining");
	g_assert_nonnull(out);
	g_assert_nonnull(json_object_get(out->body, "until_s"));
	g_assert_cmpint(node_count(f, "rejoining"), ==, 1);
	clear(f);
	advance(f, 2 * SEC);
	g_assert_null(find(f, AH_OUT_EVENT, 2, "admitted"));
	assert_event(join_attendee(f, 3), "queued");
	/* A wrong token joins normally. */
	reply = send(f, 4, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'rejoin_token': '0123abcd'}");
	assert_not_rejoined(reply);
	/* The right token to another room does not take the seat. */
	text = g_strdup_printf(", 'pin': 'pin-4321', 'rejoin_token': '%s'", token);
	reply = join_room(f, 5, "globex", "standup", text);
	g_free(text);
	assert_not_rejoined(reply);
	clear(f);
	/* The right one, while others are queued and the node is full: admitted at once. */
	reply = rejoin(f, 1, token);
	assert_event(reply, "admitted");
	g_assert_cmpint(reply_jsep(f), ==, AH_JSEP_OFFER);
	g_assert_true(json_is_true(json_object_get(reply, "rejoined")));
	g_assert_cmpstr(token_of(f, reply), !=, token);
	g_assert_cmpint(node_count(f, "rejoining"), ==, 0);
	g_assert_cmpint(node_count(f, "admitted"), ==, 1);
	g_free(token);
}

static void test_rejoin_once(fixture *f, gconstpointer data)
{
	json_t *reply;
	char *token;
	token = seated_with_grace(f);
	ah_engine_conn_gone(f->engine, 1, f->now, f->outs);
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 0, "rejoining"));
	assert_event(rejoin(f, 2, token), "admitted");
	/* A token works once. */
	reply = rejoin(f, 3, token);
	assert_not_rejoined(reply);
	g_free(token);
}

/* The client comes back before Janus noticed its old connection was gone: the token takes the
 * seat over from the stale participant, which is removed ("replaced") and its PeerConnection closed. */
static void test_rejoin_replaces_stale(fixture *f, gconstpointer data)
{
	json_t *reply;
	char *token;
	ah_out *out;
	token = seated_with_grace(f);
	assert_event(join_attendee(f, 2), "queued");
	clear(f);
	reply = rejoin(f, 3, token);
	assert_event(reply, "admitted");
	g_assert_true(json_is_true(json_object_get(reply, "rejoined")));
	out = find(f, AH_OUT_EVENT, 1, "removed");
	g_assert_nonnull(out);
	g_assert_cmpstr(str(out->body, "reason"), ==, "replaced");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_null(ah_engine_slots(f->engine, 1, &(guint){ 0 }));
	/* The seat passed on: 2 still waits, nobody is held. */
	g_assert_null(find(f, AH_OUT_EVENT, 2, "admitted"));
	g_assert_cmpint(node_count(f, "admitted"), ==, 1);
	g_assert_cmpint(node_count(f, "rejoining"), ==, 0);
	g_assert_cmpint(node_count(f, "queued"), ==, 1);
	/* The old token is spent; the old handle's late hangup changes nothing. */
	ah_engine_media_down(f->engine, 1, f->now, f->outs);
	reply = rejoin(f, 4, token);
	assert_not_rejoined(reply);
	g_free(token);
}

static void test_rejoin_grace_expires(fixture *f, gconstpointer data)
{
	char *token;
	json_t *reply;
	ah_out *out;
	token = seated_with_grace(f);
	assert_event(join_attendee(f, 2), "queued");
	ah_engine_media_down(f->engine, 1, f->now, f->outs);
	g_assert_cmpint(node_count(f, "rejoining"), ==, 1);
	clear(f);
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), <=, f->now + 30 * SEC);
	advance(f, 30 * SEC - 1);
	g_assert_null(find(f, AH_OUT_NOTIFY, 0, "left"));
	g_assert_null(find(f, AH_OUT_EVENT, 2, "admitted"));
	advance(f, 1);
	out = find(f, AH_OUT_NOTIFY, 0, "left");
	g_assert_nonnull(out);
	g_assert_cmpstr(str(out->body, "reason"), ==, "grace_expired");
	g_assert_cmpint(node_count(f, "rejoining"), ==, 0);
	/* The seat goes to the queue (at once or in the next wave). */
	if (find(f, AH_OUT_EVENT, 2, "admitted") == NULL)
		advance(f, 1 * SEC);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "admitted"));
	clear(f);
	/* Too late for the token: it joins normally. */
	reply = rejoin(f, 1, token);
	assert_not_rejoined(reply);
	g_free(token);
}

/* No grace: no token, and a hangup frees the seat like before. */
static void test_no_grace(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_rooms(f);
	reply = join_attendee(f, 1);
	assert_event(reply, "admitted");
	g_assert_null(json_object_get(reply, "rejoin_token"));
	connect(f, 1);
	ah_engine_media_down(f->engine, 1, f->now, f->outs);
	g_assert_null(find(f, AH_OUT_NOTIFY, 0, "rejoining"));
	g_assert_cmpint(node_count(f, "rejoining"), ==, 0);
	g_assert_cmpint(node_count(f, "admitted"), ==, 0);
}

/* --- refusals change nothing and lose nobody's events (issue 12) */

/* Index of the first out of `kind` whose body's "event" is `event` (and "reason" `reason` if not
 * NULL), or -1. */
static int index_of(fixture *f, ah_out_kind kind, const char *event, const char *reason)
{
	for (guint i = 0; i < f->outs->len; i++) {
		ah_out *out = g_ptr_array_index(f->outs, i);
		if (out->kind == kind && g_strcmp0(str(out->body, "event"), event) == 0 &&
				(reason == NULL || g_strcmp0(str(out->body, "reason"), reason) == 0))
			return (int)i;
	}
	return -1;
}

/* The reason of the EVENT `event` sent to `conn` (which must exist). */
static const char *reason_of(fixture *f, guint64 conn, const char *event)
{
	ah_out *out = find(f, AH_OUT_EVENT, conn, event);
	g_assert_nonnull(out);
	return str(out->body, "reason");
}

/* One node seat held by 1 (never answers), 2 queued in acme; globex's queue (it has no seat) full
 * with 3. At 1's admit timeout a join to globex is refused, and the work that was due by then
 * (1 out, 2 admitted) is told all the same: before, the refusal dropped it, 2 was never sent its
 * offer and was later removed as admit_timeout. */
static void test_refused_join_keeps_due_events(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'globex', 'max_queued': 1}"));
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_attendee(f, 2), "queued");
	assert_event(send(f, 3, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', 'pin': 'pin-4321'}"),
		"queued");
	clear(f);
	f->now += 10 * SEC;
	assert_error(send(f, 4, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', 'pin': 'pin-4321'}"),
		AH_ERR_QUEUE_FULL);
	g_assert_cmpstr(reason_of(f, 1, "removed"), ==, "admit_timeout");
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "admitted"));
	g_assert_cmpint(find(f, AH_OUT_EVENT, 2, "admitted")->jsep, ==, AH_JSEP_OFFER);
	/* The refused joiner got its error and nothing else; 2 can answer its offer. */
	g_assert_null(find(f, AH_OUT_NOTIFY, 4, NULL));
	clear(f);
	connect(f, 2);
	g_assert_cmpint(node_count(f, "active"), ==, 1);
	g_assert_cmpint(node_count(f, "queued"), ==, 1);
}

/* A draining node refuses before any work: the admit timeout that is due is told by the tick (or
 * the next request), never dropped with the refusal. */
static void test_refused_draining_keeps_due_events(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_event(join_attendee(f, 1), "admitted");
	assert_success(admin(f, "{'request': 'drain'}"));
	clear(f);
	f->now += 10 * SEC;
	assert_error(join_attendee(f, 2), AH_ERR_DRAINING);
	g_assert_cmpstr(reason_of(f, 1, "removed"), ==, "admit_timeout");
	g_assert_cmpint(node_count(f, "admitted"), ==, 0);
	/* The engine forgot 1 as admission did: its late answer is refused. */
	assert_error(send_jsep(f, 1, "{'request': 'start'}", "answer", NULL, 0), AH_ERR_WRONG_STATE);
}

/* A token whose seat is still held by a seated participant, on a node that would refuse an
 * ordinary join (draining) and has no grace any more: the take-over happens whole (the seat needs
 * no grace: nothing was lost). Before, the old participant was taken out, its seat freed and its
 * outs dropped with the draining refusal: its handle was never told. */
static void test_rejoin_take_over_is_whole(fixture *f, gconstpointer data)
{
	json_t *reply;
	char *token = seated_with_grace(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'rejoin_grace_s': 0}"));
	assert_success(admin(f, "{'request': 'drain'}"));
	clear(f);
	reply = rejoin(f, 2, token);
	assert_event(reply, "admitted");
	g_assert_true(json_is_true(json_object_get(reply, "rejoined")));
	g_assert_null(json_object_get(reply, "rejoin_token"));
	g_assert_cmpstr(reason_of(f, 1, "removed"), ==, "replaced");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_cmpint(node_count(f, "admitted"), ==, 1);
	g_assert_cmpint(node_count(f, "rejoining"), ==, 0);
	/* Spent: now an ordinary join, refused by the drain, which changes nothing. */
	clear(f);
	assert_error(rejoin(f, 3, token), AH_ERR_DRAINING);
	g_assert_cmpuint(f->outs->len, ==, 1);
	g_assert_cmpint(node_count(f, "admitted"), ==, 1);
	g_free(token);
}

/* The documented order (docs/api.md, events): a lost connection is `left` (hangup or gone), then
 * `rejoining`; a take-over is `removed` (replaced) of the old id, then `joined` and `admitted` of the
 * new one, and no `rejoining` since no seat was ever held. */
static void test_rejoin_event_order(fixture *f, gconstpointer data)
{
	char *token = seated_with_grace(f);
	json_t *reply;
	clear(f);
	ah_engine_media_down(f->engine, 1, f->now, f->outs);
	g_assert_cmpint(index_of(f, AH_OUT_NOTIFY, "left", "hangup"), >=, 0);
	g_assert_cmpint(index_of(f, AH_OUT_NOTIFY, "left", "hangup"), <, index_of(f, AH_OUT_NOTIFY, "rejoining", NULL));
	clear(f);
	reply = rejoin(f, 2, token);
	assert_event(reply, "admitted");
	g_free(token);
	token = g_strdup(token_of(f, reply));
	connect(f, 2);
	clear(f);
	/* Handle gone: the same order. */
	ah_engine_conn_gone(f->engine, 2, f->now, f->outs);
	g_assert_cmpint(index_of(f, AH_OUT_NOTIFY, "left", "gone"), >=, 0);
	g_assert_cmpint(index_of(f, AH_OUT_NOTIFY, "left", "gone"), <, index_of(f, AH_OUT_NOTIFY, "rejoining", NULL));
	reply = rejoin(f, 3, token);
	g_free(token);
	token = g_strdup(token_of(f, reply));
	connect(f, 3);
	clear(f);
	/* Take-over of a seated participant. */
	assert_event(rejoin(f, 4, token), "admitted");
	g_assert_cmpint(index_of(f, AH_OUT_NOTIFY, "rejoining", NULL), ==, -1);
	g_assert_cmpint(index_of(f, AH_OUT_NOTIFY, "removed", "replaced"), >=, 0);
	g_assert_cmpint(index_of(f, AH_OUT_NOTIFY, "removed", "replaced"), <, index_of(f, AH_OUT_NOTIFY, "joined", NULL));
	g_assert_cmpint(index_of(f, AH_OUT_NOTIFY, "joined", NULL), <, index_of(f, AH_OUT_NOTIFY, "admitted", NULL));
	g_assert_cmpint(node_count(f, "rejoining"), ==, 0);
	g_free(token);
}

/* --- presenter seats */

static void test_presenter_seats(fixture *f, gconstpointer data)
{
	json_t *room;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'max_participants': 3}"));
	room = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
	g_assert_cmpint(num(room, "presenter_seats"), ==, 1);
	/* 2 of acme's 3 seats are for attendees; the third is kept for allhands's presenters. */
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_attendee(f, 2), "admitted");
	assert_event(join_attendee(f, 3), "queued");
	join_presenter(f, 10);
	/* A second presenter finds no seat left. */
	assert_error(send(f, 11, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'ptype': 'presenter', 'presenter_secret': 's3cret-presenter'}"), AH_ERR_TENANT_FULL);
	/* Two presenter seats: the queued attendee still waits, the second presenter gets in once
	 * an attendee leaves (its seat is an ordinary one, taken back first by nobody). */
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'presenter_seats': 2}"));
	room = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
	g_assert_cmpint(num(room, "presenter_seats"), ==, 2);
	assert_event(send(f, 1, "{'request': 'leave'}"), "left");
	g_assert_null(find(f, AH_OUT_EVENT, 3, "admitted"));
	assert_event(send(f, 11, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'ptype': 'presenter', 'presenter_secret': 's3cret-presenter'}"), "joined");
}

/* --- node settings and figures */

static void test_set_capacity(fixture *f, gconstpointer data)
{
	json_t *reply, *n;
	reply = admin(f, "{'request': 'set_capacity', 'wave_mode': 'adaptive', 'wave_size': 8, 'wave_min': 2, "
		"'cpu_target_percent': 70, 'join_rate': 50, 'join_burst': 10, 'update_interval_ms': 500, "
		"'rejoin_grace_s': 20, 'max_queued': 1000}");
	assert_success(reply);
	n = json_object_get(reply, "node");
	g_assert_cmpstr(str(n, "wave_mode"), ==, "adaptive");
	g_assert_cmpint(num(n, "wave_size"), ==, 8);
	g_assert_cmpint(num(n, "wave_min"), ==, 2);
	g_assert_cmpint(num(n, "cpu_target_percent"), ==, 70);
	g_assert_cmpint(num(n, "join_rate"), ==, 50);
	g_assert_cmpint(num(n, "join_burst"), ==, 10);
	g_assert_cmpint(num(n, "update_interval_ms"), ==, 500);
	g_assert_cmpint(num(n, "rejoin_grace_s"), ==, 20);
	g_assert_cmpint(num(n, "max_queued"), ==, 1000);
	g_assert_cmpint(num(json_object_get(n, "counts"), "rejoining"), ==, 0);
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 0, "capacity_changed"));
	clear(f);
	/* Refused changes change nothing. */
	assert_error(admin(f, "{'request': 'set_capacity', 'wave_min': 9}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'set_capacity', 'wave_size': 1}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'set_capacity', 'wave_mode': 'turbo'}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'set_capacity', 'wave_mode': 5}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'set_capacity', 'update_interval_ms': 99}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'set_capacity', 'update_interval_ms': 60001}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'set_capacity', 'cpu_target_percent': 101}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'set_capacity', 'join_burst': 0}"), AH_ERR_INVALID_ELEMENT);
	g_assert_cmpuint(count(f, AH_OUT_NOTIFY, 0, NULL), ==, 0);
	n = node(f);
	g_assert_cmpstr(str(n, "wave_mode"), ==, "adaptive");
	g_assert_cmpint(num(n, "wave_size"), ==, 8);
	g_assert_cmpint(num(n, "wave_min"), ==, 2);
	g_assert_cmpint(num(n, "update_interval_ms"), ==, 500);
	assert_success(admin(f, "{'request': 'set_capacity', 'wave_mode': 'fixed'}"));
	g_assert_cmpstr(str(node(f), "wave_mode"), ==, "fixed");
}

static void assert_percentiles(const json_t *p)
{
	g_assert_cmpint(num(p, "p50"), >=, 0);
	g_assert_cmpint(num(p, "p90"), >=, num(p, "p50"));
	g_assert_cmpint(num(p, "p99"), >=, num(p, "p90"));
}

static void test_status_figures(fixture *f, gconstpointer data)
{
	json_t *n, *a, *t, *r;
	make_rooms(f);
	for (guint64 conn = 1; conn <= 7; conn++)
		join_attendee(f, conn);
	for (guint64 conn = 1; conn <= 5; conn++) {
		f->now += 200 * MS;
		connect(f, conn);
	}
	assert_event(send(f, 1, "{'request': 'leave'}"), "left");
	assert_event(send(f, 2, "{'request': 'leave'}"), "left");
	advance(f, 1 * SEC);
	advance(f, 1 * SEC);
	n = node(f);
	g_assert_cmpint(num(json_object_get(n, "counts"), "rejoining"), ==, 0);
	a = json_object_get(n, "admission");
	g_assert_nonnull(a);
	g_assert_cmpint(num(a, "admitted_total"), ==, 7);
	g_assert_true(json_is_number(json_object_get(a, "admitted_per_s")));
	g_assert_cmpfloat(json_number_value(json_object_get(a, "admitted_per_s")), >=, 0);
	assert_percentiles(json_object_get(a, "setup_ms"));
	assert_percentiles(json_object_get(a, "wait_ms"));
	g_assert_cmpint(num(json_object_get(a, "setup_ms"), "p50"), >, 0);
	g_assert_cmpint(num(json_object_get(a, "setup_ms"), "p99"), <=, 1000);
	g_assert_cmpint(num(a, "estimates"), >=, 0);
	g_assert_nonnull(json_object_get(json_object_get(a, "estimate_error"), "p50"));
	g_assert_nonnull(json_object_get(json_object_get(a, "estimate_error"), "p90"));
	g_assert_cmpint(num(a, "wave_size_now"), ==, 2);
	g_assert_cmpint(num(a, "waves"), >=, 1);
	g_assert_cmpint(num(json_object_get(a, "last_wave"), "admitted"), >=, 1);
	g_assert_cmpint(num(json_object_get(a, "last_wave"), "ago_ms"), >=, 0);
	g_assert_true(json_is_false(json_object_get(a, "paused")));
	g_assert_true(json_is_false(json_object_get(a, "draining")));
	g_assert_nonnull(json_object_get(a, "cpu"));
	t = json_object_get(status_entry(f, "tenants", "acme", NULL), "admission");
	g_assert_nonnull(t);
	g_assert_cmpint(num(t, "admitted_total"), ==, 7);
	g_assert_null(json_object_get(t, "draining"));
	t = json_object_get(status_entry(f, "tenants", "globex", NULL), "admission");
	g_assert_cmpint(num(t, "admitted_total"), ==, 0);
	r = json_object_get(status_entry(f, "rooms", "acme", "allhands"), "admission");
	g_assert_nonnull(r);
	g_assert_cmpint(num(r, "admitted_total"), ==, 7);
	g_assert_true(json_is_false(json_object_get(r, "paused")));
	r = json_object_get(status_entry(f, "rooms", "globex", "standup"), "admission");
	g_assert_cmpint(num(r, "admitted_total"), ==, 0);
}

/* --- a presenter's view of its room */

static void test_room_counts(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_rooms(f);
	for (guint64 conn = 1; conn <= 7; conn++)
		join_attendee(f, conn);
	connect(f, 1);
	join_presenter(f, 20);
	reply = send(f, 20, "{'request': 'room_counts'}");
	assert_event(reply, "room_counts");
	g_assert_cmpstr(str(reply, "room"), ==, "allhands");
	g_assert_cmpint(num(json_object_get(reply, "counts"), "active"), ==, 1);
	g_assert_cmpint(num(json_object_get(reply, "counts"), "connecting"), ==, 4);
	g_assert_cmpint(num(json_object_get(reply, "counts"), "queued"), ==, 2);
	g_assert_cmpint(num(json_object_get(reply, "counts"), "presenters"), ==, 1);
	/* Attendees and strangers get nothing. */
	assert_error(send(f, 1, "{'request': 'room_counts'}"), AH_ERR_NOT_PRESENTER);
	assert_error(send(f, 99, "{'request': 'room_counts'}"), AH_ERR_WRONG_STATE);
}

/* --- persistence */

static void test_persist_round_trip(fixture *f, gconstpointer data)
{
	json_t *t, *room;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'weight': 5, 'reserved': 2, "
		"'max_queued': 7}"));
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'presenter_seats': 3, "
		"'priority_secret': 'vip-pass'}"));
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
	t = status_entry(f, "tenants", "acme", NULL);
	g_assert_cmpint(num(t, "weight"), ==, 5);
	g_assert_cmpint(num(t, "reserved"), ==, 2);
	g_assert_cmpint(num(t, "max_queued"), ==, 7);
	t = status_entry(f, "tenants", "globex", NULL);
	g_assert_cmpint(num(t, "weight"), ==, 1);
	g_assert_cmpint(num(t, "reserved"), ==, 0);
	g_assert_cmpint(num(t, "max_queued"), ==, 0);
	room = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
	g_assert_cmpint(num(room, "presenter_seats"), ==, 3);
	g_assert_true(json_is_true(json_object_get(room, "priority_class")));
	room = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'globex', 'room': 'standup'}"), "room");
	g_assert_cmpint(num(room, "presenter_seats"), ==, 1);
	g_assert_true(json_is_false(json_object_get(room, "priority_class")));
	/* The secret itself came back. */
	assert_error(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'priority_secret': 'x'}"),
		AH_ERR_WRONG_SECRET);
	assert_event(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'priority_secret': 'vip-pass'}"), "admitted");
	/* The share applies after the restart: max_queued 7 bounds acme's queue. */
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	for (guint64 conn = 2; conn <= 8; conn++)
		assert_event(join_attendee(f, conn), "queued");
	assert_error(join_attendee(f, 9), AH_ERR_QUEUE_FULL);
}

static const char old_file[] = "{\"version\": 1, \"tenants\": [{\"tenant\": \"acme\", \"max_participants\": 10, "
	"\"secret\": \"acme-tenant-secret\"}], \"rooms\": [{\"tenant\": \"acme\", \"room\": \"allhands\", \"max_attendees\": 5, "
	"\"presenter_secret\": \"s3cret\"}]}";

static void test_persist_old_file(fixture *f, gconstpointer data)
{
	json_t *t, *room;
	ah_engine_free(f->engine);
	g_assert_true(g_file_set_contents(f->path, old_file, -1, NULL));
	f->engine = engine_new(&f->config);
	t = status_entry(f, "tenants", "acme", NULL);
	g_assert_cmpint(num(t, "weight"), ==, 1);
	g_assert_cmpint(num(t, "reserved"), ==, 0);
	g_assert_cmpint(num(t, "max_queued"), ==, 0);
	room = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
	g_assert_cmpint(num(room, "presenter_seats"), ==, 1);
	g_assert_true(json_is_false(json_object_get(room, "priority_class")));
	assert_event(join_attendee(f, 1), "admitted");
}

static void test_persist_refuses_bad_values(fixture *f, gconstpointer data)
{
	static const char *const bad[] = {
		"{\"version\": 1, \"tenants\": [{\"tenant\": \"acme\", \"max_participants\": 10, \"secret\": \"s\", "
			"\"weight\": 0}], \"rooms\": []}",
		"{\"version\": 1, \"tenants\": [{\"tenant\": \"acme\", \"max_participants\": 10, \"secret\": \"s\", "
			"\"weight\": 1001}], \"rooms\": []}",
		"{\"version\": 1, \"tenants\": [{\"tenant\": \"acme\", \"max_participants\": 10, \"secret\": \"s\", "
			"\"reserved\": -1}], \"rooms\": []}",
		"{\"version\": 1, \"tenants\": [{\"tenant\": \"acme\", \"max_participants\": 10, \"secret\": \"s\"}], "
			"\"rooms\": [{\"tenant\": \"acme\", \"room\": \"r\", \"max_attendees\": 1, \"presenter_secret\": \"p\", "
			"\"priority_secret\": \"\"}]}",
		"{\"version\": 1, \"tenants\": [{\"tenant\": \"acme\", \"max_participants\": 10, \"secret\": \"s\"}], "
			"\"rooms\": [{\"tenant\": \"acme\", \"room\": \"r\", \"max_attendees\": 1, \"presenter_secret\": \"p\", "
			"\"presenter_seats\": 1001}]}",
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_state_file_refused(f, bad[i]);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("/engine/admission/weights/three-to-one", test_weights);
	ADD("/engine/admission/priority/secret-goes-first", test_priority);
	ADD("/engine/admission/positions/per-room", test_positions_per_room);
	ADD("/engine/admission/positions/drift-check-deadline", test_drift_check_deadline);
	ADD("/engine/admission/queue-full/node-and-tenant", test_queue_full);
	ADD("/engine/admission/drain/removes-queued-refuses-joins", test_drain);
	ADD("/engine/admission/pause/node", test_pause_node);
	ADD("/engine/admission/pause/room", test_pause_room);
	ADD("/engine/admission/rejoin/hangup-holds-seat", test_rejoin);
	ADD("/engine/admission/rejoin/token-once-after-gone", test_rejoin_once);
	ADD("/engine/admission/rejoin/grace-expires", test_rejoin_grace_expires);
	ADD("/engine/admission/rejoin/no-grace", test_no_grace);
	ADD("/engine/admission/presenter-seats/kept-for-presenters", test_presenter_seats);
	ADD("/engine/admission/node/set-capacity", test_set_capacity);
	ADD("/engine/admission/status/figures", test_status_figures);
	ADD("/engine/admission/room-counts/presenter", test_room_counts);
	ADD("/engine/admission/rejoin/replaces-stale", test_rejoin_replaces_stale);
	ADD("/engine/admission/refused/join-keeps-due-events", test_refused_join_keeps_due_events);
	ADD("/engine/admission/refused/draining-keeps-due-events", test_refused_draining_keeps_due_events);
	ADD("/engine/admission/rejoin/take-over-is-whole", test_rejoin_take_over_is_whole);
	ADD("/engine/admission/rejoin/event-order", test_rejoin_event_order);
	ADD("/engine/admission/persist/round-trip", test_persist_round_trip);
	ADD("/engine/admission/persist/old-file-defaults", test_persist_old_file);
	ADD("/engine/admission/persist/refuses-bad-values", test_persist_refuses_bad_values);
	/* Last: fails until the engine bug it shows is fixed (see the test). */
	ADD("/engine/admission/tenant/pause-node-forbidden", test_pause_node_forbidden);
	return g_test_run();
}
