/* allhands: unit tests of cluster mode's pure parts: the node registry's figures, heartbeat argv,
 * reply parsing and status view (plugin/redis/registry.c), and the cluster configuration's reading
 * and checks (plugin/redis/cluster-config.c). No Redis here (test-registry-redis.c runs the script in
 * a real one); replies are built by hand, including every malformed shape the parser must refuse.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdarg.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/cluster-config.h"
#include "allhands/registry.h"

/* ---- replies built by hand ---- */

static ah_redis_value *v_new(ah_redis_type type)
{
	ah_redis_value *v = g_new0(ah_redis_value, 1);
	v->type = type;
	return v;
}

static ah_redis_value *v_int(gint64 i)
{
	ah_redis_value *v = v_new(AH_REDIS_INTEGER);
	v->integer = i;
	return v;
}

static ah_redis_value *v_text(ah_redis_type type, const char *s)
{
	ah_redis_value *v = v_new(type);
	v->str = g_strdup(s);
	v->len = strlen(s);
	return v;
}

static ah_redis_value *v_str(const char *s)
{
	return v_text(AH_REDIS_STRING, s);
}

/* An array of n values (taken over). */
static ah_redis_value *v_arr(gsize n, ...)
{
	va_list ap;
	ah_redis_value *v = v_new(AH_REDIS_ARRAY);
	v->n = n;
	v->elements = g_new0(ah_redis_value *, n);
	va_start(ap, n);
	for (gsize i = 0; i < n; i++)
		v->elements[i] = va_arg(ap, ah_redis_value *);
	va_end(ap);
	return v;
}

static void v_free(ah_redis_value *v)
{
	if (v == NULL)
		return;
	for (gsize i = 0; i < v->n; i++)
		v_free(v->elements[i]);
	g_free(v->elements);
	g_free(v->str);
	g_free(v);
}

/* Parse `v` (freed), expecting a failure whose message contains `want`. */
static void assert_parse_fails(ah_redis_value *v, const char *want)
{
	char *error = NULL;
	ah_registry_view *view = ah_registry_parse(v, &error);
	g_assert_null(view);
	g_assert_nonnull(error);
	if (strstr(error, want) == NULL)
		g_assert_cmpstr(error, ==, want);
	g_free(error);
	v_free(v);
}

static const ah_registry_figures figures_a = { "node-a.1", "wss://a.example.com:8989", "0.9.0", 1765000000, 200, 12, 3,
	40, 2, 5, 4, 0.25 };

/* ---- figures and argv ---- */

static void test_figures_json(void)
{
	char *text = ah_registry_figures_json(&figures_a);
	json_t *o = json_loads(text, 0, NULL);
	g_assert_nonnull(o);
	g_assert_cmpstr(json_string_value(json_object_get(o, "id")), ==, "node-a.1");
	g_assert_cmpstr(json_string_value(json_object_get(o, "url")), ==, "wss://a.example.com:8989");
	g_assert_cmpstr(json_string_value(json_object_get(o, "version")), ==, "0.9.0");
	g_assert_cmpint(json_integer_value(json_object_get(o, "started_at")), ==, 1765000000);
	g_assert_cmpint(json_integer_value(json_object_get(o, "capacity")), ==, 200);
	g_assert_cmpint(json_integer_value(json_object_get(o, "seats_held")), ==, 12);
	g_assert_cmpint(json_integer_value(json_object_get(o, "connecting")), ==, 3);
	g_assert_cmpint(json_integer_value(json_object_get(o, "queued")), ==, 40);
	g_assert_cmpint(json_integer_value(json_object_get(o, "presenters")), ==, 2);
	g_assert_cmpint(json_integer_value(json_object_get(o, "rooms")), ==, 5);
	g_assert_cmpint(json_integer_value(json_object_get(o, "tenants")), ==, 4);
	g_assert_cmpfloat(json_real_value(json_object_get(o, "cpu")), ==, 0.25);
	json_decref(o);
	g_free(text);

	/* No CPU sample yet: null, not a made-up 0. */
	ah_registry_figures f = figures_a;
	f.cpu = -1;
	text = ah_registry_figures_json(&f);
	o = json_loads(text, 0, NULL);
	g_assert_true(json_is_null(json_object_get(o, "cpu")));
	json_decref(o);
	g_free(text);

	/* Refused: an id that is not an id, no url, a url too long or not UTF-8. */
	const char *bad_ids[] = { "", "a b", "a:b", "{a}",
		"x123456789x123456789x123456789x123456789x123456789x123456789xxxxx" };
	for (guint i = 0; i < G_N_ELEMENTS(bad_ids); i++) {
		f = figures_a;
		f.id = bad_ids[i];
		g_assert_null(ah_registry_figures_json(&f));
	}
	f = figures_a;
	f.url = NULL;
	g_assert_null(ah_registry_figures_json(&f));
	char *long_url = g_strnfill(AH_REGISTRY_URL_MAX + 1, 'u');
	f.url = long_url;
	g_assert_null(ah_registry_figures_json(&f));
	g_free(long_url);
	f.url = "ws://\xff";
	g_assert_null(ah_registry_figures_json(&f));
}

static void test_heartbeat_argv(void)
{
	char *error = NULL;
	GPtrArray *argv = ah_registry_heartbeat_argv(&figures_a, 3000, AH_REGISTRY_FORGET_MS, &error);
	g_assert_null(error);
	g_assert_nonnull(argv);
	g_assert_cmpuint(argv->len, ==, AH_REGISTRY_KEYS + 4);
	g_assert_cmpstr(argv->pdata[0], ==, "ah:node:{node-a.1}:alive");
	g_assert_cmpstr(argv->pdata[1], ==, "ah:nodes");
	g_assert_cmpstr(argv->pdata[2], ==, "ah:nodes:seen");
	g_assert_cmpstr(argv->pdata[3], ==, "node-a.1");
	g_assert_cmpstr(argv->pdata[4], ==, "3000");
	char *figures = ah_registry_figures_json(&figures_a);
	g_assert_cmpstr(argv->pdata[5], ==, figures);
	g_free(figures);
	g_assert_cmpstr(argv->pdata[6], ==, "60000");
	g_ptr_array_unref(argv);

	const gint64 bad[][2] = { { 0, 60000 }, { AH_REGISTRY_EXPIRY_MAX + 1, 60000 }, { 3000, -1 },
		{ 3000, (gint64)AH_REGISTRY_FORGET_MAX + 1 } };
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_null(ah_registry_heartbeat_argv(&figures_a, bad[i][0], bad[i][1], &error));
		g_assert_nonnull(strstr(error, "expiry_ms"));
		g_clear_pointer(&error, g_free);
	}
	ah_registry_figures f = figures_a;
	f.id = "a b";
	g_assert_null(ah_registry_heartbeat_argv(&f, 3000, 60000, &error));
	g_assert_nonnull(strstr(error, "node id"));
	g_free(error);
}

static void test_script(void)
{
	const char *source = ah_registry_script_source();
	g_assert_nonnull(strstr(source, "SPDX-License-Identifier"));
	g_assert_nonnull(strstr(source, "redis.call('SET', KEYS[1], '1', 'PX', expiry)"));
	char *sha1 = g_compute_checksum_for_string(G_CHECKSUM_SHA1, source, -1);
	g_assert_cmpstr(ah_registry_script_sha1(), ==, sha1);
	g_assert_cmpuint(strlen(sha1), ==, 40);
	g_free(sha1);
}

/* ---- replies ---- */

static void test_parse(void)
{
	char *error = NULL;
	ah_redis_value *reply = v_arr(10, v_int(1765000000123), v_int(1),
		v_str("b"), v_int(1), v_int(250), v_str("{\"id\":\"b\",\"url\":\"ws://b:8188\",\"capacity\":100}"),
		v_str("a"), v_int(0), v_int(4100), v_str("{\"id\":\"a\",\"url\":\"ws://a:8188\",\"queued\":7}"));
	ah_registry_view *view = ah_registry_parse(reply, &error);
	g_assert_null(error);
	g_assert_nonnull(view);
	g_assert_cmpint(view->redis_now_ms, ==, 1765000000123);
	g_assert_cmpint(view->removed, ==, 1);
	g_assert_cmpuint(view->nodes->len, ==, 2);
	/* Sorted by id, whatever order the hash gave. */
	const ah_registry_node *a = g_ptr_array_index(view->nodes, 0), *b = g_ptr_array_index(view->nodes, 1);
	g_assert_cmpstr(a->id, ==, "a");
	g_assert_false(a->alive);
	g_assert_cmpint(a->age_ms, ==, 4100);
	g_assert_cmpint(json_integer_value(json_object_get(a->figures, "queued")), ==, 7);
	g_assert_cmpstr(b->id, ==, "b");
	g_assert_true(b->alive);
	g_assert_cmpint(b->age_ms, ==, 250);
	guint alive = 9, dead = 9;
	ah_registry_view_count(view, &alive, &dead);
	g_assert_cmpuint(alive, ==, 1);
	g_assert_cmpuint(dead, ==, 1);
	ah_registry_view_free(view);
	v_free(reply);

	/* No node at all (a Redis that lost everything but this heartbeat would not answer that, but
	 * the shape is valid). */
	reply = v_arr(2, v_int(5), v_int(0));
	view = ah_registry_parse(reply, &error);
	g_assert_nonnull(view);
	g_assert_cmpuint(view->nodes->len, ==, 0);
	ah_registry_view_count(view, &alive, &dead);
	g_assert_cmpuint(alive + dead, ==, 0);
	ah_registry_view_free(view);
	v_free(reply);
	ah_registry_view_count(NULL, &alive, &dead);
	g_assert_cmpuint(alive + dead, ==, 0);
}

/* What another node stored may be anything: a node with broken figures is still listed. */
static void test_parse_foreign_figures(void)
{
	char *error = NULL;
	ah_redis_value *reply = v_arr(10, v_int(5), v_int(0), v_str("x"), v_int(1), v_int(0), v_str("{not json"),
		v_str("y"), v_int(1), v_int(0), v_str("[1,2]"));
	ah_registry_view *view = ah_registry_parse(reply, &error);
	g_assert_nonnull(view);
	g_assert_cmpuint(view->nodes->len, ==, 2);
	for (guint i = 0; i < 2; i++)
		g_assert_null(((ah_registry_node *)g_ptr_array_index(view->nodes, i))->figures);
	json_t *nodes = ah_registry_view_json(view, 0);
	g_assert_cmpuint(json_array_size(nodes), ==, 2);
	g_assert_true(json_is_null(json_object_get(json_array_get(nodes, 0), "url")));
	g_assert_true(json_is_true(json_object_get(json_array_get(nodes, 0), "alive")));
	json_decref(nodes);
	ah_registry_view_free(view);
	v_free(reply);
}

static void test_parse_refused(void)
{
	assert_parse_fails(NULL, "no reply");
	assert_parse_fails(v_text(AH_REDIS_ERROR, "AHBADKEY keys must be ..."), "AHBADKEY");
	assert_parse_fails(v_int(3), "is not {now_ms");
	assert_parse_fails(v_arr(1, v_int(3)), "is not {now_ms");
	assert_parse_fails(v_arr(2, v_str("3"), v_int(0)), "is not {now_ms");
	assert_parse_fails(v_arr(2, v_int(-3), v_int(0)), "is not {now_ms");
	assert_parse_fails(v_arr(2, v_int(3), v_int(-2)), "is not {now_ms");
	/* -1 in place of `removed`: a brief heartbeat's reply (this node and the late ones). */
	{
		char *error = NULL;
		ah_redis_value *brief = v_arr(6, v_int(3), v_int(-1), v_str("a"), v_int(1), v_int(0), v_str("{}"));
		ah_registry_view *view = ah_registry_parse(brief, &error);
		g_assert_nonnull(view);
		g_assert_true(view->brief);
		g_assert_cmpint(view->removed, ==, 0);
		g_assert_cmpuint(view->nodes->len, ==, 1);
		ah_registry_view_free(view);
		v_free(brief);
	}
	/* A node cut short. */
	assert_parse_fails(v_arr(5, v_int(3), v_int(0), v_str("a"), v_int(1), v_int(0)), "is not {now_ms");
	/* Each element of a node of the wrong type or range. */
	assert_parse_fails(v_arr(6, v_int(3), v_int(0), v_str("a b"), v_int(1), v_int(0), v_str("{}")), "not an id");
	assert_parse_fails(v_arr(6, v_int(3), v_int(0), v_int(7), v_int(1), v_int(0), v_str("{}")), "not an id");
	assert_parse_fails(v_arr(6, v_int(3), v_int(0), v_new(AH_REDIS_NIL), v_int(1), v_int(0), v_str("{}")), "not an id");
	assert_parse_fails(v_arr(6, v_int(3), v_int(0), v_str("a"), v_int(2), v_int(0), v_str("{}")), "wrong type");
	assert_parse_fails(v_arr(6, v_int(3), v_int(0), v_str("a"), v_str("1"), v_int(0), v_str("{}")), "wrong type");
	assert_parse_fails(v_arr(6, v_int(3), v_int(0), v_str("a"), v_int(1), v_int(-5), v_str("{}")), "wrong type");
	assert_parse_fails(v_arr(6, v_int(3), v_int(0), v_str("a"), v_int(1), v_int(0), v_int(4)), "wrong type");
	/* A good node before a bad one: nothing is kept. */
	assert_parse_fails(v_arr(10, v_int(3), v_int(0), v_str("a"), v_int(1), v_int(0), v_str("{}"),
		v_str("b"), v_int(1), v_int(0), v_new(AH_REDIS_NIL)), "node b");
}

static void test_view_json(void)
{
	char *error = NULL;
	/* A node whose figures claim another id and alive state: the registry's own word is shown. */
	ah_redis_value *reply = v_arr(6, v_int(5), v_int(0), v_str("a"), v_int(0), v_int(4000),
		v_str("{\"id\":\"zz\",\"alive\":true,\"age_ms\":1,\"url\":\"ws://a:8188\",\"capacity\":9,\"cpu\":null}"));
	ah_registry_view *view = ah_registry_parse(reply, &error);
	json_t *nodes = ah_registry_view_json(view, 1500);
	json_t *a = json_array_get(nodes, 0);
	g_assert_cmpstr(json_string_value(json_object_get(a, "id")), ==, "a");
	g_assert_true(json_is_false(json_object_get(a, "alive")));
	g_assert_cmpint(json_integer_value(json_object_get(a, "age_ms")), ==, 5500);
	g_assert_cmpstr(json_string_value(json_object_get(a, "url")), ==, "ws://a:8188");
	g_assert_cmpint(json_integer_value(json_object_get(a, "capacity")), ==, 9);
	g_assert_true(json_is_null(json_object_get(a, "cpu")));
	json_decref(nodes);
	/* A negative time since the reply (a clock that went back) adds nothing. */
	nodes = ah_registry_view_json(view, -30);
	g_assert_cmpint(json_integer_value(json_object_get(json_array_get(nodes, 0), "age_ms")), ==, 4000);
	json_decref(nodes);
	ah_registry_view_free(view);
	v_free(reply);
	nodes = ah_registry_view_json(NULL, 0);
	g_assert_true(json_is_array(nodes));
	g_assert_cmpuint(json_array_size(nodes), ==, 0);
	json_decref(nodes);
}

/* ---- configuration ---- */

static const char *lookup(gpointer user, const char *key)
{
	return g_hash_table_lookup(user, key);
}

#define TEST_CLUSTER_SECRET "0123456789abcdef0123456789abcdef"

/* A config from "key", "value" pairs, NULL-terminated; read with host name `host`. */
static gboolean read_with(ah_cluster_config *out, char **error, const char *host, ...)
{
	va_list ap;
	GHashTable *keys = g_hash_table_new(g_str_hash, g_str_equal);
	const char *k;
	va_start(ap, host);
	while ((k = va_arg(ap, const char *)) != NULL)
		g_hash_table_insert(keys, (gpointer)k, va_arg(ap, char *));
	va_end(ap);
	/* cluster_secret is required in cluster mode: a good one unless the case gives its own. */
	if (!g_hash_table_contains(keys, "cluster_secret"))
		g_hash_table_insert(keys, "cluster_secret", TEST_CLUSTER_SECRET);
	gboolean ok = ah_cluster_config_read(out, lookup, keys, host, error);
	g_hash_table_destroy(keys);
	return ok;
}

static void test_config_off(void)
{
	ah_cluster_config c;
	char *error = NULL;
	g_assert_true(read_with(&c, &error, "host1", NULL));
	g_assert_false(c.enabled);
	/* Off: nothing else is read, so nothing else can be wrong. */
	g_assert_true(read_with(&c, &error, "host1", "cluster", "false", "node_url", "nonsense", "redis_port", "x", NULL));
	g_assert_false(c.enabled);
	g_assert_null(c.node_url);
	g_assert_true(read_with(&c, &error, "host1", "cluster", "", NULL));
	g_assert_false(c.enabled);
	g_assert_true(read_with(&c, &error, "host1", "cluster", "No", NULL));
	g_assert_false(c.enabled);
	g_assert_null(error);
	ah_cluster_config_clear(&c);
}

static void test_config_defaults(void)
{
	ah_cluster_config c;
	char *error = NULL;
	g_assert_true(read_with(&c, &error, "janus-7.example.com", "cluster", "true", "redis_host", "10.0.0.5",
		"node_url", "ws://10.0.0.11:8188", NULL));
	g_assert_null(error);
	g_assert_true(c.enabled);
	g_assert_cmpstr(c.node_id, ==, "janus-7.example.com");
	g_assert_cmpstr(c.node_url, ==, "ws://10.0.0.11:8188");
	g_assert_cmpuint(c.heartbeat_ms, ==, AH_CLUSTER_HEARTBEAT_DEFAULT_MS);
	g_assert_cmpuint(c.node_expiry_ms, ==, AH_CLUSTER_EXPIRY_DEFAULT_MS);
	g_assert_cmpuint(c.full_nodes, ==, AH_CLUSTER_FULL_NODES_DEFAULT);
	g_assert_cmpstr(c.redis.host, ==, "10.0.0.5");
	g_assert_null(c.redis.unix_path);
	g_assert_null(c.redis.password);
	g_assert_cmpint(c.redis.port, ==, AH_REDIS_DEFAULT_PORT);
	g_assert_cmpint(c.redis.db, ==, 0);
	g_assert_cmpuint(c.redis.connect_timeout_ms, ==, 0);
	g_assert_cmpuint(c.redis.max_queued, ==, 0);
	g_assert_cmpstr(c.secret, ==, TEST_CLUSTER_SECRET);
	/* The media link: node_url's host, any port, the default linger. */
	g_assert_cmpstr(c.media_address, ==, "10.0.0.11");
	g_assert_cmpuint(c.media_port, ==, 0);
	g_assert_cmpuint(c.edge_linger_ms, ==, AH_CLUSTER_LINGER_DEFAULT_MS);
	g_assert_cmpuint(c.edge_fanout, ==, AH_CLUSTER_FANOUT_DEFAULT);
	ah_cluster_config_clear(&c);
	g_assert_false(c.enabled);
	/* An IPv6 node_url: its address without the brackets. */
	g_assert_true(read_with(&c, &error, "h", "cluster", "true", "redis_host", "10.0.0.5", "node_url",
		"wss://[fd00::5]:8989", NULL));
	g_assert_cmpstr(c.media_address, ==, "fd00::5");
	ah_cluster_config_clear(&c);
	g_assert_null(c.node_id);
}

static void test_config_every_key(void)
{
	ah_cluster_config c;
	char *error = NULL;
	g_assert_true(read_with(&c, &error, "host1", "cluster", "yes", "node_id", "edge-3", "node_url",
		"https://edge-3.example.com/janus", "heartbeat_ms", "500", "node_expiry_ms", "1600", "heartbeat_full_nodes", "5", "redis_unix_socket",
		"/run/redis/redis.sock", "redis_host", "ignored", "redis_port", "6380", "redis_username", "allhands",
		"redis_password", "s3cret-s3cret", "redis_db", "2", "redis_connect_timeout_ms", "1500",
		"redis_command_timeout_ms", "2500", "redis_ping_interval_ms", "700", "redis_max_queued", "5000",
		"media_address", "10.1.2.3", "media_port", "5004", "edge_linger_ms", "2500", "edge_fanout", "4", NULL));
	g_assert_null(error);
	g_assert_cmpstr(c.node_id, ==, "edge-3");
	g_assert_cmpstr(c.node_url, ==, "https://edge-3.example.com/janus");
	g_assert_cmpuint(c.heartbeat_ms, ==, 500);
	g_assert_cmpuint(c.node_expiry_ms, ==, 1600);
	g_assert_cmpuint(c.full_nodes, ==, 5);
	g_assert_cmpstr(c.redis.unix_path, ==, "/run/redis/redis.sock");
	g_assert_cmpint(c.redis.port, ==, 6380);
	g_assert_cmpstr(c.redis.username, ==, "allhands");
	g_assert_cmpstr(c.redis.password, ==, "s3cret-s3cret");
	g_assert_cmpint(c.redis.db, ==, 2);
	g_assert_cmpuint(c.redis.connect_timeout_ms, ==, 1500);
	g_assert_cmpuint(c.redis.command_timeout_ms, ==, 2500);
	g_assert_cmpuint(c.redis.ping_interval_ms, ==, 700);
	g_assert_cmpuint(c.redis.max_queued, ==, 5000);
	g_assert_cmpstr(c.media_address, ==, "10.1.2.3");
	g_assert_cmpuint(c.media_port, ==, 5004);
	g_assert_cmpuint(c.edge_linger_ms, ==, 2500);
	g_assert_cmpuint(c.edge_fanout, ==, 4);
	ah_cluster_config_clear(&c);
}

/* Each bad config is refused with a message naming what is wrong; the config comes back cleared. */
static void test_config_refused(void)
{
	static const struct {
		const char *key, *value, *want;
	} cases[] = {
		{ "cluster", "maybe", "cluster = maybe must be true or false" },
		{ "node_url", NULL, "node_url is required in cluster mode" },
		{ "node_url", "ftp://n1:21", "node_url = ftp://n1:21 must be a ws://" },
		{ "node_url", "ws://", "node_url = ws:// must be" },
		{ "node_url", "n1:8188", "node_url = n1:8188 must be" },
		{ "node_url", "ws://n1:8188/a b", "no spaces" },
		{ "node_id", "node 1", "node_id = node 1 must be 1 to 64 characters" },
		{ "node_id", "{n1}", "node_id = {n1} must be" },
		{ "heartbeat_ms", "50", "heartbeat_ms = 50 must be an integer 100..60000" },
		{ "heartbeat_ms", "1e3", "heartbeat_ms = 1e3 must be an integer" },
		{ "node_expiry_ms", "2000", "node_expiry_ms = 2000 must be more than twice heartbeat_ms (1000)" },
		{ "node_expiry_ms", "-1", "node_expiry_ms = -1 must be an integer" },
		{ "heartbeat_full_nodes", "0", "heartbeat_full_nodes = 0 must be an integer 1..100000" },
		{ "redis_host", NULL, "redis_host or redis_unix_socket is required" },
		{ "redis_port", "0", "redis_port = 0 must be an integer 1..65535" },
		{ "redis_port", "65536", "redis_port = 65536 must be" },
		{ "redis_db", "-1", "redis_db = -1 must be" },
		{ "redis_username", "ah", "redis_username needs redis_password" },
		{ "redis_unix_socket", "/tmp/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "redis_unix_socket is longer than 107 bytes" },
		{ "redis_command_timeout_ms", "soon", "redis_command_timeout_ms = soon must be an integer 0..600000" },
		{ "cluster_secret", NULL, "cluster_secret is required in cluster mode" },
		{ "cluster_secret", "0123456789abcdef0123456789abcde", "cluster_secret must be 32 to 256 characters (it is 31)" },
		{ "node_url", "wss://n1.example.com:8989", "media_address is required in cluster mode when node_url's host is "
			"not an IP address" },
		{ "media_address", "n1.example.com", "media_address = n1.example.com must be a numeric IPv4 or IPv6 address" },
		{ "media_address", "0.0.0.0", "media_address = 0.0.0.0 must be a numeric" },
		{ "media_address", "::", "media_address = :: must be a numeric" },
		{ "media_address", "239.1.2.3", "media_address = 239.1.2.3 must be a numeric" },
		{ "media_address", "10.0.0.256", "media_address = 10.0.0.256 must be" },
		{ "media_port", "65536", "media_port = 65536 must be an integer 0..65535" },
		{ "edge_linger_ms", "-5", "edge_linger_ms = -5 must be an integer 0..600000" },
		{ "edge_fanout", "10001", "edge_fanout = 10001 must be an integer 0..10000" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		GHashTable *keys = g_hash_table_new(g_str_hash, g_str_equal);
		ah_cluster_config c;
		char *error = NULL;
		g_hash_table_insert(keys, "cluster", "true");
		g_hash_table_insert(keys, "redis_host", "10.0.0.5");
		g_hash_table_insert(keys, "node_url", "ws://10.0.0.11:8188");
		g_hash_table_insert(keys, "cluster_secret", TEST_CLUSTER_SECRET);
		if (cases[i].value != NULL)
			g_hash_table_insert(keys, (gpointer)cases[i].key, (gpointer)cases[i].value);
		else
			g_hash_table_remove(keys, cases[i].key);
		g_assert_false(ah_cluster_config_read(&c, lookup, keys, "host1", &error));
		g_assert_nonnull(error);
		if (strstr(error, cases[i].want) == NULL)
			g_assert_cmpstr(error, ==, cases[i].want);
		g_assert_null(c.node_id);
		g_assert_null(c.redis.host);
		g_free(error);
		g_hash_table_destroy(keys);
	}
}

/* node_id defaults to the host name, which must then be an id too. */
static void test_config_host_name(void)
{
	ah_cluster_config c;
	char *error = NULL;
	g_assert_false(read_with(&c, &error, "my host", "cluster", "1", "redis_host", "r", "node_url", "ws://n:1", NULL));
	g_assert_nonnull(strstr(error, "node_id is not set and the host name (my host)"));
	g_clear_pointer(&error, g_free);
	g_assert_false(read_with(&c, &error, NULL, "cluster", "1", "redis_host", "r", "node_url", "ws://n:1", NULL));
	g_assert_nonnull(strstr(error, "host name (unknown)"));
	g_clear_pointer(&error, g_free);
	/* Given, it wins over an unusable host name. */
	g_assert_true(read_with(&c, &error, "my host", "cluster", "1", "redis_host", "r", "node_url", "ws://n:1",
		"node_id", "n1", "media_address", "10.9.8.7", NULL));
	g_assert_cmpstr(c.node_id, ==, "n1");
	ah_cluster_config_clear(&c);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/registry/figures/json", test_figures_json);
	g_test_add_func("/registry/heartbeat/argv", test_heartbeat_argv);
	g_test_add_func("/registry/script/source-and-sha1", test_script);
	g_test_add_func("/registry/parse/view", test_parse);
	g_test_add_func("/registry/parse/foreign-figures-kept", test_parse_foreign_figures);
	g_test_add_func("/registry/parse/refused", test_parse_refused);
	g_test_add_func("/registry/view/json", test_view_json);
	g_test_add_func("/cluster-config/off", test_config_off);
	g_test_add_func("/cluster-config/defaults", test_config_defaults);
	g_test_add_func("/cluster-config/every-key", test_config_every_key);
	g_test_add_func("/cluster-config/refused", test_config_refused);
	g_test_add_func("/cluster-config/host-name", test_config_host_name);
	return g_test_run();
}
