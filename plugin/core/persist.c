/* allhands: the state file (include/allhands/persist.h).
 *
 * Owns the file format: turning tenant and room rows into JSON and back, every check on a file
 * read from disk, and the atomic save. It knows nothing of the engine's structures (the engine
 * fills and reads ah_persist_state), the atomic write of a file's text (ah_persist_write_text,
 * called by persist-writer.c on its thread) and the clean-up of temporary files at start. Pure
 * apart from file I/O: no Janus, no clock, no logging. Reentrant: no global state.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allhands/persist.h"
#include "allhands/simulcast.h"
#include "allhands/token.h"
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
	AH_PARAM_STR("signing_key", FALSE, AH_SIGNING_KEY_LEN, AH_SIGNING_KEY_LEN),
	AH_PARAM_STR("previous_signing_key", FALSE, AH_SIGNING_KEY_LEN, AH_SIGNING_KEY_LEN),
	AH_PARAM_UINT("previous_signing_key_until", FALSE, 1, AH_PID_MAX),
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
	AH_PARAM_UINT("presenter_max_bitrate", FALSE, 0, AH_PRESENTER_BITRATE_MAX),
	AH_PARAM_ID("node", FALSE),
	AH_PARAM_UINT("origin_attendees", FALSE, 0, AH_CAP_MAX),
	AH_PARAM_END
};

static void tenant_free(gpointer data)
{
	ah_persist_tenant *t = data;
	g_free(t->tenant);
	g_free(t->name);
	g_free(t->secret);
	g_free(t->previous_secret);
	g_free(t->signing_key);
	g_free(t->previous_signing_key);
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
	g_free(r->node);
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
	r->origin_attendees = -1;
	g_ptr_array_add(state->rooms, r);
	return r;
}

static void signing_keys_to_json(const ah_persist_tenant *t, json_t *row)
{
	if (t->signing_key != NULL)
		json_object_set_new(row, "signing_key", json_string(t->signing_key));
	if (t->previous_signing_key != NULL) {
		json_object_set_new(row, "previous_signing_key", json_string(t->previous_signing_key));
		json_object_set_new(row, "previous_signing_key_until", json_integer(t->previous_signing_key_until));
	}
}

json_t *ah_persist_tenant_json(const ah_persist_tenant *t)
{
	json_t *row = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I}", "tenant", t->tenant,
		"name", t->name, "max_participants", (json_int_t)t->max_participants, "secret", t->secret,
		"weight", (json_int_t)t->weight, "reserved", (json_int_t)t->reserved,
		"max_queued", (json_int_t)t->max_queued);
	if (t->previous_secret != NULL) {
		json_object_set_new(row, "previous_secret", json_string(t->previous_secret));
		json_object_set_new(row, "previous_secret_until", json_integer(t->previous_secret_until));
	}
	signing_keys_to_json(t, row);
	return row;
}

json_t *ah_persist_room_json(const ah_persist_room *r)
{
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
	if (r->presenter_max_bitrate > 0)
		json_object_set_new(row, "presenter_max_bitrate", json_integer(r->presenter_max_bitrate));
	if (r->node != NULL)
		json_object_set_new(row, "node", json_string(r->node));
	if (r->origin_attendees >= 0)
		json_object_set_new(row, "origin_attendees", json_integer(r->origin_attendees));
	return row;
}

json_t *ah_persist_to_json(const ah_persist_state *state)
{
	json_t *tenants = json_array(), *rooms = json_array();
	for (guint i = 0; i < state->tenants->len; i++)
		json_array_append_new(tenants, ah_persist_tenant_json(g_ptr_array_index(state->tenants, i)));
	for (guint i = 0; i < state->rooms->len; i++)
		json_array_append_new(rooms, ah_persist_room_json(g_ptr_array_index(state->rooms, i)));
	return json_pack("{s:i, s:o, s:o}", "version", AH_PERSIST_VERSION, "tenants", tenants, "rooms", rooms);
}

/* A row failed its spec: prefix the validator's message with where the row is. */
static ah_error row_error(ah_error err, const char *table, guint index, char *why, char **message)
{
	*message = g_strdup_printf("%s[%u]: %s", table, index, why);
	g_free(why);
	return err;
}

/* A tenant row's signing keys: required from version 2 on, in token.h's form. */
static ah_error read_signing_keys(ah_persist_tenant *t, const json_t *row, json_int_t version, char **why)
{
	const char *key = json_string_value(json_object_get(row, "signing_key"));
	const char *previous = json_string_value(json_object_get(row, "previous_signing_key"));
	if (key == NULL && version >= 2) {
		*why = g_strdup("missing element (signing_key)");
		return AH_ERR_MISSING_ELEMENT;
	}
	if ((key != NULL && !ah_token_key_valid(key)) || (previous != NULL && !ah_token_key_valid(previous))) {
		*why = g_strdup("invalid element (signing_key: 64 lower-case hex characters)");
		return AH_ERR_INVALID_ELEMENT;
	}
	if ((previous == NULL) != (json_object_get(row, "previous_signing_key_until") == NULL)) {
		*why = g_strdup("invalid element (previous_signing_key and previous_signing_key_until: both or neither)");
		return AH_ERR_INVALID_ELEMENT;
	}
	t->signing_key = g_strdup(key);
	t->previous_signing_key = g_strdup(previous);
	t->previous_signing_key_until = json_integer_value(json_object_get(row, "previous_signing_key_until"));
	return AH_ERR_OK;
}

static ah_error read_tenants(ah_persist_state *state, const json_t *array, GHashTable *seen, json_int_t version,
	char **message)
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
		if ((err = read_signing_keys(t, row, version, &why)) != AH_ERR_OK)
			return row_error(err, "tenants", i, why, message);
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
	r->presenter_max_bitrate = (guint)json_integer_value(json_object_get(row, "presenter_max_bitrate"));
	if (r->presenter_max_bitrate != 0 && r->presenter_max_bitrate < AH_PRESENTER_BITRATE_MIN) {
		*why = g_strdup("invalid element (presenter_max_bitrate: 0 or at least 50000 bps)");
		return AH_ERR_INVALID_ELEMENT;
	}
	r->priority_secret = g_strdup(json_string_value(json_object_get(row, "priority_secret")));
	r->node = g_strdup(json_string_value(json_object_get(row, "node")));
	if (json_object_get(row, "origin_attendees") != NULL)
		r->origin_attendees = (gint)json_integer_value(json_object_get(row, "origin_attendees"));
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
	if (version < AH_PERSIST_VERSION_MIN || version > AH_PERSIST_VERSION) {
		*err = AH_ERR_INVALID_ELEMENT;
		*message = g_strdup_printf("invalid element (version: %" JSON_INTEGER_FORMAT " is not supported, "
			"this build reads %d to %d)", version, AH_PERSIST_VERSION_MIN, AH_PERSIST_VERSION);
		return NULL;
	}
	state = ah_persist_state_new();
	tenants = g_hash_table_new(g_str_hash, g_str_equal);
	*err = read_tenants(state, json_object_get(root, "tenants"), tenants, version, message);
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

char *ah_persist_temp_path(const char *path)
{
	return g_strconcat(path, AH_PERSIST_TEMP_SUFFIX, NULL);
}

static gboolean write_all(int fd, const char *text, gsize length)
{
	while (length > 0) {
		ssize_t n = write(fd, text, length);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		text += n;
		length -= (gsize)n;
	}
	return TRUE;
}

/* fsync the folder holding `path`, so the rename itself survives a power cut. */
static gboolean sync_folder(const char *path)
{
	char *dir = g_path_get_dirname(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	gboolean ok = fd >= 0 && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	g_free(dir);
	return ok;
}

gboolean ah_persist_write_text(const char *path, const char *text, gsize length, char **message)
{
	char *temp = ah_persist_temp_path(path);
	const char *step = "open";
	int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	gboolean ok = fd >= 0;
	*message = NULL;
	/* A temporary file left with another mode (it never is by us) must not leak the secrets. */
	if (ok && !(ok = fchmod(fd, 0600) == 0))
		step = "chmod";
	if (ok && !(ok = write_all(fd, text, length)))
		step = "write";
	if (ok && !(ok = fsync(fd) == 0))
		step = "fsync";
	if (fd >= 0 && close(fd) != 0 && ok) {
		ok = FALSE;
		step = "close";
	}
	if (ok && !(ok = rename(temp, path) == 0))
		step = "rename";
	if (ok && !(ok = sync_folder(path)))
		step = "fsync of the folder";
	if (!ok) {
		*message = g_strdup_printf("state file %s: %s: %s", path, step, g_strerror(errno));
		/* Nothing half-written stays behind (after a rename failure the old file is untouched). */
		if (strcmp(step, "fsync of the folder") != 0)
			unlink(temp);
	}
	g_free(temp);
	return ok;
}

/* A temporary file GLib's g_file_set_contents() (what earlier versions of this plugin
 * saved with)
 * named "<state file>.XXXXXX": six random letters and digits. A plain word such as "backup" is
 * an operator's file, so at least one of the six must be a digit or a capital. */
static gboolean legacy_temp_name(const char *name, const char *base)
{
	gsize n = strlen(base);
	gboolean random_looking = FALSE;
	if (strncmp(name, base, n) != 0 || name[n] != '.' || strlen(name + n + 1) != 6)
		return FALSE;
	for (const char *c = name + n + 1; *c != '\0'; c++) {
		if (!g_ascii_isalnum(*c))
			return FALSE;
		random_looking |= g_ascii_isdigit(*c) || g_ascii_isupper(*c);
	}
	return random_looking;
}

guint ah_persist_clean_temps(const char *path)
{
	char *dir = g_path_get_dirname(path), *base = g_path_get_basename(path);
	char *ours = g_strconcat(base, AH_PERSIST_TEMP_SUFFIX, NULL);
	GDir *folder = g_dir_open(dir, 0, NULL);
	const char *name;
	guint removed = 0;
	while (folder != NULL && (name = g_dir_read_name(folder)) != NULL) {
		char *full;
		struct stat st;
		if (strcmp(name, ours) != 0 && !legacy_temp_name(name, base))
			continue;
		full = g_build_filename(dir, name, NULL);
		/* Only regular files of ours: never follow a link, never someone else's file. */
		if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && unlink(full) == 0)
			removed++;
		g_free(full);
	}
	if (folder != NULL)
		g_dir_close(folder);
	g_free(ours);
	g_free(base);
	g_free(dir);
	return removed;
}

gboolean ah_persist_save(const char *path, const ah_persist_state *state, char **message)
{
	json_t *root = ah_persist_to_json(state);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	gboolean ok;
	json_decref(root);
	*message = NULL;
	if (text == NULL) {
		*message = g_strdup_printf("state file %s: cannot serialize the state", path);
		return FALSE;
	}
	ok = ah_persist_write_text(path, text, strlen(text), message);
	free(text);
	return ok;
}
