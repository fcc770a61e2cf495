// The admission-history checker (lib/history.mjs) on histories written by hand: each invariant it
// guards is broken once, so it is shown to fail where it must, and a clean history with queues, a
// rejoin grace and a take-over passes. No Janus: 14-storm and 03-tenant-cap run it on real histories.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory } from './lib/history.mjs';

let ts = 0;
const ev = (event, id, extra = {}) => ({ ts: (ts += 10), node: 'n1', data: { event, tenant: 't', room: 'r', id, ...extra } });
const caps = { rooms: { 't/r': 2 }, tenants: { t: 3 }, nodes: { n1: 2 } };

test('a clean history passes: queue, admissions, a rejoin grace passed on, a take-over, presenters', () => {
  const events = [
    ev('joined', 1, { ptype: 'presenter' }),
    ev('joined', 2, { ptype: 'attendee' }), ev('admitted', 2),
    ev('joined', 3, { ptype: 'attendee' }), ev('admitted', 3),
    ev('joined', 4, { ptype: 'attendee' }), // queued: the room is full
    ev('left', 2, { reason: 'hangup' }), ev('rejoining', 2, { until_s: 99 }),
    ev('joined', 5, { ptype: 'attendee' }), ev('admitted', 5), // 2's rejoin takes its held seat
    ev('left', 2, { reason: 'grace_expired' }), // nothing left to free: passed on
    ev('removed', 3, { reason: 'replaced' }), ev('joined', 6, { ptype: 'attendee' }), ev('admitted', 6),
    ev('left', 5, { reason: 'leave' }), ev('admitted', 4),
    ev('left', 4, { reason: 'leave' }), ev('left', 6, { reason: 'leave' }), ev('left', 1, { reason: 'leave' }),
  ];
  const clients = [
    { label: 'a', room: 't/r', reply: { event: 'queued' }, positions: [1] },
    { label: 'b', room: 't/r', reply: { allhands: 'error', error_code: 651 } },
  ];
  const r = checkHistory({ events, clients }, caps);
  assert.deepEqual(r.violations, []);
  assert.equal(r.max.rooms['t/r'], 2);
  assert.equal(r.max.tenants.t, 3);
});

test('a room, a tenant or a node above its cap at any instant is a violation', () => {
  const over = [ev('joined', 1, { ptype: 'attendee' }), ev('admitted', 1), ev('joined', 2, { ptype: 'attendee' }),
    ev('admitted', 2), ev('joined', 3, { ptype: 'attendee' }), ev('admitted', 3), ev('left', 3, { reason: 'leave' })];
  const r = checkHistory({ events: over }, caps);
  assert.ok(r.violations.some((v) => /room t\/r holds 3 seats, cap 2/.test(v)), r.violations.join('\n'));
  assert.ok(r.violations.some((v) => /node n1 holds 3 seats, cap 2/.test(v)), r.violations.join('\n'));
  const tenant = [ev('joined', 1, { ptype: 'presenter' }), ev('joined', 2, { ptype: 'backstage' }),
    ev('joined', 3, { ptype: 'attendee' }), ev('admitted', 3), ev('joined', 4, { ptype: 'attendee' }), ev('admitted', 4)];
  const t = checkHistory({ events: tenant }, caps);
  assert.ok(t.violations.some((v) => /tenant t holds 4 seats, cap 3/.test(v)), t.violations.join('\n'));
  // Out of order on the wire, in order by Janus's timestamps: no excess.
  const a = ev('joined', 1, { ptype: 'attendee' }); const b = ev('admitted', 1); const c = ev('left', 1, { reason: 'leave' });
  const d = ev('joined', 2, { ptype: 'attendee' }); const e = ev('admitted', 2);
  const f = ev('joined', 3, { ptype: 'attendee' }); const g = ev('admitted', 3);
  assert.deepEqual(checkHistory({ events: [g, f, e, d, c, b, a] }, caps).violations, []);
});

test('a seat counted twice, given up twice, or granted without a join is a violation', () => {
  const twice = checkHistory({ events: [ev('joined', 1, { ptype: 'attendee' }), ev('admitted', 1), ev('admitted', 1)] }, caps);
  assert.ok(twice.violations.some((v) => /admitted while seated/.test(v)), twice.violations.join('\n'));
  const ghost = checkHistory({ events: [ev('admitted', 7)] }, caps);
  assert.ok(ghost.violations.some((v) => /admitted without joining/.test(v)));
  const gaveUp = checkHistory({ events: [ev('joined', 1, { ptype: 'attendee' }), ev('admitted', 1),
    ev('left', 1, { reason: 'leave' }), ev('removed', 1, { reason: 'kicked' })] }, caps);
  assert.ok(gaveUp.violations.some((v) => /given up twice/.test(v)), gaveUp.violations.join('\n'));
  const unknown = checkHistory({ events: [ev('left', 9, { reason: 'leave' })] }, caps);
  assert.ok(unknown.violations.some((v) => /never joined/.test(v)));
});

test('somebody lost, a join without an answer or a code, a position going up: violations', () => {
  const lost = checkHistory({ events: [ev('joined', 1, { ptype: 'attendee' })] }, caps);
  assert.ok(lost.violations.some((v) => /never admitted nor taken out/.test(v)));
  assert.deepEqual(checkHistory({ events: [ev('joined', 1, { ptype: 'attendee' })] }, caps, { complete: false }).violations, []);
  const clients = [
    { label: 'silent', room: 't/r' },
    { label: 'nocode', room: 't/r', reply: { allhands: 'error' } },
    { label: 'up', room: 't/r', reply: { event: 'queued' }, positions: [3, 2, 4, 1] },
    { label: 'prio', room: 't/p', reply: { event: 'queued' }, positions: [3, 4, 1] },
  ];
  const r = checkHistory({ events: [], clients }, caps, { priorityRooms: new Set(['t/p']) });
  assert.ok(r.violations.some((v) => /silent: its join got no answer/.test(v)));
  assert.ok(r.violations.some((v) => /nocode: refused without an error code/.test(v)));
  assert.ok(r.violations.some((v) => /up: position went up, 2 -> 4/.test(v)));
  assert.ok(!r.violations.some((v) => /prio/.test(v)), 'a priority room may move a position up');
});
