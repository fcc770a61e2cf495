/* allhands: the `join` request (docs/api.md): the room's token policy and the token, then the
 * participant type it allows, then each type's own join: attendees through admission (at once,
 * queued, or refused with queue_full / draining, which changes nothing and loses nobody's
 * events; a rejoin token takes a held seat back, or takes a still seated one over),
 * presenters and backstage monitors onto a tenant seat. requests.c's table dispatches here; it
 * calls requests-schedule.c (a closed room), requests-common.c and the engine. Pure: no Janus, no
 * clock, no logging; control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "requests-private.h"
#include "allhands/token.h"

/* Seat a presenter or backstage monitor on a tenant seat (FALSE: none free). */
static ah_error seat(ah_engine *e, guint64 conn, ah_room *room, gboolean backstage, const char *display,
	GPtrArray *outs, ah_participant **joined)
{
	if (!ah_admission_add_presenter(e->adm, ah_engine_next_id(e), room->tenant->id, room->id))
		return AH_ERR_TENANT_FULL;
	*joined = ah_engine_add_participant(e, conn, room, !backstage, display);
	(*joined)->backstage = backstage;
	json_object_set_new(ah_engine_notify(outs, conn, "joined", room->tenant->id, room->id, (*joined)->id),
		"ptype", json_string(backstage ? "backstage" : "presenter"));
	return AH_ERR_OK;
}

/* The answer to a seated presenter (joined, with the room's presenters) or backstage monitor (an
 * offer: it receives at once). */
static json_t *seated_reply(ah_engine *e, ah_participant *p, ah_jsep_kind *jsep, GPtrArray *outs)
{
	ah_room *room = p->room;
	if (p->backstage) {
		*jsep = AH_JSEP_OFFER;
		ah_engine_notify(outs, p->conn, "admitted", room->tenant->id, room->id, p->id);
		return ah_engine_offer_body(e, p, "admitted");
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "allhands", "event", "event", "joined",
		"tenant", room->tenant->id, "room", room->id, "id", (json_int_t)p->id,
		"presenters", ah_engine_presenters_json(e, room));
}

/* home_unavailable and tickets_full: when to try again. */
#define AH_HOME_RETRY_MS 2000

/* The presenter secret (without a token or ticket), through the room's failure throttle. */
static ah_error presenter_credentials(ah_req *req, ah_room *room)
{
	ah_error err;
	if (req->token != NULL)
		return AH_ERR_OK;
	if ((err = ah_req_guard(req, &room->failures, AH_FAIL_ROOM)) != AH_ERR_OK)
		return err;
	if (!ah_validate_secret_equal(ah_req_string(req, "presenter_secret"), room->presenter_secret)) {
		ah_req_failed(req, &room->failures, AH_FAIL_ROOM);
		return AH_ERR_WRONG_SECRET;
	}
	return AH_ERR_OK;
}

/* Presenters and backstage monitors: the presenter secret, then the schedule, then a tenant seat. */
static ah_error join_seat(ah_req *req, ah_room *room, gboolean backstage, ah_participant **joined)
{
	ah_engine *e = req->engine;
	ah_error err;
	if ((err = presenter_credentials(req, room)) != AH_ERR_OK)
		return err;
	if ((err = ah_req_join_allowed(req, room)) != AH_ERR_OK)
		return err;
	/* Cluster mode without a stage seat in hand: the join waits for a claim, answered later
	 * (ah_engine_ledger_answer). Anything else that would refuse it was checked above. */
	if (ah_admission_limited(e->adm) && !ah_admission_stage_free(e->adm, room->tenant->id) &&
			ah_engine_ledger_on(e)) {
		ah_engine_ledger_wait_stage(e, req->conn, room, backstage, ah_req_string(req, "display"), req->now);
		req->deferred = TRUE;
		*joined = NULL;
		return AH_ERR_OK;
	}
	return seat(e, req->conn, room, backstage, ah_req_string(req, "display"), req->outs, joined);
}

static ah_error join_stage(ah_req *req, ah_room *room, gboolean backstage)
{
	ah_participant *p;
	ah_error err = join_seat(req, room, backstage, &p);
	if (err != AH_ERR_OK || p == NULL)
		return err;
	req->reply = seated_reply(req->engine, p, &req->jsep, req->outs);
	return AH_ERR_OK;
}

static ah_error join_presenter(ah_req *req, ah_room *room)
{
	return join_stage(req, room, FALSE);
}

/* A backstage monitor is admitted at once, whatever the room's phase (docs/api.md). */
static ah_error join_backstage(ah_req *req, ah_room *room)
{
	return join_stage(req, room, TRUE);
}

void ah_engine_ledger_answer(ah_engine *engine, guint64 ref, gint64 granted, gint64 retry_after_us,
	gboolean unreachable, gint64 now, GPtrArray *outs, GArray *reqs)
{
	const char *tenant = ah_engine_ledger_book(engine, ref, granted, retry_after_us, unreachable, now, reqs);
	ah_ledger_waiter *w;
	char *id;
	if (tenant == NULL)
		return;
	/* The tenant's ledger is rebuilding (after Redis lost data): the presenters keep waiting; their
	 * claim is sent again at the grace's end. */
	if (granted < 0 && !unreachable)
		return;
	id = g_strdup(tenant);
	/* Seat the waiting presenters the stage seats allow, in their order; refuse the others when the
	 * claim found the caps full or got no answer (they may try again). */
	while (ah_admission_stage_free(engine->adm, id) || granted <= 0) {
		if ((w = ah_engine_ledger_next_waiter(engine, id)) == NULL)
			break;
		ah_room *room = ah_engine_room(engine, w->tenant, w->room);
		ah_participant *p = NULL;
		ah_error err = room == NULL ? AH_ERR_NO_SUCH_ROOM
			: granted < 0 ? AH_ERR_CLUSTER_UNAVAILABLE
			: granted <= 0 ? AH_ERR_TENANT_FULL
			: seat(engine, w->conn, room, w->backstage, w->display, outs, &p);
		ah_jsep_kind jsep = AH_JSEP_NONE;
		json_t *body;
		if (err == AH_ERR_OK) {
			body = seated_reply(engine, p, &jsep, outs);
		} else {
			body = ah_engine_error_body(err, NULL);
			if (err == AH_ERR_CLUSTER_UNAVAILABLE)
				json_object_set_new(body, "retry_after_ms", json_integer(MAX(retry_after_us, 0) / 1000));
		}
		ah_engine_push(outs, AH_OUT_REPLY, w->conn, body, jsep);
		ah_engine_ledger_waiter_free(w);
	}
	g_free(id);
	ah_engine_flush(engine, outs);
}

/* The admitted reply: an offer, and a rejoin token when there is a grace. */
static void admitted_reply(ah_req *req, ah_participant *p)
{
	req->reply = ah_engine_offer_body(req->engine, p, "admitted");
	ah_engine_issue_token(req->engine, p, req->reply, req->now);
	req->jsep = AH_JSEP_OFFER;
	ah_engine_notify(req->outs, req->conn, "admitted", p->room->tenant->id, p->room->id, p->id);
}

/* queue_full and draining: nothing was kept; the error says when or where to try again. */
static ah_error refused(ah_req *req, ah_adm_state state, const ah_adm_join *out)
{
	if (state == AH_ADM_REFUSED_DRAINING) {
		req->error_extra = json_pack("{s:b}", "retry_elsewhere", 1);
		return AH_ERR_DRAINING;
	}
	if (state == AH_ADM_REFUSED_QUEUE_FULL) {
		req->error_extra = json_pack("{s:I}", "retry_after_ms", (json_int_t)(out->retry_after_us / 1000));
		return AH_ERR_QUEUE_FULL;
	}
	return ah_req_fail(req, AH_ERR_INTERNAL, g_strdup("internal error (admission refused a new attendee)"));
}

/* An attendee's pin and priority_secret (without a token), through the room's failure throttle:
 * over its limit (or the session's) neither is compared. */
static ah_error attendee_credentials(ah_req *req, ah_room *room, const char *priority)
{
	ah_error err;
	gboolean pin = req->token == NULL && room->pin != NULL;
	if (!pin && priority == NULL)
		return AH_ERR_OK;
	if ((err = ah_req_guard(req, &room->failures, AH_FAIL_ROOM)) != AH_ERR_OK)
		return err;
	if (pin && !ah_validate_secret_equal(ah_req_string(req, "pin"), room->pin))
		err = AH_ERR_WRONG_PIN;
	else if (priority != NULL && (room->priority_secret == NULL || !ah_validate_secret_equal(priority, room->priority_secret)))
		err = ah_req_fail(req, AH_ERR_WRONG_SECRET, g_strdup("wrong secret (priority_secret)"));
	if (err != AH_ERR_OK)
		ah_req_failed(req, &room->failures, AH_FAIL_ROOM);
	return err;
}

/* A rejoin token: this node's part (the first AH_REJOIN_TOKEN_LEN characters) and, in cluster mode,
 * the rejoin ticket after a dot (*ticket, NULL when none). */
static void rejoin_parts(const char *token, char local[AH_REJOIN_TOKEN_LEN + 1], const char **ticket)
{
	gsize len = token != NULL ? strlen(token) : 0;
	*ticket = NULL;
	local[0] = '\0';
	if (token == NULL || (len != AH_REJOIN_TOKEN_LEN && (len <= AH_REJOIN_TOKEN_LEN + 1 || token[AH_REJOIN_TOKEN_LEN] != '.'))) {
		g_strlcpy(local, token != NULL ? token : "", AH_REJOIN_TOKEN_LEN + 1);
		return;
	}
	memcpy(local, token, AH_REJOIN_TOKEN_LEN);
	local[AH_REJOIN_TOKEN_LEN] = '\0';
	if (len > AH_REJOIN_TOKEN_LEN)
		*ticket = token + AH_REJOIN_TOKEN_LEN + 1;
}

/* Cluster mode: the join carries the rejoin token of an attendee seated by a node that died since,
 * for this room: it stands for the credentials that node checked, and for a place in the priority
 * class (docs/cluster.md, "Rejoining after a node died"). `take`: remember it (one time here). */
static gboolean rejoin_from_dead_node(ah_req *req, ah_room *room, gboolean take)
{
	char local[AH_REJOIN_TOKEN_LEN + 1], *why = NULL;
	const char *ticket;
	ah_ticket t;
	if (!ah_engine_clustered(req->engine) || !ah_req_has(req, "rejoin_token"))
		return FALSE;
	rejoin_parts(ah_req_string(req, "rejoin_token"), local, &ticket);
	if (ticket == NULL)
		return FALSE;
	ah_error err = ah_engine_rejoin_ticket_check(req->engine, ticket, room, take, req->now, &t, &why);
	g_free(why);
	return err == AH_ERR_OK;
}

static ah_error join_attendee(ah_req *req, ah_room *room)
{
	ah_engine *e = req->engine;
	/* With a token its role alone decides the class; pin and priority_secret are not looked at. */
	const char *priority = req->token == NULL ? ah_req_string(req, "priority_secret") : NULL;
	gboolean priority_class = req->token != NULL ? req->token->role == AH_ROLE_PRIORITY : priority != NULL;
	gboolean from_dead = req->token == NULL && rejoin_from_dead_node(req, room, FALSE);
	char local[AH_REJOIN_TOKEN_LEN + 1];
	const char *rejoin_ticket;
	GArray *events;
	ah_participant *p;
	ah_adm_state state;
	ah_adm_join out;
	ah_error err;
	if (!from_dead && (err = attendee_credentials(req, room, priority)) != AH_ERR_OK)
		return err;
	if ((err = ah_req_join_allowed(req, room)) != AH_ERR_OK)
		return err;
	rejoin_parts(ah_req_has(req, "rejoin_token") ? ah_req_string(req, "rejoin_token") : NULL, local, &rejoin_ticket);
	/* A rejoin within the grace takes its seat back at once. */
	if (ah_req_has(req, "rejoin_token")) {
		if (ah_engine_rejoin(e, local, room, req->conn, ah_req_string(req, "display"), req->now,
				req->outs, &p)) {
			json_object_set_new(ah_engine_notify(req->outs, req->conn, "joined", room->tenant->id, room->id, p->id),
				"ptype", json_string("attendee"));
			admitted_reply(req, p);
			json_object_set_new(req->reply, "rejoined", json_true());
			return AH_ERR_OK;
		}
	}
	/* Seated by a node that died: a place in the priority class here (one time). */
	if (from_dead && rejoin_from_dead_node(req, room, TRUE))
		priority_class = TRUE;
	else
		from_dead = FALSE;
	/* One Janus session cannot hold more than its share of the queue (docs/security.md). */
	if (ah_engine_session_queue_full(e, req->conn))
		return ah_req_fail(req, AH_ERR_TOO_MANY_QUEUED, g_strdup_printf("too many queued (this Janus session already "
			"holds %u queued joins: wait for one to be admitted or leave)", e->max_queued_per_session));
	events = g_array_new(FALSE, FALSE, sizeof(ah_adm_event));
	state = ah_admission_join_class(e->adm, ah_engine_next_id(e), room->tenant->id, room->id,
		priority_class ? AH_ADM_PRIORITY : AH_ADM_ORDINARY, req->now, &out, events);
	if (state != AH_ADM_CONNECTING && state != AH_ADM_QUEUED) {
		/* The refusal kept nothing, but the work join() found due was done: its events stand. */
		ah_engine_adm_events(e, events, req->now, req->outs);
		req->kept = req->outs->len;
		g_array_unref(events);
		return refused(req, state, &out);
	}
	p = ah_engine_add_participant(e, req->conn, room, FALSE, ah_req_string(req, "display"));
	json_object_set_new(ah_engine_notify(req->outs, req->conn, "joined", room->tenant->id, room->id, p->id),
		"ptype", json_string("attendee"));
	/* Its subject goes with it to an edge's seat ticket. */
	if (req->token != NULL && req->token->sub[0] != '\0')
		p->sub = g_strdup(req->token->sub);
	if (state == AH_ADM_CONNECTING && ah_engine_seat_elsewhere(e, p, req->now, req->outs, &req->reply)) {
		p = NULL; /* served on an edge: the reply is its redirect */
	} else if (state == AH_ADM_CONNECTING) {
		admitted_reply(req, p);
	} else {
		p->position = out.position;
		req->reply = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "allhands", "event", "event", "queued",
			"tenant", room->tenant->id, "room", room->id, "id", (json_int_t)p->id, "position", (json_int_t)out.position,
			"queue_length", (json_int_t)out.queue_length, "wait", ah_engine_wait_json(&out.estimate));
		/* The pre-queue: the countdown runs to starts_at. */
		if (room->status.phase == AH_PHASE_LOBBY) {
			json_object_set_new(req->reply, "state", json_string("lobby"));
			json_object_set_new(req->reply, "starts_at", json_integer(room->status.occurrence.start));
		}
	}
	if (ah_req_has(req, "rejoin_token"))
		json_object_set_new(req->reply, "rejoined", json_false());
	if (from_dead)
		json_object_set_new(req->reply, "rejoined_from", json_string("dead_node"));
	/* join() also ran the admission work due at `now` (timeouts, a wave) for others (none when
	 * the request came through the dispatcher, which ran it first). */
	ah_engine_adm_events(e, events, req->now, req->outs);
	g_array_unref(events);
	return AH_ERR_OK;
}

static const struct {
	const char *name;
	ah_error (*join)(ah_req *req, ah_room *room);
} ptypes[] = {
	{ "attendee", join_attendee },
	{ "presenter", join_presenter },
	{ "backstage", join_backstage },
};

/* The room's token policy, then the token: on success req->token points at its claims. */
static ah_error join_token(ah_req *req, ah_room *room)
{
	const char *keys[2];
	guint n;
	ah_error err;
	if (!ah_req_has(req, "token")) {
		if (room->tokens == AH_TOKENS_REQUIRED)
			return AH_ERR_TOKEN_REQUIRED;
		return AH_ERR_OK;
	}
	if (room->tokens == AH_TOKENS_OFF)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (token: tokens are off for this room)"));
	/* A token cannot be guessed (256-bit keys): the session alone throttles bad ones, so that nobody
	 * can lock a tenant's token holders out; the tenant counts them (status). */
	if ((err = ah_req_guard(req, NULL, AH_FAIL_SESSION)) != AH_ERR_OK)
		return err;
	n = ah_engine_tenant_keys(req->engine, room->tenant, req->now, keys);
	err = ah_token_verify(ah_req_string(req, "token"), keys, n, ah_engine_real_s(req->engine, req->now),
		room->tenant->id, room->id, &req->claims);
	if (err == AH_ERR_OK) {
		req->token = &req->claims;
	} else {
		ah_req_failed(req, NULL, AH_FAIL_SESSION);
		room->tenant->token_failures++;
	}
	return err;
}

/* The ptype a token allows: a presenter token any (default presenter), the others attendee only. */
static ah_error token_ptype(ah_req *req, const char *ptype, int *kind)
{
	if (req->token->role == AH_ROLE_PRESENTER) {
		if (ptype == NULL)
			*kind = 1;
		return AH_ERR_OK;
	}
	if (*kind != 0)
		return ah_req_fail(req, AH_ERR_FORBIDDEN, g_strdup_printf("forbidden (ptype %s: the join token's role is %s)",
			ptype, ah_token_role_name(req->token->role)));
	return AH_ERR_OK;
}

/* Cluster mode, a room whose home is another node (docs/cluster.md, "Placement and redirects"):
 * the credentials are checked here, then the answer is a redirect with a ticket that proves them
 * to the home node. Nothing is joined on this node. */
static ah_error redirect(ah_req *req, ah_room *room, int kind)
{
	const char *home_id = ah_engine_room_elsewhere(req->engine, room);
	const ah_place_node *home = ah_engine_place_node(req->engine, home_id);
	const char *priority = req->token == NULL ? ah_req_string(req, "priority_secret") : NULL;
	gboolean priority_class = req->token != NULL ? req->token->role == AH_ROLE_PRIORITY : priority != NULL;
	char *ticket;
	/* An attendee seated by a node that died: its rejoin token stands for its credentials, and it
	 * keeps a priority place (the ticket says so to the serving node). */
	gboolean from_dead = kind == 0 && req->token == NULL && rejoin_from_dead_node(req, room, FALSE);
	ah_error err = from_dead ? AH_ERR_OK : kind == 0 ? attendee_credentials(req, room, priority) :
		presenter_credentials(req, room);
	if (err != AH_ERR_OK)
		return err;
	priority_class = priority_class || from_dead;
	if (home == NULL || !home->alive) {
		req->error_extra = json_pack("{s:I, s:s}", "retry_after_ms", (json_int_t)AH_HOME_RETRY_MS, "node", home_id);
		return ah_req_fail(req, AH_ERR_HOME_UNAVAILABLE, g_strdup_printf("home unavailable (the room's home node %s is "
			"%s in this node's view of the cluster: try again after retry_after_ms)", home_id,
			home == NULL ? "not known" : "not alive"));
	}
	ticket = ah_engine_ticket_issue(req->engine, room, (ah_ticket_ptype)kind, priority_class,
		req->token != NULL ? req->token->sub : NULL, req->now);
	if (ticket == NULL)
		return ah_req_fail(req, AH_ERR_INTERNAL, g_strdup("internal error (no redirect ticket could be made)"));
	req->reply = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "allhands", "event", "event", "redirect",
		"tenant", room->tenant->id, "room", room->id, "ptype", ptypes[kind].name, "node", home->id, "url", home->url,
		"ticket", ticket, "expires_in_s", (json_int_t)AH_TICKET_TTL_S);
	g_free(ticket);
	return AH_ERR_OK;
}

/* A join with a redirect's ticket, on the home node: the ticket stands for the credentials (and the
 * token) the issuing node checked; its participant type and class are the ticket's. On success
 * req->token points at claims made from it, so the rest of the join treats it as a token. */
static ah_error join_ticket(ah_req *req, ah_room *room, const char *ptype, int *kind, ah_ticket *taken)
{
	char *why = NULL;
	ah_error err;
	if ((err = ah_req_guard(req, NULL, AH_FAIL_SESSION)) != AH_ERR_OK)
		return err;
	err = ah_engine_ticket_take(req->engine, ah_req_string(req, "ticket"), room, ptype, req->now, taken, &why);
	if (err != AH_ERR_OK) {
		if (err != AH_ERR_TICKETS_FULL)
			ah_req_failed(req, NULL, AH_FAIL_SESSION);
		else
			req->error_extra = json_pack("{s:I}", "retry_after_ms", (json_int_t)AH_HOME_RETRY_MS);
		return ah_req_fail(req, err, why);
	}
	*kind = (int)taken->ptype;
	memset(&req->claims, 0, sizeof(req->claims));
	g_strlcpy(req->claims.tenant, taken->tenant, sizeof(req->claims.tenant));
	g_strlcpy(req->claims.room, taken->room, sizeof(req->claims.room));
	g_strlcpy(req->claims.sub, taken->sub, sizeof(req->claims.sub));
	req->claims.role = taken->ptype != AH_TICKET_ATTENDEE ? AH_ROLE_PRESENTER :
		taken->priority ? AH_ROLE_PRIORITY : AH_ROLE_ATTENDEE;
	req->claims.exp = taken->exp;
	req->token = &req->claims;
	return AH_ERR_OK;
}

ah_error ah_req_join(ah_req *req)
{
	const char *ptype = ah_req_string(req, "ptype");
	ah_participant *p;
	ah_room *room;
	ah_error err;
	ah_ticket taken;
	gboolean ticket = ah_req_has(req, "ticket");
	int kind = ptype == NULL ? 0 : -1, layer;
	if (ah_engine_participant(req->engine, req->conn) != NULL)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (this handle already joined)"));
	if ((err = ah_req_layer(req, "layer", &layer)) != AH_ERR_OK)
		return err;
	for (guint i = 0; kind < 0 && i < G_N_ELEMENTS(ptypes); i++)
		if (strcmp(ptype, ptypes[i].name) == 0)
			kind = i;
	if (kind < 0)
		return ah_req_fail(req, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (ptype: must be attendee, presenter or backstage)"));
	if (ah_engine_tenant(req->engine, ah_req_string(req, "tenant")) == NULL)
		return AH_ERR_NO_SUCH_TENANT;
	room = ah_engine_room(req->engine, ah_req_string(req, "tenant"), ah_req_string(req, "room"));
	if (room == NULL)
		return AH_ERR_NO_SUCH_ROOM;
	if (ticket && (err = join_ticket(req, room, ptype, &kind, &taken)) != AH_ERR_OK)
		return err;
	if (!ticket && (err = join_token(req, room)) != AH_ERR_OK)
		return err;
	if (!ticket && req->token != NULL && (err = token_ptype(req, ptype, &kind)) != AH_ERR_OK)
		return err;
	/* Cluster mode: a room at home elsewhere is a redirect (a ticket's join is for this node). */
	if (!ticket && ah_engine_room_elsewhere(req->engine, room) != NULL) {
		err = redirect(req, room, kind);
		req->token = NULL;
		return err;
	}
	err = ptypes[kind].join(req, room);
	/* Refused, nothing kept: the ticket may be used again while it lasts. */
	if (ticket && err != AH_ERR_OK)
		ah_engine_ticket_untake(req->engine, &taken);
	p = ah_engine_participant(req->engine, req->conn);
	if (err == AH_ERR_OK && req->token != NULL && p != NULL && p->sub == NULL && req->token->sub[0] != '\0')
		p->sub = g_strdup(req->token->sub);
	/* Set in the same entry point as the join, so the first ROUTES already carry it. */
	if (err == AH_ERR_OK && p != NULL && layer >= 0)
		p->layer = layer;
	req->token = NULL;
	return err;
}

