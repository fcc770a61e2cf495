/* allhands: the Redis client's entry points (include/allhands/redis.h): a client's creation from its
 * config and its end, and the commands and subscriptions handed to it.
 *
 * Validates and copies what callers pass, builds the commands (data.c), hands them over (queue.c) and
 * starts or stops the client's thread (io.c). Never blocks: nothing here waits on the network or on
 * the client's thread, except ah_redis_free, which joins it. Any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdarg.h>
#include <string.h>
#include <sys/un.h>

#include "redis-private.h"

static gboolean refuse(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean refuse(GError **error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, AH_REDIS_CLIENT_ERROR, AH_REDIS_CLIENT_ERROR_CONFIG, message);
	g_free(message);
	return FALSE;
}

static gboolean config_check(const ah_redis_config *c, GError **error)
{
	gboolean has_path = c->unix_path != NULL && c->unix_path[0] != '\0';
	gsize path_max = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1;
	if (!has_path && (c->host == NULL || c->host[0] == '\0'))
		return refuse(error, "redis: neither a unix socket nor a host");
	if (has_path && strlen(c->unix_path) > path_max)
		return refuse(error, "redis: unix socket path longer than %zu bytes", path_max);
	if (c->port < 0 || c->port > 65535)
		return refuse(error, "redis: port %d out of 1..65535", c->port);
	if (c->db < 0)
		return refuse(error, "redis: db %d is negative", c->db);
	if (c->username != NULL && c->username[0] != '\0' && (c->password == NULL || c->password[0] == '\0'))
		return refuse(error, "redis: a username needs a password");
	return TRUE;
}

static char *nonempty_dup(const char *s)
{
	return s != NULL && s[0] != '\0' ? g_strdup(s) : NULL;
}

static gint64 ms_or(guint ms, guint fallback)
{
	return (gint64)(ms != 0 ? ms : fallback) * 1000;
}

static void client_free(ah_redis *r)
{
	g_queue_clear_full(&r->in, (GDestroyNotify)ah_redis_cmd_free);
	g_queue_clear_full(&r->out, (GDestroyNotify)ah_redis_reply_free);
	g_ptr_array_unref(r->new_subs);
	g_hash_table_destroy(r->channels);
	g_mutex_clear(&r->lock);
	g_free(r->unix_path);
	g_free(r->host);
	g_free(r->username);
	g_free(r->password);
	g_free(r);
}

ah_redis *ah_redis_new(const ah_redis_config *c, void (*wake)(gpointer user), gpointer user, GError **error)
{
	g_return_val_if_fail(c != NULL, NULL);
	if (!config_check(c, error))
		return NULL;
	ah_redis *r = g_new0(ah_redis, 1);
	r->unix_path = nonempty_dup(c->unix_path);
	r->host = r->unix_path == NULL ? g_strdup(c->host) : NULL;
	r->port = c->port != 0 ? c->port : AH_REDIS_DEFAULT_PORT;
	r->username = nonempty_dup(c->username);
	r->password = nonempty_dup(c->password);
	r->db = c->db;
	r->connect_timeout_us = ms_or(c->connect_timeout_ms, AH_REDIS_DEFAULT_CONNECT_TIMEOUT_MS);
	r->command_timeout_us = ms_or(c->command_timeout_ms, AH_REDIS_DEFAULT_COMMAND_TIMEOUT_MS);
	r->ping_interval_us = ms_or(c->ping_interval_ms, AH_REDIS_DEFAULT_PING_INTERVAL_MS);
	r->max_queued = c->max_queued != 0 ? c->max_queued : AH_REDIS_DEFAULT_MAX_QUEUED;
	r->wake = wake;
	r->user = user;
	r->wake_fd = -1;
	g_mutex_init(&r->lock);
	g_queue_init(&r->in);
	g_queue_init(&r->out);
	r->new_subs = g_ptr_array_new_with_free_func(ah_redis_sub_free);
	r->channels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (!ah_redis_io_start(r, error)) {
		client_free(r);
		return NULL;
	}
	return r;
}

void ah_redis_free(ah_redis *r)
{
	if (r == NULL)
		return;
	ah_redis_io_stop(r);
	client_free(r);
}

gboolean ah_redis_submit(ah_redis *r, guint64 tag, int argc, const char **argv, const size_t *lens)
{
	g_return_val_if_fail(r != NULL, FALSE);
	if (argc < 1 || argv == NULL)
		return FALSE;
	return ah_redis_queue_command(r, ah_redis_cmd_new(tag, NULL, 0, argc, argv, lens));
}

gboolean ah_redis_submit_script(ah_redis *r, guint64 tag, ah_redis_script *s, int nkeys, int argc,
	const char **argv, const size_t *lens)
{
	g_return_val_if_fail(r != NULL, FALSE);
	if (s == NULL || argc < 0 || nkeys < 0 || nkeys > argc || (argc > 0 && argv == NULL))
		return FALSE;
	return ah_redis_queue_command(r, ah_redis_cmd_new(tag, s, nkeys, argc, argv, lens));
}

gboolean ah_redis_subscribe(ah_redis *r, guint64 tag, const char *channel)
{
	g_return_val_if_fail(r != NULL, FALSE);
	if (channel == NULL || channel[0] == '\0')
		return FALSE;
	ah_redis_sub *s = g_new0(ah_redis_sub, 1);
	s->channel = g_strdup(channel);
	s->tag = tag;
	return ah_redis_queue_subscription(r, s);
}
