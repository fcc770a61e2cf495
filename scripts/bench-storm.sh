#!/bin/bash
# Join-storm benchmark (issue 7): allhands (admission on) and the stock VideoRoom in one run.
# Janus pinned to CPU 0, every client process (orchestrator, presenter, werift subscribers) to CPU 1.
# Results: test-artifacts/bench-storm/ (results.json, <plugin>-series.csv, <plugin>-subs.csv|json)
# and docs/images/storm-<plugin>.png (STORM_IMAGES: another folder).
# Usage (as root): bash scripts/bench-storm.sh        env: STORM_N STORM_B STORM_K STORM_JOIN_RATE ...
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ "$(id -u)" = 0 ] || { echo "bench-storm: needs root (network namespace)"; exit 2; }

need=()
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v taskset >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; fi
[ -x /usr/bin/janus ] || { echo "bench-storm: Janus missing: run scripts/setup.sh"; exit 2; }
[ -d node_modules/werift ] || npm ci

make -s >/dev/null

OUT=${STORM_OUT:-$ROOT/test-artifacts/bench-storm}
IMAGES=${STORM_IMAGES:-$ROOT/docs/images}
mkdir -p "$OUT" "$IMAGES"
WRAP=$OUT/janus-pinned.sh
printf '#!/bin/sh\nexec taskset -c %s /usr/bin/janus "$@"\n' "${STORM_JANUS_CPU:-0}" > "$WRAP"
chmod +x "$WRAP"

NS=ahb-$$
X=$(( ($$ % 250) + 1 ))
cleanup() {
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
  sleep 2
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add ahj0 type veth peer name ahc0
ip -n "$NS" addr add 10.99.$X.1/24 dev ahj0
ip -n "$NS" addr add 10.99.$X.2/24 dev ahc0
ip -n "$NS" link set ahj0 up
ip -n "$NS" link set ahc0 up

export AH_NETNS=$NS AH_JANUS_IFACE=ahj0 AH_JANUS_IP=10.99.$X.1 AH_CLIENT_IP=10.99.$X.2
export AH_ARTIFACTS=$OUT AH_JANUS_BIN=$WRAP AH_JANUS_DEBUG_LEVEL=${AH_JANUS_DEBUG_LEVEL:-3} STORM_OUT=$OUT
echo "# bench-storm: namespace $NS, Janus on CPU ${STORM_JANUS_CPU:-0}, clients on CPU ${STORM_CLIENT_CPU:-1}"
ip netns exec "$NS" taskset -c "${STORM_CLIENT_CPU:-1}" node bench/storm/run.mjs 2>&1 | tee "$OUT/run.log"

for p in allhands videoroom; do
  [ -f "$OUT/$p-series.csv" ] || continue
  gnuplot -e "csv='$OUT/$p-series.csv'; out='$IMAGES/storm-$p.png'; plugin='$p'" bench/storm/plot.gp
  echo "# wrote $IMAGES/storm-$p.png"
done
