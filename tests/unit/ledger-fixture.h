/* allhands: the seat ledger tests' fixture (test-ledger-redis.c, test-ledger-props.c): a fresh real
 * redis-server per test (redis-fixture.h), the server's run_id, a clock stepped by hand, and one helper per
 * script that builds the call with the module, sends it and parses the reply, failing the test on an
 * error reply. Tenant "acme"; node ids are free strings.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef AH_TEST_LEDGER_FIXTURE_H
#define AH_TEST_LEDGER_FIXTURE_H

#include <stdarg.h>
#include <string.h>

#include <glib.h>
#include <hiredis/hiredis.h>

#include "allhands/ledger-redis.h"
#include "redis-fixture.h"

#define GRACE 3000 /* ms */
#define T "acme"

typedef struct {
	test_redis *redis;
	redisContext *c;
	char *run;  /* the server's run_id */
	gint64 now; /* ms */
} fixture;

static G_GNUC_UNUSED void connect_to(fixture *f)
{
	f->c = test_redis_connect(f->redis);
	g_assert_nonnull(f->c);
	f->run = test_redis_run_id(f->c);
	g_assert_nonnull(f->run);
	g_assert_cmpuint(strlen(f->run), ==, 40);
}

static G_GNUC_UNUSED void disconnect(fixture *f)
{
	redisFree(f->c);
	f->c = NULL;
	g_clear_pointer(&f->run, g_free);
}

static G_GNUC_UNUSED void setup(fixture *f, gconstpointer data)
{
	GError *error = NULL;
	f->redis = test_redis_start(NULL, &error);
	g_assert_no_error(error);
	connect_to(f);
	f->now = G_GINT64_CONSTANT(1765000000000);
}

static G_GNUC_UNUSED void teardown(fixture *f, gconstpointer data)
{
	disconnect(f);
	test_redis_stop(f->redis, FALSE);
}

/* A plain command whose reply is not an error. */
static G_GNUC_UNUSED void command(fixture *f, const char *format, ...)
{
	va_list ap;
	redisReply *reply;
	va_start(ap, format);
	reply = redisvCommand(f->c, format, ap);
	va_end(ap);
	g_assert_nonnull(reply);
	if (reply->type == REDIS_REPLY_ERROR)
		g_error("%s: %s", format, reply->str);
	freeReplyObject(reply);
}

static G_GNUC_UNUSED gint64 hget(fixture *f, const char *key, const char *field)
{
	redisReply *reply = redisCommand(f->c, "HGET %s %s", key, field);
	gint64 v;
	g_assert_nonnull(reply);
	g_assert_true(reply->type == REDIS_REPLY_NIL || reply->type == REDIS_REPLY_STRING);
	v = reply->type == REDIS_REPLY_NIL ? 0 : g_ascii_strtoll(reply->str, NULL, 10);
	freeReplyObject(reply);
	return v;
}

/* The whole hash as field -> value text (g_hash_table_unref). */
static G_GNUC_UNUSED GHashTable *hgetall(fixture *f, const char *key)
{
	GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	redisReply *reply = redisCommand(f->c, "HGETALL %s", key);
	g_assert_nonnull(reply);
	g_assert_cmpint(reply->type, ==, REDIS_REPLY_ARRAY);
	for (size_t i = 0; i + 1 < reply->elements; i += 2)
		g_hash_table_insert(h, g_strdup(reply->element[i]->str), g_strdup(reply->element[i + 1]->str));
	freeReplyObject(reply);
	return h;
}

static G_GNUC_UNUSED gint64 seats(fixture *f, const char *field)
{
	g_autofree char *key = ah_ledger_key_seats(T);
	return hget(f, key, field);
}

static G_GNUC_UNUSED gint64 share(fixture *f, const char *node, const char *field)
{
	g_autofree char *key = ah_ledger_key_node(T, node);
	return hget(f, key, field);
}

static G_GNUC_UNUSED void set_cap(fixture *f, const char *field, gint64 cap)
{
	g_autofree char *key = ah_ledger_key_caps(T);
	command(f, "HSET %s %s %lld", key, field, (long long)cap);
}

static G_GNUC_UNUSED ah_ledger_stamp stamp(fixture *f)
{
	return (ah_ledger_stamp){ f->run, f->now, GRACE };
}

/* Send a command built by the module; the integers of its reply, or NULL with *err for an error reply. */
static G_GNUC_UNUSED redisReply *send_cmd(fixture *f, ah_ledger_cmd *cmd)
{
	redisReply *reply;
	g_assert_nonnull(cmd);
	reply = test_ledger_send(f->c, cmd);
	ah_ledger_cmd_free(cmd);
	g_assert_nonnull(reply);
	return reply;
}

static G_GNUC_UNUSED gsize ints_of(redisReply *reply, gint64 *values, gsize max)
{
	gssize n;
	if (reply->type == REDIS_REPLY_ERROR)
		g_error("unexpected error reply: %s", reply->str);
	n = test_reply_ints(reply, values, max);
	g_assert_cmpint(n, >=, 0);
	freeReplyObject(reply);
	return (gsize)n;
}

static G_GNUC_UNUSED ah_ledger_claim_reply claim(fixture *f, const char *room, const char *node, gint64 want)
{
	ah_ledger_stamp s = stamp(f);
	ah_ledger_claim_reply r;
	gint64 v[8];
	gsize n = ints_of(send_cmd(f, ah_ledger_claim_cmd(T, room, node, want, &s, NULL)), v, 8);
	g_assert_cmpint(ah_ledger_claim_parse(v, n, &r), ==, AH_LEDGER_ERR_OK);
	return r;
}

static G_GNUC_UNUSED gint64 granted(fixture *f, const char *room, const char *node, gint64 want)
{
	return claim(f, room, node, want).granted;
}

static G_GNUC_UNUSED ah_ledger_release_reply release(fixture *f, const char *room, const char *node, gint64 n_seats)
{
	ah_ledger_release_reply r;
	gint64 v[8];
	gsize n = ints_of(send_cmd(f, ah_ledger_release_cmd(T, room, node, n_seats, NULL)), v, 8);
	g_assert_cmpint(ah_ledger_release_parse(v, n, &r), ==, AH_LEDGER_ERR_OK);
	return r;
}

static G_GNUC_UNUSED ah_ledger_sync_reply sync_share(fixture *f, const char *node, gint64 stage, const ah_ledger_room_count *rooms,
	gsize n_rooms)
{
	ah_ledger_stamp s = stamp(f);
	ah_ledger_sync_reply r;
	gint64 v[8];
	gsize n = ints_of(send_cmd(f, ah_ledger_sync_cmd(T, node, &s, stage, rooms, n_rooms, NULL)), v, 8);
	g_assert_cmpint(ah_ledger_sync_parse(v, n, &r), ==, AH_LEDGER_ERR_OK);
	return r;
}

static G_GNUC_UNUSED ah_ledger_reclaim_reply reclaim(fixture *f, const char *node)
{
	ah_ledger_reclaim_reply r;
	gint64 v[8];
	gsize n = ints_of(send_cmd(f, ah_ledger_reclaim_cmd(T, node, NULL)), v, 8);
	g_assert_cmpint(ah_ledger_reclaim_parse(v, n, &r), ==, AH_LEDGER_ERR_OK);
	return r;
}

/* As a node does when it creates the tenant: an empty sync starts the tenant's first grace, which
 * then passes while the tenant is still empty. */
static G_GNUC_UNUSED void open_tenant(fixture *f, gint64 tenant_cap)
{
	ah_ledger_sync_reply r;
	set_cap(f, "tenant", tenant_cap);
	r = sync_share(f, "n1", 0, NULL, 0);
	g_assert_cmpint(r.ready_at_ms, ==, f->now + GRACE);
	g_assert_cmpint(granted(f, NULL, "n1", 1), ==, AH_LEDGER_REBUILDING);
	f->now += GRACE;
}

#endif
