// The one place defaults are filled in, after the draft passed every rule.

extension ConfigDraft {
    /// The validated config. Only called when decoding reported no error, so every
    /// network has its device and address.
    func resolved() -> Config {
        var block: [IPv4CIDR] = []
        for entry in self.block ?? [Located(value: .privateRanges, node: .empty, path: .root)] {
            switch entry.value {
            case .privateRanges: block += Config.privateRanges
            case .cidr(let cidr): block.append(cidr)
            }
        }
        var unique: [IPv4CIDR] = []
        for cidr in block where !unique.contains(cidr) { unique.append(cidr) }
        return Config(
            version: 1,
            block: unique,
            uplinks: uplinks.map(\.value),
            networks: networks.compactMap { $0.resolved() },
            firewall: firewall ?? .auto)
    }
}

extension NetworkDraft {
    func resolved() -> Network? {
        guard let device = device?.value, let address = address?.value else { return nil }
        let dhcp: DHCP?
        switch self.dhcp {
        case .off:
            dhcp = nil
        case .defaults:
            dhcp = DHCP(range: Self.defaultRange(address))
        case .configured(let range, let leaseTime, let hosts):
            let resolvedRange: AddressRange?
            switch range {
            case nil: resolvedRange = Self.defaultRange(address)
            case .staticOnly: resolvedRange = nil
            case .range(let value): resolvedRange = value
            }
            dhcp = DHCP(range: resolvedRange, leaseTime: leaseTime ?? .seconds(3600), hosts: hosts)
        }
        return Network(
            name: name, device: device, address: address, mode: mode ?? .nat, dhcp: dhcp, dns: dns ?? true,
            privateDomains: privateDomains, allow: allow.map(\.value), forwards: forwards.map(\.value.forward),
            sharedWithHost: sharedWithHost ?? false, optional: optional ?? false)
    }

    /// Every usable address of the subnet but the host's. The host usually sits at the
    /// first (or last) host address, which leaves one contiguous span; when it sits in the
    /// middle, the larger side is used (the upper one on a tie), since a dnsmasq range is
    /// one span.
    static func defaultRange(_ address: IPv4CIDR) -> AddressRange {
        let first = address.firstHost.value
        let last = address.lastHost.value
        let host = address.address.value
        let below = host > first ? host - first : 0
        let above = last > host ? last - host : 0
        if above >= below, above > 0 {
            return AddressRange(first: IPv4Address(host + 1), last: IPv4Address(last))
        }
        return AddressRange(first: IPv4Address(first), last: IPv4Address(host - 1))
    }
}

extension YAMLNode {
    /// Stands in where a default has no place in the file.
    static let empty = YAMLNode(kind: .sequence([]), file: "", line: 0, column: 0, size: 0)
}
