#!/bin/sh
# Builds the virtio guest VirtioGuestTests boots, from Debian packages, into OUT (default
# .build-vm): Debian's kernel (the one linux-image-amd64 depends on) and an initramfs with
# busybox-static, the NIC modules and dhcpcheck. Both packages are downloaded and
# unpacked here, never installed. Built again only when an input changed (a package's
# version, this script, init, dhcpcheck.c). Prints `kernel PATH`, `initrd PATH` and
# `dhcpcheck PATH` (the static client, for the host too).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-.build-vm}
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)
exec 9>"$out/.lock"
flock 9

# apt's lists may be missing or stale on a fresh machine: one `apt-get update`, on a miss.
updated=""
refresh() {
    [ -z "$updated" ] || return 1
    echo "build-guest: apt-get update" >&2
    apt-get update -qq >&2
    updated=1
}
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}
kernel=$(kernel_package)
if [ -z "$kernel" ]; then refresh && kernel=$(kernel_package); fi
[ -n "$kernel" ] || { echo "build-guest: no kernel package behind linux-image-amd64" >&2; exit 1; }

# A package's .deb in $out/debs, downloaded unless the one apt names is there, whole.
fetch() {
    uri=$(apt-get download --print-uris "$1" 2>/dev/null || true)
    deb=$(echo "$uri" | awk '{ print $2 }')
    if [ -n "$deb" ] && [ "$(stat -c %s "$out/debs/$deb" 2>/dev/null)" = "$(echo "$uri" | awk '{ print $3 }')" ]; then
        echo "$out/debs/$deb"
        return
    fi
    (cd "$out/debs" && apt-get download -qq -o APT::Sandbox::User=root "$1" >&2) ||
        { refresh && (cd "$out/debs" && apt-get download -qq -o APT::Sandbox::User=root "$1" >&2); }
    deb=$(apt-get download --print-uris "$1" | awk '{ print $2 }')
    echo "$out/debs/$deb"
}
kernel_deb=$(fetch "$kernel")
busybox_deb=$(fetch busybox-static)

inputs=$(basename "$kernel_deb"; basename "$busybox_deb"; cat "$0" "$here/init" "$here/dhcpcheck.c" | sha256sum)
if [ -f "$out/initramfs.cpio.gz" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/dhcpcheck" ] && [ "$(cat "$out/inputs" 2>/dev/null)" = "$inputs" ]; then
    printf 'kernel %s\ninitrd %s\ndhcpcheck %s\n' "$out/vmlinuz" "$out/initramfs.cpio.gz" "$out/dhcpcheck"
    exit 0
fi

rm -rf "$out/unpacked" "$out/root" "$out/inputs" "$out/dhcpcheck"
dpkg-deb -x "$kernel_deb" "$out/unpacked"
dpkg-deb -x "$busybox_deb" "$out/unpacked"
busybox="$out/unpacked/bin/busybox"
version=$(ls "$out/unpacked/lib/modules")
modules="$out/unpacked/lib/modules/$version"
# The package leaves modules.dep to depmod at install time.
[ -f "$modules/modules.dep" ] || "$busybox" depmod -b "$out/unpacked" "$version"

mkdir -p "$out/root/bin" "$out/root/lib/modules" "$out/root/proc" "$out/root/sys" "$out/root/dev"
# virtio_pci (the device) and virtio_net (the driver), and e1000 (a NIC without checksum
# offload, for comparison), each after what it depends on.
awk -v want="virtio_pci virtio_net e1000" '
    function visit(m,   n, i, deps) {
        if (m in seen) return
        seen[m] = 1
        n = split(needs[m], deps, " ")
        for (i = 1; i <= n; i++) visit(deps[i])
        print m
    }
    {
        name = $1; sub(/:$/, "", name)
        list = $0; sub(/^[^:]*:/, "", list); needs[name] = list
        short = name; sub(/.*\//, "", short); sub(/\.ko(\..*)?$/, "", short); path[short] = name
    }
    END {
        n = split(want, wanted, " ")
        for (i = 1; i <= n; i++) {
            if (!(wanted[i] in path)) { print "build-guest: no module " wanted[i] > "/dev/stderr"; exit 1 }
            visit(path[wanted[i]])
        }
    }' "$modules/modules.dep" | while read -r module; do
    name=$(basename "$module")
    case "$name" in
    *.ko.xz) "$busybox" unxz -c "$modules/$module" >"$out/root/lib/modules/${name%.xz}"; name=${name%.xz} ;;
    *.ko) cp "$modules/$module" "$out/root/lib/modules/$name" ;;
    *) echo "build-guest: cannot decompress $name" >&2; exit 1 ;;
    esac
    echo "$name" >>"$out/root/lib/modules/order"
done
[ -s "$out/root/lib/modules/order" ]

cp "$busybox" "$out/root/bin/busybox"
install -m 755 "$here/init" "$out/root/init"
# Static: the same binary runs in the guest and, for the tap probe, on the host.
gcc -static -O2 -Wall -Wextra -Werror -o "$out/dhcpcheck" "$here/dhcpcheck.c"
cp "$out/dhcpcheck" "$out/root/dhcpcheck"
cp "$out/unpacked/boot/vmlinuz-$version" "$out/vmlinuz"
(cd "$out/root" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9n >"$out/initramfs.cpio.gz.new"
mv "$out/initramfs.cpio.gz.new" "$out/initramfs.cpio.gz"
rm -rf "$out/unpacked" "$out/root"
find "$out/debs" -name '*.deb' ! -name "$(basename "$kernel_deb")" ! -name "$(basename "$busybox_deb")" -delete
echo "$inputs" >"$out/inputs"
printf 'kernel %s\ninitrd %s\ndhcpcheck %s\n' "$out/vmlinuz" "$out/initramfs.cpio.gz" "$out/dhcpcheck"
