/* allhands: the engine's admission side (engine-private.h): rejoin tokens and the seats they hold
 * ("ghosts"), the admission work due before a request, admission events, tenants' shares and
 * rooms' presenter seats, the node settings, pause/resume/drain, and the admission figures in status.
 *
 * Pure: no Janus header, no clock (time is `now`), no logging; control thread only. The one
 * outside call is getrandom() for rejoin tokens, which must not be guessable.
 *
 * DESIGN
 * A seated attendee whose PeerConnection or handle goes away (not `leave`, not a kick) leaves the
 * engine like before, but when the node has a rejoin grace admission keeps its seat (REJOINING)
 * and the engine keeps a ghost: the token it was given at admission, the pid holding the seat and
 * the room's ids. A join that presents the token to the same room within the grace takes the seat
 * over at once (admission passes it to the new pid); so does one whose token's holder is still
 * seated (a take-over: no ghost, no `rejoining`). Ghosts are indexed by token and by pid, and
 * kept in expiry order (one grace for all), so expiry is O(1) per ghost; a ghost whose room went
 * away is dropped when its grace would have ended, since admission forgot its pid with the room.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>
#include <sys/random.h>

#include "engine-private.h"

/* --- rejoin tokens and ghosts */

static void ghost_free(gpointer data)
{
	ah_ghost *g = data;
	g_free(g->tenant);
	g_free(g->room);
	g_free(g->display);
	g_free(g);
}

void ah_engine_ghosts_init(ah_engine *engine)
{
	engine->ghosts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, ghost_free);
	engine->ghost_pids = g_hash_table_new(g_int64_hash, g_int64_equal);
	g_queue_init(&engine->ghost_order);
}

void ah_engine_ghosts_clear(ah_engine *engine)
{
	g_queue_clear(&engine->ghost_order);
	g_hash_table_destroy(engine->ghost_pids);
	g_hash_table_destroy(engine->ghosts);
}

static void ghost_drop(ah_engine *engine, ah_ghost *g)
{
	g_queue_remove(&engine->ghost_order, g);
	g_hash_table_remove(engine->ghost_pids, &g->pid);
	g_hash_table_remove(engine->ghosts, g->token); /* frees g */
}

static void new_token(char out[AH_REJOIN_TOKEN_LEN + 1])
{
	guint8 bytes[AH_REJOIN_TOKEN_LEN / 2];
	gsize got = 0;
	while (got < sizeof(bytes)) {
		ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
		if (n > 0)
			got += (gsize)n;
	}
	for (gsize i = 0; i < sizeof(bytes); i++)
		g_snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

void ah_engine_issue_token(ah_engine *engine, ah_participant *p, json_t *body)
{
	gint64 grace = ah_admission_get_config(engine->adm)->rejoin_grace_us;
	if (grace <= 0)
		return;
	new_token(p->rejoin_token);
	json_object_set_new(body, "rejoin_token", json_string(p->rejoin_token));
	json_object_set_new(body, "rejoin_grace_s", json_integer(grace / G_USEC_PER_SEC));
}

gboolean ah_engine_hold(ah_engine *engine, const ah_participant *p, gint64 now, GPtrArray *outs)
{
	ah_ghost *g;
	if (p->presenter || p->backstage || p->rejoin_token[0] == '\0' || !ah_admission_hold(engine->adm, p->id, now))
		return FALSE;
	g = g_new0(ah_ghost, 1);
	memcpy(g->token, p->rejoin_token, sizeof(g->token));
	g->pid = p->id;
	g->tenant = g_strdup(p->room->tenant->id);
	g->room = g_strdup(p->room->id);
	g->display = g_strdup(p->display);
	g->expires = now + ah_admission_get_config(engine->adm)->rejoin_grace_us;
	g_hash_table_insert(engine->ghosts, g->token, g);
	g_hash_table_insert(engine->ghost_pids, &g->pid, g);
	g_queue_push_tail(&engine->ghost_order, g);
	json_object_set_new(ah_engine_notify(outs, p->conn, "rejoining", g->tenant, g->room, p->id), "until_s",
		json_integer(ah_engine_real_s(engine, g->expires)));
	return TRUE;
}

void ah_engine_ghosts_due(ah_engine *engine, gint64 now)
{
	ah_ghost *g;
	while ((g = g_queue_peek_head(&engine->ghost_order)) != NULL && g->expires <= now &&
		ah_admission_state(engine->adm, g->pid) != AH_ADM_REJOINING)
		ghost_drop(engine, g);
}

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
	g = g_hash_table_lookup(engine->ghosts, token);
	if (g == NULL && (old = stale_holder(engine, token, room)) == NULL)
		return FALSE;
	if (g != NULL && (strcmp(g->tenant, room->tenant->id) != 0 || strcmp(g->room, room->id) != 0))
		return FALSE;
	pid = ah_engine_next_id(engine);
	if (!ah_admission_rejoin(engine->adm, g != NULL ? g->pid : old->id, pid, now)) {
		if (g != NULL)
			ghost_drop(engine, g); /* its seat is gone already (a stale holder is always seated) */
		return FALSE;
	}
	if (display == NULL)
		display = g != NULL ? g->display : old->display;
	*p = ah_engine_add_participant(engine, conn, room, FALSE, display);
	if (g != NULL) {
		ghost_drop(engine, g);
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

static void on_admitted(ah_engine *engine, const ah_adm_event *ev, gint64 now, GPtrArray *outs)
{
	ah_participant *p = ah_engine_participant_by_id(engine, ev->pid);
	json_t *body;
	if (p == NULL)
		return;
	body = ah_engine_offer_body(engine, p, "admitted");
	ah_engine_issue_token(engine, p, body);
	ah_engine_push(outs, AH_OUT_EVENT, p->conn, body, AH_JSEP_OFFER);
	ah_engine_notify(outs, p->conn, "admitted", p->room->tenant->id, p->room->id, p->id);
}

static void on_position(ah_engine *engine, const ah_adm_event *ev, gint64 now, GPtrArray *outs)
{
	ah_participant *p = ah_engine_participant_by_id(engine, ev->pid);
	if (p == NULL)
		return;
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
	ah_ghost *g = g_hash_table_lookup(engine->ghost_pids, &ev->pid);
	if (g == NULL)
		return;
	engine->counters->grace_expired++;
	json_object_set_new(ah_engine_notify(outs, 0, "left", g->tenant, g->room, g->pid), "reason",
		json_string("grace_expired"));
	ghost_drop(engine, g);
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

void ah_engine_adm_events(ah_engine *engine, GArray *events, gint64 now, GPtrArray *outs)
{
	for (guint i = 0; i < events->len; i++) {
		const ah_adm_event *ev = &g_array_index(events, ah_adm_event, i);
		if ((guint)ev->kind < G_N_ELEMENTS(adm_handlers))
			adm_handlers[ev->kind](engine, ev, now, outs);
	}
	g_array_set_size(events, 0);
}

/* --- shares and seats */

void ah_engine_apply_share(ah_engine *engine, const ah_tenant *t)
{
	ah_admission_set_tenant_share(engine->adm, t->id, t->weight, t->reserved, t->max_queued);
}

void ah_engine_apply_presenter_seats(ah_engine *engine, const ah_room *r)
{
	ah_admission_set_presenter_seats(engine->adm, r->tenant->id, r->id, r->presenter_seats);
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
		"capacity", (json_int_t)c->capacity, "wave_mode", wave_modes[c->wave_mode],
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

/* --- node requests */

const ah_param ah_set_capacity_params[] = {
	AH_PARAM_UINT("capacity", FALSE, 0, AH_CAP_MAX),
	AH_PARAM_STR("wave_mode", FALSE, 0, 16),
	AH_PARAM_UINT("wave_size", FALSE, 1, AH_WAVE_SIZE_MAX),
	AH_PARAM_UINT("wave_min", FALSE, 1, AH_WAVE_SIZE_MAX),
	AH_PARAM_UINT("wave_interval_ms", FALSE, 0, AH_WAVE_INTERVAL_MS_MAX),
	AH_PARAM_UINT("admit_timeout_ms", FALSE, AH_ADMIT_TIMEOUT_MS_MIN, AH_ADMIT_TIMEOUT_MS_MAX),
	AH_PARAM_UINT("cpu_target_percent", FALSE, 0, 100),
	AH_PARAM_UINT("join_rate", FALSE, 0, AH_JOIN_RATE_MAX),
	AH_PARAM_UINT("join_burst", FALSE, 1, AH_JOIN_RATE_MAX),
	AH_PARAM_UINT("update_interval_ms", FALSE, AH_UPDATE_INTERVAL_MS_MIN, AH_UPDATE_INTERVAL_MS_MAX),
	AH_PARAM_UINT("rejoin_grace_s", FALSE, 0, AH_REJOIN_GRACE_S_MAX),
	AH_PARAM_UINT("max_queued", FALSE, 0, AH_CAP_MAX),
	AH_PARAM_END
};

static gboolean get_uint(const json_t *message, const char *name, guint *out)
{
	const json_t *v = json_object_get(message, name);
	if (v == NULL)
		return FALSE;
	*out = (guint)json_integer_value(v);
	return TRUE;
}

ah_error ah_req_set_capacity(ah_req *req)
{
	ah_admission_config c = *ah_admission_get_config(req->engine->adm);
	const char *mode = json_string_value(json_object_get(req->message, "wave_mode"));
	guint v;
	if (mode != NULL && strcmp(mode, "fixed") != 0 && strcmp(mode, "adaptive") != 0)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (wave_mode: must be fixed or adaptive)"));
	if (mode != NULL)
		c.wave_mode = strcmp(mode, "adaptive") == 0 ? AH_WAVES_ADAPTIVE : AH_WAVES_FIXED;
	get_uint(req->message, "capacity", &c.capacity);
	get_uint(req->message, "wave_size", &c.wave_size);
	get_uint(req->message, "wave_min", &c.wave_min);
	get_uint(req->message, "join_burst", &c.join_burst);
	get_uint(req->message, "max_queued", &c.max_queued);
	if (get_uint(req->message, "wave_interval_ms", &v))
		c.wave_interval_us = (gint64)v * 1000;
	if (get_uint(req->message, "admit_timeout_ms", &v))
		c.admit_timeout_us = (gint64)v * 1000;
	if (get_uint(req->message, "cpu_target_percent", &v))
		c.cpu_target = v / 100.0;
	if (get_uint(req->message, "join_rate", &v))
		c.join_rate = v;
	if (get_uint(req->message, "update_interval_ms", &v))
		c.update_interval_us = (gint64)v * 1000;
	if (get_uint(req->message, "rejoin_grace_s", &v))
		c.rejoin_grace_us = (gint64)v * G_USEC_PER_SEC;
	if (c.wave_min > c.wave_size)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (wave_min: must not exceed wave_size)"));
	ah_admission_set_config(req->engine->adm, &c, req->now);
	req->reply = json_pack("{s:s}", "allhands", "success");
	json_object_set_new(req->reply, "node", ah_engine_node_json(req->engine, req->now));
	ah_engine_notify(req->outs, 0, "capacity_changed", NULL, NULL, 0);
	return AH_ERR_OK;
}

const ah_param ah_pause_params[] = {
	AH_PARAM_ID("tenant", FALSE),
	AH_PARAM_ID("room", FALSE),
	AH_PARAM_END
};

/* pause / resume: a room (tenant and room), or the whole node (neither; operator only). */
static ah_error set_paused(ah_req *req, gboolean paused)
{
	const char *tenant = json_string_value(json_object_get(req->message, "tenant"));
	const char *room = json_string_value(json_object_get(req->message, "room"));
	ah_room *r = NULL;
	ah_error err;
	GArray *events;
	/* A tenant names itself to authenticate: without a room it would be asking for the node. */
	if (room == NULL && req->scope != NULL)
		return ah_req_fail(req, AH_ERR_FORBIDDEN, g_strdup("forbidden (pausing the node is an operator request)"));
	if (room == NULL && tenant != NULL)
		return ah_req_fail(req, AH_ERR_MISSING_ELEMENT, g_strdup("missing element (room: with tenant, pause names a room)"));
	if (room != NULL && (err = ah_req_find_room(req, &r)) != AH_ERR_OK)
		return err;
	ah_admission_set_paused(req->engine->adm, r != NULL ? r->tenant->id : NULL, r != NULL ? r->id : NULL, paused);
	if (r != NULL) {
		ah_req_room_reply(req, r, paused ? "room_paused" : "room_resumed", FALSE);
	} else {
		if (!paused)
			ah_admission_set_draining(req->engine->adm, FALSE, NULL);
		req->reply = json_pack("{s:s, s:o}", "allhands", "success", "node", ah_engine_node_json(req->engine, req->now));
		ah_engine_notify(req->outs, 0, paused ? "node_paused" : "node_resumed", NULL, NULL, 0);
	}
	/* Resuming may make a wave due at once. */
	events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
	ah_admission_tick(req->engine->adm, req->now, events);
	ah_engine_adm_events(req->engine, events, req->now, req->outs);
	g_array_unref(events);
	return AH_ERR_OK;
}

ah_error ah_req_pause(ah_req *req)
{
	return set_paused(req, TRUE);
}

ah_error ah_req_resume(ah_req *req)
{
	return set_paused(req, FALSE);
}

ah_error ah_req_drain(ah_req *req)
{
	GArray *events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
	ah_admission_set_draining(req->engine->adm, TRUE, events);
	ah_engine_adm_events(req->engine, events, req->now, req->outs);
	g_array_unref(events);
	req->reply = json_pack("{s:s, s:o}", "allhands", "success", "node", ah_engine_node_json(req->engine, req->now));
	ah_engine_notify(req->outs, 0, "node_draining", NULL, NULL, 0);
	return AH_ERR_OK;
}
