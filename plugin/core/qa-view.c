/* allhands: the views and exports of one occurrence's Q&A and polls (include/allhands/qa.h).
 *
 * Builds JSON (jansson) for an attendee, for a moderator and for the organiser's export, and the CSV
 * of questions. Must not call the engine or Janus, read the clock, log or lock. The one rule that
 * matters most here: an attendee's view never carries the author (name or id) of an anonymous
 * question, nor any author id at all; only the moderator's view and the exports do.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "qa-private.h"

static const char *state_name(ah_qa_state s)
{
	switch (s) {
	case AH_QA_OPEN:
		return "open";
	case AH_QA_ANSWERED:
		return "answered";
	case AH_QA_DISMISSED:
		return "dismissed";
	}
	return "unknown";
}

/* The fields every view shows. */
static json_t *question_common(const qa_question *q)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:b, s:b}", "id", (json_int_t)q->id, "text", q->text,
		"state", state_name(q->state), "votes", (json_int_t)q->votes, "pinned", q->pin_seq != 0,
		"anonymous", q->anonymous);
	if (q->state == AH_QA_ANSWERED) {
		json_object_set_new(o, "answered_live", json_boolean(q->answered_live));
		if (q->answer != NULL)
			json_object_set_new(o, "answer", json_string(q->answer));
	}
	return o;
}

static json_t *question_attendee(const qa_question *q, guint64 viewer)
{
	json_t *o = question_common(q);
	if (!q->anonymous)
		json_object_set_new(o, "name", json_string(q->name));
	json_object_set_new(o, "mine", json_boolean(q->author == viewer));
	json_object_set_new(o, "voted", json_boolean(q->voters != NULL &&
		g_hash_table_contains(q->voters, AH_QA_KEY(viewer))));
	return o;
}

static json_t *question_full(const qa_question *q)
{
	json_t *o = question_common(q);
	json_object_set_new(o, "author", json_integer((json_int_t)q->author));
	json_object_set_new(o, "name", json_string(q->name));
	json_object_set_new(o, "published", json_boolean(q->published));
	json_object_set_new(o, "created_us", json_integer(q->created_us));
	return o;
}

static json_t *choice_array(guint32 bits, guint n)
{
	json_t *a = json_array();
	for (guint i = 0; i < n; i++)
		if (bits & (1u << i))
			json_array_append_new(a, json_integer(i));
	return a;
}

static json_t *poll_json(const qa_poll *p, gboolean results)
{
	json_t *opts = json_array();
	for (guint i = 0; i < p->n_options; i++)
		json_array_append_new(opts, json_string(p->options[i]));
	json_t *o = json_pack("{s:I, s:s, s:o, s:b, s:b, s:b}", "id", (json_int_t)p->id, "text", p->text,
		"options", opts, "multiple", p->multiple, "open", p->open, "published", p->published);
	if (results) {
		json_t *counts = json_array();
		for (guint i = 0; i < p->n_options; i++)
			json_array_append_new(counts, json_integer(p->counts[i]));
		json_object_set_new(o, "counts", counts);
		json_object_set_new(o, "voters", json_integer(g_hash_table_size(p->ballots)));
	}
	return o;
}

json_t *ah_qa_view_attendee(const ah_qa *qa, guint64 viewer, guint top)
{
	json_t *questions = json_array(), *mine = json_array(), *polls = json_array();
	guint n = 0;
	for (GSequenceIter *it = g_sequence_get_begin_iter(qa->pub); n < top && !g_sequence_iter_is_end(it);
		it = g_sequence_iter_next(it), n++)
		json_array_append_new(questions, question_attendee(g_sequence_get(it), viewer));
	/* The viewer's own questions: in submission order, every state, with `published`. */
	const qa_author *a = viewer != 0 ? g_hash_table_lookup(qa->authors, AH_QA_KEY(viewer)) : NULL;
	if (a != NULL) {
		for (guint i = 0; i < a->questions->len; i++) {
			const qa_question *q = g_ptr_array_index(qa->questions, g_array_index(a->questions, guint, i) - 1);
			json_t *o = question_attendee(q, viewer);
			json_object_set_new(o, "published", json_boolean(q->published));
			json_array_append_new(mine, o);
		}
	}
	for (guint i = 0; i < qa->polls->len; i++) {
		const qa_poll *p = g_ptr_array_index(qa->polls, i);
		if (!p->open && !p->published)
			continue;
		json_t *o = poll_json(p, p->published);
		const guint32 ballot = GPOINTER_TO_UINT(g_hash_table_lookup(p->ballots, AH_QA_KEY(viewer)));
		json_object_set_new(o, "ballot", choice_array(ballot, p->n_options));
		json_array_append_new(polls, o);
	}
	return json_pack("{s:I, s:o, s:I, s:o, s:o}", "version", (json_int_t)qa->version, "questions",
		questions, "total", (json_int_t)g_sequence_get_length(qa->pub), "mine", mine, "polls", polls);
}

json_t *ah_qa_view_moderator(const ah_qa *qa, guint top)
{
	json_t *questions = json_array(), *polls = json_array();
	guint n = 0;
	for (GSequenceIter *it = g_sequence_get_begin_iter(qa->all);
		(top == 0 || n < top) && !g_sequence_iter_is_end(it); it = g_sequence_iter_next(it), n++)
		json_array_append_new(questions, question_full(g_sequence_get(it)));
	for (guint i = 0; i < qa->polls->len; i++)
		json_array_append_new(polls, poll_json(g_ptr_array_index(qa->polls, i), TRUE));
	return json_pack("{s:I, s:o, s:I, s:o}", "version", (json_int_t)qa->version, "questions",
		questions, "total", (json_int_t)qa->questions->len, "polls", polls);
}

static gint cmp_id(gconstpointer a, gconstpointer b)
{
	const guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
	return x < y ? -1 : (x > y ? 1 : 0);
}

json_t *ah_qa_export_json(const ah_qa *qa)
{
	json_t *questions = json_array(), *polls = json_array();
	for (guint i = 0; i < qa->questions->len; i++) {
		const qa_question *q = g_ptr_array_index(qa->questions, i);
		json_t *o = question_full(q);
		json_t *voters = json_array();
		if (q->voters != NULL) {
			/* Sorted, so an export is the same whatever the hash table's order. */
			GArray *ids = g_array_sized_new(FALSE, FALSE, sizeof(guint64), q->votes);
			GHashTableIter hi;
			gpointer key;
			g_hash_table_iter_init(&hi, q->voters);
			while (g_hash_table_iter_next(&hi, &key, NULL)) {
				guint64 id = AH_QA_ID(key);
				g_array_append_val(ids, id);
			}
			g_array_sort(ids, cmp_id);
			for (guint v = 0; v < ids->len; v++)
				json_array_append_new(voters, json_integer((json_int_t)g_array_index(ids, guint64, v)));
			g_array_free(ids, TRUE);
		}
		json_object_set_new(o, "voters", voters);
		json_array_append_new(questions, o);
	}
	for (guint i = 0; i < qa->polls->len; i++)
		json_array_append_new(polls, poll_json(g_ptr_array_index(qa->polls, i), TRUE));
	return json_pack("{s:I, s:o, s:o}", "version", (json_int_t)qa->version, "questions", questions,
		"polls", polls);
}

/* One CSV cell: quoted when it holds a comma, quote, CR or LF; a leading = + - @ TAB or CR gets an
 * apostrophe so that a spreadsheet shows it as text rather than running it. */
static void csv_cell(GString *out, const char *s, gboolean last)
{
	if (s == NULL)
		s = "";
	const gboolean formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
	const gboolean quote = formula || strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		g_string_append_c(out, '"');
	if (formula)
		g_string_append_c(out, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			g_string_append_c(out, '"');
		g_string_append_c(out, *p);
	}
	if (quote)
		g_string_append_c(out, '"');
	g_string_append(out, last ? "\r\n" : ",");
}

char *ah_qa_export_csv(const ah_qa *qa)
{
	GString *out = g_string_new("id,created_us,author_id,author_name,anonymous,state,published,"
		"pinned,votes,text,answered_live,answer\r\n");
	for (guint i = 0; i < qa->questions->len; i++) {
		const qa_question *q = g_ptr_array_index(qa->questions, i);
		g_string_append_printf(out, "%u,%" G_GINT64_FORMAT ",%" G_GUINT64_FORMAT ",", q->id,
			q->created_us, q->author);
		csv_cell(out, q->name, FALSE);
		g_string_append_printf(out, "%s,%s,%s,%s,%u,", q->anonymous ? "yes" : "no",
			state_name(q->state), q->published ? "yes" : "no", q->pin_seq != 0 ? "yes" : "no",
			q->votes);
		csv_cell(out, q->text, FALSE);
		g_string_append(out, q->state == AH_QA_ANSWERED && q->answered_live ? "yes," : "no,");
		csv_cell(out, q->answer, TRUE);
	}
	return g_string_free(out, FALSE);
}
