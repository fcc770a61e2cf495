// Attendees of the media-across-nodes benchmark (bench/media/run.mjs), forked by it: receive-only
// subscribers in one C load client process (bench/loadclient/ah-loadclient: every packet
// SRTP-authenticated, loss from sequence numbers, video gaps), seated on any node of the cluster. An
// attendee on an edge joins with a seat ticket for that edge (tests/cluster/lib/cluster.mjs
// seatTicket, signed with the run's cluster secret), as the room's origin hands them out when its
// queue drains into an edge. Janus signalling: one multiplexer (bench/storm/cworker.mjs JanusMux) per
// node. IPC as bench/storm's workers (serveStormWorker: init, join, mark, status, report, close), plus
// `trace` {ids, on}: the load client's per-packet trace of those attendees (arrival time and payload
// hashes) is kept, and `traces` returns it ({type: 'traces', traces: {id: [{k, t, h, h8}]}}); `joinIds`
// {ids}: those attendees join now.
// SPDX-License-Identifier: GPL-3.0-or-later
import { LoadClient, JanusMux } from '../storm/cworker.mjs';
import { StormSubscriber, connectAll, serveStormWorker } from '../storm/subscriber.mjs';
import { seatTicket } from '../../tests/cluster/lib/cluster.mjs';

const now = () => performance.timeOrigin + performance.now();
let cfg = null;
let lc = null;
const muxes = [];
const subs = new Map();
let windowStart = null;
let lastStats = null;
const traces = new Map(); // id -> [{k, t, h, h8}]

class Sub extends StormSubscriber {
  // node: index into cfg.nodes ({wsUrl, ticketNode: node id of an edge, or null on the origin}).
  constructor(id, pre, node) {
    super(id, pre, cfg);
    this.node = cfg.nodes[node];
    this.mux = muxes[node];
    this.chain = Promise.resolve();
    lc.on(`sub:${id}`, (m) => this.onLc(m));
  }

  async connect() {
    this.h = await this.mux.attach(cfg.plugin);
    this.listen();
  }

  // A seat redirect (the origin placed this attendee on an edge): a new session on the edge, a join
  // there with the ticket; the record then follows the edge's answers.
  onEvent(e) {
    const d = e.data || {};
    if (d.event === 'redirect') {
      this.follow(d).catch((err) => this.rec.errors.push(`redirect: ${err.message || err}`));
      return;
    }
    super.onEvent(e);
  }

  async follow(d) {
    this.rec.redirects = (this.rec.redirects || 0) + 1;
    if (!this.rec.redirectedAt) this.rec.redirectedAt = now();
    this.rec.placedOn = d.node;
    if (this.rec.redirects > 3) throw new Error('more than 3 redirects');
    const idx = cfg.nodes.findIndex((n) => n.wsUrl === d.url || n.nodeId === d.node);
    if (idx < 0) throw new Error(`redirect to an unknown node ${d.node} (${d.url})`);
    const old = this.h;
    this.node = cfg.nodes[idx];
    this.mux = muxes[idx];
    this.h = await this.mux.attach(cfg.plugin);
    this.listen();
    old.destroy().catch(() => {});
    await this.join({ ticket: d.ticket });
  }

  async join({ ticket } = {}) {
    if (!this.rec.joinAt) this.rec.joinAt = now();
    const body = { request: 'join', tenant: cfg.tenant, room: cfg.room, ptype: 'attendee', display: `m${this.id}` };
    if (ticket) body.ticket = ticket;
    else if (this.node.ticketNode) body.ticket = seatTicket(this.node.ticketNode, { tenant: cfg.tenant, room: cfg.room });
    const r = await this.h.request(body, undefined, { timeout: 60000 });
    const d = r.data || {};
    if (d.event === 'redirect') { await this.follow(d); return; }
    const t = now();
    this.rec.reply = d.event || (d.error ? `error ${d.error_code}: ${d.error}` : 'unknown');
    if (d.event === 'admitted' && !this.rec.admittedAt) this.rec.admittedAt = t;
    if (d.event === 'queued' && this.rec.queuedPosition == null) this.rec.queuedPosition = d.position;
    if (d.error) this.rec.errors.push(`join: ${d.error_code} ${d.error}`);
    if (r.jsep && r.jsep.type === 'offer') await this.offer(r.jsep);
  }

  offer(jsep) {
    this.chain = this.chain.catch(() => {}).then(() => this.answer(jsep));
    return this.chain;
  }

  async answer(offer) {
    const sdp = await lc.offer(this.id, offer.sdp);
    await this.start({ type: 'answer', sdp });
  }

  report(end) {
    const st = lastStats && lastStats.get(this.id);
    let maxGap = st ? st.max_video_gap_ms : 0;
    if (this.pre && windowStart) {
      const lastV = st && st.last_video_t ? st.last_video_t : 0;
      const open = end - Math.max(lastV || windowStart, windowStart);
      if (open > maxGap) maxGap = open;
    }
    return {
      id: this.id, node: this.node.name, reply: this.rec.reply, joinAt: this.rec.joinAt, redirectedAt: this.rec.redirectedAt || null,
      placedOn: this.rec.placedOn || null, admittedAt: this.rec.admittedAt, startedAt: this.rec.startedAt,
      firstVideoAt: this.rec.firstVideoAt, pcState: st ? st.state : null, errors: this.rec.errors.slice(0, 3),
      windowRecv: st ? st.window.recv : 0, windowExp: st ? st.window.expected : 0, maxVideoGapMs: maxGap,
      authFail: st ? st.auth_fail : 0, badRtp: st ? st.bad_rtp : 0,
    };
  }

  async close() {
    try { lc.close(this.id); } catch { /* ignore */ }
    try { await this.h.destroy(); } catch { /* ignore */ }
  }
}

async function fetchStats() {
  const s = await lc.stats();
  lastStats = new Map(s.subs.map((x) => [x.id, x]));
  return s;
}

serveStormWorker(subs, {
  // m: {nodes: [{name, wsUrl, ticketNode}], lcIp, plugin, tenant, room, subs: [{id, node}]}
  init: async (m) => {
    cfg = { ...m, mode: 'allhands' };
    lc = new LoadClient({ ip: m.lcIp, threads: 1 });
    lc.on('line', (l) => {
      if (!l.pkt || !traces.has(l.id)) return;
      traces.get(l.id).push({ k: l.pkt, t: l.t, h: l.h, h8: l.h8 });
    });
    for (const n of m.nodes) muxes.push(new JanusMux(n.wsUrl, 2));
    await Promise.all(muxes.map((x) => x.ready()));
    for (const { id, node } of m.subs) subs.set(id, new Sub(id, true, node));
    await connectAll([...subs.values()], 50);
    return { lcPid: lc.pid };
  },
  mark: () => {
    windowStart = now();
    lc.mark();
  },
  media: (s) => {
    const st = lastStats && lastStats.get(s.id);
    return st ? { recv: st.window.recv, exp: st.window.expected, lastVideoAt: st.last_video_t } : null;
  },
  refresh: fetchStats,
  quit: async () => { await lc.quit(); for (const x of muxes) x.close(); },
});

process.on('message', (m) => {
  if (m && m.cmd === 'trace') {
    for (const id of m.ids) {
      if (m.on && !traces.has(id)) traces.set(id, []);
      lc.send({ op: 'trace', id, on: !!m.on });
    }
    process.send({ type: 'tracing', on: !!m.on });
  } else if (m && m.cmd === 'joinIds') {
    for (const id of m.ids) {
      const s = subs.get(id);
      if (s) s.join().catch((e) => s.rec.errors.push(String(e.message || e)));
    }
  } else if (m && m.cmd === 'traces') {
    process.send({ type: 'traces', traces: Object.fromEntries(traces) });
    traces.clear();
  }
});
