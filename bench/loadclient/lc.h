/* ah-loadclient: a receive-only WebRTC subscriber engine for load tests (libnice + OpenSSL DTLS-SRTP
 * + libsrtp2). Shared declarations: shards (worker threads), subscribers, SDP and DTLS helpers.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef AH_LOADCLIENT_LC_H
#define AH_LOADCLIENT_LC_H

#include <stdint.h>
#include <glib.h>
#include <agent.h>
#include <openssl/ssl.h>
#include <srtp2/srtp.h>

#define LC_MAX_MLINES 32
#define LC_MAX_SSRC 32
#define LC_MAX_CANDS 16

enum lc_kind { LC_AUDIO = 0, LC_VIDEO = 1, LC_OTHER = 2 };

/* One m-line of Janus's offer, as needed to answer it. */
typedef struct lc_mline {
	int kind;            /* LC_AUDIO / LC_VIDEO / LC_OTHER */
	char media[16];      /* "audio", "video", "application" */
	int port;            /* 0: rejected */
	char proto[40];
	char mid[32];
	char dir[12];        /* offered direction */
	int pt;              /* first payload type, -1 if none */
	char rtpmap[96];     /* "opus/48000/2" for pt */
	char fmtp[256];      /* fmtp parameters for pt ("" if none) */
	gboolean remb;       /* goog-remb offered for pt */
	int pts[32];         /* all offered payload types */
	int npts;
} lc_mline;

typedef struct lc_offer {
	char ufrag[64], pwd[128];
	char fingerprint[128]; /* sha-256 "AB:CD:..." upper case */
	int nml;
	lc_mline ml[LC_MAX_MLINES];
	int ncand;
	char cand[LC_MAX_CANDS][256]; /* "a=candidate:..." */
} lc_offer;

/* Per received SSRC counters (extended sequence numbers, RFC 3550 A.1 style, simplified). */
typedef struct lc_ssrc {
	uint32_t ssrc;
	int kind;
	gboolean used;
	uint64_t base_ext, max_ext;  /* first and highest extended sequence numbers */
	uint64_t recv, bytes;
	uint64_t mark_recv, mark_exp;   /* baseline at the last mark */
	uint64_t rr_recv, rr_exp;       /* baseline at the last receiver report */
} lc_ssrc;

struct lc_shard;

typedef enum { LC_ST_NEW, LC_ST_GATHERING, LC_ST_ICE, LC_ST_DTLS, LC_ST_CONNECTED, LC_ST_FAILED } lc_state;

typedef struct lc_sub {
	char *id;
	struct lc_shard *shard;
	lc_state state;
	NiceAgent *agent;
	guint stream;
	gboolean gathered, answer_pending, remote_set;
	lc_offer offer;
	int kind_by_pt[128];         /* -1 unknown */
	/* DTLS */
	SSL *ssl;
	BIO *rbio;                   /* memory BIO: datagrams from Janus */
	GSource *dtls_timer;
	/* SRTP */
	srtp_t srtp_in, srtp_out;
	gboolean srtp_ready;
	unsigned char key_in[30], key_out[30];
	/* counters */
	lc_ssrc ss[LC_MAX_SSRC];
	uint64_t auth_fail, bad_rtp;
	double first_t[2];           /* first verified packet per kind, epoch ms */
	double last_video_t, first_video_t, max_gap, window_start;
	/* RTCP */
	GSource *rtcp_timer;
	uint32_t my_ssrc;
	int loss_override;           /* -1: real, else fraction in 1/256 */
	uint32_t remb_bps;
	gboolean trace;              /* one line per verified RTP packet (op trace) */
} lc_sub;

typedef struct lc_shard {
	int index;
	GMainContext *ctx;
	GMainLoop *loop;
	GThread *thread;
	GHashTable *subs;            /* id -> lc_sub*, touched only by this shard's thread */
	unsigned char scratch[4096];
} lc_shard;

/* main.c */
extern char *lc_local_ip;
extern int lc_verbose;             /* LC_VERBOSE set: ICE progress on stderr */
double lc_now_ms(void);
void lc_emit_line(const char *line);          /* writes one line (adds '\n') to stdout, locked */
void lc_emit_error(const char *id, const char *msg);
void lc_json_str(GString *out, const char *s); /* appends a JSON string literal */

/* sdp.c */
gboolean lc_sdp_parse_offer(const char *sdp, lc_offer *o, char **err);
char *lc_sdp_answer(const lc_offer *o, const char *ufrag, const char *pwd, const char *fingerprint,
	const char *cands, unsigned long long sess_id, int version);

/* dtls.c */
gboolean lc_dtls_global_init(void);
void lc_dtls_global_free(void);
const char *lc_dtls_fingerprint(void);
gboolean lc_dtls_start(lc_sub *s);
void lc_dtls_incoming(lc_sub *s, const unsigned char *buf, int len);
void lc_dtls_free(lc_sub *s);
void lc_srtp_make_inbound(lc_sub *s);

/* sub.c */
void lc_sub_offer(lc_shard *sh, const char *id, const char *sdp);
void lc_sub_candidate(lc_shard *sh, const char *id, const char *cand);
void lc_sub_close(lc_shard *sh, const char *id, gboolean notify);
void lc_sub_free(lc_sub *s);
void lc_sub_set_state(lc_sub *s, lc_state st);
void lc_sub_fail(lc_sub *s, const char *reason);
void lc_sub_srtp_ready(lc_sub *s);
void lc_sub_mark(lc_sub *s, double t);
void lc_sub_stats(lc_sub *s, GString *out);
void lc_sub_report_loss(lc_shard *sh, const char *id, double fraction);
void lc_sub_remb(lc_shard *sh, const char *id, uint32_t bps);
void lc_sub_corrupt_key(lc_shard *sh, const char *id);
void lc_sub_trace(lc_shard *sh, const char *id, gboolean on);

#endif
