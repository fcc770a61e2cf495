/* allhands core: SDP format parameters (include/allhands/fmtp.h).
 *
 * Owns the parsing and building of a=fmtp values for Opus and H.264. Pure functions over strings;
 * any thread (the control thread, through plugin/glue/sdp.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "allhands/fmtp.h"

gboolean ah_fmtp_param(const char *fmtp, const char *key, char *out, gsize outlen)
{
	const gsize keylen = strlen(key);
	const char *p = fmtp;
	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		const gsize len = end != NULL ? (gsize)(end - p) : strlen(p);
		if (len > keylen && p[keylen] == '=' && g_ascii_strncasecmp(p, key, keylen) == 0) {
			const char *value = p + keylen + 1;
			gsize vlen = len - keylen - 1;
			while (vlen > 0 && value[0] == ' ') {
				value++;
				vlen--;
			}
			while (vlen > 0 && value[vlen - 1] == ' ')
				vlen--;
			if (vlen >= outlen)
				return FALSE;
			memcpy(out, value, vlen);
			out[vlen] = '\0';
			return TRUE;
		}
		p = end;
	}
	return FALSE;
}

void ah_fmtp_opus(const char *offered, char *out, gsize outlen)
{
	static const char *const flags[] = {"useinbandfec", "usedtx", "stereo"};
	char value[8];
	out[0] = '\0';
	for (gsize i = 0; offered != NULL && i < G_N_ELEMENTS(flags); i++) {
		if (!ah_fmtp_param(offered, flags[i], value, sizeof(value)) || strcmp(value, "1") != 0)
			continue;
		if (out[0] != '\0')
			g_strlcat(out, ";", outlen);
		g_strlcat(out, flags[i], outlen);
		g_strlcat(out, "=1", outlen);
	}
}

static gboolean hex6(const char *s)
{
	if (s == NULL || strlen(s) != 6)
		return FALSE;
	for (int i = 0; i < 6; i++)
		if (!g_ascii_isxdigit(s[i]))
			return FALSE;
	return TRUE;
}

int ah_fmtp_h264_profile_score(const char *plid)
{
	if (!hex6(plid))
		return 0;
	char idc[3] = {plid[0], plid[1], '\0'}, iop[3] = {plid[2], plid[3], '\0'};
	const unsigned long profile_idc = strtoul(idc, NULL, 16), constraints = strtoul(iop, NULL, 16);
	if (profile_idc == 0x42 && (constraints & 0x40))
		return 2;
	return profile_idc == 0x42 ? 1 : 0;
}

gboolean ah_fmtp_h264(const char *plid, char *out, gsize outlen)
{
	if (!hex6(plid))
		return FALSE;
	char lower[7];
	for (int i = 0; i < 6; i++)
		lower[i] = g_ascii_tolower(plid[i]);
	lower[6] = '\0';
	return (gsize)g_snprintf(out, outlen, "profile-level-id=%s;packetization-mode=1", lower) < outlen;
}

gboolean ah_fmtp_copy(const char *fmtp, char *out, gsize outlen, char **error)
{
	out[0] = '\0';
	if (fmtp == NULL)
		return TRUE;
	const gsize len = strlen(fmtp);
	const char *reason = NULL;
	if (len >= outlen)
		reason = "too long";
	else if (!g_utf8_validate(fmtp, (gssize)len, NULL))
		reason = "not valid UTF-8";
	for (gsize i = 0; reason == NULL && i < len; i++)
		if ((guchar)fmtp[i] < 0x20 || fmtp[i] == 0x7f)
			reason = "a control character";
	if (reason != NULL) {
		if (error != NULL)
			*error = g_strdup_printf("fmtp of %" G_GSIZE_FORMAT " bytes refused (%s; at most %" G_GSIZE_FORMAT
				" bytes of UTF-8 text)", len, reason, outlen - 1);
		return FALSE;
	}
	memcpy(out, fmtp, len + 1);
	return TRUE;
}
