#!/usr/bin/env bash
# The Debian package, end to end (TAP): builds janus-allhands with dpkg-buildpackage from a copy of
# the tree (scripts/build-deb.sh; never in the checkout), runs lintian on the .deb (no errors, no
# warnings), checks its version, file list, conffile and dependencies, extracts it (dpkg-deb -x) and
# starts a real Janus whose plugin folder is the extracted one, with the packaged configuration,
# inside a private network namespace: the plugin must load, answer through the Admin API and through
# a plugin handle over Janus's HTTP transport, and write its state file where the configuration says;
# Janus must stop cleanly on SIGTERM. Last, it installs the .deb with dpkg into an empty root,
# upgrades it to a repacked later version (an edited configuration is kept, with and without a new
# default in the package) and purges it. Run by scripts/test.sh as the stage "=== package"; needs
# root for Janus's namespace and for dpkg --root (those tests are skipped otherwise).
#
# Usage: bash tests/package/test-deb.sh [OUTDIR]   (default test-artifacts/package: .deb, logs)
#   AH_SKIP_PACKAGE=1  skip everything (prints "1..0 # SKIP")
#   AH_PACKAGE_DEB=F   test the .deb F instead of building one (the build test is skipped)
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)
OUT=${1:-$ROOT/test-artifacts/package}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [ "${AH_SKIP_PACKAGE:-0}" = 1 ]; then
	echo "1..0 # SKIP AH_SKIP_PACKAGE=1"
	exit 0
fi

n=0 nfail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); nfail=$((nfail + 1)); echo "not ok $n - $1"; shift; local l; for l in "$@"; do echo "# $l"; done; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
diag() { sed 's/^/# /'; }
finish() { echo "1..$n"; [ "$nfail" = 0 ]; exit $?; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ah-pkgtest-XXXXXX")
NS="ah-deb-$$"
janus_pid=''
cleanup() {
	if [ -n "$janus_pid" ] && kill -0 "$janus_pid" 2>/dev/null; then
		kill -TERM "$janus_pid" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$janus_pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$janus_pid" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build
if [ -n "${AH_PACKAGE_DEB:-}" ]; then
	deb=$(cd "$(dirname "$AH_PACKAGE_DEB")" && pwd)/$(basename "$AH_PACKAGE_DEB")
	[ -f "$deb" ] || { echo "Bail out! AH_PACKAGE_DEB=$AH_PACKAGE_DEB is not a file"; exit 1; }
	skip "dpkg-buildpackage -us -uc -b builds janus-allhands" "AH_PACKAGE_DEB: testing $deb as built"
	skip "the package build compiles without compiler warnings" "AH_PACKAGE_DEB: no build"
else
	t0=$(date +%s)
	rm -f "$OUT"/janus-allhands_*.deb "$OUT"/janus-allhands-dbgsym_*.deb
	# It prints the .deb files it made: the package and its debug symbols (janus-allhands-dbgsym).
	deb=$(bash scripts/build-deb.sh "$OUT" 2> >(diag >&2) | grep '/janus-allhands_[^/]*\.deb$')
	if [ -z "$deb" ] || [ ! -f "$deb" ]; then
		not_ok "dpkg-buildpackage -us -uc -b builds janus-allhands" "see $OUT/build.log"
		tail -n 20 "$OUT/build.log" 2>/dev/null | diag
		finish
	fi
	ok "dpkg-buildpackage -us -uc -b builds $(basename "$deb") ($(($(date +%s) - t0)) s)"
	# Debian's flags (-O2, _FORTIFY_SOURCE, format-security) are not the tree's: they may find more.
	cc_warnings=$(grep -E '\.[ch]:[0-9]+(:[0-9]+)?: warning:' "$OUT/build.log")
	if [ -z "$cc_warnings" ]; then
		ok "the package build compiles without compiler warnings (Debian's hardening flags)"
	else
		not_ok "the package build compiles without compiler warnings" "$cc_warnings"
	fi
fi

# --- the package's metadata
version=$(dpkg-deb -f "$deb" Version)
ac_version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' configure.ac)
if [ "$version" = "$ac_version" ]; then
	ok "package version $version is configure.ac's"
else
	not_ok "package version is configure.ac's" "debian/changelog says '$version', configure.ac '$ac_version'"
fi

lintian --fail-on error,warning --info --pedantic "$deb" >"$OUT/lintian.txt" 2>&1
lintian_rc=$?
if [ "$lintian_rc" = 0 ]; then
	ok "lintian: no errors, no warnings ($(grep -c '^[IPX]:' "$OUT/lintian.txt") info/pedantic/experimental tags)"
else
	not_ok "lintian: no errors, no warnings (exit $lintian_rc)"
fi
grep -v '^N:' "$OUT/lintian.txt" | diag

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
plugdir="usr/lib/$multiarch/janus/plugins"
dpkg -c "$deb" | awk '{ p = $6; for (i = 7; i <= NF; i++) p = p " " $i; sub(/^\.\//, "", p); print p }' >"$OUT/contents.txt"
expected=(
	"$plugdir/libjanus_allhands.so"
	etc/janus/janus.plugin.allhands.jcfg
	var/lib/janus-allhands/
	usr/share/janus-allhands/web/index.html
	usr/share/janus-allhands/web/attendee.html
	usr/share/janus-allhands/web/presenter.html
	usr/share/janus-allhands/web/dashboard.html
	usr/share/janus-allhands/web/common.js
	usr/share/janus-allhands/web/style.css
	"usr/share/janus-allhands/web/vendor/janus.js -> ../../../javascript/janus-gateway/janus.js"
	"usr/share/janus-allhands/web/vendor/adapter.min.js -> ../../../javascript/webrtc-adapter/adapter.min.js"
	usr/share/doc/janus-allhands/copyright
	usr/share/doc/janus-allhands/changelog.gz
	usr/share/doc/janus-allhands/README.md.gz
	usr/share/doc/janus-allhands/operations.md.gz
	usr/share/doc/janus-allhands/api.md.gz
)
missing=()
for p in "${expected[@]}"; do grep -qxF -- "$p" "$OUT/contents.txt" || missing+=("$p"); done
if [ "${#missing[@]}" = 0 ]; then
	ok "dpkg -c: plugin, configuration, state folder, web pages with links to Debian's janus.js and adapter, docs"
else
	not_ok "dpkg -c lists every expected file" "missing: ${missing[*]}" "(list in $OUT/contents.txt)"
fi
# Nothing else: the folders leading to those, then only inside the package's own places; no libtool
# archive, no leftover .sample, no load client.
stray=$(awk -v plug="$plugdir/" -v ma="$multiarch" '
	$0 == "" { next }
	$0 ~ /^(etc|etc\/janus|var|var\/lib|usr|usr\/lib|usr\/share|usr\/share\/doc|usr\/share\/lintian|usr\/share\/lintian\/overrides)\/$/ { next }
	$0 == "usr/lib/" ma "/" || $0 == "usr/lib/" ma "/janus/" || $0 == plug { next }
	index($0, plug) == 1 || $0 == "etc/janus/janus.plugin.allhands.jcfg" || index($0, "var/lib/janus-allhands/") == 1 { next }
	index($0, "usr/share/janus-allhands/") == 1 || index($0, "usr/share/doc/janus-allhands/") == 1 { next }
	$0 == "usr/share/lintian/overrides/janus-allhands" { next }
	{ print }' "$OUT/contents.txt"; grep -E '\.(la|a|sample)$|ah-loadclient' "$OUT/contents.txt")
if [ -z "$stray" ]; then
	ok "dpkg -c: nothing outside those places, no .la, .a, .sample or load client"
else
	not_ok "dpkg -c: nothing unexpected" $stray
fi
conffiles=$(dpkg-deb --info "$deb" conffiles 2>/dev/null)
if [ "$conffiles" = /etc/janus/janus.plugin.allhands.jcfg ]; then
	ok "the configuration is a conffile (and the only one)"
else
	not_ok "the configuration is the only conffile" "conffiles: '$conffiles'"
fi
depends=$(dpkg-deb -f "$deb" Depends)
echo "# Depends: $depends"
dep_missing=()
for d in 'janus (>= 1.1.2)' 'libglib2.0-0' 'libjansson4' 'libical3' 'libjwt' 'libc6' 'libjs-janus-gateway' 'libjs-webrtc-adapter'; do
	case "$depends" in *"$d"*) ;; *) dep_missing+=("$d") ;; esac
done
if [ "${#dep_missing[@]}" = 0 ]; then
	ok "Depends: janus (>= 1.1.2), the libraries the plugin links (from shlibs) and the pages' JavaScript"
else
	not_ok "Depends names janus and the linked libraries" "missing: ${dep_missing[*]}"
fi

# --- the extracted package
X="$TMP/extracted"
mkdir -p "$X"
dpkg-deb -x "$deb" "$X"
# Every script the pages load from vendor/ is a link that lands, once installed, on a file of a package
# janus-allhands depends on.
web=usr/share/janus-allhands/web
vendor_problems=()
for src in $(sed -n 's/.*src="\(vendor\/[^"]*\)".*/\1/p' "$X/$web"/*.html | sort -u); do
	link="$X/$web/$src"
	if [ ! -L "$link" ]; then vendor_problems+=("$src is not a link"); continue; fi
	target=$(realpath -m "/$web/$(dirname "$src")/$(readlink "$link")")
	owner=$(dpkg -S "$target" 2>/dev/null | cut -d: -f1)
	case "$owner" in
	libjs-janus-gateway|libjs-webrtc-adapter) echo "# $src -> $target ($owner)" ;;
	*) vendor_problems+=("$src -> $target belongs to '${owner:-no installed package}'") ;;
	esac
done
if [ "$(sed -n 's/.*src="\(vendor\/[^"]*\)".*/\1/p' "$X/$web"/*.html | sort -u | wc -l)" -ge 2 ] && [ "${#vendor_problems[@]}" = 0 ]; then
	ok "the pages' vendor/ scripts are links to files of libjs-janus-gateway and libjs-webrtc-adapter"
else
	not_ok "the pages' vendor/ scripts link to their Debian packages" "${vendor_problems[@]:-fewer than 2 vendor scripts found}"
fi

# --- a real Janus with the extracted package
if [ "$(id -u)" != 0 ]; then
	for t in "Janus loads the packaged plugin" "the plugin answers through the Admin API" \
		"the packaged configuration is read (state file written where it says)" \
		"a plugin handle over Janus's HTTP transport gets an answer" "Janus stops on SIGTERM" \
		"dpkg --root: install, upgrade keeping an edited configuration, purge"; do
		skip "$t" "needs root (network namespace, dpkg --root)"
	done
	finish
fi

W="$TMP/janus"
mkdir -p "$W"/{conf,transports,empty,state}
JANUS_LIBDIR="/usr/lib/$multiarch/janus"
ADMIN_SECRET="pkgtest-$$-$RANDOM"
state_file="$W/state/allhands-state.json"

# The plugin's configuration is the packaged one with only state_file moved to a scratch folder.
sed -E "s#^([[:space:]]*)state_file = \".*\"#\\1state_file = \"$state_file\"#" \
	"$X/etc/janus/janus.plugin.allhands.jcfg" >"$W/conf/janus.plugin.allhands.jcfg"
cfg_changes=$(diff "$X/etc/janus/janus.plugin.allhands.jcfg" "$W/conf/janus.plugin.allhands.jcfg" | grep -c '^>')
capacity=$(sed -nE 's/^[[:space:]]*capacity = ([0-9]+).*/\1/p' "$W/conf/janus.plugin.allhands.jcfg")
cat >"$W/conf/janus.jcfg" <<JCFG
general: {
	configs_folder = "$W/conf"
	plugins_folder = "$X/$plugdir"
	transports_folder = "$W/transports"
	events_folder = "$W/empty"
	loggers_folder = "$W/empty"
	debug_level = 4
	debug_timestamps = true
	debug_colors = false
	admin_secret = "$ADMIN_SECRET"
	interface = "10.77.0.1"
	server_name = "allhands-package-test"
	session_timeout = 30
}
certificates: {
}
media: {
}
nat: {
	nice_debug = false
	ignore_mdns = true
	full_trickle = false
	ice_enforce_list = "ahpkg0"
}
plugins: {
}
transports: {
}
loggers: {
}
events: {
}
JCFG
cat >"$W/conf/janus.transport.http.jcfg" <<JCFG
general: {
	json = "compact"
	base_path = "/janus"
	http = true
	port = 8088
	ip = "127.0.0.1"
	https = false
}
admin: {
	admin_base_path = "/admin"
	admin_http = true
	admin_port = 7088
	admin_ip = "127.0.0.1"
	admin_https = false
}
cors: {
}
JCFG
ln -s "$JANUS_LIBDIR/transports/libjanus_http.so" "$W/transports/libjanus_http.so"

# Janus gathers no ICE candidates on loopback: the namespace gets a veth pair of its own (both ends
# inside it; nothing is linked to the host's network).
ip netns add "$NS" &&
	ip -n "$NS" link set lo up &&
	ip -n "$NS" link add ahpkg0 type veth peer name ahpkg1 &&
	ip -n "$NS" addr add 10.77.0.1/24 dev ahpkg0 &&
	ip -n "$NS" addr add 10.77.0.2/24 dev ahpkg1 &&
	ip -n "$NS" link set ahpkg0 up &&
	ip -n "$NS" link set ahpkg1 up || echo "# could not set up network namespace $NS"

inns() { ip netns exec "$NS" "$@"; }
post() { inns curl -s -m 10 -H 'content-type: application/json' -d "$2" "http://127.0.0.1:$1"; }
admin() { post 7088/admin "$(jq -nc --arg s "$ADMIN_SECRET" --argjson b "$1" '$b + {admin_secret: $s, transaction: "t"}')"; }
plugin_admin() { admin "$(jq -nc --argjson r "$1" '{janus: "message_plugin", plugin: "janus.plugin.allhands", request: $r}')"; }

janus_log="$OUT/janus.log"
# Not through inns: $! must be Janus's own PID (ip netns exec execs it), not a subshell's.
ip netns exec "$NS" janus -F "$W/conf" -C "$W/conf/janus.jcfg" -o >"$janus_log" 2>&1 &
janus_pid=$!
info=''
for _ in $(seq 1 150); do
	kill -0 "$janus_pid" 2>/dev/null || break
	info=$(admin '{"janus":"info"}' 2>/dev/null)
	[ "$(jq -r '.janus' <<<"$info" 2>/dev/null)" = server_info ] && break
	info=''
	sleep 0.2
done
loaded=$(jq -r '.plugins["janus.plugin.allhands"].version_string // empty' <<<"$info" 2>/dev/null)
if [ "$loaded" = "$version" ]; then
	ok "Janus loads janus.plugin.allhands $loaded from the extracted plugin folder"
else
	not_ok "Janus loads the packaged plugin" "info.plugins: $(jq -c '.plugins | keys' <<<"$info" 2>/dev/null)" \
		"version_string '$loaded', package $version" "last lines of $janus_log:"
	tail -n 20 "$janus_log" | diag
fi

status=$(plugin_admin '{"request":"status"}')
got_capacity=$(jq -r '.response.node.capacity // empty' <<<"$status" 2>/dev/null)
if [ -n "$capacity" ] && [ "$got_capacity" = "$capacity" ]; then
	ok "the plugin answers status through the Admin API (capacity $got_capacity, as configured)"
else
	not_ok "the plugin answers status through the Admin API" "reply: $status" "configured capacity: '$capacity'"
fi

TENANT_SECRET="pkgtest-tenant-secret-$$"
created=$(plugin_admin "$(jq -nc --arg s "$TENANT_SECRET" \
	'{request: "create_tenant", tenant: "pkgtest", name: "Package test", max_participants: 10, secret: $s}')")
synced=$(plugin_admin '{"request":"sync"}')
if [ "$cfg_changes" = 1 ] && [ "$(jq -r '.response.signing_key // empty' <<<"$created")" != '' ] &&
	jq -e . "$state_file" >/dev/null 2>&1 && grep -q '"pkgtest"' "$state_file"; then
	ok "the packaged configuration is read: create_tenant and sync write the tenant to state_file"
else
	not_ok "the packaged configuration is read (state file written where it says)" \
		"lines changed in the copy of the configuration: $cfg_changes (want 1, state_file)" \
		"create_tenant: $created" "sync: $synced" "state file: $(ls -l "$state_file" 2>&1)"
fi

# A tenant's status through an ordinary plugin handle: create a session, attach, send the message,
# and read the answer (synchronous, or an event on the session's long poll).
session=$(post 8088/janus '{"janus":"create","transaction":"c"}' | jq -r '.data.id // empty' 2>/dev/null)
handle=''
[ -n "$session" ] && handle=$(post "8088/janus/$session" '{"janus":"attach","plugin":"janus.plugin.allhands","transaction":"a"}' |
	jq -r '.data.id // empty' 2>/dev/null)
answer=''
if [ -n "$handle" ]; then
	reply=$(post "8088/janus/$session/$handle" "$(jq -nc --arg s "$TENANT_SECRET" \
		'{janus: "message", transaction: "m", body: {request: "status", tenant: "pkgtest", tenant_secret: $s}}')")
	if [ "$(jq -r '.janus' <<<"$reply" 2>/dev/null)" = success ]; then
		answer=$(jq -c '.plugindata.data' <<<"$reply")
	else
		for _ in 1 2 3; do
			ev=$(inns curl -s -m 35 "http://127.0.0.1:8088/janus/$session?maxev=1")
			if [ "$(jq -r '.transaction // empty' <<<"$ev" 2>/dev/null)" = m ]; then answer=$(jq -c '.plugindata.data' <<<"$ev"); break; fi
		done
	fi
fi
if [ "$(jq -r '.tenants[0].tenant // empty' <<<"$answer" 2>/dev/null)" = pkgtest ]; then
	ok "a plugin handle over Janus's HTTP transport gets the tenant's status"
else
	not_ok "a plugin handle over Janus's HTTP transport gets an answer" "session '$session', handle '$handle'" \
		"reply: ${reply:-none}" "answer: ${answer:-none}"
fi
[ -n "$session" ] && post "8088/janus/$session" '{"janus":"destroy","transaction":"d"}' >/dev/null

exit_status=''
if kill -0 "$janus_pid" 2>/dev/null; then
	sigs=$(grep -E '^Sig(Ign|Cgt)' "/proc/$janus_pid/status" | tr '\n\t' '  ')
	kill -TERM "$janus_pid"
	for _ in $(seq 1 100); do kill -0 "$janus_pid" 2>/dev/null || break; sleep 0.2; done
	if kill -0 "$janus_pid" 2>/dev/null; then exit_status=running; else wait "$janus_pid"; exit_status=$?; fi
fi
if [ "$exit_status" = 0 ] && ! grep -qiE 'segmentation|assertion|double free|AddressSanitizer' "$janus_log"; then
	ok "Janus stops on SIGTERM (exit status 0)"
else
	not_ok "Janus stops on SIGTERM" "exit status: ${exit_status:-not running before SIGTERM}" "log: $janus_log" \
		"$(cat "/proc/$janus_pid/comm" 2>/dev/null) signals before SIGTERM: ${sigs:-?}"
	tail -n 10 "$janus_log" | diag
fi
janus_pid=''

# --- dpkg into an empty root: install, edit the configuration, upgrade (twice), purge
R="$TMP/root"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
: >"$R/var/lib/dpkg/status"
dpkg_log="$OUT/dpkg-root.log"
: >"$dpkg_log"
# --force-depends: the empty root has no janus; --force-script-chrootless: run the maintainer scripts
# here, with DPKG_ROOT set (the root has no shell to chroot into).
rdpkg() { dpkg --root="$R" --log="$TMP/dpkg.log" --force-depends --force-script-chrootless "$@" </dev/null >>"$dpkg_log" 2>&1; }
cfg="$R/etc/janus/janus.plugin.allhands.jcfg"
host_state_before=$(ls -a /var/lib/janus-allhands 2>&1)
repack() { # VERSION NEWDEFAULT(0|1) OUT.deb
	local d="$TMP/repack-$1"
	rm -rf "$d"
	dpkg-deb -R "$deb" "$d" &&
		sed -i "s/^Version: .*/Version: $1/" "$d/DEBIAN/control" &&
		{ [ "$2" = 0 ] || printf '# a new default in version %s\n' "$1" >>"$d/etc/janus/janus.plugin.allhands.jcfg"; } &&
		(cd "$d" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | xargs -0 md5sum >DEBIAN/md5sums) &&
		dpkg-deb --root-owner-group -b "$d" "$3" >>"$dpkg_log" 2>&1
}
problems=()
rdpkg -i "$deb" || problems+=("dpkg -i $version failed")
[ -f "$R/$plugdir/libjanus_allhands.so" ] && [ -f "$cfg" ] && [ -d "$R/var/lib/janus-allhands" ] ||
	problems+=("install: plugin, configuration or state folder missing")
sed -i -E 's/^([[:space:]]*)capacity = [0-9]+/\1capacity = 321/' "$cfg"
echo '{"version":2}' >"$R/var/lib/janus-allhands/allhands-state.json"
repack "$version+up1" 0 "$TMP/up1.deb" || problems+=("repack $version+up1 failed")
rdpkg -i "$TMP/up1.deb" || problems+=("upgrade to $version+up1 failed")
[ "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Version}' janus-allhands 2>/dev/null)" = "$version+up1" ] ||
	problems+=("after the upgrade dpkg does not list $version+up1")
grep -q 'capacity = 321' "$cfg" || problems+=("upgrade (same default): the edited configuration was not kept")
ls "$cfg".dpkg-* >/dev/null 2>&1 && problems+=("upgrade (same default) left $(ls "$cfg".dpkg-*)")
repack "$version+up2" 1 "$TMP/up2.deb" || problems+=("repack $version+up2 failed")
rdpkg --force-confdef --force-confold -i "$TMP/up2.deb" || problems+=("upgrade to $version+up2 failed")
grep -q 'capacity = 321' "$cfg" || problems+=("upgrade (new default, --force-confold): the edited configuration was not kept")
grep -q "new default in version $version+up2" "$cfg.dpkg-dist" 2>/dev/null ||
	problems+=("upgrade (new default): the package's new configuration is not in $cfg.dpkg-dist")
[ -f "$R/var/lib/janus-allhands/allhands-state.json" ] || problems+=("upgrade lost the state file")
rdpkg -P janus-allhands || problems+=("purge failed")
[ -e "$R/var/lib/janus-allhands" ] && problems+=("purge left /var/lib/janus-allhands")
[ -e "$cfg" ] && problems+=("purge left the configuration")
[ -e "$R/$plugdir/libjanus_allhands.so" ] && problems+=("purge left the plugin")
[ "$(ls -a /var/lib/janus-allhands 2>&1)" = "$host_state_before" ] || problems+=("the host's /var/lib/janus-allhands changed")
if [ "${#problems[@]}" = 0 ]; then
	ok "dpkg --root: install, upgrades keep an edited configuration (.dpkg-dist beside it for a new default) and the state, purge removes both"
else
	not_ok "dpkg --root: install, upgrade keeping an edited configuration, purge" "${problems[@]}" "log: $dpkg_log"
fi

finish
