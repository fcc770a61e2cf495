// Prometheus metrics (docs/operations.md, "Metrics"): a real Janus with metrics_port set serves
// GET /metrics in the text exposition format 0.0.4, parsed strictly (lib/prometheus.mjs). A join
// and an admission move the right series by the right amounts, a queued attendee shows in
// `queued`, wrong credentials get 401 and other paths and methods 404/405, a port in use leaves the
// plugin working without metrics, and a scrape while the control thread is held busy (the test-only
// Admin API request `test_stall`, ALLHANDS_TEST_HOOKS=1) answers at once with the last snapshot.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import {
  Bag, assertEvent, assertSuccess, attendee, createRoom, createTenant, joinBody, presenter, startJanus, waitCounts,
  waitFor, safeJson,
} from './lib/allhands.mjs';
import { JanusServer } from './lib/janus.mjs';
import { parseExposition, httpGet } from './lib/prometheus.mjs';
import { freePort, sleep } from './lib/util.mjs';

process.env.ALLHANDS_TEST_HOOKS = '1'; // inherited by the Janus processes this file starts

const TOKEN = 'metrics-token-0123456789';
let janus;
let port;
const bag = new Bag();

const url = () => `http://127.0.0.1:${port}/metrics`;
const auth = { Authorization: `Bearer ${TOKEN}` };

// One scrape, parsed strictly (a failure to parse fails the test).
async function scrape() {
  const res = await httpGet(url(), { headers: auth });
  assert.equal(res.status, 200, `GET /metrics: ${res.status} ${res.body}`);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(res.body);
}

// Scrape until `check(metrics)` holds (the snapshot is rendered about once a second).
async function scrapeUntil(check, what) {
  let last = null;
  await waitFor(async () => {
    last = await scrape();
    return check(last);
  }, { timeout: 20000, interval: 250, what: `${what} (last: ${last ? safeJson(summary(last)) : 'none'})` });
  return last;
}

const NAMES = ['allhands_joins_total', 'allhands_queued', 'allhands_seats_held', 'allhands_setup_seconds_count',
  'allhands_metrics_rendered_timestamp_seconds'];
function summary(m) {
  const out = {};
  for (const n of NAMES) out[n] = m.get(n);
  out.immediate = m.get('allhands_admissions_total', { path: 'immediate' });
  out.queue = m.get('allhands_admissions_total', { path: 'queue' });
  out.leave = m.get('allhands_exits_total', { reason: 'leave' });
  return out;
}

before(async () => {
  port = await freePort();
  janus = await startJanus('metrics', {
    capacity: 1, wave_size: 1, wave_interval_ms: 200, admit_timeout_ms: 15000,
    metrics_port: port, metrics_address: '127.0.0.1', metrics_token: TOKEN, metrics_max_tenants: 10,
  });
  await createTenant(janus, { tenant: 'mt', max_participants: 10 });
  await createRoom(janus, { tenant: 'mt', room: 'r', presenter_secret: 'p-presenter' });
  // The first snapshot is rendered within a second of the start.
  await waitFor(async () => (await httpGet(url(), { headers: auth })).status === 200, { timeout: 10000, what: 'first snapshot' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

test('GET /metrics only, with the bearer token', async () => {
  // Snapshots come about once a second: the first may predate the tenant or its room.
  const m = await scrapeUntil((x) => x.get('allhands_tenant_max_participants', { tenant: 'mt' }) === 10 &&
    x.get('allhands_rooms') === 1, 'the tenant and its room');
  assert.equal(m.get('allhands_up'), 1);
  assert.equal(m.get('allhands_capacity_seats'), 1);
  assert.equal(m.type('allhands_joins_total'), 'counter');
  assert.equal(m.type('allhands_setup_seconds'), 'histogram');
  assert.equal(m.get('allhands_tenants'), 1);
  assert.equal(m.get('allhands_persistence_enabled'), 1);
  for (const headers of [{}, { Authorization: 'Bearer wrong-token-0123456789' }, { Authorization: TOKEN }]) {
    const res = await httpGet(url(), { headers });
    assert.equal(res.status, 401, `Authorization ${safeJson(headers)}: ${res.status}`);
    assert.match(res.headers['www-authenticate'] || '', /^Bearer/);
    assert.ok(!res.body.includes('allhands_'), 'no metrics without the token');
  }
  const other = await httpGet(`http://127.0.0.1:${port}/`, { headers: auth });
  assert.equal(other.status, 404);
  const post = await httpGet(url(), { headers: auth, method: 'POST' });
  assert.equal(post.status, 405);
  assert.match(post.headers.allow || '', /GET/);
});

// Send raw bytes to the metrics port; resolves with what came back before the server closed (or 3 s).
function rawExchange(bytes) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = () => { sock.destroy(); resolve(got); };
    sock.setTimeout(3000, done);
    sock.on('data', (d) => { got += d.toString('latin1'); });
    sock.on('error', done);
    sock.on('close', done);
    sock.on('connect', () => sock.end(bytes));
  });
}

test('garbage, huge headers and half-open connections get an error or a close, and scrapes go on', async () => {
  const garbage = await rawExchange('\x00\x01 NOT HTTP AT ALL\r\n\r\n');
  assert.ok(garbage === '' || /^HTTP\/1\.[01] 4\d\d/.test(garbage), `garbage: ${safeJson(garbage.slice(0, 80))}`);
  const huge = await rawExchange(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200000)}\r\n\r\n`);
  assert.ok(huge === '' || /^HTTP\/1\.[01] 4\d\d/.test(huge), `huge header: ${safeJson(huge.slice(0, 80))}`);
  // Connections that send nothing hold no more than their slot until the idle timeout.
  const idle = [];
  for (let i = 0; i < 8; i++) idle.push(net.connect(port, '127.0.0.1'));
  try {
    const m = await scrape();
    assert.equal(m.get('allhands_up'), 1);
    assert.ok(janus.alive, 'Janus is still running');
  } finally {
    for (const s of idle) s.destroy();
  }
});

test('a join, an admission and a queued attendee move the right series by the right amounts', async () => {
  await presenter(janus, bag, { tenant: 'mt', room: 'r', presenter_secret: 'p-presenter' });
  const m0 = await scrapeUntil((m) => m.get('allhands_presenters') === 1, 'the presenter counted');
  const joins0 = m0.get('allhands_joins_total');
  const immediate0 = m0.get('allhands_admissions_total', { path: 'immediate' });
  const queue0 = m0.get('allhands_admissions_total', { path: 'queue' });
  const setups0 = m0.get('allhands_setup_seconds_count');
  const leaves0 = m0.get('allhands_exits_total', { reason: 'leave' });
  assert.equal(m0.get('allhands_queued'), 0);
  assert.equal(m0.get('allhands_seats_held'), 0);

  // The first attendee takes the node's one seat and connects.
  const a = await attendee(janus, bag);
  assertEvent((await a.join(joinBody({ tenant: 'mt', room: 'r', display: 'first' }))).data, 'admitted', 'first');
  await a.waitMedia();
  const m1 = await scrapeUntil((m) => m.get('allhands_setup_seconds_count') === setups0 + 1, 'a setup time');
  assert.equal(m1.get('allhands_joins_total'), joins0 + 1);
  assert.equal(m1.get('allhands_admissions_total', { path: 'immediate' }), immediate0 + 1);
  assert.equal(m1.get('allhands_admissions_total', { path: 'queue' }), queue0);
  assert.equal(m1.get('allhands_seats_held'), 1);
  assert.equal(m1.get('allhands_attendees', { state: 'active' }), 1);
  assert.equal(m1.get('allhands_tenant_seats', { tenant: 'mt' }), 2, 'the presenter and the attendee');

  // The second one queues.
  const b = await attendee(janus, bag);
  assertEvent((await b.join(joinBody({ tenant: 'mt', room: 'r', display: 'second' }))).data, 'queued', 'second');
  const m2 = await scrapeUntil((m) => m.get('allhands_queued') === 1, 'one queued');
  assert.equal(m2.get('allhands_joins_total'), joins0 + 2);
  assert.equal(m2.get('allhands_tenant_queued', { tenant: 'mt' }), 1);
  assert.equal(m2.get('allhands_admissions_total', { path: 'immediate' }), immediate0 + 1);
  assert.equal(m2.get('allhands_queue_wait_seconds_count'), m1.get('allhands_queue_wait_seconds_count'));

  // The first leaves: the second is admitted from the queue and connects.
  assertEvent((await a.h.request({ request: 'leave' })).data, 'left', 'leave');
  await b.h.waitEvent('admitted', { timeout: 15000, what: 'second admitted' });
  await b.waitMedia();
  await waitCounts(janus, { active: 1, queued: 0 });
  const m3 = await scrapeUntil((m) => m.get('allhands_setup_seconds_count') === setups0 + 2, 'the second setup time');
  assert.equal(m3.get('allhands_admissions_total', { path: 'queue' }), queue0 + 1);
  assert.equal(m3.get('allhands_admissions_total', { path: 'immediate' }), immediate0 + 1);
  assert.equal(m3.get('allhands_exits_total', { reason: 'leave' }), leaves0 + 1);
  assert.equal(m3.get('allhands_queued'), 0);
  assert.equal(m3.get('allhands_joins_total'), joins0 + 2);
  assert.equal(m3.get('allhands_queue_wait_seconds_count'), m1.get('allhands_queue_wait_seconds_count') + 1);
  // Figures, printed (never asserted: machines are noisy).
  console.log(`# setup seconds sum ${m3.get('allhands_setup_seconds_sum')} over ${m3.get('allhands_setup_seconds_count')}; ` +
    `control handling sum ${m3.get('allhands_control_handling_seconds_sum')} over ${m3.get('allhands_control_handling_seconds_count')} items; ` +
    `keyframe requests ${m3.get('allhands_keyframe_requests_total')}, PLIs sent ${m3.get('allhands_plis_sent_total')}`);
  assert.ok(m3.get('allhands_keyframe_requests_total') >= 1, 'attendees joining asked for keyframes');
});

test('a scrape while the control thread is held busy answers at once with the last snapshot', async () => {
  const STALL_MS = 6000;
  const before = await scrape();
  // Wait for a fresh render so the scrape keeps rendering on (someone scraped in the last minute).
  const t0 = before.get('allhands_metrics_rendered_timestamp_seconds');
  await scrapeUntil((m) => m.get('allhands_metrics_rendered_timestamp_seconds') > t0, 'a fresh snapshot');
  let stallDone = false;
  const stall = janus.admin({ request: 'test_stall', ms: STALL_MS }, { timeout: STALL_MS + 20000 })
    .then((r) => { stallDone = true; return r; });
  await sleep(1500);
  const during = await scrape();
  assert.equal(stallDone, false, 'the scrape was answered while the control thread was held');
  const t1 = during.get('allhands_metrics_rendered_timestamp_seconds');
  await sleep(1500);
  const during2 = await scrape();
  assert.equal(stallDone, false, 'the second scrape too');
  // Nothing was rendered while the control thread was held: the same snapshot both times.
  assert.equal(during2.get('allhands_metrics_rendered_timestamp_seconds'), t1);
  assert.equal(during2.get('allhands_joins_total'), during.get('allhands_joins_total'));
  assertSuccess(await stall, 'test_stall');
  // Afterwards: fresh snapshots again, and the stalled item in the handling histogram (over 5 s).
  const after = await scrapeUntil((m) => m.get('allhands_metrics_rendered_timestamp_seconds') > t1, 'a snapshot after the stall');
  const over5 = after.get('allhands_control_handling_seconds_count') - after.get('allhands_control_handling_seconds_bucket', { le: '5' });
  assert.ok(over5 >= 1, `an item took over 5 s: ${over5}`);
  const gap = after.get('allhands_metrics_rendered_timestamp_seconds') - t1;
  console.log(`# snapshots rendered ${gap.toFixed(1)} s apart across the ${STALL_MS} ms stall; scrapes answered meanwhile`);
});

test('a metrics port in use is a clear error in the log, and the plugin works without metrics', async () => {
  const second = new JanusServer({ name: 'metrics-port-in-use', plugins: ['allhands'], allhands: { metrics_port: port } });
  try {
    await second.start();
    const st = await second.admin({ request: 'status' });
    assertSuccess(st, 'status of the node without metrics');
    const log = fs.readFileSync(second.logFile, 'utf8');
    assert.match(log, new RegExp(`metrics are off: cannot listen on 127\\.0\\.0\\.1 port ${port}: Address already in use`));
    // The first node's endpoint is unaffected.
    assert.equal((await scrape()).get('allhands_up'), 1);
  } finally {
    await second.dispose();
  }
});
