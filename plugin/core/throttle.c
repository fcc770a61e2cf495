/* allhands: the throttle of failed credential attempts (include/allhands/throttle.h).
 *
 * Owns the arithmetic of one failure bucket; the engine (engine-credentials.c) decides which
 * buckets an attempt goes through. Pure: no Janus, no clock, no logging; control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "allhands/throttle.h"

gint64 ah_fail_wait(const ah_fail_bucket *b, const ah_fail_limit *limit, gint64 now)
{
	gint64 allowance = (gint64)(limit->burst > 0 ? limit->burst - 1 : 0) * limit->interval_us;
	gint64 wait = b->tat - now - allowance;
	return wait > 0 ? wait : 0;
}

gint64 ah_fail_check(ah_fail_bucket *b, const ah_fail_limit *limit, gint64 now)
{
	gint64 wait = ah_fail_wait(b, limit, now);
	if (wait > 0)
		b->refused++;
	return wait;
}

void ah_fail_record(ah_fail_bucket *b, const ah_fail_limit *limit, gint64 now)
{
	b->tat = MAX(b->tat, now) + limit->interval_us;
	b->failed++;
}

gboolean ah_fail_idle(const ah_fail_bucket *b, gint64 now)
{
	return b->tat <= now;
}
