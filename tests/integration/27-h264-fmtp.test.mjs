// A presenter's H.264 fmtp is used whole or not at all (issue 12 section 3: it was cut at 255
// bytes, possibly inside a UTF-8 character, and the publish then failed as invalid_jsep). werift
// presenters (tests/integration/lib/werift-peers.mjs) offer Opus and H.264 only, with an fmtp that
// has no profile-level-id, so the plugin takes the H.264 payload type with its fmtp as it is
// (plugin/glue/sdp.c, include/allhands/fmtp.h):
//   1. 255 bytes of UTF-8 text (the limit, docs/api.md): the answer accepts H.264 with exactly that
//      fmtp, an attendee is offered exactly that fmtp and receives the video.
//   2. 300 bytes whose byte 255 falls inside an 'é': the publish succeeds with audio only, the
//      answer rejects the video m-line, and nothing the plugin sends holds a cut fmtp.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Bag, assertEvent, createRoom, createTenant, handle, joinBody, startJanus, safeJson } from './lib/allhands.mjs';
import { WeriftAttendee, WeriftPresenter, mlineCodecs, sdpMlines, startLocalStun, stopLocalStun } from './lib/werift-peers.mjs';

const TENANT = 'fmtp';
const SECRET = 'presenter-secret';
const LIMIT = 255;
let janus;
const bag = new Bag();

before(async () => {
  await startLocalStun();
  janus = await startJanus('h264-fmtp', { capacity: 10, wave_size: 10, wave_interval_ms: 100, admit_timeout_ms: 30000 });
  await createTenant(janus, { tenant: TENANT, max_participants: 10 });
  for (const room of ['fits', 'long']) await createRoom(janus, { tenant: TENANT, room, max_attendees: 5, presenter_secret: SECRET });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
  stopLocalStun();
});

// An H.264 fmtp of exactly `bytes` bytes (UTF-8): packetization-mode=1, no profile-level-id, then a
// note made of 'é' (2 bytes each), padded with 'x' to the length.
function fmtpOf(bytes) {
  let s = 'packetization-mode=1;level-asymmetry-allowed=1;x-note=';
  while (Buffer.byteLength(s) + 2 <= bytes) s += 'é';
  while (Buffer.byteLength(s) < bytes) s += 'x';
  return s;
}

async function publishH264(room, label, fmtp) {
  const h = await handle(janus, bag);
  const p = new WeriftPresenter(h, { label, video: 'h264', h264Fmtp: fmtp });
  bag.add(() => p.close());
  assertEvent((await h.request(joinBody({ tenant: TENANT, room, ptype: 'presenter', display: label, presenter_secret: SECRET }))).data,
    'joined', `${label} joins`);
  const r = await p.publish({ video: 'h264' });
  const offered = sdpMlines(p.offerSdp).find((m) => m.kind === 'video');
  assert.equal(Buffer.byteLength(offered.fmtp[109] || ''), Buffer.byteLength(fmtp), `the presenter offers its ${Buffer.byteLength(fmtp)}-byte fmtp:\n${offered.text}`);
  return { p, r };
}

test(`an H.264 fmtp of ${LIMIT} bytes is accepted whole and offered to attendees as it is`, async () => {
  const fmtp = fmtpOf(LIMIT);
  assert.equal(Buffer.byteLength(fmtp), LIMIT);
  const { p, r } = await publishH264('fits', 'P255', fmtp);
  assertEvent(r.data, 'published', `publish with a ${LIMIT}-byte fmtp: ${safeJson(r.data)}`);
  assert.deepEqual((r.data.streams || []).map((s) => `${s.kind}:${String(s.codec).toLowerCase()}`).sort(), ['audio:opus', 'video:h264']);
  const ans = sdpMlines(r.jsep.sdp).find((m) => m.kind === 'video');
  assert.ok(ans && ans.port !== 0, `the answer accepts the video m-line:\n${r.jsep.sdp}`);
  assert.equal(ans.fmtp[109], fmtp, `the answer carries the whole fmtp:\n${ans.text}`);
  await p.waitConnected();

  const ah = await handle(janus, bag);
  const a = new WeriftAttendee(ah, { label: 'viewer' });
  bag.add(() => a.close());
  const j = await a.join(joinBody({ tenant: TENANT, room: 'fits', display: 'viewer' }));
  assertEvent(j.data, 'admitted', 'viewer joins');
  const vm = sdpMlines(j.jsep.sdp).find((m) => m.kind === 'video' && m.direction === 'sendonly');
  assert.ok(vm, `the attendee is offered the video:\n${j.jsep.sdp}`);
  const [codec] = mlineCodecs(vm);
  assert.equal(codec.name, 'h264');
  assert.equal(vm.fmtp[codec.pt], fmtp, `the attendee is offered the presenter's whole fmtp:\n${vm.text}`);
  await a.waitConnected();
  await a.waitPackets(vm.mid, p.epochs.video, 30);
});

test('an H.264 fmtp longer than the limit is refused, never cut inside a character', async () => {
  const fmtp = fmtpOf(300);
  // The reproduction: the byte at the old cut (index 254, the last one kept) starts an 'é'.
  assert.equal(Buffer.from(fmtp)[LIMIT - 1], 0xc3, 'an é straddles the 255-byte mark');
  const { r } = await publishH264('long', 'P300', fmtp);
  assertEvent(r.data, 'published', `publish with a 300-byte H.264 fmtp and Opus: ${safeJson(r.data)}`);
  assert.deepEqual((r.data.streams || []).map((s) => `${s.kind}:${String(s.codec).toLowerCase()}`), ['audio:opus'],
    `only the audio is published: ${safeJson(r.data)}`);
  assert.equal(r.jsep?.type, 'answer');
  const ans = sdpMlines(r.jsep.sdp).find((m) => m.kind === 'video');
  assert.ok(ans && ans.port === 0, `the answer rejects the video m-line:\n${r.jsep.sdp}`);
  assert.ok(!r.jsep.sdp.includes('x-note='), `the answer holds no part of the refused fmtp:\n${r.jsep.sdp}`);
});
