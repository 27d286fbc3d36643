import Foundation
import Testing

extension EndToEnd {
    /// 250 networks on one host: past the 128 inotify instances a user may hold, past any
    /// size tried by hand. Correctness only; the timings are the benchmark's (`bench/`).
    @Suite("scale")
    struct ScaleTests {
        static let count = 250

        /// `count` bridges, a /24 each, everything else by default.
        static var file: String {
            var text = "version: 1\nnetworks:\n"
            for k in 0..<count {
                text += "  n\(k):\n    bridge: mb\(k)\n    address: 10.50.\(k).1/24\n"
            }
            return text
        }

        @Test("250 networks apply, plan clean, repair one network's drift, serve DHCP and destroy")
        func twoHundredFiftyNetworks() async throws {
            try await withWorld("scale") { world in
                let host = world.host
                let file = try host.file("moat.yaml", Self.file)

                let apply = try host.moat(["apply", file])
                try #require(apply.status == 0, "\(apply)")
                #expect(host.dnsmasqPids().count == Self.count, "one dnsmasq per network")
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 0, "a plan right after apply has nothing to do: \(plan)")

                // Drift in one network: its address gone, a firewall rule gone, dnsmasq killed.
                let drifted = "n17"
                try host.exec(["ip", "addr", "flush", "dev", "mb17"])
                if Rules.nftables {
                    try Rules.nftDelete(in: "MOAT-FROM-\(drifted)", containing: "comment \"moat:\(drifted)\"", host: host)
                } else {
                    try host.exec(["iptables-restore", "--noflush"], input: try Self.deletingFirstRule(of: drifted, in: host))
                }
                let pid = try #require(host.dnsmasqPids()[drifted])
                kill(pid, SIGTERM)
                #expect(poll(tries: 200) { !FileManager.default.fileExists(atPath: "/proc/\(pid)") })

                let drift = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(drift.status == 2, "\(drift)")
                let touched = Set(drift.stdout.matches(of: /n\d+/).map { String($0.output) })
                #expect(touched == [drifted], "the plan touches only the drifted network: \(drift.stdout)")
                let repair = try host.moat(["apply", file])
                try #require(repair.status == 0, "\(repair)")
                let clean = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(clean.status == 0, "repaired: \(clean)")
                #expect(host.dnsmasqPids().count == Self.count)

                // Every network serves DHCP: a socket on port 67 bound to each bridge.
                let sockets = try host.exec(["ss", "-H", "-u", "-l", "-n", "sport = :67"])
                let served = Set(sockets.matches(of: /%(mb\d+):67\s/).map { String($0.output.1) })
                #expect(served == Set((0..<Self.count).map { "mb\($0)" }), "\(sockets)")

                // A guest on the last network gets a lease from that network's dnsmasq.
                let guest = try world.addGuest("g", mac: "52:54:00:25:00:01")
                try world.attach(guest, to: "mb\(Self.count - 1)")
                let lease = try world.lease(guest)
                #expect(lease.ip.hasPrefix("10.50.\(Self.count - 1)."), "\(lease)")
                #expect(lease.router == "10.50.\(Self.count - 1).1")

                let destroy = try host.moat(["destroy", "--all"])
                try #require(destroy.status == 0, "\(destroy)")
                #expect(host.dnsmasqPids().isEmpty)
                let bridges = try host.exec(["ip", "-o", "link", "show", "type", "bridge"])
                #expect(!bridges.contains("mb"), "moat's bridges are gone: \(bridges)")
                #expect(!(try host.exec(["iptables-save"])).contains("moat:"), "moat's rules are gone")
                #expect(try host.nftablesTable().isEmpty, "moat's table is gone")
            }
        }

        /// An iptables-restore payload deleting the first rule marked as `network`'s.
        static func deletingFirstRule(of network: String, in host: TestHost) throws -> String {
            var table = ""
            for line in try host.exec(["iptables-save"]).split(separator: "\n") {
                if line.hasPrefix("*") { table = String(line.dropFirst()) }
                if line.hasPrefix("-A "), line.contains("--comment \"moat:\(network)\"") {
                    return "*\(table)\n-D" + line.dropFirst(2) + "\nCOMMIT\n"
                }
            }
            throw TestFailure("no rule of \(network) in iptables-save")
        }
    }
}
