import Foundation
import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport

/// Golden diff cases, one folder each under `Fixtures/diff/<case>/` (the shape of nmstate's
/// `gen_diff_test_files/<case>/{current,desired,diff}`):
///
/// - `config.yaml`: the file;
/// - `live/`: the host as `capture.sh` found it in a real namespace: the snapshot's three
///   command outputs, `ip_forward`, `disable_ipv6` (`<device> <0|1>` lines), `arp`
///   (`<device> <arp_ignore> <arp_announce>` lines), `pids` (networks
///   whose dnsmasq was alive), `state/` (moat's state dir) and, when the case leaves one,
///   `journal.json` (the run dir's journal);
/// - `mode` (optional): `destroy` plans `destroy --all` instead of `plan`;
/// - `plan.txt` and `plan.json`: the expected plan, as `moat plan` and `moat plan --json` print it.
///
/// The live host is read by the real `Snapshot.read` (parsers, file reads, `assemble`) from a
/// host made of the folder; the plan is made as `moat plan` (`Reconciler.plan`) and
/// `moat destroy --all` make it.
/// `MOAT_RECORD=1` re-records `plan.txt` and `plan.json` into the source tree.
@Suite("Diff cases: a config and a captured host give the expected plan")
struct DiffCaseTests {
    @Test("the plan of each case is its plan.txt and plan.json", arguments: DiffCase.names)
    func plan(_ name: String) async throws {
        let diffCase = try DiffCase(name: name)
        let plan = try await diffCase.plan()
        let outputs = ["plan.txt": plan.humanText(color: false), "plan.json": plan.json(paths: DiffCase.paths)]
        if Golden.recording {
            try diffCase.record(outputs)
            return
        }
        for (file, actual) in outputs.sorted(by: { $0.key < $1.key }) {
            let expected = try diffCase.expected(file)
            guard expected != actual else { continue }
            Issue.record(
                """
                \(name)/\(file) differs (- expected, + actual; MOAT_RECORD=1 re-records):
                \(lineDiff(expected: expected ?? "", actual: actual))
                """)
        }
    }

    @Test("no case's plan touches anything but moat's own objects", arguments: DiffCase.names)
    func onlyMoatObjects(_ name: String) async throws {
        let diffCase = try DiffCase(name: name)
        let live = try await diffCase.live()
        let plan = try await diffCase.plan()
        // Devices moat may act on: its bridges, and interfaces that networks (will) configure.
        let desired = try diffCase.desired(live: live)
        var devices = Set(live.networks.values.map(\.device.name))
        devices.formUnion(desired.networks.values.map(\.device.name))
        for operation in plan.steps.flatMap(\.operations) {
            switch operation {
            case .writeChain(let chain, _), .deleteChain(let chain):
                #expect(chain.name.hasPrefix(Mark.chainPrefix), "\(name): \(operation) is not on one of moat's chains")
            case .replaceJumps(_, let old, let new):
                for rule in old + new {
                    let intoMoat = if case .jump(let chain) = rule.verdict { chain.hasPrefix(Mark.chainPrefix) } else { false }
                    #expect(rule.owner == .shared && intoMoat, "\(name): \(rule) is not one of moat's jumps")
                }
            case .link(let command):
                // `... dev D ...` or `link add name D ...`.
                let words = command.batchLine.split(separator: " ").map(String.init)
                let device = zip(words, words.dropFirst()).first { $0.0 == "dev" || $0.0 == "name" }?.1 ?? ""
                #expect(devices.contains(device), "\(name): `\(command.batchLine)` touches \(device), not moat's")
            case .deleteBridge(let device):
                #expect(devices.contains(device), "\(name): deletes \(device), not moat's")
            case .disableIPv6(let device, _):
                #expect(devices.contains(device), "\(name): IPv6 of \(device), not moat's")
            case .setARP(let device, _):
                #expect(devices.contains(device), "\(name): ARP of \(device), not moat's")
            default:
                break
            }
        }
    }

    /// The plan text does not show it, but `destroy` gives the device back from this record:
    /// a device whose IPv6 the user had turned off must not get it turned on by moat.
    @Test(
        "claiming an interface records its IPv6 and ARP settings as found",
        arguments: ["interface": false, "interface-ipv6-off": true])
    func interfaceRecord(_ name: String, ipv6WasDisabled: Bool) async throws {
        let plan = try await DiffCase(name: name).plan()
        let records = plan.steps.flatMap(\.operations).compactMap { operation -> InterfaceRecord? in
            if case .writeInterfaceRecord(network: "board", let record) = operation { record } else { nil }
        }
        #expect(
            records == [
                InterfaceRecord(
                    device: "veth-board", address: "10.20.0.1/24", hadAddress: false, wasUp: true,
                    ipv6WasDisabled: ipv6WasDisabled, arpWas: .kernelDefault)
            ])
        let sysctls = plan.steps.flatMap(\.operations).filter { if case .disableIPv6 = $0 { true } else { false } }
        #expect(sysctls == (ipv6WasDisabled ? [] : [.disableIPv6(device: "veth-board", true)]))
    }

    @Test("the cases the diff must get right are all there")
    func casesPresent() {
        let required: Set = [
            "empty", "converged", "lost-rule", "dnsmasq-dead", "address-flushed", "hosts-changed", "range-changed",
            "pruned", "foreign-objects", "duplicate-jump", "interface", "ip-forward-restore", "forwards-changed", "allow-changed",
            "block-changed", "lease-changed", "drift-and-file", "interrupted",
        ]
        #expect(
            required.subtracting(DiffCase.names).isEmpty,
            "missing cases: \(required.subtracting(DiffCase.names).sorted())")
    }
}

/// One folder of `Fixtures/diff`.
struct DiffCase {
    /// The paths `capture.sh` gave moat, so the dnsmasq configs it wrote are what `render` gives.
    static let paths = Paths(stateDir: "/tmp/moat-diff/state", runDir: "/tmp/moat-diff/run")
    /// The resolver `capture.sh` put in the namespace's resolv.conf.
    static let upstream = ["203.0.113.53"]

    static var bundled: URL? {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)?.appendingPathComponent(
            "diff", isDirectory: true)
    }

    /// Every case folder, by name.
    static let names: [String] = {
        guard let root = bundled, let entries = try? FileManager.default.contentsOfDirectory(atPath: root.path) else {
            return []
        }
        return entries.filter { entry in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(
                atPath: root.appendingPathComponent(entry).path, isDirectory: &isFolder) && isFolder.boolValue
        }.sorted()
    }()

    let name: String
    let folder: URL

    init(name: String) throws {
        self.name = name
        self.folder = try #require(Self.bundled).appendingPathComponent(name, isDirectory: true)
    }

    func text(_ relative: String) throws -> String? {
        let url = folder.appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try String(contentsOf: url, encoding: .utf8)
    }

    func expected(_ file: String) throws -> String? { try text(file) }

    var destroys: Bool {
        get throws { try text("mode")?.trimmingCharacters(in: .whitespacesAndNewlines) == "destroy" }
    }

    /// The host the folder describes, read the way `moat plan` reads a real one.
    func live() async throws -> HostState {
        let host = try FixtureHost(folder: folder.appendingPathComponent("live", isDirectory: true), paths: Self.paths)
        return try await Snapshot.read(host.host, paths: Self.paths)
    }

    /// What the case wants: the file rendered (`plan`), or the host without its networks (`destroy --all`).
    func desired(live: HostState) throws -> HostState {
        if try destroys { return live.without(networks: Set(live.networks.keys)) }
        let config = try ConfigLoader.load(text: try #require(try text("config.yaml")), file: "\(name)/config.yaml")
        let conflicts = Conflicts.find(config: config, live: live)
        #expect(conflicts.isEmpty, "\(name): the host is in the way of the file: \(conflicts)")
        return DesiredState.render(config, paths: Self.paths, upstream: Self.upstream)
    }

    /// The plan, as `moat plan` (conflicts, the rendered file, the diff, the connection cut)
    /// or `moat destroy --all` make it, from the snapshot of the folder's host (its kept
    /// ip_forward value and interface records included).
    func plan() async throws -> Plan {
        let host = try FixtureHost(folder: folder.appendingPathComponent("live", isDirectory: true), paths: Self.paths)
        let live = try await live()
        let reconciler = Reconciler(system: host.host, paths: Self.paths, progress: { _ in })
        guard try destroys else {
            let config = try ConfigLoader.load(text: try #require(try text("config.yaml")), file: "\(name)/config.yaml")
            return try reconciler.plan(config: config, live: live).plan
        }
        return try reconciler.prepare(.destroy(nil), live: live).plan
    }

    /// Writes `files` into the case's folder in the source tree.
    func record(_ files: [String: String], filePath: String = #filePath) throws {
        let source = URL(fileURLWithPath: filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/diff/\(name)", isDirectory: true)
        for (file, text) in files {
            try text.write(to: source.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
    }

}

/// A host made of a captured `live/` folder: its files at the paths moat reads them from, and
/// the snapshot's commands answered with the captured output. Read-only.
struct FixtureHost {
    /// Host path → content.
    let contents: [String: String]
    let outputs: [[String]: String]

    init(folder: URL, paths: Paths) throws {
        func read(_ file: String) throws -> String {
            try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        }
        outputs = [
            ["ip", "-j", "-d", "addr", "show"]: try read("ip-addr.json"),
            ["ip", "-j", "route", "show"]: try read("ip-route.json"),
            ["iptables-save"]: try read("iptables-save.txt"),
        ]
        var contents: [String: String] = [
            "/proc/sys/net/ipv4/ip_forward": try read("ip_forward"),
            "/etc/resolv.conf": DiffCase.upstream.map { "nameserver \($0)\n" }.joined(),
        ]
        for line in try read("disable_ipv6").split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count == 2 else { throw MoatError("live/disable_ipv6: cannot read '\(line)'") }
            contents["/proc/sys/net/ipv6/conf/\(words[0])/disable_ipv6"] = "\(words[1])\n"
        }
        for line in try read("arp").split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count == 3 else { throw MoatError("live/arp: cannot read '\(line)'") }
            contents["/proc/sys/net/ipv4/conf/\(words[0])/arp_ignore"] = "\(words[1])\n"
            contents["/proc/sys/net/ipv4/conf/\(words[0])/arp_announce"] = "\(words[2])\n"
        }
        if let journal = try? read("journal.json") { contents[paths.journal] = journal }
        // Alive dnsmasqs get a pid file, and a /proc/PID/cmdline as moat starts them.
        let alive = try read("pids").split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        for (index, network) in alive.enumerated() {
            let pid = 4000 + index
            contents[paths.dnsmasqPidFile(network)] = "\(pid)\n"
            contents["/proc/\(pid)/cmdline"] = "/usr/sbin/dnsmasq\0--conf-file=\(paths.dnsmasqConfig(network))\0"
        }
        let state = folder.appendingPathComponent("state", isDirectory: true)
        if let walker = FileManager.default.enumerator(at: state, includingPropertiesForKeys: [.isRegularFileKey]) {
            let prefix = state.standardizedFileURL.path + "/"
            for case let url as URL in walker
            where (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
                let relative = String(url.standardizedFileURL.path.dropFirst(prefix.count))
                contents["\(paths.stateDir)/\(relative)"] = try String(contentsOf: url, encoding: .utf8)
            }
        }
        self.contents = contents
    }

    /// Answers the snapshot's commands with the captured output; nothing is ever executed.
    /// A case captured without `nft` is a host without nftables.
    var host: FakeHost {
        let outputs = outputs
        return FakeHost(files: contents) { argv, _ in
            guard let output = outputs[argv] else {
                if Snapshot.nftCommands.contains(argv) { return CommandResult(status: 127, stderr: "nft: not found") }
                return CommandResult(status: 1, stderr: "not captured: \(argv.joined(separator: " "))")
            }
            return CommandResult(status: 0, stdout: output)
        }
    }
}
