#!/bin/bash
# Cluster benchmark (issue 13): the same storm of signalling-only joiners against one node alone, one
# node in cluster mode with Redis, and CB_NODES (3) nodes with Redis, side by side in one run; then the
# seat-reclaim time after a node is SIGKILLed, and a tenant cap binding across the nodes. Method and
# figures: docs/benchmarks.md, "Cluster". Orchestrator: bench/cluster/run.mjs (its header lists every
# CB_* variable); joiners: bench/cluster/worker.mjs.
#
# Like tests/cluster/run.mjs it makes a private bridge (switch namespace ahc<pid>-sw, bridge br0) and a
# client namespace ahc<pid>-client on it, and runs the orchestrator there; the harness of the cluster
# tests (tests/cluster/lib/cluster.mjs) adds a namespace per Janus node and per redis-server. Nothing
# leaves the machine. Everything it started is stopped and every ahc<pid>-* namespace removed on exit
# (also on Ctrl-C).
# Results: a table on stdout, docs/data/cluster-bench-<UTC stamp>.json (CB_OUT: another file), Janus
# and Redis logs under test-artifacts/bench-cluster/.
# Usage (as root): bash scripts/bench-cluster.sh      e.g. CB_JOINS=5000 CB_SPREAD=2,1,1 bash scripts/bench-cluster.sh
#   CB_JANUS_CPUS: pin every Janus node to these CPUs (taskset list, e.g. "0" or "0-2"); CB_CLIENT_CPUS:
#   the orchestrator, its joiners and redis-server to these (e.g. "3"; Janus then gets CB_JANUS_CPUS or
#   every CPU). Unset: no pinning.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "$0: needs root (network namespaces)" >&2; exit 2; }
for c in ip nsenter redis-server redis-cli node /usr/bin/janus; do
  command -v "$c" >/dev/null || { echo "$0: $c is missing (scripts/setup.sh installs it)" >&2; exit 2; }
done
[ -d node_modules/ws ] || { echo "$0: node_modules/ws is missing: run npm ci" >&2; exit 2; }
make -s -j2 >/dev/null
[ -f .libs/libjanus_allhands.so ] || { echo "$0: .libs/libjanus_allhands.so is missing: run scripts/setup.sh" >&2; exit 2; }

# Every admitted joiner holds an ICE agent in Janus (its offer is never answered) until the node stops:
# about two file descriptors each. Raise the limit the nodes inherit.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need_fds=$(( 3 * ${CB_JOINS:-2000} + 1000 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fds" ]; then
  echo "$0: warning: open files limit $(ulimit -n) is below $need_fds: a single node may run out of descriptors" >&2
fi

PREFIX=ahc$$
SW=$PREFIX-sw
CLIENT=$PREFIX-client
SUBNET=10.97.$(( ($$ % 250) + 1 ))
DIR=$(mktemp -d "/tmp/$PREFIX-XXXX")
export AH_ARTIFACTS=${AH_ARTIFACTS:-$PWD/test-artifacts/bench-cluster}
mkdir -p "$AH_ARTIFACTS"

cleanup() {
  trap - EXIT INT TERM
  local mine
  mine=$(ip netns list | awk '{print $1}' | grep "^$PREFIX-" || true)
  # Nodes and Redis first, then the client namespace, the switch last.
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
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=scripts/bench-bridge.sh
. scripts/bench-bridge.sh
bench_bridge "$SW" "$CLIENT" "$SUBNET"

pin=()
if [ -n "${CB_JANUS_CPUS:-}${CB_CLIENT_CPUS:-}" ]; then
  printf '#!/bin/sh\nexec taskset -c %s /usr/bin/janus "$@"\n' "${CB_JANUS_CPUS:-0-$(( $(nproc --all) - 1 ))}" > "$DIR/janus-pinned.sh"
  chmod +x "$DIR/janus-pinned.sh"
  export AH_JANUS_BIN=$DIR/janus-pinned.sh
fi
[ -z "${CB_CLIENT_CPUS:-}" ] || pin=(taskset -c "$CB_CLIENT_CPUS")
echo "# bench-cluster: Janus CPUs ${CB_JANUS_CPUS:-any}, clients and Redis CPUs ${CB_CLIENT_CPUS:-any}"
echo "# bench-cluster: switch $SW (bridge br0), client $CLIENT at $SUBNET.2/24, plugin .libs/libjanus_allhands.so"
AH_CLUSTER_PREFIX=$PREFIX AH_CLUSTER_SWITCH=$SW AH_CLUSTER_BRIDGE=br0 AH_CLUSTER_SUBNET=$SUBNET \
AH_CLUSTER_DIR=$DIR AH_CLUSTER_NETNS=$CLIENT AH_CLIENT_IP=$SUBNET.2 TMPDIR=$DIR \
AH_JANUS_DEBUG_LEVEL=${AH_JANUS_DEBUG_LEVEL:-3} \
  nsenter --net="/run/netns/$CLIENT" "${pin[@]}" node bench/cluster/run.mjs 2>&1 | tee "$AH_ARTIFACTS/run.log"
exit "${PIPESTATUS[0]}"
