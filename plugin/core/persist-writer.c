/* allhands: the state file's writer (include/allhands/persist-writer.h).
 *
 * Owns the image of the state file (each tenant's and room's row as text, sorted by id) and the
 * hand-over of changed rows from the control thread to the thread that writes. The control thread
 * only serializes the one row that changed and appends it to `pending` under `lock` (O(1) of the
 * state's size); the writer thread applies the pending rows to the image, which only it touches
 * (under `write_lock`), and writes the whole file. The thread itself is the glue's
 * (plugin/glue/writer.c); flush() lets the engine write on its own thread at shutdown and in tests.
 * No Janus, no logging.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "allhands/persist.h"
#include "allhands/persist-writer.h"

typedef struct {
	char *text;             /* the tenant's row */
	GTree *rooms;           /* room id -> row text (both owned) */
} image_tenant;

typedef struct {
	char *tenant, *room;    /* room NULL: the tenant's row */
	char *text;             /* NULL: removed */
} change;

struct ah_persist_writer {
	char *path;
	ah_persist_clock clock;
	GMutex write_lock;      /* held across a write; guards image, dirty */
	GTree *image;           /* tenant id -> image_tenant* (both owned) */
	gboolean dirty;         /* the image has changes the file lacks */
	GMutex lock;            /* guards everything below (taken after write_lock, never before) */
	GCond cond;             /* work to do (writer), a write ended (waiters) */
	GPtrArray *pending;     /* change*, in order */
	guint64 submitted;      /* number of the last change put */
	guint64 attempted;      /* number of the last change a write took */
	gboolean stopping;
	gboolean last_try;      /* stopping while failing: the one last attempt was made */
	gboolean poked;         /* work() returns IDLE once (ah_persist_writer_poke) */
	gint64 retry_at;        /* after a failure: when work() tries again */
	ah_persist_figures fig; /* submitted/pending are filled in when read */
};

static void change_free(gpointer data)
{
	change *c = data;
	g_free(c->tenant);
	g_free(c->room);
	free(c->text);
	g_free(c);
}

static void image_tenant_free(gpointer data)
{
	image_tenant *t = data;
	free(t->text);
	g_tree_destroy(t->rooms);
	g_free(t);
}

static gint compare_ids(gconstpointer a, gconstpointer b, gpointer data)
{
	return strcmp(a, b);
}

ah_persist_writer *ah_persist_writer_new(const char *path, ah_persist_clock clock)
{
	ah_persist_writer *w = g_new0(ah_persist_writer, 1);
	w->path = g_strdup(path);
	w->clock = clock != NULL ? clock : g_get_monotonic_time;
	g_mutex_init(&w->write_lock);
	g_mutex_init(&w->lock);
	g_cond_init(&w->cond);
	w->image = g_tree_new_full(compare_ids, NULL, g_free, image_tenant_free);
	w->pending = g_ptr_array_new_with_free_func(change_free);
	return w;
}

void ah_persist_writer_free(ah_persist_writer *w)
{
	if (w == NULL)
		return;
	g_tree_destroy(w->image);
	g_ptr_array_unref(w->pending);
	g_free(w->fig.last_error);
	g_mutex_clear(&w->write_lock);
	g_mutex_clear(&w->lock);
	g_cond_clear(&w->cond);
	g_free(w->path);
	g_free(w);
}

/* One line of the file: compact, keys in the row's order. */
static char *row_text(const json_t *row)
{
	return row != NULL ? json_dumps(row, JSON_PRESERVE_ORDER) : NULL;
}

/* Writer side (write_lock held): one change into the image. Takes c->text. */
static void apply(ah_persist_writer *w, change *c)
{
	image_tenant *t = c->tenant != NULL ? g_tree_lookup(w->image, c->tenant) : NULL;
	if (c->tenant == NULL) {
		/* A sync marker: only asks for a write. */
	} else if (c->room == NULL && c->text == NULL) {
		g_tree_remove(w->image, c->tenant);
	} else if (c->room == NULL) {
		if (t == NULL) {
			t = g_new0(image_tenant, 1);
			t->rooms = g_tree_new_full(compare_ids, NULL, g_free, free);
			g_tree_insert(w->image, g_strdup(c->tenant), t);
		}
		free(t->text);
		t->text = c->text;
		c->text = NULL;
	} else if (t != NULL && c->text == NULL) {
		g_tree_remove(t->rooms, c->room);
	} else if (t != NULL) {
		g_tree_insert(t->rooms, g_strdup(c->room), c->text);
		c->text = NULL;
	}
	/* A room of a tenant the image lacks cannot be written (the file would be refused): the
	 * engine never does this, the row is dropped. */
}

void ah_persist_writer_seed(ah_persist_writer *w, const char *tenant, const char *room, const json_t *row)
{
	change c = { (char *)tenant, (char *)room, row_text(row) };
	g_mutex_lock(&w->write_lock);
	apply(w, &c);
	g_mutex_unlock(&w->write_lock);
	free(c.text);
}

guint64 ah_persist_writer_put(ah_persist_writer *w, const char *tenant, const char *room, const json_t *row)
{
	change *c = g_new0(change, 1);
	guint64 seq;
	c->tenant = g_strdup(tenant);
	c->room = g_strdup(room);
	c->text = row_text(row);
	g_mutex_lock(&w->lock);
	g_ptr_array_add(w->pending, c);
	seq = ++w->submitted;
	g_cond_broadcast(&w->cond);
	g_mutex_unlock(&w->lock);
	return seq;
}

guint64 ah_persist_writer_sync(ah_persist_writer *w)
{
	guint64 seq;
	g_mutex_lock(&w->lock);
	seq = w->submitted;
	g_mutex_unlock(&w->lock);
	/* Everything is on disk already, or a write of it is due anyway: nothing to add. */
	if (ah_persist_writer_progress(w, seq) != AH_PERSIST_LOST)
		return seq;
	return ah_persist_writer_put(w, NULL, NULL, NULL);
}

gboolean ah_persist_writer_failing(ah_persist_writer *w)
{
	g_mutex_lock(&w->lock);
	gboolean failing = w->fig.failing;
	g_mutex_unlock(&w->lock);
	return failing;
}

typedef struct {
	GString *text;
	gboolean first;
} text_builder;

static void append_row(text_builder *b, const char *row)
{
	g_string_append(b->text, b->first ? "\n" : ",\n");
	g_string_append(b->text, row);
	b->first = FALSE;
}

static gboolean append_tenant(gpointer key, gpointer value, gpointer data)
{
	append_row(data, ((image_tenant *)value)->text);
	return FALSE;
}

static gboolean append_room(gpointer key, gpointer value, gpointer data)
{
	append_row(data, value);
	return FALSE;
}

static gboolean append_rooms(gpointer key, gpointer value, gpointer data)
{
	g_tree_foreach(((image_tenant *)value)->rooms, append_room, data);
	return FALSE;
}

/* The whole file: one row per line (persist.h's format, read by any JSON parser). */
static GString *serialize(ah_persist_writer *w)
{
	text_builder b = { g_string_sized_new(4096), TRUE };
	g_string_append_printf(b.text, "{\"version\": %d,\n\"tenants\": [", AH_PERSIST_VERSION);
	g_tree_foreach(w->image, append_tenant, &b);
	g_string_append(b.text, "\n],\n\"rooms\": [");
	b.first = TRUE;
	g_tree_foreach(w->image, append_rooms, &b);
	g_string_append(b.text, "\n]}\n");
	return b.text;
}

/* Record how a write went and wake the waiters. */
static void finish_write(ah_persist_writer *w, gboolean ok, guint64 seq, guint n_changes, gint64 start,
	gsize bytes, const char *message)
{
	gint64 end = w->clock();
	g_mutex_lock(&w->lock);
	w->attempted = seq;
	w->fig.writes++;
	w->fig.changes_written += n_changes;
	w->fig.last_write_us = MAX(end - start, 0);
	w->fig.max_write_us = MAX(w->fig.max_write_us, w->fig.last_write_us);
	w->fig.failing = !ok;
	if (ok) {
		w->fig.durable = seq;
		w->fig.last_write_at = end;
		w->fig.last_bytes = bytes;
	} else {
		w->fig.failures++;
		g_free(w->fig.last_error);
		w->fig.last_error = g_strdup(message);
		w->retry_at = end + AH_PERSIST_RETRY_US;
	}
	g_cond_broadcast(&w->cond);
	g_mutex_unlock(&w->lock);
}

static ah_persist_outcome write_now(ah_persist_writer *w, char **message)
{
	GPtrArray *changes;
	guint64 seq;
	gint64 start;
	GString *text;
	gboolean ok;
	*message = NULL;
	g_mutex_lock(&w->write_lock);
	g_mutex_lock(&w->lock);
	changes = w->pending;
	w->pending = g_ptr_array_new_with_free_func(change_free);
	seq = w->submitted;
	g_mutex_unlock(&w->lock);
	for (guint i = 0; i < changes->len; i++)
		apply(w, g_ptr_array_index(changes, i));
	w->dirty |= changes->len > 0;
	if (!w->dirty) {
		g_mutex_unlock(&w->write_lock);
		g_ptr_array_unref(changes);
		return AH_PERSIST_IDLE;
	}
	start = w->clock();
	text = serialize(w);
	ok = ah_persist_write_text(w->path, text->str, text->len, message);
	w->dirty = !ok;
	finish_write(w, ok, seq, changes->len, start, text->len, *message);
	g_string_free(text, TRUE);
	g_mutex_unlock(&w->write_lock);
	g_ptr_array_unref(changes);
	return ok ? AH_PERSIST_WROTE : AH_PERSIST_FAILED;
}

ah_persist_outcome ah_persist_writer_work(ah_persist_writer *w, char **message)
{
	*message = NULL;
	g_mutex_lock(&w->lock);
	for (;;) {
		if (w->pending->len > 0)
			break;
		/* Stopping while failing: one last attempt (the cause may be gone), then stop. */
		if (w->stopping && w->fig.failing && !w->last_try) {
			w->last_try = TRUE;
			break;
		}
		if (w->stopping) {
			g_mutex_unlock(&w->lock);
			return AH_PERSIST_STOPPED;
		}
		if (w->poked) {
			w->poked = FALSE;
			g_mutex_unlock(&w->lock);
			return AH_PERSIST_IDLE;
		}
		/* After a failure the image still has to reach the disk: try again later. */
		if (w->fig.failing) {
			if (!g_cond_wait_until(&w->cond, &w->lock, w->retry_at))
				break;
		} else {
			g_cond_wait(&w->cond, &w->lock);
		}
	}
	g_mutex_unlock(&w->lock);
	return write_now(w, message);
}

void ah_persist_writer_stop(ah_persist_writer *w)
{
	g_mutex_lock(&w->lock);
	w->stopping = TRUE;
	g_cond_broadcast(&w->cond);
	g_mutex_unlock(&w->lock);
}

void ah_persist_writer_poke(ah_persist_writer *w)
{
	g_mutex_lock(&w->lock);
	w->poked = TRUE;
	g_cond_broadcast(&w->cond);
	g_mutex_unlock(&w->lock);
}

ah_persist_outcome ah_persist_writer_flush(ah_persist_writer *w, char **message)
{
	return write_now(w, message);
}

static ah_persist_progress progress_locked(ah_persist_writer *w, guint64 seq)
{
	if (w->fig.durable >= seq)
		return AH_PERSIST_DURABLE;
	return w->attempted >= seq ? AH_PERSIST_LOST : AH_PERSIST_PENDING;
}

ah_persist_progress ah_persist_writer_progress(ah_persist_writer *w, guint64 seq)
{
	g_mutex_lock(&w->lock);
	ah_persist_progress progress = progress_locked(w, seq);
	g_mutex_unlock(&w->lock);
	return progress;
}

gboolean ah_persist_writer_wait(ah_persist_writer *w, guint64 seq, gint64 until, char **message)
{
	ah_persist_progress progress;
	gboolean timed_out = FALSE;
	*message = NULL;
	g_mutex_lock(&w->lock);
	while ((progress = progress_locked(w, seq)) == AH_PERSIST_PENDING && !w->stopping && !timed_out)
		timed_out = !g_cond_wait_until(&w->cond, &w->lock, until);
	if (progress == AH_PERSIST_LOST)
		*message = g_strdup(w->fig.last_error != NULL ? w->fig.last_error : "the state file could not be written");
	else if (progress == AH_PERSIST_PENDING)
		*message = g_strdup(w->stopping ? "the plugin is stopping" : "the state file was not written in time");
	g_mutex_unlock(&w->lock);
	return progress == AH_PERSIST_DURABLE;
}

void ah_persist_writer_figures(ah_persist_writer *w, ah_persist_figures *out)
{
	g_mutex_lock(&w->lock);
	*out = w->fig;
	out->submitted = w->submitted;
	out->pending = w->pending->len;
	out->last_error = g_strdup(w->fig.last_error);
	g_mutex_unlock(&w->lock);
}

json_t *ah_persist_writer_figures_json(ah_persist_writer *w, gint64 now)
{
	ah_persist_figures f;
	json_t *json;
	ah_persist_writer_figures(w, &f);
	json = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "submitted", (json_int_t)f.submitted,
		"durable", (json_int_t)f.durable, "pending", (json_int_t)f.pending, "writes", (json_int_t)f.writes,
		"failures", (json_int_t)f.failures, "changes_written", (json_int_t)f.changes_written,
		"last_write_us", (json_int_t)f.last_write_us, "max_write_us", (json_int_t)f.max_write_us,
		"bytes", (json_int_t)f.last_bytes, "failing", f.failing);
	json_object_set_new(json, "last_write_age_ms", f.last_write_at != 0 ?
		json_integer((now - f.last_write_at) / 1000) : json_null());
	if (f.last_error != NULL)
		json_object_set_new(json, "last_error", json_string(f.last_error));
	g_free(f.last_error);
	return json;
}
