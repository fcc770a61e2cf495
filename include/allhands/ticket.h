/* allhands: one-time tickets of cluster redirects (docs/cluster.md, "Placement and redirects").
 *
 * A node that is not a room's home checks a join's credentials (pin, presenter secret, join token,
 * priority secret) and, instead of joining, answers with a redirect carrying a ticket: proof, for the
 * home node, that those credentials were checked. A ticket is bound to a tenant, a room, the home
 * node, a participant type and class (and the join token's subject, if any), expires AH_TICKET_TTL_S
 * after it was issued, and is signed with HMAC-SHA256 by the cluster's shared secret
 * (`cluster_secret`). Its wire form: base64url(payload JSON) "." base64url(HMAC), at most
 * AH_TICKET_MAX_LEN bytes; the MAC covers "ah-ticket-v1." and the encoded payload.
 *
 * One-time: the home node remembers every ticket it took (its nonce) in a replay set until the
 * ticket can no longer be valid, with O(1) work per join and a bounded size.
 *
 * Pure: GLib and jansson only, no Janus, no clock (time is `now_s`, UNIX seconds), no I/O but the
 * kernel's random for nonces, no logging. Any thread (a replay set belongs to one thread).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_TICKET_H
#define ALLHANDS_TICKET_H

#include <glib.h>

#include "allhands/errors.h"

#define AH_TICKET_TTL_S 60          /* a ticket is valid this long after it was issued */
#define AH_TICKET_SKEW_S 30         /* clock skew allowed between the issuing and the home node */
#define AH_TICKET_MAX_LEN 1024      /* longer: ticket_invalid before any parsing */
#define AH_TICKET_NONCE_LEN 32      /* hex characters (128 random bits) */
#define AH_TICKET_SUB_MAX_LEN 128
#define AH_TICKET_SEEN_DEFAULT 100000 /* tickets a home node remembers at most (replay set) */
#define AH_TICKET_REJOIN_TTL_S (12 * 3600) /* a rejoin ticket's lifetime (an attendee's meeting) */

typedef enum {
	AH_TICKET_ATTENDEE = 0,
	AH_TICKET_PRESENTER,
	AH_TICKET_BACKSTAGE,
} ah_ticket_ptype;

typedef struct {
	char tenant[65];
	char room[65];
	char node[65];              /* the home node the ticket is for */
	ah_ticket_ptype ptype;
	gboolean priority;          /* attendee of the priority class */
	char sub[AH_TICKET_SUB_MAX_LEN + 1]; /* the join token's subject, "" when none */
	gint64 exp;                 /* UNIX seconds */
	char nonce[AH_TICKET_NONCE_LEN + 1];
} ah_ticket;

const char *ah_ticket_ptype_name(ah_ticket_ptype ptype);
/* "attendee", "presenter", "backstage"; FALSE for anything else. */
gboolean ah_ticket_ptype_parse(const char *name, ah_ticket_ptype *ptype);

/* A fresh nonce (AH_TICKET_NONCE_LEN lower-case hex characters from getrandom). FALSE only if the
 * kernel gives no randomness. */
gboolean ah_ticket_nonce(char out[AH_TICKET_NONCE_LEN + 1]);

/* The signed ticket (g_free); NULL when a field is out of range (ids not ids, sub too long,
 * nonce not hex, secret empty). */
char *ah_ticket_sign(const ah_ticket *t, const char *secret);

/* Check `ticket`'s form and signature with `secret`, then its expiry at now_s: AH_ERR_OK with *out
 * filled, AH_ERR_TICKET_INVALID (too long, malformed, bad signature, bad fields, or an expiry
 * further ahead than a ticket issued now could have), or AH_ERR_TICKET_EXPIRED
 * (now_s >= exp + AH_TICKET_SKEW_S). What it is for (tenant, room, node, ptype) is the caller's to
 * compare. */
ah_error ah_ticket_verify(const char *ticket, const char *secret, gint64 now_s, ah_ticket *out);

/* Rejoin tickets (cluster mode, docs/cluster.md "Rejoining after a node died"): the second half of an
 * attendee's rejoin token, which another node honours once the issuing node (`node`) is dead. The
 * same fields, signed in another context (a redirect ticket never verifies as a rejoin ticket, nor the
 * other way round), valid up to AH_TICKET_REJOIN_TTL_S. */
char *ah_ticket_sign_rejoin(const ah_ticket *t, const char *secret);
ah_error ah_ticket_verify_rejoin(const char *ticket, const char *secret, gint64 now_s, ah_ticket *out);

/* The replay set: nonces of tickets taken, each kept until its ticket cannot verify any more. */
typedef struct ah_ticket_seen ah_ticket_seen;
ah_ticket_seen *ah_ticket_seen_new(guint max);
void ah_ticket_seen_free(ah_ticket_seen *seen);
/* Take the ticket with `nonce` at now_s (after ah_ticket_verify accepted it at now_s):
 * AH_ERR_OK (remembered), AH_ERR_TICKET_USED (taken before), AH_ERR_TICKETS_FULL (the set holds
 * `max` live tickets: nothing remembered, the join should be retried later). Forgets, first, the
 * tickets that expired: amortised O(1). */
ah_error ah_ticket_seen_take(ah_ticket_seen *seen, const char *nonce, gint64 now_s);
/* Let a taken ticket be taken again (the join it came with was refused and changed nothing). */
void ah_ticket_seen_forget(ah_ticket_seen *seen, const char *nonce);
guint ah_ticket_seen_size(const ah_ticket_seen *seen);

#endif
