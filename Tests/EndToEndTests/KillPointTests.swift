import Foundation
import MoatHost
import MoatTestSupport
import Testing

extension EndToEnd {
    /// A kill -9 at every point of a run, not at one hand-picked moment. The binary's test
    /// points (`TestPointSystem`, off unless a test sets its variables) number every change a
    /// run makes (each journal write, file, sysctl, signal and program), and the run is
    /// killed at each in turn, so no moment between two of moat's own writes is left out.
    @Suite("every kill point")
    struct KillPointTests {
        /// Three networks: two bridges (one with a static host, an allow and a forward) and
        /// a device moat does not own.
        static let file = Files.lab + """
              board:
                interface: mi0
                address: 10.20.0.1/24

            """

        /// The numbered points of one run of `arguments` (`N what` each), which must succeed.
        static func points(_ host: TestHost, _ arguments: [String]) throws -> [String] {
            let log = host.folder.appendingPathComponent("points-\(UUID().uuidString.prefix(8))").path
            let ran = try host.moat(arguments, environment: [TestPointSystem.Variable.log: log])
            try #require(ran.status == 0, "\(ran)")
            return try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        }

        /// Runs moat to be killed just before point `number`.
        static func killed(_ host: TestHost, _ arguments: [String], at number: Int, _ point: String) throws {
            let ran = try host.moat(arguments, environment: [TestPointSystem.Variable.killAt: "\(number)"])
            #expect(ran.status == SIGKILL, "killed at point \(point): \(ran)")
        }

        /// `moat apply` succeeds and leaves nothing to do.
        static func converges(_ host: TestHost, _ file: String, _ context: String) throws {
            let apply = try host.moat(["apply", file])
            #expect(apply.status == 0, "\(context): \(apply)")
            let plan = try host.moat(["plan", "--detailed-exitcode", file])
            #expect(plan.status == 0, "\(context): \(plan)")
            #expect(host.dnsmasqPids().keys.sorted() == ["board", "dmz", "lab"], "\(context)")
            #expect(host.anyDnsmasqAlive().count == 3, "\(context): no orphaned dnsmasq: \(host.anyDnsmasqAlive())")
        }

        /// `moat destroy --all` succeeds and leaves the host as `before`.
        static func destroysAll(_ host: TestHost, back before: HostImage, _ context: String) throws {
            let destroy = try host.moat(["destroy", "--all"])
            #expect(destroy.status == 0, "\(context): \(destroy)")
            let after = try host.image()
            #expect(after == before, "\(context): \(before.difference(after))")
            #expect(host.anyDnsmasqAlive().isEmpty, "\(context): dnsmasq left: \(host.anyDnsmasqAlive())")
        }

        static func withBoardHost(_ tag: String, _ body: (TestHost, String, HostImage) throws -> Void) async throws {
            try await withHost(tag) { host in
                try host.exec(["ip", "link", "add", "mi0", "type", "veth", "peer", "name", "mi0-peer"])
                let file = try host.file("moat.yaml", Self.file)
                try body(host, file, try host.image())
            }
        }

        @Test("a kill -9 at each point of a three-network apply: the next apply converges; destroy --all leaves the host as before moat")
        func everyPointOfApply() async throws {
            try await Self.withBoardHost("kpa") { host, file, empty in
                let points = try Self.points(host, ["apply", file])
                try Self.destroysAll(host, back: empty, "after the counted apply")
                #expect(points.count >= 20, "\(points)")
                for (index, point) in points.enumerated() {
                    let context = "apply killed before point \(point)"
                    try Self.killed(host, ["apply", file], at: index + 1, point)
                    try Self.converges(host, file, context)
                    try Self.destroysAll(host, back: empty, context + ", then converged")
                    try Self.killed(host, ["apply", file], at: index + 1, point)
                    try Self.destroysAll(host, back: empty, context)
                }
            }
        }

        @Test("a kill -9 at each point of destroy --all: the next apply converges; destroy --all leaves the host as before moat")
        func everyPointOfDestroy() async throws {
            try await Self.withBoardHost("kpd") { host, file, empty in
                try #require(try host.moat(["apply", file]).status == 0)
                let points = try Self.points(host, ["destroy", "--all"])
                #expect(try host.image() == empty)
                #expect(points.count >= 15, "\(points)")
                for (index, point) in points.enumerated() {
                    let context = "destroy killed before point \(point)"
                    try #require(try host.moat(["apply", file]).status == 0)
                    try Self.killed(host, ["destroy", "--all"], at: index + 1, point)
                    try Self.converges(host, file, context)
                    try Self.killed(host, ["destroy", "--all"], at: index + 1, point)
                    try Self.destroysAll(host, back: empty, context)
                }
            }
        }
    }
}
