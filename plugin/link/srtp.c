/* allhands: one end of a node-to-node link: its SRTP contexts (libsrtp2: the only code of allhands that
 * includes it), the source and SSRCs it accepts, its counters (include/allhands/link.h;
 * docs/cluster-media.md, "The node-to-node link").
 *
 * An end holds one outbound libsrtp context (the newest key; ssrc_any_outbound) under out_lock, and one
 * or two inbound contexts (the newest key first, then the previous during an overlap; ssrc_any_inbound,
 * replay window 1024) under in_lock. A received packet is tried under the newest key, then the
 * previous: libsrtp only makes a stream (and moves its replay window) for a packet that authenticates,
 * so a failed try changes nothing but, with GCM, perhaps the bytes, which are restored from a copy.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>
#include <netinet/in.h>

#include <glib.h>
#include <srtp2/srtp.h>

#include "allhands/link.h"

#define REPLAY_WINDOW 1024

typedef struct {
	guint32 epoch; /* 0: none */
	srtp_t ctx;
} keyed_ctx;

struct ah_link_end {
	ah_link_role role;
	guint32 newest; /* the newest epoch ever added: written with both locks held, read under either */
	GMutex out_lock; /* out, rtp_sent, rtcp_sent, send_failed */
	keyed_ctx out;
	guint64 rtp_sent, rtcp_sent, send_failed;
	GMutex in_lock; /* in, peer, ssrcs and the receiving counters */
	keyed_ctx in[2];
	struct sockaddr_storage peer;
	socklen_t peer_len;
	guint32 *ssrcs;
	guint n_ssrcs;
	guint64 rtp_received, rtcp_received, dropped[AH_LINK_N_VERDICTS];
};

static srtp_err_status_t global_status = srtp_err_status_ok;

static srtp_t make_ctx(const ah_link_key *key, gboolean forward, gboolean outbound, GError **error);

/* libsrtp is initialised once per process. Inside Janus, Janus's DTLS code initialised it first: a second
 * srtp_init only re-runs libsrtp's self-tests, which may report a failure for a cipher we never use
 * (seen with Debian's libsrtp2 2.5 inside Janus 1.1.2: error 2). So a failed srtp_init counts as a
 * failure only if libsrtp then refuses a context of the suite we use. */
static gpointer global_init_once(gpointer data)
{
	ah_link_key probe = { .epoch = 1, .suite = AH_LINK_SUITE_GCM128 };
	srtp_t ctx;
	(void)data;
	global_status = srtp_init();
	if (global_status != srtp_err_status_ok && (ctx = make_ctx(&probe, TRUE, TRUE, NULL)) != NULL) {
		srtp_dealloc(ctx);
		global_status = srtp_err_status_ok;
	}
	return NULL;
}

gboolean ah_link_global_init(GError **error)
{
	static GOnce once = G_ONCE_INIT;
	g_once(&once, global_init_once, NULL);
	if (global_status != srtp_err_status_ok) {
		g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_SRTP, "link: srtp_init failed (libsrtp error %d)", global_status);
		return FALSE;
	}
	return TRUE;
}

/* A libsrtp context for `key`, one direction: outbound protects, inbound unprotects. */
static srtp_t make_ctx(const ah_link_key *key, gboolean forward, gboolean outbound, GError **error)
{
	guint8 master[32];
	gsize len = ah_link_key_derive(key, forward, master);
	if (len == 0) {
		g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID, "link: unknown suite %d", key->suite);
		return NULL;
	}
	srtp_policy_t policy;
	memset(&policy, 0, sizeof(policy));
	if (key->suite == AH_LINK_SUITE_GCM128) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
	}
	policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	policy.key = master;
	policy.window_size = REPLAY_WINDOW;
	/* A sender never protects two packets with one index: a retransmission takes a new sequence
	 * number (RTX), never the same one again (with GCM, two plaintexts under one IV would leak). */
	policy.allow_repeat_tx = 0;
	srtp_t ctx = NULL;
	srtp_err_status_t st = srtp_create(&ctx, &policy);
	ah_link_wipe(master, sizeof(master));
	if (st != srtp_err_status_ok) {
		g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_SRTP, "link: libsrtp refused the %s key of epoch %u (error %d)",
			ah_link_suite_name(key->suite), key->epoch, st);
		return NULL;
	}
	return ctx;
}

/* The origin sends forward and receives back; the edge the reverse. */
static gboolean sends_forward(ah_link_role role)
{
	return role == AH_LINK_ORIGIN;
}

ah_link_end *ah_link_end_new(ah_link_role role, const ah_link_key *key, GError **error)
{
	if (!ah_link_global_init(error))
		return NULL;
	if (key->epoch == 0) {
		g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID, "link: a key's epoch is >= 1");
		return NULL;
	}
	srtp_t out = make_ctx(key, sends_forward(role), TRUE, error);
	if (out == NULL)
		return NULL;
	srtp_t in = make_ctx(key, !sends_forward(role), FALSE, error);
	if (in == NULL) {
		srtp_dealloc(out);
		return NULL;
	}
	ah_link_end *end = g_new0(ah_link_end, 1);
	end->role = role;
	g_mutex_init(&end->out_lock);
	g_mutex_init(&end->in_lock);
	end->newest = key->epoch;
	end->out = (keyed_ctx){ key->epoch, out };
	end->in[0] = (keyed_ctx){ key->epoch, in };
	return end;
}

void ah_link_end_free(ah_link_end *end)
{
	if (end == NULL)
		return;
	if (end->out.ctx != NULL)
		srtp_dealloc(end->out.ctx);
	for (guint i = 0; i < 2; i++)
		if (end->in[i].ctx != NULL)
			srtp_dealloc(end->in[i].ctx);
	g_mutex_clear(&end->out_lock);
	g_mutex_clear(&end->in_lock);
	g_free(end->ssrcs);
	g_free(end);
}

void ah_link_end_set_peer(ah_link_end *end, const struct sockaddr *peer, socklen_t len)
{
	g_mutex_lock(&end->in_lock);
	memset(&end->peer, 0, sizeof(end->peer));
	end->peer_len = 0;
	if (peer != NULL && len <= sizeof(end->peer) && (peer->sa_family == AF_INET || peer->sa_family == AF_INET6)) {
		memcpy(&end->peer, peer, len);
		end->peer_len = len;
	}
	g_mutex_unlock(&end->in_lock);
}

void ah_link_end_allow_ssrcs(ah_link_end *end, const guint32 *ssrcs, guint n)
{
	guint32 *copy = n > 0 ? g_memdup2(ssrcs, n * sizeof(guint32)) : NULL;
	g_mutex_lock(&end->in_lock);
	guint32 *old = end->ssrcs;
	end->ssrcs = copy;
	end->n_ssrcs = n;
	g_mutex_unlock(&end->in_lock);
	g_free(old);
}

gboolean ah_link_end_add_key(ah_link_end *end, const ah_link_key *key, GError **error)
{
	g_mutex_lock(&end->in_lock);
	guint32 newest = end->newest;
	g_mutex_unlock(&end->in_lock);
	if (key->epoch <= newest) {
		g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID,
			"link: a new key's epoch (%u) must be newer than the newest held (%u)", key->epoch, newest);
		return FALSE;
	}
	/* The contexts are made outside the locks: packets keep flowing meanwhile. */
	srtp_t out = make_ctx(key, sends_forward(end->role), TRUE, error);
	if (out == NULL)
		return FALSE;
	srtp_t in = make_ctx(key, !sends_forward(end->role), FALSE, error);
	if (in == NULL) {
		srtp_dealloc(out);
		return FALSE;
	}
	srtp_t old_out, old_in = NULL;
	g_mutex_lock(&end->out_lock);
	g_mutex_lock(&end->in_lock);
	if (key->epoch <= end->newest) { /* another add_key won meanwhile */
		newest = end->newest;
		g_mutex_unlock(&end->in_lock);
		g_mutex_unlock(&end->out_lock);
		srtp_dealloc(out);
		srtp_dealloc(in);
		g_set_error(error, AH_LINK_ERROR, AH_LINK_ERROR_INVALID,
			"link: a new key's epoch (%u) must be newer than the newest held (%u)", key->epoch, newest);
		return FALSE;
	}
	end->newest = key->epoch;
	old_out = end->out.ctx;
	end->out = (keyed_ctx){ key->epoch, out };
	old_in = end->in[1].ctx;
	end->in[1] = end->in[0];
	end->in[0] = (keyed_ctx){ key->epoch, in };
	g_mutex_unlock(&end->in_lock);
	g_mutex_unlock(&end->out_lock);
	srtp_dealloc(old_out);
	if (old_in != NULL)
		srtp_dealloc(old_in);
	return TRUE;
}

gboolean ah_link_end_drop_key(ah_link_end *end, guint32 epoch)
{
	srtp_t dropped = NULL;
	g_mutex_lock(&end->in_lock);
	if (end->in[1].ctx != NULL && epoch != 0) {
		if (end->in[1].epoch == epoch) {
			dropped = end->in[1].ctx;
			end->in[1] = (keyed_ctx){ 0, NULL };
		} else if (end->in[0].epoch == epoch) {
			/* Dropping the newest leaves the previous for receiving; sending stays on the newest
			 * (the sender's context is not a receiver's choice). */
			dropped = end->in[0].ctx;
			end->in[0] = end->in[1];
			end->in[1] = (keyed_ctx){ 0, NULL };
		}
	}
	g_mutex_unlock(&end->in_lock);
	if (dropped != NULL)
		srtp_dealloc(dropped);
	return dropped != NULL;
}

static int protect(ah_link_end *end, guint8 *buf, int len, int cap, gboolean rtcp)
{
	srtp_err_status_t st = srtp_err_status_fail;
	g_mutex_lock(&end->out_lock);
	if (buf != NULL && len >= (rtcp ? 8 : 12) && (buf[0] >> 6) == 2 && cap >= len &&
		cap - len >= AH_LINK_OVERHEAD_MAX)
		st = rtcp ? srtp_protect_rtcp(end->out.ctx, buf, &len) : srtp_protect(end->out.ctx, buf, &len);
	if (st != srtp_err_status_ok)
		end->send_failed++;
	else if (rtcp)
		end->rtcp_sent++;
	else
		end->rtp_sent++;
	g_mutex_unlock(&end->out_lock);
	return st == srtp_err_status_ok ? len : -1;
}

int ah_link_end_protect_rtp(ah_link_end *end, guint8 *buf, int len, int cap)
{
	return protect(end, buf, len, cap, FALSE);
}

int ah_link_end_protect_rtcp(ah_link_end *end, guint8 *buf, int len, int cap)
{
	return protect(end, buf, len, cap, TRUE);
}

static gboolean same_source(const struct sockaddr_storage *peer, socklen_t peer_len, const struct sockaddr *from,
	socklen_t from_len)
{
	if (peer_len == 0 || from == NULL || from->sa_family != peer->ss_family)
		return FALSE;
	if (from->sa_family == AF_INET && from_len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)peer, *b = (const struct sockaddr_in *)from;
		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	if (from->sa_family == AF_INET6 && from_len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)peer, *b = (const struct sockaddr_in6 *)from;
		return a->sin6_port == b->sin6_port && memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0 &&
			a->sin6_scope_id == b->sin6_scope_id;
	}
	return FALSE;
}

static ah_link_verdict verdict_of(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return AH_LINK_OK;
	case srtp_err_status_auth_fail:
	case srtp_err_status_cipher_fail: /* a GCM tag that does not verify, with some backends */
		return AH_LINK_DROP_AUTH;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return AH_LINK_DROP_REPLAY;
	case srtp_err_status_bad_param:
	case srtp_err_status_parse_err:
		return AH_LINK_DROP_MALFORMED;
	default:
		return AH_LINK_DROP_OTHER;
	}
}

/* Which failure a packet is counted under when no key accepts it: a replay under any key (libsrtp
 * checks the replay window before the tag), else a failed tag, else the rest. */
static int severity(ah_link_verdict v)
{
	return v == AH_LINK_DROP_REPLAY ? 3 : v == AH_LINK_DROP_AUTH ? 2 : 1;
}

ah_link_verdict ah_link_end_unprotect(ah_link_end *end, guint8 *buf, int *len, gboolean *is_rtcp,
	const struct sockaddr *from, socklen_t from_len)
{
	ah_link_verdict verdict = AH_LINK_DROP_MALFORMED;
	gboolean rtcp = FALSE;
	g_mutex_lock(&end->in_lock);
	if (!same_source(&end->peer, end->peer_len, from, from_len)) {
		verdict = AH_LINK_DROP_SOURCE;
		goto done;
	}
	int n = *len;
	/* RTP and RTCP told apart by the second byte (RFC 5761 section 4): RTCP's packet types 192-223. */
	if (buf == NULL || n < 12 || n > AH_LINK_MTU || (buf[0] >> 6) != 2)
		goto done;
	rtcp = buf[1] >= 192 && buf[1] <= 223;
	guint32 ssrc;
	memcpy(&ssrc, buf + (rtcp ? 4 : 8), sizeof(ssrc)); /* the buffer may be unaligned */
	ssrc = GUINT32_FROM_BE(ssrc);
	if (end->n_ssrcs > 0) {
		guint i = 0;
		while (i < end->n_ssrcs && end->ssrcs[i] != ssrc)
			i++;
		if (i == end->n_ssrcs) {
			verdict = AH_LINK_DROP_SSRC;
			goto done;
		}
	}
	guint8 copy[AH_LINK_MTU];
	gboolean two = end->in[1].ctx != NULL;
	if (two)
		memcpy(copy, buf, (gsize)n);
	verdict = AH_LINK_DROP_OTHER;
	for (guint k = 0; k < (two ? 2u : 1u); k++) {
		int try_len = n;
		if (k > 0)
			memcpy(buf, copy, (gsize)n);
		srtp_err_status_t st =
			rtcp ? srtp_unprotect_rtcp(end->in[k].ctx, buf, &try_len) : srtp_unprotect(end->in[k].ctx, buf, &try_len);
		ah_link_verdict v = verdict_of(st);
		if (v == AH_LINK_OK) {
			*len = try_len;
			verdict = AH_LINK_OK;
			break;
		}
		if (k == 0 || severity(v) > severity(verdict))
			verdict = v;
	}
	if (two && verdict != AH_LINK_OK)
		memcpy(buf, copy, (gsize)n);
	if (two)
		ah_link_wipe(copy, (gsize)n);
done:
	if (verdict == AH_LINK_OK) {
		if (rtcp)
			end->rtcp_received++;
		else
			end->rtp_received++;
	} else {
		end->dropped[verdict]++;
	}
	g_mutex_unlock(&end->in_lock);
	if (is_rtcp != NULL)
		*is_rtcp = rtcp;
	return verdict;
}

void ah_link_end_stats(ah_link_end *end, ah_link_stats *out)
{
	memset(out, 0, sizeof(*out));
	g_mutex_lock(&end->out_lock);
	out->rtp_sent = end->rtp_sent;
	out->rtcp_sent = end->rtcp_sent;
	out->send_failed = end->send_failed;
	g_mutex_unlock(&end->out_lock);
	g_mutex_lock(&end->in_lock);
	out->rtp_received = end->rtp_received;
	out->rtcp_received = end->rtcp_received;
	memcpy(out->dropped, end->dropped, sizeof(out->dropped));
	out->epochs[0] = end->in[0].epoch;
	out->epochs[1] = end->in[1].epoch;
	g_mutex_unlock(&end->in_lock);
}

const char *ah_link_verdict_name(ah_link_verdict v)
{
	static const char *const names[AH_LINK_N_VERDICTS] = {
		[AH_LINK_OK] = "ok",
		[AH_LINK_DROP_SOURCE] = "source",
		[AH_LINK_DROP_MALFORMED] = "malformed",
		[AH_LINK_DROP_SSRC] = "ssrc",
		[AH_LINK_DROP_AUTH] = "auth",
		[AH_LINK_DROP_REPLAY] = "replay",
		[AH_LINK_DROP_OTHER] = "other",
	};
	return (guint)v < AH_LINK_N_VERDICTS ? names[v] : "?";
}
