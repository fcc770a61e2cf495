/* allhands: credentials and abuse (issue 12), the engine's side: a tenant's new join-token signing
 * key, the throttle of failed credential attempts per Janus session and per room, tenant and node
 * (throttle.h), the per-session bound on queued joins, and the failure figures of status. The
 * requests that use them (get_signing_key, rotate_signing_key, the guard around each credential
 * check) are the requests layer's; engine.c and the request handlers call in here, and it calls only
 * engine-registry.c, admission, the throttle and token modules.
 * Pure: no Janus, no clock, no logging (the keys come from token.c); control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "engine-private.h"

#define SEC G_GINT64_CONSTANT(1000000)
/* Session buckets tracked at most (an attacker opening sessions without end meets the room,
 * tenant and node buckets instead); idle ones are pruned when the table doubles. */
#define AH_FAIL_SESSIONS_MAX 100000
#define AH_FAIL_PRUNE_MIN 1024

static const ah_fail_limit fail_limits[] = {
	[AH_FAIL_ROOM] = { AH_FAIL_SCOPE_BURST, AH_FAIL_SCOPE_INTERVAL_S * SEC },
	[AH_FAIL_TENANT] = { AH_FAIL_SCOPE_BURST, AH_FAIL_SCOPE_INTERVAL_S * SEC },
	[AH_FAIL_NODE] = { AH_FAIL_SCOPE_BURST, AH_FAIL_SCOPE_INTERVAL_S * SEC },
	[AH_FAIL_SESSION] = { AH_FAIL_SESSION_BURST, AH_FAIL_SESSION_INTERVAL_S * SEC },
};
static const char *const scope_names[] = {
	[AH_FAIL_ROOM] = "room", [AH_FAIL_TENANT] = "tenant", [AH_FAIL_NODE] = "node", [AH_FAIL_SESSION] = "session",
};

static void conns_free(gpointer data)
{
	g_array_unref(data);
}

void ah_engine_credentials_init(ah_engine *engine, const ah_engine_config *config)
{
	engine->conn_sessions = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	engine->session_conns = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, conns_free);
	engine->session_failures = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	engine->session_prune_at = AH_FAIL_PRUNE_MIN;
	engine->max_queued_per_session = config->max_queued_per_session;
}

void ah_engine_credentials_clear(ah_engine *engine)
{
	g_hash_table_destroy(engine->conn_sessions);
	g_hash_table_destroy(engine->session_conns);
	g_hash_table_destroy(engine->session_failures);
}

/* --- sessions */

/* Sessions the glue named are non-zero keys; a conn it never named is a session of its own, kept
 * apart from those by the top bit (conns are small counters). */
static guint64 session_of(const ah_engine *engine, guint64 conn)
{
	const guint64 *session = g_hash_table_lookup(engine->conn_sessions, &conn);
	return session != NULL ? *session : conn | G_GUINT64_CONSTANT(0x8000000000000000);
}

static void guint64_remove(GArray *array, guint64 value)
{
	for (guint i = 0; i < array->len; i++)
		if (g_array_index(array, guint64, i) == value) {
			g_array_remove_index_fast(array, i);
			return;
		}
}

void ah_engine_forget_conn(ah_engine *engine, guint64 conn)
{
	const guint64 *session = g_hash_table_lookup(engine->conn_sessions, &conn);
	GArray *conns = session != NULL ? g_hash_table_lookup(engine->session_conns, session) : NULL;
	if (conns != NULL) {
		guint64_remove(conns, conn);
		if (conns->len == 0)
			g_hash_table_remove(engine->session_conns, session);
	}
	g_hash_table_remove(engine->conn_sessions, &conn);
}

void ah_engine_set_conn_session(ah_engine *engine, guint64 conn, guint64 session)
{
	const guint64 *known = g_hash_table_lookup(engine->conn_sessions, &conn);
	GArray *conns;
	if (session == 0 || (known != NULL && *known == session))
		return;
	ah_engine_forget_conn(engine, conn);
	g_hash_table_insert(engine->conn_sessions, g_memdup2(&conn, sizeof(conn)), g_memdup2(&session, sizeof(session)));
	conns = g_hash_table_lookup(engine->session_conns, &session);
	if (conns == NULL) {
		conns = g_array_new(FALSE, FALSE, sizeof(guint64));
		g_hash_table_insert(engine->session_conns, g_memdup2(&session, sizeof(session)), conns);
	}
	g_array_append_val(conns, conn);
}

gboolean ah_engine_session_queue_full(const ah_engine *engine, guint64 conn)
{
	guint64 session = session_of(engine, conn);
	const GArray *conns = g_hash_table_lookup(engine->session_conns, &session);
	guint queued = 0;
	if (engine->max_queued_per_session == 0 || conns == NULL)
		return FALSE;
	for (guint i = 0; i < conns->len && queued < engine->max_queued_per_session; i++) {
		const ah_participant *p = ah_engine_participant(engine, g_array_index(conns, guint64, i));
		if (p != NULL && !p->presenter && !p->backstage && ah_admission_state(engine->adm, p->id) == AH_ADM_QUEUED)
			queued++;
	}
	return queued >= engine->max_queued_per_session;
}

/* --- the failure throttle */

/* Forget the idle session buckets once the table has doubled since the last time: amortized O(1). */
static void prune_sessions(ah_engine *engine, gint64 now)
{
	GHashTableIter iter;
	gpointer value;
	if (g_hash_table_size(engine->session_failures) < engine->session_prune_at)
		return;
	g_hash_table_iter_init(&iter, engine->session_failures);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		if (ah_fail_idle(value, now))
			g_hash_table_iter_remove(&iter);
	engine->session_prune_at = MAX(AH_FAIL_PRUNE_MIN, 2 * g_hash_table_size(engine->session_failures));
}

/* The caller's session bucket; NULL for the Admin API, or when the table is full (create). */
static ah_fail_bucket *session_bucket(ah_engine *e, gboolean admin_api, guint64 conn, gint64 now, gboolean create)
{
	guint64 session;
	ah_fail_bucket *b;
	if (admin_api)
		return NULL;
	session = session_of(e, conn);
	b = g_hash_table_lookup(e->session_failures, &session);
	if (b != NULL || !create)
		return b;
	prune_sessions(e, now);
	if (g_hash_table_size(e->session_failures) >= AH_FAIL_SESSIONS_MAX)
		return NULL;
	b = g_new0(ah_fail_bucket, 1);
	g_hash_table_insert(e->session_failures, g_memdup2(&session, sizeof(session)), b);
	return b;
}

gint64 ah_engine_fail_guard(ah_engine *engine, gboolean admin_api, guint64 conn, ah_fail_bucket *bucket,
	ah_fail_scope scope, gint64 now, const char **scope_name)
{
	ah_fail_bucket *own = session_bucket(engine, admin_api, conn, now, FALSE);
	gint64 wait = own != NULL ? ah_fail_check(own, &fail_limits[AH_FAIL_SESSION], now) : 0, scoped;
	*scope_name = scope_names[AH_FAIL_SESSION];
	scoped = bucket != NULL && wait == 0 ? ah_fail_check(bucket, &fail_limits[scope], now) : 0;
	if (scoped > 0) {
		wait = scoped;
		*scope_name = scope_names[scope];
	}
	if (wait > 0)
		engine->refused_total++;
	return wait;
}

void ah_engine_fail_record(ah_engine *engine, gboolean admin_api, guint64 conn, ah_fail_bucket *bucket,
	ah_fail_scope scope, gint64 now)
{
	ah_fail_bucket *own = session_bucket(engine, admin_api, conn, now, TRUE);
	if (own != NULL)
		ah_fail_record(own, &fail_limits[AH_FAIL_SESSION], now);
	if (bucket != NULL)
		ah_fail_record(bucket, &fail_limits[scope], now);
	engine->failed_total++;
}

static json_t *bucket_json(const ah_fail_bucket *b, ah_fail_scope scope, gint64 now)
{
	return json_pack("{s:I, s:I, s:I}", "failed", (json_int_t)b->failed, "refused", (json_int_t)b->refused,
		"retry_after_ms", (json_int_t)((ah_fail_wait(b, &fail_limits[scope], now) + 999) / 1000));
}

json_t *ah_engine_failures_json(const ah_engine *engine, const ah_tenant *tenant, const ah_room *room, gint64 now)
{
	GHashTableIter iter;
	gpointer value;
	guint throttled = 0;
	json_t *o;
	if (room != NULL)
		return bucket_json(&room->failures, AH_FAIL_ROOM, now);
	if (tenant != NULL) {
		o = bucket_json(&tenant->secret_failures, AH_FAIL_TENANT, now);
		json_object_set_new(o, "token_failures", json_integer((json_int_t)tenant->token_failures));
		return o;
	}
	g_hash_table_iter_init(&iter, engine->session_failures);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		throttled += ah_fail_wait(value, &fail_limits[AH_FAIL_SESSION], now) > 0;
	return json_pack("{s:I, s:I, s:I, s:I, s:o}", "failed", (json_int_t)engine->failed_total,
		"refused", (json_int_t)engine->refused_total,
		"sessions_tracked", (json_int_t)g_hash_table_size(engine->session_failures),
		"sessions_throttled", (json_int_t)throttled,
		"admin_key", bucket_json(&engine->admin_failures, AH_FAIL_NODE, now));
}

/* --- signing keys */

gboolean ah_engine_new_signing_key(ah_tenant *tenant)
{
	char key[AH_SIGNING_KEY_LEN + 1];
	if (!ah_token_key_generate(key))
		return FALSE;
	memcpy(tenant->signing_key, key, sizeof(key));
	memset(key, 0, sizeof(key));
	return TRUE;
}
