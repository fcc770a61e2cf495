/* allhands: engine scenario tests of join tokens (requests.c's join side, the tenants' signing
 * keys and their rotation, the rooms' token policy). Tokens are minted with ah_token_mint and the
 * tenant's signing key (get_signing_key); token.c's own checks are in test-token.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>

#include "allhands/token.h"

#include "engine-fixture.h"

#define REAL_NOW G_GINT64_CONSTANT(1800000000) /* the engine's real time, UNIX seconds */

/* The tenants' signing keys, as get_signing_key gives them (token_setup). */
static char acme_key[AH_SIGNING_KEY_LEN + 1], globex_key[AH_SIGNING_KEY_LEN + 1];

static void get_key(fixture *f, const char *tenant, char *key)
{
	char *text = g_strdup_printf("{'request': 'get_signing_key', 'tenant': '%s'}", tenant);
	json_t *reply = admin(f, text);
	g_free(text);
	assert_success(reply);
	g_assert_true(ah_token_key_valid(str(reply, "signing_key")));
	g_strlcpy(key, str(reply, "signing_key"), AH_SIGNING_KEY_LEN + 1);
}

static void token_setup(fixture *f, gconstpointer data)
{
	setup(f, data);
	ah_engine_set_clock_offset(f->engine, REAL_NOW * SEC - f->now);
	make_rooms(f);
	get_key(f, "acme", acme_key);
	get_key(f, "globex", globex_key);
}

/* A token for acme, valid for an hour from the engine's real time. */
static char *token(const char *secret, const char *room, ah_token_role role, const char *sub)
{
	char *t = ah_token_mint(secret, "acme", room, role, sub, REAL_NOW + 3600, 0);
	g_assert_nonnull(t);
	return t;
}

/* Send a join with `token` and the extra elements `extra` (", 'k': 'v'..." or ""). */
static json_t *join_with(fixture *f, guint64 conn, const char *token, const char *extra)
{
	char *text = g_strdup_printf("{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'token': '%s'%s}",
		token, extra);
	json_t *reply = send(f, conn, text);
	g_free(text);
	return reply;
}

static void set_tokens(fixture *f, const char *policy)
{
	char *text = g_strdup_printf("{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'tokens': '%s'}", policy);
	json_t *reply = admin(f, text);
	g_free(text);
	assert_success(reply);
	g_assert_cmpstr(str(json_object_get(reply, "room"), "tokens"), ==, policy);
	clear(f);
}

static json_t *room_info(fixture *f)
{
	return json_object_get(admin(f, "{'request': 'room_info', 'tenant': 'acme', 'room': 'allhands'}"), "room");
}

static void test_off(fixture *f, gconstpointer data)
{
	char *t = token(acme_key, "allhands", AH_ROLE_ATTENDEE, "u1");
	g_assert_cmpstr(str(room_info(f), "tokens"), ==, "off");
	/* off: tokens are not accepted at all, the room's credentials are */
	assert_error(join_with(f, 1, t, ""), AH_ERR_INVALID_ELEMENT);
	assert_event(join_attendee(f, 1), "admitted");
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'tokens': 'sometimes'}"),
		AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r2', 'max_attendees': 1, "
		"'presenter_secret': 's3cret-presenter', 'tokens': 'on'}"), AH_ERR_INVALID_ELEMENT);
	g_free(t);
}

static void test_required(fixture *f, gconstpointer data)
{
	char *att = token(acme_key, "allhands", AH_ROLE_ATTENDEE, "user-1");
	char *pre = token(acme_key, "allhands", AH_ROLE_PRESENTER, "boss");
	json_t *room, *reply;
	set_tokens(f, "required");
	/* credentials alone are not enough */
	assert_error(join_attendee(f, 1), AH_ERR_TOKEN_REQUIRED);
	assert_error(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'presenter', "
		"'presenter_secret': 's3cret-presenter'}"), AH_ERR_TOKEN_REQUIRED);
	assert_event(join_with(f, 1, att, ", 'display': 'Ann'"), "admitted");
	/* a presenter token: presenter, no presenter_secret; ptype may be left out */
	reply = join_with(f, 2, pre, "");
	assert_event(reply, "joined");
	publish(f, 2, av, G_N_ELEMENTS(av));
	room = room_info(f);
	g_assert_cmpstr(str(json_array_get(json_object_get(room, "attendees"), 0), "sub"), ==, "user-1");
	g_assert_cmpstr(str(json_array_get(json_object_get(room, "presenters"), 0), "sub"), ==, "boss");
	/* the same token again on another handle is fine (tokens are not single-use) */
	assert_event(join_with(f, 3, att, ""), "admitted");
	g_free(att);
	g_free(pre);
}

static void test_optional(fixture *f, gconstpointer data)
{
	char *att = token(acme_key, "allhands", AH_ROLE_ATTENDEE, "user-1");
	char *bad = token(globex_key, "allhands", AH_ROLE_ATTENDEE, "user-1");
	set_tokens(f, "optional");
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_with(f, 2, att, ""), "admitted");
	/* a bad token is refused, not ignored, even with good credentials */
	assert_error(join_with(f, 3, bad, ""), AH_ERR_TOKEN_SIGNATURE);
	assert_error(join_with(f, 3, bad, ", 'ptype': 'presenter', 'presenter_secret': 's3cret-presenter'"), AH_ERR_TOKEN_SIGNATURE);
	assert_error(join_with(f, 3, "", ""), AH_ERR_TOKEN_MALFORMED);
	g_free(att);
	g_free(bad);
}

/* The role comes from the token: ptype cannot raise it; a presenter token may join backstage or
 * as an attendee. */
static void test_roles(fixture *f, gconstpointer data)
{
	char *att = token(acme_key, "allhands", AH_ROLE_ATTENDEE, "a");
	char *pri = token(acme_key, "allhands", AH_ROLE_PRIORITY, "p");
	char *pre = token(acme_key, "allhands", AH_ROLE_PRESENTER, "b");
	json_t *reply;
	set_tokens(f, "required");
	assert_error(join_with(f, 1, att, ", 'ptype': 'presenter', 'presenter_secret': 's3cret-presenter'"), AH_ERR_FORBIDDEN);
	assert_error(join_with(f, 1, att, ", 'ptype': 'backstage'"), AH_ERR_FORBIDDEN);
	assert_error(join_with(f, 1, pri, ", 'ptype': 'presenter'"), AH_ERR_FORBIDDEN);
	assert_event(join_with(f, 5, pre, ", 'ptype': 'backstage'"), "admitted");
	/* the priority class, without the room having a priority secret; priority_secret with an
	 * attendee token does not make it priority */
	assert_success(admin(f, "{'request': 'set_capacity', 'capacity': 0}"));
	assert_event(join_with(f, 1, att, ""), "queued");
	assert_event(join_with(f, 2, att, ", 'priority_secret': 'vip-pass'"), "queued");
	reply = join_with(f, 3, pri, "");
	assert_event(reply, "queued");
	g_assert_cmpint(num(reply, "position"), ==, 1);
	reply = join_with(f, 4, pre, ", 'ptype': 'attendee'");
	assert_event(reply, "queued");
	g_assert_cmpint(num(reply, "position"), ==, 4);
	g_free(att);
	g_free(pri);
	g_free(pre);
}

static void test_errors(fixture *f, gconstpointer data)
{
	char *t;
	set_tokens(f, "required");
	t = ah_token_mint(acme_key, "acme", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW - 60, 0);
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_EXPIRED);
	g_free(t);
	t = ah_token_mint(acme_key, "acme", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 600, REAL_NOW + 120);
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_NOT_YET_VALID);
	g_free(t);
	t = ah_token_mint(acme_key, "globex", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 600, 0);
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_WRONG_TENANT);
	g_free(t);
	t = token(acme_key, "standup", AH_ROLE_PRESENTER, "u");
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_WRONG_ROOM);
	g_free(t);
	/* a globex token (its own secret) for acme's room: the signature fails first */
	t = ah_token_mint(globex_key, "globex", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 600, 0);
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_SIGNATURE);
	g_free(t);
	t = token(acme_key, "allhands", AH_ROLE_ATTENDEE, "");
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_CLAIMS);
	g_free(t);
	assert_error(join_with(f, 1, "eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJhY21lIn0.", ""), AH_ERR_TOKEN_ALGORITHM);
	t = g_strnfill(AH_TOKEN_MAX_LEN + 1, 'a');
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_TOO_LARGE);
	g_free(t);
	g_assert_cmpuint(json_array_size(json_object_get(room_info(f), "attendees")), ==, 0);
}

/* Issue 12: the tenant secret (the admin password) no longer signs tokens, so a token in an
 * attendee's link allows no offline guess of it. A token signed with the secret is refused. */
static void test_secret_is_not_the_key(fixture *f, gconstpointer data)
{
	char *by_secret = token("acme-tenant-secret", "allhands", AH_ROLE_ATTENDEE, "u");
	char *by_key = token(acme_key, "allhands", AH_ROLE_ATTENDEE, "u");
	json_t *reply;
	set_tokens(f, "required");
	assert_error(join_with(f, 1, by_secret, ""), AH_ERR_TOKEN_SIGNATURE);
	assert_event(join_with(f, 2, by_key, ""), "admitted");
	g_assert_cmpstr(acme_key, !=, globex_key);
	/* create_tenant's reply carries the new tenant's key; no other reply does (but the two key requests) */
	reply = admin(f, "{'request': 'create_tenant', 'tenant': 'initech', 'max_participants': 5, "
		"'secret': 'initech-tenant-secret'}");
	assert_success(reply);
	g_assert_true(ah_token_key_valid(str(reply, "signing_key")));
	for (guint i = 0; i < 3; i++) {
		static const char *const others[] = { "{'request': 'status'}", "{'request': 'list_tenants'}",
			"{'request': 'edit_tenant', 'tenant': 'acme', 'name': 'ACME'}" };
		char *text = json_dumps(admin(f, others[i]), 0);
		g_assert_null(strstr(text, acme_key));
		free(text);
	}
	for (guint i = 0; i < f->outs->len; i++) {
		const json_t *body = ((ah_out *)g_ptr_array_index(f->outs, i))->body;
		if (body == NULL)
			continue; /* ROUTES, RECEIVER_ROUTES, KEYFRAME, CLOSE_PC */
		char *text = json_dumps(body, 0);
		g_assert_null(strstr(text, acme_key));
		free(text);
	}
	g_free(by_secret);
	g_free(by_key);
}

/* A new tenant secret with an overlap: the old one keeps authorizing tenant requests until the
 * overlap ends; tokens are not concerned (they use the signing key). */
static void test_secret_rotation(fixture *f, gconstpointer data)
{
	char *t = token(acme_key, "allhands", AH_ROLE_ATTENDEE, "u");
	json_t *reply;
	set_tokens(f, "required");
	assert_error(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'secret_overlap_s': 60}"),
		AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'secret': 'acme-rotated-secret', "
		"'secret_overlap_s': 86401}"), AH_ERR_INVALID_ELEMENT);
	reply = admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'secret': 'acme-rotated-secret', 'secret_overlap_s': 60}");
	assert_success(reply);
	g_assert_cmpint(num(json_object_get(reply, "tenant"), "previous_secret_until"), ==, REAL_NOW + 60);
	clear(f);
	assert_success(send(f, 9, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}"));
	assert_success(send(f, 9, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-rotated-secret'}"));
	f->now += 60 * SEC;
	assert_error(send(f, 9, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}"),
		AH_ERR_UNAUTHORIZED);
	/* the signing key did not change with the secret */
	assert_event(join_with(f, 1, t, ""), "admitted");
	g_free(t);
}

/* rotate_signing_key with an overlap: tokens of the old key keep working until the overlap ends;
 * without one they stop at once. Keys survive a restart; a tenant may rotate its own key but only
 * the operator may set one; get_signing_key answers the tenant's own key only. */
static void test_key_rotation(fixture *f, gconstpointer data)
{
	char *old = token(acme_key, "allhands", AH_ROLE_ATTENDEE, "u"), *cur, *next;
	char key[AH_SIGNING_KEY_LEN + 1];
	json_t *reply;
	set_tokens(f, "required");
	assert_error(admin(f, "{'request': 'rotate_signing_key', 'tenant': 'acme', 'overlap_s': 86401}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'rotate_signing_key', 'tenant': 'acme', 'signing_key': 'short'}"), AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'rotate_signing_key', 'tenant': 'nobody'}"), AH_ERR_NO_SUCH_TENANT);
	reply = send(f, 9, "{'request': 'rotate_signing_key', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', "
		"'overlap_s': 60}");
	assert_success(reply);
	g_assert_cmpint(num(reply, "previous_signing_key_until"), ==, REAL_NOW + 60);
	g_assert_cmpstr(str(reply, "signing_key"), !=, acme_key);
	g_strlcpy(key, str(reply, "signing_key"), sizeof(key));
	g_assert_cmpuint(count(f, AH_OUT_NOTIFY, 0, "signing_key_rotated"), ==, 1);
	clear(f);
	cur = token(key, "allhands", AH_ROLE_ATTENDEE, "u");
	assert_event(join_with(f, 1, old, ""), "admitted");
	assert_event(join_with(f, 2, cur, ""), "admitted");
	reply = json_array_get(json_object_get(admin(f, "{'request': 'list_tenants'}"), "tenants"), 0);
	g_assert_cmpint(num(reply, "previous_signing_key_until"), ==, REAL_NOW + 60);
	/* a tenant gets its own key, not another's; it may not choose one */
	reply = send(f, 9, "{'request': 'get_signing_key', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret'}");
	g_assert_cmpstr(str(reply, "signing_key"), ==, key);
	assert_error(send(f, 9, "{'request': 'get_signing_key', 'tenant': 'globex', 'tenant_secret': 'acme-tenant-secret'}"),
		AH_ERR_UNAUTHORIZED);
	assert_error(send(f, 9, "{'request': 'rotate_signing_key', 'tenant': 'acme', 'tenant_secret': 'acme-tenant-secret', "
		"'signing_key': '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}"), AH_ERR_FORBIDDEN);
	/* a restart keeps both keys and the overlap */
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
	ah_engine_set_clock_offset(f->engine, REAL_NOW * SEC - f->now);
	assert_event(join_with(f, 3, old, ""), "admitted");
	assert_event(join_with(f, 4, cur, ""), "admitted");
	f->now += 60 * SEC;
	assert_error(join_with(f, 5, old, ""), AH_ERR_TOKEN_SIGNATURE);
	assert_event(join_with(f, 5, cur, ""), "admitted");
	/* the operator's own key (several nodes sharing one), no overlap: the previous stops at once */
	reply = admin(f, "{'request': 'rotate_signing_key', 'tenant': 'acme', "
		"'signing_key': '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}");
	assert_success(reply);
	g_assert_null(json_object_get(reply, "previous_signing_key_until"));
	next = token("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "allhands", AH_ROLE_ATTENDEE, "u");
	assert_error(join_with(f, 6, cur, ""), AH_ERR_TOKEN_SIGNATURE);
	assert_event(join_with(f, 6, next, ""), "admitted");
	g_free(old);
	g_free(cur);
	g_free(next);
}

/* Clock skew: AH_TOKEN_SKEW_S either side, on the engine's real time. */
static void test_skew(fixture *f, gconstpointer data)
{
	char *t = ah_token_mint(acme_key, "acme", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 10,
		REAL_NOW + AH_TOKEN_SKEW_S);
	set_tokens(f, "required");
	assert_event(join_with(f, 1, t, ""), "admitted");
	f->now += (10 + AH_TOKEN_SKEW_S) * SEC;
	assert_error(join_with(f, 2, t, ""), AH_ERR_TOKEN_EXPIRED);
	g_free(t);
}

#define ADD_T(path, fn) g_test_add(path, fixture, NULL, token_setup, fn, teardown)

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD_T("/engine/tokens/off", test_off);
	ADD_T("/engine/tokens/required", test_required);
	ADD_T("/engine/tokens/optional", test_optional);
	ADD_T("/engine/tokens/roles", test_roles);
	ADD_T("/engine/tokens/errors", test_errors);
	ADD_T("/engine/tokens/secret-is-not-the-key", test_secret_is_not_the_key);
	ADD_T("/engine/tokens/secret-rotation", test_secret_rotation);
	ADD_T("/engine/tokens/key-rotation", test_key_rotation);
	ADD_T("/engine/tokens/skew", test_skew);
	return g_test_run();
}
