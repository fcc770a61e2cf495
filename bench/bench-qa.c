/* allhands: the cost of the Q&A and polls core (include/allhands/qa.h, issue 15): 10,000 attendees
 * submitting a question each and casting votes, then the views and exports, and a poll with as many
 * voters. Prints ns per operation and the memory held (the module's own estimate, and the heap's
 * growth from mallinfo2). Built and run by `make bench-qa`; figures are printed, never asserted.
 * The program exits non-zero only when a functional check fails (a refused submit or vote, counts
 * that do not add up).
 *
 * Usage: bench-qa [attendees] [votes-per-attendee]   (defaults 10000 and 20)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/qa.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static gsize heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static void fail(const char *what, ah_qa_error e)
{
	fprintf(stderr, "bench-qa: %s: %s\n", what, ah_qa_error_message(e));
	exit(1);
}

int main(int argc, char **argv)
{
	const guint n = argc > 1 ? (guint)atoi(argv[1]) : 10000;
	const guint per = argc > 2 ? (guint)atoi(argv[2]) : 20;
	if (n < 2 || n > AH_QA_MAX_QUESTIONS || per >= n) {
		fprintf(stderr, "usage: bench-qa [attendees 2..%d] [votes-per-attendee < attendees]\n",
			AH_QA_MAX_QUESTIONS);
		return 2;
	}
	ah_qa_limits lim;
	ah_qa_limits_default(&lim);
	lim.max_questions = n;
	lim.publish_at_once = TRUE;
	GRand *rnd = g_rand_new_with_seed(15);
	/* Question texts of ~120 bytes, built before any timing. */
	char **texts = g_new(char *, n);
	for (guint i = 0; i < n; i++)
		texts[i] = g_strdup_printf("Question %u from the audience: what is the plan for the next "
			"quarter, and how does it affect team %u?", i, i % 97);
	const gsize heap0 = heap_bytes();
	ah_qa *qa = ah_qa_new(&lim, NULL);

	double t = now_ns();
	for (guint i = 0; i < n; i++) {
		ah_qa_error e = ah_qa_submit(qa, (guint64)i + 1, "Attendee Name", texts[i], i % 5 == 0,
			(gint64)i * 1000, NULL);
		if (e != AH_QA_OK)
			fail("submit", e);
	}
	const double submit_ns = (now_ns() - t) / n;

	/* Votes: skewed towards early questions (a few popular ones), never one's own, never twice. */
	guint *targets = g_new(guint, (gsize)n * per);
	for (guint v = 0; v < n; v++) {
		for (guint k = 0; k < per; k++) {
			guint q;
			gboolean dup;
			do {
				const double r = g_rand_double(rnd);
				q = 1 + (guint)(r * r * n);
				if (q > n)
					q = n;
				dup = q == v + 1;
				for (guint j = 0; j < k && !dup; j++)
					dup = targets[(gsize)v * per + j] == q;
			} while (dup);
			targets[(gsize)v * per + k] = q;
		}
	}
	t = now_ns();
	for (guint v = 0; v < n; v++)
		for (guint k = 0; k < per; k++) {
			ah_qa_error e = ah_qa_vote(qa, targets[(gsize)v * per + k], (guint64)v + 1);
			if (e != AH_QA_OK)
				fail("vote", e);
		}
	const double votes = (double)n * per;
	const double vote_ns = (now_ns() - t) / votes;
	/* A refused vote (already voted): the cost of "once". */
	t = now_ns();
	for (guint v = 0; v < n; v++)
		if (ah_qa_vote(qa, targets[(gsize)v * per], (guint64)v + 1) != AH_QA_E_VOTED)
			fail("second vote accepted", AH_QA_OK);
	const double revote_ns = (now_ns() - t) / n;
	guint64 total = 0;
	for (guint i = 1; i <= n; i++) {
		ah_qa_question q;
		ah_qa_get(qa, i, &q);
		total += q.votes;
	}
	if (total != (guint64)votes)
		fail("vote counts do not add up", AH_QA_OK);
	const gsize heap_qa = heap_bytes() - heap0;
	const gsize est = ah_qa_memory(qa);

	/* Views: an attendee's top 20 (what every attendee receives), a moderator's top 50, and all. */
	const int views = 2000;
	gsize bytes = 0;
	double att_ns = 0, dump_ns = 0;
	for (int i = 0; i < views; i++) {
		t = now_ns();
		json_t *j = ah_qa_view_attendee(qa, (guint64)(i % n) + 1, 20);
		const double t1 = now_ns();
		char *s = json_dumps(j, JSON_COMPACT);
		dump_ns += now_ns() - t1;
		att_ns += t1 - t;
		bytes += strlen(s);
		free(s);
		json_decref(j);
	}
	att_ns /= views;
	dump_ns /= views;
	const gsize att_bytes = bytes / views;
	t = now_ns();
	for (int i = 0; i < 200; i++)
		json_decref(ah_qa_view_moderator(qa, 50));
	const double mod50_ns = (now_ns() - t) / 200;
	t = now_ns();
	json_t *all = ah_qa_view_moderator(qa, 0);
	const double mod_all_ns = now_ns() - t;
	json_decref(all);
	t = now_ns();
	json_t *exp = ah_qa_export_json(qa);
	const double export_ns = now_ns() - t;
	char *exp_s = json_dumps(exp, JSON_COMPACT);
	const gsize export_bytes = strlen(exp_s);
	free(exp_s);
	json_decref(exp);
	t = now_ns();
	char *csv = ah_qa_export_csv(qa);
	const double csv_ns = now_ns() - t;
	const gsize csv_bytes = strlen(csv);
	g_free(csv);

	/* A poll: every attendee votes, a tenth change their mind. */
	const char *opts[] = {"Strongly agree", "Agree", "Neutral", "Disagree", "Strongly disagree"};
	guint poll;
	ah_qa_error e = ah_qa_poll_open(qa, "How was the town hall?", opts, 5, FALSE, &poll);
	if (e != AH_QA_OK)
		fail("poll", e);
	t = now_ns();
	for (guint v = 0; v < n; v++)
		if ((e = ah_qa_poll_vote(qa, poll, (guint64)v + 1, 1u << (v % 5))) != AH_QA_OK)
			fail("poll vote", e);
	const double pvote_ns = (now_ns() - t) / n;
	for (guint v = 0; v < n; v += 10)
		ah_qa_poll_vote(qa, poll, (guint64)v + 1, 1u << ((v + 1) % 5));
	ah_qa_poll_info info;
	ah_qa_poll_get(qa, poll, &info);
	guint sum = 0;
	for (guint i = 0; i < info.n_options; i++)
		sum += info.counts[i];
	if (sum != n || info.voters != n)
		fail("poll counts do not add up", AH_QA_OK);

	printf("bench-qa: %u attendees, one question each (publish at once), %u votes each (%.0f votes)\n",
		n, per, votes);
	printf("  submit                     %8.0f ns/op\n", submit_ns);
	printf("  vote                       %8.0f ns/op\n", vote_ns);
	printf("  vote refused (twice)       %8.0f ns/op\n", revote_ns);
	printf("  poll vote                  %8.0f ns/op\n", pvote_ns);
	printf("  attendee view, top 20      %8.0f ns to build, %.0f ns to dump (%zu bytes of JSON)\n", att_ns,
		dump_ns, att_bytes);
	printf("  moderator view, top 50     %8.0f ns\n", mod50_ns);
	printf("  moderator view, all        %8.2f ms\n", mod_all_ns / 1e6);
	printf("  export JSON                %8.2f ms (%zu bytes dumped)\n", export_ns / 1e6, export_bytes);
	printf("  export CSV                 %8.2f ms (%zu bytes)\n", csv_ns / 1e6, csv_bytes);
	printf("  memory: heap growth %.2f MiB, module estimate %.2f MiB (%.0f bytes per question with its %u votes)\n",
		heap_qa / 1048576.0, est / 1048576.0, (double)heap_qa / n, per);
	ah_qa_free(qa);
	for (guint i = 0; i < n; i++)
		g_free(texts[i]);
	g_free(texts);
	g_free(targets);
	g_rand_free(rnd);
	return 0;
}
