import Foundation
import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


/// Root only: reads real namespaces this test makes, never the machine's own.
/// Whether this process may make namespaces and has the programs a snapshot runs.
private let canMakeNamespaces: Bool =
    geteuid() == 0 && (try? Dependencies.check(["ip", "iptables", "iptables-save"], system: LocalSystem())) != nil

@Suite("Reading a real network namespace", .enabled(if: canMakeNamespaces))
struct SnapshotNamespaceTests {
    /// Runs `body` with a fresh namespace, deleted afterwards whatever happens.
    func withNamespace(_ body: (String) async throws -> Void) async throws {
        let runner = LocalSystem()
        let namespace = "moat-snap-\(UInt32.random(in: 0...UInt32.max))"
        try await runner.check(["ip", "netns", "add", namespace])
        do {
            try await body(namespace)
        } catch {
            _ = try? await runner.run(["ip", "netns", "del", namespace], input: nil)
            throw error
        }
        try await runner.check(["ip", "netns", "del", namespace])
    }

    /// State and run dirs that do not exist: a host moat never touched.
    func temporaryPaths() throws -> Paths {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("moat-snap-\(UUID().uuidString)")
        return Paths(stateDir: base.appendingPathComponent("state").path, runDir: base.appendingPathComponent("run").path)
    }

    @Test("an empty namespace is an empty state: no networks, no chains, no jumps, no routes")
    func emptyNamespace() async throws {
        try await withNamespace { namespace in
            let state = try await Snapshot.read(LocalSystem(namespace: namespace), paths: try temporaryPaths())
            #expect(state.networks.isEmpty)
            #expect(state.sharedChains.isEmpty)
            #expect(state.jumps.isEmpty)
            #expect(state.routes.isEmpty)
            #expect(Array(state.foreignLinks.keys) == ["lo"])
        }
    }

    @Test("a marked bridge and moat's chains in a namespace are found; a foreign bridge is not moat's")
    func markedBridge() async throws {
        try await withNamespace { namespace in
            let inside = LocalSystem(namespace: namespace)
            for argv in [
                ["ip", "link", "add", "virbr10", "type", "bridge"], ["ip", "link", "set", "virbr10", "alias", "moat:lab"],
                ["ip", "addr", "add", "192.168.100.1/24", "dev", "virbr10"], ["ip", "link", "set", "virbr10", "up"],
                ["ip", "link", "add", "docker0", "type", "bridge"],
                ["iptables", "-N", "MOAT-FORWARD"], ["iptables", "-N", "MOAT-FROM-lab"],
                ["iptables", "-A", "FORWARD", "-m", "comment", "--comment", "moat", "-j", "MOAT-FORWARD"],
                ["iptables", "-A", "FORWARD", "-o", "docker0", "-j", "ACCEPT"],
            ] {
                try await inside.check(argv)
            }
            let state = try await Snapshot.read(inside, paths: try temporaryPaths())
            #expect(Array(state.networks.keys) == ["lab"])
            #expect(state.networks["lab"]?.device.owned == true)
            #expect(state.networks["lab"]?.device.addresses == [IPv4CIDR("192.168.100.1/24")].compactMap { $0 })
            #expect(state.networks["lab"]?.chains == [ChainID(.filter, "MOAT-FROM-lab"): []])
            #expect(state.sharedChains == [ChainID(.filter, "MOAT-FORWARD"): []])
            #expect(state.jumps.text == [ChainID(.filter, "FORWARD"): ["-m comment --comment moat -j MOAT-FORWARD"]])
            #expect(Set(state.foreignLinks.keys) == ["lo", "docker0"])
        }
    }

    @Test("a program missing inside a namespace is reported as not found")
    func missingInsideNamespace() async throws {
        try await withNamespace { namespace in
            let result = try await LocalSystem(namespace: namespace).run(["moat-no-such-program"], input: nil)
            #expect(result.status == 127)
        }
    }
}
