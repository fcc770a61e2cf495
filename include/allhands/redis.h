/* allhands: the confined Redis client (issue 13, cluster mode).
 *
 * The one place in allhands that talks to Redis. A client owns one thread that owns every hiredis
 * object: a command connection (commands pipelined in submission order) and a pub/sub connection.
 * Other threads (the control thread) only hand it commands and take completed replies and state
 * events, through a bounded queue, without ever waiting on the network: submit() copies its input
 * and returns at once, poll() returns at once, and `wake(user)` tells the owner that something is
 * ready to poll. The client reconnects by itself (backoff 100 ms doubling to 2 s), re-authenticates,
 * re-selects the db and re-subscribes; commands submitted while it is not connected are answered at
 * once with a "disconnected" failure, and a command that has waited the command timeout while no
 * answer at all came on its connection is answered with a "timeout" failure (the connection is then
 * dropped and reopened: hiredis cannot cancel one command). Behaviour, config keys and failure
 * handling: docs/cluster.md, "Redis connection".
 *
 * Threads: every function may be called from any thread (poll() by one consumer at a time), except
 * ah_redis_free(), which must not run concurrently with the others on the same client nor from
 * `wake`. `wake` runs on the client's thread or, for a failure answered at submit time, on the
 * submitting thread; it must be cheap and must not call back into the client. It is edge-triggered:
 * it is called when the queue of ready replies goes from empty to non-empty, so after each wake the
 * owner polls until poll() returns NULL.
 * No Janus header, no hiredis type in this interface: GLib only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_REDIS_H
#define ALLHANDS_REDIS_H

#include <glib.h>

/* Defaults of the config's zero fields. */
#define AH_REDIS_DEFAULT_PORT 6379
#define AH_REDIS_DEFAULT_CONNECT_TIMEOUT_MS 2000
#define AH_REDIS_DEFAULT_COMMAND_TIMEOUT_MS 2000
#define AH_REDIS_DEFAULT_MAX_QUEUED 10000
#define AH_REDIS_DEFAULT_PING_INTERVAL_MS 1000
/* Reconnection backoff: first retry after the minimum, doubling up to the maximum. */
#define AH_REDIS_BACKOFF_MIN_MS 100
#define AH_REDIS_BACKOFF_MAX_MS 2000
/* The round-trip percentiles are over this many last replies. */
#define AH_REDIS_RTT_RING 1024

/* Errors of ah_redis_new() (a bad config, or the thread could not start). */
#define AH_REDIS_CLIENT_ERROR (ah_redis_client_error_quark())
typedef enum {
	AH_REDIS_CLIENT_ERROR_CONFIG,
	AH_REDIS_CLIENT_ERROR_START,
} ah_redis_client_error_code;
GQuark ah_redis_client_error_quark(void);

typedef struct {
	const char *unix_path;          /* Unix socket; when set, host and port are not used */
	const char *host;               /* TCP host name or address (resolved on the client's thread) */
	int port;                       /* 1..65535, 0: AH_REDIS_DEFAULT_PORT */
	const char *username;           /* AUTH username (Redis 6 ACL), NULL: the default user */
	const char *password;           /* AUTH password, NULL or "": no AUTH */
	int db;                         /* SELECT db (0..), 0: no SELECT */
	guint connect_timeout_ms;       /* connect and handshake, 0: default */
	guint command_timeout_ms;       /* a command's answer, 0: default */
	guint ping_interval_ms;         /* PING on an idle connection (detects a dead link), 0: default */
	guint max_queued;               /* commands submitted and not yet polled, 0: default */
} ah_redis_config;

typedef struct ah_redis ah_redis;

/* A copy of a Redis reply (RESP2), owned by the ah_redis_reply it came in. */
typedef enum {
	AH_REDIS_NIL,
	AH_REDIS_INTEGER,
	AH_REDIS_STRING,                /* a bulk string (may hold NUL bytes: use len) */
	AH_REDIS_STATUS,                /* a simple string such as "OK" */
	AH_REDIS_ERROR,                 /* an error reply such as "WRONGTYPE ..." */
	AH_REDIS_ARRAY,
} ah_redis_type;

typedef struct ah_redis_value ah_redis_value;
struct ah_redis_value {
	ah_redis_type type;
	gint64 integer;                 /* INTEGER */
	char *str;                      /* STRING, STATUS, ERROR: NUL-terminated, len bytes before the NUL */
	gsize len;
	ah_redis_value **elements;      /* ARRAY: n elements (an element may be NIL) */
	gsize n;
};

/* What a poll() returns. */
typedef enum {
	AH_REDIS_REPLY,                 /* a submitted command's answer: tag, status, rtt_us, value */
	AH_REDIS_MESSAGE,               /* pub/sub: tag of the subscription, channel, value (the payload) */
	AH_REDIS_SUBSCRIBED,            /* subscription `tag` is active (again, after each reconnect) */
	AH_REDIS_CONNECTED,             /* commands are accepted; text: the server's run_id */
	AH_REDIS_DISCONNECTED,          /* commands fail fast until CONNECTED; status: why; text: details */
} ah_redis_event;

/* Why a command got no answer from Redis (REPLY) or why the client is not connected (DISCONNECTED). */
typedef enum {
	AH_REDIS_OK,                    /* REPLY: value is Redis's answer (which may be an ERROR reply) */
	AH_REDIS_E_DISCONNECTED,        /* no connection, connection lost or refused */
	AH_REDIS_E_TIMEOUT,             /* no answer within the command (or connect) timeout */
	AH_REDIS_E_REFUSED,             /* the server refused the handshake (AUTH, SELECT, NOAUTH, LOADING) */
} ah_redis_status;

typedef struct {
	ah_redis_event event;
	guint64 tag;                    /* REPLY: the command's; MESSAGE, SUBSCRIBED: the subscription's */
	ah_redis_status status;         /* REPLY, DISCONNECTED */
	gint64 rtt_us;                  /* REPLY: from submit to the answer's arrival */
	ah_redis_value *value;          /* REPLY (an ERROR "disconnected" or "timeout" when status is
	                                 * not OK), MESSAGE */
	char *channel;                  /* MESSAGE, SUBSCRIBED */
	char *text;                     /* CONNECTED: run_id; DISCONNECTED: the reason, for logs */
} ah_redis_reply;

/* Figures for metrics (counters since the client started). */
typedef struct {
	gboolean connected;
	guint64 submitted;              /* commands accepted by submit */
	guint64 sent;                   /* commands written to a connection (a NOSCRIPT re-send counts) */
	guint64 replies;                /* answers from Redis delivered (including error replies) */
	guint64 errors;                 /* of which error replies */
	guint64 failed_disconnected;    /* commands answered "disconnected" */
	guint64 timeouts;               /* commands answered "timeout" */
	guint64 drops;                  /* submits refused because the queue was full */
	guint64 connects;               /* handshakes completed (connects - 1: reconnections) */
	guint64 connect_failures;       /* connection attempts or live connections that failed */
	guint64 script_evals;           /* scripts sent whole (EVAL: first use on a connection, NOSCRIPT) */
	guint64 script_noscript;        /* NOSCRIPT answers hidden from the caller by a re-send */
	guint64 messages;               /* pub/sub messages delivered */
	guint64 messages_dropped;       /* pub/sub messages dropped: max_queued replies were waiting */
	guint queued;                   /* commands submitted and not yet polled */
	guint rtt_samples;              /* replies in the percentile window (<= AH_REDIS_RTT_RING) */
	gint64 rtt_p50_us, rtt_p99_us;  /* over the last rtt_samples replies, 0 when none */
	char run_id[41];                /* of the server last connected to, "" before */
} ah_redis_stats;

/* A Lua script, registered once (its SHA1 is computed here) and used by any number of clients.
 * Reference-counted: a command holds a reference until it is answered. */
typedef struct ah_redis_script ah_redis_script;
ah_redis_script *ah_redis_script_new(const char *source);
ah_redis_script *ah_redis_script_ref(ah_redis_script *s);
void ah_redis_script_unref(ah_redis_script *s);
/* 40 lowercase hex digits. */
const char *ah_redis_script_sha1(const ah_redis_script *s);

/* Starts a client and its thread, which connects at once. NULL with *error on a bad config
 * (AH_REDIS_CLIENT_ERROR_CONFIG: neither unix_path nor host, a port or db out of range) or if the thread
 * could not start. Strings of `c` are copied. `wake` may be NULL (the owner then polls on its own). */
ah_redis *ah_redis_new(const ah_redis_config *c, void (*wake)(gpointer user), gpointer user, GError **error);
/* Stops the thread and frees everything; commands not yet answered get no reply. NULL is allowed. */
void ah_redis_free(ah_redis *r);

/* Queues a command (argv[0] is its name; lens NULL: the arguments are C strings). Copies its input,
 * never blocks. FALSE (counted in `drops`) when max_queued commands are already waiting to be
 * polled, or argc < 1; otherwise exactly one REPLY with this tag follows. */
gboolean ah_redis_submit(ah_redis *r, guint64 tag, int argc, const char **argv, const size_t *lens);
/* Queues a script call: argv holds nkeys keys then the other arguments (argc in all). Sent as
 * EVALSHA, or as EVAL on its first use on a connection; a NOSCRIPT answer (the server's script
 * cache was flushed) is never seen: the call is re-sent whole and its answer comes then, possibly
 * after answers to commands submitted later. Same return as ah_redis_submit. */
gboolean ah_redis_submit_script(ah_redis *r, guint64 tag, ah_redis_script *s, int nkeys, int argc,
	const char **argv, const size_t *lens);
/* Subscribes to `channel` on the pub/sub connection, for the client's life (again after each
 * reconnect): SUBSCRIBED then MESSAGE replies come with `tag`. FALSE if the channel is already
 * subscribed or empty. Messages published while the client is not connected are lost (pub/sub
 * stores nothing), and so are those that arrive while max_queued replies wait to be polled. */
gboolean ah_redis_subscribe(ah_redis *r, guint64 tag, const char *channel);

/* The next reply or event, NULL when none is ready. Never blocks. Free it with ah_redis_reply_free. */
ah_redis_reply *ah_redis_poll(ah_redis *r);
void ah_redis_reply_free(ah_redis_reply *reply);

void ah_redis_get_stats(ah_redis *r, ah_redis_stats *out);

/* Helpers for reading replies: the name of a type, event or status (static strings). */
const char *ah_redis_type_name(ah_redis_type t);
const char *ah_redis_event_name(ah_redis_event e);
const char *ah_redis_status_name(ah_redis_status s);

#endif
