#!/usr/bin/env bash
# Cluster mode of the demo (`bash scripts/demo.sh --cluster N`, which runs the setup and then this
# script): one redis-server and N Janus nodes with the allhands plugin in cluster mode
# (docs/cluster.md), each in a network namespace of its own, all on one Linux bridge; the demo tenant
# `demo` and room `allhands` (presenter secret "presenter", no pin) on every node; the web pages
# (web/) served on http://localhost:8080; in the foreground until Ctrl-C or SIGTERM, then everything
# stops and every namespace it made is removed.
#
# The network (as tests/cluster/ builds it: the bridge lives in a "switch" namespace of its own, so
# the host's firewall never sees the traffic between nodes and Redis):
#   host  ahd0 10.98.0.1/24 --- ahd-host | bridge br0 in ah-demo-sw | k-redis --- ah-demo-redis 10.98.0.5
#                                        |                          | k-n1    --- ah-demo-n1    10.98.0.11
#                                        |                          | k-n2    --- ah-demo-n2    10.98.0.12 ...
# A browser on this host reaches every node at its own address (same ports on each: WebSockets 8188,
# HTTP 8088, Admin API 7088, metrics 9464). Nothing leaves the machine. Needs root.
#
# Usage: bash scripts/demo-cluster.sh [--nodes N] [--web-port P]   (N 2..5, default 3; P default 8080)
#   AH_DEMO_DIR     run folder (config, state, logs), default /var/tmp/allhands-demo-cluster
#   AH_DEMO_SUBNET  first three octets of the bridge's subnet, default 10.98.0 (that of demo.sh: the
#                   single-node demo and this one cannot run at the same time)
#   AH_DEMO_PREFIX  namespace names' prefix, default ah-demo (ah-demo-sw, ah-demo-redis, ah-demo-n1...)
#   AH_DEMO_HOST_IF this host's end of its link to the bridge, default ahd0
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

nodes=3 web_port=8080
while [ $# -gt 0 ]; do
	case "$1" in
	--nodes) [ $# -ge 2 ] || { echo "demo-cluster.sh: --nodes needs a number" >&2; exit 2; }; nodes=$2; shift ;;
	--web-port) [ $# -ge 2 ] || { echo "demo-cluster.sh: --web-port needs a port" >&2; exit 2; }; web_port=$2; shift ;;
	-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo-cluster.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

say() { printf '[demo] %s\n' "$*"; }
die() { printf 'demo-cluster.sh: %s\n' "$*" >&2; exit 1; }
rand() { od -An -N"${1:-9}" -tx1 /dev/urandom | tr -d ' \n'; }

case "$nodes" in [2-5]) ;; *) die "--nodes takes a number from 2 to 5" ;; esac
[ "$(id -u)" = 0 ] || die "needs root (it makes network namespaces)"
for c in redis-server redis-cli janus node /usr/bin/python3; do command -v "$c" >/dev/null || die "$c is missing (bash scripts/demo.sh --cluster $nodes installs it)"; done
[ -f .libs/libjanus_allhands.so ] || die ".libs/libjanus_allhands.so is missing: run scripts/setup.sh"
JANUS_LIBDIR=/usr/lib/x86_64-linux-gnu/janus
[ -d "$JANUS_LIBDIR" ] || JANUS_LIBDIR=$(dirname "$(dirname "$(find /usr/lib /usr/local/lib /opt -name libjanus_http.so -path '*transports*' 2>/dev/null | head -1)")")
[ -f "$JANUS_LIBDIR/transports/libjanus_http.so" ] || die "Janus transports not found (install janus)"

DIR=${AH_DEMO_DIR:-/var/tmp/allhands-demo-cluster}
SUBNET=${AH_DEMO_SUBNET:-10.98.0}
PREFIX=${AH_DEMO_PREFIX:-ah-demo}
SW=$PREFIX-sw
HOST_IF=${AH_DEMO_HOST_IF:-ahd0}
HOST_IP=$SUBNET.1
REDIS_NS=$PREFIX-redis
REDIS_IP=$SUBNET.5
REDIS_PORT=6379
METRICS_PORT=9464
node_ns() { echo "$PREFIX-n$1"; }
node_ip() { echo "$SUBNET.$((10 + $1))"; }

mkdir -p "$DIR"
chmod 700 "$DIR"
for ns in "$SW" "$REDIS_NS" $(for i in $(seq 1 5); do node_ns "$i"; done) "$PREFIX"; do
	if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
		[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] || die "namespace $ns still has processes (another demo runs? stop it with Ctrl-C first)"
		ip netns del "$ns"
	fi
done
ip link del "$HOST_IF" 2>/dev/null || true

ADMIN_SECRET=$(rand)
ADMIN_KEY=$(rand)
TENANT_SECRET=$(rand)
SIGNING_KEY=$(rand 32)
CLUSTER_SECRET=$(rand 32) # signs redirect tickets: the same on every node (docs/cluster.md)

janus_pids=() redis_pid='' web_pid='' cleaned=0
cleanup() {
	[ "$cleaned" = 1 ] && return
	cleaned=1
	trap - INT TERM EXIT
	echo
	say "stopping"
	[ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null || true
	for p in "${janus_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${janus_pids[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ -n "$redis_pid" ]; then
		kill -TERM "$redis_pid" 2>/dev/null || true
		for _ in $(seq 1 25); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$redis_pid" 2>/dev/null || true
	fi
	# Anything else still inside one of our namespaces (nothing, normally), then the namespaces.
	for i in $(seq 1 "$nodes"); do ip netns pids "$(node_ns "$i")" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true; done
	ip netns pids "$REDIS_NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
	ip link del "$HOST_IF" 2>/dev/null || true
	for i in $(seq 1 "$nodes"); do ip netns del "$(node_ns "$i")" 2>/dev/null || true; done
	ip netns del "$REDIS_NS" 2>/dev/null || true
	ip netns del "$SW" 2>/dev/null || true
	say "stopped; logs and state stay in $DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- network: the bridge in its switch namespace, the host and every node and Redis on it
ip netns add "$SW"
ip -n "$SW" link set lo up
ip -n "$SW" link add br0 type bridge
ip -n "$SW" link set br0 up
ip link add "$HOST_IF" type veth peer name ahd-host netns "$SW"
ip -n "$SW" link set ahd-host master br0
ip -n "$SW" link set ahd-host up
ip addr add "$HOST_IP/24" dev "$HOST_IF"
ip link set "$HOST_IF" up
bridge_host() { # namespace, bridge port, address
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip -n "$SW" link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$SW" link set "$2" master br0
	ip -n "$SW" link set "$2" up
	ip -n "$1" addr add "$3/24" dev eth0
	ip -n "$1" link set eth0 up
}
bridge_host "$REDIS_NS" k-redis "$REDIS_IP"
for i in $(seq 1 "$nodes"); do bridge_host "$(node_ns "$i")" "k-n$i" "$(node_ip "$i")"; done

# --- Redis (no persistence: a demo; docs/cluster.md, "Deployment", says what to run in production)
mkdir -p "$DIR/redis"
say "starting redis-server at $REDIS_IP:$REDIS_PORT (log: $DIR/redis.log)"
ip netns exec "$REDIS_NS" redis-server --bind "$REDIS_IP" --port "$REDIS_PORT" --protected-mode no \
	--daemonize no --dir "$DIR/redis" --save '' --appendonly no --logfile '' >"$DIR/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 50); do
	[ "$(redis-cli -h "$REDIS_IP" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
	kill -0 "$redis_pid" 2>/dev/null || { cat "$DIR/redis.log" >&2; die "redis-server exited"; }
	sleep 0.2
done
[ "$(redis-cli -h "$REDIS_IP" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] || die "redis-server does not answer at $REDIS_IP:$REDIS_PORT"
# A previous run's registry entries would show as dead nodes for a minute: start empty.
redis-cli -h "$REDIS_IP" -p "$REDIS_PORT" flushall >/dev/null

# --- the nodes: one private folder each (config, state, log); /etc/janus is not touched
write_node_config() { # node number
	local i=$1 d="$DIR/n$1" nip
	nip=$(node_ip "$i")
	mkdir -p "$d"/{conf,plugins,transports,empty,state}
	cat > "$d/conf/janus.jcfg" <<JCFG
general: {
	configs_folder = "$d/conf"
	plugins_folder = "$d/plugins"
	transports_folder = "$d/transports"
	events_folder = "$d/empty"
	loggers_folder = "$d/empty"
	debug_level = 4
	debug_timestamps = true
	admin_secret = "$ADMIN_SECRET"
	server_name = "allhands-demo-n$i"
	session_timeout = 60
	event_loops = 2
	interface = "$nip"
}
certificates: {
}
media: {
}
nat: {
	nice_debug = false
	ignore_mdns = true
	full_trickle = false
	ice_enforce_list = "eth0"
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
	cat > "$d/conf/janus.transport.http.jcfg" <<JCFG
general: {
	json = "indented"
	base_path = "/janus"
	http = true
	port = 8088
	ip = "0.0.0.0"
	https = false
}
admin: {
	admin_base_path = "/admin"
	admin_http = true
	admin_port = 7088
	admin_ip = "0.0.0.0"
	admin_https = false
}
cors: {
}
JCFG
	cat > "$d/conf/janus.transport.websockets.jcfg" <<JCFG
general: {
	json = "indented"
	ws = true
	ws_port = 8188
	ws_ip = "0.0.0.0"
	wss = false
}
admin: {
	admin_ws = false
	admin_wss = false
}
JCFG
	cat > "$d/conf/janus.plugin.allhands.jcfg" <<JCFG
general: {
	admin_key = "$ADMIN_KEY"
	state_file = "$d/state/allhands-state.json"
	capacity = 200
	wave_size = 20
	wave_interval_ms = 1000
	admit_timeout_ms = 15000
	join_rate = 50
	join_burst = 20
	rejoin_grace_s = 30
	events = true
	metrics_port = $METRICS_PORT
	metrics_address = "$nip"
	cluster = true
	node_id = "n$i"
	node_url = "ws://$nip:8188/"
	cluster_secret = "$CLUSTER_SECRET"
	redis_host = "$REDIS_IP"
	redis_port = $REDIS_PORT
}
JCFG
	chmod 600 "$d"/conf/*.jcfg
	ln -sfn "$ROOT/.libs/libjanus_allhands.so" "$d/plugins/libjanus_allhands.so"
	for t in libjanus_http.so libjanus_websockets.so; do ln -sfn "$JANUS_LIBDIR/transports/$t" "$d/transports/$t"; done
}
admin_url() { echo "http://$(node_ip "$1"):7088/admin"; }
admin() { local i=$1; shift; node scripts/admin.mjs --url "$(admin_url "$i")" --secret "$ADMIN_SECRET" "$@"; }

for i in $(seq 1 "$nodes"); do
	write_node_config "$i"
	say "starting node n$i at $(node_ip "$i") (log: $DIR/n$i/janus.log)"
	# `ip netns exec` execs janus: $! is Janus's own PID.
	ip netns exec "$(node_ns "$i")" janus -F "$DIR/n$i/conf" -C "$DIR/n$i/conf/janus.jcfg" -o >"$DIR/n$i/janus.log" 2>&1 &
	janus_pids+=($!)
done
for i in $(seq 1 "$nodes"); do
	if ! admin "$i" --wait 30 --quiet; then
		tail -n 30 "$DIR/n$i/janus.log" >&2
		die "node n$i did not answer on $(admin_url "$i")"
	fi
	admin "$i" --quiet '{"request":"status"}' || { tail -n 30 "$DIR/n$i/janus.log" >&2; die "the allhands plugin of node n$i does not answer (see $DIR/n$i/janus.log)"; }
done

# --- the demo tenant and room, created once on node 1 (created, or edited back to the demo's values when
# node 1's state file already has them), with a fixed signing key (so a join token works on any node):
# the definitions are shared through Redis (docs/cluster.md, "Definitions"), so every node has them.
if ! admin 1 --quiet "{\"request\":\"create_tenant\",\"tenant\":\"demo\",\"name\":\"Demo\",\"max_participants\":200,\"secret\":\"$TENANT_SECRET\"}"; then
	admin 1 --quiet "{\"request\":\"edit_tenant\",\"tenant\":\"demo\",\"max_participants\":200,\"secret\":\"$TENANT_SECRET\"}" || die "cannot create or edit tenant demo on node n1"
fi
if ! admin 1 --quiet '{"request":"create_room","tenant":"demo","room":"allhands","description":"Demo all-hands","max_attendees":150,"presenter_secret":"presenter"}'; then
	admin 1 --quiet '{"request":"edit_room","tenant":"demo","room":"allhands","max_attendees":150,"pin":"","presenter_secret":"presenter"}' || die "cannot create or edit room demo/allhands on node n1"
fi
admin 1 --quiet "{\"request\":\"rotate_signing_key\",\"tenant\":\"demo\",\"signing_key\":\"$SIGNING_KEY\"}" || die "cannot set the demo tenant's signing key on node n1"
for i in $(seq 1 "$nodes"); do
	for _ in $(seq 1 100); do
		admin "$i" --quiet '{"request":"room_info","tenant":"demo","room":"allhands"}' && break
		sleep 0.1
	done
	admin "$i" --quiet '{"request":"room_info","tenant":"demo","room":"allhands"}' || die "node n$i did not get the demo room from Redis within 10 s"
done

# --- wait until every node lists every node alive in status.cluster.nodes
say "waiting for the $nodes nodes to see each other through Redis"
view_ok() { # node number: exit 0 when its view has every node alive
	admin "$1" '{"request":"status"}' 2>/dev/null | node -e '
		let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => {
			const want = Number(process.argv[1]);
			try {
				const c = JSON.parse(s).cluster || {};
				const alive = (c.nodes || []).filter((n) => n.alive).map((n) => n.id);
				console.log(alive.join(" "));
				process.exit(alive.length >= want ? 0 : 1);
			} catch { process.exit(1); }
		});' "$nodes"
}
views=()
for i in $(seq 1 "$nodes"); do
	ok=0
	for _ in $(seq 1 60); do
		if v=$(view_ok "$i"); then ok=1; break; fi
		sleep 0.5
	done
	[ "$ok" = 1 ] || die "node n$i does not see all $nodes nodes alive (sees: ${v:-none}; log: $DIR/n$i/janus.log)"
	views+=("n$i sees: $v")
done

# --- web pages: a staging folder with links to web/ and the browser libraries from Debian
if [ -d web ]; then
	rm -rf "$DIR/www"; mkdir -p "$DIR/www/vendor"
	for f in web/*; do
		[ "$(basename "$f")" = vendor ] && continue
		ln -s "$ROOT/$f" "$DIR/www/$(basename "$f")"
	done
	cp /usr/share/javascript/janus-gateway/janus.js "$DIR/www/vendor/janus.js"
	cp /usr/share/javascript/webrtc-adapter/adapter.min.js "$DIR/www/vendor/adapter.min.js"
	/usr/bin/python3 -m http.server "$web_port" --bind 127.0.0.1 --directory "$DIR/www" >"$DIR/web.log" 2>&1 &
	web_pid=$!
	sleep 0.5
	kill -0 "$web_pid" 2>/dev/null || { cat "$DIR/web.log" >&2; die "the web server did not start on port $web_port"; }
fi

cat <<EOF

  allhands cluster demo is running: $nodes nodes and Redis, each in its own namespace on one bridge
  (this host is $HOST_IP on it). Nothing leaves the machine.

  Redis       $REDIS_IP:$REDIS_PORT   (redis-cli -h $REDIS_IP; log $DIR/redis.log)
  Admin API secret (every node): $ADMIN_SECRET
  plugin admin_key (every node): $ADMIN_KEY
  Tenant "demo" (secret: $TENANT_SECRET), room "allhands": no pin, presenter secret "presenter".
  Join tokens for tenant "demo" (every node): HS256 signed with $SIGNING_KEY
EOF
for i in $(seq 1 "$nodes"); do
	nip=$(node_ip "$i")
	q="?server=ws://$nip:8188/&tenant=demo&room=allhands"
	cat <<EOF

  Node n$i (namespace $(node_ns "$i"), log $DIR/n$i/janus.log)
    WebSockets  ws://$nip:8188/      HTTP API  http://$nip:8088/janus
    Admin API   $(admin_url "$i")     metrics  http://$nip:$METRICS_PORT/metrics
EOF
	if [ -n "$web_pid" ]; then
		cat <<EOF
    attendee:   http://localhost:$web_port/attendee.html$q
    presenter:  http://localhost:$web_port/presenter.html$q&secret=presenter
    dashboard:  http://localhost:$web_port/dashboard.html?admin=$(admin_url "$i")&admin_secret=$ADMIN_SECRET
EOF
	fi
done
echo
for v in "${views[@]}"; do echo "  $v"; done
cat <<EOF

  The tenant's and room's caps hold across the nodes (seat ledger in Redis); the demo tenant and room
  were created on node n1 and reached every node through Redis (docs/cluster.md, "Definitions").
  Cluster view of a node:
    node scripts/admin.mjs --url $(admin_url 1) --secret $ADMIN_SECRET '{"request":"status"}'

  Ctrl-C stops everything.
EOF

# --- foreground until Ctrl-C or SIGTERM, or until a node, Redis or the web server exits
while :; do
	for idx in "${!janus_pids[@]}"; do
		kill -0 "${janus_pids[$idx]}" 2>/dev/null || { say "node n$((idx + 1)) exited; last lines of its log:"; tail -n 20 "$DIR/n$((idx + 1))/janus.log"; exit 1; }
	done
	kill -0 "$redis_pid" 2>/dev/null || { say "redis-server exited (see $DIR/redis.log)"; exit 1; }
	if [ -n "$web_pid" ] && ! kill -0 "$web_pid" 2>/dev/null; then say "the web server stopped (see $DIR/web.log)"; exit 1; fi
	sleep 1
done
