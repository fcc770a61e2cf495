/* allhands glue: the Prometheus endpoint (metrics_port; docs/operations.md, "Metrics").
 *
 * Owns: the HTTP server (libmicrohttpd, one internal thread serving every connection), the latest
 * rendered snapshot and the time of the last scrape. It renders nothing on its own: the control
 * thread calls ah_metrics_refresh() at each turn of its loop (at least once a second), which
 * gathers the figures (the engine's through ah_engine_metrics, the relay's, the state file
 * writer's, cluster mode's, the control thread's own), renders them (plugin/core/metrics.c) into an immutable
 * GBytes and swaps it in. The HTTP thread serves whichever GBytes is current: it never waits for
 * the control thread, and the control thread never waits for it (snapshot_lock, innermost, guards
 * only the pointer swap and the reference taken on it).
 *
 * DESIGN: an idle node does no work for metrics: the control thread renders at most once a second,
 * and only while someone scraped in the last minute (plus once at start). So the first scrape after
 * a quiet minute gets the snapshot from before it (allhands_metrics_rendered_timestamp_seconds
 * tells its age), and the next second has a fresh one. A stalled control thread leaves the last
 * snapshot in place, which scrapes go on getting at once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ah-config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "debug.h"
#include "utils.h"

#include "allhands/validate.h"
#include "glue.h"

#define AH_METRICS_CONNECTIONS 32
#define AH_METRICS_TIMEOUT_S 10
#define AH_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static struct MHD_Daemon *daemon_ = NULL;
static char *token = NULL;        /* NULL: no authorization needed */
static guint max_tenants = 1000;
static volatile gint enabled = 0; /* the endpoint runs: the control thread renders */
/* Monotonic seconds of the last served scrape, + 1 (0: none): an int, as GLib has no 64-bit atomics. */
static volatile gint last_scrape_s = 0;
static GMutex snapshot_lock;      /* innermost: guards `snapshot` only */
static GBytes *snapshot = NULL;
static gint64 rendered_at = 0;    /* control thread only: when `snapshot` was rendered (0: never) */

/* ---- the HTTP thread ---- */

static enum MHD_Result respond(struct MHD_Connection *connection, unsigned int status, const char *body,
	size_t len, const char *content_type, const char *header, const char *header_value)
{
	struct MHD_Response *response = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (response == NULL)
		return MHD_NO;
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (header != NULL)
		MHD_add_response_header(response, header, header_value);
	enum MHD_Result res = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return res;
}

static enum MHD_Result respond_text(struct MHD_Connection *connection, unsigned int status, const char *text,
	const char *header, const char *header_value)
{
	return respond(connection, status, text, strlen(text), "text/plain; charset=utf-8", header, header_value);
}

/* `Authorization: Bearer <token>` (the scheme in any case), compared in constant time. */
static gboolean authorized(struct MHD_Connection *connection)
{
	if (token == NULL)
		return TRUE;
	const char *value = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (value == NULL || g_ascii_strncasecmp(value, "Bearer ", 7) != 0)
		return FALSE;
	value += 7;
	while (*value == ' ')
		value++;
	return ah_validate_secret_equal(value, token);
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *connection, const char *url,
	const char *method, const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
	static int first_call;
	/* The first call only announces the request; answer at the next one (a body, if any, is ignored). */
	if (*state == NULL) {
		*state = &first_call;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return respond_text(connection, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n", NULL, NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond_text(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n",
			MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (!authorized(connection))
		return respond_text(connection, MHD_HTTP_UNAUTHORIZED, "unauthorized: Authorization: Bearer <metrics_token>\n",
			MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"allhands metrics\"");
	/* Someone watches: the control thread keeps the snapshot fresh for the next minute. */
	g_atomic_int_set(&last_scrape_s, (gint)(janus_get_monotonic_time() / G_USEC_PER_SEC) + 1);
	g_mutex_lock(&snapshot_lock);
	GBytes *current = snapshot != NULL ? g_bytes_ref(snapshot) : NULL;
	g_mutex_unlock(&snapshot_lock);
	if (current == NULL)
		return respond_text(connection, MHD_HTTP_SERVICE_UNAVAILABLE, "no snapshot yet: try again in a second\n",
			MHD_HTTP_HEADER_RETRY_AFTER, "1");
	gsize len = 0;
	const char *text = g_bytes_get_data(current, &len);
	enum MHD_Result res = respond(connection, MHD_HTTP_OK, text, len, AH_METRICS_CONTENT_TYPE, NULL, NULL);
	g_bytes_unref(current);
	return res;
}

/* The daemon's own messages are mostly about one client's bad request: verbose level, so that a
 * client cannot flood the log (a failure to start is reported by ah_metrics_start's caller). */
static void log_mhd(void *cls, const char *format, va_list args)
{
	char *text = g_strdup_vprintf(format, args);
	JANUS_LOG(LOG_VERB, "allhands: metrics HTTP server: %s%s", text, g_str_has_suffix(text, "\n") ? "" : "\n");
	g_free(text);
}

/* A listening socket on address:port, or -1 with *error saying why (port in use...). */
static int listen_on(const char *address, guint port, gboolean *ipv6, char **error)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char service[16];
	int one = 1, fd, rc;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	g_snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(address, service, &hints, &res);
	if (rc != 0 || res == NULL) {
		*error = g_strdup_printf("metrics_address %s is not an IPv4 or IPv6 address (%s)", address, gai_strerror(rc));
		return -1;
	}
	*ipv6 = res->ai_family == AF_INET6;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (*ipv6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
		int e = errno;
		*error = g_strdup_printf("cannot listen on %s port %u: %s", address, port, g_strerror(e));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* ---- public ---- */

gboolean ah_metrics_start(const ah_metrics_config *config, char **error)
{
	gboolean ipv6 = FALSE;
	if (config->port == 0)
		return TRUE;
	const char *address = config->address != NULL ? config->address : "127.0.0.1";
	int fd = listen_on(address, config->port, &ipv6, error);
	if (fd < 0)
		return FALSE;
	token = config->token != NULL && *config->token != '\0' ? g_strdup(config->token) : NULL;
	max_tenants = config->max_tenants;
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
	/* The logger first, so that every message of the daemon goes to Janus's log. */
	daemon_ = MHD_start_daemon(flags, 0, NULL, NULL, handle_request, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)AH_METRICS_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)AH_METRICS_TIMEOUT_S,
		MHD_OPTION_END);
	if (daemon_ == NULL) {
		close(fd);
		g_free(token);
		token = NULL;
		*error = g_strdup_printf("cannot start the HTTP server on %s port %u", address, config->port);
		return FALSE;
	}
	g_atomic_int_set(&enabled, 1);
	return TRUE;
}

void ah_metrics_stop(void)
{
	if (daemon_ == NULL)
		return;
	g_atomic_int_set(&enabled, 0);
	/* Waits for the HTTP thread, and closes the listening socket. */
	MHD_stop_daemon(daemon_);
	daemon_ = NULL;
	g_free(token);
	token = NULL;
	g_mutex_lock(&snapshot_lock);
	GBytes *last = snapshot;
	snapshot = NULL;
	g_mutex_unlock(&snapshot_lock);
	if (last != NULL)
		g_bytes_unref(last);
}

/* ---- the control thread ---- */

static void relay_figures(ah_metrics_input *in)
{
	json_t *relay = ah_relay_status();
	in->relay_threads = (guint)json_integer_value(json_object_get(relay, "threads"));
	in->relay_queued = (guint)json_integer_value(json_object_get(relay, "queued"));
	in->relay_dropped = (guint64)json_integer_value(json_object_get(relay, "dropped"));
	in->relay_overlaps = (guint64)json_integer_value(json_object_get(relay, "overlaps"));
	in->keyframe_requests = (guint64)json_integer_value(json_object_get(relay, "keyframe_requests"));
	in->plis_sent = (guint64)json_integer_value(json_object_get(relay, "plis_sent"));
	json_decref(relay);
}

static void writer_figures(ah_metrics_input *in)
{
	json_t *w = ah_writer_figures();
	json_t *age = json_object_get(w, "last_write_age_ms");
	in->persisting = w != NULL;
	in->persist_failing = json_is_true(json_object_get(w, "failing"));
	in->persist_pending = (guint64)json_integer_value(json_object_get(w, "pending"));
	in->persist_writes = (guint64)json_integer_value(json_object_get(w, "writes"));
	in->persist_failures = (guint64)json_integer_value(json_object_get(w, "failures"));
	in->persist_last_write_age_s = json_is_integer(age) ? (double)json_integer_value(age) / 1000.0 : -1;
	json_decref(w);
}

static gboolean due(gint64 now)
{
	if (!g_atomic_int_get(&enabled))
		return FALSE;
	gint scraped = g_atomic_int_get(&last_scrape_s);
	/* To the second: the idle minute may last up to a second longer. */
	return ah_metrics_render_due(now, rendered_at, scraped > 0 ? (gint64)(scraped - 1) * G_USEC_PER_SEC : 0);
}

void ah_metrics_refresh(const ah_engine *engine, const ah_control_figures *figures, gint64 now)
{
	ah_metrics_input in;
	gsize len = 0;
	if (!due(now))
		return;
	ah_metrics_input_init(&in);
	ah_engine_metrics(engine, now, max_tenants, &in);
	in.handling = figures->handling;
	in.queueing = figures->queueing;
	in.control_queue = figures->queue_length;
	relay_figures(&in);
	writer_figures(&in);
	ah_cluster_metrics(&in);
	ah_cluster_ledger_metrics(&in);
	ah_cluster_media_metrics(&in);
	in.rendered_at_s = (double)janus_get_real_time() / G_USEC_PER_SEC;
	char *text = ah_metrics_render(&in, &len);
	ah_metrics_input_clear(&in);
	GBytes *fresh = g_bytes_new_take(text, len);
	g_mutex_lock(&snapshot_lock);
	/* After ah_metrics_stop nothing is kept (it freed the last one). */
	gboolean keep = g_atomic_int_get(&enabled);
	GBytes *old = keep ? snapshot : NULL;
	if (keep)
		snapshot = fresh;
	g_mutex_unlock(&snapshot_lock);
	if (old != NULL)
		g_bytes_unref(old);
	if (!keep)
		g_bytes_unref(fresh);
	rendered_at = now;
}
