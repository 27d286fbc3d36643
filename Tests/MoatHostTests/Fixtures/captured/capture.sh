#!/usr/bin/env bash
# Captures the real `ip -j -d addr show`, `ip -j route show` and `iptables-save` output that
# the snapshot parsers are tested on. Everything is built in a throwaway network namespace,
# never in the machine's own: run as root from the repository root,
#
#     bash Tests/MoatHostTests/Fixtures/captured/capture.sh
#
# The script re-runs itself inside the namespace (`ip netns exec NS bash capture.sh inside ...`)
# and deletes the namespace on exit, failure included.
#
# Fixtures (one folder each, files ip-addr.json, ip-route.json, iptables-save.txt):
#   host/           moat-like bridge virbr10 (ifalias moat:lab) next to libvirt-like, Docker-like
#                   and user objects, plus forged marks moat must not take as its own
#   duplicate-jump/ the same host with moat's FORWARD jump present twice
#   empty/          a fresh namespace: nothing at all
#   many/           50 moat-like networks, to show the snapshot's command count does not grow
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

dump() {
    local out="$1"
    mkdir -p "$out"
    ip -j -d addr show > "$out/ip-addr.json"
    ip -j route show > "$out/ip-route.json"
    # The header and footer carry the capture time; drop them so re-captures diff cleanly.
    iptables-save | grep -v '^# ' > "$out/iptables-save.txt" || true
}

build_host() {
    # moat-like: a bridge marked moat:lab, up, with its address.
    ip link add virbr10 type bridge
    ip link set virbr10 alias "moat:lab"
    ip addr add 192.168.100.1/24 dev virbr10
    ip link set virbr10 up

    # Docker-like bridge, down as it is with no container running.
    ip link add docker0 type bridge
    ip addr add 172.17.0.1/16 dev docker0

    # A veth pair; veth-host stands for an `interface:` device with a second address of its own
    # and carries the uplink routes.
    ip link add veth-host type veth peer name veth-guest
    ip addr add 10.20.0.1/24 dev veth-host
    ip addr add 10.30.0.1/24 dev veth-host
    ip link set veth-host up
    ip link set veth-guest up
    ip route add default via 10.20.0.254 dev veth-host
    ip route add 203.0.113.10 dev veth-host

    # Forged marks: a non-bridge device and a bridge whose mark names no valid network.
    ip link set veth-guest alias "moat:ghost"
    ip link add evil0 type bridge
    ip link set evil0 alias "moat:Bad_Name!"

    # libvirt-like chains.
    iptables -N LIBVIRT_INP
    iptables -N LIBVIRT_FWI
    iptables -N LIBVIRT_FWO
    iptables -A INPUT -j LIBVIRT_INP
    iptables -A FORWARD -j LIBVIRT_FWI
    iptables -A FORWARD -j LIBVIRT_FWO
    iptables -A LIBVIRT_INP -i virbr0 -p udp --dport 53 -j ACCEPT
    iptables -A LIBVIRT_FWI -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    iptables -A LIBVIRT_FWO -s 192.168.122.0/24 -i virbr0 -j ACCEPT
    iptables -t nat -N LIBVIRT_PRT
    iptables -t nat -A POSTROUTING -j LIBVIRT_PRT
    iptables -t nat -A LIBVIRT_PRT -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE

    # Docker-like chains in nat and filter.
    iptables -N DOCKER
    iptables -A FORWARD -o docker0 -j DOCKER
    iptables -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp --dport 80 -j ACCEPT
    iptables -t nat -N DOCKER
    iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
    iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
    iptables -t nat -A DOCKER -i docker0 -j RETURN

    # The user's own rule, and a foreign rule that forges moat's comment without jumping to moat.
    iptables -A FORWARD -s 10.0.0.0/8 -d 192.168.0.2/32 -m comment --comment "user: keep the NAS private" -j DROP
    iptables -A FORWARD -i veth-host -m comment --comment "moat:lab" -j ACCEPT

    # moat-like chains: shared dispatch chains, per-network chains (one declared but empty),
    # and the jumps from the built-in chains.
    iptables -N MOAT-FORWARD
    iptables -N MOAT-FROM-lab
    iptables -N MOAT-TO-lab
    iptables -N MOAT-IN-lab
    iptables -A FORWARD -m comment --comment moat -j MOAT-FORWARD
    iptables -A MOAT-FORWARD -i virbr10 -m comment --comment moat:lab -j MOAT-FROM-lab
    iptables -A MOAT-FORWARD -o virbr10 -m comment --comment moat:lab -j MOAT-TO-lab
    iptables -A MOAT-FROM-lab -d 192.168.0.0/16 -m comment --comment moat:lab -j REJECT --reject-with icmp-port-unreachable
    iptables -A MOAT-FROM-lab -m comment --comment moat:lab -j ACCEPT
    iptables -A MOAT-TO-lab -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment moat:lab -j ACCEPT
    iptables -t nat -N MOAT-POSTROUTING
    iptables -t nat -N MOAT-MASQ-lab
    iptables -t nat -A POSTROUTING -m comment --comment moat -j MOAT-POSTROUTING
    iptables -t nat -A MOAT-POSTROUTING -s 192.168.100.0/24 -m comment --comment moat:lab -j MOAT-MASQ-lab
    iptables -t nat -A MOAT-MASQ-lab -d 224.0.0.0/4 -m comment --comment moat:lab -j RETURN
    iptables -t nat -A MOAT-MASQ-lab -p tcp -m comment --comment moat:lab -j MASQUERADE --to-ports 1024-65535
    iptables -t mangle -N MOAT-POSTROUTING
    iptables -t mangle -A POSTROUTING -m comment --comment moat -j MOAT-POSTROUTING
    iptables -t mangle -A MOAT-POSTROUTING -o virbr10 -p udp --dport 68 -m comment --comment moat:lab -j CHECKSUM --checksum-fill

    # A MOAT- chain whose name carries no valid network.
    iptables -N MOAT-FROM-Bad_Name
}

build_many() {
    iptables -N MOAT-FORWARD
    iptables -A FORWARD -m comment --comment moat -j MOAT-FORWARD
    for i in $(seq 1 50); do
        ip link add "mbr$i" type bridge
        ip link set "mbr$i" alias "moat:net$i"
        ip addr add "10.99.$i.1/24" dev "mbr$i"
        ip link set "mbr$i" up
        iptables -N "MOAT-FROM-net$i"
        iptables -A MOAT-FORWARD -i "mbr$i" -m comment --comment "moat:net$i" -j "MOAT-FROM-net$i"
        iptables -A "MOAT-FROM-net$i" -m comment --comment "moat:net$i" -j ACCEPT
    done
}

inside() {
    local out="$1" variant="$2"
    case "$variant" in
        host) build_host ;;
        duplicate-jump)
            build_host
            iptables -A FORWARD -m comment --comment moat -j MOAT-FORWARD
            ;;
        empty) ;;
        many) build_many ;;
        *) echo "unknown variant $variant" >&2; exit 64 ;;
    esac
    dump "$out/$variant"
}

if [[ "${1:-}" == inside ]]; then
    inside "$2" "$3"
    exit 0
fi

[[ $EUID -eq 0 ]] || { echo "capture.sh: run as root (it makes network namespaces)" >&2; exit 1; }

for variant in host duplicate-jump empty many; do
    ns="moat-cap-$RANDOM$RANDOM"
    ip netns add "$ns"
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    ip netns exec "$ns" bash "$here/capture.sh" inside "$here" "$variant"
    ip netns del "$ns"
    trap - EXIT
    echo "captured $variant"
done
ip -V > "$here/VERSIONS"
iptables -V >> "$here/VERSIONS"
