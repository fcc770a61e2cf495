/* allhands: the throttle of failed credential attempts (issue 12).
 *
 * A failure bucket counts the failed attempts of one scope (a Janus session, a room, a tenant, the
 * node's admin_key) and refuses further attempts for a while once `burst` failures came faster
 * than one per `interval_us`: the generic cell rate algorithm, kept as one "theoretical arrival
 * time" (tat). Each failure moves tat to MAX(tat, now) + interval; an attempt may go on while
 * tat - now <= (burst - 1) * interval. So `burst` failures in a row are allowed, then one more per
 * interval; a success changes nothing. A bucket whose tat has passed is as good as new (the
 * engine forgets those of sessions).
 *
 * Pure: no Janus, no clock (time is `now`, monotonic microseconds), no logging; control thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_THROTTLE_H
#define ALLHANDS_THROTTLE_H

#include <glib.h>

/* The engine's limits (docs/security.md): a Janus session may fail AH_FAIL_SESSION_BURST times
 * in a row, then once every AH_FAIL_SESSION_INTERVAL_S; a room (pin, presenter_secret,
 * priority_secret), a tenant (tenant_secret) and the node (admin_key over plugin handles) each
 * AH_FAIL_SCOPE_BURST times, then once every AH_FAIL_SCOPE_INTERVAL_S, whichever sessions fail. */
#define AH_FAIL_SESSION_BURST 10
#define AH_FAIL_SESSION_INTERVAL_S 6
#define AH_FAIL_SCOPE_BURST 30
#define AH_FAIL_SCOPE_INTERVAL_S 2

typedef struct {
	guint burst;            /* failures allowed in a row (>= 1) */
	gint64 interval_us;     /* then one per interval */
} ah_fail_limit;

typedef struct {
	gint64 tat;             /* theoretical arrival time, monotonic us; 0: no failure yet */
	guint64 failed;         /* failures recorded, ever */
	guint64 refused;        /* attempts refused unchecked, ever */
} ah_fail_bucket;

/* Microseconds until an attempt may go on (0: now). Counts a refusal when not 0. */
gint64 ah_fail_check(ah_fail_bucket *b, const ah_fail_limit *limit, gint64 now);
/* The same without counting (status figures). */
gint64 ah_fail_wait(const ah_fail_bucket *b, const ah_fail_limit *limit, gint64 now);
/* A failed attempt. */
void ah_fail_record(ah_fail_bucket *b, const ah_fail_limit *limit, gint64 now);
/* Nothing owed any more: the bucket is as good as a new one. */
gboolean ah_fail_idle(const ah_fail_bucket *b, gint64 now);

#endif
