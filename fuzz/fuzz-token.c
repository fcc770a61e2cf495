/* allhands: libFuzzer target for join-token verification (docs/fuzzing.md): bytes -> ah_token_verify
 * with two fixed secrets (a tenant's current and previous one) at a fixed time, once for tenant
 * "acme" room "allhands" and once with those checks skipped. A verified token's claims must be
 * terminated strings within their bounds, and the two calls must agree up to the tenant and room.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "allhands/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const secrets[] = { "acme-secret", "acme-old-secret" };
#define NOW_S G_GINT64_CONSTANT(1793610000) /* 2026-11-02 09:00 UTC */

static void check_claims(const ah_token_claims *c)
{
	if (memchr(c->tenant, 0, sizeof c->tenant) == NULL || memchr(c->room, 0, sizeof c->room) == NULL ||
		memchr(c->sub, 0, sizeof c->sub) == NULL)
		abort();
	if (c->role != AH_ROLE_ATTENDEE && c->role != AH_ROLE_PRIORITY && c->role != AH_ROLE_PRESENTER)
		abort();
	if (c->exp + AH_TOKEN_SKEW_S < NOW_S || ah_token_role_name(c->role) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token = g_strndup((const char *)data, size);
	ah_token_claims scoped, any;
	ah_error e1, e2;
	memset(&scoped, 0, sizeof scoped);
	memset(&any, 0, sizeof any);
	e1 = ah_token_verify(token, secrets, G_N_ELEMENTS(secrets), NOW_S, "acme", "allhands", &scoped);
	e2 = ah_token_verify(token, secrets, G_N_ELEMENTS(secrets), NOW_S, NULL, NULL, &any);
	if (e1 == AH_ERR_OK) {
		if (e2 != AH_ERR_OK || strcmp(scoped.tenant, "acme") != 0 || strcmp(scoped.room, "allhands") != 0)
			abort();
		check_claims(&scoped);
	}
	if (e2 == AH_ERR_OK) {
		if (e1 != AH_ERR_OK && e1 != AH_ERR_TOKEN_WRONG_TENANT && e1 != AH_ERR_TOKEN_WRONG_ROOM)
			abort();
		check_claims(&any);
	}
	g_free(token);
	return 0;
}
