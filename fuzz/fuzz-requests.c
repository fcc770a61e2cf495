/* allhands: libFuzzer target for everything a plugin handle or the Admin API can send the engine
 * (request validation, dispatch and every handler behind it), see docs/fuzzing.md.
 *
 * The input is a script of up to MAX_OPS lines. In each line the first byte picks the entry point
 * and the second its argument; the rest of the line, if any, is a request's JSON:
 *   '1'..'4' <jsep> JSON  a message on plugin handle (conn) 1..4; <jsep> is 'o' (offer with Opus +
 *                         VP8), 'h' (offer with H.264 video only), 'n' (offer without a usable
 *                         stream), 'a' (answer), anything else: no JSEP
 *   'A' <any> JSON        an Admin API request
 *   'U' / 'D' / 'G' <c>   media up / media down / handle gone on conn '1'..'4'
 *   'T' <b>               the clock jumps by (b % 64) seconds
 * Every line advances the clock by 100 ms, and due timers run (ah_engine_tick) as the glue would.
 * Each input gets a fresh engine with two tenants and three rooms (one scheduled, one taking join
 * tokens signed with acme's signing key FUZZ_KEY, set by rotate_signing_key), made by
 * the admin requests parsed once in LLVMFuzzerInitialize, so that a crash reproduces from its input
 * alone and a leak found after ah_engine_free() is a leak of the engine's. Handles 1 and 2 share a
 * Janus session, 3 and 4 another (the per-session throttle and queued-join limit of 2).
 *
 * Checks beyond the sanitizers: ah_engine_handle_message appends exactly one REPLY and appends it
 * first (engine.h), admin replies are never NULL, and no out has a NULL body where one is due.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/engine.h"

#define SEC G_GINT64_CONSTANT(1000000)
#define MS G_GINT64_CONSTANT(1000)
#define MAX_OPS 64
#define N_CONNS 4
/* 2026-11-02 08:50 UTC, ten minutes before the scheduled room opens. */
#define REAL_START G_GINT64_CONSTANT(1793609400)
/* acme's signing key (fuzz/make-seeds.mjs mints the corpus's tokens with it). */
#define FUZZ_KEY "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const setup_text[] = {
	"{\"request\":\"create_tenant\",\"tenant\":\"acme\",\"name\":\"Acme\",\"max_participants\":6,"
	"\"secret\":\"acme-tenant-secret\",\"weight\":2,\"max_queued\":4}",
	"{\"request\":\"rotate_signing_key\",\"tenant\":\"acme\",\"signing_key\":\"" FUZZ_KEY "\"}",
	"{\"request\":\"create_tenant\",\"tenant\":\"globex\",\"max_participants\":3,\"secret\":\"globex-tenant-secret\"}",
	"{\"request\":\"create_room\",\"tenant\":\"acme\",\"room\":\"allhands\",\"max_attendees\":3,"
	"\"presenter_secret\":\"s3cret-presenter\",\"priority_secret\":\"vip-pass\",\"presenter_seats\":1,\"tokens\":\"optional\"}",
	"{\"request\":\"create_room\",\"tenant\":\"globex\",\"room\":\"standup\",\"max_attendees\":2,"
	"\"pin\":\"1234\",\"presenter_secret\":\"g-s3cret\"}",
	"{\"request\":\"create_room\",\"tenant\":\"acme\",\"room\":\"weekly\",\"max_attendees\":5,"
	"\"presenter_secret\":\"s3cret-presenter\",\"lobby_minutes\":5,\"ending_warning_s\":60,\"grace_s\":30,"
	"\"schedule\":{\"dtstart\":\"2026-11-02T10:00:00\",\"tzid\":\"Europe/Berlin\",\"duration_s\":120,"
	"\"rrule\":\"FREQ=DAILY;COUNT=3\"}}",
};
static json_t *setup_json[G_N_ELEMENTS(setup_text)];

static const ah_stream_desc av[] = {
	{ AH_MEDIA_AUDIO, 0, "opus", "" },
	{ AH_MEDIA_VIDEO, 1, "vp8", "" },
};
static const ah_stream_desc video_only[] = {
	{ AH_MEDIA_VIDEO, 0, "h264", "profile-level-id=42e01f;packetization-mode=1" },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	for (guint i = 0; i < G_N_ELEMENTS(setup_text); i++) {
		json_error_t error;
		setup_json[i] = json_loads(setup_text[i], 0, &error);
		if (setup_json[i] == NULL)
			abort();
	}
	return 0;
}

static ah_engine *engine_new(gint64 now, GPtrArray *outs)
{
	ah_engine_config config = { .state_path = NULL, .admin_key = "op-key" };
	ah_error err = AH_ERR_INTERNAL;
	char *message = NULL;
	ah_engine *engine;
	ah_admission_config_defaults(&config.admission);
	config.admission.capacity = 8;
	config.admission.wave_size = 2;
	config.admission.wave_interval_us = 1 * SEC;
	config.admission.admit_timeout_us = 5 * SEC;
	config.admission.update_interval_us = 500 * MS;
	config.max_queued_per_session = 2;
	engine = ah_engine_new(&config, &err, &message);
	if (engine == NULL || err != AH_ERR_OK || message != NULL)
		abort();
	for (guint64 conn = 1; conn <= N_CONNS; conn++)
		ah_engine_set_conn_session(engine, conn, (conn + 1) / 2);
	ah_engine_set_clock_offset(engine, REAL_START * SEC - now);
	for (guint i = 0; i < G_N_ELEMENTS(setup_json); i++) {
		json_t *reply = ah_engine_admin_message(engine, setup_json[i], now, outs);
		if (reply == NULL || json_object_get(reply, "error_code") != NULL)
			abort();
		json_decref(reply);
	}
	g_ptr_array_set_size(outs, 0);
	return engine;
}

/* engine.h: exactly one REPLY, the first out the message appended. */
static void check_outs(const GPtrArray *outs, guint start, gboolean handle_message)
{
	guint replies = 0;
	for (guint i = start; i < outs->len; i++) {
		const ah_out *out = g_ptr_array_index(outs, i);
		if (out->kind == AH_OUT_REPLY) {
			if (!handle_message || i != start)
				abort();
			replies++;
		}
		if ((out->kind == AH_OUT_REPLY || out->kind == AH_OUT_EVENT || out->kind == AH_OUT_NOTIFY) &&
			out->body == NULL)
			abort();
	}
	if (handle_message && replies != 1)
		abort();
}

/* Read what the glue reads after the outs: slots and routes of every conn. */
static void inspect(ah_engine *engine)
{
	GArray *routes = g_array_new(FALSE, FALSE, sizeof(ah_route));
	for (guint64 conn = 1; conn <= N_CONNS; conn++) {
		guint n = 0;
		const ah_slot *slots = ah_engine_slots(engine, conn, &n);
		for (guint i = 0; i < n; i++)
			if (slots[i].mindex != (int)i)
				abort();
		g_array_set_size(routes, 0);
		ah_engine_routes(engine, conn, routes);
	}
	g_array_free(routes, TRUE);
}

static void message(ah_engine *engine, guint64 conn, char jsep, json_t *json, gint64 now, GPtrArray *outs)
{
	const char *jsep_type = NULL;
	const ah_stream_desc *streams = NULL;
	guint n = 0;
	guint start = outs->len;
	switch (jsep) {
	case 'o':
		jsep_type = "offer", streams = av, n = G_N_ELEMENTS(av);
		break;
	case 'h':
		jsep_type = "offer", streams = video_only, n = G_N_ELEMENTS(video_only);
		break;
	case 'n':
		jsep_type = "offer";
		break;
	case 'a':
		jsep_type = "answer";
		break;
	default:
		break;
	}
	ah_engine_handle_message(engine, conn, json, jsep_type, streams, n, now, outs);
	check_outs(outs, start, TRUE);
}

static void run_line(ah_engine *engine, const char *line, size_t len, gint64 *now, GPtrArray *outs)
{
	char op = len > 0 ? line[0] : 0;
	char arg = len > 1 ? line[1] : 0;
	guint64 conn = arg >= '1' && arg <= '0' + N_CONNS ? (guint64)(arg - '0') : 1;
	json_t *json = NULL;
	json_error_t error;
	if (len > 2)
		json = json_loadb(line + 2, len - 2, JSON_DECODE_ANY, &error);
	switch (op) {
	case '1':
	case '2':
	case '3':
	case '4':
		message(engine, (guint64)(op - '0'), arg, json, *now, outs);
		break;
	case 'A': {
		json_t *reply = ah_engine_admin_message(engine, json, *now, outs);
		if (reply == NULL)
			abort();
		json_decref(reply);
		check_outs(outs, 0, FALSE);
		break;
	}
	case 'U':
		ah_engine_media_up(engine, conn, *now, outs);
		break;
	case 'D':
		ah_engine_media_down(engine, conn, *now, outs);
		break;
	case 'G':
		ah_engine_conn_gone(engine, conn, *now, outs);
		break;
	case 'T':
		*now += (gint64)((unsigned char)arg % 64) * SEC;
		break;
	default:
		break;
	}
	if (json != NULL)
		json_decref(json);
	inspect(engine);
	g_ptr_array_set_size(outs, 0);
	*now += 100 * MS;
	/* The glue's timer: a few rounds at most, a deadline in the past must not loop forever. */
	for (int i = 0; i < 4 && ah_engine_next_deadline(engine, *now) <= *now; i++) {
		ah_engine_tick(engine, *now, outs);
		check_outs(outs, 0, FALSE);
		g_ptr_array_set_size(outs, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	GPtrArray *outs = g_ptr_array_new_with_free_func(ah_out_free);
	gint64 now = 1000 * SEC;
	ah_engine *engine = engine_new(now, outs);
	size_t pos = 0;
	for (int ops = 0; ops < MAX_OPS && pos < size; ops++) {
		const char *nl = memchr(text + pos, '\n', size - pos);
		size_t len = nl != NULL ? (size_t)(nl - (text + pos)) : size - pos;
		run_line(engine, text + pos, len, &now, outs);
		pos += len + 1;
	}
	/* Everyone leaves, as when Janus shuts down. */
	for (guint64 conn = 1; conn <= N_CONNS; conn++)
		ah_engine_conn_gone(engine, conn, now, outs);
	g_ptr_array_unref(outs);
	ah_engine_free(engine);
	return 0;
}
