/* allhands glue: the janus_plugin struct, the plugin's lifecycle and the callbacks Janus calls.
 *
 * Owns: the configuration read at init, the per-client limits (request size, requests per handle per
 * second, handles per Janus session: answered here, so a flood never reaches the control thread;
 * their counts live in the session registry, session.c), and the callbacks Janus calls. The top of
 * the glue: it calls control.c, relay.c and session.c, and nothing calls it. Must not: touch engine
 * state (only control.c does) or block a Janus thread. handle_message/handle_admin_message run on
 * Janus's request threads (concurrently); setup_media, incoming_rtp/rtcp, hangup_media and
 * destroy_session on the handle's loop thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ah-config.h"

#include <string.h>

#include "debug.h"
#include "config.h"
#include "rtcp.h"
#include "utils.h"

#include "glue.h"
#include "allhands/feedback.h"

#define AH_VERSION 1
/* One version for configure, the plugin and the Debian package (tests/package/test-deb.sh compares them). */
#define AH_VERSION_STRING PACKAGE_VERSION
#define AH_CONFIG_FILE AH_PLUGIN_PACKAGE ".jcfg"
/* An attendee asking for keyframes more often than this is coalesced before the control thread. */
#define AH_ATTENDEE_PLI_INTERVAL_US (250 * G_USEC_PER_SEC / 1000)
/* At most one RTCP feedback report per receiver per this interval reaches the layer policy. */
#define AH_FEEDBACK_INTERVAL_US (500 * G_USEC_PER_SEC / 1000)

janus_callbacks *ah_gateway = NULL;

static volatile gint initialized = 0, stopping = 0;

/* What a client can make the plugin do, checked on Janus's threads before anything reaches the
 * control thread (docs/security.md). 0 turns a limit off. Set once in init. */
static struct {
	gint64 max_request_bytes;
	gint64 requests_per_second;
	gint64 request_burst;
	gint64 max_handles_per_session;
} limits = { 16384, 20, 40, 16 };

/* Relay helper threads (relay.c): -1 = one per usable CPU (at most 8) when there are two or more,
 * else none. Set once in init. */
static gint64 relay_threads = -1, relay_inline_max = 32;
/* The Prometheus endpoint (metrics.c): port 0 = off. Set once in init. */
static gint64 metrics_port = 0, metrics_max_tenants = 1000;
static char *metrics_address = NULL, *metrics_token = NULL;

/* ---- sessions ---- */

/* What control.c and relay.c hang on a session, freed with its last reference (session.c). */
static void release_parts(ah_session *session)
{
	if (session->pub != NULL)
		ah_pubmedia_free(session->pub);
	if (session->uplinks != NULL)
		ah_mlink_release_uplinks(session);
	if (session->held != NULL)
		g_queue_free_full(session->held, ah_held_out_free);
}

static gboolean running(void)
{
	return g_atomic_int_get(&initialized) && !g_atomic_int_get(&stopping);
}

/* For the handle's loop thread (setup_media, incoming_rtp/rtcp, hangup_media): destroy_session runs
 * on that same thread, so the session cannot go away under it. No reference taken. */
static ah_session *session_of(janus_plugin_session *handle)
{
	if (!running() || handle == NULL || g_atomic_int_get(&handle->stopped))
		return NULL;
	ah_session *session = handle->plugin_handle;
	if (session == NULL || g_atomic_int_get(&session->destroyed))
		return NULL;
	return session;
}

/* For other threads (handle_message, query_session): a new reference, taken under the registry's
 * lock so that a concurrent destroy_session cannot free the session in between. */
static ah_session *session_ref_of(janus_plugin_session *handle)
{
	if (!running() || handle == NULL)
		return NULL;
	return ah_session_ref_of(handle);
}

/* ---- configuration ---- */

typedef struct {
	const char *name;
	gint64 *target;
	gint64 min, max;
} int_setting;

static char *config_string(janus_config *config, janus_config_category *general, const char *name)
{
	janus_config_item *item = janus_config_get(config, general, janus_config_type_item, name);
	return (item && item->value && *item->value) ? g_strdup(item->value) : NULL;
}

/* Cluster mode's keys are looked up in the `general` category of the parsed file. */
typedef struct {
	janus_config *config;
	janus_config_category *general;
} config_ref;

static const char *cluster_lookup(gpointer user, const char *key)
{
	const config_ref *ref = user;
	janus_config_item *item = janus_config_get(ref->config, ref->general, janus_config_type_item, key);
	return item ? item->value : NULL;
}

/* Cluster mode is all or nothing: a bad cluster key stops the plugin (read_config's caller). */
static gboolean read_cluster(janus_config *config, janus_config_category *general, ah_cluster_config *cluster)
{
	char *error = NULL;
	config_ref ref = { config, general };
	if (ah_cluster_config_read(cluster, cluster_lookup, &ref, g_get_host_name(), &error))
		return TRUE;
	JANUS_LOG(LOG_ERR, "allhands: %s\n", error);
	JANUS_LOG(LOG_ERR, "allhands: bad cluster configuration: the plugin does not start (a node never runs half in "
		"a cluster; docs/cluster.md, \"Configuration\")\n");
	g_free(error);
	return FALSE;
}

/* Read janus.plugin.allhands.jcfg into `out` (the strings it sets are g_strdup copies). */
static gboolean read_config(const char *folder, ah_engine_config *out, char **admin_key, char **state_path,
	gboolean *events, ah_cluster_config *cluster)
{
	gint64 capacity = 200, wave_size = 20, wave_interval_ms = 1000, admit_timeout_ms = 15000, wave_min = 1;
	gint64 cpu_target_percent = 80, join_rate = 0, join_burst = 20, update_interval_ms = 1000, rejoin_grace_s = 0;
	gint64 max_queued = AH_MAX_QUEUED_DEFAULT, max_queued_per_session = AH_QUEUED_PER_SESSION_DEFAULT;
	char *wave_mode = NULL;
	/* Only the syntax is checked here; ah_engine_new checks the values against the same bounds as
	 * set_capacity and refuses to start otherwise. */
	const int_setting ints[] = {
		{ "capacity", &capacity, 0, G_MAXINT32 },
		{ "wave_size", &wave_size, 0, G_MAXINT32 },
		{ "wave_interval_ms", &wave_interval_ms, 0, G_MAXINT32 / 1000 },
		{ "admit_timeout_ms", &admit_timeout_ms, 0, G_MAXINT32 / 1000 },
		{ "wave_min", &wave_min, 0, G_MAXINT32 },
		{ "cpu_target_percent", &cpu_target_percent, 0, 100 },
		{ "join_rate", &join_rate, 0, G_MAXINT32 },
		{ "join_burst", &join_burst, 0, G_MAXINT32 },
		{ "update_interval_ms", &update_interval_ms, 0, G_MAXINT32 / 1000 },
		{ "rejoin_grace_s", &rejoin_grace_s, 0, 86400 },
		{ "max_queued", &max_queued, 0, G_MAXINT32 },
		{ "max_queued_per_session", &max_queued_per_session, 0, G_MAXINT32 },
		{ "max_request_bytes", &limits.max_request_bytes, 0, 64 * 1024 * 1024 },
		{ "requests_per_second", &limits.requests_per_second, 0, 1000000 },
		{ "request_burst", &limits.request_burst, 1, 1000000 },
		{ "max_handles_per_session", &limits.max_handles_per_session, 0, 1000000 },
		{ "relay_threads", &relay_threads, -1, AH_RELAY_MAX_THREADS },
		{ "relay_inline_max", &relay_inline_max, 0, 1000000 },
		{ "metrics_port", &metrics_port, 0, 65535 },
		{ "metrics_max_tenants", &metrics_max_tenants, 0, 1000000 },
	};
	char *path = g_build_filename(folder ? folder : ".", AH_CONFIG_FILE, NULL);
	janus_config *config = janus_config_parse(path);
	if (config == NULL) {
		JANUS_LOG(LOG_WARN, "allhands: no %s, using defaults (no state file: nothing persists)\n", path);
	} else {
		/* Not janus_config_print: it would log admin_key. */
		janus_config_category *general = janus_config_get_create(config, NULL, janus_config_type_category, "general");
		for (guint i = 0; i < G_N_ELEMENTS(ints); i++) {
			janus_config_item *item = janus_config_get(config, general, janus_config_type_item, ints[i].name);
			if (item == NULL || item->value == NULL)
				continue;
			gint64 v = 0;
			if (!g_ascii_string_to_signed(item->value, 10, ints[i].min, ints[i].max, &v, NULL)) {
				JANUS_LOG(LOG_ERR, "allhands: %s = %s is not an integer in %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT "\n",
					ints[i].name, item->value, ints[i].min, ints[i].max);
				janus_config_destroy(config);
				g_free(path);
				return FALSE;
			}
			*ints[i].target = v;
		}
		*admin_key = config_string(config, general, "admin_key");
		*state_path = config_string(config, general, "state_file");
		wave_mode = config_string(config, general, "wave_mode");
		metrics_address = config_string(config, general, "metrics_address");
		metrics_token = config_string(config, general, "metrics_token");
		if (wave_mode != NULL && strcmp(wave_mode, "fixed") != 0 && strcmp(wave_mode, "adaptive") != 0) {
			JANUS_LOG(LOG_ERR, "allhands: wave_mode = %s is not fixed or adaptive\n", wave_mode);
			g_free(wave_mode);
			janus_config_destroy(config);
			g_free(path);
			return FALSE;
		}
		janus_config_item *ev = janus_config_get(config, general, janus_config_type_item, "events");
		*events = ev == NULL || ev->value == NULL || janus_is_true(ev->value);
		gboolean ok = read_cluster(config, general, cluster);
		janus_config_destroy(config);
		if (!ok) {
			g_free(wave_mode);
			g_free(path);
			return FALSE;
		}
	}
	g_free(path);
	out->admin_key = *admin_key;
	out->state_path = *state_path;
	ah_admission_config_defaults(&out->admission);
	out->admission.capacity = (guint)capacity;
	out->admission.wave_mode = g_strcmp0(wave_mode, "adaptive") == 0 ? AH_WAVES_ADAPTIVE : AH_WAVES_FIXED;
	g_free(wave_mode);
	out->admission.wave_min = (guint)wave_min;
	out->admission.cpu_target = cpu_target_percent / 100.0;
	out->admission.join_rate = (double)join_rate;
	out->admission.join_burst = (guint)join_burst;
	out->admission.update_interval_us = update_interval_ms * 1000;
	out->admission.rejoin_grace_us = rejoin_grace_s * G_USEC_PER_SEC;
	out->admission.max_queued = (guint)max_queued;
	out->max_queued_per_session = (guint)max_queued_per_session;
	out->admission.wave_size = (guint)wave_size;
	out->admission.wave_interval_us = wave_interval_ms * 1000;
	out->admission.admit_timeout_us = admit_timeout_ms * 1000;
	return TRUE;
}

/* ---- plugin callbacks ---- */

/* The Prometheus endpoint: a failure to listen is logged and the plugin runs without it. */
static void start_metrics(void)
{
	char *error = NULL;
	const ah_metrics_config config = { (guint)metrics_port, metrics_address, metrics_token, (guint)metrics_max_tenants };
	if (!ah_metrics_start(&config, &error))
		JANUS_LOG(LOG_ERR, "allhands: metrics are off: %s\n", error ? error : "unknown error");
	else if (metrics_port != 0)
		JANUS_LOG(LOG_INFO, "%s metrics: http://%s:%" G_GINT64_FORMAT "/metrics%s\n", AH_PLUGIN_PACKAGE,
			metrics_address ? metrics_address : "127.0.0.1", metrics_port,
			metrics_token ? " (Authorization: Bearer token required)" : "");
	g_free(error);
	/* The endpoint keeps its own copy of the token. */
	g_free(metrics_token);
	metrics_token = NULL;
	g_free(metrics_address);
	metrics_address = NULL;
}

gboolean ah_events_enabled = FALSE;

static int ah_init(janus_callbacks *callback, const char *config_path)
{
	if (callback == NULL)
		return -1;
	ah_engine_config config = { 0 };
	ah_cluster_config cluster = { 0 };
	char *admin_key = NULL, *state_path = NULL;
	gboolean events = TRUE;
	if (!read_config(config_path, &config, &admin_key, &state_path, &events, &cluster)) {
		g_free(admin_key);
		g_free(state_path);
		return -1;
	}
	ah_gateway = callback;
	ah_events_enabled = events && ah_gateway->events_is_enabled();
	if (relay_threads < 0) {
		guint cpus = g_get_num_processors(); /* the CPUs this process may run on */
		relay_threads = cpus >= 2 ? MIN(cpus, 8) : 0;
	}
	char *error = NULL;
	if (!ah_relay_start((guint)relay_threads, (guint)relay_inline_max, &error)) {
		JANUS_LOG(LOG_FATAL, "allhands: cannot start: %s\n", error);
		g_free(error);
		g_free(admin_key);
		g_free(state_path);
		ah_cluster_config_clear(&cluster);
		return -1;
	}
	ah_sessions_init(release_parts);
	gboolean ok = ah_control_start(&config, &cluster, &error);
	g_free(admin_key);
	g_free(state_path);
	/* What the control thread did not take over (all of it when it did not start). */
	ah_cluster_config_clear(&cluster);
	if (!ok) {
		JANUS_LOG(LOG_FATAL, "allhands: cannot start: %s\n", error ? error : "unknown error");
		g_free(error);
		ah_sessions_clear();
		ah_relay_stop();
		return -1;
	}
	start_metrics();
	g_atomic_int_set(&initialized, 1);
	JANUS_LOG(LOG_INFO, "%s initialized: capacity %u, waves of %u every %" G_GINT64_FORMAT " ms\n",
		AH_PLUGIN_PACKAGE, config.admission.capacity, config.admission.wave_size,
		config.admission.wave_interval_us / 1000);
	JANUS_LOG(LOG_INFO, "%s limits: requests of at most %" G_GINT64_FORMAT " bytes, %" G_GINT64_FORMAT
		" per second per handle (burst %" G_GINT64_FORMAT "), %" G_GINT64_FORMAT " handles per Janus session "
		"(0: no limit)\n", AH_PLUGIN_PACKAGE, limits.max_request_bytes, limits.requests_per_second,
		limits.request_burst, limits.max_handles_per_session);
	JANUS_LOG(LOG_INFO, "%s relay: %" G_GINT64_FORMAT " helper threads for streams with at least %" G_GINT64_FORMAT
		" receivers\n", AH_PLUGIN_PACKAGE, relay_threads, relay_inline_max);
	return 0;
}

static void ah_destroy(void)
{
	if (!g_atomic_int_get(&initialized))
		return;
	g_atomic_int_set(&stopping, 1);
	ah_metrics_stop();
	ah_control_stop();
	/* Janus does not detach handles at shutdown and its loop threads may still be running: the
	 * sessions stay allocated (the process is ending), marked destroyed so nothing uses them. */
	ah_sessions_mark_destroyed();
	ah_relay_stop();
	g_atomic_int_set(&initialized, 0);
	JANUS_LOG(LOG_INFO, "%s destroyed\n", AH_PLUGIN_PACKAGE);
}

/* configure read the version from the installed plugin.h; the build must use that same header. */
G_STATIC_ASSERT(AH_JANUS_API_VERSION == JANUS_PLUGIN_API_VERSION);
static int ah_get_api_compatibility(void) { return JANUS_PLUGIN_API_VERSION; }
static int ah_get_version(void) { return AH_VERSION; }
static const char *ah_get_version_string(void) { return AH_VERSION_STRING; }
static const char *ah_get_description(void) { return "All-hands rooms: tenants with caps, wave admission of attendees."; }
static const char *ah_get_name(void) { return "allhands"; }
static const char *ah_get_author(void) { return "The allhands developers"; }
static const char *ah_get_package(void) { return AH_PLUGIN_PACKAGE; }

/* The Janus session a plugin handle belongs to, as an opaque key. The plugin API does not expose it:
 * handle->gateway_handle is Janus's janus_ice_handle, whose first member has been the `void *session`
 * pointer in every Janus release (0.x to 1.3). Only the pointer's value is used, never what it points to. */
static gconstpointer janus_session_key(const janus_plugin_session *handle)
{
	return handle->gateway_handle != NULL ? *(void *const *)handle->gateway_handle : NULL;
}

static void ah_create_session(janus_plugin_session *handle, int *error)
{
	if (!running()) {
		*error = -1;
		return;
	}
	gconstpointer key = janus_session_key(handle);
	if (ah_session_register(handle, key, limits.max_handles_per_session, (double)limits.request_burst,
			janus_get_monotonic_time()) == NULL) {
		/* Janus answers the attach with error 461 "Couldn't attach to plugin: error '638'": the
		 * only way the plugin API lets create_session say why (docs/security.md). */
		*error = ah_error_code(AH_ERR_TOO_MANY_HANDLES);
		JANUS_LOG(LOG_VERB, "allhands: attach refused: more than %" G_GINT64_FORMAT " handles in one Janus session\n",
			limits.max_handles_per_session);
		return;
	}
}

/* The limits on one handle message, checked on the Janus thread; NULL when it may be queued, else the
 * error body to answer with. */
static json_t *check_limits(ah_session *session, json_t *message)
{
	if (limits.max_request_bytes > 0 && message != NULL) {
		size_t size = json_dumpb(message, NULL, 0, JSON_COMPACT);
		if (size > (size_t)limits.max_request_bytes) {
			char *text = g_strdup_printf("The request is too large (%zu bytes of JSON, at most %" G_GINT64_FORMAT ")",
				size, limits.max_request_bytes);
			json_t *body = ah_engine_error_body(AH_ERR_REQUEST_TOO_LARGE, text);
			g_free(text);
			return body;
		}
	}
	gint64 retry_ms = limits.requests_per_second <= 0 ? 0 : ah_session_take_token(session, janus_get_monotonic_time(),
		limits.requests_per_second, limits.request_burst);
	if (retry_ms == 0)
		return NULL;
	json_t *body = ah_engine_error_body(AH_ERR_RATE_LIMITED, NULL);
	json_object_set_new(body, "retry_after_ms", json_integer(retry_ms));
	return body;
}

static struct janus_plugin_result *ah_handle_message(janus_plugin_session *handle, char *transaction,
	json_t *message, json_t *jsep)
{
	ah_session *session = session_ref_of(handle);
	if (session == NULL) {
		g_free(transaction);
		json_decref(message);
		json_decref(jsep);
		if (!running())
			return janus_plugin_result_new(JANUS_PLUGIN_OK, NULL, ah_engine_error_body(AH_ERR_UNAVAILABLE, NULL));
		return janus_plugin_result_new(JANUS_PLUGIN_ERROR, "No such session", NULL);
	}
	/* The limits are answered here, so a flood never reaches the control thread. */
	json_t *refused = check_limits(session, message);
	if (refused != NULL) {
		ah_session_unref(session);
		g_free(transaction);
		json_decref(message);
		json_decref(jsep);
		return janus_plugin_result_new(JANUS_PLUGIN_OK, NULL, refused);
	}
	/* Everything else, including validation, happens on the control thread: one place answers. */
	ah_control_post_message(session, transaction, message, jsep);
	return janus_plugin_result_new(JANUS_PLUGIN_OK_WAIT, NULL, NULL);
}

static json_t *ah_handle_admin_message(json_t *message)
{
	if (!running())
		return ah_engine_error_body(AH_ERR_UNAVAILABLE, NULL);
	json_incref(message);
	return ah_control_admin_message(message);
}

static void ah_setup_media(janus_plugin_session *handle)
{
	ah_session *session = session_of(handle);
	if (session == NULL)
		return;
	g_atomic_int_set(&session->media_up, 1);
	ah_session_ref(session);
	ah_control_post_media_up(session);
}

static void ah_incoming_rtp(janus_plugin_session *handle, janus_plugin_rtp *packet)
{
	ah_session *session = session_of(handle);
	/* Attendees are receive-only: whatever they send is dropped here. `pub` is set only by the control
	 * thread when the engine accepted a publish, which it does for presenters only (not_presenter). */
	if (session == NULL || packet == NULL || g_atomic_pointer_get(&session->pub) == NULL)
		return;
	ah_relay_rtp(session, packet);
}

/* RTCP is never relayed: an attendee's PLI/FIR only asks its presenter for a keyframe (coalesced). */
static void ah_incoming_rtcp(janus_plugin_session *handle, janus_plugin_rtcp *packet)
{
	ah_session *session = session_of(handle);
	if (session == NULL || packet == NULL || packet->buffer == NULL || packet->length <= 0)
		return;
	if (session->pub == NULL) {
		/* A receiver's feedback, at most every AH_FEEDBACK_INTERVAL_US: its simulcast layers'. */
		gint64 at = janus_get_monotonic_time();
		if (at - session->last_feedback_us >= AH_FEEDBACK_INTERVAL_US) {
			double fraction_lost;
			guint32 remb_bps;
			ah_rtcp_feedback((const guint8 *)packet->buffer, (gsize)packet->length, &fraction_lost, &remb_bps);
			if (fraction_lost >= 0 || remb_bps > 0) {
				session->last_feedback_us = at;
				ah_session_ref(session);
				ah_control_post_feedback(session, fraction_lost, remb_bps);
			}
		}
	}
	if (!packet->video)
		return;
	if (!janus_rtcp_has_pli(packet->buffer, packet->length) && !janus_rtcp_has_fir(packet->buffer, packet->length))
		return;
	gint64 now = janus_get_monotonic_time();
	if (now - session->last_pli_us < AH_ATTENDEE_PLI_INTERVAL_US)
		return;
	session->last_pli_us = now;
	ah_session_ref(session);
	ah_control_post_attendee_pli(session, packet->mindex);
}

static void ah_hangup_media(janus_plugin_session *handle)
{
	ah_session *session = session_of(handle);
	if (session == NULL)
		return;
	g_atomic_int_set(&session->media_up, 0);
	ah_session_ref(session);
	ah_control_post_media_down(session);
}

static void ah_destroy_session(janus_plugin_session *handle, int *error)
{
	if (!running() || handle == NULL) {
		*error = -1;
		return;
	}
	gboolean registered;
	ah_session *session = ah_session_unregister(handle, &registered);
	if (session == NULL) {
		*error = -1;
		return;
	}
	g_atomic_int_set(&session->media_up, 0);
	/* The control thread takes over the registry's reference. */
	if (registered)
		ah_control_post_gone(session);
}

static json_t *ah_query_session(janus_plugin_session *handle)
{
	ah_session *session = session_ref_of(handle);
	if (session == NULL)
		return NULL;
	json_t *info = json_pack("{sIsbsb}", "conn", (json_int_t)session->conn,
		"media_up", g_atomic_int_get(&session->media_up) != 0,
		"publishing", g_atomic_pointer_get(&session->pub) != NULL);
	ah_session_unref(session);
	return info;
}

janus_plugin ah_plugin = {
	.init = ah_init,
	.destroy = ah_destroy,
	.get_api_compatibility = ah_get_api_compatibility,
	.get_version = ah_get_version,
	.get_version_string = ah_get_version_string,
	.get_description = ah_get_description,
	.get_name = ah_get_name,
	.get_author = ah_get_author,
	.get_package = ah_get_package,
	.create_session = ah_create_session,
	.handle_message = ah_handle_message,
	.handle_admin_message = ah_handle_admin_message,
	.setup_media = ah_setup_media,
	.incoming_rtp = ah_incoming_rtp,
	.incoming_rtcp = ah_incoming_rtcp,
	.hangup_media = ah_hangup_media,
	.destroy_session = ah_destroy_session,
	.query_session = ah_query_session,
};

/* The one symbol the plugin exports. */
__attribute__((visibility("default"))) janus_plugin *create(void);
janus_plugin *create(void)
{
	return &ah_plugin;
}
