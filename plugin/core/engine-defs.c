/* allhands: cluster mode's shared definitions, the engine's side (include/allhands/engine.h;
 * docs/cluster.md, "Definitions"). A definition is a tenant's or a room's row of the state file
 * (persist.h): the glue (plugin/glue/cluster-defs.c) takes the list of those a request changed
 * (ah_engine_save notes them while tracking is on) and writes them to Redis; definitions other
 * nodes wrote come back here (ah_engine_apply_definition), checked as strictly as the state file's
 * rows, and are applied through the same engine functions as the state file's load and the Admin
 * API's requests, so admission, schedules, fan-outs and the state file follow. Applying one touches
 * one tenant or one room (and, when it is destroyed, its participants).
 *
 * Layer: above engine.c (it creates and destroys tenants and rooms through it), below the glue;
 * it calls engine.c, engine-persist.c, engine-schedule.c, engine-admission.c, engine-ledger.c (a cap
 * that changed goes to the seat ledger, as an edit request's does), engine-media.c and
 * engine-registry.c, and nothing calls it but the glue.
 *
 * Pure: no Janus header, no clock, no logging. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "engine-private.h"
#include "allhands/persist.h"

void ah_engine_defs_track(ah_engine *engine, gboolean on)
{
	engine->defs_track = on;
	if (!on)
		g_clear_pointer(&engine->defs_changed, g_ptr_array_unref);
}

GPtrArray *ah_engine_defs_take(ah_engine *engine)
{
	GPtrArray *changed = engine->defs_changed;
	engine->defs_changed = NULL;
	return changed;
}

json_t *ah_engine_definition(const ah_engine *engine, const char *tenant, const char *room)
{
	return tenant != NULL ? ah_engine_row(engine, tenant, room) : NULL;
}

char **ah_engine_definition_ids(const ah_engine *engine, const char *tenant)
{
	GPtrArray *ids = g_ptr_array_new();
	GPtrArray *sorted;
	if (tenant == NULL) {
		sorted = ah_engine_sorted_tenants(engine);
		for (guint i = 0; i < sorted->len; i++)
			g_ptr_array_add(ids, g_strdup(((ah_tenant *)g_ptr_array_index(sorted, i))->id));
	} else {
		const ah_tenant *t = ah_engine_tenant(engine, tenant);
		if (t == NULL) {
			g_ptr_array_unref(ids);
			return NULL;
		}
		sorted = ah_engine_sorted_rooms(t);
		for (guint i = 0; i < sorted->len; i++)
			g_ptr_array_add(ids, g_strdup(((ah_room *)g_ptr_array_index(sorted, i))->id));
	}
	g_ptr_array_unref(sorted);
	g_ptr_array_add(ids, NULL);
	return (char **)g_ptr_array_free(ids, FALSE);
}

/* --- checking a row */

/* The row, checked by the state file's own reader (every rule of a request that makes it): a state
 * of that one row (a room's with its tenant's row as this node has it). NULL with *message. */
static ah_persist_state *check_row(const ah_engine *engine, const char *tenant, const char *room, const json_t *row,
	char **message)
{
	json_t *root, *tenant_row = NULL;
	ah_persist_state *state;
	ah_error err = AH_ERR_OK;
	char *why = NULL;
	if (!json_is_object(row)) {
		*message = g_strdup("the definition is not a JSON object");
		return NULL;
	}
	if (room != NULL && (tenant_row = ah_engine_row(engine, tenant, NULL)) == NULL) {
		*message = g_strdup_printf("its tenant %s is not defined here", tenant);
		return NULL;
	}
	root = json_pack("{s:i, s:[], s:[]}", "version", AH_PERSIST_VERSION, "tenants", "rooms");
	if (room == NULL) {
		json_array_append(json_object_get(root, "tenants"), (json_t *)row);
	} else {
		json_array_append_new(json_object_get(root, "tenants"), tenant_row);
		json_array_append(json_object_get(root, "rooms"), (json_t *)row);
	}
	state = ah_persist_from_json(root, &err, &why);
	json_decref(root);
	if (state == NULL) {
		/* The reader names the row by its place in that state ("rooms[0]: "): the caller names it. */
		const char *text = why != NULL ? why : "invalid definition";
		if (g_str_has_prefix(text, "rooms[0]: ") || g_str_has_prefix(text, "tenants[0]: "))
			text = strchr(text, ' ') + 1;
		*message = g_strdup(text);
		g_free(why);
		return NULL;
	}
	const ah_persist_tenant *t = g_ptr_array_index(state->tenants, 0);
	const ah_persist_room *r = room != NULL ? g_ptr_array_index(state->rooms, 0) : NULL;
	if (strcmp(t->tenant, tenant) != 0 || (r != NULL && (strcmp(r->tenant, tenant) != 0 || strcmp(r->room, room) != 0)) ||
			(room == NULL && t->signing_key == NULL)) {
		*message = g_strdup("the definition names another tenant or room");
		ah_persist_state_free(state);
		return NULL;
	}
	return state;
}

static void replace(char **field, const char *value)
{
	g_free(*field);
	*field = g_strdup(value);
}

/* --- applying */

static void apply_tenant(ah_engine *engine, const ah_persist_tenant *row)
{
	ah_tenant *t = ah_engine_tenant(engine, row->tenant);
	if (t == NULL) {
		t = ah_engine_add_tenant(engine, row->tenant, row->name, row->max_participants, row->secret);
	} else {
		replace(&t->name, row->name);
		replace(&t->secret, row->secret);
		if (t->max_participants != row->max_participants) {
			t->max_participants = row->max_participants;
			ah_admission_set_tenant(engine->adm, t->id, t->max_participants);
			ah_engine_ledger_cap_changed(engine, t->id, NULL);
		}
	}
	replace(&t->previous_secret, row->previous_secret);
	t->previous_secret_until = row->previous_secret_until;
	g_strlcpy(t->signing_key, row->signing_key, sizeof(t->signing_key));
	replace(&t->previous_signing_key, row->previous_signing_key);
	t->previous_signing_key_until = row->previous_signing_key_until;
	t->weight = row->weight;
	t->reserved = row->reserved;
	t->max_queued = row->max_queued;
	ah_engine_apply_share(engine, t);
}

/* The row's schedule (a refused one is held closed, as at load). */
static ah_schedule *row_schedule(const ah_persist_room *row)
{
	ah_schedule *s = NULL;
	char *why = NULL;
	if (row->schedule != NULL && ah_schedule_from_json(row->schedule, &s, &why) != AH_ERR_OK)
		s = ah_schedule_new_held(row->schedule, why);
	g_free(why);
	return s;
}

static void apply_room(ah_engine *engine, const ah_persist_room *row, gint64 now, GPtrArray *outs)
{
	ah_tenant *t = ah_engine_tenant(engine, row->tenant);
	ah_room *r = ah_engine_room(engine, row->tenant, row->room);
	gboolean fresh = r == NULL, new_schedule = fresh;
	if (fresh) {
		r = ah_engine_add_room(engine, t, row->room, row->description, row->max_attendees, row->pin,
			row->presenter_secret);
	} else {
		replace(&r->description, row->description);
		replace(&r->pin, row->pin);
		replace(&r->presenter_secret, row->presenter_secret);
		if (r->max_attendees != row->max_attendees) {
			r->max_attendees = row->max_attendees;
			ah_admission_set_room(engine->adm, t->id, r->id, r->max_attendees);
			ah_engine_ledger_cap_changed(engine, t->id, r->id);
		}
		json_t *was = r->schedule != NULL ? ah_schedule_to_json(r->schedule) : NULL;
		new_schedule = !(was == NULL ? row->schedule == NULL : row->schedule != NULL && json_equal(was, row->schedule));
		json_decref(was);
		/* Every receiver's max_layer or every presenter's REMB may follow: rebuild the fan-outs. */
		if (r->video_layer != row->video_layer || r->presenter_max_bitrate != row->presenter_max_bitrate)
			ah_engine_routes_changed(engine, r);
	}
	replace(&r->priority_secret, row->priority_secret);
	r->tokens = row->tokens;
	r->video_layer = row->video_layer;
	r->presenter_max_bitrate = row->presenter_max_bitrate;
	r->origin_attendees = row->origin_attendees;
	ah_engine_edges_room_changed(engine, r);
	/* The home node (placement): future joins only, as edit_room's `node`; the presenter seats this
	 * node keeps for the room follow it. */
	gboolean moved = g_strcmp0(r->node, row->node) != 0;
	if (moved)
		replace(&r->node, row->node);
	if (fresh || moved || r->presenter_seats != row->presenter_seats) {
		r->presenter_seats = row->presenter_seats;
		ah_engine_apply_presenter_seats(engine, r);
	}
	r->lobby_minutes = row->lobby_minutes;
	r->ending_warning_s = row->ending_warning_s;
	r->grace_s = row->grace_s;
	r->shuffle = row->shuffle;
	/* A new schedule replaces the old one and any start_now / end_now, as set_schedule does. */
	if (new_schedule) {
		ah_room_schedule_clear(r);
		r->schedule = row_schedule(row);
		r->override.kind = AH_OVERRIDE_NONE;
	}
	ah_engine_room_sync(engine, r, now, outs);
}

/* The tenant or room is gone: as destroy_tenant / destroy_room do. FALSE: it was not here. */
static gboolean apply_gone(ah_engine *engine, const char *tenant, const char *room, gint64 now, GPtrArray *outs)
{
	ah_tenant *t = ah_engine_tenant(engine, tenant);
	ah_room *r = t != NULL && room != NULL ? ah_engine_room(engine, tenant, room) : NULL;
	if (t == NULL || (room != NULL && r == NULL))
		return FALSE;
	if (room != NULL) {
		ah_engine_notify(outs, 0, "room_destroyed", tenant, room, 0);
		ah_engine_destroy_room(engine, r, now, outs);
	} else {
		ah_engine_notify(outs, 0, "tenant_destroyed", tenant, NULL, 0);
		ah_engine_destroy_tenant(engine, t, now, outs);
	}
	return TRUE;
}

ah_error ah_engine_apply_definition(ah_engine *engine, const char *tenant, const char *room, const json_t *row,
	gint64 now, GPtrArray *outs, gboolean *changed, char **message)
{
	ah_persist_state *state = NULL;
	json_t *current, *fresh;
	*changed = FALSE;
	if (tenant == NULL || !ah_validate_identifier(tenant) || (room != NULL && !ah_validate_identifier(room))) {
		*message = g_strdup("invalid tenant or room id");
		return AH_ERR_INVALID_ELEMENT;
	}
	if (row != NULL && (state = check_row(engine, tenant, room, row, message)) == NULL)
		return AH_ERR_INVALID_ELEMENT;
	ah_engine_catch_up(engine, now, outs);
	if (state == NULL) {
		*changed = apply_gone(engine, tenant, room, now, outs);
	} else {
		/* Nothing to do when this node has that definition already (its own change coming back). */
		current = ah_engine_row(engine, tenant, room);
		fresh = room == NULL ? ah_persist_tenant_json(g_ptr_array_index(state->tenants, 0))
			: ah_persist_room_json(g_ptr_array_index(state->rooms, 0));
		*changed = current == NULL || !json_equal(current, fresh);
		json_decref(current);
		json_decref(fresh);
		if (*changed && room == NULL)
			apply_tenant(engine, g_ptr_array_index(state->tenants, 0));
		else if (*changed)
			apply_room(engine, g_ptr_array_index(state->rooms, 0), now, outs);
		ah_persist_state_free(state);
	}
	/* The state file follows (the local cache of the definitions); not a change to share. */
	if (*changed) {
		engine->defs_quiet = TRUE;
		ah_engine_save(engine, tenant, room);
		engine->defs_quiet = FALSE;
	}
	ah_engine_flush(engine, outs);
	return AH_ERR_OK;
}
