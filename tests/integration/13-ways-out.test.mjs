// A seat is freed on every way out. One seat on the node (capacity 1): an attendee watches, another
// waits; the watcher goes by one way out, and the one waiting must be admitted and receive media.
// Ways covered here: leave, PeerConnection hangup, handle detach, session destroy, kick, room
// destroyed. (SIGKILL of the client process and a Janus session timeout are in 05-client-kill.)
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, assertSuccess, attendee, createRoom, createTenant, joinBody, presenter, startJanus, waitCounts, safeJson,
} from './lib/allhands.mjs';

let janus;
const bag = new Bag();
let roomNo = 0;

before(async () => {
  janus = await startJanus('ways-out', { capacity: 1, wave_size: 1, wave_interval_ms: 100, admit_timeout_ms: 20000 });
  await createTenant(janus, { tenant: 'wo', max_participants: 50 });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

// A fresh room with a presenter, a watching attendee holding the node's only seat, and a queued one.
async function scene() {
  roomNo += 1;
  const room = `r${roomNo}`;
  await createRoom(janus, { tenant: 'wo', room, presenter_secret: 'p-presenter' });
  const pres = await presenter(janus, bag, { tenant: 'wo', room, presenter_secret: 'p-presenter' });
  const watcher = await attendee(janus, bag);
  const r1 = await watcher.join(joinBody({ tenant: 'wo', room, display: 'watcher' }));
  assertEvent(r1.data, 'admitted', 'watcher');
  await watcher.waitMedia();
  const waiting = await attendee(janus, bag);
  const r2 = await waiting.join(joinBody({ tenant: 'wo', room, display: 'waiting' }));
  assertEvent(r2.data, 'queued', 'waiting');
  await waitCounts(janus, { active: 1, queued: 1 });
  return { room, pres, watcher, waiting, watcherId: r1.data.id };
}

// The seat came back: the waiting attendee is admitted and watches; the node holds one seat again.
async function seatReturned({ waiting }, way) {
  const adm = await waiting.h.waitEvent('admitted', { timeout: 20000, what: `admitted after ${way}` });
  assert.equal(adm.jsep?.type, 'offer');
  await waiting.waitMedia();
  await waitCounts(janus, { active: 1, connecting: 0, queued: 0 });
}

async function teardown({ room, waiting }) {
  await waiting.h.request({ request: 'leave' });
  waiting.dropPc();
  assertSuccess(await janus.admin({ request: 'destroy_room', tenant: 'wo', room }), 'destroy_room');
  await waitCounts(janus, { active: 0, connecting: 0, queued: 0 });
}

test('leave', async () => {
  const s = await scene();
  assertEvent((await s.watcher.h.request({ request: 'leave' })).data, 'left', 'leave');
  await seatReturned(s, 'leave');
  await teardown(s);
});

test('hangup (the attendee closes its PeerConnection)', async () => {
  const s = await scene();
  s.watcher.dropPc();
  const left = await s.watcher.h.waitEvent('left', { timeout: 20000, what: 'left after hangup' });
  assert.equal(left.data.reason, 'hangup', safeJson(left.data));
  await seatReturned(s, 'hangup');
  await teardown(s);
});

test('handle detach', async () => {
  const s = await scene();
  await s.watcher.h.detach();
  await seatReturned(s, 'detach');
  await teardown(s);
});

test('session destroy', async () => {
  const s = await scene();
  await s.watcher.h.client.close();
  await seatReturned(s, 'session destroy');
  await teardown(s);
});

test('kick', async () => {
  const s = await scene();
  assertSuccess(await janus.admin({ request: 'kick', tenant: 'wo', room: s.room, id: s.watcherId }), 'kick');
  const removed = await s.watcher.h.waitEvent('removed', { timeout: 10000, what: 'removed after kick' });
  assert.equal(removed.data.reason, 'kicked');
  await seatReturned(s, 'kick');
  await teardown(s);
});

test('room destroyed: the seat goes to an attendee queued for another room', async () => {
  const s = await scene();
  // Someone queued for another room of the tenant, behind the one queued in this room.
  roomNo += 1;
  const other = `r${roomNo}`;
  await createRoom(janus, { tenant: 'wo', room: other, presenter_secret: 'p-presenter' });
  await presenter(janus, bag, { tenant: 'wo', room: other, presenter_secret: 'p-presenter' });
  const elsewhere = await attendee(janus, bag);
  assertEvent((await elsewhere.join(joinBody({ tenant: 'wo', room: other, display: 'elsewhere' }))).data, 'queued', 'elsewhere');
  assertSuccess(await janus.admin({ request: 'destroy_room', tenant: 'wo', room: s.room }), 'destroy_room');
  for (const [who, a] of [['watcher', s.watcher], ['waiting', s.waiting]]) {
    const removed = await a.h.waitEvent('removed', { timeout: 10000, what: `${who} removed` });
    assert.equal(removed.data.reason, 'room_destroyed');
  }
  await seatReturned({ waiting: elsewhere }, 'room destroyed');
  await elsewhere.h.request({ request: 'leave' });
  await waitCounts(janus, { active: 0, connecting: 0, queued: 0 });
});
