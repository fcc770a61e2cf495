// Edges: the queue drains into any node (docs/cluster.md, "Edges: the queue drains into any node";
// issue 14): three Janus nodes in cluster mode on one Redis. A room homed on node a with
// `origin_attendees: 2` and `max_attendees: 8`; 8 signalling-only janode attendees join on node a:
// node a serves 2 itself, the 6 others get a `redirect` (reason "seat") with a ticket for node b or
// node c (the ramp, edge_ramp_per_s 1, spreads them), follow it as clients do and are seated there
// under their display names (room_info on b and c lists them); the queued ones were told their
// positions before their redirect, which carries the last one; the room's max_attendees holds across
// the nodes (a ninth attendee stays queued on node a); a seat ticket replayed on its node is
// ticket_used (672), taken to the other edge ticket_mismatch (673); node a's status counts where it
// placed them (signalling only); an attendee in a child process follows a seat redirect; a wrtc
// attendee redirected to its seat receives the origin presenter's audio and video on its edge.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertError, assertEvent, attendee, createTenant, createRoomWith, handle, joinBody, presenter, roomInfo, safeJson,
  spawnAttendeeChild, waitFor,
} from '../integration/lib/allhands.mjs';
import { Browser, waitFramesAdvancing, waitState } from '../integration/lib/browser.mjs';
import { Cluster, followRedirects } from './lib/cluster.mjs';

const TENANT = 'edges';
const ROOM = 'seats';
const PRESENTER_SECRET = 'presenter-edges';
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
    edge_ramp_per_s: 1,
    // Signalling only: nobody answers its offer, so an admitted attendee keeps its seat this long.
    admit_timeout_ms: 120000,
  };
}

before(async () => {
  redis = await cluster.startRedis('redis');
  nodes = [];
  for (const name of ['a', 'b', 'c']) nodes.push(await cluster.startNode(name, { allhands: clusterConfig(name) }));
  await createTenant(nodes[0].janus, { tenant: TENANT, max_participants: 100 });
  await createRoomWith(nodes[0].janus, { tenant: TENANT, room: ROOM, max_attendees: 8, presenter_secret: PRESENTER_SECRET,
    node: 'node-a', origin_attendees: 2 });
  for (const n of nodes) {
    await waitFor(async () => (await n.janus.admin({ request: 'room_info', tenant: TENANT, room: ROOM })).room?.origin_attendees === 2,
      { timeout: 20000, interval: 50, what: `node ${n.name}: the room (origin_attendees 2) from Redis` });
    await waitFor(async () => {
      const s = await n.janus.admin({ request: 'status' });
      return ['node-a', 'node-b', 'node-c'].every((id) => s.cluster?.nodes?.some((x) => x.id === id && x.alive));
    }, { timeout: 30000, interval: 100, what: `node ${n.name}: all three alive` });
  }
});

after(async () => {
  await cluster.teardown();
});

test('8 attendees joining on node a: 2 seated there, 6 redirected with seat tickets to b and c and seated there; max_attendees holds; seat tickets are one-time and for their node', async () => {
  const [a, b, c] = nodes;
  const peers = new Bag();
  const openHandle = (janus) => handle(janus, peers);
  try {
    const t0 = Date.now();
    const joins = [];
    for (let i = 1; i <= 8; i++) {
      const h = await openHandle(a.janus);
      const display = `Attendee ${i}`;
      joins.push({ h, display, reply: (await h.request(joinBody({ tenant: TENANT, room: ROOM, display }))).data });
    }
    // Each one: admitted on node a, or redirected to its seat (the reply, or an event while queued).
    const outcomes = await Promise.all(joins.map(async (j) => {
      if (j.reply.event === 'admitted') return { ...j, where: 'node-a' };
      if (j.reply.event === 'redirect') return { ...j, where: 'edge', redirect: j.reply, index: -1 };
      assertEvent(j.reply, 'queued', `${j.display} on node a`);
      assert.ok(j.reply.position >= 1, safeJson(j.reply));
      const ev = await j.h.waitEvent((e) => e.data?.event === 'admitted' || e.data?.event === 'redirect',
        { timeout: 60000, what: `${j.display}: admitted or redirected` });
      if (ev.data.event === 'admitted') return { ...j, where: 'node-a' };
      return { ...j, where: 'edge', redirect: ev.data, index: ev.index };
    }));
    const here = outcomes.filter((o) => o.where === 'node-a');
    const moved = outcomes.filter((o) => o.where === 'edge');
    assert.equal(here.length, 2, `node a serves origin_attendees: ${safeJson(outcomes.map((o) => [o.display, o.where]))}`);
    assert.equal(moved.length, 6);
    for (const o of moved) {
      const r = o.redirect;
      assert.equal(r.reason, 'seat', safeJson(r));
      assert.ok(['node-b', 'node-c'].includes(r.node), safeJson(r));
      assert.equal(r.url, nodes.find((n) => `node-${n.name}` === r.node).janus.wsUrl);
      assert.deepEqual([r.tenant, r.room, r.ptype, typeof r.ticket, r.expires_in_s], [TENANT, ROOM, 'attendee', 'string', 60]);
      if (o.index >= 0) {
        // Queued first: its positions came before its redirect, which carries the last one.
        const positions = o.h.events.slice(0, o.index).filter((e) => e.data?.event === 'position').map((e) => e.data.position);
        const last = positions.length > 0 ? positions[positions.length - 1] : o.reply.position;
        assert.equal(r.position, last, `${o.display}: the redirect's position is the last it was told (${safeJson(positions)})`);
        assert.equal(o.h.events.slice(o.index + 1).filter((e) => e.data?.event === 'position').length, 0,
          `${o.display}: no position after the redirect`);
      }
    }
    const perEdge = { 'node-b': 0, 'node-c': 0 };
    for (const o of moved) perEdge[o.redirect.node] += 1;
    console.log(`# seat redirects: ${safeJson(perEdge)}; queued first: ${moved.filter((o) => o.index >= 0).length} of 6`);
    assert.ok(perEdge['node-b'] > 0 && perEdge['node-c'] > 0, `the ramp spreads them over both edges: ${safeJson(perEdge)}`);
    // Follow them, as clients do: seated on the edge under the same display name.
    const seated = await Promise.all(moved.map(async (o) => {
      const f = await followRedirects(o.redirect, { nodes, tenant: TENANT, room: ROOM, display: o.display, openHandle });
      if (f.reply.event !== 'admitted') {
        assertEvent(f.reply, 'queued', `${o.display} on ${f.node.name} with its seat ticket`);
        await f.h.waitEvent('admitted', { timeout: 30000, what: `${o.display} admitted on node ${f.node.name}` });
      }
      return { ...o, edge: f.node };
    }));
    console.log(`# 8 joins on node a to 8 seated (2 on a, 6 on edges) in ${Date.now() - t0} ms`);
    const [infoA, infoB, infoC] = [await roomInfo(a.janus, TENANT, ROOM), await roomInfo(b.janus, TENANT, ROOM),
      await roomInfo(c.janus, TENANT, ROOM)];
    assert.equal(infoA.counts.admitted, 2, safeJson(infoA.counts));
    assert.equal(infoB.counts.admitted, perEdge['node-b'], safeJson(infoB.counts));
    assert.equal(infoC.counts.admitted, perEdge['node-c'], safeJson(infoC.counts));
    for (const [info, id] of [[infoB, 'node-b'], [infoC, 'node-c']]) {
      const names = info.attendees.map((x) => x.display).sort();
      const want = seated.filter((o) => o.redirect.node === id).map((o) => o.display).sort();
      assert.deepEqual(names, want, `node ${id}'s attendees keep their display names`);
    }
    assert.deepEqual(infoA.placed, perEdge, `room_info on node a: where it placed them (${safeJson(infoA.placed)})`);
    const edgesA = (await a.janus.admin({ request: 'status' })).node.placement.edges;
    console.log(`# node a's edges in status: ${safeJson(edgesA)}`);
    assert.equal(edgesA.placed, 6);
    assert.equal(edgesA.served_over, 0, 'nobody served beyond a limit');
    // max_attendees 8 across the nodes: a ninth stays queued on node a, redirected nowhere.
    const ninth = await openHandle(a.janus);
    const n9 = (await ninth.request(joinBody({ tenant: TENANT, room: ROOM, display: 'Ninth' }))).data;
    assertEvent(n9, 'queued', 'the ninth attendee');
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(ninth.events.filter((e) => ['admitted', 'redirect'].includes(e.data?.event)).length, 0,
      `the ninth attendee stays queued: ${safeJson(ninth.events.map((e) => e.data))}`);
    let total = 0;
    for (const n of nodes) total += (await roomInfo(n.janus, TENANT, ROOM)).counts.admitted;
    assert.equal(total, 8, 'seated across the nodes: max_attendees');
    // A seat ticket is one-time, and for its node only.
    const one = seated[0];
    const other = nodes.find((n) => n !== a && n !== one.edge);
    const again = await openHandle(one.edge.janus);
    assertError((await again.request({ request: 'join', tenant: TENANT, room: ROOM, ticket: one.redirect.ticket })).data,
      672, 'ticket_used');
    const elsewhere = await openHandle(other.janus);
    assertError((await elsewhere.request({ request: 'join', tenant: TENANT, room: ROOM, ticket: one.redirect.ticket })).data,
      673, 'ticket_mismatch');
  } finally {
    await peers.closeAll();
  }
});

test('origin_attendees 0: an attendee in a child process (tests/integration/lib) joining on node a is redirected to its seat on an edge at once and seated there', async () => {
  const [a] = nodes;
  await createRoomWith(a.janus, { tenant: TENANT, room: 'all-edges', max_attendees: 10, presenter_secret: PRESENTER_SECRET,
    node: 'node-a', origin_attendees: 0 });
  for (const n of nodes) {
    await waitFor(async () => (await n.janus.admin({ request: 'room_info', tenant: TENANT, room: 'all-edges' })).allhands === 'success',
      { timeout: 20000, interval: 50, what: `node ${n.name}: room all-edges from Redis` });
  }
  const child = await spawnAttendeeChild(a.janus, joinBody({ tenant: TENANT, room: 'all-edges', display: 'Child' }),
    { autoStart: false, name: 'child' });
  try {
    await waitFor(() => child.replies.some((r) => r?.event === 'admitted') || child.events.some((e) => e?.event === 'admitted'),
      { timeout: 30000, interval: 50, what: `the child admitted on an edge (replies ${safeJson(child.replies)}, events ${safeJson(child.events)})` });
    assert.equal(child.redirects.length, 1, safeJson(child.redirects));
    const r = child.redirects[0];
    assert.equal(r.reason, 'seat', safeJson(r));
    assert.ok(['node-b', 'node-c'].includes(r.node), safeJson(r));
    const edge = nodes.find((n) => `node-${n.name}` === r.node);
    const [infoA, infoEdge] = [await roomInfo(a.janus, TENANT, 'all-edges'), await roomInfo(edge.janus, TENANT, 'all-edges')];
    assert.equal(infoA.counts.admitted + infoA.counts.queued, 0, safeJson(infoA.counts));
    assert.deepEqual(infoEdge.attendees.map((x) => x.display), ['Child'], safeJson(infoEdge.attendees));
  } finally {
    child.kill('SIGKILL');
    await child.exited;
  }
});

test('media: a wrtc attendee joining on node a is sent to its seat on an edge and receives the origin presenter\'s audio and video there', async () => {
  const [a] = nodes;
  const peers = new Bag();
  const room = 'edge-media';
  try {
    await createRoomWith(a.janus, { tenant: TENANT, room, max_attendees: 10, presenter_secret: PRESENTER_SECRET, node: 'node-a',
      origin_attendees: 0 });
    for (const n of nodes) {
      await waitFor(async () => (await n.janus.admin({ request: 'room_info', tenant: TENANT, room })).allhands === 'success',
        { timeout: 20000, interval: 50, what: `node ${n.name}: room ${room} from Redis` });
    }
    await presenter(a.janus, peers, { tenant: TENANT, room, presenter_secret: PRESENTER_SECRET, display: 'Origin presenter' });
    const t0 = Date.now();
    const onA = await handle(a.janus, peers);
    const first = (await onA.request(joinBody({ tenant: TENANT, room, display: 'Watcher' }))).data;
    const redirect = first.event === 'redirect' ? first
      : (await onA.waitEvent('redirect', { timeout: 20000, what: 'the seat redirect' })).data;
    assert.equal(redirect.reason, 'seat', safeJson(redirect));
    const edge = nodes.find((n) => n.janus.wsUrl === redirect.url);
    assert.ok(edge && edge !== a, safeJson(redirect));
    const at = await attendee(edge.janus, peers);
    const j = await at.join({ request: 'join', tenant: TENANT, room, ticket: redirect.ticket, display: 'Watcher' });
    if (j.data.event !== 'admitted') {
      assertEvent(j.data, 'queued', `join on node ${edge.name} with the seat ticket`);
      await at.h.waitEvent('admitted', { timeout: 20000, what: `the attendee admitted on node ${edge.name}` });
    }
    await at.waitMedia({ audio: true, video: true });
    const totals = await at.totals();
    console.log(`# seat redirect to node ${edge.name}: media ${Date.now() - t0} ms after the join on node a; audio ${totals.audio.packets} packets, video ${totals.video.packets} packets / ${totals.video.frames} frames decoded`);
    assert.ok(totals.audio.packets > 0 && totals.video.frames > 0, safeJson(totals));
    const infoA = await roomInfo(a.janus, TENANT, room);
    assert.equal(infoA.counts.admitted + infoA.counts.queued, 0, `nobody served on node a: ${safeJson(infoA.counts)}`);
  } finally {
    await peers.closeAll();
  }
});

test('the attendee page (headless Chromium) opened against the origin follows the seat redirect and plays the presenter\'s video on its edge', async () => {
  const [a] = nodes;
  const peers = new Bag();
  const room = 'edge-page';
  const br = await new Browser().start();
  try {
    await createRoomWith(a.janus, { tenant: TENANT, room, max_attendees: 10, presenter_secret: PRESENTER_SECRET, node: 'node-a',
      origin_attendees: 0 });
    for (const n of nodes) {
      await waitFor(async () => (await n.janus.admin({ request: 'room_info', tenant: TENANT, room })).allhands === 'success',
        { timeout: 20000, interval: 50, what: `node ${n.name}: room ${room} from Redis` });
    }
    await presenter(a.janus, peers, { tenant: TENANT, room, presenter_secret: PRESENTER_SECRET, display: 'Origin presenter' });
    const t0 = Date.now();
    const page = await br.openAttendee({ server: `${a.janus.wsUrl}/`, tenant: TENANT, room, display: 'Page on an edge', autojoin: 1 });
    await waitState(page, 'watching', 60000);
    const v = await waitFramesAdvancing(page, '#videos video', 45000);
    // Seated on an edge, not on the origin.
    let edge = null;
    await waitFor(async () => {
      for (const n of nodes.slice(1)) {
        const info = await roomInfo(n.janus, TENANT, room);
        if (info.attendees.some((x) => x.display === 'Page on an edge')) { edge = n; return true; }
      }
      return false;
    }, { timeout: 20000, what: 'the page\'s attendee seated on an edge' });
    console.log(`# attendee page: joined on node a, watching on node ${edge.name} ${Date.now() - t0} ms later, video ${safeJson(v)}`);
    const infoA = await roomInfo(a.janus, TENANT, room);
    assert.equal(infoA.counts.admitted + infoA.counts.queued, 0, safeJson(infoA.counts));
    assert.deepEqual(page.ahErrors, [], 'no uncaught errors in the attendee page');
  } finally {
    await br.close();
    await peers.closeAll();
  }
});
