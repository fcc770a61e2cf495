/* allhands: the engine's registry: the lookups of tenants, rooms and participants, the outs every
 * part of the engine appends to, the engine's real-time clock offset and the tenants' current
 * credentials, and whether a participant holds a seat (admission's state of it). The leaf of the
 * engine's files: it calls no other engine file, and every other one (and the request files) may
 * call it, so their arrows point down to it.
 *
 * Pure: no Janus header, no clock, no logging. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-private.h"

#define SEC G_GINT64_CONSTANT(1000000)

/* --- outs and notifications */

void ah_out_free(gpointer data)
{
	ah_out *out = data;
	if (out == NULL)
		return;
	if (out->body != NULL)
		json_decref(out->body);
	g_free(out);
}

void ah_engine_push(GPtrArray *outs, ah_out_kind kind, guint64 conn, json_t *body, ah_jsep_kind jsep)
{
	ah_out *out = g_new0(ah_out, 1);
	out->kind = kind;
	out->conn = conn;
	out->body = body;
	out->jsep = jsep;
	g_ptr_array_add(outs, out);
}

json_t *ah_engine_notify(GPtrArray *outs, guint64 conn, const char *event, const char *tenant,
	const char *room, guint64 id)
{
	json_t *body = json_pack("{s:s}", "event", event);
	if (tenant != NULL)
		json_object_set_new(body, "tenant", json_string(tenant));
	if (room != NULL)
		json_object_set_new(body, "room", json_string(room));
	if (id != 0)
		json_object_set_new(body, "id", json_integer((json_int_t)id));
	ah_engine_push(outs, AH_OUT_NOTIFY, conn, body, AH_JSEP_NONE);
	return body;
}

/* --- time */

void ah_engine_set_clock_offset(ah_engine *engine, gint64 realtime_minus_monotonic_us)
{
	engine->clock_offset = realtime_minus_monotonic_us;
}

gint64 ah_engine_real_s(const ah_engine *engine, gint64 now)
{
	gint64 us = now + engine->clock_offset;
	return us >= 0 ? us / SEC : -((-us + SEC - 1) / SEC);
}

/* --- lookups and credentials */

ah_tenant *ah_engine_tenant(const ah_engine *engine, const char *id)
{
	return id != NULL ? g_hash_table_lookup(engine->tenants, id) : NULL;
}

/* A current credential, and a rotated-out one while its overlap lasts (until `until`, UNIX seconds). */
static guint with_previous(const ah_engine *engine, gint64 now, const char *current, const char *previous,
	gint64 until, const char *out[2])
{
	out[0] = current;
	out[1] = previous != NULL && ah_engine_real_s(engine, now) < until ? previous : NULL;
	return out[1] != NULL ? 2 : 1;
}

guint ah_engine_tenant_secrets(const ah_engine *engine, const ah_tenant *tenant, gint64 now,
	const char *secrets[2])
{
	return with_previous(engine, now, tenant->secret, tenant->previous_secret, tenant->previous_secret_until, secrets);
}

guint ah_engine_tenant_keys(const ah_engine *engine, const ah_tenant *tenant, gint64 now, const char *keys[2])
{
	return with_previous(engine, now, tenant->signing_key, tenant->previous_signing_key,
		tenant->previous_signing_key_until, keys);
}

ah_room *ah_engine_room(const ah_engine *engine, const char *tenant, const char *room)
{
	ah_tenant *t = ah_engine_tenant(engine, tenant);
	return t != NULL && room != NULL ? g_hash_table_lookup(t->rooms, room) : NULL;
}

ah_participant *ah_engine_participant(const ah_engine *engine, guint64 conn)
{
	return g_hash_table_lookup(engine->conns, &conn);
}

ah_participant *ah_engine_participant_by_id(const ah_engine *engine, guint64 id)
{
	return g_hash_table_lookup(engine->pids, &id);
}

guint64 ah_engine_next_id(const ah_engine *engine)
{
	return engine->next_pid;
}

/* --- seats */

gboolean ah_engine_seated(const ah_engine *engine, const ah_participant *p)
{
	ah_adm_state state;
	if (p->presenter || p->backstage)
		return FALSE;
	state = ah_admission_state(engine->adm, p->id);
	return state == AH_ADM_CONNECTING || state == AH_ADM_ACTIVE;
}

gboolean ah_engine_receiving(const ah_engine *engine, const ah_participant *p)
{
	return p->backstage || ah_engine_seated(engine, p);
}

/* A definition's reference (engine.h): engine-persist.c's lists and engine-media.c's (media across nodes). */
void ah_def_ref_free(gpointer data)
{
	ah_def_ref *ref = data;
	if (ref == NULL)
		return;
	g_free(ref->tenant);
	g_free(ref->room);
	g_free(ref);
}
