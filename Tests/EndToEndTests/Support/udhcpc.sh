#!/bin/sh
# busybox udhcpc calls this with the event in $1 and the lease in its environment
# (Debian's busybox ships no default script). It applies the lease with `ip` and
# records it in $MOAT_E2E_LEASE for the test to read.
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/${mask:-$subnet}" dev "$interface"
        if [ -n "$router" ]; then
            ip route replace default via "${router%% *}" dev "$interface"
        fi
        printf 'ip=%s\nrouter=%s\ndns=%s\n' "$ip" "$router" "$dns" > "$MOAT_E2E_LEASE"
        ;;
esac
exit 0
