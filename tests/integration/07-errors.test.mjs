// (g) Every error of docs/api.md's table that a client or operator can provoke gets its code and
// name, changes nothing, and Janus stays up.
// 600 no_message is reachable only as an Admin API message_plugin without "request". Not
// provokable through Janus: 601 invalid_json (Janus's core rejects a non-object "body" or
// "request" before the plugin sees it: checked below as a Janus error), 620 unavailable
// (shutdown) and 699 internal. 617 is covered in 03-tenant-cap, 619 in 06-restart.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import wrtc from '@roamhq/wrtc';
import {
  Bag, assertError, assertEvent, assertSuccess, attendee, createRoom, createTenant, handle, joinBody, presenter,
  startJanus, status, safeJson,
} from './lib/allhands.mjs';

const SA = 'secret-of-tenant-a-93f1';
const SB = 'secret-of-tenant-b-4c7e';
const PS = 'presenter-secret-a-11';
const PIN = 'pin-7731';
let janus;
let key;
const bag = new Bag();
const seen = []; // every reply, to check that no secret is ever echoed

before(async () => {
  janus = await startJanus('errors', { capacity: 20, wave_size: 5, wave_interval_ms: 300, admit_timeout_ms: 60000 });
  key = janus.adminKey;
  await createTenant(janus, { tenant: 'ta', max_participants: 20, secret: SA });
  await createTenant(janus, { tenant: 'tb', max_participants: 20, secret: SB });
  await createRoom(janus, { tenant: 'ta', room: 'room1', pin: PIN, presenter_secret: PS });
  await createRoom(janus, { tenant: 'ta', room: 'full', max_attendees: 0, presenter_secret: PS });
  await createRoom(janus, { tenant: 'tb', room: 'room1', presenter_secret: 'presenter-secret-b' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

// Send on a handle and record the reply.
async function send(h, body, jsep) {
  const r = await h.request(body, jsep);
  seen.push(r.data);
  return r;
}
async function adminSend(request) {
  const r = await janus.admin(request);
  seen.push(r);
  return r;
}
function expectNames(data, element) {
  assert.ok(String(data.error).includes(element), `the error message names "${element}": ${safeJson(data)}`);
}

test('malformed requests: missing/unknown request, missing and mistyped elements (handle and Admin API)', async () => {
  const h = await handle(janus, bag);
  assertError((await send(h, {})).data, 602, 'missing_request', 'empty body');
  assertError((await send(h, { tenant: 'ta' })).data, 602, 'missing_request', 'body without request');
  assertError((await send(h, { request: 'dance' })).data, 603, 'unknown_request', 'unknown request');
  assertError((await send(h, { request: 7 })).data, 605, 'invalid_element', 'request is a number');
  assertError(await adminSend({}), 602, 'missing_request', 'Admin API: empty request');
  assertError(await adminSend({ request: 'dance' }), 603, 'unknown_request', 'Admin API: unknown request');

  const cases = [
    [{ request: 'join', room: 'room1', pin: PIN }, 604, 'missing_element', 'tenant'],
    [{ request: 'join', tenant: 'ta', pin: PIN }, 604, 'missing_element', 'room'],
    [{ request: 'join', tenant: 5, room: 'room1', pin: PIN }, 605, 'invalid_element', 'tenant'],
    [{ request: 'join', tenant: 'ta', room: ['room1'], pin: PIN }, 605, 'invalid_element', 'room'],
    [{ request: 'join', tenant: 'bad id!', room: 'room1', pin: PIN }, 605, 'invalid_element', 'tenant'],
    [{ request: 'join', tenant: 't'.repeat(65), room: 'room1', pin: PIN }, 605, 'invalid_element', 'tenant'],
    [{ request: 'join', tenant: 'ta', room: '', pin: PIN }, 605, 'invalid_element', 'room'],
    [{ request: 'join', tenant: 'ta', room: 'room1', pin: PIN, ptype: 'speaker' }, 605, 'invalid_element', 'ptype'],
    [{ request: 'join', tenant: 'ta', room: 'room1', pin: PIN, display: 'd'.repeat(129) }, 605, 'invalid_element', 'display'],
    [{ request: 'join', tenant: 'ta', room: 'room1', pin: PIN, display: 42 }, 605, 'invalid_element', 'display'],
    [{ request: 'join', tenant: 'ta', room: 'room1', pin: 1234 }, 605, 'invalid_element', 'pin'],
  ];
  for (const [body, code, name, element] of cases) {
    const r = await send(h, body);
    assertError(r.data, code, name, safeJson(body).slice(0, 120));
    expectNames(r.data, element);
  }
  // Mistyped and missing elements in admin requests (Admin API and handle with admin_key).
  const adminCases = [
    [{ request: 'create_tenant', tenant: 'nt', secret: 's-tenant-secret-1' }, 604, 'missing_element', 'max_participants'],
    [{ request: 'create_tenant', tenant: 'nt', max_participants: 3 }, 604, 'missing_element', 'secret'],
    [{ request: 'create_tenant', max_participants: 3, secret: 's-tenant-secret-1' }, 604, 'missing_element', 'tenant'],
    [{ request: 'create_tenant', tenant: 'nt', max_participants: -1, secret: 's-tenant-secret-1' }, 605, 'invalid_element', 'max_participants'],
    [{ request: 'create_tenant', tenant: 'nt', max_participants: '3', secret: 's-tenant-secret-1' }, 605, 'invalid_element', 'max_participants'],
    [{ request: 'create_tenant', tenant: 'nt', max_participants: 1.5, secret: 's-tenant-secret-1' }, 605, 'invalid_element', 'max_participants'],
    [{ request: 'create_tenant', tenant: 'n t', max_participants: 3, secret: 's-tenant-secret-1' }, 605, 'invalid_element', 'tenant'],
    [{ request: 'create_room', tenant: 'ta', room: 'nr', presenter_secret: 'x-presenter' }, 604, 'missing_element', 'max_attendees'],
    [{ request: 'create_room', tenant: 'ta', room: 'nr', max_attendees: 3 }, 604, 'missing_element', 'presenter_secret'],
    [{ request: 'create_room', tenant: 'ta', room: 'n/r', max_attendees: 3, presenter_secret: 'x-presenter' }, 605, 'invalid_element', 'room'],
    [{ request: 'create_room', tenant: 'ta', room: 'nr', max_attendees: true, presenter_secret: 'x-presenter' }, 605, 'invalid_element', 'max_attendees'],
    [{ request: 'edit_room', tenant: 'ta', room: 'room1', max_attendees: -3 }, 605, 'invalid_element', 'max_attendees'],
    [{ request: 'room_info', tenant: 'ta' }, 604, 'missing_element', 'room'],
    [{ request: 'kick', tenant: 'ta', room: 'room1' }, 604, 'missing_element', 'id'],
    [{ request: 'kick', tenant: 'ta', room: 'room1', id: 'one' }, 605, 'invalid_element', 'id'],
    [{ request: 'set_capacity', wave_size: 'x' }, 605, 'invalid_element', 'wave_size'],
    [{ request: 'set_capacity', capacity: -5 }, 605, 'invalid_element', 'capacity'],
    [{ request: 'set_capacity', admit_timeout_ms: 2.5 }, 605, 'invalid_element', 'admit_timeout_ms'],
    [{ request: 'destroy_tenant' }, 604, 'missing_element', 'tenant'],
  ];
  for (const [body, code, name, element] of adminCases) {
    const r = await adminSend(body);
    assertError(r, code, name, `Admin API ${safeJson(body)}`);
    expectNames(r, element);
    const r2 = await send(h, { ...body, admin_key: key });
    assertError(r2.data, code, name, `handle+admin_key ${safeJson(body)}`);
  }
  // set_capacity bounds (docs/api.md): capacity 0..1000000, wave_size 1..100000,
  // wave_interval_ms 0..3600000, admit_timeout_ms 100..3600000.
  for (const [k, bad] of [['capacity', 1000001], ['wave_size', 0], ['wave_size', 100001], ['wave_interval_ms', 3600001],
    ['admit_timeout_ms', 99], ['admit_timeout_ms', 3600001]]) {
    const r = await adminSend({ request: 'set_capacity', [k]: bad });
    assertError(r, 605, 'invalid_element', `set_capacity ${k}=${bad}`);
    expectNames(r, k);
  }
  const edge = await adminSend({ request: 'set_capacity', capacity: 1000000, wave_size: 100000, wave_interval_ms: 0, admit_timeout_ms: 100 });
  assertSuccess(edge, 'set_capacity at the bounds');
  const restored = await adminSend({ request: 'set_capacity', capacity: 20, wave_size: 5, wave_interval_ms: 300, admit_timeout_ms: 60000 });
  assert.equal(restored.node.capacity, 20);
  // Participant requests exist only on plugin handles.
  for (const request of ['join', 'start', 'publish', 'unpublish', 'leave']) {
    assertError(await adminSend({ request, tenant: 'ta', room: 'room1', pin: PIN }), 603, 'unknown_request', `Admin API ${request}`);
  }
  // Nothing was created by the failed requests.
  const lt = await adminSend({ request: 'list_tenants' });
  assert.deepEqual(lt.tenants.map((t) => t.tenant).sort(), ['ta', 'tb']);
  const lr = await adminSend({ request: 'list_rooms', tenant: 'ta' });
  assert.deepEqual(lr.rooms.map((r) => r.room).sort(), ['full', 'room1']);
});

test('unknown tenant/room, existing tenant/room, unknown participant', async () => {
  const h = await handle(janus, bag);
  assertError((await send(h, joinBody({ tenant: 'nobody', room: 'room1' }))).data, 608, 'no_such_tenant', 'join unknown tenant');
  assertError((await send(h, joinBody({ tenant: 'ta', room: 'nowhere', pin: PIN }))).data, 610, 'no_such_room', 'join unknown room');
  assertError(await adminSend({ request: 'create_room', tenant: 'nobody', room: 'r', max_attendees: 1, presenter_secret: 'x-presenter' }), 608, 'no_such_tenant');
  assertError(await adminSend({ request: 'edit_tenant', tenant: 'nobody', max_participants: 3 }), 608, 'no_such_tenant');
  assertError(await adminSend({ request: 'destroy_tenant', tenant: 'nobody' }), 608, 'no_such_tenant');
  assertError(await adminSend({ request: 'room_info', tenant: 'nobody', room: 'room1' }), 608, 'no_such_tenant');
  assertError(await adminSend({ request: 'room_info', tenant: 'ta', room: 'nowhere' }), 610, 'no_such_room');
  assertError(await adminSend({ request: 'edit_room', tenant: 'ta', room: 'nowhere', max_attendees: 2 }), 610, 'no_such_room');
  assertError(await adminSend({ request: 'destroy_room', tenant: 'ta', room: 'nowhere' }), 610, 'no_such_room');
  assertError(await adminSend({ request: 'create_tenant', tenant: 'ta', max_participants: 1, secret: 'other-tenant-secret-1' }), 609, 'tenant_exists');
  assertError(await adminSend({ request: 'create_room', tenant: 'ta', room: 'room1', max_attendees: 1, presenter_secret: 'x-presenter' }), 611, 'room_exists');
  assertError(await adminSend({ request: 'kick', tenant: 'ta', room: 'room1', id: 123456789 }), 615, 'no_such_participant', 'kick unknown id');
  assertError((await send(h, { request: 'kick', tenant: 'ta', room: 'room1', id: 987654321, admin_key: key })).data, 615, 'no_such_participant');
  // The failed create_tenant changed nothing: ta's secret still works, "other" does not.
  assertSuccess((await send(h, { request: 'room_info', tenant: 'ta', room: 'room1', tenant_secret: SA })).data, 'ta secret unchanged');
  assertError((await send(h, { request: 'room_info', tenant: 'ta', room: 'room1', tenant_secret: 'other-tenant-secret-1' })).data, 606, 'unauthorized');
});

test('wrong pin, wrong presenter secret, join twice, leave and join again', async () => {
  const h = await handle(janus, bag);
  assertError((await send(h, joinBody({ tenant: 'ta', room: 'room1', pin: 'nope' }))).data, 612, 'wrong_pin', 'wrong pin');
  assertError((await send(h, joinBody({ tenant: 'ta', room: 'room1' }))).data, 612, 'wrong_pin', 'missing pin');
  assertError((await send(h, joinBody({ tenant: 'ta', room: 'room1', ptype: 'presenter', presenter_secret: 'nope-presenter' }))).data, 613, 'wrong_secret');
  assertError((await send(h, joinBody({ tenant: 'ta', room: 'room1', ptype: 'presenter' }))).data, 613, 'wrong_secret', 'missing presenter_secret');
  const a = await attendee(janus, bag, { autoStart: false });
  const j = await a.join(joinBody({ tenant: 'ta', room: 'room1', pin: PIN, display: 'twice' }));
  seen.push(j.data);
  assertEvent(j.data, 'admitted');
  assertError((await send(a.h, joinBody({ tenant: 'ta', room: 'room1', pin: PIN }))).data, 614, 'wrong_state', 'join twice');
  assertError((await send(a.h, joinBody({ tenant: 'tb', room: 'room1' }))).data, 614, 'wrong_state', 'join another room while joined');
  assertEvent((await send(a.h, { request: 'leave' })).data, 'left');
  const again = await send(a.h, joinBody({ tenant: 'ta', room: 'room1', pin: PIN, display: 'again' }));
  assertEvent(again.data, 'admitted', 'join again after leave');
  assertEvent((await send(a.h, { request: 'leave' })).data, 'left');
});

test('wrong_state and invalid_jsep: start while queued, start without JSEP, publish/unpublish/leave before join', async () => {
  const h = await handle(janus, bag);
  assertError((await send(h, { request: 'start' })).data, 614, 'wrong_state', 'start before join');
  assertError((await send(h, { request: 'publish' })).data, 614, 'wrong_state', 'publish before join');
  assertError((await send(h, { request: 'unpublish' })).data, 614, 'wrong_state', 'unpublish before join');
  assertError((await send(h, { request: 'leave' })).data, 614, 'wrong_state', 'leave before join');
  // A JSEP sent with join is invalid_jsep, and changes nothing (the handle can still join).
  const pc = new wrtc.RTCPeerConnection();
  bag.add(() => pc.close());
  pc.createDataChannel('x');
  const offer = await pc.createOffer();
  assertError((await send(h, joinBody({ tenant: 'tb', room: 'room1' }), { type: 'offer', sdp: offer.sdp })).data, 616, 'invalid_jsep', 'join with a JSEP');
  await h.hangup().catch(() => {});
  const ok = await send(h, joinBody({ tenant: 'tb', room: 'room1', display: 'after jsep' }));
  assertEvent(ok.data, 'admitted', 'join after the rejected join');
  assertEvent((await send(h, { request: 'leave' })).data, 'left');

  // Queued (room with max_attendees 0): start is wrong_state.
  const q = await attendee(janus, bag, { autoStart: false });
  const jq = await q.join(joinBody({ tenant: 'ta', room: 'full', display: 'queued' }));
  assertEvent(jq.data, 'queued', 'room with max_attendees 0');
  assertError((await send(q.h, { request: 'start' })).data, 614, 'wrong_state', 'start while queued');
  assertEvent((await send(q.h, { request: 'leave' })).data, 'left', 'leave the queue');

  // Admitted with an offer outstanding: start without a JSEP is invalid_jsep.
  const a = await attendee(janus, bag, { autoStart: false });
  const ja = await a.join(joinBody({ tenant: 'ta', room: 'room1', pin: PIN }));
  assertEvent(ja.data, 'admitted');
  assertError((await send(a.h, { request: 'start' })).data, 616, 'invalid_jsep', 'start without JSEP');
  // ... and the offer is still outstanding: answering it works.
  const st = await a.answer(ja.jsep);
  assertEvent(st.data, 'started', 'start with the answer after a failed start');
  // No offer outstanding any more.
  assertError((await send(a.h, { request: 'start' })).data, 614, 'wrong_state', 'start twice');
  assertEvent((await send(a.h, { request: 'leave' })).data, 'left');
});

test('publish: not_presenter for attendees, invalid_jsep without an offer or without a usable stream', async () => {
  // A queued attendee (no PeerConnection yet) tries to publish a real offer.
  const q = await attendee(janus, bag, { autoStart: false });
  assertEvent((await q.join(joinBody({ tenant: 'ta', room: 'full' }))).data, 'queued');
  const fake = new wrtc.RTCPeerConnection();
  bag.add(() => fake.close());
  const src = new wrtc.nonstandard.RTCAudioSource();
  const track = src.createTrack();
  bag.add(() => track.stop());
  fake.addTransceiver(track, { direction: 'sendonly' });
  const offer = await fake.createOffer();
  assertError((await send(q.h, { request: 'publish' }, { type: 'offer', sdp: offer.sdp })).data, 618, 'not_presenter', 'attendee publishes');
  assertEvent((await send(q.h, { request: 'leave' })).data, 'left');

  // A joined attendee: publish and unpublish are not_presenter.
  const att = await attendee(janus, bag, { autoStart: false });
  assertEvent((await att.join(joinBody({ tenant: 'ta', room: 'room1', pin: PIN }))).data, 'admitted');
  assertError((await send(att.h, { request: 'unpublish' })).data, 618, 'not_presenter', 'attendee unpublishes');
  assertError((await send(att.h, { request: 'publish' })).data, 618, 'not_presenter', 'admitted attendee publishes (no JSEP)');
  assertEvent((await send(att.h, { request: 'leave' })).data, 'left');

  // A presenter without a JSEP, and with an offer that has no audio/video (data channel only).
  const p = await presenter(janus, bag, { tenant: 'ta', room: 'room1', presenter_secret: PS, publish: false });
  assertError((await send(p.h, { request: 'unpublish' })).data, 614, 'wrong_state', 'unpublish when not publishing');
  assertError((await send(p.h, { request: 'publish' })).data, 616, 'invalid_jsep', 'publish without JSEP');
  const dc = new wrtc.RTCPeerConnection();
  bag.add(() => dc.close());
  dc.createDataChannel('x');
  const dcOffer = await dc.createOffer();
  const r = await send(p.h, { request: 'publish' }, { type: 'offer', sdp: dcOffer.sdp });
  assertError(r.data, 616, 'invalid_jsep', 'publish a data-channel-only offer');
  assertEvent((await send(p.h, { request: 'leave' })).data, 'left', 'presenter leave');
});

test('credentials over a plugin handle: unauthorized and forbidden', async () => {
  let h = await handle(janus, bag);
  // No credentials / wrong admin_key.
  for (const body of [
    { request: 'list_tenants' },
    { request: 'create_tenant', tenant: 'nx', max_participants: 1, secret: 's-tenant-secret-1' },
    { request: 'status' },
    { request: 'room_info', tenant: 'ta', room: 'room1' },
    { request: 'list_rooms' },
  ]) {
    assertError((await send(h, body)).data, 606, 'unauthorized', `no credentials: ${body.request}`);
    assertError((await send(h, { ...body, admin_key: 'wrong-key' })).data, 606, 'unauthorized', `wrong admin_key: ${body.request}`);
  }
  assertError((await send(h, { request: 'room_info', tenant: 'ta', room: 'room1', tenant_secret: 'wrong-tenant-secret-1' })).data, 606, 'unauthorized', 'wrong tenant_secret');
  // Tenant A's secret presented for tenant B: not a valid credential for B.
  assertError((await send(h, { request: 'room_info', tenant: 'tb', room: 'room1', tenant_secret: SA })).data, 606, 'unauthorized', "tenant A's secret on tenant B");
  assertError((await send(h, { request: 'destroy_room', tenant: 'tb', room: 'room1', tenant_secret: SA })).data, 606, 'unauthorized', "tenant A's secret destroying B's room");

  // Eight failed credentials so far: the next three would pass the session's limit of ten
  // (too_many_failures, tests/integration/22-limits.test.mjs), so they come from another session.
  h = await handle(janus, bag);
  // Credentials are checked before the request's other elements.
  assertError((await send(h, { request: 'create_tenant' })).data, 606, 'unauthorized', 'no credentials, missing elements');
  assertError((await send(h, { request: 'kick', tenant: 'ta', room: 'room1', id: 'x' })).data, 606, 'unauthorized', 'no credentials, mistyped id');
  // A wrong admin_key is unauthorized even with a valid tenant_secret.
  assertError((await send(h, { request: 'room_info', tenant: 'ta', room: 'room1', tenant_secret: SA, admin_key: 'wrong' })).data, 606, 'unauthorized', 'wrong admin_key + valid tenant_secret');
  // tenant_secret without tenant, or for an unknown tenant.
  assertError((await send(h, { request: 'list_rooms', tenant_secret: SA })).data, 606, 'unauthorized', 'tenant_secret without tenant');
  assertError((await send(h, { request: 'list_rooms', tenant: 'nobody', tenant_secret: SA })).data, 606, 'unauthorized', 'tenant_secret of an unknown tenant');

  // Tenant credentials on operator-only requests: forbidden.
  const tcred = { tenant: 'ta', tenant_secret: SA };
  for (const body of [
    { request: 'create_tenant', ...tcred, max_participants: 50, secret: 'x-tenant-secret-1' },
    { request: 'edit_tenant', ...tcred, max_participants: 500 },
    { request: 'destroy_tenant', ...tcred },
    { request: 'list_tenants', ...tcred },
    { request: 'set_capacity', ...tcred, capacity: 1000 },
  ]) {
    assertError((await send(h, body)).data, 607, 'forbidden', `tenant credentials: ${body.request}`);
  }
  // What a tenant may do: its own rooms, status and kick.
  const lr = await send(h, { request: 'list_rooms', ...tcred });
  assertSuccess(lr.data, 'tenant list_rooms');
  assert.deepEqual(lr.data.rooms.map((r) => `${r.tenant}/${r.room}`).sort(), ['ta/full', 'ta/room1']);
  const cr = await send(h, { request: 'create_room', ...tcred, room: 'own', max_attendees: 2, presenter_secret: 'own-ps-presenter' });
  assertSuccess(cr.data, 'tenant create_room');
  assert.equal(cr.data.room.tenant, 'ta');
  assertSuccess((await send(h, { request: 'edit_room', ...tcred, room: 'own', description: 'mine' })).data, 'tenant edit_room');
  assertSuccess((await send(h, { request: 'room_info', ...tcred, room: 'own' })).data, 'tenant room_info');
  assertError((await send(h, { request: 'kick', ...tcred, room: 'own', id: 42 })).data, 615, 'no_such_participant', 'tenant kick');
  const st = await send(h, { request: 'status', ...tcred });
  assertSuccess(st.data, 'tenant status');
  assert.deepEqual(st.data.tenants.map((t) => t.tenant), ['ta'], `a tenant's status shows only itself: ${safeJson(st.data.tenants)}`);
  assert.ok(!('node' in st.data), `a tenant's status has no node (operator only): ${safeJson(st.data)}`);
  assert.ok(st.data.rooms.every((r) => r.tenant === 'ta'), `a tenant's status shows only its rooms: ${safeJson(st.data.rooms)}`);
  assertSuccess((await send(h, { request: 'destroy_room', ...tcred, room: 'own' })).data, 'tenant destroy_room');
  // Nothing changed by the forbidden requests.
  const lt = await adminSend({ request: 'list_tenants' });
  const ta = lt.tenants.find((t) => t.tenant === 'ta');
  assert.equal(ta.max_participants, 20);
  assert.deepEqual(lt.tenants.map((t) => t.tenant).sort(), ['ta', 'tb']);
  const node = (await status(janus)).node;
  assert.equal(node.capacity, 20);
});

test('600 no_message via message_plugin without request; 601 is unreachable (Janus rejects non-object bodies); Janus stays up', async () => {
  // Admin API message_plugin without "request": Janus passes no message to the plugin.
  const adminNoReq = await janus.adminRaw({ janus: 'message_plugin', plugin: 'janus.plugin.allhands' });
  assert.equal(adminNoReq.janus, 'success', `message_plugin without request reaches the plugin: ${safeJson(adminNoReq)}`);
  seen.push(adminNoReq.response);
  assertError(adminNoReq.response, 600, 'no_message', 'message_plugin without request');
  // Non-object bodies never reach the plugin: Janus's core answers with its own error.
  const h = await handle(janus, bag);
  const noBody = await h.raw({ janus: 'message' });
  assert.equal(noBody.janus, 'error', `Janus core rejects a message without body: ${safeJson(noBody)}`);
  const arrBody = await h.raw({ janus: 'message', body: [1, 2] });
  assert.equal(arrBody.janus, 'error', `Janus core rejects a non-object body: ${safeJson(arrBody)}`);
  const strReq = await janus.adminRaw({ janus: 'message_plugin', plugin: 'janus.plugin.allhands', request: 'status' });
  assert.equal(strReq.janus, 'error', `Janus core rejects a non-object message_plugin request: ${safeJson(strReq)}`);
  assertSuccess((await send(h, { request: 'status', admin_key: key })).data, 'status after malformed messages');
});

test('secrets are never echoed, and Janus is still up', async () => {
  const all = JSON.stringify(seen);
  for (const s of [SA, SB, PS, PIN, 'presenter-secret-b', 'own-ps', key]) {
    assert.ok(!all.includes(s), `secret "${s}" appears in a reply`);
  }
  assert.ok(seen.length > 50, `checked ${seen.length} replies`);
  assert.ok(janus.alive, 'Janus process alive');
  assertSuccess(await adminSend({ request: 'status' }), 'final status');
});
