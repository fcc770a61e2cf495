// Honest waits on a full node (issue 12, section 5): capacity 4, a presenter, 4 attendees seated and
// 10 queued; then the seated leave at a steady pace (one every 3 s, whoever has been seated longest).
// Every wait a queued attendee is told (join reply, `position` events) is checked against when it was
// actually admitted: the announced ranges hold the actual wait most of the time (generous bound: real
// Janus, real clients, event delivery jitter), no told estimate grows x2 within 6 s (they grew about
// x6 every 5 s), and everyone waiting knows its wait once two seats have turned over.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, attendee, createRoom, createTenant, joinBody, presenter, startJanus, waitCounts, waitFor, safeJson,
} from './lib/allhands.mjs';
import { sleep } from './lib/util.mjs';

const CAPACITY = 4;
const QUEUED = 10;
const LEAVE_EVERY_MS = 3000;
let janus;
const bag = new Bag();

before(async () => {
  janus = await startJanus('waitranges', {
    capacity: CAPACITY, wave_size: 4, wave_interval_ms: 200, admit_timeout_ms: 30000, update_interval_ms: 500,
  });
  await createTenant(janus, { tenant: 'w', max_participants: 100 });
  await createRoom(janus, { tenant: 'w', room: 'r', max_attendees: 100, presenter_secret: 'p-presenter' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

const admittedEvent = (a) => a.h.events.find((e) => e.data.event === 'admitted');

// The waits an attendee was told, with when: its join reply, then its `position` events.
function toldWaits(a) {
  const told = [{ at: a.joinedAt, wait: a.reply.wait }];
  for (const e of a.h.eventsNamed('position')) told.push({ at: e.at, wait: e.data.wait });
  return told.filter((x) => x.wait);
}

test('a full node with steady departures: the announced ranges hold the actual waits', async (t) => {
  await presenter(janus, bag, { tenant: 'w', room: 'r', presenter_secret: 'p-presenter', display: 'host' });
  const seated = [];
  for (let i = 0; i < CAPACITY; i++) {
    const a = await attendee(janus, bag);
    const r = await a.join(joinBody({ tenant: 'w', room: 'r', display: `seat${i}` }));
    assertEvent(r.data, 'admitted');
    seated.push(a);
  }
  await Promise.all(seated.map((a) => a.waitMedia({ timeout: 45000 })));
  const queued = [];
  for (let i = 0; i < QUEUED; i++) {
    const a = await attendee(janus, bag);
    const r = await a.join(joinBody({ tenant: 'w', room: 'r', display: `q${i}` }));
    assertEvent(r.data, 'queued');
    a.reply = r.data;
    a.joinedAt = r.at;
    queued.push(a);
  }
  await waitCounts(janus, { admitted: CAPACITY, queued: QUEUED });

  // Steady departures: the longest-seated leaves every LEAVE_EVERY_MS, until everyone queued got in.
  const order = [...seated];
  const inOrder = new Set(order);
  const deadline = Date.now() + (QUEUED + CAPACITY + 10) * LEAVE_EVERY_MS;
  while (!queued.every(admittedEvent) && Date.now() < deadline) {
    await sleep(LEAVE_EVERY_MS);
    for (const a of queued) if (admittedEvent(a) && !inOrder.has(a)) { order.push(a); inOrder.add(a); }
    const next = order.shift();
    if (next) assertEvent((await next.h.request({ request: 'leave' })).data, 'left');
  }
  assert.ok(queued.every(admittedEvent), 'every queued attendee was admitted');

  let told = 0; let known = 0; let held = 0; let sharp = 0; let firstKnown = 0; let firstHeld = 0; let grew = 0;
  const misses = [];
  for (const a of queued) {
    const admittedAt = admittedEvent(a).at;
    const waits = toldWaits(a);
    let first = true;
    let prev = null;
    for (const { at, wait } of waits) {
      told++;
      if (!wait.known) continue;
      known++;
      assert.ok(wait.low_ms <= wait.median_ms && wait.median_ms <= wait.high_ms, `ordered: ${safeJson(wait)}`);
      // The actual wait from when it was told; 300 ms slack for the waves and event delivery.
      const actual = admittedAt - at;
      const ok = actual >= wait.low_ms - 300 && actual <= wait.high_ms + 300;
      held += ok ? 1 : 0;
      // ...and not merely wide: the median within a factor 3 of the actual wait (2 s slack).
      sharp += wait.median_ms <= 3 * actual + 2000 && 3 * wait.median_ms + 2000 >= actual ? 1 : 0;
      if (!ok) misses.push({ actual, ...wait });
      if (first) { firstKnown++; firstHeld += ok ? 1 : 0; first = false; }
      if (prev && at - prev.at <= 6000 && wait.median_ms > 2 * prev.wait.median_ms + 1000) grew++;
      prev = { at, wait };
    }
  }
  t.diagnostic(`waits told: ${told}, known: ${known}, in range: ${held} (${Math.round((100 * held) / Math.max(known, 1))}%), median within x3: ${sharp}; `
    + `first known: ${firstKnown}, in range: ${firstHeld}; grew x2: ${grew}; misses: ${safeJson(misses.slice(0, 5))}`);
  assert.ok(known >= QUEUED, `known estimates told: ${known}`);
  assert.equal(grew, 0, 'no told estimate grew x2 within 6 s');
  assert.ok(held / known >= 0.6, `ranges held the actual wait ${held}/${known} times`);
  assert.ok(sharp / known >= 0.6, `medians within x3 of the actual wait ${sharp}/${known} times`);
  // After two departures every queued attendee is told a known wait (the last ones at least).
  const late = queued.filter((a) => a.reply.position >= 3);
  for (const a of late) {
    assert.ok(toldWaits(a).some(({ wait }) => wait.known), `attendee at ${a.reply.position} learnt its wait`);
  }
  await waitFor(() => queued.every((a) => a.starts.length > 0), { timeout: 30000, what: 'every admitted attendee answered' });
});
