/* allhands: the Redis client's link (plugin/redis/link.h): the two hiredis connections, their
 * handshakes, subscriptions and commands. With link.h, the only code that touches hiredis.
 *
 * Owns every hiredis object: a command connection and a pub/sub connection, both asynchronous
 * (hiredis 0.14's async API, driven by ah_redis_link_poll, no event library). Runs on the client's
 * thread only (io.c drives it: when to connect, time out, ping); talks to the other threads through
 * queue.c alone. Never takes the lock itself.
 *
 * DESIGN. The two connections form one link with three states. DOWN: nothing open; at `retry_at`
 * (at once when the client starts, then after a backoff of 100 ms doubling to 2 s, reset once
 * connected) both connections are opened: CONNECTING. The command connection pipelines its
 * handshake (AUTH, SELECT, INFO server for the run_id), the pub/sub one AUTH and a SUBSCRIBE per
 * subscription; when every answer has come the link is UP and a CONNECTED event goes out (the
 * queue then accepts commands for sending). Any failure of either connection (refused, closed,
 * an error answer to the handshake, and the timeouts io.c watches) closes both, answers what was
 * in flight with the cause ("timeout" or "disconnected") and goes DOWN with a DISCONNECTED event
 * (not repeated while the attempts keep failing the same way).
 * Commands are sent in submission order on the command connection and kept in `inflight`, also in
 * order: its head is the oldest unanswered command, the only one the timeout needs to look at.
 * A script is sent whole (EVAL) on its first use on a connection, which also loads it into the
 * server's cache, and as EVALSHA after that, so a reconnection (a restart, a failover) never costs a
 * NOSCRIPT; a NOSCRIPT still seen (SCRIPT FLUSH on a live server) re-sends the call whole once.
 *
 * hiredis rules this file lives by (0.14's async.c): a context may be freed by hiredis itself
 * (connect failure, EOF, read or write error); it then calls every pending callback with a NULL
 * reply, then the disconnect callback: a NULL reply, a failed connect callback or a disconnect
 * callback means "this context is being freed": detach it (conn->ac = NULL) and never free it.
 * redisAsyncFree() from a reply callback is deferred by hiredis until the callback returns; from
 * the connect or disconnect callback it would free under hiredis's feet, so neither closes its own
 * context. New connections are opened only by ah_redis_link_start, which io.c calls from its timers,
 * never inside a callback, so a context being freed never shares its `conn` with a new one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "link.h"

/* Handshake steps, as the callbacks' privdata (compared by address) and in reasons. */
static char step_auth[] = "AUTH", step_select[] = "SELECT", step_info[] = "INFO";

/* --- hiredis's event hooks: only record what it wants; the loop polls for it. */

static void ev_add_read(void *data)
{
	((ah_redis_conn *)data)->want_read = TRUE;
}

static void ev_del_read(void *data)
{
	((ah_redis_conn *)data)->want_read = FALSE;
}

static void ev_add_write(void *data)
{
	((ah_redis_conn *)data)->want_write = TRUE;
}

static void ev_del_write(void *data)
{
	((ah_redis_conn *)data)->want_write = FALSE;
}

/* --- Values and replies. */

static ah_redis_value *value_copy(const redisReply *rr)
{
	ah_redis_value *v = g_new0(ah_redis_value, 1);
	switch (rr->type) {
	case REDIS_REPLY_INTEGER:
		v->type = AH_REDIS_INTEGER;
		v->integer = rr->integer;
		break;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		v->type = rr->type == REDIS_REPLY_STRING ? AH_REDIS_STRING
			: rr->type == REDIS_REPLY_STATUS ? AH_REDIS_STATUS : AH_REDIS_ERROR;
		v->len = rr->len;
		v->str = g_malloc(rr->len + 1);
		if (rr->len > 0)
			memcpy(v->str, rr->str, rr->len);
		v->str[rr->len] = '\0';
		break;
	case REDIS_REPLY_ARRAY:
		v->type = AH_REDIS_ARRAY;
		v->n = rr->elements;
		v->elements = g_new0(ah_redis_value *, rr->elements > 0 ? rr->elements : 1);
		for (gsize i = 0; i < rr->elements; i++)
			v->elements[i] = value_copy(rr->element[i]);
		break;
	default:
		v->type = AH_REDIS_NIL;
		break;
	}
	return v;
}

static void emit(ah_redis_io *io, ah_redis_reply *rep)
{
	if (io->stopping)
		ah_redis_reply_free(rep);
	else
		ah_redis_queue_emit(io->r, rep);
}

/* A command that will get no answer from Redis: answered with `status` (or dropped if it is ours). */
void ah_redis_link_fail_cmd(ah_redis_io *io, ah_redis_cmd *cmd, ah_redis_status status)
{
	if (cmd->internal || io->stopping) {
		ah_redis_cmd_free(cmd);
		return;
	}
	ah_redis_reply *rep = ah_redis_reply_new(AH_REDIS_REPLY, cmd->tag);
	rep->status = status;
	rep->rtt_us = g_get_monotonic_time() - cmd->submitted_at;
	rep->value = ah_redis_value_new_error(status == AH_REDIS_E_TIMEOUT ? "timeout" : "disconnected");
	ah_redis_cmd_free(cmd);
	emit(io, rep);
}

/* --- Connections. */

static void conn_close(ah_redis_conn *c)
{
	redisAsyncContext *ac = c->ac;
	c->ac = NULL;
	c->connected = c->ready = FALSE;
	c->handshake_left = 0;
	c->want_read = c->want_write = FALSE;
	/* Runs the pending callbacks with NULL replies now, or after the reply callback we are in. */
	if (ac != NULL)
		redisAsyncFree(ac);
}

/* hiredis is freeing `ac` (a NULL reply, a failed connect, a disconnect callback). */
static void conn_lost(ah_redis_conn *c, const redisAsyncContext *ac)
{
	if (c->ac != ac)
		return; /* we closed it ourselves, the link already knows */
	const char *why = ac->c.err != 0 && ac->c.errstr[0] != '\0' ? ac->c.errstr : "closed";
	const char *what = c->connected ? "connection lost" : "cannot connect";
	c->ac = NULL;
	c->connected = c->ready = FALSE;
	c->want_read = c->want_write = FALSE;
	ah_redis_link_fail(c->io, AH_REDIS_E_DISCONNECTED, "%s: %s", what, why);
}

static void maybe_up(ah_redis_io *io)
{
	if (io->state != LINK_CONNECTING || !io->cmd.ready || !io->sub.ready || io->subs_unconfirmed > 0)
		return;
	io->state = LINK_UP;
	io->backoff_us = AH_REDIS_BACKOFF_MIN_MS * 1000;
	io->last_sent = io->last_answer = g_get_monotonic_time();
	g_clear_pointer(&io->last_reason, g_free);
	ah_redis_reply *rep = ah_redis_reply_new(AH_REDIS_CONNECTED, 0);
	rep->text = g_strdup(io->run_id);
	emit(io, rep);
}

/* INFO server's "run_id:<40 hex>" line: a new value means a restart or another server. */
static void parse_run_id(ah_redis_io *io, const char *info)
{
	const char *p = info != NULL ? strstr(info, "run_id:") : NULL;
	gsize n = 0;
	if (p != NULL) {
		p += strlen("run_id:");
		while (n < sizeof(io->run_id) - 1 && g_ascii_isxdigit(p[n]))
			n++;
	}
	memcpy(io->run_id, p != NULL ? p : "", n);
	io->run_id[n] = '\0';
}

static void on_handshake(redisAsyncContext *ac, void *reply, void *step)
{
	ah_redis_conn *c = ac->data;
	redisReply *rr = reply;
	if (rr == NULL) {
		conn_lost(c, ac);
		return;
	}
	if (c->ac != ac)
		return;
	if (rr->type == REDIS_REPLY_ERROR) {
		ah_redis_link_fail(c->io, AH_REDIS_E_REFUSED, "%s refused: %s", (const char *)step, rr->str);
		return;
	}
	if (step == step_info)
		parse_run_id(c->io, rr->type == REDIS_REPLY_STRING ? rr->str : NULL);
	if (--c->handshake_left == 0) {
		c->ready = TRUE;
		maybe_up(c->io);
	}
}

static void on_sub(redisAsyncContext *ac, void *reply, void *data)
{
	ah_redis_conn *c = ac->data;
	ah_redis_io *io = c->io;
	ah_redis_sub *s = data;
	redisReply *rr = reply;
	if (rr == NULL) {
		conn_lost(c, ac);
		return;
	}
	if (c->ac != ac || rr->type != REDIS_REPLY_ARRAY || rr->elements < 3
		|| rr->element[0]->type != REDIS_REPLY_STRING)
		return;
	const char *kind = rr->element[0]->str;
	if (g_ascii_strcasecmp(kind, "subscribe") == 0) {
		if (s->sent && !s->confirmed) {
			s->confirmed = TRUE;
			io->subs_unconfirmed--;
		}
		ah_redis_reply *rep = ah_redis_reply_new(AH_REDIS_SUBSCRIBED, s->tag);
		rep->channel = g_strdup(s->channel);
		emit(io, rep);
		maybe_up(io);
	} else if (g_ascii_strcasecmp(kind, "message") == 0 && rr->element[2]->type == REDIS_REPLY_STRING) {
		ah_redis_reply *rep = ah_redis_reply_new(AH_REDIS_MESSAGE, s->tag);
		rep->channel = g_strdup(s->channel);
		rep->value = value_copy(rr->element[2]);
		emit(io, rep);
	}
}

/* SUBSCRIBE what this pub/sub connection has not subscribed yet (all of it after a reconnect). */
void ah_redis_link_subscribe(ah_redis_io *io, gint64 now)
{
	ah_redis_conn *c = &io->sub;
	if (c->ac == NULL || !c->connected)
		return;
	for (guint i = 0; i < io->subs->len; i++) {
		ah_redis_sub *s = g_ptr_array_index(io->subs, i);
		const char *argv[2] = { "SUBSCRIBE", s->channel };
		if (s->sent)
			continue;
		if (redisAsyncCommandArgv(c->ac, on_sub, s, 2, argv, NULL) != REDIS_OK)
			return; /* the context is closing: the link fails on its own */
		s->sent = TRUE;
		s->confirmed = FALSE;
		s->sent_at = now;
		io->subs_unconfirmed++;
	}
}

static void handshake_send(ah_redis_conn *c)
{
	ah_redis_io *io = c->io;
	ah_redis *r = io->r;
	c->handshake_left = 0;
	if (r->password != NULL) {
		const char *argv[3] = { "AUTH", r->username != NULL ? r->username : r->password, r->password };
		redisAsyncCommandArgv(c->ac, on_handshake, step_auth, r->username != NULL ? 3 : 2, argv, NULL);
		c->handshake_left++;
	}
	if (c == &io->cmd) {
		char db[16];
		const char *select[2] = { "SELECT", db };
		const char *info[2] = { "INFO", "server" };
		if (r->db != 0) {
			g_snprintf(db, sizeof(db), "%d", r->db);
			redisAsyncCommandArgv(c->ac, on_handshake, step_select, 2, select, NULL);
			c->handshake_left++;
		}
		redisAsyncCommandArgv(c->ac, on_handshake, step_info, 2, info, NULL);
		c->handshake_left++;
	} else {
		ah_redis_link_subscribe(io, g_get_monotonic_time());
		c->ready = c->handshake_left == 0;
		maybe_up(io);
	}
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	ah_redis_conn *c = ac->data;
	if (c->ac != ac)
		return;
	if (status != REDIS_OK) {
		conn_lost(c, ac);
		return;
	}
	/* Only queue commands here: closing this context from its connect callback is not allowed. */
	c->connected = TRUE;
	handshake_send(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	conn_lost(ac->data, ac);
}

static gboolean conn_open(ah_redis_conn *c)
{
	ah_redis *r = c->io->r;
	redisAsyncContext *ac = r->unix_path != NULL ? redisAsyncConnectUnix(r->unix_path)
		: redisAsyncConnect(r->host, r->port);
	if (ac == NULL || ac->err != 0) {
		char *why = g_strdup(ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		ah_redis_link_fail(c->io, AH_REDIS_E_DISCONNECTED, "cannot connect: %s", why);
		g_free(why);
		return FALSE;
	}
	/* hiredis 0.14 opens sockets without close-on-exec. */
	(void)fcntl(ac->c.fd, F_SETFD, FD_CLOEXEC);
	if (r->unix_path == NULL)
		(void)redisEnableKeepAlive(&ac->c);
	ac->data = c;
	ac->ev.data = c;
	ac->ev.addRead = ev_add_read;
	ac->ev.delRead = ev_del_read;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	/* No cleanup hook: whoever detaches a context clears the conn's wishes (conn_close, conn_lost). */
	c->ac = ac;
	c->want_read = c->want_write = FALSE;
	/* The connect callback comes with the first write event (the hooks must be in place first). */
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	return TRUE;
}

void ah_redis_link_start(ah_redis_io *io, gint64 now)
{
	io->state = LINK_CONNECTING;
	io->connect_deadline = now + io->r->connect_timeout_us;
	if (conn_open(&io->cmd))
		conn_open(&io->sub);
}

void ah_redis_link_fail(ah_redis_io *io, ah_redis_status cause, const char *fmt, ...)
{
	va_list ap;
	char *reason;
	gboolean was_up = io->state == LINK_UP;
	if (io->state == LINK_DOWN)
		return; /* a second report of the same failure (the other connection, a pending callback) */
	va_start(ap, fmt);
	reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	io->state = LINK_DOWN;
	io->cause = cause;
	io->retry_at = g_get_monotonic_time() + io->backoff_us;
	io->backoff_us = MIN(io->backoff_us * 2, (gint64)AH_REDIS_BACKOFF_MAX_MS * 1000);
	if (io->stopping) {
		/* nothing to report */
	} else if (was_up || g_strcmp0(reason, io->last_reason) != 0) {
		ah_redis_reply *rep = ah_redis_reply_new(AH_REDIS_DISCONNECTED, 0);
		rep->status = cause;
		rep->text = g_strdup(reason);
		ah_redis_queue_emit(io->r, rep);
	} else {
		ah_redis_queue_down_quietly(io->r);
	}
	g_free(io->last_reason);
	io->last_reason = reason;
	for (guint i = 0; i < io->subs->len; i++) {
		ah_redis_sub *s = g_ptr_array_index(io->subs, i);
		s->sent = s->confirmed = FALSE;
	}
	io->subs_unconfirmed = 0;
	g_hash_table_remove_all(io->loaded);
	/* Commands in flight are answered with `cause` by their callbacks, as hiredis frees the context. */
	conn_close(&io->cmd);
	conn_close(&io->sub);
}

/* --- Commands. */

static void on_reply(redisAsyncContext *ac, void *reply, void *data);

void ah_redis_link_send(ah_redis_io *io, ah_redis_cmd *cmd, gint64 now)
{
	enum { STACK_ARGS = 16 };
	const char *argv_stack[STACK_ARGS];
	size_t lens_stack[STACK_ARGS];
	int extra = cmd->script != NULL ? 3 : 0, n = cmd->argc + extra;
	const char **argv = n <= STACK_ARGS ? argv_stack : g_new(const char *, n);
	size_t *lens = n <= STACK_ARGS ? lens_stack : g_new(size_t, n);
	char nkeys[16];
	int status = REDIS_ERR;
	if (cmd->script != NULL) {
		ah_redis_script *s = cmd->script;
		gboolean whole = !g_hash_table_contains(io->loaded, s->sha1);
		argv[0] = whole ? "EVAL" : "EVALSHA";
		argv[1] = whole ? s->source : s->sha1;
		lens[1] = whole ? s->len : strlen(s->sha1);
		g_snprintf(nkeys, sizeof(nkeys), "%d", cmd->nkeys);
		argv[2] = nkeys;
		if (whole) {
			/* Pipelined in order: the calls sent after this one find it in the server's cache. */
			g_hash_table_add(io->loaded, g_strdup(s->sha1));
			io->evals++;
		}
	}
	for (int i = 0; i < extra; i++)
		if (i != 1)
			lens[i] = strlen(argv[i]);
	for (int i = 0; i < cmd->argc; i++) {
		argv[extra + i] = cmd->argv[i];
		lens[extra + i] = cmd->lens[i];
	}
	if (io->cmd.ac != NULL)
		status = redisAsyncCommandArgv(io->cmd.ac, on_reply, cmd, n, argv, lens);
	if (argv != argv_stack) {
		g_free(argv);
		g_free(lens);
	}
	if (status != REDIS_OK) {
		ah_redis_link_fail_cmd(io, cmd, AH_REDIS_E_DISCONNECTED);
		return;
	}
	cmd->sent_at = now;
	io->last_sent = now;
	g_queue_push_tail(&io->inflight, cmd);
	io->sent++;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *data)
{
	ah_redis_conn *c = ac->data;
	ah_redis_io *io = c->io;
	ah_redis_cmd *cmd = data;
	redisReply *rr = reply;
	/* Answers come in the order of sending: this is the head, unless a NOSCRIPT re-send reordered. */
	if (g_queue_peek_head(&io->inflight) == cmd)
		g_queue_pop_head(&io->inflight);
	else
		g_queue_remove(&io->inflight, cmd);
	if (rr == NULL) {
		conn_lost(c, ac);
		ah_redis_link_fail_cmd(io, cmd, io->cause);
		return;
	}
	io->last_answer = g_get_monotonic_time();
	if (cmd->script != NULL && !cmd->resent && rr->type == REDIS_REPLY_ERROR
		&& g_str_has_prefix(rr->str, "NOSCRIPT")) {
		g_hash_table_remove(io->loaded, cmd->script->sha1);
		io->noscript++;
		cmd->resent = TRUE;
		ah_redis_link_send(io, cmd, g_get_monotonic_time());
		return;
	}
	if (cmd->internal) {
		ah_redis_cmd_free(cmd);
		return;
	}
	ah_redis_reply *rep = ah_redis_reply_new(AH_REDIS_REPLY, cmd->tag);
	rep->status = AH_REDIS_OK;
	rep->rtt_us = g_get_monotonic_time() - cmd->submitted_at;
	rep->value = value_copy(rr);
	ah_redis_cmd_free(cmd);
	emit(io, rep);
}

void ah_redis_link_ping(ah_redis_io *io, gint64 now)
{
	const char *argv[1] = { "PING" };
	ah_redis_cmd *ping = ah_redis_cmd_new(0, NULL, 0, 1, argv, NULL);
	ping->internal = TRUE;
	ping->submitted_at = now;
	ah_redis_link_send(io, ping, now);
}

/* The oldest SUBSCRIBE still unanswered, or 0. */
gint64 ah_redis_link_oldest_subscribe(ah_redis_io *io)
{
	gint64 oldest = 0;
	for (guint i = 0; i < io->subs->len; i++) {
		ah_redis_sub *s = g_ptr_array_index(io->subs, i);
		if (s->sent && !s->confirmed && (oldest == 0 || s->sent_at < oldest))
			oldest = s->sent_at;
	}
	return oldest;
}

void ah_redis_link_poll(ah_redis_io *io, int timeout_ms)
{
	struct pollfd fds[3];
	ah_redis_conn *conns[3] = { NULL, &io->cmd, &io->sub };
	redisAsyncContext *acs[3] = { NULL, io->cmd.ac, io->sub.ac };
	fds[0].fd = io->r->wake_fd;
	fds[0].events = POLLIN;
	for (int i = 1; i < 3; i++) {
		fds[i].fd = acs[i] != NULL ? acs[i]->c.fd : -1; /* poll() skips a negative fd */
		fds[i].events = (conns[i]->want_read ? POLLIN : 0) | (conns[i]->want_write ? POLLOUT : 0);
		fds[i].revents = 0;
	}
	if (poll(fds, 3, timeout_ms) <= 0)
		return;
	if (fds[0].revents & POLLIN) {
		guint64 count;
		(void)!read(io->r->wake_fd, &count, sizeof(count));
	}
	for (int i = 1; i < 3; i++) {
		ah_redis_conn *c = conns[i];
		short re = fds[i].revents;
		/* Each step may free the context (hiredis on an error, or a failure closing both). */
		if (re == 0 || c->ac != acs[i])
			continue;
		if ((re & (POLLOUT | POLLERR | POLLHUP)) && c->want_write)
			redisAsyncHandleWrite(acs[i]);
		if (c->ac == acs[i] && (re & (POLLIN | POLLERR | POLLHUP)))
			redisAsyncHandleRead(acs[i]);
	}
}

void ah_redis_link_close(ah_redis_io *io)
{
	io->state = LINK_DOWN;
	conn_close(&io->cmd);
	conn_close(&io->sub);
}
