/* allhands: property tests for the fair admission queue (plugin/core/admission.c).
 *
 * Each test drives one ah_admission from a seeded GRand (the seed is printed with g_test_message)
 * with time driven by hand: 2-5 tenants with random weights, reserves and caps, 1-3 rooms each with
 * random caps and presenter seats; random ordinary and priority arrivals, presenters joining and
 * leaving, departures of queued and seated attendees, connects, holds and rejoins, admit timeouts
 * and grace expiries, rooms closed, opened and paused, the node paused and drained, and a tick
 * whenever now >= next_deadline. A shadow model is built only from return values and events, and
 * after every step (and every event) the invariants are checked against it:
 *  1. caps: node seats + unused reserved seats <= capacity (so node seats <= capacity), tenant seats
 *     (attendees + presenters) <= max_participants, room attendee seats <= max_attendees; and every
 *     admission was allowed by the caps at its moment (free presenter seats are not for attendees);
 *  2. nobody lost: every pid's state is the shadow's; counts of the node, tenants and rooms match;
 *     ah_admission_queue() lists exactly the shadow's queued set;
 *  3. presenters never queue: add_presenter() is TRUE (ACTIVE) exactly when the shadow's caps say
 *     so, in particular always when the room has a free presenter seat and the tenant a seat;
 *  4. positions: ah_admission_position() is the index in the room's listing (priority first),
 *     join() returns it; with update_interval 0 every told position (join or POSITION) is current;
 *  5. order: an admitted attendee is the head of its room's class queue; an ordinary attendee is
 *     never admitted while a priority one of its tenant is admissible;
 *  6. closed or paused rooms (or a paused/draining node) never admit;
 *  plus work conservation: an immediate admission never skips an admissible queued attendee, a
 *  wave that used less than its budget leaves nobody admissible (which gives 9: a backlogged tenant
 *  below its reserve is topped up), something admissible always has a finite deadline, timeouts
 *  fire on time and tick() leaves nothing due.
 *  7. liveness (end of each random run): stated in liveness() with its bound.
 *  8. shares and 9. reserves: test_shares(), with permanently backlogged tenants.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "allhands/admission.h"

#define MAX_T 5
#define MAX_R 3
#define N_STEPS 3000

typedef struct {
	char id[8];
	guint max_attendees, presenter_seats;
	gboolean closed, paused;
	ah_adm_counts c;
	guint prio_queued;  /* of c.queued */
	guint64 admitted[2]; /* ADMITTED events by class */
} sroom;

typedef struct {
	char id[8];
	guint weight, reserved, max_participants, max_queued;
	int nrooms;
	sroom rooms[MAX_R];
	ah_adm_counts c;
	guint64 admitted; /* ADMITTED events */
} stenant;

typedef struct {
	ah_adm_state state; /* AH_ADM_NONE: refused, or gone (event or our own leave) */
	gboolean presenter;
	int t, r;
	ah_adm_class klass;
	gint64 since;   /* CONNECTING: admitted; REJOINING: held */
	guint reported; /* QUEUED: the position it was last told */
} spart;

typedef struct {
	GRand *rand;
	guint32 seed;
	ah_admission *adm;
	ah_admission_config cfg;
	int nt;
	stenant ten[MAX_T];
	ah_adm_counts c;     /* node (presenters stay 0) */
	GArray *parts;       /* spart, parts[pid - 1]; a queue's order is pid order */
	GArray *events;
	gint64 now;
	gboolean paused, draining;
	guint call_admitted; /* ADMITTED events of the last call */
	guint64 stat[8];     /* admitted, immediate, queued, refused, presenters, timeouts, graces, drained */
} world;

/* --- shadow bookkeeping */

static spart *part(world *w, guint64 pid)
{
	g_assert_cmpuint(pid, >=, 1);
	g_assert_cmpuint(pid, <=, w->parts->len);
	return &g_array_index(w->parts, spart, pid - 1);
}

static guint64 part_new(world *w, int t, int r)
{
	spart p = {.state = AH_ADM_NONE, .t = t, .r = r};
	g_array_append_val(w->parts, p);
	return w->parts->len;
}

static sroom *room_of(world *w, const spart *p)
{
	return &w->ten[p->t].rooms[p->r];
}

static guint seats(const ah_adm_counts *c)
{
	return c->connecting + c->active + c->rejoining;
}

static guint *slot(ah_adm_counts *c, const spart *p)
{
	if (p->presenter)
		return p->state == AH_ADM_ACTIVE ? &c->presenters : NULL;
	switch (p->state) {
	case AH_ADM_QUEUED:
		return &c->queued;
	case AH_ADM_CONNECTING:
		return &c->connecting;
	case AH_ADM_ACTIVE:
		return &c->active;
	case AH_ADM_REJOINING:
		return &c->rejoining;
	default:
		return NULL;
	}
}

static void bump(world *w, const spart *p, int delta)
{
	ah_adm_counts *cs[3] = {&w->c, &w->ten[p->t].c, &room_of(w, p)->c};
	if (!p->presenter && p->state == AH_ADM_QUEUED && p->klass == AH_ADM_PRIORITY)
		room_of(w, p)->prio_queued += delta;
	for (int i = p->presenter ? 1 : 0; i < 3; i++) {
		guint *v = slot(cs[i], p);
		if (v != NULL)
			*v = delta > 0 ? *v + 1 : *v - 1;
	}
}

static void shadow_set(world *w, guint64 pid, ah_adm_state state)
{
	spart *p = part(w, pid);
	bump(w, p, -1);
	p->state = state;
	bump(w, p, +1);
	if (state == AH_ADM_CONNECTING || state == AH_ADM_REJOINING)
		p->since = w->now;
}

static guint gap(guint want, guint have)
{
	return have < want ? want - have : 0;
}

static guint tenant_seats(const stenant *t)
{
	return seats(&t->c) + t->c.presenters;
}

static guint presenter_gap(const stenant *t)
{
	guint g = 0;
	for (int r = 0; r < t->nrooms; r++)
		g += gap(t->rooms[r].presenter_seats, t->rooms[r].c.presenters);
	return g;
}

static guint reserved_unused(const world *w)
{
	guint u = 0;
	for (int t = 0; t < w->nt; t++)
		u += gap(w->ten[t].reserved, seats(&w->ten[t].c));
	return u;
}

static gboolean room_moving(const world *w, int t, int r)
{
	const sroom *s = &w->ten[t].rooms[r];
	return !s->closed && !s->paused && !w->paused && !w->draining;
}

/* Whether the caps let one more attendee of room (t, r) in now (queue or not). */
static gboolean admissible(const world *w, int t, int r)
{
	const stenant *st = &w->ten[t];
	guint node = seats(&w->c);
	if (!room_moving(w, t, r) || seats(&st->rooms[r].c) >= st->rooms[r].max_attendees)
		return FALSE;
	if (tenant_seats(st) + presenter_gap(st) >= st->max_participants)
		return FALSE;
	if (seats(&st->c) < st->reserved)
		return node < w->cfg.capacity;
	return node + reserved_unused(w) < w->cfg.capacity;
}

static gboolean any_admissible(const world *w)
{
	for (int t = 0; t < w->nt; t++)
		for (int r = 0; r < w->ten[t].nrooms; r++)
			if (w->ten[t].rooms[r].c.queued > 0 && admissible(w, t, r))
				return TRUE;
	return FALSE;
}

/* The shadow's listing of room (t, r): priority pids, then ordinary, each in pid (arrival) order. */
static GArray *shadow_queue(world *w, int t, int r)
{
	GArray *q = g_array_new(FALSE, FALSE, sizeof(guint64));
	for (int k = AH_ADM_PRIORITY; k >= AH_ADM_ORDINARY; k--)
		for (guint64 pid = 1; pid <= w->parts->len; pid++) {
			const spart *p = part(w, pid);
			if (p->state == AH_ADM_QUEUED && p->t == t && p->r == r && (int)p->klass == k)
				g_array_append_val(q, pid);
		}
	return q;
}

/* 1-based index of pid in the shadow listing of its room, and its class's head. */
static guint shadow_position(world *w, guint64 pid, guint64 *class_head)
{
	spart *p = part(w, pid);
	GArray *q = shadow_queue(w, p->t, p->r);
	guint pos = 0;
	*class_head = 0;
	for (guint i = 0; i < q->len; i++) {
		guint64 x = g_array_index(q, guint64, i);
		if (*class_head == 0 && part(w, x)->klass == p->klass)
			*class_head = x;
		if (x == pid)
			pos = i + 1;
	}
	g_array_free(q, TRUE);
	return pos;
}

static void check_caps(world *w)
{
	g_assert_cmpuint(seats(&w->c) + reserved_unused(w), <=, w->cfg.capacity);
	for (int t = 0; t < w->nt; t++) {
		g_assert_cmpuint(tenant_seats(&w->ten[t]), <=, w->ten[t].max_participants);
		for (int r = 0; r < w->ten[t].nrooms; r++)
			g_assert_cmpuint(seats(&w->ten[t].rooms[r].c), <=, w->ten[t].rooms[r].max_attendees);
	}
}

/* --- events */

static void on_admitted(world *w, guint64 pid)
{
	spart *p = part(w, pid);
	guint64 head;
	g_assert_cmpint(p->state, ==, AH_ADM_QUEUED);
	/* 6 and 1: an open, unpaused room, with the caps allowing it at this moment. */
	g_assert_cmpint(admissible(w, p->t, p->r), ==, TRUE);
	/* 5: queue order within the room and class; priority of the tenant first. */
	shadow_position(w, pid, &head);
	g_assert_cmpuint(pid, ==, head);
	if (p->klass == AH_ADM_ORDINARY)
		for (int r = 0; r < w->ten[p->t].nrooms; r++)
			for (guint64 x = 1; x <= w->parts->len; x++) {
				const spart *q = part(w, x);
				if (q->state == AH_ADM_QUEUED && q->t == p->t && q->r == r && q->klass == AH_ADM_PRIORITY)
					g_assert_cmpint(admissible(w, p->t, r), ==, FALSE);
			}
	shadow_set(w, pid, AH_ADM_CONNECTING);
	w->ten[p->t].admitted++;
	room_of(w, p)->admitted[p->klass]++;
	w->call_admitted++;
	w->stat[0]++;
	check_caps(w);
}

static void take_events(world *w)
{
	for (guint i = 0; i < w->events->len; i++) {
		const ah_adm_event *ev = &g_array_index(w->events, ah_adm_event, i);
		spart *p = part(w, ev->pid);
		guint64 head;
		switch (ev->kind) {
		case AH_ADM_EV_ADMITTED:
			on_admitted(w, ev->pid);
			break;
		case AH_ADM_EV_POSITION:
			g_assert_cmpint(p->state, ==, AH_ADM_QUEUED);
			g_assert_cmpuint(ev->position, >=, 1);
			g_assert_cmpuint(ev->position, <=, ev->queue_length);
			p->reported = ev->position;
			break;
		case AH_ADM_EV_TIMED_OUT:
			g_assert_cmpint(p->state, ==, AH_ADM_CONNECTING);
			g_assert_cmpint(w->now, >=, p->since + w->cfg.admit_timeout_us);
			shadow_set(w, ev->pid, AH_ADM_NONE);
			w->stat[5]++;
			break;
		case AH_ADM_EV_GRACE_EXPIRED:
			g_assert_cmpint(p->state, ==, AH_ADM_REJOINING);
			g_assert_cmpint(w->now, >=, p->since + w->cfg.rejoin_grace_us);
			shadow_set(w, ev->pid, AH_ADM_NONE);
			w->stat[6]++;
			break;
		case AH_ADM_EV_DRAINED:
			g_assert_cmpint(p->state, ==, AH_ADM_QUEUED);
			/* In queue order: the head of its room's listing. */
			g_assert_cmpuint(shadow_position(w, ev->pid, &head), ==, 1);
			shadow_set(w, ev->pid, AH_ADM_NONE);
			w->stat[7]++;
			break;
		default:
			g_assert_not_reached();
		}
	}
	g_array_set_size(w->events, 0);
}

/* --- checks after every step */

static guint64 first_live(world *w)
{
	guint64 pid = 1;
	while (pid <= w->parts->len && part(w, pid)->state == AH_ADM_NONE)
		pid++;
	return pid;
}

static void check_counts(const ah_adm_counts *want, ah_adm_counts got)
{
	g_assert_cmpuint(got.active, ==, want->active);
	g_assert_cmpuint(got.connecting, ==, want->connecting);
	g_assert_cmpuint(got.queued, ==, want->queued);
	g_assert_cmpuint(got.presenters, ==, want->presenters);
	g_assert_cmpuint(got.rejoining, ==, want->rejoining);
}

static gint cmp_pid(gconstpointer a, gconstpointer b)
{
	guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
	return x < y ? -1 : x > y;
}

static void check_all(world *w)
{
	gboolean strict = w->cfg.update_interval_us == 0, overdue = FALSE;
	GArray *all;
	gint64 next;
	check_caps(w);
	check_counts(&w->c, ah_admission_counts(w->adm, NULL, NULL));
	for (int t = 0; t < w->nt; t++) {
		stenant *st = &w->ten[t];
		/* Free presenter seats are not for attendees: they never overbook the tenant. */
		g_assert_cmpuint(tenant_seats(st) + presenter_gap(st), <=, st->max_participants);
		check_counts(&st->c, ah_admission_counts(w->adm, st->id, NULL));
		for (int r = 0; r < st->nrooms; r++) {
			GArray *got = ah_admission_queue(w->adm, st->id, st->rooms[r].id), *want = shadow_queue(w, t, r);
			check_counts(&st->rooms[r].c, ah_admission_counts(w->adm, st->id, st->rooms[r].id));
			g_assert_cmpuint(got->len, ==, want->len);
			for (guint i = 0; i < got->len; i++) {
				guint64 pid = g_array_index(want, guint64, i);
				g_assert_cmpuint(g_array_index(got, guint64, i), ==, pid);
				g_assert_cmpuint(ah_admission_position(w->adm, pid), ==, i + 1);
				if (strict)
					g_assert_cmpuint(part(w, pid)->reported, ==, i + 1);
			}
			g_array_free(got, TRUE);
			g_array_free(want, TRUE);
		}
	}
	for (guint64 pid = first_live(w); pid <= w->parts->len; pid++) {
		const spart *p = part(w, pid);
		g_assert_cmpint(ah_admission_state(w->adm, pid), ==, p->state);
		if (p->state != AH_ADM_QUEUED)
			g_assert_cmpuint(ah_admission_position(w->adm, pid), ==, 0);
		if (p->state == AH_ADM_CONNECTING && p->since + w->cfg.admit_timeout_us <= w->now)
			overdue = TRUE;
		if (p->state == AH_ADM_REJOINING && p->since + w->cfg.rejoin_grace_us <= w->now)
			overdue = TRUE;
	}
	all = ah_admission_queue(w->adm, NULL, NULL);
	g_assert_cmpuint(all->len, ==, w->c.queued);
	g_array_sort(all, cmp_pid);
	for (guint i = 0; i < all->len; i++) {
		guint64 pid = g_array_index(all, guint64, i);
		g_assert_cmpint(part(w, pid)->state, ==, AH_ADM_QUEUED);
		if (i > 0)
			g_assert_cmpuint(g_array_index(all, guint64, i - 1), <, pid);
	}
	g_array_free(all, TRUE);
	next = ah_admission_next_deadline(w->adm, w->now);
	g_assert_cmpint(next, >=, w->now);
	if (overdue)
		g_assert_cmpint(next, ==, w->now);
	/* Work conservation: something admissible is always scheduled. */
	if (any_admissible(w))
		g_assert_cmpint(next, <, G_MAXINT64);
}

/* A wave that admitted less than its budget (no join-rate limit) left nobody admissible: in
 * particular every backlogged tenant below its reserve got its reserved seats (9). */
static void check_wave(world *w)
{
	if (w->call_admitted > 0 && w->call_admitted < w->cfg.wave_size && w->cfg.join_rate <= 0 &&
		w->cfg.wave_mode == AH_WAVES_FIXED)
		g_assert_cmpint(any_admissible(w), ==, FALSE);
}

/* --- steps */

static void call_begin(world *w)
{
	g_array_set_size(w->events, 0);
	w->call_admitted = 0;
}

static guint64 pick(world *w, guint states, gboolean presenter)
{
	GArray *c = g_array_new(FALSE, FALSE, sizeof(guint64));
	guint64 pid = 0;
	for (guint64 x = first_live(w); x <= w->parts->len; x++) {
		const spart *p = part(w, x);
		if ((states & (1u << p->state)) != 0 && p->presenter == presenter)
			g_array_append_val(c, x);
	}
	if (c->len > 0)
		pid = g_array_index(c, guint64, g_rand_int_range(w->rand, 0, (gint32)c->len));
	g_array_free(c, TRUE);
	return pid;
}

#define BIT(s) (1u << (s))
#define SEATED (BIT(AH_ADM_CONNECTING) | BIT(AH_ADM_ACTIVE) | BIT(AH_ADM_REJOINING))

static ah_adm_state do_join(world *w, int t, int r, ah_adm_class klass)
{
	guint64 pid = part_new(w, t, r), head;
	gboolean unpaced = w->cfg.join_rate <= 0 && w->cfg.wave_mode == AH_WAVES_FIXED;
	stenant *st = &w->ten[t];
	ah_adm_join out;
	ah_adm_state state;
	call_begin(w);
	state = ah_admission_join_class(w->adm, pid, st->id, st->rooms[r].id, klass, w->now, &out, w->events);
	take_events(w);
	check_wave(w);
	part(w, pid)->klass = klass;
	switch (state) {
	case AH_ADM_CONNECTING:
		/* Never ahead of an admissible queued attendee, never past a cap or a closed room. */
		g_assert_cmpint(any_admissible(w), ==, FALSE);
		g_assert_cmpint(admissible(w, t, r), ==, TRUE);
		shadow_set(w, pid, AH_ADM_CONNECTING);
		w->stat[1]++;
		break;
	case AH_ADM_QUEUED:
		/* Admitted at once when the caps allow it and nobody queued could be admitted. */
		if (unpaced)
			g_assert_cmpint(admissible(w, t, r) && !any_admissible(w), ==, FALSE);
		g_assert_cmpint(w->draining, ==, FALSE);
		if (w->cfg.max_queued > 0)
			g_assert_cmpuint(w->c.queued, <, w->cfg.max_queued);
		if (st->max_queued > 0)
			g_assert_cmpuint(st->c.queued, <, st->max_queued);
		shadow_set(w, pid, AH_ADM_QUEUED);
		g_assert_cmpuint(out.position, ==, shadow_position(w, pid, &head));
		g_assert_cmpuint(out.queue_length, ==, st->rooms[r].c.queued);
		part(w, pid)->reported = out.position;
		w->stat[2]++;
		break;
	case AH_ADM_REFUSED_QUEUE_FULL:
		g_assert_cmpint(w->draining, ==, FALSE);
		g_assert_cmpint((w->cfg.max_queued > 0 && w->c.queued >= w->cfg.max_queued) ||
			(st->max_queued > 0 && st->c.queued >= st->max_queued), ==, TRUE);
		g_assert_cmpint(out.retry_after_us, >, 0);
		w->stat[3]++;
		break;
	case AH_ADM_REFUSED_DRAINING:
		g_assert_cmpint(w->draining, ==, TRUE);
		w->stat[3]++;
		break;
	default:
		g_assert_not_reached();
	}
	check_caps(w);
	return state;
}

static void do_presenter(world *w, int t, int r)
{
	stenant *st = &w->ten[t];
	sroom *sr = &st->rooms[r];
	guint64 pid = part_new(w, t, r);
	gboolean want, got;
	/* Its room's free presenter seat needs only a tenant seat; else one nobody reserved. */
	if (sr->c.presenters < sr->presenter_seats)
		want = tenant_seats(st) < st->max_participants;
	else
		want = tenant_seats(st) + presenter_gap(st) < st->max_participants;
	got = ah_admission_add_presenter(w->adm, pid, st->id, sr->id);
	g_assert_cmpint(got, ==, want);
	if (got) {
		part(w, pid)->presenter = TRUE;
		shadow_set(w, pid, AH_ADM_ACTIVE);
		w->stat[4]++;
	}
	/* Refused: nothing kept (the state checks see AH_ADM_NONE). */
	g_assert_cmpint(ah_admission_state(w->adm, pid), ==, got ? AH_ADM_ACTIVE : AH_ADM_NONE);
	check_caps(w);
}

static void do_leave(world *w, guint64 pid)
{
	ah_adm_state want = part(w, pid)->state;
	call_begin(w);
	g_assert_cmpint(ah_admission_leave(w->adm, pid, w->now, w->events), ==, want);
	shadow_set(w, pid, AH_ADM_NONE);
	take_events(w);
	check_wave(w);
}

static void do_connected(world *w, guint64 pid)
{
	spart *p = part(w, pid);
	gboolean want = p->state == AH_ADM_CONNECTING && w->now < p->since + w->cfg.admit_timeout_us;
	g_assert_cmpint(ah_admission_connected(w->adm, pid, w->now), ==, want);
	if (want)
		shadow_set(w, pid, AH_ADM_ACTIVE);
}

static void tick_due(world *w)
{
	int guard = 0;
	while (ah_admission_next_deadline(w->adm, w->now) <= w->now) {
		g_assert_cmpint(++guard, <, 1000); /* each tick makes progress */
		call_begin(w);
		ah_admission_tick(w->adm, w->now, w->events);
		take_events(w);
		check_wave(w);
	}
}

/* Time moves on, but never past the next deadline: due work is done on time. */
static void advance(world *w, gint64 delta)
{
	w->now = MIN(w->now + delta, ah_admission_next_deadline(w->adm, w->now));
	tick_due(w);
}

static void leave_all_seated(world *w, gboolean connect_some)
{
	GArray *seated = g_array_new(FALSE, FALSE, sizeof(guint64));
	do {
		g_array_set_size(seated, 0);
		for (guint64 pid = first_live(w); pid <= w->parts->len; pid++)
			if ((SEATED & BIT(part(w, pid)->state)) != 0 && !part(w, pid)->presenter)
				g_array_append_val(seated, pid);
		for (guint i = 0; i < seated->len; i++) {
			guint64 pid = g_array_index(seated, guint64, i);
			if ((SEATED & BIT(part(w, pid)->state)) == 0)
				continue; /* timed out meanwhile */
			if (connect_some && g_rand_boolean(w->rand))
				do_connected(w, pid);
			do_leave(w, pid);
		}
	} while (seated->len > 0); /* leaving may have admitted others (wave_interval 0) */
	g_array_free(seated, TRUE);
}

/* --- setup */

static void world_init(world *w, guint32 seed)
{
	memset(w, 0, sizeof(*w));
	w->seed = seed;
	w->rand = g_rand_new_with_seed(seed);
	w->parts = g_array_new(FALSE, TRUE, sizeof(spart));
	w->events = g_array_new(FALSE, TRUE, sizeof(ah_adm_event));
	w->now = 1000000;
	g_test_message("seed %u", seed);
}

static void world_start(world *w)
{
	w->adm = ah_admission_new(&w->cfg);
	for (int t = 0; t < w->nt; t++) {
		stenant *st = &w->ten[t];
		ah_admission_set_tenant(w->adm, st->id, st->max_participants);
		g_assert_cmpint(ah_admission_set_tenant_share(w->adm, st->id, st->weight, st->reserved, st->max_queued),
			==, TRUE);
		for (int r = 0; r < st->nrooms; r++) {
			g_assert_cmpint(ah_admission_set_room(w->adm, st->id, st->rooms[r].id, st->rooms[r].max_attendees),
				==, TRUE);
			g_assert_cmpint(ah_admission_set_presenter_seats(w->adm, st->id, st->rooms[r].id,
				st->rooms[r].presenter_seats), ==, TRUE);
		}
	}
}

static void world_free(world *w)
{
	g_test_message("seed %u: %" G_GUINT64_FORMAT " admitted from the queue, %" G_GUINT64_FORMAT
		" at once, %" G_GUINT64_FORMAT " queued, %" G_GUINT64_FORMAT " refused, %" G_GUINT64_FORMAT
		" presenters, %" G_GUINT64_FORMAT " timeouts, %" G_GUINT64_FORMAT " graces, %" G_GUINT64_FORMAT
		" drained", w->seed, w->stat[0], w->stat[1], w->stat[2], w->stat[3], w->stat[4], w->stat[5],
		w->stat[6], w->stat[7]);
	ah_admission_free(w->adm);
	g_array_free(w->parts, TRUE);
	g_array_free(w->events, TRUE);
	g_rand_free(w->rand);
}

static guint rnd(world *w, guint lo, guint hi)
{
	return (guint)g_rand_int_range(w->rand, (gint32)lo, (gint32)hi + 1);
}

/* Tenants with 1-3 rooms; sum of reserves <= capacity - 1; max_participants above the presenter
 * seats, so attendees always have at least one tenant seat once presenters are gone. */
static void random_tenants(world *w, guint max_attendees, guint max_presenter_seats, guint max_reserved,
	gboolean bounds)
{
	guint reserve_left = w->cfg.capacity - 1;
	w->nt = (int)rnd(w, 2, MAX_T);
	for (int t = 0; t < w->nt; t++) {
		stenant *st = &w->ten[t];
		guint pseats = 0;
		g_snprintf(st->id, sizeof(st->id), "t%d", t);
		st->weight = rnd(w, 1, 5);
		st->reserved = rnd(w, 0, max_reserved);
		st->reserved = MIN(st->reserved, reserve_left);
		reserve_left -= st->reserved;
		st->max_queued = bounds && g_rand_boolean(w->rand) ? rnd(w, 10, 30) : 0;
		st->nrooms = (int)rnd(w, 1, MAX_R);
		for (int r = 0; r < st->nrooms; r++) {
			g_snprintf(st->rooms[r].id, sizeof(st->rooms[r].id), "r%d", r);
			st->rooms[r].max_attendees = rnd(w, 1, max_attendees);
			st->rooms[r].presenter_seats = rnd(w, 0, max_presenter_seats);
			pseats += st->rooms[r].presenter_seats;
		}
		st->max_participants = pseats + 1 + (bounds ? rnd(w, 0, 12) : 100000);
	}
}

/* --- 7: liveness */

/* Arrivals stop; rooms open, nothing paused or draining, presenters leave; the join rate is lifted
 * and the wave size raised to W >= R + 1 (R: sum of reserves, <= C - 1). Then in each round time
 * runs to the next wave, and every attendee holding a seat (half of them connected first) leaves.
 * Bound. At a round's wave everybody left, so the reserve phase admits at most R and deficit
 * round robin (DRR) gets at least D = min(W - R, C - R) >= 1 admissions while someone is ready
 * (all caps are >= 1 once presenters are gone, so every backlogged tenant is ready at each wave).
 * A ready tenant T leaves the DRR ring only after it was admitted (its caps filled) and re-enters
 * at the back, so between two turns of T the others take at most S_T = (sum of weights) - w_T
 * admissions: T is admitted at least once per S_T + 1 DRR admissions, i.e. within
 * c_T = ceil((S_T + 1) / D) rounds, plus one round for a turn straddling two waves. Within T,
 * rooms take turns (a room leaves its ring only after being admitted from) and priority comes
 * first, so the attendee at place j of its class in its room is T's k-th admission at the latest
 * with k = j * n_rooms + n_rooms (slack) + (ordinary: T's queued priority attendees). Hence it is
 * admitted within k * (c_T + 1) + 1 rounds. */
static void liveness(world *w)
{
	guint sum_w = 0, sum_r = 0, d, rounds;
	guint *bound = g_new0(guint, w->parts->len + 1);
	call_begin(w);
	if (w->draining)
		ah_admission_set_draining(w->adm, FALSE, w->events);
	w->draining = FALSE;
	ah_admission_set_paused(w->adm, NULL, NULL, FALSE);
	w->paused = FALSE;
	for (int t = 0; t < w->nt; t++) {
		stenant *st = &w->ten[t];
		sum_w += st->weight;
		sum_r += st->reserved;
		for (int r = 0; r < st->nrooms; r++) {
			g_assert_cmpint(ah_admission_set_room_open(w->adm, st->id, st->rooms[r].id, TRUE), ==, TRUE);
			g_assert_cmpint(ah_admission_set_paused(w->adm, st->id, st->rooms[r].id, FALSE), ==, TRUE);
			st->rooms[r].closed = st->rooms[r].paused = FALSE;
		}
	}
	w->cfg.join_rate = 0;
	w->cfg.wave_size = MAX(w->cfg.wave_size, sum_r + 1);
	ah_admission_set_config(w->adm, &w->cfg, w->now);
	for (guint64 pid; (pid = pick(w, BIT(AH_ADM_ACTIVE), TRUE)) != 0;)
		do_leave(w, pid);
	leave_all_seated(w, FALSE);
	check_all(w);
	d = MIN(w->cfg.wave_size - sum_r, w->cfg.capacity - sum_r);
	g_assert_cmpuint(d, >=, 1);
	for (guint64 pid = first_live(w); pid <= w->parts->len; pid++) {
		spart *p = part(w, pid);
		stenant *st = &w->ten[p->t];
		guint64 head;
		guint j, c, k, priority = 0;
		if (p->state != AH_ADM_QUEUED)
			continue;
		j = shadow_position(w, pid, &head);
		if (p->klass == AH_ADM_ORDINARY)
			for (int r = 0; r < st->nrooms; r++) {
				GArray *q = shadow_queue(w, p->t, r);
				for (guint i = 0; i < q->len; i++)
					priority += part(w, g_array_index(q, guint64, i))->klass == AH_ADM_PRIORITY;
				if (r == p->r)
					j -= MIN(j, priority); /* place within its class */
				g_array_free(q, TRUE);
			}
		c = (sum_w - st->weight + 1 + d - 1) / d;
		k = j * (guint)st->nrooms + (guint)st->nrooms + priority;
		bound[pid] = k * (c + 1) + 1;
	}
	for (rounds = 1; w->c.queued > 0; rounds++) {
		guint64 before = w->stat[0];
		int guard = 0;
		/* A round is one wave: skip deadlines that were only reports. */
		while (w->stat[0] == before) {
			gint64 next = ah_admission_next_deadline(w->adm, w->now);
			g_assert_cmpint(next, <, G_MAXINT64); /* never stalls with attendees queued */
			g_assert_cmpint(++guard, <, 1000);
			w->now = MAX(next, w->now + 1);
			tick_due(w);
		}
		for (guint64 pid = first_live(w); pid <= w->parts->len; pid++)
			if (part(w, pid)->state == AH_ADM_QUEUED)
				g_assert_cmpuint(rounds, <, bound[pid]);
		leave_all_seated(w, TRUE);
		check_all(w);
	}
	g_test_message("seed %u: queue drained in %u rounds", w->seed, rounds - 1);
	g_free(bound);
}

/* --- the random walk (1-6, 9, then 7) */

static void flip_room(world *w, int t, int r, gboolean pause)
{
	stenant *st = &w->ten[t];
	sroom *sr = &st->rooms[r];
	if (pause) {
		sr->paused = !sr->paused;
		g_assert_cmpint(ah_admission_set_paused(w->adm, st->id, sr->id, sr->paused), ==, TRUE);
	} else {
		sr->closed = !sr->closed;
		g_assert_cmpint(ah_admission_set_room_open(w->adm, st->id, sr->id, !sr->closed), ==, TRUE);
	}
}

static void random_step(world *w)
{
	guint a = rnd(w, 0, 99);
	int t = (int)rnd(w, 0, (guint)w->nt - 1), r = (int)rnd(w, 0, (guint)w->ten[t].nrooms - 1);
	guint64 pid;
	if (a < 30) {
		do_join(w, t, r, rnd(w, 0, 4) == 0 ? AH_ADM_PRIORITY : AH_ADM_ORDINARY);
	} else if (a < 35) {
		do_presenter(w, t, r);
	} else if (a < 38) {
		if ((pid = pick(w, BIT(AH_ADM_ACTIVE), TRUE)) != 0)
			do_leave(w, pid);
	} else if (a < 46) {
		if ((pid = pick(w, BIT(AH_ADM_QUEUED), FALSE)) != 0)
			do_leave(w, pid);
	} else if (a < 52) {
		if ((pid = pick(w, SEATED, FALSE)) != 0)
			do_leave(w, pid);
	} else if (a < 63) {
		if ((pid = pick(w, BIT(AH_ADM_CONNECTING), FALSE)) != 0)
			do_connected(w, pid);
	} else if (a < 64) {
		if ((pid = pick(w, BIT(AH_ADM_QUEUED) | BIT(AH_ADM_ACTIVE) | BIT(AH_ADM_REJOINING), FALSE)) != 0)
			do_connected(w, pid); /* FALSE: not CONNECTING */
	} else if (a < 68) {
		if ((pid = pick(w, BIT(AH_ADM_CONNECTING) | BIT(AH_ADM_ACTIVE), FALSE)) != 0) {
			gboolean want = w->cfg.rejoin_grace_us > 0;
			g_assert_cmpint(ah_admission_hold(w->adm, pid, w->now), ==, want);
			if (want)
				shadow_set(w, pid, AH_ADM_REJOINING);
		}
	} else if (a < 71) {
		if ((pid = pick(w, BIT(AH_ADM_REJOINING), FALSE)) != 0) {
			spart *p = part(w, pid);
			guint64 fresh = part_new(w, p->t, p->r);
			g_assert_cmpint(ah_admission_rejoin(w->adm, pid, fresh, w->now), ==, TRUE);
			shadow_set(w, pid, AH_ADM_NONE);
			shadow_set(w, fresh, AH_ADM_CONNECTING);
		}
	} else if (a < 74) {
		flip_room(w, t, r, FALSE);
	} else if (a < 76) {
		flip_room(w, t, r, TRUE);
	} else if (a < 77) {
		w->paused = !w->paused;
		g_assert_cmpint(ah_admission_set_paused(w->adm, NULL, NULL, w->paused), ==, TRUE);
	} else if (a < 78) {
		if (w->draining || rnd(w, 0, 19) == 0) {
			w->draining = !w->draining;
			call_begin(w);
			ah_admission_set_draining(w->adm, w->draining, w->events);
			take_events(w);
		}
	} else {
		guint kind = rnd(w, 0, 9);
		gint64 span = kind < 4 ? 100000 : kind < 8 ? MAX(w->cfg.wave_interval_us, 1000) * 2
			: w->cfg.admit_timeout_us + w->cfg.admit_timeout_us / 4;
		advance(w, g_rand_int_range(w->rand, 0, (gint32)MIN(span, G_MAXINT32)));
	}
	tick_due(w);
}

static void test_random(gconstpointer data)
{
	static const gint64 intervals[] = {0, 100000, 1000000};
	world w;
	world_init(&w, GPOINTER_TO_UINT(data));
	ah_admission_config_defaults(&w.cfg);
	w.cfg.capacity = rnd(&w, 3, 28);
	w.cfg.wave_size = rnd(&w, 1, 8);
	w.cfg.wave_interval_us = intervals[rnd(&w, 0, 2)];
	w.cfg.admit_timeout_us = (gint64)rnd(&w, 2, 10) * G_USEC_PER_SEC;
	w.cfg.join_rate = g_rand_boolean(w.rand) ? 0 : rnd(&w, 2, 20);
	w.cfg.join_burst = rnd(&w, 1, 5);
	/* Odd seeds: reports at every call, so every told position must be current. */
	w.cfg.update_interval_us = (w.seed & 1) != 0 ? 0 : (gint64)rnd(&w, 1, 2000) * 1000;
	w.cfg.rejoin_grace_us = rnd(&w, 0, 3) == 0 ? 0 : (gint64)rnd(&w, 1, 8) * G_USEC_PER_SEC;
	w.cfg.max_queued = g_rand_boolean(w.rand) ? 0 : rnd(&w, 20, 60);
	random_tenants(&w, 10, 1, 2, TRUE);
	world_start(&w);
	g_test_message("capacity %u, wave %u every %" G_GINT64_FORMAT " us, join rate %g, %d tenants",
		w.cfg.capacity, w.cfg.wave_size, w.cfg.wave_interval_us, w.cfg.join_rate, w.nt);
	check_all(&w);
	for (int step = 0; step < N_STEPS; step++) {
		random_step(&w);
		check_all(&w);
	}
	/* A last burst, so that the liveness phase starts with a queue. */
	for (int i = 0; i < 40 && !w.draining; i++) {
		int t = (int)rnd(&w, 0, (guint)w.nt - 1);
		do_join(&w, t, (int)rnd(&w, 0, (guint)w.ten[t].nrooms - 1), rnd(&w, 0, 4) == 0);
		check_all(&w);
	}
	liveness(&w);
	world_free(&w);
}

/* --- 8 and 9: permanently backlogged tenants */

/* Every tenant keeps a backlog; whoever a wave admits connects and leaves just before the next
 * wave, so each wave is limited by capacity C or wave size W, never by demand.
 * 8 (no reserves): DRR gives each tenant `weight` admissions per turn in a fixed ring, so after any
 * number of admissions n, |admitted_i - n * w_i / sum(w)| <= w_i (the current cycle's part); we
 * assert <= w_max + 1.
 * 9 (reserves R_i, sum R <= C - 1 and W >= sum R + 1): after each wave every tenant holds at least
 * R_i seats (its demand is larger).
 * Every room keeps C + W ordinary attendees queued (plus 0-2 priority ones per wave), so each
 * tenant's ordinary room ring never changes: rooms taking turns means their ordinary admission
 * counts never differ by more than one. */
static void run_backlogged(guint32 seed, gboolean reserves)
{
	world w;
	guint sum_w = 0, sum_r = 0, w_max = 0;
	world_init(&w, seed);
	ah_admission_config_defaults(&w.cfg);
	w.cfg.capacity = rnd(&w, 8, 20);
	w.cfg.wave_interval_us = G_USEC_PER_SEC;
	w.cfg.admit_timeout_us = 10 * G_USEC_PER_SEC;
	random_tenants(&w, 100000, 0, reserves ? 3 : 0, FALSE);
	for (int t = 0; t < w.nt; t++) {
		sum_w += w.ten[t].weight;
		sum_r += w.ten[t].reserved;
		w_max = MAX(w_max, w.ten[t].weight);
	}
	w.cfg.wave_size = reserves ? sum_r + rnd(&w, 1, 6) : rnd(&w, 1, 12);
	world_start(&w);
	w.paused = TRUE;
	ah_admission_set_paused(w.adm, NULL, NULL, TRUE);
	for (int round = 0; round < 500; round++) {
		guint64 total = 0;
		leave_all_seated(&w, FALSE);
		for (int t = 0; t < w.nt; t++)
			for (int r = 0; r < w.ten[t].nrooms; r++) {
				sroom *sr = &w.ten[t].rooms[r];
				for (guint n = rnd(&w, 0, 2); n > 0; n--)
					g_assert_cmpint(do_join(&w, t, r, AH_ADM_PRIORITY), ==, AH_ADM_QUEUED);
				while (sr->c.queued - sr->prio_queued < w.cfg.capacity + w.cfg.wave_size)
					g_assert_cmpint(do_join(&w, t, r, AH_ADM_ORDINARY), ==, AH_ADM_QUEUED);
			}
		if (round == 0) {
			w.paused = FALSE;
			ah_admission_set_paused(w.adm, NULL, NULL, FALSE);
		}
		w.now = ah_admission_next_deadline(w.adm, w.now);
		tick_due(&w);
		for (int t = 0; t < w.nt; t++)
			total += w.ten[t].admitted;
		for (int t = 0; t < w.nt; t++) {
			double fair = (double)total * w.ten[t].weight / sum_w;
			if (reserves)
				g_assert_cmpuint(seats(&w.ten[t].c), >=, w.ten[t].reserved);
			else
				g_assert_cmpfloat(ABS((double)w.ten[t].admitted - fair), <=, w_max + 1);
			/* Rooms take turns: every room always has ordinary attendees admissible, so their
			 * ordinary admissions differ by at most one. */
			for (int r = 1; r < w.ten[t].nrooms; r++) {
				gint64 diff = (gint64)w.ten[t].rooms[r].admitted[0] - (gint64)w.ten[t].rooms[0].admitted[0];
				g_assert_cmpint(ABS(diff), <=, 1);
			}
		}
		for (guint64 pid = first_live(&w); pid <= w.parts->len; pid++)
			if (part(&w, pid)->state == AH_ADM_CONNECTING)
				do_connected(&w, pid);
		if (round % 50 == 0)
			check_all(&w);
	}
	for (int t = 0; t < w.nt; t++)
		g_test_message("tenant %d: weight %u reserved %u admitted %" G_GUINT64_FORMAT, t, w.ten[t].weight,
			w.ten[t].reserved, w.ten[t].admitted);
	world_free(&w);
}

static void test_shares(gconstpointer data)
{
	run_backlogged(GPOINTER_TO_UINT(data), FALSE);
}

static void test_reserves(gconstpointer data)
{
	run_backlogged(GPOINTER_TO_UINT(data), TRUE);
}

int main(int argc, char **argv)
{
	static const guint32 seeds[] = {1, 2, 3, 4, 5, 42, 1234, 99991};
	g_test_init(&argc, &argv, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(seeds); i++) {
		char *path = g_strdup_printf("/admission/props/random/%u", seeds[i]);
		g_test_add_data_func(path, GUINT_TO_POINTER(seeds[i]), test_random);
		g_free(path);
		path = g_strdup_printf("/admission/props/shares/%u", seeds[i]);
		g_test_add_data_func(path, GUINT_TO_POINTER(seeds[i]), test_shares);
		g_free(path);
		path = g_strdup_printf("/admission/props/reserves/%u", seeds[i]);
		g_test_add_data_func(path, GUINT_TO_POINTER(seeds[i]), test_reserves);
		g_free(path);
	}
	return g_test_run();
}
