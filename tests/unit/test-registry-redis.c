/* allhands: the node registry's heartbeat script (plugin/redis/registry.lua) in a real redis-server that
 * each test starts on a Unix socket in a temporary folder (redis-fixture.h). Each heartbeat is built
 * by plugin/redis/registry.c, sent by the plugin's own Redis client (EVALSHA, EVAL the first time),
 * and its reply parsed by registry.c; hiredis's synchronous API looks at Redis from outside. Checks:
 * three nodes see each other alive with their figures; an alive key gone (expired or deleted) shows
 * the node dead, with its age; a node gone longer than the forget time is removed (and one gone less
 * is not); after FLUSHALL each node registers again with its next heartbeat; bad keys and arguments
 * are refused before anything is written.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdarg.h>
#include <string.h>

#include <glib.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "allhands/redis.h"
#include "allhands/registry.h"
#include "redis-fixture.h"

typedef struct {
	test_redis *redis;
	redisContext *c;      /* hiredis, to look at Redis from outside */
	ah_redis *client;     /* the plugin's client, which sends the heartbeats */
	ah_redis_script *script;
	guint64 tag;
} fixture;

/* The client's next reply or event; the test fails after about 10 s (a bound, not a measurement). */
static ah_redis_reply *next_reply(fixture *f)
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

static void setup(fixture *f, gconstpointer data)
{
	GError *error = NULL;
	f->redis = test_redis_start(NULL, &error);
	g_assert_no_error(error);
	f->c = test_redis_connect(f->redis);
	g_assert_nonnull(f->c);
	const ah_redis_config config = { .unix_path = f->redis->socket };
	f->client = ah_redis_new(&config, NULL, NULL, &error);
	g_assert_no_error(error);
	ah_redis_reply *rep = next_reply(f);
	g_assert_cmpstr(ah_redis_event_name(rep->event), ==, ah_redis_event_name(AH_REDIS_CONNECTED));
	ah_redis_reply_free(rep);
	f->script = ah_redis_script_new(ah_registry_script_source());
}

static void teardown(fixture *f, gconstpointer data)
{
	ah_redis_free(f->client);
	ah_redis_script_unref(f->script);
	redisFree(f->c);
	test_redis_stop(f->redis, FALSE);
}

/* The heartbeat script with `argv` (keys then arguments), as the plugin sends it (EVALSHA, EVAL the
 * first time); its reply (ah_redis_reply_free). */
static ah_redis_reply *eval(fixture *f, GPtrArray *argv)
{
	guint64 tag = ++f->tag;
	g_assert_true(ah_redis_submit_script(f->client, tag, f->script, AH_REGISTRY_KEYS, (int)argv->len,
		(const char **)argv->pdata, NULL));
	ah_redis_reply *rep = next_reply(f);
	g_assert_cmpint(rep->event, ==, AH_REDIS_REPLY);
	g_assert_cmpuint(rep->tag, ==, tag);
	g_assert_cmpstr(ah_redis_status_name(rep->status), ==, ah_redis_status_name(AH_REDIS_OK));
	return rep;
}

/* Node `id`'s heartbeat, full or brief; its view (the test fails on an error reply). */
static ah_registry_view *beat_mode(fixture *f, const char *id, gint64 expiry_ms, gint64 forget_ms, gboolean brief)
{
	char *url = g_strdup_printf("ws://%s.example.com:8188", id);
	const ah_registry_figures fig = { id, url, "test", 1765000000, 100, 3, 1, 7, 1, 2, 1, 0.5 };
	char *error = NULL;
	GPtrArray *argv = ah_registry_heartbeat_argv_mode(&fig, expiry_ms, forget_ms, brief, &error);
	g_assert_null(error);
	ah_redis_reply *rep = eval(f, argv);
	ah_registry_view *view = ah_registry_parse(rep->value, &error);
	if (view == NULL)
		g_error("heartbeat of %s: %s", id, error);
	ah_redis_reply_free(rep);
	g_ptr_array_unref(argv);
	g_free(url);
	return view;
}

static ah_registry_view *beat(fixture *f, const char *id, gint64 expiry_ms, gint64 forget_ms)
{
	return beat_mode(f, id, expiry_ms, forget_ms, FALSE);
}

static const ah_registry_node *find(const ah_registry_view *view, const char *id)
{
	for (guint i = 0; i < view->nodes->len; i++) {
		const ah_registry_node *n = g_ptr_array_index(view->nodes, i);
		if (strcmp(n->id, id) == 0)
			return n;
	}
	return NULL;
}

static redisReply *command(fixture *f, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	redisReply *reply = redisvCommand(f->c, format, ap);
	va_end(ap);
	g_assert_nonnull(reply);
	g_assert_cmpint(reply->type, !=, REDIS_REPLY_ERROR);
	return reply;
}

static gint64 command_int(fixture *f, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	redisReply *reply = redisvCommand(f->c, format, ap);
	va_end(ap);
	g_assert_nonnull(reply);
	g_assert_cmpint(reply->type, ==, REDIS_REPLY_INTEGER);
	gint64 v = reply->integer;
	freeReplyObject(reply);
	return v;
}

static void test_three_nodes(fixture *f, gconstpointer data)
{
	ah_registry_view_free(beat(f, "a", 3000, 60000));
	ah_registry_view_free(beat(f, "b", 3000, 60000));
	ah_registry_view *view = beat(f, "c", 3000, 60000);
	g_assert_cmpuint(view->nodes->len, ==, 3);
	g_assert_cmpint(view->removed, ==, 0);
	g_assert_cmpint(view->redis_now_ms, >, G_GINT64_CONSTANT(1700000000000));
	const char *ids[] = { "a", "b", "c" };
	for (guint i = 0; i < 3; i++) {
		const ah_registry_node *n = g_ptr_array_index(view->nodes, i);
		char *url = g_strdup_printf("ws://%s.example.com:8188", ids[i]);
		g_assert_cmpstr(n->id, ==, ids[i]);
		g_assert_true(n->alive);
		g_assert_cmpint(n->age_ms, >=, 0);
		g_assert_cmpstr(json_string_value(json_object_get(n->figures, "url")), ==, url);
		g_assert_cmpint(json_integer_value(json_object_get(n->figures, "queued")), ==, 7);
		g_assert_cmpfloat(json_real_value(json_object_get(n->figures, "cpu")), ==, 0.5);
		g_free(url);
	}
	ah_registry_view_free(view);
	/* The keys the script writes: the alive key with its expiry, both hashes. */
	gint64 pttl = command_int(f, "PTTL %s", "ah:node:{a}:alive");
	g_assert_cmpint(pttl, >, 0);
	g_assert_cmpint(pttl, <=, 3000);
	g_assert_cmpint(command_int(f, "HLEN %s", "ah:nodes"), ==, 3);
	g_assert_cmpint(command_int(f, "HLEN %s", "ah:nodes:seen"), ==, 3);
	/* The SHA1 the plugin's client sends with EVALSHA is the one Redis computes. */
	redisReply *reply = command(f, "SCRIPT LOAD %s", ah_registry_script_source());
	g_assert_cmpstr(reply->str, ==, ah_registry_script_sha1());
	freeReplyObject(reply);
}

static void test_dead(fixture *f, gconstpointer data)
{
	ah_registry_view_free(beat(f, "a", 3000, 60000));
	ah_registry_view_free(beat(f, "b", 3000, 60000));
	/* c's alive key expires (50 ms; Redis expires it on the next access after that). */
	ah_registry_view_free(beat(f, "c", 50, 60000));
	g_usleep(200 * 1000);
	ah_registry_view *view = beat(f, "a", 3000, 60000);
	g_assert_true(find(view, "a")->alive);
	g_assert_true(find(view, "b")->alive);
	g_assert_false(find(view, "c")->alive);
	g_assert_cmpint(find(view, "c")->age_ms, >=, 50);
	/* Still listed, with the figures it last sent. */
	g_assert_cmpstr(json_string_value(json_object_get(find(view, "c")->figures, "url")), ==, "ws://c.example.com:8188");
	ah_registry_view_free(view);
	/* Deleted (as an expiry would): dead too; a heartbeat brings it back. */
	freeReplyObject(command(f, "DEL %s", "ah:node:{b}:alive"));
	view = beat(f, "a", 3000, 60000);
	g_assert_false(find(view, "b")->alive);
	ah_registry_view_free(view);
	ah_registry_view_free(beat(f, "b", 3000, 60000));
	view = beat(f, "a", 3000, 60000);
	g_assert_true(find(view, "b")->alive);
	g_assert_cmpuint(view->nodes->len, ==, 3);
	ah_registry_view_free(view);
}

/* A brief heartbeat answers with this node and the late ones only (O(log nodes) in Redis), and merged
 * into the last full view it tells the same as a full one about who is dead; a node coming back shows
 * at the next full heartbeat. How often a node sends a full one grows with the fleet. */
static void test_brief(fixture *f, gconstpointer data)
{
	ah_registry_view_free(beat(f, "b", 3000, 60000));
	ah_registry_view_free(beat(f, "c", 50, 60000));
	ah_registry_view_free(beat(f, "d", 3000, 60000));
	ah_registry_view *full = beat(f, "a", 3000, 60000);
	g_assert_cmpuint(full->nodes->len, ==, 4);
	g_assert_false(full->brief);
	g_usleep(200 * 1000); /* c is past its deadline */
	ah_registry_view *brief = beat_mode(f, "a", 3000, 60000, TRUE);
	g_assert_true(brief->brief);
	g_assert_cmpuint(brief->nodes->len, ==, 2); /* a itself and c */
	g_assert_true(find(brief, "a")->alive);
	g_assert_false(find(brief, "c")->alive);
	g_assert_cmpint(find(brief, "c")->age_ms, >=, 50);
	g_assert_null(find(brief, "b"));
	ah_registry_view *merged = ah_registry_view_merge(full, brief);
	ah_registry_view *again = beat(f, "a", 3000, 60000);
	g_assert_cmpuint(merged->nodes->len, ==, again->nodes->len);
	for (guint i = 0; i < again->nodes->len; i++) {
		const ah_registry_node *m = g_ptr_array_index(merged->nodes, i), *g = g_ptr_array_index(again->nodes, i);
		g_assert_cmpstr(m->id, ==, g->id);
		g_assert_cmpint(m->alive, ==, g->alive);
	}
	ah_registry_view_free(again);
	/* c comes back: a brief heartbeat no longer lists it; the merge keeps it dead until a full one. */
	ah_registry_view_free(beat(f, "c", 3000, 60000));
	ah_registry_view *brief2 = beat_mode(f, "a", 3000, 60000, TRUE);
	g_assert_null(find(brief2, "c"));
	ah_registry_view *merged2 = ah_registry_view_merge(merged, brief2);
	g_assert_false(find(merged2, "c")->alive);
	ah_registry_view *full2 = beat(f, "a", 3000, 60000);
	g_assert_true(find(full2, "c")->alive);
	/* Every node has a deadline in the sorted set. */
	g_assert_cmpint(command_int(f, "ZCARD %s", "ah:nodes:deadlines"), ==, 4);
	ah_registry_view_free(full2);
	ah_registry_view_free(merged2);
	ah_registry_view_free(brief2);
	ah_registry_view_free(merged);
	ah_registry_view_free(brief);
	ah_registry_view_free(full);
	g_assert_cmpuint(ah_registry_full_every(3, 20), ==, 1);
	g_assert_cmpuint(ah_registry_full_every(20, 20), ==, 1);
	g_assert_cmpuint(ah_registry_full_every(21, 20), ==, 2);
	g_assert_cmpuint(ah_registry_full_every(1000, 20), ==, 50);
	g_assert_cmpuint(ah_registry_full_every(3, 1), ==, 3);
	g_assert_cmpuint(ah_registry_full_every(3, 0), ==, 3);
}

static void test_forget(fixture *f, gconstpointer data)
{
	ah_registry_view_free(beat(f, "a", 3000, 60000));
	ah_registry_view_free(beat(f, "b", 3000, 60000));
	ah_registry_view_free(beat(f, "c", 3000, 60000));
	/* b's last heartbeat was 70 s ago with an expiry of 3 s: gone for 67 s, more than 60 s. c's was 50 s
	 * ago: gone for 47 s, kept. */
	redisReply *t = command(f, "TIME");
	gint64 now = g_ascii_strtoll(t->element[0]->str, NULL, 10) * 1000;
	freeReplyObject(t);
	freeReplyObject(command(f, "DEL ah:node:{b}:alive ah:node:{c}:alive"));
	char *b_seen = g_strdup_printf("%lld 3000", (long long)(now - 70000));
	char *c_seen = g_strdup_printf("%lld 3000", (long long)(now - 50000));
	freeReplyObject(command(f, "HSET ah:nodes:seen b %s c %s", b_seen, c_seen));
	g_free(b_seen);
	g_free(c_seen);
	ah_registry_view *view = beat(f, "a", 3000, 60000);
	g_assert_cmpint(view->removed, ==, 1);
	g_assert_cmpuint(view->nodes->len, ==, 2);
	g_assert_null(find(view, "b"));
	g_assert_false(find(view, "c")->alive);
	g_assert_cmpint(find(view, "c")->age_ms, >=, 50000);
	ah_registry_view_free(view);
	g_assert_cmpint(command_int(f, "HEXISTS ah:nodes %s", "b"), ==, 0);
	g_assert_cmpint(command_int(f, "HEXISTS ah:nodes:seen %s", "b"), ==, 0);
	/* A node listed without a heartbeat time (written by hand): kept, and its clock starts now. */
	freeReplyObject(command(f, "HSET ah:nodes d %s", "{\"url\":\"ws://d:1\"}"));
	view = beat(f, "a", 3000, 0);
	g_assert_false(find(view, "d")->alive);
	g_assert_cmpint(find(view, "d")->age_ms, ==, 0);
	ah_registry_view_free(view);
	g_assert_cmpint(command_int(f, "HEXISTS ah:nodes:seen %s", "d"), ==, 1);
}

static void test_flushall(fixture *f, gconstpointer data)
{
	ah_registry_view_free(beat(f, "a", 3000, 60000));
	ah_registry_view_free(beat(f, "b", 3000, 60000));
	freeReplyObject(command(f, "FLUSHALL"));
	ah_registry_view *view = beat(f, "a", 3000, 60000);
	g_assert_cmpuint(view->nodes->len, ==, 1);
	g_assert_true(find(view, "a")->alive);
	ah_registry_view_free(view);
	ah_registry_view_free(beat(f, "b", 3000, 60000));
	view = beat(f, "a", 3000, 60000);
	g_assert_cmpuint(view->nodes->len, ==, 2);
	g_assert_true(find(view, "b")->alive);
	ah_registry_view_free(view);
}

/* A call with `argv` changed at `index` to `value` is refused with `want`, and writes nothing. */
static void assert_refused(fixture *f, guint index, const char *value, const char *want)
{
	char *error = NULL;
	const ah_registry_figures fig = { "a", "ws://a:1", "test", 1, 1, 0, 0, 0, 0, 0, 0, -1 };
	GPtrArray *argv = ah_registry_heartbeat_argv(&fig, 3000, 60000, &error);
	g_free(argv->pdata[index]);
	argv->pdata[index] = g_strdup(value);
	ah_redis_reply *rep = eval(f, argv);
	g_assert_null(ah_registry_parse(rep->value, &error));
	if (strncmp(error, want, strlen(want)) != 0)
		g_assert_cmpstr(error, ==, want);
	g_free(error);
	ah_redis_reply_free(rep);
	g_ptr_array_unref(argv);
	g_assert_cmpint(command_int(f, "DBSIZE"), ==, 0);
}

static void test_refused(fixture *f, gconstpointer data)
{
	assert_refused(f, 0, "ah:node:{b}:alive", "AHBADKEY");
	assert_refused(f, 1, "ah:nodez", "AHBADKEY");
	assert_refused(f, 2, "ah:nodes", "AHBADKEY");
	assert_refused(f, 3, "a b", "AHBADARG");
	assert_refused(f, 4, "0", "AHBADARG expiry_ms");
	assert_refused(f, 4, "1.5", "AHBADARG expiry_ms");
	assert_refused(f, 4, "3600001", "AHBADARG expiry_ms");
	assert_refused(f, 5, "[1]", "AHBADARG figures");
	assert_refused(f, 5, "", "AHBADARG figures");
	assert_refused(f, 6, "-1", "AHBADARG forget_ms");
	/* A fifth argument other than full or brief. */
	{
		char *error = NULL;
		const ah_registry_figures fig = { "a", "ws://a:1", "test", 1, 1, 0, 0, 0, 0, 0, 0, -1 };
		GPtrArray *argv = ah_registry_heartbeat_argv_mode(&fig, 3000, 60000, TRUE, &error);
		g_free(argv->pdata[7]);
		argv->pdata[7] = g_strdup("fast");
		ah_redis_reply *rep = eval(f, argv);
		g_assert_null(ah_registry_parse(rep->value, &error));
		g_assert_true(g_str_has_prefix(error, "AHBADARG mode"));
		g_free(error);
		ah_redis_reply_free(rep);
		g_ptr_array_unref(argv);
		g_assert_cmpint(command_int(f, "DBSIZE"), ==, 0);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/registry-redis/three-nodes-alive", fixture, NULL, setup, test_three_nodes, teardown);
	g_test_add("/registry-redis/alive-key-gone-is-dead", fixture, NULL, setup, test_dead, teardown);
	g_test_add("/registry-redis/forgotten-after-forget-ms", fixture, NULL, setup, test_forget, teardown);
	g_test_add("/registry-redis/brief-heartbeats", fixture, NULL, setup, test_brief, teardown);
	g_test_add("/registry-redis/flushall-registers-again", fixture, NULL, setup, test_flushall, teardown);
	g_test_add("/registry-redis/refused-writes-nothing", fixture, NULL, setup, test_refused, teardown);
	return g_test_run();
}
