/* allhands glue: cluster mode as the control thread sees it, one call per moment of its life (start,
 * every turn, after every work item, the turn's deadline, a status reply, stop), so that control.c
 * knows one name and the order of the cluster's parts is written in one place:
 * - cluster.c: the Redis client, the heartbeat and the node's view of the cluster;
 * - cluster-defs.c: tenants and rooms shared through Redis;
 * - cluster-ledger.c: the seat ledger (claims, releases, syncs, reclaims);
 * - cluster-place.c: this node's id, the cluster's secret and the view, handed to the engine;
 * - cluster-media.c (and cluster-mlink.c): media across nodes, origins and edges.
 * Each of them does nothing when cluster mode is off.
 *
 * Threads: control thread only (start and stop: the thread that starts or stops the control thread).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ah-config.h"

#include "glue.h"

gboolean ah_cluster_node_start(ah_engine *engine, ah_cluster_config *config, void (*wake)(gpointer user), char **error)
{
	if (!ah_cluster_start(config, wake, error))
		return FALSE;
	ah_cluster_ledger_start(engine);
	ah_cluster_place_tick(engine); /* before the thread: the engine knows its node from the first request */
	ah_cluster_defs_start(engine);
	if (!ah_cluster_media_start(engine, error)) {
		ah_cluster_node_stop();
		return FALSE;
	}
	return TRUE;
}

void ah_cluster_node_stop(void)
{
	ah_cluster_media_stop();
	ah_cluster_ledger_stop();
	ah_cluster_stop();
	ah_cluster_place_stop();
	ah_cluster_defs_stop();
}

void ah_cluster_node_turn(ah_engine *engine, gint64 now, GPtrArray *outs)
{
	/* Replies and messages first (the Redis client's), then what they changed: definitions applied,
	 * ledger answers booked and new requests sent, the view handed to the engine. */
	ah_cluster_tick(engine, now);
	ah_cluster_defs_tick(outs);
	ah_cluster_ledger_tick(engine, now, outs);
	ah_cluster_place_tick(engine);
	ah_cluster_media_turn(now, outs);
}

void ah_cluster_node_after_item(void)
{
	/* A definition the item changed is written to Redis at once. */
	ah_cluster_defs_flush();
}

gint64 ah_cluster_node_deadline(void)
{
	gint64 heartbeat = ah_cluster_next_deadline(), ledger = ah_cluster_ledger_next_deadline();
	return MIN(MIN(heartbeat, ledger), ah_cluster_media_deadline());
}

void ah_cluster_node_status(const json_t *request, json_t *reply, gint64 now)
{
	json_t *cluster, *ledger;
	ah_cluster_status_reply(request, reply, now);
	cluster = json_object_get(reply, "cluster");
	ledger = json_is_object(cluster) ? ah_cluster_ledger_status() : NULL;
	if (ledger != NULL)
		json_object_set_new(cluster, "ledger", ledger);
	ah_cluster_defs_status_reply(reply);
	json_t *media = json_is_object(cluster) ? ah_cluster_media_status(now) : NULL;
	if (media != NULL)
		json_object_set_new(cluster, "media", media);
}
