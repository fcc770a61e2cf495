/* allhands: unit tests of the edge's keyframe cache (include/allhands/gop.h, plugin/core/gop.c):
 * keyframe detection on VP8 and H.264 payloads laid out by hand from RFC 7741 and RFC 6184, RTP
 * header parsing, the cache's content and bounds, replay order, simulcast layers kept apart, and
 * the coalescing of keyframe requests across edges and the origin.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "allhands/gop.h"

#define MS G_GINT64_CONSTANT(1000)

/* ---- building packets ---- */

/* A VP8 payload: descriptor with X=1, I=1 (15-bit picture id), then the payload header when S=1
 * and PID=0, then `body` bytes of frame data. */
static gsize vp8_payload(guint8 *out, gboolean start, gboolean key, guint16 picid, gsize body)
{
	gsize n = 0;
	out[n++] = 0x80 | (start ? 0x10 : 0); /* X, S, PID 0 */
	out[n++] = 0x80;                      /* I */
	out[n++] = 0x80 | ((picid >> 8) & 0x7f);
	out[n++] = picid & 0xff;
	if (start) {
		/* Frame tag: P (bit 0) = 0 on a keyframe, show_frame, first partition size. */
		out[n++] = key ? 0x10 : 0x11;
		out[n++] = 0x02;
		out[n++] = 0x00;
		if (key) {
			out[n++] = 0x9d;
			out[n++] = 0x01;
			out[n++] = 0x2a;
			out[n++] = 0x80; /* width 640 */
			out[n++] = 0x02;
			out[n++] = 0x68; /* height 360 */
			out[n++] = 0x01;
		}
	}
	for (gsize i = 0; i < body; i++)
		out[n++] = (guint8)(0xa0 + i);
	return n;
}

/* An RTP packet around a payload. */
static gsize rtp(guint8 *out, guint16 seq, guint32 ts, guint32 ssrc, gboolean marker,
	const guint8 *payload, gsize plen)
{
	out[0] = 0x80;
	out[1] = (marker ? 0x80 : 0) | 96;
	out[2] = seq >> 8;
	out[3] = seq & 0xff;
	out[4] = ts >> 24;
	out[5] = (ts >> 16) & 0xff;
	out[6] = (ts >> 8) & 0xff;
	out[7] = ts & 0xff;
	out[8] = ssrc >> 24;
	out[9] = (ssrc >> 16) & 0xff;
	out[10] = (ssrc >> 8) & 0xff;
	out[11] = ssrc & 0xff;
	memcpy(out + 12, payload, plen);
	return 12 + plen;
}

typedef struct {
	ah_gop *gop;
	guint16 seq[AH_GOP_LAYERS];
	guint32 ssrc[AH_GOP_LAYERS];
} feed;

static void feed_init(feed *f, ah_gop_codec codec, const ah_gop_limits *lim)
{
	memset(f, 0, sizeof(*f));
	const char *error = "unset";
	f->gop = ah_gop_new(codec, lim, &error);
	g_assert_nonnull(f->gop);
	g_assert_null(error);
	for (int i = 0; i < AH_GOP_LAYERS; i++) {
		f->seq[i] = (guint16)(1000 * (i + 1));
		f->ssrc[i] = 0x1000 + (guint32)i;
	}
}

/* One VP8 frame of `packets` packets (each with `body` bytes of data) on `layer`. */
static ah_gop_result vp8_frame(feed *f, int layer, guint32 ts, gboolean key, int packets, gsize body, gint64 now)
{
	guint8 payload[1400], pkt[1500];
	ah_gop_result last = AH_GOP_INVALID;
	gboolean any_key = FALSE, any_drop = FALSE;
	for (int i = 0; i < packets; i++) {
		gsize plen = vp8_payload(payload, i == 0, key, (guint16)ts, body);
		gsize len = rtp(pkt, f->seq[layer]++, ts, f->ssrc[layer], i == packets - 1, payload, plen);
		last = ah_gop_push(f->gop, layer, pkt, len, now);
		g_assert_cmpint(last, !=, AH_GOP_INVALID);
		any_key |= last == AH_GOP_KEYFRAME;
		any_drop |= last == AH_GOP_DROPPED;
	}
	return any_drop ? AH_GOP_DROPPED : any_key ? AH_GOP_KEYFRAME : last;
}

/* The replay of `layer` as (seq, ts) pairs; -1 when the layer is not usable. */
static int replay_seqs(const ah_gop *gop, int layer, gint64 now, guint16 *seqs, guint32 *tss, int max)
{
	ah_gop_replay it;
	if (!ah_gop_replay_start(gop, layer, now, &it))
		return -1;
	int n = 0;
	const guint8 *pkt;
	gsize len;
	ah_gop_replay_step step;
	while ((step = ah_gop_replay_next(&it, &pkt, &len)) == AH_GOP_REPLAY_PACKET) {
		ah_gop_rtp h;
		g_assert_true(ah_gop_rtp_parse(pkt, len, &h));
		g_assert_cmpint(n, <, max);
		seqs[n] = h.seq;
		tss[n] = h.ts;
		n++;
	}
	g_assert_cmpint(step, ==, AH_GOP_REPLAY_DONE);
	return n;
}

/* ---- parsers ---- */

static void test_rtp_parse(void)
{
	guint8 pkt[64] = {0};
	guint8 payload[4] = {1, 2, 3, 4};
	ah_gop_rtp h;
	gsize len = rtp(pkt, 0xabcd, 0x01020304, 0xdeadbeef, TRUE, payload, 4);
	g_assert_true(ah_gop_rtp_parse(pkt, len, &h));
	g_assert_cmpuint(h.seq, ==, 0xabcd);
	g_assert_cmpuint(h.ts, ==, 0x01020304);
	g_assert_cmpuint(h.ssrc, ==, 0xdeadbeef);
	g_assert_true(h.marker);
	g_assert_cmpuint(h.pt, ==, 96);
	g_assert_cmpuint(h.payload_off, ==, 12);
	g_assert_cmpuint(h.payload_len, ==, 4);
	/* One CSRC, a one-word extension, two bytes of padding. */
	guint8 x[40] = {0xb1, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, /* CSRC */ 9, 9, 9, 9,
		/* extension 0xbede, 1 word */ 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0, /* payload */ 7, 8, 0, 2};
	g_assert_true(ah_gop_rtp_parse(x, 28, &h));
	g_assert_cmpuint(h.payload_off, ==, 24);
	g_assert_cmpuint(h.payload_len, ==, 2);
	/* Cut inside the extension, padding longer than the payload, zero padding, version 1, short. */
	g_assert_false(ah_gop_rtp_parse(x, 22, &h));
	x[27] = 5;
	g_assert_false(ah_gop_rtp_parse(x, 28, &h));
	x[27] = 0;
	g_assert_false(ah_gop_rtp_parse(x, 28, &h));
	pkt[0] = 0x40;
	g_assert_false(ah_gop_rtp_parse(pkt, len, &h));
	pkt[0] = 0x8f; /* 15 CSRCs in a 16-byte packet */
	g_assert_false(ah_gop_rtp_parse(pkt, len, &h));
	g_assert_false(ah_gop_rtp_parse(pkt, 11, &h));
	g_assert_false(ah_gop_rtp_parse(NULL, 100, &h));
}

static void test_vp8_parse(void)
{
	guint8 p[64];
	gsize n = vp8_payload(p, TRUE, TRUE, 300, 5);
	g_assert_cmpint(ah_gop_vp8_parse(p, n), ==, AH_GOP_START | AH_GOP_KEY);
	n = vp8_payload(p, TRUE, FALSE, 301, 5);
	g_assert_cmpint(ah_gop_vp8_parse(p, n), ==, AH_GOP_START); /* delta frame */
	n = vp8_payload(p, FALSE, FALSE, 301, 5);
	g_assert_cmpint(ah_gop_vp8_parse(p, n), ==, 0);            /* middle of a frame */
	/* The shortest descriptor (no X) on a keyframe. */
	guint8 small[11] = {0x10, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01};
	g_assert_cmpint(ah_gop_vp8_parse(small, 11), ==, AH_GOP_START | AH_GOP_KEY);
	/* S=1 but partition 1: not a frame's start. */
	small[0] = 0x11;
	g_assert_cmpint(ah_gop_vp8_parse(small, 11), ==, 0);
	small[0] = 0x10;
	/* A keyframe without its start code, or cut before its size. */
	small[5] = 0x02;
	g_assert_cmpint(ah_gop_vp8_parse(small, 11), ==, -1);
	small[5] = 0x01;
	g_assert_cmpint(ah_gop_vp8_parse(small, 10), ==, -1);
	/* Every truncation of a full descriptor: never a keyframe, never out of bounds (ASan). */
	n = vp8_payload(p, TRUE, TRUE, 300, 0);
	for (gsize cut = 0; cut < n; cut++) {
		guint8 *copy = g_memdup2(p, cut);
		g_assert_cmpint(ah_gop_vp8_parse(copy, cut), ==, -1);
		g_free(copy);
	}
	/* X with L, T and K: the descriptor is 1 + 1 + 2 + 1 + 1 bytes. */
	guint8 full[] = {0x90, 0xf0, 0x81, 0x00, 0x05, 0x40, 0x11, 0x02, 0x00, 0xaa};
	g_assert_cmpint(ah_gop_vp8_parse(full, sizeof(full)), ==, AH_GOP_START);
	g_assert_cmpint(ah_gop_vp8_parse(full, 6), ==, -1);
	g_assert_cmpint(ah_gop_vp8_parse(NULL, 4), ==, -1);
}

static void test_h264_parse(void)
{
	/* Single NAL units: IDR (type 5, NRI 3), non-IDR slice (1), SPS (7), PPS (8), SEI (6). */
	const guint8 idr[] = {0x65, 0x88, 0x80, 0x40};
	const guint8 slice[] = {0x41, 0x9a, 0x02};
	const guint8 sps[] = {0x67, 0x42, 0xc0, 0x1f, 0xda};
	const guint8 pps[] = {0x68, 0xce, 0x3c, 0x80};
	const guint8 sei[] = {0x06, 0x05, 0x01};
	g_assert_cmpint(ah_gop_h264_parse(idr, sizeof(idr)), ==, AH_GOP_KEY);
	g_assert_cmpint(ah_gop_h264_parse(slice, sizeof(slice)), ==, 0);
	g_assert_cmpint(ah_gop_h264_parse(sps, sizeof(sps)), ==, AH_GOP_SPS);
	g_assert_cmpint(ah_gop_h264_parse(pps, sizeof(pps)), ==, AH_GOP_PPS);
	g_assert_cmpint(ah_gop_h264_parse(sei, sizeof(sei)), ==, 0);
	/* STAP-A (type 24) with SPS, PPS and IDR, each after its 16-bit size. */
	guint8 stap[] = {0x78, 0, 5, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0, 4, 0x68, 0xce, 0x3c, 0x80,
		0, 4, 0x65, 0x88, 0x80, 0x40};
	g_assert_cmpint(ah_gop_h264_parse(stap, sizeof(stap)), ==, AH_GOP_SPS | AH_GOP_PPS | AH_GOP_KEY);
	/* STAP-A with SPS and PPS only (the IDR follows in its own packets). */
	g_assert_cmpint(ah_gop_h264_parse(stap, 14), ==, AH_GOP_SPS | AH_GOP_PPS);
	/* Every truncation inside a unit is malformed (a unit running past the end). */
	for (gsize cut = 1; cut < sizeof(stap); cut++) {
		if (cut == 8 || cut == 14)
			continue; /* cuts between units are valid, shorter STAP-As */
		guint8 *copy = g_memdup2(stap, cut);
		g_assert_cmpint(ah_gop_h264_parse(copy, cut), ==, -1);
		g_free(copy);
	}
	/* A zero-size unit; a unit with the forbidden bit; an aggregated STAP-A. */
	guint8 bad[] = {0x78, 0, 0, 0x67};
	g_assert_cmpint(ah_gop_h264_parse(bad, sizeof(bad)), ==, -1);
	guint8 bad2[] = {0x78, 0, 2, 0xe5, 0x88};
	g_assert_cmpint(ah_gop_h264_parse(bad2, sizeof(bad2)), ==, -1);
	bad2[3] = 0x78;
	g_assert_cmpint(ah_gop_h264_parse(bad2, sizeof(bad2)), ==, -1);
	/* FU-A (type 28) of an IDR: start, middle, end. */
	guint8 fu[] = {0x7c, 0x85, 0xb8, 0x00};
	g_assert_cmpint(ah_gop_h264_parse(fu, sizeof(fu)), ==, AH_GOP_KEY);
	fu[1] = 0x05;
	g_assert_cmpint(ah_gop_h264_parse(fu, sizeof(fu)), ==, 0);
	fu[1] = 0x45;
	g_assert_cmpint(ah_gop_h264_parse(fu, sizeof(fu)), ==, 0);
	/* FU-A of a non-IDR slice start; start and end together; no fragment; inner type 0. */
	fu[1] = 0x81;
	g_assert_cmpint(ah_gop_h264_parse(fu, sizeof(fu)), ==, 0);
	fu[1] = 0xc5;
	g_assert_cmpint(ah_gop_h264_parse(fu, sizeof(fu)), ==, -1);
	fu[1] = 0x85;
	g_assert_cmpint(ah_gop_h264_parse(fu, 2), ==, -1);
	fu[1] = 0x80;
	g_assert_cmpint(ah_gop_h264_parse(fu, sizeof(fu)), ==, -1);
	/* Forbidden bit, reserved types, empty, STAP-B / FU-B (not WebRTC's). */
	const guint8 forbidden[] = {0xe5, 0x00};
	const guint8 t0[] = {0x60, 0x00}, t30[] = {0x7e, 0x00}, stapb[] = {0x79, 0x00}, fub[] = {0x7d, 0x85, 0, 0, 0};
	g_assert_cmpint(ah_gop_h264_parse(forbidden, 2), ==, -1);
	g_assert_cmpint(ah_gop_h264_parse(t0, 2), ==, -1);
	g_assert_cmpint(ah_gop_h264_parse(t30, 2), ==, -1);
	g_assert_cmpint(ah_gop_h264_parse(stapb, 2), ==, 0);
	g_assert_cmpint(ah_gop_h264_parse(fub, 5), ==, 0);
	g_assert_cmpint(ah_gop_h264_parse(idr, 0), ==, -1);
	g_assert_cmpint(ah_gop_h264_parse(NULL, 3), ==, -1);
}

/* ---- the cache ---- */

static void test_new_limits(void)
{
	const char *error = NULL;
	ah_gop_limits lim = {100, 10, 1000};
	g_assert_null(ah_gop_new(7, NULL, &error));
	g_assert_nonnull(error);
	lim.max_bytes = 4;
	g_assert_null(ah_gop_new(AH_GOP_VP8, &lim, &error));
	g_assert_cmpstr(error, ==, "max_bytes out of range");
	lim.max_bytes = 100;
	lim.max_packets = 0;
	g_assert_null(ah_gop_new(AH_GOP_VP8, &lim, &error));
	g_assert_cmpstr(error, ==, "max_packets out of range");
	lim.max_packets = 10;
	lim.max_age_us = 0;
	g_assert_null(ah_gop_new(AH_GOP_VP8, &lim, &error));
	g_assert_cmpstr(error, ==, "max_age_us must be positive");
	ah_gop *g = ah_gop_new(AH_GOP_H264, NULL, &error);
	g_assert_nonnull(g);
	g_assert_null(error);
	/* Nothing allocated before a packet. */
	g_assert_cmpuint(ah_gop_memory(g), <, 1024);
	guint8 pkt[20] = {0x80};
	g_assert_cmpint(ah_gop_push(g, 3, pkt, 20, 0), ==, AH_GOP_INVALID);
	g_assert_cmpint(ah_gop_push(g, -1, pkt, 20, 0), ==, AH_GOP_INVALID);
	g_assert_cmpint(ah_gop_push(g, 0, pkt, 5, 0), ==, AH_GOP_INVALID);
	g_assert_false(ah_gop_usable(g, 0, 0));
	ah_gop_stats st;
	ah_gop_layer_stats(g, 0, &st);
	g_assert_cmpuint(st.invalid, ==, 1);
	g_assert_cmpuint(st.pushed, ==, 0);
	ah_gop_free(g);
	ah_gop_free(NULL);
}

/* VP8: deltas before any keyframe are not kept; a keyframe over 3 packets then deltas are, in
 * order; the next keyframe replaces them. */
static void test_vp8_cache(void)
{
	feed f;
	feed_init(&f, AH_GOP_VP8, NULL);
	guint16 seqs[64];
	guint32 tss[64];
	g_assert_cmpint(vp8_frame(&f, 0, 3000, FALSE, 2, 100, 0), ==, AH_GOP_CACHED);
	g_assert_false(ah_gop_usable(f.gop, 0, 0));
	g_assert_cmpint(replay_seqs(f.gop, 0, 0, seqs, tss, 64), ==, -1);
	/* The keyframe at 33 ms, 3 packets (seq 1002..1004). */
	g_assert_cmpint(vp8_frame(&f, 0, 6000, TRUE, 3, 1000, 33 * MS), ==, AH_GOP_KEYFRAME);
	ah_gop_stats st;
	ah_gop_layer_stats(f.gop, 0, &st);
	g_assert_true(st.has_key);
	g_assert_true(st.key_complete);
	g_assert_cmpuint(st.packets, ==, 3);
	g_assert_cmpuint(st.keyframes, ==, 1);
	/* Two deltas of 2 packets. */
	g_assert_cmpint(vp8_frame(&f, 0, 9000, FALSE, 2, 200, 66 * MS), ==, AH_GOP_CACHED);
	g_assert_cmpint(vp8_frame(&f, 0, 12000, FALSE, 2, 200, 99 * MS), ==, AH_GOP_CACHED);
	g_assert_cmpint(replay_seqs(f.gop, 0, 100 * MS, seqs, tss, 64), ==, 7);
	for (int i = 0; i < 7; i++)
		g_assert_cmpuint(seqs[i], ==, 1002 + i);
	g_assert_cmpuint(tss[0], ==, 6000);
	g_assert_cmpuint(tss[2], ==, 6000);
	g_assert_cmpuint(tss[3], ==, 9000);
	g_assert_cmpuint(tss[6], ==, 12000);
	/* The first packet replayed is the keyframe's. */
	ah_gop_replay it;
	const guint8 *pkt;
	gsize len;
	ah_gop_rtp h;
	g_assert_true(ah_gop_replay_start(f.gop, 0, 100 * MS, &it));
	g_assert_cmpint(ah_gop_replay_next(&it, &pkt, &len), ==, AH_GOP_REPLAY_PACKET);
	g_assert_true(ah_gop_rtp_parse(pkt, len, &h));
	g_assert_cmpint(ah_gop_vp8_parse(pkt + h.payload_off, h.payload_len), ==, AH_GOP_START | AH_GOP_KEY);
	/* The next keyframe drops the old GOP. */
	g_assert_cmpint(vp8_frame(&f, 0, 15000, TRUE, 2, 1000, 132 * MS), ==, AH_GOP_KEYFRAME);
	g_assert_cmpint(ah_gop_replay_next(&it, &pkt, &len), ==, AH_GOP_REPLAY_RESTART);
	g_assert_cmpint(replay_seqs(f.gop, 0, 140 * MS, seqs, tss, 64), ==, 2);
	g_assert_cmpuint(seqs[0], ==, 1009);
	g_assert_cmpuint(tss[1], ==, 15000);
	ah_gop_stats st2;
	ah_gop_layer_stats(f.gop, 0, &st2);
	g_assert_cmpuint(st2.keyframes, ==, 2);
	g_assert_cmpuint(st2.bytes, <, st.memory);
	/* A keyframe whose first packet was lost is not one: the frame is kept only as a delta. */
	f.seq[0]++;
	guint8 payload[64], raw[128];
	gsize plen = vp8_payload(payload, FALSE, FALSE, 9, 50);
	gsize rlen = rtp(raw, f.seq[0]++, 18000, f.ssrc[0], TRUE, payload, plen);
	g_assert_cmpint(ah_gop_push(f.gop, 0, raw, rlen, 165 * MS), ==, AH_GOP_CACHED);
	g_assert_cmpint(replay_seqs(f.gop, 0, 170 * MS, seqs, tss, 64), ==, 3);
	g_assert_cmpuint(seqs[0], ==, 1009);
	ah_gop_free(f.gop);
}

/* A replay catches up with packets pushed while it runs, then says DONE: the seam. */
static void test_replay_catch_up(void)
{
	feed f;
	feed_init(&f, AH_GOP_VP8, NULL);
	vp8_frame(&f, 0, 3000, TRUE, 2, 500, 0);
	ah_gop_replay it;
	const guint8 *pkt;
	gsize len;
	ah_gop_rtp h;
	g_assert_true(ah_gop_replay_start(f.gop, 0, 0, &it));
	g_assert_cmpint(ah_gop_replay_next(&it, &pkt, &len), ==, AH_GOP_REPLAY_PACKET);
	vp8_frame(&f, 0, 6000, FALSE, 1, 100, 33 * MS);
	g_assert_cmpint(ah_gop_replay_next(&it, &pkt, &len), ==, AH_GOP_REPLAY_PACKET);
	g_assert_true(ah_gop_rtp_parse(pkt, len, &h));
	g_assert_cmpuint(h.seq, ==, 1001);
	g_assert_cmpint(ah_gop_replay_next(&it, &pkt, &len), ==, AH_GOP_REPLAY_PACKET);
	g_assert_true(ah_gop_rtp_parse(pkt, len, &h));
	g_assert_cmpuint(h.seq, ==, 1002);
	g_assert_cmpuint(h.ts, ==, 6000);
	g_assert_cmpint(ah_gop_replay_next(&it, &pkt, &len), ==, AH_GOP_REPLAY_DONE);
	/* DONE is not final: a packet pushed later is given to a replay that was not stopped. */
	vp8_frame(&f, 0, 9000, FALSE, 1, 100, 66 * MS);
	g_assert_cmpint(ah_gop_replay_next(&it, &pkt, &len), ==, AH_GOP_REPLAY_PACKET);
	g_assert_cmpint(ah_gop_replay_next(&it, &pkt, &len), ==, AH_GOP_REPLAY_DONE);
	g_assert_cmpint(ah_gop_replay_next(NULL, &pkt, &len), ==, AH_GOP_REPLAY_RESTART);
	ah_gop_free(f.gop);

	/* A bound hit during a replay: RESTART, and the replay cannot start again before a keyframe. */
	ah_gop_limits lim = {4000, 100, 10000 * MS};
	feed_init(&f, AH_GOP_VP8, &lim);
	vp8_frame(&f, 0, 3000, TRUE, 2, 1000, 0);
	g_assert_true(ah_gop_replay_start(f.gop, 0, 0, &it));
	g_assert_cmpint(ah_gop_replay_next(&it, &pkt, &len), ==, AH_GOP_REPLAY_PACKET);
	g_assert_cmpint(vp8_frame(&f, 0, 6000, FALSE, 2, 1000, 33 * MS), ==, AH_GOP_DROPPED);
	g_assert_cmpint(ah_gop_replay_next(&it, &pkt, &len), ==, AH_GOP_REPLAY_RESTART);
	g_assert_false(ah_gop_replay_start(f.gop, 0, 33 * MS, &it));
	ah_gop_free(f.gop);
}

/* Bounds: bytes, packets and age each drop the cache and say so; the next keyframe restores it. */
static void test_bounds(void)
{
	guint16 seqs[64];
	guint32 tss[64];
	ah_gop_stats st;
	feed f;
	/* Bytes: 5 packets of ~1,000 bytes fit in 5,500, the sixth does not. */
	ah_gop_limits lim = {5500, 100, 10000 * MS};
	feed_init(&f, AH_GOP_VP8, &lim);
	g_assert_cmpint(vp8_frame(&f, 0, 3000, TRUE, 3, 1000, 0), ==, AH_GOP_KEYFRAME);
	g_assert_cmpint(vp8_frame(&f, 0, 6000, FALSE, 2, 1000, 33 * MS), ==, AH_GOP_CACHED);
	g_assert_cmpint(vp8_frame(&f, 0, 9000, FALSE, 1, 1000, 66 * MS), ==, AH_GOP_DROPPED);
	ah_gop_layer_stats(f.gop, 0, &st);
	g_assert_false(st.has_key);
	g_assert_cmpuint(st.drops, ==, 1);
	g_assert_cmpint(st.last_drop, ==, AH_GOP_DROP_BYTES);
	g_assert_cmpuint(st.memory, <=, 5500 + 100 * 16);
	g_assert_false(ah_gop_usable(f.gop, 0, 66 * MS));
	g_assert_cmpint(replay_seqs(f.gop, 0, 66 * MS, seqs, tss, 64), ==, -1);
	/* Deltas after a drop are not kept beyond their own frame. */
	g_assert_cmpint(vp8_frame(&f, 0, 12000, FALSE, 1, 1000, 99 * MS), ==, AH_GOP_CACHED);
	ah_gop_layer_stats(f.gop, 0, &st);
	g_assert_cmpuint(st.packets, ==, 1);
	g_assert_cmpint(vp8_frame(&f, 0, 15000, TRUE, 2, 1000, 132 * MS), ==, AH_GOP_KEYFRAME);
	g_assert_cmpint(replay_seqs(f.gop, 0, 132 * MS, seqs, tss, 64), ==, 2);
	/* A keyframe bigger than the bound cannot be kept at all. */
	g_assert_cmpint(vp8_frame(&f, 0, 18000, TRUE, 7, 1000, 165 * MS), ==, AH_GOP_DROPPED);
	g_assert_false(ah_gop_usable(f.gop, 0, 165 * MS));
	ah_gop_layer_stats(f.gop, 0, &st);
	g_assert_cmpuint(st.packets, ==, 0);
	ah_gop_free(f.gop);

	/* Packets: 4 at most. */
	ah_gop_limits plim = {1 << 20, 4, 10000 * MS};
	feed_init(&f, AH_GOP_VP8, &plim);
	vp8_frame(&f, 0, 3000, TRUE, 2, 10, 0);
	g_assert_cmpint(vp8_frame(&f, 0, 6000, FALSE, 2, 10, 33 * MS), ==, AH_GOP_CACHED);
	g_assert_cmpint(vp8_frame(&f, 0, 9000, FALSE, 1, 10, 66 * MS), ==, AH_GOP_DROPPED);
	ah_gop_layer_stats(f.gop, 0, &st);
	g_assert_cmpint(st.last_drop, ==, AH_GOP_DROP_PACKETS);
	ah_gop_free(f.gop);

	/* Age: a keyframe older than 1 s is not replayed, and dropped at the next push. */
	ah_gop_limits alim = {1 << 20, 1000, 1000 * MS};
	feed_init(&f, AH_GOP_VP8, &alim);
	vp8_frame(&f, 0, 3000, TRUE, 2, 10, 0);
	g_assert_true(ah_gop_usable(f.gop, 0, 1000 * MS));
	g_assert_false(ah_gop_usable(f.gop, 0, 1001 * MS));
	g_assert_cmpint(vp8_frame(&f, 0, 6000, FALSE, 1, 10, 1001 * MS), ==, AH_GOP_DROPPED);
	ah_gop_layer_stats(f.gop, 0, &st);
	g_assert_cmpint(st.last_drop, ==, AH_GOP_DROP_AGE);
	/* A keyframe whose own packets go on past the age: dropped, and not taken again at its next
	 * packet; the next keyframe is. */
	g_assert_cmpint(vp8_frame(&f, 0, 9000, TRUE, 2, 10, 1100 * MS), ==, AH_GOP_KEYFRAME);
	guint8 payload[64], raw[128];
	gsize plen = vp8_payload(payload, FALSE, FALSE, 9, 10);
	gsize rlen = rtp(raw, f.seq[0]++, 9000, f.ssrc[0], TRUE, payload, plen);
	g_assert_cmpint(ah_gop_push(f.gop, 0, raw, rlen, 2200 * MS), ==, AH_GOP_DROPPED);
	rlen = rtp(raw, f.seq[0]++, 9000, f.ssrc[0], TRUE, payload, plen);
	g_assert_cmpint(ah_gop_push(f.gop, 0, raw, rlen, 2210 * MS), ==, AH_GOP_SKIPPED);
	g_assert_false(ah_gop_usable(f.gop, 0, 2210 * MS));
	ah_gop_layer_stats(f.gop, 0, &st);
	g_assert_cmpuint(st.keyframes, ==, 2);
	g_assert_cmpuint(st.drops, ==, 2);
	g_assert_cmpint(vp8_frame(&f, 0, 12000, TRUE, 1, 10, 2240 * MS), ==, AH_GOP_KEYFRAME);
	g_assert_true(ah_gop_usable(f.gop, 0, 2240 * MS));
	ah_gop_free(f.gop);
}

/* Simulcast: each layer keeps its own GOP; a layer's SSRC change drops that layer only. */
static void test_simulcast_layers(void)
{
	feed f;
	guint16 seqs[64];
	guint32 tss[64];
	feed_init(&f, AH_GOP_VP8, NULL);
	vp8_frame(&f, 0, 3000, TRUE, 1, 100, 0);
	vp8_frame(&f, 2, 3000, FALSE, 3, 1000, 0);
	vp8_frame(&f, 0, 6000, FALSE, 1, 100, 33 * MS);
	vp8_frame(&f, 2, 6000, TRUE, 4, 1000, 33 * MS);
	g_assert_true(ah_gop_usable(f.gop, 0, 40 * MS));
	g_assert_false(ah_gop_usable(f.gop, 1, 40 * MS));
	g_assert_true(ah_gop_usable(f.gop, 2, 40 * MS));
	g_assert_cmpint(replay_seqs(f.gop, 0, 40 * MS, seqs, tss, 64), ==, 2);
	g_assert_cmpuint(seqs[0], ==, 1000);
	g_assert_cmpint(replay_seqs(f.gop, 2, 40 * MS, seqs, tss, 64), ==, 4);
	g_assert_cmpuint(seqs[0], ==, 3003);
	g_assert_cmpuint(tss[0], ==, 6000);
	/* Layer 2's presenter restarts with another SSRC: its GOP goes, layer 0's stays. */
	f.ssrc[2] = 0x9999;
	g_assert_cmpint(vp8_frame(&f, 2, 9000, FALSE, 1, 100, 66 * MS), ==, AH_GOP_DROPPED);
	ah_gop_stats st;
	ah_gop_layer_stats(f.gop, 2, &st);
	g_assert_cmpint(st.last_drop, ==, AH_GOP_DROP_SSRC);
	g_assert_false(ah_gop_usable(f.gop, 2, 66 * MS));
	g_assert_true(ah_gop_usable(f.gop, 0, 66 * MS));
	ah_gop_free(f.gop);
}

/* H.264 packets of one frame at `ts`: each payload given whole. */
static ah_gop_result h264_push(feed *f, guint32 ts, gboolean marker, const guint8 *payload, gsize plen, gint64 now)
{
	guint8 pkt[1500];
	gsize len = rtp(pkt, f->seq[0]++, ts, f->ssrc[0], marker, payload, plen);
	return ah_gop_push(f->gop, 0, pkt, len, now);
}

static void test_h264_cache(void)
{
	feed f;
	guint16 seqs[64];
	guint32 tss[64];
	feed_init(&f, AH_GOP_H264, NULL);
	const guint8 sps[] = {0x67, 0x42, 0xc0, 0x1f, 0xda};
	const guint8 pps[] = {0x68, 0xce, 0x3c, 0x80};
	const guint8 aud[] = {0x09, 0xf0};
	const guint8 slice[] = {0x41, 0x9a, 0x02, 0x03};
	guint8 fu_start[200] = {0x7c, 0x85}, fu_mid[200] = {0x7c, 0x05}, fu_end[200] = {0x7c, 0x45};
	guint8 stap[] = {0x78, 0, 5, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0, 4, 0x68, 0xce, 0x3c, 0x80,
		0, 4, 0x65, 0x88, 0x80, 0x40};
	/* A delta before any keyframe. */
	g_assert_cmpint(h264_push(&f, 1000, TRUE, slice, sizeof(slice), 0), ==, AH_GOP_CACHED);
	g_assert_false(ah_gop_usable(f.gop, 0, 0));
	/* An IDR without SPS/PPS in its frame is not a starting point. */
	g_assert_cmpint(h264_push(&f, 2000, FALSE, fu_start, sizeof(fu_start), 10 * MS), ==, AH_GOP_CACHED);
	g_assert_cmpint(h264_push(&f, 2000, TRUE, fu_end, sizeof(fu_end), 10 * MS), ==, AH_GOP_CACHED);
	g_assert_false(ah_gop_usable(f.gop, 0, 10 * MS));
	/* AUD, SPS, PPS in their own packets, then the IDR in FU-A start, middle, end (seq 1004..1009):
	 * the keyframe starts at the AUD, the frame's first packet. */
	g_assert_cmpint(h264_push(&f, 3000, FALSE, aud, sizeof(aud), 20 * MS), ==, AH_GOP_CACHED);
	g_assert_cmpint(h264_push(&f, 3000, FALSE, sps, sizeof(sps), 20 * MS), ==, AH_GOP_CACHED);
	g_assert_cmpint(h264_push(&f, 3000, FALSE, pps, sizeof(pps), 20 * MS), ==, AH_GOP_CACHED);
	g_assert_false(ah_gop_usable(f.gop, 0, 20 * MS));
	g_assert_cmpint(h264_push(&f, 3000, FALSE, fu_start, sizeof(fu_start), 20 * MS), ==, AH_GOP_KEYFRAME);
	g_assert_cmpint(h264_push(&f, 3000, FALSE, fu_mid, sizeof(fu_mid), 20 * MS), ==, AH_GOP_CACHED);
	ah_gop_stats st;
	ah_gop_layer_stats(f.gop, 0, &st);
	g_assert_false(st.key_complete);
	g_assert_cmpint(h264_push(&f, 3000, TRUE, fu_end, sizeof(fu_end), 20 * MS), ==, AH_GOP_CACHED);
	ah_gop_layer_stats(f.gop, 0, &st);
	g_assert_true(st.key_complete);
	g_assert_cmpint(h264_push(&f, 4000, TRUE, slice, sizeof(slice), 50 * MS), ==, AH_GOP_CACHED);
	g_assert_cmpint(replay_seqs(f.gop, 0, 50 * MS, seqs, tss, 64), ==, 7);
	g_assert_cmpuint(seqs[0], ==, 1003);
	g_assert_cmpuint(seqs[6], ==, 1009);
	g_assert_cmpuint(tss[5], ==, 3000);
	g_assert_cmpuint(tss[6], ==, 4000);
	/* A STAP-A with SPS+PPS+IDR starts the next keyframe at once. */
	g_assert_cmpint(h264_push(&f, 5000, TRUE, stap, sizeof(stap), 80 * MS), ==, AH_GOP_KEYFRAME);
	g_assert_cmpint(replay_seqs(f.gop, 0, 80 * MS, seqs, tss, 64), ==, 1);
	g_assert_cmpuint(seqs[0], ==, 1010);
	/* A malformed payload is kept (live receivers get it too) but counted and never a keyframe. */
	const guint8 broken[] = {0x78, 0, 9, 0x65};
	g_assert_cmpint(h264_push(&f, 6000, TRUE, broken, sizeof(broken), 90 * MS), ==, AH_GOP_CACHED);
	ah_gop_layer_stats(f.gop, 0, &st);
	g_assert_cmpuint(st.malformed, ==, 1);
	g_assert_cmpuint(st.keyframes, ==, 2);
	g_assert_cmpuint(st.packets, ==, 2);
	ah_gop_free(f.gop);
}

/* Random bytes as packets, and cut-down real ones, through push and replay: nothing crashes, the
 * cache stays within its bounds (ASan / valgrind see the reads). */
static void test_garbage(void)
{
	ah_gop_limits lim = {20000, 50, 1000 * MS};
	const char *error;
	for (int codec = AH_GOP_VP8; codec <= AH_GOP_H264; codec++) {
		ah_gop *g = ah_gop_new(codec, &lim, &error);
		GRand *rand = g_rand_new_with_seed(14 + codec);
		guint8 pkt[1500];
		for (int i = 0; i < 20000; i++) {
			gsize len = g_rand_int_range(rand, 0, 1500);
			for (gsize j = 0; j < len; j++)
				pkt[j] = (guint8)g_rand_int(rand);
			if (len > 0)
				pkt[0] = 0x80 | (pkt[0] & 0x3f);
			guint8 *copy = g_memdup2(pkt, len);
			ah_gop_push(g, i % AH_GOP_LAYERS, copy, len, i * MS);
			g_free(copy);
			ah_gop_stats st;
			ah_gop_layer_stats(g, i % AH_GOP_LAYERS, &st);
			g_assert_cmpuint(st.bytes, <=, lim.max_bytes);
			g_assert_cmpuint(st.packets, <=, lim.max_packets);
			ah_gop_replay it;
			if (ah_gop_replay_start(g, i % AH_GOP_LAYERS, i * MS, &it)) {
				const guint8 *p;
				gsize n;
				while (ah_gop_replay_next(&it, &p, &n) == AH_GOP_REPLAY_PACKET)
					g_assert_cmpuint(n, >=, 12);
			}
		}
		g_assert_cmpuint(ah_gop_memory(g), <=, sizeof(void *) * 16 + 3 * (lim.max_bytes + lim.max_packets * 16) + 512);
		g_rand_free(rand);
		ah_gop_free(g);
	}
}

/* ---- keyframe requests ---- */

static void test_keyreq_basics(void)
{
	ah_keyreq r;
	ah_keyreq_init(&r, 500 * MS);
	g_assert_cmpint(ah_keyreq_due_at(&r), ==, -1);
	g_assert_true(ah_keyreq_want(&r, 1000 * MS));   /* the first: at once */
	g_assert_false(ah_keyreq_want(&r, 1100 * MS));  /* inside the interval: pending */
	g_assert_false(ah_keyreq_want(&r, 1200 * MS));
	g_assert_cmpint(ah_keyreq_due_at(&r), ==, 1500 * MS);
	g_assert_false(ah_keyreq_due(&r, 1499 * MS));
	g_assert_true(ah_keyreq_due(&r, 1500 * MS));    /* both served by one */
	g_assert_false(ah_keyreq_due(&r, 1600 * MS));
	g_assert_cmpuint(r.wants, ==, 3);
	g_assert_cmpuint(r.sent, ==, 2);
	/* A keyframe serves a pending want: no request. */
	g_assert_false(ah_keyreq_want(&r, 1700 * MS));
	ah_keyreq_keyframe(&r);
	g_assert_false(ah_keyreq_due(&r, 2500 * MS));
	g_assert_cmpint(ah_keyreq_due_at(&r), ==, -1);
	/* After a quiet interval, at once again. */
	g_assert_true(ah_keyreq_want(&r, 2500 * MS));
	ah_keyreq_init(&r, 0);
	g_assert_cmpint(r.interval_us, ==, AH_KEYREQ_INTERVAL_US);
}

#define EDGES 3
#define JOINERS 500

typedef struct {
	ah_gop *gop;
	ah_keyreq up;          /* this edge's requests to the origin */
	int replayed, waited;
} edge;

/* The origin's relay delivers a frame to every edge's cache at `now`. */
static void deliver(edge *edges, guint16 *seq, guint32 ts, gboolean key, gint64 now)
{
	for (int e = 0; e < EDGES; e++) {
		feed f;
		memset(&f, 0, sizeof(f));
		f.gop = edges[e].gop;
		f.seq[0] = *seq;
		f.ssrc[0] = 0x4242;
		ah_gop_result r = vp8_frame(&f, 0, ts, key, key ? 5 : 1, 1000, now);
		g_assert_cmpint(r, ==, key ? AH_GOP_KEYFRAME : AH_GOP_CACHED);
		if (key)
			ah_keyreq_keyframe(&edges[e].up);
	}
	*seq += key ? 5 : 1;
}

/* 500 joiners over 3 edges within one interval (0..450 ms), no cache anywhere at first. Each edge
 * asks the origin once, the origin asks the presenter once (a PLI). The presenter's keyframe reaches
 * the origin 100 ms after the PLI and every edge 150 ms after it: the joiners waiting by then are
 * served by it (their pending wants cleared), the joiners after it start from the edges' caches. A
 * second wave over the next second costs nothing upstream. */
static void test_wave_over_edges(void)
{
	edge edges[EDGES];
	ah_keyreq origin;
	ah_keyreq_init(&origin, AH_KEYREQ_INTERVAL_US);
	int to_origin = 0, to_presenter = 0;
	for (int e = 0; e < EDGES; e++) {
		edges[e].gop = ah_gop_new(AH_GOP_VP8, NULL, NULL);
		ah_keyreq_init(&edges[e].up, AH_KEYREQ_INTERVAL_US);
		edges[e].replayed = edges[e].waited = 0;
	}
	GRand *rand = g_rand_new_with_seed(500);
	gint64 joins[JOINERS];
	for (int j = 0; j < JOINERS; j++)
		joins[j] = g_rand_int_range(rand, 0, 450) * MS;
	gint64 pli_at = -1;
	guint16 seq = 100;
	guint32 ts = 90000;
	gboolean key_delivered = FALSE;
	/* 10 ms ticks; a request takes 20 ms from an edge to the origin. */
	for (gint64 t = 0; t < 1500 * MS; t += 10 * MS) {
		if (pli_at >= 0 && t >= pli_at + 100 * MS)
			ah_keyreq_keyframe(&origin);
		if (pli_at >= 0 && t >= pli_at + 150 * MS) {
			deliver(edges, &seq, ts, !key_delivered, t);
			key_delivered = TRUE;
			ts += 3000;
		}
		for (int j = 0; j < JOINERS; j++) {
			if (joins[j] < t || joins[j] >= t + 10 * MS)
				continue;
			edge *ed = &edges[j % EDGES];
			ah_gop_replay it;
			if (ah_gop_replay_start(ed->gop, 0, t, &it)) {
				ed->replayed++;
				continue;
			}
			ed->waited++;
			if (ah_keyreq_want(&ed->up, t)) {
				to_origin++;
				if (ah_keyreq_want(&origin, t + 20 * MS)) {
					to_presenter++;
					pli_at = t + 20 * MS;
				}
			}
		}
		for (int e = 0; e < EDGES; e++)
			if (ah_keyreq_due(&edges[e].up, t)) {
				to_origin++;
				if (ah_keyreq_want(&origin, t + 20 * MS))
					to_presenter++;
			}
		if (ah_keyreq_due(&origin, t))
			to_presenter++;
	}
	g_assert_cmpint(to_presenter, ==, 1);
	g_assert_cmpint(to_origin, ==, EDGES);
	int waited = 0, replayed = 0;
	for (int e = 0; e < EDGES; e++) {
		waited += edges[e].waited;
		replayed += edges[e].replayed;
		g_assert_cmpuint(edges[e].up.sent, ==, 1);
	}
	g_assert_cmpint(waited + replayed, ==, JOINERS);
	g_assert_cmpint(waited, >, 0);
	g_assert_cmpint(replayed, >, 0);
	g_assert_cmpuint(origin.sent, ==, 1);
	/* A second wave of 500 at 1.5..2.5 s while the stream goes on: all start from the cache. */
	for (int j = 0; j < JOINERS; j++) {
		edge *ed = &edges[j % EDGES];
		ah_gop_replay it;
		gint64 t = 1500 * MS + j * 2 * MS;
		if (j % 17 == 0) {
			deliver(edges, &seq, ts, FALSE, t);
			ts += 3000;
		}
		g_assert_true(ah_gop_replay_start(ed->gop, 0, t, &it));
	}
	g_assert_cmpuint(origin.sent, ==, 1);
	for (int e = 0; e < EDGES; e++) {
		g_assert_cmpuint(edges[e].up.sent, ==, 1);
		ah_gop_free(edges[e].gop);
	}
	g_rand_free(rand);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/gop/parse/rtp", test_rtp_parse);
	g_test_add_func("/gop/parse/vp8", test_vp8_parse);
	g_test_add_func("/gop/parse/h264", test_h264_parse);
	g_test_add_func("/gop/cache/new-limits", test_new_limits);
	g_test_add_func("/gop/cache/vp8", test_vp8_cache);
	g_test_add_func("/gop/cache/h264", test_h264_cache);
	g_test_add_func("/gop/cache/bounds", test_bounds);
	g_test_add_func("/gop/cache/simulcast-layers", test_simulcast_layers);
	g_test_add_func("/gop/cache/garbage", test_garbage);
	g_test_add_func("/gop/replay/catch-up", test_replay_catch_up);
	g_test_add_func("/gop/keyreq/basics", test_keyreq_basics);
	g_test_add_func("/gop/keyreq/wave-over-edges", test_wave_over_edges);
	return g_test_run();
}
