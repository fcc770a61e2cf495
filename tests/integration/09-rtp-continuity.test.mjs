// (i) RTP as attendees receive it, with werift peers (tests/integration/lib/werift-peers.mjs) that
// send synthetic RTP and record every RTP header an attendee receives; this is what @roamhq/wrtc
// cannot check:
//   1. H.264: a presenter whose offer has only H.264 (packetization-mode=1, 42e01f) + Opus gets an
//      answer selecting H.264; an attendee is offered H.264 and receives the video packets, with the
//      payload type of its offer (not the presenter's) and the payloads as sent.
//   2. Continuity: on an attendee's m-lines, sequence numbers and timestamps continue (no jump, no
//      step back other than late or repeated packets, timestamps forward by plausible steps) while
//      the presenter publishes again on its PeerConnection with a new sender (new SSRC), unpublishes
//      and republishes (new PeerConnection, new SSRC, new sequence/timestamp origins), and when a
//      second presenter reuses the first one's inactive m-lines after it left.
//   3. The same when a presenter switches its video codec on an m-line that stays active
//      (VP8 -> H.264 -> VP8 on one PeerConnection).
// Janus runs with relay_threads = 2 and relay_inline_max = 1, so every packet goes through the
// relay's helper threads (plugin/glue/relay.c): all of the above holds on that path, and status
// reports the two helpers and no packet dropped on their queues.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, createRoom, createTenant, handle, joinBody, startJanus, waitFor, safeJson,
} from './lib/allhands.mjs';
import {
  WeriftAttendee, WeriftPresenter, checkContinuity, mlineCodecs, sdpMlines, sourceChanges, startLocalStun,
  stopLocalStun, summarize,
} from './lib/werift-peers.mjs';

const TENANT = 'rtp';
const SECRET = 'pres-secret-09';
let janus;
const bag = new Bag();

before(async () => {
  await startLocalStun();
  janus = await startJanus('rtp-continuity', {
    capacity: 20, wave_size: 10, wave_interval_ms: 200, admit_timeout_ms: 30000, relay_threads: 2, relay_inline_max: 1,
  });
  await createTenant(janus, { tenant: TENANT, max_participants: 50 });
  for (const room of ['h264', 'continuity', 'codec-change']) {
    await createRoom(janus, { tenant: TENANT, room, max_attendees: 10, presenter_secret: SECRET });
  }
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
  stopLocalStun();
});

// ---- helpers ----

async function joinPresenter(room, label, video) {
  const h = await handle(janus, bag);
  const p = new WeriftPresenter(h, { label, video });
  bag.add(() => p.close());
  p.h = h;
  const j = await h.request(joinBody({ tenant: TENANT, room, ptype: 'presenter', display: label, presenter_secret: SECRET }));
  assertEvent(j.data, 'joined', `${label} joins as presenter`);
  p.id = j.data.id;
  return p;
}

async function publish(p, video) {
  p.h.hungup = false;
  const r = await p.publish({ video });
  assertEvent(r.data, 'published', `${p.label} publishes ${video}`);
  assert.equal(r.jsep?.type, 'answer', `${p.label}: publish reply carries a JSEP answer: ${safeJson(r)}`);
  const kinds = (r.data.streams || []).map((s) => `${s.kind}:${String(s.codec).toLowerCase()}`).sort();
  assert.deepEqual(kinds, ['audio:opus', `video:${video}`], `${p.label}: published streams ${safeJson(r.data.streams)}`);
  await p.waitConnected();
  return r;
}

async function unpublish(p) {
  const un = await p.h.request({ request: 'unpublish' });
  assertEvent(un.data, 'unpublished', `${p.label} unpublishes`);
  // The plugin closes the presenter's PeerConnection; a republish needs a new one (docs/api.md).
  await waitFor(() => p.h.hungup, { timeout: 15000, what: `Janus to hang up ${p.label}'s PeerConnection after unpublish` });
  await p.stopMedia();
}

async function joinAttendee(room, label) {
  const h = await handle(janus, bag);
  const a = new WeriftAttendee(h, { label });
  bag.add(() => a.close());
  a.h = h;
  const r = await a.join(joinBody({ tenant: TENANT, room, display: label }));
  assertEvent(r.data, 'admitted', `${label} joins with a free seat`);
  assert.equal(r.jsep?.type, 'offer', `${label}: admitted carries a JSEP offer`);
  return a;
}

// The attendee m-lines that carry presenter `id` in an offer: the streams' `mindex` in the event's
// `presenters` (docs/api.md) when the plugin gives it, which must then agree with the m-lines' msid
// (the plugin's is "ah<id>"); the msid alone otherwise.
function presenterMlines(offer, id) {
  const byMsid = offer.mlines.filter((m) => m.direction === 'sendonly' && m.msid === `ah${id}`);
  const streams = (offer.presenters.find((p) => p.id === id) || {}).streams || [];
  if (!streams.some((st) => st.mindex !== undefined)) return byMsid;
  const byIndex = streams.map((st) => offer.mlines[st.mindex]);
  assert.deepEqual(byIndex.map((m) => m && m.mid).sort(), byMsid.map((m) => m.mid).sort(),
    `presenter ${id}: the streams' mindex ${safeJson(streams)} name the m-lines with its msid (${describeOffer(offer)})`);
  streams.forEach((st, i) => assert.equal(byIndex[i].kind, st.kind, `presenter ${id}: m-line ${st.mindex} is ${st.kind} (${describeOffer(offer)})`));
  return byIndex;
}

// Wait for an offer (join reply or `updated`) that satisfies pred(offer), then for its `start`.
async function waitOffer(a, pred, what, from = 0) {
  const offer = await waitFor(() => a.offers.slice(from).find(pred), {
    timeout: 20000, what: `${a.label}: an offer with ${what} (offers so far: ${safeJson(a.offers.map(describeOffer))})`,
  });
  await waitFor(() => a.starts.length >= a.offers.indexOf(offer) + 1, { timeout: 20000, what: `${a.label}: \`start\` for the offer with ${what}` });
  await a.settled();
  assert.deepEqual(a.errors.map(String), [], `${a.label}: answering offers failed`);
  for (const s of a.starts) assertEvent(s.data, 'started', `${a.label}: start after ${s.why}`);
  return offer;
}

function describeOffer(o) {
  return `${o.why}: ${o.mlines.map((m) => `${m.mid}/${m.direction}/${m.msid || '-'}/${mlineCodecs(m).map((c) => `${c.name}:${c.pt}`).join(',')}`).join(' ')}`;
}

// m-lines are never removed or reordered: every offer starts with the previous offer's mids.
function assertStableMlines(a) {
  for (let i = 1; i < a.offers.length; i++) {
    const prev = a.offers[i - 1].mlines.map((m) => `${m.kind}:${m.mid}`);
    const cur = a.offers[i].mlines.map((m) => `${m.kind}:${m.mid}`);
    assert.deepEqual(cur.slice(0, prev.length), prev, `${a.label}: offer ${i} keeps the m-lines of offer ${i - 1}\n${a.offers.map(describeOffer).join('\n')}`);
  }
}

// Continuity of one m-line over everything received so far, with packet dumps on failure.
function assertContinuity(a, mid, kind, expectEpochs) {
  const packets = a.onMid(mid);
  const clockRate = kind === 'audio' ? 48000 : 90000;
  const changes = sourceChanges(packets).map((c) => c.to);
  assert.deepEqual(changes, expectEpochs,
    `${a.label}: m-line ${mid} (${kind}) carried the expected sources in turn (received: ${summarize(packets)})`);
  const unknown = packets.filter((p) => !p.src).length;
  assert.equal(unknown, 0, `${a.label}: every packet on ${mid} carries a payload some presenter sent (${unknown} of ${packets.length} unknown)`);
  const problems = checkContinuity(packets, { clockRate });
  // Where each source starts on the m-line: a first packet far into the source's stream means its
  // first packets were lost on the way (the Janus log may say why, e.g. SRTP replay errors).
  const starts = sourceChanges(packets).map((c) => `${c.to} starts with its packet ${packets[c.index].src.index} (#${c.index})`);
  assert.ok(problems.length === 0,
    `${a.label}: RTP on m-line ${mid} (${kind}) is not continuous across ${expectEpochs.join(' -> ')} ` +
    `(${starts.join('; ')}; Janus log: ${janus.logFile}):\n` +
    problems.map((p) => `* ${p.what}\n${p.dump}`).join('\n'));
}

// ---- 1. H.264 ----

test('H.264-only presenter: answer selects H.264; an attendee is offered H.264 and receives it', async () => {
  const room = 'h264';
  const p = await joinPresenter(room, 'H264', 'h264');
  const r = await publish(p, 'h264');

  // The presenter's offer: H.264 only on video (our payload type 109), Opus on audio.
  const offered = sdpMlines(p.offerSdp);
  const offVideo = offered.find((m) => m.kind === 'video');
  assert.deepEqual(mlineCodecs(offVideo), [{ pt: 109, name: 'h264' }], `presenter offer video m-line:\n${offVideo.text}`);
  assert.match(offVideo.fmtp[109], /packetization-mode=1/);
  assert.match(offVideo.fmtp[109], /profile-level-id=42e01f/i);

  // The plugin's answer accepts H.264 on that m-line, recvonly, with the offered payload type.
  const answered = sdpMlines(r.jsep.sdp);
  const ansVideo = answered.find((m) => m.mid === offVideo.mid);
  assert.ok(ansVideo && ansVideo.port !== 0, `answer accepts the video m-line:\n${r.jsep.sdp}`);
  assert.equal(ansVideo.direction, 'recvonly', `answer video direction:\n${ansVideo.text}`);
  assert.deepEqual(mlineCodecs(ansVideo), [{ pt: 109, name: 'h264' }], `answer video codecs:\n${ansVideo.text}`);
  assert.match(ansVideo.fmtp[109] || '', /packetization-mode=1/, `answer H.264 fmtp:\n${ansVideo.text}`);
  assert.match(ansVideo.fmtp[109] || '', /profile-level-id=42e01f/i, `answer H.264 fmtp:\n${ansVideo.text}`);
  const ansAudio = answered.find((m) => m.kind === 'audio');
  assert.ok(ansAudio && ansAudio.port !== 0, `answer accepts the audio m-line:\n${r.jsep.sdp}`);
  assert.deepEqual(mlineCodecs(ansAudio).map((c) => c.name), ['opus'], `answer audio codecs:\n${ansAudio.text}`);

  // An attendee is offered H.264 for that presenter's video.
  const a = await joinAttendee(room, 'viewer');
  const streams = (a.joinReply.data.presenters || []).find((x) => x.id === p.id)?.streams || [];
  assert.deepEqual(streams.map((s) => `${s.kind}:${String(s.codec).toLowerCase()}`).sort(), ['audio:opus', 'video:h264'],
    `admitted lists the presenter's streams: ${safeJson(a.joinReply.data)}`);
  const offer = await waitOffer(a, (o) => presenterMlines(o, p.id).length === 2, `the H.264 presenter's two m-lines`);
  const vm = presenterMlines(offer, p.id).find((m) => m.kind === 'video');
  const am = presenterMlines(offer, p.id).find((m) => m.kind === 'audio');
  const vcodecs = mlineCodecs(vm);
  assert.equal(vcodecs.length, 1, `attendee video m-line offers one codec:\n${vm.text}`);
  assert.equal(vcodecs[0].name, 'h264', `attendee video m-line offers H.264:\n${vm.text}`);
  const vpt = vcodecs[0].pt;
  assert.match(vm.fmtp[vpt] || '', /packetization-mode=1/, `attendee H.264 fmtp:\n${vm.text}`);
  assert.match(vm.fmtp[vpt] || '', /profile-level-id=42e01f/i, `attendee H.264 fmtp:\n${vm.text}`);
  const acodecs = mlineCodecs(am);
  assert.deepEqual(acodecs.map((c) => c.name), ['opus'], `attendee audio m-line:\n${am.text}`);

  await a.waitConnected();
  await a.waitPackets(vm.mid, p.epochs.video, 60);
  await a.waitPackets(am.mid, p.epochs.audio, 50);

  const video = a.onMid(vm.mid);
  const badPt = video.filter((x) => x.pt !== vpt);
  assert.equal(badPt.length, 0, `every video packet has the offered payload type ${vpt} (the presenter sent 109): ` +
    `${safeJson(badPt.slice(0, 5).map((x) => ({ pt: x.pt, seq: x.seq })))}`);
  const audio = a.onMid(am.mid);
  assert.ok(audio.every((x) => x.pt === acodecs[0].pt), `every audio packet has the offered payload type ${acodecs[0].pt}`);
  // The payloads arrive as sent: each one is a packet of this presenter, including the SPS/PPS
  // STAP-A (0x78), the IDR's FU-A start fragment (0x7c 0x85) and single P slices (0x41).
  assert.ok(video.every((x) => x.src && x.src.epoch === p.epochs.video && x.src.kind === 'video'),
    `every received video payload is one the presenter sent: ${summarize(video)}`);
  const heads = new Set(video.map((x) => x.head));
  assert.ok([...heads].some((h) => h.startsWith('78')), `an SPS/PPS STAP-A arrived (payload heads: ${[...heads].join(' ')})`);
  assert.ok(heads.has('7c85'), `an IDR FU-A start fragment arrived (payload heads: ${[...heads].join(' ')})`);
  assert.ok([...heads].some((h) => h.startsWith('41')), `a P slice arrived (payload heads: ${[...heads].join(' ')})`);
  assertContinuity(a, vm.mid, 'video', [p.epochs.video]);
  assertContinuity(a, am.mid, 'audio', [p.epochs.audio]);
});

// ---- 2. Continuity: republish, and another presenter reusing the m-lines ----

test('sequence numbers and timestamps continue across republishes and a new presenter on the same m-lines', async () => {
  const room = 'continuity';
  const A = await joinPresenter(room, 'A', 'vp8');
  await publish(A, 'vp8');
  const a1 = { ...A.epochs };
  const ssrcA1 = sdpMlines(A.offerSdp).map((m) => m.ssrcs[0]);

  const a = await joinAttendee(room, 'watcher');
  const first = await waitOffer(a, (o) => presenterMlines(o, A.id).length === 2, "A's two m-lines");
  const aMid = presenterMlines(first, A.id).find((m) => m.kind === 'audio').mid;
  const vMid = presenterMlines(first, A.id).find((m) => m.kind === 'video').mid;
  assert.deepEqual(mlineCodecs(first.mlines.find((m) => m.mid === vMid)).map((c) => c.name), ['vp8'], `A's video m-line offers VP8:\n${describeOffer(first)}`);
  await a.waitConnected();
  await a.waitPackets(vMid, a1.video, 40);
  await a.waitPackets(aMid, a1.audio, 50);

  // A publishes again on its PeerConnection, with a new video sender (new SSRC, new sequence number
  // and timestamp origins): the attendee's m-line stays active, so it is the same RTP stream.
  let from = a.offers.length;
  const inPlace = await A.republishVideoInPlace('vp8');
  assertEvent(inPlace.data, 'published', 'A publishes again on the same PeerConnection');
  const a2 = { ...A.epochs };
  await waitOffer(a, (o) => presenterMlines(o, A.id).length === 2, "A's m-lines after the in-place republish", from);
  await a.waitPackets(vMid, a2.video, 40);
  for (const o of a.offers) {
    const m = o.mlines.find((x) => x.mid === vMid);
    assert.equal(m?.direction, 'sendonly', `m-line ${vMid} stays active through the in-place republish:\n${a.offers.map(describeOffer).join('\n')}`);
  }
  const ssrcsV = new Set(a.onMid(vMid).map((x) => x.ssrc));
  assert.equal(ssrcsV.size, 1, `the attendee's video m-line kept its SSRC while active (${[...ssrcsV]})`);

  // A unpublishes: its m-lines stay, inactive.
  from = a.offers.length;
  await unpublish(A);
  const off = await waitOffer(a, (o) => presenterMlines(o, A.id).length === 0, "A's m-lines inactive", from);
  for (const mid of [aMid, vMid]) {
    const m = off.mlines.find((x) => x.mid === mid);
    assert.ok(m && m.direction === 'inactive' && m.port !== 0, `after unpublish m-line ${mid} is kept, inactive:\n${describeOffer(off)}`);
  }

  // A republishes with a new PeerConnection: new SSRCs and new sequence/timestamp origins.
  from = a.offers.length;
  await publish(A, 'vp8');
  const a3 = { ...A.epochs };
  const ssrcA3 = sdpMlines(A.offerSdp).map((m) => m.ssrcs[0]);
  assert.ok(ssrcA3.every((x) => !ssrcA1.includes(x)), `the republish uses new SSRCs (${ssrcA1} then ${ssrcA3})`);
  const back = await waitOffer(a, (o) => presenterMlines(o, A.id).length === 2, "A's m-lines active again", from);
  assert.deepEqual(presenterMlines(back, A.id).map((m) => m.mid).sort(), [aMid, vMid].sort(),
    `A's republished streams are on the same m-lines:\n${describeOffer(back)}`);
  await a.waitPackets(vMid, a3.video, 40);
  await a.waitPackets(aMid, a3.audio, 50);

  // A leaves; B publishes and reuses A's inactive m-lines.
  from = a.offers.length;
  assertEvent((await A.h.request({ request: 'leave' })).data, 'left', 'A leaves');
  await A.stopMedia();
  await waitOffer(a, (o) => presenterMlines(o, A.id).length === 0 && o.why === 'updated', "A's m-lines inactive after it left", from);
  from = a.offers.length;
  const B = await joinPresenter(room, 'B', 'vp8');
  await publish(B, 'vp8');
  const withB = await waitOffer(a, (o) => presenterMlines(o, B.id).length === 2, "B's two m-lines", from);
  assert.deepEqual(presenterMlines(withB, B.id).map((m) => m.mid).sort(), [aMid, vMid].sort(),
    `B reuses A's inactive m-lines:\n${describeOffer(withB)}`);
  assert.equal(withB.mlines.length, first.mlines.length, `no m-line was added for B:\n${describeOffer(withB)}`);
  await a.waitPackets(vMid, B.epochs.video, 40);
  await a.waitPackets(aMid, B.epochs.audio, 50);

  assertStableMlines(a);
  assertContinuity(a, vMid, 'video', [a1.video, a2.video, a3.video, B.epochs.video]);
  assertContinuity(a, aMid, 'audio', [a1.audio, a3.audio, B.epochs.audio]);
});

// ---- 3. Continuity when a stream's codec changes on an active m-line ----

test('sequence numbers and timestamps continue when a presenter switches its video codec in place (VP8 -> H.264 -> VP8)', async () => {
  const room = 'codec-change';
  const C = await joinPresenter(room, 'C', 'vp8');
  await publish(C, 'vp8');
  const c1 = { ...C.epochs };

  const a = await joinAttendee(room, 'codec-watcher');
  const first = await waitOffer(a, (o) => presenterMlines(o, C.id).length === 2, "C's two m-lines");
  const vMid = presenterMlines(first, C.id).find((m) => m.kind === 'video').mid;
  const aMid = presenterMlines(first, C.id).find((m) => m.kind === 'audio').mid;
  await a.waitConnected();
  await a.waitPackets(vMid, c1.video, 40);

  // Publish again on the same PeerConnection with an H.264-only video sender, then with VP8 again:
  // the attendee's video m-line stays active (same SSRC) and changes codec.
  const epochs = [c1.video];
  for (const codec of ['h264', 'vp8']) {
    const from = a.offers.length;
    const r = await C.republishVideoInPlace(codec);
    assertEvent(r.data, 'published', `C publishes ${codec} on the same PeerConnection`);
    assert.deepEqual((r.data.streams || []).map((x) => `${x.kind}:${String(x.codec).toLowerCase()}`).sort(), ['audio:opus', `video:${codec}`],
      `published streams after switching to ${codec}: ${safeJson(r.data)}`);
    const o = await waitOffer(a, (x) => presenterMlines(x, C.id).some((m) => m.kind === 'video' && mlineCodecs(m)[0]?.name === codec),
      `C's video m-line offering ${codec}`, from);
    const vm = presenterMlines(o, C.id).find((m) => m.kind === 'video');
    assert.equal(vm.mid, vMid, `the ${codec} stream stays on m-line ${vMid}:\n${describeOffer(o)}`);
    await a.waitPackets(vMid, C.epochs.video, 40);
    const pt = mlineCodecs(vm)[0].pt;
    const got = a.onMid(vMid).filter((x) => x.src && x.src.epoch === C.epochs.video);
    assert.ok(got.every((x) => x.pt === pt), `${codec} packets carry the payload type ${pt} of the new offer: ${summarize(got)}`);
    epochs.push(C.epochs.video);
  }
  for (const o of a.offers) {
    assert.equal(o.mlines.find((x) => x.mid === vMid)?.direction, 'sendonly', `m-line ${vMid} stays active:\n${a.offers.map(describeOffer).join('\n')}`);
  }
  const ssrcs = new Set(a.onMid(vMid).map((x) => x.ssrc));
  assert.equal(ssrcs.size, 1, `the attendee's video m-line kept its SSRC while active (${[...ssrcs]})`);

  assertStableMlines(a);
  assertContinuity(a, aMid, 'audio', [c1.audio]);
  assertContinuity(a, vMid, 'video', epochs);
});

test('the packets above went through the relay helpers: two threads, none dropped', async () => {
  const r = await janus.admin({ request: 'status' });
  const relay = r.node && r.node.relay;
  assert.ok(relay, `status.node.relay: ${safeJson(r)}`);
  assert.equal(relay.threads, 2);
  assert.equal(relay.dropped, 0);
  assert.ok(Number.isInteger(relay.queued) && relay.queued >= 0);
});
