/* allhands: the cluster's node registry, the pure part (include/allhands/registry.h).
 *
 * Owns the heartbeat script (plugin/redis/registry.lua, embedded by the build into registry-lua.h),
 * the figures a node publishes, the heartbeat's argv, and the parsing of the script's reply into a view
 * of the cluster. It sends nothing (plugin/glue/cluster.c submits the call through the Redis client)
 * and reads no clock. Pure: GLib and jansson, no hiredis, no Janus; any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "allhands/registry.h"
#include "allhands/validate.h"
#include "plugin/redis/registry-lua.h"

const char *ah_registry_script_source(void)
{
	return ah_registry_lua;
}

const char *ah_registry_script_sha1(void)
{
	static gsize sha1;
	if (g_once_init_enter(&sha1)) {
		char *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA1, ah_registry_lua, -1);
		g_once_init_leave(&sha1, (gsize)hex);
	}
	return (const char *)sha1;
}

char *ah_registry_figures_json(const ah_registry_figures *f)
{
	if (f == NULL || !ah_validate_identifier(f->id) || f->url == NULL || strlen(f->url) > AH_REGISTRY_URL_MAX)
		return NULL;
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?, s:I}",
		"id", f->id, "url", f->url, "capacity", (json_int_t)f->capacity, "seats_held", (json_int_t)f->seats_held,
		"connecting", (json_int_t)f->connecting, "queued", (json_int_t)f->queued,
		"presenters", (json_int_t)f->presenters, "rooms", (json_int_t)f->rooms, "tenants", (json_int_t)f->tenants,
		"version", f->version, "started_at", (json_int_t)f->started_at);
	if (o == NULL)
		return NULL; /* a string that is not UTF-8 */
	json_object_set_new(o, "cpu", f->cpu >= 0 ? json_real(f->cpu) : json_null());
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	/* Strings of at most 512 bytes and a dozen numbers: always far below the bound. */
	if (text != NULL && strlen(text) > AH_REGISTRY_FIGURES_MAX) {
		free(text);
		return NULL;
	}
	char *copy = g_strdup(text);
	free(text);
	return copy;
}

GPtrArray *ah_registry_heartbeat_argv(const ah_registry_figures *f, gint64 expiry_ms, gint64 forget_ms,
	char **error)
{
	return ah_registry_heartbeat_argv_mode(f, expiry_ms, forget_ms, FALSE, error);
}

guint ah_registry_full_every(guint nodes, guint per)
{
	per = MAX(per, 1);
	return nodes <= per ? 1 : (nodes + per - 1) / per;
}

GPtrArray *ah_registry_heartbeat_argv_mode(const ah_registry_figures *f, gint64 expiry_ms, gint64 forget_ms,
	gboolean brief, char **error)
{
	if (expiry_ms < 1 || expiry_ms > AH_REGISTRY_EXPIRY_MAX || forget_ms < 0 || forget_ms > AH_REGISTRY_FORGET_MAX) {
		*error = g_strdup_printf("expiry_ms must be 1..%d and forget_ms 0..%d", AH_REGISTRY_EXPIRY_MAX,
			AH_REGISTRY_FORGET_MAX);
		return NULL;
	}
	char *figures = ah_registry_figures_json(f);
	if (figures == NULL) {
		*error = g_strdup("the node id must be 1 to 64 characters of A-Z a-z 0-9 _ - . and the url at most "
			G_STRINGIFY(AH_REGISTRY_URL_MAX) " bytes of UTF-8");
		return NULL;
	}
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(argv, g_strdup_printf("ah:node:{%s}:alive", f->id));
	g_ptr_array_add(argv, g_strdup("ah:nodes"));
	g_ptr_array_add(argv, g_strdup("ah:nodes:seen"));
	g_ptr_array_add(argv, g_strdup(f->id));
	g_ptr_array_add(argv, g_strdup_printf("%" G_GINT64_FORMAT, expiry_ms));
	g_ptr_array_add(argv, figures);
	g_ptr_array_add(argv, g_strdup_printf("%" G_GINT64_FORMAT, forget_ms));
	if (brief)
		g_ptr_array_add(argv, g_strdup("brief"));
	return argv;
}

/* ---- the reply ---- */

static void node_free(gpointer data)
{
	ah_registry_node *node = data;
	g_free(node->id);
	json_decref(node->figures);
	g_free(node);
}

void ah_registry_view_free(ah_registry_view *view)
{
	if (view == NULL)
		return;
	g_ptr_array_unref(view->nodes);
	g_free(view);
}

static gboolean is_int(const ah_redis_value *v, gint64 min, gint64 max)
{
	return v != NULL && v->type == AH_REDIS_INTEGER && v->integer >= min && v->integer <= max;
}

static gint compare_nodes(gconstpointer a, gconstpointer b)
{
	return strcmp((*(ah_registry_node *const *)a)->id, (*(ah_registry_node *const *)b)->id);
}

/* One node's four elements: id, alive, age_ms, figures. */
static ah_registry_node *parse_node(ah_redis_value *const *e, char **error)
{
	if (e[0] == NULL || e[0]->type != AH_REDIS_STRING || !ah_validate_identifier(e[0]->str)) {
		*error = g_strdup("a node id is not an id");
		return NULL;
	}
	if (!is_int(e[1], 0, 1) || !is_int(e[2], 0, G_MAXINT64) || e[3] == NULL || e[3]->type != AH_REDIS_STRING) {
		*error = g_strdup_printf("node %s: alive, age_ms or figures have the wrong type", e[0]->str);
		return NULL;
	}
	ah_registry_node *node = g_new0(ah_registry_node, 1);
	node->id = g_strdup(e[0]->str);
	node->alive = e[1]->integer == 1;
	node->age_ms = e[2]->integer;
	/* What another node stored is shown when it is an object, and otherwise left out: one node with
	 * a broken writer does not hide the others. */
	node->figures = json_loadb(e[3]->str, e[3]->len, JSON_REJECT_DUPLICATES, NULL);
	if (node->figures != NULL && !json_is_object(node->figures))
		g_clear_pointer(&node->figures, json_decref);
	return node;
}

ah_registry_view *ah_registry_parse(const ah_redis_value *reply, char **error)
{
	if (reply == NULL) {
		*error = g_strdup("no reply");
		return NULL;
	}
	if (reply->type == AH_REDIS_ERROR) {
		*error = g_strdup(reply->str);
		return NULL;
	}
	if (reply->type != AH_REDIS_ARRAY || reply->n < 2 || (reply->n - 2) % 4 != 0 ||
			!is_int(reply->elements[0], 0, G_MAXINT64) || !is_int(reply->elements[1], -1, G_MAXINT64)) {
		*error = g_strdup("the reply is not {now_ms, removed, (id, alive, age_ms, figures)...}");
		return NULL;
	}
	ah_registry_view *view = g_new0(ah_registry_view, 1);
	view->redis_now_ms = reply->elements[0]->integer;
	view->brief = reply->elements[1]->integer < 0;
	view->removed = MAX(reply->elements[1]->integer, 0);
	view->nodes = g_ptr_array_new_with_free_func(node_free);
	for (gsize i = 2; i < reply->n; i += 4) {
		ah_registry_node *node = parse_node(reply->elements + i, error);
		if (node == NULL) {
			ah_registry_view_free(view);
			return NULL;
		}
		g_ptr_array_add(view->nodes, node);
	}
	g_ptr_array_sort(view->nodes, compare_nodes);
	return view;
}

static ah_registry_node *node_copy(const ah_registry_node *n)
{
	ah_registry_node *c = g_new0(ah_registry_node, 1);
	c->id = g_strdup(n->id);
	c->alive = n->alive;
	c->age_ms = n->age_ms;
	c->figures = n->figures != NULL ? json_incref(n->figures) : NULL;
	return c;
}

ah_registry_view *ah_registry_view_merge(const ah_registry_view *full, const ah_registry_view *brief)
{
	ah_registry_view *view = g_new0(ah_registry_view, 1);
	GHashTable *listed = g_hash_table_new(g_str_hash, g_str_equal);
	view->redis_now_ms = brief->redis_now_ms;
	view->nodes = g_ptr_array_new_with_free_func(node_free);
	for (guint i = 0; i < brief->nodes->len; i++) {
		const ah_registry_node *n = g_ptr_array_index(brief->nodes, i);
		g_hash_table_add(listed, n->id);
		g_ptr_array_add(view->nodes, node_copy(n));
	}
	for (guint i = 0; full != NULL && i < full->nodes->len; i++) {
		const ah_registry_node *n = g_ptr_array_index(full->nodes, i);
		if (!g_hash_table_contains(listed, n->id))
			g_ptr_array_add(view->nodes, node_copy(n));
	}
	g_hash_table_destroy(listed);
	g_ptr_array_sort(view->nodes, compare_nodes);
	return view;
}

void ah_registry_view_count(const ah_registry_view *view, guint *alive, guint *dead)
{
	*alive = *dead = 0;
	for (guint i = 0; view != NULL && i < view->nodes->len; i++) {
		const ah_registry_node *node = g_ptr_array_index(view->nodes, i);
		if (node->alive)
			(*alive)++;
		else
			(*dead)++;
	}
}

json_t *ah_registry_view_json(const ah_registry_view *view, gint64 since_ms)
{
	json_t *nodes = json_array();
	for (guint i = 0; view != NULL && i < view->nodes->len; i++) {
		const ah_registry_node *node = g_ptr_array_index(view->nodes, i);
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(node->id));
		json_object_set_new(o, "url", json_null());
		if (node->figures != NULL)
			json_object_update(o, node->figures);
		/* The registry's word wins over what a node said about itself. */
		json_object_set_new(o, "id", json_string(node->id));
		json_object_set_new(o, "alive", json_boolean(node->alive));
		json_object_set_new(o, "age_ms", json_integer(node->age_ms + MAX(since_ms, 0)));
		json_array_append_new(nodes, o);
	}
	return nodes;
}
