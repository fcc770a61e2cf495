/* allhands: a real redis-server for the seat ledger's test and benchmark (test-ledger-redis.c,
 * bench/bench-ledger.c): started on a Unix socket in a fresh temporary folder, no TCP port, no
 * persistence unless asked; stopped by its PID. Also runs a ledger command (ah_ledger_cmd) with hiredis's
 * synchronous API, EVALSHA first and EVAL after NOSCRIPT, as the Redis client does. Test code only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef AH_TEST_REDIS_FIXTURE_H
#define AH_TEST_REDIS_FIXTURE_H

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <hiredis/hiredis.h>

#include "allhands/ledger-redis.h"

typedef struct {
	GPid pid;
	char *dir;    /* the server's folder: socket, log and, with snapshots, dump.rdb */
	char *socket;
} test_redis;

/* In the child before exec: the server dies with the test, even when a failed assertion aborts it. */
static void test_redis_child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Start redis-server in `dir` (made when NULL) and wait until it answers PING. No automatic snapshots
 * (--save ''), but the SAVE command writes dump.rdb, which a restart in the same folder loads: that is
 * how a test makes a server that lost its latest writes. NULL on failure. */
static G_GNUC_UNUSED test_redis *test_redis_start(const char *dir, GError **error)
{
	test_redis *r = g_new0(test_redis, 1);
	char *log;
	const char *argv[] = { "redis-server", "--port", "0", "--unixsocket", NULL, "--unixsocketperm", "700",
		"--dir", NULL, "--save", "", "--appendonly", "no", "--logfile", NULL, NULL };
	r->dir = dir != NULL ? g_strdup(dir) : g_dir_make_tmp("ah-ledger-redis-XXXXXX", error);
	if (r->dir == NULL) {
		g_free(r);
		return NULL;
	}
	r->socket = g_build_filename(r->dir, "redis.sock", NULL);
	log = g_build_filename(r->dir, "redis.log", NULL);
	argv[4] = r->socket;
	argv[8] = r->dir;
	argv[14] = log;
	if (!g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
			G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, test_redis_child_setup, NULL,
			&r->pid, error)) {
		g_free(log);
		g_free(r->socket);
		g_free(r->dir);
		g_free(r);
		return NULL;
	}
	g_free(log);
	/* Until it answers, for at most about 10 s: a start-up deadline, not a measurement. */
	for (guint i = 0; i < 1000; i++) {
		redisContext *c = redisConnectUnix(r->socket);
		redisReply *reply = c != NULL && c->err == 0 ? redisCommand(c, "PING") : NULL;
		gboolean up = reply != NULL && reply->type == REDIS_REPLY_STATUS;
		if (reply != NULL)
			freeReplyObject(reply);
		if (c != NULL)
			redisFree(c);
		if (up)
			return r;
		g_usleep(10000);
	}
	g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "redis-server did not answer on %s", r->socket);
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	g_free(r->socket);
	g_free(r->dir);
	g_free(r);
	return NULL;
}

/* Stop the server (SIGKILL: nothing is saved on the way out) and wait for it; keep its folder when
 * `keep_dir` (to restart in it), else remove the folder. */
static G_GNUC_UNUSED void test_redis_stop(test_redis *r, gboolean keep_dir)
{
	if (r == NULL)
		return;
	kill(r->pid, SIGKILL);
	while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
		;
	g_spawn_close_pid(r->pid);
	if (!keep_dir) {
		GDir *d = g_dir_open(r->dir, 0, NULL);
		const char *name;
		while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
			char *path = g_build_filename(r->dir, name, NULL);
			g_unlink(path);
			g_free(path);
		}
		if (d != NULL)
			g_dir_close(d);
		g_rmdir(r->dir);
	}
	g_free(r->socket);
	g_free(r->dir);
	g_free(r);
}

static G_GNUC_UNUSED redisContext *test_redis_connect(const test_redis *r)
{
	redisContext *c = redisConnectUnix(r->socket);
	if (c == NULL || c->err != 0) {
		g_printerr("cannot connect to redis at %s: %s\n", r->socket, c != NULL ? c->errstr : "out of memory");
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	return c;
}

/* The server's run_id (INFO server), as the Redis client reports it (g_free). */
static G_GNUC_UNUSED char *test_redis_run_id(redisContext *c)
{
	redisReply *reply = redisCommand(c, "INFO server");
	char *run_id = NULL;
	const char *p = reply != NULL && reply->type == REDIS_REPLY_STRING ? strstr(reply->str, "run_id:") : NULL;
	if (p != NULL)
		run_id = g_strndup(p + 7, strcspn(p + 7, "\r\n"));
	if (reply != NULL)
		freeReplyObject(reply);
	return run_id;
}

/* Send a ledger command: EVALSHA, and after NOSCRIPT the same call as EVAL. The reply (freeReplyObject). */
static G_GNUC_UNUSED redisReply *test_ledger_send(redisContext *c, ah_ledger_cmd *cmd)
{
	redisReply *reply = redisCommandArgv(c, (int)cmd->argv->len, (const char **)cmd->argv->pdata, NULL);
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
			ah_ledger_error_from_reply(reply->str) == AH_LEDGER_ERR_NOSCRIPT) {
		freeReplyObject(reply);
		ah_ledger_cmd_use_eval(cmd);
		reply = redisCommandArgv(c, (int)cmd->argv->len, (const char **)cmd->argv->pdata, NULL);
	}
	return reply;
}

/* The integers of an array reply (at most `max`); -1 when the reply is not an array of integers. */
static G_GNUC_UNUSED gssize test_reply_ints(const redisReply *reply, gint64 *values, gsize max)
{
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements > max)
		return -1;
	for (size_t i = 0; i < reply->elements; i++) {
		if (reply->element[i]->type != REDIS_REPLY_INTEGER)
			return -1;
		values[i] = reply->element[i]->integer;
	}
	return (gssize)reply->elements;
}

#endif
