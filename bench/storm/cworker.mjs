// Join-storm benchmark: a drop-in alternative to worker.mjs (same IPC messages with run.mjs) whose
// subscribers are media-only peers in one C process, bench/loadclient/ah-loadclient (libnice +
// OpenSSL DTLS-SRTP + libsrtp2, no decoding, every packet authenticated), while the Janus signalling
// is multiplexed over a few raw WebSocket connections (many Janus sessions each). Also exports
// LoadClient (drives ah-loadclient over its JSON-lines protocol) and JanusMux (the multiplexer) for
// the integration test tests/integration/24-loadclient.test.mjs.
// SPDX-License-Identifier: GPL-3.0-or-later
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { StormSubscriber, connectAll, serveStormWorker } from './subscriber.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const LOADCLIENT_BIN = process.env.AH_LOADCLIENT_BIN || path.join(HERE, '..', 'loadclient', 'ah-loadclient');
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------
// ah-loadclient child: offers in, answers/events out.
export class LoadClient extends EventEmitter {
  constructor({ ip, threads = 1, bin = LOADCLIENT_BIN, stderr = 'inherit' } = {}) {
    super();
    this.setMaxListeners(0);
    this.proc = spawn(bin, ['--ip', ip, '--threads', String(threads)], { stdio: ['pipe', 'pipe', stderr] });
    this.pid = this.proc.pid;
    this.pendingAnswers = new Map(); // id -> [{resolve, reject}]
    this.pendingStats = new Map();
    this.lines = [];                 // every parsed line without req/answer (events, errors), for tests
    this.req = 0;
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => r({ code, sig })));
    this.proc.stdin.on('error', () => {});
    readline.createInterface({ input: this.proc.stdout }).on('line', (l) => this._line(l));
  }

  _line(l) {
    let m;
    try { m = JSON.parse(l); } catch { this.emit('garbage', l); return; }
    if (m.req !== undefined && m.subs) {
      const p = this.pendingStats.get(m.req);
      if (p) { this.pendingStats.delete(m.req); p(m); }
      return;
    }
    if (m.answer !== undefined) {
      const q = this.pendingAnswers.get(m.id);
      const p = q && q.shift();
      if (p) p.resolve(m.answer);
      return;
    }
    this.lines.push(m);
    if (m.error && m.id) {
      const q = this.pendingAnswers.get(m.id);
      const p = q && q.shift();
      if (p) { p.reject(new Error(m.error)); return; }
    }
    if (m.id) this.emit(`sub:${m.id}`, m);
    this.emit('line', m);
  }

  send(obj) { this.proc.stdin.write(`${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n`); }

  offer(id, sdp, { timeout = 20000 } = {}) {
    return new Promise((resolve, reject) => {
      const q = this.pendingAnswers.get(id) || [];
      this.pendingAnswers.set(id, q);
      const t = setTimeout(() => reject(new Error(`no answer for ${id} in ${timeout} ms`)), timeout);
      q.push({ resolve: (a) => { clearTimeout(t); resolve(a); }, reject: (e) => { clearTimeout(t); reject(e); } });
      this.send({ op: 'offer', id, sdp });
    });
  }

  stats({ timeout = 20000 } = {}) {
    const req = ++this.req;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.pendingStats.delete(req); reject(new Error('no stats reply')); }, timeout);
      this.pendingStats.set(req, (m) => { clearTimeout(t); resolve(m); });
      this.send({ op: 'stats', req });
    });
  }

  mark() { this.send({ op: 'mark' }); }
  close(id) { this.send({ op: 'close', id }); }

  async quit(timeout = 10000) {
    try { this.send({ op: 'quit' }); this.proc.stdin.end(); } catch { /* gone */ }
    const r = await Promise.race([this.exited, new Promise((res) => setTimeout(() => res(null), timeout))]);
    if (!r) { this.proc.kill('SIGKILL'); return this.exited; }
    return r;
  }
}

// ---------------------------------------------------------------------------------------------
// Janus sessions multiplexed over a few WebSockets.
let txSeq = 0;
const tx = () => `t${(++txSeq).toString(36)}`;

class MuxConn {
  constructor(url) {
    this.ws = new WebSocket(url, 'janus-protocol');
    this.pending = new Map(); // transaction -> {resolve, reject, timer}
    this.handles = new Map(); // handle id -> MuxHandle
    this.open = new Promise((resolve, reject) => { this.ws.once('open', resolve); this.ws.once('error', reject); });
    this.ws.on('message', (d) => this._msg(d));
    this.ws.on('close', () => {
      for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new Error('websocket closed')); }
      this.pending.clear();
    });
    this.ws.on('error', () => {});
  }

  _msg(d) {
    let m;
    try { m = JSON.parse(d); } catch { return; }
    const p = m.transaction && this.pending.get(m.transaction);
    if (p) {
      if (m.janus === 'ack' && !p.ackOk) return; // async reply follows
      this.pending.delete(m.transaction);
      clearTimeout(p.timer);
      if (m.janus === 'error') p.reject(new Error(`janus error ${m.error?.code}: ${m.error?.reason}`));
      else p.resolve(m);
      return;
    }
    const h = m.sender && this.handles.get(m.sender);
    if (h) h.emit('janus', m);
  }

  request(msg, { timeout = 60000, ackOk = false } = {}) {
    const transaction = tx();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(transaction); reject(new Error(`no reply to ${msg.janus} in ${timeout} ms`)); }, timeout);
      this.pending.set(transaction, { resolve, reject, timer, ackOk });
      try { this.ws.send(JSON.stringify({ ...msg, transaction })); } catch (e) { clearTimeout(timer); this.pending.delete(transaction); reject(e); }
    });
  }
}

export class MuxHandle extends EventEmitter {
  constructor(conn, sessionId, handleId) {
    super();
    this.conn = conn;
    this.sessionId = sessionId;
    this.id = handleId;
    this.on('janus', (m) => {
      if (m.janus === 'event' && m.plugindata) this.emit('plugin-event', { data: m.plugindata.data, jsep: m.jsep || null });
      else if (m.janus === 'trickle') this.emit('trickle', m.candidate);
      else this.emit(m.janus, m);
    });
  }

  // Plugin message; resolves with {data, jsep} of the synchronous or asynchronous reply.
  async request(body, jsep, { timeout = 60000 } = {}) {
    const msg = { janus: 'message', session_id: this.sessionId, handle_id: this.id, body };
    if (jsep) msg.jsep = jsep;
    const r = await this.conn.request(msg, { timeout });
    return { data: r.plugindata ? r.plugindata.data : r, jsep: r.jsep || null };
  }

  trickleComplete() {
    return this.conn.request({ janus: 'trickle', session_id: this.sessionId, handle_id: this.id, candidate: { completed: true } }, { ackOk: true });
  }

  async destroy() {
    clearInterval(this.keepalive);
    this.conn.handles.delete(this.id);
    try { await this.conn.request({ janus: 'destroy', session_id: this.sessionId }, { timeout: 5000 }); } catch { /* ignore */ }
  }
}

export class JanusMux {
  constructor(wsUrl, connections = 4, { keepaliveMs = 25000 } = {}) {
    this.keepaliveMs = keepaliveMs;
    this.conns = [...Array(connections)].map(() => new MuxConn(wsUrl));
    this.next = 0;
  }

  async ready() { await Promise.all(this.conns.map((c) => c.open)); }

  // A new Janus session with one handle attached to plugin, on the next connection.
  async attach(plugin) {
    const conn = this.conns[this.next++ % this.conns.length];
    const s = await conn.request({ janus: 'create' });
    const sessionId = s.data.id;
    const a = await conn.request({ janus: 'attach', session_id: sessionId, plugin });
    const h = new MuxHandle(conn, sessionId, a.data.id);
    conn.handles.set(h.id, h);
    h.keepalive = setInterval(() => {
      conn.request({ janus: 'keepalive', session_id: sessionId }, { timeout: 20000, ackOk: true }).catch(() => {});
    }, this.keepaliveMs);
    return h;
  }

  close() { for (const c of this.conns) { try { c.ws.close(); } catch { /* ignore */ } } }
}

// ---------------------------------------------------------------------------------------------
// The storm worker's state (serveStormWorker below, when run as a program).
let cfg = null;
let lc = null;
let mux = null;
const subs = new Map();
let windowStart = null;
let lastStats = null; // last ah-loadclient stats reply: id -> sub stats

class Sub extends StormSubscriber {
  constructor(id, pre) {
    super(id, pre, cfg);
    this.chain = Promise.resolve();
    lc.on(`sub:${id}`, (m) => this.onLc(m));
  }

  async connect() {
    this.h = await mux.attach(cfg.plugin);
    this.listen();
  }

  // Offers are answered in order (a renegotiation waits for the answer before it).
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
    const maxGapC = st ? st.max_video_gap_ms : 0;
    let maxGap = maxGapC;
    if (this.pre && windowStart) {
      const lastV = st && st.last_video_t ? st.last_video_t : 0;
      const open = end - Math.max(lastV || windowStart, windowStart);
      if (open > maxGap) maxGap = open;
    }
    return {
      ...this.rec,
      windowRecv: st ? st.window.recv : 0, windowExp: st ? st.window.expected : 0,
      maxVideoGapMs: this.pre ? maxGap : null,
      videoPackets: st ? st.video.recv : 0,
      audioPackets: st ? st.audio.recv : 0,
      pcState: st ? st.state : null,
      authFail: st ? st.auth_fail : 0,
      badRtp: st ? st.bad_rtp : 0,
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

// The storm worker (only when run as a program, forked by run.mjs).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  serveStormWorker(subs, {
    init: async (m) => {
      cfg = m;
      // Host candidates on the Janus end of the namespace's veth (AH_JANUS_IP): Janus's libnice pins its
      // sockets to that interface, so it cannot reach the other end's address inside the same namespace
      // (bench/loadclient/README.md). STORM_LC_IP / cfg.lcIp override it.
      const ip = cfg.lcIp || process.env.STORM_LC_IP || process.env.AH_JANUS_IP;
      if (!ip) throw new Error('no address for ah-loadclient (cfg.lcIp, STORM_LC_IP or AH_JANUS_IP)');
      lc = new LoadClient({ ip, threads: Number(cfg.lcThreads || process.env.STORM_LC_THREADS || 1) });
      mux = new JanusMux(cfg.wsUrl, Number(cfg.wsConnections || process.env.STORM_WS_CONNS || 4));
      await mux.ready();
      for (const { id, pre } of m.subs) subs.set(id, new Sub(id, pre));
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
    quit: async () => { await lc.quit(); mux.close(); },
  });
}
