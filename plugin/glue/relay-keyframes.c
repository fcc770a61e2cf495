/* allhands glue: keyframes on the relay: spotting them (Janus's codec helpers), and an edge's keyframe
 * caches around plugin/core/gop.c (issue 14; docs/cluster-media.md, "The edge's keyframe cache").
 *
 * A mirror (an edge's copy of a presenter on another node) keeps, per video stream and simulcast layer,
 * the packets from the last keyframe on. A receiver that starts on that stream is sent the cached GOP
 * at once, through its own rewriting, instead of waiting for a keyframe from the origin: relay.c calls
 * ah_relay_gop_replay with the packet being relayed, and the replay ends with that very packet (pushed
 * first), so live forwarding continues from the next one with nothing skipped or sent twice.
 *
 * Threads: a cache is pushed and replayed on one thread only, the mirror's (the link's receiving
 * thread), when it relays inline (relay.c never replays from a relay helper thread); the control thread
 * makes and frees it (before packets flow, after the mirror is gone). Counters are atomics.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "utils.h"

#include "glue.h"

/* ---- spotting keyframes ---- */

int ah_relay_key_codec(const char *codec)
{
	if (g_ascii_strcasecmp(codec, "vp8") == 0)
		return AH_KEY_CODEC_VP8;
	if (g_ascii_strcasecmp(codec, "h264") == 0)
		return AH_KEY_CODEC_H264;
	if (g_ascii_strcasecmp(codec, "vp9") == 0)
		return AH_KEY_CODEC_VP9;
	return AH_KEY_CODEC_NONE;
}

gboolean ah_relay_is_keyframe(int key_codec, janus_plugin_rtp *packet)
{
	int plen = 0;
	char *payload = janus_rtp_payload(packet->buffer, packet->length, &plen);
	if (payload == NULL || plen <= 0)
		return FALSE;
	switch (key_codec) {
	case AH_KEY_CODEC_VP8:
		return janus_vp8_is_keyframe(payload, plen);
	case AH_KEY_CODEC_H264:
		return janus_h264_is_keyframe(payload, plen);
	case AH_KEY_CODEC_VP9:
		return janus_vp9_is_keyframe(payload, plen);
	default:
		return TRUE;
	}
}

/* ---- an edge's caches ---- */

struct ah_relay_gop {
	ah_gop *streams[AH_MAX_STREAMS]; /* per m-line, NULL: not cached (audio, or a codec gop.c does not know) */
};

static volatile gint replays = 0, replayed_packets = 0, misses = 0, caches = 0;

ah_relay_gop *ah_relay_gop_new(const ah_stream_desc *streams, guint n)
{
	ah_relay_gop *g = g_new0(ah_relay_gop, 1);
	guint made = 0;
	for (guint i = 0; i < n; i++) {
		const ah_stream_desc *d = &streams[i];
		const char *error = NULL;
		ah_gop_codec codec = g_ascii_strcasecmp(d->codec, "vp8") == 0 ? AH_GOP_VP8 :
			g_ascii_strcasecmp(d->codec, "h264") == 0 ? AH_GOP_H264 : 0;
		if (d->kind != AH_MEDIA_VIDEO || codec == 0 || d->mindex < 0 || d->mindex >= AH_MAX_STREAMS)
			continue;
		g->streams[d->mindex] = ah_gop_new(codec, NULL, &error);
		made += g->streams[d->mindex] != NULL;
	}
	if (made == 0) {
		g_free(g);
		return NULL;
	}
	g_atomic_int_add(&caches, (gint)made);
	return g;
}

void ah_relay_gop_free(ah_relay_gop *g)
{
	if (g == NULL)
		return;
	for (int m = 0; m < AH_MAX_STREAMS; m++) {
		if (g->streams[m] != NULL) {
			ah_gop_free(g->streams[m]);
			g_atomic_int_add(&caches, -1);
		}
	}
	g_free(g);
}

void ah_relay_gop_push(ah_relay_gop *g, int mindex, int layer, const guint8 *pkt, gsize len, gint64 now)
{
	if (g != NULL && mindex >= 0 && mindex < AH_MAX_STREAMS && g->streams[mindex] != NULL && layer >= 0 &&
			layer < AH_GOP_LAYERS)
		ah_gop_push(g->streams[mindex], layer, pkt, len, now);
}

/* Same RTP packet: sequence number and SSRC (the link's SSRCs name stream and layer). */
static gboolean same_packet(const guint8 *a, gsize alen, const guint8 *b, gsize blen)
{
	return alen >= 12 && blen >= 12 && memcmp(a + 2, b + 2, 2) == 0 && memcmp(a + 8, b + 8, 4) == 0;
}

gboolean ah_relay_gop_replay(ah_relay_gop *g, int mindex, int layer, const guint8 *current, gsize len, gint64 now,
	void (*emit)(const guint8 *pkt, gsize len, gpointer user), gpointer user, gboolean *included)
{
	ah_gop_replay it;
	const guint8 *pkt;
	gsize plen;
	*included = FALSE;
	if (g == NULL || mindex < 0 || mindex >= AH_MAX_STREAMS || g->streams[mindex] == NULL || layer < 0 ||
			layer >= AH_GOP_LAYERS || !ah_gop_replay_start(g->streams[mindex], layer, now, &it)) {
		g_atomic_int_inc(&misses);
		return FALSE;
	}
	/* One thread pushes and replays: nothing is pushed during this loop, so it ends with DONE. */
	while (ah_gop_replay_next(&it, &pkt, &plen) == AH_GOP_REPLAY_PACKET) {
		emit(pkt, plen, user);
		g_atomic_int_inc(&replayed_packets);
		if (same_packet(pkt, plen, current, len)) {
			*included = TRUE;
			break;
		}
	}
	g_atomic_int_inc(&replays);
	return TRUE;
}

json_t *ah_relay_gop_figures(void)
{
	return json_pack("{s:i, s:i, s:i, s:i}", "caches", g_atomic_int_get(&caches), "replays", g_atomic_int_get(&replays),
		"replayed_packets", g_atomic_int_get(&replayed_packets), "misses", g_atomic_int_get(&misses));
}
