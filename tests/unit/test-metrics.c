/* allhands: unit tests of the Prometheus metrics (plugin/core/metrics.c, engine-metrics.c): the
 * histograms, and the rendering of a real engine's figures checked by a strict parser of the text
 * exposition format 0.0.4 written here (every line parses, every family has one HELP and one TYPE
 * before its samples, no series twice, counters end in _total, histogram buckets cumulative and
 * ending in +Inf = _count), label escaping, the tenant bound, and counters that never go down
 * while the engine works, moving by what happened.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>

#include "engine-fixture.h"

#include "allhands/metrics.h"

/* --- a strict parser of the text format */

typedef struct {
	char *name;
	char *labels;       /* canonical: l1="v1",l2="v2" as written (escaped), "" when none */
	GHashTable *label;  /* name -> unescaped value */
	double value;
} parsed_sample;

typedef struct {
	GHashTable *types;  /* family -> type */
	GHashTable *helps;  /* family -> help */
	GPtrArray *samples; /* parsed_sample* */
	GHashTable *series; /* name{labels} -> parsed_sample* */
} exposition;

static void sample_free(gpointer data)
{
	parsed_sample *s = data;
	g_free(s->name);
	g_free(s->labels);
	g_hash_table_unref(s->label);
	g_free(s);
}

static void exposition_free(exposition *e)
{
	g_hash_table_unref(e->types);
	g_hash_table_unref(e->helps);
	g_hash_table_unref(e->series);
	g_ptr_array_unref(e->samples);
	g_free(e);
}

static gboolean is_name(const char *s, gsize n)
{
	if (n == 0 || !(g_ascii_isalpha(s[0]) || s[0] == '_' || s[0] == ':'))
		return FALSE;
	for (gsize i = 1; i < n; i++)
		if (!(g_ascii_isalnum(s[i]) || s[i] == '_' || s[i] == ':'))
			return FALSE;
	return TRUE;
}

/* The family a sample belongs to: histograms' _bucket, _sum and _count belong to the histogram. */
static char *family_of(const exposition *e, const char *name)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		if (!g_str_has_suffix(name, suffixes[i]))
			continue;
		char *base = g_strndup(name, strlen(name) - strlen(suffixes[i]));
		if (g_strcmp0(g_hash_table_lookup(e->types, base), "histogram") == 0)
			return base;
		g_free(base);
	}
	return g_strdup(name);
}

/* Labels: {name="value",...}; values escape only \\, \" and \n. Returns the position after '}'. */
static const char *parse_labels(const char *p, parsed_sample *s)
{
	GString *canonical = g_string_new(NULL);
	g_assert_cmpint(*p, ==, '{');
	p++;
	while (*p != '}') {
		const char *start = p;
		while (g_ascii_isalnum(*p) || *p == '_')
			p++;
		g_assert_true(is_name(start, (gsize)(p - start)));
		char *label = g_strndup(start, (gsize)(p - start));
		g_assert_cmpint(*p, ==, '=');
		g_assert_cmpint(p[1], ==, '"');
		p += 2;
		GString *value = g_string_new(NULL);
		const char *vstart = p;
		while (*p != '"') {
			g_assert_cmpint(*p, !=, '\0');
			g_assert_cmpint(*p, !=, '\n');
			if (*p == '\\') {
				p++;
				g_assert_true(*p == '\\' || *p == '"' || *p == 'n');
				g_string_append_c(value, *p == 'n' ? '\n' : *p);
			} else {
				g_string_append_c(value, *p);
			}
			p++;
		}
		g_assert_false(g_hash_table_contains(s->label, label));
		g_string_append_printf(canonical, "%s%s=\"%.*s\"", canonical->len ? "," : "", label, (int)(p - vstart), vstart);
		g_hash_table_insert(s->label, label, g_string_free(value, FALSE));
		p++;
		if (*p == ',')
			p++;
		else
			g_assert_cmpint(*p, ==, '}');
	}
	s->labels = g_string_free(canonical, FALSE);
	return p + 1;
}

static double parse_value(const char *text)
{
	char *end = NULL;
	double v;
	if (strcmp(text, "+Inf") == 0)
		return INFINITY;
	if (strcmp(text, "-Inf") == 0)
		return -INFINITY;
	if (strcmp(text, "NaN") == 0)
		return NAN;
	v = g_ascii_strtod(text, &end);
	g_assert_true(end != text && *end == '\0');
	return v;
}

static void parse_comment(exposition *e, const char *line, const char *current)
{
	gboolean help = g_str_has_prefix(line, "# HELP "), type = g_str_has_prefix(line, "# TYPE ");
	g_assert_true(help || type);
	const char *name = line + 7, *space = strchr(name, ' ');
	g_assert_nonnull(space);
	char *family = g_strndup(name, (gsize)(space - name));
	g_assert_true(is_name(family, strlen(family)));
	if (type) {
		const char *t = space + 1;
		g_assert_true(strcmp(t, "counter") == 0 || strcmp(t, "gauge") == 0 || strcmp(t, "histogram") == 0);
		/* Once per family, HELP first, before any of its samples. */
		g_assert_false(g_hash_table_contains(e->types, family));
		g_assert_true(g_hash_table_contains(e->helps, family));
		if (strcmp(t, "counter") == 0)
			g_assert_true(g_str_has_suffix(family, "_total"));
		g_hash_table_insert(e->types, family, g_strdup(t));
	} else {
		g_assert_false(g_hash_table_contains(e->helps, family));
		g_assert_cmpuint(strlen(space + 1), >, 0);
		g_hash_table_insert(e->helps, family, g_strdup(space + 1));
	}
	(void)current;
}

static exposition *parse_exposition(const char *text)
{
	exposition *e = g_new0(exposition, 1);
	char **lines;
	char *current = NULL; /* the family whose samples may follow */
	e->types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	e->helps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	e->samples = g_ptr_array_new_with_free_func(sample_free);
	e->series = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	/* Lines end in \n, the last one too. */
	g_assert_true(g_str_has_suffix(text, "\n"));
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i + 1] != NULL; i++) {
		const char *line = lines[i];
		g_assert_cmpuint(strlen(line), >, 0);
		if (line[0] == '#') {
			parse_comment(e, line, current);
			if (g_str_has_prefix(line, "# TYPE ")) {
				g_free(current);
				current = g_strndup(line + 7, (gsize)(strchr(line + 7, ' ') - (line + 7)));
			}
			continue;
		}
		parsed_sample *s = g_new0(parsed_sample, 1);
		const char *p = line;
		s->label = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
		while (*p != '\0' && *p != '{' && *p != ' ')
			p++;
		s->name = g_strndup(line, (gsize)(p - line));
		g_assert_true(is_name(s->name, strlen(s->name)));
		if (*p == '{')
			p = parse_labels(p, s);
		else
			s->labels = g_strdup("");
		g_assert_cmpint(*p, ==, ' ');
		s->value = parse_value(p + 1);
		/* Every sample belongs to the family just declared. */
		char *family = family_of(e, s->name);
		g_assert_cmpstr(family, ==, current);
		g_free(family);
		char *key = g_strdup_printf("%s{%s}", s->name, s->labels);
		g_assert_false(g_hash_table_contains(e->series, key));
		g_hash_table_insert(e->series, key, s);
		g_ptr_array_add(e->samples, s);
	}
	g_free(current);
	g_strfreev(lines);
	/* Every family declared both ways. */
	g_assert_cmpuint(g_hash_table_size(e->types), ==, g_hash_table_size(e->helps));
	return e;
}

/* Histogram families: buckets cumulative in le order, the last +Inf equal to _count. */
static void check_histograms(const exposition *e)
{
	GHashTableIter iter;
	gpointer key, value;
	g_hash_table_iter_init(&iter, e->types);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		if (strcmp(value, "histogram") != 0)
			continue;
		char *bucket = g_strdup_printf("%s_bucket", (const char *)key);
		char *count_key = g_strdup_printf("%s_count{}", (const char *)key);
		char *sum_key = g_strdup_printf("%s_sum{}", (const char *)key);
		double last_le = -INFINITY, last = 0;
		guint n = 0;
		for (guint i = 0; i < e->samples->len; i++) {
			const parsed_sample *s = g_ptr_array_index(e->samples, i);
			if (strcmp(s->name, bucket) != 0)
				continue;
			double le = parse_value(g_hash_table_lookup(s->label, "le"));
			g_assert_cmpfloat(le, >, last_le);
			g_assert_cmpfloat(s->value, >=, last);
			last_le = le;
			last = s->value;
			n++;
		}
		g_assert_cmpuint(n, >=, 2);
		g_assert_true(isinf(last_le));
		const parsed_sample *count = g_hash_table_lookup(e->series, count_key);
		g_assert_nonnull(count);
		g_assert_nonnull(g_hash_table_lookup(e->series, sum_key));
		g_assert_cmpfloat(count->value, ==, last);
		g_free(bucket);
		g_free(count_key);
		g_free(sum_key);
	}
}

/* The value of one series (`labels` as written, "" for none); -1 when absent. */
static double series(const exposition *e, const char *name, const char *labels)
{
	char *key = g_strdup_printf("%s{%s}", name, labels);
	const parsed_sample *s = g_hash_table_lookup(e->series, key);
	g_free(key);
	return s != NULL ? s->value : -1;
}

static exposition *render_engine(fixture *f, guint max_tenants)
{
	ah_metrics_input in;
	gsize len = 0;
	ah_metrics_input_init(&in);
	ah_engine_metrics(f->engine, f->now, max_tenants, &in);
	in.rendered_at_s = 1796115540.25;
	char *text = ah_metrics_render(&in, &len);
	ah_metrics_input_clear(&in);
	g_assert_cmpuint(len, ==, strlen(text));
	exposition *e = parse_exposition(text);
	check_histograms(e);
	g_free(text);
	return e;
}

/* --- tests */

static void test_hist_buckets(void)
{
	ah_metrics_hist h;
	ah_metrics_hist_init(&h, AH_METRICS_BOUNDS_SETUP);
	g_assert_cmpuint(h.n_bounds, >, 4);
	ah_metrics_hist_observe(&h, h.bounds[0]);        /* on a bound: in that bucket (le is <=) */
	ah_metrics_hist_observe(&h, h.bounds[0] + 1e-9); /* just above: the next */
	ah_metrics_hist_observe(&h, 1e9);                /* above every bound: +Inf only */
	ah_metrics_hist_observe(&h, -1);                 /* below: the first */
	ah_metrics_hist_observe(&h, NAN);                /* ignored */
	g_assert_cmpuint(h.count, ==, 4);
	g_assert_cmpuint(h.counts[0], ==, 2);
	g_assert_cmpuint(h.counts[1], ==, 1);
	g_assert_cmpuint(h.counts[h.n_bounds], ==, 1);
	g_assert_cmpfloat(fabs(h.sum - (2 * h.bounds[0] + 1e-9 + 1e9 - 1)), <, 1e-3);
}

/* When the control thread renders: at once the first time, then once a second while scraped, and
 * never on a node nobody scraped for a minute. */
static void test_render_due(void)
{
	const gint64 t = 5000 * SEC;
	g_assert_true(ah_metrics_render_due(t, 0, 0));                       /* never rendered */
	g_assert_false(ah_metrics_render_due(t, t - 10 * SEC, 0));           /* never scraped */
	g_assert_true(ah_metrics_render_due(t, t - 1 * SEC, t - 2 * SEC));   /* scraped: once a second */
	g_assert_false(ah_metrics_render_due(t, t - 999 * MS, t - 1 * SEC)); /* not twice in one */
	g_assert_true(ah_metrics_render_due(t, t - 30 * SEC, t - 60 * SEC)); /* a minute after a scrape */
	g_assert_false(ah_metrics_render_due(t, t - 30 * SEC, t - 61 * SEC)); /* idle: no work */
	g_assert_false(ah_metrics_render_due(t, t - 3600 * SEC, t - 3600 * SEC));
}

/* Hand-made figures: a tenant id full of characters to escape, histograms with samples. */
static void test_render_escaping(void)
{
	ah_metrics_input in;
	ah_metrics_hist setup;
	ah_metrics_tenant odd = { "a\"b\\c\nd", 3, 2, 10 }, plain = { "plain", 0, 0, 5 };
	ah_metrics_sample refusal = { "queue_full", "624", 2 };
	gsize len = 0;
	ah_metrics_input_init(&in);
	ah_metrics_hist_init(&setup, AH_METRICS_BOUNDS_SETUP);
	ah_metrics_hist_observe(&setup, 0.3);
	ah_metrics_hist_observe(&setup, 42.5);
	in.setup = &setup;
	in.capacity = 300;
	in.cpu = 0.5;
	in.admitted_per_s = 0.1;
	in.rendered_at_s = 1796115540.123;
	in.persisting = TRUE;
	in.persist_last_write_age_s = 1.5;
	g_array_append_val(in.tenant_rows, odd);
	g_array_append_val(in.tenant_rows, plain);
	g_array_append_val(in.refusals, refusal);
	char *text = ah_metrics_render(&in, &len);
	ah_metrics_input_clear(&in);
	/* As written on the wire... */
	g_assert_nonnull(strstr(text, "allhands_tenant_seats{tenant=\"a\\\"b\\\\c\\nd\"} 3\n"));
	/* ...and as a parser reads it back. */
	exposition *e = parse_exposition(text);
	check_histograms(e);
	gboolean found = FALSE;
	for (guint i = 0; i < e->samples->len; i++) {
		const parsed_sample *s = g_ptr_array_index(e->samples, i);
		if (strcmp(s->name, "allhands_tenant_queued") == 0 &&
				g_strcmp0(g_hash_table_lookup(s->label, "tenant"), "a\"b\\c\nd") == 0) {
			g_assert_cmpfloat(s->value, ==, 2);
			found = TRUE;
		}
	}
	g_assert_true(found);
	g_assert_cmpfloat(series(e, "allhands_join_refusals_total", "error=\"queue_full\",code=\"624\""), ==, 2);
	g_assert_cmpfloat(series(e, "allhands_setup_seconds_bucket", "le=\"0.1\""), ==, 0);
	g_assert_cmpfloat(series(e, "allhands_setup_seconds_bucket", "le=\"0.5\""), ==, 1);
	g_assert_cmpfloat(series(e, "allhands_setup_seconds_bucket", "le=\"+Inf\""), ==, 2);
	g_assert_cmpfloat(series(e, "allhands_setup_seconds_sum", ""), ==, 42.8);
	g_assert_cmpfloat(series(e, "allhands_capacity_seats", ""), ==, 300);
	g_assert_cmpfloat(series(e, "allhands_cpu_ratio", ""), ==, 0.5);
	g_assert_cmpfloat(series(e, "allhands_persistence_last_write_age_seconds", ""), ==, 1.5);
	g_assert_cmpfloat(series(e, "allhands_metrics_rendered_timestamp_seconds", ""), ==, 1796115540.123);
	/* Numbers as short as they read back exactly. */
	g_assert_nonnull(strstr(text, "\nallhands_admission_rate_per_second 0.1\n"));
	g_assert_nonnull(strstr(text, "\nallhands_metrics_rendered_timestamp_seconds 1796115540.123\n"));
	exposition_free(e);
	g_free(text);
}

/* Every counter sample of `before` (counters, histogram buckets, sums and counts) is still there in
 * `after`, never lower. */
static void assert_monotonic(const exposition *before, const exposition *after)
{
	for (guint i = 0; i < before->samples->len; i++) {
		const parsed_sample *s = g_ptr_array_index(before->samples, i);
		char *family = family_of(before, s->name);
		const char *type = g_hash_table_lookup(before->types, family);
		if (strcmp(type, "counter") == 0 || strcmp(type, "histogram") == 0) {
			char *key = g_strdup_printf("%s{%s}", s->name, s->labels);
			const parsed_sample *later = g_hash_table_lookup(after->series, key);
			if (later == NULL)
				g_assert_cmpstr(key, ==, "a series still there");
			g_assert_cmpfloat(later->value, >=, s->value);
			g_free(key);
		}
		g_free(family);
	}
}

static json_t *join(fixture *f, guint64 conn)
{
	return send(f, conn, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands'}");
}

/* A real engine at work: joins, refusals, admissions at once and from the queue, media, leaves.
 * The series move by exactly what happened, agree with `status`, and no counter goes down. */
static void test_engine_counters(fixture *f, gconstpointer data)
{
	make_rooms(f);
	exposition *e0 = render_engine(f, 1000);
	g_assert_cmpfloat(series(e0, "allhands_up", ""), ==, 1);
	g_assert_cmpfloat(series(e0, "allhands_joins_total", ""), ==, 0);
	g_assert_cmpfloat(series(e0, "allhands_tenants", ""), ==, 2);
	g_assert_cmpfloat(series(e0, "allhands_rooms", ""), ==, 2);
	g_assert_cmpfloat(series(e0, "allhands_capacity_seats", ""), ==, 5);
	g_assert_cmpfloat(series(e0, "allhands_exits_total", "reason=\"leave\""), ==, 0);

	/* Seven attendees for five seats, and a presenter where its tenant has no seat. */
	for (guint64 conn = 1; conn <= 7; conn++)
		join(f, conn);
	assert_error(send(f, 20, "{'request': 'join', 'tenant': 'globex', 'room': 'standup', 'ptype': 'presenter', "
		"'presenter_secret': 'g-s3cret', 'pin': 'pin-4321'}"), AH_ERR_TENANT_FULL);
	clear(f);
	exposition *e1 = render_engine(f, 1000);
	assert_monotonic(e0, e1);
	json_t *status = admin(f, "{'request': 'status'}");
	json_t *node = json_object_get(status, "node");
	json_t *counts = json_object_get(node, "counts");
	g_assert_cmpfloat(series(e1, "allhands_joins_total", ""), ==, 8);
	g_assert_cmpfloat(series(e1, "allhands_join_refusals_total", "error=\"tenant_full\",code=\"617\""), ==, 1);
	g_assert_cmpfloat(series(e1, "allhands_queued", ""), ==, num(counts, "queued"));
	g_assert_cmpfloat(series(e1, "allhands_attendees", "state=\"connecting\""), ==, num(counts, "connecting"));
	g_assert_cmpfloat(series(e1, "allhands_seats_held", ""), ==,
		num(counts, "active") + num(counts, "connecting") + num(counts, "rejoining"));
	g_assert_cmpfloat(series(e1, "allhands_queued", "") + series(e1, "allhands_seats_held", ""), ==, 7);
	g_assert_cmpfloat(series(e1, "allhands_admissions_total", "path=\"immediate\"") +
		series(e1, "allhands_admissions_total", "path=\"queue\""), ==,
		num(json_object_get(node, "admission"), "admitted_total"));
	g_assert_cmpfloat(series(e1, "allhands_tenant_queued", "tenant=\"acme\""), ==, series(e1, "allhands_queued", ""));
	g_assert_cmpfloat(series(e1, "allhands_tenant_seats", "tenant=\"acme\""), ==, series(e1, "allhands_seats_held", ""));
	g_assert_cmpfloat(series(e1, "allhands_tenant_max_participants", "tenant=\"globex\""), ==, 0);
	g_assert_cmpfloat(series(e1, "allhands_queue_wait_seconds_count", ""), ==,
		num(json_object_get(node, "admission"), "admitted_total"));

	/* Media for the first attendee, then it leaves: a setup time and a leave; a wave later the
	 * queue moves. */
	double setups = series(e1, "allhands_setup_seconds_count", "");
	double queued = series(e1, "allhands_queued", "");
	g_assert_cmpfloat(queued, >, 0);
	f->now += 300 * MS;
	ah_engine_media_up(f->engine, 1, f->now, f->outs);
	clear(f);
	assert_event(send(f, 1, "{'request': 'leave'}"), "left");
	clear(f);
	for (int i = 0; i < 30; i++) {
		f->now += 100 * MS;
		tick(f);
		clear(f);
	}
	exposition *e2 = render_engine(f, 1000);
	assert_monotonic(e1, e2);
	g_assert_cmpfloat(series(e2, "allhands_setup_seconds_count", ""), ==, setups + 1);
	g_assert_cmpfloat(series(e2, "allhands_setup_seconds_bucket", "le=\"0.25\""), ==, 0);
	g_assert_cmpfloat(series(e2, "allhands_setup_seconds_bucket", "le=\"0.5\""), ==, 1);
	g_assert_cmpfloat(series(e2, "allhands_exits_total", "reason=\"leave\""), ==, 1);
	double from_queue = series(e2, "allhands_admissions_total", "path=\"queue\"") -
		series(e1, "allhands_admissions_total", "path=\"queue\"");
	g_assert_cmpfloat(from_queue, >=, 1);
	g_assert_cmpfloat(series(e2, "allhands_queued", ""), ==, queued - from_queue);
	g_assert_cmpfloat(series(e2, "allhands_queued", "") + series(e2, "allhands_seats_held", ""), ==, 6);
	/* Whoever was admitted from the queue had been told a wait: its range held or not. */
	status = admin(f, "{'request': 'status'}");
	json_t *admission = json_object_get(json_object_get(status, "node"), "admission");
	g_assert_cmpfloat(series(e2, "allhands_wait_range_total", "outcome=\"held\"") +
		series(e2, "allhands_wait_range_total", "outcome=\"missed\""), ==, num(admission, "estimates"));
	g_assert_cmpfloat(series(e2, "allhands_wait_estimate_error_ratio_count", ""), ==, num(admission, "estimates"));
	g_assert_cmpfloat(series(e2, "allhands_waves_total", ""), ==, num(admission, "waves"));

	/* The admit timeout takes the seats of those that never connected. */
	f->now += 11 * SEC;
	tick(f);
	clear(f);
	exposition *e3 = render_engine(f, 1000);
	assert_monotonic(e2, e3);
	g_assert_cmpfloat(series(e3, "allhands_admit_timeouts_total", ""), >, 0);
	g_assert_cmpfloat(series(e3, "allhands_exits_total", "reason=\"admit_timeout\""), ==,
		series(e3, "allhands_admit_timeouts_total", ""));
	exposition_free(e0);
	exposition_free(e1);
	exposition_free(e2);
	exposition_free(e3);
}

/* Per-tenant series for at most metrics_max_tenants tenants (by id); the rest only in the totals. */
static void test_tenant_bound(fixture *f, gconstpointer data)
{
	make_rooms(f);
	exposition *e = render_engine(f, 1);
	g_assert_cmpfloat(series(e, "allhands_tenant_seats", "tenant=\"acme\""), ==, 0);
	g_assert_cmpfloat(series(e, "allhands_tenant_seats", "tenant=\"globex\""), ==, -1);
	g_assert_cmpfloat(series(e, "allhands_metrics_tenants_omitted", ""), ==, 1);
	g_assert_cmpfloat(series(e, "allhands_tenants", ""), ==, 2);
	exposition_free(e);
	e = render_engine(f, 0);
	g_assert_cmpfloat(series(e, "allhands_tenant_seats", "tenant=\"acme\""), ==, -1);
	g_assert_cmpfloat(series(e, "allhands_metrics_tenants_omitted", ""), ==, 2);
	exposition_free(e);
}

/* Presenters and backstage monitors hold tenant seats, not node seats: counted apart, and in their
 * tenant's seats. */
static void test_presenters(fixture *f, gconstpointer data)
{
	make_rooms(f);
	assert_event(send(f, 1, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'presenter', "
		"'presenter_secret': 's3cret-presenter'}"), "joined");
	assert_event(send(f, 2, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands', 'ptype': 'backstage', "
		"'presenter_secret': 's3cret-presenter'}"), "admitted");
	assert_event(send(f, 3, "{'request': 'join', 'tenant': 'acme', 'room': 'allhands'}"), "admitted");
	clear(f);
	exposition *e = render_engine(f, 1000);
	g_assert_cmpfloat(series(e, "allhands_presenters", ""), ==, 1);
	g_assert_cmpfloat(series(e, "allhands_backstage", ""), ==, 1);
	g_assert_cmpfloat(series(e, "allhands_seats_held", ""), ==, 1);
	g_assert_cmpfloat(series(e, "allhands_tenant_seats", "tenant=\"acme\""), ==, 3);
	g_assert_cmpfloat(series(e, "allhands_joins_total", ""), ==, 3);
	exposition_free(e);
	assert_event(send(f, 1, "{'request': 'leave'}"), "left");
	clear(f);
	e = render_engine(f, 1000);
	g_assert_cmpfloat(series(e, "allhands_presenters", ""), ==, 0);
	g_assert_cmpfloat(series(e, "allhands_backstage", ""), ==, 1);
	g_assert_cmpfloat(series(e, "allhands_exits_total", "reason=\"leave\""), ==, 1);
	exposition_free(e);
	/* Rooms and presenters are running totals: a room destroyed with its presenter in it, then a
	 * tenant destroyed with its rooms and presenters, leave both right. */
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'extra', 'max_attendees': 5, "
		"'presenter_secret': 'x-s3cret-presenter'}"));
	join_presenter(f, 4);
	assert_event(send(f, 5, "{'request': 'join', 'tenant': 'acme', 'room': 'extra', 'ptype': 'presenter', "
		"'presenter_secret': 'x-s3cret-presenter'}"), "joined");
	clear(f);
	e = render_engine(f, 1000);
	g_assert_cmpfloat(series(e, "allhands_rooms", ""), ==, 3);
	g_assert_cmpfloat(series(e, "allhands_presenters", ""), ==, 2);
	exposition_free(e);
	assert_success(admin(f, "{'request': 'destroy_room', 'tenant': 'acme', 'room': 'extra'}"));
	clear(f);
	e = render_engine(f, 1000);
	g_assert_cmpfloat(series(e, "allhands_rooms", ""), ==, 2);
	g_assert_cmpfloat(series(e, "allhands_presenters", ""), ==, 1);
	exposition_free(e);
	assert_success(admin(f, "{'request': 'destroy_tenant', 'tenant': 'acme'}"));
	clear(f);
	e = render_engine(f, 1000);
	g_assert_cmpfloat(series(e, "allhands_rooms", ""), ==, 1);
	g_assert_cmpfloat(series(e, "allhands_presenters", ""), ==, 0);
	g_assert_cmpfloat(series(e, "allhands_backstage", ""), ==, 0);
	exposition_free(e);
}

/* Cluster mode's families: none on a single node; with cluster mode, the Redis connection's figures and
 * the view's node counts, the round trip only once a command was answered. */
static void test_render_cluster(void)
{
	ah_metrics_input in;
	ah_metrics_input_init(&in);
	char *text = ah_metrics_render(&in, NULL);
	g_assert_null(strstr(text, "allhands_redis_"));
	g_assert_null(strstr(text, "allhands_cluster_"));
	g_free(text);
	in.cluster = TRUE;
	in.redis_connected = TRUE;
	in.redis_commands = 12;
	in.redis_errors = 2;
	in.redis_timeouts = 1;
	in.cluster_alive = 3;
	in.cluster_dead = 1;
	text = ah_metrics_render(&in, NULL);
	exposition *e = parse_exposition(text);
	g_assert_cmpfloat(series(e, "allhands_redis_connected", ""), ==, 1);
	g_assert_cmpfloat(series(e, "allhands_redis_commands_total", ""), ==, 12);
	g_assert_cmpfloat(series(e, "allhands_redis_errors_total", ""), ==, 2);
	g_assert_cmpfloat(series(e, "allhands_redis_timeouts_total", ""), ==, 1);
	g_assert_cmpfloat(series(e, "allhands_cluster_nodes", "state=\"alive\""), ==, 3);
	g_assert_cmpfloat(series(e, "allhands_cluster_nodes", "state=\"dead\""), ==, 1);
	g_assert_null(g_hash_table_lookup(e->types, "allhands_redis_rtt_seconds"));
	exposition_free(e);
	g_free(text);
	in.redis_rtt_p50_s = 0.0005;
	in.redis_rtt_p99_s = 0.002;
	text = ah_metrics_render(&in, NULL);
	e = parse_exposition(text);
	g_assert_cmpfloat(series(e, "allhands_redis_rtt_seconds", "quantile=\"0.5\""), ==, 0.0005);
	g_assert_cmpfloat(series(e, "allhands_redis_rtt_seconds", "quantile=\"0.99\""), ==, 0.002);
	exposition_free(e);
	g_free(text);
	ah_metrics_input_clear(&in);
}

/* Every family a render can have is documented in docs/operations.md's "Metrics" section. */
static void test_documented(void)
{
	ah_metrics_input in;
	ah_metrics_hist h;
	char *doc = NULL, *path = g_build_filename(AH_TEST_SRCDIR, "..", "docs", "operations.md", NULL);
	ah_metrics_input_init(&in);
	ah_metrics_hist_init(&h, AH_METRICS_BOUNDS_WAIT);
	in.setup = in.wait = in.estimate_error = in.handling = in.queueing = &h;
	in.cpu = 0.25;
	in.persisting = TRUE;
	in.persist_last_write_age_s = 2;
	in.cluster = TRUE;
	in.redis_rtt_p50_s = 0.001;
	in.redis_rtt_p99_s = 0.004;
	char *text = ah_metrics_render(&in, NULL);
	ah_metrics_input_clear(&in);
	exposition *e = parse_exposition(text);
	g_assert_true(g_file_get_contents(path, &doc, NULL, NULL));
	const char *start = strstr(doc, "\n## Metrics\n");
	g_assert_nonnull(start);
	const char *end = strstr(start + 1, "\n## ");
	char *section = g_strndup(start, end != NULL ? (gsize)(end - start) : strlen(start));
	GHashTableIter iter;
	gpointer family;
	g_hash_table_iter_init(&iter, e->types);
	while (g_hash_table_iter_next(&iter, &family, NULL)) {
		char *quoted = g_strdup_printf("`%s`", (const char *)family);
		if (strstr(section, quoted) == NULL)
			g_assert_cmpstr(quoted, ==, "documented in operations.md's Metrics");
		g_free(quoted);
	}
	g_assert_cmpuint(g_hash_table_size(e->types), >=, 40);
	exposition_free(e);
	g_free(section);
	g_free(doc);
	g_free(path);
	g_free(text);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/metrics/hist/buckets", test_hist_buckets);
	g_test_add_func("/metrics/render/due", test_render_due);
	g_test_add_func("/metrics/render/escaping", test_render_escaping);
	g_test_add_func("/metrics/render/cluster", test_render_cluster);
	g_test_add_func("/metrics/render/documented", test_documented);
	g_test_add("/metrics/engine/counters-move-and-never-go-down", fixture, NULL, setup, test_engine_counters, teardown);
	g_test_add("/metrics/engine/tenant-bound", fixture, NULL, setup, test_tenant_bound, teardown);
	g_test_add("/metrics/engine/presenters-and-backstage", fixture, NULL, setup, test_presenters, teardown);
	return g_test_run();
}
