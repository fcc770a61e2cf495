// Simulcast: a @roamhq/wrtc presenter sends three VP8 layers by rid (960x540, 480x270, 240x135);
// each attendee gets one layer, rewritten onto one continuous stream. The layer an attendee gets is
// read from the size in the VP8 keyframes it receives (RFC 6386 9.1: the keyframe header carries
// width and height), so this checks what arrives, not what the plugin says.
//   1. The presenter's answer accepts simulcast; an attendee with the room's default
//      (video_layer "high") gets 960x540.
//   2. An attendee that joins with layer "low" gets 240x135 only; `set_layer` "medium" moves it
//      to 480x270 (a keyframe of the new layer first: the plugin asks the presenter for one).
//   3. An attendee whose receiver reports claim 50% loss is lowered (event layer_changed, reason
//      feedback, and smaller keyframes); once its reports are clean again it is raised back to
//      high after the policy's hold (5 s for the first raise).
//   4. Sequence numbers stay continuous for every attendee across the layer switches.
//   6. The presenter page (headless Chromium) publishes simulcast by default: attendees on "low" and
//      "high" get different sizes.
//   5. Attendees seated before the presenter publishes: the one that asked for "low" gets only
//      240x135 keyframes from the very first packet (the presenter's layers start within
//      milliseconds of each other, and none above the ceiling may get through meanwhile; a CI run
//      once saw a "low" attendee get 960, 480, then 240).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RtcpReceiverInfo, RtcpRrPacket } from 'werift';
import {
  Bag, assertEvent, createRoom, createTenant, handle, joinBody, presenter, startJanus, safeJson,
} from './lib/allhands.mjs';
import { WeriftAttendee, startLocalStun, stopLocalStun } from './lib/werift-peers.mjs';
import { waitFor } from './lib/util.mjs';
import { Browser, waitState } from './lib/browser.mjs';

// Lowest first, as libwebrtc allocates bitrate in that order; the presenter's JSEP tells Janus
// "rid_order": "lmh" (Janus 1.1.2 reads a=simulcast highest first otherwise).
const LAYERS = [{ rid: 'l', scaleResolutionDownBy: 4 }, { rid: 'm', scaleResolutionDownBy: 2 }, { rid: 'h' }];
const WIDTH = { low: 240, medium: 480, high: 960 };
let janus;
let pres;
const bag = new Bag();

before(async () => {
  await startLocalStun();
  janus = await startJanus('simulcast', { capacity: 50, wave_size: 10, wave_interval_ms: 200, admit_timeout_ms: 30000 });
  await createTenant(janus, { tenant: 'sim', max_participants: 50 });
  await createRoom(janus, { tenant: 'sim', room: 'r1', max_attendees: 40, presenter_secret: 'p-presenter' });
  pres = await presenter(janus, bag, {
    tenant: 'sim', room: 'r1', presenter_secret: 'p-presenter', display: 'host',
    media: { simulcast: LAYERS, width: 960, height: 540, fps: 15 },
  });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
  stopLocalStun();
});

// A werift attendee that keeps the first 24 bytes of every RTP payload (VP8 descriptor, payload
// header and a keyframe's size) and can send its own receiver reports.
class SimAttendee extends WeriftAttendee {
  _record(packet, router) {
    super._record(packet, router);
    const last = this.packets[this.packets.length - 1];
    if (last) last.bytes = Buffer.from(packet.payload.subarray(0, 24));
  }

  videoMid() { return this.offers[0]?.mlines.find((m) => m.kind === 'video' && m.port !== 0)?.mid; }

  // Keyframes received since packet index `from`: [{at, width, height}].
  keyframes(from = 0) {
    const mid = this.videoMid();
    const out = [];
    for (const p of this.packets.slice(from)) {
      if (p.mid !== mid) continue;
      const k = vp8Keyframe(p.bytes);
      if (k) out.push({ at: p.at, ...k });
    }
    return out;
  }

  // Send a receiver report for every SSRC received, claiming `fractionLost` (0..255).
  async sendFakeReport(fractionLost) {
    const tr = this.pc.getTransceivers().find((t) => t.kind === 'video' && t.receiver);
    const ssrcs = [...new Set(this.packets.filter((p) => p.mid === this.videoMid()).slice(-50).map((p) => p.ssrc))];
    if (!tr || !ssrcs.length) return;
    const reports = ssrcs.map((ssrc) => new RtcpReceiverInfo({
      ssrc, fractionLost, packetsLost: 0, highestSequence: 0, jitter: 0, lsr: 0, dlsr: 0,
    }));
    await tr.receiver.dtlsTransport.sendRtcp([new RtcpRrPacket({ ssrc: 12345, reports })]);
  }
}

// RFC 7741 payload descriptor, then RFC 6386 9.1 keyframe header: {width, height} or null.
function vp8Keyframe(b) {
  if (!b || b.length < 1) return null;
  let i = 1;
  const x = (b[0] & 0x80) !== 0;
  if (!((b[0] & 0x10) !== 0 && (b[0] & 0x07) === 0)) return null; // not the start of a frame
  if (x) {
    if (b.length < 2) return null;
    const I = (b[1] & 0x80) !== 0;
    const L = (b[1] & 0x40) !== 0;
    const T = (b[1] & 0x20) !== 0;
    const K = (b[1] & 0x10) !== 0;
    i = 2;
    if (I) i += (b[i] & 0x80) ? 2 : 1;
    if (L) i += 1;
    if (T || K) i += 1;
  }
  if (b.length < i + 10) return null;
  if ((b[i] & 0x01) !== 0 || b[i + 3] !== 0x9d || b[i + 4] !== 0x01 || b[i + 5] !== 0x2a) return null;
  return { width: b.readUInt16LE(i + 6) & 0x3fff, height: b.readUInt16LE(i + 8) & 0x3fff };
}

async function attendee(label, extra = {}, { room = 'r1' } = {}) {
  const h = await handle(janus, bag);
  const a = new SimAttendee(h, { label });
  bag.add(() => a.close());
  a.h = h;
  a.events = [];
  h.on('plugin-event', (e) => a.events.push(e.data || {}));
  const r = await a.join({ ...joinBody({ tenant: 'sim', room, display: label }), ...extra });
  assertEvent(r.data, 'admitted', `${label} join`);
  await a.waitConnected();
  return a;
}

// Wait until `a` received a keyframe of `width` after packet index `from`; returns its index.
async function keyframeOf(a, width, { from = 0, timeout = 25000 } = {}) {
  return waitFor(() => {
    const ks = a.keyframes(from);
    return ks.some((k) => k.width === width) ? ks : false;
  }, {
    timeout, interval: 200,
    what: `${a.label}: a ${width}-wide keyframe (got ${safeJson(a.keyframes(from).map((k) => k.width))}; `
      + `${a.packets.length} packets, events ${safeJson(a.events)})`,
  });
}

function assertContinuous(a, minPackets = 50) {
  const mid = a.videoMid();
  const vids = a.packets.filter((p) => p.mid === mid);
  assert.ok(vids.length > minPackets, `${a.label}: video packets (${vids.length})`);
  let jumps = 0;
  for (let i = 1; i < vids.length; i += 1) {
    const d = (vids[i].seq - vids[i - 1].seq + 0x10000) & 0xffff;
    if (d > 100 && d < 0xff00) jumps += 1; // forward jump of > 100 packets (a late packet is d near 0xffff)
  }
  assert.equal(jumps, 0, `${a.label}: no sequence number jump across layer switches`);
  assert.equal(new Set(vids.map((p) => p.ssrc)).size, 1, `${a.label}: one SSRC towards the attendee`);
}

// Resolves once the wrtc presenter encodes all three layers (libwebrtc enables the higher ones as
// its bandwidth estimate grows): until then a high-layer attendee rightly starts lower.
async function presenterSendsLayers(p, n = 3) {
  const sent = async () => {
    const counts = new Map();
    (await p.pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video' && s.bytesSent > 0) counts.set(s.ssrc, s.bytesSent);
    });
    return counts;
  };
  let last = await sent();
  await waitFor(async () => {
    await sleep(300);
    const now = await sent();
    const growing = [...now].filter(([ssrc, b]) => b > (last.get(ssrc) || 0)).length;
    last = now;
    return growing >= n;
  }, { timeout: 20000, interval: 100, what: `the presenter sending ${n} layers` });
}

test('the presenter\'s answer accepts simulcast; a default attendee gets the high layer (960x540)', async () => {
  const sdp = pres.lastReply.jsep.sdp;
  await presenterSendsLayers(pres);
  assert.match(sdp, /a=simulcast:\s*recv/, `answer accepts simulcast: ${sdp}`);
  assert.match(sdp, /urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id/, 'answer keeps the rid extension');
  const a = await attendee('default');
  const ks = await keyframeOf(a, WIDTH.high);
  assert.equal(ks[0].width, WIDTH.high, `first keyframe is the high layer: ${safeJson(ks)}`);
  await sleep(2000);
  assertContinuous(a);
});

test('layer "low" at join gets 240x135 only; set_layer "medium" moves it to 480x270', async () => {
  const a = await attendee('low', { layer: 'low' });
  await keyframeOf(a, WIDTH.low);
  await sleep(2000);
  const widths = a.keyframes().map((k) => k.width);
  assert.ok(widths.every((w) => w === WIDTH.low), `only low keyframes while low: ${safeJson(widths)}; events ${safeJson(a.events)}`);
  const from = a.packets.length;
  const r = await a.h.request({ request: 'set_layer', layer: 'medium' });
  assert.equal(r.data.layer, 'medium', `set_layer reply: ${safeJson(r.data)}`);
  await keyframeOf(a, WIDTH.medium, { from });
  await sleep(1500);
  const after = a.keyframes(from).map((k) => k.width).filter((w) => w !== WIDTH.low);
  assert.ok(after.every((w) => w === WIDTH.medium), `medium after set_layer: ${safeJson(after)}`);
  assertContinuous(a);
});

test('reported loss lowers an attendee\'s layer; clean reports raise it back after the hold', async () => {
  const a = await attendee('lossy');
  await keyframeOf(a, WIDTH.high);
  const from = a.packets.length;
  // 50% loss claimed five times a second (werift's own reports, ~1/s, say 0%).
  let lossy = true;
  const timer = setInterval(() => { if (lossy) a.sendFakeReport(128).catch(() => {}); }, 200);
  try {
    await waitFor(() => a.events.find((e) => e.event === 'layer_changed' && e.reason === 'feedback'), {
      timeout: 15000, what: `${a.label}: layer_changed (events ${safeJson(a.events)})`,
    });
    const down = a.events.filter((e) => e.event === 'layer_changed');
    assert.notEqual(down[0].layer, 'high', `lowered: ${safeJson(down)}`);
    const ks = await waitFor(() => {
      const k = a.keyframes(from).filter((x) => x.width < WIDTH.high);
      return k.length ? k : false;
    }, { timeout: 15000, what: `${a.label}: a smaller keyframe after the loss reports` });
    assert.ok(ks[0].width <= WIDTH.medium);
    lossy = false;
    const upFrom = a.packets.length;
    const nEvents = a.events.length;
    // The first raise needs 5 s of clean reports (AH_SIM_HOLD_MIN_US); two raises may be needed.
    await waitFor(() => a.events.slice(nEvents).find((e) => e.event === 'layer_changed' && e.layer === 'high'), {
      timeout: 40000, what: `${a.label}: raised back to high (events ${safeJson(a.events.slice(nEvents))})`,
    });
    await keyframeOf(a, WIDTH.high, { from: upFrom });
  } finally {
    clearInterval(timer);
  }
  assertContinuous(a);
});

test('attendees seated before the presenter publishes: "low" gets only 240x135 from its first keyframe', async () => {
  await createRoom(janus, { tenant: 'sim', room: 'r2', max_attendees: 10, presenter_secret: 'p-presenter' });
  const low = await attendee('early-low', { layer: 'low' }, { room: 'r2' });
  const high = await attendee('early-high', {}, { room: 'r2' });
  const p2 = await presenter(janus, bag, {
    tenant: 'sim', room: 'r2', presenter_secret: 'p-presenter', display: 'host2',
    media: { simulcast: LAYERS, width: 960, height: 540, fps: 15 },
  });
  await keyframeOf(low, WIDTH.low);
  await keyframeOf(high, WIDTH.high);
  await sleep(3000);
  const widths = low.keyframes().map((k) => k.width);
  assert.ok(widths.length > 0 && widths.every((w) => w === WIDTH.low), `early-low: only low keyframes: ${safeJson(widths)}; events ${safeJson(low.events)}`);
  assertContinuous(low, 20); // the low layer alone: ~15 packets a second
  await p2.close();
});

test('the presenter page (Chromium) publishes simulcast by default: attendees on "low" and "high" get different sizes', async () => {
  await createRoom(janus, { tenant: 'sim', room: 'r3', max_attendees: 10, presenter_secret: 'p-presenter' });
  const br = await new Browser().start();
  try {
    const host = await br.openPresenter({ server: `${janus.wsUrl}/`, tenant: 'sim', room: 'r3', secret: 'p-presenter',
      display: 'Page presenter', autojoin: 1 }, { name: 'presenter' });
    await waitState(host, 'joined', 45000);
    await host.locator('#go-live-button').click();
    await waitState(host, 'live', 45000);
    const low = await attendee('page-low', { layer: 'low' }, { room: 'r3' });
    const high = await attendee('page-high', {}, { room: 'r3' });
    let lw = [];
    let hw = [];
    await waitFor(() => {
      lw = [...new Set(low.keyframes().map((k) => k.width))];
      hw = [...new Set(high.keyframes().map((k) => k.width))];
      return lw.length > 0 && hw.length > 0;
    }, { timeout: 30000, what: 'keyframes at both attendees' });
    await sleep(2000);
    lw = [...new Set(low.keyframes().map((k) => k.width))];
    hw = [...new Set(high.keyframes().map((k) => k.width))];
    console.log(`# page presenter with simulcast: keyframe widths low ${safeJson(lw)}, high ${safeJson(hw)}`);
    assert.ok(Math.max(...lw) < Math.min(...hw), `"low" gets a smaller layer than "high": ${safeJson({ lw, hw })}`);
    assert.deepEqual(host.ahErrors, [], 'no uncaught errors in the presenter page');
  } finally {
    await br.close();
  }
});
