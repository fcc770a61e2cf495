/* allhands: cluster mode's shared definitions, the pure part (plugin/redis/defs.c) and its script
 * (plugin/redis/defs.lua) in a real redis-server the test starts on a Unix socket (redis-fixture.h),
 * called through the plugin's own Redis client; hiredis's synchronous API looks at Redis from
 * outside and writes malformed definitions by hand. Checks: argv and announcements are built and
 * parsed strictly; a write stores the row, counts the version and announces it on ah:defs; a room
 * needs its tenant; seed writes only what is absent; del removes a room, or a tenant with its rooms;
 * the load says "never written" on an empty Redis; bad keys and arguments are refused before any
 * write; a tenant's hash with a malformed row or a stray field parses into usable and unusable entries.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "allhands/defs-redis.h"
#include "allhands/redis.h"
#include "redis-fixture.h"

#define TENANT_ROW "{\"tenant\":\"acme\",\"name\":\"Acme\"}"
#define ROOM_ROW "{\"tenant\":\"acme\",\"room\":\"allhands\"}"

typedef struct {
	test_redis *redis;
	redisContext *c;
	ah_redis *client;
	ah_redis_script *script;
	guint64 tag;
	GQueue messages;   /* ah_redis_reply* MESSAGE seen while waiting for replies */
} rfix;

static ah_redis_reply *next_reply(rfix *f)
{
	for (guint i = 0; i < 10000; i++) {
		ah_redis_reply *rep = ah_redis_poll(f->client);
		if (rep != NULL)
			return rep;
		g_usleep(1000);
	}
	g_error("the Redis client answered nothing within 10 s");
	return NULL;
}

/* The reply to command `tag` (messages that come first are kept for message()). */
static ah_redis_reply *reply_to(rfix *f, guint64 tag)
{
	for (;;) {
		ah_redis_reply *rep = next_reply(f);
		if (rep->event == AH_REDIS_REPLY && rep->tag == tag)
			return rep;
		if (rep->event == AH_REDIS_MESSAGE)
			g_queue_push_tail(&f->messages, rep);
		else
			ah_redis_reply_free(rep);
	}
}

/* The next announcement on ah:defs, parsed. */
static void message(rfix *f, ah_defs_note *note)
{
	ah_redis_reply *rep = g_queue_pop_head(&f->messages);
	char *error = NULL;
	while (rep == NULL || rep->event != AH_REDIS_MESSAGE) {
		if (rep != NULL)
			ah_redis_reply_free(rep);
		rep = next_reply(f);
	}
	g_assert_cmpstr(rep->channel, ==, AH_DEFS_CHANNEL);
	g_assert_true(ah_defs_parse_note(rep->value->str, rep->value->len, note, &error));
	g_assert_null(error);
	ah_redis_reply_free(rep);
}

static void setup(rfix *f, gconstpointer data)
{
	GError *error = NULL;
	f->redis = test_redis_start(NULL, &error);
	g_assert_no_error(error);
	f->c = test_redis_connect(f->redis);
	g_assert_nonnull(f->c);
	const ah_redis_config config = { .unix_path = f->redis->socket };
	f->client = ah_redis_new(&config, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(ah_redis_subscribe(f->client, 999, AH_DEFS_CHANNEL));
	gboolean connected = FALSE, subscribed = FALSE;
	while (!connected || !subscribed) {
		ah_redis_reply *rep = next_reply(f);
		connected = connected || rep->event == AH_REDIS_CONNECTED;
		subscribed = subscribed || rep->event == AH_REDIS_SUBSCRIBED;
		ah_redis_reply_free(rep);
	}
	f->script = ah_redis_script_new(ah_defs_script_source());
	g_queue_init(&f->messages);
}

static void teardown(rfix *f, gconstpointer data)
{
	g_queue_clear_full(&f->messages, (GDestroyNotify)ah_redis_reply_free);
	ah_redis_free(f->client);
	ah_redis_script_unref(f->script);
	redisFree(f->c);
	test_redis_stop(f->redis, FALSE);
}

static ah_redis_reply *call_argv(rfix *f, GPtrArray *argv, int nkeys)
{
	guint64 tag = ++f->tag;
	g_assert_nonnull(argv);
	g_assert_true(ah_redis_submit_script(f->client, tag, f->script, nkeys, (int)argv->len,
		(const char **)argv->pdata, NULL));
	g_ptr_array_unref(argv);
	ah_redis_reply *rep = reply_to(f, tag);
	g_assert_cmpint(rep->status, ==, AH_REDIS_OK);
	return rep;
}

static gint64 write_def(rfix *f, ah_defs_op op, const char *tenant, const char *room, const char *row)
{
	char *error = NULL;
	int nkeys = 0;
	GPtrArray *argv = ah_defs_write_argv(op, "node-a", tenant, room, row, &nkeys, &error);
	g_assert_null(error);
	ah_redis_reply *rep = call_argv(f, argv, nkeys);
	gint64 v = -1;
	if (rep->value->type == AH_REDIS_INTEGER)
		v = rep->value->integer;
	else
		g_assert_cmpstr(rep->value->str, ==, "an integer reply");
	ah_redis_reply_free(rep);
	return v;
}

/* The error reply of a write (its text). */
static char *write_error(rfix *f, ah_defs_op op, const char *tenant, const char *room, const char *row)
{
	char *error = NULL;
	int nkeys = 0;
	GPtrArray *argv = ah_defs_write_argv(op, "node-a", tenant, room, row, &nkeys, &error);
	ah_redis_reply *rep = call_argv(f, argv, nkeys);
	g_assert_cmpint(rep->value->type, ==, AH_REDIS_ERROR);
	char *text = g_strdup(rep->value->str);
	ah_redis_reply_free(rep);
	return text;
}

static void load(rfix *f, gboolean *seeded, gint64 *version, char ***tenants)
{
	int nkeys = 0;
	char *error = NULL;
	guint skipped = 0;
	GPtrArray *argv = ah_defs_load_argv(&nkeys);
	ah_redis_reply *rep = call_argv(f, argv, nkeys);
	gboolean ok = ah_defs_parse_load(rep->value, seeded, version, tenants, &skipped, &error);
	g_assert_cmpstr(error, ==, NULL);
	g_assert_true(ok);
	g_assert_cmpuint(skipped, ==, 0);
	ah_redis_reply_free(rep);
}

static char *hget(rfix *f, const char *key, const char *field)
{
	redisReply *r = redisCommand(f->c, "HGET %s %s", key, field);
	char *value = r != NULL && r->type == REDIS_REPLY_STRING ? g_strdup(r->str) : NULL;
	freeReplyObject(r);
	return value;
}

static long long integer(rfix *f, const char *command)
{
	redisReply *r = redisCommand(f->c, command);
	long long v = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	freeReplyObject(r);
	return v;
}

/* --- pure */

static void test_argv(void)
{
	char *error = NULL;
	int nkeys = 0;
	GPtrArray *argv = ah_defs_write_argv(AH_DEFS_PUT, "n1", "acme", "allhands", "{}", &nkeys, &error);
	g_assert_cmpint(nkeys, ==, 3);
	g_assert_cmpuint(argv->len, ==, 8);
	g_assert_cmpstr(g_ptr_array_index(argv, 0), ==, "ah:{acme}:defs");
	g_assert_cmpstr(g_ptr_array_index(argv, 3), ==, "put");
	g_assert_cmpstr(g_ptr_array_index(argv, 6), ==, "allhands");
	g_ptr_array_unref(argv);
	argv = ah_defs_write_argv(AH_DEFS_DEL, "n1", "acme", NULL, NULL, &nkeys, &error);
	g_assert_cmpstr(g_ptr_array_index(argv, 3), ==, "del");
	g_assert_cmpstr(g_ptr_array_index(argv, 6), ==, "");
	g_ptr_array_unref(argv);
	/* Ids that could leave their hash tag, a missing or huge row: refused. */
	g_assert_null(ah_defs_write_argv(AH_DEFS_PUT, "n1", "ac}me", NULL, "{}", &nkeys, &error));
	g_clear_pointer(&error, g_free);
	g_assert_null(ah_defs_write_argv(AH_DEFS_PUT, "n 1", "acme", NULL, "{}", &nkeys, &error));
	g_clear_pointer(&error, g_free);
	g_assert_null(ah_defs_write_argv(AH_DEFS_PUT, "n1", "acme", "a:b", "{}", &nkeys, &error));
	g_clear_pointer(&error, g_free);
	g_assert_null(ah_defs_write_argv(AH_DEFS_PUT, "n1", "acme", NULL, NULL, &nkeys, &error));
	g_clear_pointer(&error, g_free);
	char *huge = g_strnfill(AH_DEFS_ROW_MAX + 1, ' ');
	g_assert_null(ah_defs_write_argv(AH_DEFS_SEED, "n1", "acme", NULL, huge, &nkeys, &error));
	g_clear_pointer(&error, g_free);
	g_free(huge);
	g_assert_null(ah_defs_hget_argv("ac{me", NULL));
	argv = ah_defs_hget_argv("acme", "r1");
	g_assert_cmpstr(g_ptr_array_index(argv, 2), ==, "room:r1");
	g_ptr_array_unref(argv);
}

static void test_notes(void)
{
	static const char *const bad[] = {
		"", "[]", "{\"node\":\"n\",\"tenant\":\"t\"}", "{\"node\":\"n\",\"tenant\":\"t b\",\"version\":1}",
		"{\"node\":\"n\",\"tenant\":\"t\",\"room\":5,\"version\":1}", "{\"node\":1,\"tenant\":\"t\",\"version\":1}",
		"{\"node\":\"n\",\"node\":\"m\",\"tenant\":\"t\",\"version\":1}",
	};
	ah_defs_note note;
	char *error = NULL;
	const char *good = "{\"node\":\"n1\",\"tenant\":\"acme\",\"room\":\"r\",\"version\":42}";
	g_assert_true(ah_defs_parse_note(good, strlen(good), &note, &error));
	g_assert_cmpstr(note.node, ==, "n1");
	g_assert_cmpstr(note.room, ==, "r");
	g_assert_cmpint(note.version, ==, 42);
	ah_defs_note_clear(&note);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_false(ah_defs_parse_note(bad[i], strlen(bad[i]), &note, &error));
		g_assert_nonnull(error);
		g_clear_pointer(&error, g_free);
	}
}

/* --- the script in Redis */

static void test_write_announce_load(rfix *f, gconstpointer data)
{
	gint64 version = -1;
	gboolean seeded = TRUE;
	char **tenants = NULL, *text;
	ah_defs_note note;
	/* Nothing was ever written, nobody seeded. */
	load(f, &seeded, &version, &tenants);
	g_assert_false(seeded);
	g_assert_cmpint(version, ==, 0);
	g_assert_cmpuint(g_strv_length(tenants), ==, 0);
	g_strfreev(tenants);
	/* A room needs its tenant. */
	text = write_error(f, AH_DEFS_PUT, "acme", "allhands", ROOM_ROW);
	g_assert_true(g_str_has_prefix(text, "AHNOTENANT"));
	g_free(text);
	g_assert_cmpint(integer(f, "EXISTS ah:{acme}:defs"), ==, 0);

	g_assert_cmpint(write_def(f, AH_DEFS_PUT, "acme", NULL, TENANT_ROW), ==, 1);
	message(f, &note);
	g_assert_cmpstr(note.node, ==, "node-a");
	g_assert_cmpstr(note.tenant, ==, "acme");
	g_assert_null(note.room);
	g_assert_cmpint(note.version, ==, 1);
	ah_defs_note_clear(&note);
	g_assert_cmpint(write_def(f, AH_DEFS_PUT, "acme", "allhands", ROOM_ROW), ==, 2);
	message(f, &note);
	g_assert_cmpstr(note.room, ==, "allhands");
	ah_defs_note_clear(&note);
	text = hget(f, "ah:{acme}:defs", "room:allhands");
	g_assert_cmpstr(text, ==, ROOM_ROW);
	g_free(text);
	/* seed writes only what is absent; put overwrites. */
	g_assert_cmpint(write_def(f, AH_DEFS_SEED, "acme", "allhands", "{\"old\":1}"), ==, 0);
	g_assert_cmpint(write_def(f, AH_DEFS_SEED, "acme", "second", "{\"x\":1}"), ==, 3);
	message(f, &note);
	ah_defs_note_clear(&note);
	text = hget(f, "ah:{acme}:defs", "room:allhands");
	g_assert_cmpstr(text, ==, ROOM_ROW);
	g_free(text);
	g_assert_cmpint(write_def(f, AH_DEFS_PUT, "globex", NULL, "{\"tenant\":\"globex\"}"), ==, 4);
	/* Writes do not mark Redis seeded: only a node that wrote back all it holds does. */
	load(f, &seeded, &version, &tenants);
	g_assert_false(seeded);
	g_strfreev(tenants);
	int nkeys = 0;
	GPtrArray *argv = ah_defs_seeded_argv("node-a", &nkeys);
	ah_redis_reply *rep = call_argv(f, argv, nkeys);
	g_assert_cmpint(rep->value->type, ==, AH_REDIS_INTEGER);
	ah_redis_reply_free(rep);
	load(f, &seeded, &version, &tenants);
	g_assert_true(seeded);
	g_assert_cmpint(version, ==, 4);
	g_assert_cmpuint(g_strv_length(tenants), ==, 2);
	g_assert_true(g_strv_contains((const char *const *)tenants, "acme"));
	g_assert_true(g_strv_contains((const char *const *)tenants, "globex"));
	g_strfreev(tenants);
	/* del: a room, then a tenant with the rest of its rooms. */
	g_assert_cmpint(write_def(f, AH_DEFS_DEL, "acme", "second", NULL), ==, 5);
	g_assert_cmpint(integer(f, "HEXISTS ah:{acme}:defs room:second"), ==, 0);
	g_assert_cmpint(integer(f, "HEXISTS ah:{acme}:defs room:allhands"), ==, 1);
	g_assert_cmpint(write_def(f, AH_DEFS_DEL, "acme", NULL, NULL), ==, 6);
	g_assert_cmpint(integer(f, "EXISTS ah:{acme}:defs"), ==, 0);
	g_assert_cmpint(integer(f, "SISMEMBER ah:tenants acme"), ==, 0);
	load(f, &seeded, &version, &tenants);
	g_assert_cmpint(version, ==, 6);
	g_assert_cmpuint(g_strv_length(tenants), ==, 1);
	g_strfreev(tenants);
}

/* Keys or arguments that are not the script's: refused before anything is written. */
static void test_refused(rfix *f, gconstpointer data)
{
	const char *wrong_keys[] = { "ah:{other}:defs", "ah:tenants", "ah:defs:version", "put", "n1", "acme", "", "{}" };
	const char *bad_op[] = { "ah:{acme}:defs", "ah:tenants", "ah:defs:version", "drop", "n1", "acme", "", "{}" };
	const char *bad_id[] = { "ah:{acme}:defs", "ah:tenants", "ah:defs:version", "put", "n1", "acme", "r:1", "{}" };
	const char *no_row[] = { "ah:{acme}:defs", "ah:tenants", "ah:defs:version", "put", "n1", "acme", "", "" };
	const char *const *cases[] = { wrong_keys, bad_op, bad_id, no_row };
	const char *codes[] = { "AHBADKEY", "AHBADARG", "AHBADARG", "AHBADARG" };
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		guint64 tag = ++f->tag;
		g_assert_true(ah_redis_submit_script(f->client, tag, f->script, 3, 8, (const char **)cases[i], NULL));
		ah_redis_reply *rep = reply_to(f, tag);
		g_assert_cmpint(rep->value->type, ==, AH_REDIS_ERROR);
		g_assert_nonnull(strstr(rep->value->str, codes[i]));
		ah_redis_reply_free(rep);
	}
	g_assert_cmpint(integer(f, "DBSIZE"), ==, 0);
}

/* A tenant's hash read back: usable rows (the tenant's first), and what a hand wrote there wrong. */
static void test_parse_hash(rfix *f, gconstpointer data)
{
	char *error = NULL;
	g_assert_cmpint(write_def(f, AH_DEFS_PUT, "acme", NULL, TENANT_ROW), ==, 1);
	g_assert_cmpint(write_def(f, AH_DEFS_PUT, "acme", "allhands", ROOM_ROW), ==, 2);
	freeReplyObject(redisCommand(f->c, "HSET ah:{acme}:defs room:broken %s", "{not json"));
	freeReplyObject(redisCommand(f->c, "HSET ah:{acme}:defs room:list %s", "[1]"));
	freeReplyObject(redisCommand(f->c, "HSET ah:{acme}:defs stray %s", "{}"));
	GPtrArray *argv = ah_defs_hgetall_argv("acme");
	guint64 tag = ++f->tag;
	g_assert_true(ah_redis_submit(f->client, tag, (int)argv->len, (const char **)argv->pdata, NULL));
	g_ptr_array_unref(argv);
	ah_redis_reply *rep = reply_to(f, tag);
	GPtrArray *entries = ah_defs_parse_hash(rep->value, &error);
	g_assert_null(error);
	g_assert_cmpuint(entries->len, ==, 5);
	const ah_defs_entry *first = g_ptr_array_index(entries, 0);
	g_assert_null(first->room);
	g_assert_null(first->error);
	g_assert_cmpstr(json_string_value(json_object_get(first->row, "name")), ==, "Acme");
	guint usable = 0, unusable = 0;
	for (guint i = 0; i < entries->len; i++) {
		const ah_defs_entry *e = g_ptr_array_index(entries, i);
		g_assert_true((e->row == NULL) == (e->error != NULL));
		usable += e->row != NULL;
		unusable += e->error != NULL;
	}
	g_assert_cmpuint(usable, ==, 2);
	g_assert_cmpuint(unusable, ==, 3);
	g_ptr_array_unref(entries);
	ah_redis_reply_free(rep);
	/* One row: nil is "gone", a malformed one an error. */
	json_t *row = (json_t *)1;
	ah_redis_value nil = { .type = AH_REDIS_NIL }, bad = { .type = AH_REDIS_STRING, .str = (char *)"{x", .len = 2 };
	g_assert_true(ah_defs_parse_row(&nil, &row, &error));
	g_assert_null(row);
	g_assert_false(ah_defs_parse_row(&bad, &row, &error));
	g_assert_nonnull(error);
	g_free(error);
	/* Not a hash at all. */
	ah_redis_value err = { .type = AH_REDIS_ERROR, .str = (char *)"WRONGTYPE", .len = 9 };
	g_assert_null(ah_defs_parse_hash(&err, &error));
	g_assert_nonnull(error);
	g_free(error);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/defs/argv", test_argv);
	g_test_add_func("/defs/notes", test_notes);
	char *server = g_find_program_in_path("redis-server");
	g_free(server);
	if (server == NULL) {
		g_test_message("redis-server is not installed: the script tests are skipped");
		return g_test_run();
	}
	g_test_add("/defs/redis/write-announce-load", rfix, NULL, setup, test_write_announce_load, teardown);
	g_test_add("/defs/redis/refused", rfix, NULL, setup, test_refused, teardown);
	g_test_add("/defs/redis/parse-hash", rfix, NULL, setup, test_parse_hash, teardown);
	return g_test_run();
}
