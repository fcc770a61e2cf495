/* allhands: raised hands and the stage of one room (include/allhands/stage.h; docs/interaction.md).
 *
 * Owns who has a hand raised (in order), who is invited and who is on stage, with each guest's
 * audio and video. Must not read the clock, log, lock, or know roles (the caller checks them).
 * Called by the room's control thread.
 *
 * Only participants off the audience are tracked: one entry per hand, invitation or guest, in a
 * hash table by id; a raised hand is also a link of the hands queue, kept in the entry so lowering
 * a hand anywhere in the queue is O(1). Entries are bounded by max_hands + max_guests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "allhands/stage.h"

typedef struct {
	guint64 id;
	ah_stage_state state;
	GList *hand;             /* HAND: its link in st->hands */
	gint64 expires_us;       /* INVITED */
	gboolean audio_muted;    /* GUEST */
	gboolean video_muted;
} entry;

struct ah_stage {
	ah_stage_config cfg;
	GHashTable *by_id;       /* &entry->id -> entry (owned) */
	GQueue hands;            /* entry *, oldest first */
	guint invited;
	guint guests;
};

const char *ah_stage_error_name(ah_stage_error e)
{
	switch (e) {
#define AH_STAGE_NAME(en, n, name, msg) case en: return name;
	AH_STAGE_ERRORS(AH_STAGE_NAME)
#undef AH_STAGE_NAME
	}
	return "unknown";
}

const char *ah_stage_error_message(ah_stage_error e)
{
	switch (e) {
#define AH_STAGE_MSG(en, n, name, msg) case en: return msg;
	AH_STAGE_ERRORS(AH_STAGE_MSG)
#undef AH_STAGE_MSG
	}
	return "unknown error";
}

const char *ah_stage_event_name(ah_stage_event_kind k)
{
	switch (k) {
	case AH_STAGE_EV_HAND_RAISED: return "hand_raised";
	case AH_STAGE_EV_HAND_LOWERED: return "hand_lowered";
	case AH_STAGE_EV_INVITED: return "invited";
	case AH_STAGE_EV_INVITE_ENDED: return "invite_ended";
	case AH_STAGE_EV_GUEST_ON: return "guest_on";
	case AH_STAGE_EV_GUEST_MEDIA: return "guest_media";
	case AH_STAGE_EV_GUEST_OFF: return "guest_off";
	}
	return "unknown";
}

const char *ah_stage_reason_name(ah_stage_reason r)
{
	static const char *const names[] = { "none", "self", "invited", "declined", "expired",
		"withdrawn", "sent_back", "gone" };
	return (int)r >= 0 && (gsize)r < G_N_ELEMENTS(names) ? names[r] : "unknown";
}

void ah_stage_config_init(ah_stage_config *cfg)
{
	cfg->max_hands = AH_STAGE_DEFAULT_HANDS;
	cfg->max_guests = AH_STAGE_DEFAULT_GUESTS;
	cfg->invite_ttl_us = AH_STAGE_DEFAULT_INVITE_US;
	cfg->video_allowed = TRUE;
}

ah_stage *ah_stage_new(const ah_stage_config *cfg, ah_stage_error *error)
{
	if (cfg == NULL || cfg->max_hands < 1 || cfg->max_hands > AH_STAGE_MAX_HANDS ||
			cfg->max_guests < 1 || cfg->max_guests > AH_STAGE_MAX_GUESTS ||
			cfg->invite_ttl_us < AH_STAGE_MIN_INVITE_US || cfg->invite_ttl_us > AH_STAGE_MAX_INVITE_US) {
		if (error)
			*error = AH_STAGE_ERR_CONFIG;
		return NULL;
	}
	ah_stage *st = g_new0(ah_stage, 1);
	st->cfg = *cfg;
	st->cfg.video_allowed = cfg->video_allowed ? TRUE : FALSE;
	st->by_id = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	g_queue_init(&st->hands);
	if (error)
		*error = AH_STAGE_OK;
	return st;
}

void ah_stage_free(ah_stage *st)
{
	if (st == NULL)
		return;
	g_queue_clear(&st->hands);
	g_hash_table_destroy(st->by_id);
	g_free(st);
}

static entry *find(const ah_stage *st, guint64 id)
{
	return g_hash_table_lookup(st->by_id, &id);
}

static void emit(GArray *events, ah_stage_event_kind kind, ah_stage_reason why, const entry *e,
	gboolean video_allowed)
{
	if (events == NULL)
		return;
	ah_stage_event ev = { .kind = kind, .reason = why, .participant = e->id };
	if (kind == AH_STAGE_EV_GUEST_ON || kind == AH_STAGE_EV_GUEST_MEDIA) {
		ev.audio = !e->audio_muted;
		ev.video = video_allowed && !e->video_muted;
	}
	if (kind == AH_STAGE_EV_INVITED)
		ev.expires_us = e->expires_us;
	g_array_append_val(events, ev);
}

/* Leaves the state the entry is in (counts and queue), without freeing it. */
static void leave_state(ah_stage *st, entry *e)
{
	switch (e->state) {
	case AH_STAGE_HAND:
		g_queue_delete_link(&st->hands, e->hand);
		e->hand = NULL;
		break;
	case AH_STAGE_INVITED:
		st->invited--;
		break;
	case AH_STAGE_GUEST:
		st->guests--;
		break;
	case AH_STAGE_AUDIENCE:
		break;
	}
	e->state = AH_STAGE_AUDIENCE;
}

/* Back to the audience: the entry is no longer tracked (and freed). */
static void to_audience(ah_stage *st, entry *e)
{
	leave_state(st, e);
	g_hash_table_remove(st->by_id, &e->id);
}

static ah_stage_error busy_error(const entry *e)
{
	switch (e->state) {
	case AH_STAGE_HAND: return AH_STAGE_ERR_HAND_RAISED;
	case AH_STAGE_INVITED: return AH_STAGE_ERR_INVITED;
	case AH_STAGE_GUEST: return AH_STAGE_ERR_ON_STAGE;
	case AH_STAGE_AUDIENCE: break;
	}
	return AH_STAGE_OK;
}

ah_stage_error ah_stage_raise(ah_stage *st, guint64 participant, GArray *events)
{
	if (participant == 0)
		return AH_STAGE_ERR_PARTICIPANT;
	entry *e = find(st, participant);
	if (e != NULL)
		return busy_error(e);
	if (st->hands.length >= st->cfg.max_hands)
		return AH_STAGE_ERR_HANDS_FULL;
	e = g_new0(entry, 1);
	e->id = participant;
	e->state = AH_STAGE_HAND;
	g_queue_push_tail(&st->hands, e);
	e->hand = st->hands.tail;
	g_hash_table_insert(st->by_id, &e->id, e);
	emit(events, AH_STAGE_EV_HAND_RAISED, AH_STAGE_WHY_NONE, e, st->cfg.video_allowed);
	return AH_STAGE_OK;
}

/* The entry of `participant` when it is in `state`; else NULL and *err says why. */
static entry *in_state(const ah_stage *st, guint64 participant, ah_stage_state state,
	ah_stage_error not_there, ah_stage_error *err)
{
	if (participant == 0) {
		*err = AH_STAGE_ERR_PARTICIPANT;
		return NULL;
	}
	entry *e = find(st, participant);
	if (e == NULL || e->state != state) {
		*err = not_there;
		return NULL;
	}
	*err = AH_STAGE_OK;
	return e;
}

ah_stage_error ah_stage_lower(ah_stage *st, guint64 participant, GArray *events)
{
	ah_stage_error err;
	entry *e = in_state(st, participant, AH_STAGE_HAND, AH_STAGE_ERR_HAND_NOT_RAISED, &err);
	if (e == NULL)
		return err;
	emit(events, AH_STAGE_EV_HAND_LOWERED, AH_STAGE_WHY_SELF, e, st->cfg.video_allowed);
	to_audience(st, e);
	return AH_STAGE_OK;
}

ah_stage_error ah_stage_invite(ah_stage *st, guint64 participant, gint64 now_us, GArray *events)
{
	if (participant == 0)
		return AH_STAGE_ERR_PARTICIPANT;
	entry *e = find(st, participant);
	if (e != NULL && e->state != AH_STAGE_HAND)
		return busy_error(e);
	if (st->guests + st->invited >= st->cfg.max_guests)
		return AH_STAGE_ERR_STAGE_FULL;
	if (e != NULL) {
		emit(events, AH_STAGE_EV_HAND_LOWERED, AH_STAGE_WHY_INVITED, e, st->cfg.video_allowed);
		leave_state(st, e);
	} else {
		e = g_new0(entry, 1);
		e->id = participant;
		g_hash_table_insert(st->by_id, &e->id, e);
	}
	e->state = AH_STAGE_INVITED;
	/* Saturating: a time near the end of gint64 must not wrap around to the past. */
	e->expires_us = now_us > G_MAXINT64 - st->cfg.invite_ttl_us ? G_MAXINT64 : now_us + st->cfg.invite_ttl_us;
	st->invited++;
	emit(events, AH_STAGE_EV_INVITED, AH_STAGE_WHY_NONE, e, st->cfg.video_allowed);
	return AH_STAGE_OK;
}

/* An invitee (`from` INVITED) or a guest (GUEST) goes back to the audience, with its event. */
static ah_stage_error back_to_audience(ah_stage *st, guint64 participant, ah_stage_state from, ah_stage_reason why,
	GArray *events)
{
	const gboolean invited = from == AH_STAGE_INVITED;
	ah_stage_error err;
	entry *e = in_state(st, participant, from, invited ? AH_STAGE_ERR_NOT_INVITED : AH_STAGE_ERR_NOT_ON_STAGE, &err);
	if (e == NULL)
		return err;
	emit(events, invited ? AH_STAGE_EV_INVITE_ENDED : AH_STAGE_EV_GUEST_OFF, why, e, st->cfg.video_allowed);
	to_audience(st, e);
	return AH_STAGE_OK;
}

static ah_stage_error end_invite(ah_stage *st, guint64 participant, ah_stage_reason why, GArray *events)
{
	return back_to_audience(st, participant, AH_STAGE_INVITED, why, events);
}

ah_stage_error ah_stage_withdraw(ah_stage *st, guint64 participant, GArray *events)
{
	return end_invite(st, participant, AH_STAGE_WHY_WITHDRAWN, events);
}

ah_stage_error ah_stage_decline(ah_stage *st, guint64 participant, GArray *events)
{
	return end_invite(st, participant, AH_STAGE_WHY_DECLINED, events);
}

ah_stage_error ah_stage_accept(ah_stage *st, guint64 participant, gint64 now_us, GArray *events)
{
	ah_stage_error err;
	entry *e = in_state(st, participant, AH_STAGE_INVITED, AH_STAGE_ERR_NOT_INVITED, &err);
	if (e == NULL)
		return err;
	if (now_us >= e->expires_us) {
		end_invite(st, participant, AH_STAGE_WHY_EXPIRED, events);
		return AH_STAGE_ERR_INVITE_EXPIRED;
	}
	/* The invitation held its place: the stage cannot be full for it. */
	st->invited--;
	st->guests++;
	e->state = AH_STAGE_GUEST;
	e->audio_muted = FALSE;
	e->video_muted = FALSE;
	emit(events, AH_STAGE_EV_GUEST_ON, AH_STAGE_WHY_NONE, e, st->cfg.video_allowed);
	return AH_STAGE_OK;
}

ah_stage_error ah_stage_mute(ah_stage *st, guint64 participant, int media, gboolean muted,
	GArray *events)
{
	if (media != AH_STAGE_AUDIO && media != AH_STAGE_VIDEO)
		return participant == 0 ? AH_STAGE_ERR_PARTICIPANT : AH_STAGE_ERR_MEDIA;
	ah_stage_error err;
	entry *e = in_state(st, participant, AH_STAGE_GUEST, AH_STAGE_ERR_NOT_ON_STAGE, &err);
	if (e == NULL)
		return err;
	if (media == AH_STAGE_VIDEO && !st->cfg.video_allowed)
		return AH_STAGE_ERR_VIDEO_NOT_ALLOWED;
	gboolean *flag = media == AH_STAGE_AUDIO ? &e->audio_muted : &e->video_muted;
	muted = muted ? TRUE : FALSE;
	if (*flag == muted)
		return AH_STAGE_OK;
	*flag = muted;
	emit(events, AH_STAGE_EV_GUEST_MEDIA, AH_STAGE_WHY_NONE, e, st->cfg.video_allowed);
	return AH_STAGE_OK;
}

static ah_stage_error off_stage(ah_stage *st, guint64 participant, ah_stage_reason why, GArray *events)
{
	return back_to_audience(st, participant, AH_STAGE_GUEST, why, events);
}

ah_stage_error ah_stage_send_back(ah_stage *st, guint64 participant, GArray *events)
{
	return off_stage(st, participant, AH_STAGE_WHY_SENT_BACK, events);
}

ah_stage_error ah_stage_step_down(ah_stage *st, guint64 participant, GArray *events)
{
	return off_stage(st, participant, AH_STAGE_WHY_SELF, events);
}

ah_stage_error ah_stage_gone(ah_stage *st, guint64 participant, GArray *events)
{
	if (participant == 0)
		return AH_STAGE_ERR_PARTICIPANT;
	entry *e = find(st, participant);
	if (e == NULL)
		return AH_STAGE_OK;
	static const ah_stage_event_kind kinds[] = {
		[AH_STAGE_HAND] = AH_STAGE_EV_HAND_LOWERED,
		[AH_STAGE_INVITED] = AH_STAGE_EV_INVITE_ENDED,
		[AH_STAGE_GUEST] = AH_STAGE_EV_GUEST_OFF,
	};
	emit(events, kinds[e->state], AH_STAGE_WHY_GONE, e, st->cfg.video_allowed);
	to_audience(st, e);
	return AH_STAGE_OK;
}

/* Invitations are at most max_guests (64): a scan of the table is cheaper than keeping an order,
 * but the table also holds the hands, so the scan collects the expired first and ends them after. */
guint ah_stage_expire(ah_stage *st, gint64 now_us, GArray *events)
{
	if (st->invited == 0)
		return 0;
	guint64 ended[AH_STAGE_MAX_GUESTS];
	guint n = 0;
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, st->by_id);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		entry *e = value;
		if (e->state == AH_STAGE_INVITED && now_us >= e->expires_us && n < AH_STAGE_MAX_GUESTS)
			ended[n++] = e->id;
	}
	for (guint i = 0; i < n; i++)
		end_invite(st, ended[i], AH_STAGE_WHY_EXPIRED, events);
	return n;
}

gint64 ah_stage_next_expiry(const ah_stage *st)
{
	if (st->invited == 0)
		return -1;
	gint64 next = -1;
	GHashTableIter it;
	gpointer value;
	g_hash_table_iter_init(&it, st->by_id);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		const entry *e = value;
		if (e->state == AH_STAGE_INVITED && (next < 0 || e->expires_us < next))
			next = e->expires_us;
	}
	return next;
}

ah_stage_state ah_stage_state_of(const ah_stage *st, guint64 participant)
{
	const entry *e = participant ? find(st, participant) : NULL;
	return e ? e->state : AH_STAGE_AUDIENCE;
}

guint ah_stage_hand_position(const ah_stage *st, guint64 participant)
{
	const entry *e = participant ? find(st, participant) : NULL;
	if (e == NULL || e->state != AH_STAGE_HAND)
		return 0;
	guint pos = 1;
	for (GList *l = st->hands.head; l != e->hand; l = l->next)
		pos++;
	return pos;
}

guint ah_stage_hands(const ah_stage *st, guint64 *out, guint max)
{
	guint n = 0;
	for (GList *l = st->hands.head; l != NULL && n < max; l = l->next)
		out[n++] = ((const entry *)l->data)->id;
	return n;
}

gboolean ah_stage_guest_media(const ah_stage *st, guint64 participant, gboolean *audio, gboolean *video)
{
	const entry *e = participant ? find(st, participant) : NULL;
	if (e == NULL || e->state != AH_STAGE_GUEST)
		return FALSE;
	if (audio)
		*audio = !e->audio_muted;
	if (video)
		*video = st->cfg.video_allowed && !e->video_muted;
	return TRUE;
}

void ah_stage_get_counts(const ah_stage *st, ah_stage_counts *out)
{
	out->hands = st->hands.length;
	out->invited = st->invited;
	out->guests = st->guests;
}
