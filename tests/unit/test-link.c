/* allhands: the node-to-node link (include/allhands/link.h): two endpoints on 127.0.0.1, an origin end
 * and an edge end; keys and their text form, rotation, and every refusal counted by its reason.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>
#include <arpa/inet.h>

#include <glib.h>

#include "allhands/link.h"

#define MEDIA_SSRC 0x11223344u
#define AUDIO_SSRC 0x55667788u
#define FEEDBACK_SSRC 0x99aabbccu

typedef struct {
	ah_link_key key;
	ah_link_end *origin, *edge;
	ah_link_udp *origin_udp, *edge_udp;
	struct sockaddr_storage origin_addr, edge_addr;
	socklen_t origin_len, edge_len;
	GRand *rand;
} pair;

static void pair_setup(pair *p, ah_link_suite suite)
{
	GError *error = NULL;
	g_assert_true(ah_link_key_generate(1, suite, &p->key, &error));
	g_assert_no_error(error);
	p->origin = ah_link_end_new(AH_LINK_ORIGIN, &p->key, &error);
	g_assert_no_error(error);
	p->edge = ah_link_end_new(AH_LINK_EDGE, &p->key, &error);
	g_assert_no_error(error);
	p->origin_udp = ah_link_udp_new("127.0.0.1", 0, &error);
	g_assert_no_error(error);
	p->edge_udp = ah_link_udp_new("127.0.0.1", 0, &error);
	g_assert_no_error(error);
	ah_link_udp_local(p->origin_udp, &p->origin_addr, &p->origin_len);
	ah_link_udp_local(p->edge_udp, &p->edge_addr, &p->edge_len);
	/* Each end knows the other's media address. */
	ah_link_end_set_peer(p->origin, (struct sockaddr *)&p->edge_addr, p->edge_len);
	ah_link_end_set_peer(p->edge, (struct sockaddr *)&p->origin_addr, p->origin_len);
	p->rand = g_rand_new_with_seed(14);
}

static void pair_teardown(pair *p)
{
	ah_link_end_free(p->origin);
	ah_link_end_free(p->edge);
	ah_link_udp_free(p->origin_udp);
	ah_link_udp_free(p->edge_udp);
	g_rand_free(p->rand);
}

/* A plain RTP packet: header (with a one-byte header extension on video), random payload. */
static int make_rtp(pair *p, guint8 *buf, guint16 seq, guint32 ssrc, int size)
{
	g_assert_cmpint(size, >=, 24);
	gboolean video = ssrc == MEDIA_SSRC;
	buf[0] = video ? 0x90 : 0x80;
	buf[1] = video ? 96 : 111;
	buf[2] = (guint8)(seq >> 8);
	buf[3] = (guint8)seq;
	guint32 ts = GUINT32_TO_BE((guint32)seq * 3000u);
	memcpy(buf + 4, &ts, 4);
	guint32 s = GUINT32_TO_BE(ssrc);
	memcpy(buf + 8, &s, 4);
	int at = 12;
	if (video) { /* RFC 8285 one-byte extension: one element of 2 bytes, padded to 4 */
		static const guint8 ext[] = { 0xbe, 0xde, 0x00, 0x01, 0x11, 0x00, 0x2a, 0x00 };
		memcpy(buf + at, ext, sizeof(ext));
		at += sizeof(ext);
	}
	for (; at < size; at++)
		buf[at] = (guint8)g_rand_int(p->rand);
	return size;
}

/* RTCP: a sender report (origin's) or a receiver report + PLI (edge's), as one compound packet. */
static int make_rtcp(guint8 *buf, gboolean sender_report)
{
	memset(buf, 0, 64);
	if (sender_report) {
		const guint8 sr[] = { 0x80, 200, 0x00, 0x06 };
		memcpy(buf, sr, 4);
		guint32 s = GUINT32_TO_BE(MEDIA_SSRC);
		memcpy(buf + 4, &s, 4);
		buf[10] = 0x5a; /* NTP, RTP time, counts */
		buf[27] = 42;
		return 28;
	}
	const guint8 rr[] = { 0x80, 201, 0x00, 0x01 };
	memcpy(buf, rr, 4);
	guint32 s = GUINT32_TO_BE(FEEDBACK_SSRC), m = GUINT32_TO_BE(MEDIA_SSRC);
	memcpy(buf + 4, &s, 4);
	const guint8 pli[] = { 0x81, 206, 0x00, 0x02 };
	memcpy(buf + 8, pli, 4);
	memcpy(buf + 12, &s, 4);
	memcpy(buf + 16, &m, 4);
	return 20;
}

/* Receive on `udp` what is queued (waiting up to 1 s for the first), unprotect each with `end`, and
 * keep the verdicts; returns how many datagrams came. */
static guint receive(ah_link_udp *udp, ah_link_end *end, ah_link_dgram *d, guint max, ah_link_verdict *verdicts,
	guint expect)
{
	guint got = 0;
	while (got < expect && ah_link_udp_wait(udp, 1000)) {
		int n = ah_link_udp_recv(udp, d + got, max - got);
		g_assert_cmpint(n, >=, 0);
		for (int i = 0; i < n; i++) {
			ah_link_dgram *x = &d[got + (guint)i];
			gboolean rtcp;
			/* A truncated datagram (len -1) goes to unprotect too, to be counted. */
			verdicts[got + (guint)i] =
				ah_link_end_unprotect(end, x->data, &x->len, &rtcp, (struct sockaddr *)&x->from, x->from_len);
		}
		got += (guint)n;
	}
	return got;
}

/* Protect and send one RTP packet origin -> edge, receive it, return the verdict. */
static ah_link_verdict one_way(pair *p, guint8 *wire, int len)
{
	g_assert_true(ah_link_udp_send(p->origin_udp, wire, (gsize)len, (struct sockaddr *)&p->edge_addr, p->edge_len));
	ah_link_dgram *d = g_new(ah_link_dgram, 1);
	ah_link_verdict v = AH_LINK_N_VERDICTS;
	g_assert_cmpuint(receive(p->edge_udp, p->edge, d, 1, &v, 1), ==, 1);
	g_free(d);
	return v;
}

static int protected_rtp(pair *p, ah_link_end *end, guint8 *buf, guint16 seq)
{
	int len = make_rtp(p, buf, seq, MEDIA_SSRC, 1200);
	len = ah_link_end_protect_rtp(end, buf, len, AH_LINK_MTU + AH_LINK_OVERHEAD_MAX);
	g_assert_cmpint(len, >, 1200);
	return len;
}

static void test_many_packets(gconstpointer data)
{
	pair p;
	pair_setup(&p, (ah_link_suite)GPOINTER_TO_INT(data));
	enum { TOTAL = 10000, BURST = 40 }; /* 250 bursts */
	ah_link_dgram *d = g_new(ah_link_dgram, BURST);
	ah_link_verdict verdicts[BURST];
	guint8 plain[BURST][AH_LINK_MTU], wire[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX];
	int plain_len[BURST];
	guint16 seq_v = 65000, seq_a = 100; /* the video sequence wraps past 65535 on the way */
	guint delivered = 0;
	for (guint sent = 0; sent < TOTAL; sent += BURST) {
		for (guint i = 0; i < BURST; i++) {
			/* Realistic sizes: one packet in four audio (60-200 bytes), the rest video (200-1200). */
			gboolean audio = g_rand_int_range(p.rand, 0, 4) == 0;
			int size = audio ? g_rand_int_range(p.rand, 60, 201) : g_rand_int_range(p.rand, 200, 1201);
			plain_len[i] = make_rtp(&p, plain[i], audio ? seq_a++ : seq_v++, audio ? AUDIO_SSRC : MEDIA_SSRC, size);
			memcpy(wire, plain[i], (gsize)plain_len[i]);
			int len = ah_link_end_protect_rtp(p.origin, wire, plain_len[i], sizeof(wire));
			g_assert_cmpint(len, >, plain_len[i]);
			/* Encrypted: the payload on the wire is not the plain one. */
			g_assert_true(memcmp(wire + len - 40, plain[i] + plain_len[i] - 40, 24) != 0);
			g_assert_true(ah_link_udp_send(p.origin_udp, wire, (gsize)len, (struct sockaddr *)&p.edge_addr, p.edge_len));
		}
		g_assert_cmpuint(receive(p.edge_udp, p.edge, d, BURST, verdicts, BURST), ==, BURST);
		for (guint i = 0; i < BURST; i++) {
			g_assert_cmpstr(ah_link_verdict_name(verdicts[i]), ==, "ok");
			g_assert_cmpint(d[i].len, ==, plain_len[i]);
			g_assert_true(memcmp(d[i].data, plain[i], (gsize)plain_len[i]) == 0);
			delivered++;
		}
	}
	g_assert_cmpuint(delivered, ==, TOTAL);
	ah_link_stats st;
	ah_link_end_stats(p.edge, &st);
	g_assert_cmpuint(st.rtp_received, ==, TOTAL);
	for (guint v = 1; v < AH_LINK_N_VERDICTS; v++)
		g_assert_cmpuint(st.dropped[v], ==, 0);
	ah_link_end_stats(p.origin, &st);
	g_assert_cmpuint(st.rtp_sent, ==, TOTAL);
	g_free(d);
	pair_teardown(&p);
}

static void test_forged(void)
{
	pair p;
	pair_setup(&p, AH_LINK_SUITE_GCM128);
	guint8 buf[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX], copy[sizeof(buf)];
	/* One bit flipped in the payload, then one in the header (authenticated, not encrypted). */
	int len = protected_rtp(&p, p.origin, buf, 1);
	memcpy(copy, buf, (gsize)len);
	buf[500] ^= 0x10;
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_DROP_AUTH);
	memcpy(buf, copy, (gsize)len);
	buf[5] ^= 0x01; /* the timestamp */
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_DROP_AUTH);
	/* The untouched packet passes: the refusals were the flipped bits. */
	memcpy(buf, copy, (gsize)len);
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_OK);
	/* Sent again: a replay. */
	memcpy(buf, copy, (gsize)len);
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_DROP_REPLAY);
	/* A plain RTP packet (what a forger without the key sends) is refused too. */
	len = make_rtp(&p, buf, 7, MEDIA_SSRC, 300);
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_DROP_AUTH);
	ah_link_stats st;
	ah_link_end_stats(p.edge, &st);
	g_assert_cmpuint(st.dropped[AH_LINK_DROP_AUTH], ==, 3);
	g_assert_cmpuint(st.dropped[AH_LINK_DROP_REPLAY], ==, 1);
	g_assert_cmpuint(st.rtp_received, ==, 1);
	pair_teardown(&p);
}

static void test_other_key(void)
{
	pair p;
	pair_setup(&p, AH_LINK_SUITE_GCM128);
	GError *error = NULL;
	ah_link_key other;
	g_assert_true(ah_link_key_generate(1, AH_LINK_SUITE_GCM128, &other, &error));
	ah_link_end *forger = ah_link_end_new(AH_LINK_ORIGIN, &other, &error);
	g_assert_no_error(error);
	guint8 buf[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX];
	int len = protected_rtp(&p, forger, buf, 1);
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_DROP_AUTH);
	/* The right key's packet of the same sequence number passes. */
	len = protected_rtp(&p, p.origin, buf, 1);
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_OK);
	/* An edge's key cannot forge the origin's media: its packets are protected with the back key. */
	len = make_rtp(&p, buf, 2, MEDIA_SSRC, 1200);
	len = ah_link_end_protect_rtp(p.edge, buf, len, sizeof(buf));
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_DROP_AUTH);
	ah_link_end_free(forger);
	pair_teardown(&p);
}

static void test_source(void)
{
	pair p;
	pair_setup(&p, AH_LINK_SUITE_GCM128);
	GError *error = NULL;
	ah_link_udp *stranger = ah_link_udp_new("127.0.0.1", 0, &error);
	g_assert_no_error(error);
	guint8 buf[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX], copy[sizeof(buf)];
	int len = protected_rtp(&p, p.origin, buf, 1);
	memcpy(copy, buf, (gsize)len);
	/* A valid packet from another port of the same host: refused before any crypto. */
	g_assert_true(ah_link_udp_send(stranger, buf, (gsize)len, (struct sockaddr *)&p.edge_addr, p.edge_len));
	ah_link_dgram *d = g_new(ah_link_dgram, 1);
	ah_link_verdict v;
	g_assert_cmpuint(receive(p.edge_udp, p.edge, d, 1, &v, 1), ==, 1);
	g_assert_cmpint(v, ==, AH_LINK_DROP_SOURCE);
	/* The same bytes from the origin's port pass: it was the source that was refused. */
	g_assert_cmpint(one_way(&p, copy, len), ==, AH_LINK_OK);
	/* An end without a peer accepts nothing. */
	ah_link_end *lonely = ah_link_end_new(AH_LINK_EDGE, &p.key, &error);
	int n = len;
	g_assert_cmpint(ah_link_end_unprotect(lonely, copy, &n, NULL, (struct sockaddr *)&p.origin_addr, p.origin_len), ==,
		AH_LINK_DROP_SOURCE);
	ah_link_stats st;
	ah_link_end_stats(p.edge, &st);
	g_assert_cmpuint(st.dropped[AH_LINK_DROP_SOURCE], ==, 1);
	ah_link_end_free(lonely);
	g_free(d);
	ah_link_udp_free(stranger);
	pair_teardown(&p);
}

static void test_rtcp_both_ways(void)
{
	pair p;
	pair_setup(&p, AH_LINK_SUITE_GCM128);
	guint8 buf[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX], plain[64];
	ah_link_dgram *d = g_new(ah_link_dgram, 1);
	ah_link_verdict v;
	for (int round = 0; round < 3; round++) {
		/* Origin -> edge: a sender report. */
		int plain_len = make_rtcp(plain, TRUE);
		memcpy(buf, plain, (gsize)plain_len);
		int len = ah_link_end_protect_rtcp(p.origin, buf, plain_len, sizeof(buf));
		g_assert_cmpint(len, >, plain_len);
		g_assert_true(ah_link_udp_send(p.origin_udp, buf, (gsize)len, (struct sockaddr *)&p.edge_addr, p.edge_len));
		g_assert_cmpuint(receive(p.edge_udp, p.edge, d, 1, &v, 1), ==, 1);
		g_assert_cmpint(v, ==, AH_LINK_OK);
		g_assert_cmpint(d->len, ==, plain_len);
		g_assert_true(memcmp(d->data, plain, (gsize)plain_len) == 0);
		/* Edge -> origin: a receiver report and a PLI. */
		plain_len = make_rtcp(plain, FALSE);
		memcpy(buf, plain, (gsize)plain_len);
		len = ah_link_end_protect_rtcp(p.edge, buf, plain_len, sizeof(buf));
		g_assert_cmpint(len, >, plain_len);
		g_assert_true(ah_link_udp_send(p.edge_udp, buf, (gsize)len, (struct sockaddr *)&p.origin_addr, p.origin_len));
		g_assert_cmpuint(receive(p.origin_udp, p.origin, d, 1, &v, 1), ==, 1);
		g_assert_cmpint(v, ==, AH_LINK_OK);
		g_assert_cmpint(d->len, ==, plain_len);
		g_assert_true(memcmp(d->data, plain, (gsize)plain_len) == 0);
		/* The same SRTCP packet again: a replay. */
		g_assert_true(ah_link_udp_send(p.edge_udp, buf, (gsize)len, (struct sockaddr *)&p.origin_addr, p.origin_len));
		g_assert_cmpuint(receive(p.origin_udp, p.origin, d, 1, &v, 1), ==, 1);
		g_assert_cmpint(v, ==, AH_LINK_DROP_REPLAY);
	}
	/* RTCP with a flipped bit. */
	int plain_len = make_rtcp(plain, TRUE);
	memcpy(buf, plain, (gsize)plain_len);
	int len = ah_link_end_protect_rtcp(p.origin, buf, plain_len, sizeof(buf));
	buf[12] ^= 0x80;
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_DROP_AUTH);
	ah_link_stats st;
	ah_link_end_stats(p.origin, &st);
	g_assert_cmpuint(st.rtcp_received, ==, 3);
	g_assert_cmpuint(st.rtcp_sent, ==, 4);
	g_assert_cmpuint(st.dropped[AH_LINK_DROP_REPLAY], ==, 3);
	ah_link_end_stats(p.edge, &st);
	g_assert_cmpuint(st.rtcp_received, ==, 3);
	g_assert_cmpuint(st.dropped[AH_LINK_DROP_AUTH], ==, 1);
	g_free(d);
	pair_teardown(&p);
}

static void test_ssrc_and_malformed(void)
{
	pair p;
	pair_setup(&p, AH_LINK_SUITE_GCM128);
	guint32 allowed[] = { MEDIA_SSRC };
	ah_link_end_allow_ssrcs(p.edge, allowed, 1);
	guint8 buf[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX];
	int len = make_rtp(&p, buf, 1, AUDIO_SSRC, 200);
	len = ah_link_end_protect_rtp(p.origin, buf, len, sizeof(buf));
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_DROP_SSRC);
	len = protected_rtp(&p, p.origin, buf, 2);
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_OK);
	/* Too short; version 1; a datagram larger than the MTU (cut by the endpoint). */
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x80;
	g_assert_cmpint(one_way(&p, buf, 11), ==, AH_LINK_DROP_MALFORMED);
	buf[0] = 0x40;
	g_assert_cmpint(one_way(&p, buf, 100), ==, AH_LINK_DROP_MALFORMED);
	guint8 *big = g_malloc0(2000);
	big[0] = 0x80;
	g_assert_cmpint(one_way(&p, big, 2000), ==, AH_LINK_DROP_MALFORMED);
	g_free(big);
	/* RTP with a header extension longer than the packet: libsrtp's parse error, counted as malformed
	 * (once its SSRC is allowed). */
	len = make_rtp(&p, buf, 3, MEDIA_SSRC, 60);
	buf[14] = 0x7f;
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_DROP_MALFORMED);
	/* Protect refuses a buffer without room for the tag, and a packet that is not RTP. */
	len = make_rtp(&p, buf, 4, MEDIA_SSRC, 100);
	g_assert_cmpint(ah_link_end_protect_rtp(p.origin, buf, len, len + 8), ==, -1);
	g_assert_cmpint(ah_link_end_protect_rtp(p.origin, buf, 8, sizeof(buf)), ==, -1);
	ah_link_stats st;
	ah_link_end_stats(p.edge, &st);
	g_assert_cmpuint(st.dropped[AH_LINK_DROP_SSRC], ==, 1);
	/* Short, version 1, truncated by the endpoint, the parse error. */
	g_assert_cmpuint(st.dropped[AH_LINK_DROP_MALFORMED], ==, 4);
	ah_link_end_stats(p.origin, &st);
	g_assert_cmpuint(st.send_failed, ==, 2);
	pair_teardown(&p);
}

static void test_rotation(void)
{
	pair p;
	pair_setup(&p, AH_LINK_SUITE_GCM128);
	GError *error = NULL;
	guint8 old_pkt[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX], buf[sizeof(old_pkt)], old2[sizeof(old_pkt)];
	guint16 seq = 1;
	g_assert_cmpint(one_way(&p, buf, protected_rtp(&p, p.origin, buf, seq++)), ==, AH_LINK_OK);
	/* Two packets protected under epoch 1, held back (in flight while the key turns). */
	int old_len = protected_rtp(&p, p.origin, old_pkt, seq++);
	int old2_len = protected_rtp(&p, p.origin, old2, seq++);
	ah_link_key next;
	g_assert_true(ah_link_key_generate(2, AH_LINK_SUITE_GCM128, &next, &error));
	/* The key travels as text, as through Redis. */
	char *text = ah_link_key_to_text(&next);
	ah_link_key received;
	g_assert_true(ah_link_key_from_text(text, &received, &error));
	g_free(text);
	/* The origin turns first: until the edge has the new key, its packets are refused. */
	g_assert_true(ah_link_end_add_key(p.origin, &next, &error));
	g_assert_no_error(error);
	int len = protected_rtp(&p, p.origin, buf, seq++);
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_DROP_AUTH);
	g_assert_true(ah_link_end_add_key(p.edge, &received, &error));
	g_assert_no_error(error);
	ah_link_stats st;
	ah_link_end_stats(p.edge, &st);
	g_assert_cmpuint(st.epochs[0], ==, 2);
	g_assert_cmpuint(st.epochs[1], ==, 1);
	/* Overlap: the new key's packets and the old one's stragglers both pass, each only once. */
	len = protected_rtp(&p, p.origin, buf, seq++);
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_OK);
	guint8 keep[sizeof(old_pkt)];
	memcpy(keep, old_pkt, (gsize)old_len);
	g_assert_cmpint(one_way(&p, old_pkt, old_len), ==, AH_LINK_OK);
	g_assert_cmpint(one_way(&p, keep, old_len), ==, AH_LINK_DROP_REPLAY);
	/* An epoch not newer is refused, on both ends. */
	g_assert_false(ah_link_end_add_key(p.edge, &p.key, &error));
	g_assert_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(ah_link_end_add_key(p.origin, &next, &error));
	g_clear_error(&error);
	/* The overlap ends: epoch 1's last straggler is refused now. */
	g_assert_true(ah_link_end_drop_key(p.edge, 1));
	g_assert_false(ah_link_end_drop_key(p.edge, 2)); /* never the only key */
	g_assert_cmpint(one_way(&p, old2, old2_len), ==, AH_LINK_DROP_AUTH);
	len = protected_rtp(&p, p.origin, buf, seq++);
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_OK);
	/* The back direction rotated too: the edge's RTCP under epoch 2 reaches the origin. */
	ah_link_dgram *d = g_new(ah_link_dgram, 1);
	ah_link_verdict v;
	int rl = make_rtcp(buf, FALSE);
	rl = ah_link_end_protect_rtcp(p.edge, buf, rl, sizeof(buf));
	g_assert_true(ah_link_udp_send(p.edge_udp, buf, (gsize)rl, (struct sockaddr *)&p.origin_addr, p.origin_len));
	g_assert_cmpuint(receive(p.origin_udp, p.origin, d, 1, &v, 1), ==, 1);
	g_assert_cmpint(v, ==, AH_LINK_OK);
	/* A third key pushes the oldest out: epochs 3 and 2 are held. */
	ah_link_key third;
	g_assert_true(ah_link_key_generate(3, AH_LINK_SUITE_CM128_SHA1_80, &third, &error));
	g_assert_true(ah_link_end_add_key(p.origin, &third, &error));
	g_assert_true(ah_link_end_add_key(p.edge, &third, &error));
	len = protected_rtp(&p, p.origin, buf, seq++);
	g_assert_cmpint(one_way(&p, buf, len), ==, AH_LINK_OK);
	ah_link_end_stats(p.edge, &st);
	g_assert_cmpuint(st.epochs[0], ==, 3);
	g_assert_cmpuint(st.epochs[1], ==, 2);
	g_free(d);
	pair_teardown(&p);
}

/* Threads as in the plugin: a sender thread protects and sends, a receiver thread unprotects, and the
 * control thread (here the test's) rotates the keys meanwhile, the edge first, then the origin; a
 * rotation waits until what was sent under the previous key has arrived. Every packet passes, intact. */
typedef struct {
	pair *p;
	guint total;
	volatile gint sent, received, bad, stop;
} threads;

static gpointer send_thread(gpointer data)
{
	threads *t = data;
	guint8 buf[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX];
	GRand *rand = g_rand_new_with_seed(7);
	for (guint i = 0; i < t->total; i++) {
		int len = 200 + (int)(i % 1000);
		buf[0] = 0x80;
		buf[1] = 96;
		buf[2] = (guint8)(i >> 8);
		buf[3] = (guint8)i;
		memset(buf + 4, 0, 4);
		guint32 s = GUINT32_TO_BE(MEDIA_SSRC), n = GUINT32_TO_BE(i);
		memcpy(buf + 8, &s, 4);
		for (int k = 12; k < len; k += 4)
			memcpy(buf + k, &n, 4);
		len = ah_link_end_protect_rtp(t->p->origin, buf, len, sizeof(buf));
		g_assert_cmpint(len, >, 0);
		/* Paced a little: the receiver's socket buffer must not overflow (a lost packet shows in the
		 * final count; the wait is bounded so that it cannot hang the test). */
		for (int waited = 0; g_atomic_int_get(&t->sent) - g_atomic_int_get(&t->received) > 32 && waited < 20000; waited++)
			g_usleep(100);
		g_assert_true(ah_link_udp_send(t->p->origin_udp, buf, (gsize)len, (struct sockaddr *)&t->p->edge_addr,
			t->p->edge_len));
		g_atomic_int_inc(&t->sent);
		if (g_rand_int_range(rand, 0, 64) == 0)
			g_thread_yield();
	}
	g_rand_free(rand);
	return NULL;
}

static gpointer receive_thread(gpointer data)
{
	threads *t = data;
	ah_link_dgram *d = g_new(ah_link_dgram, 16);
	while (!g_atomic_int_get(&t->stop)) {
		if (!ah_link_udp_wait(t->p->edge_udp, 20))
			continue;
		int n = ah_link_udp_recv(t->p->edge_udp, d, 16);
		for (int i = 0; i < n; i++) {
			gboolean rtcp;
			ah_link_verdict v = ah_link_end_unprotect(t->p->edge, d[i].data, &d[i].len, &rtcp,
				(struct sockaddr *)&d[i].from, d[i].from_len);
			guint32 idx;
			memcpy(&idx, d[i].data + 12, 4);
			idx = GUINT32_FROM_BE(idx);
			gboolean intact = v == AH_LINK_OK && d[i].len == 200 + (int)(idx % 1000) &&
				d[i].data[2] == (guint8)(idx >> 8) && d[i].data[3] == (guint8)idx;
			for (int k = 12; intact && k + 4 <= d[i].len; k += 4)
				intact = memcmp(d[i].data + k, d[i].data + 12, 4) == 0;
			if (!intact)
				g_atomic_int_inc(&t->bad);
			g_atomic_int_inc(&t->received);
		}
	}
	g_free(d);
	return NULL;
}

static void test_threads_and_rotation(void)
{
	pair p;
	pair_setup(&p, AH_LINK_SUITE_GCM128);
	threads t = { .p = &p, .total = 20000 };
	GThread *rx = g_thread_new("link-rx", receive_thread, &t);
	GThread *tx = g_thread_new("link-tx", send_thread, &t);
	GError *error = NULL;
	guint32 epoch = 1;
	while (g_atomic_int_get(&t.sent) < (gint)t.total) {
		g_usleep(2000);
		ah_link_key next;
		g_assert_true(ah_link_key_generate(++epoch, AH_LINK_SUITE_GCM128, &next, &error));
		g_assert_true(ah_link_end_add_key(p.edge, &next, &error));
		g_assert_true(ah_link_end_add_key(p.origin, &next, &error));
		g_assert_no_error(error);
		/* What was protected under the previous key must be in before the next turn pushes that key
		 * out: the origin's rtp_sent, read after the turn, counts every packet protected before it
		 * (counted under the same lock as the protecting), and some more. */
		ah_link_stats before;
		ah_link_end_stats(p.origin, &before);
		gint target = (gint)before.rtp_sent;
		for (int waited = 0; g_atomic_int_get(&t.received) < target && waited < 5000; waited++)
			g_usleep(1000);
		ah_link_stats st;
		ah_link_end_stats(p.edge, &st);
		g_assert_cmpuint(st.epochs[0], ==, epoch);
		g_assert_cmpuint(st.epochs[1], ==, epoch - 1);
	}
	g_thread_join(tx);
	for (int waited = 0; g_atomic_int_get(&t.received) < (gint)t.total && waited < 5000; waited++)
		g_usleep(1000);
	g_atomic_int_set(&t.stop, 1);
	g_thread_join(rx);
	g_test_message("%u packets across %u keys", t.total, epoch);
	g_assert_cmpuint(epoch, >, 3);
	g_assert_cmpint(t.received, ==, (gint)t.total);
	g_assert_cmpint(t.bad, ==, 0);
	ah_link_stats st;
	ah_link_end_stats(p.edge, &st);
	g_assert_cmpuint(st.rtp_received, ==, t.total);
	pair_teardown(&p);
}

static void test_ipv6(void)
{
	GError *error = NULL;
	ah_link_udp *a = ah_link_udp_new("::1", 0, &error);
	if (a == NULL) {
		g_test_skip("no IPv6 loopback here");
		g_clear_error(&error);
		return;
	}
	ah_link_udp *b = ah_link_udp_new("::1", 0, &error);
	g_assert_no_error(error);
	ah_link_key key;
	g_assert_true(ah_link_key_generate(1, AH_LINK_SUITE_GCM128, &key, &error));
	ah_link_end *origin = ah_link_end_new(AH_LINK_ORIGIN, &key, &error);
	ah_link_end *edge = ah_link_end_new(AH_LINK_EDGE, &key, &error);
	g_assert_no_error(error);
	struct sockaddr_storage a_addr, b_addr;
	socklen_t a_len, b_len;
	ah_link_udp_local(a, &a_addr, &a_len);
	ah_link_udp_local(b, &b_addr, &b_len);
	g_assert_cmpint(a_addr.ss_family, ==, AF_INET6);
	ah_link_end_set_peer(edge, (struct sockaddr *)&a_addr, a_len);
	guint8 buf[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX], plain[100];
	pair p = { .rand = g_rand_new_with_seed(6) };
	int plain_len = make_rtp(&p, plain, 1, AUDIO_SSRC, sizeof(plain));
	memcpy(buf, plain, sizeof(plain));
	int len = ah_link_end_protect_rtp(origin, buf, plain_len, sizeof(buf));
	ah_link_dgram *d = g_new(ah_link_dgram, 1);
	ah_link_verdict v;
	/* Another family (IPv4 127.0.0.1, the same port number): refused, the bytes left as they were. */
	struct sockaddr_in from4 = { .sin_family = AF_INET, .sin_port = ((struct sockaddr_in6 *)&a_addr)->sin6_port };
	from4.sin_addr.s_addr = htonl(0x7f000001);
	guint8 copy[sizeof(buf)];
	memcpy(copy, buf, (gsize)len);
	int n = len;
	g_assert_cmpint(ah_link_end_unprotect(edge, copy, &n, NULL, (struct sockaddr *)&from4, sizeof(from4)), ==,
		AH_LINK_DROP_SOURCE);
	g_assert_true(memcmp(copy, buf, (gsize)len) == 0);
	/* From the peer's IPv6 address and port: passes. */
	g_assert_true(ah_link_udp_send(a, buf, (gsize)len, (struct sockaddr *)&b_addr, b_len));
	g_assert_cmpuint(receive(b, edge, d, 1, &v, 1), ==, 1);
	g_assert_cmpint(v, ==, AH_LINK_OK);
	g_assert_cmpint(d->len, ==, plain_len);
	g_assert_true(memcmp(d->data, plain, (gsize)plain_len) == 0);
	g_free(d);
	g_rand_free(p.rand);
	ah_link_end_free(origin);
	ah_link_end_free(edge);
	ah_link_udp_free(a);
	ah_link_udp_free(b);
}

static void test_key_text(void)
{
	GError *error = NULL;
	ah_link_key a, b;
	g_assert_true(ah_link_key_generate(7, AH_LINK_SUITE_GCM128, &a, &error));
	g_assert_true(ah_link_key_generate(7, AH_LINK_SUITE_GCM128, &b, &error));
	g_assert_true(memcmp(a.secret, b.secret, AH_LINK_SECRET_LEN) != 0);
	for (int suite = AH_LINK_SUITE_GCM128; suite <= AH_LINK_SUITE_CM128_SHA1_80; suite++) {
		g_assert_true(ah_link_key_generate(G_MAXUINT32, (ah_link_suite)suite, &a, &error));
		char *text = ah_link_key_to_text(&a);
		g_assert_cmpuint(strlen(text), <, AH_LINK_KEY_TEXT_MAX);
		g_assert_true(g_str_has_prefix(text, "ahlink1:"));
		memset(&b, 0, sizeof(b));
		g_assert_true(ah_link_key_from_text(text, &b, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(b.epoch, ==, G_MAXUINT32);
		g_assert_cmpint(b.suite, ==, suite);
		g_assert_true(memcmp(a.secret, b.secret, AH_LINK_SECRET_LEN) == 0);
		char *again = ah_link_key_to_text(&b);
		g_assert_cmpstr(text, ==, again);
		g_free(again);
		g_free(text);
	}
	g_assert_false(ah_link_key_generate(0, AH_LINK_SUITE_GCM128, &a, &error));
	g_clear_error(&error);
	const char *hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char *good = g_strdup_printf("ahlink1:gcm128:12:%s", hex);
	g_assert_true(ah_link_key_from_text(good, &a, &error));
	g_assert_cmpuint(a.epoch, ==, 12);
	g_assert_cmpuint(a.secret[0], ==, 0x00);
	g_assert_cmpuint(a.secret[31], ==, 0xff);
	char *bad[] = {
		g_strdup(""),
		g_strdup("ahlink1:"),
		g_strdup_printf("ahlink2:gcm128:12:%s", hex),
		g_strdup_printf("AHLINK1:gcm128:12:%s", hex),
		g_strdup_printf("ahlink1:gcm256:12:%s", hex),
		g_strdup_printf("ahlink1:gcm128x:12:%s", hex),
		g_strdup_printf("ahlink1:gcm128::%s", hex),
		g_strdup_printf("ahlink1:gcm128:0:%s", hex),
		g_strdup_printf("ahlink1:gcm128:012:%s", hex),
		g_strdup_printf("ahlink1:gcm128:-12:%s", hex),
		g_strdup_printf("ahlink1:gcm128:+12:%s", hex),
		g_strdup_printf("ahlink1:gcm128: 12:%s", hex),
		g_strdup_printf("ahlink1:gcm128:4294967296:%s", hex),
		g_strdup_printf("ahlink1:gcm128:99999999999:%s", hex),
		g_strdup_printf("ahlink1:gcm128:12%s", hex),
		g_strdup_printf("ahlink1:gcm128:12:%.62s", hex),
		g_strdup_printf("ahlink1:gcm128:12:%.63s", hex),
		g_strdup_printf("ahlink1:gcm128:12:%s0", hex),
		g_strdup_printf("ahlink1:gcm128:12:%s\n", hex),
		g_strdup_printf("ahlink1:gcm128:12:%s ", hex),
		g_strdup_printf(" ahlink1:gcm128:12:%s", hex),
		g_strdup("ahlink1:gcm128:12:00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"),
		g_strdup("ahlink1:gcm128:12:0011223344556677889gaabbccddeeff00112233445566778899aabbccddeeff"),
		g_strdup("ahlink1:gcm128:12:0x112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
		g_strdup("ahlink1:gcm128:12:0"),
		g_strdup("ahlink1:gcm128:12:"),
		g_strdup("ahlink1:gcm128:12"),
	};
	memcpy(&b, &a, sizeof(a));
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_false(ah_link_key_from_text(bad[i], &a, &error));
		g_assert_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID);
		g_assert_true(g_str_has_prefix(error->message, "link key: "));
		g_clear_error(&error);
		g_assert_true(memcmp(&a, &b, sizeof(a)) == 0); /* untouched */
		g_free(bad[i]);
	}
	g_assert_false(ah_link_key_from_text(NULL, &a, &error));
	g_clear_error(&error);
	/* An interior NUL ends the text: what precedes it is too short. */
	char cut[128];
	g_snprintf(cut, sizeof(cut), "%s", good);
	cut[40] = '\0';
	g_assert_false(ah_link_key_from_text(cut, &a, &error));
	g_clear_error(&error);
	/* The two directions' master keys differ, and differ between suites. */
	guint8 fwd[32], back[32], cm[32];
	g_assert_cmpuint(ah_link_key_derive(&a, TRUE, fwd), ==, 28);
	g_assert_cmpuint(ah_link_key_derive(&a, FALSE, back), ==, 28);
	g_assert_true(memcmp(fwd, back, 28) != 0);
	a.suite = AH_LINK_SUITE_CM128_SHA1_80;
	g_assert_cmpuint(ah_link_key_derive(&a, TRUE, cm), ==, 30);
	g_assert_true(memcmp(fwd, cm, 28) != 0);
	/* A key of no known suite: no master key, and no end made of it. */
	a.suite = (ah_link_suite)9;
	g_assert_cmpuint(ah_link_key_derive(&a, TRUE, cm), ==, 0);
	g_assert_null(ah_link_end_new(AH_LINK_EDGE, &a, &error));
	g_assert_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID);
	g_clear_error(&error);
	a.suite = AH_LINK_SUITE_GCM128;
	a.epoch = 0;
	g_assert_null(ah_link_end_new(AH_LINK_EDGE, &a, &error));
	g_assert_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID);
	g_clear_error(&error);
	g_free(good);
}

static void test_udp_errors(void)
{
	GError *error = NULL;
	g_assert_null(ah_link_udp_new("not-an-address", 0, &error));
	g_assert_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_null(ah_link_udp_new("192.0.2.1", 0, &error)); /* TEST-NET-1: not on this host */
	g_assert_error(error, AH_LINK_ERROR, AH_LINK_ERROR_SYSTEM);
	g_clear_error(&error);
	ah_link_udp *u = ah_link_udp_new("127.0.0.1", 0, &error);
	g_assert_no_error(error);
	ah_link_dgram d[2];
	g_assert_cmpint(ah_link_udp_recv(u, d, 2), ==, 0); /* nothing queued: no wait */
	g_assert_false(ah_link_udp_wait(u, 10));
	ah_link_udp_free(u);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/link/key-text", test_key_text);
	g_test_add_data_func("/link/10000-packets-gcm", GINT_TO_POINTER(AH_LINK_SUITE_GCM128), test_many_packets);
	g_test_add_data_func("/link/10000-packets-cm-sha1", GINT_TO_POINTER(AH_LINK_SUITE_CM128_SHA1_80), test_many_packets);
	g_test_add_func("/link/forged-and-replayed", test_forged);
	g_test_add_func("/link/other-key", test_other_key);
	g_test_add_func("/link/source", test_source);
	g_test_add_func("/link/rtcp-both-ways", test_rtcp_both_ways);
	g_test_add_func("/link/ssrc-and-malformed", test_ssrc_and_malformed);
	g_test_add_func("/link/rotation", test_rotation);
	g_test_add_func("/link/udp-errors", test_udp_errors);
	g_test_add_func("/link/ipv6", test_ipv6);
	g_test_add_func("/link/threads-and-rotation", test_threads_and_rotation);
	return g_test_run();
}
