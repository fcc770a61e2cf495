/* allhands: libFuzzer target for cluster mode's shared definitions (docs/fuzzing.md): bytes ->
 * json_loadb -> ah_engine_apply_definition, as a tenant's row, as an existing room's and as a new
 * room's, on an engine holding a tenant, two rooms and a participant. A definition is either refused
 * with a message and nothing changed, or applied; then the engine's own definition of it applies again
 * unchanged (what a node shares is what it takes back), and the engine's rows still load as a state
 * file. A row that names no tenant ("gone") destroys nothing but what it names.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW (G_GINT64_CONSTANT(1000) * G_USEC_PER_SEC)

static ah_engine *engine;
static GPtrArray *outs;

static json_t *admin(const char *text)
{
	json_error_t error;
	json_t *message = json_loads(text, 0, &error), *reply;
	if (message == NULL)
		abort();
	reply = ah_engine_admin_message(engine, message, NOW, outs);
	json_decref(message);
	g_ptr_array_set_size(outs, 0);
	return reply;
}

static void fresh_engine(void)
{
	ah_engine_config config = { 0 };
	ah_error err = AH_ERR_OK;
	char *message = NULL;
	ah_admission_config_defaults(&config.admission);
	ah_engine_free(engine);
	engine = ah_engine_new(&config, &err, &message);
	if (engine == NULL)
		abort();
	json_decref(admin("{\"request\":\"create_tenant\",\"tenant\":\"acme\",\"max_participants\":10,"
		"\"secret\":\"acme-tenant-secret\"}"));
	json_decref(admin("{\"request\":\"create_room\",\"tenant\":\"acme\",\"room\":\"allhands\",\"max_attendees\":5,"
		"\"presenter_secret\":\"s3cret-presenter\"}"));
	json_decref(admin("{\"request\":\"create_room\",\"tenant\":\"acme\",\"room\":\"other\",\"max_attendees\":5,"
		"\"presenter_secret\":\"s3cret-presenter\"}"));
	json_t *join = json_loads("{\"request\":\"join\",\"tenant\":\"acme\",\"room\":\"allhands\",\"display\":\"x\"}", 0, NULL);
	ah_engine_handle_message(engine, 1, join, NULL, NULL, 0, NOW, outs);
	json_decref(join);
	g_ptr_array_set_size(outs, 0);
}

/* Apply `row` as tenant/room's definition; check the outcome. */
static void apply(const char *tenant, const char *room, const json_t *row)
{
	json_t *before = ah_engine_definition(engine, tenant, room), *after, *again;
	gboolean changed = TRUE;
	char *message = NULL;
	ah_error err = ah_engine_apply_definition(engine, tenant, room, row, NOW, outs, &changed, &message);
	after = ah_engine_definition(engine, tenant, room);
	if (err != AH_ERR_OK) {
		/* Refused: a message, nothing changed. */
		if (message == NULL || changed || (before == NULL) != (after == NULL) || (before != NULL && !json_equal(before, after)))
			abort();
	} else {
		if (message != NULL || after == NULL)
			abort();
		/* What the engine has now applies again unchanged. */
		again = json_deep_copy(after);
		if (ah_engine_apply_definition(engine, tenant, room, again, NOW, outs, &changed, &message) != AH_ERR_OK || changed)
			abort();
		json_decref(again);
	}
	g_free(message);
	json_decref(before);
	json_decref(after);
	g_ptr_array_set_size(outs, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t error;
	json_t *row = json_loadb((const char *)data, size, 0, &error);
	if (outs == NULL)
		outs = g_ptr_array_new_with_free_func(ah_out_free);
	if (row == NULL)
		return 0;
	fresh_engine();
	apply("acme", NULL, row);
	apply("acme", "allhands", row);
	apply("acme", "fresh", row);
	/* Gone: only what is named goes. */
	gboolean changed = FALSE;
	char *message = NULL;
	if (ah_engine_apply_definition(engine, "acme", "other", NULL, NOW, outs, &changed, &message) != AH_ERR_OK || !changed)
		abort();
	json_t *tenant = ah_engine_definition(engine, "acme", NULL);
	if (tenant == NULL)
		abort();
	json_decref(tenant);
	g_ptr_array_set_size(outs, 0);
	json_decref(row);
	return 0;
}
