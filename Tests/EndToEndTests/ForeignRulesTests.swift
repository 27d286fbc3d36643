import Foundation
import MoatCore
import MoatTestSupport
import Testing

extension EndToEnd {
    @Suite("foreign rules")
    struct ForeignRulesTests {
        /// A user's FORWARD rule, a libvirt-like chain with its jumps, another tool's NAT
        /// rule and a mangle rule: what moat must never change, reorder or remove.
        static let foreign = """
            *filter
            :LIBVIRT_FWO - [0:0]
            :LIBVIRT_INP - [0:0]
            -A INPUT -j LIBVIRT_INP
            -A FORWARD -s 10.9.0.0/24 -i eth9 -j DROP
            -A FORWARD -j LIBVIRT_FWO
            -A LIBVIRT_FWO -s 192.168.122.0/24 -i virbr0 -j ACCEPT
            -A LIBVIRT_FWO -i virbr0 -j REJECT --reject-with icmp-port-unreachable
            -A LIBVIRT_INP -i virbr0 -p udp -m udp --dport 53 -j ACCEPT
            COMMIT
            *nat
            -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
            COMMIT
            *mangle
            -A POSTROUTING -o virbr0 -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill
            COMMIT

            """

        @Test("foreign rules, chains and devices are identical before apply and after destroy")
        func foreignRulesSurvive() async throws {
            try await withHost("foreign") { host in
                try host.exec(["iptables-restore", "--noflush"], input: Self.foreign)
                try host.exec(["ip", "link", "add", "br-user", "type", "bridge"])
                try host.exec(["ip", "addr", "add", "10.9.0.1/24", "dev", "br-user"])
                try host.exec(["ip", "link", "set", "br-user", "up"])
                // A device of the user's in the link group moat deletes its bridges by: they go
                // one by one then, and this one stays.
                try host.exec(["ip", "link", "add", "grp-user", "type", "veth", "peer", "name", "grp-peer"])
                try host.exec(["ip", "link", "set", "grp-user", "group", "\(LinkCommand.deletionGroup)"])
                let forwarding = try host.exec(["sysctl", "-n", "net.ipv4.ip_forward"])
                let before = try host.fingerprint()
                let foreignBefore = try foreignRules(host)

                let file = try host.file("moat.yaml", Files.lab)
                let apply = try host.moat(["apply", file])
                try #require(apply.status == 0, "\(apply)")
                // While moat's networks are up, the foreign rules keep their order, untouched.
                #expect(try foreignRules(host) == foreignBefore)

                let destroy = try host.moat(["destroy", file])
                #expect(destroy.status == 0, "\(destroy)")
                // An emptied table moat created (raw, here) is left declared: no packet can tell.
                let after = TestHost.withoutEmptyTables(try host.fingerprint())
                let expected = TestHost.withoutEmptyTables(before)
                #expect(after == expected, "\(lineDiff(expected: expected, actual: after))")
                #expect(try host.exec(["sysctl", "-n", "net.ipv4.ip_forward"]) == forwarding)
            }
        }

        /// Every line of iptables-save that is not moat's (no moat chain, no moat comment), in
        /// the tables that hold something else than moat's.
        func foreignRules(_ host: TestHost) throws -> [String] {
            let lines = try host.exec(["iptables-save"]).split(separator: "\n")
                .filter { !$0.hasPrefix("#") && !$0.contains("MOAT") && !$0.contains("moat") }
            return TestHost.withoutEmptyTables(lines.joined(separator: "\n")).split(separator: "\n").map(String.init)
        }
    }
}
