/* allhands: unit tests of raised hands and the stage (include/allhands/stage.h, plugin/core/stage.c):
 * every transition of the state table with the events it emits, every refusal (and that a refusal
 * changes nothing), the bounds on hands and guests, invitations expiring, mute and unmute of audio
 * and video, a room without video, and a guest leaving or disconnecting. A random walk checks the
 * invariants against a model of each participant's state.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "allhands/stage.h"

#define S G_GINT64_CONSTANT(1000000)
#define TTL (30 * S)

typedef struct {
	ah_stage *st;
	GArray *ev;
} fixture;

static void setup_cfg(fixture *f, guint hands, guint guests, gboolean video)
{
	ah_stage_config cfg;
	ah_stage_config_init(&cfg);
	cfg.max_hands = hands;
	cfg.max_guests = guests;
	cfg.invite_ttl_us = TTL;
	cfg.video_allowed = video;
	ah_stage_error err = AH_STAGE_ERR_CONFIG;
	f->st = ah_stage_new(&cfg, &err);
	g_assert_nonnull(f->st);
	g_assert_cmpint(err, ==, AH_STAGE_OK);
	f->ev = g_array_new(FALSE, TRUE, sizeof(ah_stage_event));
}

static void setup(fixture *f, gconstpointer data)
{
	(void)data;
	setup_cfg(f, 3, 2, TRUE);
}

static void teardown(fixture *f, gconstpointer data)
{
	(void)data;
	ah_stage_free(f->st);
	g_array_free(f->ev, TRUE);
}

/* Checks that exactly the events given were emitted since the last call (kind, reason, id). */
static void expect(fixture *f, guint n, ...)
{
	va_list ap;
	va_start(ap, n);
	g_assert_cmpuint(f->ev->len, ==, n);
	for (guint i = 0; i < n; i++) {
		const ah_stage_event *e = &g_array_index(f->ev, ah_stage_event, i);
		g_assert_cmpint(e->kind, ==, va_arg(ap, int));
		g_assert_cmpint(e->reason, ==, va_arg(ap, int));
		g_assert_cmpuint(e->participant, ==, va_arg(ap, guint64));
	}
	va_end(ap);
	g_array_set_size(f->ev, 0);
}

static const ah_stage_event *last(fixture *f)
{
	g_assert_cmpuint(f->ev->len, >, 0);
	return &g_array_index(f->ev, ah_stage_event, f->ev->len - 1);
}

static void counts(fixture *f, guint hands, guint invited, guint guests)
{
	ah_stage_counts c;
	ah_stage_get_counts(f->st, &c);
	g_assert_cmpuint(c.hands, ==, hands);
	g_assert_cmpuint(c.invited, ==, invited);
	g_assert_cmpuint(c.guests, ==, guests);
}

static void test_names(void)
{
	g_assert_cmpstr(ah_stage_error_name(AH_STAGE_ERR_STAGE_FULL), ==, "stage_full");
	g_assert_cmpstr(ah_stage_error_name((ah_stage_error)77), ==, "unknown");
	g_assert_cmpstr(ah_stage_error_message((ah_stage_error)-3), ==, "unknown error");
	g_assert_cmpstr(ah_stage_event_name(AH_STAGE_EV_GUEST_OFF), ==, "guest_off");
	g_assert_cmpstr(ah_stage_event_name((ah_stage_event_kind)0), ==, "unknown");
	g_assert_cmpstr(ah_stage_reason_name(AH_STAGE_WHY_SENT_BACK), ==, "sent_back");
	g_assert_cmpstr(ah_stage_reason_name((ah_stage_reason)99), ==, "unknown");
	g_assert_cmpstr(ah_stage_reason_name((ah_stage_reason)-1), ==, "unknown");
}

static void test_config(void)
{
	ah_stage_error err = AH_STAGE_OK;
	g_assert_null(ah_stage_new(NULL, &err));
	g_assert_cmpint(err, ==, AH_STAGE_ERR_CONFIG);
	ah_stage_config ok, bad[6];
	ah_stage_config_init(&ok);
	for (int i = 0; i < 6; i++)
		bad[i] = ok;
	bad[0].max_hands = 0;
	bad[1].max_hands = AH_STAGE_MAX_HANDS + 1;
	bad[2].max_guests = 0;
	bad[3].max_guests = AH_STAGE_MAX_GUESTS + 1;
	bad[4].invite_ttl_us = AH_STAGE_MIN_INVITE_US - 1;
	bad[5].invite_ttl_us = AH_STAGE_MAX_INVITE_US + 1;
	for (int i = 0; i < 6; i++) {
		err = AH_STAGE_OK;
		g_assert_null(ah_stage_new(&bad[i], &err));
		g_assert_cmpint(err, ==, AH_STAGE_ERR_CONFIG);
	}
	ah_stage *st = ah_stage_new(&ok, NULL);
	g_assert_nonnull(st);
	ah_stage_free(st);
	ah_stage_free(NULL);
}

/* Hands: raised in order, no duplicates, bounded, lowered from anywhere in the queue. */
static void test_hands(fixture *f, gconstpointer data)
{
	(void)data;
	g_assert_cmpint(ah_stage_raise(f->st, 10, f->ev), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_raise(f->st, 11, f->ev), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_raise(f->st, 12, f->ev), ==, AH_STAGE_OK);
	expect(f, 3, AH_STAGE_EV_HAND_RAISED, AH_STAGE_WHY_NONE, (guint64)10,
		AH_STAGE_EV_HAND_RAISED, AH_STAGE_WHY_NONE, (guint64)11,
		AH_STAGE_EV_HAND_RAISED, AH_STAGE_WHY_NONE, (guint64)12);
	g_assert_cmpint(ah_stage_raise(f->st, 11, f->ev), ==, AH_STAGE_ERR_HAND_RAISED);
	g_assert_cmpint(ah_stage_raise(f->st, 13, f->ev), ==, AH_STAGE_ERR_HANDS_FULL);
	g_assert_cmpint(ah_stage_raise(f->st, 0, f->ev), ==, AH_STAGE_ERR_PARTICIPANT);
	expect(f, 0);
	g_assert_cmpint(ah_stage_state_of(f->st, 11), ==, AH_STAGE_HAND);
	g_assert_cmpint(ah_stage_state_of(f->st, 13), ==, AH_STAGE_AUDIENCE);
	g_assert_cmpint(ah_stage_state_of(f->st, 0), ==, AH_STAGE_AUDIENCE);
	g_assert_cmpuint(ah_stage_hand_position(f->st, 12), ==, 3);
	g_assert_cmpuint(ah_stage_hand_position(f->st, 13), ==, 0);
	g_assert_cmpuint(ah_stage_hand_position(f->st, 0), ==, 0);
	g_assert_cmpint(ah_stage_lower(f->st, 11, f->ev), ==, AH_STAGE_OK);
	expect(f, 1, AH_STAGE_EV_HAND_LOWERED, AH_STAGE_WHY_SELF, (guint64)11);
	g_assert_cmpint(ah_stage_lower(f->st, 11, f->ev), ==, AH_STAGE_ERR_HAND_NOT_RAISED);
	g_assert_cmpint(ah_stage_lower(f->st, 0, f->ev), ==, AH_STAGE_ERR_PARTICIPANT);
	expect(f, 0);
	g_assert_cmpuint(ah_stage_hand_position(f->st, 12), ==, 2);
	/* Raised again: at the back of the queue. */
	g_assert_cmpint(ah_stage_raise(f->st, 11, NULL), ==, AH_STAGE_OK);
	guint64 out[5];
	g_assert_cmpuint(ah_stage_hands(f->st, out, 5), ==, 3);
	g_assert_cmpuint(out[0], ==, 10);
	g_assert_cmpuint(out[1], ==, 12);
	g_assert_cmpuint(out[2], ==, 11);
	g_assert_cmpuint(ah_stage_hands(f->st, out, 1), ==, 1);
	g_assert_cmpuint(out[0], ==, 10);
	counts(f, 3, 0, 0);
}

/* Invite a hand: its hand is lowered (INVITED), it accepts and is on stage with audio and video. */
static void test_invite_accept(fixture *f, gconstpointer data)
{
	(void)data;
	g_assert_cmpint(ah_stage_raise(f->st, 5, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_raise(f->st, 6, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_invite(f->st, 5, 100 * S, f->ev), ==, AH_STAGE_OK);
	g_assert_cmpint(last(f)->expires_us, ==, 100 * S + TTL);
	expect(f, 2, AH_STAGE_EV_HAND_LOWERED, AH_STAGE_WHY_INVITED, (guint64)5,
		AH_STAGE_EV_INVITED, AH_STAGE_WHY_NONE, (guint64)5);
	g_assert_cmpint(ah_stage_state_of(f->st, 5), ==, AH_STAGE_INVITED);
	g_assert_cmpuint(ah_stage_hand_position(f->st, 6), ==, 1);
	counts(f, 1, 1, 0);
	g_assert_cmpint(ah_stage_next_expiry(f->st), ==, 100 * S + TTL);
	/* While invited: no hand, no second invitation. */
	g_assert_cmpint(ah_stage_raise(f->st, 5, f->ev), ==, AH_STAGE_ERR_INVITED);
	g_assert_cmpint(ah_stage_invite(f->st, 5, 101 * S, f->ev), ==, AH_STAGE_ERR_INVITED);
	g_assert_cmpint(ah_stage_lower(f->st, 5, f->ev), ==, AH_STAGE_ERR_HAND_NOT_RAISED);
	g_assert_cmpint(ah_stage_mute(f->st, 5, AH_STAGE_AUDIO, TRUE, f->ev), ==, AH_STAGE_ERR_NOT_ON_STAGE);
	g_assert_cmpint(ah_stage_accept(f->st, 6, 101 * S, f->ev), ==, AH_STAGE_ERR_NOT_INVITED);
	g_assert_cmpint(ah_stage_decline(f->st, 6, f->ev), ==, AH_STAGE_ERR_NOT_INVITED);
	expect(f, 0);
	g_assert_cmpint(ah_stage_accept(f->st, 5, 100 * S + TTL - 1, f->ev), ==, AH_STAGE_OK);
	g_assert_true(last(f)->audio);
	g_assert_true(last(f)->video);
	expect(f, 1, AH_STAGE_EV_GUEST_ON, AH_STAGE_WHY_NONE, (guint64)5);
	g_assert_cmpint(ah_stage_state_of(f->st, 5), ==, AH_STAGE_GUEST);
	counts(f, 1, 0, 1);
	g_assert_cmpint(ah_stage_next_expiry(f->st), ==, -1);
	/* On stage: no hand, no invitation, no second accept. */
	g_assert_cmpint(ah_stage_raise(f->st, 5, f->ev), ==, AH_STAGE_ERR_ON_STAGE);
	g_assert_cmpint(ah_stage_invite(f->st, 5, 102 * S, f->ev), ==, AH_STAGE_ERR_ON_STAGE);
	g_assert_cmpint(ah_stage_accept(f->st, 5, 102 * S, f->ev), ==, AH_STAGE_ERR_NOT_INVITED);
	g_assert_cmpint(ah_stage_withdraw(f->st, 5, f->ev), ==, AH_STAGE_ERR_NOT_INVITED);
	expect(f, 0);
	gboolean a = FALSE, v = FALSE;
	g_assert_true(ah_stage_guest_media(f->st, 5, &a, &v));
	g_assert_true(a);
	g_assert_true(v);
	g_assert_false(ah_stage_guest_media(f->st, 6, &a, &v));
	g_assert_false(ah_stage_guest_media(f->st, 0, NULL, NULL));
}

/* Any attendee may be invited (no hand needed); decline and withdraw end the invitation. */
static void test_invite_end(fixture *f, gconstpointer data)
{
	(void)data;
	g_assert_cmpint(ah_stage_invite(f->st, 0, 0, f->ev), ==, AH_STAGE_ERR_PARTICIPANT);
	g_assert_cmpint(ah_stage_invite(f->st, 20, 0, f->ev), ==, AH_STAGE_OK);
	expect(f, 1, AH_STAGE_EV_INVITED, AH_STAGE_WHY_NONE, (guint64)20);
	g_assert_cmpint(ah_stage_decline(f->st, 20, f->ev), ==, AH_STAGE_OK);
	expect(f, 1, AH_STAGE_EV_INVITE_ENDED, AH_STAGE_WHY_DECLINED, (guint64)20);
	g_assert_cmpint(ah_stage_state_of(f->st, 20), ==, AH_STAGE_AUDIENCE);
	g_assert_cmpint(ah_stage_decline(f->st, 20, f->ev), ==, AH_STAGE_ERR_NOT_INVITED);
	g_assert_cmpint(ah_stage_accept(f->st, 20, 0, f->ev), ==, AH_STAGE_ERR_NOT_INVITED);
	g_assert_cmpint(ah_stage_decline(f->st, 0, f->ev), ==, AH_STAGE_ERR_PARTICIPANT);
	g_assert_cmpint(ah_stage_accept(f->st, 0, 0, f->ev), ==, AH_STAGE_ERR_PARTICIPANT);
	expect(f, 0);
	g_assert_cmpint(ah_stage_invite(f->st, 20, 0, f->ev), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_withdraw(f->st, 20, f->ev), ==, AH_STAGE_OK);
	expect(f, 2, AH_STAGE_EV_INVITED, AH_STAGE_WHY_NONE, (guint64)20,
		AH_STAGE_EV_INVITE_ENDED, AH_STAGE_WHY_WITHDRAWN, (guint64)20);
	g_assert_cmpint(ah_stage_withdraw(f->st, 20, f->ev), ==, AH_STAGE_ERR_NOT_INVITED);
	/* After the invitation ended the attendee may raise its hand again. */
	g_assert_cmpint(ah_stage_raise(f->st, 20, f->ev), ==, AH_STAGE_OK);
	expect(f, 1, AH_STAGE_EV_HAND_RAISED, AH_STAGE_WHY_NONE, (guint64)20);
	counts(f, 1, 0, 0);
}

/* Invitations expire: ah_stage_expire ends those due (not the others), an accept at or after the
 * expiry is refused and ends it. */
static void test_expiry(fixture *f, gconstpointer data)
{
	(void)data;
	g_assert_cmpuint(ah_stage_expire(f->st, 1000 * S, f->ev), ==, 0);
	g_assert_cmpint(ah_stage_invite(f->st, 1, 0, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_invite(f->st, 2, 10 * S, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_next_expiry(f->st), ==, TTL);
	g_assert_cmpuint(ah_stage_expire(f->st, TTL - 1, f->ev), ==, 0);
	expect(f, 0);
	g_assert_cmpuint(ah_stage_expire(f->st, TTL, f->ev), ==, 1);
	expect(f, 1, AH_STAGE_EV_INVITE_ENDED, AH_STAGE_WHY_EXPIRED, (guint64)1);
	g_assert_cmpint(ah_stage_next_expiry(f->st), ==, 10 * S + TTL);
	counts(f, 0, 1, 0);
	g_assert_cmpint(ah_stage_accept(f->st, 2, 10 * S + TTL, f->ev), ==, AH_STAGE_ERR_INVITE_EXPIRED);
	expect(f, 1, AH_STAGE_EV_INVITE_ENDED, AH_STAGE_WHY_EXPIRED, (guint64)2);
	g_assert_cmpint(ah_stage_state_of(f->st, 2), ==, AH_STAGE_AUDIENCE);
	g_assert_cmpint(ah_stage_accept(f->st, 2, 10 * S + TTL, f->ev), ==, AH_STAGE_ERR_NOT_INVITED);
	counts(f, 0, 0, 0);
	g_assert_cmpint(ah_stage_next_expiry(f->st), ==, -1);
	/* An invitation near the end of gint64 saturates rather than wrapping into the past. */
	g_assert_cmpint(ah_stage_invite(f->st, 3, G_MAXINT64 - S, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_next_expiry(f->st), ==, G_MAXINT64);
	g_assert_cmpuint(ah_stage_expire(f->st, G_MAXINT64 - 1, f->ev), ==, 0);
	g_assert_cmpint(ah_stage_accept(f->st, 3, G_MAXINT64 - 1, NULL), ==, AH_STAGE_OK);
}

/* The stage holds max_guests, pending invitations included; a place frees when a guest leaves or
 * an invitation ends. */
static void test_full(fixture *f, gconstpointer data)
{
	(void)data;
	g_assert_cmpint(ah_stage_invite(f->st, 1, 0, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_accept(f->st, 1, S, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_invite(f->st, 2, 0, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_raise(f->st, 3, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_invite(f->st, 3, 0, f->ev), ==, AH_STAGE_ERR_STAGE_FULL);
	g_assert_cmpint(ah_stage_invite(f->st, 4, 0, f->ev), ==, AH_STAGE_ERR_STAGE_FULL);
	expect(f, 0);
	/* The refused hand is still raised, in its place. */
	g_assert_cmpint(ah_stage_state_of(f->st, 3), ==, AH_STAGE_HAND);
	counts(f, 1, 1, 1);
	/* The pending invitation held its place: accepting never finds the stage full. */
	g_assert_cmpint(ah_stage_accept(f->st, 2, S, NULL), ==, AH_STAGE_OK);
	counts(f, 1, 0, 2);
	g_assert_cmpint(ah_stage_invite(f->st, 3, 2 * S, f->ev), ==, AH_STAGE_ERR_STAGE_FULL);
	g_assert_cmpint(ah_stage_send_back(f->st, 1, f->ev), ==, AH_STAGE_OK);
	expect(f, 1, AH_STAGE_EV_GUEST_OFF, AH_STAGE_WHY_SENT_BACK, (guint64)1);
	g_assert_cmpint(ah_stage_invite(f->st, 3, 2 * S, NULL), ==, AH_STAGE_OK);
	counts(f, 0, 1, 1);
}

/* Mute and unmute audio and video separately; idempotent; refusals. */
static void test_mute(fixture *f, gconstpointer data)
{
	(void)data;
	g_assert_cmpint(ah_stage_invite(f->st, 9, 0, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_accept(f->st, 9, 0, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_mute(f->st, 9, AH_STAGE_AUDIO, TRUE, f->ev), ==, AH_STAGE_OK);
	g_assert_false(last(f)->audio);
	g_assert_true(last(f)->video);
	expect(f, 1, AH_STAGE_EV_GUEST_MEDIA, AH_STAGE_WHY_NONE, (guint64)9);
	g_assert_cmpint(ah_stage_mute(f->st, 9, AH_STAGE_AUDIO, TRUE, f->ev), ==, AH_STAGE_OK);
	expect(f, 0);
	g_assert_cmpint(ah_stage_mute(f->st, 9, AH_STAGE_VIDEO, 7, f->ev), ==, AH_STAGE_OK);
	g_assert_false(last(f)->audio);
	g_assert_false(last(f)->video);
	expect(f, 1, AH_STAGE_EV_GUEST_MEDIA, AH_STAGE_WHY_NONE, (guint64)9);
	g_assert_cmpint(ah_stage_mute(f->st, 9, AH_STAGE_AUDIO, FALSE, f->ev), ==, AH_STAGE_OK);
	g_assert_true(last(f)->audio);
	g_assert_false(last(f)->video);
	expect(f, 1, AH_STAGE_EV_GUEST_MEDIA, AH_STAGE_WHY_NONE, (guint64)9);
	gboolean a = FALSE, v = TRUE;
	g_assert_true(ah_stage_guest_media(f->st, 9, &a, &v));
	g_assert_true(a);
	g_assert_false(v);
	g_assert_cmpint(ah_stage_mute(f->st, 9, 2, TRUE, f->ev), ==, AH_STAGE_ERR_MEDIA);
	g_assert_cmpint(ah_stage_mute(f->st, 9, -1, TRUE, f->ev), ==, AH_STAGE_ERR_MEDIA);
	g_assert_cmpint(ah_stage_mute(f->st, 0, AH_STAGE_AUDIO, TRUE, f->ev), ==, AH_STAGE_ERR_PARTICIPANT);
	g_assert_cmpint(ah_stage_mute(f->st, 0, 5, TRUE, f->ev), ==, AH_STAGE_ERR_PARTICIPANT);
	g_assert_cmpint(ah_stage_mute(f->st, 8, AH_STAGE_AUDIO, TRUE, f->ev), ==, AH_STAGE_ERR_NOT_ON_STAGE);
	expect(f, 0);
	/* Back to the audience and on stage again: the mutes do not follow. */
	g_assert_cmpint(ah_stage_step_down(f->st, 9, f->ev), ==, AH_STAGE_OK);
	expect(f, 1, AH_STAGE_EV_GUEST_OFF, AH_STAGE_WHY_SELF, (guint64)9);
	g_assert_cmpint(ah_stage_step_down(f->st, 9, f->ev), ==, AH_STAGE_ERR_NOT_ON_STAGE);
	g_assert_cmpint(ah_stage_send_back(f->st, 9, f->ev), ==, AH_STAGE_ERR_NOT_ON_STAGE);
	g_assert_cmpint(ah_stage_send_back(f->st, 0, f->ev), ==, AH_STAGE_ERR_PARTICIPANT);
	g_assert_cmpint(ah_stage_invite(f->st, 9, 0, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_accept(f->st, 9, 0, f->ev), ==, AH_STAGE_OK);
	g_assert_true(last(f)->audio);
	g_assert_true(last(f)->video);
}

/* A room without video: guests send audio only, video cannot be unmuted. */
static void test_no_video(void)
{
	fixture f;
	setup_cfg(&f, 2, 1, FALSE);
	g_assert_cmpint(ah_stage_invite(f.st, 4, 0, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_accept(f.st, 4, 0, f.ev), ==, AH_STAGE_OK);
	g_assert_true(last(&f)->audio);
	g_assert_false(last(&f)->video);
	g_assert_cmpint(ah_stage_mute(f.st, 4, AH_STAGE_VIDEO, FALSE, f.ev), ==, AH_STAGE_ERR_VIDEO_NOT_ALLOWED);
	g_assert_cmpint(ah_stage_mute(f.st, 4, AH_STAGE_VIDEO, TRUE, f.ev), ==, AH_STAGE_ERR_VIDEO_NOT_ALLOWED);
	g_assert_cmpint(ah_stage_mute(f.st, 4, AH_STAGE_AUDIO, TRUE, f.ev), ==, AH_STAGE_OK);
	g_assert_false(last(&f)->video);
	gboolean a = TRUE, v = TRUE;
	g_assert_true(ah_stage_guest_media(f.st, 4, &a, &v));
	g_assert_false(a);
	g_assert_false(v);
	teardown(&f, NULL);
}

/* Leaving the room or disconnecting ends whatever the participant held. */
static void test_gone(fixture *f, gconstpointer data)
{
	(void)data;
	g_assert_cmpint(ah_stage_raise(f->st, 1, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_raise(f->st, 4, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_invite(f->st, 2, 0, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_invite(f->st, 3, 0, NULL), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_accept(f->st, 3, 0, NULL), ==, AH_STAGE_OK);
	counts(f, 2, 1, 1);
	g_assert_cmpint(ah_stage_gone(f->st, 1, f->ev), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_gone(f->st, 2, f->ev), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_gone(f->st, 3, f->ev), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_gone(f->st, 3, f->ev), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_gone(f->st, 99, f->ev), ==, AH_STAGE_OK);
	g_assert_cmpint(ah_stage_gone(f->st, 0, f->ev), ==, AH_STAGE_ERR_PARTICIPANT);
	expect(f, 3, AH_STAGE_EV_HAND_LOWERED, AH_STAGE_WHY_GONE, (guint64)1,
		AH_STAGE_EV_INVITE_ENDED, AH_STAGE_WHY_GONE, (guint64)2,
		AH_STAGE_EV_GUEST_OFF, AH_STAGE_WHY_GONE, (guint64)3);
	counts(f, 1, 0, 0);
	g_assert_cmpuint(ah_stage_hand_position(f->st, 4), ==, 1);
	g_assert_cmpint(ah_stage_next_expiry(f->st), ==, -1);
}

/* A random walk of every operation on 40 participants, against a model: after each step the state
 * of everyone, the counts and the bounds agree; an operation succeeds exactly when the table allows
 * it. */
static void test_random(void)
{
	fixture f;
	setup_cfg(&f, 8, 3, TRUE);
	enum { N = 40 };
	ah_stage_state model[N + 1] = { 0 };
	gint64 expiry[N + 1] = { 0 };
	GRand *rand = g_rand_new_with_seed(1515);
	gint64 now = 0;
	for (int step = 0; step < 50000; step++) {
		now += g_rand_int_range(rand, 0, 3 * S);
		guint64 id = 1 + g_rand_int_range(rand, 0, N);
		guint hands = 0, inv = 0, guests = 0;
		for (int i = 1; i <= N; i++) {
			hands += model[i] == AH_STAGE_HAND;
			inv += model[i] == AH_STAGE_INVITED;
			guests += model[i] == AH_STAGE_GUEST;
		}
		ah_stage_state s = model[id];
		ah_stage_error e;
		gboolean want;
		switch (g_rand_int_range(rand, 0, 9)) {
		case 0:
			e = ah_stage_raise(f.st, id, NULL);
			want = s == AH_STAGE_AUDIENCE && hands < 8;
			if (want)
				model[id] = AH_STAGE_HAND;
			break;
		case 1:
			e = ah_stage_lower(f.st, id, NULL);
			want = s == AH_STAGE_HAND;
			if (want)
				model[id] = AH_STAGE_AUDIENCE;
			break;
		case 2:
		case 3:
			e = ah_stage_invite(f.st, id, now, NULL);
			want = (s == AH_STAGE_AUDIENCE || s == AH_STAGE_HAND) && inv + guests < 3;
			if (want) {
				model[id] = AH_STAGE_INVITED;
				expiry[id] = now + TTL;
			}
			break;
		case 4:
			e = ah_stage_accept(f.st, id, now, NULL);
			want = s == AH_STAGE_INVITED && now < expiry[id];
			if (s == AH_STAGE_INVITED)
				model[id] = want ? AH_STAGE_GUEST : AH_STAGE_AUDIENCE;
			break;
		case 5:
			e = ah_stage_decline(f.st, id, NULL);
			want = s == AH_STAGE_INVITED;
			if (want)
				model[id] = AH_STAGE_AUDIENCE;
			break;
		case 6:
			e = ah_stage_send_back(f.st, id, NULL);
			want = s == AH_STAGE_GUEST;
			if (want)
				model[id] = AH_STAGE_AUDIENCE;
			break;
		case 7:
			e = ah_stage_mute(f.st, id, g_rand_int_range(rand, 0, 2), g_rand_boolean(rand), NULL);
			want = s == AH_STAGE_GUEST;
			break;
		default:
			e = ah_stage_gone(f.st, id, NULL);
			want = TRUE;
			model[id] = AH_STAGE_AUDIENCE;
			break;
		}
		g_assert_cmpint(e == AH_STAGE_OK, ==, want);
		g_array_set_size(f.ev, 0);
		guint n = ah_stage_expire(f.st, now, f.ev);
		for (guint i = 0; i < n; i++) {
			guint64 gone = g_array_index(f.ev, ah_stage_event, i).participant;
			g_assert_cmpint(model[gone], ==, AH_STAGE_INVITED);
			g_assert_cmpint(expiry[gone], <=, now);
			model[gone] = AH_STAGE_AUDIENCE;
		}
		for (int i = 1; i <= N; i++)
			g_assert_cmpint(ah_stage_state_of(f.st, i), ==, model[i]);
		ah_stage_counts c;
		ah_stage_get_counts(f.st, &c);
		g_assert_cmpuint(c.hands, <=, 8);
		g_assert_cmpuint(c.invited + c.guests, <=, 3);
	}
	g_rand_free(rand);
	teardown(&f, NULL);
}

#define ADD(path, fn) g_test_add(path, fixture, NULL, setup, fn, teardown)

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/stage/names", test_names);
	g_test_add_func("/stage/config/bounds", test_config);
	ADD("/stage/hands/order-duplicates-bound", test_hands);
	ADD("/stage/invite/hand-accept", test_invite_accept);
	ADD("/stage/invite/decline-withdraw", test_invite_end);
	ADD("/stage/invite/expiry", test_expiry);
	ADD("/stage/guests/full", test_full);
	ADD("/stage/guests/mute", test_mute);
	g_test_add_func("/stage/guests/no-video", test_no_video);
	ADD("/stage/gone", test_gone);
	g_test_add_func("/stage/random-walk", test_random);
	return g_test_run();
}
