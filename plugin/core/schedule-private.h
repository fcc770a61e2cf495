/* allhands: what schedule.c and schedule-rule.c share (not part of the schedule API).
 *
 * A recurring schedule's RRULE is parsed and checked once, when the schedule is made (a request or
 * the state file), by ah_rule_parse: what cannot be expanded within a bounded amount of libical work
 * is refused there, and what is kept comes with the horizon that bounds every later query.
 * Control thread only (the step counter is a plain global).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_SCHEDULE_PRIVATE_H
#define ALLHANDS_SCHEDULE_PRIVATE_H

#include <glib.h>
#include <libical/ical.h>

#include "allhands/errors.h"

typedef struct {
	struct icalrecurrencetype rule; /* parsed once; COUNT already turned into an UNTIL (count 0) */
	gint64 horizon_s;				/* a query looks at most this far past its `from` */
} ah_rule;

/* Parse and check `text` for a series starting at wall time `dt` (no zone). AH_ERR_OK and *out, or
 * AH_ERR_INVALID_SCHEDULE with *message (g_free) saying why it is refused. */
ah_error ah_rule_parse(const char *text, struct icaltimetype dt, ah_rule *out, char **message);

/* A libical iterator over `rule` from `dt`, counted as one step (icalrecur_iterator_free it). */
icalrecur_iterator *ah_rule_iterator(const struct icalrecurrencetype *rule, struct icaltimetype dt);
/* icalrecur_iterator_set_start (it expands like a step), counted as one step. */
void ah_rule_set_start(icalrecur_iterator *it, struct icaltimetype start);
/* icalrecur_iterator_next, counted as one step. */
struct icaltimetype ah_rule_next(icalrecur_iterator *it);

/* Days since 1970-01-01 of a proleptic Gregorian date; seconds of a wall time read as if it were UTC. */
gint64 ah_civil_days(int year, int month, int day);
gint64 ah_naive_seconds(struct icaltimetype t);

#endif
