// Leaving and joining again on the same handle, at once, many times: every join is answered, every
// offer reaches the client and sets up a PeerConnection that carries media. close_pc is
// asynchronous in Janus, so the plugin must hold the new offer back until the old PeerConnection
// is gone (plugin/glue/control.c, "held signalling"); without that, offers were refused or the new
// PeerConnection was torn down with the old one.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, attendee, createRoom, createTenant, joinBody, presenter, startJanus, waitCounts,
} from './lib/allhands.mjs';
import { withTimeout } from './lib/util.mjs';

const ROUNDS = 6;
let janus;
const bag = new Bag();

before(async () => {
  janus = await startJanus('rejoin', { capacity: 5, wave_size: 5, wave_interval_ms: 100, admit_timeout_ms: 15000 });
  await createTenant(janus, { tenant: 'rj', max_participants: 10 });
  await createRoom(janus, { tenant: 'rj', room: 'r', presenter_secret: 'p-presenter' });
  await presenter(janus, bag, { tenant: 'rj', room: 'r', presenter_secret: 'p-presenter' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

test('leave and join again at once, before answering the offer: the next offer sets up a working PeerConnection', async () => {
  const a = await attendee(janus, bag, { autoStart: false });
  for (let i = 0; i < ROUNDS; i += 1) {
    const r = await withTimeout(a.join(joinBody({ tenant: 'rj', room: 'r', display: `quick-${i}` })), 10000, `join #${i}`);
    assertEvent(r.data, 'admitted', `join #${i}`);
    assert.equal(r.jsep?.type, 'offer', `join #${i} carries an offer`);
    const left = await withTimeout(a.h.request({ request: 'leave' }), 10000, `leave #${i}`);
    assertEvent(left.data, 'left', `leave #${i}`);
  }
  // The last of these joins is answered and must carry media.
  const r = await withTimeout(a.join(joinBody({ tenant: 'rj', room: 'r', display: 'quick-last' })), 10000, 'last join');
  assertEvent(r.data, 'admitted', 'last join');
  const started = await a.answer(r.jsep, 'admitted');
  assertEvent(started.data, 'started', 'start after the quick rejoins');
  await a.waitMedia({ timeout: 30000 });
  const left = await a.h.request({ request: 'leave' });
  assertEvent(left.data, 'left', 'last leave');
  a.dropPc();
  await waitCounts(janus, { admitted: 0, queued: 0 }, { tenant: 'rj' });
});

test('leave and join again at once while watching: each new PeerConnection carries media', async () => {
  const a = await attendee(janus, bag, { autoStart: false });
  for (let i = 0; i < ROUNDS / 2; i += 1) {
    const r = await withTimeout(a.join(joinBody({ tenant: 'rj', room: 'r', display: `watch-${i}` })), 10000, `join #${i}`);
    assertEvent(r.data, 'admitted', `join #${i}`);
    const started = await a.answer(r.jsep, 'admitted');
    assertEvent(started.data, 'started', `start #${i}`);
    await a.waitMedia({ timeout: 30000 });
    const left = await withTimeout(a.h.request({ request: 'leave' }), 10000, `leave #${i}`);
    assertEvent(left.data, 'left', `leave #${i}`);
    a.dropPc();
  }
  await waitCounts(janus, { admitted: 0, queued: 0 }, { tenant: 'rj' });
});
