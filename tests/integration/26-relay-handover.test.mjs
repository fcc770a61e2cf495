// The relay's hand-over between a presenter's thread and the helper threads (plugin/glue/relay.c,
// issue 12 section 3): an m-line with at least `relay_inline_max` receivers is relayed by the helper
// threads, one with fewer by the presenter's own thread. While receivers come and go across that
// threshold and media flows, a substream's rewriting state (switching context, simulcast and VP8
// contexts) must only ever be touched by one thread at a time: the relay marks each substream with
// the thread rewriting for it and counts in status `node.relay.overlaps` every time it finds another
// thread's mark, or relays inline while a helper's job for the m-line is still pending. Here a werift presenter sends VP8 at a high frame rate (so packets come in bursts)
// to one connected watcher while two other attendees join and leave over and over, each time moving
// the room's m-lines between inline relaying (1 receiver) and the helpers (2 or 3 receivers).
// Asserted: no overlap, the watcher's RTP stays continuous, and it kept receiving throughout.
// Timing decides whether a hand-over meets a helper still busy with the m-line: on the relay before
// the fix this test failed in only one of the six runs tried while tuning it (2 overlaps); the stress
// test tests/glue/test-relay-handover.c fails there in every run (about 3,000 overlaps).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Bag, assertEvent, createRoom, createTenant, handle, joinBody, startJanus, safeJson } from './lib/allhands.mjs';
import { WeriftAttendee, WeriftPresenter, checkContinuity, sdpMlines, startLocalStun, stopLocalStun, summarize } from './lib/werift-peers.mjs';

const TENANT = 'handover';
const ROOM = 'churn';
const SECRET = 'presenter-secret';
// How long the receivers churn, and how many join/leave cycles each churner runs at most.
const CHURN_MS = 20000;
let janus;
const bag = new Bag();

before(async () => {
  await startLocalStun();
  janus = await startJanus('relay-handover', {
    capacity: 20, wave_size: 10, wave_interval_ms: 100, admit_timeout_ms: 60000, relay_threads: 2, relay_inline_max: 2,
  });
  await createTenant(janus, { tenant: TENANT, max_participants: 20 });
  await createRoom(janus, { tenant: TENANT, room: ROOM, max_attendees: 10, presenter_secret: SECRET });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
  stopLocalStun();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function relayFigures() {
  const r = await janus.admin({ request: 'status' });
  assert.ok(r.node && r.node.relay, `status.node.relay: ${safeJson(r)}`);
  return r.node.relay;
}

// Join and leave, again and again, until `until`; returns the number of completed cycles.
async function churn(h, label, until) {
  let cycles = 0;
  while (Date.now() < until) {
    const j = await h.request(joinBody({ tenant: TENANT, room: ROOM, display: label }));
    assertEvent(j.data, 'admitted', `${label} joins (cycle ${cycles})`);
    await sleep(20 + Math.floor(Math.random() * 60));
    const l = await h.request({ request: 'leave' });
    assertEvent(l.data, 'left', `${label} leaves (cycle ${cycles})`);
    await sleep(20 + Math.floor(Math.random() * 60));
    cycles += 1;
  }
  return cycles;
}

test('receivers crossing relay_inline_max while media flows: one thread per substream, continuous RTP', async () => {
  const before0 = await relayFigures();
  assert.equal(before0.threads, 2, `two relay helpers: ${safeJson(before0)}`);
  assert.equal(before0.overlaps, 0, `status reports relay overlaps, none yet: ${safeJson(before0)}`);

  const ph = await handle(janus, bag);
  const p = new WeriftPresenter(ph, { label: 'P', video: 'vp8', videoFps: 60, vp8Scale: 8 });
  bag.add(() => p.close());
  assertEvent((await ph.request(joinBody({ tenant: TENANT, room: ROOM, ptype: 'presenter', display: 'P', presenter_secret: SECRET }))).data,
    'joined', 'presenter joins');
  assertEvent((await p.publish({ video: 'vp8' })).data, 'published', 'presenter publishes');
  await p.waitConnected();

  const wh = await handle(janus, bag);
  const w = new WeriftAttendee(wh, { label: 'watcher' });
  bag.add(() => w.close());
  const r = await w.join(joinBody({ tenant: TENANT, room: ROOM, display: 'watcher' }));
  assertEvent(r.data, 'admitted', 'watcher joins');
  await w.waitConnected();
  const mlines = sdpMlines(r.jsep.sdp).filter((m) => m.direction === 'sendonly');
  const vMid = mlines.find((m) => m.kind === 'video').mid;
  const aMid = mlines.find((m) => m.kind === 'audio').mid;
  await w.waitPackets(vMid, p.epochs.video, 100);
  await w.waitPackets(aMid, p.epochs.audio, 20);

  const churners = [];
  for (const label of ['c1', 'c2']) churners.push({ label, h: await handle(janus, bag) });
  const atStart = { video: w.onMid(vMid).length, audio: w.onMid(aMid).length };
  const until = Date.now() + CHURN_MS;
  const cycles = await Promise.all(churners.map((c) => churn(c.h, c.label, until)));
  await sleep(1000);
  const gotVideo = w.onMid(vMid).length - atStart.video;
  const gotAudio = w.onMid(aMid).length - atStart.audio;

  const relay = await relayFigures();
  assert.ok(cycles.every((n) => n >= 10), `each churner crossed the threshold many times: ${cycles}`);
  assert.equal(relay.overlaps, 0,
    `no two threads ever rewrote one substream at once (${cycles} join/leave cycles, relay ${safeJson(relay)})`);
  // The watcher kept receiving while its m-lines moved between the threads (about 5 s of 60 fps
  // video and 50 packets/s audio at the least; a stall or a relay that stopped would show here).
  assert.ok(gotVideo > 300 && gotAudio > 100, `watcher kept receiving during the churn: ${gotVideo} video, ${gotAudio} audio packets`);
  for (const [mid, kind, clockRate] of [[vMid, 'video', 90000], [aMid, 'audio', 48000]]) {
    const packets = w.onMid(mid);
    const problems = checkContinuity(packets, { clockRate });
    assert.ok(problems.length === 0, `watcher's ${kind} RTP is continuous through the churn (${summarize(packets)}; Janus log ${janus.logFile}):\n` +
      problems.map((x) => `* ${x.what}\n${x.dump}`).join('\n'));
  }
});
