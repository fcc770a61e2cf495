#!/usr/bin/env bash
# The project's test command: installs what it needs (scripts/setup.sh), builds, runs the C unit
# tests (`make check`, automake TAP), a short libFuzzer run of each fuzz target (`make fuzz-smoke`:
# one test per target), the Debian package (tests/package/test-deb.sh: build, lintian, a real Janus
# with the packaged plugin; the .deb stays in test-artifacts/package/ and its path is exported to the
# later stages as AH_DEB), the integration suite (Node's test runner against a real Janus inside a
# private network namespace: needs root) and the cluster tests (tests/cluster: several Janus nodes
# and redis-server in namespaces on a bridge: needs root), then prints `N passed, N failed`.
# Exits non-zero when anything failed.
#
# Usage: bash scripts/test.sh [integration test files...]   (the cluster tests always run all)
#   AH_SKIP_UNIT=1         skip `make check`
#   AH_SKIP_FUZZ=1         skip the fuzz smoke run (`make fuzz-smoke`, docs/fuzzing.md)
#   AH_SKIP_PACKAGE=1      skip the Debian package stage
#   AH_SKIP_INTEGRATION=1  skip the integration suite
#   AH_SKIP_CLUSTER=1      skip the cluster tests (tests/cluster/README.md)
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
ART="$ROOT/test-artifacts"
mkdir -p "$ART"

passed=0 failed=0 skipped=0
stage_fail() { echo "test.sh: FAILED: $*" >&2; failed=$((failed + 1)); }
t0=$(date +%s)

echo "=== setup (packages, npm, build)"
if ! bash scripts/setup.sh --no-build; then
	stage_fail "setup (packages/npm)"
	echo "$passed passed, $failed failed"
	exit 1
fi
build_ok=1
if ! bash scripts/setup.sh --no-apt --no-npm 2>&1 | tee "$ART/build.log"; then
	build_ok=0
	stage_fail "build (see test-artifacts/build.log)"
fi
# The plugin builds with -Wall -Wextra and no warnings (a fresh clone compiles every file).
cc_warning='\.[ch]:[0-9]+(:[0-9]+)?: warning:'
if grep -Eq "$cc_warning" "$ART/build.log"; then
	stage_fail "compiler warnings (see test-artifacts/build.log)"
	grep -E "$cc_warning" "$ART/build.log" >&2
fi

if [ "${AH_SKIP_UNIT:-0}" != 1 ]; then
	echo "=== unit tests (make check)"
	if [ "$build_ok" = 1 ] || [ -f Makefile ]; then
		find tests -name '*.trs' -delete 2>/dev/null
		make -j2 check >"$ART/make-check.out" 2>&1
		check_rc=$?
		tail -n 25 "$ART/make-check.out"
		[ -f tests/test-suite.log ] && cp tests/test-suite.log "$ART/" 2>/dev/null
		[ -f test-suite.log ] && cp test-suite.log "$ART/" 2>/dev/null
		read -r u_pass u_fail u_skip < <(find . \( -path ./node_modules -o -path ./test-artifacts \) -prune -o -name '*.trs' -print0 |
			xargs -0 -r cat | awk '
				/^:test-result: (PASS|XFAIL)/ { p++ }
				/^:test-result: (FAIL|XPASS|ERROR)/ { f++ }
				/^:test-result: SKIP/ { s++ }
				END { printf "%d %d %d\n", p, f, s }')
		echo "unit: $u_pass passed, $u_fail failed, $u_skip skipped"
		passed=$((passed + u_pass)); failed=$((failed + u_fail)); skipped=$((skipped + u_skip))
		if [ "$check_rc" != 0 ] && [ "$u_fail" = 0 ]; then
			stage_fail "make check exited $check_rc without a failing test result (see test-artifacts/make-check.out)"
		fi
	else
		stage_fail "make check not run: no build"
	fi
fi

if [ "${AH_SKIP_FUZZ:-0}" != 1 ]; then
	echo "=== fuzz smoke (make fuzz-smoke)"
	if [ -f Makefile ]; then
		make fuzz-smoke >"$ART/fuzz-smoke.out" 2>&1
		fuzz_rc=$?
		grep -E '^fuzz [a-z-]+: |^    ' "$ART/fuzz-smoke.out"
		cp fuzz/*-smoke.log "$ART/" 2>/dev/null
		f_pass=$(grep -cE '^fuzz [a-z-]+: ok' "$ART/fuzz-smoke.out")
		f_fail=$(grep -cE '^fuzz [a-z-]+: FAILED' "$ART/fuzz-smoke.out")
		echo "fuzz: $f_pass passed, $f_fail failed"
		passed=$((passed + f_pass)); failed=$((failed + f_fail))
		if [ "$fuzz_rc" != 0 ] && [ "$f_fail" = 0 ]; then
			stage_fail "make fuzz-smoke exited $fuzz_rc without a failing target (see test-artifacts/fuzz-smoke.out)"
		fi
		if grep -Eq "$cc_warning" "$ART/fuzz-smoke.out"; then
			stage_fail "compiler warnings in the fuzz build (see test-artifacts/fuzz-smoke.out)"
			grep -E "$cc_warning" "$ART/fuzz-smoke.out" >&2
		fi
	else
		stage_fail "make fuzz-smoke not run: no build"
	fi
fi

if [ "${AH_SKIP_PACKAGE:-0}" != 1 ]; then
	echo "=== package (tests/package/test-deb.sh: dpkg-buildpackage, lintian, Janus with the .deb's plugin)"
	ptap="$ART/package.tap"
	bash tests/package/test-deb.sh "$ART/package" >"$ptap"
	pkg_rc=$?
	grep -E '^(not )?ok |^1\.\.' "$ptap"
	read -r p_pass p_fail p_skip < <(awk '
		/^ok .*# SKIP/ { s++; next }
		/^ok / { p++ }
		/^not ok / { f++ }
		END { printf "%d %d %d\n", p, f, s }' "$ptap")
	echo "package: $p_pass passed, $p_fail failed, $p_skip skipped (details: test-artifacts/package.tap)"
	passed=$((passed + p_pass)); failed=$((failed + p_fail)); skipped=$((skipped + p_skip))
	if [ "$pkg_rc" != 0 ] && [ "$p_fail" = 0 ]; then
		stage_fail "tests/package/test-deb.sh exited $pkg_rc without a failing test (see test-artifacts/package.tap)"
	elif ! grep -q '^1\.\.' "$ptap"; then
		stage_fail "tests/package/test-deb.sh ended without its plan (see test-artifacts/package.tap)"
	fi
	for deb in "$ART"/package/janus-allhands_*.deb; do
		[ -f "$deb" ] && export AH_DEB="$deb"
	done
fi

# Run a Node test runner (tests/*/run.mjs, needs root) writing TAP to $ART/<stage>.tap and add its
# results to the totals: run_node_stage STAGE RUNNER [test files...]
run_node_stage() {
	local stage=$1 runner_file=$2
	shift 2
	local tap="$ART/$stage.tap" rc n_pass n_fail n_skip
	rm -f "$tap"
	local runner=(node "$runner_file" "$@")
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null 2>&1; then runner=(sudo -E "${runner[@]}"); else
			echo "test.sh: the $stage tests need root (network namespaces)" >&2
		fi
	fi
	AH_TAP_FILE="$tap" "${runner[@]}"
	rc=$?
	if [ -f "$tap" ]; then
		read -r n_pass n_fail n_skip < <(awk '
			/^# pass / { p += $3 }
			/^# (fail|cancelled) / { f += $3 }
			/^# (skipped|todo) / { s += $3 }
			END { printf "%d %d %d\n", p, f, s }' "$tap")
	else
		n_pass=0 n_fail=0 n_skip=0
	fi
	echo "$stage: $n_pass passed, $n_fail failed, $n_skip skipped"
	passed=$((passed + n_pass)); failed=$((failed + n_fail)); skipped=$((skipped + n_skip))
	if [ "$rc" != 0 ] && [ "$n_fail" = 0 ]; then
		stage_fail "$stage runner exited $rc without a failing test result"
	fi
}

if [ "${AH_SKIP_INTEGRATION:-0}" != 1 ]; then
	echo "=== integration tests (Janus in a network namespace)"
	run_node_stage integration tests/integration/run.mjs "$@"
fi

if [ "${AH_SKIP_CLUSTER:-0}" != 1 ]; then
	echo "=== cluster tests (three Janus nodes and redis-server on a bridge)"
	run_node_stage cluster tests/cluster/run.mjs
fi

echo "=== done in $(( $(date +%s) - t0 )) s; logs in test-artifacts/"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
