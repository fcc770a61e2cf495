/* allhands: engine scenario tests of join tokens (requests.c's join side, the tenant's secret
 * rotation and the rooms' token policy). Tokens are minted with ah_token_mint; token.c's own checks
 * are in test-token.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "allhands/token.h"

#include "engine-fixture.h"

#define REAL_NOW G_GINT64_CONSTANT(1800000000) /* the engine's real time, UNIX seconds */

static void token_setup(fixture *f, gconstpointer data)
{
	setup(f, data);
	ah_engine_set_clock_offset(f->engine, REAL_NOW * SEC - f->now);
	make_rooms(f);
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
	char *t = token("acme-secret", "allhands", AH_ROLE_ATTENDEE, "u1");
	g_assert_cmpstr(str(room_info(f), "tokens"), ==, "off");
	/* off: tokens are not accepted at all, the room's credentials are */
	assert_error(join_with(f, 1, t, ""), AH_ERR_INVALID_ELEMENT);
	assert_event(join_attendee(f, 1), "admitted");
	assert_error(admin(f, "{'request': 'edit_room', 'tenant': 'acme', 'room': 'allhands', 'tokens': 'sometimes'}"),
		AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'r2', 'max_attendees': 1, "
		"'presenter_secret': 's3cret', 'tokens': 'on'}"), AH_ERR_INVALID_ELEMENT);
	g_free(t);
}

static void test_required(fixture *f, gconstpointer data)
{
	char *att = token("acme-secret", "allhands", AH_ROLE_ATTENDEE, "user-1");
	char *pre = token("acme-secret", "allhands", AH_ROLE_PRESENTER, "boss");
	json_t *room, *reply;
	set_tokens(f, "required");
	/* credentials alone are not enough */
	assert_error(join_attendee(f, 1), AH_ERR_TOKEN_REQUIRED);
	assert_error(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'presenter', "
		"'presenter_secret': 's3cret'}"), AH_ERR_TOKEN_REQUIRED);
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
	char *att = token("acme-secret", "allhands", AH_ROLE_ATTENDEE, "user-1");
	char *bad = token("globex-secret", "allhands", AH_ROLE_ATTENDEE, "user-1");
	set_tokens(f, "optional");
	assert_event(join_attendee(f, 1), "admitted");
	assert_event(join_with(f, 2, att, ""), "admitted");
	/* a bad token is refused, not ignored, even with good credentials */
	assert_error(join_with(f, 3, bad, ""), AH_ERR_TOKEN_SIGNATURE);
	assert_error(join_with(f, 3, bad, ", 'ptype': 'presenter', 'presenter_secret': 's3cret'"), AH_ERR_TOKEN_SIGNATURE);
	assert_error(join_with(f, 3, "", ""), AH_ERR_TOKEN_MALFORMED);
	g_free(att);
	g_free(bad);
}

/* The role comes from the token: ptype cannot raise it; a presenter token may join backstage or
 * as an attendee. */
static void test_roles(fixture *f, gconstpointer data)
{
	char *att = token("acme-secret", "allhands", AH_ROLE_ATTENDEE, "a");
	char *pri = token("acme-secret", "allhands", AH_ROLE_PRIORITY, "p");
	char *pre = token("acme-secret", "allhands", AH_ROLE_PRESENTER, "b");
	json_t *reply;
	set_tokens(f, "required");
	assert_error(join_with(f, 1, att, ", 'ptype': 'presenter', 'presenter_secret': 's3cret'"), AH_ERR_FORBIDDEN);
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
	t = ah_token_mint("acme-secret", "acme", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW - 60, 0);
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_EXPIRED);
	g_free(t);
	t = ah_token_mint("acme-secret", "acme", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 600, REAL_NOW + 120);
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_NOT_YET_VALID);
	g_free(t);
	t = ah_token_mint("acme-secret", "globex", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 600, 0);
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_WRONG_TENANT);
	g_free(t);
	t = token("acme-secret", "standup", AH_ROLE_PRESENTER, "u");
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_WRONG_ROOM);
	g_free(t);
	/* a globex token (its own secret) for acme's room: the signature fails first */
	t = ah_token_mint("globex-secret", "globex", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 600, 0);
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_SIGNATURE);
	g_free(t);
	t = token("acme-secret", "allhands", AH_ROLE_ATTENDEE, "");
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_CLAIMS);
	g_free(t);
	assert_error(join_with(f, 1, "eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJhY21lIn0.", ""), AH_ERR_TOKEN_ALGORITHM);
	t = g_strnfill(AH_TOKEN_MAX_LEN + 1, 'a');
	assert_error(join_with(f, 1, t, ""), AH_ERR_TOKEN_TOO_LARGE);
	g_free(t);
	g_assert_cmpuint(json_array_size(json_object_get(room_info(f), "attendees")), ==, 0);
}

/* A new secret with an overlap: the old one keeps working, for tokens and tenant_secret, until
 * the overlap ends; without an overlap it stops at once. Survives a restart. */
static void test_rotation(fixture *f, gconstpointer data)
{
	char *old = token("acme-secret", "allhands", AH_ROLE_ATTENDEE, "u");
	char *cur = token("acme-rotated", "allhands", AH_ROLE_ATTENDEE, "u");
	json_t *reply;
	set_tokens(f, "required");
	assert_error(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'secret_overlap_s': 60}"),
		AH_ERR_INVALID_ELEMENT);
	assert_error(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'secret': 'acme-rotated', "
		"'secret_overlap_s': 86401}"), AH_ERR_INVALID_ELEMENT);
	reply = admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'secret': 'acme-rotated', 'secret_overlap_s': 60}");
	assert_success(reply);
	g_assert_cmpint(num(json_object_get(reply, "tenant"), "previous_secret_until"), ==, REAL_NOW + 60);
	clear(f);
	assert_event(join_with(f, 1, old, ""), "admitted");
	assert_event(join_with(f, 2, cur, ""), "admitted");
	assert_success(send(f, 9, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-secret'}"));
	assert_success(send(f, 9, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-rotated'}"));
	/* a restart keeps the rotation */
	ah_engine_free(f->engine);
	f->engine = engine_new(&f->config);
	ah_engine_set_clock_offset(f->engine, REAL_NOW * SEC - f->now);
	assert_event(join_with(f, 3, old, ""), "admitted");
	g_assert_cmpstr(str(room_info(f), "tokens"), ==, "required");
	f->now += 60 * SEC;
	assert_error(join_with(f, 4, old, ""), AH_ERR_TOKEN_SIGNATURE);
	assert_error(send(f, 9, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-secret'}"),
		AH_ERR_UNAUTHORIZED);
	assert_event(join_with(f, 4, cur, ""), "admitted");
	/* back to the old secret without an overlap: the rotated one stops at once */
	assert_success(admin(f, "{'request': 'edit_tenant', 'tenant': 'acme', 'secret': 'acme-secret'}"));
	assert_error(join_with(f, 5, cur, ""), AH_ERR_TOKEN_SIGNATURE);
	assert_error(send(f, 9, "{'request': 'list_rooms', 'tenant': 'acme', 'tenant_secret': 'acme-rotated'}"),
		AH_ERR_UNAUTHORIZED);
	g_free(old);
	g_free(cur);
}

/* Clock skew: AH_TOKEN_SKEW_S either side, on the engine's real time. */
static void test_skew(fixture *f, gconstpointer data)
{
	char *t = ah_token_mint("acme-secret", "acme", "allhands", AH_ROLE_ATTENDEE, "u", REAL_NOW + 10,
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
	ADD_T("/engine/tokens/rotation", test_rotation);
	ADD_T("/engine/tokens/skew", test_skew);
	return g_test_run();
}
