/* allhands: the shared fixture of the engine scenario tests (test-engine*.c): an engine with a
 * hand clock and a temporary state file, and helpers that drive its entry points and inspect the
 * outs. Every test's teardown also checks that no reply, event or notification carried a secret.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef AH_TEST_ENGINE_FIXTURE_H
#define AH_TEST_ENGINE_FIXTURE_H
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "allhands/engine.h"
#include "allhands/persist-writer.h"

#define SEC G_GINT64_CONSTANT(1000000)
#define MS G_GINT64_CONSTANT(1000)

typedef struct {
	ah_engine *engine;
	ah_engine_config config;
	GPtrArray *outs;  /* of the current step */
	GPtrArray *keep;  /* json_t* replies the test looked at (freed at teardown) */
	gint64 now;
	char *dir;
	char *path;
} fixture;

/* The last two: join-token tests' rotated secret, and the header every libjwt HS256 token starts
 * with (so no token is ever echoed). */
static G_GNUC_UNUSED const char *const secrets[] = { "acme-tenant-secret", "s3cret-presenter", "pin-4321", "op-key", "globex-tenant-secret", "g-s3cret",
	"vip-pass", "acme-rotated-secret", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" };

static G_GNUC_UNUSED const ah_stream_desc av[] = {
	{ AH_MEDIA_AUDIO, 0, "opus", "" },
	{ AH_MEDIA_VIDEO, 1, "vp8", "" },
};
static G_GNUC_UNUSED const ah_stream_desc video_only[] = {
	{ AH_MEDIA_VIDEO, 0, "h264", "profile-level-id=42e01f;packetization-mode=1" },
};

/* --- plumbing */

static G_GNUC_UNUSED void assert_no_secret(const json_t *body)
{
	char *text;
	if (body == NULL)
		return;
	text = json_dumps(body, JSON_COMPACT);
	for (guint i = 0; i < G_N_ELEMENTS(secrets); i++)
		if (strstr(text, secrets[i]) != NULL)
			g_assert_cmpstr(text, ==, "a body without secrets");
	free(text);
}

static G_GNUC_UNUSED void clear(fixture *f)
{
	for (guint i = 0; i < f->outs->len; i++)
		assert_no_secret(((ah_out *)g_ptr_array_index(f->outs, i))->body);
	g_ptr_array_set_size(f->outs, 0);
}

static G_GNUC_UNUSED ah_engine *engine_new(const ah_engine_config *config)
{
	ah_error err = AH_ERR_INTERNAL;
	char *message = NULL;
	ah_engine *engine = ah_engine_new(config, &err, &message);
	g_assert_cmpstr(message, ==, NULL);
	g_assert_cmpint(err, ==, AH_ERR_OK);
	g_assert_nonnull(engine);
	return engine;
}

/* Write what the engine handed its state file's writer (the plugin's writer thread does this). */
static G_GNUC_UNUSED void flush_state(fixture *f)
{
	char *why = NULL;
	ah_persist_writer *writer = ah_engine_persist_writer(f->engine);
	if (writer != NULL)
		ah_persist_writer_flush(writer, &why);
	g_free(why);
}

/* A state file with `text` makes the engine refuse to start, with a message, and is left as it was. */
static G_GNUC_UNUSED void assert_state_file_refused(fixture *f, const char *text)
{
	ah_error err = AH_ERR_OK;
	char *message = NULL, *after = NULL;
	g_assert_true(g_file_set_contents(f->path, text, -1, NULL));
	g_assert_null(ah_engine_new(&f->config, &err, &message));
	g_assert_cmpint(err, !=, AH_ERR_OK);
	g_assert_nonnull(message);
	g_free(message);
	g_assert_true(g_file_get_contents(f->path, &after, NULL, NULL));
	g_assert_cmpstr(after, ==, text);
	g_free(after);
}

static G_GNUC_UNUSED void setup(fixture *f, gconstpointer data)
{
	GError *error = NULL;
	f->dir = g_dir_make_tmp("ah-engine-XXXXXX", &error);
	g_assert_no_error(error);
	f->path = g_build_filename(f->dir, "state.json", NULL);
	f->config.state_path = f->path;
	f->config.admin_key = "op-key";
	ah_admission_config_defaults(&f->config.admission);
	f->config.admission.update_interval_us = 100 * MS;
	f->config.admission.capacity = 5;
	f->config.admission.wave_size = 2;
	f->config.admission.wave_interval_us = 1 * SEC;
	f->config.admission.admit_timeout_us = 10 * SEC;
	f->engine = engine_new(&f->config);
	f->outs = g_ptr_array_new_with_free_func(ah_out_free);
	f->keep = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
	f->now = 1000 * SEC;
}

static G_GNUC_UNUSED void teardown(fixture *f, gconstpointer data)
{
	clear(f);
	for (guint i = 0; i < f->keep->len; i++)
		assert_no_secret(g_ptr_array_index(f->keep, i));
	g_ptr_array_unref(f->keep);
	g_ptr_array_unref(f->outs);
	ah_engine_free(f->engine);
	g_unlink(f->path);
	g_rmdir(f->dir);
	g_free(f->path);
	g_free(f->dir);
}

/* JSON from a literal written with single quotes. */
static G_GNUC_UNUSED json_t *parse(const char *text)
{
	char *copy = g_strdup(text);
	json_error_t error;
	json_t *json;
	g_strdelimit(copy, "'", '"');
	json = json_loads(copy, JSON_DECODE_ANY, &error);
	if (json == NULL)
		g_assert_cmpstr(error.text, ==, copy);
	g_free(copy);
	return json;
}

static G_GNUC_UNUSED json_t *keep(fixture *f, json_t *json)
{
	g_ptr_array_add(f->keep, json);
	return json;
}

static G_GNUC_UNUSED json_t *admin(fixture *f, const char *text)
{
	json_t *message = text != NULL ? parse(text) : NULL;
	json_t *reply = ah_engine_admin_message(f->engine, message, f->now, f->outs);
	if (message != NULL)
		json_decref(message);
	g_assert_nonnull(reply);
	return keep(f, reply);
}

/* Send on handle `conn`: exactly one REPLY comes out, first. Returns its body. */
static G_GNUC_UNUSED json_t *send_jsep(fixture *f, guint64 conn, const char *text, const char *jsep,
	const ah_stream_desc *streams, guint n)
{
	guint start = f->outs->len, replies = 0;
	json_t *message = text != NULL ? parse(text) : NULL;
	ah_out *reply;
	ah_engine_handle_message(f->engine, conn, message, jsep, streams, n, f->now, f->outs);
	if (message != NULL)
		json_decref(message);
	g_assert_cmpuint(f->outs->len, >, start);
	reply = g_ptr_array_index(f->outs, start);
	g_assert_cmpint(reply->kind, ==, AH_OUT_REPLY);
	g_assert_cmpuint(reply->conn, ==, conn);
	for (guint i = start; i < f->outs->len; i++)
		replies += ((ah_out *)g_ptr_array_index(f->outs, i))->kind == AH_OUT_REPLY;
	g_assert_cmpuint(replies, ==, 1);
	return keep(f, json_incref(reply->body));
}

static G_GNUC_UNUSED json_t *send(fixture *f, guint64 conn, const char *text)
{
	return send_jsep(f, conn, text, NULL, NULL, 0);
}

/* The JSEP attached to the latest reply. */
static G_GNUC_UNUSED ah_jsep_kind reply_jsep(fixture *f)
{
	for (guint i = f->outs->len; i-- > 0;) {
		ah_out *out = g_ptr_array_index(f->outs, i);
		if (out->kind == AH_OUT_REPLY)
			return out->jsep;
	}
	return AH_JSEP_NONE;
}

static G_GNUC_UNUSED const char *str(const json_t *object, const char *key)
{
	return json_string_value(json_object_get(object, key));
}

static G_GNUC_UNUSED json_int_t num(const json_t *object, const char *key)
{
	const json_t *value = json_object_get(object, key);
	g_assert_true(json_is_integer(value));
	return json_integer_value(value);
}

static G_GNUC_UNUSED void assert_error(const json_t *body, ah_error err)
{
	g_assert_cmpstr(str(body, "error_name"), ==, ah_error_name(err));
	g_assert_cmpint(num(body, "error_code"), ==, ah_error_code(err));
	g_assert_cmpstr(str(body, "allhands"), ==, "event");
	g_assert_nonnull(str(body, "error"));
}

static G_GNUC_UNUSED void assert_success(const json_t *body)
{
	if (json_object_get(body, "error_code") != NULL)
		g_assert_cmpstr(str(body, "error"), ==, NULL);
	g_assert_cmpstr(str(body, "allhands"), ==, "success");
}

static G_GNUC_UNUSED void assert_event(const json_t *body, const char *event)
{
	if (json_object_get(body, "error_code") != NULL)
		g_assert_cmpstr(str(body, "error"), ==, NULL);
	g_assert_cmpstr(str(body, "allhands"), ==, "event");
	g_assert_cmpstr(str(body, "event"), ==, event);
}

/* Outs of `kind` to `conn` (0: any) whose body's "event" is `event` (NULL: any). */
static G_GNUC_UNUSED guint count(fixture *f, ah_out_kind kind, guint64 conn, const char *event)
{
	guint n = 0;
	for (guint i = 0; i < f->outs->len; i++) {
		ah_out *out = g_ptr_array_index(f->outs, i);
		if (out->kind == kind && (conn == 0 || out->conn == conn) &&
				(event == NULL || g_strcmp0(str(out->body, "event"), event) == 0))
			n++;
	}
	return n;
}

static G_GNUC_UNUSED ah_out *find(fixture *f, ah_out_kind kind, guint64 conn, const char *event)
{
	for (guint i = 0; i < f->outs->len; i++) {
		ah_out *out = g_ptr_array_index(f->outs, i);
		if (out->kind == kind && (conn == 0 || out->conn == conn) &&
				(event == NULL || g_strcmp0(str(out->body, "event"), event) == 0))
			return out;
	}
	return NULL;
}

/* Index of the first matching out, or -1. */
static G_GNUC_UNUSED int position_of(fixture *f, ah_out_kind kind, guint64 conn)
{
	for (guint i = 0; i < f->outs->len; i++) {
		ah_out *out = g_ptr_array_index(f->outs, i);
		if (out->kind == kind && out->conn == conn)
			return i;
	}
	return -1;
}

/* The routes from presenter_conn to attendee_conn (0: to anyone). Seen from the receiver's side
 * (ah_engine_receiver_routes, what a RECEIVER_ROUTES patch uses) they must be the same ones. */
static G_GNUC_UNUSED guint n_routes(fixture *f, guint64 presenter_conn, guint64 attendee_conn)
{
	GArray *routes = g_array_new(FALSE, FALSE, sizeof(ah_route));
	guint n = 0;
	ah_engine_routes(f->engine, presenter_conn, routes);
	for (guint i = 0; i < routes->len; i++) {
		const ah_route *r = &g_array_index(routes, ah_route, i);
		g_assert_cmpuint(r->presenter_conn, ==, presenter_conn);
		if (attendee_conn != 0 && r->attendee_conn != attendee_conn)
			continue;
		n++;
		GArray *mine = g_array_new(FALSE, FALSE, sizeof(ah_route));
		gboolean found = FALSE;
		ah_engine_receiver_routes(f->engine, r->attendee_conn, mine);
		for (guint j = 0; j < mine->len; j++)
			found = found || memcmp(&g_array_index(mine, ah_route, j), r, sizeof(*r)) == 0;
		g_assert_true(found);
		g_array_unref(mine);
	}
	g_array_unref(routes);
	if (attendee_conn != 0) {
		guint from_receiver = 0;
		routes = g_array_new(FALSE, FALSE, sizeof(ah_route));
		ah_engine_receiver_routes(f->engine, attendee_conn, routes);
		for (guint i = 0; i < routes->len; i++)
			from_receiver += g_array_index(routes, ah_route, i).presenter_conn == presenter_conn;
		g_array_unref(routes);
		g_assert_cmpuint(from_receiver, ==, n);
	}
	return n;
}

static G_GNUC_UNUSED void tick(fixture *f)
{
	if (ah_engine_next_deadline(f->engine, f->now) <= f->now)
		ah_engine_tick(f->engine, f->now, f->outs);
}

/* Node counts from `status`. */
static G_GNUC_UNUSED json_int_t node_count(fixture *f, const char *which)
{
	json_t *reply = admin(f, "{'request': 'status'}");
	return num(json_object_get(json_object_get(reply, "node"), "counts"), which);
}

/* --- scenario building blocks */

static G_GNUC_UNUSED void make_rooms(fixture *f)
{
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'name': 'Acme', "
		"'max_participants': 100, 'secret': 'acme-tenant-secret'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'allhands', "
		"'max_attendees': 100, 'presenter_secret': 's3cret-presenter'}"));
	/* globex has no seat at all: every presenter join there is tenant_full. */
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'globex', 'max_participants': 0, "
		"'secret': 'globex-tenant-secret'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'globex', 'room': 'standup', "
		"'max_attendees': 10, 'pin': 'pin-4321', 'presenter_secret': 'g-s3cret'}"));
	clear(f);
}

static G_GNUC_UNUSED json_t *join_attendee(fixture *f, guint64 conn)
{
	return send(f, conn, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'display': 'Ann'}");
}

static G_GNUC_UNUSED json_t *join_presenter(fixture *f, guint64 conn)
{
	json_t *reply = send(f, conn, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'ptype': 'presenter', 'display': 'CEO', 'presenter_secret': 's3cret-presenter'}");
	assert_event(reply, "joined");
	return reply;
}

static G_GNUC_UNUSED void publish(fixture *f, guint64 conn, const ah_stream_desc *streams, guint n)
{
	json_t *reply = send_jsep(f, conn, "{'request': 'publish'}", "offer", streams, n);
	assert_event(reply, "published");
	g_assert_cmpint(reply_jsep(f), ==, AH_JSEP_ANSWER);
}

static G_GNUC_UNUSED void start(fixture *f, guint64 conn)
{
	assert_event(send_jsep(f, conn, "{'request': 'start'}", "answer", NULL, 0), "started");
}

/* An admitted attendee answers and its PeerConnection comes up. */
static G_GNUC_UNUSED void connect(fixture *f, guint64 conn)
{
	start(f, conn);
	ah_engine_media_up(f->engine, conn, f->now, f->outs);
}

static G_GNUC_UNUSED const ah_slot *slots(fixture *f, guint64 conn, guint *n)
{
	return ah_engine_slots(f->engine, conn, n);
}


/* --- admin CRUD */

#define ADD(path, fn) g_test_add(path, fixture, NULL, setup, fn, teardown)

#endif
