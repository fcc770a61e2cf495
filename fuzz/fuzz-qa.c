/* allhands: libFuzzer target for the Q&A and polls core (include/allhands/qa.h, issue 15). The bytes
 * are a script of operations on one occurrence with small limits (16 questions, 3 open and a burst
 * of 2 per author, 2 pins, 4 polls), by participants 1..8. Each record: [op][a][b][len][len bytes
 * of text]; time moves 250 ms per record. After every operation the invariants are checked against
 * a shadow of the votes and ballots: no vote counted twice (a question's count equals its voters),
 * no vote on one's own question, each poll option's count equals the ballots naming it and every
 * ballot of a single-choice poll names one option, a refused operation leaves the change counter
 * alone, the attendees' order is pinned first then by votes, and no attendee's view ever holds the
 * name of an anonymous question's author or any author id (checked field by field).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/qa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEOPLE 8
#define QUESTIONS 16
#define POLLS 4

static gboolean shadow_votes[QUESTIONS + 1][PEOPLE + 1];
static guint32 shadow_ballots[POLLS + 1][PEOPLE + 1];

static void check(const ah_qa *qa)
{
	const guint n = ah_qa_count(qa);
	for (guint id = 1; id <= n; id++) {
		ah_qa_question q;
		if (!ah_qa_get(qa, id, &q))
			abort();
		guint voters = 0;
		for (guint64 p = 1; p <= PEOPLE; p++) {
			if (ah_qa_has_voted(qa, id, p) != shadow_votes[id][p])
				abort();
			voters += shadow_votes[id][p];
		}
		if (q.votes != voters || shadow_votes[id][q.author])
			abort();
	}
	guint order[QUESTIONS];
	const guint k = ah_qa_order(qa, TRUE, order, QUESTIONS);
	gboolean seen_unpinned = FALSE;
	guint last_votes = G_MAXUINT;
	for (guint i = 0; i < k; i++) {
		ah_qa_question q;
		ah_qa_get(qa, order[i], &q);
		if (!q.published || q.state == AH_QA_DISMISSED)
			abort();
		if (q.pinned) {
			if (seen_unpinned)
				abort();
		} else {
			if (seen_unpinned && q.votes > last_votes)
				abort();
			seen_unpinned = TRUE;
			last_votes = q.votes;
		}
	}
	for (guint p = 1; p <= POLLS; p++) {
		ah_qa_poll_info info;
		if (!ah_qa_poll_get(qa, p, &info))
			break;
		guint voters = 0;
		for (guint o = 0; o < info.n_options; o++) {
			guint c = 0;
			for (guint64 v = 1; v <= PEOPLE; v++)
				c += (shadow_ballots[p][v] >> o) & 1;
			if (c != info.counts[o])
				abort();
		}
		for (guint64 v = 1; v <= PEOPLE; v++) {
			const guint32 b = ah_qa_poll_ballot(qa, p, v);
			if (b != shadow_ballots[p][v] || (!info.multiple && b != 0 && (b & (b - 1)) != 0))
				abort();
			voters += b != 0;
		}
		if (voters != info.voters)
			abort();
	}
	/* Attendees' views, checked field by field (a text may hold any string): no question carries
	 * an author id, an anonymous question carries no name, a named one its author's name. */
	for (guint64 v = 0; v <= PEOPLE; v++) {
		json_t *j = ah_qa_view_attendee(qa, v, QUESTIONS);
		const char *lists[] = {"questions", "mine"};
		for (guint l = 0; l < 2; l++) {
			json_t *arr = json_object_get(j, lists[l]), *o;
			size_t x;
			json_array_foreach(arr, x, o) {
				ah_qa_question q;
				if (json_object_get(o, "author") != NULL ||
					!ah_qa_get(qa, (guint)json_integer_value(json_object_get(o, "id")), &q))
					abort();
				json_t *name = json_object_get(o, "name");
				if (q.anonymous ? name != NULL : g_strcmp0(json_string_value(name), q.name) != 0)
					abort();
				if (json_is_true(json_object_get(o, "mine")) != (q.author == v))
					abort();
			}
		}
		json_decref(j);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ah_qa_limits lim;
	ah_qa_limits_default(&lim);
	lim.max_questions = QUESTIONS;
	lim.max_open = 3;
	lim.burst = 2;
	lim.refill_us = 1000000;
	lim.max_pins = 2;
	lim.max_polls = POLLS;
	lim.max_text = 40;
	lim.max_answer = 40;
	lim.publish_at_once = size > 0 && (data[0] & 1);
	ah_qa *qa = ah_qa_new(&lim, NULL);
	memset(shadow_votes, 0, sizeof(shadow_votes));
	memset(shadow_ballots, 0, sizeof(shadow_ballots));
	gint64 now = 0;
	guint names = 0;
	gsize i = 1;
	while (size >= 4 && i <= size - 4) {
		const guint op = data[i] % 12, a = data[i + 1], b = data[i + 2];
		gsize len = data[i + 3];
		i += 4;
		if (len > size - i)
			len = size - i;
		char *text = g_strndup((const char *)data + i, len);
		i += len;
		now += 250000;
		const guint64 who = 1 + a % PEOPLE;
		const guint q = b % (QUESTIONS + 2), p = b % (POLLS + 2);
		const guint64 before = ah_qa_version(qa);
		ah_qa_error e = AH_QA_OK;
		switch (op) {
		case 0: {
			/* Names are unique and long enough never to occur by chance in a view. */
			char name[32];
			g_snprintf(name, sizeof(name), "Name-%08u-zq", ++names);
			e = ah_qa_submit(qa, who, name, text, (b & 1) != 0, now, NULL);
			break;
		}
		case 1:
			e = ah_qa_vote(qa, q, who);
			if (e == AH_QA_OK)
				shadow_votes[q][who] = TRUE;
			break;
		case 2:
			e = ah_qa_unvote(qa, q, who);
			if (e == AH_QA_OK)
				shadow_votes[q][who] = FALSE;
			break;
		case 3: e = ah_qa_publish(qa, q); break;
		case 4: e = ah_qa_pin(qa, q, TRUE); break;
		case 5: e = ah_qa_pin(qa, q, FALSE); break;
		case 6: e = ah_qa_answer(qa, q, (a & 1) ? NULL : text); break;
		case 7: e = ah_qa_dismiss(qa, q); break;
		case 8: {
			const char *opts[AH_QA_POLL_MAX_OPTIONS + 1] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
				"j", text};
			e = ah_qa_poll_open(qa, "poll?", opts, a % (AH_QA_POLL_MAX_OPTIONS + 2), (b & 1) != 0, NULL);
			break;
		}
		case 9: {
			const guint32 choice = ((guint32)a << 8 | b) & 0x7ff;
			e = ah_qa_poll_vote(qa, p, who, choice);
			if (e == AH_QA_OK)
				shadow_ballots[p][who] = choice;
			break;
		}
		case 10: e = ah_qa_poll_close(qa, p); break;
		default: e = ah_qa_poll_publish(qa, p); break;
		}
		g_free(text);
		if (e != AH_QA_OK && ah_qa_version(qa) != before)
			abort();
		check(qa);
	}
	json_decref(ah_qa_view_moderator(qa, 0));
	json_decref(ah_qa_export_json(qa));
	g_free(ah_qa_export_csv(qa));
	ah_qa_free(qa);
	return 0;
}
