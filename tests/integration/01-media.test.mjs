// (a) Media: an attendee receives a presenter's audio and video; a second presenter reaches it by
// renegotiation (`updated` + `start`); unpublish and republish renegotiate again. Also the offer's
// m-lines as documented (inactive audio+video while nobody publishes, `mindex`, m-lines never
// removed, a republishing presenter keeps its m-lines), a presenter whose PeerConnection goes down,
// and an attendee hangup (`left`, reason hangup).
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Bag, assertEvent, assertSuccess, attendee, checkMindex, createRoom, createTenant, presenter, roomInfo, sdpMlines,
  startJanus, waitCounts, waitFor, safeJson,
} from './lib/allhands.mjs';

let janus;
const bag = new Bag();

before(async () => {
  janus = await startJanus('media', { capacity: 20, wave_size: 5, wave_interval_ms: 500, admit_timeout_ms: 20000 });
  // The examples of docs/api.md: tenant acme, room allhands, pin 1234, presenter secret s3cret.
  await createTenant(janus, { tenant: 'acme', max_participants: 20, secret: 'acme-tenant-secret', name: 'ACME' });
  await createRoom(janus, { tenant: 'acme', room: 'allhands', pin: '1234', presenter_secret: 's3cret-presenter', max_attendees: 10, description: 'All hands' });
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

const activeIn = async (id) => {
  const ri = await roomInfo(janus, 'acme', 'allhands');
  const me = (ri.attendees || []).find((x) => x.id === id);
  return me && me.state === 'active' ? ri : null;
};

test('attendee receives presenter audio+video; 2nd presenter by renegotiation; unpublish/republish', async () => {
  // An attendee joining an empty room gets an offer with inactive audio and video m-lines and connects.
  const early = await attendee(janus, bag);
  const re = await early.join({ request: 'join', tenant: 'acme', room: 'allhands', display: 'Early', pin: '1234' });
  assertEvent(re.data, 'admitted', 'attendee join, nobody publishing');
  assert.deepEqual(re.data.presenters, []);
  const m0 = sdpMlines(re.jsep?.sdp);
  assert.ok(m0.some((m) => m.kind === 'audio' && m.direction === 'inactive') && m0.some((m) => m.kind === 'video' && m.direction === 'inactive'),
    `offer with nobody publishing has inactive audio and video m-lines: ${safeJson(m0)}`);
  await early.waitConnected();
  await waitFor(() => activeIn(re.data.id), { what: 'the early attendee active with nobody publishing' });

  let from = early.h.events.length;
  const p1 = await presenter(janus, bag, { tenant: 'acme', room: 'allhands', presenter_secret: 's3cret-presenter', display: 'CEO' });
  assert.ok(Number.isSafeInteger(p1.id) && p1.id > 0, `presenter id: ${safeJson(p1.joined)}`);
  assert.equal(p1.joined.tenant, 'acme');
  assert.equal(p1.joined.room, 'allhands');
  assert.ok(Array.isArray(p1.joined.presenters), 'joined lists presenters');
  const pub = p1.lastReply.data;
  assert.deepEqual((pub.streams || []).map((s) => s.kind).sort(), ['audio', 'video'], `published streams: ${safeJson(pub)}`);
  // The early attendee is renegotiated onto its existing m-lines.
  const eu = await early.h.waitEvent((e) => e.data.event === 'updated' && (e.data.presenters || []).some((p) => p.id === p1.id),
    { from, what: '`updated` for the early attendee' });
  assert.equal(sdpMlines(eu.jsep?.sdp).length, m0.length, 'the first streams reuse the inactive m-lines');
  checkMindex(eu.data.presenters, eu.jsep.sdp, 'early attendee updated');
  await early.waitMedia();

  // docs/api.md's attendee join example, verbatim.
  const a = await attendee(janus, bag);
  const r = await a.join({ request: 'join', tenant: 'acme', room: 'allhands', ptype: 'attendee', display: 'Ann', pin: '1234' });
  assertEvent(r.data, 'admitted', 'attendee join with a free seat');
  assert.equal(r.jsep?.type, 'offer', 'admitted carries a JSEP offer');
  assert.equal(r.data.tenant, 'acme');
  assert.equal(r.data.room, 'allhands');
  assert.ok(Number.isSafeInteger(r.data.id) && r.data.id > 0, `attendee id ${r.data.id}`);
  checkPresenterEntry(r.data.presenters, p1.id, 'CEO');
  const mi1 = checkMindex(r.data.presenters, r.jsep.sdp, 'admitted');
  await a.settled();
  assert.deepEqual(a.errors, []);
  assertEvent(a.starts[0].data, 'started', 'start');
  await a.waitConnected();
  await a.waitMedia({ audio: true, video: true });

  const info = await waitFor(() => activeIn(r.data.id), { what: 'room_info to show the attendee active' });
  assert.equal(info.attendees.find((x) => x.id === r.data.id).display, 'Ann');
  assert.deepEqual(info.attendees.map((x) => x.id), [re.data.id, r.data.id], 'room_info attendees in join order');
  const pinfo = info.presenters.find((x) => x.id === p1.id);
  assert.ok(pinfo && pinfo.publishing === true, `room_info presenter publishing: ${safeJson(info.presenters)}`);
  assert.equal(info.pin_required, true);
  assert.equal(info.counts.active, 2);
  assert.equal(info.counts.presenters, 1);

  // A second presenter arrives: the attendee gets `updated` with an offer, answers with `start`.
  from = a.h.events.length;
  const p2 = await presenter(janus, bag, { tenant: 'acme', room: 'allhands', presenter_secret: 's3cret-presenter', display: 'CTO' });
  checkPresenterEntry(p2.joined.presenters, p1.id, 'CEO');
  const upd = await a.h.waitEvent((e) => e.data.event === 'updated' && (e.data.presenters || []).some((p) => p.id === p2.id),
    { from, what: '`updated` listing the second presenter' });
  assert.equal(upd.jsep?.type, 'offer', '`updated` carries a JSEP offer');
  checkPresenterEntry(upd.data.presenters, p1.id, 'CEO');
  checkPresenterEntry(upd.data.presenters, p2.id, 'CTO');
  const mi2 = checkMindex(upd.data.presenters, upd.jsep.sdp, 'updated with 2 presenters');
  assert.deepEqual(mi2[p1.id], mi1[p1.id], 'the first presenter keeps its m-lines');
  const nLines = sdpMlines(upd.jsep.sdp).length;
  await a.waitMedia({ audioStreams: 2, videoStreams: 2 });
  await a.settled();
  assert.deepEqual(a.errors, []);
  for (const s of a.starts) assertEvent(s.data, 'started', `start after ${s.why}`);

  // The first presenter unpublishes: the attendee is renegotiated and only P2's media keeps flowing.
  from = a.h.events.length;
  const un = await p1.unpublish();
  assertEvent(un.data, 'unpublished', 'unpublish');
  const upd2 = await a.h.waitEvent((e) => e.data.event === 'updated' && !(e.data.presenters || []).some((p) => p.id === p1.id),
    { from, what: '`updated` without the unpublished presenter' });
  checkPresenterEntry(upd2.data.presenters, p2.id, 'CTO');
  const ml2 = sdpMlines(upd2.jsep?.sdp);
  assert.equal(ml2.length, nLines, 'm-lines are never removed');
  for (const i of mi2[p1.id]) assert.equal(ml2[i].direction, 'inactive', `the unpublished presenter's m-line ${i} is inactive: ${safeJson(ml2)}`);
  await a.waitGrowing((g) => g.video === 1 && g.audio === 1, { what: 'only the remaining presenter\'s media flowing' });
  const ri2 = await roomInfo(janus, 'acme', 'allhands');
  assert.equal(ri2.presenters.find((x) => x.id === p1.id)?.publishing, false, `unpublished presenter still listed, not publishing: ${safeJson(ri2.presenters)}`);
  assert.equal(ri2.counts.presenters, 2, 'the presenter stays joined');

  // Republish with a new PeerConnection: the attendee gets P1 back on the same m-lines.
  from = a.h.events.length;
  const rp = await p1.publish();
  assertEvent(rp.data, 'published', 'republish');
  assert.equal(rp.jsep?.type, 'answer');
  const upd3 = await a.h.waitEvent((e) => e.data.event === 'updated' && (e.data.presenters || []).some((p) => p.id === p1.id),
    { from, what: '`updated` listing the republished presenter' });
  const mi3 = checkMindex(upd3.data.presenters, upd3.jsep.sdp, 'updated after republish');
  assert.deepEqual(mi3[p1.id], mi1[p1.id], 'a republishing presenter keeps its m-lines');
  await a.waitMedia({ audioStreams: 2, videoStreams: 2 });

  // A late attendee gets both presenters in its first offer.
  const b = await attendee(janus, bag);
  const rb = await b.join({ request: 'join', tenant: 'acme', room: 'allhands', display: 'Bob', pin: '1234' });
  assertEvent(rb.data, 'admitted', 'second attendee');
  checkPresenterEntry(rb.data.presenters, p1.id, 'CEO');
  checkPresenterEntry(rb.data.presenters, p2.id, 'CTO');
  checkMindex(rb.data.presenters, rb.jsep.sdp, 'late attendee admitted');
  await b.waitMedia({ audioStreams: 2, videoStreams: 2 });
  await waitCounts(janus, { active: 3, presenters: 2, queued: 0 }, { tenant: 'acme', room: 'allhands' });

  // Leaving frees the seat.
  const left = await early.h.request({ request: 'leave' });
  assertEvent(left.data, 'left', 'leave');
  await waitCounts(janus, { admitted: 2, active: 2 }, { tenant: 'acme', room: 'allhands' });
  assertSuccess(await janus.admin({ request: 'status' }), 'status');
});

test("a presenter's PeerConnection going down stops its publishing; an attendee's hangup frees its seat", async () => {
  await waitCounts(janus, { active: 2, presenters: 2 }, { tenant: 'acme', room: 'allhands' });
  const ri = await roomInfo(janus, 'acme', 'allhands');
  const [annId, bobId] = ri.attendees.map((x) => x.id);
  const pres = ri.presenters.filter((p) => p.publishing);
  assert.equal(pres.length, 2);
  // Fresh peers so that this test does not depend on the first one's objects: a third presenter.
  const p3 = await presenter(janus, bag, { tenant: 'acme', room: 'allhands', presenter_secret: 's3cret-presenter', display: 'CFO' });
  const c = await attendee(janus, bag);
  const rc = await c.join({ request: 'join', tenant: 'acme', room: 'allhands', display: 'Cy', pin: '1234' });
  assertEvent(rc.data, 'admitted');
  await c.waitMedia({ videoStreams: 3, audioStreams: 3 });

  // The presenter's PeerConnection goes down: attendees are renegotiated without it; it stays joined.
  let from = c.h.events.length;
  p3.dropPc();
  await c.h.waitEvent((e) => e.data.event === 'updated' && !(e.data.presenters || []).some((p) => p.id === p3.id),
    { from, timeout: 30000, what: '`updated` without the presenter whose PeerConnection went down' });
  await waitFor(async () => (await roomInfo(janus, 'acme', 'allhands')).presenters.find((p) => p.id === p3.id)?.publishing === false,
    { timeout: 30000, what: 'room_info: the presenter is not publishing any more' });
  await c.waitGrowing((g) => g.video === 2 && g.audio === 2, { what: 'two presenters left flowing' });

  // The attendee's PeerConnection goes down after it was up: `left` (reason hangup), seat free.
  from = c.h.events.length;
  c.dropPc();
  const lf = await c.h.waitEvent('left', { from, timeout: 30000, what: '`left` after the attendee hung up' });
  assert.equal(lf.data.reason, 'hangup', safeJson(lf.data));
  await waitFor(async () => !(await roomInfo(janus, 'acme', 'allhands')).attendees.some((x) => x.id === rc.data.id),
    { what: 'the hung-up attendee out of room_info' });
  // ... and may join again.
  const again = await c.join({ request: 'join', tenant: 'acme', room: 'allhands', display: 'Cy again', pin: '1234' });
  assertEvent(again.data, 'admitted', 'join again after a hangup');
  await c.waitMedia({ videoStreams: 2, audioStreams: 2 });
  const ri2 = await roomInfo(janus, 'acme', 'allhands');
  assert.deepEqual(ri2.attendees.map((x) => x.id), [annId, bobId, again.data.id], 'attendees in join order');
});
