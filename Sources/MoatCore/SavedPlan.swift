import Foundation
import MoatConfig

/// A plan saved by `moat plan --out PLANFILE`, for `moat show` and `moat apply PLANFILE`: what
/// a reviewer approved, with what it was computed from, so that `apply` runs exactly it or
/// nothing (SPEC §4).
///
/// It holds the files it was made from (the paths given, and each file's path, text and
/// digest), the host it was made on, a digest
/// of each of moat's networks and of what they share as the host showed them, and the steps
/// with every command, rule and file line. `apply PLANFILE` validates it as untrusted input,
/// reads the host again and plans the embedded files again; it applies the new plan only when
/// all of that is unchanged, so a plan file can never make moat run anything that planning
/// its files would not.
public struct SavedPlan: Codable, Hashable, Sendable {
    /// The format of this document; a reader refuses any other.
    public static let currentFormat = 2
    public static let kindName = "moat-plan"
    /// Plan files are a few hundred KiB at 250 networks; anything far bigger is not one.
    public static let maxSize = 64 << 20

    public var kind: String
    public var formatVersion: Int
    public var moatVersion: String
    /// What the plan is for: `apply` (the file's networks) only, for now.
    public var command: String
    public var host: HostIdentity
    /// The files and directories given to `plan`, made absolute; empty for the default
    /// configuration. They are looked into again at apply, so a file added to a directory
    /// since makes the plan stale.
    public var arguments: [String]
    /// Each file of the configuration, in the order read.
    public var files: [SavedFile]
    public var stateDir: String
    public var runDir: String
    /// A digest of each of moat's networks on the host (`HostState.digests`), and of what
    /// they share (`*`): devices, rules, dnsmasq processes and files, records, and what the
    /// conflict checks read.
    public var live: [String: String]
    public var summary: SavedSummary
    public var steps: [SavedStep]
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case kind, command, host, arguments, files, live, summary, steps, warnings
        case formatVersion = "format_version"
        case moatVersion = "moat_version"
        case stateDir = "state_dir"
        case runDir = "run_dir"
    }

    /// The machine a plan was made on.
    public struct HostIdentity: Codable, Hashable, Sendable, CustomStringConvertible {
        public var hostname: String
        /// /etc/machine-id.
        public var machineID: String
        public init(hostname: String, machineID: String) {
            self.hostname = hostname
            self.machineID = machineID
        }
        enum CodingKeys: String, CodingKey {
            case hostname
            case machineID = "machine_id"
        }
        public var description: String { "\(hostname) (machine-id \(machineID))" }
    }

    /// A file the plan was made from, as it was then.
    public struct SavedFile: Codable, Hashable, Sendable {
        /// As given to `plan`, made absolute.
        public var path: String
        public var sha256: String
        public var text: String
        public init(path: String, text: String) {
            self.path = path
            self.text = text
            self.sha256 = SHA256.hex(text)
        }
    }

    public struct SavedSummary: Codable, Hashable, Sendable {
        public var add: Int
        public var change: Int
        public var destroy: Int
        public var shared: [String]
    }

    public struct SavedStep: Codable, Hashable, Sendable {
        public var network: String?
        public var object: String
        public var action: String
        public var reason: String
        public var code: String
        /// What differs, in the file's terms (`Change.description`).
        public var changes: [String]
        /// Every command, rule and file write of the step (`Operation.lines`).
        public var operations: [String]
    }

    /// The plan of `plan`, as it will be saved.
    public init(
        plan: Plan, command: String = "apply", arguments: [String], files: [SavedFile], host: HostIdentity, live: HostState,
        config: Config, paths: Paths, moatVersion: String
    ) {
        self.kind = Self.kindName
        self.formatVersion = Self.currentFormat
        self.moatVersion = moatVersion
        self.command = command
        self.host = host
        self.arguments = arguments
        self.files = files
        self.stateDir = paths.stateDir
        self.runDir = paths.runDir
        self.live = live.digests(devices: Set(config.networks.map(\.device.name)))
        self.summary = SavedSummary(
            add: plan.summary.add, change: plan.summary.change, destroy: plan.summary.destroy, shared: plan.summary.shared)
        self.steps = plan.steps.map { step in
            SavedStep(
                network: step.network, object: step.subject.description, action: step.action.rawValue, reason: step.reason,
                code: step.code.rawValue, changes: step.changes.map(\.description),
                operations: step.operations.flatMap { $0.lines(paths: paths) })
        }
        self.warnings = plan.warnings
    }

    /// The document as moat writes it: pretty-printed, keys sorted.
    public var text: String { JSONText.write(self, pretty: true) }

    /// Whether `text` is a saved plan rather than a config file (the two are told apart by
    /// content: a JSON object naming itself a moat plan).
    public static func looksLikePlan(_ text: String) -> Bool {
        let start = text.drop { $0.isWhitespace }
        return start.hasPrefix("{") && text.contains("\"kind\"") && text.contains("\"\(kindName)\"")
    }

    /// Reads a plan file, as untrusted input: its size, its kind and format, every field,
    /// and that it is byte for byte what moat wrote (a hand edit, even of the layout, is
    /// refused: the plan is either exactly what was reviewed or nothing).
    public init(parsing text: String, from path: String) throws(MoatError) {
        guard text.utf8.count <= Self.maxSize else {
            throw MoatError("\(path) is larger than \(Self.maxSize) bytes; it is not a moat plan")
        }
        let plan: SavedPlan
        do {
            plan = try JSONDecoder().decode(SavedPlan.self, from: Data(text.utf8))
        } catch {
            throw MoatError("\(path) is not a moat plan: \(Self.describe(error))")
        }
        guard plan.kind == Self.kindName else { throw MoatError("\(path) is not a moat plan (kind \(plan.kind))") }
        guard plan.formatVersion == Self.currentFormat else {
            throw MoatError(
                "\(path) is a plan of format \(plan.formatVersion); this moat reads format \(Self.currentFormat): make the plan again with this moat")
        }
        guard plan.command == "apply" else { throw MoatError("\(path): a plan for `\(plan.command)` cannot be applied") }
        guard !plan.files.isEmpty, (plan.arguments + plan.files.map(\.path)).allSatisfy({ $0.hasPrefix("/") }) else {
            throw MoatError("\(path) is not a moat plan: it names no file, or a file by a relative path")
        }
        guard plan.text == text else {
            throw MoatError("\(path) was changed after moat saved it; a saved plan is applied exactly as it was reviewed, or not at all: make it again")
        }
        self = plan
    }

    /// The saved files, as the config loader reads them.
    public var sources: [ConfigSource] { files.map { ConfigSource(file: $0.path, text: $0.text) } }

    /// What differs between this plan and `now`, the plan made again on this host from the
    /// same files: each difference a line, empty when the plan still holds.
    public func staleness(comparedWith now: SavedPlan) -> [String] {
        var changes: [String] = []
        if host != now.host { changes.append("it was made on \(host), this host is \(now.host)") }
        if stateDir != now.stateDir || runDir != now.runDir {
            changes.append("it was made for --state-dir \(stateDir) --run-dir \(runDir), not \(now.stateDir) and \(now.runDir)")
        }
        for name in Set(live.keys).union(now.live.keys).sorted() where live[name] != now.live[name] {
            let what = name == "*" ? "what moat's networks share (rules, ip_forward, or the devices and routes the checks read)" : "network \(name)"
            switch (live[name], now.live[name]) {
            case (nil, _): changes.append("\(what) appeared on the host")
            case (_, nil): changes.append("\(what) is gone from the host")
            default: changes.append("\(what) changed on the host")
            }
        }
        if steps != now.steps {
            let old = Set(steps)
            let new = Set(now.steps)
            for step in steps where !new.contains(step) {
                changes.append("the step `\(step.network ?? "*") \(step.object): \(step.action)` would now be different or not needed")
            }
            for step in now.steps where !old.contains(step) {
                changes.append("a new step is needed: `\(step.network ?? "*") \(step.object): \(step.action) (\(step.reason))`")
            }
            if changes.isEmpty { changes.append("the steps would now run in another order") }
        }
        return changes
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "\(path(context.codingPath + [key])) is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "\(path(context.codingPath)): \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context):
            context.codingPath.isEmpty ? "not JSON" : "\(path(context.codingPath)): \(context.debugDescription)"
        default:
            "\(error)"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
    }
}

extension HostState {
    /// A digest of each of moat's networks as found (`name` → hex), and `*` for what they
    /// share: the shared chains and jumps, ip_forward and its kept value, and what the
    /// conflict checks read: routes, and foreign devices that hold an IPv4 address or carry a
    /// name in `devices`. Other software's devices without addresses (a container's veth)
    /// and rules are left out, so their coming and going does not make every plan stale.
    public func digests(devices: Set<String>) -> [String: String] {
        var digests: [String: String] = [:]
        for (name, network) in networks {
            var lines = [network.device.canonicalLine]
            for chain in network.chains.keys.sorted() {
                lines.append("chain \(chain)")
                lines += (network.chains[chain] ?? []).map(IptablesBackend.text(of:))
            }
            if let dnsmasq = network.dnsmasq {
                lines.append("dnsmasq pid \(dnsmasq.pid.map(String.init) ?? "-")")
                lines += [dnsmasq.config, dnsmasq.dhcpHosts, dnsmasq.hosts].map { "file \(SHA256.hex($0))" }
            }
            if let record = records.interfaces[name] { lines.append("record \(record.text)") }
            digests[name] = SHA256.hex(lines.joined(separator: "\n"))
        }
        var shared = ["ip_forward \(ipForward) kept \(records.ipForwardBefore.map { "\($0)" } ?? "-")"]
        for chain in sharedChains.keys.sorted() {
            shared.append("chain \(chain)")
            shared += (sharedChains[chain] ?? []).map(IptablesBackend.text(of:))
        }
        for builtin in jumps.keys.sorted() {
            shared.append("jumps \(builtin)")
            shared += (jumps[builtin] ?? []).map(IptablesBackend.text(of:))
        }
        for link in foreignLinks.values.sorted(by: { $0.name < $1.name }) where !link.addresses.isEmpty || devices.contains(link.name) {
            shared.append("link \(link.name) \(link.kind ?? "-") \(link.addresses.map(\.description).sorted().joined(separator: ","))")
        }
        shared += routes.map { "route \($0.destination.map(\.description) ?? "default") \($0.device ?? "-") \($0.gateway ?? "-")" }.sorted()
        digests["*"] = SHA256.hex(shared.joined(separator: "\n"))
        return digests
    }
}

extension DeviceState {
    var canonicalLine: String {
        "device \(name) owned \(owned) exists \(exists) up \(up) addresses \(addresses.map(\.description).sorted().joined(separator: ",")) ipv6off \(ipv6Disabled) \(arp)"
    }
}
