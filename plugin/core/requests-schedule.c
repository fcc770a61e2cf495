/* allhands: the schedule requests (docs/api.md): set_schedule, occurrences, start_now and end_now,
 * the schedule and room options that create_room and edit_room also carry (parsed, then applied),
 * and the check a join makes against a closed room. Phases and their transitions are the engine's
 * (engine-schedule.c), the calendar schedule.c's. requests.c's table and the room and join
 * handlers call it; it calls requests-common.c and the engine.
 *
 * Pure: no Janus header, no clock, no logging. Real time is the monotonic `now` plus the offset
 * the glue sets. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "requests-private.h"

#define OCCURRENCES_DEFAULT 10

/* --- request input */

/* {"start","end"} | {"start","duration_s"} | {"dtstart","tzid","duration_s","rrule"?,"exdates"?}
 * | {"ical"}. */
static ah_error parse_schedule(const json_t *s, ah_schedule **out, char **message)
{
	const json_t *ical = json_object_get(s, "ical"), *start = json_object_get(s, "start");
	const json_t *duration = json_object_get(s, "duration_s");
	if (!json_is_object(s)) {
		*message = g_strdup("invalid schedule (must be an object or null)");
		return AH_ERR_INVALID_SCHEDULE;
	}
	if (ical != NULL) {
		if (json_is_string(ical))
			return ah_schedule_new_from_ical(json_string_value(ical), out, message);
		*message = g_strdup("invalid schedule (ical: must be a string)");
		return AH_ERR_INVALID_SCHEDULE;
	}
	if (start != NULL && json_object_get(s, "end") == NULL) {
		if (!json_is_integer(start) || !json_is_integer(duration) || json_integer_value(duration) < 0 ||
				json_integer_value(duration) > AH_SCHEDULE_MAX_DURATION_S ||
				json_integer_value(start) > G_MAXINT64 / 2) {
			*message = g_strdup_printf("invalid schedule (start needs an integer end or duration_s 1..%d)",
				AH_SCHEDULE_MAX_DURATION_S);
			return AH_ERR_INVALID_SCHEDULE;
		}
		return ah_schedule_new_once(json_integer_value(start),
			json_integer_value(start) + json_integer_value(duration), out, message);
	}
	return ah_schedule_from_json(s, out, message);
}

void ah_schedule_input_clear(ah_schedule_input *in)
{
	ah_schedule_free(in->schedule);
	memset(in, 0, sizeof(*in));
}

/* The options' ranges are checked by the request table; prequeue_order's value here. */
ah_error ah_req_schedule_parse(ah_req *req, ah_schedule_input *in)
{
	const json_t *m = req->message, *schedule = json_object_get(m, "schedule");
	const char *order = json_string_value(json_object_get(m, "prequeue_order"));
	char *message = NULL;
	ah_error err;
	memset(in, 0, sizeof(*in));
	if ((in->has_lobby = json_object_get(m, "lobby_minutes") != NULL))
		in->lobby_minutes = json_integer_value(json_object_get(m, "lobby_minutes"));
	if ((in->has_warning = json_object_get(m, "ending_warning_s") != NULL))
		in->ending_warning_s = json_integer_value(json_object_get(m, "ending_warning_s"));
	if ((in->has_grace = json_object_get(m, "grace_s") != NULL))
		in->grace_s = json_integer_value(json_object_get(m, "grace_s"));
	if (order != NULL && strcmp(order, "fifo") != 0 && strcmp(order, "shuffle") != 0)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT,
			g_strdup("invalid element (prequeue_order: must be fifo or shuffle)"));
	in->has_order = order != NULL;
	in->shuffle = g_strcmp0(order, "shuffle") == 0;
	in->has_schedule = schedule != NULL;
	if (schedule == NULL || json_is_null(schedule))
		return AH_ERR_OK;
	err = parse_schedule(schedule, &in->schedule, &message);
	return err == AH_ERR_OK ? AH_ERR_OK : ah_req_fail(req, err, message);
}

void ah_req_schedule_apply(ah_req *req, ah_room *room, ah_schedule_input *in)
{
	if (in->has_lobby)
		room->lobby_minutes = in->lobby_minutes;
	if (in->has_warning)
		room->ending_warning_s = in->ending_warning_s;
	if (in->has_grace)
		room->grace_s = in->grace_s;
	if (in->has_order)
		room->shuffle = in->shuffle;
	if (in->has_schedule) {
		ah_room_schedule_clear(room);
		room->schedule = in->schedule;
		in->schedule = NULL;
		room->override.kind = AH_OVERRIDE_NONE;
	}
	ah_schedule_input_clear(in);
	ah_engine_room_sync(req->engine, room, req->now, req->outs);
}

ah_error ah_req_join_allowed(ah_req *req, const ah_room *room)
{
	const ah_schedule_status *st = &room->status;
	if (st->phase != AH_PHASE_CLOSED)
		return AH_ERR_OK;
	req->error_extra = json_pack("{s:o}", "next_start", st->has_occurrence ? json_integer(st->occurrence.start) :
		json_null());
	return st->has_occurrence ? AH_ERR_ROOM_CLOSED :
		ah_req_fail(req, AH_ERR_ROOM_CLOSED, g_strdup("room closed (its schedule has no further window)"));
}

/* --- requests */

ah_error ah_req_set_schedule(ah_req *req)
{
	ah_room *room = NULL;
	ah_schedule_input in;
	ah_error err = ah_req_find_room(req, &room);
	if (err != AH_ERR_OK)
		return err;
	if (json_object_get(req->message, "schedule") == NULL)
		return ah_req_fail(req, AH_ERR_MISSING_ELEMENT, g_strdup("missing element (schedule)"));
	if ((err = ah_req_schedule_parse(req, &in)) != AH_ERR_OK)
		return err;
	ah_req_schedule_apply(req, room, &in);
	return ah_req_room_reply(req, room, "room_edited", TRUE);
}

ah_error ah_req_occurrences(ah_req *req)
{
	ah_room *room = NULL;
	ah_error err = ah_req_find_room(req, &room);
	const json_t *count = json_object_get(req->message, "count");
	guint n = count != NULL ? (guint)json_integer_value(count) : OCCURRENCES_DEFAULT, got = 0;
	ah_occurrence *occ;
	json_t *array = json_array();
	if (err != AH_ERR_OK) {
		json_decref(array);
		return err;
	}
	occ = g_new0(ah_occurrence, n);
	if (room->schedule != NULL)
		got = ah_schedule_next_n(room->schedule, ah_engine_real_s(req->engine, req->now), n, occ);
	for (guint i = 0; i < got; i++)
		json_array_append_new(array, json_pack("{s:I, s:I}", "start", (json_int_t)occ[i].start,
			"end", (json_int_t)occ[i].end));
	g_free(occ);
	req->reply = json_pack("{s:s, s:s, s:s, s:o}", "allhands", "success", "tenant", room->tenant->id,
		"room", room->id, "occurrences", array);
	return AH_ERR_OK;
}

static ah_error scheduled_room(ah_req *req, ah_room **room)
{
	ah_error err = ah_req_find_room(req, room);
	if (err == AH_ERR_OK && (*room)->schedule == NULL)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (the room has no schedule: always live)"));
	return err;
}

ah_error ah_req_start_now(ah_req *req)
{
	ah_room *room = NULL;
	ah_error err = scheduled_room(req, &room);
	const ah_schedule_status *st;
	gint64 t = ah_engine_real_s(req->engine, req->now), duration;
	if (err != AH_ERR_OK)
		return err;
	st = &room->status;
	if (st->phase == AH_PHASE_LIVE || st->phase == AH_PHASE_ENDING)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (the room is already live)"));
	if (!st->has_occurrence)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (the schedule has no further window)"));
	/* An early start of the next window when a session of its length would reach into it (so it
	 * is not ended and restarted at its start); otherwise a session of that length from now. */
	duration = st->occurrence.end - st->occurrence.start;
	room->override.kind = AH_OVERRIDE_LIVE;
	room->override.window.start = t;
	room->override.window.end = st->occurrence.start - t <= duration ? st->occurrence.end : t + duration;
	ah_engine_room_sync(req->engine, room, req->now, req->outs);
	return ah_req_room_reply(req, room, "room_started", FALSE);
}

ah_error ah_req_end_now(ah_req *req)
{
	ah_room *room = NULL;
	ah_error err = scheduled_room(req, &room);
	if (err != AH_ERR_OK)
		return err;
	if (room->status.phase == AH_PHASE_CLOSED)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (the room is already closed)"));
	/* Closed through the rest of this window and its grace. */
	room->override.kind = AH_OVERRIDE_ENDED;
	room->override.window = room->status.occurrence;
	room->override.window.end += room->grace_s;
	ah_engine_room_sync(req->engine, room, req->now, req->outs);
	return ah_req_room_reply(req, room, "room_ended", FALSE);
}
