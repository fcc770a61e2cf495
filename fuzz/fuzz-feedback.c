/* allhands: libFuzzer target for RTCP receiver feedback (docs/fuzzing.md): bytes, as an attendee's
 * decrypted compound RTCP packet -> ah_rtcp_feedback. The loss must be -1 or a fraction in [0, 1),
 * and parsing a prefix must never find a REMB the whole packet does not have.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>

#include <glib.h>

#include "allhands/feedback.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	double loss, prefix_loss;
	guint32 bps, prefix_bps;
	ah_rtcp_feedback(data, size, &loss, &bps);
	if (loss != -1 && (loss < 0 || loss >= 1))
		abort();
	/* A truncated copy: what it reports was reported by the whole packet too. */
	ah_rtcp_feedback(data, size / 2, &prefix_loss, &prefix_bps);
	if (prefix_loss > loss || (prefix_bps != 0 && prefix_bps != bps))
		abort();
	return 0;
}
