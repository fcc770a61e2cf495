// (c) Caps: a tenant's max_participants holds across its rooms (attendees beyond it queue, a
// presenter gets tenant_full), a leave in room A admits the one queued in room B; other tenants
// are unaffected; a room's max_attendees holds too. The rooms are created with presenter_seats 0
// (the default reserves one tenant seat per room for its presenters, which attendees cannot take),
// so that all of a tenant's seats are open to attendees. Queue positions are per room. At the end the
// whole admission history (lib/history.mjs) is replayed: no tenant or room above its cap at any event.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertError, assertEvent, attendee, createRoomWith as createRoom, createTenant, handle, joinBody, roomInfo, startJanus,
  status, waitCounts, waitFor, safeJson,
} from './lib/allhands.mjs';
import { EventCollector, checkHistory } from './lib/history.mjs';

let janus;
const bag = new Bag();
const history = new EventCollector();

before(async () => {
  // Nobody answers offers here: a long admit timeout keeps the seats held while connecting.
  await history.start();
  janus = await startJanus('tenantcap', { capacity: 50, wave_size: 5, wave_interval_ms: 300, admit_timeout_ms: 120000, events: true },
    { eventsBackend: history.url });
  await createTenant(janus, { tenant: 'T', max_participants: 3 });
  await createRoom(janus, { tenant: 'T', room: 'A', presenter_secret: 'pa-presenter', presenter_seats: 0 });
  await createRoom(janus, { tenant: 'T', room: 'B', presenter_secret: 'pb-presenter', presenter_seats: 0 });
  await createTenant(janus, { tenant: 'U', max_participants: 10 });
  await createRoom(janus, { tenant: 'U', room: 'C', presenter_secret: 'pc-presenter', presenter_seats: 0 });
  await createRoom(janus, { tenant: 'U', room: 'D', presenter_secret: 'pd-presenter', max_attendees: 1, presenter_seats: 0 });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
  await history.stop();
});

async function join(tenant, room, display) {
  const a = await attendee(janus, bag, { autoStart: false });
  const r = await a.join(joinBody({ tenant, room, display }));
  a.reply = r.data;
  a.id = r.data.id;
  return a;
}

const lastPosition = (a) => {
  const ev = a.h.eventsNamed('position').at(-1);
  return ev ? ev.data.position : a.reply.position;
};

test('tenant cap across two rooms; a leave in room A admits the one queued in room B', async () => {
  const a1 = await join('T', 'A', 'a1');
  const a2 = await join('T', 'A', 'a2');
  const b1 = await join('T', 'B', 'b1');
  for (const a of [a1, a2, b1]) assertEvent(a.reply, 'admitted', a.reply.display);
  const b2 = await join('T', 'B', 'b2');
  assertEvent(b2.reply, 'queued', 'b2 beyond the tenant cap');
  assert.equal(b2.reply.position, 1);
  assert.equal(b2.reply.queue_length, 1);
  const a3 = await join('T', 'A', 'a3');
  assertEvent(a3.reply, 'queued', 'a3 beyond the tenant cap');
  // Positions and queue lengths are per room: a3 is first in room A's queue.
  assert.equal(a3.reply.position, 1);
  assert.equal(a3.reply.queue_length, 1);

  // Another tenant is not blocked by T's queue.
  const u1 = await join('U', 'C', 'u1');
  assertEvent(u1.reply, 'admitted', 'other tenant');

  // A presenter never queues: at the tenant cap the join fails.
  const ph = await handle(janus, bag);
  const pj = await ph.request(joinBody({ tenant: 'T', room: 'A', ptype: 'presenter', presenter_secret: 'pa-presenter', display: 'late presenter' }));
  assertError(pj.data, 617, 'tenant_full', 'presenter join at the tenant cap');

  await waitCounts(janus, { admitted: 3, queued: 2, presenters: 0 }, { tenant: 'T' });
  await waitCounts(janus, { admitted: 1, queued: 0 }, { tenant: 'U' });
  const riB = await roomInfo(janus, 'T', 'B');
  assert.deepEqual(riB.queue.map((q) => q.id), [b2.id], `room B queue: ${safeJson(riB.queue)}`);
  assert.equal(riB.queue[0].position, 1);
  assert.equal(riB.counts.admitted, 1);
  const riA = await roomInfo(janus, 'T', 'A');
  assert.deepEqual(riA.queue.map((q) => q.id), [a3.id], `room A queue: ${safeJson(riA.queue)}`);
  assert.equal(riA.queue[0].position, 1, 'room_info queue positions are per room');
  assert.deepEqual(riA.attendees.map((x) => x.id).sort(), [a1.id, a2.id].sort());
  for (const x of riA.attendees) assert.equal(x.state, 'connecting');

  // a1 leaves room A: b2 (room B, queued first, so its room has the tenant's first turn) is
  // admitted; a3 stays queued at position 1 of room A.
  assertEvent((await a1.h.request({ request: 'leave' })).data, 'left');
  const adm = await b2.h.waitEvent('admitted', { what: 'b2 admitted after a leave in room A' });
  assert.equal(adm.jsep?.type, 'offer');
  await waitCounts(janus, { admitted: 3, queued: 1 }, { tenant: 'T' });
  assert.equal(lastPosition(a3), 1, `a3 still at position 1 (${safeJson(a3.h.events.map((e) => e.data))})`);
  assert.equal(a3.h.eventsNamed('admitted').length, 0, 'a3 is still queued');
  const s = await status(janus, 'T');
  const t = s.tenants.find((x) => x.tenant === 'T');
  assert.equal(t.max_participants, 3);

  // b1 leaves room B: a3 gets the seat.
  assertEvent((await b1.h.request({ request: 'leave' })).data, 'left');
  await a3.h.waitEvent('admitted', { what: 'a3 admitted' });
  await waitCounts(janus, { admitted: 3, queued: 0 }, { tenant: 'T' });
});

test('room max_attendees: the second attendee queues until the first leaves', async () => {
  const d1 = await join('U', 'D', 'd1');
  assertEvent(d1.reply, 'admitted');
  const d2 = await join('U', 'D', 'd2');
  assertEvent(d2.reply, 'queued', 'room at max_attendees');
  assert.equal(d2.reply.position, 1);
  // Another room of the same tenant still admits.
  const c2 = await join('U', 'C', 'c2');
  assertEvent(c2.reply, 'admitted', 'another room of the tenant');
  assertEvent((await d1.h.request({ request: 'leave' })).data, 'left');
  await d2.h.waitEvent('admitted', { what: 'd2 admitted after d1 left' });
  await waitCounts(janus, { admitted: 1, queued: 0 }, { tenant: 'U', room: 'D' });
});

test('the admission history: tenant T never above 3 seats, room D never above 1, at any event', async () => {
  await waitFor(() => history.events.filter((e) => e.data.event === 'admitted').length >= 6,
    { timeout: 5000, what: `the admissions at the collector (${history.events.length} events)` });
  const r = checkHistory({ events: history.events }, { tenants: { T: 3, U: 10 }, rooms: { 'U/D': 1 } }, { complete: false });
  console.log(`# history: ${r.counts.events} events; tenant T at most ${r.max.tenants.T}, room U/D at most ${r.max.rooms['U/D']}`);
  assert.deepEqual(r.violations, []);
  assert.equal(r.max.tenants.T, 3, 'tenant T was full (the checker saw the cap reached)');
  assert.equal(r.max.rooms['U/D'], 1);
});
