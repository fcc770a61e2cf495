/* allhands: the Redis client's link, shared by the client's thread (io.c) and the hiredis code
 * (link.c): the state of both connections and what the thread asks of them.
 *
 * The client's thread only. Names hiredis's context but includes no hiredis header: only link.c
 * does. See link.c for the link's states and the rules of hiredis it lives by.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef AH_REDIS_LINK_H
#define AH_REDIS_LINK_H

#include "redis-private.h"

struct redisAsyncContext;

typedef struct {
	ah_redis_io *io;
	struct redisAsyncContext *ac;   /* NULL: none, or hiredis is freeing it */
	gboolean want_read, want_write; /* what hiredis asked to be told about */
	gboolean connected;             /* the socket is connected: the handshake was sent */
	gboolean ready;                 /* the handshake was answered */
	guint handshake_left;           /* answers still expected */
} ah_redis_conn;

typedef enum { LINK_DOWN, LINK_CONNECTING, LINK_UP } ah_redis_link_state;

struct ah_redis_io {
	ah_redis *r;
	ah_redis_conn cmd, sub;
	ah_redis_link_state state;
	ah_redis_status cause;          /* DOWN: why; the answer of commands still in flight */
	gint64 retry_at;                /* DOWN: next attempt */
	gint64 backoff_us;              /* the wait after the next failure */
	gint64 connect_deadline;        /* CONNECTING */
	gint64 last_sent;               /* UP: for the idle PING */
	gint64 last_answer;             /* UP: the command connection's last answer */
	GQueue inflight;                /* ah_redis_cmd* sent on the command connection, in order */
	GHashTable *loaded;             /* SHA1s of the scripts sent whole on this connection */
	GPtrArray *subs;                /* ah_redis_sub*, every subscription (owned) */
	guint subs_unconfirmed;         /* SUBSCRIBEs sent on this connection, not yet answered */
	char run_id[41];
	char *last_reason;              /* of the last DISCONNECTED event; NULL once connected */
	gboolean stopping;              /* nothing is reported any more */
	guint64 sent, evals, noscript;  /* counters not yet handed to queue.c */
};

/* DOWN -> CONNECTING: opens both connections (a failure to open goes DOWN again at once). */
void ah_redis_link_start(ah_redis_io *io, gint64 now);
/* Any state -> DOWN: closes both connections, reports `cause` (once per kind of failure), sets the
 * next attempt after the backoff. Nothing if already DOWN. */
void ah_redis_link_fail(ah_redis_io *io, ah_redis_status cause, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* The end: closes both connections, reporting nothing (io->stopping set by the caller). */
void ah_redis_link_close(ah_redis_io *io);
/* UP: sends a command (takes it). */
void ah_redis_link_send(ah_redis_io *io, ah_redis_cmd *cmd, gint64 now);
/* Answers a command that will get nothing from Redis with `status` (takes it). */
void ah_redis_link_fail_cmd(ah_redis_io *io, ah_redis_cmd *cmd, ah_redis_status status);
/* UP: the client's own PING, unreported. */
void ah_redis_link_ping(ah_redis_io *io, gint64 now);
/* SUBSCRIBE what the pub/sub connection has not subscribed yet, if it is connected. */
void ah_redis_link_subscribe(ah_redis_io *io, gint64 now);
/* When the oldest SUBSCRIBE still unanswered was sent, 0: none. */
gint64 ah_redis_link_oldest_subscribe(ah_redis_io *io);
/* Sleeps in poll() on the wake eventfd and both connections for at most `timeout_ms`, then lets
 * hiredis read and write what is ready (its callbacks run from here). */
void ah_redis_link_poll(ah_redis_io *io, int timeout_ms);

#endif
