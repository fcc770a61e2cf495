/* ah-loadclient: entry point. Reads JSON-line commands on stdin (offer, candidate, mark, stats,
 * report_loss, remb, corrupt_key, close, quit), hands each subscriber's work to one of N shard
 * threads (each its own GMainContext running the subscribers' NiceAgents), and writes JSON-line
 * replies and events on stdout. Logs go to stderr.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>
#include <sys/resource.h>
#include <jansson.h>
#include "lc.h"

char *lc_local_ip = NULL;
int lc_verbose;
static GMutex out_lock;
static int nshards = 1;
static lc_shard *shards;
static GHashTable *owner; /* id -> shard index + 1 (main thread only) */
static int next_shard;

double lc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void lc_emit_line(const char *line)
{
	g_mutex_lock(&out_lock);
	fputs(line, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	g_mutex_unlock(&out_lock);
}

void lc_json_str(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': g_string_append(out, "\\\""); break;
		case '\\': g_string_append(out, "\\\\"); break;
		case '\n': g_string_append(out, "\\n"); break;
		case '\r': g_string_append(out, "\\r"); break;
		case '\t': g_string_append(out, "\\t"); break;
		default:
			if (*p < 0x20)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char)*p);
		}
	}
	g_string_append_c(out, '"');
}

void lc_emit_error(const char *id, const char *msg)
{
	GString *l = g_string_new("{");
	if (id) {
		g_string_append(l, "\"id\":");
		lc_json_str(l, id);
		g_string_append_c(l, ',');
	}
	g_string_append(l, "\"error\":");
	lc_json_str(l, msg);
	g_string_append_c(l, '}');
	lc_emit_line(l->str);
	g_string_free(l, TRUE);
}

/* ---------- shards ---------- */
typedef enum { J_OFFER, J_CANDIDATE, J_CLOSE, J_LOSS, J_REMB, J_CORRUPT, J_TRACE, J_MARK, J_STATS, J_QUIT } job_kind;

typedef struct job {
	job_kind kind;
	lc_shard *sh;
	char *id, *str;
	double num;
	/* synchronous jobs (mark, stats, quit): the main thread waits */
	GMutex *m;
	GCond *c;
	int *pending;
	GString *out;
} job;

static void job_done(job *j)
{
	if (j->m) {
		g_mutex_lock(j->m);
		(*j->pending)--;
		g_cond_signal(j->c);
		g_mutex_unlock(j->m);
	}
}

static gboolean run_job(gpointer data)
{
	job *j = data;
	lc_shard *sh = j->sh;
	switch (j->kind) {
	case J_OFFER: lc_sub_offer(sh, j->id, j->str); break;
	case J_CANDIDATE: lc_sub_candidate(sh, j->id, j->str); break;
	case J_CLOSE: lc_sub_close(sh, j->id, TRUE); break;
	case J_LOSS: lc_sub_report_loss(sh, j->id, j->num); break;
	case J_REMB: lc_sub_remb(sh, j->id, (uint32_t)j->num); break;
	case J_CORRUPT: lc_sub_corrupt_key(sh, j->id); break;
	case J_TRACE: lc_sub_trace(sh, j->id, j->num != 0); break;
	case J_MARK: {
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, sh->subs);
		while (g_hash_table_iter_next(&it, &k, &v))
			lc_sub_mark(v, j->num);
		break;
	}
	case J_STATS: {
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, sh->subs);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			if (j->out->len)
				g_string_append_c(j->out, ',');
			lc_sub_stats(v, j->out);
		}
		break;
	}
	case J_QUIT:
		g_hash_table_remove_all(sh->subs);
		g_main_loop_quit(sh->loop);
		break;
	}
	job_done(j);
	return G_SOURCE_REMOVE;
}

static void job_free(gpointer data)
{
	job *j = data;
	g_free(j->id);
	g_free(j->str);
	g_free(j);
}

static void post(lc_shard *sh, job *j)
{
	j->sh = sh;
	GSource *src = g_idle_source_new();
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, run_job, j, job_free);
	g_source_attach(src, sh->ctx);
	g_source_unref(src);
}

/* Runs kind on every shard and waits; out (optional) collects the stats fragments. */
static void post_all_sync(job_kind kind, double num, GString **outs)
{
	GMutex m;
	GCond c;
	int pending = nshards;
	g_mutex_init(&m);
	g_cond_init(&c);
	for (int i = 0; i < nshards; i++) {
		job *j = g_new0(job, 1);
		j->kind = kind;
		j->num = num;
		j->m = &m;
		j->c = &c;
		j->pending = &pending;
		j->out = outs ? outs[i] : NULL;
		post(&shards[i], j);
	}
	g_mutex_lock(&m);
	while (pending > 0)
		g_cond_wait(&c, &m);
	g_mutex_unlock(&m);
	g_mutex_clear(&m);
	g_cond_clear(&c);
}

static gpointer shard_main(gpointer data)
{
	lc_shard *sh = data;
	g_main_context_push_thread_default(sh->ctx);
	g_main_loop_run(sh->loop);
	/* let agents finish closing their sockets */
	while (g_main_context_iteration(sh->ctx, FALSE))
		;
	g_main_context_pop_thread_default(sh->ctx);
	return NULL;
}

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

/* ---------- commands ---------- */
static lc_shard *shard_of(const char *id, gboolean create)
{
	gpointer v = g_hash_table_lookup(owner, id);
	if (v)
		return &shards[GPOINTER_TO_INT(v) - 1];
	if (!create)
		return NULL;
	int k = next_shard++ % nshards;
	g_hash_table_insert(owner, g_strdup(id), GINT_TO_POINTER(k + 1));
	return &shards[k];
}

static gboolean handle_line(const char *line)
{
	json_error_t jerr;
	json_t *m = json_loads(line, 0, &jerr);
	if (!m || !json_is_object(m)) {
		char msg[200];
		g_snprintf(msg, sizeof(msg), "bad JSON: %s", m ? "not an object" : jerr.text);
		lc_emit_error(NULL, msg);
		json_decref(m);
		return TRUE;
	}
	const char *op = json_string_value(json_object_get(m, "op"));
	const char *id = json_string_value(json_object_get(m, "id"));
	gboolean keep = TRUE;
	if (!op) {
		lc_emit_error(id, "missing op");
	} else if (!strcmp(op, "quit")) {
		keep = FALSE;
	} else if (!strcmp(op, "mark")) {
		post_all_sync(J_MARK, lc_now_ms(), NULL);
		GString *l = g_string_new("{\"event\":\"marked\"");
		json_t *req = json_object_get(m, "req");
		if (json_is_integer(req))
			g_string_append_printf(l, ",\"req\":%" JSON_INTEGER_FORMAT, json_integer_value(req));
		g_string_append_c(l, '}');
		lc_emit_line(l->str);
		g_string_free(l, TRUE);
	} else if (!strcmp(op, "stats")) {
		GString **outs = g_new0(GString *, nshards);
		for (int i = 0; i < nshards; i++)
			outs[i] = g_string_sized_new(4096);
		post_all_sync(J_STATS, 0, outs);
		GString *l = g_string_sized_new(65536);
		json_t *req = json_object_get(m, "req");
		g_string_append(l, "{\"req\":");
		if (json_is_integer(req))
			g_string_append_printf(l, "%" JSON_INTEGER_FORMAT, json_integer_value(req));
		else
			g_string_append(l, "null");
		g_string_append_printf(l, ",\"t\":%.3f,\"cpu_ms\":%.1f,\"subs\":[", lc_now_ms(), cpu_ms());
		gboolean first = TRUE;
		for (int i = 0; i < nshards; i++) {
			if (outs[i]->len) {
				if (!first)
					g_string_append_c(l, ',');
				g_string_append_len(l, outs[i]->str, (gssize)outs[i]->len);
				first = FALSE;
			}
			g_string_free(outs[i], TRUE);
		}
		g_free(outs);
		g_string_append(l, "]}");
		lc_emit_line(l->str);
		g_string_free(l, TRUE);
	} else if (!id) {
		lc_emit_error(NULL, "missing id");
	} else {
		job *j = g_new0(job, 1);
		lc_shard *sh = NULL;
		const char *err = NULL;
		if (!strcmp(op, "offer")) {
			const char *sdp = json_string_value(json_object_get(m, "sdp"));
			if (!sdp)
				err = "offer without sdp";
			j->kind = J_OFFER;
			j->str = g_strdup(sdp);
			if (!err)
				sh = shard_of(id, TRUE);
		} else if (!strcmp(op, "candidate")) {
			const char *c = json_string_value(json_object_get(m, "candidate"));
			if (!c)
				err = "candidate without candidate";
			j->kind = J_CANDIDATE;
			j->str = g_strdup(c);
		} else if (!strcmp(op, "close")) {
			j->kind = J_CLOSE;
		} else if (!strcmp(op, "report_loss")) {
			j->kind = J_LOSS;
			json_t *f = json_object_get(m, "fraction");
			if (!json_is_number(f))
				err = "report_loss without fraction";
			j->num = json_number_value(f);
		} else if (!strcmp(op, "remb")) {
			j->kind = J_REMB;
			json_t *b = json_object_get(m, "bps");
			if (!json_is_number(b) || json_number_value(b) < 0)
				err = "remb without bps";
			j->num = json_number_value(b);
		} else if (!strcmp(op, "corrupt_key")) {
			j->kind = J_CORRUPT;
		} else if (!strcmp(op, "trace")) {
			j->kind = J_TRACE;
			json_t *on = json_object_get(m, "on");
			if (!json_is_boolean(on))
				err = "trace without on (true or false)";
			j->num = json_is_true(on) ? 1 : 0;
		} else {
			err = "unknown op";
		}
		if (!err && !sh) {
			sh = shard_of(id, FALSE);
			if (!sh)
				err = "unknown id";
		}
		if (err) {
			lc_emit_error(id, err);
			job_free(j);
		} else {
			j->id = g_strdup(id);
			if (j->kind == J_CLOSE)
				g_hash_table_remove(owner, id);
			post(sh, j);
		}
	}
	json_decref(m);
	return keep;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ip") && i + 1 < argc)
			lc_local_ip = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nshards = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s --ip A.B.C.D [--threads N]\n", argv[0]);
			return 2;
		}
	}
	if (!lc_local_ip || nshards < 1 || nshards > 64) {
		fprintf(stderr, "usage: %s --ip A.B.C.D [--threads N]\n", argv[0]);
		return 2;
	}
	raise_nofile();
	lc_verbose = getenv("LC_VERBOSE") != NULL;
	if (!lc_dtls_global_init()) {
		fprintf(stderr, "ah-loadclient: DTLS/SRTP initialisation failed\n");
		return 1;
	}
	owner = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	shards = g_new0(lc_shard, nshards);
	for (int i = 0; i < nshards; i++) {
		lc_shard *sh = &shards[i];
		sh->index = i;
		sh->ctx = g_main_context_new();
		sh->loop = g_main_loop_new(sh->ctx, FALSE);
		sh->subs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)lc_sub_free);
		char name[32];
		g_snprintf(name, sizeof(name), "lc-shard-%d", i);
		sh->thread = g_thread_new(name, shard_main, sh);
	}
	fprintf(stderr, "ah-loadclient: ip %s, %d thread(s), fingerprint %s\n", lc_local_ip, nshards, lc_dtls_fingerprint());

	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (!handle_line(line))
			break;
	}
	free(line);

	for (int i = 0; i < nshards; i++) {
		job *j = g_new0(job, 1);
		j->kind = J_QUIT;
		post(&shards[i], j);
	}
	for (int i = 0; i < nshards; i++) {
		g_thread_join(shards[i].thread);
		g_hash_table_destroy(shards[i].subs);
		g_main_loop_unref(shards[i].loop);
		g_main_context_unref(shards[i].ctx);
	}
	g_free(shards);
	g_hash_table_destroy(owner);
	lc_dtls_global_free();
	return 0;
}
