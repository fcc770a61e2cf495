// (issue 6) Join tokens against the real Janus: a room with tokens "required" admits only joins
// with a valid token, whose role decides (attendee, priority, presenter: a presenter token joins and
// publishes without presenter_secret); ptype cannot raise the role; wrong room and expired tokens
// get their codes; a signing-key rotation with an overlap keeps the old tokens valid for the overlap.
// Tokens are minted here with node:crypto alone, as docs/api.md shows, with the tenant's signing key
// (create_tenant's reply, get_signing_key): the tenant secret, an admin password, signs nothing (issue 12).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  Bag, Presenter, assertError, assertEvent, assertSuccess, attendee, createRoomWith, createTenant, handle, roomInfo,
  startJanus, safeJson,
} from './lib/allhands.mjs';

const SECRET = 'tenant-secret-tk-81a2';
const NEW_SECRET = 'tenant-secret-tk-rotated-5d0c';
const PS = 'presenter-secret-tk-3f';
let janus;
const bag = new Bag();
const seen = []; // every reply: none may carry a secret or a token

const b64url = (buf) => Buffer.from(buf).toString('base64url');
function mint(secret, claims) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ tenant: 'tk', room: 'town', role: 'attendee', sub: 'user-1', exp: now + 600, ...claims }));
  const signature = crypto.createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}
const tokens = [];
let KEY; // tk's signing key (create_tenant's reply)
const keys = []; // every signing key seen (no other reply may carry one)
function token(claims, key = KEY) {
  const t = mint(key, claims);
  tokens.push(t);
  return t;
}

before(async () => {
  janus = await startJanus('tokens', { capacity: 20, wave_size: 5, wave_interval_ms: 300, admit_timeout_ms: 60000 });
  const t = await createTenant(janus, { tenant: 'tk', max_participants: 20, secret: SECRET });
  assert.match(t.signing_key, /^[0-9a-f]{64}$/, 'create_tenant returns the signing key');
  KEY = t.signing_key;
  keys.push(KEY);
  const r = await createRoomWith(janus, { tenant: 'tk', room: 'town', presenter_secret: PS, tokens: 'required' });
  assert.equal(r.room.tokens, 'required');
  await createRoomWith(janus, { tenant: 'tk', room: 'other', presenter_secret: PS, tokens: 'optional' });
});

after(async () => {
  const text = JSON.stringify(seen);
  for (const s of [SECRET, NEW_SECRET, PS, ...keys, ...tokens]) assert.ok(!text.includes(s), 'no reply carries a secret, key or token');
  await bag.closeAll();
  if (janus) await janus.dispose();
});

async function join(body, { autoStart = false } = {}) {
  const a = await attendee(janus, bag, { autoStart });
  const r = await a.join({ request: 'join', tenant: 'tk', room: 'town', ...body });
  seen.push(r.data);
  return { a, r };
}

test('no token: token_required, even with the presenter secret', async () => {
  assertError((await join({})).r.data, 626, 'token_required', 'attendee without token');
  assertError((await join({ ptype: 'presenter', presenter_secret: PS })).r.data, 626, 'token_required', 'presenter secret alone');
});

test('attendee, priority and presenter tokens: the role decides', async () => {
  const { r: att } = await join({ token: token({ role: 'attendee', sub: 'ann' }), display: 'Ann' }, { autoStart: true });
  assertEvent(att.data, 'admitted', 'attendee token');
  // a presenter token: presenter, no presenter_secret, and it may publish
  const h = await handle(janus, bag);
  const p = new Presenter(h);
  bag.add(() => p.close());
  const j = await h.request({ request: 'join', tenant: 'tk', room: 'town', token: token({ role: 'presenter', sub: 'ceo' }) });
  seen.push(j.data);
  assertEvent(j.data, 'joined', 'presenter token');
  const pub = await p.publish();
  seen.push(pub.data);
  assertEvent(pub.data, 'published', 'publish with a presenter token');
  assert.equal(pub.jsep?.type, 'answer');
  await p.waitConnected();
  const info = await roomInfo(janus, 'tk', 'town');
  seen.push(info);
  const room = info;
  assert.equal(room.presenters[0].sub, 'ceo', safeJson(room.presenters));
  assert.ok(room.attendees.some((x) => x.sub === 'ann'), safeJson(room.attendees));
  // priority: with the node full, a priority token queues ahead of an ordinary one
  assertSuccess(await janus.admin({ request: 'set_capacity', capacity: 0 }));
  try {
    const { r: q1 } = await join({ token: token({ role: 'attendee', sub: 'q1' }) });
    assertEvent(q1.data, 'queued', 'ordinary queued');
    const { r: q2 } = await join({ token: token({ role: 'priority', sub: 'vip' }) });
    assertEvent(q2.data, 'queued', 'priority queued');
    assert.equal(q2.data.position, 1, `the priority token goes first: ${safeJson(q2.data)}`);
  } finally {
    assertSuccess(await janus.admin({ request: 'set_capacity', capacity: 20 }));
  }
});

test('ptype cannot raise the role: forbidden', async () => {
  const t = token({ role: 'attendee', sub: 'sneaky' });
  assertError((await join({ token: t, ptype: 'presenter', presenter_secret: PS })).r.data, 607, 'forbidden', 'attendee token as presenter');
  assertError((await join({ token: token({ role: 'priority' }), ptype: 'backstage' })).r.data, 607, 'forbidden', 'priority token backstage');
});

test('wrong room, expired, not yet valid, alg none, tampered: their codes', async () => {
  const now = Math.floor(Date.now() / 1000);
  assertError((await join({ token: token({ role: 'presenter', room: 'other' }) })).r.data, 634, 'token_wrong_room');
  assertError((await join({ token: token({ exp: now - 120 }) })).r.data, 631, 'token_expired');
  assertError((await join({ token: token({ nbf: now + 600, exp: now + 1200 }) })).r.data, 632, 'token_not_yet_valid');
  const none = `${b64url('{"alg":"none","typ":"JWT"}')}.${b64url(JSON.stringify({ tenant: 'tk', room: 'town', role: 'presenter', sub: 'x', exp: now + 60 }))}.`;
  assertError((await join({ token: none })).r.data, 629, 'token_algorithm');
  const good = token({ role: 'attendee' }).split('.');
  const forged = b64url(JSON.stringify({ tenant: 'tk', room: 'town', role: 'presenter', sub: 'x', exp: now + 60 }));
  assertError((await join({ token: `${good[0]}.${forged}.${good[2]}` })).r.data, 630, 'token_signature');
  assertError((await join({ token: 'x'.repeat(5000) })).r.data, 628, 'token_too_large');
  // optional: no token is fine, a bad one is refused
  const a = await attendee(janus, bag, { autoStart: false });
  const ok = await a.join({ request: 'join', tenant: 'tk', room: 'other' });
  assertEvent(ok.data, 'admitted', 'optional room without a token');
  const b = await attendee(janus, bag, { autoStart: false });
  const bad = await b.join({ request: 'join', tenant: 'tk', room: 'other', token: token({ room: 'other' }, 'not-the-secret') });
  assertError(bad.data, 630, 'token_signature', 'optional room, bad token');
});

test('a token signed with the tenant secret (the admin password) is refused', async () => {
  assertError((await join({ token: token({ role: 'attendee', sub: 'guess' }, SECRET) })).r.data, 630, 'token_signature',
    'tenant secret as HMAC key');
  const k = await janus.admin({ request: 'get_signing_key', tenant: 'tk' });
  assertSuccess(k, 'get_signing_key');
  assert.equal(k.signing_key, KEY);
  // over a plugin handle with the tenant's own credentials, too
  const h = await handle(janus, bag);
  const own = await h.request({ request: 'get_signing_key', tenant: 'tk', tenant_secret: SECRET });
  assertSuccess(own.data, 'get_signing_key with tenant_secret');
  assert.equal(own.data.signing_key, KEY);
  const st = await janus.admin({ request: 'status' });
  seen.push(st);
});

test('key rotation: the old key works for the overlap, then not; a secret rotation leaves tokens alone', async () => {
  const old = token({ role: 'attendee', sub: 'old' });
  const r = await janus.admin({ request: 'rotate_signing_key', tenant: 'tk', overlap_s: 5 });
  assertSuccess(r, 'rotate_signing_key');
  assert.match(r.signing_key, /^[0-9a-f]{64}$/);
  assert.notEqual(r.signing_key, KEY);
  assert.ok(Number.isInteger(r.previous_signing_key_until), safeJson(Object.keys(r)));
  keys.push(r.signing_key);
  const fresh = token({ role: 'attendee', sub: 'new' }, r.signing_key);
  assertEvent((await join({ token: old })).r.data, 'admitted', 'old key within the overlap');
  assertEvent((await join({ token: fresh })).r.data, 'admitted', 'new key');
  // a new tenant secret: tokens are not concerned; the old secret keeps authorizing for its overlap
  const e = await janus.admin({ request: 'edit_tenant', tenant: 'tk', secret: NEW_SECRET, secret_overlap_s: 5 });
  seen.push(e);
  assertSuccess(e, 'edit_tenant');
  assert.ok(Number.isInteger(e.tenant.previous_secret_until), safeJson(e.tenant));
  const h = await handle(janus, bag);
  const list = await h.request({ request: 'list_rooms', tenant: 'tk', tenant_secret: SECRET });
  seen.push(list.data);
  assertSuccess(list.data, 'tenant_secret: old secret within the overlap');
  await new Promise((resolve) => setTimeout(resolve, 6000));
  assertError((await join({ token: old })).r.data, 630, 'token_signature', 'old key after the overlap');
  const list2 = await h.request({ request: 'list_rooms', tenant: 'tk', tenant_secret: SECRET });
  seen.push(list2.data);
  assertError(list2.data, 606, 'unauthorized', 'tenant_secret: old secret after the overlap');
  assertEvent((await join({ token: fresh })).r.data, 'admitted', 'new key after the overlap');
});
