// bench/loadclient/ah-loadclient, the C receive-only load client of the join-storm benchmark, against a
// real Janus + allhands: one @roamhq/wrtc presenter (VP8 + Opus), 30 attendees whose media run in one
// ah-loadclient process (2 shard threads) and whose signalling is multiplexed over two WebSockets
// (JanusMux from bench/storm/cworker.mjs). Asserts:
// (1) every attendee reaches `connected` (DTLS done, SRTP keyed from the handshake) and receives audio
//     and video that all pass SRTP authentication (auth_fail == 0, bad_rtp == 0), above packet floors,
//     with < 5 % loss over a measurement window; the answers are recvonly, setup:active, with a
//     sha-256 fingerprint, host candidates and end-of-candidates;
// (2) a second presenter publishing makes Janus renegotiate (`updated` offer with more m-lines): the
//     new answer has both presenters' streams, DTLS is not redone, everyone keeps receiving;
// (3) closing one attendee leaves the others receiving;
// (4) malformed stdin (bad JSON, unknown op, offers with garbage SDP, unknown id) gets error lines and
//     the process keeps serving; report_loss and remb are accepted;
// (5) verification is real: `corrupt_key` on one attendee's inbound SRTP key makes its auth_fail grow
//     and its packets stop counting while the others continue.
// Finally ah-loadclient exits 0 on quit.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Bag, createRoom, createTenant, presenter, startJanus, safeJson } from './lib/allhands.mjs';
import { netEnv } from './lib/janus.mjs';
import { waitFor } from './lib/util.mjs';
import { JanusMux, LoadClient, LOADCLIENT_BIN } from '../../bench/storm/cworker.mjs';

const N = Number(process.env.AH_LC_N || 30);
const WINDOW_MS = 3000;
// Floors over WINDOW_MS: Opus sends 50 packets/s; the synthetic VP8 source well over 10 packets/s.
const AUDIO_FLOOR = 50;
const VIDEO_FLOOR = 20;
const MAX_LOSS = 0.05;

let janus;
let lc;
let mux;
const bag = new Bag();
const subs = new Map(); // id -> {h, offers, answers, errors}

async function attend(id) {
  const h = await mux.attach('janus.plugin.allhands');
  const s = { id, h, offers: [], answers: [], errors: [], chain: Promise.resolve() };
  const onOffer = (jsep, why) => {
    s.offers.push({ why, sdp: jsep.sdp });
    if (process.env.AH_LC_DEBUG) console.error(`# offer ${id}\n${jsep.sdp}`);
    s.chain = s.chain.then(async () => {
      const sdp = await lc.offer(id, jsep.sdp);
      s.answers.push(sdp);
      await h.request({ request: 'start' }, { type: 'answer', sdp });
    }).catch((e) => s.errors.push(String(e.message || e)));
  };
  h.on('trickle', (c) => { if (c && c.candidate) lc.send({ op: 'candidate', id, candidate: c.candidate, mid: c.sdpMid }); });
  h.on('plugin-event', (e) => { if (e.jsep && e.jsep.type === 'offer') onOffer(e.jsep, e.data && e.data.event); });
  subs.set(id, s);
  const r = await h.request({ request: 'join', tenant: 'lc', room: 'r1', ptype: 'attendee', display: id });
  s.join = r.data;
  if (r.jsep && r.jsep.type === 'offer') onOffer(r.jsep, r.data.event);
  return s;
}

const byId = (st) => new Map(st.subs.map((x) => [x.id, x]));
const events = (id, ev) => lc.lines.filter((m) => m.id === id && m.event === ev);

before(async () => {
  assert.ok(fs.existsSync(LOADCLIENT_BIN), `${LOADCLIENT_BIN} is built (make)`);
  janus = await startJanus('loadclient', { capacity: 200, wave_size: 50, wave_interval_ms: 200, admit_timeout_ms: 30000 });
  await createTenant(janus, { tenant: 'lc', max_participants: 100 });
  await createRoom(janus, { tenant: 'lc', room: 'r1', max_attendees: 100, presenter_secret: 'p-presenter' });
  await presenter(janus, bag, { tenant: 'lc', room: 'r1', presenter_secret: 'p-presenter', display: 'host' });
  // The client gathers on the Janus end of the veth: Janus's libnice pins its sockets to that interface
  // (IP_UNICAST_IF), so its datagrams to the other end's address, local to the same namespace, are
  // dropped; between two sockets on the same address they are delivered (bench/loadclient/README.md).
  lc = new LoadClient({ ip: netEnv().janusIp, threads: 2 });
  if (process.env.AH_LC_DEBUG) lc.on('line', (m) => console.error('# lc', JSON.stringify(m)));
  mux = new JanusMux(janus.wsUrl, 2, { keepaliveMs: 5000 }); // the tests' session_timeout is 15 s
  await mux.ready();
});

after(async () => {
  if (mux) for (const s of subs.values()) await s.h.destroy().catch(() => {});
  if (mux) mux.close();
  if (lc) {
    const r = await lc.quit();
    assert.equal(r.code, 0, `ah-loadclient exits cleanly on quit: ${safeJson(r)}`);
  }
  await bag.closeAll();
  if (janus) await janus.dispose();
});

test('30 attendees connect and receive authenticated audio and video', async () => {
  await Promise.all([...Array(N).keys()].map((i) => attend(`a${i}`)));
  for (const s of subs.values()) assert.equal(s.join.event, 'admitted', `${s.id} admitted: ${safeJson(s.join)}`);
  await waitFor(() => [...subs.keys()].every((id) => events(id, 'connected').length === 1), { timeout: 30000, what: 'every attendee connected' })
    .catch((e) => { throw new Error(`${e.message}; errors ${safeJson([...subs.values()].map((s) => s.errors).flat().slice(0, 5))}`); });
  await waitFor(() => [...subs.keys()].every((id) => {
    const f = events(id, 'first_rtp');
    return f.some((e) => e.kind === 'audio') && f.some((e) => e.kind === 'video');
  }), { timeout: 20000, what: 'first audio and video packet for every attendee' });
  for (const s of subs.values()) {
    assert.deepEqual(s.errors, [], `${s.id}: no signalling errors`);
    const a = s.answers[0];
    assert.match(a, /a=setup:active/);
    assert.match(a, /a=fingerprint:sha-256 [0-9A-F:]{95}/);
    assert.match(a, /a=candidate:.* typ host/);
    assert.match(a, /a=end-of-candidates/);
    assert.doesNotMatch(a, /a=sendrecv|a=sendonly/);
  }
  lc.mark();
  await sleep(WINDOW_MS);
  const st = await lc.stats();
  assert.equal(st.subs.length, N);
  assert.ok(st.cpu_ms > 0);
  for (const x of st.subs) {
    assert.equal(x.state, 'connected', x.id);
    assert.equal(x.auth_fail, 0, `${x.id} auth_fail`);
    assert.equal(x.bad_rtp, 0, `${x.id} bad_rtp`);
    assert.ok(x.audio.recv >= AUDIO_FLOOR, `${x.id} audio ${safeJson(x.audio)}`);
    assert.ok(x.video.recv >= VIDEO_FLOOR, `${x.id} video ${safeJson(x.video)}`);
    assert.ok(x.video.bytes > x.video.recv * 100, `${x.id} video bytes ${safeJson(x.video)}`);
    assert.ok(x.window.expected >= x.window.recv * (1 - MAX_LOSS) && x.window.recv >= x.window.expected * (1 - MAX_LOSS),
      `${x.id} window loss ${safeJson(x.window)}`);
    assert.ok(x.window.recv >= (AUDIO_FLOOR + VIDEO_FLOOR) * 0.8, `${x.id} window ${safeJson(x.window)}`);
    assert.ok(x.max_video_gap_ms < 2000, `${x.id} max video gap ${x.max_video_gap_ms}`);
  }
});

test('trace: one line per verified packet with its payload hashes; the same presenter packet has the same hashes at two subscribers', async () => {
  const from = lc.lines.length;
  lc.send({ op: 'trace', id: 'a1', on: true });
  lc.send({ op: 'trace', id: 'a2', on: true });
  await sleep(1500);
  lc.send({ op: 'trace', id: 'a1', on: false });
  lc.send({ op: 'trace', id: 'a2', on: false });
  await sleep(300);
  const lines = lc.lines.slice(from).filter((m) => m.pkt !== undefined);
  const of = (id) => lines.filter((m) => m.id === id);
  for (const id of ['a1', 'a2']) {
    const l = of(id);
    assert.ok(l.some((m) => m.pkt === 'v') && l.some((m) => m.pkt === 'a'), `${id}: audio and video traced (${l.length} lines)`);
    for (const m of l) {
      assert.match(m.h, /^[0-9a-f]{16}$/, safeJson(m));
      assert.ok(typeof m.t === 'number' && m.n > 0, safeJson(m));
    }
  }
  // Video payloads differ packet by packet: most of a1's video hashes are among a2's.
  const v2 = new Set(of('a2').filter((m) => m.pkt === 'v').map((m) => m.h));
  const v1 = of('a1').filter((m) => m.pkt === 'v');
  const shared = v1.filter((m) => v2.has(m.h)).length;
  console.log(`# trace: ${of('a1').length} and ${of('a2').length} lines, ${shared} of ${v1.length} video hashes of a1 seen at a2`);
  assert.ok(shared >= v1.length * 0.8, `shared video payload hashes: ${shared} of ${v1.length}`);
  // Off: no more lines.
  const n = lc.lines.length;
  await sleep(500);
  assert.equal(lc.lines.slice(n).filter((m) => m.pkt !== undefined && (m.id === 'a1' || m.id === 'a2')).length, 0, 'trace off');
});

test('a second presenter: renegotiation, everyone keeps receiving on the same ICE/DTLS', async () => {
  const before1 = byId(await lc.stats());
  await presenter(janus, bag, { tenant: 'lc', room: 'r1', presenter_secret: 'p-presenter', display: 'guest' });
  await waitFor(() => [...subs.values()].every((s) => s.answers.length >= 2), { timeout: 20000, what: 'every attendee answered an updated offer' });
  for (const s of subs.values()) {
    assert.deepEqual(s.errors, [], `${s.id}: no errors`);
    const last = s.answers[s.answers.length - 1];
    const active = last.split('\r\n').filter((l) => /^m=(audio|video) [1-9]/.test(l)).length;
    assert.ok(active >= 4, `${s.id}: answer with two presenters' streams: ${last}`);
    assert.equal(events(s.id, 'connected').length, 1, `${s.id}: DTLS not redone`);
  }
  await sleep(2000);
  const after1 = byId(await lc.stats());
  for (const [id, x] of after1) {
    const b = before1.get(id);
    assert.ok(x.video.recv - b.video.recv > VIDEO_FLOOR, `${id}: video still flowing ${safeJson(x.video)} vs ${safeJson(b.video)}`);
    assert.ok(x.audio.recv - b.audio.recv > 50, `${id}: audio still flowing`);
    assert.equal(x.auth_fail, 0, id);
    assert.equal(x.bad_rtp, 0, id);
  }
});

test('closing one attendee leaves the others receiving', async () => {
  const victim = subs.get('a0');
  lc.close('a0');
  await victim.h.destroy();
  subs.delete('a0');
  await waitFor(() => lc.lines.some((m) => m.id === 'a0' && m.event === 'closed'), { timeout: 5000, what: 'closed event' });
  const s0 = byId(await lc.stats());
  assert.equal(s0.has('a0'), false);
  await sleep(1500);
  const s1 = byId(await lc.stats());
  assert.equal(s1.size, N - 1);
  for (const [id, x] of s1) assert.ok(x.video.recv > s0.get(id).video.recv && x.audio.recv > s0.get(id).audio.recv, `${id} still receiving`);
});

test('malformed input gets an error line and the process keeps serving', async () => {
  const from = lc.lines.length;
  lc.send('this is not json');
  lc.send('{"op":"frobnicate","id":"a1"}');
  lc.send({ op: 'offer', id: 'bogus', sdp: 'garbage\r\nm=video\r\n' });
  lc.send({ op: 'offer', id: 'bogus2', sdp: 'v=0\r\nm=video nine\r\n' });
  lc.send({ op: 'close', id: 'nobody' });
  lc.send('[1,2,3]');
  lc.send({ op: 'report_loss', id: 'a2', fraction: 0.2 });
  lc.send({ op: 'remb', id: 'a2', bps: 300000 });
  await waitFor(() => lc.lines.slice(from).filter((m) => m.error).length >= 6, { timeout: 5000, what: 'six error lines' });
  const errs = lc.lines.slice(from).filter((m) => m.error);
  const errOf = (id) => errs.filter((m) => m.id === id).map((m) => m.error);
  assert.equal(errs.filter((m) => /^bad JSON/.test(m.error) && m.id === undefined).length, 2, safeJson(errs));
  assert.deepEqual(errOf('a1'), ['unknown op']);
  assert.match(errOf('bogus')[0], /^bad offer/);
  assert.match(errOf('bogus2')[0], /^bad offer/);
  assert.deepEqual(errOf('nobody'), ['unknown id']);
  assert.deepEqual(errOf('a2'), [], 'report_loss and remb accepted');
  const s0 = byId(await lc.stats());
  assert.equal(s0.size, N - 1, 'no subscriber made from a bad offer');
  await sleep(1000);
  const s1 = byId(await lc.stats());
  for (const [id, x] of s1) assert.ok(x.video.recv > s0.get(id).video.recv, `${id} still receiving`);
});

test('verification is real: a corrupted inbound SRTP key fails authentication', async () => {
  lc.send({ op: 'corrupt_key', id: 'a1' });
  await sleep(500);
  const s0 = byId(await lc.stats());
  await sleep(1500);
  const s1 = byId(await lc.stats());
  const v0 = s0.get('a1');
  const v1 = s1.get('a1');
  assert.ok(v1.auth_fail > v0.auth_fail + 30, `a1 auth failures grow: ${v0.auth_fail} -> ${v1.auth_fail}`);
  assert.equal(v1.video.recv, v0.video.recv, 'a1 counts no video');
  assert.equal(v1.audio.recv, v0.audio.recv, 'a1 counts no audio');
  for (const [id, x] of s1) {
    if (id === 'a1') continue;
    assert.equal(x.auth_fail, 0, id);
    assert.ok(x.video.recv > s0.get(id).video.recv && x.audio.recv > s0.get(id).audio.recv, `${id} still receiving`);
  }
});
