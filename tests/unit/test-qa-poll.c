/* allhands: unit tests of the polls of the Q&A core (include/allhands/qa.h, plugin/core/qa-poll.c):
 * opening (text and option rules, bounds), single and multiple choice, one ballot per voter (a new
 * ballot replaces the old one), closing, results hidden from attendees until published.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/qa.h"

static const char *const yes_no[] = {"Yes", "No"};

static void test_open_rules(void)
{
	ah_qa *qa = ah_qa_new(NULL, NULL);
	guint id = 0;
	const char *opts[12] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"};
	g_assert_cmpint(ah_qa_poll_open(qa, "Q?", opts, 1, FALSE, &id), ==, AH_QA_E_POLL_OPTIONS);
	g_assert_cmpint(ah_qa_poll_open(qa, "Q?", opts, 11, FALSE, &id), ==, AH_QA_E_POLL_OPTIONS);
	g_assert_cmpint(ah_qa_poll_open(qa, "Q?", NULL, 2, FALSE, &id), ==, AH_QA_E_POLL_OPTIONS);
	const char *bad[] = {"fine", "  "};
	g_assert_cmpint(ah_qa_poll_open(qa, "Q?", bad, 2, FALSE, &id), ==, AH_QA_E_POLL_OPTIONS);
	const char *ctl[] = {"fine", "a\x1b"};
	g_assert_cmpint(ah_qa_poll_open(qa, "Q?", ctl, 2, FALSE, &id), ==, AH_QA_E_POLL_OPTIONS);
	g_assert_cmpint(ah_qa_poll_open(qa, " ", yes_no, 2, FALSE, &id), ==, AH_QA_E_TEXT_EMPTY);
	char *long_text = g_strnfill(AH_QA_POLL_TEXT + 1, 'p');
	g_assert_cmpint(ah_qa_poll_open(qa, long_text, yes_no, 2, FALSE, &id), ==, AH_QA_E_TEXT_LONG);
	g_free(long_text);
	g_assert_cmpuint(ah_qa_version(qa), ==, 0);
	g_assert_cmpint(ah_qa_poll_open(qa, " Lunch? ", opts, 10, TRUE, &id), ==, AH_QA_OK);
	g_assert_cmpuint(id, ==, 1);
	ah_qa_poll_info info;
	g_assert_true(ah_qa_poll_get(qa, id, &info));
	g_assert_cmpstr(info.text, ==, "Lunch?");
	g_assert_cmpuint(info.n_options, ==, 10);
	g_assert_cmpstr(info.options[9], ==, "j");
	g_assert_true(info.open);
	g_assert_true(info.multiple);
	g_assert_false(ah_qa_poll_get(qa, 2, &info));
	ah_qa_free(qa);
}

static void test_polls_full(void)
{
	ah_qa_limits lim;
	ah_qa_limits_default(&lim);
	lim.max_polls = 2;
	ah_qa *qa = ah_qa_new(&lim, NULL);
	g_assert_cmpint(ah_qa_poll_open(qa, "1", yes_no, 2, FALSE, NULL), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_poll_open(qa, "2", yes_no, 2, FALSE, NULL), ==, AH_QA_OK);
	ah_qa_poll_close(qa, 1);
	/* Closed polls are kept, so they still count. */
	g_assert_cmpint(ah_qa_poll_open(qa, "3", yes_no, 2, FALSE, NULL), ==, AH_QA_E_POLLS_FULL);
	ah_qa_free(qa);
}

static void test_single_choice(void)
{
	ah_qa *qa = ah_qa_new(NULL, NULL);
	const char *opts[] = {"red", "green", "blue"};
	guint p;
	g_assert_cmpint(ah_qa_poll_open(qa, "Colour?", opts, 3, FALSE, &p), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 1, 0), ==, AH_QA_E_POLL_CHOICE);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 1, 0x3), ==, AH_QA_E_POLL_CHOICE);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 1, 1u << 3), ==, AH_QA_E_POLL_CHOICE);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 0, 1), ==, AH_QA_E_ARGUMENT);
	g_assert_cmpint(ah_qa_poll_vote(qa, 9, 1, 1), ==, AH_QA_E_NOT_FOUND);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 1, 1u << 2), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 2, 1u << 2), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 3, 1u << 0), ==, AH_QA_OK);
	ah_qa_poll_info info;
	ah_qa_poll_get(qa, p, &info);
	g_assert_cmpuint(info.counts[0], ==, 1);
	g_assert_cmpuint(info.counts[1], ==, 0);
	g_assert_cmpuint(info.counts[2], ==, 2);
	g_assert_cmpuint(info.voters, ==, 3);
	/* Changing one's mind replaces the ballot: still one voter counted once. */
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 1, 1u << 1), ==, AH_QA_OK);
	ah_qa_poll_get(qa, p, &info);
	g_assert_cmpuint(info.counts[1], ==, 1);
	g_assert_cmpuint(info.counts[2], ==, 1);
	g_assert_cmpuint(info.voters, ==, 3);
	g_assert_cmpuint(ah_qa_poll_ballot(qa, p, 1), ==, 1u << 1);
	g_assert_cmpuint(ah_qa_poll_ballot(qa, p, 42), ==, 0);
	/* The same ballot again changes nothing. */
	guint64 v = ah_qa_version(qa);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 1, 1u << 1), ==, AH_QA_OK);
	g_assert_cmpuint(ah_qa_version(qa), ==, v);
	/* Closed: kept, no more votes. */
	g_assert_cmpint(ah_qa_poll_close(qa, p), ==, AH_QA_OK);
	g_assert_cmpuint(ah_qa_version(qa), ==, v + 1);
	g_assert_cmpint(ah_qa_poll_close(qa, p), ==, AH_QA_OK);
	g_assert_cmpuint(ah_qa_version(qa), ==, v + 1);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 4, 1), ==, AH_QA_E_POLL_CLOSED);
	ah_qa_poll_get(qa, p, &info);
	g_assert_false(info.open);
	g_assert_cmpuint(info.voters, ==, 3);
	g_assert_cmpint(ah_qa_poll_close(qa, 5), ==, AH_QA_E_NOT_FOUND);
	g_assert_cmpint(ah_qa_poll_publish(qa, 5), ==, AH_QA_E_NOT_FOUND);
	ah_qa_free(qa);
}

static void test_multiple_choice(void)
{
	ah_qa *qa = ah_qa_new(NULL, NULL);
	const char *opts[] = {"a", "b", "c", "d"};
	guint p;
	ah_qa_poll_open(qa, "Which?", opts, 4, TRUE, &p);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 1, 0), ==, AH_QA_E_POLL_CHOICE);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 1, 0x1f), ==, AH_QA_E_POLL_CHOICE);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 1, 0xb), ==, AH_QA_OK); /* a, b, d */
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 2, 0x2), ==, AH_QA_OK); /* b */
	ah_qa_poll_info info;
	ah_qa_poll_get(qa, p, &info);
	g_assert_cmpuint(info.counts[0], ==, 1);
	g_assert_cmpuint(info.counts[1], ==, 2);
	g_assert_cmpuint(info.counts[2], ==, 0);
	g_assert_cmpuint(info.counts[3], ==, 1);
	g_assert_cmpuint(info.voters, ==, 2);
	g_assert_cmpint(ah_qa_poll_vote(qa, p, 1, 0x4), ==, AH_QA_OK); /* now only c */
	ah_qa_poll_get(qa, p, &info);
	g_assert_cmpuint(info.counts[0], ==, 0);
	g_assert_cmpuint(info.counts[1], ==, 1);
	g_assert_cmpuint(info.counts[2], ==, 1);
	g_assert_cmpuint(info.counts[3], ==, 0);
	ah_qa_free(qa);
}

static json_t *find_poll(json_t *view, guint id)
{
	json_t *polls = json_object_get(view, "polls"), *p;
	size_t i;
	json_array_foreach(polls, i, p)
		if (json_integer_value(json_object_get(p, "id")) == id)
			return p;
	return NULL;
}

static void test_views(void)
{
	ah_qa *qa = ah_qa_new(NULL, NULL);
	guint p1, p2, p3;
	ah_qa_poll_open(qa, "Open, unpublished", yes_no, 2, FALSE, &p1);
	ah_qa_poll_open(qa, "Closed, unpublished", yes_no, 2, FALSE, &p2);
	ah_qa_poll_open(qa, "Closed, published", yes_no, 2, FALSE, &p3);
	ah_qa_poll_vote(qa, p1, 7, 1);
	ah_qa_poll_vote(qa, p2, 7, 2);
	ah_qa_poll_vote(qa, p3, 8, 2);
	ah_qa_poll_close(qa, p2);
	ah_qa_poll_close(qa, p3);
	g_assert_cmpint(ah_qa_poll_publish(qa, p3), ==, AH_QA_OK);

	json_t *v = ah_qa_view_attendee(qa, 7, 10);
	g_assert_cmpuint(json_array_size(json_object_get(v, "polls")), ==, 2);
	json_t *o = find_poll(v, p1);
	g_assert_nonnull(o);
	g_assert_null(json_object_get(o, "counts"));   /* no results before publishing */
	g_assert_null(json_object_get(o, "voters"));
	json_t *ballot = json_object_get(o, "ballot");
	g_assert_cmpuint(json_array_size(ballot), ==, 1);
	g_assert_cmpint(json_integer_value(json_array_get(ballot, 0)), ==, 0);
	g_assert_null(find_poll(v, p2));                /* closed and unpublished: gone for attendees */
	o = find_poll(v, p3);
	g_assert_nonnull(o);
	g_assert_cmpint(json_integer_value(json_array_get(json_object_get(o, "counts"), 1)), ==, 1);
	g_assert_cmpuint(json_array_size(json_object_get(o, "ballot")), ==, 0);
	json_decref(v);

	/* Publishing an open poll shows live results. */
	ah_qa_poll_publish(qa, p1);
	v = ah_qa_view_attendee(qa, 9, 10);
	o = find_poll(v, p1);
	g_assert_cmpint(json_integer_value(json_array_get(json_object_get(o, "counts"), 0)), ==, 1);
	json_decref(v);

	/* Moderators: every poll with results. */
	v = ah_qa_view_moderator(qa, 0);
	g_assert_cmpuint(json_array_size(json_object_get(v, "polls")), ==, 3);
	o = find_poll(v, p2);
	g_assert_cmpint(json_integer_value(json_array_get(json_object_get(o, "counts"), 1)), ==, 1);
	g_assert_cmpint(json_integer_value(json_object_get(o, "voters")), ==, 1);
	json_decref(v);

	/* The export keeps closed polls with their results. */
	v = ah_qa_export_json(qa);
	g_assert_cmpuint(json_array_size(json_object_get(v, "polls")), ==, 3);
	o = find_poll(v, p2);
	g_assert_true(json_is_false(json_object_get(o, "open")));
	g_assert_cmpint(json_integer_value(json_array_get(json_object_get(o, "counts"), 1)), ==, 1);
	json_decref(v);
	ah_qa_free(qa);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/qa/poll/open-rules", test_open_rules);
	g_test_add_func("/qa/poll/full", test_polls_full);
	g_test_add_func("/qa/poll/single-choice", test_single_choice);
	g_test_add_func("/qa/poll/multiple-choice", test_multiple_choice);
	g_test_add_func("/qa/poll/views", test_views);
	return g_test_run();
}
