// (issue 12, section 5) The attendee page says what a wait estimate means in plain words, in
// headless Chromium: on a full node (1 seat, held by an attendee who never leaves), a page queued in
// an unscheduled room reads "when someone leaves (nobody has yet)" instead of "estimating…" forever;
// a page queued in a room whose window ends in about 20 s reads "unlikely before the session ends"
// (the plugin's wait says `beyond_window`), and neither shows a wait past the end.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, createRoomWith, createTenant, handle, joinBody, startJanus, waitCounts, waitFor, safeJson,
} from './lib/allhands.mjs';
import { sleep } from './lib/util.mjs';
import { Browser, saveConsoleLog, screenshot, text, waitState } from './lib/browser.mjs';

const TENANT = 'words';
let janus;
let br;
const bag = new Bag();
const log = (line) => console.log(`# ${line}`);

before(async () => {
  janus = await startJanus('wait-words', { capacity: 1, wave_size: 1, wave_interval_ms: 200, update_interval_ms: 300, admit_timeout_ms: 120000 });
  await createTenant(janus, { tenant: TENANT, max_participants: 20 });
  await createRoomWith(janus, { tenant: TENANT, room: 'plain', max_attendees: 20, presenter_secret: 'p-presenter' });
  br = await new Browser({ log }).start();
});

after(async () => {
  await bag.closeAll();
  if (br) {
    log(`browser console saved to ${saveConsoleLog(br, 'wait-words-console')}`);
    await br.close();
  }
  if (janus) await janus.dispose();
});

const params = (room) => ({ server: `${janus.wsUrl}/`, tenant: TENANT, room, autojoin: 1, display: `in ${room}` });

test('the page puts "nobody has left yet" and "unlikely before the end" in words', async () => {
  // The node's only seat: admitted, never answers (it holds the seat for admit_timeout_ms).
  const holder = await handle(janus, bag);
  assertEvent((await holder.request(joinBody({ tenant: TENANT, room: 'plain', display: 'holder' }))).data, 'admitted');
  await waitCounts(janus, { admitted: 1 });

  const plain = await br.openAttendee(params('plain'), { name: 'plain' });
  await waitState(plain, ['queued']);
  await waitFor(async () => (await text(plain, '#wait')) === 'when someone leaves (nobody has yet)',
    { timeout: 15000, interval: 200, what: `#wait of the plain room (${await text(plain, '#wait')})` });
  const plainStatus = await text(plain, '#status');
  assert.match(plainStatus, /nobody has left yet/, `#status: ${plainStatus}`);
  log(`plain room: #wait "${await text(plain, '#wait')}", #status "${plainStatus}"`);
  await screenshot(plain, 'wait-words-no-departures');

  // The seat has been held for a while with nobody leaving; a room whose window ends in ~20 s.
  await sleep(8000);
  const t = Math.floor(Date.now() / 1000);
  await createRoomWith(janus, {
    tenant: TENANT, room: 'soon', max_attendees: 20, presenter_secret: 'p-presenter', grace_s: 0, schedule: { start: t - 60, end: t + 20 },
  });
  const soon = await br.openAttendee(params('soon'), { name: 'soon' });
  await waitState(soon, ['queued']);
  await waitFor(async () => (await text(soon, '#wait')) === 'unlikely before the session ends',
    { timeout: 10000, interval: 200, what: `#wait of the ending room (${await text(soon, '#wait')})` });
  const soonStatus = await text(soon, '#status');
  assert.match(soonStatus, /unlikely to come free before the session ends/, `#status: ${soonStatus}`);
  log(`ending room: #wait "${await text(soon, '#wait')}", #status "${soonStatus}"`);
  await screenshot(soon, 'wait-words-beyond-window');

  // The wire: a handle queued in the same room is told beyond_window, capped at the end.
  const probe = await handle(janus, bag);
  const r = (await probe.request(joinBody({ tenant: TENANT, room: 'soon', display: 'probe' }))).data;
  assertEvent(r, 'queued');
  const left = (t + 20) * 1000 - Date.now();
  assert.equal(r.wait.known, true, safeJson(r));
  assert.equal(r.wait.beyond_window, true, safeJson(r));
  assert.ok(r.wait.high_ms <= left + 1000, `high_ms ${r.wait.high_ms} within the ${left} ms left: ${safeJson(r)}`);
  assert.deepEqual(br.pageErrors, []);
});
