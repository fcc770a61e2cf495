/* allhands: worst-case cost of schedules on the control thread (include/allhands/schedule.h): for
 * every file of a corpus (fuzz/corpus/schedule: the fuzz seeds, issue 12's reproductions and rules
 * designed to be slow), the wall time of making the schedule (ah_schedule_from_json, or
 * ah_schedule_new_from_ical for iCalendar text), of a status check (ah_schedule_status_at) and of an
 * `occurrences` request for 100 windows (ah_schedule_next_n), at a fixed "now", as CPU time of the
 * calling thread (and the worst wall times). Built and run by
 * `make bench`; the figures are in docs/benchmarks.md ("Schedule worst case").
 *
 * Each case runs in a child process killed after LIMIT_S seconds of CPU, so that the old code's
 * runaway cases (tens of seconds) can be measured too: what did not finish prints as ">". Every
 * operation runs REPEAT times and the slowest run is reported, after one unmeasured creation (the
 * first use of a time zone in a process loads it from tzdata: a one-time cost per zone). The program only uses the schedule
 * API, so it also builds against an older schedule.c; ah_schedule_steps (libical iterator calls)
 * is printed when the library has it.
 *
 * Usage: bench-schedule [corpus-dir] [limit-seconds]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/schedule.h"

#define REPEAT 3
#define OCCURRENCES 100
#define LIMIT_S 5
/* "Now" of every query: 2026-12-07T12:00:00Z. */
#define NOW G_GINT64_CONSTANT(1796644800)

/* Present in the new library only. */
guint64 ah_schedule_steps(void) __attribute__((weak));

enum { OP_CREATE, OP_STATUS, OP_OCCURRENCES, N_OPS };
static const char *const op_names[N_OPS] = {"create", "status", "occurrences"};

/* Filled in by the child as it goes, in shared memory: what finished survives a kill. */
typedef struct {
	int done[N_OPS];
	double ms[N_OPS], wall[N_OPS];
	guint64 steps[N_OPS];
	int accepted;
	char message[72];
} bench_case;

/* CPU time of this thread: what a call costs the control thread. On a shared machine the wall time
 * of a call also counts the time it waited for a core (printed for the worst cases too). */
static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static guint64 steps_now(void)
{
	return ah_schedule_steps ? ah_schedule_steps() : 0;
}

static ah_error make(const char *text, gsize len, ah_schedule **out, char **message)
{
	json_t *json = json_loadb(text, len, 0, NULL);
	ah_error err = json_is_object(json) ? ah_schedule_from_json(json, out, message)
										: ah_schedule_new_from_ical(text, out, message);
	json_decref(json);
	return err;
}

static void record(bench_case *c, int op, double ms, double wall, guint64 steps)
{
	c->ms[op] = MAX(c->ms[op], ms);
	c->wall[op] = MAX(c->wall[op], wall);
	c->steps[op] = MAX(c->steps[op], steps);
}

static void run_case(const char *text, gsize len, bench_case *c)
{
	ah_phase_params params = {.lobby_s = 600, .ending_warning_s = 60, .grace_s = 30};
	ah_occurrence occ[OCCURRENCES];
	ah_schedule *s = NULL;
	char *warm = NULL;
	/* Once unmeasured: libical loads a time zone from tzdata at its first use in a process. */
	if (make(text, len, &s, &warm) == AH_ERR_OK)
		ah_schedule_free(s);
	g_free(warm);
	s = NULL;
	for (int i = 0; i < REPEAT; i++) {
		char *message = NULL;
		ah_schedule *made = NULL;
		guint64 st = steps_now();
		double t = cpu_ms(), w = wall_ms();
		ah_error err = make(text, len, &made, &message);
		record(c, OP_CREATE, cpu_ms() - t, wall_ms() - w, steps_now() - st);
		c->accepted = err == AH_ERR_OK;
		g_strlcpy(c->message, message ? message : "", sizeof c->message);
		g_free(message);
		if (s == NULL)
			s = made;
		else
			ah_schedule_free(made);
	}
	c->done[OP_CREATE] = 1;
	for (int op = OP_STATUS; s != NULL && op < N_OPS; op++) {
		for (int i = 0; i < REPEAT; i++) {
			ah_schedule_status status;
			guint64 st = steps_now();
			double t = cpu_ms(), w = wall_ms();
			if (op == OP_STATUS)
				ah_schedule_status_at(s, NOW, &params, &status);
			else
				(void)ah_schedule_next_n(s, NOW, OCCURRENCES, occ);
			record(c, op, cpu_ms() - t, wall_ms() - w, steps_now() - st);
		}
		c->done[op] = 1;
	}
	ah_schedule_free(s);
}

/* Runs one case in a child killed after `limit` seconds of CPU. */
static void measure(const char *path, int limit, bench_case *c)
{
	char *text = NULL;
	gsize len = 0;
	pid_t pid;
	memset(c, 0, sizeof *c);
	if (!g_file_get_contents(path, &text, &len, NULL))
		return;
	if ((pid = fork()) == 0) {
		/* Killed by the kernel (SIGXCPU, then SIGKILL) after `limit` seconds of CPU, whatever the load. */
		struct rlimit cpu = {.rlim_cur = (rlim_t)limit, .rlim_max = (rlim_t)limit + 1};
		setrlimit(RLIMIT_CPU, &cpu);
		run_case(text, len, c);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	g_free(text);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "fuzz/corpus/schedule";
	int limit = argc > 2 ? atoi(argv[2]) : LIMIT_S;
	bench_case *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	GDir *d = g_dir_open(dir, 0, NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	double worst[N_OPS] = {0}, worst_wall[N_OPS] = {0};
	const char *worst_case[N_OPS] = {"", "", ""};
	const char *name;
	if (d == NULL || c == MAP_FAILED) {
		fprintf(stderr, "bench-schedule: cannot read %s\n", dir);
		return 2;
	}
	while ((name = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_strdup(name));
	g_dir_close(d);
	qsort(names->pdata, names->len, sizeof(char *), by_name);
	printf("# schedule worst case: %u cases from %s, slowest of %d runs, limit %d s per case\n", names->len, dir,
		   REPEAT, limit);
	printf("# CPU milliseconds of the calling thread; steps: most libical iterator calls of one operation\n");
	printf("%-36s %10s %10s %12s %8s  %s\n", "case", "create ms", "status ms", "occur. ms", "steps", "result");
	for (guint i = 0; i < names->len; i++) {
		char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
		char cells[N_OPS][16];
		guint64 steps = 0;
		measure(path, limit, c);
		for (int op = 0; op < N_OPS; op++) {
			gboolean relevant = op == OP_CREATE || c->accepted || !c->done[OP_CREATE];
			if (!relevant)
				g_strlcpy(cells[op], "-", sizeof cells[op]);
			else if (!c->done[op])
				g_snprintf(cells[op], sizeof cells[op], ">%d000", limit);
			else
				g_snprintf(cells[op], sizeof cells[op], "%.3f", c->ms[op]);
			steps = MAX(steps, c->steps[op]);
			if (relevant && (!c->done[op] || c->ms[op] > worst[op])) {
				worst[op] = c->done[op] ? c->ms[op] : limit * 1e3;
				worst_case[op] = g_ptr_array_index(names, i);
			}
			if (relevant)
				worst_wall[op] = MAX(worst_wall[op], c->done[op] ? c->wall[op] : limit * 1e3);
		}
		printf("%-36.36s %10s %10s %12s %8" G_GUINT64_FORMAT "  %s\n", (char *)g_ptr_array_index(names, i), cells[0],
			   cells[1], cells[2], steps,
			   !c->done[OP_CREATE] ? "(killed)" : c->accepted ? "accepted" : c->message);
		g_free(path);
	}
	for (int op = 0; op < N_OPS; op++)
		printf("# worst %-12s %10.3f ms CPU (%s); worst wall time %.3f ms\n", op_names[op], worst[op],
			   worst_case[op], worst_wall[op]);
	g_ptr_array_unref(names);
	return 0;
}
