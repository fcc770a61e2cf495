#!/usr/bin/env bash
# The project's demo command: installs and builds (scripts/setup.sh), starts Janus with the allhands
# plugin, creates a demo tenant `demo` and room `allhands` (presenter secret "presenter", no pin),
# serves the web pages (web/) and stays in the foreground until Ctrl-C, then cleans up.
#
# Default (for a machine whose network must not be used, like the project's own): Janus runs in a
# network namespace `ah-demo` joined to this host by a veth pair (host 10.98.0.1, Janus 10.98.0.2),
# because Janus gathers no ICE candidates on loopback. A browser on this host reaches Janus at
# 10.98.0.2; the pages are served on http://localhost:8080 (a secure context, so presenters may use
# the camera). Nothing leaves the machine. Needs root.
#
# --no-netns: an ordinary server with a real network: Janus in the host's namespace on all its
# interfaces (HTTP 8088, WebSockets 8188; Admin API 7088 on 127.0.0.1 only), pages on port 8080.
#
# --cluster N (2..5): cluster mode (docs/cluster.md): redis-server and N Janus nodes, each in its own
# namespace on one bridge that this host reaches at 10.98.0.1 (scripts/demo-cluster.sh; needs root).
#
# Usage: bash scripts/demo.sh [--no-netns] [--cluster N] [--web-port N] [--no-setup]
#   AH_DEMO_DIR     run folder (config, state, logs), default /var/tmp/allhands-demo
#   AH_DEMO_SUBNET  first three octets of the veth subnet, default 10.98.0
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

netns=1 web_port=8080 setup=1 cluster=0
while [ $# -gt 0 ]; do
	case "$1" in
	--no-netns) netns=0 ;;
	--web-port) web_port=$2; shift ;;
	--cluster) [ $# -ge 2 ] || { echo "demo.sh: --cluster needs a number of nodes (2..5)" >&2; exit 2; }; cluster=$2; shift ;;
	--no-setup) setup=0 ;;
	-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

say() { printf '[demo] %s\n' "$*"; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }
rand() { od -An -N"${1:-9}" -tx1 /dev/urandom | tr -d ' \n'; }

[ "$(id -u)" = 0 ] || [ "$netns" = 0 ] || die "needs root (it makes a network namespace); or use --no-netns"
if [ "$cluster" != 0 ]; then
	case "$cluster" in [2-5]) ;; *) die "--cluster takes a number of nodes from 2 to 5" ;; esac
	[ "$netns" = 1 ] || die "--cluster runs every node in a namespace of its own: it cannot be combined with --no-netns"
	[ "$(id -u)" = 0 ] || die "--cluster needs root (it makes network namespaces)"
fi

if [ "$setup" = 1 ]; then
	bash scripts/setup.sh
fi
need_pkgs=()
[ -f /usr/share/javascript/webrtc-adapter/adapter.min.js ] || need_pkgs+=(libjs-webrtc-adapter)
[ -f /usr/share/javascript/janus-gateway/janus.js ] || need_pkgs+=(libjs-janus-gateway)
[ -x /usr/bin/python3 ] || need_pkgs+=(python3)
if [ "$cluster" != 0 ]; then
	command -v redis-server >/dev/null || need_pkgs+=(redis-server)
	command -v redis-cli >/dev/null || need_pkgs+=(redis-tools)
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
	say "installing ${need_pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
fi
[ -f .libs/libjanus_allhands.so ] || die ".libs/libjanus_allhands.so is missing: run scripts/setup.sh"
[ "$cluster" = 0 ] || exec bash scripts/demo-cluster.sh --nodes "$cluster" --web-port "$web_port"

JANUS_LIBDIR=/usr/lib/x86_64-linux-gnu/janus
[ -d "$JANUS_LIBDIR" ] || JANUS_LIBDIR=$(dirname "$(dirname "$(find /usr/lib /usr/local/lib /opt -name libjanus_http.so -path '*transports*' 2>/dev/null | head -1)")")
[ -f "$JANUS_LIBDIR/transports/libjanus_http.so" ] || die "Janus transports not found (install janus)"

DIR=${AH_DEMO_DIR:-/var/tmp/allhands-demo}
SUBNET=${AH_DEMO_SUBNET:-10.98.0}
NS=ah-demo
HOST_IF=ahd0
NS_IF=ahd1
mkdir -p "$DIR"/{conf,plugins,transports,empty,state,www}
chmod 700 "$DIR"
if [ -f "$DIR/janus.pid" ] && kill -0 "$(cat "$DIR/janus.pid")" 2>/dev/null; then
	die "a demo already runs (Janus pid $(cat "$DIR/janus.pid")): stop it with Ctrl-C first"
fi

ADMIN_SECRET=$(rand)
ADMIN_KEY=$(rand)
TENANT_SECRET=$(rand)

janus_pid='' web_pid='' cleaned=0
cleanup() {
	[ "$cleaned" = 1 ] && return
	cleaned=1
	trap - INT TERM EXIT
	echo
	say "stopping"
	[ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null || true
	if [ -n "$janus_pid" ] && kill -0 "$janus_pid" 2>/dev/null; then
		kill -TERM "$janus_pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$janus_pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$janus_pid" 2>/dev/null || true
	fi
	rm -f "$DIR/janus.pid"
	if [ "$netns" = 1 ]; then
		ip link del "$HOST_IF" 2>/dev/null || true
		ip netns del "$NS" 2>/dev/null || true
	fi
	say "stopped; logs and state stay in $DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- network
if [ "$netns" = 1 ]; then
	if ip netns list | grep -qw "$NS"; then
		[ -z "$(ip netns pids "$NS" 2>/dev/null)" ] || die "namespace $NS still has processes (another demo?)"
		ip netns del "$NS"
	fi
	ip link del "$HOST_IF" 2>/dev/null || true
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip link add "$HOST_IF" type veth peer name "$NS_IF" netns "$NS"
	ip addr add "$SUBNET.1/24" dev "$HOST_IF"
	ip link set "$HOST_IF" up
	ip -n "$NS" addr add "$SUBNET.2/24" dev "$NS_IF"
	ip -n "$NS" link set "$NS_IF" up
	JANUS_IP=$SUBNET.2
	run_in=(ip netns exec "$NS")
	bind_public=0.0.0.0 bind_admin=0.0.0.0 web_bind=127.0.0.1
	nat_extra="	ice_enforce_list = \"$NS_IF\""
	general_extra="	interface = \"$JANUS_IP\""
else
	JANUS_IP=$(hostname -I 2>/dev/null | awk '{print $1}')
	[ -n "$JANUS_IP" ] || JANUS_IP=127.0.0.1
	run_in=()
	bind_public=0.0.0.0 bind_admin=127.0.0.1 web_bind=0.0.0.0
	nat_extra='' general_extra=''
fi

# --- Janus configuration (private folder; /etc/janus is not touched)
cat > "$DIR/conf/janus.jcfg" <<JCFG
general: {
	configs_folder = "$DIR/conf"
	plugins_folder = "$DIR/plugins"
	transports_folder = "$DIR/transports"
	events_folder = "$DIR/empty"
	loggers_folder = "$DIR/empty"
	debug_level = 4
	debug_timestamps = true
	admin_secret = "$ADMIN_SECRET"
	server_name = "allhands-demo"
	session_timeout = 60
	event_loops = 2
$general_extra
}
certificates: {
}
media: {
}
nat: {
	nice_debug = false
	ignore_mdns = true
	full_trickle = false
$nat_extra
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
cat > "$DIR/conf/janus.transport.http.jcfg" <<JCFG
general: {
	json = "indented"
	base_path = "/janus"
	http = true
	port = 8088
	ip = "$bind_public"
	https = false
}
admin: {
	admin_base_path = "/admin"
	admin_http = true
	admin_port = 7088
	admin_ip = "$bind_admin"
	admin_https = false
}
cors: {
}
JCFG
cat > "$DIR/conf/janus.transport.websockets.jcfg" <<JCFG
general: {
	json = "indented"
	ws = true
	ws_port = 8188
	ws_ip = "$bind_public"
	wss = false
}
admin: {
	admin_ws = false
	admin_wss = false
}
JCFG
cat > "$DIR/conf/janus.plugin.allhands.jcfg" <<JCFG
general: {
	admin_key = "$ADMIN_KEY"
	state_file = "$DIR/state/allhands-state.json"
	capacity = 200
	wave_size = 20
	wave_interval_ms = 1000
	admit_timeout_ms = 15000
	join_rate = 50
	join_burst = 20
	rejoin_grace_s = 30
	events = true
}
JCFG
chmod 600 "$DIR"/conf/*.jcfg
ln -sfn "$ROOT/.libs/libjanus_allhands.so" "$DIR/plugins/libjanus_allhands.so"
for t in libjanus_http.so libjanus_websockets.so; do ln -sfn "$JANUS_LIBDIR/transports/$t" "$DIR/transports/$t"; done

# --- Janus
say "starting Janus (log: $DIR/janus.log)"
# `ip netns exec` execs janus: $! is Janus's own PID.
"${run_in[@]}" janus -F "$DIR/conf" -C "$DIR/conf/janus.jcfg" -o >"$DIR/janus.log" 2>&1 &
janus_pid=$!
echo "$janus_pid" > "$DIR/janus.pid"
if [ "$netns" = 1 ]; then ADMIN_URL="http://$JANUS_IP:7088/admin"; else ADMIN_URL="http://127.0.0.1:7088/admin"; fi
admin() { node scripts/admin.mjs --url "$ADMIN_URL" --secret "$ADMIN_SECRET" "$@"; }
if ! admin --wait 30 --quiet; then
	tail -n 30 "$DIR/janus.log" >&2
	die "Janus did not answer on $ADMIN_URL"
fi
admin --quiet '{"request":"status"}' || { tail -n 30 "$DIR/janus.log" >&2; die "the allhands plugin does not answer (see $DIR/janus.log)"; }

# --- demo tenant and room (kept in the state file across runs: update them if they exist)
if ! admin --quiet "{\"request\":\"create_tenant\",\"tenant\":\"demo\",\"name\":\"Demo\",\"max_participants\":200,\"secret\":\"$TENANT_SECRET\"}"; then
	admin --quiet "{\"request\":\"edit_tenant\",\"tenant\":\"demo\",\"max_participants\":200,\"secret\":\"$TENANT_SECRET\"}" || die "cannot create or edit tenant demo"
fi
if ! admin --quiet '{"request":"create_room","tenant":"demo","room":"allhands","description":"Demo all-hands","max_attendees":150,"presenter_secret":"presenter"}'; then
	admin --quiet '{"request":"edit_room","tenant":"demo","room":"allhands","max_attendees":150,"pin":"","presenter_secret":"presenter"}' || die "cannot create or edit room demo/allhands"
fi

# The demo tenant's signing key for join tokens (HS256; docs/api.md "Join tokens").
SIGNING_KEY=$(admin '{"request":"get_signing_key","tenant":"demo"}' |
	node -e 'let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => console.log(JSON.parse(s).signing_key || ""))') ||
	die "cannot read the demo tenant's signing key"

# --- web pages: a staging folder with links to web/ and the browser libraries from Debian
WS_URL="ws://$JANUS_IP:8188/"
if [ -d web ]; then
	rm -rf "$DIR/www"; mkdir -p "$DIR/www/vendor"
	for f in web/*; do
		[ "$(basename "$f")" = vendor ] && continue
		ln -s "$ROOT/$f" "$DIR/www/$(basename "$f")"
	done
	cp /usr/share/javascript/janus-gateway/janus.js "$DIR/www/vendor/janus.js"
	cp /usr/share/javascript/webrtc-adapter/adapter.min.js "$DIR/www/vendor/adapter.min.js"
	/usr/bin/python3 -m http.server "$web_port" --bind "$web_bind" --directory "$DIR/www" >"$DIR/web.log" 2>&1 &
	web_pid=$!
	sleep 0.5
	kill -0 "$web_pid" 2>/dev/null || { cat "$DIR/web.log" >&2; die "the web server did not start on port $web_port"; }
fi

if [ "$netns" = 1 ]; then
	page_host=localhost where="in namespace $NS, reached from this host at $JANUS_IP" browser="a browser on this machine"
else
	page_host=$JANUS_IP where="on this host's network" browser="a browser"
fi
q="?server=$WS_URL&tenant=demo&room=allhands"
dq="?admin=$ADMIN_URL&admin_secret=$ADMIN_SECRET"
cat <<EOF

  allhands demo is running.

  Janus ($where):
    WebSockets  $WS_URL
    HTTP API    http://$JANUS_IP:8088/janus
    Admin API   $ADMIN_URL   admin_secret: $ADMIN_SECRET
    plugin admin_key (admin requests over a plugin handle): $ADMIN_KEY
    log         $DIR/janus.log

  Tenant "demo" (secret: $TENANT_SECRET), room "allhands": no pin, presenter secret "presenter".
  Join tokens for tenant "demo": HS256 signed with its signing key $SIGNING_KEY
EOF
if [ -n "$web_pid" ]; then
	cat <<EOF

  Pages (open in $browser):
    http://$page_host:$web_port/$q&admin=$ADMIN_URL
    attendee:  http://$page_host:$web_port/attendee.html$q
    presenter: http://$page_host:$web_port/presenter.html$q&secret=presenter
    operator dashboard (has the Admin API secret in it: keep it to yourself):
               http://$page_host:$web_port/dashboard.html$dq
EOF
	[ "$netns" = 0 ] && echo "    (browsers allow the camera only on https or localhost: use an SSH tunnel or an HTTPS proxy for presenters)"
else
	echo; echo "  (no web/ folder: no pages served)"
fi
cat <<EOF

  Admin example:
    node scripts/admin.mjs --url $ADMIN_URL --secret $ADMIN_SECRET '{"request":"status"}'

  Ctrl-C stops everything.
EOF

# --- foreground until Ctrl-C or until Janus exits
while kill -0 "$janus_pid" 2>/dev/null; do
	if [ -n "$web_pid" ] && ! kill -0 "$web_pid" 2>/dev/null; then say "the web server stopped (see $DIR/web.log)"; break; fi
	sleep 1
done
kill -0 "$janus_pid" 2>/dev/null || { say "Janus exited; last lines of its log:"; tail -n 20 "$DIR/janus.log"; exit 1; }
exit 1
