// Keyframe requests are coalesced per presenter video stream (plugin/glue/relay.c: at most one PLI per
// stream per 500 ms; a want inside the interval is served by the first packet after it). A
// @roamhq/wrtc presenter publishes VP8; its outbound-rtp statistics count the PLIs/FIRs it received
// (pliCount, firCount) and the keyframes it encoded (keyFramesEncoded).
// (1) A wave of 10 werift attendees joining at once costs the presenter a handful of PLIs, bounded by
//     ceil(span / 0.5 s) + 1 (asserted with one of slack) where span is how long the attendees' media took to come up, and < N/2.
// (2) A trickle of 10 attendees 200 ms apart over ~2 s: same bound over the trickle's span.
// (span: from the first join to the last attendee's first video packet, which covers every keyframe
// want the plugin makes for them). In both, every attendee receives a VP8 keyframe (RFC 7741 payload
// descriptor, then P bit == 0 in the VP8 payload header, start code 9d 01 2a) within 2 s of its first
// video packet, and nothing before it: the plugin holds a new attendee's video back until a keyframe,
// so the first frame every attendee receives is a keyframe (asserted).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Bag, assertEvent, createRoom, createTenant, handle, joinBody, presenter, startJanus, safeJson,
} from './lib/allhands.mjs';
import { WeriftAttendee, startLocalStun, stopLocalStun } from './lib/werift-peers.mjs';
import { waitFor } from './lib/util.mjs';

const N = 10;
const PLI_INTERVAL_MS = 500;
// An attendee must see a keyframe this soon after its first video packet: up to one interval of
// coalescing plus the encoder's response, with generous slack for a loaded test machine.
const KEYFRAME_WITHIN_MS = 2000;
let janus;
let pres;
const bag = new Bag();

before(async () => {
  await startLocalStun();
  janus = await startJanus('keyframes', { capacity: 100, wave_size: N, wave_interval_ms: 1000, admit_timeout_ms: 30000 });
  await createTenant(janus, { tenant: 'kf', max_participants: 100 });
  await createRoom(janus, { tenant: 'kf', room: 'r1', max_attendees: 100, presenter_secret: 'p-presenter' });
  pres = await presenter(janus, bag, { tenant: 'kf', room: 'r1', presenter_secret: 'p-presenter', display: 'host' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
  stopLocalStun();
});

// A werift attendee that also keeps the first bytes of every RTP payload (the VP8 descriptor and
// payload header), which WeriftAttendee's `head` (2 bytes) is too short for.
class KfAttendee extends WeriftAttendee {
  _record(packet, router) {
    super._record(packet, router);
    const last = this.packets[this.packets.length - 1];
    if (last) last.bytes = Buffer.from(packet.payload.subarray(0, 16));
  }
}

// RFC 7741 4.2/4.3: {start (S=1 and PID=0: the packet begins a frame), key (P bit == 0 in the VP8
// payload header, with the keyframe start code), ok (parsable)}.
function parseVp8(b) {
  if (!b || b.length < 1) return { ok: false };
  let i = 0;
  const x = (b[0] & 0x80) !== 0;
  const s = (b[0] & 0x10) !== 0;
  const pid = b[0] & 0x07;
  i += 1;
  if (x) {
    if (b.length < 2) return { ok: false };
    const I = (b[1] & 0x80) !== 0;
    const L = (b[1] & 0x40) !== 0;
    const T = (b[1] & 0x20) !== 0;
    const K = (b[1] & 0x10) !== 0;
    i += 1;
    if (I) i += (b[i] & 0x80) ? 2 : 1;
    if (L) i += 1;
    if (T || K) i += 1;
  }
  const start = s && pid === 0;
  if (!start) return { ok: true, start: false };
  if (b.length < i + 6) return { ok: false };
  const key = (b[i] & 0x01) === 0 && b[i + 3] === 0x9d && b[i + 4] === 0x01 && b[i + 5] === 0x2a;
  return { ok: true, start: true, key, pbit: b[i] & 0x01 };
}

async function presenterVideoStats() {
  const report = await pres.pc.getStats();
  const out = [];
  report.forEach((s) => {
    if (s.type === 'outbound-rtp' && (s.kind || s.mediaType) === 'video') {
      out.push({ ssrc: s.ssrc, pli: s.pliCount, fir: s.firCount, keyFrames: s.keyFramesEncoded, frames: s.framesEncoded });
    }
  });
  return out;
}

// Sum over the presenter's video streams (one here).
async function counters() {
  const st = await presenterVideoStats();
  assert.equal(st.length, 1, `one outbound video stream: ${safeJson(st)}`);
  assert.ok(Number.isInteger(st[0].pli) && Number.isInteger(st[0].fir), `@roamhq/wrtc exposes pliCount/firCount: ${safeJson(st)}`);
  return { pli: st[0].pli, fir: st[0].fir, kr: st[0].pli + st[0].fir, keyFrames: st[0].keyFrames, frames: st[0].frames };
}

// Wait until the presenter has received no keyframe request for `quietMs`, then return the counters.
async function quiet(quietMs = 1200) {
  let last = await counters();
  let since = Date.now();
  await waitFor(async () => {
    const c = await counters();
    if (c.kr !== last.kr || c.keyFrames !== last.keyFrames) { last = c; since = Date.now(); return false; }
    return Date.now() - since >= quietMs ? c : false;
  }, { timeout: 20000, interval: 100, what: `no keyframe request for ${quietMs} ms (last ${safeJson(last)})` });
  return last;
}

const videoMid = (a) => a.offers[0]?.mlines.find((m) => m.kind === 'video' && m.port !== 0)?.mid;

// Per attendee: first video packet, first frame start, first keyframe (performance.now() times).
function keyframeInfo(a) {
  const mid = videoMid(a);
  const vids = mid ? a.packets.filter((p) => p.mid === mid) : [];
  const info = { label: a.label, packets: vids.length, firstAt: vids[0]?.at ?? null, firstStartKey: null, keyAt: null, unparsable: 0 };
  for (const p of vids) {
    const v = parseVp8(p.bytes);
    if (!v.ok) { info.unparsable += 1; continue; }
    if (!v.start) continue;
    if (info.firstStartKey === null) info.firstStartKey = v.key;
    if (v.key) { info.keyAt = p.at; break; }
  }
  return info;
}

async function newAttendees(prefix, n) {
  const out = [];
  for (let i = 0; i < n; i += 1) {
    const h = await handle(janus, bag);
    const a = new KfAttendee(h, { label: `${prefix}${i}` });
    bag.add(() => a.close());
    a.h = h;
    out.push(a);
  }
  return out;
}

// Joins `atts` (each after delays[i] ms from t0), waits until each received a keyframe, then until
// the presenter is quiet again. Returns the measurements.
async function measure(t, atts, delays) {
  const base = await quiet();
  const t0 = performance.now();
  const replies = await Promise.all(atts.map(async (a, i) => {
    await sleep(delays[i]);
    a.joinedAt = performance.now();
    return a.join(joinBody({ tenant: 'kf', room: 'r1', display: a.label }));
  }));
  replies.forEach((r, i) => assertEvent(r.data, 'admitted', `${atts[i].label} admitted at once`));
  await waitFor(() => atts.every((a) => keyframeInfo(a).keyAt !== null), {
    timeout: 30000, interval: 100,
    what: `every attendee received a VP8 keyframe (${safeJson(atts.map(keyframeInfo))})`,
  });
  const settledAt = performance.now();
  const end = await quiet();
  const infos = atts.map(keyframeInfo);
  for (const a of atts) assert.deepEqual(a.errors, [], `${a.label}: answering offers`);
  // The plugin wants keyframes when an attendee's media comes up (and on an attendee's PLI/FIR,
  // which werift never sends by itself), so every want of this batch lies between the first join and the last
  // attendee's first video packet.
  const span = Math.max(...infos.map((x) => x.firstAt)) - Math.min(...atts.map((a) => a.joinedAt));
  const m = {
    pli: end.pli - base.pli, fir: end.fir - base.fir, kr: end.kr - base.kr, keyFrames: end.keyFrames - base.keyFrames,
    wantSpanMs: Math.round(span), settleMs: Math.round(settledAt - t0),
    // One PLI per started 500 ms of the span, plus the first one, plus one of slack for a request
    // of another origin (Janus, or the encoder's own recovery): still far below one per attendee.
    bound: Math.ceil(span / PLI_INTERVAL_MS) + 2,
    waitForKeyMs: infos.map((x) => Math.round(x.keyAt - x.firstAt)),
    firstFrameWasKey: infos.filter((x) => x.firstStartKey).length,
    unparsable: infos.reduce((s, x) => s + x.unparsable, 0),
    base, end,
  };
  t.diagnostic(`presenter keyframe requests: ${safeJson(m)}`);
  for (const x of infos) {
    assert.ok(x.keyAt - x.firstAt <= KEYFRAME_WITHIN_MS,
      `${x.label}: keyframe ${Math.round(x.keyAt - x.firstAt)} ms after its first video packet (> ${KEYFRAME_WITHIN_MS}): ${safeJson(infos)}`);
  }
  assert.equal(m.unparsable, 0, 'every received video payload has a parsable VP8 descriptor');
  return m;
}

test(`a wave of ${N} attendees costs the presenter one PLI per ${PLI_INTERVAL_MS} ms, not ${N}`, async (t) => {
  const atts = await newAttendees('w', N);
  const m = await measure(t, atts, atts.map(() => 0));
  assert.ok(m.kr >= 1, `the wave asked the presenter for at least one keyframe: ${safeJson(m)}`);
  assert.ok(m.kr < N / 2, `PLI+FIR increase ${m.kr} < N/2 = ${N / 2}: ${safeJson(m)}`);
  assert.ok(m.kr <= m.bound, `PLI+FIR increase ${m.kr} <= ceil(${m.wantSpanMs} ms / ${PLI_INTERVAL_MS} ms) + 2 = ${m.bound}: ${safeJson(m)}`);
  assert.ok(m.keyFrames <= m.bound, `keyframes encoded ${m.keyFrames} <= ${m.bound}: ${safeJson(m)}`);
  // Nothing undecodable first: a new attendee's video starts with a keyframe.
  assert.equal(m.firstFrameWasKey, N, `every attendee's first video frame is a keyframe: ${safeJson(m)}`);
  for (const a of atts) {
    assertEvent((await a.h.request({ request: 'leave' })).data, 'left', `${a.label} leaves`);
    await a.close();
  }
});

test(`a trickle of ${N} attendees 200 ms apart costs at most ceil(span / ${PLI_INTERVAL_MS} ms) + 2 PLIs`, async (t) => {
  await sleep(1200); // past the previous test's wave interval
  const atts = await newAttendees('t', N);
  const m = await measure(t, atts, atts.map((_, i) => i * 200));
  assert.ok(m.kr >= 1, `the trickle asked the presenter for at least one keyframe: ${safeJson(m)}`);
  assert.ok(m.kr <= m.bound, `PLI+FIR increase ${m.kr} <= ceil(${m.wantSpanMs} ms / ${PLI_INTERVAL_MS} ms) + 2 = ${m.bound}: ${safeJson(m)}`);
  assert.ok(m.kr < N, `PLI+FIR increase ${m.kr} < N = ${N}: ${safeJson(m)}`);
  assert.ok(m.keyFrames <= m.bound, `keyframes encoded ${m.keyFrames} <= ${m.bound}: ${safeJson(m)}`);
  assert.equal(m.firstFrameWasKey, N, `every attendee's first video frame is a keyframe: ${safeJson(m)}`);
});
