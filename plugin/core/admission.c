/* allhands: admission, i.e. seats, caps, the fair join queue and its waves
 * (include/allhands/admission.h; the algorithm and its guarantees: docs/admission.md).
 *
 * Owns every participant's admission state, the tenants' and rooms' caps, shares and seat counts,
 * the per-room queues, the admit timeouts and rejoin graces, the wave clock and the join-rate
 * budget. Positions, estimates and measurements are in admission-report.c, what both read (seat
 * counts, lookups, the waves' pace) in admission-common.c. Pure: no Janus header,
 * no clock reads (time is the `now` argument), no logging, no locks, no global state. Only the
 * control thread calls it, through the engine.
 *
 * DESIGN
 * Every record carries its list links (admission-private.h), so every move is O(1) and nothing is
 * allocated per move. A participant is in exactly one of its room's lists (a class queue, or
 * `seated`) and, while CONNECTING or REJOINING, in the node's `connecting` or `rejoining` list;
 * those share one timeout each, so their heads hold the earliest deadlines. Seat counts are kept
 * for the node, each tenant and each room (count_add() moves one participant in or out of all
 * three, and keeps the two reserve sums), so every cap check is O(1).
 * Admissibility is kept, not searched for: a room is in its tenant's ready ring of a class while
 * that class has queued attendees and the room is open, unpaused and below its cap; a tenant is in
 * the node's `ready` ring while it has a ready room and a free tenant seat, and in `reserve` while
 * it also holds fewer node seats than it reserved. refresh_room() re-decides both after every change
 * of a room's queue or seats, so "is anybody admissible" is `ready` being non-empty: joins, waves
 * and next_deadline() never walk a queue.
 * A wave first serves `reserve` round robin (those seats are theirs), then runs deficit round
 * robin over `ready`: the head tenant's turn is `weight` admissions, after which it moves to the
 * back; a tenant that stops being ready loses what is left of its turn. Each admission takes the
 * head room of the tenant's priority ring if it has one, else of its ordinary ring, admits that
 * room's head and moves the room to the back of its ring, so rooms take turns.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "admission-private.h"

/* --- intrusive lists */

static void list_push(adm_list *l, adm_link *x)
{
	x->next = NULL;
	x->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
	l->length++;
}

static void list_remove(adm_list *l, adm_link *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		l->head = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	else
		l->tail = x->prev;
	x->prev = x->next = NULL;
	l->length--;
}

static void list_set(adm_list *l, adm_link *x, gboolean in)
{
	if (in && !ah_adm_linked(l, x))
		list_push(l, x);
	else if (!in && ah_adm_linked(l, x))
		list_remove(l, x);
}

/* Round robin: the head goes to the back. */
static void list_rotate(adm_list *l)
{
	adm_link *x = l->head;
	if (x != NULL && x != l->tail) {
		list_remove(l, x);
		list_push(l, x);
	}
}

/* --- small helpers */

static gint64 add_saturated(gint64 a, gint64 b)
{
	if (b > 0 && a > G_MAXINT64 - b)
		return G_MAXINT64;
	return a + b;
}

void ah_admission_config_defaults(ah_admission_config *c)
{
	*c = (ah_admission_config){
		.capacity = 0, .wave_size = 20, .wave_interval_us = 1000000, .admit_timeout_us = 15000000,
		.wave_mode = AH_WAVES_FIXED, .wave_min = 1, .cpu_target = 0.8, .join_rate = 0, .join_burst = 20,
		.update_interval_us = 1000000, .rejoin_grace_us = 0, .max_queued = AH_MAX_QUEUED_DEFAULT,
	};
}

/* The header states the ranges; clamp rather than refuse, since the module cannot log and the
 * glue validates operator input already. update_interval 0 (tests only) reports at every call. */
static void config_sanitize(ah_admission_config *dst, const ah_admission_config *src)
{
	*dst = *src;
	dst->wave_size = MAX(dst->wave_size, 1);
	dst->wave_min = CLAMP(dst->wave_min, 1, dst->wave_size);
	dst->wave_interval_us = MAX(dst->wave_interval_us, 0);
	dst->admit_timeout_us = MAX(dst->admit_timeout_us, 1);
	dst->join_burst = MAX(dst->join_burst, 1);
	dst->update_interval_us = MAX(dst->update_interval_us, 0);
	dst->rejoin_grace_us = MAX(dst->rejoin_grace_us, 0);
	if (dst->wave_mode != AH_WAVES_ADAPTIVE)
		dst->wave_mode = AH_WAVES_FIXED;
}

static void adaptive_config(const ah_admission_config *c, ah_adaptive_config *out)
{
	*out = (ah_adaptive_config){
		.min_limit = c->wave_min, .max_limit = c->wave_size,
		.initial_limit = MAX(c->wave_min, c->wave_size / 4), .cpu_target = c->cpu_target, .tolerance = 1.5,
	};
}

static void push_event(GArray *events, ah_adm_event_kind kind, guint64 pid)
{
	ah_adm_event ev = {.kind = kind, .pid = pid};
	if (events != NULL)
		g_array_append_val(events, ev);
}

static guint gap(guint want, guint have)
{
	return have < want ? want - have : 0;
}

static void bump(guint *v, int delta)
{
	if (delta > 0)
		(*v)++;
	else
		(*v)--;
}

static guint *count_of(ah_adm_counts *c, const adm_participant *p)
{
	if (p->state == AH_ADM_NONE)
		return NULL;
	if (p->presenter)
		return &c->presenters;
	switch ((ah_adm_state)p->state) {
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

static void counts_bump(ah_adm_counts *c, const adm_participant *p, int delta)
{
	guint *v = count_of(c, p);
	if (v != NULL)
		bump(v, delta);
}

/* Move one participant, in its current state, into (+1) or out of (-1) every count it is part of,
 * keeping the node's unused-reserve sum and the tenant's free-presenter-seat sum. */
static void count_add(ah_admission *adm, const adm_participant *p, int delta)
{
	adm_room *r = p->room;
	adm_tenant *t = r->tenant;
	guint reserve_before = gap(t->reserved, ah_adm_seats(&t->counts));
	guint presenters_before = gap(r->presenter_seats, r->counts.presenters);
	if (p->state == AH_ADM_QUEUED)
		ah_adm_measure_queue(adm, p);
	if (!p->presenter)
		counts_bump(&adm->counts, p, delta);
	counts_bump(&t->counts, p, delta);
	counts_bump(&r->counts, p, delta);
	adm->reserved_unused = adm->reserved_unused - reserve_before + gap(t->reserved, ah_adm_seats(&t->counts));
	t->presenter_gap = t->presenter_gap - presenters_before + gap(r->presenter_seats, r->counts.presenters);
	if (!p->presenter && (p->state == AH_ADM_CONNECTING || p->state == AH_ADM_ACTIVE || p->state == AH_ADM_REJOINING))
		ah_adm_measure_seats(adm, p);
}

/* --- caps and readiness */

static gboolean room_seat_free(const adm_room *r)
{
	return ah_adm_seats(&r->counts) < MIN(r->max_attendees, r->allowance);
}

guint ah_adm_room_ledger_target(const ah_admission *adm, const adm_room *r)
{
	guint seats = ah_adm_seats(&r->counts), queued = r->queue[0].length + r->queue[1].length;
	if (queued == 0 || r->closed || r->paused)
		return seats;
	/* Its seats and the next wave's: a wave's claim is answered while the wave before it connects. */
	return (guint)MIN((guint64)seats + MIN(queued, adm->config.wave_size), (guint64)MAX(r->max_attendees, seats));
}

gboolean ah_adm_room_ledger_due(const ah_admission *adm, const adm_room *r)
{
	guint target = ah_adm_room_ledger_target(adm, r);
	if (r->allowance == G_MAXUINT)
		return FALSE;
	/* Short of the target while someone waits, or above it (seats nobody waits for). */
	return target > ah_adm_seats(&r->counts) ? r->allowance < target : r->allowance > target;
}

/* A tenant seat an attendee may take: free presenter seats are not for attendees. */
static gboolean tenant_seat_free(const adm_tenant *t)
{
	return (guint64)ah_adm_tenant_seats(t) + t->presenter_gap < t->max_participants;
}

/* A node seat tenant t may take: its own reserved seats, else one nobody reserved. */
static gboolean node_seat_for(const ah_admission *adm, const adm_tenant *t)
{
	guint seats = ah_adm_seats(&adm->counts);
	if (ah_adm_seats(&t->counts) < t->reserved)
		return seats < adm->config.capacity;
	return (guint64)seats + adm->reserved_unused < adm->config.capacity;
}

static gboolean room_ready(const adm_room *r, int klass)
{
	return r->queue[klass].length > 0 && !r->closed && !r->paused && room_seat_free(r);
}

/* In or out of the node's ready ring, keeping the sum of the ready tenants' weights. */
static void set_ready(ah_admission *adm, adm_tenant *t, gboolean ready)
{
	if (ready == ah_adm_linked(&adm->ready, &t->ready_link))
		return;
	list_set(&adm->ready, &t->ready_link, ready);
	adm->ready_weight = ready ? adm->ready_weight + t->weight : adm->ready_weight - t->weight;
}

static void refresh_tenant(ah_admission *adm, adm_tenant *t)
{
	gboolean ready = (t->ready[0].length > 0 || t->ready[1].length > 0) && tenant_seat_free(t);
	set_ready(adm, t, ready);
	list_set(&adm->reserve, &t->reserve_link, ready && ah_adm_seats(&t->counts) < t->reserved);
	list_set(&adm->stage_tenants, &t->stage_link, t->stage_allowance != G_MAXUINT &&
		t->stage_allowance != (guint64)t->counts.presenters + t->presenter_gap);
	if (!ready)
		t->deficit = 0;
}

static void refresh_room(ah_admission *adm, adm_room *r)
{
	gboolean queued, moving;
	for (int c = 0; c < 2; c++)
		list_set(&r->tenant->ready[c], &r->ring[c], room_ready(r, c));
	queued = r->queue[0].length + r->queue[1].length > 0;
	moving = queued && !r->closed && !r->paused;
	list_set(&adm->queued_rooms, &r->queued_link, queued);
	list_set(&adm->ledger_rooms, &r->ledger_link, ah_adm_room_ledger_due(adm, r));
	if (moving != r->moving) {
		r->moving = moving;
		adm->moving_rooms = moving ? adm->moving_rooms + 1 : adm->moving_rooms - 1;
	}
	refresh_tenant(adm, r->tenant);
}

void ah_adm_refresh_room(ah_admission *adm, adm_room *r)
{
	refresh_room(adm, r);
}

void ah_adm_refresh_tenant(ah_admission *adm, adm_tenant *t)
{
	refresh_tenant(adm, t);
}

/* The node's admission paths are open and a seat is free for someone who is ready. */
static gboolean wave_possible(const ah_admission *adm)
{
	guint seats = ah_adm_seats(&adm->counts);
	if (adm->paused || adm->draining || seats >= adm->config.capacity)
		return FALSE;
	if (adm->config.wave_mode == AH_WAVES_ADAPTIVE &&
		adm->counts.connecting >= ah_adaptive_limit(&adm->adaptive))
		return FALSE;
	return adm->reserve.length > 0 ||
		(adm->ready.length > 0 && (guint64)seats + adm->reserved_unused < adm->config.capacity);
}

/* --- participants */

static void participant_free(gpointer data)
{
	g_slice_free(adm_participant, data);
}

static adm_participant *participant_new(ah_admission *adm, guint64 pid, adm_room *r)
{
	adm_participant *p = g_slice_new0(adm_participant);
	p->pid = pid;
	p->room = r;
	p->state = AH_ADM_NONE;
	g_hash_table_add(adm->participants, p);
	return p;
}

/* Take p out of the lists it is in (its seat or place stays counted). */
static void unlink_participant(ah_admission *adm, adm_participant *p)
{
	adm_room *r = p->room;
	/* Whoever was behind moves up: the next report tells them. */
	if (p->state == AH_ADM_QUEUED) {
		list_remove(&r->queue[p->klass], &p->member);
		adm->dirty = TRUE;
	}
	else if (p->state != AH_ADM_NONE)
		list_remove(&r->seated, &p->member);
	if (p->state == AH_ADM_CONNECTING)
		list_remove(&adm->connecting, &p->timed);
	else if (p->state == AH_ADM_REJOINING)
		list_remove(&adm->rejoining, &p->timed);
}

/* Put p, already unlinked, into `state`: counts, lists, readiness. */
static void set_state(ah_admission *adm, adm_participant *p, ah_adm_state state, gint64 now)
{
	adm_room *r = p->room;
	adm->now = MAX(adm->now, now);
	count_add(adm, p, -1);
	p->state = state;
	count_add(adm, p, +1);
	if (state == AH_ADM_QUEUED) {
		list_push(&r->queue[p->klass], &p->member);
		p->since = now;
		/* A priority attendee goes ahead of the ordinary ones. */
		if (p->klass == AH_ADM_PRIORITY && r->queue[AH_ADM_ORDINARY].length > 0)
			adm->dirty = TRUE;
	} else {
		list_push(&r->seated, &p->member);
	}
	if (state == AH_ADM_CONNECTING || state == AH_ADM_REJOINING) {
		adm_list *l = state == AH_ADM_CONNECTING ? &adm->connecting : &adm->rejoining;
		/* Keep the list sorted by `since` even if a caller's clock steps back. */
		const adm_participant *last = l->tail != NULL ? ADM_OF(l->tail, adm_participant, timed) : NULL;
		p->since = (last != NULL && last->since > now) ? last->since : now;
		list_push(l, &p->timed);
	}
	refresh_room(adm, r);
}

static void admit(ah_admission *adm, adm_participant *p, gint64 now)
{
	unlink_participant(adm, p);
	ah_adm_measure_admitted(adm, p, now);
	set_state(adm, p, AH_ADM_CONNECTING, now);
	ah_bucket_take(&adm->bucket, 1, now);
}

/* Free p's seat or queue place and forget it. */
static void forget(ah_admission *adm, adm_participant *p)
{
	adm_room *r = p->room;
	unlink_participant(adm, p);
	count_add(adm, p, -1);
	g_hash_table_remove(adm->participants, p); /* frees p */
	refresh_room(adm, r);
}

static void forget_list(ah_admission *adm, adm_list *l, gboolean keep_presenters, GArray *removed)
{
	adm_link *x = l->head, *next;
	for (; x != NULL; x = next) {
		adm_participant *p = ADM_OF(x, adm_participant, member);
		next = x->next;
		if (keep_presenters && p->presenter)
			continue;
		if (removed != NULL)
			g_array_append_val(removed, p->pid);
		forget(adm, p);
	}
}

static void remove_members(ah_admission *adm, adm_room *r, gboolean keep_presenters, GArray *removed)
{
	forget_list(adm, &r->queue[AH_ADM_PRIORITY], FALSE, removed);
	forget_list(adm, &r->queue[AH_ADM_ORDINARY], FALSE, removed);
	forget_list(adm, &r->seated, keep_presenters, removed);
}

/* --- due work: timeouts, graces, waves */

static gint64 timed_deadline(const adm_list *l, gint64 timeout)
{
	const adm_participant *p = l->head != NULL ? ADM_OF(l->head, adm_participant, timed) : NULL;
	return p != NULL ? add_saturated(p->since, timeout) : G_MAXINT64;
}

static void expire(ah_admission *adm, adm_list *l, gint64 timeout, ah_adm_event_kind kind, gint64 now,
	GArray *events)
{
	while (l->head != NULL && timed_deadline(l, timeout) <= now) {
		adm_participant *p = ADM_OF(l->head, adm_participant, timed);
		push_event(events, kind, p->pid);
		ah_adm_measure_released(adm, p, now);
		forget(adm, p);
	}
}

static gint64 next_wave_time(const ah_admission *adm)
{
	return adm->waved ? add_saturated(adm->last_wave, adm->config.wave_interval_us) : G_MININT64;
}

/* Admit the next attendee of tenant t (which is ready): priority class first, rooms in turn. */
static void admit_from(ah_admission *adm, adm_tenant *t, gint64 now, GArray *events)
{
	int c = t->ready[AH_ADM_PRIORITY].length > 0 ? AH_ADM_PRIORITY : AH_ADM_ORDINARY;
	adm_room *r = ADM_OF(t->ready[c].head, adm_room, ring[c]);
	adm_participant *p = ADM_OF(r->queue[c].head, adm_participant, member);
	list_rotate(&t->ready[c]);
	admit(adm, p, now);
	push_event(events, AH_ADM_EV_ADMITTED, p->pid);
}

static guint wave_budget(ah_admission *adm, gint64 now)
{
	guint budget = adm->config.wave_size;
	if (adm->config.wave_mode == AH_WAVES_ADAPTIVE)
		budget = ah_adaptive_wave(&adm->adaptive, adm->counts.connecting, adm->counts.queued);
	return MIN(budget, ah_bucket_available(&adm->bucket, now));
}

static void run_wave(ah_admission *adm, gint64 now, GArray *events)
{
	guint budget, admitted = 0;
	if (!wave_possible(adm) || now < next_wave_time(adm) || ah_bucket_next(&adm->bucket, now) > now)
		return;
	budget = wave_budget(adm, now);
	/* Reserved seats first: round robin among the tenants below their reserve. */
	while (admitted < budget && adm->reserve.head != NULL && ah_adm_seats(&adm->counts) < adm->config.capacity) {
		adm_tenant *t = ADM_OF(adm->reserve.head, adm_tenant, reserve_link);
		list_rotate(&adm->reserve);
		admit_from(adm, t, now, events);
		admitted++;
	}
	/* Then deficit round robin over every ready tenant for the unreserved seats. */
	while (admitted < budget && adm->ready.head != NULL &&
		(guint64)ah_adm_seats(&adm->counts) + adm->reserved_unused < adm->config.capacity) {
		adm_tenant *t = ADM_OF(adm->ready.head, adm_tenant, ready_link);
		if (t->deficit == 0)
			t->deficit = t->weight;
		admit_from(adm, t, now, events);
		admitted++;
		if (t->deficit > 0 && ah_adm_linked(&adm->ready, &t->ready_link) && --t->deficit == 0)
			list_rotate(&adm->ready);
	}
	if (admitted > 0) {
		adm->waved = TRUE;
		adm->last_wave = now;
		adm->last_wave_admitted = admitted;
		adm->waves++;
	}
}

static void run_due(ah_admission *adm, gint64 now, GArray *events)
{
	adm->now = MAX(adm->now, now);
	expire(adm, &adm->connecting, adm->config.admit_timeout_us, AH_ADM_EV_TIMED_OUT, now, events);
	expire(adm, &adm->rejoining, adm->config.rejoin_grace_us, AH_ADM_EV_GRACE_EXPIRED, now, events);
	run_wave(adm, now, events);
	/* Without an events array nobody would hear the report: keep it for the next call. */
	if (events != NULL)
		ah_adm_report(adm, now, FALSE, events);
}

/* --- lifecycle and config */

static void room_free(gpointer data)
{
	adm_room *r = data;
	ah_adm_measure_clear(&r->measure);
	g_free(r->id);
	g_free(r);
}

static void tenant_free(gpointer data)
{
	adm_tenant *t = data;
	g_hash_table_destroy(t->rooms);
	ah_adm_measure_clear(&t->measure);
	g_free(t->id);
	g_free(t);
}

ah_admission *ah_admission_new(const ah_admission_config *config)
{
	ah_admission *adm = g_new0(ah_admission, 1);
	ah_adaptive_config ac;
	config_sanitize(&adm->config, config);
	adm->tenants = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, tenant_free);
	adm->participants = g_hash_table_new_full(g_int64_hash, g_int64_equal, participant_free, NULL);
	adaptive_config(&adm->config, &ac);
	ah_adaptive_init(&adm->adaptive, &ac);
	ah_bucket_init(&adm->bucket, adm->config.join_rate, adm->config.join_burst, 0);
	ah_rate_init(&adm->measure.rate);
	ah_adm_metrics_init(&adm->metrics);
	adm->cpu = -1;
	adm->last_admitted = G_MININT64;
	return adm;
}

void ah_admission_free(ah_admission *adm)
{
	if (adm == NULL)
		return;
	/* The lists only link records: free the participants, then the rooms and tenants. */
	g_hash_table_destroy(adm->participants);
	g_hash_table_destroy(adm->tenants);
	ah_adm_measure_clear(&adm->measure);
	g_free(adm);
}

void ah_admission_set_config(ah_admission *adm, const ah_admission_config *config, gint64 now)
{
	ah_adaptive_config ac;
	config_sanitize(&adm->config, config);
	adaptive_config(&adm->config, &ac);
	ah_adaptive_set_config(&adm->adaptive, &ac);
	ah_bucket_set(&adm->bucket, adm->config.join_rate, adm->config.join_burst, now);
}

const ah_admission_config *ah_admission_get_config(const ah_admission *adm)
{
	return &adm->config;
}

/* --- tenants and rooms */

static adm_tenant *tenant_get(const ah_admission *adm, const char *tenant)
{
	return tenant != NULL ? g_hash_table_lookup(adm->tenants, tenant) : NULL;
}

adm_tenant *ah_adm_tenant(const ah_admission *adm, const char *tenant)
{
	return tenant_get(adm, tenant);
}

void ah_admission_set_tenant(ah_admission *adm, const char *tenant, guint max_participants)
{
	adm_tenant *t;
	if (tenant == NULL)
		return;
	t = tenant_get(adm, tenant);
	if (t == NULL) {
		t = g_new0(adm_tenant, 1);
		t->id = g_strdup(tenant);
		t->weight = 1;
		t->stage_allowance = adm->limited ? 0 : G_MAXUINT;
		t->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, room_free);
		ah_rate_init(&t->measure.rate);
		g_hash_table_insert(adm->tenants, t->id, t);
	}
	t->max_participants = max_participants;
	refresh_tenant(adm, t);
}

gboolean ah_admission_set_tenant_share(ah_admission *adm, const char *tenant, guint weight, guint reserved,
	guint max_queued)
{
	adm_tenant *t = tenant_get(adm, tenant);
	guint seats;
	if (t == NULL)
		return FALSE;
	seats = ah_adm_seats(&t->counts);
	adm->reserved_unused = adm->reserved_unused - gap(t->reserved, seats) + gap(reserved, seats);
	if (ah_adm_linked(&adm->ready, &t->ready_link))
		adm->ready_weight = adm->ready_weight - t->weight + MAX(weight, 1);
	t->weight = MAX(weight, 1);
	t->deficit = MIN(t->deficit, t->weight);
	t->reserved = reserved;
	t->max_queued = max_queued;
	refresh_tenant(adm, t);
	return TRUE;
}

gboolean ah_admission_remove_tenant(ah_admission *adm, const char *tenant, GArray *removed)
{
	GHashTableIter iter;
	gpointer value;
	adm_tenant *t = tenant_get(adm, tenant);
	if (t == NULL)
		return FALSE;
	g_hash_table_iter_init(&iter, t->rooms);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		remove_members(adm, value, FALSE, removed);
		list_set(&adm->ledger_rooms, &((adm_room *)value)->ledger_link, FALSE);
	}
	/* Empty now: out of every ring; give back its reserve. */
	adm->reserved_unused -= gap(t->reserved, 0);
	set_ready(adm, t, FALSE);
	list_set(&adm->reserve, &t->reserve_link, FALSE);
	list_set(&adm->stage_tenants, &t->stage_link, FALSE);
	g_hash_table_remove(adm->tenants, tenant);
	return TRUE;
}

gboolean ah_admission_set_room(ah_admission *adm, const char *tenant, const char *room, guint max_attendees)
{
	adm_tenant *t = tenant_get(adm, tenant);
	adm_room *r;
	if (t == NULL || room == NULL)
		return FALSE;
	r = g_hash_table_lookup(t->rooms, room);
	if (r == NULL) {
		r = g_new0(adm_room, 1);
		r->id = g_strdup(room);
		r->tenant = t;
		r->ends_at = G_MAXINT64;
		r->allowance = adm->limited ? 0 : G_MAXUINT;
		ah_rate_init(&r->measure.rate);
		g_hash_table_insert(t->rooms, r->id, r);
	}
	r->max_attendees = max_attendees;
	refresh_room(adm, r);
	return TRUE;
}

gboolean ah_admission_set_presenter_seats(ah_admission *adm, const char *tenant, const char *room, guint seats)
{
	adm_room *r = ah_adm_find_room(adm, tenant, room);
	if (r == NULL)
		return FALSE;
	r->tenant->presenter_gap = r->tenant->presenter_gap - gap(r->presenter_seats, r->counts.presenters) +
		gap(seats, r->counts.presenters);
	r->presenter_seats = seats;
	refresh_room(adm, r);
	return TRUE;
}

gboolean ah_admission_remove_room(ah_admission *adm, const char *tenant, const char *room, GArray *removed)
{
	adm_room *r = ah_adm_find_room(adm, tenant, room);
	adm_tenant *t;
	if (r == NULL)
		return FALSE;
	t = r->tenant;
	remove_members(adm, r, FALSE, removed);
	t->presenter_gap -= gap(r->presenter_seats, 0);
	list_set(&adm->ledger_rooms, &r->ledger_link, FALSE);
	g_hash_table_remove(t->rooms, room);
	refresh_tenant(adm, t);
	return TRUE;
}

/* --- pausing, scheduled rooms, draining */

gboolean ah_admission_set_room_open(ah_admission *adm, const char *tenant, const char *room, gboolean open)
{
	adm_room *r = ah_adm_find_room(adm, tenant, room);
	if (r == NULL)
		return FALSE;
	/* Closing never evicts; opening shows in the rings, next_deadline() and the next wave. */
	adm->dirty |= r->closed == open;
	r->closed = !open;
	refresh_room(adm, r);
	return TRUE;
}

gboolean ah_admission_set_room_end(ah_admission *adm, const char *tenant, const char *room, gint64 ends_at)
{
	adm_room *r = ah_adm_find_room(adm, tenant, room);
	if (r == NULL)
		return FALSE;
	adm->dirty |= r->ends_at != ends_at && r->queue[0].length + r->queue[1].length > 0;
	r->ends_at = ends_at;
	return TRUE;
}

gboolean ah_admission_set_paused(ah_admission *adm, const char *tenant, const char *room, gboolean paused)
{
	adm_room *r;
	if (tenant == NULL) {
		adm->dirty |= adm->paused != paused;
		adm->paused = paused;
		return TRUE;
	}
	r = ah_adm_find_room(adm, tenant, room);
	if (r == NULL)
		return FALSE;
	adm->dirty |= r->paused != paused;
	r->paused = paused;
	refresh_room(adm, r);
	return TRUE;
}

void ah_admission_set_draining(ah_admission *adm, gboolean draining, GArray *events)
{
	adm->draining = draining;
	while (draining && adm->queued_rooms.head != NULL) {
		adm_room *r = ADM_OF(adm->queued_rooms.head, adm_room, queued_link);
		for (int c = AH_ADM_PRIORITY; c >= AH_ADM_ORDINARY; c--)
			while (r->queue[c].head != NULL) {
				adm_participant *p = ADM_OF(r->queue[c].head, adm_participant, member);
				push_event(events, AH_ADM_EV_DRAINED, p->pid);
				forget(adm, p);
			}
	}
}

static void shuffle_list(adm_list *l, GRand *rand)
{
	GPtrArray *records = g_ptr_array_sized_new(l->length);
	while (l->head != NULL) {
		adm_link *x = l->head;
		list_remove(l, x);
		g_ptr_array_add(records, x);
	}
	/* Fisher-Yates. */
	for (guint i = records->len; i > 1; i--) {
		guint j = (guint)g_rand_int_range(rand, 0, (gint32)i);
		gpointer held = records->pdata[i - 1];
		records->pdata[i - 1] = records->pdata[j];
		records->pdata[j] = held;
	}
	for (guint i = 0; i < records->len; i++)
		list_push(l, records->pdata[i]);
	g_ptr_array_free(records, TRUE);
}

gboolean ah_admission_shuffle_room(ah_admission *adm, const char *tenant, const char *room, guint32 seed,
	GArray *events)
{
	adm_room *r = ah_adm_find_room(adm, tenant, room);
	GRand *rand;
	if (r == NULL)
		return FALSE;
	rand = g_rand_new_with_seed(seed);
	shuffle_list(&r->queue[AH_ADM_PRIORITY], rand);
	shuffle_list(&r->queue[AH_ADM_ORDINARY], rand);
	g_rand_free(rand);
	adm->dirty = TRUE;
	return TRUE;
}

gboolean ah_admission_clear_room(ah_admission *adm, const char *tenant, const char *room, gboolean presenters,
	GArray *removed)
{
	adm_room *r = ah_adm_find_room(adm, tenant, room);
	if (r == NULL)
		return FALSE;
	remove_members(adm, r, !presenters, removed);
	/* No run_due(): another room ending at the same moment must be closed before a wave could
	 * give it these seats (the caller's next tick hands them out). */
	return TRUE;
}

/* --- participants */

/* Whether an attendee of room r may skip the queue: nobody ready is waiting, and every cap,
 * the pacing and the join budget allow one more now. */
static gboolean admissible_now(ah_admission *adm, const adm_room *r, gint64 now)
{
	if (wave_possible(adm) || !ah_adm_room_moving(adm, r))
		return FALSE;
	if (!room_seat_free(r) || !tenant_seat_free(r->tenant) || !node_seat_for(adm, r->tenant))
		return FALSE;
	if (adm->config.wave_mode == AH_WAVES_ADAPTIVE &&
		adm->counts.connecting >= ah_adaptive_limit(&adm->adaptive))
		return FALSE;
	return ah_bucket_available(&adm->bucket, now) > 0;
}

/* When a queue that is full will probably have room again: the time to admit a tenth of it (at
 * least one) at the rate it is being admitted, within [1 s, 10 min]; 30 s when the rate is unknown. */
static gint64 retry_after(const adm_measure *m, guint bound, gint64 now)
{
	double rate = ah_rate_known(&m->rate, now) ? ah_rate_per_s(&m->rate, now) : 0;
	double wait_s = rate > 0 ? MAX(1.0, bound / 10.0) / rate : 30.0;
	return (gint64)(CLAMP(wait_s, 1.0, 600.0) * G_USEC_PER_SEC);
}

static ah_adm_state refuse(ah_admission *adm, const adm_tenant *t, gint64 now, ah_adm_join *out)
{
	if (adm->draining)
		return AH_ADM_REFUSED_DRAINING;
	if (adm->config.max_queued > 0 && adm->counts.queued >= adm->config.max_queued) {
		out->retry_after_us = retry_after(&adm->measure, adm->config.max_queued, now);
		return AH_ADM_REFUSED_QUEUE_FULL;
	}
	if (t->max_queued > 0 && t->counts.queued >= t->max_queued) {
		out->retry_after_us = retry_after(&t->measure, t->max_queued, now);
		return AH_ADM_REFUSED_QUEUE_FULL;
	}
	return AH_ADM_NONE;
}

ah_adm_room *ah_admission_room(const ah_admission *adm, const char *tenant, const char *room)
{
	return ah_adm_find_room(adm, tenant, room);
}

ah_adm_state ah_admission_join_class(ah_admission *adm, guint64 pid, const char *tenant, const char *room,
	ah_adm_class klass, gint64 now, ah_adm_join *out, GArray *events)
{
	return ah_admission_join_room(adm, pid, ah_adm_find_room(adm, tenant, room), klass, now, out, events);
}

ah_adm_state ah_admission_join_room(ah_admission *adm, guint64 pid, adm_room *r, ah_adm_class klass, gint64 now,
	ah_adm_join *out, GArray *events)
{
	ah_adm_join ignored;
	adm_participant *p;
	ah_adm_state refused;
	if (out == NULL)
		out = &ignored;
	*out = (ah_adm_join){0};
	if (pid == 0 || r == NULL || ah_adm_lookup(adm, pid) != NULL)
		return AH_ADM_NONE;
	/* Nobody is admitted or queued while draining: refuse before any work. */
	if (adm->draining)
		return AH_ADM_REFUSED_DRAINING;
	/* Work due by now, as a tick would do it (it may free a queue place); its events are the
	 * caller's to deliver even if this join is refused below. */
	run_due(adm, now, events);
	if (admissible_now(adm, r, now)) {
		p = participant_new(adm, pid, r);
		p->since = now;
		admit(adm, p, now);
		return AH_ADM_CONNECTING;
	}
	if ((refused = refuse(adm, r->tenant, now, out)) != AH_ADM_NONE)
		return refused;
	p = participant_new(adm, pid, r);
	p->klass = klass == AH_ADM_PRIORITY ? AH_ADM_PRIORITY : AH_ADM_ORDINARY;
	set_state(adm, p, AH_ADM_QUEUED, now);
	out->position = r->queue[AH_ADM_PRIORITY].length + (p->klass == AH_ADM_ORDINARY ? r->queue[0].length : 0);
	out->queue_length = r->counts.queued;
	out->estimate = ah_adm_estimate(adm, r, out->position, now);
	ah_adm_told(p, out->position, &out->estimate, now);
	/* A priority attendee moves the ordinary ones back: tell them if a report is due. */
	if (events != NULL)
		ah_adm_report(adm, now, FALSE, events);
	return AH_ADM_QUEUED;
}

ah_adm_state ah_admission_join(ah_admission *adm, guint64 pid, const char *tenant, const char *room, gint64 now,
	guint *position, GArray *events)
{
	ah_adm_join out;
	ah_adm_state state = ah_admission_join_class(adm, pid, tenant, room, AH_ADM_ORDINARY, now, &out, events);
	if (position != NULL)
		*position = out.position;
	return state;
}

gboolean ah_admission_add_presenter(ah_admission *adm, guint64 pid, const char *tenant, const char *room)
{
	adm_room *r = ah_adm_find_room(adm, tenant, room);
	adm_participant *p;
	gboolean fits;
	if (pid == 0 || r == NULL || ah_adm_lookup(adm, pid) != NULL)
		return FALSE;
	/* One of the room's own presenter seats, or a seat no other room reserved for presenters. */
	if (r->counts.presenters < r->presenter_seats)
		fits = ah_adm_tenant_seats(r->tenant) < r->tenant->max_participants;
	else
		fits = tenant_seat_free(r->tenant);
	/* Cluster mode: and a tenant-only seat this node holds in the ledger. */
	if (!fits || r->tenant->counts.presenters >= r->tenant->stage_allowance)
		return FALSE;
	p = participant_new(adm, pid, r);
	p->presenter = TRUE;
	set_state(adm, p, AH_ADM_ACTIVE, 0);
	return TRUE;
}

gboolean ah_admission_connected(ah_admission *adm, guint64 pid, gint64 now)
{
	adm_participant *p = ah_adm_lookup(adm, pid);
	/* Past its deadline the seat is lost even if tick() has not reported it yet. */
	if (p == NULL || p->state != AH_ADM_CONNECTING ||
		now >= add_saturated(p->since, adm->config.admit_timeout_us))
		return FALSE;
	ah_adm_measure_connected(adm, p, now);
	unlink_participant(adm, p);
	set_state(adm, p, AH_ADM_ACTIVE, now);
	return TRUE;
}

gboolean ah_admission_hold(ah_admission *adm, guint64 pid, gint64 now)
{
	adm_participant *p = ah_adm_lookup(adm, pid);
	if (p == NULL || p->presenter || adm->config.rejoin_grace_us <= 0 ||
		(p->state != AH_ADM_CONNECTING && p->state != AH_ADM_ACTIVE))
		return FALSE;
	unlink_participant(adm, p);
	set_state(adm, p, AH_ADM_REJOINING, now);
	return TRUE;
}

gboolean ah_admission_rejoin(ah_admission *adm, guint64 old_pid, guint64 new_pid, gint64 now)
{
	adm_participant *old = ah_adm_lookup(adm, old_pid), *p;
	adm_room *r;
	if (old == NULL || old->presenter || new_pid == 0 || ah_adm_lookup(adm, new_pid) != NULL ||
		(old->state != AH_ADM_REJOINING && old->state != AH_ADM_CONNECTING && old->state != AH_ADM_ACTIVE))
		return FALSE;
	r = old->room;
	/* The seat passes on without ever being free (a held seat, or a take-over of a seated one): no
	 * wave runs in between. */
	forget(adm, old);
	p = participant_new(adm, new_pid, r);
	set_state(adm, p, AH_ADM_CONNECTING, now);
	return TRUE;
}

ah_adm_state ah_admission_leave(ah_admission *adm, guint64 pid, gint64 now, GArray *events)
{
	adm_participant *p = ah_adm_lookup(adm, pid);
	ah_adm_state previous;
	if (p == NULL)
		return AH_ADM_NONE;
	previous = p->state;
	ah_adm_measure_released(adm, p, now);
	forget(adm, p);
	run_due(adm, now, events);
	return previous;
}

void ah_admission_cpu_sample(ah_admission *adm, double cpu, gint64 now)
{
	adm->cpu = cpu;
	ah_adaptive_cpu_sample(&adm->adaptive, cpu);
}

/* --- time */

void ah_admission_tick(ah_admission *adm, gint64 now, GArray *events)
{
	run_due(adm, now, events);
}

gint64 ah_admission_next_deadline(const ah_admission *adm, gint64 now)
{
	gint64 deadline = MIN(timed_deadline(&adm->connecting, adm->config.admit_timeout_us),
		timed_deadline(&adm->rejoining, adm->config.rejoin_grace_us));
	deadline = MIN(deadline, ah_adm_report_deadline(adm, now));
	if (wave_possible(adm))
		deadline = MIN(deadline, MAX(next_wave_time(adm), ah_bucket_next(&adm->bucket, now)));
	return deadline < now ? now : deadline;
}

ah_adm_state ah_admission_state(const ah_admission *adm, guint64 pid)
{
	const adm_participant *p = ah_adm_lookup(adm, pid);
	return p != NULL ? (ah_adm_state)p->state : AH_ADM_NONE;
}
