// (b) Wave admission: capacity 5, wave_size 2. Twelve attendees join at once: exactly 5 are admitted,
// 7 queue at positions 1..7. As admitted ones leave, the queue is admitted in waves of at most 2,
// in queue order, with `position` updates; in the end every attendee has received media.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, attendee, createRoom, createTenant, joinBody, presenter, roomInfo, startJanus,
  waitCounts, waitFor, safeJson,
} from './lib/allhands.mjs';

const CAPACITY = 5;
const WAVE = 2;
const INTERVAL = 1500;
let janus;
const bag = new Bag();

before(async () => {
  janus = await startJanus('waves', { capacity: CAPACITY, wave_size: WAVE, wave_interval_ms: INTERVAL, admit_timeout_ms: 30000 });
  await createTenant(janus, { tenant: 'wave', max_participants: 100 });
  await createRoom(janus, { tenant: 'wave', room: 'r1', max_attendees: 100, presenter_secret: 'p-presenter' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

const admittedAt = (a) => a.h.events.find((e) => e.data.event === 'admitted');

test('12 attendees at once: 5 admitted, 7 queued, then admitted in waves of <= 2 as seats free', async (t) => {
  const pres = await presenter(janus, bag, { tenant: 'wave', room: 'r1', presenter_secret: 'p-presenter', display: 'host' });
  const atts = [];
  for (let i = 0; i < 12; i++) atts.push(await attendee(janus, bag));
  const replies = await Promise.all(atts.map((a, i) => a.join(joinBody({ tenant: 'wave', room: 'r1', display: `att${i}` }))));
  replies.forEach((r, i) => { atts[i].reply = r.data; atts[i].id = r.data.id; });

  const admitted = atts.filter((a) => a.reply.event === 'admitted');
  const queued = atts.filter((a) => a.reply.event === 'queued');
  assert.equal(admitted.length, CAPACITY, `immediate admissions: ${safeJson(replies.map((r) => r.data))}`);
  assert.equal(queued.length, 12 - CAPACITY, 'queued');
  for (const a of admitted) {
    assertEvent(a.reply, 'admitted');
    assert.equal(a.joinReply.jsep?.type, 'offer');
    assert.ok((a.reply.presenters || []).some((p) => p.id === pres.id), 'admitted lists the presenter');
  }
  for (const a of queued) {
    assertEvent(a.reply, 'queued');
    assert.equal(a.joinReply.jsep, null, 'a queued reply carries no JSEP');
    assert.equal(a.reply.tenant, 'wave');
    assert.equal(a.reply.room, 'r1');
    assert.ok(Number.isSafeInteger(a.id) && a.id > 0);
    assert.ok(Number.isInteger(a.reply.queue_length) && a.reply.queue_length >= a.reply.position && a.reply.queue_length <= 7,
      `queue_length: ${safeJson(a.reply)}`);
  }
  assert.deepEqual(queued.map((a) => a.reply.position).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7], 'queue positions');
  await waitCounts(janus, { admitted: CAPACITY, queued: 7 });
  const ri = await roomInfo(janus, 'wave', 'r1');
  assert.deepEqual(ri.queue.map((q) => q.position), [1, 2, 3, 4, 5, 6, 7], `room_info queue: ${safeJson(ri.queue)}`);
  const byPos = new Map(queued.map((a) => [a.reply.position, a]));
  assert.deepEqual(ri.queue.map((q) => q.id), [1, 2, 3, 4, 5, 6, 7].map((p) => byPos.get(p).id), 'room_info queue order = positions');

  // The first five get media, then leave together.
  await Promise.all(admitted.map((a) => a.waitMedia({ timeout: 45000 })));
  await Promise.all(admitted.map(async (a) => assertEvent((await a.h.request({ request: 'leave' })).data, 'left')));

  // Five seats free: the queue moves in waves of <= 2 until the node is full again (2+2+1), 2 stay queued.
  await waitFor(() => queued.filter(admittedAt).length === CAPACITY, { timeout: 30000, interval: 100, what: '5 queued attendees admitted' });
  await waitCounts(janus, { admitted: CAPACITY, queued: 2 });
  const waiting = queued.filter((a) => !admittedAt(a)).sort((x, y) => x.reply.position - y.reply.position);
  assert.deepEqual(waiting.map((a) => a.reply.position), [6, 7], 'the last two in the queue are still waiting');
  // Their positions were updated to 1 and 2, and room_info agrees.
  await waitFor(() => waiting.every((a, i) => a.h.eventsNamed('position').at(-1)?.data.position === i + 1),
    { what: `position events 1,2 for the waiting attendees (${safeJson(waiting.map((a) => a.h.eventsNamed('position').map((e) => e.data)))})` });
  const ri2 = await roomInfo(janus, 'wave', 'r1');
  assert.deepEqual(ri2.queue.map((q) => [q.id, q.position]), waiting.map((a, i) => [a.id, i + 1]), 'room_info queue after the waves');

  // The seated ones get media; two of them leave, and the last two are admitted.
  const seated = queued.filter(admittedAt);
  await Promise.all(seated.map((a) => a.waitMedia({ timeout: 45000 })));
  await Promise.all(seated.slice(0, 2).map(async (a) => assertEvent((await a.h.request({ request: 'leave' })).data, 'left')));
  await waitFor(() => queued.every(admittedAt), { timeout: 30000, interval: 100, what: 'every queued attendee admitted' });
  await Promise.all(waiting.map((a) => a.waitMedia({ timeout: 45000 })));
  await waitCounts(janus, { admitted: CAPACITY, queued: 0, active: CAPACITY });

  // Every admission carried an offer and was answered.
  for (const a of queued) {
    assert.equal(admittedAt(a).jsep?.type, 'offer', '`admitted` event carries a JSEP offer');
    await a.settled();
    assert.deepEqual(a.errors, []);
    assertEvent(a.starts[0].data, 'started');
  }

  // Waves: at most WAVE admissions within any half interval (generous: event delivery jitter).
  const times = queued.map((a) => admittedAt(a).at).sort((x, y) => x - y);
  t.diagnostic(`admitted events (ms after the first): ${times.map((x) => x - times[0]).join(', ')}`);
  for (let i = 0; i + WAVE < times.length; i++) {
    assert.ok(times[i + WAVE] - times[i] >= INTERVAL / 2,
      `more than ${WAVE} admissions within ${INTERVAL / 2} ms: ${safeJson(times.map((t) => t - times[0]))}`);
  }
  // Queue order: nobody is admitted clearly before someone ahead of it.
  const sorted = [...queued].sort((x, y) => x.reply.position - y.reply.position);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      assert.ok(admittedAt(sorted[i]).at <= admittedAt(sorted[j]).at + 300,
        `position ${sorted[i].reply.position} admitted after position ${sorted[j].reply.position}`);
    }
  }
  // Positions only went down for those who waited past the first wave.
  for (const a of sorted.slice(WAVE)) {
    const ps = a.h.eventsNamed('position').map((e) => e.data);
    assert.ok(ps.length >= 1, `attendee at position ${a.reply.position} got position events`);
    let prev = a.reply.position;
    for (const p of ps) {
      assert.ok(p.position < prev, `positions decrease: ${safeJson(ps)} from ${a.reply.position}`);
      assert.ok(p.queue_length >= p.position, `queue_length >= position: ${safeJson(p)}`);
      prev = p.position;
    }
  }
});
