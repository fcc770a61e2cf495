#!/usr/bin/env bash
# Runs integration scenarios with Janus under valgrind memcheck and reports every memory error and
# leak whose stacks touch the allhands plugin (libjanus_allhands.so).
#
# How it works: for each scenario it runs `node tests/integration/run.mjs <file>` (as root: the
# runner makes a network namespace) with AH_JANUS_BIN pointing at a small wrapper that starts
# `valgrind --tool=memcheck ... /usr/bin/janus "$@"`. The wrapper forwards SIGTERM/SIGINT from the
# harness to valgrind's Janus (so Janus shuts down cleanly and valgrind prints its leak summary)
# and waits for it; if the harness loses patience (lib/janus.mjs SIGKILLs after 15 s) only the
# wrapper dies and valgrind finishes on its own. The script then waits for every valgrind to exit
# and extracts the reports that matter.
#
# Usage (as root, after `make`; the build in .libs/ is tested unless AH_PLUGIN_SO says otherwise):
#   bash scripts/memcheck.sh                      # 01-media 02-waves 04-admit-timeout 05-client-kill
#                                                 # 08-admin-api 11-rejoin
#   bash scripts/memcheck.sh 08-admin-api 11-rejoin   # some scenarios (name or file name)
#   bash scripts/memcheck.sh /tmp/load.test.mjs   # any test file that uses tests/integration/lib
#   MEMCHECK_O0=1 bash scripts/memcheck.sh        # test an -O0 build made in a scratch copy of
#                                                 # the tree (exact line numbers, no inlining)
# Environment:
#   MEMCHECK_OUT=dir        where everything goes (default test-artifacts/memcheck)
#   MEMCHECK_TOOL=memcheck  or helgrind / drd (race detectors; noisy with GLib, read with care)
#   MEMCHECK_VG_OPTS="..."  extra valgrind options
#   MEMCHECK_SUPP=file      a valgrind suppressions file (optional; none is needed: records
#                           without plugin frames are only sorted out, never hidden)
#   AH_TEST_TIMEOUT=ms      per-test timeout handed to the runner (default here 900000: valgrind
#                           makes Janus 10-50x slower)
#   AH_PLUGIN_SO=path       plugin to test
#   MEMCHECK_JANUS=path     the Janus binary valgrind runs (default /usr/bin/janus)
#
# Reading the result (MEMCHECK_OUT):
#   summary.txt             per scenario: test pass/fail counts, and per Janus process valgrind's
#                           ERROR SUMMARY, the definitely/indirectly lost totals and the number of
#                           plugin records (of which known Janus issues)
#   plugin-reports.txt      every valgrind record (invalid read/write/free, uninitialised value,
#                           definitely/indirectly lost block; data races with helgrind/drd) whose
#                           stacks, including the "Address ... alloc'd/free'd at" stacks, have a
#                           frame of the plugin (ah_* functions, plugin/glue or plugin/core files,
#                           or libjanus_allhands.so). THIS is the file to read. Each record shows
#                           the first frames (where it happened) and, for a leak, the allocation
#                           stack: the deepest plugin frame is the code to look at.
#   other-reports.txt       the same for records without a plugin frame (Janus, libnice, GLib,
#                           libsrtp): glance at it; an invalid read in Janus on a buffer the plugin
#                           handed over would show up here.
#   vg/<scenario>-<pid>.log the raw valgrind logs (one per Janus process; "still reachable" and
#                           "possibly lost" blocks are not shown: add MEMCHECK_VG_OPTS=
#                           "--show-leak-kinds=all" to see them)
#   <scenario>.out          the test runner's output; janus/ holds Janus's own logs
# Records marked "NOTE: KNOWN" are Janus 1.1.2 issues, not plugin bugs:
#   - a leak in janus_sdp_get_codec_pt_full (g_list_append) under the plugin's H.264 profile
#     lookups: Janus 1.1.2 does not free its list when it finds a payload type by profile (fixed in
#     Janus 1.2.3); it only happens for presenters whose offer has H.264 but no VP8;
#   - "40 direct" bytes definitely lost from janus_ice_handle_attach_plugin (a janus_plugin_session
#     and, indirectly, its janus_ice_handle): the plugin called close_pc on that handle less than
#     ~1 s before Janus was stopped, and Janus drops the pending close_pc source, which holds a
#     reference, at shutdown. Seen when a test's last step makes the plugin close a PeerConnection.
# Test failures are expected (valgrind makes Janus slow): look at the valgrind reports, not at the
# test results; a summary line saying "valgrind did not finish" means Janus was SIGKILLed and the
# leak part is missing. Exit status: 0 when every plugin record is a known Janus issue (or there is
# none), 1 otherwise, 2 on a setup error.
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

if [ "$(id -u)" != 0 ]; then
	echo "memcheck.sh: run as root (the integration runner makes a network namespace)" >&2
	exit 2
fi
command -v valgrind >/dev/null || { echo "memcheck.sh: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }

OUT=${MEMCHECK_OUT:-$ROOT/test-artifacts/memcheck}
TOOL=${MEMCHECK_TOOL:-memcheck}
JANUS=${MEMCHECK_JANUS:-/usr/bin/janus}
SUPP=${MEMCHECK_SUPP:-$ROOT/scripts/memcheck.supp}
export AH_TEST_TIMEOUT=${AH_TEST_TIMEOUT:-900000}

scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(01-media 02-waves 04-admit-timeout 05-client-kill 08-admin-api 11-rejoin)

# Start from a clean output folder (only what this script writes there is removed).
rm -rf "$OUT/vg" "$OUT/bin" "$OUT/build" "$OUT/janus" "$OUT"/*.out "$OUT"/*.tap "$OUT/build.log" \
	"$OUT/summary.txt" "$OUT/plugin-reports.txt" "$OUT/other-reports.txt"
mkdir -p "$OUT/vg" "$OUT/bin"

# An optional -O0 build in a scratch copy (the working tree's build is left alone).
if [ "${MEMCHECK_O0:-0}" = 1 ] && [ -z "${AH_PLUGIN_SO:-}" ]; then
	B="$OUT/build"
	mkdir -p "$B"
	tar --exclude=./node_modules --exclude=./test-artifacts --exclude=./.git -cf - . | (cd "$B" && tar xf -)
	if ! (cd "$B" && make clean >/dev/null 2>&1; make -j2 CFLAGS="-g -O0 -fno-omit-frame-pointer") >"$OUT/build.log" 2>&1; then
		echo "memcheck.sh: the -O0 build failed (see $OUT/build.log)" >&2
		exit 2
	fi
	export AH_PLUGIN_SO="$B/.libs/libjanus_allhands.so"
fi
PLUGIN=${AH_PLUGIN_SO:-$ROOT/.libs/libjanus_allhands.so}
[ -f "$PLUGIN" ] || { echo "memcheck.sh: $PLUGIN is missing: build first (make)" >&2; exit 2; }
export AH_PLUGIN_SO="$PLUGIN"

vgopts=(--tool="$TOOL" --num-callers=30 --fullpath-after= --error-limit=no --fair-sched=yes --vgdb=no --child-silent-after-fork=yes)
if [ "$TOOL" = memcheck ]; then
	vgopts+=(--leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
		--track-origins=no)
fi
[ -f "$SUPP" ] && vgopts+=(--suppressions="$SUPP")
# shellcheck disable=SC2206
[ -n "${MEMCHECK_VG_OPTS:-}" ] && vgopts+=(${MEMCHECK_VG_OPTS})

# The wrapper lib/janus.mjs runs as "janus". MEMCHECK_TAG (set per scenario below) names the logs.
WRAP="$OUT/bin/janus-valgrind"
{
	echo '#!/usr/bin/env bash'
	printf 'vg=(valgrind'; printf ' %q' "${vgopts[@]}"; printf ')\n'
	printf 'log=%q/vg/"${MEMCHECK_TAG:-janus}"-%%p.log\n' "$OUT"
	printf 'janus=%q\n' "$JANUS"
	cat <<'EOF'
"${vg[@]}" --log-file="$log" "$janus" "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM
trap 'kill -INT "$child" 2>/dev/null' INT
while :; do
	wait "$child"
	rc=$?
	kill -0 "$child" 2>/dev/null || exit "$rc"
done
EOF
} >"$WRAP"
chmod +x "$WRAP"

export AH_JANUS_BIN="$WRAP"
export AH_ARTIFACTS="$OUT"
# Janus logs at its default level 4 (the harness's default): enough to correlate, not too slow.

for s in "${scenarios[@]}"; do
	if [ -f "$s" ]; then
		file=$(realpath "$s")   # any test file (e.g. an ad hoc load scenario)
	else
		file="tests/integration/${s%.test.mjs}.test.mjs"
	fi
	s=$(basename "$s" .test.mjs)
	if [ ! -f "$file" ]; then
		echo "memcheck.sh: no scenario $file" >&2
		continue
	fi
	echo "=== $s (valgrind $TOOL; log $OUT/$s.out)"
	t0=$(date +%s)
	MEMCHECK_TAG="$s" AH_TAP_FILE="$OUT/$s.tap" node tests/integration/run.mjs "$file" >"$OUT/$s.out" 2>&1
	rc=$?
	# The runner SIGKILLs what is still in its namespace 5 s after its end: valgrind normally has
	# finished by then (the harness waits for Janus in after()); wait for stragglers anyway.
	for _ in $(seq 1 120); do
		pgrep -f "$WRAP|valgrind.*--log-file=$OUT/vg/$s-" >/dev/null || break
		sleep 1
	done
	tests=$(grep -E '^# (pass|fail|cancelled) ' "$OUT/$s.tap" 2>/dev/null | tr '\n' ' ')
	echo "    runner exit $rc after $(( $(date +%s) - t0 )) s; tests: ${tests:-no TAP}"
	echo "$s: runner exit $rc, $(( $(date +%s) - t0 )) s, tests: ${tests:-no TAP}" >>"$OUT/summary.txt"
done

# ---- extract the reports ----
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" - "$OUT" <<'PYEOF'
import glob, os, re, sys
out = sys.argv[1]
kinds = re.compile(r'Invalid (read|write|free)|uninitialised|Mismatched free|'
                   r'definitely lost|indirectly lost|overlap|fishy|'
                   r'Possible data race|Lock order|lock order|unlocked|Conflicting (load|store)|'
                   r'Syscall param|Jump to the invalid address|Process terminating')
ours = re.compile(r'libjanus_allhands\.so|\bah_[a-z_]+ \(|plugin/(glue|core)/')
# Known reports that are not the plugin's own bug (see the header): (pattern, note).
known = [
    (re.compile(r'definitely lost(.|\n)*g_list_append(.|\n)*janus_sdp_get_codec_pt_full'),
     'KNOWN (Janus 1.1.2): janus_sdp_get_codec_pt_full() leaks its `pts` list when it returns a payload '
     'type found by profile (fixed upstream in 1.2.3, commit fdd90a5d): one GList node per H.264 '
     'payload type of the offer, per call with a profile. The plugin makes such calls (sdp.c '
     'choose_h264, and JANUS_SDP_OA_H264_PROFILE in answer_stream) for presenters whose offer has '
     'H.264 but no VP8.'),
    (re.compile(r'^[\d,]+ \(40 direct, [\d,]+ indirect\) bytes in \d+ blocks are definitely lost(.|\n)*'
                r'janus_ice_handle_attach_plugin'),
     'KNOWN (Janus 1.1.2): janus_plugin_session (40 bytes) + its janus_ice_handle: close_pc was called '
     'on the handle less than ~1 s before Janus stopped, and Janus drops its pending close_pc GSource '
     '(which holds a reference on the plugin session) unrun at shutdown. Not a plugin leak.'),
]
plugin, other, summary = [], [], []
unknown_plugin = 0
for log in sorted(glob.glob(os.path.join(out, 'vg', '*.log'))):
    name = os.path.basename(log)[:-4]
    with open(log, errors='replace') as f:
        lines = [re.sub(r'^==\d+== ?', '', l.rstrip('\n')) for l in f]
    # Records: memcheck and DRD separate them with blank lines; helgrind with "-----" rules (its
    # records contain blank lines).
    rules = any(l.startswith('--------------------') for l in lines)
    recs, cur = [], []
    for l in lines:
        if (l.startswith('---') if rules else l.strip() == ''):
            if cur:
                recs.append(cur)
            cur = []
        else:
            cur.append(l)
    if cur:
        recs.append(cur)
    err = next((l for l in lines if 'ERROR SUMMARY' in l), 'ERROR SUMMARY: (missing: valgrind did not finish)')
    leak = [l.strip() for l in lines if re.match(r'\s*(definitely|indirectly) lost:', l)]
    n = k = 0
    # Janus's shutdown leak of a plugin session (see `known`): its indirect blocks are listed first.
    attach_leak = any(known[1][0].search('\n'.join(r).strip('\n')) for r in recs)
    for r in recs:
        text = '\n'.join(r).strip('\n')
        if not text or not kinds.search(text[:400]):
            continue
        if 'LEAK SUMMARY' in text or 'ERROR SUMMARY' in text or text.startswith('HEAP SUMMARY'):
            continue
        note = next((msg for pat, msg in known if pat.search(text)), None)
        if note is None and attach_leak and 'indirectly lost' in text.splitlines()[0] and not ours.search(text):
            note = 'KNOWN: part of a janus_plugin_session/janus_ice_handle leak of Janus at shutdown (see above).'
        block = f'--- {name}\n' + (f'NOTE: {note}\n' if note else '') + text + '\n'
        if ours.search(text):
            plugin.append(block)
            n += 1
            if note:
                k += 1
            else:
                unknown_plugin += 1
        else:
            other.append(block)
    summary.append(f'{name}: {err.strip()} | {"; ".join(leak) or "no leak summary"} | '
                   f'plugin records: {n} ({k} known Janus issues)')
open(os.path.join(out, 'plugin-reports.txt'), 'w').write('\n'.join(plugin))
open(os.path.join(out, 'other-reports.txt'), 'w').write('\n'.join(other))
with open(os.path.join(out, 'summary.txt'), 'a') as f:
    f.write('\n'.join(summary) + '\n')
print('\n'.join(summary))
print(f'plugin records: {len(plugin)}, not known: {unknown_plugin} (see {out}/plugin-reports.txt); '
      f'other records: {len(other)} ({out}/other-reports.txt)')
sys.exit(1 if unknown_plugin else 0)
PYEOF
