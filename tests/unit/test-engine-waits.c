/* allhands: wait estimates of a scheduled room, as its queued attendees read them on the wire
 * (issue 12, section 5): never past the end of the window, and "beyond_window" instead. The
 * engine passes the window's end down to admission, which knows no schedule.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-fixture.h"

#define T0 G_GINT64_CONSTANT(1796114940) /* 2026-12-01T08:49:00Z */
#define MONO0 (1000 * SEC)
#define QUEUED 40

/* The waits told: how many, known, saying beyond_window, reaching past the end. */
typedef struct {
	guint told, known, beyond, past_end;
} tally;

static void look(fixture *f, const json_t *body, gint64 left_us, tally *t)
{
	const json_t *wait = json_object_get(body, "wait");
	json_int_t median;
	if (wait == NULL)
		return;
	t->told++;
	if (!json_is_true(json_object_get(wait, "known")))
		return;
	t->known++;
	median = num(wait, "median_ms");
	g_assert_cmpint(num(wait, "low_ms"), <=, median);
	g_assert_cmpint(median, <=, num(wait, "high_ms"));
	if (num(wait, "high_ms") * MS > left_us || median * MS > left_us)
		t->past_end++;
	t->beyond += json_is_true(json_object_get(wait, "beyond_window"));
}

static void look_all(fixture *f, gint64 left_us, tally *t)
{
	for (guint i = 0; i < f->outs->len; i++) {
		const ah_out *o = g_ptr_array_index(f->outs, i);
		const char *event = str(o->body, "event");
		if (o->kind == AH_OUT_EVENT && event != NULL && strcmp(event, "position") == 0)
			look(f, o->body, left_us, t);
	}
	clear(f);
}

/* A one-off window that ends in 60 s (plus the 30 s grace) on a full node of 5 seats, whose
 * attendees leave one every 4 s: the 40 queued need about 160 s, so most of them cannot be seated
 * before the end. Every wait they are told stays within the time left, and those whose median
 * would be past it say so (beyond_window). The old estimates told medians past the end. */
static void test_window_end(fixture *f, gconstpointer data)
{
	gint64 end_us = MONO0 + (60 + 30) * SEC;
	guint64 conn = 1, next_leave = 1;
	tally t = {0};
	GArray *admitted = g_array_new(FALSE, FALSE, sizeof(guint64));
	char *text;
	ah_engine_set_clock_offset(f->engine, T0 * SEC - MONO0);
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 1000, "
		"'secret': 'acme-tenant-secret'}"));
	text = g_strdup_printf("{'request': 'create_room', 'tenant': 'acme', 'room': 'town', 'max_attendees': 1000, 'presenter_secret': 's3cret-presenter', "
		"'schedule': {'start': %" G_GINT64_FORMAT ", 'end': %" G_GINT64_FORMAT "}}", T0 - 60, T0 + 60);
	assert_success(admin(f, text));
	g_free(text);
	f->now = MONO0;
	tick(f);
	clear(f);
	/* Five seated (one wave of 2 a second), then the queue. */
	for (; conn <= 5; conn++) {
		json_t *reply = send(f, conn, "{'request': 'join', 'tenant': 'acme', 'room': 'town'}");
		if (strcmp(str(reply, "event"), "queued") == 0) {
			f->now += SEC;
			tick(f);
		}
		connect(f, conn);
		clear(f);
	}
	for (; conn <= 5 + QUEUED; conn++) {
		json_t *reply = send(f, conn, "{'request': 'join', 'tenant': 'acme', 'room': 'town'}");
		assert_event(reply, "queued");
		look(f, reply, end_us - f->now, &t);
		clear(f);
	}
	/* One leaves every 3 s; whoever is admitted connects. */
	for (gint64 step = 0; f->now < end_us - SEC; step++) {
		f->now += 500 * MS;
		if (step % 8 == 7) {
			assert_event(send(f, next_leave, "{'request': 'leave'}"), "left");
			next_leave++;
		}
		tick(f);
		g_array_set_size(admitted, 0);
		for (guint i = 0; i < f->outs->len; i++) {
			const ah_out *o = g_ptr_array_index(f->outs, i);
			if (o->kind == AH_OUT_EVENT && g_strcmp0(str(o->body, "event"), "admitted") == 0)
				g_array_append_val(admitted, o->conn);
		}
		look_all(f, end_us - f->now, &t);
		for (guint i = 0; i < admitted->len; i++)
			connect(f, g_array_index(admitted, guint64, i));
		look_all(f, end_us - f->now, &t);
	}
	g_array_unref(admitted);
	g_test_message("window end: %u waits told, %u known, %u beyond the window, %u past the end", t.told, t.known,
		t.beyond, t.past_end);
	g_assert_cmpuint(t.known, >=, 20);
	g_assert_cmpuint(t.past_end, ==, 0);
	g_assert_cmpuint(t.beyond, >=, 5);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/engine/waits/window-end", fixture, NULL, setup, test_window_end, teardown);
	return g_test_run();
}
