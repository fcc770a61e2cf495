// allhands-specific helpers, following docs/api.md.
// SPDX-License-Identifier: GPL-3.0-or-later
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JanusServer, ALLHANDS } from './janus.mjs';
import { Client, isError } from './client.mjs';
import { Attendee, Presenter } from './media.mjs';
import { safeJson, waitFor, withTimeout } from './util.mjs';

export { ALLHANDS, isError };
const HERE = path.dirname(fileURLToPath(import.meta.url));

// Start a Janus with the allhands plugin. `allhands` overrides plugin config keys.
export async function startJanus(name, allhands = {}, opts = {}) {
  const janus = new JanusServer({ name, plugins: ['allhands'], allhands, ...opts });
  await janus.start();
  return janus;
}

// Assert an allhands error reply: {"allhands":"event","error_code":N,"error_name":"...","error":"..."}.
export function assertError(data, code, name, context = '') {
  const where = context ? ` (${context})` : '';
  assert.ok(data && typeof data === 'object', `expected an error object${where}, got ${safeJson(data)}`);
  assert.equal(data.error_code, code, `expected error_code ${code} (${name})${where}, got ${safeJson(data)}`);
  assert.equal(data.allhands, 'event', `error replies have "allhands":"event"${where}: ${safeJson(data)}`);
  assert.equal(data.error_name, name, `expected error_name ${name}${where}: ${safeJson(data)}`);
  assert.equal(typeof data.error, 'string', `error message is a string${where}: ${safeJson(data)}`);
}

export function assertSuccess(data, context = '') {
  assert.ok(data && data.allhands === 'success' && !isError(data), `expected {"allhands":"success"} (${context}), got ${safeJson(data)}`);
}

export function assertEvent(data, event, context = '') {
  assert.ok(data && data.allhands === 'event' && data.event === event && !isError(data),
    `expected event "${event}" (${context}), got ${safeJson(data)}`);
}

// counts: {"active","connecting","admitted","queued","presenters"}, admitted = active + connecting.
export function assertCounts(c, context = '') {
  assert.ok(c && typeof c === 'object', `counts object (${context}): ${safeJson(c)}`);
  for (const k of ['active', 'connecting', 'admitted', 'queued', 'presenters', 'backstage']) {
    assert.ok(Number.isInteger(c[k]) && c[k] >= 0, `counts.${k} is a non-negative integer (${context}): ${safeJson(c)}`);
  }
  assert.equal(c.admitted, c.active + c.connecting, `counts.admitted = active + connecting (${context}): ${safeJson(c)}`);
}

// Operator admin request through the Admin API (message_plugin); returns the plugin's response.
export const admin = (janus, request) => janus.admin(request);

export async function createTenant(janus, { tenant, max_participants = 100, secret = `sec-${tenant}-tenant-secret`, name } = {}) {
  const req = { request: 'create_tenant', tenant, max_participants, secret };
  if (name !== undefined) req.name = name;
  const r = await janus.admin(req);
  assertSuccess(r, `create_tenant ${tenant}`);
  return { ...r, secret };
}

export async function createRoom(janus, { tenant, room, max_attendees = 100, presenter_secret = 'presenter', pin, description } = {}) {
  const req = { request: 'create_room', tenant, room, max_attendees, presenter_secret };
  if (pin !== undefined) req.pin = pin;
  if (description !== undefined) req.description = description;
  const r = await janus.admin(req);
  assertSuccess(r, `create_room ${tenant}/${room}`);
  return r;
}

export async function status(janus, tenant) {
  const req = { request: 'status' };
  if (tenant) req.tenant = tenant;
  const r = await janus.admin(req);
  assertSuccess(r, 'status');
  return r;
}

export async function nodeCounts(janus) {
  const r = await status(janus);
  assertCounts(r.node && r.node.counts, 'status node');
  return r.node.counts;
}

export async function roomInfo(janus, tenant, room) {
  const r = await janus.admin({ request: 'room_info', tenant, room });
  assertSuccess(r, `room_info ${tenant}/${room}`);
  return r.room;
}

// Wait until the node (or a tenant/room) counts match `want` (a subset of counts).
export async function waitCounts(janus, want, { tenant, room, timeout = 20000 } = {}) {
  let last;
  return waitFor(async () => {
    if (room) last = (await roomInfo(janus, tenant, room)).counts;
    else if (tenant) {
      const s = await status(janus, tenant);
      last = (s.tenants || []).find((t) => t.tenant === tenant)?.counts;
    } else last = await nodeCounts(janus);
    if (!last) return false;
    return Object.entries(want).every(([k, v]) => last[k] === v) ? last : false;
  }, { timeout, interval: 150, what: `counts ${safeJson(want)} for ${tenant ? tenant + (room ? '/' + room : '') : 'node'} (last ${safeJson(last)})` });
}

// Everything a test opens, closed in reverse order by closeAll().
export class Bag {
  constructor() { this.items = []; }
  add(fn) { this.items.push(fn); return fn; }
  async closeAll() {
    const items = this.items.reverse();
    this.items = [];
    for (const fn of items) { try { await withTimeout(Promise.resolve(fn()), 8000, 'cleanup'); } catch { /* ignore */ } }
  }
}

// A new connection + session + allhands handle.
export async function handle(janus, bag) {
  const client = await Client.connect(janus);
  if (bag) bag.add(() => client.close());
  const h = await client.attach(ALLHANDS);
  h.client = client;
  return h;
}

// An attendee: handle + wrtc answering peer; does not join yet.
export async function attendee(janus, bag, opts = {}) {
  const h = await handle(janus, bag);
  const a = new Attendee(h, opts);
  if (bag) bag.add(() => a.close());
  a.h = h;
  return a;
}

export function joinBody({ tenant, room, display, pin, ptype = 'attendee', presenter_secret } = {}) {
  const b = { request: 'join', tenant, room, ptype };
  if (display !== undefined) b.display = display;
  if (pin !== undefined) b.pin = pin;
  if (presenter_secret !== undefined) b.presenter_secret = presenter_secret;
  return b;
}

// A presenter that joined (and optionally published). Returns the Presenter with .joined and .id.
export async function presenter(janus, bag, {
  tenant, room, presenter_secret = 'presenter', display = 'Presenter', publish = true, audio = true, video = true, media = {},
} = {}) {
  const h = await handle(janus, bag);
  const p = new Presenter(h, { audio, video, ...media });
  if (bag) bag.add(() => p.close());
  p.h = h;
  const j = await h.request(joinBody({ tenant, room, ptype: 'presenter', display, presenter_secret }));
  assertEvent(j.data, 'joined', 'presenter join');
  p.joined = j.data;
  p.id = j.data.id;
  if (publish) {
    const r = await p.publish();
    assertEvent(r.data, 'published', 'publish');
    assert.equal(r.jsep?.type, 'answer', `publish reply carries a JSEP answer: ${safeJson(r)}`);
    await p.waitConnected();
  }
  return p;
}

// A child process holding one attendee (for tests that kill a client). Resolves once the child
// joined; `child.reply` is the join reply, `child.events` the events it reported. In cluster mode it
// follows redirects (attendee-child.mjs): `child.redirects` are those it followed, `child.replies`
// every join reply (the first is `child.reply`).
export async function spawnAttendeeChild(janus, body, { autoStart = true, name = 'child' } = {}) {
  const child = fork(path.join(HERE, 'attendee-child.mjs'), [], {
    env: { ...process.env, AH_CHILD_WS: janus.wsUrl, AH_CHILD_BODY: JSON.stringify(body), AH_CHILD_AUTOSTART: autoStart ? '1' : '0' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.name = name;
  child.events = [];
  child.redirects = [];
  child.replies = [];
  child.media = null;
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.on('message', (m) => {
    if (m.type === 'event') child.events.push(m.event);
    if (m.type === 'redirected') child.redirects.push(m.redirect);
    if (m.type === 'joined') child.replies.push(m.reply);
    if (m.type === 'media') child.media = m.totals;
    if (m.type === 'error') child.error = m.error;
  });
  child.reply = await withTimeout(new Promise((resolve, reject) => {
    child.on('message', (m) => { if (m.type === 'joined') resolve(m.reply); if (m.type === 'error') reject(new Error(`${name}: ${m.error}`)); });
    child.on('exit', (c, s) => reject(new Error(`${name} exited early (${c ?? s})`)));
  }), 30000, `${name} to join`);
  return child;
}

// The m-lines of an SDP: [{index, kind, port, direction, mid}].
export function sdpMlines(sdp) {
  const out = [];
  let cur = null;
  for (const line of String(sdp || '').split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      const [kind, port] = line.slice(2).split(' ');
      cur = { index: out.length, kind, port: Number(port), direction: 'sendrecv', mid: null };
      out.push(cur);
    } else if (cur) {
      const m = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(line);
      if (m) cur.direction = m[1];
      const mid = /^a=mid:(.*)$/.exec(line);
      if (mid) cur.mid = mid[1];
    }
  }
  return out;
}

// Check a presenters list of an `admitted`/`updated` event against its offer: every stream names,
// with `mindex`, an m-line of the offer of its kind that sends media. Returns {presenterId: [mindex...]}.
export function checkMindex(presenters, offerSdp, context = '') {
  const mlines = sdpMlines(offerSdp);
  const map = {};
  for (const p of presenters || []) {
    map[p.id] = [];
    for (const s of p.streams || []) {
      assert.ok(Number.isInteger(s.mindex) && s.mindex >= 0 && s.mindex < mlines.length,
        `stream mindex within the offer's ${mlines.length} m-lines (${context}): ${safeJson(s)}`);
      const m = mlines[s.mindex];
      assert.equal(m.kind, s.kind, `m-line ${s.mindex} is ${s.kind} (${context}): ${safeJson(mlines)}`);
      assert.ok(m.port !== 0 && (m.direction === 'sendonly' || m.direction === 'sendrecv'),
        `m-line ${s.mindex} carries media (${context}): ${safeJson(m)}`);
      map[p.id].push(s.mindex);
    }
  }
  const all = Object.values(map).flat();
  assert.equal(new Set(all).size, all.length, `no two streams share an m-line (${context}): ${safeJson(map)}`);
  return map;
}

export { Attendee, Presenter, waitFor, safeJson };

// create_tenant with any extra fields of docs/api.md (weight, reserved, max_queued, ...).
export async function createTenantWith(janus, { tenant, max_participants = 100, secret = `sec-${tenant}-tenant-secret`, ...extra } = {}) {
  const r = await janus.admin({ request: 'create_tenant', tenant, max_participants, secret, ...extra });
  assertSuccess(r, `create_tenant ${tenant}`);
  return { ...r, secret };
}

// create_room with any extra fields of docs/api.md (presenter_seats, priority_secret, pin, ...).
export async function createRoomWith(janus, { tenant, room, max_attendees = 100, presenter_secret = 'presenter', ...extra } = {}) {
  const r = await janus.admin({ request: 'create_room', tenant, room, max_attendees, presenter_secret, ...extra });
  assertSuccess(r, `create_room ${tenant}/${room}`);
  return r;
}
