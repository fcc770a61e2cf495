/* allhands: the room requests (docs/api.md): create_room, edit_room and destroy_room (with their
 * seat, token, layer, bitrate and schedule options), list_rooms, room_info and kick.
 * requests.c's table dispatches here; the handlers call requests-schedule.c (a room's schedule and
 * options), requests-common.c and the engine.
 *
 * Pure: no Janus header, no clock, no logging. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "requests-private.h"

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

/* The "node" element (cluster mode only: the room's home node; docs/cluster.md). */
static ah_error node_check(ah_req *req)
{
	if (ah_req_has(req, "node") && !ah_engine_clustered(req->engine))
		return ah_req_fail(req, AH_ERR_NOT_CLUSTERED, g_strdup("not clustered (node: this node is not in cluster mode, "
			"so a room has no home node to pin)"));
	return AH_ERR_OK;
}

ah_error ah_req_create_room(ah_req *req)
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
	if ((err = presenter_bitrate_check(req)) != AH_ERR_OK || (err = node_check(req)) != AH_ERR_OK)
		return err;
	if ((err = ah_req_schedule_parse(req, &in)) != AH_ERR_OK)
		return err;
	t = ah_engine_tenant(req->engine, ah_req_string(req, "tenant"));
	room = ah_engine_add_room(req->engine, t, ah_req_string(req, "room"), ah_req_string(req, "description"),
		ah_req_uint(req, "max_attendees"), ah_req_string(req, "pin"), ah_req_string(req, "presenter_secret"));
	room->tokens = tokens;
	/* Pinned, or placed on the least loaded node (cluster mode only; docs/cluster.md). */
	room->node = g_strdup(ah_req_has(req, "node") ? ah_req_string(req, "node") : ah_engine_place_choose(req->engine));
	ah_engine_apply_presenter_seats(req->engine, room);
	if (video_layer >= 0)
		room->video_layer = video_layer;
	apply_room_seats(req, room);
	ah_engine_edges_room_changed(req->engine, room);
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
	if (ah_req_has(req, "origin_attendees"))
		room->origin_attendees = (gint)ah_req_uint(req, "origin_attendees");
	if (ah_req_has(req, "priority_secret"))
		replace(&room->priority_secret, *ah_req_string(req, "priority_secret") != '\0' ? ah_req_string(req, "priority_secret") : NULL);
}

ah_error ah_req_edit_room(ah_req *req)
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
	if ((err = presenter_bitrate_check(req)) != AH_ERR_OK || (err = node_check(req)) != AH_ERR_OK)
		return err;
	if ((err = ah_req_schedule_parse(req, &in)) != AH_ERR_OK)
		return err;
	room->tokens = tokens;
	/* Future joins only: who is in the room stays where they are. */
	if (ah_req_has(req, "node")) {
		replace(&room->node, ah_req_string(req, "node"));
		ah_engine_apply_presenter_seats(req->engine, room);
	}
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
		ah_engine_ledger_cap_changed(req->engine, room->tenant->id, room->id);
	}
	apply_room_seats(req, room);
	ah_engine_edges_room_changed(req->engine, room);
	ah_req_schedule_apply(req, room, &in);
	return ah_req_room_reply(req, room, "room_edited", TRUE);
}

ah_error ah_req_destroy_room(ah_req *req)
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

ah_error ah_req_list_rooms(ah_req *req)
{
	ah_tenant *tenant;
	ah_error err = ah_req_filter_tenant(req, &tenant);
	if (err != AH_ERR_OK)
		return err;
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "rooms", ah_req_rooms_json(req->engine, tenant));
	return AH_ERR_OK;
}

ah_error ah_req_room_info(ah_req *req)
{
	ah_room *room = NULL;
	ah_error err = ah_req_find_room(req, &room);
	if (err != AH_ERR_OK)
		return err;
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "room", room_info_json(req->engine, room));
	return AH_ERR_OK;
}

ah_error ah_req_kick(ah_req *req)
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
