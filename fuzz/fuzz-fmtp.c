/* allhands: libFuzzer target for SDP format parameters (docs/fuzzing.md): bytes, as a presenter's
 * a=fmtp value -> ah_fmtp_copy, ah_fmtp_param, ah_fmtp_opus and the H.264 helpers. An fmtp is copied
 * whole (valid UTF-8, under the limit) or refused with a reason and an empty result, never cut; a
 * parameter's value is a terminated substring of the input; nothing writes past its buffer (ASan).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "allhands/engine.h"
#include "allhands/fmtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_copy(const char *fmtp)
{
	char out[AH_FMTP_LEN];
	char *error = NULL;
	if (ah_fmtp_copy(fmtp, out, sizeof(out), &error)) {
		if (error != NULL || strcmp(out, fmtp) != 0 || !g_utf8_validate(out, -1, NULL))
			abort();
	} else if (error == NULL || out[0] != '\0' || (strlen(fmtp) < sizeof(out) && g_utf8_validate(fmtp, -1, NULL) &&
			   strpbrk(fmtp, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15"
				"\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f") == NULL)) {
		abort();
	}
	g_free(error);
}

static void check_params(const char *fmtp)
{
	static const char *const keys[] = {"profile-level-id", "packetization-mode", "useinbandfec", "a", ""};
	char value[16], h264[AH_FMTP_LEN], opus[64];
	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		if (!ah_fmtp_param(fmtp, keys[i], value, sizeof(value)))
			continue;
		if (strlen(value) >= sizeof(value) || strstr(fmtp, value) == NULL)
			abort();
		int score = ah_fmtp_h264_profile_score(value);
		if (score < 0 || score > 2)
			abort();
		if (ah_fmtp_h264(value, h264, sizeof(h264)) && strncmp(h264, "profile-level-id=", 17) != 0)
			abort();
	}
	ah_fmtp_opus(fmtp, opus, sizeof(opus));
	if (strlen(opus) >= sizeof(opus))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *fmtp = g_strndup((const char *)data, size);
	check_copy(fmtp);
	check_params(fmtp);
	g_free(fmtp);
	return 0;
}
