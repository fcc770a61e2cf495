/* allhands: a room's schedule, its occurrences and its phase at a given time.
 *
 * A schedule is one of
 *   - a one-off window [start, end) in UTC seconds;
 *   - a recurring window: a local DTSTART in an IANA time zone, a duration, an RFC 5545 RRULE and
 *     optional EXDATEs (local date-times, or whole local dates, in the same zone);
 *   - either of the above imported from an iCalendar VEVENT (alone or in a VCALENDAR).
 * Recurrences and time zones are expanded by libical (system tzdata, /usr/share/zoneinfo).
 *
 * Occurrences are half-open: a meeting [start, end) is over at `end`. Every query takes `now` (or
 * `from`) as UTC seconds: this module never reads the clock and never logs. Control thread only
 * (libical's time-zone cache is process-global).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_SCHEDULE_H
#define ALLHANDS_SCHEDULE_H

#include <glib.h>
#include <jansson.h>

#include "allhands/errors.h"

/* Longest occurrence accepted: a meeting longer than a day is a mistake, not a meeting. */
#define AH_SCHEDULE_MAX_DURATION_S (24 * 3600)
/* Most EXDATEs a schedule may carry. */
#define AH_SCHEDULE_MAX_EXDATES 1000
/* Largest RRULE COUNT (a longer series takes an UNTIL). */
#define AH_SCHEDULE_MAX_COUNT 1000

typedef struct ah_schedule ah_schedule;

typedef struct {
	gint64 start; /* UTC seconds, inclusive */
	gint64 end;	  /* UTC seconds, exclusive */
} ah_occurrence;

typedef enum {
	AH_PHASE_CLOSED, /* outside every window */
	AH_PHASE_LOBBY,	 /* [start - lobby_s, start) */
	AH_PHASE_LIVE,	 /* [start, end - ending_warning_s) */
	AH_PHASE_ENDING, /* [end - ending_warning_s, end + grace_s) */
} ah_phase;

typedef struct {
	gint64 lobby_s;			 /* >= 0 */
	gint64 ending_warning_s; /* >= 0; a warning longer than the meeting makes all of it ENDING */
	gint64 grace_s;			 /* >= 0 */
} ah_phase_params;

typedef struct {
	ah_phase phase;
	/* The window the phase is about: the running one (LIVE, ENDING, including its grace), the one
	 * about to start (LOBBY), or the next one (CLOSED; has_occurrence FALSE when the schedule is over). */
	gboolean has_occurrence;
	ah_occurrence occurrence;
	/* The first time after `now` at which the phase or its occurrence changes: arm a timer for it.
	 * -1 when nothing changes any more. */
	gint64 next_change;
} ah_schedule_status;

/* --- Creating. Each returns AH_ERR_OK and *out (ah_schedule_free), or AH_ERR_INVALID_SCHEDULE /
 * AH_ERR_UNKNOWN_TIMEZONE with *message (g_free; may be NULL) saying what is wrong. */

/* One-off window [start, end). */
ah_error ah_schedule_new_once(gint64 start, gint64 end, ah_schedule **out, char **message);

/* Recurring: `dtstart` is a local date-time "2026-01-05T09:00:00" in IANA zone `tzid` ("UTC" is
 * accepted), `rrule` an RFC 5545 RRULE value ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"; FREQ=SECONDLY and
 * MINUTELY are refused, and so is any rule that cannot be expanded within a bounded amount of work,
 * or whose first window is not within its horizon after dtstart: docs/api.md, "Scheduled rooms";
 * the check costs a few milliseconds at most), `exdates` a NULL-terminated list (or NULL) of local
 * date-times "2026-01-07T09:00:00" or whole local dates "2026-01-07" in the same zone. `rrule` NULL
 * or "" makes a single occurrence at the local dtstart. */
ah_error ah_schedule_new_recurring(const char *dtstart, const char *tzid, gint64 duration_s, const char *rrule,
								   const char *const *exdates, ah_schedule **out, char **message);

/* From iCalendar text as calendars export it: one VEVENT, alone or in a VCALENDAR (the first VEVENT
 * without RECURRENCE-ID is used; moved or cancelled single instances exported as further VEVENTs
 * are ignored). DTSTART with TZID (an IANA name, or a Windows name Outlook uses, mapped to IANA) or
 * in UTC; DTEND or DURATION; at most one RRULE; EXDATEs; SUMMARY kept. VTIMEZONE blocks are accepted
 * and their rules ignored: the zone is looked up by its TZID name. Floating and all-day DTSTARTs
 * and RDATE are refused. */
ah_error ah_schedule_new_from_ical(const char *text, ah_schedule **out, char **message);

/* A stored schedule (the state file's object) that is refused now (`reason`): kept as it was, so
 * that nothing is lost and to_json gives it back unchanged, but it has no window (the room stays
 * closed) until it is replaced. */
ah_schedule *ah_schedule_new_held(const json_t *stored, const char *reason);
/* Why a held schedule was refused, else NULL. */
const char *ah_schedule_refusal(const ah_schedule *schedule);

void ah_schedule_free(ah_schedule *schedule);

/* SUMMARY of an imported VEVENT, else NULL. */
const char *ah_schedule_summary(const ah_schedule *schedule);

/* --- Queries. */

/* The occurrence containing `now`, else the next one. FALSE when the schedule is over. */
gboolean ah_schedule_current_or_next(const ah_schedule *schedule, gint64 now, ah_occurrence *out);

/* Up to `n` occurrences that end after `from` (so the running one comes first), in order, into
 * `out` (room for n). Returns how many were written. */
guint ah_schedule_next_n(const ah_schedule *schedule, gint64 from, guint n, ah_occurrence *out);

/* The phase at `now`. When windows overlap once widened by lobby and grace, the running window
 * wins, then the grace of the one that just ended, then the lobby of the next one. */
void ah_schedule_status_at(const ah_schedule *schedule, gint64 now, const ah_phase_params *params,
						   ah_schedule_status *out);

/* Every query is bounded: it looks for windows within a horizon after `now`/`from` that depends on
 * the rule (docs/api.md, "Scheduled rooms"); a window beyond it is not seen yet (status_at's
 * next_change is then the horizon's end, to look again). The libical iterator calls (new, next,
 * set_start) schedules have made so far: a work counter for tests and benchmarks. */
guint64 ah_schedule_steps(void);

/* "closed", "lobby", "live", "ending". */
const char *ah_phase_name(ah_phase phase);

/* --- The state file. to_json returns a new reference; from_json validates like the constructors
 * and restores a schedule equal to the one serialized (to_json of it gives the same object). */
json_t *ah_schedule_to_json(const ah_schedule *schedule);
ah_error ah_schedule_from_json(const json_t *object, ah_schedule **out, char **message);

/* Free libical's process-wide time-zone cache and the calling thread's temporary-string ring
 * (plugin teardown on the control thread, test end). Schedules stay valid: they hold zone names,
 * and zones are reloaded on the next lookup. */
void ah_schedule_release_caches(void);

#endif
