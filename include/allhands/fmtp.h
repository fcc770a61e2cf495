/* allhands: SDP format parameters (a=fmtp) of the codecs the relay carries.
 *
 * Pure string logic, no Janus, no allocation except error messages: reading one parameter of an
 * fmtp list, Opus's flags to keep, the H.264 profile preference, and the fmtp attendees are offered.
 * plugin/glue/sdp.c calls it while reading a presenter's offer.
 *
 * An fmtp is never cut: one that does not fit in AH_FMTP_LEN - 1 bytes (255), or that is not valid
 * UTF-8 or holds a control character, is refused with a message, and the glue then does not use
 * that codec on that m-line (docs/api.md, "publish").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_FMTP_H
#define ALLHANDS_FMTP_H

#include <glib.h>

/* Value of `key` (ASCII, case-insensitive) in an fmtp parameter list ("a=1;b=2"), copied to `out`
 * without surrounding spaces. FALSE when absent, or when the value does not fit in `outlen` (it is
 * never cut). */
gboolean ah_fmtp_param(const char *fmtp, const char *key, char *out, gsize outlen);

/* Opus: the attendee fmtp keeping the presenter's useinbandfec, usedtx and stereo when set to 1
 * (as Janus's VideoRoom does), in that order; "" when none. `out` holds at least 48 bytes. */
void ah_fmtp_opus(const char *offered, char *out, gsize outlen);

/* H.264 profile-level-id preference: 2 constrained baseline (decodes everywhere, Firefox's OpenH264
 * included), 1 other baseline, 0 anything else or malformed (not 6 hex digits). */
int ah_fmtp_h264_profile_score(const char *profile_level_id);

/* H.264 attendee fmtp for a chosen profile: "profile-level-id=<lower case>;packetization-mode=1".
 * FALSE when the profile is not 6 hex digits or the result does not fit. */
gboolean ah_fmtp_h264(const char *profile_level_id, char *out, gsize outlen);

/* Copy a presenter's fmtp as it is (NULL: ""). FALSE, `out` = "" and *error (g_free) when it is
 * `outlen` bytes or longer, not valid UTF-8, or holds a control character. */
gboolean ah_fmtp_copy(const char *fmtp, char *out, gsize outlen, char **error);

#endif
