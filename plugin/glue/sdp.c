/* allhands glue: SDP in and out.
 *
 * Owns the payload-type table and the SDP jobs: reading a presenter's offer, answering it,
 * checking that a receiver's answer sends nothing, and building an attendee's offer. Pure
 * functions over strings built on Janus's sdp-utils (which
 * live in the janus executable); no state, no locks, no logging. Any thread may call them; in
 * practice the control thread does. Errors come back as a g_malloc'd *error for the caller to log.
 *
 * Codec choice for the presenter's answer is made twice (when reading the offer and when answering
 * it) by the same function on the same text, with the same Janus helper Janus's answer generator
 * uses internally (janus_sdp_get_codec_pt_full), so the payload type the relay expects is by
 * construction the one the answer accepts.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "glue.h"

#include "allhands/fmtp.h"

/* The codecs we relay, in order of preference within a kind, with the payload type attendees are
 * offered. Presenters' packets are rewritten to these. */
static const struct {
	const char *name;
	ah_media_kind kind;
	int pt;
} codec_rows[] = {
	{"opus", AH_MEDIA_AUDIO, 111},
	{"vp8", AH_MEDIA_VIDEO, 96},
	{"h264", AH_MEDIA_VIDEO, 102},
};
#define N_CODECS ((int)G_N_ELEMENTS(codec_rows))

#define AH_SDP_SESSION_NAME "allhands"
#define AH_MSID_LEN 48

int ah_sdp_payload_type(const char *codec)
{
	if (codec == NULL)
		return -1;
	for (int i = 0; i < N_CODECS; i++) {
		if (g_ascii_strcasecmp(codec_rows[i].name, codec) == 0)
			return codec_rows[i].pt;
	}
	return -1;
}

static const char *default_codec(ah_media_kind kind)
{
	for (int i = 0; i < N_CODECS; i++) {
		if (codec_rows[i].kind == kind)
			return codec_rows[i].name;
	}
	return NULL;
}

static void set_error(char **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void set_error(char **error, const char *fmt, ...)
{
	if (error == NULL)
		return;
	va_list args;
	va_start(args, fmt);
	g_free(*error);
	*error = g_strdup_vprintf(fmt, args);
	va_end(args);
}

static janus_sdp *parse(const char *text, char **error)
{
	char reason[256];
	reason[0] = '\0';
	janus_sdp *sdp = text != NULL ? janus_sdp_parse(text, reason, sizeof(reason)) : NULL;
	if (sdp == NULL)
		set_error(error, "invalid SDP: %s", reason[0] != '\0' ? reason : "empty");
	return sdp;
}

/* An m-line we can take media from: not rejected, and the presenter sends on it. */
static gboolean mline_usable(const janus_sdp_mline *m)
{
	if (m->port == 0)
		return FALSE;
	return m->direction == JANUS_SDP_SENDRECV || m->direction == JANUS_SDP_SENDONLY ||
		   m->direction == JANUS_SDP_DEFAULT;
}

static ah_media_kind mline_kind(const janus_sdp_mline *m, gboolean *ok)
{
	*ok = m->type == JANUS_SDP_AUDIO || m->type == JANUS_SDP_VIDEO;
	return m->type == JANUS_SDP_VIDEO ? AH_MEDIA_VIDEO : AH_MEDIA_AUDIO;
}

gboolean ah_sdp_answer_sends(const char *answer, int *mindex)
{
	janus_sdp *sdp = parse(answer, NULL);
	gboolean sends = FALSE;
	int index = 0;
	if (sdp == NULL)
		return FALSE;
	for (GList *l = sdp->m_lines; l != NULL && !sends; l = l->next, index++) {
		const janus_sdp_mline *m = l->data;
		gboolean media = FALSE;
		mline_kind(m, &media);
		if (media && mline_usable(m)) {
			sends = TRUE;
			if (mindex != NULL)
				*mindex = index;
		}
	}
	janus_sdp_destroy(sdp);
	return sends;
}

/* What we accept on one m-line for one codec. */
typedef struct {
	int pt;
	char profile[16];		/* H.264 profile-level-id handed to Janus's answer, "" if none */
	char fmtp[AH_FMTP_LEN]; /* what attendees will be offered */
} codec_choice;

static gboolean is_h264_rtpmap(const janus_sdp_attribute *a, int *pt)
{
	if (a->name == NULL || a->value == NULL || g_ascii_strcasecmp(a->name, "rtpmap") != 0)
		return FALSE;
	const char *space = strchr(a->value, ' ');
	if (space == NULL || g_ascii_strncasecmp(space + 1, "h264/90000", 10) != 0)
		return FALSE;
	*pt = atoi(a->value);
	return TRUE;
}

/* H.264: among the offered payload types with an explicit packetization-mode=1 and a
 * profile-level-id pick the best profile (first wins ties), and let Janus resolve it to the payload
 * type its answer generator will pick. Without such a payload type, take the first H.264 one as it
 * is (Janus's answer does the same), with its fmtp whole: one that does not fit (or is not UTF-8
 * text) makes H.264 unusable on this m-line, and *why says so. */
static gboolean choose_h264(janus_sdp *sdp, janus_sdp_mline *m, codec_choice *c, char **why)
{
	int h264_pts[32], n_pts = 0, best_score = -1;
	char plid[16], mode[8], best[16];
	best[0] = '\0';
	for (GList *l = m->attributes; l != NULL; l = l->next) {
		int pt;
		if (n_pts < (int)G_N_ELEMENTS(h264_pts) && is_h264_rtpmap(l->data, &pt))
			h264_pts[n_pts++] = pt;
	}
	for (GList *l = m->attributes; l != NULL; l = l->next) {
		janus_sdp_attribute *a = l->data;
		if (a->name == NULL || a->value == NULL || g_ascii_strcasecmp(a->name, "fmtp") != 0)
			continue;
		int pt = atoi(a->value);
		gboolean h264 = FALSE;
		for (int i = 0; i < n_pts && !h264; i++)
			h264 = h264_pts[i] == pt;
		const char *params = strchr(a->value, ' ');
		if (!h264 || params == NULL)
			continue;
		if (!ah_fmtp_param(params, "packetization-mode", mode, sizeof(mode)) || strcmp(mode, "1") != 0)
			continue;
		if (!ah_fmtp_param(params, "profile-level-id", plid, sizeof(plid)))
			continue;
		int score = ah_fmtp_h264_profile_score(plid);
		if (score > best_score) {
			best_score = score;
			g_strlcpy(best, plid, sizeof(best));
		}
	}
	if (best[0] != '\0') {
		c->pt = janus_sdp_get_codec_pt_full(sdp, m->index, "h264", best);
		if (c->pt >= 0 && ah_fmtp_h264(best, c->fmtp, sizeof(c->fmtp))) {
			g_strlcpy(c->profile, best, sizeof(c->profile));
			return TRUE;
		}
	}
	c->pt = janus_sdp_get_codec_pt(sdp, m->index, "h264");
	if (c->pt < 0)
		return FALSE;
	char *reason = NULL;
	if (!ah_fmtp_copy(janus_sdp_get_fmtp(sdp, m->index, c->pt), c->fmtp, sizeof(c->fmtp), &reason)) {
		set_error(why, "m-line %d: H.264 payload type %d not used: %s", m->index, c->pt, reason);
		g_free(reason);
		c->pt = -1;
		return FALSE;
	}
	return TRUE;
}

/* `why` (may be NULL) receives the reason when the m-line offers the codec but we cannot use it. */
static gboolean choose_codec(janus_sdp *sdp, janus_sdp_mline *m, const char *codec, codec_choice *c, char **why)
{
	memset(c, 0, sizeof(*c));
	c->pt = -1;
	if (strcmp(codec, "h264") == 0)
		return choose_h264(sdp, m, c, why);
	c->pt = janus_sdp_get_codec_pt(sdp, m->index, codec);
	if (c->pt < 0)
		return FALSE;
	if (strcmp(codec, "opus") == 0)
		ah_fmtp_opus(janus_sdp_get_fmtp(sdp, m->index, c->pt), c->fmtp, sizeof(c->fmtp));
	return TRUE;
}

/* The preferred codec of `kind` this m-line offers, or NULL. */
static const char *choose_mline(janus_sdp *sdp, janus_sdp_mline *m, ah_media_kind kind, codec_choice *c, char **why)
{
	for (int i = 0; i < N_CODECS; i++) {
		if (codec_rows[i].kind == kind && choose_codec(sdp, m, codec_rows[i].name, c, why))
			return codec_rows[i].name;
	}
	return NULL;
}

int ah_sdp_read_offer(const char *offer, ah_stream_desc *streams, int *in_pt, int max, char **error)
{
	janus_sdp *sdp = parse(offer, error);
	if (sdp == NULL)
		return -1;
	gboolean have[2] = {FALSE, FALSE};
	int n = 0;
	for (GList *l = sdp->m_lines; l != NULL && n < max; l = l->next) {
		janus_sdp_mline *m = l->data;
		gboolean av;
		ah_media_kind kind = mline_kind(m, &av);
		if (!av || have[kind] || !mline_usable(m))
			continue;
		codec_choice c;
		const char *codec = choose_mline(sdp, m, kind, &c, error);
		if (codec == NULL)
			continue;
		have[kind] = TRUE;
		memset(&streams[n], 0, sizeof(streams[n]));
		streams[n].kind = kind;
		streams[n].mindex = m->index;
		g_strlcpy(streams[n].codec, codec, sizeof(streams[n].codec));
		g_strlcpy(streams[n].fmtp, c.fmtp, sizeof(streams[n].fmtp));
		in_pt[n] = c.pt;
		n++;
	}
	janus_sdp_destroy(sdp);
	return n;
}

static const ah_stream_desc *stream_for(const ah_stream_desc *streams, int n, int mindex)
{
	for (int i = 0; i < n; i++) {
		if (streams[i].mindex == mindex)
			return &streams[i];
	}
	return NULL;
}

/* Accept one chosen m-line, receive-only, with exactly the payload type ah_sdp_read_offer chose.
 * Extensions: mid and audio-level, plus transport-wide-cc (the presenter's bandwidth estimation
 * depends on our feedback) and abs-send-time on video. The core drops any of these the answer
 * lacks, and adds a=mid and a=msid itself. */
static int answer_stream(janus_sdp *offer, janus_sdp *answer, janus_sdp_mline *m, const ah_stream_desc *s, char **error)
{
	codec_choice c;
	if (!choose_codec(offer, m, s->codec, &c, NULL)) {
		set_error(error, "m-line %d does not offer %s", m->index, s->codec);
		return -1;
	}
	gboolean video = s->kind == AH_MEDIA_VIDEO;
	const char *fmtp = s->fmtp[0] != '\0' ? s->fmtp : NULL;
	/* clang-format off */
	int rc = janus_sdp_generate_answer_mline(offer, answer, m,
		JANUS_SDP_OA_MLINE, video ? JANUS_SDP_VIDEO : JANUS_SDP_AUDIO,
		JANUS_SDP_OA_DIRECTION, JANUS_SDP_RECVONLY,
		JANUS_SDP_OA_CODEC, s->codec,
		JANUS_SDP_OA_H264_PROFILE, c.profile[0] != '\0' ? c.profile : NULL,
		JANUS_SDP_OA_FMTP, fmtp,
		JANUS_SDP_OA_ACCEPT_EXTMAP, JANUS_RTP_EXTMAP_MID,
		JANUS_SDP_OA_ACCEPT_EXTMAP, video ? NULL : JANUS_RTP_EXTMAP_AUDIO_LEVEL,
		JANUS_SDP_OA_ACCEPT_EXTMAP, video ? JANUS_RTP_EXTMAP_TRANSPORT_WIDE_CC : NULL,
		JANUS_SDP_OA_ACCEPT_EXTMAP, video ? JANUS_RTP_EXTMAP_ABS_SEND_TIME : NULL,
		/* Simulcast by rid: the layers are told apart by this extension (the core adds the
		 * answer's a=rid and a=simulcast lines). */
		JANUS_SDP_OA_ACCEPT_EXTMAP, video ? JANUS_RTP_EXTMAP_RID : NULL,
		JANUS_SDP_OA_ACCEPT_EXTMAP, video ? JANUS_RTP_EXTMAP_REPAIRED_RID : NULL,
		JANUS_SDP_OA_DONE);
	/* clang-format on */
	if (rc < 0) {
		set_error(error, "cannot answer m-line %d (%d)", m->index, rc);
		return -1;
	}
	/* The generator rejects the m-line when its own lookup fails; it never should here. */
	janus_sdp_mline *am = janus_sdp_mline_find_by_index(answer, m->index);
	if (am == NULL || am->port == 0 || am->ptypes == NULL || GPOINTER_TO_INT(am->ptypes->data) != c.pt) {
		set_error(error, "answer for m-line %d did not accept payload type %d", m->index, c.pt);
		return -1;
	}
	return 0;
}

char *ah_sdp_answer_offer(const char *offer_text, const ah_stream_desc *streams, int n_streams, char **error)
{
	janus_sdp *offer = parse(offer_text, error);
	if (offer == NULL)
		return NULL;
	janus_sdp *answer = janus_sdp_generate_answer(offer);
	int answered = 0, rc = 0;
	for (GList *l = offer->m_lines; l != NULL && rc == 0; l = l->next) {
		janus_sdp_mline *m = l->data;
		const ah_stream_desc *s = stream_for(streams, n_streams, m->index);
		gboolean av;
		ah_media_kind kind = mline_kind(m, &av);
		if (s != NULL && av && s->kind == kind) {
			rc = answer_stream(offer, answer, m, s, error);
			answered++;
			continue;
		}
		/* clang-format off */
		rc = janus_sdp_generate_answer_mline(offer, answer, m,
			JANUS_SDP_OA_MLINE, m->type,
			JANUS_SDP_OA_ENABLED, FALSE,
			JANUS_SDP_OA_DONE);
		/* clang-format on */
		if (rc < 0)
			set_error(error, "cannot reject m-line %d (%d)", m->index, rc);
	}
	if (rc == 0 && answered != n_streams) {
		set_error(error, "%d of %d streams match no m-line of the offer", n_streams - answered, n_streams);
		rc = -1;
	}
	char *text = rc == 0 ? janus_sdp_write(answer) : NULL;
	if (rc == 0 && text == NULL)
		set_error(error, "cannot write the answer");
	janus_sdp_destroy(answer);
	janus_sdp_destroy(offer);
	return text;
}

/* One attendee m-line. Inactive slots keep their m-line (and codec) so mindexes stay stable. */
static int offer_slot(janus_sdp *offer, const ah_slot *slot, char **error)
{
	gboolean video = slot->kind == AH_MEDIA_VIDEO;
	const char *codec = slot->codec[0] != '\0' ? slot->codec : default_codec(slot->kind);
	int pt = ah_sdp_payload_type(codec);
	if (pt < 0) {
		set_error(error, "slot %d: unsupported codec '%s'", slot->mindex, codec);
		return -1;
	}
	char mid[16], msid[AH_MSID_LEN], track[AH_MSID_LEN];
	g_snprintf(mid, sizeof(mid), "%c%d", video ? 'v' : 'a', slot->mindex);
	g_snprintf(msid, sizeof(msid), "ah%" G_GUINT64_FORMAT, slot->presenter);
	g_snprintf(track, sizeof(track), "ah%" G_GUINT64_FORMAT "-%s", slot->presenter, video ? "video" : "audio");
	/* Fixed extension ids (Janus's own table) keep a URI on one id across every m-line of the bundle;
	 * an id of 0 is skipped by the generator. No transport-wide-cc: with it, browsers send
	 * transport-wide feedback, which Janus 1.1.2 does not use to estimate bandwidth, and no REMB.
	 * Without it (abs-send-time and goog-remb offered) they estimate the bandwidth of what they
	 * receive and report it in REMB, which the layer policy reads (docs/operations.md). */
	/* clang-format off */
	int rc = janus_sdp_generate_offer_mline(offer,
		JANUS_SDP_OA_MLINE, video ? JANUS_SDP_VIDEO : JANUS_SDP_AUDIO,
		JANUS_SDP_OA_MID, mid,
		JANUS_SDP_OA_MSID, slot->active ? msid : NULL, slot->active ? track : NULL,
		JANUS_SDP_OA_PT, pt,
		JANUS_SDP_OA_CODEC, codec,
		JANUS_SDP_OA_FMTP, slot->fmtp[0] != '\0' ? slot->fmtp : NULL,
		JANUS_SDP_OA_DIRECTION, slot->active ? JANUS_SDP_SENDONLY : JANUS_SDP_INACTIVE,
		JANUS_SDP_OA_VIDEO_RTCPFB_DEFAULTS, TRUE,
		JANUS_SDP_OA_EXTENSION, JANUS_RTP_EXTMAP_MID, janus_rtp_extension_id(JANUS_RTP_EXTMAP_MID),
		JANUS_SDP_OA_EXTENSION, JANUS_RTP_EXTMAP_AUDIO_LEVEL,
			video ? 0 : janus_rtp_extension_id(JANUS_RTP_EXTMAP_AUDIO_LEVEL),
		JANUS_SDP_OA_EXTENSION, JANUS_RTP_EXTMAP_ABS_SEND_TIME,
			video ? janus_rtp_extension_id(JANUS_RTP_EXTMAP_ABS_SEND_TIME) : 0,
		JANUS_SDP_OA_DONE);
	/* clang-format on */
	if (rc < 0) {
		set_error(error, "slot %d: cannot build m-line (%d)", slot->mindex, rc);
		return -1;
	}
	return 0;
}

char *ah_sdp_attendee_offer(const ah_slot *slots, guint n_slots, guint64 version, char **error)
{
	if (slots == NULL || n_slots == 0) {
		set_error(error, "no m-lines to offer");
		return NULL;
	}
	/* The address is a placeholder: the core puts its public IP in o= and the m-lines' c= and drops
	 * the session-level c=. */
	janus_sdp *offer = janus_sdp_generate_offer(AH_SDP_SESSION_NAME, "0.0.0.0", JANUS_SDP_OA_DONE);
	if (offer == NULL) {
		set_error(error, "cannot create an offer");
		return NULL;
	}
	for (guint i = 0; i < n_slots; i++) {
		if (slots[i].mindex != (int)i) {
			set_error(error, "slot %u has m-line index %d", i, slots[i].mindex);
			janus_sdp_destroy(offer);
			return NULL;
		}
		if (offer_slot(offer, &slots[i], error) < 0) {
			janus_sdp_destroy(offer);
			return NULL;
		}
	}
	/* The core replaces o= session id and version when either is 0. */
	offer->o_version = version > 0 ? version : 1;
	char *text = janus_sdp_write(offer);
	janus_sdp_destroy(offer);
	if (text == NULL)
		set_error(error, "cannot write the offer");
	return text;
}
