/* allhands: the engine's side of cluster placement (docs/cluster.md, "Placement and redirects"):
 * this node's id and the cluster's secret, the last view of the nodes the glue passed down (an
 * immutable copy, include/allhands/placement.h), where a room's home is, and the redirect tickets
 * this node issues and takes (include/allhands/ticket.h, with the replay set).
 *
 * Without ah_engine_set_cluster (single-node mode) nothing here is used: every room is at home.
 * Pure: no Janus, no clock, no logging. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "engine-private.h"

struct ah_engine_place {
	char *node_id;
	char *secret;
	ah_place_view *view;
	ah_ticket_seen *seen;
	guint64 issued, taken, refused; /* tickets, since start */
};

void ah_engine_set_cluster(ah_engine *engine, const char *node_id, const char *secret)
{
	ah_engine_place_clear(engine);
	if (node_id == NULL || secret == NULL)
		return;
	engine->place = g_new0(struct ah_engine_place, 1);
	engine->place->node_id = g_strdup(node_id);
	engine->place->secret = g_strdup(secret);
	engine->place->seen = ah_ticket_seen_new(AH_TICKET_SEEN_DEFAULT);
}

void ah_engine_set_cluster_nodes(ah_engine *engine, const ah_place_node *nodes, guint n)
{
	if (engine->place == NULL)
		return;
	ah_place_view_free(engine->place->view);
	engine->place->view = ah_place_view_new(nodes, n);
}

void ah_engine_place_clear(ah_engine *engine)
{
	if (engine->place == NULL)
		return;
	g_free(engine->place->node_id);
	g_free(engine->place->secret);
	ah_place_view_free(engine->place->view);
	ah_ticket_seen_free(engine->place->seen);
	g_clear_pointer(&engine->place, g_free);
}

gboolean ah_engine_clustered(const ah_engine *engine)
{
	return engine->place != NULL;
}

const char *ah_engine_place_choose(const ah_engine *engine)
{
	return engine->place != NULL ? ah_place_choose(engine->place->view, engine->place->node_id) : NULL;
}

const char *ah_engine_room_elsewhere(const ah_engine *engine, const ah_room *room)
{
	if (engine->place == NULL || room->node == NULL || strcmp(room->node, engine->place->node_id) == 0)
		return NULL;
	return room->node;
}

const ah_place_node *ah_engine_place_node(const ah_engine *engine, const char *id)
{
	return engine->place != NULL ? ah_place_view_find(engine->place->view, id) : NULL;
}

char *ah_engine_ticket_issue(ah_engine *engine, const ah_room *room, ah_ticket_ptype ptype, gboolean priority,
	const char *sub, gint64 now)
{
	ah_ticket t = { 0 };
	char *ticket;
	if (engine->place == NULL || room->node == NULL || !ah_ticket_nonce(t.nonce))
		return NULL;
	g_strlcpy(t.tenant, room->tenant->id, sizeof(t.tenant));
	g_strlcpy(t.room, room->id, sizeof(t.room));
	g_strlcpy(t.node, room->node, sizeof(t.node));
	g_strlcpy(t.sub, sub != NULL ? sub : "", sizeof(t.sub));
	t.ptype = ptype;
	t.priority = priority && ptype == AH_TICKET_ATTENDEE;
	t.exp = ah_engine_real_s(engine, now) + AH_TICKET_TTL_S;
	ticket = ah_ticket_sign(&t, engine->place->secret);
	if (ticket != NULL)
		engine->place->issued++;
	return ticket;
}

ah_error ah_engine_ticket_take(ah_engine *engine, const char *ticket, const ah_room *room, const char *ptype, gint64 now,
	ah_ticket *out, char **why)
{
	ah_error err;
	*why = NULL;
	if (engine->place == NULL) {
		*why = g_strdup("not clustered (a ticket is only taken by a node in cluster mode)");
		return AH_ERR_NOT_CLUSTERED;
	}
	err = ah_ticket_verify(ticket, engine->place->secret, ah_engine_real_s(engine, now), out);
	if (err == AH_ERR_OK && (strcmp(out->tenant, room->tenant->id) != 0 || strcmp(out->room, room->id) != 0))
		err = AH_ERR_TICKET_MISMATCH, *why = g_strdup_printf("ticket mismatch (the ticket is for room %s/%s)",
			out->tenant, out->room);
	else if (err == AH_ERR_OK && strcmp(out->node, engine->place->node_id) != 0)
		err = AH_ERR_TICKET_MISMATCH, *why = g_strdup_printf("ticket mismatch (the ticket is for node %s, this is %s)",
			out->node, engine->place->node_id);
	else if (err == AH_ERR_OK && ptype != NULL && strcmp(ptype, ah_ticket_ptype_name(out->ptype)) != 0)
		err = AH_ERR_TICKET_MISMATCH, *why = g_strdup_printf("ticket mismatch (the ticket is for ptype %s)",
			ah_ticket_ptype_name(out->ptype));
	if (err == AH_ERR_OK)
		err = ah_ticket_seen_take(engine->place->seen, out->nonce, ah_engine_real_s(engine, now));
	if (err == AH_ERR_OK)
		engine->place->taken++;
	else
		engine->place->refused++;
	return err;
}

void ah_engine_ticket_untake(ah_engine *engine, const ah_ticket *taken)
{
	if (engine->place != NULL && taken != NULL) {
		ah_ticket_seen_forget(engine->place->seen, taken->nonce);
		engine->place->taken--;
	}
}

json_t *ah_engine_place_json(const ah_engine *engine)
{
	const struct ah_engine_place *place = engine->place;
	if (place == NULL)
		return NULL;
	return json_pack("{s:s, s:I, s:{s:I, s:I, s:I, s:I}}", "node_id", place->node_id,
		"nodes_known", (json_int_t)ah_place_view_size(place->view), "tickets", "issued", (json_int_t)place->issued,
		"taken", (json_int_t)place->taken, "refused", (json_int_t)place->refused,
		"remembered", (json_int_t)ah_ticket_seen_size(place->seen));
}
