import MoatConfig

/// What moat cares about on a host, as values.
///
/// The same type describes the host as the file wants it (`DesiredState.render`) and as it
/// was found (`Snapshot`), so a diff compares two values and a rollback is a plan towards
/// the state found before.
public struct HostState: Hashable, Sendable {
    /// `net.ipv4.ip_forward`.
    public var ipForward: Bool
    /// moat's networks, by name.
    public var networks: [String: NetworkState]
    /// moat's chains that serve every network (`MOAT-FORWARD`, ...), with their rules in order.
    public var sharedChains: [ChainID: [FirewallRule]]
    /// Rules outside moat's chains that jump into them, by the chain holding them, in order,
    /// duplicates kept. moat itself puts
    /// them only in built-in chains; the live snapshot reports any it finds, so the diff
    /// can remove strays.
    public var jumps: [ChainID: [FirewallRule]]
    /// Links that are not moat's (live only): for conflicts, never touched.
    public var foreignLinks: [String: Link]
    /// IPv4 routes of the main table (live only): for conflicts.
    public var routes: [Route]
    /// What moat keeps about its own past (live only): values it found before changing them,
    /// and the journal of a run.
    public var records: MoatRecords
    /// The host's resolvers from /etc/resolv.conf, as nat networks' dnsmasq forwards to them
    /// (live only; `DnsmasqConfig.upstream(resolvConf:)`).
    public var resolvers: [String]
    /// Every physical device (`Link.isPhysical`), moat's `interface:` devices among them,
    /// by name, with its MAC (live only): where `interface: {mac: ...}` looks.
    public var physicalDevices: [String: String]
    /// The group of every link not in the default one, moat's and foreign, by name (live
    /// only): what `LinkCommand.deletion(of:host:)` must not delete with moat's bridges.
    public var linkGroups: [String: String]
    /// The host's other firewalls, as far as they decide where moat's rules go and whether
    /// guests get through (live only).
    public var firewallHost: FirewallHost

    public init(
        ipForward: Bool = false, networks: [String: NetworkState] = [:], sharedChains: [ChainID: [FirewallRule]] = [:],
        jumps: [ChainID: [FirewallRule]] = [:], foreignLinks: [String: Link] = [:], routes: [Route] = [],
        records: MoatRecords = MoatRecords(), resolvers: [String] = [], physicalDevices: [String: String] = [:],
        linkGroups: [String: String] = [:], firewallHost: FirewallHost = FirewallHost()
    ) {
        self.firewallHost = firewallHost
        self.linkGroups = linkGroups
        self.physicalDevices = physicalDevices
        self.records = records
        self.resolvers = resolvers
        self.ipForward = ipForward
        self.networks = networks
        self.sharedChains = sharedChains
        self.jumps = jumps
        self.foreignLinks = foreignLinks
        self.routes = routes
    }
}

extension HostState {
    /// The host's IPv4 addresses, each with the device holding it (the first by name when
    /// two devices hold one): the foreign devices' and moat's own.
    public var localAddresses: [IPv4Address: String] {
        var owners: [IPv4Address: String] = [:]
        let devices =
            foreignLinks.values.map { ($0.name, $0.addresses) }
            + networks.values.filter(\.device.exists).map { ($0.device.name, $0.device.addresses) }
        for (device, addresses) in devices.sorted(by: { $0.0 < $1.0 }) {
            for address in addresses where owners[address.address] == nil { owners[address.address] = device }
        }
        return owners
    }
}

/// What moat recorded on the host before changing things it does not own, and the journal
/// of its last run, as the snapshot found them.
public struct MoatRecords: Hashable, Sendable {
    /// `ip_forward` as it was before moat first set it; nil when moat never did.
    public var ipForwardBefore: Bool?
    /// How each `interface:` network found its device, by network.
    public var interfaces: [String: InterfaceRecord]
    /// The journal in the run dir: a run in progress, or one that was interrupted.
    public var journal: Journal?
    /// The run that wrote `journal` is gone without clearing it (killed, or the host lost power).
    public var journalInterrupted: Bool

    public init(
        ipForwardBefore: Bool? = nil, interfaces: [String: InterfaceRecord] = [:], journal: Journal? = nil,
        journalInterrupted: Bool = false
    ) {
        self.ipForwardBefore = ipForwardBefore
        self.interfaces = interfaces
        self.journal = journal
        self.journalInterrupted = journalInterrupted
    }

    /// Networks whose dnsmasq must restart whatever its files say: after an interrupted run,
    /// the files may be newer than the process.
    public var dnsmasqRestarts: Set<String> {
        journalInterrupted ? Set(journal?.dnsmasqNetworks ?? []) : []
    }
}

/// One network on the host: its device, its own firewall chains and its dnsmasq.
public struct NetworkState: Hashable, Sendable {
    public var name: String
    public var device: DeviceState
    /// This network's own chains (`MOAT-IN-<name>`, ...), with their rules in order.
    public var chains: [ChainID: [FirewallRule]]
    /// nil when the network runs no dnsmasq (no DHCP and no DNS), or none was found.
    public var dnsmasq: DnsmasqInstance?
    /// Live only: further bridges marked for this network. A renamed bridge has its
    /// successor beside it from the creation of the new one until the old one is deleted,
    /// after verification (or, when a run was killed in between, until the next run).
    public var moreBridges: [DeviceState]

    public init(
        name: String, device: DeviceState, chains: [ChainID: [FirewallRule]] = [:], dnsmasq: DnsmasqInstance? = nil,
        moreBridges: [DeviceState] = []
    ) {
        self.name = name
        self.device = device
        self.chains = chains
        self.dnsmasq = dnsmasq
        self.moreBridges = moreBridges
    }
}

/// A network's device: a bridge moat owns, or an existing interface moat only configures.
public struct DeviceState: Hashable, Sendable {
    public var name: String
    /// true: a bridge marked `moat:<network>`; false: an `interface:` device moat does not own.
    public var owned: Bool
    /// Desired: false only for a device that does not exist (never desired). Live: whether it exists.
    public var exists: Bool
    /// The UP flag.
    public var up: Bool
    /// IPv4 addresses. Desired: exactly the host address. For an interface, only moat's
    /// address is compared; the device's other addresses are not moat's.
    public var addresses: [IPv4CIDR]
    /// `net.ipv6.conf.<dev>.disable_ipv6`.
    public var ipv6Disabled: Bool
    /// `net.ipv4.conf.<dev>.arp_ignore` and `arp_announce`. Desired: `ARPSettings.strict`.
    public var arp: ARPSettings

    public init(
        name: String, owned: Bool, exists: Bool = true, up: Bool = true, addresses: [IPv4CIDR], ipv6Disabled: Bool = true,
        arp: ARPSettings
    ) {
        self.name = name
        self.owned = owned
        self.exists = exists
        self.up = up
        self.addresses = addresses
        self.ipv6Disabled = ipv6Disabled
        self.arp = arp
    }
}

extension DeviceState {
    /// A device that is not there (a network's that is gone, or not made yet).
    public static func absent(_ name: String) -> DeviceState {
        DeviceState(name: name, owned: false, exists: false, up: false, addresses: [], ipv6Disabled: false, arp: .kernelDefault)
    }
}

/// How a device answers and sends ARP: `net.ipv4.conf.<dev>.arp_ignore` and `arp_announce`.
public struct ARPSettings: Codable, Hashable, Sendable, CustomStringConvertible {
    public var ignore: Int
    public var announce: Int
    public init(ignore: Int, announce: Int) {
        self.ignore = ignore
        self.announce = announce
    }

    /// The kernel's default: the host answers ARP on a device for any of its addresses, so a
    /// guest on a bridge learns the host's LAN address and other networks' gateways.
    public static let kernelDefault = ARPSettings(ignore: 0, announce: 0)
    /// What moat sets on its devices: answer only for addresses on the device the request
    /// came in on (`arp_ignore=1`), and ask with the best local address for the target
    /// (`arp_announce=2`), so ARP on a guest network names nothing but that network's own.
    public static let strict = ARPSettings(ignore: 1, announce: 2)

    public var description: String { "arp_ignore=\(ignore) arp_announce=\(announce)" }
}

/// A device as `ip -j -d addr` shows it.
public struct Link: Hashable, Sendable {
    public var name: String
    /// `linkinfo.info_kind`: "bridge", "veth", ...; nil for a plain device.
    public var kind: String?
    /// `ifalias`; moat marks its bridges `moat:<network>`.
    public var alias: String?
    public var up: Bool
    public var addresses: [IPv4CIDR]
    public var ipv6Disabled: Bool
    public var arp: ARPSettings
    /// Lower-case; the permanent address where the kernel reports one, else the current one.
    public var mac: String?
    public var loopback: Bool
    /// The link group as `ip` prints it: `default`, a number, or a name of /etc/iproute2/group.
    public var group: String

    public init(
        name: String, kind: String? = nil, alias: String? = nil, up: Bool = false, addresses: [IPv4CIDR] = [], ipv6Disabled: Bool = false,
        arp: ARPSettings = .kernelDefault, mac: String? = nil, loopback: Bool = false, group: String = "default"
    ) {
        self.group = group
        self.mac = mac
        self.loopback = loopback
        self.name = name
        self.kind = kind
        self.alias = alias
        self.up = up
        self.addresses = addresses
        self.ipv6Disabled = ipv6Disabled
        self.arp = arp
    }

    /// A device `interface: {mac: ...}` may find: hardware (the kernel names no kind) or a
    /// veth, its stand-in in a namespace or container. Bridges, bonds, VLANs, macvlans and
    /// the like carry another device's MAC, and a device moat marked is moat's own.
    public var isPhysical: Bool {
        !loopback && (kind == nil || kind == "veth") && moatNetwork == nil
    }

    /// The network whose mark this device carries, if any.
    public var moatNetwork: String? {
        guard let alias, alias.hasPrefix(Mark.prefix) else { return nil }
        return String(alias.dropFirst(Mark.prefix.count))
    }
}

/// An IPv4 route of the main table, as `ip -j route` shows it.
public struct Route: Hashable, Sendable {
    public var destination: IPv4CIDR?   // nil: default
    public var device: String?
    /// The next hop (`via`), as `ip` prints it; nil for a directly connected route.
    public var gateway: String?
    public init(destination: IPv4CIDR?, device: String?, gateway: String? = nil) {
        self.destination = destination
        self.device = device
        self.gateway = gateway
    }
}

/// One dnsmasq of one network: the files it reads and, when found running, its pid.
public struct DnsmasqInstance: Hashable, Sendable {
    /// The content of its config file.
    public var config: String
    /// The content of its `dhcp-hostsfile` (static leases), re-read on SIGHUP.
    public var dhcpHosts: String
    /// The content of its `addn-hosts` file (names of static hosts), re-read on SIGHUP.
    public var hosts: String
    /// Live: the pid of the running process (checked against /proc/PID/cmdline); nil when not
    /// running. Desired: always nil; the diff asks only that one runs.
    public var pid: Int32?

    public init(config: String, dhcpHosts: String, hosts: String, pid: Int32? = nil) {
        self.config = config
        self.dhcpHosts = dhcpHosts
        self.hosts = hosts
        self.pid = pid
    }
}

public enum FirewallTable: String, Hashable, Sendable, CaseIterable, Comparable {
    /// `raw` first: a transaction that writes it with the others loads the source checks in
    /// the same commit.
    case raw, filter, nat, mangle
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// Which tool holds moat's rules: the same chains either way (SPEC §3 "Firewall backends").
public enum FirewallBackend: String, Hashable, Sendable, CaseIterable, Comparable {
    /// moat's `MOAT-` chains in iptables' tables, jumped to from the built-in chains.
    case iptables
    /// One table of moat's own, `inet moat` (`NftablesBackend`).
    case nftables
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A chain in a table, in one backend: the same chain in the other backend is another chain,
/// so switching backends is a diff like any other (the old backend's chains go, the new
/// one's come).
public struct ChainID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var table: FirewallTable
    public var name: String
    public var backend: FirewallBackend
    public init(_ table: FirewallTable, _ name: String, backend: FirewallBackend = .iptables) {
        self.table = table
        self.name = name
        self.backend = backend
    }
    public static func < (a: Self, b: Self) -> Bool { (a.backend, a.table, a.name) < (b.backend, b.table, b.name) }
    public var description: String {
        backend == .iptables ? "\(table)/\(name)" : "\(NftablesBackend.family) \(NftablesBackend.table)/\(NftablesBackend.name(of: self))"
    }
    /// This chain in `backend`.
    public func `in`(_ backend: FirewallBackend) -> ChainID { ChainID(table, name, backend: backend) }
}

/// The marks by which moat knows its own objects on a live host.
public enum Mark {
    /// ifalias of a bridge, comment of a rule: `moat:<network>`.
    public static let prefix = "moat:"
    /// Comment of rules shared by all networks (the jumps from built-in chains).
    public static let shared = "moat"
    /// Every chain of moat's starts with this.
    public static let chainPrefix = "MOAT-"

    public static func of(network: String) -> String { prefix + network }
}

/// The names of moat's chains. Shared chains have fixed names; a network's own chains are a
/// kind prefix plus the network name, so the owner of a chain is known from its name alone.
public enum ChainName {
    // Shared dispatch chains, each jumped to from the built-in chain of the same role.
    public static let input = ChainID(.filter, "MOAT-INPUT")
    public static let forward = ChainID(.filter, "MOAT-FORWARD")
    public static let natPrerouting = ChainID(.nat, "MOAT-PREROUTING")
    public static let natOutput = ChainID(.nat, "MOAT-OUTPUT")
    public static let natPostrouting = ChainID(.nat, "MOAT-POSTROUTING")
    public static let manglePostrouting = ChainID(.mangle, "MOAT-POSTROUTING")
    /// raw: every packet arriving from a moat device, before connection tracking sees it.
    public static let rawPrerouting = ChainID(.raw, "MOAT-PREROUTING")

    /// filter: what no guest may reach, jumped to from every nat network's `FROM` chain
    /// after its `allow` holes: the `block` list, then every moat network's subnet. One
    /// shared chain keeps the rule count linear in the number of networks, and a network
    /// that comes or goes changes this chain only, not the other networks' chains.
    public static let block = ChainID(.filter, "MOAT-BLOCK")

    /// Shared chains with the built-in chain that jumps to each.
    public static let shared: [(chain: ChainID, builtin: String)] = [
        (input, "INPUT"), (forward, "FORWARD"), (natPrerouting, "PREROUTING"), (natOutput, "OUTPUT"),
        (natPostrouting, "POSTROUTING"), (manglePostrouting, "POSTROUTING"), (rawPrerouting, "PREROUTING"),
    ]

    /// Per-network chain kinds, each `MOAT-<KIND>-<network>` (at most 25 characters).
    public enum Kind: String, CaseIterable, Sendable {
        /// filter: guests to the host itself.
        case input = "IN"
        /// filter: traffic from the guests through the host.
        case from = "FROM"
        /// filter: traffic through the host to the guests.
        case to = "TO"
        /// nat: masquerade of the guests' traffic.
        case masquerade = "MASQ"
        /// nat: port forwards to guests.
        case dnat = "DNAT"
        /// raw: the source check of what arrives from the network's device.
        case source = "SRC"

        public var table: FirewallTable {
            switch self {
            case .input, .from, .to: .filter
            case .masquerade, .dnat: .nat
            case .source: .raw
            }
        }
    }

    public static func of(_ kind: Kind, network: String) -> ChainID {
        ChainID(kind.table, "MOAT-\(kind.rawValue)-\(network)")
    }

    /// The network that owns a per-network chain, from its name; nil for shared or foreign chains.
    public static func network(of chain: ChainID) -> String? {
        for kind in Kind.allCases where kind.table == chain.table {
            let prefix = "MOAT-\(kind.rawValue)-"
            if chain.name.hasPrefix(prefix), chain.name.count > prefix.count {
                return String(chain.name.dropFirst(prefix.count))
            }
        }
        return nil
    }
}

extension Dictionary where Key == ChainID, Value == [FirewallRule] {
    /// The rules of `chain` in whichever backend holds it (iptables' first): the same chain
    /// of the model, wherever it lives.
    public func rules(of chain: ChainID) -> [FirewallRule]? {
        self[chain.in(.iptables)] ?? self[chain.in(.nftables)]
    }

    /// The backends these chains are in.
    public var backends: Set<FirewallBackend> { Set(keys.map(\.backend)) }
}

extension HostState {
    /// The host with `networks` gone: their chains, their rules in shared chains (known by
    /// their owner), shared chains left empty and the jumps to them.
    public func without(networks removed: Set<String>) -> HostState {
        var state = self
        state.networks = networks.filter { !removed.contains($0.key) }
        // With no network left, no shared chain serves anything, whatever its rules say.
        if state.networks.isEmpty {
            state.sharedChains = [:]
            state.jumps = [:]
            return state
        }
        var shared: [ChainID: [FirewallRule]] = [:]
        for (chain, rules) in sharedChains {
            let kept = rules.filter { rule in
                guard case .network(let owner) = rule.owner else { return true }
                return !removed.contains(owner)
            }
            if !kept.isEmpty { shared[chain] = kept }
        }
        state.sharedChains = shared
        var jumps: [ChainID: [FirewallRule]] = [:]
        for (builtin, rules) in self.jumps {
            let kept = rules.filter { rule in
                shared.keys.contains { $0.table == builtin.table && rule.verdict == .jump($0.name) }
            }
            if !kept.isEmpty { jumps[builtin] = kept }
        }
        state.jumps = jumps
        return state
    }
}
