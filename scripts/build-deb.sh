#!/usr/bin/env bash
# Builds the Debian package janus-allhands (debian/) from this checkout without touching it: the
# files git knows (committed, changed or new, not ignored) are copied into a temporary folder, where
# `dpkg-buildpackage -us -uc -b` runs; the .deb, .buildinfo and .changes are moved to OUTDIR and the
# path of the .deb is printed on the last line. The build log is OUTDIR/build.log.
#
# Usage: bash scripts/build-deb.sh [OUTDIR]     (default test-artifacts/package)
#   AH_DEB_JOBS   parallel make jobs in the package build (default 2)
#   AH_KEEP_TMP=1 keep the temporary build folder (its path is printed)
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
OUT=${1:-$ROOT/test-artifacts/package}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

die() { printf 'build-deb.sh: %s\n' "$*" >&2; exit 1; }
command -v dpkg-buildpackage >/dev/null || die "dpkg-buildpackage is missing (apt-get install dpkg-dev debhelper)"
git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	die "$ROOT is not a git checkout: run dpkg-buildpackage -us -uc -b in a clean copy of the source instead"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ah-deb-XXXXXX")
cleanup() { if [ "${AH_KEEP_TMP:-0}" = 1 ]; then echo "build-deb.sh: build folder kept: $TMP" >&2; else rm -rf "$TMP"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# The source folder is named like Debian's unpacked sources (name-version); dpkg-buildpackage
# writes its results one folder up, in $TMP.
name=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Source)
version=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
SRC="$TMP/$name-$version"
mkdir -p "$SRC"
# Only what git tracks or would track: never the checkout's own build products (configure, .libs,
# objects), which would make the package's build skip steps or use another configuration. A file
# deleted but not yet committed is left out; node_modules is a link in worktrees.
git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do
		case "$f" in node_modules|node_modules/*|test-artifacts/*) continue ;; esac
		if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
	done |
	tar -C "$ROOT" --null -T - -cf - | tar -C "$SRC" -xf -

log="$OUT/build.log"
echo "build-deb.sh: building $name $version in $SRC (log: $log)" >&2
if ! (cd "$SRC" && DEB_BUILD_OPTIONS="parallel=${AH_DEB_JOBS:-2} nocheck" dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	die "dpkg-buildpackage failed (see $log)"
fi
shopt -s nullglob
debs=("$TMP"/*.deb)
[ "${#debs[@]}" -gt 0 ] || die "dpkg-buildpackage made no .deb (see $log)"
for f in "$TMP"/*.deb "$TMP"/*.buildinfo "$TMP"/*.changes; do
	rm -f "$OUT/$(basename "$f")"
	mv "$f" "$OUT/"
done
for f in "${debs[@]}"; do echo "$OUT/$(basename "$f")"; done
