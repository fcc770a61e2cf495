/* allhands: benchmark of the seat ledger's scripts against a local redis-server it starts on a Unix socket
 * (`make bench-ledger`; docs/benchmarks.md, "Seat ledger"). Runs N claims and N releases from three node
 * ids over ten rooms of one tenant, first one call at a time (the round trip), then pipelined 64 deep
 * (what Redis itself sustains), then N/10 heartbeat syncs, and prints calls per second and Redis's CPU
 * (INFO cpu, user + system) per 1,000 calls (so per 1,000 claims on the claim line). Figures are printed, never asserted; keep N small on a
 * shared machine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <hiredis/hiredis.h>

#include "allhands/ledger-redis.h"
#include "redis-fixture.h"

#define ROOMS 10
#define NODES 3
#define DEPTH 64

static double redis_cpu_s(redisContext *c)
{
	redisReply *reply = redisCommand(c, "INFO cpu");
	double sum = 0;
	const char *fields[] = { "used_cpu_sys:", "used_cpu_user:" };
	for (guint i = 0; i < G_N_ELEMENTS(fields) && reply != NULL && reply->type == REDIS_REPLY_STRING; i++) {
		const char *p = strstr(reply->str, fields[i]);
		if (p != NULL)
			sum += g_ascii_strtod(p + strlen(fields[i]), NULL);
	}
	if (reply != NULL)
		freeReplyObject(reply);
	return sum;
}

static ah_ledger_cmd *make(guint i, gboolean is_claim, const ah_ledger_stamp *stamp)
{
	char room[16], node[16];
	g_snprintf(room, sizeof(room), "room%u", i % ROOMS);
	g_snprintf(node, sizeof(node), "node%u", i % NODES);
	return is_claim ? ah_ledger_claim_cmd("bench", room, node, 1, stamp, NULL) :
		ah_ledger_release_cmd("bench", room, node, 1, NULL);
}

static void check(redisReply *reply, const char *what)
{
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, "bench-ledger: %s failed: %s\n", what,
			reply != NULL && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply");
		exit(1);
	}
	freeReplyObject(reply);
}

static void report(const char *what, guint calls, gint64 us, double cpu_s)
{
	printf("%-32s %7u calls in %6.3f s: %8.0f calls/s, %6.1f us/call; Redis CPU %5.1f ms per 1,000 calls\n", what,
		calls, us / 1e6, calls / (us / 1e6), (double)us / calls, cpu_s * 1e3 * 1000.0 / calls);
}

/* N claims, then N releases, each call waiting for its reply. */
static void one_at_a_time(redisContext *c, guint n, const ah_ledger_stamp *stamp)
{
	for (int is_claim = 1; is_claim >= 0; is_claim--) {
		double cpu = redis_cpu_s(c);
		gint64 start = g_get_monotonic_time();
		for (guint i = 0; i < n; i++) {
			ah_ledger_cmd *cmd = make(i, is_claim, stamp);
			check(test_ledger_send(c, cmd), is_claim ? "claim" : "release");
			ah_ledger_cmd_free(cmd);
		}
		report(is_claim ? "claim, one at a time" : "release, one at a time", n, g_get_monotonic_time() - start,
			redis_cpu_s(c) - cpu);
	}
}

/* The same, DEPTH calls in flight (the scripts are loaded by then, so EVALSHA never misses). */
static void pipelined(redisContext *c, guint n, const ah_ledger_stamp *stamp)
{
	double cpu = redis_cpu_s(c);
	gint64 start = g_get_monotonic_time();
	for (guint done = 0; done < 2 * n;) {
		guint batch = MIN(DEPTH, 2 * n - done);
		for (guint k = 0; k < batch; k++) {
			guint i = done + k;
			ah_ledger_cmd *cmd = make(i % n, i < n, stamp);
			redisAppendCommandArgv(c, (int)cmd->argv->len, (const char **)cmd->argv->pdata, NULL);
			ah_ledger_cmd_free(cmd);
		}
		for (guint k = 0; k < batch; k++) {
			void *reply = NULL;
			if (redisGetReply(c, &reply) != REDIS_OK)
				check(NULL, "pipelined claim/release");
			check(reply, "pipelined claim/release");
		}
		done += batch;
	}
	report("claim+release, pipelined 64", 2 * n, g_get_monotonic_time() - start, redis_cpu_s(c) - cpu);
}

/* A node's heartbeat sync of its ten rooms, one at a time. */
static void syncs(redisContext *c, guint n, const ah_ledger_stamp *stamp)
{
	ah_ledger_room_count rooms[ROOMS];
	char names[ROOMS][16];
	double cpu = redis_cpu_s(c);
	gint64 start = g_get_monotonic_time();
	for (guint r = 0; r < ROOMS; r++) {
		g_snprintf(names[r], sizeof(names[r]), "room%u", r);
		rooms[r] = (ah_ledger_room_count){ names[r], 0 };
	}
	for (guint i = 0; i < n; i++) {
		char node[16];
		ah_ledger_cmd *cmd;
		g_snprintf(node, sizeof(node), "node%u", i % NODES);
		rooms[i % ROOMS].count = i % 7;
		cmd = ah_ledger_sync_cmd("bench", node, stamp, 1, rooms, ROOMS, NULL);
		check(test_ledger_send(c, cmd), "sync");
		ah_ledger_cmd_free(cmd);
	}
	report("sync of 10 rooms, one at a time", n, g_get_monotonic_time() - start, redis_cpu_s(c) - cpu);
}

int main(int argc, char **argv)
{
	guint n = argc > 1 ? (guint)strtoul(argv[1], NULL, 10) : 20000;
	GError *error = NULL;
	test_redis *redis = test_redis_start(NULL, &error);
	redisContext *c;
	char *run;
	ah_ledger_stamp stamp;
	redisReply *reply;
	if (redis == NULL) {
		fprintf(stderr, "bench-ledger: cannot start redis-server: %s\n", error->message);
		return 1;
	}
	if ((c = test_redis_connect(redis)) == NULL || (run = test_redis_run_id(c)) == NULL)
		return 1;
	n = CLAMP(n, 100, 1000000);
	stamp = (ah_ledger_stamp){ run, G_GINT64_CONSTANT(1765000000000), 0 };
	reply = redisCommand(c, "HSET ah:{bench}:caps tenant 1000000");
	freeReplyObject(reply);
	for (guint r = 0; r < ROOMS; r++) {
		reply = redisCommand(c, "HSET ah:{bench}:caps room:room%u 1000000", r);
		freeReplyObject(reply);
	}
	printf("seat ledger on redis-server over a Unix socket, %u claims and %u releases per run\n", n, n);
	one_at_a_time(c, n, &stamp);
	pipelined(c, n, &stamp);
	syncs(c, MAX(n / 10, 10), &stamp);
	g_free(run);
	redisFree(c);
	test_redis_stop(redis, FALSE);
	return 0;
}
