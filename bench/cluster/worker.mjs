// A joiner process of the cluster benchmark (bench/cluster/run.mjs forks several): signalling-only
// attendees on Janus's WebSocket API. Each join is one allhands handle sending one `join`; its
// decision is the first answer: `admitted` (with an offer, never answered: no media), `queued`, or an
// error. Nothing here waits on media, so what is measured is admission and its signalling.
//
// IPC from the parent:
//   {type:'setup', conns, joins:[{node, url, tenant, room}], sessionTimeoutS}
//       opens `conns` WebSockets (one Janus session each) per node URL used, attaches one handle per
//       join (at most 64 attaches in flight per connection), answers {type:'ready', attach_ms}
//   {type:'go', rate, window, t0, admitWaitMs}
//       sends the joins: `rate` > 0 paces them at that many per second from epoch time `t0`;
//       otherwise at most `window` undecided joins per connection at a time (a closed loop). A queued
//       joiner then waits (outside the window) for its `admitted` event, up to `admitWaitMs`. Answers
//       {type:'done', results:[{node, sent, decided, latency_ms, outcome, admitted_at}]} when every
//       join is decided or timed out (30 s without an answer: outcome 'timeout') and every queued
//       one admitted or out of time (`admitted_at` null)
//   {type:'close'}   closes every connection and exits
// Times are epoch milliseconds with sub-millisecond precision (performance.timeOrigin + now()).
// SPDX-License-Identifier: GPL-3.0-or-later
import WebSocket from 'ws';

const now = () => performance.timeOrigin + performance.now();
const PLUGIN = 'janus.plugin.allhands';
const DECISION_TIMEOUT_MS = 30000;

let txSeq = 0;
const tx = () => `w${process.pid}-${++txSeq}`;

// One WebSocket with one Janus session; requests matched to answers by transaction.
class Conn {
  constructor(url) {
    this.url = url;
    this.pending = new Map(); // transaction -> {resolve, reject, onEvent}
    this.byHandle = new Map(); // handle id -> join waiting for its first plugin event
    this.admittedAt = new Map(); // handle id -> when its `admitted` came (decision or event)
    this.admitWaiters = new Map(); // handle id -> resolve(time) of a queued joiner waiting
    this.session = null;
    this.keepalive = null;
  }

  open() {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(this.url, 'janus-protocol', { perMessageDeflate: false });
      this.ws.on('open', resolve);
      this.ws.on('error', reject);
      this.ws.on('message', (data) => this.onMessage(JSON.parse(data.toString('utf8'))));
      this.ws.on('close', () => {
        for (const p of this.pending.values()) p.reject(new Error('connection closed'));
        this.pending.clear();
      });
    });
  }

  onMessage(m) {
    const p = m.transaction ? this.pending.get(m.transaction) : null;
    if (m.janus === 'ack') return;
    const d = m.plugindata && m.plugindata.data;
    if (d && d.event === 'admitted' && m.sender && !this.admittedAt.has(m.sender)) {
      const t = now();
      this.admittedAt.set(m.sender, t);
      const w = this.admitWaiters.get(m.sender);
      if (w) { this.admitWaiters.delete(m.sender); w(t); }
    }
    if (p) {
      this.pending.delete(m.transaction);
      p.resolve(m);
      return;
    }
    // A plugin event without our transaction (or after it): the first one for a handle still
    // waiting is its decision (a `position` report of a queue is not: it may overtake the answer).
    const ev = m.plugindata && m.plugindata.data && m.plugindata.data.event;
    if (m.janus === 'event' && m.sender && this.byHandle.has(m.sender) && ev !== 'position') {
      const j = this.byHandle.get(m.sender);
      this.byHandle.delete(m.sender);
      j.resolve(m);
    }
  }

  request(body) {
    const transaction = tx();
    return new Promise((resolve, reject) => {
      this.pending.set(transaction, { resolve, reject });
      this.ws.send(JSON.stringify({ ...body, transaction, ...(this.session ? { session_id: this.session } : {}) }));
    });
  }

  async createSession(timeoutS) {
    const r = await this.request({ janus: 'create' });
    if (r.janus !== 'success') throw new Error(`create: ${JSON.stringify(r)}`);
    this.session = r.data.id;
    this.keepalive = setInterval(() => { this.request({ janus: 'keepalive' }).catch(() => {}); }, Math.max(5, timeoutS / 3) * 1000);
  }

  async attach() {
    const r = await this.request({ janus: 'attach', plugin: PLUGIN });
    if (r.janus !== 'success') throw new Error(`attach: ${JSON.stringify(r)}`);
    return r.data.id;
  }

  // Send `join` on `handle`; resolves the decision message (synchronous success or first event).
  join(handle, body) {
    return new Promise((resolve, reject) => {
      const j = { resolve, reject };
      this.byHandle.set(handle, j);
      this.request({ janus: 'message', handle_id: handle, body }).then((m) => {
        if (this.byHandle.get(handle) !== j) return; // decided by an event already
        this.byHandle.delete(handle);
        resolve(m);
      }, reject);
    });
  }

  // When `handle` was admitted: at once if it was already, else at its `admitted` event, or null
  // after `ms`.
  admitted(handle, ms) {
    if (this.admittedAt.has(handle)) return Promise.resolve(this.admittedAt.get(handle));
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.admitWaiters.delete(handle); resolve(null); }, ms);
      this.admitWaiters.set(handle, (t) => { clearTimeout(timer); resolve(t); });
    });
  }

  close() {
    clearInterval(this.keepalive);
    try { this.ws.close(); } catch { /* gone */ }
  }
}

// The outcome of a decision message: admitted, queued, joined, or the error's name.
function outcome(m) {
  const d = m.plugindata && m.plugindata.data;
  if (m.janus === 'error') return `janus_error_${m.error && m.error.code}`;
  if (!d) return `no_plugindata_${m.janus}`;
  if (d.error_code) return d.error_name || `error_${d.error_code}`;
  return d.event || 'unknown';
}

async function limitConcurrency(items, limit, fn) {
  let i = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) {
      const k = i++;
      await fn(items[k], k);
    }
  });
  await Promise.all(runners);
}

let conns = []; // per join: its Conn
let joins = [];
let allConns = [];

async function setup({ conns: perNode, joins: list, sessionTimeoutS }) {
  joins = list.map((j) => ({ ...j }));
  const byUrl = new Map();
  for (const j of joins) {
    if (!byUrl.has(j.url)) {
      const cs = [];
      for (let k = 0; k < perNode; k++) {
        const c = new Conn(j.url);
        await c.open();
        await c.createSession(sessionTimeoutS);
        cs.push(c);
      }
      byUrl.set(j.url, { cs, next: 0 });
    }
    const e = byUrl.get(j.url);
    j.conn = e.cs[e.next++ % e.cs.length];
  }
  allConns = [...byUrl.values()].flatMap((e) => e.cs);
  const t = now();
  for (const c of allConns) {
    const mine = joins.filter((j) => j.conn === c);
    await limitConcurrency(mine, 64, async (j) => { j.handle = await c.attach(); });
  }
  conns = joins.map((j) => j.conn);
  return now() - t;
}

async function go({ rate, window, t0, admitWaitMs }) {
  const results = [];
  const admissions = [];
  const one = async (j) => {
    const body = { request: 'join', tenant: j.tenant, room: j.room, display: 'bench' };
    const sent = now();
    let out;
    let timer;
    try {
      const m = await Promise.race([
        j.conn.join(j.handle, body),
        new Promise((resolve) => { timer = setTimeout(() => resolve(null), DECISION_TIMEOUT_MS); }),
      ]);
      out = m ? outcome(m) : 'timeout';
    } catch (e) {
      out = `failed: ${e.message}`;
    } finally {
      clearTimeout(timer);
    }
    const decided = now();
    const r = { node: j.node, sent, decided, latency_ms: decided - sent, outcome: out, admitted_at: out === 'admitted' ? decided : null };
    results.push(r);
    if (out === 'queued' && admitWaitMs > 0) admissions.push(j.conn.admitted(j.handle, admitWaitMs).then((t) => { r.admitted_at = t; }));
  };
  if (rate > 0) {
    // Open loop: join k leaves at t0 + k / rate, whatever the answers do.
    const all = [];
    for (let k = 0; k < joins.length; k++) {
      const due = t0 + (k * 1000) / rate;
      const wait = due - now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      all.push(one(joins[k]));
    }
    await Promise.all(all);
  } else {
    // Closed loop: per connection, at most `window` joins undecided at a time.
    const byConn = new Map();
    for (const j of joins) {
      if (!byConn.has(j.conn)) byConn.set(j.conn, []);
      byConn.get(j.conn).push(j);
    }
    const wait = t0 - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    await Promise.all([...byConn.values()].map((list) => limitConcurrency(list, window, one)));
  }
  await Promise.all(admissions);
  return results;
}

process.on('message', async (m) => {
  try {
    if (m.type === 'setup') {
      const attachMs = await setup(m);
      process.send({ type: 'ready', attach_ms: attachMs, conns: conns.length ? new Set(conns).size : 0 });
    } else if (m.type === 'go') {
      process.send({ type: 'done', results: await go(m) });
    } else if (m.type === 'close') {
      for (const c of allConns) c.close();
      setTimeout(() => process.exit(0), 200);
    }
  } catch (e) {
    process.send({ type: 'error', error: e.stack || String(e) });
  }
});
process.on('disconnect', () => process.exit(0));
