/* allhands: what every request handler shares (requests-private.h): failing with a message,
 * reading the request's elements, the caller's scope, replies and their tenant, room and counts
 * objects, saving a change, the failure throttle around a credential check and the credentials'
 * minimum lengths. The leaf of the request files: every other one calls it, and it calls only down
 * into the engine (engine-registry.c, engine-persist.c, engine-credentials.c, engine-schedule.c's
 * room object) and admission.
 *
 * Pure: no Janus header, no clock, no logging. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "requests-private.h"
#include "allhands/persist.h"
#include "allhands/simulcast.h"

ah_error ah_req_fail(ah_req *req, ah_error err, char *message)
{
	g_free(req->error);
	req->error = message;
	return err;
}

const char *ah_req_string(const ah_req *req, const char *name)
{
	return json_string_value(json_object_get(req->message, name));
}

gboolean ah_req_has(const ah_req *req, const char *name)
{
	return json_object_get(req->message, name) != NULL;
}

guint ah_req_uint(const ah_req *req, const char *name)
{
	return (guint)json_integer_value(json_object_get(req->message, name));
}

/* A tenant caller may only name its own tenant (the `tenant` element also names the caller, so
 * this holds by construction today; kept so a new request cannot get it wrong). */
ah_error ah_req_in_scope(ah_req *req, const char *tenant)
{
	if (req->scope != NULL && g_strcmp0(req->scope, tenant) != 0)
		return ah_req_fail(req, AH_ERR_FORBIDDEN, g_strdup("forbidden (another tenant's objects)"));
	return AH_ERR_OK;
}

json_t *ah_req_success(void)
{
	return json_pack("{s:s}", "allhands", "success");
}

json_t *ah_req_event(const char *name)
{
	return json_pack("{s:s, s:s}", "allhands", "event", "event", name);
}

/* After a change of the tenant or room the request names: hand its row to the writer; while the
 * state file cannot be written, keep the change but say so (the writer thread reports each failed
 * write to the event handlers). */
void ah_req_save(ah_req *req)
{
	if (ah_engine_save(req->engine, ah_req_string(req, "tenant"), ah_req_string(req, "room")))
		return;
	json_object_set_new(req->reply, "warning", json_pack("{s:i, s:s, s:s}",
		"error_code", ah_error_code(AH_ERR_PERSIST_FAILED), "error_name", ah_error_name(AH_ERR_PERSIST_FAILED),
		"error", ah_error_message(AH_ERR_PERSIST_FAILED)));
}

/* --- objects in replies */

/* Backstage monitors of one room or of a tenant (room NULL). The node's count is 0, like its
 * presenters': both hold a tenant seat but no node seat. */
static guint backstage_count(const ah_tenant *tenant, const ah_room *room)
{
	GHashTableIter iter;
	gpointer value;
	guint n = 0;
	if (room != NULL) {
		for (guint i = 0; i < room->members->len; i++)
			n += ((const ah_participant *)g_ptr_array_index(room->members, i))->backstage;
	} else if (tenant != NULL) {
		g_hash_table_iter_init(&iter, tenant->rooms);
		while (g_hash_table_iter_next(&iter, NULL, &value))
			n += backstage_count(tenant, value);
	}
	return n;
}

/* Admission sees backstage monitors as presenters (a tenant seat each): tell them apart here. */
json_t *ah_req_counts_json(const ah_engine *e, const ah_tenant *tenant, const ah_room *room)
{
	ah_adm_counts c = ah_admission_counts(e->adm, tenant != NULL ? tenant->id : NULL, room != NULL ? room->id : NULL);
	guint backstage = backstage_count(tenant, room);
	guint presenters = c.presenters >= backstage ? c.presenters - backstage : 0;
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "active", (json_int_t)c.active,
		"connecting", (json_int_t)c.connecting, "admitted", (json_int_t)(c.active + c.connecting),
		"queued", (json_int_t)c.queued, "rejoining", (json_int_t)c.rejoining, "presenters", (json_int_t)presenters,
		"backstage", (json_int_t)backstage);
}

json_t *ah_req_room_json(const ah_engine *e, const ah_room *r)
{
	json_t *room = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:b, s:o}", "tenant", r->tenant->id, "room", r->id,
		"description", r->description, "max_attendees", (json_int_t)r->max_attendees,
		"presenter_seats", (json_int_t)r->presenter_seats, "pin_required", r->pin != NULL,
		"priority_class", r->priority_secret != NULL, "counts", ah_req_counts_json(e, r->tenant, r));
	json_object_set_new(room, "tokens", json_string(ah_persist_tokens_name(r->tokens)));
	json_object_set_new(room, "video_layer", json_string(ah_sim_layer_name(r->video_layer)));
	json_object_set_new(room, "presenter_max_bitrate", json_integer(r->presenter_max_bitrate));
	if (r->node != NULL)
		json_object_set_new(room, "node", json_string(r->node));
	if (r->origin_attendees >= 0)
		json_object_set_new(room, "origin_attendees", json_integer(r->origin_attendees));
	/* Cluster mode: where this node, as the room's origin, placed its attendees (per node, since start). */
	json_t *placed = ah_engine_edges_room_json(e, r);
	if (placed != NULL)
		json_object_set_new(room, "placed", placed);
	ah_room_schedule_json(r, room);
	return room;
}

/* Tenants and lists of rooms, in replies. */

json_t *ah_req_tenant_json(const ah_engine *e, const ah_tenant *t)
{
	json_t *tenant = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "tenant", t->id, "name", t->name,
		"max_participants", (json_int_t)t->max_participants, "weight", (json_int_t)t->weight,
		"reserved", (json_int_t)t->reserved, "max_queued", (json_int_t)t->max_queued,
		"rooms", (json_int_t)g_hash_table_size(t->rooms), "counts", ah_req_counts_json(e, t, NULL));
	/* The end of a secret rotation's overlap (the secrets themselves are never shown). */
	if (t->previous_secret != NULL)
		json_object_set_new(tenant, "previous_secret_until", json_integer(t->previous_secret_until));
	if (t->previous_signing_key != NULL)
		json_object_set_new(tenant, "previous_signing_key_until", json_integer(t->previous_signing_key_until));
	return tenant;
}

/* `tenant` alone, or every tenant sorted when it is NULL (a tenant's view never sorts the node). */
static GPtrArray *tenants_of(const ah_engine *e, const ah_tenant *tenant)
{
	GPtrArray *tenants;
	if (tenant == NULL)
		return ah_engine_sorted_tenants(e);
	tenants = g_ptr_array_new();
	g_ptr_array_add(tenants, (gpointer)tenant);
	return tenants;
}

/* Rooms of one tenant, or of all tenants when `tenant` is NULL, sorted. */
json_t *ah_req_rooms_json(const ah_engine *e, const ah_tenant *tenant)
{
	json_t *array = json_array();
	GPtrArray *tenants = tenants_of(e, tenant);
	for (guint i = 0; i < tenants->len; i++) {
		const ah_tenant *t = g_ptr_array_index(tenants, i);
		GPtrArray *rooms = ah_engine_sorted_rooms(t);
		for (guint j = 0; j < rooms->len; j++)
			json_array_append_new(array, ah_req_room_json(e, g_ptr_array_index(rooms, j)));
		g_ptr_array_unref(rooms);
	}
	g_ptr_array_unref(tenants);
	return array;
}

json_t *ah_req_tenants_json(const ah_engine *e, const ah_tenant *tenant)
{
	json_t *array = json_array();
	GPtrArray *tenants = tenants_of(e, tenant);
	for (guint i = 0; i < tenants->len; i++)
		json_array_append_new(array, ah_req_tenant_json(e, g_ptr_array_index(tenants, i)));
	g_ptr_array_unref(tenants);
	return array;
}

/* --- elements and rooms */

/* The simulcast layer element `name` (0..2), if present; -1 when absent. */
ah_error ah_req_layer(ah_req *req, const char *name, int *layer)
{
	*layer = -1;
	if (ah_req_has(req, name) && (*layer = ah_sim_layer_parse(ah_req_string(req, name))) < 0)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup_printf("invalid element (%s: must be low, medium or high)", name));
	return AH_ERR_OK;
}

/* The room named by the request, within the caller's rights. */
ah_error ah_req_find_room(ah_req *req, ah_room **room)
{
	const char *tenant = ah_req_string(req, "tenant");
	ah_error err = ah_req_in_scope(req, tenant);
	if (err != AH_ERR_OK)
		return err;
	if (ah_engine_tenant(req->engine, tenant) == NULL)
		return AH_ERR_NO_SUCH_TENANT;
	*room = ah_engine_room(req->engine, tenant, ah_req_string(req, "room"));
	return *room != NULL ? AH_ERR_OK : AH_ERR_NO_SUCH_ROOM;
}

ah_error ah_req_room_reply(ah_req *req, const ah_room *room, const char *note, gboolean save)
{
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "room", ah_req_room_json(req->engine, room));
	ah_engine_notify(req->outs, 0, note, room->tenant->id, room->id, 0);
	if (save)
		ah_req_save(req);
	return AH_ERR_OK;
}

/* The tenant a list or status is about: the one named, else the caller's own, else all (NULL). */
ah_error ah_req_filter_tenant(ah_req *req, ah_tenant **tenant)
{
	const char *id = ah_req_has(req, "tenant") ? ah_req_string(req, "tenant") : req->scope;
	ah_error err = ah_req_in_scope(req, id);
	*tenant = NULL;
	if (err != AH_ERR_OK || id == NULL)
		return err;
	*tenant = ah_engine_tenant(req->engine, id);
	return *tenant != NULL ? AH_ERR_OK : AH_ERR_NO_SUCH_TENANT;
}

/* --- the failure throttle around a credential check (engine-credentials.c keeps the buckets) */

ah_error ah_req_guard(ah_req *req, ah_fail_bucket *bucket, ah_fail_scope scope)
{
	const char *name;
	gint64 wait = ah_engine_fail_guard(req->engine, req->admin_api, req->conn, bucket, scope, req->now, &name);
	if (wait == 0)
		return AH_ERR_OK;
	req->error_extra = json_pack("{s:I, s:s}", "retry_after_ms", (json_int_t)((wait + 999) / 1000), "scope", name);
	return AH_ERR_TOO_MANY_FAILURES;
}

void ah_req_failed(ah_req *req, ah_fail_bucket *bucket, ah_fail_scope scope)
{
	ah_engine_fail_record(req->engine, req->admin_api, req->conn, bucket, scope, req->now);
}

/* --- minimum lengths (validate.h) the parameter specs cannot say */

ah_error ah_req_room_credentials(ah_req *req)
{
	const char *pin = ah_req_string(req, "pin"), *priority = ah_req_string(req, "priority_secret");
	if (pin != NULL && *pin != '\0' && g_utf8_strlen(pin, -1) < AH_PIN_MIN_LEN)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup_printf("invalid element (pin: at least %d "
			"characters, or \"\" for none)", AH_PIN_MIN_LEN));
	if (priority != NULL && *priority != '\0' && g_utf8_strlen(priority, -1) < AH_ROOM_SECRET_MIN_LEN)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup_printf("invalid element (priority_secret: at "
			"least %d characters, or \"\" for none)", AH_ROOM_SECRET_MIN_LEN));
	return AH_ERR_OK;
}

json_t *ah_engine_error_body(ah_error err, const char *message)
{
	return json_pack("{s:s, s:i, s:s, s:s}", "allhands", "event", "error_code", ah_error_code(err),
		"error_name", ah_error_name(err), "error", message != NULL ? message : ah_error_message(err));
}
