import Foundation
import MoatConfig
import MoatCore

/// One thing moat reads, driven as moat drives it: the input parsed as the file or output it
/// stands for, then printed, planned for or checked as the command that reads it does. A
/// target returns for any input a parser may refuse; it throws a `FuzzFinding` when a
/// property every input must satisfy does not hold, and a crash is a finding by itself.
///
/// The fuzzer (`Fuzz/`, `make fuzz`) runs these under libFuzzer; FuzzRegressionTests runs
/// the inputs it once failed on (`Fuzz/regressions/<target>/`) through the same functions.
public struct FuzzTarget: Sendable {
    public let name: String
    public let run: @Sendable ([UInt8]) throws -> Void

    /// Every target, by the name its corpus and regressions folder have.
    public static let all: [String: FuzzTarget] = Dictionary(
        uniqueKeysWithValues: [
            config, ipAddr, ipRoute, iptablesSave, leases, pidCmdline, listeners, resolvConf, journal, interfaceRecord,
            savedPlan, conntrack, nftRuleset,
        ].map { ($0.name, $0) })
}

/// A property broken by an input: a wrong answer, not only a trap.
public struct FuzzFinding: Error, CustomStringConvertible {
    public let description: String
}

/// Throws a `FuzzFinding` saying `message` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw FuzzFinding(description: "fuzz property broken: \(message())") }
}

/// Where results go so the optimizer cannot drop the work that made them.
nonisolated(unsafe) private var sink = 0

/// Keeps `value`: hashes it into `sink`, which walks all of it.
@inline(never)
func keep<T: Hashable>(_ value: T) {
    sink ^= value.hashValue
}

/// The bytes as moat's host seam hands over a file or a command's output: UTF-8, each invalid
/// byte replaced (`LocalSystem.read`, `SystemRunner`).
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

extension FuzzTarget {
    /// A moat file as `moat validate FILE` reads it (`ConfigLoader.check(bytes:file:)`: size,
    /// UTF-8, NUL, YAML, every rule) and prints it (compiler style, JSON, GitHub annotations).
    /// A valid file goes on as `moat render` and `moat plan` on an empty host take it, and its
    /// saved plan must read back as itself (else `moat apply PLANFILE` refuses what `plan` wrote).
    static let config = FuzzTarget(name: "config") { bytes in
        let check = ConfigLoader.check(bytes: bytes, file: "fuzz.yaml")
        keep(check.printed(check.diagnostics, color: true))
        keep(check.summary)
        keep(check.jsonReport)
        keep(DiagnosticPrinter.github(check.diagnostics))
        guard let config = check.config else {
            try require(!check.errors.isEmpty, "an invalid file without an error")
            return
        }
        var renderable = config
        renderable.networks.removeAll { if case .interfaceWithMAC = $0.device { true } else { false } }
        keep(Render(renderable, paths: Lab.paths, upstream: ["192.0.2.53"]).text)

        let saved = Lab.savedPlan(of: config, text: text(bytes), path: "/etc/moat/moat.yaml")
        try require((try? SavedPlan(parsing: saved.text, from: "fuzz.plan")) == saved, "the saved plan of a valid file does not read back")
    }

    /// The output of `ip -j -d addr show` as the snapshot reads it (`parseIPAddr(json:)`), the
    /// devices whose /proc files it then reads, and the host those links make, planned for.
    static let ipAddr = FuzzTarget(name: "ip-addr") { bytes in
        let links: [Link]
        do {
            links = try parseIPAddr(json: text(bytes))
        } catch {
            try require(error is MoatError, "parseIPAddr threw \(type(of: error)), not a MoatError")
            return
        }
        let devices = Snapshot.devicesToInspect(links: links)
        // Each name goes into a /proc path.
        try require(
            devices.allSatisfy { !$0.isEmpty && !$0.contains("/") && $0 != "." && $0 != ".." }, "a device name leaves its folder: \(devices)")
        Lab.plan(on: Snapshot.assemble(Snapshot.Facts(links: links)))
    }

    /// The output of `ip -j route show` as the snapshot reads it (`parseRoutes(json:)`), and the
    /// host those routes make, planned for (the conflict checks read the routes).
    static let ipRoute = FuzzTarget(name: "ip-route") { bytes in
        let routes: [Route]
        do {
            routes = try parseRoutes(json: text(bytes))
        } catch {
            try require(error is MoatError, "parseRoutes threw \(type(of: error)), not a MoatError")
            return
        }
        Lab.plan(on: Snapshot.assemble(Snapshot.Facts(routes: routes)))
    }

    /// The output of `iptables-save` as the snapshot reads it (`IptablesBackend.parseSave`), and
    /// the host those chains and jumps make, planned for. Every rule read must print back as the
    /// text it was read from (a typed rule only when it renders so, else opaque).
    static let iptablesSave = FuzzTarget(name: "iptables-save") { bytes in
        let dump = IptablesBackend.parseSave(text(bytes))
        for rule in Array(dump.chains.values.joined()) + dump.jumps.values.joined() {
            let line = IptablesBackend.text(of: rule)
            try require(IptablesBackend.parseRule(line) == rule, "a rule does not read back from its text: \(line)")
        }
        Lab.plan(on: Snapshot.assemble(Snapshot.Facts(firewall: dump)))
    }

    /// A dnsmasq lease file as `moat status --leases` reads it (`parseLeases`) and prints it, as
    /// text and as JSON.
    static let leases = FuzzTarget(name: "leases") { bytes in
        let device = DeviceState(name: "virbr10", owned: true, addresses: [], arp: .strict)
        let live = HostState(networks: ["lab": NetworkState(name: "lab", device: device)])
        let now = 1_750_000_000
        let report = Status.report(
            live: live, config: nil, file: nil, paths: Lab.paths, leases: ["lab": parseLeases(text(bytes))], pidFiles: [:], now: now)
        keep(report.humanText(color: false, leases: true, now: now, timeZone: Lab.utc))
        keep(report.json(leases: true))
    }

    /// A pid file (`Snapshot.parsePid`, for dnsmasq's pid files) and a `/proc/PID/cmdline`
    /// (`Snapshot.isDnsmasq(cmdline:config:)` for dnsmasq's, `Snapshot.isMoat(cmdline:)` for the
    /// journal's writer), the input read as either.
    static let pidCmdline = FuzzTarget(name: "pid-cmdline") { bytes in
        let text = text(bytes)
        if let pid = Snapshot.parsePid(text) { try require(pid > 0, "a pid file names pid \(pid)") }
        keep(Snapshot.isDnsmasq(cmdline: text, config: Lab.paths.dnsmasqConfig("lab")))
        keep(Snapshot.isMoat(cmdline: text))
    }

    /// A `/proc/net/{tcp,tcp6,udp,udp6}` table as the port-forward safety rail reads it
    /// (`Listeners.parseProcNet`, the input as each of the four), a `/proc/PID/fd` link
    /// (`socketInode`) and a `/proc/PID/comm` (`parseComm`).
    static let listeners = FuzzTarget(name: "listeners") { bytes in
        let text = text(bytes)
        for table in Listeners.tables {
            for socket in Listeners.parseProcNet(text, proto: table.proto, ipv6: table.ipv6) {
                try require((0...65535).contains(socket.port), "port \(socket.port)")
                keep(socket.description)
            }
        }
        keep(Listeners.socketInode(link: text))
        if let comm = Listeners.parseComm(text) {
            try require(comm.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }, "comm keeps a control character")
        }
    }

    /// /etc/resolv.conf as the snapshot reads it (`DnsmasqConfig.upstream(resolvConf:)`), and the
    /// `server=` lines a `nat` network's dnsmasq config gets from it: one line per resolver, so
    /// nothing in the file can add a line of its own to dnsmasq's config.
    static let resolvConf = FuzzTarget(name: "resolv-conf") { bytes in
        let resolvers = DnsmasqConfig.upstream(resolvConf: text(bytes))
        let desired = DesiredState.render(Lab.placed, paths: Lab.paths, upstream: resolvers)
        let config = desired.networks["lab"]?.dnsmasq?.config ?? ""
        let servers = config.split(separator: "\n").filter { $0.hasPrefix("server=") }.map { String($0.dropFirst("server=".count)) }
        try require(servers == resolvers, "resolvers \(resolvers) became the lines \(servers)")
    }

    /// The run dir's journal.json as the snapshot reads it (`Journal(parsing:)`), the message the
    /// next run prints about it, and the host with it, planned for.
    static let journal = FuzzTarget(name: "journal") { bytes in
        guard let journal = Journal(parsing: text(bytes)) else { return }
        keep(journal.interruptedMessage)
        keep(journal.text)
        Lab.plan(on: Snapshot.assemble(Snapshot.Facts(journal: journal, journalInterrupted: true)))
    }

    /// A network's interface.json as the snapshot reads it (`InterfaceRecord(parsing:)`), and the
    /// host with that record: planned for with the lab file, and destroyed (the record is what
    /// `destroy` puts the device back from).
    static let interfaceRecord = FuzzTarget(name: "interface-record") { bytes in
        guard let record = try? InterfaceRecord(parsing: text(bytes)) else { return }
        keep(record.text)
        Lab.plan(on: Snapshot.assemble(Snapshot.Facts(links: [Lab.boardDevice], files: ["board": Snapshot.NetworkFiles(record: record)])))
    }

    /// A plan file as `moat show` and `moat apply PLANFILE` read it: told from a config by its
    /// start (`looksLikePlan`), refused unless UTF-8, read as untrusted input
    /// (`SavedPlan(parsing:from:)`), printed, and its embedded files checked as the apply does.
    static let savedPlan = FuzzTarget(name: "saved-plan") { bytes in
        keep(SavedPlan.looksLikePlan(String(decoding: bytes.prefix(4096), as: UTF8.self)))
        guard let text = String(data: Data(bytes), encoding: .utf8) else { return }
        let plan: SavedPlan
        do {
            plan = try SavedPlan(parsing: text, from: "fuzz.plan")
        } catch {
            keep("\(error)")
            return
        }
        keep(plan.humanText(color: true))
        keep(ConfigLoader.check(plan.sources, name: plan.files.map(\.path).joined(separator: ", ")).summary)
    }

    /// `conntrack -L` output as an apply that tightened a network's rules reads it
    /// (`Conntrack.parse`), what of it the lab configuration's rules would not admit
    /// (`ConnectionCut.toCut`), and the `conntrack -D` argv that deletes each such entry.
    static let conntrack = FuzzTarget(name: "conntrack") { bytes in
        let doomed = ConnectionCut.toCut(
            Conntrack.parse(text(bytes)), config: Lab.placed, tightened: Set(Lab.placed.networks.map(\.name)),
            local: Lab.localAddresses)
        for connection in doomed {
            let argv = connection.deleteArguments
            // Each value is one argument: nothing read may add an option of its own.
            try require(argv.allSatisfy { !$0.isEmpty && !$0.contains(" ") }, "conntrack -D argv \(argv)")
            keep(argv)
        }
    }
}

extension FuzzTarget {
    /// An nft JSON listing as the snapshot reads it (`NftablesBackend.parseRuleset`; the
    /// snapshot's two listings are read as one list of objects), and the host those chains
    /// make, planned for. What it
    /// reads goes back into an `nft -f` transaction when a rollback writes the table as it
    /// was, so every rule must render on one line of its own, and the table be the one
    /// block it opens.
    static let nftRuleset = FuzzTarget(name: "nft-ruleset") { bytes in
        let dump = NftablesBackend.parseRuleset(json: text(bytes))
        for (chain, rules) in dump.chains {
            try require(chain.backend == .nftables, "a chain of nft's read as \(chain.backend)'s")
            for rule in rules {
                let line = NftablesBackend.text(of: rule, in: chain.table)
                // nft reads an opaque rule's `#` line as a comment to its end; anything else it reads as a rule.
                try require(!line.contains("\n") && !line.contains("\r"), "a rule breaks its line: \(line)")
                // Outside its quoted strings (which hold no quote: `isSafeComment`), a `;` would end the rule.
                let unquoted = line.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 0 }
                try require(
                    rule.opaque.map { $0.hasPrefix("# ") } ?? !unquoted.contains { $0.element.contains(";") },
                    "a rule nft would read as more than one: \(line)")
            }
        }
        // Outside quoted strings and `#` comments, the table's braces balance: it is one block.
        let table = NftablesBackend.table(dump.chains).split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
            .joined(separator: "\n").split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 0 }
            .map(\.element).joined()
        try require(table.filter { $0 == "{" }.count == table.filter { $0 == "}" }.count, "the table's braces do not balance")
        Lab.plan(on: Snapshot.assemble(Snapshot.Facts(nftables: dump)))
    }
}
