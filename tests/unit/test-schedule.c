/* allhands: unit tests of schedules (include/allhands/schedule.h, plugin/core/schedule.c).
 *
 * Times are written as UTC ISO strings and the expected UTC instants were worked out by hand from
 * the Europe/Berlin rules (CET = UTC+1, CEST = UTC+2; 2026 changes on 29 March and 25 October).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/schedule.h"

#define BERLIN "Europe/Berlin"
#define WEEKDAYS "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"

/* "2026-01-05T08:00:00Z" -> UTC seconds. */
static gint64 utc(const char *iso)
{
	GDateTime *dt = g_date_time_new_from_iso8601(iso, NULL);
	g_assert_nonnull(dt);
	gint64 t = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return t;
}

static ah_schedule *recurring(const char *dtstart, const char *tzid, gint64 duration, const char *rrule,
							  const char *const *exdates)
{
	ah_schedule *s = NULL;
	char *msg = NULL;
	ah_error err = ah_schedule_new_recurring(dtstart, tzid, duration, rrule, exdates, &s, &msg);
	g_assert_cmpstr(msg, ==, NULL);
	g_assert_cmpint(err, ==, AH_ERR_OK);
	return s;
}

static ah_schedule *from_file(const char *name)
{
	char *path = g_build_filename(AH_TEST_SRCDIR, "unit", "data", name, NULL), *text = NULL, *msg = NULL;
	ah_schedule *s = NULL;
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	ah_error err = ah_schedule_new_from_ical(text, &s, &msg);
	g_assert_cmpstr(msg, ==, NULL);
	g_assert_cmpint(err, ==, AH_ERR_OK);
	g_free(text);
	g_free(path);
	return s;
}

/* The first n starts from `from` equal `starts` (UTC ISO strings), each lasting `duration`. */
static void assert_starts(const ah_schedule *s, const char *from, gint64 duration, const char *const *starts)
{
	guint n = g_strv_length((char **)starts);
	ah_occurrence got[64];
	g_assert_cmpuint(n, <, G_N_ELEMENTS(got));
	g_assert_cmpuint(ah_schedule_next_n(s, utc(from), n + 1, got), >=, n);
	for (guint i = 0; i < n; i++) {
		g_assert_cmpint(got[i].start, ==, utc(starts[i]));
		g_assert_cmpint(got[i].end - got[i].start, ==, duration);
	}
}

/* --- One-off. */

static void test_once_window(void)
{
	ah_schedule *s = NULL;
	ah_occurrence o, many[4];
	gint64 start = utc("2026-05-04T10:00:00Z"), end = utc("2026-05-04T11:00:00Z");
	g_assert_cmpint(ah_schedule_new_once(start, end, &s, NULL), ==, AH_ERR_OK);
	g_assert_true(ah_schedule_current_or_next(s, start - 86400, &o));
	g_assert_cmpint(o.start, ==, start);
	g_assert_cmpint(o.end, ==, end);
	g_assert_true(ah_schedule_current_or_next(s, end - 1, &o));
	g_assert_cmpint(o.start, ==, start);
	g_assert_false(ah_schedule_current_or_next(s, end, &o));
	g_assert_cmpuint(ah_schedule_next_n(s, start, 4, many), ==, 1);
	g_assert_cmpuint(ah_schedule_next_n(s, end, 4, many), ==, 0);
	g_assert_null(ah_schedule_summary(s));
	ah_schedule_free(s);
}

static void test_once_invalid(void)
{
	ah_schedule *s = NULL;
	char *msg = NULL;
	gint64 t = utc("2026-05-04T10:00:00Z");
	g_assert_cmpint(ah_schedule_new_once(t, t - 1, &s, &msg), ==, AH_ERR_INVALID_SCHEDULE);
	g_assert_nonnull(strstr(msg, "after the start"));
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(ah_schedule_new_once(t, t, &s, NULL), ==, AH_ERR_INVALID_SCHEDULE);
	g_assert_cmpint(ah_schedule_new_once(t, t + 24 * 3600 + 1, &s, &msg), ==, AH_ERR_INVALID_SCHEDULE);
	g_assert_nonnull(strstr(msg, "24 hours"));
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(ah_schedule_new_once(t, t + 24 * 3600, &s, NULL), ==, AH_ERR_OK);
	ah_schedule_free(s);
	g_assert_cmpint(ah_schedule_new_once(-5, 10, &s, NULL), ==, AH_ERR_INVALID_SCHEDULE);
}

/* --- Recurring. */

static void test_weekdays_berlin(void)
{
	ah_schedule *s = recurring("2026-01-05T09:00:00", BERLIN, 1800, WEEKDAYS, NULL);
	/* From Friday noon: the weekend is skipped; 09:00 CET is 08:00 UTC. */
	assert_starts(s, "2026-01-09T12:00:00Z", 1800,
				  (const char *const[]){"2026-01-12T08:00:00Z", "2026-01-13T08:00:00Z", "2026-01-14T08:00:00Z",
										"2026-01-15T08:00:00Z", "2026-01-16T08:00:00Z", "2026-01-19T08:00:00Z", NULL});
	/* Before DTSTART: the first is DTSTART itself. During a meeting: that meeting. */
	assert_starts(s, "2025-06-01T00:00:00Z", 1800, (const char *const[]){"2026-01-05T08:00:00Z", NULL});
	assert_starts(s, "2026-01-05T08:29:59Z", 1800, (const char *const[]){"2026-01-05T08:00:00Z", NULL});
	assert_starts(s, "2026-01-05T08:30:00Z", 1800, (const char *const[]){"2026-01-06T08:00:00Z", NULL});
	ah_schedule_free(s);

	/* libical does not count a DTSTART that the rule does not match (a Sunday here). */
	s = recurring("2026-01-04T09:00:00", BERLIN, 1800, WEEKDAYS, NULL);
	assert_starts(s, "2026-01-01T00:00:00Z", 1800, (const char *const[]){"2026-01-05T08:00:00Z", NULL});
	ah_schedule_free(s);
}

static void test_dst_spring_forward(void)
{
	/* 09:00 stays 09:00 local: 08:00 UTC on Friday, 07:00 UTC on Monday after the change. */
	ah_schedule *s = recurring("2026-01-05T09:00:00", BERLIN, 1800, WEEKDAYS, NULL);
	assert_starts(s, "2026-03-27T00:00:00Z", 1800,
				  (const char *const[]){"2026-03-27T08:00:00Z", "2026-03-30T07:00:00Z", NULL});
	ah_schedule_free(s);

	/* 02:30 does not exist on 2026-03-29 (02:00 CET jumps to 03:00 CEST). Alone, libical converts it
	 * with the offset after the change (00:30 UTC = 01:30 CET, an hour early) and its iterator moves
	 * it to 03:30 and then keeps 03:30 on every later day. schedule.c holds DTSTART's time of day and
	 * takes RFC 5545's reading: 03:30 CEST = 01:30 UTC that day, 02:30 again from the next day.
	 * The meeting keeps its length. */
	s = recurring("2026-03-27T02:30:00", BERLIN, 3600, "FREQ=DAILY", NULL);
	assert_starts(s, "2026-03-27T00:00:00Z", 3600,
				  (const char *const[]){"2026-03-27T01:30:00Z", "2026-03-28T01:30:00Z", "2026-03-29T01:30:00Z",
										"2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z", NULL});
	ah_schedule_free(s);
	/* Weekly on Sundays: the same. */
	s = recurring("2026-03-22T02:30:00", BERLIN, 3600, "FREQ=WEEKLY", NULL);
	assert_starts(s, "2026-03-01T00:00:00Z", 3600,
				  (const char *const[]){"2026-03-22T01:30:00Z", "2026-03-29T01:30:00Z", "2026-04-05T00:30:00Z", NULL});
	ah_schedule_free(s);

	/* The same instant for a one-off VEVENT at the missing time. */
	ah_schedule *e = NULL;
	g_assert_cmpint(ah_schedule_new_from_ical("BEGIN:VEVENT\r\nDTSTART;TZID=Europe/Berlin:20260329T023000\r\n"
											  "DURATION:PT1H\r\nEND:VEVENT\r\n",
											  &e, NULL),
					==, AH_ERR_OK);
	assert_starts(e, "2026-03-01T00:00:00Z", 3600, (const char *const[]){"2026-03-29T01:30:00Z", NULL});
	ah_schedule_free(e);
}

static void test_dst_fall_back(void)
{
	ah_schedule *s = recurring("2026-01-05T09:00:00", BERLIN, 1800, WEEKDAYS, NULL);
	assert_starts(s, "2026-10-23T00:00:00Z", 1800,
				  (const char *const[]){"2026-10-23T07:00:00Z", "2026-10-26T08:00:00Z", NULL});
	ah_schedule_free(s);

	/* 02:30 happens twice on 2026-10-25 (03:00 CEST falls back to 02:00 CET). RFC 5545 takes the
	 * first, 02:30 CEST = 00:30 UTC (libical alone would take the second, 01:30 UTC). */
	s = recurring("2026-10-24T02:30:00", BERLIN, 1800, "FREQ=DAILY;COUNT=3", NULL);
	assert_starts(s, "2026-10-01T00:00:00Z", 1800,
				  (const char *const[]){"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", NULL});
	ah_schedule_free(s);
	/* The same in New York (2026-11-01, 02:00 EDT falls back to 01:00 EST): 01:30 EDT = 05:30 UTC. */
	s = recurring("2026-11-01T01:30:00", "America/New_York", 1800, NULL, NULL);
	assert_starts(s, "2026-10-01T00:00:00Z", 1800, (const char *const[]){"2026-11-01T05:30:00Z", NULL});
	ah_schedule_free(s);

	/* A meeting across the change lasts its real duration: 01:30 CEST + 2 h = 02:30 CET. */
	s = recurring("2026-10-25T01:30:00", BERLIN, 7200, NULL, NULL);
	ah_occurrence o;
	g_assert_true(ah_schedule_current_or_next(s, 0, &o));
	g_assert_cmpint(o.start, ==, utc("2026-10-24T23:30:00Z"));
	g_assert_cmpint(o.end, ==, utc("2026-10-25T01:30:00Z"));
	ah_schedule_free(s);
}

static void test_exdate(void)
{
	const char *const ex[] = {"2026-01-07T09:00:00", "2026-01-08", "2026-01-09T10:00:00", NULL};
	ah_schedule *s = recurring("2026-01-05T09:00:00", BERLIN, 1800, WEEKDAYS, ex);
	/* Wednesday by date-time, Thursday by whole date; Friday's EXDATE names another time: kept. */
	assert_starts(s, "2026-01-06T12:00:00Z", 1800,
				  (const char *const[]){"2026-01-09T08:00:00Z", "2026-01-12T08:00:00Z", NULL});
	ah_schedule_free(s);
}

static void test_count_until(void)
{
	ah_occurrence o[8];
	ah_schedule *s = recurring("2026-01-05T09:00:00", BERLIN, 1800, WEEKDAYS ";COUNT=3", NULL);
	g_assert_cmpuint(ah_schedule_next_n(s, 0, 8, o), ==, 3);
	g_assert_cmpint(o[2].start, ==, utc("2026-01-07T08:00:00Z"));
	g_assert_false(ah_schedule_current_or_next(s, o[2].end, &o[0]));
	ah_schedule_free(s);

	/* UNTIL is inclusive: the meeting starting exactly at UNTIL is the last one. */
	s = recurring("2026-01-05T09:00:00", BERLIN, 1800, WEEKDAYS ";UNTIL=20260109T080000Z", NULL);
	g_assert_cmpuint(ah_schedule_next_n(s, 0, 8, o), ==, 5);
	g_assert_cmpint(o[4].start, ==, utc("2026-01-09T08:00:00Z"));
	g_assert_false(ah_schedule_current_or_next(s, utc("2026-01-09T08:30:00Z"), &o[0]));
	ah_schedule_free(s);

	/* Far into an UNTIL series the iterator is started near `from`; UNTIL still holds. */
	s = recurring("2026-01-05T09:00:00", BERLIN, 1800, WEEKDAYS ";UNTIL=20300104T000000Z", NULL);
	g_assert_cmpuint(ah_schedule_next_n(s, utc("2029-12-30T00:00:00Z"), 8, o), ==, 4);
	g_assert_cmpint(o[0].start, ==, utc("2029-12-31T08:00:00Z"));
	g_assert_cmpint(o[3].start, ==, utc("2030-01-03T08:00:00Z"));
	ah_schedule_free(s);
}

static void test_years_ahead(void)
{
	ah_schedule *s = recurring("2026-01-05T09:00:00", BERLIN, 1800, WEEKDAYS, NULL);
	/* Saturday 1 July 2045 -> Monday, summer time. New Year's Eve 2099 -> Friday 1 January 2100. */
	assert_starts(s, "2045-07-01T00:00:00Z", 1800, (const char *const[]){"2045-07-03T07:00:00Z", NULL});
	assert_starts(s, "2099-12-31T12:00:00Z", 1800, (const char *const[]){"2100-01-01T08:00:00Z", NULL});
	ah_schedule_free(s);
}

/* Rules without COUNT start libical's iterator near `from`; a COUNT is turned into the UNTIL of its
 * last occurrence once, by a walk from DTSTART. Both must give the same occurrences, and so must
 * an HOURLY rule whose INTERVAL does not divide a day (libical's own alignment ignores the date). */
static void test_skip_matches_walk(void)
{
	static const char *const rules[] = {WEEKDAYS, "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", "FREQ=MONTHLY;BYDAY=-1FR",
										"FREQ=DAILY;INTERVAL=3", "FREQ=HOURLY;INTERVAL=5;BYDAY=MO,WE"};
	static const int counts[] = {1000, 1000, 200, 1000, 400};
	static const gint64 spans[] = {3 * 365, 3 * 365, 3 * 365, 3 * 365, 300};
	const char *const ex[] = {"2027-03-01T09:00:00", NULL};
	GRand *rand = g_rand_new_with_seed(3);
	for (guint r = 0; r < G_N_ELEMENTS(rules); r++) {
		char *counted = g_strdup_printf("%s;COUNT=%d", rules[r], counts[r]);
		ah_schedule *skip = recurring("2026-01-05T09:00:00", BERLIN, 2700, rules[r], ex);
		ah_schedule *walk = recurring("2026-01-05T09:00:00", BERLIN, 2700, counted, ex);
		for (int i = 0; i < 6; i++) {
			gint64 from = utc("2026-01-01T00:00:00Z") + g_rand_int_range(rand, 0, (gint32)(spans[r] * 86400));
			ah_occurrence a[6], b[6];
			g_assert_cmpuint(ah_schedule_next_n(skip, from, 6, a), ==, 6);
			g_assert_cmpuint(ah_schedule_next_n(walk, from, 6, b), ==, 6);
			g_assert_cmpmem(a, sizeof a, b, sizeof b);
		}
		ah_schedule_free(skip);
		ah_schedule_free(walk);
		g_free(counted);
	}
	g_rand_free(rand);
}

/* --- Phases. */

static void assert_status(const ah_schedule *s, gint64 now, const ah_phase_params *p, ah_phase phase, gint64 occ_start,
						  gint64 next_change)
{
	ah_schedule_status st;
	ah_schedule_status_at(s, now, p, &st);
	g_assert_cmpstr(ah_phase_name(st.phase), ==, ah_phase_name(phase));
	g_assert_cmpint(st.has_occurrence, ==, occ_start >= 0);
	if (occ_start >= 0)
		g_assert_cmpint(st.occurrence.start, ==, occ_start);
	g_assert_cmpint(st.next_change, ==, next_change);
}

static void test_phase_boundaries(void)
{
	const ah_phase_params p = {.lobby_s = 600, .ending_warning_s = 300, .grace_s = 120};
	gint64 a = utc("2026-05-04T10:00:00Z"), z = a + 3600;
	ah_schedule *s = NULL;
	g_assert_cmpint(ah_schedule_new_once(a, z, &s, NULL), ==, AH_ERR_OK);
	assert_status(s, 0, &p, AH_PHASE_CLOSED, a, a - 600);
	assert_status(s, a - 601, &p, AH_PHASE_CLOSED, a, a - 600);
	assert_status(s, a - 600, &p, AH_PHASE_LOBBY, a, a);
	assert_status(s, a - 1, &p, AH_PHASE_LOBBY, a, a);
	assert_status(s, a, &p, AH_PHASE_LIVE, a, z - 300);
	assert_status(s, z - 301, &p, AH_PHASE_LIVE, a, z - 300);
	assert_status(s, z - 300, &p, AH_PHASE_ENDING, a, z + 120);
	assert_status(s, z - 1, &p, AH_PHASE_ENDING, a, z + 120);
	assert_status(s, z, &p, AH_PHASE_ENDING, a, z + 120);
	assert_status(s, z + 119, &p, AH_PHASE_ENDING, a, z + 120);
	assert_status(s, z + 120, &p, AH_PHASE_CLOSED, -1, -1);
	assert_status(s, z + 86400, &p, AH_PHASE_CLOSED, -1, -1);

	/* No lobby, warning or grace: closed -> live -> closed. */
	const ah_phase_params zero = {0, 0, 0};
	assert_status(s, a - 1, &zero, AH_PHASE_CLOSED, a, a);
	assert_status(s, a, &zero, AH_PHASE_LIVE, a, z);
	assert_status(s, z, &zero, AH_PHASE_CLOSED, -1, -1);
	g_assert_cmpstr(ah_phase_name(AH_PHASE_LOBBY), ==, "lobby");
	ah_schedule_free(s);
}

static void test_phase_recurring(void)
{
	/* Half-hour meetings on the hour. The grace of one (until :45) outlasts the start of the next
	 * lobby (:40): grace first, then the lobby. */
	const ah_phase_params p = {.lobby_s = 1200, .ending_warning_s = 60, .grace_s = 900};
	ah_schedule *s = recurring("2026-05-04T09:00:00", "UTC", 1800, "FREQ=HOURLY;COUNT=3", NULL);
	gint64 h9 = utc("2026-05-04T09:00:00Z"), h10 = h9 + 3600, h11 = h10 + 3600;
	assert_status(s, h9 - 1200, &p, AH_PHASE_LOBBY, h9, h9);
	assert_status(s, h9 + 1740, &p, AH_PHASE_ENDING, h9, h9 + 2700);
	assert_status(s, h9 + 2520, &p, AH_PHASE_ENDING, h9, h9 + 2700);
	assert_status(s, h9 + 2700, &p, AH_PHASE_LOBBY, h10, h10);
	assert_status(s, h11 + 2699, &p, AH_PHASE_ENDING, h11, h11 + 2700);
	assert_status(s, h11 + 2700, &p, AH_PHASE_CLOSED, -1, -1);
	ah_schedule_free(s);

	/* Back to back with no warning or grace: the next meeting takes over at the very second. */
	const ah_phase_params zero = {0, 0, 0};
	s = recurring("2026-05-04T09:00:00", "UTC", 3600, "FREQ=HOURLY;COUNT=2", NULL);
	assert_status(s, h9, &zero, AH_PHASE_LIVE, h9, h10);
	assert_status(s, h10, &zero, AH_PHASE_LIVE, h10, h11);
	assert_status(s, h11, &zero, AH_PHASE_CLOSED, -1, -1);
	ah_schedule_free(s);

	/* Over a weekend the lobby opens Monday, whatever the zone's offset. */
	const ah_phase_params lobby = {.lobby_s = 900};
	s = recurring("2026-01-05T09:00:00", BERLIN, 1800, WEEKDAYS, NULL);
	gint64 mon = utc("2026-03-30T07:00:00Z");
	assert_status(s, utc("2026-03-28T12:00:00Z"), &lobby, AH_PHASE_CLOSED, mon, mon - 900);
	ah_schedule_free(s);
}

/* --- iCalendar import. */

static void test_ical_google(void)
{
	ah_schedule *s = from_file("google-weekly.ics");
	g_assert_cmpstr(ah_schedule_summary(s), ==, "Company stand-up");
	/* Tuesday the 6th is an EXDATE. */
	assert_starts(s, "2026-01-01T00:00:00Z", 1800,
				  (const char *const[]){"2026-01-05T08:00:00Z", "2026-01-07T08:00:00Z", "2026-01-08T08:00:00Z", NULL});
	assert_starts(s, "2026-07-01T00:00:00Z", 1800, (const char *const[]){"2026-07-01T07:00:00Z", NULL});
	ah_schedule_free(s);
}

static void test_ical_outlook(void)
{
	ah_schedule *s = from_file("outlook-biweekly.ics");
	ah_occurrence o[20];
	g_assert_cmpstr(ah_schedule_summary(s), ==, "Town hall");
	/* "W. Europe Standard Time" is Europe/Berlin; every other Thursday until the end of June,
	 * without 2 April. */
	g_assert_cmpuint(ah_schedule_next_n(s, 0, 20, o), ==, 12);
	g_assert_cmpint(o[0].start, ==, utc("2026-01-08T08:00:00Z"));
	g_assert_cmpint(o[0].end, ==, utc("2026-01-08T09:00:00Z"));
	g_assert_cmpint(o[5].start, ==, utc("2026-03-19T08:00:00Z"));
	g_assert_cmpint(o[6].start, ==, utc("2026-04-16T07:00:00Z"));
	g_assert_cmpint(o[11].start, ==, utc("2026-06-25T07:00:00Z"));
	json_t *j = ah_schedule_to_json(s);
	g_assert_cmpstr(json_string_value(json_object_get(j, "tzid")), ==, BERLIN);
	g_assert_cmpstr(json_string_value(json_array_get(json_object_get(j, "exdates"), 0)), ==, "2026-04-02T09:00:00");
	json_decref(j);
	ah_schedule_free(s);
}

static void test_ical_variants(void)
{
	ah_schedule *s = NULL;
	char *msg = NULL;
	/* UTC DTSTART with DURATION, a bare VEVENT, LF line ends. */
	g_assert_cmpint(ah_schedule_new_from_ical("BEGIN:VEVENT\nSUMMARY:Kick-off\nDTSTART:20260601T070000Z\n"
											  "DURATION:PT45M\nEND:VEVENT\n",
											  &s, &msg),
					==, AH_ERR_OK);
	g_assert_null(msg);
	assert_starts(s, "2026-01-01T00:00:00Z", 2700, (const char *const[]){"2026-06-01T07:00:00Z", NULL});
	ah_schedule_free(s);
	/* DTEND in another zone than DTSTART; EXDATE in UTC is moved into the event's zone; the
	 * RECURRENCE-ID override is not the master. */
	g_assert_cmpint(
		ah_schedule_new_from_ical(
			"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260106T090000\r\n"
			"DTSTART;TZID=Europe/Berlin:20260106T110000\r\nDURATION:PT30M\r\nEND:VEVENT\r\n"
			"BEGIN:VEVENT\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\nDTEND;TZID=Europe/London:20260105T083000\r\n"
			"RRULE:FREQ=DAILY\r\nEXDATE:20260106T080000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			&s, &msg),
		==, AH_ERR_OK);
	g_assert_null(msg);
	assert_starts(s, "2026-01-01T00:00:00Z", 1800,
				  (const char *const[]){"2026-01-05T08:00:00Z", "2026-01-07T08:00:00Z", NULL});
	ah_schedule_free(s);
	/* A vendor-prefixed TZID. */
	g_assert_cmpint(ah_schedule_new_from_ical(
						"BEGIN:VEVENT\r\nDTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20260105T090000\r\n"
						"DURATION:PT30M\r\nEND:VEVENT\r\n",
						&s, NULL),
					==, AH_ERR_OK);
	assert_starts(s, "2026-01-01T00:00:00Z", 1800, (const char *const[]){"2026-01-05T08:00:00Z", NULL});
	ah_schedule_free(s);
}

/* --- Invalid input: each gets its code and a message. */

static void expect_recurring(const char *dtstart, const char *tzid, gint64 duration, const char *rrule,
							 const char *const *ex, ah_error want)
{
	ah_schedule *s = NULL;
	char *msg = NULL;
	g_assert_cmpint(ah_schedule_new_recurring(dtstart, tzid, duration, rrule, ex, &s, &msg), ==, want);
	g_assert_null(s);
	g_assert_nonnull(msg);
	g_free(msg);
}

static void expect_ical(const char *event_lines, ah_error want)
{
	char *text = g_strdup_printf("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n%sEND:VEVENT\r\nEND:VCALENDAR\r\n", event_lines);
	ah_schedule *s = NULL;
	char *msg = NULL;
	g_assert_cmpint(ah_schedule_new_from_ical(text, &s, &msg), ==, want);
	g_assert_null(s);
	g_assert_nonnull(msg);
	g_free(msg);
	g_free(text);
}

static void test_invalid(void)
{
	const char *d = "2026-01-05T09:00:00";
	const char *const bad_ex[] = {"2026-01-07 09:00", NULL};
	expect_recurring(d, BERLIN, 1800, "FREQ=SOMETIMES", NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring(d, BERLIN, 1800, "FREQ=WEEKLY;BYDAY=XX", NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring(d, BERLIN, 1800, "FREQ=MINUTELY", NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring(d, BERLIN, 1800, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring(d, BERLIN, 1800, "FREQ=DAILY;UNTIL=20250101T000000Z", NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring(d, "Europe/Atlantis", 1800, WEEKDAYS, NULL, AH_ERR_UNKNOWN_TIMEZONE);
	expect_recurring(d, "", 1800, WEEKDAYS, NULL, AH_ERR_UNKNOWN_TIMEZONE);
	expect_recurring(d, NULL, 1800, WEEKDAYS, NULL, AH_ERR_UNKNOWN_TIMEZONE);
	expect_recurring(NULL, BERLIN, 1800, WEEKDAYS, NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring("2026-02-30T09:00:00", BERLIN, 1800, WEEKDAYS, NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring("2026-01-05 09:00", BERLIN, 1800, WEEKDAYS, NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring("2026-01-05", BERLIN, 1800, WEEKDAYS, NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring(d, BERLIN, 0, WEEKDAYS, NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring(d, BERLIN, -60, WEEKDAYS, NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring(d, BERLIN, 24 * 3600 + 1, WEEKDAYS, NULL, AH_ERR_INVALID_SCHEDULE);
	expect_recurring(d, BERLIN, 1800, WEEKDAYS, bad_ex, AH_ERR_INVALID_SCHEDULE);

	expect_ical("SUMMARY:No start\r\nDURATION:PT30M\r\n", AH_ERR_INVALID_SCHEDULE);
	expect_ical("DTSTART;TZID=Mars/Olympus_Mons:20260105T090000\r\nDURATION:PT30M\r\n", AH_ERR_UNKNOWN_TIMEZONE);
	expect_ical("DTSTART;TZID=Europe/Berlin:20260105T090000\r\nDTEND;TZID=Nowhere:20260105T093000\r\n",
				AH_ERR_UNKNOWN_TIMEZONE);
	expect_ical("DTSTART;TZID=Europe/Berlin:20260105T090000\r\nDTEND;TZID=Europe/Berlin:20260105T080000\r\n",
				AH_ERR_INVALID_SCHEDULE);
	expect_ical("DTSTART;TZID=Europe/Berlin:20260105T090000\r\n", AH_ERR_INVALID_SCHEDULE);
	expect_ical("DTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:P2D\r\n", AH_ERR_INVALID_SCHEDULE);
	expect_ical("DTSTART;VALUE=DATE:20260105\r\nDTEND;VALUE=DATE:20260106\r\n", AH_ERR_INVALID_SCHEDULE);
	expect_ical("DTSTART:20260105T090000\r\nDURATION:PT30M\r\n", AH_ERR_INVALID_SCHEDULE);
	expect_ical("DTSTART;TZID=Europe/Berlin:2026-01-05 09:00\r\nDURATION:PT30M\r\n", AH_ERR_INVALID_SCHEDULE);
	expect_ical("DTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:soon\r\n", AH_ERR_INVALID_SCHEDULE);
	expect_ical("DTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY;BYDAY=XX\r\n",
				AH_ERR_INVALID_SCHEDULE);
	expect_ical("DTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:PT30M\r\nRDATE:20260110T080000Z\r\n",
				AH_ERR_INVALID_SCHEDULE);
	expect_ical("DTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:PT30M\r\nRRULE:FREQ=DAILY\r\n"
				"RRULE:FREQ=WEEKLY\r\n",
				AH_ERR_INVALID_SCHEDULE);

	ah_schedule *s = NULL;
	char *msg = NULL;
	g_assert_cmpint(ah_schedule_new_from_ical("not a calendar", &s, &msg), ==, AH_ERR_INVALID_SCHEDULE);
	g_assert_null(s);
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(ah_schedule_new_from_ical("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", &s, &msg), ==,
					AH_ERR_INVALID_SCHEDULE);
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(ah_schedule_new_from_ical(NULL, &s, NULL), ==, AH_ERR_INVALID_SCHEDULE);
}

/* --- The state file. */

static void assert_round_trip(const ah_schedule *s)
{
	json_t *j = ah_schedule_to_json(s);
	char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_t *parsed = json_loads(text, 0, NULL);
	ah_schedule *back = NULL;
	char *msg = NULL;
	g_assert_cmpint(ah_schedule_from_json(parsed, &back, &msg), ==, AH_ERR_OK);
	g_assert_null(msg);
	json_t *again = ah_schedule_to_json(back);
	g_assert_true(json_equal(j, again));
	g_assert_cmpstr(ah_schedule_summary(back), ==, ah_schedule_summary(s));
	ah_occurrence a[10], b[10];
	guint n = ah_schedule_next_n(s, 0, 10, a);
	g_assert_cmpuint(ah_schedule_next_n(back, 0, 10, b), ==, n);
	g_assert_cmpmem(a, n * sizeof a[0], b, n * sizeof b[0]);
	json_decref(again);
	json_decref(parsed);
	json_decref(j);
	free(text);
	ah_schedule_free(back);
}

static void test_json_round_trip(void)
{
	ah_schedule *s = NULL;
	g_assert_cmpint(ah_schedule_new_once(utc("2026-05-04T10:00:00Z"), utc("2026-05-04T11:00:00Z"), &s, NULL), ==,
					AH_ERR_OK);
	assert_round_trip(s);
	ah_schedule_free(s);
	const char *const ex[] = {"2026-01-07T09:00:00", "2026-01-08", NULL};
	s = recurring("2026-01-05T09:00:00", BERLIN, 1800, WEEKDAYS ";COUNT=20", ex);
	assert_round_trip(s);
	ah_schedule_free(s);
	s = recurring("2026-03-29T02:30:00", BERLIN, 3600, NULL, NULL);
	assert_round_trip(s);
	ah_schedule_free(s);
	s = from_file("google-weekly.ics");
	assert_round_trip(s);
	ah_schedule_free(s);
	s = from_file("outlook-biweekly.ics");
	assert_round_trip(s);
	ah_schedule_free(s);
}

static void test_json_invalid(void)
{
	static const char *const bad[] = {
		"[]",
		"{}",
		"{\"start\": 10}",
		"{\"start\": \"10\", \"end\": 20}",
		"{\"start\": 100, \"end\": 50}",
		"{\"dtstart\": \"2026-01-05T09:00:00\", \"tzid\": \"Europe/Berlin\"}",
		"{\"dtstart\": \"2026-01-05T09:00:00\", \"tzid\": \"Europe/Berlin\", \"duration_s\": 1800, \"rrule\": 5}",
		"{\"dtstart\": \"2026-01-05T09:00:00\", \"tzid\": \"Europe/Berlin\", \"duration_s\": 1800, \"exdates\": [1]}",
		"{\"dtstart\": \"2026-01-05T09:00:00\", \"tzid\": \"Europe/Berlin\", \"duration_s\": 1800, \"exdates\": \"x\"}",
		"{\"dtstart\": \"2026-01-05T09:00:00\", \"tzid\": \"Europe/Berlin\", \"duration_s\": 1800, \"summary\": 1}",
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		ah_schedule *s = NULL;
		char *msg = NULL;
		g_assert_nonnull(j);
		g_assert_cmpint(ah_schedule_from_json(j, &s, &msg), ==, AH_ERR_INVALID_SCHEDULE);
		g_assert_null(s);
		g_assert_nonnull(msg);
		g_free(msg);
		json_decref(j);
	}
	json_t *j =
		json_pack("{s:s, s:s, s:i}", "dtstart", "2026-01-05T09:00:00", "tzid", "Nowhere/City", "duration_s", 60);
	ah_schedule *s = NULL;
	char *msg = NULL;
	g_assert_cmpint(ah_schedule_from_json(j, &s, &msg), ==, AH_ERR_UNKNOWN_TIMEZONE);
	g_free(msg);
	json_decref(j);
}

/* --- Bounded work (issue 12). A query costs libical iterator calls (ah_schedule_steps, ~2-4 us
 * each) within a horizon that bounds libical's own loops; these tests count the calls. */

/* Most calls a query may make: its step budget (1500), the iterator and set_start. */
#define QUERY_STEPS 1502
/* ... and making a schedule: the COUNT walk (1000), the first-window trial, the period probes. */
#define CREATE_STEPS 2700

static ah_error refused(const char *dtstart, const char *rrule, const char *const *exdates, const char *why,
						guint64 max_steps)
{
	ah_schedule *s = NULL;
	char *msg = NULL;
	guint64 before = ah_schedule_steps();
	ah_error err = ah_schedule_new_recurring(dtstart, "UTC", 60, rrule, exdates, &s, &msg);
	if (g_test_verbose())
		g_test_message("%s: %s, %" G_GUINT64_FORMAT " steps", rrule, msg, ah_schedule_steps() - before);
	g_assert_null(s);
	g_assert_nonnull(msg);
	g_assert_nonnull(strstr(msg, why));
	g_assert_cmpuint(ah_schedule_steps() - before, <=, max_steps);
	g_free(msg);
	return err;
}

static const char **repeated(const char *value, guint n)
{
	const char **list = g_new0(const char *, n + 1);
	for (guint i = 0; i < n; i++)
		list[i] = value;
	return list;
}

/* Issue 12: this create_room took 40 s (walking a billion-hour COUNT from 1970, re-parsing every
 * EXDATE at every step), and 700 EXDATEs cost 86 s per status check. */
static void test_issue12_count_exdates(void)
{
	const char **ex100 = repeated("2000-01-01T00:00:01", 100), **ex700 = repeated("2000-01-01T00:00:01", 700);
	ah_phase_params p = {600, 60, 30};
	ah_schedule_status st;
	g_assert_cmpint(refused("1970-01-01T00:00:00", "FREQ=HOURLY;COUNT=1000000000", ex100, "COUNT is at most 1000", 0),
					==, AH_ERR_INVALID_SCHEDULE);
	refused("1970-01-01T00:00:00", "FREQ=HOURLY;COUNT=1000000000", ex700, "COUNT is at most 1000", 0);
	/* The longest COUNT allowed is counted once, when the schedule is made; a status check in 2026
	 * then costs a few steps (the series ended in February 1970). */
	guint64 before = ah_schedule_steps();
	ah_schedule *s = recurring("1970-01-01T00:00:00", "UTC", 60, "FREQ=HOURLY;COUNT=1000", ex700);
	g_assert_cmpuint(ah_schedule_steps() - before, <=, CREATE_STEPS);
	before = ah_schedule_steps();
	ah_schedule_status_at(s, utc("2026-12-07T12:00:00Z"), &p, &st);
	g_assert_cmpuint(ah_schedule_steps() - before, <=, 2);
	g_assert_cmpint(st.phase, ==, AH_PHASE_CLOSED);
	g_assert_false(st.has_occurrence);
	g_assert_cmpint(st.next_change, ==, -1);
	assert_starts(s, "1970-02-11T15:00:00Z", 60, (const char *const[]){"1970-02-11T15:00:00Z", NULL});
	g_assert_cmpuint(ah_schedule_next_n(s, utc("1970-02-11T16:00:00Z"), 1, &st.occurrence), ==, 0);
	ah_schedule_free(s);
	g_free(ex100);
	g_free(ex700);
}

/* 700 EXDATEs, all on the hours right after `now`: they are looked up, not re-parsed, and a status
 * check or an `occurrences` request stays within its budget. */
static void test_issue12_exdates_lookup(void)
{
	GPtrArray *ex = g_ptr_array_new_with_free_func(g_free);
	ah_phase_params p = {600, 60, 30};
	ah_schedule_status st;
	ah_occurrence occ[100];
	GDateTime *t = g_date_time_new_utc(2026, 12, 7, 0, 0, 0);
	for (int i = 0; i < 700; i++) {
		GDateTime *h = g_date_time_add_hours(t, i);
		g_ptr_array_add(ex, g_date_time_format(h, "%Y-%m-%dT%H:%M:%S"));
		g_date_time_unref(h);
	}
	g_ptr_array_add(ex, NULL);
	ah_schedule *s = recurring("2026-01-01T00:00:00", "UTC", 60, "FREQ=HOURLY", (const char *const *)ex->pdata);
	guint64 before = ah_schedule_steps();
	ah_schedule_status_at(s, utc("2026-12-07T12:00:00Z"), &p, &st);
	g_assert_cmpuint(ah_schedule_steps() - before, <=, QUERY_STEPS);
	g_assert_cmpint(st.phase, ==, AH_PHASE_CLOSED);
	g_assert_cmpint(st.occurrence.start, ==, utc("2027-01-05T04:00:00Z")); /* 7 December + 700 hours */
	g_assert_cmpint(st.next_change, ==, utc("2027-01-05T03:50:00Z"));
	before = ah_schedule_steps();
	g_assert_cmpuint(ah_schedule_next_n(s, utc("2026-12-07T12:00:00Z"), 100, occ), ==, 100);
	g_assert_cmpuint(ah_schedule_steps() - before, <=, QUERY_STEPS);
	g_assert_cmpint(occ[99].start, ==, utc("2027-01-09T07:00:00Z"));
	ah_schedule_free(s);
	g_date_time_unref(t);
	g_ptr_array_unref(ex);
}

/* Issue 12: FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30 took 15 s to be refused; ...29;BYDAY=MO was accepted
 * after 2.1 s (its next window is on 29 February 2044). A filtered HOURLY rule is looked at for
 * 62 days; MONTHLY;BYDAY=-53MO and rules whose months or years never have a day are refused before
 * libical iterates, or after probing each kind of period once. */
static void test_issue12_refused_cheaply(void)
{
	refused("2026-01-05T09:00:00", "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30", NULL, "no window within 62 days", 2);
	refused("2026-01-05T09:00:00", "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", NULL, "no window within 62 days", 2);
	refused("2026-01-05T09:00:00", "FREQ=MONTHLY;BYDAY=-53MO", NULL, "BYDAY position beyond 5", 0);
	refused("2026-01-05T09:00:00", "FREQ=YEARLY;BYDAY=-54MO", NULL, "BYDAY position beyond 53", 0);
	refused("2026-01-05T09:00:00", "FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=20", NULL, "in a row without a meeting", 60);
	refused("2026-01-05T09:00:00", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", NULL, "in a row without a meeting", 60);
	refused("2026-01-05T09:00:00", "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", NULL, "in a row without a meeting", 60);
	refused("2026-01-05T09:00:00", "FREQ=MONTHLY;INTERVAL=12;BYMONTH=3", NULL, "it never occurs", 0);
	refused("2026-01-05T09:00:00", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", NULL, "in a row without a meeting", 30);
	refused("2025-02-28T09:00:00", "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", NULL, "in a row without", 30);
	refused("2026-01-05T09:00:00", "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;"
			"BYMINUTE=0,10,20,30,40,50", NULL, "at most 96 start times a day", 0);
	refused("2026-01-05T09:00:00", "FREQ=MONTHLY;COUNT=1000", NULL, "use UNTIL", CREATE_STEPS);
	refused("2026-01-05T09:00:00", "FREQ=MONTHLY;BYYEARDAY=100", NULL, "BYYEARDAY is not for", 0);
	refused("2026-01-05T09:00:00", "FREQ=MONTHLY;BYWEEKNO=10", NULL, "BYWEEKNO is only for", 0);
	/* Rare but real: a Monday 29 February, every 28 or 40 years. */
	static const char *const mondays[] = {"2044-02-29T09:00:00Z", "2072-02-29T09:00:00Z", "2112-02-29T09:00:00Z",
										  NULL};
	ah_schedule *y = recurring("2026-01-05T09:00:00", "UTC", 60, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", NULL);
	ah_schedule *m = recurring("2026-01-05T09:00:00", "UTC", 60, "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", NULL);
	assert_starts(y, "2026-12-07T00:00:00Z", 60, mondays);
	assert_starts(m, "2026-12-07T00:00:00Z", 60, mondays);
	ah_schedule_free(y);
	ah_schedule_free(m);
}

/* Issue 12: RSCALE's value is copied by libical (the leak was 16 KB per refused request with an
 * 8 KB value; LeakSanitizer or valgrind show it). Refused, and the copy freed. */
static void test_issue12_rscale(void)
{
	char *big = g_strdup_printf("RSCALE=%0*d;FREQ=DAILY", 8192, 7);
	refused("2026-01-05T09:00:00", big, NULL, "RSCALE and SKIP are not supported", 0);
	refused("2026-01-05T09:00:00", "RSCALE=GREGORIAN;FREQ=MONTHLY;BYMONTHDAY=31;SKIP=FORWARD", NULL,
			"RSCALE and SKIP are not supported", 0);
	g_free(big);
}

/* Issue 12: the end of a one-off window is any 64-bit integer; end - start overflowed (UBSan). */
static void test_issue12_once_overflow(void)
{
	gint64 now = utc("2026-12-07T12:00:00Z");
	ah_schedule *s = NULL;
	char *msg = NULL;
	g_assert_cmpint(ah_schedule_new_once(now, G_MININT64, &s, &msg), ==, AH_ERR_INVALID_SCHEDULE);
	g_assert_cmpstr(msg, ==, "invalid schedule (the end must be after the start)");
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(ah_schedule_new_once(now, G_MAXINT64, &s, &msg), ==, AH_ERR_INVALID_SCHEDULE);
	g_assert_cmpstr(msg, ==, "invalid schedule (longer than 24 hours)");
	g_free(msg);
	g_assert_null(s);
}

/* libical's own HOURLY alignment (set_start) ignores the date when INTERVAL does not divide a day;
 * a query near `from` must give what a walk from DTSTART gives, across daylight-saving changes too
 * (wall-clock hours: libical iterates wall times without a zone). */
static void test_hourly_interval_alignment(void)
{
	ah_schedule *s = recurring("2026-01-05T09:00:00", BERLIN, 600, "FREQ=HOURLY;INTERVAL=7", NULL);
	ah_occurrence walk[1200], near[3];
	guint n = ah_schedule_next_n(s, 0, G_N_ELEMENTS(walk), walk);
	g_assert_cmpuint(n, ==, G_N_ELEMENTS(walk));
	for (guint i = 100; i + 3 < n; i += 97) {
		g_assert_cmpuint(ah_schedule_next_n(s, walk[i].start - 1, 3, near), ==, 3);
		g_assert_cmpmem(near, sizeof near, &walk[i], sizeof near);
	}
	ah_schedule_free(s);
}

/* BYMINUTE=30,0,0: libical walks the list as written (back in time, and twice at :00); the parts are
 * sets, sorted once. (Found by the fuzz smoke run on the slow rules of the corpus.) */
static void test_unsorted_by_lists(void)
{
	ah_schedule *s = recurring("2026-01-05T09:00:00", "UTC", 600, "FREQ=DAILY;BYHOUR=9;BYMINUTE=30,0,0", NULL);
	assert_starts(s, "2026-01-05T00:00:00Z", 600,
				  (const char *const[]){"2026-01-05T09:00:00Z", "2026-01-05T09:30:00Z", "2026-01-06T09:00:00Z",
										"2026-01-06T09:30:00Z", NULL});
	ah_schedule_free(s);
}

/* A window further away than the horizon is not seen yet: the status says so and asks to be looked
 * at again when the horizon has moved; then it is found. DAILY;BYMONTH=2;BYMONTHDAY=29 looks 1500
 * days ahead; from March 2096 the next 29 February is in 2104 (2100 is not a leap year). */
static void test_horizon(void)
{
	ah_schedule *s = recurring("2026-01-05T09:00:00", "UTC", 600, "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29", NULL);
	ah_phase_params p = {600, 60, 30};
	ah_schedule_status st;
	gint64 now = utc("2096-03-01T00:00:00Z");
	ah_schedule_status_at(s, now, &p, &st);
	g_assert_cmpint(st.phase, ==, AH_PHASE_CLOSED);
	g_assert_false(st.has_occurrence);
	g_assert_cmpint(st.next_change, >, now + 1499 * 86400);
	g_assert_cmpint(st.next_change, <=, now + 1500 * 86400);
	ah_schedule_status_at(s, st.next_change, &p, &st);
	g_assert_true(st.has_occurrence);
	g_assert_cmpint(st.occurrence.start, ==, utc("2104-02-29T09:00:00Z"));
	ah_schedule_free(s);
}

static ah_error make_from(const char *text, gsize len, ah_schedule **s, char **msg)
{
	json_t *json = json_loadb(text, len, 0, NULL);
	ah_error err = json_is_object(json) ? ah_schedule_from_json(json, s, msg) : ah_schedule_new_from_ical(text, s, msg);
	json_decref(json);
	return err;
}

/* The fuzz corpus holds the issue's reproductions and rules designed to be slow: making each, a
 * status check and 100 occurrences at a few times, all within their step bounds. */
static void test_corpus_bounded(void)
{
	static const char *const times[] = {"1970-01-01T00:00:00Z", "2026-12-07T12:00:00Z", "2100-03-01T00:00:00Z"};
	char *dir = g_build_filename(AH_TEST_SRCDIR, "..", "fuzz", "corpus", "schedule", NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	ah_phase_params p = {600, 60, 30};
	const char *name;
	guint files = 0;
	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL) {
		char *path = g_build_filename(dir, name, NULL), *text = NULL, *msg = NULL;
		gsize len = 0;
		ah_schedule *s = NULL;
		ah_occurrence occ[100];
		ah_schedule_status st;
		g_assert_true(g_file_get_contents(path, &text, &len, NULL));
		guint64 before = ah_schedule_steps();
		(void)make_from(text, len, &s, &msg);
		if (g_test_verbose())
			g_test_message("%s: %" G_GUINT64_FORMAT " steps, %s", name, ah_schedule_steps() - before, msg);
		g_assert_cmpuint(ah_schedule_steps() - before, <=, CREATE_STEPS);
		for (guint i = 0; s != NULL && i < G_N_ELEMENTS(times); i++) {
			before = ah_schedule_steps();
			ah_schedule_status_at(s, utc(times[i]), &p, &st);
			g_assert_cmpuint(ah_schedule_steps() - before, <=, QUERY_STEPS);
			before = ah_schedule_steps();
			(void)ah_schedule_next_n(s, utc(times[i]), G_N_ELEMENTS(occ), occ);
			g_assert_cmpuint(ah_schedule_steps() - before, <=, QUERY_STEPS);
		}
		ah_schedule_free(s);
		g_free(msg);
		g_free(text);
		g_free(path);
		files++;
	}
	g_assert_cmpuint(files, >=, 50);
	g_dir_close(d);
	g_free(dir);
}

/* A stored schedule refused on load is held: given back unchanged, with no window, and the reason. */
static void test_held(void)
{
	json_t *stored = json_pack("{s:s, s:s, s:i, s:s}", "dtstart", "1970-01-01T00:00:00", "tzid", "UTC", "duration_s",
							   60, "rrule", "FREQ=HOURLY;COUNT=1000000000");
	ah_schedule *s = NULL;
	char *msg = NULL;
	ah_phase_params p = {600, 60, 30};
	ah_schedule_status st;
	ah_occurrence o;
	g_assert_cmpint(ah_schedule_from_json(stored, &s, &msg), ==, AH_ERR_INVALID_SCHEDULE);
	s = ah_schedule_new_held(stored, msg);
	json_t *back = ah_schedule_to_json(s);
	g_assert_true(json_equal(back, stored));
	g_assert_cmpstr(ah_schedule_refusal(s), ==, msg);
	g_assert_false(ah_schedule_current_or_next(s, 0, &o));
	ah_schedule_status_at(s, utc("2026-12-07T12:00:00Z"), &p, &st);
	g_assert_cmpint(st.phase, ==, AH_PHASE_CLOSED);
	g_assert_false(st.has_occurrence);
	g_assert_cmpint(st.next_change, ==, -1);
	json_decref(back);
	json_decref(stored);
	ah_schedule_free(s);
	g_free(msg);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/schedule/once/window", test_once_window);
	g_test_add_func("/schedule/once/invalid", test_once_invalid);
	g_test_add_func("/schedule/recurring/weekdays-berlin", test_weekdays_berlin);
	g_test_add_func("/schedule/recurring/dst-spring-forward", test_dst_spring_forward);
	g_test_add_func("/schedule/recurring/dst-fall-back", test_dst_fall_back);
	g_test_add_func("/schedule/recurring/exdate", test_exdate);
	g_test_add_func("/schedule/recurring/count-until", test_count_until);
	g_test_add_func("/schedule/recurring/years-ahead", test_years_ahead);
	g_test_add_func("/schedule/recurring/skip-matches-walk", test_skip_matches_walk);
	g_test_add_func("/schedule/phase/boundaries", test_phase_boundaries);
	g_test_add_func("/schedule/phase/recurring", test_phase_recurring);
	g_test_add_func("/schedule/ical/google", test_ical_google);
	g_test_add_func("/schedule/ical/outlook", test_ical_outlook);
	g_test_add_func("/schedule/ical/variants", test_ical_variants);
	g_test_add_func("/schedule/invalid", test_invalid);
	g_test_add_func("/schedule/json/round-trip", test_json_round_trip);
	g_test_add_func("/schedule/json/invalid", test_json_invalid);
	g_test_add_func("/schedule/issue12/count-exdates", test_issue12_count_exdates);
	g_test_add_func("/schedule/issue12/exdates-lookup", test_issue12_exdates_lookup);
	g_test_add_func("/schedule/issue12/refused-cheaply", test_issue12_refused_cheaply);
	g_test_add_func("/schedule/issue12/rscale", test_issue12_rscale);
	g_test_add_func("/schedule/issue12/once-overflow", test_issue12_once_overflow);
	g_test_add_func("/schedule/bounded/hourly-interval", test_hourly_interval_alignment);
	g_test_add_func("/schedule/bounded/horizon", test_horizon);
	g_test_add_func("/schedule/recurring/unsorted-by-lists", test_unsorted_by_lists);
	g_test_add_func("/schedule/bounded/corpus", test_corpus_bounded);
	g_test_add_func("/schedule/held", test_held);
	int rc = g_test_run();
	ah_schedule_release_caches();
	return rc;
}
