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
import path from 'node:path';
import { ARTIFACTS, REPO_ROOT } from './lib/util.mjs';
import { ip, removeNs, removeStale } from './lib/netns.mjs';
import { requireRootAndIp, runSuite, testFiles } from './lib/runner.mjs';

const HERE = path.join(REPO_ROOT, 'tests', 'integration');

function setupNetns(ns, x) {
  ip(['netns', 'add', ns]);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  ip(['-n', ns, 'link', 'add', 'ahj0', 'type', 'veth', 'peer', 'name', 'ahc0']);
  ip(['-n', ns, 'addr', 'add', `10.99.${x}.1/24`, 'dev', 'ahj0']);
  ip(['-n', ns, 'addr', 'add', `10.99.${x}.2/24`, 'dev', 'ahc0']);
  ip(['-n', ns, 'link', 'set', 'ahj0', 'up']);
  ip(['-n', ns, 'link', 'set', 'ahc0', 'up']);
}

async function main() {
  requireRootAndIp('run.mjs');
  const files = testFiles(HERE, process.argv.slice(2));
  removeStale(/^ah-(\d+)$/);
  const ns = `ah-${process.pid}`;
  const x = (process.pid % 250) + 1;
  await runSuite({
    who: 'run.mjs',
    files,
    tapFile: process.env.AH_TAP_FILE || path.join(ARTIFACTS, 'integration.tap'),
    enter: ['ip', 'netns', 'exec', ns],
    env: { AH_NETNS: ns, AH_JANUS_IFACE: 'ahj0', AH_JANUS_IP: `10.99.${x}.1`, AH_CLIENT_IP: `10.99.${x}.2` },
    setup: () => setupNetns(ns, x),
    // End what is still running in our namespace (Janus instances, client processes we started).
    cleanup: () => removeNs(ns),
    banner: `# integration: namespace ${ns} (Janus 10.99.${x}.1 on ahj0), ${files.length} test file(s)`,
  });
}

main();
