import Foundation
import MoatTestSupport

/// A random valid moat file, drawn from a pool small enough that consecutive files share
/// most of their networks: networks come and go, are renamed, change device (a renamed
/// bridge), address, range, lease time, static hosts, allow, forwards, mode, and the
/// file's block and uplinks change. Slot 4 may be an `interface:` network on `mi0`.
struct GeneratedFile: CustomStringConvertible {
    struct Network {
        var slot: Int
        var name: String
        var bridge: String?
        var address: String
        var dhcpRuns: Bool
        var dnsRuns: Bool
        var yaml: [String]
    }

    var networks: [Network]
    var yaml: String
    var description: String { yaml }

    /// The devices the test host must have for every file: the interface network's and the uplink.
    static let interfaceDevice = "mi0"
    static let uplink = "up0"
    static let names = ["lab", "dmz", "ops", "web", "board"]

    init(using random: inout SeededRandom) {
        var networks: [Network] = []
        for slot in 0..<Self.names.count where random.chance(0.6) {
            networks.append(Self.network(slot, using: &random))
        }
        var lines = ["version: 1"]
        switch Int.random(in: 0..<10, using: &random) {
        case 0..<6: break
        case 6, 7: lines.append("block: [private]")
        case 8: lines.append("block: [private, 198.51.100.0/24]")
        default: lines.append("block: [10.0.0.0/8]")
        }
        if random.chance(0.2) { lines.append("uplinks: [\(Self.uplink)]") }
        lines.append(networks.isEmpty ? "networks: {}" : "networks:")
        for network in networks { lines += network.yaml }
        self.networks = networks
        yaml = lines.joined(separator: "\n") + "\n"
    }

    static func network(_ slot: Int, using random: inout SeededRandom) -> Network {
        let name = names[slot] + (random.chance(0.25) ? "2" : "")
        let subnet = "10.\(70 + slot).\(random.chance(0.3) ? 1 : 0)"
        let address = "\(subnet).1/24"
        var lines = ["  \(name):"]
        var bridge: String?
        if slot == 4 && random.chance(0.5) {
            lines.append("    interface: \(interfaceDevice)")
        } else {
            bridge = "mb\(slot)" + (random.chance(0.25) ? "r" : "")
            lines.append("    bridge: \(bridge ?? "")")
        }
        lines.append("    address: \(address)")
        let isolated = random.chance(0.25)
        if isolated { lines.append("    mode: isolated") }
        var dhcpRuns = true
        switch Int.random(in: 0..<20, using: &random) {
        case 0..<10: break
        case 10..<13:
            lines.append("    dhcp: false")
            dhcpRuns = false
        default:
            var dhcp: [String] = []
            if random.chance(0.6) { dhcp.append("      range: \(subnet).\(random.pick([100, 120]))-\(subnet).\(random.pick([150, 200]))") }
            if random.chance(0.5) { dhcp.append("      lease-time: \(random.pick(["30m", "2h", "1d", "1w", "infinite"]))") }
            let hosts = [
                "        - { mac: \"52:54:00:aa:0\(slot):01\", ip: \(subnet).10, name: vm\(slot)a }",
                "        - { mac: \"52:54:00:aa:0\(slot):02\", ip: \(subnet).11, name: vm\(slot)b }",
            ].filter { _ in random.chance(0.5) }
            if !hosts.isEmpty { dhcp += ["      hosts:"] + hosts }
            if !dhcp.isEmpty { lines += ["    dhcp:"] + dhcp }
        }
        var dnsRuns = true
        if random.chance(0.2) {
            lines.append("    dns: false")
            dnsRuns = false
        }
        let allows = [
            "      - { to: 192.168.0.5/32, proto: tcp, ports: [445] }",
            "      - { to: host, proto: tcp, ports: [22] }",
            "      - { to: 198.51.100.0/24, proto: udp, ports: [\"8000-8100\"] }",
            "      - { to: host, proto: icmp }",
        ].filter { _ in random.chance(0.3) }.filter { !isolated || $0.contains("to: host") }
        if !allows.isEmpty { lines += ["    allow:"] + allows }
        // An isolated network forwards nothing: allow only to the host, no forwards (moat refuses the rest).
        if !isolated && random.chance(0.35) {
            let proto = random.chance(0.7) ? "tcp" : "udp"
            lines += ["    forwards:", "      - { proto: \(proto), port: \(30000 + slot * 10 + Int.random(in: 0..<3, using: &random)), to: \"\(subnet).10:22\" }"]
        }
        return Network(slot: slot, name: name, bridge: bridge, address: address, dhcpRuns: dhcpRuns, dnsRuns: dnsRuns, yaml: lines)
    }
}
