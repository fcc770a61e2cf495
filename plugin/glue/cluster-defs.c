/* allhands glue: cluster mode's shared definitions (docs/cluster.md, "Definitions"; issue 13).
 *
 * Every tenant and room definition a request changes on this node (the engine lists them:
 * ah_engine_defs_take) is written to Redis with one script call (plugin/redis/defs.lua: the row,
 * the version and the announcement on ah:defs together); every announcement, this node's own
 * included, makes this node read that one definition back and apply it (ah_engine_apply_definition:
 * checked like the state file, applied through the engine's own paths, a no-op when it has it
 * already). At every (re)connection to Redis the node writes what it could not write while Redis was
 * away, then reads everything (the load, then one HGETALL per tenant) and applies it: Redis is the
 * source of truth, announcements lost while disconnected are made up for, and tenants and rooms
 * Redis no longer has are destroyed here. A Redis no node has seeded (ah:defs:seeded is missing: it
 * restarted empty, or is new) gets this node's definitions written back (seed: only where Redis has
 * none), is marked seeded, and the node loads again.
 *
 * Lost announcements: every write increments the version it announces, so a jump in the versions
 * announced means some were lost (a full client queue drops messages): the node reads everything again.
 *
 * Order: every call goes through the one Redis client, whose command connection answers in
 * submission order (a script's NOSCRIPT re-send aside), so a read submitted after this node's write
 * of a definition sees that write or a later one. A read submitted BEFORE this node's latest write of
 * the same definition is stale: it is not applied (`written` keeps the sequence number of each
 * definition's last write); the announcement of that write brings the definition back anyway.
 *
 * Threads: control thread only (control.c calls it; cluster.c calls back from ah_cluster_tick). It
 * never waits on Redis: it submits, and applies replies in callbacks. Work per reply: one
 * definition (a message, a read) or one tenant's (a tenant's hash at a (re)connection).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ah-config.h"

#include <string.h>

#include "debug.h"

#include "allhands/defs-redis.h"
#include "glue.h"

static gboolean on = FALSE;
static ah_engine *engine = NULL;
static ah_redis_script *script = NULL;
static GPtrArray *applied_outs = NULL; /* ah_out* the applied definitions produced, for the turn */
static guint64 seq = 0;                /* this file's submissions, in order */
static GHashTable *written = NULL;     /* "T" or "T/R" -> guint64* seq of this node's last write of it */
static GHashTable *unsynced = NULL;    /* "T" or "T/R" -> ah_def_ref*: writes that got no answer */
static guint64 n_applied = 0, n_ignored = 0, n_writes = 0, n_write_failures = 0, n_reloads = 0;
/* The highest version announced or loaded since the last connection, -1: none yet. Every write
 * increments the version and publishes it, so announcements come with consecutive versions: a jump
 * means some were lost (the client drops messages when its queue is full), and the node reloads. */
static gint64 version_seen = -1;

typedef struct {
	char *tenant;
	char *room;     /* NULL: the tenant's own row (a write, an HGET) or all of it (an HGETALL) */
	guint64 seq;
	ah_defs_op op;  /* writes */
	gboolean seeded; /* the load: after writing back into an empty Redis */
} call_ctx;

static call_ctx *ctx_new(const char *tenant, const char *room)
{
	call_ctx *c = g_new0(call_ctx, 1);
	c->tenant = g_strdup(tenant);
	c->room = g_strdup(room);
	c->seq = ++seq;
	return c;
}

static void ctx_free(call_ctx *c)
{
	g_free(c->tenant);
	g_free(c->room);
	g_free(c);
}

static char *def_key(const char *tenant, const char *room)
{
	return room != NULL ? g_strdup_printf("%s/%s", tenant, room) : g_strdup(tenant);
}

static const char *def_name(const char *tenant, const char *room, char *buf, gsize size)
{
	g_snprintf(buf, size, room != NULL ? "room %s/%s" : "tenant %s", tenant, room);
	return buf;
}

/* This node wrote the definition after the read `read_seq` was submitted: the read is stale. */
static gboolean newer_here(const char *tenant, const char *room, guint64 read_seq)
{
	char *key = def_key(tenant, room);
	guint64 *w = g_hash_table_lookup(written, key);
	g_free(key);
	return w != NULL && *w > read_seq;
}

/* ---- applying what Redis says ---- */

static void apply(const char *tenant, const char *room, const json_t *row, gint64 now)
{
	gboolean changed = FALSE;
	char *message = NULL, name[160];
	if (ah_engine_apply_definition(engine, tenant, room, row, now, applied_outs, &changed, &message) != AH_ERR_OK) {
		n_ignored++;
		JANUS_LOG(LOG_WARN, "allhands: cluster: %s: the definition in Redis is ignored: %s\n",
			def_name(tenant, room, name, sizeof(name)), message != NULL ? message : "?");
		g_free(message);
		return;
	}
	if (!changed)
		return;
	n_applied++;
	JANUS_LOG(LOG_INFO, "allhands: cluster: %s %s from Redis\n", def_name(tenant, room, name, sizeof(name)),
		row != NULL ? "defined" : "destroyed");
}

static void read_failed(const char *what, const ah_redis_reply *reply, char *error)
{
	JANUS_LOG(LOG_WARN, "allhands: cluster: reading %s from Redis failed: %s\n", what,
		error != NULL ? error : ah_redis_status_name(reply->status));
	g_free(error);
}

/* HGET of one definition (an announcement's). */
static void row_read(const ah_redis_reply *reply, gpointer user, gint64 now)
{
	call_ctx *c = user;
	json_t *row = NULL;
	char *error = NULL, name[160];
	def_name(c->tenant, c->room, name, sizeof(name));
	if (reply->status != AH_REDIS_OK) {
		read_failed(name, reply, NULL); /* the next (re)connection reads everything */
	} else if (!ah_defs_parse_row(reply->value, &row, &error)) {
		n_ignored++;
		JANUS_LOG(LOG_WARN, "allhands: cluster: %s: the definition in Redis is ignored: %s\n", name, error);
		g_free(error);
	} else if (!newer_here(c->tenant, c->room, c->seq)) {
		apply(c->tenant, c->room, row, now);
	}
	json_decref(row);
	ctx_free(c);
}

static void read_one(const char *tenant, const char *room)
{
	GPtrArray *argv = ah_defs_hget_argv(tenant, room);
	call_ctx *c;
	if (argv == NULL)
		return;
	c = ctx_new(tenant, room);
	if (!ah_cluster_call((int)argv->len, (const char **)argv->pdata, NULL, row_read, c))
		ctx_free(c);
	g_ptr_array_unref(argv);
}

static void load(gboolean seeded);

/* An announcement on ah:defs. */
static void announced(const ah_redis_reply *message, gpointer user, gint64 now)
{
	ah_defs_note note;
	char *error = NULL;
	const ah_redis_value *v = message->value;
	if (v == NULL || v->type != AH_REDIS_STRING || !ah_defs_parse_note(v->str, v->len, &note, &error)) {
		JANUS_LOG(LOG_WARN, "allhands: cluster: a message on %s is ignored: %s\n", AH_DEFS_CHANNEL,
			error != NULL ? error : "not a string");
		g_free(error);
		return;
	}
	read_one(note.tenant, note.room);
	if (version_seen >= 0 && note.version > version_seen + 1) {
		n_reloads++;
		JANUS_LOG(LOG_WARN, "allhands: cluster: definitions' announcements were lost (version %" G_GINT64_FORMAT
			" after %" G_GINT64_FORMAT "): reading all definitions again\n", note.version, version_seen);
		load(FALSE);
	}
	version_seen = MAX(version_seen, note.version);
	ah_defs_note_clear(&note);
}

/* HGETALL of a tenant's definitions (at a (re)connection). */
static void tenant_read(const ah_redis_reply *reply, gpointer user, gint64 now)
{
	call_ctx *c = user;
	char *error = NULL, name[160];
	GPtrArray *entries = reply->status == AH_REDIS_OK ? ah_defs_parse_hash(reply->value, &error) : NULL;
	def_name(c->tenant, NULL, name, sizeof(name));
	if (entries == NULL) {
		read_failed(name, reply, error);
		ctx_free(c);
		return;
	}
	if (entries->len == 0) {
		/* Gone since the load. */
		if (!newer_here(c->tenant, NULL, c->seq))
			apply(c->tenant, NULL, NULL, now);
	} else {
		GHashTable *there = g_hash_table_new(g_str_hash, g_str_equal);
		for (guint i = 0; i < entries->len; i++) {
			ah_defs_entry *e = g_ptr_array_index(entries, i);
			if (e->room != NULL)
				g_hash_table_add(there, e->room);
			if (e->error != NULL) {
				n_ignored++;
				JANUS_LOG(LOG_WARN, "allhands: cluster: %s: a definition in Redis is ignored: %s\n", name, e->error);
			} else if (!newer_here(c->tenant, e->room, c->seq)) {
				apply(c->tenant, e->room, e->row, now);
			}
		}
		/* Its rooms Redis does not have are gone (unless this node made one since the read). */
		char **rooms = ah_engine_definition_ids(engine, c->tenant);
		for (guint i = 0; rooms != NULL && rooms[i] != NULL; i++)
			if (!g_hash_table_contains(there, rooms[i]) && !newer_here(c->tenant, rooms[i], c->seq))
				apply(c->tenant, rooms[i], NULL, now);
		g_strfreev(rooms);
		g_hash_table_destroy(there);
	}
	g_ptr_array_unref(entries);
	ctx_free(c);
}

/* ---- writing this node's changes ---- */

static void write_def(const char *tenant, const char *room, ah_defs_op op);

static void keep_unsynced(const char *tenant, const char *room)
{
	ah_def_ref *ref = g_new0(ah_def_ref, 1);
	ref->tenant = g_strdup(tenant);
	ref->room = g_strdup(room);
	g_hash_table_replace(unsynced, def_key(tenant, room), ref);
}

static void write_reply(const ah_redis_reply *reply, gpointer user, gint64 now)
{
	call_ctx *c = user;
	char name[160], *key = def_key(c->tenant, c->room);
	guint64 *last = g_hash_table_lookup(written, key);
	/* Every read submitted before this write has been answered (one connection, in order): unless
	 * another write of it followed, no read can be stale for this definition any more. */
	if (last != NULL && *last == c->seq)
		g_hash_table_remove(written, key);
	g_free(key);
	def_name(c->tenant, c->room, name, sizeof(name));
	if (reply->status != AH_REDIS_OK) {
		/* No answer: written again at the next connection (this node's definition then). */
		n_write_failures++;
		if (c->op != AH_DEFS_SEED)
			keep_unsynced(c->tenant, c->room);
		JANUS_LOG(LOG_WARN, "allhands: cluster: %s not written to Redis (%s): written when it is back\n", name,
			ah_redis_status_name(reply->status));
	} else if (reply->value != NULL && reply->value->type == AH_REDIS_ERROR) {
		int level = g_str_has_prefix(reply->value->str, "AHNOTENANT") ? LOG_INFO : LOG_WARN;
		n_write_failures++;
		JANUS_LOG(level, "allhands: cluster: %s not written to Redis: %s\n", name, reply->value->str);
	}
	ctx_free(c);
}

static void write_def(const char *tenant, const char *room, ah_defs_op op)
{
	json_t *row = ah_engine_definition(engine, tenant, room);
	char *text = row != NULL ? json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *error = NULL, name[160];
	int nkeys = 0;
	if (row == NULL)
		op = AH_DEFS_DEL;
	GPtrArray *argv = ah_defs_write_argv(op, ah_cluster_get_config()->node_id, tenant, room, text, &nkeys, &error);
	json_decref(row);
	free(text);
	if (argv == NULL) {
		JANUS_LOG(LOG_ERR, "allhands: cluster: %s cannot be written to Redis: %s\n",
			def_name(tenant, room, name, sizeof(name)), error);
		g_free(error);
		return;
	}
	call_ctx *c = ctx_new(tenant, room);
	c->op = op;
	guint64 *at = g_new(guint64, 1);
	*at = c->seq;
	g_hash_table_replace(written, def_key(tenant, room), at);
	n_writes++;
	if (!ah_cluster_call_script(script, nkeys, (int)argv->len, (const char **)argv->pdata, NULL, write_reply, c)) {
		n_write_failures++;
		keep_unsynced(tenant, room);
		ctx_free(c);
	}
	g_ptr_array_unref(argv);
}

/* ---- (re)connections: write what waits, read everything ---- */

/* What this node changed while Redis was away (those writes got no answer): written now, once the
 * load was answered (or while seeding, after the tenants), so that the load's reconciliation sees them as newer than what it read and the
 * reads that follow see them in Redis (last writer wins: this node's change is the latest Redis has). */
static void write_unsynced(void)
{
	GHashTableIter it;
	gpointer value;
	GPtrArray *waiting = g_ptr_array_new_with_free_func(ah_def_ref_free);
	g_hash_table_iter_init(&it, unsynced);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		g_ptr_array_add(waiting, value);
		g_hash_table_iter_steal(&it);
	}
	for (guint i = 0; i < waiting->len; i++) {
		ah_def_ref *ref = g_ptr_array_index(waiting, i);
		write_def(ref->tenant, ref->room, AH_DEFS_PUT);
	}
	g_ptr_array_unref(waiting);
}

static void seeded_reply(const ah_redis_reply *reply, gpointer user, gint64 now)
{
	if (reply->status != AH_REDIS_OK || reply->value == NULL || reply->value->type == AH_REDIS_ERROR)
		JANUS_LOG(LOG_WARN, "allhands: cluster: marking the definitions written back failed: %s\n",
			reply->status != AH_REDIS_OK ? ah_redis_status_name(reply->status) : reply->value->str);
}

/* Redis was never seeded (new, or restarted empty): write back this node's definitions where Redis
 * has none (other nodes may be doing the same: the first write of each definition stays), tenants
 * first (a room needs its), then mark Redis seeded. Until a node has marked it, every node that
 * connects seeds too, so a node never takes a half-written set for the whole. */
static void seed(void)
{
	char **tenants = ah_engine_definition_ids(engine, NULL);
	guint n_tenants = 0, n_rooms = 0;
	int nkeys = 0;
	for (guint i = 0; tenants[i] != NULL; i++, n_tenants++)
		write_def(tenants[i], NULL, AH_DEFS_SEED);
	/* This node's changes made while Redis was away: written whole (put), after their tenants. */
	write_unsynced();
	for (guint i = 0; tenants[i] != NULL; i++) {
		char **rooms = ah_engine_definition_ids(engine, tenants[i]);
		for (guint k = 0; rooms != NULL && rooms[k] != NULL; k++, n_rooms++)
			write_def(tenants[i], rooms[k], AH_DEFS_SEED);
		g_strfreev(rooms);
	}
	g_strfreev(tenants);
	GPtrArray *argv = ah_defs_seeded_argv(ah_cluster_get_config()->node_id, &nkeys);
	ah_cluster_call_script(script, nkeys, (int)argv->len, (const char **)argv->pdata, NULL, seeded_reply, NULL);
	g_ptr_array_unref(argv);
	if (n_tenants > 0)
		JANUS_LOG(LOG_WARN, "allhands: cluster: Redis holds no definitions (new, or restarted empty): writing back "
			"this node's %u tenant(s) and %u room(s)\n", n_tenants, n_rooms);
}

static void loaded(const ah_redis_reply *reply, gpointer user, gint64 now)
{
	call_ctx *c = user;
	char *error = NULL, **tenants = NULL;
	gint64 version = 0;
	gboolean seeded = FALSE;
	guint skipped = 0;
	if (reply->status != AH_REDIS_OK ||
			!ah_defs_parse_load(reply->value, &seeded, &version, &tenants, &skipped, &error)) {
		/* The next (re)connection loads again. */
		read_failed("the definitions", reply, error);
		ctx_free(c);
		return;
	}
	if (skipped > 0)
		JANUS_LOG(LOG_WARN, "allhands: cluster: %u member(s) of %s are not tenant ids: ignored\n", skipped,
			AH_DEFS_TENANTS_KEY);
	version_seen = MAX(version_seen, version);
	if (!seeded && !c->seeded) {
		seed();
		load(TRUE);
	} else {
		write_unsynced();
		GHashTable *there = g_hash_table_new(g_str_hash, g_str_equal);
		for (guint i = 0; tenants[i] != NULL; i++)
			g_hash_table_add(there, tenants[i]);
		/* Tenants Redis does not have are gone (unless this node wrote one since the load). */
		char **mine = ah_engine_definition_ids(engine, NULL);
		for (guint i = 0; mine[i] != NULL; i++)
			if (!g_hash_table_contains(there, mine[i]) && !newer_here(mine[i], NULL, c->seq))
				apply(mine[i], NULL, NULL, now);
		g_strfreev(mine);
		g_hash_table_destroy(there);
		for (guint i = 0; tenants[i] != NULL; i++) {
			GPtrArray *argv = ah_defs_hgetall_argv(tenants[i]);
			call_ctx *t = ctx_new(tenants[i], NULL);
			if (!ah_cluster_call((int)argv->len, (const char **)argv->pdata, NULL, tenant_read, t))
				ctx_free(t);
			g_ptr_array_unref(argv);
		}
		JANUS_LOG(LOG_INFO, "allhands: cluster: reading the definitions of %u tenant(s) from Redis (version %"
			G_GINT64_FORMAT ")\n", g_strv_length(tenants), version);
	}
	g_strfreev(tenants);
	ctx_free(c);
}

static void load(gboolean seeded)
{
	int nkeys = 0;
	GPtrArray *argv = ah_defs_load_argv(&nkeys);
	call_ctx *c = ctx_new("", NULL);
	c->seeded = seeded;
	if (!ah_cluster_call_script(script, nkeys, (int)argv->len, (const char **)argv->pdata, NULL, loaded, c))
		ctx_free(c);
	g_ptr_array_unref(argv);
}

static void connected(const char *run_id, gpointer user, gint64 now)
{
	/* What was announced while disconnected is lost: the load makes up for it. */
	version_seen = -1;
	load(FALSE);
}

/* ---- control.c's calls ---- */

void ah_cluster_defs_start(ah_engine *e)
{
	if (!ah_cluster_on())
		return;
	on = TRUE;
	engine = e;
	script = ah_redis_script_new(ah_defs_script_source());
	applied_outs = g_ptr_array_new();
	written = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	unsynced = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ah_def_ref_free);
	ah_engine_defs_track(engine, TRUE);
	ah_cluster_subscribe(AH_DEFS_CHANNEL, announced, NULL);
	ah_cluster_on_connected(connected, NULL);
}

void ah_cluster_defs_stop(void)
{
	if (!on)
		return;
	on = FALSE;
	for (guint i = 0; i < applied_outs->len; i++)
		ah_out_free(g_ptr_array_index(applied_outs, i));
	g_clear_pointer(&applied_outs, g_ptr_array_unref);
	g_clear_pointer(&written, g_hash_table_destroy);
	g_clear_pointer(&unsynced, g_hash_table_destroy);
	g_clear_pointer(&script, ah_redis_script_unref);
	engine = NULL;
}

void ah_cluster_defs_flush(void)
{
	if (!on)
		return;
	GPtrArray *changed = ah_engine_defs_take(engine);
	for (guint i = 0; changed != NULL && i < changed->len; i++) {
		ah_def_ref *ref = g_ptr_array_index(changed, i);
		write_def(ref->tenant, ref->room, AH_DEFS_PUT);
	}
	if (changed != NULL)
		g_ptr_array_unref(changed);
}

void ah_cluster_defs_tick(GPtrArray *outs)
{
	if (!on)
		return;
	ah_cluster_defs_flush();
	for (guint i = 0; i < applied_outs->len; i++)
		g_ptr_array_add(outs, g_ptr_array_index(applied_outs, i));
	g_ptr_array_set_size(applied_outs, 0);
}

void ah_cluster_defs_status_reply(json_t *reply)
{
	json_t *cluster = json_object_get(reply, "cluster");
	if (!on || !json_is_object(cluster))
		return;
	json_object_set_new(cluster, "definitions", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "writes", (json_int_t)n_writes,
		"write_failures", (json_int_t)n_write_failures, "unsynced", (json_int_t)g_hash_table_size(unsynced),
		"applied", (json_int_t)n_applied, "ignored", (json_int_t)n_ignored, "reloads", (json_int_t)n_reloads,
		"version", (json_int_t)version_seen));
}
