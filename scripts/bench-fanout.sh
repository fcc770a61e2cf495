#!/bin/bash
# Steady fan-out benchmark (issue 7): attendees per core and Janus CPU per attendee, allhands and
# the stock VideoRoom in one run (bench/fanout/run.mjs). Janus pinned to CPU 0, the clients (the
# presenter and the C load client, bench/loadclient) to CPU 1.
# Results: test-artifacts/bench-fanout/ (results.json, fanout-runs.csv, fanout.csv: medians over the
# runs) and docs/images/fanout.png (FANOUT_IMAGES: another folder). The orchestrator prints the
# complete command (every variable with its effective value) at the start and the end, and the table
# of medians [min-max] at the end.
# Usage (as root): bash scripts/bench-fanout.sh     env: FANOUT_STEPS FANOUT_MEASURE_S FANOUT_VARIANTS
#   BENCH_RUNS (3, interleaved) BENCH_PRESENTER_KBPS (300) BENCH_JANUS_QUOTA
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=fanout
# shellcheck source=scripts/bench-env.sh
. scripts/bench-env.sh
bench_run
if [ -f "$OUT/fanout.csv" ]; then
  gnuplot -e "csv='$OUT/fanout.csv'; out='$IMAGES/fanout.png'; quota='${BENCH_JANUS_QUOTA:-100}'" bench/fanout/plot.gp
  echo "# wrote $IMAGES/fanout.png"
fi
