/* allhands: the engine's top (include/allhands/engine.h): its lifecycle (the config, the state
 * file loaded, the writer started), tenants and rooms, and the entry points of media and time
 * (media up and down, a handle gone, the timer tick and the next deadline). The request table and
 * its handlers are the requests layer above it (requests.c); below it, calls point down only:
 * engine-schedule.c (scheduled rooms), engine-admission.c (rejoin, due work, admission figures)
 * and engine-persist.c (the state file's rows), then engine-participants.c (joining, leaving,
 * admission events), then engine-ghosts.c (rejoin tokens) and engine-media.c (slots, offers,
 * fan-outs), then engine-credentials.c and engine-registry.c (lookups, outs, clock); all share
 * engine-private.h. docs/architecture.md draws the layers.
 *
 * Pure: no Janus header, no clock (time is `now`), no logging, no threads or locks. Only the
 * control thread calls it. Everything the glue must do is appended to `outs`, in order.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "engine-private.h"
#include "allhands/persist.h"

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
	g_free(room->node);
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
	ah_engine_ledger_cap_changed(engine, id, NULL);
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
	r->origin_attendees = -1;
	r->members = g_ptr_array_new();
	r->presenters = g_ptr_array_new();
	ah_room_schedule_init(r);
	g_hash_table_insert(tenant->rooms, r->id, r);
	engine->n_rooms++;
	ah_admission_set_room(engine->adm, tenant->id, id, max_attendees);
	ah_engine_ledger_cap_changed(engine, tenant->id, id);
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
	ah_engine_edges_room_gone(engine, room);
}

void ah_engine_destroy_room(ah_engine *engine, ah_room *room, gint64 now, GPtrArray *outs)
{
	empty_room(engine, room, AH_EXIT_ROOM, now, outs);
	/* Queue positions behind the removed attendees are reported by the next tick
	 * (ah_admission_next_deadline() returns `now` until then). */
	ah_admission_remove_room(engine->adm, room->tenant->id, room->id, NULL);
	ah_engine_ledger_cap_changed(engine, room->tenant->id, room->id);
	engine->n_rooms--;
	g_hash_table_remove(room->tenant->rooms, room->id);
}

void ah_engine_destroy_tenant(ah_engine *engine, ah_tenant *tenant, gint64 now, GPtrArray *outs)
{
	GPtrArray *rooms = ah_engine_sorted_rooms(tenant);
	for (guint i = 0; i < rooms->len; i++)
		empty_room(engine, g_ptr_array_index(rooms, i), AH_EXIT_TENANT, now, outs);
	g_ptr_array_unref(rooms);
	ah_admission_remove_tenant(engine->adm, tenant->id, NULL);
	ah_engine_ledger_cap_changed(engine, tenant->id, NULL);
	engine->n_rooms -= g_hash_table_size(tenant->rooms);
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
		room->node = g_strdup(r->node);
		room->origin_attendees = r->origin_attendees;
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
	ah_engine_ledger_stop(engine);
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
	ah_engine_place_clear(engine);
	if (engine->edge_new != NULL)
		g_ptr_array_unref(engine->edge_new);
	if (engine->feeds_changed != NULL)
		g_ptr_array_unref(engine->feeds_changed);
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

/* --- media and time */

/* Every entry point first brings the schedules, then admission, up to its own `now`: a request, a
 * hangup or a media_up handled before the timer of a change already due must see that change made
 * (a room whose window ended by `now` is closed before a seat freed now could go to its queue). */
void ah_engine_catch_up(ah_engine *engine, gint64 now, GPtrArray *outs)
{
	ah_engine_schedule_due(engine, now, outs);
	ah_engine_edges_sync(engine, now);
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
	ah_engine_ledger_forget_conn(engine, conn);
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
	ah_engine_edges_sync(engine, now);
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
	gint64 edges = ah_engine_edges_deadline(engine, now);
	return MIN(MIN(admission, schedule), edges);
}
