// (d) An admitted attendee that never answers the offer loses its seat after admit_timeout_ms
// (`removed`, reason admit_timeout) and the next in line is admitted.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertError, assertEvent, assertSuccess, attendee, createRoom, createTenant, joinBody, presenter, roomInfo, startJanus,
  waitCounts, waitFor, safeJson,
} from './lib/allhands.mjs';

const ADMIT_TIMEOUT = 3000;
let janus;
const bag = new Bag();

before(async () => {
  janus = await startJanus('admit-timeout', { capacity: 1, wave_size: 1, wave_interval_ms: 200, admit_timeout_ms: ADMIT_TIMEOUT });
  await createTenant(janus, { tenant: 'tt', max_participants: 10 });
  await createRoom(janus, { tenant: 'tt', room: 'r', presenter_secret: 'p-presenter' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

test('a silent attendee is removed after admit_timeout_ms and the next in line is admitted', async () => {
  const pres = await presenter(janus, bag, { tenant: 'tt', room: 'r', presenter_secret: 'p-presenter' });
  const silent = await attendee(janus, bag, { autoStart: false });
  const r1 = await silent.join(joinBody({ tenant: 'tt', room: 'r', display: 'silent' }));
  assertEvent(r1.data, 'admitted', 'first attendee');
  assert.equal(r1.jsep?.type, 'offer');
  const next = await attendee(janus, bag);
  const r2 = await next.join(joinBody({ tenant: 'tt', room: 'r', display: 'next' }));
  assertEvent(r2.data, 'queued', 'second attendee, node full');
  assert.equal(r2.data.position, 1);
  await waitCounts(janus, { connecting: 1, queued: 1 });

  const removed = await silent.h.waitEvent('removed', { timeout: ADMIT_TIMEOUT + 15000, what: '`removed` after admit_timeout_ms' });
  assert.equal(removed.data.reason, 'admit_timeout', `removed reason: ${safeJson(removed.data)}`);
  const adm = await next.h.waitEvent('admitted', { timeout: 15000, what: 'next attendee admitted' });
  assert.equal(adm.jsep?.type, 'offer');
  assert.ok((adm.data.presenters || []).some((p) => p.id === pres.id));
  await next.waitMedia();
  await waitCounts(janus, { active: 1, connecting: 0, queued: 0 });
  const ri = await roomInfo(janus, 'tt', 'r');
  assert.deepEqual(ri.attendees.map((x) => x.id), [r2.data.id], `room_info attendees: ${safeJson(ri.attendees)}`);

  // The removed attendee has no offer outstanding any more.
  const late = await silent.h.request({ request: 'start' });
  assertError(late.data, 614, 'wrong_state', 'start after admit_timeout removal');

  // An active attendee is not timed out.
  await waitFor(() => Date.now() - adm.at > ADMIT_TIMEOUT + 1500, { timeout: ADMIT_TIMEOUT + 5000, interval: 250 });
  assert.equal(next.h.eventsNamed('removed').length, 0, 'active attendee kept its seat');
  await next.waitMedia();
});

test('a hangup before the PeerConnection came up keeps the seat until admit_timeout_ms; then the handle may join again', async () => {
  await waitCounts(janus, { admitted: 1, queued: 0 });
  const ri0 = await roomInfo(janus, 'tt', 'r');
  const [holder] = ri0.attendees.map((x) => x.id);
  // Free the node's only seat: kick whoever holds it from the first test.
  assertSuccess(await janus.admin({ request: 'kick', tenant: 'tt', room: 'r', id: holder }), 'kick');
  await waitCounts(janus, { admitted: 0 });

  const h = await attendee(janus, bag, { autoStart: false });
  const r1 = await h.join(joinBody({ tenant: 'tt', room: 'r', display: 'hangs up early' }));
  assertEvent(r1.data, 'admitted');
  await h.h.hangup().catch(() => {});
  const q = await attendee(janus, bag, { autoStart: false });
  const rq = await q.join(joinBody({ tenant: 'tt', room: 'r', display: 'waits' }));
  assertEvent(rq.data, 'queued', 'the early hangup still holds the seat');
  await waitCounts(janus, { connecting: 1, queued: 1 });
  const removed = await h.h.waitEvent('removed', { timeout: ADMIT_TIMEOUT + 15000, what: '`removed` admit_timeout after an early hangup' });
  assert.equal(removed.data.reason, 'admit_timeout');
  assert.equal(h.h.eventsNamed('left').length, 0, 'no `left` for a hangup before the PeerConnection came up');
  await q.h.waitEvent('admitted', { what: 'the queued attendee admitted' });

  // After `removed`, the handle may join again (it queues behind the one now seated).
  const again = await h.h.request(joinBody({ tenant: 'tt', room: 'r', display: 'back' }));
  assertEvent(again.data, 'queued', 'join again after removed');
  assert.equal(again.data.position, 1);
});

