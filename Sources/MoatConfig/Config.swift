/// The whole file, validated and with every default filled in.
///
/// Nothing outside `ConfigLoader` builds one from text; tests may build one directly.
public struct Config: Hashable, Sendable {
    public var version: Int
    /// Destinations no guest may reach unless a network's `allow` says so; `private` is expanded.
    public var block: [IPv4CIDR]
    /// When not empty, forwarded traffic may leave only through these devices.
    public var uplinks: [String]
    /// In the order of the file.
    public var networks: [Network]
    /// `firewall:`: which backend holds moat's rules; `auto` by default.
    public var firewall: FirewallChoice

    public init(
        version: Int = 1, block: [IPv4CIDR] = Config.privateRanges, uplinks: [String] = [], networks: [Network],
        firewall: FirewallChoice = .auto
    ) {
        self.version = version
        self.block = block
        self.uplinks = uplinks
        self.networks = networks
        self.firewall = firewall
    }

    /// What `block: [private]` means.
    public static let privateRanges: [IPv4CIDR] = [
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
    ].map { IPv4CIDR($0)! }  // swift-format-ignore: literals known valid

    /// The default path of the file.
    public static let defaultPath = "/etc/moat/moat.yaml"
    /// The default directory of more files (`*.yaml`), read with the default file as one configuration.
    public static let defaultDirectory = "/etc/moat/moat.d"
}

/// `firewall: auto | iptables | nftables`: where moat's rules live. `auto` picks one by the
/// host (`FirewallBackend.choose` in MoatCore).
public enum FirewallChoice: String, Hashable, Sendable, CaseIterable {
    case auto, iptables, nftables
}

/// One isolated network: a device with a host address, DHCP and DNS, NAT and a firewall.
public struct Network: Hashable, Sendable {
    /// `[a-z][a-z0-9-]{0,14}`; it names chains, files and the device's mark.
    public var name: String
    public var device: Device
    /// The host's address on the device, with the subnet's prefix.
    public var address: IPv4CIDR
    public var mode: Mode
    /// nil when `dhcp: false`.
    public var dhcp: DHCP?
    public var dns: Bool
    /// Domains whose answers from the host's resolvers may carry private addresses
    /// (`dns: {private-domains: [...]}`); every other private answer is withheld from
    /// guests (rebinding protection).
    public var privateDomains: [String]
    public var allow: [AllowRule]
    public var forwards: [PortForward]
    /// `shared-with-host: true`: the `interface:` may carry the host's default route or
    /// addresses the file does not declare (a safety rail refuses it otherwise).
    public var sharedWithHost: Bool
    /// `optional: true`: a missing device is not an error; the network waits for it while
    /// the others apply.
    public var optional: Bool

    public init(
        name: String, device: Device, address: IPv4CIDR, mode: Mode = .nat, dhcp: DHCP?,
        dns: Bool = true, privateDomains: [String] = [], allow: [AllowRule] = [], forwards: [PortForward] = [],
        sharedWithHost: Bool = false, optional: Bool = false
    ) {
        self.name = name
        self.device = device
        self.address = address
        self.mode = mode
        self.dhcp = dhcp
        self.dns = dns
        self.privateDomains = privateDomains
        self.allow = allow
        self.forwards = forwards
        self.sharedWithHost = sharedWithHost
        self.optional = optional
    }

    public var subnet: IPv4CIDR { address.subnet }

    public enum Mode: String, Hashable, Sendable, CaseIterable {
        case nat, isolated
    }

    public enum Device: Hashable, Sendable, CustomStringConvertible {
        /// A bridge moat creates, marks and deletes.
        case bridge(String)
        /// An existing device: moat sets its address and puts it back, never creates or deletes it.
        case interface(String)
        /// An existing device found by its MAC (lower-case) on the host it is applied on
        /// (`interface: {mac: ...}`). `Placement` turns it into `.interface(name)` before
        /// anything is planned; nothing past the file sees this case.
        case interfaceWithMAC(String)

        /// The device's name; for a device found by MAC, the MAC until it is placed.
        public var name: String {
            switch self {
            case .bridge(let name), .interface(let name), .interfaceWithMAC(let name): name
            }
        }
        public var isBridge: Bool { if case .bridge = self { true } else { false } }

        /// As the file says it: `bridge virbr10`, `interface enp6s0`, `interface with MAC 00:e0:4c:68:00:01`.
        public var description: String {
            switch self {
            case .bridge(let name): "bridge \(name)"
            case .interface(let name): "interface \(name)"
            case .interfaceWithMAC(let mac): "interface with MAC \(mac)"
            }
        }
    }
}

public struct DHCP: Hashable, Sendable {
    /// nil: only the static hosts get addresses (`range: static`).
    public var range: AddressRange?
    public var leaseTime: LeaseTime
    public var hosts: [StaticHost]

    public init(range: AddressRange?, leaseTime: LeaseTime = .seconds(3600), hosts: [StaticHost] = []) {
        self.range = range
        self.leaseTime = leaseTime
        self.hosts = hosts
    }
}

public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    public var first: IPv4Address
    public var last: IPv4Address
    public init(first: IPv4Address, last: IPv4Address) {
        self.first = first
        self.last = last
    }
    /// How many addresses the range holds.
    public var count: Int { Int(last.value) - Int(first.value) + 1 }
    public func contains(_ address: IPv4Address) -> Bool { first <= address && address <= last }
    public var description: String { "\(first)-\(last)" }
}

public enum LeaseTime: Hashable, Sendable, CustomStringConvertible {
    case seconds(Int)
    case infinite

    /// As dnsmasq's `dhcp-range` wants it.
    public var description: String {
        switch self {
        case .seconds(let s): "\(s)s"
        case .infinite: "infinite"
        }
    }
}

public struct StaticHost: Hashable, Sendable {
    /// Lower-case, colon-separated.
    public var mac: String
    public var ip: IPv4Address
    public var name: String?
    public init(mac: String, ip: IPv4Address, name: String? = nil) {
        self.mac = mac
        self.ip = ip
        self.name = name
    }
}

public enum Proto: String, Hashable, Sendable, CaseIterable {
    case tcp, udp, icmp, all
}

public struct PortRange: Hashable, Sendable, CustomStringConvertible {
    public var low: Int
    public var high: Int
    public init(_ low: Int, _ high: Int? = nil) {
        self.low = low
        self.high = high ?? low
    }
    /// As iptables writes it: `22` or `8000:8100`.
    public var description: String { low == high ? "\(low)" : "\(low):\(high)" }
}

/// A hole in `block`, checked before it.
public struct AllowRule: Hashable, Sendable {
    public enum Destination: Hashable, Sendable {
        /// The host's own addresses: opens host services to the guests.
        case host
        case cidr(IPv4CIDR)
    }
    public var to: Destination
    public var proto: Proto
    /// Empty: every port. Only with tcp or udp.
    public var ports: [PortRange]
    public init(to: Destination, proto: Proto = .all, ports: [PortRange] = []) {
        self.to = to
        self.proto = proto
        self.ports = ports
    }
}

/// DNAT of a host port to a guest, for traffic from outside the network and from the host itself.
public struct PortForward: Hashable, Sendable {
    public enum Proto: String, Hashable, Sendable, CaseIterable { case tcp, udp }
    public var proto: Proto
    public var port: Int
    public var toAddress: IPv4Address
    public var toPort: Int
    /// `override-host-port: true`: the forward may take a port a host process listens on
    /// (a safety rail refuses it otherwise).
    public var overrideHostPort: Bool
    public init(proto: Proto, port: Int, toAddress: IPv4Address, toPort: Int, overrideHostPort: Bool = false) {
        self.proto = proto
        self.port = port
        self.toAddress = toAddress
        self.toPort = toPort
        self.overrideHostPort = overrideHostPort
    }
}
