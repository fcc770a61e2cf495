/* allhands: room placement: the nodes' view and the least loaded choice
 * (include/allhands/placement.h). A view is built once per heartbeat reply, so the choice walks it
 * (O(nodes) per room created) and a lookup by id is a hash lookup (O(1) per join).
 *
 * Pure: GLib only; no Janus, no clock, no I/O, no logging.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "allhands/placement.h"

struct ah_place_view {
	GArray *nodes;          /* ah_place_node, strings owned */
	GHashTable *by_id;      /* id -> index + 1 (GUINT_TO_POINTER) */
};

ah_place_view *ah_place_view_new(const ah_place_node *nodes, guint n)
{
	ah_place_view *view = g_new0(ah_place_view, 1);
	view->nodes = g_array_sized_new(FALSE, TRUE, sizeof(ah_place_node), n);
	view->by_id = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < n; i++) {
		ah_place_node copy = nodes[i];
		if (copy.id == NULL || copy.url == NULL || g_hash_table_contains(view->by_id, copy.id))
			continue;
		copy.id = g_strdup(copy.id);
		copy.url = g_strdup(copy.url);
		g_array_append_val(view->nodes, copy);
		/* The key is the copied string, which stays where it is as the array grows. */
		g_hash_table_insert(view->by_id, (gpointer)copy.id, GUINT_TO_POINTER(view->nodes->len));
	}
	return view;
}

void ah_place_view_free(ah_place_view *view)
{
	if (view == NULL)
		return;
	for (guint i = 0; i < view->nodes->len; i++) {
		ah_place_node *node = &g_array_index(view->nodes, ah_place_node, i);
		g_free((char *)node->id);
		g_free((char *)node->url);
	}
	g_array_unref(view->nodes);
	g_hash_table_destroy(view->by_id);
	g_free(view);
}

guint ah_place_view_size(const ah_place_view *view)
{
	return view != NULL ? view->nodes->len : 0;
}

const ah_place_node *ah_place_view_node(const ah_place_view *view, guint i)
{
	return &g_array_index(view->nodes, ah_place_node, i);
}

const ah_place_node *ah_place_view_find(const ah_place_view *view, const char *id)
{
	guint index = view != NULL && id != NULL ? GPOINTER_TO_UINT(g_hash_table_lookup(view->by_id, id)) : 0;
	return index > 0 ? &g_array_index(view->nodes, ah_place_node, index - 1) : NULL;
}

gint64 ah_place_free_seats(const ah_place_node *node)
{
	return (gint64)node->capacity - (gint64)node->seats_held - (gint64)node->queued;
}

const char *ah_place_choose(const ah_place_view *view, const char *fallback)
{
	const ah_place_node *best = NULL;
	for (guint i = 0; view != NULL && i < view->nodes->len; i++) {
		const ah_place_node *node = &g_array_index(view->nodes, ah_place_node, i);
		gint64 free_seats = ah_place_free_seats(node), best_free;
		if (!node->alive)
			continue;
		best_free = best != NULL ? ah_place_free_seats(best) : 0;
		if (best == NULL || free_seats > best_free || (free_seats == best_free && strcmp(node->id, best->id) < 0))
			best = node;
	}
	return best != NULL ? best->id : fallback;
}

/* The room's score on a node: the first 8 bytes of SHA-256("node\nroom key"), big-endian. */
static guint64 rendezvous_score(const char *node, const char *key)
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 digest[32];
	gsize len = sizeof(digest);
	guint64 score = 0;
	g_checksum_update(sum, (const guchar *)node, strlen(node));
	g_checksum_update(sum, (const guchar *)"\n", 1);
	g_checksum_update(sum, (const guchar *)key, strlen(key));
	g_checksum_get_digest(sum, digest, &len);
	g_checksum_free(sum);
	for (int i = 0; i < 8; i++)
		score = (score << 8) | digest[i];
	return score;
}

const char *ah_place_stand_in(const ah_place_view *view, const char *key)
{
	const ah_place_node *best = NULL;
	guint64 best_score = 0;
	for (guint i = 0; view != NULL && key != NULL && i < view->nodes->len; i++) {
		const ah_place_node *node = &g_array_index(view->nodes, ah_place_node, i);
		guint64 score;
		if (!node->alive)
			continue;
		score = rendezvous_score(node->id, key);
		if (best == NULL || score > best_score || (score == best_score && strcmp(node->id, best->id) < 0)) {
			best = node;
			best_score = score;
		}
	}
	return best != NULL ? best->id : NULL;
}
