/* allhands: the engine's admission side (engine-private.h): a rejoin taking a held seat back (or a
 * still seated one over), the admission work due before each entry point, tenants' shares and rooms'
 * presenter seats as admission sees them, and the admission figures of status and of the node.
 * engine.c and the request handlers call it; it calls down to engine-participants.c,
 * engine-ghosts.c, engine-registry.c and admission.
 *
 * Pure: no Janus header, no clock (time is `now`), no logging; control thread only.
 *
 * DESIGN
 * A seated attendee whose PeerConnection or handle goes away (not `leave`, not a kick) leaves the
 * engine like before, but when the node has a rejoin grace admission keeps its seat (REJOINING)
 * and the engine keeps a ghost (engine-ghosts.c): the token it was given at admission, the pid
 * holding the seat and the room's ids. A join that presents the token to the same room within the
 * grace takes the seat over at once (admission passes it to the new pid); so does one whose token's
 * holder is still seated (a take-over: no ghost, no `rejoining`).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "engine-private.h"

/* --- rejoin */

/* A client that lost its connection may come back before Janus noticed (a half-open TCP
 * connection, an ICE consent that has not timed out yet): its old participant is still seated.
 * The token proves it is the same attendee, so the new one takes that seat over. */
static ah_participant *stale_holder(ah_engine *engine, const char *token, ah_room *room)
{
	for (guint i = 0; i < room->members->len; i++) {
		ah_participant *old = g_ptr_array_index(room->members, i);
		if (old->rejoin_token[0] != '\0' && ah_validate_secret_equal(token, old->rejoin_token) &&
			ah_engine_seated(engine, old))
			return old;
	}
	return NULL;
}

/* Either the whole rejoin happens or nothing does: the seat passes in admission first (it cannot
 * fail once the holder is known), then the old participant, if still there, is taken out as
 * `replaced`. A take-over is no lost connection: no `rejoining`, and no ghost. */
gboolean ah_engine_rejoin(ah_engine *engine, const char *token, ah_room *room, guint64 conn, const char *display,
	gint64 now, GPtrArray *outs, ah_participant **p)
{
	ah_ghost *g;
	ah_participant *old = NULL;
	guint64 pid;
	if (token == NULL)
		return FALSE;
	g = ah_engine_ghost_of_token(engine, token);
	if (g == NULL && (old = stale_holder(engine, token, room)) == NULL)
		return FALSE;
	if (g != NULL && (strcmp(g->tenant, room->tenant->id) != 0 || strcmp(g->room, room->id) != 0))
		return FALSE;
	pid = ah_engine_next_id(engine);
	if (!ah_admission_rejoin(engine->adm, g != NULL ? g->pid : old->id, pid, now)) {
		if (g != NULL)
			ah_engine_ghost_drop(engine, g); /* its seat is gone already (a stale holder is always seated) */
		return FALSE;
	}
	if (display == NULL)
		display = g != NULL ? g->display : old->display;
	*p = ah_engine_add_participant(engine, conn, room, FALSE, display);
	if (g != NULL) {
		ah_engine_ghost_drop(engine, g);
		return TRUE;
	}
	/* Admission forgot it already: removing it frees nothing and runs no admission work. */
	ah_engine_remove(engine, old, AH_EXIT_REPLACED, now, outs);
	ah_engine_routes_changed(engine, room);
	return TRUE;
}

/* --- due work */

void ah_engine_adm_due(ah_engine *engine, gint64 now, GPtrArray *outs)
{
	GArray *events;
	if (ah_admission_next_deadline(engine->adm, now) > now)
		return;
	events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
	ah_admission_tick(engine->adm, now, events);
	ah_engine_adm_events(engine, events, now, outs);
	g_array_unref(events);
	ah_engine_ghosts_due(engine, now);
}

/* --- shares and seats */

void ah_engine_apply_share(ah_engine *engine, const ah_tenant *t)
{
	ah_admission_set_tenant_share(engine->adm, t->id, t->weight, t->reserved, t->max_queued);
}

void ah_engine_apply_presenter_seats(ah_engine *engine, const ah_room *r)
{
	/* A room homed on another node seats nobody here: it keeps no presenter seat here either (in
	 * cluster mode they would be claimed from the ledger). */
	guint seats = ah_engine_room_elsewhere(engine, r) != NULL ? 0 : r->presenter_seats;
	ah_admission_set_presenter_seats(engine->adm, r->tenant->id, r->id, seats);
}

/* --- figures */

static json_t *percentiles_ms(gint64 p50, gint64 p90, gint64 p99)
{
	return json_pack("{s:I, s:I, s:I}", "p50", (json_int_t)(p50 / 1000), "p90", (json_int_t)(p90 / 1000),
		"p99", (json_int_t)(p99 / 1000));
}

json_t *ah_engine_admission_json(const ah_engine *engine, const ah_tenant *tenant, const ah_room *room, gint64 now)
{
	ah_adm_stats s;
	json_t *out;
	ah_admission_stats(engine->adm, tenant != NULL ? tenant->id : NULL, room != NULL ? room->id : NULL, now, &s);
	out = json_pack("{s:f, s:I, s:o, s:o, s:I, s:o}", "admitted_per_s", s.admitted_per_s,
		"admitted_total", (json_int_t)s.admitted_total,
		"setup_ms", percentiles_ms(s.setup_p50_us, s.setup_p90_us, s.setup_p99_us),
		"wait_ms", percentiles_ms(s.wait_p50_us, s.wait_p90_us, s.wait_p99_us),
		"estimates", (json_int_t)s.estimates,
		"estimate_error", json_pack("{s:f, s:f}", "p50", s.estimate_error_p50, "p90", s.estimate_error_p90));
	if (tenant == NULL) {
		json_object_set_new(out, "wave_size_now", json_integer(s.wave_size));
		json_object_set_new(out, "waves", json_integer((json_int_t)s.waves));
		json_object_set_new(out, "last_wave", s.last_wave_ago_us < 0 ? json_null() :
			json_pack("{s:I, s:I}", "admitted", (json_int_t)s.last_wave_admitted, "ago_ms",
				(json_int_t)(s.last_wave_ago_us / 1000)));
		json_object_set_new(out, "paused", json_boolean(s.paused));
		json_object_set_new(out, "draining", json_boolean(s.draining));
		json_object_set_new(out, "cpu", s.cpu >= 0 ? json_real(s.cpu) : json_null());
	} else if (room != NULL) {
		json_object_set_new(out, "paused", json_boolean(s.paused));
	}
	return out;
}

static const char *const wave_modes[] = { [AH_WAVES_FIXED] = "fixed", [AH_WAVES_ADAPTIVE] = "adaptive" };

json_t *ah_engine_node_json(const ah_engine *engine, gint64 now)
{
	const ah_admission_config *c = ah_admission_get_config(engine->adm);
	ah_adm_counts n = ah_admission_counts(engine->adm, NULL, NULL);
	json_t *node = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"capacity", (json_int_t)ah_engine_own_capacity(engine), "wave_mode", wave_modes[c->wave_mode],
		"wave_size", (json_int_t)c->wave_size, "wave_min", (json_int_t)c->wave_min,
		"wave_interval_ms", (json_int_t)(c->wave_interval_us / 1000),
		"admit_timeout_ms", (json_int_t)(c->admit_timeout_us / 1000),
		"cpu_target_percent", (json_int_t)(c->cpu_target * 100 + 0.5),
		"join_rate", (json_int_t)c->join_rate, "join_burst", (json_int_t)c->join_burst,
		"update_interval_ms", (json_int_t)(c->update_interval_us / 1000),
		"rejoin_grace_s", (json_int_t)(c->rejoin_grace_us / G_USEC_PER_SEC), "max_queued", (json_int_t)c->max_queued);
	json_object_set_new(node, "counts", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"active", (json_int_t)n.active, "connecting", (json_int_t)n.connecting,
		"admitted", (json_int_t)(n.active + n.connecting), "queued", (json_int_t)n.queued,
		"rejoining", (json_int_t)n.rejoining, "presenters", (json_int_t)0, "backstage", (json_int_t)0));
	json_object_set_new(node, "admission", ah_engine_admission_json(engine, NULL, NULL, now));
	return node;
}
