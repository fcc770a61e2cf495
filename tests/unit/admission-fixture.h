/* allhands: the shared fixture of the admission example tests (test-admission*.c): a fresh
 * ah_admission per test with a hand clock, and helpers that drive it and check events, counts and
 * queues.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef AH_TEST_ADMISSION_FIXTURE_H
#define AH_TEST_ADMISSION_FIXTURE_H

#include <glib.h>

#include "allhands/admission.h"

#define SEC G_GINT64_CONSTANT(1000000)
#define INTERVAL (1 * SEC)
#define TIMEOUT (10 * SEC)

typedef struct {
	ah_admission *adm;
	GArray *events;
	gint64 now;
	guint position;
} fixture;

static G_GNUC_UNUSED const ah_admission_config default_config = {
	.capacity = 5,
	.wave_size = 2,
	.wave_interval_us = INTERVAL,
	.admit_timeout_us = TIMEOUT,
};

static G_GNUC_UNUSED void fixture_setup(fixture *f, gconstpointer data)
{
	f->adm = ah_admission_new(&default_config);
	f->events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
	f->now = 1000 * SEC;
	f->position = 0;
	ah_admission_set_tenant(f->adm, "acme", 100);
	g_assert_cmpint(ah_admission_set_room(f->adm, "acme", "town", 100), ==, TRUE);
	g_assert_cmpint(ah_admission_set_room(f->adm, "acme", "hall", 100), ==, TRUE);
	ah_admission_set_tenant(f->adm, "globex", 100);
	g_assert_cmpint(ah_admission_set_room(f->adm, "globex", "lobby", 100), ==, TRUE);
}

static G_GNUC_UNUSED void fixture_teardown(fixture *f, gconstpointer data)
{
	ah_admission_free(f->adm);
	g_array_free(f->events, TRUE);
}

/* --- helpers */

static G_GNUC_UNUSED void set_config(fixture *f, guint capacity, guint wave_size, gint64 interval, gint64 timeout)
{
	ah_admission_config c = {
		.capacity = capacity,
		.wave_size = wave_size,
		.wave_interval_us = interval,
		.admit_timeout_us = timeout,
	};
	ah_admission_set_config(f->adm, &c, 0);
}

static G_GNUC_UNUSED ah_adm_state join(fixture *f, guint64 pid, const char *tenant, const char *room)
{
	return ah_admission_join(f->adm, pid, tenant, room, f->now, &f->position, f->events);
}

/* Joins pids first..last into tenant/room, asserting each is admitted at once. */
static G_GNUC_UNUSED void join_admitted(fixture *f, guint64 first, guint64 last, const char *tenant, const char *room)
{
	for (guint64 pid = first; pid <= last; pid++)
		g_assert_cmpint(join(f, pid, tenant, room), ==, AH_ADM_CONNECTING);
}

static G_GNUC_UNUSED void join_queued(fixture *f, guint64 pid, const char *tenant, const char *room, guint position)
{
	g_assert_cmpint(join(f, pid, tenant, room), ==, AH_ADM_QUEUED);
	g_assert_cmpuint(f->position, ==, position);
}

static G_GNUC_UNUSED void leave(fixture *f, guint64 pid, ah_adm_state previous)
{
	g_assert_cmpint(ah_admission_leave(f->adm, pid, f->now, f->events), ==, previous);
}

static G_GNUC_UNUSED void tick(fixture *f)
{
	ah_admission_tick(f->adm, f->now, f->events);
}

/* Compares and clears the collected events. */
static G_GNUC_UNUSED void assert_events(fixture *f, const char *expected)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < f->events->len; i++) {
		const ah_adm_event *ev = &g_array_index(f->events, ah_adm_event, i);
		if (s->len > 0)
			g_string_append_c(s, ' ');
		switch (ev->kind) {
		case AH_ADM_EV_TIMED_OUT:
			g_string_append_printf(s, "T%" G_GUINT64_FORMAT, ev->pid);
			break;
		case AH_ADM_EV_ADMITTED:
			g_string_append_printf(s, "A%" G_GUINT64_FORMAT, ev->pid);
			break;
		case AH_ADM_EV_POSITION:
			g_string_append_printf(s, "P%" G_GUINT64_FORMAT "=%u/%u", ev->pid, ev->position, ev->queue_length);
			break;
		case AH_ADM_EV_GRACE_EXPIRED:
			g_string_append_printf(s, "G%" G_GUINT64_FORMAT, ev->pid);
			break;
		case AH_ADM_EV_DRAINED:
			g_string_append_printf(s, "D%" G_GUINT64_FORMAT, ev->pid);
			break;
		}
	}
	g_assert_cmpstr(s->str, ==, expected);
	g_string_free(s, TRUE);
	g_array_set_size(f->events, 0);
}

static G_GNUC_UNUSED void assert_counts(fixture *f, const char *tenant, const char *room, guint active, guint connecting,
						  guint queued, guint presenters)
{
	ah_adm_counts c = ah_admission_counts(f->adm, tenant, room);
	g_assert_cmpuint(c.active, ==, active);
	g_assert_cmpuint(c.connecting, ==, connecting);
	g_assert_cmpuint(c.queued, ==, queued);
	g_assert_cmpuint(c.presenters, ==, presenters);
}

/* The queue (optionally of one tenant/room) as "pid pid ...". */
static G_GNUC_UNUSED void assert_queue(fixture *f, const char *tenant, const char *room, const char *expected)
{
	GArray *q = ah_admission_queue(f->adm, tenant, room);
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < q->len; i++)
		g_string_append_printf(s, "%s%" G_GUINT64_FORMAT, i > 0 ? " " : "", g_array_index(q, guint64, i));
	g_assert_cmpstr(s->str, ==, expected);
	g_string_free(s, TRUE);
	g_array_free(q, TRUE);
}

static G_GNUC_UNUSED void connect_all(fixture *f, guint64 first, guint64 last)
{
	for (guint64 pid = first; pid <= last; pid++)
		g_assert_cmpint(ah_admission_connected(f->adm, pid, f->now), ==, TRUE);
}

/* --- caps */

static G_GNUC_UNUSED gint compare_pid(gconstpointer a, gconstpointer b)
{
	guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
	return x < y ? -1 : x > y;
}

static G_GNUC_UNUSED void assert_removed(GArray *removed, const char *expected)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < removed->len; i++)
		g_string_append_printf(s, "%s%" G_GUINT64_FORMAT, i > 0 ? " " : "", g_array_index(removed, guint64, i));
	g_assert_cmpstr(s->str, ==, expected);
	g_string_free(s, TRUE);
	g_array_set_size(removed, 0);
}

static G_GNUC_UNUSED void add(const char *path, void (*fn)(fixture *, gconstpointer))
{
	g_test_add(path, fixture, NULL, fixture_setup, fn, fixture_teardown);
}

#endif
