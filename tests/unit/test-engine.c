/* allhands: scenario tests of the engine's operator side (plugin/core/requests*.c, engine.c):
 * tenant and room administration, authorization, every error code, persistence across restarts.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "allhands/persist.h"
#include "allhands/token.h"

#include "engine-fixture.h"

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
		"'secret': 'tenant-secret-s0'}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ VIA_ADMIN_API, "{'request': 'create_tenant', 'tenant': 'a b', 'max_participants': 1, "
		"'secret': 'tenant-secret-s0'}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ 1, "{'request': 5}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'ptype': 'boss'}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ 1, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r2', 'max_attendees': 1, "
		"'presenter_secret': 'presenter-p'}", NULL, 0, AH_ERR_UNAUTHORIZED },
	{ 1, "{'request': 'list_tenants', 'admin_key': 'wrong'}", NULL, 0, AH_ERR_UNAUTHORIZED },
	{ 1, "{'request': 'list_rooms', 'tenant': 'acme', "
		"'tenant_secret': 'globex-tenant-secret'}", NULL, 0, AH_ERR_UNAUTHORIZED },
	{ 1, "{'request': 'list_rooms', 'tenant': 'nobody', "
		"'tenant_secret': 'acme-tenant-secret'}", NULL, 0, AH_ERR_UNAUTHORIZED },
	{ 1, "{'request': 'list_rooms', 'tenant_secret': 'acme-tenant-secret'}", NULL, 0, AH_ERR_UNAUTHORIZED },
	{ 1, "{'request': 'create_tenant', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', 'max_participants': 1, "
		"'secret': 'tenant-secret-s0'}",
		NULL, 0, AH_ERR_FORBIDDEN },
	{ 1, "{'request': 'set_capacity', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', "
		"'capacity': 1000}", NULL, 0, AH_ERR_FORBIDDEN },
	{ 1, "{'request': 'edit_tenant', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', "
		"'max_participants': 1000}", NULL, 0, AH_ERR_FORBIDDEN },
	{ 1, "{'request': 'destroy_tenant', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}", NULL, 0, AH_ERR_FORBIDDEN },
	{ 1, "{'request': 'list_tenants', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}", NULL, 0, AH_ERR_FORBIDDEN },
	{ 1, "{'request': 'join', 'tenant': 'nobody', 'room': 'allhands'}", NULL, 0, AH_ERR_NO_SUCH_TENANT },
	{ VIA_ADMIN_API, "{'request': 'create_room', 'tenant': 'nobody', 'room': 'r', 'max_attendees': 1, "
		"'presenter_secret': 'presenter-p'}",
		NULL, 0, AH_ERR_NO_SUCH_TENANT },
	{ VIA_ADMIN_API, "{'request': 'list_rooms', 'tenant': 'nobody'}", NULL, 0, AH_ERR_NO_SUCH_TENANT },
	{ VIA_ADMIN_API, "{'request': 'edit_tenant', 'tenant': 'nobody'}", NULL, 0, AH_ERR_NO_SUCH_TENANT },
	{ VIA_ADMIN_API, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 1, "
		"'secret': 'tenant-secret-s0'}", NULL, 0, AH_ERR_TENANT_EXISTS },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'nope'}", NULL, 0, AH_ERR_NO_SUCH_ROOM },
	{ VIA_ADMIN_API, "{'request': 'destroy_room', 'tenant': 'globex', "
		"'room': 'allhands'}", NULL, 0, AH_ERR_NO_SUCH_ROOM },
	{ 1, "{'request': 'create_room', 'tenant': 'acme', 'room': 'allhands', 'admin_key': 'op-key', 'max_attendees': 1, "
		"'presenter_secret': 'presenter-p'}", NULL, 0, AH_ERR_ROOM_EXISTS },
	{ 1, "{'request': 'join', 'tenant': 'globex', 'room': 'standup'}", NULL, 0, AH_ERR_WRONG_PIN },
	{ 1, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', 'pin': 'pin-4320'}", NULL, 0, AH_ERR_WRONG_PIN },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', "
		"'ptype': 'presenter'}", NULL, 0, AH_ERR_WRONG_SECRET },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'presenter', "
		"'presenter_secret': 'S3cret-presenter'}",
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
	{ VIA_ADMIN_API, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r2', 'max_attendees': 1, "
		"'presenter_secret': 'presenter-p', 'schedule': {'start': 2000000000, 'end': 1999999999}}", NULL, 0,
		AH_ERR_INVALID_SCHEDULE },
	{ 1, "{'request': 'set_schedule', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', 'room': 'allhands', "
		"'schedule': {'dtstart': '2026-12-01T09:00:00', 'tzid': 'Mars/Olympus', 'duration_s': 60}}", NULL, 0,
		AH_ERR_UNKNOWN_TIMEZONE },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'later'}", NULL, 0, AH_ERR_ROOM_CLOSED },
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'later', 'ptype': 'presenter', "
		"'presenter_secret': 's3cret-presenter'}", NULL, 0, AH_ERR_ROOM_CLOSED },
	/* Fair admission (issue 4). allhands has no priority secret. */
	{ 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'priority_secret': 'vip-pass'}", NULL, 0,
		AH_ERR_WRONG_SECRET },
	{ VIA_ADMIN_API, "{'request': 'edit_tenant', 'tenant': 'acme', 'weight': 0}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ VIA_ADMIN_API, "{'request': 'edit_tenant', 'tenant': 'acme', 'weight': 1001}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ VIA_ADMIN_API, "{'request': 'set_capacity', 'wave_mode': 'random'}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ VIA_ADMIN_API, "{'request': 'set_capacity', 'wave_min': 3}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ VIA_ADMIN_API, "{'request': 'set_capacity', 'update_interval_ms': 99}", NULL, 0, AH_ERR_INVALID_ELEMENT },
	{ 1, "{'request': 'drain', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}", NULL, 0, AH_ERR_FORBIDDEN },
	{ VIA_ADMIN_API, "{'request': 'pause', 'tenant': 'acme', 'room': 'nope'}", NULL, 0, AH_ERR_NO_SUCH_ROOM },
	/* The node's queue bound is 1 and 11 holds the one place. */
	{ 14, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands'}", NULL, 0, AH_ERR_QUEUE_FULL },
	/* draining: after the loop, since drain itself changes the state. */
};

/* Everything a request could change, as the operator sees it. */
/* The failure throttle's figures ("failures") are left out: counting a failed credential is the one
 * change a failed request makes (docs/security.md). */
static void drop_failures(json_t *o)
{
	const char *key;
	json_t *value;
	size_t i;
	if (json_is_object(o)) {
		json_object_del(o, "failures");
		json_object_foreach(o, key, value)
			drop_failures(value);
	} else if (json_is_array(o)) {
		json_array_foreach(o, i, value)
			drop_failures(value);
	}
}

static char *snapshot(fixture *f)
{
	json_t *all = json_pack("{s:O, s:O, s:O}",
		"status", admin(f, "{'request': 'status'}"),
		"acme", admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"),
		"globex", admin(f, "{'request': 'room_info', 'tenant': 'globex', 'room': 'standup'}"));
	char *text;
	drop_failures(all);
	text = json_dumps(all, JSON_SORT_KEYS);
	json_decref(all);
	return text;
}

/* Join tokens for acme/tokened, signed with acme's signing key (tok_key, from get_signing_key); the
 * engine's real time is 1000 s here. ("-": no token at all.) */
static char tok_key[AH_SIGNING_KEY_LEN + 1];
static char *mint_for(const char *secret, const char *tenant, const char *room, const char *sub, gint64 exp, gint64 nbf)
{
	return ah_token_mint(secret, tenant, room, AH_ROLE_ATTENDEE, sub, exp, nbf);
}
static char *tok_none(void) { return g_strdup("-"); }
static char *tok_malformed(void) { return g_strdup("not.a-token"); }
static char *tok_large(void) { return g_strnfill(AH_TOKEN_MAX_LEN + 1, 'a'); }
/* {"alg":"none"} . {"tenant":"acme"} . (no signature) */
static char *tok_alg_none(void) { return g_strdup("eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJhY21lIn0."); }
static char *tok_signature(void) { return mint_for("globex-tenant-secret", "acme", "tokened", "u", 2000, 0); }
static char *tok_expired(void) { return mint_for(tok_key, "acme", "tokened", "u", 900, 0); }
static char *tok_not_yet(void) { return mint_for(tok_key, "acme", "tokened", "u", 2000, 1100); }
static char *tok_tenant(void) { return mint_for(tok_key, "globex", "tokened", "u", 2000, 0); }
static char *tok_room(void) { return mint_for(tok_key, "acme", "allhands", "u", 2000, 0); }
static char *tok_claims(void) { return mint_for(tok_key, "acme", "tokened", "", 2000, 0); }

static const struct {
	char *(*make)(void);
	ah_error err;
} token_cases[] = {
	{ tok_none, AH_ERR_TOKEN_REQUIRED },
	{ tok_malformed, AH_ERR_TOKEN_MALFORMED },
	{ tok_large, AH_ERR_TOKEN_TOO_LARGE },
	{ tok_alg_none, AH_ERR_TOKEN_ALGORITHM },
	{ tok_signature, AH_ERR_TOKEN_SIGNATURE },
	{ tok_expired, AH_ERR_TOKEN_EXPIRED },
	{ tok_not_yet, AH_ERR_TOKEN_NOT_YET_VALID },
	{ tok_tenant, AH_ERR_TOKEN_WRONG_TENANT },
	{ tok_room, AH_ERR_TOKEN_WRONG_ROOM },
	{ tok_claims, AH_ERR_TOKEN_CLAIMS },
};

static void test_errors_every_code(fixture *f, gconstpointer data)
{
	char *before, *after, *file_before, *file_after;
	json_t *reply_draining;
	guint64 seen = 0;
	make_rooms(f);
	/* 10 and 13: admitted, offer out; 11: queued; 12: presenter, not publishing. */
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 7, 'max_queued': 1}"));
	for (guint64 conn = 100; conn < 105; conn++) {
		assert_event(join_attendee(f, conn), "admitted");
		connect(f, conn);
	}
	assert_event(join_attendee(f, 10), "admitted");
	assert_event(join_attendee(f, 13), "admitted");
	assert_event(join_attendee(f, 11), "queued");
	join_presenter(f, 12);
	/* A room that needs join tokens (token_cases). */
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'tokened', 'max_attendees': 5, "
		"'presenter_secret': 's3cret-presenter', 'tokens': 'required'}"));
	/* A scheduled room whose window is years ahead (the engine's real time is 1970 here). */
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'later', 'max_attendees': 5, "
		"'presenter_secret': 's3cret-presenter', 'schedule': {'start': 2000000000, 'duration_s': 60}}"));
	clear(f);
	g_assert_nonnull(slots(f, 13, &(guint){ 0 }));
	g_assert_null(slots(f, 11, &(guint){ 0 }));
	g_strlcpy(tok_key, str(admin(f, "{'request': 'get_signing_key', 'tenant': 'acme'}"), "signing_key"), sizeof(tok_key));
	flush_state(f);
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
		if (error_cases[i].err == AH_ERR_QUEUE_FULL)
			g_assert_cmpint(num(reply, "retry_after_ms"), >=, 0);
		seen |= G_GUINT64_CONSTANT(1) << error_cases[i].err;
		clear(f);
		after = snapshot(f);
		g_assert_cmpstr(after, ==, before);
		g_free(after);
	}
	/* The join-token errors (the tokens are made here: they are signed). */
	for (guint i = 0; i < G_N_ELEMENTS(token_cases); i++) {
		char *text, *t = token_cases[i].make();
		json_t *reply;
		text = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'tokened', 'token': '%s'}", t);
		reply = t[0] != '-' ? send(f, 20, text) : send(f, 20, "{'request': 'join', 'tenant': 'acme', 'room': 'tokened'}");
		g_assert_cmpuint(f->outs->len, ==, 1);
		assert_error(reply, token_cases[i].err);
		seen |= G_GUINT64_CONSTANT(1) << token_cases[i].err;
		clear(f);
		after = snapshot(f);
		g_assert_cmpstr(after, ==, before);
		g_free(after);
		g_free(text);
		g_free(t);
	}
	/* draining: drain takes 11 out of the queue; from then on a join is refused and changes nothing. */
	assert_success(admin(f, "{'request': 'drain'}"));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 11, "removed"));
	clear(f);
	g_free(before);
	before = snapshot(f);
	reply_draining = send(f, 14, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands'}");
	g_assert_cmpuint(f->outs->len, ==, 1);
	assert_error(reply_draining, AH_ERR_DRAINING);
	g_assert_true(json_is_true(json_object_get(reply_draining, "retry_elsewhere")));
	seen |= G_GUINT64_CONSTANT(1) << AH_ERR_DRAINING;
	clear(f);
	after = snapshot(f);
	g_assert_cmpstr(after, ==, before);
	g_free(after);
	/* Every error a request can produce, except those the engine never answers with: unavailable
	 * (the glue, while shutting down), the glue's limits (request_too_large, rate_limited,
	 * too_many_handles: checked before a request reaches the engine) and internal (a bug), and
	 * persist_failed, which comes as a warning (test_persist_failure_warns); too_many_failures and
	 * too_many_queued, whose set-up takes many requests (test-engine-credentials.c); the cluster's
	 * placement and tickets (670-676), which need two engines in cluster mode (test-engine-place.c,
	 * test-ticket.c); and cluster_unavailable, a deferred answer of cluster mode (test-engine-ledger.c). */
	for (int err = AH_ERR_NO_MESSAGE; err < AH_ERR__COUNT; err++)
		if (err != AH_ERR_UNAVAILABLE && err != AH_ERR_INTERNAL && err != AH_ERR_PERSIST_FAILED &&
			err != AH_ERR_REQUEST_TOO_LARGE && err != AH_ERR_RATE_LIMITED && err != AH_ERR_TOO_MANY_HANDLES &&
			err != AH_ERR_TOO_MANY_FAILURES && err != AH_ERR_TOO_MANY_QUEUED && err != AH_ERR_CLUSTER_UNAVAILABLE &&
			(err < AH_ERR_TICKET_INVALID || err > AH_ERR_TICKETS_FULL))
			g_assert_cmpstr((seen & (G_GUINT64_CONSTANT(1) << err)) ? "seen" : ah_error_name(err), ==, "seen");
	flush_state(f);
	g_assert_true(g_file_get_contents(f->path, &file_after, NULL, NULL));
	g_assert_cmpstr(file_after, ==, file_before);
	g_free(file_before);
	g_free(file_after);
	g_free(before);
}

static void test_persist_failure_warns(fixture *f, gconstpointer data)
{
	ah_engine_config config = f->config;
	char *dir = g_build_filename(f->dir, "missing-folder", NULL);
	char *path = g_build_filename(dir, "state.json", NULL), *why = NULL, *text = NULL;
	json_t *reply, *warning;
	ah_engine_free(f->engine);
	config.state_path = path;
	f->engine = engine_new(&config);
	/* The reply comes before the write: nothing is known to have failed yet. */
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 5, 'secret': 'acme-tenant-secret'}"));
	g_assert_cmpint(ah_persist_writer_flush(ah_engine_persist_writer(f->engine), &why), ==, AH_PERSIST_FAILED);
	g_assert_nonnull(strstr(why, path));
	g_free(why);
	/* While writes fail, the next change stands (a success) but says it may not be saved. */
	reply = admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r', 'max_attendees': 1, 'presenter_secret': 'presenter-x'}");
	assert_success(reply);
	warning = json_object_get(reply, "warning");
	g_assert_nonnull(warning);
	g_assert_cmpint(num(warning, "error_code"), ==, ah_error_code(AH_ERR_PERSIST_FAILED));
	g_assert_cmpstr(str(warning, "error_name"), ==, "persist_failed");
	reply = admin(f, "{'request': 'list_tenants'}");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "tenants")), ==, 1);
	g_assert_null(json_object_get(reply, "warning"));
	/* The folder is back: the next write has everything, the changes made meanwhile included. */
	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	g_assert_cmpint(ah_persist_writer_flush(ah_engine_persist_writer(f->engine), &why), ==, AH_PERSIST_WROTE);
	g_assert_null(why);
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'name': 'Acme'}"));
	g_assert_null(json_object_get(g_ptr_array_index(f->keep, f->keep->len - 1), "warning"));
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_assert_nonnull(strstr(text, "\"room\": \"r\""));
	g_assert_nonnull(strstr(text, "\"name\": \"Acme\""));
	g_free(text);
	g_unlink(path);
	g_rmdir(dir);
	g_free(path);
	g_free(dir);
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
		"'tenant_secret': 'acme-tenant-secret'}"),
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
	reply = send(f, 1, "{'request': 'create_room', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', "
		"'room': 'town-hall', "
		"'max_attendees': 20, 'presenter_secret': 'presenter-p', 'pin': 'pin-4321'}");
	assert_success(reply);
	g_assert_true(json_is_true(json_object_get(json_object_get(reply, "room"), "pin_required")));
	assert_success(send(f, 1, "{'request': 'edit_room', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', "
		"'room': 'town-hall', 'max_attendees': 30}"));
	assert_success(send(f, 1, "{'request': 'room_info', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', "
		"'room': 'allhands'}"));
	/* Lists and status are filtered to the caller's tenant; no node figures. */
	reply = send(f, 1, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}");
	g_assert_cmpuint(json_array_size(json_object_get(reply, "rooms")), ==, 2);
	reply = send(f, 1, "{'request': 'status', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}");
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
	assert_error(send(f, 1, "{'request': 'destroy_room', 'tenant': 'globex', 'tenant_secret': 'acme-tenant-secret', "
		"'room': 'board'}"), AH_ERR_UNAUTHORIZED);
	assert_error(send(f, 1, "{'request': 'room_info', 'tenant': 'globex', 'tenant_secret': 'acme-tenant-secret', "
		"'room': 'standup'}"), AH_ERR_UNAUTHORIZED);
	assert_error(send(f, 1, "{'request': 'kick', 'tenant': 'globex', 'tenant_secret': 'acme-tenant-secret', "
		"'room': 'standup', 'id': 1}"), AH_ERR_UNAUTHORIZED);
	/* Operator-only requests are forbidden to a tenant. */
	assert_error(send(f, 1, "{'request': 'edit_tenant', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', "
		"'max_participants': 1000}"), AH_ERR_FORBIDDEN);
	/* globex's own secret works for globex, and a changed secret stops the old one. */
	assert_success(send(f, 1, "{'request': 'destroy_room', 'tenant': 'globex', 'tenant_secret': 'globex-tenant-secret', "
		"'room': 'board'}"));
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'secret': 'acme-tenant-secret-2'}"));
	assert_error(send(f, 1, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}"),
		AH_ERR_UNAUTHORIZED);
	assert_success(send(f, 1, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret-2'}"));
	/* A tenant kicks in its own rooms. */
	assert_event(join_attendee(f, 2), "admitted");
	assert_success(send(f, 1, "{'request': 'kick', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret-2', "
		"'room': 'allhands', 'id': 1}"));
	g_assert_nonnull(find(f, AH_OUT_EVENT, 2, "removed"));
}

/* --- joining */

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
	assert_success(send(f, 3, "{'request': 'list_rooms', 'tenant': 'globex', 'tenant_secret': 'globex-tenant-secret'}"));
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
	char *message;
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_state_file_refused(f, bad[i]);
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
		"'secret': 'acme-tenant-secret'}"));
	g_assert_null(json_object_get(g_ptr_array_index(f->keep, f->keep->len - 1), "warning"));
	g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
}

static void test_state_file_written(fixture *f, gconstpointer data)
{
	json_error_t error;
	json_t *root;
	make_rooms(f);
	flush_state(f);
	root = json_load_file(f->path, 0, &error);
	g_assert_nonnull(root);
	g_assert_cmpint(json_integer_value(json_object_get(root, "version")), ==, AH_PERSIST_VERSION);
	g_assert_cmpuint(json_array_size(json_object_get(root, "tenants")), ==, 2);
	g_assert_cmpuint(json_array_size(json_object_get(root, "rooms")), ==, 2);
	json_decref(root);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("/engine/admin/crud", test_admin_crud);
	ADD("/engine/admin/set-capacity", test_admin_set_capacity);
	ADD("/engine/errors/every-code-changes-nothing", test_errors_every_code);
	ADD("/engine/errors/persist-failure-warns", test_persist_failure_warns);
	ADD("/engine/auth/admin-key", test_auth_admin_key);
	ADD("/engine/auth/tenant-isolation", test_auth_tenant_isolation);
	ADD("/engine/state/restart-keeps-tenants-and-rooms", test_restart_keeps_state);
	ADD("/engine/state/refuses-bad-state-file", test_new_refuses_bad_state);
	ADD("/engine/state/file-written", test_state_file_written);
	return g_test_run();
}
