/* allhands: rejoin tokens and the seats they hold ("ghosts", engine-private.h): a token for an
 * admitted attendee when the node has a rejoin grace, the ghost kept when its connection drops (its
 * seat REJOINING in admission), the lookups a rejoin or an expired grace needs, and the ghosts'
 * expiry. A leaf of the engine: it calls engine-registry.c and admission only; engine.c,
 * engine-admission.c and engine-participants.c call it.
 *
 * Pure: no Janus header, no clock (time is `now`), no logging; control thread only. The one outside
 * call is getrandom() for rejoin tokens, which must not be guessable.
 *
 * DESIGN
 * Ghosts are indexed by token and by pid, and kept in expiry order (one grace for all), so expiry
 * is O(1) per ghost; a ghost whose room went away is dropped when its grace would have ended, since
 * admission forgot its pid with the room. The rejoin itself (engine-admission.c) takes the seat over.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>
#include <sys/random.h>

#include "engine-private.h"

static void ghost_free(gpointer data)
{
	ah_ghost *g = data;
	g_free(g->tenant);
	g_free(g->room);
	g_free(g->display);
	g_free(g);
}

void ah_engine_ghosts_init(ah_engine *engine)
{
	engine->ghosts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, ghost_free);
	engine->ghost_pids = g_hash_table_new(g_int64_hash, g_int64_equal);
	g_queue_init(&engine->ghost_order);
}

void ah_engine_ghosts_clear(ah_engine *engine)
{
	g_queue_clear(&engine->ghost_order);
	g_hash_table_destroy(engine->ghost_pids);
	g_hash_table_destroy(engine->ghosts);
}

void ah_engine_ghost_drop(ah_engine *engine, ah_ghost *g)
{
	g_queue_remove(&engine->ghost_order, g);
	g_hash_table_remove(engine->ghost_pids, &g->pid);
	g_hash_table_remove(engine->ghosts, g->token); /* frees g */
}

static void new_token(char out[AH_REJOIN_TOKEN_LEN + 1])
{
	guint8 bytes[AH_REJOIN_TOKEN_LEN / 2];
	gsize got = 0;
	while (got < sizeof(bytes)) {
		ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
		if (n > 0)
			got += (gsize)n;
	}
	for (gsize i = 0; i < sizeof(bytes); i++)
		g_snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

void ah_engine_issue_token(ah_engine *engine, ah_participant *p, json_t *body, gint64 now)
{
	gint64 grace = ah_admission_get_config(engine->adm)->rejoin_grace_us;
	char *ticket;
	if (grace <= 0)
		return;
	new_token(p->rejoin_token);
	/* Cluster mode: "<token>.<rejoin ticket>": another node honours the ticket if this one dies
	 * (docs/cluster.md, "Rejoining after a node died"); this node reads the first part. */
	ticket = ah_engine_rejoin_ticket(engine, p->room, p->sub, now);
	if (ticket != NULL) {
		char *full = g_strconcat(p->rejoin_token, ".", ticket, NULL);
		json_object_set_new(body, "rejoin_token", json_string(full));
		g_free(full);
	} else {
		json_object_set_new(body, "rejoin_token", json_string(p->rejoin_token));
	}
	g_free(ticket);
	json_object_set_new(body, "rejoin_grace_s", json_integer(grace / G_USEC_PER_SEC));
}

gboolean ah_engine_hold(ah_engine *engine, const ah_participant *p, gint64 now, GPtrArray *outs)
{
	ah_ghost *g;
	if (p->presenter || p->backstage || p->rejoin_token[0] == '\0' || !ah_admission_hold(engine->adm, p->id, now))
		return FALSE;
	g = g_new0(ah_ghost, 1);
	memcpy(g->token, p->rejoin_token, sizeof(g->token));
	g->pid = p->id;
	g->tenant = g_strdup(p->room->tenant->id);
	g->room = g_strdup(p->room->id);
	g->display = g_strdup(p->display);
	g->expires = now + ah_admission_get_config(engine->adm)->rejoin_grace_us;
	g_hash_table_insert(engine->ghosts, g->token, g);
	g_hash_table_insert(engine->ghost_pids, &g->pid, g);
	g_queue_push_tail(&engine->ghost_order, g);
	json_object_set_new(ah_engine_notify(outs, p->conn, "rejoining", g->tenant, g->room, p->id), "until_s",
		json_integer(ah_engine_real_s(engine, g->expires)));
	return TRUE;
}

void ah_engine_ghosts_due(ah_engine *engine, gint64 now)
{
	ah_ghost *g;
	while ((g = g_queue_peek_head(&engine->ghost_order)) != NULL && g->expires <= now &&
		ah_admission_state(engine->adm, g->pid) != AH_ADM_REJOINING)
		ah_engine_ghost_drop(engine, g);
}

ah_ghost *ah_engine_ghost_of_token(const ah_engine *engine, const char *token)
{
	return g_hash_table_lookup(engine->ghosts, token);
}

ah_ghost *ah_engine_ghost_of_pid(const ah_engine *engine, guint64 pid)
{
	return g_hash_table_lookup(engine->ghost_pids, &pid);
}
