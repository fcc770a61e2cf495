/* allhands: cluster mode's shared definitions, the pure part (docs/cluster.md, "Definitions"): the
 * script (plugin/redis/defs.lua, embedded at build time), the arguments of its calls and of the
 * reads, and the parsing of what comes back (an announcement on ah:defs, the load's reply, a
 * tenant's hash, one row).
 *
 * Keys: ah:{T}:defs (a hash per tenant T: field "tenant" its row, "room:R" each room's row: the state
 * file's rows, persist.h), ah:tenants (the set of tenant ids), ah:defs:version (incremented by each
 * write), ah:defs:seeded (set once a node has written back what it holds: missing, Redis is new or
 * restarted empty); channel ah:defs carries {"node","tenant","room"?,"version"} after each write.
 *
 * Pure: GLib and jansson only, no hiredis, no Janus, no clock, no I/O; any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_DEFS_REDIS_H
#define ALLHANDS_DEFS_REDIS_H

#include <glib.h>
#include <jansson.h>

#include "allhands/redis.h"

#define AH_DEFS_CHANNEL "ah:defs"
#define AH_DEFS_TENANTS_KEY "ah:tenants"
#define AH_DEFS_VERSION_KEY "ah:defs:version"
#define AH_DEFS_SEEDED_KEY "ah:defs:seeded"
/* A row longer than this is not written nor read (a schedule with its 1,000 exdates, the longest part,
 * stays far below it). */
#define AH_DEFS_ROW_MAX (1024 * 1024)

const char *ah_defs_script_source(void);

typedef enum {
	AH_DEFS_PUT,    /* write the row */
	AH_DEFS_SEED,   /* write the row unless the definition is there (writing back into an empty Redis) */
	AH_DEFS_DEL,    /* the tenant (room NULL: with its rooms) or the room is gone */
} ah_defs_op;

/* "ah:{T}:defs", NULL when T is not an id (validate.h). */
char *ah_defs_key(const char *tenant);
/* The hash field: "tenant" (room NULL) or "room:R". */
char *ah_defs_field(const char *room);

/* The script call's argv (its first *nkeys are keys) for a write by node `node`; `row` is the row's
 * JSON text (NULL for AH_DEFS_DEL). NULL with *error (g_free) when an id is not an id, a row is
 * missing or longer than AH_DEFS_ROW_MAX. Free with g_ptr_array_unref. */
GPtrArray *ah_defs_write_argv(ah_defs_op op, const char *node, const char *tenant, const char *room, const char *row,
	int *nkeys, char **error);
/* The load's: -> {seeded, version, tenant ids...}; and the mark a node sets once it has written
 * back everything it holds into a Redis that was not seeded (NULL when node is not an id). */
GPtrArray *ah_defs_load_argv(int *nkeys);
GPtrArray *ah_defs_seeded_argv(const char *node, int *nkeys);
/* HGET of one row, HGETALL of a tenant's hash (plain commands). NULL when an id is not an id. */
GPtrArray *ah_defs_hget_argv(const char *tenant, const char *room);
GPtrArray *ah_defs_hgetall_argv(const char *tenant);

/* An announcement. */
typedef struct {
	char *node;
	char *tenant;
	char *room;             /* NULL: the tenant's own row */
	gint64 version;
} ah_defs_note;
/* FALSE with *error (g_free) unless it is {"node": id, "tenant": id, "room": id?, "version": int}. */
gboolean ah_defs_parse_note(const char *text, gsize len, ah_defs_note *note, char **error);
void ah_defs_note_clear(ah_defs_note *note);

/* The load's reply: *seeded (FALSE: no node wrote its definitions back into this Redis yet), *version
 * (0: none was ever written) and the tenant ids (g_strfreev), those that are not ids left out and
 * counted in *skipped. FALSE with *error when the reply is not the script's. */
gboolean ah_defs_parse_load(const ah_redis_value *v, gboolean *seeded, gint64 *version, char ***tenants,
	guint *skipped, char **error);

/* One definition read back. */
typedef struct {
	char *room;             /* NULL: the tenant's own row */
	json_t *row;            /* NULL when error is set */
	char *error;            /* why this field is unusable (not JSON, too long, a field name not ours) */
} ah_defs_entry;
void ah_defs_entry_free(gpointer entry);
/* A row (HGET's reply): TRUE with *row (NULL: nil, the definition is gone); FALSE with *error when
 * it is not a JSON object of at most AH_DEFS_ROW_MAX bytes. */
gboolean ah_defs_parse_row(const ah_redis_value *v, json_t **row, char **error);
/* A tenant's hash (HGETALL's reply): its fields, the tenant's own first (GPtrArray of ah_defs_entry*;
 * an unusable field is an entry with its error). NULL with *error when the reply is not a hash. */
GPtrArray *ah_defs_parse_hash(const ah_redis_value *v, char **error);

#endif
