/* allhands: the state file (tenants and rooms that survive restarts).
 *
 * Format (JSON, written by this module only):
 *   {"version": 2,
 *    "tenants": [{"tenant", "name", "max_participants", "secret", "weight"?, "reserved"?, "max_queued"?,
 *                 "previous_secret"?, "previous_secret_until"?, "signing_key",
 *                 "previous_signing_key"?, "previous_signing_key_until"?}],
 *    "rooms": [{"tenant", "room", "description", "max_attendees", "pin"?, "presenter_secret",
 *               "schedule"?, "lobby_minutes"?, "ending_warning_s"?, "grace_s"?, "prequeue_order"?,
 *               "presenter_seats"?, "priority_secret"?, "tokens"?, "video_layer"?,
 *               "presenter_max_bitrate"?, "node"?, "origin_attendees"?}]}
 * "schedule" is ah_schedule_to_json()'s object (checked with ah_schedule_from_json on load); the
 * room options and the tenants' shares may be missing (files written by older versions), which
 * means their defaults. "previous_secret" (a rotated-out tenant secret) and "previous_secret_until"
 * (UNIX seconds it stays valid until) come together or not at all; "tokens" is "off" (the default),
 * "optional" or "required" (join tokens, token.h); "video_layer" is "low", "medium" or "high" (the
 * default; simulcast.h); "presenter_max_bitrate" is 0 (the default: no cap) or
 * AH_PRESENTER_BITRATE_MIN..AH_PRESENTER_BITRATE_MAX bps. "signing_key" is the tenant's join-token key (token.h's form: 64 lower-case
 * hex characters); "previous_signing_key" and "previous_signing_key_until" (a rotated-out key and
 * the UNIX second it stays valid until) come together or not at all.
 * Version 1 files (before issue 12) are read too: their tenants have no signing key (the row's
 * signing_key is NULL; the engine generates one and saves the file as version 2).
 * Every row is checked with the same rules as the requests that create it (validate.h), ids are
 * unique and every room's tenant exists; a file that fails any check is refused whole.
 * Saving writes the temporary file "<state file>.allhands-tmp" (mode 0600, one fixed name: only one
 * writer ever writes a state file), fsyncs it, renames it over the old one and fsyncs the folder,
 * so a crash or a full disk never leaves a half-written state file behind. A kill between the open
 * and the rename leaves that temporary file: ah_persist_clean_temps() removes it at start.
 * Who writes when: persist-writer.h (a writer thread, off the control thread).
 *
 * Pure apart from file I/O: no Janus, no clock, no logging. No global state: any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_PERSIST_H
#define ALLHANDS_PERSIST_H

#include <glib.h>
#include <jansson.h>

#include "allhands/errors.h"

#define AH_PERSIST_VERSION 2
#define AH_PERSIST_VERSION_MIN 1 /* the oldest format still read */

/* A room's schedule options (issue 3): defaults and bounds, shared with the request table. */
#define AH_LOBBY_MINUTES_DEFAULT 10
#define AH_LOBBY_MINUTES_MAX 1440
#define AH_ENDING_WARNING_S_DEFAULT 60
#define AH_GRACE_S_DEFAULT 30
#define AH_ROOM_SECONDS_MAX 86400 /* ending_warning_s, grace_s */
/* Shares and reserved seats (issue 4): defaults and bounds, shared with the request table. */
#define AH_WEIGHT_MAX 1000
#define AH_PRESENTER_SEATS_DEFAULT 1
#define AH_PRESENTER_SEATS_MAX 1000
/* presenter_max_bitrate (bps, 0: no cap): the REMB a room sends its presenters (docs/api.md). */
#define AH_PRESENTER_BITRATE_MIN 50000
#define AH_PRESENTER_BITRATE_MAX 100000000
/* Join tokens (issue 6): a rotated-out secret stays valid at most this long. */
#define AH_SECRET_OVERLAP_S_MAX 86400

/* A room's join token policy (docs/api.md, "Join tokens"). */
typedef enum {
	AH_TOKENS_OFF = 0,      /* a join carrying a token is refused */
	AH_TOKENS_OPTIONAL,     /* a token, if given, must be valid; else the room's credentials */
	AH_TOKENS_REQUIRED,     /* every join needs a valid token */
} ah_tokens_policy;

typedef struct {
	char *tenant;
	char *name;             /* never NULL ("" when unset) */
	guint max_participants;
	char *secret;
	guint weight;           /* 1..AH_WEIGHT_MAX */
	guint reserved;         /* node seats reserved */
	guint max_queued;       /* 0: no bound */
	char *previous_secret;  /* NULL: no rotation under way */
	gint64 previous_secret_until; /* UNIX seconds; 0 when previous_secret is NULL */
	char *signing_key;      /* NULL: none yet (a version 1 file) */
	char *previous_signing_key; /* NULL: no key rotation under way */
	gint64 previous_signing_key_until; /* UNIX seconds; 0 when previous_signing_key is NULL */
} ah_persist_tenant;

typedef struct {
	char *tenant;
	char *room;
	char *description;      /* never NULL ("" when unset) */
	guint max_attendees;
	char *pin;              /* NULL: no pin */
	char *presenter_secret;
	json_t *schedule;       /* owned; NULL: no schedule (always open) */
	guint lobby_minutes;
	guint ending_warning_s;
	guint grace_s;
	gboolean shuffle;       /* prequeue_order "shuffle" (else "fifo") */
	guint presenter_seats;
	char *priority_secret;  /* NULL: no priority class by secret */
	ah_tokens_policy tokens;
	int video_layer;        /* AH_SIM_LOW..AH_SIM_HIGH (simulcast.h) */
	guint presenter_max_bitrate; /* bps, 0: none */
	char *node;             /* cluster mode: the room's home node id; NULL: none (docs/cluster.md) */
	gint origin_attendees;  /* cluster mode: attendees its home serves itself (docs/cluster.md, "Edges"); -1: unset */
} ah_persist_room;

typedef struct {
	GPtrArray *tenants;     /* ah_persist_tenant*, owned */
	GPtrArray *rooms;       /* ah_persist_room*, owned */
} ah_persist_state;

ah_persist_state *ah_persist_state_new(void);
void ah_persist_state_free(ah_persist_state *state);
/* Append rows (strings are copied; NULL name/description become ""). A room row starts without a
 * schedule and with the default options, a tenant row with the default share: the caller may set
 * them in the row returned. */
ah_persist_tenant *ah_persist_add_tenant(ah_persist_state *state, const char *tenant, const char *name,
	guint max_participants, const char *secret);
ah_persist_room *ah_persist_add_room(ah_persist_state *state, const char *tenant, const char *room,
	const char *description, guint max_attendees, const char *pin, const char *presenter_secret);

/* "off", "optional", "required"; and back (FALSE for any other name). */
const char *ah_persist_tokens_name(ah_tokens_policy policy);
gboolean ah_persist_tokens_from_name(const char *name, ah_tokens_policy *policy);

/* One row of the file's "tenants" / "rooms" array (the same object ah_persist_to_json puts there). */
json_t *ah_persist_tenant_json(const ah_persist_tenant *t);
json_t *ah_persist_room_json(const ah_persist_room *r);

/* The file's JSON for a state, and back (with every check; NULL with *err and *message on failure). */
json_t *ah_persist_to_json(const ah_persist_state *state);
ah_persist_state *ah_persist_from_json(const json_t *root, ah_error *err, char **message);

/* Read the state file. A missing file is an empty state. Otherwise NULL on any error, with *err
 * (AH_ERR_PERSIST_FAILED: cannot read; AH_ERR_INVALID_JSON: truncated or not JSON; the validation
 * error of the first bad element otherwise) and *message (g_free) naming the path and the problem. */
ah_persist_state *ah_persist_load(const char *path, ah_error *err, char **message);
/* Write the state file atomically (mode 0600). FALSE with *message (g_free) on failure, in which
 * case the previous file is left as it was. */
gboolean ah_persist_save(const char *path, const ah_persist_state *state, char **message);

/* The temporary file a save writes before renaming it over `path`. */
#define AH_PERSIST_TEMP_SUFFIX ".allhands-tmp"
char *ah_persist_temp_path(const char *path);
/* Write `text` to `path` atomically (temporary file 0600, fsync, rename, fsync of the folder).
 * FALSE with *message (g_free; names the path, the step and the system error) on failure: the
 * previous file is then left as it was and the temporary file removed. */
gboolean ah_persist_write_text(const char *path, const char *text, gsize length, char **message);
/* Remove the temporary files a killed process left next to `path`: ours ("<name>.allhands-tmp")
 * and those of earlier versions (GLib's "<name>.XXXXXX": six letters and digits, at least one a
 * digit or a capital), regular files owned by this user only. Returns how many were removed. */
guint ah_persist_clean_temps(const char *path);

#endif
