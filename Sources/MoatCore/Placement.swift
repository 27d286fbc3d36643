import MoatConfig

/// Where the file's networks go on this host, decided before anything is planned: a device
/// given by its MAC (`interface: {mac: ...}`) is found among the host's physical devices,
/// and an `optional` network whose device is not there waits for it, while the others apply.
///
/// A waiting network is left out of the placed config, so whatever of it is still on the host
/// (its device was unplugged after an apply: its rules, its dnsmasq, its record) is removed
/// like any network not in the file; nothing of it stays half-made. When the device comes
/// back, the next apply configures it from scratch.
public struct Placement: Hashable, Sendable {
    /// The config with every device named; waiting networks left out.
    public var config: Config
    /// The optional networks whose device is not on this host.
    public var waiting: [Waiting]
    /// Networks that cannot be placed: no device has the MAC, or two do.
    public var problems: [String]

    public struct Waiting: Hashable, Sendable, CustomStringConvertible {
        public var network: String
        /// As the file says it: `interface enx00e04c680001`, `interface with MAC 00:e0:...`.
        public var device: String
        public var description: String { "\(network): waiting for its device (\(device) is not on this host)" }
    }

    public static func place(_ config: Config, on live: HostState) -> Placement {
        var placed = config
        placed.networks = []
        var waiting: [Waiting] = []
        var problems: [String] = []
        for var network in config.networks {
            switch network.device {
            case .bridge:
                break
            case .interface(let name):
                let claimed = live.networks[network.name].map { $0.device.exists && $0.device.name == name } ?? false
                if network.optional && live.foreignLinks[name] == nil && !claimed {
                    waiting.append(Waiting(network: network.name, device: network.device.description))
                    continue
                }
            case .interfaceWithMAC(let mac):
                let found = live.physicalDevices.filter { $0.value == mac }.keys.sorted()
                switch found.count {
                case 1:
                    network.device = .interface(found[0])
                case 0 where network.optional:
                    waiting.append(Waiting(network: network.name, device: network.device.description))
                    continue
                case 0:
                    problems.append(
                        "network \(network.name): no device has MAC \(mac) (bridges, bonds, VLANs and moat's own devices are not looked at); plug it in, or mark the network `optional: true` to apply the rest without it")
                    continue
                default:
                    problems.append(
                        "network \(network.name): MAC \(mac) is on \(found.count) devices (\(found.joined(separator: ", "))); name the device with `interface: NAME` instead")
                    continue
                }
            }
            if let other = placed.networks.first(where: { $0.device.name == network.device.name }) {
                problems.append("network \(network.name): its device \(network.device.name) is network \(other.name)'s too")
                continue
            }
            placed.networks.append(network)
        }
        return Placement(config: placed, waiting: waiting, problems: problems)
    }
}
