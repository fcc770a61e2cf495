/* allhands core: receiver feedback in RTCP (include/allhands/feedback.h).
 *
 * Owns the parsing of SR/RR report blocks and REMB. Pure function over bytes; any thread (in
 * practice an attendee's handle loop thread, through plugin/glue/plugin.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "allhands/feedback.h"

enum { RTCP_SR = 200, RTCP_RR = 201, RTCP_PSFB = 206 };
#define RTCP_HEADER 4
#define REPORT_BLOCK 24
#define SENDER_INFO 20
#define PSFB_REMB 15

/* One PSFB packet of `size` bytes: its REMB bitrate, or 0. Layout after the common header: sender
 * SSRC, media SSRC (0), "REMB", number of SSRCs (8 bits), exp (6) and mantissa (18), SSRCs. */
static guint32 remb_of(const guint8 *p, gsize size)
{
	if ((p[0] & 0x1f) != PSFB_REMB || size < RTCP_HEADER + 16 || memcmp(p + 12, "REMB", 4) != 0)
		return 0;
	const guint exp = p[17] >> 2;
	const guint64 mantissa = ((guint64)(p[17] & 0x03) << 16) | ((guint64)p[18] << 8) | p[19];
	if (mantissa == 0)
		return 0;
	/* mantissa < 2^18: any exp above 46 overflows 64 bits, any result above G_MAXUINT32 saturates. */
	if (exp >= 46 || (mantissa << exp) > G_MAXUINT32)
		return G_MAXUINT32;
	return (guint32)(mantissa << exp);
}

void ah_rtcp_feedback(const guint8 *buf, gsize len, double *fraction_lost, guint32 *remb_bps)
{
	*fraction_lost = -1;
	*remb_bps = 0;
	gsize at = 0;
	while (buf != NULL && at + RTCP_HEADER <= len) {
		const guint8 *p = buf + at;
		const gsize size = ((gsize)((p[2] << 8) | p[3]) + 1) * 4;
		if ((p[0] >> 6) != 2 || size > len - at)
			break;
		/* Report blocks follow the header and the sender's SSRC (RR), and the sender info (SR). */
		const gsize blocks = p[1] == RTCP_RR ? RTCP_HEADER + 4 : p[1] == RTCP_SR ? RTCP_HEADER + 4 + SENDER_INFO : 0;
		const guint count = p[0] & 0x1f;
		for (guint b = 0; blocks > 0 && b < count && blocks + (b + 1) * REPORT_BLOCK <= size; b++) {
			const double f = (double)p[blocks + b * REPORT_BLOCK + 4] / 256.0;
			if (f > *fraction_lost)
				*fraction_lost = f;
		}
		if (p[1] == RTCP_PSFB && *remb_bps == 0)
			*remb_bps = remb_of(p, size);
		at += size;
	}
}
