// Rules that compare one network with another, and one file of a configuration with
// another; each error points at the later of the two and names the earlier.

extension ConfigDecoder {
    /// The drafts of a configuration's files as one: networks in file order. A network
    /// declared in two files, or `block`, `uplinks` or `firewall` given in two, is an error at
    /// the later.
    mutating func merge(_ drafts: [ConfigDraft]) -> ConfigDraft {
        guard var merged = drafts.first else { return ConfigDraft() }
        var declared = Dictionary(merged.networks.map { ($0.name, $0.nameNode) }, uniquingKeysWith: { first, _ in first })
        for draft in drafts.dropFirst() {
            if givenOnce("block", draft.blockNode, earlier: merged.blockNode) {
                merged.block = draft.block
                merged.blockNode = draft.blockNode
            }
            if givenOnce("uplinks", draft.uplinksNode, earlier: merged.uplinksNode) {
                merged.uplinks = draft.uplinks
                merged.uplinksNode = draft.uplinksNode
            }
            if givenOnce("firewall", draft.firewallNode, earlier: merged.firewallNode) {
                merged.firewall = draft.firewall
                merged.firewallNode = draft.firewallNode
            }
            for network in draft.networks {
                if let earlier = declared[network.name] {
                    reader.error(
                        network.nameNode, network.path,
                        "network \(quoted(network.name)) is already declared in \(place(earlier)); a network belongs to one file")
                    continue
                }
                declared[network.name] = network.nameNode
                merged.networks.append(network)
            }
        }
        return merged
    }

    /// Whether a later file's top-level `key` (at `node`) is to be taken: it is given, and no
    /// earlier file gave it (which is an error at the later).
    private mutating func givenOnce(_ key: String, _ node: YAMLNode?, earlier: YAMLNode?) -> Bool {
        guard let node else { return false }
        guard let earlier else { return true }
        reader.error(node, .root.key(key), "`\(key)` is already given in \(place(earlier)); give it in one file only")
        return false
    }

    mutating func checkAcrossNetworks(_ draft: ConfigDraft) {
        var devices: [String: Located<Network.Device>] = [:]
        var subnets: [Located<IPv4CIDR>] = []
        var forwardedPorts: [String: (path: ConfigPath, node: YAMLNode)] = [:]
        for network in draft.networks {
            if let device = network.device {
                let name = device.value.name
                if let earlier = devices[name] {
                    reader.error(
                        device.node, device.path, "device \(quoted(name)) is already used by \(at(earlier.path, earlier.node, from: device.node))")
                } else {
                    devices[name] = device
                }
            }
            if let address = network.address {
                if let earlier = subnets.first(where: { $0.value.subnet.overlaps(address.value.subnet) }) {
                    reader.error(
                        address.node, address.path,
                        "subnet \(address.value.subnet) overlaps \(earlier.value.subnet) of \(at(earlier.path, earlier.node, from: address.node))")
                } else {
                    subnets.append(address)
                }
            }
            for forward in network.forwards {
                let key = "\(forward.value.forward.proto.rawValue) \(forward.value.forward.port)"
                let portPath = forward.path.key("port")
                let node = forward.value.portNode
                if let earlier = forwardedPorts[key] {
                    reader.error(node, portPath, "\(key) is already forwarded by \(at(earlier.path, earlier.node, from: node))")
                } else {
                    forwardedPorts[key] = (portPath, node)
                }
            }
        }
        for uplink in draft.uplinks {
            if let device = devices[uplink.value] {
                reader.error(
                    uplink.node, uplink.path,
                    "\(quoted(uplink.value)) is the device of \(at(device.path, device.node, from: uplink.node)); an uplink leads out of the host")
            }
        }
    }

    /// `FILE:LINE:COLUMN` of a node.
    func place(_ node: YAMLNode) -> String { "\(node.file):\(node.line):\(node.column)" }

    /// A path, with its file and line when that is another file than the one of `from`.
    func at(_ path: ConfigPath, _ node: YAMLNode, from: YAMLNode) -> String {
        node.file == from.file ? "\(path)" : "\(path) (\(place(node)))"
    }
}
