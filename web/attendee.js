// Attendee page: join, wait in the queue, answer the plugin's offers, show every presenter.
import {
  prefill, status, disconnect, keepFocus, showError, errorText, connect, send, createAnswer, presenterNames,
} from './common.js';

const form = document.getElementById('join');
const fieldset = form.querySelector('fieldset');
const joinButton = document.getElementById('join-button');
const leaveButton = document.getElementById('leave-button');
const progress = document.getElementById('queue-progress');
const presentersLine = document.getElementById('presenters');
const soundButton = document.getElementById('sound-button');
const videos = document.getElementById('videos');
const audios = document.getElementById('audios');

const REASONS = {
  admit_timeout: 'your turn came but the media connection did not start in time',
  kicked: 'an organiser removed you from the room',
  room_destroyed: 'the room was closed',
  tenant_destroyed: 'the organisation was removed from the server',
};

let session = null;      // {janus, handle} while connected
let joined = false;      // the plugin accepted our join (queued or admitted)
let watching = false;
let firstPosition = 0;   // queue position when we were first queued: the progress bar's scale
let midLabels = new Map(); // mid -> presenter name, when the plugin tells us (streams[].mid)
const media = new Map();   // mid -> <figure> (video) or <audio>

prefill(form);

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (session) return;
  showError('');
  setInRoom(true);
  status('Connecting to the server…');
  const f = form.elements;
  try {
    session = await connect(f.server.value.trim(), {
      onmessage: onMessage,
      onremotetrack: onRemoteTrack,
      webrtcState: onWebrtcState,
      iceState: (state) => { if (state === 'failed') showError('the media connection failed (ICE): the browser cannot reach the Janus server\'s media ports'); },
      oncleanup: clearMedia,
    }, (cause) => end(null, `lost the connection to the server: ${cause}`));
    status('Joining the room…');
    const join = { request: 'join', tenant: f.tenant.value.trim(), room: f.room.value.trim(), ptype: 'attendee' };
    if (f.display.value.trim()) join.display = f.display.value.trim();
    if (f.pin.value) join.pin = f.pin.value;
    const reply = await send(session.handle, join);
    if (reply) onMessage(reply);
  } catch (err) {
    end(null, errorText(err));
  }
});

leaveButton.addEventListener('click', async () => {
  if (!session) return;
  leaveButton.disabled = true;
  status('Leaving…');
  const current = session;
  setTimeout(() => { if (session === current) end('You left the room.'); }, 2000);
  try {
    const reply = await send(session.handle, { request: 'leave' });
    if (reply) onMessage(reply);
  } catch (err) {
    end('You left the room.');
  }
});

soundButton.addEventListener('click', () => {
  soundButton.hidden = true;
  for (const el of audios.children) el.play().catch(() => { soundButton.hidden = false; });
});

function onMessage(msg, jsep) {
  if (!session || !msg) return;
  if (msg.error_code !== undefined) {
    if (!joined) end(null, errorText(msg)); // the join itself failed: nothing to keep
    else showError(errorText(msg));
    return;
  }
  if (msg.presenters) showPresenters(msg.presenters);
  switch (msg.event) {
    case 'queued':
      joined = true;
      firstPosition = msg.position;
      showQueue(msg.position, msg.queue_length);
      break;
    case 'position':
      showQueue(msg.position, msg.queue_length);
      break;
    case 'admitted':
      joined = true;
      progress.hidden = true;
      status('Admitted — connecting…');
      answer(jsep);
      break;
    case 'updated':
      answer(jsep);
      break;
    case 'started':
      if (!watching) status('Admitted — connecting…');
      break;
    case 'removed':
      end(`Removed: ${REASONS[msg.reason] || msg.reason}.`);
      break;
    case 'left':
      end('You left the room.');
      break;
    default:
      break;
  }
}

function showQueue(position, length) {
  if (position > firstPosition) firstPosition = position;
  status(`In the queue: position ${position} of ${length}`);
  progress.value = firstPosition > 0 ? 1 - position / firstPosition : 0;
  progress.hidden = false;
}

// Answer the plugin's offer without sending anything: janus.js, given no tracks, accepts every
// offered (sendonly) m-line as recvonly.
async function answer(jsep) {
  if (!jsep) {
    showError('the server sent no offer');
    return;
  }
  try {
    const local = await createAnswer(session.handle, jsep);
    const reply = await send(session.handle, { request: 'start' }, local);
    if (reply) onMessage(reply);
  } catch (err) {
    showError(`could not answer the server's offer: ${errorText(err)}`);
  }
}

function showPresenters(presenters) {
  midLabels = new Map();
  for (const p of presenters) {
    for (const s of p.streams || []) {
      if (s.mid !== undefined) midLabels.set(String(s.mid), p.display || `Presenter ${p.id}`);
    }
  }
  const names = presenterNames(presenters);
  presentersLine.textContent = names.length ? `On stage: ${names.join(', ')}` : 'Nobody is on stage right now.';
  for (const [mid, el] of media) {
    if (el.tagName === 'FIGURE') el.querySelector('figcaption').textContent = midLabels.get(mid) || 'Presenter';
  }
}

function onWebrtcState(up) {
  if (!session) return;
  watching = up;
  status(up ? 'Watching' : 'The media connection closed.');
}

function onRemoteTrack(track, mid, on) {
  const old = media.get(mid);
  if (!on) {
    if (old && old.dataset.track === track.id) {
      old.remove();
      media.delete(mid);
    }
    return;
  }
  if (old) old.remove();
  const stream = new MediaStream([track]);
  let el;
  if (track.kind === 'video') {
    el = document.createElement('figure');
    el.className = 'tile';
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // the sound comes from the audio elements
    video.srcObject = stream;
    const caption = document.createElement('figcaption');
    caption.textContent = midLabels.get(mid) || 'Presenter';
    el.append(video, caption);
    videos.append(el);
  } else {
    el = document.createElement('audio');
    el.autoplay = true;
    el.srcObject = stream;
    audios.append(el);
    el.play().catch(() => { soundButton.hidden = false; });
  }
  el.dataset.track = track.id;
  media.set(mid, el);
}

function clearMedia() {
  for (const el of media.values()) el.remove();
  media.clear();
  soundButton.hidden = true;
}

// Back to the form. `text` is the final status, `error` an error message.
function end(text, error) {
  const current = session;
  session = null;
  joined = false;
  watching = false;
  firstPosition = 0;
  if (current) disconnect(current);
  clearMedia();
  progress.hidden = true;
  presentersLine.textContent = '';
  status(text || 'Not connected.');
  if (error) showError(error);
  setInRoom(false);
}

function setInRoom(inRoom) {
  fieldset.disabled = inRoom;
  joinButton.disabled = inRoom;
  leaveButton.disabled = !inRoom;
  keepFocus(leaveButton, joinButton);
}
