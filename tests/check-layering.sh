#!/usr/bin/env bash
# The layering rules, checked on every `make check` (TAP output):
#  1. only plugin/glue may include a Janus header: plugin/core, plugin/redis, include/allhands and the
#     unit tests build and are tested without Janus;
#  2. no project header shares a name with a Janus header;
#  3. only plugin/redis may include hiredis: the Redis client is confined like the Janus glue;
#  4. no two C files under plugin/ call each other's functions (a cycle a reader must hold in mind);
#  5. calls point down the layers listed in LAYERS below: a file calls files of lower layers only,
#     never one above it, nor another group of its own layer;
#  6. tests 4 and 5 see what they must: run on a small planted tree, they find its cycle and its
#     call up the layers (and not its static function, nor a name inside a string);
#  7. only plugin/link may include libsrtp2: the node-to-node link's SRTP is confined like hiredis.
# "Calls" here: a file names a function that another file defines without `static` (universal-ctags
# finds the definitions). Comments count, like calls: a comment naming a higher layer's function is
# a dependency a reader follows too; string literals do not. docs/architecture.md
# explains the layers.
# SPDX-License-Identifier: GPL-3.0-or-later
cd "${top_srcdir:-.}" || exit 1

# The layers, top first; each line one layer, each word on it one group (a file or a glob). A group
# may call itself (the files of one glob may call each other, without cycles: test 4) and any group
# of a lower layer. Files under plugin/ matching no group are listed as a diagnostic and checked by
# test 4 only: give a new file its place here.
LAYERS='
plugin/glue/plugin.c
plugin/glue/control.c
plugin/glue/metrics.c
plugin/glue/cluster-*.c
plugin/glue/writer.c plugin/glue/relay.c plugin/glue/cpu.c plugin/glue/cluster.c
plugin/glue/relay-keyframes.c
plugin/glue/sdp.c plugin/glue/session.c
plugin/redis/*.c
plugin/link/srtp.c plugin/link/udp.c
plugin/link/key.c
plugin/core/requests.c plugin/core/engine-metrics.c
plugin/core/requests-participant.c plugin/core/requests-join.c plugin/core/requests-tenants.c plugin/core/requests-rooms.c plugin/core/requests-node.c
plugin/core/requests-schedule.c
plugin/core/requests-common.c
plugin/core/engine-defs.c
plugin/core/engine.c
plugin/core/engine-schedule.c plugin/core/engine-admission.c plugin/core/engine-persist.c plugin/core/engine-ledger.c plugin/core/engine-mirror.c
plugin/core/engine-participants.c
plugin/core/engine-ghosts.c plugin/core/engine-media.c
plugin/core/engine-credentials.c plugin/core/engine-place.c
plugin/core/engine-registry.c
plugin/core/admission-ledger.c
plugin/core/admission.c
plugin/core/admission-report.c
plugin/core/admission-common.c
plugin/core/ledger*.c
plugin/core/edges.c
plugin/core/persist-writer.c plugin/core/schedule.c
plugin/core/persist.c plugin/core/schedule-rule.c plugin/core/adaptive.c plugin/core/stats.c plugin/core/throttle.c
plugin/core/token.c plugin/core/ticket.c plugin/core/media-msg.c plugin/core/placement.c plugin/core/simulcast.c plugin/core/gop.c plugin/core/fmtp.c plugin/core/feedback.c plugin/core/metrics.c plugin/core/reactions.c plugin/core/stage.c plugin/core/qa*.c
plugin/core/validate.c plugin/core/errors.c
'

# Janus's headers, as a plugin includes them (janus-dev: /usr/include/janus).
janus_headers=$(ls /usr/include/janus 2>/dev/null | sed -n 's/\.h$//p' | tr '\n' '|')
pattern="^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"](janus/|plugins/|${janus_headers}__none__)(\\.h)?"
echo "1..7"
bad=$(grep -rnE "$pattern" plugin/core plugin/redis include tests/unit 2>/dev/null | grep -vE '"allhands/' )
if [ -z "$bad" ]; then
	echo "ok 1 - no Janus header outside plugin/glue"
else
	echo "not ok 1 - Janus headers included outside plugin/glue:"
	echo "$bad" | sed 's/^/# /'
fi
# The glue must include project headers as "allhands/..." so they never shadow Janus's own.
shadow=$(ls include/allhands | sed -n 's/\.h$//p' | while read -r h; do
	[ -f "/usr/include/janus/$h.h" ] && echo "$h.h"
done)
if [ -z "$shadow" ]; then
	echo "ok 2 - no project header shares a name with a Janus header"
else
	echo "not ok 2 - project headers named like Janus headers: $shadow"
fi
# hiredis (and its adapters) only in plugin/redis; nothing else of the plugin sees a hiredis type. (The
# seat ledger's tests and benchmark use hiredis's synchronous API to look at Redis from outside, as
# redis-cli would: they are not the plugin.)
hiredis=$(grep -rnIE --include='*.[ch]' '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](hiredis/|hiredis\.h|async\.h|adapters/)' \
	plugin include 2>/dev/null | grep -v '^plugin/redis/')
if [ -z "$hiredis" ]; then
	echo "ok 3 - hiredis included only in plugin/redis"
else
	echo "not ok 3 - hiredis included outside plugin/redis:"
	echo "$hiredis" | sed 's/^/# /'
fi

# libsrtp2 only in plugin/link (the node-to-node link, issue 14); the unit tests see no libsrtp type
# either. (The C load client in bench/loadclient is a WebRTC client of its own, not the plugin.)
srtp=$(grep -rnIE --include='*.[ch]' '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](srtp2/|srtp\.h)' \
	plugin include tests/unit tests/glue 2>/dev/null | grep -v '^plugin/link/')
if [ -z "$srtp" ]; then
	srtp_result="ok 7 - libsrtp2 included only in plugin/link"
else
	srtp_result="not ok 7 - libsrtp2 included outside plugin/link:
$(echo "$srtp" | sed 's/^/# /')"
fi

# --- 4 to 6: who calls whom under plugin/
if ! ctags --version 2>/dev/null | grep -q 'Universal Ctags'; then
	for n in 4 5 6; do
		echo "not ok $n - who calls whom # universal-ctags is missing (scripts/setup.sh installs it)"
	done
	echo "$srtp_result"
	exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# calls ROOT OUT: the C files under ROOT/plugin, and into OUT: `edges` ("caller callee name": the
# caller mentions a function the callee defines), `mutual` (pairs that call each other), `upward`
# (calls up LAYERS or across groups of a layer), `placed` ("file layer group") and `unplaced`.
calls() {
	local root=$1 out=$2 layer=0 group line pattern f
	mkdir -p "$out"
	(cd "$root" && find plugin -name '*.c' | LC_ALL=C sort) >"$out/files"
	# "name file" for every function defined without `static` (--extras=-F leaves file-scope ones
	# out), but `create`: the one symbol the plugin exports, which only Janus calls (a common word).
	(cd "$root" && xargs ctags -x --c-kinds=f --extras=-F --_xformat='%N %F') <"$out/files" | grep -v '^create ' |
		LC_ALL=C sort -u >"$out/defs"
	# "file name" for every identifier a file mentions outside string literals.
	while read -r f; do
		sed -E 's/"([^"\\]|\\.)*"/""/g' "$root/$f" | grep -oE '[A-Za-z_][A-Za-z0-9_]*' | LC_ALL=C sort -u |
			sed "s|^|$f |"
	done <"$out/files" >"$out/uses"
	awk 'NR == FNR { def[$1] = def[$1] " " $2; next }
		($2 in def) { n = split(def[$2], d, " "); for (i = 1; i <= n; i++) if (d[i] != $1) print $1, d[i], $2 }' \
		"$out/defs" "$out/uses" | LC_ALL=C sort -u >"$out/edges"
	awk '{ k = $1 " " $2; if (k in e) e[k] = e[k] "," $3; else e[k] = $3 }
		END { for (k in e) { split(k, p, " "); r = p[2] " " p[1]
			if ((r in e) && p[1] < p[2]) print p[1] " <-> " p[2] ": " e[k] " | " e[r] } }' \
		"$out/edges" | LC_ALL=C sort >"$out/mutual"
	# Each file's layer and group: the first group of LAYERS that matches it (set -f: a glob is a
	# pattern for `case`, not to be expanded against the current folder).
	echo "$LAYERS" | while read -r line; do
		set -f
		[ -n "$line" ] || continue
		layer=$((layer + 1))
		group=0
		for pattern in $line; do
			group=$((group + 1))
			while read -r f; do
				case "$f" in $pattern) echo "$f $layer $layer.$group" ;; esac
			done <"$out/files"
		done
	done | awk '!seen[$1]++' >"$out/placed"
	awk 'NR == FNR { layer[$1] = $2; group[$1] = $3; next }
		($1 in layer) && ($2 in layer) && group[$1] != group[$2] && layer[$1] >= layer[$2] {
			k = $1 " -> " $2; if (k in e) e[k] = e[k] "," $3; else e[k] = $3 }
		END { for (k in e) print k ": " e[k] }' "$out/placed" "$out/edges" | LC_ALL=C sort >"$out/upward"
	awk 'NR == FNR { placed[$1] = 1; next } !($1 in placed)' "$out/placed" "$out/files" >"$out/unplaced"
}

calls . "$tmp/tree"
if [ ! -s "$tmp/tree/mutual" ]; then
	echo "ok 4 - no two files under plugin/ call each other"
else
	echo "not ok 4 - files under plugin/ that call each other (caller's names | callee's names):"
	sed 's/^/# /' "$tmp/tree/mutual"
fi
if [ ! -s "$tmp/tree/upward" ]; then
	echo "ok 5 - calls point down the layers ($(wc -l <"$tmp/tree/placed") files placed)"
else
	echo "not ok 5 - calls up the layers, or across groups of one layer (tests/check-layering.sh, LAYERS):"
	sed 's/^/# /' "$tmp/tree/upward"
fi
sed 's/^/# not in LAYERS (only test 4 checks it): /' "$tmp/tree/unplaced"

# The planted tree: engine.c calls the registry (down: fine); the registry's comment names engine.c's
# ah_engine_top (up, and so a cycle); validate.c names both only in a string and defines a static.
mkdir -p "$tmp/planted/plugin/core"
cat >"$tmp/planted/plugin/core/engine.c" <<'EOF'
void ah_engine_top(void);
void ah_engine_top(void) { ah_registry_leaf(); ah_hidden(); }
EOF
cat >"$tmp/planted/plugin/core/engine-registry.c" <<'EOF'
/* The caller is ah_engine_top. */
void ah_registry_leaf(void);
void ah_registry_leaf(void) { }
EOF
cat >"$tmp/planted/plugin/core/validate.c" <<'EOF'
static void ah_hidden(void) { }
const char *ah_validate_name(void);
const char *ah_validate_name(void) { ah_hidden(); return "ah_engine_top ah_registry_leaf"; }
EOF
calls "$tmp/planted" "$tmp/planted-out"
want_mutual='plugin/core/engine-registry.c <-> plugin/core/engine.c: ah_engine_top | ah_registry_leaf'
want_upward='plugin/core/engine-registry.c -> plugin/core/engine.c: ah_engine_top'
if [ "$(cat "$tmp/planted-out/mutual")" = "$want_mutual" ] && [ "$(cat "$tmp/planted-out/upward")" = "$want_upward" ] &&
	[ "$(wc -l <"$tmp/planted-out/edges")" -eq 2 ]; then
	echo "ok 6 - on a planted tree, tests 4 and 5 find its cycle and its call up, nothing else"
else
	echo "not ok 6 - on a planted tree, tests 4 and 5 do not see what they must; edges, pairs, calls up found:"
	cat "$tmp/planted-out/edges" "$tmp/planted-out/mutual" "$tmp/planted-out/upward" | sed 's/^/# /'
fi
echo "$srtp_result"
exit 0
