import Foundation
import MoatTestSupport
import Testing

/// What a test host is, as far as moat could have changed it: every device (ifindex, name,
/// master, flags, MAC, alias, addresses), the routes (carrier state left out), the sysctls moat writes, the firewall
/// (empty tables left out: iptables cannot delete a table, and no packet tells an empty one
/// from none), moat's files and its dnsmasq processes. Two images are equal when moat left
/// the host exactly as it was: a guest's port still on its bridge, the same dnsmasq pids.
struct HostImage: Equatable, CustomStringConvertible {
    var devices: [String]
    var routes: [String]
    var sysctls: [String]
    var firewall: String
    var files: [String: String]
    var dnsmasq: [String: Int32]

    init(of host: TestHost) throws {
        devices = try Self.devices(of: host)
        // Without `linkdown`: a bridge's carrier follows its ports, whenever the kernel gets to it.
        routes = try host.exec(["ip", "route", "show", "table", "all"]).split(separator: "\n")
            .map { $0.replacingOccurrences(of: " linkdown", with: "") }.sorted()
        sysctls = try host.exec(["sysctl", "-a", "--pattern", "ip_forward$|disable_ipv6$|arp_ignore$|arp_announce$"])
            .split(separator: "\n").map(String.init).sorted()
        firewall = TestHost.withoutEmptyTables(
            try host.exec(["iptables-save"]).split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n"))
            + "\n" + (try host.nftablesTable())
        files = host.stateFiles().merging(host.runFiles()) { $1 }
        dnsmasq = host.dnsmasqPids()
    }

    /// One line per device, from `ip -j addr` and (for the alias) `ip -j link`, without what
    /// the kernel changes by itself (carrier and operational state, address lifetimes).
    static func devices(of host: TestHost) throws -> [String] {
        func objects(_ json: String) throws -> [[String: Any]] {
            try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        }
        let aliases = Dictionary(
            try objects(try host.exec(["ip", "-j", "link"])).compactMap { link in
                (link["ifname"] as? String).map { ($0, link["ifalias"] as? String ?? "-") }
            }, uniquingKeysWith: { first, _ in first })
        return try objects(try host.exec(["ip", "-j", "addr"])).map { link in
            let flags = ((link["flags"] as? [String]) ?? []).filter { !["LOWER_UP", "NO-CARRIER", "M-DOWN"].contains($0) }
            let addresses = ((link["addr_info"] as? [[String: Any]]) ?? []).map { "\($0["local"] ?? "?")/\($0["prefixlen"] ?? "?")" }
            return [
                "\(link["ifindex"] ?? "?") \(link["ifname"] ?? "?")", "master=\(link["master"] ?? "-")",
                "flags=\(flags.joined(separator: ","))", "mac=\(link["address"] ?? "-")", "alias=\(aliases[link["ifname"] as? String ?? ""] ?? "-")",
                "mtu=\(link["mtu"] ?? "?")", "addresses=\(addresses.joined(separator: ","))",
            ].joined(separator: " ")
        }.sorted()
    }

    var description: String {
        (devices + routes + sysctls).joined(separator: "\n") + "\n" + firewall + "\n"
            + files.keys.sorted().map { "file \($0):\n\(files[$0] ?? "")" }.joined(separator: "\n")
            + "\ndnsmasq " + dnsmasq.keys.sorted().map { "\($0)=\(dnsmasq[$0] ?? 0)" }.joined(separator: " ")
    }

    /// The image with its dnsmasq processes known by network only: a rollback starts again
    /// a dnsmasq the failed apply had stopped (same files, same leases, a new pid).
    var byNetwork: HostImage {
        var image = self
        image.dnsmasq = dnsmasq.mapValues { _ in 0 }
        for file in files.keys where file.hasPrefix("run/dnsmasq-") { image.files[file] = "<pid>" }
        return image
    }

    /// How `other` differs from this image, as a line diff.
    func difference(_ other: HostImage) -> String { lineDiff(expected: description, actual: other.description) }
}

extension TestHost {
    /// moat's files in the run dir (its journal, the dnsmasq pid files), the lock left out:
    /// it stays, empty, by design.
    func runFiles() -> [String: String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDir)) ?? []
        var files: [String: String] = [:]
        for name in names where name != "moat.lock" {
            files["run/\(name)"] = (try? String(contentsOfFile: "\(runDir)/\(name)", encoding: .utf8)) ?? "<unreadable>"
        }
        return files
    }

    func image() throws -> HostImage { try HostImage(of: self) }
}
