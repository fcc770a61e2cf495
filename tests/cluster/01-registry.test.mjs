// Cluster mode's first slice (docs/cluster.md, "Node registry"): three Janus nodes with `cluster = true`
// on the harness's redis-server. Checks that every node's `status` lists all three alive with their
// URLs and figures (and its Prometheus metrics count them, and the dashboard lists them), while a
// tenant's status shows no cluster;
// that a SIGKILLed node shows `alive: false` on the others (how long that took is printed, not
// asserted) and is alive again once restarted; that with Redis killed every node says it is
// disconnected and keeps serving an attendee's media, and a new join waits in the queue (admitted,
// with media, once Redis is back); that after Redis is restarted
// empty all three register again and are back in every node's view (taken from the new server); and
// that a node with `cluster = true` and no `node_url`, or a bad `node_id`, refuses to start the plugin
// with a clear log line.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  Bag, assertEvent, attendee, createRoom, createTenant, handle, joinBody, presenter, safeJson, waitFor,
} from '../integration/lib/allhands.mjs';
import { Browser } from '../integration/lib/browser.mjs';
import { httpGet, parseExposition } from '../integration/lib/prometheus.mjs';
import { Cluster } from './lib/cluster.mjs';

const TENANT = 'registry';
const ROOM = 'fleet';
const PRESENTER_SECRET = 'presenter-registry';
const HEARTBEAT_MS = 500;
const EXPIRY_MS = 1500;
const METRICS_PORT = 9464;
const cluster = new Cluster();
let redis;
let nodes;

// A node's allhands config in cluster mode (`extra` overrides; null leaves a key out).
function clusterConfig(id, extra = {}) {
  return {
    cluster: true,
    redis_host: redis.ip,
    redis_port: redis.redisPort,
    node_id: id,
    node_url: (j) => j.wsUrl,
    heartbeat_ms: HEARTBEAT_MS,
    node_expiry_ms: EXPIRY_MS,
    metrics_port: METRICS_PORT,
    metrics_address: (j) => j.apiHost,
    ...extra,
  };
}

const nodeId = (node) => `node-${node.name}`;

async function clusterStatus(node) {
  const s = await node.janus.admin({ request: 'status' });
  assert.equal(s.allhands, 'success', safeJson(s));
  return s.cluster;
}

// Poll `node`'s status until `check(cluster)` holds; returns the cluster object and how long it took.
async function pollCluster(node, check, what) {
  const start = Date.now();
  let last = null;
  await waitFor(async () => {
    last = await clusterStatus(node);
    return check(last);
  }, { timeout: 30000, interval: 100, what: `node ${node.name}: ${what} (last cluster: ${safeJson(last)})` });
  return { cluster: last, ms: Date.now() - start };
}

const byId = (c, id) => c.nodes.find((n) => n.id === id);
const allAlive = (c, list) => list.every((n) => byId(c, nodeId(n))?.alive === true);

async function redisRunId() {
  const info = await redis.ask(null, 'info', 'server');
  const m = /run_id:(\w+)/.exec(info);
  assert.ok(m, `run_id in INFO server: ${info.slice(0, 200)}`);
  return m[1];
}

before(async () => {
  redis = await cluster.startRedis('redis');
  nodes = [];
  for (const name of ['a', 'b', 'c']) nodes.push(await cluster.startNode(name, { allhands: clusterConfig(`node-${name}`) }));
  const [a] = nodes;
  await createTenant(a.janus, { tenant: TENANT, max_participants: 20 });
  await createRoom(a.janus, { tenant: TENANT, room: ROOM, max_attendees: 10, presenter_secret: PRESENTER_SECRET });
  console.log(`# redis ${redis.address}; nodes ${nodes.map((n) => `${nodeId(n)} ${n.janus.wsUrl}`).join(', ')}`);
});

after(async () => {
  await cluster.teardown();
});

test('every node\'s status lists all three nodes alive, with their URLs and figures; metrics count them', async () => {
  const runId = await redisRunId();
  for (const node of nodes) {
    const { cluster: c, ms } = await pollCluster(node, (x) => x && x.nodes.length === 3 && allAlive(x, nodes),
      'all three nodes alive');
    console.log(`# node ${node.name}: all three alive after ${ms} ms of polling`);
    assert.equal(c.node_id, nodeId(node));
    assert.equal(c.node_url, node.janus.wsUrl);
    assert.equal(c.heartbeat_ms, HEARTBEAT_MS);
    assert.equal(c.node_expiry_ms, EXPIRY_MS);
    assert.equal(c.redis.connected, true, safeJson(c.redis));
    assert.equal(c.redis.run_id, runId, 'the run_id of the harness\'s Redis');
    assert.equal(c.view_run_id, runId);
    for (const k of ['errors', 'timeouts', 'commands']) assert.equal(typeof c.redis[k], 'number', `redis.${k}`);
    assert.ok(c.redis.commands > 0, safeJson(c.redis));
    assert.ok(c.redis.rtt_ms.p99 >= c.redis.rtt_ms.p50 && c.redis.rtt_ms.p50 >= 0, safeJson(c.redis.rtt_ms));
    assert.deepEqual(c.nodes.map((n) => n.id), nodes.map(nodeId), 'sorted by id');
    for (const other of nodes) {
      const n = byId(c, nodeId(other));
      assert.equal(n.url, other.janus.wsUrl, `node ${node.name} knows where ${other.name} is`);
      assert.equal(n.capacity, 200);
      assert.ok(n.age_ms >= 0 && Number.isInteger(n.age_ms), safeJson(n));
      for (const k of ['seats_held', 'connecting', 'queued', 'presenters', 'rooms', 'tenants', 'started_at']) {
        assert.ok(Number.isInteger(n[k]) && n[k] >= 0, `${k}: ${safeJson(n)}`);
      }
      assert.equal(typeof n.version, 'string');
      assert.ok(n.cpu === null || typeof n.cpu === 'number', safeJson(n));
    }
    console.log(`# node ${node.name}: redis rtt p50 ${c.redis.rtt_ms.p50} ms, p99 ${c.redis.rtt_ms.p99} ms, ${c.redis.commands} commands`);
  }
  // The tenant and its room, created on node a, are every node's (shared definitions, 10-definitions):
  // each node's figures count them, as node b sees them (within a heartbeat or two).
  await pollCluster(nodes[1], (x) => nodes.every((n) => byId(x, nodeId(n))?.rooms === 1 && byId(x, nodeId(n))?.tenants === 1),
    'every node\'s figures: one tenant, one room');

  // The same through a plugin handle with admin_key; a tenant's own status shows no cluster.
  const bag = new Bag();
  try {
    const h = await handle(nodes[0].janus, bag);
    const viaHandle = (await h.request({ request: 'status', admin_key: nodes[0].janus.adminKey })).data;
    assert.equal(viaHandle.cluster?.node_id, 'node-a', safeJson(viaHandle.cluster));
    assert.equal(viaHandle.cluster.nodes.length, 3);
    const mine = (await h.request({ request: 'status', tenant: TENANT, tenant_secret: `sec-${TENANT}-tenant-secret` })).data;
    assert.equal(mine.allhands, 'success', safeJson(mine));
    assert.equal(mine.cluster, undefined, 'a tenant sees no cluster (nor node) figures');
    assert.equal(mine.node, undefined);
  } finally {
    await bag.closeAll();
  }

  // The first scrape may get the snapshot rendered at start; the next ones are at most a second old.
  let m = null;
  await waitFor(async () => {
    const res = await httpGet(`http://${nodes[0].ip}:${METRICS_PORT}/metrics`);
    assert.equal(res.status, 200, res.body);
    m = parseExposition(res.body);
    return m.get('allhands_cluster_nodes', { state: 'alive' }) === 3;
  }, { timeout: 20000, interval: 250, what: 'node a\'s metrics: allhands_cluster_nodes{state="alive"} 3' });
  assert.equal(m.get('allhands_redis_connected'), 1);
  assert.equal(m.get('allhands_cluster_nodes', { state: 'dead' }), 0);
  assert.ok(m.get('allhands_redis_commands_total') > 0);
  assert.ok(m.get('allhands_redis_rtt_seconds', { quantile: '0.99' }) >= m.get('allhands_redis_rtt_seconds', { quantile: '0.5' }));
  for (const name of ['allhands_redis_errors_total', 'allhands_redis_timeouts_total']) assert.equal(typeof m.get(name), 'number', name);
});

test('the dashboard (headless Chromium) shows the cluster card with the three nodes alive', async () => {
  const [a] = nodes;
  const br = await new Browser().start();
  try {
    const dash = await br.openDashboard({ admin: a.janus.adminUrl, admin_secret: a.janus.adminSecret });
    const rows = await waitFor(() => dash.evaluate(() => {
      const card = document.getElementById('cluster');
      const trs = [...document.querySelectorAll('#cluster-nodes tbody tr')];
      const cell = (tr, f) => tr.querySelector(`[data-field="${f}"]`)?.textContent;
      const got = trs.map((tr) => ({ id: tr.dataset.node, alive: cell(tr, 'alive'), url: cell(tr, 'url') }));
      return card && !card.hidden && got.length === 3 && got.every((r) => r.alive === 'yes') ? got : false;
    }), { timeout: 20000, interval: 250, what: 'the dashboard\'s cluster card with three alive nodes' });
    assert.deepEqual(rows.map((r) => r.id), nodes.map(nodeId));
    assert.deepEqual(rows.map((r) => r.url), nodes.map((n) => n.janus.wsUrl));
    const summary = await dash.evaluate(() => document.getElementById('cluster-summary').textContent);
    assert.match(summary, /This node: node-a\. Redis connected .*3 of 3 nodes alive/, summary);
    // The room's presenter seat was claimed as a stage seat when it was created: the ledger line says so.
    const ledger = await dash.evaluate(() => { const p = document.getElementById('cluster-ledger'); return p.hidden ? null : p.textContent; });
    assert.match(ledger || '', /^Seat ledger: [1-9]\d* seats granted in [1-9]\d* claims/, ledger);
    console.log(`# dashboard: ${ledger}`);
    console.log(`# dashboard: ${summary}`);
    assert.deepEqual(dash.ahErrors, [], 'no uncaught errors in the dashboard');
  } finally {
    await br.close();
  }
});

test('a SIGKILLed node shows alive: false on the others, and alive again once restarted', async () => {
  const [a, b, c] = nodes;
  const exit = await cluster.killNode(c);
  assert.equal(exit.signal, 'SIGKILL');
  const killed = Date.now();
  for (const node of [a, b]) {
    await pollCluster(node, (x) => byId(x, 'node-c')?.alive === false, 'node c not alive');
    const seen = await clusterStatus(node);
    console.log(`# node ${node.name} shows node c dead ${Date.now() - killed} ms after the SIGKILL ` +
      `(node_expiry_ms ${EXPIRY_MS}, heartbeat_ms ${HEARTBEAT_MS}); its last heartbeat ${byId(seen, 'node-c').age_ms} ms ago`);
    assert.equal(byId(seen, 'node-c').url, c.janus.wsUrl, 'a dead node keeps its last figures');
    assert.ok(allAlive(seen, [a, b]), safeJson(seen.nodes));
  }
  await c.janus.start();
  for (const node of nodes) {
    const { ms } = await pollCluster(node, (x) => x && allAlive(x, nodes), 'all three alive after node c restarted');
    console.log(`# node ${node.name}: node c alive again after ${ms} ms of polling`);
  }
});

test('Redis killed: every node says disconnected and keeps serving an attendee\'s media; restarted empty: all three are back', async () => {
  const [a] = nodes;
  const oldRunId = await redisRunId();
  const peers = new Bag();
  try {
    await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'registry presenter' });
    const at = await attendee(a.janus, peers);
    // In cluster mode a room's first attendee waits for the node's first claim on the ledger (one
    // Redis round trip): it is told `queued`, then `admitted`.
    const first = (await at.join(joinBody({ tenant: TENANT, room: ROOM, display: 'before the kill' }))).data;
    if (first.event !== 'admitted') {
      assertEvent(first, 'queued');
      await at.h.waitEvent('admitted', { timeout: 10000, what: 'the first attendee admitted after the claim' });
    }
    await at.waitMedia({ audio: true, video: true });

    assert.equal((await redis.kill()).signal, 'SIGKILL');
    const killed = Date.now();
    for (const node of nodes) {
      const { cluster: c } = await pollCluster(node, (x) => x.redis.connected === false, 'Redis disconnected');
      console.log(`# node ${node.name}: status says Redis disconnected ${Date.now() - killed} ms after the kill ` +
        `(${c.redis.errors} errors, ${c.redis.timeouts} timeouts)`);
    }
    // Nothing on the media path or in admission waits for Redis.
    await at.waitMedia({ audio: true, video: true });
    // A join while Redis is down waits in the queue: no seat is granted without the ledger
    // (docs/cluster.md, "Redis unreachable"); it is admitted once Redis is back.
    const late = await attendee(a.janus, peers);
    const lateJoin = await late.join(joinBody({ tenant: TENANT, room: ROOM, display: 'while Redis is down' }));
    assertEvent(lateJoin.data, 'queued', 'a join while Redis is down');
    const t = await at.totals();
    console.log(`# attendee on node a while Redis is down: audio ${t.audio.packets} packets, video ${t.video.frames} frames decoded`);
    const down = await clusterStatus(a);
    assert.equal(down.redis.connected, false, safeJson(down.redis));
    assert.ok(down.view_age_ms >= 0 && down.nodes.length === 3, `the last view is kept, ageing: ${safeJson(down)}`);

    await redis.restartEmpty();
    const newRunId = await redisRunId();
    assert.notEqual(newRunId, oldRunId, 'a new Redis server');
    const restarted = Date.now();
    for (const node of nodes) {
      const { cluster: c } = await pollCluster(node,
        (x) => x.redis.connected && x.view_run_id === newRunId && x.nodes.length === 3 && allAlive(x, nodes),
        'all three alive in a view from the restarted Redis');
      assert.equal(c.redis.run_id, newRunId);
      console.log(`# node ${node.name}: all three back in its view ${Date.now() - restarted} ms after Redis restarted empty`);
    }
    assert.equal(await redis.ask(null, 'hlen', 'ah:nodes'), '3', 'the registry in Redis holds the three nodes again');
    await at.waitMedia({ audio: true, video: true });
    // The queued attendee is admitted once the ledger is rebuilt (after its grace), with media.
    await late.h.waitEvent('admitted', { timeout: 30000, what: 'the attendee queued while Redis was down admitted' });
    console.log(`# the attendee queued while Redis was down admitted ${Date.now() - restarted} ms after Redis restarted empty`);
    await late.waitMedia({ audio: true, video: true });
  } finally {
    await peers.closeAll();
  }
});

test('a node with cluster = true and no node_url, or a bad node_id, refuses to start the plugin and says why', async () => {
  const cases = [
    ['d', { node_url: null }, /allhands: node_url is required in cluster mode/],
    ['e', { node_id: 'node e!' }, /allhands: node_id = node e! must be 1 to 64 characters/],
  ];
  for (const [name, extra, why] of cases) {
    // Janus answers without the plugin: start() keeps asking until its timeout, then gives up.
    await assert.rejects(cluster.startNode(name, { allhands: clusterConfig(`node-${name}`, extra) }, { timeout: 8000 }),
      /plugin janus\.plugin\.allhands is not loaded/, `node ${name} must not load the plugin`);
    const node = cluster.nodes.find((n) => n.name === name);
    const log = fs.readFileSync(node.janus.logFile, 'utf8');
    assert.match(log, why);
    assert.match(log, /allhands: bad cluster configuration: the plugin does not start/);
    console.log(`# node ${name}: ${log.split('\n').find((l) => why.test(l)).trim()}`);
  }
  // The three others never heard of them.
  const c = await clusterStatus(nodes[0]);
  assert.deepEqual(c.nodes.map((n) => n.id), nodes.map(nodeId));
});
