// Headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) for the web pages'
// end-to-end tests: a static server for web/ (+ vendor/janus.js and vendor/adapter.min.js from
// Debian's packages), one browser with a fresh context per page, and helpers that rely only on
// the DOM contract in web/CONTRACT.md.
// SPDX-License-Identifier: GPL-3.0-or-later
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, REPO_ROOT, mkdirp, sleep, waitFor } from './util.mjs';

export const WEB_DIR = path.join(REPO_ROOT, 'web');
export const CHROMIUM = process.env.AH_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = path.join(process.env.AH_ARTIFACTS || ARTIFACTS, 'screenshots');
const VENDOR = {
  '/vendor/janus.js': '/usr/share/javascript/janus-gateway/janus.js',
  '/vendor/adapter.min.js': '/usr/share/javascript/webrtc-adapter/adapter.min.js',
};
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.md': 'text/plain; charset=utf-8',
};

// A static HTTP server on 127.0.0.1:<free port> (a secure context: getUserMedia works).
// Resolves with {server, url, close()}.
export function startStaticServer({ root = WEB_DIR } = {}) {
  const rootReal = fs.realpathSync(root);
  const server = http.createServer((req, res) => {
    let file;
    try {
      const u = new URL(req.url, 'http://x');
      let p = decodeURIComponent(u.pathname);
      if (p === '/') p = '/index.html';
      if (VENDOR[p]) file = VENDOR[p];
      else {
        file = path.resolve(rootReal, '.' + p);
        if (file !== rootReal && !file.startsWith(rootReal + path.sep)) file = null;
      }
      if (!file || !fs.statSync(file).isFile()) throw new Error('not a file');
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return;
    }
    const type = TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream';
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        server,
        port,
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

// Test instrumentation added to every page before its scripts run (not part of the pages):
// window.__ahStates records every document.body.dataset.state value with a timestamp, and
// window.__ahSockets every WebSocket the page opens (to simulate a dropped connection).
const INIT_SCRIPT = `(() => {
  window.__ahStates = [];
  window.__ahSockets = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...a) { super(...a); window.__ahSockets.push(this); }
  };
  const record = () => {
    const s = document.body ? (document.body.dataset.state || '') : '';
    const last = window.__ahStates[window.__ahStates.length - 1];
    if (!last || last.state !== s) window.__ahStates.push({ state: s, t: Date.now() });
  };
  const watch = () => {
    record();
    new MutationObserver(record).observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
  };
  if (document.body) watch(); else document.addEventListener('DOMContentLoaded', watch);
})();`;

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
];

// One browser, a static server, and pages (each in a fresh context). `log(line)` receives the pages'
// console messages and errors (pass t.diagnostic or console.log).
export class Browser {
  constructor({ log = (l) => console.log(`# ${l}`), viewport = { width: 1024, height: 768 } } = {}) {
    this.log = log;
    this.viewport = viewport;
    this.pages = [];
    this.consoleLines = [];
    this.pageErrors = [];
  }

  async start() {
    const { chromium } = await import('playwright-core');
    this.web = await startStaticServer();
    this.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60000 });
    return this;
  }

  get baseUrl() { return this.web.url; }

  // A new page (fresh context) at web/<file>?<params>. `name` labels its log lines.
  // `initScript`: more code run in the page before its own (e.g. to take WebRTC away).
  async open(file, params = {}, { name = file, waitUntil = 'load', initScript = null } = {}) {
    const context = await this.browser.newContext({ viewport: this.viewport, permissions: ['camera', 'microphone'] });
    await context.addInitScript(INIT_SCRIPT);
    if (initScript) await context.addInitScript(initScript);
    const page = await context.newPage();
    page.ahName = name;
    page.ahErrors = [];
    page.on('console', (m) => {
      const line = `[${name}] console.${m.type()}: ${m.text()}`;
      this.consoleLines.push(line);
      if (m.type() === 'error' || m.type() === 'warning') this.log(line);
    });
    page.on('pageerror', (e) => {
      const line = `[${name}] pageerror: ${e.stack || e.message || e}`;
      page.ahErrors.push(line);
      this.pageErrors.push(line);
      this.log(line);
    });
    page.on('requestfailed', (r) => {
      if (!r.url().startsWith('ws')) this.log(`[${name}] request failed: ${r.url()} ${r.failure()?.errorText || ''}`);
    });
    page.on('crash', () => this.log(`[${name}] page crashed`));
    const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => [k, String(v)]));
    const url = `${this.web.url}/${file}${qs.toString() ? `?${qs}` : ''}`;
    page.ahUrl = url;
    this.pages.push(page);
    await page.goto(url, { waitUntil, timeout: 30000 });
    return page;
  }

  openAttendee(params, opts = {}) { return this.open('attendee.html', params, { name: 'attendee', ...opts }); }
  openPresenter(params, opts = {}) { return this.open('presenter.html', params, { name: 'presenter', ...opts }); }
  openDashboard(params, opts = {}) { return this.open('dashboard.html', params, { name: 'dashboard', ...opts }); }

  async closePage(page) {
    this.pages = this.pages.filter((p) => p !== page);
    try { await page.context().close(); } catch { /* gone */ }
  }

  async close() {
    for (const p of [...this.pages]) await this.closePage(p);
    try { if (this.browser) await this.browser.close(); } catch { /* gone */ }
    if (this.web) await this.web.close();
  }
}

// document.body.dataset.state / .position.
export const pageState = (page) => page.evaluate(() => document.body.dataset.state || '');
export const pagePosition = (page) => page.evaluate(() => document.body.dataset.position ?? '');

// The sequence of document.body.dataset.state values the page went through: ['form', 'joining', ...].
export const stateHistory = (page) => page.evaluate(() => (window.__ahStates || []).map((x) => x.state));

// Close the page's open WebSockets from the page side (a dropped connection to Janus).
export const dropWebSockets = (page) => page.evaluate(() => {
  let n = 0;
  for (const ws of window.__ahSockets || []) if (ws.readyState <= 1) { ws.close(); n += 1; }
  return n;
});

// Wait until document.body.dataset.state is `state` (or one of an array). Fails early on a
// terminal state that is not expected, naming the page's #status text.
const TERMINAL = ['error', 'room_closed', 'queue_full', 'removed', 'ended'];
export async function waitState(page, state, timeout = 45000) {
  const want = Array.isArray(state) ? state : [state];
  let last = null;
  try {
    await waitFor(async () => {
      last = await page.evaluate(() => ({
        state: document.body.dataset.state || '',
        status: document.getElementById('status')?.textContent?.trim() || '',
        error: document.getElementById('error')?.textContent?.trim() || '',
      }));
      if (want.includes(last.state)) return true;
      if (TERMINAL.includes(last.state) && !want.includes(last.state)) {
        throw Object.assign(new Error('terminal'), { terminal: true });
      }
      return false;
    }, { timeout, interval: 200, what: `${page.ahName} state ${want.join('|')}` });
  } catch (e) {
    throw new Error(`${page.ahName}: waiting for state ${want.join('|')}: last ${JSON.stringify(last)}` +
      `${page.ahErrors?.length ? `; page errors: ${page.ahErrors.join(' | ')}` : ''} (${e.message})`);
  }
  return last;
}

// Decoded frames of a <video>: totalVideoFrames (getVideoPlaybackQuality), videoWidth, currentTime.
export function videoInfo(page, selector) {
  return page.evaluate((sel) => [...document.querySelectorAll(sel)].map((v) => ({
    frames: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : -1,
    width: v.videoWidth,
    height: v.videoHeight,
    time: v.currentTime,
    paused: v.paused,
    presenter: v.dataset.presenter ?? null,
  })), selector);
}

// true when the first video matching `selector` has videoWidth > 0 and its decoded frame count
// grew over ~1 s. Returns {before, after} (truthy) or false.
export async function videoFramesAdvancing(page, selector, gap = 1000) {
  const [a] = await videoInfo(page, selector);
  if (!a || !(a.width > 0)) return false;
  await sleep(gap);
  const [b] = await videoInfo(page, selector);
  if (!b || !(b.width > 0) || !(b.frames > a.frames)) return false;
  return { before: a, after: b };
}

// Wait until videoFramesAdvancing holds.
export async function waitFramesAdvancing(page, selector, timeout = 45000) {
  let last;
  try {
    return await waitFor(async () => {
      const r = await videoFramesAdvancing(page, selector);
      if (!r) last = await videoInfo(page, selector).catch((e) => e.message);
      return r;
    }, { timeout, interval: 300, what: `${page.ahName}: decoded frames advancing in ${selector}` });
  } catch (e) {
    const st = await page.evaluate(() => `${document.body.dataset.state} / ${document.getElementById('status')?.textContent?.trim()}`).catch(() => '?');
    throw new Error(`${e.message}; videos: ${JSON.stringify(last)}; page state: ${st}` +
      `${page.ahErrors?.length ? `; page errors: ${page.ahErrors.join(' | ')}` : ''}`);
  }
}

// Text of an element (trimmed), or null when missing.
export const text = (page, selector) => page.evaluate((s) => document.querySelector(s)?.textContent?.trim() ?? null, selector);
// Number shown in an element (first number in its text), or NaN.
export async function numberIn(page, selector) {
  const t = await text(page, selector);
  const m = /-?\d+(?:\.\d+)?/.exec(t ?? '');
  return m ? Number(m[0]) : NaN;
}

// A PNG screenshot under $AH_ARTIFACTS/screenshots/<name>.png; returns its path.
export async function screenshot(page, name, opts = {}) {
  mkdirp(SCREENSHOTS);
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false, ...opts });
  return file;
}

// Save every console line and page error collected so far to $AH_ARTIFACTS/<name>.log.
export function saveConsoleLog(browser, name = 'browser-console') {
  const dir = mkdirp(process.env.AH_ARTIFACTS || ARTIFACTS);
  const file = path.join(dir, `${name}.log`);
  fs.writeFileSync(file, [...browser.consoleLines, ...browser.pageErrors].join('\n') + '\n');
  return file;
}
