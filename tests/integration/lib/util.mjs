// Small helpers shared by the integration harness and tests.
// SPDX-License-Identifier: GPL-3.0-or-later
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const ARTIFACTS = process.env.AH_ARTIFACTS || path.join(REPO_ROOT, 'test-artifacts');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Poll `fn` until it returns a truthy value (returned) or `timeout` ms pass (throws, naming `what`).
// `fn` may be async. Exceptions thrown by `fn` count as "not yet" and the last one is reported.
export async function waitFor(fn, { timeout = 20000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastError = null;
  let lastValue;
  for (;;) {
    try {
      lastValue = await fn();
      if (lastValue) return lastValue;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const detail = lastError ? `; last error: ${lastError.message}` : `; last value: ${safeJson(lastValue)}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await sleep(interval);
  }
}

export function safeJson(v) {
  try {
    const s = JSON.stringify(v);
    return s && s.length > 600 ? s.slice(0, 600) + '…' : s;
  } catch {
    return String(v);
  }
}

// A promise that rejects after `ms` with a clear message.
export function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// A free TCP port on 127.0.0.1 (of the current network namespace).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function mkdirp(dir) {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

let uniq = 0;
// A short unique identifier usable as a tenant/room id: [A-Za-z0-9_-.], at most 64 chars.
export function uid(prefix = 'x') {
  uniq += 1;
  return `${prefix}-${process.pid}-${uniq}-${Math.random().toString(36).slice(2, 7)}`;
}
