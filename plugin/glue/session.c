/* allhands glue: the registry of plugin handles (glue.h's ah_session): conn -> session, handle ->
 * session, the number of our handles in each Janus session, and each handle's request token
 * bucket, all under sessions_lock; and the sessions' reference counting.
 *
 * The leaf of the glue: plugin.c (Janus's callbacks), control.c, relay.c and writer.c call it, and it
 * calls none of them. What those files hang on a session (a presenter's media, signalling held
 * back) is freed by the `release` function plugin.c installs at init, so that the last reference
 * may go on any thread without this file knowing those parts. Any thread; sessions_lock is never
 * held across a call into Janus or another file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "glue.h"

static GHashTable *sessions = NULL; /* guint64 conn -> ah_session* (one reference) */
static GMutex sessions_lock;
static guint64 next_conn = 1;       /* under sessions_lock */
/* Janus session (opaque key) -> number of our handles in it (GUINT_TO_POINTER), under sessions_lock. */
static GHashTable *handles_per_session = NULL;
/* Set once at init, before any session exists. */
static void (*release_parts)(ah_session *session) = NULL;

static void session_free(const janus_refcount *ref)
{
	ah_session *session = janus_refcount_containerof(ref, ah_session, ref);
	if (session->substreams != NULL)
		g_ptr_array_free(session->substreams, TRUE);
	if (release_parts != NULL)
		release_parts(session);
	g_free(session->pending_offer);
	g_free(session->deferred_transaction);
	if (session->handle != NULL)
		janus_refcount_decrease(&session->handle->ref);
	g_free(session);
}

void ah_session_ref(ah_session *session)
{
	janus_refcount_increase(&session->ref);
}

void ah_session_unref(ah_session *session)
{
	janus_refcount_decrease(&session->ref);
}

ah_session *ah_session_lookup(guint64 conn)
{
	g_mutex_lock(&sessions_lock);
	ah_session *session = sessions ? g_hash_table_lookup(sessions, &conn) : NULL;
	if (session != NULL)
		ah_session_ref(session);
	g_mutex_unlock(&sessions_lock);
	return session;
}

void ah_sessions_init(void (*release)(ah_session *session))
{
	release_parts = release;
	sessions = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, NULL);
	handles_per_session = g_hash_table_new(g_direct_hash, g_direct_equal);
}

void ah_sessions_clear(void)
{
	g_hash_table_destroy(sessions);
	sessions = NULL;
	g_hash_table_destroy(handles_per_session);
	handles_per_session = NULL;
}

void ah_sessions_mark_destroyed(void)
{
	GHashTableIter iter;
	gpointer value;
	g_mutex_lock(&sessions_lock);
	g_hash_table_iter_init(&iter, sessions);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_atomic_int_set(&((ah_session *)value)->destroyed, 1);
	g_mutex_unlock(&sessions_lock);
}

/* Under sessions_lock: count a new handle in its Janus session; FALSE when that is over the limit. */
static gboolean count_handle_locked(gconstpointer key, gint64 max_handles)
{
	if (key == NULL)
		return TRUE;
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(handles_per_session, key));
	if (max_handles > 0 && n >= (guint64)max_handles)
		return FALSE;
	g_hash_table_insert(handles_per_session, (gpointer)key, GUINT_TO_POINTER(n + 1));
	return TRUE;
}

static void uncount_handle_locked(gconstpointer key)
{
	if (key == NULL)
		return;
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(handles_per_session, key));
	if (n <= 1)
		g_hash_table_remove(handles_per_session, key);
	else
		g_hash_table_insert(handles_per_session, (gpointer)key, GUINT_TO_POINTER(n - 1));
}

ah_session *ah_session_register(janus_plugin_session *handle, gconstpointer janus_session, gint64 max_handles,
	double tokens, gint64 now)
{
	g_mutex_lock(&sessions_lock);
	if (!count_handle_locked(janus_session, max_handles)) {
		g_mutex_unlock(&sessions_lock);
		return NULL;
	}
	ah_session *session = g_malloc0(sizeof(ah_session));
	janus_refcount_init(&session->ref, session_free);
	/* Janus initializes handle->ref only after create_session returns, with one of its two
	 * references meant for the plugin: session_free releases that one (so no increase here). */
	session->handle = handle;
	session->janus_session = janus_session;
	session->tokens = tokens;
	session->tokens_at = now;
	session->conn = next_conn++;
	g_hash_table_insert(sessions, &session->conn, session);
	handle->plugin_handle = session;
	g_mutex_unlock(&sessions_lock);
	return session;
}

ah_session *ah_session_unregister(janus_plugin_session *handle, gboolean *registered)
{
	g_mutex_lock(&sessions_lock);
	ah_session *session = handle->plugin_handle;
	*registered = session != NULL && g_atomic_int_compare_and_exchange(&session->destroyed, 0, 1) &&
		g_hash_table_remove(sessions, &session->conn);
	if (*registered)
		uncount_handle_locked(session->janus_session);
	handle->plugin_handle = NULL;
	g_mutex_unlock(&sessions_lock);
	return session;
}

ah_session *ah_session_ref_of(janus_plugin_session *handle)
{
	g_mutex_lock(&sessions_lock);
	ah_session *session = handle->plugin_handle;
	if (session != NULL && !g_atomic_int_get(&session->destroyed))
		ah_session_ref(session);
	else
		session = NULL;
	g_mutex_unlock(&sessions_lock);
	return session;
}

gint64 ah_session_take_token(ah_session *session, gint64 now, gint64 per_second, gint64 burst)
{
	gint64 wait_ms = 0;
	double rate = (double)per_second / G_USEC_PER_SEC;
	g_mutex_lock(&sessions_lock);
	if (now > session->tokens_at)
		session->tokens = MIN((double)burst, session->tokens + (double)(now - session->tokens_at) * rate);
	session->tokens_at = now;
	if (session->tokens >= 1.0)
		session->tokens -= 1.0;
	else
		wait_ms = (gint64)((1.0 - session->tokens) / rate / 1000.0) + 1;
	g_mutex_unlock(&sessions_lock);
	return wait_ms;
}

ah_session *ah_session_register_mirror(void)
{
	g_mutex_lock(&sessions_lock);
	if (sessions == NULL) {
		g_mutex_unlock(&sessions_lock);
		return NULL;
	}
	ah_session *session = g_malloc0(sizeof(ah_session));
	janus_refcount_init(&session->ref, session_free);
	session->conn = next_conn++;
	g_hash_table_insert(sessions, &session->conn, session);
	ah_session_ref(session); /* the caller's */
	g_mutex_unlock(&sessions_lock);
	return session;
}

void ah_session_unregister_mirror(ah_session *session)
{
	gboolean registered;
	g_mutex_lock(&sessions_lock);
	registered = sessions != NULL && g_atomic_int_compare_and_exchange(&session->destroyed, 0, 1) &&
		g_hash_table_remove(sessions, &session->conn);
	g_mutex_unlock(&sessions_lock);
	if (registered)
		ah_session_unref(session); /* the registry's */
}
