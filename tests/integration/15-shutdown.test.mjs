// Janus is stopped (SIGTERM) while media flows, attendees are queued and requests are in flight: the
// plugin must let it exit cleanly (no crash, no hang: Janus does not detach handles at shutdown and
// its threads keep calling the plugin while it is destroyed), and start again with its state.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, createRoom, createTenant, handle, joinBody, startJanus, admin, safeJson,
} from './lib/allhands.mjs';
import { WeriftAttendee, WeriftPresenter, startLocalStun, stopLocalStun } from './lib/werift-peers.mjs';
import { waitFor } from './lib/util.mjs';

let janus;
const bag = new Bag();

before(async () => {
  await startLocalStun();
  janus = await startJanus('shutdown', { capacity: 4, wave_size: 2, wave_interval_ms: 200, admit_timeout_ms: 20000 });
  await createTenant(janus, { tenant: 's', max_participants: 100 });
  await createRoom(janus, { tenant: 's', room: 'r', max_attendees: 50, presenter_secret: 'p-presenter' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
  stopLocalStun();
});

// A presenter publishing and 6 attendees (4 watching, 2 queued).
async function busyRoom(tag) {
  const h = await handle(janus, bag);
  const p = new WeriftPresenter(h, { label: `p${tag}`, video: 'vp8' });
  bag.add(() => p.close());
  assertEvent((await h.request(joinBody({ tenant: 's', room: 'r', ptype: 'presenter', presenter_secret: 'p-presenter' }))).data, 'joined');
  assertEvent((await p.publish({ video: 'vp8' })).data, 'published');
  const attendees = [];
  for (let i = 0; i < 6; i += 1) {
    const ah = await handle(janus, bag);
    const a = new WeriftAttendee(ah, { label: `a${tag}-${i}` });
    bag.add(() => a.close());
    a.h = ah;
    await a.join(joinBody({ tenant: 's', room: 'r', display: a.label }));
    attendees.push(a);
  }
  const epoch = p.epochs.video;
  await waitFor(() => attendees.filter((a) => a.packets.some((x) => x.src && x.src.epoch === epoch)).length >= 4,
    { timeout: 30000, what: '4 attendees receiving video' });
  return attendees;
}

async function stopWhileBusy(attendees) {
  const inflight = [
    ...attendees.map((a) => a.h.request({ request: 'leave' }, undefined, { timeout: 5000 }).catch(() => null)),
    admin(janus, { request: 'status' }).catch(() => null),
  ];
  const exit = await janus.stop();
  await Promise.all(inflight);
  assert.equal(exit.forced, undefined, `Janus exited on SIGTERM by itself: ${safeJson(exit)}`);
  assert.equal(exit.signal, null, `Janus was not killed by a signal: ${safeJson(exit)} (log: ${janus.logFile})`);
  assert.equal(exit.code, 0, `Janus exit code: ${safeJson(exit)}`);
  await bag.closeAll();
}

test('SIGTERM with media flowing and requests in flight: clean exit, twice, state kept', async () => {
  await stopWhileBusy(await busyRoom(1));
  await janus.start({ timeout: 60000 });
  const rooms = await admin(janus, { request: 'list_rooms' });
  assert.deepEqual(rooms.rooms.map((r) => `${r.tenant}/${r.room}`), ['s/r'], safeJson(rooms));
  await stopWhileBusy(await busyRoom(2));
});
