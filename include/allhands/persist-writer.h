/* allhands: durability off the control thread (issue 12).
 *
 * The control thread hands the writer only what changed: the serialized row of one tenant or one
 * room (or its removal), built in O(1) of the state's size. The writer keeps its own image of the
 * file (every row's text, sorted) and, on its own thread, applies the pending changes, writes the
 * whole file atomically (persist.h: temporary file, fsync, rename, fsync of the folder) and
 * records what is durable. Changes that arrive while a write is under way are coalesced into the
 * next one, so the file trails the engine by at most about two write durations.
 *
 * Sequence numbers: every change gets the next number (ah_persist_writer_put returns it);
 * `durable` is the highest number whose write succeeded. ah_persist_writer_wait lets a thread that
 * may block (the Admin API thread, never the control thread) wait until a change is on disk.
 * A failed write is retried every AH_PERSIST_RETRY_US until one succeeds (the image is complete,
 * so one success writes everything).
 *
 * Threads: put/seed/failing/submitted from the control thread; work() from one writer thread;
 * wait/figures from any thread; flush() from any thread (it serializes with work()). Locks:
 * `write_lock` (held across a write) is taken before `lock` (the pending list and the figures),
 * never the other way round; neither is held while calling out.
 * No Janus, no logging; the clock is the caller's (monotonic microseconds, g_get_monotonic_time's
 * base, because waits use GCond).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_PERSIST_WRITER_H
#define ALLHANDS_PERSIST_WRITER_H

#include <glib.h>
#include <jansson.h>

#define AH_PERSIST_RETRY_US (5 * G_USEC_PER_SEC)

typedef struct ah_persist_writer ah_persist_writer;
typedef gint64 (*ah_persist_clock)(void);

typedef enum {
	AH_PERSIST_STOPPED,     /* work(): stop was asked and nothing is left to write */
	AH_PERSIST_WROTE,       /* a write succeeded */
	AH_PERSIST_FAILED,      /* a write failed (*message says why) */
	AH_PERSIST_IDLE,        /* flush(): nothing to write; work(): poked */
} ah_persist_outcome;

/* What status shows (docs/operations.md, "Persistence"). */
typedef struct {
	guint64 submitted;      /* last change number handed over */
	guint64 durable;        /* last change number on disk */
	guint pending;          /* changes not yet taken by a write */
	guint64 writes, failures;
	guint64 changes_written; /* changes the writes took (changes_written / writes: coalescing) */
	gint64 last_write_at;   /* clock time of the last successful write's end, 0: none */
	gint64 last_write_us;   /* how long the last write took (successful or not) */
	gint64 max_write_us;
	gsize last_bytes;       /* size of the last file written */
	gboolean failing;       /* the last write failed */
	char *last_error;       /* of the last failure, NULL: none (g_free) */
} ah_persist_figures;

/* The writer of the state file at `path` (nothing is written until a change comes). */
ah_persist_writer *ah_persist_writer_new(const char *path, ah_persist_clock clock);
/* Frees it; whatever was not written is lost: call flush() (or stop work()) first. */
void ah_persist_writer_free(ah_persist_writer *w);

/* Control thread. A row of the file as loaded, into the image without a write. */
void ah_persist_writer_seed(ah_persist_writer *w, const char *tenant, const char *room, const json_t *row);
/* A tenant's row (room NULL) or a room's row changed: `row` (borrowed; serialized here) is its new
 * content, NULL removes it (a tenant's removal removes its rooms). Returns the change's number. */
guint64 ah_persist_writer_put(ah_persist_writer *w, const char *tenant, const char *room, const json_t *row);
/* For `sync`: the number to wait for to have every change so far on disk. When the write that had
 * the latest change failed, a marker change asks for a new attempt now (not at the next retry). */
guint64 ah_persist_writer_sync(ah_persist_writer *w);
/* The last write failed (so the latest changes may not reach the disk). */
gboolean ah_persist_writer_failing(ah_persist_writer *w);

/* Writer thread: wait until there is something to write (a change, or a retry after a failure),
 * write it and say how it went; AH_PERSIST_STOPPED once stop() was called and everything handed
 * over before it has been written (or, after one last attempt, failed). *message: g_free, set on
 * FAILED. */
ah_persist_outcome ah_persist_writer_work(ah_persist_writer *w, char **message);
/* Make work() return STOPPED after a last write of what is pending. Any thread. */
void ah_persist_writer_stop(ah_persist_writer *w);
/* Make a waiting work() return IDLE once (its caller has something else to look at). Any thread. */
void ah_persist_writer_poke(ah_persist_writer *w);
/* Write what is pending now, on the calling thread (shutdown without a writer thread, tests). */
ah_persist_outcome ah_persist_writer_flush(ah_persist_writer *w, char **message);

/* Where change `seq` stands: on disk, in a write that failed (a retry may still bring it), or not
 * written yet. Any thread, never blocks. */
typedef enum { AH_PERSIST_PENDING, AH_PERSIST_DURABLE, AH_PERSIST_LOST } ah_persist_progress;
ah_persist_progress ah_persist_writer_progress(ah_persist_writer *w, guint64 seq);
/* Block until change `seq` is durable (TRUE), a write that covered it failed, stop() was called
 * or `until` (monotonic) passed (FALSE, *message says which; g_free). Never on the control thread. */
gboolean ah_persist_writer_wait(ah_persist_writer *w, guint64 seq, gint64 until, char **message);
void ah_persist_writer_figures(ah_persist_writer *w, ah_persist_figures *out);
/* The figures as status shows them, with `now` (the writer's clock) for the age of the last write. */
json_t *ah_persist_writer_figures_json(ah_persist_writer *w, gint64 now);

#endif
