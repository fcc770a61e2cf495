/* ah-loadclient: parses the parts of Janus's SDP offer a receive-only subscriber needs (ICE
 * credentials, DTLS fingerprint, candidates, per m-line mid/direction/first codec) and writes the
 * recvonly answer (rtcp-mux, setup:active, host candidates, end-of-candidates).
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "lc.h"

static void copy_trim(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static gboolean starts(const char *s, const char *p, const char **rest)
{
	size_t n = strlen(p);
	if (strncmp(s, p, n) != 0)
		return FALSE;
	if (rest)
		*rest = s + n;
	return TRUE;
}

static gboolean parse_mline(const char *v, lc_mline *m)
{
	memset(m, 0, sizeof(*m));
	m->pt = -1;
	char proto[40];
	int port = 0, used = 0;
	if (sscanf(v, "%15s %d %39s %n", m->media, &port, proto, &used) < 3)
		return FALSE;
	if (port < 0 || port > 65535)
		return FALSE;
	m->port = port;
	copy_trim(m->proto, sizeof(m->proto), proto);
	m->kind = !strcmp(m->media, "audio") ? LC_AUDIO : !strcmp(m->media, "video") ? LC_VIDEO : LC_OTHER;
	g_strlcpy(m->dir, "sendrecv", sizeof(m->dir));
	const char *p = v + used;
	while (*p && m->npts < 32) {
		char *end;
		long pt = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pt >= 0 && pt < 128)
			m->pts[m->npts++] = (int)pt;
		p = end;
		while (*p == ' ')
			p++;
	}
	if (m->npts > 0)
		m->pt = m->pts[0];
	return TRUE;
}

gboolean lc_sdp_parse_offer(const char *sdp, lc_offer *o, char **err)
{
	memset(o, 0, sizeof(*o));
	if (!sdp || strncmp(sdp, "v=0", 3) != 0) {
		*err = g_strdup("not an SDP (no v=0)");
		return FALSE;
	}
	gchar **lines = g_strsplit(sdp, "\n", -1);
	lc_mline *cur = NULL;
	gboolean ok = TRUE;
	for (int i = 0; lines[i]; i++) {
		char *l = lines[i];
		size_t n = strlen(l);
		if (n && l[n - 1] == '\r')
			l[n - 1] = '\0';
		const char *v;
		if (starts(l, "m=", &v)) {
			if (o->nml >= LC_MAX_MLINES) {
				*err = g_strdup("too many m-lines");
				ok = FALSE;
				break;
			}
			cur = &o->ml[o->nml];
			if (!parse_mline(v, cur)) {
				*err = g_strdup_printf("bad m-line: %.60s", l);
				ok = FALSE;
				break;
			}
			o->nml++;
		} else if (starts(l, "a=ice-ufrag:", &v)) {
			copy_trim(o->ufrag, sizeof(o->ufrag), v);
		} else if (starts(l, "a=ice-pwd:", &v)) {
			copy_trim(o->pwd, sizeof(o->pwd), v);
		} else if (starts(l, "a=fingerprint:", &v)) {
			if (g_ascii_strncasecmp(v, "sha-256 ", 8) == 0) {
				copy_trim(o->fingerprint, sizeof(o->fingerprint), v + 8);
				for (char *c = o->fingerprint; *c; c++)
					*c = (char)toupper((unsigned char)*c);
			}
		} else if (starts(l, "a=candidate:", &v)) {
			if (o->ncand < LC_MAX_CANDS)
				copy_trim(o->cand[o->ncand++], sizeof(o->cand[0]), l); /* keeps "a=": libnice wants it */
		} else if (cur && starts(l, "a=mid:", &v)) {
			copy_trim(cur->mid, sizeof(cur->mid), v);
		} else if (cur && (!strcmp(l, "a=sendonly") || !strcmp(l, "a=recvonly") || !strcmp(l, "a=sendrecv") ||
				!strcmp(l, "a=inactive"))) {
			g_strlcpy(cur->dir, l + 2, sizeof(cur->dir));
		} else if (cur && starts(l, "a=rtpmap:", &v)) {
			int pt = atoi(v);
			const char *sp = strchr(v, ' ');
			if (pt == cur->pt && sp)
				copy_trim(cur->rtpmap, sizeof(cur->rtpmap), sp + 1);
		} else if (cur && starts(l, "a=fmtp:", &v)) {
			int pt = atoi(v);
			const char *sp = strchr(v, ' ');
			if (pt == cur->pt && sp)
				copy_trim(cur->fmtp, sizeof(cur->fmtp), sp + 1);
		} else if (cur && starts(l, "a=rtcp-fb:", &v)) {
			int pt = atoi(v);
			const char *sp = strchr(v, ' ');
			if (pt == cur->pt && sp && !strncmp(sp + 1, "goog-remb", 9))
				cur->remb = TRUE;
		}
	}
	g_strfreev(lines);
	if (!ok)
		return FALSE;
	if (o->nml == 0) {
		*err = g_strdup("offer has no m-line");
		return FALSE;
	}
	if (!o->ufrag[0] || !o->pwd[0]) {
		*err = g_strdup("offer has no ice-ufrag/ice-pwd");
		return FALSE;
	}
	if (!o->fingerprint[0]) {
		*err = g_strdup("offer has no sha-256 fingerprint");
		return FALSE;
	}
	return TRUE;
}

static gboolean mline_active(const lc_mline *m)
{
	return m->port != 0 && m->kind != LC_OTHER && m->pt >= 0 && strstr(m->proto, "SAVPF") != NULL;
}

char *lc_sdp_answer(const lc_offer *o, const char *ufrag, const char *pwd, const char *fingerprint,
	const char *cands, unsigned long long sess_id, int version)
{
	GString *a = g_string_sized_new(2048);
	int port = 9;
	/* the port of the first host candidate goes on the m-lines, as browsers do */
	if (cands && *cands) {
		char ip[64];
		unsigned int comp, prio, p;
		char found[40], tr[8];
		if (sscanf(cands, "a=candidate:%39s %u %7s %u %63s %u", found, &comp, tr, &prio, ip, &p) == 6)
			port = (int)p;
	}
	g_string_append_printf(a, "v=0\r\no=- %llu %d IN IP4 %s\r\ns=-\r\nt=0 0\r\n", sess_id, version, lc_local_ip);
	g_string_append(a, "a=group:BUNDLE");
	for (int i = 0; i < o->nml; i++)
		if (mline_active(&o->ml[i]) && o->ml[i].mid[0])
			g_string_append_printf(a, " %s", o->ml[i].mid);
	g_string_append(a, "\r\na=msid-semantic: WMS *\r\n");
	gboolean first = TRUE;
	for (int i = 0; i < o->nml; i++) {
		const lc_mline *m = &o->ml[i];
		if (!mline_active(m)) {
			g_string_append_printf(a, "m=%s 0 %s %d\r\nc=IN IP4 0.0.0.0\r\n", m->media, m->proto[0] ? m->proto : "UDP/TLS/RTP/SAVPF",
				m->pt >= 0 ? m->pt : 0);
			if (m->mid[0])
				g_string_append_printf(a, "a=mid:%s\r\n", m->mid);
			g_string_append(a, "a=inactive\r\n");
			continue;
		}
		const char *dir = !strcmp(m->dir, "inactive") || !strcmp(m->dir, "recvonly") ? "inactive" : "recvonly";
		g_string_append_printf(a, "m=%s %d %s %d\r\nc=IN IP4 %s\r\n", m->media, port, m->proto, m->pt, lc_local_ip);
		if (m->mid[0])
			g_string_append_printf(a, "a=mid:%s\r\n", m->mid);
		g_string_append_printf(a, "a=%s\r\na=rtcp-mux\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
			"a=fingerprint:sha-256 %s\r\na=setup:active\r\n", dir, ufrag, pwd, fingerprint);
		if (m->rtpmap[0])
			g_string_append_printf(a, "a=rtpmap:%d %s\r\n", m->pt, m->rtpmap);
		if (m->fmtp[0])
			g_string_append_printf(a, "a=fmtp:%d %s\r\n", m->pt, m->fmtp);
		if (m->remb)
			g_string_append_printf(a, "a=rtcp-fb:%d goog-remb\r\n", m->pt);
		if (first) {
			if (cands)
				g_string_append(a, cands);
			g_string_append(a, "a=end-of-candidates\r\n");
			first = FALSE;
		}
	}
	return g_string_free(a, FALSE);
}
