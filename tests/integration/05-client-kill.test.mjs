// (e) A client process holding a seat (or a queue place) is killed with SIGKILL: its seat comes back
// (counts drop, a queued attendee is admitted) and queue positions move up.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, attendee, createRoom, createTenant, joinBody, presenter, roomInfo, spawnAttendeeChild,
  startJanus, waitCounts, waitFor, safeJson,
} from './lib/allhands.mjs';

let janus;
const bag = new Bag();
const children = [];

before(async () => {
  janus = await startJanus('client-kill', { capacity: 2, wave_size: 2, wave_interval_ms: 300, admit_timeout_ms: 30000 });
  await createTenant(janus, { tenant: 'tk', max_participants: 20 });
  await createRoom(janus, { tenant: 'tk', room: 'r', presenter_secret: 'p-presenter' });
});

after(async () => {
  for (const c of children) { if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); }
  await bag.closeAll();
  if (janus) await janus.dispose();
});

async function child(display) {
  const c = await spawnAttendeeChild(janus, joinBody({ tenant: 'tk', room: 'r', display }), { name: display });
  children.push(c);
  return c;
}

test('SIGKILL of client processes frees their queue place and their seat', async () => {
  await presenter(janus, bag, { tenant: 'tk', room: 'r', presenter_secret: 'p-presenter' });
  const c1 = await child('c1');
  const c2 = await child('c2');
  assertEvent(c1.reply, 'admitted', 'c1');
  assertEvent(c2.reply, 'admitted', 'c2');
  await waitFor(() => c1.media?.video.frames > 0 && c2.media?.video.frames > 0,
    { timeout: 30000, what: `children receiving video (${safeJson([c1.media, c2.media])})` });
  const c3 = await child('c3');
  assertEvent(c3.reply, 'queued', 'c3');
  assert.equal(c3.reply.position, 1);
  const a4 = await attendee(janus, bag);
  const r4 = await a4.join(joinBody({ tenant: 'tk', room: 'r', display: 'a4' }));
  assertEvent(r4.data, 'queued', 'a4');
  assert.equal(r4.data.position, 2);
  await waitCounts(janus, { admitted: 2, queued: 2 });

  // Kill the queued child: a4 moves to position 1.
  c3.kill('SIGKILL');
  await c3.exited;
  await a4.h.waitEvent((e) => e.data.event === 'position' && e.data.position === 1, { timeout: 30000, what: 'a4 at position 1' });
  await waitCounts(janus, { admitted: 2, queued: 1 }, { timeout: 30000 });

  // Kill a seated child: its seat goes to a4.
  c1.kill('SIGKILL');
  await c1.exited;
  await a4.h.waitEvent('admitted', { timeout: 30000, what: 'a4 admitted after c1 was killed' });
  await a4.waitMedia();
  await waitCounts(janus, { admitted: 2, queued: 0, active: 2 }, { timeout: 30000 });
  const ri = await roomInfo(janus, 'tk', 'r');
  assert.deepEqual(ri.attendees.map((x) => x.id).sort(), [c2.reply.id, r4.data.id].sort(), `room_info attendees: ${safeJson(ri.attendees)}`);
  assert.deepEqual(ri.queue, []);
  assert.ok(janus.alive, 'Janus still running');
});

test('a client that goes silent (no keepalives) loses its seat when Janus times its session out', async () => {
  const { default: WebSocket } = await import('ws');
  await waitCounts(janus, { admitted: 2, queued: 0 });
  // Free one seat for the silent client (admit_timeout_ms is 30 s here, longer than the session timeout).
  const seated = (await roomInfo(janus, 'tk', 'r')).attendees;
  assert.equal((await janus.admin({ request: 'kick', tenant: 'tk', room: 'r', id: seated[0].id })).allhands, 'success');
  await waitCounts(janus, { admitted: 1, queued: 0 });
  const ws = new WebSocket(janus.wsUrl, 'janus-protocol');
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const pending = new Map();
  const pushed = [];
  ws.on('message', (m) => {
    const msg = JSON.parse(m.toString());
    if (msg.janus === 'ack') return;
    const p = msg.transaction && pending.get(msg.transaction);
    if (p) { pending.delete(msg.transaction); p(msg); } else pushed.push(msg);
  });
  let n = 0;
  const call = (req) => new Promise((resolve) => {
    const transaction = `silent-${++n}`;
    pending.set(transaction, resolve);
    ws.send(JSON.stringify({ ...req, transaction }));
  });
  const created = await call({ janus: 'create' });
  const session_id = created.data.id;
  const attached = await call({ janus: 'attach', session_id, plugin: 'janus.plugin.allhands' });
  const handle_id = attached.data.id;
  const joined = await call({ janus: 'message', session_id, handle_id, body: joinBody({ tenant: 'tk', room: 'r', display: 'silent' }) });
  assertEvent(joined.plugindata?.data, 'admitted', 'the silent client gets the free seat');
  await waitCounts(janus, { admitted: 2, connecting: 1 });
  // No keepalive from now on: Janus's session_timeout (15 s in these tests) removes the session.
  await waitCounts(janus, { admitted: 1, connecting: 0 }, { timeout: 60000 });
  assert.ok(pushed.some((m) => m.janus === 'timeout'), `Janus told the silent client its session timed out: ${safeJson(pushed)}`);
  ws.close();
});
