/* allhands: cluster mode's configuration (docs/cluster.md, "Configuration"; docs/operations.md): the
 * keys of janus.plugin.allhands.jcfg's `general` category that turn cluster mode on and say where
 * Redis is, who this node is and how often it heartbeats, read and checked as a whole.
 *
 * Pure: GLib only, no Janus (the glue hands in a function that looks a key up in the parsed file), no
 * logging (a bad value comes back as one message naming the key, which the glue logs); any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_CLUSTER_CONFIG_H
#define ALLHANDS_CLUSTER_CONFIG_H

#include <glib.h>

#include "allhands/edges.h"
#include "allhands/redis.h"

#define AH_CLUSTER_HEARTBEAT_DEFAULT_MS 1000
#define AH_CLUSTER_EXPIRY_DEFAULT_MS 3000
#define AH_CLUSTER_HEARTBEAT_MIN_MS 100
#define AH_CLUSTER_HEARTBEAT_MAX_MS 60000
#define AH_CLUSTER_EXPIRY_MAX_MS 600000
#define AH_CLUSTER_UNIX_PATH_MAX 107 /* sun_path holds 108 bytes with the NUL */
#define AH_CLUSTER_FULL_NODES_DEFAULT 20
#define AH_CLUSTER_SECRET_MIN_LEN 32
#define AH_CLUSTER_SECRET_MAX_LEN 256
#define AH_CLUSTER_LINGER_DEFAULT_MS 5000
#define AH_CLUSTER_FANOUT_DEFAULT 16

typedef struct {
	gboolean enabled;        /* cluster = true; FALSE: nothing below was read */
	char *node_id;           /* node_id, default: the host name */
	char *node_url;          /* node_url: ws://, wss://, http:// or https:// with a host */
	guint heartbeat_ms;      /* heartbeat_ms */
	guint node_expiry_ms;    /* node_expiry_ms, > 2 x heartbeat_ms */
	guint full_nodes;        /* heartbeat_full_nodes: full heartbeats every ceil(nodes / this) (registry.h) */
	ah_redis_config redis;   /* redis_*; its strings are owned here */
	guint edge_ramp_per_s;   /* edge_ramp_per_s: placements per edge and second at most (docs/cluster.md, "Edges") */
	char *secret;            /* cluster_secret: signs redirect tickets (ticket.h) and derives the media links'
				  * keys (docs/cluster-media.md); the same on every node */
	char *media_address;     /* media_address: the node-to-node media link's IP (default: node_url's host) */
	guint media_port;        /* media_port: its UDP port, 0: any free one (announced to the origins) */
	guint edge_linger_ms;    /* edge_linger_ms: an edge keeps a room's subscription this long after its last
				  * receiver left */
	guint edge_fanout;       /* edge_fanout: edges a node feeds directly per room (origin or edge: a tree); further
				  * edges are sent to one of them; 0: no limit */
} ah_cluster_config;

/* The value of `key` in the config, NULL when absent. Empty strings count as absent. */
typedef const char *(*ah_cluster_config_lookup)(gpointer user, const char *key);

/* Read and check every cluster key (`cluster`, `node_id`, `node_url`, `heartbeat_ms`,
 * `node_expiry_ms`, `edge_ramp_per_s`, `redis_*`, `cluster_secret`, `media_address`,
 * `media_port`, `edge_linger_ms`, `edge_fanout`). With `cluster` absent or false, only that is
 * read: *out is disabled and TRUE returned. `host_name` is node_id's default (g_get_host_name()).
 * FALSE with *error (g_free) naming the key and what it must be; *out is then cleared. */
gboolean ah_cluster_config_read(ah_cluster_config *out, ah_cluster_config_lookup lookup, gpointer user,
	const char *host_name, char **error);
void ah_cluster_config_clear(ah_cluster_config *config);

#endif
