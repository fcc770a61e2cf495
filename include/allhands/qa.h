/* allhands: the Q&A and polls of one room occurrence (issue 15, "Interaction"), the pure core.
 *
 * One ah_qa per occurrence of a room. It holds the questions (submitted by participants, upvoted,
 * published, pinned, answered or dismissed by moderators) and the polls (opened by a moderator,
 * voted on by participants, closed, results published), builds the JSON views an attendee and a
 * moderator see, and exports the whole occurrence for the organiser (JSON, and CSV for questions).
 *
 * Participants are opaque ids (guint64, 0 is refused) with a display name given by the caller. The
 * module does not know roles: the caller (the requests, once wired) decides who is a moderator and
 * calls the moderator functions (ah_qa_publish, ah_qa_pin, ...) only for them, and picks the view.
 *
 * Pure logic: no Janus, no clock (time is `now_us`, monotonic microseconds, used for the rate limit
 * and for ordering ties), no I/O, no logging, no locks. One thread at a time per ah_qa. Not wired
 * to requests, pages or events yet: docs/interaction.md ("Q&A and polls (core)") says what the
 * wiring needs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_QA_H
#define ALLHANDS_QA_H

#include <glib.h>
#include <jansson.h>

/* The module's errors: enum, name, message. Stable; the requests map them to wire codes. */
#define AH_QA_ERRORS(X) \
	X(AH_QA_OK, "ok", "done") \
	X(AH_QA_E_ARGUMENT, "argument", "a required argument is missing or out of range") \
	X(AH_QA_E_TEXT_EMPTY, "text_empty", "the text is empty after trimming white space") \
	X(AH_QA_E_TEXT_LONG, "text_long", "the text is longer than allowed") \
	X(AH_QA_E_TEXT_UTF8, "text_utf8", "the text is not valid UTF-8") \
	X(AH_QA_E_TEXT_CONTROL, "text_control", "the text contains a control character") \
	X(AH_QA_E_NAME, "name", "the display name is empty, too long, not UTF-8 or has control characters") \
	X(AH_QA_E_RATE, "rate", "too many questions in a short time; try again later") \
	X(AH_QA_E_OPEN_LIMIT, "open_limit", "this participant already has the most open questions allowed") \
	X(AH_QA_E_FULL, "full", "this occurrence holds the most questions allowed") \
	X(AH_QA_E_NOT_FOUND, "not_found", "no such question or poll") \
	X(AH_QA_E_NOT_VISIBLE, "not_visible", "the question is not published") \
	X(AH_QA_E_OWN, "own", "a participant cannot vote for their own question") \
	X(AH_QA_E_VOTED, "voted", "this participant already voted for this question") \
	X(AH_QA_E_NOT_VOTED, "not_voted", "this participant has not voted for this question") \
	X(AH_QA_E_DISMISSED, "dismissed", "the question was dismissed") \
	X(AH_QA_E_PIN_LIMIT, "pin_limit", "the most pinned questions allowed are already pinned") \
	X(AH_QA_E_POLL_OPTIONS, "poll_options", "a poll needs 2 to 10 options, each a valid text") \
	X(AH_QA_E_POLL_CLOSED, "poll_closed", "the poll is closed") \
	X(AH_QA_E_POLL_CHOICE, "poll_choice", "the choice is empty, names a missing option, or is several options in a single-choice poll") \
	X(AH_QA_E_POLLS_FULL, "polls_full", "this occurrence holds the most polls allowed")

#define AH_QA_ENUM_(e, n, m) e,
typedef enum { AH_QA_ERRORS(AH_QA_ENUM_) } ah_qa_error;
#undef AH_QA_ENUM_

const char *ah_qa_error_name(ah_qa_error e);
const char *ah_qa_error_message(ah_qa_error e);

/* ---- limits ---- */

typedef struct {
	guint max_questions;      /* per occurrence, every state counted (dismissed ones too) */
	guint max_open;           /* open (not answered, not dismissed) questions per author */
	gsize max_text;           /* bytes of a question after trimming */
	gsize max_answer;         /* bytes of a text answer after trimming */
	gsize max_name;           /* bytes of a display name after trimming */
	guint burst;              /* rate limit: questions an author may submit at once ... */
	gint64 refill_us;         /* ... then one more per refill_us */
	guint max_pins;           /* questions pinned at once */
	guint max_polls;          /* per occurrence, open and closed */
	gboolean publish_at_once; /* questions are published when submitted (no moderation queue) */
} ah_qa_limits;

#define AH_QA_DEFAULT_QUESTIONS 2000
#define AH_QA_DEFAULT_OPEN 5
#define AH_QA_DEFAULT_TEXT 500
#define AH_QA_DEFAULT_ANSWER 2000
#define AH_QA_DEFAULT_NAME 64
#define AH_QA_DEFAULT_BURST 3
#define AH_QA_DEFAULT_REFILL_US G_GINT64_CONSTANT(20000000)
#define AH_QA_DEFAULT_PINS 3
#define AH_QA_DEFAULT_POLLS 50
/* Ceilings (ah_qa_new refuses more). */
#define AH_QA_MAX_QUESTIONS 100000
#define AH_QA_MAX_TEXT 4000
#define AH_QA_MAX_ANSWER 16000
#define AH_QA_MAX_NAME 256
#define AH_QA_MAX_PINS 10
#define AH_QA_MAX_POLLS 1000
/* Polls: options per poll, bytes of a poll's question and of an option after trimming. */
#define AH_QA_POLL_MIN_OPTIONS 2
#define AH_QA_POLL_MAX_OPTIONS 10
#define AH_QA_POLL_TEXT 300
#define AH_QA_POLL_OPTION 100

void ah_qa_limits_default(ah_qa_limits *out);

typedef struct ah_qa ah_qa;

/* A new, empty occurrence; NULL and *error (ah_qa_error_message text) when a limit is 0 or over its
 * ceiling (refill_us at least 1). limits NULL: the defaults. */
ah_qa *ah_qa_new(const ah_qa_limits *limits, const char **error);
void ah_qa_free(ah_qa *qa);

/* The change counter: bumped by every call that changes what any view shows (never by a refused
 * call). The glue compares it to the last one sent to throttle or skip updates. */
guint64 ah_qa_version(const ah_qa *qa);

/* ---- questions ---- */

typedef enum {
	AH_QA_OPEN = 0,      /* submitted, not answered */
	AH_QA_ANSWERED,      /* answered live or in text */
	AH_QA_DISMISSED,     /* removed by a moderator: attendees no longer see it (its author does) */
} ah_qa_state;

/* Submits a question. Text and name are trimmed (ASCII white space), must be valid UTF-8 without
 * control characters (C0, DEL, C1) and 1..max_text (name 1..max_name) bytes. Refused when the
 * occurrence is full, the author has max_open open questions, or the author's token bucket is
 * empty (a refused submit costs no token). On success *id_out (if not NULL) is the question's id
 * (1, 2, ...: submission order, never reused). `anonymous` hides the author from attendees' views
 * (the author still sees it as their own); moderators and the export always see the author. */
ah_qa_error ah_qa_submit(ah_qa *qa, guint64 author, const char *name, const char *text,
	gboolean anonymous, gint64 now_us, guint *id_out);

/* An upvote: once per participant and question, never for one's own, only for a published question
 * that is not dismissed. ah_qa_unvote takes it back. */
ah_qa_error ah_qa_vote(ah_qa *qa, guint id, guint64 voter);
ah_qa_error ah_qa_unvote(ah_qa *qa, guint id, guint64 voter);

/* Moderator actions. publish: attendees see the question (no-op success when already published).
 * pin / unpin: pinned questions come first, the latest pinned first; at most max_pins at once
 * (AH_QA_E_PIN_LIMIT: unpin one first); pinning publishes; pinning a dismissed question is
 * refused. answer: text NULL
 * means answered live; otherwise a text answer (validated like a question, up to max_answer bytes),
 * which replaces an earlier one; answering publishes the question. dismiss: hidden from attendees,
 * unpinned; its author's open count drops. Answering or dismissing twice is allowed (the latest
 * wins); a dismissed question cannot be answered, published or voted on. */
ah_qa_error ah_qa_publish(ah_qa *qa, guint id);
ah_qa_error ah_qa_pin(ah_qa *qa, guint id, gboolean pinned);
ah_qa_error ah_qa_answer(ah_qa *qa, guint id, const char *text);
ah_qa_error ah_qa_dismiss(ah_qa *qa, guint id);

/* What one question holds (for tests and the glue). Strings belong to the ah_qa and live until it
 * changes. FALSE when there is no such question. */
typedef struct {
	guint id;
	guint64 author;
	const char *name;
	const char *text;
	const char *answer;     /* NULL: no text answer */
	gboolean anonymous, published, pinned, answered_live;
	ah_qa_state state;
	guint votes;
	gint64 created_us;
} ah_qa_question;
gboolean ah_qa_get(const ah_qa *qa, guint id, ah_qa_question *out);
gboolean ah_qa_has_voted(const ah_qa *qa, guint id, guint64 voter);
guint ah_qa_count(const ah_qa *qa);

/* The ids in display order into out[0..max-1], returns how many: pinned first (latest pinned first),
 * then by votes (most first), then by time (oldest first), dismissed ones last. `attendee` TRUE:
 * only published, not dismissed questions (what every attendee sees); FALSE: all. O(k). */
guint ah_qa_order(const ah_qa *qa, gboolean attendee, guint *out, guint max);

/* ---- polls ---- */

/* Opens a poll: text and options validated like a question (AH_QA_POLL_TEXT, AH_QA_POLL_OPTION
 * bytes), 2..10 options. *id_out: 1, 2, ... Several polls may be open at once. */
ah_qa_error ah_qa_poll_open(ah_qa *qa, const char *text, const char *const *options, guint n_options,
	gboolean multiple, guint *id_out);
/* A ballot: `choice` is a bit set of option indexes (bit i = option i). Single choice: exactly one
 * bit; multiple: one or more. One ballot per participant: voting again while the poll is open
 * replaces the earlier ballot (counts follow), so a voter is always counted once. */
ah_qa_error ah_qa_poll_vote(ah_qa *qa, guint poll, guint64 voter, guint32 choice);
/* Closes a poll (no-op success when closed); its ballots and results are kept. */
ah_qa_error ah_qa_poll_close(ah_qa *qa, guint poll);
/* Shows the results to attendees (open or closed poll; live from then on). */
ah_qa_error ah_qa_poll_publish(ah_qa *qa, guint poll);

typedef struct {
	guint id;
	const char *text;
	guint n_options;
	const char *options[AH_QA_POLL_MAX_OPTIONS];
	guint counts[AH_QA_POLL_MAX_OPTIONS];
	guint voters;
	gboolean multiple, open, published;
} ah_qa_poll_info;
gboolean ah_qa_poll_get(const ah_qa *qa, guint poll, ah_qa_poll_info *out);
/* The participant's ballot (bit set), 0 when none. */
guint32 ah_qa_poll_ballot(const ah_qa *qa, guint poll, guint64 voter);

/* ---- views and export (new references, never NULL) ---- */

/* What one attendee sees: {"version", "questions": the first `top` published questions in display
 * order (author name only when not anonymous, "mine", "voted"), "mine": the viewer's own questions
 * in every state, "polls": open polls and polls with published results (results only when
 * published; the viewer's ballot)}. docs/interaction.md shows the fields. */
json_t *ah_qa_view_attendee(const ah_qa *qa, guint64 viewer, guint top);
/* What a moderator sees: every question in display order with its author, state, votes and answer
 * (the first `top`, 0 for all), and every poll with live results. */
json_t *ah_qa_view_moderator(const ah_qa *qa, guint top);
/* The organiser's export: every question (authors, voters, states, answers) in submission order,
 * every poll with its results. */
json_t *ah_qa_export_json(const ah_qa *qa);
/* The questions as CSV (RFC 4180, a header row, CRLF), cells that a spreadsheet would read as a
 * formula (starting with = + - @ tab or CR) prefixed with an apostrophe. Free with g_free. */
char *ah_qa_export_csv(const ah_qa *qa);

/* Bytes held by the occurrence (structures, strings and the vote sets; an estimate of the
 * allocator's view, for the benchmark and the metrics). */
gsize ah_qa_memory(const ah_qa *qa);

#endif
