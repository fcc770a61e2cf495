// The multi-node harness used from inside a cluster test (tests/cluster/run.mjs runs the tests in
// the client namespace of a private bridge and exports AH_CLUSTER_*): a `Cluster` adds namespaces
// to the bridge, one per Janus node (a JanusServer of tests/integration/lib/janus.mjs started under
// `ip netns exec`, media and APIs on its bridge address, `ice_enforce_list` on its veth) and one per
// redis-server; injects faults (SIGKILL a node, kill/stop/start Redis, restart it empty, partition a
// host from the bridge by taking its link down and heal it, limit a host's link with a tc tbf); runs
// redis-cli from any namespace; and tears down everything it started (Janus, Redis, namespaces).
// SPDX-License-Identifier: GPL-3.0-or-later
import crypto from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JanusServer } from '../../integration/lib/janus.mjs';
import { addBridgeHost, ip, nsList, nsPids, removeNs } from '../../integration/lib/netns.mjs';
import { ARTIFACTS, mkdirp, waitFor } from '../../integration/lib/util.mjs';

// The network the runner prepared (see run.mjs).
// The cluster_secret every node of a test run shares (startNode adds it in cluster mode).
export const CLUSTER_SECRET = 'cluster-test-secret-0123456789abcdef';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// A seat ticket for `node` (an edge), as a room's origin signs one when its queue drains into that edge
// (include/allhands/ticket.h: a redirect ticket naming the serving node, priority class), with the
// run's CLUSTER_SECRET. Tests and benchmarks use it to seat attendees on a chosen edge.
export function seatTicket(node, { tenant, room, ptype = 'attendee', priority = true, sub = '', ttlS = 60 } = {}) {
  const payload = {
    c: priority, e: Math.floor(Date.now() / 1000) + ttlS, n: node, p: ptype, r: room, s: sub, t: tenant, v: 1,
    x: crypto.randomBytes(16).toString('hex'),
  };
  const encoded = b64url(JSON.stringify(payload));
  const mac = crypto.createHmac('sha256', CLUSTER_SECRET).update(`ah-ticket-v1.${encoded}`).digest();
  return `${encoded}.${b64url(mac)}`;
}

export function clusterEnv() {
  const e = process.env;
  const env = {
    prefix: e.AH_CLUSTER_PREFIX,
    switchNs: e.AH_CLUSTER_SWITCH,
    bridge: e.AH_CLUSTER_BRIDGE,
    subnet: e.AH_CLUSTER_SUBNET,
    dir: e.AH_CLUSTER_DIR,
    clientNs: e.AH_CLUSTER_NETNS,
    clientIp: e.AH_CLIENT_IP,
  };
  if (Object.values(env).some((v) => !v)) {
    throw new Error('the cluster tests must run inside the cluster test network: use `node tests/cluster/run.mjs` (as root)');
  }
  return env;
}

// Run `cmd args` in namespace `ns` (null: this process's own, the client namespace). Never rejects:
// resolves {ok, code, timedOut, stdout, stderr}; a command still running after `timeout` ms is killed.
export function run(ns, cmd, args = [], { timeout = 10000 } = {}) {
  const [file, argv] = ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
  return new Promise((resolve) => {
    execFile(file, argv, { timeout, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ ok: !err, code: err ? err.code : 0, timedOut: !!(err && err.killed), stdout, stderr });
    });
  });
}

function tc(args, { check = true } = {}) {
  return new Promise((resolve, reject) => {
    execFile('tc', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && check) reject(new Error(`tc ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

// A process started under `ip netns exec` (which execs in place: the PID is the command's own),
// its output appended to `logFile`. Resolves `exited` with {code, signal}.
function spawnIn(ns, cmd, args, logFile) {
  const fd = fs.openSync(logFile, 'a');
  const proc = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  proc.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  proc.on('error', () => {});
  return proc;
}

// A namespace on the bridge: {name, ns, ip, iface (eth0, inside ns), port (its bridge port)}.
export class Host {
  constructor({ name, ns, ip: addr, port }) {
    this.name = name;
    this.ns = ns;
    this.ip = addr;
    this.iface = 'eth0';
    this.port = port;
  }
}

// A Janus node: a Host whose namespace runs `janus` (a JanusServer with the allhands plugin).
export class ClusterNode extends Host {
  constructor(host, janus) {
    super(host);
    this.janus = janus;
  }

  get alive() { return this.janus.alive; }
}

// One redis-server in its own namespace, listening on its bridge address. Persistence: none
// (`--save '' --appendonly no`) unless `aof`, then an append-only file with `appendfsync always`
// in a folder that survives stop/kill/start (restartEmpty() wipes it).
export class RedisServer extends Host {
  constructor(host, { port = 6379, aof = false, args = [] } = {}) {
    super(host);
    this.redisPort = port;
    this.aof = aof;
    this.extraArgs = args;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `ah-redis-${host.name}-`));
    this.logFile = path.join(mkdirp(path.join(ARTIFACTS, 'redis')), `${host.ns}.log`);
    this.proc = null;
    this.exit = null;
    this.starts = 0;
    this._onProcessExit = () => { if (this.alive) try { this.proc.kill('SIGKILL'); } catch { /* gone */ } };
    process.on('exit', this._onProcessExit);
  }

  get alive() { return !!this.proc && !this.exit; }
  get address() { return `${this.ip}:${this.redisPort}`; }

  // `redis-cli ARGS` against this server from namespace `from` (a Host, or null for the client
  // namespace). Resolves run()'s result; `timeout` bounds the whole command (redis-cli 7.0 has no
  // connect timeout of its own).
  cli(from, args, { timeout = 5000 } = {}) {
    return run(from ? from.ns : null, 'redis-cli', ['-h', this.ip, '-p', String(this.redisPort), ...args], { timeout });
  }

  // redis-cli's answer (trimmed stdout), or `error: ...` when it could not get one.
  async ask(from, ...args) {
    const r = await this.cli(from, args);
    if (!r.ok) return `error: ${r.timedOut ? 'timed out' : (r.stderr || r.stdout).trim() || `exit ${r.code}`}`;
    return r.stdout.trim();
  }

  // Start (or start again, same folder) and wait until it answers PING from the client namespace.
  async start({ timeout = 10000 } = {}) {
    if (this.alive) throw new Error(`redis ${this.name} already running`);
    const args = ['--bind', this.ip, '--port', String(this.redisPort), '--protected-mode', 'no', '--daemonize', 'no',
      '--dir', this.dir, '--logfile', '', '--save', '',
      ...(this.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), ...this.extraArgs];
    this.starts += 1;
    fs.appendFileSync(this.logFile, `--- start ${this.starts}: redis-server ${args.join(' ')}\n`);
    this.exit = null;
    const proc = spawnIn(this.ns, 'redis-server', args, this.logFile);
    this.proc = proc;
    proc.exited.then((e) => { if (this.proc === proc) this.exit = e; });
    await waitFor(async () => {
      if (this.exit) throw new Error(`redis-server exited during startup: ${JSON.stringify(this.exit)} (log: ${this.logFile})`);
      return (await this.ask(null, 'ping')) === 'PONG';
    }, { timeout, interval: 100, what: `redis ${this.name} at ${this.address} to answer PING` });
    return this;
  }

  // SIGKILL (no shutdown: what the AOF holds is what survives). Returns {code, signal}.
  async kill() { return this._end('SIGKILL'); }

  // SIGTERM (a clean shutdown), SIGKILL after `timeout`. Returns {code, signal}.
  async stop({ timeout = 10000 } = {}) { return this._end('SIGTERM', timeout); }

  async _end(signal, timeout = 10000) {
    if (!this.alive) return this.exit;
    try { this.proc.kill(signal); } catch { /* gone */ }
    let timer;
    const res = await Promise.race([this.proc.exited, new Promise((r) => { timer = setTimeout(() => r(null), timeout); })]);
    clearTimeout(timer);
    if (!res) {
      try { this.proc.kill('SIGKILL'); } catch { /* gone */ }
      this.exit = await this.proc.exited;
    } else this.exit = res;
    return this.exit;
  }

  // Stop and start again with whatever its folder holds (an AOF server keeps its data).
  async restart() {
    await this.stop();
    return this.start();
  }

  // Stop, remove its data (append-only file, dump), start again: an empty Redis at the same address.
  async restartEmpty() {
    await this.stop();
    for (const f of fs.readdirSync(this.dir)) fs.rmSync(path.join(this.dir, f), { recursive: true, force: true });
    return this.start();
  }

  async dispose() {
    await this.stop();
    process.removeListener('exit', this._onProcessExit);
    if (!process.env.AH_KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Hands out host numbers 10..254 of the run's /24 (a file per number in the runner's folder, made
// with O_EXCL): never reused within a run, even by another test file.
function allocHostNumber(dir) {
  for (let n = 10; n <= 254; n++) {
    try {
      fs.closeSync(fs.openSync(path.join(dir, `host-${n}`), 'wx'));
      return n;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
  }
  throw new Error('cluster: no host address left in this run (10..254 all used)');
}

// Parse `tc -s qdisc show` for the root qdisc: {kind, sentBytes, sentPackets, dropped, overlimits, text}.
export function parseQdisc(text) {
  const kind = (/^qdisc (\S+)/m.exec(text) || [])[1] || null;
  const m = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(text) || [];
  const n = (i) => Number(m[i] || 0);
  return { kind, sentBytes: n(1), sentPackets: n(2), dropped: n(3), overlimits: n(4), text };
}

export class Cluster {
  constructor() {
    this.env = clusterEnv();
    this.hosts = [];
    this.nodes = [];
    this.redises = [];
  }

  // The client namespace (where the test and its WebRTC clients run) as a Host.
  get client() {
    return new Host({ name: 'client', ns: this.env.clientNs, ip: this.env.clientIp, port: 'k-client' });
  }

  // A new namespace `<prefix>-<name>` on the bridge with the next free address of the run's /24.
  addHost(name) {
    if (!/^[a-z0-9]{1,12}$/.test(name) || name === 'client' || name === 'sw') {
      throw new Error(`cluster: host name "${name}" must be 1-12 of [a-z0-9], and not "client" or "sw"`);
    }
    const ns = `${this.env.prefix}-${name}`;
    if (nsList().includes(ns)) throw new Error(`cluster: namespace ${ns} already exists (host names are unique per run)`);
    const host = new Host({ name, ns, ip: `${this.env.subnet}.${allocHostNumber(this.env.dir)}`, port: `k-${name}` });
    this.hosts.push(host);
    addBridgeHost({ switchNs: this.env.switchNs, bridge: this.env.bridge, ns, port: host.port, addr: host.ip });
    return host;
  }

  // A Janus node in its own namespace. `opts` are JanusServer options (allhands, plugins,
  // sessionTimeout, ...); the network is the node's; `start` are JanusServer.start's ({timeout}).
  // Resolves once Janus answers with its plugins.
  async startNode(name, opts = {}, start = {}) {
    const host = this.addHost(name);
    const net = { netns: host.ns, iface: host.iface, janusIp: host.ip };
    // Cluster mode needs the cluster's shared secret (redirect tickets, docs/cluster.md): every
    // node of a run gets the same one unless the test gives its own (null leaves it out).
    if (opts.allhands?.cluster && !('cluster_secret' in opts.allhands)) {
      opts = { ...opts, allhands: { ...opts.allhands, cluster_secret: CLUSTER_SECRET } };
    }
    const janus = new JanusServer({ name: `node-${name}`, ...opts, net });
    const node = new ClusterNode(host, janus);
    this.nodes.push(node);
    await janus.start(start);
    return node;
  }

  // SIGKILL a node's Janus and wait until it is gone. Returns {code, signal}.
  async killNode(node) {
    return node.janus.kill('SIGKILL');
  }

  // A redis-server in its own namespace (options: port, aof, args; see RedisServer), answering PING.
  async startRedis(name = 'redis', opts = {}) {
    const redis = new RedisServer(this.addHost(name), opts);
    this.redises.push(redis);
    await redis.start();
    return redis;
  }

  // Cut a host off the bridge (`ip link set eth0 down` in its namespace); heal() undoes it. What
  // runs in the namespace keeps running and keeps its address.
  partition(host) { ip(['-n', host.ns, 'link', 'set', host.iface, 'down']); }

  heal(host) { ip(['-n', host.ns, 'link', 'set', host.iface, 'up']); }

  // Limit a host's link with a token bucket filter: `out` shapes what the host sends (root qdisc
  // on its eth0), `in` what the bridge sends it (root qdisc on its bridge port), `both` both.
  // Packets beyond the bucket and its queue are dropped (tbf's `latency` bounds the queue).
  async limit(host, { rate, burst = '16kb', latency = '100ms', direction = 'out' } = {}) {
    if (!rate) throw new Error('cluster.limit: rate is required (e.g. "200kbit")');
    for (const [ns, dev] of this._links(host, direction)) {
      await tc(['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', burst, 'latency', latency]);
    }
  }

  async unlimit(host, { direction = 'both' } = {}) {
    for (const [ns, dev] of this._links(host, direction)) {
      await tc(['-n', ns, 'qdisc', 'del', 'dev', dev, 'root'], { check: false });
    }
  }

  // The root qdisc's counters on the host's link in `direction` ('out' or 'in'), see parseQdisc().
  async qdiscStats(host, direction = 'out') {
    const [[ns, dev]] = this._links(host, direction);
    return parseQdisc(await tc(['-n', ns, '-s', 'qdisc', 'show', 'dev', dev, 'root']));
  }

  _links(host, direction) {
    const out = [host.ns, host.iface];
    const inn = [this.env.switchNs, host.port];
    if (direction === 'out') return [out];
    if (direction === 'in') return [inn];
    if (direction === 'both') return [out, inn];
    throw new Error(`cluster: direction must be out, in or both, not ${direction}`);
  }

  // Stop every node (SIGTERM) and Redis, end whatever else runs in the namespaces made here, and
  // remove them. Safe to call twice.
  async teardown() {
    const nodes = this.nodes.splice(0);
    const redises = this.redises.splice(0);
    const hosts = this.hosts.splice(0);
    await Promise.all(nodes.map((n) => n.janus.dispose().catch(() => {})));
    await Promise.all(redises.map((r) => r.dispose().catch(() => {})));
    for (const h of hosts.reverse()) await removeNs(h.ns);
  }

  // The processes inside a host's namespace.
  pids(host) { return nsPids(host.ns); }
}

// A janode attendee following redirects as clients do (docs/cluster.md, "Edges"): `first` is the
// join's reply or the handle's async `redirect` event (reason "seat": the origin's queue admitted it
// and its seat is on an edge). Each redirect opens a new handle on the node whose ws URL it names
// (`nodes`: ClusterNodes), joined with its ticket and `display`, at most `maxRedirects` in a row (as
// web/attendee.js's MAX_REDIRECTS). Resolves {h, node, reply, redirects}: the last handle, its node
// and its join's reply (admitted or queued). `openHandle(janus)` opens a handle (the test's Bag).
export async function followRedirects(first, { nodes, tenant, room, display, openHandle, maxRedirects = 3 }) {
  let msg = first;
  const redirects = [];
  for (;;) {
    if (msg?.event !== 'redirect') throw new Error(`followRedirects: not a redirect: ${JSON.stringify(msg)}`);
    redirects.push(msg);
    if (redirects.length > maxRedirects) throw new Error(`followRedirects: more than ${maxRedirects} redirects in a row`);
    const node = nodes.find((n) => n.janus.wsUrl === msg.url);
    if (!node) throw new Error(`followRedirects: no node at ${msg.url}`);
    const h = await openHandle(node.janus);
    const body = { request: 'join', tenant, room, ptype: 'attendee', ticket: msg.ticket };
    if (display) body.display = display;
    const reply = (await h.request(body)).data;
    if (reply?.event !== 'redirect') return { h, node, reply, redirects };
    msg = reply;
  }
}
