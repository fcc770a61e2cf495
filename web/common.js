// Shared helpers for the allhands demo pages: query parameters, janus.js set-up, promises around
// janus.js callbacks, and status messages. janus.js and webrtc-adapter are classic scripts loaded
// by each page before this module (from vendor/, filled by the demo script).

export const PLUGIN = 'janus.plugin.allhands';
export const params = new URLSearchParams(location.search);

// Janus WebSocket URL: ?server=..., else port 8188 on the host that served the page.
export function defaultServer() {
  if (params.get('server')) return params.get('server');
  const host = location.hostname || 'localhost';
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${host}:8188/`;
}

// Fill the form's named fields from the query string (?tenant=...&room=...&server=...).
export function prefill(form) {
  form.elements.server.value = defaultServer();
  for (const el of form.elements) {
    if (el.name && el.name !== 'server' && params.has(el.name)) el.value = params.get(el.name);
  }
}

// Status line (role=status) and error line (role=alert).
export function status(text) {
  document.getElementById('status').textContent = text;
}
// Why this browser cannot take part (no WebRTC: an old or stripped-down browser, Debian's WebKitGTK), or
// null. Checked when a page loads, before anything is sent to the server.
export const SUPPORTED_BROWSERS = 'a recent Chrome, Chromium, Edge, Firefox or Safari';
export function webrtcMissing() {
  if (typeof window.RTCPeerConnection === 'function') return null;
  return `This browser cannot take part in the meeting: it has no WebRTC. Open this page in ${SUPPORTED_BROWSERS}.`;
}

export function showError(text) {
  const el = document.getElementById('error');
  el.textContent = !text || /^error/i.test(text) ? text : `Error: ${text}`;
  el.hidden = !text;
}

// Disabling the focused button drops keyboard focus: put it on the first usable candidate.
export function keepFocus(...candidates) {
  const el = document.activeElement;
  if (el && el !== document.body && !el.disabled) return;
  const next = candidates.find((c) => !c.disabled);
  if (next) next.focus();
}

// Plugin errors look like {error_code, error_name, error}; janus.js errors are strings or Errors.
export function errorText(err) {
  if (err && typeof err === 'object' && 'error_code' in err) {
    return `${err.error || err.error_name} (${err.error_name || 'error'} ${err.error_code})`;
  }
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object') return err.message || err.name || JSON.stringify(err);
  return String(err);
}

let initPromise = null;
function initJanus() {
  if (!initPromise) {
    initPromise = new Promise((resolve, reject) => {
      if (typeof window.Janus === 'undefined' || typeof window.adapter === 'undefined') {
        reject(new Error('vendor/janus.js or vendor/adapter.min.js is missing: start the pages with the demo script'));
        return;
      }
      const debug = params.has('debug') ? 'all' : ['warn', 'error'];
      window.Janus.init({ debug, callback: resolve });
    });
  }
  return initPromise;
}

// Connect to Janus and attach one allhands handle. `callbacks` are janus.js attach callbacks
// (onmessage, onremotetrack, webrtcState, iceState, oncleanup...); `onLost` runs when the
// connection to Janus drops after it was established. `destroyOnUnload: false` keeps janus.js from
// closing the session when the page unloads (the page then says goodbye itself first).
export async function connect(server, callbacks, onLost, { destroyOnUnload = true } = {}) {
  await initJanus();
  if (!window.Janus.isWebrtcSupported()) throw new Error('this browser does not support WebRTC');
  let up = false;
  const janus = await new Promise((resolve, reject) => {
    const j = new window.Janus({
      server,
      destroyOnUnload,
      iceServers: [], // Janus's own candidates are enough for the demo (no STUN lookups)
      success: () => { up = true; resolve(j); },
      error: (cause) => (up ? onLost(cause) : reject(new Error(`${cause} (${server})`))),
    });
  });
  try {
    const handle = await new Promise((resolve, reject) => {
      janus.attach({ plugin: PLUGIN, success: resolve, error: (e) => reject(new Error(e)), ...callbacks });
    });
    return { janus, handle };
  } catch (err) {
    janus.destroy();
    throw err;
  }
}

// Close the session: handles and PeerConnections here, and the session on the server (which
// frees the participant's seat or queue place).
export function disconnect({ janus }) {
  janus.destroy({ cleanupHandles: true, notifyDestroyed: false });
}

// Send a request. The plugin answers asynchronously (onmessage), but a synchronous answer
// comes back here; the promise resolves with it (or undefined) and rejects on transport errors.
export function send(handle, message, jsep) {
  return new Promise((resolve, reject) => {
    handle.send({ message, jsep, success: resolve, error: (e) => reject(new Error(e)) });
  });
}

// createOffer / createAnswer as promises that resolve with the local JSEP.
export function createOffer(handle, options) {
  return new Promise((resolve, reject) => handle.createOffer({ ...options, success: resolve, error: reject }));
}
export function createAnswer(handle, jsep, options) {
  return new Promise((resolve, reject) => handle.createAnswer({ ...options, jsep, success: resolve, error: reject }));
}
export function handleRemoteJsep(handle, jsep) {
  return new Promise((resolve, reject) => handle.handleRemoteJsep({ jsep, success: resolve, error: reject }));
}

// Display names of the presenters listed in an event ("presenters": [{id, display, streams}]).
export function presenterNames(presenters) {
  return (presenters || []).map((p) => p.display || `Presenter ${p.id}`);
}

// ---- formatting helpers (attendee page; usable by any page)

// 1 -> "1st", 2 -> "2nd", 12 -> "12th", 23 -> "23rd".
export function ordinal(n) {
  const v = Math.abs(n) % 100;
  const suffix = v >= 11 && v <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[v % 10] || 'th');
  return `${n}${suffix}`;
}

// Seconds as a clock: 299 -> "4:59", 3725 -> "1:02:05".
export function formatClock(totalSeconds) {
  const t = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

// A duration in a unit a person would use: [amount, unit] with unit "s", "min" or "h".
function durationParts(ms) {
  const s = Math.max(0, ms / 1000);
  if (s < 59.5) return [Math.max(1, Math.round(s)), 's'];
  if (s < 3570) return [Math.max(1, Math.round(s / 60)), 'min'];
  return [Math.round(s / 360) / 10, 'h'];
}
const UNIT_WORDS = { s: ['second', 'seconds'], min: ['minute', 'minutes'], h: ['hour', 'hours'] };

// Plain words for a duration: "40 seconds", "1 minute", "2 minutes", "1.5 hours".
export function formatDuration(ms) {
  const [n, unit] = durationParts(ms);
  return `${n} ${UNIT_WORDS[unit][n === 1 ? 0 : 1]}`;
}

// Compact range: "1–3 min", "20–50 s", "20 s – 1 min".
export function formatRange(lowMs, highMs) {
  const [a, ua] = durationParts(lowMs);
  const [b, ub] = durationParts(highMs);
  if (ua === ub) return a === b ? `${a} ${ua}` : `${a}–${b} ${ua}`;
  return `${a} ${ua} – ${b} ${ub}`;
}

// The plugin's wait estimate {known, median_ms, low_ms, high_ms, beyond_window?, reason?} in words:
// "about 2 minutes (1–3 min)"; "unlikely before the session ends" when a seat will probably not
// come in time; "when someone leaves (nobody has yet)" while the room is full and nobody has left
// to measure by; null while it is otherwise unknown.
export function formatWait(wait) {
  if (!wait) return null;
  if (wait.known && wait.beyond_window) return 'unlikely before the session ends';
  if (!wait.known) return wait.reason === 'no_departures' ? 'when someone leaves (nobody has yet)' : null;
  return `about ${formatDuration(wait.median_ms)} (${formatRange(wait.low_ms, wait.high_ms)})`;
}

// The wait as a sentence for the status line.
export function waitSentence(wait) {
  if (wait && wait.known && wait.beyond_window) {
    return 'A seat is unlikely to come free before the session ends; you can keep your place in case it does.';
  }
  if (wait && !wait.known && wait.reason === 'no_departures') {
    return 'You get a seat when someone leaves; nobody has left yet, so there is no estimate yet.';
  }
  const text = formatWait(wait);
  return text ? `Expected wait ${text}.` : 'Estimating your wait…';
}

// Unix seconds as the viewer's local date and time: "today at 14:00", "tomorrow at 09:30",
// "on Monday 30 November at 14:00".
export function formatDateTime(unixSeconds) {
  const d = new Date(unixSeconds * 1000);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (sameDay) return `today at ${time}`;
  const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  if (d.toDateString() === tomorrow.toDateString()) return `tomorrow at ${time}`;
  const date = d.toLocaleDateString(undefined, {
    weekday: 'long', day: 'numeric', month: 'long', year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric',
  });
  return `on ${date} at ${time}`;
}

// The mids of an SDP's m-lines, in order (index = the plugin's `mindex`).
export function sdpMids(sdp) {
  const mids = [];
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const m = /\r?\na=mid:([^\r\n]+)/.exec(`\n${section}`);
    mids.push(m ? m[1].trim() : String(mids.length));
  }
  return mids;
}
