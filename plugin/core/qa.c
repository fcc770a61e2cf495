/* allhands: the questions of one room occurrence (include/allhands/qa.h, issue 15).
 *
 * Owns the ah_qa object, text validation, the questions (submit, votes, moderator actions) and their
 * display order; polls are in qa-poll.c, views and exports in qa-view.c. Must not call the engine or
 * Janus, read the clock, log or lock: one thread at a time per ah_qa, time passed in.
 *
 * DESIGN. Questions live in an array indexed by id (ids are never reused, so a lookup is O(1)) and,
 * at the same time, in two balanced trees (GSequence) sorted in display order: `all` (every question,
 * for moderators) and `pub` (published and not dismissed, the same for every attendee). A vote adds
 * the voter to the question's hash set (O(1) expected, which is what makes "once" cheap to enforce)
 * and moves the question in its trees (g_sequence_sort_changed, O(log n)); a submit is one O(1)
 * author lookup and an O(log n) insertion. A view of the top K walks the first K nodes of a tree:
 * O(log n + K), never a sort. Each author has a token bucket (`burst` tokens, one back per
 * refill_us), refilled lazily at their next submit from the time the caller passes in.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "qa-private.h"

#define AH_QA_NAME_(e, n, m) n,
#define AH_QA_MSG_(e, n, m) m,
static const char *const error_names[] = { AH_QA_ERRORS(AH_QA_NAME_) };
static const char *const error_messages[] = { AH_QA_ERRORS(AH_QA_MSG_) };

const char *ah_qa_error_name(ah_qa_error e)
{
	return (guint)e < G_N_ELEMENTS(error_names) ? error_names[e] : "unknown";
}

const char *ah_qa_error_message(ah_qa_error e)
{
	return (guint)e < G_N_ELEMENTS(error_messages) ? error_messages[e] : "unknown error";
}

static gboolean is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

ah_qa_error ah_qa_text_check(const char *in, gsize max, char **out)
{
	if (in == NULL)
		return AH_QA_E_ARGUMENT;
	const gsize len = strlen(in);
	if (!g_utf8_validate(in, (gssize)len, NULL))
		return AH_QA_E_TEXT_UTF8;
	const char *b = in, *e = in + len;
	while (b < e && is_space(*b))
		b++;
	while (e > b && is_space(e[-1]))
		e--;
	if (b == e)
		return AH_QA_E_TEXT_EMPTY;
	if ((gsize)(e - b) > max)
		return AH_QA_E_TEXT_LONG;
	for (const char *p = b; p < e; p = g_utf8_next_char(p)) {
		const gunichar c = g_utf8_get_char(p);
		if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
			return AH_QA_E_TEXT_CONTROL;
	}
	if (out != NULL)
		*out = g_strndup(b, (gsize)(e - b));
	return AH_QA_OK;
}

/* ---- lifecycle ---- */

void ah_qa_limits_default(ah_qa_limits *out)
{
	*out = (ah_qa_limits){
		.max_questions = AH_QA_DEFAULT_QUESTIONS,
		.max_open = AH_QA_DEFAULT_OPEN,
		.max_text = AH_QA_DEFAULT_TEXT,
		.max_answer = AH_QA_DEFAULT_ANSWER,
		.max_name = AH_QA_DEFAULT_NAME,
		.burst = AH_QA_DEFAULT_BURST,
		.refill_us = AH_QA_DEFAULT_REFILL_US,
		.max_pins = AH_QA_DEFAULT_PINS,
		.max_polls = AH_QA_DEFAULT_POLLS,
		.publish_at_once = FALSE,
	};
}

static void question_free(gpointer p)
{
	qa_question *q = p;
	g_free(q->name);
	g_free(q->text);
	g_free(q->answer);
	if (q->voters != NULL)
		g_hash_table_destroy(q->voters);
	g_free(q);
}

static void author_free(gpointer p)
{
	qa_author *a = p;
	g_array_free(a->questions, TRUE);
	g_free(a);
}

static void poll_free(gpointer p)
{
	qa_poll *poll = p;
	g_free(poll->text);
	for (guint i = 0; i < poll->n_options; i++)
		g_free(poll->options[i]);
	g_hash_table_destroy(poll->ballots);
	g_free(poll);
}

ah_qa *ah_qa_new(const ah_qa_limits *limits, const char **error)
{
	ah_qa_limits lim;
	if (limits == NULL)
		ah_qa_limits_default(&lim);
	else
		lim = *limits;
	if (lim.max_questions < 1 || lim.max_questions > AH_QA_MAX_QUESTIONS || lim.max_open < 1 ||
		lim.max_text < 1 || lim.max_text > AH_QA_MAX_TEXT || lim.max_answer < 1 ||
		lim.max_answer > AH_QA_MAX_ANSWER || lim.max_name < 1 || lim.max_name > AH_QA_MAX_NAME ||
		lim.burst < 1 || lim.refill_us < 1 || lim.max_pins < 1 || lim.max_pins > AH_QA_MAX_PINS ||
		lim.max_polls < 1 || lim.max_polls > AH_QA_MAX_POLLS) {
		if (error != NULL)
			*error = ah_qa_error_message(AH_QA_E_ARGUMENT);
		return NULL;
	}
	ah_qa *qa = g_new0(ah_qa, 1);
	qa->lim = lim;
	qa->questions = g_ptr_array_new_with_free_func(question_free);
	qa->all = g_sequence_new(NULL);
	qa->pub = g_sequence_new(NULL);
	qa->authors = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, author_free);
	qa->polls = g_ptr_array_new_with_free_func(poll_free);
	return qa;
}

void ah_qa_free(ah_qa *qa)
{
	if (qa == NULL)
		return;
	g_sequence_free(qa->pub);
	g_sequence_free(qa->all);
	g_ptr_array_unref(qa->questions);
	g_hash_table_destroy(qa->authors);
	g_ptr_array_unref(qa->polls);
	g_free(qa);
}

guint64 ah_qa_version(const ah_qa *qa)
{
	return qa->version;
}

guint ah_qa_count(const ah_qa *qa)
{
	return qa->questions->len;
}

/* ---- order ---- */

static int rank_class(const qa_question *q)
{
	if (q->state == AH_QA_DISMISSED)
		return 2;
	return q->pin_seq != 0 ? 0 : 1;
}

static gint order_cmp(gconstpointer pa, gconstpointer pb, gpointer data)
{
	(void)data;
	const qa_question *a = pa, *b = pb;
	const int ca = rank_class(a), cb = rank_class(b);
	if (ca != cb)
		return ca < cb ? -1 : 1;
	if (ca == 0 && a->pin_seq != b->pin_seq)
		return a->pin_seq > b->pin_seq ? -1 : 1;
	if (a->votes != b->votes)
		return a->votes > b->votes ? -1 : 1;
	if (a->created_us != b->created_us)
		return a->created_us < b->created_us ? -1 : 1;
	return a->id < b->id ? -1 : (a->id > b->id ? 1 : 0);
}

/* After a change of a question's sort key. */
static void reorder(ah_qa *qa, qa_question *q)
{
	(void)qa;
	g_sequence_sort_changed(q->all_it, order_cmp, NULL);
	if (q->pub_it != NULL)
		g_sequence_sort_changed(q->pub_it, order_cmp, NULL);
}

static void make_public(ah_qa *qa, qa_question *q)
{
	q->published = TRUE;
	if (q->pub_it == NULL && q->state != AH_QA_DISMISSED)
		q->pub_it = g_sequence_insert_sorted(qa->pub, q, order_cmp, NULL);
}

guint ah_qa_order(const ah_qa *qa, gboolean attendee, guint *out, guint max)
{
	GSequence *s = attendee ? qa->pub : qa->all;
	guint n = 0;
	for (GSequenceIter *it = g_sequence_get_begin_iter(s); n < max && !g_sequence_iter_is_end(it);
		it = g_sequence_iter_next(it)) {
		const qa_question *q = g_sequence_get(it);
		out[n++] = q->id;
	}
	return n;
}

/* ---- questions ---- */

static qa_question *lookup(const ah_qa *qa, guint id)
{
	if (id < 1 || id > qa->questions->len)
		return NULL;
	return g_ptr_array_index(qa->questions, id - 1);
}

/* Refills the bucket lazily: whole refill periods since stamp_us, capped at `burst`. */
static void refill(const ah_qa_limits *lim, qa_author *a, gint64 now_us)
{
	if (now_us <= a->stamp_us)
		return;
	/* Unsigned: the difference of two gint64 times always fits, even from G_MININT64 to G_MAXINT64. */
	const guint64 periods = ((guint64)now_us - (guint64)a->stamp_us) / (guint64)lim->refill_us;
	if (periods == 0)
		return;
	if (periods >= lim->burst - a->tokens) {
		a->tokens = lim->burst;
		a->stamp_us = now_us;
	} else {
		/* Fewer than `burst` periods, each of refill_us, and the sum lands before now_us. */
		a->tokens += (guint)periods;
		a->stamp_us += (gint64)periods * lim->refill_us;
	}
}

ah_qa_error ah_qa_submit(ah_qa *qa, guint64 author, const char *name, const char *text,
	gboolean anonymous, gint64 now_us, guint *id_out)
{
	if (qa == NULL || author == 0)
		return AH_QA_E_ARGUMENT;
	if (name == NULL || ah_qa_text_check(name, qa->lim.max_name, NULL) != AH_QA_OK)
		return AH_QA_E_NAME;
	ah_qa_error err = ah_qa_text_check(text, qa->lim.max_text, NULL);
	if (err != AH_QA_OK)
		return err;
	if (qa->questions->len >= qa->lim.max_questions)
		return AH_QA_E_FULL;
	qa_author *a = g_hash_table_lookup(qa->authors, AH_QA_KEY(author));
	if (a != NULL) {
		if (a->open >= qa->lim.max_open)
			return AH_QA_E_OPEN_LIMIT;
		refill(&qa->lim, a, now_us);
		if (a->tokens == 0)
			return AH_QA_E_RATE;
	} else {
		a = g_new0(qa_author, 1);
		a->tokens = qa->lim.burst;
		a->stamp_us = now_us;
		a->questions = g_array_new(FALSE, FALSE, sizeof(guint));
		g_hash_table_insert(qa->authors, AH_QA_KEY(author), a);
	}
	/* A full bucket starts its refill clock at the first token taken. */
	if (a->tokens == qa->lim.burst)
		a->stamp_us = now_us;
	a->tokens--;
	a->open++;
	qa_question *q = g_new0(qa_question, 1);
	q->id = qa->questions->len + 1;
	q->author = author;
	ah_qa_text_check(name, qa->lim.max_name, &q->name);
	ah_qa_text_check(text, qa->lim.max_text, &q->text);
	q->anonymous = anonymous;
	q->state = AH_QA_OPEN;
	q->created_us = now_us;
	qa->text_bytes += strlen(q->name) + strlen(q->text) + 2;
	g_ptr_array_add(qa->questions, q);
	g_array_append_val(a->questions, q->id);
	q->all_it = g_sequence_insert_sorted(qa->all, q, order_cmp, NULL);
	if (qa->lim.publish_at_once)
		make_public(qa, q);
	qa->version++;
	if (id_out != NULL)
		*id_out = q->id;
	return AH_QA_OK;
}

ah_qa_error ah_qa_vote(ah_qa *qa, guint id, guint64 voter)
{
	if (qa == NULL || voter == 0)
		return AH_QA_E_ARGUMENT;
	qa_question *q = lookup(qa, id);
	if (q == NULL)
		return AH_QA_E_NOT_FOUND;
	if (q->state == AH_QA_DISMISSED)
		return AH_QA_E_DISMISSED;
	if (!q->published)
		return AH_QA_E_NOT_VISIBLE;
	if (q->author == voter)
		return AH_QA_E_OWN;
	if (q->voters == NULL)
		q->voters = g_hash_table_new(g_direct_hash, g_direct_equal);
	if (!g_hash_table_add(q->voters, AH_QA_KEY(voter)))
		return AH_QA_E_VOTED;
	q->votes++;
	reorder(qa, q);
	qa->version++;
	return AH_QA_OK;
}

ah_qa_error ah_qa_unvote(ah_qa *qa, guint id, guint64 voter)
{
	if (qa == NULL || voter == 0)
		return AH_QA_E_ARGUMENT;
	qa_question *q = lookup(qa, id);
	if (q == NULL)
		return AH_QA_E_NOT_FOUND;
	if (q->voters == NULL || !g_hash_table_remove(q->voters, AH_QA_KEY(voter)))
		return AH_QA_E_NOT_VOTED;
	q->votes--;
	reorder(qa, q);
	qa->version++;
	return AH_QA_OK;
}

gboolean ah_qa_has_voted(const ah_qa *qa, guint id, guint64 voter)
{
	const qa_question *q = lookup(qa, id);
	return q != NULL && q->voters != NULL && g_hash_table_contains(q->voters, AH_QA_KEY(voter));
}

/* ---- moderator actions ---- */

ah_qa_error ah_qa_publish(ah_qa *qa, guint id)
{
	qa_question *q = qa != NULL ? lookup(qa, id) : NULL;
	if (q == NULL)
		return qa == NULL ? AH_QA_E_ARGUMENT : AH_QA_E_NOT_FOUND;
	if (q->state == AH_QA_DISMISSED)
		return AH_QA_E_DISMISSED;
	if (q->published)
		return AH_QA_OK;
	make_public(qa, q);
	qa->version++;
	return AH_QA_OK;
}

ah_qa_error ah_qa_pin(ah_qa *qa, guint id, gboolean pinned)
{
	qa_question *q = qa != NULL ? lookup(qa, id) : NULL;
	if (q == NULL)
		return qa == NULL ? AH_QA_E_ARGUMENT : AH_QA_E_NOT_FOUND;
	if (!pinned) {
		if (q->pin_seq == 0)
			return AH_QA_OK;
		q->pin_seq = 0;
		qa->pins--;
	} else {
		if (q->state == AH_QA_DISMISSED)
			return AH_QA_E_DISMISSED;
		if (q->pin_seq != 0)
			return AH_QA_OK;
		if (qa->pins >= qa->lim.max_pins)
			return AH_QA_E_PIN_LIMIT;
		q->pin_seq = ++qa->pin_counter;
		qa->pins++;
		make_public(qa, q);
	}
	reorder(qa, q);
	qa->version++;
	return AH_QA_OK;
}

ah_qa_error ah_qa_answer(ah_qa *qa, guint id, const char *text)
{
	qa_question *q = qa != NULL ? lookup(qa, id) : NULL;
	if (q == NULL)
		return qa == NULL ? AH_QA_E_ARGUMENT : AH_QA_E_NOT_FOUND;
	if (q->state == AH_QA_DISMISSED)
		return AH_QA_E_DISMISSED;
	char *answer = NULL;
	if (text != NULL) {
		ah_qa_error err = ah_qa_text_check(text, qa->lim.max_answer, &answer);
		if (err != AH_QA_OK)
			return err;
	}
	if (q->state == AH_QA_OPEN) {
		qa_author *a = g_hash_table_lookup(qa->authors, AH_QA_KEY(q->author));
		a->open--;
	}
	q->state = AH_QA_ANSWERED;
	if (q->answer != NULL)
		qa->text_bytes -= strlen(q->answer) + 1;
	g_free(q->answer);
	q->answer = answer;
	if (answer != NULL)
		qa->text_bytes += strlen(answer) + 1;
	q->answered_live = answer == NULL;
	make_public(qa, q);
	qa->version++;
	return AH_QA_OK;
}

ah_qa_error ah_qa_dismiss(ah_qa *qa, guint id)
{
	qa_question *q = qa != NULL ? lookup(qa, id) : NULL;
	if (q == NULL)
		return qa == NULL ? AH_QA_E_ARGUMENT : AH_QA_E_NOT_FOUND;
	if (q->state == AH_QA_DISMISSED)
		return AH_QA_OK;
	if (q->state == AH_QA_OPEN) {
		qa_author *a = g_hash_table_lookup(qa->authors, AH_QA_KEY(q->author));
		a->open--;
	}
	if (q->pin_seq != 0) {
		q->pin_seq = 0;
		qa->pins--;
	}
	if (q->pub_it != NULL) {
		g_sequence_remove(q->pub_it);
		q->pub_it = NULL;
	}
	q->state = AH_QA_DISMISSED;
	g_sequence_sort_changed(q->all_it, order_cmp, NULL);
	qa->version++;
	return AH_QA_OK;
}

gboolean ah_qa_get(const ah_qa *qa, guint id, ah_qa_question *out)
{
	const qa_question *q = lookup(qa, id);
	if (q == NULL)
		return FALSE;
	*out = (ah_qa_question){
		.id = q->id, .author = q->author, .name = q->name, .text = q->text, .answer = q->answer,
		.anonymous = q->anonymous, .published = q->published, .pinned = q->pin_seq != 0,
		.answered_live = q->answered_live, .state = q->state, .votes = q->votes,
		.created_us = q->created_us,
	};
	return TRUE;
}

gsize ah_qa_memory(const ah_qa *qa)
{
	/* A GSequence node is ~48 bytes; a GHashTable slot (hash, key, value) ~20 bytes at a load of
	 * at most 2/3 on a power-of-two table, so ~32 bytes per vote. */
	gsize bytes = sizeof(*qa) + qa->text_bytes;
	for (guint i = 0; i < qa->questions->len; i++) {
		const qa_question *q = g_ptr_array_index(qa->questions, i);
		bytes += sizeof(*q) + sizeof(gpointer) + 48 * (q->pub_it != NULL ? 2 : 1);
		if (q->voters != NULL)
			bytes += 64 + 32 * (gsize)g_hash_table_size(q->voters);
	}
	bytes += (gsize)g_hash_table_size(qa->authors) * (sizeof(qa_author) + sizeof(GArray) + 32) +
		qa->questions->len * sizeof(guint);
	for (guint i = 0; i < qa->polls->len; i++) {
		const qa_poll *p = g_ptr_array_index(qa->polls, i);
		bytes += sizeof(*p) + 64 + 32 * (gsize)g_hash_table_size(p->ballots) + strlen(p->text) + 1;
		for (guint o = 0; o < p->n_options; o++)
			bytes += strlen(p->options[o]) + 1;
	}
	return bytes;
}
