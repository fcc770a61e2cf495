// Issue 6, isolation (docs/security.md): tenant A's credentials over a plugin handle never read or
// change tenant B's rooms (room_info, kick, edit, destroy, schedule, start_now, pause, list,
// status), A's presenter_secret does not let anyone present in B's room, an attendee cannot
// publish, and an attendee whose answer claims to send is refused: its media never reaches anyone.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import wrtc from '@roamhq/wrtc';
import {
  Bag, Presenter, assertError, assertEvent, assertSuccess, attendee, createRoom, createTenant, handle, joinBody,
  presenter, roomInfo, safeJson, sdpMlines, startJanus, waitCounts, waitFor,
} from './lib/allhands.mjs';
import { SyntheticSource } from './lib/media.mjs';

const SA = 'tenant-a-secret-5d1e0c';
const SB = 'tenant-b-secret-77a9f2';
const PSA = 'presenter-a-secret-3b8';
const PSB = 'presenter-b-secret-c41';
const PIN_B = 'pin-b-9914';
let janus;
const bag = new Bag();
const replies = []; // every reply, to check that no secret is echoed

before(async () => {
  janus = await startJanus('isolation', { capacity: 20, wave_size: 10, wave_interval_ms: 200, admit_timeout_ms: 60000 });
  await createTenant(janus, { tenant: 'ta', max_participants: 10, secret: SA });
  await createTenant(janus, { tenant: 'tb', max_participants: 10, secret: SB });
  await createRoom(janus, { tenant: 'ta', room: 'ra', max_attendees: 10, presenter_secret: PSA });
  await createRoom(janus, { tenant: 'ta', room: 'same', max_attendees: 10, presenter_secret: PSA });
  await createRoom(janus, { tenant: 'tb', room: 'rb', max_attendees: 9, presenter_secret: PSB, pin: PIN_B });
  await createRoom(janus, { tenant: 'tb', room: 'same', max_attendees: 8, presenter_secret: PSB });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

async function send(h, body, jsep) {
  const r = await h.request(body, jsep);
  replies.push(r);
  return r.data;
}

test("tenant A's secret is refused on every request about tenant B's rooms", async () => {
  const h = await handle(janus, bag);
  // A's secret presented as tenant B: unauthorized (the secret is B's or nothing).
  const asB = { tenant: 'tb', tenant_secret: SA };
  const requests = [
    { request: 'room_info', room: 'rb' },
    { request: 'kick', room: 'rb', id: 1 },
    { request: 'edit_room', room: 'rb', max_attendees: 1 },
    { request: 'destroy_room', room: 'rb' },
    { request: 'set_schedule', room: 'rb' },
    { request: 'start_now', room: 'rb' },
    { request: 'occurrences', room: 'rb' },
    { request: 'pause', room: 'rb' },
    { request: 'resume', room: 'rb' },
    { request: 'list_rooms' },
    { request: 'status' },
    { request: 'create_room', room: 'evil', max_attendees: 1, presenter_secret: 'x-presenter' },
  ];
  // Each from its own Janus session: one session gets ten failed credentials (too_many_failures after).
  for (const r of requests) {
    assertError(await send(await handle(janus, bag), { ...r, ...asB }), 606, 'unauthorized', `${r.request} as tb with A's secret`);
  }

  // A's own credentials naming B's room: rooms are looked up inside A only.
  const asA = { tenant: 'ta', tenant_secret: SA };
  for (const r of requests.slice(0, 8)) {
    if (r.request === 'set_schedule' || r.request === 'occurrences') continue;
    assertError(await send(h, { ...r, ...asA }), 610, 'no_such_room', `${r.request} of rb with A's credentials`);
  }
  // Operator requests, even about B: forbidden to a tenant.
  assertError(await send(h, { request: 'list_tenants', ...asA }), 607, 'forbidden', 'list_tenants');
  assertError(await send(h, { request: 'edit_tenant', tenant: 'tb', tenant_secret: SA, max_participants: 1 }), 606, 'unauthorized', 'edit_tenant tb');
  assertError(await send(h, { request: 'edit_tenant', ...asA, max_participants: 1000 }), 607, 'forbidden', 'edit_tenant ta');
  assertError(await send(h, { request: 'destroy_tenant', tenant: 'tb', tenant_secret: SA }), 606, 'unauthorized', 'destroy_tenant tb');
  assertError(await send(h, { request: 'set_capacity', ...asA, capacity: 1 }), 607, 'forbidden', 'set_capacity');

  // Both tenants have a room "same": A's edit changes A's, never B's.
  const edited = await send(h, { request: 'edit_room', ...asA, room: 'same', max_attendees: 3 });
  assertSuccess(edited, 'edit_room ta/same');
  assert.equal(edited.room.tenant, 'ta');

  // list_rooms and status with A's credentials show A only.
  const list = await send(h, { request: 'list_rooms', ...asA });
  assertSuccess(list, 'list_rooms');
  assert.deepEqual(list.rooms.map((x) => `${x.tenant}/${x.room}`).sort(), ['ta/ra', 'ta/same']);
  const listB = await send(h, { request: 'list_rooms', ...asA, tenant: 'ta' });
  assert.ok(listB.rooms.every((x) => x.tenant === 'ta'), safeJson(listB));
  const st = await send(h, { request: 'status', ...asA });
  assertSuccess(st, 'status');
  assert.deepEqual((st.tenants || []).map((t) => t.tenant), ['ta'], `status shows only ta: ${safeJson(st)}`);
  assert.ok(!JSON.stringify(st).includes('"tb"'), `status mentions nothing of tb: ${safeJson(st)}`);

  // B's rooms are exactly as created.
  const rb = await roomInfo(janus, 'tb', 'rb');
  assert.equal(rb.max_attendees, 9);
  assert.equal(rb.pin_required, true);
  assert.ok(!rb.paused, `rb not paused: ${safeJson(rb)}`);
  assert.equal((await roomInfo(janus, 'tb', 'same')).max_attendees, 8);
  const all = await janus.admin({ request: 'list_rooms' });
  assert.deepEqual(all.rooms.map((x) => `${x.tenant}/${x.room}`).sort(), ['ta/ra', 'ta/same', 'tb/rb', 'tb/same']);
});

test("A's presenter_secret does not let anyone present in B's room", async () => {
  const h = await handle(janus, bag);
  assertError(await send(h, joinBody({ tenant: 'tb', room: 'same', ptype: 'presenter', presenter_secret: PSA })), 613, 'wrong_secret', 'present in tb/same with PSA');
  assertError(await send(h, joinBody({ tenant: 'tb', room: 'rb', ptype: 'presenter', presenter_secret: PSA, pin: PIN_B })), 613, 'wrong_secret', 'present in tb/rb with PSA');
  // And a join to B's room under A's tenant id finds nothing.
  assertError(await send(h, joinBody({ tenant: 'ta', room: 'rb', ptype: 'presenter', presenter_secret: PSB })), 610, 'no_such_room', 'ta/rb');
  await waitCounts(janus, { presenters: 0, admitted: 0 }, { tenant: 'tb', room: 'rb' });
});

test('an attendee cannot publish: not_presenter, with or without an offer', async () => {
  const a = await attendee(janus, bag, { autoStart: false });
  const j = await a.join(joinBody({ tenant: 'ta', room: 'ra', display: 'would-be publisher' }));
  assertEvent(j.data, 'admitted', 'attendee join');
  assertError(await send(a.h, { request: 'publish' }), 618, 'not_presenter', 'publish without jsep');
  // With a real offer carrying media: the same refusal, and no answer. (On a queued attendee: an
  // admitted one has our offer pending, and Janus itself refuses a second offer with 490.)
  await createRoom(janus, { tenant: 'ta', room: 'zero', max_attendees: 0, presenter_secret: PSA });
  const q = await attendee(janus, bag, { autoStart: false });
  const qj = await q.join(joinBody({ tenant: 'ta', room: 'zero', display: 'queued publisher' }));
  assertEvent(qj.data, 'queued', 'queued attendee join');
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  bag.add(() => pc.close());
  const src = new SyntheticSource({ audio: true, video: true });
  bag.add(() => src.stop());
  for (const t of src.tracks) pc.addTransceiver(t, { direction: 'sendonly' });
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const r = await q.h.request({ request: 'publish' }, { type: 'offer', sdp: offer.sdp });
  replies.push(r);
  assertError(r.data, 618, 'not_presenter', 'publish with an offer');
  assert.equal(r.jsep, null, `no answer to an attendee's offer: ${safeJson(r)}`);
  for (const room of ['ra', 'zero']) {
    const info = await roomInfo(janus, 'ta', room);
    assert.equal(info.counts.presenters, 0, safeJson(info));
  }
});

// Answer `offer` as a receiver that claims to send: every m-line sendrecv, with a synthetic track on
// each, so that (had the plugin let it through) it would really send media.
async function sendingAnswer(h, offer, src) {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  h.pc = pc;
  pc.addEventListener('icecandidate', (e) => { if (!e.candidate) h.trickleComplete().catch(() => {}); });
  await pc.setRemoteDescription(offer);
  for (const tr of pc.getTransceivers()) {
    const track = tr.receiver.track.kind === 'audio' ? src.audioTrack : src.videoTrack;
    tr.direction = 'sendrecv';
    await tr.sender.replaceTrack(track);
  }
  const answer = await pc.createAnswer();
  const munged = answer.sdp.replace(/a=(recvonly|inactive)\r\n/g, 'a=sendrecv\r\n');
  try { await pc.setLocalDescription({ type: 'answer', sdp: munged }); } catch { await pc.setLocalDescription(answer); }
  await new Promise((r) => setTimeout(r, 500)); // gathering (no trickle needed on one veth)
  return { pc, sdp: pc.localDescription.sdp.replace(/a=(recvonly|inactive)\r\n/g, 'a=sendrecv\r\n') };
}

test("an attendee whose answer sends is refused and its media reaches no one", async () => {
  const p = await presenter(janus, bag, { tenant: 'ta', room: 'ra', presenter_secret: PSA, display: 'Speaker' });
  const good = await attendee(janus, bag);
  assertEvent((await good.join(joinBody({ tenant: 'ta', room: 'ra', display: 'good' }))).data, 'admitted', 'good join');
  await good.waitMedia({ timeout: 30000 });

  const evilH = await handle(janus, bag);
  const join = await evilH.request(joinBody({ tenant: 'ta', room: 'ra', display: 'evil' }));
  assertEvent(join.data, 'admitted', 'evil join');
  assert.equal(join.jsep?.type, 'offer');
  assert.ok(sdpMlines(join.jsep.sdp).every((m) => m.port === 0 || m.direction !== 'sendrecv'), 'our offer is sendonly');
  const src = new SyntheticSource({ audio: true, video: true });
  bag.add(() => src.stop());
  const { pc, sdp } = await sendingAnswer(evilH, join.jsep, src);
  bag.add(() => pc.close());
  assert.ok(sdpMlines(sdp).some((m) => m.direction === 'sendrecv'), 'the munged answer claims sendrecv');
  const r = await evilH.request({ request: 'start' }, { type: 'answer', sdp });
  replies.push(r);
  assertError(r.data, 616, 'invalid_jsep', 'start with a sending answer');
  assert.match(r.data.error, /must not send/);

  // The good attendee keeps receiving exactly the presenter's two streams, nothing more; the evil
  // one never becomes active.
  await new Promise((res) => setTimeout(res, 3000));
  const inbound = await good.inbound();
  const ssrcs = new Set(inbound.filter((s) => s.packetsReceived > 0).map((s) => s.ssrc));
  assert.equal(ssrcs.size, 2, `good attendee receives the presenter's audio and video only: ${safeJson(inbound)}`);
  assert.equal(good.tracks.length, 2, `no extra track appears at the good attendee: ${good.tracks.length}`);
  const counts = (await roomInfo(janus, 'ta', 'ra')).counts;
  assert.equal(counts.active, 1, `only the good attendee is active: ${safeJson(counts)}`);
  assert.equal(counts.presenters, 1);
  await waitFor(() => evilH.hungup || pc.connectionState !== 'connected', { timeout: 10000, what: 'the evil PeerConnection is closed or never connects' });
  // What the evil attendee may have sent never counted: the presenter receives nothing either.
  const pstats = await p.pc.getStats();
  let presenterInbound = 0;
  pstats.forEach((s) => { if (s.type === 'inbound-rtp') presenterInbound += s.packetsReceived || 0; });
  assert.equal(presenterInbound, 0, 'the presenter receives no media');
});

test('no secret in any reply or in the Janus log', async () => {
  const text = JSON.stringify(replies);
  for (const s of [SA, SB, PSA, PSB, PIN_B, janus.adminKey]) assert.ok(!text.includes(s), `a reply contains secret ${s}`);
  const all = JSON.stringify([await janus.admin({ request: 'status' }), await janus.admin({ request: 'list_tenants' }),
    await janus.admin({ request: 'list_rooms' })]);
  for (const s of [SA, SB, PSA, PSB, PIN_B]) assert.ok(!all.includes(s), `status/list contains secret ${s}`);
  const log = fs.readFileSync(janus.logFile, 'utf8');
  for (const s of [SA, SB, PSA, PSB, PIN_B, janus.adminKey, janus.adminSecret]) {
    assert.ok(!log.includes(s), `the Janus log contains secret ${s}`);
  }
  // The state file is owner-only.
  const mode = fs.statSync(janus.stateFile).mode & 0o777;
  assert.equal(mode, 0o600, `state file mode ${mode.toString(8)}`);
});
