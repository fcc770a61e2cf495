/* allhands: raised hands and the stage of one room (issue 15).
 *
 * An attendee raises or lowers its hand (a queue in order, bounded, no duplicates); a moderator
 * invites a hand, or any attendee, on stage; the invitee accepts or declines, and an invitation
 * not answered within `invite_ttl_us` expires. On stage a guest sends audio (and video when the
 * room allows it); the stage holds at most `max_guests` (pending invitations count, so an accepted
 * invitation never finds the stage full); a moderator mutes or unmutes a guest's audio and video
 * separately, or sends the guest back to the audience; a guest may step down; a participant leaving
 * the room or disconnecting loses its hand, its invitation and its place on stage.
 *
 * The module tracks guests only. It does not know roles: the caller checks that the one inviting,
 * muting or sending back is a moderator, that the invitee is an attendee (never a presenter), and
 * enforces that a guest never holds presenter rights (docs/interaction.md: what the engine must
 * enforce). Every call that changes something appends events (ah_stage_event) to a GArray given by
 * the caller (NULL: not collected), for the glue to notify the room after the call.
 *
 * Pure logic: no Janus, no clock (time is `now_us`, monotonic microseconds, an argument), no I/O,
 * no logging, no locks. One thread at a time per ah_stage (the room's control thread).
 * docs/interaction.md ("Reactions, raised hands and the stage (core)") has the state table; it is
 * not wired to requests or events yet.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_STAGE_H
#define ALLHANDS_STAGE_H

#include <glib.h>

/* The module's errors (stable numbers; the requests will map them to the API's codes). */
#define AH_STAGE_ERRORS(X) \
	X(AH_STAGE_OK, 0, "ok", "ok") \
	X(AH_STAGE_ERR_PARTICIPANT, 1, "bad_participant", "participant id 0 is not a participant") \
	X(AH_STAGE_ERR_HAND_RAISED, 2, "hand_already_raised", "the hand is already raised") \
	X(AH_STAGE_ERR_HAND_NOT_RAISED, 3, "hand_not_raised", "the hand is not raised") \
	X(AH_STAGE_ERR_HANDS_FULL, 4, "hands_full", "too many raised hands: try again later") \
	X(AH_STAGE_ERR_INVITED, 5, "already_invited", "the participant is already invited on stage") \
	X(AH_STAGE_ERR_NOT_INVITED, 6, "not_invited", "the participant has no invitation to the stage") \
	X(AH_STAGE_ERR_INVITE_EXPIRED, 7, "invite_expired", "the invitation to the stage has expired") \
	X(AH_STAGE_ERR_ON_STAGE, 8, "already_on_stage", "the participant is already on stage") \
	X(AH_STAGE_ERR_NOT_ON_STAGE, 9, "not_on_stage", "the participant is not on stage") \
	X(AH_STAGE_ERR_STAGE_FULL, 10, "stage_full", "the stage is full (guests and pending invitations)") \
	X(AH_STAGE_ERR_VIDEO_NOT_ALLOWED, 11, "video_not_allowed", "this room allows no video from stage guests") \
	X(AH_STAGE_ERR_MEDIA, 12, "bad_media", "unknown media (audio or video)") \
	X(AH_STAGE_ERR_CONFIG, 13, "bad_config", "invalid stage configuration")

typedef enum {
#define AH_STAGE_ENUM(e, n, name, msg) e = n,
	AH_STAGE_ERRORS(AH_STAGE_ENUM)
#undef AH_STAGE_ENUM
} ah_stage_error;

/* "ok", "hand_already_raised", ... ; "unknown" out of range. */
const char *ah_stage_error_name(ah_stage_error e);
/* A sentence for people; "unknown error" out of range. */
const char *ah_stage_error_message(ah_stage_error e);

typedef struct {
	guint max_hands;         /* raised hands at once (the queue's bound) */
	guint max_guests;        /* guests on stage plus pending invitations */
	gint64 invite_ttl_us;    /* an invitation not answered by then expires */
	gboolean video_allowed;  /* guests may send video */
} ah_stage_config;

#define AH_STAGE_DEFAULT_HANDS      1000
#define AH_STAGE_DEFAULT_GUESTS     4
#define AH_STAGE_DEFAULT_INVITE_US  G_GINT64_CONSTANT(60000000)
/* Bounds ah_stage_new checks (max_hands and max_guests at least 1). */
#define AH_STAGE_MAX_HANDS          100000
#define AH_STAGE_MAX_GUESTS         64
#define AH_STAGE_MIN_INVITE_US      G_GINT64_CONSTANT(1000000)
#define AH_STAGE_MAX_INVITE_US      G_GINT64_CONSTANT(3600000000)

/* Fills *cfg with the defaults (video allowed). */
void ah_stage_config_init(ah_stage_config *cfg);

typedef struct ah_stage ah_stage;

/* A room's stage; NULL and *error = AH_STAGE_ERR_CONFIG when cfg is NULL or out of bounds. */
ah_stage *ah_stage_new(const ah_stage_config *cfg, ah_stage_error *error);
void ah_stage_free(ah_stage *st);

typedef enum {
	AH_STAGE_AUDIENCE = 0,   /* not tracked: no hand, no invitation, not on stage */
	AH_STAGE_HAND,           /* hand raised, in the queue */
	AH_STAGE_INVITED,        /* invited, not answered yet */
	AH_STAGE_GUEST,          /* on stage */
} ah_stage_state;

typedef enum {
	AH_STAGE_EV_HAND_RAISED = 1,
	AH_STAGE_EV_HAND_LOWERED,    /* reason: SELF, INVITED (the hand became an invitation), GONE */
	AH_STAGE_EV_INVITED,
	AH_STAGE_EV_INVITE_ENDED,    /* reason: DECLINED, EXPIRED, WITHDRAWN, GONE */
	AH_STAGE_EV_GUEST_ON,        /* accepted: on stage now (audio, video: what it may send) */
	AH_STAGE_EV_GUEST_MEDIA,     /* a moderator changed audio / video */
	AH_STAGE_EV_GUEST_OFF,       /* reason: SENT_BACK, SELF (stepped down), GONE */
} ah_stage_event_kind;

typedef enum {
	AH_STAGE_WHY_NONE = 0,
	AH_STAGE_WHY_SELF,       /* the participant's own request */
	AH_STAGE_WHY_INVITED,
	AH_STAGE_WHY_DECLINED,
	AH_STAGE_WHY_EXPIRED,
	AH_STAGE_WHY_WITHDRAWN,  /* a moderator withdrew the invitation */
	AH_STAGE_WHY_SENT_BACK,  /* a moderator sent the guest back to the audience */
	AH_STAGE_WHY_GONE,       /* left the room or disconnected */
} ah_stage_reason;

typedef struct {
	ah_stage_event_kind kind;
	ah_stage_reason reason;
	guint64 participant;
	gboolean audio;          /* GUEST_ON, GUEST_MEDIA: the guest may send audio (not muted) */
	gboolean video;          /* and video (allowed by the room and not muted) */
	gint64 expires_us;       /* INVITED: when the invitation expires */
} ah_stage_event;

/* Event and reason names for messages and logs ("hand_raised", "sent_back", ...; "unknown"). */
const char *ah_stage_event_name(ah_stage_event_kind k);
const char *ah_stage_reason_name(ah_stage_reason r);

/* In every call: `participant` non-zero (else ERR_PARTICIPANT); `events` a GArray of ah_stage_event
 * or NULL; on an error nothing changes and no event is appended, except where said. */

/* AUDIENCE -> HAND. ERR_HAND_RAISED, ERR_INVITED, ERR_ON_STAGE, ERR_HANDS_FULL. */
ah_stage_error ah_stage_raise(ah_stage *st, guint64 participant, GArray *events);
/* HAND -> AUDIENCE. ERR_HAND_NOT_RAISED. */
ah_stage_error ah_stage_lower(ah_stage *st, guint64 participant, GArray *events);
/* Moderator: AUDIENCE or HAND -> INVITED until now_us + invite_ttl_us (a raised hand is lowered).
 * ERR_INVITED, ERR_ON_STAGE, ERR_STAGE_FULL. */
ah_stage_error ah_stage_invite(ah_stage *st, guint64 participant, gint64 now_us, GArray *events);
/* Moderator: INVITED -> AUDIENCE. ERR_NOT_INVITED. */
ah_stage_error ah_stage_withdraw(ah_stage *st, guint64 participant, GArray *events);
/* Invitee: INVITED -> GUEST (audio on, video on when allowed). ERR_NOT_INVITED; ERR_INVITE_EXPIRED
 * when now_us reached the expiry (the invitation ends then: an INVITE_ENDED event is appended). */
ah_stage_error ah_stage_accept(ah_stage *st, guint64 participant, gint64 now_us, GArray *events);
/* Invitee: INVITED -> AUDIENCE. ERR_NOT_INVITED. */
ah_stage_error ah_stage_decline(ah_stage *st, guint64 participant, GArray *events);

typedef enum {
	AH_STAGE_AUDIO = 0,
	AH_STAGE_VIDEO = 1,
} ah_stage_media;

/* Moderator: mutes (muted TRUE) or unmutes one medium of a guest. ERR_NOT_ON_STAGE, ERR_MEDIA,
 * ERR_VIDEO_NOT_ALLOWED. Setting what is already set is OK with no event. */
ah_stage_error ah_stage_mute(ah_stage *st, guint64 participant, int media, gboolean muted,
	GArray *events);
/* Moderator: GUEST -> AUDIENCE (SENT_BACK). ERR_NOT_ON_STAGE. */
ah_stage_error ah_stage_send_back(ah_stage *st, guint64 participant, GArray *events);
/* Guest: GUEST -> AUDIENCE (SELF). ERR_NOT_ON_STAGE. */
ah_stage_error ah_stage_step_down(ah_stage *st, guint64 participant, GArray *events);
/* The participant left the room or disconnected: whatever it held ends (GONE). Never fails for a
 * non-zero id; a participant in the audience gives no event. */
ah_stage_error ah_stage_gone(ah_stage *st, guint64 participant, GArray *events);

/* Ends every invitation whose expiry is <= now_us (INVITE_ENDED, EXPIRED); returns how many. */
guint ah_stage_expire(ah_stage *st, gint64 now_us, GArray *events);
/* The earliest pending expiry, -1 when no invitation is pending (for the glue's timer). */
gint64 ah_stage_next_expiry(const ah_stage *st);

/* ---- reading ---- */

ah_stage_state ah_stage_state_of(const ah_stage *st, guint64 participant);
/* 1-based position of a raised hand in the queue; 0 when the hand is not raised. O(hands). */
guint ah_stage_hand_position(const ah_stage *st, guint64 participant);
/* Up to `max` raised hands, oldest first, into out[]; returns how many were written. */
guint ah_stage_hands(const ah_stage *st, guint64 *out, guint max);
/* A guest's media: FALSE when not on stage. */
gboolean ah_stage_guest_media(const ah_stage *st, guint64 participant, gboolean *audio, gboolean *video);

typedef struct {
	guint hands;             /* raised now */
	guint invited;           /* pending invitations */
	guint guests;            /* on stage */
} ah_stage_counts;

void ah_stage_get_counts(const ah_stage *st, ah_stage_counts *out);

#endif
