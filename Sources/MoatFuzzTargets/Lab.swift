import Foundation
import MoatConfig
import MoatCore

/// A fixed configuration and what moat makes of it on a host, for the targets whose input is
/// host state: the plan is what `moat plan` would print for that host.
enum Lab {
    static let paths = Paths()

    /// The checkout the fuzzer and the tests run from (this file is Sources/MoatFuzzTargets/Lab.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Two examples read as one configuration: bridges with DHCP, allow holes and a forward,
    /// and an optional interface found by its MAC. Every host the fuzzers make is one it can
    /// be planned on (no device it needs is missing).
    static let files = ["examples/vm-lab.yaml", "examples/lab-fleet/20-board.yaml"]

    /// The board's adapter, as `ip` shows a physical device with the MAC the file names.
    static let boardDevice = Link(name: "enx00e04c680001", up: true, mac: "00:e0:4c:68:00:01")

    static let config: Config = {
        let sources = files.map { file in
            ConfigLoader.source(bytes: [UInt8](FileManager.default.contents(atPath: root.appendingPathComponent(file).path) ?? Data()), file: file)
        }
        let check = ConfigLoader.check(sources, name: files.joined(separator: ", "))
        guard let config = check.config else { fatalError("the lab files are invalid: \(check.diagnostics)") }
        return config
    }()

    /// The configuration placed on a host with the board's adapter: every device named.
    static let placed = Placement.place(config, on: Snapshot.assemble(Snapshot.Facts(links: [boardDevice]))).config

    /// The host's addresses by device once `placed` is applied (`HostState.localAddresses`).
    static let localAddresses = DesiredState.render(placed, paths: paths).localAddresses

    static let utc = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? .autoupdatingCurrent

    /// `moat plan` of the lab file on `live` (`Planning`, as the reconciler plans), printed when
    /// nothing is in its way; and `moat destroy --all` of `live`, printed.
    static func plan(on live: HostState) {
        let placement = Planning.check(config, on: live)
        keep(live.digests(devices: Set(placement.config.networks.map(\.device.name))))
        if placement.problems.isEmpty {
            // Not `plan.json`: Foundation's JSON writing of the same strings was half of each run.
            keep(Planning.plan(placement, live: live, paths: paths).plan.humanText(color: true, operations: paths))
        }
        keep(Planning.destroy(nil, live: live, paths: paths).plan.humanText(color: false, operations: paths))
    }

    /// The plan `moat plan --out` saves for `config` (read from `text` at `path`) on an empty host.
    static func savedPlan(of config: Config, text: String, path: String) -> SavedPlan {
        let live = HostState()
        let placement = Planning.check(config, on: live)
        keep(placement.problems)
        let plan = Planning.plan(placement, live: live, paths: paths).plan
        keep(plan.humanText(color: false, operations: paths))
        return SavedPlan(
            plan: plan, arguments: [path], files: [.init(path: path, text: text)],
            host: .init(hostname: "lab-host", machineID: "0123456789abcdef0123456789abcdef"), live: live, config: placement.config,
            paths: paths, moatVersion: "0.1.0")
    }
}

extension FuzzTarget {
    /// Writes into `folder` the plan `moat plan --out` saves for each valid moat file of
    /// `files` on an empty host, as seeds for `saved-plan`: no plan file is kept in the tree
    /// (the format changes with moat), they are made from the config fixtures instead.
    /// Returns how many it wrote.
    public static func writePlanSeeds(into folder: URL, from files: [String]) throws -> Int {
        var written = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file),
                let config = ConfigLoader.check(bytes: [UInt8](data), file: file).config
            else { continue }
            let saved = Lab.savedPlan(
                of: config, text: String(decoding: data, as: UTF8.self), path: "/etc/moat/" + URL(fileURLWithPath: file).lastPathComponent)
            // Named by the whole path: the diff cases' files are all `config.yaml`.
            let name = file.split(separator: "/").joined(separator: "_") + ".plan.json"
            try saved.text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
            written += 1
        }
        return written
    }
}
