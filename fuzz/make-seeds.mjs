// Writes the seed corpora under fuzz/corpus/ (docs/fuzzing.md). Run from anywhere:
//   node fuzz/make-seeds.mjs
// Requests come from docs/api.md's walkthrough, schedules and calendars from docs/api.md and
// tests/unit/data, tokens are minted here (HS256 with node:crypto) for fuzz-token.c's fixed keys and
// fuzz-requests.c's signing key (FUZZ_KEY).
// SPDX-License-Identifier: GPL-3.0-or-later
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const write = (target, name, text) => {
  const dir = path.join(here, 'corpus', target);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), text);
};
const j = (o) => JSON.stringify(o);

// ---- tokens (fuzz-token.c: secrets "acme-secret" / "acme-old-secret", now 1793610000)
const NOW = 1793610000;
const b64 = (b) => Buffer.from(b).toString('base64url');
const mint = (claims, { secret = 'acme-secret', alg = 'HS256', header = null } = {}) => {
  const h = b64(j(header ?? { alg, typ: 'JWT' }));
  const p = b64(j(claims));
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg] ?? (header && header.alg === 'hs256' ? 'sha256' : undefined);
  const sig = hash ? crypto.createHmac(hash, secret).update(`${h}.${p}`).digest('base64url') : '';
  return `${h}.${p}.${sig}`;
};
const claims = { tenant: 'acme', room: 'allhands', role: 'attendee', sub: 'user-42', exp: NOW + 3600 };
const tokens = {
  'valid-attendee': mint(claims),
  'valid-presenter-hs384': mint({ ...claims, role: 'presenter', nbf: NOW - 60, iat: NOW - 60 }, { alg: 'HS384' }),
  'valid-priority-hs512': mint({ ...claims, role: 'priority' }, { alg: 'HS512' }),
  'valid-old-secret': mint(claims, { secret: 'acme-old-secret' }),
  'wrong-secret': mint(claims, { secret: 'not-the-secret' }),
  'alg-none': mint(claims, { alg: 'none' }),
  'alg-rs256': mint(claims, { header: { alg: 'RS256', typ: 'JWT' } }),
  'expired': mint({ ...claims, exp: NOW - 3600 }),
  'not-yet-valid': mint({ ...claims, nbf: NOW + 3600 }),
  'wrong-tenant': mint({ ...claims, tenant: 'globex' }),
  'wrong-room': mint({ ...claims, room: 'standup' }),
  'bad-role': mint({ ...claims, role: 'operator' }),
  'no-exp': mint({ tenant: 'acme', room: 'allhands', role: 'attendee', sub: 'u' }),
  'claims-types': mint({ tenant: 7, room: ['allhands'], role: 'attendee', sub: '', exp: '1' }),
  'alg-lowercase': mint({ ...claims, role: 'presenter' }, { header: { alg: 'hs256', typ: 'JWT' } }),
  'two-parts': 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0',
  'garbage': 'not a token',
};
for (const [name, t] of Object.entries(tokens)) write('token', name, t);

// ---- redirect tickets (fuzz-ticket.c: cluster secret below, node "node-a", now 1793610000): the
// plugin's form, base64url(sorted compact JSON) "." base64url(HMAC-SHA256(secret, "ah-ticket-v1." + it)).
const TICKET_SECRET = 'fuzz-cluster-secret-0123456789abcdef';
const ticket = (p, { secret = TICKET_SECRET } = {}) => {
  const sorted = Object.fromEntries(Object.keys(p).sort().map((k) => [k, p[k]]));
  const body = b64(j(sorted));
  return `${body}.${b64(crypto.createHmac('sha256', secret).update(`ah-ticket-v1.${body}`).digest())}`;
};
const tk = { v: 1, t: 'acme', r: 'allhands', n: 'node-a', p: 'attendee', c: false, s: '', e: NOW + 60, x: '0123456789abcdef0123456789abcdef' };
const tickets = {
  'attendee': ticket(tk),
  'priority-with-sub': ticket({ ...tk, c: true, s: 'user-42' }),
  'presenter': ticket({ ...tk, p: 'presenter' }),
  'backstage-other-node': ticket({ ...tk, p: 'backstage', n: 'node-b' }),
  'expired': ticket({ ...tk, e: NOW - 100 }),
  'too-far-ahead': ticket({ ...tk, e: NOW + 3600 }),
  'wrong-secret': ticket(tk, { secret: 'another-cluster-secret-0123456789ab' }),
  'bad-ptype': ticket({ ...tk, p: 'king' }),
  'version-2': ticket({ ...tk, v: 2 }),
  'no-dot': b64(j(tk)),
  'garbage': 'not.a-ticket',
};
for (const [name, t] of Object.entries(tickets)) write('ticket', name, t);

// ---- schedules (fuzz-schedule.c: the schedule object and iCalendar text)
const schedules = {
  'once': { start: 1796115540, end: 1796116740 },
  'once-duration': { start: 1796115540, duration_s: 1800 },
  'recurring': { dtstart: '2026-11-02T09:00:00', tzid: 'Europe/Berlin', duration_s: 1800,
    rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', exdates: ['2026-12-25', '2026-12-31T09:00:00'] },
  'recurring-utc-count': { dtstart: '2026-03-29T01:30:00', tzid: 'UTC', duration_s: 3600, rrule: 'FREQ=DAILY;COUNT=5' },
  'recurring-dst': { dtstart: '2026-03-29T02:30:00', tzid: 'Europe/Berlin', duration_s: 600, rrule: 'FREQ=DAILY;UNTIL=20260405T000000Z' },
  'recurring-monthly': { dtstart: '2026-01-31T17:00:00', tzid: 'America/New_York', duration_s: 5400, rrule: 'FREQ=MONTHLY;BYMONTHDAY=-1;INTERVAL=2' },
  'single': { dtstart: '2027-02-28T23:30:00', tzid: 'Asia/Kolkata', duration_s: 86400 },
  'minutely-refused': { dtstart: '2026-11-02T09:00:00', tzid: 'UTC', duration_s: 60, rrule: 'FREQ=MINUTELY' },
  'bad-zone': { dtstart: '2026-11-02T09:00:00', tzid: 'Mars/Olympus', duration_s: 60 },
};
for (const [name, s] of Object.entries(schedules)) write('schedule', `${name}.json`, j(s));
for (const f of fs.readdirSync(path.join(root, 'tests/unit/data')).filter((f) => f.endsWith('.ics')))
  write('schedule', f, fs.readFileSync(path.join(root, 'tests/unit/data', f)));
const vevent = (lines) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', ...lines, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
write('schedule', 'utc-duration.ics', vevent(['UID:1', 'DTSTART:20261102T080000Z', 'DURATION:PT45M', 'SUMMARY:Standup',
  'RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10', 'EXDATE:20261104T080000Z']));
write('schedule', 'windows-zone.ics', vevent(['UID:2', 'DTSTART;TZID=W. Europe Standard Time:20261102T090000',
  'DTEND;TZID=W. Europe Standard Time:20261102T100000', 'RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO']));
write('schedule', 'recurrence-id.ics', ['BEGIN:VCALENDAR', 'BEGIN:VEVENT', 'UID:3', 'RECURRENCE-ID:20261109T090000Z',
  'DTSTART:20261109T100000Z', 'DTEND:20261109T110000Z', 'END:VEVENT', 'BEGIN:VEVENT', 'UID:3',
  'DTSTART:20261102T090000Z', 'DTEND:20261102T100000Z', 'RRULE:FREQ=WEEKLY', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n'));
write('schedule', 'all-day-refused.ics', vevent(['UID:4', 'DTSTART;VALUE=DATE:20261102', 'DTEND;VALUE=DATE:20261103']));
write('schedule', 'bare-vevent.ics', ['BEGIN:VEVENT', 'DTSTART:20261102T090000Z', 'DTEND:20261102T093000Z', 'END:VEVENT', ''].join('\r\n'));

// ---- state files (fuzz-persist.c): version 2 (signing keys), and version 1 (before issue 12)
const KEY = '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0'; // fuzz-requests.c's FUZZ_KEY
const tenant = { tenant: 'acme', name: 'ACME Corp', max_participants: 500, secret: 'acme-tenant-secret', signing_key: KEY };
const room = { tenant: 'acme', room: 'allhands', description: 'Monday all-hands', max_attendees: 400, presenter_secret: 's3cret-presenter' };
const states = {
  'empty': { version: 2, tenants: [], rooms: [] },
  'one-room': { version: 2, tenants: [tenant], rooms: [room] },
  'version-1': { version: 1, tenants: [{ tenant: 'acme', max_participants: 5, secret: 's', previous_secret: 'o', previous_secret_until: 1793610000 }],
    rooms: [{ ...room, presenter_secret: 'p' }] },
  'rotated-key': { version: 2, tenants: [{ ...tenant, previous_signing_key: KEY.split('').reverse().join(''), previous_signing_key_until: 1793613600 }], rooms: [] },
  'full': { version: 2,
    tenants: [{ ...tenant, weight: 2, reserved: 10, max_queued: 1000 }, { tenant: 'globex', name: '', max_participants: 0, secret: 'globex-tenant-secret', signing_key: KEY }],
    rooms: [{ ...room, pin: '1234', priority_secret: 'vip-pass', presenter_seats: 2, lobby_minutes: 5, ending_warning_s: 60,
      grace_s: 30, prequeue_order: 'shuffle', tokens: 'required', video_layer: 'medium', schedule: schedules.recurring },
    { tenant: 'globex', room: 'standup', description: '', max_attendees: 10, presenter_secret: 'g-s3cret', schedule: { start: 1796115540, end: 1796116740 } }] },
  'dup-room': { version: 2, tenants: [tenant], rooms: [room, room] },
  'orphan-room': { version: 2, tenants: [], rooms: [room] },
  'no-signing-key': { version: 2, tenants: [{ ...tenant, signing_key: undefined }], rooms: [] },
  'bad-version': { version: 3, tenants: [], rooms: [] },
};
for (const [name, s] of Object.entries(states)) write('persist', `${name}.json`, j(s));

// ---- request scripts (fuzz-requests.c: "<op><arg><json>" lines; see its header)
const join = (extra) => j({ request: 'join', tenant: 'acme', room: 'allhands', ...extra });
const presenter = join({ ptype: 'presenter', display: 'CEO', presenter_secret: 's3cret-presenter' });
// fuzz-requests.c's acme signs with FUZZ_KEY (KEY); its clock starts ten minutes before fuzz-token's NOW.
const signed = (c) => mint(c, { secret: KEY });
const scripts = {
  'attendee-flow': [`1-${join({ display: 'Ann' })}`, 'T\x02', `1a${j({ request: 'start' })}`, 'U1',
    `1-${j({ request: 'room_counts' })}`, `1-${j({ request: 'leave' })}`],
  'presenter-flow': [`2o${presenter}`, 'U2', `1-${join({ ptype: 'attendee', display: 'Ann' })}`, 'T\x03',
    `1a${j({ request: 'start' })}`, 'U1', `2-${j({ request: 'unpublish' })}`, `2o${j({ request: 'publish' })}`, 'D2', 'G1'],
  'h264-presenter': [`3h${presenter}`, `4-${join({ ptype: 'backstage', display: 'screen', presenter_secret: 's3cret-presenter' })}`,
    `4a${j({ request: 'start' })}`, 'U3', 'U4', 'G3'],
  'pin-priority': [`1-${j({ request: 'join', tenant: 'globex', room: 'standup', display: 'B', pin: '1234' })}`,
    `2-${join({ display: 'Board', priority_secret: 'vip-pass' })}`, `3-${join({ display: 'X', rejoin_token: '9f2c0d5e7a1b4c3d8e6f0a1b2c3d4e5f' })}`,
    `4-${join({ display: 'T', token: signed(claims) })}`],
  'token-joins': [`1-${join({ display: 'T', token: signed(claims) })}`,
    `2o${join({ ptype: 'presenter', display: 'P', token: signed({ ...claims, role: 'presenter' }) })}`,
    `3-${join({ display: 'V', token: mint({ ...claims, role: 'priority' }, { secret: KEY, alg: 'HS512' }) })}`,
    `4-${join({ display: 'X', token: tokens['alg-none'] })}`, `4-${join({ display: 'X', token: tokens['valid-attendee'] })}`,
    `4-${join({ display: 'X', token: tokens['wrong-room'] })}`, `4-${join({ display: 'X', token: tokens.expired })}`,
    `A-${j({ request: 'edit_room', tenant: 'acme', room: 'allhands', tokens: 'required' })}`, `4-${join({ display: 'Y' })}`],
  'waves': ['1-', '2-', '3-', '4-'].map((c) => `${c}${join({ display: 'P' })}`).concat(['T\x01', 'T\x01', 'T\x05', 'T\x3f']),
  'scheduled-room': [`1-${j({ request: 'join', tenant: 'acme', room: 'weekly', display: 'A' })}`, 'T\x3f',
    ...Array(12).fill('T\x3f'), `A-${j({ request: 'occurrences', tenant: 'acme', room: 'weekly', count: 3 })}`],
  'operator-handle': [`1-${j({ request: 'create_room', tenant: 'acme', tenant_secret: 'acme-tenant-secret', room: 'r2', max_attendees: 4, presenter_secret: 'p-presenter' })}`,
    `1-${j({ request: 'list_rooms', admin_key: 'op-key' })}`, `2-${j({ request: 'status', tenant: 'acme', tenant_secret: 'acme-tenant-secret' })}`,
    `3-${j({ request: 'get_signing_key', tenant: 'acme', tenant_secret: 'acme-tenant-secret' })}`,
    `3-${j({ request: 'rotate_signing_key', tenant: 'acme', tenant_secret: 'acme-tenant-secret', overlap_s: 60 })}`,
    `4-${join({ display: 'T', token: signed(claims) })}`, 'T\x3f', `4-${join({ display: 'T', token: signed(claims) })}`],
  'guessing': [...Array(12).fill(0).map((_, i) => `${1 + (i % 2)}-${j({ request: 'join', tenant: 'globex', room: 'standup', pin: `g${i}00` })}`),
    `1-${j({ request: 'join', tenant: 'globex', room: 'standup', pin: '1234' })}`,
    ...Array(11).fill(0).map((_, i) => `3-${j({ request: 'list_rooms', tenant: 'acme', tenant_secret: `guess-${i}` })}`),
    `4-${j({ request: 'status', admin_key: 'op-kez' })}`, 'T\x3f', `1-${j({ request: 'join', tenant: 'globex', room: 'standup', pin: '1234' })}`,
    `A-${j({ request: 'status' })}`],
  'queued-per-session': [`A-${j({ request: 'set_capacity', capacity: 0 })}`, `1-${join({ display: 'a' })}`, `2-${join({ display: 'b' })}`,
    `3-${join({ display: 'c' })}`, `4-${join({ display: 'd' })}`, `1-${j({ request: 'leave' })}`, 'G2', `4-${join({ display: 'd' })}`],
  'admin-walkthrough': [
    `A-${j({ request: 'create_tenant', tenant: 'initech', name: 'Initech', max_participants: 500, secret: 'initech-tenant-secret', weight: 2, max_queued: 1000 })}`,
    `A-${j({ request: 'create_room', tenant: 'initech', room: 'allhands', description: 'Monday all-hands', max_attendees: 400, pin: '1234', presenter_secret: 's3cret-presenter', priority_secret: 'vip-pass' })}`,
    `A-${j({ request: 'rotate_signing_key', tenant: 'initech', overlap_s: 3600 })}`, `A-${j({ request: 'get_signing_key', tenant: 'initech' })}`,
    `A-${j({ request: 'set_capacity', capacity: 300, wave_size: 25, wave_interval_ms: 1000, join_rate: 50, join_burst: 50, rejoin_grace_s: 30, max_queued: 5000 })}`,
    `A-${j({ request: 'edit_tenant', tenant: 'acme', reserved: 2 })}`,
    `A-${j({ request: 'edit_room', tenant: 'acme', room: 'allhands', max_attendees: 2, pin: '', presenter_seats: 2 })}`,
    `A-${j({ request: 'room_info', tenant: 'acme', room: 'allhands' })}`,
    `A-${j({ request: 'pause', tenant: 'acme', room: 'allhands' })}`,
    `A-${j({ request: 'status', tenant: 'acme' })}`,
    `A-${j({ request: 'resume', tenant: 'acme', room: 'allhands' })}`,
    `A-${j({ request: 'drain' })}`, `A-${j({ request: 'resume' })}`, `A-${j({ request: 'list_tenants' })}`,
    `A-${j({ request: 'kick', tenant: 'acme', room: 'allhands', id: 1 })}`,
    `A-${j({ request: 'destroy_tenant', tenant: 'acme' })}`],
  'schedules': [
    `A-${j({ request: 'set_schedule', tenant: 'acme', room: 'allhands', schedule: schedules.recurring, lobby_minutes: 10 })}`,
    `A-${j({ request: 'set_schedule', tenant: 'acme', room: 'allhands', schedule: { ical: fs.readFileSync(path.join(root, 'tests/unit/data/google-weekly.ics'), 'utf8') } })}`,
    `A-${j({ request: 'start_now', tenant: 'acme', room: 'allhands' })}`, `1-${join({ display: 'Z' })}`,
    `A-${j({ request: 'end_now', tenant: 'acme', room: 'allhands' })}`,
    `A-${j({ request: 'set_schedule', tenant: 'acme', room: 'allhands', schedule: null })}`,
    `A-${j({ request: 'destroy_room', tenant: 'acme', room: 'weekly' })}`],
  'errors': [`1-${j({ request: 'create_room', tenant: 'acme', room: 'bad room!', max_attendees: 10, presenter_secret: 'x' })}`,
    `A-${j({ request: 'create_tenant', tenant: 'short', max_participants: 1, secret: 'short' })}`,
    `A-${j({ request: 'rotate_signing_key', tenant: 'acme', signing_key: 'ABC' })}`,
    '1-[1,2]', '1-', '1-{"request":5}', '1-{"request":"nope"}', '1o{"request":"leave"}', `2a${j({ request: 'start' })}`],
};
for (const [name, lines] of Object.entries(scripts)) write('requests', name, lines.join('\n'));

// ---- the node-to-node link (fuzz-link.c): 'k' + a key's text form, or a flags byte + a datagram
// (bit 0: from another port, bit 1: an SSRC allow-list, bit 2: two keys at the edge, bit 3: CM-SHA1-80).
const hex = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const linkKeys = {
  'key-gcm': `kahlink1:gcm128:1:${hex}`,
  'key-cm': `kahlink1:cm128-sha1-80:4294967295:${hex}`,
  'key-leading-zero': `kahlink1:gcm128:01:${hex}`,
  'key-uppercase': `kahlink1:gcm128:7:${hex.toUpperCase()}`,
  'key-short': `kahlink1:gcm128:7:${hex.slice(2)}`,
};
for (const [name, t] of Object.entries(linkKeys)) write('link', name, t);
const rtp = ({ x = false, cc = 0, pt = 96, ssrc = 0x01020304, payload = 40 } = {}) => {
  const h = [0x80 | (x ? 0x10 : 0) | cc, pt, 0x12, 0x34, 0, 0, 0x0b, 0xb8, ssrc >>> 24, (ssrc >> 16) & 255, (ssrc >> 8) & 255, ssrc & 255];
  for (let i = 0; i < cc; i++) h.push(0, 0, 0, i + 1);
  if (x) h.push(0xbe, 0xde, 0, 1, 0x11, 0, 0x2a, 0);
  for (let i = 0; i < payload; i++) h.push((i * 7) & 255);
  return h;
};
const linkPackets = {
  'rtp-plain': [0, ...rtp()],
  'rtp-extension-csrc': [0, ...rtp({ x: true, cc: 2 })],
  'rtp-allow-list-other-ssrc': [2, ...rtp({ ssrc: 0x0a0b0c0d })],
  'rtp-two-keys-cm': [4 | 8, ...rtp({ x: true })],
  'rtp-wrong-source': [1, ...rtp()],
  'rtcp-sr': [0, 0x80, 200, 0, 6, 1, 2, 3, 4, ...Array(20).fill(7)],
  'rtcp-rr-pli': [2, 0x80, 201, 0, 1, 0x42, 0x42, 0x42, 0x42, 0x81, 206, 0, 2, 0x42, 0x42, 0x42, 0x42, 1, 2, 3, 4],
  'short': [0, 0x80, 96, 0, 1],
};
for (const [name, b] of Object.entries(linkPackets)) write('link', name, Buffer.from(b));
