/* allhands: room placement (plugin/core/placement.c): the least loaded alive node, ties, dead and
 * unreadable nodes, and the view's lookups.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib.h>

#include "allhands/placement.h"

static void test_choose(void)
{
	const ah_place_node nodes[] = {
		{ "a", "ws://a:8188", TRUE, 100, 60, 0, 0 },   /* 40 free */
		{ "b", "ws://b:8188", TRUE, 100, 10, 20, 0 },  /* 70 free: queued count as load */
		{ "c", "ws://c:8188", FALSE, 1000, 0, 0, 0 },  /* dead: never chosen */
		{ "d", "ws://d:8188", TRUE, 50, 0, 0, 0 },     /* 50 free */
	};
	ah_place_view *view = ah_place_view_new(nodes, G_N_ELEMENTS(nodes));
	g_assert_cmpuint(ah_place_view_size(view), ==, 4);
	g_assert_cmpstr(ah_place_choose(view, "self"), ==, "b");
	g_assert_cmpint(ah_place_free_seats(&nodes[1]), ==, 70);
	g_assert_cmpstr(ah_place_view_find(view, "c")->url, ==, "ws://c:8188");
	g_assert_false(ah_place_view_find(view, "c")->alive);
	g_assert_null(ah_place_view_find(view, "e"));
	g_assert_null(ah_place_view_find(view, NULL));
	ah_place_view_free(view);
}

/* Equal free seats: the smaller id; none free anywhere: still the least loaded (most free, even
 * negative); nobody alive: the fallback. */
static void test_ties_and_full(void)
{
	const ah_place_node tie[] = {
		{ "n2", "ws://2", TRUE, 10, 5, 0, 0 }, { "n1", "ws://1", TRUE, 20, 15, 0, 0 }, { "n3", "ws://3", TRUE, 5, 0, 0, 0 },
	};
	ah_place_view *view = ah_place_view_new(tie, G_N_ELEMENTS(tie));
	g_assert_cmpstr(ah_place_choose(view, "self"), ==, "n1");
	ah_place_view_free(view);
	const ah_place_node full[] = {
		{ "a", "ws://a", TRUE, 10, 10, 5, 0 }, { "b", "ws://b", TRUE, 10, 10, 2, 0 }, { "c", "ws://c", TRUE, 0, 0, 0, 0 },
	};
	view = ah_place_view_new(full, G_N_ELEMENTS(full));
	g_assert_cmpstr(ah_place_choose(view, "self"), ==, "c");
	ah_place_view_free(view);
	const ah_place_node dead[] = { { "a", "ws://a", FALSE, 10, 0, 0, 0 } };
	view = ah_place_view_new(dead, G_N_ELEMENTS(dead));
	g_assert_cmpstr(ah_place_choose(view, "self"), ==, "self");
	ah_place_view_free(view);
	g_assert_cmpstr(ah_place_choose(NULL, "self"), ==, "self");
	view = ah_place_view_new(NULL, 0);
	g_assert_cmpstr(ah_place_choose(view, NULL), ==, NULL);
	ah_place_view_free(view);
}

/* A node without readable figures (no url) is left out; a duplicate id keeps the first; the view
 * owns copies of its strings. */
static void test_view_copies(void)
{
	char *id = g_strdup("a"), *url = g_strdup("ws://a");
	const ah_place_node nodes[] = {
		{ id, url, TRUE, 10, 0, 0, 0 }, { "b", NULL, TRUE, 100, 0, 0, 0 }, { "a", "ws://other", TRUE, 100, 0, 0, 0 },
	};
	ah_place_view *view = ah_place_view_new(nodes, G_N_ELEMENTS(nodes));
	g_free(id);
	g_free(url);
	g_assert_cmpuint(ah_place_view_size(view), ==, 1);
	g_assert_cmpstr(ah_place_view_find(view, "a")->url, ==, "ws://a");
	g_assert_null(ah_place_view_find(view, "b"));
	g_assert_cmpstr(ah_place_choose(view, "self"), ==, "a");
	ah_place_view_free(view);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/placement/choose", test_choose);
	g_test_add_func("/placement/ties-and-full", test_ties_and_full);
	g_test_add_func("/placement/view-copies", test_view_copies);
	return g_test_run();
}
