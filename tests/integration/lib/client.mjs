// Janus API clients for the tests: a janode connection + session, and a generic plugin handle
// that records every plugin event and resolves requests with the plugin's reply (synchronous
// `success` or the asynchronous event carrying the request's transaction).
// SPDX-License-Identifier: GPL-3.0-or-later
import Janode from 'janode';
import JanodeHandle from 'janode/handle';
import { safeJson, waitFor, withTimeout } from './util.mjs';

Janode.Logger.setLevel(process.env.AH_JANODE_LOG || 'none');

export class PluginHandle extends JanodeHandle {
  constructor(session, id) {
    super(session, id);
    this.events = [];     // asynchronous plugin events (no transaction of ours): {data, jsep, at}
    this.replies = [];    // replies to our requests: {request, data, jsep, at}
    this.trickles = [];
    this.pc = null;       // an RTCPeerConnection the media helpers attach, to forward trickles
    this.hungup = false;
    this.webrtcup = false;
    this.detachedFlag = false;
    this.setMaxListeners(50);
    this.on(Janode.EVENT.HANDLE_TRICKLE, (c) => {
      this.trickles.push(c);
      if (this.pc && !c.completed && c.candidate) {
        this.pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }).catch(() => {});
      }
    });
    this.on(Janode.EVENT.HANDLE_HANGUP, () => { this.hungup = true; });
    this.on(Janode.EVENT.HANDLE_WEBRTCUP, () => { this.webrtcup = true; });
    this.on(Janode.EVENT.HANDLE_DETACHED, () => { this.detachedFlag = true; });
  }

  // janode calls this for plugin messages (`success` responses and `event`s).
  handleMessage(msg) {
    const pd = msg.plugindata;
    if (!pd) return null;
    const item = { data: pd.data, jsep: msg.jsep || null, at: Date.now() };
    if (msg.transaction && this.ownsTransaction(msg.transaction)) {
      if (msg.janus === 'event') this.closeTransactionWithSuccess(msg.transaction, msg);
      return item;
    }
    this.events.push(item);
    this.emit('plugin-event', item);
    return item;
  }

  // Send a plugin message; returns {data, jsep} of the reply. A Janus-level error rejects.
  async request(body, jsep = undefined, { timeout = 15000 } = {}) {
    const req = { janus: 'message', body };
    if (jsep !== undefined) req.jsep = jsep;
    const msg = await withTimeout(this.sendRequest(req), timeout, `reply to ${safeJson(body)}`);
    const out = { data: msg.plugindata ? msg.plugindata.data : msg, jsep: msg.jsep || null, at: Date.now() };
    this.replies.push({ request: body, ...out });
    return out;
  }

  // A raw Janus API message on this handle (e.g. a "message" without a body). Returns the raw
  // Janus reply, or {janus:'error', error} for a Janus-level error.
  async raw(req, { timeout = 15000 } = {}) {
    try {
      const msg = await withTimeout(this.sendRequest({ ...req }), timeout, `reply to ${safeJson(req)}`);
      return msg;
    } catch (e) {
      const m = /^(\d+) (.*)$/.exec(e.message);
      if (m) return { janus: 'error', error: { code: Number(m[1]), reason: m[2] } };
      throw e;
    }
  }

  // Wait for a recorded async event matching `pred` (searches events already received, from
  // index `from`). Returns the event {data, jsep, at, index}.
  async waitEvent(pred, { timeout = 20000, from = 0, what = 'plugin event' } = {}) {
    const p = typeof pred === 'string' ? (e) => e.data && e.data.event === pred : pred;
    return waitFor(() => {
      for (let i = from; i < this.events.length; i++) {
        if (p(this.events[i])) return { ...this.events[i], index: i };
      }
      return null;
    }, { timeout, interval: 50, what: `${what} on handle ${this.id} (events so far: ${safeJson(this.events.map((e) => e.data))})` });
  }

  eventsNamed(name) {
    return this.events.filter((e) => e.data && e.data.event === name);
  }
}

// One Janus API connection (WebSocket) with one session.
export class Client {
  static async connect(server, { keepalive = 5 } = {}) {
    const c = new Client();
    c.server = server;
    c.connection = await withTimeout(Janode.connect({
      address: { url: server.wsUrl },
      retry_time_secs: 1,
      max_retries: 0,
    }), 10000, 'janode connect');
    c.connection.on('error', () => {});
    c.session = await withTimeout(c.connection.create(keepalive), 10000, 'janus create session');
    c.handles = [];
    return c;
  }

  async attach(plugin = 'janus.plugin.allhands') {
    const h = await withTimeout(this.session.attach({ id: plugin, Handle: PluginHandle }), 10000, `attach ${plugin}`);
    this.handles.push(h);
    return h;
  }

  async close() {
    try { await withTimeout(this.session.destroy(), 5000, 'session destroy'); } catch { /* ignore */ }
    try { await withTimeout(this.connection.close(), 5000, 'connection close'); } catch { /* ignore */ }
  }
}

// Convenience: a new connection + session + handle.
export async function openHandle(server, plugin) {
  const client = await Client.connect(server);
  const handle = await client.attach(plugin);
  handle.client = client;
  return handle;
}

// An allhands error reply (`error_code` present).
export function isError(data) {
  return data && typeof data.error_code === 'number';
}
