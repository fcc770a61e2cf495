// The part of a join-storm subscriber that both workers share (bench/storm/worker.mjs with werift,
// bench/storm/cworker.mjs with the C load client): the join request of the plugin under test and
// the record of what happened to it (join, reply, admission, wait estimates). A subclass attaches
// `this.h` (a handle with request() and 'plugin-event's) and implements offer(jsep), which answers
// a JSEP offer and returns a promise.
// SPDX-License-Identifier: GPL-3.0-or-later
const now = () => performance.timeOrigin + performance.now();

export class StormSubscriber {
  // cfg: {mode: 'allhands' | 'videoroom', tenant, room, feed} as sent by run.mjs.
  constructor(id, pre, cfg) {
    this.id = id;
    this.pre = pre;
    this.cfg = cfg;
    this.rec = {
      id, pre, joinAt: null, reply: null, admittedAt: null, queuedPosition: null, estimates: [],
      firstRtpAt: null, firstVideoAt: null, startedAt: null, errors: [],
    };
  }

  listen() { this.h.on('plugin-event', (e) => this.onEvent(e)); }

  // A line of the C load client about this subscriber (bench/storm/cworker.mjs, bench/media/worker.mjs).
  onLc(m) {
    if (m.event === 'first_rtp') {
      if (!this.rec.firstRtpAt) this.rec.firstRtpAt = m.t;
      if (m.kind === 'video' && !this.rec.firstVideoAt) this.rec.firstVideoAt = m.t;
    } else if (m.event === 'connected') this.rec.connectedAt = m.t;
    else if (m.event === 'failed') this.rec.errors.push(`media failed: ${m.reason}`);
    else if (m.error) this.rec.errors.push(`loadclient: ${m.error}`);
  }

  onEvent(e) {
    const d = e.data || {};
    const t = now();
    if (this.cfg.mode === 'allhands') {
      if (d.event === 'admitted' && !this.rec.admittedAt) this.rec.admittedAt = t;
      if (d.event === 'position' && d.wait) this.rec.estimates.push({ at: t, position: d.position, ...d.wait });
    }
    if (e.jsep && e.jsep.type === 'offer') this.offer(e.jsep).catch((err) => this.rec.errors.push(String(err.message || err)));
  }

  async join() {
    const { cfg } = this;
    this.rec.joinAt = now();
    const body = cfg.mode === 'allhands'
      ? { request: 'join', tenant: cfg.tenant, room: cfg.room, ptype: 'attendee', display: `s${this.id}` }
      : { request: 'join', ptype: 'subscriber', room: cfg.room, streams: [{ feed: cfg.feed }] };
    const r = await this.h.request(body, undefined, { timeout: 60000 });
    const d = r.data || {};
    const t = now();
    this.rec.reply = d.event || d.videoroom || (d.error ? `error ${d.error_code}: ${d.error}` : 'unknown');
    if (cfg.mode === 'allhands') {
      if (d.event === 'admitted') this.rec.admittedAt = t;
      if (d.event === 'queued') {
        this.rec.queuedPosition = d.position;
        if (d.wait) this.rec.estimates.push({ at: t, position: d.position, ...d.wait });
      }
    } else if (d.videoroom === 'attached') {
      this.rec.admittedAt = t;
    }
    if (r.jsep && r.jsep.type === 'offer') await this.offer(r.jsep);
  }

  // Leave the room (STORM_LEAVE_MS: seat turnover during the storm).
  async leave() {
    this.rec.leftAt = now();
    await this.h.request({ request: 'leave' }, undefined, { timeout: 60000 });
  }

  // The `start` that carries an answer.
  async start(answer) {
    const body = { request: 'start' };
    if (this.cfg.mode === 'videoroom') body.room = this.cfg.room;
    await this.h.request(body, answer, { timeout: 60000 });
    this.rec.startedAt = now();
  }
}

// Connect every subscriber (Janus session and handle), `batch` at a time: these exist before the
// storm, which is the join requests.
export async function connectAll(subs, batch) {
  for (let i = 0; i < subs.length; i += batch) await Promise.all(subs.slice(i, i + batch).map((s) => s.connect()));
}

// The storm: spread the subscribers' joins evenly over [at, at + spreadMs) (epoch milliseconds).
export function scheduleJoins(subs, at, spreadMs) {
  subs.forEach((s, i) => {
    const when = at + (spreadMs * i) / subs.length;
    setTimeout(() => { s.join().catch((e) => s.rec.errors.push(String(e.message || e))); }, Math.max(0, when - now()));
  });
}

// The 250 ms `tick` both workers send run.mjs: joiners with video and admitted so far, and for the
// attendees already in (pre), packets received and expected since the last tick and the longest
// current video gap. media(sub) gives a pre subscriber's {recv, exp} since the window's start and
// the time of its last video packet ({lastVideoAt}), or null when it has none yet.
export class Ticker {
  constructor() { this.last = { recv: 0, exp: 0 }; }

  reset() { this.last = { recv: 0, exp: 0 }; }

  tick(subs, media) {
    const t = now();
    let recv = 0;
    let exp = 0;
    let withMedia = 0;
    let admitted = 0;
    let gapNow = 0;
    for (const s of subs) {
      if (s.rec.firstVideoAt) withMedia += 1;
      if (s.rec.admittedAt) admitted += 1;
      const m = s.pre ? media(s) : null;
      if (m) {
        recv += m.recv;
        exp += m.exp;
        if (m.lastVideoAt) gapNow = Math.max(gapNow, t - m.lastVideoAt);
      }
    }
    const msg = { type: 'tick', t, withMedia, admitted, preRecv: recv - this.last.recv, preExp: exp - this.last.exp, preGapNow: gapNow };
    this.last = { recv, exp };
    return msg;
  }
}

// A worker's side of run.mjs's messages, on this process's IPC channel. `subs` is the worker's Map
// id -> subscriber; the hooks are the worker's own parts:
//   init(m): make the subscribers of m.subs (connected); returns extra fields for `ready`
//   mark(): start the measurement window of every subscriber
//   media(sub): a pre subscriber's counts for the tick (see Ticker)
//   refresh(): optional, async, before a tick or a report (fresh counters)
//   quit(): optional, async, after the subscribers closed
export function serveStormWorker(subs, { init, mark, media, refresh = async () => {}, quit = async () => {} }) {
  const send = (m) => { try { process.send(m); } catch { /* parent gone */ } };
  const ticker = new Ticker();
  let tickTimer = null;
  let ticking = false;
  const tick = async () => {
    if (ticking) return;
    ticking = true;
    try {
      await refresh();
      send(ticker.tick(subs.values(), media));
    } catch (e) {
      send({ type: 'error', error: String(e.stack || e) });
    } finally {
      ticking = false;
    }
  };
  const handlers = {
    init: async (m) => send({ type: 'ready', pid: process.pid, ...(await init(m)) }),
    join: async (m) => { scheduleJoins([...subs.values()], m.at, m.spreadMs); send({ type: 'joining' }); },
    mark: async () => {
      mark();
      ticker.reset();
      if (!tickTimer) tickTimer = setInterval(tick, 250);
      send({ type: 'marked' });
    },
    // The subscriber seated longest (with media, not gone yet) leaves.
    leave: async () => {
      const seated = [...subs.values()].filter((s) => s.rec.firstVideoAt && !s.rec.leftAt)
        .sort((a, b) => a.rec.admittedAt - b.rec.admittedAt);
      if (seated.length) await seated[0].leave();
      send({ type: 'left', id: seated.length ? seated[0].id : null });
    },
    status: async () => {
      let withMedia = 0;
      for (const s of subs.values()) if (s.rec.firstVideoAt) withMedia += 1;
      send({ type: 'status', withMedia, total: subs.size });
    },
    report: async () => {
      await refresh();
      const end = now();
      send({ type: 'report', subs: [...subs.values()].map((s) => s.report(end)) });
    },
    close: async () => {
      if (tickTimer) clearInterval(tickTimer);
      await Promise.race([Promise.all([...subs.values()].map((s) => s.close())), new Promise((r) => setTimeout(r, 5000))]);
      await quit();
      process.exit(0);
    },
  };
  process.on('message', async (m) => {
    try {
      const h = handlers[m && m.cmd];
      if (h) await h(m);
    } catch (e) {
      send({ type: 'error', error: String(e.stack || e) });
    }
  });
}
