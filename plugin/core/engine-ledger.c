/* allhands: the engine's side of the cluster's seat ledger (include/allhands/engine.h, "Cluster mode";
 * docs/cluster.md, "How admission uses it: allowances").
 *
 * In cluster mode admission may seat no more than the ledger (Redis) granted this node: per room its
 * allowance, per tenant its stage allowance (admission-ledger.c). This file decides what to ask:
 * - a room whose attendees wait gets one claim in flight at a time, so that its allowance covers its
 *   seats and the next wave (min(queued, wave_size) within its cap), within the seats the node and
 *   the tenant have free here: a wave's seats are claimed while the wave before it connects;
 * - seats nobody waits for any more are given back (the allowance is trimmed to the seats in use
 *   first, then the release is sent: the ledger never holds less than what the node seats);
 * - a presenter or backstage monitor that finds no stage seat waits (its join answered later) while
 *   one stage seat per waiting presenter is claimed;
 * - caps are written whenever they change (and all again after a reconnection).
 * A claim that finds the caps full is retried with a back-off (250 ms doubling to 2 s, reset by a
 * grant): seats freed on other nodes are not announced. A claim without an answer (Redis unreachable,
 * timeout) is retried after the glue's retry delay; nothing is granted meanwhile, so joins stay
 * queued (docs/cluster.md, "Redis unreachable").
 * The glue sends the requests (plugin/glue/cluster-ledger.c) and hands the answers back through
 * the answer entry point of requests-join.c, which books them here and seats waiting presenters.
 *
 * Pure: no Janus, no clock, no I/O. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "engine-private.h"

#define MS G_GINT64_CONSTANT(1000)
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 2000

typedef struct {
	char *tenant;
	char *room;   /* NULL: stage */
	guint want;
} claim_rec;

struct ah_engine_ledger {
	GHashTable *claims;   /* &ref -> claim_rec* (owned) */
	guint64 next_ref;
	GHashTable *caps;     /* "T" or "T\nR" -> NULL: caps to write */
	GHashTable *held;     /* tenant id -> due (non-NULL): tenants to sync (holding seats, or just
			       * emptied); due: a sync is owed (ah_engine_ledger_sync_due) */
	GQueue waiters;       /* ah_ledger_waiter*, in arrival order */
	gboolean busy;        /* the last work() found rooms or presenters waiting */
	gboolean sync_soon;   /* a tenant is new here: its sync (which starts its rebuild grace in a ledger
			       * that never saw it) should not wait for the next period */
	ah_ledger_figures figures;
};

static void claim_free(gpointer data)
{
	claim_rec *c = data;
	g_free(c->tenant);
	g_free(c->room);
	g_free(c);
}

void ah_ledger_req_clear(gpointer data)
{
	ah_ledger_req *r = data;
	g_free(r->tenant);
	g_free(r->room);
}

void ah_ledger_sync_free(gpointer data)
{
	ah_ledger_sync *s = data;
	if (s == NULL)
		return;
	for (guint i = 0; i < s->rooms->len; i++)
		g_free(g_array_index(s->rooms, ah_ledger_room_share, i).room);
	g_array_unref(s->rooms);
	g_free(s->tenant);
	g_free(s);
}

void ah_engine_ledger_waiter_free(ah_ledger_waiter *w)
{
	if (w == NULL)
		return;
	g_free(w->tenant);
	g_free(w->room);
	g_free(w->display);
	g_free(w);
}

static void push(GArray *reqs, ah_ledger_req_kind kind, const char *tenant, const char *room, gint64 n, guint64 ref)
{
	ah_ledger_req r = { kind, g_strdup(tenant), g_strdup(room), n, ref };
	g_array_append_val(reqs, r);
}

static char *cap_key(const char *tenant, const char *room)
{
	return room != NULL ? g_strconcat(tenant, "\n", room, NULL) : g_strdup(tenant);
}

void ah_engine_ledger_cap_changed(ah_engine *engine, const char *tenant, const char *room)
{
	if (engine->ledger == NULL)
		return;
	g_hash_table_add(engine->ledger->caps, cap_key(tenant, room));
	/* A tenant new here: sync it at once, even empty, so that a ledger that never saw it starts (and
	 * ends) its rebuild grace now rather than at its first claim (docs/cluster.md, "Rebuild"). */
	if (room == NULL && !g_hash_table_contains(engine->ledger->held, tenant) && ah_engine_tenant(engine, tenant) != NULL) {
		g_hash_table_insert(engine->ledger->held, g_strdup(tenant), GINT_TO_POINTER(1));
		engine->ledger->sync_soon = TRUE;
	}
}

gboolean ah_engine_ledger_take_sync_soon(ah_engine *engine)
{
	gboolean soon = engine->ledger != NULL && engine->ledger->sync_soon;
	if (engine->ledger != NULL)
		engine->ledger->sync_soon = FALSE;
	return soon;
}

void ah_engine_ledger_start(ah_engine *engine)
{
	if (engine->ledger != NULL)
		return;
	engine->ledger = g_new0(struct ah_engine_ledger, 1);
	engine->ledger->claims = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, claim_free);
	engine->ledger->caps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	engine->ledger->held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_queue_init(&engine->ledger->waiters);
	ah_admission_set_limited(engine->adm, TRUE);
	ah_engine_ledger_reconnected(engine, 0);
}

void ah_engine_ledger_stop(ah_engine *engine)
{
	struct ah_engine_ledger *l = engine->ledger;
	if (l == NULL)
		return;
	g_hash_table_destroy(l->claims);
	g_hash_table_destroy(l->caps);
	g_hash_table_destroy(l->held);
	g_queue_clear_full(&l->waiters, (GDestroyNotify)ah_engine_ledger_waiter_free);
	g_free(l);
	engine->ledger = NULL;
}

gboolean ah_engine_ledger_on(const ah_engine *engine)
{
	return engine->ledger != NULL;
}

void ah_engine_ledger_reconnected(ah_engine *engine, gint64 now)
{
	GHashTableIter ti, ri;
	gpointer tv, rv;
	(void)now;
	if (engine->ledger == NULL)
		return;
	GHashTableIter hi;
	/* Whatever it holds is stated again by the next sync (tenants it holds nothing in need none). */
	g_hash_table_iter_init(&hi, engine->ledger->held);
	while (g_hash_table_iter_next(&hi, NULL, NULL))
		g_hash_table_iter_replace(&hi, GINT_TO_POINTER(1));
	/* The caps of the rooms served here, and of their tenants, are written again (Redis may have come
	 * back empty): each room's by the node that claims for it, so a fleet writes each cap about once
	 * per reconnection rather than once per node. O(rooms here). */
	g_hash_table_iter_init(&ti, engine->tenants);
	while (g_hash_table_iter_next(&ti, NULL, &tv)) {
		ah_tenant *t = tv;
		gboolean serves = FALSE;
		t->stage_retry_at = 0;
		g_hash_table_iter_init(&ri, t->rooms);
		while (g_hash_table_iter_next(&ri, NULL, &rv)) {
			ah_room *r = rv;
			r->ledger_retry_at = 0;
			r->ledger_backoff_ms = 0;
			if (ah_engine_room_elsewhere(engine, r) != NULL)
				continue;
			g_hash_table_add(engine->ledger->caps, cap_key(t->id, r->id));
			serves = TRUE;
		}
		if (serves)
			g_hash_table_add(engine->ledger->caps, cap_key(t->id, NULL));
	}
}

static guint64 new_claim(ah_engine *engine, const char *tenant, const char *room, guint want, GArray *reqs)
{
	struct ah_engine_ledger *l = engine->ledger;
	claim_rec *c = g_new0(claim_rec, 1);
	guint64 *key = g_new(guint64, 1);
	*key = ++l->next_ref;
	c->tenant = g_strdup(tenant);
	c->room = g_strdup(room);
	c->want = want;
	g_hash_table_insert(l->claims, key, c);
	if (!g_hash_table_contains(l->held, tenant))
		g_hash_table_insert(l->held, g_strdup(tenant), NULL);
	ah_tenant *t = ah_engine_tenant(engine, tenant);
	if (t != NULL)
		t->claims_in_flight++;
	l->figures.claims++;
	push(reqs, AH_LEDGER_REQ_CLAIM, tenant, room, want, *key);
	return *key;
}

/* Caps: the tenant's max_participants, the room's max_attendees, -1 when gone. */
static void write_caps(ah_engine *engine, GArray *reqs)
{
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, engine->ledger->caps);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		char **parts = g_strsplit(key, "\n", 2);
		ah_tenant *t = ah_engine_tenant(engine, parts[0]);
		ah_room *r = parts[1] != NULL ? ah_engine_room(engine, parts[0], parts[1]) : NULL;
		gint64 cap = parts[1] != NULL ? (r != NULL ? (gint64)r->max_attendees : -1)
			: (t != NULL ? (gint64)t->max_participants : -1);
		push(reqs, AH_LEDGER_REQ_CAP, parts[0], parts[1], cap, 0);
		g_strfreev(parts);
		g_hash_table_iter_remove(&it);
	}
}

/* A room whose queue waits or whose allowance is above its seats. */
static void room_work(ah_engine *engine, ah_adm_room *ar, gint64 now, gboolean connected, guint node_free,
	GArray *reqs)
{
	struct ah_engine_ledger *l = engine->ledger;
	ah_adm_room_ledger info = ah_admission_room_ledger(engine->adm, ar);
	ah_room *room = ah_engine_room(engine, info.tenant, info.room);
	if (info.want == 0) {
		guint n = ah_admission_room_trim(engine->adm, ar);
		if (n > 0) {
			l->figures.released += n;
			push(reqs, AH_LEDGER_REQ_RELEASE, info.tenant, info.room, n, 0);
		}
		return;
	}
	if (room == NULL || room->ledger_pending > 0 || !connected || now < room->ledger_retry_at || node_free == 0)
		return;
	/* Seats already allowed but not taken count against what the node and tenant have free. */
	guint unused = info.allowance > info.seats ? info.allowance - info.seats : 0;
	guint want = info.want;
	want = MIN(want, node_free > unused ? node_free - unused : 0);
	want = MIN(want, info.tenant_free > unused ? info.tenant_free - unused : 0);
	if (want == 0)
		return;
	room->ledger_pending = want;
	new_claim(engine, info.tenant, info.room, want, reqs);
}

void ah_engine_ledger_work(ah_engine *engine, gint64 now, gboolean connected, GArray *reqs)
{
	struct ah_engine_ledger *l = engine->ledger;
	GPtrArray *rooms, *tenants;
	if (l == NULL)
		return;
	if (connected)
		write_caps(engine, reqs);
	rooms = g_ptr_array_new();
	tenants = g_ptr_array_new();
	ah_admission_ledger_due(engine->adm, rooms, tenants);
	ah_adm_counts node = ah_admission_counts(engine->adm, NULL, NULL);
	guint held = node.active + node.connecting + node.rejoining, capacity = ah_admission_get_config(engine->adm)->capacity;
	guint node_free = capacity > held ? capacity - held : 0;
	l->busy = rooms->len > 0 || tenants->len > 0 || l->waiters.length > 0;
	for (guint i = 0; i < rooms->len; i++)
		room_work(engine, g_ptr_array_index(rooms, i), now, connected, node_free, reqs);
	/* Stage seats: claimed for the rooms' free presenter seats (so a presenter seldom waits), given
	 * back above them while nobody of the tenant waits for one. */
	for (guint i = 0; i < tenants->len; i++) {
		const char *id = g_ptr_array_index(tenants, i);
		ah_tenant *t = ah_engine_tenant(engine, id);
		if (t == NULL || t->stage_pending > 0)
			continue;
		guint short_by = ah_admission_stage_short(engine->adm, id);
		if (short_by > 0) {
			if (connected && now >= t->stage_retry_at && t->stage_waiting == 0) {
				t->stage_pending = short_by;
				new_claim(engine, t->id, NULL, short_by, reqs);
			}
			continue;
		}
		if (t->stage_waiting > 0)
			continue;
		guint n = ah_admission_stage_trim(engine->adm, id);
		if (n > 0) {
			l->figures.released += n;
			push(reqs, AH_LEDGER_REQ_RELEASE, id, NULL, n, 0);
		}
	}
	g_ptr_array_unref(rooms);
	g_ptr_array_unref(tenants);
	/* Presenters waiting for a stage seat: one claim per tenant in flight, for all its waiters. */
	for (GList *w = l->waiters.head; connected && w != NULL; w = w->next) {
		ah_ledger_waiter *waiter = w->data;
		ah_tenant *t = ah_engine_tenant(engine, waiter->tenant);
		if (t == NULL || t->stage_pending > 0 || now < t->stage_retry_at || t->stage_waiting == 0)
			continue;
		t->stage_pending = t->stage_waiting + ah_admission_stage_short(engine->adm, t->id);
		new_claim(engine, t->id, NULL, t->stage_pending, reqs);
	}
}

const char *ah_engine_ledger_book(ah_engine *engine, guint64 ref, gint64 granted, gint64 retry_after_us,
	gboolean unreachable, gint64 now, GArray *reqs)
{
	struct ah_engine_ledger *l = engine->ledger;
	claim_rec *c;
	const char *stage_tenant = NULL;
	if (l == NULL || (c = g_hash_table_lookup(l->claims, &ref)) == NULL)
		return NULL;
	if (granted > 0) {
		l->figures.granted += (guint64)granted;
		l->figures.claims_granted++;
	}
	else if (granted == 0)
		l->figures.denied++;
	else if (unreachable)
		l->figures.failed++;
	else
		l->figures.rebuilding++;
	ah_tenant *t = ah_engine_tenant(engine, c->tenant);
	if (t != NULL && t->claims_in_flight > 0)
		t->claims_in_flight--;
	if (c->room != NULL) {
		ah_room *room = ah_engine_room(engine, c->tenant, c->room);
		ah_adm_room *ar = ah_admission_room(engine->adm, c->tenant, c->room);
		if (room != NULL) {
			room->ledger_pending = 0;
			if (granted > 0) {
				room->ledger_backoff_ms = 0;
				room->ledger_retry_at = 0;
			} else if (granted == 0) {
				room->ledger_backoff_ms = room->ledger_backoff_ms == 0 ? BACKOFF_MIN_MS
					: MIN(room->ledger_backoff_ms * 2, BACKOFF_MAX_MS);
				room->ledger_retry_at = now + room->ledger_backoff_ms * MS;
			} else {
				room->ledger_retry_at = now + MAX(retry_after_us, 0);
			}
		}
		if (granted > 0 && ar != NULL)
			ah_admission_room_grant(engine->adm, ar, (guint)granted);
		else if (granted > 0)
			push(reqs, AH_LEDGER_REQ_RELEASE, c->tenant, c->room, granted, 0); /* the room is gone */
	} else if (t != NULL) {
		t->stage_pending = 0;
		if (granted > 0)
			ah_admission_stage_grant(engine->adm, t->id, (guint)granted);
		else
			t->stage_retry_at = now + (granted < 0 ? MAX(retry_after_us, 0) : BACKOFF_MIN_MS * MS);
		stage_tenant = t->id;
	} else if (granted > 0) {
		push(reqs, AH_LEDGER_REQ_RELEASE, c->tenant, NULL, granted, 0); /* the tenant is gone */
	}
	g_hash_table_remove(l->claims, &ref);
	return stage_tenant;
}

void ah_engine_ledger_wait_stage(ah_engine *engine, guint64 conn, ah_room *room, gboolean backstage,
	const char *display, gint64 now)
{
	ah_ledger_waiter *w = g_new0(ah_ledger_waiter, 1);
	(void)now;
	w->conn = conn;
	w->tenant = g_strdup(room->tenant->id);
	w->room = g_strdup(room->id);
	w->display = g_strdup(display);
	w->backstage = backstage;
	room->tenant->stage_waiting++;
	g_queue_push_tail(&engine->ledger->waiters, w);
}

static void unwait(ah_engine *engine, ah_ledger_waiter *w)
{
	ah_tenant *t = ah_engine_tenant(engine, w->tenant);
	if (t != NULL && t->stage_waiting > 0)
		t->stage_waiting--;
}

ah_ledger_waiter *ah_engine_ledger_next_waiter(ah_engine *engine, const char *tenant)
{
	if (engine->ledger == NULL)
		return NULL;
	for (GList *it = engine->ledger->waiters.head; it != NULL; it = it->next) {
		ah_ledger_waiter *w = it->data;
		if (strcmp(w->tenant, tenant) == 0) {
			g_queue_delete_link(&engine->ledger->waiters, it);
			unwait(engine, w);
			return w;
		}
	}
	return NULL;
}

void ah_engine_ledger_forget_conn(ah_engine *engine, guint64 conn)
{
	if (engine->ledger == NULL)
		return;
	for (GList *it = engine->ledger->waiters.head; it != NULL;) {
		GList *next = it->next;
		ah_ledger_waiter *w = it->data;
		if (w->conn == conn) {
			g_queue_delete_link(&engine->ledger->waiters, it);
			unwait(engine, w);
			ah_engine_ledger_waiter_free(w);
		}
		it = next;
	}
}

void ah_engine_ledger_sync_due(ah_engine *engine)
{
	GHashTableIter it;
	if (engine->ledger == NULL)
		return;
	g_hash_table_iter_init(&it, engine->ledger->held);
	while (g_hash_table_iter_next(&it, NULL, NULL))
		g_hash_table_iter_replace(&it, GINT_TO_POINTER(1));
}

guint ah_engine_ledger_syncs(ah_engine *engine, GPtrArray *syncs)
{
	struct ah_engine_ledger *l = engine->ledger;
	GHashTableIter it, ri;
	gpointer key, due, rv;
	guint waiting = 0;
	if (l == NULL)
		return 0;
	g_hash_table_iter_init(&it, l->held);
	while (g_hash_table_iter_next(&it, &key, &due)) {
		ah_tenant *t = ah_engine_tenant(engine, key);
		if (due == NULL)
			continue;
		/* A claim in flight may already have run in Redis, granting less than it asked: stating it
		 * as held would over-count (and look like a tenant above its cap); stating it as not held
		 * would under-count. So the sync waits until none flies (answers come within the command
		 * timeout). */
		if (t != NULL && t->claims_in_flight > 0) {
			waiting++;
			continue;
		}
		ah_ledger_sync *s = g_new0(ah_ledger_sync, 1);
		guint total = 0;
		s->tenant = g_strdup(key);
		s->rooms = g_array_new(FALSE, FALSE, sizeof(ah_ledger_room_share));
		if (t != NULL) {
			s->stage = ah_admission_stage_allowance(engine->adm, t->id);
			total = s->stage;
			g_hash_table_iter_init(&ri, t->rooms);
			while (g_hash_table_iter_next(&ri, NULL, &rv)) {
				ah_room *r = rv;
				ah_adm_room_ledger info = ah_admission_room_ledger(engine->adm,
					ah_admission_room(engine->adm, t->id, r->id));
				guint seats = info.allowance == G_MAXUINT ? 0 : info.allowance;
				if (seats == 0)
					continue;
				ah_ledger_room_share share = { g_strdup(r->id), seats };
				g_array_append_val(s->rooms, share);
				total += seats;
			}
		}
		g_ptr_array_add(syncs, s);
		/* Holding nothing: this empty sync is the last one until it holds seats again. */
		if (total == 0)
			g_hash_table_iter_remove(&it);
		else
			g_hash_table_iter_replace(&it, NULL);
	}
	return waiting;
}

void ah_engine_ledger_figures(const ah_engine *engine, ah_ledger_figures *out)
{
	memset(out, 0, sizeof(*out));
	if (engine->ledger == NULL)
		return;
	*out = engine->ledger->figures;
	out->busy = engine->ledger->busy;
	out->claims_in_flight = g_hash_table_size(engine->ledger->claims);
	out->presenters_waiting = engine->ledger->waiters.length;
}
