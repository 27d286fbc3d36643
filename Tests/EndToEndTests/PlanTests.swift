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
    }
}
