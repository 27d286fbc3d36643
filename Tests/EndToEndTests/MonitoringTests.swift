import Foundation
import Testing

extension EndToEnd {
    /// `moat status --check` (a Nagios plugin's exit codes) and `--format prometheus`.
    @Suite("monitoring: status --check and Prometheus metrics")
    struct MonitoringTests {
        static let file = """
            version: 1
            networks:
              lab:
                bridge: mbr-lab
                address: 192.168.100.1/24
                dhcp:
                  range: 192.168.100.100-192.168.100.199
                  hosts:
                    - { mac: "52:54:00:00:00:01", ip: 192.168.100.10 }
              board:
                interface: { mac: "02:e0:4c:68:00:09" }
                optional: true
                address: 10.20.0.1/24

            """

        @Test("--check: 0 in place, 2 after a rule is lost or dnsmasq dies, 0 after apply, 3 for an invalid file")
        func check() async throws {
            try await withHost("mon-check") { host in
                let file = try host.file("moat.yaml", Self.file)
                let before = try host.moat(["status", file, "--check"])
                #expect(before.status == 2, "nothing applied yet: \(before)")
                #expect(before.stdout.hasPrefix("MOAT CRITICAL - lab: not applied"), "\(before)")
                try #require(try host.moat(["apply", file]).status == 0)

                let ok = try host.moat(["status", file, "--check"])
                #expect(ok.status == 0, "\(ok)")
                #expect(ok.stdout.hasPrefix("MOAT OK - 1 network in place; board waiting for its device"), "\(ok)")

                // A rule lost as a `firewall-cmd --reload` or a hand would lose it.
                if Rules.nftables {
                    try Rules.nftDelete(in: "MOAT-IN-lab", containing: "udp dport 53 accept", host: host)
                } else {
                    try host.exec(
                        ["iptables", "-D", "MOAT-IN-lab", "-d", "192.168.100.1/32", "-p", "udp", "-m", "udp", "--dport", "53", "-m", "comment",
                         "--comment", "moat:lab", "-j", "ACCEPT"])
                }
                let drifted = try host.moat(["status", file, "--check"])
                #expect(drifted.status == 2, "\(drifted)")
                #expect(drifted.stdout.hasPrefix("MOAT CRITICAL - lab: firewall drifted"), "\(drifted)")
                try #require(try host.moat(["apply", file]).status == 0)
                #expect(try host.moat(["status", file, "--check"]).status == 0)

                let pid = try #require(host.dnsmasqPids()["lab"])
                kill(pid, SIGKILL)
                #expect(poll(tries: 200, every: 0.01) { !FileManager.default.fileExists(atPath: "/proc/\(pid)/status") || (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8))?.contains("State:\tZ") == true })
                let dead = try host.moat(["status", file, "--check"])
                #expect(dead.status == 2, "\(dead)")
                #expect(dead.stdout.contains("lab: dnsmasq not running"), "\(dead)")
                try #require(try host.moat(["apply", file]).status == 0)
                #expect(try host.moat(["status", file, "--check"]).status == 0)

                let invalid = try host.file("bad.yaml", "version: 1\nnetworks: [\n")
                let unknown = try host.moat(["status", invalid, "--check"])
                #expect(unknown.status == 3, "\(unknown)")
                #expect(unknown.stdout.hasPrefix("MOAT UNKNOWN - "), "\(unknown)")
                #expect(unknown.stderr.contains("moat: error: "), "\(unknown)")
                let unknownJSON = try host.moat(["status", invalid, "--check", "--json"])
                #expect(unknownJSON.status == 3 && unknownJSON.stdout.contains("\"exit_code\" : 3"), "\(unknownJSON)")
                // A collector's file never keeps a stale OK.
                let prom = host.folder.appendingPathComponent("moat.prom").path
                #expect(try host.moat(["status", file, "--format", "prometheus", "--out", prom]).status == 0)
                #expect(try host.moat(["status", invalid, "--check", "--format", "prometheus", "--out", prom]).status == 3)
                #expect(try String(contentsOfFile: prom, encoding: .utf8).hasSuffix("moat_check_status 3\n"))
                #expect(try host.moat(["destroy", file]).status == 0)
            }
        }

        @Test("--format prometheus parses, its values match status --json, and --out writes the file whole")
        func prometheus() async throws {
            try await withHost("mon-prom") { host in
                let file = try host.file("moat.yaml", Self.file)
                try #require(try host.moat(["apply", file]).status == 0)
                let metrics = try host.moat(["status", file, "--format", "prometheus"])
                try #require(metrics.status == 0, "\(metrics)")
                let json = try host.moat(["status", file, "--json"])
                try #require(json.status == 0, "\(json)")

                // Every sample as `name{labels} value`, read by Prometheus's own parser.
                let parse = """
                    import sys
                    from prometheus_client.parser import text_string_to_metric_families
                    for family in text_string_to_metric_families(sys.stdin.read()):
                        for s in family.samples:
                            print(s.name, s.labels.get("network", ""), int(s.value))
                    """
                let parsed = try Shell.must(["python3", "-c", parse], input: metrics.stdout)
                let samples = Set(parsed.split(separator: "\n").map(String.init))
                let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
                let networks = try #require(report["networks"] as? [[String: Any]])
                let lab = try #require(networks.first { $0["name"] as? String == "lab" })
                #expect(samples.contains("moat_network_up lab \((lab["up"] as? Bool) == true ? 1 : 0)"), "\(samples)")
                #expect(samples.contains("moat_network_leases lab \(lab["leaseCount"] as? Int ?? -1)"))
                #expect(samples.contains("moat_network_dhcp_pool_size lab \(lab["poolSize"] as? Int ?? -1)"))
                #expect(lab["poolSize"] as? Int == 101, "100 in the range and one static host outside it")
                let firewall = (lab["firewall"] as? [String: Any])?["state"] as? String
                #expect(samples.contains("moat_network_firewall_in_place lab \(firewall == "in-place" ? 1 : 0)"))
                #expect(samples.contains("moat_network_dnsmasq_running lab 1"))
                #expect(samples.contains("moat_network_waiting board 1"))
                #expect(samples.contains("moat_check_status  0"))

                let out = host.folder.appendingPathComponent("collector/moat.prom").path
                try FileManager.default.createDirectory(
                    atPath: host.folder.appendingPathComponent("collector").path, withIntermediateDirectories: true)
                let written = try host.moat(["status", file, "--format", "prometheus", "--out", out])
                #expect(written.status == 0 && written.stdout.isEmpty, "\(written)")
                let text = try String(contentsOfFile: out, encoding: .utf8)
                #expect(text == metrics.stdout)
                let left = try FileManager.default.contentsOfDirectory(atPath: host.folder.appendingPathComponent("collector").path)
                #expect(left == ["moat.prom"], "no temporary file is left beside it")
                #expect(try host.moat(["destroy", file]).status == 0)
            }
        }
    }
}
