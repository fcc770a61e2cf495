#!/usr/bin/env node
// Runs the integration test files with Node's test runner inside a private network namespace.
//
// Janus never gathers ICE candidates on loopback and the machine's NIC must not be used, so this
// makes a namespace `ah-<pid>` with `lo` up and a veth pair inside it (Janus end 10.99.X.1 on
// `ahj0`, client end 10.99.X.2 on `ahc0`; the namespace has no route out), runs
// `node --test` inside it (so Janus, janode and wrtc all live there), then removes the
// namespace and ends the processes left in it, also on failure or Ctrl-C.
//
// Usage (as root): node tests/integration/run.mjs [test files...]
//   AH_PLUGIN_SO=path       plugin to test (default .libs/libjanus_allhands.so)
//   AH_TAP_FILE=path        also write a TAP report there (default test-artifacts/integration.tap)
//   AH_TEST_TIMEOUT=ms      per-test timeout (default 240000)
// SPDX-License-Identifier: GPL-3.0-or-later
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, REPO_ROOT, mkdirp } from './lib/util.mjs';

const HERE = path.join(REPO_ROOT, 'tests', 'integration');

function ip(args, { check = true } = {}) {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (check && r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr || r.error}`);
  return r;
}

function pidAlive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

function nsPids(ns) {
  const r = ip(['netns', 'pids', ns], { check: false });
  if (r.status !== 0) return [];
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p !== process.pid);
}

// Remove namespaces of earlier runs whose runner is gone (they hold nothing of ours any more).
function removeStale() {
  const r = ip(['netns', 'list'], { check: false });
  for (const line of (r.stdout || '').split('\n')) {
    const m = /^ah-(\d+)\b/.exec(line.trim());
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    const ns = `ah-${m[1]}`;
    if (nsPids(ns).length === 0) {
      ip(['netns', 'del', ns], { check: false });
      console.error(`# removed stale namespace ${ns}`);
    } else {
      console.error(`# warning: stale namespace ${ns} still has processes; leaving it`);
    }
  }
}

function setupNetns(ns, x) {
  ip(['netns', 'add', ns]);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  ip(['-n', ns, 'link', 'add', 'ahj0', 'type', 'veth', 'peer', 'name', 'ahc0']);
  ip(['-n', ns, 'addr', 'add', `10.99.${x}.1/24`, 'dev', 'ahj0']);
  ip(['-n', ns, 'addr', 'add', `10.99.${x}.2/24`, 'dev', 'ahc0']);
  ip(['-n', ns, 'link', 'set', 'ahj0', 'up']);
  ip(['-n', ns, 'link', 'set', 'ahc0', 'up']);
}

let cleaned = false;
async function cleanup(ns) {
  if (cleaned) return;
  cleaned = true;
  // End what is still running in our namespace (Janus instances, client processes we started).
  let pids = nsPids(ns);
  for (const p of pids) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
  const deadline = Date.now() + 5000;
  while (pids.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    pids = pids.filter(pidAlive);
  }
  for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  ip(['netns', 'del', ns], { check: false });
}

async function main() {
  if (process.getuid && process.getuid() !== 0) {
    console.error('run.mjs: the integration tests need root (network namespaces). Run as root, e.g. sudo.');
    process.exit(2);
  }
  if (spawnSync('ip', ['-V']).status !== 0) {
    console.error('run.mjs: `ip` (iproute2) is missing: run scripts/setup.sh');
    process.exit(2);
  }
  let files = process.argv.slice(2);
  if (files.length === 0) {
    files = fs.readdirSync(HERE).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => path.join(HERE, f));
  }
  mkdirp(ARTIFACTS);
  const tapFile = process.env.AH_TAP_FILE || path.join(ARTIFACTS, 'integration.tap');
  try { fs.unlinkSync(tapFile); } catch { /* none */ }

  removeStale();
  const ns = `ah-${process.pid}`;
  const x = (process.pid % 250) + 1;
  const onSignal = (sig) => {
    console.error(`# ${sig}: cleaning up ${ns}`);
    if (child) { try { child.kill('SIGTERM'); } catch { /* gone */ } }
    cleanup(ns).then(() => process.exit(130));
  };
  let child = null;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  let code = 1;
  try {
    setupNetns(ns, x);
    const env = {
      ...process.env,
      AH_NETNS: ns,
      AH_JANUS_IFACE: 'ahj0',
      AH_JANUS_IP: `10.99.${x}.1`,
      AH_CLIENT_IP: `10.99.${x}.2`,
      AH_ARTIFACTS: ARTIFACTS,
    };
    const args = [
      'netns', 'exec', ns, process.execPath, '--test',
      '--test-concurrency=1',
      `--test-timeout=${process.env.AH_TEST_TIMEOUT || 240000}`,
      '--test-reporter=spec', '--test-reporter-destination=stdout',
      '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
      ...files,
    ];
    console.log(`# integration: namespace ${ns} (Janus 10.99.${x}.1 on ahj0), ${files.length} test file(s)`);
    child = spawn('ip', args, { stdio: ['ignore', 'inherit', 'inherit'], env, cwd: REPO_ROOT });
    code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
    child = null;
  } catch (e) {
    console.error(`run.mjs: ${e.stack || e}`);
    code = 1;
  } finally {
    await cleanup(ns);
  }
  process.exit(code);
}

main();
