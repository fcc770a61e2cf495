/* allhands: benchmark of the admission logic alone (include/allhands/admission.h), against a plain
 * FIFO queue measured in the same run. Built and run by `make bench`; the figures and what they
 * mean are in docs/benchmarks.md.
 *
 * Each measurement runs in a child process of its own, so that one's heap (and its fragmentation)
 * neither helps nor hurts the next one's speed or memory figures. Timings are reported, and
 * compared with the goals (PASS/MISS), but never fail the run: the exit status is non-zero only
 * when a functional check fails (somebody not queued, not admitted, not removed).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "allhands/admission.h"

#define N_ATTENDEES 1000000
#define N_TENANTS 10000
#define ROOMS_PER_TENANT 10
#define N_ROOMS (N_TENANTS * ROOMS_PER_TENANT)
#define N_LEAVES 100000
#define WAVE 10000
#define HOUR_US (G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC)

/* Goals of the issue. */
#define GOAL_NS 1000.0
#define GOAL_BYTES 200.0
#define GOAL_RATIO 2.0

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define HAVE_MALLINFO2 1
#endif

/* What a child hands back to the parent (in shared memory). */
typedef struct {
	int ok;                /* functional checks passed */
	char failure[160];
	double enqueue_ns, admit_ns, leave_ns;
	double enqueue_warm_ns, admit_warm_ns; /* allhands: a second round into rooms that have their meters */
	double lookup_ns;      /* allhands: finding the (tenant, room) by name, alone */
	double heap_bytes, rss_bytes; /* per queued attendee */
	double sweep_idle_ns, sweep_changed_ns; /* per queued attendee, one report sweep */
	guint sweep_idle_queued, sweep_queued, sweep_events;
	double sweep_turnover_ns;  /* ...after seats turned over: every estimate from seat turnover */
	guint sweep_turnover_events;
} bench_result;

/* --- measuring */

static gint64 now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double rss_bytes(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static double heap_bytes(void)
{
#ifdef HAVE_MALLINFO2
	struct mallinfo2 mi = mallinfo2();
	return (double)mi.uordblks + (double)mi.hblkhd;
#else
	return 0;
#endif
}

static void fail(bench_result *res, const char *what, guint64 pid)
{
	if (!res->ok)
		return;
	g_snprintf(res->failure, sizeof res->failure, "%s (pid %" G_GUINT64_FORMAT ")", what, pid);
	res->ok = 0;
}

/* --- the workload, built before any timing: who joins which room, who leaves */

static guint64 rng_state = 0x9e3779b97f4a7c15u;

static guint64 rng_next(void)
{
	/* splitmix64 */
	guint64 z = (rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static char *tenant_names[N_TENANTS];
static char *room_names[N_ROOMS];       /* room k belongs to tenant k / ROOMS_PER_TENANT */
static const char **join_tenant;        /* [pid - 1] */
static const char **join_room;          /* [pid - 1] */
static guint *join_index;               /* [pid - 1]: the room's index k */
static guint64 *leavers;                /* N_LEAVES distinct pids, random order */
static ah_adm_room **room_handles;      /* [k], resolved after setup, like the engine keeps them */

static void workload_build(void)
{
	guint64 *pids;
	for (guint t = 0; t < N_TENANTS; t++)
		tenant_names[t] = g_strdup_printf("tenant-%05u", t);
	for (guint k = 0; k < N_ROOMS; k++)
		room_names[k] = g_strdup_printf("room-%06u", k);
	join_tenant = g_new(const char *, N_ATTENDEES);
	join_room = g_new(const char *, N_ATTENDEES);
	join_index = g_new(guint, N_ATTENDEES);
	for (guint i = 0; i < N_ATTENDEES; i++) {
		guint k = (guint)(rng_next() % N_ROOMS);
		join_tenant[i] = tenant_names[k / ROOMS_PER_TENANT];
		join_room[i] = room_names[k];
		join_index[i] = k;
	}
	/* Fisher-Yates over all pids, keep the first N_LEAVES. */
	pids = g_new(guint64, N_ATTENDEES);
	for (guint i = 0; i < N_ATTENDEES; i++)
		pids[i] = i + 1;
	for (guint i = N_ATTENDEES - 1; i > 0; i--) {
		guint j = (guint)(rng_next() % (i + 1));
		guint64 x = pids[i];
		pids[i] = pids[j];
		pids[j] = x;
	}
	leavers = g_new(guint64, N_LEAVES);
	memcpy(leavers, pids, N_LEAVES * sizeof *leavers);
	g_free(pids);
}

/* --- allhands */

static void config_for(ah_admission_config *c, guint capacity, gint64 update_interval_us, guint wave_size)
{
	ah_admission_config_defaults(c);
	c->capacity = capacity;
	c->wave_size = wave_size;
	c->wave_interval_us = 0;
	c->admit_timeout_us = 10 * HOUR_US;   /* nobody times out during the run */
	c->join_rate = 0;                     /* no token bucket */
	c->update_interval_us = update_interval_us;
}

static ah_admission *allhands_setup(guint capacity, gint64 update_interval_us, guint wave_size)
{
	ah_admission_config c;
	ah_admission *adm;
	config_for(&c, capacity, update_interval_us, wave_size);
	adm = ah_admission_new(&c);
	for (guint t = 0; t < N_TENANTS; t++) {
		ah_admission_set_tenant(adm, tenant_names[t], 10 * N_ATTENDEES);
		ah_admission_set_tenant_share(adm, tenant_names[t], 1 + t % 4, 0, 0);
	}
	for (guint k = 0; k < N_ROOMS; k++)
		ah_admission_set_room(adm, tenant_names[k / ROOMS_PER_TENANT], room_names[k], 10 * N_ATTENDEES);
	/* The engine looks a room up once per join request (it has to, to answer it) and hands the
	 * room to admission; the admission logic itself is measured from there. */
	g_free(room_handles);
	room_handles = g_new(ah_adm_room *, N_ROOMS);
	for (guint k = 0; k < N_ROOMS; k++)
		room_handles[k] = ah_admission_room(adm, tenant_names[k / ROOMS_PER_TENANT], room_names[k]);
	return adm;
}

/* Everyone joins at `now` (capacity 0: everyone queues), pids first + 1...; ns per join. */
static double allhands_enqueue_from(ah_admission *adm, guint64 first, gint64 now, GArray *events, bench_result *res)
{
	gint64 t0, t1;
	guint bad = 0;
	t0 = now_ns();
	for (guint i = 0; i < N_ATTENDEES; i++)
		bad += ah_admission_join_room(adm, first + i + 1, room_handles[join_index[i]], AH_ADM_ORDINARY, now, NULL,
			events) != AH_ADM_QUEUED;
	t1 = now_ns();
	if (bad > 0)
		fail(res, "allhands: a join did not queue", 0);
	if (ah_admission_counts(adm, NULL, NULL).queued != N_ATTENDEES)
		fail(res, "allhands: queued count", 0);
	g_array_set_size(events, 0);
	return (double)(t1 - t0) / N_ATTENDEES;
}

static double allhands_enqueue(ah_admission *adm, gint64 now, GArray *events, bench_result *res)
{
	return allhands_enqueue_from(adm, 0, now, events, res);
}

/* Admit everyone queued in waves of WAVE (capacity for all); ns per admitted attendee. */
static double allhands_admit(ah_admission *adm, gint64 *now, GArray *events, bench_result *res)
{
	ah_admission_config c;
	guint admitted = 0, ticks = 0, before = ah_admission_counts(adm, NULL, NULL).connecting;
	gint64 t0, t1;
	config_for(&c, 4 * N_ATTENDEES, HOUR_US, WAVE);
	ah_admission_set_config(adm, &c, *now);
	t0 = now_ns();
	while (admitted < N_ATTENDEES && ticks < 2 * N_ATTENDEES / WAVE) {
		*now += 1000;
		ah_admission_tick(adm, *now, events);
		for (guint i = 0; i < events->len; i++)
			admitted += g_array_index(events, ah_adm_event, i).kind == AH_ADM_EV_ADMITTED;
		g_array_set_size(events, 0);
		ticks++;
	}
	t1 = now_ns();
	if (admitted != N_ATTENDEES)
		fail(res, "allhands: not everyone was admitted", admitted);
	if (ah_admission_counts(adm, NULL, NULL).connecting != before + N_ATTENDEES)
		fail(res, "allhands: connecting count", 0);
	return (double)(t1 - t0) / N_ATTENDEES;
}

/* Phases 1 and 2: enqueue everyone, then admit everyone in waves. */
static void child_allhands(bench_result *res)
{
	ah_admission *adm = allhands_setup(0, HOUR_US, WAVE);
	ah_admission_config c;
	GArray *events = g_array_sized_new(FALSE, FALSE, sizeof(ah_adm_event), 2 * WAVE);
	gint64 now = HOUR_US, t0, t1;
	double heap0, rss0;
	guint admitted = 0;

	/* What part of a join is finding its room by name: the same lookups, alone (untimed goal). */
	t0 = now_ns();
	for (guint i = 0; i < N_ATTENDEES; i++)
		admitted += ah_admission_counts(adm, join_tenant[i], join_room[i]).queued;
	t1 = now_ns();
	res->lookup_ns = (double)(t1 - t0) / N_ATTENDEES;
	if (admitted != 0)
		fail(res, "allhands: rooms not empty", admitted);

	malloc_trim(0);
	heap0 = heap_bytes();
	rss0 = rss_bytes();
	res->enqueue_ns = allhands_enqueue(adm, now, events, res);
	res->heap_bytes = (heap_bytes() - heap0) / N_ATTENDEES;
	res->rss_bytes = (rss_bytes() - rss0) / N_ATTENDEES;

	res->admit_ns = allhands_admit(adm, &now, events, res);

	/* A second round: everyone has left (untimed), a new million joins the same rooms, whose
	 * measurements now exist (the first admission in a room allocates its histograms). */
	for (guint i = 0; i < N_ATTENDEES; i++)
		ah_admission_leave(adm, i + 1, now, NULL);
	config_for(&c, 0, HOUR_US, WAVE);
	ah_admission_set_config(adm, &c, now);
	res->enqueue_warm_ns = allhands_enqueue_from(adm, N_ATTENDEES, now, events, res);
	res->admit_warm_ns = allhands_admit(adm, &now, events, res);
	g_array_free(events, TRUE);
	ah_admission_free(adm);
}

static double allhands_sweep(ah_admission *adm, gint64 now, GArray *events, guint *queued)
{
	gint64 t0, t1;
	*queued = ah_admission_counts(adm, NULL, NULL).queued;
	g_array_set_size(events, 0);
	t0 = now_ns();
	ah_admission_tick(adm, now, events);
	t1 = now_ns();
	return (double)(t1 - t0) / *queued;
}

/* Phase 3: report sweeps over a full queue (nothing changed; then after a wave), and leaves. */
static void child_sweep(bench_result *res)
{
	ah_admission *adm = allhands_setup(0, HOUR_US, WAVE);
	ah_admission_config c;
	GArray *events = g_array_sized_new(FALSE, FALSE, sizeof(ah_adm_event), 4 * WAVE);
	gint64 now = HOUR_US, t0, t1;
	guint queued, bad = 0, n_seated = 0;
	guint64 seated[20];

	allhands_enqueue(adm, now, events, res);

	/* A sweep in which nothing changed. Joins at the tails move nobody, so no report is due yet:
	 * the last joiner (the tail of its room) leaves, which makes one due without moving anybody. */
	if (ah_admission_leave(adm, N_ATTENDEES, now, events) != AH_ADM_QUEUED)
		fail(res, "allhands: the tail's leave", N_ATTENDEES);
	now += HOUR_US + 1;
	res->sweep_idle_ns = allhands_sweep(adm, now, events, &queued);
	res->sweep_idle_queued = queued;
	if (events->len != 0)
		fail(res, "allhands: an idle sweep reported changes", events->len);

	/* One wave seats WAVE attendees (whoever was behind them moves up; their rooms now move, so
	 * estimates become known); the next sweep, an update interval later, reports them. The seats
	 * are then full: the sweep's own tick admits nobody. */
	config_for(&c, WAVE, HOUR_US, WAVE);
	ah_admission_set_config(adm, &c, now);
	now += 1;
	ah_admission_tick(adm, now, events);
	if (ah_admission_counts(adm, NULL, NULL).connecting != WAVE)
		fail(res, "allhands: the sweep's wave", 0);
	for (guint i = 0; i < events->len && n_seated < G_N_ELEMENTS(seated); i++)
		if (g_array_index(events, ah_adm_event, i).kind == AH_ADM_EV_ADMITTED)
			seated[n_seated++] = g_array_index(events, ah_adm_event, i).pid;
	g_array_set_size(events, 0);
	now += HOUR_US + 1;
	res->sweep_changed_ns = allhands_sweep(adm, now, events, &queued);
	res->sweep_queued = queued;
	res->sweep_events = events->len;
	if (events->len == 0)
		fail(res, "allhands: the sweep after a wave reported nothing", 0);
	g_array_set_size(events, 0);

	/* Seats turn over: 20 of the seated leave a second apart (each seat goes to the queue at once),
	 * so the node's turnover is measured and the next sweep gives everyone a turnover estimate. */
	for (guint i = 0; i < n_seated; i++) {
		now += G_USEC_PER_SEC;
		if (ah_admission_leave(adm, seated[i], now, events) != AH_ADM_CONNECTING)
			fail(res, "allhands: a seated attendee's leave", seated[i]);
	}
	g_array_set_size(events, 0);
	now += HOUR_US + 1;
	res->sweep_turnover_ns = allhands_sweep(adm, now, events, &queued);
	res->sweep_turnover_events = events->len;
	if (events->len == 0)
		fail(res, "allhands: the sweep after seats turned over reported nothing", 0);
	g_array_set_size(events, 0);

	/* Leaves of queued attendees (random pids; the few already seated are skipped untimed). */
	guint64 *pids = g_new(guint64, N_LEAVES);
	guint n = 0;
	for (guint i = 0; i < N_LEAVES; i++)
		if (ah_admission_state(adm, leavers[i]) == AH_ADM_QUEUED)
			pids[n++] = leavers[i];
	now += 1;
	t0 = now_ns();
	for (guint i = 0; i < n; i++)
		bad += ah_admission_leave(adm, pids[i], now, events) != AH_ADM_QUEUED;
	t1 = now_ns();
	res->leave_ns = (double)(t1 - t0) / n;
	if (bad > 0)
		fail(res, "allhands: a leave did not find its queued attendee", 0);
	if (ah_admission_counts(adm, NULL, NULL).queued != N_ATTENDEES - 1 - WAVE - n_seated - n)
		fail(res, "allhands: queued count after leaves", 0);
	g_free(pids);
	g_array_free(events, TRUE);
	ah_admission_free(adm);
}

/* --- the plain FIFO: a record per attendee, a pid index, one queue */

typedef struct {
	guint64 pid;     /* the index's key */
	gint64 since;
	int state;
	GList *link;     /* in the queue while queued */
} fifo_record;

typedef struct {
	GHashTable *index; /* &pid -> fifo_record* (owned) */
	GQueue queue;
} fifo;

static void child_fifo(bench_result *res)
{
	fifo f = {.index = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free),
		.queue = G_QUEUE_INIT};
	gint64 now = HOUR_US, t0, t1;
	double heap0, rss0;
	guint admitted = 0, left = 0;

	malloc_trim(0);
	heap0 = heap_bytes();
	rss0 = rss_bytes();
	t0 = now_ns();
	for (guint i = 0; i < N_ATTENDEES; i++) {
		fifo_record *r = g_new(fifo_record, 1);
		r->pid = i + 1;
		r->since = now;
		r->state = AH_ADM_QUEUED;
		g_hash_table_insert(f.index, &r->pid, r);
		g_queue_push_tail(&f.queue, r);
		r->link = f.queue.tail;
	}
	t1 = now_ns();
	res->enqueue_ns = (double)(t1 - t0) / N_ATTENDEES;
	res->heap_bytes = (heap_bytes() - heap0) / N_ATTENDEES;
	res->rss_bytes = (rss_bytes() - rss0) / N_ATTENDEES;

	/* Leaves of queued attendees: find by pid, unlink, forget. */
	t0 = now_ns();
	for (guint i = 0; i < N_LEAVES; i++) {
		fifo_record *r = g_hash_table_lookup(f.index, &leavers[i]);
		if (r == NULL || r->state != AH_ADM_QUEUED)
			continue;
		g_queue_delete_link(&f.queue, r->link);
		g_hash_table_remove(f.index, &r->pid);
		left++;
	}
	t1 = now_ns();
	res->leave_ns = (double)(t1 - t0) / N_LEAVES;
	if (left != N_LEAVES)
		fail(res, "fifo: a leave did not find its attendee", left);

	/* Put the leavers back at the tail (untimed) so that the admission drains N_ATTENDEES. */
	for (guint i = 0; i < N_LEAVES; i++) {
		fifo_record *r = g_new(fifo_record, 1);
		r->pid = leavers[i];
		r->since = now;
		r->state = AH_ADM_QUEUED;
		g_hash_table_insert(f.index, &r->pid, r);
		g_queue_push_tail(&f.queue, r);
		r->link = f.queue.tail;
	}

	/* Admission: pop the head, seat it (the record stays indexed, as a seated attendee's does). */
	t0 = now_ns();
	for (;;) {
		fifo_record *r = g_queue_pop_head(&f.queue);
		if (r == NULL)
			break;
		r->link = NULL;
		r->state = AH_ADM_CONNECTING;
		r->since = now;
		admitted++;
	}
	t1 = now_ns();
	res->admit_ns = (double)(t1 - t0) / N_ATTENDEES;
	if (admitted != N_ATTENDEES)
		fail(res, "fifo: not everyone was admitted", admitted);
	g_hash_table_destroy(f.index);
}

/* --- the plain FIFO with caps: what the first version of admission did per attendee when every
 * head was admissible: one arrival-order queue, plus the seat counts of the attendee's room and
 * tenant that every cap check needs. Fairness is what it lacks. */

typedef struct {
	guint queued, seated, max;
} fifo_counts;

typedef struct {
	guint64 pid;
	gint64 since;
	int state;
	fifo_counts *room, *tenant;
	GList *link;
} fifo_caps_record;

static void child_fifo_caps(bench_result *res)
{
	GHashTable *index = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	GQueue queue = G_QUEUE_INIT;
	fifo_counts *tenants = g_new0(fifo_counts, N_TENANTS), *rooms = g_new0(fifo_counts, N_ROOMS);
	gint64 now = HOUR_US, t0, t1;
	double heap0, rss0;
	guint admitted = 0, bad = 0;

	for (guint k = 0; k < N_ROOMS; k++)
		rooms[k].max = 10 * N_ATTENDEES;
	for (guint t = 0; t < N_TENANTS; t++)
		tenants[t].max = 10 * N_ATTENDEES;
	malloc_trim(0);
	heap0 = heap_bytes();
	rss0 = rss_bytes();
	t0 = now_ns();
	for (guint i = 0; i < N_ATTENDEES; i++) {
		guint64 pid = i + 1;
		fifo_caps_record *r;
		if (g_hash_table_lookup(index, &pid) != NULL) {
			bad++;
			continue;
		}
		r = g_new(fifo_caps_record, 1);
		r->pid = pid;
		r->since = now;
		r->state = AH_ADM_QUEUED;
		r->room = &rooms[join_index[i]];
		r->tenant = &tenants[join_index[i] / ROOMS_PER_TENANT];
		r->room->queued++;
		r->tenant->queued++;
		g_hash_table_insert(index, &r->pid, r);
		g_queue_push_tail(&queue, r);
		r->link = queue.tail;
	}
	t1 = now_ns();
	res->enqueue_ns = (double)(t1 - t0) / N_ATTENDEES;
	res->heap_bytes = (heap_bytes() - heap0) / N_ATTENDEES;
	res->rss_bytes = (rss_bytes() - rss0) / N_ATTENDEES;
	t0 = now_ns();
	for (;;) {
		fifo_caps_record *r = g_queue_pop_head(&queue);
		if (r == NULL)
			break;
		if (r->room->seated >= r->room->max || r->tenant->seated >= r->tenant->max) {
			bad++;
			continue;
		}
		r->link = NULL;
		r->state = AH_ADM_CONNECTING;
		r->since = now;
		r->room->queued--;
		r->tenant->queued--;
		r->room->seated++;
		r->tenant->seated++;
		admitted++;
	}
	t1 = now_ns();
	res->admit_ns = (double)(t1 - t0) / N_ATTENDEES;
	if (admitted != N_ATTENDEES || bad != 0)
		fail(res, "fifo with caps: not everyone was admitted", admitted);
	g_hash_table_destroy(index);
	g_free(rooms);
	g_free(tenants);
}

/* --- driver */

static int run_child(void (*fn)(bench_result *), bench_result *res, const char *name)
{
	pid_t child;
	int status;
	memset(res, 0, sizeof *res);
	res->ok = 1;
	fflush(stdout);
	child = fork();
	if (child < 0) {
		perror("fork");
		return 0;
	}
	if (child == 0) {
		fn(res);
		_exit(0);
	}
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench-admission: %s: the child crashed\n", name);
		return 0;
	}
	if (!res->ok) {
		fprintf(stderr, "bench-admission: %s: %s\n", name, res->failure);
		return 0;
	}
	return 1;
}

static int goal(const char *what, double value, double limit, const char *unit)
{
	int pass = value < limit;
	printf("  %-44s %10.2f %-5s < %-7g %s\n", what, value, unit, limit, pass ? "PASS" : "MISS");
	return pass;
}

int main(void)
{
	bench_result *shared = mmap(NULL, 4 * sizeof(bench_result), PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	bench_result *ah, *sw, *ff, *fc;
	int ok = 1, missed = 0;

	if (shared == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	ah = &shared[0];
	sw = &shared[1];
	ff = &shared[2];
	fc = &shared[3];
	workload_build();

	printf("admission benchmark: %u queued attendees, %u tenants (weights 1..4), %u rooms; "
		"waves of %u; %u leaves\n", N_ATTENDEES, N_TENANTS, N_ROOMS, WAVE, N_LEAVES);
	ok &= run_child(child_fifo, ff, "fifo");
	ok &= run_child(child_fifo_caps, fc, "fifo with caps");
	ok &= run_child(child_allhands, ah, "allhands enqueue/admit");
	ok &= run_child(child_sweep, sw, "allhands sweep/leave");
	if (!ok)
		return 1;
	ah->leave_ns = sw->leave_ns;

	printf("\n%-34s %12s %12s %8s\n", "operation", "allhands", "plain FIFO", "ratio");
	printf("%-34s %9.1f ns %9.1f ns %8.2f\n", "enqueue (join, queued)", ah->enqueue_ns, ff->enqueue_ns,
		ah->enqueue_ns / ff->enqueue_ns);
	printf("%-34s %9.1f ns\n", "finding a room by name (not in join)", ah->lookup_ns);
	printf("%-34s %9.1f ns %9.1f ns %8.2f\n", "admit (per admitted attendee)", ah->admit_ns, ff->admit_ns,
		ah->admit_ns / ff->admit_ns);
	printf("%-34s %9.1f ns\n", "enqueue, second round", ah->enqueue_warm_ns);
	printf("%-34s %9.1f ns\n", "admit, second round", ah->admit_warm_ns);
	printf("\n%-34s %12s %12s %8s\n", "against the FIFO with caps", "allhands", "FIFO+caps", "ratio");
	printf("%-34s %9.1f ns %9.1f ns %8.2f\n", "enqueue (join, queued)", ah->enqueue_ns, fc->enqueue_ns,
		ah->enqueue_ns / fc->enqueue_ns);
	printf("%-34s %9.1f ns %9.1f ns %8.2f\n", "admit (per admitted attendee)", ah->admit_ns, fc->admit_ns,
		ah->admit_ns / fc->admit_ns);
	printf("%-34s %10.1f B %10.1f B %8.2f\n\n", "memory per queued (heap)", ah->heap_bytes, fc->heap_bytes,
		ah->heap_bytes / fc->heap_bytes);
	printf("%-34s %9.1f ns %9.1f ns %8.2f\n", "leave (queued attendee)", ah->leave_ns, ff->leave_ns,
		ah->leave_ns / ff->leave_ns);
#ifdef HAVE_MALLINFO2
	printf("%-34s %10.1f B %10.1f B %8.2f\n", "memory per queued (heap, mallinfo2)", ah->heap_bytes,
		ff->heap_bytes, ah->heap_bytes / ff->heap_bytes);
#endif
	printf("%-34s %10.1f B %10.1f B %8.2f\n", "memory per queued (RSS delta)", ah->rss_bytes, ff->rss_bytes,
		ah->rss_bytes / ff->rss_bytes);
	printf("\nposition/estimate report sweep over the whole queue (allhands only):\n");
	printf("  nothing changed:   %7.1f ns per queued attendee (%u queued, %.1f ms per sweep)\n",
		sw->sweep_idle_ns, sw->sweep_idle_queued, sw->sweep_idle_ns * sw->sweep_idle_queued / 1e6);
	printf("  after one wave:    %7.1f ns per queued attendee (%u queued, %u position events, %.1f ms per sweep)\n",
		sw->sweep_changed_ns, sw->sweep_queued, sw->sweep_events,
		sw->sweep_changed_ns * sw->sweep_queued / 1e6);
	printf("  after turnover:    %7.1f ns per queued attendee (%u position events, %.1f ms per sweep)\n",
		sw->sweep_turnover_ns, sw->sweep_turnover_events, sw->sweep_turnover_ns * sw->sweep_queued / 1e6);

	printf("\ngoals:\n");
	missed += !goal("enqueue", ah->enqueue_ns, GOAL_NS, "ns");
	missed += !goal("admit", ah->admit_ns, GOAL_NS, "ns");
	missed += !goal("leave", ah->leave_ns, GOAL_NS, "ns");
#ifdef HAVE_MALLINFO2
	missed += !goal("memory per queued attendee (heap)", ah->heap_bytes, GOAL_BYTES, "B");
#else
	missed += !goal("memory per queued attendee (RSS)", ah->rss_bytes, GOAL_BYTES, "B");
#endif
	missed += !goal("enqueue vs plain FIFO", ah->enqueue_ns / ff->enqueue_ns, GOAL_RATIO, "x");
	missed += !goal("admit vs plain FIFO", ah->admit_ns / ff->admit_ns, GOAL_RATIO, "x");
	missed += !goal("enqueue vs FIFO with caps", ah->enqueue_ns / fc->enqueue_ns, GOAL_RATIO, "x");
	missed += !goal("admit vs FIFO with caps", ah->admit_ns / fc->admit_ns, GOAL_RATIO, "x");
	missed += !goal("leave vs plain FIFO", ah->leave_ns / ff->leave_ns, GOAL_RATIO, "x");
	printf("%d goal(s) missed (timings are informative: the exit status only reflects functional checks)\n",
		missed);
	return 0;
}
