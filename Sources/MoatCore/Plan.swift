import MoatConfig

/// What `apply` or `destroy` will do: ordered steps, each saying what it changes and why.
public struct Plan: Hashable, Sendable {
    public var steps: [Step]
    /// Networks the plan brings, changes and removes (a change only to what all networks
    /// share counts as one change).
    public var summary: Summary
    /// What is legal but has no effect (an `allow` to one of the host's own addresses): for
    /// stderr and the JSON, never a step and no change of exit code.
    public var warnings: [String]
    /// `optional` networks whose device is not on the host: not a change, a note.
    public var waiting: [Placement.Waiting]
    /// The backend the plan writes rules with, and why; nil for a plan made without a file
    /// (destroy, a rollback).
    public var firewall: FirewallDecision?

    public init(steps: [Step] = [], summary: Summary = .init(), warnings: [String] = [], waiting: [Placement.Waiting] = []) {
        self.steps = steps
        self.summary = summary
        self.warnings = warnings
        self.waiting = waiting
    }

    public var isEmpty: Bool { steps.isEmpty }

    /// Whether any step changes firewall rules.
    public var changesFirewall: Bool { steps.contains { $0.operations.contains { $0.phase == .firewall } } }

    /// One change to one object of one network (or of moat as a whole when `network` is nil).
    public struct Step: Hashable, Sendable {
        public enum Action: String, Hashable, Sendable {
            case create, update, delete, restart, reload, start
            /// An existing device moat configures (`interface:`), or gives back as it was.
            case configure, release
            /// Terraform's marks: `+` add, `~` change, `-` remove.
            public var symbol: String {
                switch self {
                case .create, .start, .configure: "+"
                case .delete, .release: "-"
                case .update, .restart, .reload: "~"
                }
            }
        }

        public var network: String?
        /// What is changed.
        public var subject: Subject
        public var action: Action
        /// Why: `missing`, `not in the file`, `rule drifted in MOAT-FROM-lab: ...`.
        public var reason: String
        /// The concrete work, run by the executor in phases (see `Operation.phase`).
        public var operations: [Operation]
        /// What differs, in the file's terms (`+ forward tcp 22 → …`, `! changed outside moat: …`).
        public var changes: [Change]
        /// Why, as a word for programs (`missing`, `changed`, `drifted`, ...).
        public var code: Code

        /// Why a step is there, for programs.
        public enum Code: String, Hashable, Sendable {
            /// Not on the host: created, started, configured.
            case missing
            /// The file changed it.
            case changed
            /// Changed outside moat since the last apply; the step puts it back.
            case drifted
            /// On the host, not in the file (or no longer needed by it).
            case notInFile = "not-in-file"
            /// `destroy` removes it.
            case destroy
            /// A dnsmasq that should run does not.
            case notRunning = "not-running"
            /// The last run was interrupted: restarted to be sure.
            case interrupted
            /// Given back as it was before moat.
            case restore
            /// An `optional` network's device is gone: what is left of the network is removed.
            case waiting
            /// The rules now admit less: connections they would not admit are cut.
            case tightened
        }

        public init(
            network: String?, subject: Subject, action: Action, reason: String, operations: [Operation], changes: [Change] = [],
            code: Code = .changed
        ) {
            self.network = network
            self.subject = subject
            self.changes = changes
            self.code = code
            self.action = action
            self.reason = reason
            self.operations = operations
        }
    }

    /// What a step changes; `description` says it in the user's words (`bridge virbr10`,
    /// `firewall chains`, `dnsmasq`), as the plan prints it.
    public enum Subject: Hashable, Sendable, CustomStringConvertible {
        case ipForward
        case bridge(String)
        case address(IPv4CIDR, device: String)
        case ipv6(device: String)
        case arp(device: String)
        /// An existing device an `interface:` network configures.
        case interface(String)
        /// A network's own chains.
        case firewallChains
        /// The chains every network shares.
        case sharedFirewallChains
        case jumps
        case dnsmasq
        case trackedConnections

        public var description: String {
            switch self {
            case .ipForward: "sysctl net.ipv4.ip_forward"
            case .bridge(let device): "bridge \(device)"
            case .address(let address, let device): "address \(address) on \(device)"
            case .ipv6(let device): "sysctl net.ipv6.conf.\(device).disable_ipv6"
            case .arp(let device): "sysctl net.ipv4.conf.\(device).arp_ignore/arp_announce"
            case .interface(let device): "interface \(device)"
            case .firewallChains: "firewall chains"
            case .sharedFirewallChains: "shared firewall chains"
            case .jumps: "jumps from built-in chains"
            case .dnsmasq: "dnsmasq"
            case .trackedConnections: "tracked connections"
            }
        }
    }

    /// How the plan changes each network: a network that is not on the host is added, one
    /// that leaves is destroyed, any other with a step is changed.
    public struct Summary: Hashable, Sendable {
        public var add = 0
        public var change = 0
        public var destroy = 0
        /// What all networks share that the plan changes (`sysctl net.ipv4.ip_forward`, `shared
        /// firewall chains`, ...), counted apart from the networks.
        public var shared: [String] = []
        public init(add: Int = 0, change: Int = 0, destroy: Int = 0, shared: [String] = []) {
            self.add = add
            self.change = change
            self.destroy = destroy
            self.shared = shared
        }

        /// `Plan: 1 to add, 0 to change, 0 to destroy`, then what all networks share, if any.
        public var text: String {
            let networks = "Plan: \(add) to add, \(change) to change, \(destroy) to destroy"
            return shared.isEmpty ? networks + "." : networks + "; shared by all networks: " + shared.joined(separator: ", ") + "."
        }
    }
}

/// The concrete work behind a step. Operations of one kind are batched across steps: all
/// link changes in one `ip -batch`, all firewall changes in one `iptables-restore`.
public enum Operation: Hashable, Sendable {
    /// A line of `ip -batch`.
    case link(LinkCommand)
    /// Delete a bridge of moat's that no network wants under that name. It unplugs the
    /// bridge's ports (a VM's tap), which no rollback can put back, so it runs only after
    /// the apply is verified. (A bridge whose name another network takes over in the same
    /// plan is deleted by `.link(.delete)` in the device batch instead.)
    case deleteBridge(String)
    /// Write `net.ipv6.conf.<device>.disable_ipv6`.
    case disableIPv6(device: String, Bool)
    /// Write `net.ipv4.conf.<device>.arp_ignore` and `arp_announce`.
    case setARP(device: String, ARPSettings)
    /// Write `net.ipv4.ip_forward`; `keeping`: first keep this value (the one the snapshot
    /// found), for when the last network goes; nil when a value is kept already.
    case ipForward(Bool, keeping: Bool?)
    /// Forget the kept `ip_forward` value (after restoring it).
    case forgetIPForwardRecord
    /// Rewrite one of moat's chains whole (created when missing).
    case writeChain(ChainID, [FirewallRule])
    case deleteChain(ChainID)
    /// Jumps from a built-in chain into moat's: remove the `old` ones, insert the `new` ones.
    case replaceJumps(ChainID, old: [FirewallRule], new: [FirewallRule])
    case stopDnsmasq(network: String, pid: Int32)
    case writeDnsmasqFiles(network: String, DnsmasqInstance)
    case startDnsmasq(network: String)
    case reloadDnsmasq(network: String, pid: Int32)
    case removeFiles([String])
    case writeInterfaceRecord(network: String, InterfaceRecord)
    /// Delete the tracked connections of `network` that the rules of the config no longer
    /// admit (`ConnectionCut`); run only after the apply is verified.
    case cutConnections(network: String, Config)

    /// The backend of a firewall operation; nil for every other operation.
    public var backend: FirewallBackend? {
        switch self {
        case .writeChain(let chain, _), .deleteChain(let chain), .replaceJumps(let chain, _, _): chain.backend
        default: nil
        }
    }

    /// The network whose dnsmasq files or process this changes.
    public var dnsmasqNetwork: String? {
        switch self {
        case .stopDnsmasq(let network, _), .writeDnsmasqFiles(let network, _), .startDnsmasq(let network),
            .reloadDnsmasq(let network, _):
            network
        default:
            nil
        }
    }

    /// When it runs (see `Phase`).
    public var phase: Phase {
        switch self {
        case .stopDnsmasq: .stopDaemons
        case .writeInterfaceRecord: .recordInterfaces
        case .link: .devices
        case .disableIPv6, .setARP: .deviceSettings
        case .ipForward(let on, _): on ? .forwardingOn : .forwardingOff
        case .writeChain, .deleteChain, .replaceJumps: .firewall
        case .writeDnsmasqFiles, .startDnsmasq, .reloadDnsmasq: .startDaemons
        case .deleteBridge: .deleteBridges
        case .removeFiles, .forgetIPForwardRecord: .removeFiles
        case .cutConnections: .cutConnections
        }
    }
}

/// The order in which a plan's operations run, phase by phase, each phase batched.
///
/// Stop what leaves, change devices, firewall, start what comes. Forwarding is switched on
/// only once the isolation rules are in place, and off before they go. What cannot be undone
/// exactly comes last, after the host is verified (`runsAfterVerify`), so a failure anywhere
/// before leaves nothing that a rollback could not put back: a deleted bridge (its ports
/// unplugged), a removed lease file, cut connections.
public enum Phase: Int, Comparable, CaseIterable, Sendable {
    case stopDaemons, recordInterfaces, devices, deviceSettings, forwardingOff, firewall, forwardingOn, startDaemons
    case deleteBridges, removeFiles, cutConnections

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// Run only once every earlier phase has succeeded and the host is verified.
    public var runsAfterVerify: Bool { self >= .deleteBridges }
}

/// One line of `ip -batch`.
public enum LinkCommand: Hashable, Sendable {
    case addBridge(String)
    case delete(String)
    case setAlias(String, String)
    case setUp(String)
    case setDown(String)
    case addAddress(String, IPv4CIDR)
    case deleteAddress(String, IPv4CIDR)

    /// Deletions first, so a device or address that moves between networks is free when added.
    public var order: Int {
        switch self {
        case .delete: 0
        case .deleteAddress: 1
        case .addBridge: 2
        case .setAlias: 3
        case .addAddress: 4
        case .setUp, .setDown: 5
        }
    }

    /// The line as `ip -batch` reads it. Device names were validated; no quoting is needed.
    public var batchLine: String {
        switch self {
        case .addBridge(let d): "link add name \(d) type bridge forward_delay 0"
        case .delete(let d): "link del dev \(d)"
        case .setAlias(let d, let a): "link set dev \(d) alias \(a)"
        case .setUp(let d): "link set dev \(d) up"
        case .setDown(let d): "link set dev \(d) down"
        case .addAddress(let d, let a): "addr add \(a) dev \(d)"
        case .deleteAddress(let d, let a): "addr del \(a) dev \(d)"
        }
    }
}
