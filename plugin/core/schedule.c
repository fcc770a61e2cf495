/* allhands: schedules (include/allhands/schedule.h).
 *
 * Owns a room's calendar: parsing one-off, recurring and iCalendar schedules, expanding their
 * occurrences and deciding the phase at a given time. Pure: no Janus, no clock, no logging; time
 * always comes in as an argument. Control thread only (libical's zone cache is process-global).
 *
 * DESIGN. libical does all recurrence and time-zone work; this file never computes a weekday or a
 * UTC offset. A recurring schedule keeps its inputs as text (local DTSTART, TZID, RRULE, EXDATEs),
 * which is also what the state file holds, and looks its zone up by name on every query, so no
 * pointer into libical's cache outlives a call. What a query needs is parsed once, when the
 * schedule is made: the RRULE (schedule-rule.c checks that it can be expanded cheaply, gives it
 * a horizon and turns a COUNT into an UNTIL), and the EXDATEs as sorted keys, looked up by binary
 * search (RFC 5545 matches an EXDATE to the occurrence's local fields). Expansion walks libical's
 * iterator over wall times without a zone (given one, libical 3.0 with ICU steps in real time and
 * keeps a time that a DST change skips moved for every later occurrence) from a day before the
 * window wanted (icalrecur_iterator_set_start, or for HOURLY a DTSTART moved by whole INTERVALs, as
 * libical's own hourly alignment ignores the date), never past the horizon (the UNTIL libical sees
 * is clamped) nor more than STEP_BUDGET steps, and converts each start to UTC with local_to_utc;
 * the end is start + duration in real seconds. The phase is a pure function of time: status_at expands the nearby occurrences once and
 * evaluates the phase at the few candidate boundaries (lobby start, start, warning, end, end +
 * grace) to find the first one where it differs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "allhands/schedule.h"
#include "schedule-private.h"

/* Iterator steps per query (~2-4 us each): enough for a day of candidates, every EXDATE and the
 * 100 occurrences a request may ask for. */
#define STEP_BUDGET 1500
/* How many occurrences before `now` may still be in their grace period when looking for one. */
#define GRACE_LOOKBACK 8
/* Occurrences status_at expands from `now` - grace: those in grace, the current or next one, the
 * one after, and two to know that nothing else starts before the last of them. */
#define NEARBY (GRACE_LOOKBACK + 4)

struct ah_schedule {
	gboolean recurring; /* FALSE: one-off [start, end) in UTC */
	gint64 start, end;
	char *dtstart;		/* local "YYYY-MM-DDTHH:MM:SS" */
	char *tzid;			/* IANA name or "UTC" */
	gint64 duration;	/* seconds */
	char *rrule;		/* NULL: a single occurrence at dtstart */
	GPtrArray *exdates; /* char *: local date-times or dates, as given */
	char *summary;
	/* Parsed once (not in the state file). */
	struct icaltimetype dt; /* dtstart: wall time, no zone */
	gint64 first;			/* dtstart in UTC */
	gboolean has_rule;
	ah_rule rule;
	GArray *ex_days;  /* gint64, sorted: whole-day EXDATEs (days since 1970) */
	GArray *ex_times; /* gint64, sorted: EXDATE wall times (ah_naive_seconds) */
	json_t *held;	  /* a stored schedule refused on load, kept as it was */
	char *refused;
};

static ah_error fail(char **message, ah_error err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static ah_error fail(char **message, ah_error err, const char *fmt, ...)
{
	if (message) {
		va_list ap;
		va_start(ap, fmt);
		*message = g_strdup_vprintf(fmt, ap);
		va_end(ap);
	}
	return err;
}

/* --- Zones and local times. */

static icaltimezone *zone_lookup(const char *tzid)
{
	if (tzid == NULL || *tzid == '\0')
		return NULL;
	if (strcmp(tzid, "UTC") == 0)
		return icaltimezone_get_utc_timezone();
	return icaltimezone_get_builtin_timezone(tzid);
}

/* Windows zone names as Outlook and Exchange write them in TZID, to IANA (CLDR windowsZones,
 * territory 001). Only names; the offsets and DST rules come from tzdata. */
static const char *const windows_zones[][2] = {
	{"UTC", "UTC"},
	{"GMT Standard Time", "Europe/London"},
	{"Greenwich Standard Time", "Atlantic/Reykjavik"},
	{"W. Europe Standard Time", "Europe/Berlin"},
	{"Romance Standard Time", "Europe/Paris"},
	{"Central Europe Standard Time", "Europe/Budapest"},
	{"Central European Standard Time", "Europe/Warsaw"},
	{"GTB Standard Time", "Europe/Bucharest"},
	{"FLE Standard Time", "Europe/Kiev"},
	{"E. Europe Standard Time", "Europe/Chisinau"},
	{"Russian Standard Time", "Europe/Moscow"},
	{"Turkey Standard Time", "Europe/Istanbul"},
	{"Israel Standard Time", "Asia/Jerusalem"},
	{"South Africa Standard Time", "Africa/Johannesburg"},
	{"Arabian Standard Time", "Asia/Dubai"},
	{"India Standard Time", "Asia/Kolkata"},
	{"China Standard Time", "Asia/Shanghai"},
	{"Singapore Standard Time", "Asia/Singapore"},
	{"Tokyo Standard Time", "Asia/Tokyo"},
	{"Korea Standard Time", "Asia/Seoul"},
	{"AUS Eastern Standard Time", "Australia/Sydney"},
	{"New Zealand Standard Time", "Pacific/Auckland"},
	{"Eastern Standard Time", "America/New_York"},
	{"Central Standard Time", "America/Chicago"},
	{"Mountain Standard Time", "America/Denver"},
	{"US Mountain Standard Time", "America/Phoenix"},
	{"Pacific Standard Time", "America/Los_Angeles"},
	{"Alaskan Standard Time", "America/Anchorage"},
	{"Hawaiian Standard Time", "Pacific/Honolulu"},
	{"Atlantic Standard Time", "America/Halifax"},
	{"E. South America Standard Time", "America/Sao_Paulo"},
};

/* The IANA name for a TZID as calendars write it: IANA itself, a Windows name, or an IANA name
 * behind a vendor prefix ("/freeassociation.sourceforge.net/Europe/Berlin"). NULL if unknown. */
static const char *canonical_tzid(const char *tzid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(windows_zones); i++)
		if (strcmp(tzid, windows_zones[i][0]) == 0)
			return windows_zones[i][1];
	if (zone_lookup(tzid))
		return tzid;
	for (const char *p = strchr(tzid, '/'); p; p = strchr(p + 1, '/'))
		if (zone_lookup(p + 1))
			return p + 1;
	return NULL;
}

/* "YYYY-MM-DDTHH:MM:SS", or "YYYY-MM-DD" when allow_date. */
static gboolean parse_local(const char *s, gboolean allow_date, struct icaltimetype *out)
{
	int y, mo, d, h = 0, mi = 0, se = 0, n = -1;
	struct icaltimetype t = icaltime_null_time();
	if (s == NULL)
		return FALSE;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return FALSE;
	if (s[10] == '\0') {
		if (!allow_date)
			return FALSE;
		t.is_date = 1;
	} else {
		n = -1;
		if (sscanf(s + 10, "T%2d:%2d:%2d%n", &h, &mi, &se, &n) != 3 || n != 9 || s[19] != '\0')
			return FALSE;
	}
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > icaltime_days_in_month(mo, y) || h > 23 || mi > 59 ||
		se > 59 || h < 0 || mi < 0 || se < 0)
		return FALSE;
	t.year = y, t.month = mo, t.day = d, t.hour = h, t.minute = mi, t.second = se;
	*out = t;
	return TRUE;
}

static char *format_local(struct icaltimetype t)
{
	if (t.is_date)
		return g_strdup_printf("%04d-%02d-%02d", t.year, t.month, t.day);
	return g_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour, t.minute, t.second);
}

static struct icaltimetype utc_to_local(gint64 u, icaltimezone *zone)
{
	struct icaltimetype t = icaltime_from_timet_with_zone((time_t)u, 0, zone);
	t.zone = zone;
	return t;
}

/* Wall-clock fields without a zone: what libical iterates (see expand). */
static struct icaltimetype floating(struct icaltimetype t)
{
	t.zone = NULL;
	return t;
}

/* The wall-clock fields of t as if they were UTC: only for differences between two wall times. */
static gint64 naive_seconds(struct icaltimetype t)
{
	t.zone = NULL;
	t.is_date = 0;
	return (gint64)icaltime_as_timet(t);
}

/* Local wall time in `zone` to UTC seconds, as RFC 5545 3.3.5 reads it, without knowing any zone
 * rule. A time skipped when clocks go forward: libical uses the offset after the change, which lands
 * early (02:30 -> 01:30 CET); the RFC wants the offset before it (02:30 -> 03:30 CEST), as calendars
 * show it. The round trip finds the gap: a skipped time does not come back as itself, and the
 * difference is the length of the gap. A time repeated when clocks go back: libical takes its second
 * (standard-time) instance; the RFC wants the first, which is the same wall time one shift earlier
 * (real shifts are 30 minutes, 1 or 2 hours). */
static gint64 local_to_utc(struct icaltimetype t, icaltimezone *zone)
{
	static const gint64 shifts[] = { 7200, 3600, 1800 };
	t.is_date = 0;
	t.zone = zone;
	gint64 u = (gint64)icaltime_as_timet_with_zone(t, zone);
	gint64 skipped = naive_seconds(t) - naive_seconds(utc_to_local(u, zone));
	if (skipped != 0)
		return u + skipped;
	for (guint i = 0; i < G_N_ELEMENTS(shifts); i++)
		if (naive_seconds(utc_to_local(u - shifts[i], zone)) == naive_seconds(t))
			return u - shifts[i];
	return u;
}

/* --- Expansion. */

static gint compare_times(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
	return x < y ? -1 : x > y;
}

static gboolean sorted_has(const GArray *keys, gint64 key)
{
	guint lo = 0, hi = keys ? keys->len : 0;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		gint64 v = g_array_index(keys, gint64, mid);
		if (v == key)
			return TRUE;
		if (v < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return FALSE;
}

static gboolean excluded(const ah_schedule *s, struct icaltimetype t)
{
	return sorted_has(s->ex_days, ah_civil_days(t.year, t.month, t.day)) ||
		   sorted_has(s->ex_times, ah_naive_seconds(t));
}

/* An iterator over the rule that yields its occurrences from about local `skip_to` on (when `skip`)
 * and none after `until` (the rule's own, or an earlier horizon). */
static icalrecur_iterator *iterator_from(const ah_schedule *s, struct icaltimetype skip_to, struct icaltimetype until,
										 gboolean skip)
{
	struct icalrecurrencetype rule = s->rule.rule;
	struct icaltimetype start = s->dt;
	icalrecur_iterator *it;
	rule.until = until;
	if (skip && rule.freq == ICAL_HOURLY_RECURRENCE) {
		/* A whole number of INTERVALs later, the series is the same from there on. */
		gint64 hours = MAX(ah_naive_seconds(skip_to) - ah_naive_seconds(s->dt), 0) / 3600;
		icaltime_adjust(&start, 0, (int)(hours - hours % rule.interval), 0, 0);
	}
	it = ah_rule_iterator(&rule, start);
	if (it != NULL && skip && rule.freq != ICAL_HOURLY_RECURRENCE)
		ah_rule_set_start(it, skip_to);
	return it;
}

/* Occurrences ending after `from`, at most n, in order, and no more once `future` of them end after
 * `after`. *searched: the UTC time up to which the answer is complete (G_MAXINT64 when the series is
 * over or enough were found). */
static guint expand_until(const ah_schedule *s, gint64 from, guint n, ah_occurrence *out, gint64 *searched,
						  gint64 after, guint future)
{
	*searched = G_MAXINT64;
	if (n == 0 || s->held != NULL)
		return 0;
	if (!s->recurring) {
		if (s->end <= from)
			return 0;
		out[0] = (ah_occurrence){s->start, s->end};
		return 1;
	}
	icaltimezone *zone = zone_lookup(s->tzid);
	if (!s->has_rule) {
		if (s->first + s->duration <= from || excluded(s, s->dt))
			return 0;
		out[0] = (ah_occurrence){s->first, s->first + s->duration};
		return 1;
	}
	/* Start a day early: local time and UTC differ by less than that. */
	const struct icalrecurrencetype *rule = &s->rule.rule;
	gint64 skip_to = from - s->duration - 86400, limit = MAX(from, s->first) + s->rule.horizon_s;
	struct icaltimetype until = floating(utc_to_local(limit, zone)), last = icaltime_null_time();
	gboolean skip = skip_to > s->first, clamped = icaltime_is_null_time(rule->until) ||
		icaltime_compare(until, rule->until) < 0;
	icalrecur_iterator *it = iterator_from(s, floating(utc_to_local(skip ? skip_to : s->first, zone)),
										   clamped ? until : rule->until, skip);
	if (it == NULL)
		return 0;
	guint got = 0, ahead = 0;
	for (int steps = 0; got < n && ahead < future; steps++) {
		struct icaltimetype t;
		if (steps == STEP_BUDGET) {
			*searched = local_to_utc(last, zone);
			break;
		}
		if (icaltime_is_null_time(t = ah_rule_next(it))) {
			/* Cut short by the horizon rather than by the rule's own end? */
			if (clamped)
				*searched = limit;
			break;
		}
		last = t;
		if (excluded(s, t))
			continue;
		gint64 start = local_to_utc(t, zone);
		if (start + s->duration > from) {
			out[got++] = (ah_occurrence){start, start + s->duration};
			ahead += start + s->duration > after;
		}
	}
	icalrecur_iterator_free(it);
	return got;
}

static guint expand(const ah_schedule *s, gint64 from, guint n, ah_occurrence *out, gint64 *searched)
{
	return expand_until(s, from, n, out, searched, from, n);
}

/* --- Creating. */

static ah_error check_duration(gint64 duration, char **message)
{
	if (duration <= 0)
		return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (the end must be after the start)");
	if (duration > AH_SCHEDULE_MAX_DURATION_S)
		return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (longer than %d hours)",
					AH_SCHEDULE_MAX_DURATION_S / 3600);
	return AH_ERR_OK;
}

ah_error ah_schedule_new_once(gint64 start, gint64 end, ah_schedule **out, char **message)
{
	/* Years 1970..9999, so that arithmetic on these times never overflows. */
	if (start < 0 || start > G_GINT64_CONSTANT(253402300799))
		return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (start out of range)");
	/* end - start only once it cannot overflow (end is any 64-bit integer). */
	ah_error err = check_duration(end <= start ? 0 : end > start + AH_SCHEDULE_MAX_DURATION_S ? G_MAXINT64 : end - start,
								  message);
	if (err != AH_ERR_OK)
		return err;
	ah_schedule *s = g_new0(ah_schedule, 1);
	s->start = start;
	s->end = end;
	*out = s;
	return AH_ERR_OK;
}

/* The EXDATEs as sorted keys (whole days, wall times) and as given. */
static ah_error parse_exdates(ah_schedule *s, const char *const *exdates, char **message)
{
	struct icaltimetype t;
	s->exdates = g_ptr_array_new_with_free_func(g_free);
	s->ex_days = g_array_new(FALSE, FALSE, sizeof(gint64));
	s->ex_times = g_array_new(FALSE, FALSE, sizeof(gint64));
	for (guint i = 0; exdates && exdates[i]; i++) {
		if (i >= AH_SCHEDULE_MAX_EXDATES)
			return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (too many exdates)");
		if (!parse_local(exdates[i], TRUE, &t))
			return fail(message, AH_ERR_INVALID_SCHEDULE,
						"invalid schedule (exdate: want 2026-01-07T09:00:00 or 2026-01-07)");
		gint64 key = t.is_date ? ah_civil_days(t.year, t.month, t.day) : ah_naive_seconds(t);
		g_array_append_val(t.is_date ? s->ex_days : s->ex_times, key);
		g_ptr_array_add(s->exdates, g_strdup(exdates[i]));
	}
	g_array_sort(s->ex_days, compare_times);
	g_array_sort(s->ex_times, compare_times);
	return AH_ERR_OK;
}

/* The RRULE, its UNTIL as a wall time in the schedule's zone (libical iterates wall times). */
static ah_error parse_rule(ah_schedule *s, char **message)
{
	struct icalrecurrencetype *r = &s->rule.rule;
	ah_error err = ah_rule_parse(s->rrule, s->dt, &s->rule, message);
	if (err == AH_ERR_OK && !icaltime_is_null_time(r->until) && !r->until.is_date && icaltime_is_utc(r->until))
		r->until = floating(utc_to_local((gint64)icaltime_as_timet(r->until), zone_lookup(s->tzid)));
	return err;
}

/* The first window, found within the rule's horizon from DTSTART. */
static ah_error check_first(const ah_schedule *s, char **message)
{
	ah_occurrence o;
	gint64 searched;
	if (expand(s, G_MININT64 / 2, 1, &o, &searched) == 1)
		return AH_ERR_OK;
	if (searched != G_MAXINT64)
		return fail(message, AH_ERR_INVALID_SCHEDULE,
					"invalid schedule (no window within %" G_GINT64_FORMAT " days of dtstart)",
					s->rule.horizon_s / 86400);
	return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (it has no occurrence)");
}

ah_error ah_schedule_new_recurring(const char *dtstart, const char *tzid, gint64 duration_s, const char *rrule,
								   const char *const *exdates, ah_schedule **out, char **message)
{
	struct icaltimetype t;
	ah_error err;
	if (dtstart == NULL)
		return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (no dtstart)");
	if (!parse_local(dtstart, FALSE, &t))
		return fail(message, AH_ERR_INVALID_SCHEDULE,
					"invalid schedule (dtstart: want a local date-time like 2026-01-05T09:00:00)");
	if (zone_lookup(tzid) == NULL)
		return fail(message, AH_ERR_UNKNOWN_TIMEZONE, "unknown time zone (%s)", tzid ? tzid : "none");
	if ((err = check_duration(duration_s, message)) != AH_ERR_OK)
		return err;
	ah_schedule *s = g_new0(ah_schedule, 1);
	s->recurring = TRUE;
	s->dtstart = g_strdup(dtstart);
	s->tzid = g_strdup(tzid);
	s->duration = duration_s;
	s->rrule = rrule && *rrule ? g_strdup(rrule) : NULL;
	s->dt = t;
	s->first = local_to_utc(s->dt, zone_lookup(tzid));
	s->has_rule = s->rrule != NULL;
	if ((s->has_rule && (err = parse_rule(s, message)) != AH_ERR_OK) ||
		(err = parse_exdates(s, exdates, message)) != AH_ERR_OK || (err = check_first(s, message)) != AH_ERR_OK) {
		ah_schedule_free(s);
		return err;
	}
	*out = s;
	return AH_ERR_OK;
}

ah_schedule *ah_schedule_new_held(const json_t *stored, const char *reason)
{
	ah_schedule *s = g_new0(ah_schedule, 1);
	s->held = json_deep_copy(stored);
	s->refused = g_strdup(reason ? reason : "invalid schedule");
	return s;
}

const char *ah_schedule_refusal(const ah_schedule *s)
{
	return s->refused;
}

void ah_schedule_free(ah_schedule *s)
{
	if (s == NULL)
		return;
	g_free(s->dtstart);
	g_free(s->tzid);
	g_free(s->rrule);
	if (s->exdates)
		g_ptr_array_unref(s->exdates);
	if (s->ex_days)
		g_array_unref(s->ex_days);
	if (s->ex_times)
		g_array_unref(s->ex_times);
	json_decref(s->held);
	g_free(s->refused);
	g_free(s->summary);
	g_free(s);
}

const char *ah_schedule_summary(const ah_schedule *s)
{
	return s->summary;
}

void ah_schedule_release_caches(void)
{
	icaltimezone_free_builtin_timezones();
	/* The calling thread's ring of temporary strings (icalrecur_iterator_new uses it). */
	icalmemory_free_ring();
}

/* --- Queries. */

gboolean ah_schedule_current_or_next(const ah_schedule *s, gint64 now, ah_occurrence *out)
{
	gint64 searched;
	return expand(s, now, 1, out, &searched) == 1;
}

guint ah_schedule_next_n(const ah_schedule *s, gint64 from, guint n, ah_occurrence *out)
{
	gint64 searched;
	return expand(s, from, n, out, &searched);
}

const char *ah_phase_name(ah_phase phase)
{
	static const char *const names[] = {"closed", "lobby", "live", "ending"};
	return (guint)phase < G_N_ELEMENTS(names) ? names[phase] : "closed";
}

/* The phase at `now`, without next_change, from the occurrences `near` (in order, all those
 * ending after `now` - grace that start before the time the list is complete to). */
static void phase_at(const ah_occurrence *near, guint k, gint64 now, const ah_phase_params *p, ah_schedule_status *st)
{
	const ah_occurrence *next = NULL;
	*st = (ah_schedule_status){.phase = AH_PHASE_CLOSED, .next_change = -1};
	for (guint i = 0; i < k && next == NULL; i++)
		if (near[i].end > now)
			next = &near[i];
	if (next != NULL && next->start <= now) {
		st->phase = now >= next->end - p->ending_warning_s ? AH_PHASE_ENDING : AH_PHASE_LIVE;
		st->has_occurrence = TRUE;
		st->occurrence = *next;
		return;
	}
	/* The latest one that ended, if within its grace. */
	guint before = next != NULL ? (guint)(next - near) : k;
	if (p->grace_s > 0 && before > 0 && near[before - 1].end > now - p->grace_s) {
		st->phase = AH_PHASE_ENDING;
		st->has_occurrence = TRUE;
		st->occurrence = near[before - 1];
		return;
	}
	if (next != NULL) {
		st->has_occurrence = TRUE;
		st->occurrence = *next;
		if (now >= next->start - p->lobby_s)
			st->phase = AH_PHASE_LOBBY;
	}
}

static gboolean same_status(const ah_schedule_status *a, const ah_schedule_status *b)
{
	return a->phase == b->phase && a->has_occurrence == b->has_occurrence &&
		   (!a->has_occurrence || a->occurrence.start == b->occurrence.start);
}

/* One expansion around `now`; the phase there and at the boundaries of the occurrences still in
 * grace, the current or next one and the ones after (up to 2 + GRACE_LOOKBACK of them). A
 * boundary past what the expansion covers (`complete`) is a next_change too: the phase is looked
 * at again then. */
void ah_schedule_status_at(const ah_schedule *s, gint64 now, const ah_phase_params *p, ah_schedule_status *out)
{
	ah_occurrence near[NEARBY];
	gint64 cand[5 * (2 + GRACE_LOOKBACK)], searched;
	/* Those in grace and the next three (a boundary past them is looked at again when reached). The
	 * list is complete up to the start of its last one if it stopped there, else to `searched`. */
	guint nc = 0, ahead = 0, k = expand_until(s, now - p->grace_s, NEARBY, near, &searched, now, 3);
	for (guint i = 0; i < k; i++)
		ahead += near[i].end > now;
	gint64 complete = k == NEARBY || ahead == 3 ? near[k - 1].start : searched;
	phase_at(near, k, now, p, out);
	for (guint i = 0; i < MIN(k, 2 + GRACE_LOOKBACK); i++) {
		const ah_occurrence *o = &near[i];
		gint64 b[5] = {o->start - p->lobby_s, o->start, o->end - p->ending_warning_s, o->end, o->end + p->grace_s};
		for (guint j = 0; j < 5; j++)
			if (b[j] > now)
				cand[nc++] = b[j];
	}
	qsort(cand, nc, sizeof cand[0], compare_times);
	for (guint i = 0; i < nc; i++) {
		ah_schedule_status later;
		if (i > 0 && cand[i] == cand[i - 1])
			continue;
		if (cand[i] >= complete) {
			out->next_change = cand[i];
			return;
		}
		phase_at(near, k, cand[i], p, &later);
		if (!same_status(out, &later)) {
			out->next_change = cand[i];
			return;
		}
	}
	/* Nothing changes among the windows known: the series is over, or more lies past the horizon. */
	if (complete != G_MAXINT64)
		out->next_change = MAX(complete, now + 1);
}

/* --- iCalendar import. */

/* The IANA zone of a DTSTART/DTEND/EXDATE property, "UTC" for a UTC time, NULL for floating.
 * *unknown is set when the property names a zone we cannot map. */
static const char *property_zone(icalproperty *prop, struct icaltimetype t, const char **unknown)
{
	icalparameter *param = icalproperty_get_first_parameter(prop, ICAL_TZID_PARAMETER);
	if (param) {
		const char *tzid = icalparameter_get_tzid(param);
		const char *name = tzid ? canonical_tzid(tzid) : NULL;
		if (name == NULL)
			*unknown = tzid ? tzid : "";
		return name;
	}
	return icaltime_is_utc(t) ? "UTC" : NULL;
}

static icalcomponent *master_event(icalcomponent *root)
{
	if (icalcomponent_isa(root) == ICAL_VEVENT_COMPONENT)
		return root;
	for (icalcomponent *ev = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ev;
		 ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT))
		if (icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY) == NULL)
			return ev;
	return NULL;
}

/* EXDATEs of `ev` as local strings in `zone`. */
static ah_error collect_exdates(icalcomponent *ev, const char *tzid, GPtrArray *out, char **message)
{
	icaltimezone *zone = zone_lookup(tzid);
	for (icalproperty *p = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY); p;
		 p = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY)) {
		struct icaltimetype t = icalproperty_get_exdate(p);
		const char *unknown = NULL, *ez = property_zone(p, t, &unknown);
		if (unknown)
			return fail(message, AH_ERR_UNKNOWN_TIMEZONE, "unknown time zone (EXDATE TZID %s)", unknown);
		/* A date, a floating time or one in the event's own zone is already local to it. */
		if (!t.is_date && ez && strcmp(ez, tzid) != 0)
			t = utc_to_local(local_to_utc(t, zone_lookup(ez)), zone);
		g_ptr_array_add(out, format_local(t));
	}
	g_ptr_array_add(out, NULL);
	return AH_ERR_OK;
}

/* Duration from DTEND (in any zone) or DURATION; 0 when neither. */
static ah_error event_duration(icalcomponent *ev, gint64 start_utc, gint64 *duration, char **message)
{
	icalproperty *p = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY);
	*duration = 0;
	if (p) {
		struct icaltimetype t = icalproperty_get_dtend(p);
		const char *unknown = NULL, *z = property_zone(p, t, &unknown);
		if (unknown)
			return fail(message, AH_ERR_UNKNOWN_TIMEZONE, "unknown time zone (DTEND TZID %s)", unknown);
		if (z == NULL || t.is_date)
			return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (DTEND: want a date-time with a zone)");
		*duration = local_to_utc(t, zone_lookup(z)) - start_utc;
	} else if ((p = icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY)) != NULL) {
		*duration = icaldurationtype_as_int(icalproperty_get_duration(p));
	}
	return AH_ERR_OK;
}

/* libical drops a property it cannot parse and leaves an X-LIC-ERROR naming it. Exports carry
 * harmless ones (Google writes an empty LOCATION): only those about the properties we read count. */
static icalproperty *unusable_property(icalcomponent *ev)
{
	static const char *const used[] = {"DTSTART property", "DTEND property",  "DURATION property",
									   "RRULE property",   "EXDATE property", "RDATE property"};
	for (icalproperty *p = icalcomponent_get_first_property(ev, ICAL_XLICERROR_PROPERTY); p;
		 p = icalcomponent_get_next_property(ev, ICAL_XLICERROR_PROPERTY)) {
		const char *text = icalproperty_get_xlicerror(p);
		for (gsize i = 0; text && i < G_N_ELEMENTS(used); i++)
			if (strstr(text, used[i]))
				return p;
	}
	return NULL;
}

static ah_error import_event(icalcomponent *ev, ah_schedule **out, char **message)
{
	icalproperty *p;
	if ((p = unusable_property(ev)) != NULL)
		return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (%s)", icalproperty_get_xlicerror(p));
	if (icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY))
		return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (RDATE is not supported)");
	if ((p = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY)) == NULL)
		return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (no DTSTART)");
	struct icaltimetype start = icalproperty_get_dtstart(p);
	const char *unknown = NULL, *tzid = property_zone(p, start, &unknown);
	if (unknown)
		return fail(message, AH_ERR_UNKNOWN_TIMEZONE, "unknown time zone (%s)", unknown);
	if (start.is_date || tzid == NULL)
		return fail(message, AH_ERR_INVALID_SCHEDULE,
					"invalid schedule (DTSTART: want a date-time with TZID or in UTC, not %s)",
					start.is_date ? "an all-day date" : "a floating time");
	gint64 duration;
	ah_error err = event_duration(ev, local_to_utc(start, zone_lookup(tzid)), &duration, message);
	if (err != AH_ERR_OK)
		return err;
	char *rrule = NULL;
	if ((p = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY)) != NULL) {
		if (icalcomponent_get_next_property(ev, ICAL_RRULE_PROPERTY))
			return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (more than one RRULE)");
		struct icalrecurrencetype r = icalproperty_get_rrule(p);
		char *text = icalrecurrencetype_as_string_r(&r);
		rrule = g_strdup(text);
		free(text);
	}
	GPtrArray *exdates = g_ptr_array_new_with_free_func(g_free);
	char *dtstart = format_local(start);
	err = collect_exdates(ev, tzid, exdates, message);
	if (err == AH_ERR_OK)
		err = ah_schedule_new_recurring(dtstart, tzid, duration, rrule, (const char *const *)exdates->pdata, out,
										message);
	if (err == AH_ERR_OK && icalcomponent_get_summary(ev))
		(*out)->summary = g_strdup(icalcomponent_get_summary(ev));
	g_free(dtstart);
	g_free(rrule);
	g_ptr_array_unref(exdates);
	return err;
}

ah_error ah_schedule_new_from_ical(const char *text, ah_schedule **out, char **message)
{
	icalcomponent *root = text ? icalparser_parse_string(text) : NULL;
	icalcomponent *ev = root ? master_event(root) : NULL;
	ah_error err =
		ev ? import_event(ev, out, message) : fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (no VEVENT)");
	if (root)
		icalcomponent_free(root);
	return err;
}

/* --- The state file. */

json_t *ah_schedule_to_json(const ah_schedule *s)
{
	if (s->held != NULL)
		return json_deep_copy(s->held);
	if (!s->recurring)
		return json_pack("{s:I, s:I}", "start", (json_int_t)s->start, "end", (json_int_t)s->end);
	json_t *o =
		json_pack("{s:s, s:s, s:I}", "dtstart", s->dtstart, "tzid", s->tzid, "duration_s", (json_int_t)s->duration);
	if (s->rrule)
		json_object_set_new(o, "rrule", json_string(s->rrule));
	if (s->exdates->len > 0) {
		json_t *a = json_array();
		for (guint i = 0; i < s->exdates->len; i++)
			json_array_append_new(a, json_string(g_ptr_array_index(s->exdates, i)));
		json_object_set_new(o, "exdates", a);
	}
	if (s->summary)
		json_object_set_new(o, "summary", json_string(s->summary));
	return o;
}

static const char *opt_string(const json_t *o, const char *key, gboolean *bad)
{
	const json_t *v = json_object_get(o, key);
	if (v && !json_is_string(v))
		*bad = TRUE;
	return json_string_value(v);
}

ah_error ah_schedule_from_json(const json_t *o, ah_schedule **out, char **message)
{
	const json_t *start = json_object_get(o, "start"), *end = json_object_get(o, "end");
	if (!json_is_object(o))
		return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (not an object)");
	if (start || end) {
		if (!json_is_integer(start) || !json_is_integer(end))
			return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (start and end: want integers)");
		return ah_schedule_new_once(json_integer_value(start), json_integer_value(end), out, message);
	}
	gboolean bad = FALSE;
	const char *dtstart = opt_string(o, "dtstart", &bad), *tzid = opt_string(o, "tzid", &bad);
	const char *rrule = opt_string(o, "rrule", &bad), *summary = opt_string(o, "summary", &bad);
	const json_t *duration = json_object_get(o, "duration_s"), *ex = json_object_get(o, "exdates");
	if (bad || !json_is_integer(duration) || (ex && !json_is_array(ex)) ||
		json_array_size(ex) > AH_SCHEDULE_MAX_EXDATES)
		return fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (malformed object)");
	const char **exdates = g_new0(const char *, json_array_size(ex) + 1);
	for (size_t i = 0; i < json_array_size(ex); i++)
		if ((exdates[i] = json_string_value(json_array_get(ex, i))) == NULL)
			bad = TRUE;
	ah_error err =
		bad ? fail(message, AH_ERR_INVALID_SCHEDULE, "invalid schedule (exdates: want strings)")
			: ah_schedule_new_recurring(dtstart, tzid, json_integer_value(duration), rrule, exdates, out, message);
	if (err == AH_ERR_OK && summary)
		(*out)->summary = g_strdup(summary);
	g_free(exdates);
	return err;
}
