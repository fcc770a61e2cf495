/* allhands: the feedback a receiver's RTCP carries for the simulcast layer policy (simulcast.h).
 *
 * Pure parsing of untrusted bytes: no Janus, no allocation, no clock. plugin/glue/plugin.c calls it
 * on an attendee's handle loop thread with each compound RTCP packet (already decrypted by Janus).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_FEEDBACK_H
#define ALLHANDS_FEEDBACK_H

#include <glib.h>

/* Walk a compound RTCP packet (RFC 3550 6.1) and report the worst "fraction lost" of its SR and RR
 * report blocks (0..255/256; -1 when there is none) and the bitrate of its first REMB
 * (draft-alvestrand-rmcat-remb: PSFB FMT 15 "REMB", mantissa x 2^exp bps, saturated at G_MAXUINT32;
 * 0 when there is none). Stops at the first packet whose version is not 2 or whose length runs past
 * `len`, keeping what came before. */
void ah_rtcp_feedback(const guint8 *buf, gsize len, double *fraction_lost, guint32 *remb_bps);

#endif
