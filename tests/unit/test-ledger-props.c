/* allhands: property tests of the cluster seat ledger (plugin/redis/ledger*.lua) against a real
 * redis-server: seeded random interleavings of claim, release, sync and reclaim from three simulated nodes
 * (GRand; AH_LEDGER_SEED picks another seed, -m slow runs longer), checked after every step against a
 * model: Redis holds exactly the model's shares and totals, totals == sum of the nodes' shares, and no
 * claim is granted above a cap. The second test adds Redis losing writes (FLUSHALL, and a "failover" to
 * an older copy of the keys under a new run_id) and checks the caps against what the nodes really hold.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>
#include <hiredis/hiredis.h>

#include "allhands/ledger-redis.h"
#include "ledger-fixture.h"

#define P_NODES 3
#define P_FIELDS 4 /* rooms r0 r1 r2, then the tenant-only seats */
#define P_STAGE 3
#define P_KEYS (1 + P_NODES) /* seats, then each node's share */
#define HEARTBEAT 1000 /* ms: every node syncs at least this often (the grace is 3 heartbeats) */
static const char *const p_room[P_FIELDS] = { "r0", "r1", "r2", NULL };
static const char *const p_field[P_FIELDS] = { "room:r0", "room:r1", "room:r2", "stage" };
static const char *const p_node[P_NODES] = { "n1", "n2", "n3" };

/* What Redis must hold, as far as the ledger goes. */
typedef struct {
	gint64 share[P_NODES][P_FIELDS];
	char *run;      /* the marker: NULL when missing */
	gint64 ready;
} ledger_state;

typedef struct {
	ledger_state ledger;
	gint64 truth[P_NODES][P_FIELDS]; /* what each node really holds (sync sends it) */
	gint64 last_sync[P_NODES];
	gint64 tenant_cap, room_cap[P_STAGE];
	gboolean losses;                 /* the second test: Redis loses writes; no cap edits or partitions */
	ledger_state snapshot;           /* losses: what a lagging replica has, and its keys (DUMP) */
	GBytes *dump[P_KEYS];
	guint claims, granted_seats, refusals, rebuilding, syncs_over, failovers, flushes;
} model;

static void state_copy(ledger_state *to, const ledger_state *from)
{
	g_free(to->run);
	*to = *from;
	to->run = g_strdup(from->run);
}

static gint64 m_total(const model *m, int field) /* field -1: the tenant */
{
	gint64 sum = 0;
	for (int n = 0; n < P_NODES; n++) {
		for (int i = 0; i < P_FIELDS; i++)
			sum += field < 0 || field == i ? m->ledger.share[n][i] : 0;
	}
	return sum;
}

static gint64 m_truth(const model *m, int field)
{
	gint64 sum = 0;
	for (int n = 0; n < P_NODES; n++) {
		for (int i = 0; i < P_FIELDS; i++)
			sum += field < 0 || field == i ? m->truth[n][i] : 0;
	}
	return sum;
}

/* A claim or sync passes the marker: another server's (or none) starts a grace. */
static void m_touch(fixture *f, model *m)
{
	if (g_strcmp0(m->ledger.run, f->run) != 0) {
		g_free(m->ledger.run);
		m->ledger.run = g_strdup(f->run);
		m->ledger.ready = f->now + GRACE;
	}
}

/* Redis holds exactly the model: every node's hash, the totals, the marker, no zero or stray field. */
static void p_check(fixture *f, const model *m)
{
	g_autoptr(GHashTable) s = hgetall(f, "ah:{" T "}:seats");
	guint fields = m->ledger.run != NULL ? 2 : 0;
	for (int n = 0; n < P_NODES; n++) {
		g_autofree char *key = ah_ledger_key_node(T, p_node[n]);
		g_autoptr(GHashTable) h = hgetall(f, key);
		gint64 sum = 0;
		guint held = 0;
		for (int i = 0; i < P_FIELDS; i++) {
			const char *v = g_hash_table_lookup(h, p_field[i]);
			g_assert_cmpint(v != NULL ? g_ascii_strtoll(v, NULL, 10) : 0, ==, m->ledger.share[n][i]);
			sum += m->ledger.share[n][i];
			held += m->ledger.share[n][i] > 0;
		}
		g_assert_cmpint(hget(f, key, "tenant"), ==, sum);
		g_assert_cmpuint(g_hash_table_size(h), ==, held + (sum > 0));
	}
	for (int i = 0; i < P_FIELDS; i++) {
		const char *v = g_hash_table_lookup(s, p_field[i]);
		g_assert_cmpint(v != NULL ? g_ascii_strtoll(v, NULL, 10) : 0, ==, m_total(m, i));
		fields += m_total(m, i) > 0;
	}
	g_assert_cmpint(seats(f, "tenant"), ==, m_total(m, -1));
	g_assert_cmpuint(g_hash_table_size(s), ==, fields + (m_total(m, -1) > 0));
	g_assert_cmpstr(g_hash_table_lookup(s, "run"), ==, m->ledger.run);
	g_assert_cmpint(seats(f, "ready_at"), ==, m->ledger.run != NULL ? m->ledger.ready : 0);
	if (m->losses) { /* the caps hold against what the nodes really hold, at every step */
		g_assert_cmpint(m_truth(m, -1), <=, m->tenant_cap);
		for (int i = 0; i < P_STAGE; i++)
			g_assert_cmpint(m_truth(m, i), <=, m->room_cap[i]);
	}
}

static void p_claim(fixture *f, model *m, int n, int i, gint64 want)
{
	gint64 tenant = m_total(m, -1), room = m_total(m, i);
	gint64 expect = MIN(want, m->tenant_cap - tenant);
	ah_ledger_claim_reply r;
	if (i != P_STAGE)
		expect = MIN(expect, m->room_cap[i] - room);
	expect = MAX(expect, 0);
	m_touch(f, m);
	if (f->now < m->ledger.ready)
		expect = AH_LEDGER_REBUILDING;
	r = claim(f, p_room[i], p_node[n], want);
	g_assert_cmpint(r.granted, ==, expect);
	g_assert_cmpint(r.ready_at_ms, ==, m->ledger.ready);
	m->claims++;
	if (r.granted == AH_LEDGER_REBUILDING) {
		m->rebuilding++;
		g_assert_cmpint(r.tenant_held, ==, tenant);
		return;
	}
	if (r.granted > 0) {
		/* Never granted above a cap. */
		g_assert_cmpint(r.tenant_held, <=, m->tenant_cap);
		if (i != P_STAGE)
			g_assert_cmpint(r.room_held, <=, m->room_cap[i]);
	} else {
		m->refusals++;
	}
	g_assert_cmpint(r.tenant_held, ==, tenant + r.granted);
	g_assert_cmpint(r.room_held, ==, room + r.granted);
	m->ledger.share[n][i] += r.granted;
	m->truth[n][i] += r.granted;
	m->granted_seats += r.granted;
}

static void p_sync(fixture *f, model *m, int n)
{
	ah_ledger_room_count rooms[P_STAGE];
	gsize k = 0;
	gint64 change = 0, corrected = 0, rooms_over = 0;
	ah_ledger_sync_reply r;
	m_touch(f, m);
	for (int i = 0; i < P_FIELDS; i++) {
		change += m->truth[n][i] - m->ledger.share[n][i];
		corrected += ABS(m->truth[n][i] - m->ledger.share[n][i]);
		m->ledger.share[n][i] = m->truth[n][i];
	}
	/* Rooms held listed, and sometimes a room at 0 too; unlisted rooms go to 0. */
	for (int i = 0; i < P_STAGE; i++) {
		if (m->truth[n][i] > 0 || g_test_rand_bit())
			rooms[k++] = (ah_ledger_room_count){ p_room[i], m->truth[n][i] };
		if (m->truth[n][i] > 0 && m_total(m, i) > m->room_cap[i])
			rooms_over++;
	}
	r = sync_share(f, p_node[n], m->truth[n][P_STAGE], rooms, k);
	g_assert_cmpint(r.tenant_held, ==, m_total(m, -1));
	g_assert_cmpint(r.tenant_change, ==, change);
	g_assert_cmpint(r.corrected, ==, corrected);
	g_assert_cmpint(r.tenant_over, ==, MAX(0, m_total(m, -1) - m->tenant_cap));
	g_assert_cmpint(r.rooms_over, ==, rooms_over);
	g_assert_cmpint(r.ready_at_ms, ==, m->ledger.ready);
	m->syncs_over += r.tenant_over > 0 || r.rooms_over > 0;
	m->last_sync[n] = f->now;
}

static void p_release(fixture *f, model *m, int n, int i, gint64 want)
{
	gint64 expect = MIN(want, m->ledger.share[n][i]);
	ah_ledger_release_reply r = release(f, p_room[i], p_node[n], want);
	g_assert_cmpint(r.released, ==, expect);
	g_assert_cmpint(r.ignored, ==, want - expect);
	m->ledger.share[n][i] -= expect;
	m->truth[n][i] = MAX(0, m->truth[n][i] - want);
}

/* Heartbeat expired: the node is dead, or (without losses) alive behind a partition, syncing back later. */
static void p_reclaim(fixture *f, model *m, int n, GRand *rand)
{
	gint64 expect = 0, counters = 0;
	ah_ledger_reclaim_reply r;
	for (int k = 0; k < P_FIELDS; k++) {
		expect += m->ledger.share[n][k];
		counters += m->ledger.share[n][k] > 0;
		m->ledger.share[n][k] = 0;
		if (m->losses || g_rand_boolean(rand))
			m->truth[n][k] = 0;
	}
	r = reclaim(f, p_node[n]);
	g_assert_cmpint(r.released, ==, expect);
	g_assert_cmpint(r.counters, ==, counters);
}

static void p_edit_cap(fixture *f, model *m, int i, gint64 cap)
{
	if (i == P_STAGE) {
		m->tenant_cap = cap;
		set_cap(f, "tenant", cap);
	} else {
		g_autofree char *field = g_strdup_printf("room:%s", p_room[i]);
		m->room_cap[i] = cap;
		set_cap(f, field, cap);
	}
}

static char *p_key(int k)
{
	return k == 0 ? ah_ledger_key_seats(T) : ah_ledger_key_node(T, p_node[k - 1]);
}

/* What a replica has when it takes over: the keys as they are now (DUMP), and the model with them. */
static void p_snapshot(fixture *f, model *m)
{
	for (int k = 0; k < P_KEYS; k++) {
		g_autofree char *key = p_key(k);
		redisReply *reply = redisCommand(f->c, "DUMP %s", key);
		g_assert_true(reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_NIL);
		g_clear_pointer(&m->dump[k], g_bytes_unref);
		if (reply->type == REDIS_REPLY_STRING)
			m->dump[k] = g_bytes_new(reply->str, reply->len);
		freeReplyObject(reply);
	}
	state_copy(&m->snapshot, &m->ledger);
}

/* The replica becomes the primary: the latest writes are gone, and the server (its run_id) is another. */
static void p_failover(fixture *f, model *m)
{
	for (int k = 0; k < P_KEYS; k++) {
		g_autofree char *key = p_key(k);
		command(f, "DEL %s", key);
		if (m->dump[k] != NULL) {
			gsize len;
			const char *data = g_bytes_get_data(m->dump[k], &len);
			command(f, "RESTORE %s 0 %b", key, data, len);
		}
	}
	state_copy(&m->ledger, &m->snapshot);
	m->failovers++;
	g_free(f->run);
	f->run = g_strdup_printf("replica%u", m->failovers);
}

/* Redis restarted empty (or FLUSHALL): the definitions come back, the ledger does not. */
static void p_flush(fixture *f, model *m)
{
	command(f, "FLUSHALL");
	p_edit_cap(f, m, P_STAGE, m->tenant_cap);
	for (int i = 0; i < P_STAGE; i++)
		p_edit_cap(f, m, i, m->room_cap[i]);
	memset(m->ledger.share, 0, sizeof(m->ledger.share));
	g_clear_pointer(&m->ledger.run, g_free);
	m->flushes++;
}

static void p_step(fixture *f, model *m, GRand *rand)
{
	int n = g_rand_int_range(rand, 0, P_NODES), i = g_rand_int_range(rand, 0, P_FIELDS);
	int op = g_rand_int_range(rand, 0, 1000);
	f->now += g_rand_int_range(rand, 0, 50);
	if (op < 400)
		p_claim(f, m, n, i, g_rand_int_range(rand, 1, 5));
	else if (op < 600) /* release n seats, of which it may hold fewer */
		p_release(f, m, n, i, g_rand_int_range(rand, 1, 5));
	else if (op < 700) /* an attendee gone without a release: only a sync tells */
		m->truth[n][i] = MAX(0, m->truth[n][i] - 1);
	else if (op < 880)
		p_sync(f, m, n);
	else if (op < 940)
		p_reclaim(f, m, n, rand);
	else if (!m->losses)
		p_edit_cap(f, m, i, g_rand_int_range(rand, 0, 16));
	else if (op < 997) /* replicas lag: the copy a failover restores is taken now and then */
		p_snapshot(f, m);
	else if ((m->failovers + m->flushes) % 3 != 2) /* a loss: two failovers, then a flush, and again */
		p_failover(f, m);
	else
		p_flush(f, m);
	/* The heartbeat: a node silent for HEARTBEAT syncs now (a dead one too: it has nothing). */
	for (int k = 0; k < P_NODES; k++) {
		if (m->losses && f->now - m->last_sync[k] >= HEARTBEAT)
			p_sync(f, m, k);
	}
	p_check(f, m);
}

static void test_property(fixture *f, gconstpointer data)
{
	const char *env = g_getenv("AH_LEDGER_SEED");
	guint32 seed = env != NULL ? (guint32)g_ascii_strtoull(env, NULL, 10) : 20261207;
	guint steps = g_test_slow() ? 20000 : 3000;
	GRand *rand = g_rand_new_with_seed(seed);
	model m = { .tenant_cap = 12, .room_cap = { 6, 4, 8 }, .losses = GPOINTER_TO_INT(data) };
	g_test_message("seed %u (AH_LEDGER_SEED), %u steps", seed, steps);
	open_tenant(f, m.tenant_cap);
	m.ledger.run = g_strdup(f->run);
	m.ledger.ready = f->now;
	for (int i = 0; i < P_STAGE; i++)
		p_edit_cap(f, &m, i, m.room_cap[i]);
	for (int n = 0; n < P_NODES; n++)
		m.last_sync[n] = f->now;
	p_snapshot(f, &m);
	for (guint step = 0; step < steps; step++)
		p_step(f, &m, rand);
	g_test_message("%u claims: %u seats granted, %u granted nothing, %u refused while rebuilding; %u syncs over a "
		"cap; %u failovers, %u flushes", m.claims, m.granted_seats, m.refusals, m.rebuilding, m.syncs_over,
		m.failovers, m.flushes);
	/* The run exercised what it is meant to: grants, refusals at the caps, and syncs above them or
	 * rebuilds after losses. */
	g_assert_cmpuint(m.granted_seats, >, 0);
	g_assert_cmpuint(m.refusals, >, 0);
	if (m.losses) {
		g_assert_cmpuint(m.failovers, >, 0);
		g_assert_cmpuint(m.flushes, >, 0);
		g_assert_cmpuint(m.rebuilding, >, 0);
	} else {
		g_assert_cmpuint(m.syncs_over, >, 0);
	}
	for (int k = 0; k < P_KEYS; k++)
		g_clear_pointer(&m.dump[k], g_bytes_unref);
	g_free(m.ledger.run);
	g_free(m.snapshot.run);
	g_rand_free(rand);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/ledger-redis/property/three-nodes", fixture, GINT_TO_POINTER(FALSE), setup, test_property,
		teardown);
	g_test_add("/ledger-redis/property/three-nodes-with-losses", fixture, GINT_TO_POINTER(TRUE), setup,
		test_property, teardown);
	return g_test_run();
}
