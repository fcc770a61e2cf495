/* allhands glue: the media path.
 *
 * Owns each presenter's relay state (struct ah_pubmedia: its current fan-out and keyframe state) and
 * the per-(attendee, m-line) substreams. Threads: ah_relay_rtp runs on the presenter's handle loop
 * thread; the control thread creates substreams and builds and swaps fan-outs; want_keyframe may be
 * called from any thread. Nothing here blocks, waits for the control thread, logs, or allocates per
 * packet; the only lock is ah_pubmedia.lock, held for a pointer swap or a pointer read plus a
 * reference, and never while calling out.
 *
 * DESIGN
 * A fan-out is an immutable, ref-counted snapshot: the presenter's published m-lines (incoming
 * payload type, audio/video) and the substreams that receive each, grouped by presenter m-line
 * (a counting sort at build time) so a packet visits only its own receivers. The control thread
 * builds a new snapshot and swaps the pointer under the lock; the old one is released outside it and
 * lives until the last packet relayed through it is done. The relay takes the snapshot (lock, ref,
 * unlock) once per packet: the lock makes "read the pointer, take a reference" atomic with respect to
 * a swap, which a bare atomic pointer would not. For each receiver it rewrites the packet header in
 * place (payload type, then sequence number and timestamp through the substream's switching
 * context, so they stay continuous across presenter and SSRC changes), hands it to relay_rtp, which
 * copies it, and restores the presenter's values. Keyframe requests are coalesced per stream: any
 * number of wants set one flag; the relay sends one PLI when the flag is set and the last PLI is at
 * least AH_PLI_INTERVAL_US old, so a want inside the interval is served by the first packet after it.
 * A new video substream (a new attendee, or a slot that now carries another presenter or codec)
 * relays nothing until the first keyframe: frames before it cannot be decoded and would only cost
 * the attendee's bandwidth and show as corruption. If no keyframe comes within AH_KEY_WAIT_MAX_US
 * (a codec whose keyframes we cannot spot, a presenter that ignores PLIs), it relays anyway.
 *
 * Lifetimes: a substream holds a reference on its attendee session; fan-outs hold references on
 * substreams. ah_pubmedia_free must only run when no thread can still be in ah_relay_rtp or
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

enum { KEY_CODEC_NONE = 0, KEY_CODEC_VP8, KEY_CODEC_H264, KEY_CODEC_VP9 };

static int key_codec_of(const char *codec)
{
	if (g_ascii_strcasecmp(codec, "vp8") == 0)
		return KEY_CODEC_VP8;
	if (g_ascii_strcasecmp(codec, "h264") == 0)
		return KEY_CODEC_H264;
	if (g_ascii_strcasecmp(codec, "vp9") == 0)
		return KEY_CODEC_VP9;
	return KEY_CODEC_NONE;
}

static gboolean is_keyframe(int key_codec, janus_plugin_rtp *packet)
{
	int plen = 0;
	char *payload = janus_rtp_payload(packet->buffer, packet->length, &plen);
	if (payload == NULL || plen <= 0)
		return FALSE;
	switch (key_codec) {
	case KEY_CODEC_VP8:
		return janus_vp8_is_keyframe(payload, plen);
	case KEY_CODEC_H264:
		return janus_h264_is_keyframe(payload, plen);
	case KEY_CODEC_VP9:
		return janus_vp9_is_keyframe(payload, plen);
	default:
		return TRUE;
	}
}

typedef struct ah_fanout {
	janus_refcount ref;
	int in_pt[AH_PUB_MAX_STREAMS]; /* presenter's payload type; -1: m-line not published */
	gboolean video[AH_PUB_MAX_STREAMS];
	guint first[AH_PUB_MAX_STREAMS]; /* subs[first[i] .. first[i] + count[i]) receive m-line i */
	guint count[AH_PUB_MAX_STREAMS];
	guint n_subs;
	ah_substream *subs[]; /* one reference each */
} ah_fanout;

typedef struct {
	volatile gint wanted; /* any thread sets it, the presenter thread clears it */
	gint64 last_pli;	  /* presenter thread only */
} ah_keyframe;

struct ah_pubmedia {
	GMutex lock;	   /* protects only `fanout` (the pointer) */
	ah_fanout *fanout; /* NULL: nothing published yet; written by the control thread */
	ah_keyframe keyframe[AH_PUB_MAX_STREAMS];
};

/* Builder input (control thread): one substream reference for presenter m-line `mindex`. */
typedef struct {
	int mindex;
	ah_substream *sub;
} fanout_pair;

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
	sub->key_codec = sub->video ? key_codec_of(codec) : KEY_CODEC_NONE;
	sub->awaiting_key = sub->key_codec != KEY_CODEC_NONE;
	g_mutex_init(&sub->context_lock);
	janus_rtp_switching_context_reset(&sub->context);
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
static ah_fanout *fanout_build(const ah_fanout *streams_from, GArray *pairs)
{
	ah_fanout *f = g_malloc0(sizeof(ah_fanout) + pairs->len * sizeof(ah_substream *));
	janus_refcount_init(&f->ref, fanout_free);
	for (int i = 0; i < AH_PUB_MAX_STREAMS; i++) {
		f->in_pt[i] = streams_from != NULL ? streams_from->in_pt[i] : -1;
		f->video[i] = streams_from != NULL ? streams_from->video[i] : FALSE;
	}
	for (guint i = 0; i < pairs->len; i++)
		f->count[g_array_index(pairs, fanout_pair, i).mindex]++;
	guint next[AH_PUB_MAX_STREAMS], at = 0;
	for (int i = 0; i < AH_PUB_MAX_STREAMS; i++) {
		f->first[i] = next[i] = at;
		at += f->count[i];
	}
	for (guint i = 0; i < pairs->len; i++) {
		fanout_pair *p = &g_array_index(pairs, fanout_pair, i);
		f->subs[next[p->mindex]++] = p->sub;
	}
	f->n_subs = pairs->len;
	return f;
}

/* Every substream of `f` with its presenter m-line, each with a new reference. */
static void fanout_collect(const ah_fanout *f, GArray *pairs)
{
	for (int m = 0; f != NULL && m < AH_PUB_MAX_STREAMS; m++) {
		for (guint i = f->first[m]; i < f->first[m] + f->count[m]; i++) {
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

ah_pubmedia *ah_pubmedia_new(void)
{
	ah_pubmedia *pm = g_new0(ah_pubmedia, 1);
	g_mutex_init(&pm->lock);
	return pm;
}

void ah_pubmedia_free(ah_pubmedia *pm)
{
	if (pm == NULL)
		return;
	fanout_swap(pm, NULL);
	g_mutex_clear(&pm->lock);
	g_free(pm);
}

void ah_pubmedia_set_streams(ah_pubmedia *pm, const ah_stream_desc *streams, const int *in_pt, int n)
{
	if (pm == NULL)
		return;
	ah_fanout *old = fanout_get(pm);
	GArray *pairs = g_array_new(FALSE, FALSE, sizeof(fanout_pair));
	fanout_collect(old, pairs);
	fanout_unref(old);
	ah_fanout *f = fanout_build(NULL, pairs);
	g_array_free(pairs, TRUE);
	for (int i = 0; i < n; i++) {
		int m = streams[i].mindex;
		if (m < 0 || m >= AH_PUB_MAX_STREAMS)
			continue; /* beyond what we relay: its packets are dropped */
		f->in_pt[m] = in_pt[i];
		f->video[m] = streams[i].kind == AH_MEDIA_VIDEO;
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

void ah_pubmedia_set_routes(ah_pubmedia *pm, GArray *routes)
{
	if (pm == NULL)
		return;
	GArray *pairs = g_array_new(FALSE, FALSE, sizeof(fanout_pair));
	for (guint i = 0; routes != NULL && i < routes->len; i++) {
		const ah_route *route = &g_array_index(routes, ah_route, i);
		if (route->presenter_mindex < 0 || route->presenter_mindex >= AH_PUB_MAX_STREAMS)
			continue;
		fanout_pair p = {route->presenter_mindex, route_target(route)};
		if (p.sub != NULL)
			g_array_append_val(pairs, p);
	}
	ah_fanout *old = fanout_get(pm);
	ah_fanout *f = fanout_build(old, pairs);
	fanout_unref(old);
	g_array_free(pairs, TRUE);
	fanout_swap(pm, f);
}

void ah_pubmedia_want_keyframe(ah_pubmedia *pm)
{
	if (pm == NULL)
		return;
	/* Audio slots may be flagged too: the relay only looks at video streams' flags. */
	for (int i = 0; i < AH_PUB_MAX_STREAMS; i++)
		g_atomic_int_set(&pm->keyframe[i].wanted, 1);
}

/* ---- the relay (presenter's loop thread) ---- */

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
	ah_gateway->send_pli_stream(presenter->handle, mindex);
}

static void relay_to_receivers(const ah_fanout *f, int mindex, janus_plugin_rtp *packet)
{
	janus_rtp_header *header = (janus_rtp_header *)packet->buffer;
	const uint16_t seq = header->seq_number;
	const uint32_t ts = header->timestamp, ssrc = header->ssrc;
	const unsigned int pt = header->type;
	const gboolean video = f->video[mindex];

	janus_plugin_rtp out;
	out.mindex = -1;
	out.video = video;
	out.buffer = packet->buffer;
	out.length = packet->length;
	/* The core strips the header extensions and writes its own from this struct. */
	janus_plugin_rtp_extensions_reset(&out.extensions);
	if (!video) {
		out.extensions.audio_level = packet->extensions.audio_level;
		out.extensions.audio_level_vad = packet->extensions.audio_level_vad;
	}

	int key = -1; /* is this packet a keyframe's: -1 not looked at yet */
	for (guint i = f->first[mindex]; i < f->first[mindex] + f->count[mindex]; i++) {
		ah_substream *sub = f->subs[i];
		ah_session *attendee = sub->attendee;
		if (g_atomic_int_get(&attendee->destroyed) || !g_atomic_int_get(&attendee->media_up))
			continue;
		if (video && g_atomic_int_get(&sub->awaiting_key)) {
			if (key < 0)
				key = is_keyframe(sub->key_codec, packet);
			if (!key) {
				gint64 now = g_get_monotonic_time();
				if (sub->await_since == 0)
					sub->await_since = now;
				if (now - sub->await_since < AH_KEY_WAIT_MAX_US)
					continue;
			}
			g_atomic_int_set(&sub->awaiting_key, 0);
		}
		header->type = sub->out_pt;
		/* `step` is ignored since Janus 1.0 (the gap is measured in wall-clock time on an SSRC
		 * change); Janus's own plugins pass 0. */
		g_mutex_lock(&sub->context_lock);
		janus_rtp_header_update(header, &sub->context, video, 0);
		g_mutex_unlock(&sub->context_lock);
		out.mindex = sub->mindex;
		ah_gateway->relay_rtp(attendee->handle, &out);
		header->seq_number = seq;
		header->timestamp = ts;
		header->ssrc = ssrc;
		header->type = pt;
	}
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
		if (f->video[mindex])
			maybe_send_pli(pm, presenter, mindex);
		relay_to_receivers(f, mindex, packet);
	}
	fanout_unref(f);
}
