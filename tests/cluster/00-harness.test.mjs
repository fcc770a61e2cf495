// The multi-node harness itself (tests/cluster/lib/cluster.mjs), before any cluster feature: three
// Janus nodes (a, b, c), each running allhands in its normal single-node mode in its own namespace,
// and redis-server in another, all on the runner's bridge; the WebRTC clients run in the client
// namespace. Checks that each node serves media over the bridge (a @roamhq/wrtc presenter, a wrtc
// attendee decoding the video and a werift attendee recording the RTP, on node a and on node c),
// that every node reaches Redis and a partitioned node does not until it is healed (and then serves
// media again), that a tbf limit on a node's link drops what exceeds it (a UDP burst: WebRTC media
// would adapt its bitrate to the limit), that a SIGKILLed node is gone while the other two keep
// serving the media they were serving (and that it starts again), and that Redis killed
// and restarted answers again (empty without persistence; with AOF it keeps its data unless
// restarted empty).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import {
  Bag, assertEvent, attendee, createRoom, createTenant, handle, joinBody, presenter, safeJson, waitFor,
} from '../integration/lib/allhands.mjs';
import { WeriftAttendee, startLocalStun, stopLocalStun, summarize } from '../integration/lib/werift-peers.mjs';
import { Cluster, run } from './lib/cluster.mjs';

const TENANT = 'harness';
const ROOM = 'bridge';
const PRESENTER_SECRET = 'presenter-harness';
const cluster = new Cluster();
let redis;
let a;
let b;
let c;

before(async () => {
  await startLocalStun();
  redis = await cluster.startRedis('redis');
  [a, b, c] = [await cluster.startNode('a'), await cluster.startNode('b'), await cluster.startNode('c')];
  for (const node of [a, b, c]) {
    await createTenant(node.janus, { tenant: TENANT, max_participants: 20 });
    await createRoom(node.janus, { tenant: TENANT, room: ROOM, max_attendees: 10, presenter_secret: PRESENTER_SECRET });
  }
  console.log(`# redis ${redis.address}; nodes ${[a, b, c].map((n) => `${n.name} ${n.ip} (${n.ns})`).join(', ')}; client ${cluster.client.ip}`);
});

after(async () => {
  await cluster.teardown();
  stopLocalStun();
});

// A wrtc presenter and a wrtc attendee on `node`; resolves once the attendee's audio packets and
// video packets and decoded frames grow. The peers stay open in `peers` (a Bag).
async function wrtcPair(node, peers, label) {
  const p = await presenter(node.janus, peers,
    { tenant: TENANT, room: ROOM, presenter_secret: PRESENTER_SECRET, display: `${label} presenter` });
  const at = await attendee(node.janus, peers);
  const r = await at.join(joinBody({ tenant: TENANT, room: ROOM, display: `${label} attendee` }));
  assertEvent(r.data, 'admitted', `${label}: attendee join`);
  await at.waitMedia({ audio: true, video: true });
  return { presenter: p, attendee: at };
}

// A werift attendee on `node` (presenter already publishing): resolves with the packets received on
// the audio and the video m-line once each has at least `n`.
async function weriftAttendee(node, peers, label, n = 50) {
  const h = await handle(node.janus, peers);
  const w = new WeriftAttendee(h, { label });
  peers.add(() => w.close());
  const r = await w.join(joinBody({ tenant: TENANT, room: ROOM, display: label }));
  assertEvent(r.data, 'admitted', `${label}: join`);
  await w.settled();
  assert.deepEqual(w.errors, [], `${label}: answering the offer`);
  await w.waitConnected();
  const mlines = w.offers[0].mlines.filter((m) => m.direction === 'sendonly');
  const mid = (kind) => {
    const m = mlines.find((x) => x.kind === kind);
    const all = w.offers[0].mlines.map(({ kind: k, direction, mid: i }) => ({ kind: k, direction, mid: i }));
    assert.ok(m, `${label}: the offer sends ${kind}: ${safeJson(all)}`);
    return m.mid;
  };
  const [am, vm] = [mid('audio'), mid('video')];
  return waitFor(() => {
    const got = { audio: w.onMid(am).length, video: w.onMid(vm).length };
    return got.audio >= n && got.video >= n ? got : false;
  }, { timeout: 30000, what: `${label}: ${n} RTP packets on audio mid ${am} and video mid ${vm} (so far ${summarize(w.packets)})` });
}

async function mediaFigures(label, at) {
  const t = await at.totals();
  console.log(`# ${label}: received audio ${t.audio.packets} packets, video ${t.video.packets} packets / ${t.video.frames} frames decoded`);
  return t;
}

test('each node serves media on the bridge: wrtc presenter, wrtc and werift attendees on node a and on node c', async () => {
  for (const node of [a, c]) {
    const peers = new Bag();
    try {
      const { attendee: at } = await wrtcPair(node, peers, `node ${node.name}`);
      const t = await mediaFigures(`node ${node.name} wrtc attendee`, at);
      assert.ok(t.video.frames > 0 && t.audio.packets > 0, `node ${node.name}: decoded video and audio: ${safeJson(t)}`);
      const got = await weriftAttendee(node, peers, `node ${node.name} werift attendee`);
      console.log(`# node ${node.name} werift attendee: ${got.audio} audio and ${got.video} video RTP packets`);
    } finally {
      await peers.closeAll();
    }
  }
});

test('every node reaches Redis; a partitioned node does not, and does again once healed (and serves media)', async () => {
  assert.equal(await redis.ask(null, 'ping'), 'PONG', 'from the client namespace');
  for (const node of [a, b, c]) assert.equal(await redis.ask(node, 'ping'), 'PONG', `from node ${node.name}'s namespace`);

  cluster.partition(b);
  try {
    const cut = await redis.ask(b, 'ping');
    assert.notEqual(cut, 'PONG', 'a partitioned node gets no answer from Redis');
    console.log(`# partitioned node b: redis-cli ping -> ${cut}`);
    assert.equal(await redis.ask(a, 'ping'), 'PONG', 'node a still reaches Redis while b is partitioned');
    await assert.rejects(b.janus.adminRaw({ janus: 'info' }, 3000), 'the partitioned node\'s Admin API is out of reach');
  } finally {
    cluster.heal(b);
  }
  await waitFor(async () => (await redis.ask(b, 'ping')) === 'PONG', { timeout: 15000, what: 'node b to reach Redis again after healing' });
  const peers = new Bag();
  try {
    await wrtcPair(b, peers, 'node b after healing');
  } finally {
    await peers.closeAll();
  }
});

// Send `count` UDP datagrams of `size` bytes as fast as possible from `from`'s namespace (a node
// process started there) to `to`:`port`; resolves once the sender is done.
async function udpBurst(from, to, port, { count = 50, size = 500 } = {}) {
  const code = `const s = require('node:dgram').createSocket('udp4'); const b = Buffer.alloc(${size}, 7); let n = 0;
    const next = () => { if (n++ === ${count}) return s.close(); s.send(b, ${port}, '${to}', next); }; next();`;
  const r = await run(from.ns, process.execPath, ['-e', code], { timeout: 10000 });
  assert.ok(r.ok, `UDP sender in ${from.ns}: ${r.stderr}`);
}

// A UDP socket on the client's bridge address counting what it receives; `settled()` resolves the
// count once nothing more arrived for a second (what a tbf queued has been let out by then).
async function udpCounter(ip) {
  const sock = dgram.createSocket('udp4');
  let got = 0;
  let last = Date.now();
  sock.on('message', () => { got += 1; last = Date.now(); });
  await new Promise((resolve) => sock.bind(0, ip, resolve));
  return {
    port: sock.address().port,
    settled: () => waitFor(() => Date.now() - last > 1000 && { got }, { timeout: 15000, interval: 100, what: 'UDP burst to settle' }),
    close: () => sock.close(),
  };
}

test('a tbf limit on a node\'s link drops what exceeds it, in both directions; lifted, everything passes', async () => {
  const N = 50;
  const counter = await udpCounter(cluster.client.ip);
  try {
    await cluster.limit(b, { rate: '64kbit', burst: '4kb', latency: '50ms', direction: 'both' });
    for (const direction of ['out', 'in']) {
      assert.equal((await cluster.qdiscStats(b, direction)).kind, 'tbf', `a tbf on node b's link (${direction})`);
    }
    // Out of node b: 50 x 500 bytes at once into a 4 KB bucket with 50 ms of queue at 64 kbit/s.
    await udpBurst(b, cluster.client.ip, counter.port, { count: N });
    const { got } = await counter.settled();
    const out = await cluster.qdiscStats(b, 'out');
    console.log(`# limited (out): ${got} of ${N} datagrams arrived; qdisc sent ${out.sentPackets}, dropped ${out.dropped}, overlimits ${out.overlimits}`);
    assert.ok(got < N && out.dropped > 0, `the limit drops part of a burst out of node b: ${got} of ${N} arrived, ${out.text}`);
    // Into node b (the tbf on its bridge port): the client sends to b's discard port.
    await udpBurst(cluster.client, b.ip, 9, { count: N });
    const inn = await cluster.qdiscStats(b, 'in');
    console.log(`# limited (in): qdisc sent ${inn.sentPackets}, dropped ${inn.dropped}, overlimits ${inn.overlimits}`);
    assert.ok(inn.dropped > 0, `the limit drops part of a burst into node b: ${inn.text}`);

    await cluster.unlimit(b);
    for (const direction of ['out', 'in']) {
      assert.notEqual((await cluster.qdiscStats(b, direction)).kind, 'tbf', `the limit (${direction}) is lifted`);
    }
    const before = (await counter.settled()).got;
    await udpBurst(b, cluster.client.ip, counter.port, { count: N });
    const after = (await counter.settled()).got;
    assert.equal(after - before, N, 'without the limit the whole burst arrives');
  } finally {
    await cluster.unlimit(b);
    counter.close();
  }
});

test('a SIGKILLed node is gone; the other two keep serving media', async () => {
  const peers = new Bag();
  try {
    const onB = await wrtcPair(b, peers, 'node b (before the kill)');
    const onC = await wrtcPair(c, peers, 'node c (before the kill)');
    const exit = await cluster.killNode(a);
    assert.equal(exit.signal, 'SIGKILL', `node a's Janus ended by SIGKILL: ${safeJson(exit)}`);
    assert.equal(a.alive, false);
    assert.deepEqual(cluster.pids(a), [], 'nothing runs in node a\'s namespace any more');
    await assert.rejects(a.janus.adminRaw({ janus: 'info' }, 3000), 'node a\'s Admin API is gone');
    // The media already flowing on b and c keeps flowing, and both still take new joins.
    for (const [node, pair] of [[b, onB], [c, onC]]) {
      await pair.attendee.waitMedia({ audio: true, video: true });
      const late = await attendee(node.janus, peers);
      const r = await late.join(joinBody({ tenant: TENANT, room: ROOM, display: `late on ${node.name}` }));
      assertEvent(r.data, 'admitted', `node ${node.name}: a join after node a died`);
      await late.waitMedia({ audio: true, video: true });
      await mediaFigures(`node ${node.name} late attendee`, late);
    }
    assert.equal((await b.janus.adminRaw({ janus: 'info' })).janus, 'server_info');
    assert.equal((await c.janus.adminRaw({ janus: 'info' })).janus, 'server_info');
    // The node starts again in its namespace, with the same folders (its state file).
    await a.janus.start();
    assert.equal(a.alive, true);
    const s = await a.janus.admin({ request: 'status' });
    assert.ok(s.tenants?.some((t) => t.tenant === TENANT), `node a's tenant back from its state file: ${safeJson(s.tenants)}`);
  } finally {
    await peers.closeAll();
  }
});

test('Redis killed and restarted answers again; with AOF it keeps its data unless restarted empty', async () => {
  assert.equal(await redis.ask(c, 'set', 'harness:key', 'v1'), 'OK');
  const exit = await redis.kill();
  assert.equal(exit.signal, 'SIGKILL', safeJson(exit));
  const down = await redis.ask(c, 'ping');
  assert.notEqual(down, 'PONG', 'a killed Redis does not answer');
  console.log(`# redis killed: redis-cli ping from node c -> ${down}`);
  await redis.start();
  for (const node of [b, c]) assert.equal(await redis.ask(node, 'ping'), 'PONG', `node ${node.name} reaches the restarted Redis`);
  assert.equal(await redis.ask(c, 'get', 'harness:key'), '', 'without persistence a restarted Redis is empty');

  const durable = await cluster.startRedis('redisaof', { aof: true });
  assert.equal(await durable.ask(b, 'set', 'harness:key', 'v2'), 'OK');
  assert.equal((await durable.kill()).signal, 'SIGKILL');
  await durable.start();
  assert.equal(await durable.ask(b, 'get', 'harness:key'), 'v2', 'the AOF kept the write across a SIGKILL');
  await durable.restartEmpty();
  assert.equal(await durable.ask(b, 'get', 'harness:key'), '', 'restarted empty');
  assert.equal(await durable.ask(b, 'dbsize'), '0');
});
