#!/bin/bash
# Join-storm benchmark (issue 7): allhands (admission on) and the stock VideoRoom in one run.
# Janus pinned to CPU 0, every client process (orchestrator, presenter, werift subscribers) to CPU 1.
# Results: test-artifacts/bench-storm/ (results.json with every run and the median [min-max] of each
# figure, <run>-r<i>-series.csv, <run>-r<i>-subs.csv|json) and docs/images/storm-<run>.png (the first
# run of each; STORM_IMAGES: another folder). The orchestrator prints the complete command (every
# variable with its effective value) at the start and the end, and the table of medians at the end.
# Usage (as root): bash scripts/bench-storm.sh        env: STORM_N STORM_B STORM_K STORM_JOIN_RATE ...
#   BENCH_RUNS: runs of each plugin, interleaved (3); STORM_WINDOW_S: the window of those already in,
#   the same for every plugin (20); BENCH_PRESENTER_KBPS: the presenter's video cap (300);
#   STORM_CLIENT=c: subscribers on the C load client (bench/loadclient) instead of werift;
#   STORM_PLUGINS: runs, e.g. "allhands,videoroom,allhands@20,allhands@40" (allhands@R: fixed waves at R
#   joins per second); BENCH_JANUS_QUOTA: Janus's CPU quota in % of its core (scripts/bench-env.sh).
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=storm
# shellcheck source=scripts/bench-env.sh
. scripts/bench-env.sh
bench_run

for csv in "$OUT"/*-r1-series.csv; do
  [ -f "$csv" ] || continue
  p=$(basename "$csv" -r1-series.csv)
  # allhands@20 -> file storm-allhands-at20.png, title "allhands, paced at 20/s"
  f=${p/@/-at}
  t=$(echo "$p" | sed 's|@\(.*\)|, fixed waves paced at \1/s|')
  gnuplot -e "csv='$OUT/$p-r1-series.csv'; out='$IMAGES/storm-$f.png'; plugin='$t'" bench/storm/plot.gp
  echo "# wrote $IMAGES/storm-$f.png"
done
