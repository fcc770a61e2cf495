#!/bin/bash
# Media across nodes benchmark (issue 14): attendees carried by one node against three nodes serving
# one room under the same per-node CPU quota, the latency one edge hop adds, and the origin's CPU per
# edge subscribed. Method and figures: docs/benchmarks.md, "Media across nodes (issue 14)".
# Orchestrator: bench/media/run.mjs (its header lists every MEDIA_* variable); attendees:
# bench/media/worker.mjs (the C load client, bench/loadclient).
#
# Like scripts/bench-cluster.sh it makes a private bridge (switch namespace bm<pid>-sw, bridge br0) and
# a client namespace bm<pid>-client, and runs the orchestrator there, pinned to CPU MEDIA_CLIENT_CPU (1)
# with its presenter, load clients and redis-server; the cluster harness (tests/cluster/lib/cluster.mjs)
# adds a namespace per Janus node and per redis-server. Every Janus node is pinned to CPU
# MEDIA_JANUS_CPU (0) and put in a cgroup of its own with a CFS quota of MEDIA_QUOTA % of a core
# (10 ms period), created under MEDIA_CG (a cgroup bm<pid> made here). Nothing leaves the machine;
# everything started is stopped, every bm<pid>-* namespace and the cgroups are removed on exit.
# Results: the tables on stdout, test-artifacts/bench-media/ (run.log, results.json, Janus and Redis
# logs).
# Usage (as root): bash scripts/bench-media.sh     e.g. MEDIA_QUOTA=25 MEDIA_PHASES=hop bash scripts/bench-media.sh
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "$0: needs root (network namespaces, cgroups)" >&2; exit 2; }
for c in ip nsenter taskset redis-server redis-cli node /usr/bin/janus; do
  command -v "$c" >/dev/null || { echo "$0: $c is missing (scripts/setup.sh installs it)" >&2; exit 2; }
done
[ -d node_modules/ws ] || { echo "$0: node_modules/ws is missing: run npm ci" >&2; exit 2; }
make -s -j2 >/dev/null
[ -f .libs/libjanus_allhands.so ] || { echo "$0: .libs/libjanus_allhands.so is missing: run scripts/setup.sh" >&2; exit 2; }
[ -x bench/loadclient/ah-loadclient ] || { echo "$0: bench/loadclient/ah-loadclient is missing: run make" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || true

JANUS_CPU=${MEDIA_JANUS_CPU:-0}
CLIENT_CPU=${MEDIA_CLIENT_CPU:-1}
PREFIX=bm$$
SW=$PREFIX-sw
CLIENT=$PREFIX-client
SUBNET=10.96.$(( ($$ % 250) + 1 ))
DIR=$(mktemp -d "/tmp/$PREFIX-XXXX")
export AH_ARTIFACTS=${AH_ARTIFACTS:-$PWD/test-artifacts/bench-media}
mkdir -p "$AH_ARTIFACTS"

# The parent cgroup of the nodes' cgroups (cgroup v2 or v1's cpu controller).
# The clients (orchestrator, presenter, load clients, Redis) go to $CG/clients, with a large CPU weight
# and no quota, so that other work on the machine delays them as little as the nodes (bench/media/run.mjs
# weights the nodes' cgroups likewise).
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  CG=/sys/fs/cgroup/$PREFIX
  mkdir -p "$CG"
  echo +cpu > "$CG/cgroup.subtree_control" 2>/dev/null || true
  mkdir -p "$CG/clients"
  echo 800 > "$CG/clients/cpu.weight" 2>/dev/null || true
else
  CG=/sys/fs/cgroup/cpu/$PREFIX
  mkdir -p "$CG/clients"
  echo 8192 > "$CG/clients/cpu.shares"
fi

cleanup() {
  trap - EXIT INT TERM
  local mine
  mine=$(ip netns list | awk '{print $1}' | grep "^$PREFIX-" || true)
  for ns in $(echo "$mine" | grep -v -e "^$CLIENT\$" -e "^$SW\$") $CLIENT $SW; do
    echo "$mine" | grep -qx "$ns" || continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
  done
  sleep 1
  for ns in $(echo "$mine" | grep -v -e "^$CLIENT\$" -e "^$SW\$") $CLIENT $SW; do
    echo "$mine" | grep -qx "$ns" || continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  sleep 0.5
  for d in "$CG"/*/; do if [ -d "$d" ]; then rmdir "$d" 2>/dev/null || true; fi; done
  rmdir "$CG" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=scripts/bench-bridge.sh
. scripts/bench-bridge.sh
bench_bridge "$SW" "$CLIENT" "$SUBNET"

printf '#!/bin/sh\nexec taskset -c %s /usr/bin/janus "$@"\n' "$JANUS_CPU" > "$DIR/janus-pinned.sh"
chmod +x "$DIR/janus-pinned.sh"

echo "# bench-media: Janus nodes on CPU $JANUS_CPU (cgroups under $CG), clients and Redis on CPU $CLIENT_CPU"
echo "# bench-media: switch $SW (bridge br0), client $CLIENT at $SUBNET.2/24, load average $(cut -d' ' -f1-3 /proc/loadavg)"
AH_CLUSTER_PREFIX=$PREFIX AH_CLUSTER_SWITCH=$SW AH_CLUSTER_BRIDGE=br0 AH_CLUSTER_SUBNET=$SUBNET \
AH_CLUSTER_DIR=$DIR AH_CLUSTER_NETNS=$CLIENT AH_CLIENT_IP=$SUBNET.2 TMPDIR=$DIR \
AH_JANUS_BIN=$DIR/janus-pinned.sh MEDIA_CG=$CG AH_JANUS_DEBUG_LEVEL=${AH_JANUS_DEBUG_LEVEL:-3} \
  bash -c 'echo $$ > "$0/clients/cgroup.procs" && exec nsenter --net="/run/netns/$1" taskset -c "$2" node bench/media/run.mjs' \
  "$CG" "$CLIENT" "$CLIENT_CPU" 2>&1 | tee "$AH_ARTIFACTS/run.log"
exit "${PIPESTATUS[0]}"
