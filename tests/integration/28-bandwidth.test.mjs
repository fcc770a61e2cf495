// A bandwidth signal from real browsers (issue 12 section 6). Attendees are offered video without
// transport-wide-cc (abs-send-time and goog-remb only), so Chromium estimates the bandwidth of what
// it receives and reports it in REMB; the simulcast layer policy (plugin/core/simulcast.c) reads it.
//   1. A real Chromium attendee (playwright-core, /usr/bin/chromium, the project's attendee page)
//      receives a @roamhq/wrtc presenter sending three VP8 layers. Its offer has no transport-cc.
//      Its link (Janus -> Chromium) is limited with `tc ... tbf`: it gets `layer_changed` to a
//      lower layer with reason `feedback`, while it has lost little; once the limit is lifted it is
//      raised back to high.
//   2. A room's `presenter_max_bitrate` makes the plugin send REMB to its presenters: the
//      presenter's outbound video bitrate (its own getStats) drops under the cap.
// Shaping: Janus and the browser both live in the test namespace (run.mjs), on addresses of the
// same veth pair, so their packets go through the namespace's `lo`, not the veth: the limit is a
// tbf under an htb class on `lo` that only the UDP packets from the Janus port of the attendee's
// selected candidate pair go through (u32 filter), so nothing else is slowed down.
// No timed assertion: every wait is a generous timeout.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRoom, createTenant, presenter, startJanus, safeJson, Bag } from './lib/allhands.mjs';
import { Browser } from './lib/browser.mjs';
import { waitFor } from './lib/util.mjs';

const LAYERS = [{ rid: 'l', scaleResolutionDownBy: 4 }, { rid: 'm', scaleResolutionDownBy: 2 }, { rid: 'h' }];
// The limit on the attendee's link: under the high layer alone (about 1.1 Mbit/s here), above the
// medium one (about 0.4 Mbit/s).
const LIMIT = '800kbit';
const TENANT = 'bw';
const ROOM = 'r1';
const log = (line) => console.log(`# ${line}`);
let janus;
let br;
let pres;
const bag = new Bag();
let shaped = false;

// Test instrumentation (not part of the page): every Janus message the page receives over its
// WebSocket, and every RTCPeerConnection it creates.
const RECORD = `(() => {
  window.__ahMessages = [];
  window.__ahPcs = [];
  const NativeWs = window.WebSocket;
  window.WebSocket = class extends NativeWs {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (e) => { try { window.__ahMessages.push(JSON.parse(e.data)); } catch {} });
    }
  };
  const NativePc = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePc {
    constructor(...a) { super(...a); window.__ahPcs.push(this); }
  };
})();`;

function tc(args) {
  return execFileSync('tc', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// Limit UDP from Janus's `port` to `rate` (e.g. '300kbit').
function shape(port, rate) {
  unshape();
  tc(['qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '2', 'r2q', '1000000']);
  tc(['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:2', 'htb', 'rate', '10gbit']);
  tc(['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '10gbit']);
  tc(['qdisc', 'add', 'dev', 'lo', 'parent', '1:1', 'handle', '10:', 'tbf', 'rate', rate, 'burst', '20kb', 'latency', '400ms']);
  tc(['filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32',
    'match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'sport', String(port), '0xffff', 'flowid', '1:1']);
  shaped = true;
}

function unshape() {
  try { tc(['qdisc', 'del', 'dev', 'lo', 'root']); } catch { /* none */ }
  shaped = false;
}

before(async () => {
  // janus.js keeps its session alive every 25 s: a longer session_timeout than the tests' 15 s.
  janus = await startJanus('bandwidth', { capacity: 20, wave_size: 10, wave_interval_ms: 200, admit_timeout_ms: 30000 },
    { sessionTimeout: 120 });
  await createTenant(janus, { tenant: TENANT, max_participants: 20 });
  await createRoom(janus, { tenant: TENANT, room: ROOM, max_attendees: 10, presenter_secret: 'p-presenter' });
  pres = await presenter(janus, bag, {
    tenant: TENANT, room: ROOM, presenter_secret: 'p-presenter', display: 'host',
    media: { simulcast: LAYERS, width: 960, height: 540, fps: 15 },
  });
  br = await new Browser({ log }).start();
});

after(async () => {
  if (shaped) unshape();
  if (br) await br.close();
  await bag.closeAll();
  if (janus) await janus.dispose();
});

const events = (page) => page.evaluate(() => window.__ahMessages
  .map((m) => m.plugindata && m.plugindata.data).filter((d) => d && d.event));

// The page's PeerConnection: video inbound figures and the selected pair's Janus-side port.
const pcStats = (page) => page.evaluate(async () => {
  const pc = window.__ahPcs[window.__ahPcs.length - 1];
  if (!pc) return null;
  const out = { remoteSdp: pc.remoteDescription && pc.remoteDescription.sdp, video: null, janusPort: null };
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.video = { packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, bytesReceived: s.bytesReceived,
        frameWidth: s.frameWidth, framesDecoded: s.framesDecoded };
    }
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
  if (pair) {
    const remote = stats.get(pair.remoteCandidateId);
    out.janusPort = remote && remote.port;
    out.janusAddress = remote && remote.address;
  }
  return out;
});

test('a Chromium attendee whose link is limited with tbf moves to a lower layer, and back up when the limit is lifted', async () => {
  const context = await br.browser.newContext({ viewport: { width: 640, height: 480 } });
  await context.addInitScript(RECORD);
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') log(`[chromium] ${m.text()}`); });
  await page.goto(`${br.baseUrl}/attendee.html?${new URLSearchParams({ server: `${janus.wsUrl}/`, tenant: TENANT, room: ROOM, autojoin: '1', display: 'chromium' })}`);
  const st0 = await waitFor(async () => {
    const s = await pcStats(page);
    return s && s.video && s.video.framesDecoded > 30 && s.janusPort ? s : false;
  }, { timeout: 45000, interval: 500, what: 'Chromium decoding the presenter\'s video' });
  log(`attendee offer video m-line:\n${st0.remoteSdp.split('m=video')[1]}`);
  assert.ok(!/a=extmap:\d+ \S*transport-wide-cc/.test(st0.remoteSdp), 'the attendee offer has no transport-wide-cc extension');
  assert.match(st0.remoteSdp, /goog-remb/, 'the attendee offer has goog-remb');
  await waitFor(async () => (await pcStats(page)).video.frameWidth === 960, { timeout: 30000, interval: 500, what: 'the high layer (960 wide) decoded' });
  log(`before shaping: ${safeJson(await pcStats(page).then((s) => s.video))}, Janus ${st0.janusAddress}:${st0.janusPort}`);

  const nBefore = (await events(page)).length;
  const atShape = (await pcStats(page)).video;
  shape(st0.janusPort, LIMIT);
  const shapedAt = Date.now();
  let down;
  let atDownStats;
  try {
    down = await waitFor(async () => (await events(page)).slice(nBefore)
      .find((e) => e.event === 'layer_changed' && e.reason === 'feedback' && e.layer !== 'high'), {
      timeout: 30000, interval: 250, what: 'layer_changed to a lower layer while limited',
    });
  } finally {
    atDownStats = (await pcStats(page)).video;
    log(`tc: ${tc(['-s', 'qdisc', 'show', 'dev', 'lo'])}`);
    log(`limited: ${safeJson({ atShape, atDown: atDownStats })}`);
  }
  log(`lowered ${Date.now() - shapedAt} ms after the limit (figure, not asserted): ${safeJson(down)}`);
  // Before heavy loss: what the browser counted as lost on the video when it was lowered.
  const lost = (atDownStats.packetsLost - atShape.packetsLost);
  const got = (atDownStats.packetsReceived - atShape.packetsReceived);
  assert.ok(lost <= 0.2 * (lost + got), `lowered before heavy loss: ${lost} lost, ${got} received since the limit`);
  unshape();
  const liftedAt = Date.now();
  const nDown = (await events(page)).length;
  const up = await waitFor(async () => (await events(page)).slice(nDown)
    .find((e) => e.event === 'layer_changed' && e.layer === 'high'), {
    timeout: 90000, interval: 500, what: 'layer_changed back to high after the limit was lifted',
  });
  log(`raised to high ${Date.now() - liftedAt} ms after the limit was lifted: ${safeJson(up)}; events ${safeJson((await events(page)).filter((e) => e.event === 'layer_changed'))}`);
  await context.close();
});

// The presenter's outbound video bitrate (all its layers) over `ms`, from its own getStats.
async function presenterBps(ms = 3000) {
  const bytes = async () => {
    let n = 0;
    (await pres.pc.getStats()).forEach((x) => { if (x.type === 'outbound-rtp' && (x.kind === 'video' || x.mediaType === 'video')) n += x.bytesSent || 0; });
    return n;
  };
  const a = await bytes();
  await sleep(ms);
  return Math.round(((await bytes()) - a) * 8 * 1000 / ms);
}

test('presenter_max_bitrate: the room sends its presenters REMB, and their bitrate drops under the cap', async () => {
  const CAP = 250000;
  const low = await janus.admin({ request: 'edit_room', tenant: TENANT, room: ROOM, presenter_max_bitrate: 1000 });
  assert.equal(low.error_name, 'invalid_element', `a cap under 50 kbps is refused: ${safeJson(low)}`);
  const free = await waitFor(async () => { const b = await presenterBps(); return b > 2 * CAP ? b : false; },
    { timeout: 30000, interval: 100, what: `the presenter sending more than ${2 * CAP} bps without a cap` });
  log(`presenter without a cap: ${free} bps`);
  const r = await janus.admin({ request: 'edit_room', tenant: TENANT, room: ROOM, presenter_max_bitrate: CAP });
  assert.equal(r.allhands, 'success', `edit_room presenter_max_bitrate: ${safeJson(r)}`);
  const info = await janus.admin({ request: 'room_info', tenant: TENANT, room: ROOM });
  assert.equal(info.room.presenter_max_bitrate, CAP, `room_info shows the cap: ${safeJson(info.room)}`);
  const capped = await waitFor(async () => { const b = await presenterBps(); return b < 1.2 * CAP ? b : false; },
    { timeout: 45000, interval: 100, what: `the presenter's bitrate under ${CAP} bps (+20%) with the cap` });
  log(`presenter with a ${CAP} bps cap: ${capped} bps`);
  // Lifting the cap lets it go back up.
  await janus.admin({ request: 'edit_room', tenant: TENANT, room: ROOM, presenter_max_bitrate: 0 });
  const again = await waitFor(async () => { const b = await presenterBps(); return b > 2 * CAP ? b : false; },
    { timeout: 60000, interval: 100, what: `the presenter back above ${2 * CAP} bps once the cap is lifted` });
  log(`presenter after the cap was lifted: ${again} bps`);
});
