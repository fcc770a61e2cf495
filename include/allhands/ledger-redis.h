/* allhands: the cluster seat ledger's Redis side: key names, the four Lua scripts (claim, release, sync,
 * reclaim), the argv of each call and the parsing of its reply (docs/cluster.md, "Seat ledger").
 *
 * Pure: GLib only, no hiredis, no Janus, no clock (the caller passes now_ms), no I/O; any thread. A
 * command is built here, sent by the Redis client (EVALSHA; on a NOSCRIPT error, EVAL with the source
 * or SCRIPT LOAD then EVALSHA again) and its reply, an array of integers or an error, parsed here.
 * Ids are the project's (ah_validate_identifier: 1 to 64 of A-Z a-z 0-9 _ - .), so they can never
 * hold the braces of a hash tag or a key's colon; every builder refuses anything else.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_LEDGER_REDIS_H
#define ALLHANDS_LEDGER_REDIS_H

#include <glib.h>

/* Errors: sym, the first word of the Redis error reply (the scripts write it; "" when not a script's),
 * meaning. The scripts check every argument before their first write, so an error reply changed nothing. */
#define AH_LEDGER_ERROR_MAP(X) \
	X(OK,       "",         "no error") \
	X(BADARG,   "AHBADARG", "an argument is not an integer in range, or not a valid id or run_id") \
	X(BADKEY,   "AHBADKEY", "the keys are not ah:{T}:caps, ah:{T}:seats, ah:{T}:node:N of one tenant") \
	X(NOCAP,    "AHNOCAP",  "the tenant or the room has no cap in ah:{T}:caps: refused") \
	X(BADCAP,   "AHBADCAP", "a cap in ah:{T}:caps is not an integer 0..1000000") \
	X(NOSCRIPT, "NOSCRIPT", "the server does not hold the script (new or restarted): send it again with EVAL") \
	X(REPLY,    "",         "the reply does not have the script's shape") \
	X(REDIS,    "",         "another Redis error (e.g. READONLY, OOM, BUSY)")

typedef enum {
#define AH_LEDGER_ERROR_ENUM(sym, code, text) AH_LEDGER_ERR_##sym,
	AH_LEDGER_ERROR_MAP(AH_LEDGER_ERROR_ENUM)
#undef AH_LEDGER_ERROR_ENUM
	AH_LEDGER_ERR__COUNT
} ah_ledger_error;

/* "badarg", "nocap", ... */
const char *ah_ledger_error_name(ah_ledger_error err);
const char *ah_ledger_error_text(ah_ledger_error err);
/* The error of a Redis error reply's text: by its first word, else AH_LEDGER_ERR_REDIS. */
ah_ledger_error ah_ledger_error_from_reply(const char *message);

typedef enum {
	AH_LEDGER_CLAIM,
	AH_LEDGER_RELEASE,
	AH_LEDGER_SYNC,
	AH_LEDGER_RECLAIM,
	AH_LEDGER__SCRIPTS
} ah_ledger_script;

const char *ah_ledger_script_name(ah_ledger_script script);
/* The Lua source (ledger-common.lua then the script's own file, embedded at build time). */
const char *ah_ledger_script_source(ah_ledger_script script);
/* Its SHA1 in 40 lower-case hex digits, as EVALSHA and SCRIPT LOAD name it. */
const char *ah_ledger_script_sha1(ah_ledger_script script);

/* Keys and fields (g_free; NULL when an id is not valid). Every ledger key of tenant T carries the
 * hash tag {T}, so a Redis Cluster keeps one tenant's ledger in one slot. */
char *ah_ledger_key_caps(const char *tenant);              /* ah:{T}:caps */
char *ah_ledger_key_seats(const char *tenant);             /* ah:{T}:seats */
char *ah_ledger_key_node(const char *tenant, const char *node); /* ah:{T}:node:N */
char *ah_ledger_key_node_tenants(const char *node);        /* ah:node:{N}:tenants (written by node N) */
/* The field of a room's cap and counts: "room:R"; NULL room: "stage" (no cap of its own). The tenant's
 * cap and counts are the field "tenant". */
char *ah_ledger_field_room(const char *room);

/* What each seat-changing call needs to know about the server and the time (see the rebuild marker). */
typedef struct {
	const char *run_id; /* run_id of the Redis server the command goes to (INFO server), 1-64 alnum */
	gint64 now_ms;      /* this node's wall clock, ms since 1970 (1..10^15) */
	gint64 grace_ms;    /* rebuild grace, 0..86400000: at least the node expiry (docs/cluster.md) */
} ah_ledger_stamp;

/* One call: "EVALSHA", sha1, "3", the three keys, then the arguments. */
typedef struct {
	ah_ledger_script script;
	GPtrArray *argv; /* of char * (owned) */
} ah_ledger_cmd;

/* Count of node N's seats in one room (sync). */
typedef struct {
	const char *room;
	gint64 count; /* 0..1000000 */
} ah_ledger_room_count;

/* Builders: NULL with *err set (BADARG) when an id or number is out of range; room NULL is a
 * tenant-only seat (presenters, backstage). */
ah_ledger_cmd *ah_ledger_claim_cmd(const char *tenant, const char *room, const char *node, gint64 want,
	const ah_ledger_stamp *stamp, ah_ledger_error *err);
ah_ledger_cmd *ah_ledger_release_cmd(const char *tenant, const char *room, const char *node, gint64 n,
	ah_ledger_error *err);
/* Node N's whole share in tenant T: `stage` tenant-only seats and the rooms' counts (each room once). */
ah_ledger_cmd *ah_ledger_sync_cmd(const char *tenant, const char *node, const ah_ledger_stamp *stamp, gint64 stage,
	const ah_ledger_room_count *rooms, gsize n_rooms, ah_ledger_error *err);
ah_ledger_cmd *ah_ledger_reclaim_cmd(const char *tenant, const char *node, ah_ledger_error *err);
/* Turn an EVALSHA call into EVAL with the script's source (after a NOSCRIPT error). */
void ah_ledger_cmd_use_eval(ah_ledger_cmd *cmd);
void ah_ledger_cmd_free(ah_ledger_cmd *cmd);

/* Replies: the script's array of integers. The parsers check its length and ranges and return
 * AH_LEDGER_ERR_OK or AH_LEDGER_ERR_REPLY. */
#define AH_LEDGER_REBUILDING (-1) /* claim's `granted` while the tenant's ledger is rebuilding */
typedef struct {
	gint64 granted;     /* 0..want, or AH_LEDGER_REBUILDING (retry at ready_at_ms) */
	gint64 tenant_held; /* the tenant's seats in the cluster, after the claim */
	gint64 room_held;   /* the room's (or the tenant-only) seats in the cluster, after the claim */
	gint64 ready_at_ms; /* end of the tenant's last rebuild grace */
} ah_ledger_claim_reply;
typedef struct {
	gint64 released;    /* min(n, this node's seats in the room) */
	gint64 ignored;     /* n - released: seats this node did not hold */
	gint64 tenant_held;
	gint64 room_held;
} ah_ledger_release_reply;
typedef struct {
	gint64 tenant_held;
	gint64 tenant_change; /* this node's tenant share, new minus old */
	gint64 corrected;     /* sum over rooms of |new - old|: 0 when the ledger already agreed */
	gint64 tenant_over;   /* seats above the tenant cap (0: within it) */
	gint64 rooms_over;    /* rooms listed whose seats are above their cap */
	gint64 ready_at_ms;
} ah_ledger_sync_reply;
typedef struct {
	gint64 released;    /* seats taken back */
	gint64 counters;    /* rooms (and tenant-only seats) they were in */
} ah_ledger_reclaim_reply;

ah_ledger_error ah_ledger_claim_parse(const gint64 *values, gsize n, ah_ledger_claim_reply *out);
ah_ledger_error ah_ledger_release_parse(const gint64 *values, gsize n, ah_ledger_release_reply *out);
ah_ledger_error ah_ledger_sync_parse(const gint64 *values, gsize n, ah_ledger_sync_reply *out);
ah_ledger_error ah_ledger_reclaim_parse(const gint64 *values, gsize n, ah_ledger_reclaim_reply *out);

#endif
