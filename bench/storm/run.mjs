#!/usr/bin/env node
// Join-storm benchmark orchestrator (issue 7). Run by scripts/bench-storm.sh inside a network
// namespace (AH_NETNS, AH_JANUS_IFACE, AH_JANUS_IP, AH_CLIENT_IP set as tests/integration/run.mjs
// does), pinned to the client core; Janus is started through AH_JANUS_BIN (a wrapper pinning it to
// the Janus core).
//
// For each plugin (allhands with admission on, then the stock VideoRoom), in the same run:
// a Janus with only that plugin, one @roamhq/wrtc presenter (synthetic video + audio), B werift
// attendees already watching (own process), then N werift joiners within STORM_SPREAD_MS over K
// processes. Samples Janus's and the clients' CPU (/proc/<pid>/stat) every 250 ms and allhands'
// status every 500 ms. Each run is repeated BENCH_RUNS times (3), the plugins interleaved, and every
// figure reported as median [min-max] (bench/common.mjs). Writes test-artifacts/bench-storm/
// {results.json, <run>-r<i>-series.csv, <run>-r<i>-subs.csv}.
//
// The measurement window is the same for every plugin: the attendees already in are measured (loss,
// longest video gap, CPU) from 2 s before the storm to STORM_WINDOW_S seconds after its first join,
// whether the joiners all got media earlier or not (before issue 12 it ended 3 s after the last
// joiner's video, or at the timeout: ~65 s for allhands over capacity against ~10 s for VideoRoom).
// The joiners' own figures (time to media, estimates) are taken until every joiner has media or
// STORM_TIMEOUT_S, and at least until the window's end.
//
// Env: STORM_N (100), STORM_B (10), STORM_K (4), STORM_SPREAD_MS (1000), STORM_TIMEOUT_S (60),
//   STORM_WINDOW_S (20), BENCH_RUNS (3), BENCH_PRESENTER_KBPS (300, bench/common.mjs),
//   STORM_PLUGINS (runs, "allhands,videoroom"; "allhands@R": fixed waves at R joins/s), STORM_JOIN_RATE (15),
//   STORM_CLIENT ("werift" or "c": bench/storm/cworker.mjs), STORM_CAPACITY (allhands capacity, 1000),
//   STORM_LEAVE_MS (a seated joiner leaves this often from the storm on; 0, the default: nobody),
//   STORM_OUT (test-artifacts/bench-storm).
// SPDX-License-Identifier: GPL-3.0-or-later
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JanusServer } from '../../tests/integration/lib/janus.mjs';
import { REPO_ROOT, sleep, waitFor } from '../../tests/integration/lib/util.mjs';
import {
  HZ, RUNS, aggregateRuns, commandLine, cpuTicks, fmtRange, mean, now, pct, presenterKbps as measureKbps, r1,
  startPresenter, writeCsv,
} from '../common.mjs';

const N = Number(process.env.STORM_N || 100);
const B = Number(process.env.STORM_B || 10);
const K = Number(process.env.STORM_K || 4);
const SPREAD = Number(process.env.STORM_SPREAD_MS || 1000);
const TIMEOUT_S = Number(process.env.STORM_TIMEOUT_S || 60);
// The measurement window of the attendees already in, the same for every plugin (see above).
const WINDOW_S = Number(process.env.STORM_WINDOW_S || 20);
const PLUGINS = (process.env.STORM_PLUGINS || 'allhands,videoroom').split(',');
const JOIN_RATE = Number(process.env.STORM_JOIN_RATE || 15);
// STORM_LEAVE_MS: from the storm on, a seated joiner leaves this often (0: nobody leaves), so that
// with STORM_CAPACITY below B + N the queue moves by seat turnover.
const LEAVE_MS = Number(process.env.STORM_LEAVE_MS || 0);
const OUT = process.env.STORM_OUT || path.join(REPO_ROOT, 'test-artifacts', 'bench-storm');
// STORM_CLIENT: "werift" (bench/storm/worker.mjs) or "c" (bench/storm/cworker.mjs, the C load client).
const CLIENT = process.env.STORM_CLIENT || 'werift';
fs.mkdirSync(OUT, { recursive: true });

const ALLHANDS_CFG = {
  // STORM_CAPACITY: the node's seat cap (e.g. what bench-fanout.sh measured it carries).
  capacity: Number(process.env.STORM_CAPACITY || 1000),
  wave_mode: 'adaptive',
  wave_size: 10,
  wave_min: 2,
  wave_interval_ms: 200,
  cpu_target_percent: 80,
  join_rate: JOIN_RATE,
  join_burst: 10,
  update_interval_ms: 500,
  admit_timeout_ms: 30000,
};

function forkWorker(name) {
  const file = CLIENT === 'c' ? 'cworker.mjs' : 'worker.mjs';
  const w = fork(path.join(REPO_ROOT, 'bench', 'storm', file), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  w.name = name;
  w.msgs = [];
  w.waiters = [];
  w.on('message', (m) => {
    if (m.type === 'error') console.error(`# ${name}: ${m.error}`);
    w.msgs.push(m);
    for (const f of [...w.waiters]) f(m);
  });
  w.next = (type, timeout = 120000) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name}: no ${type} in ${timeout} ms`)), timeout);
    const f = (m) => { if (m.type === type) { clearTimeout(t); w.waiters.splice(w.waiters.indexOf(f), 1); resolve(m); } };
    w.waiters.push(f);
  });
  return w;
}

// A run: "allhands" (adaptive waves, ALLHANDS_CFG), "allhands@R" (fixed waves paced at exactly R
// joins per second: wave_size R/5 every 200 ms, join_rate R; used to find the join rate the node
// sustains), or "videoroom".
function variantOf(name) {
  const m = /^allhands@(\d+)$/.exec(name);
  if (m) {
    const rate = Number(m[1]);
    return {
      name, plugin: 'allhands', joinRate: rate,
      cfg: { ...ALLHANDS_CFG, wave_mode: 'fixed', wave_size: Math.max(1, Math.round(rate / 5)), join_rate: rate, join_burst: Math.max(1, Math.round(rate / 5)) },
    };
  }
  if (name === 'allhands') return { name, plugin: 'allhands', joinRate: JOIN_RATE, cfg: ALLHANDS_CFG };
  if (name === 'videoroom') return { name, plugin: 'videoroom', cfg: {} };
  throw new Error(`unknown run ${name}`);
}

async function runOne(runName, rep) {
  const variant = variantOf(runName);
  const pluginName = variant.plugin;
  const file = `${runName}-r${rep}`;
  console.log(`# ${runName}, run ${rep} of ${RUNS}: N=${N} joiners, B=${B} already in, K=${K} joiner processes`);
  const janus = new JanusServer({
    name: `storm-${runName}`, plugins: [pluginName], sessionTimeout: 60, allhands: variant.cfg,
  });
  await janus.start();
  const janusPid = janus.proc.pid;
  const cleanup = [];
  try {
    // Presenter.
    const { pres, client, feed, tenant, room, plugin } = await startPresenter(janus, pluginName);
    cleanup.push(() => client.close());
    cleanup.push(() => pres.close());

    // Workers: 0 = the B already in; 1..K = joiners.
    const workers = [];
    const init = { wsUrl: janus.wsUrl, plugin, mode: pluginName, tenant, room, feed };
    const pre = forkWorker('pre');
    workers.push(pre);
    pre.send({ cmd: 'init', ...init, subs: [...Array(B).keys()].map((i) => ({ id: `p${i}`, pre: true })) });
    const joiners = [];
    for (let k = 0; k < K; k += 1) {
      const w = forkWorker(`w${k}`);
      workers.push(w);
      joiners.push(w);
      const ids = [];
      for (let i = k; i < N; i += K) ids.push({ id: `j${i}`, pre: false });
      w.send({ cmd: 'init', ...init, subs: ids });
    }
    cleanup.push(async () => {
      for (const w of workers) w.send({ cmd: 'close' });
      await Promise.race([Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r() : w.on('exit', r))))), sleep(8000)]);
      for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    });
    const ready = await Promise.all(workers.map((w) => w.next('ready')));
    // The C load client runs media in a child of each worker: its CPU counts too.
    const mediaPids = ready.map((m) => m.lcPid).filter(Boolean);

    // The B attendees join and watch.
    pre.send({ cmd: 'join', at: now(), spreadMs: 500 });
    await waitFor(async () => {
      pre.send({ cmd: 'status' });
      const s = await pre.next('status');
      return s.withMedia === B;
    }, { timeout: 60000, interval: 500, what: `${B} attendees watching` });
    await sleep(3000); // steady state

    const presenterKbps = await measureKbps(pres);
    console.log(`# ${runName}, run ${rep}: presenter sends ${Math.round(presenterKbps)} kbit/s (audio + video)`);

    // Sampling.
    const clientPids = [process.pid, ...workers.map((w) => w.pid), ...mediaPids];
    const series = [];
    const t0 = now();
    let lastCpu = { t: t0, janus: cpuTicks(janusPid), clients: clientPids.map(cpuTicks) };
    let status = {};
    const tickAgg = new Map(); // bucket -> {withMedia per worker, preRecv, preExp, preGap}
    for (const w of workers) {
      w.on('message', (m) => {
        if (m.type !== 'tick') return;
        const b = Math.round((m.t - t0) / 250);
        const a = tickAgg.get(b) || { withMedia: {}, admitted: {}, preRecv: 0, preExp: 0, preGap: 0 };
        a.withMedia[w.name] = m.withMedia;
        a.admitted[w.name] = m.admitted;
        if (w === pre) { a.preRecv += m.preRecv; a.preExp += m.preExp; a.preGap = Math.max(a.preGap, m.preGapNow); }
        tickAgg.set(b, a);
      });
    }
    for (const w of workers) w.send({ cmd: 'mark' });
    let sampling = true;
    const cpuLoop = (async () => {
      while (sampling) {
        await sleep(250);
        const t = now();
        const cur = { t, janus: cpuTicks(janusPid), clients: clientPids.map(cpuTicks) };
        const dt = (t - lastCpu.t) / 1000;
        const janusCpu = ((cur.janus - lastCpu.janus) / HZ / dt) * 100;
        const clientsCpu = (cur.clients.reduce((s, x, i) => s + ((x ?? 0) - (lastCpu.clients[i] ?? 0)), 0) / HZ / dt) * 100;
        series.push({ t: (t - t0) / 1000, janusCpu, clientsCpu, ...status });
        lastCpu = cur;
      }
    })();
    const statusLoop = (async () => {
      if (pluginName !== 'allhands') return;
      while (sampling) {
        try {
          const s = await janus.admin({ request: 'status' }, { timeout: 5000 });
          const c = s.node.counts;
          const a = s.node.admission || {};
          status = { queued: c.queued, admitted: c.admitted, connecting: c.connecting, active: c.active, waveNow: a.wave_size_now, admCpu: a.cpu };
          status.lastStatus = s;
        } catch { /* slow under load */ }
        await sleep(500);
      }
    })();
    await sleep(2000);
    const stormAt = now() + 100;
    for (const w of joiners) w.send({ cmd: 'join', at: stormAt, spreadMs: SPREAD });
    const stormT = (stormAt - t0) / 1000;
    console.log(`# ${runName}: storm at t=${stormT.toFixed(2)} s`);
    // The window of those already in ends WINDOW_S after the storm's first join, for every plugin.
    const windowEnd = stormAt + WINDOW_S * 1000;
    const kbpsWindow = measureKbps(pres, windowEnd - now());
    const windowReport = sleep(Math.max(0, windowEnd - now())).then(() => { const r = pre.next('report'); pre.send({ cmd: 'report' }); return r; });
    let leaveTurn = 0;
    const leaving = LEAVE_MS > 0 ? setInterval(() => joiners[leaveTurn++ % K].send({ cmd: 'leave' }), LEAVE_MS) : null;
    // Until every joiner has media, or the timeout.
    let done = false;
    const deadline = now() + TIMEOUT_S * 1000;
    while (now() < deadline) {
      await sleep(500);
      let withMedia = 0;
      for (const w of joiners) { w.send({ cmd: 'status' }); withMedia += (await w.next('status')).withMedia; }
      if (withMedia === N) { done = true; break; }
    }
    if (leaving) clearInterval(leaving);
    const preReport = await windowReport;
    const reports = await Promise.all(joiners.map((w) => { const r = w.next('report'); w.send({ cmd: 'report' }); return r; }));
    reports.push(preReport);
    sampling = false;
    await cpuLoop;
    await statusLoop;
    const finalStatus = series.length ? series[series.length - 1].lastStatus : null;
    const subs = reports.flatMap((r) => r.subs);

    // Merge the subscribers' ticks into the CPU/status series (nearest 250 ms bucket).
    // A worker's tick may fall in the neighbouring bucket: its cumulative counts are carried forward.
    const lastMedia = {};
    const lastAdm = {};
    for (const row of series) {
      const a = tickAgg.get(Math.round(row.t * 4));
      if (a) {
        Object.assign(lastMedia, a.withMedia);
        Object.assign(lastAdm, a.admitted);
        if (a.preExp > 0) row.preLossPct = Math.max(0, (1 - a.preRecv / a.preExp) * 100);
        if (a.withMedia.pre !== undefined) row.preGapMs = a.preGap;
      }
      row.withMedia = joiners.reduce((s, w) => s + (lastMedia[w.name] || 0), 0);
      row.joinersAdmitted = joiners.reduce((s, w) => s + (lastAdm[w.name] || 0), 0);
      delete row.lastStatus;
    }
    const result = summarize(variant, subs, series, { stormT, t0, presenterKbps, done, finalStatus });
    result.rep = rep;
    result.presenterKbpsWindow = Math.round(await kbpsWindow);
    writeCsv(path.join(OUT, `${file}-series.csv`), series.map((r) => ({ ...r, t: r.t - stormT })),
      ['t', 'janusCpu', 'clientsCpu', 'queued', 'admitted', 'connecting', 'withMedia', 'joinersAdmitted', 'preLossPct', 'preGapMs', 'waveNow']);
    writeCsv(path.join(OUT, `${file}-subs.csv`), subs.map((s) => ({
      id: s.id, pre: s.pre ? 1 : 0, reply: s.reply, joinAt: s.joinAt,
      admittedMs: s.admittedAt && s.joinAt ? s.admittedAt - s.joinAt : '',
      firstVideoMs: s.firstVideoAt && s.joinAt ? s.firstVideoAt - s.joinAt : '',
      firstEstimateMs: s.estimates.find((e) => e.known) ? s.estimates.find((e) => e.known).median_ms : '',
      windowRecv: s.windowRecv, windowExp: s.windowExp, maxVideoGapMs: s.maxVideoGapMs ?? '', errors: s.errors.length,
    })), ['id', 'pre', 'reply', 'joinAt', 'admittedMs', 'firstVideoMs', 'firstEstimateMs', 'windowRecv', 'windowExp', 'maxVideoGapMs', 'errors']);
    fs.writeFileSync(path.join(OUT, `${file}-subs.json`), JSON.stringify(subs, null, 1));
    return result;
  } finally {
    for (const c of cleanup.reverse()) { try { await c(); } catch { /* ignore */ } }
    await janus.dispose();
  }
}

function summarize(variant, subs, series, { stormT, t0, presenterKbps, done, finalStatus }) {
  const plugin = variant.plugin;
  const joiners = subs.filter((s) => !s.pre);
  const pres = subs.filter((s) => s.pre);
  const got = joiners.filter((s) => s.firstVideoAt);
  const ttm = got.map((s) => s.firstVideoAt - s.joinAt);
  const waits = joiners.filter((s) => s.admittedAt).map((s) => s.admittedAt - s.joinAt);
  // Estimate error: first known estimate vs actual wait from when it was given.
  const errs = [];
  for (const s of joiners) {
    const e = s.estimates.find((x) => x.known);
    if (!e || !s.admittedAt) continue;
    const actual = s.admittedAt - e.at;
    errs.push({ id: s.id, est: e.median_ms, actual, err: Math.abs(actual - e.median_ms) / Math.max(actual, 1000) });
  }
  const recv = pres.reduce((a, s) => a + s.windowRecv, 0);
  const exp = pres.reduce((a, s) => a + s.windowExp, 0);
  // The storm: from the first join until the last joiner's first video packet.
  const stormEndT = got.length ? (Math.max(...got.map((s) => s.firstVideoAt)) - t0) / 1000 : Infinity;
  const during = series.filter((r) => r.t >= stormT && r.t <= stormEndT + 0.25);
  const inWindow = series.filter((r) => r.t >= stormT && r.t <= stormT + WINDOW_S + 0.25);
  // Every estimate a queued joiner was given vs its actual remaining wait from then.
  const allErrs = [];
  const lastErrs = [];
  for (const s of joiners) {
    if (!s.admittedAt) continue;
    const known = s.estimates.filter((x) => x.known);
    for (const e of known) allErrs.push(Math.abs(s.admittedAt - e.at - e.median_ms) / Math.max(s.admittedAt - e.at, 1000));
    if (known.length) { const e = known[known.length - 1]; lastErrs.push(Math.abs(s.admittedAt - e.at - e.median_ms) / Math.max(s.admittedAt - e.at, 1000)); }
  }
  // Range coverage: the fraction of announced ranges [low_ms, high_ms] that held the actual wait from
  // when each was given (first known estimate of each joiner, and every known estimate).
  const inRange = (s, e) => { const w = s.admittedAt - e.at; return w >= e.low_ms && w <= e.high_ms; };
  const cover = { first: [0, 0], every: [0, 0], beyondWindow: 0 };
  for (const s of joiners) {
    if (!s.admittedAt) continue;
    const known = s.estimates.filter((x) => x.known);
    if (known.length) { cover.first[0]++; cover.first[1] += inRange(s, known[0]) ? 1 : 0; }
    for (const e of known) { cover.every[0]++; cover.every[1] += inRange(s, e) ? 1 : 0; cover.beyondWindow += e.beyond_window ? 1 : 0; }
  }
  const res = {
    run: variant.name, plugin, client: CLIENT, janusQuotaPct: Number(process.env.BENCH_JANUS_QUOTA || 100), N, B, K, spreadMs: SPREAD, presenterKbps: Math.round(presenterKbps), allJoinersGotMedia: done,
    joinersWithMedia: got.length,
    timeToMediaMs: { p50: r1(pct(ttm, 50)), p99: r1(pct(ttm, 99)), max: r1(ttm.length ? Math.max(...ttm) : null) },
    joinToAdmittedMs: { p50: r1(pct(waits, 50)), p99: r1(pct(waits, 99)), max: r1(waits.length ? Math.max(...waits) : null) },
    repliesToJoin: joiners.reduce((m, s) => { m[s.reply] = (m[s.reply] || 0) + 1; return m; }, {}),
    errors: subs.reduce((a, s) => a + s.errors.length, 0),
    alreadyIn: {
      lossPct: exp > 0 ? r1((1 - recv / exp) * 100 * 100) / 100 : null,
      worstLossPct: r1(Math.max(...pres.map((s) => (s.windowExp ? (1 - s.windowRecv / s.windowExp) * 100 : 0))) * 100) / 100,
      maxVideoGapMs: r1(Math.max(...pres.map((s) => s.maxVideoGapMs || 0))),
      maxVideoGapMsPerAttendee: pres.map((s) => Math.round(s.maxVideoGapMs || 0)),
    },
    stormSeconds: r1(stormEndT - stormT),
    windowSeconds: WINDOW_S,
    janusCpuPct: { meanDuringStorm: r1(mean(during.map((r) => r.janusCpu))), max: r1(Math.max(...during.map((r) => r.janusCpu))),
      secondsAbove95: during.filter((r) => r.janusCpu >= 95).length / 4 },
    clientsCpuPct: { meanDuringStorm: r1(mean(during.map((r) => r.clientsCpu))), max: r1(Math.max(...during.map((r) => r.clientsCpu))),
      secondsAbove80: during.filter((r) => r.clientsCpu >= 80).length / 4 },
    // The same figures over the fixed window (the storm's first join + WINDOW_S), for every plugin.
    window: {
      janusCpuMean: r1(mean(inWindow.map((r) => r.janusCpu))), janusCpuMax: r1(Math.max(...inWindow.map((r) => r.janusCpu))),
      clientsCpuMean: r1(mean(inWindow.map((r) => r.clientsCpu))), clientsCpuMax: r1(Math.max(...inWindow.map((r) => r.clientsCpu))),
    },
  };
  if (plugin === 'allhands') {
    res.config = variant.cfg;
    res.queuedAtJoin = joiners.filter((s) => s.reply === 'queued').length;
    const q = (a, p) => (a.length ? Math.round(pct(a, p) * 1000) / 1000 : null);
    res.estimates = {
      firstKnown: { count: errs.length, medianError: q(errs.map((e) => e.err), 50), p90Error: q(errs.map((e) => e.err), 90) },
      every: { count: allErrs.length, medianError: q(allErrs, 50), p90Error: q(allErrs, 90) },
      lastBeforeAdmission: { count: lastErrs.length, medianError: q(lastErrs, 50), p90Error: q(lastErrs, 90) },
      rangeCoverage: {
        first: { count: cover.first[0], inRange: cover.first[0] ? r1((cover.first[1] / cover.first[0]) * 100) : null },
        every: { count: cover.every[0], inRange: cover.every[0] ? r1((cover.every[1] / cover.every[0]) * 100) : null },
        beyondWindow: cover.beyondWindow,
      },
    };
    console.log(`# ${variant.name}: announced ranges held the actual wait: first known ${res.estimates.rangeCoverage.first.inRange ?? '-'}% `
      + `of ${cover.first[0]}, every known ${res.estimates.rangeCoverage.every.inRange ?? '-'}% of ${cover.every[0]}`);
    const admittedRate = waits.length > 1 ? (waits.length) / (Math.max(...waits) / 1000) : null;
    res.measuredAdmissionRate = r1(admittedRate);
    res.lastWaitBoundMs = variant.joinRate > 0 ? Math.round((1.3 * N * 1000) / variant.joinRate) : null;
    res.statusAdmission = finalStatus && finalStatus.node ? finalStatus.node.admission : null;
  }
  return res;
}


// The figures of the tables in docs/benchmarks.md, median [min-max] over the runs of one name.
const SUMMARY = [
  ['presenter kbit/s (2 s before the storm)', 'presenterKbps', 0],
  ['presenter kbit/s (storm window)', 'presenterKbpsWindow', 0],
  ['joiners with media', 'joinersWithMedia', 0],
  ['join to first video p50 (ms)', 'timeToMediaMs.p50', 0],
  ['join to first video p99 (ms)', 'timeToMediaMs.p99', 0],
  ['join to first video max (ms)', 'timeToMediaMs.max', 0],
  ['join to admitted max (ms)', 'joinToAdmittedMs.max', 0],
  ['storm length (s)', 'stormSeconds', 1],
  ['already in: loss %', 'alreadyIn.lossPct', 2],
  ['already in: worst loss %', 'alreadyIn.worstLossPct', 2],
  ['already in: longest video gap (ms)', 'alreadyIn.maxVideoGapMs', 0],
  ['Janus CPU mean during the storm %', 'janusCpuPct.meanDuringStorm', 0],
  ['Janus CPU peak during the storm %', 'janusCpuPct.max', 0],
  ['Janus CPU mean over the window %', 'window.janusCpuMean', 0],
  ['clients CPU peak over the window %', 'window.clientsCpuMax', 0],
  ['estimates: first known, median error', 'estimates.firstKnown.medianError', 3],
  ['estimates: every, median error', 'estimates.every.medianError', 3],
  ['estimates: last, median error', 'estimates.lastBeforeAdmission.medianError', 3],
  ['ranges held the wait: first known %', 'estimates.rangeCoverage.first.inRange', 1],
  ['ranges held the wait: every %', 'estimates.rangeCoverage.every.inRange', 1],
];

function printSummary(summary) {
  const names = Object.keys(summary);
  console.log(`# median [min-max] of ${RUNS} run(s) each`);
  console.log(`| | ${names.join(' | ')} |`);
  console.log(`| --- |${names.map(() => ' ---: |').join('')}`);
  for (const [label, key, digits] of SUMMARY) {
    if (!names.some((n) => summary[n][key])) continue;
    console.log(`| ${label} | ${names.map((n) => fmtRange(summary[n][key], digits)).join(' | ')} |`);
  }
}

async function main() {
  const command = commandLine('scripts/bench-storm.sh', {
    STORM_CLIENT: CLIENT, STORM_N: N, STORM_B: B, STORM_K: K, STORM_SPREAD_MS: SPREAD, STORM_JOIN_RATE: JOIN_RATE,
    STORM_CAPACITY: ALLHANDS_CFG.capacity, STORM_LEAVE_MS: LEAVE_MS, STORM_WINDOW_S: WINDOW_S, STORM_TIMEOUT_S: TIMEOUT_S,
    STORM_PLUGINS: PLUGINS,
  });
  console.log(`# command: ${command}`);
  const results = {
    date: new Date().toISOString(), host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, kernel: os.release() },
    command, params: { N, B, K, SPREAD, JOIN_RATE, CLIENT, WINDOW_S, TIMEOUT_S, RUNS }, runs: [], summary: {},
  };
  // Interleaved: every plugin's first run, then every plugin's second run, ...
  for (let rep = 1; rep <= RUNS; rep += 1) {
    for (const p of PLUGINS) {
      const r = await runOne(p, rep);
      console.log(JSON.stringify(r, null, 1));
      results.runs.push(r);
      for (const name of PLUGINS) {
        const mine = results.runs.filter((x) => x.run === name);
        if (mine.length) results.summary[name] = aggregateRuns(mine);
      }
      fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 1));
      await sleep(2000);
    }
  }
  console.log(`# command: ${command}`);
  printSummary(results.summary);
  process.exit(0);
}

main().catch((e) => { console.error(e.stack || e); process.exit(1); });
