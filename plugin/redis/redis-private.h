/* allhands: the Redis client's insides, shared by the files of plugin/redis (include/allhands/redis.h).
 *
 * Five files, arrows pointing down only:
 *   client.c  the public entry points that build commands and start or stop the client;
 *   io.c      the client's thread: its loop, the backoff, the timeouts, the idle PING;
 *   link.c    the hiredis connections (link.h): handshakes, subscriptions, commands, failures;
 *   queue.c   the hand-over between the client's thread and the others: the only file that takes
 *             `lock` (submitted commands in, replies and events out, counters);
 *   data.c    values, replies, commands and scripts: allocation, copies, names.
 * Only link.c includes hiredis.
 *
 * Lock: one, `lock`, innermost; never held while calling out (wake, hiredis) or allocating a reply.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef AH_REDIS_PRIVATE_H
#define AH_REDIS_PRIVATE_H

#include "allhands/redis.h"

struct ah_redis_script {
	gint refs;
	char *source;
	gsize len;
	char sha1[41];
};

/* A submitted command. The caller's arguments live in one block (argv[i] points into it). */
typedef struct {
	guint64 tag;
	gboolean internal;              /* the client's own PING: never reported */
	ah_redis_script *script;        /* a script call (a reference), NULL: a plain command */
	int nkeys;                      /* script calls: how many of argv are keys */
	int argc;
	char **argv;
	size_t *lens;
	gint64 submitted_at;            /* monotonic, for the round-trip time */
	gint64 sent_at;                 /* monotonic, for the command timeout */
	gboolean resent;                /* a script call re-sent whole after NOSCRIPT */
} ah_redis_cmd;

/* A subscription (channel -> tag); lives as long as the client. */
typedef struct {
	char *channel;
	guint64 tag;
	/* The client's thread only, for the current pub/sub connection: */
	gboolean sent, confirmed;
	gint64 sent_at;
} ah_redis_sub;

typedef struct ah_redis_io ah_redis_io;

struct ah_redis {
	/* Set by ah_redis_new, read-only afterwards. */
	char *unix_path, *host, *username, *password;
	int port, db;
	gint64 connect_timeout_us, command_timeout_us, ping_interval_us;
	guint max_queued;
	void (*wake)(gpointer user);
	gpointer user;
	int wake_fd;                    /* eventfd: the client's thread sleeps in poll() on it */

	/* Under `lock` (queue.c). */
	GMutex lock;
	GQueue in;                      /* ah_redis_cmd*: submitted, not yet taken by the thread */
	GPtrArray *new_subs;            /* ah_redis_sub*: subscribed, not yet taken by the thread */
	GHashTable *channels;           /* every channel subscribed (a second subscription is refused) */
	GQueue out;                     /* ah_redis_reply*: ready for poll */
	gboolean up;                    /* connected: commands are taken for sending */
	gboolean stopping;
	gboolean kicked;                /* wake_fd was written since the thread last took its input */
	guint queued;                   /* commands accepted and not yet polled */
	ah_redis_stats st;              /* counters; connected, queued and the percentiles filled on read */
	gint64 rtt[AH_REDIS_RTT_RING];  /* last round-trip times, a ring */
	guint rtt_next, rtt_count;

	GThread *thread;
	ah_redis_io *io;                /* the thread's own state (io.c) */
};

/* data.c */
ah_redis_value *ah_redis_value_new_error(const char *message);
void ah_redis_value_free(ah_redis_value *v);
ah_redis_reply *ah_redis_reply_new(ah_redis_event event, guint64 tag);
/* A command with copies of argv/lens (lens NULL: strlen); `script` is referenced. */
ah_redis_cmd *ah_redis_cmd_new(guint64 tag, ah_redis_script *script, int nkeys, int argc, const char **argv,
	const size_t *lens);
void ah_redis_cmd_free(ah_redis_cmd *c);
void ah_redis_sub_free(gpointer sub);

/* queue.c: any thread unless said otherwise. */
/* Accepts a command (TRUE) or refuses it when max_queued commands wait (FALSE, a drop). When the
 * client is not connected the command is answered at once with a "disconnected" failure. Takes `c`. */
gboolean ah_redis_queue_command(ah_redis *r, ah_redis_cmd *c);
/* Registers a subscription for the thread; FALSE (and `s` freed) if its channel is taken. Takes `s`. */
gboolean ah_redis_queue_subscription(ah_redis *r, ah_redis_sub *s);
/* Client's thread: moves the submitted commands to `cmds` and new subscriptions to `subs`; TRUE when
 * the client is stopping. */
gboolean ah_redis_queue_take(ah_redis *r, GQueue *cmds, GPtrArray *subs);
/* Client's thread: hands a reply or event to the owner (takes it) and keeps the counters and the
 * connected flag in step with it; wakes the owner when the queue was empty. */
void ah_redis_queue_emit(ah_redis *r, ah_redis_reply *rep);
/* Client's thread: a connection attempt failed like the one before: counted, no event repeated. */
void ah_redis_queue_down_quietly(ah_redis *r);
/* Client's thread: counters kept locally between two looks at the queue. */
void ah_redis_queue_count(ah_redis *r, guint64 sent, guint64 evals, guint64 noscript);
/* Wakes the client's thread (its poll() on wake_fd); `stop` asks it to end first. */
void ah_redis_queue_kick(ah_redis *r, gboolean stop);

/* io.c: called by ah_redis_new and ah_redis_free only. */
gboolean ah_redis_io_start(ah_redis *r, GError **error);
void ah_redis_io_stop(ah_redis *r);

#endif
