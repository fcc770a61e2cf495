// Media across nodes, faults (issue 14; docs/cluster-media.md, "Faults"): four Janus nodes in cluster
// mode on the harness's Redis, a room homed on node a (its origin), attendees on edges b, c and d.
//   1. Edge b SIGKILLed: its attendee rejoins elsewhere with its rejoin token (on node c, which sends it
//      to the room's origin with a priority ticket, without the room's pin) and gets media again (measured).
//   2. Origin a SIGKILLed: the survivors agree on a stand-in; the presenter page (headless Chromium,
//      opened against node d, redirected to a) reconnects by itself, is redirected to the stand-in and
//      goes on stage again; the attendees on c and d keep their PeerConnections (no new one, the same
//      handle) and receive the new origin's media after a gap (measured), with sequence numbers
//      continuous: the edge that is the stand-in serves them itself, the other one subscribes to it.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, attendee, createTenant, createRoomWith, handle, roomInfo, safeJson, waitFor,
} from '../integration/lib/allhands.mjs';
import { Browser, waitState } from '../integration/lib/browser.mjs';
import { WeriftAttendee, startLocalStun, stopLocalStun } from '../integration/lib/werift-peers.mjs';
import { Cluster, seatTicket } from './lib/cluster.mjs';

const TENANT = 'faults';
const ROOM = 'hall';
const PRESENTER_SECRET = 'presenter-faults';
const cluster = new Cluster();
let redis;
let nodes;
let br;
let host; // the presenter page
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
  process.env.AH_WERIFT_IP = cluster.env.clientIp; // werift gathers on the client namespace's address
  await startLocalStun();
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
  stopLocalStun();
  if (br) await br.close();
  await peers.closeAll();
  await cluster.teardown();
});

let onC;
let onD;
let seqWatch; // a werift attendee on d recording every RTP packet (sequence numbers across the origin's death)

test('edge SIGKILLed: its attendee rejoins through another node with its rejoin token and gets media again', async () => {
  const [a, b, c, d] = nodes;
  // The presenter page, opened against node d: redirected to the room's origin a, on stage there.
  br = await new Browser().start();
  host = await br.openPresenter({ server: `${d.janus.wsUrl}/`, tenant: TENANT, room: ROOM, secret: PRESENTER_SECRET,
    display: 'Page presenter', autojoin: 1 }, { name: 'presenter' });
  await waitState(host, 'joined', 45000);
  await host.locator('#go-live-button').click();
  await waitState(host, 'live', 45000);
  await waitFor(async () => (await roomInfo(a.janus, TENANT, ROOM)).presenters?.some((p) => p.publishing),
    { timeout: 20000, what: 'the presenter page publishing on node a' });
  const onB = await edgeAttendee(b, 'On b');
  onC = await edgeAttendee(c, 'On c');
  onD = await edgeAttendee(d, 'On d');
  for (const at of [onB, onC, onD]) await at.waitMedia({ audio: true, video: true });
  const h = await handle(d.janus, peers);
  seqWatch = new WeriftAttendee(h, { label: 'seq watch' });
  peers.add(() => seqWatch.close());
  const j = await seqWatch.join({ request: 'join', tenant: TENANT, room: ROOM, display: 'Seq watch',
    ticket: seatTicket('node-d', { tenant: TENANT, room: ROOM }) });
  if (j.data.event !== 'admitted') await h.waitEvent('admitted', { timeout: 10000, what: 'seq watcher admitted on d' });
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

test('origin SIGKILLed: the presenter page reconnects and goes on stage on the stand-in by itself; attendees on the edges keep their PeerConnections and get media again', async () => {
  const [a, , c, d] = nodes;
  const pcs = [onC.pc, onD.pc];
  await cluster.killNode(a);
  const killed = Date.now();
  for (const n of [c, d]) {
    await waitFor(async () => ((await status(n)).nodes || []).find((x) => x.id === 'node-a')?.alive === false,
      { timeout: 10000, interval: 100, what: `node ${n.name} sees node a dead` });
  }
  // The presenter page reconnects by itself (to node d, which redirects it to the stand-in) and goes on
  // stage again there.
  await waitFor(() => host.evaluate(() => document.body.dataset.reconnects === '1' && document.body.dataset.state === 'live'),
    { timeout: 60000, interval: 100, what: 'the presenter page reconnected and live again' });
  const republished = Date.now();
  let standIn = null;
  await waitFor(async () => {
    for (const n of [c, d]) {
      const info = await roomInfo(n.janus, TENANT, ROOM);
      if (info.presenters?.some((p) => p.publishing && p.display === 'Page presenter')) { standIn = n; return true; }
    }
    return false;
  }, { timeout: 20000, what: 'the presenter page publishing on a survivor' });
  const line = await host.evaluate(() => document.getElementById('status')?.textContent);
  console.log(`# presenter page: live again on node ${standIn.name} ${republished - killed} ms after the origin's SIGKILL (${line})`);
  assert.deepEqual(host.ahErrors, [], 'no uncaught errors in the presenter page');
  for (const [name, at] of [['c', onC], ['d', onD]]) {
    await at.waitMedia({ audio: true, video: true, timeout: 30000 });
    console.log(`# attendee on node ${name}: media again ${Date.now() - killed} ms after the origin's SIGKILL (${Date.now() - republished} ms after the page was live on node ${standIn.name})`);
  }
  assert.equal(onC.pc, pcs[0], 'the attendee on c kept its PeerConnection');
  assert.equal(onD.pc, pcs[1], 'the attendee on d kept its PeerConnection');
  for (const at of [onC, onD]) assert.equal(at.pc.connectionState, 'connected');
  // Sequence numbers stayed continuous for the werift attendee on d across the origin's death and the new
  // presenter (a new mirror on the same m-line): per m-line, no step other than +1..+20 (a few lost at most).
  await waitFor(() => seqWatch.packets.filter((p) => p.at > performance.now() - 1000).length > 20,
    { timeout: 20000, what: 'the werift attendee on d receives again' });
  const byMid = new Map();
  for (const p of seqWatch.packets) if (p.mid) (byMid.get(p.mid) || byMid.set(p.mid, []).get(p.mid)).push(p);
  for (const [mid, list] of byMid) {
    const steps = list.slice(1).map((p, i) => (p.seq - list[i].seq + 65536) % 65536);
    const bad = steps.filter((x) => x < 1 || x > 20);
    const gapMs = Math.max(...list.slice(1).map((p, i) => p.at - list[i].at));
    console.log(`# werift attendee on d, mid ${mid}: ${list.length} packets, largest sequence step ${Math.max(...steps)}, longest gap ${Math.round(gapMs)} ms`);
    assert.deepEqual(bad, [], `mid ${mid}: sequence numbers continuous across the origin change`);
  }
  const other = standIn === c ? d : c;
  const m = (await status(other)).media;
  assert.equal(m.edge_of.find((x) => x.room === ROOM)?.origin, `node-${standIn.name}`, safeJson(m.edge_of));
});
