// What the two test runners (tests/integration/run.mjs: one namespace; tests/cluster/run.mjs: a
// bridge and several namespaces) share: the root and iproute2 checks, the list of test files, and
// running `node --test --test-concurrency=1` (spec report on stdout, TAP report in a file) under a
// command that enters the test network, with the runner's cleanup run at the end, on failure and on
// SIGINT/SIGTERM/SIGHUP.
// SPDX-License-Identifier: GPL-3.0-or-later
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, REPO_ROOT, mkdirp } from './util.mjs';

// Exit 2 with a clear message unless running as root with `ip` (iproute2) installed.
export function requireRootAndIp(who) {
  if (process.getuid && process.getuid() !== 0) {
    console.error(`${who}: the tests need root (network namespaces). Run as root, e.g. sudo.`);
    process.exit(2);
  }
  if (spawnSync('ip', ['-V']).status !== 0) {
    console.error(`${who}: \`ip\` (iproute2) is missing: run scripts/setup.sh`);
    process.exit(2);
  }
}

// The files named on the command line, or every *.test.mjs of `dir` in name order.
export function testFiles(dir, args) {
  if (args.length) return args;
  return fs.readdirSync(dir).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => path.join(dir, f));
}

// Run the test files with Node's test runner as `enter... node --test ...` and exit with its code.
//   setup(): builds the network (may throw); cleanup(): async, removes it (runs once, always).
//   env: the environment of the tests; banner: printed before the run.
export async function runSuite({ who, files, tapFile, enter, env, setup, cleanup, banner }) {
  mkdirp(ARTIFACTS);
  try { fs.unlinkSync(tapFile); } catch { /* none */ }
  let child = null;
  let cleaned = null;
  const cleanOnce = () => (cleaned ||= Promise.resolve().then(cleanup)
    .catch((e) => console.error(`${who}: cleanup: ${e.stack || e}`)));
  const onSignal = (sig) => {
    console.error(`# ${sig}: cleaning up`);
    if (child) { try { child.kill('SIGTERM'); } catch { /* gone */ } }
    cleanOnce().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  let code = 1;
  try {
    setup();
    const args = [
      ...enter.slice(1), process.execPath, '--test',
      '--test-concurrency=1',
      `--test-timeout=${process.env.AH_TEST_TIMEOUT || 240000}`,
      '--test-reporter=spec', '--test-reporter-destination=stdout',
      '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
      ...files,
    ];
    console.log(banner);
    child = spawn(enter[0], args, {
      stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, AH_ARTIFACTS: ARTIFACTS, ...env }, cwd: REPO_ROOT,
    });
    code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
    child = null;
  } catch (e) {
    console.error(`${who}: ${e.stack || e}`);
    code = 1;
  } finally {
    await cleanOnce();
  }
  process.exit(code);
}
