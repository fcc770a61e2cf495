// Attendee page: choose a room, wait in the lobby or the line (position, wait estimate, progress),
// then watch every presenter. Reconnects by itself (rejoin_token) when the connection drops. In a
// cluster, follows a redirect by itself: a new Janus session on the room's home node, joined with
// the redirect's one-time ticket (docs/cluster.md, "Placement and redirects").
// Hooks for the end-to-end tests: see CONTRACT.md (body[data-state], body[data-position], #status,
// #queue-progress, #position, #queue-length, #wait, #countdown, #videos video[data-presenter],
// #leave-button, #sound-button).
import {
  params, prefill, status, disconnect, showError, errorText, connect, send, createAnswer, presenterNames,
  ordinal, formatWait, waitSentence, formatClock, formatDateTime, sdpMids, webrtcMissing,
} from './common.js';

const form = document.getElementById('join');
const fieldset = form.querySelector('fieldset');
const joinButton = document.getElementById('join-button');
const leaveButton = document.getElementById('leave-button');
const retryButton = document.getElementById('retry-button');
const soundButton = document.getElementById('sound-button');
const progress = document.getElementById('queue-progress');
const queueInfo = document.getElementById('queue-info');
const positionEl = document.getElementById('position');
const lengthEl = document.getElementById('queue-length');
const waitEl = document.getElementById('wait');
const countdownEl = document.getElementById('countdown');
const presentersLine = document.getElementById('presenters');
const videos = document.getElementById('videos');
const audios = document.getElementById('audios');

const REMOVED = {
  admit_timeout: ['removed', 'Your turn came, but the video connection did not start in time, so your seat went to the next person.'],
  kicked: ['removed', 'You were removed from the meeting by an organiser.'],
  room_destroyed: ['removed', 'This meeting room was deleted by its organiser.'],
  tenant_destroyed: ['removed', 'This organisation was removed from the server.'],
  ended: ['ended', 'The meeting ended before your turn came.'],
  draining: ['removed', 'The server is being taken out of service, so the line was closed. Please join again in a little while.'],
};
const ERRORS = {
  wrong_pin: 'That PIN is not right. Check it and join again.',
  wrong_secret: 'That priority secret is not right (or this room has none). Leave it empty to join the ordinary line.',
  no_such_tenant: 'There is no organisation with that name on this server.',
  no_such_room: 'There is no room with that name in this organisation.',
  tenant_full: 'Every seat of this organisation is taken right now. Please try again in a few minutes.',
  draining: 'This server is not taking new attendees right now (it is being taken out of service). Please try again later.',
  invalid_element: 'Something in the form is not valid',
  unavailable: 'The server is busy shutting down or restarting. Please try again in a moment.',
  home_unavailable: 'The server that holds this meeting cannot be reached right now. Please try again in a moment.',
  ticket_expired: 'Passing you to the server that holds this meeting took too long. Please join again.',
  ticket_used: 'Passing you to the server that holds this meeting failed. Please join again.',
  ticket_invalid: 'Passing you to the server that holds this meeting failed. Please join again.',
  ticket_mismatch: 'Passing you to the server that holds this meeting failed. Please join again.',
  tickets_full: 'The server that holds this meeting is very busy. Please try again in a moment.',
};
const MAX_REDIRECTS = 3;  // in a row, without being let in: then the page stops following them
const IN_ROOM = new Set(['joining', 'lobby', 'queued', 'admitted', 'watching', 'reconnecting']);

let gen = 0;              // increases with every session: callbacks of older sessions are ignored
let session = null;       // {janus, handle, gen}
let state = 'form';
let request = null;       // the join request (tenant, room, display, pin, priority_secret)
let rejoinToken = null;   // from the latest admitted
let leaving = false;
let everAdmitted = false;
let reconnectAttempt = 0;
let reconnectTimer = null;
let iceTimer = null;
let retryTimer = null;    // queue_full automatic retry
let retryAt = 0;
let tick = null;          // 1 s timer for countdowns
let startsAt = null;      // lobby: unix seconds of the start
let progressAnchor = null; // {value, position}: the progress bar's scale (monotonic while waiting)
let midInfo = new Map();  // mid -> {id, display, kind}
const media = new Map();  // mid -> <figure> (video) or <audio>
let soundBlocked = false;
let homeServer = null;    // cluster: the room's home node a redirect sent us to (later joins go there)
let redirects = 0;        // redirects followed since the last admission

prefill(form);
setState('form');

// No WebRTC here: said at the end of this module, before anything goes to the server.
const noWebrtc = webrtcMissing();

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (noWebrtc) return;
  if (IN_ROOM.has(state)) return;
  if (!form.reportValidity()) return;
  const f = form.elements;
  request = { request: 'join', tenant: f.tenant.value.trim(), room: f.room.value.trim(), ptype: 'attendee' };
  if (f.display.value.trim()) request.display = f.display.value.trim();
  if (f.pin.value) request.pin = f.pin.value;
  if (f.priority.value) request.priority_secret = f.priority.value;
  rejoinToken = null;
  everAdmitted = false;
  homeServer = null;
  redirects = 0;
  join(false);
});

leaveButton.addEventListener('click', () => leave());
retryButton.addEventListener('click', () => { if (request && !IN_ROOM.has(state)) join(false); });
soundButton.addEventListener('click', () => {
  soundBlocked = false;
  soundButton.hidden = true;
  for (const el of audios.querySelectorAll('audio')) {
    el.muted = false;
    el.play().catch(() => blockSound());
  }
  for (const v of videos.querySelectorAll('video')) v.play().catch(() => {});
});
// Closing the tab or navigating away is a deliberate exit: `leave` goes out before the page does, so
// the seat is free at once. Janus hands plugin messages to its task threads but ends a session whose
// WebSocket closed at once, so a close right behind the leave can overtake it, and a session that
// just goes away looks like a dropped connection (its seat is held for the rejoin grace). So the
// session is not destroyed here, and the page holds its unload for LEAVE_HOLD_MS (the browser cannot
// wait for the answer in pagehide) before the browser closes the WebSocket.
const LEAVE_HOLD_MS = 300; // 150 ms lost the race once in a CI run on a loaded 2-core machine
window.addEventListener('pagehide', () => {
  const current = session;
  if (!current || leaving || !IN_ROOM.has(state) || state === 'reconnecting') return;
  leaving = true;
  try {
    current.handle.send({ message: { request: 'leave' } });
  } catch { return; /* the page goes anyway */ }
  const until = performance.now() + LEAVE_HOLD_MS;
  while (performance.now() < until) { /* the leave travels meanwhile */ }
});

// ---- joining and reconnecting

// Open a session and send the join. `rejoin`: after a drop (use the rejoin token, back off on failure).
// `ticket`: a redirect's, which stands for the credentials on the home node.
async function join(rejoin, ticket = null) {
  clearTimers();
  closeSession();
  leaving = false;
  showError('');
  if (!rejoin) {
    setState('joining');
    status('Connecting to the server…');
  }
  const my = ++gen;
  const server = homeServer || form.elements.server.value.trim();
  let s;
  try {
    s = await connect(server, callbacksFor(my), (cause) => { if (my === gen) onDrop(`lost the connection to the server (${cause})`); },
      { destroyOnUnload: false });
  } catch (err) {
    if (my !== gen) return;
    // Cluster: the home node a redirect sent us to is gone (a dead node): the next attempt goes to
    // the server this page was opened with, which sends us to the node standing in for it.
    if (rejoin) { homeServer = null; scheduleReconnect(); return; }
    fail(`could not reach the server: ${errorText(err)}`);
    return;
  }
  if (my !== gen) { disconnect(s); return; }
  session = { ...s, gen: my };
  if (!rejoin) status('Joining the room…');
  const body = ticket ? ticketJoin(ticket) : { ...request };
  if (rejoin && rejoinToken) body.rejoin_token = rejoinToken;
  try {
    const reply = await send(s.handle, body);
    if (reply && my === gen) onMessage(my, reply);
  } catch (err) {
    if (my !== gen) return;
    if (rejoin) scheduleReconnect();
    else fail(`the join request failed: ${errorText(err)}`);
  }
}

// The join sent to the home node with a redirect's ticket: the ticket carries the credentials.
function ticketJoin(ticket) {
  const body = { request: 'join', tenant: request.tenant, room: request.room, ptype: 'attendee', ticket };
  if (request.display) body.display = request.display;
  return body;
}

// Cluster mode: the room lives on another node (the join's reply), or the queue admitted us and our
// seat is on another node (an event while queued, reason "seat": docs/cluster.md, "Edges"). A new
// Janus session there (janus.js as it is), joined with the one-time ticket and our display name.
function onRedirect(msg) {
  redirects += 1;
  if (redirects > MAX_REDIRECTS || !msg.url || !msg.ticket) {
    fail('the servers keep sending this join elsewhere. Please try again in a moment.');
    return;
  }
  homeServer = msg.url;
  status(msg.reason === 'seat' ? 'Your seat is ready on another server: connecting there…'
    : 'This meeting is held on another server: connecting there…');
  // Not from inside the old session's callback: it is closed by join().
  setTimeout(() => join(false, msg.ticket), 0);
}

function callbacksFor(my) {
  return {
    onmessage: (msg, jsep) => onMessage(my, msg, jsep),
    onremotetrack: (track, mid, on) => { if (my === gen) onRemoteTrack(track, mid, on); },
    webrtcState: (up) => { if (my === gen) onWebrtcState(up); },
    iceState: (ice) => { if (my === gen) onIceState(ice); },
    oncleanup: () => { if (my === gen) clearMedia(); },
  };
}

// The WebSocket or the PeerConnection dropped.
function onDrop(why) {
  if (!IN_ROOM.has(state) || leaving) return;
  if (state === 'joining') { fail(why); return; }
  console.warn('allhands: connection dropped:', why);
  reconnectAttempt = 0;
  startReconnect();
}

function startReconnect() {
  closeSession();
  clearMedia();
  clearTimers();
  setState('reconnecting');
  status(rejoinToken ? 'Connection lost. Reconnecting… (your seat is kept for a short while)' : 'Connection lost. Reconnecting…');
  join(true);
}

function scheduleReconnect() {
  closeSession();
  reconnectAttempt += 1;
  if (reconnectAttempt > 30) {
    fail('the server cannot be reached. Check your network connection and join again.');
    return;
  }
  const delay = Math.min(15000, 1000 * 2 ** Math.min(reconnectAttempt - 1, 4)) * (0.8 + Math.random() * 0.4);
  let left = Math.ceil(delay / 1000);
  status(`Cannot reach the server. Trying again in ${left} s… (attempt ${reconnectAttempt + 1})`);
  clearInterval(tick);
  tick = setInterval(() => {
    left -= 1;
    if (left > 0) status(`Cannot reach the server. Trying again in ${left} s… (attempt ${reconnectAttempt + 1})`);
  }, 1000);
  reconnectTimer = setTimeout(() => {
    clearInterval(tick);
    status('Reconnecting…');
    join(true);
  }, delay);
}

async function leave() {
  if (!IN_ROOM.has(state) && state !== 'queue_full') return;
  leaving = true;
  const current = session;
  clearTimers();
  status('Leaving…');
  if (current && state !== 'reconnecting') {
    try {
      await Promise.race([send(current.handle, { request: 'leave' }), new Promise((r) => setTimeout(r, 2000))]);
    } catch { /* the session goes away below anyway */ }
  }
  finish('left', 'You left the meeting.');
}

// ---- plugin messages

function onMessage(my, msg, jsep) {
  if (my !== gen || !msg) return;
  if (msg.error_code !== undefined) { onError(msg); return; }
  if (msg.presenters) showPresenters(msg.presenters, jsep);
  switch (msg.event) {
    case 'queued': onQueued(msg); break;
    case 'position': if (state === 'queued' || state === 'lobby') showQueue(msg); break;
    case 'admitted': redirects = 0; onAdmitted(msg, jsep); break;
    case 'redirect': onRedirect(msg); break;
    case 'updated': if (jsep) answer(jsep); break;
    case 'started': break;
    case 'room_state': onRoomState(msg); break;
    case 'removed': {
      const [st, text] = REMOVED[msg.reason] || ['removed', `You were taken out of the meeting (${msg.reason}).`];
      finish(st, text);
      break;
    }
    case 'ended': finish('ended', 'The meeting has ended. Thank you for watching.'); break;
    case 'left':
      if (leaving || msg.reason !== 'hangup') finish('left', 'You left the meeting.');
      else onDrop('the media connection went down');
      break;
    default: break;
  }
}

function onError(msg) {
  const name = msg.error_name;
  if (name === 'room_closed') {
    const when = msg.next_start ? formatDateTime(msg.next_start) : null;
    finish('room_closed', when
      ? `This meeting room is closed right now. It opens again ${when} (your local time).`
      : 'This meeting room is closed and no further session is scheduled.');
    return;
  }
  if (name === 'queue_full') {
    queueFull(Number(msg.retry_after_ms) || 5000);
    return;
  }
  if (state === 'watching' || state === 'admitted') {
    // A failed request while in the room (e.g. a late start): keep watching, say it.
    showError(ERRORS[name] || errorText(msg));
    return;
  }
  // wrong_pin is the server's answer to a missing PIN too: without one, ask for it rather than call it wrong.
  const missingPin = name === 'wrong_pin' && !(request && request.pin);
  const text = missingPin ? 'This room needs a PIN: enter it and join again.'
    : ERRORS[name] ? (name === 'invalid_element' ? `${ERRORS[name]}: ${msg.error}.` : ERRORS[name]) : `The server refused to let you in: ${errorText(msg)}.`;
  finish('error', text, true);
  if (name === 'wrong_pin') form.elements.pin.focus();
  if (name === 'wrong_secret') { document.getElementById('more-options').open = true; form.elements.priority.focus(); }
}

function onQueued(msg) {
  progressAnchor = null;
  if (msg.state === 'lobby') {
    startsAt = Number(msg.starts_at) || null;
    setState('lobby');
  } else {
    startsAt = null;
    setState('queued');
  }
  if (msg.rejoined === false && everAdmitted) showError('Your seat could not be kept after the connection dropped, so you are back in line.');
  showQueue(msg);
}

function onRoomState(msg) {
  if (msg.state === 'lobby' && msg.starts_at) {
    startsAt = Number(msg.starts_at);
    if (state === 'queued') setState('lobby');
    updateCountdown();
  } else if (msg.state === 'live' && state === 'lobby') {
    startsAt = null;
    setState('queued');
    status('The meeting has started. You will be let in shortly.');
    queueDetails(lastQueue);
  } else if (msg.state === 'ending' && state === 'watching') {
    presentersLine.dataset.ending = '1';
    status('Watching. The meeting is about to end.');
  }
}

let lastQueue = null;
function showQueue(msg) {
  lastQueue = msg;
  queueDetails(msg);
}

function queueDetails(msg) {
  if (!msg) return;
  const position = Number(msg.position);
  const length = Number(msg.queue_length);
  document.body.dataset.position = String(position);
  positionEl.textContent = String(position);
  positionEl.setAttribute('aria-label', `${ordinal(position)} in line`);
  lengthEl.textContent = String(length);
  const wait = formatWait(msg.wait);
  waitEl.textContent = wait || 'estimating…';
  moveProgress(position);
  queueInfo.hidden = false;
  const place = position === 1 ? 'You are next in line' : `You are ${ordinal(position)} in line`;
  if (state === 'lobby') {
    status(`The meeting has not started yet. ${place} for when it does.`);
  } else {
    status(`The room is full right now. ${place} (${length} waiting). ${waitSentence(msg.wait)}`);
  }
}

// The bar's value only grows: 0 at the first report, approaching 1 as the position nears 1, 1 when
// admitted. When the position grows (someone with priority joined ahead), the bar holds still and
// the rest of the way is spread over the new position.
function moveProgress(position) {
  if (!progressAnchor) progressAnchor = { value: 0, position: Math.max(position, 1) };
  const current = Number(progress.value) || 0;
  if (position > progressAnchor.position) {
    progressAnchor = { value: current, position };
  }
  const a = progressAnchor;
  const v = a.value + (1 - a.value) * ((a.position - position) / a.position);
  progress.value = Math.max(current, Math.min(1, v));
  progress.setAttribute('aria-valuetext', `${Math.round(progress.value * 100)} percent of the way`);
}

function queueFull(retryMs) {
  const remember = request;
  finish('queue_full', '', false);
  request = remember;
  retryAt = Date.now() + retryMs;
  const show = () => {
    const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    status(`The waiting line is full right now. Trying again by itself in ${formatClock(s)}…`);
  };
  show();
  tick = setInterval(show, 1000);
  retryTimer = setTimeout(() => join(false), retryMs);
  retryButton.hidden = false;
}

// ---- admitted: answer offers and show the presenters

function onAdmitted(msg, jsep) {
  everAdmitted = true;
  if (msg.rejoin_token) rejoinToken = msg.rejoin_token;
  reconnectAttempt = 0;
  progress.value = 1;
  document.body.dataset.position = '';
  setState('admitted');
  status(msg.rejoined ? 'Reconnected. Starting the video again…' : 'You are in! Starting the video…');
  showError('');
  if (jsep) answer(jsep);
  else showError('the server sent no offer');
}

// Receive only: janus.js, given no tracks to send, answers every offered m-line as recvonly.
async function answer(jsep) {
  const current = session;
  if (!current) return;
  try {
    const local = await createAnswer(current.handle, jsep);
    if (current.gen !== gen) return;
    const reply = await send(current.handle, { request: 'start' }, local);
    if (reply) onMessage(current.gen, reply);
  } catch (err) {
    if (current.gen === gen) showError(`could not answer the server's offer: ${errorText(err)}`);
  }
}

function showPresenters(presenters, jsep) {
  const mids = jsep && jsep.sdp ? sdpMids(jsep.sdp) : null;
  if (mids) {
    midInfo = new Map();
    for (const p of presenters) {
      for (const s of p.streams || []) {
        const mid = s.mid !== undefined ? String(s.mid) : mids[s.mindex];
        if (mid !== undefined) midInfo.set(mid, { id: String(p.id), display: p.display || `Presenter ${p.id}`, kind: s.kind });
      }
    }
    // Streams that stopped: their m-lines went inactive.
    for (const [mid, el] of media) {
      if (!midInfo.has(mid)) removeMedia(mid, el);
    }
    for (const [mid, el] of media) labelMedia(mid, el);
    layout();
  }
  const names = presenterNames(presenters);
  presentersLine.textContent = names.length ? `On stage: ${names.join(', ')}` : 'Nobody is presenting right now. Video appears here when someone starts.';
}

function labelMedia(mid, el) {
  const info = midInfo.get(mid);
  const media = el.tagName === 'FIGURE' ? el.querySelector('video') : el;
  media.dataset.presenter = info ? info.id : '';
  el.dataset.presenter = info ? info.id : '';
  if (el.tagName === 'FIGURE') {
    const name = info ? info.display : 'Presenter';
    el.querySelector('figcaption').textContent = name;
    media.setAttribute('aria-label', `Video of ${name}`);
  }
}

function onRemoteTrack(track, mid, on) {
  mid = String(mid);
  const old = media.get(mid);
  if (!on) {
    if (old && old.dataset.track === track.id) removeMedia(mid, old);
    return;
  }
  if (old && old.dataset.track === track.id) return;
  if (old) removeMedia(mid, old);
  const stream = new MediaStream([track]);
  let el;
  if (track.kind === 'video') {
    el = document.createElement('figure');
    el.className = 'tile';
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // the sound comes from the <audio> elements
    video.srcObject = stream;
    const caption = document.createElement('figcaption');
    el.append(video, caption);
    el.dataset.track = track.id;
    media.set(mid, el);
    labelMedia(mid, el);
    insertTile(el);
    video.play().catch(() => {});
    layout();
  } else {
    el = document.createElement('audio');
    el.autoplay = true;
    el.srcObject = stream;
    el.dataset.track = track.id;
    media.set(mid, el);
    labelMedia(mid, el);
    audios.append(el);
    startAudio(el);
  }
}

// Keep tiles in m-line order (the order presenters went on stage).
function insertTile(el) {
  videos.append(el);
  const tiles = [...videos.children].sort((a, b) => midOrder(a) - midOrder(b));
  for (const t of tiles) videos.append(t);
}
function midOrder(el) {
  for (const [mid, m] of media) if (m === el) return Number(mid) || 0;
  return 0;
}

// Muted autoplay always works; then try with sound. If the browser blocks it, keep playing muted
// and offer the "Turn sound on" button (a click allows sound).
async function startAudio(el) {
  if (soundBlocked) { el.muted = true; el.play().catch(() => {}); return; }
  el.muted = true;
  try { await el.play(); } catch { /* not yet playable: autoplay will start it */ }
  el.muted = false;
  try {
    await el.play();
  } catch {
    blockSound(el);
    return;
  }
  setTimeout(() => { if (el.isConnected && el.paused) blockSound(el); }, 300);
}
function blockSound(el) {
  soundBlocked = true;
  if (el) {
    el.muted = true;
    el.play().catch(() => {});
    setTimeout(() => { if (el.isConnected && el.paused && el.muted) el.play().catch(() => {}); }, 500);
  }
  if (media.size) soundButton.hidden = false;
}

function removeMedia(mid, el) {
  el.remove();
  media.delete(mid);
  layout();
}

function layout() {
  const n = videos.querySelectorAll('video').length;
  videos.dataset.count = String(n);
  if (!audios.querySelector('audio')) soundButton.hidden = true;
}

function clearMedia() {
  for (const el of media.values()) el.remove();
  media.clear();
  layout();
  soundButton.hidden = true;
}

function onWebrtcState(up) {
  if (up) {
    if (state === 'admitted' || state === 'reconnecting') {
      setState('watching');
      showError('');
      status(media.size || presentersLine.textContent.startsWith('On stage') ? 'Watching the meeting.' : 'You are in. Waiting for a presenter to start.');
    }
  } else if (state === 'watching' || state === 'admitted') {
    onDrop('the media connection went down');
  }
}

function onIceState(ice) {
  clearTimeout(iceTimer);
  iceTimer = null;
  if (state !== 'watching' && state !== 'admitted') return;
  if (ice === 'failed') onDrop('the media connection failed');
  else if (ice === 'disconnected') iceTimer = setTimeout(() => onDrop('the media connection was interrupted'), 5000);
}

// ---- states

function updateCountdown() {
  if (state !== 'lobby' || !startsAt) { countdownEl.hidden = true; return; }
  const s = Math.round(startsAt - Date.now() / 1000);
  countdownEl.textContent = s > 0 ? `starts in ${formatClock(s)}` : 'starting now…';
  countdownEl.hidden = false;
}

function setState(next) {
  state = next;
  document.body.dataset.state = next;
  const inRoom = IN_ROOM.has(next);
  const waiting = next === 'queued' || next === 'lobby';
  if (!waiting) document.body.dataset.position = '';
  form.hidden = inRoom;
  fieldset.disabled = inRoom;
  joinButton.disabled = inRoom;
  joinButton.textContent = next === 'form' ? 'Join' : 'Join again';
  leaveButton.hidden = !inRoom;
  retryButton.hidden = true;
  queueInfo.hidden = !waiting;
  if (!waiting) progressAnchor = null;
  if (next === 'queued' || next === 'lobby') {
    if (next === 'lobby') waitEl.textContent = 'estimating…';
  }
  if (!inRoom) presentersLine.textContent = '';
  if (next !== 'lobby') countdownEl.hidden = true;
  clearInterval(tick);
  tick = null;
  if (next === 'lobby') {
    updateCountdown();
    tick = setInterval(updateCountdown, 1000);
  }
  document.getElementById('stage').hidden = !(next === 'admitted' || next === 'watching' || next === 'reconnecting');
  // Keep the keyboard focus somewhere useful when the focused control disappears.
  const focused = document.activeElement;
  if (!focused || focused === document.body || focused.closest('[hidden]') || focused.disabled) {
    if (inRoom) leaveButton.focus({ preventScroll: true });
    else if (next !== 'form') joinButton.focus({ preventScroll: true });
  }
}

// Leave the room for good: `st` is the final state, `text` its sentence.
function finish(st, text, isError = false) {
  clearTimers();
  closeSession();
  clearMedia();
  gen += 1;
  progressAnchor = null;
  lastQueue = null;
  setState(st);
  if (isError) {
    status('Could not join.');
    showError(text);
  } else {
    showError('');
    if (text) status(text);
  }
  if (st === 'left' || st === 'ended' || st === 'removed' || st === 'room_closed' || st === 'error') {
    progress.value = 0;
  }
}

function fail(text) {
  finish('error', text, true);
}

function closeSession() {
  const current = session;
  session = null;
  clearTimeout(iceTimer);
  if (current) {
    try { disconnect(current); } catch { /* already gone */ }
  }
}

function clearTimers() {
  clearTimeout(reconnectTimer);
  clearTimeout(retryTimer);
  clearTimeout(iceTimer);
  clearInterval(tick);
  reconnectTimer = retryTimer = iceTimer = tick = null;
}

if (noWebrtc) {
  fail(noWebrtc);
  status('This browser is not supported.');
  form.querySelector('button[type="submit"]')?.setAttribute('disabled', '');
} else if (params.get('autojoin') === '1') {
  form.requestSubmit();
}
