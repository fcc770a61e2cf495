// (f) Persistence: tenants and rooms (with their settings and credentials) survive a Janus restart;
// set_capacity lasts only until the restart. Also: a state file that cannot be written gives
// persist_failed (619) from `sync` and as a warning in later replies, with the change applied in memory.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  Bag, assertError, assertEvent, assertSuccess, attendee, createRoom, createTenant, handle, joinBody, startJanus,
  status, safeJson,
} from './lib/allhands.mjs';

const CONFIG = { capacity: 7, wave_size: 3, wave_interval_ms: 700, admit_timeout_ms: 9000 };
let janus;
const bag = new Bag();

before(async () => {
  janus = await startJanus('restart', CONFIG);
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

const byKey = (k) => (x, y) => String(x[k]).localeCompare(String(y[k])) || String(x.room ?? '').localeCompare(String(y.room ?? ''));
const noCounts = (o) => { const { counts, ...rest } = o; return rest; };

async function snapshot() {
  const tenants = await janus.admin({ request: 'list_tenants' });
  assertSuccess(tenants, 'list_tenants');
  const rooms = await janus.admin({ request: 'list_rooms' });
  assertSuccess(rooms, 'list_rooms');
  const infos = [];
  for (const r of [...rooms.rooms].sort(byKey('tenant'))) {
    const ri = await janus.admin({ request: 'room_info', tenant: r.tenant, room: r.room });
    assertSuccess(ri, 'room_info');
    infos.push(noCounts(ri.room));
  }
  return {
    tenants: tenants.tenants.map(noCounts).sort(byKey('tenant')),
    rooms: rooms.rooms.map(noCounts).sort(byKey('tenant')),
    infos,
  };
}

test('tenants and rooms survive a restart; set_capacity does not', async () => {
  await createTenant(janus, { tenant: 'p1', name: 'Tenant One', max_participants: 10, secret: 'p1-secret-old-tenant-secret-1' });
  await createTenant(janus, { tenant: 'p2', max_participants: 5, secret: 'p2-secret-tenant-secret-1' });
  await createTenant(janus, { tenant: 'p3', max_participants: 5, secret: 'p3-secret-tenant-secret-1' });
  await createRoom(janus, { tenant: 'p1', room: 'main', description: 'Main stage', max_attendees: 4, pin: '4321', presenter_secret: 'stage-presenter' });
  await createRoom(janus, { tenant: 'p1', room: 'side', max_attendees: 2, presenter_secret: 'side-presenter' });
  await createRoom(janus, { tenant: 'p1', room: 'gone', max_attendees: 2, presenter_secret: 'gone-presenter' });
  await createRoom(janus, { tenant: 'p2', room: 'main', description: 'Same name, other tenant', max_attendees: 3, presenter_secret: 'p2main-presenter' });
  assertSuccess(await janus.admin({ request: 'edit_room', tenant: 'p1', room: 'side', description: 'edited', max_attendees: 6, pin: 'side-pin' }), 'edit_room');
  assertSuccess(await janus.admin({ request: 'edit_tenant', tenant: 'p2', name: 'Two', max_participants: 20 }), 'edit_tenant');
  assertSuccess(await janus.admin({ request: 'edit_tenant', tenant: 'p1', secret: 'p1-secret-new-tenant-secret-1' }), 'edit_tenant secret');
  assertSuccess(await janus.admin({ request: 'destroy_room', tenant: 'p1', room: 'gone' }), 'destroy_room');
  assertSuccess(await janus.admin({ request: 'destroy_tenant', tenant: 'p3' }), 'destroy_tenant');
  const sc = await janus.admin({ request: 'set_capacity', capacity: 3, wave_size: 1 });
  assertSuccess(sc, 'set_capacity');
  assert.equal(sc.node.capacity, 3);

  const beforeSnap = await snapshot();
  assert.deepEqual(beforeSnap.tenants.map((t) => t.tenant), ['p1', 'p2']);
  assert.equal(beforeSnap.rooms.length, 3);
  assertSuccess(await janus.admin({ request: 'sync' }), 'sync: every change on disk');
  assert.ok(fs.existsSync(janus.stateFile), `state file ${janus.stateFile} written`);

  const exit = await janus.stop();
  assert.ok(!exit.forced, `Janus stopped on SIGTERM: ${safeJson(exit)}`);
  assert.equal(exit.signal ?? null, null, `Janus exited by itself, not by a signal/crash: ${safeJson(exit)}`);
  await janus.start();

  const afterSnap = await snapshot();
  assert.deepEqual(afterSnap, beforeSnap, 'tenants, rooms and room_info identical after the restart');
  const t1 = afterSnap.tenants.find((t) => t.tenant === 'p1');
  assert.equal(t1.name, 'Tenant One');
  assert.equal(t1.max_participants, 10);
  assert.equal(t1.rooms, 2);
  const t2 = afterSnap.tenants.find((t) => t.tenant === 'p2');
  assert.equal(t2.name, 'Two');
  assert.equal(t2.max_participants, 20);
  const side = afterSnap.rooms.find((r) => r.tenant === 'p1' && r.room === 'side');
  assert.equal(side.description, 'edited');
  assert.equal(side.max_attendees, 6);
  assert.equal(side.pin_required, true);

  // set_capacity lasted until the restart: the config file is the source of truth.
  const st = await status(janus);
  for (const [k, v] of Object.entries(CONFIG)) assert.equal(st.node[k], v, `node.${k} after restart: ${safeJson(st.node)}`);

  // Credentials survived: pins, presenter secrets, the edited tenant secret.
  const a = await attendee(janus, bag, { autoStart: false });
  assertError((await a.h.request(joinBody({ tenant: 'p1', room: 'main', pin: '0000' }))).data, 612, 'wrong_pin', 'wrong pin after restart');
  assertEvent((await a.h.request(joinBody({ tenant: 'p1', room: 'main', pin: '4321' }))).data, 'admitted', 'right pin after restart');
  const p = await handle(janus, bag);
  assertError((await p.request(joinBody({ tenant: 'p2', room: 'main', ptype: 'presenter', presenter_secret: 'stage-presenter' }))).data, 613, 'wrong_secret', 'p1 secret on p2 room');
  assertEvent((await p.request(joinBody({ tenant: 'p2', room: 'main', ptype: 'presenter', presenter_secret: 'p2main-presenter' }))).data, 'joined', 'presenter after restart');
  const th = await handle(janus, bag);
  assertError((await th.request({ request: 'list_rooms', tenant: 'p1', tenant_secret: 'p1-secret-old-tenant-secret-1' })).data, 606, 'unauthorized', 'old tenant secret');
  const lr = await th.request({ request: 'list_rooms', tenant: 'p1', tenant_secret: 'p1-secret-new-tenant-secret-1' });
  assertSuccess(lr.data, 'list_rooms with the new tenant secret');
  assert.deepEqual(lr.data.rooms.map((r) => r.room).sort(), ['main', 'side']);
  assert.ok(lr.data.rooms.every((r) => r.tenant === 'p1'));
});

test('an unwritable state file: the change stays in memory, sync and later replies say persist_failed (619)', async () => {
  const dir = path.dirname(janus.stateFile);
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    // The reply comes before the write (the writer thread saves it): a success.
    const r = await janus.admin({ request: 'create_tenant', tenant: 'volatile', max_participants: 2, secret: 'v-secret-tenant-secret-1' });
    assertSuccess(r, 'create_tenant with the state folder gone');
    assert.equal(r.tenant?.tenant, 'volatile');
    // `sync` waits for the write, which fails.
    const s = await janus.admin({ request: 'sync' });
    assert.equal(s.error_code, 619, safeJson(s));
    assert.equal(s.error_name, 'persist_failed');
    assert.equal(typeof s.error, 'string');
    // While writes fail, every change's reply says so.
    const e = await janus.admin({ request: 'edit_tenant', tenant: 'volatile', name: 'Volatile' });
    assertSuccess(e, 'edit_tenant while writes fail');
    assert.ok(e.warning, `a warning in the reply: ${safeJson(e)}`);
    assert.equal(e.warning.error_code, 619, safeJson(e.warning));
    assert.equal(e.warning.error_name, 'persist_failed');
    assert.equal(typeof e.warning.error, 'string');
    const lt = await janus.admin({ request: 'list_tenants' });
    assert.ok(lt.tenants.some((t) => t.tenant === 'volatile'), `tenant applied in memory: ${safeJson(lt.tenants)}`);
  } finally {
    fs.mkdirSync(dir, { recursive: true });
  }
  // A sync asks for a new attempt at once; it writes the whole state, the tenant created while saving failed included.
  assertSuccess(await janus.admin({ request: 'sync' }), 'sync once the folder is back');
  const r2 = await janus.admin({ request: 'create_room', tenant: 'volatile', room: 'r', max_attendees: 1, presenter_secret: 'x-presenter' });
  assertSuccess(r2, 'create_room after the folder is back');
  assert.equal(r2.warning, undefined, `no warning once saving works: ${safeJson(r2)}`);
  assertSuccess(await janus.admin({ request: 'sync' }), 'sync after create_room');
  const saved = JSON.parse(fs.readFileSync(janus.stateFile, 'utf8'));
  assert.ok(JSON.stringify(saved).includes('volatile'), 'the state file has the tenant created while saving failed');
  const mode = fs.statSync(janus.stateFile).mode & 0o777;
  assert.equal(mode, 0o600, `state file mode 0600, got ${mode.toString(8)}`);
  const st = await status(janus);
  assertSuccess(st, 'status after persist_failed');
});
