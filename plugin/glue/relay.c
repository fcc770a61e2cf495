/* allhands glue: the media path.
 *
 * Owns each presenter's relay state (struct ah_pubmedia: its current fan-out, keyframe state and the
 * REMB that caps its bitrate when its room sets presenter_max_bitrate) and the per-(attendee,
 * m-line) substreams. Threads: ah_relay_rtp runs on the presenter's handle loop
 * thread; the control thread creates substreams and builds and swaps fan-outs; want_keyframe may be
 * called from any thread. Nothing here blocks, waits for the control thread, logs, or allocates per
 * packet; the only lock is ah_pubmedia.lock, held for a pointer swap or a pointer read plus a
 * reference, and never while calling out.
 *
 * Design (the fan-out snapshots, keyframe requests, helper threads, one thread at a time per substream,
 * an edge's keyframe caches): docs/architecture.md, "The relay".
 *
 * Lifetimes: a substream holds a reference on its attendee session; fan-outs hold references on
 * substreams; a queued packet holds a reference on its fan-out. ah_pubmedia_free must only run when no thread can still be in ah_relay_rtp or
 * ah_pubmedia_want_keyframe for it (plugin.c frees it with the session).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "utils.h"

#include "glue.h"

/* Presenter m-lines we can relay: index < this. */
#define AH_PUB_MAX_STREAMS 16
/* At most one PLI per presenter video stream per interval. */
#define AH_PLI_INTERVAL_US (500 * G_TIME_SPAN_MILLISECOND)
/* The longest a new video substream waits for a keyframe before relaying whatever comes. */
#define AH_KEY_WAIT_MAX_US (3 * G_TIME_SPAN_SECOND)
/* A simulcast receiver falls back to a lower layer after this long without a packet of its own. */
#define AH_SIM_DROP_TRIGGER_US (1000 * G_TIME_SPAN_MILLISECOND)
/* A simulcast layer counts as flowing while its last packet is at most this old (a layer paused
 * by the presenter's encoder stops at once; pacing gaps are tens of milliseconds). */
#define AH_SIM_FLOWING_US (500 * G_TIME_SPAN_MILLISECOND)
/* A capped presenter gets a REMB this often; lifting the cap sends AH_REMB_UNCAP_COUNT REMB of
 * AH_REMB_UNCAPPED (browsers keep the last REMB as a limit until another one comes). */
#define AH_REMB_INTERVAL_US G_TIME_SPAN_SECOND
#define AH_REMB_UNCAPPED 100000000u
#define AH_REMB_UNCAP_COUNT 3
/* Packets waiting in one helper's queue, at most (about 2 s of a 2.5 Mbit/s video stream). */
#define AH_RELAY_QUEUE_MAX 512

typedef struct ah_fanout {
	janus_refcount ref;
	ah_pubmedia *pm; /* reference */
	int in_pt[AH_PUB_MAX_STREAMS]; /* presenter's payload type; -1: m-line not published */
	gboolean video[AH_PUB_MAX_STREAMS];
	janus_videocodec vcodec[AH_PUB_MAX_STREAMS];
	guint first[AH_PUB_MAX_STREAMS]; /* subs[first[i] .. first[i] + count[i]) receive m-line i */
	guint count[AH_PUB_MAX_STREAMS];
	/* Within m-line i, helper h's receivers are subs[share[i][h] .. share[i][h + 1]). */
	guint share[AH_PUB_MAX_STREAMS][AH_RELAY_MAX_THREADS + 1];
	guint n_subs;
	ah_substream *subs[]; /* one reference each */
} ah_fanout;

/* One helper thread and its queue of packets (relay_job). */
typedef struct {
	GThread *thread;
	GAsyncQueue *queue;
	volatile gint pending; /* jobs pushed and not yet done */
} relay_helper;

/* A packet handed to a helper: the helper's own copy (its header is rewritten per receiver). */
typedef struct {
	ah_fanout *fanout; /* reference */
	int mindex;
	guint helper;
	gint8 audio_level;
	gboolean audio_level_vad;
	guint length;
	char buffer[];
} relay_job;

/* Set by ah_relay_start before any media flows, then only read (n_helpers) or atomically updated. */
static relay_helper helpers[AH_RELAY_MAX_THREADS];
static guint n_helpers = 0;
static guint inline_max = 32;
static volatile gint helpers_running = 0;
static volatile gint relay_dropped = 0;
/* Times a thread found another one rewriting the same substream (substream_enter). */
static volatile gint relay_overlaps = 0;
/* Keyframes asked for (ah_pubmedia_want_keyframe calls) and PLIs sent after coalescing (metrics). */
static volatile gint keyframe_requests = 0;
static volatile gint plis_sent = 0;
static char stop_job; /* its address tells a helper to stop */
static ah_relay_hooks hooks; /* set before media flows (cluster mode), then only read */

void ah_relay_set_hooks(const ah_relay_hooks *h)
{
	hooks = *h;
}

typedef struct {
	volatile gint wanted; /* any thread sets it, the presenter thread clears it */
	gint64 last_pli;	  /* presenter thread only */
} ah_keyframe;

/* A presenter m-line's simulcast layers (index 0 lowest), as Janus's simulcast helpers want them. */
typedef struct {
	volatile gint on;     /* the presenter sends simulcast on this m-line */
	GMutex rid_lock;      /* guards rids and the rid -> SSRC learning (janus_rtp_simulcasting_*) */
	uint32_t ssrcs[3];    /* learned from rids as packets come, or given by the offer */
	char *rids[3];
	int rid_ext;          /* the rid header extension's id, 0: none */
	/* Presenter thread: bytes per layer in the current second; published per second in kbps. */
	guint64 bytes[3];
	gint64 window_start;
	volatile gint kbps[3];
	/* Presenter thread writes, helpers read (__atomic): when each layer's last packet came
	 * (monotonic µs, 0: never), so a receiver knows within one packet whether a layer flows. */
	gint64 last_at[3];
	gint64 first_at;      /* the m-line's first packet of a known layer (same rules) */
} ah_simulcast;

/* Ref-counted: the presenter session holds one reference (released by ah_pubmedia_free), each
 * fan-out another, so a packet still queued to a helper can set a keyframe want after the
 * presenter is gone. */
struct ah_pubmedia {
	janus_refcount ref;
	GMutex lock;	   /* protects only `fanout` (the pointer) */
	ah_fanout *fanout; /* NULL: nothing published yet; written by the control thread */
	ah_keyframe keyframe[AH_PUB_MAX_STREAMS];
	ah_simulcast sim[AH_PUB_MAX_STREAMS];
	/* Per m-line: helper jobs queued or running (the presenter's thread increments, helpers
	 * decrement when done). */
	volatile gint inflight[AH_PUB_MAX_STREAMS];
	/* Bitrate cap (bps, 0: none), set by the control thread; the rest is the presenter thread's. */
	volatile guint max_bitrate;
	ah_relay_gop *gop;     /* a mirror's keyframe caches (relay-keyframes.c), NULL: none; set before its packets */
	guint remb_sent;       /* the cap last sent, 0: none */
	gint64 remb_at;        /* when */
	int uncap_left;        /* REMB of AH_REMB_UNCAPPED still to send */
};

/* Builder input (control thread): one substream reference for presenter m-line `mindex`. */
typedef struct {
	int mindex;
	ah_substream *sub;
} fanout_pair;

/* The helper that relays to `sub` (0 when there are none). */
static guint helper_of(const ah_substream *sub)
{
	return n_helpers > 0 ? (guint)(sub->attendee->conn % n_helpers) : 0;
}

/* ---- substreams ---- */

static void substream_free(const janus_refcount *ref)
{
	ah_substream *sub = janus_refcount_containerof(ref, ah_substream, ref);
	ah_session_unref(sub->attendee);
	g_mutex_clear(&sub->context_lock);
	g_free(sub);
}

void ah_substream_continue(ah_substream *fresh, ah_substream *old)
{
	g_mutex_lock(&old->context_lock);
	fresh->context = old->context;
	g_mutex_unlock(&old->context_lock);
	/* Another presenter's stream may carry the SSRC the old one had (two origins' link SSRCs, issue 14):
	 * its first packet must re-base the numbering all the same. */
	fresh->context.last_ssrc = 0;
}

ah_substream *ah_substream_new(ah_session *attendee, int mindex, ah_media_kind kind, const char *codec)
{
	int pt = ah_sdp_payload_type(codec);
	if (attendee == NULL || pt < 0)
		return NULL;
	ah_substream *sub = g_new0(ah_substream, 1);
	ah_session_ref(attendee);
	sub->attendee = attendee;
	sub->mindex = mindex;
	sub->out_pt = pt;
	sub->video = kind == AH_MEDIA_VIDEO;
	sub->key_codec = sub->video ? ah_relay_key_codec(codec) : AH_KEY_CODEC_NONE;
	sub->awaiting_key = sub->key_codec != AH_KEY_CODEC_NONE;
	g_mutex_init(&sub->context_lock);
	janus_rtp_switching_context_reset(&sub->context);
	janus_rtp_simulcasting_context_reset(&sub->sim);
	sub->sim.substream_target = 2;
	sub->sim.templayer_target = 2; /* every temporal layer: we choose among simulcast layers only */
	/* Fall back to a lower layer after this long without a packet of the current one. Janus's 250 ms
	 * default is shorter than the pacing gaps of a high layer that carries a keyframe, so receivers
	 * would switch down and back (each switch a keyframe request) for no reason. */
	sub->sim.drop_trigger = AH_SIM_DROP_TRIGGER_US;
	janus_vp8_simulcast_context_reset(&sub->vp8);
	sub->layer_target = 2;
	sub->layer_now = -1;
	ah_sim_init(&sub->policy, 2, g_get_monotonic_time());
	janus_refcount_init(&sub->ref, substream_free);
	return sub;
}

void ah_substream_unref(ah_substream *sub)
{
	if (sub != NULL)
		janus_refcount_decrease(&sub->ref);
}

/* ---- fan-out snapshots ---- */

static void fanout_free(const janus_refcount *ref)
{
	ah_fanout *f = janus_refcount_containerof(ref, ah_fanout, ref);
	for (guint i = 0; i < f->n_subs; i++)
		ah_substream_unref(f->subs[i]);
	janus_refcount_decrease(&f->pm->ref);
	g_free(f);
}

static void fanout_unref(ah_fanout *f)
{
	if (f != NULL)
		janus_refcount_decrease(&f->ref);
}

/* The current snapshot with a new reference, or NULL. Any thread. */
static ah_fanout *fanout_get(ah_pubmedia *pm)
{
	g_mutex_lock(&pm->lock);
	ah_fanout *f = pm->fanout;
	if (f != NULL)
		janus_refcount_increase(&f->ref);
	g_mutex_unlock(&pm->lock);
	return f;
}

/* A snapshot with the stream table of `streams_from` (or none published) and the substreams of
 * `pairs`, whose references it takes over. */
static ah_fanout *fanout_build(ah_pubmedia *pm, const ah_fanout *streams_from, GArray *pairs)
{
	ah_fanout *f = g_malloc0(sizeof(ah_fanout) + pairs->len * sizeof(ah_substream *));
	janus_refcount_init(&f->ref, fanout_free);
	janus_refcount_increase(&pm->ref);
	f->pm = pm;
	for (int i = 0; i < AH_PUB_MAX_STREAMS; i++) {
		f->in_pt[i] = streams_from != NULL ? streams_from->in_pt[i] : -1;
		f->video[i] = streams_from != NULL ? streams_from->video[i] : FALSE;
		f->vcodec[i] = streams_from != NULL ? streams_from->vcodec[i] : JANUS_VIDEOCODEC_NONE;
	}
	/* Counting sort by (m-line, helper). */
	const guint k = n_helpers > 0 ? n_helpers : 1;
	for (guint i = 0; i < pairs->len; i++) {
		fanout_pair *p = &g_array_index(pairs, fanout_pair, i);
		f->count[p->mindex]++;
		f->share[p->mindex][helper_of(p->sub) + 1]++;
	}
	guint at = 0;
	for (int i = 0; i < AH_PUB_MAX_STREAMS; i++) {
		f->first[i] = at;
		f->share[i][0] = at;
		for (guint h = 1; h <= k; h++)
			f->share[i][h] += f->share[i][h - 1];
		at += f->count[i];
	}
	guint next[AH_PUB_MAX_STREAMS][AH_RELAY_MAX_THREADS];
	for (int i = 0; i < AH_PUB_MAX_STREAMS; i++)
		for (guint h = 0; h < k; h++)
			next[i][h] = f->share[i][h];
	for (guint i = 0; i < pairs->len; i++) {
		fanout_pair *p = &g_array_index(pairs, fanout_pair, i);
		f->subs[next[p->mindex][helper_of(p->sub)]++] = p->sub;
	}
	f->n_subs = pairs->len;
	return f;
}

/* Every substream of `f` with its presenter m-line, each with a new reference, but those of
 * receiver `except_conn` (0: none; conns start at 1). */
static void fanout_collect(const ah_fanout *f, GArray *pairs, guint64 except_conn)
{
	for (int m = 0; f != NULL && m < AH_PUB_MAX_STREAMS; m++) {
		for (guint i = f->first[m]; i < f->first[m] + f->count[m]; i++) {
			if (except_conn != 0 && f->subs[i]->attendee->conn == except_conn)
				continue;
			fanout_pair p = {m, f->subs[i]};
			janus_refcount_increase(&p.sub->ref);
			g_array_append_val(pairs, p);
		}
	}
}

static void fanout_swap(ah_pubmedia *pm, ah_fanout *f)
{
	g_mutex_lock(&pm->lock);
	ah_fanout *old = pm->fanout;
	pm->fanout = f;
	g_mutex_unlock(&pm->lock);
	fanout_unref(old);
}

/* ---- presenter media state (control thread) ---- */

static void simulcast_clear(ah_simulcast *sim)
{
	g_atomic_int_set(&sim->on, 0);
	g_mutex_lock(&sim->rid_lock);
	for (int l = 0; l < 3; l++) {
		g_clear_pointer(&sim->rids[l], g_free);
		sim->ssrcs[l] = 0;
		g_atomic_int_set(&sim->kbps[l], 0);
		__atomic_store_n(&sim->last_at[l], 0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&sim->first_at, 0, __ATOMIC_RELAXED);
	sim->rid_ext = 0;
	g_mutex_unlock(&sim->rid_lock);
}

static void pubmedia_free(const janus_refcount *ref)
{
	ah_pubmedia *pm = janus_refcount_containerof(ref, ah_pubmedia, ref);
	for (int i = 0; i < AH_PUB_MAX_STREAMS; i++) {
		simulcast_clear(&pm->sim[i]);
		g_mutex_clear(&pm->sim[i].rid_lock);
	}
	g_mutex_clear(&pm->lock);
	ah_relay_gop_free(pm->gop);
	g_free(pm);
}

ah_pubmedia *ah_pubmedia_new(void)
{
	ah_pubmedia *pm = g_new0(ah_pubmedia, 1);
	g_mutex_init(&pm->lock);
	for (int i = 0; i < AH_PUB_MAX_STREAMS; i++)
		g_mutex_init(&pm->sim[i].rid_lock);
	janus_refcount_init(&pm->ref, pubmedia_free);
	return pm;
}

void ah_pubmedia_free(ah_pubmedia *pm)
{
	if (pm == NULL)
		return;
	/* The current fan-out holds a reference on pm: dropping it breaks the cycle. */
	fanout_swap(pm, NULL);
	janus_refcount_decrease(&pm->ref);
}

void ah_pubmedia_set_simulcast(ah_pubmedia *pm, json_t *simulcast)
{
	if (pm == NULL)
		return;
	for (int m = 0; m < AH_PUB_MAX_STREAMS; m++)
		simulcast_clear(&pm->sim[m]);
	size_t i;
	json_t *entry;
	json_array_foreach(simulcast, i, entry) {
		json_t *jm = json_object_get(entry, "mindex");
		if (!json_is_integer(jm) || json_integer_value(jm) < 0 || json_integer_value(jm) >= AH_PUB_MAX_STREAMS)
			continue;
		ah_simulcast *sim = &pm->sim[json_integer_value(jm)];
		g_mutex_lock(&sim->rid_lock);
		/* Fills ssrcs (SSRC-based simulcast) or rids and the extension id (rid-based), lowest first. */
		janus_rtp_simulcasting_prepare(entry, &sim->rid_ext, sim->ssrcs, sim->rids);
		sim->window_start = 0;
		memset(sim->bytes, 0, sizeof(sim->bytes));
		g_mutex_unlock(&sim->rid_lock);
		g_atomic_int_set(&sim->on, 1);
	}
}

gboolean ah_pubmedia_simulcast(ah_pubmedia *pm, int mindex, guint64 layer_bps[3])
{
	if (pm == NULL || mindex < 0 || mindex >= AH_PUB_MAX_STREAMS || !g_atomic_int_get(&pm->sim[mindex].on))
		return FALSE;
	for (int l = 0; l < 3; l++)
		layer_bps[l] = (guint64)g_atomic_int_get(&pm->sim[mindex].kbps[l]) * 1000;
	return TRUE;
}

void ah_pubmedia_set_streams(ah_pubmedia *pm, const ah_stream_desc *streams, const int *in_pt, int n)
{
	if (pm == NULL)
		return;
	ah_fanout *old = fanout_get(pm);
	GArray *pairs = g_array_new(FALSE, FALSE, sizeof(fanout_pair));
	fanout_collect(old, pairs, 0);
	fanout_unref(old);
	ah_fanout *f = fanout_build(pm, NULL, pairs);
	g_array_free(pairs, TRUE);
	for (int i = 0; i < n; i++) {
		int m = streams[i].mindex;
		if (m < 0 || m >= AH_PUB_MAX_STREAMS)
			continue; /* beyond what we relay: its packets are dropped */
		f->in_pt[m] = in_pt[i];
		f->video[m] = streams[i].kind == AH_MEDIA_VIDEO;
		f->vcodec[m] = f->video[m] ? janus_videocodec_from_name(streams[i].codec) : JANUS_VIDEOCODEC_NONE;
	}
	fanout_swap(pm, f);
}

/* A new reference on the substream `route` points at, or NULL when it is gone or does not fit. */
static ah_substream *route_target(const ah_route *route)
{
	ah_session *attendee = ah_session_lookup(route->attendee_conn);
	if (attendee == NULL)
		return NULL;
	ah_substream *sub = NULL;
	GPtrArray *subs = attendee->substreams;
	if (!g_atomic_int_get(&attendee->destroyed) && subs != NULL && route->attendee_mindex >= 0 &&
		(guint)route->attendee_mindex < subs->len)
		sub = g_ptr_array_index(subs, route->attendee_mindex);
	if (sub != NULL && sub->video != (route->kind == AH_MEDIA_VIDEO))
		sub = NULL;
	if (sub != NULL)
		janus_refcount_increase(&sub->ref);
	ah_session_unref(attendee);
	return sub;
}

/* The substreams `routes` point at, as builder pairs (with a reference each). */
static void append_routes(GArray *pairs, const ah_route *routes, guint n)
{
	for (guint i = 0; i < n; i++) {
		const ah_route *route = &routes[i];
		if (route->presenter_mindex < 0 || route->presenter_mindex >= AH_PUB_MAX_STREAMS)
			continue;
		fanout_pair p = {route->presenter_mindex, route_target(route)};
		if (p.sub != NULL)
			g_array_append_val(pairs, p);
	}
}

/* Swap in a snapshot of `pairs` (their references taken over) with `old`'s stream table. */
static void fanout_replace(ah_pubmedia *pm, ah_fanout *old, GArray *pairs)
{
	ah_fanout *f = fanout_build(pm, old, pairs);
	fanout_unref(old);
	g_array_free(pairs, TRUE);
	fanout_swap(pm, f);
}

void ah_pubmedia_set_routes(ah_pubmedia *pm, GArray *routes)
{
	if (pm == NULL)
		return;
	GArray *pairs = g_array_new(FALSE, FALSE, sizeof(fanout_pair));
	if (routes != NULL)
		append_routes(pairs, (const ah_route *)routes->data, routes->len);
	fanout_replace(pm, fanout_get(pm), pairs);
}

void ah_pubmedia_patch_routes(ah_pubmedia *pm, guint64 attendee_conn, const ah_route *routes, guint n)
{
	if (pm == NULL)
		return;
	ah_fanout *old = fanout_get(pm);
	guint held = 0;
	for (guint i = 0; old != NULL && i < old->n_subs; i++)
		held += old->subs[i]->attendee->conn == attendee_conn;
	if (held == 0 && n == 0) {
		fanout_unref(old); /* not in it, and not to be: nothing to rebuild */
		return;
	}
	/* The other receivers' substreams as they are (no session lookups), then this one's. */
	GArray *pairs = g_array_sized_new(FALSE, FALSE, sizeof(fanout_pair), (old != NULL ? old->n_subs : 0) + n);
	fanout_collect(old, pairs, attendee_conn);
	append_routes(pairs, routes, n);
	fanout_replace(pm, old, pairs);
}

void ah_pubmedia_set_max_bitrate(ah_pubmedia *pm, guint bps)
{
	if (pm != NULL)
		g_atomic_int_set(&pm->max_bitrate, bps);
}

/* Presenter thread: REMB while the room caps its presenters, and a few uncapping ones after. */
static void maybe_send_remb(ah_pubmedia *pm, ah_session *presenter)
{
	const guint cap = (guint)g_atomic_int_get(&pm->max_bitrate);
	const gint64 now = g_get_monotonic_time();
	if (cap == 0 && pm->remb_sent != 0) {
		pm->remb_sent = 0;
		pm->uncap_left = AH_REMB_UNCAP_COUNT;
		pm->remb_at = 0;
	}
	if ((cap == 0 && pm->uncap_left == 0) || (cap == pm->remb_sent && now - pm->remb_at < AH_REMB_INTERVAL_US) ||
		(cap == 0 && now - pm->remb_at < AH_REMB_INTERVAL_US))
		return;
	if (cap == 0)
		pm->uncap_left--;
	pm->remb_sent = cap;
	pm->remb_at = now;
	if (presenter->handle != NULL) /* a mirror's sender is another node's presenter: never capped here */
		ah_gateway->send_remb(presenter->handle, cap != 0 ? cap : AH_REMB_UNCAPPED);
}

void ah_pubmedia_set_gop(ah_pubmedia *pm, ah_relay_gop *gop)
{
	g_atomic_pointer_set(&pm->gop, gop);
}

void ah_pubmedia_join_keyframe(ah_pubmedia *pm)
{
	/* A mirror's joiners are replayed from its caches; a joiner finding none asks (relay_to_receivers). */
	if (pm != NULL && g_atomic_pointer_get(&pm->gop) == NULL)
		ah_pubmedia_want_keyframe(pm);
}

void ah_pubmedia_want_keyframe(ah_pubmedia *pm)
{
	if (pm == NULL)
		return;
	g_atomic_int_inc(&keyframe_requests);
	/* Audio slots may be flagged too: the relay only looks at video streams' flags. */
	for (int i = 0; i < AH_PUB_MAX_STREAMS; i++)
		g_atomic_int_set(&pm->keyframe[i].wanted, 1);
}

/* ---- relaying to receivers (presenter's loop thread or a helper) ---- */

static void maybe_send_pli(ah_pubmedia *pm, ah_session *presenter, int mindex)
{
	ah_keyframe *k = &pm->keyframe[mindex];
	if (!g_atomic_int_get(&k->wanted))
		return;
	gint64 now = g_get_monotonic_time();
	if (k->last_pli != 0 && now - k->last_pli < AH_PLI_INTERVAL_US)
		return;
	/* Cleared before sending: a want arriving from now on is served by the next interval. */
	if (!g_atomic_int_compare_and_exchange(&k->wanted, 1, 0))
		return;
	k->last_pli = now;
	g_atomic_int_inc(&plis_sent);
	if (presenter->handle != NULL)
		ah_gateway->send_pli_stream(presenter->handle, mindex);
	else if (hooks.upstream_pli != NULL)
		hooks.upstream_pli(presenter, mindex); /* a mirror: the request goes to the origin */
}

/* The check of the relay's invariant, one thread at a time per substream: the relaying thread
 * marks the substream as its own while it rewrites for it. Finding another thread's mark counts an
 * overlap (status node.relay.overlaps), and so does the presenter's thread rewriting for it while a
 * helper's job for the same m-line is still queued or running (`unordered`: nothing orders the two
 * threads' writes, even when they do not happen at the same instant). The relay goes on. */
static gboolean substream_enter(ah_substream *sub, gpointer self, gboolean unordered)
{
	const gboolean owned = g_atomic_pointer_compare_and_exchange(&sub->owner, NULL, self);
	if (!owned || unordered)
		g_atomic_int_inc(&relay_overlaps);
	return owned;
}

/* Only after an enter that took the mark. A release store: the next owner's compare-and-exchange
 * sees our writes; cheaper than another locked instruction per receiver and packet. */
static void substream_leave(ah_substream *sub)
{
	__atomic_store_n(&sub->owner, NULL, __ATOMIC_RELEASE);
}

/* One packet on its way to a fan-out's receivers: what relay_to_one needs, computed once. */
typedef struct {
	const ah_fanout *f;
	int mindex;
	janus_plugin_rtp *packet;
	janus_plugin_rtp out;
	ah_simulcast *sim; /* NULL: not simulcast */
	char *payload;     /* simulcast only */
	int plen;
	int layer;         /* the packet's simulcast layer (its SSRC as learned by account_layer), -1: not known */
	gboolean vp8;      /* rewrite VP8 picture ids */
	char vp8pd[6];
	int key;           /* is this packet a keyframe's: -1 not looked at yet */
	gint64 now;        /* monotonic µs, read once when first needed (0: not yet) */
	int usable[3];     /* usable_layer() per target, worked out once per packet (-2: not yet) */
} relay_packet;

/* Whether simulcast layer `l` of the packet's m-line has sent a packet recently. */
static gboolean layer_flows(relay_packet *rp, int l)
{
	const gint64 at = __atomic_load_n(&rp->sim->last_at[l], __ATOMIC_RELAXED);
	if (at == 0)
		return FALSE;
	if (rp->now == 0)
		rp->now = g_get_monotonic_time();
	return rp->now - at < AH_SIM_FLOWING_US;
}

/* The layer a receiver aiming at `target` should be moving to: the target when it flows, else
 * the highest flowing layer below it, else the target while the presenter's layers are still
 * starting (their first packets come within milliseconds of each other, in no set order), else the
 * packet's own (none at or below the target flows: any will do). */
static int usable_layer_of(relay_packet *rp, int target)
{
	for (int l = target; l >= 0; l--)
		if (layer_flows(rp, l))
			return l;
	const gint64 first = __atomic_load_n(&rp->sim->first_at, __ATOMIC_RELAXED);
	if (rp->now == 0)
		rp->now = g_get_monotonic_time();
	if (first != 0 && rp->now - first < AH_SIM_FLOWING_US)
		return target;
	return rp->layer;
}

/* The same for every receiver with that target: worked out once per packet. */
static int usable_layer(relay_packet *rp, int target)
{
	if (rp->usable[target] == -2)
		rp->usable[target] = usable_layer_of(rp, target);
	return rp->usable[target];
}

/* Simulcast: whether `sub` gets this packet; may switch its layer. */
static gboolean simulcast_pass(relay_packet *rp, ah_substream *sub)
{
	ah_simulcast *sim = rp->sim;
	ah_keyframe *k = &rp->f->pm->keyframe[rp->mindex];
	/* Janus's simulcast helper picks the layer: it relays only the target layer's packets,
	 * switches at a keyframe of the new layer, and drops to a lower layer that flows when
	 * the target stops. The first packet it relays is a keyframe. */
	janus_rtp_simulcasting_context *sc = &sub->sim;
	const int target = g_atomic_int_get(&sub->layer_target);
	if (sc->substream_target != target) {
		/* The new layer starts at its next keyframe: ask for one now. */
		sc->substream_target = target;
		g_atomic_int_set(&k->wanted, 1);
	}
	/* Janus's helper starts on the first keyframe of any layer, and on its way to a target
	 * takes a keyframe of any layer in that direction, overshooting it. So it only sees the
	 * packets of the layer it is on and of the one it should move to: the target while it
	 * flows, else the highest layer below the target that flows, else (the presenter sends
	 * only layers above the target) any. An attendee gets no layer above its target while one
	 * at or below it flows, even at its first keyframe. */
	if (rp->layer >= 0 && rp->layer != sc->substream && rp->layer != usable_layer(rp, target))
		return FALSE;
	sc->rid_ext_id = sim->rid_ext;
	g_mutex_lock(&sub->context_lock);
	gboolean relay = janus_rtp_simulcasting_context_process_rtp(sc, rp->packet->buffer, rp->packet->length,
		sim->ssrcs, sim->rids, rp->f->vcodec[rp->mindex], &sub->context, &sim->rid_lock);
	g_mutex_unlock(&sub->context_lock);
	if (sc->need_pli)
		g_atomic_int_set(&k->wanted, 1);
	if (!relay)
		return FALSE;
	if (sc->changed_substream)
		g_atomic_int_set(&sub->layer_now, sc->substream);
	g_atomic_int_set(&sub->awaiting_key, 0);
	return TRUE;
}

/* A new video substream without simulcast: whether it may start (a keyframe, or waited enough). */
static gboolean keyframe_pass(relay_packet *rp, ah_substream *sub)
{
	if (rp->key < 0)
		rp->key = ah_relay_is_keyframe(sub->key_codec, rp->packet);
	if (!rp->key) {
		gint64 now = g_get_monotonic_time();
		if (sub->await_since == 0)
			sub->await_since = now;
		if (now - sub->await_since < AH_KEY_WAIT_MAX_US)
			return FALSE;
	}
	g_atomic_int_set(&sub->awaiting_key, 0);
	return TRUE;
}

/* Rewrite the packet for one receiver, hand it to Janus, restore the presenter's values. */
static void relay_to_one(relay_packet *rp, ah_substream *sub)
{
	const gboolean video = rp->f->video[rp->mindex];
	if (rp->sim != NULL ? !simulcast_pass(rp, sub) : video && g_atomic_int_get(&sub->awaiting_key) && !keyframe_pass(rp, sub))
		return;
	janus_rtp_header *header = (janus_rtp_header *)rp->packet->buffer;
	const uint16_t seq = header->seq_number;
	const uint32_t ts = header->timestamp, ssrc = header->ssrc;
	const unsigned int pt = header->type;
	header->type = sub->out_pt;
	/* `step` is ignored since Janus 1.0 (the gap is measured in wall-clock time on an SSRC
	 * change); Janus's own plugins pass 0. */
	g_mutex_lock(&sub->context_lock);
	janus_rtp_header_update(header, &sub->context, video, 0);
	g_mutex_unlock(&sub->context_lock);
	/* VP8 layers number their pictures independently: keep the attendee's picture ids and
	 * TL0PICIDX continuous across layer switches. */
	if (rp->vp8)
		janus_vp8_simulcast_descriptor_update(rp->payload, rp->plen, &sub->vp8, sub->sim.changed_substream);
	rp->out.mindex = sub->mindex;
	ah_gateway->relay_rtp(sub->attendee->handle, &rp->out);
	header->seq_number = seq;
	header->timestamp = ts;
	header->ssrc = ssrc;
	header->type = pt;
	if (rp->vp8)
		memcpy(rp->payload, rp->vp8pd, sizeof(rp->vp8pd));
}

/* What relaying `packet` to each receiver needs, worked out once. FALSE: a simulcast packet without payload. */
static gboolean relay_packet_init(relay_packet *rp, const ah_fanout *f, int mindex, janus_plugin_rtp *packet)
{
	*rp = (relay_packet){.f = f, .mindex = mindex, .packet = packet, .layer = -1, .key = -1, .usable = {-2, -2, -2}};
	const gboolean video = f->video[mindex];
	rp->out.mindex = -1;
	rp->out.video = video;
	rp->out.buffer = packet->buffer;
	rp->out.length = packet->length;
	/* The core strips the header extensions and writes its own from this struct. */
	janus_plugin_rtp_extensions_reset(&rp->out.extensions);
	if (!video) {
		rp->out.extensions.audio_level = packet->extensions.audio_level;
		rp->out.extensions.audio_level_vad = packet->extensions.audio_level_vad;
	}
	rp->sim = video && g_atomic_int_get(&f->pm->sim[mindex].on) ? &f->pm->sim[mindex] : NULL;
	if (rp->sim != NULL) {
		rp->payload = janus_rtp_payload(packet->buffer, packet->length, &rp->plen);
		if (rp->payload == NULL)
			return FALSE;
		const uint32_t ssrc = ntohl(((janus_rtp_header *)packet->buffer)->ssrc);
		for (int l = 0; l < 3 && rp->layer < 0; l++)
			if (rp->sim->ssrcs[l] != 0 && rp->sim->ssrcs[l] == ssrc)
				rp->layer = l;
		rp->vp8 = f->vcodec[mindex] == JANUS_VIDEOCODEC_VP8 && rp->plen >= (int)sizeof(rp->vp8pd);
		if (rp->vp8)
			memcpy(rp->vp8pd, rp->payload, sizeof(rp->vp8pd));
	}
	return TRUE;
}

/* A cached packet replayed to one receiver (relay-keyframes.c calls it back). */
typedef struct {
	const ah_fanout *f;
	int mindex;
	ah_substream *sub;
} replay_to;

static void replay_emit(const guint8 *pkt, gsize len, gpointer user)
{
	replay_to *to = user;
	char buf[AH_GOP_MAX_PACKET];
	relay_packet rp;
	janus_plugin_rtp packet = {.mindex = to->mindex, .video = TRUE, .buffer = buf, .length = (uint16_t)len};
	memcpy(buf, pkt, len);
	janus_plugin_rtp_extensions_reset(&packet.extensions);
	if (relay_packet_init(&rp, to->f, to->mindex, &packet))
		relay_to_one(&rp, to->sub);
}

/* A receiver starting on a mirror's video stream (an edge's joiner): its GOP from the cache, up to and
 * including this packet, so it starts at once; TRUE when that sent this packet too. No cache usable, or
 * not the caches' thread: a keyframe request upstream (coalesced); the receiver waits for it as usual. */
static gboolean replay_joiner(relay_packet *rp, ah_substream *sub, gboolean replay)
{
	ah_relay_gop *gop = g_atomic_pointer_get(&rp->f->pm->gop);
	replay_to to = { rp->f, rp->mindex, sub };
	gboolean included = FALSE;
	if (gop == NULL || !rp->f->video[rp->mindex] || !g_atomic_int_get(&sub->awaiting_key))
		return FALSE;
	if (!replay) /* a helper's receiver: no replay, so its keyframe comes from upstream (coalesced) */
		return g_atomic_int_set(&rp->f->pm->keyframe[rp->mindex].wanted, 1), FALSE;
	const int layer = rp->sim != NULL ? usable_layer(rp, g_atomic_int_get(&sub->layer_target)) : 0;
	if (!ah_relay_gop_replay(gop, rp->mindex, layer, (const guint8 *)rp->packet->buffer, rp->packet->length,
			g_get_monotonic_time(), replay_emit, &to, &included))
		g_atomic_int_set(&rp->f->pm->keyframe[rp->mindex].wanted, 1);
	return included;
}

/* Relay `packet` (presenter m-line `mindex`) to subs[from .. to) of `f`; `replay`: on the thread that
 * pushes the mirror's caches (never a helper), joiners may be replayed its GOP. */
static void relay_to_receivers(const ah_fanout *f, int mindex, janus_plugin_rtp *packet, guint from, guint to,
	gboolean unordered, gboolean replay)
{
	relay_packet rp;
	if (!relay_packet_init(&rp, f, mindex, packet))
		return;
	gpointer self = g_thread_self();
	for (guint i = from; i < to; i++) {
		ah_substream *sub = f->subs[i];
		if (g_atomic_int_get(&sub->attendee->destroyed) || !g_atomic_int_get(&sub->attendee->media_up))
			continue;
		const gboolean owned = substream_enter(sub, self, unordered);
		if (!replay_joiner(&rp, sub, replay))
			relay_to_one(&rp, sub);
		if (owned)
			substream_leave(sub);
	}
}

/* Presenter thread: count the packet's bytes to its simulcast layer; once a second, publish each
 * layer's bitrate for the layer policy (control thread). */
static int account_layer(ah_simulcast *sim, const janus_plugin_rtp *packet)
{
	const uint32_t ssrc = ntohl(((const janus_rtp_header *)packet->buffer)->ssrc);
	int layer = -1;
	for (int l = 0; l < 3 && layer < 0; l++)
		if (ssrc != 0 && sim->ssrcs[l] == ssrc)
			layer = l;
	if (layer < 0 && sim->rid_ext > 0) {
		char rid[16];
		if (janus_rtp_header_extension_parse_rid(packet->buffer, packet->length, sim->rid_ext, rid, sizeof(rid)) == 0) {
			g_mutex_lock(&sim->rid_lock);
			for (int l = 0; l < 3 && layer < 0; l++) {
				if (sim->rids[l] != NULL && strcmp(sim->rids[l], rid) == 0) {
					sim->ssrcs[l] = ssrc;
					layer = l;
				}
			}
			g_mutex_unlock(&sim->rid_lock);
		}
	}
	const gint64 now = g_get_monotonic_time();
	if (sim->window_start == 0)
		sim->window_start = now;
	if (layer >= 0) {
		sim->bytes[layer] += packet->length;
		__atomic_store_n(&sim->last_at[layer], now, __ATOMIC_RELAXED);
		if (__atomic_load_n(&sim->first_at, __ATOMIC_RELAXED) == 0)
			__atomic_store_n(&sim->first_at, now, __ATOMIC_RELAXED);
	}
	const gint64 elapsed = now - sim->window_start;
	if (elapsed >= G_TIME_SPAN_SECOND) {
		for (int l = 0; l < 3; l++) {
			g_atomic_int_set(&sim->kbps[l], (gint)MIN(sim->bytes[l] * 8 * 1000 / (guint64)elapsed, G_MAXINT));
			sim->bytes[l] = 0;
		}
		sim->window_start = now;
	}
	return layer;
}

/* ---- helper threads ---- */

static void relay_job_run(relay_job *job)
{
	janus_plugin_rtp packet;
	packet.mindex = job->mindex;
	packet.video = job->fanout->video[job->mindex];
	packet.buffer = job->buffer;
	packet.length = (uint16_t)job->length;
	janus_plugin_rtp_extensions_reset(&packet.extensions);
	packet.extensions.audio_level = job->audio_level;
	packet.extensions.audio_level_vad = job->audio_level_vad;
	const ah_fanout *f = job->fanout;
	relay_to_receivers(f, job->mindex, &packet, f->share[job->mindex][job->helper],
		f->share[job->mindex][job->helper + 1], FALSE, FALSE);
	/* Done with this m-line's substreams: the presenter's thread may relay them itself. */
	g_atomic_int_dec_and_test(&f->pm->inflight[job->mindex]);
}

static void relay_job_free(relay_job *job)
{
	fanout_unref(job->fanout);
	g_free(job);
}

static gpointer helper_main(gpointer data)
{
	relay_helper *helper = data;
	for (;;) {
		gpointer item = g_async_queue_pop(helper->queue);
		if (item == &stop_job)
			break;
		relay_job_run(item);
		relay_job_free(item);
		g_atomic_int_dec_and_test(&helper->pending);
	}
	return NULL;
}

/* Presenter thread: hand helper `h`'s share of `f`'s receivers of this packet to it, or drop it
 * for them when its queue is full. */
static void dispatch(ah_fanout *f, int mindex, guint h, const janus_plugin_rtp *packet)
{
	relay_helper *helper = &helpers[h];
	if (g_atomic_int_get(&helper->pending) >= AH_RELAY_QUEUE_MAX) {
		g_atomic_int_inc(&relay_dropped);
		return;
	}
	relay_job *job = g_malloc(sizeof(relay_job) + packet->length);
	janus_refcount_increase(&f->ref);
	job->fanout = f;
	job->mindex = mindex;
	job->helper = h;
	job->audio_level = packet->extensions.audio_level;
	job->audio_level_vad = packet->extensions.audio_level_vad;
	job->length = packet->length;
	memcpy(job->buffer, packet->buffer, packet->length);
	g_atomic_int_inc(&f->pm->inflight[mindex]);
	g_atomic_int_inc(&helper->pending);
	g_async_queue_push(helper->queue, job);
}

gboolean ah_relay_start(guint threads, guint relay_inline_max, char **error)
{
	if (threads > AH_RELAY_MAX_THREADS) {
		*error = g_strdup_printf("relay_threads = %u is more than %d", threads, AH_RELAY_MAX_THREADS);
		return FALSE;
	}
	inline_max = relay_inline_max;
	for (guint h = 0; h < threads; h++) {
		helpers[h].queue = g_async_queue_new();
		helpers[h].pending = 0;
		char name[16];
		g_snprintf(name, sizeof(name), "ah relay %u", h);
		GError *gerror = NULL;
		helpers[h].thread = g_thread_try_new(name, helper_main, &helpers[h], &gerror);
		if (helpers[h].thread == NULL) {
			*error = g_strdup_printf("cannot start relay thread %u: %s", h, gerror ? gerror->message : "?");
			g_clear_error(&gerror);
			g_async_queue_unref(helpers[h].queue);
			helpers[h].queue = NULL;
			n_helpers = h;
			ah_relay_stop();
			return FALSE;
		}
	}
	n_helpers = threads;
	g_atomic_int_set(&helpers_running, threads > 0);
	return TRUE;
}

void ah_relay_stop(void)
{
	g_atomic_int_set(&helpers_running, 0);
	for (guint h = 0; h < n_helpers; h++) {
		if (helpers[h].thread == NULL)
			continue;
		g_async_queue_push(helpers[h].queue, &stop_job);
		g_thread_join(helpers[h].thread);
		helpers[h].thread = NULL;
		/* A presenter thread may still push after the flag: the queue stays (the process is
		 * ending), its jobs are released here or never run. */
		gpointer item;
		while ((item = g_async_queue_try_pop(helpers[h].queue)) != NULL)
			if (item != &stop_job)
				relay_job_free(item);
	}
}

json_t *ah_relay_status(void)
{
	guint queued = 0;
	for (guint h = 0; h < n_helpers; h++)
		queued += (guint)MAX(g_atomic_int_get(&helpers[h].pending), 0);
	return json_pack("{s:i, s:i, s:I, s:I, s:I, s:I}", "threads", (int)n_helpers, "queued", (int)queued, "dropped",
		(json_int_t)(guint)g_atomic_int_get(&relay_dropped), "overlaps", (json_int_t)g_atomic_int_get(&relay_overlaps),
		"keyframe_requests", (json_int_t)(guint)g_atomic_int_get(&keyframe_requests),
		"plis_sent", (json_int_t)(guint)g_atomic_int_get(&plis_sent));
}

/* ---- the relay (presenter's loop thread) ---- */

/* Relay inline or hand to the helpers. An m-line goes back inline only once the helpers have
 * finished every job for it (`inflight` is 0): until then its packets keep going to the helpers even
 * below relay_inline_max, so a substream is rewritten by one thread at a time and in order. Only this
 * thread increments `inflight`, so reading 0 means no job can still touch these substreams, and the
 * helpers' atomic decrement orders their writes before ours. Nothing here waits. */
static void relay_or_dispatch(ah_pubmedia *pm, ah_fanout *f, int mindex, janus_plugin_rtp *packet)
{
	const gboolean running = g_atomic_int_get(&helpers_running);
	const gboolean drained = g_atomic_int_get(&pm->inflight[mindex]) == 0;
	if (drained && (f->count[mindex] < inline_max || !running)) {
		relay_to_receivers(f, mindex, packet, f->first[mindex], f->first[mindex] + f->count[mindex],
			g_atomic_int_get(&pm->inflight[mindex]) > 0, TRUE);
		return;
	}
	if (!running)
		return; /* the helpers are stopping (plugin destroy) with jobs still queued: dropped */
	for (guint h = 0; h < n_helpers; h++)
		if (f->share[mindex][h + 1] > f->share[mindex][h])
			dispatch(f, mindex, h, packet);
}

void ah_relay_rtp(ah_session *presenter, janus_plugin_rtp *packet)
{
	if (presenter == NULL || packet == NULL || packet->buffer == NULL || packet->length < RTP_HEADER_SIZE)
		return;
	ah_pubmedia *pm = g_atomic_pointer_get(&presenter->pub);
	int mindex = packet->mindex;
	if (pm == NULL || mindex < 0 || mindex >= AH_PUB_MAX_STREAMS)
		return;
	ah_fanout *f = fanout_get(pm);
	if (f == NULL)
		return;
	const janus_rtp_header *header = (const janus_rtp_header *)packet->buffer;
	if (f->in_pt[mindex] >= 0 && (int)header->type == f->in_pt[mindex]) {
		int layer = 0;
		if (f->video[mindex]) {
			if (g_atomic_int_get(&pm->sim[mindex].on))
				layer = account_layer(&pm->sim[mindex], packet);
			maybe_send_pli(pm, presenter, mindex);
			maybe_send_remb(pm, presenter);
		}
		ah_relay_gop *gop = f->video[mindex] ? g_atomic_pointer_get(&pm->gop) : NULL;
		if (gop != NULL) /* first, so a joiner replayed from this packet on gets it too */
			ah_relay_gop_push(gop, mindex, layer, (const guint8 *)packet->buffer, packet->length, g_get_monotonic_time());
		if (hooks.forward != NULL && g_atomic_pointer_get(&presenter->uplinks) != NULL && layer >= 0)
			hooks.forward(presenter, packet, layer);
		relay_or_dispatch(pm, f, mindex, packet);
	}
	fanout_unref(f);
}
