/* allhands: unit tests of join tokens (include/allhands/token.h, plugin/core/token.c).
 *
 * Tokens are minted with ah_token_mint (libjwt) or assembled here from base64url parts, so that the
 * forged ones (alg "none", algorithm switching, altered payload) are byte-exact.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "allhands/token.h"

#define NOW G_GINT64_CONSTANT(1800000000)
#define SECRET "tenant-secret-1"
#define OLD_SECRET "tenant-secret-0"

static const char *const secrets[] = { SECRET };

static char *mint(ah_token_role role, gint64 exp, gint64 nbf)
{
	char *t = ah_token_mint(SECRET, "acme", "town-hall", role, "user-42", exp, nbf);
	g_assert_nonnull(t);
	return t;
}

static ah_error verify(const char *token, ah_token_claims *out)
{
	return ah_token_verify(token, secrets, 1, NOW, "acme", "town-hall", out);
}

static char *b64url(const char *text)
{
	char *s = g_base64_encode((const guchar *)text, strlen(text));
	char *p;
	for (p = s; *p != '\0'; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	p = strchr(s, '=');
	if (p != NULL)
		*p = '\0';
	return s;
}

/* A token made of the given header and payload JSON and a signature part copied from `signed_by`. */
static char *assemble(const char *header, const char *payload, const char *signature)
{
	char *h = b64url(header), *p = b64url(payload);
	char *t = g_strdup_printf("%s.%s.%s", h, p, signature);
	g_free(h);
	g_free(p);
	return t;
}

static const char *signature_of(const char *token)
{
	return strrchr(token, '.') + 1;
}

#define PAYLOAD "{\"tenant\":\"acme\",\"room\":\"town-hall\",\"role\":\"presenter\",\"sub\":\"u\",\"exp\":1800000600}"

static void test_valid(void)
{
	ah_token_claims c;
	char *t = mint(AH_ROLE_PRESENTER, NOW + 600, NOW - 60);
	g_assert_cmpint(verify(t, &c), ==, AH_ERR_OK);
	g_assert_cmpstr(c.tenant, ==, "acme");
	g_assert_cmpstr(c.room, ==, "town-hall");
	g_assert_cmpstr(c.sub, ==, "user-42");
	g_assert_cmpint(c.role, ==, AH_ROLE_PRESENTER);
	g_assert_cmpint(c.exp, ==, NOW + 600);
	g_assert_cmpint(c.nbf, ==, NOW - 60);
	/* NULL tenant and room skip those checks */
	g_assert_cmpint(ah_token_verify(t, secrets, 1, NOW, NULL, NULL, NULL), ==, AH_ERR_OK);
	g_free(t);
}

static void test_roles(void)
{
	ah_token_role roles[] = { AH_ROLE_ATTENDEE, AH_ROLE_PRIORITY, AH_ROLE_PRESENTER };
	for (guint i = 0; i < G_N_ELEMENTS(roles); i++) {
		ah_token_claims c;
		char *t = mint(roles[i], NOW + 60, 0);
		g_assert_cmpint(verify(t, &c), ==, AH_ERR_OK);
		g_assert_cmpint(c.role, ==, roles[i]);
		g_assert_cmpint(c.nbf, ==, 0);
		g_free(t);
	}
	g_assert_cmpstr(ah_token_role_name(AH_ROLE_PRIORITY), ==, "priority");
}

static void test_expired(void)
{
	char *t = mint(AH_ROLE_ATTENDEE, NOW - AH_TOKEN_SKEW_S, 0);
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_EXPIRED);
	g_free(t);
	/* within the skew: still accepted */
	t = mint(AH_ROLE_ATTENDEE, NOW - AH_TOKEN_SKEW_S + 1, 0);
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_OK);
	g_free(t);
}

static void test_not_yet_valid(void)
{
	char *t = mint(AH_ROLE_ATTENDEE, NOW + 3600, NOW + AH_TOKEN_SKEW_S + 1);
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_NOT_YET_VALID);
	g_free(t);
	t = mint(AH_ROLE_ATTENDEE, NOW + 3600, NOW + AH_TOKEN_SKEW_S);
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_OK);
	g_free(t);
}

static void test_wrong_tenant_room(void)
{
	char *t = mint(AH_ROLE_ATTENDEE, NOW + 60, 0);
	g_assert_cmpint(ah_token_verify(t, secrets, 1, NOW, "globex", "town-hall", NULL), ==, AH_ERR_TOKEN_WRONG_TENANT);
	g_assert_cmpint(ah_token_verify(t, secrets, 1, NOW, "acme", "other", NULL), ==, AH_ERR_TOKEN_WRONG_ROOM);
	g_free(t);
}

static void test_wrong_secret(void)
{
	const char *const others[] = { "not-the-secret", OLD_SECRET };
	char *t = mint(AH_ROLE_ATTENDEE, NOW + 60, 0);
	g_assert_cmpint(ah_token_verify(t, others, 2, NOW, "acme", "town-hall", NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_assert_cmpint(ah_token_verify(t, others, 0, NOW, "acme", "town-hall", NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_free(t);
}

static void test_rotation(void)
{
	const char *const both[] = { SECRET, OLD_SECRET };
	char *old = ah_token_mint(OLD_SECRET, "acme", "town-hall", AH_ROLE_ATTENDEE, "u", NOW + 60, 0);
	char *cur = mint(AH_ROLE_ATTENDEE, NOW + 60, 0);
	g_assert_cmpint(ah_token_verify(old, both, 2, NOW, "acme", "town-hall", NULL), ==, AH_ERR_OK);
	g_assert_cmpint(ah_token_verify(cur, both, 2, NOW, "acme", "town-hall", NULL), ==, AH_ERR_OK);
	g_assert_cmpint(ah_token_verify(old, secrets, 1, NOW, "acme", "town-hall", NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_free(old);
	g_free(cur);
}

static void test_alg_none(void)
{
	char *t = assemble("{\"alg\":\"none\",\"typ\":\"JWT\"}", PAYLOAD, "");
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_ALGORITHM);
	g_free(t);
	t = assemble("{\"alg\":\"NONE\"}", PAYLOAD, "");
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_ALGORITHM);
	g_free(t);
	t = assemble("{\"typ\":\"JWT\"}", PAYLOAD, "");
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_ALGORITHM);
	g_free(t);
	/* a "none" token relabelled HS256 but left unsigned */
	t = assemble("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", PAYLOAD, "");
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_free(t);
}

static void test_alg_other(void)
{
	char *t = assemble("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", PAYLOAD, "c2lnbmF0dXJl");
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_ALGORITHM);
	g_free(t);
	t = assemble("{\"alg\":\"ES256\"}", PAYLOAD, "c2lnbmF0dXJl");
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_ALGORITHM);
	g_free(t);
}

/* A token of `header` and `payload` signed by hand (GLib's HMAC) with SECRET and `type`. */
static char *sign(const char *header, const char *payload, GChecksumType type)
{
	char *unsigned_part = assemble(header, payload, "");
	GHmac *hmac = g_hmac_new(type, (const guchar *)SECRET, strlen(SECRET));
	guint8 digest[64];
	gsize len = sizeof(digest);
	char *sig, *t, *p;
	unsigned_part[strlen(unsigned_part) - 1] = '\0';
	g_hmac_update(hmac, (const guchar *)unsigned_part, -1);
	g_hmac_get_digest(hmac, digest, &len);
	g_hmac_unref(hmac);
	sig = g_base64_encode(digest, len);
	for (p = sig; *p != '\0'; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	if (strchr(sig, '=') != NULL)
		*strchr(sig, '=') = '\0';
	t = g_strdup_printf("%s.%s", unsigned_part, sig);
	g_free(sig);
	g_free(unsigned_part);
	return t;
}

/* HS384 and HS512 are accepted; a signature made with one HS variant under a header naming
 * another fails: libjwt verifies with the header's algorithm, which we pinned to HS*. */
/* Issue 12: "alg" is matched exactly. A correctly signed HS256 token whose header says "hs256"
 * (or "Hs512", " HS256") is refused before any key is tried: api.md names HS256/HS384/HS512. */
static void test_alg_case(void)
{
	const char *const headers[] = { "{\"alg\":\"hs256\"}", "{\"alg\":\"Hs256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"hs512\"}", "{\"alg\":\"HS256 \"}", "{\"alg\":\"NONE\"}" };
	for (guint i = 0; i < G_N_ELEMENTS(headers); i++) {
		char *t = sign(headers[i], PAYLOAD, G_CHECKSUM_SHA256);
		g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_ALGORITHM);
		g_free(t);
	}
	/* the exact spelling of the same token verifies */
	char *ok = sign("{\"alg\":\"HS256\"}", PAYLOAD, G_CHECKSUM_SHA256);
	g_assert_cmpint(verify(ok, NULL), ==, AH_ERR_OK);
	g_free(ok);
}

/* Signing keys: 64 lower-case hex characters, never twice the same. */
static void test_signing_key(void)
{
	char a[AH_SIGNING_KEY_LEN + 1], b[AH_SIGNING_KEY_LEN + 1];
	g_assert_true(ah_token_key_generate(a));
	g_assert_true(ah_token_key_generate(b));
	g_assert_cmpuint(strlen(a), ==, AH_SIGNING_KEY_LEN);
	g_assert_true(ah_token_key_valid(a));
	g_assert_true(ah_token_key_valid(b));
	g_assert_cmpstr(a, !=, b);
	g_assert_false(ah_token_key_valid(NULL));
	g_assert_false(ah_token_key_valid(""));
	g_assert_false(ah_token_key_valid("acme-secret"));
	a[0] = 'A';
	g_assert_false(ah_token_key_valid(a));
	b[AH_SIGNING_KEY_LEN - 1] = '\0';
	g_assert_false(ah_token_key_valid(b));
}

static void test_alg_switch(void)
{
	char *ok512 = sign("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", PAYLOAD, G_CHECKSUM_SHA512);
	char *ok384 = sign("{\"alg\":\"HS384\"}", PAYLOAD, G_CHECKSUM_SHA384);
	char *as256 = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", PAYLOAD, G_CHECKSUM_SHA512);
	char *as512 = sign("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", PAYLOAD, G_CHECKSUM_SHA256);
	char *as384 = sign("{\"alg\":\"HS384\"}", PAYLOAD, G_CHECKSUM_SHA256);
	g_assert_cmpint(verify(ok512, NULL), ==, AH_ERR_OK);
	g_assert_cmpint(verify(ok384, NULL), ==, AH_ERR_OK);
	g_assert_cmpint(verify(as256, NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_assert_cmpint(verify(as512, NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_assert_cmpint(verify(as384, NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_free(ok512);
	g_free(ok384);
	g_free(as256);
	g_free(as512);
	g_free(as384);
}

static void test_altered_payload(void)
{
	char *t = mint(AH_ROLE_ATTENDEE, NOW + 60, 0);
	char *forged = assemble("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", PAYLOAD, signature_of(t));
	/* a payload with role presenter under an attendee token's signature */
	g_assert_cmpint(verify(forged, NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_free(forged);
	/* one character of the signature changed */
	forged = g_strdup(t);
	forged[strlen(forged) - 2] = forged[strlen(forged) - 2] == 'A' ? 'B' : 'A';
	g_assert_cmpint(verify(forged, NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_free(forged);
	g_free(t);
}

static void test_truncated(void)
{
	char *t = mint(AH_ROLE_ATTENDEE, NOW + 60, 0);
	char *dot2 = strrchr(t, '.');
	char *cut;
	/* signature shortened */
	cut = g_strndup(t, strlen(t) - 5);
	g_assert_cmpint(verify(cut, NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_free(cut);
	/* signature dropped, dot kept */
	cut = g_strndup(t, (gsize)(dot2 - t) + 1);
	g_assert_cmpint(verify(cut, NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_free(cut);
	/* two parts only */
	cut = g_strndup(t, (gsize)(dot2 - t));
	g_assert_cmpint(verify(cut, NULL), ==, AH_ERR_TOKEN_MALFORMED);
	g_free(cut);
	/* cut in the middle of the payload */
	cut = g_strndup(t, (gsize)(strchr(t, '.') - t) + 10);
	g_assert_cmpint(verify(cut, NULL), ==, AH_ERR_TOKEN_MALFORMED);
	g_free(cut);
	g_free(t);
}

static void test_malformed(void)
{
	const char *bad[] = { "", ".", "..", "a.b.c", "abc", "a.b.c.d", "eyJhbGciOiJIUzI1NiJ9..sig",
		".eyJ0ZW5hbnQiOiJ4In0.sig", "e30.e30.sig with space", "e30.e30.sig=", "W10.e30.c2ln" };
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_cmpint(verify(bad[i], NULL), ==, AH_ERR_TOKEN_MALFORMED);
	g_assert_cmpint(verify(NULL, NULL), ==, AH_ERR_TOKEN_MALFORMED);
}

static void test_oversized(void)
{
	char *t = mint(AH_ROLE_ATTENDEE, NOW + 60, 0);
	GString *big = g_string_new(t);
	while (big->len <= AH_TOKEN_MAX_LEN)
		g_string_append_c(big, 'A');
	g_assert_cmpint(verify(big->str, NULL), ==, AH_ERR_TOKEN_TOO_LARGE);
	/* exactly AH_TOKEN_MAX_LEN: not too large, just a bad signature */
	g_string_truncate(big, AH_TOKEN_MAX_LEN);
	g_assert_cmpint(verify(big->str, NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_string_free(big, TRUE);
	g_free(t);
}

/* Signed tokens whose claims are missing or of the wrong type. */
static void test_claims(void)
{
	const char *payloads[] = {
		"{\"room\":\"town-hall\",\"role\":\"attendee\",\"sub\":\"u\",\"exp\":1800000600}",
		"{\"tenant\":\"acme\",\"role\":\"attendee\",\"sub\":\"u\",\"exp\":1800000600}",
		"{\"tenant\":\"acme\",\"room\":\"town-hall\",\"sub\":\"u\",\"exp\":1800000600}",
		"{\"tenant\":\"acme\",\"room\":\"town-hall\",\"role\":\"admin\",\"sub\":\"u\",\"exp\":1800000600}",
		"{\"tenant\":\"acme\",\"room\":\"town-hall\",\"role\":\"attendee\",\"exp\":1800000600}",
		"{\"tenant\":\"acme\",\"room\":\"town-hall\",\"role\":\"attendee\",\"sub\":\"\",\"exp\":1800000600}",
		"{\"tenant\":\"acme\",\"room\":\"town-hall\",\"role\":\"attendee\",\"sub\":\"u\"}",
		"{\"tenant\":\"acme\",\"room\":\"town-hall\",\"role\":\"attendee\",\"sub\":\"u\",\"exp\":\"soon\"}",
		"{\"tenant\":\"acme\",\"room\":\"town-hall\",\"role\":\"attendee\",\"sub\":\"u\",\"exp\":1.8e9}",
		"{\"tenant\":\"acme\",\"room\":\"town-hall\",\"role\":\"attendee\",\"sub\":\"u\",\"exp\":1800000600,\"nbf\":\"x\"}",
		"{\"tenant\":\"ac me\",\"room\":\"town-hall\",\"role\":\"attendee\",\"sub\":\"u\",\"exp\":1800000600}",
		"{\"tenant\":\"acme\",\"room\":7,\"role\":\"attendee\",\"sub\":\"u\",\"exp\":1800000600}",
	};
	for (guint i = 0; i < G_N_ELEMENTS(payloads); i++) {
		char *t = sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payloads[i], G_CHECKSUM_SHA256);
		g_test_message("payload %u: %s", i, payloads[i]);
		g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_CLAIMS);
		g_free(t);
	}
}

static void test_sub_length(void)
{
	char sub[AH_TOKEN_SUB_MAX_LEN + 2];
	char *t;
	memset(sub, 'x', sizeof(sub) - 1);
	sub[sizeof(sub) - 1] = '\0';
	t = ah_token_mint(SECRET, "acme", "town-hall", AH_ROLE_ATTENDEE, sub, NOW + 60, 0);
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_CLAIMS);
	g_free(t);
	sub[AH_TOKEN_SUB_MAX_LEN] = '\0';
	t = ah_token_mint(SECRET, "acme", "town-hall", AH_ROLE_ATTENDEE, sub, NOW + 60, 0);
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_OK);
	g_free(t);
}

/* The order of the checks: a bad signature hides everything in the payload. */
static void test_order(void)
{
	const char *const wrong[] = { "wrong" };
	char *t = ah_token_mint(SECRET, "globex", "other", AH_ROLE_ATTENDEE, "u", NOW - 3600, 0);
	g_assert_cmpint(ah_token_verify(t, wrong, 1, NOW, "acme", "town-hall", NULL), ==, AH_ERR_TOKEN_SIGNATURE);
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_EXPIRED);
	g_free(t);
	t = ah_token_mint(SECRET, "globex", "other", AH_ROLE_ATTENDEE, "u", NOW + 60, 0);
	g_assert_cmpint(verify(t, NULL), ==, AH_ERR_TOKEN_WRONG_TENANT);
	g_free(t);
}

static void test_mint_refuses(void)
{
	g_assert_null(ah_token_mint("", "acme", "r", AH_ROLE_ATTENDEE, "u", NOW, 0));
	g_assert_null(ah_token_mint(NULL, "acme", "r", AH_ROLE_ATTENDEE, "u", NOW, 0));
	g_assert_null(ah_token_mint("s", NULL, "r", AH_ROLE_ATTENDEE, "u", NOW, 0));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/token/valid", test_valid);
	g_test_add_func("/token/roles", test_roles);
	g_test_add_func("/token/expired", test_expired);
	g_test_add_func("/token/not-yet-valid", test_not_yet_valid);
	g_test_add_func("/token/wrong-tenant-room", test_wrong_tenant_room);
	g_test_add_func("/token/wrong-secret", test_wrong_secret);
	g_test_add_func("/token/rotation", test_rotation);
	g_test_add_func("/token/alg-none", test_alg_none);
	g_test_add_func("/token/alg-other", test_alg_other);
	g_test_add_func("/token/alg-switch", test_alg_switch);
	g_test_add_func("/token/alg-case", test_alg_case);
	g_test_add_func("/token/signing-key", test_signing_key);
	g_test_add_func("/token/altered-payload", test_altered_payload);
	g_test_add_func("/token/truncated", test_truncated);
	g_test_add_func("/token/malformed", test_malformed);
	g_test_add_func("/token/oversized", test_oversized);
	g_test_add_func("/token/claims", test_claims);
	g_test_add_func("/token/sub-length", test_sub_length);
	g_test_add_func("/token/order", test_order);
	g_test_add_func("/token/mint-refuses", test_mint_refuses);
	return g_test_run();
}
