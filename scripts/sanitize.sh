#!/usr/bin/env bash
# Builds the plugin with AddressSanitizer + UndefinedBehaviorSanitizer (configure --enable-sanitizers)
# in a scratch copy of the tree, runs the unit tests under them (`make check`, leaks included), then
# runs integration scenarios with Janus loading the sanitized plugin, and fails on any sanitizer
# report. The working tree's own build is left alone. See docs/fuzzing.md.
#
# Janus itself is not instrumented: a small wrapper (AH_JANUS_BIN, read by tests/integration/lib/
# janus.mjs) starts /usr/bin/janus with gcc's libasan preloaded, ASAN_OPTIONS=detect_leaks=0 (Janus
# leaks at exit by design; leaks are scripts/memcheck.sh's job) and abort_on_error=0, and
# UBSAN_OPTIONS=print_stacktrace=1. Sanitizer reports go to Janus's stderr (its log under
# $OUT/janus) and to $OUT/reports/<asan|ubsan>.<pid>; both are scanned for "ERROR: AddressSanitizer"
# and "runtime error".
#
# Usage (as root, like the integration suite):
#   bash scripts/sanitize.sh                        # 01-media 02-waves 03-tenant-cap 05-client-kill
#                                                   # 06-restart 07-errors 08-admin-api 11-rejoin
#                                                   # 13-ways-out 16-schedule 18-rejoin-grace
#   bash scripts/sanitize.sh 03-tenant-cap 14-storm # other scenarios
#   bash scripts/sanitize.sh 30-media               # a tests/cluster scenario (every node sanitized)
#   SANITIZE_SKIP_UNIT=1 bash scripts/sanitize.sh   # integration only (the build is still made)
#   SANITIZE_OUT=dir                                # default test-artifacts/sanitize
#   SANITIZE_BUILD=dir                              # the scratch build (default /tmp/ah-sanitize-build)
# Exit status: 0 when the unit tests pass and no sanitizer report appeared, 1 otherwise, 2 on a
# setup error. Test failures in the scenarios are reported but (as with memcheck.sh) only the
# sanitizer reports decide the result: a slower instrumented plugin may miss a test's timing.
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
OUT=${SANITIZE_OUT:-$ROOT/test-artifacts/sanitize}
# The scratch build lives outside test-artifacts/, whose *.trs scripts/test.sh must not count.
B=${SANITIZE_BUILD:-${TMPDIR:-/tmp}/ah-sanitize-build}
JANUS=${SANITIZE_JANUS:-/usr/bin/janus}

scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(01-media 02-waves 03-tenant-cap 05-client-kill 06-restart 07-errors 08-admin-api 11-rejoin 13-ways-out
	16-schedule 18-rejoin-grace)

rm -rf "$OUT"
rm -rf "$B"
mkdir -p "$OUT/bin" "$OUT/reports" "$B"
result=0
t0=$(date +%s)

echo "=== build with --enable-sanitizers in $B"
tar --exclude=./node_modules --exclude=./test-artifacts --exclude=./.git --exclude=./fuzz/obj \
	--exclude='./fuzz/fuzz-*[!c]' -cf - . | (cd "$B" && tar xf -)
if ! (cd "$B" && { make distclean >/dev/null 2>&1 || true; } && ./configure --quiet --enable-sanitizers &&
	make -j2) >"$OUT/build.log" 2>&1; then
	echo "sanitize.sh: the sanitized build failed (see $OUT/build.log)" >&2
	exit 2
fi
PLUGIN="$B/.libs/libjanus_allhands.so"
[ -f "$PLUGIN" ] || { echo "sanitize.sh: $PLUGIN is missing" >&2; exit 2; }
ldd "$PLUGIN" | grep libasan >/dev/null || { echo "sanitize.sh: $PLUGIN is not built with ASan" >&2; exit 2; }

if [ "${SANITIZE_SKIP_UNIT:-0}" != 1 ]; then
	echo "=== unit tests under ASan+UBSan (make check)"
	# halt_on_error: a UBSan report fails its test instead of scrolling by. G_SLICE=always-malloc: GLib's
	# slice allocator would hide leaked slices from LeakSanitizer.
	(cd "$B" && G_SLICE=always-malloc ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 make -j2 check) \
		>"$OUT/make-check.out" 2>&1
	check_rc=$?
	grep -E '^# (TOTAL|PASS|FAIL|ERROR|SKIP)' "$OUT/make-check.out"
	cat "$B"/tests/unit/*.log "$B"/tests/*.log >"$OUT/unit-logs.txt" 2>/dev/null
	if [ "$check_rc" != 0 ] || grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error' "$OUT/unit-logs.txt"; then
		echo "sanitize.sh: unit tests FAILED under the sanitizers (see $OUT/make-check.out, $OUT/unit-logs.txt)"
		grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error' "$OUT/unit-logs.txt" | head -n 10
		result=1
	else
		echo "unit: ok (no sanitizer report)"
	fi
fi

if [ "$(id -u)" != 0 ]; then
	echo "sanitize.sh: the integration scenarios need root (network namespaces): skipped" >&2
	exit 2
fi
LIBASAN=$(gcc -print-file-name=libasan.so)
[ -f "$LIBASAN" ] || { echo "sanitize.sh: gcc's libasan.so not found" >&2; exit 2; }
WRAP="$OUT/bin/janus-asan"
{
	echo '#!/usr/bin/env bash'
	printf 'export LD_PRELOAD=%q\n' "$LIBASAN"
	printf 'export ASAN_OPTIONS=%q\n' "detect_leaks=0:abort_on_error=0:log_path=$OUT/reports/asan"
	printf 'export UBSAN_OPTIONS=%q\n' "print_stacktrace=1:log_path=$OUT/reports/ubsan"
	printf 'exec %q "$@"\n' "$JANUS"
} >"$WRAP"
chmod +x "$WRAP"
export AH_JANUS_BIN="$WRAP" AH_PLUGIN_SO="$PLUGIN" AH_ARTIFACTS="$OUT"

for s in "${scenarios[@]}"; do
	# A scenario of tests/integration, or of tests/cluster (several nodes, each loading the sanitized plugin).
	file="tests/integration/${s%.test.mjs}.test.mjs"
	runner=tests/integration/run.mjs
	if [ ! -f "$file" ] && [ -f "tests/cluster/${s%.test.mjs}.test.mjs" ]; then
		file="tests/cluster/${s%.test.mjs}.test.mjs"
		runner=tests/cluster/run.mjs
	fi
	[ -f "$file" ] || { echo "sanitize.sh: no scenario $file" >&2; result=1; continue; }
	s=$(basename "$file" .test.mjs)
	t1=$(date +%s)
	AH_TAP_FILE="$OUT/$s.tap" node "$runner" "$file" >"$OUT/$s.out" 2>&1
	rc=$?
	tests=$(grep -E '^# (pass|fail|cancelled) ' "$OUT/$s.tap" 2>/dev/null | tr '\n' ' ')
	echo "$s: runner exit $rc after $(( $(date +%s) - t1 )) s; tests: ${tests:-no TAP}"
done

# Reports: the sanitizers' own files, and Janus's output (where UBSan may also print).
reports=$(grep -lE 'ERROR: AddressSanitizer|runtime error' "$OUT"/reports/* "$OUT"/janus/* 2>/dev/null)
if [ -n "$reports" ]; then
	echo "sanitize.sh: sanitizer reports FOUND:"
	grep -hE -A12 'ERROR: AddressSanitizer|runtime error' $reports | head -n 60
	result=1
else
	echo "janus: no AddressSanitizer or UBSan report in $(ls "$OUT"/janus 2>/dev/null | wc -l) Janus log(s)"
fi
echo "=== sanitize.sh done in $(( $(date +%s) - t0 )) s: $([ $result = 0 ] && echo ok || echo FAILED); see $OUT"
exit "$result"
