/* allhands: credentials and abuse (issue 12): the tenants' join-token signing keys and their
 * requests (get_signing_key, rotate_signing_key), the throttle of failed credential attempts per
 * Janus session and per room, tenant and node (throttle.h), the per-session bound on queued joins,
 * and the failure figures of status. Split from engine.c and requests.c, which call in here.
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
static ah_fail_bucket *session_bucket(ah_req *req, gboolean create)
{
	ah_engine *e = req->engine;
	guint64 session;
	ah_fail_bucket *b;
	if (req->admin_api)
		return NULL;
	session = session_of(e, req->conn);
	b = g_hash_table_lookup(e->session_failures, &session);
	if (b != NULL || !create)
		return b;
	prune_sessions(e, req->now);
	if (g_hash_table_size(e->session_failures) >= AH_FAIL_SESSIONS_MAX)
		return NULL;
	b = g_new0(ah_fail_bucket, 1);
	g_hash_table_insert(e->session_failures, g_memdup2(&session, sizeof(session)), b);
	return b;
}

ah_error ah_req_guard(ah_req *req, ah_fail_bucket *bucket, ah_fail_scope scope)
{
	ah_fail_bucket *own = session_bucket(req, FALSE);
	gint64 wait = own != NULL ? ah_fail_check(own, &fail_limits[AH_FAIL_SESSION], req->now) : 0, scoped;
	const char *name = scope_names[AH_FAIL_SESSION];
	scoped = bucket != NULL && wait == 0 ? ah_fail_check(bucket, &fail_limits[scope], req->now) : 0;
	if (scoped > 0) {
		wait = scoped;
		name = scope_names[scope];
	}
	if (wait == 0)
		return AH_ERR_OK;
	req->engine->refused_total++;
	req->error_extra = json_pack("{s:I, s:s}", "retry_after_ms", (json_int_t)((wait + 999) / 1000), "scope", name);
	return AH_ERR_TOO_MANY_FAILURES;
}

void ah_req_failed(ah_req *req, ah_fail_bucket *bucket, ah_fail_scope scope)
{
	ah_fail_bucket *own = session_bucket(req, TRUE);
	if (own != NULL)
		ah_fail_record(own, &fail_limits[AH_FAIL_SESSION], req->now);
	if (bucket != NULL)
		ah_fail_record(bucket, &fail_limits[scope], req->now);
	req->engine->failed_total++;
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

/* --- minimum lengths (validate.h) the parameter specs cannot say */

ah_error ah_req_room_credentials(ah_req *req)
{
	const char *pin = ah_req_string(req, "pin"), *priority = ah_req_string(req, "priority_secret");
	if (pin != NULL && *pin != '\0' && g_utf8_strlen(pin, -1) < AH_PIN_MIN_LEN)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup_printf("invalid element (pin: at least %d "
			"characters, or \"\" for none)", AH_PIN_MIN_LEN));
	if (priority != NULL && *priority != '\0' && g_utf8_strlen(priority, -1) < AH_ROOM_SECRET_MIN_LEN)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup_printf("invalid element (priority_secret: at "
			"least %d characters, or \"\" for none)", AH_ROOM_SECRET_MIN_LEN));
	return AH_ERR_OK;
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

/* {"tenant", "signing_key", "previous_signing_key_until"?}: the key goes to the caller only. */
static json_t *key_reply(const ah_engine *engine, const ah_tenant *t, gint64 now)
{
	const char *keys[2];
	json_t *reply = json_pack("{s:s, s:s, s:s}", "allhands", "success", "tenant", t->id, "signing_key", t->signing_key);
	if (ah_engine_tenant_keys(engine, t, now, keys) == 2)
		json_object_set_new(reply, "previous_signing_key_until", json_integer(t->previous_signing_key_until));
	return reply;
}

static ah_error find_tenant(ah_req *req, ah_tenant **t)
{
	const char *id = ah_req_string(req, "tenant");
	ah_error err = ah_req_in_scope(req, id);
	if (err != AH_ERR_OK)
		return err;
	*t = ah_engine_tenant(req->engine, id);
	return *t != NULL ? AH_ERR_OK : AH_ERR_NO_SUCH_TENANT;
}

ah_error ah_req_get_signing_key(ah_req *req)
{
	ah_tenant *t = NULL;
	ah_error err = find_tenant(req, &t);
	if (err != AH_ERR_OK)
		return err;
	req->reply = key_reply(req->engine, t, req->now);
	return AH_ERR_OK;
}

const ah_param ah_rotate_signing_key_params[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_UINT("overlap_s", FALSE, 0, AH_SECRET_OVERLAP_S_MAX),
	AH_PARAM_STR("signing_key", FALSE, 0, 0),
	AH_PARAM_END
};

/* A new key (generated, or the operator's own, e.g. shared by several nodes); the old one keeps
 * verifying tokens for overlap_s (default 0: not at all). */
ah_error ah_req_rotate_signing_key(ah_req *req)
{
	ah_tenant *t = NULL;
	ah_error err = find_tenant(req, &t);
	const char *given = ah_req_string(req, "signing_key");
	char key[AH_SIGNING_KEY_LEN + 1];
	guint overlap_s = (guint)json_integer_value(json_object_get(req->message, "overlap_s"));
	if (err != AH_ERR_OK)
		return err;
	if (given != NULL && req->scope != NULL)
		return ah_req_fail(req, AH_ERR_FORBIDDEN, g_strdup("forbidden (only the operator may set a signing_key)"));
	if (given != NULL && !ah_token_key_valid(given))
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT,
			g_strdup("invalid element (signing_key: 64 lower-case hex characters, 256 random bits)"));
	if (given != NULL)
		g_strlcpy(key, given, sizeof(key));
	else if (!ah_token_key_generate(key))
		return ah_req_fail(req, AH_ERR_INTERNAL, g_strdup("internal error (no randomness for a signing key)"));
	g_free(t->previous_signing_key);
	t->previous_signing_key = overlap_s > 0 ? g_strdup(t->signing_key) : NULL;
	t->previous_signing_key_until = overlap_s > 0 ? ah_engine_real_s(req->engine, req->now) + overlap_s : 0;
	memcpy(t->signing_key, key, sizeof(key));
	memset(key, 0, sizeof(key));
	req->reply = key_reply(req->engine, t, req->now);
	ah_engine_notify(req->outs, 0, "signing_key_rotated", t->id, NULL, 0);
	ah_req_save(req);
	return AH_ERR_OK;
}
