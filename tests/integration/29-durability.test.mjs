// Durability off the control thread (issue 12): the state file is written by a writer thread.
// (a) Janus killed with SIGKILL again and again while changes are being saved: the state file
//     always loads, and no temporary file (mode 0600, with secrets) survives the next start.
// (b) `sync` answers once every change before it is on disk; status shows the writer's figures.
// (c) Events are stamped when Janus called back: an attendee whose PeerConnection came up before
//     its admit deadline, while the control thread was stalled past it, is seated, not expired.
//     The stall is the test-only Admin API request `test_stall` (ALLHANDS_TEST_HOOKS=1).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  Bag, assertEvent, assertSuccess, attendee, createRoom, createTenant, handle, joinBody, presenter, startJanus, status,
  waitCounts, safeJson,
} from './lib/allhands.mjs';

process.env.ALLHANDS_TEST_HOOKS = '1'; // inherited by the Janus processes this file starts

const ADMIT_TIMEOUT = 5000;
const KILLS = 30;
const ROOMS = 400;
let janus;
const bag = new Bag();

before(async () => {
  janus = await startJanus('durability', { capacity: 5, wave_size: 1, wave_interval_ms: 100, admit_timeout_ms: ADMIT_TIMEOUT });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Files next to the state file whose name starts with its name: the state file and its temporaries.
function stateFamily() {
  const dir = path.dirname(janus.stateFile);
  const base = path.basename(janus.stateFile);
  return fs.readdirSync(dir).filter((n) => n.startsWith(`${base}.`));
}

function loadStateFile() {
  const text = fs.readFileSync(janus.stateFile, 'utf8');
  const state = JSON.parse(text); // throws on a partial file
  assert.equal(state.version, 2);
  assert.ok(Array.isArray(state.tenants) && Array.isArray(state.rooms), 'tenants and rooms arrays');
  return state;
}

async function killNow() {
  janus.proc.kill('SIGKILL');
  await janus.exitPromise;
}

test('SIGKILL during changes: the state file always loads, no temporary file survives a start', async () => {
  await createTenant(janus, { tenant: 'big', max_participants: 10, secret: 'big-secret-1-tenant' });
  // A state big enough for a write to take a while, so the kills land inside writes.
  for (let i = 0; i < ROOMS; i += 40) {
    await Promise.all(Array.from({ length: 40 }, (_, k) => createRoom(janus, { tenant: 'big', room: `r${i + k}`, max_attendees: 3, presenter_secret: `presenter-${i + k}` })));
  }
  assertSuccess(await janus.admin({ request: 'sync' }), 'sync');
  let leftAfterKills = 0;
  let secretRotations = 0;
  for (let k = 0; k < KILLS; k++) {
    // A burst of changes, not awaited: the kill lands while they are handled and written.
    const burst = [];
    for (let j = 0; j < 20; j++) {
      burst.push(janus.admin({ request: 'edit_room', tenant: 'big', room: `r${(k * 20 + j) % ROOMS}`, description: `kill ${k} change ${j}` }).catch(() => null));
    }
    burst.push(janus.admin({ request: 'edit_tenant', tenant: 'big', secret: `big-secret-${k + 2}` }).then(() => { secretRotations += 1; }).catch(() => null));
    await sleep(5 + ((k * 7) % 40));
    await killNow();
    await Promise.all(burst);
    loadStateFile();
    leftAfterKills += stateFamily().filter((n) => n !== path.basename(janus.stateFile)).length;
    await janus.start();
    const left = stateFamily();
    assert.deepEqual(left, [], `no temporary state file after start #${k + 1}: ${safeJson(left)}`);
    const rooms = await janus.admin({ request: 'list_rooms', tenant: 'big' });
    assertSuccess(rooms, 'list_rooms after the restart');
    assert.equal(rooms.rooms.length, ROOMS, 'every room survived');
  }
  // What the kills left behind before each start (informational: the start removed them all).
  console.log(`# ${KILLS} kills: ${leftAfterKills} temporary files found before the next start, ${secretRotations} rotations answered`);
});

test('sync answers once the change is on disk; status shows the writer', async () => {
  await createTenant(janus, { tenant: 'syncer', max_participants: 2, secret: 'syncer-secret-tenant' });
  await createRoom(janus, { tenant: 'syncer', room: 'just-made', max_attendees: 1, presenter_secret: 'jm-presenter' });
  const s = await janus.admin({ request: 'sync' });
  assertSuccess(s, 'sync');
  assert.equal(typeof s.sequence, 'number');
  // Read right after the reply: the room is in the file.
  const state = loadStateFile();
  assert.ok(state.rooms.some((r) => r.tenant === 'syncer' && r.room === 'just-made'), 'the synced room is in the file');
  const st = await status(janus);
  const p = st.node.persistence;
  assert.ok(p, `node.persistence in status: ${safeJson(st.node)}`);
  assert.ok(p.durable >= s.sequence, `durable ${p.durable} >= sequence ${s.sequence}`);
  assert.equal(p.failing, false);
  assert.ok(p.writes >= 1);
  for (const k of ['submitted', 'pending', 'failures', 'changes_written', 'last_write_us', 'max_write_us', 'bytes', 'last_write_age_ms', 'last_write_at']) {
    assert.equal(typeof p[k], 'number', `persistence.${k}: ${safeJson(p)}`);
  }
  assert.ok(Math.abs(p.last_write_at - Date.now()) < 600000, `last_write_at is a UNIX time in ms (not s, not monotonic): ${p.last_write_at}`);
  // A tenant over a plugin handle: the reply is pushed once the change is on disk.
  const h = await handle(janus, bag);
  await createRoom(janus, { tenant: 'syncer', room: 'second', max_attendees: 1, presenter_secret: 'jm-presenter' });
  const hs = await h.request({ request: 'sync', tenant: 'syncer', tenant_secret: 'syncer-secret-tenant' });
  assertSuccess(hs.data, 'sync over a plugin handle');
  assert.ok(loadStateFile().rooms.some((r) => r.tenant === 'syncer' && r.room === 'second'), 'synced over the handle');
});

test('SIGTERM right after changes: the writer writes them before Janus exits', async () => {
  await createTenant(janus, { tenant: 'late', max_participants: 2, secret: 'late-secret-tenant' });
  const made = [];
  for (let i = 0; i < 30; i++) made.push(janus.admin({ request: 'create_room', tenant: 'late', room: `l${i}`, max_attendees: 1, presenter_secret: 'x-presenter' }));
  for (const r of await Promise.all(made)) assertSuccess(r, 'create_room');
  const exit = await janus.stop(); // no sync: the shutdown must flush
  assert.equal(exit.signal ?? null, null, `clean exit: ${safeJson(exit)}`);
  const state = loadStateFile();
  assert.equal(state.rooms.filter((r) => r.tenant === 'late').length, 30, 'every room made before SIGTERM is in the file');
  assert.deepEqual(stateFamily(), [], 'no temporary file after a clean stop');
  await janus.start();
  const rooms = await janus.admin({ request: 'list_rooms', tenant: 'late' });
  assert.equal(rooms.rooms.length, 30);
});

test('a failing write: sync says persist_failed; the change stands and is written once possible', async () => {
  const dir = path.dirname(janus.stateFile);
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    assertSuccess(await janus.admin({ request: 'create_tenant', tenant: 'volatile2', max_participants: 2, secret: 'v2-secret-of-tenant' }), 'create_tenant');
    const s = await janus.admin({ request: 'sync' });
    assert.equal(s.error_code, 619, `sync while the folder is gone: ${safeJson(s)}`);
    assert.equal(s.error_name, 'persist_failed');
    const h = await handle(janus, bag);
    const hs = await h.request({ request: 'sync', tenant: 'volatile2', tenant_secret: 'v2-secret-of-tenant' });
    assert.equal(hs.data.error_code, 619, `sync over a plugin handle while the folder is gone: ${safeJson(hs.data)}`);
    const st = await status(janus);
    assert.equal(st.node.persistence.failing, true, safeJson(st.node.persistence));
    assert.ok(st.node.persistence.failures >= 1);
    assert.ok(typeof st.node.persistence.last_error === 'string' && st.node.persistence.last_error.includes(janus.stateFile));
    const r = await janus.admin({ request: 'create_room', tenant: 'volatile2', room: 'r', max_attendees: 1, presenter_secret: 'x-presenter' });
    assertSuccess(r, 'create_room while writes fail');
    assert.equal(r.warning?.error_name, 'persist_failed', `a warning while writes fail: ${safeJson(r)}`);
  } finally {
    fs.mkdirSync(dir, { recursive: true });
  }
  assertSuccess(await janus.admin({ request: 'sync' }), 'sync once the folder is back');
  const state = loadStateFile();
  assert.ok(state.tenants.some((t) => t.tenant === 'volatile2'), 'the tenant created while writes failed is in the file');
  assert.ok(state.rooms.some((x) => x.tenant === 'volatile2' && x.room === 'r'));
  assert.equal(fs.statSync(janus.stateFile).mode & 0o777, 0o600);
});

test('a stall past the admit deadline does not expire an attendee whose media came up in time', async () => {
  await createTenant(janus, { tenant: 'st', max_participants: 10 });
  await createRoom(janus, { tenant: 'st', room: 'r', presenter_secret: 'p-presenter' });
  await presenter(janus, bag, { tenant: 'st', room: 'r', presenter_secret: 'p-presenter' });
  const a = await attendee(janus, bag, { autoStart: false });
  const joined = await a.join(joinBody({ tenant: 'st', room: 'r', display: 'late-handled' }));
  assertEvent(joined.data, 'admitted', 'join');
  const deadline = Date.now() + ADMIT_TIMEOUT;
  // The control thread is held until well past the deadline...
  const stall = janus.admin({ request: 'test_stall', ms: ADMIT_TIMEOUT + 4000 }, { timeout: ADMIT_TIMEOUT + 20000 });
  await sleep(200);
  // ...while the attendee answers and its PeerConnection comes up (Janus calls setup_media).
  const started = a.answer(joined.jsep, 'admitted');
  await a.waitConnected(ADMIT_TIMEOUT);
  assert.ok(Date.now() < deadline, 'precondition: the PeerConnection came up before the admit deadline');
  assertSuccess(await stall, 'test_stall');
  const reply = await started;
  assertEvent(reply.data, 'started', `the answer, handled after the stall: ${safeJson(reply.data)}`);
  await waitCounts(janus, { active: 1, connecting: 0 }, { tenant: 'st', room: 'r' });
  assert.equal(a.h.eventsNamed('removed').length, 0, `not removed: ${safeJson(a.h.eventsNamed('removed').map((e) => e.data))}`);
  await a.waitMedia();
});
