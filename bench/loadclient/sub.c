/* ah-loadclient: one subscriber = one NiceAgent (controlled, full ICE, host candidates on --ip, one
 * bundled rtcp-mux component) + DTLS + SRTP. Handles offers and renegotiations, demultiplexes
 * datagrams (RFC 7983), verifies and counts every RTP packet, sends RTCP receiver reports (with a
 * configurable loss fraction and optional REMB) once a second, and serialises per-subscriber stats.
 * Everything here runs on the subscriber's shard thread.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include "lc.h"

static const char *state_names[] = { "new", "gathering", "ice", "dtls", "connected", "failed" };

void lc_sub_set_state(lc_sub *s, lc_state st)
{
	s->state = st;
}

void lc_sub_fail(lc_sub *s, const char *reason)
{
	if (s->state == LC_ST_FAILED)
		return;
	s->state = LC_ST_FAILED;
	s->srtp_ready = FALSE;
	GString *l = g_string_new("{\"id\":");
	lc_json_str(l, s->id);
	g_string_append(l, ",\"event\":\"failed\",\"reason\":");
	lc_json_str(l, reason);
	g_string_append_printf(l, ",\"t\":%.3f}", lc_now_ms());
	lc_emit_line(l->str);
	g_string_free(l, TRUE);
}

/* ---------- receive path ---------- */
static lc_ssrc *ssrc_slot(lc_sub *s, uint32_t ssrc, int kind)
{
	for (int i = 0; i < LC_MAX_SSRC; i++)
		if (s->ss[i].used && s->ss[i].ssrc == ssrc)
			return &s->ss[i];
	for (int i = 0; i < LC_MAX_SSRC; i++)
		if (!s->ss[i].used) {
			lc_ssrc *x = &s->ss[i];
			memset(x, 0, sizeof(*x));
			x->used = TRUE;
			x->ssrc = ssrc;
			x->kind = kind;
			return x;
		}
	return NULL;
}

/* FNV-1a 64 of len bytes. */
static uint64_t fnv64(const unsigned char *p, int len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (int i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* op trace: one line per verified packet, its arrival time and hashes of its payload (the same
 * packet relayed to two subscribers has other sequence numbers, timestamps and SSRCs, but the same
 * payload): h of the first 32 payload bytes, h8 of bytes 8..39 (past a VP8 payload descriptor that a
 * relay may rewrite), 0 when the payload is shorter. */
static void trace_packet(lc_sub *s, const unsigned char *buf, int n, int kind, double t)
{
	int off = 12 + 4 * (buf[0] & 0x0f);
	if ((buf[0] & 0x10) && off + 4 <= n)
		off += 4 + 4 * ((buf[off + 2] << 8) | buf[off + 3]);
	int end = n;
	if ((buf[0] & 0x20) && n > off && buf[n - 1] > 0)
		end -= buf[n - 1];
	int plen = end - off;
	if (plen <= 0)
		return;
	uint64_t h = fnv64(buf + off, plen < 32 ? plen : 32);
	uint64_t h8 = plen >= 40 ? fnv64(buf + off + 8, 32) : 0;
	GString *l = g_string_new("{\"id\":");
	lc_json_str(l, s->id);
	g_string_append_printf(l, ",\"pkt\":\"%c\",\"t\":%.3f,\"n\":%d,\"h\":\"%016" G_GINT64_MODIFIER "x\",\"h8\":\"%016" G_GINT64_MODIFIER "x\"}",
		kind == LC_AUDIO ? 'a' : 'v', t, plen, (guint64)h, (guint64)h8);
	lc_emit_line(l->str);
	g_string_free(l, TRUE);
}

static void on_rtp(lc_sub *s, unsigned char *buf, int len, double t)
{
	if (!s->srtp_ready)
		return;
	int n = len;
	if (srtp_unprotect(s->srtp_in, buf, &n) != srtp_err_status_ok) {
		s->auth_fail++;
		return;
	}
	if (n < 12 || (buf[0] >> 6) != 2) {
		s->bad_rtp++;
		return;
	}
	int pt = buf[1] & 0x7f;
	int kind = s->kind_by_pt[pt];
	if (kind != LC_AUDIO && kind != LC_VIDEO) {
		s->bad_rtp++;
		return;
	}
	uint16_t seq = (uint16_t)((buf[2] << 8) | buf[3]);
	uint32_t ssrc = ((uint32_t)buf[8] << 24) | ((uint32_t)buf[9] << 16) | ((uint32_t)buf[10] << 8) | buf[11];
	lc_ssrc *x = ssrc_slot(s, ssrc, kind);
	if (!x) {
		s->bad_rtp++;
		return;
	}
	if (x->recv == 0) {
		x->base_ext = x->max_ext = 65536u + seq; /* one cycle of head room for early reordering */
		x->mark_exp = x->rr_exp = 0;
		if (s->window_start > 0)
			x->mark_recv = 0;
	} else {
		int16_t d = (int16_t)(seq - (uint16_t)(x->max_ext & 0xffff));
		if (d > 0)
			x->max_ext += (uint64_t)d;
		else if ((uint64_t)(-d) <= x->max_ext - x->base_ext && x->max_ext + d < x->base_ext)
			x->base_ext = x->max_ext + d; /* reordered packet older than the first one */
	}
	x->recv++;
	x->bytes += (uint64_t)n;
	if (s->trace)
		trace_packet(s, buf, n, kind, t);
	if (s->first_t[kind] == 0) {
		s->first_t[kind] = t;
		char line[256];
		GString *l = g_string_new("{\"id\":");
		lc_json_str(l, s->id);
		g_snprintf(line, sizeof(line), ",\"event\":\"first_rtp\",\"kind\":\"%s\",\"t\":%.3f}", kind == LC_AUDIO ? "audio" : "video", t);
		g_string_append(l, line);
		lc_emit_line(l->str);
		g_string_free(l, TRUE);
	}
	if (kind == LC_VIDEO) {
		if (s->first_video_t == 0)
			s->first_video_t = t;
		if (s->window_start > 0 && s->last_video_t > 0) {
			double from = s->last_video_t > s->window_start ? s->last_video_t : s->window_start;
			if (t - from > s->max_gap)
				s->max_gap = t - from;
		}
		s->last_video_t = t;
	}
}

static void on_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf, gpointer data)
{
	lc_sub *s = data;
	if (len == 0 || len > sizeof(s->shard->scratch) - 64)
		return;
	unsigned char b0 = (unsigned char)buf[0];
	if (b0 >= 20 && b0 <= 63) {
		lc_dtls_incoming(s, (const unsigned char *)buf, (int)len);
	} else if (b0 >= 128 && b0 <= 191 && len >= 12) {
		unsigned char pt = (unsigned char)buf[1] & 0x7f;
		if (pt >= 64 && pt <= 95)
			return; /* SRTCP from Janus (SRs): not needed */
		unsigned char *w = s->shard->scratch;
		memcpy(w, buf, len);
		on_rtp(s, w, (int)len, lc_now_ms());
	}
}

/* ---------- RTCP ---------- */
static gboolean rtcp_cb(gpointer data)
{
	lc_sub *s = data;
	if (!s->srtp_ready || s->state != LC_ST_CONNECTED)
		return G_SOURCE_CONTINUE;
	unsigned char *b = s->shard->scratch;
	int nb = 0;
	int pos = 8;
	for (int i = 0; i < LC_MAX_SSRC && nb < 31; i++) {
		lc_ssrc *x = &s->ss[i];
		if (!x->used || x->recv == 0)
			continue;
		uint64_t exp = x->max_ext - x->base_ext + 1;
		uint64_t ei = exp - x->rr_exp, ri = x->recv - x->rr_recv;
		x->rr_exp = exp;
		x->rr_recv = x->recv;
		int frac;
		if (s->loss_override >= 0)
			frac = s->loss_override;
		else
			frac = (ei > 0 && ei > ri) ? (int)(((ei - ri) << 8) / ei) : 0;
		if (frac > 255)
			frac = 255;
		int64_t lost = (int64_t)exp - (int64_t)x->recv;
		if (s->loss_override > 0)
			lost = (int64_t)(exp * (uint64_t)s->loss_override / 256);
		if (lost < 0)
			lost = 0;
		if (lost > 0x7fffff)
			lost = 0x7fffff;
		uint32_t v[6];
		v[0] = htonl(x->ssrc);
		v[1] = htonl(((uint32_t)frac << 24) | (uint32_t)lost);
		v[2] = htonl((uint32_t)(x->max_ext - 65536u));
		v[3] = 0;
		v[4] = 0;
		v[5] = 0;
		memcpy(b + pos, v, 24);
		pos += 24;
		nb++;
	}
	b[0] = (unsigned char)(0x80 | nb);
	b[1] = 201;
	uint16_t l16 = htons((uint16_t)(pos / 4 - 1));
	memcpy(b + 2, &l16, 2);
	uint32_t me = htonl(s->my_ssrc);
	memcpy(b + 4, &me, 4);
	/* SDES with a CNAME */
	int sd = pos;
	b[pos] = 0x81;
	b[pos + 1] = 202;
	memcpy(b + pos + 4, &me, 4);
	pos += 8;
	b[pos++] = 1;
	b[pos++] = 8;
	memcpy(b + pos, "ahloadcl", 8);
	pos += 8;
	b[pos++] = 0; /* end of items, pad to 32 bits */
	while ((pos - sd) % 4)
		b[pos++] = 0;
	l16 = htons((uint16_t)((pos - sd) / 4 - 1));
	memcpy(b + sd + 2, &l16, 2);
	if (s->remb_bps > 0 && nb > 0) {
		int r = pos;
		b[pos] = 0x80 | 15;
		b[pos + 1] = 206;
		memcpy(b + pos + 4, &me, 4);
		memset(b + pos + 8, 0, 4);
		memcpy(b + pos + 12, "REMB", 4);
		uint32_t mant = s->remb_bps, e = 0;
		while (mant >= (1u << 18)) {
			mant >>= 1;
			e++;
		}
		int nss = 0;
		for (int i = 0; i < LC_MAX_SSRC; i++)
			if (s->ss[i].used && s->ss[i].kind == LC_VIDEO)
				nss++;
		if (nss == 0)
			nss = 1;
		b[pos + 16] = (unsigned char)nss;
		b[pos + 17] = (unsigned char)((e << 2) | (mant >> 16));
		b[pos + 18] = (unsigned char)(mant >> 8);
		b[pos + 19] = (unsigned char)mant;
		pos += 20;
		int k = 0;
		for (int i = 0; i < LC_MAX_SSRC && k < nss; i++)
			if (s->ss[i].used && s->ss[i].kind == LC_VIDEO) {
				uint32_t v = htonl(s->ss[i].ssrc);
				memcpy(b + pos, &v, 4);
				pos += 4;
				k++;
			}
		if (k == 0) {
			memset(b + pos, 0, 4);
			pos += 4;
		}
		l16 = htons((uint16_t)((pos - r) / 4 - 1));
		memcpy(b + r + 2, &l16, 2);
	}
	int n = pos;
	if (srtp_protect_rtcp(s->srtp_out, b, &n) == srtp_err_status_ok)
		nice_agent_send(s->agent, s->stream, 1, (guint)n, (const gchar *)b);
	return G_SOURCE_CONTINUE;
}

void lc_sub_srtp_ready(lc_sub *s)
{
	s->srtp_ready = TRUE;
	s->state = LC_ST_CONNECTED;
	GString *l = g_string_new("{\"id\":");
	lc_json_str(l, s->id);
	g_string_append_printf(l, ",\"event\":\"connected\",\"t\":%.3f}", lc_now_ms());
	lc_emit_line(l->str);
	g_string_free(l, TRUE);
	if (!s->rtcp_timer) {
		s->rtcp_timer = g_timeout_source_new_seconds(1);
		g_source_set_callback(s->rtcp_timer, rtcp_cb, s, NULL);
		g_source_attach(s->rtcp_timer, s->shard->ctx);
	}
}

/* ---------- ICE ---------- */
static void on_state(NiceAgent *agent, guint stream, guint comp, guint st, gpointer data)
{
	lc_sub *s = data;
	if (lc_verbose)
		fprintf(stderr, "[%s] ICE state %s\n", s->id, nice_component_state_to_string(st));
	if (st == NICE_COMPONENT_STATE_FAILED) {
		lc_sub_fail(s, "ICE failed");
	} else if ((st == NICE_COMPONENT_STATE_CONNECTED || st == NICE_COMPONENT_STATE_READY) && !s->ssl &&
			s->state != LC_ST_FAILED) {
		if (!lc_dtls_start(s))
			lc_sub_fail(s, "DTLS setup failed");
	}
}

static void apply_offer_maps(lc_sub *s)
{
	for (int i = 0; i < 128; i++)
		s->kind_by_pt[i] = -1;
	for (int i = 0; i < s->offer.nml; i++) {
		lc_mline *m = &s->offer.ml[i];
		if (m->port == 0 || m->kind == LC_OTHER)
			continue;
		for (int k = 0; k < m->npts; k++)
			s->kind_by_pt[m->pts[k]] = m->kind;
	}
}

static void add_remote_candidates(lc_sub *s, lc_offer *o)
{
	GSList *list = NULL;
	for (int i = 0; i < o->ncand; i++) {
		NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(s->agent, s->stream, o->cand[i]);
		if (lc_verbose)
			fprintf(stderr, "[%s] remote %s -> %p\n", s->id, o->cand[i], (void *)c);
		if (c && c->component_id == 1 && c->transport == NICE_CANDIDATE_TRANSPORT_UDP)
			list = g_slist_append(list, c);
		else if (c)
			nice_candidate_free(c);
	}
	if (list)
		nice_agent_set_remote_candidates(s->agent, s->stream, 1, list);
	g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
}

static void send_answer(lc_sub *s)
{
	gchar *ufrag = NULL, *pwd = NULL;
	nice_agent_get_local_credentials(s->agent, s->stream, &ufrag, &pwd);
	GString *cands = g_string_new(NULL);
	GSList *lc = nice_agent_get_local_candidates(s->agent, s->stream, 1);
	for (GSList *i = lc; i; i = i->next) {
		gchar *c = nice_agent_generate_local_candidate_sdp(s->agent, i->data);
		g_string_append_printf(cands, "%s%s\r\n", strncmp(c, "a=", 2) ? "a=" : "", c);
		if (lc_verbose)
			fprintf(stderr, "[%s] local %s\n", s->id, c);
		g_free(c);
	}
	g_slist_free_full(lc, (GDestroyNotify)nice_candidate_free);
	static int version = 1;
	char *sdp = lc_sdp_answer(&s->offer, ufrag, pwd, lc_dtls_fingerprint(), cands->str,
		(unsigned long long)s->my_ssrc, g_atomic_int_add(&version, 1));
	GString *l = g_string_new("{\"id\":");
	lc_json_str(l, s->id);
	g_string_append(l, ",\"answer\":");
	lc_json_str(l, sdp);
	g_string_append_c(l, '}');
	lc_emit_line(l->str);
	g_string_free(l, TRUE);
	g_free(sdp);
	g_string_free(cands, TRUE);
	g_free(ufrag);
	g_free(pwd);
	s->answer_pending = FALSE;
}

static void on_gathering_done(NiceAgent *agent, guint stream, gpointer data)
{
	lc_sub *s = data;
	if (s->gathered)
		return;
	s->gathered = TRUE;
	if (s->state == LC_ST_GATHERING)
		s->state = LC_ST_ICE;
	nice_agent_set_remote_credentials(s->agent, s->stream, s->offer.ufrag, s->offer.pwd);
	add_remote_candidates(s, &s->offer);
	s->remote_set = TRUE;
	if (s->answer_pending)
		send_answer(s);
}

static lc_sub *sub_new(lc_shard *sh, const char *id)
{
	lc_sub *s = g_new0(lc_sub, 1);
	s->id = g_strdup(id);
	s->shard = sh;
	s->loss_override = -1;
	s->my_ssrc = g_random_int();
	s->agent = nice_agent_new_full(sh->ctx, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_NONE);
	g_object_set(s->agent, "upnp", FALSE, "ice-tcp", FALSE, "ice-udp", TRUE, "controlling-mode", FALSE,
		"stun-max-retransmissions", 5, NULL);
	NiceAddress addr;
	nice_address_init(&addr);
	if (nice_address_set_from_string(&addr, lc_local_ip))
		nice_agent_add_local_address(s->agent, &addr);
	s->stream = nice_agent_add_stream(s->agent, 1);
	g_signal_connect(s->agent, "component-state-changed", G_CALLBACK(on_state), s);
	g_signal_connect(s->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), s);
	return s;
}

void lc_sub_offer(lc_shard *sh, const char *id, const char *sdp)
{
	lc_offer *o = g_new0(lc_offer, 1);
	char *err = NULL;
	if (!lc_sdp_parse_offer(sdp, o, &err)) {
		char msg[200];
		g_snprintf(msg, sizeof(msg), "bad offer: %s", err);
		lc_emit_error(id, msg);
		g_free(err);
		g_free(o);
		return;
	}
	lc_sub *s = g_hash_table_lookup(sh->subs, id);
	if (!s) {
		s = sub_new(sh, id);
		g_hash_table_insert(sh->subs, s->id, s);
		s->offer = *o;
		apply_offer_maps(s);
		s->state = LC_ST_GATHERING;
		s->answer_pending = TRUE;
		if (!nice_agent_gather_candidates(s->agent, s->stream)) {
			lc_sub_fail(s, "candidate gathering failed");
			lc_emit_error(id, "candidate gathering failed");
		}
		nice_agent_attach_recv(s->agent, s->stream, 1, sh->ctx, on_recv, s);
	} else {
		/* renegotiation: same ICE and DTLS, new m-lines */
		int oldn = s->offer.ncand;
		gboolean newcreds = strcmp(o->ufrag, s->offer.ufrag) || strcmp(o->pwd, s->offer.pwd);
		char fp[128];
		g_strlcpy(fp, s->offer.fingerprint, sizeof(fp));
		s->offer = *o;
		if (strcmp(fp, o->fingerprint) != 0 && s->ssl)
			lc_sub_fail(s, "DTLS fingerprint changed in renegotiation");
		apply_offer_maps(s);
		if (s->remote_set) {
			if (newcreds)
				nice_agent_set_remote_credentials(s->agent, s->stream, o->ufrag, o->pwd);
			if (o->ncand != oldn || newcreds)
				add_remote_candidates(s, o);
		}
		s->answer_pending = TRUE;
		if (s->gathered)
			send_answer(s);
	}
	g_free(o);
}

void lc_sub_candidate(lc_shard *sh, const char *id, const char *cand)
{
	lc_sub *s = g_hash_table_lookup(sh->subs, id);
	if (!s) {
		lc_emit_error(id, "unknown id");
		return;
	}
	char c[256];
	g_snprintf(c, sizeof(c), "%s%s", strncmp(cand, "a=", 2) ? "a=" : "", cand);
	if (s->offer.ncand < LC_MAX_CANDS)
		g_strlcpy(s->offer.cand[s->offer.ncand++], c, sizeof(s->offer.cand[0]));
	if (!s->remote_set)
		return;
	NiceCandidate *nc = nice_agent_parse_remote_candidate_sdp(s->agent, s->stream, c);
	if (!nc) {
		lc_emit_error(id, "unparsable candidate");
		return;
	}
	GSList l = { nc, NULL };
	if (nc->component_id == 1)
		nice_agent_set_remote_candidates(s->agent, s->stream, 1, &l);
	nice_candidate_free(nc);
}

void lc_sub_free(lc_sub *s)
{
	if (s->rtcp_timer) {
		g_source_destroy(s->rtcp_timer);
		g_source_unref(s->rtcp_timer);
	}
	lc_dtls_free(s);
	if (s->agent) {
		nice_agent_attach_recv(s->agent, s->stream, 1, s->shard->ctx, NULL, NULL);
		g_signal_handlers_disconnect_by_data(s->agent, s);
		nice_agent_remove_stream(s->agent, s->stream);
		nice_agent_close_async(s->agent, NULL, NULL);
		g_object_unref(s->agent);
	}
	g_free(s->id);
	g_free(s);
}

void lc_sub_close(lc_shard *sh, const char *id, gboolean notify)
{
	lc_sub *s = g_hash_table_lookup(sh->subs, id);
	if (!s) {
		if (notify)
			lc_emit_error(id, "unknown id");
		return;
	}
	g_hash_table_remove(sh->subs, id); /* the table's value destroy frees it */
	if (notify) {
		GString *l = g_string_new("{\"id\":");
		lc_json_str(l, id);
		g_string_append(l, ",\"event\":\"closed\"}");
		lc_emit_line(l->str);
		g_string_free(l, TRUE);
	}
}

/* ---------- measurement ---------- */
void lc_sub_mark(lc_sub *s, double t)
{
	s->window_start = t;
	s->max_gap = 0;
	for (int i = 0; i < LC_MAX_SSRC; i++) {
		lc_ssrc *x = &s->ss[i];
		if (!x->used)
			continue;
		x->mark_recv = x->recv;
		x->mark_exp = x->recv ? x->max_ext - x->base_ext + 1 : 0;
	}
}

void lc_sub_stats(lc_sub *s, GString *o)
{
	uint64_t r[2] = { 0, 0 }, e[2] = { 0, 0 }, by[2] = { 0, 0 }, wr = 0, we = 0;
	for (int i = 0; i < LC_MAX_SSRC; i++) {
		lc_ssrc *x = &s->ss[i];
		if (!x->used || x->recv == 0)
			continue;
		uint64_t exp = x->max_ext - x->base_ext + 1;
		r[x->kind] += x->recv;
		e[x->kind] += exp;
		by[x->kind] += x->bytes;
		if (s->window_start > 0) {
			wr += x->recv - x->mark_recv;
			we += exp - x->mark_exp;
		}
	}
	g_string_append(o, "{\"id\":");
	lc_json_str(o, s->id);
	g_string_append_printf(o, ",\"state\":\"%s\",\"audio\":{\"recv\":%" G_GUINT64_FORMAT ",\"expected\":%" G_GUINT64_FORMAT
		",\"bytes\":%" G_GUINT64_FORMAT "},\"video\":{\"recv\":%" G_GUINT64_FORMAT ",\"expected\":%" G_GUINT64_FORMAT
		",\"bytes\":%" G_GUINT64_FORMAT "},\"window\":{\"recv\":%" G_GUINT64_FORMAT ",\"expected\":%" G_GUINT64_FORMAT
		"},\"max_video_gap_ms\":%.1f,\"last_video_t\":%.3f,\"first_video_t\":%.3f,\"auth_fail\":%" G_GUINT64_FORMAT
		",\"bad_rtp\":%" G_GUINT64_FORMAT "}",
		state_names[s->state], r[0], e[0], by[0], r[1], e[1], by[1], wr, we, s->max_gap, s->last_video_t,
		s->first_video_t, s->auth_fail, s->bad_rtp);
}

void lc_sub_report_loss(lc_shard *sh, const char *id, double fraction)
{
	lc_sub *s = g_hash_table_lookup(sh->subs, id);
	if (!s) {
		lc_emit_error(id, "unknown id");
		return;
	}
	s->loss_override = fraction < 0 ? -1 : (int)(fraction * 256 + 0.5);
	if (s->loss_override > 255)
		s->loss_override = 255;
}

void lc_sub_remb(lc_shard *sh, const char *id, uint32_t bps)
{
	lc_sub *s = g_hash_table_lookup(sh->subs, id);
	if (!s) {
		lc_emit_error(id, "unknown id");
		return;
	}
	s->remb_bps = bps;
}

void lc_sub_corrupt_key(lc_shard *sh, const char *id)
{
	lc_sub *s = g_hash_table_lookup(sh->subs, id);
	if (!s || !s->srtp_in) {
		lc_emit_error(id, s ? "not connected" : "unknown id");
		return;
	}
	s->key_in[0] ^= 0x5a;
	lc_srtp_make_inbound(s);
}

void lc_sub_trace(lc_shard *sh, const char *id, gboolean on)
{
	lc_sub *s = g_hash_table_lookup(sh->subs, id);
	if (!s) {
		lc_emit_error(id, "unknown id");
		return;
	}
	s->trace = on;
}
