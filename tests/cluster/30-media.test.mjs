// Media across nodes (issue 14; docs/cluster-media.md, "Wiring"): three Janus nodes in cluster mode on
// the harness's Redis. A room is homed on node a (its origin); attendees are seated on nodes b and c
// (edges) with seat tickets, as the origin issues them when its queue drains into an edge. Checks, with
// real WebRTC clients on both sides:
//   1. attendees on b and c receive the presenter's audio and video from node a (packets and decoded
//      frames), their first video frame a keyframe; status on a lists both edges, on b and c the room
//      with its mirror, the link's bitrate, loss and delay;
//   2. a second presenter joins on a: the edge attendees are offered it and receive it; it leaves:
//      their m-line goes inactive and the first presenter's media keeps flowing;
//   3. a forged packet sent to an edge's link port, from an address that is not the origin's and from
//      the origin's own address and port (spoofed with a raw socket), is never relayed: refused as
//      `source` or `auth`, the attendee's packet count unchanged by it;
//   4. an edge whose last attendee left unsubscribes after edge_linger_ms: the origin stops sending to
//      it.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Bag, assertEvent, attendee, createTenant, createRoomWith, presenter, safeJson, waitFor,
} from '../integration/lib/allhands.mjs';
import { CLUSTER_SECRET, Cluster, run } from './lib/cluster.mjs';

const TENANT = 'media';
const ROOM = 'allhands';
const PRESENTER_SECRET = 'presenter-media';
const LINGER_MS = 1500;
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
    heartbeat_ms: 500,
    node_expiry_ms: 1500,
    capacity: 100,
    edge_linger_ms: LINGER_MS,
  };
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// A seat ticket for `node`, as the origin signs one (include/allhands/ticket.h): priority attendee.
export function seatTicket(node, { tenant = TENANT, room = ROOM } = {}) {
  const payload = {
    c: true, e: Math.floor(Date.now() / 1000) + 60, n: node, p: 'attendee', r: room, s: '', t: tenant, v: 1,
    x: crypto.randomBytes(16).toString('hex'),
  };
  const encoded = b64url(JSON.stringify(payload));
  const mac = crypto.createHmac('sha256', CLUSTER_SECRET).update(`ah-ticket-v1.${encoded}`).digest();
  return `${encoded}.${b64url(mac)}`;
}

async function status(node) {
  const s = await node.janus.admin({ request: 'status' });
  assert.equal(s.allhands, 'success', safeJson(s));
  return s.cluster;
}

async function media(node) {
  return (await status(node)).media;
}

// An attendee seated on `node` for the room homed on node a.
async function edgeAttendee(node, bag, display) {
  const at = await attendee(node.janus, bag);
  const j = await at.join({ request: 'join', tenant: TENANT, room: ROOM, display, ticket: seatTicket(`node-${node.name}`) });
  if (j.data.event !== 'admitted') {
    assertEvent(j.data, 'queued', `join on node ${node.name} with a seat ticket`);
    await at.h.waitEvent('admitted', { timeout: 10000, what: `attendee on node ${node.name} admitted` });
  }
  return at;
}

before(async () => {
  redis = await cluster.startRedis('redis');
  nodes = [];
  for (const name of ['a', 'b', 'c']) nodes.push(await cluster.startNode(name, { allhands: clusterConfig(name) }));
  await createTenant(nodes[0].janus, { tenant: TENANT, max_participants: 100 });
  await createRoomWith(nodes[0].janus, { tenant: TENANT, room: ROOM, max_attendees: 50, presenter_secret: PRESENTER_SECRET,
    node: 'node-a' });
  for (const n of nodes) {
    await waitFor(async () => (await n.janus.admin({ request: 'room_info', tenant: TENANT, room: ROOM })).allhands === 'success',
      { timeout: 20000, interval: 50, what: `node ${n.name}: room from Redis` });
  }
  // Every node sees the others alive (the room's origin is node a for everyone).
  for (const n of nodes) {
    await waitFor(async () => ((await status(n)).nodes || []).filter((x) => x.alive).length === 3,
      { timeout: 20000, interval: 100, what: `node ${n.name} sees three nodes` });
  }
});

after(async () => {
  await cluster.teardown();
});

test('attendees on two edges receive the origin presenter\'s audio and video; status shows the edges and the links', async () => {
  const [a, b, c] = nodes;
  const peers = new Bag();
  try {
    await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Origin presenter' });
    const t0 = Date.now();
    const onB = await edgeAttendee(b, peers, 'On b');
    const onC = await edgeAttendee(c, peers, 'On c');
    await onB.waitMedia({ audio: true, video: true });
    await onC.waitMedia({ audio: true, video: true });
    console.log(`# edge attendees: media on b and c ${Date.now() - t0} ms after their joins`);
    for (const [n, at] of [['b', onB], ['c', onC]]) {
      const totals = await at.totals();
      console.log(`# attendee on node ${n}: audio ${totals.audio.packets} packets, video ${totals.video.packets} packets / ${totals.video.frames} frames decoded`);
      assert.ok(totals.audio.packets > 0 && totals.video.frames > 0, `node ${n}: ${safeJson(totals)}`);
      assert.equal(at.joined?.presenters?.length ?? at.lastOffer?.presenters?.length ?? 1, 1);
    }
    // Status: the origin knows both edges; each edge its origin and one mirror; the links carry media.
    await waitFor(async () => {
      const m = await media(a);
      const room = (m?.origin_of || []).find((r) => r.room === ROOM);
      return room && room.edges.map((e) => e.node).sort().join(',') === 'node-b,node-c';
    }, { timeout: 10000, interval: 100, what: 'node a lists edges b and c' });
    for (const n of [b, c]) {
      await waitFor(async () => {
        const m = await media(n);
        const link = (m?.links || []).find((l) => l.role === 'from_origin' && l.peer === 'node-a');
        return link && link.bitrate_bps > 0 && typeof link.delay_ms === 'number';
      }, { timeout: 10000, interval: 200, what: `node ${n.name}: a link from node-a with bitrate and delay` });
      const m = await media(n);
      const room = m.edge_of.find((r) => r.room === ROOM);
      assert.equal(room.origin, 'node-a');
      assert.equal(room.mirrors, 1);
      assert.equal(room.receivers, 1);
      const link = m.links.find((l) => l.role === 'from_origin');
      console.log(`# node ${n.name} link from node-a: ${Math.round(link.bitrate_bps / 1000)} kbps, loss ${link.loss}, delay ${link.delay_ms} ms, dropped ${safeJson(link.dropped)}`);
      assert.equal(link.dropped.auth, 0);
    }
    const ma = await media(a);
    const toEdges = ma.links.filter((l) => l.role === 'to_edge');
    assert.deepEqual(toEdges.map((l) => l.peer).sort(), ['node-b', 'node-c']);
    for (const l of toEdges) assert.ok(l.rtp_sent > 0 && l.bitrate_bps > 0, safeJson(l));
  } finally {
    await peers.closeAll();
  }
});
