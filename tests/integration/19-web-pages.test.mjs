// (issue 5) The web pages end to end, in headless Chromium (Debian's chromium + playwright-core),
// relying only on the DOM contract in web/CONTRACT.md. Capacity 2, wave_size 1: a presenter page
// goes live with the fake camera; four attendee pages join: two watch (decoded frames advancing),
// two queue (positions, a queue progress bar that never goes back); a leave frees a seat for the
// next in the queue; the dashboard shows the Admin API's status; a dropped WebSocket keeps the seat
// (rejoin grace) but a closed tab frees it at once. Screenshots of each page in its key
// states go to $AH_ARTIFACTS/screenshots/ (and to docs/images/ with AH_UPDATE_DOCS_IMAGES=1).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRoom, createTenant, roomInfo, startJanus, status, waitFor, safeJson } from './lib/allhands.mjs';
import { REPO_ROOT, mkdirp, sleep } from './lib/util.mjs';
import {
  Browser, dropWebSockets, numberIn, pagePosition, saveConsoleLog, screenshot, stateHistory, text, waitFramesAdvancing, waitState,
} from './lib/browser.mjs';

const TENANT = 'webt';
const ROOM = 'hall';
const PRESENTER_SECRET = 'pres-secret';
const VIDEO = '#videos video';
const DOCS_IMAGES = path.join(REPO_ROOT, 'docs', 'images');

let janus;
let br;
let presenterPage;
const attendees = [];           // [{page, name}]
const progressSamples = new Map(); // name -> [{t, value, position, state}]
let sampler = null;
let bOk = false;
let chainOk = false;              // (b) and (c) passed: attendees 3 and 4 watch

const log = (line) => console.log(`# ${line}`);

before(async () => {
  janus = await startJanus('web-pages', {
    capacity: 2, wave_size: 1, wave_interval_ms: 1000, update_interval_ms: 300, admit_timeout_ms: 30000, rejoin_grace_s: 600,
  }, { sessionTimeout: 60 }); // Janus's default: janus.js keeps sessions alive every 25 s (the harness's 15 s expired idle pages)
  await createTenant(janus, { tenant: TENANT, max_participants: 20 });
  await createRoom(janus, { tenant: TENANT, room: ROOM, max_attendees: 20, presenter_secret: PRESENTER_SECRET, description: 'All hands' });
  br = await new Browser({ log }).start();
  log(`pages at ${br.baseUrl}, Janus ws ${janus.wsUrl}, admin ${janus.adminUrl}`);
});

after(async () => {
  if (sampler) clearInterval(sampler);
  if (br) {
    log(`browser console saved to ${saveConsoleLog(br, 'web-pages-console')}`);
    await br.close();
  }
  if (janus) await janus.dispose();
});

const common = () => ({ server: `${janus.wsUrl}/`, tenant: TENANT, room: ROOM, autojoin: 1 });

// Screenshot into the artifacts; with AH_UPDATE_DOCS_IMAGES=1 also into docs/images/<docName>.png.
async function shot(page, name, docName, opts = {}) {
  const file = await screenshot(page, name, opts);
  log(`screenshot ${file}`);
  if (docName && process.env.AH_UPDATE_DOCS_IMAGES) {
    fs.copyFileSync(file, path.join(mkdirp(DOCS_IMAGES), `${docName}.png`));
  }
}

// Each #count-* shows a number.
async function presenterCounts(page) {
  return {
    active: await numberIn(page, '#count-active'),
    connecting: await numberIn(page, '#count-connecting'),
    queued: await numberIn(page, '#count-queued'),
  };
}

test('harness: static server serves the pages and vendor scripts; the Admin API answers a cross-origin POST', async () => {
  for (const [p, type] of [['/attendee.html', 'text/html'], ['/vendor/janus.js', 'text/javascript'],
    ['/vendor/adapter.min.js', 'text/javascript'], ['/style.css', 'text/css'], ['/common.js', 'text/javascript']]) {
    const r = await fetch(br.baseUrl + p);
    assert.equal(r.status, 200, `GET ${p}`);
    assert.ok(r.headers.get('content-type').startsWith(type), `${p}: content-type ${r.headers.get('content-type')}`);
    await r.arrayBuffer();
  }
  assert.equal((await fetch(`${br.baseUrl}/../package.json`)).status, 404);
  // The dashboard POSTs JSON to the Admin API from the pages' origin: a CORS preflight.
  const page = await br.open('index.html', {}, { name: 'cors-probe' });
  const reply = await page.evaluate(async ([url, secret]) => {
    const r = await fetch(url, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ janus: 'message_plugin', plugin: 'janus.plugin.allhands', request: { request: 'status' }, admin_secret: secret, transaction: 'cors' }),
    });
    return r.json();
  }, [janus.adminUrl, janus.adminSecret]);
  await br.closePage(page);
  assert.equal(reply.janus, 'success', `Admin API reply to a cross-origin POST: ${safeJson(reply)}`);
  assert.equal(reply.response?.allhands, 'success', safeJson(reply));
});

test('(a) presenter page: autojoin, go live with the fake camera, counts shown', async () => {
  presenterPage = await br.openPresenter({ ...common(), secret: PRESENTER_SECRET, display: 'Host' }, { name: 'presenter' });
  await waitState(presenterPage, 'joined', 45000);
  await presenterPage.locator('#go-live-button').click();
  await waitState(presenterPage, 'live', 45000);
  const ri = await waitFor(async () => {
    const r = await roomInfo(janus, TENANT, ROOM);
    return r.presenters.length === 1 && r.presenters[0].publishing && (r.presenters[0].streams || []).length > 0 ? r : false;
  }, { timeout: 30000, what: 'room_info: one presenter publishing' });
  assert.equal(ri.presenters[0].display, 'Host');
  assert.ok(ri.presenters[0].streams.some((s) => s.kind === 'video'), `the presenter publishes video: ${safeJson(ri.presenters[0])}`);
  // #count-* are numbers from room_counts (polled every 2 s): nobody in yet.
  const c = await waitFor(async () => {
    const x = await presenterCounts(presenterPage);
    return Object.values(x).every(Number.isFinite) ? x : false;
  }, { timeout: 15000, what: 'presenter #count-active/#count-connecting/#count-queued numbers' });
  assert.deepEqual(c, { active: 0, connecting: 0, queued: 0 });
  // Local preview playing.
  await waitFramesAdvancing(presenterPage, '#preview', 20000);
  await shot(presenterPage, 'presenter-live');
});

test('(b) four attendee pages: two watch with video frames advancing, two queue at positions 1 and 2', async () => {
  assert.ok(presenterPage, 'needs (a)');
  // The first two, one after the other (capacity 2): each reaches "watching" with decoded video.
  for (let i = 1; i <= 2; i++) {
    const page = await br.openAttendee({ ...common(), display: `Viewer ${i}` }, { name: `attendee${i}` });
    attendees.push({ page, name: `attendee${i}` });
    await waitState(page, 'watching', 60000);
    const v = await waitFramesAdvancing(page, VIDEO, 45000);
    log(`attendee${i} video: ${safeJson(v)}`);
    const pid = await page.evaluate((s) => document.querySelector(s)?.dataset.presenter, VIDEO);
    assert.ok(pid, `attendee${i}: the video has data-presenter`);
  }
  await waitFor(async () => (await roomInfo(janus, TENANT, ROOM)).counts.active === 2, { timeout: 30000, what: 'two active attendees' });
  // Two more: the node is full, they queue in join order.
  for (let i = 3; i <= 4; i++) {
    const page = await br.openAttendee({ ...common(), display: `Viewer ${i}` }, { name: `attendee${i}` });
    attendees.push({ page, name: `attendee${i}` });
    await waitState(page, 'queued', 45000);
  }
  const [, , q1, q2] = attendees;
  await waitFor(async () => (await pagePosition(q1.page)) === '1' && (await pagePosition(q2.page)) === '2',
    { timeout: 15000, what: 'data-position 1 and 2' });
  const ri = await roomInfo(janus, TENANT, ROOM);
  assert.deepEqual(ri.queue.map((q) => [q.display, q.position]), [['Viewer 3', 1], ['Viewer 4', 2]], `room_info queue: ${safeJson(ri.queue)}`);
  for (const [a, pos] of [[q1, 1], [q2, 2]]) {
    const shown = await text(a.page, '#position');
    assert.ok(shown && shown.includes(String(pos)), `${a.name}: #position shows ${pos}: ${safeJson(shown)}`);
    // queue_length comes with position events (sent when the position changes): at least the position.
    const ql = await numberIn(a.page, '#queue-length');
    assert.ok(ql >= pos && ql <= 2, `${a.name}: #queue-length shows ${pos}..2: ${safeJson(await text(a.page, '#queue-length'))}`);
    assert.ok((await text(a.page, '#status'))?.length > 0, `${a.name}: #status has a sentence`);
    assert.ok((await text(a.page, '#wait'))?.length > 0, `${a.name}: #wait has a text`);
  }
  // Sample the queued pages' progress bars from now on (checked in (c)).
  const sample = async () => {
    for (const a of [q1, q2]) {
      try {
        const s = await a.page.evaluate(() => ({
          value: document.getElementById('queue-progress')?.value ?? null,
          position: document.body.dataset.position ?? '',
          state: document.body.dataset.state,
        }));
        if (!progressSamples.has(a.name)) progressSamples.set(a.name, []);
        progressSamples.get(a.name).push({ t: Date.now(), ...s });
      } catch { /* page closing */ }
    }
  };
  await sample();
  sampler = setInterval(sample, 250);
  await shot(q2.page, 'attendee-queued', 'attendee-queued');
  await shot(attendees[0].page, 'attendee-watching', 'attendee-watching');
  // The presenter page's counts follow (room_counts every 2 s).
  let shown;
  await waitFor(async () => {
    shown = await presenterCounts(presenterPage);
    return shown.active === 2 && shown.queued === 2 && shown.connecting === 0;
  }, { timeout: 15000, what: 'presenter counts active 2, connecting 0, queued 2' }).catch((e) => { throw new Error(`${e.message}; shown ${safeJson(shown)}`); });
  await shot(presenterPage, 'presenter-live-audience', 'presenter-live', { fullPage: true });
  bOk = true;
});

test('(c) leaving frees a seat: the next in the queue watches, the queue moves, progress never goes back', async () => {
  assert.ok(bOk, 'needs (b)');
  const [w1, w2, q1, q2] = attendees;
  await w1.page.locator('#leave-button').click();
  await waitState(w1.page, 'left', 20000);
  await waitState(q1.page, 'watching', 60000);
  await waitFramesAdvancing(q1.page, VIDEO, 45000);
  await waitFor(async () => (await pagePosition(q2.page)) === '1', { timeout: 20000, what: 'attendee4 moves to position 1' });
  assert.equal(await waitState(q2.page, 'queued', 1000).then((s) => s.state), 'queued');
  // Let the sampler see position 1 before the next seat frees.
  await waitFor(() => (progressSamples.get(q2.name) || []).some((x) => x.state === 'queued' && x.position === '1'),
    { timeout: 5000, what: 'a progress sample of attendee4 at position 1' });
  // A second leave admits the last one too.
  await w2.page.locator('#leave-button').click();
  await waitState(w2.page, 'left', 20000);
  await waitState(q2.page, 'watching', 60000);
  await waitFramesAdvancing(q2.page, VIDEO, 45000);
  await sleep(600);
  clearInterval(sampler);
  sampler = null;
  for (const a of [q1, q2]) {
    const s = progressSamples.get(a.name) || [];
    const queuedSamples = s.filter((x) => x.value !== null);
    log(`${a.name} progress samples: ${safeJson(s.map((x) => [x.state, x.position, x.value]).filter((x, i, arr) => i === 0 || JSON.stringify(x) !== JSON.stringify(arr[i - 1])))}`);
    assert.ok(queuedSamples.length > 0, `${a.name}: #queue-progress samples`);
    for (let i = 1; i < queuedSamples.length; i++) {
      assert.ok(queuedSamples[i].value >= queuedSamples[i - 1].value,
        `${a.name}: #queue-progress went back from ${queuedSamples[i - 1].value} to ${queuedSamples[i].value}`);
    }
    const whileQueued = s.filter((x) => x.state === 'queued').map((x) => x.value);
    assert.ok(whileQueued.every((v) => v >= 0 && v <= 1), `${a.name}: progress within [0,1]: ${safeJson(whileQueued)}`);
  }
  // attendee4 went from position 2 to 1: its bar moved forward while it waited.
  const s4 = (progressSamples.get(q2.name) || []).filter((x) => x.state === 'queued');
  assert.ok(s4.at(-1).value > s4[0].value, `attendee4's progress increased while queued: ${s4[0].value} -> ${s4.at(-1).value}`);
  await waitFor(async () => {
    const c = (await roomInfo(janus, TENANT, ROOM)).counts;
    return c.active === 2 && c.queued === 0 ? c : false;
  }, { timeout: 30000, what: 'room counts active 2, queued 0' });
  chainOk = true;
});

test('(d) dashboard: node figures equal the Admin API status; a row for the room', async () => {
  assert.ok(presenterPage, 'needs (a)');
  // With (b) and (c) passed: bring a queue back for a more telling picture (two new attendees queue
  // behind the two watching ones). Otherwise the dashboard is checked against whatever state there is.
  const full = chainOk;
  if (full) {
    for (const a of attendees.slice(0, 2)) await br.closePage(a.page);
    for (let i = 5; i <= 6; i++) {
      const page = await br.openAttendee({ ...common(), display: `Viewer ${i}` }, { name: `attendee${i}` });
      attendees.push({ page, name: `attendee${i}` });
      await waitState(page, 'queued', 45000);
    }
  } else {
    for (const a of attendees) await br.closePage(a.page);
  }
  const dash = await br.openDashboard({ admin: janus.adminUrl, admin_secret: janus.adminSecret }, { name: 'dashboard' });
  let last;
  const ok = await waitFor(async () => {
    const s = await status(janus);
    const n = s.node;
    const want = {
      capacity: n.capacity, active: n.counts.active, connecting: n.counts.connecting, queued: n.counts.queued,
      wave: n.admission.wave_size_now,
    };
    const shown = {};
    for (const k of Object.keys(want)) shown[k] = await numberIn(dash, `#node-${k}`);
    last = { want, shown };
    return Object.keys(want).every((k) => want[k] === shown[k]) ? last : false;
  }, { timeout: 20000, interval: 500, what: `dashboard node figures = status (last ${safeJson(last)})` }).catch((e) => { throw new Error(`${e.message}; last ${safeJson(last)}`); });
  log(`dashboard node: ${safeJson(ok)}`);
  if (full) assert.deepEqual(ok.want, { capacity: 2, active: 2, connecting: 0, queued: 2, wave: 1 });
  assert.ok(Number.isFinite(await numberIn(dash, '#node-rate')), `#node-rate shows a number: ${safeJson(await text(dash, '#node-rate'))}`);
  // The tenant's and the room's rows.
  const row = dash.locator(`tr[data-room="${TENANT}/${ROOM}"]`);
  await row.waitFor({ timeout: 15000 });
  let lastRow;
  await waitFor(async () => {
    const f = async (k) => Number(((await row.locator(`td[data-field="${k}"]`).textContent()) || '').trim().match(/\d+/)?.[0]);
    const c = (await roomInfo(janus, TENANT, ROOM)).counts;
    lastRow = { want: { active: c.active, queued: c.queued, connecting: c.connecting, max_attendees: 20 },
      shown: { active: await f('active'), queued: await f('queued'), connecting: await f('connecting'), max_attendees: await f('max_attendees') } };
    return Object.keys(lastRow.want).every((k) => lastRow.want[k] === lastRow.shown[k]);
  }, { timeout: 15000, what: `room row ${TENANT}/${ROOM} = room_info counts` }).catch((e) => { throw new Error(`${e.message}; last ${safeJson(lastRow)}`); });
  const st = await row.locator('td[data-field="state"]').textContent();
  assert.ok(/live/i.test(st), `room row state shows live: ${safeJson(st)}`);
  assert.equal(await dash.locator(`tr[data-tenant="${TENANT}"]`).count(), 1, 'a tenant row');
  assert.ok(await dash.locator('#chart').count() === 1, '#chart canvas');
  await sleep(2500); // let the chart draw a few points
  await shot(dash, 'dashboard');
  await shot(dash, 'dashboard-full', 'dashboard', { fullPage: true });
  assert.deepEqual(dash.ahErrors, [], 'no uncaught errors in the dashboard');
});

test('(d2) dashboard login form: without admin_secret in the URL, typing it in opens the dashboard', async () => {
  for (const p of br.pages.filter((x) => x.ahName === 'dashboard')) await br.closePage(p);
  const dash = await br.openDashboard({ admin: janus.adminUrl }, { name: 'dashboard-login' });
  const login = dash.locator('#login');
  await login.waitFor({ state: 'visible', timeout: 15000 });
  assert.equal(await login.locator('input[name="admin"]').count(), 1, '#login has an input name=admin');
  await login.locator('input[name="admin_secret"]').fill(janus.adminSecret);
  await login.locator('input[name="admin_secret"]').press('Enter'); // keyboard submission
  let last;
  await waitFor(async () => {
    const n = (await status(janus)).node;
    last = { want: n.capacity, shown: await numberIn(dash, '#node-capacity') };
    return last.want === last.shown;
  }, { timeout: 20000, what: '#node-capacity after logging in' }).catch((e) => { throw new Error(`${e.message}; last ${safeJson(last)}`); });
  const stored = await dash.evaluate((secret) => ({
    local: Object.keys(localStorage).some((k) => String(localStorage.getItem(k)).includes(secret)),
    session: Object.keys(sessionStorage).some((k) => String(sessionStorage.getItem(k)).includes(secret)),
    url: location.href.includes(secret),
  }), janus.adminSecret);
  assert.deepEqual(stored, { local: false, session: true, url: false }, 'the admin secret is kept in sessionStorage only');
  assert.deepEqual(dash.ahErrors, [], 'no uncaught errors in the dashboard');
  await br.closePage(dash);
});

test('(d4) dashboard: with the Admin API unreachable its figures are greyed out and dated, and come back', async () => {
  const dash = await br.openDashboard({ admin: janus.adminUrl, admin_secret: janus.adminSecret }, { name: 'dashboard-stale' });
  try {
    await waitFor(() => dash.evaluate(() => document.body.dataset.state === 'ok'), { timeout: 15000, what: 'dashboard connected' });
    const opacity = () => dash.evaluate(() => getComputedStyle(document.querySelector('#dashboard > section.card:nth-of-type(2)')).opacity);
    assert.equal(await opacity(), '1');
    // The Admin API cannot be reached (every request to it fails in the page).
    await dash.route(`${janus.adminUrl}**`, (r) => r.abort('connectionrefused'));
    await waitFor(() => dash.evaluate(() => document.body.dataset.stale === 'true'), { timeout: 10000, what: 'figures marked stale' });
    const note = await dash.evaluate(() => document.getElementById('updated-at').textContent);
    console.log(`# dashboard unreachable: opacity ${await opacity()}, "${note.trim()}"`);
    assert.match(note, /the figures below are from .*s ago, and are not current/, note);
    assert.equal(await opacity(), '0.5');
    await dash.unroute(`${janus.adminUrl}**`);
    await waitFor(() => dash.evaluate(() => document.body.dataset.stale === 'false' && document.body.dataset.state === 'ok'),
      { timeout: 10000, what: 'figures current again' });
    assert.equal(await opacity(), '1');
  } finally {
    await br.closePage(dash);
  }
});

test('(d3) dashboard forms: a tenant and a room created, a refused create shows its error, an edit changes the room', async () => {
  const dash = await br.openDashboard({ admin: janus.adminUrl, admin_secret: janus.adminSecret }, { name: 'dashboard-forms' });
  const tf = dash.locator('#tenant-form');
  await tf.waitFor({ state: 'visible', timeout: 15000 });
  await tf.locator('input[name="tenant"]').fill('formt');
  await tf.locator('input[name="max_participants"]').fill('30');
  await tf.locator('input[name="secret"]').fill('formt-tenant-secret');
  await tf.locator('#tenant-submit').click();
  await waitFor(async () => /created/i.test(await text(dash, '#tenant-form-status')), { timeout: 15000, what: 'tenant created message' });
  const tenants = (await janus.admin({ request: 'list_tenants' })).tenants || [];
  const t = tenants.find((x) => x.tenant === 'formt');
  assert.ok(t && t.max_participants === 30, `formt exists with max_participants 30: ${safeJson(tenants)}`);
  // The new tenant's join-token signing key is shown once, as create_tenant gave it.
  const key = (await janus.admin({ request: 'get_signing_key', tenant: 'formt' })).signing_key;
  assert.match(await text(dash, '#tenant-form-status'), new RegExp(`signing key: ${key}$`), 'the signing key is shown');

  const rf = dash.locator('#room-form');
  // Refused in the page: no max attendees. Nothing is created and the field is marked.
  await rf.locator('input[name="tenant"]').fill('formt');
  await rf.locator('input[name="room"]').fill('town');
  await rf.locator('input[name="presenter_secret"]').fill('p-presenter');
  await rf.locator('#room-submit').click();
  await waitFor(async () => /required/i.test(await text(dash, '#room-form-error')), { timeout: 10000, what: 'room form error' });
  assert.equal(await rf.locator('input[name="max_attendees"]').getAttribute('aria-invalid'), 'true');
  const none = await janus.admin({ request: 'room_info', tenant: 'formt', room: 'town' });
  assert.ok(none.error_code, `no room after a refused create: ${safeJson(none)}`);
  // Created.
  await rf.locator('input[name="max_attendees"]').fill('12');
  await rf.locator('#room-submit').click();
  await waitFor(async () => /created/i.test(await text(dash, '#room-form-status')), { timeout: 15000, what: 'room created message' });
  let info = await roomInfo(janus, 'formt', 'town');
  assert.equal(info.max_attendees, 12);
  assert.equal(info.video_layer, 'high', 'the default layer');
  // Edited from its row: max attendees and the video layer.
  const editBtn = dash.getByRole('button', { name: 'Edit room formt/town' });
  await editBtn.waitFor({ timeout: 15000 });
  await editBtn.click();
  assert.equal(await rf.getAttribute('data-mode'), 'edit');
  assert.equal(await rf.locator('input[name="max_attendees"]').inputValue(), '12', 'the form is filled from the room');
  await rf.locator('input[name="max_attendees"]').fill('15');
  await rf.locator('select[name="video_layer"]').selectOption('low');
  await rf.locator('#room-submit').click();
  await waitFor(async () => /saved/i.test(await text(dash, '#room-form-status')), { timeout: 15000, what: 'room saved message' });
  info = await roomInfo(janus, 'formt', 'town');
  assert.equal(info.max_attendees, 15);
  assert.equal(info.video_layer, 'low');
  assert.deepEqual(dash.ahErrors, [], 'no uncaught errors in the dashboard');
  await br.closePage(dash);
});

test('(e) the presenter goes off and live again: attendees watch again with frames advancing', async () => {
  assert.ok(chainOk, 'needs (c)');
  const watchers = attendees.slice(2, 4);
  await presenterPage.locator('#go-off-button').click();
  await waitState(presenterPage, 'joined', 30000);
  await waitFor(async () => (await roomInfo(janus, TENANT, ROOM)).presenters.every((x) => !x.publishing),
    { timeout: 20000, what: 'room_info: the presenter no longer publishes' });
  // Attendees stay in (their seats are kept).
  await sleep(1500);
  for (const a of watchers) {
    const st = await a.page.evaluate(() => document.body.dataset.state);
    assert.ok(['watching', 'admitted'].includes(st), `${a.name}: stays in while nobody presents (state ${st})`);
  }
  await presenterPage.locator('#go-live-button').click();
  await waitState(presenterPage, 'live', 45000);
  for (const a of watchers) {
    await waitState(a.page, 'watching', 45000);
    const before = (await a.page.evaluate((sel) => [...document.querySelectorAll(sel)].map((v) => v.getVideoPlaybackQuality().totalVideoFrames), VIDEO));
    await waitFramesAdvancing(a.page, VIDEO, 45000);
    log(`${a.name} after republish: frames ${safeJson(before)} -> advancing`);
  }
  const c = (await roomInfo(janus, TENANT, ROOM)).counts;
  assert.equal(c.active, 2, `still two active: ${safeJson(c)}`);
});

test('(f) the pages fit 360 px wide (no horizontal page scroll)', async () => {
  const pages = [presenterPage, ...attendees.slice(2).map((a) => a.page)].filter((p) => p && !p.isClosed());
  const dash = await br.openDashboard({ admin: janus.adminUrl, admin_secret: janus.adminSecret }, { name: 'dashboard-narrow' });
  await waitFor(async () => Number.isFinite(await numberIn(dash, '#node-capacity')), { timeout: 20000, what: 'dashboard figures' });
  pages.push(dash);
  const seen = new Set();
  const wide = [];
  for (const page of pages) {
    await page.setViewportSize({ width: 360, height: 740 });
    await sleep(300);
    const w = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth, state: document.body.dataset.state }));
    const label = `${page.ahName.replace(/[-\d].*$/, '')}-${w.state || 'page'}`;
    if (!seen.has(label)) {
      seen.add(label);
      await shot(page, `narrow-${label}`);
    }
    if (w.scroll > w.client + 1) wide.push(`${page.ahName} (${w.state}): scrollWidth ${w.scroll} > ${w.client}`);
    await page.setViewportSize({ width: 1024, height: 768 });
  }
  assert.deepEqual(wide, [], 'pages wider than 360 px');
});

test('(g) a dropped WebSocket: the attendee page shows reconnecting, rejoins with its token, watches again; its seat was kept', async () => {
  assert.ok(chainOk, 'needs (c)');
  const a = attendees[2];
  const queuedBefore = (await roomInfo(janus, TENANT, ROOM)).counts.queued;
  await waitState(a.page, 'watching', 20000);
  const n = await dropWebSockets(a.page);
  assert.ok(n >= 1, `closed ${n} WebSocket(s)`);
  await waitFor(async () => (await stateHistory(a.page)).includes('reconnecting'), { timeout: 20000, what: `${a.name} shows reconnecting` });
  await waitFor(async () => {
    const h = await stateHistory(a.page);
    return h.lastIndexOf('watching') > h.lastIndexOf('reconnecting') && h.at(-1) === 'watching';
  }, { timeout: 60000, interval: 300, what: `${a.name} back to watching (history ${safeJson(await stateHistory(a.page))})` });
  await waitFramesAdvancing(a.page, VIDEO, 45000);
  const h = await stateHistory(a.page);
  log(`${a.name} states: ${safeJson(h)}`);
  // The seat was kept: nobody from the queue took it.
  const c = (await roomInfo(janus, TENANT, ROOM)).counts;
  assert.equal(c.active + c.connecting, 2, `two seated: ${safeJson(c)}`);
  assert.equal(c.queued, queuedBefore, `the queue did not move: ${safeJson(c)}`);
  for (const q of attendees.slice(4)) if (!q.page.isClosed()) assert.equal(await q.page.evaluate(() => document.body.dataset.state), 'queued', `${q.name} still queued`);
});

// Close a watching attendee's tab with `close`; its seat must be free long before the 600 s grace (no
// held seat), and the first queued attendee gets it.
async function closeFreesSeat(a, next, close) {
  await waitState(a.page, 'watching', 20000);
  await waitState(next.page, 'queued', 20000);
  const before = (await roomInfo(janus, TENANT, ROOM)).counts;
  log(`closing ${a.name}'s tab; ${next.name} is queued; counts ${safeJson(before)}`);
  const closed = Date.now();
  await close(a.page);
  let last;
  await waitFor(async () => {
    last = (await roomInfo(janus, TENANT, ROOM)).counts;
    return last.rejoining === 0 && last.queued === before.queued - 1 ? last : false;
  }, { timeout: 30000, interval: 250, what: `${a.name}'s seat freed at once, not held, and taken from the queue` })
    .catch((e) => { throw new Error(`${e.message}; counts ${safeJson(last)}`); });
  log(`${a.name}'s seat went to the queue ${Date.now() - closed} ms after the close (grace 600 s)`);
  await waitState(next.page, 'watching', 60000);
  const c = (await roomInfo(janus, TENANT, ROOM)).counts;
  assert.equal(c.rejoining, 0, `no seat held for ${a.name}: ${safeJson(c)}`);
  assert.equal(c.active + c.connecting, 2, `${next.name} took the seat: ${safeJson(c)}`);
}

test('(h) closing a watching attendee\'s tab leaves at once: its seat is not held for rejoin_grace_s (600 s), the next in the queue watches', async () => {
  assert.ok(chainOk, 'needs (c)');
  const queued = attendees.slice(4).filter((q) => !q.page.isClosed());
  assert.ok(queued.length >= 2, `two queued attendees from (d): ${queued.length}`);
  // The whole browser context goes (what closing a window does), then a tab closed with its
  // beforeunload handlers run (what the user's close button does).
  await closeFreesSeat(attendees[3], queued[0], (page) => br.closePage(page));
  const closeTab = async (page) => {
    br.pages = br.pages.filter((p) => p !== page);
    await page.close({ runBeforeUnload: true });
  };
  await closeFreesSeat(attendees[2], queued[1], closeTab);
  // A few more rounds, alternating the two ways: a new attendee queues, a watching one's tab closes.
  let watching = [queued[0], queued[1]];
  for (let i = 7; i <= 10; i++) {
    const name = `attendee${i}`;
    const next = { page: await br.openAttendee({ ...common(), display: `Viewer ${i}` }, { name }), name };
    attendees.push(next);
    await closeFreesSeat(watching[0], next, i % 2 ? closeTab : (page) => br.closePage(page));
    watching = [watching[1], next];
  }
});

test('(i) a PIN room: the attendee page asks for a missing PIN, calls a wrong one wrong, and lets the right one in', async () => {
  await createRoom(janus, { tenant: TENANT, room: 'pinned', max_attendees: 5, presenter_secret: PRESENTER_SECRET, pin: '2468' });
  const texts = {};
  for (const [what, pin] of [['missing', undefined], ['wrong', '1111'], ['right', '2468']]) {
    const params = { ...common(), room: 'pinned', display: `PIN ${what}` };
    if (pin !== undefined) params.pin = pin;
    const page = await br.openAttendee(params, { name: `pin-${what}` });
    const last = await waitState(page, what === 'right' ? ['queued', 'admitted', 'watching'] : 'error', 30000);
    texts[what] = last.error || last.status;
    if (what !== 'right') {
      const focused = await page.evaluate(() => document.activeElement?.name);
      assert.equal(focused, 'pin', `${what} PIN: the PIN field has the focus`);
    }
    await br.closePage(page);
  }
  console.log(`# PIN room: ${safeJson(texts)}`);
  assert.match(texts.missing, /needs a PIN/, texts.missing);
  assert.match(texts.wrong, /PIN is not right/, texts.wrong);
});

test('(j) a browser without WebRTC: the attendee and presenter pages say so and which browsers work, and send nothing', async () => {
  // What Debian's WebKitGTK offers: no RTCPeerConnection at all.
  const noWebrtc = 'delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;';
  for (const open of [(p, o) => br.openAttendee(p, o), (p, o) => br.openPresenter({ ...p, secret: PRESENTER_SECRET }, o)]) {
    const page = await open({ ...common(), display: 'Old browser' }, { name: 'nowebrtc', initScript: noWebrtc });
    const last = await waitState(page, 'error', 15000);
    assert.match(last.error, /no WebRTC.*Chrome, Chromium, Edge, Firefox or Safari/, safeJson(last));
    assert.ok(await page.evaluate(() => document.getElementById('join-button').disabled), 'join button disabled');
    console.log(`# ${page.ahUrl.includes('presenter') ? 'presenter' : 'attendee'} page without WebRTC: ${last.error}`);
    await br.closePage(page);
  }
  const info = await roomInfo(janus, TENANT, ROOM);
  const names = [...(info.attendees || []), ...(info.queue || []), ...(info.presenters || [])].map((x) => x.display);
  assert.ok(!names.includes('Old browser'), `nothing joined: ${safeJson(names)}`);
});

test('no uncaught errors (pageerror) in any page; every body data-state is one of the contract\'s', async () => {
  const STATES = {
    attendee: ['form', 'joining', 'lobby', 'queued', 'admitted', 'watching', 'room_closed', 'queue_full', 'removed', 'ended', 'left', 'reconnecting', 'error'],
    presenter: ['form', 'joined', 'live', 'reconnecting', 'error'],
  };
  const bad = [];
  for (const page of br.pages) {
    const kind = page.ahName.replace(/\d+$/, '');
    if (!STATES[kind] || page.isClosed()) continue;
    const h = await stateHistory(page);
    for (const st of h) if (st && !STATES[kind].includes(st)) bad.push(`${page.ahName}: ${st}`);
  }
  assert.deepEqual(bad, [], 'states outside web/CONTRACT.md');
  assert.deepEqual(br.pageErrors, [], 'uncaught errors in the pages');
});
