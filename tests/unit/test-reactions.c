/* allhands: unit tests of reactions aggregated per room (include/allhands/reactions.h,
 * plugin/core/reactions.c): names, configuration bounds, bad input, the per-participant rate limit
 * and its window, the emission interval (a burst of 10,000 reactions within one interval is one
 * emission with the right totals), running totals, the bounded participant table and its removal,
 * and the message's text.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "allhands/reactions.h"

#define MS G_GINT64_CONSTANT(1000)
#define S G_GINT64_CONSTANT(1000000)

static ah_reactions *make(guint max, guint per_window)
{
	ah_reactions_config cfg;
	ah_reactions_config_init(&cfg, max);
	cfg.per_window = per_window;
	ah_reactions_error err = AH_REACTIONS_ERR_KIND;
	ah_reactions *r = ah_reactions_new(&cfg, &err);
	g_assert_nonnull(r);
	g_assert_cmpint(err, ==, AH_REACTIONS_OK);
	return r;
}

static void test_names(void)
{
	for (int i = 0; i < AH_REACTION_KINDS; i++) {
		const char *n = ah_reaction_name(i);
		g_assert_nonnull(n);
		g_assert_cmpint(ah_reaction_parse(n), ==, i);
	}
	g_assert_cmpstr(ah_reaction_name(AH_REACTION_CLAP), ==, "clap");
	g_assert_null(ah_reaction_name(-1));
	g_assert_null(ah_reaction_name(AH_REACTION_KINDS));
	g_assert_cmpint(ah_reaction_parse(NULL), ==, -1);
	g_assert_cmpint(ah_reaction_parse("Like"), ==, -1);
	g_assert_cmpint(ah_reaction_parse(""), ==, -1);
	g_assert_cmpstr(ah_reactions_error_name(AH_REACTIONS_ERR_RATE), ==, "rate_limited");
	g_assert_cmpstr(ah_reactions_error_name((ah_reactions_error)99), ==, "unknown");
	g_assert_cmpstr(ah_reactions_error_message((ah_reactions_error)-1), ==, "unknown error");
	g_assert_cmpstr(ah_reactions_error_message(AH_REACTIONS_ERR_FULL), !=, "unknown error");
}

static void test_config(void)
{
	ah_reactions_error err = AH_REACTIONS_OK;
	g_assert_null(ah_reactions_new(NULL, &err));
	g_assert_cmpint(err, ==, AH_REACTIONS_ERR_CONFIG);
	ah_reactions_config ok;
	ah_reactions_config_init(&ok, 100);
	ah_reactions_config bad[7];
	for (int i = 0; i < 7; i++)
		bad[i] = ok;
	bad[0].interval_us = AH_REACTIONS_MIN_INTERVAL_US - 1;
	bad[1].interval_us = AH_REACTIONS_MAX_INTERVAL_US + 1;
	bad[2].per_window = 0;
	bad[3].per_window = AH_REACTIONS_MAX_PER_WINDOW + 1;
	bad[4].window_us = 0;
	bad[5].max_participants = 0;
	bad[6].max_participants = AH_REACTIONS_MAX_PARTICIPANTS + 1;
	for (int i = 0; i < 7; i++) {
		err = AH_REACTIONS_OK;
		g_assert_null(ah_reactions_new(&bad[i], &err));
		g_assert_cmpint(err, ==, AH_REACTIONS_ERR_CONFIG);
	}
	g_assert_null(ah_reactions_new(&bad[0], NULL));
	ah_reactions *r = ah_reactions_new(&ok, NULL);
	g_assert_nonnull(r);
	ah_reactions_free(r);
	ah_reactions_free(NULL);
}

static void test_bad_input(void)
{
	ah_reactions *r = make(10, 5);
	g_assert_cmpint(ah_reactions_add(r, 1, -1, 0), ==, AH_REACTIONS_ERR_KIND);
	g_assert_cmpint(ah_reactions_add(r, 1, AH_REACTION_KINDS, 0), ==, AH_REACTIONS_ERR_KIND);
	g_assert_cmpint(ah_reactions_add(r, 0, AH_REACTION_LIKE, 0), ==, AH_REACTIONS_ERR_PARTICIPANT);
	/* Bad input is not a reaction: nothing pending, nothing counted, no slot taken. */
	g_assert_cmpint(ah_reactions_due_at(r), ==, -1);
	g_assert_false(ah_reactions_due(r, 10 * S));
	ah_reactions_stats st;
	ah_reactions_get_stats(r, &st);
	g_assert_cmpuint(st.invalid, ==, 3);
	g_assert_cmpuint(st.counted, ==, 0);
	g_assert_cmpuint(st.participants, ==, 0);
	ah_reactions_forget(r, 0);
	ah_reactions_forget(r, 42);
	ah_reactions_free(r);
}

static void test_rate_limit(void)
{
	ah_reactions *r = make(10, 3);
	gint64 t = 5 * S;
	for (int i = 0; i < 3; i++)
		g_assert_cmpint(ah_reactions_add(r, 7, AH_REACTION_CLAP, t + i * MS), ==, AH_REACTIONS_OK);
	g_assert_cmpint(ah_reactions_add(r, 7, AH_REACTION_CLAP, t + 10 * MS), ==, AH_REACTIONS_ERR_RATE);
	g_assert_cmpint(ah_reactions_add(r, 7, AH_REACTION_LOVE, t + S - 1), ==, AH_REACTIONS_ERR_RATE);
	/* Another participant has its own window. */
	g_assert_cmpint(ah_reactions_add(r, 8, AH_REACTION_CLAP, t + 20 * MS), ==, AH_REACTIONS_OK);
	/* The window (1 s from the first reaction) ends: counted again. */
	g_assert_cmpint(ah_reactions_add(r, 7, AH_REACTION_LOVE, t + S), ==, AH_REACTIONS_OK);
	ah_reactions_stats st;
	ah_reactions_get_stats(r, &st);
	g_assert_cmpuint(st.counted, ==, 5);
	g_assert_cmpuint(st.dropped_rate, ==, 2);
	g_assert_cmpuint(st.participants, ==, 2);
	ah_reactions_totals out;
	g_assert_true(ah_reactions_take(r, t + 2 * S, &out));
	g_assert_cmpuint(out.counts[AH_REACTION_CLAP], ==, 4);
	g_assert_cmpuint(out.counts[AH_REACTION_LOVE], ==, 1);
	g_assert_cmpuint(out.dropped, ==, 2);
	/* A clock stepping back starts a new window rather than locking the participant out. */
	for (int i = 0; i < 3; i++)
		g_assert_cmpint(ah_reactions_add(r, 7, AH_REACTION_LIKE, t + 5 * S), ==, AH_REACTIONS_OK);
	g_assert_cmpint(ah_reactions_add(r, 7, AH_REACTION_LIKE, t + 5 * S), ==, AH_REACTIONS_ERR_RATE);
	g_assert_cmpint(ah_reactions_add(r, 7, AH_REACTION_LIKE, t), ==, AH_REACTIONS_OK);
	/* Times at the ends of gint64 neither wrap nor crash: the due time saturates. */
	g_assert_true(ah_reactions_take(r, t + 10 * S, &out));
	g_assert_cmpint(ah_reactions_add(r, 9, AH_REACTION_LIKE, G_MININT64), ==, AH_REACTIONS_OK);
	g_assert_cmpint(ah_reactions_add(r, 9, AH_REACTION_LIKE, G_MAXINT64 - 1), ==, AH_REACTIONS_OK);
	g_assert_true(ah_reactions_take(r, G_MAXINT64, &out));
	g_assert_cmpint(ah_reactions_add(r, 9, AH_REACTION_LIKE, G_MAXINT64 - 1), ==, AH_REACTIONS_OK);
	g_assert_cmpint(ah_reactions_due_at(r), ==, G_MAXINT64);
	g_assert_false(ah_reactions_due(r, G_MAXINT64 - 1));
	ah_reactions_free(r);
}

static void test_interval(void)
{
	ah_reactions *r = make(10, 1000);
	ah_reactions_totals out;
	memset(&out, 0xab, sizeof(out));
	ah_reactions_totals untouched = out;
	g_assert_false(ah_reactions_take(r, 0, &out));
	g_assert_cmpint(memcmp(&out, &untouched, sizeof(out)), ==, 0);
	gint64 t = 100 * S;
	g_assert_cmpint(ah_reactions_add(r, 1, AH_REACTION_WOW, t), ==, AH_REACTIONS_OK);
	g_assert_cmpint(ah_reactions_due_at(r), ==, t + AH_REACTIONS_DEFAULT_INTERVAL_US);
	g_assert_false(ah_reactions_due(r, t + AH_REACTIONS_DEFAULT_INTERVAL_US - 1));
	g_assert_false(ah_reactions_take(r, t + AH_REACTIONS_DEFAULT_INTERVAL_US - 1, &out));
	/* A later reaction rides in the same emission: the due time does not move. */
	g_assert_cmpint(ah_reactions_add(r, 2, AH_REACTION_WOW, t + 200 * MS), ==, AH_REACTIONS_OK);
	g_assert_cmpint(ah_reactions_due_at(r), ==, t + AH_REACTIONS_DEFAULT_INTERVAL_US);
	g_assert_true(ah_reactions_due(r, t + AH_REACTIONS_DEFAULT_INTERVAL_US));
	g_assert_true(ah_reactions_take(r, t + AH_REACTIONS_DEFAULT_INTERVAL_US, &out));
	g_assert_cmpuint(out.seq, ==, 1);
	g_assert_cmpint(out.at_us, ==, t + AH_REACTIONS_DEFAULT_INTERVAL_US);
	g_assert_cmpuint(out.counts[AH_REACTION_WOW], ==, 2);
	g_assert_cmpuint(out.totals[AH_REACTION_WOW], ==, 2);
	g_assert_cmpuint(out.counts[AH_REACTION_LIKE], ==, 0);
	/* Taken: nothing pending, a second take emits nothing. */
	g_assert_cmpint(ah_reactions_due_at(r), ==, -1);
	g_assert_false(ah_reactions_take(r, t + 10 * S, &out));
	/* The next reaction, long after: due one interval after it; totals keep running. */
	g_assert_cmpint(ah_reactions_add(r, 1, AH_REACTION_LIKE, t + 20 * S), ==, AH_REACTIONS_OK);
	g_assert_true(ah_reactions_take(r, t + 21 * S, &out));
	g_assert_cmpuint(out.seq, ==, 2);
	g_assert_cmpuint(out.counts[AH_REACTION_WOW], ==, 0);
	g_assert_cmpuint(out.counts[AH_REACTION_LIKE], ==, 1);
	g_assert_cmpuint(out.totals[AH_REACTION_WOW], ==, 2);
	g_assert_cmpuint(out.totals[AH_REACTION_LIKE], ==, 1);
	/* Drops alone make an emission too (so the dropped figure reaches the glue). */
	ah_reactions *q = make(1, 1);
	g_assert_cmpint(ah_reactions_add(q, 1, AH_REACTION_LIKE, 0), ==, AH_REACTIONS_OK);
	g_assert_true(ah_reactions_take(q, S, &out));
	g_assert_cmpint(ah_reactions_add(q, 1, AH_REACTION_LIKE, S), ==, AH_REACTIONS_OK);
	g_assert_true(ah_reactions_take(q, 2 * S - 1, &out));
	g_assert_cmpint(ah_reactions_add(q, 1, AH_REACTION_LIKE, 2 * S - 1), ==, AH_REACTIONS_ERR_RATE);
	g_assert_cmpint(ah_reactions_due_at(q), ==, 2 * S - 1 + AH_REACTIONS_DEFAULT_INTERVAL_US);
	g_assert_true(ah_reactions_take(q, 3 * S, &out));
	g_assert_cmpuint(out.dropped, ==, 1);
	g_assert_cmpuint(out.counts[AH_REACTION_LIKE], ==, 0);
	ah_reactions_free(q);
	ah_reactions_free(r);
}

/* 10,000 attendees react within one interval (each up to its limit, some over it): one emission,
 * with the right counts, and the rest is dropped and counted. */
static void test_burst(void)
{
	const guint n = 10000;
	ah_reactions *r = make(n, 5);
	gint64 t = 7 * S;
	guint64 want[AH_REACTION_KINDS] = { 0 };
	guint64 dropped = 0;
	guint emissions = 0;
	ah_reactions_totals out;
	for (guint i = 0; i < n; i++) {
		guint64 id = 1000 + (guint64)i * 7919;  /* spread ids */
		guint tries = 1 + i % 7;               /* 1..7: over the limit of 5 for some */
		for (guint k = 0; k < tries; k++) {
			int kind = (int)((i + k) % AH_REACTION_KINDS);
			gint64 at = t + (gint64)(i * (AH_REACTIONS_DEFAULT_INTERVAL_US - 1) / n);
			ah_reactions_error e = ah_reactions_add(r, id, kind, at);
			if (k < 5) {
				g_assert_cmpint(e, ==, AH_REACTIONS_OK);
				want[kind]++;
			} else {
				g_assert_cmpint(e, ==, AH_REACTIONS_ERR_RATE);
				dropped++;
			}
			if (ah_reactions_take(r, at, &out))
				emissions++;
		}
	}
	g_assert_cmpuint(emissions, ==, 0);
	g_assert_true(ah_reactions_take(r, t + AH_REACTIONS_DEFAULT_INTERVAL_US, &out));
	guint64 sum = 0;
	for (int k = 0; k < AH_REACTION_KINDS; k++) {
		g_assert_cmpuint(out.counts[k], ==, want[k]);
		g_assert_cmpuint(out.totals[k], ==, want[k]);
		sum += out.counts[k];
	}
	g_assert_cmpuint(dropped, >, 0);
	g_assert_cmpuint(out.dropped, ==, dropped);
	ah_reactions_stats st;
	ah_reactions_get_stats(r, &st);
	g_assert_cmpuint(st.counted, ==, sum);
	g_assert_cmpuint(st.emissions, ==, 1);
	g_assert_cmpuint(st.participants, ==, n);
	/* The table was sized at creation: at least twice the participants, no more than 4x + 16. */
	g_assert_cmpuint(st.memory, >=, 2 * n * 16);
	g_assert_cmpuint(st.memory, <=, 4 * n * 24 + 16 * 24 + 4096);
	ah_reactions_free(r);
}

/* The table holds max_participants; more are dropped as ERR_FULL until some are forgotten. Forgotten
 * participants come back with a fresh window; removal keeps every other entry findable (many
 * inserts and removals with colliding probes). */
static void test_table(void)
{
	ah_reactions *r = make(3, 1);
	g_assert_cmpint(ah_reactions_add(r, 1, AH_REACTION_LIKE, 0), ==, AH_REACTIONS_OK);
	g_assert_cmpint(ah_reactions_add(r, 2, AH_REACTION_LIKE, 0), ==, AH_REACTIONS_OK);
	g_assert_cmpint(ah_reactions_add(r, 3, AH_REACTION_LIKE, 0), ==, AH_REACTIONS_OK);
	g_assert_cmpint(ah_reactions_add(r, 4, AH_REACTION_LIKE, 0), ==, AH_REACTIONS_ERR_FULL);
	ah_reactions_forget(r, 2);
	ah_reactions_forget(r, 2);
	g_assert_cmpint(ah_reactions_add(r, 4, AH_REACTION_LIKE, 0), ==, AH_REACTIONS_OK);
	/* 1 and 3 are still rate-limited (still found); 2 comes back with a fresh window. */
	g_assert_cmpint(ah_reactions_add(r, 1, AH_REACTION_LIKE, 1), ==, AH_REACTIONS_ERR_RATE);
	g_assert_cmpint(ah_reactions_add(r, 3, AH_REACTION_LIKE, 1), ==, AH_REACTIONS_ERR_RATE);
	ah_reactions_forget(r, 4);
	g_assert_cmpint(ah_reactions_add(r, 2, AH_REACTION_LIKE, 1), ==, AH_REACTIONS_OK);
	ah_reactions_stats st;
	ah_reactions_get_stats(r, &st);
	g_assert_cmpuint(st.dropped_full, ==, 1);
	g_assert_cmpuint(st.dropped_rate, ==, 2);
	ah_reactions_free(r);

	/* Random churn against a model: whoever is in the model is rate-limited (found), whoever is
	 * not gets a fresh window (not found). */
	const guint max = 500;
	r = make(max, 1);
	GHashTable *model = g_hash_table_new(g_int64_hash, g_int64_equal);
	static guint64 ids[2000];
	GRand *rand = g_rand_new_with_seed(15);
	for (int step = 0; step < 20000; step++) {
		guint64 id = 1 + g_rand_int_range(rand, 0, 2000);
		ids[id - 1] = id;
		gboolean in = g_hash_table_contains(model, &ids[id - 1]);
		if (g_rand_boolean(rand)) {
			ah_reactions_forget(r, id);
			g_hash_table_remove(model, &ids[id - 1]);
			continue;
		}
		ah_reactions_error e = ah_reactions_add(r, id, AH_REACTION_CLAP, 0);
		if (in)
			g_assert_cmpint(e, ==, AH_REACTIONS_ERR_RATE);
		else if (g_hash_table_size(model) >= max)
			g_assert_cmpint(e, ==, AH_REACTIONS_ERR_FULL);
		else {
			g_assert_cmpint(e, ==, AH_REACTIONS_OK);
			g_hash_table_add(model, &ids[id - 1]);
		}
		ah_reactions_get_stats(r, &st);
		g_assert_cmpuint(st.participants, ==, g_hash_table_size(model));
	}
	g_rand_free(rand);
	g_hash_table_destroy(model);
	ah_reactions_free(r);
}

static void test_format(void)
{
	ah_reactions_totals t = { .seq = 3 };
	t.counts[AH_REACTION_LIKE] = 12;
	t.counts[AH_REACTION_WOW] = 1;
	t.totals[AH_REACTION_LIKE] = 40;
	t.totals[AH_REACTION_CLAP] = 9;
	t.totals[AH_REACTION_WOW] = 1;
	t.dropped = 5;
	GString *s = g_string_new("x");
	gsize n = ah_reactions_format(&t, s);
	g_assert_cmpstr(s->str, ==, "x{\"seq\":3,\"reactions\":{\"like\":12,\"love\":0,\"laugh\":0,\"clap\":0,"
		"\"wow\":1},\"totals\":{\"like\":40,\"love\":0,\"laugh\":0,\"clap\":9,\"wow\":1}}");
	g_assert_cmpuint(n, ==, s->len - 1);
	g_string_free(s, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/reactions/names", test_names);
	g_test_add_func("/reactions/config/bounds", test_config);
	g_test_add_func("/reactions/add/bad-input", test_bad_input);
	g_test_add_func("/reactions/add/rate-limit", test_rate_limit);
	g_test_add_func("/reactions/emit/interval", test_interval);
	g_test_add_func("/reactions/emit/burst-10000-one-emission", test_burst);
	g_test_add_func("/reactions/table/full-and-forget", test_table);
	g_test_add_func("/reactions/format", test_format);
	return g_test_run();
}
