import Foundation
import MoatConfig

// Parsers of `ip -j` output (iproute2 6.1 was used to capture the fixtures). Pure: text in,
// values out, so the snapshot's reading of the host is tested on real captured output.

/// The links of `ip -j -d addr show`: name, kind (`linkinfo.info_kind`), ifalias, the UP flag,
/// the MAC (the permanent one where the kernel reports it), the link group and the IPv4 addresses. One command gives all of it, so the snapshot needs no `ip link` as well.
/// `ipv6Disabled` is left false: `ip` does not show it (the snapshot reads it from /proc).
public func parseIPAddr(json: String) throws -> [Link] {
    let entries = try decodeIPJSON([IPAddrEntry].self, json, command: "ip -j -d addr show")
    return entries.map { entry in
        let addresses = (entry.addr_info ?? []).compactMap { info -> IPv4CIDR? in
            guard info.family == "inet", let local = info.local, let prefix = info.prefixlen,
                (0...32).contains(prefix), let address = IPv4Address(local)
            else { return nil }
            return IPv4CIDR(address: address, prefix: prefix)
        }
        return Link(
            name: entry.ifname, kind: entry.linkinfo?.info_kind, alias: entry.ifalias,
            up: entry.flags?.contains("UP") ?? false, addresses: addresses,
            mac: (entry.permaddr ?? entry.address).map { $0.lowercased() }, loopback: entry.link_type == "loopback",
            group: entry.group ?? "default")
    }
}

/// The IPv4 routes of the main table from `ip -j route show`. `dst` is `default`, `a.b.c.d/n`
/// or a bare address (a /32). Entries whose destination is none of these are skipped: they
/// cannot conflict with a subnet moat would use.
public func parseRoutes(json: String) throws -> [Route] {
    let entries = try decodeIPJSON([IPRouteEntry].self, json, command: "ip -j route show")
    return entries.compactMap { entry in
        if entry.dst == "default" { return Route(destination: nil, device: entry.dev, gateway: entry.gateway) }
        guard let destination = IPv4CIDR(entry.dst, hostIfBare: true) else { return nil }
        return Route(destination: destination, device: entry.dev, gateway: entry.gateway)
    }
}

/// Decodes `ip -j` output; an empty output (some versions print nothing for an empty list) is
/// an empty list.
private func decodeIPJSON<T: Decodable & ExpressibleByArrayLiteral>(_ type: T.Type, _ json: String, command: String) throws -> T {
    // Only whether there is anything but white space: trimming the whole output (hundreds of
    // KiB at 100 networks) through NSString was a twentieth of a no-op plan.
    if json.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [] }
    do {
        return try JSONDecoder().decode(T.self, from: Data(json.utf8))
    } catch {
        throw MoatError(.failed, "cannot read the output of `\(command)`: \(error)")
    }
}

// Field names are iproute2's own, hence the snake case.
// swift-format-ignore: AlwaysUseLowerCamelCase
private struct IPAddrEntry: Decodable {
    var ifname: String
    var flags: [String]?
    var ifalias: String?
    /// The current MAC; `permaddr` is the device's own when the current one differs.
    var address: String?
    var permaddr: String?
    var link_type: String?
    var group: String?
    var linkinfo: LinkInfo?
    var addr_info: [AddrInfo]?

    struct LinkInfo: Decodable {
        var info_kind: String?
    }

    struct AddrInfo: Decodable {
        var family: String?
        var local: String?
        var prefixlen: Int?
    }
}

private struct IPRouteEntry: Decodable {
    var dst: String
    var dev: String?
    var gateway: String?
}
