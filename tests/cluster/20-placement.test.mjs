// Placement and redirects (docs/cluster.md, "Placement and redirects"; issue 13): three Janus nodes
// in cluster mode on the harness's Redis, with different capacities. Checks that a room created
// without `node` is placed on the least loaded alive node (most free seats), and moves with the load;
// that a pinned `node` is honoured; that a janode attendee joining on node b for a room homed on node
// a gets the documented redirect, follows it to node a with the ticket and receives the presenter's
// audio and video (packets and decoded frames), while the same ticket replayed, a forged one and
// one for another room are refused with their codes; that a presenter's join on node c is
// redirected too; that in headless Chromium the presenter page opened against node c and the
// attendee page opened against node b both end up on node a, the attendee playing the presenter's
// video; that with node a SIGKILLed both survivors agree on one stand-in for its rooms, where its
// presenter publishes again and an attendee seated on node a rejoins with its rejoin token (no
// credentials, priority) and gets media again; and
// that a node without `cluster_secret`, or with a short one, does not start the plugin.
// Tenant and rooms are created on node a; they reach the others through Redis (shared definitions).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  Bag, assertError, assertEvent, attendee, createTenant, createRoomWith, handle, joinBody, presenter, roomInfo, safeJson, waitFor,
} from '../integration/lib/allhands.mjs';
import { Browser, waitFramesAdvancing, waitState } from '../integration/lib/browser.mjs';
import { Cluster } from './lib/cluster.mjs';

const TENANT = 'place';
const ROOM = 'town';
const OTHER = 'other';
const PRESENTER_SECRET = 'presenter-place';
const HEARTBEAT_MS = 500;
const EXPIRY_MS = 1500;
const CAPACITY = { a: 100, b: 300, c: 200 };
const cluster = new Cluster();
let redis;
let nodes;

function clusterConfig(name) {
  return {
    cluster: true,
    redis_host: redis.ip,
    redis_port: redis.redisPort,
    node_id: `node-${name}`,
    node_url: (j) => j.wsUrl,
    heartbeat_ms: HEARTBEAT_MS,
    node_expiry_ms: EXPIRY_MS,
    capacity: CAPACITY[name],
    rejoin_grace_s: 30,
  };
}

async function clusterView(node) {
  const s = await node.janus.admin({ request: 'status' });
  assert.equal(s.allhands, 'success', safeJson(s));
  return s.cluster;
}

// Until `node`'s view satisfies check(nodes of the view by id).
async function pollView(node, check, what) {
  let last = null;
  await waitFor(async () => {
    last = await clusterView(node);
    const byId = Object.fromEntries((last?.nodes || []).map((n) => [n.id, n]));
    return check(byId);
  }, { timeout: 30000, interval: 100, what: `node ${node.name}: ${what} (last: ${safeJson(last?.nodes)})` });
}

// Definitions are shared through Redis (docs/cluster.md, "Definitions"): a room created on node a
// reaches every node; wait until each has it.
async function createEverywhere(room, extra = {}) {
  await createRoomWith(nodes[0].janus, { tenant: TENANT, room, max_attendees: 50, presenter_secret: PRESENTER_SECRET, ...extra });
  for (const n of nodes) {
    await waitFor(async () => (await n.janus.admin({ request: 'room_info', tenant: TENANT, room })).allhands === 'success',
      { timeout: 20000, interval: 50, what: `node ${n.name}: room ${room} from Redis` });
  }
}

before(async () => {
  redis = await cluster.startRedis('redis');
  nodes = [];
  for (const name of ['a', 'b', 'c']) nodes.push(await cluster.startNode(name, { allhands: clusterConfig(name) }));
  await createTenant(nodes[0].janus, { tenant: TENANT, max_participants: 100 });
  for (const n of nodes) {
    await waitFor(async () => (await n.janus.admin({ request: 'list_tenants' })).tenants?.some((t) => t.tenant === TENANT),
      { timeout: 20000, interval: 50, what: `node ${n.name}: the tenant from Redis` });
  }
  for (const n of nodes) await pollView(n, (v) => ['node-a', 'node-b', 'node-c'].every((id) => v[id]?.alive), 'all three alive');
  await createEverywhere(ROOM, { node: 'node-a' });
  await createEverywhere(OTHER, { node: 'node-a' });
  console.log(`# nodes ${nodes.map((n) => `node-${n.name} ${n.janus.wsUrl} (capacity ${CAPACITY[n.name]})`).join(', ')}`);
});

after(async () => {
  await cluster.teardown();
});

test('a room created without node is placed on the least loaded alive node; a pinned node is honoured', async () => {
  const [a, b] = nodes;
  // Free seats: a 100, b 300, c 200: node b.
  let r = await createRoomWith(a.janus, { tenant: TENANT, room: 'placed1', max_attendees: 10, presenter_secret: PRESENTER_SECRET });
  assert.equal(r.room?.node, 'node-b', safeJson(r));
  assert.equal((await roomInfo(a.janus, TENANT, 'placed1')).node, 'node-b');
  // Load node b: 150 seats held and queued would make it 150 free; instead shrink it to 120 seats
  // (set_capacity), which its next heartbeat tells the others: then node c (200 free) is the least loaded.
  const cap = await b.janus.admin({ request: 'set_capacity', capacity: 120 });
  assert.equal(cap.allhands, 'success', safeJson(cap));
  await pollView(a, (v) => v['node-b']?.capacity === 120, 'node b\'s capacity 120 in node a\'s view');
  r = await createRoomWith(a.janus, { tenant: TENANT, room: 'placed2', max_attendees: 10, presenter_secret: PRESENTER_SECRET });
  assert.equal(r.room?.node, 'node-c', safeJson(r));
  // Pinned.
  r = await createRoomWith(a.janus, { tenant: TENANT, room: 'pinned', max_attendees: 10, presenter_secret: PRESENTER_SECRET, node: 'node-a' });
  assert.equal(r.room?.node, 'node-a', safeJson(r));
  const bad = await a.janus.admin({ request: 'create_room', tenant: TENANT, room: 'bad', max_attendees: 10,
    presenter_secret: PRESENTER_SECRET, node: 'no such/node' });
  assert.equal(bad.error_code, 605, safeJson(bad));
  // list_rooms shows it.
  const list = await a.janus.admin({ request: 'list_rooms', tenant: TENANT });
  const byRoom = Object.fromEntries(list.rooms.map((x) => [x.room, x.node]));
  assert.deepEqual([byRoom.placed1, byRoom.placed2, byRoom.pinned, byRoom[ROOM]], ['node-b', 'node-c', 'node-a', 'node-a']);
  await b.janus.admin({ request: 'set_capacity', capacity: CAPACITY.b });
});

test('janode: an attendee joining on node b is redirected to node a, joins there with the ticket and gets the presenter\'s media; the ticket is one-time', async () => {
  const [a, b, c] = nodes;
  const peers = new Bag();
  try {
    await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Home presenter' });
    // On node b: the redirect, and nothing joined there.
    const onB = await handle(b.janus, peers);
    const t0 = Date.now();
    const r = await onB.request(joinBody({ tenant: TENANT, room: ROOM, display: 'Redirected attendee' }));
    assertEvent(r.data, 'redirect', 'join on node b');
    assert.equal(r.data.url, a.janus.wsUrl);
    assert.equal(r.data.node, 'node-a');
    assert.equal(r.data.tenant, TENANT);
    assert.equal(r.data.room, ROOM);
    assert.equal(r.data.ptype, 'attendee');
    assert.equal(r.data.expires_in_s, 60);
    assert.equal(typeof r.data.ticket, 'string');
    assert.ok(!r.jsep, 'a redirect carries no offer');
    const ticket = r.data.ticket;
    const infoB = await roomInfo(b.janus, TENANT, ROOM);
    assert.equal(infoB.counts.admitted + infoB.counts.queued, 0, `nothing joined on node b: ${safeJson(infoB.counts)}`);
    // Follow it: a new session on node a, as janode does by itself.
    const at = await attendee(a.janus, peers);
    const j = await at.join({ request: 'join', tenant: TENANT, room: ROOM, display: 'Redirected attendee', ticket });
    // In cluster mode a room's first attendee may wait for the node's first seat claim (one Redis
    // round trip: docs/cluster.md, "Cluster admission"): queued, then admitted.
    if (j.data.event !== 'admitted') {
      assertEvent(j.data, 'queued', 'join on node a with the ticket');
      await at.h.waitEvent('admitted', { timeout: 10000, what: 'the redirected attendee admitted' });
    }
    console.log(`# redirect: join on node b to admitted on node a in ${Date.now() - t0} ms`);
    await at.waitMedia({ audio: true, video: true });
    const totals = await at.totals();
    console.log(`# redirected attendee: audio ${totals.audio.packets} packets, video ${totals.video.packets} packets / ${totals.video.frames} frames decoded`);
    assert.ok(totals.audio.packets > 0 && totals.video.frames > 0, safeJson(totals));
    // The same ticket again: ticket_used; one character changed: ticket_invalid; for another room: ticket_mismatch.
    const again = await handle(a.janus, peers);
    assertError((await again.request({ request: 'join', tenant: TENANT, room: ROOM, ticket })).data, 672, 'ticket_used');
    const fresh = (await onB.request(joinBody({ tenant: TENANT, room: ROOM }))).data;
    assertEvent(fresh, 'redirect');
    const last = fresh.ticket.slice(-2, -1);
    const forged = `${fresh.ticket.slice(0, -2)}${last === 'A' ? 'B' : 'A'}${fresh.ticket.slice(-1)}`;
    assertError((await again.request({ request: 'join', tenant: TENANT, room: ROOM, ticket: forged })).data, 670, 'ticket_invalid');
    assertError((await again.request({ request: 'join', tenant: TENANT, room: OTHER, ticket: fresh.ticket })).data, 673, 'ticket_mismatch');
    // On node c (not the ticket's node): mismatch too.
    const onC = await handle(c.janus, peers);
    assertError((await onC.request({ request: 'join', tenant: TENANT, room: ROOM, ticket: fresh.ticket })).data, 673, 'ticket_mismatch');
    // Still unused on node a: good once (admitted, or queued until the node's next seat claim is answered).
    const once = (await again.request({ request: 'join', tenant: TENANT, room: ROOM, ticket: fresh.ticket })).data;
    assert.ok(once.event === 'admitted' || once.event === 'queued', `the ticket is taken: ${safeJson(once)}`);
    // A presenter's join on node c: credentials checked there, then redirected.
    const pc = await handle(c.janus, peers);
    assertError((await pc.request(joinBody({ tenant: TENANT, room: ROOM, ptype: 'presenter', presenter_secret: 'wrong-secret' }))).data,
      613, 'wrong_secret');
    const pr = (await pc.request(joinBody({ tenant: TENANT, room: ROOM, ptype: 'presenter', presenter_secret: PRESENTER_SECRET }))).data;
    assertEvent(pr, 'redirect');
    assert.equal(pr.ptype, 'presenter');
    const pa = await handle(a.janus, peers);
    const pj = (await pa.request({ request: 'join', tenant: TENANT, room: ROOM, ptype: 'presenter', ticket: pr.ticket, display: 'Second' })).data;
    assertEvent(pj, 'joined', 'presenter join on node a with the ticket');
    // The operators' status counts the tickets: node b issued 2, node c 1; node a took 3, refused 3.
    const placement = async (n) => (await n.janus.admin({ request: 'status' })).node.placement;
    const [pa2, pb2, pc2] = [await placement(a), await placement(b), await placement(c)];
    console.log(`# placement in status: node a ${safeJson(pa2)}, node b ${safeJson(pb2.tickets)}, node c ${safeJson(pc2.tickets)}`);
    assert.equal(pa2.node_id, 'node-a');
    assert.equal(pa2.nodes_known, 3);
    assert.deepEqual([pb2.tickets.issued, pc2.tickets.issued], [2, 1]);
    assert.deepEqual([pa2.tickets.taken, pa2.tickets.refused, pa2.tickets.remembered], [3, 3, 3]);
    assert.equal(pc2.tickets.refused, 1, 'node c refused the ticket for node a');
  } finally {
    await peers.closeAll();
  }
});

test('the presenter page opened against node c and the attendee page opened against node b both follow their redirects: the attendee plays the presenter\'s video from node a', async () => {
  const [a, b, c] = nodes;
  const br = await new Browser().start();
  try {
    // The presenter page, on node c: redirected to node a, joined there, goes live.
    const host = await br.openPresenter({ server: `${c.janus.wsUrl}/`, tenant: TENANT, room: ROOM, secret: PRESENTER_SECRET,
      display: 'Page presenter', autojoin: 1 }, { name: 'presenter' });
    await waitState(host, 'joined', 45000);
    await host.locator('#go-live-button').click();
    await waitState(host, 'live', 45000);
    await waitFor(async () => {
      const info = await roomInfo(a.janus, TENANT, ROOM);
      return info.presenters.some((p) => p.display === 'Page presenter' && p.publishing);
    }, { timeout: 20000, what: 'the presenter page publishing on node a' });
    assert.equal((await roomInfo(c.janus, TENANT, ROOM)).presenters.length, 0, 'nobody joined on node c');
    const page = await br.openAttendee({ server: `${b.janus.wsUrl}/`, tenant: TENANT, room: ROOM, display: 'Page viewer', autojoin: 1 });
    await waitState(page, 'watching', 60000);
    const v = await waitFramesAdvancing(page, '#videos video', 45000);
    console.log(`# attendee page: watching via node b -> node a, video ${safeJson(v)}`);
    // Seated on node a, not on node b.
    await waitFor(async () => {
      const info = await roomInfo(a.janus, TENANT, ROOM);
      return info.attendees.some((x) => x.display === 'Page viewer');
    }, { timeout: 20000, what: 'the page\'s attendee seated on node a' });
    const infoB = await roomInfo(b.janus, TENANT, ROOM);
    assert.equal(infoB.counts.admitted + infoB.counts.queued, 0, safeJson(infoB.counts));
    assert.deepEqual(page.ahErrors, [], 'no uncaught errors in the attendee page');
    assert.deepEqual(host.ahErrors, [], 'no uncaught errors in the presenter page');
  } finally {
    await br.close();
  }
});

test('home node SIGKILLed: one stand-in serves its room for every node; a seated attendee rejoins there with its rejoin token and gets media again', async () => {
  const [a, b, c] = nodes;
  const peers = new Bag();
  try {
    // An attendee seated on node a (redirected from node b), with a rejoin token.
    await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Before' });
    const first = await attendee(b.janus, peers);
    const red = (await first.join(joinBody({ tenant: TENANT, room: ROOM, display: 'Survivor' }))).data;
    assertEvent(red, 'redirect');
    const seated = await attendee(a.janus, peers);
    const j = (await seated.join({ request: 'join', tenant: TENANT, room: ROOM, display: 'Survivor', ticket: red.ticket })).data;
    const admitted = j.event === 'admitted' ? j : (await seated.h.waitEvent('admitted', { timeout: 10000 })).data;
    const token = admitted.rejoin_token;
    assert.ok(typeof token === 'string' && token.length > 33 && token[32] === '.', `a cluster rejoin token: ${safeJson(admitted)}`);
    await seated.waitMedia({ audio: true, video: true });

    await cluster.killNode(a);
    const killed = Date.now();
    await pollView(b, (v) => v['node-a']?.alive === false, 'node a not alive');
    await pollView(c, (v) => v['node-a']?.alive === false, 'node a not alive');
    // Both survivors name the same stand-in: a join on either ends there.
    const standIn = {};
    for (const n of [b, c]) {
      const h = await handle(n.janus, peers);
      const r = (await h.request(joinBody({ tenant: TENANT, room: OTHER }))).data;
      standIn[n.name] = r.event === 'redirect' ? r.node : `node-${n.name}`;
      assert.ok(r.event === 'redirect' || r.event === 'admitted' || r.event === 'queued', safeJson(r));
    }
    assert.equal(standIn.b, standIn.c, `one stand-in: ${safeJson(standIn)}`);
    const serving = nodes.find((n) => `node-${n.name}` === standIn.b);
    console.log(`# node a dead ${Date.now() - killed} ms after the SIGKILL; ${standIn.b} stands in for its rooms`);

    // The presenter comes back on the stand-in (as its page does: any node redirects it there).
    const p2 = await presenter(serving.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'After' });
    assert.ok(p2.id > 0);
    // The attendee rejoins with its token, from node b (redirected if b is not the stand-in), without
    // its credentials, in the priority class; it receives media again.
    const again = await attendee(b.janus, peers);
    let r = (await again.join({ request: 'join', tenant: TENANT, room: ROOM, display: 'Survivor', rejoin_token: token })).data;
    let on = again;
    if (r.event === 'redirect') {
      assert.equal(r.node, standIn.b);
      on = await attendee(serving.janus, peers);
      r = (await on.join({ request: 'join', tenant: TENANT, room: ROOM, display: 'Survivor', ticket: r.ticket })).data;
    } else {
      assert.equal(r.rejoined_from, 'dead_node', safeJson(r));
    }
    if (r.event !== 'admitted') {
      assertEvent(r, 'queued');
      await on.h.waitEvent('admitted', { timeout: 10000, what: 'the rejoiner admitted' });
    }
    await on.waitMedia({ audio: true, video: true });
    console.log(`# the attendee seated on node a receives media again on ${standIn.b} ${Date.now() - killed} ms after node a's SIGKILL`);
    // The same token does not work twice on the node that took it (it took it directly, or the
    // redirect's ticket was made from it on node b and taken on the stand-in: then node b checks it again).
    if (serving === b) {
      const twice = await handle(b.janus, peers);
      const t2 = (await twice.request({ request: 'join', tenant: TENANT, room: ROOM, rejoin_token: token })).data;
      assert.notEqual(t2.rejoined_from, 'dead_node', safeJson(t2));
    }
    // With every node dead but none, nothing to stand in: only a view with no alive node says home_unavailable
    // (unit-tested in test-engine-place.c).
  } finally {
    await peers.closeAll();
  }
});

test('a node in cluster mode without cluster_secret, or with a short one, refuses to start the plugin and says why', async () => {
  const cases = [
    ['d', null, /allhands: cluster_secret is required in cluster mode/],
    ['e', 'short-secret', /allhands: cluster_secret must be 32 to 256 characters \(it is 12\)/],
  ];
  for (const [name, secret, why] of cases) {
    await assert.rejects(cluster.startNode(name, { allhands: { ...clusterConfig('a'), node_id: `node-${name}`, cluster_secret: secret } },
      { timeout: 8000 }), /plugin janus\.plugin\.allhands is not loaded/, `node ${name} must not load the plugin`);
    const node = cluster.nodes.find((n) => n.name === name);
    const log = fs.readFileSync(node.janus.logFile, 'utf8');
    assert.match(log, why);
    assert.match(log, /allhands: bad cluster configuration: the plugin does not start/);
    console.log(`# node ${name}: ${log.split('\n').find((l) => why.test(l)).trim()}`);
  }
});
