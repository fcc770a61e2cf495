/* allhands: the Redis client's data (plugin/redis/redis-private.h): reply values, replies and events,
 * submitted commands and Lua scripts, with their allocation, copies and names.
 *
 * Pure data: no lock, no thread, no hiredis, no I/O. Any thread; an object belongs to one thread at a
 * time (scripts are shared and reference-counted atomically).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "redis-private.h"

GQuark ah_redis_client_error_quark(void)
{
	return g_quark_from_static_string("ah-redis-error");
}

ah_redis_value *ah_redis_value_new_error(const char *message)
{
	ah_redis_value *v = g_new0(ah_redis_value, 1);
	v->type = AH_REDIS_ERROR;
	v->str = g_strdup(message);
	v->len = strlen(message);
	return v;
}

void ah_redis_value_free(ah_redis_value *v)
{
	if (v == NULL)
		return;
	for (gsize i = 0; i < v->n; i++)
		ah_redis_value_free(v->elements[i]);
	g_free(v->elements);
	g_free(v->str);
	g_free(v);
}

ah_redis_reply *ah_redis_reply_new(ah_redis_event event, guint64 tag)
{
	ah_redis_reply *rep = g_new0(ah_redis_reply, 1);
	rep->event = event;
	rep->tag = tag;
	return rep;
}

void ah_redis_reply_free(ah_redis_reply *reply)
{
	if (reply == NULL)
		return;
	ah_redis_value_free(reply->value);
	g_free(reply->channel);
	g_free(reply->text);
	g_free(reply);
}

ah_redis_cmd *ah_redis_cmd_new(guint64 tag, ah_redis_script *script, int nkeys, int argc, const char **argv,
	const size_t *lens)
{
	ah_redis_cmd *c = g_new0(ah_redis_cmd, 1);
	gsize total = 0;
	c->tag = tag;
	c->script = script != NULL ? ah_redis_script_ref(script) : NULL;
	c->nkeys = nkeys;
	c->argc = argc;
	c->lens = g_new(size_t, argc > 0 ? argc : 1);
	for (int i = 0; i < argc; i++) {
		c->lens[i] = lens != NULL ? lens[i] : strlen(argv[i]);
		total += c->lens[i] + 1;
	}
	/* One block for the pointers and the bytes: a command is freed with two g_free. */
	c->argv = g_malloc(argc * sizeof(char *) + total + 1);
	char *p = (char *)(c->argv + argc);
	for (int i = 0; i < argc; i++) {
		c->argv[i] = p;
		if (c->lens[i] > 0)
			memcpy(p, argv[i], c->lens[i]);
		p[c->lens[i]] = '\0';
		p += c->lens[i] + 1;
	}
	return c;
}

void ah_redis_cmd_free(ah_redis_cmd *c)
{
	if (c == NULL)
		return;
	ah_redis_script_unref(c->script);
	g_free(c->argv);
	g_free(c->lens);
	g_free(c);
}

void ah_redis_sub_free(gpointer sub)
{
	ah_redis_sub *s = sub;
	if (s == NULL)
		return;
	g_free(s->channel);
	g_free(s);
}

ah_redis_script *ah_redis_script_new(const char *source)
{
	g_return_val_if_fail(source != NULL, NULL);
	ah_redis_script *s = g_new0(ah_redis_script, 1);
	s->refs = 1;
	s->source = g_strdup(source);
	s->len = strlen(source);
	/* Redis names a script by the SHA1 of its source, in lowercase hex (EVALSHA, SCRIPT LOAD). */
	char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA1, source, s->len);
	g_strlcpy(s->sha1, sha, sizeof(s->sha1));
	g_free(sha);
	return s;
}

ah_redis_script *ah_redis_script_ref(ah_redis_script *s)
{
	if (s != NULL)
		g_atomic_int_inc(&s->refs);
	return s;
}

void ah_redis_script_unref(ah_redis_script *s)
{
	if (s == NULL || !g_atomic_int_dec_and_test(&s->refs))
		return;
	g_free(s->source);
	g_free(s);
}

const char *ah_redis_script_sha1(const ah_redis_script *s)
{
	return s->sha1;
}

const char *ah_redis_type_name(ah_redis_type t)
{
	static const char *const names[] = {
		[AH_REDIS_NIL] = "nil", [AH_REDIS_INTEGER] = "integer", [AH_REDIS_STRING] = "string",
		[AH_REDIS_STATUS] = "status", [AH_REDIS_ERROR] = "error", [AH_REDIS_ARRAY] = "array",
	};
	return (guint)t < G_N_ELEMENTS(names) ? names[t] : "unknown";
}

const char *ah_redis_event_name(ah_redis_event e)
{
	static const char *const names[] = {
		[AH_REDIS_REPLY] = "reply", [AH_REDIS_MESSAGE] = "message", [AH_REDIS_SUBSCRIBED] = "subscribed",
		[AH_REDIS_CONNECTED] = "connected", [AH_REDIS_DISCONNECTED] = "disconnected",
	};
	return (guint)e < G_N_ELEMENTS(names) ? names[e] : "unknown";
}

const char *ah_redis_status_name(ah_redis_status s)
{
	static const char *const names[] = {
		[AH_REDIS_OK] = "ok", [AH_REDIS_E_DISCONNECTED] = "disconnected", [AH_REDIS_E_TIMEOUT] = "timeout",
		[AH_REDIS_E_REFUSED] = "refused",
	};
	return (guint)s < G_N_ELEMENTS(names) ? names[s] : "unknown";
}
