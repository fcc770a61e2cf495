/* allhands glue: room placement in cluster mode (docs/cluster.md, "Placement and redirects"): hands
 * the engine this node's id and the cluster's secret once, then, after each heartbeat reply, the
 * nodes of the registry's view (id, url, alive, capacity, seats_held, queued), which the engine
 * copies. The engine decides placements and redirects; this file only translates the view.
 *
 * Threads: control thread only (control.c calls it every turn, after ah_cluster_tick). O(nodes) per
 * heartbeat reply, nothing on other turns.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ah-config.h"

#include "allhands/registry.h"

#include "glue.h"

static gboolean configured = FALSE;
static const ah_registry_view *last_view = NULL;
static gint64 last_redis_ms = -1;

static guint figure(const json_t *figures, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(figures, key));
	return v > 0 && v <= G_MAXUINT ? (guint)v : 0;
}

void ah_cluster_place_tick(ah_engine *engine)
{
	const ah_cluster_config *config = ah_cluster_get_config();
	const ah_registry_view *view;
	GArray *nodes;
	if (config == NULL)
		return;
	if (!configured) {
		ah_engine_set_cluster(engine, config->node_id, config->secret);
		ah_engine_set_edge_ramp(engine, config->edge_ramp_per_s);
		configured = TRUE;
	}
	view = ah_cluster_view();
	/* A new reply is a new view (the pointer alone could be reused by the allocator). */
	if (view == NULL || (view == last_view && view->redis_now_ms == last_redis_ms))
		return;
	last_view = view;
	last_redis_ms = view->redis_now_ms;
	nodes = g_array_sized_new(FALSE, TRUE, sizeof(ah_place_node), view->nodes->len);
	for (guint i = 0; i < view->nodes->len; i++) {
		const ah_registry_node *n = g_ptr_array_index(view->nodes, i);
		const ah_place_node node = { n->id, json_string_value(json_object_get(n->figures, "url")), n->alive,
			figure(n->figures, "capacity"), figure(n->figures, "seats_held"), figure(n->figures, "queued"),
			n->age_ms >= 0 ? view->redis_now_ms - n->age_ms : 0 };
		g_array_append_val(nodes, node);
	}
	ah_engine_set_cluster_nodes(engine, (const ah_place_node *)(void *)nodes->data, nodes->len);
	g_array_unref(nodes);
}

void ah_cluster_place_stop(void)
{
	configured = FALSE;
	last_view = NULL;
	last_redis_ms = -1;
}
