/* allhands: unit tests of SDP format parameters (include/allhands/fmtp.h, plugin/core/fmtp.c).
 * Issue 12: an H.264 fmtp was cut at 255 bytes, possibly inside a UTF-8 character; now an fmtp is
 * copied whole or refused with a reason, never cut.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "allhands/engine.h"
#include "allhands/fmtp.h"

/* "packetization-mode=0;x-note=" then 'é' (2 bytes) repeated, `total` bytes in all when even. */
static char *fmtp_of(gsize total)
{
	GString *s = g_string_new("packetization-mode=0;x-note=");
	while (s->len + 2 <= total)
		g_string_append(s, "\xc3\xa9");
	while (s->len < total)
		g_string_append_c(s, 'x');
	return g_string_free(s, FALSE);
}

static void test_copy_never_cuts(void)
{
	char out[AH_FMTP_LEN];
	char *error = NULL;
	/* The reproduction: 300 bytes whose byte 255 is the second byte of an 'é'. */
	char *long_fmtp = fmtp_of(300);
	g_assert_cmpuint(strlen(long_fmtp), ==, 300);
	g_assert_cmpint((guchar)long_fmtp[254], ==, 0xc3);
	g_assert_false(ah_fmtp_copy(long_fmtp, out, sizeof(out), &error));
	g_assert_cmpstr(out, ==, "");
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error, "300 bytes"));
	g_assert_nonnull(strstr(error, "at most 255"));
	g_clear_pointer(&error, g_free);
	g_free(long_fmtp);

	/* 255 bytes of UTF-8 fit exactly and are copied whole; 256 do not. */
	char *fits = fmtp_of(AH_FMTP_LEN - 1);
	g_assert_true(ah_fmtp_copy(fits, out, sizeof(out), &error));
	g_assert_null(error);
	g_assert_cmpstr(out, ==, fits);
	g_assert_true(g_utf8_validate(out, -1, NULL));
	g_free(fits);
	char *over = fmtp_of(AH_FMTP_LEN);
	g_assert_false(ah_fmtp_copy(over, out, sizeof(out), &error));
	g_clear_pointer(&error, g_free);
	g_free(over);

	/* Not text: refused whatever the length. */
	g_assert_false(ah_fmtp_copy("profile-level-id=42e01f;x=\xc3", out, sizeof(out), &error));
	g_assert_nonnull(strstr(error, "UTF-8"));
	g_clear_pointer(&error, g_free);
	g_assert_false(ah_fmtp_copy("packetization-mode=1\r\na=evil", out, sizeof(out), &error));
	g_assert_nonnull(strstr(error, "control"));
	g_clear_pointer(&error, g_free);

	g_assert_true(ah_fmtp_copy(NULL, out, sizeof(out), &error));
	g_assert_cmpstr(out, ==, "");
	g_assert_true(ah_fmtp_copy("", out, sizeof(out), NULL));
	g_assert_cmpstr(out, ==, "");
}

static void test_param(void)
{
	char v[16];
	const char *fmtp = "level-asymmetry-allowed=1; packetization-mode=1 ;Profile-Level-Id=42E01F";
	g_assert_true(ah_fmtp_param(fmtp, "packetization-mode", v, sizeof(v)));
	g_assert_cmpstr(v, ==, "1");
	g_assert_true(ah_fmtp_param(fmtp, "profile-level-id", v, sizeof(v)));
	g_assert_cmpstr(v, ==, "42E01F");
	g_assert_false(ah_fmtp_param(fmtp, "level", v, sizeof(v)));
	g_assert_false(ah_fmtp_param(fmtp, "max-br", v, sizeof(v)));
	/* A value that does not fit is absent, not cut. */
	g_assert_false(ah_fmtp_param("sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==", "sprop-parameter-sets", v,
		sizeof(v)));
	g_assert_false(ah_fmtp_param(NULL, "x", v, sizeof(v)));
	g_assert_false(ah_fmtp_param("", "x", v, sizeof(v)));
	g_assert_false(ah_fmtp_param("x", "x", v, sizeof(v)));
}

static void test_opus(void)
{
	char out[64];
	ah_fmtp_opus("minptime=10;useinbandfec=1;stereo=1;usedtx=0", out, sizeof(out));
	g_assert_cmpstr(out, ==, "useinbandfec=1;stereo=1");
	ah_fmtp_opus("minptime=10", out, sizeof(out));
	g_assert_cmpstr(out, ==, "");
	ah_fmtp_opus(NULL, out, sizeof(out));
	g_assert_cmpstr(out, ==, "");
	ah_fmtp_opus("usedtx=1;stereo=1;useinbandfec=1", out, sizeof(out));
	g_assert_cmpstr(out, ==, "useinbandfec=1;usedtx=1;stereo=1");
}

static void test_h264(void)
{
	g_assert_cmpint(ah_fmtp_h264_profile_score("42e01f"), ==, 2);
	g_assert_cmpint(ah_fmtp_h264_profile_score("42001f"), ==, 1);
	g_assert_cmpint(ah_fmtp_h264_profile_score("640c1f"), ==, 0);
	g_assert_cmpint(ah_fmtp_h264_profile_score("42e0"), ==, 0);
	g_assert_cmpint(ah_fmtp_h264_profile_score("42e0zz"), ==, 0);
	char out[AH_FMTP_LEN];
	g_assert_true(ah_fmtp_h264("42E01F", out, sizeof(out)));
	g_assert_cmpstr(out, ==, "profile-level-id=42e01f;packetization-mode=1");
	g_assert_false(ah_fmtp_h264("42e01", out, sizeof(out)));
	g_assert_false(ah_fmtp_h264("42e01f", out, 20));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fmtp/copy-never-cuts", test_copy_never_cuts);
	g_test_add_func("/fmtp/param", test_param);
	g_test_add_func("/fmtp/opus", test_opus);
	g_test_add_func("/fmtp/h264", test_h264);
	return g_test_run();
}
