import Foundation
import MoatConfig

/// Where moat keeps its files: configs, hosts and leases under the state dir; pid files,
/// the lock and the journal under the run dir.
public struct Paths: Hashable, Sendable {
    public var stateDir: String
    public var runDir: String

    public static let defaultStateDir = "/var/lib/moat"
    public static let defaultRunDir = "/run/moat"

    public init(stateDir: String = Paths.defaultStateDir, runDir: String = Paths.defaultRunDir) {
        self.stateDir = stateDir
        self.runDir = runDir
    }

    /// A network's folder: its dnsmasq config, hosts files and leases.
    public func networkDir(_ network: String) -> String { "\(stateDir)/networks/\(network)" }
    public func dnsmasqConfig(_ network: String) -> String { "\(networkDir(network))/dnsmasq.conf" }
    public func dhcpHostsFile(_ network: String) -> String { "\(networkDir(network))/dhcp-hosts" }
    public func hostsFile(_ network: String) -> String { "\(networkDir(network))/hosts" }
    public func leaseFile(_ network: String) -> String { "\(networkDir(network))/leases" }
    /// What an `interface:` network found on its device before moat changed it.
    public func interfaceRecord(_ network: String) -> String { "\(networkDir(network))/interface.json" }
    /// `ip_forward` as it was before moat first set it.
    public var ipForwardRecord: String { "\(stateDir)/ip_forward.orig" }

    public func dnsmasqPidFile(_ network: String) -> String { "\(runDir)/dnsmasq-\(network).pid" }
    public var lockFile: String { "\(runDir)/moat.lock" }
    public var journal: String { "\(runDir)/journal.json" }

    /// The file a write of `path` goes through before it is renamed over `path`, so readers
    /// never see half a file. A run killed in the middle of that write leaves it behind.
    public static func temporary(_ path: String) -> String { path + ".moat-new" }

    /// Whether a network folder's entry `name` is what a killed run left: a write's
    /// temporary file of one of the dnsmasq files, or the leases file (dnsmasq's own).
    public func isLeftover(_ name: String, network: String) -> Bool {
        let path = "\(networkDir(network))/\(name)"
        return path == leaseFile(network) || [dnsmasqConfig(network), dhcpHostsFile(network), hostsFile(network)].map(Self.temporary).contains(path)
    }
}

/// What an `interface:` network found on a device it does not own, before moat changed it;
/// kept at `Paths.interfaceRecord(network)` so `destroy` can put it back. Its presence is
/// also how a live snapshot knows that moat configured that device.
public struct InterfaceRecord: Codable, Hashable, Sendable {
    public var device: String
    /// The address moat added (`192.168.1.1/24`).
    public var address: String
    /// Whether that address was already on the device (then `destroy` leaves it).
    public var hadAddress: Bool
    public var wasUp: Bool
    public var ipv6WasDisabled: Bool
    /// The device's ARP settings before moat made them strict; nil in a record written by a
    /// moat that did not change them (nothing to put back).
    public var arpWas: ARPSettings?
    /// The address moat had added before `address`, when the file changed it: written with
    /// the new address, before the device changes, so a run killed in between leaves a
    /// record that still knows the old address for moat's (to delete, never the host's).
    public var replaced: String?

    public init(
        device: String, address: String, hadAddress: Bool, wasUp: Bool, ipv6WasDisabled: Bool, arpWas: ARPSettings? = nil,
        replaced: String? = nil
    ) {
        self.replaced = replaced
        self.device = device
        self.address = address
        self.hadAddress = hadAddress
        self.wasUp = wasUp
        self.ipv6WasDisabled = ipv6WasDisabled
        self.arpWas = arpWas
    }

    /// The record in `text`, as moat keeps it in the state dir; throws the decoder's error.
    public init(parsing text: String) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(text.utf8))
    }

    /// The record as moat keeps it in the state dir.
    public var text: String { JSONText.write(self, pretty: false) }

    /// The addresses moat put on the device, by this record: its address unless the device
    /// had it already, and the one it replaced.
    public var moatAddresses: [IPv4CIDR] {
        ((hadAddress ? [] : [address]) + [replaced].compactMap { $0 }).compactMap { IPv4CIDR($0) }
    }
}
