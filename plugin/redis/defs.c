/* allhands: cluster mode's shared definitions, the pure part (include/allhands/defs-redis.h).
 *
 * Owns the definitions' script (plugin/redis/defs.lua, embedded by the build into defs-lua.h), the
 * argv of its calls and of the reads, and the parsing of their replies and of the announcements. It
 * sends nothing (plugin/glue/cluster-defs.c submits through the Redis client). Pure: GLib and
 * jansson, no hiredis, no Janus; any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "allhands/defs-redis.h"
#include "allhands/validate.h"
#include "plugin/redis/defs-lua.h"

const char *ah_defs_script_source(void)
{
	return ah_defs_lua;
}

char *ah_defs_key(const char *tenant)
{
	return ah_validate_identifier(tenant) ? g_strdup_printf("ah:{%s}:defs", tenant) : NULL;
}

char *ah_defs_field(const char *room)
{
	return room != NULL ? g_strdup_printf("room:%s", room) : g_strdup("tenant");
}

GPtrArray *ah_defs_write_argv(ah_defs_op op, const char *node, const char *tenant, const char *room, const char *row,
	int *nkeys, char **error)
{
	static const char *const ops[] = { [AH_DEFS_PUT] = "put", [AH_DEFS_SEED] = "seed", [AH_DEFS_DEL] = "del" };
	if (!ah_validate_identifier(node) || !ah_validate_identifier(tenant) || (room != NULL && !ah_validate_identifier(room))) {
		*error = g_strdup("node, tenant and room must be ids");
		return NULL;
	}
	if (op != AH_DEFS_DEL && (row == NULL || *row == '\0' || strlen(row) > AH_DEFS_ROW_MAX)) {
		*error = g_strdup_printf("a row of 1 to %d bytes is needed", AH_DEFS_ROW_MAX);
		return NULL;
	}
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(argv, ah_defs_key(tenant));
	g_ptr_array_add(argv, g_strdup(AH_DEFS_TENANTS_KEY));
	g_ptr_array_add(argv, g_strdup(AH_DEFS_VERSION_KEY));
	g_ptr_array_add(argv, g_strdup(ops[op]));
	g_ptr_array_add(argv, g_strdup(node));
	g_ptr_array_add(argv, g_strdup(tenant));
	g_ptr_array_add(argv, g_strdup(room != NULL ? room : ""));
	g_ptr_array_add(argv, g_strdup(op != AH_DEFS_DEL ? row : ""));
	*nkeys = 3;
	return argv;
}

GPtrArray *ah_defs_load_argv(int *nkeys)
{
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(argv, g_strdup(AH_DEFS_TENANTS_KEY));
	g_ptr_array_add(argv, g_strdup(AH_DEFS_VERSION_KEY));
	g_ptr_array_add(argv, g_strdup(AH_DEFS_SEEDED_KEY));
	g_ptr_array_add(argv, g_strdup("load"));
	*nkeys = 3;
	return argv;
}

GPtrArray *ah_defs_seeded_argv(const char *node, int *nkeys)
{
	if (!ah_validate_identifier(node))
		return NULL;
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(argv, g_strdup(AH_DEFS_SEEDED_KEY));
	g_ptr_array_add(argv, g_strdup("seeded"));
	g_ptr_array_add(argv, g_strdup(node));
	*nkeys = 1;
	return argv;
}

GPtrArray *ah_defs_hget_argv(const char *tenant, const char *room)
{
	if (!ah_validate_identifier(tenant) || (room != NULL && !ah_validate_identifier(room)))
		return NULL;
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(argv, g_strdup("HGET"));
	g_ptr_array_add(argv, ah_defs_key(tenant));
	g_ptr_array_add(argv, ah_defs_field(room));
	return argv;
}

GPtrArray *ah_defs_hgetall_argv(const char *tenant)
{
	if (!ah_validate_identifier(tenant))
		return NULL;
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(argv, g_strdup("HGETALL"));
	g_ptr_array_add(argv, ah_defs_key(tenant));
	return argv;
}

/* --- what comes back */

void ah_defs_note_clear(ah_defs_note *note)
{
	g_clear_pointer(&note->node, g_free);
	g_clear_pointer(&note->tenant, g_free);
	g_clear_pointer(&note->room, g_free);
	note->version = 0;
}

gboolean ah_defs_parse_note(const char *text, gsize len, ah_defs_note *note, char **error)
{
	json_error_t jerr;
	json_t *o = text != NULL ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	const json_t *room = json_object_get(o, "room");
	const char *node = json_string_value(json_object_get(o, "node"));
	const char *tenant = json_string_value(json_object_get(o, "tenant"));
	const json_t *version = json_object_get(o, "version");
	memset(note, 0, sizeof(*note));
	if (!json_is_object(o) || !ah_validate_identifier(node) || !ah_validate_identifier(tenant) ||
			(room != NULL && !json_is_null(room) && !ah_validate_identifier(json_string_value(room))) ||
			!json_is_integer(version)) {
		*error = g_strdup("not a definitions announcement ({\"node\", \"tenant\", \"room\"?, \"version\"})");
		json_decref(o);
		return FALSE;
	}
	note->node = g_strdup(node);
	note->tenant = g_strdup(tenant);
	note->room = g_strdup(json_string_value(room));
	note->version = json_integer_value(version);
	json_decref(o);
	return TRUE;
}

gboolean ah_defs_parse_load(const ah_redis_value *v, gboolean *seeded, gint64 *version, char ***tenants,
	guint *skipped, char **error)
{
	if (v == NULL || v->type != AH_REDIS_ARRAY || v->n < 2 || v->elements[0]->type != AH_REDIS_INTEGER ||
			v->elements[1]->type != AH_REDIS_INTEGER) {
		*error = g_strdup_printf("unexpected reply to the definitions' load (%s%s%s)",
			v != NULL ? ah_redis_type_name(v->type) : "none", v != NULL && v->type == AH_REDIS_ERROR ? ": " : "",
			v != NULL && v->type == AH_REDIS_ERROR ? v->str : "");
		return FALSE;
	}
	GPtrArray *ids = g_ptr_array_new();
	*skipped = 0;
	*seeded = v->elements[0]->integer != 0;
	*version = v->elements[1]->integer;
	for (gsize i = 2; i < v->n; i++) {
		const ah_redis_value *e = v->elements[i];
		if (e->type == AH_REDIS_STRING && strlen(e->str) == e->len && ah_validate_identifier(e->str))
			g_ptr_array_add(ids, g_strdup(e->str));
		else
			(*skipped)++;
	}
	g_ptr_array_add(ids, NULL);
	*tenants = (char **)g_ptr_array_free(ids, FALSE);
	return TRUE;
}

void ah_defs_entry_free(gpointer data)
{
	ah_defs_entry *e = data;
	if (e == NULL)
		return;
	g_free(e->room);
	json_decref(e->row);
	g_free(e->error);
	g_free(e);
}

/* A row's text: a JSON object of at most AH_DEFS_ROW_MAX bytes. */
static json_t *row_of(const char *text, gsize len, char **error)
{
	json_error_t jerr;
	json_t *row;
	if (len > AH_DEFS_ROW_MAX) {
		*error = g_strdup_printf("longer than %d bytes", AH_DEFS_ROW_MAX);
		return NULL;
	}
	row = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(row)) {
		*error = row == NULL ? g_strdup_printf("not JSON (%s)", jerr.text) : g_strdup("not a JSON object");
		json_decref(row);
		return NULL;
	}
	return row;
}

gboolean ah_defs_parse_row(const ah_redis_value *v, json_t **row, char **error)
{
	*row = NULL;
	if (v != NULL && v->type == AH_REDIS_NIL)
		return TRUE;
	if (v == NULL || v->type != AH_REDIS_STRING) {
		*error = g_strdup_printf("unexpected reply to a definition's read (%s%s%s)",
			v != NULL ? ah_redis_type_name(v->type) : "none", v != NULL && v->type == AH_REDIS_ERROR ? ": " : "",
			v != NULL && v->type == AH_REDIS_ERROR ? v->str : "");
		return FALSE;
	}
	return (*row = row_of(v->str, v->len, error)) != NULL;
}

GPtrArray *ah_defs_parse_hash(const ah_redis_value *v, char **error)
{
	if (v == NULL || v->type != AH_REDIS_ARRAY || v->n % 2 != 0) {
		*error = g_strdup_printf("unexpected reply to a tenant's definitions (%s%s%s)",
			v != NULL ? ah_redis_type_name(v->type) : "none", v != NULL && v->type == AH_REDIS_ERROR ? ": " : "",
			v != NULL && v->type == AH_REDIS_ERROR ? v->str : "");
		return NULL;
	}
	GPtrArray *entries = g_ptr_array_new_with_free_func(ah_defs_entry_free);
	for (gsize i = 0; i + 1 < v->n; i += 2) {
		const ah_redis_value *f = v->elements[i], *value = v->elements[i + 1];
		ah_defs_entry *e = g_new0(ah_defs_entry, 1);
		gboolean tenant = f->type == AH_REDIS_STRING && strcmp(f->str, "tenant") == 0;
		if (f->type != AH_REDIS_STRING || strlen(f->str) != f->len ||
				(!tenant && (!g_str_has_prefix(f->str, "room:") || !ah_validate_identifier(f->str + 5)))) {
			e->error = g_strdup_printf("field %s: not a definition's field (tenant, room:R)",
				f->type == AH_REDIS_STRING ? f->str : "?");
		} else {
			e->room = tenant ? NULL : g_strdup(f->str + 5);
			char *why = NULL;
			if (value->type != AH_REDIS_STRING)
				why = g_strdup("not a string");
			else
				e->row = row_of(value->str, value->len, &why);
			if (why != NULL) {
				e->error = g_strdup_printf("%s: %s", tenant ? "tenant" : f->str, why);
				g_free(why);
			}
		}
		/* The tenant's own row first: its rooms are applied after it. */
		if (tenant && e->error == NULL)
			g_ptr_array_insert(entries, 0, e);
		else
			g_ptr_array_add(entries, e);
	}
	return entries;
}
