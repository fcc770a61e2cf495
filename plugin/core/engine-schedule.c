/* allhands: scheduled rooms in the engine (issue 3): a room's phase (closed, lobby, live, ending),
 * acting on its changes, the queue of rooms by next change, and a room's schedule in replies. The
 * schedule requests (set_schedule, occurrences, start_now, end_now) are requests-schedule.c's, the
 * persisted form engine-persist.c's, the calendar itself (occurrences, time zones, phases)
 * schedule.c's. engine.c and the request handlers call it; it calls down to engine-participants.c
 * (taking everybody out at the end of a window, admission events), engine-registry.c and admission.
 *
 * Pure: no Janus header, no clock, no logging. Real time is the monotonic `now` plus the offset
 * the glue sets (ah_engine_set_clock_offset). Control thread only, like the whole engine.
 *
 * DESIGN
 * The phase is a function of real time (ah_schedule_status_at), so nothing about it is stored
 * but what the engine last acted on (room->status) and when to look again (status.next_change, real
 * seconds; the engine's next deadline converts it back to monotonic time). Syncing a room computes the
 * phase now and, when it differs from the one acted on, performs the transition: tell everyone in
 * the room, open the room in admission at go-live (after shuffling the pre-queue), close it in the
 * lobby and while closed, and at the end of a window take everybody out. A restart therefore needs
 * no stored phase: a loaded room starts "closed, look again now", and the first sync puts it where
 * real time says. start_now and end_now are overrides of the schedule that last until the window
 * they are about has passed; they are not persisted.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "engine-private.h"

#define SEC G_GINT64_CONSTANT(1000000)

/* --- time and phase */

void ah_room_schedule_init(ah_room *room)
{
	room->lobby_minutes = AH_LOBBY_MINUTES_DEFAULT;
	room->ending_warning_s = AH_ENDING_WARNING_S_DEFAULT;
	room->grace_s = AH_GRACE_S_DEFAULT;
	room->status.phase = AH_PHASE_LIVE;
	room->status.next_change = -1;
}

void ah_room_schedule_clear(ah_room *room)
{
	ah_schedule_free(room->schedule);
	room->schedule = NULL;
}

static ah_phase_params params_of(const ah_room *room)
{
	ah_phase_params p = { (gint64)room->lobby_minutes * 60, room->ending_warning_s, room->grace_s };
	return p;
}

/* The room's status at real time `t`, its override included. */
static void status_at(const ah_room *room, gint64 t, ah_schedule_status *st)
{
	const ah_room_override *o = &room->override;
	ah_phase_params p = params_of(room);
	memset(st, 0, sizeof(*st));
	st->next_change = -1;
	if (room->schedule == NULL) {
		st->phase = AH_PHASE_LIVE;
	} else if (o->kind == AH_OVERRIDE_LIVE && t < o->window.end + p.grace_s) {
		gint64 warn = MAX(o->window.end - p.ending_warning_s, o->window.start);
		st->has_occurrence = TRUE;
		st->occurrence = o->window;
		st->phase = t < warn ? AH_PHASE_LIVE : AH_PHASE_ENDING;
		st->next_change = t < warn ? warn : o->window.end + p.grace_s;
	} else if (o->kind == AH_OVERRIDE_ENDED && t < o->window.end) {
		st->phase = AH_PHASE_CLOSED;
		st->has_occurrence = ah_schedule_current_or_next(room->schedule, o->window.end, &st->occurrence);
		st->next_change = o->window.end;
	} else {
		ah_schedule_status_at(room->schedule, t, &p, st);
	}
}

/* Lobby, live and ending are the phases of a window; closed is outside every window. */
static gboolean in_window(ah_phase phase)
{
	return phase != AH_PHASE_CLOSED;
}

static json_t *time_or_null(gboolean has, gint64 t)
{
	return has ? json_integer(t) : json_null();
}

/* --- transitions */

static void tell_state(ah_engine *engine, ah_room *room, GPtrArray *outs)
{
	const ah_schedule_status *st = &room->status;
	json_t *note;
	for (guint i = 0; i < room->members->len; i++) {
		const ah_participant *p = g_ptr_array_index(room->members, i);
		ah_engine_push(outs, AH_OUT_EVENT, p->conn, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
			"allhands", "event", "event", "room_state", "tenant", room->tenant->id, "room", room->id,
			"state", ah_phase_name(st->phase), "starts_at", time_or_null(st->has_occurrence, st->occurrence.start),
			"ends_at", time_or_null(st->has_occurrence, st->occurrence.end)), AH_JSEP_NONE);
	}
	note = ah_engine_notify(outs, 0, "room_state", room->tenant->id, room->id, 0);
	json_object_set_new(note, "state", json_string(ah_phase_name(st->phase)));
	json_object_set_new(note, "starts_at", time_or_null(st->has_occurrence, st->occurrence.start));
	json_object_set_new(note, "ends_at", time_or_null(st->has_occurrence, st->occurrence.end));
}

static gboolean contains(const GArray *pids, guint64 pid)
{
	for (guint i = 0; pids != NULL && i < pids->len; i++)
		if (g_array_index(pids, guint64, i) == pid)
			return TRUE;
	return FALSE;
}

/* The window is over: the room closes in admission, and everybody goes out, attendees in queue
 * then seat order, then presenters and backstage monitors. Admission frees their seats and queue
 * places at once but hands none out here: another room whose window ends at the same moment may
 * not have been synced yet, and must not get them (its attendees would be admitted, then ended).
 * The engine's tick after the schedules (or the due work before a request) runs the wave. */
static void end_window(ah_engine *engine, ah_room *room, gint64 now, GPtrArray *outs)
{
	GArray *queued = ah_admission_queue(engine->adm, room->tenant->id, room->id);
	GArray *removed = g_array_new(FALSE, FALSE, sizeof(guint64));
	ah_admission_set_room_open(engine->adm, room->tenant->id, room->id, FALSE);
	ah_admission_clear_room(engine->adm, room->tenant->id, room->id, TRUE, removed);
	for (guint i = 0; i < removed->len; i++) {
		guint64 pid = g_array_index(removed, guint64, i);
		ah_participant *p = ah_engine_participant_by_id(engine, pid);
		if (p != NULL && !p->presenter && !p->backstage)
			ah_engine_remove(engine, p, contains(queued, pid) ? AH_EXIT_ENDED_QUEUED : AH_EXIT_ENDED, now, outs);
	}
	/* Admission forgot the presenters and monitors already, so their removal runs no due work. */
	while (room->members->len > 0) {
		ah_participant *p = g_ptr_array_index(room->members, 0);
		ah_engine_remove(engine, p, p->presenter || p->backstage ? AH_EXIT_ENDED_PRESENTER : AH_EXIT_ENDED, now,
			outs);
	}
	g_array_unref(removed);
	if (queued != NULL)
		g_array_unref(queued);
}

/* The same room and window always give the same seed, so a shuffle can be replayed. */
static guint32 shuffle_seed(const ah_room *room)
{
	char *key = g_strdup_printf("%s/%s/%" G_GINT64_FORMAT, room->tenant->id, room->id,
		room->status.occurrence.start);
	guint32 seed = g_str_hash(key);
	g_free(key);
	return seed;
}

static void go_live(ah_engine *engine, ah_room *room, gint64 now, GPtrArray *outs)
{
	if (room->shuffle) {
		GArray *events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
		ah_admission_shuffle_room(engine->adm, room->tenant->id, room->id, shuffle_seed(room), events);
		ah_engine_adm_events(engine, events, now, outs);
		g_array_unref(events);
	}
	/* The waves admit the pre-queue from here (the engine's timer tick). */
	ah_admission_set_room_open(engine->adm, room->tenant->id, room->id, TRUE);
}

/* Admission knows no schedule: it is told when the window ends (its grace included, when the engine
 * ends it), so that no estimate reaches past it. */
static void tell_end(ah_engine *engine, const ah_room *room)
{
	const ah_schedule_status *st = &room->status;
	gint64 end = G_MAXINT64;
	/* |end| below about 3000 years: no overflow in microseconds, whatever the stored schedule says. */
	if (in_window(st->phase) && st->has_occurrence && ABS(st->occurrence.end) < G_GINT64_CONSTANT(100000000000))
		end = (st->occurrence.end + room->grace_s) * SEC - engine->clock_offset;
	ah_admission_set_room_end(engine->adm, room->tenant->id, room->id, end);
}

void ah_engine_room_sync(ah_engine *engine, ah_room *room, gint64 now, GPtrArray *outs)
{
	gint64 t = ah_engine_real_s(engine, now);
	ah_schedule_status was = room->status;
	gboolean over, opening;
	ah_phase to;
	if (room->override.kind != AH_OVERRIDE_NONE) {
		gint64 until = room->override.window.end + (room->override.kind == AH_OVERRIDE_LIVE ? room->grace_s : 0);
		if (t >= until)
			room->override.kind = AH_OVERRIDE_NONE;
	}
	status_at(room, t, &room->status);
	ah_engine_schedule_track(engine, room);
	tell_end(engine, room);
	to = room->status.phase;
	/* Another window (back to back) counts as the end of this one; no window (the schedule was
	 * cleared: always live) does not. */
	over = in_window(was.phase) && (!in_window(to) || (was.has_occurrence && room->status.has_occurrence &&
		was.occurrence.end != room->status.occurrence.end));
	if (to == was.phase && !over)
		return;
	tell_state(engine, room, outs);
	if (over)
		end_window(engine, room, now, outs);
	opening = to == AH_PHASE_LIVE || to == AH_PHASE_ENDING;
	if (opening && (over || !(was.phase == AH_PHASE_LIVE || was.phase == AH_PHASE_ENDING)))
		go_live(engine, room, now, outs);
	else if (!opening)
		ah_admission_set_room_open(engine->adm, room->tenant->id, room->id, FALSE);
}

/* --- the schedule queue: the rooms with a next change, a binary min-heap on status.next_change
 * (real seconds; one clock offset for all, so the order is the same in monotonic time). Each
 * room knows its place (queue_index), so a change or a removal costs O(log rooms) and the next
 * deadline is the head: nothing ever walks every room. */

static gboolean queue_before(const ah_room *a, const ah_room *b)
{
	return a->status.next_change < b->status.next_change;
}

static void queue_put(GPtrArray *q, guint i, ah_room *room)
{
	q->pdata[i] = room;
	room->queue_index = i + 1;
}

static void queue_up(ah_engine *engine, guint i)
{
	GPtrArray *q = engine->schedule_queue;
	ah_room *room = q->pdata[i];
	while (i > 0) {
		guint parent = (i - 1) / 2;
		engine->work->room_visits++;
		if (!queue_before(room, q->pdata[parent]))
			break;
		queue_put(q, i, q->pdata[parent]);
		i = parent;
	}
	queue_put(q, i, room);
}

static void queue_down(ah_engine *engine, guint i)
{
	GPtrArray *q = engine->schedule_queue;
	ah_room *room = q->pdata[i];
	for (;;) {
		guint child = 2 * i + 1;
		if (child >= q->len)
			break;
		if (child + 1 < q->len && queue_before(q->pdata[child + 1], q->pdata[child]))
			child++;
		engine->work->room_visits++;
		if (!queue_before(q->pdata[child], room))
			break;
		queue_put(q, i, q->pdata[child]);
		i = child;
	}
	queue_put(q, i, room);
}

void ah_engine_schedule_untrack(ah_engine *engine, ah_room *room)
{
	GPtrArray *q = engine->schedule_queue;
	guint i = room->queue_index;
	ah_room *last;
	if (i == 0)
		return;
	room->queue_index = 0;
	last = g_ptr_array_remove_index(q, q->len - 1);
	if (last == room)
		return;
	/* The last room fills the hole, then moves up or down to its place. */
	queue_put(q, i - 1, last);
	queue_up(engine, i - 1);
	queue_down(engine, last->queue_index - 1);
}

void ah_engine_schedule_track(ah_engine *engine, ah_room *room)
{
	if (room->schedule == NULL || room->status.next_change < 0) {
		ah_engine_schedule_untrack(engine, room);
		return;
	}
	if (room->queue_index == 0) {
		g_ptr_array_add(engine->schedule_queue, room);
		room->queue_index = engine->schedule_queue->len;
	}
	queue_up(engine, room->queue_index - 1);
	queue_down(engine, room->queue_index - 1);
}

/* A stable order for rooms due together: tenant, then room. */
static gint compare_due(gconstpointer a, gconstpointer b)
{
	const ah_room *x = *(ah_room *const *)a, *y = *(ah_room *const *)b;
	int c = strcmp(x->tenant->id, y->tenant->id);
	return c != 0 ? c : strcmp(x->id, y->id);
}

void ah_engine_schedule_due(ah_engine *engine, gint64 now, GPtrArray *outs)
{
	gint64 t = ah_engine_real_s(engine, now);
	GPtrArray *q = engine->schedule_queue, *due;
	if (q->len == 0)
		return;
	engine->work->room_visits++;
	if (((const ah_room *)q->pdata[0])->status.next_change > t)
		return;
	/* Take every due room out first; syncing one puts it back with its next change. */
	due = g_ptr_array_new();
	while (q->len > 0 && ((const ah_room *)q->pdata[0])->status.next_change <= t) {
		ah_room *room = q->pdata[0];
		engine->work->room_visits++;
		ah_engine_schedule_untrack(engine, room);
		g_ptr_array_add(due, room);
	}
	g_ptr_array_sort(due, compare_due);
	for (guint i = 0; i < due->len; i++)
		ah_engine_room_sync(engine, g_ptr_array_index(due, i), now, outs);
	g_ptr_array_unref(due);
}

gint64 ah_engine_schedule_deadline(const ah_engine *engine)
{
	const ah_room *head;
	if (engine->schedule_queue->len == 0)
		return G_MAXINT64;
	head = g_ptr_array_index(engine->schedule_queue, 0);
	engine->work->room_visits++;
	return head->status.next_change * SEC - engine->clock_offset;
}

/* --- replies */

void ah_room_schedule_json(const ah_room *room, json_t *object)
{
	const ah_schedule_status *st = &room->status;
	json_object_set_new(object, "state", json_string(ah_phase_name(st->phase)));
	json_object_set_new(object, "schedule", room->schedule != NULL ? ah_schedule_to_json(room->schedule) : json_null());
	if (room->schedule != NULL && ah_schedule_refusal(room->schedule) != NULL)
		json_object_set_new(object, "schedule_refused", json_string(ah_schedule_refusal(room->schedule)));
	json_object_set_new(object, "lobby_minutes", json_integer(room->lobby_minutes));
	json_object_set_new(object, "ending_warning_s", json_integer(room->ending_warning_s));
	json_object_set_new(object, "grace_s", json_integer(room->grace_s));
	json_object_set_new(object, "prequeue_order", json_string(room->shuffle ? "shuffle" : "fifo"));
	json_object_set_new(object, "next_start", time_or_null(st->has_occurrence, st->occurrence.start));
	json_object_set_new(object, "next_end", time_or_null(st->has_occurrence, st->occurrence.end));
}
