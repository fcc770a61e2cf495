// Media across nodes, a tree of edges (issue 14; docs/cluster-media.md, "Trees"): four Janus nodes with
// edge_fanout = 1 (each node feeds at most one edge directly per room), a room homed on node a. Edges b,
// c and d subscribe in turn: b is fed by a; c is sent on to b; d to b, then on to c: a chain a -> b -> c -> d.
//   1. The attendee on d receives the presenter's audio and video through three hops; status shows the
//      tree on the origin ([edge, parent] pairs) and each edge's parent.
//   2. The middle edge c SIGKILLed: d finds its parent silent, goes back to the origin, is placed in the
//      tree again, and its attendee gets media again on the same PeerConnection (measured).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, attendee, createTenant, createRoomWith, presenter, safeJson, waitFor,
} from '../integration/lib/allhands.mjs';
import { Cluster, seatTicket } from './lib/cluster.mjs';

const TENANT = 'tree';
const ROOM = 'keynote';
const PRESENTER_SECRET = 'presenter-tree';
const cluster = new Cluster();
let redis;
let nodes;
const peers = new Bag();
const at = {};

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
    edge_fanout: 1,
    edge_linger_ms: 2000,
  };
}

async function media(node) {
  const s = await node.janus.admin({ request: 'status' });
  assert.equal(s.allhands, 'success', safeJson(s));
  return s.cluster.media;
}

async function edgeAttendee(node, display) {
  const a = await attendee(node.janus, peers);
  const j = await a.join({ request: 'join', tenant: TENANT, room: ROOM, display, ticket: seatTicket(`node-${node.name}`, { tenant: TENANT, room: ROOM }) });
  if (j.data.event !== 'admitted') await a.h.waitEvent('admitted', { timeout: 10000, what: `attendee on node ${node.name} admitted` });
  return a;
}

const edgeOf = async (node) => (await media(node)).edge_of.find((r) => r.room === ROOM);

before(async () => {
  redis = await cluster.startRedis('redis');
  nodes = [];
  for (const name of ['a', 'b', 'c', 'd']) nodes.push(await cluster.startNode(name, { allhands: clusterConfig(name) }));
  await createTenant(nodes[0].janus, { tenant: TENANT, max_participants: 100 });
  await createRoomWith(nodes[0].janus, { tenant: TENANT, room: ROOM, max_attendees: 50, presenter_secret: PRESENTER_SECRET, node: 'node-a' });
  for (const n of nodes) {
    await waitFor(async () => (await n.janus.admin({ request: 'room_info', tenant: TENANT, room: ROOM })).allhands === 'success',
      { timeout: 20000, interval: 50, what: `node ${n.name}: room from Redis` });
  }
});

after(async () => {
  await peers.closeAll();
  await cluster.teardown();
});

test('edge_fanout 1: edges form a chain a -> b -> c -> d; the attendee on d receives media through three hops', async () => {
  const [a, b, c, d] = nodes;
  await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Keynote' });
  // One at a time, so the tree is the same every run.
  at.b = await edgeAttendee(b, 'On b');
  await at.b.waitMedia({ audio: true, video: true });
  at.c = await edgeAttendee(c, 'On c');
  await at.c.waitMedia({ audio: true, video: true });
  const t0 = Date.now();
  at.d = await edgeAttendee(d, 'On d');
  await at.d.waitMedia({ audio: true, video: true });
  console.log(`# attendee on d: media ${Date.now() - t0} ms after its join, through the tree`);
  assert.equal((await edgeOf(b)).parent, null, 'b is fed by the origin');
  assert.equal((await edgeOf(c)).parent, 'node-b');
  assert.equal((await edgeOf(d)).parent, 'node-c');
  await waitFor(async () => {
    const room = (await media(a)).origin_of.find((r) => r.room === ROOM);
    const pairs = (room?.tree || []).map((p) => p.join('<')).sort().join(' ');
    return pairs === 'node-b<node-a node-c<node-b node-d<node-c';
  }, { timeout: 8000, interval: 200, what: 'the origin\'s status shows the tree' });
  const ma = await media(a);
  console.log(`# tree at the origin: ${safeJson(ma.origin_of.find((r) => r.room === ROOM).tree)}; sent to a parent: ${ma.messages.sent_to_parent}`);
  assert.deepEqual(ma.links.filter((l) => l.role === 'to_edge').map((l) => l.peer), ['node-b'], 'the origin sends to b only');
  const totals = await at.d.totals();
  assert.ok(totals.audio.packets > 0 && totals.video.frames > 0, safeJson(totals));
  const linkD = (await media(d)).links.find((l) => l.role === 'from_origin');
  assert.equal(linkD.peer, 'node-c');
  console.log(`# d's link from c: ${Math.round(linkD.bitrate_bps / 1000)} kbps, delay ${linkD.delay_ms} ms`);
});

test('the middle edge c SIGKILLed: d leaves its silent parent, is placed in the tree again and gets media again', async () => {
  const [, b, c, d] = nodes;
  const pc = at.d.pc;
  await cluster.killNode(c);
  const killed = Date.now();
  await waitFor(async () => { const e = await edgeOf(d); return e && e.parent !== 'node-c'; },
    { timeout: 15000, interval: 200, what: 'd leaves its dead parent c' });
  await at.d.waitMedia({ audio: true, video: true, timeout: 30000 });
  const e = await edgeOf(d);
  console.log(`# d fed again (parent ${e.parent ?? 'the origin'}) with media ${Date.now() - killed} ms after c's SIGKILL`);
  assert.equal(at.d.pc, pc, 'the attendee on d kept its PeerConnection');
  await at.b.waitMedia({ audio: true, video: true });
  assert.ok([null, 'node-b'].includes(e.parent), safeJson(e));
});
