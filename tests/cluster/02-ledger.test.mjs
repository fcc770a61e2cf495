// Cluster-wide caps through the seat ledger (docs/cluster.md, "How admission uses it: allowances"):
// three Janus nodes with `cluster = true` on the harness's redis-server, one tenant whose rooms sit on
// different nodes. Checks that a join storm spread over the three holds the tenant's cap across the
// cluster at every instant (the history checker over the three nodes' events, and Redis's own count
// sampled during the storm), that the queue moves when seats are freed, that a presenter takes a
// stage seat through the ledger, that a SIGKILLed node's seats are reclaimed (how long it took is
// printed; the issue's goal is 5 s) and go to attendees queued on the other nodes, that with Redis
// down new joins stay queued (no seat granted) and move again once Redis is back, also empty, and what
// a node partitioned from Redis (a blackhole route in its namespace) does: its attendees stay, its
// seats are reclaimed, and once healed it reports the tenant over its cap and nothing is granted until
// the count is back under (docs/cluster.md, "A node partitioned from Redis").
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, createRoomWith, createTenant, handle, joinBody, safeJson, waitFor,
} from '../integration/lib/allhands.mjs';
import { EventCollector, checkHistory } from '../integration/lib/history.mjs';
import { Cluster } from './lib/cluster.mjs';
import { execFileSync } from 'node:child_process';

const ipCmd = (args) => execFileSync('ip', args, { stdio: 'pipe' });

const TENANT = 'fleetcap';
const CAP = 12;
const HEARTBEAT_MS = 500;
const EXPIRY_MS = 1500;
const cluster = new Cluster();
const history = new EventCollector();
let redis;
let nodes;

function clusterConfig(id) {
  return {
    cluster: true,
    redis_host: redis.ip,
    redis_port: redis.redisPort,
    node_id: id,
    node_url: (j) => j.wsUrl,
    heartbeat_ms: HEARTBEAT_MS,
    node_expiry_ms: EXPIRY_MS,
    // A full heartbeat every third one (brief ones between: docs/cluster.md, "Node registry", "Cost"),
    // as a fleet of 60 nodes with the default would: the reclaims below rely on brief heartbeats.
    heartbeat_full_nodes: 1,
    wave_size: 4,
    wave_interval_ms: 100,
    admit_timeout_ms: 120000,
    events: true,
  };
}

const roomOf = (node) => `room-${node.name}`;

// A signalling-only attendee: a handle that joins and records what it was told.
async function joiner(node, bag, label) {
  const h = await handle(node.janus, bag);
  const rec = { label, node: node.name, room: roomOf(node), events: [], reply: null, positions: [] };
  const r = await h.request(joinBody({ tenant: TENANT, room: roomOf(node), display: label }));
  rec.reply = r.data;
  rec.h = h;
  if (r.data.position !== undefined) rec.positions.push(r.data.position);
  return rec;
}

async function ledgerTotal() {
  const v = await redis.ask(null, 'hget', `ah:{${TENANT}}:seats`, 'tenant');
  return v === '' || v === null || v === undefined ? 0 : Number(v);
}

async function nodeShare(node) {
  const v = await redis.ask(null, 'hget', `ah:{${TENANT}}:node:node-${node.name}`, 'tenant');
  return v === '' || v === null || v === undefined ? 0 : Number(v);
}

async function seated(node) {
  const s = await node.janus.admin({ request: 'status', tenant: TENANT });
  assert.equal(s.allhands, 'success', safeJson(s));
  const c = s.tenants?.find((t) => t.tenant === TENANT)?.counts ?? {};
  return { seats: (c.active || 0) + (c.connecting || 0) + (c.rejoining || 0), queued: c.queued || 0, presenters: c.presenters || 0, raw: s };
}

async function clusterSeats() {
  let seats = 0; let queued = 0; let presenters = 0;
  for (const n of nodes.filter((x) => x.janus.alive !== false)) {
    const s = await seated(n);
    seats += s.seats; queued += s.queued; presenters += s.presenters;
  }
  return { seats, queued, presenters };
}

before(async () => {
  await history.start(cluster.env.clientIp);
  redis = await cluster.startRedis('redis');
  nodes = [];
  for (const name of ['a', 'b', 'c']) {
    nodes.push(await cluster.startNode(name, { allhands: clusterConfig(`node-${name}`), eventsBackend: history.url }));
  }
  // Definitions are shared (docs/cluster.md, "Definitions"): the tenant (and its cap), created on node a,
  // reaches every node; then one room homed on each node (pinned with `node`), created there, so the
  // tenant's rooms sit on different nodes (every node knows the three). No presenter seats kept (they
  // would be claimed as stage seats at once: see the presenter test).
  await createTenant(nodes[0].janus, { tenant: TENANT, max_participants: CAP });
  for (const node of nodes) {
    await waitFor(async () => (await node.janus.admin({ request: 'list_tenants' })).tenants?.some((t) => t.tenant === TENANT),
      { timeout: 20000, interval: 50, what: `node ${node.name}: the tenant created on node a` });
    await createRoomWith(node.janus, { tenant: TENANT, room: roomOf(node), max_attendees: 50, presenter_secret: 'p-fleet-presenter',
      presenter_seats: 0, node: `node-${node.name}` });
  }
  await waitFor(async () => (await redis.ask(null, 'hget', `ah:{${TENANT}}:caps`, 'tenant')) === String(CAP),
    { timeout: 20000, interval: 100, what: 'the tenant\'s cap written to Redis' });
});

after(async () => {
  await cluster.teardown();
  await history.stop();
});

test('a join storm over three nodes holds the tenant\'s cap across the cluster at every instant', async () => {
  const bag = new Bag();
  const samples = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push(await ledgerTotal());
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    const N = 30;
    const recs = await Promise.all(Array.from({ length: N }, (_, i) => joiner(nodes[i % 3], bag, `storm-${i}`)));
    for (const r of recs) {
      assert.ok(r.reply.event === 'admitted' || r.reply.event === 'queued', `join answered: ${safeJson(r.reply)}`);
    }
    // The cap binds: exactly CAP seated across the cluster, the rest queued.
    const settled = await waitFor(async () => {
      const c = await clusterSeats();
      return c.seats === CAP && c.queued === N - CAP ? c : false;
    }, { timeout: 30000, interval: 200, what: `${CAP} seated and ${N - CAP} queued across the three nodes` });
    console.log(`# storm: ${settled.seats} seated, ${settled.queued} queued across the cluster; per node ` +
      `${(await Promise.all(nodes.map(async (n) => `${n.name} ${(await seated(n)).seats}`))).join(', ')}`);
    await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS));
    assert.equal(await ledgerTotal(), CAP, 'Redis counts the cap\'s seats');
    sampling = false;
    await sampler;
    assert.ok(samples.length > 5 && Math.max(...samples) <= CAP, `Redis's count never above the cap: max ${Math.max(...samples)}`);
    // Per node: Redis's share of each node equals what it seats (after a sync at the latest).
    for (const n of nodes) assert.equal(await nodeShare(n), (await seated(n)).seats, `node ${n.name}'s share`);

    // Seats freed on one node go to that node's queue first; the cluster never goes above the cap.
    const onA = recs.filter((r) => r.node === 'a' && (r.reply.event === 'admitted' || r.h.eventsNamed('admitted').length > 0));
    const leaving = onA.slice(0, 2);
    for (const r of leaving) await r.h.request({ request: 'leave' });
    await waitFor(async () => {
      const c = await clusterSeats();
      return c.seats === CAP && c.queued === N - CAP - leaving.length ? c : false;
    }, { timeout: 20000, interval: 200, what: 'the freed seats taken from the queue' });
    await history.settle(); // the nodes' event handlers post asynchronously
    const { violations, max } = checkHistory({ events: history.events }, { tenants: { [TENANT]: CAP } }, { complete: false });
    console.log(`# history: ${history.events.length} events from ${new Set(history.events.map((e) => e.node)).size} nodes; max tenant seats ${max.tenants[TENANT]}`);
    assert.deepEqual(violations, [], 'the history checker over the three nodes');
    assert.equal(max.tenants[TENANT], CAP);
  } finally {
    sampling = false;
    await sampler;
    await bag.closeAll();
  }
  await waitFor(async () => (await clusterSeats()).seats === 0 && (await ledgerTotal()) === 0,
    { timeout: 20000, interval: 200, what: 'every seat given back to the ledger after everyone left' });
});

test('a presenter takes a stage seat through the ledger; with the cap full, a presenter is refused', async () => {
  const bag = new Bag();
  try {
    const [a, b] = nodes;
    const h = await handle(a.janus, bag);
    const r = await h.request(joinBody({ tenant: TENANT, room: roomOf(a), ptype: 'presenter', presenter_secret: 'p-fleet-presenter' }));
    assertEvent(r.data, 'joined', 'presenter join answered after the stage claim');
    await waitFor(async () => (await ledgerTotal()) === 1, { timeout: 10000, interval: 100, what: 'the stage seat in Redis' });
    assert.equal(await redis.ask(null, 'hget', `ah:{${TENANT}}:seats`, 'stage'), '1');
    // Fill the tenant from node b, then one more presenter on node c has no seat anywhere.
    const fill = await Promise.all(Array.from({ length: CAP }, (_, i) => joiner(b, bag, `fill-${i}`)));
    await waitFor(async () => (await seated(b)).seats === CAP - 1, { timeout: 20000, interval: 200, what: 'node b seats the rest of the cap' });
    assert.equal(fill.length, CAP);
    const h2 = await handle(nodes[2].janus, bag);
    const r2 = await h2.request(joinBody({ tenant: TENANT, room: roomOf(nodes[2]), ptype: 'presenter', presenter_secret: 'p-fleet-presenter' }));
    assert.equal(r2.data.error_name, 'tenant_full', safeJson(r2.data));
    assert.ok((await ledgerTotal()) <= CAP);
  } finally {
    await bag.closeAll();
  }
  await waitFor(async () => (await ledgerTotal()) === 0, { timeout: 20000, interval: 200, what: 'seats back after everyone left' });
});

test('a SIGKILLed node\'s seats are reclaimed and go to attendees queued on the other nodes', async () => {
  const bag = new Bag();
  try {
    const [a, b, c] = nodes;
    // Node c takes the whole cap; node a's attendees queue.
    await Promise.all(Array.from({ length: CAP }, (_, i) => joiner(c, bag, `c-${i}`)));
    try {
      await waitFor(async () => (await seated(c)).seats === CAP, { timeout: 20000, interval: 200, what: 'node c seats the cap' });
    } catch (e) {
      const st = await c.janus.admin({ request: 'status' });
      console.log(`# node c: ${safeJson(st.cluster?.ledger)} ${safeJson(st.tenants)} redis ${safeJson(await redis.ask(null, 'hgetall', `ah:{${TENANT}}:seats`))}`);
      throw e;
    }
    const queued = await Promise.all(Array.from({ length: 5 }, (_, i) => joiner(a, bag, `a-${i}`)));
    for (const q of queued) assert.equal(q.reply.event, 'queued', safeJson(q.reply));
    await waitFor(async () => (await nodeShare(c)) === CAP, { timeout: 10000, interval: 100, what: 'node c\'s share in Redis' });
    const killedAt = Date.now();
    assert.equal((await cluster.killNode(c)).signal, 'SIGKILL');
    await waitFor(async () => (await nodeShare(c)) === 0, { timeout: 20000, interval: 50, what: 'node c\'s seats reclaimed' });
    const reclaimMs = Date.now() - killedAt;
    console.log(`# node c's ${CAP} seats reclaimed ${reclaimMs} ms after its SIGKILL (node_expiry_ms ${EXPIRY_MS}, heartbeat_ms ${HEARTBEAT_MS}; goal 5000 ms)`);
    await waitFor(async () => (await seated(a)).seats === 5, { timeout: 20000, interval: 200, what: 'node a admits its 5 queued attendees' });
    console.log(`# node a's queue admitted ${Date.now() - killedAt} ms after the kill`);
    // The death was seen through brief heartbeats too (two in three here).
    const beats = (await a.janus.admin({ request: 'status' })).cluster.heartbeats;
    assert.ok(beats.brief > 0 && beats.brief < beats.sent, `brief heartbeats: ${safeJson(beats)}`);
    assert.ok((await ledgerTotal()) <= CAP);
    await c.janus.start();
  } finally {
    await bag.closeAll();
  }
  await waitFor(async () => (await ledgerTotal()) === 0, { timeout: 20000, interval: 200, what: 'seats back after everyone left' });
});

test('Redis down: new joins stay queued and no seat is granted; Redis back (empty): the queue moves, the cap holds', async () => {
  const bag = new Bag();
  try {
    const [a, b] = nodes;
    const first = await Promise.all(Array.from({ length: 4 }, (_, i) => joiner(a, bag, `pre-${i}`)));
    await waitFor(async () => (await seated(a)).seats === 4, { timeout: 20000, interval: 200, what: '4 seated on node a' });
    assert.equal(first.length, 4);
    await redis.kill();
    await waitFor(async () => {
      const s = await b.janus.admin({ request: 'status' });
      return s.cluster?.redis?.connected === false;
    }, { timeout: 20000, interval: 100, what: 'node b sees Redis down' });
    const during = await Promise.all(Array.from({ length: 3 }, (_, i) => joiner(b, bag, `down-${i}`)));
    for (const d of during) assert.equal(d.reply.event, 'queued', `a join while Redis is down waits: ${safeJson(d.reply)}`);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await seated(b)).seats, 0, 'no seat granted while Redis is down');
    assert.equal((await seated(a)).seats, 4, 'seated attendees keep their seats');
    await redis.restartEmpty();
    const back = Date.now();
    await waitFor(async () => (await seated(b)).seats === 3, { timeout: 30000, interval: 200, what: 'node b admits its queue once Redis is back' });
    console.log(`# Redis restarted empty: node b's queue admitted ${Date.now() - back} ms later (rebuild grace ${EXPIRY_MS} ms)`);
    await waitFor(async () => (await ledgerTotal()) === 7, { timeout: 10000, interval: 100, what: 'the rebuilt ledger counts 7 seats' });
  } finally {
    await bag.closeAll();
  }
});

test('a node partitioned from Redis keeps its attendees; its seats are reclaimed; healed, it says the tenant is over its cap and nothing is granted until it is back under', async () => {
  const bag = new Bag();
  const [a, b] = nodes;
  const cut = ['-n', b.ns, 'route', 'add', 'blackhole', `${redis.ip}/32`];
  try {
    // Node b seats 8, node a queues 6 behind the rest of the cap (4).
    const onB = await Promise.all(Array.from({ length: 8 }, (_, i) => joiner(b, bag, `b-${i}`)));
    await waitFor(async () => (await seated(b)).seats === 8, { timeout: 20000, interval: 200, what: '8 seated on node b' });
    const onA = await Promise.all(Array.from({ length: 10 }, (_, i) => joiner(a, bag, `a-${i}`)));
    await waitFor(async () => (await seated(a)).seats === 4, { timeout: 20000, interval: 200, what: 'node a seats the 4 left' });
    assert.equal((await seated(a)).queued, 6);
    await waitFor(async () => (await nodeShare(b)) === 8, { timeout: 10000, interval: 100, what: 'node b\'s share in Redis' });

    ipCmd(cut);
    const cutAt = Date.now();
    // The others see b dead and reclaim its 8 seats; node a's queue takes them.
    await waitFor(async () => (await nodeShare(b)) === 0, { timeout: 20000, interval: 100, what: 'node b\'s seats reclaimed' });
    console.log(`# node b partitioned from Redis: its seats reclaimed after ${Date.now() - cutAt} ms`);
    await waitFor(async () => (await seated(a)).seats === 10, { timeout: 20000, interval: 200, what: 'node a admits its queue' });
    // Node b still seats its 8 (nothing on the media path or in its seats waits for Redis).
    assert.equal((await seated(b)).seats, 8, 'node b keeps its attendees');
    await waitFor(async () => (await b.janus.admin({ request: 'status' })).cluster?.redis?.connected === false,
      { timeout: 20000, interval: 200, what: 'node b finds Redis unreachable' });

    // Healed: b's sync puts its seats back; the tenant is over its cap (18 > 12), said so, and
    // nothing more is granted: a join on node a waits.
    ipCmd(['-n', b.ns, 'route', 'del', 'blackhole', `${redis.ip}/32`]);
    await waitFor(async () => (await nodeShare(b)) === 8, { timeout: 30000, interval: 200, what: 'node b\'s seats back in Redis after the heal' });
    const over = await waitFor(async () => {
      const s = await b.janus.admin({ request: 'status' });
      return s.cluster?.ledger?.over_cap > 0 ? s.cluster.ledger.over_cap : false;
    }, { timeout: 10000, interval: 200, what: 'node b reports the tenant over its cap' });
    console.log(`# healed: the tenant holds ${await ledgerTotal()} seats, ${over} above its cap of ${CAP}`);
    assert.equal(await ledgerTotal(), 18);
    const late = await joiner(a, bag, 'late');
    assert.equal(late.reply.event, 'queued', safeJson(late.reply));
    for (const r of onB) await r.h.request({ request: 'leave' });
    for (const r of onA.slice(0, 4)) await r.h.request({ request: 'leave' });
    // 18 - 12 = 6 over: only once the count is back under the cap does the queue move again.
    await waitFor(async () => (await ledgerTotal()) <= CAP, { timeout: 20000, interval: 200, what: 'the tenant back under its cap' });
    await late.h.waitEvent('admitted', { timeout: 20000, what: 'the late joiner admitted once under the cap' });
    assert.ok((await ledgerTotal()) <= CAP);
  } finally {
    try { ipCmd(['-n', b.ns, 'route', 'del', 'blackhole', `${redis.ip}/32`]); } catch { /* already healed */ }
    await bag.closeAll();
  }
});
