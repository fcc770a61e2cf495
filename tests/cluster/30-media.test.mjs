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
//      it;
//   5. simulcast over the link, each edge attendee on its own layer;
//   6. a joiner on a warm edge starts from the edge's keyframe cache, without a request to the origin;
//   7. UDP to an edge's link port cut (tc, Redis still reachable): the edge says the link is down, then
//      up once it passes again, and media flows.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import {
  Bag, assertEvent, attendee, createTenant, createRoomWith, handle, presenter, safeJson, waitFor,
} from '../integration/lib/allhands.mjs';
import { Browser } from '../integration/lib/browser.mjs';
import { httpGet, parseExposition } from '../integration/lib/prometheus.mjs';
import { WeriftAttendee, startLocalStun, stopLocalStun } from '../integration/lib/werift-peers.mjs';
import { Cluster, seatTicket } from './lib/cluster.mjs';

const TENANT = 'media';
const ROOM = 'allhands';
const PRESENTER_SECRET = 'presenter-media';
const LINGER_MS = 1500;
const METRICS_PORT = 9464;
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
    metrics_port: METRICS_PORT,
    metrics_address: (j) => j.apiHost,
    // Node c relays every m-line through its relay helper threads (from one receiver on), node b inline:
    // both paths of an edge's relay are covered (an edge's keyframe cache replays on the inline path only).
    ...(name === 'c' ? { relay_threads: 2, relay_inline_max: 1 } : {}),
  };
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
  const j = await at.join({ request: 'join', tenant: TENANT, room: ROOM, display, ticket: seatTicket(`node-${node.name}`, { tenant: TENANT, room: ROOM }) });
  if (j.data.event !== 'admitted') {
    assertEvent(j.data, 'queued', `join on node ${node.name} with a seat ticket`);
    await at.h.waitEvent('admitted', { timeout: 10000, what: `attendee on node ${node.name} admitted` });
  }
  return at;
}

before(async () => {
  process.env.AH_WERIFT_IP = cluster.env.clientIp; // werift gathers on the client namespace's address
  await startLocalStun();
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
  stopLocalStun();
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
    // Prometheus: the links and the rooms, on the edge and on the origin.
    const scrape = async (n) => parseExposition((await httpGet(`http://${n.ip}:${METRICS_PORT}/metrics`)).body);
    await waitFor(async () => {
      const mb = await scrape(b);
      return mb.get('allhands_media_rooms', { part: 'edge' }) === 1 &&
        mb.get('allhands_link_bitrate_bps', { peer: 'node-a', direction: 'from_origin' }) > 0 &&
        mb.get('allhands_link_delay_seconds', { peer: 'node-a', direction: 'from_origin' }) >= 0 &&
        mb.get('allhands_link_rtp_received_total', { peer: 'node-a', direction: 'from_origin' }) > 0;
    }, { timeout: 10000, interval: 300, what: 'node b\'s metrics show its link from node a' });
    await waitFor(async () => {
      const mA = await scrape(a); // the first scrape may get the snapshot of before
      return mA.get('allhands_media_rooms', { part: 'origin' }) === 1 &&
        mA.get('allhands_link_rtp_sent_total', { peer: 'node-c', direction: 'to_edge' }) > 0;
    }, { timeout: 10000, interval: 300, what: 'node a\'s metrics show the room it is the origin of and its link to c' });
    // The dashboard of edge b (headless Chromium): the link from the origin, with its figures.
    const br = await new Browser().start();
    try {
      const dash = await br.openDashboard({ admin: b.janus.adminUrl, admin_secret: b.janus.adminSecret });
      const row = await waitFor(() => dash.evaluate(() => {
        const tr = document.querySelector('#cluster-links tbody tr[data-link="from_origin:node-a"]');
        const cell = (f) => tr?.querySelector(`[data-field="${f}"]`)?.textContent;
        return tr && !document.getElementById('cluster-media').hidden && /kbit/.test(cell('bitrate')) && / ms$/.test(cell('delay'))
          ? { link: cell('link'), bitrate: cell('bitrate'), delay: cell('delay'), rooms: document.getElementById('cluster-media-rooms').textContent }
          : false;
      }), { timeout: 20000, interval: 250, what: 'edge b\'s dashboard lists its link from node-a' });
      console.log(`# dashboard of edge b: ${safeJson(row)}`);
      assert.equal(row.link, 'from origin node-a');
      assert.match(row.rooms, /Fed: media\/allhands from node-a \(1 attendees here\)/, row.rooms);
      assert.deepEqual(dash.ahErrors, [], 'no uncaught errors in the dashboard');
    } finally {
      await br.close();
    }
  } finally {
    await peers.closeAll();
  }
});

// The first bytes of the VP8 payload of each recorded packet: a werift attendee that keeps them.
class KeyAttendee extends WeriftAttendee {
  _record(packet, router) {
    super._record(packet, router);
    const last = this.packets[this.packets.length - 1];
    if (last) last.bytes = Buffer.from(packet.payload.subarray(0, 24));
  }
}

// RFC 7741: the packet starts a VP8 frame (S=1, partition 0) whose payload header says keyframe (P=0).
function vp8KeyframeStart(b) {
  if (!b || b.length < 2 || !((b[0] & 0x10) !== 0 && (b[0] & 0x07) === 0)) return false;
  let i = 1;
  if (b[0] & 0x80) {
    const x = b[1];
    i = 2;
    if (x & 0x80) i += (b[i] & 0x80) ? 2 : 1;
    if (x & 0x40) i += 1;
    if (x & 0x30) i += 1;
  }
  return b.length > i + 5 && (b[i] & 0x01) === 0 && b[i + 3] === 0x9d && b[i + 4] === 0x01 && b[i + 5] === 0x2a;
}

test('a second presenter on the origin reaches the edges and leaves; every edge joiner\'s first video packet starts a keyframe', async () => {
  const [a, b, c] = nodes;
  const peers = new Bag();
  try {
    await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'First' });
    const onB = await edgeAttendee(b, peers, 'Watcher on b');
    await onB.waitMedia({ audio: true, video: true });
    // A werift joiner on c records what arrives: its first video packet is a keyframe's first.
    const h = await handle(c.janus, peers);
    const wa = new KeyAttendee(h, { label: 'keyframe check' });
    peers.add(() => wa.close());
    const j = await wa.join({ request: 'join', tenant: TENANT, room: ROOM, display: 'Werift on c', ticket: seatTicket('node-c', { tenant: TENANT, room: ROOM }) });
    if (j.data.event !== 'admitted') await h.waitEvent('admitted', { timeout: 10000, what: 'werift attendee on c admitted' });
    const video = () => wa.packets.filter((p) => p.bytes && p.mid && wa.offers.some((o) => o.mlines.some((m) => m.kind === 'video' && m.mid === p.mid)));
    await waitFor(() => video().length >= 20, { timeout: 20000, what: `video packets at the werift attendee on c (errors ${wa.errors.map(String)}, ${wa.packets.length} packets)` });
    assert.ok(vp8KeyframeStart(video()[0].bytes), `first video packet on the edge starts a keyframe: ${video()[0].bytes.toString('hex')}`);
    // The second presenter: every edge attendee is offered it, then receives two video streams.
    const second = await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Second' });
    await onB.waitMedia({ audio: true, video: true, videoStreams: 2, audioStreams: 2 });
    const mb = await media(b);
    assert.equal(mb.edge_of.find((r) => r.room === ROOM).mirrors, 2);
    // It leaves: b's attendee keeps the first presenter's media, the mirror is gone.
    await second.h.request({ request: 'leave' });
    await waitFor(async () => (await media(b)).edge_of.find((r) => r.room === ROOM)?.mirrors === 1,
      { timeout: 10000, interval: 100, what: 'node b: the second presenter\'s mirror gone' });
    await onB.waitMedia({ audio: true, video: true, videoStreams: 1, audioStreams: 1 });
    const after = await onB.inbound();
    console.log(`# after the second presenter left, attendee on b: ${safeJson(after.map((s) => [s.kind, s.packetsReceived, s.framesDecoded]))}`);
  } finally {
    await peers.closeAll();
  }
});

// Send one UDP datagram from `srcIp:srcPort` (spoofed with a raw socket: this namespace is not that
// address's) to `dstIp:dstPort`.
function spoofUdp({ srcIp, srcPort, dstIp, dstPort, payload }) {
  const code = `
import socket, struct, sys
src, sport, dst, dport, data = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), bytes.fromhex(sys.argv[5])
udp = struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
s.sendto(ip + udp, (dst, 0))
`;
  const r = spawnSync('python3', ['-c', code, srcIp, String(srcPort), dstIp, String(dstPort), payload.toString('hex')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `raw send: ${r.stderr}`);
}

test('a forged packet sent to an edge\'s link port is never relayed: from elsewhere (source), from the origin\'s own address and port (auth)', async () => {
  const [a, b] = nodes;
  const peers = new Bag();
  try {
    await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Forged against' });
    const onB = await edgeAttendee(b, peers, 'Target on b');
    await onB.waitMedia({ audio: true, video: true });
    const mb = await media(b);
    const ma = await media(a);
    const link = () => media(b).then((m) => m.links.find((l) => l.role === 'from_origin' && l.peer === 'node-a'));
    const before = await link();
    // A plausible RTP packet on the link: version 2, our VP8 payload type, the feed's link SSRC.
    const ssrc = before.feeds > 0 ? 0x00010100 : 0x12345678;
    const rtp = Buffer.alloc(120, 0x5a);
    rtp.writeUInt8(0x80, 0); rtp.writeUInt8(96, 1); rtp.writeUInt16BE(4242, 2); rtp.writeUInt32BE(123456, 4); rtp.writeUInt32BE(ssrc, 8);
    // 1. From the client namespace, a plain UDP socket: not the origin's address.
    const sock = dgram.createSocket('udp4');
    for (let i = 0; i < 5; i++) await new Promise((res) => sock.send(rtp, mb.port, b.ip, res));
    sock.close();
    await waitFor(async () => (await media(b)).dropped_unknown_source >= mb.dropped_unknown_source + 5,
      { timeout: 5000, interval: 100, what: 'node b counts 5 datagrams from an unknown source' });
    // 2. Spoofed from the origin's media address and port: it fails SRTP authentication.
    for (let i = 0; i < 5; i++) spoofUdp({ srcIp: a.ip, srcPort: ma.port, dstIp: b.ip, dstPort: mb.port, payload: rtp });
    await waitFor(async () => (await link()).dropped.auth >= before.dropped.auth + 5,
      { timeout: 5000, interval: 100, what: 'node b refuses 5 spoofed packets as auth' });
    const afterLink = await link();
    console.log(`# forged: unknown source ${(await media(b)).dropped_unknown_source}, link from node-a dropped ${safeJson(afterLink.dropped)}`);
    assert.equal(afterLink.dropped.replay, before.dropped.replay);
    // The attendee's media kept flowing, and nothing forged was relayed (the link only relays what passed).
    await onB.waitMedia({ audio: true, video: true });
    await waitFor(async () => (await link()).rtp_received > before.rtp_received,
      { timeout: 5000, interval: 100, what: `the link from node a still carries media (rtp received ${before.rtp_received} -> ${afterLink.rtp_received})` });
  } finally {
    await peers.closeAll();
  }
});

test('an edge whose last attendee left unsubscribes after edge_linger_ms; the origin stops sending to it', async () => {
  const [a, b, c] = nodes;
  const peers = new Bag();
  const inner = new Bag();
  try {
    await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Linger' });
    const onB = await edgeAttendee(b, peers, 'Stays on b');
    const onC = await edgeAttendee(c, inner, 'Leaves c');
    await onB.waitMedia({ audio: true, video: true });
    await onC.waitMedia({ audio: true, video: true });
    const t0 = Date.now();
    await onC.h.request({ request: 'leave' });
    await inner.closeAll();
    await waitFor(async () => !((await media(c)).edge_of || []).some((r) => r.room === ROOM),
      { timeout: LINGER_MS + 8000, interval: 100, what: 'node c stops serving the room' });
    const gone = Date.now() - t0;
    await waitFor(async () => {
      const room = (await media(a)).origin_of.find((r) => r.room === ROOM);
      return room && room.edges.map((e) => e.node).join(',') === 'node-b';
    }, { timeout: 5000, interval: 100, what: 'node a keeps only edge b' });
    console.log(`# node c unsubscribed ${gone} ms after its last attendee left (edge_linger_ms ${LINGER_MS})`);
    assert.ok(gone >= LINGER_MS, `not before the linger: ${gone} ms`);
    const sentToC = async () => (await media(a)).links.find((l) => l.role === 'to_edge' && l.peer === 'node-c')?.rtp_sent ?? 0;
    const s1 = await sentToC();
    await sleep(1500);
    const s2 = await sentToC();
    assert.equal(s2, s1, 'no packet goes to node c any more');
    await onB.waitMedia({ audio: true, video: true });
  } finally {
    await inner.closeAll();
    await peers.closeAll();
  }
});

// RFC 7741 descriptor, then RFC 6386 9.1: a keyframe's width, or 0.
function vp8KeyframeWidth(b) {
  if (!vp8KeyframeStart(b)) return 0;
  let i = 1;
  if (b[0] & 0x80) {
    const x = b[1];
    i = 2;
    if (x & 0x80) i += (b[i] & 0x80) ? 2 : 1;
    if (x & 0x40) i += 1;
    if (x & 0x30) i += 1;
  }
  return b.length >= i + 8 ? b.readUInt16LE(i + 6) & 0x3fff : 0;
}

test('a simulcast presenter on the origin: attendees on one edge get different layers (low 240, high 960 pixels wide)', async () => {
  const [a, b] = nodes;
  const peers = new Bag();
  try {
    await presenter(a.janus, peers, {
      tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Simulcast',
      media: { simulcast: [{ rid: 'l', scaleResolutionDownBy: 4 }, { rid: 'm', scaleResolutionDownBy: 2 }, { rid: 'h' }],
        width: 960, height: 540, fps: 15 },
    });
    const widths = {};
    const watchers = {};
    for (const layer of ['low', 'high']) {
      const h = await handle(b.janus, peers);
      const w = new KeyAttendee(h, { label: layer });
      peers.add(() => w.close());
      const j = await w.join({ request: 'join', tenant: TENANT, room: ROOM, display: `${layer} on b`, layer,
        ticket: seatTicket('node-b', { tenant: TENANT, room: ROOM }) });
      if (j.data.event !== 'admitted') await h.waitEvent('admitted', { timeout: 10000, what: `${layer} admitted on b` });
      watchers[layer] = w;
    }
    for (const [layer, w] of Object.entries(watchers)) {
      await waitFor(() => {
        widths[layer] = [...new Set(w.packets.map((p) => vp8KeyframeWidth(p.bytes)).filter((x) => x > 0))];
        return widths[layer].length > 0;
      }, { timeout: 25000, interval: 200, what: `a keyframe at the ${layer} attendee on b (errors ${w.errors.map(String)})` });
    }
    console.log(`# simulcast over the link: keyframe widths on edge b: ${safeJson(widths)}`);
    assert.deepEqual(widths.low, [240]);
    assert.deepEqual(widths.high, [960]);
    // Sequence numbers continuous at each attendee (one stream rewritten from the layers it got).
    for (const [layer, w] of Object.entries(watchers)) {
      const video = w.packets.filter((p) => p.bytes && p.pt === w.packets.find((q) => vp8KeyframeWidth(q.bytes) > 0)?.pt);
      let jumps = 0;
      for (let i = 1; i < video.length; i++) if (((video[i].seq - video[i - 1].seq + 65536) % 65536) > 100) jumps++;
      assert.equal(jumps, 0, `${layer}: sequence numbers continuous`);
    }
  } finally {
    await peers.closeAll();
  }
});

test('an edge\'s keyframe cache: a joiner on a warm edge starts from the cached keyframe without a request to the origin', async () => {
  const [a, b] = nodes;
  const peers = new Bag();
  try {
    await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Cached' });
    const first = await edgeAttendee(b, peers, 'Warms b');
    await first.waitMedia({ audio: true, video: true });
    const before = { a: await media(a), b: await media(b) };
    // A werift joiner on b right away (the cached keyframe is younger than the cache's 3 s age bound).
    const h = await handle(b.janus, peers);
    const wa = new KeyAttendee(h, { label: 'cached joiner' });
    peers.add(() => wa.close());
    const t0 = Date.now();
    const j = await wa.join({ request: 'join', tenant: TENANT, room: ROOM, display: 'Cached joiner', ticket: seatTicket('node-b', { tenant: TENANT, room: ROOM }) });
    if (j.data.event !== 'admitted') await h.waitEvent('admitted', { timeout: 10000, what: 'cached joiner admitted' });
    const video = () => wa.packets.filter((p) => p.bytes && wa.offers.some((o) => o.mlines.some((m) => m.kind === 'video' && m.mid === p.mid)));
    await waitFor(() => video().length >= 10, { timeout: 20000, what: `video at the cached joiner (errors ${wa.errors.map(String)})` });
    const after = { a: await media(a), b: await media(b) };
    const caches = [before.b.keyframe_caches, after.b.keyframe_caches];
    console.log(`# cached joiner: first video ${Date.now() - t0} ms after its join; edge b's caches ${safeJson(caches[1])}; ` +
      `keyframe requests from edges at the origin ${before.a.keyframe_requests_from_edges} -> ${after.a.keyframe_requests_from_edges}`);
    assert.ok(vp8KeyframeStart(video()[0].bytes), 'the joiner\'s first video packet starts a keyframe');
    assert.ok(caches[1].replays > caches[0].replays, `edge b replayed its cache: ${safeJson(caches)}`);
    assert.equal(caches[1].misses, caches[0].misses, 'no miss for this joiner');
    assert.equal(after.a.keyframe_requests_from_edges, before.a.keyframe_requests_from_edges, 'the origin was not asked');
    // On node c (relay helper threads: no replay), a joiner asks the origin for a keyframe and gets video.
    const c = nodes[2];
    const cBefore = (await media(c)).keyframe_caches;
    const onC = await edgeAttendee(c, peers, 'Helper-relayed joiner');
    await onC.waitMedia({ audio: true, video: true });
    const cAfter = (await media(c)).keyframe_caches;
    const aAfter = await media(a);
    console.log(`# joiner on helper-relayed edge c: caches ${safeJson(cBefore)} -> ${safeJson(cAfter)}; keyframe requests from edges at the origin ${after.a.keyframe_requests_from_edges} -> ${aAfter.keyframe_requests_from_edges}`);
    assert.equal(cAfter.replays, cBefore.replays, 'no replay on a helper thread');
    assert.ok(aAfter.keyframe_requests_from_edges > after.a.keyframe_requests_from_edges, 'node c asked the origin');
  } finally {
    await peers.closeAll();
  }
});

test('a lost link is detected and healed: UDP to an edge\'s link port blocked until the edge says its link is down, then let through: up again, and media flows again', async () => {
  const [a, b] = nodes;
  const peers = new Bag();
  const ns = cluster.env.switchNs;
  const dev = b.port; // the bridge port towards node b: what leaves it reaches b
  const tc = (args) => spawnSync('tc', ['-n', ns, ...args], { encoding: 'utf8' });
  try {
    await presenter(a.janus, peers, { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: 'Through a cut' });
    const onB = await edgeAttendee(b, peers, 'Behind the cut');
    await onB.waitMedia({ audio: true, video: true });
    const link = async () => (await media(b)).links.find((l) => l.role === 'from_origin' && l.peer === 'node-a');
    const before = await link();
    assert.equal(before.state, 'up');
    // Only UDP to b's link port: Redis and everything else still pass (a u32 filter into a class of 8 bit/s).
    let r = tc(['qdisc', 'replace', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '10']);
    assert.equal(r.status, 0, r.stderr);
    tc(['class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '1gbit']);
    tc(['class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '8bit', 'ceil', '8bit']);
    r = tc(['filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'protocol', '17', '0xff',
      'match', 'ip', 'dport', String((await media(b)).port), '0xffff', 'flowid', '1:20']);
    assert.equal(r.status, 0, r.stderr);
    const cut = Date.now();
    try {
      await waitFor(async () => (await link()).state === 'down', { timeout: 8000, interval: 200, what: 'node b sees its link from node a down' });
      console.log(`# link cut: node b says down ${Date.now() - cut} ms after the cut`);
      const m = (await status(b)).nodes.find((n) => n.id === 'node-a');
      assert.equal(m.alive, true, 'node a stays alive: only the media link is cut');
    } finally {
      tc(['qdisc', 'del', 'dev', dev, 'root']);
    }
    const healed = Date.now();
    await waitFor(async () => (await link()).state === 'up', { timeout: 8000, interval: 200, what: 'node b\'s link up again' });
    await onB.waitMedia({ audio: true, video: true });
    const after = await link();
    console.log(`# link healed: up ${Date.now() - healed} ms after the cut ended; outages ${after.outages}`);
    assert.equal(after.outages, before.outages + 1);
  } finally {
    tc(['qdisc', 'del', 'dev', dev, 'root']);
    await peers.closeAll();
  }
});
