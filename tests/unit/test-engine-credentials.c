/* allhands: engine scenario tests of credentials and abuse (issue 12, section 4): the failure
 * throttle of pins, secrets and tokens per Janus session and per room, tenant and node; the
 * per-session bound on queued joins; the default node queue bound; the credentials' minimum
 * lengths; the signing keys of tenants from an older state file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>

#include "allhands/persist.h"
#include "allhands/throttle.h"
#include "allhands/token.h"

#include "engine-fixture.h"

#define REAL_NOW G_GINT64_CONSTANT(1800000000)

/* The fixture's rooms and acme/pinned, with pin 'pin-4321' and presenter secret 'pinned-presenter'. */
static void make_pin_room(fixture *f)
{
	make_rooms(f);
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'pinned', 'max_attendees': 100, "
		"'pin': 'pin-4321', 'presenter_secret': 'pinned-presenter'}"));
	clear(f);
}

static json_t *join_pin(fixture *f, guint64 conn, const char *pin)
{
	char *text = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'pinned', 'pin': '%s'}", pin);
	json_t *reply = send(f, conn, text);
	g_free(text);
	return reply;
}

static void assert_throttled(const json_t *reply, const char *scope)
{
	assert_error(reply, AH_ERR_TOO_MANY_FAILURES);
	g_assert_cmpint(num(reply, "retry_after_ms"), >, 0);
	g_assert_cmpstr(str(reply, "scope"), ==, scope);
}

static json_t *status_failures(fixture *f, const char *table, const char *tenant, const char *room)
{
	json_t *array = json_object_get(admin(f, "{'request': 'status'}"), table);
	size_t i;
	json_t *o;
	if (tenant == NULL)
		return json_object_get(json_object_get(admin(f, "{'request': 'status'}"), "node"), "failures");
	json_array_foreach(array, i, o)
		if (g_strcmp0(str(o, "tenant"), tenant) == 0 && (room == NULL || g_strcmp0(str(o, "room"), room) == 0))
			return json_object_get(o, "failures");
	g_assert_not_reached();
}

/* One Janus session guessing a room's pin: AH_FAIL_SESSION_BURST wrong pins, then refused without
 * the pin being looked at (the right one too) until the interval has passed. */
static void test_session_pin(fixture *f, gconstpointer data)
{
	json_t *reply;
	make_pin_room(f);
	for (guint64 conn = 1; conn <= 3; conn++)
		ah_engine_set_conn_session(f->engine, conn, 77);
	for (guint i = 0; i < AH_FAIL_SESSION_BURST; i++)
		assert_error(join_pin(f, 1 + i % 2, "0000"), AH_ERR_WRONG_PIN);
	reply = join_pin(f, 3, "pin-4321");
	assert_throttled(reply, "session");
	g_assert_cmpint(num(reply, "retry_after_ms"), ==, AH_FAIL_SESSION_INTERVAL_S * 1000);
	/* another session is not concerned */
	assert_event(join_pin(f, 4, "pin-4321"), "admitted");
	f->now += AH_FAIL_SESSION_INTERVAL_S * SEC;
	assert_event(join_pin(f, 3, "pin-4321"), "admitted");
	/* the room's figures in status */
	reply = status_failures(f, "rooms", "acme", "pinned");
	g_assert_cmpint(num(reply, "failed"), ==, AH_FAIL_SESSION_BURST);
	g_assert_cmpint(num(reply, "refused"), ==, 0);
	reply = status_failures(f, "rooms", NULL, NULL);
	g_assert_cmpint(num(reply, "failed"), ==, AH_FAIL_SESSION_BURST);
	g_assert_cmpint(num(reply, "refused"), ==, 1);
	g_assert_cmpint(num(reply, "sessions_tracked"), ==, 1);
}

/* Many sessions guessing one room's pin (or presenter secret): the room's bucket stops them all,
 * and a room of another tenant is not concerned. */
static void test_room_guessing(fixture *f, gconstpointer data)
{
	json_t *reply;
	guint64 conn = 1;
	make_pin_room(f);
	for (guint i = 0; i < AH_FAIL_SCOPE_BURST; i++, conn++) {
		if (i % 2 == 0)
			assert_error(join_pin(f, conn, "guess"), AH_ERR_WRONG_PIN);
		else
			assert_error(send(f, conn, "{'request': 'join', 'tenant': 'acme', 'room': 'pinned', 'ptype': 'presenter', "
				"'presenter_secret': 'guess'}"), AH_ERR_WRONG_SECRET);
	}
	reply = join_pin(f, conn++, "pin-4321");
	assert_throttled(reply, "room");
	g_assert_cmpint(num(reply, "retry_after_ms"), ==, AH_FAIL_SCOPE_INTERVAL_S * 1000);
	reply = status_failures(f, "rooms", "acme", "pinned");
	g_assert_cmpint(num(reply, "failed"), ==, AH_FAIL_SCOPE_BURST);
	g_assert_cmpint(num(reply, "refused"), ==, 1);
	g_assert_cmpint(num(reply, "retry_after_ms"), ==, AH_FAIL_SCOPE_INTERVAL_S * 1000);
	/* a room without a pin: no credential, no throttle */
	assert_event(join_attendee(f, conn++), "admitted");
	f->now += AH_FAIL_SCOPE_INTERVAL_S * SEC;
	assert_event(join_pin(f, conn++, "pin-4321"), "admitted");
}

/* tenant_secret over a plugin handle: throttled per tenant; admin_key per node. */
static void test_tenant_secret_and_admin_key(fixture *f, gconstpointer data)
{
	guint64 conn = 1;
	make_rooms(f);
	for (guint i = 0; i < AH_FAIL_SCOPE_BURST; i++, conn++)
		assert_error(send(f, conn, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'guess'}"),
			AH_ERR_UNAUTHORIZED);
	assert_throttled(send(f, conn++, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}"),
		"tenant");
	assert_success(send(f, conn++, "{'request': 'list_rooms', 'tenant': 'globex', 'tenant_secret': 'globex-tenant-secret'}"));
	g_assert_cmpint(num(status_failures(f, "tenants", "acme", NULL), "failed"), ==, AH_FAIL_SCOPE_BURST);
	for (guint i = 0; i < AH_FAIL_SCOPE_BURST; i++, conn++)
		assert_error(send(f, conn, "{'request': 'list_rooms', 'admin_key': 'guess'}"), AH_ERR_UNAUTHORIZED);
	assert_throttled(send(f, conn++, "{'request': 'list_rooms', 'admin_key': 'op-key'}"), "node");
	/* the Admin API is not throttled (Janus checked its admin_secret) */
	assert_success(admin(f, "{'request': 'list_rooms'}"));
	g_assert_cmpint(num(json_object_get(status_failures(f, "rooms", NULL, NULL), "admin_key"), "failed"), ==,
		AH_FAIL_SCOPE_BURST);
	f->now += AH_FAIL_SCOPE_INTERVAL_S * SEC;
	assert_success(send(f, conn++, "{'request': 'list_rooms', 'admin_key': 'op-key'}"));
	assert_success(send(f, conn++, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}"));
}

/* Bad tokens throttle their session, not the tenant: nobody can lock a tenant's token holders out. */
static void test_tokens(fixture *f, gconstpointer data)
{
	json_t *reply;
	char *good;
	make_rooms(f);
	ah_engine_set_clock_offset(f->engine, REAL_NOW * SEC - f->now);
	reply = admin(f, "{'request': 'get_signing_key', 'tenant': 'acme'}");
	good = ah_token_mint(str(reply, "signing_key"), "acme", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 600, 0);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'tokens': 'required'}"));
	for (guint64 conn = 1; conn <= 2; conn++)
		ah_engine_set_conn_session(f->engine, conn, 5);
	for (guint i = 0; i < AH_FAIL_SESSION_BURST; i++)
		assert_error(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'token': 'a.b.c'}"),
			AH_ERR_TOKEN_MALFORMED);
	reply = json_pack("{s:s, s:s, s:s, s:s}", "request", "join", "tenant", "acme", "room", "allhands", "token", good);
	ah_engine_handle_message(f->engine, 2, reply, NULL, NULL, 0, f->now, f->outs);
	json_decref(reply);
	assert_throttled(((ah_out *)g_ptr_array_index(f->outs, f->outs->len - 1))->body, "session");
	clear(f);
	reply = json_pack("{s:s, s:s, s:s, s:s}", "request", "join", "tenant", "acme", "room", "allhands", "token", good);
	ah_engine_handle_message(f->engine, 3, reply, NULL, NULL, 0, f->now, f->outs);
	json_decref(reply);
	assert_event(((ah_out *)g_ptr_array_index(f->outs, 0))->body, "admitted");
	clear(f);
	g_assert_cmpint(num(status_failures(f, "tenants", "acme", NULL), "token_failures"), ==, AH_FAIL_SESSION_BURST);
	g_free(good);
}

/* Idle session buckets are forgotten: the table does not grow without end. It is pruned when it
 * has doubled since the last time (amortized O(1) per failure), so only idle buckets go. */
static void test_session_table_pruned(fixture *f, gconstpointer data)
{
	json_t *failures;
	make_rooms(f);
	for (guint64 conn = 1; conn <= 1100; conn++)
		assert_error(send(f, conn, "{'request': 'list_rooms', 'tenant': 'nobody', 'tenant_secret': 'guess'}"),
			AH_ERR_UNAUTHORIZED);
	clear(f);
	failures = status_failures(f, "rooms", NULL, NULL);
	g_assert_cmpint(num(failures, "sessions_tracked"), ==, 1100);
	g_assert_cmpint(num(failures, "sessions_throttled"), ==, 0);
	/* one interval later those 1100 owe nothing: the next prune forgets them all */
	f->now += AH_FAIL_SESSION_INTERVAL_S * SEC;
	for (guint64 conn = 2001; conn <= 3000; conn++)
		assert_error(send(f, conn, "{'request': 'list_rooms', 'tenant': 'nobody', 'tenant_secret': 'guess'}"),
			AH_ERR_UNAUTHORIZED);
	clear(f);
	g_assert_cmpint(num(status_failures(f, "rooms", NULL, NULL), "sessions_tracked"), ==, 1000);
}

/* One Janus session holds at most max_queued_per_session queued attendees; its other handles are
 * refused (too_many_queued) and nothing changes; another session queues as usual. */
static void test_queued_per_session(fixture *f, gconstpointer data)
{
	json_t *reply;
	ah_engine_free(f->engine);
	f->config.max_queued_per_session = 2;
	f->engine = engine_new(&f->config);
	make_rooms(f);
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 0}"));
	for (guint64 conn = 1; conn <= 4; conn++)
		ah_engine_set_conn_session(f->engine, conn, 9);
	assert_event(join_attendee(f, 1), "queued");
	assert_event(join_attendee(f, 2), "queued");
	clear(f);
	reply = join_attendee(f, 3);
	assert_error(reply, AH_ERR_TOO_MANY_QUEUED);
	g_assert_cmpuint(f->outs->len, ==, 1);
	g_assert_cmpint(node_count(f, "queued"), ==, 2);
	assert_event(join_attendee(f, 5), "queued");
	/* a presenter of the same session is not concerned */
	assert_event(join_presenter(f, 4), "joined");
	assert_event(send(f, 1, "{'request': 'leave'}"), "left");
	assert_event(join_attendee(f, 3), "queued");
	/* a handle gone frees its place too */
	ah_engine_conn_gone(f->engine, 2, f->now, f->outs);
	assert_event(join_attendee(f, 2), "queued");
}

/* Issue 12: max_queued defaulted to no bound. */
static void test_max_queued_default(fixture *f, gconstpointer data)
{
	ah_admission_config c;
	ah_admission_config_defaults(&c);
	g_assert_cmpuint(c.max_queued, ==, AH_MAX_QUEUED_DEFAULT);
	g_assert_cmpuint(AH_MAX_QUEUED_DEFAULT, >, 0);
	g_assert_cmpint(num(json_object_get(admin(f, "{'request': 'status'}"), "node"), "max_queued"), ==, AH_MAX_QUEUED_DEFAULT);
	g_assert_cmpuint(AH_QUEUED_PER_SESSION_DEFAULT, >, 0);
}

/* Minimum lengths: tenant secret 16, presenter and priority secrets 8, pin 4 ("" removes a pin or
 * a priority secret). */
static void test_minimum_lengths(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_error(admin(f, "{'request': 'create_tenant', 'tenant': 'x', 'max_participants': 1, 'secret': '0123456789abcde'}"),
		AH_ERR_INVALID_ELEMENT);
	assert_success(admin(f, "{'request': 'create_tenant', 'tenant': 'x', 'max_participants': 1, 'secret': '0123456789abcdef'}"));
	assert_error(admin(f, "{'request': 'edit_tenant', 'tenant': 'x', 'secret': 's'}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'create_room', 'tenant': 'x', 'room': 'r', 'max_attendees': 1, "
		"'presenter_secret': '1234567'}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'create_room', 'tenant': 'x', 'room': 'r', 'max_attendees': 1, "
		"'presenter_secret': '12345678', 'pin': '123'}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'create_room', 'tenant': 'x', 'room': 'r', 'max_attendees': 1, "
		"'presenter_secret': '12345678', 'priority_secret': 'vip'}"), AH_ERR_INVALID_ELEMENT);
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'x', 'room': 'r', 'max_attendees': 1, "
		"'presenter_secret': '12345678', 'pin': '1234', 'priority_secret': ''}"));
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'x', 'room': 'r', 'pin': '12'}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'x', 'room': 'r', 'presenter_secret': 'p'}"),
		AH_ERR_INVALID_ELEMENT);
	assert_success(admin(f, "{'request': 'edit_room', 'tenant': 'x', 'room': 'r', 'pin': ''}"));
}

/* A version 1 state file (secrets of any length, no signing keys) still loads: every tenant gets a
 * generated key, saved at once (version 2), the same after a restart; a token signed with the
 * tenant secret (what version 1 took) is refused. */
static void test_version1_migration(fixture *f, gconstpointer data)
{
	static const char v1[] = "{\"version\": 1, \"tenants\": [{\"tenant\": \"acme\", \"max_participants\": 10, "
		"\"secret\": \"s\"}], \"rooms\": [{\"tenant\": \"acme\", \"room\": \"allhands\", \"max_attendees\": 5, "
		"\"presenter_secret\": \"p\", \"tokens\": \"required\"}]}";
	char *text = NULL, *old_token, *new_token;
	json_t *saved, *reply;
	const char *key;
	ah_engine_free(f->engine);
	g_assert_true(g_file_set_contents(f->path, v1, -1, NULL));
	f->engine = engine_new(&f->config);
	ah_engine_set_clock_offset(f->engine, REAL_NOW * SEC - f->now);
	g_assert_true(g_file_get_contents(f->path, &text, NULL, NULL));
	saved = keep(f, json_loads(text, 0, NULL));
	g_free(text);
	g_assert_cmpint(num(saved, "version"), ==, AH_PERSIST_VERSION);
	key = str(json_array_get(json_object_get(saved, "tenants"), 0), "signing_key");
	g_assert_true(ah_token_key_valid(key));
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
	ah_engine_set_clock_offset(f->engine, REAL_NOW * SEC - f->now);
	reply = admin(f, "{'request': 'get_signing_key', 'tenant': 'acme'}");
	g_assert_cmpstr(str(reply, "signing_key"), ==, key);
	/* the short credentials of the old file still work */
	assert_success(send(f, 9, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 's'}"));
	old_token = ah_token_mint("s", "acme", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 600, 0);
	new_token = ah_token_mint(key, "acme", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 600, 0);
	text = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'token': '%s'}", old_token);
	assert_error(send(f, 1, text), AH_ERR_TOKEN_SIGNATURE);
	g_free(text);
	text = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'token': '%s'}", new_token);
	assert_event(send(f, 1, text), "admitted");
	g_free(text);
	g_free(old_token);
	g_free(new_token);
	/* a version 2 file without a tenant's key, or with a malformed one, is refused whole */
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
	assert_state_file_refused(f, "{\"version\": 2, \"tenants\": [{\"tenant\": \"acme\", \"max_participants\": 10, "
		"\"secret\": \"acme-tenant-secret\"}], \"rooms\": []}");
	assert_state_file_refused(f, "{\"version\": 2, \"tenants\": [{\"tenant\": \"acme\", \"max_participants\": 10, "
		"\"secret\": \"acme-tenant-secret\", \"signing_key\": \"ABCDEF\"}], \"rooms\": []}");
	assert_state_file_refused(f, "{\"version\": 3, \"tenants\": [], \"rooms\": []}");
}

static const struct {
	const char *path;
	void (*test)(fixture *f, gconstpointer data);
} tests[] = {
	{ "/engine/credentials/session-pin", test_session_pin },
	{ "/engine/credentials/room-guessing", test_room_guessing },
	{ "/engine/credentials/tenant-secret-admin-key", test_tenant_secret_and_admin_key },
	{ "/engine/credentials/tokens", test_tokens },
	{ "/engine/credentials/session-table-pruned", test_session_table_pruned },
	{ "/engine/credentials/queued-per-session", test_queued_per_session },
	{ "/engine/credentials/max-queued-default", test_max_queued_default },
	{ "/engine/credentials/minimum-lengths", test_minimum_lengths },
	{ "/engine/credentials/version1-migration", test_version1_migration },
};

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(tests); i++)
		g_test_add(tests[i].path, fixture, NULL, setup, tests[i].test, teardown);
	return g_test_run();
}
