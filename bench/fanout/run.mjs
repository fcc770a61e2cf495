#!/usr/bin/env node
// Steady fan-out benchmark orchestrator (issue 7). Run by scripts/bench-fanout.sh inside a network
// namespace, pinned to the client core; Janus is started through AH_JANUS_BIN (pinned to its core).
//
// For each variant (allhands, the stock VideoRoom, ...), in the same run: a Janus with only that
// plugin, one @roamhq/wrtc presenter (synthetic 640x360 VP8 at libwebrtc's own bitrate + Opus),
// then attendees added in steps (FANOUT_STEPS) through the C load client (bench/storm/cworker.mjs:
// one ah-loadclient process per step, signalling multiplexed over WebSockets). After each step has
// its media up and has settled, a measurement window of FANOUT_MEASURE_S seconds: Janus's CPU (in %
// of its core, and per attendee), the clients' CPU, packet loss over every attendee (received /
// expected from sequence numbers, every packet SRTP-authenticated), the worst attendee's loss and
// the longest video gap, and the presenter's bitrate over the window. A variant stops at the first
// step with loss >= 1 %, or with the clients at >= 80 % of their core (then the load generator, not
// Janus, would be measured). With BENCH_JANUS_QUOTA (scripts/bench-env.sh) Janus gets only that
// share of its core, so it saturates, and loses packets, before the client core is at its limit.
// Each variant runs BENCH_RUNS times (3), interleaved (allhands, videoroom, allhands, ...); the
// presenter's video is capped at BENCH_PRESENTER_KBPS (300) for every variant (bench/common.mjs).
// Writes test-artifacts/bench-fanout/{results.json, fanout-runs.csv (every run's rows), fanout.csv
// (per variant and step: the median over the runs, with min and max of the Janus CPU)}. The marginal
// cost (least-squares slope of Janus CPU over the steps) is computed per run, reported as median
// [min-max].
//
// Env: FANOUT_STEPS ("50,100,200,300,400,500,600,800,1000"), FANOUT_MEASURE_S (10),
//   FANOUT_VARIANTS ("allhands,videoroom"; also "allhands-relay2": allhands with relay_threads = 2,
//   every stream through the helper threads), FANOUT_OUT, BENCH_RUNS, BENCH_PRESENTER_KBPS.
// SPDX-License-Identifier: GPL-3.0-or-later
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JanusServer } from '../../tests/integration/lib/janus.mjs';
import { REPO_ROOT, sleep, waitFor } from '../../tests/integration/lib/util.mjs';
import {
  CpuMeter, RUNS, aggregateRuns, commandLine, fmtRange, medianOf, presenterKbps, r1, slope, startPresenter, writeCsv,
} from '../common.mjs';

const STEPS = (process.env.FANOUT_STEPS || '50,100,200,300,400,500,600,800,1000').split(',').map(Number);
const MEASURE_S = Number(process.env.FANOUT_MEASURE_S || 10);
const VARIANTS = (process.env.FANOUT_VARIANTS || 'allhands,videoroom').split(',');
// Janus's CPU quota (scripts/bench-env.sh BENCH_JANUS_QUOTA), percent of its core; 100: none.
const QUOTA = Number(process.env.BENCH_JANUS_QUOTA || 100);
const OUT = process.env.FANOUT_OUT || path.join(REPO_ROOT, 'test-artifacts', 'bench-fanout');
fs.mkdirSync(OUT, { recursive: true });

// Admission out of the way: this measures carrying attendees, not admitting them.
const ALLHANDS_CFG = {
  capacity: 5000, wave_mode: 'fixed', wave_size: 100, wave_interval_ms: 100, join_rate: 0, admit_timeout_ms: 60000,
};
const VARIANT_CFG = {
  allhands: { plugin: 'allhands', cfg: ALLHANDS_CFG },
  'allhands-relay2': { plugin: 'allhands', cfg: { ...ALLHANDS_CFG, relay_threads: 2, relay_inline_max: 1 } },
  videoroom: { plugin: 'videoroom', cfg: {} },
};

function forkWorker(name) {
  const w = fork(path.join(REPO_ROOT, 'bench', 'storm', 'cworker.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
  w.ask = async (cmd, type) => { const p = w.next(type); w.send({ cmd }); return p; };
  return w;
}

async function runVariant(variant, rep) {
  const { plugin: pluginName, cfg } = VARIANT_CFG[variant];
  console.log(`# ${variant}, run ${rep} of ${RUNS}: steps ${STEPS.join(', ')}, ${MEASURE_S} s each`);
  const janus = new JanusServer({ name: `fanout-${variant}`, plugins: [pluginName], sessionTimeout: 120, allhands: cfg });
  await janus.start();
  const workers = [];
  const rows = [];
  let stopped = null;
  const stopWorkers = async () => {
    for (const w of workers) w.send({ cmd: 'close' });
    await Promise.race([Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r() : w.on('exit', r))))), sleep(10000)]);
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  };
  let presenter = null;
  try {
    presenter = await startPresenter(janus, pluginName, { room: 'fanout', max: 5000 });
    const kbps = await presenterKbps(presenter.pres);
    console.log(`# ${variant}, run ${rep}: presenter sends ${Math.round(kbps)} kbit/s (audio + video) before the first step`);
    const init = {
      wsUrl: janus.wsUrl, plugin: presenter.plugin, mode: pluginName, tenant: presenter.tenant, room: presenter.room,
      feed: presenter.feed,
    };
    const mediaPids = [];
    let have = 0;
    for (const n of STEPS) {
      const add = n - have;
      if (add <= 0) continue;
      const w = forkWorker(`n${n}`);
      workers.push(w);
      w.send({ cmd: 'init', ...init, subs: [...Array(add).keys()].map((i) => ({ id: `s${have + i}`, pre: true })) });
      const ready = await w.next('ready', 300000);
      mediaPids.push(ready.lcPid);
      // Joined over add x 20 ms: steady growth, not a storm.
      w.send({ cmd: 'join', at: performance.timeOrigin + performance.now() + 100, spreadMs: add * 20 });
      let withMedia = 0;
      try {
        await waitFor(async () => {
          withMedia = (await w.ask('status', 'status')).withMedia;
          return withMedia === add;
        }, { timeout: 60000 + add * 100, interval: 1000, what: `${add} new attendees with video` });
      } catch (e) {
        console.log(`# ${variant}: step ${n}: only ${withMedia} of ${add} new attendees got video`);
      }
      have = n;
      await sleep(3000); // settle
      for (const x of workers) x.send({ cmd: 'mark' });
      const kbpsDuring = presenterKbps(presenter.pres, MEASURE_S * 1000);
      const janusCpu = new CpuMeter([janus.proc.pid]);
      const clientCpu = new CpuMeter([process.pid, ...workers.map((x) => x.pid), ...mediaPids]);
      await sleep(MEASURE_S * 1000);
      const jc = janusCpu.read();
      const cc = clientCpu.read();
      const presKbps = Math.round(await kbpsDuring);
      const reports = await Promise.all(workers.map((x) => x.ask('report', 'report')));
      const subs = reports.flatMap((r) => r.subs);
      const recv = subs.reduce((a, s) => a + s.windowRecv, 0);
      const exp = subs.reduce((a, s) => a + s.windowExp, 0);
      const losses = subs.map((s) => (s.windowExp ? Math.max(0, 1 - s.windowRecv / s.windowExp) * 100 : 100));
      const row = {
        variant, rep, n, presenterKbps: presKbps, withVideo: subs.filter((s) => s.firstVideoAt).length,
        janusCpu: r1(jc), janusCpuPerAttendee: Math.round((jc / n) * 1000) / 1000, clientsCpu: r1(cc),
        lossPct: exp > 0 ? Math.round((1 - recv / exp) * 100 * 1000) / 1000 : null,
        worstLossPct: r1(Math.max(...losses)),
        maxVideoGapMs: Math.round(Math.max(...subs.map((s) => s.maxVideoGapMs || 0))),
        authFail: subs.reduce((a, s) => a + (s.authFail || 0), 0),
        packetsPerAttendeePerS: Math.round((recv / n / MEASURE_S) * 10) / 10,
      };
      rows.push(row);
      console.log(`# ${variant}: ${JSON.stringify(row)}`);
      if (row.lossPct === null || row.lossPct >= 1) { stopped = `loss ${row.lossPct}% at ${n}`; break; }
      if (row.clientsCpu >= 80) { stopped = `clients at ${row.clientsCpu}% at ${n}`; break; }
    }
    const perAttendee = slope(rows.map((r) => r.n), rows.map((r) => r.janusCpu));
    return {
      variant, rep, plugin: pluginName, config: cfg, presenterKbps: Math.round(kbps), rows, stopped: stopped || 'last step',
      marginalCpuPerAttendee: perAttendee === null ? null : Math.round(perAttendee * 10000) / 10000,
    };
  } finally {
    await stopWorkers();
    if (presenter) { try { presenter.pres.close(); } catch { /* ignore */ } try { await presenter.client.close(); } catch { /* ignore */ } }
    await janus.dispose();
  }
}

const ROW_COLS = ['variant', 'n', 'presenterKbps', 'withVideo', 'janusCpu', 'janusCpuPerAttendee', 'clientsCpu', 'lossPct',
  'worstLossPct', 'maxVideoGapMs', 'authFail', 'packetsPerAttendeePerS'];

// Per variant and step, the median of each column over the runs that reached it, with the range of
// the Janus CPU, the gap and the presenter's bitrate.
function medianRows(runs) {
  const out = [];
  for (const v of VARIANTS) {
    for (const n of STEPS) {
      const rows = runs.filter((r) => r.variant === v).flatMap((r) => r.rows).filter((r) => r.n === n);
      if (!rows.length) continue;
      const m = { variant: v, n, runs: rows.length };
      for (const c of ROW_COLS.slice(2)) m[c] = medianOf(rows.map((r) => r[c]));
      for (const c of ['janusCpu', 'maxVideoGapMs', 'presenterKbps', 'lossPct']) {
        m[`${c}Min`] = Math.min(...rows.map((r) => r[c]));
        m[`${c}Max`] = Math.max(...rows.map((r) => r[c]));
      }
      out.push(m);
    }
  }
  return out;
}

function printSummary(results) {
  console.log(`# median [min-max] of ${RUNS} run(s) each; per step: Janus CPU % / longest gap ms / loss % / presenter kbit/s`);
  console.log(`| attendees | ${VARIANTS.join(' | ')} |`);
  console.log(`| ---: |${VARIANTS.map(() => ' --- |').join('')}`);
  const rng = (xs, d = 1) => fmtRange({ median: medianOf(xs), min: Math.min(...xs), max: Math.max(...xs) }, d);
  for (const n of STEPS) {
    const cells = VARIANTS.map((v) => {
      const rows = results.runs.filter((r) => r.variant === v).flatMap((r) => r.rows).filter((r) => r.n === n);
      if (!rows.length) return '-';
      return `${rng(rows.map((r) => r.janusCpu))} / ${rng(rows.map((r) => r.maxVideoGapMs), 0)} / ${rng(rows.map((r) => r.lossPct), 3)}`
        + ` / ${rng(rows.map((r) => r.presenterKbps), 0)}${rows.length < RUNS ? ` (${rows.length} runs)` : ''}`;
    });
    console.log(`| ${n} | ${cells.join(' | ')} |`);
  }
  console.log(`| marginal cost, % of a core per attendee | ${VARIANTS.map((v) => fmtRange(results.summary[v]?.marginalCpuPerAttendee, 3)).join(' | ')} |`);
}

async function main() {
  const command = commandLine('scripts/bench-fanout.sh', { FANOUT_STEPS: STEPS, FANOUT_MEASURE_S: MEASURE_S, FANOUT_VARIANTS: VARIANTS });
  console.log(`# command: ${command}`);
  const results = {
    date: new Date().toISOString(), host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, kernel: os.release() },
    command, params: { STEPS, MEASURE_S, VARIANTS, janusQuotaPct: QUOTA, RUNS }, runs: [], summary: {},
  };
  for (const v of VARIANTS) {
    if (!VARIANT_CFG[v]) throw new Error(`unknown variant ${v} (${Object.keys(VARIANT_CFG).join(', ')})`);
  }
  // Interleaved: every variant's first run, then every variant's second run, ...
  for (let rep = 1; rep <= RUNS; rep += 1) {
    for (const v of VARIANTS) {
      const r = await runVariant(v, rep);
      results.runs.push(r);
      for (const name of VARIANTS) {
        const mine = results.runs.filter((x) => x.variant === name);
        if (mine.length) results.summary[name] = aggregateRuns(mine.map((x) => ({ presenterKbps: x.presenterKbps, marginalCpuPerAttendee: x.marginalCpuPerAttendee })));
      }
      results.medianRows = medianRows(results.runs);
      fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 1));
      writeCsv(path.join(OUT, 'fanout-runs.csv'), results.runs.flatMap((x) => x.rows), ['rep', ...ROW_COLS]);
      writeCsv(path.join(OUT, 'fanout.csv'), results.medianRows,
        [...ROW_COLS, 'runs', 'janusCpuMin', 'janusCpuMax', 'maxVideoGapMsMin', 'maxVideoGapMsMax', 'presenterKbpsMin', 'presenterKbpsMax', 'lossPctMin', 'lossPctMax']);
      await sleep(2000);
    }
  }
  console.log(JSON.stringify(results.summary, null, 1));
  console.log(`# command: ${command}`);
  printSummary(results);
  process.exit(0);
}

main().catch((e) => { console.error(e.stack || e); process.exit(1); });
