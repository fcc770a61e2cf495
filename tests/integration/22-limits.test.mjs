// Issue 6, limits (docs/security.md): a client flooding one handle gets rate_limited (with
// retry_after_ms) while another client in the same room is answered promptly; a request over
// max_request_bytes is request_too_large; handles past max_handles_per_session are refused at
// attach; Janus keeps running and logs no secret. Small limits keep it fast.
// Issue 12: failed pins and tenant secrets are throttled per Janus session (too_many_failures, the
// credential not even checked) and counted in status; one Janus session holds at most
// max_queued_per_session queued joins (too_many_queued); the node queue is bounded by default.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  ALLHANDS, Bag, assertError, assertEvent, assertSuccess, attendee, createRoom, createTenant, handle, joinBody,
  presenter, safeJson, startJanus,
} from './lib/allhands.mjs';
import { Client } from './lib/client.mjs';

const LIMITS = { max_request_bytes: 2048, requests_per_second: 5, request_burst: 10, max_handles_per_session: 3,
  max_queued_per_session: 2 };
const PIN = 'pin-2468';
const SESSION_BURST = 10; // AH_FAIL_SESSION_BURST (docs/security.md)
const SA = 'limits-tenant-secret-8e1f';
const PS = 'limits-presenter-secret-2a';
let janus;
const bag = new Bag();

before(async () => {
  janus = await startJanus('limits', { capacity: 20, wave_size: 10, wave_interval_ms: 200, admit_timeout_ms: 60000, ...LIMITS });
  await createTenant(janus, { tenant: 'ta', max_participants: 10, secret: SA });
  await createRoom(janus, { tenant: 'ta', room: 'ra', max_attendees: 10, presenter_secret: PS });
  await createRoom(janus, { tenant: 'ta', room: 'pinned', max_attendees: 10, presenter_secret: PS, pin: PIN });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

test('a flooding handle is rate limited; another client in the same room is unaffected', async () => {
  const flooder = await attendee(janus, bag, { autoStart: false });
  assertEvent((await flooder.join(joinBody({ tenant: 'ta', room: 'ra', display: 'flooder' }))).data, 'admitted', 'flooder join');
  const p = await presenter(janus, bag, { tenant: 'ta', room: 'ra', presenter_secret: PS, publish: false });

  const t0 = Date.now();
  const flood = Promise.all(Array.from({ length: 500 }, () =>
    flooder.h.request({ request: 'list_rooms', tenant: 'ta', tenant_secret: SA }, undefined, { timeout: 30000 }).then((r) => r.data)));
  // Meanwhile the presenter (its own session and handle) asks for its counts, 8 times.
  const latencies = [];
  const other = (async () => {
    for (let i = 0; i < 8; i++) {
      const s = Date.now();
      const r = await p.h.request({ request: 'room_counts' });
      latencies.push(Date.now() - s);
      assert.ok(r.data && !('error_code' in r.data), `room_counts answered normally: ${safeJson(r.data)}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  })();
  const [answers] = await Promise.all([flood, other]);
  const elapsed = (Date.now() - t0) / 1000;

  const ok = answers.filter((a) => a.allhands === 'success');
  const limited = answers.filter((a) => a.error_code === 637);
  assert.equal(ok.length + limited.length, 500, `every answer is a success or rate_limited: ${safeJson(answers.find((a) => a.allhands !== 'success' && a.error_code !== 637))}`);
  for (const a of limited.slice(0, 5)) {
    assertError(a, 637, 'rate_limited', 'flood');
    assert.ok(Number.isInteger(a.retry_after_ms) && a.retry_after_ms > 0 && a.retry_after_ms <= 1000, `retry_after_ms: ${safeJson(a)}`);
  }
  const allowed = LIMITS.request_burst + LIMITS.requests_per_second * elapsed + 1;
  // The join took one token of the burst.
  assert.ok(ok.length >= LIMITS.request_burst - 1 && ok.length <= allowed,
    `${ok.length} requests went through in ${elapsed.toFixed(2)} s (burst ${LIMITS.request_burst}, at most ${allowed.toFixed(1)})`);
  // Unaffected: every one of its requests was answered normally (asserted above), none rate limited.
  // How fast is reported, not asserted (machines are shared; speed is for benchmarks).
  assert.equal(latencies.length, 8, 'the other client got all its answers during the flood');
  console.log(`# other client's room_counts latencies during the flood: ${latencies.join(', ')} ms`);

  // After retry_after_ms, the flooder is served again.
  await new Promise((res) => setTimeout(res, 1000));
  assertSuccess((await flooder.h.request({ request: 'list_rooms', tenant: 'ta', tenant_secret: SA })).data, 'after the flood');
});

test('a request over max_request_bytes is request_too_large and changes nothing', async () => {
  const h = await handle(janus, bag);
  const big = { request: 'edit_room', tenant: 'ta', tenant_secret: SA, room: 'ra', description: 'x'.repeat(3000) };
  const r = (await h.request(big)).data;
  assertError(r, 636, 'request_too_large', 'big edit_room');
  assert.ok(!JSON.stringify(r).includes(SA), 'the error does not echo the request');
  const info = await janus.admin({ request: 'room_info', tenant: 'ta', room: 'ra' });
  assert.notEqual(info.room.description, big.description);
  const small = (await h.request({ ...big, description: 'fits' })).data;
  assertSuccess(small, 'small edit_room');
  assert.equal(small.room.description, 'fits');
});

test('handles past max_handles_per_session are refused at attach; others still attach', async () => {
  const c = await Client.connect(janus);
  bag.add(() => c.close());
  const hs = [];
  for (let i = 0; i < LIMITS.max_handles_per_session; i++) hs.push(await c.attach(ALLHANDS));
  await assert.rejects(c.attach(ALLHANDS), (e) => {
    assert.match(e.message, /^461 /, `Janus error 461 (JANUS_ERROR_PLUGIN_ATTACH): ${e.message}`);
    assert.match(e.message, /638/, `carries too_many_handles' code 638: ${e.message}`);
    return true;
  });
  // The limit is per Janus session: another session attaches, and a detach frees a slot.
  const other = await handle(janus, bag);
  assertSuccess((await other.request({ request: 'list_rooms', tenant: 'ta', tenant_secret: SA })).data, 'other session');
  await hs[0].detach();
  const again = await c.attach(ALLHANDS);
  assertSuccess((await again.request({ request: 'list_rooms', tenant: 'ta', tenant_secret: SA })).data, 'after a detach');
});

// A Janus session (one client, three handles) guessing a room's pin.
async function sessionHandles() {
  const c = await Client.connect(janus);
  bag.add(() => c.close());
  const hs = [];
  for (let i = 0; i < LIMITS.max_handles_per_session; i++) hs.push(await c.attach(ALLHANDS));
  return hs;
}

test('failed pins and tenant secrets are throttled per Janus session, and counted in status', async () => {
  const hs = await sessionHandles();
  for (let i = 0; i < SESSION_BURST; i++) {
    const r = (await hs[i % hs.length].request(joinBody({ tenant: 'ta', room: 'pinned', pin: `guess-${i}` }))).data;
    assertError(r, 612, 'wrong_pin', `guess ${i}`);
  }
  // Over the limit: refused before the pin is looked at, the right one too.
  const refused = (await hs[0].request(joinBody({ tenant: 'ta', room: 'pinned', pin: PIN }))).data;
  assertError(refused, 650, 'too_many_failures', 'the right pin from the guessing session');
  assert.equal(refused.scope, 'session', safeJson(refused));
  assert.ok(Number.isInteger(refused.retry_after_ms) && refused.retry_after_ms > 0 && refused.retry_after_ms <= 6000,
    safeJson(refused));
  const secret = (await hs[1].request({ request: 'list_rooms', tenant: 'ta', tenant_secret: SA })).data;
  assertError(secret, 650, 'too_many_failures', 'the right tenant secret from the guessing session');
  // Another Janus session is not concerned.
  const other = await handle(janus, bag);
  assertEvent((await other.request(joinBody({ tenant: 'ta', room: 'pinned', pin: PIN }))).data, 'admitted', 'other session');
  const st = await janus.admin({ request: 'status' });
  const room = st.rooms.find((r) => r.tenant === 'ta' && r.room === 'pinned');
  assert.equal(room.failures.failed, SESSION_BURST, safeJson(room.failures));
  assert.ok(st.node.failures.refused >= 2 && st.node.failures.sessions_throttled >= 1, safeJson(st.node.failures));
  assert.equal(st.tenants.find((t) => t.tenant === 'ta').failures.failed, 0, 'no tenant_secret failed');
});

test('one Janus session holds at most max_queued_per_session queued joins; the node queue is bounded by default', async () => {
  const st = await janus.admin({ request: 'status' });
  assert.equal(st.node.max_queued, 20000, `the default node queue bound: ${safeJson(st.node.max_queued)}`);
  assertSuccess(await janus.admin({ request: 'set_capacity', capacity: 0 }));
  try {
    const hs = await sessionHandles();
    const body = joinBody({ tenant: 'ta', room: 'ra', display: 'q' });
    assertEvent((await hs[0].request(body)).data, 'queued', 'first queued join');
    assertEvent((await hs[1].request(body)).data, 'queued', 'second queued join');
    const third = (await hs[2].request(body)).data;
    assertError(third, 651, 'too_many_queued', 'third queued join of the session');
    const before = (await janus.admin({ request: 'room_info', tenant: 'ta', room: 'ra' })).room.counts.queued;
    // another session queues as usual
    const other = await handle(janus, bag);
    assertEvent((await other.request(body)).data, 'queued', 'another session');
    // a place freed in the session lets its third handle queue
    assertEvent((await hs[0].request({ request: 'leave' })).data, 'left', 'leave');
    assertEvent((await hs[2].request(body)).data, 'queued', 'third handle after a leave');
    const after = (await janus.admin({ request: 'room_info', tenant: 'ta', room: 'ra' })).room.counts.queued;
    assert.equal(after, before + 1, 'the refused join took no place');
  } finally {
    assertSuccess(await janus.admin({ request: 'set_capacity', capacity: 20 }));
  }
});

test('Janus keeps running, and its log holds no secret', async () => {
  assert.ok(janus.alive, 'janus is running');
  const st = await janus.admin({ request: 'status' });
  assertSuccess(st, 'status after the flood');
  const log = fs.readFileSync(janus.logFile, 'utf8');
  for (const s of [SA, PS, janus.adminKey, janus.adminSecret]) assert.ok(!log.includes(s), `the Janus log contains secret ${s}`);
});
