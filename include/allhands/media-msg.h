/* allhands: the messages of media across nodes (issue 14; docs/cluster-media.md, "Messages"), read and
 * checked. Each node listens on its Redis channel `ah:media:<node id>` for JSON objects with "v": 1, a
 * "type" (sub, unsub, feeds, parent, gone), "from" (the sending node), "tenant" and "room"; plugin/glue/
 * cluster-media.c acts on them. This module only reads: a message is taken whole or refused whole with
 * a reason, so nothing half-read ever reaches the media path.
 *
 * Pure: GLib and jansson, no Janus, no clock, no I/O; any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_MEDIA_MSG_H
#define ALLHANDS_MEDIA_MSG_H

#include <glib.h>
#include <jansson.h>

#include "allhands/engine.h"

#define AH_MEDIA_MSG_MAX_BYTES 65536  /* a longer message is refused before parsing */
#define AH_MEDIA_MSG_MAX_FEEDS 64     /* presenters in one feeds message */
#define AH_MEDIA_MSG_MAX_TREE 256     /* [node, parent] pairs a sub reports */
#define AH_MEDIA_MSG_DISPLAY_MAX 256  /* bytes of a presenter's display name */

typedef enum {
	AH_MEDIA_MSG_SUB = 1,   /* edge -> upstream: subscribe (again) */
	AH_MEDIA_MSG_UNSUB,     /* edge -> upstream: no more */
	AH_MEDIA_MSG_FEEDS,     /* upstream -> edge: the link and the room's presenters */
	AH_MEDIA_MSG_PARENT,    /* upstream -> edge: subscribe to `node` instead */
	AH_MEDIA_MSG_GONE,      /* upstream -> edge: the room is not served there */
} ah_media_msg_type;

/* One presenter of a feeds message. */
typedef struct {
	guint64 id;             /* its participant id on the origin */
	guint feed;             /* 1..65535: its streams' link SSRCs are feed << 16 | m-line << 8 | layer */
	char *display;          /* owned, valid UTF-8, at most AH_MEDIA_MSG_DISPLAY_MAX bytes */
	ah_stream_desc streams[AH_MAX_STREAMS];
	gboolean simulcast[AH_MAX_STREAMS];
	guint n;
} ah_media_feed;

typedef struct {
	ah_media_msg_type type;
	char *from, *tenant, *room;  /* identifiers (ah_validate_identifier), owned */
	char *address;               /* sub, feeds: a numeric IPv4 or IPv6 address (owned) */
	guint port;                  /* sub, feeds: 1..65535 */
	guint receivers;             /* sub: the edge's attendees of the room */
	json_t *tree;                /* sub: [[node, parent], ...] (identifiers), at most AH_MEDIA_MSG_MAX_TREE; owned */
	char *salt;                  /* feeds: 32 lowercase hex characters (owned) */
	guint32 epoch;               /* feeds: >= 1 */
	GArray *feeds;               /* feeds: ah_media_feed (cleared by ah_media_msg_clear) */
	char *node;                  /* parent: the edge to subscribe to (owned) */
} ah_media_msg;

/* Read `len` bytes of `text`: TRUE with *out filled (clear it with ah_media_msg_clear), or FALSE with
 * *error (g_free) saying what is wrong and *out cleared. Refused: not JSON or not an object, "v" not 1,
 * an unknown type, an id that is not an identifier, a bad address or port, a salt not 32 lowercase hex
 * characters, an epoch of 0 or above 2^32-1, too many presenters, streams or tree pairs, a feed out of
 * 1..65535 or given twice, a stream whose kind is not audio or video, whose codec is not opus, vp8 or
 * h264 for its kind, whose m-line is out of range or given twice, a display name that is not a string
 * of valid UTF-8 up to AH_MEDIA_MSG_DISPLAY_MAX bytes. */
gboolean ah_media_msg_parse(const char *text, gsize len, ah_media_msg *out, char **error);
void ah_media_msg_clear(ah_media_msg *msg);
const char *ah_media_msg_type_name(ah_media_msg_type type);

#endif
