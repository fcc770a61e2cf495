/* allhands: unit tests of the Q&A core (include/allhands/qa.h, plugin/core/qa.c, qa-view.c):
 * text rules, bounds, the rate limit, votes once, moderator actions, display order, anonymity in
 * the views, the change counter and the exports. Polls are in test-qa-poll.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/qa.h"

#define S G_GINT64_CONSTANT(1000000)

static ah_qa *new_qa(gboolean at_once)
{
	ah_qa_limits lim;
	ah_qa_limits_default(&lim);
	lim.publish_at_once = at_once;
	ah_qa *qa = ah_qa_new(&lim, NULL);
	g_assert_nonnull(qa);
	return qa;
}

static guint submit_ok(ah_qa *qa, guint64 who, const char *text, gint64 now)
{
	guint id = 0;
	g_assert_cmpint(ah_qa_submit(qa, who, "Ann", text, FALSE, now, &id), ==, AH_QA_OK);
	g_assert_cmpuint(id, >, 0);
	return id;
}

static void test_limits(void)
{
	const char *err = NULL;
	ah_qa_limits lim;
	ah_qa_limits_default(&lim);
	lim.max_questions = 0;
	g_assert_null(ah_qa_new(&lim, &err));
	g_assert_cmpstr(err, ==, ah_qa_error_message(AH_QA_E_ARGUMENT));
	ah_qa_limits_default(&lim);
	lim.max_text = AH_QA_MAX_TEXT + 1;
	g_assert_null(ah_qa_new(&lim, NULL));
	ah_qa_limits_default(&lim);
	lim.refill_us = 0;
	g_assert_null(ah_qa_new(&lim, NULL));
	ah_qa_limits_default(&lim);
	lim.max_pins = AH_QA_MAX_PINS + 1;
	g_assert_null(ah_qa_new(&lim, NULL));
	ah_qa *qa = ah_qa_new(NULL, NULL);
	g_assert_nonnull(qa);
	ah_qa_free(qa);
	ah_qa_free(NULL);
	g_assert_cmpstr(ah_qa_error_name(AH_QA_E_RATE), ==, "rate");
	g_assert_cmpstr(ah_qa_error_name((ah_qa_error)999), ==, "unknown");
}

static void test_text_rules(void)
{
	ah_qa *qa = new_qa(FALSE);
	guint id = 0;
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", "  \t\n ", FALSE, 0, &id), ==, AH_QA_E_TEXT_EMPTY);
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", "", FALSE, 0, &id), ==, AH_QA_E_TEXT_EMPTY);
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", "ab\xff", FALSE, 0, &id), ==, AH_QA_E_TEXT_UTF8);
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", "a\x01" "b", FALSE, 0, &id), ==, AH_QA_E_TEXT_CONTROL);
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", "line\nbreak", FALSE, 0, &id), ==, AH_QA_E_TEXT_CONTROL);
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", "del\x7f", FALSE, 0, &id), ==, AH_QA_E_TEXT_CONTROL);
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", "c1\xc2\x85", FALSE, 0, &id), ==, AH_QA_E_TEXT_CONTROL);
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", NULL, FALSE, 0, &id), ==, AH_QA_E_ARGUMENT);
	char *long_text = g_strnfill(AH_QA_DEFAULT_TEXT + 1, 'x');
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", long_text, FALSE, 0, &id), ==, AH_QA_E_TEXT_LONG);
	long_text[AH_QA_DEFAULT_TEXT] = '\0';
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", long_text, FALSE, 0, &id), ==, AH_QA_OK);
	g_free(long_text);
	/* Names: refused with their own error. */
	g_assert_cmpint(ah_qa_submit(qa, 2, "", "q", FALSE, 0, &id), ==, AH_QA_E_NAME);
	g_assert_cmpint(ah_qa_submit(qa, 2, NULL, "q", FALSE, 0, &id), ==, AH_QA_E_NAME);
	g_assert_cmpint(ah_qa_submit(qa, 2, "a\tb", "q", FALSE, 0, &id), ==, AH_QA_E_NAME);
	g_assert_cmpint(ah_qa_submit(qa, 0, "Bob", "q", FALSE, 0, &id), ==, AH_QA_E_ARGUMENT);
	/* Trimmed, multi-byte text kept whole. */
	g_assert_cmpint(ah_qa_submit(qa, 2, " Bob ", "  Où est la sortie ? \xe2\x9c\x93 ", FALSE, 0, &id), ==,
		AH_QA_OK);
	ah_qa_question q;
	g_assert_true(ah_qa_get(qa, id, &q));
	g_assert_cmpstr(q.text, ==, "Où est la sortie ? \xe2\x9c\x93");
	g_assert_cmpstr(q.name, ==, "Bob");
	g_assert_cmpuint(q.author, ==, 2);
	g_assert_cmpint(q.state, ==, AH_QA_OPEN);
	g_assert_false(q.published);
	/* Refusals changed nothing. */
	g_assert_cmpuint(ah_qa_count(qa), ==, 2);
	g_assert_cmpuint(ah_qa_version(qa), ==, 2);
	ah_qa_free(qa);
}

static void test_rate_limit(void)
{
	ah_qa *qa = new_qa(FALSE);
	/* Burst of 3, then one per 20 s. */
	for (int i = 0; i < 3; i++)
		submit_ok(qa, 7, "q", i);
	guint id;
	g_assert_cmpint(ah_qa_submit(qa, 7, "Ann", "q", FALSE, 10 * S, &id), ==, AH_QA_E_RATE);
	/* Another participant is not affected. */
	submit_ok(qa, 8, "q", 10 * S);
	/* Answer two so the open bound does not interfere. */
	g_assert_cmpint(ah_qa_answer(qa, 1, NULL), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_answer(qa, 2, NULL), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_submit(qa, 7, "Ann", "q", FALSE, 20 * S - 1, &id), ==, AH_QA_E_RATE);
	submit_ok(qa, 7, "q", 20 * S);
	g_assert_cmpint(ah_qa_submit(qa, 7, "Ann", "q", FALSE, 39 * S, &id), ==, AH_QA_E_RATE);
	submit_ok(qa, 7, "q", 40 * S);
	/* A long pause refills to the burst, never above. */
	for (guint i = 1; i <= 6; i++)
		g_assert_cmpint(ah_qa_answer(qa, i, NULL), ==, AH_QA_OK);
	for (int i = 0; i < 3; i++)
		submit_ok(qa, 7, "q", 1000 * S);
	g_assert_cmpint(ah_qa_submit(qa, 7, "Ann", "q", FALSE, 1000 * S, &id), ==, AH_QA_E_RATE);
	/* A clock stepping back refills nothing. */
	g_assert_cmpint(ah_qa_submit(qa, 7, "Ann", "q", FALSE, 0, &id), ==, AH_QA_E_RATE);
	ah_qa_free(qa);

	/* Times at the ends of gint64: no overflow, the bucket refills once the time has passed. */
	qa = new_qa(FALSE);
	for (int i = 0; i < 3; i++)
		submit_ok(qa, 9, "q", G_MININT64);
	for (guint i = 1; i <= 3; i++)
		g_assert_cmpint(ah_qa_answer(qa, i, NULL), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_submit(qa, 9, "Ann", "q", FALSE, G_MININT64 + 1, &id), ==, AH_QA_E_RATE);
	submit_ok(qa, 9, "q", G_MAXINT64);
	submit_ok(qa, 9, "q", G_MAXINT64);
	submit_ok(qa, 9, "q", G_MAXINT64);
	g_assert_cmpint(ah_qa_submit(qa, 9, "Ann", "q", FALSE, G_MAXINT64, &id), ==, AH_QA_E_RATE);
	ah_qa_free(qa);
}

static void test_open_limit_and_full(void)
{
	ah_qa_limits lim;
	ah_qa_limits_default(&lim);
	lim.burst = 100;
	lim.max_questions = 8;
	ah_qa *qa = ah_qa_new(&lim, NULL);
	for (int i = 0; i < 5; i++)
		submit_ok(qa, 1, "q", 0);
	guint id;
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", "q", FALSE, 0, &id), ==, AH_QA_E_OPEN_LIMIT);
	/* Answering or dismissing frees a slot. */
	g_assert_cmpint(ah_qa_dismiss(qa, 1), ==, AH_QA_OK);
	submit_ok(qa, 1, "q", 0);
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", "q", FALSE, 0, &id), ==, AH_QA_E_OPEN_LIMIT);
	g_assert_cmpint(ah_qa_answer(qa, 2, "done"), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_answer(qa, 2, "again"), ==, AH_QA_OK); /* no double decrement */
	submit_ok(qa, 1, "q", 0);
	g_assert_cmpint(ah_qa_submit(qa, 1, "Ann", "q", FALSE, 0, &id), ==, AH_QA_E_OPEN_LIMIT);
	/* The occurrence is full at 8, whoever asks. */
	submit_ok(qa, 2, "q", 0);
	g_assert_cmpuint(ah_qa_count(qa), ==, 8);
	g_assert_cmpint(ah_qa_submit(qa, 3, "Cy", "q", FALSE, 0, &id), ==, AH_QA_E_FULL);
	ah_qa_free(qa);
}

static void test_votes(void)
{
	ah_qa *qa = new_qa(FALSE);
	guint a = submit_ok(qa, 1, "a", 0);
	g_assert_cmpint(ah_qa_vote(qa, a, 2), ==, AH_QA_E_NOT_VISIBLE);
	g_assert_cmpint(ah_qa_publish(qa, a), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_vote(qa, a, 1), ==, AH_QA_E_OWN);
	g_assert_cmpint(ah_qa_vote(qa, a, 0), ==, AH_QA_E_ARGUMENT);
	g_assert_cmpint(ah_qa_vote(qa, 99, 2), ==, AH_QA_E_NOT_FOUND);
	g_assert_cmpint(ah_qa_vote(qa, 0, 2), ==, AH_QA_E_NOT_FOUND);
	g_assert_cmpint(ah_qa_vote(qa, a, 2), ==, AH_QA_OK);
	guint64 v = ah_qa_version(qa);
	g_assert_cmpint(ah_qa_vote(qa, a, 2), ==, AH_QA_E_VOTED);
	g_assert_cmpuint(ah_qa_version(qa), ==, v);
	g_assert_cmpint(ah_qa_vote(qa, a, 3), ==, AH_QA_OK);
	ah_qa_question q;
	ah_qa_get(qa, a, &q);
	g_assert_cmpuint(q.votes, ==, 2);
	g_assert_true(ah_qa_has_voted(qa, a, 2));
	g_assert_false(ah_qa_has_voted(qa, a, 4));
	g_assert_cmpint(ah_qa_unvote(qa, a, 4), ==, AH_QA_E_NOT_VOTED);
	g_assert_cmpint(ah_qa_unvote(qa, a, 2), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_unvote(qa, a, 2), ==, AH_QA_E_NOT_VOTED);
	ah_qa_get(qa, a, &q);
	g_assert_cmpuint(q.votes, ==, 1);
	g_assert_cmpint(ah_qa_vote(qa, a, 2), ==, AH_QA_OK); /* again after taking it back */
	g_assert_cmpint(ah_qa_dismiss(qa, a), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_vote(qa, a, 5), ==, AH_QA_E_DISMISSED);
	ah_qa_free(qa);
}

static void expect_order(ah_qa *qa, gboolean attendee, const guint *want, guint n)
{
	guint got[32];
	g_assert_cmpuint(ah_qa_order(qa, attendee, got, 32), ==, n);
	for (guint i = 0; i < n; i++)
		g_assert_cmpuint(got[i], ==, want[i]);
}

static void test_order(void)
{
	ah_qa *qa = new_qa(TRUE);
	guint a = submit_ok(qa, 1, "a", 1 * S), b = submit_ok(qa, 2, "b", 2 * S);
	guint c = submit_ok(qa, 3, "c", 3 * S), d = submit_ok(qa, 4, "d", 4 * S);
	/* No votes: by time. */
	expect_order(qa, TRUE, (guint[]){a, b, c, d}, 4);
	/* Votes first. */
	ah_qa_vote(qa, c, 10);
	ah_qa_vote(qa, c, 11);
	ah_qa_vote(qa, b, 10);
	expect_order(qa, TRUE, (guint[]){c, b, a, d}, 4);
	/* Pinned before everything, latest pinned first. */
	g_assert_cmpint(ah_qa_pin(qa, d, TRUE), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_pin(qa, a, TRUE), ==, AH_QA_OK);
	expect_order(qa, TRUE, (guint[]){a, d, c, b}, 4);
	g_assert_cmpint(ah_qa_pin(qa, a, FALSE), ==, AH_QA_OK);
	expect_order(qa, TRUE, (guint[]){d, c, b, a}, 4);
	/* Unvoting moves back: c now ties with a on votes, and a is older. */
	ah_qa_unvote(qa, c, 10);
	ah_qa_unvote(qa, c, 11);
	expect_order(qa, TRUE, (guint[]){d, b, a, c}, 4);
	expect_order(qa, FALSE, (guint[]){d, b, a, c}, 4);
	/* Dismissed: gone for attendees, last for moderators (and unpinned). */
	g_assert_cmpint(ah_qa_dismiss(qa, d), ==, AH_QA_OK);
	expect_order(qa, TRUE, (guint[]){b, a, c}, 3);
	expect_order(qa, FALSE, (guint[]){b, a, c, d}, 4);
	ah_qa_question q;
	ah_qa_get(qa, d, &q);
	g_assert_false(q.pinned);
	/* top K: only the first K. */
	guint got[2];
	g_assert_cmpuint(ah_qa_order(qa, TRUE, got, 2), ==, 2);
	g_assert_cmpuint(got[0], ==, b);
	g_assert_cmpuint(got[1], ==, a);
	ah_qa_free(qa);
}

static void test_moderation(void)
{
	ah_qa *qa = new_qa(FALSE);
	guint a = submit_ok(qa, 1, "a", 0), b = submit_ok(qa, 2, "b", 0);
	/* Not published: attendees see nothing, moderators see both. */
	expect_order(qa, TRUE, NULL, 0);
	expect_order(qa, FALSE, (guint[]){a, b}, 2);
	guint64 v = ah_qa_version(qa);
	g_assert_cmpint(ah_qa_publish(qa, b), ==, AH_QA_OK);
	g_assert_cmpuint(ah_qa_version(qa), ==, v + 1);
	g_assert_cmpint(ah_qa_publish(qa, b), ==, AH_QA_OK); /* no change, no bump */
	g_assert_cmpuint(ah_qa_version(qa), ==, v + 1);
	expect_order(qa, TRUE, (guint[]){b}, 1);
	g_assert_cmpint(ah_qa_publish(qa, 42), ==, AH_QA_E_NOT_FOUND);
	/* Answer in text: validated, bounded, publishes. */
	char *huge = g_strnfill(AH_QA_DEFAULT_ANSWER + 1, 'y');
	g_assert_cmpint(ah_qa_answer(qa, a, huge), ==, AH_QA_E_TEXT_LONG);
	g_free(huge);
	g_assert_cmpint(ah_qa_answer(qa, a, "  "), ==, AH_QA_E_TEXT_EMPTY);
	g_assert_cmpint(ah_qa_answer(qa, a, "x\x02"), ==, AH_QA_E_TEXT_CONTROL);
	ah_qa_question q;
	ah_qa_get(qa, a, &q);
	g_assert_cmpint(q.state, ==, AH_QA_OPEN);
	g_assert_cmpint(ah_qa_answer(qa, a, " Next week. "), ==, AH_QA_OK);
	ah_qa_get(qa, a, &q);
	g_assert_cmpint(q.state, ==, AH_QA_ANSWERED);
	g_assert_cmpstr(q.answer, ==, "Next week.");
	g_assert_false(q.answered_live);
	g_assert_true(q.published);
	/* Answered live: the latest wins. */
	g_assert_cmpint(ah_qa_answer(qa, a, NULL), ==, AH_QA_OK);
	ah_qa_get(qa, a, &q);
	g_assert_null(q.answer);
	g_assert_true(q.answered_live);
	/* Dismissed: cannot be published, pinned or answered; dismissing twice is fine. */
	g_assert_cmpint(ah_qa_dismiss(qa, b), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_dismiss(qa, b), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_publish(qa, b), ==, AH_QA_E_DISMISSED);
	g_assert_cmpint(ah_qa_pin(qa, b, TRUE), ==, AH_QA_E_DISMISSED);
	g_assert_cmpint(ah_qa_answer(qa, b, "no"), ==, AH_QA_E_DISMISSED);
	g_assert_cmpint(ah_qa_dismiss(qa, 0), ==, AH_QA_E_NOT_FOUND);
	g_assert_cmpint(ah_qa_pin(qa, 77, TRUE), ==, AH_QA_E_NOT_FOUND);
	g_assert_cmpint(ah_qa_answer(qa, 77, NULL), ==, AH_QA_E_NOT_FOUND);
	ah_qa_free(qa);
}

static void test_pins(void)
{
	ah_qa_limits lim;
	ah_qa_limits_default(&lim);
	lim.burst = 10;
	ah_qa *qa = ah_qa_new(&lim, NULL);
	guint ids[5];
	for (int i = 0; i < 5; i++)
		ids[i] = submit_ok(qa, (guint64)i + 1, "q", i);
	for (int i = 0; i < 3; i++)
		g_assert_cmpint(ah_qa_pin(qa, ids[i], TRUE), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_pin(qa, ids[3], TRUE), ==, AH_QA_E_PIN_LIMIT);
	g_assert_cmpint(ah_qa_pin(qa, ids[0], TRUE), ==, AH_QA_OK); /* already pinned */
	/* Pinning published them. */
	expect_order(qa, TRUE, (guint[]){ids[2], ids[1], ids[0]}, 3);
	/* Dismissing a pinned question frees its pin. */
	g_assert_cmpint(ah_qa_dismiss(qa, ids[1]), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_pin(qa, ids[3], TRUE), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_pin(qa, ids[4], TRUE), ==, AH_QA_E_PIN_LIMIT);
	g_assert_cmpint(ah_qa_pin(qa, ids[4], FALSE), ==, AH_QA_OK); /* not pinned: no-op */
	g_assert_cmpint(ah_qa_pin(qa, ids[0], FALSE), ==, AH_QA_OK);
	g_assert_cmpint(ah_qa_pin(qa, ids[4], TRUE), ==, AH_QA_OK);
	ah_qa_free(qa);
}

static gboolean json_mentions(json_t *j, const char *needle)
{
	char *s = json_dumps(j, JSON_COMPACT);
	gboolean found = strstr(s, needle) != NULL;
	free(s);
	return found;
}

static void test_views(void)
{
	ah_qa *qa = new_qa(FALSE);
	guint id;
	g_assert_cmpint(ah_qa_submit(qa, 111111, "Secret Sam", "anon q", TRUE, 1, &id), ==, AH_QA_OK);
	guint named = 0;
	g_assert_cmpint(ah_qa_submit(qa, 222222, "Open Olga", "named q", FALSE, 2, &named), ==, AH_QA_OK);
	guint hidden = submit_ok(qa, 333333, "unpublished q", 3);
	ah_qa_publish(qa, id);
	ah_qa_publish(qa, named);
	ah_qa_vote(qa, id, 444444);

	/* Another attendee: no anonymous author, no author ids, no unpublished question. */
	json_t *v = ah_qa_view_attendee(qa, 444444, 10);
	g_assert_false(json_mentions(v, "Secret Sam"));
	g_assert_false(json_mentions(v, "111111"));
	g_assert_false(json_mentions(v, "222222"));
	g_assert_false(json_mentions(v, "unpublished q"));
	g_assert_true(json_mentions(v, "Open Olga"));
	json_t *qs = json_object_get(v, "questions");
	g_assert_cmpuint(json_array_size(qs), ==, 2);
	json_t *first = json_array_get(qs, 0);
	g_assert_cmpint(json_integer_value(json_object_get(first, "id")), ==, id);
	g_assert_true(json_is_true(json_object_get(first, "voted")));
	g_assert_true(json_is_true(json_object_get(first, "anonymous")));
	g_assert_null(json_object_get(first, "name"));
	g_assert_true(json_is_false(json_object_get(first, "mine")));
	g_assert_cmpuint(json_array_size(json_object_get(v, "mine")), ==, 0);
	g_assert_cmpint(json_integer_value(json_object_get(v, "version")), ==, ah_qa_version(qa));
	json_decref(v);

	/* top 1 */
	v = ah_qa_view_attendee(qa, 444444, 1);
	g_assert_cmpuint(json_array_size(json_object_get(v, "questions")), ==, 1);
	g_assert_cmpint(json_integer_value(json_object_get(v, "total")), ==, 2);
	json_decref(v);

	/* The author of the unpublished question sees it under "mine" only. */
	v = ah_qa_view_attendee(qa, 333333, 10);
	json_t *mine = json_object_get(v, "mine");
	g_assert_cmpuint(json_array_size(mine), ==, 1);
	g_assert_cmpint(json_integer_value(json_object_get(json_array_get(mine, 0), "id")), ==, hidden);
	g_assert_true(json_is_false(json_object_get(json_array_get(mine, 0), "published")));
	g_assert_cmpuint(json_array_size(json_object_get(v, "questions")), ==, 2);
	json_decref(v);

	/* The anonymous author sees their question as theirs, still without a name. */
	v = ah_qa_view_attendee(qa, 111111, 10);
	g_assert_false(json_mentions(v, "Secret Sam"));
	g_assert_true(json_is_true(json_object_get(json_array_get(json_object_get(v, "mine"), 0), "mine")));
	json_decref(v);

	/* The moderator sees everything, authors of anonymous questions included. */
	v = ah_qa_view_moderator(qa, 0);
	g_assert_true(json_mentions(v, "Secret Sam"));
	g_assert_true(json_mentions(v, "111111"));
	g_assert_true(json_mentions(v, "unpublished q"));
	g_assert_cmpuint(json_array_size(json_object_get(v, "questions")), ==, 3);
	json_decref(v);
	v = ah_qa_view_moderator(qa, 2);
	g_assert_cmpuint(json_array_size(json_object_get(v, "questions")), ==, 2);
	json_decref(v);
	ah_qa_free(qa);
}

static void test_export(void)
{
	ah_qa *qa = new_qa(TRUE);
	guint id;
	g_assert_cmpint(ah_qa_submit(qa, 5, "Smith, \"Jo\"", "=HYPERLINK(\"x\")", TRUE, 7, &id), ==, AH_QA_OK);
	guint b = submit_ok(qa, 6, "plain", 8);
	ah_qa_vote(qa, id, 9);
	ah_qa_vote(qa, id, 3);
	ah_qa_answer(qa, b, "yes, soon");
	json_t *j = ah_qa_export_json(qa);
	json_t *qs = json_object_get(j, "questions");
	g_assert_cmpuint(json_array_size(qs), ==, 2);
	json_t *q0 = json_array_get(qs, 0);
	g_assert_cmpstr(json_string_value(json_object_get(q0, "name")), ==, "Smith, \"Jo\"");
	g_assert_cmpint(json_integer_value(json_object_get(q0, "author")), ==, 5);
	json_t *voters = json_object_get(q0, "voters");
	g_assert_cmpuint(json_array_size(voters), ==, 2);
	g_assert_cmpint(json_integer_value(json_array_get(voters, 0)), ==, 3);
	g_assert_cmpint(json_integer_value(json_array_get(voters, 1)), ==, 9);
	g_assert_cmpstr(json_string_value(json_object_get(json_array_get(qs, 1), "answer")), ==, "yes, soon");
	json_decref(j);
	char *csv = ah_qa_export_csv(qa);
	gchar **lines = g_strsplit(csv, "\r\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 4); /* header, 2 rows, "" after the last CRLF */
	g_assert_cmpstr(lines[0], ==, "id,created_us,author_id,author_name,anonymous,state,published,"
		"pinned,votes,text,answered_live,answer");
	g_assert_cmpstr(lines[1], ==, "1,7,5,\"Smith, \"\"Jo\"\"\",yes,open,yes,no,2,\"'=HYPERLINK(\"\"x\"\")\",no,");
	g_assert_cmpstr(lines[2], ==, "2,8,6,Ann,no,answered,yes,no,0,plain,no,\"yes, soon\"");
	g_assert_cmpstr(lines[3], ==, "");
	g_strfreev(lines);
	g_free(csv);
	ah_qa_free(qa);
}

static void test_memory_grows(void)
{
	ah_qa *qa = new_qa(TRUE);
	const gsize empty = ah_qa_memory(qa);
	guint id = submit_ok(qa, 1, "a question of some length", 0);
	const gsize one = ah_qa_memory(qa);
	g_assert_cmpuint(one, >, empty + strlen("a question of some length"));
	for (guint64 v = 2; v < 102; v++)
		g_assert_cmpint(ah_qa_vote(qa, id, v), ==, AH_QA_OK);
	g_assert_cmpuint(ah_qa_memory(qa), >=, one + 100 * 8);
	ah_qa_free(qa);
}

/* Random operations against a shadow of the votes: counts equal voters, nobody counted twice or for
 * their own question, the version moves exactly on success, and both orders stay sorted. */
#define W_PEOPLE 12
#define W_QUESTIONS 40
static gboolean w_votes[W_QUESTIONS + 1][W_PEOPLE + 1];

static void walk_check_order(ah_qa *qa, gboolean attendee)
{
	guint ids[W_QUESTIONS];
	const guint k = ah_qa_order(qa, attendee, ids, W_QUESTIONS);
	for (guint i = 1; i < k; i++) {
		ah_qa_question a, b;
		ah_qa_get(qa, ids[i - 1], &a);
		ah_qa_get(qa, ids[i], &b);
		const int ca = a.state == AH_QA_DISMISSED ? 2 : !a.pinned, cb = b.state == AH_QA_DISMISSED ? 2 : !b.pinned;
		g_assert_cmpint(ca, <=, cb);
		if (ca == cb && ca == 1) {
			g_assert_cmpuint(a.votes, >=, b.votes);
			if (a.votes == b.votes)
				g_assert_cmpint(a.created_us, <=, b.created_us);
		}
		if (attendee)
			g_assert_true(b.published && b.state != AH_QA_DISMISSED);
	}
}

static void test_random_walk(void)
{
	ah_qa_limits lim;
	ah_qa_limits_default(&lim);
	lim.max_questions = W_QUESTIONS;
	lim.refill_us = S;
	ah_qa *qa = ah_qa_new(&lim, NULL);
	memset(w_votes, 0, sizeof(w_votes));
	GRand *rnd = g_rand_new_with_seed(1515);
	gint64 now = 0;
	guint ok = 0;
	for (int step = 0; step < 20000; step++) {
		now += g_rand_int_range(rnd, 0, 2 * S);
		const guint64 who = (guint64)g_rand_int_range(rnd, 1, W_PEOPLE + 1);
		const guint q = (guint)g_rand_int_range(rnd, 0, W_QUESTIONS + 2);
		const guint64 before = ah_qa_version(qa);
		ah_qa_error e;
		switch (g_rand_int_range(rnd, 0, 8)) {
		case 0: e = ah_qa_submit(qa, who, "Walker", "a question", g_rand_boolean(rnd), now, NULL); break;
		case 1: case 2:
			e = ah_qa_vote(qa, q, who);
			if (e == AH_QA_OK) {
				g_assert_false(w_votes[q][who]);
				w_votes[q][who] = TRUE;
			}
			break;
		case 3:
			e = ah_qa_unvote(qa, q, who);
			if (e == AH_QA_OK) {
				g_assert_true(w_votes[q][who]);
				w_votes[q][who] = FALSE;
			}
			break;
		case 4: e = ah_qa_publish(qa, q); break;
		case 5: e = ah_qa_pin(qa, q, g_rand_boolean(rnd)); break;
		case 6: e = g_rand_int_range(rnd, 0, 4) == 0 ? ah_qa_dismiss(qa, q) : AH_QA_OK; break;
		default: e = ah_qa_answer(qa, q, g_rand_boolean(rnd) ? NULL : "an answer"); break;
		}
		if (e != AH_QA_OK)
			g_assert_cmpuint(ah_qa_version(qa), ==, before);
		else
			ok++;
		g_assert_cmpuint(ah_qa_version(qa), <=, before + 1);
		for (guint id = 1; id <= ah_qa_count(qa); id++) {
			ah_qa_question x;
			ah_qa_get(qa, id, &x);
			guint n = 0;
			for (guint p = 1; p <= W_PEOPLE; p++)
				n += w_votes[id][p];
			g_assert_cmpuint(x.votes, ==, n);
			g_assert_false(w_votes[id][x.author]);
		}
		walk_check_order(qa, TRUE);
		walk_check_order(qa, FALSE);
	}
	/* The walk did reach the interesting states. */
	g_assert_cmpuint(ah_qa_count(qa), ==, W_QUESTIONS);
	g_assert_cmpuint(ok, >, 3000);
	g_rand_free(rnd);
	ah_qa_free(qa);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/qa/limits", test_limits);
	g_test_add_func("/qa/submit/text-rules", test_text_rules);
	g_test_add_func("/qa/submit/rate-limit", test_rate_limit);
	g_test_add_func("/qa/submit/open-limit-and-full", test_open_limit_and_full);
	g_test_add_func("/qa/votes/once", test_votes);
	g_test_add_func("/qa/order/pinned-votes-time", test_order);
	g_test_add_func("/qa/moderation/publish-answer-dismiss", test_moderation);
	g_test_add_func("/qa/moderation/pins", test_pins);
	g_test_add_func("/qa/views/anonymity", test_views);
	g_test_add_func("/qa/export/json-csv", test_export);
	g_test_add_func("/qa/memory", test_memory_grows);
	g_test_add_func("/qa/random-walk", test_random_walk);
	return g_test_run();
}
