/* allhands: benchmark of the control plane at scale (issue 12, section 2): the engine's work on
 * the control thread, through its public API (include/allhands/engine.h) only, so the same file
 * measures an older engine too. Built and run by `make bench-engine` (and `make bench`); figures
 * and the command in docs/benchmarks.md ("Control plane at scale"). Prints figures, asserts none.
 *
 * 1. A presenter change in a room of N connected attendees (N = 1,000, 10,000, 20,000 by
 *    default, or the arguments): a second presenter publishes, then leaves. Timed per change:
 *    the request itself (engine time, before the glue pushes anything), the fan-outs the glue
 *    then rebuilds (ah_engine_routes for each ROUTES), and the N answers that follow.
 * 2. Messages per second with 100,000 scheduled rooms (loaded from a state file, as after a
 *    restart): a mix of joins, status requests and leaves in live rooms, each followed by the
 *    two deadline queries the control thread makes per turn (plugin/glue/control.c), ticking when
 *    due. Also the worst single message and the first sync of all rooms after the load.
 * Every figure is the median of RUNS repetitions with its range.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "allhands/engine.h"
#include "allhands/persist.h"

/* Every tenant row of a version 2 state file has a signing key (64 hex characters). */
#define BENCH_SIGNING_KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

#define RUNS 3
#define SEC G_GINT64_CONSTANT(1000000)
#define T0 G_GINT64_CONSTANT(1800000000)       /* real time (UNIX s) at the start */
#define MONO0 (G_GINT64_CONSTANT(1000) * SEC)   /* monotonic time at the start */
#define FIRST_ATTENDEE 100000
#define PRESENTER 1
#define N_TENANTS 1000
#define ROOMS_PER_TENANT 100
#define N_ROOMS (N_TENANTS * ROOMS_PER_TENANT)
#define MIX_MESSAGES 20000
#define MIX_BUDGET_S 4.0

static const ah_stream_desc av[] = {
	{ AH_MEDIA_AUDIO, 0, "opus", "" },
	{ AH_MEDIA_VIDEO, 1, "vp8", "" },
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* "median [min-max]" of RUNS figures, scaled. */
static char *summary(const double *v, double scale, const char *format)
{
	double s[RUNS];
	char *median, *low, *high, *out;
	memcpy(s, v, sizeof(s));
	qsort(s, RUNS, sizeof(double), compare_doubles);
	median = g_strdup_printf(format, s[RUNS / 2] * scale);
	low = g_strdup_printf(format, s[0] * scale);
	high = g_strdup_printf(format, s[RUNS - 1] * scale);
	out = g_strdup_printf("%s [%s-%s]", median, low, high);
	g_free(median);
	g_free(low);
	g_free(high);
	return out;
}

static ah_engine *engine_new(const char *state_path, guint capacity)
{
	ah_engine_config config = { .state_path = state_path };
	ah_error err;
	char *message = NULL;
	ah_engine *engine;
	ah_admission_config_defaults(&config.admission);
	config.admission.capacity = capacity;
	config.admission.wave_size = 100000;
	config.admission.wave_interval_us = 0;
	config.admission.admit_timeout_us = 3600 * SEC;
	engine = ah_engine_new(&config, &err, &message);
	if (engine == NULL) {
		fprintf(stderr, "engine: %s\n", message);
		exit(1);
	}
	return engine;
}

static json_t *message_of(const char *format, ...) G_GNUC_PRINTF(1, 2);
static json_t *message_of(const char *format, ...)
{
	va_list args;
	char *text;
	json_t *json;
	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	json = json_loads(text, 0, NULL);
	if (json == NULL) {
		fprintf(stderr, "bad JSON: %s\n", text);
		exit(1);
	}
	g_free(text);
	return json;
}

/* Send `message` (stolen) on `conn`; the reply's "event" or "error_name" (static copy). */
static const char *send(ah_engine *engine, guint64 conn, json_t *message, const char *jsep,
	const ah_stream_desc *streams, guint n, gint64 now, GPtrArray *outs)
{
	static char what[64];
	ah_out *reply;
	guint start = outs->len;
	const json_t *name;
	ah_engine_handle_message(engine, conn, message, jsep, streams, n, now, outs);
	json_decref(message);
	reply = g_ptr_array_index(outs, start);
	name = json_object_get(reply->body, "error_name");
	if (name == NULL)
		name = json_object_get(reply->body, "event");
	g_strlcpy(what, json_string_value(name) != NULL ? json_string_value(name) : "?", sizeof(what));
	return what;
}

static void admin(ah_engine *engine, json_t *message, gint64 now, GPtrArray *outs)
{
	json_t *reply = ah_engine_admin_message(engine, message, now, outs);
	if (json_object_get(reply, "error") != NULL) {
		char *text = json_dumps(reply, 0);
		fprintf(stderr, "admin: %s\n", text);
		exit(1);
	}
	json_decref(reply);
	json_decref(message);
}

static void expect(const char *got, const char *want, const char *what)
{
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "%s: %s, expected %s\n", what, got, want);
		exit(1);
	}
}

/* What the glue asks the engine for each ROUTES out (rebuild the presenter's fan-out) and, in
 * engines that have it, each RECEIVER_ROUTES out (patch one receiver's entries). */
static guint rebuild_fanouts(ah_engine *engine, GPtrArray *outs)
{
	GArray *routes = g_array_new(FALSE, FALSE, sizeof(ah_route));
	guint n = 0;
	for (guint i = 0; i < outs->len; i++) {
		const ah_out *out = g_ptr_array_index(outs, i);
		g_array_set_size(routes, 0);
		if (out->kind == AH_OUT_ROUTES)
			ah_engine_routes(engine, out->conn, routes);
#ifdef AH_HAVE_RECEIVER_ROUTES
		else if (out->kind == AH_OUT_RECEIVER_ROUTES)
			ah_engine_receiver_routes(engine, out->conn, routes);
#endif
		n += routes->len;
	}
	g_array_unref(routes);
	return n;
}

/* --- 1. presenter change */

typedef struct {
	double change[RUNS], routes[RUNS], answers[RUNS];
} change_times;

/* Every attendee answers its "updated" offer; seconds. */
static double answer_all(ah_engine *engine, guint n, gint64 now, GPtrArray *outs)
{
	double t0 = now_s();
	for (guint64 c = FIRST_ATTENDEE; c < FIRST_ATTENDEE + n; c++) {
		const char *got = send(engine, c, json_pack("{s:s}", "request", "start"), "answer", NULL, 0, now, outs);
		expect(got, "started", "answer");
		g_ptr_array_set_size(outs, 0);
	}
	return now_s() - t0;
}

/* The request `message` of presenter `conn`, the fan-outs, the answers. */
static void time_change(ah_engine *engine, guint n, guint64 conn, json_t *message, const ah_stream_desc *streams,
	guint n_streams, const char *want, change_times *t, int run, gint64 now, GPtrArray *outs)
{
	double t0 = now_s(), t1, t2;
	expect(send(engine, conn, message, streams != NULL ? "offer" : NULL, streams, n_streams, now, outs), want,
		"presenter change");
	t1 = now_s();
	rebuild_fanouts(engine, outs);
	t2 = now_s();
	g_ptr_array_set_size(outs, 0);
	t->change[run] = t1 - t0;
	t->routes[run] = t2 - t1;
	t->answers[run] = answer_all(engine, n, now, outs);
}

/* One line of figures: a change (label), or one attendee leaving (label NULL). */
static void print_change(const char *label, const change_times *t, guint n)
{
	char *request = summary(t->change, 1e3, label != NULL ? "%.2f" : "%.3f");
	char *routes = summary(t->routes, 1e3, "%.2f");
	char *answers = label != NULL ? summary(t->answers, 1e3, "%.1f") : NULL;
	if (label != NULL)
		printf("  %s request %s ms, fan-outs %s ms, %u answers %s ms\n", label, request, routes, n, answers);
	else
		printf("  an attendee leaves: request %s ms, fan-out %s ms\n", request, routes);
	g_free(request);
	g_free(routes);
	g_free(answers);
}

static void bench_presenter_change(guint n)
{
	ah_engine *engine = engine_new(NULL, n + 100);
	GPtrArray *outs = g_ptr_array_new_with_free_func(ah_out_free);
	change_times pub, leave, one;
	gint64 now = MONO0;
	double setup = now_s();
	admin(engine, message_of("{\"request\":\"create_tenant\",\"tenant\":\"acme\",\"max_participants\":%u,"
		"\"secret\":\"acme-tenant-secret\"}", n + 100), now, outs);
	admin(engine, message_of("{\"request\":\"create_room\",\"tenant\":\"acme\",\"room\":\"allhands\","
		"\"max_attendees\":%u,\"presenter_secret\":\"s3cret-presenter\",\"presenter_seats\":10}", n), now, outs);
	expect(send(engine, PRESENTER, message_of("{\"request\":\"join\",\"tenant\":\"acme\",\"room\":\"allhands\","
		"\"ptype\":\"presenter\",\"presenter_secret\":\"s3cret-presenter\",\"display\":\"CEO\"}"), NULL, NULL, 0, now, outs),
		"joined", "presenter join");
	expect(send(engine, PRESENTER, message_of("{\"request\":\"publish\"}"), "offer", av, 2, now, outs),
		"published", "publish");
	for (guint64 conn = FIRST_ATTENDEE; conn < FIRST_ATTENDEE + n; conn++) {
		send(engine, conn, message_of("{\"request\":\"join\",\"tenant\":\"acme\",\"room\":\"allhands\"}"),
			NULL, NULL, 0, now, outs);
		g_ptr_array_set_size(outs, 0);
	}
	while (ah_engine_next_deadline(engine, now) <= now) {
		ah_engine_tick(engine, now, outs);
		g_ptr_array_set_size(outs, 0);
	}
	answer_all(engine, n, now, outs);
	for (guint64 conn = FIRST_ATTENDEE; conn < FIRST_ATTENDEE + n; conn++)
		ah_engine_media_up(engine, conn, now, outs);
	g_ptr_array_set_size(outs, 0);
	setup = now_s() - setup;
	for (int run = 0; run < RUNS; run++) {
		guint64 conn = PRESENTER + 1 + run;
		expect(send(engine, conn, message_of("{\"request\":\"join\",\"tenant\":\"acme\",\"room\":\"allhands\","
			"\"ptype\":\"presenter\",\"presenter_secret\":\"s3cret-presenter\",\"display\":\"CFO\"}"), NULL, NULL, 0, now,
			outs), "joined", "second presenter");
		g_ptr_array_set_size(outs, 0);
		time_change(engine, n, conn, message_of("{\"request\":\"publish\"}"), av, 2, "published", &pub, run, now,
			outs);
		time_change(engine, n, conn, message_of("{\"request\":\"leave\"}"), NULL, 0, "left", &leave, run, now, outs);
	}
	/* An attendee leaving: its own work, then the one fan-out the glue rebuilds (O(N) there). */
	for (int run = 0; run < RUNS; run++) {
		double t0 = now_s(), t1;
		expect(send(engine, FIRST_ATTENDEE + n - 1 - run, message_of("{\"request\":\"leave\"}"), NULL, NULL, 0, now,
			outs), "left", "attendee leave");
		t1 = now_s();
		rebuild_fanouts(engine, outs);
		g_ptr_array_set_size(outs, 0);
		one.change[run] = t1 - t0;
		one.routes[run] = now_s() - t1;
	}
	printf("%6u attendees (set-up %.1f s)\n", n, setup);
	print_change("publish:", &pub, n);
	print_change("leave:  ", &leave, n);
	print_change(NULL, &one, 0);
	g_ptr_array_unref(outs);
	ah_engine_free(engine);
}

/* --- 2. messages with 100,000 rooms */

/* Room i (tenant i / ROOMS_PER_TENANT): even rooms are live for hours, odd ones open later, one
 * every second from a minute after the start (so a few change during the run). */
static void write_state(const char *path)
{
	ah_persist_state *state = ah_persist_state_new();
	json_t *json;
	for (guint i = 0; i < N_ROOMS; i++) {
		char *tenant = g_strdup_printf("t%04u", i / ROOMS_PER_TENANT), *room = g_strdup_printf("r%03u", i % ROOMS_PER_TENANT);
		gint64 start = i % 2 == 0 ? T0 - 600 : T0 + 60 + i / 2;
		ah_persist_room *row;
		if (i % ROOMS_PER_TENANT == 0)
			ah_persist_add_tenant(state, tenant, NULL, 1000, "acme-tenant-secret")->signing_key = g_strdup(BENCH_SIGNING_KEY);
		row = ah_persist_add_room(state, tenant, room, NULL, 100, NULL, "s3cret");
		row->schedule = json_pack("{s:I, s:I}", "start", (json_int_t)start, "end", (json_int_t)(start + 6 * 3600));
		row->lobby_minutes = 0;
		g_free(tenant);
		g_free(room);
	}
	json = ah_persist_to_json(state);
	if (json_dump_file(json, path, JSON_COMPACT) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
	json_decref(json);
	ah_persist_state_free(state);
}

/* One message of the mix (i): join a live room, status of a tenant, or leave. */
static void mix_message(ah_engine *engine, guint i, GRand *rand, GArray *joined, gint64 now, GPtrArray *outs)
{
	guint room = (guint)g_rand_int_range(rand, 0, N_ROOMS / 2) * 2;
	guint64 conn;
	switch (i % 4) {
	case 0:
	case 1:
		conn = FIRST_ATTENDEE + i;
		send(engine, conn, message_of("{\"request\":\"join\",\"tenant\":\"t%04u\",\"room\":\"r%03u\"}",
			room / ROOMS_PER_TENANT, room % ROOMS_PER_TENANT), NULL, NULL, 0, now, outs);
		g_array_append_val(joined, conn);
		break;
	case 2:
		json_decref(ah_engine_admin_message(engine, message_of("{\"request\":\"status\",\"tenant\":\"t%04u\"}",
			room / ROOMS_PER_TENANT), now, outs));
		break;
	default:
		if (joined->len == 0)
			break;
		conn = g_array_index(joined, guint64, 0);
		g_array_remove_index_fast(joined, 0);
		send(engine, conn, message_of("{\"request\":\"leave\"}"), NULL, NULL, 0, now, outs);
		break;
	}
}

static void bench_rooms(void)
{
	double load[RUNS], first_sync[RUNS], rate[RUNS], first[RUNS], worst[RUNS], deadline[RUNS];
	char *dir = g_dir_make_tmp("ah-bench-XXXXXX", NULL), *path = g_build_filename(dir, "state.json", NULL);
	char *a, *b, *c, *d, *e, *f;
	guint done = 0;
	write_state(path);
	for (int run = 0; run < RUNS; run++) {
		GPtrArray *outs = g_ptr_array_new_with_free_func(ah_out_free);
		GArray *joined = g_array_new(FALSE, FALSE, sizeof(guint64));
		GRand *rand = g_rand_new_with_seed(42);
		gint64 now = MONO0;
		double t0 = now_s(), t1, start, elapsed;
		ah_engine *engine = engine_new(path, 1000000);
		ah_engine_set_clock_offset(engine, T0 * SEC - MONO0);
		load[run] = now_s() - t0;
		t1 = now_s();
		ah_engine_tick(engine, now, outs);
		first_sync[run] = now_s() - t1;
		g_ptr_array_set_size(outs, 0);
		t0 = now_s();
		ah_engine_next_deadline(engine, now);
		deadline[run] = now_s() - t0;
		worst[run] = 0;
		start = now_s();
		for (done = 0; done < MIX_MESSAGES && now_s() - start < MIX_BUDGET_S; done++) {
			double m0 = now_s(), took;
			/* 2 ms of simulated time per message: rooms open during the run. */
			now += 2000;
			mix_message(engine, done, rand, joined, now, outs);
			/* The control thread's turn: deadline, then again before ticking (control.c). */
			if (ah_engine_next_deadline(engine, now) <= now && ah_engine_next_deadline(engine, now) <= now)
				ah_engine_tick(engine, now, outs);
			g_ptr_array_set_size(outs, 0);
			took = now_s() - m0;
			/* The first message after the load pays for glibc consolidating the load's freed memory. */
			if (done == 0)
				first[run] = took;
			else
				worst[run] = MAX(worst[run], took);
		}
		elapsed = now_s() - start;
		rate[run] = done / elapsed;
		g_array_unref(joined);
		g_rand_free(rand);
		g_ptr_array_unref(outs);
		ah_engine_free(engine);
	}
	a = summary(load, 1e3, "%.0f");
	b = summary(first_sync, 1e3, "%.0f");
	c = summary(deadline, 1e6, "%.1f");
	d = summary(rate, 1, "%.0f");
	e = summary(worst, 1e3, "%.2f");
	f = summary(first, 1e3, "%.2f");
	printf("%u scheduled rooms (%u tenants): load %s ms, first sync %s ms, one deadline query %s us\n",
		N_ROOMS, N_TENANTS, a, b, c);
	printf("  mix of joins, status and leaves (last run: %u messages): %s messages/s\n", done, d);
	printf("  worst message %s ms (the first one: %s ms)\n", e, f);
	g_free(a);
	g_free(b);
	g_free(c);
	g_free(d);
	g_free(e);
	g_free(f);
	g_unlink(path);
	g_rmdir(dir);
	g_free(path);
	g_free(dir);
}

int main(int argc, char **argv)
{
	guint sizes[8] = { 1000, 10000, 20000 }, n_sizes = 3;
	if (argc > 1) {
		n_sizes = 0;
		for (int i = 1; i < argc && n_sizes < G_N_ELEMENTS(sizes); i++)
			sizes[n_sizes++] = (guint)strtoul(argv[i], NULL, 10);
	}
	printf("control plane benchmark: median [min-max] of %d runs; engine time only (no Janus)\n", RUNS);
	printf("presenter change (a second presenter publishes, then leaves):\n");
	for (guint i = 0; i < n_sizes; i++) {
		bench_presenter_change(sizes[i]);
		fflush(stdout);
	}
	bench_rooms();
	return 0;
}
