/* allhands: the Redis client's thread (plugin/redis/redis-private.h): its loop and its clocks.
 *
 * Owns the thread and the link's timing: when to open the connections (the backoff), how long the
 * handshake, a command and a SUBSCRIBE may go unanswered, when an idle link is PINGed (so a dead link
 * or a stopped server is found even when nobody submits). Each turn of the loop takes what other
 * threads submitted (queue.c), sends it or answers it "disconnected", runs the clocks, then sleeps in
 * poll() until the next deadline, a submission or a connection's traffic (link.c, the only code that
 * touches hiredis). The client's thread only, except start and stop (as a client is made and freed).
 *
 * The command timeout runs while no answer at all comes on the command connection: a command queued
 * behind a long pipeline waits while the answers before it keep coming (a busy server is not a dead
 * one); a stopped server or a link that went down answers nothing, and its commands time out.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "link.h"

/* Since when the oldest command has been waiting with no answer coming at all. */
static gint64 waiting_since(ah_redis_io *io, const ah_redis_cmd *head)
{
	return MAX(head->sent_at, io->last_answer);
}

/* When timers() has something to do next (monotonic). */
static gint64 next_deadline(ah_redis_io *io)
{
	ah_redis *r = io->r;
	ah_redis_cmd *head;
	gint64 next, oldest;
	switch (io->state) {
	case LINK_DOWN:
		return io->retry_at;
	case LINK_CONNECTING:
		return io->connect_deadline;
	case LINK_UP:
	default:
		head = g_queue_peek_head(&io->inflight);
		next = head != NULL ? waiting_since(io, head) + r->command_timeout_us
			: io->last_sent + r->ping_interval_us;
		oldest = ah_redis_link_oldest_subscribe(io);
		return oldest != 0 ? MIN(next, oldest + r->command_timeout_us) : next;
	}
}

static void timers(ah_redis_io *io, gint64 now)
{
	ah_redis *r = io->r;
	ah_redis_cmd *head;
	gint64 oldest;
	switch (io->state) {
	case LINK_DOWN:
		if (now >= io->retry_at)
			ah_redis_link_start(io, now);
		break;
	case LINK_CONNECTING:
		if (now >= io->connect_deadline)
			ah_redis_link_fail(io, AH_REDIS_E_TIMEOUT, "no answer to the handshake within %" G_GINT64_FORMAT
				" ms", r->connect_timeout_us / 1000);
		break;
	case LINK_UP:
		head = g_queue_peek_head(&io->inflight);
		oldest = ah_redis_link_oldest_subscribe(io);
		if ((head != NULL && now - waiting_since(io, head) >= r->command_timeout_us)
			|| (oldest != 0 && now - oldest >= r->command_timeout_us))
			ah_redis_link_fail(io, AH_REDIS_E_TIMEOUT, "no answer within %" G_GINT64_FORMAT " ms",
				r->command_timeout_us / 1000);
		else if (head == NULL && now - io->last_sent >= r->ping_interval_us)
			ah_redis_link_ping(io, now);
		break;
	}
}

static gpointer io_main(gpointer data)
{
	ah_redis_io *io = data;
	ah_redis *r = io->r;
	sigset_t pipe;
	/* A write to a connection the server closed must fail with EPIPE, not kill the process. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	for (;;) {
		GQueue cmds;
		ah_redis_cmd *cmd;
		gboolean stop = ah_redis_queue_take(r, &cmds, io->subs);
		gint64 now = g_get_monotonic_time();
		while ((cmd = g_queue_pop_head(&cmds)) != NULL) {
			if (stop)
				ah_redis_cmd_free(cmd);
			else if (io->state == LINK_UP)
				ah_redis_link_send(io, cmd, now);
			else
				ah_redis_link_fail_cmd(io, cmd, AH_REDIS_E_DISCONNECTED);
		}
		if (stop)
			break;
		ah_redis_link_subscribe(io, now);
		timers(io, now);
		gint64 wait_us = next_deadline(io) - now;
		ah_redis_link_poll(io, wait_us <= 0 ? 0 : (int)MIN((wait_us + 999) / 1000, 60000));
		if (io->sent != 0 || io->evals != 0 || io->noscript != 0) {
			ah_redis_queue_count(r, io->sent, io->evals, io->noscript);
			io->sent = io->evals = io->noscript = 0;
		}
	}
	io->stopping = TRUE;
	ah_redis_link_close(io);
	return NULL;
}

static void io_free(ah_redis_io *io)
{
	ah_redis_cmd *cmd;
	while ((cmd = g_queue_pop_head(&io->inflight)) != NULL)
		ah_redis_cmd_free(cmd);
	g_hash_table_destroy(io->loaded);
	g_ptr_array_unref(io->subs);
	g_free(io->last_reason);
	g_free(io);
}

gboolean ah_redis_io_start(ah_redis *r, GError **error)
{
	ah_redis_io *io = g_new0(ah_redis_io, 1);
	io->r = r;
	io->cmd.io = io->sub.io = io;
	io->state = LINK_DOWN;
	io->retry_at = 0; /* the first attempt at once */
	io->backoff_us = AH_REDIS_BACKOFF_MIN_MS * 1000;
	g_queue_init(&io->inflight);
	io->loaded = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	io->subs = g_ptr_array_new_with_free_func(ah_redis_sub_free);
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->wake_fd < 0) {
		g_set_error(error, AH_REDIS_CLIENT_ERROR, AH_REDIS_CLIENT_ERROR_START, "eventfd: %s", g_strerror(errno));
		io_free(io);
		return FALSE;
	}
	r->io = io;
	r->thread = g_thread_try_new("ah-redis", io_main, io, error);
	if (r->thread == NULL) {
		close(r->wake_fd);
		r->wake_fd = -1;
		r->io = NULL;
		io_free(io);
		return FALSE;
	}
	return TRUE;
}

void ah_redis_io_stop(ah_redis *r)
{
	if (r->thread == NULL)
		return;
	ah_redis_queue_kick(r, TRUE);
	g_thread_join(r->thread);
	r->thread = NULL;
	io_free(r->io);
	r->io = NULL;
	close(r->wake_fd);
	r->wake_fd = -1;
}
