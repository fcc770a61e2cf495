/* allhands: the engine's side of media across nodes (issue 14; docs/cluster-media.md).
 *
 * Origin: a room's presenters publish on its home node. The glue watches the rooms edges subscribe to
 * (ah_engine_watch_feeds) and learns, after each entry point, which of them had their presenters change
 * (ah_engine_feeds_take), to tell the edges; ah_engine_room_publishers lists them.
 *
 * Edge: a node serving attendees of a room whose home is another node. The engine lists a room once its
 * first receiver here is offered media (ah_engine_edge_rooms_take), and the glue gives it the origin's
 * presenters as *mirrors* (ah_engine_set_mirrors): presenter participants with a glue-chosen conn, no
 * handle, no seat (admission never hears of them), whose media the glue receives over the link. Slots,
 * routes, simulcast policy and keyframe requests then work for them as for local presenters.
 *
 * Pure: no Janus, no clock, no I/O. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "engine-private.h"

static GPtrArray *take(GPtrArray **list)
{
	GPtrArray *taken = *list;
	*list = NULL;
	return taken;
}

GPtrArray *ah_engine_edge_rooms_take(ah_engine *engine)
{
	return take(&engine->edge_new);
}

void ah_engine_edge_room_done(ah_engine *engine, const char *tenant, const char *room)
{
	ah_room *r = ah_engine_room(engine, tenant, room);
	if (r != NULL)
		r->edge_listed = FALSE;
}

GPtrArray *ah_engine_feeds_take(ah_engine *engine)
{
	GPtrArray *taken = take(&engine->feeds_changed);
	for (guint i = 0; taken != NULL && i < taken->len; i++) {
		const ah_def_ref *ref = g_ptr_array_index(taken, i);
		ah_room *r = ah_engine_room(engine, ref->tenant, ref->room);
		if (r != NULL)
			r->feeds_dirty = FALSE;
	}
	return taken;
}

gboolean ah_engine_watch_feeds(ah_engine *engine, const char *tenant, const char *room, gboolean on)
{
	ah_room *r = ah_engine_room(engine, tenant, room);
	if (r == NULL)
		return FALSE;
	r->feeds_watched = on;
	return TRUE;
}

const char *ah_engine_room_origin(const ah_engine *engine, const char *tenant, const char *room)
{
	const ah_room *r = ah_engine_room(engine, tenant, room);
	return r != NULL ? ah_engine_room_elsewhere(engine, r) : NULL;
}

gboolean ah_engine_room_publishers(const ah_engine *engine, const char *tenant, const char *room, GArray *out)
{
	const ah_room *r = ah_engine_room(engine, tenant, room);
	if (r == NULL)
		return FALSE;
	for (guint i = 0; out != NULL && i < r->presenters->len; i++) {
		const ah_participant *p = g_ptr_array_index(r->presenters, i);
		engine->work->member_visits++;
		if (!ah_engine_publishing(p) || p->mirror)
			continue;
		ah_mirror m = { p->conn, p->id, p->display, (const ah_stream_desc *)p->streams->data, p->streams->len };
		g_array_append_val(out, m);
	}
	return TRUE;
}

guint ah_engine_room_receivers(const ah_engine *engine, const char *tenant, const char *room)
{
	ah_adm_counts c = ah_admission_counts(engine->adm, tenant, room);
	return c.connecting + c.active + c.rejoining;
}

static const ah_mirror *find_mirror(const ah_mirror *mirrors, guint n, guint64 conn)
{
	for (guint i = 0; i < n; i++)
		if (mirrors[i].conn == conn)
			return &mirrors[i];
	return NULL;
}

static gboolean same_streams(const ah_participant *p, const ah_mirror *m)
{
	if (p->streams->len != m->n_streams)
		return FALSE;
	for (guint i = 0; i < m->n_streams; i++) {
		const ah_stream_desc *a = &g_array_index(p->streams, ah_stream_desc, i), *b = &m->streams[i];
		if (a->kind != b->kind || a->mindex != b->mindex || strcmp(a->codec, b->codec) != 0 ||
				strcmp(a->fmtp, b->fmtp) != 0)
			return FALSE;
	}
	return TRUE;
}

/* A stream as the engine takes it from an offer: within the m-lines relayed, a known codec. */
static gboolean stream_ok(const ah_stream_desc *s)
{
	return s->mindex >= 0 && s->mindex < AH_MAX_STREAMS && memchr(s->codec, '\0', sizeof(s->codec)) != NULL &&
		memchr(s->fmtp, '\0', sizeof(s->fmtp)) != NULL && s->codec[0] != '\0';
}

gboolean ah_engine_set_mirrors(ah_engine *engine, const char *tenant, const char *room, const ah_mirror *mirrors,
	guint n, gint64 now, GPtrArray *outs)
{
	ah_room *r = ah_engine_room(engine, tenant, room);
	gboolean changed = FALSE;
	(void)now;
	if (r == NULL)
		return FALSE;
	/* Mirrors the origin no longer lists: gone (their receivers' m-lines go inactive). */
	for (guint i = r->presenters->len; i-- > 0;) {
		ah_participant *p = g_ptr_array_index(r->presenters, i);
		engine->work->member_visits++;
		if (!p->mirror || find_mirror(mirrors, n, p->conn) != NULL)
			continue;
		if (ah_engine_publishing(p))
			ah_engine_presenter_stopped(engine, p->conn);
		ah_engine_forget(engine, p);
		changed = TRUE;
	}
	for (guint i = 0; i < n; i++) {
		const ah_mirror *m = &mirrors[i];
		ah_participant *p = ah_engine_participant(engine, m->conn);
		gboolean ok = m->conn != 0 && m->n_streams <= AH_MAX_STREAMS;
		for (guint k = 0; ok && k < m->n_streams; k++)
			ok = stream_ok(&m->streams[k]);
		if (!ok || (p != NULL && (!p->mirror || p->room != r)))
			continue; /* not a mirror of this room's (the glue's bug): nothing changes */
		if (p == NULL) {
			p = ah_engine_add_participant(engine, m->conn, r, TRUE, m->display);
			p->mirror = TRUE;
		} else if (g_strcmp0(p->display, m->display != NULL ? m->display : "") != 0) {
			g_free(p->display);
			p->display = g_strdup(m->display != NULL ? m->display : "");
			changed = TRUE;
		}
		if (same_streams(p, m))
			continue;
		if (ah_engine_publishing(p))
			ah_engine_presenter_stopped(engine, p->conn);
		g_array_set_size(p->streams, 0);
		g_array_append_vals(p->streams, m->streams, m->n_streams);
		changed = TRUE;
	}
	if (changed)
		ah_engine_renegotiate(engine, r, outs);
	ah_engine_flush(engine, outs);
	return TRUE;
}
