import Foundation
import MoatConfig
import MoatCore
import Testing

/// The inputs the fuzz targets (`Fuzz/Sources/fuzz-<target>`, `make fuzz`) once failed on,
/// kept as `Fuzz/regressions/<target>/<name>`. Each is fed to what its target drives, read
/// the way moat reads that file or output, and must give a value or a clean error, never a
/// crash. `entries` follows the targets step for step; a target added there needs its entry here.
@Suite("Inputs the fuzzers found")
struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let regressions = root.appendingPathComponent("Fuzz/regressions")

    /// One kept input: the target it is for (its folder) and its file name.
    struct Input: Sendable, CustomTestStringConvertible {
        var target: String
        var name: String
        var testDescription: String { "\(target)/\(name)" }
        var bytes: [UInt8] {
            get throws { [UInt8](try Data(contentsOf: regressions.appendingPathComponent(target).appendingPathComponent(name))) }
        }
    }

    static let inputs: [Input] = entries(of: regressions).flatMap { target in
        entries(of: regressions.appendingPathComponent(target)).map { Input(target: target, name: $0) }
    }

    @Test("each kept input reads as its fuzz target reads it: a value or a clean error, never a crash", arguments: inputs)
    func replay(_ input: Input) throws {
        let entry = try #require(Self.targets[input.target], "Fuzz/regressions/\(input.target) is no fuzz target's")
        try entry(try input.bytes)
    }

    @Test("every fuzz target is replayed here, and every folder of Fuzz/regressions is a target's")
    func everyTarget() {
        let sources = Self.entries(of: Self.root.appendingPathComponent("Fuzz/Sources")).filter { $0.hasPrefix("fuzz-") }
        #expect(!sources.isEmpty)
        #expect(Set(sources.map { String($0.dropFirst("fuzz-".count)) }) == Set(Self.targets.keys))
        #expect(Set(Self.entries(of: Self.regressions)).isSubset(of: Self.targets.keys))
    }

    /// The names in a folder, hidden ones left out, sorted; none when there is no folder.
    static func entries(of folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: - What each target drives

    static let paths = Paths()

    /// The configuration the host-state targets plan with (FuzzSupport's `Lab`).
    static func labConfig() throws -> Config {
        let files = ["examples/vm-lab.yaml", "examples/lab-fleet/20-board.yaml"]
        let sources = try files.map { file in
            ConfigLoader.source(bytes: [UInt8](try Data(contentsOf: root.appendingPathComponent(file))), file: file)
        }
        return try ConfigLoader.check(sources, name: files.joined(separator: ", ")).get()
    }

    /// The board's adapter, with the MAC the lab's board network names.
    static let boardDevice = Link(name: "enx00e04c680001", up: true, mac: "00:e0:4c:68:00:01")

    /// `moat plan` of the lab configuration on `live` and `moat destroy --all` of it (`Lab.plan`).
    static func labPlan(on live: HostState) throws {
        let config = try labConfig()
        let placement = Placement.place(config, on: live)
        let placed = placement.config
        let context = DiffContext(live)
        let problems =
            placement.problems + Conflicts.find(config: placed, live: live)
            + SafetyRails.sharedInterfaces(config: placed, live: live, records: context.interfaceRecords)
        _ = live.digests(devices: Set(placed.networks.map(\.device.name)))
        if problems.isEmpty {
            let desired = DesiredState.render(placed, paths: paths, upstream: live.resolvers)
            var plan = Diff.plan(desired: desired, live: live, context: context, paths: paths)
            plan.steps += ConnectionCut.steps(config: placed, desired: desired, live: live)
            plan.warnings = SafetyRails.warnings(config: placed, live: live)
            _ = plan.humanText(color: true, operations: paths)
        }
        var leaving = DiffContext(live, leaving: "moat destroy --all")
        leaving.code = .destroy
        leaving.restartDnsmasq = []
        _ = Diff.plan(desired: live.without(networks: Set(live.networks.keys)), live: live, context: leaving, paths: paths)
            .humanText(color: false, operations: paths)
    }

    static let targets: [String: @Sendable ([UInt8]) throws -> Void] = [
        "config": { bytes in
            let check = ConfigLoader.check(bytes: bytes, file: "fuzz.yaml")
            _ = check.printed(check.diagnostics, color: true) + check.summary + check.jsonReport + DiagnosticPrinter.github(check.diagnostics)
            guard let config = check.config else {
                #expect(!check.errors.isEmpty, "an invalid file without an error")
                return
            }
            var renderable = config
            renderable.networks.removeAll { if case .interfaceWithMAC = $0.device { true } else { false } }
            _ = Render(renderable, paths: paths, upstream: ["192.0.2.53"]).text
            let live = HostState()
            let placed = Placement.place(config, on: live).config
            _ = Conflicts.find(config: placed, live: live)
            let plan = Diff.plan(desired: DesiredState.render(placed, paths: paths), live: live, paths: paths)
            _ = plan.humanText(color: false, operations: paths)
            let saved = SavedPlan(
                plan: plan, arguments: ["/etc/moat/moat.yaml"], files: [.init(path: "/etc/moat/moat.yaml", text: text(bytes))],
                host: .init(hostname: "fuzz", machineID: "0"), live: live, config: placed, paths: paths, moatVersion: "0.0.0")
            #expect((try? SavedPlan(parsing: saved.text, from: "fuzz.plan")) == saved)
        },
        "ip-addr": { bytes in
            let links: [Link]
            do {
                links = try parseIPAddr(json: text(bytes))
            } catch {
                #expect(error is MoatError)
                return
            }
            #expect(Snapshot.devicesToInspect(links: links).allSatisfy { !$0.isEmpty && !$0.contains("/") && $0 != "." && $0 != ".." })
            try labPlan(on: Snapshot.assemble(Snapshot.Facts(links: links)))
        },
        "ip-route": { bytes in
            let routes: [Route]
            do {
                routes = try parseRoutes(json: text(bytes))
            } catch {
                #expect(error is MoatError)
                return
            }
            try labPlan(on: Snapshot.assemble(Snapshot.Facts(routes: routes)))
        },
        "iptables-save": { bytes in
            let dump = IptablesBackend.parseSave(text(bytes))
            for rule in Array(dump.chains.values.joined()) + dump.jumps.values.joined() {
                #expect(IptablesBackend.parseRule(IptablesBackend.text(of: rule)) == rule)
            }
            try labPlan(on: Snapshot.assemble(Snapshot.Facts(firewall: dump)))
        },
        "leases": { bytes in
            let device = DeviceState(name: "virbr10", owned: true, addresses: [], arp: .strict)
            let live = HostState(networks: ["lab": NetworkState(name: "lab", device: device)])
            let report = Status.report(
                live: live, config: nil, file: nil, paths: paths, leases: ["lab": parseLeases(text(bytes))], pidFiles: [:],
                now: 1_750_000_000)
            _ = report.humanText(color: false, leases: true, now: 1_750_000_000, timeZone: try #require(TimeZone(identifier: "UTC")))
            _ = report.json(leases: true)
        },
        "pid-cmdline": { bytes in
            if let pid = Snapshot.parsePid(text(bytes)) { #expect(pid > 0) }
            _ = Snapshot.isDnsmasq(cmdline: text(bytes), config: paths.dnsmasqConfig("lab"))
            _ = Snapshot.isMoat(cmdline: text(bytes))
        },
        "listeners": { bytes in
            for table in Listeners.tables {
                for socket in Listeners.parseProcNet(text(bytes), proto: table.proto, ipv6: table.ipv6) {
                    #expect((0...65535).contains(socket.port))
                    _ = socket.description
                }
            }
            _ = Listeners.socketInode(link: text(bytes))
            if let comm = Listeners.parseComm(text(bytes)) {
                #expect(comm.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F })
            }
        },
        "resolv-conf": { bytes in
            let resolvers = DnsmasqConfig.upstream(resolvConf: text(bytes))
            let config = Placement.place(try labConfig(), on: Snapshot.assemble(Snapshot.Facts(links: [boardDevice]))).config
            let dnsmasq = DesiredState.render(config, paths: paths, upstream: resolvers).networks["lab"]?.dnsmasq?.config ?? ""
            let servers = dnsmasq.split(separator: "\n").filter { $0.hasPrefix("server=") }.map { String($0.dropFirst("server=".count)) }
            #expect(servers == resolvers, "one server= line per resolver")
        },
        "journal": { bytes in
            guard let journal = Journal(parsing: text(bytes)) else { return }
            _ = journal.interruptedMessage + journal.text
            try labPlan(on: Snapshot.assemble(Snapshot.Facts(journal: journal, journalInterrupted: true)))
        },
        "interface-record": { bytes in
            guard let record = try? InterfaceRecord(parsing: text(bytes)) else { return }
            _ = record.text
            try labPlan(on: Snapshot.assemble(Snapshot.Facts(links: [boardDevice], files: ["board": Snapshot.NetworkFiles(record: record)])))
        },
        "conntrack": { bytes in
            let config = Placement.place(try labConfig(), on: Snapshot.assemble(Snapshot.Facts(links: [boardDevice]))).config
            let doomed = ConnectionCut.toCut(
                Conntrack.parse(text(bytes)), config: config, tightened: Set(config.networks.map(\.name)),
                local: DesiredState.render(config, paths: paths).localAddresses)
            #expect(doomed.allSatisfy { $0.deleteArguments.allSatisfy { !$0.isEmpty && !$0.contains(" ") } })
        },
        "saved-plan": { bytes in
            _ = SavedPlan.looksLikePlan(String(decoding: bytes.prefix(4096), as: UTF8.self))
            guard let text = String(data: Data(bytes), encoding: .utf8) else { return }
            let plan: SavedPlan
            do {
                plan = try SavedPlan(parsing: text, from: "fuzz.plan")
            } catch {
                #expect(!"\(error)".isEmpty)
                return
            }
            _ = plan.humanText(color: true)
            _ = ConfigLoader.check(plan.sources, name: plan.files.map(\.path).joined(separator: ", ")).summary
        },
    ]
}
