import MoatConfig
import MoatHost

/// What `apply` or `destroy` will do: ordered steps, each saying what it changes and why.
public struct Plan: Hashable, Sendable {
    public var steps: [Step]
    /// Networks the plan brings, changes and removes (a change only to what all networks
    /// share counts as one change).
    public var summary: Summary
    /// What is legal but has no effect (an `allow` to one of the host's own addresses): for
    /// stderr and the JSON, never a step and no change of exit code.
    public var warnings: [String]

    public init(steps: [Step] = [], summary: Summary = .init(), warnings: [String] = []) {
        self.steps = steps
        self.summary = summary
        self.warnings = warnings
    }

    public var isEmpty: Bool { steps.isEmpty }

    /// One change to one object of one network (or of moat as a whole when `network` is nil).
    public struct Step: Hashable, Sendable {
        public enum Action: String, Hashable, Sendable {
            case create, update, delete, restart, reload, start
            /// Terraform's marks: `+` add, `~` change, `-` remove.
            public var symbol: String {
                switch self {
                case .create, .start: "+"
                case .delete: "-"
                case .update, .restart, .reload: "~"
                }
            }
        }

        public var network: String?
        /// What is changed, in the user's words: `bridge virbr10`, `firewall`, `dnsmasq`, ...
        public var object: String
        public var action: Action
        /// Why: `missing`, `not in the file`, `rule drifted in MOAT-FROM-lab: ...`.
        public var reason: String
        /// The concrete work, run by the executor in phases (see `Operation.phase`).
        public var operations: [Operation]

        public init(network: String?, object: String, action: Action, reason: String, operations: [Operation]) {
            self.network = network
            self.object = object
            self.action = action
            self.reason = reason
            self.operations = operations
        }
    }

    /// How the plan changes each network: a network that is not on the host is added, one
    /// that leaves is destroyed, any other with a step is changed.
    public struct Summary: Hashable, Sendable {
        public var add = 0
        public var change = 0
        public var destroy = 0
        public init(add: Int = 0, change: Int = 0, destroy: Int = 0) {
            self.add = add
            self.change = change
            self.destroy = destroy
        }
    }
}

/// The concrete work behind a step. Operations of one kind are batched across steps: all
/// link changes in one `ip -batch`, all firewall changes in one `iptables-restore`.
public enum Operation: Hashable, Sendable {
    /// A line of `ip -batch`.
    case link(LinkCommand)
    /// Write `net.ipv6.conf.<device>.disable_ipv6`.
    case disableIPv6(device: String, Bool)
    /// Write `net.ipv4.conf.<device>.arp_ignore` and `arp_announce`.
    case setARP(device: String, ARPSettings)
    /// Write `net.ipv4.ip_forward`; `record` keeps the previous value first when none is kept.
    case ipForward(Bool, recordPrevious: Bool)
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

    /// Order of execution: stop what leaves, change devices, firewall, start what comes.
    /// Forwarding is switched on only once the isolation rules are in place, and off
    /// before they go. Cutting connections cannot be undone, so it comes last, apart
    /// (`runsAfterVerify`).
    public var phase: Int {
        switch self {
        case .stopDnsmasq: 0
        case .writeInterfaceRecord: 1
        case .link: 2
        case .disableIPv6, .setARP: 3
        case .ipForward(let on, _): on ? 6 : 4
        case .writeChain, .deleteChain, .replaceJumps: 5
        case .writeDnsmasqFiles, .startDnsmasq, .reloadDnsmasq: 7
        case .removeFiles, .forgetIPForwardRecord: 8
        case .cutConnections: 9
        }
    }

    /// Run by the reconciler only once every other operation has succeeded and the host is
    /// verified: what cannot be rolled back.
    public var runsAfterVerify: Bool {
        if case .cutConnections = self { true } else { false }
    }
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
    var order: Int {
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
