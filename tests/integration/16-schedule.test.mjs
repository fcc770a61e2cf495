// Scheduled rooms in a real Janus (issue 3): a room scheduled a few seconds ahead. Attendees joining
// in the lobby are pre-queued with the start time; a presenter publishes backstage and attendees get
// no media until go-live; at go-live the pre-queue is admitted in waves and receives media; a
// warning before the end; at the end everyone gets `ended` and the node's counts return to zero.
// A room outside its window refuses joins with the next start time. Issue 12: a tenant's schedule
// that used to hold the control thread for 40 s is refused at once, and another tenant's join gets
// its reply meanwhile.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, assertError, assertSuccess, attendee, createRoom, createTenant, handle, joinBody, presenter, startJanus,
  waitCounts, safeJson,
} from './lib/allhands.mjs';

let janus;
const bag = new Bag();
const nowS = () => Math.floor(Date.now() / 1000);

before(async () => {
  janus = await startJanus('schedule', { capacity: 20, wave_size: 2, wave_interval_ms: 500, admit_timeout_ms: 20000 });
  await createTenant(janus, { tenant: 'sc', max_participants: 50 });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

test('outside its window a room refuses joins and says when it opens', async () => {
  const start = nowS() + 86400;
  assertSuccess(await janus.admin({
    request: 'create_room', tenant: 'sc', room: 'tomorrow', max_attendees: 10, presenter_secret: 'p-presenter',
    schedule: { start, duration_s: 1800 }, lobby_minutes: 10,
  }), 'create_room tomorrow');
  const a = await attendee(janus, bag);
  const r = await a.join(joinBody({ tenant: 'sc', room: 'tomorrow' }));
  assertError(r.data, 623, 'room_closed', 'join before the lobby');
  assert.equal(r.data.next_start, start, safeJson(r.data));
  const occ = await janus.admin({ request: 'occurrences', tenant: 'sc', room: 'tomorrow', count: 3 });
  assertSuccess(occ, 'occurrences');
  assert.deepEqual(occ.occurrences.map((o) => [o.start, o.end]), [[start, start + 1800]], safeJson(occ));
});

test('lobby, backstage, go-live in waves, warning, end', async () => {
  const start = nowS() + 12;
  const end = start + 12;
  assertSuccess(await janus.admin({
    request: 'create_room', tenant: 'sc', room: 'live', max_attendees: 10, presenter_secret: 'p-presenter',
    schedule: { start, end }, lobby_minutes: 1, ending_warning_s: 5, grace_s: 2,
  }), 'create_room live');
  const info = await janus.admin({ request: 'room_info', tenant: 'sc', room: 'live' });
  assert.equal(info.room.state, 'lobby', safeJson(info.room));

  // Backstage: the presenter publishes in the lobby.
  const pres = await presenter(janus, bag, { tenant: 'sc', room: 'live', presenter_secret: 'p-presenter' });
  // Early attendees are pre-queued with the start time.
  const early = [];
  for (let i = 0; i < 5; i += 1) {
    const a = await attendee(janus, bag);
    const r = await a.join(joinBody({ tenant: 'sc', room: 'live', display: `early-${i}` }));
    assertEvent(r.data, 'queued', `early-${i}`);
    assert.equal(r.data.state, 'lobby');
    assert.equal(r.data.starts_at, start);
    early.push(a);
  }
  await waitCounts(janus, { admitted: 0, queued: 5 }, { tenant: 'sc' });
  assert.ok(nowS() < start, 'still before the start');
  for (const a of early) assert.equal(a.h.eventsNamed('admitted').length, 0, 'nobody admitted in the lobby');

  // Go-live: room_state live to everyone, the pre-queue admitted in waves of 2, media flows.
  for (const a of early) {
    const ev = await a.h.waitEvent((e) => e.data.event === 'room_state' && e.data.state === 'live', { timeout: 30000, what: 'live' });
    assert.ok(ev.at / 1000 >= start - 1, 'live not before the start');
  }
  for (const a of early) {
    await a.h.waitEvent('admitted', { timeout: 30000, what: 'admitted after go-live' });
    await a.waitMedia({ timeout: 30000 });
  }
  await pres.h.waitEvent((e) => e.data.event === 'room_state' && e.data.state === 'live', { timeout: 5000, what: 'presenter told live' });

  // Warning, then the end.
  await early[0].h.waitEvent((e) => e.data.event === 'room_state' && e.data.state === 'ending', { timeout: 30000, what: 'ending warning' });
  for (const a of early) await a.h.waitEvent('ended', { timeout: 30000, what: 'ended' });
  await pres.h.waitEvent('ended', { timeout: 10000, what: 'presenter told ended' });
  await waitCounts(janus, { active: 0, connecting: 0, queued: 0, presenters: 0 }, { tenant: 'sc' });
  const after = await janus.admin({ request: 'room_info', tenant: 'sc', room: 'live' });
  assert.equal(after.room.state, 'closed', safeJson(after.room));
});

test('backstage: a monitor sees and hears the presenters in the lobby, attendees get nothing', async () => {
  const start = nowS() + 45;
  assertSuccess(await janus.admin({
    request: 'create_room', tenant: 'sc', room: 'stage', max_attendees: 10, presenter_secret: 'p-presenter',
    schedule: { start, duration_s: 600 }, lobby_minutes: 1,
  }), 'create_room stage');
  const info = await janus.admin({ request: 'room_info', tenant: 'sc', room: 'stage' });
  assert.equal(info.room.state, 'lobby', safeJson(info.room));

  // Two pre-queued attendees, then two presenters publishing backstage.
  const early = [];
  for (let i = 0; i < 2; i += 1) {
    const a = await attendee(janus, bag);
    assertEvent((await a.join(joinBody({ tenant: 'sc', room: 'stage', display: `stage-early-${i}` }))).data, 'queued', `early-${i}`);
    early.push(a);
  }
  const first = await presenter(janus, bag, { tenant: 'sc', room: 'stage', presenter_secret: 'p-presenter', display: 'first' });
  const second = await presenter(janus, bag, { tenant: 'sc', room: 'stage', presenter_secret: 'p-presenter', display: 'second' });

  // A wrong secret is refused like a presenter's.
  const wrong = await attendee(janus, bag);
  assertError((await wrong.join(joinBody({ tenant: 'sc', room: 'stage', ptype: 'backstage', presenter_secret: 'x-presenter' }))).data,
    613, 'wrong_secret', 'backstage with a wrong secret');

  // The second presenter's monitor: admitted at once with both presenters' streams, media flows.
  const monitor = await attendee(janus, bag);
  const r = await monitor.join(joinBody({ tenant: 'sc', room: 'stage', ptype: 'backstage', presenter_secret: 'p-presenter', display: 'second-monitor' }));
  assertEvent(r.data, 'admitted', 'backstage join');
  assert.equal(r.jsep?.type, 'offer', `backstage join carries an offer: ${safeJson(r)}`);
  assert.ok(r.data.presenters.some((p) => p.id === first.id), `first presenter offered: ${safeJson(r.data)}`);
  await monitor.waitMedia({ audioStreams: 2, videoStreams: 2, timeout: 30000 });
  assert.ok(nowS() < start, 'still in the lobby');
  for (const a of early) {
    assert.equal(a.h.eventsNamed('admitted').length, 0, 'nobody admitted in the lobby');
    assert.equal(a.pc, null, 'no PeerConnection for a pre-queued attendee');
  }
  const during = await janus.admin({ request: 'room_info', tenant: 'sc', room: 'stage' });
  assert.equal(during.room.state, 'lobby', safeJson(during.room));
  assert.deepEqual(during.room.backstage.map((b) => b.display), ['second-monitor'], safeJson(during.room));
  assert.equal(during.room.counts.backstage, 1, safeJson(during.room.counts));
  assert.equal(during.room.counts.presenters, 2, safeJson(during.room.counts));
  assert.equal(during.room.counts.queued, 2, safeJson(during.room.counts));

  // The window ends (now): the monitor is ended like the presenters, every seat is free.
  assertSuccess(await janus.admin({ request: 'end_now', tenant: 'sc', room: 'stage' }), 'end_now');
  await monitor.h.waitEvent('ended', { timeout: 10000, what: 'monitor ended' });
  await first.h.waitEvent('ended', { timeout: 10000, what: 'presenter ended' });
  await second.h.waitEvent('ended', { timeout: 10000, what: 'presenter ended' });
  await waitCounts(janus, { active: 0, connecting: 0, queued: 0, presenters: 0, backstage: 0 }, { tenant: 'sc' });
});

test('issue 12: the 2.4 KB schedule reproduction is refused at once, another tenant still joins', async () => {
  const { secret } = await createTenant(janus, { tenant: 'slow', max_participants: 10 });
  await createRoom(janus, { tenant: 'sc', room: 'open', max_attendees: 10, presenter_secret: 'presenter' });
  const th = await handle(janus, bag);
  const body = {
    request: 'create_room', tenant: 'slow', tenant_secret: secret, room: 'r', max_attendees: 10, presenter_secret: 'presenter',
    schedule: {
      dtstart: '1970-01-01T00:00:00', tzid: 'UTC', duration_s: 60, rrule: 'FREQ=HOURLY;COUNT=1000000000',
      exdates: Array(100).fill('2000-01-01T00:00:01'),
    },
  };
  assert.ok(JSON.stringify(body).length > 2300, 'the reproduction is 2.4 KB');
  // Sent together: the other tenant's join is answered however the create goes (it waited 39 s).
  const a = await attendee(janus, bag);
  const [created, joined] = await Promise.all([
    th.request(body, undefined, { timeout: 60000 }),
    a.join(joinBody({ tenant: 'sc', room: 'open', display: 'other-tenant' })),
  ]);
  assertError(created.data, 621, 'invalid_schedule', 'the reproduction');
  assert.match(created.data.error, /COUNT is at most 1000/, safeJson(created.data));
  assert.ok(['admitted', 'queued'].includes(joined.data.event), `join answered: ${safeJson(joined.data)}`);
  // The rules that cost seconds each are refused as cheaply, with what is wrong.
  for (const [rrule, why] of [
    ['FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO', /no window within 62 days/],
    ['FREQ=MONTHLY;BYDAY=-53MO', /BYDAY position/],
  ]) {
    const r = await th.request({ ...body, schedule: { dtstart: '2026-01-05T09:00:00', tzid: 'UTC', duration_s: 60, rrule } });
    assertError(r.data, 621, 'invalid_schedule', rrule);
    assert.match(r.data.error, why, safeJson(r.data));
  }
  const rooms = await janus.admin({ request: 'list_rooms', tenant: 'slow' });
  assertSuccess(rooms, 'list_rooms');
  assert.deepEqual(rooms.rooms, [], safeJson(rooms));
  // The other tenant's attendee leaves: the next test wants every seat.
  assertEvent((await a.h.request({ request: 'leave' })).data, 'left', 'other-tenant leaves');
  await waitCounts(janus, { admitted: 0, connecting: 0, queued: 0 }, { tenant: 'sc' });
});

// Issue 12: rooms ending in the same tick while the node is full. Capacity 2; ta's room holds both
// seats, tb's room has one attendee queued; both windows end together (grace 0). The seats freed by
// ta's end must not go to tb's queue: its attendee gets `removed` (ended), never `admitted` (before,
// it was admitted without a usable offer, then ended).
test('rooms ending together on a full node: the freed seats are not handed to a room that ends too', async () => {
  assertSuccess(await janus.admin({ request: 'set_capacity', capacity: 2 }), 'set_capacity');
  const start = nowS() + 6;
  const end = start + 14;
  for (const tenant of ['ta', 'tb']) {
    await createTenant(janus, { tenant, max_participants: 10 });
    assertSuccess(await janus.admin({
      request: 'create_room', tenant, room: 'r', max_attendees: 10, presenter_secret: 'p-presenter',
      schedule: { start, end }, lobby_minutes: 1, ending_warning_s: 0, grace_s: 0,
    }), `create_room ${tenant}`);
  }
  await waitCounts(janus, { queued: 0 });
  // Live: ta's two attendees take both seats, tb's one queues.
  const seated = [];
  for (let i = 0; i < 2; i += 1) {
    const a = await attendee(janus, bag);
    const r = await a.join(joinBody({ tenant: 'ta', room: 'r', display: `ta-${i}` }));
    if (r.data.event === 'queued') await a.h.waitEvent('admitted', { timeout: 30000, what: `ta-${i} admitted at go-live` });
    else assertEvent(r.data, 'admitted', `ta-${i}`);
    seated.push(a);
  }
  // Their PeerConnections up (no presenter: no media, but the seats are active).
  await waitCounts(janus, { active: 2 }, { tenant: 'ta', timeout: 30000 });
  const q = await attendee(janus, bag);
  const rq = await q.join(joinBody({ tenant: 'tb', room: 'r', display: 'tb-0' }));
  assertEvent(rq.data, 'queued', 'tb-0');
  assert.ok(nowS() < end - 2, 'still well before the end');
  await waitCounts(janus, { admitted: 2, queued: 1 });
  // The end of both windows.
  for (const a of seated) await a.h.waitEvent('ended', { timeout: 40000, what: 'ta attendee ended' });
  const removed = await q.h.waitEvent('removed', { timeout: 10000, what: 'tb-0 removed at the end' });
  assert.equal(removed.data.reason, 'ended', safeJson(removed.data));
  assert.equal(q.h.eventsNamed('admitted').length, 0, `tb-0 never admitted: ${safeJson(q.h.events.map((e) => e.data))}`);
  assert.equal(q.h.eventsNamed('ended').length, 0, 'tb-0 was never seated, so not ended');
  await waitCounts(janus, { active: 0, connecting: 0, queued: 0 });
});
