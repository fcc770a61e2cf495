/* allhands: libFuzzer target for the edge's keyframe cache (docs/fuzzing.md, issue 14): the bytes
 * go whole to ah_gop_rtp_parse, ah_gop_vp8_parse and ah_gop_h264_parse, then as a script of RTP
 * packets into an ah_gop with small limits. First byte: bit 0 the codec (VP8 / H.264); then records
 * of [layer byte][16-bit length][packet], each pushed at 10 ms steps, the layer's replay walked after
 * each push. Checks: parsers stay in [-1, 15] and an RTP payload lies inside the packet; a layer
 * never holds more than its limits; every replayed packet is RTP; a replay starts at a keyframe
 * (VP8: its first packet is a keyframe's; H.264: its first frame has an IDR, an SPS and a PPS).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>

#include <glib.h>

#include "allhands/gop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int payload_bits(ah_gop_codec codec, const guint8 *pkt, gsize len)
{
	ah_gop_rtp h;
	if (!ah_gop_rtp_parse(pkt, len, &h))
		abort();
	return codec == AH_GOP_VP8 ? ah_gop_vp8_parse(pkt + h.payload_off, h.payload_len)
		: ah_gop_h264_parse(pkt + h.payload_off, h.payload_len);
}

static void check_replay(const ah_gop *gop, ah_gop_codec codec, int layer, gint64 now)
{
	ah_gop_replay it;
	if (!ah_gop_replay_start(gop, layer, now, &it))
		return;
	const guint8 *pkt;
	gsize len;
	int n = 0, frame_bits = 0;
	guint32 first_ts = 0;
	gboolean in_first = TRUE;
	while (ah_gop_replay_next(&it, &pkt, &len) == AH_GOP_REPLAY_PACKET) {
		ah_gop_rtp h;
		if (!ah_gop_rtp_parse(pkt, len, &h))
			abort();
		int bits = payload_bits(codec, pkt, len);
		if (n == 0) {
			first_ts = h.ts;
			if (codec == AH_GOP_VP8 && (bits < 0 || !(bits & AH_GOP_KEY)))
				abort();
		}
		if (h.ts != first_ts)
			in_first = FALSE;
		if (in_first && bits > 0)
			frame_bits |= bits;
		n++;
	}
	if (n == 0)
		abort();
	if (codec == AH_GOP_H264 && (frame_bits & (AH_GOP_KEY | AH_GOP_SPS | AH_GOP_PPS)) != (AH_GOP_KEY | AH_GOP_SPS | AH_GOP_PPS))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ah_gop_rtp h;
	if (ah_gop_rtp_parse(data, size, &h) && (h.payload_off > size || h.payload_len > size - h.payload_off))
		abort();
	int v = ah_gop_vp8_parse(data, size), a = ah_gop_h264_parse(data, size);
	if (v < -1 || v > 15 || a < -1 || a > 15)
		abort();
	if (size < 1)
		return 0;
	const ah_gop_codec codec = (data[0] & 1) ? AH_GOP_H264 : AH_GOP_VP8;
	const ah_gop_limits lim = {4096, 16, 200000};
	ah_gop *gop = ah_gop_new(codec, &lim, NULL);
	gsize i = 1;
	gint64 now = 0;
	while (size - i >= 3) {
		const int layer = data[i] % (AH_GOP_LAYERS + 1); /* AH_GOP_LAYERS: out of range */
		gsize len = ((gsize)data[i + 1] << 8) | data[i + 2];
		i += 3;
		if (len > size - i)
			len = size - i;
		/* A copy of its own size, so ASan sees a read past the packet. */
		guint8 *pkt = g_memdup2(data + i, len);
		ah_gop_push(gop, layer, pkt, len, now);
		g_free(pkt);
		i += len;
		if (layer < AH_GOP_LAYERS) {
			ah_gop_stats st;
			ah_gop_layer_stats(gop, layer, &st);
			if (st.bytes > lim.max_bytes || st.packets > lim.max_packets || st.memory > lim.max_bytes + lim.max_packets * 64)
				abort();
			check_replay(gop, codec, layer, now);
		}
		now += 10000;
	}
	ah_gop_free(gop);
	return 0;
}
