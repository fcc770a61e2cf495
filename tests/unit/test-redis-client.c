/* allhands: tests of the Redis client (plugin/redis) against a real redis-server.
 *
 * Each test starts its own `redis-server --port 0 --unixsocket PATH --save '' --appendonly no` in a
 * temporary folder and kills it at the end; the server tests are skipped (TAP "# SKIP") when
 * redis-server is not installed. The client is driven as the control thread will drive it: submit,
 * then wait for `wake` and poll. Waits are bounded (WAIT_S) only so that a broken client fails
 * instead of hanging; durations are printed, never asserted.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "allhands/redis.h"
#include "tmpdir-fixture.h"

#define WAIT_S 30
#define PASSWORD "s3cret-pass"

typedef struct {
	char *dir, *sock;
	GPid pid;                       /* 0: not running */
	const char *password;           /* requirepass, NULL: none */
} server;

typedef struct {
	server srv;
	ah_redis *r;
	GMutex lock;
	GCond cond;
	guint wakes;
	GQueue got;                     /* polled, not yet looked for */
} fixture;

/* --- A raw, synchronous RESP exchange: another client of the same server (PUBLISH, SCRIPT FLUSH). */

static int raw_connect(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(fd, >=, 0);
	g_strlcpy(sa.sun_path, sock, sizeof(sa.sun_path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* One command; its reply's first line without CRLF (a bulk string's content), NULL on a failure. */
static char *raw_call(int fd, const char *const *argv)
{
	GString *out = g_string_new(NULL), *line = g_string_new(NULL);
	guint argc = g_strv_length((char **)argv);
	char ch;
	g_string_append_printf(out, "*%u\r\n", argc);
	for (guint i = 0; i < argc; i++)
		g_string_append_printf(out, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
	gboolean ok = write(fd, out->str, out->len) == (ssize_t)out->len;
	g_string_free(out, TRUE);
	while (ok && read(fd, &ch, 1) == 1) {
		if (ch == '\n' && line->len > 0 && line->str[line->len - 1] == '\r') {
			g_string_truncate(line, line->len - 1);
			if (line->str[0] == '$' && atoi(line->str + 1) >= 0) {
				gsize n = atoi(line->str + 1) + 2;
				char *bulk = g_malloc(n + 1);
				gsize got = 0;
				ssize_t k;
				while (got < n && (k = read(fd, bulk + got, n - got)) > 0)
					got += k;
				bulk[n - 2] = '\0';
				g_string_free(line, TRUE);
				return bulk;
			}
			return g_string_free(line, FALSE);
		}
		g_string_append_c(line, ch);
	}
	g_string_free(line, TRUE);
	return NULL;
}

/* One command on a fresh connection (authenticated when the server wants a password). */
static char *raw_once(server *s, const char *const *argv)
{
	int fd = raw_connect(s->sock);
	char *reply = NULL;
	if (fd < 0)
		return NULL;
	if (s->password != NULL) {
		const char *auth[] = { "AUTH", s->password, NULL };
		g_free(raw_call(fd, auth));
	}
	reply = raw_call(fd, argv);
	close(fd);
	return reply;
}

/* --- The server. */

static gboolean have_redis_server(void)
{
	char *path = g_find_program_in_path("redis-server");
	gboolean found = path != NULL;
	g_free(path);
	return found;
}

/* In the child before exec: a test that aborts (a failed assertion) leaves no server behind. */
static void die_with_parent(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void server_start(server *s)
{
	char *log = g_build_filename(s->dir, "redis.log", NULL);
	const char *argv[] = {
		"redis-server", "--port", "0", "--unixsocket", s->sock, "--save", "", "--appendonly", "no",
		"--dir", s->dir, "--logfile", log, "--daemonize", "no",
		s->password != NULL ? "--requirepass" : NULL, s->password, NULL
	};
	const char *ping[] = { "PING", NULL };
	GError *error = NULL;
	g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
		| G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, die_with_parent, NULL, &s->pid, &error);
	g_assert_no_error(error);
	g_free(log);
	/* Ready when it answers PING (an old socket file may still be there until it binds anew). */
	gint64 until = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
	for (;;) {
		char *pong = raw_once(s, ping);
		gboolean ready = g_strcmp0(pong, "+PONG") == 0;
		g_free(pong);
		if (ready)
			break;
		g_assert_cmpint(g_get_monotonic_time(), <, until);
		g_usleep(10 * 1000);
	}
}

static void server_kill(server *s)
{
	if (s->pid == 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	g_spawn_close_pid(s->pid);
	s->pid = 0;
}

/* --- The fixture: a server (when installed) and the client's owner. */

static void setup(fixture *f, gconstpointer data)
{
	f->srv.dir = tmpdir_new("ah-redis-XXXXXX");
	f->srv.sock = g_build_filename(f->srv.dir, "redis.sock", NULL);
	f->srv.password = data;
	g_mutex_init(&f->lock);
	g_cond_init(&f->cond);
	g_queue_init(&f->got);
	if (have_redis_server())
		server_start(&f->srv);
}

static void teardown(fixture *f, gconstpointer data)
{
	ah_redis_free(f->r);
	g_queue_clear_full(&f->got, (GDestroyNotify)ah_redis_reply_free);
	server_kill(&f->srv);
	tmpdir_remove(f->srv.dir);
	g_free(f->srv.dir);
	g_free(f->srv.sock);
	g_mutex_clear(&f->lock);
	g_cond_clear(&f->cond);
}

static gboolean skip_without_server(void)
{
	if (have_redis_server())
		return FALSE;
	g_test_skip("redis-server is not installed");
	return TRUE;
}

/* The owner's wake: what the glue will turn into a wake-up of the control thread. */
static void on_wake(gpointer user)
{
	fixture *f = user;
	g_mutex_lock(&f->lock);
	f->wakes++;
	g_cond_signal(&f->cond);
	g_mutex_unlock(&f->lock);
}

static ah_redis_config config_for(fixture *f)
{
	ah_redis_config c = {
		.unix_path = f->srv.sock,
		.connect_timeout_ms = 2000,
		.command_timeout_ms = 2000,
	};
	return c;
}

static void client_start(fixture *f, const ah_redis_config *c)
{
	GError *error = NULL;
	f->r = ah_redis_new(c, on_wake, f, &error);
	g_assert_no_error(error);
	g_assert_nonnull(f->r);
}

static gboolean matches(const ah_redis_reply *rep, ah_redis_event event, guint64 tag)
{
	gboolean tagged = event == AH_REDIS_REPLY || event == AH_REDIS_MESSAGE || event == AH_REDIS_SUBSCRIBED;
	return rep->event == event && (!tagged || rep->tag == tag);
}

/* Waits (on wake, as the control thread will) for the first reply or event matching `event` and
 * `tag` (the tag counts for REPLY, MESSAGE and SUBSCRIBED); others seen meanwhile stay in `got`, in
 * order. Fails after WAIT_S seconds. */
static ah_redis_reply *wait_for(fixture *f, ah_redis_event event, guint64 tag)
{
	gint64 until = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
	for (;;) {
		ah_redis_reply *rep;
		g_mutex_lock(&f->lock);
		guint seen = f->wakes;
		g_mutex_unlock(&f->lock);
		/* wake is edge-triggered: poll until NULL, then sleep until the next wake. */
		while ((rep = ah_redis_poll(f->r)) != NULL)
			g_queue_push_tail(&f->got, rep);
		for (GList *l = f->got.head; l != NULL; l = l->next) {
			if (matches(l->data, event, tag)) {
				rep = l->data;
				g_queue_delete_link(&f->got, l);
				return rep;
			}
		}
		g_mutex_lock(&f->lock);
		while (f->wakes == seen && g_get_monotonic_time() < until)
			g_cond_wait_until(&f->cond, &f->lock, until);
		g_mutex_unlock(&f->lock);
		if (g_get_monotonic_time() >= until)
			g_error("no %s (tag %" G_GUINT64_FORMAT ") within %d s", ah_redis_event_name(event), tag, WAIT_S);
	}
}

/* The next reply or event, whatever it is. */
static ah_redis_reply *wait_next(fixture *f)
{
	gint64 until = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
	for (;;) {
		ah_redis_reply *rep = g_queue_pop_head(&f->got);
		if (rep != NULL)
			return rep;
		g_mutex_lock(&f->lock);
		guint seen = f->wakes;
		g_mutex_unlock(&f->lock);
		if ((rep = ah_redis_poll(f->r)) != NULL)
			return rep;
		g_mutex_lock(&f->lock);
		while (f->wakes == seen && g_get_monotonic_time() < until)
			g_cond_wait_until(&f->cond, &f->lock, until);
		g_mutex_unlock(&f->lock);
		if (g_get_monotonic_time() >= until)
			g_error("nothing within %d s", WAIT_S);
	}
}

static char *wait_connected(fixture *f)
{
	ah_redis_reply *rep = wait_for(f, AH_REDIS_CONNECTED, 0);
	char *run_id = g_strdup(rep->text);
	g_assert_cmpuint(strlen(run_id), ==, 40);
	ah_redis_reply_free(rep);
	return run_id;
}

/* A client with config `c`, once connected; returns the server's run_id (g_free). */
static char *start_connected(fixture *f, const ah_redis_config *c)
{
	client_start(f, c);
	return wait_connected(f);
}

/* Submits a command (NULL-terminated arguments) and waits for its answer. */
static ah_redis_reply *call(fixture *f, guint64 tag, const char *const *argv)
{
	g_assert_true(ah_redis_submit(f->r, tag, g_strv_length((char **)argv), (const char **)argv, NULL));
	ah_redis_reply *rep = wait_for(f, AH_REDIS_REPLY, tag);
	g_assert_cmpint(rep->status, ==, AH_REDIS_OK);
	g_assert_nonnull(rep->value);
	return rep;
}

static void assert_value(const ah_redis_value *v, ah_redis_type type, const char *str)
{
	g_assert_cmpstr(ah_redis_type_name(v->type), ==, ah_redis_type_name(type));
	if (str != NULL) {
		g_assert_cmpstr(v->str, ==, str);
		g_assert_cmpuint(v->len, ==, strlen(str));
	}
}

static void call_expect(fixture *f, guint64 tag, const char *const *argv, ah_redis_type type, const char *str)
{
	ah_redis_reply *rep = call(f, tag, argv);
	assert_value(rep->value, type, str);
	ah_redis_reply_free(rep);
}

static gint64 call_integer(fixture *f, guint64 tag, const char *const *argv)
{
	ah_redis_reply *rep = call(f, tag, argv);
	assert_value(rep->value, AH_REDIS_INTEGER, NULL);
	gint64 n = rep->value->integer;
	ah_redis_reply_free(rep);
	return n;
}

/* A command submitted while the client is down is answered before submit returns. */
static void assert_fails_fast(fixture *f, guint64 tag)
{
	const char *argv[] = { "GET", "k" };
	gint64 t0 = g_get_monotonic_time();
	g_assert_true(ah_redis_submit(f->r, tag, 2, argv, NULL));
	gint64 t1 = g_get_monotonic_time();
	ah_redis_reply *rep = ah_redis_poll(f->r);
	g_assert_nonnull(rep);
	g_assert_cmpint(rep->event, ==, AH_REDIS_REPLY);
	g_assert_cmpuint(rep->tag, ==, tag);
	g_assert_cmpstr(ah_redis_status_name(rep->status), ==, "disconnected");
	assert_value(rep->value, AH_REDIS_ERROR, "disconnected");
	g_test_message("submit while disconnected returned in %" G_GINT64_FORMAT " us", t1 - t0);
	ah_redis_reply_free(rep);
}

/* --- Tests. */

static void test_round_trip(fixture *f, gconstpointer data)
{
	if (skip_without_server())
		return;
	ah_redis_config c = config_for(f);
	char *run_id = start_connected(f, &c);

	/* Binary-safe both ways: a value with a NUL inside. */
	const char *set[] = { "SET", "k", "a\0b" };
	const size_t set_lens[] = { 3, 1, 3 };
	g_assert_true(ah_redis_submit(f->r, 1, 3, set, set_lens));
	ah_redis_reply *rep = wait_for(f, AH_REDIS_REPLY, 1);
	assert_value(rep->value, AH_REDIS_STATUS, "OK");
	g_assert_cmpint(rep->rtt_us, >=, 0);
	ah_redis_reply_free(rep);
	rep = call(f, 2, (const char *[]){ "GET", "k", NULL });
	g_assert_cmpint(rep->value->type, ==, AH_REDIS_STRING);
	g_assert_cmpuint(rep->value->len, ==, 3);
	g_assert_cmpmem(rep->value->str, 3, "a\0b", 3);
	ah_redis_reply_free(rep);

	g_assert_cmpint(call_integer(f, 3, (const char *[]){ "INCR", "n", NULL }), ==, 1);
	g_assert_cmpint(call_integer(f, 4, (const char *[]){ "INCR", "n", NULL }), ==, 2);
	call_expect(f, 5, (const char *[]){ "GET", "missing", NULL }, AH_REDIS_NIL, NULL);
	/* Redis's own error replies reach the caller as values, with status OK. */
	rep = call(f, 6, (const char *[]){ "INCR", "k", NULL });
	assert_value(rep->value, AH_REDIS_ERROR, NULL);
	g_assert_true(g_str_has_prefix(rep->value->str, "ERR"));
	ah_redis_reply_free(rep);
	call_expect(f, 7, (const char *[]){ "RPUSH", "l", "x", "y", NULL }, AH_REDIS_INTEGER, NULL);
	rep = call(f, 8, (const char *[]){ "LRANGE", "l", "0", "-1", NULL });
	g_assert_cmpint(rep->value->type, ==, AH_REDIS_ARRAY);
	g_assert_cmpuint(rep->value->n, ==, 2);
	assert_value(rep->value->elements[0], AH_REDIS_STRING, "x");
	assert_value(rep->value->elements[1], AH_REDIS_STRING, "y");
	ah_redis_reply_free(rep);

	ah_redis_stats st;
	ah_redis_get_stats(f->r, &st);
	g_assert_true(st.connected);
	g_assert_cmpstr(st.run_id, ==, run_id);
	g_assert_cmpuint(st.submitted, ==, 8);
	g_assert_cmpuint(st.replies, ==, 8);
	g_assert_cmpuint(st.errors, ==, 1);
	g_assert_cmpuint(st.sent, >=, 8);
	g_assert_cmpuint(st.queued, ==, 0);
	g_assert_cmpuint(st.connects, ==, 1);
	g_assert_cmpuint(st.rtt_samples, ==, 8);
	g_assert_cmpint(st.rtt_p50_us, >, 0);
	g_assert_cmpint(st.rtt_p99_us, >=, st.rtt_p50_us);
	g_test_message("round trip p50 %" G_GINT64_FORMAT " us, p99 %" G_GINT64_FORMAT " us", st.rtt_p50_us,
		st.rtt_p99_us);
	g_mutex_lock(&f->lock);
	g_assert_cmpuint(f->wakes, >, 0);
	g_mutex_unlock(&f->lock);
	g_free(run_id);
}

static void test_pipeline(fixture *f, gconstpointer data)
{
	enum { N = 10000 };
	if (skip_without_server())
		return;
	ah_redis_config c = config_for(f);
	c.max_queued = 2 * N;
	g_free(start_connected(f, &c));
	const char *incr[] = { "INCR", "counter" };
	gint64 t0 = g_get_monotonic_time();
	for (guint64 i = 1; i <= N; i++)
		g_assert_true(ah_redis_submit(f->r, i, 2, incr, NULL));
	gint64 t1 = g_get_monotonic_time();
	/* Every answer, in submission order, each with the counter's value after its own INCR. */
	for (guint64 i = 1; i <= N; i++) {
		ah_redis_reply *rep = wait_next(f);
		g_assert_cmpint(rep->event, ==, AH_REDIS_REPLY);
		g_assert_cmpuint(rep->tag, ==, i);
		g_assert_cmpint(rep->status, ==, AH_REDIS_OK);
		g_assert_cmpint(rep->value->type, ==, AH_REDIS_INTEGER);
		g_assert_cmpint(rep->value->integer, ==, (gint64)i);
		ah_redis_reply_free(rep);
	}
	gint64 t2 = g_get_monotonic_time();
	ah_redis_stats st;
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.replies, ==, N);
	g_assert_cmpuint(st.drops, ==, 0);
	g_assert_cmpuint(st.rtt_samples, ==, AH_REDIS_RTT_RING);
	g_test_message("%d pipelined INCRs: submitted in %" G_GINT64_FORMAT " ms, all answered after %" G_GINT64_FORMAT
		" ms; round trip p50 %" G_GINT64_FORMAT " us, p99 %" G_GINT64_FORMAT " us (last %u)", N, (t1 - t0) / 1000,
		(t2 - t0) / 1000, st.rtt_p50_us, st.rtt_p99_us, st.rtt_samples);
}

static gint64 script_call(fixture *f, guint64 tag, ah_redis_script *s, const char *key, const char *by)
{
	const char *argv[] = { key, by };
	g_assert_true(ah_redis_submit_script(f->r, tag, s, 1, 2, argv, NULL));
	ah_redis_reply *rep = wait_for(f, AH_REDIS_REPLY, tag);
	g_assert_cmpint(rep->status, ==, AH_REDIS_OK);
	assert_value(rep->value, AH_REDIS_INTEGER, NULL);
	gint64 n = rep->value->integer;
	ah_redis_reply_free(rep);
	return n;
}

static void test_script(fixture *f, gconstpointer data)
{
	if (skip_without_server())
		return;
	const char *source = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
	ah_redis_script *s = ah_redis_script_new(source);
	ah_redis_config c = config_for(f);
	ah_redis_stats st;
	g_free(start_connected(f, &c));

	/* First use on this connection: sent whole; then by its SHA1. */
	g_assert_cmpint(script_call(f, 1, s, "seats", "5"), ==, 5);
	g_assert_cmpint(script_call(f, 2, s, "seats", "5"), ==, 10);
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.script_evals, ==, 1);
	g_assert_cmpuint(st.script_noscript, ==, 0);

	/* Someone flushes the server's script cache: the next EVALSHA gets NOSCRIPT, hidden by a re-send. */
	char *flushed = raw_once(&f->srv, (const char *[]){ "SCRIPT", "FLUSH", NULL });
	g_assert_cmpstr(flushed, ==, "+OK");
	g_free(flushed);
	g_assert_cmpint(script_call(f, 3, s, "seats", "5"), ==, 15);
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.script_noscript, ==, 1);
	g_assert_cmpuint(st.script_evals, ==, 2);
	g_assert_cmpint(script_call(f, 4, s, "seats", "-1"), ==, 14);
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.script_evals, ==, 2);

	/* Our SHA1 is the server's name for the script. */
	ah_redis_reply *rep = call(f, 5, (const char *[]){ "SCRIPT", "LOAD", source, NULL });
	assert_value(rep->value, AH_REDIS_STRING, ah_redis_script_sha1(s));
	ah_redis_reply_free(rep);

	/* A script's own error reaches the caller (and is not mistaken for NOSCRIPT). */
	ah_redis_script *bad = ah_redis_script_new("return redis.call('NO-SUCH-COMMAND')");
	g_assert_true(ah_redis_submit_script(f->r, 6, bad, 0, 0, NULL, NULL));
	ah_redis_script_unref(bad); /* the command holds its own reference */
	rep = wait_for(f, AH_REDIS_REPLY, 6);
	g_assert_cmpint(rep->status, ==, AH_REDIS_OK);
	assert_value(rep->value, AH_REDIS_ERROR, NULL);
	ah_redis_reply_free(rep);
	ah_redis_script_unref(s);
}

static void test_auth(fixture *f, gconstpointer data)
{
	if (skip_without_server())
		return;
	ah_redis_config c = config_for(f);
	c.password = PASSWORD;
	c.db = 3;
	g_free(start_connected(f, &c));
	ah_redis_reply *rep = call(f, 1, (const char *[]){ "CLIENT", "INFO", NULL });
	g_assert_nonnull(strstr(rep->value->str, " db=3 "));
	ah_redis_reply_free(rep);
	call_expect(f, 2, (const char *[]){ "SET", "a", "1", NULL }, AH_REDIS_STATUS, "OK");
	ah_redis_free(f->r);
	f->r = NULL;

	/* A wrong password: a clear DISCONNECTED event, commands fail fast. */
	c.password = "wrong-password";
	client_start(f, &c);
	rep = wait_for(f, AH_REDIS_DISCONNECTED, 0);
	g_assert_cmpstr(ah_redis_status_name(rep->status), ==, "refused");
	g_assert_nonnull(strstr(rep->text, "AUTH"));
	g_assert_nonnull(strstr(rep->text, "WRONGPASS"));
	g_test_message("wrong password: %s", rep->text);
	ah_redis_reply_free(rep);
	assert_fails_fast(f, 3);
	/* It keeps trying (a password fixed on the server is picked up) without repeating the event. */
	ah_redis_stats st;
	gint64 until = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
	do {
		g_usleep(10 * 1000);
		ah_redis_get_stats(f->r, &st);
		g_assert_cmpint(g_get_monotonic_time(), <, until);
	} while (st.connect_failures < 3);
	while ((rep = ah_redis_poll(f->r)) != NULL) {
		g_assert_cmpint(rep->event, !=, AH_REDIS_DISCONNECTED);
		ah_redis_reply_free(rep);
	}
	g_assert_false(st.connected);
	g_assert_cmpuint(st.connects, ==, 0);
	ah_redis_free(f->r);
	f->r = NULL;

	/* No password for a server that wants one. */
	c.password = NULL;
	client_start(f, &c);
	rep = wait_for(f, AH_REDIS_DISCONNECTED, 0);
	g_assert_cmpint(rep->status, ==, AH_REDIS_E_REFUSED);
	g_assert_nonnull(strstr(rep->text, "NOAUTH"));
	ah_redis_reply_free(rep);
	ah_redis_free(f->r);
	f->r = NULL;

	/* The right password, a db the server does not have. */
	c.password = PASSWORD;
	c.db = 99;
	client_start(f, &c);
	rep = wait_for(f, AH_REDIS_DISCONNECTED, 0);
	g_assert_cmpint(rep->status, ==, AH_REDIS_E_REFUSED);
	g_assert_true(g_str_has_prefix(rep->text, "SELECT refused"));
	g_test_message("db 99: %s", rep->text);
	ah_redis_reply_free(rep);
}

static void test_kill_restart(fixture *f, gconstpointer data)
{
	if (skip_without_server())
		return;
	ah_redis_config c = config_for(f);
	char *run_id = start_connected(f, &c);
	call_expect(f, 1, (const char *[]){ "SET", "a", "1", NULL }, AH_REDIS_STATUS, "OK");

	server_kill(&f->srv);
	ah_redis_reply *rep = wait_for(f, AH_REDIS_DISCONNECTED, 0);
	g_assert_cmpint(rep->status, ==, AH_REDIS_E_DISCONNECTED);
	g_test_message("server killed: %s", rep->text);
	ah_redis_reply_free(rep);
	assert_fails_fast(f, 2);
	assert_fails_fast(f, 3);

	/* Restarted (empty: no persistence): another run_id, and commands work again. */
	server_start(&f->srv);
	char *run_id2 = wait_connected(f);
	g_assert_cmpstr(run_id2, !=, run_id);
	call_expect(f, 4, (const char *[]){ "GET", "a", NULL }, AH_REDIS_NIL, NULL);
	g_assert_cmpint(call_integer(f, 5, (const char *[]){ "INCR", "a", NULL }), ==, 1);
	ah_redis_stats st;
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.connects, ==, 2);
	g_assert_cmpuint(st.failed_disconnected, ==, 2);
	g_assert_cmpuint(st.connect_failures, >=, 1);
	g_assert_cmpstr(st.run_id, ==, run_id2);
	g_free(run_id);
	g_free(run_id2);
}

static void test_stop_timeout(fixture *f, gconstpointer data)
{
	if (skip_without_server())
		return;
	ah_redis_config c = config_for(f);
	c.command_timeout_ms = 1000;
	c.connect_timeout_ms = 1000;
	char *run_id = start_connected(f, &c);
	call_expect(f, 1, (const char *[]){ "SET", "x", "1", NULL }, AH_REDIS_STATUS, "OK");

	/* A stopped server keeps the connection open and answers nothing. */
	g_assert_cmpint(kill(f->srv.pid, SIGSTOP), ==, 0);
	const char *get[] = { "GET", "x" };
	gint64 t0 = g_get_monotonic_time();
	g_assert_true(ah_redis_submit(f->r, 2, 2, get, NULL));
	ah_redis_reply *rep = wait_for(f, AH_REDIS_REPLY, 2);
	gint64 t1 = g_get_monotonic_time();
	g_assert_cmpstr(ah_redis_status_name(rep->status), ==, "timeout");
	assert_value(rep->value, AH_REDIS_ERROR, "timeout");
	g_test_message("answered \"timeout\" after %" G_GINT64_FORMAT " ms (command timeout %u ms)", (t1 - t0) / 1000,
		c.command_timeout_ms);
	ah_redis_reply_free(rep);
	rep = wait_for(f, AH_REDIS_DISCONNECTED, 0);
	g_assert_cmpint(rep->status, ==, AH_REDIS_E_TIMEOUT);
	ah_redis_reply_free(rep);
	assert_fails_fast(f, 3);

	/* Resumed: the client finds it again by itself (the same server: the same run_id). */
	g_assert_cmpint(kill(f->srv.pid, SIGCONT), ==, 0);
	char *run_id2 = wait_connected(f);
	g_assert_cmpstr(run_id2, ==, run_id);
	call_expect(f, 4, (const char *[]){ "GET", "x", NULL }, AH_REDIS_STRING, "1");
	ah_redis_stats st;
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.timeouts, ==, 1);
	g_assert_cmpuint(st.connects, >=, 2);
	g_free(run_id);
	g_free(run_id2);
}

/* Nobody submits: the idle PING finds the stopped server. */
static void test_idle_ping(fixture *f, gconstpointer data)
{
	if (skip_without_server())
		return;
	ah_redis_config c = config_for(f);
	c.ping_interval_ms = 200;
	c.command_timeout_ms = 1000;
	char *run_id = start_connected(f, &c);
	g_assert_cmpint(kill(f->srv.pid, SIGSTOP), ==, 0);
	ah_redis_reply *rep = wait_for(f, AH_REDIS_DISCONNECTED, 0);
	g_assert_cmpint(rep->status, ==, AH_REDIS_E_TIMEOUT);
	g_test_message("idle link, stopped server: %s", rep->text);
	ah_redis_reply_free(rep);
	ah_redis_stats st;
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.submitted, ==, 0);
	g_assert_cmpuint(st.timeouts, ==, 0); /* PINGs are the client's own: nobody's command failed */
	g_assert_cmpint(kill(f->srv.pid, SIGCONT), ==, 0);
	char *run_id2 = wait_connected(f);
	g_assert_cmpstr(run_id2, ==, run_id);
	g_free(run_id);
	g_free(run_id2);
}

static void test_queue_full(fixture *f, gconstpointer data)
{
	if (skip_without_server())
		return;
	ah_redis_config c = config_for(f);
	c.max_queued = 4;
	client_start(f, &c);
	g_assert_true(ah_redis_subscribe(f->r, 100, "ah:q"));
	ah_redis_reply_free(wait_for(f, AH_REDIS_SUBSCRIBED, 100));
	g_free(wait_connected(f));
	const char *ping[] = { "PING" };
	/* Answers count against the bound until they are polled: nothing is polled here. */
	for (guint64 tag = 1; tag <= 4; tag++)
		g_assert_true(ah_redis_submit(f->r, tag, 1, ping, NULL));
	g_assert_false(ah_redis_submit(f->r, 5, 1, ping, NULL));
	ah_redis_stats st;
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.drops, ==, 1);
	g_assert_cmpuint(st.queued, ==, 4);

	/* With the 4 answers waiting, a message is dropped (counted) rather than queued. */
	gint64 until = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
	while (ah_redis_get_stats(f->r, &st), st.replies < 4) {
		g_assert_cmpint(g_get_monotonic_time(), <, until);
		g_usleep(10 * 1000);
	}
	char *n = raw_once(&f->srv, (const char *[]){ "PUBLISH", "ah:q", "lost", NULL });
	g_assert_cmpstr(n, ==, ":1");
	g_free(n);
	while (ah_redis_get_stats(f->r, &st), st.messages_dropped < 1) {
		g_assert_cmpint(g_get_monotonic_time(), <, until);
		g_usleep(10 * 1000);
	}
	for (guint64 tag = 1; tag <= 4; tag++) {
		ah_redis_reply *rep = wait_for(f, AH_REDIS_REPLY, tag);
		assert_value(rep->value, AH_REDIS_STATUS, "PONG");
		ah_redis_reply_free(rep);
	}
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.queued, ==, 0);
	g_assert_true(ah_redis_submit(f->r, 6, 1, ping, NULL));
	ah_redis_reply_free(wait_for(f, AH_REDIS_REPLY, 6));
	n = raw_once(&f->srv, (const char *[]){ "PUBLISH", "ah:q", "kept", NULL });
	g_free(n);
	ah_redis_reply *rep = wait_for(f, AH_REDIS_MESSAGE, 100);
	assert_value(rep->value, AH_REDIS_STRING, "kept");
	ah_redis_reply_free(rep);
	g_assert_null(g_queue_peek_head(&f->got)); /* "lost" never came */
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.messages, ==, 1);
	g_assert_cmpuint(st.messages_dropped, ==, 1);

	/* Freed with a command that will never be answered (a blocking pop without end): no reply,
	 * nothing left behind (valgrind). */
	const char *blpop[] = { "BLPOP", "ah:never", "0" };
	g_assert_true(ah_redis_submit(f->r, 7, 3, blpop, NULL));
	ah_redis_free(f->r);
	f->r = NULL;
}

static void test_pubsub(fixture *f, gconstpointer data)
{
	if (skip_without_server())
		return;
	ah_redis_config c = config_for(f);
	client_start(f, &c);
	g_assert_true(ah_redis_subscribe(f->r, 900, "ah:news"));
	g_assert_false(ah_redis_subscribe(f->r, 901, "ah:news"));
	g_assert_false(ah_redis_subscribe(f->r, 902, ""));
	ah_redis_reply_free(wait_for(f, AH_REDIS_SUBSCRIBED, 900));
	char *run_id = wait_connected(f);

	/* Published by the client itself, and by another client. */
	g_assert_cmpint(call_integer(f, 1, (const char *[]){ "PUBLISH", "ah:news", "hello", NULL }), ==, 1);
	ah_redis_reply *rep = wait_for(f, AH_REDIS_MESSAGE, 900);
	g_assert_cmpstr(rep->channel, ==, "ah:news");
	assert_value(rep->value, AH_REDIS_STRING, "hello");
	ah_redis_reply_free(rep);
	char *n = raw_once(&f->srv, (const char *[]){ "PUBLISH", "ah:news", "from-outside", NULL });
	g_assert_cmpstr(n, ==, ":1");
	g_free(n);
	rep = wait_for(f, AH_REDIS_MESSAGE, 900);
	assert_value(rep->value, AH_REDIS_STRING, "from-outside");
	ah_redis_reply_free(rep);

	/* A subscription added while connected. */
	g_assert_true(ah_redis_subscribe(f->r, 910, "ah:later"));
	ah_redis_reply_free(wait_for(f, AH_REDIS_SUBSCRIBED, 910));
	g_assert_cmpint(call_integer(f, 2, (const char *[]){ "PUBLISH", "ah:later", "x", NULL }), ==, 1);
	ah_redis_reply_free(wait_for(f, AH_REDIS_MESSAGE, 910));

	/* After a restart both are subscribed again before CONNECTED. */
	server_kill(&f->srv);
	ah_redis_reply_free(wait_for(f, AH_REDIS_DISCONNECTED, 0));
	server_start(&f->srv);
	ah_redis_reply_free(wait_for(f, AH_REDIS_SUBSCRIBED, 900));
	ah_redis_reply_free(wait_for(f, AH_REDIS_SUBSCRIBED, 910));
	char *run_id2 = wait_connected(f);
	g_assert_cmpstr(run_id2, !=, run_id);
	g_assert_cmpint(call_integer(f, 3, (const char *[]){ "PUBLISH", "ah:news", "again", NULL }), ==, 1);
	rep = wait_for(f, AH_REDIS_MESSAGE, 900);
	assert_value(rep->value, AH_REDIS_STRING, "again");
	ah_redis_reply_free(rep);
	ah_redis_stats st;
	ah_redis_get_stats(f->r, &st);
	g_assert_cmpuint(st.messages, ==, 4);
	g_free(run_id);
	g_free(run_id2);
}

/* No server needed: bad configs are refused with a reason, an absent server is reported. */
static void test_config(fixture *f, gconstpointer data)
{
	GError *error = NULL;
	char *long_path = g_strnfill(200, 'p');
	const ah_redis_config bad[] = {
		{ .port = 6379 },
		{ .host = "127.0.0.1", .port = 70000 },
		{ .unix_path = long_path },
		{ .host = "127.0.0.1", .db = -1 },
		{ .host = "127.0.0.1", .username = "u" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_null(ah_redis_new(&bad[i], NULL, NULL, &error));
		g_assert_error(error, AH_REDIS_CLIENT_ERROR, AH_REDIS_CLIENT_ERROR_CONFIG);
		g_test_message("refused: %s", error->message);
		g_clear_error(&error);
	}
	g_free(long_path);

	char *nowhere = g_build_filename(f->srv.dir, "nowhere.sock", NULL);
	ah_redis_config c = config_for(f);
	c.unix_path = nowhere;
	client_start(f, &c);
	ah_redis_reply *rep = wait_for(f, AH_REDIS_DISCONNECTED, 0);
	g_assert_cmpint(rep->status, ==, AH_REDIS_E_DISCONNECTED);
	g_assert_nonnull(strstr(rep->text, "No such file"));
	ah_redis_reply_free(rep);
	assert_fails_fast(f, 1);
	g_free(nowhere);
	ah_redis_free(f->r);

	/* TCP, where the connect completes (here: fails) asynchronously. */
	ah_redis_config tcp = { .host = "127.0.0.1", .port = 1 };
	client_start(f, &tcp);
	rep = wait_for(f, AH_REDIS_DISCONNECTED, 0);
	g_assert_cmpint(rep->status, ==, AH_REDIS_E_DISCONNECTED);
	g_test_message("127.0.0.1:1: %s", rep->text);
	ah_redis_reply_free(rep);
	assert_fails_fast(f, 2);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn, password) g_test_add(path, fixture, password, setup, fn, teardown)
	ADD("/redis/client/config", test_config, NULL);
	ADD("/redis/client/round-trip", test_round_trip, NULL);
	ADD("/redis/client/pipeline-10000-incr", test_pipeline, NULL);
	ADD("/redis/client/script-noscript-fallback", test_script, NULL);
	ADD("/redis/client/auth", test_auth, PASSWORD);
	ADD("/redis/client/server-killed-and-restarted", test_kill_restart, NULL);
	ADD("/redis/client/server-stopped-timeout", test_stop_timeout, NULL);
	ADD("/redis/client/server-stopped-idle-ping", test_idle_ping, NULL);
	ADD("/redis/client/queue-full", test_queue_full, NULL);
	ADD("/redis/client/pubsub-resubscribe", test_pubsub, NULL);
	return g_test_run();
}
