/* allhands: the polls of one room occurrence (include/allhands/qa.h, issue 15).
 *
 * Owns a poll's options, ballots and counts. Must not call the engine or Janus, read the clock, log
 * or lock: one thread at a time per ah_qa.
 *
 * A ballot is a bit set of options kept per voter in a hash table; the counts per option are kept
 * up to date with every ballot (a changed ballot takes its old bits off first), so results are read
 * in O(options) and a vote costs O(1) expected.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "qa-private.h"

static qa_poll *lookup(const ah_qa *qa, guint id)
{
	if (qa == NULL || id < 1 || id > qa->polls->len)
		return NULL;
	return g_ptr_array_index(qa->polls, id - 1);
}

ah_qa_error ah_qa_poll_open(ah_qa *qa, const char *text, const char *const *options, guint n_options,
	gboolean multiple, guint *id_out)
{
	if (qa == NULL)
		return AH_QA_E_ARGUMENT;
	ah_qa_error err = ah_qa_text_check(text, AH_QA_POLL_TEXT, NULL);
	if (err != AH_QA_OK)
		return err;
	if (options == NULL || n_options < AH_QA_POLL_MIN_OPTIONS || n_options > AH_QA_POLL_MAX_OPTIONS)
		return AH_QA_E_POLL_OPTIONS;
	for (guint i = 0; i < n_options; i++)
		if (ah_qa_text_check(options[i], AH_QA_POLL_OPTION, NULL) != AH_QA_OK)
			return AH_QA_E_POLL_OPTIONS;
	if (qa->polls->len >= qa->lim.max_polls)
		return AH_QA_E_POLLS_FULL;
	qa_poll *p = g_new0(qa_poll, 1);
	p->id = qa->polls->len + 1;
	ah_qa_text_check(text, AH_QA_POLL_TEXT, &p->text);
	for (guint i = 0; i < n_options; i++)
		ah_qa_text_check(options[i], AH_QA_POLL_OPTION, &p->options[i]);
	p->n_options = n_options;
	p->multiple = multiple;
	p->open = TRUE;
	p->ballots = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_ptr_array_add(qa->polls, p);
	qa->version++;
	if (id_out != NULL)
		*id_out = p->id;
	return AH_QA_OK;
}

ah_qa_error ah_qa_poll_vote(ah_qa *qa, guint poll, guint64 voter, guint32 choice)
{
	if (qa == NULL || voter == 0)
		return AH_QA_E_ARGUMENT;
	qa_poll *p = lookup(qa, poll);
	if (p == NULL)
		return AH_QA_E_NOT_FOUND;
	if (!p->open)
		return AH_QA_E_POLL_CLOSED;
	const guint32 valid = (1u << p->n_options) - 1;
	if (choice == 0 || (choice & ~valid) != 0 || (!p->multiple && (choice & (choice - 1)) != 0))
		return AH_QA_E_POLL_CHOICE;
	const guint32 old = GPOINTER_TO_UINT(g_hash_table_lookup(p->ballots, AH_QA_KEY(voter)));
	if (old == choice)
		return AH_QA_OK;
	for (guint i = 0; i < p->n_options; i++) {
		if (old & (1u << i))
			p->counts[i]--;
		if (choice & (1u << i))
			p->counts[i]++;
	}
	g_hash_table_insert(p->ballots, AH_QA_KEY(voter), GUINT_TO_POINTER(choice));
	qa->version++;
	return AH_QA_OK;
}

ah_qa_error ah_qa_poll_close(ah_qa *qa, guint poll)
{
	qa_poll *p = lookup(qa, poll);
	if (p == NULL)
		return qa == NULL ? AH_QA_E_ARGUMENT : AH_QA_E_NOT_FOUND;
	if (!p->open)
		return AH_QA_OK;
	p->open = FALSE;
	qa->version++;
	return AH_QA_OK;
}

ah_qa_error ah_qa_poll_publish(ah_qa *qa, guint poll)
{
	qa_poll *p = lookup(qa, poll);
	if (p == NULL)
		return qa == NULL ? AH_QA_E_ARGUMENT : AH_QA_E_NOT_FOUND;
	if (p->published)
		return AH_QA_OK;
	p->published = TRUE;
	qa->version++;
	return AH_QA_OK;
}

gboolean ah_qa_poll_get(const ah_qa *qa, guint poll, ah_qa_poll_info *out)
{
	const qa_poll *p = lookup(qa, poll);
	if (p == NULL)
		return FALSE;
	memset(out, 0, sizeof(*out));
	out->id = p->id;
	out->text = p->text;
	out->n_options = p->n_options;
	for (guint i = 0; i < p->n_options; i++) {
		out->options[i] = p->options[i];
		out->counts[i] = p->counts[i];
	}
	out->voters = g_hash_table_size(p->ballots);
	out->multiple = p->multiple;
	out->open = p->open;
	out->published = p->published;
	return TRUE;
}

guint32 ah_qa_poll_ballot(const ah_qa *qa, guint poll, guint64 voter)
{
	const qa_poll *p = lookup(qa, poll);
	if (p == NULL)
		return 0;
	return GPOINTER_TO_UINT(g_hash_table_lookup(p->ballots, AH_QA_KEY(voter)));
}
