#!/usr/bin/env bash
# Captures the `live/` folder of every diff case from a real host: a throwaway network
# namespace where the built moat applies a config, the case then changes the host the way it
# says, and the snapshot's inputs are saved. Run as root from the repository root, after
# `swift build`:
#
#     bash Tests/MoatReconcileTests/Fixtures/diff/capture.sh [CASE...]     (default: every case)
#
# The expected plans are not written here: `MOAT_RECORD=1 swift test --filter DiffCaseTests`
# re-records plan.txt / plan.json from these folders, and a person reads them.
#
# The machine's own namespace is never touched: every ip, iptables and moat command runs under
# `ip netns exec NS`. The namespace, its /etc/netns folder, moat's state and run dirs and the
# dnsmasq processes this script's moat started are removed on exit, failure included.
#
# Each case's live/ holds:
#   ip-addr.json ip-route.json iptables-save.txt   the snapshot's commands but nft (iptables-save
#                                                  without its timestamped comment lines)
#   ip_forward        /proc/sys/net/ipv4/ip_forward
#   disable_ipv6      "<device> <0|1>" for every device that has an IPv6 conf folder
#   arp               "<device> <arp_ignore> <arp_announce>" for every device with an IPv4 conf folder
#   pids              networks whose dnsmasq is alive (pid file -> /proc/PID/cmdline checked)
#   state/            moat's state dir (dnsmasq configs, hosts files, interface records,
#                     ip_forward.orig), without dnsmasq's lease files
#   journal.json      the run dir's journal, when the case leaves one
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
moat="${MOAT:-$root/.build/debug/moat}"
# Fixed, so the paths inside the captured dnsmasq configs match the test's Paths.
base_dir=/tmp/moat-diff
state_dir=$base_dir/state
run_dir=$base_dir/run

all_cases=(empty converged lost-rule dnsmasq-dead address-flushed hosts-changed range-changed pruned
    foreign-objects duplicate-jump interface interface-ipv6-off interface-converged interface-destroy ip-forward-restore policy-tightened policy-loosened
    forwards-changed allow-changed block-changed lease-changed drift-and-file interrupted)

[[ $EUID -eq 0 ]] || { echo "capture.sh: run as root (it makes network namespaces)" >&2; exit 1; }
[[ -x "$moat" ]] || { echo "capture.sh: build moat first ($moat not found)" >&2; exit 1; }
[[ ! -e $base_dir ]] || { echo "capture.sh: $base_dir exists: another capture running?" >&2; exit 1; }

ns=""

in_ns() { ip netns exec "$ns" "$@"; }
moat_ns() { in_ns env MOAT_STATE_DIR=$state_dir MOAT_RUN_DIR=$run_dir NO_COLOR=1 "$moat" "$@"; }
# `moat apply FILE`, quiet unless it fails.
apply() {
    moat_ns apply "$1" > "$base_dir/apply.log" 2>&1 || { cat "$base_dir/apply.log" >&2; exit 1; }
    rm "$base_dir/apply.log"
}

# The pids of the dnsmasqs this script's moat started: pid files in our run dir whose process
# reads a config from our state dir.
our_dnsmasq_pids() {
    local file pid
    for file in "$run_dir"/dnsmasq-*.pid; do
        [[ -f $file ]] || continue
        pid="$(tr -dc 0-9 < "$file")"
        [[ -n $pid && -r /proc/$pid/cmdline ]] || continue
        if tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "--conf-file=$state_dir/"; then
            echo "$pid"
        fi
    done
}

cleanup() {
    local pid
    if [[ -n $ns ]]; then
        moat_ns destroy --all > /dev/null 2>&1 || true
        for pid in $(our_dnsmasq_pids); do kill "$pid" 2> /dev/null || true; done
        ip netns del "$ns" 2> /dev/null || true
        rm -rf "/etc/netns/$ns"
        ns=""
    fi
    rm -rf "$base_dir"
}
trap cleanup EXIT

# A host like a real one: loopback up, an uplink with the default route.
make_host() {
    ns="moat-diff-$RANDOM$RANDOM"
    ip netns add "$ns"
    # `ip netns exec` bind-mounts this over /etc/resolv.conf: dnsmasq's upstream is fixed.
    mkdir -p "/etc/netns/$ns"
    echo "nameserver 203.0.113.53" > "/etc/netns/$ns/resolv.conf"
    mkdir -p "$state_dir" "$run_dir"
    in_ns ip link set lo up
    # A veth, since the dummy driver may be missing; its peer stays down, unused.
    in_ns ip link add uplink0 type veth peer name uplink0-peer
    in_ns ip addr add 198.51.100.2/24 dev uplink0
    in_ns ip link set uplink0 up
    in_ns ip route add default via 198.51.100.1 dev uplink0
}

# Objects of other software, which no plan may mention: libvirt-like (a bridge with an address,
# chains jumped to from INPUT, FORWARD and nat POSTROUTING), Docker-like (a bridge, a nat chain
# jumped to from PREROUTING and OUTPUT, a filter chain) and the user's own FORWARD rule.
foreign_objects() {
    in_ns ip link add virbr0 type bridge
    in_ns ip addr add 192.168.122.1/24 dev virbr0
    in_ns ip link set virbr0 up
    in_ns ip link add docker0 type bridge
    in_ns ip addr add 172.17.0.1/16 dev docker0

    in_ns iptables -N LIBVIRT_INP
    in_ns iptables -N LIBVIRT_FWO
    in_ns iptables -A INPUT -j LIBVIRT_INP
    in_ns iptables -A FORWARD -j LIBVIRT_FWO
    in_ns iptables -A LIBVIRT_INP -i virbr0 -p udp --dport 53 -j ACCEPT
    in_ns iptables -A LIBVIRT_FWO -s 192.168.122.0/24 -i virbr0 -j ACCEPT
    in_ns iptables -t nat -N LIBVIRT_PRT
    in_ns iptables -t nat -A POSTROUTING -j LIBVIRT_PRT
    in_ns iptables -t nat -A LIBVIRT_PRT -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE

    in_ns iptables -t nat -N DOCKER
    in_ns iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
    in_ns iptables -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
    in_ns iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
    in_ns iptables -t nat -A DOCKER -i docker0 -j RETURN
    in_ns iptables -N DOCKER
    in_ns iptables -A FORWARD -o docker0 -j DOCKER
}

user_rules() {
    in_ns iptables -A FORWARD -s 10.0.0.0/8 -d 192.168.0.2/32 -m comment --comment "user: keep the NAS private" -j DROP
    in_ns iptables -I INPUT 1 -p tcp --dport 8080 -m comment --comment "user: dev server" -j ACCEPT
}

# An existing device for `interface:` networks, the way a USB-Ethernet adapter would be.
board_device() {
    in_ns ip link add veth-board type veth peer name veth-board-p
    in_ns ip link set veth-board up
    in_ns ip link set veth-board-p up
}

# The case's rule number of the first rule of CHAIN matching PATTERN (iptables -S lists -N first).
rule_number() {
    local line
    line="$(in_ns iptables -S "$1" | grep -n -- "$2" | head -n 1 | cut -d: -f1)"
    [[ -n $line ]] || { echo "capture.sh: no rule matching '$2' in $1" >&2; exit 1; }
    echo $((line - 1))
}

dump() {
    local live="$1" device value pid file name
    rm -rf "$live"
    mkdir -p "$live"
    in_ns ip -j -d addr show > "$live/ip-addr.json"
    in_ns ip -j route show > "$live/ip-route.json"
    # The header and footer carry the capture time; drop them so re-captures diff cleanly.
    { in_ns iptables-save | grep -v '^# '; } > "$live/iptables-save.txt" || true
    in_ns cat /proc/sys/net/ipv4/ip_forward > "$live/ip_forward"
    : > "$live/disable_ipv6"
    for device in $(in_ns ls /sys/class/net | sort); do
        file="/proc/sys/net/ipv6/conf/$device/disable_ipv6"
        value="$(in_ns cat "$file" 2> /dev/null)" || continue
        echo "$device $value" >> "$live/disable_ipv6"
    done
    : > "$live/arp"
    for device in $(in_ns ls /sys/class/net | sort); do
        file="/proc/sys/net/ipv4/conf/$device"
        value="$(in_ns cat "$file/arp_ignore" "$file/arp_announce" 2> /dev/null | tr '\n' ' ')" || continue
        echo "$device ${value% }" >> "$live/arp"
    done
    : > "$live/pids"
    for pid in $(our_dnsmasq_pids); do
        for file in "$run_dir"/dnsmasq-*.pid; do
            [[ "$(tr -dc 0-9 < "$file")" == "$pid" ]] || continue
            name="${file##*/dnsmasq-}"
            echo "${name%.pid}" >> "$live/pids"
        done
    done
    sort -o "$live/pids" "$live/pids"
    mkdir -p "$live/state"
    cp -a "$state_dir/." "$live/state/"
    find "$live/state" -name leases -delete
    if [[ -f $run_dir/journal.json ]]; then cp "$run_dir/journal.json" "$live/journal.json"; fi
}

capture() {
    local name="$1" dir="$here/$1"
    local config="$dir/config.yaml" base="$here/base.yaml"
    [[ -f $config ]] || { echo "capture.sh: $config missing" >&2; exit 1; }
    make_host
    case "$name" in
        empty) ;;
        converged) apply "$config" ;;
        lost-rule)
            apply "$config"
            in_ns iptables -D MOAT-FROM-lab "$(rule_number MOAT-FROM-lab 'dport 445')"
            ;;
        dnsmasq-dead)
            apply "$config"
            kill "$(tr -dc 0-9 < "$run_dir/dnsmasq-lab.pid")"
            sleep 0.5
            ;;
        address-flushed)
            apply "$config"
            in_ns ip addr flush dev virbr10
            ;;
        hosts-changed | range-changed | pruned | policy-tightened | policy-loosened | allow-changed | block-changed | lease-changed) apply "$base" ;;
        forwards-changed) apply "$dir/before.yaml" ;;
        drift-and-file)
            apply "$base"
            in_ns iptables -D MOAT-IN-lab "$(rule_number MOAT-IN-lab 'ctstate INVALID')"
            kill "$(tr -dc 0-9 < "$run_dir/dnsmasq-dmz.pid")"
            sleep 0.5
            ;;
        interrupted)
            apply "$base"
            # As an apply killed while it restarted both dnsmasqs leaves it: a pid no process has.
            printf '%s\n' '{' '  "command" : "apply",' '  "completed" : 1,' '  "dnsmasqNetworks" : [' '    "dmz",' '    "lab"' '  ],' \
                '  "pid" : 4194304,' '  "started" : "2026-12-02T10:00:00Z",' '  "units" : [' '    "stop dnsmasq of dmz, lab",' \
                '    "write dnsmasq files and start dnsmasq of dmz, lab"' '  ]' '}' > "$run_dir/journal.json"
            ;;
        foreign-objects)
            foreign_objects
            apply "$config"
            user_rules
            ;;
        duplicate-jump)
            apply "$config"
            in_ns iptables -A FORWARD -m comment --comment moat -j MOAT-FORWARD
            ;;
        interface)
            board_device
            apply "$base"
            ;;
        interface-ipv6-off)
            board_device
            in_ns sysctl -q -w net/ipv6/conf/veth-board/disable_ipv6=1
            apply "$base"
            ;;
        interface-converged | interface-destroy)
            board_device
            apply "$config"
            ;;
        ip-forward-restore) apply "$config" ;;
        *) echo "capture.sh: unknown case $name" >&2; exit 64 ;;
    esac
    dump "$dir/live"
    cleanup
    echo "captured $name"
}

cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || cases=("${all_cases[@]}")
for name in "${cases[@]}"; do capture "$name"; done
{ ip -V; iptables -V; dnsmasq --version | head -n 1; } > "$here/VERSIONS"
