/* allhands: unit tests of the state file's writer (plugin/core/persist-writer.c) and of the
 * clean-up of temporary files (persist.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "allhands/persist.h"
#include "allhands/persist-writer.h"
#include "tmpdir-fixture.h"

typedef struct {
	char *dir;
	char *path;
	ah_persist_writer *w;
} fixture;

static void setup(fixture *f, gconstpointer data)
{
	f->dir = tmpdir_new("ah-writer-XXXXXX");
	f->path = g_build_filename(f->dir, "state.json", NULL);
	f->w = ah_persist_writer_new(f->path, NULL);
}

static void teardown(fixture *f, gconstpointer data)
{
	ah_persist_writer_free(f->w);
	tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

/* A well-formed signing key (64 hex characters), which every tenant row of a version 2 file has. */
#define TEST_SIGNING_KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Rows as the engine builds them (persist.c's row functions). */
static guint64 put_tenant(fixture *f, const char *id, const char *secret)
{
	ah_persist_state *s = ah_persist_state_new();
	ah_persist_tenant *t = ah_persist_add_tenant(s, id, "", 10, secret);
	t->signing_key = g_strdup(TEST_SIGNING_KEY);
	json_t *row = ah_persist_tenant_json(t);
	guint64 seq = ah_persist_writer_put(f->w, id, NULL, row);
	json_decref(row);
	ah_persist_state_free(s);
	return seq;
}

static guint64 put_room(fixture *f, const char *tenant, const char *room, guint max_attendees)
{
	ah_persist_state *s = ah_persist_state_new();
	json_t *row = ah_persist_room_json(ah_persist_add_room(s, tenant, room, NULL, max_attendees, NULL, "p"));
	guint64 seq = ah_persist_writer_put(f->w, tenant, room, row);
	json_decref(row);
	ah_persist_state_free(s);
	return seq;
}

static ah_persist_state *load(fixture *f)
{
	ah_error err = AH_ERR_OK;
	char *message = NULL;
	ah_persist_state *state = ah_persist_load(f->path, &err, &message);
	g_assert_cmpstr(message, ==, NULL);
	g_assert_nonnull(state);
	return state;
}

static ah_persist_outcome flush(fixture *f)
{
	char *why = NULL;
	ah_persist_outcome outcome = ah_persist_writer_flush(f->w, &why);
	g_free(why);
	return outcome;
}

/* Many changes between two writes make one write of the latest rows. */
static void test_coalesces(fixture *f, gconstpointer data)
{
	ah_persist_figures fig;
	ah_persist_state *state;
	put_tenant(f, "acme", "s1");
	for (guint i = 0; i < 100; i++)
		put_room(f, "acme", "r", i + 1);
	ah_persist_writer_figures(f->w, &fig);
	g_assert_cmpuint(fig.pending, ==, 101);
	g_assert_cmpuint(fig.writes, ==, 0);
	g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
	g_assert_cmpint(flush(f), ==, AH_PERSIST_WROTE);
	g_free(fig.last_error);
	ah_persist_writer_figures(f->w, &fig);
	g_assert_cmpuint(fig.writes, ==, 1);
	g_assert_cmpuint(fig.changes_written, ==, 101);
	g_assert_cmpuint(fig.durable, ==, 101);
	g_assert_cmpuint(fig.pending, ==, 0);
	g_assert_cmpuint(fig.last_bytes, >, 0);
	state = load(f);
	g_assert_cmpuint(state->rooms->len, ==, 1);
	g_assert_cmpuint(((ah_persist_room *)g_ptr_array_index(state->rooms, 0))->max_attendees, ==, 100);
	ah_persist_state_free(state);
	/* Nothing new: nothing written. */
	g_assert_cmpint(flush(f), ==, AH_PERSIST_IDLE);
	g_free(fig.last_error);
}

/* The image: rows sorted, a room edit replaces its row, a tenant's removal takes its rooms. */
static void test_image(fixture *f, gconstpointer data)
{
	ah_persist_state *state, *seeded = ah_persist_state_new();
	ah_persist_tenant *zeta = ah_persist_add_tenant(seeded, "zeta", "Z", 1, "z-secret");
	zeta->signing_key = g_strdup(TEST_SIGNING_KEY);
	json_t *row = ah_persist_tenant_json(zeta);
	/* A seeded row (as loaded at start) is part of the next write but causes none. */
	ah_persist_writer_seed(f->w, "zeta", NULL, row);
	json_decref(row);
	ah_persist_state_free(seeded);
	g_assert_cmpint(flush(f), ==, AH_PERSIST_IDLE);
	put_tenant(f, "globex", "g");
	put_tenant(f, "acme", "a");
	put_room(f, "globex", "b", 1);
	put_room(f, "acme", "z", 2);
	put_room(f, "acme", "a", 3);
	put_room(f, "nobody", "x", 4); /* a room without its tenant would make the file unloadable */
	g_assert_cmpint(flush(f), ==, AH_PERSIST_WROTE);
	state = load(f);
	g_assert_cmpuint(state->tenants->len, ==, 3);
	g_assert_cmpstr(((ah_persist_tenant *)g_ptr_array_index(state->tenants, 0))->tenant, ==, "acme");
	g_assert_cmpstr(((ah_persist_tenant *)g_ptr_array_index(state->tenants, 2))->secret, ==, "z-secret");
	g_assert_cmpuint(state->rooms->len, ==, 3);
	g_assert_cmpstr(((ah_persist_room *)g_ptr_array_index(state->rooms, 0))->room, ==, "a");
	g_assert_cmpstr(((ah_persist_room *)g_ptr_array_index(state->rooms, 2))->tenant, ==, "globex");
	ah_persist_state_free(state);
	ah_persist_writer_put(f->w, "acme", NULL, NULL);
	ah_persist_writer_put(f->w, "globex", "b", NULL);
	put_tenant(f, "globex", "g2");
	g_assert_cmpint(flush(f), ==, AH_PERSIST_WROTE);
	state = load(f);
	g_assert_cmpuint(state->tenants->len, ==, 2);
	g_assert_cmpstr(((ah_persist_tenant *)g_ptr_array_index(state->tenants, 0))->secret, ==, "g2");
	g_assert_cmpuint(state->rooms->len, ==, 0);
	ah_persist_state_free(state);
	g_assert_cmpuint(tmpdir_count(f->dir), ==, 1);
}

/* A failed write is reported (figures, wait), changes stay in the image, a later write has all. */
static void test_failure_reported(fixture *f, gconstpointer data)
{
	char *dir = g_build_filename(f->dir, "sub", NULL), *path = g_build_filename(dir, "state.json", NULL);
	char *why = NULL;
	ah_persist_figures fig;
	ah_persist_state *state;
	guint64 seq;
	ah_persist_writer_free(f->w);
	f->w = ah_persist_writer_new(path, NULL);
	put_tenant(f, "acme", "a");
	g_assert_false(ah_persist_writer_failing(f->w));
	g_assert_cmpint(ah_persist_writer_progress(f->w, 1), ==, AH_PERSIST_PENDING);
	g_assert_cmpint(ah_persist_writer_flush(f->w, &why), ==, AH_PERSIST_FAILED);
	g_assert_nonnull(strstr(why, path));
	g_free(why);
	g_assert_true(ah_persist_writer_failing(f->w));
	ah_persist_writer_figures(f->w, &fig);
	g_assert_cmpuint(fig.failures, ==, 1);
	g_assert_cmpuint(fig.durable, ==, 0);
	g_assert_nonnull(strstr(fig.last_error, path));
	g_free(fig.last_error);
	/* A waiter for that change hears at once that its write failed. */
	g_assert_cmpint(ah_persist_writer_progress(f->w, 1), ==, AH_PERSIST_LOST);
	g_assert_false(ah_persist_writer_wait(f->w, 1, g_get_monotonic_time() + 10 * G_USEC_PER_SEC, &why));
	g_assert_nonnull(strstr(why, path));
	g_free(why);
	seq = put_room(f, "acme", "r", 5);
	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	g_assert_cmpint(flush(f), ==, AH_PERSIST_WROTE);
	g_assert_false(ah_persist_writer_failing(f->w));
	g_assert_true(ah_persist_writer_wait(f->w, seq, g_get_monotonic_time(), &why));
	g_assert_null(why);
	/* `sync` with everything on disk adds nothing; after a failure it asks for a new attempt. */
	g_assert_cmpuint(ah_persist_writer_sync(f->w), ==, seq);
	g_assert_cmpint(flush(f), ==, AH_PERSIST_IDLE);
	g_assert_cmpint(g_rename(dir, f->path), ==, 0);
	seq = put_room(f, "acme", "r2", 5);
	g_assert_cmpint(flush(f), ==, AH_PERSIST_FAILED);
	g_assert_cmpuint(ah_persist_writer_sync(f->w), ==, seq + 1);
	g_assert_cmpint(g_rename(f->path, dir), ==, 0);
	g_assert_cmpint(ah_persist_writer_progress(f->w, seq + 1), ==, AH_PERSIST_PENDING);
	g_assert_cmpint(flush(f), ==, AH_PERSIST_WROTE);
	g_assert_cmpint(ah_persist_writer_progress(f->w, seq + 1), ==, AH_PERSIST_DURABLE);
	g_free(f->path);
	f->path = path;
	state = load(f);
	g_assert_cmpuint(state->tenants->len, ==, 1);
	g_assert_cmpuint(state->rooms->len, ==, 2);
	ah_persist_state_free(state);
	g_assert_cmpuint(tmpdir_count(dir), ==, 1);
	g_free(dir);
}

static gpointer run_writer(gpointer data)
{
	ah_persist_writer *w = data;
	guint writes = 0;
	for (;;) {
		char *why = NULL;
		ah_persist_outcome outcome = ah_persist_writer_work(w, &why);
		g_free(why);
		if (outcome == AH_PERSIST_STOPPED)
			break;
		writes += outcome == AH_PERSIST_WROTE;
	}
	return GUINT_TO_POINTER(writes);
}

typedef struct {
	const char *path;
	volatile gint stop;
	guint loads, missing;
} reader;

/* Load the file over and over, as a restart at any moment would: it is never partial. */
static gpointer run_reader(gpointer data)
{
	reader *r = data;
	while (!g_atomic_int_get(&r->stop)) {
		ah_error err = AH_ERR_OK;
		char *message = NULL;
		ah_persist_state *state;
		if (!g_file_test(r->path, G_FILE_TEST_EXISTS)) {
			r->missing++;
			continue;
		}
		state = ah_persist_load(r->path, &err, &message);
		if (state == NULL)
			g_error("a reader saw a state file that does not load: %s", message);
		ah_persist_state_free(state);
		r->loads++;
	}
	return NULL;
}

/* The writer thread: a reader never sees a partial file, a waiter learns when its change is on
 * disk, stop writes what is left. */
static void test_thread(fixture *f, gconstpointer data)
{
	reader r = { f->path, 0, 0, 0 };
	GThread *writer, *loader;
	char *why = NULL, *name;
	guint64 seq = 0;
	guint writes;
	ah_persist_state *state;
	writer = g_thread_new("writer", run_writer, f->w);
	put_tenant(f, "acme", "a");
	g_assert_true(ah_persist_writer_wait(f->w, 1, g_get_monotonic_time() + 30 * G_USEC_PER_SEC, &why));
	loader = g_thread_new("reader", run_reader, &r);
	for (guint i = 0; i < 400; i++) {
		name = g_strdup_printf("room-%03u", i);
		seq = put_room(f, "acme", name, i);
		g_free(name);
		if (i % 50 == 0)
			g_assert_true(ah_persist_writer_wait(f->w, seq, g_get_monotonic_time() + 30 * G_USEC_PER_SEC, &why));
	}
	put_room(f, "acme", "last", 1);
	ah_persist_writer_stop(f->w);
	writes = GPOINTER_TO_UINT(g_thread_join(writer));
	g_atomic_int_set(&r.stop, 1);
	g_thread_join(loader);
	g_assert_cmpuint(writes, >=, 2);
	g_assert_cmpuint(r.loads, >, 0);
	state = load(f);
	g_assert_cmpuint(state->rooms->len, ==, 401);
	ah_persist_state_free(state);
	g_assert_cmpuint(tmpdir_count(f->dir), ==, 1);
	g_test_message("%u writes for 402 changes, %u loads by the reader", writes, r.loads);
}

/* Stopping while writes fail: one last attempt, which succeeds once the cause is gone. */
static void test_stop_tries_once_more(fixture *f, gconstpointer data)
{
	char *dir = g_build_filename(f->dir, "sub", NULL), *path = g_build_filename(dir, "state.json", NULL);
	ah_persist_figures fig;
	GThread *writer;
	ah_persist_writer_free(f->w);
	f->w = ah_persist_writer_new(path, NULL);
	writer = g_thread_new("writer", run_writer, f->w);
	put_tenant(f, "acme", "a");
	while (ah_persist_writer_progress(f->w, 1) == AH_PERSIST_PENDING)
		g_usleep(1000);
	g_assert_cmpint(ah_persist_writer_progress(f->w, 1), ==, AH_PERSIST_LOST);
	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	ah_persist_writer_stop(f->w);
	g_assert_cmpuint(GPOINTER_TO_UINT(g_thread_join(writer)), ==, 1);
	ah_persist_writer_figures(f->w, &fig);
	g_assert_cmpuint(fig.writes, ==, 2);
	g_assert_cmpuint(fig.failures, ==, 1);
	g_assert_false(fig.failing);
	g_free(fig.last_error);
	g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	g_free(path);
	g_free(dir);
}

/* A waiter parked on a change wakes when the writer thread has written it. */
static void test_wait_wakes(fixture *f, gconstpointer data)
{
	GThread *writer = g_thread_new("writer", run_writer, f->w);
	char *why = NULL;
	guint64 seq = put_tenant(f, "acme", "a");
	g_assert_true(ah_persist_writer_wait(f->w, seq, g_get_monotonic_time() + 30 * G_USEC_PER_SEC, &why));
	g_assert_null(why);
	g_assert_cmpint(ah_persist_writer_progress(f->w, seq), ==, AH_PERSIST_DURABLE);
	/* Poked with nothing to do, the thread comes back without writing. */
	ah_persist_writer_poke(f->w);
	ah_persist_writer_stop(f->w);
	g_assert_cmpuint(GPOINTER_TO_UINT(g_thread_join(writer)), ==, 1);
}

static void touch(const char *dir, const char *name, const char *text)
{
	char *path = g_build_filename(dir, name, NULL);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_free(path);
}

static gboolean exists(const char *dir, const char *name)
{
	char *path = g_build_filename(dir, name, NULL);
	gboolean found = g_file_test(path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK);
	g_free(path);
	return found;
}

/* Stale temporary files of this state file go; nothing else does. */
static void test_clean_temps(fixture *f, gconstpointer data)
{
	char *link = g_build_filename(f->dir, "state.json.Q1w2E3", NULL);
	char *sub = g_build_filename(f->dir, "state.json.Z9z9z9", NULL);
	touch(f->dir, "state.json", "{}");
	touch(f->dir, "state.json.allhands-tmp", "{\"version\": 1, \"tenants\": [{\"secret\"");
	touch(f->dir, "state.json.AB12cd", "half");     /* GLib's name, as old versions left it */
	touch(f->dir, "state.json.x7k2pq", "half");
	touch(f->dir, "state.json.backup", "keep");     /* a word: the operator's */
	touch(f->dir, "state.json.bak", "keep");
	touch(f->dir, "state.json.AB12cde", "keep");    /* seven characters */
	touch(f->dir, "other.json.AB12cd", "keep");     /* another file's */
	touch(f->dir, "other.json.allhands-tmp", "keep");
	touch(f->dir, "target", "keep");
	g_assert_cmpint(symlink("target", link), ==, 0); /* never follow or remove a link */
	g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
	g_assert_cmpuint(ah_persist_clean_temps(f->path), ==, 3);
	g_assert_false(exists(f->dir, "state.json.allhands-tmp"));
	g_assert_false(exists(f->dir, "state.json.AB12cd"));
	g_assert_false(exists(f->dir, "state.json.x7k2pq"));
	g_assert_true(exists(f->dir, "state.json"));
	g_assert_true(exists(f->dir, "state.json.backup"));
	g_assert_true(exists(f->dir, "state.json.bak"));
	g_assert_true(exists(f->dir, "state.json.AB12cde"));
	g_assert_true(exists(f->dir, "other.json.AB12cd"));
	g_assert_true(exists(f->dir, "other.json.allhands-tmp"));
	g_assert_true(exists(f->dir, "state.json.Q1w2E3"));
	g_assert_true(exists(f->dir, "target"));
	g_assert_true(g_file_test(sub, G_FILE_TEST_IS_DIR));
	g_assert_cmpuint(ah_persist_clean_temps(f->path), ==, 0);
	g_free(link);
	g_free(sub);
}

/* The temporary file is the one fixed name, mode 0600, and gone after the rename. */
static void test_temp_name(fixture *f, gconstpointer data)
{
	char *temp = ah_persist_temp_path(f->path), *why = NULL;
	GStatBuf st;
	g_assert_true(g_str_has_suffix(temp, "state.json.allhands-tmp"));
	/* One left by a killed writer with a wider mode is reused and narrowed. */
	g_assert_true(g_file_set_contents(temp, "stale", -1, NULL));
	g_assert_cmpint(g_chmod(temp, 0644), ==, 0);
	g_assert_true(ah_persist_write_text(f->path, "{}", 2, &why));
	g_assert_null(why);
	g_assert_false(g_file_test(temp, G_FILE_TEST_EXISTS));
	g_assert_cmpint(g_stat(f->path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_free(temp);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, fixture, NULL, setup, fn, teardown)
	ADD("/persist-writer/coalesces", test_coalesces);
	ADD("/persist-writer/image", test_image);
	ADD("/persist-writer/failure-reported", test_failure_reported);
	ADD("/persist-writer/thread/readers-never-see-a-partial-file", test_thread);
	ADD("/persist-writer/thread/wait-wakes", test_wait_wakes);
	ADD("/persist-writer/thread/stop-tries-once-more", test_stop_tries_once_more);
	ADD("/persist-writer/temps/cleaned-at-start", test_clean_temps);
	ADD("/persist-writer/temps/one-fixed-name", test_temp_name);
#undef ADD
	return g_test_run();
}
