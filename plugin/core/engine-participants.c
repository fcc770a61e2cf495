/* allhands: the engine's participants (engine-private.h): a participant joining (once admission
 * gave it a seat or a queue place), every way it goes away (the `exits` table: what it and the
 * event handlers are told, whether its PeerConnection is closed, its seat freed or held for a
 * rejoin, its room renegotiated), and what admission says about it (admitted, position, timed out,
 * grace expired, drained). engine.c, engine-admission.c, engine-schedule.c and the request handlers
 * call it; it calls down to engine-media.c, engine-ghosts.c, engine-registry.c and admission.
 *
 * Pure: no Janus header, no clock (time is `now`), no logging; control thread only.
 *
 * DESIGN
 * A way out that frees a seat hands admission the leave and acts on the events it returns at once
 * (the next in line admitted, positions), so the outs keep their order: the one leaving is told
 * before the one who gets its seat. Acting on an event may take another participant out (an admit
 * timeout, a drained queue place), but such a way out frees no seat through admission (admission
 * forgot it already), so the recursion ends there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-private.h"

/* --- joining */

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
	if (presenter) {
		g_ptr_array_add(room->presenters, p);
		engine->n_presenters++;
	}
	g_hash_table_insert(engine->conns, &p->conn, p);
	g_hash_table_insert(engine->pids, &p->id, p);
	return p;
}

/* --- ways out */

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
	[AH_EXIT_PLACED] = { "left", "placed", FALSE, CLOSE_IF_MEDIA, TRUE, TRUE, FALSE },
};

/* The participant has (or is setting up) a PeerConnection with us. */
static gboolean has_pc(const ah_participant *p)
{
	return p->media || p->slots->len > 0 || p->streams->len > 0;
}

void ah_engine_forget(ah_engine *engine, ah_participant *p)
{
	g_ptr_array_remove(p->room->members, p);
	if (p->presenter && g_ptr_array_remove(p->room->presenters, p))
		engine->n_presenters--;
	g_hash_table_remove(engine->pids, &p->id);
	g_hash_table_remove(engine->conns, &p->conn); /* frees p */
}

void ah_engine_remove(ah_engine *engine, ah_participant *p, ah_exit how, gint64 now, GPtrArray *outs)
{
	ah_room *room = p->room;
	guint64 id = p->id, conn = p->conn;
	gboolean was_publishing = ah_engine_publishing(p);
	gboolean was_seated = ah_engine_receiving(engine, p) || how == AH_EXIT_TIMEOUT;
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
	ah_engine_forget(engine, p);
	if (was_publishing)
		ah_engine_presenter_stopped(engine, conn);
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

/* --- admission events */

json_t *ah_engine_wait_json(const ah_wait_estimate *e)
{
	json_t *wait;
	if (!e->known) {
		wait = json_pack("{s:b}", "known", 0);
		if (e->reason != AH_WAIT_UNSAID)
			json_object_set_new(wait, "reason", json_string(e->reason == AH_WAIT_NO_DEPARTURES ? "no_departures"
				: "not_admitting"));
		return wait;
	}
	wait = json_pack("{s:b, s:I, s:I, s:I}", "known", 1, "median_ms", (json_int_t)(e->median_us / 1000),
		"low_ms", (json_int_t)(e->low_us / 1000), "high_ms", (json_int_t)(e->high_us / 1000));
	if (e->beyond_window)
		json_object_set_new(wait, "beyond_window", json_true());
	return wait;
}

/* --- edges (docs/cluster.md, "Edges: the queue drains into any node") */

/* The attendees admitted by the events being acted on and not decided yet, per room and in all:
 * placement counts the seats of those decided only, so that the first admitted are the ones the
 * origin serves. */
struct ah_adm_batch {
	GHashTable *rooms;      /* ah_room* -> undecided count */
	guint node;
};

static void batch_decided(ah_engine *engine, ah_room *room, guint *later_node, guint *later_room)
{
	struct ah_adm_batch *b = engine->adm_batch;
	guint n;
	*later_node = *later_room = 0;
	if (b == NULL)
		return;
	n = GPOINTER_TO_UINT(g_hash_table_lookup(b->rooms, room));
	if (n > 0)
		g_hash_table_insert(b->rooms, room, GUINT_TO_POINTER(n - 1)), *later_room = n - 1;
	if (b->node > 0)
		*later_node = --b->node;
}

gboolean ah_engine_seat_elsewhere(ah_engine *engine, ah_participant *p, gint64 now, GPtrArray *outs, json_t **reply)
{
	guint later_node, later_room;
	const ah_place_node *edge;
	ah_room *room = p->room;
	json_t *body;
	char *ticket;
	if (!ah_engine_clustered(engine) || p->presenter || p->backstage)
		return FALSE;
	batch_decided(engine, room, &later_node, &later_room);
	if ((edge = ah_engine_place_attendee(engine, room, later_node, later_room, now)) == NULL)
		return FALSE;
	/* The edge serves it with the priority class (it was admitted here), no credentials asked again. */
	ticket = ah_engine_ticket_issue_for(engine, room, edge->id, AH_TICKET_ATTENDEE, TRUE, p->sub, now);
	if (ticket == NULL)
		return FALSE;
	body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I}", "allhands", "event", "event", "redirect",
		"tenant", room->tenant->id, "room", room->id, "ptype", "attendee", "node", edge->id, "url", edge->url,
		"ticket", ticket, "expires_in_s", (json_int_t)AH_TICKET_TTL_S, "reason", "seat",
		"position", (json_int_t)p->position);
	g_free(ticket);
	if (reply != NULL)
		*reply = body;
	else
		ah_engine_push(outs, AH_OUT_EVENT, p->conn, body, AH_JSEP_NONE);
	/* Its seat here is freed at once: the origin's waves keep flowing. */
	ah_engine_remove(engine, p, AH_EXIT_PLACED, now, outs);
	return TRUE;
}

static void on_admitted(ah_engine *engine, const ah_adm_event *ev, gint64 now, GPtrArray *outs)
{
	ah_participant *p = ah_engine_participant_by_id(engine, ev->pid);
	json_t *body;
	if (p == NULL)
		return;
	if (ah_engine_seat_elsewhere(engine, p, now, outs, NULL))
		return;
	body = ah_engine_offer_body(engine, p, "admitted");
	ah_engine_issue_token(engine, p, body, now);
	ah_engine_push(outs, AH_OUT_EVENT, p->conn, body, AH_JSEP_OFFER);
	ah_engine_notify(outs, p->conn, "admitted", p->room->tenant->id, p->room->id, p->id);
}

static void on_position(ah_engine *engine, const ah_adm_event *ev, gint64 now, GPtrArray *outs)
{
	ah_participant *p = ah_engine_participant_by_id(engine, ev->pid);
	if (p == NULL)
		return;
	p->position = ev->position;
	ah_engine_push(outs, AH_OUT_EVENT, p->conn, json_pack("{s:s, s:s, s:I, s:I, s:o}", "allhands", "event",
		"event", "position", "position", (json_int_t)ev->position, "queue_length", (json_int_t)ev->queue_length,
		"wait", ah_engine_wait_json(&ev->estimate)), AH_JSEP_NONE);
}

static void on_timed_out(ah_engine *engine, const ah_adm_event *ev, gint64 now, GPtrArray *outs)
{
	ah_participant *p = ah_engine_participant_by_id(engine, ev->pid);
	engine->counters->admit_timeouts++;
	if (p != NULL)
		ah_engine_remove(engine, p, AH_EXIT_TIMEOUT, now, outs);
}

static void on_grace_expired(ah_engine *engine, const ah_adm_event *ev, gint64 now, GPtrArray *outs)
{
	ah_ghost *g = ah_engine_ghost_of_pid(engine, ev->pid);
	if (g == NULL)
		return;
	engine->counters->grace_expired++;
	json_object_set_new(ah_engine_notify(outs, 0, "left", g->tenant, g->room, g->pid), "reason",
		json_string("grace_expired"));
	ah_engine_ghost_drop(engine, g);
}

static void on_drained(ah_engine *engine, const ah_adm_event *ev, gint64 now, GPtrArray *outs)
{
	ah_participant *p = ah_engine_participant_by_id(engine, ev->pid);
	if (p != NULL)
		ah_engine_remove(engine, p, AH_EXIT_DRAINED, now, outs);
}

static void (*const adm_handlers[])(ah_engine *, const ah_adm_event *, gint64, GPtrArray *) = {
	[AH_ADM_EV_ADMITTED] = on_admitted,
	[AH_ADM_EV_POSITION] = on_position,
	[AH_ADM_EV_TIMED_OUT] = on_timed_out,
	[AH_ADM_EV_GRACE_EXPIRED] = on_grace_expired,
	[AH_ADM_EV_DRAINED] = on_drained,
};

/* Cluster mode: count the attendees these events admit, per room, into the batch being acted on
 * (events acted on while acting on others: their admitted are undecided too), else a new one
 * (returned; NULL: none). */
static struct ah_adm_batch *batch_new(ah_engine *engine, GArray *events)
{
	struct ah_adm_batch *b = engine->adm_batch, *fresh = NULL;
	if (!ah_engine_clustered(engine))
		return NULL;
	for (guint i = 0; i < events->len; i++) {
		const ah_adm_event *ev = &g_array_index(events, ah_adm_event, i);
		ah_participant *p = ev->kind == AH_ADM_EV_ADMITTED ? ah_engine_participant_by_id(engine, ev->pid) : NULL;
		if (p == NULL)
			continue;
		if (b == NULL) {
			b = fresh = g_new0(struct ah_adm_batch, 1);
			b->rooms = g_hash_table_new(NULL, NULL);
		}
		g_hash_table_insert(b->rooms, p->room, GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(b->rooms, p->room)) + 1));
		b->node++;
	}
	return fresh;
}

void ah_engine_adm_events(ah_engine *engine, GArray *events, gint64 now, GPtrArray *outs)
{
	struct ah_adm_batch *outer = engine->adm_batch, *batch = batch_new(engine, events);
	if (batch != NULL)
		engine->adm_batch = batch;
	for (guint i = 0; i < events->len; i++) {
		const ah_adm_event *ev = &g_array_index(events, ah_adm_event, i);
		if ((guint)ev->kind < G_N_ELEMENTS(adm_handlers))
			adm_handlers[ev->kind](engine, ev, now, outs);
	}
	g_array_set_size(events, 0);
	if (batch != NULL) {
		engine->adm_batch = outer;
		g_hash_table_destroy(batch->rooms);
		g_free(batch);
	}
}
