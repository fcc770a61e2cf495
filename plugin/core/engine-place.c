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
#include "allhands/edges.h"


struct ah_engine_place {
	char *node_id;
	char *secret;
	ah_place_view *view;
	ah_ticket_seen *seen;
	guint64 issued, taken, refused; /* tickets, since start */
	GHashTable *rejoins;  /* nonce -> exp (UNIX s, GINT_TO_POINTER not enough: gint64*): rejoin tickets taken */
	GHashTable *stand_ins; /* "tenant/room" -> its stand-in's id (the view's string), for this view only:
				* a join for a dead home's room costs O(1), not O(nodes) hashes */
	guint64 rejoined;     /* attendees of dead nodes rejoined here */
	/* Edges (docs/cluster.md, "Edges: the queue drains into any node"). */
	ah_edges *edges;
	guint spill;          /* seats added to admission's capacity: what the edges can take now */
	gboolean edges_dirty; /* a new view or placement since the last ah_engine_edges_sync */
	gint64 edges_roll_at;  /* the ramp's second after the last placement ends: look again then */
	gint64 synced_at;     /* the last ah_engine_edges_sync's `now` */
	GHashTable *limited;  /* "tenant/room" -> NULL: rooms with origin_attendees whose admission cap follows
			       * the edges (ah_engine_edges_room_changed) */
	guint64 served_over;  /* attendees served here beyond a limit: no edge had room when admitted */
	guint64 placed_here;  /* attendees of rooms homed here served here */
};

static char *room_key(const ah_room *room)
{
	return g_strdup_printf("%s/%s", room->tenant->id, room->id);
}

void ah_engine_set_cluster(ah_engine *engine, const char *node_id, const char *secret)
{
	/* Set again: admission's capacity back to the node's own (the edges' seats were added to it). */
	if (engine->place != NULL && engine->place->spill > 0) {
		ah_admission_config c = *ah_admission_get_config(engine->adm);
		c.capacity = c.capacity > engine->place->spill ? c.capacity - engine->place->spill : 0;
		ah_admission_set_config(engine->adm, &c, engine->place->synced_at);
	}
	ah_engine_place_clear(engine);
	if (node_id == NULL || secret == NULL)
		return;
	engine->place = g_new0(struct ah_engine_place, 1);
	engine->place->node_id = g_strdup(node_id);
	engine->place->secret = g_strdup(secret);
	engine->place->seen = ah_ticket_seen_new(AH_TICKET_SEEN_DEFAULT);
	engine->place->rejoins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	engine->place->stand_ins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	engine->place->edges = ah_edges_new(AH_EDGES_RAMP_DEFAULT);
	engine->place->limited = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	engine->place->edges_dirty = TRUE;
	engine->place->edges_roll_at = G_MAXINT64;
	/* Rooms loaded before cluster mode began: those with origin_attendees follow the edges. */
	GHashTableIter t, r;
	gpointer tenant, room;
	g_hash_table_iter_init(&t, engine->tenants);
	while (g_hash_table_iter_next(&t, NULL, &tenant)) {
		g_hash_table_iter_init(&r, ((ah_tenant *)tenant)->rooms);
		while (g_hash_table_iter_next(&r, NULL, &room))
			if (((ah_room *)room)->origin_attendees >= 0)
				g_hash_table_add(engine->place->limited, room_key(room));
	}
}

void ah_engine_set_cluster_nodes(ah_engine *engine, const ah_place_node *nodes, guint n)
{
	if (engine->place == NULL)
		return;
	/* The stand-ins were the old view's (and point into it). */
	g_hash_table_remove_all(engine->place->stand_ins);
	ah_place_view_free(engine->place->view);
	engine->place->view = ah_place_view_new(nodes, n);
	ah_edges_view(engine->place->edges, engine->place->view);
	engine->place->edges_dirty = TRUE;
}

void ah_engine_place_clear(ah_engine *engine)
{
	if (engine->place == NULL)
		return;
	g_free(engine->place->node_id);
	g_free(engine->place->secret);
	ah_place_view_free(engine->place->view);
	ah_ticket_seen_free(engine->place->seen);
	g_hash_table_destroy(engine->place->rejoins);
	g_hash_table_destroy(engine->place->stand_ins);
	ah_edges_free(engine->place->edges);
	g_hash_table_destroy(engine->place->limited);
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

const char *ah_engine_room_home(const ah_engine *engine, const ah_room *room)
{
	const ah_place_node *home;
	const char *stand_in;
	if (engine->place == NULL || room->node == NULL)
		return NULL;
	/* Its home is dead (in the view and not alive, or gone from a view that lists nodes): the
	 * stand-in every node with this view agrees on serves it until the home is back. */
	home = ah_place_view_find(engine->place->view, room->node);
	if ((home != NULL && home->alive) || ah_place_view_size(engine->place->view) == 0)
		return room->node;
	char *key = g_strdup_printf("%s/%s", room->tenant->id, room->id);
	stand_in = g_hash_table_lookup(engine->place->stand_ins, key);
	if (stand_in == NULL && (stand_in = ah_place_stand_in(engine->place->view, key)) != NULL) {
		g_hash_table_insert(engine->place->stand_ins, key, (gpointer)stand_in);
		key = NULL;
	}
	g_free(key);
	return stand_in != NULL ? stand_in : room->node;
}

const char *ah_engine_room_elsewhere(const ah_engine *engine, const ah_room *room)
{
	const char *home = ah_engine_room_home(engine, room);
	if (home == NULL || strcmp(home, engine->place->node_id) == 0)
		return NULL;
	return home;
}

const ah_place_node *ah_engine_place_node(const ah_engine *engine, const char *id)
{
	return engine->place != NULL ? ah_place_view_find(engine->place->view, id) : NULL;
}

char *ah_engine_ticket_issue(ah_engine *engine, const ah_room *room, ah_ticket_ptype ptype, gboolean priority,
	const char *sub, gint64 now)
{
	if (engine->place == NULL || room->node == NULL)
		return NULL;
	return ah_engine_ticket_issue_for(engine, room, ah_engine_room_home(engine, room), ptype, priority, sub, now);
}

char *ah_engine_ticket_issue_for(ah_engine *engine, const ah_room *room, const char *node, ah_ticket_ptype ptype,
	gboolean priority, const char *sub, gint64 now)
{
	ah_ticket t = { 0 };
	char *ticket;
	if (engine->place == NULL || node == NULL || !ah_ticket_nonce(t.nonce))
		return NULL;
	g_strlcpy(t.tenant, room->tenant->id, sizeof(t.tenant));
	g_strlcpy(t.room, room->id, sizeof(t.room));
	g_strlcpy(t.node, node, sizeof(t.node));
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

char *ah_engine_rejoin_ticket(ah_engine *engine, const ah_room *room, const char *sub, gint64 now)
{
	ah_ticket t = { 0 };
	if (engine->place == NULL || !ah_ticket_nonce(t.nonce))
		return NULL;
	g_strlcpy(t.tenant, room->tenant->id, sizeof(t.tenant));
	g_strlcpy(t.room, room->id, sizeof(t.room));
	g_strlcpy(t.node, engine->place->node_id, sizeof(t.node));
	g_strlcpy(t.sub, sub != NULL ? sub : "", sizeof(t.sub));
	t.ptype = AH_TICKET_ATTENDEE;
	t.priority = TRUE;
	t.exp = ah_engine_real_s(engine, now) + AH_TICKET_REJOIN_TTL_S;
	return ah_ticket_sign_rejoin(&t, engine->place->secret);
}

/* Forget the rejoin tickets that expired, when the table has grown (amortised O(1) per take). */
static void prune_rejoins(struct ah_engine_place *place, gint64 now_s)
{
	GHashTableIter it;
	gpointer exp;
	if (g_hash_table_size(place->rejoins) < 1024)
		return;
	g_hash_table_iter_init(&it, place->rejoins);
	while (g_hash_table_iter_next(&it, NULL, &exp))
		if (*(gint64 *)exp + AH_TICKET_SKEW_S <= now_s)
			g_hash_table_iter_remove(&it);
}

ah_error ah_engine_rejoin_ticket_check(ah_engine *engine, const char *ticket, const ah_room *room, gboolean take,
	gint64 now, ah_ticket *out, char **why)
{
	struct ah_engine_place *place = engine->place;
	gint64 now_s = ah_engine_real_s(engine, now);
	const ah_place_node *issuer;
	ah_error err;
	*why = NULL;
	if (place == NULL)
		return AH_ERR_NOT_CLUSTERED;
	if ((err = ah_ticket_verify_rejoin(ticket, place->secret, now_s, out)) != AH_ERR_OK)
		return err;
	if (strcmp(out->tenant, room->tenant->id) != 0 || strcmp(out->room, room->id) != 0) {
		*why = g_strdup_printf("ticket mismatch (the rejoin token is for room %s/%s)", out->tenant, out->room);
		return AH_ERR_TICKET_MISMATCH;
	}
	issuer = ah_place_view_find(place->view, out->node);
	if (strcmp(out->node, place->node_id) == 0 || (issuer != NULL && issuer->alive)) {
		*why = g_strdup_printf("ticket mismatch (the node that seated you, %s, is alive: its grace applies)", out->node);
		return AH_ERR_TICKET_MISMATCH;
	}
	if (g_hash_table_contains(place->rejoins, out->nonce))
		return AH_ERR_TICKET_USED;
	if (take) {
		gint64 *exp = g_new(gint64, 1);
		prune_rejoins(place, now_s);
		*exp = out->exp;
		g_hash_table_insert(place->rejoins, g_strdup(out->nonce), exp);
		place->rejoined++;
	}
	return AH_ERR_OK;
}

void ah_engine_ticket_untake(ah_engine *engine, const ah_ticket *taken)
{
	if (engine->place != NULL && taken != NULL) {
		ah_ticket_seen_forget(engine->place->seen, taken->nonce);
		engine->place->taken--;
	}
}

json_t *ah_engine_edges_json(const ah_engine *engine);

json_t *ah_engine_place_json(const ah_engine *engine)
{
	const struct ah_engine_place *place = engine->place;
	json_t *out;
	if (place == NULL)
		return NULL;
	out = json_pack("{s:s, s:I, s:{s:I, s:I, s:I, s:I}, s:I}", "node_id", place->node_id,
		"nodes_known", (json_int_t)ah_place_view_size(place->view), "tickets", "issued", (json_int_t)place->issued,
		"taken", (json_int_t)place->taken, "refused", (json_int_t)place->refused,
		"remembered", (json_int_t)ah_ticket_seen_size(place->seen), "rejoined_from_dead_nodes",
		(json_int_t)place->rejoined);
	json_object_set_new(out, "edges", ah_engine_edges_json(engine));
	return out;
}

/* --- edges (docs/cluster.md, "Edges: the queue drains into any node") */

void ah_engine_set_edge_ramp(ah_engine *engine, guint per_s)
{
	if (engine->place != NULL) {
		ah_edges_set_ramp(engine->place->edges, per_s);
		engine->place->edges_dirty = TRUE;
	}
}

gint64 ah_engine_edges_deadline(const ah_engine *engine, gint64 now)
{
	if (engine->place == NULL)
		return G_MAXINT64;
	return engine->place->edges_dirty ? now : engine->place->edges_roll_at;
}

guint ah_engine_spill(const ah_engine *engine)
{
	return engine->place != NULL ? engine->place->spill : 0;
}

guint ah_engine_own_capacity(const ah_engine *engine)
{
	guint capacity = ah_admission_get_config(engine->adm)->capacity, spill = ah_engine_spill(engine);
	return capacity > spill ? capacity - spill : 0;
}

/* Served here as the room's origin: its home (or the stand-in for a dead home) is this node. */
static gboolean origin_here(const ah_engine *engine, const ah_room *room)
{
	const char *home = ah_engine_room_home(engine, room);
	return home != NULL && strcmp(home, engine->place->node_id) == 0;
}

/* A room with origin_attendees, served here as its origin (its home, or the stand-in of a dead home):
 * admission seats no more of it than the origin serves plus what the edges can take now (so with no
 * edge its attendees wait in the queue, not beyond the limit); elsewhere its own cap. FALSE: the room
 * has no origin_attendees (any more): nothing to follow. */
static gboolean apply_room_cap(ah_engine *engine, ah_room *room)
{
	gboolean follows = room->origin_attendees >= 0 && origin_here(engine, room);
	guint64 cap = follows ? MIN((guint64)room->max_attendees, (guint64)room->origin_attendees + engine->place->spill)
		: room->max_attendees;
	ah_admission_set_room(engine->adm, room->tenant->id, room->id, (guint)cap);
	return room->origin_attendees >= 0;
}

void ah_engine_edges_room_changed(ah_engine *engine, ah_room *room)
{
	if (engine->place == NULL)
		return;
	if (apply_room_cap(engine, room))
		g_hash_table_add(engine->place->limited, room_key(room));
}

void ah_engine_edges_room_gone(ah_engine *engine, const ah_room *room)
{
	char *key;
	if (engine->place == NULL)
		return;
	key = room_key(room);
	ah_edges_forget_room(engine->place->edges, key);
	g_hash_table_remove(engine->place->limited, key);
	g_free(key);
}

void ah_engine_edges_sync(ah_engine *engine, gint64 now)
{
	struct ah_engine_place *place = engine->place;
	ah_admission_config c;
	GHashTableIter it;
	gpointer key;
	guint64 spill;
	guint own;
	if (place == NULL || (!place->edges_dirty && now < place->edges_roll_at))
		return;
	place->edges_dirty = FALSE;
	place->synced_at = now;
	if (now >= place->edges_roll_at)
		place->edges_roll_at = G_MAXINT64;
	spill = MIN(ah_edges_capacity(place->edges, place->view, place->node_id, now), (guint64)AH_CAP_MAX);
	if (spill != place->spill) {
		own = ah_engine_own_capacity(engine);
		c = *ah_admission_get_config(engine->adm);
		c.capacity = (guint)MIN((guint64)own + spill, (guint64)G_MAXUINT32);
		place->spill = (guint)spill;
		ah_admission_set_config(engine->adm, &c, now);
	}
	g_hash_table_iter_init(&it, place->limited);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		char **ids = g_strsplit(key, "/", 2);
		ah_room *room = ids[0] != NULL && ids[1] != NULL ? ah_engine_room(engine, ids[0], ids[1]) : NULL;
		if (room == NULL || !apply_room_cap(engine, room))
			g_hash_table_iter_remove(&it);
		g_strfreev(ids);
	}
}

const ah_place_node *ah_engine_place_attendee(ah_engine *engine, ah_room *room, guint later_node, guint later_room,
	gint64 now)
{
	struct ah_engine_place *place = engine->place;
	ah_adm_counts node, in_room;
	guint64 node_seats, room_seats;
	gboolean origin, fits;
	const char *edge;
	char *key;
	if (place == NULL)
		return NULL;
	node = ah_admission_counts(engine->adm, NULL, NULL);
	in_room = ah_admission_counts(engine->adm, room->tenant->id, room->id);
	/* The seats of those decided already (the attendees admitted with it and not placed yet do not count). */
	node_seats = (guint64)node.active + node.connecting + node.rejoining;
	room_seats = (guint64)in_room.active + in_room.connecting + in_room.rejoining;
	node_seats = node_seats > later_node ? node_seats - later_node : 0;
	room_seats = room_seats > later_room ? room_seats - later_room : 0;
	origin = origin_here(engine, room);
	fits = node_seats <= ah_engine_own_capacity(engine) &&
		(!origin || room->origin_attendees < 0 || room_seats <= (guint64)room->origin_attendees);
	if (fits) {
		if (origin)
			place->placed_here++;
		return NULL;
	}
	key = room_key(room);
	edge = ah_edges_place(place->edges, place->view, place->node_id, key, now);
	g_free(key);
	if (edge == NULL) {
		place->served_over++;
		return NULL;
	}
	place->edges_dirty = TRUE;
	place->edges_roll_at = now + G_USEC_PER_SEC;
	return ah_place_view_find(place->view, edge);
}

static void add_count(gpointer node, gpointer count, gpointer object)
{
	json_object_set_new(object, node, json_integer(GPOINTER_TO_UINT(count)));
}

json_t *ah_engine_edges_room_json(const ah_engine *engine, const ah_room *room)
{
	json_t *placed;
	char *key;
	if (engine->place == NULL)
		return NULL;
	placed = json_object();
	key = room_key(room);
	ah_edges_foreach_room_node(engine->place->edges, key, add_count, placed);
	g_free(key);
	return placed;
}

static void add_total(gpointer node, gpointer total, gpointer object)
{
	json_object_set_new(object, node, json_integer((json_int_t)*(guint64 *)total));
}

json_t *ah_engine_edges_json(const ah_engine *engine)
{
	const struct ah_engine_place *place = engine->place;
	json_t *on;
	if (place == NULL)
		return NULL;
	on = json_object();
	ah_edges_foreach_node(place->edges, add_total, on);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "ramp_per_s", (json_int_t)ah_edges_ramp(place->edges),
		"edge_seats", (json_int_t)place->spill, "placed", (json_int_t)ah_edges_placed_total(place->edges),
		"served_here", (json_int_t)place->placed_here, "served_over", (json_int_t)place->served_over,
		"placed_on", on);
}

void ah_engine_edges_foreach_node(const ah_engine *engine, GHFunc fn, gpointer user)
{
	if (engine->place != NULL)
		ah_edges_foreach_node(engine->place->edges, fn, user);
}
