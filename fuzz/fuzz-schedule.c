/* allhands: libFuzzer target for schedules (docs/fuzzing.md): the state file's and the requests'
 * schedule object (ah_schedule_from_json) and iCalendar import (ah_schedule_new_from_ical).
 *
 * Every input goes to both parsers: as JSON to ah_schedule_from_json (when it parses) and as text
 * to ah_schedule_new_from_ical. A schedule that comes out is queried around its first occurrence
 * and at fixed times (libical's recurrence expansion), and must survive to_json -> from_json ->
 * to_json unchanged (schedule.h's promise for the state file). Every query, and making a schedule,
 * must stay within the libical iterator calls the unit tests allow (issue 12: no schedule may stall
 * the control thread).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-11-02 08:00 UTC, and a far future date. */
static const gint64 probes[] = { 0, G_GINT64_CONSTANT(1793606400), G_GINT64_CONSTANT(2524608000) };

/* Iterator calls allowed (tests/unit/test-schedule.c): per query, and to make a schedule. */
#define QUERY_STEPS 1502
#define CREATE_STEPS 2700

static guint64 mark;

static void bounded(guint64 max)
{
	if (ah_schedule_steps() - mark > max) {
		g_printerr("schedule work over its bound: %" G_GUINT64_FORMAT " > %" G_GUINT64_FORMAT " steps\n",
			ah_schedule_steps() - mark, max);
		abort();
	}
	mark = ah_schedule_steps();
}

static void query(const ah_schedule *s)
{
	ah_phase_params params = { .lobby_s = 600, .ending_warning_s = 60, .grace_s = 30 };
	ah_occurrence occ[4];
	ah_schedule_status status;
	for (guint i = 0; i < G_N_ELEMENTS(probes); i++) {
		ah_occurrence first;
		guint n;
		mark = ah_schedule_steps();
		gboolean found = ah_schedule_current_or_next(s, probes[i], &first);
		bounded(QUERY_STEPS);
		if (!found)
			continue;
		if (first.end <= first.start)
			abort();
		n = ah_schedule_next_n(s, first.start, G_N_ELEMENTS(occ), occ);
		bounded(QUERY_STEPS);
		for (guint j = 1; j < n; j++)
			if (occ[j].start < occ[j - 1].start)
				abort();
		ah_schedule_status_at(s, first.start, &params, &status);
		bounded(QUERY_STEPS);
		ah_schedule_status_at(s, first.end, &params, &status);
		bounded(QUERY_STEPS);
	}
	(void)ah_phase_name(AH_PHASE_ENDING);
	(void)ah_schedule_summary(s);
}

static void round_trip(const ah_schedule *s)
{
	json_t *a = ah_schedule_to_json(s), *b;
	ah_schedule *copy = NULL;
	char *message = NULL;
	if (a == NULL)
		abort();
	if (ah_schedule_from_json(a, &copy, &message) != AH_ERR_OK) {
		char *text = json_dumps(a, JSON_COMPACT);
		g_printerr("schedule does not reload: %s: %s\n", text, message);
		abort();
	}
	b = ah_schedule_to_json(copy);
	if (!json_equal(a, b)) {
		char *ta = json_dumps(a, JSON_COMPACT), *tb = json_dumps(b, JSON_COMPACT);
		g_printerr("schedule round trip differs:\n%s\n%s\n", ta, tb);
		abort();
	}
	json_decref(a);
	json_decref(b);
	ah_schedule_free(copy);
}

static void check(ah_error err, ah_schedule *s, char *message)
{
	if ((err == AH_ERR_OK) != (s != NULL))
		abort();
	if (s != NULL) {
		query(s);
		round_trip(s);
		ah_schedule_free(s);
	}
	g_free(message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t error;
	json_t *json = json_loadb((const char *)data, size, JSON_DECODE_ANY, &error);
	char *text;
	if (json != NULL) {
		ah_schedule *s = NULL;
		char *message = NULL;
		mark = ah_schedule_steps();
		ah_error err = ah_schedule_from_json(json, &s, &message);
		bounded(CREATE_STEPS);
		check(err, s, message);
		json_decref(json);
	}
	text = g_strndup((const char *)data, size);
	{
		ah_schedule *s = NULL;
		char *message = NULL;
		mark = ah_schedule_steps();
		ah_error err = ah_schedule_new_from_ical(text, &s, &message);
		bounded(CREATE_STEPS);
		check(err, s, message);
	}
	g_free(text);
	return 0;
}
