/* allhands: where an origin serves the attendees its queue admits (docs/cluster.md, "Edges: the queue
 * drains into any node"): the choice of an edge for one placement, and what the origin remembers of
 * its placements: per node, those made since the node's last heartbeat (in flight: not in its
 * figures yet) and those made in the current second (the ramp-up); per room, how many went where.
 *
 * The choice, among the alive nodes of a view other than the origin itself (`self`): a node has room
 * when its free seats (ah_place_free_seats) minus the placements in flight to it are above 0 and it
 * took fewer than `ramp_per_s` placements in the current second. Of those, a node already serving the
 * room (this origin placed some of its attendees there) comes first; else a new edge opens; either
 * way the one with the most free seats, ties by the smaller id. A burst therefore fills an edge at
 * `ramp_per_s` a second, then spills to the next edge (like Jitsi's bridge selection ramp-up), and
 * never lands on one node all at once.
 *
 * Pure: GLib only; no Janus, no clock (time is `now`, monotonic microseconds), no I/O, no logging.
 * One thread (the control thread).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_EDGES_H
#define ALLHANDS_EDGES_H

#include <glib.h>

#include "allhands/placement.h"

typedef struct ah_edges ah_edges;

#define AH_EDGES_RAMP_DEFAULT 50  /* edge_ramp_per_s's default (docs/cluster.md, "Edges") */
#define AH_EDGES_RAMP_MAX 100000

/* ramp_per_s >= 1 (0 is taken as 1). */
ah_edges *ah_edges_new(guint ramp_per_s);
void ah_edges_free(ah_edges *edges);
void ah_edges_set_ramp(ah_edges *edges, guint ramp_per_s);
guint ah_edges_ramp(const ah_edges *edges);

/* A new view: a node whose heartbeat in it (beat_ms) is newer than the one its placements in flight
 * were made after has them in its figures now (they are forgotten); a node without beat_ms (0) keeps
 * them until its figures change. O(nodes). */
void ah_edges_view(ah_edges *edges, const ah_place_view *view);

/* Seats `node` has for placements: its free seats minus those in flight to it, at least 0. */
guint ah_edges_node_free(const ah_edges *edges, const ah_place_node *node);
/* Placements the view's edges (alive, not `self`) can take now: the sum of their free seats, each
 * within what its ramp leaves in the current second. O(nodes). */
guint64 ah_edges_capacity(const ah_edges *edges, const ah_place_view *view, const char *self, gint64 now);

/* Choose the edge for one attendee of the room `room_key` ("tenant/room") at `now` and record the
 * placement (in flight, ramp, the room's count): the node's id (the view's string), or NULL when no
 * edge has room (nothing recorded). O(nodes). */
const char *ah_edges_place(ah_edges *edges, const ah_place_view *view, const char *self, const char *room_key,
	gint64 now);

/* What was placed, since the start (never decreasing): in all, on one node, and for one room per node
 * (fn(node_id, GUINT_TO_POINTER(count), user) in no particular order). */
guint64 ah_edges_placed_total(const ah_edges *edges);
guint64 ah_edges_placed_on(const ah_edges *edges, const char *node_id);
void ah_edges_foreach_node(const ah_edges *edges, GHFunc fn, gpointer user); /* node_id, guint64 * total */
void ah_edges_foreach_room_node(const ah_edges *edges, const char *room_key, GHFunc fn, gpointer user);
/* The room is gone: forget its counts. */
void ah_edges_forget_room(ah_edges *edges, const char *room_key);

#endif
