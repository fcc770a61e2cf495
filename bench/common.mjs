// Shared by the media benchmarks (bench/storm/run.mjs, bench/fanout/run.mjs): CPU sampling from
// /proc, percentiles, CSV, and the presenter of a run (allhands or the stock VideoRoom).
// SPDX-License-Identifier: GPL-3.0-or-later
import fs from 'node:fs';
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

// The presenter of a run: for allhands a tenant `bench` and room `room` (caps `max`) and a presenter
// that publishes; for the VideoRoom a room and a publisher. The synthetic video is width x height
// at 15 fps (env BENCH_W/BENCH_H or STORM_W/STORM_H, default 640x360), VP8 + Opus; libwebrtc's
// rate control sets the bitrate. Returns {pres, client, feed, tenant, room, plugin}.
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
  await pres.publish();
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
