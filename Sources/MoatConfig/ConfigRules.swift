// Rules that compare one network with another; each error points at the later of the two.

extension ConfigDecoder {
    mutating func checkAcrossNetworks(_ draft: ConfigDraft) {
        var devices: [String: ConfigPath] = [:]
        var subnets: [Located<IPv4CIDR>] = []
        var forwardedPorts: [String: ConfigPath] = [:]
        for network in draft.networks {
            if let device = network.device {
                let name = device.value.name
                if let earlier = devices[name] {
                    reader.error(device.node, device.path, "device \(quoted(name)) is already used by \(earlier)")
                } else {
                    devices[name] = device.path
                }
            }
            if let address = network.address {
                if let earlier = subnets.first(where: { $0.value.subnet.overlaps(address.value.subnet) }) {
                    reader.error(
                        address.node, address.path,
                        "subnet \(address.value.subnet) overlaps \(earlier.value.subnet) of \(earlier.path)")
                } else {
                    subnets.append(address)
                }
            }
            for forward in network.forwards {
                let key = "\(forward.value.forward.proto.rawValue) \(forward.value.forward.port)"
                let portPath = forward.path.key("port")
                if let earlier = forwardedPorts[key] {
                    reader.error(
                        forward.value.portNode, portPath, "\(key) is already forwarded by \(earlier)")
                } else {
                    forwardedPorts[key] = portPath
                }
            }
        }
        for uplink in draft.uplinks {
            if let network = devices[uplink.value] {
                reader.error(
                    uplink.node, uplink.path,
                    "\(quoted(uplink.value)) is the device of \(network); an uplink leads out of the host")
            }
        }
    }
}
