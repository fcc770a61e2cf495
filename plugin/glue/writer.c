/* allhands glue: the state file's writer thread (plugin/core/persist-writer.c does the work).
 *
 * Owns the thread that writes the state file off the control thread, its log lines and its
 * `persist_failed` events, and the `sync` replies that wait for the disk: a `sync` from the Admin
 * API blocks its own (Admin API) thread in ah_writer_wait; one from a plugin handle is parked here
 * and pushed by this thread once the change it names is durable (or its write failed). The control
 * thread never waits for this thread. Lock: waiters_lock (the parked replies), never held while
 * calling into Janus or the writer.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ah-config.h"

#include "debug.h"
#include "utils.h"

#include "allhands/persist-writer.h"
#include "glue.h"

/* How long a `sync` waits for the disk before answering persist_failed. */
#define AH_SYNC_WAIT_US (10 * G_USEC_PER_SEC)

typedef struct {
	ah_session *session;    /* reference held */
	char *transaction;
	json_t *body;           /* the success reply */
	guint64 seq;
	gint64 until;
} parked_reply;

static ah_persist_writer *writer = NULL;
static GThread *thread = NULL;
static GMutex waiters_lock;
static GPtrArray *waiters = NULL; /* parked_reply*, under waiters_lock */

static void parked_free(parked_reply *p)
{
	ah_session_unref(p->session);
	g_free(p->transaction);
	json_decref(p->body);
	g_free(p);
}

/* Answer one parked `sync`: its reply, or persist_failed saying why. */
static void answer(parked_reply *p, const char *why)
{
	json_t *body = why == NULL ? json_incref(p->body) : ah_engine_error_body(AH_ERR_PERSIST_FAILED, why);
	if (!g_atomic_int_get(&p->session->destroyed))
		ah_gateway->push_event(p->session->handle, &ah_plugin, p->transaction, body, NULL);
	json_decref(body);
}

/* This thread, after each write: answer the parked replies whose change is settled. */
static void answer_waiters(gboolean stopping)
{
	GPtrArray *due = g_ptr_array_new();
	gint64 now = janus_get_monotonic_time();
	g_mutex_lock(&waiters_lock);
	for (guint i = 0; waiters != NULL && i < waiters->len;) {
		parked_reply *p = g_ptr_array_index(waiters, i);
		if (stopping || now >= p->until || ah_persist_writer_progress(writer, p->seq) != AH_PERSIST_PENDING)
			g_ptr_array_add(due, g_ptr_array_steal_index(waiters, i));
		else
			i++;
	}
	g_mutex_unlock(&waiters_lock);
	for (guint i = 0; i < due->len; i++) {
		parked_reply *p = g_ptr_array_index(due, i);
		char *why = NULL;
		ah_persist_writer_wait(writer, p->seq, now, &why);
		answer(p, why);
		g_free(why);
		parked_free(p);
	}
	g_ptr_array_free(due, TRUE);
}

static gpointer writer_thread(gpointer data)
{
	gboolean failing = FALSE;
	for (;;) {
		char *why = NULL;
		ah_persist_outcome outcome = ah_persist_writer_work(writer, &why);
		if (outcome == AH_PERSIST_FAILED) {
			JANUS_LOG(LOG_ERR, "allhands: %s (retrying every %d s)\n", why, (int)(AH_PERSIST_RETRY_US / G_USEC_PER_SEC));
			if (ah_events_enabled)
				ah_gateway->notify_event(&ah_plugin, NULL, json_pack("{s:s, s:s}", "event", "persist_failed",
					"error", why != NULL ? why : "unknown"));
		} else if (outcome == AH_PERSIST_WROTE && failing) {
			JANUS_LOG(LOG_INFO, "allhands: the state file is written again\n");
		}
		failing = outcome == AH_PERSIST_FAILED || (failing && outcome != AH_PERSIST_WROTE);
		g_free(why);
		answer_waiters(outcome == AH_PERSIST_STOPPED);
		if (outcome == AH_PERSIST_STOPPED)
			break;
	}
	return NULL;
}

gboolean ah_writer_start(ah_persist_writer *w, char **error)
{
	GError *gerr = NULL;
	if (w == NULL)
		return TRUE;
	writer = w;
	waiters = g_ptr_array_new();
	thread = g_thread_try_new("allhands writer", writer_thread, NULL, &gerr);
	if (thread == NULL) {
		*error = g_strdup(gerr != NULL ? gerr->message : "cannot start the writer thread");
		g_clear_error(&gerr);
		g_ptr_array_free(waiters, TRUE);
		waiters = NULL;
		writer = NULL;
		return FALSE;
	}
	return TRUE;
}

void ah_writer_stop(void)
{
	if (thread == NULL)
		return;
	/* The thread writes what is pending, answers every parked `sync`, then ends. */
	ah_persist_writer_stop(writer);
	g_thread_join(thread);
	thread = NULL;
	g_ptr_array_free(waiters, TRUE);
	waiters = NULL;
	writer = NULL;
}

json_t *ah_writer_figures(void)
{
	if (writer == NULL)
		return NULL;
	json_t *figures = ah_persist_writer_figures_json(writer, janus_get_monotonic_time());
	json_t *age = json_object_get(figures, "last_write_age_ms");
	/* The same moment on the wall clock, for operators (UNIX milliseconds). */
	json_object_set_new(figures, "last_write_at", json_is_integer(age) ?
		json_integer(janus_get_real_time() / 1000 - json_integer_value(age)) : json_null());
	return figures;
}

json_t *ah_writer_wait(guint64 seq)
{
	char *why = NULL;
	json_t *error = NULL;
	if (writer != NULL && !ah_persist_writer_wait(writer, seq, janus_get_monotonic_time() + AH_SYNC_WAIT_US, &why))
		error = ah_engine_error_body(AH_ERR_PERSIST_FAILED, why);
	g_free(why);
	return error;
}

void ah_writer_park_reply(ah_session *session, const char *transaction, json_t *body, guint64 seq)
{
	parked_reply *p = g_new0(parked_reply, 1);
	p->session = session;
	p->transaction = g_strdup(transaction);
	p->body = json_incref(body);
	p->seq = seq;
	p->until = janus_get_monotonic_time() + AH_SYNC_WAIT_US;
	ah_session_ref(session);
	g_mutex_lock(&waiters_lock);
	gboolean parked = waiters != NULL;
	if (parked)
		g_ptr_array_add(waiters, p);
	g_mutex_unlock(&waiters_lock);
	if (!parked) {
		answer(p, NULL); /* nothing persists: nothing to wait for */
		parked_free(p);
		return;
	}
	/* The change may be durable already and no write may come: a wake-up answers it. */
	ah_persist_writer_poke(writer);
}
