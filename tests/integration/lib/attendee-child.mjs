// A separate process holding one allhands attendee (used by the test that SIGKILLs a client).
// Configured by env: AH_CHILD_WS (Janus WebSocket URL), AH_CHILD_BODY (join body JSON),
// AH_CHILD_AUTOSTART (1: answer offers). Reports to the parent over IPC:
// {type:'joined', reply}, {type:'event', event}, {type:'media', totals}, {type:'error', error}.
// Cluster mode: it follows a `redirect` (the join's reply, or an event while queued with reason
// "seat": docs/cluster.md, "Edges") as clients do: a new session on its `url`, joined with its
// `ticket` and the same display name, at most MAX_REDIRECTS in a row; {type:'redirected', redirect}
// is reported, then the new join's {type:'joined'}.
// SPDX-License-Identifier: GPL-3.0-or-later
import { Client } from './client.mjs';
import { Attendee } from './media.mjs';

const MAX_REDIRECTS = 3;
const send = (m) => { try { process.send(m); } catch { /* parent gone */ } };
const body = JSON.parse(process.env.AH_CHILD_BODY);
let current = null;  // {client, a}
let redirects = 0;

async function joinAt(wsUrl, joinBody) {
  const client = await Client.connect({ wsUrl });
  const h = await client.attach('janus.plugin.allhands');
  const a = new Attendee(h, { autoStart: process.env.AH_CHILD_AUTOSTART === '1' });
  const mine = { client, a };
  current = mine;
  h.on('plugin-event', (e) => {
    send({ type: 'event', event: e.data });
    if (e.data?.event === 'admitted') redirects = 0;
    if (e.data?.event === 'redirect' && current === mine) follow(e.data);
  });
  const reply = await a.join(joinBody);
  send({ type: 'joined', reply: reply.data });
  if (reply.data?.event === 'admitted') redirects = 0;
  if (reply.data?.event === 'redirect' && current === mine) follow(reply.data);
}

function follow(redirect) {
  redirects += 1;
  if (redirects > MAX_REDIRECTS || !redirect.url || !redirect.ticket) {
    send({ type: 'error', error: `more than ${MAX_REDIRECTS} redirects in a row, or a redirect without url/ticket` });
    return;
  }
  send({ type: 'redirected', redirect });
  const old = current;
  const next = { request: 'join', tenant: body.tenant, room: body.room, ptype: 'attendee', ticket: redirect.ticket };
  if (body.display) next.display = body.display;
  current = null;
  Promise.resolve(old?.client.close()).catch(() => {});
  joinAt(redirect.url, next).catch((e) => send({ type: 'error', error: String(e && e.stack || e) }));
}

async function main() {
  await joinAt(process.env.AH_CHILD_WS, body);
  setInterval(async () => {
    try { if (current) send({ type: 'media', totals: await current.a.totals() }); } catch { /* ignore */ }
  }, 1000);
  process.on('disconnect', () => process.exit(0));
}

main().catch((e) => { send({ type: 'error', error: String(e && e.stack || e) }); process.exit(1); });
