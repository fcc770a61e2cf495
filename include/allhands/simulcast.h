/* allhands: simulcast layer selection for one receiver's video stream (the policy, not the relay).
 *
 * A presenter may send up to three simulcast layers (0 low, 1 medium, 2 high). Each receiver of its
 * video (seated attendee, backstage monitor) gets one of them: at most its ceiling (the room's
 * `video_layer`, or less if the attendee asked for less), lowered when its connection reports loss
 * or a low bandwidth estimate, raised again only after a hold of clean reports that doubles each
 * time a raise does not last. The law and its constants are in simulcast.c and
 * docs/operations.md ("Simulcast layers").
 *
 * Pure logic: no Janus, no clock reads (time is `now_us`, monotonic microseconds), no logging, no
 * locks, no allocation. The glue calls it on the control thread, one ah_sim_state per receiver
 * video stream, with each RTCP receiver report / REMB it gets for that stream, and applies the
 * layer it returns in the relay.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_SIMULCAST_H
#define ALLHANDS_SIMULCAST_H

#include <glib.h>

#define AH_SIM_LAYERS 3
enum { AH_SIM_LOW = 0, AH_SIM_MEDIUM = 1, AH_SIM_HIGH = 2 };

/* The law's constants (simulcast.c explains each). */
#define AH_SIM_LOSS_ALPHA       0.5   /* smoothed = (1 - alpha) smoothed + alpha sample */
#define AH_SIM_LOSS_DOWN        0.10  /* smoothed loss above this on 2 reports in a row: down */
#define AH_SIM_LOSS_SEVERE      0.20  /* one report above this: down */
#define AH_SIM_LOSS_CLEAN       0.02  /* smoothed loss below this: a clean report */
#define AH_SIM_BAD_REPORTS      2     /* reports in a row for LOSS_DOWN and for a low REMB */
#define AH_SIM_REMB_UP_NEXT     1.2   /* raise: REMB >= 1.2 x the next layer's bitrate... */
#define AH_SIM_REMB_UP_CURRENT  1.4   /* ...or >= 1.4 x the current one (a receiver's cap) */
#define AH_SIM_SETTLE_US        G_GINT64_CONSTANT(1000000)   /* reports ignored after a change */
#define AH_SIM_REMB_GRACE_US    G_GINT64_CONSTANT(10000000)  /* no REMB drop this long after a raise */
#define AH_SIM_HOLD_MIN_US      G_GINT64_CONSTANT(5000000)   /* clean run needed before a raise */
#define AH_SIM_HOLD_MAX_US      G_GINT64_CONSTANT(60000000)
#define AH_SIM_STALE_US         G_GINT64_CONSTANT(10000000)  /* a longer silence forgets the history */
#define AH_SIM_GONE_US          G_GINT64_CONSTANT(3000000)   /* a layer seen, then read 0 this long: gone */

typedef struct {
	int ceiling;            /* 0..2: the most this receiver may get */
	int target;             /* 0..ceiling: the layer the law wants (may not be received now) */
	int layer;              /* the layer last returned: target, or the nearest layer received */
	guint received;         /* bit i: layer i was received at the last feedback; 0: not known */
	gint64 seen_us[AH_SIM_LAYERS]; /* when each layer last had a bitrate (0: never) */
	/* Loss and REMB history (forgotten at each change of target: it was about another layer). */
	gboolean loss_known;
	double loss;            /* smoothed fraction lost, 0..1 */
	guint loss_bad;         /* reports in a row with smoothed loss > AH_SIM_LOSS_DOWN */
	guint remb_bad;         /* reports in a row with REMB below the current layer's bitrate */
	/* Timers (monotonic microseconds). */
	gint64 last_us;         /* the last feedback or init */
	gint64 changed_us;      /* the last change of target (reports are ignored for SETTLE after it) */
	gboolean clean;         /* a run of clean reports is under way, since clean_since_us */
	gint64 clean_since_us;
	gboolean raised;        /* a raise whose hold has not passed yet, made at raised_us */
	gint64 raised_us;
	gboolean last_raise_valid; /* last_raise_us is the last raise, or ceiling raise (REMB grace) */
	gint64 last_raise_us;
	gint64 hold_us;         /* clean run a raise needs: AH_SIM_HOLD_MIN_US..AH_SIM_HOLD_MAX_US */
} ah_sim_state;

/* Start at the ceiling (clamped into 0..2), no history, hold AH_SIM_HOLD_MIN_US. */
void ah_sim_init(ah_sim_state *s, int ceiling, gint64 now_us);
/* A new ceiling (clamped into 0..2). Lower than the target: the target comes down at once. Higher,
 * while the target sits at the old ceiling (the connection was not holding it back): the target
 * goes up to it at once; otherwise it rises by the law. Returns the layer to send now. */
int ah_sim_set_ceiling(ah_sim_state *s, int ceiling, gint64 now_us);
/* One feedback report for this receiver's stream; returns the layer to send now.
 * fraction_lost: RTCP RR fraction lost, 0..1; negative, NaN, infinite or above 1: not known.
 * remb_bps: the receiver's bandwidth estimate available to this stream; 0: not known.
 * layer_bps: the measured bitrate of each of the presenter's layers, 0 for a layer not received;
 * NULL (or all 0): not known, every layer is taken as received and REMB is not compared. */
int ah_sim_feedback(ah_sim_state *s, gint64 now_us, double fraction_lost, guint64 remb_bps,
	const guint64 layer_bps[AH_SIM_LAYERS]);

/* "low", "medium", "high" (or "0", "1", "2") -> 0..2; -1 for anything else, NULL included. */
int ah_sim_layer_parse(const char *name);
/* 0..2 -> "low", "medium", "high" (out of range: clamped into 0..2 first). */
const char *ah_sim_layer_name(int layer);

#endif
