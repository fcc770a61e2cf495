/* allhands: cluster mode's configuration, read and checked as a whole
 * (include/allhands/cluster-config.h). A node must not half-join a cluster: every value is checked
 * here, before anything starts, and the first bad one is reported by name with what it must be (the
 * glue logs it and the plugin does not start). The Redis client checks its own config again when it
 * is created; the bounds here are the same or narrower. Pure: GLib only, no Janus, no clock; any
 * thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "allhands/cluster-config.h"
#include "allhands/registry.h"
#include "allhands/validate.h"

/* The numbers: key, where it goes, bounds; a value absent keeps the default set before. */
typedef struct {
	const char *key;
	gint64 min, max;
	gint64 value;
} number;

enum { N_HEARTBEAT, N_EXPIRY, N_FULL, N_RAMP, N_PORT, N_DB, N_CONNECT, N_COMMAND, N_PING, N_QUEUED, N_MEDIA_PORT,
	N_LINGER, N_FANOUT, N__COUNT };

static gboolean fail(char **error, char *message)
{
	*error = message;
	return FALSE;
}

static const char *get(ah_cluster_config_lookup lookup, gpointer user, const char *key)
{
	const char *v = lookup(user, key);
	return v != NULL && *v != '\0' ? v : NULL;
}

/* `cluster`: absent is off; anything but the words Janus takes for booleans is an error, so that a
 * typo never leaves a node silently outside its cluster. */
static gboolean read_switch(const char *v, gboolean *on, char **error)
{
	static const char *const yes[] = { "true", "yes", "1" }, *const no[] = { "false", "no", "0" };
	*on = FALSE;
	if (v == NULL)
		return TRUE;
	for (guint i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (g_ascii_strcasecmp(v, yes[i]) == 0) {
			*on = TRUE;
			return TRUE;
		}
		if (g_ascii_strcasecmp(v, no[i]) == 0)
			return TRUE;
	}
	return fail(error, g_strdup_printf("cluster = %s must be true or false", v));
}

static gboolean read_numbers(number *n, ah_cluster_config_lookup lookup, gpointer user, char **error)
{
	for (guint i = 0; i < N__COUNT; i++) {
		const char *v = get(lookup, user, n[i].key);
		if (v != NULL && !g_ascii_string_to_signed(v, 10, n[i].min, n[i].max, &n[i].value, NULL))
			return fail(error, g_strdup_printf("%s = %s must be an integer %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
				n[i].key, v, n[i].min, n[i].max));
	}
	if (n[N_EXPIRY].value <= 2 * n[N_HEARTBEAT].value)
		return fail(error, g_strdup_printf("node_expiry_ms = %" G_GINT64_FORMAT " must be more than twice heartbeat_ms "
			"(%" G_GINT64_FORMAT "): a node would be taken for dead after one late heartbeat", n[N_EXPIRY].value,
			n[N_HEARTBEAT].value));
	return TRUE;
}

/* node_id: given, or the host name; either way an id, since it names Redis keys. */
static gboolean read_node_id(ah_cluster_config *out, const char *v, const char *host_name, char **error)
{
	if (v != NULL && !ah_validate_identifier(v))
		return fail(error, g_strdup_printf("node_id = %s must be 1 to 64 characters of A-Z a-z 0-9 _ - .", v));
	if (v == NULL && !ah_validate_identifier(host_name))
		return fail(error, g_strdup_printf("node_id is not set and the host name (%s) is not 1 to 64 characters of "
			"A-Z a-z 0-9 _ - .: set node_id", host_name != NULL ? host_name : "unknown"));
	out->node_id = g_strdup(v != NULL ? v : host_name);
	return TRUE;
}

/* node_url: what clients are sent to reach this node (a Janus WebSocket or HTTP API URL). */
static gboolean read_node_url(ah_cluster_config *out, const char *v, char **error)
{
	static const char *const schemes[] = { "ws", "wss", "http", "https" };
	char *scheme = NULL, *host = NULL;
	gboolean ok = FALSE;
	if (v == NULL)
		return fail(error, g_strdup("node_url is required in cluster mode: the Janus WebSocket or HTTP URL "
			"clients use to reach this node (e.g. wss://node1.example.com:8989)"));
	gboolean clean = strlen(v) <= AH_REGISTRY_URL_MAX && g_utf8_validate(v, -1, NULL);
	for (const char *c = v; clean && *c != '\0'; c++)
		clean = (guchar)*c > ' ' && *c != 0x7f;
	if (clean && g_uri_split(v, G_URI_FLAGS_NONE, &scheme, NULL, &host, NULL, NULL, NULL, NULL, NULL) &&
			scheme != NULL && host != NULL && *host != '\0') {
		for (guint i = 0; i < G_N_ELEMENTS(schemes); i++)
			ok = ok || g_ascii_strcasecmp(scheme, schemes[i]) == 0;
	}
	g_free(scheme);
	g_free(host);
	if (!ok)
		return fail(error, g_strdup_printf("node_url = %s must be a ws://, wss://, http:// or https:// URL with a "
			"host, at most %d bytes, no spaces", v, AH_REGISTRY_URL_MAX));
	out->node_url = g_strdup(v);
	return TRUE;
}

/* cluster_secret: every node's tickets are signed and checked with it (include/allhands/ticket.h). */
static gboolean read_secret(ah_cluster_config *out, const char *v, char **error)
{
	if (v == NULL)
		return fail(error, g_strdup("cluster_secret is required in cluster mode: the secret every node of the cluster "
			"shares to sign redirect tickets (e.g. the output of `openssl rand -hex 32`)"));
	if (strlen(v) < AH_CLUSTER_SECRET_MIN_LEN || strlen(v) > AH_CLUSTER_SECRET_MAX_LEN)
		return fail(error, g_strdup_printf("cluster_secret must be %d to %d characters (it is %zu)",
			AH_CLUSTER_SECRET_MIN_LEN, AH_CLUSTER_SECRET_MAX_LEN, strlen(v)));
	out->secret = g_strdup(v);
	return TRUE;
}

/* A numeric IPv4 or IPv6 address (no host name: the link binds it and other nodes send to it). */
static gboolean ip_literal(const char *v)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (v == NULL)
		return FALSE;
	if (inet_pton(AF_INET, v, &a4) == 1)
		return a4.s_addr != htonl(INADDR_ANY) && !IN_MULTICAST(ntohl(a4.s_addr)) && a4.s_addr != htonl(INADDR_BROADCAST);
	return inet_pton(AF_INET6, v, &a6) == 1 && !IN6_IS_ADDR_UNSPECIFIED(&a6) && !IN6_IS_ADDR_MULTICAST(&a6);
}

/* media_address: where this node's node-to-node media link listens and other nodes send to
 * (docs/cluster-media.md); default: node_url's host when that is an IP address. */
static gboolean read_media_address(ah_cluster_config *out, const char *v, char **error)
{
	char *host = NULL;
	if (v == NULL) {
		if (g_uri_split(out->node_url, G_URI_FLAGS_NONE, NULL, NULL, &host, NULL, NULL, NULL, NULL, NULL) &&
				host != NULL && host[0] == '[') { /* GLib keeps IPv6 brackets */
			char *inner = g_strndup(host + 1, strlen(host) - 2);
			g_free(host);
			host = inner;
		}
		if (!ip_literal(host)) {
			g_free(host);
			return fail(error, g_strdup_printf("media_address is required in cluster mode when node_url's host is not "
				"an IP address (%s): the address other nodes send this node's media to (e.g. 10.0.0.5)",
				out->node_url));
		}
		out->media_address = host;
		return TRUE;
	}
	if (!ip_literal(v))
		return fail(error, g_strdup_printf("media_address = %s must be a numeric IPv4 or IPv6 address, not a "
			"wildcard or multicast one", v));
	out->media_address = g_strdup(v);
	return TRUE;
}

static gboolean read_redis(ah_cluster_config *out, ah_cluster_config_lookup lookup, gpointer user, const number *n,
	char **error)
{
	const char *socket = get(lookup, user, "redis_unix_socket"), *host = get(lookup, user, "redis_host");
	const char *username = get(lookup, user, "redis_username"), *password = get(lookup, user, "redis_password");
	if (socket == NULL && host == NULL)
		return fail(error, g_strdup("redis_host or redis_unix_socket is required in cluster mode"));
	if (socket != NULL && strlen(socket) > AH_CLUSTER_UNIX_PATH_MAX)
		return fail(error, g_strdup_printf("redis_unix_socket is longer than %d bytes", AH_CLUSTER_UNIX_PATH_MAX));
	if (username != NULL && password == NULL)
		return fail(error, g_strdup("redis_username needs redis_password"));
	out->redis.unix_path = g_strdup(socket);
	out->redis.host = g_strdup(host);
	out->redis.username = g_strdup(username);
	out->redis.password = g_strdup(password);
	out->redis.port = (int)n[N_PORT].value;
	out->redis.db = (int)n[N_DB].value;
	out->redis.connect_timeout_ms = (guint)n[N_CONNECT].value;
	out->redis.command_timeout_ms = (guint)n[N_COMMAND].value;
	out->redis.ping_interval_ms = (guint)n[N_PING].value;
	out->redis.max_queued = (guint)n[N_QUEUED].value;
	return TRUE;
}

gboolean ah_cluster_config_read(ah_cluster_config *out, ah_cluster_config_lookup lookup, gpointer user,
	const char *host_name, char **error)
{
	/* The Redis client's 0 means its default: the same here, so "unset" and "0" agree. */
	number n[N__COUNT] = {
		[N_HEARTBEAT] = { "heartbeat_ms", AH_CLUSTER_HEARTBEAT_MIN_MS, AH_CLUSTER_HEARTBEAT_MAX_MS,
			AH_CLUSTER_HEARTBEAT_DEFAULT_MS },
		[N_EXPIRY] = { "node_expiry_ms", 1, AH_CLUSTER_EXPIRY_MAX_MS, AH_CLUSTER_EXPIRY_DEFAULT_MS },
		[N_FULL] = { "heartbeat_full_nodes", 1, 100000, AH_CLUSTER_FULL_NODES_DEFAULT },
		[N_RAMP] = { "edge_ramp_per_s", 1, AH_EDGES_RAMP_MAX, AH_EDGES_RAMP_DEFAULT },
		[N_PORT] = { "redis_port", 1, 65535, AH_REDIS_DEFAULT_PORT },
		[N_DB] = { "redis_db", 0, G_MAXINT32, 0 },
		[N_CONNECT] = { "redis_connect_timeout_ms", 0, 600000, 0 },
		[N_COMMAND] = { "redis_command_timeout_ms", 0, 600000, 0 },
		[N_PING] = { "redis_ping_interval_ms", 0, 600000, 0 },
		[N_QUEUED] = { "redis_max_queued", 0, 10000000, 0 },
		[N_MEDIA_PORT] = { "media_port", 0, 65535, 0 },
		[N_LINGER] = { "edge_linger_ms", 0, 600000, AH_CLUSTER_LINGER_DEFAULT_MS },
		[N_FANOUT] = { "edge_fanout", 0, 10000, AH_CLUSTER_FANOUT_DEFAULT },
	};
	memset(out, 0, sizeof(*out));
	if (!read_switch(get(lookup, user, "cluster"), &out->enabled, error))
		return FALSE;
	if (!out->enabled)
		return TRUE;
	if (read_numbers(n, lookup, user, error) && read_node_id(out, get(lookup, user, "node_id"), host_name, error) &&
			read_node_url(out, get(lookup, user, "node_url"), error) && read_redis(out, lookup, user, n, error) &&
			read_secret(out, get(lookup, user, "cluster_secret"), error) &&
			read_media_address(out, get(lookup, user, "media_address"), error)) {
		out->media_port = (guint)n[N_MEDIA_PORT].value;
		out->edge_linger_ms = (guint)n[N_LINGER].value;
		out->edge_fanout = (guint)n[N_FANOUT].value;
		out->heartbeat_ms = (guint)n[N_HEARTBEAT].value;
		out->node_expiry_ms = (guint)n[N_EXPIRY].value;
		out->full_nodes = (guint)n[N_FULL].value;
		out->edge_ramp_per_s = (guint)n[N_RAMP].value;
		return TRUE;
	}
	ah_cluster_config_clear(out);
	return FALSE;
}

void ah_cluster_config_clear(ah_cluster_config *config)
{
	if (config == NULL)
		return;
	g_free(config->node_id);
	g_free(config->node_url);
	g_free((char *)config->redis.unix_path);
	g_free((char *)config->redis.host);
	g_free((char *)config->redis.username);
	g_free((char *)config->redis.password);
	g_free(config->secret);
	g_free(config->media_address);
	memset(config, 0, sizeof(*config));
}
