/* allhands: tests of the cluster seat ledger (include/allhands/ledger-redis.h, plugin/redis/ledger*.lua)
 * against a real redis-server that each test starts on a Unix socket in a temporary folder, driven with
 * hiredis's synchronous API (here only: the plugin's Redis client is plugin/redis/client.c). Several
 * nodes are simulated by node ids; time is the now_ms argument, stepped by hand. The random
 * interleavings are in test-ledger-props.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>
#include <hiredis/hiredis.h>

#include "allhands/ledger-redis.h"
#include "allhands/validate.h"
#include "ledger-fixture.h"

/* --- Pure parts: keys, builders, replies. */

static void test_keys(void)
{
	g_autofree char *caps = ah_ledger_key_caps("acme-1.x_y");
	g_autofree char *node = ah_ledger_key_node("acme", "node-7");
	g_autofree char *tenants = ah_ledger_key_node_tenants("node-7");
	g_autofree char *room = ah_ledger_field_room("all.hands");
	g_autofree char *stage = ah_ledger_field_room(NULL);
	g_autofree char *longest = g_strnfill(AH_ID_MAX_LEN, 'a');
	g_autofree char *too_long = g_strnfill(AH_ID_MAX_LEN + 1, 'a');
	g_autofree char *longest_key = ah_ledger_key_seats(longest);
	const char *bad[] = { "", "a{b", "a}b", "{a}", "a:b", "a b", "a\nb", "é", "a*", too_long };
	g_assert_cmpstr(caps, ==, "ah:{acme-1.x_y}:caps");
	g_assert_cmpstr(node, ==, "ah:{acme}:node:node-7");
	g_assert_cmpstr(tenants, ==, "ah:node:{node-7}:tenants");
	g_assert_cmpstr(room, ==, "room:all.hands");
	g_assert_cmpstr(stage, ==, "stage");
	g_assert_nonnull(longest_key);
	/* Nothing that could open or close a hash tag, or add a colon, ever makes a key. */
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_null(ah_ledger_key_caps(bad[i]));
		g_assert_null(ah_ledger_key_seats(bad[i]));
		g_assert_null(ah_ledger_key_node(bad[i], "n"));
		g_assert_null(ah_ledger_key_node("t", bad[i]));
		g_assert_null(ah_ledger_key_node_tenants(bad[i]));
		g_assert_null(ah_ledger_field_room(bad[i]));
	}
	g_assert_null(ah_ledger_key_caps(NULL));
	g_assert_null(ah_ledger_key_node("t", NULL));
}

static void test_builders(void)
{
	ah_ledger_stamp s = { "0123456789abcdef0123456789abcdef01234567", 1765000000000, 5000 };
	ah_ledger_stamp bad_run = { "run id", 1, 0 }, bad_now = { "r", 0, 0 }, bad_grace = { "r", 1, 86400001 };
	ah_ledger_room_count rooms[] = { { "a", 3 }, { "b", 0 } };
	ah_ledger_room_count twice[] = { { "a", 3 }, { "a", 1 } };
	ah_ledger_room_count negative[] = { { "a", -1 } };
	ah_ledger_room_count bad_room[] = { { "a}", 1 } };
	ah_ledger_error err = AH_LEDGER_ERR_OK;
	ah_ledger_cmd *cmd = ah_ledger_claim_cmd("acme", "hall", "n1", 5, &s, &err);
	const char *claim_argv[] = { "EVALSHA", ah_ledger_script_sha1(AH_LEDGER_CLAIM), "3", "ah:{acme}:caps",
		"ah:{acme}:seats", "ah:{acme}:node:n1", "hall", "5", s.run_id, "1765000000000", "5000" };
	const char *sync_argv[] = { "EVALSHA", ah_ledger_script_sha1(AH_LEDGER_SYNC), "3", "ah:{acme}:caps",
		"ah:{acme}:seats", "ah:{acme}:node:n2", s.run_id, "1765000000000", "5000", "2", "a", "3", "b", "0" };

	g_assert_nonnull(cmd);
	g_assert_cmpuint(cmd->argv->len, ==, G_N_ELEMENTS(claim_argv));
	for (guint i = 0; i < cmd->argv->len; i++)
		g_assert_cmpstr(cmd->argv->pdata[i], ==, claim_argv[i]);
	ah_ledger_cmd_use_eval(cmd);
	g_assert_cmpstr(cmd->argv->pdata[0], ==, "EVAL");
	g_assert_cmpstr(cmd->argv->pdata[1], ==, ah_ledger_script_source(AH_LEDGER_CLAIM));
	ah_ledger_cmd_free(cmd);

	cmd = ah_ledger_sync_cmd("acme", "n2", &s, 2, rooms, G_N_ELEMENTS(rooms), &err);
	g_assert_nonnull(cmd);
	g_assert_cmpuint(cmd->argv->len, ==, G_N_ELEMENTS(sync_argv));
	for (guint i = 0; i < cmd->argv->len; i++)
		g_assert_cmpstr(cmd->argv->pdata[i], ==, sync_argv[i]);
	ah_ledger_cmd_free(cmd);

	cmd = ah_ledger_release_cmd("acme", NULL, "n1", 1, &err);
	g_assert_cmpstr(cmd->argv->pdata[6], ==, "");
	g_assert_cmpuint(cmd->argv->len, ==, 8);
	ah_ledger_cmd_free(cmd);
	cmd = ah_ledger_reclaim_cmd("acme", "n1", &err);
	g_assert_cmpuint(cmd->argv->len, ==, 6);
	ah_ledger_cmd_free(cmd);
	g_assert_cmpint(err, ==, AH_LEDGER_ERR_OK);

	/* Out of range or not an id: nothing is built. */
#define REFUSED(call) do { err = AH_LEDGER_ERR_OK; g_assert_null(call); \
		g_assert_cmpint(err, ==, AH_LEDGER_ERR_BADARG); } while (0)
	REFUSED(ah_ledger_claim_cmd("acme", "hall", "n1", 0, &s, &err));
	REFUSED(ah_ledger_claim_cmd("acme", "hall", "n1", -3, &s, &err));
	REFUSED(ah_ledger_claim_cmd("acme", "hall", "n1", AH_CAP_MAX + 1, &s, &err));
	REFUSED(ah_ledger_claim_cmd("ac{me}", "hall", "n1", 1, &s, &err));
	REFUSED(ah_ledger_claim_cmd("acme", "", "n1", 1, &s, &err));
	REFUSED(ah_ledger_claim_cmd("acme", "hall", "n:1", 1, &s, &err));
	REFUSED(ah_ledger_claim_cmd("acme", "hall", "n1", 1, &bad_run, &err));
	REFUSED(ah_ledger_claim_cmd("acme", "hall", "n1", 1, &bad_now, &err));
	REFUSED(ah_ledger_claim_cmd("acme", "hall", "n1", 1, &bad_grace, &err));
	REFUSED(ah_ledger_claim_cmd("acme", "hall", "n1", 1, NULL, &err));
	REFUSED(ah_ledger_release_cmd("acme", "hall", "n1", 0, &err));
	REFUSED(ah_ledger_release_cmd("acme", "h{a}ll", "n1", 1, &err));
	REFUSED(ah_ledger_sync_cmd("acme", "n1", &s, -1, NULL, 0, &err));
	REFUSED(ah_ledger_sync_cmd("acme", "n1", &s, 0, twice, G_N_ELEMENTS(twice), &err));
	REFUSED(ah_ledger_sync_cmd("acme", "n1", &s, 0, negative, 1, &err));
	REFUSED(ah_ledger_sync_cmd("acme", "n1", &s, 0, bad_room, 1, &err));
	REFUSED(ah_ledger_sync_cmd("acme", "n1", &s, 0, NULL, 1, &err));
	REFUSED(ah_ledger_reclaim_cmd("acme", "", &err));
#undef REFUSED
}

static void test_replies(void)
{
	const gint64 claim_ok[] = { -1, 3, 2, 77 }, claim_bad[] = { -2, 3, 2, 77 }, negative[] = { 1, -1, 0, 0 };
	const gint64 sync_ok[] = { 5, -4, 4, 0, 0, 9 };
	ah_ledger_claim_reply c;
	ah_ledger_release_reply r;
	ah_ledger_sync_reply s;
	ah_ledger_reclaim_reply k;
	g_assert_cmpint(ah_ledger_claim_parse(claim_ok, 4, &c), ==, AH_LEDGER_ERR_OK);
	g_assert_cmpint(c.granted, ==, AH_LEDGER_REBUILDING);
	g_assert_cmpint(c.ready_at_ms, ==, 77);
	g_assert_cmpint(ah_ledger_claim_parse(claim_ok, 3, &c), ==, AH_LEDGER_ERR_REPLY);
	g_assert_cmpint(ah_ledger_claim_parse(claim_bad, 4, &c), ==, AH_LEDGER_ERR_REPLY);
	g_assert_cmpint(ah_ledger_claim_parse(NULL, 0, &c), ==, AH_LEDGER_ERR_REPLY);
	g_assert_cmpint(ah_ledger_release_parse(negative, 4, &r), ==, AH_LEDGER_ERR_REPLY);
	g_assert_cmpint(ah_ledger_sync_parse(sync_ok, 6, &s), ==, AH_LEDGER_ERR_OK);
	g_assert_cmpint(s.tenant_change, ==, -4);
	g_assert_cmpint(ah_ledger_sync_parse(sync_ok, 5, &s), ==, AH_LEDGER_ERR_REPLY);
	g_assert_cmpint(ah_ledger_reclaim_parse(sync_ok + 2, 2, &k), ==, AH_LEDGER_ERR_OK);
	g_assert_cmpint(k.released, ==, 4);
	g_assert_cmpint(ah_ledger_reclaim_parse(negative, 2, &k), ==, AH_LEDGER_ERR_REPLY);

	g_assert_cmpint(ah_ledger_error_from_reply("AHNOCAP no cap for room:b script: 1234, on @user_script:9."), ==,
		AH_LEDGER_ERR_NOCAP);
	g_assert_cmpint(ah_ledger_error_from_reply("AHBADARG want must be ..."), ==, AH_LEDGER_ERR_BADARG);
	g_assert_cmpint(ah_ledger_error_from_reply("NOSCRIPT No matching script."), ==, AH_LEDGER_ERR_NOSCRIPT);
	g_assert_cmpint(ah_ledger_error_from_reply("AHNOCAPX y"), ==, AH_LEDGER_ERR_REDIS);
	g_assert_cmpint(ah_ledger_error_from_reply("READONLY You can't write against a read only replica."), ==,
		AH_LEDGER_ERR_REDIS);
	g_assert_cmpint(ah_ledger_error_from_reply(""), ==, AH_LEDGER_ERR_REDIS);
	g_assert_cmpstr(ah_ledger_error_name(AH_LEDGER_ERR_BADCAP), ==, "badcap");
}

/* --- The scripts in a real redis-server. */

static gboolean script_cached(fixture *f, ah_ledger_script script)
{
	redisReply *reply = redisCommand(f->c, "SCRIPT EXISTS %s", ah_ledger_script_sha1(script));
	gboolean cached;
	g_assert_cmpint(reply->type, ==, REDIS_REPLY_ARRAY);
	cached = reply->element[0]->integer == 1;
	freeReplyObject(reply);
	return cached;
}

static void test_scripts_load(fixture *f, gconstpointer data)
{
	for (ah_ledger_script s = 0; s < AH_LEDGER__SCRIPTS; s++) {
		redisReply *reply = redisCommand(f->c, "SCRIPT LOAD %s", ah_ledger_script_source(s));
		g_assert_cmpint(reply->type, ==, REDIS_REPLY_STRING);
		g_assert_cmpstr(reply->str, ==, ah_ledger_script_sha1(s));
		freeReplyObject(reply);
	}
	/* A server that lost its script cache (a restart, a failover) answers NOSCRIPT; EVAL then works. */
	command(f, "SCRIPT FLUSH");
	g_assert_false(script_cached(f, AH_LEDGER_CLAIM));
	set_cap(f, "tenant", 5);
	set_cap(f, "room:a", 5);
	f->now += 1;
	g_assert_cmpint(claim(f, "a", "n1", 1).ready_at_ms, ==, f->now + GRACE);
	g_assert_true(script_cached(f, AH_LEDGER_CLAIM));
}

/* Three nodes fill the tenant's cap between them, over three rooms. */
static void test_tenant_cap(fixture *f, gconstpointer data)
{
	ah_ledger_claim_reply r;
	open_tenant(f, 10);
	set_cap(f, "room:a", 100);
	set_cap(f, "room:b", 100);
	set_cap(f, "room:c", 100);
	g_assert_cmpint(granted(f, "a", "n1", 4), ==, 4);
	g_assert_cmpint(granted(f, "b", "n2", 4), ==, 4);
	r = claim(f, "c", "n3", 4);
	g_assert_cmpint(r.granted, ==, 2);
	g_assert_cmpint(r.tenant_held, ==, 10);
	g_assert_cmpint(r.room_held, ==, 2);
	for (guint i = 0; i < 3; i++) {
		const char *node[] = { "n1", "n2", "n3" }, *room[] = { "a", "b", "c" };
		g_assert_cmpint(granted(f, room[i], node[i], 1), ==, 0);
		g_assert_cmpint(granted(f, NULL, node[i], 1), ==, 0);
	}
	g_assert_cmpint(seats(f, "tenant"), ==, 10);
	g_assert_cmpint(share(f, "n3", "room:c"), ==, 2);
	g_assert_cmpint(share(f, "n3", "tenant"), ==, 2);
	/* A seat given back is the next one granted, to any node. */
	g_assert_cmpint(release(f, "b", "n2", 1).released, ==, 1);
	g_assert_cmpint(granted(f, "a", "n3", 3), ==, 1);
	g_assert_cmpint(seats(f, "tenant"), ==, 10);
	/* The operator raises the cap: the next claims see it at once. */
	set_cap(f, "tenant", 12);
	g_assert_cmpint(granted(f, "a", "n1", 5), ==, 2);
}

static void test_room_cap(fixture *f, gconstpointer data)
{
	open_tenant(f, 100);
	set_cap(f, "room:a", 3);
	set_cap(f, "room:b", 10);
	g_assert_cmpint(granted(f, "a", "n1", 2), ==, 2);
	g_assert_cmpint(granted(f, "a", "n2", 2), ==, 1);
	g_assert_cmpint(granted(f, "a", "n3", 1), ==, 0);
	g_assert_cmpint(granted(f, "b", "n3", 4), ==, 4);
	g_assert_cmpint(seats(f, "room:a"), ==, 3);
	g_assert_cmpint(seats(f, "room:b"), ==, 4);
	g_assert_cmpint(seats(f, "tenant"), ==, 7);
	/* Tenant-only seats (presenters, backstage) take no room seat. */
	g_assert_cmpint(granted(f, NULL, "n1", 2), ==, 2);
	g_assert_cmpint(seats(f, "stage"), ==, 2);
	g_assert_cmpint(seats(f, "room:a"), ==, 3);
	g_assert_cmpint(seats(f, "tenant"), ==, 9);
	/* Lowered below what is held: nothing more until it is back under. */
	set_cap(f, "room:b", 2);
	g_assert_cmpint(claim(f, "b", "n1", 1).granted, ==, 0);
	g_assert_cmpint(release(f, "b", "n3", 2).released, ==, 2);
	g_assert_cmpint(granted(f, "b", "n1", 1), ==, 0);
	g_assert_cmpint(release(f, "b", "n3", 1).released, ==, 1);
	g_assert_cmpint(granted(f, "b", "n1", 5), ==, 1);
}

/* A claim that would cross both caps gets the smaller of the two remainders. */
static void test_both_caps(fixture *f, gconstpointer data)
{
	ah_ledger_claim_reply r;
	open_tenant(f, 10);
	set_cap(f, "room:a", 5);
	set_cap(f, "room:b", 10);
	g_assert_cmpint(granted(f, "b", "n2", 7), ==, 7);
	g_assert_cmpint(granted(f, "a", "n1", 1), ==, 1);
	r = claim(f, "a", "n3", 10); /* tenant leaves 2, room leaves 4 */
	g_assert_cmpint(r.granted, ==, 2);
	g_assert_cmpint(r.tenant_held, ==, 10);
	g_assert_cmpint(r.room_held, ==, 3);
	g_assert_cmpint(release(f, "b", "n2", 7).released, ==, 7);
	r = claim(f, "a", "n3", 10); /* now the room leaves 2, the tenant 7 */
	g_assert_cmpint(r.granted, ==, 2);
	g_assert_cmpint(r.room_held, ==, 5);
	g_assert_cmpint(r.tenant_held, ==, 5);
}

static void test_release(fixture *f, gconstpointer data)
{
	ah_ledger_release_reply r;
	open_tenant(f, 100);
	set_cap(f, "room:a", 100);
	set_cap(f, "room:b", 100);
	g_assert_cmpint(granted(f, "a", "n1", 3), ==, 3);
	g_assert_cmpint(granted(f, "a", "n2", 2), ==, 2);
	r = release(f, "a", "n1", 5);
	g_assert_cmpint(r.released, ==, 3);
	g_assert_cmpint(r.ignored, ==, 2);
	g_assert_cmpint(r.room_held, ==, 2);
	g_assert_cmpint(r.tenant_held, ==, 2);
	r = release(f, "a", "n1", 1);
	g_assert_cmpint(r.released, ==, 0);
	g_assert_cmpint(r.ignored, ==, 1);
	/* Never another node's seats, nor seats in another room. */
	g_assert_cmpint(release(f, "a", "n3", 4).released, ==, 0);
	g_assert_cmpint(release(f, "b", "n2", 4).released, ==, 0);
	g_assert_cmpint(release(f, NULL, "n2", 4).released, ==, 0);
	g_assert_cmpint(share(f, "n2", "room:a"), ==, 2);
	g_assert_cmpint(seats(f, "room:a"), ==, 2);
	g_assert_cmpint(seats(f, "tenant"), ==, 2);
	/* A node holding nothing has no hash at all. */
	r = release(f, "a", "n2", 2);
	g_assert_cmpint(r.released, ==, 2);
	g_assert_cmpint(r.tenant_held, ==, 0);
	{
		g_autoptr(GHashTable) h = hgetall(f, "ah:{" T "}:node:n2");
		g_autoptr(GHashTable) s = hgetall(f, "ah:{" T "}:seats");
		g_assert_cmpuint(g_hash_table_size(h), ==, 0);
		g_assert_false(g_hash_table_contains(s, "tenant"));
		g_assert_false(g_hash_table_contains(s, "room:a"));
	}
}

static void test_sync(fixture *f, gconstpointer data)
{
	ah_ledger_sync_reply r;
	ah_ledger_room_count up[] = { { "a", 5 }, { "c", 1 } }, none[] = { { "a", 0 } }, over[] = { { "a", 8 } };
	open_tenant(f, 10);
	set_cap(f, "room:a", 6);
	set_cap(f, "room:b", 6);
	set_cap(f, "room:c", 6);
	g_assert_cmpint(granted(f, "a", "n1", 3), ==, 3);
	g_assert_cmpint(granted(f, "b", "n1", 2), ==, 2);
	g_assert_cmpint(granted(f, "a", "n2", 1), ==, 1);
	/* n1 really holds a:5 c:1 and one presenter: a up, b dropped, c and the stage new. */
	r = sync_share(f, "n1", 1, up, G_N_ELEMENTS(up));
	g_assert_cmpint(r.tenant_held, ==, 8);
	g_assert_cmpint(r.tenant_change, ==, 2);
	g_assert_cmpint(r.corrected, ==, 2 + 2 + 1 + 1);
	g_assert_cmpint(r.tenant_over, ==, 0);
	g_assert_cmpint(r.rooms_over, ==, 0);
	g_assert_cmpint(seats(f, "room:a"), ==, 6);
	g_assert_cmpint(seats(f, "room:b"), ==, 0);
	g_assert_cmpint(seats(f, "room:c"), ==, 1);
	g_assert_cmpint(seats(f, "stage"), ==, 1);
	g_assert_cmpint(share(f, "n1", "tenant"), ==, 7);
	g_assert_cmpint(share(f, "n1", "room:b"), ==, 0);
	g_assert_cmpint(share(f, "n2", "room:a"), ==, 1);
	/* Idempotent: the heartbeat sends it again and nothing moves. */
	r = sync_share(f, "n1", 1, up, G_N_ELEMENTS(up));
	g_assert_cmpint(r.tenant_held, ==, 8);
	g_assert_cmpint(r.tenant_change, ==, 0);
	g_assert_cmpint(r.corrected, ==, 0);
	/* Down to nothing (a listed at 0, the rest left out): n1's hash is gone, n2's seat stays. */
	r = sync_share(f, "n1", 0, none, G_N_ELEMENTS(none));
	g_assert_cmpint(r.tenant_held, ==, 1);
	g_assert_cmpint(r.tenant_change, ==, -7);
	g_assert_cmpint(seats(f, "room:a"), ==, 1);
	g_assert_cmpint(seats(f, "room:c"), ==, 0);
	g_assert_cmpint(seats(f, "stage"), ==, 0);
	{
		g_autoptr(GHashTable) h = hgetall(f, "ah:{" T "}:node:n1");
		g_assert_cmpuint(g_hash_table_size(h), ==, 0);
	}
	/* A node that really holds more than the caps allow (it came back after being reclaimed) is
	 * recorded as it is; the reply says so, and claims grant nothing until it is back under. */
	g_assert_cmpint(granted(f, "b", "n3", 3), ==, 3);
	r = sync_share(f, "n1", 0, over, G_N_ELEMENTS(over));
	g_assert_cmpint(r.tenant_held, ==, 12);
	g_assert_cmpint(r.tenant_over, ==, 2);
	g_assert_cmpint(r.rooms_over, ==, 1);
	g_assert_cmpint(granted(f, "c", "n2", 1), ==, 0);
	g_assert_cmpint(granted(f, NULL, "n2", 1), ==, 0);
	g_assert_cmpint(release(f, "b", "n3", 3).released, ==, 3);
	g_assert_cmpint(granted(f, "c", "n2", 5), ==, 1);
	g_assert_cmpint(seats(f, "tenant"), ==, 10);
}

/* A node's share over thousands of rooms is one sync (O(rooms)), and rooms without a cap count as over. */
static void test_sync_many_rooms(fixture *f, gconstpointer data)
{
	const guint n = 5000;
	ah_ledger_room_count *rooms = g_new(ah_ledger_room_count, n);
	char **names = g_new0(char *, n + 1);
	ah_ledger_sync_reply r;
	open_tenant(f, 10);
	set_cap(f, "room:r0", 1);
	for (guint i = 0; i < n; i++) {
		names[i] = g_strdup_printf("r%u", i);
		rooms[i] = (ah_ledger_room_count){ names[i], 1 };
	}
	r = sync_share(f, "n1", 0, rooms, n);
	g_assert_cmpint(r.tenant_held, ==, n);
	g_assert_cmpint(r.tenant_over, ==, n - 10);
	g_assert_cmpint(r.rooms_over, ==, n - 1);
	g_assert_cmpint(reclaim(f, "n1").counters, ==, n);
	g_assert_cmpint(seats(f, "tenant"), ==, 0);
	g_assert_cmpint(seats(f, "room:r4999"), ==, 0);
	g_strfreev(names);
	g_free(rooms);
}

static void test_reclaim(fixture *f, gconstpointer data)
{
	ah_ledger_reclaim_reply r;
	open_tenant(f, 20);
	set_cap(f, "room:a", 10);
	set_cap(f, "room:b", 10);
	g_assert_cmpint(granted(f, "a", "n1", 4), ==, 4);
	g_assert_cmpint(granted(f, "b", "n1", 2), ==, 2);
	g_assert_cmpint(granted(f, NULL, "n1", 1), ==, 1);
	g_assert_cmpint(granted(f, "a", "n2", 3), ==, 3);
	r = reclaim(f, "n1");
	g_assert_cmpint(r.released, ==, 7);
	g_assert_cmpint(r.counters, ==, 3);
	g_assert_cmpint(seats(f, "tenant"), ==, 3);
	g_assert_cmpint(seats(f, "room:a"), ==, 3);
	g_assert_cmpint(seats(f, "room:b"), ==, 0);
	g_assert_cmpint(seats(f, "stage"), ==, 0);
	g_assert_cmpint(share(f, "n2", "tenant"), ==, 3);
	r = reclaim(f, "n1");
	g_assert_cmpint(r.released, ==, 0);
	g_assert_cmpint(r.counters, ==, 0);
	g_assert_cmpint(seats(f, "tenant"), ==, 3);
	/* The seats are free for the others at once. */
	g_assert_cmpint(granted(f, "a", "n2", 10), ==, 7);
	/* A reclaimed node's release finds nothing of its own to give back. */
	g_assert_cmpint(release(f, "a", "n1", 4).released, ==, 0);
	g_assert_cmpint(seats(f, "room:a"), ==, 10);
}

/* Raw calls, as a buggy or hostile caller could make them: each gets its documented error and
 * changes nothing. */
static void expect_error(fixture *f, ah_ledger_script script, const char *const *args, ah_ledger_error want,
	const char *text)
{
	GPtrArray *argv = g_ptr_array_new();
	redisReply *reply;
	g_autoptr(GHashTable) seats_before = hgetall(f, "ah:{" T "}:seats");
	g_autoptr(GHashTable) node_before = hgetall(f, "ah:{" T "}:node:n1");
	g_autoptr(GHashTable) seats_after = NULL;
	g_autoptr(GHashTable) node_after = NULL;
	g_ptr_array_add(argv, (gpointer)"EVAL");
	g_ptr_array_add(argv, (gpointer)ah_ledger_script_source(script));
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	reply = redisCommandArgv(f->c, (int)argv->len, (const char **)argv->pdata, NULL);
	g_ptr_array_unref(argv);
	g_assert_nonnull(reply);
	if (reply->type != REDIS_REPLY_ERROR)
		g_error("%s %s...: no error reply", ah_ledger_script_name(script), args[4] != NULL ? args[4] : "");
	g_test_message("%s: %s", ah_ledger_script_name(script), reply->str);
	g_assert_cmpstr(ah_ledger_error_name(ah_ledger_error_from_reply(reply->str)), ==, ah_ledger_error_name(want));
	g_assert_nonnull(strstr(reply->str, text));
	freeReplyObject(reply);
	seats_after = hgetall(f, "ah:{" T "}:seats");
	node_after = hgetall(f, "ah:{" T "}:node:n1");
	g_assert_cmpuint(g_hash_table_size(seats_after), ==, g_hash_table_size(seats_before));
	g_assert_cmpuint(g_hash_table_size(node_after), ==, g_hash_table_size(node_before));
	g_assert_cmpint(seats(f, "tenant"), ==, 3);
	g_assert_cmpint(share(f, "n1", "room:a"), ==, 3);
}

static void test_errors(fixture *f, gconstpointer data)
{
	char now[32];
	g_autofree char *big = g_strdup_printf("%d", AH_CAP_MAX + 1);
	g_autofree char *long_room = g_strnfill(AH_ID_MAX_LEN + 1, 'r');
#define K "3", "ah:{" T "}:caps", "ah:{" T "}:seats", "ah:{" T "}:node:n1"
#define CLAIM(room, want) (const char *const[]){ K, room, want, f->run, now, "3000", NULL }
#define BAD(script, want, text, ...) expect_error(f, script, (const char *const[]){ __VA_ARGS__, NULL }, want, text)
	open_tenant(f, 10);
	set_cap(f, "room:a", 5);
	g_snprintf(now, sizeof(now), "%" G_GINT64_FORMAT, f->now);
	g_assert_cmpint(granted(f, "a", "n1", 3), ==, 3);

	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", "0"), AH_LEDGER_ERR_BADARG, "want must be an integer 1..1000000");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", "-2"), AH_LEDGER_ERR_BADARG, "want must be");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", big), AH_LEDGER_ERR_BADARG, "want must be");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", "1.5"), AH_LEDGER_ERR_BADARG, "want must be");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", "1e3"), AH_LEDGER_ERR_BADARG, "want must be");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", "0x10"), AH_LEDGER_ERR_BADARG, "want must be");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", " 2"), AH_LEDGER_ERR_BADARG, "want must be");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", "two"), AH_LEDGER_ERR_BADARG, "want must be");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", ""), AH_LEDGER_ERR_BADARG, "want must be");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a}", "1"), AH_LEDGER_ERR_BADARG, "room must be 1 to 64 characters");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a:b", "1"), AH_LEDGER_ERR_BADARG, "room must be");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM(long_room, "1"), AH_LEDGER_ERR_BADARG, "room must be");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("b", "1"), AH_LEDGER_ERR_NOCAP, "no cap for room:b");
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADARG, "run_id must be", K, "a", "1", "", now, "3000");
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADARG, "run_id must be", K, "a", "1", "a-b", now, "3000");
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADARG, "now_ms must be", K, "a", "1", f->run, "0", "3000");
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADARG, "grace_ms must be", K, "a", "1", f->run, now, "-1");
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADARG, "grace_ms must be", K, "a", "1", f->run, now, "86400001");
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADARG, "claim takes room, want", K, "a", "1", f->run, now);
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADARG, "claim takes room, want", K, "a", "1", f->run, now, "3000", "x");
	/* Keys: of two tenants, a tenant id that breaks the hash tag, too few. */
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADKEY, "keys must be", "3", "ah:{" T "}:caps", "ah:{other}:seats",
		"ah:{" T "}:node:n1", "a", "1", f->run, now, "3000");
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADKEY, "keys must be", "3", "ah:{" T "}:caps", "ah:{" T "}:seats",
		"ah:{other}:node:n1", "a", "1", f->run, now, "3000");
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADKEY, "keys must be", "3", "ah:{a}b}:caps", "ah:{a}b}:seats",
		"ah:{a}b}:node:n1", "a", "1", f->run, now, "3000");
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADKEY, "keys must be", "3", "ah:{" T "}:caps", "ah:{" T "}:seats",
		"ah:{" T "}:node:", "a", "1", f->run, now, "3000");
	BAD(AH_LEDGER_CLAIM, AH_LEDGER_ERR_BADKEY, "keys must be", "2", "ah:{" T "}:caps", "ah:{" T "}:seats",
		"a", "1", f->run, now, "3000");
	BAD(AH_LEDGER_RELEASE, AH_LEDGER_ERR_BADARG, "n must be an integer 1..1000000", K, "a", "0");
	BAD(AH_LEDGER_RELEASE, AH_LEDGER_ERR_BADARG, "release takes room, n", K, "a");
	BAD(AH_LEDGER_SYNC, AH_LEDGER_ERR_BADARG, "room, count pairs", K, f->run, now, "3000", "0", "a");
	BAD(AH_LEDGER_SYNC, AH_LEDGER_ERR_BADARG, "listed twice", K, f->run, now, "3000", "0", "a", "1", "a", "2");
	BAD(AH_LEDGER_SYNC, AH_LEDGER_ERR_BADARG, "room must be", K, f->run, now, "3000", "0", "", "1");
	BAD(AH_LEDGER_SYNC, AH_LEDGER_ERR_BADARG, "count must be", K, f->run, now, "3000", "0", "a", "-1");
	BAD(AH_LEDGER_SYNC, AH_LEDGER_ERR_BADARG, "stage must be", K, f->run, now, "3000", "x");
	BAD(AH_LEDGER_RECLAIM, AH_LEDGER_ERR_BADARG, "reclaim takes no arguments", K, "x");
	/* Caps: missing (not defined yet, or lost) and corrupt. */
	command(f, "HSET ah:{" T "}:caps room:a 5x");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", "1"), AH_LEDGER_ERR_BADCAP, "the cap for room:a is not an integer");
	command(f, "HSET ah:{" T "}:caps room:a 5");
	command(f, "HDEL ah:{" T "}:caps tenant");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("a", "1"), AH_LEDGER_ERR_NOCAP, "no cap for the tenant");
	expect_error(f, AH_LEDGER_CLAIM, CLAIM("", "1"), AH_LEDGER_ERR_NOCAP, "no cap for the tenant");
#undef BAD
#undef CLAIM
#undef K
}

/* --- Rebuild: Redis loses the ledger (or its latest writes); the nodes are the truth. */

typedef enum { LOSS_FLUSHALL, LOSS_RESTART_EMPTY, LOSS_LATEST_WRITES } loss;

static void test_rebuild(fixture *f, gconstpointer data)
{
	loss how = GPOINTER_TO_INT(data);
	ah_ledger_room_count n1[] = { { "a", 4 } }, n2[] = { { "a", 3 }, { "b", 2 } }, n3[] = { { "b", 3 } };
	g_autofree char *old_run = NULL;
	gint64 ready;
	ah_ledger_claim_reply r;
	open_tenant(f, 12);
	set_cap(f, "room:a", 8);
	set_cap(f, "room:b", 8);
	g_assert_cmpint(granted(f, "a", "n1", 4), ==, 4);
	if (how == LOSS_LATEST_WRITES)
		command(f, "SAVE"); /* what a replica had when it took over: n1's seats, not the rest */
	g_assert_cmpint(granted(f, "a", "n2", 3), ==, 3);
	g_assert_cmpint(granted(f, "b", "n2", 2), ==, 2);
	g_assert_cmpint(granted(f, "b", "n3", 3), ==, 3);
	g_assert_cmpint(seats(f, "tenant"), ==, 12);
	g_assert_cmpint(granted(f, "b", "n3", 1), ==, 0);

	old_run = g_strdup(f->run);
	if (how == LOSS_FLUSHALL) {
		command(f, "FLUSHALL");
	} else {
		GError *error = NULL;
		char *dir = g_strdup(f->redis->dir);
		disconnect(f);
		test_redis_stop(f->redis, TRUE);
		f->redis = test_redis_start(dir, &error);
		g_assert_no_error(error);
		g_free(dir);
		connect_to(f);
		g_assert_cmpstr(f->run, !=, old_run);
	}
	if (how != LOSS_LATEST_WRITES) { /* the definitions come back (not the ledger's job) */
		set_cap(f, "tenant", 12);
		set_cap(f, "room:a", 8);
		set_cap(f, "room:b", 8);
	}
	/* The ledger now shows fewer seats than the nodes hold: without the grace, the next claim would
	 * be granted above the cap. */
	g_assert_cmpint(seats(f, "tenant"), <, 12);
	g_assert_cmpint(seats(f, "tenant"), ==, how == LOSS_LATEST_WRITES ? 4 : 0);

	f->now += 10;
	r = claim(f, "b", "n3", 1);
	g_assert_cmpint(r.granted, ==, AH_LEDGER_REBUILDING);
	ready = r.ready_at_ms;
	g_assert_cmpint(ready, ==, f->now + GRACE);
	/* Every node syncs within the grace (its heartbeat); claims stay refused until ready_at, and a
	 * second node's claim does not move ready_at. */
	f->now += 400;
	g_assert_cmpint(sync_share(f, "n2", 0, n2, G_N_ELEMENTS(n2)).ready_at_ms, ==, ready);
	g_assert_cmpint(claim(f, "a", "n1", 1).granted, ==, AH_LEDGER_REBUILDING);
	f->now += 400;
	sync_share(f, "n1", 0, n1, G_N_ELEMENTS(n1));
	f->now += 400;
	g_assert_cmpint(sync_share(f, "n3", 0, n3, G_N_ELEMENTS(n3)).tenant_held, ==, 12);
	f->now = ready - 1;
	g_assert_cmpint(claim(f, "b", "n3", 1).granted, ==, AH_LEDGER_REBUILDING);
	g_assert_cmpint(seats(f, "tenant"), ==, 12);

	/* After the grace the ledger is the nodes' truth again: the caps hold. */
	f->now = ready;
	r = claim(f, "b", "n3", 5);
	g_assert_cmpint(r.granted, ==, 0);
	g_assert_cmpint(r.tenant_held, ==, 12);
	g_assert_cmpint(release(f, "a", "n1", 2).released, ==, 2);
	r = claim(f, "b", "n3", 5);
	g_assert_cmpint(r.granted, ==, 2);
	g_assert_cmpint(r.tenant_held, ==, 12);
	g_assert_cmpint(seats(f, "room:b"), ==, 7);
	g_assert_cmpint(share(f, "n3", "room:b"), ==, 5);

	/* A caller that reports another server's run_id (the old primary) restarts the grace: safe,
	 * never a grant on a ledger that may be stale. */
	f->now += 10;
	if (how != LOSS_FLUSHALL) { /* (FLUSHALL kept the server, and its run_id) */
		ah_ledger_stamp s = { old_run, f->now, GRACE };
		gint64 v[8];
		gsize n = ints_of(send_cmd(f, ah_ledger_claim_cmd(T, "a", "n1", 1, &s, NULL)), v, 8);
		g_assert_cmpint(n, ==, 4);
		g_assert_cmpint(v[0], ==, AH_LEDGER_REBUILDING);
		g_assert_cmpint(v[3], ==, f->now + GRACE);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ledger-redis/keys", test_keys);
	g_test_add_func("/ledger-redis/builders", test_builders);
	g_test_add_func("/ledger-redis/replies", test_replies);
#define ADD(path, fn, data) g_test_add("/ledger-redis/" path, fixture, data, setup, fn, teardown)
	ADD("scripts/load-and-noscript", test_scripts_load, NULL);
	ADD("claim/tenant-cap-across-nodes", test_tenant_cap, NULL);
	ADD("claim/room-cap", test_room_cap, NULL);
	ADD("claim/smaller-of-both-caps", test_both_caps, NULL);
	ADD("release/own-seats-only", test_release, NULL);
	ADD("sync/exact-share", test_sync, NULL);
	ADD("sync/many-rooms", test_sync_many_rooms, NULL);
	ADD("reclaim/dead-node", test_reclaim, NULL);
	ADD("errors/documented", test_errors, NULL);
	ADD("rebuild/flushall", test_rebuild, GINT_TO_POINTER(LOSS_FLUSHALL));
	ADD("rebuild/restart-empty", test_rebuild, GINT_TO_POINTER(LOSS_RESTART_EMPTY));
	ADD("rebuild/lost-latest-writes", test_rebuild, GINT_TO_POINTER(LOSS_LATEST_WRITES));
#undef ADD
	return g_test_run();
}
