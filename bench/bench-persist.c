/* allhands: benchmark of the state file's cost on the control thread (docs/benchmarks.md,
 * "Persistence"). Builds a state of T tenants and R rooms (default 10,000 and 100,000) as a file,
 * starts an engine on it, then times K changes (edit_room, then edit_tenant) through the engine's
 * Admin API entry point: that is all the control thread does for a change. It also times the
 * writer's write of the whole file (on the writer thread in the plugin) and the start.
 * Usage: bench-persist [tenants] [rooms] [changes]; the state file goes to a temporary folder
 * under $AH_BENCH_DIR (default: the current folder), on a real disk so fsync costs what it does.
 * Built with -DAH_BENCH_OLD against the code before issue 12 (no writer) to print the "before".
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "allhands/engine.h"
#include "allhands/persist.h"
#include "engine-private.h" /* ah_engine_save: the persistence part of a change, timed alone */
#ifndef AH_BENCH_OLD
#include "allhands/persist-writer.h"

/* Every tenant row of a version 2 state file has a signing key (64 hex characters). */
#define BENCH_SIGNING_KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#endif

static double ms_since(gint64 start)
{
	return (double)(g_get_monotonic_time() - start) / 1000.0;
}

static void write_state(const char *path, guint tenants, guint rooms)
{
	ah_persist_state *state = ah_persist_state_new();
	char *why = NULL;
	for (guint t = 0; t < tenants; t++) {
		char *id = g_strdup_printf("tenant%05u", t), *secret = g_strdup_printf("secret-of-tenant-%05u", t);
		ah_persist_add_tenant(state, id, "A tenant", 100, secret)->signing_key = g_strdup(BENCH_SIGNING_KEY);
		g_free(id);
		g_free(secret);
	}
	for (guint r = 0; r < rooms; r++) {
		char *tenant = g_strdup_printf("tenant%05u", r % tenants), *id = g_strdup_printf("room%06u", r);
		ah_persist_add_room(state, tenant, id, "A room of the benchmark", 50, NULL, "presenter-secret");
		g_free(tenant);
		g_free(id);
	}
	if (!ah_persist_save(path, state, &why)) {
		fprintf(stderr, "cannot write %s: %s\n", path, why);
		exit(1);
	}
	ah_persist_state_free(state);
}

static gint compare_doubles(gconstpointer a, gconstpointer b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* K requests of one kind; prints the median and worst time of one. */
static void time_changes(ah_engine *engine, const char *what, guint k, guint tenants, guint rooms, gboolean room)
{
	GPtrArray *outs = g_ptr_array_new_with_free_func(ah_out_free);
	GArray *times = g_array_new(FALSE, FALSE, sizeof(double));
	for (guint i = 0; i < k; i++) {
		guint r = (i * 7919) % rooms;
		char *text = room ?
			g_strdup_printf("{\"request\":\"edit_room\",\"tenant\":\"tenant%05u\",\"room\":\"room%06u\",\"description\":\"change %u\"}",
				r % tenants, r, i) :
			g_strdup_printf("{\"request\":\"edit_tenant\",\"tenant\":\"tenant%05u\",\"name\":\"change %u\"}", r % tenants, i);
		json_t *message = json_loads(text, 0, NULL), *reply;
		gint64 start = g_get_monotonic_time();
		double ms;
		reply = ah_engine_admin_message(engine, message, (gint64)i * 1000, outs);
		ms = ms_since(start);
		g_array_append_val(times, ms);
		if (g_strcmp0(json_string_value(json_object_get(reply, "allhands")), "success") != 0) {
			fprintf(stderr, "%s failed: %s\n", what, json_dumps(reply, 0));
			exit(1);
		}
		json_decref(reply);
		json_decref(message);
		g_free(text);
		g_ptr_array_set_size(outs, 0);
	}
	double worst = 0, sum = 0;
	g_array_sort(times, compare_doubles);
	for (guint i = 0; i < times->len; i++) {
		worst = MAX(worst, g_array_index(times, double, i));
		sum += g_array_index(times, double, i);
	}
	printf("%-28s %6u changes: median %9.3f ms, mean %9.3f ms, worst %9.3f ms per change (control thread)\n", what, k,
		g_array_index(times, double, times->len / 2), sum / times->len, worst);
	g_array_unref(times);
	g_ptr_array_unref(outs);
}

/* The persistence part of a change alone: what ah_engine_save costs the control thread. */
static void time_saves(ah_engine *engine, guint k, guint tenants, guint rooms)
{
	GArray *times = g_array_new(FALSE, FALSE, sizeof(double));
	double sum = 0;
	for (guint i = 0; i < k; i++) {
		guint r = (i * 7919) % rooms;
		char *tenant = g_strdup_printf("tenant%05u", r % tenants), *room = g_strdup_printf("room%06u", r);
		gint64 start = g_get_monotonic_time();
		double ms;
#ifdef AH_BENCH_OLD
		char *why = NULL;
		ah_engine_save(engine, &why);
		g_free(why);
#else
		ah_engine_save(engine, tenant, room);
#endif
		ms = ms_since(start);
		sum += ms;
		g_array_append_val(times, ms);
		g_free(tenant);
		g_free(room);
	}
	g_array_sort(times, compare_doubles);
	printf("%-28s %6u changes: median %9.3f ms, mean %9.3f ms, worst %9.3f ms per change (control thread)\n",
		"ah_engine_save alone", k, g_array_index(times, double, k / 2), sum / k, g_array_index(times, double, k - 1));
	g_array_unref(times);
}

int main(int argc, char **argv)
{
	guint tenants = argc > 1 ? (guint)atoi(argv[1]) : 10000, rooms = argc > 2 ? (guint)atoi(argv[2]) : 100000;
	guint k = argc > 3 ? (guint)atoi(argv[3]) : 50;
	const char *base = g_getenv("AH_BENCH_DIR") != NULL ? g_getenv("AH_BENCH_DIR") : ".";
	char *tmpl = g_build_filename(base, "ah-bench-persist-XXXXXX", NULL);
	char *dir = g_mkdtemp(tmpl), *path, *why = NULL;
	ah_engine_config config = { 0 };
	ah_error err;
	ah_engine *engine;
	gint64 start;
	GStatBuf st;
	if (dir == NULL || tenants == 0 || rooms == 0 || k == 0) {
		fprintf(stderr, "usage: bench-persist [tenants] [rooms] [changes]\n");
		return 1;
	}
	path = g_build_filename(dir, "state.json", NULL);
	start = g_get_monotonic_time();
	write_state(path, tenants, rooms);
	g_stat(path, &st);
	printf("state: %u tenants, %u rooms, %.1f MB file (written in %.0f ms)\n", tenants, rooms,
		(double)st.st_size / 1e6, ms_since(start));
	ah_admission_config_defaults(&config.admission);
	config.state_path = path;
	start = g_get_monotonic_time();
	engine = ah_engine_new(&config, &err, &why);
	if (engine == NULL) {
		fprintf(stderr, "engine: %s\n", why);
		return 1;
	}
	printf("%-28s %9.1f ms\n", "start (load + check)", ms_since(start));
	time_changes(engine, "edit_room", k, tenants, rooms, TRUE);
	time_changes(engine, "edit_tenant", k, tenants, rooms, FALSE);
	time_saves(engine, k, tenants, rooms);
#ifndef AH_BENCH_OLD
	{
		ah_persist_writer *writer = ah_engine_persist_writer(engine);
		ah_persist_figures fig;
		start = g_get_monotonic_time();
		ah_persist_writer_flush(writer, &why);
		ah_persist_writer_figures(writer, &fig);
		printf("%-28s %9.1f ms for %" G_GUINT64_FORMAT " changes in %" G_GUINT64_FORMAT " write(s), %.1f MB "
			"(writer thread, not the control thread)\n", "writer: one coalesced write", ms_since(start),
			fig.changes_written, fig.writes, (double)fig.last_bytes / 1e6);
		g_free(fig.last_error);
	}
#endif
	ah_engine_free(engine);
	g_unlink(path);
	g_rmdir(dir);
	g_free(path);
	g_free(dir);
	return 0;
}
