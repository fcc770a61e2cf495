// Events for Janus event handlers (docs/api.md, `events = true`): Janus's stock sample event handler
// posts plugin events to an HTTP collector in this test; every documented event shows up with its
// fields, and no event carries a secret.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  Bag, assertEvent, assertSuccess, attendee, createRoom, createTenant, joinBody, presenter, startJanus, waitFor,
  safeJson,
} from './lib/allhands.mjs';

let janus;
let collector;
const events = []; // the plugin's JSON of every allhands event received
const raw = [];
const bag = new Bag();
const SECRETS = ['ev-tenant-secret-9d2', 'ev-presenter-secret-1f', 'ev-pin-55', 'ev-new-tenant-secret'];

before(async () => {
  collector = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.end('ok');
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const e of Array.isArray(body) ? body : [body]) {
          raw.push(e);
          if (e && e.type === 64 && e.event && e.event.plugin === 'janus.plugin.allhands') events.push(e.event.data);
        }
      } catch { /* ignore */ }
    });
  });
  await new Promise((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${collector.address().port}/events`;
  janus = await startJanus('events', { capacity: 1, wave_size: 1, wave_interval_ms: 200, admit_timeout_ms: 30000, events: true },
    { eventsBackend: url });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
  if (collector) collector.close();
});

const find = (pred) => events.find(pred);
async function expectEvent(pred, what) {
  return waitFor(() => find(pred), { timeout: 15000, what: `event handler event: ${what} (got ${safeJson(events)})` });
}

test('documented plugin events reach Janus event handlers, without secrets', async () => {
  await createTenant(janus, { tenant: 'ev', max_participants: 10, secret: SECRETS[0] });
  await expectEvent((e) => e.event === 'tenant_created' && e.tenant === 'ev', 'tenant_created');
  assertSuccess(await janus.admin({ request: 'edit_tenant', tenant: 'ev', secret: SECRETS[3] }), 'edit_tenant');
  await expectEvent((e) => e.event === 'tenant_edited' && e.tenant === 'ev', 'tenant_edited');
  await createRoom(janus, { tenant: 'ev', room: 'r', presenter_secret: SECRETS[1], pin: SECRETS[2] });
  await expectEvent((e) => e.event === 'room_created' && e.tenant === 'ev' && e.room === 'r', 'room_created');
  assertSuccess(await janus.admin({ request: 'edit_room', tenant: 'ev', room: 'r', description: 'x' }), 'edit_room');
  await expectEvent((e) => e.event === 'room_edited' && e.room === 'r', 'room_edited');

  const p = await presenter(janus, bag, { tenant: 'ev', room: 'r', presenter_secret: SECRETS[1] });
  await expectEvent((e) => e.event === 'joined' && e.id === p.id && e.ptype === 'presenter' && e.tenant === 'ev' && e.room === 'r', 'joined (presenter)');
  await expectEvent((e) => e.event === 'published' && e.id === p.id, 'published');

  const a = await attendee(janus, bag);
  const ja = await a.join(joinBody({ tenant: 'ev', room: 'r', pin: SECRETS[2] }));
  assertEvent(ja.data, 'admitted');
  await expectEvent((e) => e.event === 'joined' && e.id === ja.data.id && e.ptype === 'attendee', 'joined (attendee)');
  await expectEvent((e) => e.event === 'admitted' && e.id === ja.data.id && e.tenant === 'ev' && e.room === 'r', 'admitted');
  await a.waitMedia();
  await expectEvent((e) => e.event === 'active' && e.id === ja.data.id, 'active');

  // A queued attendee (capacity 1), then admitted in a wave when the first one leaves.
  const q = await attendee(janus, bag);
  const jq = await q.join(joinBody({ tenant: 'ev', room: 'r', pin: SECRETS[2] }));
  assertEvent(jq.data, 'queued');
  await expectEvent((e) => e.event === 'joined' && e.id === jq.data.id && e.ptype === 'attendee', 'joined (queued attendee)');
  assertEvent((await a.h.request({ request: 'leave' })).data, 'left');
  await expectEvent((e) => e.event === 'left' && e.id === ja.data.id && e.reason === 'leave', 'left (leave)');
  await expectEvent((e) => e.event === 'admitted' && e.id === jq.data.id, 'admitted (wave)');

  // Kick: removed with reason kicked.
  await q.h.waitEvent('admitted');
  assertSuccess(await janus.admin({ request: 'kick', tenant: 'ev', room: 'r', id: jq.data.id }), 'kick');
  await expectEvent((e) => e.event === 'removed' && e.id === jq.data.id && e.reason === 'kicked', 'removed (kicked)');

  // A detached handle: left with reason gone.
  const g = await attendee(janus, bag, { autoStart: false });
  const jg = await g.join(joinBody({ tenant: 'ev', room: 'r', pin: SECRETS[2] }));
  await g.h.detach();
  await expectEvent((e) => e.event === 'left' && e.id === jg.data.id && e.reason === 'gone', 'left (gone, after detach)');

  assertEvent((await p.unpublish()).data, 'unpublished');
  await expectEvent((e) => e.event === 'unpublished' && e.id === p.id, 'unpublished');
  assertSuccess(await janus.admin({ request: 'set_capacity', capacity: 2 }), 'set_capacity');
  await expectEvent((e) => e.event === 'capacity_changed', 'capacity_changed');

  // persist_failed: the state folder disappears.
  const dir = path.dirname(janus.stateFile);
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    assertSuccess(await janus.admin({ request: 'create_room', tenant: 'ev', room: 'r2', max_attendees: 1, presenter_secret: 'x2-presenter' }), 'create_room');
    const pf = await expectEvent((e) => e.event === 'persist_failed', 'persist_failed');
    assert.equal(typeof pf.error, 'string');
  } finally {
    fs.mkdirSync(dir, { recursive: true });
  }

  assertSuccess(await janus.admin({ request: 'destroy_room', tenant: 'ev', room: 'r' }), 'destroy_room');
  await expectEvent((e) => e.event === 'room_destroyed' && e.room === 'r', 'room_destroyed');
  await expectEvent((e) => e.event === 'removed' && e.id === p.id && e.reason === 'room_destroyed', 'removed (room_destroyed)');
  assertSuccess(await janus.admin({ request: 'destroy_tenant', tenant: 'ev' }), 'destroy_tenant');
  await expectEvent((e) => e.event === 'tenant_destroyed' && e.tenant === 'ev', 'tenant_destroyed');

  const all = JSON.stringify(raw);
  for (const s of SECRETS) assert.ok(!all.includes(s), `secret "${s}" in an event handler event`);
});

// Issue 12: the order around a rejoin grace (docs/api.md, "Order around a rejoin grace"). A lost
// connection is `left` then `rejoining`; a take-over (the token again while the old participant is
// still seated) is `removed` (replaced), then `joined` and `admitted`, and no `rejoining`.
test('rejoin grace: left before rejoining; a take-over sends removed/replaced and no rejoining', async () => {
  assertSuccess(await janus.admin({ request: 'set_capacity', capacity: 2, rejoin_grace_s: 30 }), 'set_capacity');
  await createTenant(janus, { tenant: 'evr', max_participants: 10 });
  await createRoom(janus, { tenant: 'evr', room: 'r', presenter_secret: 'evr-presenter' });
  const body = (extra = {}) => ({ ...joinBody({ tenant: 'evr', room: 'r' }), ...extra });
  const indexOf = (pred) => events.findIndex(pred);

  const a1 = await attendee(janus, bag);
  const r1 = (await a1.join(body())).data;
  assertEvent(r1, 'admitted');
  // No presenter: no media, but the PeerConnection comes up (`active`).
  await expectEvent((e) => e.event === 'active' && e.id === r1.id, 'active');
  a1.dropPc();
  await expectEvent((e) => e.event === 'rejoining' && e.id === r1.id, 'rejoining (after hangup)');
  const left = indexOf((e) => e.event === 'left' && e.id === r1.id);
  assert.ok(left >= 0, `left for ${r1.id}: ${safeJson(events)}`);
  assert.equal(events[left].reason, 'hangup');
  assert.ok(left < indexOf((e) => e.event === 'rejoining' && e.id === r1.id), `left before rejoining: ${safeJson(events)}`);

  // The rejoin: the held seat passes on.
  const a2 = await attendee(janus, bag);
  const r2 = (await a2.join(body({ rejoin_token: r1.rejoin_token }))).data;
  assertEvent(r2, 'admitted');
  assert.equal(r2.rejoined, true, safeJson(r2));
  await expectEvent((e) => e.event === 'active' && e.id === r2.id, 'active (rejoined)');

  // A take-over while a2 is still seated.
  const a3 = await attendee(janus, bag);
  const r3 = (await a3.join(body({ rejoin_token: r2.rejoin_token }))).data;
  assertEvent(r3, 'admitted');
  assert.equal(r3.rejoined, true, safeJson(r3));
  await expectEvent((e) => e.event === 'admitted' && e.id === r3.id, 'admitted (take-over)');
  const removed = indexOf((e) => e.event === 'removed' && e.id === r2.id);
  assert.ok(removed >= 0, `removed for ${r2.id}: ${safeJson(events)}`);
  assert.equal(events[removed].reason, 'replaced');
  assert.ok(removed < indexOf((e) => e.event === 'joined' && e.id === r3.id), `removed before joined: ${safeJson(events)}`);
  assert.equal(indexOf((e) => e.event === 'rejoining' && e.id === r2.id), -1, `no rejoining for a take-over: ${safeJson(events)}`);
  await expectEvent((e) => e.event === 'active' && e.id === r3.id, 'active (took over)');
  const counts = (await janus.admin({ request: 'status' })).node.counts;
  assert.equal(counts.rejoining, 0, safeJson(counts));
});
