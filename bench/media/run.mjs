#!/usr/bin/env node
// Media across nodes benchmark orchestrator (issue 14). Run by scripts/bench-media.sh in the client
// namespace of a private bridge (AH_CLUSTER_* exported, as tests/cluster/run.mjs does), pinned to the
// client CPU with the presenter (@roamhq/wrtc, 640x360 15 fps VP8 + Opus, video capped at
// BENCH_PRESENTER_KBPS), the C load client and Redis. Every Janus node (tests/cluster/lib/cluster.mjs,
// cluster mode, one redis-server) runs pinned to the Janus CPU in a cgroup of its own with a CFS quota
// of MEDIA_QUOTA % of a core (10 ms period), so that the nodes, not the client core, saturate.
// Figures are printed and kept, never asserted.
//
// Phases (MEDIA_PHASES, default "single,three,hop,tree,storm"):
//   single  one node (the room's origin, presenter and every attendee on it): attendees added in steps
//           (MEDIA_SINGLE_STEPS), each step joined over 20 ms per attendee, 3 s to settle, then
//           MEDIA_MEASURE_S measured (each node's CPU, the clients' CPU, loss over every attendee from
//           sequence numbers, the longest video gap of any attendee, the presenter's bitrate). Stops at
//           the first step with loss >= 1 %, a gap >= MEDIA_GAP_MS, an attendee without video, or the
//           clients at >= MEDIA_CLIENT_MAX % of their core (then the load generator is the limit and the
//           figure is a lower bound). Carried: the last step before the first that failed or where the
//           presenter kept less than MEDIA_MIN_PRESENTER_PCT of its bitrate (below); also carried by
//           loss and gap alone, and the most packets delivered per second.
//   three   three nodes serving the room: the origin (presenter and a third of the attendees) and two
//           edges (the rest, seated with seat tickets): same steps rule; the steps are MEDIA_THREE_STEPS,
//           or by default 2.0, 2.4, 2.6, 2.8, 3.0, 3.2, 3.6, 4.0, 4.5, 5.0 times what `single` carried by
//           loss and gap (multiples of 3). Prints carried by one node and by three, and the ratios (issue
//           14's goal: at least 2.8). During each step, the first attendees of the origin and of each edge
//           are traced (below): the hop's latency under that load.
//   hop     an origin and MEDIA_EDGES (4) edges: one attendee on the origin, then one attendee more on
//           each edge in turn (0, 1, 2, ... edges subscribed), the origin's CPU over MEDIA_EDGE_MEASURE_S
//           at each step, then MEDIA_EDGES attendees more on the origin itself (the cost of as many
//           local attendees, for comparison). Meanwhile the load client traces every packet of the
//           origin's attendee and of the edges' attendees (arrival time, hashes of the payload: the
//           same presenter packet relayed to both has the same payload, other sequence numbers): the
//           edge's arrival minus the origin's, per packet, p50/p90/p99 (issue 14's goal: < 10 ms).
//   tree    an origin and a chain of MEDIA_TREE_DEPTH (3) edges (edge_fanout 1: origin -> k1 -> k2 -> k3),
//           one attendee on each node, every packet traced for MEDIA_TREE_S (15) s: the latency at each
//           depth of the tree, against the origin's attendee.
//   storm   the join storm, on one node and on three (origin and two edges): MEDIA_STORM_B (30) attendees
//           in, spread over the nodes, then MEDIA_STORM_N (60) joiners within MEDIA_STORM_SPREAD_MS
//           (1000), all joining on the origin, which serves a third of everyone itself (room option
//           origin_attendees) and places the rest on the edges with seat redirects (edge_ramp_per_s:
//           the default 50, or MEDIA_STORM_RAMP); the measures of bench/storm over MEDIA_STORM_WINDOW_S (20).
//
// Env: MEDIA_PHASES, MEDIA_QUOTA (20), MEDIA_SINGLE_STEPS ("40,50,60,70,80,90,100,110,120,130,140,160"),
//   MEDIA_THREE_STEPS (derived, above), MEDIA_MEASURE_S (8), MEDIA_GAP_MS (1000), MEDIA_CLIENT_MAX (85),
//   MEDIA_MIN_PRESENTER_PCT (80), MEDIA_EDGES (4), MEDIA_EDGE_MEASURE_S (15), MEDIA_TREE_DEPTH (3),
//   MEDIA_TREE_S (15), MEDIA_STORM_B (30), MEDIA_STORM_N (60), MEDIA_STORM_SPREAD_MS (1000),
//   MEDIA_STORM_WINDOW_S (20), MEDIA_STORM_RAMP, BENCH_PRESENTER_KBPS (300), MEDIA_OUT (results folder).
// Each node's cgroup also gets a large CPU weight (cpu.shares 8192 / cpu.weight 800), so that other
// work on the machine does not take the node's budget from it (the quota still caps it).
// SPDX-License-Identifier: GPL-3.0-or-later
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import wrtc from '@roamhq/wrtc';
import { Cluster } from '../../tests/cluster/lib/cluster.mjs';
import { Client } from '../../tests/integration/lib/client.mjs';
import { ALLHANDS } from '../../tests/integration/lib/janus.mjs';
import { Presenter, SyntheticSource } from '../../tests/integration/lib/media.mjs';
import { REPO_ROOT, sleep, waitFor } from '../../tests/integration/lib/util.mjs';
import { CpuMeter, PRESENTER_KBPS, pct, presenterKbps, r1 } from '../common.mjs';

const PHASES = (process.env.MEDIA_PHASES || 'single,three,hop,tree,storm').split(',');
const QUOTA = Number(process.env.MEDIA_QUOTA || 20);
const SINGLE_STEPS = (process.env.MEDIA_SINGLE_STEPS || '40,50,60,70,80,90,100,110,120,130,140,160').split(',').map(Number);
const THREE_STEPS = process.env.MEDIA_THREE_STEPS ? process.env.MEDIA_THREE_STEPS.split(',').map(Number) : null;
const THREE_RATIOS = [2.0, 2.4, 2.6, 2.8, 3.0, 3.2, 3.6, 4.0, 4.5, 5.0];
const MEASURE_S = Number(process.env.MEDIA_MEASURE_S || 8);
const GAP_MS = Number(process.env.MEDIA_GAP_MS || 1000);
const CLIENT_MAX = Number(process.env.MEDIA_CLIENT_MAX || 85);
// A saturated origin delays the presenter's packets and feedback, and the presenter's congestion
// control lowers its bitrate: fewer packets to relay. `carried` counts a step only while the presenter
// kept MEDIA_MIN_PRESENTER_PCT (80) % of its bitrate (the higher of before and during the first step);
// `carriedLossGap` ignores it; `maxDeliveredPps` (packets delivered to attendees per second, the most
// of any step within loss and gap) is the relay's throughput whatever the presenter sends.
const MIN_PRESENTER_PCT = Number(process.env.MEDIA_MIN_PRESENTER_PCT || 80);
const EDGES = Number(process.env.MEDIA_EDGES || 4);
const EDGE_MEASURE_S = Number(process.env.MEDIA_EDGE_MEASURE_S || 15);
const STORM_B = Number(process.env.MEDIA_STORM_B || 30);
const STORM_N = Number(process.env.MEDIA_STORM_N || 60);
const STORM_SPREAD_MS = Number(process.env.MEDIA_STORM_SPREAD_MS || 1000);
const STORM_WINDOW_S = Number(process.env.MEDIA_STORM_WINDOW_S || 20);
const STORM_RAMP = process.env.MEDIA_STORM_RAMP ? Number(process.env.MEDIA_STORM_RAMP) : null;
const TREE_DEPTH = Number(process.env.MEDIA_TREE_DEPTH || 3);
const TREE_S = Number(process.env.MEDIA_TREE_S || 15);
const CG = process.env.MEDIA_CG;
const OUT = process.env.MEDIA_OUT || path.join(REPO_ROOT, 'test-artifacts', 'bench-media');
const TENANT = 'bench';
const ROOM = 'allhands';
fs.mkdirSync(OUT, { recursive: true });

// ---------------------------------------------------------------------------------------------
// Nodes under a CPU quota.

// A cgroup `<MEDIA_CG>/<name>` with a CFS quota of QUOTA % of a core (10 ms period), holding `pid`
// (every thread of it: cgroup.procs moves the whole process).
function confine(name, pid) {
  if (!CG) throw new Error('MEDIA_CG is not set: run through scripts/bench-media.sh');
  const dir = path.join(CG, name);
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(path.join(dir, 'cpu.max'))) {
    fs.writeFileSync(path.join(dir, 'cpu.max'), `${QUOTA * 100} 10000`);
    fs.writeFileSync(path.join(dir, 'cpu.weight'), '800');
  } else {
    fs.writeFileSync(path.join(dir, 'cpu.cfs_period_us'), '10000');
    fs.writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(QUOTA * 100));
    fs.writeFileSync(path.join(dir, 'cpu.shares'), '8192');
  }
  fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  return dir;
}

function unconfine(dir) {
  for (let i = 0; i < 20; i += 1) {
    try { fs.rmdirSync(dir); return; } catch { /* processes still leaving */ }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}

function nodeConfig(redis, name) {
  return {
    cluster: true, redis_host: redis.ip, redis_port: redis.redisPort, node_id: `node-${name}`, node_url: (j) => j.wsUrl,
    heartbeat_ms: 1000, node_expiry_ms: 3000, edge_linger_ms: 2000,
    // Admission out of the way: this measures carrying attendees, not admitting them.
    capacity: 5000, wave_mode: 'fixed', wave_size: 100, wave_interval_ms: 100, join_rate: 0, admit_timeout_ms: 60000,
  };
}

async function clusterStatus(node) {
  const s = await node.janus.admin({ request: 'status' });
  return s.cluster || {};
}

// Redis and nodes `names` (the first is the room's origin), each confined; the tenant, the room homed
// on the first, seen by every node; every node sees the others alive.
async function startCluster(names, extra = {}, roomExtra = {}) {
  const cluster = new Cluster();
  cluster.cgroups = [];
  const redis = await cluster.startRedis(`r${names[0]}`);
  const nodes = [];
  for (const name of names) {
    const node = await cluster.startNode(name, { sessionTimeout: 120, allhands: { ...nodeConfig(redis, name), ...extra } }, { timeout: 60000 });
    cluster.cgroups.push(confine(name, node.janus.proc.pid));
    node.nodeId = `node-${name}`;
    nodes.push(node);
  }
  const origin = nodes[0];
  let r = await origin.janus.admin({ request: 'create_tenant', tenant: TENANT, max_participants: 10000, secret: 's-tenant-secret-1' });
  if (r.allhands !== 'success') throw new Error(`create_tenant: ${JSON.stringify(r)}`);
  r = await origin.janus.admin({ request: 'create_room', tenant: TENANT, room: ROOM, max_attendees: 10000, presenter_secret: 'p-presenter', node: origin.nodeId, ...roomExtra });
  if (r.allhands !== 'success') throw new Error(`create_room: ${JSON.stringify(r)}`);
  for (const n of nodes) {
    await waitFor(async () => (await n.janus.admin({ request: 'room_info', tenant: TENANT, room: ROOM })).allhands === 'success',
      { timeout: 20000, interval: 100, what: `node ${n.name}: the room from Redis` });
    await waitFor(async () => ((await clusterStatus(n)).nodes || []).filter((x) => x.alive).length === nodes.length,
      { timeout: 20000, interval: 200, what: `node ${n.name} sees ${nodes.length} nodes alive` });
  }
  return { cluster, redis, nodes };
}

async function stopCluster(c) {
  await c.cluster.teardown();
  for (const d of c.cluster.cgroups) unconfine(d);
}

// The presenter on the origin: VP8 640x360 15 fps + Opus, its video capped at PRESENTER_KBPS (the
// cap is set at the transceiver's creation: @roamhq/wrtc refuses setParameters on a negotiated sender).
async function startPresenter(origin) {
  const client = await Client.connect(origin.janus);
  const ph = await client.attach(ALLHANDS);
  const j = await ph.request({ request: 'join', tenant: TENANT, room: ROOM, ptype: 'presenter', display: 'ceo', presenter_secret: 'p-presenter' });
  if (j.data.event !== 'joined') throw new Error(`presenter join: ${JSON.stringify(j.data)}`);
  const pres = new Presenter(ph, { publishBody: { request: 'publish' } });
  pres.source = new SyntheticSource({ width: 640, height: 360, fps: 15 });
  const proto = wrtc.RTCPeerConnection.prototype;
  const orig = proto.addTransceiver;
  if (PRESENTER_KBPS) {
    proto.addTransceiver = function capped(track, init = {}) {
      const kind = typeof track === 'string' ? track : track.kind;
      if (kind === 'video' && !init.sendEncodings) init = { ...init, sendEncodings: [{ maxBitrate: PRESENTER_KBPS * 1000 }] };
      return orig.call(this, track, init);
    };
  }
  try { await pres.publish(); } finally { proto.addTransceiver = orig; }
  await pres.waitConnected();
  return { pres, client };
}

async function stopPresenter(p) {
  if (!p) return;
  try { p.pres.close(); } catch { /* ignore */ }
  try { await p.client.close(); } catch { /* ignore */ }
}

// ---------------------------------------------------------------------------------------------
// Attendee workers (bench/media/worker.mjs).

function forkWorker(name) {
  const w = fork(path.join(REPO_ROOT, 'bench', 'media', 'worker.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  w.name = name;
  w.waiters = [];
  w.on('message', (m) => {
    if (m.type === 'error') console.error(`# ${name}: ${m.error}`);
    for (const f of [...w.waiters]) f(m);
  });
  w.next = (type, timeout = 120000) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name}: no ${type} in ${timeout} ms`)), timeout);
    const f = (m) => { if (m.type === type) { clearTimeout(t); w.waiters.splice(w.waiters.indexOf(f), 1); resolve(m); } };
    w.waiters.push(f);
  });
  w.ask = async (msg, type, timeout) => { const p = w.next(type, timeout); w.send(typeof msg === 'string' ? { cmd: msg } : msg); return p; };
  return w;
}

async function stopWorkers(workers) {
  for (const w of workers) w.send({ cmd: 'close' });
  await Promise.race([Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r() : w.on('exit', r))))), sleep(10000)]);
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
}

function workerInit(nodes, origin, subs) {
  return {
    cmd: 'init', lcIp: process.env.AH_CLIENT_IP, plugin: ALLHANDS, tenant: TENANT, room: ROOM, subs,
    nodes: nodes.map((n) => ({ name: n.name, nodeId: n.nodeId, wsUrl: n.janus.wsUrl, ticketNode: n === origin ? null : n.nodeId })),
  };
}

// ---------------------------------------------------------------------------------------------
// Attendees carried: steps until loss, a long gap, or the client core at its limit.

async function carry(label, names, steps) {
  console.log(`# ${label}: nodes ${names.join(', ')} at ${QUOTA} % of a core each; steps ${steps.join(', ')}`);
  const c = await startCluster(names);
  const { nodes } = c;
  const origin = nodes[0];
  const workers = [];
  const rows = [];
  let presenter = null;
  let stopped = 'last step';
  try {
    presenter = await startPresenter(origin);
    const kbps0 = Math.round(await presenterKbps(presenter.pres));
    console.log(`# ${label}: presenter sends ${kbps0} kbit/s before the first step`);
    const mediaPids = [];
    let have = 0;
    let baseKbps = kbps0;
    for (const n of steps) {
      const add = n - have;
      if (add <= 0) continue;
      // Round-robin over the nodes, continuing where the last step stopped.
      const subs = [...Array(add).keys()].map((i) => ({ id: `s${have + i}`, node: (have + i) % nodes.length }));
      const w = forkWorker(`${label}-${n}`);
      workers.push(w);
      const ready = await w.ask(workerInit(nodes, origin, subs), 'ready', 300000);
      mediaPids.push(ready.lcPid);
      w.send({ cmd: 'join', at: performance.timeOrigin + performance.now() + 100, spreadMs: add * 20 });
      let withMedia = 0;
      try {
        await waitFor(async () => {
          withMedia = (await w.ask('status', 'status')).withMedia;
          return withMedia === add;
        }, { timeout: 30000 + add * 100, interval: 1000, what: `${add} new attendees with video` });
      } catch {
        console.log(`# ${label}: step ${n}: only ${withMedia} of ${add} new attendees got video`);
      }
      have = n;
      // With several nodes, the first three attendees (s0 on the origin, s1 and s2 on the edges, all in
      // the first worker) are traced over the window: the hop's latency under this step's load.
      if (nodes.length > 1) await workers[0].ask({ cmd: 'trace', ids: ['s0', 's1', 's2'], on: true }, 'tracing');
      await sleep(3000);
      for (const x of workers) x.send({ cmd: 'mark' });
      const kbpsDuring = presenterKbps(presenter.pres, MEASURE_S * 1000);
      const nodeCpu = nodes.map((x) => new CpuMeter([x.janus.proc.pid]));
      const clientCpu = new CpuMeter([process.pid, ...workers.map((x) => x.pid), ...mediaPids]);
      await sleep(MEASURE_S * 1000);
      const cpus = nodeCpu.map((m) => r1(m.read()));
      const cc = clientCpu.read();
      const presKbps = Math.round(await kbpsDuring);
      const reports = await Promise.all(workers.map((x) => x.ask('report', 'report')));
      const all = reports.flatMap((r) => r.subs);
      const recv = all.reduce((a, s) => a + s.windowRecv, 0);
      const exp = all.reduce((a, s) => a + s.windowExp, 0);
      const perNode = Object.fromEntries(nodes.map((x) => [x.name, all.filter((s) => s.node === x.name).length]));
      const errors = all.flatMap((s) => s.errors);
      const row = {
        n, perNode, presenterKbps: presKbps, withVideo: all.filter((s) => s.firstVideoAt).length, nodeCpu: cpus,
        clientsCpu: r1(cc), lossPct: exp > 0 ? Math.round((1 - recv / exp) * 100 * 1000) / 1000 : null,
        worstLossPct: r1(Math.max(...all.map((s) => (s.windowExp ? Math.max(0, 1 - s.windowRecv / s.windowExp) * 100 : 100)))),
        maxVideoGapMs: Math.round(Math.max(...all.map((s) => s.maxVideoGapMs || 0))),
        authFail: all.reduce((a, s) => a + (s.authFail || 0), 0),
        packetsPerAttendeePerS: Math.round((recv / n / MEASURE_S) * 10) / 10,
        deliveredPps: Math.round(recv / MEASURE_S),
        errors: errors.slice(0, 3),
      };
      if (nodes.length > 1) {
        const tr = (await workers[0].ask('traces', 'traces')).traces;
        await workers[0].ask({ cmd: 'trace', ids: ['s0', 's1', 's2'], on: false }, 'tracing');
        const d = [hopDiffs(tr.s0 || [], tr.s1 || []), hopDiffs(tr.s0 || [], tr.s2 || [])];
        row.hopMs = dist(d.flatMap((x) => [...x.audio, ...x.video]));
      }
      row.passedLossGap = row.lossPct !== null && row.lossPct < 1 && row.maxVideoGapMs < GAP_MS && row.withVideo === n;
      // The presenter's reference bitrate: the higher of before the first step (it may still be ramping
      // up) and during the first step.
      if (rows.length === 0) baseKbps = Math.max(kbps0, presKbps);
      row.presenterRefKbps = baseKbps;
      row.passed = row.passedLossGap && presKbps >= (baseKbps * MIN_PRESENTER_PCT) / 100;
      rows.push(row);
      console.log(`# ${label}: ${JSON.stringify(row)}`);
      if (!row.passedLossGap) { stopped = `at ${n}: loss ${row.lossPct} %, gap ${row.maxVideoGapMs} ms, ${row.withVideo} of ${n} with video`; break; }
      if (row.clientsCpu >= CLIENT_MAX) { stopped = `clients at ${row.clientsCpu} % at ${n}: client-limited, a lower bound`; break; }
    }
  } finally {
    await stopWorkers(workers);
    await stopPresenter(presenter);
    await stopCluster(c);
  }
  // Carried: the last step before the first one that failed.
  const upTo = (key) => {
    let last = 0;
    for (const r of rows) { if (!r[key]) break; last = r.n; }
    return last;
  };
  const carried = upTo('passed');
  const carriedLossGap = upTo('passedLossGap');
  // Packets delivered to attendees per second, the most of any step within loss and gap: the relay's
  // throughput, whatever the presenter's bitrate.
  const maxDeliveredPps = Math.max(0, ...rows.filter((r) => r.passedLossGap).map((r) => r.deliveredPps));
  console.log(`# ${label}: carried ${carried}, ${carriedLossGap} by loss and gap alone (stopped ${stopped})`);
  return { label, nodes: names, steps, rows, carried, carriedLossGap, maxDeliveredPps, stopped, clientLimited: /client-limited/.test(stopped) };
}

// ---------------------------------------------------------------------------------------------
// One edge hop: latency, and the origin's CPU per edge subscribed.

// Per packet, the edge attendee's arrival minus the origin attendee's, for the packets whose payload
// hash key appears once in each trace (a payload seen twice, such as repeated identical audio frames,
// cannot be matched). Video keys use h8 too (past a VP8 descriptor a relay may rewrite).
function hopDiffs(oTrace, eTrace) {
  const index = (tr) => {
    const m = new Map();
    for (const p of tr) {
      const key = `${p.k}:${p.h}:${p.h8}`;
      m.set(key, m.has(key) ? null : p.t);
    }
    return m;
  };
  const o = index(oTrace);
  const e = index(eTrace);
  const diffs = { a: [], v: [] };
  for (const [key, t] of e) {
    const to = o.get(key);
    if (t != null && to != null) diffs[key[0]].push(t - to);
  }
  return { audio: diffs.a, video: diffs.v, originPackets: oTrace.length, edgePackets: eTrace.length };
}

const dist = (xs) => (xs.length ? {
  n: xs.length, p50: r1(pct(xs, 50)), p90: r1(pct(xs, 90)), p99: r1(pct(xs, 99)), min: r1(Math.min(...xs)), max: r1(Math.max(...xs)),
} : { n: 0 });

async function hop() {
  const names = ['ho', ...[...Array(EDGES).keys()].map((i) => `he${i + 1}`)];
  console.log(`# hop: origin ho and ${EDGES} edges at ${QUOTA} % of a core each`);
  const c = await startCluster(names);
  const { nodes } = c;
  const origin = nodes[0];
  let presenter = null;
  const w = forkWorker('hop');
  const steps = [];
  const result = { nodes: names };
  try {
    presenter = await startPresenter(origin);
    const subs = [{ id: 'o0', node: 0 }, ...nodes.slice(1).map((_, i) => ({ id: `e${i + 1}`, node: i + 1 })),
      ...[...Array(EDGES).keys()].map((i) => ({ id: `l${i + 1}`, node: 0 }))];
    const ready = await w.ask(workerInit(nodes, origin, subs), 'ready', 120000);
    const joinAndWait = async (ids) => {
      w.send({ cmd: 'joinIds', ids });
      let last = null;
      try {
        await waitFor(async () => {
          last = await w.ask('report', 'report');
          return ids.every((id) => last.subs.find((s) => s.id === id)?.firstVideoAt);
        }, { timeout: 30000, interval: 500, what: `video for ${ids.join(', ')}` });
      } catch (e) {
        console.log(`# hop: ${JSON.stringify(last?.subs.filter((s) => ids.includes(s.id)))}`);
        throw e;
      }
    };
    const measure = async (label, edges, local) => {
      await sleep(3000);
      const o = new CpuMeter([origin.janus.proc.pid]);
      const ed = new CpuMeter(nodes.slice(1, 1 + Math.max(edges, 1)).map((x) => x.janus.proc.pid));
      const cl = new CpuMeter([process.pid, w.pid, ready.lcPid]);
      await sleep(EDGE_MEASURE_S * 1000);
      const row = { label, edges, localAttendees: local, originCpu: Math.round(o.read() * 100) / 100, edgesCpu: r1(ed.read()), clientsCpu: r1(cl.read()) };
      const m = (await clusterStatus(origin)).media || {};
      row.linksToEdges = (m.links || []).filter((l) => l.role === 'to_edge').map((l) => ({ peer: l.peer, kbps: Math.round((l.bitrate_bps || 0) / 1000) }));
      steps.push(row);
      console.log(`# hop: ${JSON.stringify(row)}`);
    };
    await joinAndWait(['o0']);
    await measure('0 edges', 0, 1);
    await w.ask({ cmd: 'trace', ids: ['o0'], on: true }, 'tracing');
    for (let k = 1; k <= EDGES; k += 1) {
      await joinAndWait([`e${k}`]);
      await w.ask({ cmd: 'trace', ids: [`e${k}`], on: true }, 'tracing');
      await measure(`${k} edge${k > 1 ? 's' : ''}`, k, 1);
    }
    const links = [];
    for (const n of nodes.slice(1)) {
      const l = ((await clusterStatus(n)).media?.links || []).find((x) => x.role === 'from_origin');
      if (l) links.push({ node: n.name, delayMs: l.delay_ms, loss: l.loss, kbps: Math.round((l.bitrate_bps || 0) / 1000), dropped: l.dropped });
    }
    const tr = (await w.ask('traces', 'traces')).traces;
    console.log(`# hop: packets traced: ${Object.entries(tr).map(([id, x]) => `${id} ${x.length}`).join(', ')}`);
    w.send({ cmd: 'trace', ids: Object.keys(tr), on: false });
    await joinAndWait([...Array(EDGES).keys()].map((i) => `l${i + 1}`));
    await measure(`${EDGES} edges + ${EDGES} more local attendees`, EDGES, 1 + EDGES);
    const perEdge = {};
    const allA = [];
    const allV = [];
    for (let k = 1; k <= EDGES; k += 1) {
      const d = hopDiffs(tr.o0 || [], tr[`e${k}`] || []);
      perEdge[`he${k}`] = { audio: dist(d.audio), video: dist(d.video), originPackets: d.originPackets, edgePackets: d.edgePackets };
      allA.push(...d.audio);
      allV.push(...d.video);
    }
    Object.assign(result, {
      latency: { all: dist([...allA, ...allV]), audio: dist(allA), video: dist(allV), perEdge }, linkStatus: links, steps,
    });
    // The origin's CPU per edge subscribed: least-squares slope over 0..EDGES edges.
    const xs = steps.filter((s) => s.localAttendees === 1).map((s) => s.edges);
    const ys = steps.filter((s) => s.localAttendees === 1).map((s) => s.originCpu);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const sxy = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0);
    const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    result.originCpuPerEdge = sxx ? Math.round((sxy / sxx) * 1000) / 1000 : null;
    const last = steps[steps.length - 1];
    const before = steps[steps.length - 2];
    result.originCpuPerLocalAttendee = Math.round(((last.originCpu - before.originCpu) / EDGES) * 1000) / 1000;
    console.log(`# hop: latency added by one edge hop (ms): ${JSON.stringify(result.latency.all)}; audio ${JSON.stringify(result.latency.audio)}; video ${JSON.stringify(result.latency.video)}`);
    console.log(`# hop: origin CPU per edge subscribed ${result.originCpuPerEdge} % of a core; per local attendee ${result.originCpuPerLocalAttendee} %`);
  } finally {
    await stopWorkers([w]);
    await stopPresenter(presenter);
    await stopCluster(c);
  }
  return result;
}

// A chain of edges (edge_fanout 1 on every node: origin -> k1 -> k2 -> ...): one attendee on the origin
// and one on each edge, every packet traced for MEDIA_TREE_S; the latency at each depth of the tree.
async function tree() {
  const names = ['ko', ...[...Array(TREE_DEPTH).keys()].map((i) => `k${i + 1}`)];
  console.log(`# tree: origin ko and a chain of ${TREE_DEPTH} edges (edge_fanout 1) at ${QUOTA} % of a core each`);
  const c = await startCluster(names, { edge_fanout: 1 });
  const { nodes } = c;
  const origin = nodes[0];
  let presenter = null;
  const w = forkWorker('tree');
  const result = { nodes: names, levels: [] };
  try {
    presenter = await startPresenter(origin);
    const subs = [{ id: 'o0', node: 0 }, ...nodes.slice(1).map((_, i) => ({ id: `e${i + 1}`, node: i + 1 }))];
    await w.ask(workerInit(nodes, origin, subs), 'ready', 120000);
    for (const s of subs) {
      w.send({ cmd: 'joinIds', ids: [s.id] });
      await waitFor(async () => (await w.ask('report', 'report')).subs.find((x) => x.id === s.id)?.firstVideoAt,
        { timeout: 30000, interval: 500, what: `video for ${s.id}` });
      await w.ask({ cmd: 'trace', ids: [s.id], on: true }, 'tracing');
    }
    await sleep(TREE_S * 1000);
    const tr = (await w.ask('traces', 'traces')).traces;
    for (let k = 1; k <= TREE_DEPTH; k += 1) {
      const m = (await clusterStatus(nodes[k])).media || {};
      const room = (m.edge_of || []).find((r) => r.room === ROOM) || {};
      const d = hopDiffs(tr.o0 || [], tr[`e${k}`] || []);
      const lvl = { node: names[k], parent: room.parent || room.origin || null, latency: dist([...d.audio, ...d.video]) };
      result.levels.push(lvl);
      console.log(`# tree: ${JSON.stringify(lvl)}`);
    }
  } finally {
    await stopWorkers([w]);
    await stopPresenter(presenter);
    await stopCluster(c);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Join storm: STORM_B attendees already in (spread over the nodes with seat tickets), then STORM_N
// joiners within STORM_SPREAD_MS, every one joining on the origin, which seats them there up to the
// room's `origin_attendees` (a third of everyone with three nodes) and places the rest on the edges
// with seat redirects (followed by the worker: a session on the edge, a join with the ticket).
// Measured as bench/storm does: join to first video (median, p99, max), the last joiner admitted, the
// storm's length, those already in (loss, longest video gap) and every node's CPU over the same window
// (from 2 s before the first join to STORM_WINDOW_S after it), the presenter's bitrate over it.
async function storm(label, names) {
  const all = STORM_B + STORM_N;
  const roomExtra = names.length > 1 ? { origin_attendees: Math.ceil(all / names.length) } : {};
  const extra = STORM_RAMP ? { edge_ramp_per_s: STORM_RAMP } : {};
  console.log(`# ${label}: nodes ${names.join(', ')} at ${QUOTA} % of a core each; ${STORM_B} in, ${STORM_N} joining on the origin within ${STORM_SPREAD_MS} ms${roomExtra.origin_attendees ? `; origin_attendees ${roomExtra.origin_attendees}` : ''}`);
  const c = await startCluster(names, extra, roomExtra);
  const { nodes } = c;
  const origin = nodes[0];
  const workers = [];
  let presenter = null;
  const result = { label, nodes: names, B: STORM_B, N: STORM_N, spreadMs: STORM_SPREAD_MS, roomExtra, extra };
  try {
    presenter = await startPresenter(origin);
    const wPre = forkWorker(`${label}-in`);
    const wJoin = forkWorker(`${label}-joiners`);
    workers.push(wPre, wJoin);
    const preSubs = [...Array(STORM_B).keys()].map((i) => ({ id: `b${i}`, node: i % nodes.length }));
    const joinSubs = [...Array(STORM_N).keys()].map((i) => ({ id: `j${i}`, node: 0 }));
    const rPre = await wPre.ask(workerInit(nodes, origin, preSubs), 'ready', 120000);
    const rJoin = await wJoin.ask(workerInit(nodes, origin, joinSubs), 'ready', 120000);
    wPre.send({ cmd: 'join', at: performance.timeOrigin + performance.now() + 100, spreadMs: STORM_B * 20 });
    await waitFor(async () => (await wPre.ask('status', 'status')).withMedia === STORM_B,
      { timeout: 60000, interval: 500, what: `${STORM_B} attendees in with video` });
    await sleep(3000);
    const t0 = performance.timeOrigin + performance.now() + 2000;
    wPre.send({ cmd: 'mark' });
    const kbpsDuring = presenterKbps(presenter.pres, (STORM_WINDOW_S + 2) * 1000);
    const nodeCpu = nodes.map((x) => new CpuMeter([x.janus.proc.pid]));
    const clientCpu = new CpuMeter([process.pid, wPre.pid, wJoin.pid, rPre.lcPid, rJoin.lcPid]);
    wJoin.send({ cmd: 'join', at: t0, spreadMs: STORM_SPREAD_MS });
    let joined = null;
    try {
      await waitFor(async () => (await wJoin.ask('status', 'status')).withMedia === STORM_N,
        { timeout: STORM_WINDOW_S * 1000 + 2000, interval: 250, what: `${STORM_N} joiners with video` });
      joined = performance.timeOrigin + performance.now();
    } catch { /* counted below */ }
    const end = t0 + STORM_WINDOW_S * 1000;
    await sleep(Math.max(0, end - (performance.timeOrigin + performance.now())));
    result.nodeCpu = nodeCpu.map((m) => r1(m.read()));
    result.clientsCpu = r1(clientCpu.read());
    result.presenterKbps = Math.round(await kbpsDuring);
    const pre = (await wPre.ask('report', 'report')).subs;
    const js = (await wJoin.ask('report', 'report')).subs;
    const recv = pre.reduce((a, x) => a + x.windowRecv, 0);
    const exp = pre.reduce((a, x) => a + x.windowExp, 0);
    const withVideo = js.filter((x) => x.firstVideoAt);
    const ttv = withVideo.map((x) => (x.firstVideoAt - x.joinAt) / 1000);
    const admitted = js.filter((x) => x.admittedAt);
    const placed = {};
    for (const x of js) { const k = x.placedOn || nodes[0].nodeId; placed[k] = (placed[k] || 0) + 1; }
    Object.assign(result, {
      joinersWithVideo: withVideo.length,
      joinToVideoS: { p50: ttv.length ? Math.round(pct(ttv, 50) * 100) / 100 : null, p99: ttv.length ? Math.round(pct(ttv, 99) * 100) / 100 : null,
        max: ttv.length ? Math.round(Math.max(...ttv) * 100) / 100 : null },
      lastAdmittedS: admitted.length ? Math.round(((Math.max(...admitted.map((x) => x.admittedAt)) - t0) / 1000) * 100) / 100 : null,
      stormLengthS: joined ? Math.round(((Math.max(...withVideo.map((x) => x.firstVideoAt)) - t0) / 1000) * 10) / 10 : null,
      redirected: js.filter((x) => x.redirectedAt).length,
      servedOn: placed,
      preLossPct: exp ? Math.round((1 - recv / exp) * 100 * 100) / 100 : null,
      preMaxGapMs: Math.round(Math.max(0, ...pre.map((x) => x.maxVideoGapMs || 0))),
      errors: js.flatMap((x) => x.errors).slice(0, 5),
    });
    console.log(`# ${label}: ${JSON.stringify(result)}`);
  } finally {
    await stopWorkers(workers);
    await stopPresenter(presenter);
    await stopCluster(c);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------

function commandLine() {
  const vars = {
    MEDIA_PHASES: PHASES.join(','), MEDIA_QUOTA: QUOTA, MEDIA_SINGLE_STEPS: SINGLE_STEPS.join(','),
    ...(THREE_STEPS ? { MEDIA_THREE_STEPS: THREE_STEPS.join(',') } : {}), MEDIA_MEASURE_S: MEASURE_S, MEDIA_GAP_MS: GAP_MS,
    MEDIA_CLIENT_MAX: CLIENT_MAX, MEDIA_MIN_PRESENTER_PCT: MIN_PRESENTER_PCT, MEDIA_EDGES: EDGES, MEDIA_EDGE_MEASURE_S: EDGE_MEASURE_S, BENCH_PRESENTER_KBPS: PRESENTER_KBPS,
  };
  return `${Object.entries(vars).map(([k, v]) => `${k}=${v}`).join(' ')} bash scripts/bench-media.sh`;
}

function printSummary(res) {
  console.log(`# command: ${res.command}`);
  console.log(`# load average at the start ${res.loadavgStart.join(' ')}, at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  for (const k of ['single', 'three']) {
    const r = res[k];
    if (!r) continue;
    console.log(`| ${k}: attendees | per node | node CPU % (quota ${QUOTA}) | clients CPU % | loss % | longest gap ms | presenter kbit/s | packets/s delivered | hop p50/p90/p99 ms |`);
    console.log('| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const x of r.rows) {
      const hp = x.hopMs ? (x.hopMs.n ? `${x.hopMs.p50} / ${x.hopMs.p90} / ${x.hopMs.p99} (${x.hopMs.n})` : 'none matched') : '-';
      console.log(`| ${x.n}${x.passed ? '' : x.passedLossGap ? ' (presenter)' : ' (failed)'} | ${Object.values(x.perNode).join(' / ')} | ${x.nodeCpu.join(' / ')} | ${x.clientsCpu} | ${x.lossPct} | ${x.maxVideoGapMs} | ${x.presenterKbps} | ${x.deliveredPps} | ${hp} |`);
    }
    console.log(`# ${k}: carried ${r.carried} (presenter kept >= ${MIN_PRESENTER_PCT} % of its bitrate), ${r.carriedLossGap} by loss and gap alone (stopped ${r.stopped})`);
  }
  if (res.single && res.three) {
    const ratio = (a, b) => (a ? Math.round((b / a) * 100) / 100 : null);
    const lb = res.three.clientLimited ? ' (three nodes client-limited: a lower bound)' : '';
    console.log(`# attendees carried: one node ${res.single.carried}, three nodes ${res.three.carried}: ratio ${ratio(res.single.carried, res.three.carried)}${lb} (goal >= 2.8)`);
    console.log(`# packets delivered per second, the most within loss and gap: one node ${res.single.maxDeliveredPps}, three nodes ${res.three.maxDeliveredPps}: ratio ${ratio(res.single.maxDeliveredPps, res.three.maxDeliveredPps)}${lb}`);
    console.log(`# by loss and gap alone: one node ${res.single.carriedLossGap}, three nodes ${res.three.carriedLossGap}: ratio ${ratio(res.single.carriedLossGap, res.three.carriedLossGap)}${lb}`);
  }
  if (res.hop) {
    const h = res.hop;
    console.log('| edges subscribed | local attendees | origin CPU % | edges CPU % | clients CPU % |');
    console.log('| ---: | ---: | ---: | ---: | ---: |');
    for (const s of h.steps) console.log(`| ${s.edges} | ${s.localAttendees} | ${s.originCpu} | ${s.edgesCpu} | ${s.clientsCpu} |`);
    console.log(`# origin CPU per edge subscribed ${h.originCpuPerEdge} % of a core (slope over 0..${EDGES}), per local attendee ${h.originCpuPerLocalAttendee} %`);
    if (h.latency) {
      const f = (d) => (d.n ? `p50 ${d.p50} / p90 ${d.p90} / p99 ${d.p99} ms (min ${d.min}, max ${d.max}, ${d.n} packets)` : 'no packets matched');
      console.log(`# latency added by one edge hop: all ${f(h.latency.all)}; audio ${f(h.latency.audio)}; video ${f(h.latency.video)} (goal < 10 ms)`);
      console.log(`# links as the edges report them: ${JSON.stringify(h.linkStatus)}`);
    }
  }
  for (const k of ['storm1', 'storm3']) {
    const r = res[k];
    if (!r) continue;
    console.log(`# ${k} (${r.nodes.length} node${r.nodes.length > 1 ? 's' : ''}, ${r.B} in, ${r.N} joining): with video ${r.joinersWithVideo}/${r.N}, join to video p50 ${r.joinToVideoS.p50} / p99 ${r.joinToVideoS.p99} / max ${r.joinToVideoS.max} s, last admitted ${r.lastAdmittedS} s, storm length ${r.stormLengthS} s; redirected ${r.redirected}, served on ${JSON.stringify(r.servedOn)}; those in: loss ${r.preLossPct} %, longest gap ${r.preMaxGapMs} ms; node CPU ${r.nodeCpu.join(' / ')} %, clients ${r.clientsCpu} %, presenter ${r.presenterKbps} kbit/s`);
  }
  if (res.tree) {
    const f = (d) => (d.n ? `p50 ${d.p50} / p90 ${d.p90} / p99 ${d.p99} ms (min ${d.min}, max ${d.max}, ${d.n} packets)` : 'no packets matched');
    res.tree.levels.forEach((l, i) => console.log(`# tree depth ${i + 1}: ${l.node} (parent ${l.parent}): ${f(l.latency)} behind the origin's attendee`));
  }
}

async function main() {
  const command = commandLine();
  console.log(`# command: ${command}`);
  const res = {
    date: new Date().toISOString(), host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, kernel: os.release() },
    command, loadavgStart: os.loadavg().map((x) => x.toFixed(2)), quotaPct: QUOTA,
  };
  const save = () => fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(res, null, 1));
  if (PHASES.includes('single')) { res.single = await carry('single', ['s1'], SINGLE_STEPS); save(); }
  if (PHASES.includes('three')) {
    let steps = THREE_STEPS;
    if (!steps) {
      const base = res.single?.carriedLossGap || SINGLE_STEPS[0];
      steps = [...new Set(THREE_RATIOS.map((k) => Math.round((k * base) / 3) * 3))];
    }
    res.three = await carry('three', ['ta', 'tb', 'tc'], steps);
    save();
  }
  if (PHASES.includes('hop')) { res.hop = await hop(); save(); }
  if (PHASES.includes('tree')) { res.tree = await tree(); save(); }
  if (PHASES.includes('storm')) {
    res.storm1 = await storm('storm1', ['g1']);
    save();
    res.storm3 = await storm('storm3', ['ga', 'gb', 'gc']);
    save();
  }
  printSummary(res);
  process.exit(0);
}

main().catch((e) => { console.error(e.stack || e); process.exit(1); });
