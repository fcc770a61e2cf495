// docs/api.md's admin requests, as documented: every request through the Admin API (the
// documented message_plugin envelope) and through a plugin handle with admin_key, the reply
// objects (tenant, room, room_info, counts, node), and the `removed` events of kick,
// destroy_room and destroy_tenant.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertCounts, assertEvent, assertSuccess, attendee, handle, joinBody, presenter, startJanus, waitCounts,
  safeJson,
} from './lib/allhands.mjs';

const CONFIG = { capacity: 30, wave_size: 4, wave_interval_ms: 400, admit_timeout_ms: 60000 };
let janus;
const bag = new Bag();

before(async () => {
  janus = await startJanus('admin-api', CONFIG);
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

function checkTenant(t, want = {}) {
  assert.ok(t && typeof t === 'object', `tenant object: ${safeJson(t)}`);
  for (const k of ['tenant', 'name', 'max_participants', 'rooms', 'counts']) assert.ok(k in t, `tenant.${k} present: ${safeJson(t)}`);
  assert.ok(!('secret' in t), 'tenant object has no secret');
  assert.ok(Number.isInteger(t.rooms), 'tenant.rooms is a number');
  assertCounts(t.counts, `tenant ${t.tenant}`);
  for (const [k, v] of Object.entries(want)) assert.deepEqual(t[k], v, `tenant.${k}: ${safeJson(t)}`);
}

function checkRoom(r, want = {}) {
  assert.ok(r && typeof r === 'object', `room object: ${safeJson(r)}`);
  for (const k of ['tenant', 'room', 'description', 'max_attendees', 'pin_required', 'counts']) assert.ok(k in r, `room.${k} present: ${safeJson(r)}`);
  for (const k of ['pin', 'presenter_secret', 'secret']) assert.ok(!(k in r), `room object has no ${k}`);
  assert.equal(typeof r.pin_required, 'boolean');
  assertCounts(r.counts, `room ${r.tenant}/${r.room}`);
  for (const [k, v] of Object.entries(want)) assert.deepEqual(r[k], v, `room.${k}: ${safeJson(r)}`);
}

function checkNode(n, want = {}) {
  for (const k of ['capacity', 'wave_size', 'wave_interval_ms', 'admit_timeout_ms', 'counts']) assert.ok(k in n, `node.${k} present: ${safeJson(n)}`);
  assertCounts(n.counts, 'node');
  for (const [k, v] of Object.entries(want)) assert.equal(n[k], v, `node.${k}: ${safeJson(n)}`);
}

test('the documented Admin API envelope and every admin request with its reply object', async () => {
  // The exact envelope of docs/api.md.
  const raw = await janus.adminRaw({ janus: 'message_plugin', plugin: 'janus.plugin.allhands', admin_secret: janus.adminSecret, request: { request: 'list_tenants' } });
  assert.equal(raw.janus, 'success', safeJson(raw));
  assertSuccess(raw.response, 'list_tenants');
  assert.deepEqual(raw.response.tenants, []);

  let r = await janus.admin({ request: 'create_tenant', tenant: 'acme', name: 'ACME Corp', max_participants: 50, secret: 'acme-secret-1-tenant-secret-1' });
  assertSuccess(r, 'create_tenant');
  checkTenant(r.tenant, { tenant: 'acme', name: 'ACME Corp', max_participants: 50, rooms: 0 });
  r = await janus.admin({ request: 'edit_tenant', tenant: 'acme', max_participants: 60 });
  assertSuccess(r, 'edit_tenant');
  checkTenant(r.tenant, { tenant: 'acme', name: 'ACME Corp', max_participants: 60 });

  r = await janus.admin({ request: 'create_room', tenant: 'acme', room: 'allhands', description: 'Q3 all hands', max_attendees: 25, pin: '1234', presenter_secret: 's3cret-presenter' });
  assertSuccess(r, 'create_room');
  checkRoom(r.room, { tenant: 'acme', room: 'allhands', description: 'Q3 all hands', max_attendees: 25, pin_required: true });
  r = await janus.admin({ request: 'create_room', tenant: 'acme', room: 'standup', max_attendees: 5, presenter_secret: 'x-presenter' });
  checkRoom(r.room, { room: 'standup', pin_required: false });
  r = await janus.admin({ request: 'edit_room', tenant: 'acme', room: 'standup', pin: 'abcd', description: 'daily' });
  checkRoom(r.room, { pin_required: true, description: 'daily' });
  r = await janus.admin({ request: 'edit_room', tenant: 'acme', room: 'standup', pin: '' });
  checkRoom(r.room, { pin_required: false, description: 'daily' });

  r = await janus.admin({ request: 'list_tenants' });
  assertSuccess(r, 'list_tenants');
  assert.equal(r.tenants.length, 1);
  checkTenant(r.tenants[0], { tenant: 'acme', rooms: 2, max_participants: 60 });
  r = await janus.admin({ request: 'list_rooms' });
  assertSuccess(r, 'list_rooms');
  assert.deepEqual(r.rooms.map((x) => x.room).sort(), ['allhands', 'standup']);
  r.rooms.forEach((x) => checkRoom(x));
  r = await janus.admin({ request: 'list_rooms', tenant: 'acme' });
  assert.equal(r.rooms.length, 2);

  r = await janus.admin({ request: 'room_info', tenant: 'acme', room: 'allhands' });
  assertSuccess(r, 'room_info');
  checkRoom(r.room, { tenant: 'acme', room: 'allhands' });
  assert.deepEqual([r.room.presenters, r.room.attendees, r.room.queue], [[], [], []]);

  r = await janus.admin({ request: 'status' });
  assertSuccess(r, 'status');
  checkNode(r.node, CONFIG);
  assert.equal(r.cluster, undefined, 'a single node (no `cluster = true`) shows no cluster in status');
  assert.ok(Array.isArray(r.tenants) && Array.isArray(r.rooms));
  r.tenants.forEach((t) => checkTenant(t));
  r.rooms.forEach((x) => checkRoom(x));
  r = await janus.admin({ request: 'status', tenant: 'acme' });
  assertSuccess(r, 'status tenant');
  assert.deepEqual(r.tenants.map((t) => t.tenant), ['acme']);

  r = await janus.admin({ request: 'set_capacity', capacity: 40, wave_size: 6, wave_interval_ms: 250, admit_timeout_ms: 12000 });
  assertSuccess(r, 'set_capacity');
  checkNode(r.node, { capacity: 40, wave_size: 6, wave_interval_ms: 250, admit_timeout_ms: 12000 });
  r = await janus.admin({ request: 'set_capacity', capacity: 30 });
  checkNode(r.node, { capacity: 30, wave_size: 6 });

  // The same through a plugin handle with admin_key.
  const h = await handle(janus, bag);
  const k = { admin_key: janus.adminKey };
  let hr = (await h.request({ request: 'create_tenant', ...k, tenant: 'globex', max_participants: 3, secret: 'globex-secret-tenant-secret-1' })).data;
  assertSuccess(hr, 'handle create_tenant');
  checkTenant(hr.tenant, { tenant: 'globex', max_participants: 3 });
  hr = (await h.request({ request: 'create_room', ...k, tenant: 'globex', room: 'allhands', max_attendees: 2, presenter_secret: 'g-presenter' })).data;
  checkRoom(hr.room, { tenant: 'globex', room: 'allhands' });
  hr = (await h.request({ request: 'list_tenants', ...k })).data;
  assert.deepEqual(hr.tenants.map((t) => t.tenant), ['acme', 'globex'], 'list_tenants sorted by tenant');
  // Lists are sorted by tenant, then room, whatever the creation order.
  await janus.admin({ request: 'create_room', tenant: 'globex', room: 'zeta', max_attendees: 1, presenter_secret: 'g-presenter' });
  await janus.admin({ request: 'create_room', tenant: 'globex', room: 'alpha', max_attendees: 1, presenter_secret: 'g-presenter' });
  await janus.admin({ request: 'create_tenant', tenant: 'aaa', max_participants: 1, secret: 'aaa-secret-tenant-secret-1' });
  await janus.admin({ request: 'create_room', tenant: 'aaa', room: 'zz', max_attendees: 1, presenter_secret: 'g-presenter' });
  const sorted = (await janus.admin({ request: 'list_rooms' })).rooms.map((x) => `${x.tenant}/${x.room}`);
  assert.deepEqual(sorted, ['aaa/zz', 'acme/allhands', 'acme/standup', 'globex/allhands', 'globex/alpha', 'globex/zeta'], 'list_rooms sorted');
  const stRooms = (await janus.admin({ request: 'status' })).rooms.map((x) => `${x.tenant}/${x.room}`);
  assert.deepEqual(stRooms, sorted, 'status rooms sorted');
  assert.deepEqual((await janus.admin({ request: 'list_tenants' })).tenants.map((t) => t.tenant), ['aaa', 'acme', 'globex']);
  for (const [tenant, room] of [['globex', 'zeta'], ['globex', 'alpha'], ['aaa', 'zz']]) {
    assertSuccess(await janus.admin({ request: 'destroy_room', tenant, room }), 'cleanup');
  }
  assertSuccess(await janus.admin({ request: 'destroy_tenant', tenant: 'aaa' }), 'cleanup');
  hr = (await h.request({ request: 'status', ...k })).data;
  checkNode(hr.node, { capacity: 30 });
  hr = (await h.request({ request: 'destroy_room', ...k, tenant: 'globex', room: 'allhands' })).data;
  assertSuccess(hr, 'handle destroy_room');
  checkRoom(hr.room, { tenant: 'globex', room: 'allhands' });
  hr = (await h.request({ request: 'destroy_tenant', ...k, tenant: 'globex' })).data;
  assertSuccess(hr, 'handle destroy_tenant');
  checkTenant(hr.tenant, { tenant: 'globex' });
  assertSuccess(await janus.admin({ request: 'set_capacity', ...CONFIG }), 'restore capacity');
});

test('kick, destroy_room and destroy_tenant remove participants with their reason', async () => {
  await janus.admin({ request: 'create_tenant', tenant: 'initech', max_participants: 10, secret: 'initech-secret-tenant-secret-1' });
  await janus.admin({ request: 'create_room', tenant: 'initech', room: 'a', max_attendees: 10, presenter_secret: 'pa-presenter' });
  await janus.admin({ request: 'create_room', tenant: 'initech', room: 'b', max_attendees: 10, presenter_secret: 'pb-presenter' });
  const pres = await presenter(janus, bag, { tenant: 'initech', room: 'a', presenter_secret: 'pa-presenter', display: 'boss' });
  const a1 = await attendee(janus, bag);
  const a2 = await attendee(janus, bag);
  const b1 = await attendee(janus, bag);
  const j1 = (await a1.join(joinBody({ tenant: 'initech', room: 'a', display: 'a1' }))).data;
  const j2 = (await a2.join(joinBody({ tenant: 'initech', room: 'a', display: 'a2' }))).data;
  const jb = (await b1.join(joinBody({ tenant: 'initech', room: 'b', display: 'b1' }))).data;
  for (const j of [j1, j2, jb]) assertEvent(j, 'admitted');
  await a1.waitMedia();

  const ri = (await janus.admin({ request: 'room_info', tenant: 'initech', room: 'a' })).room;
  assert.deepEqual(ri.presenters.map((p) => [p.id, p.display, p.publishing]), [[pres.id, 'boss', true]]);
  assert.deepEqual(ri.presenters[0].streams.map((s) => s.kind).sort(), ['audio', 'video']);
  assert.deepEqual(ri.attendees.map((x) => x.id).sort(), [j1.id, j2.id].sort());
  for (const x of ri.attendees) assert.ok(['connecting', 'active'].includes(x.state), `attendee state: ${safeJson(x)}`);

  // kick (tenant credentials over a handle, as documented: "operator, own tenant").
  const th = await handle(janus, bag);
  const kr = (await th.request({ request: 'kick', tenant: 'initech', tenant_secret: 'initech-secret-tenant-secret-1', room: 'a', id: j1.id })).data;
  assertSuccess(kr, 'kick');
  assert.equal(kr.id, j1.id);
  const kicked = await a1.h.waitEvent('removed', { what: 'removed after kick' });
  assert.equal(kicked.data.reason, 'kicked');
  await waitCounts(janus, { admitted: 1, presenters: 1 }, { tenant: 'initech', room: 'a' });

  // destroy_room: everyone in it is removed with room_destroyed; the reply is the room as it was.
  const dr = await janus.admin({ request: 'destroy_room', tenant: 'initech', room: 'a' });
  assertSuccess(dr, 'destroy_room');
  checkRoom(dr.room, { tenant: 'initech', room: 'a' });
  assert.equal(dr.room.counts.presenters, 1, `destroy_room reply: the room just before: ${safeJson(dr.room)}`);
  assert.equal(dr.room.counts.admitted, 1, `destroy_room reply: the room just before: ${safeJson(dr.room)}`);
  assert.equal((await a2.h.waitEvent('removed', { what: 'attendee removed by destroy_room' })).data.reason, 'room_destroyed');
  assert.equal((await pres.h.waitEvent('removed', { what: 'presenter removed by destroy_room' })).data.reason, 'room_destroyed');

  // destroy_tenant: rooms destroyed, participants removed with tenant_destroyed.
  const dt = await janus.admin({ request: 'destroy_tenant', tenant: 'initech' });
  assertSuccess(dt, 'destroy_tenant');
  checkTenant(dt.tenant, { tenant: 'initech', rooms: 1 });
  assert.equal(dt.tenant.counts.admitted, 1, `destroy_tenant reply: the tenant just before: ${safeJson(dt.tenant)}`);
  assert.equal((await b1.h.waitEvent('removed', { what: 'attendee removed by destroy_tenant' })).data.reason, 'tenant_destroyed');
  const lr = await janus.admin({ request: 'list_rooms' });
  assert.ok(!lr.rooms.some((r) => r.tenant === 'initech'), 'rooms of the destroyed tenant are gone');
  const node = (await janus.admin({ request: 'status' })).node;
  assert.equal(node.counts.admitted, 0, `node counts after destroy: ${safeJson(node.counts)}`);
});

test('kick and destroy_room reach queued attendees too; a presenter leaving renegotiates attendees', async () => {
  await janus.admin({ request: 'create_tenant', tenant: 'umbrella', max_participants: 10, secret: 'umbrella-secret-tenant-secret-1' });
  await janus.admin({ request: 'create_room', tenant: 'umbrella', room: 'one', max_attendees: 1, presenter_secret: 'pu-presenter' });
  const pres = await presenter(janus, bag, { tenant: 'umbrella', room: 'one', presenter_secret: 'pu-presenter', display: 'lead' });
  const a = await attendee(janus, bag);
  const ja = (await a.join(joinBody({ tenant: 'umbrella', room: 'one', display: 'seated' }))).data;
  assertEvent(ja, 'admitted');
  const q1 = await attendee(janus, bag);
  const q2 = await attendee(janus, bag);
  const j1 = (await q1.join(joinBody({ tenant: 'umbrella', room: 'one', display: 'q1' }))).data;
  const j2 = (await q2.join(joinBody({ tenant: 'umbrella', room: 'one', display: 'q2' }))).data;
  assertEvent(j1, 'queued');
  assertEvent(j2, 'queued');
  assert.equal(j2.position, j1.position + 1);

  // Kick a queued attendee: removed (kicked), the one behind moves up.
  assertSuccess(await janus.admin({ request: 'kick', tenant: 'umbrella', room: 'one', id: j1.id }), 'kick queued');
  assert.equal((await q1.h.waitEvent('removed', { what: 'queued attendee kicked' })).data.reason, 'kicked');
  await q2.h.waitEvent((e) => e.data.event === 'position' && e.data.position === j1.position, { what: 'q2 moves up' });
  const ri = (await janus.admin({ request: 'room_info', tenant: 'umbrella', room: 'one' })).room;
  assert.deepEqual(ri.queue.map((x) => [x.id, x.position]), [[j2.id, j1.position]], `queue after the kick: ${safeJson(ri.queue)}`);

  // The presenter leaves: the seated attendee is renegotiated without it.
  await a.waitMedia();
  const from = a.h.events.length;
  assertEvent((await pres.h.request({ request: 'leave' })).data, 'left', 'presenter leave');
  await a.h.waitEvent((e) => e.data.event === 'updated' && !(e.data.presenters || []).some((p) => p.id === pres.id),
    { from, what: '`updated` after the presenter left' });
  await waitCounts(janus, { presenters: 0, admitted: 1, queued: 1 }, { tenant: 'umbrella', room: 'one' });

  // destroy_room: the seated and the queued attendee are both removed.
  assertSuccess(await janus.admin({ request: 'destroy_room', tenant: 'umbrella', room: 'one' }), 'destroy_room');
  assert.equal((await a.h.waitEvent('removed', { what: 'seated attendee removed' })).data.reason, 'room_destroyed');
  assert.equal((await q2.h.waitEvent('removed', { what: 'queued attendee removed' })).data.reason, 'room_destroyed');
  await waitCounts(janus, { admitted: 0, queued: 0 });
});
