// A join storm, at a scale the wrtc tests (02-waves) cannot reach: 36 receive-only werift attendees
// join one room at the same moment on a node with capacity 10 and waves of 3. Each attendee, once
// admitted, watches until it has received the presenter's video and audio, then leaves; that frees
// seats for the next waves. Checked: exactly 10 admitted at once and 26 queued with distinct
// positions 1..26; every queued attendee's position only goes down; the node never holds more than
// 10 seats (sampled all along, and exactly: the admission history the plugin sends Janus's event
// handlers, replayed by lib/history.mjs, never holds more than 10 node seats at any event); nobody is
// lost (all 36 end up watching); the queue drains to zero.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, createRoom, createTenant, handle, joinBody, nodeCounts, startJanus, waitCounts, safeJson,
} from './lib/allhands.mjs';
import { WeriftAttendee, WeriftPresenter, startLocalStun, stopLocalStun } from './lib/werift-peers.mjs';
import { waitFor } from './lib/util.mjs';
import { EventCollector, checkHistory } from './lib/history.mjs';

const CAPACITY = 10;
const WAVE = 3;
const N = 36;
let janus;
const bag = new Bag();
const history = new EventCollector();

before(async () => {
  await startLocalStun();
  await history.start();
  janus = await startJanus('storm', { capacity: CAPACITY, wave_size: WAVE, wave_interval_ms: 300, admit_timeout_ms: 30000, events: true },
    { eventsBackend: history.url });
  await createTenant(janus, { tenant: 'big', max_participants: 100 });
  await createRoom(janus, { tenant: 'big', room: 'allhands', max_attendees: 100, presenter_secret: 'p-presenter' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
  await history.stop();
  stopLocalStun();
});

test(`${N} attendees at once on capacity ${CAPACITY}: queued, admitted in waves, nobody lost`, async () => {
  const ph = await handle(janus, bag);
  const pres = new WeriftPresenter(ph, { label: 'ceo', video: 'vp8' });
  bag.add(() => pres.close());
  assertEvent((await ph.request(joinBody({ tenant: 'big', room: 'allhands', ptype: 'presenter', presenter_secret: 'p-presenter' }))).data, 'joined');
  assertEvent((await pres.publish({ video: 'vp8' })).data, 'published');
  await pres.waitConnected();

  const attendees = [];
  for (let i = 0; i < N; i += 1) {
    const h = await handle(janus, bag);
    const a = new WeriftAttendee(h, { label: `a${i}` });
    bag.add(() => a.close());
    a.h = h;
    attendees.push(a);
  }

  // Sample the node's seats all along the storm.
  let maxSeats = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const c = await nodeCounts(janus);
      maxSeats = Math.max(maxSeats, c.admitted);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const replies = await Promise.all(attendees.map((a) => a.join(joinBody({ tenant: 'big', room: 'allhands', display: a.label }))));
  const admittedNow = replies.filter((r) => r.data.event === 'admitted');
  const queued = replies.filter((r) => r.data.event === 'queued');
  assert.equal(admittedNow.length, CAPACITY, `admitted at once: ${safeJson(replies.map((r) => r.data.event))}`);
  assert.equal(queued.length, N - CAPACITY);
  assert.deepEqual(queued.map((r) => r.data.position).sort((x, y) => x - y), [...Array(N - CAPACITY).keys()].map((i) => i + 1),
    'queued positions are 1..N-capacity, each once');

  // Each attendee: once it watches (video and audio packets from the presenter), it leaves.
  const videoEpoch = pres.epochs.video;
  const audioEpoch = pres.epochs.audio;
  const watched = (a) => {
    const v = a.packets.filter((p) => p.src && p.src.epoch === videoEpoch && p.src.kind === 'video').length;
    const s = a.packets.filter((p) => p.src && p.src.epoch === audioEpoch && p.src.kind === 'audio').length;
    return v >= 15 && s >= 15;
  };
  const done = new Set();
  await waitFor(async () => {
    for (const a of attendees) {
      if (done.has(a) || !watched(a)) continue;
      done.add(a);
      assertEvent((await a.h.request({ request: 'leave' })).data, 'left', `${a.label} leaves`);
      await a.close();
    }
    return done.size === N;
  }, { timeout: 180000, interval: 200, what: `all ${N} attendees watched (so far ${done.size})` });
  sampling = false;
  await sampler;

  for (const a of attendees) assert.deepEqual(a.errors, [], `${a.label}: answering offers`);
  assert.ok(maxSeats <= CAPACITY, `node seats never above capacity (max seen ${maxSeats})`);
  // Positions only went down for everyone who queued.
  for (const a of attendees.filter((x) => x.joinReply.data.event === 'queued')) {
    const seen = [a.joinReply.data.position, ...a.h.eventsNamed('position').map((e) => e.data.position)];
    for (let i = 1; i < seen.length; i += 1) assert.ok(seen[i] < seen[i - 1], `${a.label}: positions ${seen.join(',')}`);
    assert.equal(a.h.eventsNamed('admitted').length, 1, `${a.label} admitted once`);
  }
  await waitCounts(janus, { admitted: 0, queued: 0 });
  // The exact check: every event of the storm replayed in Janus's time order.
  const clients = attendees.map((a) => ({
    label: a.label, room: 'big/allhands', reply: a.joinReply.data,
    positions: a.joinReply.data.event === 'queued' ? [a.joinReply.data.position, ...a.h.eventsNamed('position').map((e) => e.data.position)] : [],
  }));
  const leftAll = () => history.events.filter((e) => e.data.event === 'left').length >= N;
  await waitFor(leftAll, { timeout: 10000, what: `the ${N} left events at the collector (${history.events.length} events)` });
  const node = history.events[0]?.node;
  const r = checkHistory({ events: history.events, clients },
    { nodes: { [node]: CAPACITY }, rooms: { 'big/allhands': 100 }, tenants: { big: 100 } });
  console.log(`# history: ${r.counts.events} events, ${r.counts.participants} participants; node seats at most ${r.max.nodes[node]}`);
  assert.deepEqual(r.violations, [], 'the admission history keeps every invariant');
  assert.equal(r.max.nodes[node], CAPACITY, 'the node was full at some point (the checker saw the storm)');
});
