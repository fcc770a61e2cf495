/* allhands: unit tests of RTCP receiver feedback parsing (include/allhands/feedback.h,
 * plugin/core/feedback.c): report blocks of SR and RR, REMB, compound packets, and what a truncated
 * or malformed packet yields.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "allhands/feedback.h"

static void put32(GByteArray *b, guint32 v)
{
	guint8 x[4] = {v >> 24, v >> 16, v >> 8, v};
	g_byte_array_append(b, x, 4);
}

/* Common header: version 2, count, type, length in 32-bit words minus one. */
static void header(GByteArray *b, guint count, guint type, guint words)
{
	guint8 x[4] = {0x80 | (count & 0x1f), type, (words - 1) >> 8, (words - 1) & 0xff};
	g_byte_array_append(b, x, 4);
}

static void report_block(GByteArray *b, guint8 fraction)
{
	put32(b, 0x1111);
	put32(b, ((guint32)fraction << 24) | 5); /* fraction lost, cumulative lost */
	for (int i = 0; i < 4; i++)
		put32(b, 0);
}

static void rr(GByteArray *b, const guint8 *fractions, guint n)
{
	header(b, n, 201, 2 + 6 * n);
	put32(b, 0xabcd);
	for (guint i = 0; i < n; i++)
		report_block(b, fractions[i]);
}

static void sr(GByteArray *b, guint8 fraction)
{
	header(b, 1, 200, 7 + 6);
	put32(b, 0xabcd);
	for (int i = 0; i < 5; i++)
		put32(b, 0);
	report_block(b, fraction);
}

static void remb(GByteArray *b, guint exp, guint32 mantissa)
{
	header(b, 15, 206, 6);
	put32(b, 0xabcd);
	put32(b, 0);
	g_byte_array_append(b, (const guint8 *)"REMB", 4);
	guint8 x[4] = {1, (exp << 2) | (mantissa >> 16), mantissa >> 8, mantissa};
	g_byte_array_append(b, x, 4);
	put32(b, 0x1111);
}

static void parse(GByteArray *b, double *loss, guint32 *bps)
{
	ah_rtcp_feedback(b->data, b->len, loss, bps);
}

static void test_reports(void)
{
	double loss;
	guint32 bps;
	GByteArray *b = g_byte_array_new();
	const guint8 two[] = {12, 64};
	rr(b, two, 2);
	parse(b, &loss, &bps);
	g_assert_cmpfloat(loss, ==, 64.0 / 256.0);
	g_assert_cmpuint(bps, ==, 0);
	g_byte_array_set_size(b, 0);
	sr(b, 128);
	parse(b, &loss, &bps);
	g_assert_cmpfloat(loss, ==, 0.5);
	/* An RR without blocks: loss unknown. */
	g_byte_array_set_size(b, 0);
	rr(b, NULL, 0);
	parse(b, &loss, &bps);
	g_assert_cmpfloat(loss, ==, -1);
	g_byte_array_free(b, TRUE);
}

static void test_remb(void)
{
	double loss;
	guint32 bps;
	GByteArray *b = g_byte_array_new();
	const guint8 one[] = {3};
	rr(b, one, 1);
	remb(b, 3, 150000); /* 1.2 Mbit/s */
	remb(b, 0, 7);      /* only the first REMB counts */
	parse(b, &loss, &bps);
	g_assert_cmpfloat(loss, ==, 3.0 / 256.0);
	g_assert_cmpuint(bps, ==, 1200000);
	/* Saturated, never wrapped. */
	g_byte_array_set_size(b, 0);
	remb(b, 63, 0x3ffff);
	parse(b, &loss, &bps);
	g_assert_cmpuint(bps, ==, G_MAXUINT32);
	g_byte_array_set_size(b, 0);
	remb(b, 14, 0x3ffff); /* 2^32 - 2^14: just fits */
	parse(b, &loss, &bps);
	g_assert_cmpuint(bps, ==, (guint32)(0x3ffffu << 14));
	/* Not "REMB": another PSFB (PLI) is no bitrate. */
	g_byte_array_set_size(b, 0);
	remb(b, 3, 1000);
	b->data[12] = 'X';
	parse(b, &loss, &bps);
	g_assert_cmpuint(bps, ==, 0);
	g_byte_array_free(b, TRUE);
}

static void test_malformed(void)
{
	double loss;
	guint32 bps;
	GByteArray *b = g_byte_array_new();
	const guint8 f[] = {200};
	rr(b, f, 1);
	remb(b, 2, 1000);
	/* Every truncation keeps what came whole before it. */
	for (guint len = 0; len <= b->len; len++) {
		ah_rtcp_feedback(b->data, len, &loss, &bps);
		if (len < 32)
			g_assert_cmpfloat(loss, ==, -1);
		else
			g_assert_cmpfloat(loss, ==, 200.0 / 256.0);
		g_assert_cmpuint(bps, ==, len == b->len ? 4000 : 0);
	}
	/* A report count larger than the blocks present reads only those present. */
	b->data[0] = 0x80 | 31;
	parse(b, &loss, &bps);
	g_assert_cmpfloat(loss, ==, 200.0 / 256.0);
	/* Version 1 stops the walk at once. */
	b->data[0] = 0x40 | 1;
	parse(b, &loss, &bps);
	g_assert_cmpfloat(loss, ==, -1);
	g_assert_cmpuint(bps, ==, 0);
	ah_rtcp_feedback(NULL, 10, &loss, &bps);
	g_assert_cmpfloat(loss, ==, -1);
	g_byte_array_free(b, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/feedback/reports", test_reports);
	g_test_add_func("/feedback/remb", test_remb);
	g_test_add_func("/feedback/malformed", test_malformed);
	return g_test_run();
}
