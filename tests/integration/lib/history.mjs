// The admission history of a test, and the checker over it (issue 13: "a checker over the recorded history
// of every test ... asserts: caps never exceeded at any instant, nobody lost, no seat counted twice,
// positions only decrease").
//
// The history is what the plugin tells Janus's event handlers (docs/api.md, "Events for Janus event
// handlers": `joined`, `admitted`, `left`, `removed`, `ended`, `rejoining`), collected by an HTTP server
// the stock sample event handler posts to (start Janus with the plugin setting `events: true` and
// `{ eventsBackend: collector.url }`), each with Janus's timestamp and the emitting node; plus what the
// clients saw (`clients`: {label, room, reply: the join reply, positions: every position told}). The checker replays the server events
// in time order and keeps the seats each participant holds:
//   - an attendee holds a room, a tenant and a node seat from `admitted` until `left`, `removed` or
//     `ended`; with a rejoin grace (`left` then `rejoining`) it holds them until `left` with
//     `grace_expired`, or until its room admits a `joined` attendee of the same tenant and room that
//     is the rejoin (the events do not link the two ids: the checker takes the oldest hold of that
//     room as the one passed on, so a rejoin is never counted twice and a real excess still shows);
//   - presenters and backstage monitors hold a tenant seat from `joined` until they leave.
// Violations: a room above `max_attendees`, a tenant above `max_participants`, a node above `capacity`
// at any event; an `admitted` twice without a leave between, or for an id that never joined; a leave of
// an id that holds nothing and was never queued; with client records: a join neither answered nor
// refused with a code, a joined id with no outcome at the end (neither seated nor out), a position
// that went up (allowed only where the room takes priority joiners, `priorityRooms`).
// SPDX-License-Identifier: GPL-3.0-or-later
import http from 'node:http';

const OUT = new Set(['left', 'removed', 'ended']);

// An HTTP collector for Janus's sample event handler: keeps the allhands events, in arrival order.
export class EventCollector {
  constructor() {
    this.events = []; // {ts (µs, Janus's clock), node (Janus's emitter), data (the plugin's event)}
    this.server = null;
  }

  async start(host = '127.0.0.1') {
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        res.end('ok');
        let body;
        try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return; }
        for (const e of Array.isArray(body) ? body : [body]) {
          if (e && e.type === 64 && e.event && e.event.plugin === 'janus.plugin.allhands' && e.event.data) {
            this.events.push({ ts: Number(e.timestamp) || 0, node: e.emitter || 'node', data: e.event.data });
          }
        }
      });
    });
    await new Promise((resolve) => this.server.listen(0, host, resolve));
    this.url = `http://${host}:${this.server.address().port}/events`;
    return this.url;
  }

  // Until no event has come for `quietMs` (the event handler posts asynchronously, one at a time, and
  // retries; under load the last ones come late): resolves with the events' count.
  async settle({ quietMs = 1000, timeout = 15000 } = {}) {
    const end = Date.now() + timeout;
    let count = -1;
    let since = Date.now();
    while (Date.now() < end) {
      if (this.events.length !== count) {
        count = this.events.length;
        since = Date.now();
      } else if (Date.now() - since >= quietMs) {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.events.length;
  }

  async stop() {
    if (this.server) await new Promise((resolve) => this.server.close(() => resolve()));
    this.server = null;
  }
}

// Check a history. `caps`: { rooms: {'tenant/room': max_attendees}, tenants: {tenant: max_participants},
// nodes: {node: capacity} } (a missing cap is not checked). Options: `priorityRooms` (Set of
// 'tenant/room' where positions may go up), `complete` (every participant is out or seated for good:
// report ids still queued). Returns { violations: [strings], max: {rooms, tenants, nodes}, counts }.
export function checkHistory({ events, clients = [] }, caps = {}, { priorityRooms = new Set(), complete = true } = {}) {
  const violations = [];
  const seats = { rooms: new Map(), tenants: new Map(), nodes: new Map() };
  const max = { rooms: {}, tenants: {}, nodes: {} };
  const people = new Map(); // node/id -> {tenant, room, ptype, state: queued|seated|held|out}
  const holds = new Map(); // tenant/room -> [node/id] in the order their holds began
  const add = (kind, key, n, at) => {
    const v = (seats[kind].get(key) || 0) + n;
    seats[kind].set(key, v);
    max[kind][key] = Math.max(max[kind][key] || 0, v);
    const cap = caps[kind]?.[key];
    if (n > 0 && cap !== undefined && v > cap) violations.push(`${at}: ${kind.slice(0, -1)} ${key} holds ${v} seats, cap ${cap}`);
  };
  const seat = (p, n, at) => {
    if (p.ptype === 'attendee') {
      add('rooms', `${p.tenant}/${p.room}`, n, at);
      add('nodes', p.node, n, at);
    }
    add('tenants', p.tenant, n, at);
  };
  const ordered = events.map((e, i) => ({ ...e, i })).sort((a, b) => a.ts - b.ts || a.i - b.i);
  for (const e of ordered) {
    const d = e.data;
    if (d.id === undefined || !d.tenant) continue;
    const key = `${e.node}/${d.id}`;
    const roomKey = `${d.tenant}/${d.room}`;
    const at = `${d.event} ${d.tenant}/${d.room} id ${d.id} on ${e.node} at ${e.ts}`;
    let p = people.get(key);
    if (d.event === 'joined') {
      if (p) { violations.push(`${at}: joined twice`); continue; }
      p = { tenant: d.tenant, room: d.room, ptype: d.ptype || 'attendee', node: e.node, state: 'queued' };
      people.set(key, p);
      if (p.ptype !== 'attendee') { p.state = 'seated'; seat(p, 1, at); }
    } else if (d.event === 'admitted') {
      if (!p) { violations.push(`${at}: admitted without joining`); continue; }
      if (p.state !== 'queued') { violations.push(`${at}: admitted while ${p.state}`); continue; }
      // A rejoin takes over the oldest seat held for its room (see the header).
      const held = holds.get(roomKey);
      if (held && held.length) {
        const old = people.get(held.shift());
        old.state = 'out';
        seat(old, -1, at);
      }
      p.state = 'seated';
      seat(p, 1, at);
    } else if (d.event === 'rejoining') {
      if (!p || p.state !== 'left-pending') { violations.push(`${at}: rejoining without a lost connection`); continue; }
      p.state = 'held';
      seat(p, 1, at);
      if (!holds.has(roomKey)) holds.set(roomKey, []);
      holds.get(roomKey).push(key);
    } else if (OUT.has(d.event)) {
      if (!p) { violations.push(`${at}: ${d.event} of a participant that never joined`); continue; }
      if (d.reason === 'grace_expired') {
        const held = holds.get(roomKey) || [];
        const i = held.indexOf(key);
        if (i < 0) continue; // its seat was passed on to its rejoin
        held.splice(i, 1);
        seat(p, -1, at);
        p.state = 'out';
      } else if (p.state === 'seated') {
        seat(p, -1, at);
        // A lost connection may be followed by `rejoining` (the seat held again, at once).
        p.state = d.event === 'left' && (d.reason === 'hangup' || d.reason === 'gone') ? 'left-pending' : 'out';
      } else if (p.state === 'queued') {
        p.state = 'out';
      } else if (p.state === 'held') {
        continue; // a take-over or kick of a held seat ends with its grace_expired or the rejoin
      } else {
        violations.push(`${at}: ${d.event} while ${p.state} (a seat given up twice)`);
      }
    }
  }
  for (const [key, p] of people) {
    if (p.state === 'left-pending') p.state = 'out';
    if (complete && p.state === 'queued') violations.push(`${key} (${p.tenant}/${p.room}) joined and was never admitted nor taken out`);
  }
  // Client side: every join answered (a code when refused), positions only going down.
  for (const c of clients) {
    if (!c.reply) { violations.push(`client ${c.label}: its join got no answer`); continue; }
    const ev = c.reply.event;
    if (ev === 'error' || c.reply.allhands === 'error') {
      if (!Number.isInteger(c.reply.error_code)) violations.push(`client ${c.label}: refused without an error code`);
    } else if (!['admitted', 'queued', 'joined'].includes(ev)) {
      violations.push(`client ${c.label}: join answered ${JSON.stringify(c.reply)}`);
    }
    const positions = c.positions || [];
    for (let i = 1; i < positions.length; i += 1) {
      if (positions[i] > positions[i - 1] && !priorityRooms.has(c.room)) {
        violations.push(`client ${c.label}: position went up, ${positions[i - 1]} -> ${positions[i]}`);
      }
    }
  }
  const counts = { participants: people.size, events: ordered.length, clients: clients.length };
  return { violations, max, counts };
}
