/* ah-loadclient: DTLS-SRTP client side. One SSL_CTX with a self-signed ECDSA P-256 certificate made
 * at startup; per subscriber an SSL in client mode reading Janus's datagrams from a memory BIO and
 * writing each record flight straight to libnice through a tiny datagram BIO; retransmissions on a
 * GLib timer; Janus's certificate checked against the offer's sha-256 fingerprint; then the
 * EXTRACTOR-dtls_srtp keys go to two libsrtp2 sessions (inbound: server key, outbound: client key).
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "lc.h"

static SSL_CTX *ctx;
static X509 *cert;
static EVP_PKEY *pkey;
static BIO_METHOD *dgram_method;
static char fingerprint[128];

const char *lc_dtls_fingerprint(void)
{
	return fingerprint;
}

static void hex_fingerprint(X509 *x, char *out, size_t cap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	out[0] = '\0';
	if (!X509_digest(x, EVP_sha256(), md, &n))
		return;
	size_t pos = 0;
	for (unsigned int i = 0; i < n && pos + 4 < cap; i++)
		pos += (size_t)g_snprintf(out + pos, cap - pos, i ? ":%02X" : "%02X", md[i]);
}

/* --- datagram BIO: every write is one UDP datagram sent through the subscriber's agent --- */
static int dgram_write(BIO *b, const char *buf, int len)
{
	lc_sub *s = BIO_get_data(b);
	if (s && s->agent && len > 0)
		nice_agent_send(s->agent, s->stream, 1, (guint)len, buf);
	return len;
}

static long dgram_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return 1200;
	case BIO_CTRL_WPENDING:
	case BIO_CTRL_PENDING:
		return 0;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return 28;
	default:
		return 0;
	}
}

static int dgram_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
	return 1; /* self-signed: checked against the SDP fingerprint after the handshake */
}

gboolean lc_dtls_global_init(void)
{
	if (srtp_init() != srtp_err_status_ok)
		return FALSE;
	pkey = EVP_EC_gen("P-256");
	if (!pkey)
		return FALSE;
	cert = X509_new();
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), (long)g_random_int_range(1, G_MAXINT32));
	X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
	X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 86400);
	X509_set_pubkey(cert, pkey);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"ah-loadclient", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (!X509_sign(cert, pkey, EVP_sha256()))
		return FALSE;
	hex_fingerprint(cert, fingerprint, sizeof(fingerprint));

	ctx = SSL_CTX_new(DTLS_client_method());
	if (!ctx)
		return FALSE;
	SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, pkey) != 1)
		return FALSE;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	if (SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AES128_CM_SHA1_80") != 0)
		return FALSE;
	SSL_CTX_set_read_ahead(ctx, 1);

	dgram_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ah-lc-dgram");
	BIO_meth_set_write(dgram_method, dgram_write);
	BIO_meth_set_ctrl(dgram_method, dgram_ctrl);
	BIO_meth_set_create(dgram_method, dgram_create);
	return TRUE;
}

void lc_dtls_global_free(void)
{
	SSL_CTX_free(ctx);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	BIO_meth_free(dgram_method);
	srtp_shutdown();
}

static gboolean dtls_timeout_cb(gpointer data);

static void arm_timer(lc_sub *s)
{
	if (s->dtls_timer) {
		g_source_destroy(s->dtls_timer);
		g_source_unref(s->dtls_timer);
		s->dtls_timer = NULL;
	}
	struct timeval tv;
	if (!s->ssl || SSL_is_init_finished(s->ssl) || DTLSv1_get_timeout(s->ssl, &tv) != 1)
		return;
	guint ms = (guint)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
	s->dtls_timer = g_timeout_source_new(ms ? ms : 1);
	g_source_set_callback(s->dtls_timer, dtls_timeout_cb, s, NULL);
	g_source_attach(s->dtls_timer, s->shard->ctx);
}

static gboolean dtls_timeout_cb(gpointer data)
{
	lc_sub *s = data;
	g_source_unref(s->dtls_timer);
	s->dtls_timer = NULL;
	if (s->ssl && !SSL_is_init_finished(s->ssl)) {
		if (DTLSv1_handle_timeout(s->ssl) < 0) {
			lc_sub_fail(s, "DTLS timeout");
			return G_SOURCE_REMOVE;
		}
		arm_timer(s);
	}
	return G_SOURCE_REMOVE;
}

/* DTLS retransmission like a browser's (libwebrtc starts at 50 ms; OpenSSL's default is 1 s): a
 * first flight lost because Janus's ICE was not ready for it yet (the controlled side gets
 * connected first) would otherwise add a whole second to the attendee's setup time. */
static unsigned int dtls_timer_us(SSL *ssl, unsigned int previous_us)
{
	(void)ssl;
	if (previous_us == 0)
		return 100000;
	return previous_us >= 3200000 ? 6400000 : previous_us * 2;
}

gboolean lc_dtls_start(lc_sub *s)
{
	s->ssl = SSL_new(ctx);
	if (!s->ssl)
		return FALSE;
	s->rbio = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(s->rbio, -1);
	BIO *w = BIO_new(dgram_method);
	BIO_set_data(w, s);
	SSL_set_bio(s->ssl, s->rbio, w);
	SSL_set_options(s->ssl, SSL_OP_NO_QUERY_MTU);
	DTLS_set_link_mtu(s->ssl, 1200);
	DTLS_set_timer_cb(s->ssl, dtls_timer_us);
	SSL_set_connect_state(s->ssl);
	lc_sub_set_state(s, LC_ST_DTLS);
	SSL_do_handshake(s->ssl);
	arm_timer(s);
	return TRUE;
}

static gboolean make_session(srtp_t *sess, const unsigned char *key, srtp_ssrc_type_t type)
{
	srtp_policy_t p;
	memset(&p, 0, sizeof(p));
	srtp_crypto_policy_set_rtp_default(&p.rtp);
	srtp_crypto_policy_set_rtcp_default(&p.rtcp);
	p.ssrc.type = type;
	p.key = (unsigned char *)key;
	p.window_size = 1024;
	p.allow_repeat_tx = 0;
	p.next = NULL;
	if (*sess) {
		srtp_dealloc(*sess);
		*sess = NULL;
	}
	return srtp_create(sess, &p) == srtp_err_status_ok;
}

void lc_srtp_make_inbound(lc_sub *s)
{
	if (!make_session(&s->srtp_in, s->key_in, ssrc_any_inbound))
		lc_sub_fail(s, "srtp_create inbound failed");
}

static void handshake_done(lc_sub *s)
{
	X509 *peer = SSL_get1_peer_certificate(s->ssl);
	char fp[128];
	if (!peer) {
		lc_sub_fail(s, "no DTLS certificate from Janus");
		return;
	}
	hex_fingerprint(peer, fp, sizeof(fp));
	X509_free(peer);
	if (strcmp(fp, s->offer.fingerprint) != 0) {
		lc_sub_fail(s, "DTLS fingerprint mismatch");
		return;
	}
	SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(s->ssl);
	if (!prof || prof->id != SRTP_AES128_CM_SHA1_80) {
		lc_sub_fail(s, "no SRTP profile negotiated");
		return;
	}
	unsigned char m[60];
	if (SSL_export_keying_material(s->ssl, m, sizeof(m), "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1) {
		lc_sub_fail(s, "keying material export failed");
		return;
	}
	/* client key | server key | client salt | server salt */
	memcpy(s->key_out, m, 16);
	memcpy(s->key_out + 16, m + 32, 14);
	memcpy(s->key_in, m + 16, 16);
	memcpy(s->key_in + 16, m + 46, 14);
	if (!make_session(&s->srtp_out, s->key_out, ssrc_any_outbound)) {
		lc_sub_fail(s, "srtp_create outbound failed");
		return;
	}
	lc_srtp_make_inbound(s);
	if (s->state == LC_ST_FAILED)
		return;
	lc_sub_srtp_ready(s);
}

void lc_dtls_incoming(lc_sub *s, const unsigned char *buf, int len)
{
	if (!s->ssl)
		return;
	BIO_write(s->rbio, buf, len);
	if (!SSL_is_init_finished(s->ssl)) {
		int r = SSL_do_handshake(s->ssl);
		if (r == 1) {
			if (s->dtls_timer) {
				g_source_destroy(s->dtls_timer);
				g_source_unref(s->dtls_timer);
				s->dtls_timer = NULL;
			}
			handshake_done(s);
		} else {
			int e = SSL_get_error(s->ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				char msg[160];
				unsigned long ee = ERR_get_error();
				g_snprintf(msg, sizeof(msg), "DTLS handshake error: %s", ee ? ERR_reason_error_string(ee) : "?");
				ERR_clear_error();
				lc_sub_fail(s, msg);
				return;
			}
			arm_timer(s);
		}
	} else {
		/* post-handshake records (alerts, retransmitted Finished): drain them */
		char tmp[1500];
		int r = SSL_read(s->ssl, tmp, sizeof(tmp));
		if (r <= 0) {
			int e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN)
				lc_sub_fail(s, "DTLS closed by Janus");
			ERR_clear_error();
		}
	}
	BIO_reset(s->rbio);
}

void lc_dtls_free(lc_sub *s)
{
	if (s->dtls_timer) {
		g_source_destroy(s->dtls_timer);
		g_source_unref(s->dtls_timer);
		s->dtls_timer = NULL;
	}
	if (s->ssl) {
		SSL_free(s->ssl); /* frees both BIOs */
		s->ssl = NULL;
		s->rbio = NULL;
	}
	if (s->srtp_in)
		srtp_dealloc(s->srtp_in);
	if (s->srtp_out)
		srtp_dealloc(s->srtp_out);
	s->srtp_in = s->srtp_out = NULL;
}
