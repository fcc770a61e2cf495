/* allhands: a node-to-node link's keys, their text form and the derivation of the two SRTP master keys
 * (include/allhands/link.h; docs/cluster-media.md, "The node-to-node link").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <glib.h>

#include "allhands/link.h"

#define KEY_PREFIX "ahlink1:"

static const struct {
	ah_link_suite suite;
	const char *name;
	gsize key_len; /* master key + master salt */
} suites[] = {
	{ AH_LINK_SUITE_GCM128, "gcm128", 16 + 12 },
	{ AH_LINK_SUITE_CM128_SHA1_80, "cm128-sha1-80", 16 + 14 },
};

GQuark ah_link_error_quark(void)
{
	return g_quark_from_static_string("ah-link-error");
}

const char *ah_link_suite_name(ah_link_suite suite)
{
	for (guint i = 0; i < G_N_ELEMENTS(suites); i++)
		if (suites[i].suite == suite)
			return suites[i].name;
	return NULL;
}

void ah_link_wipe(void *p, gsize len)
{
	/* explicit_bzero: a memset the compiler may not drop as a dead store. */
	explicit_bzero(p, len);
}

gboolean ah_link_key_generate(guint32 epoch, ah_link_suite suite, ah_link_key *key, GError **error)
{
	if (epoch == 0 || ah_link_suite_name(suite) == NULL) {
		g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID, "link key: epoch must be >= 1 and the suite known");
		return FALSE;
	}
	guint8 secret[AH_LINK_SECRET_LEN];
	gsize got = 0;
	while (got < sizeof(secret)) {
		/* 32 bytes from the kernel's CSPRNG: one call, unless a signal interrupts it. */
		ssize_t n = getrandom(secret + got, sizeof(secret) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			ah_link_wipe(secret, sizeof(secret));
			g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_SYSTEM, "link key: getrandom failed: %s", g_strerror(e));
			return FALSE;
		}
		got += (gsize)n;
	}
	key->epoch = epoch;
	key->suite = suite;
	memcpy(key->secret, secret, sizeof(secret));
	ah_link_wipe(secret, sizeof(secret));
	return TRUE;
}

char *ah_link_key_to_text(const ah_link_key *key)
{
	static const char hex[] = "0123456789abcdef";
	char digits[AH_LINK_SECRET_LEN * 2 + 1];
	for (guint i = 0; i < AH_LINK_SECRET_LEN; i++) {
		digits[2 * i] = hex[key->secret[i] >> 4];
		digits[2 * i + 1] = hex[key->secret[i] & 15];
	}
	digits[sizeof(digits) - 1] = '\0';
	const char *suite = ah_link_suite_name(key->suite);
	char *text = g_strdup_printf(KEY_PREFIX "%s:%" G_GUINT32_FORMAT ":%s", suite != NULL ? suite : "?", key->epoch,
		digits);
	ah_link_wipe(digits, sizeof(digits));
	return text;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase refused too: one spelling per key */
}

static gboolean refuse(GError **error, const char *why)
{
	g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID, "link key: %s", why);
	return FALSE;
}

gboolean ah_link_key_from_text(const char *text, ah_link_key *key, GError **error)
{
	if (text == NULL)
		return refuse(error, "missing");
	if (strncmp(text, KEY_PREFIX, strlen(KEY_PREFIX)) != 0)
		return refuse(error, "not of the form ahlink1:<suite>:<epoch>:<hex>");
	const char *p = text + strlen(KEY_PREFIX);
	ah_link_key parsed = { 0 };
	guint i;
	for (i = 0; i < G_N_ELEMENTS(suites); i++) {
		gsize n = strlen(suites[i].name);
		if (strncmp(p, suites[i].name, n) == 0 && p[n] == ':') {
			parsed.suite = suites[i].suite;
			p += n + 1;
			break;
		}
	}
	if (i == G_N_ELEMENTS(suites))
		return refuse(error, "unknown suite (gcm128 or cm128-sha1-80)");
	/* The epoch: decimal, 1 .. 2^32-1, no sign, no leading zero, at most 10 digits. */
	guint64 epoch = 0;
	guint digits = 0;
	while (p[digits] >= '0' && p[digits] <= '9') {
		if (digits == 10)
			return refuse(error, "epoch too large");
		epoch = epoch * 10 + (guint64)(p[digits] - '0');
		digits++;
	}
	if (digits == 0 || p[digits] != ':')
		return refuse(error, "epoch must be decimal digits followed by ':'");
	if (p[0] == '0')
		return refuse(error, "epoch must be >= 1, without leading zeros");
	if (epoch > G_MAXUINT32)
		return refuse(error, "epoch too large");
	parsed.epoch = (guint32)epoch;
	p += digits + 1;
	for (i = 0; i < AH_LINK_SECRET_LEN; i++) {
		if (p[2 * i] == '\0' || p[2 * i + 1] == '\0') {
			ah_link_wipe(&parsed, sizeof(parsed));
			return refuse(error, "secret must be 64 hex digits");
		}
		int hi = hex_value(p[2 * i]), lo = hex_value(p[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			ah_link_wipe(&parsed, sizeof(parsed));
			return refuse(error, "secret must be lowercase hex digits");
		}
		parsed.secret[i] = (guint8)(hi << 4 | lo);
	}
	if (p[2 * AH_LINK_SECRET_LEN] != '\0') {
		ah_link_wipe(&parsed, sizeof(parsed));
		return refuse(error, "trailing bytes after the secret's 64 hex digits");
	}
	*key = parsed;
	ah_link_wipe(&parsed, sizeof(parsed));
	return TRUE;
}

gsize ah_link_key_derive(const ah_link_key *key, gboolean forward, guint8 out[32])
{
	static const char fwd[] = "allhands link v1 forward", back[] = "allhands link v1 back";
	gsize key_len = 0;
	for (guint i = 0; i < G_N_ELEMENTS(suites); i++)
		if (suites[i].suite == key->suite)
			key_len = suites[i].key_len;
	if (key_len == 0) /* an unknown suite: the caller reports it */
		return 0;
	GHmac *hmac = g_hmac_new(G_CHECKSUM_SHA256, key->secret, AH_LINK_SECRET_LEN);
	/* The suite is in the input too: the same secret never gives one master key to two suites. */
	const char *suite = ah_link_suite_name(key->suite);
	g_hmac_update(hmac, (const guchar *)(forward ? fwd : back), -1);
	g_hmac_update(hmac, (const guchar *)"/", 1);
	g_hmac_update(hmac, (const guchar *)suite, -1);
	gsize len = 32;
	g_hmac_get_digest(hmac, out, &len);
	g_hmac_unref(hmac);
	return key_len;
}
