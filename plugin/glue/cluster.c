/* allhands glue: cluster mode (docs/cluster.md): the Redis connection and the node registry.
 *
 * Owns: the node's Redis client (include/allhands/redis.h) and, in cluster mode, the node's view of
 * the cluster (the reply to its last heartbeat, include/allhands/registry.h). Nothing here runs
 * unless the config says `cluster = true`; then nothing else of the plugin waits on Redis: the
 * client's thread does the I/O, this file only submits and polls, which never block.
 *
 * Threads: control thread only (control.c calls it at every turn, with the engine), except the
 * client's `wake`, which control.c passes in at start: it posts a work item to the control thread's
 * queue, whose turn then polls here. This file calls nothing of control.c (control.c calls it).
 * Because a wake may be lost while the control thread stops or starts, every turn polls anyway (the
 * thread turns at least once a second).
 *
 * DESIGN: one heartbeat every heartbeat_ms while Redis is connected, never two at once: a heartbeat
 * still unanswered when the next is due is not doubled (the client answers every command, with
 * `timeout` at the latest). A (re)connection sends one at once, so a node registers again as soon as
 * Redis is back, also when it came back empty. The view is replaced by each good reply and kept as it
 * was otherwise; status says how old it is.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ah-config.h"

#include <string.h>

#include "debug.h"
#include "utils.h"

#include "allhands/cluster-config.h"
#include "allhands/registry.h"
#include "glue.h"

static gboolean on = FALSE;
static ah_cluster_config config;
static ah_redis *client = NULL;
static ah_redis_script *script = NULL;
static gint64 started_at_s = 0;      /* wall clock, UNIX seconds */
static gint64 next_beat = 0;         /* monotonic us */
static guint64 last_tag = 0, pending_tag = 0; /* pending: the heartbeat in flight, 0: none */
static ah_registry_view *view = NULL;
static gint64 view_at = 0;           /* monotonic us of the reply `view` came in */
static char view_run_id[41];         /* the run_id of the Redis server that answered it */
static guint64 beats_sent = 0, beats_failed = 0;
static char *beat_error = NULL;      /* the last heartbeat's failure, NULL after a good one */
static guint beats_since_full = 0;   /* brief heartbeats answered since the last full one */
static guint64 beats_brief = 0;      /* brief heartbeats answered, since start */

/* Commands other parts of the glue submitted (ah_cluster_call*): tag -> their callback. */
typedef struct {
	ah_cluster_reply_fn fn;
	gpointer user;
} call_entry;
static GHashTable *calls = NULL;     /* guint64* tag -> call_entry* */
/* Subscriptions (ah_cluster_subscribe): tag -> callback; listeners of (re)connections. */
static GHashTable *subs = NULL;      /* guint64* tag -> call_entry* (fn is a message fn) */
typedef struct {
	ah_cluster_connected_fn fn;
	gpointer user;
} listener;
static GArray *listeners = NULL;     /* of listener */

gboolean ah_cluster_start(ah_cluster_config *cfg, void (*wake)(gpointer user), char **error)
{
	GError *gerr = NULL;
	if (cfg == NULL || !cfg->enabled)
		return TRUE;
	config = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	script = ah_redis_script_new(ah_registry_script_source());
	client = ah_redis_new(&config.redis, wake, NULL, &gerr);
	if (client == NULL) {
		*error = g_strdup_printf("cluster mode: cannot start the Redis client: %s", gerr ? gerr->message : "?");
		g_clear_error(&gerr);
		ah_redis_script_unref(script);
		script = NULL;
		ah_cluster_config_clear(&config);
		return FALSE;
	}
	started_at_s = janus_get_real_time() / G_USEC_PER_SEC;
	next_beat = janus_get_monotonic_time();
	calls = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	subs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	listeners = g_array_new(FALSE, TRUE, sizeof(listener));
	on = TRUE;
	char *where = config.redis.unix_path != NULL ? g_strdup(config.redis.unix_path)
		: g_strdup_printf("%s:%d", config.redis.host, config.redis.port ? config.redis.port : AH_REDIS_DEFAULT_PORT);
	JANUS_LOG(LOG_INFO, "allhands: cluster mode: node %s (%s), Redis at %s, heartbeat every %u ms, expiry %u ms\n",
		config.node_id, config.node_url, where, config.heartbeat_ms, config.node_expiry_ms);
	g_free(where);
	return TRUE;
}

void ah_cluster_stop(void)
{
	if (!on)
		return;
	on = FALSE;
	g_clear_pointer(&client, ah_redis_free);
	g_clear_pointer(&script, ah_redis_script_unref);
	g_clear_pointer(&view, ah_registry_view_free);
	g_clear_pointer(&beat_error, g_free);
	g_clear_pointer(&calls, g_hash_table_destroy);
	g_clear_pointer(&subs, g_hash_table_destroy);
	g_clear_pointer(&listeners, g_array_unref);
	ah_cluster_config_clear(&config);
}

/* ---- what the other cluster files use ---- */

gboolean ah_cluster_on(void)
{
	return on;
}

const ah_cluster_config *ah_cluster_get_config(void)
{
	return on ? &config : NULL;
}

const ah_registry_view *ah_cluster_view(void)
{
	return view;
}

gboolean ah_cluster_connected(char run_id[41])
{
	ah_redis_stats st;
	if (!on)
		return FALSE;
	ah_redis_get_stats(client, &st);
	if (run_id != NULL)
		memcpy(run_id, st.run_id, 41);
	return st.connected;
}

static void remember(GHashTable *table, guint64 tag, gpointer fn, gpointer user)
{
	guint64 *key = g_new(guint64, 1);
	call_entry *e = g_new(call_entry, 1);
	*key = tag;
	e->fn = (ah_cluster_reply_fn)fn;
	e->user = user;
	g_hash_table_insert(table, key, e);
}

gboolean ah_cluster_call(int argc, const char **argv, const size_t *lens, ah_cluster_reply_fn fn, gpointer user)
{
	if (!on || !ah_redis_submit(client, ++last_tag, argc, argv, lens))
		return FALSE;
	if (fn != NULL)
		remember(calls, last_tag, fn, user);
	return TRUE;
}

gboolean ah_cluster_call_script(ah_redis_script *s, int nkeys, int argc, const char **argv, const size_t *lens,
	ah_cluster_reply_fn fn, gpointer user)
{
	if (!on || !ah_redis_submit_script(client, ++last_tag, s, nkeys, argc, argv, lens))
		return FALSE;
	if (fn != NULL)
		remember(calls, last_tag, fn, user);
	return TRUE;
}

gboolean ah_cluster_subscribe(const char *channel, ah_cluster_message_fn fn, gpointer user)
{
	if (!on || !ah_redis_subscribe(client, ++last_tag, channel))
		return FALSE;
	remember(subs, last_tag, fn, user);
	return TRUE;
}

void ah_cluster_on_connected(ah_cluster_connected_fn fn, gpointer user)
{
	listener l = { fn, user };
	if (on)
		g_array_append_val(listeners, l);
}

/* ---- the heartbeat ---- */

static void heartbeat(const ah_engine *engine, gint64 now)
{
	ah_metrics_input in;
	char *error = NULL;
	ah_metrics_input_init(&in);
	ah_engine_metrics(engine, now, 0, &in);
	const ah_registry_figures f = { config.node_id, config.node_url, PACKAGE_VERSION, started_at_s, in.capacity,
		in.seats_held, in.connecting, in.queued, in.presenters, in.rooms, in.tenants, in.cpu };
	ah_metrics_input_clear(&in);
	/* A full heartbeat reads every node; in a large fleet most are brief (this node and the late ones),
	 * merged into the last full view, so the fleet's heartbeats stay O(nodes) a period. */
	gboolean brief = view != NULL && beats_since_full + 1 < ah_registry_full_every(view->nodes->len, config.full_nodes);
	GPtrArray *argv = ah_registry_heartbeat_argv_mode(&f, config.node_expiry_ms, AH_REGISTRY_FORGET_MS, brief, &error);
	if (argv == NULL) {
		/* The config was checked at start: only a bug gets here. */
		JANUS_LOG(LOG_ERR, "allhands: cluster: cannot build the heartbeat: %s\n", error);
		g_free(error);
		return;
	}
	if (ah_redis_submit_script(client, ++last_tag, script, AH_REGISTRY_KEYS, (int)argv->len,
			(const char **)argv->pdata, NULL))
		pending_tag = last_tag;
	else
		beats_failed++; /* the client's queue is full: counted there as a drop too */
	beats_sent++;
	g_ptr_array_unref(argv);
}

/* Log what changed between two views: nodes that came, went dead, came back or were removed. */
static void log_changes(const ah_registry_view *old, const ah_registry_view *fresh)
{
	for (guint i = 0; i < fresh->nodes->len; i++) {
		const ah_registry_node *n = g_ptr_array_index(fresh->nodes, i);
		const ah_registry_node *was = NULL;
		for (guint k = 0; old != NULL && k < old->nodes->len && was == NULL; k++) {
			const ah_registry_node *o = g_ptr_array_index(old->nodes, k);
			if (strcmp(o->id, n->id) == 0)
				was = o;
		}
		if (was != NULL && was->alive == n->alive)
			continue;
		if (n->alive)
			JANUS_LOG(LOG_INFO, "allhands: cluster: node %s is alive%s\n", n->id, was == NULL ? "" : " again");
		else
			JANUS_LOG(LOG_WARN, "allhands: cluster: node %s is not alive (last heartbeat %" G_GINT64_FORMAT
				" ms ago)\n", n->id, n->age_ms);
	}
	if (fresh->removed > 0)
		JANUS_LOG(LOG_INFO, "allhands: cluster: %" G_GINT64_FORMAT " node(s) gone for more than %d s removed from "
			"the registry\n", fresh->removed, AH_REGISTRY_FORGET_MS / 1000);
}

static void heartbeat_failed(char *why)
{
	beats_failed++;
	if (g_strcmp0(why, beat_error) != 0)
		JANUS_LOG(LOG_WARN, "allhands: cluster: heartbeat failed: %s (the view of the cluster is kept as it was)\n",
			why);
	g_free(beat_error);
	beat_error = why;
}

static void heartbeat_reply(const ah_redis_reply *reply, gint64 now)
{
	char *error = NULL;
	pending_tag = 0;
	if (reply->status != AH_REDIS_OK) {
		heartbeat_failed(g_strdup(ah_redis_status_name(reply->status)));
		return;
	}
	ah_registry_view *fresh = ah_registry_parse(reply->value, &error);
	if (fresh == NULL) {
		heartbeat_failed(error);
		return;
	}
	if (beat_error != NULL)
		JANUS_LOG(LOG_INFO, "allhands: cluster: heartbeats answered again\n");
	g_clear_pointer(&beat_error, g_free);
	if (fresh->brief) {
		ah_registry_view *merged = ah_registry_view_merge(view, fresh);
		ah_registry_view_free(fresh);
		fresh = merged;
		beats_since_full++;
		beats_brief++;
	} else {
		beats_since_full = 0;
	}
	log_changes(view, fresh);
	ah_registry_view_free(view);
	view = fresh;
	view_at = now;
	ah_redis_stats st;
	ah_redis_get_stats(client, &st);
	memcpy(view_run_id, st.run_id, sizeof(view_run_id));
}

static void take_replies(gint64 now)
{
	ah_redis_reply *reply;
	while ((reply = ah_redis_poll(client)) != NULL) {
		switch (reply->event) {
		case AH_REDIS_REPLY:
			if (reply->tag == pending_tag) {
				heartbeat_reply(reply, now);
			} else {
				call_entry *e = g_hash_table_lookup(calls, &reply->tag);
				if (e != NULL) {
					call_entry c = *e;
					g_hash_table_remove(calls, &reply->tag);
					c.fn(reply, c.user, now);
				}
			}
			break;
		case AH_REDIS_CONNECTED:
			JANUS_LOG(LOG_INFO, "allhands: cluster: connected to Redis (run_id %s)\n", reply->text ? reply->text : "?");
			/* Register at once: Redis may have come back empty (and read every node: full). */
			next_beat = now;
			beats_since_full = G_MAXUINT / 2;
			for (guint i = 0; i < listeners->len; i++) {
				listener *l = &g_array_index(listeners, listener, i);
				l->fn(reply->text, l->user, now);
			}
			break;
		case AH_REDIS_DISCONNECTED:
			JANUS_LOG(LOG_WARN, "allhands: cluster: Redis is not reachable (%s: %s); admission goes on locally\n",
				ah_redis_status_name(reply->status), reply->text ? reply->text : "");
			break;
		case AH_REDIS_MESSAGE: {
			call_entry *e = g_hash_table_lookup(subs, &reply->tag);
			if (e != NULL)
				((ah_cluster_message_fn)e->fn)(reply, e->user, now);
			break;
		}
		case AH_REDIS_SUBSCRIBED:
			break;
		}
		ah_redis_reply_free(reply);
	}
}

void ah_cluster_tick(ah_engine *engine, gint64 now)
{
	if (!on)
		return;
	take_replies(now);
	if (now < next_beat)
		return;
	/* On time from the last beat, but never a burst to catch up after a stall. */
	next_beat = MAX(next_beat + (gint64)config.heartbeat_ms * 1000, now);
	/* Not while Redis is unreachable (the client would answer "disconnected" at once, and the log has
	 * said so already): connecting sends one at once. */
	ah_redis_stats st;
	ah_redis_get_stats(client, &st);
	if (pending_tag == 0 && st.connected)
		heartbeat(engine, now);
}

gint64 ah_cluster_next_deadline(void)
{
	return on ? next_beat : G_MAXINT64;
}

/* ---- what the node shows ---- */

static json_t *redis_json(void)
{
	ah_redis_stats st;
	ah_redis_get_stats(client, &st);
	return json_pack("{s:b, s:s?, s:{s:f, s:f}, s:I, s:I, s:I, s:I, s:I}", "connected", st.connected,
		"run_id", st.run_id[0] != '\0' ? st.run_id : NULL,
		"rtt_ms", "p50", st.rtt_p50_us / 1000.0, "p99", st.rtt_p99_us / 1000.0,
		"commands", (json_int_t)st.submitted, "errors", (json_int_t)(st.errors + st.failed_disconnected),
		"timeouts", (json_int_t)st.timeouts, "reconnects", (json_int_t)(st.connects > 0 ? st.connects - 1 : 0),
		"queued", (json_int_t)st.queued);
}

void ah_cluster_status_reply(const json_t *request, json_t *reply, gint64 now)
{
	/* Where status shows the node (an operator's status), and nowhere else. */
	if (!on || g_strcmp0(json_string_value(json_object_get(request, "request")), "status") != 0 ||
			!json_is_object(json_object_get(reply, "node")))
		return;
	gint64 since_ms = view != NULL ? (now - view_at) / 1000 : 0;
	json_t *cluster = json_pack("{s:s, s:s, s:i, s:i, s:o, s:{s:I, s:I, s:I, s:s?}}",
		"node_id", config.node_id, "node_url", config.node_url, "heartbeat_ms", (int)config.heartbeat_ms,
		"node_expiry_ms", (int)config.node_expiry_ms, "redis", redis_json(),
		"heartbeats", "sent", (json_int_t)beats_sent, "failed", (json_int_t)beats_failed,
		"brief", (json_int_t)beats_brief, "last_error", beat_error);
	json_object_set_new(cluster, "view_age_ms", view != NULL ? json_integer(MAX(since_ms, 0)) : json_null());
	json_object_set_new(cluster, "view_run_id", view != NULL ? json_string(view_run_id) : json_null());
	json_object_set_new(cluster, "nodes", ah_registry_view_json(view, since_ms));
	json_object_set_new(reply, "cluster", cluster);
}

void ah_cluster_metrics(ah_metrics_input *in)
{
	ah_redis_stats st;
	if (!on)
		return;
	ah_redis_get_stats(client, &st);
	in->cluster = TRUE;
	in->redis_connected = st.connected;
	in->redis_rtt_p50_s = st.rtt_samples > 0 ? st.rtt_p50_us / 1e6 : -1;
	in->redis_rtt_p99_s = st.rtt_samples > 0 ? st.rtt_p99_us / 1e6 : -1;
	in->redis_commands = st.submitted;
	in->redis_errors = st.errors + st.failed_disconnected;
	in->redis_timeouts = st.timeouts;
	ah_registry_view_count(view, &in->cluster_alive, &in->cluster_dead);
}
