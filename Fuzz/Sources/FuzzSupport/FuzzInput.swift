import Foundation
import MoatConfig
import MoatCore

/// One input libFuzzer hands a target, as the bytes moat would have read.
public struct FuzzInput {
    public let bytes: [UInt8]

    public init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// The input as moat's host seam hands over a file or a command's output: UTF-8, each
    /// invalid byte replaced (`LocalSystem.read`, `SystemRunner`).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Where results go so the optimizer cannot drop the work that made them.
nonisolated(unsafe) public var sink = 0

/// Keeps `value`: hashes it into `sink`, which walks all of it.
@inline(never)
public func keep<T: Hashable>(_ value: T) {
    sink ^= value.hashValue
}

/// Stops the run (libFuzzer keeps the input as a crash) when something every input must
/// satisfy does not hold: a wrong answer, not only a trap, is a finding.
public func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz property broken: \(message())") }
}

/// A fixed configuration and what moat makes of it on a host, for the targets whose input is
/// host state: the plan is what `moat plan` would print for that host.
public enum Lab {
    public static let paths = Paths()

    /// Two examples read as one configuration: bridges with DHCP, allow holes and a forward,
    /// and an optional interface found by its MAC. Every host the fuzzers make is one it can
    /// be planned on (no device it needs is missing). FuzzRegressionTests plans with them too.
    public static let files = ["examples/vm-lab.yaml", "examples/lab-fleet/20-board.yaml"]

    /// The board's adapter, as `ip` shows a physical device with the MAC the file names.
    public static let boardDevice = Link(name: "enx00e04c680001", up: true, mac: "00:e0:4c:68:00:01")

    public static let config: Config = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let sources = files.map { file in
            ConfigLoader.source(bytes: [UInt8](FileManager.default.contents(atPath: root.appendingPathComponent(file).path) ?? Data()), file: file)
        }
        let check = ConfigLoader.check(sources, name: files.joined(separator: ", "))
        guard let config = check.config else { fatalError("the lab files are invalid: \(check.diagnostics)") }
        return config
    }()

    /// The configuration placed on a host with the board's adapter: every device named.
    public static let placed = Placement.place(config, on: Snapshot.assemble(Snapshot.Facts(links: [boardDevice]))).config

    /// The host's addresses by device once `placed` is applied (`HostState.localAddresses`).
    public static let localAddresses = DesiredState.render(placed, paths: paths).localAddresses

    /// `moat plan` of the lab file on `live`, as `Reconciler.plan` makes it (placement, the
    /// conflict checks and rails, then the diff of the rendered file and the connection cut),
    /// printed; and `moat destroy --all` of `live`.
    public static func plan(on live: HostState) {
        let placement = Placement.place(config, on: live)
        let placed = placement.config
        let context = DiffContext(live)
        let problems =
            placement.problems + Conflicts.find(config: placed, live: live)
            + SafetyRails.sharedInterfaces(config: placed, live: live, records: context.interfaceRecords)
        keep(live.digests(devices: Set(placed.networks.map(\.device.name))))
        if problems.isEmpty {
            let desired = DesiredState.render(placed, paths: paths, upstream: live.resolvers)
            var plan = Diff.plan(desired: desired, live: live, context: context, paths: paths)
            plan.steps += ConnectionCut.steps(config: placed, desired: desired, live: live)
            plan.warnings = SafetyRails.warnings(config: placed, live: live)
            // Not `plan.json`: Foundation's JSON writing of the same strings was half of each run.
            keep(plan.humanText(color: true, operations: paths))
        }
        var leaving = DiffContext(live, leaving: "moat destroy --all")
        leaving.code = .destroy
        leaving.restartDnsmasq = []
        let destroy = Diff.plan(desired: live.without(networks: Set(live.networks.keys)), live: live, context: leaving, paths: paths)
        keep(destroy.humanText(color: false, operations: paths))
    }
}
