/* allhands: benchmark of cluster mode's shared definitions on the control thread (docs/benchmarks.md,
 * "Shared definitions"). One engine ("node a") gets T tenants and R rooms through its Admin API entry
 * point; a second, empty engine ("node b") then applies every definition of a's (its row, as Redis
 * would hand it back): that is what a node does at a (re)connection for a fleet of that size, and per
 * announcement. Then b applies them all again (unchanged: a node's own announcements and reloads),
 * then K rooms edited on a are applied on b, and the writer's side (take the changed list, build each
 * row's text) is timed on a. Prints totals and per-definition percentiles; no file, no Redis (the
 * engine's work alone). Usage: bench-defs [tenants] [rooms] [edits].
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/engine.h"

#define NOW (G_GINT64_CONSTANT(1000) * G_USEC_PER_SEC)

static ah_engine *engine_new(void)
{
	ah_engine_config config = { 0 };
	ah_error err = AH_ERR_OK;
	char *message = NULL;
	ah_admission_config_defaults(&config.admission);
	config.admission.capacity = 100000;
	ah_engine *e = ah_engine_new(&config, &err, &message);
	if (e == NULL) {
		fprintf(stderr, "engine: %s\n", message);
		exit(1);
	}
	return e;
}

static void admin(ah_engine *e, GPtrArray *outs, json_t *message)
{
	json_t *reply = ah_engine_admin_message(e, message, NOW, outs);
	if (g_strcmp0(json_string_value(json_object_get(reply, "allhands")), "success") != 0) {
		char *text = json_dumps(reply, 0);
		fprintf(stderr, "request failed: %s\n", text);
		exit(1);
	}
	json_decref(reply);
	json_decref(message);
	g_ptr_array_set_size(outs, 0);
}

static gint compare_doubles(gconstpointer a, gconstpointer b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* "total ms, p50 / p99 / max us per definition" of the samples (us). */
static void report(const char *what, GArray *us)
{
	double total = 0;
	g_array_sort(us, compare_doubles);
	for (guint i = 0; i < us->len; i++)
		total += g_array_index(us, double, i);
	printf("%-52s %8u defs %10.1f ms total  p50 %6.1f us  p99 %7.1f us  max %8.1f us\n", what, us->len, total / 1000,
		g_array_index(us, double, us->len / 2), g_array_index(us, double, (us->len * 99) / 100),
		g_array_index(us, double, us->len - 1));
	g_array_set_size(us, 0);
}

/* Apply every definition of `from` (tenants first) on `to`, timing each; returns how many changed. */
static guint copy_all(ah_engine *from, ah_engine *to, GPtrArray *outs, GArray *us)
{
	char **tenants = ah_engine_definition_ids(from, NULL);
	guint changed_n = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (guint i = 0; tenants[i] != NULL; i++) {
			char **rooms = pass == 0 ? NULL : ah_engine_definition_ids(from, tenants[i]);
			for (guint k = 0; pass == 0 ? k < 1 : rooms[k] != NULL; k++) {
				const char *room = pass == 0 ? NULL : rooms[k];
				json_t *row = ah_engine_definition(from, tenants[i], room);
				gboolean changed = FALSE;
				char *message = NULL;
				gint64 t0 = g_get_monotonic_time();
				if (ah_engine_apply_definition(to, tenants[i], room, row, NOW, outs, &changed, &message) != AH_ERR_OK) {
					fprintf(stderr, "apply %s/%s: %s\n", tenants[i], room ? room : "", message);
					exit(1);
				}
				double d = (double)(g_get_monotonic_time() - t0);
				g_array_append_val(us, d);
				changed_n += changed;
				json_decref(row);
				g_ptr_array_set_size(outs, 0);
			}
			g_strfreev(rooms);
		}
	}
	g_strfreev(tenants);
	return changed_n;
}

int main(int argc, char **argv)
{
	guint tenants = argc > 1 ? (guint)atoi(argv[1]) : 1000, rooms = argc > 2 ? (guint)atoi(argv[2]) : 10000;
	guint edits = argc > 3 ? (guint)atoi(argv[3]) : 1000;
	GPtrArray *outs = g_ptr_array_new_with_free_func(ah_out_free);
	GArray *us = g_array_new(FALSE, FALSE, sizeof(double));
	ah_engine *a = engine_new(), *b = engine_new();
	if (tenants == 0 || rooms == 0 || edits == 0 || edits > rooms) {
		fprintf(stderr, "usage: bench-defs [tenants] [rooms] [edits <= rooms]\n");
		return 2;
	}
	ah_engine_defs_track(a, TRUE);
	ah_engine_defs_track(b, TRUE);
	for (guint t = 0; t < tenants; t++) {
		char *id = g_strdup_printf("tenant%05u", t), *secret = g_strdup_printf("secret-of-tenant-%05u", t);
		admin(a, outs, json_pack("{s:s, s:s, s:i, s:s, s:i}", "request", "create_tenant", "tenant", id,
			"max_participants", 100, "secret", secret, "weight", 2));
		g_free(id);
		g_free(secret);
	}
	for (guint r = 0; r < rooms; r++) {
		char *tenant = g_strdup_printf("tenant%05u", r % tenants), *id = g_strdup_printf("room%06u", r);
		json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "request", "create_room", "tenant", tenant, "room", id,
			"description", "A room of the benchmark", "max_attendees", 50, "presenter_secret", "presenter-secret");
		/* One room in ten is scheduled (a weekly window): the longest rows and the schedule's parsing. */
		if (r % 10 == 0)
			json_object_set_new(m, "schedule", json_pack("{s:s, s:s, s:i, s:s}", "dtstart", "2026-01-05T09:00:00",
				"tzid", "Europe/Paris", "duration_s", 3600, "rrule", "FREQ=WEEKLY;BYDAY=MO"));
		admin(a, outs, m);
		g_free(tenant);
		g_free(id);
	}
	GPtrArray *changed = ah_engine_defs_take(a);
	printf("# %u tenants, %u rooms (one in ten scheduled) made on node a; %u changes listed\n", tenants, rooms,
		changed != NULL ? changed->len : 0);
	g_ptr_array_unref(changed);

	guint n = copy_all(a, b, outs, us);
	printf("# node b applied them: %u changed\n", n);
	report("apply on b, new (a load at a (re)connection)", us);
	n = copy_all(a, b, outs, us);
	printf("# again: %u changed\n", n);
	report("apply on b, unchanged (own announcement, reload)", us);

	/* K edits on a: the writer's side (take + row text), then each applied on b. */
	for (guint i = 0; i < edits; i++) {
		char *tenant = g_strdup_printf("tenant%05u", i % tenants), *id = g_strdup_printf("room%06u", i);
		admin(a, outs, json_pack("{s:s, s:s, s:s, s:i}", "request", "edit_room", "tenant", tenant, "room", id,
			"max_attendees", 60));
		g_free(tenant);
		g_free(id);
	}
	gint64 t0 = g_get_monotonic_time();
	changed = ah_engine_defs_take(a);
	GPtrArray *texts = g_ptr_array_new_with_free_func(free);
	for (guint i = 0; i < changed->len; i++) {
		const ah_def_ref *ref = g_ptr_array_index(changed, i);
		json_t *row = ah_engine_definition(a, ref->tenant, ref->room);
		g_ptr_array_add(texts, json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS));
		json_decref(row);
	}
	double write_side = (double)(g_get_monotonic_time() - t0);
	printf("%-52s %8u defs %10.1f ms total  %.1f us each\n", "writer's side on a (take the list, row text)", changed->len,
		write_side / 1000, write_side / changed->len);
	for (guint i = 0; i < changed->len; i++) {
		const ah_def_ref *ref = g_ptr_array_index(changed, i);
		json_error_t error;
		json_t *row = json_loads(g_ptr_array_index(texts, i), 0, &error);
		gboolean did = FALSE;
		char *message = NULL;
		gint64 t1 = g_get_monotonic_time();
		if (ah_engine_apply_definition(b, ref->tenant, ref->room, row, NOW, outs, &did, &message) != AH_ERR_OK || !did) {
			fprintf(stderr, "edit not applied: %s\n", message ? message : "unchanged");
			return 1;
		}
		double d = (double)(g_get_monotonic_time() - t1);
		g_array_append_val(us, d);
		json_decref(row);
		g_ptr_array_set_size(outs, 0);
	}
	report("apply on b, one room edited (per announcement)", us);
	g_ptr_array_unref(texts);
	g_ptr_array_unref(changed);
	if (ah_engine_defs_take(b) != NULL) {
		fprintf(stderr, "node b listed definitions it applied from outside\n");
		return 1;
	}
	ah_engine_free(a);
	ah_engine_free(b);
	g_ptr_array_unref(outs);
	g_array_unref(us);
	return 0;
}
