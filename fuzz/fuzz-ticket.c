/* allhands: libFuzzer target for redirect tickets (docs/fuzzing.md): bytes -> ah_ticket_verify with
 * a fixed cluster secret at a fixed time. A verified ticket's fields must be terminated, in range and
 * unexpired, and signing them again must give the input back byte for byte (one spelling per
 * ticket); the replay set then takes its nonce once and refuses it the second time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "allhands/ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-cluster-secret-0123456789abcdef"
#define NOW_S G_GINT64_CONSTANT(1793610000) /* fuzz/make-seeds.mjs's NOW */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *)data, size);
	ah_ticket t;
	ah_error err = ah_ticket_verify(text, SECRET, NOW_S, &t);
	if (err == AH_ERR_OK) {
		if (memchr(t.tenant, 0, sizeof t.tenant) == NULL || memchr(t.room, 0, sizeof t.room) == NULL ||
				memchr(t.node, 0, sizeof t.node) == NULL || memchr(t.sub, 0, sizeof t.sub) == NULL ||
				strlen(t.nonce) != AH_TICKET_NONCE_LEN)
			abort();
		if (t.ptype > AH_TICKET_BACKSTAGE || t.exp + AH_TICKET_SKEW_S <= NOW_S ||
				t.exp > NOW_S + AH_TICKET_TTL_S + AH_TICKET_SKEW_S)
			abort();
		char *again = ah_ticket_sign(&t, SECRET);
		if (again == NULL || strcmp(again, text) != 0)
			abort();
		g_free(again);
		ah_ticket_seen *seen = ah_ticket_seen_new(4);
		if (ah_ticket_seen_take(seen, t.nonce, NOW_S) != AH_ERR_OK ||
				ah_ticket_seen_take(seen, t.nonce, NOW_S) != AH_ERR_TICKET_USED)
			abort();
		ah_ticket_seen_free(seen);
	} else if (err != AH_ERR_TICKET_INVALID && err != AH_ERR_TICKET_EXPIRED) {
		abort();
	}
	g_free(text);
	return 0;
}
