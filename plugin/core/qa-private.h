/* allhands: the Q&A and polls of one occurrence, shared between qa.c, qa-poll.c and qa-view.c
 * (include/allhands/qa.h). Not installed, not for other modules.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_QA_PRIVATE_H
#define ALLHANDS_QA_PRIVATE_H

#include "allhands/qa.h"

/* Participant ids are stored in the pointer of a GHashTable key (no allocation per vote). */
G_STATIC_ASSERT(sizeof(gpointer) >= sizeof(guint64));
#define AH_QA_KEY(id) ((gpointer)(guintptr)(id))
#define AH_QA_ID(key) ((guint64)(guintptr)(key))

typedef struct {
	guint id;
	guint64 author;
	char *name, *text, *answer;
	gboolean anonymous, published, answered_live;
	ah_qa_state state;
	guint64 pin_seq;        /* 0: not pinned; else larger = pinned later */
	guint votes;            /* == size of voters */
	GHashTable *voters;     /* participant id -> itself; NULL until the first vote */
	GSequenceIter *all_it;  /* in qa->all */
	GSequenceIter *pub_it;  /* in qa->pub, NULL when not published or dismissed */
	gint64 created_us;
} qa_question;

typedef struct {
	guint open;             /* questions not answered nor dismissed */
	guint tokens;           /* the rate limit's bucket */
	gint64 stamp_us;        /* when `tokens` was last refilled */
	GArray *questions;      /* guint ids of the author's questions, submission order */
} qa_author;

typedef struct {
	guint id;
	char *text;
	char *options[AH_QA_POLL_MAX_OPTIONS];
	guint n_options;
	guint counts[AH_QA_POLL_MAX_OPTIONS];
	gboolean multiple, open, published;
	GHashTable *ballots;    /* participant id -> GUINT_TO_POINTER(choice bits), never 0 */
} qa_poll;

struct ah_qa {
	ah_qa_limits lim;
	GPtrArray *questions;   /* qa_question, index id - 1 */
	GSequence *all;         /* every question, display order */
	GSequence *pub;         /* published, not dismissed: what attendees see */
	GHashTable *authors;    /* participant id -> qa_author */
	GPtrArray *polls;       /* qa_poll, index id - 1 */
	guint pins;
	guint64 pin_counter;
	guint64 version;
	gsize text_bytes;       /* strings held, for ah_qa_memory */
};

/* Trims ASCII white space, checks UTF-8, control characters and 1..max bytes; *out a new copy. */
ah_qa_error ah_qa_text_check(const char *in, gsize max, char **out);

#endif
