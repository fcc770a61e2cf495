/* allhands: the state file (include/allhands/persist.h).
 *
 * Owns the file format: turning tenant and room rows into JSON and back, every check on a file
 * read from disk, and the atomic save. It knows nothing of the engine's structures (the engine
 * fills and reads ah_persist_state). Pure apart from file I/O: no Janus, no clock, no logging.
 * Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "allhands/persist.h"
#include "allhands/simulcast.h"
#include "allhands/validate.h"

/* The same rules as create_tenant / create_room (requests.c), element for element. */
static const ah_param file_spec[] = {
	AH_PARAM_UINT("version", TRUE, 0, G_MAXINT32),
	AH_PARAM_ARR("tenants", TRUE),
	AH_PARAM_ARR("rooms", TRUE),
	AH_PARAM_END
};

static const ah_param tenant_spec[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_STR("name", FALSE, 0, AH_NAME_MAX_LEN),
	AH_PARAM_UINT("max_participants", TRUE, 0, AH_CAP_MAX),
	AH_PARAM_STR("secret", TRUE, 1, AH_SECRET_MAX_LEN),
	AH_PARAM_UINT("weight", FALSE, 1, AH_WEIGHT_MAX),
	AH_PARAM_UINT("reserved", FALSE, 0, AH_CAP_MAX),
	AH_PARAM_UINT("max_queued", FALSE, 0, AH_CAP_MAX),
	AH_PARAM_STR("previous_secret", FALSE, 1, AH_SECRET_MAX_LEN),
	AH_PARAM_UINT("previous_secret_until", FALSE, 1, AH_PID_MAX),
	AH_PARAM_END
};

static const ah_param room_spec[] = {
	AH_PARAM_ID("tenant", TRUE),
	AH_PARAM_ID("room", TRUE),
	AH_PARAM_STR("description", FALSE, 0, AH_DESCRIPTION_MAX_LEN),
	AH_PARAM_UINT("max_attendees", TRUE, 0, AH_CAP_MAX),
	AH_PARAM_STR("pin", FALSE, 0, AH_PIN_MAX_LEN),
	AH_PARAM_STR("presenter_secret", TRUE, 1, AH_SECRET_MAX_LEN),
	AH_PARAM_UINT("lobby_minutes", FALSE, 0, AH_LOBBY_MINUTES_MAX),
	AH_PARAM_UINT("ending_warning_s", FALSE, 0, AH_ROOM_SECONDS_MAX),
	AH_PARAM_UINT("grace_s", FALSE, 0, AH_ROOM_SECONDS_MAX),
	AH_PARAM_STR("prequeue_order", FALSE, 0, 16),
	AH_PARAM_UINT("presenter_seats", FALSE, 0, AH_PRESENTER_SEATS_MAX),
	AH_PARAM_STR("priority_secret", FALSE, 1, AH_SECRET_MAX_LEN),
	AH_PARAM_STR("tokens", FALSE, 0, 16),
	AH_PARAM_STR("video_layer", FALSE, 0, 16),
	AH_PARAM_END
};

static void tenant_free(gpointer data)
{
	ah_persist_tenant *t = data;
	g_free(t->tenant);
	g_free(t->name);
	g_free(t->secret);
	g_free(t->previous_secret);
	g_free(t);
}

static void room_free(gpointer data)
{
	ah_persist_room *r = data;
	g_free(r->tenant);
	g_free(r->room);
	g_free(r->description);
	g_free(r->pin);
	g_free(r->presenter_secret);
	g_free(r->priority_secret);
	if (r->schedule != NULL)
		json_decref(r->schedule);
	g_free(r);
}

ah_persist_state *ah_persist_state_new(void)
{
	ah_persist_state *state = g_new0(ah_persist_state, 1);
	state->tenants = g_ptr_array_new_with_free_func(tenant_free);
	state->rooms = g_ptr_array_new_with_free_func(room_free);
	return state;
}

void ah_persist_state_free(ah_persist_state *state)
{
	if (state == NULL)
		return;
	g_ptr_array_unref(state->tenants);
	g_ptr_array_unref(state->rooms);
	g_free(state);
}

static const char *const tokens_names[] = {
	[AH_TOKENS_OFF] = "off",
	[AH_TOKENS_OPTIONAL] = "optional",
	[AH_TOKENS_REQUIRED] = "required",
};

const char *ah_persist_tokens_name(ah_tokens_policy policy)
{
	return (guint)policy < G_N_ELEMENTS(tokens_names) ? tokens_names[policy] : "off";
}

gboolean ah_persist_tokens_from_name(const char *name, ah_tokens_policy *policy)
{
	for (guint i = 0; name != NULL && i < G_N_ELEMENTS(tokens_names); i++) {
		if (strcmp(name, tokens_names[i]) == 0) {
			*policy = (ah_tokens_policy)i;
			return TRUE;
		}
	}
	return FALSE;
}

ah_persist_tenant *ah_persist_add_tenant(ah_persist_state *state, const char *tenant, const char *name,
	guint max_participants, const char *secret)
{
	ah_persist_tenant *t = g_new0(ah_persist_tenant, 1);
	t->tenant = g_strdup(tenant);
	t->name = g_strdup(name != NULL ? name : "");
	t->max_participants = max_participants;
	t->secret = g_strdup(secret);
	t->weight = 1;
	g_ptr_array_add(state->tenants, t);
	return t;
}

ah_persist_room *ah_persist_add_room(ah_persist_state *state, const char *tenant, const char *room,
	const char *description, guint max_attendees, const char *pin, const char *presenter_secret)
{
	ah_persist_room *r = g_new0(ah_persist_room, 1);
	r->tenant = g_strdup(tenant);
	r->room = g_strdup(room);
	r->description = g_strdup(description != NULL ? description : "");
	r->max_attendees = max_attendees;
	r->pin = (pin != NULL && *pin != '\0') ? g_strdup(pin) : NULL;
	r->presenter_secret = g_strdup(presenter_secret);
	r->lobby_minutes = AH_LOBBY_MINUTES_DEFAULT;
	r->ending_warning_s = AH_ENDING_WARNING_S_DEFAULT;
	r->grace_s = AH_GRACE_S_DEFAULT;
	r->presenter_seats = AH_PRESENTER_SEATS_DEFAULT;
	r->video_layer = AH_SIM_HIGH;
	g_ptr_array_add(state->rooms, r);
	return r;
}

json_t *ah_persist_to_json(const ah_persist_state *state)
{
	json_t *tenants = json_array(), *rooms = json_array();
	for (guint i = 0; i < state->tenants->len; i++) {
		const ah_persist_tenant *t = g_ptr_array_index(state->tenants, i);
		json_array_append_new(tenants, json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I}", "tenant", t->tenant,
			"name", t->name, "max_participants", (json_int_t)t->max_participants, "secret", t->secret,
			"weight", (json_int_t)t->weight, "reserved", (json_int_t)t->reserved,
			"max_queued", (json_int_t)t->max_queued));
		if (t->previous_secret != NULL) {
			json_t *row = json_array_get(tenants, json_array_size(tenants) - 1);
			json_object_set_new(row, "previous_secret", json_string(t->previous_secret));
			json_object_set_new(row, "previous_secret_until", json_integer(t->previous_secret_until));
		}
	}
	for (guint i = 0; i < state->rooms->len; i++) {
		const ah_persist_room *r = g_ptr_array_index(state->rooms, i);
		json_t *row = json_pack("{s:s, s:s, s:s, s:I, s:s}", "tenant", r->tenant, "room", r->room,
			"description", r->description, "max_attendees", (json_int_t)r->max_attendees,
			"presenter_secret", r->presenter_secret);
		if (r->pin != NULL)
			json_object_set_new(row, "pin", json_string(r->pin));
		if (r->schedule != NULL)
			json_object_set(row, "schedule", r->schedule);
		json_object_set_new(row, "lobby_minutes", json_integer(r->lobby_minutes));
		json_object_set_new(row, "ending_warning_s", json_integer(r->ending_warning_s));
		json_object_set_new(row, "grace_s", json_integer(r->grace_s));
		json_object_set_new(row, "prequeue_order", json_string(r->shuffle ? "shuffle" : "fifo"));
		json_object_set_new(row, "presenter_seats", json_integer(r->presenter_seats));
		if (r->priority_secret != NULL)
			json_object_set_new(row, "priority_secret", json_string(r->priority_secret));
		json_object_set_new(row, "tokens", json_string(ah_persist_tokens_name(r->tokens)));
		json_object_set_new(row, "video_layer", json_string(ah_sim_layer_name(r->video_layer)));
		json_array_append_new(rooms, row);
	}
	return json_pack("{s:i, s:o, s:o}", "version", AH_PERSIST_VERSION, "tenants", tenants, "rooms", rooms);
}

/* A row failed its spec: prefix the validator's message with where the row is. */
static ah_error row_error(ah_error err, const char *table, guint index, char *why, char **message)
{
	*message = g_strdup_printf("%s[%u]: %s", table, index, why);
	g_free(why);
	return err;
}

static ah_error read_tenants(ah_persist_state *state, const json_t *array, GHashTable *seen, char **message)
{
	size_t i;
	const json_t *row;
	json_array_foreach(array, i, row) {
		char *why = NULL;
		ah_error err = ah_validate_params(row, tenant_spec, &why);
		ah_persist_tenant *t;
		const char *id;
		if (err != AH_ERR_OK)
			return row_error(err, "tenants", i, why, message);
		id = json_string_value(json_object_get(row, "tenant"));
		if (g_hash_table_contains(seen, id))
			return row_error(AH_ERR_TENANT_EXISTS, "tenants", i,
				g_strdup_printf("tenant %s appears twice", id), message);
		g_hash_table_add(seen, (gpointer)id);
		t = ah_persist_add_tenant(state, id, json_string_value(json_object_get(row, "name")),
			json_integer_value(json_object_get(row, "max_participants")),
			json_string_value(json_object_get(row, "secret")));
		if (json_object_get(row, "weight") != NULL)
			t->weight = json_integer_value(json_object_get(row, "weight"));
		t->reserved = json_integer_value(json_object_get(row, "reserved"));
		t->max_queued = json_integer_value(json_object_get(row, "max_queued"));
		if ((json_object_get(row, "previous_secret") == NULL) != (json_object_get(row, "previous_secret_until") == NULL))
			return row_error(AH_ERR_INVALID_ELEMENT, "tenants", i, g_strdup("invalid element "
				"(previous_secret and previous_secret_until: both or neither)"), message);
		t->previous_secret = g_strdup(json_string_value(json_object_get(row, "previous_secret")));
		t->previous_secret_until = json_integer_value(json_object_get(row, "previous_secret_until"));
	}
	return AH_ERR_OK;
}

/* The schedule options of a room row that passed room_spec; missing ones keep their defaults. */
static ah_error read_room_options(ah_persist_room *r, const json_t *row, char **why)
{
	const json_t *schedule = json_object_get(row, "schedule");
	const char *order = json_string_value(json_object_get(row, "prequeue_order"));
	if (json_object_get(row, "lobby_minutes") != NULL)
		r->lobby_minutes = json_integer_value(json_object_get(row, "lobby_minutes"));
	if (json_object_get(row, "ending_warning_s") != NULL)
		r->ending_warning_s = json_integer_value(json_object_get(row, "ending_warning_s"));
	if (json_object_get(row, "grace_s") != NULL)
		r->grace_s = json_integer_value(json_object_get(row, "grace_s"));
	if (order != NULL && strcmp(order, "fifo") != 0 && strcmp(order, "shuffle") != 0) {
		*why = g_strdup("invalid element (prequeue_order: must be fifo or shuffle)");
		return AH_ERR_INVALID_ELEMENT;
	}
	r->shuffle = g_strcmp0(order, "shuffle") == 0;
	if (json_object_get(row, "tokens") != NULL
		&& !ah_persist_tokens_from_name(json_string_value(json_object_get(row, "tokens")), &r->tokens)) {
		*why = g_strdup("invalid element (tokens: must be off, optional or required)");
		return AH_ERR_INVALID_ELEMENT;
	}
	if (json_object_get(row, "video_layer") != NULL
		&& (r->video_layer = ah_sim_layer_parse(json_string_value(json_object_get(row, "video_layer")))) < 0) {
		*why = g_strdup("invalid element (video_layer: must be low, medium or high)");
		return AH_ERR_INVALID_ELEMENT;
	}
	if (json_object_get(row, "presenter_seats") != NULL)
		r->presenter_seats = json_integer_value(json_object_get(row, "presenter_seats"));
	r->priority_secret = g_strdup(json_string_value(json_object_get(row, "priority_secret")));
	/* Checked when the engine loads the room: a schedule refused now is held there, not lost. */
	if (schedule != NULL && !json_is_null(schedule))
		r->schedule = json_deep_copy(schedule);
	return AH_ERR_OK;
}

static ah_error read_rooms(ah_persist_state *state, const json_t *array, GHashTable *tenants, char **message)
{
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	ah_error err = AH_ERR_OK;
	size_t i;
	const json_t *row;
	json_array_foreach(array, i, row) {
		char *why = NULL, *key;
		const char *tenant, *room;
		ah_persist_room *r;
		err = ah_validate_params(row, room_spec, &why);
		if (err != AH_ERR_OK) {
			row_error(err, "rooms", i, why, message);
			break;
		}
		tenant = json_string_value(json_object_get(row, "tenant"));
		room = json_string_value(json_object_get(row, "room"));
		if (!g_hash_table_contains(tenants, tenant)) {
			err = row_error(AH_ERR_NO_SUCH_TENANT, "rooms", i,
				g_strdup_printf("room %s/%s: no such tenant", tenant, room), message);
			break;
		}
		/* '/' is not an identifier character, so "tenant/room" is a unique key. */
		key = g_strdup_printf("%s/%s", tenant, room);
		if (!g_hash_table_add(seen, key)) {
			err = row_error(AH_ERR_ROOM_EXISTS, "rooms", i,
				g_strdup_printf("room %s/%s appears twice", tenant, room), message);
			break;
		}
		r = ah_persist_add_room(state, tenant, room, json_string_value(json_object_get(row, "description")),
			json_integer_value(json_object_get(row, "max_attendees")),
			json_string_value(json_object_get(row, "pin")),
			json_string_value(json_object_get(row, "presenter_secret")));
		err = read_room_options(r, row, &why);
		if (err != AH_ERR_OK) {
			row_error(err, "rooms", i, why != NULL ? why : g_strdup("invalid schedule"), message);
			break;
		}
	}
	g_hash_table_destroy(seen);
	return err;
}

ah_persist_state *ah_persist_from_json(const json_t *root, ah_error *err, char **message)
{
	ah_persist_state *state;
	GHashTable *tenants;
	json_int_t version;
	*message = NULL;
	*err = ah_validate_params(root, file_spec, message);
	if (*err != AH_ERR_OK)
		return NULL;
	version = json_integer_value(json_object_get(root, "version"));
	if (version != AH_PERSIST_VERSION) {
		*err = AH_ERR_INVALID_ELEMENT;
		*message = g_strdup_printf("invalid element (version: %" JSON_INTEGER_FORMAT " is not supported, "
			"this build reads %d)", version, AH_PERSIST_VERSION);
		return NULL;
	}
	state = ah_persist_state_new();
	tenants = g_hash_table_new(g_str_hash, g_str_equal);
	*err = read_tenants(state, json_object_get(root, "tenants"), tenants, message);
	if (*err == AH_ERR_OK)
		*err = read_rooms(state, json_object_get(root, "rooms"), tenants, message);
	g_hash_table_destroy(tenants);
	if (*err != AH_ERR_OK) {
		ah_persist_state_free(state);
		return NULL;
	}
	return state;
}

/* jansson's parse errors may quote the text near the error, which could be part of a secret:
 * keep only what went wrong and where. */
static char *parse_error(const json_error_t *error)
{
	const char *near = strstr(error->text, " near ");
	int len = near != NULL ? (int)(near - error->text) : (int)strlen(error->text);
	return g_strdup_printf("not valid JSON (line %d, column %d: %.*s)", error->line, error->column,
		len, error->text);
}

ah_persist_state *ah_persist_load(const char *path, ah_error *err, char **message)
{
	char *contents = NULL, *why = NULL;
	gsize length = 0;
	GError *error = NULL;
	json_error_t jerror;
	json_t *root;
	ah_persist_state *state;
	*message = NULL;
	if (!g_file_get_contents(path, &contents, &length, &error)) {
		gboolean missing = g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
		*err = missing ? AH_ERR_OK : AH_ERR_PERSIST_FAILED;
		if (!missing)
			*message = g_strdup_printf("state file %s: %s", path, error->message);
		g_error_free(error);
		return missing ? ah_persist_state_new() : NULL;
	}
	root = json_loadb(contents, length, JSON_REJECT_DUPLICATES, &jerror);
	g_free(contents);
	if (root == NULL) {
		*err = AH_ERR_INVALID_JSON;
		why = parse_error(&jerror);
		*message = g_strdup_printf("state file %s: %s", path, why);
		g_free(why);
		return NULL;
	}
	state = ah_persist_from_json(root, err, &why);
	json_decref(root);
	if (state == NULL) {
		*message = g_strdup_printf("state file %s: %s", path, why);
		g_free(why);
	}
	return state;
}

gboolean ah_persist_save(const char *path, const ah_persist_state *state, char **message)
{
	json_t *root = ah_persist_to_json(state);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	GError *error = NULL;
	gboolean ok;
	json_decref(root);
	*message = NULL;
	if (text == NULL) {
		*message = g_strdup_printf("state file %s: cannot serialize the state", path);
		return FALSE;
	}
	/* CONSISTENT: temporary file + rename; DURABLE: fsync before the rename (and of the folder). */
	ok = g_file_set_contents_full(path, text, -1,
		G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, &error);
	free(text);
	if (!ok) {
		*message = g_strdup_printf("state file %s: %s", path, error->message);
		g_error_free(error);
	}
	return ok;
}
