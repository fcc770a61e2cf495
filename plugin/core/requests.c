/* allhands: the request table (docs/api.md) and its dispatch: the top of the requests layer, and
 * of the engine (ah_engine_handle_message, ah_engine_admin_message).
 *
 * Owns dispatch (one row per request: name, parameter spec, handler, flags), authorization
 * (operator, tenant, participant), and the reply and error bodies. Each family of handlers is a
 * file below it (requests-participant.c, requests-join.c, requests-tenants.c, requests-rooms.c,
 * requests-node.c, requests-schedule.c), sharing requests-common.c; the engine is below them all.
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

#include "requests-private.h"

enum {
	REQ_PARTICIPANT = 1 << 0, /* plugin handles only, no credentials */
	REQ_OPERATOR = 1 << 1,    /* admin request: operator rights */
	REQ_TENANT = 1 << 2,      /* admin request a tenant may send for its own tenant */
	REQ_JSEP = 1 << 3,        /* may carry a JSEP */
};

typedef ah_error (*req_handler)(ah_req *req);

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
	/* "<token>" or, in cluster mode, "<token>.<rejoin ticket>" (docs/cluster.md). */
	AH_PARAM_STR("rejoin_token", FALSE, 0, AH_REJOIN_TOKEN_LEN + 1 + AH_TICKET_MAX_LEN),
	AH_PARAM_STR("token", FALSE, 0, 0),  /* no bound here: token_too_large says why */
	AH_PARAM_STR("ticket", FALSE, 0, 0), /* a redirect's ticket: ticket_invalid says why */
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
	AH_PARAM_UINT("presenter_max_bitrate", FALSE, 0, AH_PRESENTER_BITRATE_MAX), \
	AH_PARAM_ID("node", FALSE), \
	AH_PARAM_UINT("origin_attendees", FALSE, 0, AH_CAP_MAX)

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

static const ah_param rotate_signing_key_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_UINT("overlap_s", FALSE, 0, AH_SECRET_OVERLAP_S_MAX),
	AH_PARAM_STR("signing_key", FALSE, 0, 0),
	AH_PARAM_END
};

static const ah_param set_capacity_params[] = {
	AH_PARAM_UINT("capacity", FALSE, 0, AH_CAP_MAX),
	AH_PARAM_STR("wave_mode", FALSE, 0, 16),
	AH_PARAM_UINT("wave_size", FALSE, 1, AH_WAVE_SIZE_MAX),
	AH_PARAM_UINT("wave_min", FALSE, 1, AH_WAVE_SIZE_MAX),
	AH_PARAM_UINT("wave_interval_ms", FALSE, 0, AH_WAVE_INTERVAL_MS_MAX),
	AH_PARAM_UINT("admit_timeout_ms", FALSE, AH_ADMIT_TIMEOUT_MS_MIN, AH_ADMIT_TIMEOUT_MS_MAX),
	AH_PARAM_UINT("cpu_target_percent", FALSE, 0, 100),
	AH_PARAM_UINT("join_rate", FALSE, 0, AH_JOIN_RATE_MAX),
	AH_PARAM_UINT("join_burst", FALSE, 1, AH_JOIN_RATE_MAX),
	AH_PARAM_UINT("update_interval_ms", FALSE, AH_UPDATE_INTERVAL_MS_MIN, AH_UPDATE_INTERVAL_MS_MAX),
	AH_PARAM_UINT("rejoin_grace_s", FALSE, 0, AH_REJOIN_GRACE_S_MAX),
	AH_PARAM_UINT("max_queued", FALSE, 0, AH_CAP_MAX),
	AH_PARAM_END
};

static const ah_param pause_params[] = {
	AH_PARAM_ID("tenant", FALSE),
	AH_PARAM_ID("room", FALSE),
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
	{ "start", no_params, ah_req_start, REQ_PARTICIPANT | REQ_JSEP },
	{ "publish", no_params, ah_req_publish, REQ_PARTICIPANT | REQ_JSEP },
	{ "unpublish", no_params, ah_req_unpublish, REQ_PARTICIPANT },
	{ "leave", no_params, ah_req_leave, REQ_PARTICIPANT },
	{ "room_counts", no_params, ah_req_room_counts, REQ_PARTICIPANT },
	{ "set_layer", set_layer_params, ah_req_set_layer, REQ_PARTICIPANT },
	{ "create_tenant", create_tenant_params, ah_req_create_tenant, REQ_OPERATOR },
	{ "edit_tenant", edit_tenant_params, ah_req_edit_tenant, REQ_OPERATOR },
	{ "destroy_tenant", tenant_params, ah_req_destroy_tenant, REQ_OPERATOR },
	{ "get_signing_key", tenant_params, ah_req_get_signing_key, REQ_OPERATOR | REQ_TENANT },
	{ "rotate_signing_key", rotate_signing_key_params, ah_req_rotate_signing_key, REQ_OPERATOR | REQ_TENANT },
	{ "list_tenants", no_params, ah_req_list_tenants, REQ_OPERATOR },
	{ "create_room", create_room_params, ah_req_create_room, REQ_OPERATOR | REQ_TENANT },
	{ "edit_room", edit_room_params, ah_req_edit_room, REQ_OPERATOR | REQ_TENANT },
	{ "destroy_room", room_params, ah_req_destroy_room, REQ_OPERATOR | REQ_TENANT },
	{ "list_rooms", optional_tenant_params, ah_req_list_rooms, REQ_OPERATOR | REQ_TENANT },
	{ "room_info", room_params, ah_req_room_info, REQ_OPERATOR | REQ_TENANT },
	{ "kick", kick_params, ah_req_kick, REQ_OPERATOR | REQ_TENANT },
	{ "set_schedule", set_schedule_params, ah_req_set_schedule, REQ_OPERATOR | REQ_TENANT },
	{ "occurrences", occurrences_params, ah_req_occurrences, REQ_OPERATOR | REQ_TENANT },
	{ "start_now", room_params, ah_req_start_now, REQ_OPERATOR | REQ_TENANT },
	{ "end_now", room_params, ah_req_end_now, REQ_OPERATOR | REQ_TENANT },
	{ "set_capacity", set_capacity_params, ah_req_set_capacity, REQ_OPERATOR },
	{ "pause", pause_params, ah_req_pause, REQ_OPERATOR | REQ_TENANT },
	{ "resume", pause_params, ah_req_resume, REQ_OPERATOR | REQ_TENANT },
	{ "drain", no_params, ah_req_drain, REQ_OPERATOR },
	{ "status", optional_tenant_params, ah_req_status, REQ_OPERATOR | REQ_TENANT },
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
	/* The reply goes before the side effects: the glue must send an offer before it routes. A
	 * deferred request keeps its transaction for the reply to come. */
	out->kind = req.deferred ? AH_OUT_DEFER : AH_OUT_REPLY;
	if (req.deferred) {
		json_decref(reply);
		reply = NULL;
	}
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
