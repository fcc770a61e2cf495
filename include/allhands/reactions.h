/* allhands: reactions in one room (issue 15), aggregated so that any number of attendees reacting
 * at once costs one message per interval, never one per reaction.
 *
 * A small fixed set of reactions (ah_reaction). A reaction from a participant is counted in O(1):
 * a per-participant rate limit (at most `per_window` reactions counted per `window_us`, the rest
 * dropped and counted as dropped) looked up in an open-addressing table allocated once, at
 * ah_reactions_new, for `max_participants`; nothing is allocated per reaction or per participant
 * afterwards. The counts since the last emission are handed out by ah_reactions_take, at most once
 * per `interval_us`: the first reaction after an emission makes one due `interval_us` later, and
 * everything that arrives until then goes into the same emission.
 *
 * Pure logic: no Janus, no clock (time is `now_us`, monotonic microseconds, an argument), no I/O,
 * no logging, no locks. One thread at a time per ah_reactions (the room's control thread).
 * docs/interaction.md ("Reactions, raised hands and the stage (core)") gives the rules and what
 * the wiring must do; it is not wired to requests or events yet.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_REACTIONS_H
#define ALLHANDS_REACTIONS_H

#include <glib.h>

/* The reactions, in the order of the counts arrays. Their wire names: ah_reaction_name(). */
typedef enum {
	AH_REACTION_LIKE = 0,    /* "like": thumbs up */
	AH_REACTION_LOVE,        /* "love": a heart */
	AH_REACTION_LAUGH,       /* "laugh" */
	AH_REACTION_CLAP,        /* "clap": applause */
	AH_REACTION_WOW,         /* "wow": surprise */
	AH_REACTION_KINDS
} ah_reaction;

/* The wire name of a reaction, NULL when out of range. */
const char *ah_reaction_name(int kind);
/* The reaction named `name` (exact, lower case), -1 when none is (NULL included). */
int ah_reaction_parse(const char *name);

/* The module's errors (stable numbers; the requests will map them to the API's codes). */
#define AH_REACTIONS_ERRORS(X) \
	X(AH_REACTIONS_OK, 0, "ok", "ok") \
	X(AH_REACTIONS_ERR_KIND, 1, "bad_kind", "unknown reaction") \
	X(AH_REACTIONS_ERR_PARTICIPANT, 2, "bad_participant", "participant id 0 is not a participant") \
	X(AH_REACTIONS_ERR_RATE, 3, "rate_limited", "too many reactions from this participant: dropped") \
	X(AH_REACTIONS_ERR_FULL, 4, "full", "more participants reacting than the room was sized for: dropped") \
	X(AH_REACTIONS_ERR_CONFIG, 5, "bad_config", "invalid reactions configuration")

typedef enum {
#define AH_REACTIONS_ENUM(e, n, name, msg) e = n,
	AH_REACTIONS_ERRORS(AH_REACTIONS_ENUM)
#undef AH_REACTIONS_ENUM
} ah_reactions_error;

/* "ok", "bad_kind", ... ; "unknown" out of range. */
const char *ah_reactions_error_name(ah_reactions_error e);
/* A sentence for people; "unknown error" out of range. */
const char *ah_reactions_error_message(ah_reactions_error e);

typedef struct {
	gint64 interval_us;      /* at most one emission per interval */
	guint per_window;        /* reactions counted per participant per window (the rest dropped) */
	gint64 window_us;        /* the rate limit's window */
	guint max_participants;  /* participants the table holds at once (ah_reactions_forget frees) */
} ah_reactions_config;

/* Defaults: 4 emissions per second, 5 reactions per participant per second. */
#define AH_REACTIONS_DEFAULT_INTERVAL_US G_GINT64_CONSTANT(250000)
#define AH_REACTIONS_DEFAULT_PER_WINDOW  5
#define AH_REACTIONS_DEFAULT_WINDOW_US   G_GINT64_CONSTANT(1000000)
/* Bounds ah_reactions_new checks. */
#define AH_REACTIONS_MIN_INTERVAL_US     G_GINT64_CONSTANT(10000)     /* 100 emissions/s at most */
#define AH_REACTIONS_MAX_INTERVAL_US     G_GINT64_CONSTANT(60000000)
#define AH_REACTIONS_MAX_PER_WINDOW      1000
#define AH_REACTIONS_MIN_WINDOW_US       G_GINT64_CONSTANT(1000)
#define AH_REACTIONS_MAX_WINDOW_US       G_GINT64_CONSTANT(3600000000)
#define AH_REACTIONS_MAX_PARTICIPANTS    1000000

/* Fills *cfg with the defaults and `max_participants`. */
void ah_reactions_config_init(ah_reactions_config *cfg, guint max_participants);

typedef struct ah_reactions ah_reactions;

/* A room's aggregator; NULL and *error = AH_REACTIONS_ERR_CONFIG when cfg is NULL or a value is
 * outside the bounds above (per_window and max_participants at least 1). All its memory is
 * allocated here (ah_reactions_memory). */
ah_reactions *ah_reactions_new(const ah_reactions_config *cfg, ah_reactions_error *error);
void ah_reactions_free(ah_reactions *r);

/* A reaction of `kind` from `participant` (non-zero) at now_us: AH_REACTIONS_OK when counted;
 * ERR_RATE or ERR_FULL when dropped (counted in `dropped`); ERR_KIND, ERR_PARTICIPANT for bad
 * input (not counted anywhere). O(1). */
ah_reactions_error ah_reactions_add(ah_reactions *r, guint64 participant, int kind, gint64 now_us);

/* The participant left the room: its rate-limit slot is freed (a participant never seen: nothing). */
void ah_reactions_forget(ah_reactions *r, guint64 participant);

/* Whether an emission is due at now_us (reactions or drops pending, and their interval passed). */
gboolean ah_reactions_due(const ah_reactions *r, gint64 now_us);
/* When the pending emission becomes due; -1 when nothing is pending (for the glue's timer). */
gint64 ah_reactions_due_at(const ah_reactions *r);

typedef struct {
	guint64 seq;                          /* 1, 2, ... per emission */
	gint64 at_us;                         /* now_us of the take */
	guint32 counts[AH_REACTION_KINDS];    /* counted since the last emission */
	guint64 totals[AH_REACTION_KINDS];    /* counted since the room's aggregator was made */
	guint64 dropped;                      /* dropped (rate limit, full) since the last emission */
} ah_reactions_totals;

/* When an emission is due: fills *out, starts a new interval, TRUE. Otherwise FALSE and *out
 * untouched. */
gboolean ah_reactions_take(ah_reactions *r, gint64 now_us, ah_reactions_totals *out);

/* The emission as the room's message, compact JSON appended to `out`:
 * {"seq":N,"reactions":{"like":N,...},"totals":{"like":N,...}} (every reaction named, zeros too;
 * "dropped" is not sent to attendees). Returns the bytes appended. */
gsize ah_reactions_format(const ah_reactions_totals *t, GString *out);

typedef struct {
	guint64 counted;         /* all reactions counted */
	guint64 dropped_rate;    /* dropped by the rate limit */
	guint64 dropped_full;    /* dropped because the table was full */
	guint64 invalid;         /* refused as ERR_KIND or ERR_PARTICIPANT */
	guint64 emissions;       /* ah_reactions_take calls that emitted */
	guint participants;      /* slots in use */
	gsize memory;            /* bytes held, struct included */
} ah_reactions_stats;

void ah_reactions_get_stats(const ah_reactions *r, ah_reactions_stats *out);

#endif
