/* allhands: the node requests (docs/api.md): status (the node, its tenants and rooms with their
 * admission and failure figures), set_capacity, pause and resume (of a room or the node), drain
 * and sync. requests.c's table dispatches here; the handlers call requests-common.c and the engine
 * (engine-admission.c's figures, engine-participants.c's admission events, engine-persist.c).
 *
 * Pure: no Janus header, no clock, no logging. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "requests-private.h"

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

ah_error ah_req_status(ah_req *req)
{
	ah_tenant *tenant;
	ah_error err = ah_req_filter_tenant(req, &tenant);
	if (err != AH_ERR_OK)
		return err;
	req->reply = ah_req_success();
	/* The node's load is the operator's business, not one tenant's. */
	if (req->scope == NULL) {
		json_object_set_new(req->reply, "node", ah_engine_node_json(req->engine, req->now));
		json_object_set_new(json_object_get(req->reply, "node"), "failures",
			ah_engine_failures_json(req->engine, NULL, NULL, req->now));
		if (ah_engine_clustered(req->engine))
			json_object_set_new(json_object_get(req->reply, "node"), "placement", ah_engine_place_json(req->engine));
	}
	json_object_set_new(req->reply, "tenants", ah_req_tenants_json(req->engine, tenant));
	json_object_set_new(req->reply, "rooms", ah_req_rooms_json(req->engine, tenant));
	add_figures(req, json_object_get(req->reply, "tenants"), FALSE);
	add_figures(req, json_object_get(req->reply, "rooms"), TRUE);
	return AH_ERR_OK;
}

static gboolean get_uint(const json_t *message, const char *name, guint *out)
{
	const json_t *v = json_object_get(message, name);
	if (v == NULL)
		return FALSE;
	*out = (guint)json_integer_value(v);
	return TRUE;
}

ah_error ah_req_set_capacity(ah_req *req)
{
	ah_admission_config c = *ah_admission_get_config(req->engine->adm);
	const char *mode = json_string_value(json_object_get(req->message, "wave_mode"));
	guint v;
	if (mode != NULL && strcmp(mode, "fixed") != 0 && strcmp(mode, "adaptive") != 0)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (wave_mode: must be fixed or adaptive)"));
	if (mode != NULL)
		c.wave_mode = strcmp(mode, "adaptive") == 0 ? AH_WAVES_ADAPTIVE : AH_WAVES_FIXED;
	/* The request sets this node's own capacity; admission's adds the edges' seats (cluster mode). */
	c.capacity = ah_engine_own_capacity(req->engine);
	get_uint(req->message, "capacity", &c.capacity);
	get_uint(req->message, "wave_size", &c.wave_size);
	get_uint(req->message, "wave_min", &c.wave_min);
	get_uint(req->message, "join_burst", &c.join_burst);
	get_uint(req->message, "max_queued", &c.max_queued);
	if (get_uint(req->message, "wave_interval_ms", &v))
		c.wave_interval_us = (gint64)v * 1000;
	if (get_uint(req->message, "admit_timeout_ms", &v))
		c.admit_timeout_us = (gint64)v * 1000;
	if (get_uint(req->message, "cpu_target_percent", &v))
		c.cpu_target = v / 100.0;
	if (get_uint(req->message, "join_rate", &v))
		c.join_rate = v;
	if (get_uint(req->message, "update_interval_ms", &v))
		c.update_interval_us = (gint64)v * 1000;
	if (get_uint(req->message, "rejoin_grace_s", &v))
		c.rejoin_grace_us = (gint64)v * G_USEC_PER_SEC;
	if (c.wave_min > c.wave_size)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (wave_min: must not exceed wave_size)"));
	c.capacity = (guint)MIN((guint64)c.capacity + ah_engine_spill(req->engine), (guint64)G_MAXUINT32);
	ah_admission_set_config(req->engine->adm, &c, req->now);
	req->reply = json_pack("{s:s}", "allhands", "success");
	json_object_set_new(req->reply, "node", ah_engine_node_json(req->engine, req->now));
	ah_engine_notify(req->outs, 0, "capacity_changed", NULL, NULL, 0);
	return AH_ERR_OK;
}

/* pause / resume: a room (tenant and room), or the whole node (neither; operator only). */
static ah_error set_paused(ah_req *req, gboolean paused)
{
	const char *tenant = json_string_value(json_object_get(req->message, "tenant"));
	const char *room = json_string_value(json_object_get(req->message, "room"));
	ah_room *r = NULL;
	ah_error err;
	GArray *events;
	/* A tenant names itself to authenticate: without a room it would be asking for the node. */
	if (room == NULL && req->scope != NULL)
		return ah_req_fail(req, AH_ERR_FORBIDDEN, g_strdup("forbidden (pausing the node is an operator request)"));
	if (room == NULL && tenant != NULL)
		return ah_req_fail(req, AH_ERR_MISSING_ELEMENT, g_strdup("missing element (room: with tenant, pause names a room)"));
	if (room != NULL && (err = ah_req_find_room(req, &r)) != AH_ERR_OK)
		return err;
	ah_admission_set_paused(req->engine->adm, r != NULL ? r->tenant->id : NULL, r != NULL ? r->id : NULL, paused);
	if (r != NULL) {
		ah_req_room_reply(req, r, paused ? "room_paused" : "room_resumed", FALSE);
	} else {
		if (!paused)
			ah_admission_set_draining(req->engine->adm, FALSE, NULL);
		req->reply = json_pack("{s:s, s:o}", "allhands", "success", "node", ah_engine_node_json(req->engine, req->now));
		ah_engine_notify(req->outs, 0, paused ? "node_paused" : "node_resumed", NULL, NULL, 0);
	}
	/* Resuming may make a wave due at once. */
	events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
	ah_admission_tick(req->engine->adm, req->now, events);
	ah_engine_adm_events(req->engine, events, req->now, req->outs);
	g_array_unref(events);
	return AH_ERR_OK;
}

ah_error ah_req_pause(ah_req *req)
{
	return set_paused(req, TRUE);
}

ah_error ah_req_resume(ah_req *req)
{
	return set_paused(req, FALSE);
}

ah_error ah_req_drain(ah_req *req)
{
	GArray *events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
	ah_admission_set_draining(req->engine->adm, TRUE, events);
	ah_engine_adm_events(req->engine, events, req->now, req->outs);
	g_array_unref(events);
	req->reply = json_pack("{s:s, s:o}", "allhands", "success", "node", ah_engine_node_json(req->engine, req->now));
	ah_engine_notify(req->outs, 0, "node_draining", NULL, NULL, 0);
	return AH_ERR_OK;
}

ah_error ah_req_sync(ah_req *req)
{
	guint64 seq = ah_engine_persist_sync(req->engine);
	req->reply = json_pack("{s:s, s:I}", "allhands", "success", "sequence", (json_int_t)seq);
	return AH_ERR_OK;
}
