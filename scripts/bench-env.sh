# Shared set-up of the media benchmarks (sourced by scripts/bench-storm.sh and scripts/bench-fanout.sh):
# installs what they lack, builds, writes a wrapper that pins Janus to one CPU, and makes a network
# namespace with a veth pair like tests/integration/run.mjs does (Janus gathers no ICE candidates on
# loopback), removed on exit. Sets and exports AH_NETNS AH_JANUS_IFACE AH_JANUS_IP AH_CLIENT_IP
# AH_JANUS_BIN AH_ARTIFACTS. The caller sets BENCH (storm, fanout) first: results go to
# <BENCH>_OUT (default test-artifacts/bench-<BENCH>, exported), plots to <BENCH>_IMAGES (default
# docs/images); OUT and IMAGES hold them. bench_run runs bench/<BENCH>/run.mjs in the namespace.
# Env: BENCH_JANUS_CPU (0), BENCH_CLIENT_CPU (1), BENCH_JANUS_QUOTA (percent of that CPU Janus may
# use, through a cgroup's CFS quota with a 10 ms period; unset: all of it).
# SPDX-License-Identifier: GPL-3.0-or-later
[ "$(id -u)" = 0 ] || { echo "$0: needs root (network namespace)"; exit 2; }
PREFIX=$(echo "$BENCH" | tr '[:lower:]' '[:upper:]')
out_var=${PREFIX}_OUT images_var=${PREFIX}_IMAGES
OUT=${!out_var:-$PWD/test-artifacts/bench-$BENCH}
IMAGES=${!images_var:-$PWD/docs/images}
export "$out_var=$OUT"
mkdir -p "$IMAGES"

need=()
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v taskset >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; fi
[ -x /usr/bin/janus ] || { echo "$0: Janus missing: run scripts/setup.sh"; exit 2; }
[ -d node_modules/werift ] || npm ci

make -s >/dev/null

JANUS_CPU=${BENCH_JANUS_CPU:-${STORM_JANUS_CPU:-0}}
CLIENT_CPU=${BENCH_CLIENT_CPU:-${STORM_CLIENT_CPU:-1}}
mkdir -p "$OUT"
WRAP=$OUT/janus-pinned.sh
CG=
if [ -n "${BENCH_JANUS_QUOTA:-}" ]; then
  # A CPU quota makes the Janus core saturate at fewer attendees than the client core can carry.
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    CG=/sys/fs/cgroup/ahbench-$$
    mkdir -p "$CG"
    echo "$((BENCH_JANUS_QUOTA * 100)) 10000" > "$CG/cpu.max"
  else
    CG=/sys/fs/cgroup/cpu/ahbench-$$
    mkdir -p "$CG"
    echo 10000 > "$CG/cpu.cfs_period_us"
    echo "$((BENCH_JANUS_QUOTA * 100))" > "$CG/cpu.cfs_quota_us"
  fi
  printf '#!/bin/sh\necho $$ > %s/cgroup.procs || exit 1\nexec taskset -c %s /usr/bin/janus "$@"\n' "$CG" "$JANUS_CPU" > "$WRAP"
else
  printf '#!/bin/sh\nexec taskset -c %s /usr/bin/janus "$@"\n' "$JANUS_CPU" > "$WRAP"
fi
chmod +x "$WRAP"

NS=ahb-$$
X=$(( ($$ % 250) + 1 ))
bench_cleanup() {
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
  sleep 2
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  if [ -n "$CG" ]; then rmdir "$CG" 2>/dev/null || true; fi
}
trap bench_cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add ahj0 type veth peer name ahc0
ip -n "$NS" addr add 10.99.$X.1/24 dev ahj0
ip -n "$NS" addr add 10.99.$X.2/24 dev ahc0
ip -n "$NS" link set ahj0 up
ip -n "$NS" link set ahc0 up

export AH_NETNS=$NS AH_JANUS_IFACE=ahj0 AH_JANUS_IP=10.99.$X.1 AH_CLIENT_IP=10.99.$X.2
export AH_ARTIFACTS=$OUT AH_JANUS_BIN=$WRAP AH_JANUS_DEBUG_LEVEL=${AH_JANUS_DEBUG_LEVEL:-3}
# Run a command inside the namespace, pinned to the client CPU. nsenter, not `ip netns exec`: that
# one mounts a fresh /sys for the namespace, which hides /sys/fs/cgroup from the Janus wrapper.
in_bench_ns() { nsenter --net="/run/netns/$NS" taskset -c "$CLIENT_CPU" "$@"; }
bench_run() {
  echo "# bench-$BENCH: namespace $NS, Janus on CPU $JANUS_CPU, clients on CPU $CLIENT_CPU"
  in_bench_ns node "bench/$BENCH/run.mjs" 2>&1 | tee "$OUT/run.log"
}
