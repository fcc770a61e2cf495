/* allhands: one-time tickets of cluster redirects (include/allhands/ticket.h).
 *
 * Owns the ticket's wire form, its HMAC-SHA256 (GLib's GHmac; the comparison in constant time) and
 * the replay set. The payload is a small JSON object with one-letter keys:
 * {"v":1,"t":tenant,"r":room,"n":node,"p":ptype,"c":priority,"s":sub,"e":exp,"x":nonce}.
 * The replay set is a hash of nonces plus a FIFO of them with the time each may be forgotten: every
 * entry gets the same lifetime from the moment it was taken (a ticket accepted at `now` cannot
 * verify after now + TTL + 2 x SKEW), so the FIFO is in forgetting order and pruning its head is
 * amortised O(1) per join.
 *
 * Pure: no Janus, no clock, no logging; any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>
#include <sys/random.h>

#include <jansson.h>

#include "allhands/ticket.h"
#include "allhands/validate.h"

#define MAC_CONTEXT "ah-ticket-v1."
#define MAC_LEN 32

static const char *const ptype_names[] = {
	[AH_TICKET_ATTENDEE] = "attendee",
	[AH_TICKET_PRESENTER] = "presenter",
	[AH_TICKET_BACKSTAGE] = "backstage",
};

const char *ah_ticket_ptype_name(ah_ticket_ptype ptype)
{
	return (guint)ptype < G_N_ELEMENTS(ptype_names) ? ptype_names[ptype] : "attendee";
}

gboolean ah_ticket_ptype_parse(const char *name, ah_ticket_ptype *ptype)
{
	for (guint i = 0; name != NULL && i < G_N_ELEMENTS(ptype_names); i++) {
		if (strcmp(name, ptype_names[i]) == 0) {
			*ptype = (ah_ticket_ptype)i;
			return TRUE;
		}
	}
	return FALSE;
}

static gboolean hex_string(const char *s, gsize len)
{
	if (s == NULL || strlen(s) != len)
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isxdigit(s[i]) || g_ascii_isupper(s[i]))
			return FALSE;
	return TRUE;
}

gboolean ah_ticket_nonce(char out[AH_TICKET_NONCE_LEN + 1])
{
	guchar raw[AH_TICKET_NONCE_LEN / 2];
	gsize got = 0;
	out[0] = '\0';
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n <= 0)
			return FALSE;
		got += (gsize)n;
	}
	for (gsize i = 0; i < sizeof(raw); i++)
		g_snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return TRUE;
}

/* base64url without padding (g_free). */
static char *b64url(const guchar *data, gsize len)
{
	char *s = g_base64_encode(data, len);
	gsize n = 0;
	for (char *c = s; *c != '\0'; c++) {
		if (*c == '=')
			break;
		s[n++] = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	}
	s[n] = '\0';
	return s;
}

/* base64url (no padding) decoded; NULL when not base64url, or not its one canonical form (the last
 * character's unused bits set: two spellings of one ticket would be one too many). */
static guchar *b64url_decode(const char *s, gsize len, gsize *out_len)
{
	GString *std;
	guchar *raw;
	char *again;
	if (len == 0 || len % 4 == 1)
		return NULL;
	std = g_string_sized_new(len + 4);
	for (gsize i = 0; i < len; i++) {
		char c = s[i];
		if (!g_ascii_isalnum(c) && c != '-' && c != '_') {
			g_string_free(std, TRUE);
			return NULL;
		}
		g_string_append_c(std, c == '-' ? '+' : c == '_' ? '/' : c);
	}
	while (std->len % 4 != 0)
		g_string_append_c(std, '=');
	raw = g_base64_decode(std->str, out_len);
	g_string_free(std, TRUE);
	again = b64url(raw, *out_len);
	if (strlen(again) != len || memcmp(again, s, len) != 0)
		g_clear_pointer(&raw, g_free);
	g_free(again);
	return raw;
}

/* A rejoin ticket's MAC context: a redirect ticket never verifies as one, nor the other way round. */
#define REJOIN_CONTEXT "ah-rejoin-v1."

static void mac_of(const char *context, const char *secret, const char *payload, gsize payload_len, guint8 out[MAC_LEN])
{
	GHmac *hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret, strlen(secret));
	gsize len = MAC_LEN;
	g_hmac_update(hmac, (const guchar *)context, strlen(context));
	g_hmac_update(hmac, (const guchar *)payload, payload_len);
	g_hmac_get_digest(hmac, out, &len);
	g_hmac_unref(hmac);
}

static char *sign_in(const char *context, const ah_ticket *t, const char *secret)
{
	json_t *payload;
	char *text, *encoded, *mac_text, *ticket;
	guint8 mac[MAC_LEN];
	if (secret == NULL || *secret == '\0' || !ah_validate_identifier(t->tenant) || !ah_validate_identifier(t->room) ||
			!ah_validate_identifier(t->node) || (guint)t->ptype >= G_N_ELEMENTS(ptype_names) ||
			strlen(t->sub) > AH_TICKET_SUB_MAX_LEN || !g_utf8_validate(t->sub, -1, NULL) ||
			!hex_string(t->nonce, AH_TICKET_NONCE_LEN) || t->exp <= 0)
		return NULL;
	payload = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b, s:s, s:I, s:s}", "v", 1, "t", t->tenant, "r", t->room,
		"n", t->node, "p", ptype_names[t->ptype], "c", t->priority, "s", t->sub, "e", (json_int_t)t->exp,
		"x", t->nonce);
	text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(payload);
	encoded = b64url((const guchar *)text, strlen(text));
	free(text);
	mac_of(context, secret, encoded, strlen(encoded), mac);
	mac_text = b64url(mac, MAC_LEN);
	ticket = g_strconcat(encoded, ".", mac_text, NULL);
	g_free(encoded);
	g_free(mac_text);
	return ticket;
}

/* Copy a string field into a fixed buffer; FALSE when absent, not a string or too long. */
static gboolean field(const json_t *obj, const char *key, char *dst, gsize size)
{
	const char *v = json_string_value(json_object_get(obj, key));
	if (v == NULL || strlen(v) >= size)
		return FALSE;
	memcpy(dst, v, strlen(v) + 1);
	return TRUE;
}

static gboolean read_payload(const json_t *p, ah_ticket *out)
{
	const json_t *exp = json_object_get(p, "e"), *priority = json_object_get(p, "c");
	memset(out, 0, sizeof(*out));
	if (!json_is_object(p) || json_integer_value(json_object_get(p, "v")) != 1 || !json_is_integer(exp) ||
			!json_is_boolean(priority))
		return FALSE;
	if (!field(p, "t", out->tenant, sizeof(out->tenant)) || !field(p, "r", out->room, sizeof(out->room)) ||
			!field(p, "n", out->node, sizeof(out->node)) || !field(p, "s", out->sub, sizeof(out->sub)) ||
			!field(p, "x", out->nonce, sizeof(out->nonce)))
		return FALSE;
	out->exp = json_integer_value(exp);
	out->priority = json_is_true(priority);
	return ah_ticket_ptype_parse(json_string_value(json_object_get(p, "p")), &out->ptype) &&
		ah_validate_identifier(out->tenant) && ah_validate_identifier(out->room) &&
		ah_validate_identifier(out->node) && hex_string(out->nonce, AH_TICKET_NONCE_LEN) && out->exp > 0;
}

char *ah_ticket_sign(const ah_ticket *t, const char *secret)
{
	return sign_in(MAC_CONTEXT, t, secret);
}

char *ah_ticket_sign_rejoin(const ah_ticket *t, const char *secret)
{
	return sign_in(REJOIN_CONTEXT, t, secret);
}

static ah_error verify_in(const char *context, gint64 ttl_s, const char *ticket, const char *secret, gint64 now_s,
	ah_ticket *out)
{
	gsize len, mac_len = 0, raw_len = 0;
	const char *dot;
	guchar *mac_given, *raw;
	guint8 mac[MAC_LEN], diff = 0;
	json_t *payload;
	gboolean ok;
	memset(out, 0, sizeof(*out));
	if (ticket == NULL || secret == NULL || *secret == '\0')
		return AH_ERR_TICKET_INVALID;
	len = strnlen(ticket, AH_TICKET_MAX_LEN + 1);
	if (len > AH_TICKET_MAX_LEN || (dot = strchr(ticket, '.')) == NULL || strchr(dot + 1, '.') != NULL)
		return AH_ERR_TICKET_INVALID;
	mac_given = b64url_decode(dot + 1, strlen(dot + 1), &mac_len);
	if (mac_given == NULL || mac_len != MAC_LEN) {
		g_free(mac_given);
		return AH_ERR_TICKET_INVALID;
	}
	mac_of(context, secret, ticket, (gsize)(dot - ticket), mac);
	for (gsize i = 0; i < MAC_LEN; i++)
		diff |= mac[i] ^ mac_given[i];
	g_free(mac_given);
	if (diff != 0)
		return AH_ERR_TICKET_INVALID;
	raw = b64url_decode(ticket, (gsize)(dot - ticket), &raw_len);
	payload = raw != NULL ? json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	g_free(raw);
	ok = payload != NULL && read_payload(payload, out);
	json_decref(payload);
	/* Signed by a node of the cluster, but further ahead than a ticket issued now: refused, so that
	 * the replay set's lifetime (ah_ticket_seen_take) covers every ticket it lets through. */
	if (!ok || out->exp > now_s + ttl_s + AH_TICKET_SKEW_S)
		return AH_ERR_TICKET_INVALID;
	if (now_s >= out->exp + AH_TICKET_SKEW_S)
		return AH_ERR_TICKET_EXPIRED;
	return AH_ERR_OK;
}

ah_error ah_ticket_verify(const char *ticket, const char *secret, gint64 now_s, ah_ticket *out)
{
	return verify_in(MAC_CONTEXT, AH_TICKET_TTL_S, ticket, secret, now_s, out);
}

ah_error ah_ticket_verify_rejoin(const char *ticket, const char *secret, gint64 now_s, ah_ticket *out)
{
	return verify_in(REJOIN_CONTEXT, AH_TICKET_REJOIN_TTL_S, ticket, secret, now_s, out);
}

/* --- the replay set */

typedef struct {
	char nonce[AH_TICKET_NONCE_LEN + 1];
	gint64 forget_at;
} seen_entry;

struct ah_ticket_seen {
	guint max;
	GHashTable *nonces;     /* nonce (into the entry) -> seen_entry* */
	GQueue order;           /* seen_entry*, by forget_at */
	gint64 last;            /* the latest now_s seen: forget_at never goes down */
};

ah_ticket_seen *ah_ticket_seen_new(guint max)
{
	ah_ticket_seen *seen = g_new0(ah_ticket_seen, 1);
	seen->max = max > 0 ? max : AH_TICKET_SEEN_DEFAULT;
	seen->nonces = g_hash_table_new(g_str_hash, g_str_equal);
	g_queue_init(&seen->order);
	return seen;
}

void ah_ticket_seen_free(ah_ticket_seen *seen)
{
	if (seen == NULL)
		return;
	g_hash_table_destroy(seen->nonces);
	g_queue_clear_full(&seen->order, g_free);
	g_free(seen);
}

ah_error ah_ticket_seen_take(ah_ticket_seen *seen, const char *nonce, gint64 now_s)
{
	seen_entry *e;
	seen->last = MAX(seen->last, now_s);
	while ((e = g_queue_peek_head(&seen->order)) != NULL && e->forget_at <= seen->last) {
		/* Unless ah_ticket_seen_forget let it go, and it was taken again since (a newer entry). */
		if (g_hash_table_lookup(seen->nonces, e->nonce) == e)
			g_hash_table_remove(seen->nonces, e->nonce);
		g_free(g_queue_pop_head(&seen->order));
	}
	if (nonce == NULL || strlen(nonce) != AH_TICKET_NONCE_LEN)
		return AH_ERR_TICKET_INVALID;
	if (g_hash_table_contains(seen->nonces, nonce))
		return AH_ERR_TICKET_USED;
	if (seen->order.length >= seen->max)
		return AH_ERR_TICKETS_FULL;
	e = g_new(seen_entry, 1);
	memcpy(e->nonce, nonce, sizeof(e->nonce));
	e->forget_at = seen->last + AH_TICKET_TTL_S + 2 * AH_TICKET_SKEW_S;
	g_hash_table_insert(seen->nonces, e->nonce, e);
	g_queue_push_tail(&seen->order, e);
	return AH_ERR_OK;
}

void ah_ticket_seen_forget(ah_ticket_seen *seen, const char *nonce)
{
	/* The entry stays in the FIFO (freed when its time comes); only the lookup forgets it. */
	if (nonce != NULL)
		g_hash_table_remove(seen->nonces, nonce);
}

guint ah_ticket_seen_size(const ah_ticket_seen *seen)
{
	return g_hash_table_size(seen->nonces);
}
