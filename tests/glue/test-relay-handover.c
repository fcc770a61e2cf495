/* Stress test of the relay's hand-over between a presenter's thread and the helper threads
 * (plugin/glue/relay.c, issue 12 section 3).
 *
 * relay.c is compiled into this program as it is; the few Janus functions it calls are defined here
 * (Janus defines them in its executable): relay_rtp records what each receiver gets, and
 * janus_rtp_header_update numbers packets from the substream's switching context the way Janus
 * does, by reading and writing it without a lock of its own. One thread plays the presenter's loop
 * thread and relays packets in bursts; the main thread plays the control thread and swaps the
 * fan-out between 2 receivers (relayed inline: relay_inline_max is 3) and 4 receivers (relayed by two
 * helper threads), thousands of times. Asserted:
 * - status `overlaps` stays 0: no two threads rewrote one substream at once, and the presenter's
 *   thread never rewrote for a substream while a helper's job for its m-line was queued or running;
 * - each receiver got the packets in the order the presenter sent them, numbered 1, 2, 3... without
 *   a gap or a repeat (a lost update of the switching context would show as one).
 * The same program on the relay before the fix counted thousands of overlaps and reorderings.
 *
 * tests/glue holds tests of glue code built without Janus's executable: they include Janus's
 * headers (through glue.h) and define the Janus functions the code under test calls.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <arpa/inet.h>
#include <string.h>

#include "glue.h"

/* ---- what Janus's executable would provide ---- */

int refcount_debug = 0;
int lock_debug = 0;
int janus_log_level = 0;
gboolean janus_log_timestamps = FALSE;
gboolean janus_log_colors = FALSE;
char *janus_log_global_prefix = NULL;

/* The reference counters' debug output (refcount_debug is 0: never called). */
void janus_vprintf(const char *format, ...)
{
}

char *janus_rtp_payload(char *buf, int len, int *plen)
{
	if (buf == NULL || len < 12)
		return NULL;
	*plen = len - 12;
	return buf + 12;
}

gboolean janus_vp8_is_keyframe(const char *buffer, int len)
{
	return TRUE;
}

gboolean janus_h264_is_keyframe(const char *buffer, int len)
{
	return TRUE;
}

gboolean janus_vp9_is_keyframe(const char *buffer, int len)
{
	return TRUE;
}

void janus_rtp_switching_context_reset(janus_rtp_switching_context *context)
{
	memset(context, 0, sizeof(*context));
}

/* Janus's version rebases on SSRC changes; one SSRC here, so only the numbering is kept. Unlocked
 * read-modify-write of the context, as in Janus. */
void janus_rtp_header_update(janus_rtp_header *header, janus_rtp_switching_context *context, gboolean video, int step)
{
	uint16_t seq = context->last_seq;
	context->last_seq = (uint16_t)(seq + 1);
	header->seq_number = htons(context->last_seq);
}

void janus_rtp_simulcasting_context_reset(janus_rtp_simulcasting_context *context)
{
	memset(context, 0, sizeof(*context));
}

void janus_vp8_simulcast_context_reset(janus_vp8_simulcast_context *context)
{
	memset(context, 0, sizeof(*context));
}

void janus_plugin_rtp_extensions_reset(janus_plugin_rtp_extensions *extensions)
{
	memset(extensions, 0, sizeof(*extensions));
}

janus_videocodec janus_videocodec_from_name(const char *name)
{
	return JANUS_VIDEOCODEC_VP8;
}

/* Simulcast is not used here (no presenter sends layers). */
gboolean janus_rtp_simulcasting_context_process_rtp(janus_rtp_simulcasting_context *context, char *buf, int len,
	uint32_t *ssrcs, char **rids, janus_videocodec vcodec, janus_rtp_switching_context *sc, janus_mutex *rid_mutex)
{
	g_assert_not_reached();
	return FALSE;
}

void janus_vp8_simulcast_descriptor_update(char *buffer, int len, janus_vp8_simulcast_context *context, gboolean switched)
{
	g_assert_not_reached();
}

int janus_rtp_header_extension_parse_rid(char *buf, int len, int id, char *sdes_item, int sdes_len)
{
	return -1;
}

void janus_rtp_simulcasting_prepare(json_t *simulcast, int *rid_ext_id, uint32_t *ssrcs, char **rids)
{
}

int ah_sdp_payload_type(const char *codec)
{
	return 96;
}

/* ---- receivers ---- */

#define N_RECEIVERS 4
/* The cost measurement (-m perf) relays to this many. */
#define PERF_RECEIVERS 64
#define PERF_PACKETS 200000
/* Fan-out swaps, each one moving the m-line across relay_inline_max. */
#define N_SWAPS 2000
/* The presenter sends packets in bursts of this many, as a video frame comes. */
#define BURST 16

typedef struct {
	ah_session session;
	janus_plugin_session handle;
	volatile gint last_index; /* payload index of the last packet received */
	volatile gint next_seq;   /* the sequence number expected next */
	volatile gint received;
	volatile gint reordered;  /* a packet sent before one already received */
	volatile gint misnumbered; /* a sequence number other than the next one */
	volatile gint inline_relayed; /* packets relayed by the presenter's thread itself */
} receiver;

static GThread *presenter_thread;

static receiver receivers[PERF_RECEIVERS];

void ah_session_ref(ah_session *session)
{
}

void ah_session_unref(ah_session *session)
{
}

ah_session *ah_session_lookup(guint64 conn)
{
	return conn >= 1 && conn <= PERF_RECEIVERS ? &receivers[conn - 1].session : NULL;
}

static void relay_rtp(janus_plugin_session *handle, janus_plugin_rtp *packet)
{
	receiver *r = handle->plugin_handle;
	const janus_rtp_header *header = (const janus_rtp_header *)packet->buffer;
	gint index;
	memcpy(&index, packet->buffer + 12, sizeof(index));
	if (index < g_atomic_int_get(&r->last_index))
		g_atomic_int_inc(&r->reordered);
	g_atomic_int_set(&r->last_index, index);
	if (ntohs(header->seq_number) != (uint16_t)g_atomic_int_get(&r->next_seq))
		g_atomic_int_inc(&r->misnumbered);
	g_atomic_int_set(&r->next_seq, (uint16_t)(ntohs(header->seq_number) + 1));
	g_atomic_int_inc(&r->received);
	if (g_thread_self() == g_atomic_pointer_get(&presenter_thread))
		g_atomic_int_inc(&r->inline_relayed);
}

static void send_pli_stream(janus_plugin_session *handle, int mindex)
{
}

static janus_callbacks callbacks = {.relay_rtp = relay_rtp, .send_pli_stream = send_pli_stream};
janus_callbacks *ah_gateway = &callbacks;

/* ---- the presenter ---- */

static volatile gint presenter_stop = 0;
static gint presenter_sent = 0;

static gpointer presenter_main(gpointer data)
{
	ah_session *presenter = data;
	char buffer[12 + 64];
	memset(buffer, 0, sizeof(buffer));
	janus_rtp_header *header = (janus_rtp_header *)buffer;
	header->version = 2;
	header->type = 100;
	header->ssrc = htonl(1234);
	gint i = 0;
	while (!g_atomic_int_get(&presenter_stop)) {
		i++;
		header->seq_number = htons((uint16_t)i);
		memcpy(buffer + 12, &i, sizeof(i));
		janus_plugin_rtp packet = {.mindex = 0, .video = TRUE, .buffer = buffer, .length = sizeof(buffer)};
		ah_relay_rtp(presenter, &packet);
		if (i % BURST == 0)
			g_usleep(50);
	}
	presenter_sent = i;
	return NULL;
}

static void set_receivers(ah_pubmedia *pm, guint n)
{
	GArray *routes = g_array_new(FALSE, FALSE, sizeof(ah_route));
	for (guint i = 0; i < n; i++) {
		ah_route route = {i + 1, 0, 0, AH_MEDIA_VIDEO, 2, 0 /* unused by the relay */};
		g_array_append_val(routes, route);
	}
	ah_pubmedia_set_routes(pm, routes);
	g_array_free(routes, TRUE);
}

/* Receivers 1..n, each with one video substream, and the presenter's media state for
 * `presenter` publishing one VP8 stream on m-line 0 (no receiver yet). */
static ah_pubmedia *stage(ah_session *presenter, guint n)
{
	memset(receivers, 0, sizeof(receivers));
	for (guint i = 0; i < n; i++) {
		receiver *r = &receivers[i];
		r->handle.plugin_handle = r;
		r->session.handle = &r->handle;
		r->session.conn = i + 1;
		r->session.media_up = 1;
		r->session.substreams = g_ptr_array_new_with_free_func((GDestroyNotify)ah_substream_unref);
		ah_substream *sub = ah_substream_new(&r->session, 0, AH_MEDIA_VIDEO, "vp8");
		g_atomic_int_set(&sub->awaiting_key, 0);
		g_ptr_array_add(r->session.substreams, sub);
		r->next_seq = 1;
	}
	ah_pubmedia *pm = ah_pubmedia_new();
	presenter->pub = pm;
	ah_stream_desc stream = {.kind = AH_MEDIA_VIDEO, .mindex = 0, .codec = "vp8"};
	int in_pt = 100;
	ah_pubmedia_set_streams(pm, &stream, &in_pt, 1);
	return pm;
}

static void unstage(ah_pubmedia *pm, guint n)
{
	set_receivers(pm, 0);
	ah_relay_stop();
	ah_pubmedia_free(pm);
	for (guint i = 0; i < n; i++)
		g_ptr_array_free(receivers[i].session.substreams, TRUE);
}

static void test_handover(void)
{
	char *error = NULL;
	g_assert_true(ah_relay_start(2, 3, &error));
	ah_session presenter = {0};
	ah_pubmedia *pm = stage(&presenter, N_RECEIVERS);
	set_receivers(pm, 2);

	GThread *thread = g_thread_new("presenter", presenter_main, &presenter);
	g_atomic_pointer_set(&presenter_thread, thread);
	/* Receivers 0 and 1 stay; 2 and 3 come and go, so the m-line crosses relay_inline_max (3) each
	 * time. */
	guint swaps = 0;
	for (; swaps < N_SWAPS; swaps++) {
		set_receivers(pm, swaps % 2 == 0 ? N_RECEIVERS : 2);
		g_usleep(20 + g_random_int_range(0, 200));
	}
	g_atomic_int_set(&presenter_stop, 1);
	g_thread_join(thread);
	/* Let the helpers finish what is queued (the test may wait; the relay never does). */
	for (int i = 0; i < 5000; i++) {
		json_t *st = ah_relay_status();
		gboolean idle = json_integer_value(json_object_get(st, "queued")) == 0;
		json_decref(st);
		if (idle)
			break;
		g_usleep(1000);
	}
	json_t *status = ah_relay_status();
	const json_int_t overlaps = json_integer_value(json_object_get(status, "overlaps"));
	const json_int_t dropped = json_integer_value(json_object_get(status, "dropped"));
	json_decref(status);
	gint reordered = 0, misnumbered = 0;
	for (guint i = 0; i < 2; i++) {
		reordered += receivers[i].reordered;
		misnumbered += receivers[i].misnumbered;
		g_test_message("receiver %u: %d packets (%d relayed inline), %d reordered, %d misnumbered", i,
			receivers[i].received, receivers[i].inline_relayed, receivers[i].reordered, receivers[i].misnumbered);
	}
	g_test_message("%u fan-out swaps, %d packets sent, %" JSON_INTEGER_FORMAT " overlaps, %" JSON_INTEGER_FORMAT
		" dropped", swaps, presenter_sent, overlaps, dropped);
	g_assert_cmpint(overlaps, ==, 0);
	g_assert_cmpint(reordered, ==, 0);
	/* A packet dropped on a full helper queue leaves a gap in the numbering of nobody (the context is
	 * only advanced for packets relayed), so a steady receiver's numbers must follow on exactly. */
	g_assert_cmpint(misnumbered, ==, 0);
	/* Receivers 0 and 1 were in every fan-out: they got every packet but the dropped ones, some
	 * inline and some through the helpers. */
	for (guint i = 0; i < 2; i++) {
		g_assert_cmpint(receivers[i].received + dropped, >=, presenter_sent);
		g_assert_cmpint(receivers[i].inline_relayed, >, 0);
		g_assert_cmpint(receivers[i].inline_relayed, <, receivers[i].received);
	}

	unstage(pm, N_RECEIVERS);
}

/* With -m perf: the relay's own cost per receiver and packet, inline (relay_rtp here only checks
 * the numbering; Janus's copies the packet). Best of 5 rounds; docs/benchmarks.md. */
static void test_relay_cost(void)
{
	if (!g_test_perf()) {
		g_test_skip("a measurement: run with -m perf");
		return;
	}
	char *error = NULL;
	g_assert_true(ah_relay_start(0, 1000, &error));
	ah_session presenter = {0};
	ah_pubmedia *pm = stage(&presenter, PERF_RECEIVERS);
	set_receivers(pm, PERF_RECEIVERS);
	char buffer[12 + 1100];
	memset(buffer, 0, sizeof(buffer));
	janus_rtp_header *header = (janus_rtp_header *)buffer;
	header->version = 2;
	header->type = 100;
	double best = G_MAXDOUBLE;
	for (int round = 0; round < 5; round++) {
		const gint64 t0 = g_get_monotonic_time();
		for (gint i = 1; i <= PERF_PACKETS; i++) {
			header->seq_number = htons((uint16_t)i);
			memcpy(buffer + 12, &i, sizeof(i));
			janus_plugin_rtp packet = {.mindex = 0, .video = TRUE, .buffer = buffer, .length = sizeof(buffer)};
			ah_relay_rtp(&presenter, &packet);
		}
		best = MIN(best, (g_get_monotonic_time() - t0) * 1000.0 / ((double)PERF_PACKETS * PERF_RECEIVERS));
	}
	g_test_minimized_result(best, "relay.c: %.1f ns per receiver per packet (best of 5)", best);
	for (guint i = 0; i < PERF_RECEIVERS; i++)
		g_assert_cmpint(receivers[i].misnumbered, ==, 0);
	unstage(pm, PERF_RECEIVERS);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/relay/handover", test_handover);
	g_test_add_func("/relay/cost", test_relay_cost);
	return g_test_run();
}
