/* allhands: the engine's media negotiation (engine-private.h): an attendee's m-lines ("slots"), the
 * offers and renegotiations that carry them, the fan-outs derived from them (ah_engine_routes,
 * ah_engine_receiver_routes) and the bookkeeping of which fan-outs changed in the current entry
 * point (the ROUTES and RECEIVER_ROUTES owed, emitted by ah_engine_flush). A leaf of the engine: it
 * calls only engine-registry.c, and engine.c, engine-participants.c, engine-admission.c and the
 * request handlers call it.
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
 * receiver only. The engine's work counters (engine->work) count the visits.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-private.h"

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

void ah_engine_presenter_stopped(ah_engine *engine, guint64 conn)
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

gboolean ah_engine_publishing(const ah_participant *p)
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
			if (ah_engine_publishing(p))
				ah_engine_presenter_stopped(engine, p->conn);
		}
	}
	for (guint i = 0; i < engine->dirty_conns->len; i++)
		ah_engine_push(outs, AH_OUT_ROUTES, g_array_index(engine->dirty_conns, guint64, i), NULL, AH_JSEP_NONE);
	g_ptr_array_set_size(engine->dirty_rooms, 0);
	g_array_set_size(engine->dirty_conns, 0);
	g_hash_table_remove_all(engine->dirty_conn_set);
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
		if (ah_engine_publishing(p))
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
		if (!ah_engine_publishing(p))
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

static void note_room(GPtrArray **list, const ah_room *room)
{
	ah_def_ref *ref = g_new0(ah_def_ref, 1);
	if (*list == NULL)
		*list = g_ptr_array_new_with_free_func(ah_def_ref_free);
	ref->tenant = g_strdup(room->tenant->id);
	ref->room = g_strdup(room->id);
	g_ptr_array_add(*list, ref);
}

void ah_engine_note_edge_room(ah_engine *engine, ah_room *room)
{
	if (!room->edge_listed && ah_engine_room_elsewhere(engine, room) != NULL) {
		room->edge_listed = TRUE;
		note_room(&engine->edge_new, room);
	}
}

void ah_engine_note_feeds(ah_engine *engine, ah_room *room)
{
	if (room->feeds_watched && !room->feeds_dirty) {
		room->feeds_dirty = TRUE;
		note_room(&engine->feeds_changed, room);
	}
}

json_t *ah_engine_offer_body(ah_engine *engine, ah_participant *a, const char *event)
{
	ah_engine_note_edge_room(engine, a->room);
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
	ah_engine_note_feeds(engine, room);
}

void ah_engine_unpublish(ah_engine *engine, ah_participant *p, GPtrArray *outs)
{
	if (!ah_engine_publishing(p))
		return;
	g_array_set_size(p->streams, 0);
	ah_engine_presenter_stopped(engine, p->conn);
	ah_engine_renegotiate(engine, p->room, outs);
	ah_engine_notify(outs, p->conn, "unpublished", p->room->tenant->id, p->room->id, p->id);
}

void ah_engine_keyframes(const ah_engine *engine, const ah_room *room, GPtrArray *outs)
{
	for (guint i = 0; i < room->presenters->len; i++) {
		const ah_participant *p = g_ptr_array_index(room->presenters, i);
		engine->work->member_visits++;
		if (ah_engine_publishing(p))
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
	if (p == NULL || !ah_engine_publishing(p))
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
		if (p != NULL && p->room == a->room && ah_engine_publishing(p) && has_stream(p, s->kind, s->presenter_mindex)) {
			ah_route r = { a->conn, s->mindex, s->presenter_mindex, s->kind, ah_engine_max_layer(a), p->conn };
			g_array_append_val(routes, r);
		}
	}
}
