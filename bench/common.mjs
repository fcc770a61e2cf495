// Shared by the media benchmarks (bench/storm/run.mjs, bench/fanout/run.mjs): CPU sampling from
// /proc, percentiles, CSV, the presenter of a run (allhands or the stock VideoRoom), repeated runs
// (BENCH_RUNS, figures as median [min-max]) and the command line that reproduces a run.
// SPDX-License-Identifier: GPL-3.0-or-later
import fs from 'node:fs';
import wrtc from '@roamhq/wrtc';
import { ALLHANDS, VIDEOROOM } from '../tests/integration/lib/janus.mjs';
import { Client } from '../tests/integration/lib/client.mjs';
import { Presenter, SyntheticSource } from '../tests/integration/lib/media.mjs';

export const HZ = 100; // USER_HZ on Linux
export const now = () => performance.timeOrigin + performance.now();

// utime + stime of a process in clock ticks, or null when it is gone.
export function cpuTicks(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // fields 14, 15
  } catch { return null; }
}

// CPU of a set of processes between two calls, in % of one core.
export class CpuMeter {
  constructor(pids) { this.pids = pids; this.reset(); }
  reset() { this.t = now(); this.ticks = this.pids.map(cpuTicks); }
  read() {
    const t = now();
    const ticks = this.pids.map(cpuTicks);
    const used = ticks.reduce((s, x, i) => s + ((x ?? 0) - (this.ticks[i] ?? 0)), 0);
    return (used / HZ / ((t - this.t) / 1000)) * 100;
  }
}

export const pct = (arr, p) => {
  if (!arr.length) return null;
  const a = [...arr].sort((x, y) => x - y);
  return a[Math.min(a.length - 1, Math.ceil((p / 100) * a.length) - 1)];
};
export const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);
export const mean = (a) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : null);

export function writeCsv(file, rows, cols) {
  const lines = [cols.join(',')];
  for (const r of rows) lines.push(cols.map((c) => (r[c] === undefined || r[c] === null ? '' : typeof r[c] === 'number' ? Math.round(r[c] * 1000) / 1000 : r[c])).join(','));
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

// BENCH_RUNS: how many times each plugin's measurement runs, interleaved (allhands, videoroom,
// allhands, videoroom, ...) so that the machine's drift hits both; every figure is then reported as
// the median of the runs with its range.
export const RUNS = Math.max(1, Number(process.env.BENCH_RUNS || 3));

// BENCH_PRESENTER_KBPS: the presenter's video is capped on the client side at this many kbit/s
// (RTCRtpEncodingParameters.maxBitrate of its video sender; audio, about 30 kbit/s, comes on top),
// below the REMB of both plugins (VideoRoom's held an uncapped presenter at 427-509 kbit/s,
// allhands' at 390-422), so that both relay the same bitrate. 0: no cap (libwebrtc's own rate).
export const PRESENTER_KBPS = Number(process.env.BENCH_PRESENTER_KBPS ?? 300);

// The presenter's video sender gets its cap at creation (sendEncodings): @roamhq/wrtc 0.10 refuses
// setParameters() on a negotiated sender (InvalidStateError). tests/integration/lib/media.mjs
// creates the transceivers inside publish(), so addTransceiver is wrapped for that call only.
async function publishCapped(pres, kbps) {
  if (!kbps) return pres.publish();
  const proto = wrtc.RTCPeerConnection.prototype;
  const orig = proto.addTransceiver;
  proto.addTransceiver = function capped(track, init = {}) {
    const kind = typeof track === 'string' ? track : track.kind;
    if (kind === 'video' && !init.sendEncodings) init = { ...init, sendEncodings: [{ maxBitrate: kbps * 1000 }] };
    return orig.call(this, track, init);
  };
  try { return await pres.publish(); } finally { proto.addTransceiver = orig; }
}

// The presenter of a run: for allhands a tenant `bench` and room `room` (caps `max`) and a presenter
// that publishes; for the VideoRoom a room and a publisher. The synthetic video is width x height
// at 15 fps (env BENCH_W/BENCH_H or STORM_W/STORM_H, default 640x360), VP8 + Opus, its video capped
// at PRESENTER_KBPS. Returns {pres, client, feed, tenant, room, plugin}.
export async function startPresenter(janus, pluginName, { room = 'storm', max = 2000 } = {}) {
  const client = await Client.connect(janus);
  const plugin = pluginName === 'allhands' ? ALLHANDS : VIDEOROOM;
  const ph = await client.attach(plugin);
  let feed = null;
  const tenant = 'bench';
  const roomId = pluginName === 'allhands' ? room : 7000 + (process.pid % 1000);
  if (pluginName === 'allhands') {
    await janus.admin({ request: 'create_tenant', tenant, max_participants: max, secret: 's-tenant-secret-1' });
    await janus.admin({ request: 'create_room', tenant, room: roomId, max_attendees: max, presenter_secret: 'p-presenter' });
    const j = await ph.request({ request: 'join', tenant, room: roomId, ptype: 'presenter', display: 'ceo', presenter_secret: 'p-presenter' });
    if (j.data.event !== 'joined') throw new Error(`presenter join: ${JSON.stringify(j.data)}`);
  } else {
    const c = await ph.request({ request: 'create', room: roomId, publishers: 1, bitrate: 600000 });
    if (c.data.videoroom !== 'created') throw new Error(`create: ${JSON.stringify(c.data)}`);
    const j = await ph.request({ request: 'join', ptype: 'publisher', room: roomId, display: 'ceo' });
    feed = j.data.id;
  }
  const pres = new Presenter(ph, { publishBody: pluginName === 'allhands' ? { request: 'publish' } : { request: 'publish', audio: true, video: true } });
  const width = Number(process.env.BENCH_W || process.env.STORM_W || 640);
  const height = Number(process.env.BENCH_H || process.env.STORM_H || 360);
  pres.source = new SyntheticSource({ width, height, fps: 15 });
  await publishCapped(pres, PRESENTER_KBPS);
  await pres.waitConnected();
  return { pres, client, feed, tenant, room: roomId, plugin };
}

// The presenter's outbound bitrate over `ms`, kbit/s (audio + video).
export async function presenterKbps(pres, ms = 2000) {
  const bytes = async () => {
    let b = 0;
    const rep = await pres.pc.getStats();
    rep.forEach((s) => { if (s.type === 'outbound-rtp') b += s.bytesSent || 0; });
    return { t: now(), b };
  };
  const a = await bytes();
  await new Promise((r) => setTimeout(r, ms));
  const z = await bytes();
  return ((z.b - a.b) * 8) / (z.t - a.t);
}

// ---------------------------------------------------------------------------------------------
// Repeated runs: every numeric figure of a run's result (nested objects included, arrays left out)
// as {median, min, max, n} over the runs of the same name.
export function medianOf(xs) {
  const a = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((p, q) => p - q);
  if (!a.length) return null;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

function numericLeaves(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) numericLeaves(v, key, out);
  }
  return out;
}

export function aggregateRuns(runs) {
  const values = {};
  for (const r of runs) {
    for (const [k, v] of Object.entries(numericLeaves(r))) (values[k] ||= []).push(v);
  }
  const agg = {};
  for (const [k, xs] of Object.entries(values)) {
    agg[k] = { median: medianOf(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
  }
  return agg;
}

// "median [min-max]" of an aggregate entry, to `digits` decimals.
export function fmtRange(a, digits = 1) {
  if (!a) return '-';
  const f = (x) => (Math.round(x * 10 ** digits) / 10 ** digits).toString();
  return a.min === a.max ? f(a.median) : `${f(a.median)} [${f(a.min)}-${f(a.max)}]`;
}

// The command that reproduces a run, every variable that matters with its effective value
// (printed at the start and kept in results.json).
export function commandLine(script, vars) {
  const quota = process.env.BENCH_JANUS_QUOTA;
  const all = { ...vars, BENCH_RUNS: RUNS, BENCH_PRESENTER_KBPS: PRESENTER_KBPS, ...(quota ? { BENCH_JANUS_QUOTA: quota } : {}) };
  return `${Object.entries(all).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`).join(' ')} bash ${script}`;
}

// Least-squares slope of ys over xs (e.g. Janus CPU % per attendee over the fan-out's steps).
export function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return null;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i += 1) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; }
  return sxx ? sxy / sxx : null;
}
