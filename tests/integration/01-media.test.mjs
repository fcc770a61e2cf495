// (a) Media: an attendee receives a presenter's audio and video; a second presenter reaches it by
// renegotiation (`updated` + `start`); unpublish and republish renegotiate again.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, assertSuccess, attendee, createRoom, createTenant, presenter, roomInfo, startJanus,
  waitCounts, waitFor, safeJson,
} from './lib/allhands.mjs';

let janus;
const bag = new Bag();

before(async () => {
  janus = await startJanus('media', { capacity: 20, wave_size: 5, wave_interval_ms: 500, admit_timeout_ms: 20000 });
  // The examples of docs/api.md: tenant acme, room allhands, pin 1234, presenter secret s3cret.
  await createTenant(janus, { tenant: 'acme', max_participants: 20, secret: 'acme-tenant-secret', name: 'ACME' });
  await createRoom(janus, { tenant: 'acme', room: 'allhands', pin: '1234', presenter_secret: 's3cret', max_attendees: 10, description: 'All hands' });
});

after(async () => {
  await bag.closeAll();
  if (janus) await janus.dispose();
});

function checkPresenterEntry(list, id, display) {
  const p = (list || []).find((x) => x.id === id);
  assert.ok(p, `presenter ${id} listed in ${safeJson(list)}`);
  if (display !== undefined) assert.equal(p.display, display);
  const kinds = (p.streams || []).map((s) => s.kind).sort();
  assert.deepEqual(kinds, ['audio', 'video'], `streams of presenter ${id}: ${safeJson(p.streams)}`);
  for (const s of p.streams) {
    assert.match(String(s.codec), s.kind === 'audio' ? /^opus$/i : /^(vp8|h264)$/i, `codec of ${s.kind}: ${safeJson(s)}`);
  }
  return p;
}

test('attendee receives presenter audio+video; 2nd presenter by renegotiation; unpublish/republish', async () => {
  const p1 = await presenter(janus, bag, { tenant: 'acme', room: 'allhands', presenter_secret: 's3cret', display: 'CEO' });
  assert.ok(Number.isSafeInteger(p1.id) && p1.id > 0, `presenter id: ${safeJson(p1.joined)}`);
  assert.equal(p1.joined.tenant, 'acme');
  assert.equal(p1.joined.room, 'allhands');
  assert.ok(Array.isArray(p1.joined.presenters), 'joined lists presenters');
  const pub = p1.lastReply.data;
  assert.deepEqual((pub.streams || []).map((s) => s.kind).sort(), ['audio', 'video'], `published streams: ${safeJson(pub)}`);

  // docs/api.md's attendee join example, verbatim.
  const a = await attendee(janus, bag);
  const r = await a.join({ request: 'join', tenant: 'acme', room: 'allhands', ptype: 'attendee', display: 'Ann', pin: '1234' });
  assertEvent(r.data, 'admitted', 'attendee join with a free seat');
  assert.equal(r.jsep?.type, 'offer', 'admitted carries a JSEP offer');
  assert.equal(r.data.tenant, 'acme');
  assert.equal(r.data.room, 'allhands');
  assert.ok(Number.isSafeInteger(r.data.id) && r.data.id > 0, `attendee id ${r.data.id}`);
  checkPresenterEntry(r.data.presenters, p1.id, 'CEO');
  await a.settled();
  assert.deepEqual(a.errors, []);
  assertEvent(a.starts[0].data, 'started', 'start');
  await a.waitConnected();
  await a.waitMedia({ audio: true, video: true });

  const info = await waitFor(async () => {
    const ri = await roomInfo(janus, 'acme', 'allhands');
    const me = (ri.attendees || []).find((x) => x.id === r.data.id);
    return me && me.state === 'active' ? ri : null;
  }, { what: 'room_info to show the attendee active' });
  assert.equal(info.attendees.find((x) => x.id === r.data.id).display, 'Ann');
  const pinfo = info.presenters.find((x) => x.id === p1.id);
  assert.ok(pinfo && pinfo.publishing === true, `room_info presenter publishing: ${safeJson(info.presenters)}`);
  assert.equal(info.pin_required, true);
  assert.equal(info.counts.active, 1);
  assert.equal(info.counts.presenters, 1);

  // A second presenter arrives: the attendee gets `updated` with an offer, answers with `start`.
  let from = a.h.events.length;
  const p2 = await presenter(janus, bag, { tenant: 'acme', room: 'allhands', presenter_secret: 's3cret', display: 'CTO' });
  checkPresenterEntry(p2.joined.presenters, p1.id, 'CEO');
  const upd = await a.h.waitEvent((e) => e.data.event === 'updated' && (e.data.presenters || []).some((p) => p.id === p2.id),
    { from, what: '`updated` listing the second presenter' });
  assert.equal(upd.jsep?.type, 'offer', '`updated` carries a JSEP offer');
  checkPresenterEntry(upd.data.presenters, p1.id, 'CEO');
  checkPresenterEntry(upd.data.presenters, p2.id, 'CTO');
  await a.waitMedia({ audioStreams: 2, videoStreams: 2 });
  await a.settled();
  assert.deepEqual(a.errors, []);
  for (const s of a.starts) assertEvent(s.data, 'started', `start after ${s.why}`);

  // The first presenter unpublishes: the attendee is renegotiated and only P2's media keeps flowing.
  from = a.h.events.length;
  const un = await p1.h.request({ request: 'unpublish' });
  assertEvent(un.data, 'unpublished', 'unpublish');
  const upd2 = await a.h.waitEvent((e) => e.data.event === 'updated' && !(e.data.presenters || []).some((p) => p.id === p1.id),
    { from, what: '`updated` without the unpublished presenter' });
  checkPresenterEntry(upd2.data.presenters, p2.id, 'CTO');
  await a.waitGrowing((g) => g.video === 1 && g.audio === 1, { what: 'only the remaining presenter\'s media flowing' });
  const ri2 = await roomInfo(janus, 'acme', 'allhands');
  assert.equal(ri2.presenters.find((x) => x.id === p1.id)?.publishing, false, `unpublished presenter still listed, not publishing: ${safeJson(ri2.presenters)}`);

  // Republish: the attendee gets P1 back.
  await waitFor(() => p1.h.hungup, { timeout: 1500 }).catch(() => {});
  from = a.h.events.length;
  const rp = await p1.publish();
  assertEvent(rp.data, 'published', 'republish');
  assert.equal(rp.jsep?.type, 'answer');
  await a.h.waitEvent((e) => e.data.event === 'updated' && (e.data.presenters || []).some((p) => p.id === p1.id),
    { from, what: '`updated` listing the republished presenter' });
  await a.waitMedia({ audioStreams: 2, videoStreams: 2 });

  // A late attendee gets both presenters in its first offer.
  const b = await attendee(janus, bag);
  const rb = await b.join({ request: 'join', tenant: 'acme', room: 'allhands', display: 'Bob', pin: '1234' });
  assertEvent(rb.data, 'admitted', 'second attendee');
  checkPresenterEntry(rb.data.presenters, p1.id, 'CEO');
  checkPresenterEntry(rb.data.presenters, p2.id, 'CTO');
  await b.waitMedia({ audioStreams: 2, videoStreams: 2 });
  await waitCounts(janus, { active: 2, presenters: 2, queued: 0 }, { tenant: 'acme', room: 'allhands' });

  // Leaving frees the seat.
  const left = await a.h.request({ request: 'leave' });
  assertEvent(left.data, 'left', 'leave');
  await waitCounts(janus, { admitted: 1, active: 1 }, { tenant: 'acme', room: 'allhands' });
  const st = await janus.admin({ request: 'status' });
  assertSuccess(st, 'status');
});
