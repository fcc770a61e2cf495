// Presenter page: join with the presenter secret, choose camera and microphone, preview them (with a
// level meter), go on stage (publish) and leave it (unpublish), and follow who is in (room_counts,
// polled every 2 s) and the room's schedule state (room_state events). A lost connection is
// reconnected by itself (on stage again if it was).
// Hooks for the end-to-end tests: web/CONTRACT.md (body[data-state], #camera, #microphone, #preview,
// #go-live-button, #go-off-button, #count-active, #count-connecting, #count-queued).
import {
  params, prefill, status, disconnect, keepFocus, showError, errorText, connect, send, createOffer, handleRemoteJsep,
  webrtcMissing,
} from './common.js';

const $ = (id) => document.getElementById(id);
const form = $('join');
const fieldset = form.querySelector('fieldset');
const joinButton = $('join-button');
const leaveButton = $('leave-button');
const liveButton = $('go-live-button');
const offButton = $('go-off-button');
const previewButton = $('preview-button');
const cameraSelect = $('camera');
const micSelect = $('microphone');
const preview = $('preview');
const caption = $('preview-caption');
const micLevel = $('mic-level');
const roomStateLine = $('room-state');
const endedNotice = $('ended-notice');
const onAir = $('on-air');
const countEls = { active: $('count-active'), connecting: $('count-connecting'), queued: $('count-queued') };

const COUNTS_INTERVAL_MS = 2000;
const LIVE = 'On stage: attendees can see and hear you.';
const OFF_STAGE = 'In the room, off stage. Press “Go on stage” to broadcast.';

let session = null;      // {janus, handle} while connected
let joined = false;      // the plugin accepted our join
let onStage = false;     // the plugin confirmed our publish
let busy = false;        // a publish/unpublish is in flight
let switching = false;   // a camera/microphone switch is in flight
let switchAgain = false; // the choice changed during that switch
let mediaUp = false;     // the PeerConnection with Janus is up
let localStream = null;  // camera + microphone (preview; the same tracks are published)
const noWebrtc = webrtcMissing(); // this browser cannot publish: said when the page loads
// Reconnecting (docs/cluster-media.md, "Faults"): a presenter whose server went away (its node died and
// the room moved to a stand-in, or the network dropped) comes back by itself: the server it was opened
// against again (which redirects it to the room's node), the same secret, on stage again if it was.
const RECONNECT_MAX = 20; // attempts (about a minute), then state "error"
let entry = null;         // {server, join}: the last join from the form
let reconnect = null;     // {attempt, live, timer} while reconnecting
let countsTimer = null;
let countsInFlight = false;
let roomState = null;    // last room_state event {state, starts_at, ends_at}
let roomTimer = null;

prefill(form);
setState('form');
setButtons();
listDevices().catch(() => {});
if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
  navigator.mediaDevices.addEventListener('devicechange', () => { listDevices().catch(() => {}); });
}
// Browsers start an AudioContext suspended until the user interacts (the meter's, with autojoin).
document.addEventListener('click', () => { if (audioCtx && audioCtx.state === 'suspended') audioCtx.resume().catch(() => {}); });
window.addEventListener('pagehide', () => { if (session) disconnect(session); });

// ---------- joining and leaving ----------

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (session || noWebrtc) return;
  showError('');
  endedNotice.hidden = true;
  setRoomState(null);
  setState('form');
  const f = form.elements;
  const server = f.server.value.trim();
  const tenant = f.tenant.value.trim();
  const room = f.room.value.trim();
  session = { pending: true }; // blocks a second submit while we connect
  setButtons();
  try {
    if (!localStream) {
      status('Starting your camera and microphone…');
      try {
        await startPreview();
      } catch (err) {
        // Still join (to follow the room); going on stage needs the camera or microphone.
        showError(`${errorText(err)}. You can join, but not go on stage until that is fixed.`);
      }
    }
    const join = { request: 'join', tenant, room, ptype: 'presenter', presenter_secret: f.secret.value };
    if (f.display.value.trim()) join.display = f.display.value.trim();
    redirects = 0;
    entry = { server, join };
    await joinAt(server, join);
  } catch (err) {
    end({ error: errorText(err) });
  }
});

// The connection to the server is gone: reconnect if we were in the room, else say so.
function lost(cause) {
  if (!joined && !reconnect) {
    end({ error: `lost the connection to the server: ${cause}` });
    return;
  }
  const live = onStage || (reconnect !== null && reconnect.live);
  const old = session;
  session = { pending: true };
  joined = false;
  onStage = false;
  busy = false;
  mediaUp = false;
  stopCounts();
  if (old && !old.pending) { try { disconnect(old); } catch { /* already gone */ } }
  reconnect = { attempt: reconnect ? reconnect.attempt : 0, live, timer: null };
  setState('reconnecting');
  retry(`Lost the connection to the server (${cause})`);
}

// The next attempt, after a growing pause (0.5, 1, 2, then 4 s).
function retry(why) {
  if (reconnect.attempt >= RECONNECT_MAX) {
    reconnect = null;
    end({ error: `${why}; gave up after ${RECONNECT_MAX} attempts to reconnect` });
    return;
  }
  const delay = Math.min(500 * 2 ** reconnect.attempt, 4000);
  reconnect.attempt += 1;
  status(`${why}. Reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${reconnect.attempt} of ${RECONNECT_MAX})…`);
  setButtons();
  reconnect.timer = setTimeout(() => {
    if (!reconnect) return;
    redirects = 0;
    session = { pending: true };
    joinAt(entry.server, entry.join).catch((err) => failedAttempt(errorText(err)));
  }, delay);
}

// An attempt failed (no connection, or the join was refused: the room's node not known yet...).
function failedAttempt(why) {
  if (!reconnect) {
    end({ error: why });
    return;
  }
  const old = session;
  session = { pending: true };
  if (old && !old.pending) { try { disconnect(old); } catch { /* already gone */ } }
  retry(why);
}

// Connect to `server` (a Janus WebSocket URL) and send `join`.
async function joinAt(server, join) {
  status('Connecting to the server…');
  const s = await connect(server, {
    onmessage: onMessage,
    webrtcState: onWebrtcState,
    iceState: (state) => { if (state === 'failed') showError('the media connection failed (ICE): your browser cannot reach the Janus server\'s media ports'); },
  }, (cause) => { if (session === s) lost(cause); });
  session = s;
  session.where = { tenant: join.tenant, room: join.room };
  status('Joining the room…');
  const reply = await send(session.handle, join);
  if (reply) onMessage(reply);
}

// Cluster mode: the room is held on another node (docs/cluster.md, "Placement and redirects"): a
// new Janus session there, joined with the redirect's one-time ticket instead of the secret.
let redirects = 0;
function onRedirect(msg) {
  const old = session;
  redirects += 1;
  if (redirects > 3 || !msg.url || !msg.ticket) {
    end({ error: 'the servers keep sending this join elsewhere. Please try again in a moment.' });
    return;
  }
  const join = { request: 'join', tenant: old.where.tenant, room: old.where.room, ptype: 'presenter', ticket: msg.ticket };
  const display = form.elements.display.value.trim();
  if (display) join.display = display;
  session = { pending: true };
  setTimeout(() => {
    disconnect(old);
    joinAt(msg.url, join).catch((err) => failedAttempt(errorText(err)));
  }, 0);
}

leaveButton.addEventListener('click', async () => {
  if (reconnect) {
    end({ text: 'You left the room.' });
    return;
  }
  if (!session || session.pending) return;
  leaveButton.disabled = true;
  status('Leaving…');
  const current = session;
  setTimeout(() => { if (session === current) end({ text: 'You left the room.' }); }, 2000);
  try {
    const reply = await send(session.handle, { request: 'leave' });
    if (reply) onMessage(reply);
  } catch (err) {
    end({ text: 'You left the room.' });
  }
});

// ---------- stage ----------

liveButton.addEventListener('click', () => { goLive(); });

async function goLive() {
  if (!joined || onStage || busy) return;
  busy = true;
  setButtons();
  showError('');
  status('Going on stage…');
  try {
    if (!localStream || localStream.getTracks().length === 0) await startPreview();
    const handle = session.handle;
    // The plugin closes the PeerConnection on unpublish: every publish starts a new one.
    if (handle.webrtcStuff && handle.webrtcStuff.pc) handle.hangup(false);
    const tracks = localStream.getTracks().map((t) => {
      t.dontStop = true; // janus.js must not stop them on hangup: the preview keeps running
      // Simulcast by default (three layers, janus.js's rids h/m/l): attendees get the layer their room,
      // their choice and their bandwidth allow. ?simulcast=0 sends one layer.
      return { type: t.kind, capture: t, recv: false, simulcast: t.kind === 'video' && SIMULCAST };
    });
    const offer = await createOffer(handle, { tracks });
    const reply = await send(handle, { request: 'publish' }, offer);
    if (reply) onMessage(reply);
  } catch (err) {
    busy = false;
    showError(`could not go on stage: ${errorText(err)}`);
    if (session && session.handle && !onStage) session.handle.hangup(false);
    status(joined ? OFF_STAGE : 'Not connected.');
    setButtons();
  }
}

offButton.addEventListener('click', async () => {
  if (!joined || !onStage || busy) return;
  busy = true;
  setButtons();
  status('Leaving the stage…');
  try {
    const reply = await send(session.handle, { request: 'unpublish' });
    if (reply) onMessage(reply);
  } catch (err) {
    busy = false;
    showError(errorText(err));
    setButtons();
  }
});

// ---------- plugin messages ----------

async function onMessage(msg, jsep) {
  if (!session || session.pending || !msg) return;
  if (msg.error_code !== undefined) {
    if (!joined && reconnect) {
      failedAttempt(plainError(msg));
    } else if (!joined) {
      end({ error: plainError(msg) });
    } else {
      busy = false;
      showError(plainError(msg));
      if (!onStage && session.handle.webrtcStuff && session.handle.webrtcStuff.pc) session.handle.hangup(false);
      status(onStage ? LIVE : OFF_STAGE);
      setButtons();
    }
    return;
  }
  switch (msg.event) {
    case 'redirect':
      onRedirect(msg);
      return;
    case 'joined':
      joined = true;
      setState('joined');
      status(OFF_STAGE);
      startCounts();
      if (reconnect) {
        const { live } = reconnect;
        reconnect = null;
        document.body.dataset.reconnects = String(Number(document.body.dataset.reconnects || 0) + 1);
        status(live ? 'Reconnected: going on stage again…' : `Reconnected. ${OFF_STAGE}`);
        if (live) setTimeout(() => { goLive(); }, 0);
      }
      break;
    case 'room_counts':
      showCounts(msg.counts);
      return;
    case 'room_state':
      setRoomState(msg);
      return;
    case 'published':
      try {
        if (jsep) await handleRemoteJsep(session.handle, jsep);
        onStage = true;
        setState('live');
        status(mediaUp ? LIVE : 'On stage: connecting the media…');
      } catch (err) {
        showError(`the server's answer was not accepted: ${errorText(err)}`);
      }
      busy = false;
      break;
    case 'unpublished':
      offStage(OFF_STAGE);
      break;
    case 'ended':
      end({ text: 'The session has ended.', ended: true });
      return;
    case 'removed':
      end({ text: msg.reason === 'kicked' ? 'An organiser removed you from the room.' : `You were taken out of the room (${msg.reason}).` });
      return;
    case 'left':
      end({ text: 'You left the room.' });
      return;
    default:
      break;
  }
  setButtons();
}

function onWebrtcState(up) {
  if (!session || session.pending) return;
  mediaUp = up;
  if (up && onStage) status(LIVE);
  if (!up && onStage && !busy) offStage('The media connection closed: you are off stage. Press “Go on stage” to try again.');
}

function offStage(text) {
  onStage = false;
  busy = false;
  mediaUp = false;
  if (session && session.handle && session.handle.webrtcStuff && session.handle.webrtcStuff.pc) session.handle.hangup(false);
  if (joined) setState('joined');
  status(text);
  setButtons();
}

// Errors the presenter can act on, in plain words.
function plainError(msg) {
  const where = (session && session.where) || {};
  switch (msg.error_name) {
    case 'wrong_secret':
      return 'the presenter secret is wrong. Check it with the organiser and try again.';
    case 'tenant_full':
      return `no seat is free for another presenter: “${where.tenant}” has reached its participant limit. Try again when someone leaves.`;
    case 'room_closed':
      if (msg.next_start == null) return `the room “${where.room}” is closed and has no session planned.`;
      return `the room “${where.room}” is closed. Its next session starts ${when(msg.next_start)}; presenters can join once its lobby opens, shortly before.`;
    case 'no_such_tenant':
      return `there is no tenant “${where.tenant}” on this server. Check the tenant name.`;
    case 'no_such_room':
      return `there is no room “${where.room}” for tenant “${where.tenant}”. Check the room name.`;
    case 'not_presenter':
      return 'this connection is not a presenter\'s.';
    default:
      return errorText(msg);
  }
}

// "on Mon 27 Nov at 14:00 (in 1 h 5 min)" for unix seconds.
function when(unixS) {
  const d = new Date(unixS * 1000);
  const date = d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const inS = Math.round(unixS - Date.now() / 1000);
  return `on ${date} at ${time}${inS > 0 ? ` (in ${duration(inS)})` : ''}`;
}
function duration(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
function clock(s) {
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

// ---------- counts ----------

function startCounts() {
  stopCounts();
  pollCounts();
  countsTimer = setInterval(pollCounts, COUNTS_INTERVAL_MS);
}
function stopCounts() {
  if (countsTimer) clearInterval(countsTimer);
  countsTimer = null;
  countsInFlight = false;
}
async function pollCounts() {
  if (!session || session.pending || !joined || countsInFlight) return;
  const current = session;
  countsInFlight = true;
  try {
    const reply = await send(current.handle, { request: 'room_counts' });
    if (reply && session === current) {
      if (reply.event === 'room_counts') showCounts(reply.counts);
      else if (reply.error_code !== undefined && reply.error_name === 'wrong_state') stopCounts();
    }
  } catch (err) {
    // transport trouble: the session's own error handling reports it
  } finally {
    if (session === current) countsInFlight = false;
  }
}
function showCounts(counts) {
  if (!counts) return;
  for (const [k, el] of Object.entries(countEls)) {
    el.textContent = Number.isFinite(counts[k]) ? String(counts[k]) : '–';
  }
}
function clearCounts() {
  for (const el of Object.values(countEls)) el.textContent = '–';
}

// ---------- room state (scheduled rooms) ----------

function setRoomState(ev) {
  roomState = ev ? { state: ev.state, starts_at: ev.starts_at, ends_at: ev.ends_at } : null;
  document.body.dataset.roomState = roomState ? roomState.state : '';
  if (roomTimer) clearInterval(roomTimer);
  roomTimer = null;
  if (!roomState) {
    roomStateLine.hidden = true;
    roomStateLine.textContent = '';
    return;
  }
  renderRoomState(true);
  if (roomState.state === 'lobby' || roomState.state === 'ending') roomTimer = setInterval(() => renderRoomState(false), 1000);
}
// The line is a live region: announce state changes, and the countdown only each minute.
function renderRoomState(announce) {
  const { state, starts_at: startsAt, ends_at: endsAt } = roomState;
  const now = Date.now() / 1000;
  let text;
  switch (state) {
    case 'lobby':
      text = startsAt ? `Lobby: attendees are gathering. The session starts in ${clock(startsAt - now)}.` : 'Lobby: attendees are gathering.';
      break;
    case 'live':
      text = endsAt ? `Live: attendees are being let in. The session ends ${when(endsAt)}.` : 'Live: attendees are being let in.';
      break;
    case 'ending':
      text = endsAt ? `Ending soon: the session ends in ${clock(endsAt - now)}.` : 'Ending soon.';
      break;
    case 'closed':
      text = 'The room is closed.';
      break;
    default:
      text = `Room state: ${state}.`;
  }
  const secondsLeft = state === 'lobby' ? startsAt - now : endsAt - now;
  roomStateLine.setAttribute('aria-live', announce || Math.round(secondsLeft) % 60 === 0 ? 'polite' : 'off');
  roomStateLine.textContent = text;
  roomStateLine.dataset.state = state;
  roomStateLine.hidden = false;
}

// ---------- camera, microphone, preview ----------

previewButton.addEventListener('click', async () => {
  if (localStream) {
    if (onStage || busy || switching) return;
    stopPreview();
    setButtons();
    return;
  }
  showError('');
  try {
    await startPreview();
  } catch (err) {
    showError(errorText(err));
  }
  setButtons();
});

cameraSelect.addEventListener('change', () => switchDevice('video'));
micSelect.addEventListener('change', () => switchDevice('audio'));

// A camera is asked for 960x540 when it can (enough for three simulcast layers: libwebrtc sends fewer below).
const SIMULCAST = params.get('simulcast') !== '0';
function constraint(select, kind = select === cameraSelect ? 'video' : 'audio') {
  const size = kind === 'video' ? { width: { ideal: 960 }, height: { ideal: 540 } } : {};
  if (select.value) return { deviceId: { exact: select.value }, ...size };
  return kind === 'video' ? size : true;
}

async function startPreview() {
  if (localStream) return localStream;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error('this page cannot use the camera: browsers allow it only on https:// pages or on http://localhost');
  }
  let firstError = null;
  const video = constraint(cameraSelect);
  const audio = constraint(micSelect);
  for (const c of [{ audio, video }, { audio }, { video }]) {
    try {
      localStream = await navigator.mediaDevices.getUserMedia(c);
      break;
    } catch (err) {
      firstError = firstError || err;
      if (err.name === 'NotAllowedError') break;
    }
  }
  if (!localStream) {
    if (firstError.name === 'NotAllowedError') throw new Error('the browser was not allowed to use the camera and microphone');
    if (firstError.name === 'NotFoundError') throw new Error('no camera or microphone found');
    if (firstError.name === 'NotReadableError') throw new Error('the camera or microphone is in use by another program');
    throw firstError;
  }
  for (const t of localStream.getTracks()) t.dontStop = true;
  showPreview();
  startMeter();
  await listDevices(); // labels are only visible once the page may use the devices
  return localStream;
}

function stopPreview() {
  stopMeter();
  if (localStream) for (const t of localStream.getTracks()) t.stop();
  localStream = null;
  preview.srcObject = null;
  caption.textContent = 'Camera preview (off)';
}

function showPreview() {
  preview.srcObject = localStream;
  preview.play().catch(() => {});
  const kinds = localStream.getTracks().map((t) => (t.kind === 'audio' ? 'microphone' : 'camera'));
  const video = localStream.getVideoTracks()[0];
  caption.textContent = `Your ${kinds.join(' and ')} (preview${video ? `: ${video.label || 'camera'}` : ''})`;
}

async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  fillSelect(cameraSelect, devices.filter((d) => d.kind === 'videoinput'), 'video', 'Camera');
  fillSelect(micSelect, devices.filter((d) => d.kind === 'audioinput'), 'audio', 'Microphone');
}

function fillSelect(select, devices, kind, noun) {
  const track = localStream && (kind === 'video' ? localStream.getVideoTracks()[0] : localStream.getAudioTracks()[0]);
  const inUse = track && track.getSettings ? track.getSettings().deviceId : '';
  const chosen = inUse || select.value;
  const usable = devices.filter((d) => d.deviceId); // before permission, ids and labels are empty
  select.replaceChildren();
  if (usable.length === 0) {
    select.append(new Option(devices.length ? `Default ${noun.toLowerCase()}` : `No ${noun.toLowerCase()} found`, ''));
    return;
  }
  usable.forEach((d, i) => {
    const opt = new Option(d.label || `${noun} ${i + 1}`, d.deviceId);
    select.append(opt);
  });
  if (chosen && usable.some((d) => d.deviceId === chosen)) select.value = chosen;
}

// A new device: new track in the preview and, when on stage, in the PeerConnection's sender
// (RTCRtpSender.replaceTrack: no renegotiation), else a republish adding it.
async function switchDevice(kind) {
  const select = kind === 'video' ? cameraSelect : micSelect;
  if (!localStream) return; // used at the next start
  const old = kind === 'video' ? localStream.getVideoTracks()[0] : localStream.getAudioTracks()[0];
  if (old && select.value && old.getSettings && old.getSettings().deviceId === select.value) return;
  if (switching) { switchAgain = true; return; } // the latest choice wins, once this switch is done
  switching = true;
  setButtons();
  showError('');
  let track = null;
  try {
    let s;
    try {
      s = await navigator.mediaDevices.getUserMedia({ [kind]: constraint(select) });
    } catch (err) {
      if (!old || err.name !== 'NotReadableError') throw err;
      old.stop(); // some devices open only one camera at a time
      s = await navigator.mediaDevices.getUserMedia({ [kind]: constraint(select) });
    }
    track = s.getTracks()[0];
    track.dontStop = true;
    if (onStage) await putOnStage(kind, track);
    if (old) { localStream.removeTrack(old); old.stop(); }
    localStream.addTrack(track);
    showPreview();
    if (kind === 'audio') startMeter();
    status(onStage ? `${LIVE} Now using ${track.label || `the new ${kind === 'video' ? 'camera' : 'microphone'}`}.` : `Now using ${track.label || 'the new device'}.`);
  } catch (err) {
    if (track) track.stop();
    showError(`could not switch to that ${kind === 'video' ? 'camera' : 'microphone'}: ${errorText(err)}`);
    if (old && old.readyState === 'ended') {
      localStream.removeTrack(old);
      showPreview();
    }
  } finally {
    switching = false;
    setButtons();
    if (switchAgain) {
      switchAgain = false;
      switchDevice('video').then(() => switchDevice('audio'));
    }
  }
}

async function putOnStage(kind, track) {
  const pc = session && session.handle.webrtcStuff && session.handle.webrtcStuff.pc;
  if (!pc) return;
  const tr = pc.getTransceivers().find((t) => !t.stopped && t.sender
    && ((t.sender.track && t.sender.track.kind === kind) || (!t.sender.track && t.receiver.track && t.receiver.track.kind === kind)));
  if (tr) {
    await tr.sender.replaceTrack(track);
    return;
  }
  // Not published with this kind yet (e.g. no camera when we went on stage): republish with it added.
  const offer = await createOffer(session.handle, { tracks: [{ type: kind, capture: track, recv: false, add: true }] });
  await send(session.handle, { request: 'publish' }, offer);
}

// Microphone level: Web Audio analyser, RMS of the waveform, about 15 updates a second.
let audioCtx = null;
let meterSource = null;
let meterTimer = null;
function startMeter() {
  stopMeter();
  const track = localStream && localStream.getAudioTracks()[0];
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!track || !AC) return;
  try {
    audioCtx = audioCtx || new AC();
    if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
    meterSource = audioCtx.createMediaStreamSource(new MediaStream([track]));
    const analyser = audioCtx.createAnalyser();
    analyser.fftSize = 1024;
    meterSource.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    let level = 0;
    meterTimer = setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      const rms = Math.sqrt(sum / buf.length);
      level = Math.max(Math.min(1, rms * 4), level * 0.8); // fast attack, slow release
      micLevel.value = level;
      micLevel.textContent = `${Math.round(level * 100)}%`;
    }, 66);
  } catch (err) {
    stopMeter();
  }
}
function stopMeter() {
  if (meterTimer) clearInterval(meterTimer);
  meterTimer = null;
  if (meterSource) meterSource.disconnect();
  meterSource = null;
  micLevel.value = 0;
  micLevel.textContent = '0%';
}

// ---------- page state ----------

function setState(state) {
  document.body.dataset.state = state;
}

function setButtons() {
  const connected = !!session;
  fieldset.disabled = connected;
  joinButton.disabled = connected || noWebrtc !== null;
  leaveButton.disabled = !(connected && (!session.pending || reconnect !== null));
  liveButton.disabled = !(joined && !onStage && !busy && !switching);
  offButton.disabled = !(joined && onStage && !busy && !switching);
  onAir.hidden = !onStage;
  previewButton.textContent = localStream ? 'Turn camera and microphone off' : 'Start camera preview';
  previewButton.disabled = !!localStream && (onStage || busy || switching || (connected && !joined));
  keepFocus(offButton, liveButton, leaveButton, joinButton);
}

// Out of the room: close the session, stop the camera, say why.
function end({ text, error, ended } = {}) {
  if (reconnect) clearTimeout(reconnect.timer);
  reconnect = null;
  const current = session;
  session = null;
  joined = false;
  onStage = false;
  busy = false;
  mediaUp = false;
  stopCounts();
  clearCounts();
  if (current && !current.pending) disconnect(current);
  stopPreview();
  if (ended) {
    setRoomState(null);
    document.body.dataset.roomState = 'ended';
    endedNotice.hidden = false;
  }
  setState(error ? 'error' : 'form');
  status(text || 'Not connected.');
  if (error) showError(error);
  setButtons();
}

// ?autojoin=1: join at once with the query's tenant, room, display and secret.
if (noWebrtc) {
  setState('error');
  status('This browser is not supported.');
  showError(noWebrtc);
} else if (params.get('autojoin') === '1') {
  if (form.checkValidity()) form.requestSubmit();
  else form.reportValidity();
}
