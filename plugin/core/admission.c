/* allhands: admission, i.e. seats, caps, the join queue and its waves (include/allhands/admission.h).
 *
 * Owns every participant's admission state, the tenants' and rooms' caps and seat counts, the
 * node's arrival-order queue, the admit timeouts and the wave clock. Pure: no Janus header, no
 * clock reads (time is the `now` argument), no logging, no locks, no global state. Only the
 * control thread calls it, through the engine.
 *
 * DESIGN
 * Every participant is one record in `participants` (pid -> record) and in its room's `members`
 * list (so removing a room is O(its members)). A queued attendee also sits in `queue`, a GQueue in
 * arrival order, and a connecting one in `connecting`, a GQueue in admission order; each record
 * keeps its GList link, so leaving either is O(1). Every connecting seat shares the same
 * admit_timeout, so the head of `connecting` always has the earliest deadline: timeouts and
 * next_deadline() look at the head only. Seat counts are kept incrementally for the node, each
 * tenant and each room (count_add() moves one participant in or out of all three), so a cap check
 * is O(1). A wave walks the queue from its head and admits every entry whose room and tenant have a
 * seat, leaving the others where they are, until it has admitted wave_size entries or the node is
 * full: O(admitted) when the heads are admissible, O(queue) at worst. Each queued entry remembers
 * the position last reported to the caller; any removal from the queue marks positions dirty and
 * the end of every call that has an `events` array walks the queue once, reporting only the
 * entries that moved. remove_room/remove_tenant have no `events` array: they leave the positions
 * dirty and next_deadline() then returns `now`, so the caller's next tick() reports them.
 * A closed room (issue 3) keeps its attendees queued in their places: room_admissible() is the one
 * test that joins, waves and queue_has_admissible() share, so a closed room's entries are skipped
 * like cap-blocked ones and never make next_deadline() report a wave. shuffle_room() swaps the
 * participants held by the room's queue links (the links, i.e. the places, stay where they are)
 * and points each record at its new link, so removal stays O(1).
 * join(), leave(), clear_room() and tick() run the work due at `now` (timeouts, then at most one
 * wave), so every decision is taken on the state at `now`; events come out as TIMED_OUT, ADMITTED
 * (in admission order), then POSITION (in queue order).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "allhands/admission.h"

typedef struct adm_tenant adm_tenant;

typedef struct {
	char *id;
	adm_tenant *tenant;
	guint max_attendees;
	gboolean closed; /* set_room_open(FALSE): its queued attendees wait, seated ones stay */
	ah_adm_counts counts;
	GQueue members; /* adm_participant*, in join order */
} adm_room;

struct adm_tenant {
	char *id;
	guint max_participants;
	ah_adm_counts counts;
	GHashTable *rooms; /* room id -> adm_room* (owned) */
};

typedef struct {
	guint64 pid;
	ah_adm_state state;
	gboolean presenter;
	adm_room *room;
	GList *member_link; /* in room->members */
	GList *link;		/* in adm->queue (QUEUED) or adm->connecting (CONNECTING), else NULL */
	gint64 since;		/* CONNECTING: when admitted */
	guint reported;		/* QUEUED: the position the caller last heard of */
} adm_participant;

struct ah_admission {
	ah_admission_config config;
	GHashTable *tenants;	  /* id -> adm_tenant* (owned) */
	GHashTable *participants; /* &pid -> adm_participant* (owned) */
	GQueue queue;			  /* QUEUED attendees, arrival order */
	GQueue connecting;		  /* CONNECTING attendees, admission order */
	ah_adm_counts counts;	  /* the node's; presenters stays 0 */
	gboolean waved;			  /* last_wave is valid */
	gint64 last_wave;
	gboolean positions_dirty; /* some queued entry may have moved since it was last reported */
};

/* --- small helpers */

static gint64 add_saturated(gint64 a, gint64 b)
{
	if (b > 0 && a > G_MAXINT64 - b)
		return G_MAXINT64;
	return a + b;
}

/* The header asks for wave_size >= 1, wave_interval >= 0, admit_timeout > 0; clamp rather than
 * refuse, since the module cannot log and the glue validates operator input already. */
static void config_sanitize(ah_admission_config *dst, const ah_admission_config *src)
{
	*dst = *src;
	if (dst->wave_size < 1)
		dst->wave_size = 1;
	if (dst->wave_interval_us < 0)
		dst->wave_interval_us = 0;
	if (dst->admit_timeout_us < 1)
		dst->admit_timeout_us = 1;
}

static void push_event(GArray *events, ah_adm_event_kind kind, guint64 pid, guint position, guint length)
{
	ah_adm_event ev = {.kind = kind, .pid = pid, .position = position, .queue_length = length};
	if (events != NULL)
		g_array_append_val(events, ev);
}

static guint seats(const ah_adm_counts *c)
{
	return c->connecting + c->active;
}

static guint tenant_seats(const adm_tenant *t)
{
	return seats(&t->counts) + t->counts.presenters;
}

static void bump(guint *v, int delta)
{
	if (delta > 0)
		(*v)++;
	else
		(*v)--;
}

static void counts_bump(ah_adm_counts *c, const adm_participant *p, int delta)
{
	if (p->presenter && p->state != AH_ADM_NONE) {
		bump(&c->presenters, delta);
		return;
	}
	switch (p->state) {
	case AH_ADM_QUEUED:
		bump(&c->queued, delta);
		break;
	case AH_ADM_CONNECTING:
		bump(&c->connecting, delta);
		break;
	case AH_ADM_ACTIVE:
		bump(&c->active, delta);
		break;
	case AH_ADM_NONE:
		break;
	}
}

/* Move one participant, in its current state, into (+1) or out of (-1) every count it is part of. */
static void count_add(ah_admission *adm, const adm_participant *p, int delta)
{
	if (!p->presenter)
		counts_bump(&adm->counts, p, delta);
	counts_bump(&p->room->tenant->counts, p, delta);
	counts_bump(&p->room->counts, p, delta);
}

static void set_state(ah_admission *adm, adm_participant *p, ah_adm_state state)
{
	count_add(adm, p, -1);
	p->state = state;
	count_add(adm, p, +1);
}

static adm_participant *lookup(const ah_admission *adm, guint64 pid)
{
	return g_hash_table_lookup(adm->participants, &pid);
}

static adm_room *find_room(const ah_admission *adm, const char *tenant, const char *room)
{
	adm_tenant *t;
	if (tenant == NULL || room == NULL)
		return NULL;
	t = g_hash_table_lookup(adm->tenants, tenant);
	return t != NULL ? g_hash_table_lookup(t->rooms, room) : NULL;
}

/* --- caps */

static gboolean node_has_seat(const ah_admission *adm)
{
	return seats(&adm->counts) < adm->config.capacity;
}

/* The attendee caps of the room and its tenant, leaving the node aside. */
static gboolean room_has_seat(const adm_room *r)
{
	return seats(&r->counts) < r->max_attendees && tenant_seats(r->tenant) < r->tenant->max_participants;
}

/* Whether the room may seat one more attendee now, leaving the node aside. */
static gboolean room_admissible(const adm_room *r)
{
	return !r->closed && room_has_seat(r);
}

static gboolean queue_has_admissible(const ah_admission *adm)
{
	if (!node_has_seat(adm))
		return FALSE;
	for (GList *l = adm->queue.head; l != NULL; l = l->next) {
		const adm_participant *p = l->data;
		if (room_admissible(p->room))
			return TRUE;
	}
	return FALSE;
}

/* --- participants */

static adm_participant *participant_new(ah_admission *adm, guint64 pid, adm_room *r)
{
	adm_participant *p = g_new0(adm_participant, 1);
	p->pid = pid;
	p->state = AH_ADM_NONE;
	p->room = r;
	g_queue_push_tail(&r->members, p);
	p->member_link = r->members.tail;
	g_hash_table_insert(adm->participants, &p->pid, p);
	return p;
}

static void enqueue(ah_admission *adm, adm_participant *p)
{
	g_queue_push_tail(&adm->queue, p);
	p->link = adm->queue.tail;
	p->reported = adm->queue.length;
	set_state(adm, p, AH_ADM_QUEUED);
}

/* Take p out of the queue or the connecting list, whichever holds it. */
static void unlink_state(ah_admission *adm, adm_participant *p)
{
	if (p->link == NULL)
		return;
	if (p->state == AH_ADM_QUEUED) {
		g_queue_delete_link(&adm->queue, p->link);
		adm->positions_dirty = TRUE;
	} else {
		g_queue_delete_link(&adm->connecting, p->link);
	}
	p->link = NULL;
}

static void admit(ah_admission *adm, adm_participant *p, gint64 now)
{
	const adm_participant *last;
	unlink_state(adm, p);
	/* Keep `connecting` sorted by admission time even if a caller's clock steps back. */
	last = adm->connecting.tail != NULL ? adm->connecting.tail->data : NULL;
	p->since = (last != NULL && last->since > now) ? last->since : now;
	g_queue_push_tail(&adm->connecting, p);
	p->link = adm->connecting.tail;
	set_state(adm, p, AH_ADM_CONNECTING);
}

/* Free p's seat or queue place and forget it. */
static void forget(ah_admission *adm, adm_participant *p)
{
	unlink_state(adm, p);
	count_add(adm, p, -1);
	g_queue_delete_link(&p->room->members, p->member_link);
	g_hash_table_remove(adm->participants, &p->pid);
}

static void remove_members(ah_admission *adm, adm_room *r, GArray *removed)
{
	while (r->members.head != NULL) {
		adm_participant *p = r->members.head->data;
		if (removed != NULL)
			g_array_append_val(removed, p->pid);
		forget(adm, p);
	}
}

/* --- due work: timeouts, waves, positions */

static gint64 admit_deadline(const ah_admission *adm, const adm_participant *p)
{
	return add_saturated(p->since, adm->config.admit_timeout_us);
}

static gint64 next_wave_time(const ah_admission *adm)
{
	return adm->waved ? add_saturated(adm->last_wave, adm->config.wave_interval_us) : G_MININT64;
}

static void expire(ah_admission *adm, gint64 now, GArray *events)
{
	while (adm->connecting.head != NULL) {
		adm_participant *p = adm->connecting.head->data;
		if (admit_deadline(adm, p) > now)
			break;
		push_event(events, AH_ADM_EV_TIMED_OUT, p->pid, 0, 0);
		forget(adm, p);
	}
}

static void run_wave(ah_admission *adm, gint64 now, GArray *events)
{
	guint admitted = 0;
	GList *l, *next;
	if (adm->queue.head == NULL || now < next_wave_time(adm))
		return;
	for (l = adm->queue.head; l != NULL && admitted < adm->config.wave_size; l = next) {
		adm_participant *p = l->data;
		next = l->next;
		if (!node_has_seat(adm))
			break;
		if (!room_admissible(p->room))
			continue;
		admit(adm, p, now);
		push_event(events, AH_ADM_EV_ADMITTED, p->pid, 0, 0);
		admitted++;
	}
	if (admitted > 0) {
		adm->waved = TRUE;
		adm->last_wave = now;
	}
}

static void run_due(ah_admission *adm, gint64 now, GArray *events)
{
	expire(adm, now, events);
	run_wave(adm, now, events);
}

static void report_positions(ah_admission *adm, GArray *events)
{
	guint position = 0;
	if (!adm->positions_dirty)
		return;
	for (GList *l = adm->queue.head; l != NULL; l = l->next) {
		adm_participant *p = l->data;
		position++;
		if (p->reported != position) {
			p->reported = position;
			push_event(events, AH_ADM_EV_POSITION, p->pid, position, adm->queue.length);
		}
	}
	adm->positions_dirty = FALSE;
}

/* --- lifecycle and config */

static void room_free(gpointer data)
{
	adm_room *r = data;
	g_queue_clear(&r->members);
	g_free(r->id);
	g_free(r);
}

static void tenant_free(gpointer data)
{
	adm_tenant *t = data;
	g_hash_table_destroy(t->rooms);
	g_free(t->id);
	g_free(t);
}

ah_admission *ah_admission_new(const ah_admission_config *config)
{
	ah_admission *adm = g_new0(ah_admission, 1);
	config_sanitize(&adm->config, config);
	adm->tenants = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, tenant_free);
	adm->participants = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	g_queue_init(&adm->queue);
	g_queue_init(&adm->connecting);
	return adm;
}

void ah_admission_free(ah_admission *adm)
{
	if (adm == NULL)
		return;
	/* The lists only point at participants: free the records, then the links, then the rooms. */
	g_hash_table_destroy(adm->participants);
	g_queue_clear(&adm->queue);
	g_queue_clear(&adm->connecting);
	g_hash_table_destroy(adm->tenants);
	g_free(adm);
}

void ah_admission_set_config(ah_admission *adm, const ah_admission_config *config)
{
	config_sanitize(&adm->config, config);
}

const ah_admission_config *ah_admission_get_config(const ah_admission *adm)
{
	return &adm->config;
}

/* --- tenants and rooms */

void ah_admission_set_tenant(ah_admission *adm, const char *tenant, guint max_participants)
{
	adm_tenant *t;
	if (tenant == NULL)
		return;
	t = g_hash_table_lookup(adm->tenants, tenant);
	if (t == NULL) {
		t = g_new0(adm_tenant, 1);
		t->id = g_strdup(tenant);
		t->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, room_free);
		g_hash_table_insert(adm->tenants, t->id, t);
	}
	t->max_participants = max_participants;
}

gboolean ah_admission_remove_tenant(ah_admission *adm, const char *tenant, GArray *removed)
{
	GHashTableIter iter;
	gpointer value;
	adm_tenant *t = tenant != NULL ? g_hash_table_lookup(adm->tenants, tenant) : NULL;
	if (t == NULL)
		return FALSE;
	g_hash_table_iter_init(&iter, t->rooms);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		remove_members(adm, value, removed);
	g_hash_table_remove(adm->tenants, tenant);
	return TRUE;
}

gboolean ah_admission_set_room(ah_admission *adm, const char *tenant, const char *room, guint max_attendees)
{
	adm_tenant *t;
	adm_room *r;
	if (tenant == NULL || room == NULL)
		return FALSE;
	t = g_hash_table_lookup(adm->tenants, tenant);
	if (t == NULL)
		return FALSE;
	r = g_hash_table_lookup(t->rooms, room);
	if (r == NULL) {
		r = g_new0(adm_room, 1);
		r->id = g_strdup(room);
		r->tenant = t;
		g_queue_init(&r->members);
		g_hash_table_insert(t->rooms, r->id, r);
	}
	r->max_attendees = max_attendees;
	return TRUE;
}

gboolean ah_admission_remove_room(ah_admission *adm, const char *tenant, const char *room, GArray *removed)
{
	adm_room *r = find_room(adm, tenant, room);
	if (r == NULL)
		return FALSE;
	remove_members(adm, r, removed);
	g_hash_table_remove(r->tenant->rooms, room);
	return TRUE;
}

/* --- scheduled rooms */

gboolean ah_admission_set_room_open(ah_admission *adm, const char *tenant, const char *room, gboolean open)
{
	adm_room *r = find_room(adm, tenant, room);
	if (r == NULL)
		return FALSE;
	/* Nothing to do now: opening shows in next_deadline() and the next wave; closing never evicts. */
	r->closed = !open;
	return TRUE;
}

gboolean ah_admission_shuffle_room(ah_admission *adm, const char *tenant, const char *room, guint32 seed,
								   GArray *events)
{
	adm_room *r = find_room(adm, tenant, room);
	GPtrArray *places;
	GRand *rand;
	if (r == NULL)
		return FALSE;
	places = g_ptr_array_new();
	for (GList *l = adm->queue.head; l != NULL; l = l->next)
		if (((adm_participant *)l->data)->room == r)
			g_ptr_array_add(places, l);
	/* Fisher-Yates over the records held by the room's places, in queue order. */
	rand = g_rand_new_with_seed(seed);
	for (guint i = places->len; i > 1; i--) {
		GList *a = g_ptr_array_index(places, i - 1);
		GList *b = g_ptr_array_index(places, (guint)g_rand_int_range(rand, 0, (gint32)i));
		gpointer held = a->data;
		a->data = b->data;
		b->data = held;
	}
	g_rand_free(rand);
	for (guint i = 0; i < places->len; i++) {
		GList *l = g_ptr_array_index(places, i);
		((adm_participant *)l->data)->link = l;
	}
	if (places->len > 1)
		adm->positions_dirty = TRUE;
	g_ptr_array_free(places, TRUE);
	report_positions(adm, events);
	return TRUE;
}

gboolean ah_admission_clear_room(ah_admission *adm, const char *tenant, const char *room, GArray *removed, gint64 now,
								 GArray *events)
{
	adm_room *r = find_room(adm, tenant, room);
	GList *l, *next;
	if (r == NULL)
		return FALSE;
	for (l = adm->queue.head; l != NULL; l = next) {
		adm_participant *p = l->data;
		next = l->next;
		if (p->room != r)
			continue;
		if (removed != NULL)
			g_array_append_val(removed, p->pid);
		forget(adm, p);
	}
	/* Only seated attendees and presenters are left; "seat order" is join order, as in remove_room. */
	for (l = r->members.head; l != NULL; l = next) {
		adm_participant *p = l->data;
		next = l->next;
		if (p->presenter)
			continue;
		if (removed != NULL)
			g_array_append_val(removed, p->pid);
		forget(adm, p);
	}
	/* Like leave(): the freed seats go to the queue at once if a wave is due. */
	run_due(adm, now, events);
	report_positions(adm, events);
	return TRUE;
}

/* --- participants */

ah_adm_state ah_admission_join(ah_admission *adm, guint64 pid, const char *tenant, const char *room, gint64 now,
							   guint *position, GArray *events)
{
	adm_room *r = find_room(adm, tenant, room);
	adm_participant *p;
	if (position != NULL)
		*position = 0;
	/* Refusals change nothing, so a caller may drop `events` on AH_ADM_NONE. */
	if (pid == 0 || r == NULL || lookup(adm, pid) != NULL)
		return AH_ADM_NONE;
	run_due(adm, now, events);
	p = participant_new(adm, pid, r);
	if (node_has_seat(adm) && room_admissible(r) && !queue_has_admissible(adm)) {
		admit(adm, p, now);
	} else {
		enqueue(adm, p);
		if (position != NULL)
			*position = p->reported;
	}
	report_positions(adm, events);
	return p->state;
}

gboolean ah_admission_add_presenter(ah_admission *adm, guint64 pid, const char *tenant, const char *room)
{
	adm_room *r = find_room(adm, tenant, room);
	adm_participant *p;
	if (pid == 0 || r == NULL || lookup(adm, pid) != NULL)
		return FALSE;
	if (tenant_seats(r->tenant) >= r->tenant->max_participants)
		return FALSE;
	p = participant_new(adm, pid, r);
	p->presenter = TRUE;
	set_state(adm, p, AH_ADM_ACTIVE);
	return TRUE;
}

gboolean ah_admission_connected(ah_admission *adm, guint64 pid, gint64 now)
{
	adm_participant *p = lookup(adm, pid);
	/* Past its deadline the seat is lost even if tick() has not reported it yet. */
	if (p == NULL || p->state != AH_ADM_CONNECTING || now >= admit_deadline(adm, p))
		return FALSE;
	unlink_state(adm, p);
	set_state(adm, p, AH_ADM_ACTIVE);
	return TRUE;
}

ah_adm_state ah_admission_leave(ah_admission *adm, guint64 pid, gint64 now, GArray *events)
{
	adm_participant *p = lookup(adm, pid);
	ah_adm_state previous;
	if (p == NULL)
		return AH_ADM_NONE;
	previous = p->state;
	forget(adm, p);
	run_due(adm, now, events);
	report_positions(adm, events);
	return previous;
}

/* --- time */

void ah_admission_tick(ah_admission *adm, gint64 now, GArray *events)
{
	run_due(adm, now, events);
	report_positions(adm, events);
}

gint64 ah_admission_next_deadline(const ah_admission *adm, gint64 now)
{
	gint64 deadline = G_MAXINT64;
	if (adm->positions_dirty)
		return now;
	if (adm->connecting.head != NULL)
		deadline = admit_deadline(adm, adm->connecting.head->data);
	if (queue_has_admissible(adm))
		deadline = MIN(deadline, next_wave_time(adm));
	return deadline < now ? now : deadline;
}

/* --- queries */

ah_adm_state ah_admission_state(const ah_admission *adm, guint64 pid)
{
	const adm_participant *p = lookup(adm, pid);
	return p != NULL ? p->state : AH_ADM_NONE;
}

guint ah_admission_position(const ah_admission *adm, guint64 pid)
{
	const adm_participant *p = lookup(adm, pid);
	guint position = 0;
	if (p == NULL || p->state != AH_ADM_QUEUED)
		return 0;
	if (!adm->positions_dirty)
		return p->reported;
	for (GList *l = adm->queue.head; l != NULL; l = l->next) {
		position++;
		if (l == p->link)
			break;
	}
	return position;
}

ah_adm_counts ah_admission_counts(const ah_admission *adm, const char *tenant, const char *room)
{
	const ah_adm_counts zero = {0};
	const adm_tenant *t;
	const adm_room *r;
	if (tenant == NULL)
		return adm->counts;
	t = g_hash_table_lookup(adm->tenants, tenant);
	if (t == NULL)
		return zero;
	if (room == NULL)
		return t->counts;
	r = g_hash_table_lookup(t->rooms, room);
	return r != NULL ? r->counts : zero;
}

GArray *ah_admission_queue(const ah_admission *adm, const char *tenant, const char *room)
{
	GArray *pids = g_array_new(FALSE, FALSE, sizeof(guint64));
	const adm_tenant *t = NULL;
	const adm_room *r = NULL;
	if (tenant != NULL) {
		t = g_hash_table_lookup(adm->tenants, tenant);
		r = (t != NULL && room != NULL) ? g_hash_table_lookup(t->rooms, room) : NULL;
		if (t == NULL || (room != NULL && r == NULL))
			return pids;
	}
	for (GList *l = adm->queue.head; l != NULL; l = l->next) {
		const adm_participant *p = l->data;
		if ((t == NULL || p->room->tenant == t) && (r == NULL || p->room == r))
			g_array_append_val(pids, p->pid);
	}
	return pids;
}
