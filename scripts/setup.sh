#!/usr/bin/env bash
# Installs what building and testing allhands needs, then builds the plugin. Idempotent: apt is
# skipped when every package is installed, npm when node_modules matches package-lock.json, and
# autoreconf/configure when the build tree is already configured (make rebuilds what changed).
#
# Usage: bash scripts/setup.sh [--no-build] [--no-npm] [--no-apt]
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

do_apt=1 do_npm=1 do_build=1
for arg in "$@"; do
	case "$arg" in
	--no-apt) do_apt=0 ;;
	--no-npm) do_npm=0 ;;
	--no-build) do_build=0 ;;
	-h|--help) sed -n '2,7p' "$0"; exit 0 ;;
	*) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
	esac
done

say() { printf '[setup] %s\n' "$*"; }

# chromium and fonts: the web pages' end-to-end tests (playwright-core drives Debian's chromium);
# libjs-webrtc-adapter: the pages load it with janus.js.
# libjwt-dev: join tokens; clang: libFuzzer for the fuzz targets (make fuzz).
# libhiredis-dev: the Redis client of cluster mode; redis-server: its tests (and the cluster's Redis).
APT_PKGS=(janus janus-dev libjs-janus-gateway libjs-webrtc-adapter libglib2.0-dev libjansson-dev libical-dev libjwt-dev
	libssl-dev libnice-dev libsrtp2-dev libhiredis-dev redis-server
	tzdata autoconf automake libtool pkg-config iproute2 make gcc clang chromium fonts-dejavu-core)

apt_missing() {
	local p
	for p in "${APT_PKGS[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
	done
	command -v node >/dev/null 2>&1 || echo nodejs
	command -v npm >/dev/null 2>&1 || echo npm
}

if [ "$do_apt" = 1 ]; then
	mapfile -t missing < <(apt_missing)
	if [ "${#missing[@]}" -gt 0 ]; then
		say "installing Debian packages: ${missing[*]}"
		SUDO=()
		if [ "$(id -u)" != 0 ]; then
			command -v sudo >/dev/null 2>&1 || { echo "setup.sh: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
			SUDO=(sudo)
		fi
		export DEBIAN_FRONTEND=noninteractive
		"${SUDO[@]}" apt-get update -q
		"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
	else
		say "Debian packages: all installed"
	fi
fi

if [ "$do_npm" = 1 ]; then
	stamp=node_modules/.allhands-lock.sha256
	want=$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d node_modules/@roamhq/wrtc ]; then
		say "npm packages: up to date"
	else
		say "installing npm packages (npm ci)"
		npm ci --no-audit --no-fund --loglevel=error
		echo "$want" > "$stamp"
	fi
fi

if [ "$do_build" = 1 ]; then
	if [ ! -x configure ] || [ ! -f Makefile ] || [ configure.ac -nt configure ]; then
		say "autoreconf -fi && ./configure"
		mkdir -p m4
		autoreconf -fi
		./configure --quiet
	fi
	say "make -j2"
	make -j2
	test -f .libs/libjanus_allhands.so || { echo "setup.sh: .libs/libjanus_allhands.so was not built" >&2; exit 1; }
	say "built .libs/libjanus_allhands.so"
fi
