/* allhands: the engine core (include/allhands/engine.h): lifecycle, tenants and rooms,
 * participants, media negotiation state (slots and routes), the media and timer entry points.
 * The request table and its handlers live in requests.c, scheduled rooms in engine-schedule.c, the
 * state file's rows in engine-persist.c, the lookups, outs and clock every one of them uses in
 * engine-registry.c (the leaf); all share engine-private.h.
 *
 * Pure: no Janus header, no clock (time is `now`), no logging, no threads or locks. Only the
 * control thread calls it. Everything the glue must do is appended to `outs`, in order.
 *
 * DESIGN
 * An attendee's m-lines ("slots") change only when an offer is sent to it: the new slots keep the
 * m-line of every presenter stream it already carries, turn the m-lines of streams that stopped
 * inactive, give new streams an inactive m-line of the same kind if there is one and append
 * otherwise. So an m-line never changes kind, indexes stay stable for the attendee's browser, and
 * a republishing presenter lands on the same m-lines. An offer never has zero m-lines: with nobody
 * publishing, the first one carries an inactive audio and video m-line that later streams reuse, so
 * the attendee's PeerConnection comes up while it waits. At most one offer is outstanding per
 * attendee: a change while one is out sets `renegotiate`, and `start` sends the next offer.
 * Fan-outs (ah_engine_routes) are derived on demand from the slots; entry points only record
 * which rooms (and which presenters that stopped) need a ROUTES out, and which receivers alone
 * changed (an offer, a leave, a layer) and need a RECEIVER_ROUTES out, and emit them once at the
 * end (ah_engine_flush), after every offer of that entry point, so the glue has the attendees'
 * m-lines before it builds a fan-out that points at them. A receiver's change is a patch of the
 * fan-outs it is in (ah_engine_receiver_routes: its own routes), never a rebuild of the room's;
 * only a presenter change or a room setting rebuilds whole fan-outs.
 * A backstage monitor is a receiver like a seated attendee (slots, offers, routes) whatever the
 * room's phase, but holds a presenter's tenant seat instead of an attendee seat.
 * Work grows with what changed, not with the square of a room: a room keeps its presenters apart
 * (room->presenters, in join order), so an attendee's slots, its presenters list, the keyframe
 * requests and the flush walk the presenters only; a presenter change walks the members once
 * (renegotiate), and each fan-out once (ah_engine_routes); a receiver's change looks at that
 * receiver only. ah_engine_work_done counts the visits.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "engine-private.h"
#include "allhands/persist.h"

/* --- ROUTES owed at the end of an entry point */

static void touch_room(ah_engine *engine, ah_room *room)
{
	if (!room->dirty) {
		room->dirty = TRUE;
		g_ptr_array_add(engine->dirty_rooms, room);
	}
}

/* Add `conn` to a dirty list once (set: the conns already in it). */
static void mark(GHashTable *set, GArray *list, guint64 conn)
{
	if (g_hash_table_contains(set, &conn))
		return;
	g_hash_table_add(set, g_memdup2(&conn, sizeof(conn)));
	g_array_append_val(list, conn);
}

static void touch_conn(ah_engine *engine, guint64 conn)
{
	mark(engine->dirty_conn_set, engine->dirty_conns, conn);
}

void ah_engine_receiver_changed(ah_engine *engine, guint64 conn)
{
	mark(engine->dirty_receiver_set, engine->dirty_receivers, conn);
}

void ah_engine_routes_changed(ah_engine *engine, ah_room *room)
{
	touch_room(engine, room);
}

int ah_engine_max_layer(const ah_participant *p)
{
	return MIN(p->layer, p->room->video_layer);
}

static gboolean publishing(const ah_participant *p)
{
	return p->presenter && p->streams->len > 0;
}

void ah_engine_flush(ah_engine *engine, GPtrArray *outs)
{
	/* A receiver's own patch, unless its room's fan-outs are rebuilt whole below (a gone receiver
	 * always: the glue also forgets where it was routed). */
	for (guint i = 0; i < engine->dirty_receivers->len; i++) {
		guint64 conn = g_array_index(engine->dirty_receivers, guint64, i);
		const ah_participant *a = ah_engine_participant(engine, conn);
		if (a == NULL || !a->room->dirty)
			ah_engine_push(outs, AH_OUT_RECEIVER_ROUTES, conn, NULL, AH_JSEP_NONE);
	}
	g_array_set_size(engine->dirty_receivers, 0);
	g_hash_table_remove_all(engine->dirty_receiver_set);
	for (guint i = 0; i < engine->dirty_rooms->len; i++) {
		ah_room *room = g_ptr_array_index(engine->dirty_rooms, i);
		room->dirty = FALSE;
		for (guint j = 0; j < room->presenters->len; j++) {
			ah_participant *p = g_ptr_array_index(room->presenters, j);
			engine->work->member_visits++;
			if (publishing(p))
				touch_conn(engine, p->conn);
		}
	}
	for (guint i = 0; i < engine->dirty_conns->len; i++)
		ah_engine_push(outs, AH_OUT_ROUTES, g_array_index(engine->dirty_conns, guint64, i), NULL, AH_JSEP_NONE);
	g_ptr_array_set_size(engine->dirty_rooms, 0);
	g_array_set_size(engine->dirty_conns, 0);
	g_hash_table_remove_all(engine->dirty_conn_set);
}

/* --- tenants and rooms */

static void participant_free(gpointer data)
{
	ah_participant *p = data;
	g_free(p->display);
	g_free(p->sub);
	g_array_unref(p->streams);
	g_array_unref(p->slots);
	g_free(p);
}

static void room_free(gpointer data)
{
	ah_room *room = data;
	g_free(room->id);
	g_free(room->description);
	g_free(room->pin);
	g_free(room->presenter_secret);
	g_free(room->priority_secret);
	g_ptr_array_unref(room->members);
	g_ptr_array_unref(room->presenters);
	ah_room_schedule_clear(room);
	g_free(room);
}

static void tenant_free(gpointer data)
{
	ah_tenant *tenant = data;
	g_hash_table_destroy(tenant->rooms);
	g_free(tenant->id);
	g_free(tenant->name);
	g_free(tenant->secret);
	g_free(tenant->previous_secret);
	g_free(tenant->previous_signing_key);
	g_free(tenant);
}

ah_tenant *ah_engine_add_tenant(ah_engine *engine, const char *id, const char *name,
	guint max_participants, const char *secret)
{
	ah_tenant *t = g_new0(ah_tenant, 1);
	t->id = g_strdup(id);
	t->name = g_strdup(name != NULL ? name : "");
	t->secret = g_strdup(secret);
	t->max_participants = max_participants;
	t->weight = 1;
	ah_engine_new_signing_key(t);
	t->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, room_free);
	g_hash_table_insert(engine->tenants, t->id, t);
	ah_admission_set_tenant(engine->adm, id, max_participants);
	return t;
}

ah_room *ah_engine_add_room(ah_engine *engine, ah_tenant *tenant, const char *id, const char *description,
	guint max_attendees, const char *pin, const char *presenter_secret)
{
	ah_room *r = g_new0(ah_room, 1);
	r->tenant = tenant;
	r->id = g_strdup(id);
	r->description = g_strdup(description != NULL ? description : "");
	r->pin = (pin != NULL && *pin != '\0') ? g_strdup(pin) : NULL;
	r->presenter_secret = g_strdup(presenter_secret);
	r->max_attendees = max_attendees;
	r->presenter_seats = AH_PRESENTER_SEATS_DEFAULT;
	r->video_layer = AH_SIM_HIGH;
	r->members = g_ptr_array_new();
	r->presenters = g_ptr_array_new();
	ah_room_schedule_init(r);
	g_hash_table_insert(tenant->rooms, r->id, r);
	ah_admission_set_room(engine->adm, tenant->id, id, max_attendees);
	ah_engine_apply_presenter_seats(engine, r);
	return r;
}

/* Take every participant out; the room itself stays (its admission entry too). */
static void empty_room(ah_engine *engine, ah_room *room, ah_exit how, gint64 now, GPtrArray *outs)
{
	while (room->members->len > 0)
		ah_engine_remove(engine, g_ptr_array_index(room->members, 0), how, now, outs);
	if (room->dirty)
		g_ptr_array_remove(engine->dirty_rooms, room);
	room->dirty = FALSE;
	ah_engine_schedule_untrack(engine, room);
}

void ah_engine_destroy_room(ah_engine *engine, ah_room *room, gint64 now, GPtrArray *outs)
{
	empty_room(engine, room, AH_EXIT_ROOM, now, outs);
	/* Queue positions behind the removed attendees are reported by the next tick
	 * (ah_admission_next_deadline() returns `now` until then). */
	ah_admission_remove_room(engine->adm, room->tenant->id, room->id, NULL);
	g_hash_table_remove(room->tenant->rooms, room->id);
}

void ah_engine_destroy_tenant(ah_engine *engine, ah_tenant *tenant, gint64 now, GPtrArray *outs)
{
	GPtrArray *rooms = ah_engine_sorted_rooms(tenant);
	for (guint i = 0; i < rooms->len; i++)
		empty_room(engine, g_ptr_array_index(rooms, i), AH_EXIT_TENANT, now, outs);
	g_ptr_array_unref(rooms);
	ah_admission_remove_tenant(engine->adm, tenant->id, NULL);
	g_hash_table_remove(engine->tenants, tenant->id);
}

static gint compare_tenants(gconstpointer a, gconstpointer b)
{
	return strcmp((*(ah_tenant *const *)a)->id, (*(ah_tenant *const *)b)->id);
}

static gint compare_rooms(gconstpointer a, gconstpointer b)
{
	return strcmp((*(ah_room *const *)a)->id, (*(ah_room *const *)b)->id);
}

static GPtrArray *sorted_values(GHashTable *table, GCompareFunc compare)
{
	GPtrArray *array = g_ptr_array_sized_new(g_hash_table_size(table));
	GHashTableIter iter;
	gpointer value;
	g_hash_table_iter_init(&iter, table);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_ptr_array_add(array, value);
	g_ptr_array_sort(array, compare);
	return array;
}

GPtrArray *ah_engine_sorted_tenants(const ah_engine *engine)
{
	return sorted_values(engine->tenants, compare_tenants);
}

GPtrArray *ah_engine_sorted_rooms(const ah_tenant *tenant)
{
	return sorted_values(tenant->rooms, compare_rooms);
}

/* --- lifecycle */

/* The admission settings the engine accepts: the same bounds as set_capacity. */
static gboolean config_valid(const ah_admission_config *c, char **message)
{
	const char *bad = NULL;
	if (c->capacity > AH_CAP_MAX)
		bad = "capacity";
	else if (c->wave_size < 1 || c->wave_size > AH_WAVE_SIZE_MAX)
		bad = "wave_size";
	else if (c->wave_interval_us < 0 || c->wave_interval_us > (gint64)AH_WAVE_INTERVAL_MS_MAX * 1000)
		bad = "wave_interval";
	else if (c->admit_timeout_us < (gint64)AH_ADMIT_TIMEOUT_MS_MIN * 1000 ||
			c->admit_timeout_us > (gint64)AH_ADMIT_TIMEOUT_MS_MAX * 1000)
		bad = "admit_timeout";
	else if (c->wave_min < 1 || c->wave_min > c->wave_size)
		bad = "wave_min";
	else if (c->cpu_target < 0 || c->cpu_target > 1)
		bad = "cpu_target";
	else if (c->join_rate < 0 || c->join_rate > AH_JOIN_RATE_MAX || c->join_burst < 1 || c->join_burst > AH_JOIN_RATE_MAX)
		bad = "join_rate";
	else if (c->update_interval_us < (gint64)AH_UPDATE_INTERVAL_MS_MIN * 1000 ||
			c->update_interval_us > (gint64)AH_UPDATE_INTERVAL_MS_MAX * 1000)
		bad = "update_interval";
	else if (c->rejoin_grace_us < 0 || c->rejoin_grace_us > (gint64)AH_REJOIN_GRACE_S_MAX * G_USEC_PER_SEC)
		bad = "rejoin_grace";
	else if (c->max_queued > AH_CAP_MAX)
		bad = "max_queued";
	if (bad != NULL)
		*message = g_strdup_printf("invalid element (admission config: %s out of range)", bad);
	return bad == NULL;
}

/* *migrated: a tenant had no signing key (a version 1 file) and got a new one. */
static gboolean load_state(ah_engine *engine, const ah_persist_state *state, gboolean *migrated, char **message)
{
	for (guint i = 0; i < state->tenants->len; i++) {
		const ah_persist_tenant *t = g_ptr_array_index(state->tenants, i);
		ah_tenant *tenant = ah_engine_add_tenant(engine, t->tenant, t->name, t->max_participants, t->secret);
		tenant->weight = t->weight;
		tenant->reserved = t->reserved;
		tenant->max_queued = t->max_queued;
		tenant->previous_secret = g_strdup(t->previous_secret);
		tenant->previous_secret_until = t->previous_secret_until;
		if (t->signing_key != NULL)
			g_strlcpy(tenant->signing_key, t->signing_key, sizeof(tenant->signing_key));
		*migrated = *migrated || t->signing_key == NULL;
		tenant->previous_signing_key = g_strdup(t->previous_signing_key);
		tenant->previous_signing_key_until = t->previous_signing_key_until;
		ah_engine_apply_share(engine, tenant);
	}
	for (guint i = 0; i < state->rooms->len; i++) {
		const ah_persist_room *r = g_ptr_array_index(state->rooms, i);
		ah_tenant *t = ah_engine_tenant(engine, r->tenant);
		ah_room *room;
		char *why = NULL;
		if (t == NULL) {
			*message = g_strdup_printf("room %s/%s without its tenant", r->tenant, r->room);
			return FALSE;
		}
		room = ah_engine_add_room(engine, t, r->room, r->description, r->max_attendees, r->pin,
			r->presenter_secret);
		room->presenter_seats = r->presenter_seats;
		room->priority_secret = g_strdup(r->priority_secret);
		room->tokens = r->tokens;
		room->video_layer = r->video_layer;
		room->presenter_max_bitrate = r->presenter_max_bitrate;
		ah_engine_apply_presenter_seats(engine, room);
		if (ah_room_schedule_load(room, r, &why) != AH_ERR_OK) {
			*message = g_strdup_printf("room %s/%s: %s", r->tenant, r->room, why != NULL ? why : "invalid schedule");
			g_free(why);
			return FALSE;
		}
		/* Closed in admission until the first sync says otherwise (the first entry point: it
		 * is due at once). */
		if (room->schedule != NULL)
			ah_admission_set_room_open(engine->adm, t->id, room->id, FALSE);
		if (room->schedule != NULL && ah_schedule_refusal(room->schedule) != NULL)
			engine->held_schedules++;
		ah_engine_schedule_track(engine, room);
	}
	return TRUE;
}

ah_engine *ah_engine_new(const ah_engine_config *config, ah_error *err, char **errmsg)
{
	ah_engine *engine;
	ah_persist_state *state = NULL;
	char *why = NULL;
	gboolean migrated = FALSE;
	*err = AH_ERR_OK;
	*errmsg = NULL;
	if (!config_valid(&config->admission, errmsg)) {
		*err = AH_ERR_INVALID_ELEMENT;
		return NULL;
	}
	/* What a killed writer left behind goes first (it may hold secrets, and is never read). */
	guint stale = config->state_path != NULL ? ah_persist_clean_temps(config->state_path) : 0;
	if (config->state_path != NULL && (state = ah_persist_load(config->state_path, err, errmsg)) == NULL)
		return NULL;
	engine = g_new0(ah_engine, 1);
	engine->stale_temps_removed = stale;
	engine->state_path = g_strdup(config->state_path);
	/* An empty key would let an empty admin_key in: treat it as no key. */
	engine->admin_key = (config->admin_key != NULL && *config->admin_key != '\0') ? g_strdup(config->admin_key) : NULL;
	engine->adm = ah_admission_new(&config->admission);
	engine->tenants = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, tenant_free);
	engine->conns = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, participant_free);
	engine->pids = g_hash_table_new(g_int64_hash, g_int64_equal);
	engine->next_pid = 1;
	engine->dirty_rooms = g_ptr_array_new();
	engine->dirty_conns = g_array_new(FALSE, FALSE, sizeof(guint64));
	engine->dirty_conn_set = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	engine->dirty_receivers = g_array_new(FALSE, FALSE, sizeof(guint64));
	engine->dirty_receiver_set = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	engine->schedule_queue = g_ptr_array_new();
	engine->work = g_new0(ah_engine_work, 1);
	engine->counters = g_new0(ah_engine_counters, 1);
	ah_engine_ghosts_init(engine);
	ah_engine_credentials_init(engine, config);
	/* Tenants of an older file get their signing key now, written at once (synchronously, before
	 * the node serves anything) so that it is the same after the next restart (docs/security.md). */
	gboolean ok = state == NULL || load_state(engine, state, &migrated, &why);
	if (ok && state != NULL) {
		ah_engine_persist_start(engine, state);
		ok = !migrated || ah_engine_persist_migrated(engine, &why);
	}
	if (!ok) {
		*err = AH_ERR_INTERNAL;
		*errmsg = g_strdup_printf("state file %s: %s", config->state_path, why);
		g_free(why);
		ah_engine_free(engine);
		engine = NULL;
	}
	ah_persist_state_free(state);
	return engine;
}

void ah_engine_free(ah_engine *engine)
{
	if (engine == NULL)
		return;
	/* Rooms point at participants without owning them: drop the participants first. */
	g_hash_table_destroy(engine->pids);
	g_hash_table_destroy(engine->conns);
	g_hash_table_destroy(engine->tenants);
	ah_engine_ghosts_clear(engine);
	ah_engine_credentials_clear(engine);
	ah_admission_free(engine->adm);
	g_ptr_array_unref(engine->dirty_rooms);
	g_array_unref(engine->dirty_conns);
	ah_engine_persist_stop(engine);
	g_hash_table_destroy(engine->dirty_conn_set);
	g_array_unref(engine->dirty_receivers);
	g_hash_table_destroy(engine->dirty_receiver_set);
	g_ptr_array_unref(engine->schedule_queue);
	g_free(engine->work);
	g_free(engine->counters);
	g_free(engine->state_path);
	g_free(engine->admin_key);
	g_free(engine);
}

const ah_admission_config *ah_engine_admission_config(const ah_engine *engine)
{
	return ah_admission_get_config(engine->adm);
}

const ah_engine_work *ah_engine_work_done(const ah_engine *engine)
{
	return engine->work;
}

/* --- participants */

ah_participant *ah_engine_add_participant(ah_engine *engine, guint64 conn, ah_room *room,
	gboolean presenter, const char *display)
{
	ah_participant *p = g_new0(ah_participant, 1);
	p->id = engine->next_pid++;
	p->conn = conn;
	p->presenter = presenter;
	p->room = room;
	p->display = g_strdup(display != NULL ? display : "");
	p->layer = AH_SIM_HIGH;
	p->streams = g_array_new(FALSE, TRUE, sizeof(ah_stream_desc));
	p->slots = g_array_new(FALSE, TRUE, sizeof(ah_slot));
	g_ptr_array_add(room->members, p);
	if (presenter)
		g_ptr_array_add(room->presenters, p);
	g_hash_table_insert(engine->conns, &p->conn, p);
	g_hash_table_insert(engine->pids, &p->id, p);
	return p;
}

gboolean ah_engine_seated(const ah_engine *engine, const ah_participant *p)
{
	ah_adm_state state;
	if (p->presenter || p->backstage)
		return FALSE;
	state = ah_admission_state(engine->adm, p->id);
	return state == AH_ADM_CONNECTING || state == AH_ADM_ACTIVE;
}

gboolean ah_engine_receiving(const ah_engine *engine, const ah_participant *p)
{
	return p->backstage || ah_engine_seated(engine, p);
}

/* What each way out tells the participant and the event handlers. */
enum { CLOSE_NEVER, CLOSE_IF_MEDIA, CLOSE_ALWAYS };
static const struct {
	const char *event;      /* to the participant and to the event handlers */
	const char *reason;
	gboolean tell;          /* EVENT to the participant (else it learns otherwise or is gone) */
	int close_pc;
	gboolean adm_leave;     /* free the seat through ah_admission_leave */
	gboolean room_stays;    /* renegotiate and rebuild the room's fan-outs */
	gboolean may_hold;      /* a lost connection: the seat waits for a rejoin if there is a grace */
} exits[] = {
	[AH_EXIT_LEAVE] = { "left", "leave", FALSE, CLOSE_IF_MEDIA, TRUE, TRUE, FALSE },
	[AH_EXIT_HANGUP] = { "left", "hangup", TRUE, CLOSE_NEVER, TRUE, TRUE, TRUE },
	[AH_EXIT_GONE] = { "left", "gone", FALSE, CLOSE_NEVER, TRUE, TRUE, TRUE },
	[AH_EXIT_KICKED] = { "removed", "kicked", TRUE, CLOSE_ALWAYS, TRUE, TRUE, FALSE },
	[AH_EXIT_TIMEOUT] = { "removed", "admit_timeout", TRUE, CLOSE_ALWAYS, FALSE, TRUE, FALSE },
	[AH_EXIT_ROOM] = { "removed", "room_destroyed", TRUE, CLOSE_ALWAYS, FALSE, FALSE, FALSE },
	[AH_EXIT_TENANT] = { "removed", "tenant_destroyed", TRUE, CLOSE_ALWAYS, FALSE, FALSE, FALSE },
	[AH_EXIT_ENDED] = { "ended", "ended", TRUE, CLOSE_ALWAYS, FALSE, FALSE, FALSE },
	[AH_EXIT_ENDED_QUEUED] = { "removed", "ended", TRUE, CLOSE_IF_MEDIA, FALSE, FALSE, FALSE },
	[AH_EXIT_ENDED_PRESENTER] = { "ended", "ended", TRUE, CLOSE_ALWAYS, TRUE, FALSE, FALSE },
	[AH_EXIT_DRAINED] = { "removed", "draining", TRUE, CLOSE_IF_MEDIA, FALSE, TRUE, FALSE },
	[AH_EXIT_REPLACED] = { "removed", "replaced", TRUE, CLOSE_ALWAYS, TRUE, TRUE, TRUE },
};

/* The participant has (or is setting up) a PeerConnection with us. */
static gboolean has_pc(const ah_participant *p)
{
	return p->media || p->slots->len > 0 || p->streams->len > 0;
}

static void forget(ah_engine *engine, ah_participant *p)
{
	g_ptr_array_remove(p->room->members, p);
	if (p->presenter)
		g_ptr_array_remove(p->room->presenters, p);
	g_hash_table_remove(engine->pids, &p->id);
	g_hash_table_remove(engine->conns, &p->conn); /* frees p */
}

void ah_engine_remove(ah_engine *engine, ah_participant *p, ah_exit how, gint64 now, GPtrArray *outs)
{
	ah_room *room = p->room;
	guint64 id = p->id, conn = p->conn;
	gboolean was_publishing = publishing(p), was_seated = ah_engine_receiving(engine, p) || how == AH_EXIT_TIMEOUT;
	gboolean held;
	json_t *note;
	engine->counters->exits[how]++;
	if (exits[how].tell)
		ah_engine_push(outs, AH_OUT_EVENT, conn, json_pack("{s:s, s:s, s:s}", "allhands", "event",
			"event", exits[how].event, "reason", exits[how].reason), AH_JSEP_NONE);
	if (exits[how].close_pc == CLOSE_ALWAYS || (exits[how].close_pc == CLOSE_IF_MEDIA && has_pc(p)))
		ah_engine_push(outs, AH_OUT_CLOSE_PC, conn, NULL, AH_JSEP_NONE);
	note = ah_engine_notify(outs, conn, exits[how].event, room->tenant->id, room->id, id);
	json_object_set_new(note, "reason", json_string(exits[how].reason));
	/* After its `left`: the seat is held for a rejoin (`rejoining` follows the `left`). */
	held = exits[how].may_hold && ah_engine_seated(engine, p) && ah_engine_hold(engine, p, now, outs);
	forget(engine, p);
	if (was_publishing)
		touch_conn(engine, conn);
	if (exits[how].room_stays) {
		if (was_publishing)
			ah_engine_renegotiate(engine, room, outs);
		if (was_seated)
			ah_engine_receiver_changed(engine, conn);
	}
	if (exits[how].adm_leave && !held) {
		GArray *events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
		ah_admission_leave(engine->adm, id, now, events);
		ah_engine_adm_events(engine, events, now, outs);
		g_array_unref(events);
	}
}

/* --- slots: an attendee's m-lines (see DESIGN) */

typedef struct {
	const ah_participant *presenter;
	const ah_stream_desc *stream;
	gint slot; /* -1 until placed */
} wanted_stream;

static gboolean slot_carries(const ah_slot *s, const wanted_stream *w, gboolean same_mindex)
{
	return s->active && s->presenter == w->presenter->id && s->kind == w->stream->kind &&
		(!same_mindex || s->presenter_mindex == w->stream->mindex);
}

/* Give each wanted stream the first unclaimed slot that satisfies `fits`, if any. */
static void place(GArray *slots, gboolean *claimed, GArray *wanted, int pass)
{
	for (guint i = 0; i < wanted->len; i++) {
		wanted_stream *w = &g_array_index(wanted, wanted_stream, i);
		for (guint j = 0; w->slot < 0 && j < slots->len; j++) {
			const ah_slot *s = &g_array_index(slots, ah_slot, j);
			gboolean fits = pass == 2 ? (!s->active && s->kind == w->stream->kind) : slot_carries(s, w, pass == 0);
			if (!claimed[j] && fits) {
				claimed[j] = TRUE;
				w->slot = j;
			}
		}
	}
}

static const ah_slot placeholders[] = {
	{ .mindex = 0, .kind = AH_MEDIA_AUDIO, .presenter_mindex = -1, .codec = "opus" },
	{ .mindex = 1, .kind = AH_MEDIA_VIDEO, .presenter_mindex = -1, .codec = "vp8" },
};

static void compute_slots(ah_engine *engine, const ah_room *room, ah_participant *a)
{
	GArray *wanted = g_array_new(FALSE, FALSE, sizeof(wanted_stream));
	GArray *slots = a->slots;
	guint total;
	gboolean *claimed;
	for (guint i = 0; i < room->presenters->len; i++) {
		const ah_participant *p = g_ptr_array_index(room->presenters, i);
		engine->work->member_visits++;
		for (guint j = 0; j < p->streams->len; j++) {
			wanted_stream w = { p, &g_array_index(p->streams, ah_stream_desc, j), -1 };
			g_array_append_val(wanted, w);
		}
	}
	claimed = g_new0(gboolean, slots->len + wanted->len);
	/* Pass 0: same presenter stream; pass 1: same presenter and kind (a republish that moved
	 * m-lines); then whatever is left of the old streams goes inactive; pass 2: reuse. */
	place(slots, claimed, wanted, 0);
	place(slots, claimed, wanted, 1);
	for (guint j = 0; j < slots->len; j++) {
		ah_slot *s = &g_array_index(slots, ah_slot, j);
		if (!claimed[j]) {
			s->active = FALSE;
			s->presenter = 0;
			s->presenter_conn = 0;
			s->presenter_mindex = -1;
		}
	}
	place(slots, claimed, wanted, 2);
	total = slots->len;
	for (guint i = 0; i < wanted->len; i++) {
		wanted_stream *w = &g_array_index(wanted, wanted_stream, i);
		ah_slot *s;
		if (w->slot < 0)
			w->slot = total++;
		if ((guint)w->slot >= slots->len)
			g_array_set_size(slots, w->slot + 1);
		s = &g_array_index(slots, ah_slot, w->slot);
		s->mindex = w->slot;
		s->kind = w->stream->kind;
		s->active = TRUE;
		s->presenter = w->presenter->id;
		s->presenter_conn = w->presenter->conn;
		s->presenter_mindex = w->stream->mindex;
		g_strlcpy(s->codec, w->stream->codec, sizeof(s->codec));
		g_strlcpy(s->fmtp, w->stream->fmtp, sizeof(s->fmtp));
	}
	/* A PeerConnection needs an m-line: with nobody publishing yet, offer an inactive audio and
	 * video m-line, so ICE and DTLS complete now and the first streams reuse them. */
	if (slots->len == 0)
		g_array_append_vals(slots, placeholders, G_N_ELEMENTS(placeholders));
	g_free(claimed);
	g_array_unref(wanted);
}

/* --- offers, renegotiation, fan-outs */

static const char *const kind_names[] = { [AH_MEDIA_AUDIO] = "audio", [AH_MEDIA_VIDEO] = "video" };

json_t *ah_engine_streams_json(const GArray *streams)
{
	json_t *array = json_array();
	for (guint i = 0; i < streams->len; i++) {
		const ah_stream_desc *s = &g_array_index(streams, ah_stream_desc, i);
		json_array_append_new(array, json_pack("{s:s, s:s}", "kind", kind_names[s->kind], "codec", s->codec));
	}
	return array;
}

json_t *ah_engine_presenters_json(const ah_engine *engine, const ah_room *room)
{
	json_t *array = json_array();
	for (guint i = 0; i < room->presenters->len; i++) {
		const ah_participant *p = g_ptr_array_index(room->presenters, i);
		if (publishing(p))
			json_array_append_new(array, json_pack("{s:I, s:s, s:o}", "id", (json_int_t)p->id,
				"display", p->display, "streams", ah_engine_streams_json(p->streams)));
	}
	return array;
}

/* The attendee's m-line carrying presenter `id`'s stream `presenter_mindex`, or -1. */
static int slot_of(const ah_participant *a, guint64 id, int presenter_mindex)
{
	for (guint i = 0; i < a->slots->len; i++) {
		const ah_slot *s = &g_array_index(a->slots, ah_slot, i);
		if (s->active && s->presenter == id && s->presenter_mindex == presenter_mindex)
			return (int)i;
	}
	return -1;
}

/* The presenters list for one attendee: each stream also says which of its m-lines carries it. */
static json_t *attendee_presenters_json(ah_engine *engine, const ah_participant *a)
{
	json_t *array = json_array();
	for (guint i = 0; i < a->room->presenters->len; i++) {
		const ah_participant *p = g_ptr_array_index(a->room->presenters, i);
		engine->work->member_visits++;
		if (!publishing(p))
			continue;
		json_t *streams = ah_engine_streams_json(p->streams);
		for (guint k = 0; k < p->streams->len; k++) {
			const ah_stream_desc *d = &g_array_index(p->streams, ah_stream_desc, k);
			json_object_set_new(json_array_get(streams, k), "mindex", json_integer(slot_of(a, p->id, d->mindex)));
		}
		json_array_append_new(array, json_pack("{s:I, s:s, s:o}", "id", (json_int_t)p->id, "display", p->display,
			"streams", streams));
	}
	return array;
}

json_t *ah_engine_offer_body(ah_engine *engine, ah_participant *a, const char *event)
{
	compute_slots(engine, a->room, a);
	a->offer_pending = TRUE;
	a->renegotiate = FALSE;
	ah_engine_receiver_changed(engine, a->conn);
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "allhands", "event", "event", event,
		"tenant", a->room->tenant->id, "room", a->room->id, "id", (json_int_t)a->id,
		"presenters", attendee_presenters_json(engine, a));
}

void ah_engine_offer(ah_engine *engine, ah_participant *a, const char *event, GPtrArray *outs)
{
	ah_engine_push(outs, AH_OUT_EVENT, a->conn, ah_engine_offer_body(engine, a, event), AH_JSEP_OFFER);
}

void ah_engine_renegotiate(ah_engine *engine, ah_room *room, GPtrArray *outs)
{
	for (guint i = 0; i < room->members->len; i++) {
		ah_participant *a = g_ptr_array_index(room->members, i);
		engine->work->member_visits++;
		if (!ah_engine_receiving(engine, a))
			continue;
		if (a->offer_pending)
			a->renegotiate = TRUE;
		else
			ah_engine_offer(engine, a, "updated", outs);
	}
	touch_room(engine, room);
}

void ah_engine_unpublish(ah_engine *engine, ah_participant *p, GPtrArray *outs)
{
	if (!publishing(p))
		return;
	g_array_set_size(p->streams, 0);
	touch_conn(engine, p->conn);
	ah_engine_renegotiate(engine, p->room, outs);
	ah_engine_notify(outs, p->conn, "unpublished", p->room->tenant->id, p->room->id, p->id);
}

void ah_engine_keyframes(const ah_engine *engine, const ah_room *room, GPtrArray *outs)
{
	for (guint i = 0; i < room->presenters->len; i++) {
		const ah_participant *p = g_ptr_array_index(room->presenters, i);
		engine->work->member_visits++;
		if (publishing(p))
			ah_engine_push(outs, AH_OUT_KEYFRAME, p->conn, NULL, AH_JSEP_NONE);
	}
}

const ah_slot *ah_engine_slots(const ah_engine *engine, guint64 conn, guint *n_slots)
{
	const ah_participant *p = ah_engine_participant(engine, conn);
	*n_slots = 0;
	if (p == NULL || p->presenter || p->slots->len == 0)
		return NULL;
	*n_slots = p->slots->len;
	return (const ah_slot *)p->slots->data;
}

static gboolean has_stream(const ah_participant *p, ah_media_kind kind, int mindex)
{
	for (guint i = 0; i < p->streams->len; i++) {
		const ah_stream_desc *s = &g_array_index(p->streams, ah_stream_desc, i);
		if (s->kind == kind && s->mindex == mindex)
			return TRUE;
	}
	return FALSE;
}

guint ah_engine_presenter_max_bitrate(const ah_engine *engine, guint64 conn)
{
	const ah_participant *p = ah_engine_participant(engine, conn);
	return p != NULL && p->presenter ? p->room->presenter_max_bitrate : 0;
}

void ah_engine_routes(const ah_engine *engine, guint64 conn, GArray *routes)
{
	const ah_participant *p = ah_engine_participant(engine, conn);
	if (p == NULL || !publishing(p))
		return;
	for (guint i = 0; i < p->room->members->len; i++) {
		const ah_participant *a = g_ptr_array_index(p->room->members, i);
		engine->work->member_visits++;
		if (!ah_engine_receiving(engine, a))
			continue;
		for (guint j = 0; j < a->slots->len; j++) {
			const ah_slot *s = &g_array_index(a->slots, ah_slot, j);
			/* An offer made before a republish may name an m-line the presenter no longer has. */
			if (s->active && s->presenter == p->id && has_stream(p, s->kind, s->presenter_mindex)) {
				ah_route r = { a->conn, s->mindex, s->presenter_mindex, s->kind, ah_engine_max_layer(a), p->conn };
				g_array_append_val(routes, r);
			}
		}
	}
}

void ah_engine_receiver_routes(const ah_engine *engine, guint64 conn, GArray *routes)
{
	const ah_participant *a = ah_engine_participant(engine, conn);
	engine->work->member_visits++;
	if (a == NULL || !ah_engine_receiving(engine, a))
		return;
	for (guint j = 0; j < a->slots->len; j++) {
		const ah_slot *s = &g_array_index(a->slots, ah_slot, j);
		const ah_participant *p = s->active ? ah_engine_participant_by_id(engine, s->presenter) : NULL;
		/* The same rule as ah_engine_routes, seen from the receiver's side. */
		if (p != NULL && p->room == a->room && publishing(p) && has_stream(p, s->kind, s->presenter_mindex)) {
			ah_route r = { a->conn, s->mindex, s->presenter_mindex, s->kind, ah_engine_max_layer(a), p->conn };
			g_array_append_val(routes, r);
		}
	}
}

/* --- media and time */

/* Every entry point first brings the schedules, then admission, up to its own `now`: a request, a
 * hangup or a media_up handled before the timer of a change already due must see that change made
 * (a room whose window ended by `now` is closed before a seat freed now could go to its queue). */
void ah_engine_catch_up(ah_engine *engine, gint64 now, GPtrArray *outs)
{
	ah_engine_schedule_due(engine, now, outs);
	ah_engine_adm_due(engine, now, outs);
}

void ah_engine_media_up(ah_engine *engine, guint64 conn, gint64 now, GPtrArray *outs)
{
	ah_engine_catch_up(engine, now, outs);
	ah_participant *p = ah_engine_participant(engine, conn);
	if (p == NULL)
		return;
	p->media = TRUE;
	/* A backstage monitor holds no attendee seat to confirm: it just wants pictures now. */
	if (p->backstage)
		ah_engine_keyframes(engine, p->room, outs);
	else if (!p->presenter && ah_admission_state(engine->adm, p->id) == AH_ADM_CONNECTING &&
			ah_admission_connected(engine->adm, p->id, now)) {
		ah_engine_keyframes(engine, p->room, outs);
		ah_engine_notify(outs, conn, "active", p->room->tenant->id, p->room->id, p->id);
	}
	ah_engine_flush(engine, outs);
}

void ah_engine_media_down(ah_engine *engine, guint64 conn, gint64 now, GPtrArray *outs)
{
	ah_engine_catch_up(engine, now, outs);
	ah_participant *p = ah_engine_participant(engine, conn);
	if (p == NULL)
		return;
	/* A presenter's PeerConnection going down, even one that never came up (ICE failed), ends
	 * its publishing (a no-op after unpublish). Janus only hands the plugin a new offer once the
	 * old PeerConnection is cleaned up, so this never hits a republish. */
	if (p->presenter) {
		p->media = FALSE;
		ah_engine_unpublish(engine, p, outs);
		ah_engine_flush(engine, outs);
		return;
	}
	/* A receiver without media_up first: the late hangup of a PeerConnection we already closed
	 * (leave) or one that never came up, which the admit timeout covers. */
	if (!p->media)
		return;
	p->media = FALSE;
	ah_engine_remove(engine, p, AH_EXIT_HANGUP, now, outs);
	ah_engine_flush(engine, outs);
}

void ah_engine_conn_gone(ah_engine *engine, guint64 conn, gint64 now, GPtrArray *outs)
{
	ah_engine_catch_up(engine, now, outs);
	ah_participant *p = ah_engine_participant(engine, conn);
	ah_engine_forget_conn(engine, conn);
	if (p == NULL)
		return;
	ah_engine_remove(engine, p, AH_EXIT_GONE, now, outs);
	ah_engine_flush(engine, outs);
}

void ah_engine_tick(ah_engine *engine, gint64 now, GPtrArray *outs)
{
	GArray *events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
	/* Schedules first, so a room that goes live now gets its first wave in this tick. */
	ah_engine_schedule_due(engine, now, outs);
	ah_admission_tick(engine->adm, now, events);
	ah_engine_adm_events(engine, events, now, outs);
	g_array_unref(events);
	ah_engine_ghosts_due(engine, now);
	ah_engine_flush(engine, outs);
}

void ah_engine_cpu_sample(ah_engine *engine, double cpu, gint64 now)
{
	ah_admission_cpu_sample(engine->adm, cpu, now);
}

gint64 ah_engine_next_deadline(const ah_engine *engine, gint64 now)
{
	/* Once each (MIN evaluates an argument twice). */
	gint64 admission = ah_admission_next_deadline(engine->adm, now), schedule = ah_engine_schedule_deadline(engine);
	return MIN(admission, schedule);
}
