/* allhands: the cluster's node registry, the pure part (docs/cluster.md, "Node registry"): the
 * heartbeat script (plugin/redis/registry.lua, embedded at build time), the arguments of one node's
 * heartbeat, the parsing of the script's reply into the node's view of the cluster, and that view as
 * `status` shows it.
 *
 * Pure: GLib and jansson only, no hiredis, no Janus, no clock (times come in as arguments), no I/O,
 * no logging; any thread (a view belongs to one thread at a time). The Redis client
 * (include/allhands/redis.h) sends the call; its reply (an ah_redis_value, only read here) comes back
 * to be parsed. Node ids are the project's (1 to 64 of A-Z a-z 0-9 _ - .), so a key built from one
 * never holds a stray brace or colon.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_REGISTRY_H
#define ALLHANDS_REGISTRY_H

#include <glib.h>
#include <jansson.h>

#include "allhands/redis.h"

/* Bounds the script checks too (registry.lua). */
#define AH_REGISTRY_FIGURES_MAX 4096        /* bytes of a node's figures (JSON) */
#define AH_REGISTRY_EXPIRY_MAX 3600000      /* ms */
#define AH_REGISTRY_FORGET_MAX 604800000    /* ms */
/* A node whose alive key has been gone this long is removed from ah:nodes by the next heartbeat. */
#define AH_REGISTRY_FORGET_MS 60000
#define AH_REGISTRY_URL_MAX 512

/* The script's keys and arguments. */
#define AH_REGISTRY_KEYS 3

/* The Lua source and its SHA1 (40 lower-case hex digits). */
const char *ah_registry_script_source(void);
const char *ah_registry_script_sha1(void);

/* What a node says about itself with each heartbeat. Strings are borrowed. */
typedef struct {
	const char *id;          /* node_id */
	const char *url;         /* node_url: where clients reach it */
	const char *version;     /* the plugin's version */
	gint64 started_at;       /* when the plugin started, UNIX seconds */
	guint capacity;          /* attendee seats */
	guint seats_held;        /* attendee seats held: active + connecting + rejoining */
	guint connecting, queued, presenters, rooms, tenants;
	double cpu;              /* last CPU sample (fraction of the CPUs it may use), < 0: none yet */
} ah_registry_figures;

/* The figures as the JSON object stored in ah:nodes (g_free), NULL when the id or url is not
 * acceptable (id not an id, url NULL or longer than AH_REGISTRY_URL_MAX). */
char *ah_registry_figures_json(const ah_registry_figures *f);

/* The heartbeat's argv for ah_redis_submit_script: AH_REGISTRY_KEYS keys (ah:node:{N}:alive,
 * ah:nodes, ah:nodes:seen) then N, expiry_ms, the figures, forget_ms. NULL (and *error, g_free) when an
 * argument is out of range. Free with g_ptr_array_unref. */
GPtrArray *ah_registry_heartbeat_argv(const ah_registry_figures *f, gint64 expiry_ms, gint64 forget_ms,
	char **error);
/* The same with the mode: brief (TRUE) answers with this node and the nodes past their deadline only
 * (O(log nodes)), to be merged into the last full view (ah_registry_view_merge); full reads every node. */
GPtrArray *ah_registry_heartbeat_argv_mode(const ah_registry_figures *f, gint64 expiry_ms, gint64 forget_ms,
	gboolean brief, char **error);
/* How often a node should send a full heartbeat in a fleet of `nodes`: every heartbeat up to
 * `per` nodes (heartbeat_full_nodes, default 20), then every ceil(nodes / per)-th, so that the fleet's
 * full reads cost O(nodes) node lookups a period instead of O(nodes^2). */
guint ah_registry_full_every(guint nodes, guint per);

/* One node of the view. */
typedef struct {
	char *id;
	gboolean alive;          /* its alive key existed when the script ran */
	gint64 age_ms;           /* since its last heartbeat, by Redis's clock, when the script ran */
	json_t *figures;         /* its figures (an object), NULL when what it stored is not a JSON object */
} ah_registry_node;

/* The node's view of the cluster: the reply to its last heartbeat. */
typedef struct {
	gint64 redis_now_ms;     /* Redis's clock when the script ran */
	gint64 removed;          /* nodes this heartbeat removed (gone more than forget_ms) */
	GPtrArray *nodes;        /* ah_registry_node*, sorted by id */
	gboolean brief;          /* a brief heartbeat's reply: this node and the late ones only */
} ah_registry_view;

/* Parse the script's reply. NULL with *error (g_free) when it does not have the script's shape (an
 * error reply gives its text). */
ah_registry_view *ah_registry_parse(const ah_redis_value *reply, char **error);
void ah_registry_view_free(ah_registry_view *view);
/* A brief reply merged into the last full (or merged) view: the nodes it lists (this one and those
 * past their deadline) as it says, every other node as `full` had it (a node dead there stays dead
 * until the next full view: a node coming back is seen one full heartbeat later). New view; `full` may
 * be NULL (then the brief reply alone). */
ah_registry_view *ah_registry_view_merge(const ah_registry_view *full, const ah_registry_view *brief);
/* Nodes alive and not alive in the view. */
void ah_registry_view_count(const ah_registry_view *view, guint *alive, guint *dead);
/* `nodes` for status: [{"id","url","alive","age_ms", figures...}], ages grown by `since_ms` (the time
 * since the reply came). The node's figures are copied in; id, alive and age_ms are the registry's. */
json_t *ah_registry_view_json(const ah_registry_view *view, gint64 since_ms);

#endif
