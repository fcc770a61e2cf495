/* allhands glue: the control thread.
 *
 * Owns: the engine (all mutable plugin state) and the work queue that feeds it. Every engine call
 * happens on this one thread, so the engine needs no locks. Janus threads post work items and
 * return at once; the Admin API thread is the only caller that waits (for its answer). The control
 * thread waits for no other plugin thread, but one of its calls can block for a while: push_event
 * with an offer (Janus waits there for its ICE candidates when half-trickle gathering is slow, e.g.
 * with a STUN server). The state file is written by the writer thread (writer.c). After each
 * engine call this thread executes the outs: push_event, close_pc, fan-out swaps, keyframe
 * requests, event-handler notifications. No lock is held while calling into Janus. Each turn lets
 * metrics.c render a snapshot (at most once a second) and cluster-node.c run the cluster's parts.
 *
 * DESIGN: a GAsyncQueue of items; the thread pops with a timeout equal to the engine's next
 * deadline (waves, admit timeouts), so timers need no separate thread or GSource.
 * Time: each item is stamped with the monotonic time of the Janus callback that posted it (under
 * post_lock, so stamps follow queue order) and the engine handles it at that time. Each turn first
 * handles every item queued before a cut time, then the timers due by the cut: after a stall, an
 * attendee whose media came up before its admit deadline is seated, not expired, and the engine's
 * time never goes backwards.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ah-config.h"

#include <string.h>

#include "debug.h"
#include "utils.h"

#include "glue.h"

/* After hangup_media, Janus frees the old PeerConnection on the handle's loop thread: give it this
 * long before sending an offer that sets up a new one. */
#define AH_HANGUP_SETTLE_US (100 * G_TIME_SPAN_MILLISECOND)
/* If no hangup_media follows a close_pc, send what was held back after this anyway. */
#define AH_HANGUP_WAIT_US (3 * G_USEC_PER_SEC)
/* A push_event with an offer that Janus refused is tried again this often, at most this many times. */
#define AH_OFFER_RETRY_US (200 * G_TIME_SPAN_MILLISECOND)
#define AH_OFFER_ATTEMPTS 5
/* How long the Admin API thread waits for the control thread before giving up. */
#define AH_ADMIN_WAIT_US (30 * G_USEC_PER_SEC)

typedef enum {
	ITEM_MESSAGE,
	ITEM_ADMIN,
	ITEM_MEDIA_UP,
	ITEM_MEDIA_DOWN,
	ITEM_GONE,
	ITEM_ATTENDEE_PLI,
	ITEM_FEEDBACK,
	ITEM_CLUSTER,
	ITEM_STOP,
} item_kind;

/* An Admin API request waiting for its answer. */
typedef struct {
	GMutex lock;
	GCond cond;
	json_t *response;
	gboolean done, abandoned;
} admin_wait;

typedef struct {
	item_kind kind;
	ah_session *session; /* reference held, NULL for ADMIN/STOP */
	char *transaction;
	json_t *message, *jsep;
	int mindex;
	double fraction_lost; /* FEEDBACK: worst RR fraction lost, < 0 unknown */
	guint32 remb_bps;     /* FEEDBACK: REMB, 0 unknown */
	admin_wait *wait;
	gint64 at;            /* monotonic time it was posted (the Janus callback's time) */
} work_item;

/* What the control thread knows while executing the outs of one engine call. */
typedef struct {
	ah_session *caller;     /* the handle whose message is being answered, or NULL */
	const char *transaction;
	const ah_stream_desc *streams; /* the publisher offer's streams (publish only) */
	const int *in_pt;
	int n_streams;
	json_t *answer;         /* the answer to that offer, built before the engine saw it */
	json_t *simulcast;      /* the offer's JSEP "simulcast" (Janus's description), or NULL */
	gboolean sync;          /* the message is a `sync`: its reply waits for the disk */
} out_context;

/* A message to a handle that had to wait (see "held signalling" below). */
typedef struct {
	ah_out_kind kind;
	json_t *body;
	ah_jsep_kind jsep;
	json_t *answer;   /* AH_JSEP_ANSWER: the prepared answer */
	char *transaction;
	int attempts;
} held_out;

static GAsyncQueue *queue = NULL;
static GMutex post_lock;        /* guards `accepting` (and so the life of `queue` for posters) */
static gboolean accepting = FALSE;
static GThread *thread = NULL;
static ah_engine *engine = NULL;
/* conn -> ah_session* (a reference): sessions that are closing or hold signalling back. */
static GHashTable *gated = NULL;
/* Receiver conn (guint64*) -> GArray of guint64: the presenters whose fan-out may hold it (control
 * thread). A superset: patching a fan-out that does not hold the receiver changes nothing. */
static GHashTable *routed_from = NULL;
/* Metrics: this thread's time per work item and each item's time in the queue (seconds). */
static ah_metrics_hist handling_hist, queueing_hist;
/* ALLHANDS_TEST_HOOKS=1 in the environment: the Admin API takes test-only requests (test_hook). */
static gboolean test_hooks = FALSE;

static void admin_wait_release(admin_wait *wait);

static void item_free(work_item *item)
{
	if (item->session != NULL)
		ah_session_unref(item->session);
	g_free(item->transaction);
	json_decref(item->message);
	json_decref(item->jsep);
	g_free(item);
}

/* Queue an item; FALSE (and the item untouched) once the control thread is stopping. */
static gboolean push_item(work_item *item)
{
	g_mutex_lock(&post_lock);
	gboolean ok = accepting;
	item->at = janus_get_monotonic_time();
	if (ok)
		g_async_queue_push(queue, item);
	g_mutex_unlock(&post_lock);
	return ok;
}

static void post(item_kind kind, ah_session *session, char *transaction, json_t *message, json_t *jsep, int mindex)
{
	work_item *item = g_malloc0(sizeof(work_item));
	item->kind = kind;
	item->session = session;
	item->transaction = transaction;
	item->message = message;
	item->jsep = jsep;
	item->mindex = mindex;
	if (!push_item(item))
		item_free(item);
}

/* The Redis client's wake (cluster.c): replies wait; this turn's ah_cluster_node_turn takes them. */
static void cluster_wake(gpointer user)
{
	post(ITEM_CLUSTER, NULL, NULL, NULL, NULL, 0);
}

/* ---- executing outs ---- */

/* Make the attendee's substreams match the m-lines it was last offered. A substream is only ever
 * fed by one presenter and one codec: when a slot passes to another presenter or codec it gets a
 * fresh substream that continues the old one's sequence numbers and timestamps (the old one may
 * still be in a fan-out that is about to be rebuilt, so it is never shared). */
static void sync_substreams(ah_session *attendee)
{
	guint n = 0;
	const ah_slot *slots = ah_engine_slots(engine, attendee->conn, &n);
	if (attendee->substreams == NULL)
		attendee->substreams = g_ptr_array_new_with_free_func((GDestroyNotify)ah_substream_unref);
	if (attendee->substreams->len < n)
		g_ptr_array_set_size(attendee->substreams, n);
	for (guint i = 0; i < n; i++) {
		const ah_slot *slot = &slots[i];
		ah_substream *sub = g_ptr_array_index(attendee->substreams, i);
		if (!slot->active)
			continue;
		gboolean video = slot->kind == AH_MEDIA_VIDEO;
		gboolean same_kind = sub != NULL && sub->video == video;
		if (same_kind && sub->out_pt == ah_sdp_payload_type(slot->codec) && sub->presenter_conn == slot->presenter_conn)
			continue;
		ah_substream *fresh = ah_substream_new(attendee, slot->mindex, slot->kind, slot->codec);
		if (fresh == NULL)
			continue;
		fresh->presenter_conn = slot->presenter_conn;
		/* Same m-line, same SSRC towards the attendee: numbering must go on (a restart at 1 would
		 * be dropped as SRTP replays until it passed the old highest sequence number). */
		if (same_kind)
			ah_substream_continue(fresh, sub);
		/* The old one, if any, lives on in fan-outs until they are rebuilt. */
		g_ptr_array_index(attendee->substreams, i) = fresh;
		ah_substream_unref(sub);
	}
}

static json_t *attendee_offer(ah_session *attendee)
{
	guint n = 0;
	const ah_slot *slots = ah_engine_slots(engine, attendee->conn, &n);
	char *error = NULL;
	char *sdp = ah_sdp_attendee_offer(slots, n, ++attendee->sdp_version, &error);
	if (sdp == NULL) {
		JANUS_LOG(LOG_ERR, "allhands: conn %" G_GUINT64_FORMAT ": cannot build offer: %s\n", attendee->conn,
			error ? error : "?");
		g_free(error);
		return NULL;
	}
	sync_substreams(attendee);
	json_t *jsep = json_pack("{ssss}", "type", "offer", "sdp", sdp);
	g_free(sdp);
	return jsep;
}

/* Build the answer to a presenter's offer (before the engine sees it: if this fails, the engine is
 * told the offer had no usable stream and answers invalid_jsep). */
static json_t *publisher_answer(ah_session *presenter, const char *offer, const ah_stream_desc *streams, int n)
{
	char *error = NULL;
	char *sdp = ah_sdp_answer_offer(offer, streams, n, &error);
	if (sdp == NULL) {
		JANUS_LOG(LOG_WARN, "allhands: conn %" G_GUINT64_FORMAT ": cannot answer the offer: %s\n", presenter->conn,
			error ? error : "?");
		g_free(error);
		return NULL;
	}
	json_t *jsep = json_pack("{ssss}", "type", "answer", "sdp", sdp);
	g_free(sdp);
	return jsep;
}

/* The engine accepted a publish: the presenter's media path learns its streams. */
static void publisher_accepted(ah_session *presenter, const out_context *ctx)
{
	if (presenter->pub == NULL)
		g_atomic_pointer_set(&presenter->pub, ah_pubmedia_new());
	ah_pubmedia_set_streams(presenter->pub, ctx->streams, ctx->in_pt, ctx->n_streams);
	ah_pubmedia_set_simulcast(presenter->pub, ctx->simulcast);
}

/* Push one message; FALSE when Janus refused an offer (the caller may try again later). */
static gboolean send_event(ah_session *session, const char *transaction, json_t *body, ah_jsep_kind kind,
	json_t *answer)
{
	json_t *jsep = NULL;
	if (kind == AH_JSEP_OFFER)
		jsep = attendee_offer(session);
	else if (kind == AH_JSEP_ANSWER && answer != NULL)
		jsep = json_incref(answer);
	int res = ah_gateway->push_event(session->handle, &ah_plugin, transaction, body, jsep);
	if (res != 0)
		JANUS_LOG(LOG_WARN, "allhands: conn %" G_GUINT64_FORMAT ": push_event%s failed (%d)\n", session->conn,
			jsep ? " with JSEP" : "", res);
	json_decref(jsep);
	return res == 0 || kind != AH_JSEP_OFFER || g_atomic_int_get(&session->destroyed);
}

/* ---- held signalling ----
 * close_pc is asynchronous: Janus hangs the PeerConnection up on its own threads, calls
 * hangup_media, then frees it. An offer pushed to the same handle meanwhile (an attendee who
 * leaves and joins again at once, or is kicked while being admitted) is either refused or set up
 * and then torn down with the old one. So from close_pc until hangup_media has settled, a
 * session's offers, and everything after them in order, are held back and sent afterwards. */

void ah_held_out_free(gpointer data)
{
	held_out *h = data;
	json_decref(h->body);
	json_decref(h->answer);
	g_free(h->transaction);
	g_free(h);
}

static void gate(ah_session *session, gint64 flush_at)
{
	session->flush_at = flush_at;
	if (!g_hash_table_contains(gated, &session->conn)) {
		ah_session_ref(session);
		g_hash_table_insert(gated, &session->conn, session);
	}
}

static void hold(ah_session *session, const ah_out *out, const char *transaction, int attempts, json_t *answer)
{
	held_out *h = g_malloc0(sizeof(held_out));
	h->kind = out->kind;
	h->body = out->body ? json_incref(out->body) : NULL;
	h->jsep = out->jsep;
	h->answer = answer ? json_incref(answer) : NULL;
	h->transaction = g_strdup(transaction);
	h->attempts = attempts;
	if (session->held == NULL)
		session->held = g_queue_new();
	g_queue_push_tail(session->held, h);
	if (!session->closing && session->flush_at == 0)
		gate(session, janus_get_monotonic_time() + AH_OFFER_RETRY_US);
}

static gboolean must_hold(const ah_session *session, const ah_out *out)
{
	gboolean signalling = out->kind == AH_OUT_REPLY || out->kind == AH_OUT_EVENT || out->kind == AH_OUT_CLOSE_PC;
	if (session->held != NULL && !g_queue_is_empty(session->held))
		return signalling;
	return session->closing && signalling && out->jsep == AH_JSEP_OFFER;
}

/* ---- simulcast layers ----
 * Each receiver's video substream carries its layer policy (plugin/core/simulcast.c): the control
 * thread feeds it the receiver's RTCP feedback and its ceiling (room video_layer, attendee's
 * layer), and sets the layer the relay asks Janus's simulcast helper for. */

static void layer_event(ah_session *attendee, const ah_substream *sub, int layer, const char *reason)
{
	json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:s}", "allhands", "event", "event", "layer_changed", "mindex",
		sub->mindex, "layer", ah_sim_layer_name(layer), "reason", reason);
	if (!g_atomic_int_get(&attendee->destroyed))
		ah_gateway->push_event(attendee->handle, &ah_plugin, NULL, body, NULL);
	json_decref(body);
}

static void apply_layer(ah_session *attendee, ah_substream *sub, int layer, const char *reason)
{
	if (g_atomic_int_get(&sub->layer_target) == layer)
		return;
	g_atomic_int_set(&sub->layer_target, layer);
	ah_session *presenter = ah_session_lookup(sub->presenter_conn);
	guint64 bps[3];
	/* Only worth telling when the presenter sends layers. */
	if (presenter != NULL && ah_pubmedia_simulcast(presenter->pub, sub->presenter_mindex, bps))
		layer_event(attendee, sub, layer, reason);
	if (presenter != NULL)
		ah_session_unref(presenter);
}

static void set_layer_ceiling(ah_session *attendee, const ah_route *route)
{
	if (route->kind != AH_MEDIA_VIDEO || attendee->substreams == NULL || route->attendee_mindex < 0 ||
		(guint)route->attendee_mindex >= attendee->substreams->len)
		return;
	ah_substream *sub = g_ptr_array_index(attendee->substreams, route->attendee_mindex);
	if (sub == NULL || !sub->video)
		return;
	sub->presenter_mindex = route->presenter_mindex;
	int layer = ah_sim_set_ceiling(&sub->policy, route->max_layer, janus_get_monotonic_time());
	apply_layer(attendee, sub, layer, "ceiling");
}

/* RTCP feedback from an attendee: every video substream it receives from a simulcasting presenter
 * runs its law (the REMB shared between them). */
static void attendee_feedback(ah_session *attendee, double fraction_lost, guint32 remb_bps, gint64 now)
{
	GPtrArray *subs = attendee->substreams;
	ah_substream *sim_subs[AH_MAX_STREAMS];
	guint64 bps[AH_MAX_STREAMS][3];
	guint n = 0;
	for (guint i = 0; subs != NULL && i < subs->len && n < AH_MAX_STREAMS; i++) {
		ah_substream *sub = g_ptr_array_index(subs, i);
		if (sub == NULL || !sub->video)
			continue;
		ah_session *presenter = ah_session_lookup(sub->presenter_conn);
		if (presenter != NULL && ah_pubmedia_simulcast(presenter->pub, sub->presenter_mindex, bps[n]))
			sim_subs[n++] = sub;
		if (presenter != NULL)
			ah_session_unref(presenter);
	}
	for (guint i = 0; i < n; i++) {
		int layer = ah_sim_feedback(&sim_subs[i]->policy, now, fraction_lost, remb_bps / n, bps[i]);
		apply_layer(attendee, sim_subs[i], layer, "feedback");
	}
}

/* Append `conn` to `list` (guint64) unless it is there already (lists of a few presenters). */
static void add_unique(GArray *list, guint64 conn)
{
	for (guint i = 0; i < list->len; i++)
		if (g_array_index(list, guint64, i) == conn)
			return;
	g_array_append_val(list, conn);
}

static void note_routed(guint64 receiver, guint64 presenter)
{
	GArray *list = g_hash_table_lookup(routed_from, &receiver);
	if (list == NULL) {
		list = g_array_new(FALSE, FALSE, sizeof(guint64));
		g_hash_table_insert(routed_from, g_memdup2(&receiver, sizeof(receiver)), list);
	}
	add_unique(list, presenter);
}

/* Only receiver `conn`'s routes changed (RECEIVER_ROUTES): patch the fan-outs it was in and those
 * it is in now; the rest of each fan-out is copied as it is. */
static void patch_receiver(guint64 conn)
{
	GArray *routes = g_array_new(FALSE, FALSE, sizeof(ah_route));
	ah_session *attendee = ah_session_lookup(conn);
	gpointer key = NULL, was = NULL;
	ah_engine_receiver_routes(engine, conn, routes);
	if (attendee != NULL && !g_atomic_int_get(&attendee->destroyed)) {
		sync_substreams(attendee);
		for (guint i = 0; i < routes->len; i++)
			set_layer_ceiling(attendee, &g_array_index(routes, ah_route, i));
	}
	/* The presenters it was routed from, then those it is routed from now, each once. */
	GArray *presenters = g_hash_table_steal_extended(routed_from, &conn, &key, &was) ? was
		: g_array_new(FALSE, FALSE, sizeof(guint64));
	g_free(key);
	for (guint i = 0; i < routes->len; i++) {
		note_routed(conn, g_array_index(routes, ah_route, i).presenter_conn);
		add_unique(presenters, g_array_index(routes, ah_route, i).presenter_conn);
	}
	for (guint i = 0; i < presenters->len; i++) {
		guint64 p = g_array_index(presenters, guint64, i);
		ah_session *presenter = ah_session_lookup(p);
		if (presenter == NULL)
			continue;
		ah_route mine[AH_MAX_STREAMS];
		guint n = 0;
		for (guint k = 0; k < routes->len && n < AH_MAX_STREAMS; k++)
			if (g_array_index(routes, ah_route, k).presenter_conn == p)
				mine[n++] = g_array_index(routes, ah_route, k);
		ah_pubmedia_patch_routes(presenter->pub, conn, mine, n);
		ah_session_unref(presenter);
	}
	if (attendee != NULL)
		ah_session_unref(attendee);
	g_array_unref(presenters);
	g_array_free(routes, TRUE);
}

static void rebuild_routes(ah_session *presenter)
{
	if (presenter->pub == NULL)
		return;
	GArray *routes = g_array_new(FALSE, FALSE, sizeof(ah_route));
	ah_engine_routes(engine, presenter->conn, routes);
	for (guint i = 0; i < routes->len; i++) {
		const ah_route *route = &g_array_index(routes, ah_route, i);
		ah_session *attendee = ah_session_lookup(route->attendee_conn);
		if (attendee == NULL)
			continue;
		sync_substreams(attendee);
		set_layer_ceiling(attendee, route);
		ah_session_unref(attendee);
		note_routed(route->attendee_conn, presenter->conn);
	}
	ah_pubmedia_set_routes(presenter->pub, routes);
	ah_pubmedia_set_max_bitrate(presenter->pub, ah_engine_presenter_max_bitrate(engine, presenter->conn));
	g_array_free(routes, TRUE);
}

static void close_pc(ah_session *session)
{
	if (g_atomic_int_get(&session->destroyed))
		return;
	ah_gateway->close_pc(session->handle);
	session->closing = TRUE;
	gate(session, janus_get_monotonic_time() + AH_HANGUP_WAIT_US);
}

/* Deliver one REPLY/EVENT/CLOSE_PC to a live session, holding it back when it must wait. */
static void signal_session(ah_session *session, const ah_out *out, const char *transaction, int attempts,
	json_t *answer)
{
	if (must_hold(session, out)) {
		hold(session, out, transaction, attempts, answer);
		return;
	}
	if (out->kind == AH_OUT_CLOSE_PC) {
		close_pc(session);
	} else if (!send_event(session, transaction, out->body, out->jsep, answer)) {
		if (attempts + 1 < AH_OFFER_ATTEMPTS) {
			hold(session, out, transaction, attempts + 1, answer);
		} else {
			/* Janus keeps refusing: hang up, so the seat is freed (hangup, or the admit timeout)
			 * instead of waiting for an answer to an offer that never went out. */
			JANUS_LOG(LOG_ERR, "allhands: conn %" G_GUINT64_FORMAT ": offer refused %d times, closing\n",
				session->conn, AH_OFFER_ATTEMPTS);
			close_pc(session);
		}
	}
}

/* Send what a session held back, in order (some of it may be held again). */
static void flush_held(ah_session *session)
{
	GQueue *held = session->held;
	session->held = NULL;
	session->closing = FALSE;
	session->flush_at = 0;
	held_out *h;
	while (held != NULL && (h = g_queue_pop_head(held)) != NULL) {
		ah_out out = { h->kind, 0, h->body, h->jsep };
		if (!g_atomic_int_get(&session->destroyed))
			signal_session(session, &out, h->transaction, h->attempts, h->answer);
		ah_held_out_free(h);
	}
	if (held != NULL)
		g_queue_free(held);
	if (!session->closing && session->held == NULL)
		g_hash_table_remove(gated, &session->conn);
}

/* Control loop: flush the sessions whose time came; returns the next time one is due. */
static gint64 flush_due(gint64 now)
{
	GPtrArray *due = g_ptr_array_new();
	gint64 next = G_MAXINT64;
	GHashTableIter iter;
	gpointer value;
	g_hash_table_iter_init(&iter, gated);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		ah_session *session = value;
		if (session->flush_at <= now)
			g_ptr_array_add(due, session);
		else
			next = MIN(next, session->flush_at);
	}
	for (guint i = 0; i < due->len; i++) {
		ah_session *session = g_ptr_array_index(due, i);
		ah_session_ref(session);
		flush_held(session);
		if (session->flush_at != 0)
			next = MIN(next, session->flush_at);
		ah_session_unref(session);
	}
	g_ptr_array_free(due, TRUE);
	return next;
}

static void execute_out(const ah_out *out, const out_context *ctx)
{
	gboolean is_caller = ctx->caller != NULL && ctx->caller->conn == out->conn;
	ah_session *session = is_caller ? ctx->caller : (out->conn ? ah_session_lookup(out->conn) : NULL);
	if (is_caller)
		ah_session_ref(session);
	switch (out->kind) {
	case AH_OUT_REPLY:
	case AH_OUT_EVENT:
	case AH_OUT_CLOSE_PC:
		if (session == NULL || session->handle == NULL) /* NULL handle: a mirror (cluster-media.c), never told */
			break;
		if (out->jsep == AH_JSEP_ANSWER && is_caller)
			publisher_accepted(session, ctx);
		if (ctx->sync && is_caller && out->kind == AH_OUT_REPLY && json_object_get(out->body, "sequence") != NULL) {
			ah_writer_park_reply(session, ctx->transaction, out->body,
				(guint64)json_integer_value(json_object_get(out->body, "sequence")));
			break;
		}
		if (out->kind == AH_OUT_REPLY && !is_caller && session->deferred_transaction != NULL) {
			/* The answer to a request the engine deferred (a presenter that waited for the ledger). */
			char *transaction = session->deferred_transaction;
			session->deferred_transaction = NULL;
			signal_session(session, out, transaction, 0, NULL);
			g_free(transaction);
			break;
		}
		signal_session(session, out, out->kind == AH_OUT_REPLY && is_caller ? ctx->transaction : NULL, 0,
			is_caller ? ctx->answer : NULL);
		break;
	case AH_OUT_DEFER:
		if (session != NULL && is_caller) {
			g_free(session->deferred_transaction);
			session->deferred_transaction = g_strdup(ctx->transaction);
		}
		break;
	case AH_OUT_ROUTES:
		if (session != NULL)
			rebuild_routes(session);
		break;
	case AH_OUT_RECEIVER_ROUTES:
		patch_receiver(out->conn);
		break;
	case AH_OUT_KEYFRAME:
		if (session != NULL && session->pub != NULL)
			ah_pubmedia_join_keyframe(session->pub);
		break;
	case AH_OUT_NOTIFY:
		if (ah_events_enabled && out->body != NULL) {
			/* Janus drops an event about a handle it stopped (a detach racing its hangup): send it without. */
			janus_plugin_session *h = session != NULL && session->handle != NULL && !g_atomic_int_get(&session->destroyed)
				&& !g_atomic_int_get(&session->handle->stopped) ? session->handle : NULL;
			json_incref(out->body);
			ah_gateway->notify_event(&ah_plugin, h, out->body);
		}
		break;
	}
	if (session != NULL)
		ah_session_unref(session);
}

static void execute_outs(GPtrArray *outs, const out_context *ctx)
{
	for (guint i = 0; i < outs->len; i++)
		execute_out(g_ptr_array_index(outs, i), ctx);
	g_ptr_array_set_size(outs, 0);
}

/* ---- work items ---- */

/* Receivers are receive-only: an answer that would send media (an attendee munging our sendonly
 * offer into sendrecv) is refused here, before the engine sees it, and its PeerConnection closed.
 * Its packets would be dropped anyway (plugin.c's incoming_rtp relays presenters only); this keeps
 * the PeerConnection from coming up at all. TRUE when the message was refused. */
static gboolean refuse_sending_answer(work_item *item, const char *jsep_type, const char *sdp)
{
	ah_session *session = item->session;
	int mindex = -1;
	if (g_strcmp0(jsep_type, "answer") != 0 || sdp == NULL || !ah_sdp_answer_sends(sdp, &mindex))
		return FALSE;
	JANUS_LOG(LOG_WARN, "allhands: conn %" G_GUINT64_FORMAT ": refused an answer that sends media (m-line %d)\n",
		session->conn, mindex);
	char *message = g_strdup_printf("invalid jsep (the answer must not send media: m-line %d is sendrecv or "
		"sendonly; receivers answer recvonly or inactive)", mindex);
	ah_out reply = { AH_OUT_REPLY, session->conn, ah_engine_error_body(AH_ERR_INVALID_JSEP, message), AH_JSEP_NONE };
	ah_out close = { AH_OUT_CLOSE_PC, session->conn, NULL, AH_JSEP_NONE };
	g_free(message);
	signal_session(session, &reply, item->transaction, 0, NULL);
	signal_session(session, &close, NULL, 0, NULL);
	json_decref(reply.body);
	return TRUE;
}

static void handle_message_item(work_item *item, GPtrArray *outs)
{
	ah_session *session = item->session;
	ah_stream_desc streams[AH_MAX_STREAMS];
	int in_pt[AH_MAX_STREAMS];
	int n = 0;
	const char *jsep_type = NULL;
	json_t *answer = NULL;
	/* The per-session limits (failed credentials, queued joins) need the handle's Janus session. */
	ah_engine_set_conn_session(engine, session->conn, (guint64)(guintptr)session->janus_session);
	if (json_is_object(item->jsep)) {
		jsep_type = json_string_value(json_object_get(item->jsep, "type"));
		const char *sdp = json_string_value(json_object_get(item->jsep, "sdp"));
		if (refuse_sending_answer(item, jsep_type, sdp))
			return;
		if (jsep_type != NULL && strcmp(jsep_type, "offer") == 0 && sdp != NULL) {
			char *error = NULL;
			n = ah_sdp_read_offer(sdp, streams, in_pt, AH_MAX_STREAMS, &error);
			if (n < 0 || error != NULL)
				JANUS_LOG(LOG_WARN, "allhands: conn %" G_GUINT64_FORMAT ": %s offer: %s\n", session->conn,
					n < 0 ? "unusable" : "part of an", error ? error : "?");
			g_free(error);
			n = MAX(n, 0);
			if (n > 0 && (answer = publisher_answer(session, sdp, streams, n)) == NULL)
				n = 0;
		}
	}
	ah_engine_handle_message(engine, session->conn, item->message, jsep_type, streams, (guint)n, item->at, outs);
	for (guint i = 0; i < outs->len; i++) {
		ah_out *out = g_ptr_array_index(outs, i);
		if (out->kind == AH_OUT_REPLY && out->conn == session->conn)
			ah_cluster_node_status(item->message, out->body, item->at);
	}
	json_t *simulcast = json_is_object(item->jsep) ? json_object_get(item->jsep, "simulcast") : NULL;
	out_context ctx = { session, item->transaction, streams, in_pt, n, answer, simulcast,
		g_strcmp0(json_string_value(json_object_get(item->message, "request")), "sync") == 0 };
	execute_outs(outs, &ctx);
	json_decref(answer);
}

/* Test-only Admin API requests (ALLHANDS_TEST_HOOKS=1; docs/operations.md): {"request": "test_stall",
 * "ms": N} holds this thread for N ms (at most 60 s), as a slow request would. NULL: not one. */
static json_t *test_hook(const json_t *message)
{
	if (!test_hooks || g_strcmp0(json_string_value(json_object_get(message, "request")), "test_stall") != 0)
		return NULL;
	json_int_t ms = json_integer_value(json_object_get(message, "ms"));
	g_usleep((gulong)CLAMP(ms, 0, 60000) * 1000);
	return json_pack("{s:s}", "allhands", "success");
}

static void handle_item(work_item *item, GPtrArray *outs)
{
	const out_context none = { 0 };
	gint64 now = item->at;
	/* Work a handle posted just before it was destroyed: ITEM_GONE takes care of everything. */
	if (item->session != NULL && item->kind != ITEM_GONE && g_atomic_int_get(&item->session->destroyed))
		return;
	switch (item->kind) {
	case ITEM_MESSAGE:
		handle_message_item(item, outs);
		return;
	case ITEM_ADMIN: {
		admin_wait *wait = item->wait;
		g_mutex_lock(&wait->lock);
		gboolean gave_up = wait->abandoned;
		g_mutex_unlock(&wait->lock);
		/* A request whose caller was already told `unavailable` must not be applied. */
		json_t *response = gave_up ? NULL : test_hook(item->message);
		if (!gave_up && response == NULL)
			response = ah_engine_admin_message(engine, item->message, now, outs);
		ah_cluster_node_status(item->message, response, now);
		g_mutex_lock(&wait->lock);
		wait->response = response;
		wait->done = TRUE;
		g_cond_signal(&wait->cond);
		g_mutex_unlock(&wait->lock);
		admin_wait_release(wait);
		break;
	}
	case ITEM_MEDIA_UP:
		ah_engine_media_up(engine, item->session->conn, now, outs);
		break;
	case ITEM_MEDIA_DOWN:
		ah_engine_media_down(engine, item->session->conn, now, outs);
		/* The PeerConnection we closed is going: what waited for it may follow shortly. */
		if (item->session->closing)
			gate(item->session, janus_get_monotonic_time() + AH_HANGUP_SETTLE_US);
		break;
	case ITEM_GONE:
		ah_engine_conn_gone(engine, item->session->conn, now, outs);
		if (g_hash_table_remove(gated, &item->session->conn))
			item->session->closing = FALSE;
		/* Break the session <-> substream cycle and release the fan-out's attendees. */
		if (item->session->substreams != NULL)
			g_ptr_array_set_size(item->session->substreams, 0);
		if (item->session->pub != NULL)
			ah_pubmedia_set_routes(item->session->pub, NULL);
		break;
	case ITEM_ATTENDEE_PLI: {
		guint n = 0;
		const ah_slot *slots = ah_engine_slots(engine, item->session->conn, &n);
		if (item->mindex >= 0 && (guint)item->mindex < n && slots[item->mindex].active) {
			ah_session *presenter = ah_session_lookup(slots[item->mindex].presenter_conn);
			if (presenter != NULL && presenter->pub != NULL)
				ah_pubmedia_want_keyframe(presenter->pub);
			if (presenter != NULL)
				ah_session_unref(presenter);
		}
		break;
	}
	case ITEM_FEEDBACK:
		/* The layer laws run on this thread's clock (ceilings are set at handling time too). */
		attendee_feedback(item->session, item->fraction_lost, item->remb_bps, janus_get_monotonic_time());
		break;
	case ITEM_CLUSTER: /* the turn's ah_cluster_tick polls */
	case ITEM_STOP:
		break;
	}
	execute_outs(outs, &none);
	/* A receiver gone: what its outs patched is done; forget where it was routed. */
	if (item->kind == ITEM_GONE)
		g_hash_table_remove(routed_from, &item->session->conn);
}

/* Handle every item queued before the cut time (*cut), each at its own time. FALSE after STOP. */
static gboolean handle_queued(GPtrArray *outs, gint64 *cut)
{
	/* Items are stamped and pushed under post_lock: the ones in the queue now are exactly those
	 * stamped before the cut (only this thread pops, so the length is not negative). */
	g_mutex_lock(&post_lock);
	*cut = janus_get_monotonic_time();
	gint n = g_async_queue_length(queue);
	g_mutex_unlock(&post_lock);
	for (gint i = 0; i < n; i++) {
		work_item *item = g_async_queue_try_pop(queue);
		if (item == NULL)
			break;
		gboolean stop = item->kind == ITEM_STOP;
		gint64 start = janus_get_monotonic_time();
		ah_metrics_hist_observe(&queueing_hist, (double)(start - item->at) / G_USEC_PER_SEC);
		handle_item(item, outs);
		ah_cluster_node_after_item();
		ah_metrics_hist_observe(&handling_hist, (double)(janus_get_monotonic_time() - start) / G_USEC_PER_SEC);
		item_free(item);
		if (stop)
			return FALSE;
	}
	return TRUE;
}

static gpointer control_thread(gpointer data)
{
	GPtrArray *outs = g_ptr_array_new_with_free_func(ah_out_free);
	const out_context none = { 0 };
	gint64 cut;
	while (handle_queued(outs, &cut)) {
		/* Schedules run on wall-clock time; a clock step shows up here at the next turn. */
		ah_engine_set_clock_offset(engine, janus_get_real_time() - janus_get_monotonic_time());
		/* Adaptive waves want the process's CPU use (cpu.c: once a second). */
		double cpu = ah_cpu_sample(cut);
		if (cpu >= 0)
			ah_engine_cpu_sample(engine, cpu, cut);
		ah_cluster_node_turn(engine, cut, outs);
		/* Timers after the events that came before them, however late this thread is. */
		if (ah_engine_next_deadline(engine, cut) <= cut)
			ah_engine_tick(engine, cut, outs);
		execute_outs(outs, &none);
		gint64 now = janus_get_monotonic_time();
		ah_control_figures figures = { &handling_hist, &queueing_hist, (guint)MAX(g_async_queue_length(queue), 0) };
		ah_metrics_refresh(engine, &figures, now);
		gint64 deadline = MIN(MIN(ah_engine_next_deadline(engine, now), flush_due(now)), ah_cluster_node_deadline());
		if (deadline <= now)
			continue;
		guint64 wait_us = deadline == G_MAXINT64 ? G_USEC_PER_SEC : (guint64)MIN(deadline - now, G_USEC_PER_SEC);
		/* Wake at the first item, then handle it (and whatever follows) at the next turn. */
		work_item *item = g_async_queue_timeout_pop(queue, wait_us);
		if (item != NULL)
			g_async_queue_push_front(queue, item);
	}
	g_ptr_array_free(outs, TRUE);
	return NULL;
}

/* ---- public ---- */

/* Start failed, or stop: forget the queue and the tables, end the writer, free the engine. */
static void forget_state(void)
{
	work_item *item;
	while ((item = g_async_queue_try_pop(queue)) != NULL)
		item_free(item);
	g_async_queue_unref(queue);
	queue = NULL;
	g_hash_table_destroy(gated);
	gated = NULL;
	g_hash_table_destroy(routed_from);
	routed_from = NULL;
	/* Nothing changes any more: the writer thread writes the last of it and ends. */
	ah_writer_stop();
	ah_engine_free(engine);
	engine = NULL;
}

gboolean ah_control_start(const ah_engine_config *config, ah_cluster_config *cluster, char **error)
{
	ah_error err = AH_ERR_OK;
	engine = ah_engine_new(config, &err, error);
	if (engine == NULL)
		return FALSE;
	if (ah_engine_stale_temps_removed(engine) > 0)
		JANUS_LOG(LOG_WARN, "allhands: removed %u temporary state file(s) left by a killed process\n",
			ah_engine_stale_temps_removed(engine));
	if (ah_engine_held_schedules(engine) > 0)
		JANUS_LOG(LOG_WARN, "allhands: %u room(s) of the state file have a schedule refused by this version's "
			"rules: they stay closed until it is replaced (room_info shows schedule_refused)\n",
			ah_engine_held_schedules(engine));
	if (!ah_writer_start(ah_engine_persist_writer(engine), error)) {
		ah_engine_free(engine);
		engine = NULL;
		return FALSE;
	}
	test_hooks = g_strcmp0(g_getenv("ALLHANDS_TEST_HOOKS"), "1") == 0;
	if (test_hooks)
		JANUS_LOG(LOG_WARN, "allhands: ALLHANDS_TEST_HOOKS=1: test-only Admin API requests are on\n");
	ah_metrics_hist_init(&handling_hist, AH_METRICS_BOUNDS_HANDLING);
	ah_metrics_hist_init(&queueing_hist, AH_METRICS_BOUNDS_HANDLING);
	queue = g_async_queue_new();
	gated = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, (GDestroyNotify)ah_session_unref);
	routed_from = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, (GDestroyNotify)g_array_unref);
	accepting = TRUE;
	GError *gerr = NULL;
	/* The client may wake us at once: the queue is there. */
	if (!ah_cluster_node_start(engine, cluster, cluster_wake, error)) {
		accepting = FALSE;
		forget_state();
		return FALSE;
	}
	thread = g_thread_try_new("allhands control", control_thread, NULL, &gerr);
	if (thread == NULL) {
		*error = g_strdup(gerr ? gerr->message : "cannot start thread");
		g_clear_error(&gerr);
		g_mutex_lock(&post_lock);
		accepting = FALSE;
		g_mutex_unlock(&post_lock);
		ah_cluster_node_stop();
		forget_state();
		return FALSE;
	}
	return TRUE;
}

void ah_control_stop(void)
{
	if (thread == NULL)
		return;
	/* From here on posts are dropped; STOP is the last item the thread sees. */
	work_item *stop = g_malloc0(sizeof(work_item));
	stop->kind = ITEM_STOP;
	g_mutex_lock(&post_lock);
	accepting = FALSE;
	g_async_queue_push(queue, stop);
	g_mutex_unlock(&post_lock);
	g_thread_join(thread);
	thread = NULL;
	/* Its wakes are dropped from here on (posts are). */
	ah_cluster_node_stop();
	/* Nothing can be left behind STOP, but be safe (admin waits get an error). */
	work_item *item;
	while ((item = g_async_queue_try_pop(queue)) != NULL) {
		if (item->wait != NULL) {
			g_mutex_lock(&item->wait->lock);
			item->wait->done = TRUE; /* response stays NULL: the waiter answers "unavailable" */
			g_cond_signal(&item->wait->cond);
			g_mutex_unlock(&item->wait->lock);
			admin_wait_release(item->wait);
		}
		item_free(item);
	}
	forget_state();
}

void ah_control_post_message(ah_session *session, char *transaction, json_t *message, json_t *jsep)
{
	post(ITEM_MESSAGE, session, transaction, message, jsep, 0);
}

void ah_control_post_media_up(ah_session *session)
{
	post(ITEM_MEDIA_UP, session, NULL, NULL, NULL, 0);
}

void ah_control_post_media_down(ah_session *session)
{
	post(ITEM_MEDIA_DOWN, session, NULL, NULL, NULL, 0);
}

void ah_control_post_gone(ah_session *session)
{
	post(ITEM_GONE, session, NULL, NULL, NULL, 0);
}

void ah_control_post_attendee_pli(ah_session *session, int mindex)
{
	post(ITEM_ATTENDEE_PLI, session, NULL, NULL, NULL, mindex);
}

void ah_control_post_feedback(ah_session *session, double fraction_lost, guint32 remb_bps)
{
	work_item *item = g_malloc0(sizeof(work_item));
	item->kind = ITEM_FEEDBACK;
	item->session = session;
	item->fraction_lost = fraction_lost;
	item->remb_bps = remb_bps;
	if (!push_item(item))
		item_free(item);
}

/* The waiter and the control thread each hold the wait; the last to let go frees it. */
static void admin_wait_release(admin_wait *wait)
{
	g_mutex_lock(&wait->lock);
	gboolean last = wait->abandoned;
	wait->abandoned = TRUE;
	g_mutex_unlock(&wait->lock);
	if (!last)
		return;
	json_decref(wait->response);
	g_mutex_clear(&wait->lock);
	g_cond_clear(&wait->cond);
	g_free(wait);
}

json_t *ah_control_admin_message(json_t *message)
{
	admin_wait *wait = g_malloc0(sizeof(admin_wait));
	g_mutex_init(&wait->lock);
	g_cond_init(&wait->cond);
	work_item *item = g_malloc0(sizeof(work_item));
	item->kind = ITEM_ADMIN;
	item->message = message;
	item->wait = wait;
	if (!push_item(item)) {
		item_free(item);
		g_mutex_clear(&wait->lock);
		g_cond_clear(&wait->cond);
		g_free(wait);
		return ah_engine_error_body(AH_ERR_UNAVAILABLE, NULL);
	}
	gint64 until = g_get_monotonic_time() + AH_ADMIN_WAIT_US;
	json_t *response = NULL;
	g_mutex_lock(&wait->lock);
	while (!wait->done && g_cond_wait_until(&wait->cond, &wait->lock, until))
		;
	if (wait->done) {
		response = wait->response;
		wait->response = NULL;
	}
	g_mutex_unlock(&wait->lock);
	admin_wait_release(wait);
	if (response == NULL)
		return ah_engine_error_body(AH_ERR_UNAVAILABLE, "The control thread did not answer in time");
	/* `sync`: every change before it was handed to the writer; answer once it is on disk. */
	if (g_strcmp0(json_string_value(json_object_get(message, "request")), "sync") == 0 &&
			json_object_get(response, "sequence") != NULL) {
		json_t *failed = ah_writer_wait((guint64)json_integer_value(json_object_get(response, "sequence")));
		if (failed != NULL) {
			json_decref(response);
			return failed;
		}
	}
	/* The media path's own figures, next to the node's in `status`. */
	json_t *node = json_object_get(response, "node");
	if (json_is_object(node) && json_object_get(node, "relay") == NULL) {
		json_object_set_new(node, "relay", ah_relay_status());
		json_t *persistence = ah_writer_figures();
		if (persistence != NULL)
			json_object_set_new(node, "persistence", persistence);
	}
	return response;
}
