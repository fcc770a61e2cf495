// werift (pure TypeScript WebRTC) peers for allhands tests that need what @roamhq/wrtc cannot do:
// H.264, and the raw RTP headers an attendee receives. Run inside the test namespace (run.mjs);
// call startLocalStun() first.
//
// - WeriftPresenter publishes synthetic RTP it builds itself: Opus-looking audio, and VP8 or H.264
//   video (SPS/PPS in a STAP-A, IDR slices in FU-A fragments, P slices as single NAL units). publish()
//   uses a new PeerConnection (new SSRCs, new random sequence number and timestamp origins), as a
//   real client would; republishVideoInPlace() renegotiates the same PeerConnection with a new
//   video sender (new m-line, new SSRC, possibly another codec). Each packet's payload is random
//   after its codec headers and is registered (hash -> source epoch, packet index, sequence number,
//   timestamp, frame) so a receiver can tell which sent packet it got.
// - WeriftAttendee joins, answers every offer (`admitted`, `updated`) with `start`, and records the
//   header of every RTP packet its PeerConnection decrypts (before werift's own demultiplexing, so
//   packets with an unexpected payload type are recorded too), with the m-line (mid) it came on.
// - checkContinuity() checks one m-line's packets: sequence numbers continue (small gaps for loss;
//   steps back only for late or repeated packets), timestamps go forward by plausible steps.
// Two werift SDP quirks are worked around on the client side only (keepInactiveMlines,
// describeRejectedCodecs); what the plugin sends is never changed.
// SPDX-License-Identifier: GPL-3.0-or-later
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import {
  RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, rtpHeaderExtensionsParser,
  useAbsSendTime, useNACK, usePLI, useSdesMid,
} from 'werift';
import { safeJson, waitFor } from './util.mjs';

// ---------------------------------------------------------------------------------------------
// Peer configuration

// Host candidates on the Janus end of the test namespace's veth (AH_JANUS_IP, see run.mjs): Janus's
// libnice never completes a connectivity check with a werift candidate on the client end
// (AH_CLIENT_IP) here, and @roamhq/wrtc, which offers both addresses, also ends up on the pair
// AH_JANUS_IP -> AH_JANUS_IP. The address is still private to the namespace.
// The cluster runner (tests/cluster/run.mjs) sets AH_WERIFT_IP instead: its client namespace has one
// address of its own on the bridge, and the Janus nodes live in other namespaces.
// werift falls back to a public STUN server when it is given none, so it gets a local one
// (startLocalStun) that answers binding requests from inside the namespace.
function weriftIp() {
  const ip = process.env.AH_WERIFT_IP || process.env.AH_JANUS_IP;
  if (!ip) throw new Error('werift peers need AH_JANUS_IP (or AH_WERIFT_IP): run the tests with tests/integration/run.mjs');
  return ip;
}

export function weriftConfig(extra = {}) {
  const ip = weriftIp();
  if (!localStun) throw new Error('call startLocalStun() before creating werift peers');
  return {
    iceServers: [{ urls: localStun }],
    iceUseIpv6: false,
    bundlePolicy: 'max-bundle',
    iceInterfaceAddresses: { udp4: ip },
    ...extra,
  };
}

// A minimal STUN binding responder (RFC 5389: XOR-MAPPED-ADDRESS only) on that address, so werift's
// server-reflexive gathering stays inside the namespace. Idempotent; the socket does not keep the
// process alive.
let localStun = null;
let localStunSocket = null;
export async function startLocalStun() {
  if (localStun) return localStun;
  const ip = weriftIp();
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 20 || msg.readUInt16BE(0) !== 0x0001 || msg.readUInt32BE(4) !== 0x2112a442 || rinfo.family !== 'IPv4') return;
    const attr = Buffer.alloc(12);
    attr.writeUInt16BE(0x0020, 0);
    attr.writeUInt16BE(8, 2);
    attr[5] = 0x01;
    attr.writeUInt16BE(rinfo.port ^ 0x2112, 6);
    const addr = rinfo.address.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
    attr.writeUInt32BE((addr ^ 0x2112a442) >>> 0, 8);
    const head = Buffer.alloc(20);
    head.writeUInt16BE(0x0101, 0);
    head.writeUInt16BE(attr.length, 2);
    msg.copy(head, 4, 4, 20);
    sock.send(Buffer.concat([head, attr]), rinfo.port, rinfo.address);
  });
  sock.on('error', () => {});
  await new Promise((resolve, reject) => { sock.once('error', reject); sock.bind(0, ip, resolve); });
  sock.unref();
  localStunSocket = sock;
  localStun = `stun:${ip}:${sock.address().port}`;
  return localStun;
}

export function stopLocalStun() {
  if (localStunSocket) { try { localStunSocket.close(); } catch { /* closed */ } }
  localStunSocket = null;
  localStun = null;
}

export const OPUS = () => new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111,
  parameters: 'minptime=10;useinbandfec=1' });
export const VP8 = (payloadType = 96) => new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType,
  rtcpFeedback: [useNACK(), usePLI()] });
// The H.264 the presenter offers: packetization-mode=1, constrained baseline 3.1.
export const H264_FMTP = 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f';
export const H264 = (payloadType = 102, parameters = H264_FMTP) => new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000,
  payloadType, rtcpFeedback: [useNACK(), usePLI()], parameters });

async function gathered(pc, timeout = 5000) {
  if (pc.iceGatheringState === 'complete') return;
  await waitFor(() => pc.iceGatheringState === 'complete', { timeout, interval: 20, what: 'werift ICE gathering complete' })
    .catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// SDP helpers

// [{index, kind, port, direction, mid, pts:[...], rtpmap:{pt: 'name/clock'}, fmtp:{pt: '...'}, msid, ssrcs:[...], text}]
export function sdpMlines(sdp) {
  const parts = String(sdp || '').split(/\r?\n(?=m=)/).slice(1);
  return parts.map((text, index) => {
    const lines = text.split(/\r?\n/).filter(Boolean);
    const m = /^m=(\w+) (\d+) \S+ ?(.*)$/.exec(lines[0]) || [];
    const out = {
      index, kind: m[1], port: Number(m[2]), pts: (m[3] || '').split(' ').filter(Boolean).map(Number),
      direction: 'sendrecv', mid: null, rtpmap: {}, fmtp: {}, msid: null, ssrcs: [], text,
    };
    for (const l of lines) {
      let x;
      if ((x = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(l))) out.direction = x[1];
      else if ((x = /^a=mid:(\S+)/.exec(l))) out.mid = x[1];
      else if ((x = /^a=rtpmap:(\d+) (.+)$/.exec(l))) out.rtpmap[x[1]] = x[2];
      else if ((x = /^a=fmtp:(\d+) (.+)$/.exec(l))) out.fmtp[x[1]] = x[2];
      else if ((x = /^a=msid:(\S+)/.exec(l))) out.msid = x[1];
      else if ((x = /^a=ssrc:(\d+) /.exec(l))) { const s = Number(x[1]); if (!out.ssrcs.includes(s)) out.ssrcs.push(s); }
    }
    return out;
  });
}

// The media payload types of an m-line with their codec names: [{pt, name}] (rtx/red/fec left out).
export function mlineCodecs(ml) {
  return ml.pts.map((pt) => ({ pt, name: String(ml.rtpmap[pt] || '').split('/')[0].toLowerCase() }))
    .filter((c) => !['rtx', 'red', 'ulpfec', 'flexfec-03'].includes(c.name));
}

// werift answers an offered `a=inactive` m-line with port 0, which in an answer means "rejected"
// (RFC 8829 5.3.1); browsers answer it with port 9 and `a=inactive`, and so do we: put port 9 back
// on every m-line the offer did not reject.
export function keepInactiveMlines(answer, offer) {
  const offered = sdpMlines(offer);
  return answer.split(/(?=^m=)/m).map((part, index) => {
    if (index === 0) return part;
    const o = offered[index - 1];
    return o && o.port !== 0 ? part.replace(/^m=(\w+) 0 /, 'm=$1 9 ') : part;
  }).join('');
}

// werift cannot apply an answer that rejects an m-line the way Janus does (`m=video 0 ... 0` with
// no rtpmap and no ICE credentials): it throws "negotiate codecs failed", and an m-line without the
// ICE credentials of the bundle makes it drop its selected candidate pair, so nothing is sent any
// more. For werift only, give such m-lines the offered codecs and the bundle's ICE/DTLS attributes
// (they stay rejected: port 0, inactive).
export function describeRejectedCodecs(answer, offer) {
  const offered = sdpMlines(offer);
  const parts = answer.split(/(?=^m=)/m);
  const transport = (parts.slice(1).find((p) => /^m=\w+ [1-9]/.test(p)) || '')
    .split(/\r?\n/).filter((l) => /^a=(ice-ufrag|ice-pwd|fingerprint|setup):/.test(l));
  return parts.map((part, index) => {
    const o = offered[index - 1];
    const m = /^m=(\w+) 0 (\S+) .*$/m.exec(part);
    if (index === 0 || !o || !m) return part;
    const eol = part.includes('\r\n') ? '\r\n' : '\n';
    const extra = transport.filter((l) => !part.includes(l.split(':')[0] + ':'));
    if (!part.includes('a=rtpmap:')) {
      extra.push(...o.text.split(/\r?\n/).filter((l) => /^a=(rtpmap|fmtp|rtcp-fb):/.test(l)));
      part = part.replace(/^m=.*$/m, `m=${m[1]} 0 ${m[2]} ${o.pts.join(' ')}`);
    }
    return extra.length ? part.replace(/(\r?\n)?$/, eol + extra.join(eol) + eol) : part;
  }).join('');
}

// ---------------------------------------------------------------------------------------------
// Synthetic media

// Hash of every payload sent by a synthetic source in this process -> {source, epoch, kind, seq, ts, frame, index}.
export const sentPayloads = new Map();
const payloadKey = (buf) => crypto.createHash('sha1').update(buf).digest('base64');

class BitWriter {
  constructor() { this.bits = []; }
  u(n, v) { for (let i = n - 1; i >= 0; i--) this.bits.push((v >>> i) & 1); return this; }
  ue(v) { const len = Math.floor(Math.log2(v + 1)); this.u(len, 0); this.u(len + 1, v + 1); return this; }
  se(v) { return this.ue(v <= 0 ? -2 * v : 2 * v - 1); }
  trailing() { this.bits.push(1); while (this.bits.length % 8) this.bits.push(0); return this; }
  bytes() {
    const out = Buffer.alloc(Math.ceil(this.bits.length / 8));
    this.bits.forEach((b, i) => { if (b) out[i >> 3] |= 0x80 >> (i & 7); });
    return out;
  }
}

// RBSP -> NAL payload with emulation-prevention bytes.
function escapeRbsp(rbsp) {
  const out = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) { out.push(3); zeros = 0; }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

const nal = (header, rbsp) => Buffer.concat([Buffer.from([header]), escapeRbsp(rbsp)]);

// Constrained baseline 3.1 (42e01f), 320x240, POC type 2, one reference frame.
export const H264_SPS = nal(0x67, new BitWriter().u(8, 66).u(8, 0xe0).u(8, 31).ue(0).ue(0).ue(2).ue(1).u(1, 0)
  .ue(19).ue(14).u(1, 1).u(1, 1).u(1, 0).u(1, 0).trailing().bytes());
export const H264_PPS = nal(0x68, new BitWriter().ue(0).ue(0).u(1, 0).u(1, 0).ue(0).ue(0).ue(0).u(1, 0).u(2, 0)
  .se(0).se(0).se(0).u(1, 1).u(1, 0).u(1, 0).trailing().bytes());

// A slice NAL unit: a real slice header, then random bytes standing in for macroblocks.
function h264Slice(idr, frameNum, idrId, size) {
  const w = new BitWriter().ue(0).ue(idr ? 7 : 5).ue(0).u(4, frameNum & 15);
  if (idr) w.ue(idrId & 0xffff).u(1, 0).u(1, 0);
  else w.u(1, 0).u(1, 0).u(1, 0);
  w.se(0).ue(0).se(0).se(0);
  const head = w.bytes();
  return nal(idr ? 0x65 : 0x41, Buffer.concat([head, crypto.randomBytes(size)]));
}

const MTU_PAYLOAD = 1100;

// One access unit -> RTP payloads (RFC 6184, packetization-mode 1).
function h264Packetize(nals) {
  const out = [];
  const small = nals.filter((n) => n.length <= 200 && (n[0] & 0x1f) >= 6);
  const rest = nals.filter((n) => !small.includes(n));
  if (small.length > 1) {
    const parts = [Buffer.from([0x78])];
    for (const n of small) { const len = Buffer.alloc(2); len.writeUInt16BE(n.length); parts.push(len, n); }
    out.push(Buffer.concat(parts));
  } else if (small.length === 1) {
    out.push(small[0]);
  }
  for (const n of rest) {
    if (n.length <= MTU_PAYLOAD) { out.push(n); continue; }
    const indicator = (n[0] & 0xe0) | 28;
    const type = n[0] & 0x1f;
    const body = n.subarray(1);
    for (let off = 0; off < body.length; off += MTU_PAYLOAD) {
      const start = off === 0;
      const end = off + MTU_PAYLOAD >= body.length;
      out.push(Buffer.concat([Buffer.from([indicator, (start ? 0x80 : 0) | (end ? 0x40 : 0) | type]), body.subarray(off, off + MTU_PAYLOAD)]));
    }
  }
  return out;
}

// One frame -> RTP payloads (RFC 7741: one-byte descriptor, S on the first packet).
function vp8Packetize(key, frameNo, scale = 1) {
  const size = (key ? 2400 : 300 + (frameNo % 7) * 40) * scale;
  let frame;
  if (key) {
    const tag = (size << 5) | 0x10; // key frame (bit 0 = 0), version 0, show_frame
    frame = Buffer.concat([Buffer.from([tag & 0xff, (tag >> 8) & 0xff, (tag >> 16) & 0xff, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]),
      crypto.randomBytes(size)]);
  } else {
    const tag = (size << 5) | 0x10 | 1;
    frame = Buffer.concat([Buffer.from([tag & 0xff, (tag >> 8) & 0xff, (tag >> 16) & 0xff]), crypto.randomBytes(size)]);
  }
  const out = [];
  for (let off = 0; off < frame.length; off += MTU_PAYLOAD) {
    out.push(Buffer.concat([Buffer.from([off === 0 ? 0x10 : 0x00]), frame.subarray(off, off + MTU_PAYLOAD)]));
  }
  return out;
}

// Sends RTP on a werift sender with a drift-free schedule: packet/frame n at t0 + n * interval,
// timestamp ts0 + n * step (so timestamps follow the wall clock as a real source's do).
class RtpStream {
  constructor({ sender, source, epoch, kind, intervalMs, tsStep, frame }) {
    Object.assign(this, { sender, source, epoch, kind, intervalMs, tsStep, frame });
    this.seq = crypto.randomInt(0, 65536);
    this.ts0 = crypto.randomInt(0, 2 ** 32);
    this.n = 0;
    this.sent = 0;
    this.t0 = null;
  }

  tick(now) {
    if (this.t0 === null) this.t0 = now;
    while (this.t0 + this.n * this.intervalMs <= now) {
      const ts = (this.ts0 + this.n * this.tsStep) >>> 0;
      const payloads = this.frame(this.n);
      payloads.forEach((payload, i) => {
        const seq = this.seq;
        this.seq = (this.seq + 1) & 0xffff;
        // index: how many packets this stream had sent before this one.
        sentPayloads.set(payloadKey(payload), { source: this.source, epoch: this.epoch, kind: this.kind, seq, ts, frame: this.n, index: this.sent });
        // Video: marker on the last packet of a frame; audio: on the first packet of the stream.
        const marker = this.kind === 'video' ? i === payloads.length - 1 : this.n === 0;
        const header = new RtpHeader({ sequenceNumber: seq, timestamp: ts, marker, payloadType: 0 });
        this.sent += 1;
        this.sender.sendRtp(new RtpPacket(header, payload)).catch(() => {});
      });
      this.n += 1;
    }
  }
}

function opusFrame() { return [Buffer.concat([Buffer.from([0xfc]), crypto.randomBytes(60)])]; }

function videoFrames(codec, scale = 1) {
  let idr = 0;
  if (codec === 'h264') {
    // 15 fps, an IDR (with SPS/PPS) every 15 frames.
    return (n) => {
      const key = n % 15 === 0;
      if (key) idr += 1;
      const nals = key ? [H264_SPS, H264_PPS, h264Slice(true, 0, idr, 3000)] : [h264Slice(false, n % 15, 0, 250 + (n % 5) * 60)];
      return h264Packetize(nals);
    };
  }
  return (n) => vp8Packetize(n % 15 === 0, n, scale);
}

// ---------------------------------------------------------------------------------------------
// Presenter

let epochs = 0;

// Payload types other than the ones the plugin offers attendees (VP8 96, H.264 102), so a receiver
// can tell that the plugin rewrote them.
const PRESENTER_PT = { vp8: 100, h264: 109 };
const presenterCodec = (video, h264Fmtp) => (video === 'h264' ? H264(PRESENTER_PT.h264, h264Fmtp) : VP8(PRESENTER_PT.vp8));

export class WeriftPresenter {
  // video: 'vp8' | 'h264' | null; audio: boolean; videoFps: video frames per second (timestamps
  // follow), 15 unless a test wants a higher packet rate; vp8Scale: VP8 frame sizes times this
  // (more packets per frame, sent back to back); h264Fmtp: the H.264 fmtp offered (H264_FMTP).
  constructor(handle, { label = 'presenter', video = 'vp8', audio = true, videoFps = 15, vp8Scale = 1, h264Fmtp = H264_FMTP } = {}) {
    this.handle = handle;
    this.h264Fmtp = h264Fmtp;
    this.videoFps = videoFps;
    this.vp8Scale = vp8Scale;
    this.label = label;
    this.video = video;
    this.audio = audio;
    this.pc = null;
    this.streams = [];
    this.transceivers = [];
    this.epochs = { audio: null, video: null };
    this.timer = null;
    this.publishes = [];
  }

  _stream(kind, tr, epoch, video) {
    return new RtpStream({
      sender: tr.sender, source: this.label, epoch, kind,
      intervalMs: kind === 'audio' ? 20 : 1000 / this.videoFps,
      tsStep: kind === 'audio' ? 960 : Math.round(90000 / this.videoFps),
      frame: kind === 'audio' ? opusFrame : videoFrames(video, this.vp8Scale),
    });
  }

  async _send(body) {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    await gathered(this.pc);
    this.offerSdp = this.pc.localDescription.sdp;
    const reply = await this.handle.request(body, { type: 'offer', sdp: this.offerSdp });
    this.lastReply = reply;
    if (reply.jsep && reply.jsep.type === 'answer') {
      this.answerSdp = reply.jsep.sdp;
      await this.pc.setRemoteDescription({ type: 'answer', sdp: describeRejectedCodecs(reply.jsep.sdp, this.offerSdp) });
    }
    return reply;
  }

  // `publish` with a fresh PeerConnection (new SSRCs, new sequence number and timestamp origins);
  // returns the reply {data, jsep} and applies the answer. The video m-line offers only `video`.
  async publish({ video = this.video, audio = this.audio, body = { request: 'publish' } } = {}) {
    await this.stopMedia();
    this.video = video;
    const codecs = {};
    if (audio) codecs.audio = [OPUS()];
    // Both video codecs are known to the PeerConnection (so a later in-place republish can switch);
    // each transceiver offers only its own.
    if (video) codecs.video = [VP8(PRESENTER_PT.vp8), H264(PRESENTER_PT.h264, this.h264Fmtp)];
    const pc = new RTCPeerConnection(weriftConfig({
      codecs,
      headerExtensions: { audio: [useSdesMid()], video: [useSdesMid(), useAbsSendTime()] },
    }));
    this.pc = pc;
    // An epoch names one stream of one publish in sentPayloads (and so in what attendees record).
    const epoch = `${this.label}#${++epochs}`;
    this.epochs = { audio: audio ? epoch : null, video: video ? epoch : null };
    const trs = [];
    if (audio) trs.push({ kind: 'audio', tr: pc.addTransceiver('audio', { direction: 'sendonly' }) });
    if (video) {
      const tr = pc.addTransceiver('video', { direction: 'sendonly' });
      tr.codecs = [presenterCodec(video, this.h264Fmtp)];
      trs.push({ kind: 'video', tr });
    }
    const reply = await this._send(body);
    this.publishes.push({ epoch, reply });
    if (this.answerSdp && reply.jsep && reply.jsep.type === 'answer') {
      this.handle.trickleComplete().catch(() => {});
      this.transceivers = trs;
      this.streams = trs.map(({ kind, tr }) => this._stream(kind, tr, epoch, video));
      // The streams start once DTLS is up (werift drops what is sent before).
      this.timer = setInterval(() => {
        if (pc.connectionState !== 'connected') return;
        const now = performance.now();
        for (const st of this.streams) st.tick(now);
      }, 10);
    }
    return reply;
  }

  // `publish` again on the same PeerConnection, replacing the video stream: the current video
  // transceiver goes inactive and a new one (new m-line, new SSRC, new sequence number and
  // timestamp origins) sends `video`. Audio goes on as it was. Returns the reply.
  async republishVideoInPlace(video, { body = { request: 'publish' } } = {}) {
    if (!this.pc || this.pc.connectionState !== 'connected') throw new Error(`${this.label}: no connected PeerConnection to renegotiate`);
    const old = this.transceivers.find((t) => t.kind === 'video');
    const epoch = `${this.label}#${++epochs}`;
    const tr = this.pc.addTransceiver('video', { direction: 'sendonly' });
    tr.codecs = [presenterCodec(video, this.h264Fmtp)];
    old.tr.setDirection('inactive');
    const reply = await this._send(body);
    this.publishes.push({ epoch, reply });
    if (reply.jsep && reply.jsep.type === 'answer') {
      this.video = video;
      this.epochs = { ...this.epochs, video: epoch };
      this.transceivers = [...this.transceivers.filter((t) => t !== old), { kind: 'video', tr }];
      this.streams = [...this.streams.filter((st) => st.kind !== 'video'), this._stream('video', tr, epoch, video)];
    }
    return reply;
  }

  async waitConnected(timeout = 20000) {
    await waitFor(() => this.pc && this.pc.connectionState === 'connected', { timeout, what: `${this.label}: werift presenter PeerConnection connected` });
  }

  // Packets handed to werift so far by the current streams, per kind.
  sent() {
    const out = { audio: 0, video: 0 };
    for (const st of this.streams) out[st.kind] += st.sent;
    return out;
  }

  async stopMedia() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.streams = [];
    this.transceivers = [];
    const pc = this.pc;
    this.pc = null;
    if (pc) { try { await pc.close(); } catch { /* ignore */ } }
  }

  close() { return this.stopMedia(); }
}

// ---------------------------------------------------------------------------------------------
// Attendee

export class WeriftAttendee {
  constructor(handle, { label = 'attendee', autoStart = true } = {}) {
    this.handle = handle;
    this.label = label;
    this.autoStart = autoStart;
    this.pc = null;
    this.offers = [];    // {why (event), sdp, mlines, presenters (of the event), at}
    this.starts = [];    // {why, answerSdp, data, jsep}
    this.errors = [];
    this.packets = [];   // {at (ms), ssrc, pt, seq, ts, marker, mid, len, head (first 2 payload bytes, hex), src}
    this.ssrcMid = new Map();
    this._chain = Promise.resolve();
    this._onEvent = (e) => {
      if (e.jsep && e.jsep.type === 'offer' && ['admitted', 'updated'].includes(e.data && e.data.event)) this._queueOffer(e.jsep, e.data);
    };
    handle.on('plugin-event', this._onEvent);
  }

  async join(body) {
    const reply = await this.handle.request(body);
    this.joinReply = reply;
    if (reply.jsep && reply.jsep.type === 'offer') this._queueOffer(reply.jsep, reply.data);
    return reply;
  }

  _queueOffer(offer, data) {
    const why = data && data.event;
    this.offers.push({ why, sdp: offer.sdp, mlines: sdpMlines(offer.sdp), presenters: (data && data.presenters) || [], at: Date.now() });
    if (!this.autoStart) return;
    this._chain = this._chain.then(() => this.answer(offer, why)).catch((e) => { this.errors.push(e); });
  }

  _newPc() {
    const pc = new RTCPeerConnection(weriftConfig({
      codecs: { audio: [OPUS()], video: [VP8(), H264()] },
      headerExtensions: { audio: [useSdesMid()], video: [useSdesMid()] },
    }));
    // Record every RTP packet before werift demultiplexes it (werift silently drops packets whose
    // payload type it did not negotiate; we want to see those too).
    const router = pc.router;
    if (!router || typeof router.routeRtp !== 'function') throw new Error('werift internals changed: RTCPeerConnection.router.routeRtp is missing');
    const route = router.routeRtp;
    router.routeRtp = (packet) => {
      try { this._record(packet, router); } catch (e) { this.errors.push(e); }
      return route(packet);
    };
    return pc;
  }

  _record(packet, router) {
    const h = packet.header;
    let mid = null;
    try {
      const ext = rtpHeaderExtensionsParser(h.extensions, router.extIdUriMap);
      const m = ext['urn:ietf:params:rtp-hdrext:sdes:mid'];
      if (typeof m === 'string' && m) mid = m;
    } catch { /* no extensions */ }
    if (mid) this.ssrcMid.set(h.ssrc, mid);
    else mid = this.ssrcMid.get(h.ssrc) || null;
    const src = sentPayloads.get(payloadKey(packet.payload)) || null;
    this.packets.push({
      at: performance.now(), ssrc: h.ssrc, pt: h.payloadType, seq: h.sequenceNumber, ts: h.timestamp, marker: h.marker,
      mid, len: packet.payload.length, head: packet.payload.subarray(0, 2).toString('hex'), src,
    });
  }

  // Answer one offer with `start`.
  async answer(offer, why = 'offer') {
    if (!this.pc) this.pc = this._newPc();
    await this.pc.setRemoteDescription(offer);
    // SSRCs the offer announces, per mid (used when a packet carries no mid extension).
    for (const ml of sdpMlines(offer.sdp)) for (const s of ml.ssrcs) if (ml.mid) this.ssrcMid.set(s, ml.mid);
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await gathered(this.pc);
    const sdp = keepInactiveMlines(this.pc.localDescription.sdp, offer.sdp);
    const reply = await this.handle.request({ request: 'start' }, { type: 'answer', sdp });
    this.handle.trickleComplete().catch(() => {});
    this.starts.push({ why, answerSdp: sdp, ...reply });
    return reply;
  }

  async settled() {
    let c;
    do { c = this._chain; await c; } while (c !== this._chain);
  }

  async waitConnected(timeout = 20000) {
    await waitFor(() => this.pc && this.pc.connectionState === 'connected', { timeout, what: `${this.label}: werift attendee PeerConnection connected` });
  }

  // Packets received on `mid` (optionally only from index `from` of this.packets).
  onMid(mid, from = 0) { return this.packets.slice(from).filter((p) => p.mid === mid); }

  // Wait until `n` packets from epoch `epoch` (a WeriftPresenter publish) arrived on `mid`.
  async waitPackets(mid, epoch, n = 30, { timeout = 20000 } = {}) {
    return waitFor(() => {
      const got = this.packets.filter((p) => p.mid === mid && p.src && p.src.epoch === epoch).length;
      return got >= n ? got : false;
    }, {
      timeout,
      what: `${this.label}: ${n} packets of ${epoch} on mid ${mid} (so far ${summarize(this.packets)})`,
    });
  }

  close() {
    this.handle.removeListener('plugin-event', this._onEvent);
    const pc = this.pc;
    this.pc = null;
    if (pc) return pc.close().catch(() => {});
    return undefined;
  }
}

// {mid: {packets, pts, epochs}} for messages.
export function summarize(packets) {
  const by = {};
  for (const p of packets) {
    const k = p.mid || `ssrc:${p.ssrc}`;
    const s = (by[k] ||= { packets: 0, pts: [], epochs: {} });
    s.packets += 1;
    if (!s.pts.includes(p.pt)) s.pts.push(p.pt);
    const e = p.src ? p.src.epoch : 'unknown';
    s.epochs[e] = (s.epochs[e] || 0) + 1;
  }
  return safeJson(by);
}

// ---------------------------------------------------------------------------------------------
// Continuity

const int16 = (x) => ((x + 0x8000) & 0xffff) - 0x8000;
const int32 = (x) => x | 0;

export function formatPacket(p, i) {
  const src = p.src ? `${p.src.epoch} packet ${p.src.index} (seq ${p.src.seq} ts ${p.src.ts} frame ${p.src.frame})` : 'unknown payload';
  return `#${i} t=${p.at.toFixed(1)}ms ssrc=${p.ssrc} pt=${p.pt} seq=${p.seq} ts=${p.ts}${p.marker ? ' M' : ''} len=${p.len} <- ${src}`;
}

export function dumpAround(packets, i, before = 6, after = 6) {
  const lines = [];
  for (let j = Math.max(0, i - before); j <= Math.min(packets.length - 1, i + after); j++) {
    lines.push(`${j === i ? '>>' : '  '} ${formatPacket(packets[j], j)}`);
  }
  return lines.join('\n');
}

// Check one m-line's packets (in arrival order), across SSRCs: the plugin keeps sequence numbers and
// timestamps continuous per m-line. Returns a list of problems, each with a dump.
//   maxGap: largest forward sequence step accepted (packets lost in between);
//   a step back is accepted only for a packet that is late (its number was skipped before) or
//   repeated (a retransmission: same number, same payload);
//   slackSec: a forward timestamp step may exceed the wall-clock time between the two packets'
//   arrivals by at most this much (in seconds of media clock); across a source change the
//   timestamp must move forward.
export function checkContinuity(packets, { clockRate, maxGap = 50, slackSec = 2 } = {}) {
  const problems = [];
  if (packets.length === 0) return problems;
  // Janus gives an m-line a new SSRC whenever an offer turns it inactive and then active again (its
  // core resets the SSRC of inactive m-lines), so the SSRC may change where the source changes, but
  // not while one source is being relayed.
  for (let i = 1; i < packets.length; i++) {
    const p = packets[i];
    const q = packets[i - 1];
    if (p.ssrc !== q.ssrc && p.src && q.src && p.src.epoch === q.src.epoch) {
      problems.push({ index: i, what: `the SSRC changed (${q.ssrc} -> ${p.ssrc}) while relaying one source (${p.src.epoch})`, dump: dumpAround(packets, i) });
      break;
    }
  }
  const seen = new Map([[packets[0].seq, packets[0].src]]);
  const missing = new Set();
  let top = 0; // index of the packet with the highest sequence number so far
  for (let i = 1; i < packets.length && problems.length < 5; i++) {
    const p = packets[i];
    const ref = packets[top];
    const d = int16(p.seq - ref.seq);
    if (d >= 1) {
      if (d > maxGap) problems.push({ index: i, what: `sequence number jumped by ${d} (${ref.seq} -> ${p.seq})`, dump: dumpAround(packets, i) });
      else for (let k = 1; k < d; k++) missing.add((ref.seq + k) & 0xffff);
      const dts = int32(p.ts - ref.ts);
      const wall = Math.max(0, p.at - ref.at) / 1000;
      const switched = !p.src || !ref.src || p.src.epoch !== ref.src.epoch;
      if (dts < 0) problems.push({ index: i, what: `timestamp went back by ${-dts} (${ref.ts} -> ${p.ts})`, dump: dumpAround(packets, i) });
      else if (switched && dts === 0) problems.push({ index: i, what: `timestamp did not move across a source change (${ref.ts})`, dump: dumpAround(packets, i) });
      else if (dts > clockRate * (wall + slackSec)) {
        problems.push({ index: i, what: `timestamp jumped by ${dts} (${(dts / clockRate).toFixed(3)} s of media) over ${wall.toFixed(3)} s of arrival time`, dump: dumpAround(packets, i) });
      }
      top = i;
    } else if (missing.has(p.seq)) {
      missing.delete(p.seq); // late
    } else if (!(seen.has(p.seq) && seen.get(p.seq) === p.src && p.src)) {
      problems.push({ index: i, what: `sequence number went back by ${-d} (${ref.seq} -> ${p.seq}) and the packet is neither late nor a repeat`, dump: dumpAround(packets, i) });
    }
    seen.set(p.seq, p.src);
  }
  return problems;
}

// Every source change on a packet list: [{index, from, to}] (epochs in arrival order).
export function sourceChanges(packets) {
  const out = [];
  let last = null;
  packets.forEach((p, i) => {
    const e = p.src ? p.src.epoch : null;
    if (e && e !== last) { out.push({ index: i, from: last, to: e }); last = e; }
  });
  return out;
}
