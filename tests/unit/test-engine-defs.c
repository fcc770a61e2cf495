/* allhands: cluster mode's shared definitions, the engine's side (plugin/core/engine-defs.c): the
 * definitions a request changes are listed (only while tracked, never those applied from outside);
 * a definition from another engine, applied, gives the same tenant or room (and its state file
 * row); applying what is there already changes nothing; a room destroyed from outside removes its
 * participants as a local destroy does; malformed definitions are refused whole, nothing changed.
 * Two engines stand for two nodes; the glue's Redis round trip is test-defs-redis.c's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-fixture.h"

/* A second node: its own engine and state file in the fixture's folder. */
static ah_engine *other_engine(fixture *f, char **path)
{
	ah_engine_config config = f->config;
	*path = g_build_filename(f->dir, "other.json", NULL);
	config.state_path = *path;
	return engine_new(&config);
}

/* Apply every definition `from` changed since the last call to `to`, as the glue does through Redis;
 * returns how many changed something there. */
static guint copy_defs(fixture *f, ah_engine *from, ah_engine *to)
{
	GPtrArray *changed = ah_engine_defs_take(from);
	guint n = 0;
	for (guint i = 0; changed != NULL && i < changed->len; i++) {
		const ah_def_ref *ref = g_ptr_array_index(changed, i);
		json_t *row = ah_engine_definition(from, ref->tenant, ref->room);
		gboolean did = FALSE;
		char *message = NULL;
		g_assert_cmpint(ah_engine_apply_definition(to, ref->tenant, ref->room, row, f->now, f->outs, &did, &message),
			==, AH_ERR_OK);
		g_assert_null(message);
		n += did;
		json_decref(row);
	}
	if (changed != NULL)
		g_ptr_array_unref(changed);
	return n;
}

static json_t *other_admin(fixture *f, ah_engine *e, const char *text)
{
	json_t *message = parse(text);
	json_t *reply = ah_engine_admin_message(e, message, f->now, f->outs);
	json_decref(message);
	return keep(f, reply);
}

static void assert_same_definition(ah_engine *a, ah_engine *b, const char *tenant, const char *room)
{
	json_t *x = ah_engine_definition(a, tenant, room), *y = ah_engine_definition(b, tenant, room);
	g_assert_nonnull(x);
	g_assert_nonnull(y);
	g_assert_true(json_equal(x, y));
	json_decref(x);
	json_decref(y);
}

static void test_untracked(fixture *f, gconstpointer data)
{
	make_rooms(f);
	g_assert_null(ah_engine_defs_take(f->engine));
}

static void test_listed_and_applied(fixture *f, gconstpointer data)
{
	char *path;
	ah_engine *b = other_engine(f, &path);
	ah_engine_defs_track(f->engine, TRUE);
	ah_engine_defs_track(b, TRUE);
	make_rooms(f);
	/* Two tenants and two rooms: four changes, applied on b in order. */
	g_assert_cmpuint(copy_defs(f, f->engine, b), ==, 4);
	assert_same_definition(f->engine, b, "acme", NULL);
	assert_same_definition(f->engine, b, "acme", "allhands");
	assert_same_definition(f->engine, b, "globex", "standup");
	/* b applied them from outside: nothing for b to share. */
	g_assert_null(ah_engine_defs_take(b));
	/* The same again changes nothing. */
	json_t *row = ah_engine_definition(f->engine, "acme", "allhands");
	gboolean changed = TRUE;
	char *message = NULL;
	g_assert_cmpint(ah_engine_apply_definition(b, "acme", "allhands", row, f->now, f->outs, &changed, &message), ==,
		AH_ERR_OK);
	g_assert_false(changed);
	json_decref(row);

	/* An edit on b (caps, a schedule, a secret rotation) comes back to a. */
	assert_success(other_admin(f, b, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', "
		"'max_attendees': 7, 'video_layer': 'low', 'schedule': {'start': 2000000000, 'duration_s': 60}}"));
	assert_success(other_admin(f, b, "{'request': 'edit_tenant', 'tenant': 'acme', 'secret': 'acme-rotated-secret', "
		"'secret_overlap_s': 60, 'weight': 3}"));
	assert_success(other_admin(f, b, "{'request': 'rotate_signing_key', 'tenant': 'globex'}"));
	g_assert_cmpuint(copy_defs(f, b, f->engine), ==, 3);
	g_assert_null(ah_engine_defs_take(f->engine));
	assert_same_definition(f->engine, b, "acme", NULL);
	assert_same_definition(f->engine, b, "acme", "allhands");
	assert_same_definition(f->engine, b, "globex", NULL);
	json_t *info = admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}");
	g_assert_cmpint(num(json_object_get(info, "room"), "max_attendees"), ==, 7);
	g_assert_cmpstr(str(json_object_get(info, "room"), "state"), ==, "closed");
	/* The room's home node (placement) travels with its row. */
	json_t *moved = ah_engine_definition(b, "acme", "allhands");
	json_object_set_new(moved, "node", json_string("node-b"));
	g_assert_cmpint(ah_engine_apply_definition(f->engine, "acme", "allhands", moved, f->now, f->outs, &changed, &message),
		==, AH_ERR_OK);
	g_assert_true(changed);
	g_assert_cmpint(ah_engine_apply_definition(b, "acme", "allhands", moved, f->now, f->outs, &changed, &message), ==,
		AH_ERR_OK);
	json_decref(moved);
	moved = ah_engine_definition(f->engine, "acme", "allhands");
	g_assert_cmpstr(json_string_value(json_object_get(moved, "node")), ==, "node-b");
	json_decref(moved);

	/* b's state file has what it applied: a restart of b loads it. */
	clear(f);
	ah_engine_free(b);
	ah_engine_config config = f->config;
	config.state_path = path;
	b = engine_new(&config);
	assert_same_definition(f->engine, b, "acme", "allhands");
	assert_same_definition(f->engine, b, "globex", NULL);
	ah_engine_free(b);
	g_unlink(path);
	g_free(path);
}

/* Destroyed on another node: the room's participants here are removed, as a local destroy does. */
static void test_destroy_from_outside(fixture *f, gconstpointer data)
{
	char *path;
	ah_engine *b = other_engine(f, &path);
	gboolean changed = FALSE;
	char *message = NULL;
	ah_engine_defs_track(f->engine, TRUE);
	ah_engine_defs_track(b, TRUE);
	make_rooms(f);
	copy_defs(f, f->engine, b);
	join_presenter(f, 1);
	clear(f);
	other_admin(f, b, "{'request': 'destroy_room', 'tenant': 'acme', 'room': 'allhands'}");
	g_assert_cmpuint(copy_defs(f, b, f->engine), ==, 1);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 1, "removed"));
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_null(ah_engine_definition(f->engine, "acme", "allhands"));
	assert_error(send(f, 2, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands'}"), AH_ERR_NO_SUCH_ROOM);
	/* Gone already: nothing changes. */
	g_assert_cmpint(ah_engine_apply_definition(f->engine, "acme", "allhands", NULL, f->now, f->outs, &changed, &message),
		==, AH_ERR_OK);
	g_assert_false(changed);
	/* A tenant: with its rooms. */
	other_admin(f, b, "{'request': 'destroy_tenant', 'tenant': 'globex'}");
	g_assert_cmpuint(copy_defs(f, b, f->engine), ==, 1);
	g_assert_null(ah_engine_definition(f->engine, "globex", NULL));
	g_assert_null(ah_engine_definition(f->engine, "globex", "standup"));
	g_assert_null(ah_engine_defs_take(f->engine));
	clear(f);
	ah_engine_free(b);
	g_unlink(path);
	g_free(path);
}

/* Malformed definitions are refused whole (the state file's own checks), nothing changes. */
static void test_malformed(fixture *f, gconstpointer data)
{
	static const struct {
		const char *tenant, *room, *row;
	} bad[] = {
		{ "acme", NULL, "[1, 2]" },
		{ "acme", NULL, "{'tenant': 'acme'}" },
		{ "acme", NULL, "{'tenant': 'other', 'name': '', 'max_participants': 1, 'secret': 'long-enough-secret', "
			"'signing_key': '0000000000000000000000000000000000000000000000000000000000000000'}" },
		{ "acme", NULL, "{'tenant': 'acme', 'name': '', 'max_participants': -1, 'secret': 'long-enough-secret', "
			"'signing_key': '0000000000000000000000000000000000000000000000000000000000000000'}" },
		{ "acme", NULL, "{'tenant': 'acme', 'name': '', 'max_participants': 1, 'secret': 'long-enough-secret'}" },
		{ "acme", "allhands", "{'tenant': 'acme', 'room': 'allhands', 'description': '', 'max_attendees': 'many', "
			"'presenter_secret': 's3cret-presenter'}" },
		{ "acme", "allhands", "{'tenant': 'acme', 'room': 'allhands', 'description': '', 'max_attendees': 5, "
			"'presenter_secret': 's3cret-presenter', 'video_layer': 'ultra'}" },
		{ "acme", "other", "{'tenant': 'acme', 'room': 'allhands', 'description': '', 'max_attendees': 5, "
			"'presenter_secret': 's3cret-presenter'}" },
		{ "nobody", "allhands", "{'tenant': 'nobody', 'room': 'allhands', 'description': '', 'max_attendees': 5, "
			"'presenter_secret': 's3cret-presenter'}" },
		{ "bad id!", NULL, "{}" },
	};
	ah_engine_defs_track(f->engine, TRUE);
	make_rooms(f);
	g_ptr_array_unref(ah_engine_defs_take(f->engine));
	json_t *tenant_before = ah_engine_definition(f->engine, "acme", NULL);
	json_t *room_before = ah_engine_definition(f->engine, "acme", "allhands");
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		json_t *row = parse(bad[i].row);
		gboolean changed = TRUE;
		char *message = NULL;
		g_assert_cmpint(ah_engine_apply_definition(f->engine, bad[i].tenant, bad[i].room, row, f->now, f->outs, &changed,
			&message), !=, AH_ERR_OK);
		g_assert_false(changed);
		g_assert_nonnull(message);
		g_free(message);
		json_decref(row);
	}
	json_t *tenant_after = ah_engine_definition(f->engine, "acme", NULL);
	json_t *room_after = ah_engine_definition(f->engine, "acme", "allhands");
	g_assert_true(json_equal(tenant_before, tenant_after));
	g_assert_true(json_equal(room_before, room_after));
	g_assert_null(ah_engine_definition(f->engine, "acme", "other"));
	g_assert_null(ah_engine_defs_take(f->engine));
	json_decref(tenant_before);
	json_decref(tenant_after);
	json_decref(room_before);
	json_decref(room_after);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/engine-defs/untracked", fixture, NULL, setup, test_untracked, teardown);
	g_test_add("/engine-defs/listed-and-applied", fixture, NULL, setup, test_listed_and_applied, teardown);
	g_test_add("/engine-defs/destroy-from-outside", fixture, NULL, setup, test_destroy_from_outside, teardown);
	g_test_add("/engine-defs/malformed", fixture, NULL, setup, test_malformed, teardown);
	return g_test_run();
}
