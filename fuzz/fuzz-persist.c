/* allhands: libFuzzer target for the state file (docs/fuzzing.md): bytes -> json_loadb ->
 * ah_persist_from_json, and for a state that loads, ah_persist_to_json -> ah_persist_from_json ->
 * ah_persist_to_json must give the same JSON (what is saved must load again, unchanged). Tenants of a
 * version 1 file get a signing key first, as the engine gives them (persist.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/persist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const ah_persist_state *state)
{
	json_t *a = ah_persist_to_json(state), *b;
	ah_error err = AH_ERR_OK;
	char *message = NULL;
	ah_persist_state *copy = ah_persist_from_json(a, &err, &message);
	if (copy == NULL) {
		g_printerr("saved state does not load: %s\n", message);
		abort();
	}
	b = ah_persist_to_json(copy);
	if (!json_equal(a, b)) {
		char *ta = json_dumps(a, JSON_COMPACT), *tb = json_dumps(b, JSON_COMPACT);
		g_printerr("state round trip differs:\n%s\n%s\n", ta, tb);
		abort();
	}
	json_decref(a);
	json_decref(b);
	ah_persist_state_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t error;
	json_t *json = json_loadb((const char *)data, size, 0, &error);
	ah_persist_state *state;
	ah_error err = AH_ERR_OK;
	char *message = NULL;
	if (json == NULL)
		return 0;
	state = ah_persist_from_json(json, &err, &message);
	if ((state == NULL) == (err == AH_ERR_OK))
		abort();
	for (guint i = 0; state != NULL && i < state->tenants->len; i++) {
		ah_persist_tenant *t = g_ptr_array_index(state->tenants, i);
		if (t->signing_key == NULL)
			t->signing_key = g_strdup("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	}
	if (state != NULL) {
		round_trip(state);
		ah_persist_state_free(state);
	}
	g_free(message);
	json_decref(json);
	return 0;
}
