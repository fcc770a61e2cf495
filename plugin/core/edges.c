/* allhands: the choice of an edge and the origin's memory of its placements
 * (include/allhands/edges.h).
 *
 * Pure: GLib only; no Janus, no clock, no I/O, no logging.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "allhands/edges.h"

#define RAMP_WINDOW_US G_USEC_PER_SEC

typedef struct {
	gint64 beat_ms;         /* the heartbeat its in-flight placements came after */
	guint capacity, seats_held, queued; /* its figures then (for nodes without beat_ms) */
	guint in_flight;        /* placed since that heartbeat */
	gint64 window_start;    /* the ramp's current second (monotonic us); G_MININT64: none yet */
	guint window_count;     /* placed in it */
	guint64 total;          /* placed since the start */
} edge_node;

struct ah_edges {
	guint ramp_per_s;
	GHashTable *nodes;      /* id -> edge_node* (both owned) */
	GHashTable *rooms;      /* "tenant/room" -> GHashTable (node id -> count as GUINT_TO_POINTER), owned */
	guint64 placed;
};

ah_edges *ah_edges_new(guint ramp_per_s)
{
	ah_edges *edges = g_new0(ah_edges, 1);
	edges->ramp_per_s = MAX(ramp_per_s, 1);
	edges->nodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	edges->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_destroy);
	return edges;
}

void ah_edges_free(ah_edges *edges)
{
	if (edges == NULL)
		return;
	g_hash_table_destroy(edges->nodes);
	g_hash_table_destroy(edges->rooms);
	g_free(edges);
}

void ah_edges_set_ramp(ah_edges *edges, guint ramp_per_s)
{
	edges->ramp_per_s = MAX(ramp_per_s, 1);
}

guint ah_edges_ramp(const ah_edges *edges)
{
	return edges->ramp_per_s;
}

static edge_node *node_state(ah_edges *edges, const char *id)
{
	edge_node *n = g_hash_table_lookup(edges->nodes, id);
	if (n == NULL) {
		n = g_new0(edge_node, 1);
		n->window_start = G_MININT64;
		g_hash_table_insert(edges->nodes, g_strdup(id), n);
	}
	return n;
}

void ah_edges_view(ah_edges *edges, const ah_place_view *view)
{
	for (guint i = 0; i < ah_place_view_size(view); i++) {
		const ah_place_node *node = ah_place_view_node(view, i);
		edge_node *n = g_hash_table_lookup(edges->nodes, node->id);
		gboolean changed;
		if (n == NULL)
			continue;
		changed = node->beat_ms > 0 ? node->beat_ms > n->beat_ms : node->capacity != n->capacity ||
			node->seats_held != n->seats_held || node->queued != n->queued;
		if (changed)
			n->in_flight = 0;
		n->beat_ms = node->beat_ms;
		n->capacity = node->capacity;
		n->seats_held = node->seats_held;
		n->queued = node->queued;
	}
}

static guint node_free(const edge_node *n, const ah_place_node *node)
{
	gint64 free_seats = ah_place_free_seats(node) - (n != NULL ? (gint64)n->in_flight : 0);
	return free_seats > 0 ? (guint)MIN(free_seats, (gint64)G_MAXUINT) : 0;
}

guint ah_edges_node_free(const ah_edges *edges, const ah_place_node *node)
{
	return node_free(g_hash_table_lookup(edges->nodes, node->id), node);
}

/* What the ramp leaves the node in the second of `now`. */
static guint ramp_left(const ah_edges *edges, const edge_node *n, gint64 now)
{
	if (n == NULL || n->window_start == G_MININT64 || now - n->window_start >= RAMP_WINDOW_US)
		return edges->ramp_per_s;
	return n->window_count < edges->ramp_per_s ? edges->ramp_per_s - n->window_count : 0;
}

/* The placements the node can take now (0 when it is no edge: dead or the origin). */
static guint node_room(const ah_edges *edges, const ah_place_node *node, const char *self, gint64 now)
{
	const edge_node *n;
	if (!node->alive || (self != NULL && strcmp(node->id, self) == 0))
		return 0;
	n = g_hash_table_lookup(edges->nodes, node->id);
	return MIN(node_free(n, node), ramp_left(edges, n, now));
}

guint64 ah_edges_capacity(const ah_edges *edges, const ah_place_view *view, const char *self, gint64 now)
{
	guint64 sum = 0;
	for (guint i = 0; i < ah_place_view_size(view); i++)
		sum += node_room(edges, ah_place_view_node(view, i), self, now);
	return sum;
}

/* Better: serving the room over not, then more free seats, then the smaller id. */
static gboolean better(const ah_edges *edges, const ah_place_node *a, gboolean a_serves, const ah_place_node *b,
	gboolean b_serves)
{
	guint fa, fb;
	if (b == NULL)
		return TRUE;
	if (a_serves != b_serves)
		return a_serves;
	fa = ah_edges_node_free(edges, a);
	fb = ah_edges_node_free(edges, b);
	if (fa != fb)
		return fa > fb;
	return strcmp(a->id, b->id) < 0;
}

const char *ah_edges_place(ah_edges *edges, const ah_place_view *view, const char *self, const char *room_key,
	gint64 now)
{
	GHashTable *serving = g_hash_table_lookup(edges->rooms, room_key);
	const ah_place_node *best = NULL;
	gboolean best_serves = FALSE;
	edge_node *n;
	for (guint i = 0; i < ah_place_view_size(view); i++) {
		const ah_place_node *node = ah_place_view_node(view, i);
		gboolean serves = serving != NULL && g_hash_table_contains(serving, node->id);
		if (node_room(edges, node, self, now) > 0 && better(edges, node, serves, best, best_serves)) {
			best = node;
			best_serves = serves;
		}
	}
	if (best == NULL)
		return NULL;
	n = node_state(edges, best->id);
	if (n->in_flight == 0) {
		/* First placement there since we know it: its figures now are what later views compare with. */
		n->beat_ms = best->beat_ms;
		n->capacity = best->capacity;
		n->seats_held = best->seats_held;
		n->queued = best->queued;
	}
	n->in_flight++;
	if (n->window_start == G_MININT64 || now - n->window_start >= RAMP_WINDOW_US) {
		n->window_start = now;
		n->window_count = 0;
	}
	n->window_count++;
	n->total++;
	edges->placed++;
	if (serving == NULL) {
		serving = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		g_hash_table_insert(edges->rooms, g_strdup(room_key), serving);
	}
	g_hash_table_replace(serving, g_strdup(best->id),
		GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(serving, best->id)) + 1));
	return best->id;
}

guint64 ah_edges_placed_total(const ah_edges *edges)
{
	return edges->placed;
}

guint64 ah_edges_placed_on(const ah_edges *edges, const char *node_id)
{
	const edge_node *n = g_hash_table_lookup(edges->nodes, node_id);
	return n != NULL ? n->total : 0;
}

typedef struct {
	GHFunc fn;
	gpointer user;
} each_ctx;

static void each_node(gpointer key, gpointer value, gpointer data)
{
	each_ctx *ctx = data;
	ctx->fn(key, &((edge_node *)value)->total, ctx->user);
}

void ah_edges_foreach_node(const ah_edges *edges, GHFunc fn, gpointer user)
{
	each_ctx ctx = { fn, user };
	g_hash_table_foreach(edges->nodes, each_node, &ctx);
}

void ah_edges_foreach_room_node(const ah_edges *edges, const char *room_key, GHFunc fn, gpointer user)
{
	GHashTable *serving = g_hash_table_lookup(edges->rooms, room_key);
	if (serving != NULL)
		g_hash_table_foreach(serving, fn, user);
}

void ah_edges_forget_room(ah_edges *edges, const char *room_key)
{
	g_hash_table_remove(edges->rooms, room_key);
}
