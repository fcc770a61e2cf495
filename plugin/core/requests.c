/* allhands: the request table (docs/api.md) and its handlers.
 *
 * Owns dispatch (one row per request: name, parameter spec, handler, flags), authorization
 * (operator, tenant, participant), reply and error bodies, and saving the state file after a
 * change of tenants or rooms. The participants' state machine it drives lives in engine.c.
 * Pure: no Janus, no clock, no logging; control thread only.
 *
 * Every handler checks everything it needs before it changes anything, so a request that fails
 * changes nothing (but the failure throttle's counts of a failed credential, engine-credentials.c);
 * dispatch also drops any out a failing handler may have appended, except the events of others it
 * marked as kept (work that was due anyway: nobody's events are lost).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "engine-private.h"

enum {
	REQ_PARTICIPANT = 1 << 0, /* plugin handles only, no credentials */
	REQ_OPERATOR = 1 << 1,    /* admin request: operator rights */
	REQ_TENANT = 1 << 2,      /* admin request a tenant may send for its own tenant */
	REQ_JSEP = 1 << 3,        /* may carry a JSEP */
};

typedef ah_error (*req_handler)(ah_req *req);

/* --- objects in replies */

static json_t *tenant_json(const ah_engine *e, const ah_tenant *t)
{
	json_t *tenant = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "tenant", t->id, "name", t->name,
		"max_participants", (json_int_t)t->max_participants, "weight", (json_int_t)t->weight,
		"reserved", (json_int_t)t->reserved, "max_queued", (json_int_t)t->max_queued,
		"rooms", (json_int_t)g_hash_table_size(t->rooms), "counts", ah_req_counts_json(e, t, NULL));
	/* The end of a secret rotation's overlap (the secrets themselves are never shown). */
	if (t->previous_secret != NULL)
		json_object_set_new(tenant, "previous_secret_until", json_integer(t->previous_secret_until));
	if (t->previous_signing_key != NULL)
		json_object_set_new(tenant, "previous_signing_key_until", json_integer(t->previous_signing_key_until));
	return tenant;
}

/* `tenant` alone, or every tenant sorted when it is NULL (a tenant's view never sorts the node). */
static GPtrArray *tenants_of(const ah_engine *e, const ah_tenant *tenant)
{
	GPtrArray *tenants;
	if (tenant == NULL)
		return ah_engine_sorted_tenants(e);
	tenants = g_ptr_array_new();
	g_ptr_array_add(tenants, (gpointer)tenant);
	return tenants;
}

/* Rooms of one tenant, or of all tenants when `tenant` is NULL, sorted. */
static json_t *rooms_json(const ah_engine *e, const ah_tenant *tenant)
{
	json_t *array = json_array();
	GPtrArray *tenants = tenants_of(e, tenant);
	for (guint i = 0; i < tenants->len; i++) {
		const ah_tenant *t = g_ptr_array_index(tenants, i);
		GPtrArray *rooms = ah_engine_sorted_rooms(t);
		for (guint j = 0; j < rooms->len; j++)
			json_array_append_new(array, ah_req_room_json(e, g_ptr_array_index(rooms, j)));
		g_ptr_array_unref(rooms);
	}
	g_ptr_array_unref(tenants);
	return array;
}

static json_t *tenants_json(const ah_engine *e, const ah_tenant *tenant)
{
	json_t *array = json_array();
	GPtrArray *tenants = tenants_of(e, tenant);
	for (guint i = 0; i < tenants->len; i++)
		json_array_append_new(array, tenant_json(e, g_ptr_array_index(tenants, i)));
	g_ptr_array_unref(tenants);
	return array;
}

static const char *const state_names[] = {
	[AH_ADM_NONE] = "none", [AH_ADM_QUEUED] = "queued", [AH_ADM_CONNECTING] = "connecting", [AH_ADM_ACTIVE] = "active",
	[AH_ADM_REJOINING] = "rejoining", [AH_ADM_REFUSED_QUEUE_FULL] = "none", [AH_ADM_REFUSED_DRAINING] = "none",
};

/* room_info: the room plus who is in it. */
static json_t *room_info_json(const ah_engine *e, const ah_room *r)
{
	json_t *room = ah_req_room_json(e, r), *presenters = json_array(), *attendees = json_array(), *queue = json_array();
	json_t *backstage = json_array();
	GArray *queued = ah_admission_queue(e->adm, r->tenant->id, r->id);
	for (guint i = 0; i < r->members->len; i++) {
		const ah_participant *p = g_ptr_array_index(r->members, i);
		json_t *row = NULL;
		if (p->presenter)
			json_array_append_new(presenters, row = json_pack("{s:I, s:s, s:b, s:o}", "id", (json_int_t)p->id,
				"display", p->display, "publishing", p->streams->len > 0,
				"streams", ah_engine_streams_json(p->streams)));
		else if (p->backstage)
			json_array_append_new(backstage, row = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)p->id,
				"display", p->display, "layer", ah_sim_layer_name(ah_engine_max_layer(p))));
		else if (ah_engine_seated(e, p))
			json_array_append_new(attendees, row = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)p->id,
				"display", p->display, "state", state_names[ah_admission_state(e->adm, p->id)],
				"layer", ah_sim_layer_name(ah_engine_max_layer(p))));
		if (row != NULL && p->sub != NULL)
			json_object_set_new(row, "sub", json_string(p->sub));
	}
	for (guint i = 0; queued != NULL && i < queued->len; i++) {
		guint64 pid = g_array_index(queued, guint64, i);
		const ah_participant *p = ah_engine_participant_by_id(e, pid);
		json_t *row = json_pack("{s:I, s:s, s:I}", "id", (json_int_t)pid, "display", p != NULL ? p->display : "",
			"position", (json_int_t)ah_admission_position(e->adm, pid));
		if (p != NULL && p->sub != NULL)
			json_object_set_new(row, "sub", json_string(p->sub));
		json_array_append_new(queue, row);
	}
	if (queued != NULL)
		g_array_unref(queued);
	json_object_set_new(room, "presenters", presenters);
	json_object_set_new(room, "attendees", attendees);
	json_object_set_new(room, "queue", queue);
	json_object_set_new(room, "backstage", backstage);
	return room;
}

/* --- participant requests (join: requests-join.c) */

static ah_error req_start(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	if (p == NULL || p->presenter || !p->offer_pending)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (no offer is waiting for an answer)"));
	if (g_strcmp0(req->jsep_type, "answer") != 0)
		return ah_req_fail(req, AH_ERR_INVALID_JSEP, g_strdup("invalid jsep (start needs the answer to our offer)"));
	p->offer_pending = FALSE;
	req->reply = ah_req_event("started");
	ah_engine_keyframes(req->engine, p->room, req->outs);
	if (p->renegotiate)
		ah_engine_offer(req->engine, p, "updated", req->outs);
	return AH_ERR_OK;
}


static gboolean stream_valid(const ah_stream_desc *s)
{
	return (s->kind == AH_MEDIA_AUDIO || s->kind == AH_MEDIA_VIDEO) && s->mindex >= 0 &&
		memchr(s->codec, '\0', sizeof(s->codec)) != NULL && s->codec[0] != '\0' &&
		g_utf8_validate(s->codec, -1, NULL) && memchr(s->fmtp, '\0', sizeof(s->fmtp)) != NULL;
}

static ah_error req_publish(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	if (p == NULL)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (join as a presenter first)"));
	if (!p->presenter)
		return AH_ERR_NOT_PRESENTER;
	if (g_strcmp0(req->jsep_type, "offer") != 0)
		return ah_req_fail(req, AH_ERR_INVALID_JSEP, g_strdup("invalid jsep (publish needs an offer)"));
	if (req->n_streams == 0 || req->n_streams > AH_MAX_STREAMS || req->streams == NULL)
		return ah_req_fail(req, AH_ERR_INVALID_JSEP, g_strdup("invalid jsep (no usable audio or video stream)"));
	for (guint i = 0; i < req->n_streams; i++)
		if (!stream_valid(&req->streams[i]))
			return ah_req_fail(req, AH_ERR_INVALID_JSEP, g_strdup("invalid jsep (unusable stream)"));
	g_array_set_size(p->streams, 0);
	g_array_append_vals(p->streams, req->streams, req->n_streams);
	req->reply = ah_req_event("published");
	json_object_set_new(req->reply, "streams", ah_engine_streams_json(p->streams));
	req->jsep = AH_JSEP_ANSWER;
	ah_engine_renegotiate(req->engine, p->room, req->outs);
	ah_engine_notify(req->outs, p->conn, "published", p->room->tenant->id, p->room->id, p->id);
	return AH_ERR_OK;
}

static ah_error req_unpublish(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	if (p == NULL)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (not joined)"));
	if (!p->presenter)
		return AH_ERR_NOT_PRESENTER;
	if (p->streams->len == 0)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (not publishing)"));
	req->reply = ah_req_event("unpublished");
	/* The PeerConnection goes with the streams; publishing again starts a new one. */
	ah_engine_push(req->outs, AH_OUT_CLOSE_PC, p->conn, NULL, AH_JSEP_NONE);
	p->media = FALSE;
	ah_engine_unpublish(req->engine, p, req->outs);
	return AH_ERR_OK;
}

/* A presenter's or backstage monitor's view of its room: how many are in, connecting, queued. */
static ah_error req_room_counts(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	if (p == NULL)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (join as a presenter first)"));
	if (!p->presenter && !p->backstage)
		return AH_ERR_NOT_PRESENTER;
	req->reply = ah_req_event("room_counts");
	json_object_set_new(req->reply, "tenant", json_string(p->room->tenant->id));
	json_object_set_new(req->reply, "room", json_string(p->room->id));
	json_object_set_new(req->reply, "counts", ah_req_counts_json(req->engine, p->room->tenant, p->room));
	return AH_ERR_OK;
}

static ah_error req_leave(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	if (p == NULL)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (not joined)"));
	req->reply = ah_req_event("left");
	ah_engine_remove(req->engine, p, AH_EXIT_LEAVE, req->now, req->outs);
	return AH_ERR_OK;
}

/* A receiver asks for a lower simulcast layer than its room's (or for the room's again). */
static ah_error req_set_layer(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	int layer, before;
	ah_error err;
	if (p == NULL || !ah_engine_receiving(req->engine, p))
		return ah_req_fail(req, AH_ERR_WRONG_STATE,
			g_strdup("wrong state (only a seated attendee or a backstage monitor receives video)"));
	if ((err = ah_req_layer(req, "layer", &layer)) != AH_ERR_OK)
		return err;
	before = ah_engine_max_layer(p);
	p->layer = layer;
	if (ah_engine_max_layer(p) != before)
		ah_engine_receiver_changed(req->engine, p->conn);
	req->reply = ah_req_event("layer");
	json_object_set_new(req->reply, "layer", json_string(ah_sim_layer_name(ah_engine_max_layer(p))));
	return AH_ERR_OK;
}

/* --- tenants */

/* weight, reserved, max_queued: those present in the request. */
static void apply_tenant_share(ah_req *req, ah_tenant *t)
{
	if (ah_req_has(req, "weight"))
		t->weight = ah_req_uint(req, "weight");
	if (ah_req_has(req, "reserved"))
		t->reserved = ah_req_uint(req, "reserved");
	if (ah_req_has(req, "max_queued"))
		t->max_queued = ah_req_uint(req, "max_queued");
	ah_engine_apply_share(req->engine, t);
}

static ah_error req_create_tenant(ah_req *req)
{
	const char *id = ah_req_string(req, "tenant");
	ah_tenant *t;
	if (ah_engine_tenant(req->engine, id) != NULL)
		return AH_ERR_TENANT_EXISTS;
	t = ah_engine_add_tenant(req->engine, id, ah_req_string(req, "name"), ah_req_uint(req, "max_participants"),
		ah_req_string(req, "secret"));
	apply_tenant_share(req, t);
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "tenant", tenant_json(req->engine, t));
	/* The one reply that carries it besides get_signing_key and rotate_signing_key. */
	json_object_set_new(req->reply, "signing_key", json_string(t->signing_key));
	ah_engine_notify(req->outs, 0, "tenant_created", t->id, NULL, 0);
	ah_req_save(req);
	return AH_ERR_OK;
}

/* A new secret; the old one stays valid (tokens and tenant_secret) for `overlap_s`, 0: not at all. */
static void rotate_secret(ah_req *req, ah_tenant *t, const char *secret, guint overlap_s)
{
	g_free(t->previous_secret);
	t->previous_secret = NULL;
	t->previous_secret_until = 0;
	if (overlap_s > 0) {
		t->previous_secret = t->secret;
		t->previous_secret_until = ah_engine_real_s(req->engine, req->now) + overlap_s;
	} else {
		g_free(t->secret);
	}
	t->secret = g_strdup(secret);
}

static ah_error req_edit_tenant(ah_req *req)
{
	ah_tenant *t = ah_engine_tenant(req->engine, ah_req_string(req, "tenant"));
	if (t == NULL)
		return AH_ERR_NO_SUCH_TENANT;
	if (ah_req_has(req, "secret_overlap_s") && !ah_req_has(req, "secret"))
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (secret_overlap_s: only with a new secret)"));
	if (ah_req_has(req, "name")) {
		g_free(t->name);
		t->name = g_strdup(ah_req_string(req, "name"));
	}
	if (ah_req_has(req, "secret") && strcmp(ah_req_string(req, "secret"), t->secret) != 0)
		rotate_secret(req, t, ah_req_string(req, "secret"), ah_req_uint(req, "secret_overlap_s"));
	if (ah_req_has(req, "max_participants")) {
		t->max_participants = ah_req_uint(req, "max_participants");
		ah_admission_set_tenant(req->engine->adm, t->id, t->max_participants);
	}
	apply_tenant_share(req, t);
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "tenant", tenant_json(req->engine, t));
	ah_engine_notify(req->outs, 0, "tenant_edited", t->id, NULL, 0);
	ah_req_save(req);
	return AH_ERR_OK;
}

static ah_error req_destroy_tenant(ah_req *req)
{
	ah_tenant *t = ah_engine_tenant(req->engine, ah_req_string(req, "tenant"));
	if (t == NULL)
		return AH_ERR_NO_SUCH_TENANT;
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "tenant", tenant_json(req->engine, t));
	ah_engine_notify(req->outs, 0, "tenant_destroyed", t->id, NULL, 0);
	ah_engine_destroy_tenant(req->engine, t, req->now, req->outs);
	ah_req_save(req);
	return AH_ERR_OK;
}

static ah_error req_list_tenants(ah_req *req)
{
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "tenants", tenants_json(req->engine, NULL));
	return AH_ERR_OK;
}

/* --- rooms */

static void apply_room_seats(ah_req *req, ah_room *room);

/* The "presenter_max_bitrate" element, if present: 0 (no cap) or at least AH_PRESENTER_BITRATE_MIN. */
static ah_error presenter_bitrate_check(ah_req *req)
{
	guint bps = ah_req_has(req, "presenter_max_bitrate") ? ah_req_uint(req, "presenter_max_bitrate") : 0;
	if (bps != 0 && bps < AH_PRESENTER_BITRATE_MIN)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup_printf("invalid element (presenter_max_bitrate: 0 or at "
			"least %d bps)", AH_PRESENTER_BITRATE_MIN));
	return AH_ERR_OK;
}

/* The "tokens" element, if present. */
static ah_error tokens_of(ah_req *req, ah_tokens_policy *policy)
{
	if (ah_req_has(req, "tokens") && !ah_persist_tokens_from_name(ah_req_string(req, "tokens"), policy))
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (tokens: must be off, optional or required)"));
	return AH_ERR_OK;
}

static ah_error req_create_room(ah_req *req)
{
	ah_room *room = NULL;
	ah_error err = ah_req_find_room(req, &room);
	ah_tokens_policy tokens = AH_TOKENS_OFF;
	ah_schedule_input in;
	ah_tenant *t;
	int video_layer;
	if (err != AH_ERR_NO_SUCH_ROOM)
		return err == AH_ERR_OK ? AH_ERR_ROOM_EXISTS : err;
	if ((err = ah_req_room_credentials(req)) != AH_ERR_OK || (err = tokens_of(req, &tokens)) != AH_ERR_OK)
		return err;
	if ((err = ah_req_layer(req, "video_layer", &video_layer)) != AH_ERR_OK)
		return err;
	if ((err = presenter_bitrate_check(req)) != AH_ERR_OK)
		return err;
	if ((err = ah_req_schedule_parse(req, &in)) != AH_ERR_OK)
		return err;
	t = ah_engine_tenant(req->engine, ah_req_string(req, "tenant"));
	room = ah_engine_add_room(req->engine, t, ah_req_string(req, "room"), ah_req_string(req, "description"),
		ah_req_uint(req, "max_attendees"), ah_req_string(req, "pin"), ah_req_string(req, "presenter_secret"));
	room->tokens = tokens;
	if (video_layer >= 0)
		room->video_layer = video_layer;
	apply_room_seats(req, room);
	ah_req_schedule_apply(req, room, &in);
	return ah_req_room_reply(req, room, "room_created", TRUE);
}

static void replace(char **field, const char *value)
{
	g_free(*field);
	*field = g_strdup(value);
}

/* presenter_seats, priority_secret ("" removes it) and presenter_max_bitrate: those present in the
 * request. A new bitrate cap reaches the presenters' REMB through their fan-outs' rebuild. */
static void apply_room_seats(ah_req *req, ah_room *room)
{
	if (ah_req_has(req, "presenter_max_bitrate") && ah_req_uint(req, "presenter_max_bitrate") != room->presenter_max_bitrate) {
		room->presenter_max_bitrate = ah_req_uint(req, "presenter_max_bitrate");
		ah_engine_routes_changed(req->engine, room);
	}
	if (ah_req_has(req, "presenter_seats")) {
		room->presenter_seats = ah_req_uint(req, "presenter_seats");
		ah_engine_apply_presenter_seats(req->engine, room);
	}
	if (ah_req_has(req, "priority_secret"))
		replace(&room->priority_secret, *ah_req_string(req, "priority_secret") != '\0' ? ah_req_string(req, "priority_secret") : NULL);
}

static ah_error req_edit_room(ah_req *req)
{
	ah_room *room = NULL;
	ah_error err = ah_req_find_room(req, &room);
	ah_tokens_policy tokens;
	ah_schedule_input in;
	int video_layer;
	if (err != AH_ERR_OK)
		return err;
	tokens = room->tokens;
	if ((err = ah_req_room_credentials(req)) != AH_ERR_OK || (err = tokens_of(req, &tokens)) != AH_ERR_OK)
		return err;
	if ((err = ah_req_layer(req, "video_layer", &video_layer)) != AH_ERR_OK)
		return err;
	if ((err = presenter_bitrate_check(req)) != AH_ERR_OK)
		return err;
	if ((err = ah_req_schedule_parse(req, &in)) != AH_ERR_OK)
		return err;
	room->tokens = tokens;
	/* Every receiver's max_layer may follow: rebuild the room's fan-outs. */
	if (video_layer >= 0 && video_layer != room->video_layer) {
		room->video_layer = video_layer;
		ah_engine_routes_changed(req->engine, room);
	}
	if (ah_req_has(req, "description"))
		replace(&room->description, ah_req_string(req, "description"));
	if (ah_req_has(req, "presenter_secret"))
		replace(&room->presenter_secret, ah_req_string(req, "presenter_secret"));
	if (ah_req_has(req, "pin"))
		replace(&room->pin, *ah_req_string(req, "pin") != '\0' ? ah_req_string(req, "pin") : NULL);
	if (ah_req_has(req, "max_attendees")) {
		room->max_attendees = ah_req_uint(req, "max_attendees");
		ah_admission_set_room(req->engine->adm, room->tenant->id, room->id, room->max_attendees);
	}
	apply_room_seats(req, room);
	ah_req_schedule_apply(req, room, &in);
	return ah_req_room_reply(req, room, "room_edited", TRUE);
}

static ah_error req_destroy_room(ah_req *req)
{
	ah_room *room = NULL;
	ah_error err = ah_req_find_room(req, &room);
	if (err != AH_ERR_OK)
		return err;
	ah_req_room_reply(req, room, "room_destroyed", FALSE);
	ah_engine_destroy_room(req->engine, room, req->now, req->outs);
	ah_req_save(req);
	return AH_ERR_OK;
}

/* The tenant a list or status is about: the one named, else the caller's own, else all (NULL). */
static ah_error filter_tenant(ah_req *req, ah_tenant **tenant)
{
	const char *id = ah_req_has(req, "tenant") ? ah_req_string(req, "tenant") : req->scope;
	ah_error err = ah_req_in_scope(req, id);
	*tenant = NULL;
	if (err != AH_ERR_OK || id == NULL)
		return err;
	*tenant = ah_engine_tenant(req->engine, id);
	return *tenant != NULL ? AH_ERR_OK : AH_ERR_NO_SUCH_TENANT;
}

static ah_error req_list_rooms(ah_req *req)
{
	ah_tenant *tenant;
	ah_error err = filter_tenant(req, &tenant);
	if (err != AH_ERR_OK)
		return err;
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "rooms", rooms_json(req->engine, tenant));
	return AH_ERR_OK;
}

static ah_error req_room_info(ah_req *req)
{
	ah_room *room = NULL;
	ah_error err = ah_req_find_room(req, &room);
	if (err != AH_ERR_OK)
		return err;
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "room", room_info_json(req->engine, room));
	return AH_ERR_OK;
}

static ah_error req_kick(ah_req *req)
{
	ah_room *room = NULL;
	ah_error err = ah_req_find_room(req, &room);
	guint64 id = (guint64)json_integer_value(json_object_get(req->message, "id"));
	ah_participant *p = ah_engine_participant_by_id(req->engine, id);
	if (err != AH_ERR_OK)
		return err;
	if (p == NULL || p->room != room)
		return AH_ERR_NO_SUCH_PARTICIPANT;
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "id", json_integer((json_int_t)id));
	ah_engine_remove(req->engine, p, AH_EXIT_KICKED, req->now, req->outs);
	return AH_ERR_OK;
}

/* --- node */

/* status: each tenant and room also gets its admission figures. */
static void add_figures(ah_req *req, json_t *array, gboolean rooms)
{
	size_t i;
	json_t *o;
	json_array_foreach(array, i, o) {
		const ah_tenant *t = ah_engine_tenant(req->engine, json_string_value(json_object_get(o, "tenant")));
		const ah_room *r = rooms ? ah_engine_room(req->engine, t->id, json_string_value(json_object_get(o, "room"))) : NULL;
		json_object_set_new(o, "admission", ah_engine_admission_json(req->engine, t, r, req->now));
		json_object_set_new(o, "failures", ah_engine_failures_json(req->engine, t, r, req->now));
	}
}

static ah_error req_status(ah_req *req)
{
	ah_tenant *tenant;
	ah_error err = filter_tenant(req, &tenant);
	if (err != AH_ERR_OK)
		return err;
	req->reply = ah_req_success();
	/* The node's load is the operator's business, not one tenant's. */
	if (req->scope == NULL) {
		json_object_set_new(req->reply, "node", ah_engine_node_json(req->engine, req->now));
		json_object_set_new(json_object_get(req->reply, "node"), "failures",
			ah_engine_failures_json(req->engine, NULL, NULL, req->now));
	}
	json_object_set_new(req->reply, "tenants", tenants_json(req->engine, tenant));
	json_object_set_new(req->reply, "rooms", rooms_json(req->engine, tenant));
	add_figures(req, json_object_get(req->reply, "tenants"), FALSE);
	add_figures(req, json_object_get(req->reply, "rooms"), TRUE);
	return AH_ERR_OK;
}

/* --- the table */

static const ah_param no_params[] = { AH_PARAM_END };

static const ah_param join_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_ID("room", TRUE),
	AH_PARAM_STR("ptype", FALSE, 0, 16),
	AH_PARAM_STR("display", FALSE, 0, AH_NAME_MAX_LEN),
	AH_PARAM_STR("pin", FALSE, 0, AH_PIN_MAX_LEN),
	AH_PARAM_STR("presenter_secret", FALSE, 0, AH_SECRET_MAX_LEN),
	AH_PARAM_STR("priority_secret", FALSE, 0, AH_SECRET_MAX_LEN),
	AH_PARAM_STR("rejoin_token", FALSE, 0, AH_REJOIN_TOKEN_LEN),
	AH_PARAM_STR("token", FALSE, 0, 0),  /* no bound here: token_too_large says why */
	AH_PARAM_STR("layer", FALSE, 0, 16),
	AH_PARAM_END
};

#define SHARE_OPTIONS \
	AH_PARAM_UINT("weight", FALSE, 1, AH_WEIGHT_MAX), \
	AH_PARAM_UINT("reserved", FALSE, 0, AH_CAP_MAX), \
	AH_PARAM_UINT("max_queued", FALSE, 0, AH_CAP_MAX)

static const ah_param create_tenant_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_STR("name", FALSE, 0, AH_NAME_MAX_LEN),
	AH_PARAM_UINT("max_participants", TRUE, 0, AH_CAP_MAX),
	AH_PARAM_STR("secret", TRUE, AH_TENANT_SECRET_MIN_LEN, AH_SECRET_MAX_LEN),
	SHARE_OPTIONS,
	AH_PARAM_END
};

static const ah_param edit_tenant_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_STR("name", FALSE, 0, AH_NAME_MAX_LEN),
	AH_PARAM_UINT("max_participants", FALSE, 0, AH_CAP_MAX),
	AH_PARAM_STR("secret", FALSE, AH_TENANT_SECRET_MIN_LEN, AH_SECRET_MAX_LEN),
	AH_PARAM_UINT("secret_overlap_s", FALSE, 0, AH_SECRET_OVERLAP_S_MAX),
	SHARE_OPTIONS,
	AH_PARAM_END
};

static const ah_param tenant_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_END
};

static const ah_param optional_tenant_params[] = {
	AH_PARAM_ID("tenant", FALSE),
	AH_PARAM_END
};

/* The room options of a schedule (prequeue_order's value is checked by ah_req_schedule_parse). */
#define SCHEDULE_OPTIONS \
	AH_PARAM_UINT("lobby_minutes", FALSE, 0, AH_LOBBY_MINUTES_MAX), \
	AH_PARAM_UINT("ending_warning_s", FALSE, 0, AH_ROOM_SECONDS_MAX), \
	AH_PARAM_UINT("grace_s", FALSE, 0, AH_ROOM_SECONDS_MAX), \
	AH_PARAM_STR("prequeue_order", FALSE, 0, 16)

#define ROOM_SEAT_OPTIONS \
	AH_PARAM_UINT("presenter_seats", FALSE, 0, AH_PRESENTER_SEATS_MAX), \
	AH_PARAM_STR("priority_secret", FALSE, 0, AH_SECRET_MAX_LEN), \
	AH_PARAM_STR("tokens", FALSE, 0, 16), \
	AH_PARAM_STR("video_layer", FALSE, 0, 16), \
	AH_PARAM_UINT("presenter_max_bitrate", FALSE, 0, AH_PRESENTER_BITRATE_MAX)

static const ah_param create_room_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_ID("room", TRUE),
	AH_PARAM_STR("description", FALSE, 0, AH_DESCRIPTION_MAX_LEN),
	AH_PARAM_UINT("max_attendees", TRUE, 0, AH_CAP_MAX),
	AH_PARAM_STR("pin", FALSE, 0, AH_PIN_MAX_LEN),
	AH_PARAM_STR("presenter_secret", TRUE, AH_ROOM_SECRET_MIN_LEN, AH_SECRET_MAX_LEN),
	ROOM_SEAT_OPTIONS,
	SCHEDULE_OPTIONS,
	AH_PARAM_END
};

static const ah_param edit_room_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_ID("room", TRUE),
	AH_PARAM_STR("description", FALSE, 0, AH_DESCRIPTION_MAX_LEN),
	AH_PARAM_UINT("max_attendees", FALSE, 0, AH_CAP_MAX),
	AH_PARAM_STR("pin", FALSE, 0, AH_PIN_MAX_LEN),
	AH_PARAM_STR("presenter_secret", FALSE, AH_ROOM_SECRET_MIN_LEN, AH_SECRET_MAX_LEN),
	ROOM_SEAT_OPTIONS,
	SCHEDULE_OPTIONS,
	AH_PARAM_END
};

/* "schedule" itself (an object or null) is checked by ah_req_schedule_parse. */
static const ah_param set_schedule_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_ID("room", TRUE),
	SCHEDULE_OPTIONS,
	AH_PARAM_END
};

static const ah_param occurrences_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_ID("room", TRUE),
	AH_PARAM_UINT("count", FALSE, 1, 100),
	AH_PARAM_END
};

static const ah_param room_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_ID("room", TRUE),
	AH_PARAM_END
};

static const ah_param set_layer_params[] = {
	AH_PARAM_STR("layer", TRUE, 0, 16),
	AH_PARAM_END
};

static const ah_param kick_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_ID("room", TRUE),
	AH_PARAM_UINT("id", TRUE, 1, AH_PID_MAX),
	AH_PARAM_END
};

/* Credentials of admin requests sent over a plugin handle. */
static const ah_param auth_params[] = {
	AH_PARAM_STR("admin_key", FALSE, 0, AH_SECRET_MAX_LEN),
	AH_PARAM_ID("tenant", FALSE),
	AH_PARAM_STR("tenant_secret", FALSE, 0, AH_SECRET_MAX_LEN),
	AH_PARAM_END
};

static const struct request_row {
	const char *name;
	const ah_param *params;
	req_handler handler;
	guint flags;
} requests[] = {
	{ "join", join_params, ah_req_join, REQ_PARTICIPANT },
	{ "start", no_params, req_start, REQ_PARTICIPANT | REQ_JSEP },
	{ "publish", no_params, req_publish, REQ_PARTICIPANT | REQ_JSEP },
	{ "unpublish", no_params, req_unpublish, REQ_PARTICIPANT },
	{ "leave", no_params, req_leave, REQ_PARTICIPANT },
	{ "room_counts", no_params, req_room_counts, REQ_PARTICIPANT },
	{ "set_layer", set_layer_params, req_set_layer, REQ_PARTICIPANT },
	{ "create_tenant", create_tenant_params, req_create_tenant, REQ_OPERATOR },
	{ "edit_tenant", edit_tenant_params, req_edit_tenant, REQ_OPERATOR },
	{ "destroy_tenant", tenant_params, req_destroy_tenant, REQ_OPERATOR },
	{ "get_signing_key", tenant_params, ah_req_get_signing_key, REQ_OPERATOR | REQ_TENANT },
	{ "rotate_signing_key", ah_rotate_signing_key_params, ah_req_rotate_signing_key, REQ_OPERATOR | REQ_TENANT },
	{ "list_tenants", no_params, req_list_tenants, REQ_OPERATOR },
	{ "create_room", create_room_params, req_create_room, REQ_OPERATOR | REQ_TENANT },
	{ "edit_room", edit_room_params, req_edit_room, REQ_OPERATOR | REQ_TENANT },
	{ "destroy_room", room_params, req_destroy_room, REQ_OPERATOR | REQ_TENANT },
	{ "list_rooms", optional_tenant_params, req_list_rooms, REQ_OPERATOR | REQ_TENANT },
	{ "room_info", room_params, req_room_info, REQ_OPERATOR | REQ_TENANT },
	{ "kick", kick_params, req_kick, REQ_OPERATOR | REQ_TENANT },
	{ "set_schedule", set_schedule_params, ah_req_set_schedule, REQ_OPERATOR | REQ_TENANT },
	{ "occurrences", occurrences_params, ah_req_occurrences, REQ_OPERATOR | REQ_TENANT },
	{ "start_now", room_params, ah_req_start_now, REQ_OPERATOR | REQ_TENANT },
	{ "end_now", room_params, ah_req_end_now, REQ_OPERATOR | REQ_TENANT },
	{ "set_capacity", ah_set_capacity_params, ah_req_set_capacity, REQ_OPERATOR },
	{ "pause", ah_pause_params, ah_req_pause, REQ_OPERATOR | REQ_TENANT },
	{ "resume", ah_pause_params, ah_req_resume, REQ_OPERATOR | REQ_TENANT },
	{ "drain", no_params, ah_req_drain, REQ_OPERATOR },
	{ "status", optional_tenant_params, req_status, REQ_OPERATOR | REQ_TENANT },
	{ "sync", no_params, ah_req_sync, REQ_OPERATOR | REQ_TENANT },
};

static const struct request_row *find_request(const char *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(requests); i++)
		if (strcmp(requests[i].name, name) == 0)
			return &requests[i];
	return NULL;
}

/* Who sends an admin request over a plugin handle: the operator (admin_key) or a tenant
 * (tenant + tenant_secret). Through the Admin API it is always the operator. */
static ah_error authorize(ah_req *req, const struct request_row *row)
{
	const ah_engine *e = req->engine;
	const char *key, *secret, *previous[2];
	ah_tenant *t;
	gboolean match;
	ah_error err;
	if (req->admin_api)
		return AH_ERR_OK;
	err = ah_validate_params(req->message, auth_params, &req->error);
	if (err != AH_ERR_OK)
		return err;
	key = ah_req_string(req, "admin_key");
	if (key != NULL) {
		/* The throttle first: over its limit the key is not even compared. */
		if ((err = ah_req_guard(req, &req->engine->admin_failures, AH_FAIL_NODE)) != AH_ERR_OK)
			return err;
		if (e->admin_key != NULL && ah_validate_secret_equal(key, e->admin_key))
			return AH_ERR_OK;
		ah_req_failed(req, &req->engine->admin_failures, AH_FAIL_NODE);
		return AH_ERR_UNAUTHORIZED;
	}
	secret = ah_req_string(req, "tenant_secret");
	if (secret == NULL)
		return ah_req_fail(req, AH_ERR_UNAUTHORIZED, g_strdup("unauthorized (admin_key or tenant and tenant_secret needed)"));
	t = ah_engine_tenant(e, ah_req_string(req, "tenant"));
	if ((err = ah_req_guard(req, t != NULL ? &t->secret_failures : NULL, AH_FAIL_TENANT)) != AH_ERR_OK)
		return err;
	/* Compare even for an unknown tenant, so the time taken does not tell which tenants exist; and
	 * with the previous secret too while a rotation overlap lasts. */
	match = ah_validate_secret_equal(secret, t != NULL ? t->secret : "-");
	if (t != NULL && ah_engine_tenant_secrets(e, t, req->now, previous) == 2)
		match = ah_validate_secret_equal(secret, previous[1]) || match;
	if (t == NULL || !match) {
		ah_req_failed(req, t != NULL ? &t->secret_failures : NULL, AH_FAIL_TENANT);
		return AH_ERR_UNAUTHORIZED;
	}
	if (!(row->flags & REQ_TENANT))
		return ah_req_fail(req, AH_ERR_FORBIDDEN, g_strdup_printf("forbidden (%s is an operator request)", row->name));
	req->scope = t->id;
	return AH_ERR_OK;
}

static ah_error dispatch(ah_req *req)
{
	const json_t *name;
	const struct request_row *row;
	ah_error err;
	if (req->message == NULL)
		return AH_ERR_NO_MESSAGE;
	if (!json_is_object(req->message))
		return AH_ERR_INVALID_JSON;
	name = json_object_get(req->message, "request");
	if (name == NULL)
		return AH_ERR_MISSING_REQUEST;
	if (!json_is_string(name))
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (request: must be a string)"));
	row = find_request(json_string_value(name));
	if (row == NULL)
		return ah_req_fail(req, AH_ERR_UNKNOWN_REQUEST, ah_validate_identifier(json_string_value(name)) ?
			g_strdup_printf("unknown request (%s)", json_string_value(name)) : NULL);
	if (req->admin_api && (row->flags & REQ_PARTICIPANT))
		return ah_req_fail(req, AH_ERR_UNKNOWN_REQUEST,
			g_strdup_printf("unknown request (%s is a plugin handle request)", row->name));
	if (!(row->flags & REQ_PARTICIPANT) && (err = authorize(req, row)) != AH_ERR_OK)
		return err;
	if (req->jsep_type != NULL && !(row->flags & REQ_JSEP))
		return ah_req_fail(req, AH_ERR_INVALID_JSEP, g_strdup_printf("invalid jsep (unexpected with %s)", row->name));
	if ((err = ah_validate_params(req->message, row->params, &req->error)) != AH_ERR_OK)
		return err;
	return row->handler(req);
}

json_t *ah_engine_error_body(ah_error err, const char *message)
{
	return json_pack("{s:s, s:i, s:s, s:s}", "allhands", "event", "error_code", ah_error_code(err),
		"error_name", ah_error_name(err), "error", message != NULL ? message : ah_error_message(err));
}

/* Run a request; returns the reply body. Outs of a failed request are dropped, but for events of
 * others it kept (req->kept). */
static json_t *run(ah_req *req)
{
	guint start = req->outs->len;
	ah_error err = dispatch(req);
	json_t *reply = req->reply;
	if (err != AH_ERR_OK) {
		g_ptr_array_set_size(req->outs, MAX(start, req->kept));
		if (reply != NULL)
			json_decref(reply);
		reply = ah_engine_error_body(err, req->error);
		if (req->error_extra != NULL)
			json_object_update(reply, req->error_extra);
		req->jsep = AH_JSEP_NONE;
	} else if (reply == NULL) {
		reply = ah_req_success();
	}
	g_free(req->error);
	req->error = NULL;
	if (req->error_extra != NULL)
		json_decref(req->error_extra);
	req->error_extra = NULL;
	return reply;
}

void ah_engine_handle_message(ah_engine *engine, guint64 conn, json_t *message, const char *jsep_type,
	const ah_stream_desc *streams, guint n_streams, gint64 now, GPtrArray *outs)
{
	ah_req req = {
		.engine = engine, .conn = conn, .message = message, .jsep_type = jsep_type,
		.streams = streams, .n_streams = n_streams, .now = now, .outs = outs,
	};
	guint start = outs->len;
	json_t *reply;
	ah_out *out = g_new0(ah_out, 1);
	/* Schedule changes due by now are made first, so the request sees the room's phase of now,
	 * then the admission work due by now, so it sees the seats of now (their outs follow the
	 * reply, like every side effect, and stand whatever the request's answer). */
	ah_engine_catch_up(engine, now, outs);
	reply = run(&req);
	if (g_strcmp0(json_string_value(json_object_get(message, "request")), "join") == 0) {
		ah_error err = ah_error_from_code((int)json_integer_value(json_object_get(reply, "error_code")));
		engine->counters->joins++;
		if (err != AH_ERR_OK && err < AH_ERR__COUNT)
			engine->counters->join_refusals[err]++;
	}
	/* The reply goes before the side effects: the glue must send an offer before it routes. */
	out->kind = AH_OUT_REPLY;
	out->conn = conn;
	out->body = reply;
	out->jsep = req.jsep;
	g_ptr_array_insert(outs, start, out);
	ah_engine_flush(engine, outs);
}

json_t *ah_engine_admin_message(ah_engine *engine, json_t *message, gint64 now, GPtrArray *outs)
{
	ah_req req = { .engine = engine, .admin_api = TRUE, .message = message, .now = now, .outs = outs };
	json_t *reply;
	ah_engine_catch_up(engine, now, outs);
	reply = run(&req);
	ah_engine_flush(engine, outs);
	return reply;
}
