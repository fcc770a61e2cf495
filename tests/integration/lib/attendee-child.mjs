// A separate process holding one allhands attendee (used by the test that SIGKILLs a client).
// Configured by env: AH_CHILD_WS (Janus WebSocket URL), AH_CHILD_BODY (join body JSON),
// AH_CHILD_AUTOSTART (1: answer offers). Reports to the parent over IPC:
// {type:'joined', reply}, {type:'event', event}, {type:'media', totals}, {type:'error', error}.
// SPDX-License-Identifier: GPL-3.0-or-later
import { Client } from './client.mjs';
import { Attendee } from './media.mjs';

const send = (m) => { try { process.send(m); } catch { /* parent gone */ } };

async function main() {
  const client = await Client.connect({ wsUrl: process.env.AH_CHILD_WS });
  const h = await client.attach('janus.plugin.allhands');
  const a = new Attendee(h, { autoStart: process.env.AH_CHILD_AUTOSTART === '1' });
  h.on('plugin-event', (e) => send({ type: 'event', event: e.data }));
  const reply = await a.join(JSON.parse(process.env.AH_CHILD_BODY));
  send({ type: 'joined', reply: reply.data });
  setInterval(async () => {
    try { send({ type: 'media', totals: await a.totals() }); } catch { /* ignore */ }
  }, 1000);
  process.on('disconnect', () => process.exit(0));
}

main().catch((e) => { send({ type: 'error', error: String(e && e.stack || e) }); process.exit(1); });
