/* allhands: the engine's side of the state file (issue 12): the row of a tenant or room that changed,
 * handed to the writer (persist-writer.h), whose thread (the glue's) writes the file; the writer's
 * start (seeded with the rows as loaded) and stop; the last change's number (`sync`); a room's
 * schedule and options in its row and back; in cluster mode, the list of definitions requests changed
 * (ah_engine_save notes them; engine-defs.c hands the list to the glue) and a definition's row
 * (ah_engine_row). engine.c, engine-defs.c and the request handlers call it; it calls
 * engine-registry.c, persist, the writer and the schedule module.
 *
 * Pure: no Janus header, no clock, no logging. Control thread only (ah_engine_persist_stop after
 * the writer thread has stopped).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-private.h"
#include "allhands/persist.h"
#include "allhands/persist-writer.h"

/* A tenant's row of the state file, from the engine's tenant. */
static ah_persist_tenant *tenant_row(ah_persist_state *state, const ah_tenant *t)
{
	ah_persist_tenant *row = ah_persist_add_tenant(state, t->id, t->name, t->max_participants, t->secret);
	row->weight = t->weight;
	row->reserved = t->reserved;
	row->max_queued = t->max_queued;
	if (t->previous_secret != NULL) {
		row->previous_secret = g_strdup(t->previous_secret);
		row->previous_secret_until = t->previous_secret_until;
	}
	row->signing_key = g_strdup(t->signing_key);
	row->previous_signing_key = g_strdup(t->previous_signing_key);
	row->previous_signing_key_until = t->previous_signing_key_until;
	return row;
}

/* A room's schedule and options, into its row (ah_room_schedule_load reads them back). */
static void schedule_row(const ah_room *room, ah_persist_room *row)
{
	row->schedule = room->schedule != NULL ? ah_schedule_to_json(room->schedule) : NULL;
	row->lobby_minutes = room->lobby_minutes;
	row->ending_warning_s = room->ending_warning_s;
	row->grace_s = room->grace_s;
	row->shuffle = room->shuffle;
}

static ah_persist_room *room_row(ah_persist_state *state, const ah_tenant *t, const ah_room *r)
{
	ah_persist_room *rrow = ah_persist_add_room(state, t->id, r->id, r->description, r->max_attendees,
		r->pin, r->presenter_secret);
	rrow->presenter_seats = r->presenter_seats;
	rrow->priority_secret = g_strdup(r->priority_secret);
	rrow->tokens = r->tokens;
	rrow->video_layer = r->video_layer;
	rrow->presenter_max_bitrate = r->presenter_max_bitrate;
	rrow->node = g_strdup(r->node);
	rrow->origin_attendees = r->origin_attendees;
	schedule_row(r, rrow);
	return rrow;
}


/* A definition a request changed, for the glue to share (engine-defs.c hands the list over). One
 * entry per change: a request changes one tenant or one room. */
static void defs_note(ah_engine *engine, const char *tenant, const char *room)
{
	ah_def_ref *ref = g_new0(ah_def_ref, 1);
	ref->tenant = g_strdup(tenant);
	ref->room = g_strdup(room);
	if (engine->defs_changed == NULL)
		engine->defs_changed = g_ptr_array_new_with_free_func(ah_def_ref_free);
	g_ptr_array_add(engine->defs_changed, ref);
}

/* Only the row that changed is built here (O(1) of the state's size); the writer thread writes
 * the file (persist-writer.h). */
gboolean ah_engine_save(ah_engine *engine, const char *tenant, const char *room)
{
	ah_persist_state *state;
	const ah_tenant *t;
	const ah_room *r;
	json_t *row = NULL;
	/* Cluster mode: a change to share (engine-defs.c), unless it came from outside. */
	if (engine->defs_track && !engine->defs_quiet && tenant != NULL)
		defs_note(engine, tenant, room);
	if (engine->writer == NULL || tenant == NULL)
		return TRUE;
	state = ah_persist_state_new();
	t = ah_engine_tenant(engine, tenant);
	r = room != NULL ? ah_engine_room(engine, tenant, room) : NULL;
	if (room == NULL && t != NULL)
		row = ah_persist_tenant_json(tenant_row(state, t));
	else if (r != NULL)
		row = ah_persist_room_json(room_row(state, t, r));
	ah_persist_writer_put(engine->writer, tenant, room, row);
	if (row != NULL)
		json_decref(row);
	ah_persist_state_free(state);
	return !ah_persist_writer_failing(engine->writer);
}

json_t *ah_engine_row(const ah_engine *engine, const char *tenant, const char *room)
{
	const ah_tenant *t = ah_engine_tenant(engine, tenant);
	const ah_room *r = t != NULL && room != NULL ? ah_engine_room(engine, tenant, room) : NULL;
	ah_persist_state *state;
	json_t *row = NULL;
	if (t == NULL || (room != NULL && r == NULL))
		return NULL;
	state = ah_persist_state_new();
	row = room == NULL ? ah_persist_tenant_json(tenant_row(state, t)) : ah_persist_room_json(room_row(state, t, r));
	ah_persist_state_free(state);
	return row;
}

ah_persist_writer *ah_engine_persist_writer(const ah_engine *engine)
{
	return engine->writer;
}

guint ah_engine_stale_temps_removed(const ah_engine *engine)
{
	return engine->stale_temps_removed;
}

guint ah_engine_held_schedules(const ah_engine *engine)
{
	return engine->held_schedules;
}

guint64 ah_engine_persist_sync(ah_engine *engine)
{
	return engine->writer != NULL ? ah_persist_writer_sync(engine->writer) : 0;
}

/* The rows as loaded, into the writer's image (nothing is written: the file already says this). */
static void seed_writer(ah_persist_writer *writer, const ah_persist_state *state)
{
	for (guint i = 0; i < state->tenants->len; i++) {
		const ah_persist_tenant *t = g_ptr_array_index(state->tenants, i);
		json_t *row = ah_persist_tenant_json(t);
		ah_persist_writer_seed(writer, t->tenant, NULL, row);
		json_decref(row);
	}
	for (guint i = 0; i < state->rooms->len; i++) {
		const ah_persist_room *r = g_ptr_array_index(state->rooms, i);
		json_t *row = ah_persist_room_json(r);
		ah_persist_writer_seed(writer, r->tenant, r->room, row);
		json_decref(row);
	}
}

void ah_engine_persist_start(ah_engine *engine, const ah_persist_state *loaded)
{
	engine->writer = ah_persist_writer_new(engine->state_path, NULL);
	seed_writer(engine->writer, loaded);
}

gboolean ah_engine_persist_migrated(ah_engine *engine, char **message)
{
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, engine->tenants);
	while (g_hash_table_iter_next(&it, &key, NULL))
		ah_engine_save(engine, key, NULL);
	return ah_persist_writer_flush(engine->writer, message) != AH_PERSIST_FAILED;
}

void ah_engine_persist_stop(ah_engine *engine)
{
	char *why = NULL;
	g_clear_pointer(&engine->defs_changed, g_ptr_array_unref);
	if (engine->writer == NULL)
		return;
	/* The last changes reach the disk (the glue's writer thread, if any, has stopped). */
	ah_persist_writer_flush(engine->writer, &why);
	g_free(why);
	ah_persist_writer_free(engine->writer);
	engine->writer = NULL;
}

/* --- a room's schedule and options, back from its row */

/* A stored schedule is checked like a new one (so it cannot stall a restart either). One refused
 * now (a rule that an older version accepted, a hand-edited file) is held: the room is kept, closed,
 * with the schedule as it was (the state file keeps it) and the reason in its replies, until it is
 * replaced; the node starts. */
ah_error ah_room_schedule_load(ah_room *room, const ah_persist_room *row, char **message)
{
	room->lobby_minutes = row->lobby_minutes;
	room->ending_warning_s = row->ending_warning_s;
	room->grace_s = row->grace_s;
	room->shuffle = row->shuffle;
	if (row->schedule != NULL) {
		char *why = NULL;
		if (ah_schedule_from_json(row->schedule, &room->schedule, &why) != AH_ERR_OK)
			room->schedule = ah_schedule_new_held(row->schedule, why);
		g_free(why);
	}
	if (room->schedule != NULL) {
		/* Closed until the first sync, which the first entry point runs (next_change 0 is due). */
		room->status.phase = AH_PHASE_CLOSED;
		room->status.next_change = 0;
	}
	return AH_ERR_OK;
}
