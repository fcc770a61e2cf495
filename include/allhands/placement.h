/* allhands: room placement in cluster mode (docs/cluster.md, "Placement and redirects"): the nodes
 * a node knows of (its last view of the registry, copied), which of them is least loaded, and where
 * a room's home is.
 *
 * "Least loaded": the alive node with the most free seats, free = capacity - seats_held - queued
 * (queued attendees are demand already there), ties broken by the smaller node id (byte order). A
 * node with no free seat can still be chosen when none has one (the room's queue then holds its
 * attendees); with no alive node at all (no view yet), the room stays on the node that creates it.
 *
 * Pure: GLib only; no Janus, no clock, no I/O. A view is immutable once made; any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_PLACEMENT_H
#define ALLHANDS_PLACEMENT_H

#include <glib.h>

/* One node as the registry shows it. Strings are borrowed by ah_place_view_new (it copies them). */
typedef struct {
	const char *id;
	const char *url;        /* its node_url; NULL when its figures were unreadable */
	gboolean alive;
	guint capacity, seats_held, queued;
	gint64 beat_ms;         /* when its figures were written (its last heartbeat, Redis's clock); 0: unknown */
} ah_place_node;

typedef struct ah_place_view ah_place_view;

/* A copy of `nodes` (n of them); nodes without an id or url are left out. */
ah_place_view *ah_place_view_new(const ah_place_node *nodes, guint n);
void ah_place_view_free(ah_place_view *view);
guint ah_place_view_size(const ah_place_view *view);
/* The i-th node (0 <= i < size), in the order given. */
const ah_place_node *ah_place_view_node(const ah_place_view *view, guint i);
/* The node `id`, NULL when the view does not have it. */
const ah_place_node *ah_place_view_find(const ah_place_view *view, const char *id);
/* The least loaded alive node's id (the view's string), or `fallback` when none is alive. */
const char *ah_place_choose(const ah_place_view *view, const char *fallback);
/* A node's free seats as the choice counts them (may be negative). */
gint64 ah_place_free_seats(const ah_place_node *node);
/* The stand-in home of a room whose home node is dead (docs/cluster.md, "When a room's home dies"): of
 * the alive nodes, the one with the highest rendezvous score for `key` (the room's "tenant/room"),
 * ties by the smaller id, so every node with the same view picks the same one, and a node dying or
 * coming moves only the rooms whose stand-in it is or becomes. NULL when no node is alive. */
const char *ah_place_stand_in(const ah_place_view *view, const char *key);

#endif
