// Network-namespace helpers shared by the test runners (tests/integration/run.mjs,
// tests/cluster/run.mjs) and the cluster harness (tests/cluster/lib/cluster.mjs): run `ip`, list the
// processes inside a namespace, end them (SIGTERM, then SIGKILL after a grace period) and delete the
// namespace, and remove namespaces that a runner which is no longer alive left behind. Needs root and
// iproute2.
// SPDX-License-Identifier: GPL-3.0-or-later
import { spawnSync } from 'node:child_process';

// Run `ip ARGS` synchronously; throws with ip's message unless `check` is false.
export function ip(args, { check = true } = {}) {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (check && r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr || r.error}`);
  return r;
}

export function pidAlive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

// The processes inside namespace `ns` (never this process itself).
export function nsPids(ns) {
  const r = ip(['netns', 'pids', ns], { check: false });
  if (r.status !== 0) return [];
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p !== process.pid);
}

// Every namespace name, in `ip netns list` order.
export function nsList() {
  const r = ip(['netns', 'list'], { check: false });
  return (r.stdout || '').split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
}

// End what runs in `ns` (SIGTERM, SIGKILL after `graceMs`), then delete the namespace.
export async function removeNs(ns, { graceMs = 5000 } = {}) {
  let pids = nsPids(ns);
  for (const p of pids) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
  const deadline = Date.now() + graceMs;
  while (pids.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    pids = pids.filter(pidAlive);
  }
  for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  ip(['netns', 'del', ns], { check: false });
}

// Remove the namespaces of earlier runs whose runner is gone. `pattern` captures the runner's pid
// in its first group (e.g. /^ah-(\d+)$/). A namespace that still holds processes is left alone.
export function removeStale(pattern) {
  for (const ns of nsList()) {
    const m = pattern.exec(ns);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    if (nsPids(ns).length === 0) {
      ip(['netns', 'del', ns], { check: false });
      console.error(`# removed stale namespace ${ns}`);
    } else {
      console.error(`# warning: stale namespace ${ns} still has processes; leaving it`);
    }
  }
}

// A new namespace `ns` (lo up) joined to `bridge` in namespace `switchNs` by a veth pair: `port` on
// the bridge, `iface` (default eth0) inside `ns` with address `addr`/`prefixLen`. No route out.
export function addBridgeHost({ switchNs, bridge, ns, port, addr, iface = 'eth0', prefixLen = 24 }) {
  ip(['netns', 'add', ns]);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  ip(['-n', switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', iface, 'netns', ns]);
  ip(['-n', switchNs, 'link', 'set', port, 'master', bridge]);
  ip(['-n', switchNs, 'link', 'set', port, 'up']);
  ip(['-n', ns, 'addr', 'add', `${addr}/${prefixLen}`, 'dev', iface]);
  ip(['-n', ns, 'link', 'set', iface, 'up']);
}
