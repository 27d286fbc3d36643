#!/usr/bin/env bash
# moat's try-it demo (`sudo make demo`): a throwaway world of network namespaces where
# moat applies examples/vm-lab.yaml, two guests get leases, and you see what they can
# reach. Then everything is destroyed, also on Ctrl-C, and the demo checks that nothing
# it made is left (exit 1 if something is).
#
# It never touches this machine's own network: every command that changes a network runs
# under `ip netns exec` in a namespace made here, no namespace has a route to the outside,
# and dnsmasq forwards DNS only to a documentation address (203.0.113.53).
#
# Environment: MOAT_BIN=PATH uses that binary instead of building; SWIFT_BUILD_ARGS adds
# arguments to `swift build` (e.g. "--scratch-path .build-demo"); MOAT_DEMO_FILE picks
# the file to apply (default examples/vm-lab.yaml).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
FILE=${MOAT_DEMO_FILE:-$ROOT/examples/vm-lab.yaml}
[ -f "$FILE" ] || FILE=$ROOT/contrib/demo-vm-lab.yaml

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    bold=$'\e[1m' green=$'\e[32m' red=$'\e[31m' dim=$'\e[2m' off=$'\e[0m'
else
    bold='' green='' red='' dim='' off=''
fi
say() { printf '%s\n' "$*"; }
step() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$off"; }

if [ "$(id -u)" != 0 ]; then
    say "demo: run it as root (sudo make demo): it creates network namespaces" >&2
    exit 1
fi

# --- 1. What it needs ----------------------------------------------------------------
step "Packages and build"
missing=()
for package in iproute2 iptables dnsmasq-base busybox; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null
else
    say "iproute2 iptables dnsmasq-base busybox: installed"
fi
if [ -n "${MOAT_BIN:-}" ]; then
    MOAT=$MOAT_BIN
else
    command -v swift >/dev/null || { say "demo: swift is not on PATH: install a Swift 6 toolchain (https://swift.org/install)" >&2; exit 1; }
    # shellcheck disable=SC2086  # SWIFT_BUILD_ARGS is a list of words on purpose
    swift build ${SWIFT_BUILD_ARGS:-} 2>&1 | tail -n 1
    # shellcheck disable=SC2086
    MOAT=$(swift build ${SWIFT_BUILD_ARGS:-} --show-bin-path)/moat
fi
say "moat $("$MOAT" --version) at $MOAT"

# --- 2. The world, and how it is taken down --------------------------------------------
TAG=moat-demo-$$
HOST=$TAG-host ROUTER=$TAG-rt NAS=$TAG-nas NET=$TAG-inet LAB=$TAG-lab DMZ=$TAG-dmz
NAMESPACES=()                 # made so far, in order; removed last made first
WORK=$(mktemp -d /tmp/moat-demo.XXXXXX)
# dnsmasq reads its hosts files as an unprivileged user: let it through (mktemp made 0700).
chmod 755 "$WORK"
STATE=$WORK/state RUN=$WORK/run
APPLIED=0

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
moat() { ip netns exec "$HOST" env MOAT_STATE_DIR="$STATE" MOAT_RUN_DIR="$RUN" NO_COLOR=1 "$MOAT" "$@"; }

cleanup() {
    set +e
    trap - INT TERM
    step "Cleaning up"
    if [ "$APPLIED" = 1 ]; then
        moat destroy --all --auto-approve --lock-timeout 10 >"$WORK/destroy.out" 2>&1 \
            && say "moat destroy --all: $(tail -n 1 "$WORK/destroy.out")" \
            || { say "${red}moat destroy --all failed:${off}"; cat "$WORK/destroy.out"; }
    fi
    # Whatever still runs in our namespaces is ours (listeners, a dnsmasq if destroy
    # failed): end it by pid, then remove the namespaces, last made first.
    local i ns pid
    for ((i = ${#NAMESPACES[@]} - 1; i >= 0; i--)); do
        ns=${NAMESPACES[i]}
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    done
    for ((i = ${#NAMESPACES[@]} - 1; i >= 0; i--)); do
        ns=${NAMESPACES[i]}
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "/etc/netns/$HOST" "$WORK"
    say "removed namespaces ${TAG}-*, /etc/netns/$HOST and $WORK"

    # Prove it: no namespace, process or file of this run is left.
    local leaks=()
    ip netns list | grep -q "^$TAG-" && leaks+=("namespaces: $(ip netns list | grep "^$TAG-" | cut -d' ' -f1 | tr '\n' ' ')")
    for pid in /proc/[0-9]*; do
        if tr '\0' ' ' 2>/dev/null <"$pid/cmdline" | grep -q -e "$WORK" -e "$TAG"; then
            leaks+=("process ${pid#/proc/}: $(tr '\0' ' ' 2>/dev/null <"$pid/cmdline")")
        fi
    done
    [ -e "$WORK" ] && leaks+=("folder $WORK")
    [ -e "/etc/netns/$HOST" ] && leaks+=("folder /etc/netns/$HOST")
    if [ ${#leaks[@]} -gt 0 ]; then
        say "${red}LEAKED:${off}"
        printf '  %s\n' "${leaks[@]}"
        return 1
    fi
    say "${green}nothing left behind${off}: no namespace, process or file of this demo remains"
}
on_exit() {
    local status=$?
    cleanup || status=1
    exit "$status"
}
trap on_exit EXIT
trap 'say; say "interrupted"; exit 130' INT
trap 'exit 143' TERM

make_ns() {
    ip netns add "$1"
    NAMESPACES+=("$1")
    in_ns "$1" ip link set lo up
}

step "A throwaway world (network namespaces; your own network is not touched)"
for ns in "$HOST" "$ROUTER" "$NAS" "$NET"; do make_ns "$ns"; done
# dnsmasq in the host namespace reads this instead of /etc/resolv.conf: DNS questions go
# to a documentation address nobody answers, never to this machine's resolver.
mkdir -p "/etc/netns/$HOST"
echo "nameserver 203.0.113.53" >"/etc/netns/$HOST/resolv.conf"

# The router: a LAN bridge (192.168.0.1) with the NAS and the host on it, and a leg to
# the "internet" (203.0.113.1). Each veth is made in one namespace, its peer moved into
# the other, so nothing is ever created in this machine's namespace.
in_ns "$ROUTER" sysctl -q -w net.ipv4.ip_forward=1
in_ns "$ROUTER" ip link add lan type bridge
in_ns "$ROUTER" ip addr add 192.168.0.1/24 dev lan
in_ns "$ROUTER" ip link set lan up
in_ns "$ROUTER" ip link add wan0 type veth peer name eth0 netns "$NET"
in_ns "$ROUTER" ip addr add 203.0.113.1/24 dev wan0
in_ns "$ROUTER" ip link set wan0 up
in_ns "$ROUTER" ip link add to-nas master lan type veth peer name eth0 netns "$NAS"
in_ns "$ROUTER" ip link set to-nas up
in_ns "$ROUTER" ip link add to-host master lan type veth peer name lan0 netns "$HOST"
in_ns "$ROUTER" ip link set to-host up
in_ns "$NET" ip addr add 203.0.113.10/24 dev eth0
in_ns "$NET" ip link set eth0 up
in_ns "$NET" ip route add default via 203.0.113.1
in_ns "$NAS" ip addr add 192.168.0.2/24 dev eth0
in_ns "$NAS" ip link set eth0 up
in_ns "$NAS" ip route add default via 192.168.0.1
in_ns "$HOST" ip addr add 192.168.0.10/24 dev lan0
in_ns "$HOST" ip link set lan0 up
in_ns "$HOST" ip route add default via 192.168.0.1

# A web server on each machine a guest might try: busybox httpd, ended by pid at cleanup.
mkdir -p "$WORK/www"
echo ok >"$WORK/www/index.html"
for ns in "$NET" "$NAS" "$HOST"; do
    # A simple command (not a function), so `&` runs httpd itself and bash stays quiet
    # when cleanup ends it by pid.
    ip netns exec "$ns" busybox httpd -f -p 80 -h "$WORK/www" &
    disown
done
say "internet   203.0.113.10      web server on :80"
say "LAN        192.168.0.0/24    router 192.168.0.1, NAS 192.168.0.2 (web server on :80)"
say "host       192.168.0.10      on the LAN, web server on :80; moat runs here"

# --- 3. moat -----------------------------------------------------------------------------
step "moat apply ${FILE#"$ROOT"/} (in the host namespace)"
APPLIED=1
moat apply --auto-approve "$FILE" 2>"$WORK/apply.err"
say "${dim}(progress went to stderr: $(wc -l <"$WORK/apply.err") steps)${off}"

step "Two guests, plugged into the bridges as libvirt plugs a VM"
cat >"$WORK/udhcpc.sh" <<'EOF'
#!/bin/sh
# busybox udhcpc runs this with the event in $1 and the lease in its environment.
case "$1" in
    deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
    bound|renew)
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/$mask" dev "$interface"
        [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
        printf '%s %s\n' "$ip" "${router%% *}" >"$LEASE_RECORD" ;;
esac
exit 0
EOF
chmod 755 "$WORK/udhcpc.sh"

# probe NS IP: "yes", "refused" or "no answer", for an HTTP request to IP:80. (busybox nc,
# not wget: Debian 12's busybox wget crashes with -T.)
probe() {
    local out
    out=$(printf 'GET / HTTP/1.0\r\n\r\n' | in_ns "$1" busybox nc -w 3 "$2" 80 2>&1)
    if [[ $out == *"200 OK"* ]]; then
        echo "${green}yes      ${off}"
    elif [[ $out == *refused* || $out == *unreachable* ]]; then
        echo "${red}refused  ${off}"
    else
        echo "${red}no answer${off}"
    fi
}

guest() {  # guest NS NAME BRIDGE MAC
    local ns=$1 name=$2 bridge=$3 mac=$4 lease
    make_ns "$ns"
    in_ns "$HOST" ip link add "v-$name" type veth peer name eth0 netns "$ns"
    in_ns "$HOST" ip link set "v-$name" master "$bridge"
    in_ns "$HOST" ip link set "v-$name" up
    in_ns "$ns" ip link set eth0 address "$mac"
    in_ns "$ns" ip link set eth0 up
    in_ns "$ns" env LEASE_RECORD="$WORK/lease-$name" \
        busybox udhcpc -i eth0 -n -q -t 5 -T 1 -x "hostname:$name-vm" -s "$WORK/udhcpc.sh" >/dev/null 2>&1 \
        || { say "$name: ${red}no lease${off}"; return 1; }
    read -r lease gateway <"$WORK/lease-$name"
    say "${bold}$name${off} guest on $bridge (MAC $mac)"
    say "  got a lease:              $lease, gateway $gateway"
    say "  reaches the internet:     $(probe "$ns" 203.0.113.10)  (203.0.113.10:80)"
    say "  reaches the NAS:          $(probe "$ns" 192.168.0.2)  (192.168.0.2:80, on the LAN)"
    say "  reaches the host:         $(probe "$ns" 192.168.0.10)  (192.168.0.10:80, the host's LAN address)"
}
guest "$LAB" lab virbr10 52:54:00:12:34:56
guest "$DMZ" dmz virbr11 52:54:00:00:11:01

step "moat status --leases"
moat status "$FILE" --leases

say
say "With the usual setup (libvirt's default NAT network) both guests would have reached"
say "the NAS and every service of the host. Attach a real VM with virt-manager's"
say "\"Bridge device\" = virbr10, or in libvirt XML: <interface type='bridge'><source bridge='virbr10'/>"
