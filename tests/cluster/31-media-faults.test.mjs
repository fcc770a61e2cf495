// Media across nodes, faults (issue 14; docs/cluster-media.md, "Faults"): four Janus nodes in cluster
// mode on the harness's Redis, a room homed on node a (its origin), attendees on edges b, c and d.
//   1. Edge b SIGKILLed: its attendee rejoins elsewhere with its rejoin token (on node c, which sends it
//      to the room's origin with a priority ticket, without the room's pin) and gets media again (measured).
//   2. Origin a SIGKILLed: the survivors agree on a stand-in; the presenter republishes there (as its
//      page does: any node redirects it); the attendees on c and d keep their PeerConnections (no new
//      one, the same handle) and receive the new origin's media after a gap (measured): the edge that
//      is the stand-in serves them itself, the other one subscribes to it.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, attendee, createTenant, createRoomWith, handle, presenter, safeJson, waitFor,
} from '../integration/lib/allhands.mjs';
import { Cluster, seatTicket } from './lib/cluster.mjs';

const TENANT = 'faults';
const ROOM = 'hall';
const PRESENTER_SECRET = 'presenter-faults';
const cluster = new Cluster();
let redis;
let nodes;
const peers = new Bag();

function clusterConfig(name) {
  return {
    cluster: true,
    redis_host: redis.ip,
    redis_port: redis.redisPort,
    node_id: `node-${name}`,
    node_url: (j) => j.wsUrl,
    heartbeat_ms: 500,
    node_expiry_ms: 1500,
    capacity: 100,
    rejoin_grace_s: 30,
    edge_linger_ms: 2000,
  };
}

async function status(node) {
  const s = await node.janus.admin({ request: 'status' });
  assert.equal(s.allhands, 'success', safeJson(s));
  return s.cluster;
}

async function edgeAttendee(node, display) {
  const at = await attendee(node.janus, peers);
  const j = await at.join({ request: 'join', tenant: TENANT, room: ROOM, display, ticket: seatTicket(`node-${node.name}`, { tenant: TENANT, room: ROOM }) });
  const admitted = j.data.event === 'admitted' ? j.data
    : (await at.h.waitEvent('admitted', { timeout: 10000, what: `attendee on node ${node.name} admitted` })).data;
  at.admitted = admitted;
  return at;
}

// Join on `node` with `body`, following redirects (a redirect reply or event names the node and a ticket).
async function joinFollowing(node, body, { hops = 3 } = {}) {
  let on = node;
  let at = await attendee(on.janus, peers);
  let r = (await at.join(body)).data;
  for (let i = 0; i < hops && r.event === 'redirect'; i++) {
    on = nodes.find((n) => `node-${n.name}` === r.node);
    assert.ok(on, `redirected to a known node: ${safeJson(r)}`);
    at = await attendee(on.janus, peers);
    r = (await at.join({ request: 'join', tenant: body.tenant, room: body.room, display: body.display, ticket: r.ticket })).data;
  }
  if (r.event !== 'admitted') {
    assertEvent(r, 'queued', `join on node ${on.name}`);
    await at.h.waitEvent('admitted', { timeout: 15000, what: `admitted on node ${on.name}` });
  }
  return { at, on, reply: r };
}

before(async () => {
  redis = await cluster.startRedis('redis');
  nodes = [];
  for (const name of ['a', 'b', 'c', 'd']) nodes.push(await cluster.startNode(name, { allhands: clusterConfig(name) }));
  await createTenant(nodes[0].janus, { tenant: TENANT, max_participants: 100 });
  await createRoomWith(nodes[0].janus, { tenant: TENANT, room: ROOM, max_attendees: 50, presenter_secret: PRESENTER_SECRET, node: 'node-a',
    pin: '2468' }); // attendees need the pin, unless a ticket or a dead node's rejoin token stands for it
  for (const n of nodes) {
    await waitFor(async () => (await n.janus.admin({ request: 'room_info', tenant: TENANT, room: ROOM })).allhands === 'success',
      { timeout: 20000, interval: 50, what: `node ${n.name}: room from Redis` });
    await waitFor(async () => ((await status(n)).nodes || []).filter((x) => x.alive).length === 4,
      { timeout: 20000, interval: 100, what: `node ${n.name} sees four nodes` });
  }
});

after(async () => {
  await peers.closeAll();
  await cluster.teardown();
});

let onC;
let onD;

test('edge SIGKILLed: its attendee rejoins through another node with its rejoin token and gets media again', async () => {
  const [a, b, c, d] = nodes;
  await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Origin' });
  const onB = await edgeAttendee(b, 'On b');
  onC = await edgeAttendee(c, 'On c');
  onD = await edgeAttendee(d, 'On d');
  for (const at of [onB, onC, onD]) await at.waitMedia({ audio: true, video: true });
  const token = onB.admitted.rejoin_token;
  assert.ok(typeof token === 'string' && token[32] === '.', `a cluster rejoin token: ${safeJson(onB.admitted)}`);
  await cluster.killNode(b);
  const killed = Date.now();
  onB.close();
  // The client tries its entry node again (c here) with its rejoin token until b is seen dead.
  let back = null;
  await waitFor(async () => {
    const h = await handle(c.janus, peers);
    const r = (await h.request({ request: 'join', tenant: TENANT, room: ROOM, display: 'On b', rejoin_token: token })).data;
    h.client.close();
    if (r.event === 'redirect') { back = r; return true; }
    // Until node c sees b dead, the token is not honoured there: the pin is asked for.
    assert.equal(r.event, 'error', safeJson(r));
    return false;
  }, { timeout: 15000, interval: 250, what: 'node c honours the dead edge\'s rejoin token' });
  console.log(`# edge b dead for node c ${Date.now() - killed} ms after its SIGKILL: redirect to ${back.node}`);
  const { at, on } = await joinFollowing(c, { request: 'join', tenant: TENANT, room: ROOM, display: 'On b', rejoin_token: token });
  await at.waitMedia({ audio: true, video: true });
  console.log(`# the attendee of the killed edge receives media again on node ${on.name} ${Date.now() - killed} ms after the SIGKILL`);
  // The other edges never noticed.
  for (const x of [onC, onD]) await x.waitMedia({ audio: true, video: true });
  // The origin dropped the dead edge once it stopped subscribing.
  await waitFor(async () => !((await status(a)).media.origin_of.find((r) => r.room === ROOM)?.edges || []).some((e) => e.node === 'node-b'),
    { timeout: 10000, interval: 200, what: 'node a drops edge b' });
});

test('origin SIGKILLed: the presenter republishes on the stand-in; attendees on the edges keep their PeerConnections and get media again', async () => {
  const [a, , c, d] = nodes;
  const pcs = [onC.pc, onD.pc];
  await cluster.killNode(a);
  const killed = Date.now();
  for (const n of [c, d]) {
    await waitFor(async () => ((await status(n)).nodes || []).find((x) => x.id === 'node-a')?.alive === false,
      { timeout: 10000, interval: 100, what: `node ${n.name} sees node a dead` });
  }
  // The presenter's page reconnects to any node: it is redirected to the stand-in and publishes there.
  const h = await handle(c.janus, peers);
  const r = (await h.request({ request: 'join', tenant: TENANT, room: ROOM, ptype: 'presenter', presenter_secret: PRESENTER_SECRET, display: 'Back' })).data;
  h.client.close();
  const standIn = r.event === 'redirect' ? nodes.find((n) => `node-${n.name}` === r.node) : c;
  assert.ok(standIn === c || standIn === d, `the stand-in is a survivor: ${safeJson(r)}`);
  await presenter(standIn.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Back' });
  const republished = Date.now();
  for (const [name, at] of [['c', onC], ['d', onD]]) {
    await at.waitMedia({ audio: true, video: true, timeout: 30000 });
    console.log(`# attendee on node ${name}: media again ${Date.now() - killed} ms after the origin's SIGKILL (${Date.now() - republished} ms after the republish on ${standIn.janus.name ?? standIn.name})`);
  }
  assert.equal(onC.pc, pcs[0], 'the attendee on c kept its PeerConnection');
  assert.equal(onD.pc, pcs[1], 'the attendee on d kept its PeerConnection');
  for (const at of [onC, onD]) assert.equal(at.pc.connectionState, 'connected');
  const other = standIn === c ? d : c;
  const m = (await status(other)).media;
  assert.equal(m.edge_of.find((x) => x.room === ROOM)?.origin, `node-${standIn.name}`, safeJson(m.edge_of));
});
