// Fair admission (docs/admission.md): (a) two tenants with weights 3 and 1 share every wave 3:1
// while both queue; (b) with steady admissions queued attendees get known wait estimates and
// status reports how good they were; (c) the node's max_queued refuses a join with queue_full and
// keeps nothing; (d) a priority attendee is admitted before its tenant's ordinary attendees;
// (e) drain removes the queue, refuses joins with draining, and resume restores admission.
// Nobody answers offers here (plain handles): a long admit timeout keeps admitted seats held.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './lib/client.mjs';
import {
  ALLHANDS, Bag, assertError, assertEvent, assertSuccess, createRoomWith, createTenantWith, joinBody, nodeCounts,
  roomInfo, startJanus, status, waitCounts, waitFor, safeJson,
} from './lib/allhands.mjs';

let janus;
const bag = new Bag();

before(async () => {
  // Many queued handles share one Janus session here (handles() below): no per-session bound on them.
  janus = await startJanus('fair', { capacity: 8, wave_size: 4, wave_interval_ms: 700, admit_timeout_ms: 600000,
    max_queued_per_session: 0 });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

// n handles on one connection (one session): fewer sockets on a slow machine.
async function handles(n) {
  const client = await Client.connect(janus);
  bag.add(() => client.close());
  const out = [];
  for (let i = 0; i < n; i++) {
    const h = await client.attach(ALLHANDS);
    h.client = client;
    out.push(h);
  }
  out.client = client;
  return out;
}

async function join(h, body) {
  const r = await h.request(body);
  h.reply = r.data;
  h.pid = r.data.id; // (h.id is the Janus handle id)
  return r.data;
}

const isAdmitted = (h) => h.reply?.event === 'admitted' || h.eventsNamed('admitted').length > 0;
const admittedEvents = (hs) => hs.filter((h) => h.eventsNamed('admitted').length > 0);

async function leaveAll(hs) {
  for (const h of hs) {
    if (h.left) continue;
    const r = await h.request({ request: 'leave' });
    assertEvent(r.data, 'left', `leave ${h.pid}`);
    h.left = true;
  }
}

async function setCapacity(fields) {
  const r = await janus.admin({ request: 'set_capacity', ...fields });
  assertSuccess(r, `set_capacity ${safeJson(fields)}`);
  return r;
}

test('(a) weights 3 and 1 share the waves 3:1 while both tenants queue', async () => {
  await createTenantWith(janus, { tenant: 'w3', max_participants: 100, weight: 3 });
  await createTenantWith(janus, { tenant: 'w1', max_participants: 100, weight: 1 });
  await createRoomWith(janus, { tenant: 'w3', room: 'r', presenter_seats: 0 });
  await createRoomWith(janus, { tenant: 'w1', room: 'r', presenter_seats: 0 });
  const st = await status(janus);
  assert.equal(st.tenants.find((t) => t.tenant === 'w3')?.weight, 3, `status shows weight 3: ${safeJson(st.tenants)}`);

  // Pause so that everybody queues (16 per tenant), then let the waves run.
  assertSuccess(await janus.admin({ request: 'pause' }), 'pause node');
  const h3 = await handles(16);
  const h1 = await handles(16);
  for (const [i, h] of h3.entries()) assertEvent(await join(h, joinBody({ tenant: 'w3', room: 'r', display: `w3-${i}` })), 'queued', `w3-${i}`);
  for (const [i, h] of h1.entries()) assertEvent(await join(h, joinBody({ tenant: 'w1', room: 'r', display: `w1-${i}` })), 'queued', `w1-${i}`);
  // Positions are per room.
  assert.deepEqual(h3.map((h) => h.reply.position), [...Array(16).keys()].map((i) => i + 1), 'w3 positions');
  assert.deepEqual(h1.map((h) => h.reply.position), [...Array(16).keys()].map((i) => i + 1), 'w1 positions');
  assert.ok(h1.every((h) => h.reply.queue_length === h.reply.position && h.reply.wait && typeof h.reply.wait.known === 'boolean'),
    `queued replies carry the room's queue_length (the joiner is last) and wait: ${safeJson(h1.map((h) => h.reply))}`);
  await waitCounts(janus, { admitted: 0, queued: 32 });

  // Two rounds: resume, the node fills (8 seats, waves of 4); pause, everybody admitted leaves.
  const rounds = [];
  let before3 = 0;
  let before1 = 0;
  for (let round = 0; round < 2; round++) {
    assertSuccess(await janus.admin({ request: 'resume' }), 'resume node');
    await waitCounts(janus, { admitted: 8, queued: 32 - 8 * (round + 1) }, { timeout: 30000 });
    assertSuccess(await janus.admin({ request: 'pause' }), 'pause node');
    const a3 = admittedEvents(h3);
    const a1 = admittedEvents(h1);
    rounds.push({ w3: a3.length - before3, w1: a1.length - before1 });
    // Each tenant's own queue order is kept.
    assert.deepEqual(a3.map((h) => h.reply.position), [...Array(a3.length).keys()].map((i) => i + 1), 'w3 admitted in queue order');
    assert.deepEqual(a1.map((h) => h.reply.position), [...Array(a1.length).keys()].map((i) => i + 1), 'w1 admitted in queue order');
    // The waves as seen by the clients (events more than 300 ms apart start a new wave): diagnostic only.
    const times = [...a3.map((h) => ({ t: 'w3', at: h.eventsNamed('admitted')[0].at })), ...a1.map((h) => ({ t: 'w1', at: h.eventsNamed('admitted')[0].at }))]
      .sort((x, y) => x.at - y.at).slice(before3 + before1);
    const waves = [];
    for (const x of times) {
      if (!waves.length || x.at - waves.at(-1).last > 300) waves.push({ w3: 0, w1: 0, last: x.at });
      waves.at(-1)[x.t] += 1;
      waves.at(-1).last = x.at;
    }
    console.log(`# fair (a) round ${round + 1}: admitted w3=${rounds.at(-1).w3} w1=${rounds.at(-1).w1}; waves ${safeJson(waves.map((w) => [w.w3, w.w1]))}`);
    before3 = a3.length;
    before1 = a1.length;
    await leaveAll([...a3, ...a1]);
    await waitCounts(janus, { admitted: 0, queued: 32 - 8 * (round + 1) });
  }
  // Tolerance: each round of 8 admissions gives w3 6 +- 1 (3:1 is 6:2), and the whole period
  // (16 admissions, both tenants queued throughout) 12 +- 1 to w3.
  for (const [i, r] of rounds.entries()) {
    assert.equal(r.w3 + r.w1, 8, `round ${i + 1}: 8 admissions (${safeJson(rounds)})`);
    assert.ok(Math.abs(r.w3 - 6) <= 1, `round ${i + 1}: w3 gets 6 +- 1 of 8 (3:1): ${safeJson(rounds)}`);
  }
  const total3 = rounds.reduce((s, r) => s + r.w3, 0);
  assert.ok(Math.abs(total3 - 12) <= 1, `w3 gets 12 +- 1 of 16 overall: ${safeJson(rounds)}`);

  // Clean up: resume, close both connections (queued and seated go away).
  assertSuccess(await janus.admin({ request: 'resume' }), 'resume node');
  await h3.client.close();
  await h1.client.close();
  await waitCounts(janus, { admitted: 0, queued: 0 }, { timeout: 30000 });
});

test('(b) steady admissions: queued attendees get known wait estimates; status reports their error', async () => {
  await setCapacity({ capacity: 2, wave_size: 1, wave_interval_ms: 200, update_interval_ms: 300 });
  await createTenantWith(janus, { tenant: 'est', max_participants: 100 });
  await createRoomWith(janus, { tenant: 'est', room: 'r', presenter_seats: 0 });
  const hs = await handles(16);
  for (const [i, h] of hs.entries()) await join(h, joinBody({ tenant: 'est', room: 'r', display: `e${i}` }));
  assert.equal(hs.filter((h) => h.reply.event === 'admitted').length, 2, 'two admitted at once');
  assert.equal(hs.filter((h) => h.reply.event === 'queued').length, 14, '14 queued');
  for (const h of hs.filter((x) => x.reply.event === 'queued')) {
    assert.deepEqual(h.reply.wait, { known: false }, `no admissions yet: wait unknown (${safeJson(h.reply)})`);
  }

  // A seated attendee leaves every ~600 ms: the queue moves at a steady pace.
  const start = Date.now();
  while (hs.some((h) => !h.left)) {
    const seated = hs.find((h) => !h.left && isAdmitted(h));
    if (seated) await leaveAll([seated]);
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(Date.now() - start < 90000, 'the queue drained within 90 s');
  }
  await waitCounts(janus, { admitted: 0, queued: 0 });

  const positions = hs.flatMap((h) => h.eventsNamed('position').map((e) => e.data));
  const known = positions.filter((p) => p.wait?.known === true);
  console.log(`# fair (b) position events: ${positions.length}, with a known estimate: ${known.length}; e.g. ${safeJson(known.slice(0, 3))}`);
  assert.ok(known.length > 0, `some position events carry a known estimate: ${safeJson(positions)}`);
  for (const p of positions) {
    assert.ok(Number.isInteger(p.position) && p.position >= 1 && p.position <= p.queue_length, `position within the queue: ${safeJson(p)}`);
    if (p.wait?.known !== true) { assert.deepEqual(p.wait, { known: false }, `unknown wait: ${safeJson(p)}`); continue; }
    const { median_ms: m, low_ms: lo, high_ms: hi } = p.wait;
    assert.ok([m, lo, hi].every(Number.isInteger), `integers: ${safeJson(p)}`);
    assert.ok(lo >= 0 && lo <= m && m <= hi, `low <= median <= high: ${safeJson(p)}`);
    assert.ok(m > 0, `median > 0: ${safeJson(p)}`);
    // About one admission per 0.6 s: position p waits about 0.6 p s; allow a wide margin.
    assert.ok(m <= 20000 * p.position, `median is plausible for position ${p.position}: ${safeJson(p)}`);
  }
  const adm = (await status(janus)).node.admission;
  console.log(`# fair (b) node.admission: ${safeJson(adm)}`);
  assert.ok(adm.estimates > 0, `status counts attendees admitted with a known estimate: ${safeJson(adm)}`);
  assert.ok(typeof adm.estimate_error?.p50 === 'number' && Number.isFinite(adm.estimate_error.p50) && adm.estimate_error.p50 >= 0,
    `estimate_error.p50 is a finite number: ${safeJson(adm)}`);
  console.log(`# fair (b) observed estimate error p50=${adm.estimate_error.p50} p90=${adm.estimate_error.p90} over ${adm.estimates} estimates`);
  assert.ok(adm.admitted_total >= 16, `admitted_total: ${safeJson(adm)}`);
  assert.ok(adm.wait_ms.p50 > 0, `wait_ms measured: ${safeJson(adm)}`);
  await hs.client.close();
});

test('(c) node max_queued: a join beyond it gets queue_full with retry_after_ms, nothing kept', async () => {
  await setCapacity({ capacity: 1, max_queued: 1, wave_interval_ms: 300 });
  await createTenantWith(janus, { tenant: 'qf', max_participants: 100 });
  await createRoomWith(janus, { tenant: 'qf', room: 'r', presenter_seats: 0 });
  const [x1, x2, x3] = await handles(3);
  assertEvent(await join(x1, joinBody({ tenant: 'qf', room: 'r', display: 'x1' })), 'admitted', 'x1');
  assertEvent(await join(x2, joinBody({ tenant: 'qf', room: 'r', display: 'x2' })), 'queued', 'x2');
  const before = await nodeCounts(janus);
  assert.equal(before.queued, 1);
  const r = await x3.request(joinBody({ tenant: 'qf', room: 'r', display: 'x3' }));
  assertError(r.data, 624, 'queue_full', 'join beyond the node max_queued');
  assert.ok(Number.isInteger(r.data.retry_after_ms) && r.data.retry_after_ms > 0, `retry_after_ms > 0: ${safeJson(r.data)}`);
  assert.deepEqual(await nodeCounts(janus), before, 'counts unchanged after the refusal');
  const ri = await roomInfo(janus, 'qf', 'r');
  assert.deepEqual(ri.queue.map((q) => q.id), [x2.pid], `room queue unchanged: ${safeJson(ri.queue)}`);
  // The refused handle did not join: it may try again once there is room.
  await setCapacity({ max_queued: 0 });
  assertEvent(await join(x3, joinBody({ tenant: 'qf', room: 'r', display: 'x3' })), 'queued', 'x3 after lifting max_queued');
  await x1.client.close();
  await waitCounts(janus, { admitted: 0, queued: 0 });
});

test('(d) a priority attendee joining last is admitted before the tenant\'s ordinary attendees', async () => {
  await setCapacity({ capacity: 50, max_queued: 0, wave_interval_ms: 300 });
  await createTenantWith(janus, { tenant: 'pr', max_participants: 1 });
  await createRoomWith(janus, { tenant: 'pr', room: 'r', presenter_seats: 0, priority_secret: 'vip-priority' });
  const [s1, o1, o2, o3, vip, bad] = await handles(6);
  assertEvent(await join(s1, joinBody({ tenant: 'pr', room: 'r', display: 's1' })), 'admitted', 's1');
  for (const [i, h] of [o1, o2, o3].entries()) {
    const d = await join(h, joinBody({ tenant: 'pr', room: 'r', display: `o${i + 1}` }));
    assertEvent(d, 'queued', `o${i + 1}`);
    assert.equal(d.position, i + 1);
  }
  assertError((await bad.request({ ...joinBody({ tenant: 'pr', room: 'r' }), priority_secret: 'nope-priority' })).data, 613, 'wrong_secret', 'wrong priority_secret');
  const v = await join(vip, { ...joinBody({ tenant: 'pr', room: 'r', display: 'vip' }), priority_secret: 'vip-priority' });
  assertEvent(v, 'queued', 'vip');
  assert.equal(v.position, 1, `the priority attendee is first in its room's queue: ${safeJson(v)}`);
  assert.equal(v.queue_length, 4);
  const ri = await roomInfo(janus, 'pr', 'r');
  assert.deepEqual(ri.queue.map((q) => q.id), [vip.pid, o1.pid, o2.pid, o3.pid], `room queue: ${safeJson(ri.queue)}`);
  // The ordinary ones moved back a place.
  await waitFor(() => o1.eventsNamed('position').at(-1)?.data.position === 2, { timeout: 15000, what: `o1 told position 2 (${safeJson(o1.events.map((e) => e.data))})` });

  assertEvent((await s1.request({ request: 'leave' })).data, 'left');
  await vip.waitEvent('admitted', { timeout: 20000, what: 'vip admitted' });
  await waitCounts(janus, { admitted: 1, queued: 3 }, { tenant: 'pr' });
  for (const h of [o1, o2, o3]) assert.equal(h.eventsNamed('admitted').length, 0, 'ordinary attendees still queued');
  assertEvent((await vip.request({ request: 'leave' })).data, 'left');
  await o1.waitEvent('admitted', { timeout: 20000, what: 'o1 admitted next' });
  await waitCounts(janus, { admitted: 1, queued: 2 }, { tenant: 'pr' });
  assert.equal(o2.eventsNamed('admitted').length + o3.eventsNamed('admitted').length, 0);
  test.pr = { o1, o2, o3 };
});

test('(e) drain: queued attendees are removed, joins get draining 625, resume restores', async () => {
  const { o1, o2, o3 } = test.pr;
  const d = await janus.admin({ request: 'drain' });
  assertSuccess(d, 'drain');
  assert.equal(d.node?.admission?.draining, true, `drain reply shows draining: ${safeJson(d.node?.admission)}`);
  for (const h of [o2, o3]) {
    const ev = await h.waitEvent('removed', { timeout: 15000, what: 'removed by drain' });
    assert.equal(ev.data.reason, 'draining', safeJson(ev.data));
  }
  // Seated attendees stay.
  await waitCounts(janus, { admitted: 1, queued: 0 }, { tenant: 'pr' });
  assert.equal(o1.eventsNamed('removed').length, 0, 'the seated attendee is not removed');
  const [n1, n2] = await handles(2);
  const r = await n1.request(joinBody({ tenant: 'pr', room: 'r', display: 'n1' }));
  assertError(r.data, 625, 'draining', 'join while draining');
  assert.equal(r.data.retry_elsewhere, true, safeJson(r.data));
  assert.equal((await status(janus)).node.admission.draining, true);

  const res = await janus.admin({ request: 'resume' });
  assertSuccess(res, 'resume');
  assert.equal(res.node?.admission?.draining, false, `resume ends draining: ${safeJson(res.node?.admission)}`);
  assert.equal(res.node?.admission?.paused, false);
  // The tenant is full (max_participants 1): a join queues again; elsewhere one is admitted.
  assertEvent(await join(n1, joinBody({ tenant: 'pr', room: 'r', display: 'n1' })), 'queued', 'join after resume');
  assertEvent(await join(n2, joinBody({ tenant: 'qf', room: 'r', display: 'n2' })), 'admitted', 'join elsewhere after resume');
  assertEvent((await o1.request({ request: 'leave' })).data, 'left');
  await n1.waitEvent('admitted', { timeout: 20000, what: 'n1 admitted after resume' });
});
