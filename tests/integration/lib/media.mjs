// WebRTC peers for the tests, built on @roamhq/wrtc (libwebrtc): a presenter that publishes
// synthetic audio (a tone) and video (a moving pattern), and an attendee that answers the
// plugin's offers (first `admitted`, then renegotiation `updated`) with `start` and reads
// inbound-rtp statistics.
// SPDX-License-Identifier: GPL-3.0-or-later
import wrtc from '@roamhq/wrtc';
import { safeJson, sleep, waitFor, withTimeout } from './util.mjs';

const { RTCPeerConnection, nonstandard } = wrtc;

// @roamhq/wrtc 0.10 crashes (SIGSEGV in RTCVideoSource's finalizer) when Node tears its
// environment down after a natural exit, which would turn a passing test file into a failed one.
// Once everything else has run (beforeExit), add a last `exit` listener that leaves through
// process.exit() with the same code: that path skips the environment teardown.
process.once('beforeExit', () => process.on('exit', (code) => process.exit(code)));

// Wait until ICE gathering is complete so the SDP carries every candidate (no trickle needed).
async function gathered(pc, timeout = 5000) {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise((resolve) => {
    const t = setTimeout(resolve, timeout);
    const check = () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(t);
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', check);
    pc.addEventListener('icecandidate', (e) => { if (!e.candidate) check(); });
  });
}

// Synthetic media sources pushed on timers.
export class SyntheticSource {
  constructor({ audio = true, video = true, width = 320, height = 240, fps = 15 } = {}) {
    this.timers = [];
    this.tracks = [];
    if (video) {
      this.videoSource = new nonstandard.RTCVideoSource();
      this.videoTrack = this.videoSource.createTrack();
      this.tracks.push(this.videoTrack);
      const frame = new Uint8ClampedArray(width * height * 1.5);
      let n = 0;
      this.timers.push(setInterval(() => {
        n += 1;
        // Luma: moving diagonal stripes; chroma: slowly changing colour.
        for (let y = 0; y < height; y++) {
          const row = y * width;
          for (let x = 0; x < width; x++) frame[row + x] = ((x + y + n * 4) & 63) < 32 ? 40 : 210;
        }
        frame.fill((n * 3) & 255, width * height, width * height * 1.25);
        frame.fill(255 - ((n * 5) & 255), width * height * 1.25);
        try { this.videoSource.onFrame({ width, height, data: frame }); } catch { /* track stopped */ }
      }, Math.round(1000 / fps)));
    }
    if (audio) {
      this.audioSource = new nonstandard.RTCAudioSource();
      this.audioTrack = this.audioSource.createTrack();
      this.tracks.push(this.audioTrack);
      const sampleRate = 48000;
      const samples = new Int16Array(sampleRate / 100);
      let phase = 0;
      this.timers.push(setInterval(() => {
        for (let i = 0; i < samples.length; i++) {
          samples[i] = Math.round(8000 * Math.sin(phase));
          phase += (2 * Math.PI * 440) / sampleRate;
        }
        try {
          this.audioSource.onData({ samples, sampleRate, bitsPerSample: 16, channelCount: 1, numberOfFrames: samples.length });
        } catch { /* track stopped */ }
      }, 10));
    }
  }

  stop() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const t of this.tracks) { try { t.stop(); } catch { /* ignore */ } }
  }
}

function newPc(handle) {
  const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  pc.addEventListener('icecandidate', (e) => {
    // Half-trickle: candidates travel in the SDP; tell Janus when gathering is done.
    if (!e.candidate && handle && !handle._detached) handle.trickleComplete().catch(() => {});
  });
  if (handle) handle.pc = pc;
  return pc;
}

// A presenter publishing synthetic media on `handle`.
export class Presenter {
  // simulcast: RTCRtpEncodingParameters for the video sender, lowest layer first (e.g. three
  // rids), or null; the offer then tells Janus "rid_order": "lmh".
  // width/height/fps: the synthetic video's size and rate.
  constructor(handle, {
    audio = true, video = true, publishBody = { request: 'publish' }, simulcast = null, width, height, fps,
  } = {}) {
    this.handle = handle;
    this.audio = audio;
    this.video = video;
    this.simulcast = simulcast;
    this.size = { width, height, fps };
    this.publishBody = publishBody;
    this.pc = null;
    this.source = null;
  }

  // Send `publish` with a fresh offer. Returns the reply {data, jsep}; applies a JSEP answer.
  // Reuses the PeerConnection for a republish unless Janus hung it up.
  async publish(body = this.publishBody, { withJsep = true } = {}) {
    if (!this.source) {
      const size = Object.fromEntries(Object.entries(this.size).filter(([, v]) => v !== undefined));
      this.source = new SyntheticSource({ audio: this.audio, video: this.video, ...size });
    }
    if (this.pc && (this.handle.hungup || ['closed', 'failed'].includes(this.pc.connectionState))) {
      this.pc.close();
      this.pc = null;
    }
    if (!this.pc) {
      this.handle.hungup = false;
      this.pc = newPc(this.handle);
      for (const t of this.source.tracks) {
        const init = { direction: 'sendonly' };
        if (t.kind === 'video' && this.simulcast) init.sendEncodings = this.simulcast;
        this.pc.addTransceiver(t, init);
      }
    } else {
      for (const tr of this.pc.getTransceivers()) if (tr.sender.track) tr.direction = 'sendonly';
    }
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    await gathered(this.pc);
    const jsep = { type: 'offer', sdp: this.pc.localDescription.sdp };
    // libwebrtc wants the encodings lowest first; Janus reads a=simulcast highest first unless told.
    if (this.simulcast) jsep.rid_order = 'lmh';
    const reply = await this.handle.request(body, withJsep ? jsep : undefined);
    if (reply.jsep && reply.jsep.type === 'answer') await this.pc.setRemoteDescription(reply.jsep);
    this.lastReply = reply;
    return reply;
  }

  async waitConnected(timeout = 20000) {
    await waitFor(() => this.pc && this.pc.connectionState === 'connected', { timeout, what: 'presenter PeerConnection connected' });
  }

  // `unpublish`: the plugin closes the presenter's PeerConnection (docs/api.md), so drop ours too;
  // the next publish() uses a new PeerConnection. Returns the reply.
  async unpublish() {
    const reply = await this.handle.request({ request: 'unpublish' });
    if (reply.data && reply.data.event === 'unpublished') this.dropPc();
    return reply;
  }

  // Close our PeerConnection (keep the synthetic sources for a later publish).
  dropPc() {
    if (this.pc) { try { this.pc.close(); } catch { /* ignore */ } }
    this.pc = null;
    this.handle.pc = null;
  }

  // Outbound packets sent so far, per kind.
  async stats() {
    const out = { audio: 0, video: 0 };
    if (!this.pc) return out;
    const report = await this.pc.getStats();
    report.forEach((s) => {
      if (s.type === 'outbound-rtp') out[s.kind || s.mediaType] += s.packetsSent || 0;
    });
    return out;
  }

  close() {
    if (this.source) this.source.stop();
    this.source = null;
    if (this.pc) { try { this.pc.close(); } catch { /* ignore */ } }
    this.pc = null;
  }
}

// An attendee (or any receive-only subscriber) answering offers pushed by the plugin.
//   autoStart: answer every offer (join reply, `admitted`, `updated`) with `start`.
//   startBody: the body of the answering request.
//   offerEvents: event names whose JSEP offer is answered.
export class Attendee {
  constructor(handle, { autoStart = true, startBody = { request: 'start' }, offerEvents = ['admitted', 'updated'] } = {}) {
    this.handle = handle;
    this.autoStart = autoStart;
    this.startBody = startBody;
    this.offerEvents = offerEvents;
    this.pc = null;
    this.starts = [];       // replies to our `start` requests
    this.errors = [];
    this.offersSeen = 0;
    this._chain = Promise.resolve();
    this._onEvent = (e) => {
      if (e.jsep && e.jsep.type === 'offer' && this.offerEvents.includes(e.data && e.data.event)) this._queueOffer(e.jsep, e.data.event);
    };
    handle.on('plugin-event', this._onEvent);
  }

  // Join (or any request whose reply may carry an offer).
  async join(body) {
    const reply = await this.handle.request(body);
    this.joinReply = reply;
    if (reply.jsep && reply.jsep.type === 'offer') this._queueOffer(reply.jsep, reply.data && reply.data.event);
    return reply;
  }

  _queueOffer(offer, why) {
    this.offersSeen += 1;
    if (!this.autoStart) return;
    this._chain = this._chain.then(() => this.answer(offer, why)).catch((e) => { this.errors.push(e); });
  }

  // Answer one offer with `start`; returns the `start` reply.
  async answer(offer, why = 'offer') {
    if (!this.pc) {
      this.pc = newPc(this.handle);
      this.tracks = [];
      this.pc.addEventListener('track', (e) => this.tracks.push(e.track));
    }
    await this.pc.setRemoteDescription(offer);
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await gathered(this.pc);
    const reply = await this.handle.request(this.startBody, { type: 'answer', sdp: this.pc.localDescription.sdp });
    this.starts.push({ why, ...reply });
    return reply;
  }

  // Wait until every queued offer has been answered.
  async settled() {
    let c;
    do { c = this._chain; await c; } while (c !== this._chain);
  }

  // inbound-rtp entries: [{kind, packetsReceived, framesDecoded, bytesReceived, id, mid, trackIdentifier}]
  async inbound() {
    if (!this.pc) return [];
    const report = await this.pc.getStats();
    const out = [];
    report.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out.push({
          id: s.id, kind: s.kind || s.mediaType, mid: s.mid, trackIdentifier: s.trackIdentifier,
          ssrc: s.ssrc, packetsReceived: s.packetsReceived || 0, framesDecoded: s.framesDecoded || 0,
          bytesReceived: s.bytesReceived || 0,
        });
      }
    });
    return out;
  }

  // Totals per kind: {audio:{packets}, video:{packets, frames}}.
  async totals() {
    const t = { audio: { packets: 0, frames: 0 }, video: { packets: 0, frames: 0 } };
    for (const s of await this.inbound()) {
      if (!t[s.kind]) continue;
      t[s.kind].packets += s.packetsReceived;
      t[s.kind].frames += s.framesDecoded;
    }
    return t;
  }

  // Wait until `pred({audio, video})` holds, where audio/video count the inbound streams that grew
  // between two consecutive samples (~700 ms apart): audio packets, video packets *and* decoded
  // frames. Old counters of a stopped stream do not count. Returns the last inbound-rtp list.
  async waitGrowing(pred, { timeout = 30000, what = 'growing inbound media' } = {}) {
    let prev = null;
    let last = null;
    let counts = null;
    await waitFor(async () => {
      const cur = await this.inbound();
      last = cur;
      const ok = prev && pred((counts = this._growing(prev, cur)));
      prev = cur;
      return ok;
    }, { timeout, interval: 700, what: `${what}; last growing ${safeJson(counts)}, inbound-rtp ${safeJson(last)}` });
    return last;
  }

  // Audio and video flowing: at least `audioStreams` audio and `videoStreams` video streams growing.
  async waitMedia({ audio = true, video = true, videoStreams = 1, audioStreams = 1, timeout = 30000 } = {}) {
    return this.waitGrowing((g) => (!audio || g.audio >= audioStreams) && (!video || g.video >= videoStreams),
      { timeout, what: `growing inbound media (audio x${audio ? audioStreams : 0}, video x${video ? videoStreams : 0})` });
  }

  _growing(prev, cur) {
    const before = new Map(prev.map((s) => [s.id, s]));
    let audio = 0;
    let video = 0;
    for (const s of cur) {
      const p = before.get(s.id) || { packetsReceived: 0, framesDecoded: 0 };
      if (s.kind === 'audio' && s.packetsReceived > p.packetsReceived) audio += 1;
      if (s.kind === 'video' && s.packetsReceived > p.packetsReceived && s.framesDecoded > p.framesDecoded) video += 1;
    }
    return { audio, video };
  }

  async waitConnected(timeout = 20000) {
    await waitFor(() => this.pc && this.pc.connectionState === 'connected', { timeout, what: 'attendee PeerConnection connected' });
  }

  // Close the PeerConnection (as a browser tab losing its connection would); the next offer
  // answered uses a new one.
  dropPc() {
    if (this.pc) { try { this.pc.close(); } catch { /* ignore */ } }
    this.pc = null;
    this.handle.pc = null;
  }

  close() {
    this.handle.removeListener('plugin-event', this._onEvent);
    if (this.pc) { try { this.pc.close(); } catch { /* ignore */ } }
    this.pc = null;
  }
}

export { sleep, withTimeout };
