#!/usr/bin/env node
// Runs the multi-node test files (tests/cluster/*.test.mjs) with Node's test runner inside a client
// network namespace on a private Linux bridge.
//
// It makes a "switch" namespace `ahk<pid>-sw` holding a bridge `br0`, and a client namespace
// `ahk<pid>-client` joined to the bridge by a veth pair (`eth0` at 10.98.X.2/24 in the client namespace,
// port `k-client` on the bridge; no route out). `node --test --test-concurrency=1` runs in the client
// namespace (entered with `nsenter --net`, so the tests can still create namespaces of their own),
// where tests/cluster/lib/cluster.mjs adds one namespace per Janus node and per redis-server to the
// same bridge. At the end, also on failure or Ctrl-C, it ends every process in every `ahk<pid>-*`
// namespace and removes those namespaces (namespaces of earlier runs whose runner is gone are removed
// at the start). X is the runner's pid mod 250, plus 1; the integration runner uses 10.99.X.0/24.
//
// Usage (as root): node tests/cluster/run.mjs [test files...]
//   AH_PLUGIN_SO=path       plugin to test (default: the Debian package's, see AH_DEB, else
//                           .libs/libjanus_allhands.so)
//   AH_DEB=path             the .deb built by the package stage (scripts/test.sh exports it): unpacked
//                           into the run's folder, and every node loads the plugin it installs
//   AH_TAP_FILE=path        also write a TAP report there (default test-artifacts/cluster.tap)
//   AH_TEST_TIMEOUT=ms      per-test timeout (default 240000)
// SPDX-License-Identifier: GPL-3.0-or-later
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, REPO_ROOT } from '../integration/lib/util.mjs';
import { addBridgeHost, ip, nsList, removeNs, removeStale } from '../integration/lib/netns.mjs';
import { requireRootAndIp, runSuite, testFiles } from '../integration/lib/runner.mjs';

const HERE = path.join(REPO_ROOT, 'tests', 'cluster');

// Fleets install the Debian package (docs/operations.md): unpack `deb` (dpkg-deb -x, what dpkg
// installs) into `dir` and return the path of the plugin it puts in Janus's plugin folder; null
// without a .deb. A .deb that cannot be unpacked or holds no plugin stops the run.
function installedFromDeb(deb, dir) {
  if (!deb) return null;
  const root = path.join(dir, 'deb-root');
  const r = spawnSync('dpkg-deb', ['-x', deb, root], { encoding: 'utf8' });
  const lib = path.join(root, 'usr', 'lib');
  const so = (r.status === 0 && fs.existsSync(lib) ? fs.readdirSync(lib) : [])
    .map((arch) => path.join(lib, arch, 'janus', 'plugins', 'libjanus_allhands.so')).find((f) => fs.existsSync(f));
  if (!so) {
    console.error(`tests/cluster/run.mjs: cannot install ${deb}: ${r.stderr || 'no plugin in it'}`);
    process.exit(2);
  }
  return so;
}

async function main() {
  requireRootAndIp('tests/cluster/run.mjs');
  if (spawnSync('nsenter', ['--version']).status !== 0) {
    console.error('tests/cluster/run.mjs: nsenter (util-linux) is missing');
    process.exit(2);
  }
  const files = testFiles(HERE, process.argv.slice(2));
  // AH_CLUSTER_NS_PREFIX (letters, default ahk): runs side by side on one host keep to their own names.
  const base = /^[a-z]{1,8}$/.test(process.env.AH_CLUSTER_NS_PREFIX || '') ? process.env.AH_CLUSTER_NS_PREFIX : 'ahk';
  removeStale(new RegExp(`^${base}(\\d+)-`));
  const prefix = `${base}${process.pid}`;
  const subnet = `10.98.${(process.pid % 250) + 1}`;
  const sw = `${prefix}-sw`;
  const clientNs = `${prefix}-client`;
  const clientIp = `${subnet}.2`;
  // Where cluster.mjs records the host numbers it handed out (never reused within a run, so no
  // neighbour cache holds an old MAC address for a new host), and the tests' TMPDIR: the config and
  // data folders of nodes and Redis go away with it even when a test file dies before its teardown.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const pluginSo = process.env.AH_PLUGIN_SO || installedFromDeb(process.env.AH_DEB, dir);
  await runSuite({
    who: 'tests/cluster/run.mjs',
    files,
    tapFile: process.env.AH_TAP_FILE || path.join(ARTIFACTS, 'cluster.tap'),
    enter: ['nsenter', `--net=/run/netns/${clientNs}`, '--'],
    env: {
      AH_CLUSTER_PREFIX: prefix,
      AH_CLUSTER_SWITCH: sw,
      AH_CLUSTER_BRIDGE: 'br0',
      AH_CLUSTER_SUBNET: subnet,
      AH_CLUSTER_DIR: dir,
      AH_CLUSTER_NETNS: clientNs,
      AH_CLIENT_IP: clientIp,
      AH_WERIFT_IP: clientIp,
      TMPDIR: dir,
      ...(pluginSo ? { AH_PLUGIN_SO: pluginSo } : {}),
    },
    setup: () => {
      ip(['netns', 'add', sw]);
      ip(['-n', sw, 'link', 'set', 'lo', 'up']);
      ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
      ip(['-n', sw, 'link', 'set', 'br0', 'up']);
      addBridgeHost({ switchNs: sw, bridge: 'br0', ns: clientNs, port: 'k-client', addr: clientIp });
    },
    // Nodes and Redis first (their processes end), then the client namespace, the switch last.
    cleanup: async () => {
      const mine = nsList().filter((ns) => ns.startsWith(`${prefix}-`));
      const last = [clientNs, sw].filter((ns) => mine.includes(ns));
      for (const ns of [...mine.filter((ns) => !last.includes(ns)), ...last]) await removeNs(ns);
      if (!process.env.AH_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
    },
    banner: `# cluster: switch ${sw} (bridge br0), client ${clientNs} at ${clientIp}/24, ${files.length} test file(s); `
      + `plugin ${pluginSo || 'of this build (.libs)'}`,
  });
}

main();
