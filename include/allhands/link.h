/* allhands: the authenticated, encrypted node-to-node media link (issue 14 foundation).
 *
 * Between an origin node and an edge node, media is RTP over UDP between the nodes' media addresses,
 * protected with SRTP (RFC 3711; AEAD-AES-128-GCM of RFC 7714 by default). A link runs one direction,
 * origin -> edge: RTP and the origin's RTCP go forward, the edge's RTCP (receiver reports, NACK, PLI)
 * comes back. The link's secret (a key) is 32 bytes from the kernel's random on the origin, meant to
 * travel to the edge through the cluster's control channel (Redis) in its text form
 * ("ahlink1:<suite>:<epoch>:<64 hex>"); the two SRTP master keys (forward and back) are derived from
 * it with HMAC-SHA256, so the two ends never protect with the same key and SSRC. Keys rotate: a key of
 * a newer epoch is added, the sender protects with it at once, and the receiver accepts both until the
 * older is dropped (or a third arrives). Behaviour, wire format and costs: docs/cluster-media.md,
 * "The node-to-node link".
 *
 * Code layout: plugin/link/key.c (keys and their text form), plugin/link/srtp.c (ah_link_end, the only
 * code that includes libsrtp2), plugin/link/udp.c (a non-blocking UDP endpoint). No Janus header and no
 * libsrtp type in this interface: GLib and the socket API only.
 *
 * Threads: a key is a plain value. An ah_link_end may be used from any thread: its sending side
 * (protect_rtp/protect_rtcp, in the plugin the presenter's media thread) and its receiving side
 * (unprotect, in the plugin the link's own receiving thread) hold two different locks and never wait on
 * each other; add_key takes both briefly (its libsrtp contexts are made outside them), drop_key the
 * receiving one. stats() may be called from any thread. ah_link_end_free must not run concurrently with anything else on the
 * end. An ah_link_udp is not locked: one thread sends and one thread receives (sendto and recvmmsg on
 * one socket are safe together); free it when neither runs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_LINK_H
#define ALLHANDS_LINK_H

#include <glib.h>
#include <sys/socket.h>

/* Errors of this module (GError domain AH_LINK_ERROR). */
#define AH_LINK_ERROR (ah_link_error_quark())
typedef enum {
	AH_LINK_ERROR_INVALID, /* bad input: a malformed key, an epoch not newer, an address that is none */
	AH_LINK_ERROR_SYSTEM,  /* the kernel refused: getrandom, socket, bind */
	AH_LINK_ERROR_SRTP,    /* libsrtp refused */
} ah_link_error;
GQuark ah_link_error_quark(void);

/* The SRTP protection profile of a key. GCM is the default (docs/cluster-media.md says why). */
typedef enum {
	AH_LINK_SUITE_GCM128 = 1,        /* AEAD_AES_128_GCM, 16-byte tag (RFC 7714): text "gcm128" */
	AH_LINK_SUITE_CM128_SHA1_80 = 2, /* AES_CM_128_HMAC_SHA1_80 (RFC 3711): text "cm128-sha1-80" */
} ah_link_suite;

#define AH_LINK_SECRET_LEN 32
/* Text form: "ahlink1:" suite ":" epoch ":" 64 lowercase hex digits; at most this long with its NUL. */
#define AH_LINK_KEY_TEXT_MAX 128
/* The most bytes protecting adds to an RTP or RTCP packet (tag, SRTCP index): a buffer handed to
 * protect must have this much room after the packet. */
#define AH_LINK_OVERHEAD_MAX 32
/* The largest datagram the endpoint receives whole; a larger one is counted as malformed. */
#define AH_LINK_MTU 1500

typedef struct {
	guint32 epoch; /* the key id: 1 .. 2^32-1, increasing with every rotation */
	ah_link_suite suite;
	guint8 secret[AH_LINK_SECRET_LEN];
} ah_link_key;

/* A fresh key of `epoch` (>= 1) from getrandom(2). FALSE with `error` set if the kernel's random fails. */
gboolean ah_link_key_generate(guint32 epoch, ah_link_suite suite, ah_link_key *key, GError **error);
/* The text form, newly allocated: it holds the secret (wipe it with ah_link_wipe before g_free). */
char *ah_link_key_to_text(const ah_link_key *key);
/* Parse the text form; anything else (another version or suite, an epoch of 0, with a sign, leading
 * zeros or above 2^32-1, uppercase or a wrong count of hex digits, spaces, a trailing byte) is refused
 * with FALSE and `error` saying what; `key` is then untouched. */
gboolean ah_link_key_from_text(const char *text, ah_link_key *key, GError **error);
const char *ah_link_suite_name(ah_link_suite suite);
/* The SRTP master key and salt (16 + 12 bytes for GCM, 16 + 14 for CM) of one direction, derived as
 * HMAC-SHA256(secret, "allhands link v1 forward" | "allhands link v1 back"), truncated; `out` holds 32
 * bytes. Returns the length used. */
gsize ah_link_key_derive(const ah_link_key *key, gboolean forward, guint8 out[32]);
/* Zero a key (or anything holding secret bytes) in a way the compiler keeps. */
void ah_link_wipe(void *p, gsize len);

/* --- One end of a link: the SRTP contexts, the allowed source and SSRCs, the counters. */
typedef enum {
	AH_LINK_ORIGIN, /* protects with the forward key, unprotects with the back key */
	AH_LINK_EDGE,   /* protects with the back key, unprotects with the forward key */
} ah_link_role;

/* Why a received packet was refused: each counted in ah_link_stats.dropped[reason]. */
typedef enum {
	AH_LINK_OK = 0,
	AH_LINK_DROP_SOURCE,    /* not from the peer's media address (family, address and port) */
	AH_LINK_DROP_MALFORMED, /* not RTP/RTCP version 2, too short, or truncated */
	AH_LINK_DROP_SSRC,      /* an SSRC outside the allow-list (when the list is not empty) */
	AH_LINK_DROP_AUTH,      /* authentication failed under every key held: forged, corrupted, or another key */
	AH_LINK_DROP_REPLAY,    /* libsrtp's replay window: seen already, or older than the window */
	AH_LINK_DROP_OTHER,     /* any other libsrtp failure */
	AH_LINK_N_VERDICTS
} ah_link_verdict;

typedef struct {
	guint64 rtp_sent, rtcp_sent;         /* protected */
	guint64 rtp_received, rtcp_received; /* unprotected and accepted */
	guint64 dropped[AH_LINK_N_VERDICTS]; /* [AH_LINK_OK] stays 0 */
	guint64 send_failed;                 /* protect refused (no room, too short, libsrtp error) */
	guint32 epochs[2];                   /* keys held, newest first; 0: none */
} ah_link_stats;

typedef struct ah_link_end ah_link_end;

/* libsrtp's one-time setup; every ah_link_end_new calls it, so callers need not. Thread-safe. */
gboolean ah_link_global_init(GError **error);
/* An end with its first key. `peer` is the other end's media address: only packets from it are
 * accepted (an end whose peer is unset accepts nothing). Replay window: 1024 packets per SSRC. */
ah_link_end *ah_link_end_new(ah_link_role role, const ah_link_key *key, GError **error);
void ah_link_end_free(ah_link_end *end);
void ah_link_end_set_peer(ah_link_end *end, const struct sockaddr *peer, socklen_t len);
/* Accept only these SSRCs from now on (RTP's SSRC, RTCP's sender SSRC); an empty list (the default)
 * accepts any. Copied. */
void ah_link_end_allow_ssrcs(ah_link_end *end, const guint32 *ssrcs, guint n);
/* Rotation: a key of an epoch newer than every key held. From then on protect uses it; unprotect
 * accepts it and the previous one (the oldest is dropped if two were held). FALSE with `error` for an
 * epoch not newer, or if libsrtp refuses. */
gboolean ah_link_end_add_key(ah_link_end *end, const ah_link_key *key, GError **error);
/* End the overlap: forget the key of `epoch` unless it is the only one. TRUE if it was dropped. */
gboolean ah_link_end_drop_key(ah_link_end *end, guint32 epoch);

/* Protect in place an RTP (or RTCP compound) packet of `len` bytes in a buffer of `cap` bytes. Returns
 * the protected length, or -1 (counted in send_failed) when the packet is too short or not version 2,
 * there is no room for AH_LINK_OVERHEAD_MAX more bytes, or libsrtp fails. */
int ah_link_end_protect_rtp(ah_link_end *end, guint8 *buf, int len, int cap);
int ah_link_end_protect_rtcp(ah_link_end *end, guint8 *buf, int len, int cap);
/* Check and unprotect in place a datagram from `from`: RTP or RTCP (told apart as RFC 5761 does, by the
 * second byte). On AH_LINK_OK, *len is the plain length and *is_rtcp says which it was; otherwise the
 * packet must be dropped, and the reason was counted. */
ah_link_verdict ah_link_end_unprotect(ah_link_end *end, guint8 *buf, int *len, gboolean *is_rtcp,
	const struct sockaddr *from, socklen_t from_len);
void ah_link_end_stats(ah_link_end *end, ah_link_stats *out);
const char *ah_link_verdict_name(ah_link_verdict v);

/* --- A non-blocking UDP endpoint. */
typedef struct ah_link_udp ah_link_udp;

typedef struct {
	guint8 data[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX];
	int len;                      /* bytes received; -1 if larger than AH_LINK_MTU (unprotect counts it malformed) */
	struct sockaddr_storage from; /* who sent it */
	socklen_t from_len;
} ah_link_dgram;

/* Bind a UDP socket to `address` (IPv4 or IPv6 literal) and `port` (0: any free port), non-blocking,
 * close-on-exec. NULL with `error` set on failure. */
ah_link_udp *ah_link_udp_new(const char *address, guint16 port, GError **error);
void ah_link_udp_free(ah_link_udp *udp);
int ah_link_udp_fd(const ah_link_udp *udp);
/* The bound address (with the port the kernel chose). */
void ah_link_udp_local(const ah_link_udp *udp, struct sockaddr_storage *addr, socklen_t *len);
/* Send one datagram; TRUE if the kernel took it (FALSE when its buffer is full: the packet is lost,
 * as UDP would lose it, and the caller counts it). */
gboolean ah_link_udp_send(ah_link_udp *udp, const guint8 *buf, gsize len, const struct sockaddr *to,
	socklen_t to_len);
/* Receive up to `n` datagrams already queued (recvmmsg, without waiting). Returns how many (0: none
 * waiting), or -1 on a socket error. */
int ah_link_udp_recv(ah_link_udp *udp, ah_link_dgram *dgrams, guint n);
/* Wait up to `timeout_ms` for a datagram to be readable (poll). TRUE if one is. */
gboolean ah_link_udp_wait(ah_link_udp *udp, int timeout_ms);

#endif
