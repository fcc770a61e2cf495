/* allhands: benchmark of the node-to-node link (`make bench-link`; docs/benchmarks.md, "Node-to-node link
 * (issue 14)"). For each suite: the cost of protecting and of unprotecting one 1200-byte RTP packet in
 * memory (and of refusing a forged one, of a straggler under the previous key during a rotation, of a
 * packet from a wrong source), then packets per second through two UDP endpoints on 127.0.0.1: a
 * sender thread protects and sends, a receiver thread takes batches (recvmmsg, 64) and unprotects;
 * the same run without SRTP gives the socket's own cost. Figures are printed, never asserted.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <glib.h>

#include "allhands/link.h"

#define SIZE 1200
#define BUF (AH_LINK_MTU + AH_LINK_OVERHEAD_MAX)

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	return (double)g_get_monotonic_time() / 1e6;
}

static int rtp(guint8 *buf, guint32 i, guint32 ssrc)
{
	buf[0] = 0x80;
	buf[1] = 96;
	buf[2] = (guint8)(i >> 8);
	buf[3] = (guint8)i;
	guint32 ts = GUINT32_TO_BE(i * 3000u), s = GUINT32_TO_BE(ssrc);
	memcpy(buf + 4, &ts, 4);
	memcpy(buf + 8, &s, 4);
	for (int k = 12; k < SIZE; k++)
		buf[k] = (guint8)(k * 7 + i);
	return SIZE;
}

static ah_link_end *end_new(ah_link_role role, const ah_link_key *key)
{
	GError *error = NULL;
	ah_link_end *end = ah_link_end_new(role, key, &error);
	if (end == NULL) {
		fprintf(stderr, "bench-link: %s\n", error->message);
		exit(1);
	}
	return end;
}

#define RING 1024

/* Phase timings of in_memory, in CPU seconds summed over batches of RING packets (kept in cache). */
typedef struct {
	double build, protect, unprotect;
	guint ok;
} phases;

/* RING packets of `ssrc` from sequence `first`: built, protected by `from`, optionally a bit flipped,
 * unprotected by `to` as if from `src`. */
static void batch(phases *ph, ah_link_end *from, ah_link_end *to, guint8 *wire, int *lens, guint32 first,
	guint32 ssrc, gboolean flip, const struct sockaddr_in *src)
{
	double c0 = cpu_s();
	for (guint i = 0; i < RING; i++)
		lens[i] = rtp(wire + (gsize)i * BUF, first + i, ssrc);
	double c1 = cpu_s();
	for (guint i = 0; i < RING; i++) {
		guint8 *w = wire + (gsize)i * BUF;
		lens[i] = ah_link_end_protect_rtp(from, w, rtp(w, first + i, ssrc), BUF);
		if (flip)
			w[600] ^= 1;
	}
	double c2 = cpu_s();
	for (guint i = 0; i < RING; i++) {
		int len = lens[i];
		ph->ok += ah_link_end_unprotect(to, wire + (gsize)i * BUF, &len, NULL, (const struct sockaddr *)src,
			sizeof(*src)) == AH_LINK_OK;
	}
	double c3 = cpu_s();
	ph->build += c1 - c0;
	ph->protect += (c2 - c1) - (c1 - c0); /* without building the packet */
	ph->unprotect += c3 - c2;
}

static void in_memory(ah_link_suite suite, guint n)
{
	GError *error = NULL;
	ah_link_key key, next;
	if (!ah_link_key_generate(1, suite, &key, &error) || !ah_link_key_generate(2, suite, &next, &error)) {
		fprintf(stderr, "bench-link: %s\n", error->message);
		exit(1);
	}
	ah_link_end *origin = end_new(AH_LINK_ORIGIN, &key), *edge = end_new(AH_LINK_EDGE, &key);
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(5004) }, other = peer;
	peer.sin_addr.s_addr = htonl(0x7f000001);
	other.sin_addr.s_addr = htonl(0x7f000002);
	ah_link_end_set_peer(edge, (struct sockaddr *)&peer, sizeof(peer));
	guint8 *wire = g_malloc0((gsize)RING * BUF);
	int lens[RING];
	n = n / RING * RING;
	phases good = { 0 }, forged = { 0 }, straggler = { 0 }, source = { 0 };
	guint32 seq = 0;
	for (guint b = 0; b < n / RING; b++, seq += RING)
		batch(&good, origin, edge, wire, lens, seq, 0x1234, FALSE, &peer);
	/* Forged packets (of another SSRC: the first stream's sequence stays continuous for the receiver,
	 * whose rollover counter follows only what it accepts). */
	for (guint b = 0; b < n / RING; b++)
		batch(&forged, origin, edge, wire, lens, b * RING, 0x5678, TRUE, &peer);
	/* From a wrong source: refused before any crypto (the sender's side of it is not counted). */
	for (guint b = 0; b < n / RING; b++)
		batch(&source, origin, edge, wire, lens, b * RING, 0x9abc, FALSE, &other);
	/* A rotation's stragglers: packets under epoch 1 reaching an edge that holds 2 and 1 (tried under
	 * 2 first, restored, then under 1). */
	ah_link_end_add_key(edge, &next, &error);
	for (guint b = 0; b < n / RING; b++, seq += RING)
		batch(&straggler, origin, edge, wire, lens, seq, 0x1234, FALSE, &peer);
	printf("  %-14s protect %5.0f ns/packet, unprotect %5.0f ns (%u/%u ok); forged refused %5.0f ns (%u passed); "
		   "straggler under the previous key %5.0f ns (%u/%u ok); wrong source %3.0f ns (%u passed)\n",
		ah_link_suite_name(suite), good.protect / n * 1e9, good.unprotect / n * 1e9, good.ok, n,
		forged.unprotect / n * 1e9, forged.ok, straggler.unprotect / n * 1e9, straggler.ok, n,
		source.unprotect / n * 1e9, source.ok);
	g_free(wire);
	ah_link_end_free(origin);
	ah_link_end_free(edge);
}

typedef struct {
	ah_link_udp *udp;
	ah_link_end *end; /* NULL: plain UDP */
	struct sockaddr_storage to;
	socklen_t to_len;
	guint n;
	volatile gint done;
	guint sent, lost_at_send;
	guint received, accepted;
	double cpu_send;
} flow;

static gpointer sender(gpointer data)
{
	flow *f = data;
	guint8 buf[BUF];
	struct timespec t0, t1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	for (guint i = 0; i < f->n; i++) {
		int len = rtp(buf, i, 0x1234);
		if (f->end != NULL)
			len = ah_link_end_protect_rtp(f->end, buf, len, BUF);
		if (ah_link_udp_send(f->udp, buf, (gsize)len, (struct sockaddr *)&f->to, f->to_len))
			f->sent++;
		else
			f->lost_at_send++;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	f->cpu_send = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	g_atomic_int_set(&f->done, 1);
	return NULL;
}

static void loopback(ah_link_suite suite, gboolean plain, guint n)
{
	GError *error = NULL;
	ah_link_key key;
	ah_link_key_generate(1, suite, &key, &error);
	ah_link_udp *a = ah_link_udp_new("127.0.0.1", 0, &error), *b = ah_link_udp_new("127.0.0.1", 0, &error);
	if (a == NULL || b == NULL) {
		fprintf(stderr, "bench-link: %s\n", error->message);
		exit(1);
	}
	ah_link_end *origin = plain ? NULL : end_new(AH_LINK_ORIGIN, &key), *edge = plain ? NULL : end_new(AH_LINK_EDGE, &key);
	struct sockaddr_storage a_addr;
	socklen_t a_len;
	ah_link_udp_local(a, &a_addr, &a_len);
	flow f = { .udp = a, .end = origin, .n = n };
	ah_link_udp_local(b, &f.to, &f.to_len);
	if (edge != NULL)
		ah_link_end_set_peer(edge, (struct sockaddr *)&a_addr, a_len);
	ah_link_dgram *d = g_new(ah_link_dgram, 64);
	struct timespec t0, t1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	double w0 = now_s(), last = w0;
	GThread *t = g_thread_new("bench-link-send", sender, &f);
	for (;;) {
		if (!ah_link_udp_wait(b, 100)) {
			if (g_atomic_int_get(&f.done))
				break;
			continue;
		}
		int got = ah_link_udp_recv(b, d, 64);
		for (int i = 0; i < got; i++) {
			f.received++;
			if (edge == NULL ||
				ah_link_end_unprotect(edge, d[i].data, &d[i].len, NULL, (struct sockaddr *)&d[i].from, d[i].from_len) ==
					AH_LINK_OK)
				f.accepted++;
		}
		if (got > 0)
			last = now_s();
	}
	g_thread_join(t);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	double wall = last - w0;
	double cpu_recv = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("  %-14s %u sent in %.2f s: %.0f packets/s received and accepted (%.0f Mbit/s of RTP), %u lost in the "
		   "receiver's socket buffer, %u refused at send; CPU per packet: sender %.2f us, receiver %.2f us\n",
		plain ? "plain UDP" : ah_link_suite_name(suite), f.sent, wall, f.accepted / wall,
		f.accepted * SIZE * 8.0 / wall / 1e6, f.sent - f.received, f.lost_at_send, f.cpu_send / n * 1e6,
		f.received > 0 ? cpu_recv / f.received * 1e6 : 0.0);
	g_free(d);
	ah_link_end_free(origin);
	ah_link_end_free(edge);
	ah_link_udp_free(a);
	ah_link_udp_free(b);
}

int main(int argc, char **argv)
{
	guint n = argc > 1 ? (guint)strtoul(argv[1], NULL, 10) : 200000;
	if (n < 1000)
		n = 1000;
	guint mem = MIN(n, 100000u);
	printf("bench-link: %u-byte RTP packets; libsrtp2; %d CPUs online\n", SIZE, g_get_num_processors());
	printf("in memory, one thread, %u packets each:\n", mem);
	in_memory(AH_LINK_SUITE_GCM128, mem);
	in_memory(AH_LINK_SUITE_CM128_SHA1_80, mem);
	printf("through two UDP endpoints on 127.0.0.1 (a sender thread, a receiver thread with recvmmsg of 64), "
		   "%u packets:\n", n);
	loopback(AH_LINK_SUITE_GCM128, TRUE, n);
	loopback(AH_LINK_SUITE_GCM128, FALSE, n);
	loopback(AH_LINK_SUITE_CM128_SHA1_80, FALSE, n);
	return 0;
}
