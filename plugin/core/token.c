/* allhands: join tokens (include/allhands/token.h).
 *
 * Owns the checks a join token passes before the engine trusts its claims. The cryptography is
 * libjwt's (jwt_decode verifies the HMAC with the key we give it); this file only refuses, before
 * libjwt sees the token, what libjwt 1.x would let through or could not tell apart: tokens over
 * AH_TOKEN_MAX_LEN, anything but three base64url parts, and every algorithm but HS256/384/512
 * spelled exactly so (libjwt 1.x decodes alg "none" tokens whatever key it is given, and reads
 * "alg" without regard to case). It also makes the tenants' signing keys (the kernel's random). Then it reads the claims
 * through libjwt's getters and checks them against `now_s`, the tenant and the room.
 * Pure apart from libjwt: no Janus, no clock, no logging, no global state; any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>
#include <jwt.h>

#include "allhands/token.h"
#include "allhands/validate.h"

static const char *const role_names[] = {
	[AH_ROLE_ATTENDEE] = "attendee",
	[AH_ROLE_PRIORITY] = "priority",
	[AH_ROLE_PRESENTER] = "presenter",
};

const char *ah_token_role_name(ah_token_role role)
{
	return (guint)role < G_N_ELEMENTS(role_names) ? role_names[role] : "attendee";
}

static gboolean role_from_name(const char *name, ah_token_role *role)
{
	guint i;
	for (i = 0; name != NULL && i < G_N_ELEMENTS(role_names); i++) {
		if (strcmp(name, role_names[i]) == 0) {
			*role = (ah_token_role)i;
			return TRUE;
		}
	}
	return FALSE;
}

static gboolean base64url_char(char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '_';
}

/* Decode one base64url part (no padding) and parse it as a JSON object; NULL if it is not one. */
static json_t *decode_part(const char *part, gsize len)
{
	GString *std = g_string_sized_new(len + 4);
	guchar *raw;
	gsize raw_len, i;
	json_t *json;
	for (i = 0; i < len; i++)
		g_string_append_c(std, part[i] == '-' ? '+' : part[i] == '_' ? '/' : part[i]);
	if (len % 4 == 1) {
		g_string_free(std, TRUE);
		return NULL;
	}
	while (std->len % 4 != 0)
		g_string_append_c(std, '=');
	raw = g_base64_decode(std->str, &raw_len);
	g_string_free(std, TRUE);
	json = raw_len > 0 ? json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	g_free(raw);
	if (json != NULL && !json_is_object(json)) {
		json_decref(json);
		json = NULL;
	}
	return json;
}

/* The header's "alg", spelled exactly as RFC 7518 does: libjwt's jwt_str_alg compares without
 * case ("hs256" would pass), so the three accepted names are matched here byte for byte. */
static jwt_alg_t alg_of(const char *name)
{
	static const struct { const char *name; jwt_alg_t alg; } accepted[] = {
		{ "HS256", JWT_ALG_HS256 }, { "HS384", JWT_ALG_HS384 }, { "HS512", JWT_ALG_HS512 },
	};
	for (guint i = 0; name != NULL && i < G_N_ELEMENTS(accepted); i++)
		if (strcmp(name, accepted[i].name) == 0)
			return accepted[i].alg;
	return JWT_ALG_INVAL;
}

/* Size, shape and algorithm, before any key is tried. *alg: the header's algorithm. */
static ah_error check_shape(const char *token, jwt_alg_t *alg)
{
	const char *dot1, *dot2, *p;
	json_t *header, *payload;
	gsize len = strnlen(token, AH_TOKEN_MAX_LEN + 1);
	if (len > AH_TOKEN_MAX_LEN)
		return AH_ERR_TOKEN_TOO_LARGE;
	for (p = token; *p != '\0'; p++) {
		if (!base64url_char(*p) && *p != '.')
			return AH_ERR_TOKEN_MALFORMED;
	}
	dot1 = strchr(token, '.');
	dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL || dot1 == token || dot2 == dot1 + 1)
		return AH_ERR_TOKEN_MALFORMED;
	header = decode_part(token, (gsize)(dot1 - token));
	payload = decode_part(dot1 + 1, (gsize)(dot2 - dot1 - 1));
	json_decref(payload);
	if (header == NULL || payload == NULL) {
		json_decref(header);
		return AH_ERR_TOKEN_MALFORMED;
	}
	*alg = alg_of(json_string_value(json_object_get(header, "alg")));
	json_decref(header);
	if (*alg == JWT_ALG_INVAL)
		return AH_ERR_TOKEN_ALGORITHM;
	/* An HS* header with no signature: a "none" token relabelled, or a truncated one. */
	return dot2[1] == '\0' ? AH_ERR_TOKEN_SIGNATURE : AH_ERR_OK;
}

/* The first secret whose HMAC verifies; NULL if none does. */
static jwt_t *decode_with_any(const char *token, const char *const *secrets, guint n_secrets)
{
	guint i;
	for (i = 0; i < n_secrets; i++) {
		jwt_t *jwt = NULL;
		size_t key_len = secrets[i] != NULL ? strlen(secrets[i]) : 0;
		if (key_len == 0 || key_len > AH_SECRET_MAX_LEN)
			continue;
		if (jwt_decode(&jwt, token, (const unsigned char *)secrets[i], (int)key_len) == 0 && jwt != NULL)
			return jwt;
		jwt_free(jwt);
	}
	return NULL;
}

/* A string claim copied into out[size]; FALSE if absent, not a string or too long. */
static gboolean string_claim(jwt_t *jwt, const char *name, char *out, gsize size)
{
	const char *value = jwt_get_grant(jwt, name);
	if (value == NULL || strlen(value) >= size)
		return FALSE;
	g_strlcpy(out, value, size);
	return TRUE;
}

/* An integer claim; FALSE if absent or not a JSON integer. (libjwt 1.x's jwt_get_grant_int reads
 * a string or a real as 0 without an error, so the claim is read as JSON and its type checked.) */
static gboolean int_claim(jwt_t *jwt, const char *name, gint64 *out)
{
	char *text = jwt_get_grants_json(jwt, name);
	json_t *value = text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	gboolean ok = json_is_integer(value);
	if (ok)
		*out = json_integer_value(value);
	json_decref(value);
	free(text);
	return ok;
}

/* Whether the payload has a claim `name`, of any type. */
static gboolean has_claim(jwt_t *jwt, const char *name)
{
	char *json = jwt_get_grants_json(jwt, name);
	free(json);
	return json != NULL;
}

static ah_error read_claims(jwt_t *jwt, ah_token_claims *c)
{
	glong sub_len;
	memset(c, 0, sizeof(*c));
	if (!string_claim(jwt, "tenant", c->tenant, sizeof(c->tenant)) || !ah_validate_identifier(c->tenant))
		return AH_ERR_TOKEN_CLAIMS;
	if (!string_claim(jwt, "room", c->room, sizeof(c->room)) || !ah_validate_identifier(c->room))
		return AH_ERR_TOKEN_CLAIMS;
	if (!role_from_name(jwt_get_grant(jwt, "role"), &c->role))
		return AH_ERR_TOKEN_CLAIMS;
	/* The sub is shown in room_info: at most AH_TOKEN_SUB_MAX_LEN characters of valid UTF-8. */
	if (!string_claim(jwt, "sub", c->sub, sizeof(c->sub)) || !g_utf8_validate(c->sub, -1, NULL))
		return AH_ERR_TOKEN_CLAIMS;
	sub_len = g_utf8_strlen(c->sub, -1);
	if (sub_len < 1 || sub_len > AH_TOKEN_SUB_MAX_LEN)
		return AH_ERR_TOKEN_CLAIMS;
	if (!int_claim(jwt, "exp", &c->exp) || c->exp <= 0)
		return AH_ERR_TOKEN_CLAIMS;
	if (has_claim(jwt, "nbf") && (!int_claim(jwt, "nbf", &c->nbf) || c->nbf < 0))
		return AH_ERR_TOKEN_CLAIMS;
	return AH_ERR_OK;
}

ah_error ah_token_verify(const char *token, const char *const *secrets, guint n_secrets, gint64 now_s,
	const char *tenant, const char *room, ah_token_claims *out)
{
	ah_token_claims claims;
	jwt_alg_t alg = JWT_ALG_INVAL;
	jwt_t *jwt;
	ah_error err;
	if (token == NULL)
		return AH_ERR_TOKEN_MALFORMED;
	err = check_shape(token, &alg);
	if (err != AH_ERR_OK)
		return err;
	jwt = decode_with_any(token, secrets, n_secrets);
	if (jwt == NULL)
		return AH_ERR_TOKEN_SIGNATURE;
	/* libjwt verified with the header's algorithm; make sure it is the one we accepted. */
	if (jwt_get_alg(jwt) != alg) {
		jwt_free(jwt);
		return AH_ERR_TOKEN_ALGORITHM;
	}
	err = read_claims(jwt, &claims);
	jwt_free(jwt);
	if (err != AH_ERR_OK)
		return err;
	if (now_s >= claims.exp + AH_TOKEN_SKEW_S)
		return AH_ERR_TOKEN_EXPIRED;
	if (claims.nbf != 0 && now_s + AH_TOKEN_SKEW_S < claims.nbf)
		return AH_ERR_TOKEN_NOT_YET_VALID;
	if (tenant != NULL && strcmp(tenant, claims.tenant) != 0)
		return AH_ERR_TOKEN_WRONG_TENANT;
	if (room != NULL && strcmp(room, claims.room) != 0)
		return AH_ERR_TOKEN_WRONG_ROOM;
	if (out != NULL)
		*out = claims;
	return AH_ERR_OK;
}

char *ah_token_mint(const char *secret, const char *tenant, const char *room, ah_token_role role,
	const char *sub, gint64 exp, gint64 nbf)
{
	jwt_t *jwt = NULL;
	char *encoded = NULL, *copy = NULL;
	if (secret == NULL || *secret == '\0' || tenant == NULL || room == NULL || sub == NULL)
		return NULL;
	if (jwt_new(&jwt) != 0)
		return NULL;
	if (jwt_add_grant(jwt, "tenant", tenant) == 0 && jwt_add_grant(jwt, "room", room) == 0
		&& jwt_add_grant(jwt, "role", ah_token_role_name(role)) == 0 && jwt_add_grant(jwt, "sub", sub) == 0
		&& jwt_add_grant_int(jwt, "exp", (long)exp) == 0 && (nbf == 0 || jwt_add_grant_int(jwt, "nbf", (long)nbf) == 0)
		&& jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) == 0)
		encoded = jwt_encode_str(jwt);
	jwt_free(jwt);
	if (encoded != NULL) {
		copy = g_strdup(encoded);
		free(encoded);
	}
	return copy;
}

gboolean ah_token_key_generate(char out[AH_SIGNING_KEY_LEN + 1])
{
	guchar raw[AH_SIGNING_KEY_LEN / 2];
	gsize got = 0;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n <= 0) {
			out[0] = '\0';
			return FALSE;
		}
		got += (gsize)n;
	}
	for (gsize i = 0; i < sizeof(raw); i++)
		g_snprintf(out + 2 * i, 3, "%02x", raw[i]);
	memset(raw, 0, sizeof(raw));
	return TRUE;
}

gboolean ah_token_key_valid(const char *key)
{
	gsize i;
	for (i = 0; key != NULL && key[i] != '\0'; i++)
		if (!g_ascii_isdigit(key[i]) && !(key[i] >= 'a' && key[i] <= 'f'))
			return FALSE;
	return key != NULL && i == AH_SIGNING_KEY_LEN;
}
