/* allhands: unit tests of the state file (plugin/core/persist.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "allhands/persist.h"
#include "allhands/simulcast.h"
#include "tmpdir-fixture.h"

typedef struct {
	char *dir;
	char *path;
} fixture;

static void setup(fixture *f, gconstpointer data)
{
	f->dir = tmpdir_new("ah-persist-XXXXXX");
	f->path = g_build_filename(f->dir, "state.json", NULL);
}

static void teardown(fixture *f, gconstpointer data)
{
	tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

#define KEY_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

/* A tenant row with its signing key (required from version 2 on). */
static ah_persist_tenant *add_tenant(ah_persist_state *state, const char *id, const char *name, guint max,
	const char *secret)
{
	ah_persist_tenant *t = ah_persist_add_tenant(state, id, name, max, secret);
	t->signing_key = g_strdup(KEY_A);
	return t;
}

static ah_persist_state *sample_state(void)
{
	ah_persist_state *state = ah_persist_state_new();
	add_tenant(state, "acme", "Acme Inc.", 100, "acme-secret");
	add_tenant(state, "globex", NULL, 0, "g");
	ah_persist_add_room(state, "acme", "allhands", "Q1 all hands", 50, "1234", "s3cret");
	ah_persist_add_room(state, "acme", "standup", NULL, 0, NULL, "p");
	ah_persist_add_room(state, "globex", "standup", "", 7, "", "q");
	return state;
}

static void write_file(const char *path, const char *text)
{
	GError *error = NULL;
	g_file_set_contents(path, text, -1, &error);
	g_assert_no_error(error);
}

static char *read_file(const char *path)
{
	char *text = NULL;
	GError *error = NULL;
	g_file_get_contents(path, &text, NULL, &error);
	g_assert_no_error(error);
	return text;
}

/* Loading `path` fails with `want`; the message names the file and `fragment`; the file is untouched. */
static void expect_load_error(const char *path, ah_error want, const char *fragment)
{
	char *before = g_file_test(path, G_FILE_TEST_IS_REGULAR) ? read_file(path) : NULL, *message = NULL, *after;
	ah_error err = AH_ERR_OK;
	ah_persist_state *state = ah_persist_load(path, &err, &message);
	g_assert_null(state);
	g_assert_cmpstr(ah_error_name(err), ==, ah_error_name(want));
	g_assert_nonnull(message);
	g_assert_nonnull(strstr(message, path));
	if (fragment != NULL && strstr(message, fragment) == NULL)
		g_assert_cmpstr(message, ==, fragment);
	g_free(message);
	if (before != NULL) {
		after = read_file(path);
		g_assert_cmpstr(after, ==, before);
		g_free(after);
		g_free(before);
	}
}

static void test_round_trip(fixture *f, gconstpointer data)
{
	ah_persist_state *state = sample_state(), *loaded;
	char *message = NULL;
	ah_error err = AH_ERR_INTERNAL;
	GStatBuf st;
	const ah_persist_tenant *t;
	const ah_persist_room *r;
	g_assert_true(ah_persist_save(f->path, state, &message));
	g_assert_null(message);
	g_assert_cmpint(g_stat(f->path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	loaded = ah_persist_load(f->path, &err, &message);
	g_assert_nonnull(loaded);
	g_assert_cmpint(err, ==, AH_ERR_OK);
	g_assert_null(message);
	g_assert_cmpuint(loaded->tenants->len, ==, 2);
	g_assert_cmpuint(loaded->rooms->len, ==, 3);
	t = g_ptr_array_index(loaded->tenants, 0);
	g_assert_cmpstr(t->tenant, ==, "acme");
	g_assert_cmpstr(t->name, ==, "Acme Inc.");
	g_assert_cmpuint(t->max_participants, ==, 100);
	g_assert_cmpstr(t->secret, ==, "acme-secret");
	t = g_ptr_array_index(loaded->tenants, 1);
	g_assert_cmpstr(t->name, ==, "");
	g_assert_cmpuint(t->max_participants, ==, 0);
	r = g_ptr_array_index(loaded->rooms, 0);
	g_assert_cmpstr(r->tenant, ==, "acme");
	g_assert_cmpstr(r->room, ==, "allhands");
	g_assert_cmpstr(r->description, ==, "Q1 all hands");
	g_assert_cmpuint(r->max_attendees, ==, 50);
	g_assert_cmpstr(r->pin, ==, "1234");
	g_assert_cmpstr(r->presenter_secret, ==, "s3cret");
	r = g_ptr_array_index(loaded->rooms, 1);
	g_assert_null(r->pin);
	g_assert_cmpstr(r->description, ==, "");
	r = g_ptr_array_index(loaded->rooms, 2);
	g_assert_null(r->pin); /* "" means no pin */
	g_assert_cmpstr(r->tenant, ==, "globex");
	ah_persist_state_free(loaded);
	ah_persist_state_free(state);
}

/* Issue 12: version 2 rows carry the tenant's signing key (and a rotated-out one with its end);
 * version 1 rows have none (the engine makes one); a version 2 row without one is refused. */
static void test_signing_keys(fixture *f, gconstpointer data)
{
	ah_persist_state *state = ah_persist_state_new(), *loaded;
	ah_persist_tenant *t = add_tenant(state, "acme", "", 1, "acme-secret");
	const ah_persist_tenant *l;
	char *message = NULL;
	ah_error err = AH_ERR_OK;
	t->previous_signing_key = g_strdup(KEY_B);
	t->previous_signing_key_until = 1800000060;
	g_assert_true(ah_persist_save(f->path, state, &message));
	loaded = ah_persist_load(f->path, &err, &message);
	g_assert_nonnull(loaded);
	l = g_ptr_array_index(loaded->tenants, 0);
	g_assert_cmpstr(l->signing_key, ==, KEY_A);
	g_assert_cmpstr(l->previous_signing_key, ==, KEY_B);
	g_assert_cmpint(l->previous_signing_key_until, ==, 1800000060);
	ah_persist_state_free(loaded);
	ah_persist_state_free(state);
	write_file(f->path, "{\"version\": 1, \"tenants\": [{\"tenant\": \"a\", \"max_participants\": 1, \"secret\": \"s\"}], "
		"\"rooms\": []}");
	loaded = ah_persist_load(f->path, &err, &message);
	g_assert_nonnull(loaded);
	g_assert_null(((ah_persist_tenant *)g_ptr_array_index(loaded->tenants, 0))->signing_key);
	ah_persist_state_free(loaded);
	write_file(f->path, "{\"version\": 2, \"tenants\": [{\"tenant\": \"a\", \"max_participants\": 1, \"secret\": \"s\"}], "
		"\"rooms\": []}");
	expect_load_error(f->path, AH_ERR_MISSING_ELEMENT, "signing_key");
	write_file(f->path, "{\"version\": 2, \"tenants\": [{\"tenant\": \"a\", \"max_participants\": 1, \"secret\": \"s\", "
		"\"signing_key\": \"" KEY_A "\", \"previous_signing_key\": \"" KEY_B "\"}], \"rooms\": []}");
	expect_load_error(f->path, AH_ERR_INVALID_ELEMENT, "both or neither");
	write_file(f->path, "{\"version\": 2, \"tenants\": [{\"tenant\": \"a\", \"max_participants\": 1, \"secret\": \"s\", "
		"\"signing_key\": \"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\"}], \"rooms\": []}");
	expect_load_error(f->path, AH_ERR_INVALID_ELEMENT, "signing_key");
}

static void test_json_shape(fixture *f, gconstpointer data)
{
	ah_persist_state *state = sample_state();
	json_t *root = ah_persist_to_json(state);
	json_t *rooms = json_object_get(root, "rooms");
	g_assert_cmpint(json_integer_value(json_object_get(root, "version")), ==, AH_PERSIST_VERSION);
	g_assert_cmpuint(json_array_size(json_object_get(root, "tenants")), ==, 2);
	g_assert_cmpuint(json_array_size(rooms), ==, 3);
	g_assert_nonnull(json_object_get(json_array_get(rooms, 0), "pin"));
	g_assert_null(json_object_get(json_array_get(rooms, 1), "pin"));
	json_decref(root);
	ah_persist_state_free(state);
}

static void test_missing_file(fixture *f, gconstpointer data)
{
	char *message = NULL;
	ah_error err = AH_ERR_INTERNAL;
	ah_persist_state *state = ah_persist_load(f->path, &err, &message);
	g_assert_nonnull(state);
	g_assert_cmpint(err, ==, AH_ERR_OK);
	g_assert_null(message);
	g_assert_cmpuint(state->tenants->len, ==, 0);
	g_assert_cmpuint(state->rooms->len, ==, 0);
	g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
	ah_persist_state_free(state);
}

static void test_truncated(fixture *f, gconstpointer data)
{
	ah_persist_state *state = sample_state();
	char *message = NULL, *text;
	g_assert_true(ah_persist_save(f->path, state, &message));
	text = read_file(f->path);
	/* Cut inside the first secret: the message must not quote what is near the cut. */
	*(strstr(text, "acme-secret") + 6) = '\0';
	write_file(f->path, text);
	expect_load_error(f->path, AH_ERR_INVALID_JSON, "not valid JSON");
	ah_persist_load(f->path, &(ah_error){ 0 }, &message);
	g_assert_null(strstr(message, "acme-s"));
	g_free(message);
	g_free(text);
	ah_persist_state_free(state);
}

static void test_corrupt(fixture *f, gconstpointer data)
{
	write_file(f->path, "");
	expect_load_error(f->path, AH_ERR_INVALID_JSON, "not valid JSON");
	write_file(f->path, "{\"version\": 1, \"tenants\": [], \"rooms\": []} trailing");
	expect_load_error(f->path, AH_ERR_INVALID_JSON, NULL);
	write_file(f->path, "\x7f\x45\x4c\x46 binary");
	expect_load_error(f->path, AH_ERR_INVALID_JSON, NULL);
	write_file(f->path, "{\"version\": 1, \"version\": 1, \"tenants\": [], \"rooms\": []}");
	expect_load_error(f->path, AH_ERR_INVALID_JSON, NULL);
	write_file(f->path, "[1, 2]");
	expect_load_error(f->path, AH_ERR_INVALID_ELEMENT, NULL);
}

/* Save `state` to the fixture's file and load it back (which must succeed). */
static ah_persist_state *save_and_load(fixture *f, const ah_persist_state *state)
{
	char *message = NULL;
	ah_error err = AH_ERR_INTERNAL;
	ah_persist_state *loaded;
	g_assert_true(ah_persist_save(f->path, state, &message));
	loaded = ah_persist_load(f->path, &err, &message);
	g_assert_nonnull(loaded);
	g_assert_null(message);
	g_assert_cmpint(err, ==, AH_ERR_OK);
	return loaded;
}

/* weight, reserved, max_queued, presenter_seats and priority_secret survive a save and a load. */
static void test_round_trip_share(fixture *f, gconstpointer data)
{
	ah_persist_state *state = sample_state(), *loaded;
	ah_persist_tenant *t;
	ah_persist_room *r;
	t = g_ptr_array_index(state->tenants, 0);
	g_assert_cmpuint(t->weight, ==, 1);
	g_assert_cmpuint(t->reserved, ==, 0);
	g_assert_cmpuint(t->max_queued, ==, 0);
	t->weight = AH_WEIGHT_MAX;
	t->reserved = 3;
	t->max_queued = 40;
	r = g_ptr_array_index(state->rooms, 0);
	g_assert_cmpuint(r->presenter_seats, ==, AH_PRESENTER_SEATS_DEFAULT);
	g_assert_null(r->priority_secret);
	r->presenter_seats = 0;
	r->priority_secret = g_strdup("vip");
	loaded = save_and_load(f, state);
	t = g_ptr_array_index(loaded->tenants, 0);
	g_assert_cmpuint(t->weight, ==, AH_WEIGHT_MAX);
	g_assert_cmpuint(t->reserved, ==, 3);
	g_assert_cmpuint(t->max_queued, ==, 40);
	t = g_ptr_array_index(loaded->tenants, 1);
	g_assert_cmpuint(t->weight, ==, 1);
	g_assert_cmpuint(t->reserved, ==, 0);
	g_assert_cmpuint(t->max_queued, ==, 0);
	r = g_ptr_array_index(loaded->rooms, 0);
	g_assert_cmpuint(r->presenter_seats, ==, 0);
	g_assert_cmpstr(r->priority_secret, ==, "vip");
	r = g_ptr_array_index(loaded->rooms, 1);
	g_assert_cmpuint(r->presenter_seats, ==, AH_PRESENTER_SEATS_DEFAULT);
	g_assert_null(r->priority_secret);
	ah_persist_state_free(loaded);
	ah_persist_state_free(state);
}

/* A secret rotation (previous_secret and its end) and a room's token policy survive a save and a
 * load; absent, they are "no rotation" and "off". */
static void test_round_trip_tokens(fixture *f, gconstpointer data)
{
	ah_persist_state *state = sample_state(), *loaded, *reloaded;
	ah_persist_tenant *t;
	ah_persist_room *r;
	t = g_ptr_array_index(state->tenants, 0);
	g_assert_null(t->previous_secret);
	t->previous_secret = g_strdup("old-secret");
	t->previous_secret_until = 1800000060;
	r = g_ptr_array_index(state->rooms, 0);
	g_assert_cmpint(r->tokens, ==, AH_TOKENS_OFF);
	r->tokens = AH_TOKENS_REQUIRED;
	loaded = save_and_load(f, state);
	t = g_ptr_array_index(loaded->tenants, 0);
	g_assert_cmpstr(t->previous_secret, ==, "old-secret");
	g_assert_cmpint(t->previous_secret_until, ==, 1800000060);
	t = g_ptr_array_index(loaded->tenants, 1);
	g_assert_null(t->previous_secret);
	g_assert_cmpint(t->previous_secret_until, ==, 0);
	r = g_ptr_array_index(loaded->rooms, 0);
	g_assert_cmpint(r->tokens, ==, AH_TOKENS_REQUIRED);
	r = g_ptr_array_index(loaded->rooms, 1);
	g_assert_cmpint(r->tokens, ==, AH_TOKENS_OFF);
	r->tokens = AH_TOKENS_OPTIONAL;
	reloaded = save_and_load(f, loaded);
	g_assert_cmpint(((ah_persist_room *)g_ptr_array_index(reloaded->rooms, 1))->tokens, ==, AH_TOKENS_OPTIONAL);
	ah_persist_state_free(reloaded);
	ah_persist_state_free(loaded);
	ah_persist_state_free(state);
}

/* A room's video_layer survives a save and a load; absent (an older file), it is high. */
static void test_round_trip_video_layer(fixture *f, gconstpointer data)
{
	ah_persist_state *state = sample_state(), *loaded, *reloaded;
	ah_persist_room *r = g_ptr_array_index(state->rooms, 0);
	char *message = NULL;
	ah_error err = AH_ERR_INTERNAL;
	g_assert_cmpint(r->video_layer, ==, AH_SIM_HIGH);
	r->video_layer = AH_SIM_LOW;
	loaded = save_and_load(f, state);
	g_assert_cmpint(((ah_persist_room *)g_ptr_array_index(loaded->rooms, 0))->video_layer, ==, AH_SIM_LOW);
	r = g_ptr_array_index(loaded->rooms, 1);
	g_assert_cmpint(r->video_layer, ==, AH_SIM_HIGH);
	r->video_layer = AH_SIM_MEDIUM;
	reloaded = save_and_load(f, loaded);
	g_assert_cmpint(((ah_persist_room *)g_ptr_array_index(reloaded->rooms, 1))->video_layer, ==, AH_SIM_MEDIUM);
	ah_persist_state_free(reloaded);
	ah_persist_state_free(loaded);
	ah_persist_state_free(state);
	write_file(f->path, "{\"version\": 1, \"tenants\": [{\"tenant\": \"a\", \"max_participants\": 1, "
		"\"secret\": \"s\"}], \"rooms\": [{\"tenant\": \"a\", \"room\": \"r\", \"max_attendees\": 1, "
		"\"presenter_secret\": \"p\"}]}");
	loaded = ah_persist_load(f->path, &err, &message);
	g_assert_nonnull(loaded);
	g_assert_cmpint(((ah_persist_room *)g_ptr_array_index(loaded->rooms, 0))->video_layer, ==, AH_SIM_HIGH);
	ah_persist_state_free(loaded);
}

/* A file written before issue 4 has none of them: the defaults. */
static void test_old_file_defaults(fixture *f, gconstpointer data)
{
	char *message = NULL;
	ah_error err = AH_ERR_INTERNAL;
	ah_persist_state *loaded;
	const ah_persist_tenant *t;
	const ah_persist_room *r;
	write_file(f->path, "{\"version\": 1, \"tenants\": [{\"tenant\": \"a\", \"max_participants\": 1, "
		"\"secret\": \"s\"}], \"rooms\": [{\"tenant\": \"a\", \"room\": \"r\", \"max_attendees\": 1, "
		"\"presenter_secret\": \"p\"}]}");
	loaded = ah_persist_load(f->path, &err, &message);
	g_assert_nonnull(loaded);
	g_assert_null(message);
	t = g_ptr_array_index(loaded->tenants, 0);
	g_assert_cmpuint(t->weight, ==, 1);
	g_assert_cmpuint(t->reserved, ==, 0);
	g_assert_cmpuint(t->max_queued, ==, 0);
	r = g_ptr_array_index(loaded->rooms, 0);
	g_assert_cmpuint(r->presenter_seats, ==, AH_PRESENTER_SEATS_DEFAULT);
	g_assert_null(r->priority_secret);
	ah_persist_state_free(loaded);
}

static void test_wrong_version(fixture *f, gconstpointer data)
{
	write_file(f->path, "{\"version\": 3, \"tenants\": [], \"rooms\": []}");
	expect_load_error(f->path, AH_ERR_INVALID_ELEMENT, "version: 3 is not supported");
	write_file(f->path, "{\"version\": 0, \"tenants\": [], \"rooms\": []}");
	expect_load_error(f->path, AH_ERR_INVALID_ELEMENT, "version: 0 is not supported");
	write_file(f->path, "{\"version\": \"1\", \"tenants\": [], \"rooms\": []}");
	expect_load_error(f->path, AH_ERR_INVALID_ELEMENT, "version");
	write_file(f->path, "{\"tenants\": [], \"rooms\": []}");
	expect_load_error(f->path, AH_ERR_MISSING_ELEMENT, "missing element (version)");
}

/* Files whose rows are wrong (single quotes stand for double quotes). */
#define TENANT_A "{'tenant': 'a', 'max_participants': 1, 'secret': 's'}"
#define ROOM_A_R "{'tenant': 'a', 'room': 'r', 'max_attendees': 1, 'presenter_secret': 'p'}"
static const struct {
	ah_error err;
	const char *fragment;
	const char *tenants;
	const char *rooms;
} bad_rows[] = {
	{ AH_ERR_INVALID_ELEMENT, "tenants: must be an array", "{}", "[]" },
	{ AH_ERR_MISSING_ELEMENT, "tenants[0]: missing element (secret)",
		"[{'tenant': 'a', 'max_participants': 1}]", "[]" },
	{ AH_ERR_INVALID_ELEMENT, "tenants[0]: invalid element (tenant",
		"[{'tenant': 'a b', 'max_participants': 1, 'secret': 's'}]", "[]" },
	{ AH_ERR_INVALID_ELEMENT, "max_participants: must be an integer 0..1000000",
		"[{'tenant': 'a', 'max_participants': -1, 'secret': 's'}]", "[]" },
	{ AH_ERR_INVALID_ELEMENT, "secret", "[{'tenant': 'a', 'max_participants': 1, 'secret': ''}]", "[]" },
	{ AH_ERR_TENANT_EXISTS, "tenants[1]: tenant a appears twice", "[" TENANT_A ", " TENANT_A "]", "[]" },
	{ AH_ERR_NO_SUCH_TENANT, "rooms[0]", "[]", "[" ROOM_A_R "]" },
	{ AH_ERR_ROOM_EXISTS, "rooms[1]", "[" TENANT_A "]", "[" ROOM_A_R ", " ROOM_A_R "]" },
	{ AH_ERR_INVALID_ELEMENT, "max_attendees", "[" TENANT_A "]",
		"[{'tenant': 'a', 'room': 'r', 'max_attendees': 1.5, 'presenter_secret': 'p'}]" },
	{ AH_ERR_MISSING_ELEMENT, "presenter_secret", "[" TENANT_A "]",
		"[{'tenant': 'a', 'room': 'r', 'max_attendees': 1}]" },
	{ AH_ERR_INVALID_ELEMENT, "pin", "[" TENANT_A "]",
		"[{'tenant': 'a', 'room': 'r', 'max_attendees': 1, 'presenter_secret': 'p', 'pin': 1234}]" },
	{ AH_ERR_INVALID_ELEMENT, "rooms[0]", "[" TENANT_A "]", "[17]" },
	/* The fair-admission fields (issue 4). */
	{ AH_ERR_INVALID_ELEMENT, "tenants[0]: invalid element (weight",
		"[{'tenant': 'a', 'max_participants': 1, 'secret': 's', 'weight': 0}]", "[]" },
	{ AH_ERR_INVALID_ELEMENT, "tenants[0]: invalid element (weight",
		"[{'tenant': 'a', 'max_participants': 1, 'secret': 's', 'weight': 1001}]", "[]" },
	{ AH_ERR_INVALID_ELEMENT, "reserved",
		"[{'tenant': 'a', 'max_participants': 1, 'secret': 's', 'reserved': -1}]", "[]" },
	{ AH_ERR_INVALID_ELEMENT, "max_queued",
		"[{'tenant': 'a', 'max_participants': 1, 'secret': 's', 'max_queued': 'many'}]", "[]" },
	{ AH_ERR_INVALID_ELEMENT, "presenter_seats", "[" TENANT_A "]",
		"[{'tenant': 'a', 'room': 'r', 'max_attendees': 1, 'presenter_secret': 'p', 'presenter_seats': 1001}]" },
	{ AH_ERR_INVALID_ELEMENT, "priority_secret", "[" TENANT_A "]",
		"[{'tenant': 'a', 'room': 'r', 'max_attendees': 1, 'presenter_secret': 'p', 'priority_secret': ''}]" },
	/* Join tokens (issue 6). */
	{ AH_ERR_INVALID_ELEMENT, "rooms[0]: invalid element (tokens", "[" TENANT_A "]",
		"[{'tenant': 'a', 'room': 'r', 'max_attendees': 1, 'presenter_secret': 'p', 'tokens': 'on'}]" },
	{ AH_ERR_INVALID_ELEMENT, "rooms[0]: invalid element (tokens", "[" TENANT_A "]",
		"[{'tenant': 'a', 'room': 'r', 'max_attendees': 1, 'presenter_secret': 'p', 'tokens': true}]" },
	/* Simulcast. */
	{ AH_ERR_INVALID_ELEMENT, "rooms[0]: invalid element (video_layer: must be low, medium or high)", "[" TENANT_A "]",
		"[{'tenant': 'a', 'room': 'r', 'max_attendees': 1, 'presenter_secret': 'p', 'video_layer': 'max'}]" },
	{ AH_ERR_INVALID_ELEMENT, "rooms[0]: invalid element (video_layer", "[" TENANT_A "]",
		"[{'tenant': 'a', 'room': 'r', 'max_attendees': 1, 'presenter_secret': 'p', 'video_layer': 1}]" },
	{ AH_ERR_INVALID_ELEMENT, "tenants[0]: invalid element (previous_secret and previous_secret_until",
		"[{'tenant': 'a', 'max_participants': 1, 'secret': 's', 'previous_secret': 'o'}]", "[]" },
	{ AH_ERR_INVALID_ELEMENT, "tenants[0]: invalid element (previous_secret and previous_secret_until",
		"[{'tenant': 'a', 'max_participants': 1, 'secret': 's', 'previous_secret_until': 5}]", "[]" },
	{ AH_ERR_INVALID_ELEMENT, "tenants[0]: invalid element (previous_secret",
		"[{'tenant': 'a', 'max_participants': 1, 'secret': 's', 'previous_secret': '', 'previous_secret_until': 5}]", "[]" },
	{ AH_ERR_INVALID_ELEMENT, "tenants[0]: invalid element (previous_secret_until",
		"[{'tenant': 'a', 'max_participants': 1, 'secret': 's', 'previous_secret': 'o', 'previous_secret_until': -1}]", "[]" },
};

static void test_invalid_rows(fixture *f, gconstpointer data)
{
	for (guint i = 0; i < G_N_ELEMENTS(bad_rows); i++) {
		char *text = g_strdup_printf("{'version': 1, 'tenants': %s, 'rooms': %s}", bad_rows[i].tenants,
			bad_rows[i].rooms);
		g_strdelimit(text, "'", '"');
		write_file(f->path, text);
		expect_load_error(f->path, bad_rows[i].err, bad_rows[i].fragment);
		g_free(text);
	}
}

static void test_unreadable(fixture *f, gconstpointer data)
{
	/* A folder where the file should be: exists, cannot be read as a file. */
	g_assert_cmpint(g_mkdir(f->path, 0700), ==, 0);
	expect_load_error(f->path, AH_ERR_PERSIST_FAILED, NULL);
}

static void test_unwritable_path(fixture *f, gconstpointer data)
{
	ah_persist_state *state = sample_state();
	char *path = g_build_filename(f->dir, "no-such-folder", "state.json", NULL), *message = NULL;
	g_assert_false(ah_persist_save(path, state, &message));
	g_assert_nonnull(message);
	g_assert_nonnull(strstr(message, path));
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_free(message);
	g_free(path);
	ah_persist_state_free(state);
}

static void test_failed_save_keeps_old(fixture *f, gconstpointer data)
{
	ah_persist_state *state = ah_persist_state_new(), *big = sample_state(), *loaded;
	char *message = NULL, *before, *after;
	struct rlimit old_limit, limit;
	void (*old_handler)(int);
	gboolean ok;
	ah_error err;
	add_tenant(state, "solo", "", 1, "x");
	g_assert_true(ah_persist_save(f->path, state, &message));
	before = read_file(f->path);
	/* Make the write fail half-way (as a full disk would): files may not grow past 64 bytes. Even
	 * root cannot bypass RLIMIT_FSIZE, unlike permissions. */
	g_assert_cmpint(getrlimit(RLIMIT_FSIZE, &old_limit), ==, 0);
	limit = old_limit;
	limit.rlim_cur = 64;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &limit), ==, 0);
	ok = ah_persist_save(f->path, big, &message);
	g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &old_limit), ==, 0);
	signal(SIGXFSZ, old_handler);
	g_assert_false(ok);
	g_assert_nonnull(message);
	g_free(message);
	after = read_file(f->path);
	g_assert_cmpstr(after, ==, before);
	g_assert_cmpuint(tmpdir_count(f->dir), ==, 1);
	loaded = ah_persist_load(f->path, &err, &message);
	g_assert_nonnull(loaded);
	g_assert_cmpuint(loaded->tenants->len, ==, 1);
	ah_persist_state_free(loaded);
	g_free(before);
	g_free(after);
	ah_persist_state_free(state);
	ah_persist_state_free(big);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, fixture, NULL, setup, fn, teardown)
	ADD("/persist/save/round-trip", test_round_trip);
	ADD("/persist/save/json-shape", test_json_shape);
	ADD("/persist/save/round-trip-share", test_round_trip_share);
	ADD("/persist/save/round-trip-tokens", test_round_trip_tokens);
	ADD("/persist/save/round-trip-video-layer", test_round_trip_video_layer);
	ADD("/persist/load/old-file-defaults", test_old_file_defaults);
	ADD("/persist/load/missing-file-is-empty", test_missing_file);
	ADD("/persist/load/truncated", test_truncated);
	ADD("/persist/load/corrupt-json", test_corrupt);
	ADD("/persist/load/wrong-version", test_wrong_version);
	ADD("/persist/load/signing-keys", test_signing_keys);
	ADD("/persist/load/invalid-rows", test_invalid_rows);
	ADD("/persist/load/unreadable", test_unreadable);
	ADD("/persist/save/unwritable-path", test_unwritable_path);
	ADD("/persist/save/failure-keeps-old-file", test_failed_save_keeps_old);
#undef ADD
	return g_test_run();
}
