/* allhands: libFuzzer target for the node-to-node link (docs/fuzzing.md; include/allhands/link.h). The
 * first byte picks what the rest is:
 *  'k'  a key's text form, to ah_link_key_from_text: accepted only when writing the key again gives the
 *       input back byte for byte (one spelling per key), refused with a message otherwise;
 *  else a datagram, with the first byte's bits as flags (bit 0: from another port; bit 1: an SSRC
 *       allow-list; bit 2: the edge holds two keys). The datagram as it is goes to an edge's
 *       ah_link_end_unprotect, which must refuse it (no key: a forger); then, if the origin protects it
 *       (RTP or RTCP as the receiver will tell them apart), the protected packet must pass the same
 *       checks as the plain one and come back byte for byte identical, and a second time be a replay.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <glib.h>

#include "allhands/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void key_text(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *)data, size);
	ah_link_key key, before;
	memset(&key, 0x5a, sizeof(key));
	before = key;
	GError *error = NULL;
	if (ah_link_key_from_text(text, &key, &error)) {
		char *again = ah_link_key_to_text(&key);
		if (error != NULL || strcmp(again, text) != 0 || key.epoch == 0)
			abort();
		g_free(again);
	} else {
		if (error == NULL || error->domain != AH_LINK_ERROR || error->message == NULL ||
				memcmp(&key, &before, sizeof(key)) != 0)
			abort();
		g_error_free(error);
	}
	g_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] == 'k') {
		key_text(data + 1, size - 1);
		return 0;
	}
	guint8 flags = data[0];
	data++;
	size--;
	if (size > AH_LINK_MTU)
		return 0;
	/* A fixed key, fresh ends for every input: the outcome depends on the input alone. */
	ah_link_key key = { .epoch = 1, .suite = (flags & 8) ? AH_LINK_SUITE_CM128_SHA1_80 : AH_LINK_SUITE_GCM128 };
	memset(key.secret, 0x42, sizeof(key.secret));
	ah_link_end *origin = ah_link_end_new(AH_LINK_ORIGIN, &key, NULL), *edge = ah_link_end_new(AH_LINK_EDGE, &key, NULL);
	if (origin == NULL || edge == NULL)
		abort();
	if (flags & 4) {
		ah_link_key next = key;
		next.epoch = 2;
		memset(next.secret, 0x43, sizeof(next.secret));
		if (!ah_link_end_add_key(edge, &next, NULL))
			abort();
	}
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(5004) }, from = peer;
	peer.sin_addr.s_addr = htonl(0x7f000001);
	from.sin_addr.s_addr = peer.sin_addr.s_addr;
	if (flags & 1)
		from.sin_port = htons(5005);
	ah_link_end_set_peer(edge, (struct sockaddr *)&peer, sizeof(peer));
	if (flags & 2) {
		guint32 ssrcs[] = { 0x01020304, 0x42424242 };
		ah_link_end_allow_ssrcs(edge, ssrcs, 2);
	}
	guint8 buf[AH_LINK_MTU + AH_LINK_OVERHEAD_MAX], plain[AH_LINK_MTU];
	memcpy(plain, data, size);
	/* As it is: never accepted (it was protected by no one). */
	memcpy(buf, data, size);
	int len = (int)size;
	gboolean rtcp;
	ah_link_verdict first = ah_link_end_unprotect(edge, buf, &len, &rtcp, (struct sockaddr *)&from, sizeof(from));
	if (first == AH_LINK_OK || first >= AH_LINK_N_VERDICTS)
		abort();
	/* Protected by the origin: what the receiver's checks before the crypto refused stays refused;
	 * what got to the crypto passes now, identical. */
	gboolean looks_rtcp = size >= 2 && data[1] >= 192 && data[1] <= 223;
	memcpy(buf, data, size);
	len = looks_rtcp ? ah_link_end_protect_rtcp(origin, buf, (int)size, sizeof(buf)) :
		ah_link_end_protect_rtp(origin, buf, (int)size, sizeof(buf));
	if (len >= 0) {
		if (len <= (int)size || len > (int)size + AH_LINK_OVERHEAD_MAX)
			abort();
		guint8 wire[sizeof(buf)];
		int wire_len = len;
		memcpy(wire, buf, (gsize)len);
		ah_link_verdict v = ah_link_end_unprotect(edge, buf, &len, &rtcp, (struct sockaddr *)&from, sizeof(from));
		if (first == AH_LINK_DROP_SOURCE || first == AH_LINK_DROP_SSRC) {
			if (v != first)
				abort();
		} else if (v == AH_LINK_OK) {
			if (len != (int)size || memcmp(buf, plain, size) != 0 || rtcp != looks_rtcp)
				abort();
			len = wire_len;
			if (ah_link_end_unprotect(edge, wire, &len, &rtcp, (struct sockaddr *)&from, sizeof(from)) != AH_LINK_DROP_REPLAY)
				abort();
		} else if (v != AH_LINK_DROP_MALFORMED && !(v == AH_LINK_DROP_SSRC && (flags & 2))) {
			/* A packet the origin protected is refused only as not well formed (libsrtp's parser
			 * on the receiving side is stricter than the sender's on a few headers), or, when the
			 * plain one was too short to be read and protecting made it long enough, for its SSRC. */
			abort();
		}
	}
	ah_link_end_free(origin);
	ah_link_end_free(edge);
	return 0;
}
