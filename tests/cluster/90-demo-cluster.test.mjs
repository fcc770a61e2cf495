// The cluster demo (`bash scripts/demo.sh --cluster N`, scripts/demo-cluster.sh; docs/cluster.md,
// "Trying it: the cluster demo"), run as a user runs it, with two nodes, in this test's namespace (its
// namespaces named after the runner's prefix, so the runner removes them even if the test dies): it
// prints where everything is; the pages are served and name each node; every node's Admin API answers
// and lists both nodes alive in `status.cluster.nodes`, and has the demo tenant and room; SIGTERM stops
// it and leaves no namespace, link or process behind. A bad node count is refused before anything starts.
// SPDX-License-Identifier: GPL-3.0-or-later
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { httpPostJson } from '../integration/lib/janus.mjs';
import { nsList, pidAlive } from '../integration/lib/netns.mjs';
import { REPO_ROOT, freePort, waitFor } from '../integration/lib/util.mjs';
import { clusterEnv } from './lib/cluster.mjs';

const env = clusterEnv();
const PREFIX = `${env.prefix}-dm`;
const HOST_IF = 'ahdt0';
// A subnet of its own: not the run's bridge's, not the real demo's 10.98.0.
const SUBNET = `10.96.${(process.pid % 250) + 1}`;
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'ah-demo-cluster-'));
let demo = null;

after(() => {
  if (demo && demo.exitCode === null) try { demo.kill('SIGKILL'); } catch { /* gone */ }
  if (!process.env.AH_KEEP_TMP) fs.rmSync(DIR, { recursive: true, force: true });
});

function httpGet(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false, timeout: 10000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject);
  });
}

const mine = () => nsList().filter((ns) => ns.startsWith(`${PREFIX}-`));

test('a bad node count is refused before anything starts', () => {
  for (const args of [['scripts/demo.sh', '--cluster', '7', '--no-setup'], ['scripts/demo-cluster.sh', '--nodes', '1']]) {
    const r = spawnSync('bash', args, { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, AH_DEMO_PREFIX: PREFIX, AH_DEMO_DIR: DIR } });
    assert.notEqual(r.status, 0, `${args.join(' ')} must fail`);
    assert.match(r.stderr, /2 to 5/, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.deepEqual(mine(), []);
});

test('two nodes and Redis form a cluster with the pages, and SIGTERM removes everything', { timeout: 240000 }, async () => {
  const webPort = await freePort();
  let out = '';
  demo = spawn('bash', ['scripts/demo.sh', '--cluster', '2', '--no-setup', '--web-port', String(webPort)], {
    cwd: REPO_ROOT,
    env: { ...process.env, AH_DEMO_PREFIX: PREFIX, AH_DEMO_HOST_IF: HOST_IF, AH_DEMO_SUBNET: SUBNET, AH_DEMO_DIR: DIR },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout.on('data', (d) => { out += d; });
  demo.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => demo.on('exit', (code, signal) => resolve({ code, signal })));
  await waitFor(() => {
    if (demo.exitCode !== null) throw new Error(`the demo exited: ${out}`);
    return out.includes('Ctrl-C stops everything');
  }, { timeout: 180000, interval: 200, what: 'the cluster demo to start' });

  const secret = (/Admin API secret \(every node\): (\w+)/.exec(out) || [])[1];
  assert.ok(secret, out);
  assert.match(out, new RegExp(`Redis\\s+${SUBNET.replace(/\./g, '\\.')}\\.5:6379`));
  const nodes = [1, 2].map((i) => ({ id: `n${i}`, ip: `${SUBNET}.${10 + i}` }));
  for (const n of nodes) {
    const page = `http://localhost:${webPort}/attendee.html?server=ws://${n.ip}:8188/&tenant=demo&room=allhands`;
    assert.ok(out.includes(page), `the output names ${page}`);
    const r = await httpGet(page.replace('localhost', '127.0.0.1'));
    assert.equal(r.status, 200);
    assert.match(r.body, /<html/i);
    const admin = (request) => httpPostJson(`http://${n.ip}:7088/admin`, { janus: 'message_plugin', plugin: 'janus.plugin.allhands', request, admin_secret: secret, transaction: `t${Math.random()}` });
    const s = await admin({ request: 'status' });
    assert.equal(s.janus, 'success', JSON.stringify(s));
    const c = s.response.cluster;
    assert.equal(c.node_id, n.id);
    assert.equal(c.redis.connected, true);
    assert.deepEqual(c.nodes.filter((x) => x.alive).map((x) => x.id), ['n1', 'n2'], JSON.stringify(c.nodes));
    const room = await admin({ request: 'list_rooms', tenant: 'demo' });
    assert.ok(JSON.stringify(room.response).includes('"allhands"'), JSON.stringify(room));
  }
  const vendor = await httpGet(`http://127.0.0.1:${webPort}/vendor/janus.js`);
  assert.equal(vendor.status, 200);
  const pids = [...fs.readdirSync('/proc')].filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(DIR); } catch { return false; }
  });
  assert.ok(pids.length >= 3, `Janus nodes and Redis run from ${DIR}: ${pids}`);
  assert.equal(mine().length, 4, `namespaces ${mine()}`);

  demo.kill('SIGTERM');
  const e = await exited;
  assert.notEqual(e.code, null, `the demo exits by itself on SIGTERM (${JSON.stringify(e)})`);
  assert.match(out, /stopped; logs and state stay in/);
  assert.deepEqual(mine(), [], 'no namespace left');
  assert.equal(spawnSync('ip', ['link', 'show', HOST_IF]).status, 1, `link ${HOST_IF} removed`);
  await waitFor(() => pids.every((p) => !pidAlive(p)), { timeout: 10000, what: 'the nodes and Redis to be gone' });
});
