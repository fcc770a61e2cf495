/* allhands: redirect tickets (plugin/core/ticket.c): signing and verifying, expiry and the skew,
 * every kind of tampering, and the replay set's one-time rule, lifetime and bound.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "allhands/ticket.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define NOW G_GINT64_CONSTANT(1800000000)

static ah_ticket sample(void)
{
	ah_ticket t = { 0 };
	g_strlcpy(t.tenant, "acme", sizeof(t.tenant));
	g_strlcpy(t.room, "allhands", sizeof(t.room));
	g_strlcpy(t.node, "node-a", sizeof(t.node));
	g_strlcpy(t.sub, "user-42", sizeof(t.sub));
	t.ptype = AH_TICKET_ATTENDEE;
	t.priority = TRUE;
	t.exp = NOW + AH_TICKET_TTL_S;
	g_assert_true(ah_ticket_nonce(t.nonce));
	return t;
}

static void test_round_trip(void)
{
	ah_ticket t = sample(), out;
	char *s = ah_ticket_sign(&t, SECRET);
	g_assert_nonnull(s);
	g_assert_cmpuint(strlen(s), <=, AH_TICKET_MAX_LEN);
	/* URL-safe: base64url and one dot. */
	for (const char *c = s; *c != '\0'; c++)
		g_assert_true(g_ascii_isalnum(*c) || *c == '-' || *c == '_' || *c == '.');
	g_assert_cmpint(ah_ticket_verify(s, SECRET, NOW, &out), ==, AH_ERR_OK);
	g_assert_cmpstr(out.tenant, ==, "acme");
	g_assert_cmpstr(out.room, ==, "allhands");
	g_assert_cmpstr(out.node, ==, "node-a");
	g_assert_cmpstr(out.sub, ==, "user-42");
	g_assert_cmpstr(out.nonce, ==, t.nonce);
	g_assert_cmpint(out.ptype, ==, AH_TICKET_ATTENDEE);
	g_assert_true(out.priority);
	g_assert_cmpint(out.exp, ==, NOW + AH_TICKET_TTL_S);
	g_free(s);
	/* Every type, no sub. */
	for (int p = AH_TICKET_ATTENDEE; p <= AH_TICKET_BACKSTAGE; p++) {
		t = sample();
		t.ptype = (ah_ticket_ptype)p;
		t.priority = FALSE;
		t.sub[0] = '\0';
		s = ah_ticket_sign(&t, SECRET);
		g_assert_cmpint(ah_ticket_verify(s, SECRET, NOW, &out), ==, AH_ERR_OK);
		g_assert_cmpint(out.ptype, ==, p);
		g_assert_false(out.priority);
		g_assert_cmpstr(out.sub, ==, "");
		g_free(s);
	}
	/* Two nonces differ (128 random bits). */
	ah_ticket a = sample(), b = sample();
	g_assert_cmpstr(a.nonce, !=, b.nonce);
	g_assert_cmpuint(strlen(a.nonce), ==, AH_TICKET_NONCE_LEN);
}

static void test_sign_refused(void)
{
	ah_ticket t = sample();
	g_assert_null(ah_ticket_sign(&t, ""));
	g_assert_null(ah_ticket_sign(&t, NULL));
	g_strlcpy(t.room, "bad room", sizeof(t.room));
	g_assert_null(ah_ticket_sign(&t, SECRET));
	t = sample();
	g_strlcpy(t.nonce, "XYZ", sizeof(t.nonce));
	g_assert_null(ah_ticket_sign(&t, SECRET));
	t = sample();
	t.ptype = (ah_ticket_ptype)7;
	g_assert_null(ah_ticket_sign(&t, SECRET));
}

static void test_expiry(void)
{
	ah_ticket t = sample(), out;
	char *s = ah_ticket_sign(&t, SECRET);
	/* Valid until exp + skew (clocks of two nodes may differ). */
	g_assert_cmpint(ah_ticket_verify(s, SECRET, t.exp + AH_TICKET_SKEW_S - 1, &out), ==, AH_ERR_OK);
	g_assert_cmpint(ah_ticket_verify(s, SECRET, t.exp + AH_TICKET_SKEW_S, &out), ==, AH_ERR_TICKET_EXPIRED);
	g_assert_cmpint(ah_ticket_verify(s, SECRET, t.exp + 3600, &out), ==, AH_ERR_TICKET_EXPIRED);
	/* An expiry further ahead than a ticket issued now could have: refused (the replay set would
	 * forget it too early). */
	g_assert_cmpint(ah_ticket_verify(s, SECRET, t.exp - AH_TICKET_TTL_S - AH_TICKET_SKEW_S, &out), ==, AH_ERR_OK);
	g_assert_cmpint(ah_ticket_verify(s, SECRET, t.exp - AH_TICKET_TTL_S - AH_TICKET_SKEW_S - 1, &out), ==,
		AH_ERR_TICKET_INVALID);
	g_free(s);
}

static void test_tampered(void)
{
	ah_ticket t = sample(), out;
	char *s = ah_ticket_sign(&t, SECRET), *copy;
	gsize len = strlen(s);
	const char *dot = strchr(s, '.');
	/* Another secret. */
	g_assert_cmpint(ah_ticket_verify(s, "another-secret-another-secret-xx", NOW, &out), ==, AH_ERR_TICKET_INVALID);
	/* Any one character changed, in the payload or the MAC. */
	for (gsize i = 0; i < len; i++) {
		if (s[i] == '.')
			continue;
		copy = g_strdup(s);
		copy[i] = copy[i] == 'A' ? 'B' : 'A';
		g_assert_cmpint(ah_ticket_verify(copy, SECRET, NOW, &out), ==, AH_ERR_TICKET_INVALID);
		g_free(copy);
	}
	/* Only one spelling: the MAC's last character carries 2 unused bits (43 characters for 32 bytes);
	 * setting one gives the same bytes, and is refused all the same. */
	{
		static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		copy = g_strdup(s);
		char *last = copy + len - 1;
		*last = alphabet[(strchr(alphabet, *last) - alphabet) ^ 1];
		g_assert_cmpint(ah_ticket_verify(copy, SECRET, NOW, &out), ==, AH_ERR_TICKET_INVALID);
		g_free(copy);
	}
	/* Another ticket's MAC on this payload. */
	ah_ticket other = sample();
	g_strlcpy(other.room, "standup", sizeof(other.room));
	char *o = ah_ticket_sign(&other, SECRET);
	copy = g_strdup_printf("%.*s%s", (int)(dot - s), s, strchr(o, '.'));
	g_assert_cmpint(ah_ticket_verify(copy, SECRET, NOW, &out), ==, AH_ERR_TICKET_INVALID);
	g_free(copy);
	g_free(o);
	/* Shapes. */
	static const char *const shapes[] = { "", ".", "abc", "abc.", ".abc", "a.b.c", "!!!.???", "eyJ2IjoxfQ.AAAA" };
	for (guint i = 0; i < G_N_ELEMENTS(shapes); i++)
		g_assert_cmpint(ah_ticket_verify(shapes[i], SECRET, NOW, &out), ==, AH_ERR_TICKET_INVALID);
	g_assert_cmpint(ah_ticket_verify(NULL, SECRET, NOW, &out), ==, AH_ERR_TICKET_INVALID);
	char *huge = g_strnfill(AH_TICKET_MAX_LEN + 1, 'A');
	g_assert_cmpint(ah_ticket_verify(huge, SECRET, NOW, &out), ==, AH_ERR_TICKET_INVALID);
	g_free(huge);
	g_free(s);
}

static void test_replay(void)
{
	ah_ticket_seen *seen = ah_ticket_seen_new(0);
	ah_ticket a = sample(), b = sample();
	g_assert_cmpint(ah_ticket_seen_take(seen, a.nonce, NOW), ==, AH_ERR_OK);
	g_assert_cmpint(ah_ticket_seen_take(seen, a.nonce, NOW + 1), ==, AH_ERR_TICKET_USED);
	g_assert_cmpint(ah_ticket_seen_take(seen, b.nonce, NOW + 1), ==, AH_ERR_OK);
	g_assert_cmpuint(ah_ticket_seen_size(seen), ==, 2);
	/* Remembered as long as the ticket could verify: until now + TTL + 2 x skew. */
	g_assert_cmpint(ah_ticket_seen_take(seen, a.nonce, NOW + AH_TICKET_TTL_S + 2 * AH_TICKET_SKEW_S - 1), ==,
		AH_ERR_TICKET_USED);
	/* Then forgotten (it can no longer verify anyway), and the set shrinks. */
	g_assert_cmpint(ah_ticket_seen_take(seen, "0123456789abcdef0123456789abcdef",
		NOW + AH_TICKET_TTL_S + 2 * AH_TICKET_SKEW_S + 1), ==, AH_ERR_OK);
	g_assert_cmpuint(ah_ticket_seen_size(seen), ==, 1);
	/* A refused join gives its ticket back: it may be taken again. */
	g_assert_cmpint(ah_ticket_seen_take(seen, a.nonce, NOW + 200), ==, AH_ERR_OK);
	ah_ticket_seen_forget(seen, a.nonce);
	g_assert_cmpint(ah_ticket_seen_take(seen, a.nonce, NOW + 201), ==, AH_ERR_OK);
	g_assert_cmpint(ah_ticket_seen_take(seen, a.nonce, NOW + 202), ==, AH_ERR_TICKET_USED);
	/* The first entry's pruning does not forget the second taking. */
	g_assert_cmpint(ah_ticket_seen_take(seen, b.nonce, NOW + 201 + AH_TICKET_TTL_S + 2 * AH_TICKET_SKEW_S - 1), ==,
		AH_ERR_OK);
	g_assert_cmpint(ah_ticket_seen_take(seen, a.nonce, NOW + 201 + AH_TICKET_TTL_S + 2 * AH_TICKET_SKEW_S - 1), ==,
		AH_ERR_TICKET_USED);
	g_assert_cmpint(ah_ticket_seen_take(seen, "short", NOW + 300), ==, AH_ERR_TICKET_INVALID);
	ah_ticket_seen_free(seen);
}

/* Bounded: at `max` live tickets the next is refused (tickets_full), nothing is evicted (an evicted
 * ticket could be replayed); room comes back as tickets expire. */
static void test_replay_bound(void)
{
	ah_ticket_seen *seen = ah_ticket_seen_new(1000);
	char nonce[AH_TICKET_NONCE_LEN + 1];
	for (guint i = 0; i < 1000; i++) {
		g_snprintf(nonce, sizeof(nonce), "%032x", i);
		g_assert_cmpint(ah_ticket_seen_take(seen, nonce, NOW + i / 100), ==, AH_ERR_OK);
	}
	g_snprintf(nonce, sizeof(nonce), "%032x", 5000);
	g_assert_cmpint(ah_ticket_seen_take(seen, nonce, NOW + 10), ==, AH_ERR_TICKETS_FULL);
	g_snprintf(nonce, sizeof(nonce), "%032x", 0);
	g_assert_cmpint(ah_ticket_seen_take(seen, nonce, NOW + 10), ==, AH_ERR_TICKET_USED);
	g_assert_cmpuint(ah_ticket_seen_size(seen), ==, 1000);
	/* The first 100 (taken at NOW) are forgotten one lifetime later: 100 places again. */
	g_snprintf(nonce, sizeof(nonce), "%032x", 5000);
	g_assert_cmpint(ah_ticket_seen_take(seen, nonce, NOW + AH_TICKET_TTL_S + 2 * AH_TICKET_SKEW_S), ==, AH_ERR_OK);
	g_assert_cmpuint(ah_ticket_seen_size(seen), ==, 901);
	ah_ticket_seen_free(seen);
}

/* Cost: taking is amortised O(1); the figure is printed, not asserted. */
static void test_replay_cost(void)
{
	const guint n = 200000;
	ah_ticket_seen *seen = ah_ticket_seen_new(n);
	char nonce[AH_TICKET_NONCE_LEN + 1];
	gint64 start = g_get_monotonic_time();
	for (guint i = 0; i < 4 * n; i++) {
		g_snprintf(nonce, sizeof(nonce), "%032x", i);
		/* 1000 joins a second: the set holds about TTL + 2 x skew seconds' worth. */
		g_assert_cmpint(ah_ticket_seen_take(seen, nonce, NOW + i / 1000), ==, AH_ERR_OK);
	}
	gint64 us = g_get_monotonic_time() - start;
	g_test_message("ticket replay set: %u takes in %.1f ms (%.0f ns each), %u remembered at the end", 4 * n,
		us / 1000.0, us * 1000.0 / (4 * n), ah_ticket_seen_size(seen));
	g_assert_cmpuint(ah_ticket_seen_size(seen), <=, (AH_TICKET_TTL_S + 2 * AH_TICKET_SKEW_S + 1) * 1000);
	ah_ticket_seen_free(seen);
	/* Signing and verifying. */
	ah_ticket t = sample(), out;
	start = g_get_monotonic_time();
	for (guint i = 0; i < 20000; i++) {
		char *s = ah_ticket_sign(&t, SECRET);
		g_assert_cmpint(ah_ticket_verify(s, SECRET, NOW, &out), ==, AH_ERR_OK);
		g_free(s);
	}
	us = g_get_monotonic_time() - start;
	g_test_message("ticket sign + verify: %.1f us each", us / 20000.0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ticket/round-trip", test_round_trip);
	g_test_add_func("/ticket/sign-refused", test_sign_refused);
	g_test_add_func("/ticket/expiry", test_expiry);
	g_test_add_func("/ticket/tampered", test_tampered);
	g_test_add_func("/ticket/replay", test_replay);
	g_test_add_func("/ticket/replay-bound", test_replay_bound);
	g_test_add_func("/ticket/replay-cost", test_replay_cost);
	return g_test_run();
}
