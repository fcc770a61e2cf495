/* allhands: the cluster seat ledger's Redis side (include/allhands/ledger-redis.h).
 *
 * Owns the key names, the Lua scripts (plugin/redis/ledger-*.lua, embedded by the build into
 * ledger-lua.h), the argv of each script call and the checks of its reply. It sends nothing: the Redis
 * client (plugin/redis/client.c) does. Pure: GLib only, no hiredis, no Janus, no clock; any thread.
 *
 * DESIGN. Every seat change is one script over one tenant's three keys (caps, seats, node:N), so it is
 * atomic and, with the {T} hash tag, stays in one Redis Cluster slot. The counts are kept twice: the
 * cluster's totals in ah:{T}:seats and each node's share in ah:{T}:node:N, and every script moves both
 * by the same amount, so totals == sum of shares holds after every script (and in any replica or
 * snapshot, which hold a prefix of whole scripts). That is what lets a dead node's seats be taken
 * back (reclaim) and a node's heartbeat restate its truth (sync). The argument for why the caps hold,
 * also after Redis loses writes, is in docs/cluster.md ("Seat ledger").
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "allhands/ledger-redis.h"
#include "allhands/validate.h"
#include "plugin/redis/ledger-lua.h"

#define GRACE_MAX G_GINT64_CONSTANT(86400000)
#define TIME_MAX G_GINT64_CONSTANT(1000000000000000)
#define RUN_ID_MAX_LEN 64

static const struct {
	const char *code;
	const char *name;
	const char *text;
} errors[] = {
#define AH_LEDGER_ERROR_ROW(sym, code, text) { code, #sym, text },
	AH_LEDGER_ERROR_MAP(AH_LEDGER_ERROR_ROW)
#undef AH_LEDGER_ERROR_ROW
};

static const struct {
	const char *name;
	const char *source;
} scripts[AH_LEDGER__SCRIPTS] = {
	[AH_LEDGER_CLAIM] = { "claim", ah_ledger_lua_claim },
	[AH_LEDGER_RELEASE] = { "release", ah_ledger_lua_release },
	[AH_LEDGER_SYNC] = { "sync", ah_ledger_lua_sync },
	[AH_LEDGER_RECLAIM] = { "reclaim", ah_ledger_lua_reclaim },
};

const char *ah_ledger_error_name(ah_ledger_error err)
{
	static char *lower[AH_LEDGER_ERR__COUNT];
	static gsize once;
	if (err >= AH_LEDGER_ERR__COUNT)
		return "unknown";
	/* The table spells the enum's symbols; names are their lower-case, made once. */
	if (g_once_init_enter(&once)) {
		for (guint i = 0; i < AH_LEDGER_ERR__COUNT; i++)
			lower[i] = g_ascii_strdown(errors[i].name, -1);
		g_once_init_leave(&once, 1);
	}
	return lower[err];
}

const char *ah_ledger_error_text(ah_ledger_error err)
{
	return err < AH_LEDGER_ERR__COUNT ? errors[err].text : "unknown error";
}

ah_ledger_error ah_ledger_error_from_reply(const char *message)
{
	size_t word;
	if (message == NULL)
		return AH_LEDGER_ERR_REDIS;
	word = strcspn(message, " ");
	for (guint i = 0; i < AH_LEDGER_ERR__COUNT; i++) {
		if (errors[i].code[0] != '\0' && strlen(errors[i].code) == word &&
				strncmp(message, errors[i].code, word) == 0)
			return (ah_ledger_error)i;
	}
	return AH_LEDGER_ERR_REDIS;
}

const char *ah_ledger_script_name(ah_ledger_script script)
{
	return script < AH_LEDGER__SCRIPTS ? scripts[script].name : NULL;
}

const char *ah_ledger_script_source(ah_ledger_script script)
{
	return script < AH_LEDGER__SCRIPTS ? scripts[script].source : NULL;
}

const char *ah_ledger_script_sha1(ah_ledger_script script)
{
	static gsize sha1[AH_LEDGER__SCRIPTS];
	if (script >= AH_LEDGER__SCRIPTS)
		return NULL;
	if (g_once_init_enter(&sha1[script])) {
		char *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA1, scripts[script].source, -1);
		g_once_init_leave(&sha1[script], (gsize)hex);
	}
	return (const char *)sha1[script];
}

char *ah_ledger_key_caps(const char *tenant)
{
	return ah_validate_identifier(tenant) ? g_strdup_printf("ah:{%s}:caps", tenant) : NULL;
}

char *ah_ledger_key_seats(const char *tenant)
{
	return ah_validate_identifier(tenant) ? g_strdup_printf("ah:{%s}:seats", tenant) : NULL;
}

char *ah_ledger_key_node(const char *tenant, const char *node)
{
	if (!ah_validate_identifier(tenant) || !ah_validate_identifier(node))
		return NULL;
	return g_strdup_printf("ah:{%s}:node:%s", tenant, node);
}

char *ah_ledger_key_node_tenants(const char *node)
{
	return ah_validate_identifier(node) ? g_strdup_printf("ah:node:{%s}:tenants", node) : NULL;
}

char *ah_ledger_field_room(const char *room)
{
	if (room == NULL)
		return g_strdup("stage");
	return ah_validate_identifier(room) ? g_strdup_printf("room:%s", room) : NULL;
}

static gboolean valid_stamp(const ah_ledger_stamp *stamp)
{
	size_t len;
	if (stamp == NULL || stamp->run_id == NULL)
		return FALSE;
	len = strlen(stamp->run_id);
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isalnum(stamp->run_id[i]))
			return FALSE;
	}
	return len >= 1 && len <= RUN_ID_MAX_LEN && stamp->now_ms >= 1 && stamp->now_ms <= TIME_MAX &&
		stamp->grace_ms >= 0 && stamp->grace_ms <= GRACE_MAX;
}

static ah_ledger_cmd *fail(ah_ledger_error *err)
{
	if (err != NULL)
		*err = AH_LEDGER_ERR_BADARG;
	return NULL;
}

/* "EVALSHA" sha1 3 caps seats node: NULL when an id is not valid. */
static ah_ledger_cmd *cmd_new(ah_ledger_script script, const char *tenant, const char *node)
{
	ah_ledger_cmd *cmd;
	char *node_key = ah_ledger_key_node(tenant, node);
	if (node_key == NULL)
		return NULL;
	cmd = g_new0(ah_ledger_cmd, 1);
	cmd->script = script;
	cmd->argv = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(cmd->argv, g_strdup("EVALSHA"));
	g_ptr_array_add(cmd->argv, g_strdup(ah_ledger_script_sha1(script)));
	g_ptr_array_add(cmd->argv, g_strdup("3"));
	g_ptr_array_add(cmd->argv, ah_ledger_key_caps(tenant));
	g_ptr_array_add(cmd->argv, ah_ledger_key_seats(tenant));
	g_ptr_array_add(cmd->argv, node_key);
	return cmd;
}

static void add_int(ah_ledger_cmd *cmd, gint64 v)
{
	g_ptr_array_add(cmd->argv, g_strdup_printf("%" G_GINT64_FORMAT, v));
}

static void add_stamp(ah_ledger_cmd *cmd, const ah_ledger_stamp *stamp)
{
	g_ptr_array_add(cmd->argv, g_strdup(stamp->run_id));
	add_int(cmd, stamp->now_ms);
	add_int(cmd, stamp->grace_ms);
}

ah_ledger_cmd *ah_ledger_claim_cmd(const char *tenant, const char *room, const char *node, gint64 want,
	const ah_ledger_stamp *stamp, ah_ledger_error *err)
{
	ah_ledger_cmd *cmd;
	if ((room != NULL && !ah_validate_identifier(room)) || want < 1 || want > AH_CAP_MAX || !valid_stamp(stamp))
		return fail(err);
	if ((cmd = cmd_new(AH_LEDGER_CLAIM, tenant, node)) == NULL)
		return fail(err);
	g_ptr_array_add(cmd->argv, g_strdup(room != NULL ? room : ""));
	add_int(cmd, want);
	add_stamp(cmd, stamp);
	return cmd;
}

ah_ledger_cmd *ah_ledger_release_cmd(const char *tenant, const char *room, const char *node, gint64 n,
	ah_ledger_error *err)
{
	ah_ledger_cmd *cmd;
	if ((room != NULL && !ah_validate_identifier(room)) || n < 1 || n > AH_CAP_MAX)
		return fail(err);
	if ((cmd = cmd_new(AH_LEDGER_RELEASE, tenant, node)) == NULL)
		return fail(err);
	g_ptr_array_add(cmd->argv, g_strdup(room != NULL ? room : ""));
	add_int(cmd, n);
	return cmd;
}

ah_ledger_cmd *ah_ledger_sync_cmd(const char *tenant, const char *node, const ah_ledger_stamp *stamp, gint64 stage,
	const ah_ledger_room_count *rooms, gsize n_rooms, ah_ledger_error *err)
{
	ah_ledger_cmd *cmd;
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	if (!valid_stamp(stamp) || stage < 0 || stage > AH_CAP_MAX || (n_rooms > 0 && rooms == NULL))
		return fail(err);
	for (gsize i = 0; i < n_rooms; i++) {
		if (!ah_validate_identifier(rooms[i].room) || rooms[i].count < 0 || rooms[i].count > AH_CAP_MAX ||
				!g_hash_table_add(seen, (gpointer)rooms[i].room))
			return fail(err);
	}
	if ((cmd = cmd_new(AH_LEDGER_SYNC, tenant, node)) == NULL)
		return fail(err);
	add_stamp(cmd, stamp);
	add_int(cmd, stage);
	for (gsize i = 0; i < n_rooms; i++) {
		g_ptr_array_add(cmd->argv, g_strdup(rooms[i].room));
		add_int(cmd, rooms[i].count);
	}
	return cmd;
}

ah_ledger_cmd *ah_ledger_reclaim_cmd(const char *tenant, const char *node, ah_ledger_error *err)
{
	ah_ledger_cmd *cmd = cmd_new(AH_LEDGER_RECLAIM, tenant, node);
	return cmd != NULL ? cmd : fail(err);
}

void ah_ledger_cmd_use_eval(ah_ledger_cmd *cmd)
{
	g_free(cmd->argv->pdata[0]);
	g_free(cmd->argv->pdata[1]);
	cmd->argv->pdata[0] = g_strdup("EVAL");
	cmd->argv->pdata[1] = g_strdup(ah_ledger_script_source(cmd->script));
}

void ah_ledger_cmd_free(ah_ledger_cmd *cmd)
{
	if (cmd == NULL)
		return;
	g_ptr_array_unref(cmd->argv);
	g_free(cmd);
}

/* A reply of exactly `n` integers, each at least its minimum (counts are never negative). */
static gboolean reply_ok(const gint64 *values, gsize n, const gint64 *min, gsize want)
{
	if (values == NULL || n != want)
		return FALSE;
	for (gsize i = 0; i < n; i++) {
		if (values[i] < min[i])
			return FALSE;
	}
	return TRUE;
}

ah_ledger_error ah_ledger_claim_parse(const gint64 *values, gsize n, ah_ledger_claim_reply *out)
{
	static const gint64 min[] = { AH_LEDGER_REBUILDING, 0, 0, 0 };
	if (!reply_ok(values, n, min, G_N_ELEMENTS(min)))
		return AH_LEDGER_ERR_REPLY;
	*out = (ah_ledger_claim_reply){ values[0], values[1], values[2], values[3] };
	return AH_LEDGER_ERR_OK;
}

ah_ledger_error ah_ledger_release_parse(const gint64 *values, gsize n, ah_ledger_release_reply *out)
{
	static const gint64 min[] = { 0, 0, 0, 0 };
	if (!reply_ok(values, n, min, G_N_ELEMENTS(min)))
		return AH_LEDGER_ERR_REPLY;
	*out = (ah_ledger_release_reply){ values[0], values[1], values[2], values[3] };
	return AH_LEDGER_ERR_OK;
}

ah_ledger_error ah_ledger_sync_parse(const gint64 *values, gsize n, ah_ledger_sync_reply *out)
{
	static const gint64 min[] = { 0, G_MININT64, 0, 0, 0, 0 };
	if (!reply_ok(values, n, min, G_N_ELEMENTS(min)))
		return AH_LEDGER_ERR_REPLY;
	*out = (ah_ledger_sync_reply){ values[0], values[1], values[2], values[3], values[4], values[5] };
	return AH_LEDGER_ERR_OK;
}

ah_ledger_error ah_ledger_reclaim_parse(const gint64 *values, gsize n, ah_ledger_reclaim_reply *out)
{
	static const gint64 min[] = { 0, 0 };
	if (!reply_ok(values, n, min, G_N_ELEMENTS(min)))
		return AH_LEDGER_ERR_REPLY;
	*out = (ah_ledger_reclaim_reply){ values[0], values[1] };
	return AH_LEDGER_ERR_OK;
}
