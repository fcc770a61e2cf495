/* allhands: scenario tests of cluster mode's seat ledger on the engine's side (plugin/core/engine-ledger.c,
 * admission-ledger.c, the deferred presenter join in requests-join.c): what the engine asks of the ledger
 * (claims, releases, caps, syncs) and what it does with the answers, with the glue's part played by the
 * test (no Redis: tests/unit/test-ledger-redis.c and tests/cluster/02-ledger.test.mjs cover that).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-fixture.h"

#define TENANT_SETUP "{'request': 'create_tenant', 'tenant': 'acme', 'max_participants': 10, 'secret': 'acme-tenant-secret'}"

static GArray *reqs_new(void)
{
	GArray *reqs = g_array_new(FALSE, FALSE, sizeof(ah_ledger_req));
	g_array_set_clear_func(reqs, ah_ledger_req_clear);
	return reqs;
}

/* The engine's requests now (connected or not). */
static GArray *work(fixture *f, gboolean connected)
{
	GArray *reqs = reqs_new();
	ah_engine_ledger_work(f->engine, f->now, connected, reqs);
	return reqs;
}

static guint count_kind(const GArray *reqs, ah_ledger_req_kind kind)
{
	guint n = 0;
	for (guint i = 0; i < reqs->len; i++)
		n += g_array_index(reqs, ah_ledger_req, i).kind == kind;
	return n;
}

static const ah_ledger_req *find_kind(const GArray *reqs, ah_ledger_req_kind kind)
{
	for (guint i = 0; i < reqs->len; i++)
		if (g_array_index(reqs, ah_ledger_req, i).kind == kind)
			return &g_array_index(reqs, ah_ledger_req, i);
	return NULL;
}

static void answer(fixture *f, guint64 ref, gint64 granted, gint64 retry_us, gboolean unreachable, GArray *reqs)
{
	ah_engine_ledger_answer(f->engine, ref, granted, retry_us, unreachable, f->now, f->outs, reqs);
}

/* How many outs of `kind` for conn carry `event` (NULL: any). */
static guint outs_with(fixture *f, ah_out_kind kind, guint64 conn, const char *event)
{
	guint n = 0;
	for (guint i = 0; i < f->outs->len; i++) {
		ah_out *o = g_ptr_array_index(f->outs, i);
		if (o->kind == kind && o->conn == conn && (event == NULL || g_strcmp0(str(o->body, "event"), event) == 0))
			n++;
	}
	return n;
}

static const ah_out *out_for(fixture *f, ah_out_kind kind, guint64 conn)
{
	for (guint i = 0; i < f->outs->len; i++) {
		ah_out *o = g_ptr_array_index(f->outs, i);
		if (o->kind == kind && o->conn == conn)
			return o;
	}
	return NULL;
}

static void cluster_setup(fixture *f, gconstpointer data)
{
	setup(f, data);
	ah_engine_ledger_start(f->engine);
	assert_success(admin(f, TENANT_SETUP));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'town', 'max_attendees': 100, "
		"'presenter_secret': 's3cret-presenter', 'presenter_seats': 0}"));
	clear(f);
}

static json_t *join_town(fixture *f, guint64 conn)
{
	return send(f, conn, "{'request': 'join', 'tenant': 'acme', 'room': 'town'}");
}

/* Caps are written when they change; a claim goes out for a queue that waits, one at a time. */
static void test_claims_then_admits(fixture *f, gconstpointer data)
{
	/* A tenant created here is synced at once, empty (its rebuild grace starts before anyone joins). */
	GPtrArray *first = g_ptr_array_new_with_free_func(ah_ledger_sync_free);
	g_assert_true(ah_engine_ledger_take_sync_soon(f->engine));
	g_assert_false(ah_engine_ledger_take_sync_soon(f->engine));
	g_assert_cmpuint(ah_engine_ledger_syncs(f->engine, first), ==, 0);
	g_assert_cmpuint(first->len, ==, 1);
	g_assert_cmpstr(((ah_ledger_sync *)g_ptr_array_index(first, 0))->tenant, ==, "acme");
	g_assert_cmpuint(((ah_ledger_sync *)g_ptr_array_index(first, 0))->rooms->len, ==, 0);
	g_ptr_array_unref(first);
	GArray *reqs = work(f, TRUE);
	/* The tenant's and the room's caps. */
	g_assert_cmpuint(count_kind(reqs, AH_LEDGER_REQ_CAP), ==, 2);
	for (guint i = 0; i < reqs->len; i++) {
		const ah_ledger_req *r = &g_array_index(reqs, ah_ledger_req, i);
		g_assert_cmpstr(r->tenant, ==, "acme");
		g_assert_cmpint(r->n, ==, r->room != NULL ? 100 : 10);
	}
	g_array_unref(reqs);
	g_assert_cmpuint((reqs = work(f, TRUE))->len, ==, 0);
	g_array_unref(reqs);

	/* Nothing granted yet: every attendee queues. */
	for (guint64 c = 1; c <= 3; c++)
		assert_event(join_town(f, c), "queued");
	reqs = work(f, TRUE);
	const ah_ledger_req *claim = find_kind(reqs, AH_LEDGER_REQ_CLAIM);
	g_assert_nonnull(claim);
	g_assert_cmpuint(count_kind(reqs, AH_LEDGER_REQ_CLAIM), ==, 1);
	g_assert_cmpstr(claim->room, ==, "town");
	g_assert_cmpint(claim->n, ==, 2); /* the wave size */
	guint64 ref = claim->ref;
	g_array_unref(reqs);
	/* One claim in flight per room. */
	f->now += 100 * MS;
	g_assert_cmpuint(count_kind(reqs = work(f, TRUE), AH_LEDGER_REQ_CLAIM), ==, 0);
	g_array_unref(reqs);
	/* While it flies, the tenant's sync waits (Redis may have run the claim already). */
	GPtrArray *syncs = g_ptr_array_new_with_free_func(ah_ledger_sync_free);
	ah_engine_ledger_sync_due(f->engine);
	g_assert_cmpuint(ah_engine_ledger_syncs(f->engine, syncs), ==, 1);
	g_assert_cmpuint(syncs->len, ==, 0);

	/* Granted 2: the next wave seats two; the third waits for another claim. */
	reqs = reqs_new();
	answer(f, ref, 2, 0, FALSE, reqs);
	g_assert_cmpuint(reqs->len, ==, 0);
	g_array_unref(reqs);
	/* Answered: the sync owed goes out, with the seats granted. */
	g_assert_cmpuint(ah_engine_ledger_syncs(f->engine, syncs), ==, 0);
	g_assert_cmpuint(syncs->len, ==, 1);
	ah_ledger_sync *s = g_ptr_array_index(syncs, 0);
	g_assert_cmpstr(s->tenant, ==, "acme");
	g_assert_cmpuint(s->rooms->len, ==, 1);
	g_assert_cmpuint(g_array_index(s->rooms, ah_ledger_room_share, 0).seats, ==, 2);
	g_ptr_array_set_size(syncs, 0);
	/* Not owed again before the next period. */
	g_assert_cmpuint(ah_engine_ledger_syncs(f->engine, syncs), ==, 0);
	g_assert_cmpuint(syncs->len, ==, 0);
	g_ptr_array_unref(syncs);
	clear(f);
	f->now += 1 * SEC;
	tick(f);
	g_assert_cmpuint(outs_with(f, AH_OUT_EVENT, 1, "admitted") + outs_with(f, AH_OUT_EVENT, 2, "admitted"), ==, 2);
	g_assert_cmpuint(outs_with(f, AH_OUT_EVENT, 3, "admitted"), ==, 0);
	reqs = work(f, TRUE);
	claim = find_kind(reqs, AH_LEDGER_REQ_CLAIM);
	g_assert_nonnull(claim);
	g_assert_cmpint(claim->n, ==, 1);
	g_array_unref(reqs);
}

/* A claim that finds the caps full backs off; one without an answer waits for its retry time; none
 * is made while Redis is unreachable, and nobody is admitted meanwhile. */
static void test_denied_and_unreachable(fixture *f, gconstpointer data)
{
	GArray *reqs;
	g_array_unref(work(f, TRUE));
	assert_event(join_town(f, 1), "queued");
	g_assert_cmpuint(count_kind(reqs = work(f, FALSE), AH_LEDGER_REQ_CLAIM), ==, 0);
	g_array_unref(reqs);
	reqs = work(f, TRUE);
	guint64 ref = find_kind(reqs, AH_LEDGER_REQ_CLAIM)->ref;
	g_array_unref(reqs);
	reqs = reqs_new();
	answer(f, ref, 0, 0, FALSE, reqs);
	g_array_unref(reqs);
	f->now += 100 * MS;
	g_assert_cmpuint(count_kind(reqs = work(f, TRUE), AH_LEDGER_REQ_CLAIM), ==, 0);
	g_array_unref(reqs);
	f->now += 200 * MS; /* 250 ms after the denial */
	reqs = work(f, TRUE);
	g_assert_cmpuint(count_kind(reqs, AH_LEDGER_REQ_CLAIM), ==, 1);
	ref = find_kind(reqs, AH_LEDGER_REQ_CLAIM)->ref;
	g_array_unref(reqs);
	/* No answer (Redis unreachable): retried after the glue's delay, not before. */
	reqs = reqs_new();
	answer(f, ref, -1, 500 * MS, TRUE, reqs);
	g_array_unref(reqs);
	f->now += 400 * MS;
	g_assert_cmpuint(count_kind(reqs = work(f, TRUE), AH_LEDGER_REQ_CLAIM), ==, 0);
	g_array_unref(reqs);
	f->now += 5 * SEC;
	tick(f);
	g_assert_cmpuint(outs_with(f, AH_OUT_EVENT, 1, "admitted"), ==, 0);
	g_assert_cmpuint(count_kind(reqs = work(f, TRUE), AH_LEDGER_REQ_CLAIM), ==, 1);
	g_array_unref(reqs);
}

/* Seats nobody waits for are given back (the allowance first, then the release); the last sync of a
 * tenant that holds nothing is an empty one, then none. */
static void test_release_and_syncs(fixture *f, gconstpointer data)
{
	GArray *reqs;
	g_array_unref(work(f, TRUE));
	assert_event(join_town(f, 1), "queued");
	assert_event(join_town(f, 2), "queued");
	reqs = work(f, TRUE);
	guint64 ref = find_kind(reqs, AH_LEDGER_REQ_CLAIM)->ref;
	g_array_unref(reqs);
	reqs = reqs_new();
	answer(f, ref, 2, 0, FALSE, reqs);
	g_array_unref(reqs);
	f->now += 1 * SEC;
	tick(f);
	assert_event(send(f, 1, "{'request': 'leave'}"), "left");
	reqs = work(f, TRUE);
	const ah_ledger_req *rel = find_kind(reqs, AH_LEDGER_REQ_RELEASE);
	g_assert_nonnull(rel);
	g_assert_cmpstr(rel->room, ==, "town");
	g_assert_cmpint(rel->n, ==, 1);
	g_array_unref(reqs);
	GPtrArray *syncs = g_ptr_array_new_with_free_func(ah_ledger_sync_free);
	ah_engine_ledger_sync_due(f->engine);
	ah_engine_ledger_syncs(f->engine, syncs);
	g_assert_cmpuint(syncs->len, ==, 1);
	g_assert_cmpuint(g_array_index(((ah_ledger_sync *)g_ptr_array_index(syncs, 0))->rooms, ah_ledger_room_share, 0).seats, ==, 1);
	g_ptr_array_set_size(syncs, 0);
	assert_event(send(f, 2, "{'request': 'leave'}"), "left");
	g_assert_cmpuint(count_kind(reqs = work(f, TRUE), AH_LEDGER_REQ_RELEASE), ==, 1);
	g_array_unref(reqs);
	ah_engine_ledger_sync_due(f->engine);
	ah_engine_ledger_syncs(f->engine, syncs);
	g_assert_cmpuint(syncs->len, ==, 1);
	g_assert_cmpuint(((ah_ledger_sync *)g_ptr_array_index(syncs, 0))->rooms->len, ==, 0);
	g_assert_cmpuint(((ah_ledger_sync *)g_ptr_array_index(syncs, 0))->stage, ==, 0);
	g_ptr_array_set_size(syncs, 0);
	ah_engine_ledger_sync_due(f->engine);
	ah_engine_ledger_syncs(f->engine, syncs);
	g_assert_cmpuint(syncs->len, ==, 0);
	g_ptr_array_unref(syncs);
}

/* A presenter without a stage seat: its join is answered later, after the stage claim; a denied claim
 * answers tenant_full, one without an answer cluster_unavailable; a presenter gone before the answer
 * gets nothing, and the seat granted for it is given back. */
static void test_presenter_waits_for_stage(fixture *f, gconstpointer data)
{
	GArray *reqs;
	json_t *msg = parse("{'request': 'join', 'tenant': 'acme', 'room': 'town', 'ptype': 'presenter', "
		"'presenter_secret': 's3cret-presenter'}");
	g_array_unref(work(f, TRUE));
	ah_engine_handle_message(f->engine, 7, msg, NULL, NULL, 0, f->now, f->outs);
	g_assert_cmpuint(outs_with(f, AH_OUT_REPLY, 7, NULL), ==, 0);
	g_assert_nonnull(out_for(f, AH_OUT_DEFER, 7));
	clear(f);
	reqs = work(f, TRUE);
	const ah_ledger_req *claim = find_kind(reqs, AH_LEDGER_REQ_CLAIM);
	g_assert_nonnull(claim);
	g_assert_null(claim->room);
	g_assert_cmpint(claim->n, ==, 1);
	guint64 ref = claim->ref;
	g_array_unref(reqs);
	/* The tenant's ledger is rebuilding (Redis lost data): the presenter keeps waiting, and the claim
	 * goes out again at the grace's end. */
	reqs = reqs_new();
	answer(f, ref, -1, 300 * MS, FALSE, reqs);
	g_array_unref(reqs);
	g_assert_null(out_for(f, AH_OUT_REPLY, 7));
	g_assert_cmpuint(count_kind(reqs = work(f, TRUE), AH_LEDGER_REQ_CLAIM), ==, 0);
	g_array_unref(reqs);
	f->now += 300 * MS;
	reqs = work(f, TRUE);
	claim = find_kind(reqs, AH_LEDGER_REQ_CLAIM);
	g_assert_nonnull(claim);
	g_assert_null(claim->room);
	ref = claim->ref;
	g_array_unref(reqs);
	reqs = reqs_new();
	answer(f, ref, 1, 0, FALSE, reqs);
	g_array_unref(reqs);
	const ah_out *reply = out_for(f, AH_OUT_REPLY, 7);
	g_assert_nonnull(reply);
	assert_event(reply->body, "joined");
	ah_ledger_figures fig;
	ah_engine_ledger_figures(f->engine, &fig);
	g_assert_cmpuint(fig.rebuilding, ==, 1);
	g_assert_cmpuint(fig.failed, ==, 0);
	clear(f);

	/* Denied: tenant_full. */
	ah_engine_handle_message(f->engine, 8, msg, NULL, NULL, 0, f->now, f->outs);
	clear(f);
	reqs = work(f, TRUE);
	ref = find_kind(reqs, AH_LEDGER_REQ_CLAIM)->ref;
	g_array_unref(reqs);
	reqs = reqs_new();
	answer(f, ref, 0, 0, FALSE, reqs);
	g_array_unref(reqs);
	assert_error(out_for(f, AH_OUT_REPLY, 8)->body, AH_ERR_TENANT_FULL);
	clear(f);

	/* No answer: cluster_unavailable with a retry time. */
	f->now += 1 * SEC;
	ah_engine_handle_message(f->engine, 9, msg, NULL, NULL, 0, f->now, f->outs);
	clear(f);
	reqs = work(f, TRUE);
	ref = find_kind(reqs, AH_LEDGER_REQ_CLAIM)->ref;
	g_array_unref(reqs);
	reqs = reqs_new();
	answer(f, ref, -1, 500 * MS, TRUE, reqs);
	g_array_unref(reqs);
	reply = out_for(f, AH_OUT_REPLY, 9);
	assert_error(reply->body, AH_ERR_CLUSTER_UNAVAILABLE);
	g_assert_cmpint(num(reply->body, "retry_after_ms"), ==, 500);
	clear(f);

	/* Gone before the answer: no reply; the granted seat goes back. */
	f->now += 1 * SEC;
	ah_engine_handle_message(f->engine, 10, msg, NULL, NULL, 0, f->now, f->outs);
	clear(f);
	reqs = work(f, TRUE);
	ref = find_kind(reqs, AH_LEDGER_REQ_CLAIM)->ref;
	g_array_unref(reqs);
	ah_engine_conn_gone(f->engine, 10, f->now, f->outs);
	clear(f);
	reqs = reqs_new();
	answer(f, ref, 1, 0, FALSE, reqs);
	g_array_unref(reqs);
	g_assert_null(out_for(f, AH_OUT_REPLY, 10));
	reqs = work(f, TRUE);
	const ah_ledger_req *rel = find_kind(reqs, AH_LEDGER_REQ_RELEASE);
	g_assert_nonnull(rel);
	g_assert_null(rel->room);
	g_assert_cmpint(rel->n, ==, 1);
	g_array_unref(reqs);
	json_decref(msg);
}

/* A room's presenter seats are claimed as stage seats before any presenter comes, so its presenter
 * is seated at once; a room destroyed while its claim flies gives the grant back. */
static void test_presenter_seats_and_gone_room(fixture *f, gconstpointer data)
{
	GArray *reqs;
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'hall', 'max_attendees': 100, "
		"'presenter_secret': 's3cret-presenter', 'presenter_seats': 1}"));
	reqs = work(f, TRUE);
	const ah_ledger_req *claim = find_kind(reqs, AH_LEDGER_REQ_CLAIM);
	g_assert_nonnull(claim);
	g_assert_null(claim->room);
	g_assert_cmpint(claim->n, ==, 1);
	guint64 ref = claim->ref;
	g_array_unref(reqs);
	reqs = reqs_new();
	answer(f, ref, 1, 0, FALSE, reqs);
	g_array_unref(reqs);
	assert_event(send(f, 5, "{'request': 'join', 'tenant': 'acme', 'room': 'hall', 'ptype': 'presenter', "
		"'presenter_secret': 's3cret-presenter'}"), "joined");

	assert_event(join_town(f, 1), "queued");
	reqs = work(f, TRUE);
	ref = find_kind(reqs, AH_LEDGER_REQ_CLAIM)->ref;
	g_array_unref(reqs);
	assert_success(admin(f, "{'request': 'destroy_room', 'tenant': 'acme', 'room': 'town'}"));
	clear(f);
	reqs = reqs_new();
	answer(f, ref, 1, 0, FALSE, reqs);
	const ah_ledger_req *rel = find_kind(reqs, AH_LEDGER_REQ_RELEASE);
	g_assert_nonnull(rel);
	g_assert_cmpstr(rel->room, ==, "town");
	g_array_unref(reqs);
	/* And its cap is removed. */
	reqs = work(f, TRUE);
	const ah_ledger_req *cap = find_kind(reqs, AH_LEDGER_REQ_CAP);
	g_assert_nonnull(cap);
	g_assert_cmpstr(cap->room, ==, "town");
	g_assert_cmpint(cap->n, ==, -1);
	g_array_unref(reqs);
}

/* Without the ledger (single-node), nothing of this applies: attendees are admitted at once. */
static void test_single_node_untouched(fixture *f, gconstpointer data)
{
	GArray *reqs = reqs_new();
	assert_success(admin(f, TENANT_SETUP));
	assert_success(admin(f, "{'request': 'create_room', 'tenant': 'acme', 'room': 'town', 'max_attendees': 100, "
		"'presenter_secret': 's3cret-presenter'}"));
	g_assert_false(ah_engine_ledger_on(f->engine));
	assert_event(join_town(f, 1), "admitted");
	ah_engine_ledger_work(f->engine, f->now, TRUE, reqs);
	g_assert_cmpuint(reqs->len, ==, 0);
	g_array_unref(reqs);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/engine-ledger/claims-then-admits", fixture, NULL, cluster_setup, test_claims_then_admits, teardown);
	g_test_add("/engine-ledger/denied-and-unreachable", fixture, NULL, cluster_setup, test_denied_and_unreachable, teardown);
	g_test_add("/engine-ledger/release-and-syncs", fixture, NULL, cluster_setup, test_release_and_syncs, teardown);
	g_test_add("/engine-ledger/presenter-waits-for-stage", fixture, NULL, cluster_setup, test_presenter_waits_for_stage, teardown);
	g_test_add("/engine-ledger/presenter-seats-and-gone-room", fixture, NULL, cluster_setup,
		test_presenter_seats_and_gone_room, teardown);
	g_test_add("/engine-ledger/single-node-untouched", fixture, NULL, setup, test_single_node_untouched, teardown);
	return g_test_run();
}
