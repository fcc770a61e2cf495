/* allhands: simulcast layer selection for one receiver's video stream (include/allhands/simulcast.h).
 *
 * Owns the choice of layer for one receiver: its ceiling, the layer the law wants, the loss and
 * REMB history and the hold timers. It must not know about rooms, RTP or Janus: the glue feeds it
 * each receiver report with the presenter's measured layer bitrates and applies what it returns.
 * Pure: no Janus header, no clock reads (time is `now_us`), no logging, no allocation, no global
 * state. Control thread only (the glue's, like the engine).
 *
 * DESIGN
 * Input. A fraction lost outside 0..1 (or NaN) and a REMB of 0 are "not known". A layer with
 * bitrate 0 is not received, unless it had one less than AH_SIM_GONE_US (3 s) ago: a layer's
 * bitrate is measured over one-second windows, and under CPU load a layer the presenter still
 * sends read 0 for a window, which took a receiver capped at "low" up to "medium" for seconds (the
 * simulcast integration test on a loaded machine). With no bitrate at all every layer counts as
 * received and REMB is never compared with a bitrate.
 * Sent layer. The law moves a target (0..ceiling). What is sent is the target if it is received,
 * else the nearest received layer below it, else the nearest above it (even above the ceiling: a
 * higher picture beats none, and a presenter that sends only one layer leaves no choice). So a
 * presenter dropping its top layer for a while costs nobody their target.
 * Settle. Reports less than AH_SIM_SETTLE_US (1 s) after a change of target are ignored: a receiver
 * report covers the last second or so, which was mostly the previous layer. Each change of target
 * also forgets the loss and REMB history, for the same reason.
 * Down, by one received layer below the one sent, on a report after which
 *   - this report's loss > AH_SIM_LOSS_SEVERE (20 %), or
 *   - the smoothed loss (EWMA, alpha 0.5, the first report sets it) > AH_SIM_LOSS_DOWN (10 %) on
 *     AH_SIM_BAD_REPORTS (2) reports in a row, or
 *   - REMB < the sent layer's bitrate on 2 reports in a row, except within AH_SIM_REMB_GRACE_US
 *     (10 s) of a raise (or of a raised ceiling): a receiver's estimate trails a bigger layer by several seconds while it
 *     ramps up (loss still brings the layer down meanwhile).
 * Up, by one received layer above the one sent (never above the ceiling), on a clean report (loss
 * known, smoothed loss < AH_SIM_LOSS_CLEAN, 2 %) that ends a run of clean reports lasting at least
 * the hold, when REMB (if known) is >= 1.2 x the next layer's bitrate or >= 1.4 x the sent one's. A
 * report with loss not known neither breaks nor extends a run; any other report breaks it. The
 * second REMB test is there because a receive-side estimate (GCC) never climbs above about 1.5 x
 * what the receiver gets plus 10 kbit/s: it can show there is no congestion, never that a layer
 * three times bigger fits; loss after the raise decides, and the hold keeps that from oscillating.
 * Hold. Starts at AH_SIM_HOLD_MIN_US (5 s). A drop within the hold after a raise doubles it (at
 * most AH_SIM_HOLD_MAX_US, 60 s): each failed attempt waits twice as long before the next. A raise
 * that lasts its hold halves it again (at least 5 s).
 * Time. A report older than the last one (the clock went back) restarts every timer as if the
 * target had just changed; a report more than AH_SIM_STALE_US (10 s) after the previous one forgets
 * the loss and REMB history and the clean run (they describe a connection that may be gone).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include "allhands/simulcast.h"

static int clamp_layer(int layer)
{
	return CLAMP(layer, AH_SIM_LOW, AH_SIM_HIGH);
}

/* now - since in microseconds, 0 when since is later; no signed overflow whatever the values. */
static gint64 elapsed(gint64 now, gint64 since)
{
	guint64 d;
	if (now <= since)
		return 0;
	d = (guint64)now - (guint64)since;
	return d > (guint64)G_MAXINT64 ? G_MAXINT64 : (gint64)d;
}

static gboolean is_received(const ah_sim_state *s, int layer)
{
	return s->received == 0 || (s->received & (1u << layer)) != 0;
}

/* The layer sent for the target (see DESIGN: nearest received below, else above). */
static int resolve(const ah_sim_state *s)
{
	for (int i = s->target; i >= AH_SIM_LOW; i--)
		if (is_received(s, i))
			return i;
	for (int i = s->target + 1; i <= AH_SIM_HIGH; i++)
		if (is_received(s, i))
			return i;
	return s->target;
}

/* The received layer just below / above `layer` (above: at most the ceiling), or -1. */
static int step_down(const ah_sim_state *s, int layer)
{
	for (int i = layer - 1; i >= AH_SIM_LOW; i--)
		if (is_received(s, i))
			return i;
	return -1;
}

static int step_up(const ah_sim_state *s, int layer)
{
	for (int i = layer + 1; i <= s->ceiling; i++)
		if (is_received(s, i))
			return i;
	return -1;
}

static void forget_history(ah_sim_state *s)
{
	s->loss_known = FALSE;
	s->loss = 0;
	s->loss_bad = 0;
	s->remb_bad = 0;
	s->clean = FALSE;
}

static void change_target(ah_sim_state *s, int target, gint64 now_us)
{
	s->target = target;
	s->changed_us = now_us;
	forget_history(s);
}

void ah_sim_init(ah_sim_state *s, int ceiling, gint64 now_us)
{
	memset(s, 0, sizeof(*s));
	s->ceiling = clamp_layer(ceiling);
	s->target = s->ceiling;
	s->layer = s->ceiling;
	s->last_us = now_us;
	s->changed_us = now_us;
	s->hold_us = AH_SIM_HOLD_MIN_US;
}

int ah_sim_set_ceiling(ah_sim_state *s, int ceiling, gint64 now_us)
{
	ceiling = clamp_layer(ceiling);
	if (ceiling < s->target) {
		change_target(s, ceiling, now_us);
	} else if (ceiling > s->ceiling && s->target == s->ceiling) {
		/* Not a raise of the law (no hold at stake), but REMB trails it all the same. */
		change_target(s, ceiling, now_us);
		s->last_raise_valid = TRUE;
		s->last_raise_us = now_us;
	}
	s->ceiling = ceiling;
	s->layer = resolve(s);
	return s->layer;
}

/* The layers received (see DESIGN, "Input"): a layer that had a bitrate counts until it has read
 * 0 for AH_SIM_GONE_US. */
static guint received_mask(ah_sim_state *s, const guint64 layer_bps[AH_SIM_LAYERS], gint64 now_us)
{
	guint now = 0, mask = 0;
	for (int i = 0; layer_bps != NULL && i < AH_SIM_LAYERS; i++)
		if (layer_bps[i] > 0)
			now |= 1u << i;
	if (now == 0)
		return 0;
	for (int i = 0; i < AH_SIM_LAYERS; i++) {
		if (now & (1u << i))
			s->seen_us[i] = now_us;
		if ((now & (1u << i)) || (s->seen_us[i] != 0 && elapsed(now_us, s->seen_us[i]) < AH_SIM_GONE_US))
			mask |= 1u << i;
	}
	return mask;
}

/* The clock, before anything else: see DESIGN ("Time"). */
static void keep_time(ah_sim_state *s, gint64 now_us)
{
	if (now_us < s->last_us) {
		forget_history(s);
		s->changed_us = now_us;
		s->raised = FALSE;
		s->last_raise_valid = FALSE;
	} else if (elapsed(now_us, s->last_us) > AH_SIM_STALE_US) {
		forget_history(s);
	}
	s->last_us = now_us;
	/* A raise that lasted its hold: the next attempt may come sooner. */
	if (s->raised && elapsed(now_us, s->raised_us) >= s->hold_us) {
		s->raised = FALSE;
		s->hold_us = MAX(s->hold_us / 2, AH_SIM_HOLD_MIN_US);
	}
}

static void go_down(ah_sim_state *s, int below, gint64 now_us)
{
	if (s->raised && elapsed(now_us, s->raised_us) < s->hold_us)
		s->hold_us = MIN(s->hold_us * 2, AH_SIM_HOLD_MAX_US);
	s->raised = FALSE;
	change_target(s, below, now_us);
}

static gboolean remb_allows_raise(guint64 remb_bps, guint64 sent_bps, guint64 next_bps)
{
	if (remb_bps == 0 || next_bps == 0)
		return TRUE;
	return (double)remb_bps >= AH_SIM_REMB_UP_NEXT * (double)next_bps ||
		(sent_bps > 0 && (double)remb_bps >= AH_SIM_REMB_UP_CURRENT * (double)sent_bps);
}

/* Loss and REMB of one counted report: TRUE when the law goes down. */
static gboolean wants_down(ah_sim_state *s, gint64 now_us, gboolean loss_known, double loss, guint64 remb_bps,
	guint64 sent_bps)
{
	gboolean in_grace = s->last_raise_valid && elapsed(now_us, s->last_raise_us) < AH_SIM_REMB_GRACE_US;
	if (loss_known) {
		s->loss = s->loss_known ? (1 - AH_SIM_LOSS_ALPHA) * s->loss + AH_SIM_LOSS_ALPHA * loss : loss;
		s->loss_known = TRUE;
		s->loss_bad = s->loss > AH_SIM_LOSS_DOWN ? s->loss_bad + 1 : 0;
	}
	if (remb_bps > 0 && sent_bps > 0)
		s->remb_bad = remb_bps < sent_bps ? s->remb_bad + 1 : 0;
	return (loss_known && loss > AH_SIM_LOSS_SEVERE) || s->loss_bad >= AH_SIM_BAD_REPORTS ||
		(s->remb_bad >= AH_SIM_BAD_REPORTS && !in_grace);
}

int ah_sim_feedback(ah_sim_state *s, gint64 now_us, double fraction_lost, guint64 remb_bps,
	const guint64 layer_bps[AH_SIM_LAYERS])
{
	gboolean loss_known = isfinite(fraction_lost) && fraction_lost >= 0 && fraction_lost <= 1;
	guint64 sent_bps, next_bps;
	int sent, next;
	s->received = received_mask(s, layer_bps, now_us);
	keep_time(s, now_us);
	sent = resolve(s);
	if (elapsed(now_us, s->changed_us) < AH_SIM_SETTLE_US)
		return s->layer = sent;
	sent_bps = s->received != 0 ? layer_bps[sent] : 0;
	if (wants_down(s, now_us, loss_known, fraction_lost, remb_bps, sent_bps)) {
		int below = step_down(s, sent);
		if (below >= 0)
			go_down(s, below, now_us);
		else
			forget_history(s);
		return s->layer = resolve(s);
	}
	if (!loss_known)
		return s->layer = sent;
	if (s->loss >= AH_SIM_LOSS_CLEAN) {
		s->clean = FALSE;
		return s->layer = sent;
	}
	if (!s->clean) {
		s->clean = TRUE;
		s->clean_since_us = now_us;
	}
	next = step_up(s, sent);
	next_bps = next >= 0 && s->received != 0 ? layer_bps[next] : 0;
	if (next >= 0 && elapsed(now_us, s->clean_since_us) >= s->hold_us &&
			remb_allows_raise(remb_bps, sent_bps, next_bps)) {
		change_target(s, next, now_us);
		s->raised = TRUE;
		s->raised_us = now_us;
		s->last_raise_valid = TRUE;
		s->last_raise_us = now_us;
	}
	return s->layer = resolve(s);
}

static const char *const layer_names[AH_SIM_LAYERS] = { "low", "medium", "high" };
static const char *const layer_digits[AH_SIM_LAYERS] = { "0", "1", "2" };

int ah_sim_layer_parse(const char *name)
{
	for (int i = 0; name != NULL && i < AH_SIM_LAYERS; i++)
		if (strcmp(name, layer_names[i]) == 0 || strcmp(name, layer_digits[i]) == 0)
			return i;
	return -1;
}

const char *ah_sim_layer_name(int layer)
{
	return layer_names[clamp_layer(layer)];
}
