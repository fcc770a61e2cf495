/* allhands: the engine's side of durability (issue 12): a change hands one row to the state
 * file's writer instead of writing the file on the control thread, stale temporary files go at
 * start, `sync`, and events handled late at the time they happened.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-fixture.h"

#include "allhands/persist.h"

static char *file_text(fixture *f)
{
	char *text = NULL;
	g_assert_true(g_file_get_contents(f->path, &text, NULL, NULL));
	return text;
}

static ah_persist_figures figures(fixture *f)
{
	ah_persist_figures fig;
	ah_persist_writer_figures(ah_engine_persist_writer(f->engine), &fig);
	g_free(fig.last_error);
	fig.last_error = NULL;
	return fig;
}

/* The request that changes a room does not write the file (that was the control thread's fsync at
 * every change): it hands the writer that room's row, whatever the state's size. */
static void test_change_not_written_by_request(fixture *f, gconstpointer data)
{
	char *before, *after;
	make_rooms(f);
	for (guint i = 0; i < 200; i++) {
		char *request = g_strdup_printf("{'request': 'create_room', 'tenant': 'acme', 'room': 'r%u', "
			"'max_attendees': 5, 'presenter_secret': 's3cret-presenter'}", i);
		assert_success(admin(f, request));
		g_free(request);
	}
	flush_state(f);
	before = file_text(f);
	g_assert_cmpuint(figures(f).pending, ==, 0);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'r7', 'description': 'changed'}"));
	after = file_text(f);
	g_assert_cmpstr(after, ==, before);
	/* One row handed over for one change, with 202 rooms in the state. */
	g_assert_cmpuint(figures(f).pending, ==, 1);
	g_free(after);
	flush_state(f);
	after = file_text(f);
	g_assert_nonnull(strstr(after, "\"description\": \"changed\""));
	g_assert_cmpuint(figures(f).pending, ==, 0);
	g_free(before);
	g_free(after);
}

/* Every kind of change reaches the file: what a restart loads is what the engine had. */
static void test_restart_sees_every_change(fixture *f, gconstpointer data)
{
	json_t *rooms;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'name': 'Acme 2', 'weight': 3}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'globex', 'room': 'gone', 'max_attendees': 1, "
		"'presenter_secret': 'g-s3cret-presenter'}"));
	assert_success(admin(f, "{'request': 'destroy_room', 'tenant': 'globex', 'room': 'standup'}"));
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'initech', 'max_participants': 1, "
		"'secret': 'acme-tenant-secret'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'initech', 'room': 'tps', 'max_attendees': 1, "
		"'presenter_secret': 's3cret-presenter'}"));
	assert_success(admin(f, "{'request': 'destroy_tenant', 'tenant': 'initech'}"));
	assert_success(admin(f, "{'request': 'set_schedule', 'tenant': 'acme', 'room': 'allhands', "
		"'schedule': {'start': 2000000000, 'duration_s': 60}}"));
	clear(f);
	ah_engine_free(f->engine); /* writes what is pending */
	f->engine = engine_new(&f->config);
	g_assert_cmpstr(str(json_array_get(json_object_get(admin(f, "{'request': 'list_tenants'}"), "tenants"), 0), "name"),
		==, "Acme 2");
	g_assert_cmpuint(json_array_size(json_object_get(admin(f, "{'request': 'list_tenants'}"), "tenants")), ==, 2);
	rooms = json_object_get(admin(f, "{'request': 'list_rooms'}"), "rooms");
	g_assert_cmpuint(json_array_size(rooms), ==, 2);
	g_assert_cmpstr(str(json_array_get(rooms, 0), "room"), ==, "allhands");
	g_assert_nonnull(json_object_get(json_array_get(rooms, 0), "schedule"));
	g_assert_cmpstr(str(json_array_get(rooms, 1), "room"), ==, "gone");
}

static void touch(fixture *f, const char *name)
{
	char *path = g_build_filename(f->dir, name, NULL);
	g_assert_true(g_file_set_contents(path, "{\"version\": 1, \"tenants\": [{\"secret\": \"acme-sec", -1, NULL));
	g_free(path);
}

static gboolean exists(fixture *f, const char *name)
{
	char *path = g_build_filename(f->dir, name, NULL);
	gboolean found = g_file_test(path, G_FILE_TEST_EXISTS);
	g_free(path);
	return found;
}

/* Issue 12: temporary files (mode 0600, with secrets) left by kills during a save stayed forever
 * (7 after 30 kills). A start removes them, and only them. */
static void test_stale_temps_removed_at_start(fixture *f, gconstpointer data)
{
	make_rooms(f);
	ah_engine_free(f->engine);
	/* Names GLib's g_file_set_contents() gave them (earlier versions), and ours. */
	touch(f, "state.json.Xq3ZpA");
	touch(f, "state.json.8mNw2k");
	touch(f, "state.json.allhands-tmp");
	touch(f, "state.json.backup");
	f->engine = engine_new(&f->config);
	g_assert_false(exists(f, "state.json.Xq3ZpA"));
	g_assert_false(exists(f, "state.json.8mNw2k"));
	g_assert_false(exists(f, "state.json.allhands-tmp"));
	g_assert_true(exists(f, "state.json.backup"));
	g_assert_cmpuint(ah_engine_stale_temps_removed(f->engine), ==, 3);
	g_assert_cmpuint(json_array_size(json_object_get(admin(f, "{'request': 'list_rooms'}"), "rooms")), ==, 2);
	char *backup = g_build_filename(f->dir, "state.json.backup", NULL);
	g_unlink(backup);
	g_free(backup);
}

/* `sync` names the last change handed to the writer (the glue answers once it is durable). */
static void test_sync(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_rooms(f);
	reply = admin(f, "{'request': 'sync'}");
	assert_success(reply);
	g_assert_cmpint(num(reply, "sequence"), ==, 4);
	g_assert_cmpint(num(reply, "sequence"), ==, (json_int_t)figures(f).submitted);
	/* A tenant may ask too, over a plugin handle with its credentials. */
	assert_success(send(f, 99, "{'request': 'sync', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}"));
	assert_error(send(f, 99, "{'request': 'sync', 'tenant': 'acme', 'tenant_secret': 'wrong'}"), AH_ERR_UNAUTHORIZED);
	assert_error(send(f, 99, "{'request': 'sync'}"), AH_ERR_UNAUTHORIZED);
}

/* Issue 12: events were stamped when the control thread handled them, so after a stall an
 * attendee whose PeerConnection came up in time was expired as admit_timeout. The glue now hands
 * the engine the time of the Janus callback and runs the timers after the events queued before
 * them; the engine keeps its side: media up before the deadline, handled later, seats it. */
static void test_media_up_stamped_before_deadline(fixture *f, gconstpointer data)
{
	gint64 admitted_at, timeout = f->config.admission.admit_timeout_us;
	make_rooms(f);
	assert_event(join_attendee(f, 10), "admitted");
	admitted_at = f->now;
	start(f, 10);
	clear(f);
	/* The control thread stalls across the deadline; the callback happened 1 ms before it. */
	ah_engine_media_up(f->engine, 10, admitted_at + timeout - MS, f->outs);
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 10, "active"));
	f->now = admitted_at + timeout + 5 * SEC;
	tick(f);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 10, "removed"), ==, 0);
	g_assert_cmpint(node_count(f, "active"), ==, 1);
	/* A callback after the deadline is too late, however early it is handled. */
	f->now = admitted_at + 10 * SEC;
	assert_event(join_attendee(f, 11), "admitted");
	start(f, 11);
	clear(f);
	ah_engine_media_up(f->engine, 11, f->now + timeout, f->outs);
	g_assert_null(find(f, AH_OUT_NOTIFY, 11, "active"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, fixture, NULL, setup, fn, teardown)
	ADD("/engine/durability/change-not-written-by-the-request", test_change_not_written_by_request);
	ADD("/engine/durability/restart-sees-every-change", test_restart_sees_every_change);
	ADD("/engine/durability/stale-temps-removed-at-start", test_stale_temps_removed_at_start);
	ADD("/engine/durability/sync", test_sync);
	ADD("/engine/time/media-up-stamped-before-deadline", test_media_up_stamped_before_deadline);
#undef ADD
	return g_test_run();
}
