// Presenter page: join with the presenter secret, preview the camera, publish and unpublish.
import {
  prefill, status, disconnect, keepFocus, showError, errorText, connect, send, createOffer, handleRemoteJsep,
} from './common.js';

const form = document.getElementById('join');
const fieldset = form.querySelector('fieldset');
const joinButton = document.getElementById('join-button');
const leaveButton = document.getElementById('leave-button');
const publishButton = document.getElementById('publish-button');
const unpublishButton = document.getElementById('unpublish-button');
const preview = document.getElementById('preview');
const caption = document.getElementById('preview-caption');

let session = null;  // {janus, handle} while connected
let joined = false;
let onStage = false;
let busy = false;    // a publish/unpublish is in flight
let mediaUp = false; // the PeerConnection with Janus is up
let localStream = null;

prefill(form);

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (session || localStream) return;
  showError('');
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError('this page cannot use the camera: browsers allow it only on https:// pages or on http://localhost');
    return;
  }
  setButtons(true);
  const f = form.elements;
  try {
    status('Starting your camera and microphone…');
    localStream = await getMedia();
    preview.srcObject = localStream;
    const kinds = localStream.getTracks().map((t) => (t.kind === 'audio' ? 'microphone' : 'camera'));
    caption.textContent = `Your ${kinds.join(' and ')} (preview)`;
    status('Connecting to the server…');
    session = await connect(f.server.value.trim(), {
      onmessage: onMessage,
      webrtcState: onWebrtcState,
      iceState: (state) => { if (state === 'failed') showError('the media connection failed (ICE): the browser cannot reach the Janus server\'s media ports'); },
    }, (cause) => end(null, `lost the connection to the server: ${cause}`));
    status('Joining the room…');
    const join = {
      request: 'join', tenant: f.tenant.value.trim(), room: f.room.value.trim(),
      ptype: 'presenter', presenter_secret: f.presenter_secret.value,
    };
    if (f.display.value.trim()) join.display = f.display.value.trim();
    const reply = await send(session.handle, join);
    if (reply) onMessage(reply);
  } catch (err) {
    end(null, errorText(err));
  }
});

publishButton.addEventListener('click', async () => {
  busy = true;
  setButtons(true);
  showError('');
  status('Going on stage…');
  try {
    // First time: give janus.js our captured tracks, send-only. Later (same PeerConnection,
    // tracks still attached): just a new offer, which the plugin takes as a republish.
    const pc = session.handle.webrtcStuff && session.handle.webrtcStuff.pc;
    const tracks = pc ? [] : localStream.getTracks().map((t) => {
      t.dontStop = true; // janus.js must not stop them on hangup: the preview keeps running
      return { type: t.kind, capture: t, recv: false };
    });
    const offer = await createOffer(session.handle, { tracks });
    const reply = await send(session.handle, { request: 'publish' }, offer);
    if (reply) onMessage(reply);
  } catch (err) {
    busy = false;
    showError(`could not go on stage: ${errorText(err)}`);
    status(offStageText());
    setButtons(true);
  }
});

unpublishButton.addEventListener('click', async () => {
  busy = true;
  setButtons(true);
  status('Leaving the stage…');
  try {
    const reply = await send(session.handle, { request: 'unpublish' });
    if (reply) onMessage(reply);
  } catch (err) {
    busy = false;
    showError(errorText(err));
    setButtons(true);
  }
});

leaveButton.addEventListener('click', async () => {
  if (!session) return end();
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

async function getMedia() {
  let firstError = null;
  for (const constraints of [{ audio: true, video: true }, { audio: true }, { video: true }]) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch (err) {
      firstError = firstError || err;
      if (err.name === 'NotAllowedError') break;
    }
  }
  if (firstError.name === 'NotAllowedError') throw new Error('the browser was not allowed to use the camera and microphone');
  if (firstError.name === 'NotFoundError') throw new Error('no camera or microphone found');
  throw firstError;
}

async function onMessage(msg, jsep) {
  if (!session || !msg) return;
  if (msg.error_code !== undefined) {
    if (!joined) {
      end(null, errorText(msg));
    } else {
      busy = false;
      showError(errorText(msg));
      status(onStage ? LIVE : offStageText());
      setButtons(true);
    }
    return;
  }
  switch (msg.event) {
    case 'joined':
      joined = true;
      status(offStageText());
      break;
    case 'published':
      try {
        if (jsep) await handleRemoteJsep(session.handle, jsep);
        onStage = true;
        status(mediaUp ? LIVE : 'On stage — connecting…');
      } catch (err) {
        showError(`the server's answer was not accepted: ${errorText(err)}`);
      }
      busy = false;
      break;
    case 'unpublished':
      onStage = false;
      busy = false;
      status(offStageText());
      break;
    case 'removed':
      end(`Removed: ${msg.reason}.`);
      return;
    case 'left':
      end('You left the room.');
      return;
    default:
      break;
  }
  setButtons(true);
}

const LIVE = 'On stage — attendees can see and hear you.';

function onWebrtcState(up) {
  if (!session) return;
  mediaUp = up;
  if (up && onStage) status(LIVE);
  if (!up && onStage) {
    onStage = false;
    status('The media connection closed: you are off stage.');
    setButtons(true);
  }
}

function offStageText() {
  return 'In the room, off stage. Press “Go on stage” to broadcast.';
}

function setButtons(inRoom) {
  fieldset.disabled = inRoom;
  joinButton.disabled = inRoom;
  leaveButton.disabled = !inRoom;
  publishButton.disabled = !(joined && !onStage && !busy);
  unpublishButton.disabled = !(joined && onStage && !busy);
  keepFocus(publishButton, unpublishButton, leaveButton, joinButton);
}

function end(text, error) {
  const current = session;
  session = null;
  joined = false;
  onStage = false;
  busy = false;
  mediaUp = false;
  if (current) disconnect(current);
  if (localStream) for (const t of localStream.getTracks()) t.stop();
  localStream = null;
  preview.srcObject = null;
  caption.textContent = 'Camera preview (starts when you join)';
  status(text || 'Not connected.');
  if (error) showError(error);
  setButtons(false);
}
