/* allhands: the messages of media across nodes (include/allhands/media-msg.h): every type read with
 * its fields; every refusal named; nothing kept from a refused message.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "allhands/media-msg.h"

#define SALT "0123456789abcdef0123456789abcdef"

static gboolean parse(const char *text, ah_media_msg *m, char **error)
{
	return ah_media_msg_parse(text, strlen(text), m, error);
}

static void test_sub(void)
{
	ah_media_msg m;
	char *error = NULL;
	g_assert_true(parse("{\"v\":1,\"type\":\"sub\",\"from\":\"node-b\",\"tenant\":\"acme\",\"room\":\"allhands\","
		"\"address\":\"10.0.0.12\",\"port\":5004,\"receivers\":42,\"tree\":[[\"node-c\",\"node-b\"]]}", &m, &error));
	g_assert_null(error);
	g_assert_cmpint(m.type, ==, AH_MEDIA_MSG_SUB);
	g_assert_cmpstr(m.from, ==, "node-b");
	g_assert_cmpstr(m.tenant, ==, "acme");
	g_assert_cmpstr(m.room, ==, "allhands");
	g_assert_cmpstr(m.address, ==, "10.0.0.12");
	g_assert_cmpuint(m.port, ==, 5004);
	g_assert_cmpuint(m.receivers, ==, 42);
	g_assert_cmpuint(json_array_size(m.tree), ==, 1);
	ah_media_msg_clear(&m);
	g_assert_null(m.from);
	/* No tree, IPv6: an empty tree. */
	g_assert_true(parse("{\"v\":1,\"type\":\"sub\",\"from\":\"b\",\"tenant\":\"t\",\"room\":\"r\",\"address\":\"fd00::5\","
		"\"port\":1}", &m, &error));
	g_assert_cmpuint(json_array_size(m.tree), ==, 0);
	ah_media_msg_clear(&m);
}

static void test_feeds(void)
{
	ah_media_msg m;
	char *error = NULL;
	g_assert_true(parse("{\"v\":1,\"type\":\"feeds\",\"from\":\"node-a\",\"tenant\":\"acme\",\"room\":\"allhands\","
		"\"address\":\"10.0.0.11\",\"port\":40000,\"salt\":\"" SALT "\",\"epoch\":3,\"presenters\":["
		"{\"id\":7,\"feed\":513,\"display\":\"CEO \\u00e9\",\"streams\":[{\"kind\":\"audio\",\"mindex\":0,\"codec\":\"opus\","
		"\"fmtp\":\"\"},{\"kind\":\"video\",\"mindex\":1,\"codec\":\"vp8\",\"fmtp\":\"\",\"simulcast\":true}]},"
		"{\"id\":8,\"feed\":514,\"display\":\"\",\"streams\":[]}]}", &m, &error));
	g_assert_null(error);
	g_assert_cmpint(m.type, ==, AH_MEDIA_MSG_FEEDS);
	g_assert_cmpstr(m.salt, ==, SALT);
	g_assert_cmpuint(m.epoch, ==, 3);
	g_assert_cmpuint(m.feeds->len, ==, 2);
	const ah_media_feed *f = &g_array_index(m.feeds, ah_media_feed, 0);
	g_assert_cmpuint(f->id, ==, 7);
	g_assert_cmpuint(f->feed, ==, 513);
	g_assert_cmpstr(f->display, ==, "CEO \xc3\xa9");
	g_assert_cmpuint(f->n, ==, 2);
	g_assert_cmpint(f->streams[1].kind, ==, AH_MEDIA_VIDEO);
	g_assert_cmpint(f->streams[1].mindex, ==, 1);
	g_assert_cmpstr(f->streams[1].codec, ==, "vp8");
	g_assert_false(f->simulcast[0]);
	g_assert_true(f->simulcast[1]);
	ah_media_msg_clear(&m);
}

static void test_others(void)
{
	ah_media_msg m;
	char *error = NULL;
	g_assert_true(parse("{\"v\":1,\"type\":\"parent\",\"from\":\"a\",\"tenant\":\"t\",\"room\":\"r\",\"node\":\"node-b\"}",
		&m, &error));
	g_assert_cmpstr(m.node, ==, "node-b");
	ah_media_msg_clear(&m);
	g_assert_true(parse("{\"v\":1,\"type\":\"gone\",\"from\":\"a\",\"tenant\":\"t\",\"room\":\"r\"}", &m, &error));
	g_assert_cmpint(m.type, ==, AH_MEDIA_MSG_GONE);
	ah_media_msg_clear(&m);
	g_assert_true(parse("{\"v\":1,\"type\":\"unsub\",\"from\":\"a\",\"tenant\":\"t\",\"room\":\"r\"}", &m, &error));
	g_assert_cmpstr(ah_media_msg_type_name(m.type), ==, "unsub");
	ah_media_msg_clear(&m);
}

#define HEAD "\"v\":1,\"from\":\"a\",\"tenant\":\"t\",\"room\":\"r\""
#define FEEDS "{" HEAD ",\"type\":\"feeds\",\"address\":\"10.0.0.1\",\"port\":5,\"salt\":\"" SALT "\",\"epoch\":1,"
#define P(streams) "\"presenters\":[{\"id\":1,\"feed\":1,\"display\":\"x\",\"streams\":[" streams "]}]}"

static void test_refused(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "not JSON" },
		{ "[1]", "not a JSON object" },
		{ "{\"v\":2,\"type\":\"gone\"}", "v must be 1" },
		{ "{\"v\":1,\"type\":\"hello\"}", "type must be sub" },
		{ "{\"v\":1,\"type\":\"gone\",\"from\":\"a b\",\"tenant\":\"t\",\"room\":\"r\"}", "from must be an identifier" },
		{ "{\"v\":1,\"type\":\"gone\",\"from\":\"a\",\"room\":\"r\"}", "tenant must be an identifier" },
		{ "{\"v\":1,\"type\":\"gone\",\"from\":\"a\",\"tenant\":\"t\",\"room\":\"r\",\"v\":1}", "not JSON" },
		{ "{" HEAD ",\"type\":\"sub\",\"address\":\"example.com\",\"port\":5}", "address must be a numeric" },
		{ "{" HEAD ",\"type\":\"sub\",\"address\":\"10.0.0.1\",\"port\":0}", "port must be an integer 1..65535" },
		{ "{" HEAD ",\"type\":\"sub\",\"address\":\"10.0.0.1\",\"port\":70000}", "port must be" },
		{ "{" HEAD ",\"type\":\"sub\",\"address\":\"10.0.0.1\",\"port\":5,\"receivers\":-1}", "receivers must be" },
		{ "{" HEAD ",\"type\":\"sub\",\"address\":\"10.0.0.1\",\"port\":5,\"tree\":[[\"a\"]]}", "tree[0] must be" },
		{ "{" HEAD ",\"type\":\"sub\",\"address\":\"10.0.0.1\",\"port\":5,\"tree\":{}}", "tree must be an array" },
		{ "{" HEAD ",\"type\":\"parent\"}", "node must be an identifier" },
		{ "{" HEAD ",\"type\":\"feeds\",\"address\":\"10.0.0.1\",\"port\":5,\"salt\":\"ABCDEF\",\"epoch\":1}", "salt must be 32" },
		{ "{" HEAD ",\"type\":\"feeds\",\"address\":\"10.0.0.1\",\"port\":5,\"salt\":\"" SALT "\",\"epoch\":0}", "epoch must be" },
		{ "{" HEAD ",\"type\":\"feeds\",\"address\":\"10.0.0.1\",\"port\":5,\"salt\":\"" SALT "\",\"epoch\":4294967296}", "epoch must be" },
		{ FEEDS "\"presenters\":{}}", "presenters must be an array" },
		{ FEEDS "\"presenters\":[{\"id\":0,\"feed\":1,\"display\":\"x\",\"streams\":[]}]}", "presenters[0].id must be" },
		{ FEEDS "\"presenters\":[{\"id\":1,\"feed\":65536,\"display\":\"x\",\"streams\":[]}]}", "presenters[0].feed must be" },
		{ FEEDS "\"presenters\":[{\"id\":1,\"feed\":1,\"display\":5,\"streams\":[]}]}", "presenters[0].display must be" },
		{ FEEDS "\"presenters\":[{\"id\":1,\"feed\":1,\"display\":\"x\",\"streams\":[]},{\"id\":2,\"feed\":1,\"display\":\"y\","
			"\"streams\":[]}]}", "presenters[1]: its id or feed is given twice" },
		{ FEEDS P("{\"kind\":\"text\",\"mindex\":0,\"codec\":\"opus\",\"fmtp\":\"\"}"), "presenters[0].streams[0].kind" },
		{ FEEDS P("{\"kind\":\"audio\",\"mindex\":0,\"codec\":\"vp8\",\"fmtp\":\"\"}"), "streams[0].codec must be opus" },
		{ FEEDS P("{\"kind\":\"video\",\"mindex\":0,\"codec\":\"av1\",\"fmtp\":\"\"}"), "streams[0].codec must be vp8 or h264" },
		{ FEEDS P("{\"kind\":\"video\",\"mindex\":8,\"codec\":\"vp8\",\"fmtp\":\"\"}"), "streams[0].mindex must be 0..7" },
		{ FEEDS P("{\"kind\":\"audio\",\"mindex\":0,\"codec\":\"opus\",\"fmtp\":\"\"},{\"kind\":\"video\",\"mindex\":0,"
			"\"codec\":\"vp8\",\"fmtp\":\"\"}"), "streams[1].mindex must be" },
		{ FEEDS P("{\"kind\":\"audio\",\"mindex\":0,\"codec\":\"opus\"}"), "streams[0].fmtp must be" },
		{ FEEDS P("{\"kind\":\"video\",\"mindex\":0,\"codec\":\"vp8\",\"fmtp\":\"\",\"simulcast\":1}"), "simulcast must be" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		ah_media_msg m;
		char *error = NULL;
		g_assert_false(parse(cases[i].text, &m, &error));
		g_assert_nonnull(error);
		if (strstr(error, cases[i].want) == NULL)
			g_assert_cmpstr(error, ==, cases[i].want);
		g_assert_null(m.from);
		g_assert_null(m.feeds);
		g_assert_null(m.tree);
		g_free(error);
	}
	/* Too long, too many presenters, an over-long display name. */
	ah_media_msg m;
	char *error = NULL;
	GString *big = g_string_new("{\"v\":1,\"pad\":\"");
	while (big->len <= AH_MEDIA_MSG_MAX_BYTES)
		g_string_append(big, "xxxxxxxxxxxxxxxx");
	g_string_append(big, "\"}");
	g_assert_false(ah_media_msg_parse(big->str, big->len, &m, &error));
	g_assert_nonnull(strstr(error, "at most 65536 bytes"));
	g_clear_pointer(&error, g_free);
	g_string_assign(big, FEEDS "\"presenters\":[");
	for (int k = 1; k <= AH_MEDIA_MSG_MAX_FEEDS + 1; k++)
		g_string_append_printf(big, "%s{\"id\":%d,\"feed\":%d,\"display\":\"\",\"streams\":[]}", k > 1 ? "," : "", k, k);
	g_string_append(big, "]}");
	g_assert_false(ah_media_msg_parse(big->str, big->len, &m, &error));
	g_assert_nonnull(strstr(error, "presenters must be an array of at most 64"));
	g_clear_pointer(&error, g_free);
	g_string_assign(big, FEEDS "\"presenters\":[{\"id\":1,\"feed\":1,\"streams\":[],\"display\":\"");
	for (int k = 0; k <= AH_MEDIA_MSG_DISPLAY_MAX; k++)
		g_string_append_c(big, 'd');
	g_string_append(big, "\"}]}");
	g_assert_false(ah_media_msg_parse(big->str, big->len, &m, &error));
	g_assert_nonnull(strstr(error, "display must be valid UTF-8 of at most 256 bytes"));
	g_clear_pointer(&error, g_free);
	g_string_free(big, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/media-msg/sub", test_sub);
	g_test_add_func("/media-msg/feeds", test_feeds);
	g_test_add_func("/media-msg/parent-gone-unsub", test_others);
	g_test_add_func("/media-msg/refused", test_refused);
	return g_test_run();
}
