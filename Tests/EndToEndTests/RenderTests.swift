import Foundation
import MoatCore
import Testing

extension EndToEnd {
    @Suite("render")
    struct RenderTests {
        @Test("render is what an apply on an empty host loads: firewall, devices, sysctls, dnsmasq files")
        func renderEqualsApply() async throws {
            try await withHost("render") { host in
                let file = try host.file("moat.yaml", Files.lab)
                let out = host.folder.appendingPathComponent("render")
                // The test host's resolv.conf names 203.0.113.53: the resolver apply forwards to.
                let render = try host.moat([
                    "render", file, "--out", out.path, "--state-dir", host.stateDir, "--run-dir", host.runDir,
                    "--resolver", "203.0.113.53",
                ])
                #expect(render.status == 0, "\(render)")
                let stdout = try host.moat(["render", file, "--resolver", "203.0.113.53"])
                #expect(stdout.status == 0 && stdout.stdout.hasPrefix(Rules.nftables ? "# nft -f -\n" : "# iptables-restore --noflush\n"), "\(stdout)")
                func rendered(_ path: String) throws -> String {
                    try String(contentsOf: out.appendingPathComponent(path), encoding: .utf8)
                }

                let apply = try host.moat(["apply", file])
                #expect(apply.status == 0, "\(apply)")

                // The firewall: the render payload loaded into a namespace of its own reads back
                // as the applied host's MOAT chains and jumps.
                let loaded = host.namespace + "-r"
                try host.makeNamespace(loaded)
                if Rules.nftables {
                    try Shell.must(["ip", "netns", "exec", loaded, "nft", "-f", "-"], input: try rendered("nftables.nft"))
                    let want = NftablesBackend.parseRuleset(json: try Shell.must(["ip", "netns", "exec", loaded, "nft", "-j", "list", "ruleset"]))
                    let got = NftablesBackend.parseRuleset(json: try host.exec(["nft", "-j", "list", "ruleset"]))
                    #expect(!want.chains.isEmpty)
                    #expect(got.chains == want.chains)
                } else {
                    try Shell.must(["ip", "netns", "exec", loaded, "iptables-restore", "--noflush"], input: try rendered("iptables.rules"))
                    let want = IptablesBackend.parseSave(try Shell.must(["ip", "netns", "exec", loaded, "iptables-save"]))
                    let got = IptablesBackend.parseSave(try host.exec(["iptables-save"]))
                    #expect(!want.chains.isEmpty)
                    #expect(got.chains == want.chains)
                    #expect(got.jumps == want.jumps)
                }

                // The devices: the batch run in that namespace makes the same bridges, marks
                // and addresses.
                try Shell.must(["ip", "netns", "exec", loaded, "ip", "-batch", "-"], input: try rendered("ip.batch"))
                // (IPv6 is left out: the sysctl that turns it off is not part of the batch.)
                for device in ["virbr10", "virbr11"] {
                    for show in [["ip", "-o", "-4", "addr", "show", "dev", device], ["cat", "/sys/class/net/\(device)/ifalias"]] {
                        let there = Self.withoutIndex(try Shell.must(["ip", "netns", "exec", loaded] + show))
                        let here = Self.withoutIndex(try host.exec(show))
                        #expect(!here.isEmpty && there == here, "\(show): rendered \(there), applied \(here)")
                    }
                }

                // The sysctls have the rendered values on the applied host.
                for line in try rendered("sysctl.conf").split(separator: "\n") {
                    let parts = line.split(separator: " = ", maxSplits: 1).map(String.init)
                    #expect(parts.count == 2)
                    let value = try host.exec(["sysctl", "-n", parts[0]]).trimmingCharacters(in: .whitespacesAndNewlines)
                    #expect(value == parts[1], "\(line)")
                }

                // dnsmasq: every network's files byte for byte, and no others.
                let networks = try FileManager.default.contentsOfDirectory(atPath: "\(host.stateDir)/networks").sorted()
                #expect(try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("dnsmasq").path).sorted() == networks)
                #expect(networks == ["dmz", "lab"])
                for network in networks {
                    for name in ["dnsmasq.conf", "dhcp-hosts", "hosts"] {
                        let written = try Data(contentsOf: URL(fileURLWithPath: "\(host.stateDir)/networks/\(network)/\(name)"))
                        #expect(written == (try Data(contentsOf: out.appendingPathComponent("dnsmasq/\(network)/\(name)"))), "\(network)/\(name)")
                    }
                }
            }
        }

        /// `ip -o addr` lines without the interface index (`5:`), which differs between
        /// namespaces.
        static func withoutIndex(_ text: String) -> String {
            text.split(separator: "\n").map { line in
                let words = line.split(separator: " ")
                return (words.first?.hasSuffix(":") == true ? words.dropFirst() : words[...]).joined(separator: " ")
            }.joined(separator: "\n")
        }
    }
}
