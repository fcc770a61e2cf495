/* allhands: libFuzzer target for the messages of media across nodes (docs/fuzzing.md, issue 14): the
 * bytes go whole to ah_media_msg_parse. Checks, on a message taken: its ids are identifiers, its address
 * and port are set for sub and feeds, a feeds' presenters are at most AH_MEDIA_MSG_MAX_FEEDS with feeds
 * 1..65535 given once, their streams of a known codec on distinct m-lines in range, a sub's tree at most
 * AH_MEDIA_MSG_MAX_TREE pairs; on a message refused: an error and nothing kept.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "allhands/media-msg.h"
#include "allhands/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ah_media_msg m;
	char *error = NULL;
	if (!ah_media_msg_parse((const char *)data, size, &m, &error)) {
		if (error == NULL || m.from != NULL || m.feeds != NULL || m.tree != NULL)
			abort();
		g_free(error);
		return 0;
	}
	if (error != NULL || !ah_validate_identifier(m.from) || !ah_validate_identifier(m.tenant) ||
			!ah_validate_identifier(m.room))
		abort();
	if ((m.type == AH_MEDIA_MSG_SUB || m.type == AH_MEDIA_MSG_FEEDS) && (m.address == NULL || m.port < 1 || m.port > 65535))
		abort();
	if (m.type == AH_MEDIA_MSG_SUB && (m.tree == NULL || json_array_size(m.tree) > AH_MEDIA_MSG_MAX_TREE))
		abort();
	if (m.type == AH_MEDIA_MSG_PARENT && !ah_validate_identifier(m.node))
		abort();
	if (m.type == AH_MEDIA_MSG_FEEDS) {
		if (m.feeds == NULL || m.feeds->len > AH_MEDIA_MSG_MAX_FEEDS || m.epoch == 0 || m.salt == NULL || strlen(m.salt) != 32)
			abort();
		for (guint i = 0; i < m.feeds->len; i++) {
			const ah_media_feed *f = &g_array_index(m.feeds, ah_media_feed, i);
			gboolean seen[AH_MAX_STREAMS] = { FALSE };
			if (f->feed < 1 || f->feed > 0xffff || f->n > AH_MAX_STREAMS || f->display == NULL ||
					strlen(f->display) > AH_MEDIA_MSG_DISPLAY_MAX || !g_utf8_validate(f->display, -1, NULL))
				abort();
			for (guint k = 0; k < i; k++)
				if (g_array_index(m.feeds, ah_media_feed, k).feed == f->feed)
					abort();
			for (guint j = 0; j < f->n; j++) {
				const ah_stream_desc *d = &f->streams[j];
				if (d->mindex < 0 || d->mindex >= AH_MAX_STREAMS || seen[d->mindex])
					abort();
				seen[d->mindex] = TRUE;
				if (strcmp(d->codec, d->kind == AH_MEDIA_VIDEO ? "vp8" : "opus") != 0 && strcmp(d->codec, "h264") != 0)
					abort();
				if (d->kind == AH_MEDIA_AUDIO && strcmp(d->codec, "opus") != 0)
					abort();
			}
		}
	}
	ah_media_msg_clear(&m);
	return 0;
}
