import Foundation

/// The guest VirtioGuestTests boots, built from Debian packages by `Support/vm/build-guest.sh`
/// into `.build-vm` (git ignores `.build-*/`): Debian's kernel, an initramfs whose init runs
/// `dhcpcheck` on its NIC and powers off, and `dhcpcheck` itself (static: the host runs it too).
struct GuestImage: Sendable {
    let kernel: String
    let initrd: String
    let dhcpcheck: String

    /// Built once per test run; the script reuses its last build while its inputs are unchanged.
    static let shared = Result { try build() }

    static func build() throws -> GuestImage {
        let script = World.support.appendingPathComponent("vm/build-guest.sh").path
        let out = Environment.packageRoot.appendingPathComponent(".build-vm").path
        // A first build downloads Debian's kernel (70 MB) and may refresh apt's lists first.
        let ran = try Shell.run(["timeout", "900", "sh", script, out])
        var paths: [String: String] = [:]
        for line in ran.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { paths[String(parts[0])] = String(parts[1]) }
        }
        guard ran.status == 0, let kernel = paths["kernel"], let initrd = paths["initrd"], let dhcpcheck = paths["dhcpcheck"] else {
            throw TestFailure("the guest image did not build: \(ran)")
        }
        return GuestImage(kernel: kernel, initrd: initrd, dhcpcheck: dhcpcheck)
    }
}

/// What `dhcpcheck` saw of the DHCPOFFER, from its line
/// `DHCPCHECK offer=A.B.C.D checksum=0xNNNN verdict=none|valid|invalid csum_not_ready=0|1`.
struct OfferChecksum: Sendable, CustomStringConvertible {
    var offer: String
    var checksum: String
    /// `none` (0: no checksum), `valid` or `invalid`.
    var verdict: String
    /// The checksum was left to be filled (TP_STATUS_CSUMNOTREADY in a guest, the virtio
    /// header's NEEDS_CSUM on a tap).
    var notReady: Bool

    /// What a DHCP client that checks the UDP checksum itself accepts: none, or a valid one.
    var acceptable: Bool { verdict == "none" || verdict == "valid" }

    var description: String { "offer \(offer), checksum \(checksum) (\(verdict)), csum_not_ready=\(notReady ? 1 : 0)" }

    /// The first result line in `output` (a serial console's, or dhcpcheck's own).
    static func parse(_ output: String) -> OfferChecksum? {
        guard let rest = output.components(separatedBy: "DHCPCHECK offer=").dropFirst().first else { return nil }
        var fields: [String: String] = [:]
        for word in ("offer=" + (rest.split(whereSeparator: \.isNewline).first ?? "")).split(separator: " ") {
            let pair = word.split(separator: "=", maxSplits: 1)
            if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
        }
        guard let offer = fields["offer"], offer != "none", let checksum = fields["checksum"], let verdict = fields["verdict"] else { return nil }
        return OfferChecksum(offer: offer, checksum: checksum, verdict: verdict, notReady: fields["csum_not_ready"] == "1")
    }
}

/// One boot of the guest under QEMU (TCG: no KVM needed) in a test host's namespace, its NIC
/// on the tap `tap` (already made there): what its serial console said, and how long it took.
struct GuestBoot: Sendable {
    var console: String
    var seconds: Double
    /// The guest's own uptime when dhcpcheck ended (`DHCPCHECK-DONE uptime=S`).
    var uptime: String?
    var result: OfferChecksum? { OfferChecksum.parse(console) }

    /// The guest NIC's MAC.
    static let mac = "52:54:00:c5:00:10"

    /// `nic`: a QEMU NIC model, `virtio-net-pci` or `e1000`. vhost is off: QEMU's own
    /// virtio-net moves the frames (this machine's kernel has no vhost-net).
    static func run(_ image: GuestImage, in host: TestHost, tap: String, nic: String = "virtio-net-pci", seconds limit: Double = 120) throws -> GuestBoot {
        let started = Date()
        let qemu = try Background.start([
            "ip", "netns", "exec", host.namespace, "qemu-system-x86_64", "-accel", "tcg", "-nographic", "-nic", "none",
            "-m", "256", "-no-reboot", "-kernel", image.kernel, "-initrd", image.initrd,
            "-append", "console=ttyS0 panic=-1 quiet",
            "-netdev", "tap,id=net0,ifname=\(tap),script=no,downscript=no,vhost=off",
            "-device", "\(nic),netdev=net0,mac=\(mac)",
        ])
        host.onClose { qemu.stop() }
        // Until the init's last line, or until QEMU ends (a panic ends it too: -no-reboot).
        let done = poll(tries: Int(limit * 10), every: 0.1) { qemu.stdout.contains("DHCPCHECK-DONE") || !qemu.isRunning }
        let seconds = Date().timeIntervalSince(started)
        qemu.stop()
        let console = qemu.stdout
        guard done else { throw TestFailure("the guest said nothing in \(Int(limit)) s:\n\(console)") }
        let uptime = console.components(separatedBy: "DHCPCHECK-DONE uptime=").dropFirst().first?.prefix { !$0.isWhitespace }
        return GuestBoot(console: console, seconds: seconds, uptime: uptime.map(String.init))
    }
}

extension TestHost {
    /// A persistent tap `name` in this host's namespace, on `bridge` if given, and up;
    /// deleted by `close()`.
    func addTap(_ name: String, on bridge: String? = nil) throws {
        try exec(["ip", "tuntap", "add", "dev", name, "mode", "tap"])
        onClose { [namespace] in _ = try? Shell.run(["ip", "netns", "exec", namespace, "ip", "link", "del", name]) }
        if let bridge { try exec(["ip", "link", "set", name, "master", bridge]) }
        try exec(["ip", "link", "set", name, "up"])
    }

    /// The MAC `dhcpcheck --tap` sends from (fixed in dhcpcheck.c).
    static let tapProbeMAC = "52:54:00:c5:00:01"

    /// Runs `dhcpcheck --tap TAP` here: the offer on the tap's queue as vhost-net would take
    /// it into a guest's ring (virtio header, checksum offload on), QEMU out of the way.
    func offerOnTap(_ tap: String, image: GuestImage) throws -> OfferChecksum {
        let ran = try Shell.run(["ip", "netns", "exec", namespace, "timeout", "40", image.dhcpcheck, "--tap", tap])
        guard ran.status == 0, let seen = OfferChecksum.parse(ran.stdout) else { throw TestFailure("no offer on \(tap): \(ran)") }
        return seen
    }
}
