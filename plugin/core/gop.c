/* allhands: an edge's keyframe cache and the coalescing of keyframe requests (include/allhands/gop.h).
 *
 * Owns the RTP and payload parsers that spot keyframes (RFC 3550, RFC 7741, RFC 6184), each layer's
 * cache of packets from its last keyframe on, the replay iterator, and ah_keyreq. Must not call
 * Janus (its VP8/H.264 helpers included), read the clock, log or lock: one thread at a time per
 * ah_gop, time passed in.
 *
 * DESIGN. A layer holds its packets in one byte buffer, in arrival order, with an index of
 * (offset, length, timestamp, marker) entries; both grow by doubling up to the limits, so the
 * memory of a layer is at most max_bytes + max_packets index entries. Frames are told apart by
 * their RTP timestamp: `frame_first` is the index of the current frame's first packet. A frame
 * becomes the layer's keyframe when its key is confirmed (VP8: its first packet is a keyframe's;
 * H.264: an IDR, an SPS and a PPS all seen in the frame); the packets before `frame_first` are
 * then dropped (one memmove, once per keyframe) and the cache starts at the frame's first packet,
 * so the SPS/PPS that came before the IDR in their own packets are kept. Without a keyframe the
 * layer holds only the current frame (it may still become one). A push that would pass a bound
 * drops the GOP but keeps the current frame for the same reason. Every change that moves packets
 * (a new keyframe, a drop, an SSRC change) bumps the layer's generation, which a replay checks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "allhands/gop.h"

/* ---- parsers ---- */

gboolean ah_gop_rtp_parse(const guint8 *pkt, gsize len, ah_gop_rtp *out)
{
	if (pkt == NULL || len < 12 || (pkt[0] >> 6) != 2)
		return FALSE;
	gsize off = 12 + 4 * (gsize)(pkt[0] & 0x0f);
	if (off > len)
		return FALSE;
	if (pkt[0] & 0x10) {
		if (len - off < 4)
			return FALSE;
		gsize ext = 4 * (((gsize)pkt[off + 2] << 8) | pkt[off + 3]);
		off += 4;
		if (ext > len - off)
			return FALSE;
		off += ext;
	}
	gsize plen = len - off;
	if (pkt[0] & 0x20) {
		/* The last byte counts the padding, itself included. */
		guint8 pad = pkt[len - 1];
		if (pad == 0 || pad > plen)
			return FALSE;
		plen -= pad;
	}
	out->marker = (pkt[1] & 0x80) != 0;
	out->pt = pkt[1] & 0x7f;
	out->seq = (guint16)((pkt[2] << 8) | pkt[3]);
	out->ts = ((guint32)pkt[4] << 24) | ((guint32)pkt[5] << 16) | ((guint32)pkt[6] << 8) | pkt[7];
	out->ssrc = ((guint32)pkt[8] << 24) | ((guint32)pkt[9] << 16) | ((guint32)pkt[10] << 8) | pkt[11];
	out->payload_off = off;
	out->payload_len = plen;
	return TRUE;
}

int ah_gop_vp8_parse(const guint8 *p, gsize len)
{
	if (p == NULL || len < 1)
		return -1;
	const gboolean start = (p[0] & 0x10) != 0 && (p[0] & 0x07) == 0;
	gsize i = 1;
	if (p[0] & 0x80) {
		if (i >= len)
			return -1;
		const guint8 x = p[i++];
		if (x & 0x80) { /* I: a 7- or 15-bit picture id */
			if (i >= len)
				return -1;
			i += (p[i] & 0x80) ? 2 : 1;
		}
		if (x & 0x40) /* L: TL0PICIDX */
			i++;
		if (x & 0x30) /* T or K: TID/Y/KEYIDX */
			i++;
	}
	/* A descriptor with no frame data after it is not a VP8 packet. */
	if (i >= len)
		return -1;
	if (!start)
		return 0;
	/* The VP8 payload header (RFC 7741 4.3): P, the low bit of its first byte, is 0 on a keyframe,
	 * whose header goes on with the start code and the frame's size (RFC 6386 9.1). */
	if (p[i] & 0x01)
		return AH_GOP_START;
	if (len - i < 10 || p[i + 3] != 0x9d || p[i + 4] != 0x01 || p[i + 5] != 0x2a)
		return -1;
	return AH_GOP_START | AH_GOP_KEY;
}

/* The bits of one NAL unit type (1..23). */
static int h264_nal_bits(guint8 type)
{
	switch (type) {
	case 5:
		return AH_GOP_KEY;
	case 7:
		return AH_GOP_SPS;
	case 8:
		return AH_GOP_PPS;
	default:
		return 0;
	}
}

static int h264_stap_a(const guint8 *p, gsize len)
{
	int bits = 0;
	gsize i = 1;
	if (i >= len)
		return -1;
	while (i < len) {
		if (len - i < 2)
			return -1;
		const gsize size = ((gsize)p[i] << 8) | p[i + 1];
		i += 2;
		if (size == 0 || size > len - i)
			return -1;
		const guint8 nal = p[i];
		const guint8 type = nal & 0x1f;
		if ((nal & 0x80) || type == 0 || type >= 24)
			return -1;
		bits |= h264_nal_bits(type);
		i += size;
	}
	return bits;
}

int ah_gop_h264_parse(const guint8 *p, gsize len)
{
	if (p == NULL || len < 1 || (p[0] & 0x80))
		return -1;
	const guint8 type = p[0] & 0x1f;
	if (type >= 1 && type <= 23)
		return h264_nal_bits(type);
	switch (type) {
	case 24:
		return h264_stap_a(p, len);
	case 28: {
		/* FU indicator, FU header (S E R type), then at least one byte of the fragment. */
		if (len < 3)
			return -1;
		const guint8 fu = p[1];
		const guint8 inner = fu & 0x1f;
		if ((fu & 0xc0) == 0xc0 || inner == 0 || inner >= 24)
			return -1;
		return (fu & 0x80) ? h264_nal_bits(inner) : 0;
	}
	case 25: /* STAP-B, MTAP16, MTAP24, FU-B: interleaved mode, which WebRTC does not use */
	case 26:
	case 27:
	case 29:
		return 0;
	default: /* 0, 30, 31 */
		return -1;
	}
}

/* ---- the cache ---- */

typedef struct {
	guint32 off;
	guint32 len;
	guint32 ts;
	gboolean marker;
} gop_entry;

typedef struct {
	guint8 *bytes;
	gsize used, cap;
	gop_entry *pkts;
	guint count, pkts_cap;
	gboolean ssrc_known;
	guint32 ssrc;
	/* The current frame: its timestamp, first packet, what it has shown, and whether it lost a
	 * packet to the bounds (then it cannot be a keyframe). */
	gboolean frame_known;
	guint32 frame_ts;
	guint frame_first;
	int frame_bits;
	gboolean frame_lost;
	/* The keyframe at index 0, when has_key. */
	gboolean has_key;
	gboolean key_complete;
	guint32 key_ts;
	gint64 key_at_us;
	guint64 generation;
	ah_gop_stats st;
} gop_layer;

struct ah_gop {
	ah_gop_codec codec;
	ah_gop_limits lim;
	gop_layer layers[AH_GOP_LAYERS];
};

ah_gop *ah_gop_new(ah_gop_codec codec, const ah_gop_limits *limits, const char **error)
{
	const char *why = NULL;
	ah_gop_limits lim = {AH_GOP_DEFAULT_BYTES, AH_GOP_DEFAULT_PACKETS, AH_GOP_DEFAULT_AGE_US};
	if (limits != NULL)
		lim = *limits;
	if (codec != AH_GOP_VP8 && codec != AH_GOP_H264)
		why = "codec must be VP8 or H.264";
	else if (lim.max_bytes < 12 || lim.max_bytes > AH_GOP_MAX_BYTES)
		why = "max_bytes out of range";
	else if (lim.max_packets < 1 || lim.max_packets > AH_GOP_MAX_PACKETS)
		why = "max_packets out of range";
	else if (lim.max_age_us < 1)
		why = "max_age_us must be positive";
	if (error != NULL)
		*error = why;
	if (why != NULL)
		return NULL;
	ah_gop *gop = g_new0(ah_gop, 1);
	gop->codec = codec;
	gop->lim = lim;
	return gop;
}

void ah_gop_free(ah_gop *gop)
{
	if (gop == NULL)
		return;
	for (int i = 0; i < AH_GOP_LAYERS; i++) {
		g_free(gop->layers[i].bytes);
		g_free(gop->layers[i].pkts);
	}
	g_free(gop);
}

/* Drops the packets before index `first` (which becomes index 0). */
static void layer_cut(gop_layer *l, guint first)
{
	if (first == 0)
		return;
	if (first >= l->count) {
		l->count = 0;
		l->used = 0;
	} else {
		const guint32 base = l->pkts[first].off;
		memmove(l->bytes, l->bytes + base, l->used - base);
		l->used -= base;
		memmove(l->pkts, l->pkts + first, (l->count - first) * sizeof(*l->pkts));
		l->count -= first;
		for (guint i = 0; i < l->count; i++)
			l->pkts[i].off -= base;
	}
	l->frame_first = l->frame_first >= first ? l->frame_first - first : 0;
	l->generation++;
}

static void layer_drop(gop_layer *l, ah_gop_drop why)
{
	l->has_key = FALSE;
	l->key_complete = FALSE;
	l->st.drops++;
	l->st.last_drop = why;
	l->generation++;
}

static gboolean layer_fits(const gop_layer *l, const ah_gop_limits *lim, gsize len, ah_gop_drop *why)
{
	if (l->count + 1 > lim->max_packets) {
		*why = AH_GOP_DROP_PACKETS;
		return FALSE;
	}
	if (len > lim->max_bytes - l->used) {
		*why = AH_GOP_DROP_BYTES;
		return FALSE;
	}
	return TRUE;
}

/* Room for one more packet of `len` bytes (within the limits, checked before). */
static void layer_reserve(gop_layer *l, const ah_gop_limits *lim, gsize len)
{
	if (l->count == l->pkts_cap) {
		guint cap = l->pkts_cap ? l->pkts_cap * 2 : 64;
		if (cap > lim->max_packets)
			cap = lim->max_packets;
		l->pkts = g_renew(gop_entry, l->pkts, cap);
		l->pkts_cap = cap;
	}
	if (l->used + len > l->cap) {
		gsize cap = l->cap ? l->cap : 16384;
		while (cap < l->used + len)
			cap *= 2;
		if (cap > lim->max_bytes)
			cap = lim->max_bytes;
		l->bytes = g_realloc(l->bytes, cap);
		l->cap = cap;
	}
}

/* Makes room for the packet: drops the GOP when a bound is hit (keeping the current frame), and the
 * current frame too when even it does not fit. FALSE: the packet cannot be kept. */
static gboolean layer_make_room(gop_layer *l, const ah_gop_limits *lim, gsize len, gint64 now_us,
	gboolean *dropped)
{
	ah_gop_drop why = AH_GOP_DROP_NONE;
	const gboolean old = l->has_key && now_us - l->key_at_us > lim->max_age_us;
	if (old)
		why = AH_GOP_DROP_AGE;
	if (!old && layer_fits(l, lim, len, &why))
		return TRUE;
	if (l->has_key) {
		layer_drop(l, why);
		*dropped = TRUE;
		/* Keep the current frame (it may be the next keyframe), unless it is the keyframe just
		 * dropped: it must not come back at its next packet. */
		if (l->frame_first > 0) {
			layer_cut(l, l->frame_first);
			if (layer_fits(l, lim, len, &why))
				return TRUE;
		}
	}
	/* The current frame alone is too big, or is the dropped keyframe: it cannot start a cache. */
	layer_cut(l, l->count);
	l->frame_lost = TRUE;
	return FALSE;
}

static gboolean key_confirmed(ah_gop_codec codec, int bits)
{
	if (codec == AH_GOP_VP8)
		return (bits & AH_GOP_KEY) != 0;
	return (bits & (AH_GOP_KEY | AH_GOP_SPS | AH_GOP_PPS)) == (AH_GOP_KEY | AH_GOP_SPS | AH_GOP_PPS);
}

ah_gop_result ah_gop_push(ah_gop *gop, int layer, const guint8 *pkt, gsize len, gint64 now_us)
{
	ah_gop_rtp rtp;
	if (gop == NULL)
		return AH_GOP_INVALID;
	if (layer < 0 || layer >= AH_GOP_LAYERS || len > AH_GOP_MAX_PACKET || !ah_gop_rtp_parse(pkt, len, &rtp)) {
		if (layer >= 0 && layer < AH_GOP_LAYERS)
			gop->layers[layer].st.invalid++;
		return AH_GOP_INVALID;
	}
	gop_layer *l = &gop->layers[layer];
	l->st.pushed++;
	gboolean dropped = FALSE;
	if (l->ssrc_known && l->ssrc != rtp.ssrc) {
		if (l->has_key) {
			layer_drop(l, AH_GOP_DROP_SSRC);
			dropped = TRUE;
		}
		layer_cut(l, l->count);
		l->frame_known = FALSE;
	}
	l->ssrc_known = TRUE;
	l->ssrc = rtp.ssrc;

	const guint8 *payload = pkt + rtp.payload_off;
	int bits = gop->codec == AH_GOP_VP8 ? ah_gop_vp8_parse(payload, rtp.payload_len)
		: ah_gop_h264_parse(payload, rtp.payload_len);
	if (bits < 0) {
		l->st.malformed++;
		bits = 0;
	}
	if (!l->frame_known || rtp.ts != l->frame_ts) {
		/* A new frame. Without a keyframe, the frame before it is of no use any more. */
		if (!l->has_key)
			layer_cut(l, l->count);
		l->frame_known = TRUE;
		l->frame_ts = rtp.ts;
		l->frame_first = l->count;
		l->frame_bits = 0;
		l->frame_lost = FALSE;
	}
	/* VP8: a keyframe is only one when its first packet starts the frame we hold. */
	if (gop->codec == AH_GOP_VP8 && (bits & AH_GOP_START) && l->frame_first != l->count)
		bits &= ~AH_GOP_KEY;
	if (l->frame_lost || !layer_make_room(l, &gop->lim, len, now_us, &dropped))
		return dropped ? AH_GOP_DROPPED : AH_GOP_SKIPPED;

	layer_reserve(l, &gop->lim, len);
	memcpy(l->bytes + l->used, pkt, len);
	l->pkts[l->count] = (gop_entry){(guint32)l->used, (guint32)len, rtp.ts, rtp.marker};
	l->used += len;
	l->count++;
	l->frame_bits |= bits;

	ah_gop_result res = dropped ? AH_GOP_DROPPED : AH_GOP_CACHED;
	const gboolean new_key = !(l->has_key && l->key_ts == rtp.ts);
	if (new_key && key_confirmed(gop->codec, l->frame_bits)) {
		layer_cut(l, l->frame_first);
		l->generation++;
		l->has_key = TRUE;
		l->key_complete = FALSE;
		l->key_ts = rtp.ts;
		l->key_at_us = now_us;
		l->st.keyframes++;
		res = AH_GOP_KEYFRAME;
	}
	if (l->has_key && l->key_ts == rtp.ts && rtp.marker)
		l->key_complete = TRUE;
	return res;
}

gboolean ah_gop_usable(const ah_gop *gop, int layer, gint64 now_us)
{
	if (gop == NULL || layer < 0 || layer >= AH_GOP_LAYERS)
		return FALSE;
	const gop_layer *l = &gop->layers[layer];
	return l->has_key && l->count > 0 && now_us - l->key_at_us <= gop->lim.max_age_us;
}

void ah_gop_layer_stats(const ah_gop *gop, int layer, ah_gop_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (gop == NULL || layer < 0 || layer >= AH_GOP_LAYERS)
		return;
	const gop_layer *l = &gop->layers[layer];
	*out = l->st;
	out->has_key = l->has_key;
	out->key_complete = l->key_complete;
	out->packets = l->count;
	out->bytes = l->used;
	out->memory = l->cap + l->pkts_cap * sizeof(gop_entry);
	out->key_at_us = l->has_key ? l->key_at_us : 0;
}

gsize ah_gop_memory(const ah_gop *gop)
{
	if (gop == NULL)
		return 0;
	gsize total = sizeof(*gop);
	for (int i = 0; i < AH_GOP_LAYERS; i++)
		total += gop->layers[i].cap + gop->layers[i].pkts_cap * sizeof(gop_entry);
	return total;
}

/* ---- replay ---- */

gboolean ah_gop_replay_start(const ah_gop *gop, int layer, gint64 now_us, ah_gop_replay *it)
{
	if (it == NULL || !ah_gop_usable(gop, layer, now_us))
		return FALSE;
	it->gop = gop;
	it->layer = layer;
	it->generation = gop->layers[layer].generation;
	it->next = 0;
	return TRUE;
}

ah_gop_replay_step ah_gop_replay_next(ah_gop_replay *it, const guint8 **pkt, gsize *len)
{
	if (it == NULL || it->gop == NULL || it->layer < 0 || it->layer >= AH_GOP_LAYERS)
		return AH_GOP_REPLAY_RESTART;
	const gop_layer *l = &it->gop->layers[it->layer];
	if (l->generation != it->generation || !l->has_key)
		return AH_GOP_REPLAY_RESTART;
	if (it->next >= l->count)
		return AH_GOP_REPLAY_DONE;
	const gop_entry *e = &l->pkts[it->next++];
	*pkt = l->bytes + e->off;
	*len = e->len;
	return AH_GOP_REPLAY_PACKET;
}

/* ---- keyframe requests ---- */

void ah_keyreq_init(ah_keyreq *r, gint64 interval_us)
{
	memset(r, 0, sizeof(*r));
	r->interval_us = interval_us > 0 ? interval_us : AH_KEYREQ_INTERVAL_US;
}

gboolean ah_keyreq_due(ah_keyreq *r, gint64 now_us)
{
	if (!r->wanted)
		return FALSE;
	if (r->sent_once && now_us - r->last_us < r->interval_us)
		return FALSE;
	r->wanted = FALSE;
	r->sent_once = TRUE;
	r->last_us = now_us;
	r->sent++;
	return TRUE;
}

gboolean ah_keyreq_want(ah_keyreq *r, gint64 now_us)
{
	r->wants++;
	r->wanted = TRUE;
	return ah_keyreq_due(r, now_us);
}

gint64 ah_keyreq_due_at(const ah_keyreq *r)
{
	if (!r->wanted)
		return -1;
	return r->sent_once ? r->last_us + r->interval_us : 0;
}

void ah_keyreq_keyframe(ah_keyreq *r)
{
	r->wanted = FALSE;
}
