/* allhands glue: cluster mode's seat ledger on Redis (docs/cluster.md, "Seat ledger" and "How
 * admission uses it").
 *
 * Sends what the engine asks of the ledger (include/allhands/engine.h, "Cluster mode": claims,
 * releases, caps) as the ledger's Lua scripts (plugin/redis/ledger.c builds their keys and arguments)
 * through the one Redis client (cluster.c), and hands the answers back to the engine; states this
 * node's exact share of every tenant it holds seats in (`sync`) once per heartbeat period; and
 * reclaims the seats of nodes the registry shows dead (`reclaim`), so a killed node's seats are back in
 * the cluster within the node expiry plus a heartbeat or two.
 *
 * Threads: control thread only. Nothing here waits: replies come back through cluster.c's callbacks
 * (during ah_cluster_tick) and are booked at this file's next tick, which control.c calls right after.
 *
 * Who reclaims: every node that sees a node dead, the first alive node by id does it (the others would
 * find nothing: reclaim is idempotent), once per death (again if the node comes back and dies again).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ah-config.h"

#include <string.h>

#include "debug.h"
#include "utils.h"

#include "allhands/ledger-redis.h"
#include "glue.h"

#define WORK_EVERY_US (20 * 1000)     /* claims and releases are looked for at most this often */
#define RETRY_UNREACHABLE_US (500 * 1000)

typedef struct {
	guint64 ref;
	gint64 granted;       /* < 0: none (see retry_us) */
	gint64 retry_us;
	gboolean unreachable;  /* no usable answer (unreachable, timeout, an error); FALSE with granted < 0:
			        * the tenant's ledger is rebuilding, try again at retry_us */
} answer;

static gboolean on = FALSE;
static ah_engine *engine_ref = NULL;  /* the engine control.c owns; set by start */
static ah_redis_script *scripts[AH_LEDGER__SCRIPTS];
static GArray *answers = NULL;        /* answer, booked at the next tick */
static gint64 next_work = 0, next_sync = 0;
static gboolean reconnected = FALSE;
static gboolean syncs_waiting = FALSE; /* syncs owed to tenants with claims in flight */
static const ah_registry_view *seen_view = NULL;
static GHashTable *reclaimed = NULL;  /* node id -> NULL: dead nodes already reclaimed */
static guint64 syncs_sent = 0, sync_corrections = 0, reclaims = 0, reclaimed_seats = 0;
static gint64 over_cap = 0;           /* tenant seats above its cap, the last sync that said so */

static const char *node_id(void)
{
	return ah_cluster_get_config()->node_id;
}

/* Send one ledger call (its argv is EVALSHA sha1 3 keys args: the script object sends it right). */
static gboolean send_cmd(ah_ledger_cmd *cmd, ah_cluster_reply_fn fn, gpointer user)
{
	gboolean ok = ah_cluster_call_script(scripts[cmd->script], 3, (int)cmd->argv->len - 3,
		(const char **)cmd->argv->pdata + 3, NULL, fn, user);
	ah_ledger_cmd_free(cmd);
	return ok;
}

/* The integers of a script's reply; FALSE when it is an error (*err_text) or another shape. */
static gboolean reply_ints(const ah_redis_reply *reply, gint64 *values, gsize max, gsize *n, const char **err_text)
{
	const ah_redis_value *v = reply->value;
	*err_text = NULL;
	if (reply->status != AH_REDIS_OK || v == NULL) {
		*err_text = ah_redis_status_name(reply->status);
		return FALSE;
	}
	if (v->type == AH_REDIS_ERROR) {
		*err_text = v->str;
		return FALSE;
	}
	if (v->type != AH_REDIS_ARRAY || v->n > max)
		return FALSE;
	for (gsize i = 0; i < v->n; i++) {
		if (v->elements[i] == NULL || v->elements[i]->type != AH_REDIS_INTEGER)
			return FALSE;
		values[i] = v->elements[i]->integer;
	}
	*n = v->n;
	return TRUE;
}

static void stamp(ah_ledger_stamp *s, char run_id[41])
{
	ah_cluster_connected(run_id);
	s->run_id = run_id;
	s->now_ms = janus_get_real_time() / 1000;
	s->grace_ms = ah_cluster_get_config()->node_expiry_ms;
}

/* ---- claims, releases, caps ---- */

static void claim_reply(const ah_redis_reply *reply, gpointer user, gint64 now)
{
	gint64 values[8];
	gsize n = 0;
	const char *why = NULL;
	ah_ledger_claim_reply r;
	answer a = { (guint64)GPOINTER_TO_SIZE(user), -1, RETRY_UNREACHABLE_US, FALSE };
	(void)now;
	if (reply_ints(reply, values, G_N_ELEMENTS(values), &n, &why) &&
			ah_ledger_claim_parse(values, n, &r) == AH_LEDGER_ERR_OK) {
		if (r.granted == AH_LEDGER_REBUILDING)
			a.retry_us = MAX(r.ready_at_ms - janus_get_real_time() / 1000, 50) * 1000;
		else
			a.granted = r.granted;
	} else {
		/* No answer, or an error reply: failed (a rebuilding ledger, above, is not a failure). */
		a.unreachable = TRUE;
		if (reply->status == AH_REDIS_OK)
			JANUS_LOG(LOG_WARN, "allhands: cluster: a seat claim failed: %s\n", why != NULL ? why : "bad reply");
	}
	g_array_append_val(answers, a);
}

static void claim(const ah_ledger_req *req)
{
	char run_id[41];
	ah_ledger_stamp st;
	ah_ledger_error err = AH_LEDGER_ERR_OK;
	stamp(&st, run_id);
	/* This node holds seats in the tenant: say so first, so a reclaim finds them if it dies. */
	char *set = ah_ledger_key_node_tenants(node_id());
	const char *sadd[] = { "SADD", set, req->tenant };
	ah_cluster_call(3, sadd, NULL, NULL, NULL);
	g_free(set);
	ah_ledger_cmd *cmd = ah_ledger_claim_cmd(req->tenant, req->room, node_id(), req->n, &st, &err);
	gboolean sent = cmd != NULL && send_cmd(cmd, claim_reply, GSIZE_TO_POINTER((gsize)req->ref));
	if (!sent) {
		/* Not sent (queue full, or an empty run_id before the first connection): no seat. */
		answer a = { req->ref, -1, RETRY_UNREACHABLE_US, TRUE };
		g_array_append_val(answers, a);
	}
}

static void release(const ah_ledger_req *req)
{
	ah_ledger_error err = AH_LEDGER_ERR_OK;
	ah_ledger_cmd *cmd = ah_ledger_release_cmd(req->tenant, req->room, node_id(), req->n, &err);
	/* A lost release is healed by the next sync. */
	if (cmd != NULL)
		send_cmd(cmd, NULL, NULL);
}

static void write_cap(const ah_ledger_req *req)
{
	char *key = ah_ledger_key_caps(req->tenant);
	char *field = req->room != NULL ? ah_ledger_field_room(req->room) : g_strdup("tenant");
	char value[24];
	if (key != NULL && field != NULL) {
		g_snprintf(value, sizeof(value), "%" G_GINT64_FORMAT, req->n);
		const char *set[] = { "HSET", key, field, value };
		const char *del[] = { "HDEL", key, field };
		if (req->n >= 0)
			ah_cluster_call(4, set, NULL, NULL, NULL);
		else
			ah_cluster_call(3, del, NULL, NULL, NULL);
	}
	g_free(key);
	g_free(field);
}

/* ---- syncs ---- */

static void sync_reply(const ah_redis_reply *reply, gpointer user, gint64 now)
{
	gint64 values[8];
	gsize n = 0;
	const char *why = NULL;
	ah_ledger_sync_reply r;
	char *tenant = user;
	(void)now;
	if (reply_ints(reply, values, G_N_ELEMENTS(values), &n, &why) &&
			ah_ledger_sync_parse(values, n, &r) == AH_LEDGER_ERR_OK) {
		sync_corrections += (guint64)r.corrected;
		if (r.tenant_over > 0 || r.rooms_over > 0)
			JANUS_LOG(LOG_WARN, "allhands: cluster: tenant %s holds %" G_GINT64_FORMAT " seat(s) above its cap "
				"and %" G_GINT64_FORMAT " room(s) above theirs across the cluster (after a partition or a lost "
				"write): no seat is granted until they are back under\n", tenant, r.tenant_over, r.rooms_over);
		over_cap = r.tenant_over;
	}
	g_free(tenant);
}

/* The syncs owed and ready; TRUE when some wait for a claim's answer. */
static gboolean send_syncs(void)
{
	GPtrArray *syncs = g_ptr_array_new_with_free_func(ah_ledger_sync_free);
	char run_id[41];
	ah_ledger_stamp st;
	stamp(&st, run_id);
	guint waiting = ah_engine_ledger_syncs(engine_ref, syncs);
	for (guint i = 0; i < syncs->len; i++) {
		ah_ledger_sync *s = g_ptr_array_index(syncs, i);
		ah_ledger_room_count *counts = g_new0(ah_ledger_room_count, MAX(s->rooms->len, 1));
		ah_ledger_error err = AH_LEDGER_ERR_OK;
		for (guint k = 0; k < s->rooms->len; k++) {
			counts[k].room = g_array_index(s->rooms, ah_ledger_room_share, k).room;
			counts[k].count = g_array_index(s->rooms, ah_ledger_room_share, k).seats;
		}
		ah_ledger_cmd *cmd = ah_ledger_sync_cmd(s->tenant, node_id(), &st, s->stage, counts, s->rooms->len, &err);
		if (cmd != NULL) {
			char *tenant = g_strdup(s->tenant);
			if (send_cmd(cmd, sync_reply, tenant))
				syncs_sent++;
			else
				g_free(tenant);
		}
		g_free(counts);
	}
	g_ptr_array_unref(syncs);
	return waiting > 0;
}

/* ---- reclaiming dead nodes' seats ---- */

typedef struct {
	char *node;
	gint64 dead_ms; /* the node's age when its death was seen */
} reclaim_job;

static void reclaim_reply(const ah_redis_reply *reply, gpointer user, gint64 now)
{
	gint64 values[4];
	gsize n = 0;
	const char *why = NULL;
	ah_ledger_reclaim_reply r;
	char *what = user;
	(void)now;
	if (reply_ints(reply, values, G_N_ELEMENTS(values), &n, &why) &&
			ah_ledger_reclaim_parse(values, n, &r) == AH_LEDGER_ERR_OK) {
		reclaimed_seats += (guint64)r.released;
		if (r.released > 0)
			JANUS_LOG(LOG_INFO, "allhands: cluster: reclaimed %" G_GINT64_FORMAT " seat(s) of %s\n", r.released, what);
	} else {
		JANUS_LOG(LOG_WARN, "allhands: cluster: reclaim of %s failed: %s\n", what, why != NULL ? why : "bad reply");
	}
	g_free(what);
}

static void tenants_reply(const ah_redis_reply *reply, gpointer user, gint64 now)
{
	char *node = user;
	const ah_redis_value *v = reply->value;
	(void)now;
	if (reply->status == AH_REDIS_OK && v != NULL && v->type == AH_REDIS_ARRAY) {
		char *set = ah_ledger_key_node_tenants(node);
		for (gsize i = 0; i < v->n; i++) {
			const ah_redis_value *t = v->elements[i];
			ah_ledger_error err = AH_LEDGER_ERR_OK;
			if (t == NULL || t->type != AH_REDIS_STRING)
				continue;
			ah_ledger_cmd *cmd = ah_ledger_reclaim_cmd(t->str, node, &err);
			if (cmd == NULL)
				continue;
			send_cmd(cmd, reclaim_reply, g_strdup_printf("node %s in tenant %s", node, t->str));
			/* Forget the tenant in the dead node's set after its reclaim (same connection: in order). */
			const char *srem[] = { "SREM", set, t->str };
			ah_cluster_call(3, srem, NULL, NULL, NULL);
		}
		g_free(set);
		reclaims++;
	} else {
		/* Try again with the next view. */
		g_hash_table_remove(reclaimed, node);
	}
	g_free(node);
}

static void look_for_dead(void)
{
	const ah_registry_view *view = ah_cluster_view();
	const char *first_alive = NULL;
	if (view == NULL || view == seen_view)
		return;
	seen_view = view;
	for (guint i = 0; i < view->nodes->len; i++) {
		const ah_registry_node *n = g_ptr_array_index(view->nodes, i);
		if (n->alive && (first_alive == NULL || strcmp(n->id, first_alive) < 0))
			first_alive = n->id;
		if (n->alive)
			g_hash_table_remove(reclaimed, n->id);
	}
	if (first_alive == NULL || strcmp(first_alive, node_id()) != 0)
		return;
	for (guint i = 0; i < view->nodes->len; i++) {
		const ah_registry_node *n = g_ptr_array_index(view->nodes, i);
		if (n->alive || strcmp(n->id, node_id()) == 0 || g_hash_table_contains(reclaimed, n->id))
			continue;
		char *set = ah_ledger_key_node_tenants(n->id);
		if (set == NULL)
			continue;
		const char *smembers[] = { "SMEMBERS", set };
		g_hash_table_add(reclaimed, g_strdup(n->id));
		JANUS_LOG(LOG_INFO, "allhands: cluster: node %s is dead (%" G_GINT64_FORMAT " ms since its heartbeat): "
			"reclaiming its seats\n", n->id, n->age_ms);
		if (!ah_cluster_call(2, smembers, NULL, tenants_reply, g_strdup(n->id)))
			g_hash_table_remove(reclaimed, n->id);
		g_free(set);
	}
}

/* ---- the control thread's calls ---- */

static void on_connected(const char *run_id, gpointer user, gint64 now)
{
	(void)run_id;
	(void)user;
	(void)now;
	reconnected = TRUE;
}

void ah_cluster_ledger_start(ah_engine *engine)
{
	if (!ah_cluster_on() || on)
		return;
	for (int i = 0; i < AH_LEDGER__SCRIPTS; i++)
		scripts[i] = ah_redis_script_new(ah_ledger_script_source((ah_ledger_script)i));
	answers = g_array_new(FALSE, FALSE, sizeof(answer));
	reclaimed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	engine_ref = engine;
	ah_engine_ledger_start(engine);
	ah_cluster_on_connected(on_connected, NULL);
	on = TRUE;
}

void ah_cluster_ledger_stop(void)
{
	if (!on)
		return;
	on = FALSE;
	for (int i = 0; i < AH_LEDGER__SCRIPTS; i++)
		g_clear_pointer(&scripts[i], ah_redis_script_unref);
	g_clear_pointer(&answers, g_array_unref);
	g_clear_pointer(&reclaimed, g_hash_table_destroy);
	engine_ref = NULL;
	seen_view = NULL;
}

void ah_cluster_ledger_tick(ah_engine *engine, gint64 now, GPtrArray *outs)
{
	GArray *reqs;
	if (!on)
		return;
	reqs = g_array_new(FALSE, FALSE, sizeof(ah_ledger_req));
	g_array_set_clear_func(reqs, ah_ledger_req_clear);
	gboolean connected = ah_cluster_connected(NULL);
	if (reconnected && connected) {
		reconnected = FALSE;
		ah_engine_ledger_reconnected(engine, now);
		next_sync = now; /* state our seats at once: Redis may have come back empty */
	}
	for (guint i = 0; i < answers->len; i++) {
		answer *a = &g_array_index(answers, answer, i);
		ah_engine_ledger_answer(engine, a->ref, a->granted, a->retry_us, a->unreachable, now, outs, reqs);
	}
	gboolean answered = answers->len > 0;
	g_array_set_size(answers, 0);
	if (answered || now >= next_work) {
		next_work = now + WORK_EVERY_US;
		ah_engine_ledger_work(engine, now, connected, reqs);
	}
	for (guint i = 0; i < reqs->len; i++) {
		const ah_ledger_req *r = &g_array_index(reqs, ah_ledger_req, i);
		if (r->kind == AH_LEDGER_REQ_CLAIM)
			claim(r);
		else if (!connected)
			continue; /* the next sync states the truth */
		else if (r->kind == AH_LEDGER_REQ_RELEASE)
			release(r);
		else
			write_cap(r);
	}
	g_array_unref(reqs);
	if (ah_engine_ledger_take_sync_soon(engine))
		syncs_waiting = TRUE;
	if (connected && now >= next_sync) {
		next_sync = now + (gint64)ah_cluster_get_config()->heartbeat_ms * 1000;
		ah_engine_ledger_sync_due(engine);
		syncs_waiting = TRUE;
	}
	/* Syncs owed go out as soon as their tenants have no claim in flight (at the latest at the next
	 * work tick after the answers). */
	if (connected && syncs_waiting)
		syncs_waiting = send_syncs();
	if (connected)
		look_for_dead();
}

gint64 ah_cluster_ledger_next_deadline(void)
{
	ah_ledger_figures f;
	if (!on)
		return G_MAXINT64;
	/* Every 20 ms only while something waits for the ledger (a back-off, a claim to retry). */
	ah_engine_ledger_figures(engine_ref, &f);
	return f.busy || syncs_waiting ? MIN(next_work, next_sync) : next_sync;
}

void ah_cluster_ledger_metrics(ah_metrics_input *in)
{
	ah_ledger_figures f;
	if (!on)
		return;
	ah_engine_ledger_figures(engine_ref, &f);
	in->ledger_claims = f.claims;
	in->ledger_claims_granted = f.claims_granted;
	in->ledger_granted = f.granted;
	in->ledger_denied = f.denied;
	in->ledger_failed = f.failed;
	in->ledger_released = f.released;
	in->ledger_reclaimed = reclaimed_seats;
	in->ledger_in_flight = f.claims_in_flight;
	in->ledger_presenters_waiting = f.presenters_waiting;
	in->ledger_over_cap = over_cap;
}

json_t *ah_cluster_ledger_status(void)
{
	ah_ledger_figures f;
	if (!on)
		return NULL;
	ah_engine_ledger_figures(engine_ref, &f);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"claims", (json_int_t)f.claims, "seats_granted", (json_int_t)f.granted,
		"claims_rebuilding", (json_int_t)f.rebuilding,
		"claims_denied", (json_int_t)f.denied, "claims_failed", (json_int_t)f.failed,
		"seats_released", (json_int_t)f.released, "claims_in_flight", (json_int_t)f.claims_in_flight,
		"presenters_waiting", (json_int_t)f.presenters_waiting, "syncs", (json_int_t)syncs_sent,
		"sync_corrections", (json_int_t)sync_corrections, "reclaims", (json_int_t)reclaims,
		"seats_reclaimed", (json_int_t)reclaimed_seats, "over_cap", (json_int_t)over_cap);
}
