// Harness self-check, independent of the allhands plugin: namespace + Janus + janode + wrtc media
// through Debian's stock VideoRoom plugin. When this fails, the environment is broken, not allhands.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { JanusServer, VIDEOROOM } from './lib/janus.mjs';
import { openHandle } from './lib/client.mjs';
import { Attendee, Presenter } from './lib/media.mjs';

let janus;
const cleanups = [];

before(async () => {
  janus = new JanusServer({ name: 'videoroom', plugins: ['videoroom'] });
  await janus.start();
});

after(async () => {
  for (const c of cleanups.reverse()) { try { await c(); } catch { /* ignore */ } }
  if (janus) await janus.dispose();
});

test('VideoRoom: a subscriber inside the namespace receives audio and video from a wrtc publisher', async () => {
  const pubHandle = await openHandle(janus, VIDEOROOM);
  cleanups.push(() => pubHandle.client.close());
  const room = 4000 + (process.pid % 1000);
  const created = await pubHandle.request({ request: 'create', room, publishers: 4, bitrate: 300000 });
  assert.equal(created.data.videoroom, 'created', JSON.stringify(created.data));
  const joined = await pubHandle.request({ request: 'join', ptype: 'publisher', room, display: 'pub' });
  assert.equal(joined.data.videoroom, 'joined');
  const presenter = new Presenter(pubHandle, { publishBody: { request: 'publish', audio: true, video: true } });
  cleanups.push(() => presenter.close());
  const pub = await presenter.publish();
  assert.equal(pub.data.configured, 'ok', JSON.stringify(pub.data));
  assert.equal(pub.jsep?.type, 'answer');
  await presenter.waitConnected();
  assert.match(pub.jsep.sdp, new RegExp(`a=candidate:.* ${janus.net.janusIp.replace(/\./g, '\\.')} `), 'Janus offers its veth address');

  const subHandle = await openHandle(janus, VIDEOROOM);
  cleanups.push(() => subHandle.client.close());
  const sub = new Attendee(subHandle, { offerEvents: ['attached', 'updated'] });
  cleanups.push(() => sub.close());
  const reply = await sub.join({ request: 'join', ptype: 'subscriber', room, streams: [{ feed: joined.data.id }] });
  assert.equal(reply.data.videoroom, 'attached', JSON.stringify(reply.data));
  await sub.settled();
  assert.equal(sub.errors.length, 0, String(sub.errors[0]));
  assert.equal(sub.starts[0].data.started, 'ok');
  await sub.waitConnected();
  const inbound = await sub.waitMedia({ audio: true, video: true });
  assert.ok(inbound.some((s) => s.kind === 'video' && s.framesDecoded > 0));
  const info = await janus.adminRaw({ janus: 'list_sessions' });
  assert.equal(info.janus, 'success');
});
