/* allhands: the tenant requests (docs/api.md): create_tenant, edit_tenant (a secret rotation with
 * its overlap, the share of the node's waves), destroy_tenant, list_tenants, and the tenant's join
 * token signing key (get_signing_key, rotate_signing_key). requests.c's table dispatches here; the
 * handlers call requests-common.c and the engine.
 *
 * Pure: no Janus header, no clock, no logging. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "requests-private.h"

/* weight, reserved, max_queued: those present in the request. */
static void apply_tenant_share(ah_req *req, ah_tenant *t)
{
	if (ah_req_has(req, "weight"))
		t->weight = ah_req_uint(req, "weight");
	if (ah_req_has(req, "reserved"))
		t->reserved = ah_req_uint(req, "reserved");
	if (ah_req_has(req, "max_queued"))
		t->max_queued = ah_req_uint(req, "max_queued");
	ah_engine_apply_share(req->engine, t);
}

ah_error ah_req_create_tenant(ah_req *req)
{
	const char *id = ah_req_string(req, "tenant");
	ah_tenant *t;
	if (ah_engine_tenant(req->engine, id) != NULL)
		return AH_ERR_TENANT_EXISTS;
	t = ah_engine_add_tenant(req->engine, id, ah_req_string(req, "name"), ah_req_uint(req, "max_participants"),
		ah_req_string(req, "secret"));
	apply_tenant_share(req, t);
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "tenant", ah_req_tenant_json(req->engine, t));
	/* The one reply that carries it besides get_signing_key and rotate_signing_key. */
	json_object_set_new(req->reply, "signing_key", json_string(t->signing_key));
	ah_engine_notify(req->outs, 0, "tenant_created", t->id, NULL, 0);
	ah_req_save(req);
	return AH_ERR_OK;
}

/* A new secret; the old one stays valid (tokens and tenant_secret) for `overlap_s`, 0: not at all. */
static void rotate_secret(ah_req *req, ah_tenant *t, const char *secret, guint overlap_s)
{
	g_free(t->previous_secret);
	t->previous_secret = NULL;
	t->previous_secret_until = 0;
	if (overlap_s > 0) {
		t->previous_secret = t->secret;
		t->previous_secret_until = ah_engine_real_s(req->engine, req->now) + overlap_s;
	} else {
		g_free(t->secret);
	}
	t->secret = g_strdup(secret);
}

ah_error ah_req_edit_tenant(ah_req *req)
{
	ah_tenant *t = ah_engine_tenant(req->engine, ah_req_string(req, "tenant"));
	if (t == NULL)
		return AH_ERR_NO_SUCH_TENANT;
	if (ah_req_has(req, "secret_overlap_s") && !ah_req_has(req, "secret"))
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (secret_overlap_s: only with a new secret)"));
	if (ah_req_has(req, "name")) {
		g_free(t->name);
		t->name = g_strdup(ah_req_string(req, "name"));
	}
	if (ah_req_has(req, "secret") && strcmp(ah_req_string(req, "secret"), t->secret) != 0)
		rotate_secret(req, t, ah_req_string(req, "secret"), ah_req_uint(req, "secret_overlap_s"));
	if (ah_req_has(req, "max_participants")) {
		t->max_participants = ah_req_uint(req, "max_participants");
		ah_admission_set_tenant(req->engine->adm, t->id, t->max_participants);
		ah_engine_ledger_cap_changed(req->engine, t->id, NULL);
	}
	apply_tenant_share(req, t);
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "tenant", ah_req_tenant_json(req->engine, t));
	ah_engine_notify(req->outs, 0, "tenant_edited", t->id, NULL, 0);
	ah_req_save(req);
	return AH_ERR_OK;
}

ah_error ah_req_destroy_tenant(ah_req *req)
{
	ah_tenant *t = ah_engine_tenant(req->engine, ah_req_string(req, "tenant"));
	if (t == NULL)
		return AH_ERR_NO_SUCH_TENANT;
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "tenant", ah_req_tenant_json(req->engine, t));
	ah_engine_notify(req->outs, 0, "tenant_destroyed", t->id, NULL, 0);
	ah_engine_destroy_tenant(req->engine, t, req->now, req->outs);
	ah_req_save(req);
	return AH_ERR_OK;
}

ah_error ah_req_list_tenants(ah_req *req)
{
	req->reply = ah_req_success();
	json_object_set_new(req->reply, "tenants", ah_req_tenants_json(req->engine, NULL));
	return AH_ERR_OK;
}

/* --- signing keys */

/* {"tenant", "signing_key", "previous_signing_key_until"?}: the key goes to the caller only. */
static json_t *key_reply(const ah_engine *engine, const ah_tenant *t, gint64 now)
{
	const char *keys[2];
	json_t *reply = json_pack("{s:s, s:s, s:s}", "allhands", "success", "tenant", t->id, "signing_key", t->signing_key);
	if (ah_engine_tenant_keys(engine, t, now, keys) == 2)
		json_object_set_new(reply, "previous_signing_key_until", json_integer(t->previous_signing_key_until));
	return reply;
}

static ah_error find_tenant(ah_req *req, ah_tenant **t)
{
	const char *id = ah_req_string(req, "tenant");
	ah_error err = ah_req_in_scope(req, id);
	if (err != AH_ERR_OK)
		return err;
	*t = ah_engine_tenant(req->engine, id);
	return *t != NULL ? AH_ERR_OK : AH_ERR_NO_SUCH_TENANT;
}

ah_error ah_req_get_signing_key(ah_req *req)
{
	ah_tenant *t = NULL;
	ah_error err = find_tenant(req, &t);
	if (err != AH_ERR_OK)
		return err;
	req->reply = key_reply(req->engine, t, req->now);
	return AH_ERR_OK;
}

/* A new key (generated, or the operator's own, e.g. shared by several nodes); the old one keeps
 * verifying tokens for overlap_s (default 0: not at all). */
ah_error ah_req_rotate_signing_key(ah_req *req)
{
	ah_tenant *t = NULL;
	ah_error err = find_tenant(req, &t);
	const char *given = ah_req_string(req, "signing_key");
	char key[AH_SIGNING_KEY_LEN + 1];
	guint overlap_s = (guint)json_integer_value(json_object_get(req->message, "overlap_s"));
	if (err != AH_ERR_OK)
		return err;
	if (given != NULL && req->scope != NULL)
		return ah_req_fail(req, AH_ERR_FORBIDDEN, g_strdup("forbidden (only the operator may set a signing_key)"));
	if (given != NULL && !ah_token_key_valid(given))
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT,
			g_strdup("invalid element (signing_key: 64 lower-case hex characters, 256 random bits)"));
	if (given != NULL)
		g_strlcpy(key, given, sizeof(key));
	else if (!ah_token_key_generate(key))
		return ah_req_fail(req, AH_ERR_INTERNAL, g_strdup("internal error (no randomness for a signing key)"));
	g_free(t->previous_signing_key);
	t->previous_signing_key = overlap_s > 0 ? g_strdup(t->signing_key) : NULL;
	t->previous_signing_key_until = overlap_s > 0 ? ah_engine_real_s(req->engine, req->now) + overlap_s : 0;
	memcpy(t->signing_key, key, sizeof(key));
	memset(key, 0, sizeof(key));
	req->reply = key_reply(req->engine, t, req->now);
	ah_engine_notify(req->outs, 0, "signing_key_rotated", t->id, NULL, 0);
	ah_req_save(req);
	return AH_ERR_OK;
}
