// Rejoin grace (docs/api.md, issue 4): with rejoin_grace_s 5 an admitted attendee gets a
// rejoin_token; when its PeerConnection goes down its seat is held (counts.rejoining) and a queued
// attendee does not get it; a join with the token takes the seat back at once ("rejoined": true)
// and media flows again. A drop without a rejoin frees the seat for the queue when the grace ends.
// A wrong (or expired) token gets "rejoined": false and queues like any join. The whole admission
// history (lib/history.mjs: held seats, rejoins passing them on) never holds more than the node's one
// seat at any event.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, attendee, createRoom, createTenant, joinBody, presenter, roomInfo, startJanus,
  waitCounts, safeJson,
} from './lib/allhands.mjs';
import { EventCollector, checkHistory } from './lib/history.mjs';

const GRACE_S = 5;
let janus;
const bag = new Bag();
const history = new EventCollector();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  // The node has exactly one attendee seat.
  await history.start();
  janus = await startJanus('rejoin-grace', {
    capacity: 1, wave_size: 1, wave_interval_ms: 300, admit_timeout_ms: 30000, rejoin_grace_s: GRACE_S, events: true,
  }, { eventsBackend: history.url });
  await createTenant(janus, { tenant: 'rg', max_participants: 20 });
  await createRoom(janus, { tenant: 'rg', room: 'r', presenter_secret: 'p-presenter' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
  await history.stop();
});

const body = (display, extra = {}) => ({ ...joinBody({ tenant: 'rg', room: 'r', display }), ...extra });

test('a dropped attendee keeps its seat for the grace and takes it back with its token', async () => {
  const pres = await presenter(janus, bag, { tenant: 'rg', room: 'r', presenter_secret: 'p-presenter', display: 'host' });
  const a1 = await attendee(janus, bag);
  const r1 = (await a1.join(body('a1'))).data;
  assertEvent(r1, 'admitted', 'a1');
  assert.equal(typeof r1.rejoin_token, 'string', `admitted carries a rejoin_token: ${safeJson(r1)}`);
  assert.ok(r1.rejoin_token.length >= 16, `rejoin_token is long enough not to be guessed: ${safeJson(r1)}`);
  assert.equal(r1.rejoin_grace_s, GRACE_S, `admitted carries rejoin_grace_s: ${safeJson(r1)}`);
  await a1.waitMedia({ timeout: 45000 });
  await waitCounts(janus, { active: 1, queued: 0, rejoining: 0 });

  // q queues behind the only seat.
  const q = await attendee(janus, bag);
  const rq = (await q.join(body('q'))).data;
  assertEvent(rq, 'queued', 'q');
  assert.equal(rq.position, 1);

  // a1's PeerConnection goes down: the seat is held, q stays queued.
  a1.dropPc();
  const left = await a1.h.waitEvent('left', { timeout: 20000, what: 'a1 left after hangup' });
  assert.equal(left.data.reason, 'hangup', safeJson(left.data));
  await waitCounts(janus, { admitted: 0, rejoining: 1, queued: 1 }, { timeout: 20000 });
  const ri = await roomInfo(janus, 'rg', 'r');
  assert.equal(ri.counts.rejoining, 1, `room counts: ${safeJson(ri.counts)}`);
  await sleep(1500); // several wave intervals: nobody may take the held seat
  assert.equal(q.h.eventsNamed('admitted').length, 0, `q is not admitted into the held seat: ${safeJson(q.h.events.map((e) => e.data))}`);
  await waitCounts(janus, { rejoining: 1, queued: 1 });

  // Rejoin with a new handle and the token: admitted at once although q is queued.
  const a2 = await attendee(janus, bag);
  const r2 = (await a2.join(body('a1 again', { rejoin_token: r1.rejoin_token }))).data;
  assertEvent(r2, 'admitted', 'rejoin with the token');
  assert.equal(r2.rejoined, true, safeJson(r2));
  assert.ok((r2.presenters || []).some((p) => p.id === pres.id), `the presenter is offered: ${safeJson(r2)}`);
  assert.equal(typeof r2.rejoin_token, 'string', `a new token for the new seat holder: ${safeJson(r2)}`);
  assert.notEqual(r2.rejoin_token, r1.rejoin_token, 'the token is not reused');
  await a2.waitMedia({ timeout: 45000 });
  await waitCounts(janus, { active: 1, rejoining: 0, queued: 1 });
  assert.equal(q.h.eventsNamed('admitted').length, 0, 'q still queued');

  // The old token was used up: presenting it again is a plain join (queued, rejoined false).
  const again = await attendee(janus, bag);
  const ra = (await again.join(body('replay', { rejoin_token: r1.rejoin_token }))).data;
  assertEvent(ra, 'queued', 'a used token');
  assert.equal(ra.rejoined, false, safeJson(ra));
  assert.equal(ra.position, 2, `queued behind q: ${safeJson(ra)}`);
  assertEvent((await again.h.request({ request: 'leave' })).data, 'left');
  await waitCounts(janus, { active: 1, rejoining: 0, queued: 1 });

  // Second drop, no rejoin (the handle is detached): after the grace the seat goes to q.
  const dropped = Date.now();
  await a2.h.detach();
  await waitCounts(janus, { admitted: 0, rejoining: 1, queued: 1 }, { timeout: 20000 });
  await q.h.waitEvent('admitted', { timeout: GRACE_S * 1000 + 20000, what: 'q admitted when the grace ended' });
  const waited = Date.now() - dropped;
  console.log(`# rejoin-grace: q admitted ${waited} ms after the drop (grace ${GRACE_S} s)`);
  assert.ok(waited >= (GRACE_S - 1.5) * 1000, `the seat was held for about the grace (${waited} ms)`);
  await q.waitMedia({ timeout: 45000 });
  await waitCounts(janus, { active: 1, rejoining: 0, queued: 0 });

  // The expired token: rejoined false, queued normally (the node is full).
  const late = await attendee(janus, bag);
  const rl = (await late.join(body('late', { rejoin_token: r2.rejoin_token }))).data;
  assertEvent(rl, 'queued', 'an expired token');
  assert.equal(rl.rejoined, false, safeJson(rl));
  assert.equal(rl.position, 1);
  // A wrong token likewise.
  const wrong = await attendee(janus, bag);
  const rw = (await wrong.join(body('wrong', { rejoin_token: '0123456789abcdef0123456789abcdef' }))).data;
  assertEvent(rw, 'queued', 'a wrong token');
  assert.equal(rw.rejoined, false, safeJson(rw));
  assert.equal(rw.position, 2);
  await waitCounts(janus, { active: 1, rejoining: 0, queued: 2 });
});

test('the admission history of these tests never holds more than the node\'s one seat', async () => {
  // The event handler posts asynchronously (and late under load): wait for the two held seats' events
  // and the end of the grace, then for the stream to go quiet.
  const seen = (pred) => history.events.some(pred);
  for (let t = Date.now(); Date.now() - t < 15000;) {
    if (history.events.filter((e) => e.data.event === 'rejoining').length >= 2 &&
        seen((e) => e.data.event === 'left' && e.data.reason === 'grace_expired')) break;
    await sleep(100);
  }
  await history.settle();
  const holds = history.events.filter((e) => e.data.event === 'rejoining').length;
  const node = history.events[0]?.node;
  const r = checkHistory({ events: history.events }, { nodes: { [node]: 1 }, tenants: { rg: 20 } }, { complete: false });
  console.log(`# history: ${r.counts.events} events, ${holds} held seats; node seats at most ${r.max.nodes[node]}`);
  assert.equal(holds, 2, 'the history has both held seats (the checker saw both rejoin graces)');
  assert.deepEqual(r.violations, [], 'the admission history keeps every invariant');
  assert.equal(r.max.nodes[node], 1);
});
