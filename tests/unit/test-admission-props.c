/* allhands: property tests for plugin/core/admission.c.
 *
 * Each test drives one ah_admission with a seeded GRand through thousands of random steps (joins
 * to random rooms and tenants, presenters, connects, leaves, time advancing into admit timeouts
 * and waves, config and cap changes, room and tenant removals, rooms opened, closed, shuffled and
 * cleared) while keeping a shadow model built
 * only from what the API returned and reported. After every step the invariants are checked by
 * recomputing from the model: caps never exceeded by an admission, every pid in exactly one state
 * (nobody lost, nobody duplicated), the queue in arrival order, counts, positions and the next
 * deadline as the model predicts them, the wave and join rules, and nobody of a closed room ever
 * admitted. A shuffle is taken from the API (the room's new order) and checked to be a permutation
 * of the room's places; the model then keeps the queue order as "arrival" ranks. At the end everyone
 * is connected, every room opened, and time runs on until the queue is drained as far as the caps
 * allow (liveness).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "allhands/admission.h"

#define N_TENANTS 3
#define N_ROOMS 3
#define N_STEPS 5000

static const char *const tenant_ids[N_TENANTS] = {"t0", "t1", "t2"};
static const char *const room_ids[N_ROOMS] = {"r0", "r1", "r2"};

typedef struct {
	gboolean exists;
	gboolean closed;
	guint cap;
} model_room;

typedef struct {
	gboolean exists;
	guint cap;
	model_room rooms[N_ROOMS];
} model_tenant;

typedef struct {
	guint64 pid;
	ah_adm_state state; /* AH_ADM_NONE: never joined, or gone (left, timed out, removed) */
	gboolean presenter;
	int t, r;
	guint64 arrival; /* QUEUED: rank in the queue (arrival order, permuted by shuffles) */
	gint64 since;	 /* CONNECTING: admitted at */
	guint reported;	 /* QUEUED: position as last told (join or POSITION event) */
} model_part;

/* Seats held: attendees for the node and rooms; attendees and presenters for tenants. */
typedef struct {
	guint node;
	guint tenant[N_TENANTS];
	guint room[N_TENANTS][N_ROOMS];
} seat_map;

typedef struct {
	GRand *rand;
	ah_admission *adm;
	ah_admission_config config;
	model_tenant tenants[N_TENANTS];
	GArray *parts; /* model_part, parts[pid - 1] */
	GArray *events;
	gint64 now;
	gboolean waved;
	gint64 last_wave;
	guint64 arrivals;
	gboolean stale;	   /* a remove left positions unreported until the next call with events */
	seat_map before;   /* seats at the start of the step */
	seat_map admitted; /* admissions into each scope during the step */
	guint64 joiner;	   /* the pid joining in this step, 0 if none */
	guint stats[4];	   /* per event kind, plus [3]: the longest queue seen */
} world;

/* --- model helpers */

static model_part *part(world *w, guint64 pid)
{
	g_assert_cmpuint(pid, >=, 1);
	g_assert_cmpuint(pid, <=, w->parts->len);
	return &g_array_index(w->parts, model_part, pid - 1);
}

static model_part *part_new(world *w)
{
	model_part p = {.pid = w->parts->len + 1, .state = AH_ADM_NONE};
	p.t = g_rand_int_range(w->rand, 0, N_TENANTS);
	p.r = g_rand_int_range(w->rand, 0, N_ROOMS);
	g_array_append_val(w->parts, p);
	return part(w, p.pid);
}

static gboolean room_exists(const world *w, int t, int r)
{
	return w->tenants[t].exists && w->tenants[t].rooms[r].exists;
}

static gboolean seated(const model_part *p)
{
	return p->state == AH_ADM_CONNECTING || p->state == AH_ADM_ACTIVE;
}

static void seats_compute(const world *w, seat_map *sm)
{
	memset(sm, 0, sizeof(*sm));
	for (guint i = 0; i < w->parts->len; i++) {
		const model_part *p = &g_array_index(w->parts, model_part, i);
		if (!seated(p))
			continue;
		sm->tenant[p->t]++;
		if (p->presenter)
			continue;
		sm->node++;
		sm->room[p->t][p->r]++;
	}
}

static gboolean room_closed(const world *w, const model_part *p)
{
	return w->tenants[p->t].rooms[p->r].closed;
}

static gboolean admissible(const world *w, const seat_map *sm, const model_part *p)
{
	return !room_closed(w, p) && sm->node < w->config.capacity && sm->tenant[p->t] < w->tenants[p->t].cap &&
		   sm->room[p->t][p->r] < w->tenants[p->t].rooms[p->r].cap;
}

static gint compare_arrival(gconstpointer a, gconstpointer b)
{
	const model_part *x = *(model_part *const *)a, *y = *(model_part *const *)b;
	return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

/* The queued parts in arrival order (free with g_ptr_array_free(q, TRUE)). */
static GPtrArray *model_queue(const world *w)
{
	GPtrArray *q = g_ptr_array_new();
	for (guint i = 0; i < w->parts->len; i++) {
		model_part *p = &g_array_index(w->parts, model_part, i);
		if (p->state == AH_ADM_QUEUED)
			g_ptr_array_add(q, p);
	}
	g_ptr_array_sort(q, compare_arrival);
	return q;
}

static gboolean queue_has_admissible(const world *w, const model_part *except)
{
	seat_map sm;
	gboolean found = FALSE;
	seats_compute(w, &sm);
	for (guint i = 0; i < w->parts->len && !found; i++) {
		const model_part *p = &g_array_index(w->parts, model_part, i);
		found = p->state == AH_ADM_QUEUED && p != except && admissible(w, &sm, p);
	}
	return found;
}

static void note_admission(world *w, const model_part *p)
{
	w->admitted.tenant[p->t]++;
	if (p->presenter)
		return;
	w->admitted.node++;
	w->admitted.room[p->t][p->r]++;
}

static gboolean wave_due(const world *w)
{
	return !w->waved || w->now - w->last_wave >= w->config.wave_interval_us;
}

static void step_begin(world *w)
{
	seats_compute(w, &w->before);
	memset(&w->admitted, 0, sizeof(w->admitted));
	w->joiner = 0;
	g_array_set_size(w->events, 0);
}

/* --- events */

static int event_rank(ah_adm_event_kind kind)
{
	return kind == AH_ADM_EV_TIMED_OUT ? 0 : kind == AH_ADM_EV_ADMITTED ? 1 : 2;
}

static void apply_event(world *w, const ah_adm_event *ev, guint64 *last_arrival)
{
	model_part *p = part(w, ev->pid);
	switch (ev->kind) {
	case AH_ADM_EV_TIMED_OUT:
		g_assert_cmpint(p->state, ==, AH_ADM_CONNECTING);
		g_assert_cmpint(p->presenter, ==, FALSE);
		g_assert_cmpint(p->since + w->config.admit_timeout_us, <=, w->now);
		p->state = AH_ADM_NONE;
		break;
	case AH_ADM_EV_ADMITTED:
		g_assert_cmpint(p->state, ==, AH_ADM_QUEUED);
		g_assert_cmpint(room_closed(w, p), ==, FALSE);
		g_assert_cmpuint(p->arrival, >, *last_arrival);
		*last_arrival = p->arrival;
		p->state = AH_ADM_CONNECTING;
		p->since = w->now;
		note_admission(w, p);
		break;
	case AH_ADM_EV_POSITION:
		g_assert_cmpint(p->state, ==, AH_ADM_QUEUED);
		g_assert_cmpuint(p->pid, !=, w->joiner);
		g_assert_cmpuint(ev->position, !=, p->reported);
		p->reported = ev->position;
		break;
	}
}

/* Applies the step's events to the model; returns how many were admitted, sets *last_arrival
 * to the arrival of the last one. */
static guint apply_events(world *w, guint64 *last_arrival)
{
	GPtrArray *q;
	guint admitted = 0;
	int rank = 0;
	*last_arrival = 0;
	for (guint i = 0; i < w->events->len; i++) {
		const ah_adm_event *ev = &g_array_index(w->events, ah_adm_event, i);
		g_assert_cmpint(event_rank(ev->kind), >=, rank);
		rank = event_rank(ev->kind);
		apply_event(w, ev, last_arrival);
		w->stats[ev->kind]++;
		if (ev->kind == AH_ADM_EV_ADMITTED)
			admitted++;
	}
	q = model_queue(w);
	for (guint i = 0; i < w->events->len; i++) {
		const ah_adm_event *ev = &g_array_index(w->events, ah_adm_event, i);
		if (ev->kind == AH_ADM_EV_POSITION)
			g_assert_cmpuint(ev->queue_length, ==, q->len);
	}
	g_ptr_array_free(q, TRUE);
	g_assert_cmpuint(admitted, <=, w->config.wave_size);
	if (admitted > 0) {
		g_assert_cmpint(wave_due(w), ==, TRUE);
		w->waved = TRUE;
		w->last_wave = w->now;
	}
	return admitted;
}

/* After a call that ran the due work at `now` (join, leave, tick), with `due` telling whether a
 * wave was due when it started. */
static void check_due_work(world *w, gboolean due, guint admitted, guint64 last_arrival)
{
	seat_map sm;
	seats_compute(w, &sm);
	w->stale = FALSE;
	for (guint i = 0; i < w->parts->len; i++) {
		const model_part *p = &g_array_index(w->parts, model_part, i);
		if (p->state == AH_ADM_CONNECTING)
			g_assert_cmpint(p->since + w->config.admit_timeout_us, >, w->now);
		/* A wave skips only entries blocked by their own room or tenant, or of a closed room. */
		if (admitted > 0 && p->state == AH_ADM_QUEUED && p->arrival < last_arrival)
			g_assert_cmpint(room_closed(w, p) || sm.tenant[p->t] >= w->tenants[p->t].cap ||
								sm.room[p->t][p->r] >= w->tenants[p->t].rooms[p->r].cap,
							==, TRUE);
	}
	/* A due wave stops early only when nobody left in the queue can be admitted. */
	if (due && queue_has_admissible(w, NULL))
		g_assert_cmpuint(admitted, ==, w->config.wave_size);
}

/* --- invariants */

static void check_caps(const world *w)
{
	seat_map sm;
	seats_compute(w, &sm);
	/* Over a cap only if it was lowered: then nothing was admitted into it and nothing grew. */
	if (sm.node > w->config.capacity) {
		g_assert_cmpuint(w->admitted.node, ==, 0);
		g_assert_cmpuint(sm.node, <=, w->before.node);
	}
	for (int t = 0; t < N_TENANTS; t++) {
		if (!w->tenants[t].exists) {
			g_assert_cmpuint(sm.tenant[t], ==, 0);
			continue;
		}
		if (sm.tenant[t] > w->tenants[t].cap) {
			g_assert_cmpuint(w->admitted.tenant[t], ==, 0);
			g_assert_cmpuint(sm.tenant[t], <=, w->before.tenant[t]);
		}
		for (int r = 0; r < N_ROOMS; r++) {
			if (!w->tenants[t].rooms[r].exists) {
				g_assert_cmpuint(sm.room[t][r], ==, 0);
			} else if (sm.room[t][r] > w->tenants[t].rooms[r].cap) {
				g_assert_cmpuint(w->admitted.room[t][r], ==, 0);
				g_assert_cmpuint(sm.room[t][r], <=, w->before.room[t][r]);
			}
		}
	}
}

static void counts_expect(const world *w, int t, int r, ah_adm_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (guint i = 0; i < w->parts->len; i++) {
		const model_part *p = &g_array_index(w->parts, model_part, i);
		if (p->state == AH_ADM_NONE || (t >= 0 && p->t != t) || (r >= 0 && p->r != r))
			continue;
		if (p->presenter)
			c->presenters += t >= 0 ? 1 : 0;
		else if (p->state == AH_ADM_QUEUED)
			c->queued++;
		else if (p->state == AH_ADM_CONNECTING)
			c->connecting++;
		else
			c->active++;
	}
}

static void check_counts_of(const world *w, int t, int r)
{
	ah_adm_counts want, got;
	const char *tenant = t >= 0 ? tenant_ids[t] : NULL;
	const char *room = r >= 0 ? room_ids[r] : NULL;
	gboolean exists = t < 0 || (w->tenants[t].exists && (r < 0 || w->tenants[t].rooms[r].exists));
	if (exists)
		counts_expect(w, t, r, &want);
	else
		memset(&want, 0, sizeof(want));
	got = ah_admission_counts(w->adm, tenant, room);
	g_assert_cmpuint(got.active, ==, want.active);
	g_assert_cmpuint(got.connecting, ==, want.connecting);
	g_assert_cmpuint(got.queued, ==, want.queued);
	g_assert_cmpuint(got.presenters, ==, want.presenters);
}

static void check_counts(const world *w)
{
	check_counts_of(w, -1, -1);
	for (int t = 0; t < N_TENANTS; t++) {
		check_counts_of(w, t, -1);
		for (int r = 0; r < N_ROOMS; r++)
			check_counts_of(w, t, r);
	}
}

static void check_states(const world *w)
{
	for (guint i = 0; i < w->parts->len; i++) {
		const model_part *p = &g_array_index(w->parts, model_part, i);
		g_assert_cmpint(ah_admission_state(w->adm, p->pid), ==, p->state);
	}
}

/* The queue is the model's queued parts in arrival order, each once; a filtered view too.
 * Returns whether every position was reported as it is now. */
static gboolean check_queue(world *w)
{
	GPtrArray *want = model_queue(w);
	GArray *got = ah_admission_queue(w->adm, NULL, NULL);
	int t = g_rand_int_range(w->rand, 0, N_TENANTS), r = g_rand_int_range(w->rand, -1, N_ROOMS);
	GArray *filtered = ah_admission_queue(w->adm, tenant_ids[t], r >= 0 ? room_ids[r] : NULL);
	gboolean reported = TRUE;
	guint j = 0;
	g_assert_cmpuint(got->len, ==, want->len);
	w->stats[3] = MAX(w->stats[3], got->len);
	for (guint i = 0; i < want->len; i++) {
		const model_part *p = g_ptr_array_index(want, i);
		g_assert_cmpuint(g_array_index(got, guint64, i), ==, p->pid);
		g_assert_cmpuint(ah_admission_position(w->adm, p->pid), ==, i + 1);
		reported = reported && p->reported == i + 1;
		if (p->t == t && (r < 0 || p->r == r)) {
			g_assert_cmpuint(j, <, filtered->len);
			g_assert_cmpuint(g_array_index(filtered, guint64, j), ==, p->pid);
			j++;
		}
	}
	g_assert_cmpuint(filtered->len, ==, j);
	g_ptr_array_free(want, TRUE);
	g_array_free(got, TRUE);
	g_array_free(filtered, TRUE);
	return reported;
}

static gint64 expected_deadline(const world *w)
{
	gint64 deadline = G_MAXINT64;
	for (guint i = 0; i < w->parts->len; i++) {
		const model_part *p = &g_array_index(w->parts, model_part, i);
		if (p->state == AH_ADM_CONNECTING && !p->presenter)
			deadline = MIN(deadline, p->since + w->config.admit_timeout_us);
	}
	if (queue_has_admissible(w, NULL))
		deadline = MIN(deadline, w->waved ? w->last_wave + w->config.wave_interval_us : G_MININT64);
	return deadline < w->now ? w->now : deadline;
}

static void check_all(world *w)
{
	gboolean reported;
	gint64 want = expected_deadline(w), got = ah_admission_next_deadline(w->adm, w->now);
	check_caps(w);
	check_states(w);
	check_counts(w);
	reported = check_queue(w);
	if (!w->stale) {
		g_assert_cmpint(reported, ==, TRUE);
		g_assert_cmpint(got, ==, want);
		return;
	}
	/* Positions moved by a remove are reported by the next tick, which is then due now. */
	g_assert_cmpint(got, >=, w->now);
	g_assert_cmpint(got, <=, want);
	if (!reported)
		g_assert_cmpint(got, ==, w->now);
}

/* --- actions: each is one step, checked by check_all() afterwards */

static void finish_due_call(world *w, gboolean due)
{
	guint64 last_arrival;
	guint admitted = apply_events(w, &last_arrival);
	check_due_work(w, due, admitted, last_arrival);
}

static void do_join(world *w, model_part *p)
{
	gboolean valid = room_exists(w, p->t, p->r) && p->state == AH_ADM_NONE;
	gboolean due = wave_due(w);
	guint position = 99;
	ah_adm_state st;
	w->joiner = p->pid;
	st = ah_admission_join(w->adm, p->pid, tenant_ids[p->t], room_ids[p->r], w->now, &position, w->events);
	if (!valid) {
		g_assert_cmpint(st, ==, AH_ADM_NONE);
		g_assert_cmpuint(position, ==, 0);
		g_assert_cmpuint(w->events->len, ==, 0);
		return;
	}
	p->presenter = FALSE;
	p->state = st;
	if (st == AH_ADM_CONNECTING) {
		g_assert_cmpint(room_closed(w, p), ==, FALSE);
		p->since = w->now;
		note_admission(w, p);
	} else {
		g_assert_cmpint(st, ==, AH_ADM_QUEUED);
		p->arrival = ++w->arrivals;
		p->reported = position;
	}
	finish_due_call(w, due);
	if (st == AH_ADM_CONNECTING) {
		/* Admitted at once only when nobody queued could have been. */
		g_assert_cmpint(queue_has_admissible(w, NULL), ==, FALSE);
	} else {
		seat_map sm;
		GPtrArray *q = model_queue(w);
		seats_compute(w, &sm);
		g_assert_cmpuint(position, ==, q->len);
		g_assert_cmpint(!admissible(w, &sm, p) || queue_has_admissible(w, p), ==, TRUE);
		g_ptr_array_free(q, TRUE);
	}
}

static void act_join(world *w)
{
	model_part *p;
	if (w->parts->len > 0 && g_rand_int_range(w->rand, 0, 10) == 0) {
		/* A known pid (refused) or one that is gone (joins again, maybe elsewhere). */
		p = part(w, (guint64)g_rand_int_range(w->rand, 1, (gint32)w->parts->len + 1));
		if (p->state == AH_ADM_NONE) {
			p->t = g_rand_int_range(w->rand, 0, N_TENANTS);
			p->r = g_rand_int_range(w->rand, 0, N_ROOMS);
		}
	} else {
		p = part_new(w);
	}
	do_join(w, p);
}

static void act_presenter(world *w)
{
	model_part *p = part_new(w);
	seat_map sm;
	gboolean want, got;
	seats_compute(w, &sm);
	want = room_exists(w, p->t, p->r) && sm.tenant[p->t] < w->tenants[p->t].cap;
	got = ah_admission_add_presenter(w->adm, p->pid, tenant_ids[p->t], room_ids[p->r]);
	g_assert_cmpint(got, ==, want);
	if (got) {
		p->presenter = TRUE;
		p->state = AH_ADM_ACTIVE;
		note_admission(w, p);
	}
	/* A known pid is refused. */
	if (got && g_rand_boolean(w->rand))
		g_assert_cmpint(ah_admission_add_presenter(w->adm, p->pid, tenant_ids[p->t], room_ids[p->r]), ==, FALSE);
}

/* A random pid, preferably one in `state` (AH_ADM_NONE: any live one). */
static model_part *pick(world *w, ah_adm_state state)
{
	guint n = w->parts->len, start;
	if (n == 0)
		return NULL;
	start = (guint)g_rand_int_range(w->rand, 0, (gint32)n);
	for (guint i = 0; i < n; i++) {
		model_part *p = &g_array_index(w->parts, model_part, (start + i) % n);
		if (state == AH_ADM_NONE ? p->state != AH_ADM_NONE : p->state == state)
			return p;
	}
	return part(w, start + 1);
}

static void act_connected(world *w)
{
	model_part *p = pick(w, g_rand_int_range(w->rand, 0, 5) > 0 ? AH_ADM_CONNECTING : AH_ADM_NONE);
	gboolean want, got;
	if (p == NULL)
		return;
	want = p->state == AH_ADM_CONNECTING && w->now < p->since + w->config.admit_timeout_us;
	got = ah_admission_connected(w->adm, p->pid, w->now);
	g_assert_cmpint(got, ==, want);
	if (got)
		p->state = AH_ADM_ACTIVE;
}

static void act_leave(world *w)
{
	model_part *p = pick(w, AH_ADM_NONE);
	gboolean due = wave_due(w);
	ah_adm_state st;
	if (p == NULL)
		return;
	st = ah_admission_leave(w->adm, p->pid, w->now, w->events);
	g_assert_cmpint(st, ==, p->state);
	if (st == AH_ADM_NONE) {
		g_assert_cmpuint(w->events->len, ==, 0);
		return;
	}
	p->state = AH_ADM_NONE;
	finish_due_call(w, due);
}

static void tick(world *w)
{
	gboolean due = wave_due(w);
	ah_admission_tick(w->adm, w->now, w->events);
	finish_due_call(w, due);
}

static void act_time(world *w)
{
	gint64 deadline;
	switch (g_rand_int_range(w->rand, 0, 3)) {
	case 0: /* time passes; the next join or leave runs what became due */
		w->now += g_rand_int_range(w->rand, 0, 3000);
		break;
	case 1:
		w->now += g_rand_int_range(w->rand, 0, 3000);
		tick(w);
		break;
	default: /* the caller's timer fires exactly at the deadline */
		deadline = ah_admission_next_deadline(w->adm, w->now);
		if (deadline != G_MAXINT64)
			w->now = deadline;
		tick(w);
		break;
	}
}

static void act_config(world *w)
{
	w->config.capacity = (guint)g_rand_int_range(w->rand, 0, 13);
	w->config.wave_size = (guint)g_rand_int_range(w->rand, 1, 4);
	w->config.wave_interval_us = g_rand_int_range(w->rand, 0, 2001);
	w->config.admit_timeout_us = g_rand_int_range(w->rand, 1, 5001);
	ah_admission_set_config(w->adm, &w->config);
}

static void act_set_cap(world *w)
{
	int t = g_rand_int_range(w->rand, 0, N_TENANTS), r = g_rand_int_range(w->rand, 0, N_ROOMS);
	guint cap = (guint)g_rand_int_range(w->rand, 0, 9);
	if (g_rand_boolean(w->rand)) {
		ah_admission_set_tenant(w->adm, tenant_ids[t], cap);
		w->tenants[t].exists = TRUE;
		w->tenants[t].cap = cap;
		return;
	}
	g_assert_cmpint(ah_admission_set_room(w->adm, tenant_ids[t], room_ids[r], cap), ==, w->tenants[t].exists);
	if (w->tenants[t].exists) {
		/* A new room is open; an existing one keeps its state. */
		if (!w->tenants[t].rooms[r].exists)
			w->tenants[t].rooms[r].closed = FALSE;
		w->tenants[t].rooms[r].exists = TRUE;
		w->tenants[t].rooms[r].cap = cap;
	}
}

static gint compare_pid(gconstpointer a, gconstpointer b)
{
	guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
	return x < y ? -1 : x > y;
}

/* The removed pids are exactly the live members of tenant t (room r, or all with r < 0). */
static void check_removed(world *w, int t, int r, GArray *removed)
{
	guint j = 0;
	g_array_sort(removed, compare_pid);
	for (guint i = 0; i < w->parts->len; i++) {
		model_part *p = &g_array_index(w->parts, model_part, i);
		if (p->state == AH_ADM_NONE || p->t != t || (r >= 0 && p->r != r))
			continue;
		g_assert_cmpuint(j, <, removed->len);
		g_assert_cmpuint(g_array_index(removed, guint64, j), ==, p->pid);
		j++;
		p->state = AH_ADM_NONE;
	}
	g_assert_cmpuint(removed->len, ==, j);
}

static void act_remove(world *w)
{
	int t = g_rand_int_range(w->rand, 0, N_TENANTS), r = g_rand_int_range(w->rand, -1, N_ROOMS);
	GArray *removed = g_array_new(FALSE, FALSE, sizeof(guint64));
	gboolean got;
	if (r < 0) {
		got = ah_admission_remove_tenant(w->adm, tenant_ids[t], removed);
		g_assert_cmpint(got, ==, w->tenants[t].exists);
		memset(&w->tenants[t], 0, sizeof(w->tenants[t]));
	} else {
		got = ah_admission_remove_room(w->adm, tenant_ids[t], room_ids[r], removed);
		g_assert_cmpint(got, ==, room_exists(w, t, r));
		w->tenants[t].rooms[r].exists = FALSE;
	}
	if (got) {
		check_removed(w, t, r, removed);
		w->stale = TRUE;
	} else {
		g_assert_cmpuint(removed->len, ==, 0);
	}
	g_array_free(removed, TRUE);
}

/* --- actions on scheduled rooms */

static void act_open(world *w)
{
	int t = g_rand_int_range(w->rand, 0, N_TENANTS), r = g_rand_int_range(w->rand, 0, N_ROOMS);
	/* Mostly open, so that closed rooms come and go. */
	gboolean open = g_rand_int_range(w->rand, 0, 3) > 0;
	gboolean got = ah_admission_set_room_open(w->adm, tenant_ids[t], room_ids[r], open);
	g_assert_cmpint(got, ==, room_exists(w, t, r));
	if (got)
		w->tenants[t].rooms[r].closed = !open;
}

/* The model's queued parts of room (t, r), in queue order (free with g_ptr_array_free(q, TRUE)). */
static GPtrArray *model_room_queue(const world *w, int t, int r)
{
	GPtrArray *all = model_queue(w), *q = g_ptr_array_new();
	for (guint i = 0; i < all->len; i++) {
		model_part *p = g_ptr_array_index(all, i);
		if (p->t == t && p->r == r)
			g_ptr_array_add(q, p);
	}
	g_ptr_array_free(all, TRUE);
	return q;
}

static void act_shuffle(world *w)
{
	int t = g_rand_int_range(w->rand, 0, N_TENANTS), r = g_rand_int_range(w->rand, 0, N_ROOMS);
	guint32 seed = g_rand_int(w->rand);
	GPtrArray *before = model_room_queue(w, t, r);
	GArray *after;
	guint64 last_arrival;
	gboolean got = ah_admission_shuffle_room(w->adm, tenant_ids[t], room_ids[r], seed, w->events);
	guint64 *ranks = g_new(guint64, before->len + 1);
	g_assert_cmpint(got, ==, room_exists(w, t, r));
	if (!got) {
		g_assert_cmpuint(w->events->len, ==, 0);
		g_ptr_array_free(before, TRUE);
		g_free(ranks);
		return;
	}
	/* The room's entries, each once, spread over the same places (ranks) as before. */
	after = ah_admission_queue(w->adm, tenant_ids[t], room_ids[r]);
	g_assert_cmpuint(after->len, ==, before->len);
	for (guint i = 0; i < before->len; i++) {
		model_part *p = g_ptr_array_index(before, i);
		ranks[i] = p->arrival;
		p->arrival = 0; /* marks "not yet placed" */
	}
	for (guint i = 0; i < after->len; i++) {
		model_part *p = part(w, g_array_index(after, guint64, i));
		g_assert_cmpint(p->state, ==, AH_ADM_QUEUED);
		g_assert_cmpint(p->t, ==, t);
		g_assert_cmpint(p->r, ==, r);
		g_assert_cmpuint(p->arrival, ==, 0);
		p->arrival = ranks[i];
	}
	/* Only POSITION events, for the entries that moved (apply_event checks each one changed); no
	 * due work runs, but every position is reported now. */
	for (guint i = 0; i < w->events->len; i++)
		g_assert_cmpint(g_array_index(w->events, ah_adm_event, i).kind, ==, AH_ADM_EV_POSITION);
	g_assert_cmpuint(apply_events(w, &last_arrival), ==, 0);
	w->stale = FALSE;
	g_array_free(after, TRUE);
	g_ptr_array_free(before, TRUE);
	g_free(ranks);
}

static void act_clear(world *w)
{
	int t = g_rand_int_range(w->rand, 0, N_TENANTS), r = g_rand_int_range(w->rand, 0, N_ROOMS);
	GArray *removed = g_array_new(FALSE, FALSE, sizeof(guint64));
	GPtrArray *queued = model_room_queue(w, t, r);
	gboolean due = wave_due(w);
	gboolean got = ah_admission_clear_room(w->adm, tenant_ids[t], room_ids[r], removed, w->now, w->events);
	guint i = 0;
	g_assert_cmpint(got, ==, room_exists(w, t, r));
	if (!got) {
		g_assert_cmpuint(removed->len, ==, 0);
		g_assert_cmpuint(w->events->len, ==, 0);
		goto out;
	}
	/* First the queued ones in queue order, then every seated attendee; presenters stay. */
	g_assert_cmpuint(removed->len, >=, queued->len);
	for (; i < queued->len; i++) {
		model_part *p = g_ptr_array_index(queued, i);
		g_assert_cmpuint(g_array_index(removed, guint64, i), ==, p->pid);
		p->state = AH_ADM_NONE;
	}
	for (; i < removed->len; i++) {
		model_part *p = part(w, g_array_index(removed, guint64, i));
		g_assert_cmpint(seated(p) && !p->presenter && p->t == t && p->r == r, ==, TRUE);
		p->state = AH_ADM_NONE;
	}
	for (guint j = 0; j < w->parts->len; j++) {
		const model_part *p = &g_array_index(w->parts, model_part, j);
		if (p->t == t && p->r == r && p->state != AH_ADM_NONE)
			g_assert_cmpint(p->presenter, ==, TRUE);
	}
	finish_due_call(w, due);
out:
	g_ptr_array_free(queued, TRUE);
	g_array_free(removed, TRUE);
}

static void random_step(world *w)
{
	int dice = g_rand_int_range(w->rand, 0, 1050);
	step_begin(w);
	if (dice < 300)
		act_join(w);
	else if (dice < 350)
		act_presenter(w);
	else if (dice < 500)
		act_connected(w);
	else if (dice < 650)
		act_leave(w);
	else if (dice < 930)
		act_time(w);
	else if (dice < 950)
		act_config(w);
	else if (dice < 990)
		act_set_cap(w);
	else if (dice < 1000)
		act_remove(w);
	else if (dice < 1025)
		act_open(w);
	else if (dice < 1040)
		act_shuffle(w);
	else
		act_clear(w);
	check_all(w);
}

/* --- liveness */

static void connect_everyone(world *w)
{
	for (guint i = 0; i < w->parts->len; i++) {
		model_part *p = &g_array_index(w->parts, model_part, i);
		if (p->state != AH_ADM_CONNECTING)
			continue;
		g_assert_cmpint(ah_admission_connected(w->adm, p->pid, w->now), ==, TRUE);
		p->state = AH_ADM_ACTIVE;
	}
}

/* No joins any more: everyone admitted connects, the caller's timer keeps firing at the
 * deadline, until nothing is pending. Then nobody queued can be admitted. */
static void drain(world *w)
{
	guint rounds = 0;
	for (;;) {
		gint64 deadline;
		step_begin(w);
		connect_everyone(w);
		deadline = ah_admission_next_deadline(w->adm, w->now);
		g_assert_cmpint(deadline, >=, w->now);
		if (deadline == G_MAXINT64)
			break;
		w->now = deadline;
		tick(w);
		check_all(w);
		g_assert_cmpuint(++rounds, <, 100000);
	}
	check_all(w);
	g_assert_cmpint(queue_has_admissible(w, NULL), ==, FALSE);
}

static void test_random(gconstpointer data)
{
	guint32 seed = GPOINTER_TO_UINT(data);
	ah_admission_config config = {.capacity = 6, .wave_size = 2, .wave_interval_us = 500, .admit_timeout_us = 2000};
	world w = {.config = config, .now = 1000000};
	GPtrArray *q;
	w.rand = g_rand_new_with_seed(seed);
	w.adm = ah_admission_new(&config);
	w.parts = g_array_new(FALSE, FALSE, sizeof(model_part));
	w.events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
	for (int t = 0; t < N_TENANTS; t++) {
		step_begin(&w);
		ah_admission_set_tenant(w.adm, tenant_ids[t], 5);
		w.tenants[t].exists = TRUE;
		w.tenants[t].cap = 5;
		for (int r = 0; r < N_ROOMS; r++) {
			g_assert_cmpint(ah_admission_set_room(w.adm, tenant_ids[t], room_ids[r], 3), ==, TRUE);
			w.tenants[t].rooms[r].exists = TRUE;
			w.tenants[t].rooms[r].cap = 3;
		}
		check_all(&w);
	}
	for (guint i = 0; i < N_STEPS; i++)
		random_step(&w);
	drain(&w);

	/* With every room open and every cap raised, the queue drains completely. */
	w.config.capacity = 100000;
	ah_admission_set_config(w.adm, &w.config);
	for (int t = 0; t < N_TENANTS; t++) {
		if (!w.tenants[t].exists)
			continue;
		ah_admission_set_tenant(w.adm, tenant_ids[t], 100000);
		w.tenants[t].cap = 100000;
		for (int r = 0; r < N_ROOMS; r++)
			if (w.tenants[t].rooms[r].exists) {
				ah_admission_set_room(w.adm, tenant_ids[t], room_ids[r], 100000);
				w.tenants[t].rooms[r].cap = 100000;
				g_assert_cmpint(ah_admission_set_room_open(w.adm, tenant_ids[t], room_ids[r], TRUE), ==, TRUE);
				w.tenants[t].rooms[r].closed = FALSE;
			}
	}
	drain(&w);
	g_test_message("%u pids, %u admitted from the queue, %u timed out, %u position events, longest queue %u",
				   w.parts->len, w.stats[AH_ADM_EV_ADMITTED], w.stats[AH_ADM_EV_TIMED_OUT], w.stats[AH_ADM_EV_POSITION],
				   w.stats[3]);
	q = model_queue(&w);
	g_assert_cmpuint(q->len, ==, 0);
	g_assert_cmpuint(ah_admission_counts(w.adm, NULL, NULL).queued, ==, 0);
	g_ptr_array_free(q, TRUE);

	ah_admission_free(w.adm);
	g_array_free(w.parts, TRUE);
	g_array_free(w.events, TRUE);
	g_rand_free(w.rand);
}

int main(int argc, char **argv)
{
	static const guint32 seeds[] = {1, 2, 3, 42, 1234, 99991, 271828, 3141592};
	g_test_init(&argc, &argv, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(seeds); i++) {
		char *path = g_strdup_printf("/admission/props/random/seed-%u", seeds[i]);
		g_test_add_data_func(path, GUINT_TO_POINTER(seeds[i]), test_random);
		g_free(path);
	}
	return g_test_run();
}
