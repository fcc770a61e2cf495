/* allhands: scenario tests of the engine (plugin/core/engine.c, requests.c) driven through its
 * public entry points with a hand clock, inspecting the outs it produces.
 *
 * Every test's teardown also checks that no reply, event or notification carried a secret.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "allhands/engine.h"

#define SEC G_GINT64_CONSTANT(1000000)

typedef struct {
	ah_engine *engine;
	ah_engine_config config;
	GPtrArray *outs;  /* of the current step */
	GPtrArray *keep;  /* json_t* replies the test looked at (freed at teardown) */
	gint64 now;
	char *dir;
	char *path;
} fixture;

static const char *const secrets[] = { "acme-secret", "s3cret", "pin-4321", "op-key", "globex-secret", "g-s3cret" };

static const ah_stream_desc av[] = {
	{ AH_MEDIA_AUDIO, 0, "opus", "" },
	{ AH_MEDIA_VIDEO, 1, "vp8", "" },
};
static const ah_stream_desc video_only[] = {
	{ AH_MEDIA_VIDEO, 0, "h264", "profile-level-id=42e01f;packetization-mode=1" },
};

/* --- plumbing */

static void assert_no_secret(const json_t *body)
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

static void clear(fixture *f)
{
	for (guint i = 0; i < f->outs->len; i++)
		assert_no_secret(((ah_out *)g_ptr_array_index(f->outs, i))->body);
	g_ptr_array_set_size(f->outs, 0);
}

static ah_engine *engine_new(const ah_engine_config *config)
{
	ah_error err = AH_ERR_INTERNAL;
	char *message = NULL;
	ah_engine *engine = ah_engine_new(config, &err, &message);
	g_assert_cmpstr(message, ==, NULL);
	g_assert_cmpint(err, ==, AH_ERR_OK);
	g_assert_nonnull(engine);
	return engine;
}

static void setup(fixture *f, gconstpointer data)
{
	GError *error = NULL;
	f->dir = g_dir_make_tmp("ah-engine-XXXXXX", &error);
	g_assert_no_error(error);
	f->path = g_build_filename(f->dir, "state.json", NULL);
	f->config.state_path = f->path;
	f->config.admin_key = "op-key";
	f->config.admission.capacity = 5;
	f->config.admission.wave_size = 2;
	f->config.admission.wave_interval_us = 1 * SEC;
	f->config.admission.admit_timeout_us = 10 * SEC;
	f->engine = engine_new(&f->config);
	f->outs = g_ptr_array_new_with_free_func(ah_out_free);
	f->keep = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
	f->now = 1000 * SEC;
}

static void teardown(fixture *f, gconstpointer data)
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
static json_t *parse(const char *text)
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

static json_t *keep(fixture *f, json_t *json)
{
	g_ptr_array_add(f->keep, json);
	return json;
}

static json_t *admin(fixture *f, const char *text)
{
	json_t *message = text != NULL ? parse(text) : NULL;
	json_t *reply = ah_engine_admin_message(f->engine, message, f->now, f->outs);
	if (message != NULL)
		json_decref(message);
	g_assert_nonnull(reply);
	return keep(f, reply);
}

/* Send on handle `conn`: exactly one REPLY comes out, first. Returns its body. */
static json_t *send_jsep(fixture *f, guint64 conn, const char *text, const char *jsep,
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

static json_t *send(fixture *f, guint64 conn, const char *text)
{
	return send_jsep(f, conn, text, NULL, NULL, 0);
}

/* The JSEP attached to the latest reply. */
static ah_jsep_kind reply_jsep(fixture *f)
{
	for (guint i = f->outs->len; i-- > 0;) {
		ah_out *out = g_ptr_array_index(f->outs, i);
		if (out->kind == AH_OUT_REPLY)
			return out->jsep;
	}
	return AH_JSEP_NONE;
}

static const char *str(const json_t *object, const char *key)
{
	return json_string_value(json_object_get(object, key));
}

static json_int_t num(const json_t *object, const char *key)
{
	const json_t *value = json_object_get(object, key);
	g_assert_true(json_is_integer(value));
	return json_integer_value(value);
}

static void assert_error(const json_t *body, ah_error err)
{
	g_assert_cmpstr(str(body, "error_name"), ==, ah_error_name(err));
	g_assert_cmpint(num(body, "error_code"), ==, ah_error_code(err));
	g_assert_cmpstr(str(body, "allhands"), ==, "event");
	g_assert_nonnull(str(body, "error"));
}

static void assert_success(const json_t *body)
{
	if (json_object_get(body, "error_code") != NULL)
		g_assert_cmpstr(str(body, "error"), ==, NULL);
	g_assert_cmpstr(str(body, "allhands"), ==, "success");
}

static void assert_event(const json_t *body, const char *event)
{
	if (json_object_get(body, "error_code") != NULL)
		g_assert_cmpstr(str(body, "error"), ==, NULL);
	g_assert_cmpstr(str(body, "allhands"), ==, "event");
	g_assert_cmpstr(str(body, "event"), ==, event);
}

/* Outs of `kind` to `conn` (0: any) whose body's "event" is `event` (NULL: any). */
static guint count(fixture *f, ah_out_kind kind, guint64 conn, const char *event)
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

static ah_out *find(fixture *f, ah_out_kind kind, guint64 conn, const char *event)
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
static int position_of(fixture *f, ah_out_kind kind, guint64 conn)
{
	for (guint i = 0; i < f->outs->len; i++) {
		ah_out *out = g_ptr_array_index(f->outs, i);
		if (out->kind == kind && out->conn == conn)
			return i;
	}
	return -1;
}

static guint n_routes(fixture *f, guint64 presenter_conn, guint64 attendee_conn)
{
	GArray *routes = g_array_new(FALSE, FALSE, sizeof(ah_route));
	guint n = 0;
	ah_engine_routes(f->engine, presenter_conn, routes);
	for (guint i = 0; i < routes->len; i++)
		if (attendee_conn == 0 || g_array_index(routes, ah_route, i).attendee_conn == attendee_conn)
			n++;
	g_array_unref(routes);
	return n;
}

static void tick(fixture *f)
{
	if (ah_engine_next_deadline(f->engine, f->now) <= f->now)
		ah_engine_tick(f->engine, f->now, f->outs);
}

/* Node counts from `status`. */
static json_int_t node_count(fixture *f, const char *which)
{
	json_t *reply = admin(f, "{'request': 'status'}");
	return num(json_object_get(json_object_get(reply, "node"), "counts"), which);
}

/* --- scenario building blocks */

static void make_rooms(fixture *f)
{
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'name': 'Acme', "
		"'max_participants': 100, 'secret': 'acme-secret'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'allhands', "
		"'max_attendees': 100, 'presenter_secret': 's3cret'}"));
	/* globex has no seat at all: every presenter join there is tenant_full. */
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'globex', 'max_participants': 0, "
		"'secret': 'globex-secret'}"));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'globex', 'room': 'standup', "
		"'max_attendees': 10, 'pin': 'pin-4321', 'presenter_secret': 'g-s3cret'}"));
	clear(f);
}

static json_t *join_attendee(fixture *f, guint64 conn)
{
	return send(f, conn, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'display': 'Ann'}");
}

static json_t *join_presenter(fixture *f, guint64 conn)
{
	json_t *reply = send(f, conn, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'ptype': 'presenter', 'display': 'CEO', 'presenter_secret': 's3cret'}");
	assert_event(reply, "joined");
	return reply;
}

static void publish(fixture *f, guint64 conn, const ah_stream_desc *streams, guint n)
{
	json_t *reply = send_jsep(f, conn, "{'request': 'publish'}", "offer", streams, n);
	assert_event(reply, "published");
	g_assert_cmpint(reply_jsep(f), ==, AH_JSEP_ANSWER);
}

static void start(fixture *f, guint64 conn)
{
	assert_event(send_jsep(f, conn, "{'request': 'start'}", "answer", NULL, 0), "started");
}

/* An admitted attendee answers and its PeerConnection comes up. */
static void connect(fixture *f, guint64 conn)
{
	start(f, conn);
	ah_engine_media_up(f->engine, conn, f->now, f->outs);
}

static const ah_slot *slots(fixture *f, guint64 conn, guint *n)
{
	return ah_engine_slots(f->engine, conn, n);
}


/* --- admin CRUD */

static void test_admin_crud(fixture *f, gconstpointer data)
{
	json_t *reply, *room, *tenant;
	make_rooms(f);
	reply = admin(f, "{'request': 'list_tenants'}");
	assert_success(reply);
	g_assert_cmpuint(json_array_size(json_object_get(reply, "tenants")), ==, 2);
	tenant = json_array_get(json_object_get(reply, "tenants"), 0);
	g_assert_cmpstr(str(tenant, "tenant"), ==, "acme");
	g_assert_cmpstr(str(tenant, "name"), ==, "Acme");
	g_assert_cmpint(num(tenant, "max_participants"), ==, 100);
	g_assert_cmpint(num(tenant, "rooms"), ==, 1);
	g_assert_cmpint(num(json_object_get(tenant, "counts"), "admitted"), ==, 0);
	g_assert_null(json_object_get(tenant, "secret"));

	reply = admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'name': 'ACME', 'max_participants': 50}");
	assert_success(reply);
	g_assert_cmpstr(str(json_object_get(reply, "tenant"), "name"), ==, "ACME");
	g_assert_cmpint(num(json_object_get(reply, "tenant"), "max_participants"), ==, 50);

	reply = admin(f, "{'request': 'list_rooms'}");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "rooms")), ==, 2);
	room = json_array_get(json_object_get(reply, "rooms"), 1);
	g_assert_cmpstr(str(room, "tenant"), ==, "globex");
	g_assert_true(json_is_true(json_object_get(room, "pin_required")));
	reply = admin(f, "{'request': 'list_rooms', 'tenant': 'acme'}");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "rooms")), ==, 1);

	reply = admin(f, "{'request': 'edit_room', 'tenant': 'globex', 'room': 'standup', 'pin': '', "
		"'description': 'Daily', 'max_attendees': 3}");
	assert_success(reply);
	room = json_object_get(reply, "room");
	g_assert_true(json_is_false(json_object_get(room, "pin_required")));
	g_assert_cmpstr(str(room, "description"), ==, "Daily");
	g_assert_cmpint(num(room, "max_attendees"), ==, 3);

	reply = admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}");
	room = json_object_get(reply, "room");
	g_assert_cmpuint(json_array_size(json_object_get(room, "presenters")), ==, 0);
	g_assert_cmpuint(json_array_size(json_object_get(room, "attendees")), ==, 0);
	g_assert_cmpuint(json_array_size(json_object_get(room, "queue")), ==, 0);

	assert_success(admin(f, "{'request': 'destroy_room', 'tenant': 'globex', 'room': 'standup'}"));
	assert_error(admin(f, "{'request': 'room_info', 'tenant': 'globex', 'room': 'standup'}"), AH_ERR_NO_SUCH_ROOM);
	assert_success(admin(f, "{'request': 'destroy_tenant', 'tenant': 'globex'}"));
	reply = admin(f, "{'request': 'list_tenants'}");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "tenants")), ==, 1);
	g_assert_cmpuint(count(f, AH_OUT_NOTIFY, 0, "tenant_destroyed"), ==, 1);
	g_assert_cmpuint(count(f, AH_OUT_NOTIFY, 0, "room_destroyed"), ==, 1);
}

static void test_admin_set_capacity(fixture *f, gconstpointer data)
{
	json_t *reply = admin(f, "{'request': 'set_capacity', 'wave_size': 7}"), *node;
	assert_success(reply);
	node = json_object_get(reply, "node");
	g_assert_cmpint(num(node, "wave_size"), ==, 7);
	g_assert_cmpint(num(node, "capacity"), ==, 5);
	g_assert_cmpint(num(node, "wave_interval_ms"), ==, 1000);
	g_assert_cmpint(num(node, "admit_timeout_ms"), ==, 10000);
	g_assert_cmpuint(ah_engine_admission_config(f->engine)->wave_size, ==, 7);
	reply = admin(f, "{'request': 'set_capacity', 'capacity': 9, 'admit_timeout_ms': 100, 'wave_interval_ms': 0}");
	node = json_object_get(reply, "node");
	g_assert_cmpint(num(node, "capacity"), ==, 9);
	g_assert_cmpint(num(node, "admit_timeout_ms"), ==, 100);
	g_assert_cmpint(ah_engine_admission_config(f->engine)->admit_timeout_us, ==, 100000);
	assert_error(admin(f, "{'request': 'set_capacity', 'wave_size': 0}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'set_capacity', 'admit_timeout_ms': 99}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'set_capacity', 'capacity': 1000001}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'set_capacity', 'capacity': 3, "
		"'wave_interval_ms': -1}"), AH_ERR_INVALID_ELEMENT);
	g_assert_cmpuint(ah_engine_admission_config(f->engine)->capacity, ==, 9);
}

/* --- errors: every code a request can reach, and a failed request changes nothing */

enum { VIA_ADMIN_API = 0 };

static const struct {
	guint64 conn;           /* VIA_ADMIN_API or a handle */
	const char *message;    /* NULL: no message at all */
	const char *jsep;
	guint n_streams;
	ah_error err;
} error_cases[] = {
	{ 1, NULL, NULL, 0, AH_ERR_NO_MESSAGE },
	{ VIA_ADMIN_API, NULL, NULL, 0, AH_ERR_NO_MESSAGE },
	{ 1, "[1, 2]", NULL, 0, AH_ERR_INVALID_JSON },
	{ 1, "'join'", NULL, 0, AH_ERR_INVALID_JSON },
	{ 1, "{}", NULL, 0, AH_ERR_MISSING_REQUEST },
	{ VIA_ADMIN_API, "{'tenant': 'acme'}", NULL, 0, AH_ERR_MISSING_REQUEST },
	{ 1, "{'request': 'dance'}", NULL, 0, AH_ERR_UNKNOWN_REQUEST },
	{ VIA_ADMIN_API, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands'}", NULL, 0, AH_ERR_UNKNOWN_REQUEST },
	{ VIA_ADMIN_API, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r2', "
		"'max_attendees': 1}", NULL, 0, AH_ERR_MISSING_ELEMENT },
	{ 1, "{'request': 'join', 'tenant': 'acme'}", NULL, 0, AH_ERR_MISSING_ELEMENT },
	{ VIA_ADMIN_API, "{'request': 'create_tenant', 'tenant': 'x', 'max_participants': -1, "
		"'secret': 's'}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ VIA_ADMIN_API, "{'request': 'create_tenant', 'tenant': 'a b', 'max_participants': 1, "
		"'secret': 's'}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ 1, "{'request': 5}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'ptype': 'boss'}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ 1, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r2', 'max_attendees': 1, "
		"'presenter_secret': 'p'}", NULL, 0, AH_ERR_UNAUTHORIZED },
	{ 1, "{'request': 'list_tenants', 'admin_key': 'wrong'}", NULL, 0, AH_ERR_UNAUTHORIZED },
	{ 1, "{'request': 'list_rooms', 'tenant': 'acme', "
		"'tenant_secret': 'globex-secret'}", NULL, 0, AH_ERR_UNAUTHORIZED },
	{ 1, "{'request': 'list_rooms', 'tenant': 'nobody', "
		"'tenant_secret': 'acme-secret'}", NULL, 0, AH_ERR_UNAUTHORIZED },
	{ 1, "{'request': 'list_rooms', 'tenant_secret': 'acme-secret'}", NULL, 0, AH_ERR_UNAUTHORIZED },
	{ 1, "{'request': 'create_tenant', 'tenant': 'acme', 'tenant_secret': 'acme-secret', 'max_participants': 1, "
		"'secret': 's'}",
		NULL, 0, AH_ERR_FORBIDDEN },
	{ 1, "{'request': 'set_capacity', 'tenant': 'acme', 'tenant_secret': 'acme-secret', "
		"'capacity': 1000}", NULL, 0, AH_ERR_FORBIDDEN },
	{ 1, "{'request': 'edit_tenant', 'tenant': 'acme', 'tenant_secret': 'acme-secret', "
		"'max_participants': 1000}", NULL, 0, AH_ERR_FORBIDDEN },
	{ 1, "{'request': 'destroy_tenant', 'tenant': 'acme', 'tenant_secret': 'acme-secret'}", NULL, 0, AH_ERR_FORBIDDEN },
	{ 1, "{'request': 'list_tenants', 'tenant': 'acme', 'tenant_secret': 'acme-secret'}", NULL, 0, AH_ERR_FORBIDDEN },
	{ 1, "{'request': 'join', 'tenant': 'nobody', 'room': 'allhands'}", NULL, 0, AH_ERR_NO_SUCH_TENANT },
	{ VIA_ADMIN_API, "{'request': 'create_room', 'tenant': 'nobody', 'room': 'r', 'max_attendees': 1, "
		"'presenter_secret': 'p'}",
		NULL, 0, AH_ERR_NO_SUCH_TENANT },
	{ VIA_ADMIN_API, "{'request': 'list_rooms', 'tenant': 'nobody'}", NULL, 0, AH_ERR_NO_SUCH_TENANT },
	{ VIA_ADMIN_API, "{'request': 'edit_tenant', 'tenant': 'nobody'}", NULL, 0, AH_ERR_NO_SUCH_TENANT },
	{ VIA_ADMIN_API, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 1, "
		"'secret': 's'}", NULL, 0, AH_ERR_TENANT_EXISTS },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'nope'}", NULL, 0, AH_ERR_NO_SUCH_ROOM },
	{ VIA_ADMIN_API, "{'request': 'destroy_room', 'tenant': 'globex', "
		"'room': 'allhands'}", NULL, 0, AH_ERR_NO_SUCH_ROOM },
	{ 1, "{'request': 'create_room', 'tenant': 'acme', 'room': 'allhands', 'admin_key': 'op-key', 'max_attendees': 1, "
		"'presenter_secret': 'p'}", NULL, 0, AH_ERR_ROOM_EXISTS },
	{ 1, "{'request': 'join', 'tenant': 'globex', 'room': 'standup'}", NULL, 0, AH_ERR_WRONG_PIN },
	{ 1, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', 'pin': 'pin-4320'}", NULL, 0, AH_ERR_WRONG_PIN },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'ptype': 'presenter'}", NULL, 0, AH_ERR_WRONG_SECRET },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'presenter', "
		"'presenter_secret': 'S3cret'}",
		NULL, 0, AH_ERR_WRONG_SECRET },
	{ 10, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands'}", NULL, 0, AH_ERR_WRONG_STATE },
	{ 1, "{'request': 'start'}", "answer", 0, AH_ERR_WRONG_STATE },
	{ 11, "{'request': 'start'}", "answer", 0, AH_ERR_WRONG_STATE },
	{ 1, "{'request': 'publish'}", "offer", 2, AH_ERR_WRONG_STATE },
	{ 1, "{'request': 'leave'}", NULL, 0, AH_ERR_WRONG_STATE },
	{ 12, "{'request': 'unpublish'}", NULL, 0, AH_ERR_WRONG_STATE },
	{ VIA_ADMIN_API, "{'request': 'kick', 'tenant': 'acme', 'room': 'allhands', "
		"'id': 999}", NULL, 0, AH_ERR_NO_SUCH_PARTICIPANT },
	{ VIA_ADMIN_API, "{'request': 'kick', 'tenant': 'globex', 'room': 'standup', "
		"'id': 1}", NULL, 0, AH_ERR_NO_SUCH_PARTICIPANT },
	{ 12, "{'request': 'publish'}", NULL, 0, AH_ERR_INVALID_JSEP },
	{ 12, "{'request': 'publish'}", "answer", 2, AH_ERR_INVALID_JSEP },
	{ 12, "{'request': 'publish'}", "offer", 0, AH_ERR_INVALID_JSEP },
	{ 13, "{'request': 'start'}", NULL, 0, AH_ERR_INVALID_JSEP },
	{ 13, "{'request': 'start'}", "offer", 2, AH_ERR_INVALID_JSEP },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands'}", "offer", 2, AH_ERR_INVALID_JSEP },
	{ 1, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', 'ptype': 'presenter', "
		"'presenter_secret': 'g-s3cret'}",
		NULL, 0, AH_ERR_TENANT_FULL },
	{ 10, "{'request': 'publish'}", "offer", 2, AH_ERR_NOT_PRESENTER },
	{ 10, "{'request': 'unpublish'}", NULL, 0, AH_ERR_NOT_PRESENTER },
};

/* Everything a request could change, as the operator sees it. */
static char *snapshot(fixture *f)
{
	json_t *all = json_pack("{s:O, s:O, s:O}",
		"status", admin(f, "{'request': 'status'}"),
		"acme", admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"),
		"globex", admin(f, "{'request': 'room_info', 'tenant': 'globex', 'room': 'standup'}"));
	char *text = json_dumps(all, JSON_SORT_KEYS);
	json_decref(all);
	return text;
}

static void test_errors_every_code(fixture *f, gconstpointer data)
{
	char *before, *after, *file_before, *file_after;
	guint64 seen = 0;
	make_rooms(f);
	/* 10 and 13: admitted, offer out; 11: queued; 12: presenter, not publishing. */
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 7}"));
	for (guint64 conn = 100; conn < 105; conn++) {
		assert_event(join_attendee(f, conn), "admitted");
		connect(f, conn);
	}
	assert_event(join_attendee(f, 10), "admitted");
	assert_event(join_attendee(f, 13), "admitted");
	assert_event(join_attendee(f, 11), "queued");
	join_presenter(f, 12);
	clear(f);
	g_assert_nonnull(slots(f, 13, &(guint){ 0 }));
	g_assert_null(slots(f, 11, &(guint){ 0 }));
	g_assert_true(g_file_get_contents(f->path, &file_before, NULL, NULL));
	before = snapshot(f);
	for (guint i = 0; i < G_N_ELEMENTS(error_cases); i++) {
		json_t *reply;
		guint outs_before = f->outs->len;
		if (g_test_verbose())
			g_test_message("case %u: %s", i, error_cases[i].message ? error_cases[i].message : "(null)");
		if (error_cases[i].conn == VIA_ADMIN_API) {
			reply = admin(f, error_cases[i].message);
			g_assert_cmpuint(f->outs->len, ==, outs_before);
		} else {
			reply = send_jsep(f, error_cases[i].conn, error_cases[i].message, error_cases[i].jsep, av,
				error_cases[i].n_streams);
			g_assert_cmpuint(f->outs->len, ==, outs_before + 1);
			g_assert_cmpint(reply_jsep(f), ==, AH_JSEP_NONE);
		}
		assert_error(reply, error_cases[i].err);
		seen |= G_GUINT64_CONSTANT(1) << error_cases[i].err;
		clear(f);
		after = snapshot(f);
		g_assert_cmpstr(after, ==, before);
		g_free(after);
	}
	/* Every error a request can produce, except the two that the engine never answers with:
	 * unavailable (the glue, while shutting down) and internal (a bug), and persist_failed, which
	 * comes as a warning (test_persist_failure_warns). */
	for (int err = AH_ERR_NO_MESSAGE; err < AH_ERR__COUNT; err++)
		if (err != AH_ERR_UNAVAILABLE && err != AH_ERR_INTERNAL && err != AH_ERR_PERSIST_FAILED)
			g_assert_cmpstr((seen & (G_GUINT64_CONSTANT(1) << err)) ? "seen" : ah_error_name(err), ==, "seen");
	g_assert_true(g_file_get_contents(f->path, &file_after, NULL, NULL));
	g_assert_cmpstr(file_after, ==, file_before);
	g_free(file_before);
	g_free(file_after);
	g_free(before);
}

static void test_persist_failure_warns(fixture *f, gconstpointer data)
{
	ah_engine_config config = f->config;
	char *path = g_build_filename(f->dir, "missing-folder", "state.json", NULL);
	json_t *reply, *warning;
	ah_engine_free(f->engine);
	config.state_path = path;
	f->engine = engine_new(&config);
	reply = admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 5, 'secret': 'acme-secret'}");
	/* The change stands (the reply is a success) but says it was not saved. */
	assert_success(reply);
	warning = json_object_get(reply, "warning");
	g_assert_nonnull(warning);
	g_assert_cmpint(num(warning, "error_code"), ==, ah_error_code(AH_ERR_PERSIST_FAILED));
	g_assert_cmpstr(str(warning, "error_name"), ==, "persist_failed");
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 0, "persist_failed"));
	g_assert_nonnull(str(find(f, AH_OUT_NOTIFY, 0, "persist_failed")->body, "error"));
	reply = admin(f, "{'request': 'list_tenants'}");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "tenants")), ==, 1);
	g_assert_null(json_object_get(reply, "warning"));
	g_free(path);
}

/* --- credentials */

static void test_auth_admin_key(fixture *f, gconstpointer data)
{
	ah_engine_config config = f->config;
	make_rooms(f);
	assert_success(send(f, 1, "{'request': 'list_tenants', 'admin_key': 'op-key'}"));
	assert_success(send(f, 1, "{'request': 'set_capacity', 'admin_key': 'op-key', 'capacity': 6}"));
	assert_error(send(f, 1, "{'request': 'list_tenants', 'admin_key': 'op-ke'}"), AH_ERR_UNAUTHORIZED);
	assert_error(send(f, 1, "{'request': 'list_tenants', 'admin_key': ''}"), AH_ERR_UNAUTHORIZED);
	assert_error(send(f, 1, "{'request': 'list_tenants'}"), AH_ERR_UNAUTHORIZED);
	/* A wrong admin_key is not rescued by a right tenant secret. */
	assert_error(send(f, 1, "{'request': 'list_rooms', 'admin_key': 'x', 'tenant': 'acme', "
		"'tenant_secret': 'acme-secret'}"),
		AH_ERR_UNAUTHORIZED);
	assert_error(send(f, 1, "{'request': 'list_tenants', 'admin_key': 5}"), AH_ERR_INVALID_ELEMENT);
	/* Without a configured key, handle-based operator requests are off. */
	ah_engine_free(f->engine);
	config.admin_key = "";
	f->engine = engine_new(&config);
	assert_error(send(f, 1, "{'request': 'list_tenants', 'admin_key': ''}"), AH_ERR_UNAUTHORIZED);
	config.admin_key = NULL;
	ah_engine_free(f->engine);
	f->engine = engine_new(&config);
	assert_error(send(f, 1, "{'request': 'list_tenants', 'admin_key': 'op-key'}"), AH_ERR_UNAUTHORIZED);
	assert_success(admin(f, "{'request': 'list_tenants'}"));
}

static void test_auth_tenant_isolation(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'globex', 'room': 'board', 'max_attendees': 1, "
		"'presenter_secret': 'g-s3cret'}"));
	/* acme manages its own rooms. */
	reply = send(f, 1, "{'request': 'create_room', 'tenant': 'acme', 'tenant_secret': 'acme-secret', "
		"'room': 'town-hall', "
		"'max_attendees': 20, 'presenter_secret': 'p', 'pin': 'pin-4321'}");
	assert_success(reply);
	g_assert_true(json_is_true(json_object_get(json_object_get(reply, "room"), "pin_required")));
	assert_success(send(f, 1, "{'request': 'edit_room', 'tenant': 'acme', 'tenant_secret': 'acme-secret', "
		"'room': 'town-hall', 'max_attendees': 30}"));
	assert_success(send(f, 1, "{'request': 'room_info', 'tenant': 'acme', 'tenant_secret': 'acme-secret', "
		"'room': 'allhands'}"));
	/* Lists and status are filtered to the caller's tenant; no node figures. */
	reply = send(f, 1, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-secret'}");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "rooms")), ==, 2);
	reply = send(f, 1, "{'request': 'status', 'tenant': 'acme', 'tenant_secret': 'acme-secret'}");
	assert_success(reply);
	g_assert_null(json_object_get(reply, "node"));
	g_assert_cmpuint(json_array_size(json_object_get(reply, "tenants")), ==, 1);
	g_assert_cmpuint(json_array_size(json_object_get(reply, "rooms")), ==, 2);
	g_assert_cmpstr(str(json_array_get(json_object_get(reply, "tenants"), 0), "tenant"), ==, "acme");
	/* The operator sees everything. */
	reply = admin(f, "{'request': 'status'}");
	g_assert_nonnull(json_object_get(reply, "node"));
	g_assert_cmpuint(json_array_size(json_object_get(reply, "rooms")), ==, 4);
	/* acme's secret opens nothing of globex: `tenant` names both the caller and the target. */
	assert_error(send(f, 1, "{'request': 'destroy_room', 'tenant': 'globex', 'tenant_secret': 'acme-secret', "
		"'room': 'board'}"), AH_ERR_UNAUTHORIZED);
	assert_error(send(f, 1, "{'request': 'room_info', 'tenant': 'globex', 'tenant_secret': 'acme-secret', "
		"'room': 'standup'}"), AH_ERR_UNAUTHORIZED);
	assert_error(send(f, 1, "{'request': 'kick', 'tenant': 'globex', 'tenant_secret': 'acme-secret', "
		"'room': 'standup', 'id': 1}"), AH_ERR_UNAUTHORIZED);
	/* Operator-only requests are forbidden to a tenant. */
	assert_error(send(f, 1, "{'request': 'edit_tenant', 'tenant': 'acme', 'tenant_secret': 'acme-secret', "
		"'max_participants': 1000}"), AH_ERR_FORBIDDEN);
	/* globex's own secret works for globex, and a changed secret stops the old one. */
	assert_success(send(f, 1, "{'request': 'destroy_room', 'tenant': 'globex', 'tenant_secret': 'globex-secret', "
		"'room': 'board'}"));
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'secret': 'acme-secret-2'}"));
	assert_error(send(f, 1, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-secret'}"),
		AH_ERR_UNAUTHORIZED);
	assert_success(send(f, 1, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-secret-2'}"));
	/* A tenant kicks in its own rooms. */
	assert_event(join_attendee(f, 2), "admitted");
	assert_success(send(f, 1, "{'request': 'kick', 'tenant': 'acme', 'tenant_secret': 'acme-secret-2', "
		"'room': 'allhands', 'id': 1}"));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "removed"));
}

/* --- joining */

static void test_join_admitted(fixture *f, gconstpointer data)
{
	json_t *reply, *room;
	const ah_slot *s;
	guint n = 99;
	make_rooms(f);
	reply = join_attendee(f, 7);
	assert_event(reply, "admitted");
	g_assert_cmpint(reply_jsep(f), ==, AH_JSEP_OFFER);
	g_assert_cmpstr(str(reply, "tenant"), ==, "acme");
	g_assert_cmpstr(str(reply, "room"), ==, "allhands");
	g_assert_cmpint(num(reply, "id"), ==, 1);
	g_assert_cmpuint(json_array_size(json_object_get(reply, "presenters")), ==, 0);
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 7, "joined"));
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 7, "admitted"));
	/* Nobody publishes yet: the offer still has an audio and a video m-line, inactive. */
	s = slots(f, 7, &n);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpint(s[0].kind, ==, AH_MEDIA_AUDIO);
	g_assert_cmpint(s[1].kind, ==, AH_MEDIA_VIDEO);
	g_assert_false(s[0].active);
	g_assert_false(s[1].active);
	g_assert_cmpint(s[1].mindex, ==, 1);
	g_assert_cmpint(node_count(f, "connecting"), ==, 1);
	clear(f);
	start(f, 7);
	ah_engine_media_up(f->engine, 7, f->now, f->outs);
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 7, "active"));
	room = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
	g_assert_cmpstr(str(json_array_get(json_object_get(room, "attendees"), 0), "state"), ==, "active");
	g_assert_cmpstr(str(json_array_get(json_object_get(room, "attendees"), 0), "display"), ==, "Ann");
	g_assert_cmpint(num(json_object_get(room, "counts"), "active"), ==, 1);
	g_assert_cmpint(num(json_object_get(room, "counts"), "admitted"), ==, 1);
	/* A pin-protected room lets the right pin in. */
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'globex', 'max_participants': 5}"));
	assert_event(send(f, 8, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', "
		"'pin': 'pin-4321'}"), "admitted");
}

static void test_join_ids_sequential(fixture *f, gconstpointer data)
{
	make_rooms(f);
	g_assert_cmpint(num(join_attendee(f, 1), "id"), ==, 1);
	assert_error(send(f, 2, "{'request': 'join', 'tenant': 'acme', 'room': 'nope'}"), AH_ERR_NO_SUCH_ROOM);
	assert_error(send(f, 2, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', 'ptype': 'presenter', "
		"'presenter_secret': 'g-s3cret'}"), AH_ERR_TENANT_FULL);
	g_assert_cmpint(num(join_presenter(f, 2), "id"), ==, 2);
	g_assert_cmpint(num(join_attendee(f, 3), "id"), ==, 3);
	assert_event(send(f, 3, "{'request': 'leave'}"), "left");
	g_assert_cmpint(num(join_attendee(f, 3), "id"), ==, 4);
}

static void test_join_queued_position(fixture *f, gconstpointer data)
{
	json_t *reply;
	ah_out *out;
	make_rooms(f);
	/* 12 joiners, capacity 5, waves of 2 every second. */
	for (guint64 conn = 1; conn <= 12; conn++) {
		reply = join_attendee(f, conn);
		if (conn <= 5) {
			assert_event(reply, "admitted");
			continue;
		}
		assert_event(reply, "queued");
		g_assert_cmpint(reply_jsep(f), ==, AH_JSEP_NONE);
		g_assert_cmpint(num(reply, "position"), ==, conn - 5);
		g_assert_cmpint(num(reply, "queue_length"), ==, conn - 5);
		g_assert_null(slots(f, conn, &(guint){ 0 }));
	}
	clear(f);
	for (guint64 conn = 1; conn <= 5; conn++)
		connect(f, conn);
	g_assert_cmpint(node_count(f, "active"), ==, 5);
	g_assert_cmpint(node_count(f, "queued"), ==, 7);
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, G_MAXINT64);
	reply = json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "queue")), ==, 7);
	g_assert_cmpint(num(json_array_get(json_object_get(reply, "queue"), 6), "position"), ==, 7);
	clear(f);

	/* Three leave: the first freed seat goes at once (no wave yet), the others wait a wave. */
	for (guint64 conn = 1; conn <= 3; conn++)
		assert_event(send(f, conn, "{'request': 'leave'}"), "left");
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 1);
	out = find(f, AH_OUT_EVENT, 6, "admitted");
	g_assert_nonnull(out);
	g_assert_cmpint(out->jsep, ==, AH_JSEP_OFFER);
	out = find(f, AH_OUT_EVENT, 12, "position");
	g_assert_nonnull(out);
	g_assert_cmpint(num(out->body, "position"), ==, 6);
	g_assert_cmpint(num(out->body, "queue_length"), ==, 6);
	g_assert_cmpint(node_count(f, "admitted"), ==, 3);
	clear(f);
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, f->now + 1 * SEC);
	f->now += 1 * SEC;
	tick(f);
	/* A wave of 2 fills the two free seats. */
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, "admitted"), ==, 2);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 7, "admitted"));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 8, "admitted"));
	g_assert_cmpint(num(find(f, AH_OUT_EVENT, 12, "position")->body, "position"), ==, 4);
	g_assert_cmpuint(count(f, AH_OUT_NOTIFY, 0, "admitted"), ==, 2);
	g_assert_cmpint(node_count(f, "admitted"), ==, 5);
	g_assert_cmpint(node_count(f, "queued"), ==, 4);
	clear(f);
	for (guint64 conn = 6; conn <= 8; conn++)
		connect(f, conn);
	g_assert_cmpint(node_count(f, "active"), ==, 5);
	/* Nothing moves while the node is full. */
	f->now += 5 * SEC;
	tick(f);
	g_assert_cmpuint(count(f, AH_OUT_EVENT, 0, NULL), ==, 0);
}

static void test_join_start_before_admission(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 0}"));
	assert_event(join_attendee(f, 1), "queued");
	assert_error(send_jsep(f, 1, "{'request': 'start'}", "answer", NULL, 0), AH_ERR_WRONG_STATE);
	assert_error(send(f, 1, "{'request': 'start'}"), AH_ERR_WRONG_STATE);
	/* Once admitted, start works once per offer. */
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	tick(f);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 1, "admitted"));
	start(f, 1);
	assert_error(send_jsep(f, 1, "{'request': 'start'}", "answer", NULL, 0), AH_ERR_WRONG_STATE);
}

static void test_join_queued_leave(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 0}"));
	assert_event(join_attendee(f, 1), "queued");
	assert_event(join_attendee(f, 2), "queued");
	clear(f);
	assert_event(send(f, 1, "{'request': 'leave'}"), "left");
	/* No PeerConnection to close for a queued attendee; the one behind moves up. */
	g_assert_cmpuint(count(f, AH_OUT_CLOSE_PC, 0, NULL), ==, 0);
	g_assert_cmpint(num(find(f, AH_OUT_EVENT, 2, "position")->body, "position"), ==, 1);
	g_assert_cmpstr(str(find(f, AH_OUT_NOTIFY, 1, "left")->body, "reason"), ==, "leave");
	g_assert_cmpint(node_count(f, "queued"), ==, 1);
}

/* --- presenters, offers, slots and routes */

static void test_publish_updates_attendees(fixture *f, gconstpointer data)
{
	json_t *presenters, *reply;
	ah_out *out;
	const ah_slot *s;
	guint n;
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	connect(f, 1);
	assert_event(join_attendee(f, 2), "admitted"); /* offer still unanswered */
	assert_event(join_attendee(f, 3), "admitted");
	connect(f, 3);
	join_presenter(f, 10);
	clear(f);
	publish(f, 10, av, 2);
	/* The answered attendees get "updated" with a new offer; 2 must answer its first one first. */
	out = find(f, AH_OUT_EVENT, 1, "updated");
	g_assert_nonnull(out);
	g_assert_cmpint(out->jsep, ==, AH_JSEP_OFFER);
	presenters = json_object_get(out->body, "presenters");
	g_assert_cmpuint(json_array_size(presenters), ==, 1);
	g_assert_cmpint(num(json_array_get(presenters, 0), "id"), ==, 4);
	g_assert_cmpstr(str(json_array_get(presenters, 0), "display"), ==, "CEO");
	g_assert_cmpuint(json_array_size(json_object_get(json_array_get(presenters, 0), "streams")), ==, 2);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 3, "updated"));
	g_assert_null(find(f, AH_OUT_EVENT, 2, "updated"));
	/* Routes come after the offers, once per presenter. */
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, 10, NULL), ==, 1);
	g_assert_cmpint(position_of(f, AH_OUT_ROUTES, 10), >, position_of(f, AH_OUT_EVENT, 3));
	/* The placeholders were reused: audio on m-line 0, video on 1. */
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 2);
	g_assert_true(s[0].active);
	g_assert_cmpuint(s[0].presenter, ==, 4);
	g_assert_cmpuint(s[0].presenter_conn, ==, 10);
	g_assert_cmpint(s[0].presenter_mindex, ==, 0);
	g_assert_cmpstr(s[0].codec, ==, "opus");
	g_assert_cmpstr(s[1].codec, ==, "vp8");
	/* 2's offered slots do not carry the presenter yet: no route to it. */
	g_assert_cmpuint(n_routes(f, 10, 1), ==, 2);
	g_assert_cmpuint(n_routes(f, 10, 3), ==, 2);
	g_assert_cmpuint(n_routes(f, 10, 2), ==, 0);
	clear(f);
	/* 2 answers: started, keyframe, then the pending renegotiation. */
	start(f, 2);
	g_assert_cmpint(position_of(f, AH_OUT_KEYFRAME, 10), ==, 1);
	out = find(f, AH_OUT_EVENT, 2, "updated");
	g_assert_nonnull(out);
	g_assert_cmpint(out->jsep, ==, AH_JSEP_OFFER);
	g_assert_cmpint(position_of(f, AH_OUT_ROUTES, 10), >, position_of(f, AH_OUT_EVENT, 2));
	g_assert_cmpuint(n_routes(f, 10, 2), ==, 2);
	clear(f);
	/* The presenter's routes list every seated attendee; the presenter itself has no slots. */
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 6);
	g_assert_null(slots(f, 10, &n));
	g_assert_cmpuint(n, ==, 0);
	/* A joiner now gets the presenter in its first offer. */
	reply = join_attendee(f, 4);
	assert_event(reply, "admitted");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "presenters")), ==, 1);
	g_assert_cmpuint(count(f, AH_OUT_ROUTES, 10, NULL), ==, 1);
	g_assert_cmpuint(n_routes(f, 10, 4), ==, 2);
	/* room_info shows the presenter publishing. */
	presenters = json_object_get(json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', "
		"'room': 'allhands'}"), "room"), "presenters");
	g_assert_true(json_is_true(json_object_get(json_array_get(presenters, 0), "publishing")));
	/* media_up of an attendee asks the presenter for a keyframe. */
	clear(f);
	start(f, 4);
	clear(f);
	ah_engine_media_up(f->engine, 4, f->now, f->outs);
	g_assert_cmpuint(count(f, AH_OUT_KEYFRAME, 10, NULL), ==, 1);
}

static void test_publish_unpublish(fixture *f, gconstpointer data)
{
	const ah_slot *s;
	guint n;
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	connect(f, 1);
	join_presenter(f, 10);
	publish(f, 10, av, 2);
	connect(f, 1);
	ah_engine_media_up(f->engine, 10, f->now, f->outs);
	clear(f);
	assert_event(send(f, 10, "{'request': 'unpublish'}"), "unpublished");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 10, NULL));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 1, "updated"));
	g_assert_cmpuint(json_array_size(json_object_get(find(f, AH_OUT_EVENT, 1, "updated")->body, "presenters")), ==, 0);
	/* The presenter's fan-out is emptied. */
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 0);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 2);
	g_assert_false(s[0].active);
	g_assert_false(s[1].active);
	g_assert_cmpuint(s[0].presenter, ==, 0);
	g_assert_cmpuint(s[0].presenter_conn, ==, 0);
	clear(f);
	/* The late hangup of the closed PeerConnection changes nothing. */
	ah_engine_media_down(f->engine, 10, f->now, f->outs);
	g_assert_cmpuint(f->outs->len, ==, 0);
	assert_error(send(f, 10, "{'request': 'unpublish'}"), AH_ERR_WRONG_STATE);
	/* Publishing again works and lands on the same m-lines. */
	connect(f, 1);
	clear(f);
	publish(f, 10, av, 2);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 2);
	g_assert_true(s[0].active && s[1].active);
	/* A presenter whose PeerConnection drops stops publishing. */
	start(f, 1);
	ah_engine_media_up(f->engine, 10, f->now, f->outs);
	clear(f);
	ah_engine_media_down(f->engine, 10, f->now, f->outs);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 1, "updated"));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_nonnull(find(f, AH_OUT_NOTIFY, 10, "unpublished"));
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 0);
}

static void test_slots_reuse(fixture *f, gconstpointer data)
{
	static const ah_stream_desc moved[] = {
		{ AH_MEDIA_VIDEO, 0, "vp8", "" },
		{ AH_MEDIA_AUDIO, 1, "opus", "" },
	};
	const ah_slot *s;
	guint n;
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	join_presenter(f, 10);
	join_presenter(f, 11);
	join_presenter(f, 12);
	publish(f, 10, av, 2);
	connect(f, 1);       /* answers the first offer; the pending update follows */
	start(f, 1);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 2);
	/* A second presenter's streams are appended. */
	publish(f, 11, av, 2);
	start(f, 1);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 4);
	g_assert_cmpuint(s[2].presenter_conn, ==, 11);
	g_assert_cmpint(s[2].kind, ==, AH_MEDIA_AUDIO);
	g_assert_cmpuint(s[3].presenter_conn, ==, 11);
	g_assert_cmpint(s[3].mindex, ==, 3);
	/* Republishing with m-lines in another order keeps the attendee's m-lines. */
	publish(f, 10, moved, 2);
	start(f, 1);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 4);
	g_assert_cmpuint(s[0].presenter_conn, ==, 10);
	g_assert_cmpint(s[0].kind, ==, AH_MEDIA_AUDIO);
	g_assert_cmpint(s[0].presenter_mindex, ==, 1);
	g_assert_cmpint(s[1].kind, ==, AH_MEDIA_VIDEO);
	g_assert_cmpint(s[1].presenter_mindex, ==, 0);
	g_assert_cmpuint(n_routes(f, 10, 1), ==, 2);
	/* The first presenter leaves: its m-lines go inactive, nothing moves. */
	assert_event(send(f, 10, "{'request': 'leave'}"), "left");
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 11, NULL));
	start(f, 1);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 4);
	g_assert_false(s[0].active);
	g_assert_false(s[1].active);
	g_assert_cmpuint(s[2].presenter_conn, ==, 11);
	/* A new video stream reuses the inactive video m-line, with its own codec. */
	publish(f, 12, video_only, 1);
	start(f, 1);
	s = slots(f, 1, &n);
	g_assert_cmpuint(n, ==, 4);
	g_assert_true(s[1].active);
	g_assert_cmpuint(s[1].presenter_conn, ==, 12);
	g_assert_cmpstr(s[1].codec, ==, "h264");
	g_assert_cmpstr(s[1].fmtp, ==, video_only[0].fmtp);
	g_assert_false(s[0].active);
	for (guint i = 0; i < n; i++)
		g_assert_cmpint(s[i].mindex, ==, i);
	g_assert_cmpuint(n_routes(f, 12, 1), ==, 1);
	g_assert_cmpuint(n_routes(f, 11, 1), ==, 2);
}

static void test_publish_bad_streams(fixture *f, gconstpointer data)
{
	ah_stream_desc bad = av[0];
	make_rooms(f);
	join_presenter(f, 10);
	bad.mindex = -1;
	assert_error(send_jsep(f, 10, "{'request': 'publish'}", "offer", &bad, 1), AH_ERR_INVALID_JSEP);
	bad = av[0];
	bad.kind = 7;
	assert_error(send_jsep(f, 10, "{'request': 'publish'}", "offer", &bad, 1), AH_ERR_INVALID_JSEP);
	bad = av[0];
	memset(bad.codec, 'x', sizeof(bad.codec));
	assert_error(send_jsep(f, 10, "{'request': 'publish'}", "offer", &bad, 1), AH_ERR_INVALID_JSEP);
	bad = av[0];
	bad.codec[0] = '\0';
	assert_error(send_jsep(f, 10, "{'request': 'publish'}", "offer", &bad, 1), AH_ERR_INVALID_JSEP);
	publish(f, 10, av, 2);
}

/* --- ways out */

static void test_admit_timeout(fixture *f, gconstpointer data)
{
	ah_out *out;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_attendee(f, 2), "queued");
	join_presenter(f, 10);
	publish(f, 10, av, 2);
	clear(f);
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, f->now + 10 * SEC);
	f->now += 10 * SEC - 1;
	tick(f);
	g_assert_cmpuint(f->outs->len, ==, 0);
	f->now += 1;
	tick(f);
	out = find(f, AH_OUT_EVENT, 1, "removed");
	g_assert_nonnull(out);
	g_assert_cmpstr(str(out->body, "reason"), ==, "admit_timeout");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_cmpstr(str(find(f, AH_OUT_NOTIFY, 1, "removed")->body, "reason"), ==, "admit_timeout");
	/* Its seat went to the next in line, and the presenter's fan-out follows. */
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "admitted"));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_cmpuint(n_routes(f, 10, 1), ==, 0);
	g_assert_cmpuint(n_routes(f, 10, 2), ==, 2);
	g_assert_null(slots(f, 1, &(guint){ 0 }));
	/* The handle is free again: a late media_up is ignored, a new join queues. */
	clear(f);
	ah_engine_media_up(f->engine, 1, f->now, f->outs);
	g_assert_cmpuint(f->outs->len, ==, 0);
	assert_event(join_attendee(f, 1), "queued");
}

static void test_kick(fixture *f, gconstpointer data)
{
	ah_out *out;
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	connect(f, 1);
	join_presenter(f, 10);
	publish(f, 10, av, 2);
	start(f, 1);
	clear(f);
	assert_success(admin(f, "{'request': 'kick', 'tenant': 'acme', 'room': 'allhands', 'id': 1}"));
	out = find(f, AH_OUT_EVENT, 1, "removed");
	g_assert_nonnull(out);
	g_assert_cmpstr(str(out->body, "reason"), ==, "kicked");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 0);
	g_assert_cmpint(node_count(f, "admitted"), ==, 0);
	assert_error(admin(f, "{'request': 'kick', 'tenant': 'acme', 'room': 'allhands', "
		"'id': 1}"), AH_ERR_NO_SUCH_PARTICIPANT);
	/* Kicking a presenter renegotiates the attendees. */
	assert_event(join_attendee(f, 2), "admitted");
	connect(f, 2);
	clear(f);
	assert_success(send(f, 3, "{'request': 'kick', 'admin_key': 'op-key', 'tenant': 'acme', 'room': 'allhands', "
		"'id': 2}"));
	g_assert_cmpstr(str(find(f, AH_OUT_EVENT, 10, "removed")->body, "reason"), ==, "kicked");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 10, NULL));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "updated"));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	/* The kicked handle can join again. */
	join_presenter(f, 10);
}

static void test_destroy_room(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'other', 'max_attendees': 10, "
		"'presenter_secret': 'p'}"));
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 2}"));
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_attendee(f, 2), "admitted");
	assert_event(join_attendee(f, 3), "queued");
	assert_event(send(f, 4, "{'request': 'join', 'tenant': 'acme', 'room': 'other'}"), "queued");
	join_presenter(f, 10);
	publish(f, 10, av, 2);
	clear(f);
	assert_success(admin(f, "{'request': 'destroy_room', 'tenant': 'acme', 'room': 'allhands'}"));
	for (guint64 conn = 1; conn <= 10; conn = conn == 3 ? 10 : conn + 1) {
		ah_out *out = find(f, AH_OUT_EVENT, conn, "removed");
		g_assert_nonnull(out);
		g_assert_cmpstr(str(out->body, "reason"), ==, "room_destroyed");
		g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, conn, NULL));
	}
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_null(find(f, AH_OUT_EVENT, 4, NULL));
	g_assert_cmpuint(count(f, AH_OUT_NOTIFY, 0, "removed"), ==, 4);
	g_assert_cmpint(node_count(f, "admitted"), ==, 0);
	/* The queue moves up on the next tick, and the freed seats admit the other room's attendee. */
	clear(f);
	g_assert_cmpint(ah_engine_next_deadline(f->engine, f->now), ==, f->now);
	tick(f);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 4, "admitted"));
	g_assert_null(slots(f, 1, &(guint){ 0 }));
	assert_error(join_attendee(f, 1), AH_ERR_NO_SUCH_ROOM);
}

static void test_destroy_tenant(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	join_presenter(f, 10);
	clear(f);
	assert_success(admin(f, "{'request': 'destroy_tenant', 'tenant': 'acme'}"));
	g_assert_cmpstr(str(find(f, AH_OUT_EVENT, 1, "removed")->body, "reason"), ==, "tenant_destroyed");
	g_assert_cmpstr(str(find(f, AH_OUT_EVENT, 10, "removed")->body, "reason"), ==, "tenant_destroyed");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 10, NULL));
	assert_error(join_attendee(f, 1), AH_ERR_NO_SUCH_TENANT);
	assert_error(admin(f, "{'request': 'list_rooms', 'tenant': 'acme'}"), AH_ERR_NO_SUCH_TENANT);
}

static void test_hangup_frees_seat(fixture *f, gconstpointer data)
{
	ah_out *out;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_attendee(f, 2), "queued");
	/* A hangup before the PeerConnection was ever up is left to the admit timeout. */
	clear(f);
	ah_engine_media_down(f->engine, 1, f->now, f->outs);
	g_assert_cmpuint(f->outs->len, ==, 0);
	connect(f, 1);
	clear(f);
	ah_engine_media_down(f->engine, 1, f->now, f->outs);
	out = find(f, AH_OUT_EVENT, 1, "left");
	g_assert_nonnull(out);
	g_assert_cmpstr(str(out->body, "reason"), ==, "hangup");
	g_assert_null(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "admitted"));
	g_assert_cmpint(node_count(f, "admitted"), ==, 1);
	g_assert_null(slots(f, 1, &(guint){ 0 }));
}

static void test_gone_frees_seat(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 1}"));
	assert_event(join_attendee(f, 1), "admitted");
	connect(f, 1);
	assert_event(join_attendee(f, 2), "queued");
	join_presenter(f, 10);
	publish(f, 10, av, 2);
	clear(f);
	ah_engine_conn_gone(f->engine, 1, f->now, f->outs);
	/* Silently: nothing to the gone handle. */
	g_assert_null(find(f, AH_OUT_EVENT, 1, NULL));
	g_assert_null(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_cmpstr(str(find(f, AH_OUT_NOTIFY, 1, "left")->body, "reason"), ==, "gone");
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "admitted"));
	clear(f);
	ah_engine_conn_gone(f->engine, 10, f->now, f->outs);
	g_assert_null(find(f, AH_OUT_EVENT, 10, NULL));
	g_assert_nonnull(find(f, AH_OUT_ROUTES, 10, NULL));
	g_assert_cmpuint(n_routes(f, 10, 0), ==, 0);
	/* 2's first offer is still out: the change waits for its answer. */
	g_assert_null(find(f, AH_OUT_EVENT, 2, "updated"));
	clear(f);
	start(f, 2);
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "updated"));
	g_assert_cmpint(node_count(f, "presenters"), ==, 0);
	ah_engine_conn_gone(f->engine, 99, f->now, f->outs);
	ah_engine_media_up(f->engine, 99, f->now, f->outs);
	ah_engine_media_down(f->engine, 99, f->now, f->outs);
}

static void test_leave_closes_pc(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_event(join_attendee(f, 1), "admitted");
	clear(f);
	assert_event(send(f, 1, "{'request': 'leave'}"), "left");
	g_assert_nonnull(find(f, AH_OUT_CLOSE_PC, 1, NULL));
	g_assert_cmpint(position_of(f, AH_OUT_REPLY, 1), ==, 0);
	assert_event(join_attendee(f, 1), "admitted");
	join_presenter(f, 2);
	clear(f);
	assert_event(send(f, 2, "{'request': 'leave'}"), "left");
	/* A presenter that never published has no PeerConnection. */
	g_assert_null(find(f, AH_OUT_CLOSE_PC, 2, NULL));
	g_assert_cmpint(node_count(f, "presenters"), ==, 0);
}

static void test_presenter_tenant_full(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'max_participants': 2}"));
	join_presenter(f, 10);
	assert_event(join_attendee(f, 1), "admitted");
	assert_error(send(f, 11, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'presenter', "
		"'presenter_secret': 's3cret'}"), AH_ERR_TENANT_FULL);
	/* Attendees queue instead. */
	assert_event(join_attendee(f, 2), "queued");
}

/* --- restart and the state file */

static void test_restart_keeps_state(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_rooms(f);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'pin': 'pin-4321', "
		"'description': 'Q3'}"));
	assert_error(join_attendee(f, 1), AH_ERR_WRONG_PIN);
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
	reply = admin(f, "{'request': 'list_rooms'}");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "rooms")), ==, 2);
	g_assert_cmpstr(str(json_array_get(json_object_get(reply, "rooms"), 0), "description"), ==, "Q3");
	g_assert_true(json_is_true(json_object_get(json_array_get(json_object_get(reply, "rooms"), 0), "pin_required")));
	reply = admin(f, "{'request': 'list_tenants'}");
	g_assert_cmpint(num(json_array_get(json_object_get(reply, "tenants"), 0), "max_participants"), ==, 100);
	/* Participants do not survive a restart; secrets and pins do. */
	g_assert_cmpint(node_count(f, "admitted"), ==, 0);
	assert_error(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'pin': 'x'}"), AH_ERR_WRONG_PIN);
	assert_event(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'pin': 'pin-4321'}"), "admitted");
	join_presenter(f, 2);
	assert_success(send(f, 3, "{'request': 'list_rooms', 'tenant': 'globex', 'tenant_secret': 'globex-secret'}"));
	/* A destroyed room stays destroyed. */
	assert_success(admin(f, "{'request': 'destroy_room', 'tenant': 'globex', 'room': 'standup'}"));
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
	reply = admin(f, "{'request': 'list_rooms'}");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "rooms")), ==, 1);
}

static void test_new_refuses_bad_state(fixture *f, gconstpointer data)
{
	static const char *const bad[] = {
		"{\"version\": 1, \"tenants\": [{\"tenant\": \"a\"",
		"not json",
		"{\"version\": 9, \"tenants\": [], \"rooms\": []}",
		"{\"version\": 1, \"tenants\": [], \"rooms\": [{\"tenant\": \"a\", \"room\": \"r\", \"max_attendees\": 1, "
			"\"presenter_secret\": \"p\"}]}",
	};
	ah_engine_config config = f->config;
	ah_error err;
	char *message, *after;
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_true(g_file_set_contents(f->path, bad[i], -1, NULL));
		err = AH_ERR_OK;
		message = NULL;
		g_assert_null(ah_engine_new(&f->config, &err, &message));
		g_assert_cmpint(err, !=, AH_ERR_OK);
		g_assert_nonnull(message);
		g_free(message);
		g_assert_true(g_file_get_contents(f->path, &after, NULL, NULL));
		g_assert_cmpstr(after, ==, bad[i]);
		g_free(after);
	}
	/* Out-of-range admission settings are refused too. */
	g_unlink(f->path);
	config.admission.wave_size = 0;
	g_assert_null(ah_engine_new(&config, &err, &message));
	g_assert_cmpint(err, ==, AH_ERR_INVALID_ELEMENT);
	g_assert_nonnull(strstr(message, "wave_size"));
	g_free(message);
	config = f->config;
	config.admission.admit_timeout_us = 0;
	g_assert_null(ah_engine_new(&config, &err, &message));
	g_free(message);
	/* No state file configured: nothing persists, nothing fails. */
	config = f->config;
	config.state_path = NULL;
	ah_engine_free(f->engine);
	f->engine = engine_new(&config);
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 5, "
		"'secret': 'acme-secret'}"));
	g_assert_null(json_object_get(g_ptr_array_index(f->keep, f->keep->len - 1), "warning"));
	g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
}

static void test_state_file_written(fixture *f, gconstpointer data)
{
	json_error_t error;
	json_t *root;
	make_rooms(f);
	root = json_load_file(f->path, 0, &error);
	g_assert_nonnull(root);
	g_assert_cmpint(json_integer_value(json_object_get(root, "version")), ==, 1);
	g_assert_cmpuint(json_array_size(json_object_get(root, "tenants")), ==, 2);
	g_assert_cmpuint(json_array_size(json_object_get(root, "rooms")), ==, 2);
	json_decref(root);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, fixture, NULL, setup, fn, teardown)
	ADD("/engine/admin/crud", test_admin_crud);
	ADD("/engine/admin/set-capacity", test_admin_set_capacity);
	ADD("/engine/errors/every-code-changes-nothing", test_errors_every_code);
	ADD("/engine/errors/persist-failure-warns", test_persist_failure_warns);
	ADD("/engine/auth/admin-key", test_auth_admin_key);
	ADD("/engine/auth/tenant-isolation", test_auth_tenant_isolation);
	ADD("/engine/join/admitted", test_join_admitted);
	ADD("/engine/join/ids-sequential", test_join_ids_sequential);
	ADD("/engine/join/queued-position", test_join_queued_position);
	ADD("/engine/join/start-before-admission", test_join_start_before_admission);
	ADD("/engine/join/queued-leave", test_join_queued_leave);
	ADD("/engine/join/presenter-tenant-full", test_presenter_tenant_full);
	ADD("/engine/publish/updates-attendees-and-routes", test_publish_updates_attendees);
	ADD("/engine/publish/unpublish-and-hangup", test_publish_unpublish);
	ADD("/engine/publish/bad-streams", test_publish_bad_streams);
	ADD("/engine/slots/reuse-on-republish", test_slots_reuse);
	ADD("/engine/exit/admit-timeout", test_admit_timeout);
	ADD("/engine/exit/kick", test_kick);
	ADD("/engine/exit/destroy-room", test_destroy_room);
	ADD("/engine/exit/destroy-tenant", test_destroy_tenant);
	ADD("/engine/exit/hangup-frees-seat", test_hangup_frees_seat);
	ADD("/engine/exit/gone-frees-seat", test_gone_frees_seat);
	ADD("/engine/exit/leave-closes-pc", test_leave_closes_pc);
	ADD("/engine/state/restart-keeps-tenants-and-rooms", test_restart_keeps_state);
	ADD("/engine/state/refuses-bad-state-file", test_new_refuses_bad_state);
	ADD("/engine/state/file-written", test_state_file_written);
#undef ADD
	return g_test_run();
}
