/* allhands glue: the data plane of media across nodes (issue 14; docs/cluster-media.md, "Wiring").
 *
 * One UDP socket per node (media_address:media_port) carries every node-to-node link, SRTP with the
 * keys of plugin/link. A link runs origin -> edge: forward go the presenters' RTP packets, each with its
 * SSRC rewritten to a *link SSRC* that names the stream (feed << 16 | m-line << 8 | simulcast layer) and
 * its payload type to ours (sdp.c); back come the edge's keyframe requests (RTCP PLI) and its delay
 * probes (RTCP APP "AHPI", answered "AHPO"). A link's key is never sent anywhere: both ends derive it
 * from the cluster's shared secret and a random salt the origin chooses and sends through Redis
 * (HMAC-SHA256(cluster_secret, "allhands link key v1|origin|edge|salt|epoch")).
 *
 * Threads
 * - The presenter's loop thread (relay.c's `forward` hook): protects a copy of each packet per edge and
 *   sends it. It reads its presenter's uplinks, an immutable ref-counted snapshot the control thread
 *   swaps in under one of a few striped locks.
 * - The link's receiving thread: recvmmsg, the source's link, unprotect, then an edge's packets go to
 *   the mirror's relay (ah_relay_rtp, this thread standing in for the mirror's loop thread) and an
 *   origin's RTCP to the presenter's keyframe request. Nothing it does waits for the control thread.
 * - The control thread: links, feeds and uplinks (cluster-media.c), under `lock` (never held across a
 *   call into another file, a send or a relay).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <arpa/inet.h>
#include <string.h>

#include "debug.h"

#include "glue.h"
#include "allhands/link.h"

#define RECV_BATCH 32
#define SSRC_FROM_EDGE 0xE0000001u   /* an edge's RTCP sender SSRC */
#define SSRC_FROM_ORIGIN 0xA0000001u /* an origin's */
#define UPLINK_STRIPES 16
#define RTCP_PSFB 206
#define RTCP_APP 204
#define AH_LINK_DOWN_US (3 * G_USEC_PER_SEC)

struct ah_mlink {
	volatile gint refs;
	ah_link_end *end;
	ah_link_role role;
	char *node;                   /* the peer's node id */
	char *key;                    /* source key: "address|port" */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char salt[33];
	guint32 epoch;
	GHashTable *feeds;            /* edge: feed -> in_feed* (under `lock`) */
	/* Counted by the sending and receiving threads (atomics); sampled each second by the control thread. */
	gint64 bytes_out, bytes_in, packets_out, packets_in;
	gint64 expected, received;    /* edge: RTP packets expected from sequence numbers, and received */
	gint64 rtt_us;                /* edge: last probe's round trip, -1: none yet */
	gint64 probe_at;              /* control thread: last probe sent */
	gint64 last_in;               /* the last packet that passed the link's checks (monotonic us, atomic) */
	gboolean down;                /* control thread: nothing came for AH_LINK_DOWN_US (probes come every second) */
	gint64 down_since, made_at;
	guint outages;
	/* Control thread: the last second's figures. */
	gint64 sample_at, last_bytes_out, last_bytes_in, last_expected, last_received;
	double bps_out, bps_in, loss;
	/* Receiving thread only: the highest sequence number per link SSRC (loss). */
	GHashTable *seqs;
};

typedef struct {
	ah_session *mirror;           /* reference */
	gboolean video[AH_MAX_STREAMS];
} in_feed;

typedef struct {
	volatile gint refs;
	guint16 feed;
	int out_pt[AH_MAX_STREAMS];   /* -1: not forwarded */
	guint n;
	ah_mlink *links[];            /* one reference each */
} uplinks;

static ah_link_udp *udp = NULL;
static GThread *recv_thread = NULL;
static volatile gint running = 0;
static char *local_node = NULL, *secret = NULL, *local_address = NULL;
static guint local_port = 0;
static GMutex lock;                /* the tables below */
static GHashTable *by_source = NULL; /* "address|port" -> ah_mlink* (edge role: its origin) */
static GHashTable *to_edges = NULL;  /* same key -> ah_mlink* (origin role: an edge) */
static GHashTable *feeds_out = NULL; /* feed (uint) -> presenter conn (guint64*) */
static GHashTable *mirror_up = NULL; /* mirror conn -> up_ref* */
static GMutex uplink_locks[UPLINK_STRIPES];
static volatile gint unknown_source = 0, unknown_feed = 0, forwarded_plis = 0;
static volatile gint forwarding = 0; /* presenter threads inside forward(): ah_mlink_stop waits for none */

typedef struct {
	ah_mlink *link; /* reference */
	guint16 feed;
} up_ref;

static ah_mlink *mlink_ref(ah_mlink *l)
{
	g_atomic_int_inc(&l->refs);
	return l;
}

static void in_feed_free(gpointer data)
{
	in_feed *f = data;
	ah_session_unref(f->mirror);
	g_free(f);
}

static void mlink_unref(ah_mlink *l)
{
	if (l == NULL || !g_atomic_int_dec_and_test(&l->refs))
		return;
	ah_link_end_free(l->end);
	g_free(l->node);
	g_free(l->key);
	g_hash_table_destroy(l->feeds);
	g_hash_table_destroy(l->seqs);
	g_free(l);
}

static void up_ref_free(gpointer data)
{
	up_ref *u = data;
	mlink_unref(u->link);
	g_free(u);
}

static void uplinks_unref(uplinks *u)
{
	if (u == NULL || !g_atomic_int_dec_and_test(&u->refs))
		return;
	for (guint i = 0; i < u->n; i++)
		mlink_unref(u->links[i]);
	g_free(u);
}

static char *source_key(const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "";
	guint port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	return g_strdup_printf("%s|%u", host, port);
}

static gboolean parse_addr(const char *address, guint port, struct sockaddr_storage *out, socklen_t *len)
{
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *in = (struct sockaddr_in *)out;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
	if (port == 0 || port > 65535 || address == NULL)
		return FALSE;
	if (inet_pton(AF_INET, address, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((guint16)port);
		*len = sizeof(*in);
		return TRUE;
	}
	if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((guint16)port);
		*len = sizeof(*in6);
		return TRUE;
	}
	return FALSE;
}

/* Both ends derive the link's secret: it never travels. */
static void derive_key(const char *origin, const char *edge, const char *salt, guint32 epoch, ah_link_key *key)
{
	char *label = g_strdup_printf("allhands link key v1|%s|%s|%s|%u", origin, edge, salt, epoch);
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret, strlen(secret));
	gsize n = AH_LINK_SECRET_LEN;
	g_hmac_update(h, (const guchar *)label, -1);
	g_hmac_get_digest(h, key->secret, &n);
	g_hmac_unref(h);
	g_free(label);
	key->epoch = epoch;
	key->suite = AH_LINK_SUITE_GCM128;
}

static ah_mlink *mlink_new(ah_link_role role, const char *node, const struct sockaddr_storage *peer, socklen_t len,
	const char *salt, guint32 epoch, char **error)
{
	ah_link_key key;
	GError *err = NULL;
	derive_key(role == AH_LINK_ORIGIN ? local_node : node, role == AH_LINK_ORIGIN ? node : local_node, salt, epoch,
		&key);
	ah_link_end *end = ah_link_end_new(role, &key, &err);
	ah_link_wipe(&key, sizeof(key));
	if (end == NULL) {
		*error = g_strdup(err != NULL ? err->message : "libsrtp refused the link");
		g_clear_error(&err);
		return NULL;
	}
	ah_link_end_set_peer(end, (const struct sockaddr *)peer, len);
	ah_mlink *l = g_new0(ah_mlink, 1);
	l->refs = 1;
	l->end = end;
	l->role = role;
	l->node = g_strdup(node);
	l->key = source_key((const struct sockaddr *)peer);
	l->peer = *peer;
	l->peer_len = len;
	g_strlcpy(l->salt, salt, sizeof(l->salt));
	l->epoch = epoch;
	l->feeds = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, in_feed_free);
	l->seqs = g_hash_table_new(g_direct_hash, g_direct_equal);
	l->rtt_us = -1;
	l->made_at = g_get_monotonic_time();
	return l;
}

/* ---- the control thread's side ---- */

ah_mlink *ah_mlink_to_edge(const char *node, const char *address, guint port, char **error)
{
	struct sockaddr_storage peer;
	socklen_t len;
	char salt[33];
	*error = NULL;
	if (udp == NULL || !parse_addr(address, port, &peer, &len)) {
		*error = g_strdup_printf("no media address to send to (%s:%u)", address != NULL ? address : "?", port);
		return NULL;
	}
	char *key = source_key((const struct sockaddr *)&peer);
	g_mutex_lock(&lock);
	ah_mlink *l = g_hash_table_lookup(to_edges, key);
	if (l != NULL && strcmp(l->node, node) == 0)
		mlink_ref(l);
	else
		l = NULL;
	g_mutex_unlock(&lock);
	if (l != NULL) {
		g_free(key);
		return l;
	}
	if (!ah_ticket_nonce(salt)) { /* 32 hex characters from getrandom */
		g_free(key);
		*error = g_strdup("no randomness for a link's salt");
		return NULL;
	}
	l = mlink_new(AH_LINK_ORIGIN, node, &peer, len, salt, 1, error);
	if (l == NULL) {
		g_free(key);
		return NULL;
	}
	g_mutex_lock(&lock);
	g_hash_table_replace(to_edges, key, mlink_ref(l));
	g_mutex_unlock(&lock);
	return l;
}

ah_mlink *ah_mlink_from_origin(const char *node, const char *address, guint port, const char *salt, guint32 epoch,
	char **error)
{
	struct sockaddr_storage peer;
	socklen_t len;
	*error = NULL;
	if (udp == NULL || !parse_addr(address, port, &peer, &len) || salt == NULL || strlen(salt) != 32 || epoch == 0) {
		*error = g_strdup("the origin's media address or key salt is not usable");
		return NULL;
	}
	char *key = source_key((const struct sockaddr *)&peer);
	g_mutex_lock(&lock);
	ah_mlink *l = g_hash_table_lookup(by_source, key);
	if (l != NULL && strcmp(l->node, node) == 0 && strcmp(l->salt, salt) == 0 && l->epoch == epoch)
		mlink_ref(l);
	else
		l = NULL;
	g_mutex_unlock(&lock);
	if (l != NULL) {
		g_free(key);
		return l;
	}
	l = mlink_new(AH_LINK_EDGE, node, &peer, len, salt, epoch, error);
	if (l == NULL) {
		g_free(key);
		return NULL;
	}
	g_mutex_lock(&lock);
	/* A link it replaces (the origin restarted: a new salt) is freed once its last user lets go. */
	g_hash_table_replace(by_source, key, mlink_ref(l));
	g_mutex_unlock(&lock);
	return l;
}

void ah_mlink_unref(ah_mlink *l)
{
	mlink_unref(l);
}

const char *ah_mlink_salt(const ah_mlink *l)
{
	return l->salt;
}

guint32 ah_mlink_epoch(const ah_mlink *l)
{
	return l->epoch;
}

const char *ah_mlink_node(const ah_mlink *l)
{
	return l->node;
}

guint32 ah_mlink_ssrc(guint16 feed, int mindex, int layer)
{
	return ((guint32)feed << 16) | ((guint32)(mindex & 0xff) << 8) | (guint32)(layer & 0xff);
}

void ah_mlink_set_uplinks(ah_session *presenter, guint16 feed, const int out_pt[AH_MAX_STREAMS], ah_mlink **links,
	guint n)
{
	uplinks *u = NULL;
	if (n > 0) {
		u = g_malloc0(sizeof(uplinks) + n * sizeof(ah_mlink *));
		u->refs = 1;
		u->feed = feed;
		memcpy(u->out_pt, out_pt, sizeof(u->out_pt));
		u->n = n;
		for (guint i = 0; i < n; i++)
			u->links[i] = mlink_ref(links[i]);
	}
	GMutex *m = &uplink_locks[presenter->conn % UPLINK_STRIPES];
	g_mutex_lock(m);
	uplinks *old = presenter->uplinks;
	g_atomic_pointer_set(&presenter->uplinks, u);
	g_mutex_unlock(m);
	uplinks_unref(old);
	g_mutex_lock(&lock);
	if (n > 0) {
		guint64 *conn = g_new(guint64, 1);
		*conn = presenter->conn;
		g_hash_table_replace(feeds_out, GUINT_TO_POINTER(feed), conn);
	} else {
		g_hash_table_remove(feeds_out, GUINT_TO_POINTER(feed));
	}
	g_mutex_unlock(&lock);
}

void ah_mlink_feed_out_remove(guint16 feed)
{
	g_mutex_lock(&lock);
	if (feeds_out != NULL)
		g_hash_table_remove(feeds_out, GUINT_TO_POINTER(feed));
	g_mutex_unlock(&lock);
}

void ah_mlink_release_uplinks(ah_session *session)
{
	/* The session's last reference: no thread forwards for it any more. */
	uplinks_unref(session->uplinks);
	session->uplinks = NULL;
}

void ah_mlink_feed_in(ah_mlink *l, guint16 feed, ah_session *mirror, const gboolean video[AH_MAX_STREAMS])
{
	in_feed *f = g_new0(in_feed, 1);
	up_ref *u = g_new0(up_ref, 1);
	ah_session_ref(mirror);
	f->mirror = mirror;
	memcpy(f->video, video, sizeof(f->video));
	u->link = mlink_ref(l);
	u->feed = feed;
	g_mutex_lock(&lock);
	g_hash_table_replace(l->feeds, GUINT_TO_POINTER(feed), f);
	g_hash_table_replace(mirror_up, g_memdup2(&mirror->conn, sizeof(guint64)), u);
	g_mutex_unlock(&lock);
}

void ah_mlink_feed_in_remove(ah_mlink *l, guint16 feed, guint64 mirror_conn)
{
	g_mutex_lock(&lock);
	g_hash_table_remove(l->feeds, GUINT_TO_POINTER(feed));
	g_hash_table_remove(mirror_up, &mirror_conn);
	g_mutex_unlock(&lock);
}

/* ---- the presenter's thread: forward ---- */

static uplinks *uplinks_get(ah_session *presenter)
{
	GMutex *m = &uplink_locks[presenter->conn % UPLINK_STRIPES];
	g_mutex_lock(m);
	uplinks *u = presenter->uplinks;
	if (u != NULL)
		g_atomic_int_inc(&u->refs);
	g_mutex_unlock(m);
	return u;
}

static void forward(ah_session *presenter, const janus_plugin_rtp *packet, int layer)
{
	guint8 buf[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX];
	g_atomic_int_inc(&forwarding);
	uplinks *u = g_atomic_int_get(&running) ? uplinks_get(presenter) : NULL;
	const int m = packet->mindex;
	if (u == NULL) {
		g_atomic_int_add(&forwarding, -1);
		return;
	}
	if (m >= 0 && m < AH_MAX_STREAMS && u->out_pt[m] >= 0 && packet->length <= AH_LINK_MTU - AH_LINK_OVERHEAD_MAX) {
		const guint32 ssrc = htonl(ah_mlink_ssrc(u->feed, m, layer));
		for (guint i = 0; i < u->n; i++) {
			ah_mlink *l = u->links[i];
			memcpy(buf, packet->buffer, packet->length);
			janus_rtp_header *h = (janus_rtp_header *)buf;
			h->ssrc = ssrc;
			h->type = (unsigned)u->out_pt[m];
			int n = ah_link_end_protect_rtp(l->end, buf, packet->length, sizeof(buf));
			if (n > 0 && ah_link_udp_send(udp, buf, (gsize)n, (const struct sockaddr *)&l->peer, l->peer_len)) {
				__atomic_add_fetch(&l->bytes_out, n, __ATOMIC_RELAXED);
				__atomic_add_fetch(&l->packets_out, 1, __ATOMIC_RELAXED);
			}
		}
	}
	uplinks_unref(u);
	g_atomic_int_add(&forwarding, -1);
}

/* ---- RTCP between the two ends ---- */

static void send_rtcp(ah_mlink *l, guint8 *buf, int len)
{
	guint8 out[128];
	memcpy(out, buf, (gsize)len);
	int n = ah_link_end_protect_rtcp(l->end, out, len, sizeof(out));
	if (n > 0)
		ah_link_udp_send(udp, out, (gsize)n, (const struct sockaddr *)&l->peer, l->peer_len);
}

static void put32(guint8 *p, guint32 v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static guint32 get32(const guint8 *p)
{
	guint32 v;
	memcpy(&v, p, 4);
	return ntohl(v);
}

/* A mirror's keyframe request (relay.c, coalesced per stream like a PLI): one PLI to the origin. */
static void upstream_pli(ah_session *mirror, int mindex)
{
	guint8 pli[12] = { 0x81, RTCP_PSFB, 0x00, 0x02 };
	g_mutex_lock(&lock);
	up_ref *u = mirror_up != NULL ? g_hash_table_lookup(mirror_up, &mirror->conn) : NULL;
	ah_mlink *l = u != NULL ? mlink_ref(u->link) : NULL;
	guint16 feed = u != NULL ? u->feed : 0;
	g_mutex_unlock(&lock);
	if (l == NULL)
		return;
	put32(pli + 4, SSRC_FROM_EDGE);
	put32(pli + 8, ah_mlink_ssrc(feed, mindex, 0));
	send_rtcp(l, pli, sizeof(pli));
	mlink_unref(l);
}

/* The control thread, once a second per link from an edge: a delay probe (the origin echoes it). */
static void probe(ah_mlink *l, gint64 now)
{
	guint8 app[20] = { 0x80, RTCP_APP, 0x00, 0x04 };
	put32(app + 4, SSRC_FROM_EDGE);
	memcpy(app + 8, "AHPI", 4);
	put32(app + 12, (guint32)((guint64)now >> 32));
	put32(app + 16, (guint32)((guint64)now & 0xffffffffu));
	send_rtcp(l, app, sizeof(app));
}

/* RTCP that passed its link's checks. */
static void handle_rtcp(ah_mlink *l, guint8 *buf, int len)
{
	for (int at = 0; at + 8 <= len;) {
		const guint8 *p = buf + at;
		const int size = 4 * (((p[2] << 8) | p[3]) + 1);
		if (at + size > len)
			break;
		if (l->role == AH_LINK_ORIGIN && p[1] == RTCP_PSFB && ((p[0] & 0x1f) == 1 || (p[0] & 0x1f) == 4) && size >= 12) {
			const guint32 media = (p[0] & 0x1f) == 1 ? get32(p + 8) : (size >= 20 ? get32(p + 12) : 0);
			guint64 conn = 0;
			g_mutex_lock(&lock);
			guint64 *c = g_hash_table_lookup(feeds_out, GUINT_TO_POINTER(media >> 16));
			conn = c != NULL ? *c : 0;
			g_mutex_unlock(&lock);
			ah_session *presenter = conn != 0 ? ah_session_lookup(conn) : NULL;
			if (presenter != NULL && presenter->pub != NULL) {
				g_atomic_int_inc(&forwarded_plis);
				ah_pubmedia_want_keyframe(presenter->pub);
			}
			if (presenter != NULL)
				ah_session_unref(presenter);
		} else if (p[1] == RTCP_APP && size == 20 && memcmp(p + 8, "AHPI", 4) == 0 && l->role == AH_LINK_ORIGIN) {
			guint8 pong[20];
			memcpy(pong, p, 20);
			put32(pong + 4, SSRC_FROM_ORIGIN);
			memcpy(pong + 8, "AHPO", 4);
			send_rtcp(l, pong, 20);
		} else if (p[1] == RTCP_APP && size == 20 && memcmp(p + 8, "AHPO", 4) == 0 && l->role == AH_LINK_EDGE) {
			const gint64 sent = (gint64)(((guint64)get32(p + 12) << 32) | get32(p + 16));
			const gint64 rtt = g_get_monotonic_time() - sent;
			if (rtt >= 0 && rtt < 60 * G_USEC_PER_SEC)
				__atomic_store_n(&l->rtt_us, rtt, __ATOMIC_RELAXED);
		}
		at += size;
	}
}

/* ---- the receiving thread ---- */

static void count_loss(ah_mlink *l, guint32 ssrc, guint16 seq)
{
	gpointer was = NULL;
	gboolean known = g_hash_table_lookup_extended(l->seqs, GUINT_TO_POINTER(ssrc), NULL, &was);
	guint16 last = (guint16)GPOINTER_TO_UINT(was);
	gint16 delta = (gint16)(seq - last);
	if (!known || delta > 0) {
		g_hash_table_insert(l->seqs, GUINT_TO_POINTER(ssrc), GUINT_TO_POINTER((guint)seq));
		__atomic_add_fetch(&l->expected, known && delta < 3000 ? delta : 1, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&l->received, 1, __ATOMIC_RELAXED);
}

static void handle_rtp(ah_mlink *l, guint8 *buf, int len)
{
	const janus_rtp_header *h = (const janus_rtp_header *)buf;
	const guint32 ssrc = ntohl(h->ssrc);
	const guint16 feed = (guint16)(ssrc >> 16);
	const int mindex = (int)((ssrc >> 8) & 0xff);
	count_loss(l, ssrc, ntohs(h->seq_number));
	g_mutex_lock(&lock);
	in_feed *f = g_hash_table_lookup(l->feeds, GUINT_TO_POINTER(feed));
	ah_session *mirror = f != NULL && mindex < AH_MAX_STREAMS ? f->mirror : NULL;
	gboolean video = mirror != NULL && f->video[mindex];
	if (mirror != NULL)
		ah_session_ref(mirror);
	g_mutex_unlock(&lock);
	if (mirror == NULL) {
		g_atomic_int_inc(&unknown_feed); /* before the origin's feeds message came, or after it was dropped */
		return;
	}
	janus_plugin_rtp packet;
	memset(&packet, 0, sizeof(packet));
	packet.mindex = mindex;
	packet.video = video;
	packet.buffer = (char *)buf;
	packet.length = (uint16_t)len;
	janus_plugin_rtp_extensions_reset(&packet.extensions);
	if (!g_atomic_int_get(&mirror->destroyed))
		ah_relay_rtp(mirror, &packet);
	ah_session_unref(mirror);
}

static void receive_one(ah_link_dgram *d)
{
	if (d->len < 0 || d->len < 12) {
		g_atomic_int_inc(&unknown_source);
		return;
	}
	const gboolean rtcp = d->data[1] >= 192 && d->data[1] <= 223;
	/* RTP comes from origins; RTCP from edges (sender SSRC 0xE...) or origins (0xA...). */
	const gboolean from_origin = !rtcp || get32(d->data + 4) == SSRC_FROM_ORIGIN;
	char *key = source_key((const struct sockaddr *)&d->from);
	g_mutex_lock(&lock);
	ah_mlink *l = g_hash_table_lookup(from_origin ? by_source : to_edges, key);
	if (l != NULL)
		mlink_ref(l);
	g_mutex_unlock(&lock);
	g_free(key);
	if (l == NULL) {
		g_atomic_int_inc(&unknown_source);
		return;
	}
	int len = d->len;
	gboolean is_rtcp = FALSE;
	if (ah_link_end_unprotect(l->end, d->data, &len, &is_rtcp, (const struct sockaddr *)&d->from, d->from_len) ==
			AH_LINK_OK) {
		__atomic_add_fetch(&l->bytes_in, d->len, __ATOMIC_RELAXED);
		__atomic_store_n(&l->last_in, g_get_monotonic_time(), __ATOMIC_RELAXED);
		__atomic_add_fetch(&l->packets_in, 1, __ATOMIC_RELAXED);
		if (is_rtcp)
			handle_rtcp(l, d->data, len);
		else if (l->role == AH_LINK_EDGE)
			handle_rtp(l, d->data, len);
	}
	mlink_unref(l);
}

static gpointer receive_main(gpointer data)
{
	ah_link_dgram *dgrams = g_new(ah_link_dgram, RECV_BATCH);
	(void)data;
	while (g_atomic_int_get(&running)) {
		if (!ah_link_udp_wait(udp, 200))
			continue;
		int n = ah_link_udp_recv(udp, dgrams, RECV_BATCH);
		for (int i = 0; i < n; i++)
			receive_one(&dgrams[i]);
	}
	g_free(dgrams);
	return NULL;
}

/* ---- start, stop, figures ---- */

static void mlink_value_unref(gpointer data)
{
	mlink_unref(data);
}

gboolean ah_mlink_start(const char *address, guint port, const char *node_id, const char *cluster_secret, char **error)
{
	GError *err = NULL;
	if (!ah_link_global_init(&err) || (udp = ah_link_udp_new(address, (guint16)port, &err)) == NULL) {
		*error = g_strdup_printf("the media link cannot listen on %s:%u: %s", address, port,
			err != NULL ? err->message : "?");
		g_clear_error(&err);
		return FALSE;
	}
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	ah_link_udp_local(udp, &local, &len);
	local_port = local.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&local)->sin_port)
		: ntohs(((struct sockaddr_in6 *)&local)->sin6_port);
	local_address = g_strdup(address);
	local_node = g_strdup(node_id);
	secret = g_strdup(cluster_secret);
	by_source = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, mlink_value_unref);
	to_edges = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, mlink_value_unref);
	feeds_out = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	mirror_up = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, up_ref_free);
	ah_relay_hooks hooks = { forward, upstream_pli };
	ah_relay_set_hooks(&hooks);
	g_atomic_int_set(&running, 1);
	recv_thread = g_thread_new("allhands-mlink", receive_main, NULL);
	return TRUE;
}

void ah_mlink_stop(void)
{
	if (udp == NULL)
		return;
	g_atomic_int_set(&running, 0);
	g_thread_join(recv_thread);
	recv_thread = NULL;
	ah_relay_hooks none = { NULL, NULL };
	ah_relay_set_hooks(&none);
	/* A presenter thread may be sending right now: the socket goes only once none is (microseconds). */
	while (g_atomic_int_get(&forwarding) > 0)
		g_usleep(100);
	g_mutex_lock(&lock);
	g_clear_pointer(&mirror_up, g_hash_table_destroy);
	g_clear_pointer(&feeds_out, g_hash_table_destroy);
	g_clear_pointer(&to_edges, g_hash_table_destroy);
	g_clear_pointer(&by_source, g_hash_table_destroy);
	g_mutex_unlock(&lock);
	ah_link_udp_free(udp);
	udp = NULL;
	g_clear_pointer(&local_node, g_free);
	g_clear_pointer(&local_address, g_free);
	if (secret != NULL)
		ah_link_wipe(secret, strlen(secret));
	g_clear_pointer(&secret, g_free);
}

guint ah_mlink_port(void)
{
	return local_port;
}

const char *ah_mlink_address(void)
{
	return local_address;
}

/* Control thread, each second: bitrates and loss over the last second; probes to origins. */
static void sample(ah_mlink *l, gint64 now)
{
	const gint64 out = __atomic_load_n(&l->bytes_out, __ATOMIC_RELAXED), in = __atomic_load_n(&l->bytes_in,
		__ATOMIC_RELAXED), exp = __atomic_load_n(&l->expected, __ATOMIC_RELAXED), rec = __atomic_load_n(&l->received,
		__ATOMIC_RELAXED);
	if (l->sample_at != 0 && now > l->sample_at) {
		const double s = (double)(now - l->sample_at) / G_USEC_PER_SEC;
		l->bps_out = (double)(out - l->last_bytes_out) * 8 / s;
		l->bps_in = (double)(in - l->last_bytes_in) * 8 / s;
		l->loss = exp > l->last_expected ? MAX(0.0, 1.0 - (double)(rec - l->last_received) /
			(double)(exp - l->last_expected)) : 0.0;
	}
	l->sample_at = now;
	l->last_bytes_out = out;
	l->last_bytes_in = in;
	l->last_expected = exp;
	l->last_received = rec;
	/* A link is down when nothing passed its checks for AH_LINK_DOWN_US: an edge gets the origin's answer
	 * to its probe every second, an origin the edge's probe; it is up again with the next packet. */
	const gint64 last = MAX(__atomic_load_n(&l->last_in, __ATOMIC_RELAXED), l->made_at);
	if (!l->down && now - last > AH_LINK_DOWN_US) {
		l->down = TRUE;
		l->down_since = last;
		l->outages++;
		JANUS_LOG(LOG_WARN, "allhands: media: the link %s %s is down (nothing for %" G_GINT64_FORMAT " ms)\n",
			l->role == AH_LINK_ORIGIN ? "to edge" : "from origin", l->node, (now - last) / 1000);
	} else if (l->down && now - last <= AH_LINK_DOWN_US) {
		l->down = FALSE;
		JANUS_LOG(LOG_INFO, "allhands: media: the link %s %s is up again after %" G_GINT64_FORMAT " ms\n",
			l->role == AH_LINK_ORIGIN ? "to edge" : "from origin", l->node, (last - l->down_since) / 1000);
	}
	if (l->role == AH_LINK_EDGE && now - l->probe_at >= G_USEC_PER_SEC) {
		l->probe_at = now;
		probe(l, now);
	}
}

void ah_mlink_tick(gint64 now)
{
	static gint64 ticked_at = 0;
	GPtrArray *links;
	GHashTableIter it;
	gpointer v;
	/* Figures and probes are per second: between, a turn costs nothing here. */
	if (udp == NULL || now - ticked_at < G_USEC_PER_SEC / 4)
		return;
	ticked_at = now;
	links = g_ptr_array_new_with_free_func(mlink_value_unref);
	g_mutex_lock(&lock);
	for (int t = 0; t < 2 && by_source != NULL; t++) {
		g_hash_table_iter_init(&it, t == 0 ? by_source : to_edges);
		while (g_hash_table_iter_next(&it, NULL, &v))
			g_ptr_array_add(links, mlink_ref(v));
	}
	g_mutex_unlock(&lock);
	for (guint i = 0; i < links->len; i++) {
		ah_mlink *l = g_ptr_array_index(links, i);
		if (now - l->sample_at >= G_USEC_PER_SEC)
			sample(l, now);
	}
	g_ptr_array_unref(links);
}

static json_t *link_json(ah_mlink *l)
{
	ah_link_stats st;
	json_t *dropped = json_object();
	ah_link_end_stats(l->end, &st);
	for (int r = AH_LINK_DROP_SOURCE; r < AH_LINK_N_VERDICTS; r++)
		json_object_set_new(dropped, ah_link_verdict_name((ah_link_verdict)r), json_integer((json_int_t)st.dropped[r]));
	const gint64 rtt = __atomic_load_n(&l->rtt_us, __ATOMIC_RELAXED);
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I}", "peer", l->node, "role",
		l->role == AH_LINK_ORIGIN ? "to_edge" : "from_origin", "address", l->key, "epoch", (json_int_t)l->epoch,
		"rtp_sent", (json_int_t)st.rtp_sent, "rtp_received", (json_int_t)st.rtp_received, "rtcp_sent",
		(json_int_t)st.rtcp_sent, "rtcp_received", (json_int_t)st.rtcp_received, "send_failed",
		(json_int_t)st.send_failed, "dropped", dropped, "feeds", (json_int_t)g_hash_table_size(l->feeds));
	json_object_set_new(j, "bitrate_bps", json_integer((json_int_t)(l->role == AH_LINK_ORIGIN ? l->bps_out : l->bps_in)));
	json_object_set_new(j, "state", json_string(l->down ? "down" : "up"));
	json_object_set_new(j, "outages", json_integer(l->outages));
	if (l->role == AH_LINK_EDGE) {
		json_object_set_new(j, "loss", json_real(l->loss));
		json_object_set_new(j, "delay_ms", rtt >= 0 ? json_real((double)rtt / 2000.0) : json_null());
		json_object_set_new(j, "rtt_ms", rtt >= 0 ? json_real((double)rtt / 1000.0) : json_null());
	}
	return j;
}

void ah_mlink_metrics(ah_metrics_input *in)
{
	GHashTableIter it;
	gpointer v;
	if (udp == NULL)
		return;
	in->media_unknown_source = (guint64)g_atomic_int_get(&unknown_source);
	in->links = g_array_new(FALSE, TRUE, sizeof(ah_metrics_link));
	g_mutex_lock(&lock);
	for (int t = 0; t < 2; t++) {
		g_hash_table_iter_init(&it, t == 0 ? to_edges : by_source);
		while (g_hash_table_iter_next(&it, NULL, &v)) {
			ah_mlink *l = v;
			ah_link_stats st;
			ah_metrics_link row = { 0 };
			const gint64 rtt = __atomic_load_n(&l->rtt_us, __ATOMIC_RELAXED);
			ah_link_end_stats(l->end, &st);
			row.peer = g_strdup(l->node);
			row.role = l->role == AH_LINK_ORIGIN ? "to_edge" : "from_origin";
			row.bitrate_bps = l->role == AH_LINK_ORIGIN ? l->bps_out : l->bps_in;
			row.loss = l->role == AH_LINK_EDGE ? l->loss : -1;
			row.delay_s = l->role == AH_LINK_EDGE && rtt >= 0 ? (double)rtt / 2e6 : -1;
			row.up = !l->down;
			row.rtp_sent = st.rtp_sent;
			row.rtp_received = st.rtp_received;
			for (int r = AH_LINK_DROP_SOURCE; r < AH_LINK_N_VERDICTS; r++)
				row.refused += st.dropped[r];
			g_array_append_val(in->links, row);
		}
	}
	g_mutex_unlock(&lock);
}

json_t *ah_mlink_status(void)
{
	json_t *links = json_array();
	GHashTableIter it;
	gpointer v;
	if (udp == NULL)
		return NULL;
	g_mutex_lock(&lock);
	for (int t = 0; t < 2; t++) {
		g_hash_table_iter_init(&it, t == 0 ? to_edges : by_source);
		while (g_hash_table_iter_next(&it, NULL, &v))
			json_array_append_new(links, link_json(v));
	}
	g_mutex_unlock(&lock);
	return json_pack("{s:s, s:I, s:o, s:I, s:I, s:I}", "address", local_address, "port", (json_int_t)local_port,
		"links", links, "dropped_unknown_source", (json_int_t)g_atomic_int_get(&unknown_source),
		"dropped_unknown_feed", (json_int_t)g_atomic_int_get(&unknown_feed), "keyframe_requests_from_edges",
		(json_int_t)g_atomic_int_get(&forwarded_plis));
}
