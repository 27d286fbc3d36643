import Foundation
import Testing

extension EndToEnd {
    /// SPEC §3 "Safety rails": what plan refuses unless the file opts in, in the world whose
    /// host has lan0 = 192.168.0.10/24 with the default route via 192.168.0.1.
    @Suite("safety rails")
    struct SafetyRailTests {
        static func board(shared: Bool) -> String {
            """
            version: 1
            networks:
              board:
                interface: lan0
            \(shared ? "    shared-with-host: true\n" : "")    address: 10.30.0.1/24

            """
        }

        /// A bridge network whose dnsmasq serves DHCP and DNS, with `forwards` lines as given.
        static func lab(forwards: [String]) -> String {
            """
            version: 1
            networks:
              lab:
                bridge: virbr10
                address: 192.168.100.1/24
            """ + (forwards.isEmpty ? "" : "\n    forwards:\n" + forwards.map { "      - \($0)" }.joined(separator: "\n")) + "\n"
        }

        static let ssh = #"{ proto: tcp, port: 22, to: "192.168.100.10:22" }"#

        @Test("an interface carrying the host's default route and LAN address is refused by plan and apply; nothing changes")
        func sharedInterfaceRefused() async throws {
            try await withWorld("rail-if") { world in
                let host = world.host
                let file = try host.file("moat.yaml", Self.board(shared: false))
                let before = try host.fingerprint()
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 1, "\(plan)")
                #expect(
                    plan.stderr.contains(
                        "network board: interface lan0 carries the host's default route (via 192.168.0.1) and 192.168.0.10/24, which the file does not declare"),
                    "\(plan)")
                #expect(plan.stderr.contains("set `shared-with-host: true` on network board"), "\(plan)")
                let apply = try host.moat(["apply", file])
                #expect(apply.status == 1, "\(apply)")
                #expect(apply.stderr.contains("interface lan0 carries the host's default route"), "\(apply)")
                #expect(try host.fingerprint() == before)
            }
        }

        @Test("shared-with-host: true lets the same interface plan")
        func sharedInterfaceOptIn() async throws {
            try await withWorld("rail-ifok") { world in
                let host = world.host
                let file = try host.file("moat.yaml", Self.board(shared: true))
                let before = try host.fingerprint()
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 2, "\(plan)")
                #expect(try host.fingerprint() == before)
            }
        }

        @Test("a new forward of tcp 22 while sshd listens is refused, naming the process; override-host-port lets it plan")
        func forwardOverListenerRefused() async throws {
            try await withWorld("rail-fwd") { world in
                let host = world.host
                let pid = try world.serve(in: host.namespace, as: "sshd", ports: [22])
                let file = try host.file("moat.yaml", Self.lab(forwards: [Self.ssh]))
                let before = try host.fingerprint()
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 1, "\(plan)")
                #expect(plan.stderr.contains("forward tcp 22 → 192.168.100.10:22: sshd (pid \(pid)) on 0.0.0.0:22"), "\(plan)")
                #expect(plan.stderr.contains("locks out ssh"), "\(plan)")
                #expect(plan.stderr.contains("`override-host-port: true`"), "\(plan)")
                let apply = try host.moat(["apply", file])
                #expect(apply.status == 1, "\(apply)")
                #expect(try host.fingerprint() == before)

                let opted = try host.file(
                    "opted.yaml", Self.lab(forwards: [#"{ proto: tcp, port: 22, to: "192.168.100.10:22", override-host-port: true }"#]))
                let optedPlan = try host.moat(["plan", "--detailed-exitcode", opted])
                #expect(optedPlan.status == 2, "\(optedPlan)")
            }
        }

        @Test("a listener on 127.0.0.1 only does not count")
        func loopbackListenerIsFine() async throws {
            try await withWorld("rail-lo") { world in
                let host = world.host
                try world.serve(in: host.namespace, as: "sshd", ports: [22], address: "127.0.0.1")
                let file = try host.file("moat.yaml", Self.lab(forwards: [Self.ssh]))
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 2, "\(plan)")
            }
        }

        @Test("a forward already applied is not re-checked when a listener starts on its port; moat's own dnsmasq does not count")
        func appliedForwardAndDnsmasq() async throws {
            try await withWorld("rail-kept") { world in
                let host = world.host
                let file = try host.file("moat.yaml", Self.lab(forwards: [#"{ proto: tcp, port: 8080, to: "192.168.100.10:80" }"#]))
                let apply = try host.moat(["apply", file])
                #expect(apply.status == 0, "\(apply)")
                #expect(!host.dnsmasqPids().isEmpty)
                try world.serve(in: host.namespace, as: "webd", ports: [8080])
                let again = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(again.status == 0, "\(again)")

                // dnsmasq binds 0.0.0.0:67 and the network's address on port 53.
                let dnsmasqPorts = try host.file(
                    "ports.yaml",
                    Self.lab(forwards: [
                        #"{ proto: tcp, port: 8080, to: "192.168.100.10:80" }"#, #"{ proto: udp, port: 53, to: "192.168.100.10:53" }"#,
                        #"{ proto: udp, port: 67, to: "192.168.100.10:67" }"#, #"{ proto: tcp, port: 53, to: "192.168.100.10:53" }"#,
                    ]))
                let plan = try host.moat(["plan", "--detailed-exitcode", dnsmasqPorts])
                #expect(plan.status == 2, "\(plan)")
            }
        }

        @Test("an allow to the host's LAN address warns on stderr and in plan --json, exit code unchanged")
        func allowToHostAddressWarns() async throws {
            try await withWorld("rail-warn") { world in
                let host = world.host
                let file = try host.file(
                    "moat.yaml",
                    """
                    version: 1
                    networks:
                      lab:
                        bridge: virbr10
                        address: 192.168.100.1/24
                        allow:
                          - { to: 192.168.0.10/32, proto: tcp, ports: [22] }

                    """)
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 2, "\(plan)")
                #expect(plan.stderr.contains("moat: warning: network lab: the allow to 192.168.0.10/32 has no effect"), "\(plan)")
                #expect(plan.stderr.contains("use `to: host`"), "\(plan)")
                let json = try host.moat(["plan", "--json", file])
                #expect(json.status == 0, "\(json)")
                let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
                let warnings = object?["warnings"] as? [String]
                #expect(warnings?.count == 1, "\(json)")
            }
        }
    }
}
