import Foundation
import Testing

/// `moat status` on a real host (a namespace): what it reports after an apply, once a guest
/// holds a lease, when a rule is lost, when dnsmasq dies, and for a file's network that is
/// not applied.
extension EndToEnd {
    @Suite("moat status")
    struct StatusTests {
        static let lab = """
            version: 1
            networks:
              lab:
                bridge: virbr10
                address: 192.168.100.1/24
                dhcp:
                  range: 192.168.100.100-192.168.100.199
            """

        static let labAndWeb = lab + """

              web:
                bridge: virbr12
                address: 192.168.102.1/24
            """

        /// `status --json` as data, required to exit 0.
        func status(_ host: TestHost, _ arguments: [String]) throws -> [String: Any] {
            let ran = try host.moat(["status", "--json"] + arguments)
            #expect(ran.status == 0, "\(ran)")
            let object = try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8))
            return try #require(object as? [String: Any], "\(ran)")
        }

        func network(_ report: [String: Any], _ name: String) throws -> [String: Any] {
            let networks = try #require(report["networks"] as? [[String: Any]])
            return try #require(networks.first { $0["name"] as? String == name }, "no \(name) in \(networks)")
        }

        /// A guest on the bridge, as a VM's tap would be: a namespace on a veth pair whose host
        /// end is plugged into `bridge`, asking for a lease with busybox udhcpc (hostname `name`).
        func guestLease(_ host: TestHost, name: String, mac: String, bridge: String) throws {
            let namespace = "\(host.namespace)-\(name)"
            try host.makeNamespace(namespace)
            try host.exec(["ip", "link", "add", "v\(name)", "type", "veth", "peer", "name", "eth0", "netns", namespace])
            try host.exec(["ip", "link", "set", "v\(name)", "master", bridge])
            try host.exec(["ip", "link", "set", "v\(name)", "up"])
            let guest = ["ip", "netns", "exec", namespace]
            try Shell.must(guest + ["ip", "link", "set", "eth0", "address", mac])
            try Shell.must(guest + ["ip", "link", "set", "eth0", "up"])
            // The lease only has to reach dnsmasq's lease file; the guest need not configure it.
            let script = try host.file("udhcpc-\(name).sh", "#!/bin/sh\nexit 0\n")
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
            try Shell.must(guest + ["busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "5", "-T", "1", "-x", "hostname:\(name)", "-s", script])
        }

        @Test("--json reports an applied network: its bridge up with its address, firewall in place, dnsmasq alive, no leases")
        func appliedNetwork() async throws {
            try await withHost("st-json") { host in
                let file = try host.file("moat.yaml", Self.lab)
                let applied = try host.moat(["apply", file])
                try #require(applied.status == 0, "\(applied)")

                let report = try status(host, [file])
                #expect(report["file"] as? String == file)
                #expect((report["sharedFirewall"] as? [String: Any])?["state"] as? String == "in-place")
                let lab = try network(report, "lab")
                #expect(lab["applied"] as? Bool == true)
                #expect(lab["declared"] as? Bool == true)
                #expect(lab["device"] as? String == "virbr10")
                #expect(lab["kind"] as? String == "bridge")
                #expect(lab["up"] as? Bool == true)
                #expect(lab["addresses"] as? [String] == ["192.168.100.1/24"])
                #expect((lab["firewall"] as? [String: Any])?["state"] as? String == "in-place")
                #expect(lab["leaseCount"] as? Int == 0)
                #expect(lab["leases"] == nil, "leases are listed only with --leases")
                let dnsmasq = try #require(lab["dnsmasq"] as? [String: Any])
                #expect(dnsmasq["running"] as? Bool == true)
                #expect((dnsmasq["pid"] as? Int).map(Int32.init) == host.dnsmasqPids()["lab"])
            }
        }

        @Test("--leases lists a guest's lease: its MAC, the IP it got, its hostname and when it expires")
        func leases() async throws {
            try await withHost("st-lease") { host in
                let file = try host.file("moat.yaml", Self.lab)
                try #require(try host.moat(["apply", file]).status == 0)
                try guestLease(host, name: "g1", mac: "52:54:00:00:00:a1", bridge: "virbr10")

                let lab = try network(try status(host, [file, "--leases"]), "lab")
                #expect(lab["leaseCount"] as? Int == 1)
                let lease = try #require((lab["leases"] as? [[String: Any]])?.first)
                #expect(lease["mac"] as? String == "52:54:00:00:00:a1")
                #expect(lease["hostname"] as? String == "g1")
                let ip = try #require(lease["ip"] as? String)
                let last = try #require(ip.split(separator: ".").last.flatMap { Int($0) })
                #expect(ip.hasPrefix("192.168.100.") && (100...199).contains(last), "\(ip) is outside the range")
                let expires = try #require(lease["expires"] as? String)
                let date = try #require(ISO8601DateFormatter().date(from: expires))
                #expect(date > Date(), "a fresh lease expires in the future")

                let text = try host.moat(["status", file, "--leases"])
                #expect(text.status == 0)
                #expect(text.stdout.contains("Leases of lab (virbr10):"), "\(text)")
                #expect(text.stdout.contains("52:54:00:00:00:a1") && text.stdout.contains(ip) && text.stdout.contains("g1"), "\(text)")
            }
        }

        @Test("a lost rule shows as drifted, a dead dnsmasq as not running, a declared network as not applied")
        func drift() async throws {
            try await withHost("st-drift") { host in
                let file = try host.file("moat.yaml", Self.lab)
                try #require(try host.moat(["apply", file]).status == 0)
                try Rules.flush("MOAT-IN-lab", host: host)
                let pid = try #require(host.dnsmasqPids()["lab"])
                kill(pid, SIGTERM)
                var gone = false
                for _ in 0..<100 where !gone {  // bounded: 5 seconds
                    // Gone, or a zombie (empty cmdline) until whoever adopted it reaps it.
                    gone = ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").isEmpty
                    if !gone { usleep(50_000) }
                }
                #expect(gone, "dnsmasq \(pid) did not exit on SIGTERM")

                let report = try status(host, [try host.file("both.yaml", Self.labAndWeb)])
                let lab = try network(report, "lab")
                let firewall = try #require(lab["firewall"] as? [String: Any])
                #expect(firewall["state"] as? String == "drifted")
                #expect((firewall["reason"] as? String)?.contains("MOAT-IN-lab") == true, "\(firewall)")
                #expect((lab["dnsmasq"] as? [String: Any])?["running"] as? Bool == false)
                #expect((lab["pending"] as? [String])?.isEmpty == false)

                let web = try network(report, "web")
                #expect(web["applied"] as? Bool == false)
                #expect(web["declared"] as? Bool == true)
                #expect(web["device"] as? String == "virbr12")

                let text = try host.moat(["status", try host.file("both2.yaml", Self.labAndWeb)])
                #expect(text.stdout.contains("not applied") && text.stdout.contains("drifted"), "\(text)")
            }
        }

        @Test("without a file (and none at the default path) it shows the live networks, firewall not judged")
        func withoutFile() async throws {
            try await withHost("st-nofile") { host in
                // The default file of the machine running the tests would be read instead.
                guard !FileManager.default.fileExists(atPath: "/etc/moat/moat.yaml") else { return }
                try #require(try host.moat(["apply", try host.file("moat.yaml", Self.lab)]).status == 0)
                let report = try status(host, [])
                #expect(report["file"] is NSNull)
                let lab = try network(report, "lab")
                #expect(lab["declared"] is NSNull)
                #expect((lab["firewall"] as? [String: Any])?["state"] as? String == "unchecked")
                #expect((lab["dnsmasq"] as? [String: Any])?["running"] as? Bool == true)

                let missing = try host.moat(["status", host.folder.appendingPathComponent("absent.yaml").path])
                #expect(missing.status == 1, "a file that was named must exist: \(missing)")
            }
        }

        @Test("on a host without moat's networks it says so, and exits 0")
        func empty() async throws {
            try await withHost("st-empty") { host in
                let ran = try host.moat(["status", try host.file("moat.yaml", Self.lab)])
                #expect(ran.status == 0, "\(ran)")
                #expect(ran.stdout.contains("lab") && ran.stdout.contains("not applied"), "\(ran)")
                let json = try status(host, [try host.file("moat2.yaml", Self.lab)])
                #expect((try network(json, "lab"))["applied"] as? Bool == false)
            }
        }
    }
}
