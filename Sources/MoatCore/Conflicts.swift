import MoatConfig

/// What on the host stands in the way of the file: found at plan time, before anything is
/// touched. moat never adopts a device it did not create.
public enum Conflicts {
    public static func find(config: Config, live: HostState) -> [String] {
        var problems: [String] = []
        let moatDevices = Set(live.networks.values.flatMap { found in (found.device.owned ? [found.device.name] : []) + found.moreBridges.map(\.name) })
        // The subnets of the addresses moat put on interfaces it configures: given back (or
        // kept) by the plan, never in the way.
        let moatSubnets = Dictionary(
            live.networks.values.filter { !$0.device.owned && $0.device.exists }.map { ($0.device.name, Set($0.device.addresses.map(\.subnet))) },
            uniquingKeysWith: { $0.union($1) })
        let interfaceDevices = Set(config.networks.compactMap { if case .interface(let d) = $0.device { d } else { nil } })
        for network in config.networks {
            let name = network.name
            switch network.device {
            case .bridge(let device):
                if let link = live.foreignLinks[device] {
                    problems.append(
                        "network \(name): bridge \(device) exists and is not moat's (\(link.kind.map { "a \($0)" } ?? "a device") without the mark moat:\(name)); moat never adopts a device it did not create: rename the bridge in the file or remove the device")
                } else if let owner = live.networks.values.first(where: { $0.device.owned && $0.device.name == device && $0.name != name }),
                    config.networks.contains(where: { $0.name == owner.name })
                {
                    problems.append("network \(name): bridge \(device) belongs to network \(owner.name)")
                }
            case .interface(let device):
                // Configured by this network already, or by one gone from the file (renamed:
                // the device is handed over, see `Diff.handovers`).
                let claimed = live.networks.values.contains { found in
                    (found.name == name || !config.networks.contains { $0.name == found.name })
                        && !found.device.owned && found.device.exists && found.device.name == device
                }
                if moatDevices.contains(device) {
                    problems.append("network \(name): interface \(device) is a bridge moat made for another network")
                } else if live.foreignLinks[device] == nil && !claimed {
                    problems.append("network \(name): interface \(device) does not exist (moat configures an existing interface, it never creates one)")
                }
            case .interfaceWithMAC:
                break  // `Placement` named it before, or refused it
            }
            let own: String = network.device.name
            for link in live.foreignLinks.values.sorted(by: { $0.name < $1.name }) where link.name != own && !interfaceDevices.contains(link.name) {
                for address in link.addresses where address.subnet.overlaps(network.subnet) {
                    problems.append("network \(name): subnet \(network.subnet) overlaps \(address) on \(link.name)")
                }
            }
            for route in live.routes {
                guard let destination = route.destination, destination.prefix >= network.subnet.prefix, destination.overlaps(network.subnet) else { continue }
                guard let device = route.device, device != own, !moatDevices.contains(device), !interfaceDevices.contains(device),
                    moatSubnets[device]?.contains(destination) != true
                else { continue }
                // A foreign link's own subnet is reported above, by its address.
                if live.foreignLinks[device]?.addresses.contains(where: { $0.subnet == destination }) == true { continue }
                problems.append("network \(name): subnet \(network.subnet) is already routed: \(destination) via \(device)")
            }
        }
        return problems
    }
}
