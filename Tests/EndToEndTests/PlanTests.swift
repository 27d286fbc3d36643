import Foundation
import Testing

extension EndToEnd {
    @Suite("plan")
    struct PlanTests {
        @Test("plan on an empty host reports pending changes (exit 2) and changes nothing")
        func planChangesNothing() async throws {
            try await withHost("plan") { host in
                let file = try host.file("moat.yaml", Files.lab)
                let before = try host.fingerprint()
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 2, "\(plan)")
                #expect(Set(TestHost.steps(of: plan.stdout).map(\.network)).isSuperset(of: ["lab", "dmz"]), "\(plan)")
                #expect(try host.fingerprint() == before)
                #expect(host.dnsmasqPids().isEmpty)
            }
        }

        @Test("a foreign bridge with the file's bridge name is a plan error naming it")
        func foreignBridgeIsAConflict() async throws {
            try await withHost("foreign") { host in
                try host.exec(["ip", "link", "add", "virbr10", "type", "bridge"])
                let file = try host.file("moat.yaml", Files.lab)
                let before = try host.fingerprint()
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 1, "\(plan)")
                #expect(plan.stderr.contains("virbr10"), "\(plan)")
                // Nor does apply adopt or touch it.
                let apply = try host.moat(["apply", file])
                #expect(apply.status == 1, "\(apply)")
                #expect(apply.stderr.contains("virbr10"), "\(apply)")
                #expect(try host.fingerprint() == before)
            }
        }

        @Test("an interface that does not exist is a plan error naming it")
        func missingInterfaceIsAnError() async throws {
            try await withHost("noif") { host in
                let file = try host.file(
                    "moat.yaml",
                    """
                    version: 1
                    networks:
                      board:
                        interface: usbeth9
                        address: 10.20.0.1/24

                    """)
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 1, "\(plan)")
                #expect(plan.stderr.contains("usbeth9"), "\(plan)")
            }
        }

        @Test("a missing dnsmasq is an error naming its Debian package, before anything is touched")
        func missingDependencyNamesPackage() async throws {
            try await withHost("nodeps") { host in
                // A PATH with every program moat runs but dnsmasq.
                let bin = host.folder.appendingPathComponent("bin")
                try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
                for program in ["ip", "iptables", "iptables-save", "iptables-restore"] {
                    let real = try #require(Shell.which(program))
                    try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(program).path, withDestinationPath: real)
                }
                let file = try host.file("moat.yaml", Files.lab)
                let before = try host.fingerprint()
                for command in [["plan", file], ["apply", file]] {
                    let ran = try host.moat(command, environment: ["PATH": bin.path])
                    #expect(ran.status == 1, "\(ran)")
                    #expect(ran.stderr.contains("dnsmasq-base"), "\(ran)")
                }
                #expect(try host.fingerprint() == before)
            }
        }
    }
}
