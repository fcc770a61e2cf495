// A private Janus instance for one test file: its own config folder, plugin folder, transports,
// ports and state folder; started inside the test network namespace (the runner,
// tests/integration/run.mjs, runs the test files inside it and exports AH_* variables), or, with the
// `net` option, inside another namespace (a cluster node, tests/cluster/lib/cluster.mjs) with its APIs
// on that namespace's address.
// SPDX-License-Identifier: GPL-3.0-or-later
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, REPO_ROOT, freePort, mkdirp, waitFor } from './util.mjs';

export const JANUS_BIN = process.env.AH_JANUS_BIN || '/usr/bin/janus';
export const JANUS_LIBDIR = process.env.AH_JANUS_LIBDIR || '/usr/lib/x86_64-linux-gnu/janus';
export const PLUGIN_SO = process.env.AH_PLUGIN_SO || path.join(REPO_ROOT, '.libs', 'libjanus_allhands.so');
export const ALLHANDS = 'janus.plugin.allhands';
export const VIDEOROOM = 'janus.plugin.videoroom';

// The network the runner prepared (see run.mjs).
export function netEnv() {
  const env = {
    netns: process.env.AH_NETNS,
    iface: process.env.AH_JANUS_IFACE,
    janusIp: process.env.AH_JANUS_IP,
    clientIp: process.env.AH_CLIENT_IP,
  };
  if (!env.netns || !env.iface || !env.janusIp) {
    throw new Error('the integration tests must run inside the test network namespace: ' +
      'use `node tests/integration/run.mjs` (as root), or scripts/test.sh');
  }
  return env;
}

const jstr = (s) => JSON.stringify(String(s));
function jval(v) {
  if (typeof v === 'string') return jstr(v);
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  throw new Error(`unsupported jcfg value ${v}`);
}
function jsection(name, obj) {
  const lines = Object.entries(obj)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `\t${k} = ${jval(v)}`);
  return `${name}: {\n${lines.join('\n')}\n}\n`;
}

let instanceCounter = 0;

export class JanusServer {
  // opts.name: label for logs. opts.plugins: array of 'allhands' | 'videoroom'.
  // opts.allhands: plugin config keys (capacity, wave_size, wave_interval_ms, admit_timeout_ms,
  //   admin_key, events, state_file). Keys set to null are left out of the file. A function is
  //   called with this JanusServer when the file is written, once its ports are known (e.g.
  //   `node_url: (j) => j.wsUrl`).
  // opts.sessionTimeout: Janus session_timeout in seconds.
  // opts.net: {netns, iface, janusIp}: run Janus under `ip netns exec netns` instead of in this
  //   process's namespace, media on `iface` (ice_enforce_list) and `janusIp`, and the HTTP, Admin
  //   and WebSocket APIs on `janusIp` rather than 127.0.0.1 (so a client in another namespace on
  //   the same bridge reaches them). Without it, the runner's namespace (netEnv()) is used.
  constructor(opts = {}) {
    instanceCounter += 1;
    this.name = (opts.name || 'janus').replace(/[^A-Za-z0-9_.-]/g, '_');
    this.plugins = opts.plugins || ['allhands'];
    this.net = opts.net ? { ...opts.net } : netEnv();
    this.netns = opts.net ? opts.net.netns : null;
    this.apiHost = opts.net ? opts.net.janusIp : '127.0.0.1';
    this.adminSecret = opts.adminSecret || `adm-${process.pid}-${instanceCounter}`;
    this.sessionTimeout = opts.sessionTimeout ?? 15;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `ah-janus-${this.name}-`));
    this.confDir = mkdirp(path.join(this.dir, 'conf'));
    this.pluginDir = mkdirp(path.join(this.dir, 'plugins'));
    this.transportDir = mkdirp(path.join(this.dir, 'transports'));
    this.emptyDir = mkdirp(path.join(this.dir, 'empty'));
    this.stateDir = mkdirp(path.join(this.dir, 'state'));
    this.logDir = mkdirp(path.join(ARTIFACTS, 'janus'));
    this.allhands = {
      admin_key: `key-${process.pid}-${instanceCounter}`,
      state_file: path.join(this.stateDir, 'allhands-state.json'),
      capacity: 200,
      wave_size: 20,
      wave_interval_ms: 1000,
      admit_timeout_ms: 15000,
      events: true,
      ...(opts.allhands || {}),
    };
    // opts.eventsBackend: URL; enables Janus's sample event handler (plugin events only) posting there.
    this.eventsBackend = opts.eventsBackend || null;
    this.eventsDir = mkdirp(path.join(this.dir, 'events'));
    this.proc = null;
    this.exit = null;
    this.starts = 0;
    this._onProcessExit = () => { if (this.proc && !this.exit) try { this.proc.kill('SIGKILL'); } catch { /* gone */ } };
    process.on('exit', this._onProcessExit);
  }

  get adminKey() { return this.allhands.admin_key; }
  get stateFile() { return this.allhands.state_file; }
  get wsUrl() { return `ws://${this.apiHost}:${this.wsPort}`; }
  get httpUrl() { return `http://${this.apiHost}:${this.httpPort}/janus`; }
  get adminUrl() { return `http://${this.apiHost}:${this.adminPort}/admin`; }
  get alive() { return !!this.proc && !this.exit; }

  async _writeConfig() {
    if (!this.httpPort) {
      this.httpPort = await freePort();
      this.adminPort = await freePort();
      this.wsPort = await freePort();
      while (this.adminPort === this.httpPort) this.adminPort = await freePort();
      while (this.wsPort === this.httpPort || this.wsPort === this.adminPort) this.wsPort = await freePort();
    }
    const { iface, janusIp } = this.net;
    fs.writeFileSync(path.join(this.confDir, 'janus.jcfg'),
      jsection('general', {
        configs_folder: this.confDir,
        plugins_folder: this.pluginDir,
        transports_folder: this.transportDir,
        events_folder: this.eventsBackend ? this.eventsDir : this.emptyDir,
        loggers_folder: this.emptyDir,
        debug_level: Number(process.env.AH_JANUS_DEBUG_LEVEL || 4),
        debug_timestamps: true,
        debug_colors: false,
        admin_secret: this.adminSecret,
        interface: janusIp,
        server_name: `allhands-test-${this.name}`,
        session_timeout: this.sessionTimeout,
        event_loops: 2,
      }) +
      'certificates: {\n}\n' +
      jsection('media', { no_media_timer: 1 }) +
      jsection('nat', { nice_debug: false, ignore_mdns: true, full_trickle: false, ice_enforce_list: iface }) +
      'plugins: {\n}\ntransports: {\n}\nloggers: {\n}\n' +
      jsection('events', { broadcast: !!this.eventsBackend }));
    if (this.eventsBackend) {
      fs.writeFileSync(path.join(this.confDir, 'janus.eventhandler.sampleevh.jcfg'),
        jsection('general', { enabled: true, events: 'plugins', grouping: false, json: 'compact', backend: this.eventsBackend }));
      const evh = path.join(this.eventsDir, 'libjanus_sampleevh.so');
      try { fs.unlinkSync(evh); } catch { /* none */ }
      fs.symlinkSync(path.join(JANUS_LIBDIR, 'events', 'libjanus_sampleevh.so'), evh);
    }
    fs.writeFileSync(path.join(this.confDir, 'janus.transport.http.jcfg'),
      jsection('general', { json: 'compact', base_path: '/janus', http: true, port: this.httpPort, ip: this.apiHost, https: false }) +
      jsection('admin', { admin_base_path: '/admin', admin_http: true, admin_port: this.adminPort, admin_ip: this.apiHost, admin_https: false }) +
      'cors: {\n}\n');
    fs.writeFileSync(path.join(this.confDir, 'janus.transport.websockets.jcfg'),
      jsection('general', { json: 'compact', ws: true, ws_port: this.wsPort, ws_ip: this.apiHost, wss: false }) +
      jsection('admin', { admin_ws: false, admin_wss: false }));
    const allhands = Object.fromEntries(Object.entries(this.allhands).map(([k, v]) => [k, typeof v === 'function' ? v(this) : v]));
    fs.writeFileSync(path.join(this.confDir, 'janus.plugin.allhands.jcfg'), jsection('general', allhands));
    const link = (target, dir, name) => {
      const p = path.join(dir, name);
      try { fs.unlinkSync(p); } catch { /* none */ }
      fs.symlinkSync(target, p);
    };
    for (const t of ['libjanus_http.so', 'libjanus_websockets.so']) {
      link(path.join(JANUS_LIBDIR, 'transports', t), this.transportDir, t);
    }
    for (const p of this.plugins) {
      if (p === 'allhands') {
        if (!fs.existsSync(PLUGIN_SO)) throw new Error(`plugin not built: ${PLUGIN_SO} is missing (run scripts/setup.sh)`);
        link(PLUGIN_SO, this.pluginDir, 'libjanus_allhands.so');
      } else if (p === 'videoroom') {
        link(path.join(JANUS_LIBDIR, 'plugins', 'libjanus_videoroom.so'), this.pluginDir, 'libjanus_videoroom.so');
      } else {
        throw new Error(`unknown plugin ${p}`);
      }
    }
  }

  // Start Janus and wait until the Admin API answers and every requested plugin is loaded.
  async start({ timeout = 30000 } = {}) {
    if (this.alive) throw new Error('janus already running');
    await this._writeConfig();
    this.starts += 1;
    this.logFile = path.join(this.logDir, `${this.name}-${process.pid}-${instanceCounter}-${this.starts}.log`);
    const fd = fs.openSync(this.logFile, 'a');
    this.exit = null;
    const args = ['-F', this.confDir, '-C', path.join(this.confDir, 'janus.jcfg'), '-o'];
    // `ip netns exec` execs the command in place, so the child's PID is Janus's own.
    const argv = this.netns ? ['ip', ['netns', 'exec', this.netns, JANUS_BIN, ...args]] : [JANUS_BIN, args];
    const proc = spawn(argv[0], argv[1], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, G_SLICE: 'always-malloc' },
    });
    fs.closeSync(fd);
    this.proc = proc;
    this.exitPromise = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    proc.on('error', (e) => { this.exit = { error: e.message }; });
    try {
      await waitFor(async () => {
        if (this.exit) throw new Error(`janus exited during startup: ${JSON.stringify(this.exit)}`);
        const info = await this.adminRaw({ janus: 'info' }, 2000);
        if (info.janus !== 'server_info') return false;
        for (const p of this.plugins) {
          const pkg = p === 'allhands' ? ALLHANDS : VIDEOROOM;
          if (!info.plugins || !info.plugins[pkg]) throw new Error(`janus answers but plugin ${pkg} is not loaded`);
        }
        this.info = info;
        return true;
      }, { timeout, interval: 150, what: `janus ${this.name} to start (log: ${this.logFile})` });
      await waitFor(() => tcpOpen(this.apiHost, this.wsPort), { timeout: 5000, what: 'janus websockets port' });
    } catch (e) {
      e.message += `\n--- last lines of ${this.logFile}:\n${this.logTail(40)}`;
      await this.stop().catch(() => {});
      throw e;
    }
    return this;
  }

  // Stop with SIGTERM (Janus exits in ~2 s); SIGKILL after `timeout`. Returns {code, signal}.
  async stop({ timeout = 15000 } = {}) {
    if (!this.proc) return null;
    if (!this.exit) {
      try { this.proc.kill('SIGTERM'); } catch { /* gone */ }
      let timer;
      const res = await Promise.race([this.exitPromise, new Promise((r) => { timer = setTimeout(() => r(null), timeout); })]);
      clearTimeout(timer);
      if (!res) {
        try { this.proc.kill('SIGKILL'); } catch { /* gone */ }
        await this.exitPromise;
        this.exit.forced = true;
      }
    }
    return this.exit;
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  // Kill Janus with `signal` (no clean shutdown) and wait until it is gone. Returns {code, signal}.
  async kill(signal = 'SIGKILL') {
    if (!this.proc) return null;
    if (!this.exit) {
      try { this.proc.kill(signal); } catch { /* gone */ }
      await this.exitPromise;
    }
    return this.exit;
  }

  // Stop and remove the temporary folder (logs stay in test-artifacts/janus).
  async dispose() {
    const res = await this.stop();
    process.removeListener('exit', this._onProcessExit);
    if (!process.env.AH_KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
    return res;
  }

  logTail(n = 30) {
    try {
      const lines = fs.readFileSync(this.logFile, 'utf8').split('\n');
      return lines.slice(-n).join('\n');
    } catch {
      return '(no log)';
    }
  }

  // A raw Admin API request (admin_secret and transaction are added). Returns the parsed reply.
  adminRaw(body, timeout = 10000) {
    const req = { transaction: `t${Math.random().toString(36).slice(2)}`, admin_secret: this.adminSecret, ...body };
    return httpPostJson(this.adminUrl, req, timeout);
  }

  // Admin API message_plugin: returns the plugin's `response` object. Throws on a Janus-level error.
  async admin(request, { plugin = ALLHANDS, timeout = 10000 } = {}) {
    const reply = await this.adminRaw({ janus: 'message_plugin', plugin, request }, timeout);
    if (reply.janus !== 'success') {
      const err = new Error(`Admin API message_plugin failed: ${JSON.stringify(reply)}`);
      err.reply = reply;
      throw err;
    }
    return reply.response;
  }
}

function tcpOpen(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

// POST a JSON body without keep-alive (an idle pooled socket would keep the test process alive).
export function httpPostJson(url, body, timeout = 10000) {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': data.length, connection: 'close' },
      timeout,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try { resolve(JSON.parse(text)); } catch { reject(new Error(`non-JSON reply (HTTP ${res.statusCode}): ${text.slice(0, 300)}`)); }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`HTTP request to ${url} timed out after ${timeout} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}
