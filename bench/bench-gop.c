/* allhands: the cost of the edge's keyframe cache (include/allhands/gop.h, issue 14): ns per RTP
 * packet pushed, the cost of a joiner's replay, and the memory a stream holds, for a VP8 and an
 * H.264 stream at 1 Mbps, 30 frames/s, one keyframe every 2 s, and for three simulcast layers
 * (0.15 / 0.5 / 1.5 Mbps). Built and run by `make bench-gop`; the figures are recorded in
 * docs/benchmarks.md ("Edge keyframe cache (issue 14)"). Figures are printed, never asserted; the
 * program exits non-zero only when a functional check fails (no keyframe seen, a replay that does
 * not start at one).
 *
 * The stream is synthetic but laid out like a real one: a keyframe of KEY_SHARE of a GOP's bytes,
 * deltas sharing the rest, packets of at most 1,200 bytes of payload; VP8 with a 4-byte descriptor,
 * H.264 as a STAP-A (SPS, PPS) then the IDR in FU-A fragments and deltas in FU-A or single NAL
 * units. The packets are built before any timing. Each push is timed as part of a whole pass
 * (CLOCK_MONOTONIC); pushes that start a keyframe (they move the cache's kept bytes) are timed
 * one by one as well.
 *
 * Usage: bench-gop [seconds-of-video]   (default 120)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "allhands/gop.h"

#define FPS 30
#define GOP_S 2
#define MTU_PAYLOAD 1200
#define KEY_SHARE 0.25
#define PASSES 5
#define REPLAYS 2000

typedef struct {
	guint8 *data;
	gsize len;
} packet;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void put_rtp(guint8 *out, guint16 seq, guint32 ts, gboolean marker)
{
	out[0] = 0x80;
	out[1] = (marker ? 0x80 : 0) | 96;
	out[2] = seq >> 8;
	out[3] = seq & 0xff;
	out[4] = ts >> 24;
	out[5] = (ts >> 16) & 0xff;
	out[6] = (ts >> 8) & 0xff;
	out[7] = ts & 0xff;
	memset(out + 8, 0x42, 4);
}

/* The packets of one frame of `bytes` bytes. */
static void add_frame(GArray *out, ah_gop_codec codec, guint16 *seq, guint32 ts, gboolean key, gsize bytes)
{
	gsize npk = (bytes + MTU_PAYLOAD - 1) / MTU_PAYLOAD;
	if (npk == 0)
		npk = 1;
	if (codec == AH_GOP_H264 && key) {
		static const guint8 stap[] = {0x78, 0, 5, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0, 4, 0x68, 0xce, 0x3c, 0x80};
		packet p = {g_malloc(12 + sizeof(stap)), 12 + sizeof(stap)};
		put_rtp(p.data, (*seq)++, ts, FALSE);
		memcpy(p.data + 12, stap, sizeof(stap));
		g_array_append_val(out, p);
	}
	for (gsize i = 0; i < npk; i++) {
		gsize body = MIN(bytes - MIN(bytes, i * MTU_PAYLOAD), (gsize)MTU_PAYLOAD);
		if (body < 16)
			body = 16;
		packet p = {g_malloc0(12 + 16 + body), 0};
		guint8 *b = p.data + 12;
		gsize n = 0;
		const gboolean first = i == 0, last = i == npk - 1;
		if (codec == AH_GOP_VP8) {
			b[n++] = 0x80 | (first ? 0x10 : 0);
			b[n++] = 0x80;
			b[n++] = 0x80 | ((ts >> 8) & 0x7f);
			b[n++] = ts & 0xff;
			if (first) {
				const guint8 key_hdr[] = {0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01};
				const guint8 delta_hdr[] = {0x11, 0x02, 0x00};
				memcpy(b + n, key ? key_hdr : delta_hdr, key ? sizeof(key_hdr) : sizeof(delta_hdr));
				n += key ? sizeof(key_hdr) : sizeof(delta_hdr);
			}
		} else if (npk == 1) {
			b[n++] = key ? 0x65 : 0x41;
		} else {
			b[n++] = 0x7c;
			b[n++] = (first ? 0x80 : 0) | (last ? 0x40 : 0) | (key ? 5 : 1);
		}
		memset(b + n, 0xa5, body);
		p.len = 12 + n + body;
		put_rtp(p.data, (*seq)++, ts, last);
		g_array_append_val(out, p);
	}
}

/* `seconds` of one layer at `bps`. */
static GArray *make_stream(ah_gop_codec codec, double bps, int seconds)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(packet));
	const gsize gop_bytes = (gsize)(bps / 8 * GOP_S);
	const gsize key_bytes = (gsize)(gop_bytes * KEY_SHARE);
	const gsize delta_bytes = (gop_bytes - key_bytes) / (FPS * GOP_S - 1);
	guint16 seq = 1;
	for (int f = 0; f < seconds * FPS; f++) {
		const gboolean key = f % (FPS * GOP_S) == 0;
		add_frame(out, codec, &seq, 90000u / FPS * (guint32)f, key, key ? key_bytes : delta_bytes);
	}
	return out;
}

static void free_stream(GArray *s)
{
	for (guint i = 0; i < s->len; i++)
		g_free(g_array_index(s, packet, i).data);
	g_array_free(s, TRUE);
}

static int failures = 0;

/* Pushes, replay, memory of one stream (or of `layers` streams in one ah_gop). */
static void run(const char *name, ah_gop_codec codec, const double *bps, int layers, int seconds)
{
	GArray *streams[AH_GOP_LAYERS];
	gsize total = 0, total_bytes = 0;
	for (int l = 0; l < layers; l++) {
		streams[l] = make_stream(codec, bps[l], seconds);
		total += streams[l]->len;
		for (guint i = 0; i < streams[l]->len; i++)
			total_bytes += g_array_index(streams[l], packet, i).len;
	}
	/* Frame-interleaved order is not needed for the cost: each layer is pushed in turn per pass. */
	double push_ns = 0, key_ns = 0, key_max = 0;
	guint64 key_pushes = 0;
	gsize peak_mem = 0, peak_held = 0;
	guint peak_packets = 0;
	ah_gop *gop = NULL;
	for (int pass = 0; pass < PASSES; pass++) {
		ah_gop_free(gop);
		gop = ah_gop_new(codec, NULL, NULL);
		gint64 t_us = 0;
		double t0 = now_ns();
		for (int l = 0; l < layers; l++) {
			for (guint i = 0; i < streams[l]->len; i++) {
				packet *p = &g_array_index(streams[l], packet, i);
				ah_gop_push(gop, l, p->data, p->len, t_us + (gint64)i * 1000000 / (streams[l]->len / seconds));
			}
		}
		push_ns += now_ns() - t0;
		/* The keyframe pushes alone, on a fresh cache, each timed. */
		ah_gop *k = ah_gop_new(codec, NULL, NULL);
		for (int l = 0; l < layers; l++) {
			for (guint i = 0; i < streams[l]->len; i++) {
				packet *p = &g_array_index(streams[l], packet, i);
				gint64 at = (gint64)i * 1000000 / (streams[l]->len / seconds);
				ah_gop_stats before;
				ah_gop_layer_stats(k, l, &before);
				double a = now_ns();
				ah_gop_result r = ah_gop_push(k, l, p->data, p->len, at);
				double d = now_ns() - a;
				if (r == AH_GOP_KEYFRAME) {
					key_ns += d;
					key_max = MAX(key_max, d);
					key_pushes++;
					/* Just before a keyframe: the most the layer holds. */
					peak_held = MAX(peak_held, before.bytes);
					peak_packets = MAX(peak_packets, before.packets);
				}
				peak_mem = MAX(peak_mem, ah_gop_memory(k));
			}
		}
		ah_gop_free(k);
	}
	ah_gop_stats st;
	ah_gop_layer_stats(gop, layers - 1, &st);
	if (st.keyframes == 0 || st.drops != 0) {
		fprintf(stderr, "%s: %" G_GUINT64_FORMAT " keyframes, %" G_GUINT64_FORMAT " drops\n", name, st.keyframes, st.drops);
		failures++;
	}
	/* Replay: the top layer's cache as it is at the end (the GOP's last frame in), copied out
	 * packet by packet as the edge would hand it to the relay. */
	guint8 *scratch = g_malloc(AH_GOP_MAX_PACKET);
	guint replay_pkts = 0;
	gsize replay_bytes = 0;
	double t0 = now_ns();
	for (int r = 0; r < REPLAYS; r++) {
		ah_gop_replay it;
		const guint8 *pkt;
		gsize len;
		if (!ah_gop_replay_start(gop, layers - 1, st.key_at_us, &it)) {
			failures++;
			break;
		}
		replay_pkts = 0;
		replay_bytes = 0;
		while (ah_gop_replay_next(&it, &pkt, &len) == AH_GOP_REPLAY_PACKET) {
			memcpy(scratch, pkt, len);
			replay_pkts++;
			replay_bytes += len;
		}
	}
	double replay_ns = (now_ns() - t0) / REPLAYS;
	g_free(scratch);
	ah_gop_free(gop);

	printf("%-34s %8.1f ns/push  keyframe push %7.0f ns avg %7.0f max  replay %4u pkts %7zu B: %8.0f ns (%5.1f ns/pkt)"
		"  memory %7zu B (held %6zu B, %4u pkts)\n",
		name, push_ns / PASSES / total, key_pushes ? key_ns / key_pushes : 0.0, key_max,
		replay_pkts, replay_bytes, replay_ns, replay_pkts ? replay_ns / replay_pkts : 0.0, peak_mem, peak_held, peak_packets);
	(void)total_bytes;
	for (int l = 0; l < layers; l++)
		free_stream(streams[l]);
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 120;
	if (seconds < GOP_S * 2 || seconds > 3600) {
		fprintf(stderr, "usage: bench-gop [seconds-of-video 4..3600]\n");
		return 2;
	}
	printf("# %d s of video per pass, %d passes, %d fps, keyframe every %d s (%.0f%% of a GOP's bytes), "
		"payloads <= %d B, default limits (%d B, %d packets, %" G_GINT64_FORMAT " us)\n",
		seconds, PASSES, FPS, GOP_S, KEY_SHARE * 100, MTU_PAYLOAD, AH_GOP_DEFAULT_BYTES, AH_GOP_DEFAULT_PACKETS,
		AH_GOP_DEFAULT_AGE_US);
	const double one[1] = {1e6};
	const double sim[3] = {150e3, 500e3, 1.5e6};
	run("VP8 1 Mbps", AH_GOP_VP8, one, 1, seconds);
	run("H.264 1 Mbps", AH_GOP_H264, one, 1, seconds);
	run("VP8 simulcast 0.15+0.5+1.5 Mbps", AH_GOP_VP8, sim, 3, seconds);
	run("H.264 simulcast 0.15+0.5+1.5 Mbps", AH_GOP_H264, sim, 3, seconds);
	return failures ? 1 : 0;
}
