# Shared by the multi-node benchmarks (sourced by scripts/bench-cluster.sh and scripts/bench-media.sh): a
# "switch" namespace $1 holding a bridge br0, and a client namespace $2 on it through a veth pair (eth0 at
# $3.2/24 in the client, port k-client on the bridge), as tests/cluster/run.mjs makes them. The caller
# removes both namespaces at exit.
# SPDX-License-Identifier: GPL-3.0-or-later
bench_bridge() {
	local sw=$1 client=$2 subnet=$3
	ip netns add "$sw"
	ip -n "$sw" link set lo up
	ip -n "$sw" link add br0 type bridge
	ip -n "$sw" link set br0 up
	ip netns add "$client"
	ip -n "$client" link set lo up
	ip -n "$sw" link add k-client type veth peer name eth0 netns "$client"
	ip -n "$sw" link set k-client master br0
	ip -n "$sw" link set k-client up
	ip -n "$client" addr add "$subnet.2/24" dev eth0
	ip -n "$client" link set eth0 up
}
