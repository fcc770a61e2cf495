// Operator dashboard: node load, tenants, rooms and a live chart from the allhands Admin API
// (Janus Admin API message_plugin over HTTP), plus forms to create and edit tenants and rooms.
// The admin secret lives in sessionStorage only (never localStorage, never left in the URL).
// SPDX-License-Identifier: GPL-3.0-or-later
import { PLUGIN, params, keepFocus } from './common.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const WINDOW_MS = 5 * 60 * 1000;
const KEY_SECRET = 'allhands.admin_secret';
const KEY_URL = 'allhands.admin';

// --- credentials --------------------------------------------------------------------------------

function defaultAdminUrl() {
  const host = location.hostname || 'localhost';
  return `${location.protocol === 'https:' ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:7088/admin`;
}

const cfg = { url: '', secret: '' };

function loadCredentials() {
  // The URL's secret (if any) moves to sessionStorage and leaves the address bar at once.
  if (params.get('admin')) sessionStorage.setItem(KEY_URL, params.get('admin'));
  if (params.get('admin_secret')) sessionStorage.setItem(KEY_SECRET, params.get('admin_secret'));
  if (params.has('admin_secret')) {
    const u = new URL(location.href);
    u.searchParams.delete('admin_secret');
    history.replaceState(null, '', u.pathname + (u.searchParams.toString() ? `?${u.searchParams}` : '') + u.hash);
  }
  cfg.url = sessionStorage.getItem(KEY_URL) || defaultAdminUrl();
  cfg.secret = sessionStorage.getItem(KEY_SECRET) || '';
}

// --- Admin API ----------------------------------------------------------------------------------

class PluginError extends Error {
  constructor(r) {
    super(r.error || r.error_name || 'error');
    this.code = r.error_code;
    this.name_ = r.error_name;
    this.reply = r;
  }
}
class JanusError extends Error {
  constructor(e) {
    super((e && e.reason) || 'Janus refused the request');
    this.code = e && e.code;
  }
}

let txn = 0;
async function admin(request) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 8000);
  let res;
  try {
    res = await fetch(cfg.url, {
      method: 'POST',
      mode: 'cors',
      cache: 'no-store',
      credentials: 'omit',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        janus: 'message_plugin', plugin: PLUGIN, request,
        admin_secret: cfg.secret, transaction: `dash-${Date.now().toString(36)}-${++txn}`,
      }),
      signal: ctl.signal,
    });
  } catch (err) {
    throw new Error(ctl.signal.aborted
      ? `no answer from the Admin API at ${cfg.url} within 8 s`
      : `cannot reach the Admin API at ${cfg.url} (server down, wrong URL, or the browser blocked the cross-origin request: see the browser console)`);
  } finally {
    clearTimeout(timer);
  }
  let reply;
  try { reply = await res.json(); } catch { throw new Error(`the Admin API answered HTTP ${res.status} without JSON`); }
  if (reply.janus === 'error') throw new JanusError(reply.error);
  const r = reply.response;
  if (!r) throw new Error('the Admin API reply has no plugin response');
  if (typeof r.error_code === 'number') throw new PluginError(r);
  return r;
}

const PLAIN = {
  missing_element: 'A required field is empty.',
  invalid_element: 'A field has a value that is not allowed.',
  unauthorized: 'The credentials were refused.',
  forbidden: 'This request is not allowed with these credentials.',
  no_such_tenant: 'There is no tenant with this ID.',
  tenant_exists: 'A tenant with this ID already exists: pick another ID, or edit it from the table.',
  no_such_room: 'There is no room with this ID for this tenant.',
  room_exists: 'This tenant already has a room with this ID: pick another ID, or edit it from the table.',
  wrong_state: 'This cannot be done in the current state.',
  invalid_schedule: 'The schedule is not valid.',
  unknown_timezone: 'The time zone is not known to the server.',
  unavailable: 'The server is busy or shutting down; try again.',
  internal: 'The server hit an internal error (a bug).',
};

function plainError(err) {
  if (err instanceof PluginError) {
    const lead = PLAIN[err.name_] || 'The server refused the request.';
    return `${lead} Details: ${err.message} (${err.name_ || 'error'} ${err.code}).`;
  }
  if (err instanceof JanusError) {
    if (err.code === 403) return 'Janus refused the admin secret (403). Sign out and sign in with the right secret.';
    return `Janus error ${err.code}: ${err.message}.`;
  }
  return `${err.message || err}`.replace(/^./, (c) => c.toUpperCase());
}

// --- formatting ---------------------------------------------------------------------------------

const nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const nf2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2, useGrouping: false });
const rate = (v) => (typeof v === 'number' ? nf2.format(v) : '–');
const int = (n) => (typeof n === 'number' ? String(n) : '–');
function ms(v) {
  if (typeof v !== 'number') return '–';
  if (v === 0) return '0 s';
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60000) return `${nf.format(v / 1000)} s`;
  return `${nf.format(v / 60000)} min`;
}
const pct = (f) => (typeof f === 'number' ? `${Math.round(f * 100)}%` : '–');
const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const localTime = (unix) => (typeof unix === 'number' ? dtf.format(new Date(unix * 1000)) : '–');

function scheduleText(s) {
  if (!s) return 'none (always live)';
  if (s.ical !== undefined && s.dtstart === undefined) return 'iCalendar event';
  let text;
  if (typeof s.start === 'number') {
    text = `once, ${localTime(s.start)} for ${ms((s.end - s.start) * 1000)}`;
  } else {
    text = `${s.rrule ? s.rrule : 'once'} from ${s.dtstart} ${s.tzid || ''}, ${ms((s.duration_s || 0) * 1000)} each`;
    if (s.exdates && s.exdates.length) text += `, except ${s.exdates.length} date(s)`;
  }
  return s.summary ? `${s.summary}: ${text}` : text;
}

// --- UI state -----------------------------------------------------------------------------------

let last = null; // last status reply
let timer = null;
let running = false;
let frozen = false;

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}
function showErrorIn(id, text) {
  const el = $(id);
  setText(el, text || '');
  el.hidden = !text;
}

function showLogin(message) {
  stopPolling();
  document.body.dataset.state = 'login';
  $('dashboard').hidden = true;
  const form = $('login');
  form.hidden = false;
  form.elements.admin.value = cfg.url || defaultAdminUrl();
  form.elements.admin_secret.value = '';
  showErrorIn('login-error', message || '');
  (cfg.url ? form.elements.admin_secret : form.elements.admin).focus();
}

function showDashboard() {
  $('login').hidden = true;
  $('dashboard').hidden = false;
  document.body.dataset.state = 'connecting';
  setText($('admin-url'), cfg.url);
  startPolling();
}

// --- polling ------------------------------------------------------------------------------------

function startPolling() {
  running = true;
  if (!timer) tick();
}
function stopPolling() {
  running = false;
  clearTimeout(timer);
  timer = null;
}

let failures = 0;
let lastGoodAt = 0; // when the last status came (ms)
async function tick() {
  timer = null;
  const started = Date.now();
  if (!frozen) {
    try {
      const reply = await admin({ request: 'status' });
      failures = 0;
      last = reply;
      render(reply);
      document.body.dataset.state = 'ok';
      document.body.dataset.stale = 'false';
      lastGoodAt = Date.now();
      setText($('status'), `Connected. ${reply.node ? describeNode(reply.node) : ''}`.trim());
      showErrorIn('error', '');
    } catch (err) {
      failures++;
      if (err instanceof JanusError && err.code === 403) {
        sessionStorage.removeItem(KEY_SECRET);
        cfg.secret = '';
        showLogin(plainError(err));
        return;
      }
      document.body.dataset.state = 'error';
      // What is shown is no longer the node's state: greyed out, with its age (web/dashboard.css).
      if (last) {
        document.body.dataset.stale = 'true';
        setText($('updated-at'), `; the figures below are from ${new Date(lastGoodAt).toLocaleTimeString()}, ` +
          `${Math.round((Date.now() - lastGoodAt) / 1000)} s ago, and are not current`);
      }
      setText($('status'), failures > 1 ? `Not connected (${failures} failed attempts); retrying every second.` : 'Not connected; retrying.');
      showErrorIn('error', plainError(err));
    }
  }
  if (running) timer = setTimeout(tick, Math.max(0, POLL_MS - (Date.now() - started)));
}

function describeNode(node) {
  const a = node.admission || {};
  if (a.draining) return 'The node is draining.';
  if (a.paused) return 'Admissions are paused on the node.';
  return 'The node is admitting.';
}

// --- rendering ----------------------------------------------------------------------------------

const history_ = []; // {t, queued, active, admitted}
let prevTotal = null;
let prevT = 0;

function render(reply) {
  const node = reply.node;
  if (node) renderNode(node);
  renderCluster(reply.cluster);
  renderTenants(reply.tenants || []);
  renderRooms(reply.rooms || []);
  setText($('updated-at'), `; last update ${new Date().toLocaleTimeString()}`);
}

function renderNode(node) {
  const c = node.counts || {};
  const a = node.admission || {};
  setText($('node-capacity'), int(node.capacity));
  setText($('node-active'), int(c.active));
  setText($('node-connecting'), int(c.connecting));
  setText($('node-queued'), int(c.queued));
  setText($('node-rejoining'), int(c.rejoining));
  const used = (c.admitted || 0) + (c.rejoining || 0);
  setText($('node-load'), node.capacity ? `${used} of ${node.capacity} (${pct(used / node.capacity)})` : `${used}`);
  setText($('node-rate'), rate(a.admitted_per_s));
  setText($('node-wave'), int(a.wave_size_now));
  setText($('node-waves'), int(a.waves));
  setText($('node-last-wave'), a.last_wave ? `${a.last_wave.admitted} admitted, ${ms(a.last_wave.ago_ms)} ago` : 'none yet');
  setText($('node-admitted-total'), int(a.admitted_total));
  setText($('node-cpu'), a.cpu === null || a.cpu === undefined ? 'not measured yet' : pct(a.cpu));
  setText($('node-wait'), a.wait_ms ? `${ms(a.wait_ms.p50)} / ${ms(a.wait_ms.p90)}` : '–');
  setText($('node-setup'), a.setup_ms ? `${ms(a.setup_ms.p50)} / ${ms(a.setup_ms.p90)}` : '–');
  setText($('node-estimate-error'), a.estimate_error ? `${pct(a.estimate_error.p50)} / ${pct(a.estimate_error.p90)} (${int(a.estimates)} estimates)` : '–');
  setText($('node-wave-mode'), `${node.wave_mode}, up to ${node.wave_size} every ${ms(node.wave_interval_ms)}${node.join_rate ? `, at most ${node.join_rate}/s` : ''}`);

  const state = a.draining ? 'draining' : a.paused ? 'paused' : 'admitting';
  const ns = $('node-state');
  ns.dataset.state = state;
  setText(ns, state === 'draining' ? 'Draining: nobody is admitted, new attendees are sent elsewhere.'
    : state === 'paused' ? 'Paused: attendees queue but nobody is admitted.' : 'Admitting attendees.');
  const btns = [$('resume-button'), $('pause-button'), $('drain-button')];
  const hadFocus = btns.includes(document.activeElement);
  $('pause-button').disabled = state !== 'admitting';
  $('drain-button').disabled = state === 'draining';
  $('resume-button').disabled = state === 'admitting';
  if (hadFocus) keepFocus(...btns);

  // chart sample: admissions since the previous poll, as a per-second figure
  const now = Date.now();
  let admitted = 0;
  if (prevTotal !== null && typeof a.admitted_total === 'number') {
    const dt = Math.max(0.25, (now - prevT) / 1000);
    admitted = Math.max(0, a.admitted_total - prevTotal) / dt;
  }
  prevTotal = typeof a.admitted_total === 'number' ? a.admitted_total : prevTotal;
  prevT = now;
  history_.push({ t: now, queued: c.queued || 0, active: c.active || 0, admitted });
  while (history_.length && history_[0].t < now - WINDOW_MS) history_.shift();
  updateChartTable();
  drawChart();
}

// Keyed rows: update cells in place so focus (e.g. on an Edit button) survives refreshes.
function syncRows(tbody, items, keyOf, attr, build, update) {
  const existing = new Map();
  for (const tr of tbody.rows) existing.set(tr.getAttribute(attr), tr);
  let prev = null;
  for (const item of items) {
    const key = keyOf(item);
    let tr = existing.get(key);
    if (tr) existing.delete(key);
    else { tr = build(item, key); tr.setAttribute(attr, key); }
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    update(tr, item);
    prev = tr;
  }
  for (const tr of existing.values()) {
    if (tr.contains(document.activeElement)) $(attr === 'data-tenant' ? 'tenants-heading' : 'rooms-heading').focus?.();
    tr.remove();
  }
}

function cells(tr, fields) {
  for (const f of fields) {
    const td = document.createElement(f === 'id' ? 'th' : 'td');
    if (f === 'id') td.scope = 'row';
    td.dataset.field = f;
    tr.appendChild(td);
  }
}
function fill(tr, values) {
  for (const [f, v] of Object.entries(values)) {
    const td = tr.querySelector(`[data-field="${f}"]`);
    if (td) setText(td, v);
  }
}
function button(label, aria, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'small';
  b.textContent = label;
  b.setAttribute('aria-label', aria);
  b.addEventListener('click', onClick);
  return b;
}

// Cluster mode (docs/api.md, "Cluster in status"): this node's Redis link and every node it knows.
const NODE_FIELDS = ['id', 'alive', 'age', 'url', 'seats', 'connecting', 'queued', 'presenters', 'rooms', 'cpu', 'version'];

function renderCluster(c) {
  $('cluster').hidden = !c;
  if (!c) return;
  const r = c.redis || {};
  const alive = (c.nodes || []).filter((n) => n.alive).length;
  setText($('cluster-summary'), `This node: ${c.node_id}. Redis ${r.connected ? 'connected' : 'NOT connected'}` +
    (r.rtt_ms ? ` (round trip p50 ${r.rtt_ms.p50} ms, p99 ${r.rtt_ms.p99} ms)` : '') +
    `. ${alive} of ${(c.nodes || []).length} nodes alive` +
    (typeof c.view_age_ms === 'number' ? ` as of ${ms(c.view_age_ms)} ago.` : '.'));
  // This node's use of the seat ledger (docs/cluster.md, "Cluster admission").
  const l = c.ledger;
  $('cluster-ledger').hidden = !l;
  if (l) {
    setText($('cluster-ledger'), `Seat ledger: ${int(l.seats_granted)} seats granted in ${int(l.claims)} claims ` +
      `(${int(l.claims_denied)} found the caps full, ${int(l.claims_failed)} got no answer), ` +
      `${int(l.seats_released)} released, ${int(l.seats_reclaimed)} reclaimed from dead nodes` +
      (l.presenters_waiting ? `; ${int(l.presenters_waiting)} presenters waiting for a seat` : '') +
      (l.over_cap ? `; a tenant is ${int(l.over_cap)} seats OVER its cap across the cluster` : '') + '.');
  }
  renderMedia(c.media);
  syncRows($('cluster-nodes').tBodies[0], c.nodes || [], (n) => n.id, 'data-node', () => {
    const tr = document.createElement('tr');
    cells(tr, NODE_FIELDS);
    return tr;
  }, (tr, n) => {
    fill(tr, {
      id: n.id, alive: n.alive ? 'yes' : 'NO', age: `${ms(n.age_ms)} ago`, url: n.url || '–',
      seats: `${int(n.seats_held)} / ${int(n.capacity)}`, connecting: int(n.connecting), queued: int(n.queued),
      presenters: int(n.presenters), rooms: int(n.rooms), cpu: n.cpu === null ? 'not measured yet' : pct(n.cpu),
      version: n.version || '–',
    });
  });
}

// Media across nodes (docs/cluster-media.md): the rooms this node is the origin or an edge of, and its links.
const LINK_FIELDS = ['link', 'bitrate', 'loss', 'delay', 'packets', 'refused'];

function renderMedia(m) {
  $('cluster-media').hidden = !m;
  if (!m) return;
  const origins = (m.origin_of || []).map((r) => `${r.tenant}/${r.room}${r.relay ? ' (relaying)' : ''} to ` +
    `${(r.edges || []).map((e) => e.node).join(', ') || 'no edge'}` +
    ((r.tree || []).length > (r.edges || []).length ? ` (${r.tree.length} edges in its tree)` : ''));
  const edges = (m.edge_of || []).map((r) => `${r.tenant}/${r.room} from ${r.origin}` +
    (r.parent ? ` through ${r.parent}` : '') + ` (${int(r.receivers)} attendees here)`);
  setText($('cluster-media-rooms'), `Link ${m.address}:${m.port}. ` +
    (origins.length ? `Feeds: ${origins.join('; ')}. ` : '') + (edges.length ? `Fed: ${edges.join('; ')}. ` : '') +
    (!origins.length && !edges.length ? 'No room crosses nodes here now. ' : '') +
    (m.dropped_unknown_source ? `${int(m.dropped_unknown_source)} datagrams from unknown sources dropped.` : ''));
  syncRows($('cluster-links').tBodies[0], m.links || [], (l) => `${l.role}:${l.peer}`, 'data-link', () => {
    const tr = document.createElement('tr');
    cells(tr, LINK_FIELDS);
    return tr;
  }, (tr, l) => {
    const refused = Object.values(l.dropped || {}).reduce((a, b) => a + b, 0);
    fill(tr, {
      link: l.role === 'to_edge' ? `to edge ${l.peer}` : `from origin ${l.peer}`,
      bitrate: `${int(Math.round((l.bitrate_bps || 0) / 1000))} kbit/s`,
      loss: typeof l.loss === 'number' ? pct(l.loss) : '–',
      delay: typeof l.delay_ms === 'number' ? `${l.delay_ms.toFixed(1)} ms` : '–',
      packets: int(l.role === 'to_edge' ? l.rtp_sent : l.rtp_received),
      refused: refused ? `${int(refused)} (${Object.entries(l.dropped).filter(([, n]) => n).map(([k, n]) => `${k} ${int(n)}`).join(', ')})` : '0',
    });
  });
}

const TENANT_FIELDS = ['id', 'name', 'max_participants', 'weight', 'reserved', 'max_queued', 'rooms',
  'active', 'connecting', 'queued', 'rejoining', 'presenters', 'rate', 'wait_p50', 'actions'];
let tenantsById = new Map();

function renderTenants(tenants) {
  tenantsById = new Map(tenants.map((t) => [t.tenant, t]));
  syncRows($('tenants').tBodies[0], tenants, (t) => t.tenant, 'data-tenant', (t, key) => {
    const tr = document.createElement('tr');
    cells(tr, TENANT_FIELDS);
    tr.querySelector('[data-field="actions"]').appendChild(
      button('Edit', `Edit tenant ${key}`, () => editTenant(key)));
    return tr;
  }, (tr, t) => {
    const c = t.counts || {};
    const a = t.admission || {};
    fill(tr, {
      id: t.tenant, name: t.name || '', max_participants: int(t.max_participants), weight: int(t.weight),
      reserved: int(t.reserved), max_queued: t.max_queued ? int(t.max_queued) : 'no bound', rooms: int(t.rooms),
      active: int(c.active), connecting: int(c.connecting), queued: int(c.queued), rejoining: int(c.rejoining),
      presenters: int(c.presenters), rate: rate(a.admitted_per_s),
      wait_p50: a.wait_ms ? ms(a.wait_ms.p50) : '–',
    });
  });
  $('tenants-empty').hidden = tenants.length > 0;
  const dl = $('tenant-ids');
  const ids = tenants.map((t) => t.tenant).join('\n');
  if (dl.dataset.ids !== ids) {
    dl.dataset.ids = ids;
    dl.replaceChildren(...tenants.map((t) => new Option(t.name || t.tenant, t.tenant)));
  }
}

const ROOM_FIELDS = ['id', 'state', 'paused', 'active', 'connecting', 'queued', 'max_attendees', 'presenters',
  'schedule', 'next_start', 'rate', 'wait_p50', 'estimate_error', 'actions'];
let roomsByKey = new Map();

function renderRooms(rooms) {
  roomsByKey = new Map(rooms.map((r) => [`${r.tenant}/${r.room}`, r]));
  syncRows($('rooms').tBodies[0], rooms, (r) => `${r.tenant}/${r.room}`, 'data-room', (r, key) => {
    const tr = document.createElement('tr');
    cells(tr, ROOM_FIELDS);
    const actions = tr.querySelector('[data-field="actions"]');
    actions.append(
      button('Edit', `Edit room ${key}`, () => editRoom(key)),
      button('Pause', `Pause admissions to room ${key}`, () => toggleRoom(key, tr)),
    );
    actions.lastChild.dataset.action = 'pause-room';
    return tr;
  }, (tr, r) => {
    const c = r.counts || {};
    const a = r.admission || {};
    fill(tr, {
      id: `${r.tenant}/${r.room}`, state: r.state || 'live', paused: a.paused ? 'yes' : 'no',
      active: int(c.active), connecting: int(c.connecting), queued: int(c.queued),
      max_attendees: int(r.max_attendees), presenters: int(c.presenters), schedule: scheduleText(r.schedule),
      next_start: r.next_start == null ? '–' : localTime(r.next_start),
      rate: rate(a.admitted_per_s),
      wait_p50: a.wait_ms ? ms(a.wait_ms.p50) : '–',
      estimate_error: a.estimate_error && a.estimates ? pct(a.estimate_error.p50) : '–',
    });
    tr.dataset.state = r.state || 'live';
    tr.dataset.paused = a.paused ? 'true' : 'false';
    const b = tr.querySelector('[data-action="pause-room"]');
    const key = `${r.tenant}/${r.room}`;
    setText(b, a.paused ? 'Resume' : 'Pause');
    b.setAttribute('aria-label', `${a.paused ? 'Resume' : 'Pause'} admissions to room ${key}`);
  });
  $('rooms-empty').hidden = rooms.length > 0;
}

async function toggleRoom(key, tr) {
  const r = roomsByKey.get(key);
  if (!r) return;
  const paused = tr.dataset.paused === 'true';
  try {
    await admin({ request: paused ? 'resume' : 'pause', tenant: r.tenant, room: r.room });
    setText($('status'), `Room ${key} ${paused ? 'resumed' : 'paused'}.`);
    refreshSoon();
  } catch (err) {
    showErrorIn('error', plainError(err));
  }
}

function refreshSoon() {
  if (!running || frozen) return;
  clearTimeout(timer);
  timer = setTimeout(tick, 50);
}

// --- chart --------------------------------------------------------------------------------------

const SERIES = [
  { key: 'queued', label: 'Queued', css: '--chart-queued', kind: 'line' },
  { key: 'admitted', label: 'Admitted/s', css: '--chart-admitted', kind: 'bar' },
  { key: 'active', label: 'Active', css: '--chart-active', kind: 'line' },
];

function updateChartTable() {
  const latest = history_[history_.length - 1] || { queued: 0, active: 0, admitted: 0 };
  for (const s of SERIES) {
    const row = document.querySelector(`#chart-table tr[data-series="${s.key}"]`);
    const max = history_.reduce((m, p) => Math.max(m, p[s.key]), 0);
    setText(row.querySelector('[data-field="latest"]'), nf.format(latest[s.key]));
    setText(row.querySelector('[data-field="max"]'), nf.format(max));
  }
}

function niceMax(v) {
  if (v <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

let chartSize = { w: 0, h: 0, dpr: 1 };
function sizeChart() {
  const canvas = $('chart');
  const box = canvas.parentElement;
  const w = Math.max(200, Math.floor(box.clientWidth));
  const h = w < 500 ? 200 : 260;
  const dpr = window.devicePixelRatio || 1;
  if (w === chartSize.w && h === chartSize.h && dpr === chartSize.dpr) return;
  chartSize = { w, h, dpr };
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  drawChart();
}

function drawChart() {
  const canvas = $('chart');
  const { w, h, dpr } = chartSize;
  if (!w || $('dashboard').hidden) return;
  const ctx = canvas.getContext('2d');
  const css = getComputedStyle(document.documentElement);
  const color = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const fg = color('--fg', '#1a1c20');
  const muted = color('--muted', '#4a505a');
  const grid = color('--chart-grid', '#d0d4da');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = '12px system-ui, sans-serif';

  const left = 48, right = 10, top = 22, bottom = 36;
  const pw = w - left - right, ph = h - top - bottom;
  const now = history_.length ? history_[history_.length - 1].t : Date.now();
  const t0 = now - WINDOW_MS;
  const x = (t) => left + ((t - t0) / WINDOW_MS) * pw;
  const peak = history_.reduce((m, p) => Math.max(m, p.queued, p.active, p.admitted), 0);
  const ymax = niceMax(peak);
  const y = (v) => top + ph - (v / ymax) * ph;

  // grid and y axis
  ctx.strokeStyle = grid;
  ctx.fillStyle = muted;
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let i = 0; i <= 5; i++) {
    const v = (ymax * i) / 5;
    const yy = Math.round(y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(left, yy); ctx.lineTo(left + pw, yy); ctx.stroke();
    ctx.fillText(nf.format(v), left - 6, yy);
  }
  // x axis: minutes ago
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let m = 5; m >= 0; m--) {
    const xx = Math.round(x(now - m * 60000)) + 0.5;
    ctx.beginPath(); ctx.moveTo(xx, top + ph); ctx.lineTo(xx, top + ph + 4); ctx.stroke();
    ctx.fillText(m === 0 ? 'now' : `−${m} min`, Math.min(Math.max(xx, left + 16), left + pw - 14), top + ph + 6);
  }
  ctx.fillStyle = fg;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText('attendees (admitted: per second)', 4, 4);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'bottom';
  ctx.fillText('time', left + pw, h - 2);
  ctx.strokeStyle = muted;
  ctx.beginPath(); ctx.moveTo(left + 0.5, top); ctx.lineTo(left + 0.5, top + ph + 0.5); ctx.lineTo(left + pw, top + ph + 0.5); ctx.stroke();

  // bars: admissions per poll (per second)
  const barW = Math.max(1, (pw / (WINDOW_MS / POLL_MS)) * 0.8);
  ctx.fillStyle = color('--chart-admitted', '#1e8e3e');
  for (const p of history_) {
    if (p.admitted <= 0) continue;
    const yy = y(p.admitted);
    ctx.fillRect(x(p.t) - barW, yy, barW, top + ph - yy);
  }
  // lines
  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  for (const s of SERIES.filter((s) => s.kind === 'line')) {
    ctx.strokeStyle = color(s.css, '#000');
    ctx.setLineDash(s.key === 'queued' ? [6, 3] : []);
    ctx.beginPath();
    history_.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p[s.key])) : ctx.moveTo(x(p.t), y(p[s.key]))));
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

// --- confirmation -------------------------------------------------------------------------------

function confirmAction(title, text, okLabel) {
  const dlg = $('confirm-dialog');
  const opener = document.activeElement;
  setText($('confirm-title'), title);
  setText($('confirm-text'), text);
  setText($('confirm-ok'), okLabel);
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      if (opener && opener.isConnected && !opener.disabled) opener.focus();
      resolve(dlg.returnValue === 'ok');
    }, { once: true });
    dlg.showModal();
    $('confirm-cancel').focus();
  });
}

async function nodeAction(request, title, text, ok) {
  if (!(await confirmAction(title, text, ok))) return;
  try {
    const r = await admin({ request });
    if (r.node) renderNode(r.node);
    setText($('status'), `Done: ${request}. ${r.node ? describeNode(r.node) : ''}`);
    showErrorIn('error', '');
    refreshSoon();
  } catch (err) {
    showErrorIn('error', plainError(err));
  }
}

// --- forms --------------------------------------------------------------------------------------

const val = (form, name) => (form.elements[name] ? form.elements[name].value.trim() : '');
function numberField(form, name, out, label) {
  const el = form.elements[name];
  const raw = el.value.trim();
  if (raw === '') {
    if (el.validity.badInput) throw new Error(`${label} must be a whole number.`);
    return;
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${label} must be a whole number, 0 or more.`);
  out[name] = n;
}
function labelOf(form, name) {
  const el = form.elements[name];
  const span = el && el.closest('label') && el.closest('label').querySelector('span');
  return span ? span.textContent : name;
}
function checkId(form, name) {
  const v = val(form, name);
  if (!v) throw new Error(`${labelOf(form, name)} is required.`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(v)) throw new Error(`${labelOf(form, name)} may only contain letters, digits, _ - . (at most 64).`);
  return v;
}
function setFormMessage(prefix, ok, err) {
  setText($(`${prefix}-form-status`), ok || '');
  showErrorIn(`${prefix}-form-error`, err || '');
}
function focusInvalid(form, err) {
  const m = /^(.+?) (is required|may only|must be)/.exec(err.message || '');
  if (!m) return;
  for (const el of form.elements) {
    if (el.name && labelOf(form, el.name) === m[1]) { el.setAttribute('aria-invalid', 'true'); el.focus(); return; }
  }
}
function clearInvalid(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

// Tenants
function tenantMode(mode, id) {
  const form = $('tenant-form');
  form.dataset.mode = mode;
  form.elements.tenant.readOnly = mode === 'edit';
  setText($('tenant-form-legend'), mode === 'edit' ? `Edit tenant ${id}` : 'Create a tenant');
  setText($('tenant-submit'), mode === 'edit' ? 'Save tenant' : 'Create tenant');
}
// Open the `kind` entry form (tenant, room) to edit `key`: cleared, in edit mode (setMode), filled by
// fill(form.elements), scrolled into view with the `focusName` field focused.
function openEdit(kind, setMode, key, fill, focusName) {
  const form = $(`${kind}-form`);
  form.reset();
  clearInvalid(form);
  setMode('edit', key);
  fill(form.elements);
  setFormMessage(kind, `Editing ${kind} ${key}.`, '');
  form.scrollIntoView({ block: 'start' });
  form.elements[focusName].focus();
}
function editTenant(id) {
  const t = tenantsById.get(id);
  if (!t) return;
  openEdit('tenant', tenantMode, id, (e) => {
    e.tenant.value = t.tenant;
    e.name.value = t.name || '';
    e.max_participants.value = t.max_participants;
    e.weight.value = t.weight;
    e.reserved.value = t.reserved;
    e.max_queued.value = t.max_queued;
  }, 'name');
}
// Submit the `kind` entry form (tenant, room): build(form, editing) makes the request or throws a
// message for the form (its field marked invalid); done(form, editing, req, reply, warn) updates the
// page after the Admin API accepted it.
async function submitEntry(ev, kind, build, done) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const editing = form.dataset.mode === 'edit';
  clearInvalid(form);
  let req;
  try {
    req = build(form, editing);
  } catch (err) {
    setFormMessage(kind, '', err.message);
    focusInvalid(form, err);
    return;
  }
  setFormMessage(kind, editing ? 'Saving…' : 'Creating…', '');
  try {
    const r = await admin(req);
    const warn = r.warning ? ` Warning: ${r.warning.error} (${r.warning.error_name}).` : '';
    done(form, editing, req, r, warn);
    refreshSoon();
  } catch (err) {
    setFormMessage(kind, '', plainError(err));
  }
}
function submitTenant(ev) {
  return submitEntry(ev, 'tenant', (form, editing) => {
    const req = { request: editing ? 'edit_tenant' : 'create_tenant', tenant: checkId(form, 'tenant') };
    const name = val(form, 'name');
    if (name || editing) req.name = name;
    for (const n of ['max_participants', 'weight', 'reserved', 'max_queued']) numberField(form, n, req, labelOf(form, n));
    const secret = form.elements.secret.value;
    if (secret) req.secret = secret;
    if (!editing && req.max_participants === undefined) throw new Error('Max participants is required.');
    if (!editing && !secret) throw new Error('Tenant secret is required.');
    return req;
  }, (form, editing, req, r, warn) => {
    form.elements.secret.value = '';
    if (!editing) { tenantMode('edit', req.tenant); }
    // The signing key of join tokens comes once, with create_tenant (get_signing_key gives it again).
    const key = !editing && r.signing_key ? ` Its join-token signing key: ${r.signing_key}` : '';
    setFormMessage('tenant', `Tenant ${req.tenant} ${editing ? 'saved' : 'created'}.${warn}${key}`, '');
  });
}
// Empty a form for a new tenant or room (`kind`), in create mode, focus on its first field.
function newEntry(kind, setMode) {
  const form = $(`${kind}-form`);
  form.reset();
  clearInvalid(form);
  setMode('create');
  setFormMessage(kind, '', '');
  form.elements.tenant.focus();
}
function newTenant() {
  newEntry('tenant', tenantMode);
}

// Rooms
function roomMode(mode, key) {
  const form = $('room-form');
  form.dataset.mode = mode;
  form.elements.tenant.readOnly = mode === 'edit';
  form.elements.room.readOnly = mode === 'edit';
  for (const el of form.querySelectorAll('[data-edit-only]')) {
    if (el.tagName === 'OPTION') el.disabled = el.hidden = mode !== 'edit';
    else el.hidden = mode !== 'edit';
  }
  setText($('room-form-legend'), mode === 'edit' ? `Edit room ${key}` : 'Create a room');
  setText($('room-submit'), mode === 'edit' ? 'Save room' : 'Create room');
  form.elements.schedule_kind.value = mode === 'edit' ? 'keep' : 'none';
  scheduleKind();
}
function scheduleKind() {
  const form = $('room-form');
  const kind = form.elements.schedule_kind.value;
  for (const el of form.querySelectorAll('[data-kind]')) el.hidden = !el.dataset.kind.split(' ').includes(kind);
  if (kind === 'recurring' && !form.elements.tzid.value) {
    form.elements.tzid.value = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  }
}
function localInput(unix) {
  const d = new Date(unix * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
function editRoom(key) {
  const r = roomsByKey.get(key);
  if (!r) return;
  openEdit('room', roomMode, key, (e) => {
    e.tenant.value = r.tenant;
    e.room.value = r.room;
    e.description.value = r.description || '';
    e.max_attendees.value = r.max_attendees;
    e.presenter_seats.value = r.presenter_seats;
    for (const n of ['lobby_minutes', 'ending_warning_s', 'grace_s']) e[n].value = r[n] ?? '';
    e.prequeue_order.value = r.prequeue_order || '';
    e.video_layer.value = r.video_layer || 'high';
    const s = r.schedule;
    if (s && typeof s.start === 'number') {
      e.start.value = localInput(s.start);
      e.duration_min.value = Math.max(1, Math.round((s.end - s.start) / 60));
    } else if (s && s.dtstart) {
      e.start.value = s.dtstart.slice(0, 16);
      e.duration_min.value = Math.max(1, Math.round((s.duration_s || 3600) / 60));
      e.tzid.value = s.tzid || '';
      e.rrule.value = s.rrule || '';
      e.exdates.value = (s.exdates || []).join(', ');
    }
    setText($('schedule-current'), `Current schedule: ${scheduleText(s)}.${r.pin_required ? ' The room has a PIN.' : ''}${r.priority_class ? ' The room has a priority secret.' : ''}`);
  }, 'description');
}
function buildSchedule(form, editing) {
  const kind = form.elements.schedule_kind.value;
  if (kind === 'keep') return undefined;
  if (kind === 'none') return editing ? null : undefined;
  if (kind === 'ical') {
    const ical = form.elements.ical.value.trim();
    if (!ical) throw new Error('iCalendar VEVENT is required.');
    return { ical };
  }
  const start = form.elements.start.value;
  if (!start) throw new Error('Starts (local date and time) is required.');
  const dur = Number(form.elements.duration_min.value);
  if (!Number.isInteger(dur) || dur < 1 || dur > 1440) throw new Error('Duration (minutes) must be a whole number from 1 to 1440.');
  if (kind === 'once') {
    const t = new Date(start).getTime();
    if (Number.isNaN(t)) throw new Error('Starts (local date and time) must be a date and time.');
    return { start: Math.floor(t / 1000), duration_s: dur * 60 };
  }
  const s = { dtstart: start.length === 16 ? `${start}:00` : start, tzid: val(form, 'tzid') || 'UTC', duration_s: dur * 60 };
  const rrule = val(form, 'rrule').replace(/^RRULE:/i, '');
  if (rrule) s.rrule = rrule;
  const ex = val(form, 'exdates').split(/[\s,]+/).filter(Boolean);
  if (ex.length) s.exdates = ex;
  return s;
}
function submitRoom(ev) {
  return submitEntry(ev, 'room', (form, editing) => {
    const req = { request: editing ? 'edit_room' : 'create_room', tenant: checkId(form, 'tenant'), room: checkId(form, 'room') };
    const description = val(form, 'description');
    if (description || editing) req.description = description;
    for (const n of ['max_attendees', 'presenter_seats', 'lobby_minutes', 'ending_warning_s', 'grace_s']) {
      numberField(form, n, req, labelOf(form, n));
    }
    if (!editing && req.max_attendees === undefined) throw new Error('Max attendees is required.');
    const e = form.elements;
    if (e.presenter_secret.value) req.presenter_secret = e.presenter_secret.value;
    else if (!editing) throw new Error('Presenter secret is required.');
    if (editing && e.clear_pin.checked) req.pin = '';
    else if (e.pin.value) req.pin = e.pin.value;
    if (editing && e.clear_priority.checked) req.priority_secret = '';
    else if (e.priority_secret.value) req.priority_secret = e.priority_secret.value;
    if (e.prequeue_order.value) req.prequeue_order = e.prequeue_order.value;
    req.video_layer = e.video_layer.value;
    const schedule = buildSchedule(form, editing);
    if (schedule !== undefined) req.schedule = schedule;
    return req;
  }, (form, editing, req, r, warn) => {
    const key = `${req.tenant}/${req.room}`;
    for (const n of ['presenter_secret', 'pin', 'priority_secret']) form.elements[n].value = '';
    form.elements.clear_pin.checked = false;
    form.elements.clear_priority.checked = false;
    const state = r.room && r.room.state ? ` It is ${r.room.state}${r.room.next_start ? `; next start ${localTime(r.room.next_start)}` : ''}.` : '';
    roomsByKey.set(key, { ...(roomsByKey.get(key) || {}), ...r.room });
    roomMode('edit', key);
    if (r.room) setText($('schedule-current'), `Current schedule: ${scheduleText(r.room.schedule)}.`);
    setFormMessage('room', `Room ${key} ${editing ? 'saved' : 'created'}.${state}${warn}`, '');
  });
}
function newRoom() {
  newEntry('room', roomMode);
}

// --- wiring -------------------------------------------------------------------------------------

function init() {
  loadCredentials();
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const url = f.elements.admin.value.trim();
    const secret = f.elements.admin_secret.value;
    try { new URL(url); } catch { showErrorIn('login-error', 'The Admin API URL is not a valid URL (e.g. http://127.0.0.1:7088/admin).'); f.elements.admin.focus(); return; }
    if (!secret) { showErrorIn('login-error', 'Enter the admin secret (admin_secret in janus.jcfg).'); f.elements.admin_secret.focus(); return; }
    sessionStorage.setItem(KEY_URL, url);
    sessionStorage.setItem(KEY_SECRET, secret);
    cfg.url = url;
    cfg.secret = secret;
    f.elements.admin_secret.value = '';
    showErrorIn('login-error', '');
    showDashboard();
    $('conn-heading').setAttribute('tabindex', '-1');
    $('conn-heading').focus();
  });
  $('logout-button').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_SECRET);
    cfg.secret = '';
    showLogin('');
  });
  $('refresh-toggle').addEventListener('click', (ev) => {
    frozen = !frozen;
    ev.currentTarget.setAttribute('aria-pressed', String(frozen));
    setText(ev.currentTarget, frozen ? 'Resume refreshing' : 'Pause refreshing');
    setText($('status'), frozen ? 'Refreshing paused: the figures are not updated.' : 'Refreshing again.');
  });
  $('pause-button').addEventListener('click', () => nodeAction('pause', 'Pause admissions on the node?',
    'Attendees keep joining the queue but nobody is let in until you resume. Seated attendees stay.', 'Pause admissions'));
  $('resume-button').addEventListener('click', () => nodeAction('resume', 'Resume admissions on the node?',
    'Queued attendees will be admitted again in waves (this also ends a drain).', 'Resume'));
  $('drain-button').addEventListener('click', () => nodeAction('drain', 'Drain the node?',
    'Every queued attendee is removed and new attendees are told to join elsewhere. Seated attendees stay. It lasts until you resume.', 'Drain the node'));
  $('tenant-form').addEventListener('submit', submitTenant);
  $('tenant-new').addEventListener('click', newTenant);
  $('room-form').addEventListener('submit', submitRoom);
  $('room-new').addEventListener('click', newRoom);
  $('room-form').elements.schedule_kind.addEventListener('change', scheduleKind);
  roomMode('create');
  tenantMode('create');

  const ro = new ResizeObserver(() => sizeChart());
  ro.observe($('chart').parentElement);
  // devicePixelRatio changes (zoom, moving to another screen) do not resize the box: watch them too.
  const watchDpr = () => {
    const mq = matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    mq.addEventListener('change', () => { sizeChart(); watchDpr(); }, { once: true });
  };
  watchDpr();
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', drawChart);

  if (cfg.secret) showDashboard();
  else showLogin('');
  if (!$('dashboard').hidden) requestAnimationFrame(sizeChart);
}

init();
