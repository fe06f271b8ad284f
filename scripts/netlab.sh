#!/usr/bin/env bash
# netlab.sh: the firewall and NAT lab, made of network namespaces on this
# machine. internal/netlab runs it for the tests; a person can run it to
# try ferry, curl or lftp across NAT by hand (as root):
#
#   scripts/netlab.sh up 1a2b        build lab "1a2b" and print its map
#   ip netns exec ferrylab-1a2b-server ferry serve ...
#   ip netns exec ferrylab-1a2b-client curl ftp://198.51.100.2/
#   scripts/netlab.sh down 1a2b      remove it (and only it)
#   scripts/netlab.sh list           the labs that exist
#
# Topology (README.md, "Firewalls and NAT", has the picture):
#
#   client 192.168.1.2 -- crtr (masquerade, drops unsolicited inbound)
#        -- wan 198.51.100.0/24 (stranger .3) --
#   srtr 198.51.100.2 (DNAT control + passive ports) -- server 10.0.0.10
#                                                     \- inside 10.0.0.20
#
# IPv6 is routed without NAT: 2001:db8:1::/64 behind crtr, 2001:db8:100::/64
# on the wan, 2001:db8:2::/64 behind srtr; the same stateful rules apply.
# Every address is a documentation or private range that exists only inside
# these namespaces; nothing is added to the host's own interfaces, routes or
# ruleset.
#
# Environment (for "up"):
#   LAB_CONTROL_PORT        the forwarded control port (21)
#   LAB_PASSIVE_PORTS       the server's private passive range (50000-50100)
#   LAB_PUBLIC_PASSIVE_PORTS
#                           the public range srtr forwards onto it, one to
#                           one (default: the same range)
set -euo pipefail

usage() {
	echo "usage: $0 up|down|status ID   (ID: 1-8 lower-case letters or digits)" >&2
	echo "       $0 list                (the IDs of the labs that exist)" >&2
	exit 2
}

if [ "${1:-}" = list ] && [ $# -eq 1 ]; then
	ip netns list | sed -n 's/^ferrylab-\([a-z0-9]*\)-wan\b.*/\1/p'
	exit 0
fi
[ $# -eq 2 ] || usage
cmd=$1 id=$2
[[ $id =~ ^[a-z0-9]{1,8}$ ]] || usage

prefix="ferrylab-$id"
roles=(wan crtr client srtr server inside stranger)

ns() { echo "$prefix-$1"; }
inns() {
	local n
	n=$(ns "$1")
	shift
	ip netns exec "$n" "$@"
}

# link ROLE_A IFACE_A ROLE_B IFACE_B: a veth pair created directly in the
# two namespaces, so that no interface ever appears on the host.
link() {
	ip -n "$(ns "$1")" link add "$2" type veth peer name "$4" netns "$(ns "$3")"
	ip -n "$(ns "$1")" link set "$2" up
	ip -n "$(ns "$3")" link set "$4" up
}

bridge() { # bridge ROLE NAME PORT...
	local n
	n=$(ns "$1")
	ip -n "$n" link add "$2" type bridge
	ip -n "$n" link set "$2" up
	local p
	for p in "${@:3}"; do ip -n "$n" link set "$p" master "$2"; done
}

addr() { # addr ROLE IFACE V4/LEN V6/LEN
	ip -n "$(ns "$1")" addr add "$3" dev "$2"
	ip -n "$(ns "$1")" -6 addr add "$4" dev "$2" nodad
}

route() { # route ROLE DEST VIA
	ip -n "$(ns "$1")" route add "$2" via "$3"
}

ports() { # "50000-50100" -> "50000 50100", checked
	[[ $1 =~ ^([0-9]+)-([0-9]+)$ ]] || { echo "bad port range $1" >&2; exit 2; }
	echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
}

up() {
	local control=${LAB_CONTROL_PORT:-21}
	[[ $control =~ ^[0-9]+$ ]] || { echo "bad control port $control" >&2; exit 2; }
	local priv=${LAB_PASSIVE_PORTS:-50000-50100}
	local pub=${LAB_PUBLIC_PASSIVE_PORTS:-$priv}
	local pmin pmax qmin qmax
	read -r pmin pmax <<<"$(ports "$priv")"
	read -r qmin qmax <<<"$(ports "$pub")"
	if [ $((pmax - pmin)) -ne $((qmax - qmin)) ]; then
		echo "public range $pub and private range $priv differ in size" >&2
		exit 2
	fi

	local r
	for r in "${roles[@]}"; do
		ip netns add "$(ns "$r")"
		ip -n "$(ns "$r")" link set lo up
		# Bridged frames must not meet the host's br_netfilter settings,
		# and the hosts must not wait for duplicate address detection.
		inns "$r" sh -c 'for f in /proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables; do [ -w $f ] && echo 0 >$f; done; true'
		inns "$r" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	for r in crtr srtr; do
		inns "$r" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	done

	# The public side: one bridge in "wan".
	link wan p-crtr crtr wan
	link wan p-srtr srtr wan
	link wan p-stranger stranger eth0
	bridge wan br0 p-crtr p-srtr p-stranger
	addr crtr wan 198.51.100.1/24 2001:db8:100::1/64
	addr srtr wan 198.51.100.2/24 2001:db8:100::2/64
	addr stranger eth0 198.51.100.3/24 2001:db8:100::3/64

	# The client's home network.
	link crtr lan client eth0
	addr crtr lan 192.168.1.1/24 2001:db8:1::1/64
	addr client eth0 192.168.1.2/24 2001:db8:1::2/64
	route client default 192.168.1.1
	route client ::/0 2001:db8:1::1

	# The server's private network: server and inside on srtr's bridge.
	link srtr p-server server eth0
	link srtr p-inside inside eth0
	bridge srtr lan p-server p-inside
	addr srtr lan 10.0.0.1/24 2001:db8:2::1/64
	addr server eth0 10.0.0.10/24 2001:db8:2::10/64
	addr inside eth0 10.0.0.20/24 2001:db8:2::20/64
	for r in server inside; do
		route "$r" default 10.0.0.1
		route "$r" ::/0 2001:db8:2::1
	done

	# IPv6 between the sites is routed, not translated.
	route crtr 2001:db8:2::/64 2001:db8:100::2
	route srtr 2001:db8:1::/64 2001:db8:100::1
	route stranger 2001:db8:1::/64 2001:db8:100::1
	route stranger 2001:db8:2::/64 2001:db8:100::2

	# crtr: a home router. Outbound is masqueraded; inbound is only the
	# answer to what went out. No FTP helper: nothing rewrites PORT.
	inns crtr nft -f - <<EOF
table ip ferrylab_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
	}
}
table inet ferrylab_filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" accept
	}
}
EOF

	# srtr: the server's router. The control port and the passive range
	# of the public address are forwarded to the server (one to one onto
	# a different private range if asked); the server's own outbound
	# connections (active mode) are masqueraded.
	local passive_dnat
	if [ "$qmin" -eq "$pmin" ]; then
		passive_dnat="tcp dport $qmin-$qmax dnat to 10.0.0.10"
	else
		local elems="" i
		for ((i = 0; i <= qmax - qmin; i++)); do
			elems+="$((qmin + i)) : $((pmin + i)), "
		done
		passive_dnat="tcp dport $qmin-$qmax dnat to 10.0.0.10 : tcp dport map { ${elems%, } }"
	fi
	inns srtr nft -f - <<EOF
table ip ferrylab_nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan" ip daddr 198.51.100.2 tcp dport $control dnat to 10.0.0.10
		iifname "wan" ip daddr 198.51.100.2 $passive_dnat
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" ip saddr 10.0.0.0/24 masquerade
	}
}
table inet ferrylab_filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" accept
		ct status dnat accept
		ip6 daddr 2001:db8:2::10 tcp dport { $control, $pmin-$pmax } accept
	}
}
EOF
	status
}

down() {
	local r n
	for r in "${roles[@]}"; do
		n=$(ns "$r")
		if ip netns list | grep -qw -- "^$n"; then
			ip netns del "$n"
		fi
	done
}

status() {
	local r
	for r in "${roles[@]}"; do
		if ip netns list | grep -qw -- "^$(ns "$r")"; then
			echo "$r $(ns "$r")"
		fi
	done
}

case $cmd in
up)
	if [ -n "$(status)" ]; then
		echo "lab $id exists; choose another ID or run: $0 down $id" >&2
		exit 3
	fi
	# A half-built lab is removed before the error is reported.
	trap 'down' EXIT
	up
	trap - EXIT
	;;
down) down ;;
status) status ;;
*) usage ;;
esac
