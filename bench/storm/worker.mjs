// Join-storm benchmark: one subscriber process (forked by bench/storm/run.mjs, inside the bench
// namespace, pinned to the client core). Holds several werift receive-only subscribers of allhands
// (attendees) or of the stock VideoRoom (subscribers), joins them when told, and records per
// subscriber: join, admitted (allhands), first media, the wait estimates it was given, RTP counts
// (received / expected from sequence numbers) and the longest gap between video packets inside the
// measurement window. Light on purpose: a hook on werift's RTP router updates counters only.
// SPDX-License-Identifier: GPL-3.0-or-later
import { RTCPeerConnection, useSdesMid } from 'werift';
import { Client } from '../../tests/integration/lib/client.mjs';
import { StormSubscriber, connectAll, serveStormWorker } from './subscriber.mjs';
import {
  H264, OPUS, VP8, keepInactiveMlines, sdpMlines, startLocalStun, weriftConfig,
} from '../../tests/integration/lib/werift-peers.mjs';

const now = () => performance.timeOrigin + performance.now();

let cfg = null;
const subs = new Map(); // id -> Sub
let windowStart = null;

class Sub extends StormSubscriber {
  constructor(id, pre) {
    super(id, pre, cfg);
    this.kindByPt = new Map();
    this.streams = { audio: null, video: null }; // {first, ext, cycles, last, recv, base:{recv, ext}}
    this.lastVideoAt = null;
    this.maxGap = 0;
    this.pc = null;
  }

  async connect() {
    this.client = await Client.connect({ wsUrl: cfg.wsUrl }, { keepalive: 10 });
    this.h = await this.client.attach(cfg.plugin);
    this.listen();
  }

  offer(jsep) { return this.answer(jsep); }

  async answer(offer) {
    for (const ml of sdpMlines(offer.sdp)) for (const pt of ml.pts) this.kindByPt.set(pt, ml.kind);
    if (!this.pc) {
      this.pc = new RTCPeerConnection(weriftConfig({
        codecs: { audio: [OPUS()], video: [VP8(), H264()] },
        headerExtensions: { audio: [useSdesMid()], video: [useSdesMid()] },
      }));
      const router = this.pc.router;
      const route = router.routeRtp;
      router.routeRtp = (packet) => {
        try { this.onRtp(packet.header); } catch { /* counters only */ }
        return route.call(router, packet);
      };
    }
    await this.pc.setRemoteDescription(offer);
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    const sdp = keepInactiveMlines(this.pc.localDescription.sdp, offer.sdp);
    await this.start({ type: 'answer', sdp });
    this.h.trickleComplete().catch(() => {});
  }

  onRtp(h) {
    const t = now();
    const kind = this.kindByPt.get(h.payloadType) || 'video';
    if (!this.rec.firstRtpAt) this.rec.firstRtpAt = t;
    let s = this.streams[kind];
    if (!s) {
      s = this.streams[kind] = { ext: h.sequenceNumber, recv: 0, base: null };
    } else {
      const d = ((h.sequenceNumber - (s.ext & 0xffff) + 0x8000) & 0xffff) - 0x8000;
      if (d > 0) s.ext += d;
    }
    s.recv += 1;
    if (kind === 'video') {
      if (!this.rec.firstVideoAt) this.rec.firstVideoAt = t;
      if (windowStart && this.lastVideoAt) {
        const gap = t - Math.max(this.lastVideoAt, windowStart);
        if (gap > this.maxGap) this.maxGap = gap;
      }
      this.lastVideoAt = t;
    }
  }

  // received and expected packets (audio + video) since the window started
  counts() {
    let recv = 0;
    let exp = 0;
    for (const s of Object.values(this.streams)) {
      if (!s || !s.base) continue;
      recv += s.recv - s.base.recv;
      exp += s.ext - s.base.ext;
    }
    return { recv, exp };
  }

  mark() {
    for (const s of Object.values(this.streams)) if (s) s.base = { recv: s.recv, ext: s.ext };
    this.maxGap = 0;
  }

  report(end) {
    const c = this.counts();
    let maxGap = this.maxGap;
    if (this.pre && windowStart) {
      const open = end - Math.max(this.lastVideoAt || windowStart, windowStart);
      if (open > maxGap) maxGap = open;
    }
    return {
      ...this.rec,
      windowRecv: c.recv, windowExp: c.exp, maxVideoGapMs: this.pre ? maxGap : null,
      videoPackets: this.streams.video ? this.streams.video.recv : 0,
      audioPackets: this.streams.audio ? this.streams.audio.recv : 0,
      pcState: this.pc ? this.pc.connectionState : null,
    };
  }

  async close() {
    try { if (this.pc) await this.pc.close(); } catch { /* ignore */ }
    try { await this.client.close(); } catch { /* ignore */ }
  }
}

serveStormWorker(subs, {
  init: async (m) => {
    cfg = m;
    await startLocalStun();
    for (const { id, pre } of m.subs) subs.set(id, new Sub(id, pre));
    // Connections, sessions and handles exist before the storm: the storm is the join requests.
    await connectAll([...subs.values()], 10);
    return {};
  },
  mark: () => {
    windowStart = now();
    for (const s of subs.values()) s.mark();
  },
  media: (s) => ({ ...s.counts(), lastVideoAt: s.lastVideoAt }),
});
