#!/usr/bin/env bash
# A short run of each fuzz target (`make fuzz-smoke`, part of scripts/test.sh): every target runs
# for SECONDS on a scratch copy of its seed corpus (fuzz/corpus/<target>, left unmodified), with
# leak detection, all targets at once. G_SLICE=always-malloc: GLib 2.74's slice allocator keeps
# freed blocks in its own magazines, so a leaked GSList or GHashTable node would never reach
# LeakSanitizer; with it every g_slice allocation is a plain malloc that LeakSanitizer sees. The targets' own stderr is closed (libical prints parser
# warnings there); libFuzzer and the sanitizers still report. Prints one line per target,
# "fuzz <target>: ok N execs" or "fuzz <target>: FAILED ...", and exits non-zero when any failed.
# A crash's input is saved under fuzz/crashes/, the target's output in fuzz/<target>-smoke.log.
#
# Usage: bash fuzz/smoke.sh SECONDS TARGET...    (run from the build directory, after `make fuzz`)
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail
secs=$1
shift
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d /tmp/ah-fuzz-smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p fuzz/crashes
export G_SLICE=always-malloc

pids=()
for t in "$@"; do
	mkdir -p "$tmp/$t"
	cp -r "$src/corpus/$t/." "$tmp/$t/" 2>/dev/null
	dict=()
	[ -f "$src/dict/$t.dict" ] && dict=(-dict="$src/dict/$t.dict")
	./fuzz/fuzz-$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=1536 -detect_leaks=1 \
		-print_final_stats=1 -close_fd_mask=2 -artifact_prefix="fuzz/crashes/$t-" "${dict[@]}" "$tmp/$t" \
		>"fuzz/$t-smoke.log" 2>&1 &
	pids+=($!)
done

failed=0
i=0
for t in "$@"; do
	wait "${pids[$i]}"
	rc=$?
	i=$((i + 1))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz/$t-smoke.log" | tail -n 1)
	if [ "$rc" = 0 ] && [ -n "$execs" ]; then
		echo "fuzz $t: ok ${execs} execs"
	else
		failed=$((failed + 1))
		echo "fuzz $t: FAILED (exit $rc; see fuzz/$t-smoke.log, inputs in fuzz/crashes/)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "fuzz/$t-smoke.log" | head -n 5 | sed 's/^/    /'
	fi
done
[ "$failed" = 0 ]
