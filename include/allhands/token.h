/* allhands: join tokens (JSON Web Tokens a tenant's backend mints with its signing key).
 *
 * Each tenant has a signing key the plugin generates (AH_SIGNING_KEY_LEN hex characters, 256
 * random bits), separate from its tenant secret (the admin password): a token in an attendee's
 * link then allows no offline guess of anything a person chose (docs/security.md).
 * Verification is done by libjwt (Debian's libjwt-dev), never by hand: the signature with one of
 * the tenant's current signing keys, the algorithm pinned to HMAC-SHA2 ("HS256", "HS384",
 * "HS512", exactly so; "none", other spellings and every other algorithm refused before any key
 * is tried), "exp" and "nbf" against `now` with
 * a documented clock skew, and the claims this plugin needs. Pure apart from libjwt: no Janus, no
 * clock reads (time is `now_s`, UNIX seconds), no logging, no global state. Any thread.
 *
 * Claims: "tenant" (string, an identifier), "room" (string, an identifier), "role" ("attendee",
 * "priority" or "presenter"), "sub" (string, the tenant's user id, 1..128 characters), "exp"
 * (integer, required), "nbf" (integer, optional), "iat" (optional, ignored).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_TOKEN_H
#define ALLHANDS_TOKEN_H

#include <glib.h>

#include "allhands/errors.h"

#define AH_TOKEN_MAX_LEN 4096     /* longer tokens: AH_ERR_TOKEN_TOO_LARGE before any parsing */
#define AH_TOKEN_SKEW_S 30        /* clock skew allowed on exp and nbf */
#define AH_TOKEN_SUB_MAX_LEN 128
#define AH_SIGNING_KEY_LEN 64     /* a tenant's signing key: 32 random bytes in lower-case hex */

typedef enum {
	AH_ROLE_ATTENDEE = 0,
	AH_ROLE_PRIORITY,         /* an attendee of the priority class */
	AH_ROLE_PRESENTER,
} ah_token_role;

typedef struct {
	char tenant[65];
	char room[65];
	char sub[AH_TOKEN_SUB_MAX_LEN + 1];
	ah_token_role role;
	gint64 exp;               /* UNIX seconds */
	gint64 nbf;               /* UNIX seconds, 0 when absent */
} ah_token_claims;

/* Verify `token` against any of `secrets` (n_secrets >= 1; a tenant's current signing key and,
 * during a rotation, its previous one), at `now_s`, for `tenant` and `room` (the request's; NULL skips that
 * check). AH_ERR_OK with *out filled, or the first failure in this order: TOKEN_TOO_LARGE,
 * TOKEN_MALFORMED, TOKEN_ALGORITHM, TOKEN_SIGNATURE, TOKEN_CLAIMS, TOKEN_EXPIRED,
 * TOKEN_NOT_YET_VALID, TOKEN_WRONG_TENANT, TOKEN_WRONG_ROOM. A wrong secret and a header or payload
 * altered after signing are both TOKEN_SIGNATURE: without the key they cannot be told apart.
 * Expired: now_s >= exp + AH_TOKEN_SKEW_S; not yet valid: now_s + AH_TOKEN_SKEW_S < nbf. */
ah_error ah_token_verify(const char *token, const char *const *secrets, guint n_secrets, gint64 now_s,
	const char *tenant, const char *room, ah_token_claims *out);

/* Mint a token (tests, the docs' examples and scripts): HS256 with `secret` (a signing key). nbf 0: none.
 * Returns a newly allocated string (g_free), NULL on failure. */
char *ah_token_mint(const char *secret, const char *tenant, const char *room, ah_token_role role,
	const char *sub, gint64 exp, gint64 nbf);

const char *ah_token_role_name(ah_token_role role);

/* A new signing key: AH_SIGNING_KEY_LEN lower-case hex characters from the kernel's CSPRNG
 * (getrandom). FALSE (and out "") only if the kernel gives no randomness. */
gboolean ah_token_key_generate(char out[AH_SIGNING_KEY_LEN + 1]);
/* Whether `key` has a signing key's form (AH_SIGNING_KEY_LEN lower-case hex characters). */
gboolean ah_token_key_valid(const char *key);

#endif
