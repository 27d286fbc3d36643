import Foundation
import MoatConfig

extension StatusReport {
    /// A table for people, one network a line, then what needs attention, then (with
    /// `leases`) each network's leases. `now` is seconds since 1970.
    public func humanText(color: Bool, leases showLeases: Bool, now: Int, timeZone: TimeZone) -> String {
        var out = ""
        if file == nil {
            out += "No file: live networks only; their firewall rules are not compared with anything.\n\n"
        }
        guard !networks.isEmpty else {
            return out + "No moat network on this host.\n"
        }
        let header = ["NETWORK", "DEVICE", "ADDRESS", "LINK", "FIREWALL", "DNSMASQ", "LEASES"]
        let rows = networks.map(Self.row)
        var painter: ((String) -> String)?
        if color { painter = Self.paint }
        out += Self.table([header] + rows, color: painter)

        var notes: [String] = []
        for n in networks {
            if let device = n.waiting {
                notes.append("\(n.name): waiting for its device (\(device) is not on this host); it applies when the device appears")
                continue
            }
            if !n.applied {
                notes.append("\(n.name): declared in the file, not on this host: `moat apply` creates it")
                continue
            }
            if n.declared == false { notes.append("\(n.name): on this host, not in the file: `moat apply` would remove it") }
            if n.firewall.state == .drifted, let reason = n.firewall.reason { notes.append("\(n.name): firewall drifted: \(reason)") }
            if let d = n.dnsmasq, !d.running { notes.append("\(n.name): dnsmasq is not running: guests get no DHCP or DNS") }
            for step in n.pending where step.subject != .firewallChains { notes.append("\(n.name): apply would change \(step.change)") }
        }
        switch sharedFirewall.state {
        case .inPlace, .unchecked: break
        case .drifted: notes.append("shared firewall drifted: \(sharedFirewall.reason ?? "")")
        case .missing: notes.append("shared firewall (MOAT-INPUT, MOAT-FORWARD, ... and the jumps to them): missing")
        }
        if let journal { notes.append("journal: \(journal)") }
        if !notes.isEmpty { out += "\n" + notes.joined(separator: "\n") + "\n" }

        if showLeases {
            for n in networks where n.applied {
                out += "\nLeases of \(n.name)" + (n.device.map { " (\($0))" } ?? "") + ":\n"
                guard !n.leases.isEmpty else {
                    out += "  none\n"
                    continue
                }
                let lines = n.leases.map { lease in
                    ["  " + lease.mac, lease.ip.description, lease.hostname ?? "-", Self.expiry(lease.expiry, now: now, timeZone: timeZone)]
                }
                out += Self.table([["  MAC", "IP", "HOSTNAME", "EXPIRES"]] + lines, color: nil)
            }
        }
        return out
    }

    /// Stable data for programs, keys sorted; the format is documented in the README
    /// (`leases` arrays only when `leases` is true).
    public func json(leases includeLeases: Bool) -> String {
        let iso = ISO8601DateFormatter()
        let list = networks.map { n -> [String: Any] in
            var object: [String: Any] = [
                "name": n.name,
                "declared": n.declared ?? NSNull(),
                "applied": n.applied,
                "device": n.device ?? NSNull(),
                "kind": n.kind ?? NSNull(),
                "exists": n.exists,
                "up": n.up,
                "addresses": n.addresses.map(\.description),
                "firewall": Self.object(n.firewall),
                "dnsmasq": n.dnsmasq.map { d -> [String: Any] in ["pid": d.pid.map { Int($0) } ?? NSNull(), "running": d.running] } ?? NSNull(),
                "leaseCount": n.leases.count,
                "pending": n.pending.map(\.change),
                "waiting": n.waiting ?? NSNull(),
                "poolSize": n.poolSize ?? NSNull(),
            ]
            if includeLeases {
                object["leases"] = n.leases.map { lease -> [String: Any] in
                    [
                        "mac": lease.mac, "ip": lease.ip.description, "hostname": lease.hostname ?? NSNull(),
                        "clientId": lease.clientID ?? NSNull(),
                        "expires": lease.expiry.map { iso.string(from: Date(timeIntervalSince1970: TimeInterval($0))) } ?? NSNull(),
                    ]
                }
            }
            return object
        }
        let object: [String: Any] = [
            "file": file ?? NSNull(),
            "networks": list,
            "sharedFirewall": Self.object(sharedFirewall),
            "ipForward": ipForward,
            "journal": journal ?? NSNull(),
        ]
        return JSONText.document(object)
    }

    /// One network's line of the table.
    static func row(_ n: NetworkStatus) -> [String] {
        if let device = n.waiting { return [n.name, device, "-", "waiting for device", "-", "-", "-"] }
        guard n.applied else { return [n.name, n.device ?? "-", "-", "not applied", "-", "-", "-"] }
        let device = n.device.map { "\($0) (\(n.kind ?? "?"))" } ?? "-"
        let addresses = n.addresses.isEmpty ? "-" : n.addresses.map(\.description).joined(separator: ",")
        let link = !n.exists ? "missing" : n.up ? "up" : "down"
        var dnsmasq = "-"
        if let d = n.dnsmasq {
            let pid = d.pid.map { "pid \($0)" }
            dnsmasq = d.running ? (pid ?? "running") : (pid.map { "\($0), not running" } ?? "not running")
        }
        return [n.name, device, addresses, link, n.firewall.state.words, dnsmasq, String(n.leases.count)]
    }

    static func object(_ firewall: FirewallStatus) -> [String: Any] {
        ["state": firewall.state.rawValue, "reason": firewall.reason ?? NSNull()]
    }

    /// `2025-06-01 14:00:00 (in 11h59m)`, or `never` for an infinite lease.
    static func expiry(_ expiry: Int?, now: Int, timeZone: TimeZone) -> String {
        guard let expiry else { return "never" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let left = max(0, expiry - now)
        let span = left >= 86_400 ? "\(left / 86_400)d\(left % 86_400 / 3600)h" : left >= 3600 ? "\(left / 3600)h\(left % 3600 / 60)m" : "\(left / 60)m\(left % 60)s"
        return "\(formatter.string(from: Date(timeIntervalSince1970: TimeInterval(expiry)))) (in \(span))"
    }

    /// Columns padded to their widest cell, two spaces apart; `color` may paint a cell.
    static func table(_ rows: [[String]], color: ((String) -> String)?) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let padded = column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                return color?(padded) ?? padded
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// Green for what is as it should be, red for what is not.
    static func paint(_ cell: String) -> String {
        let word = cell.trimmingCharacters(in: .whitespaces)
        let color: ANSIColor? =
            switch word {
            case "up", "in place": .green
            case "down", "missing", "drifted", "not applied": .red
            default: word.hasSuffix("not running") ? .red : nil
            }
        return color?.paint(cell) ?? cell
    }
}

extension FirewallStatus.State {
    /// How the table says it.
    public var words: String {
        switch self {
        case .inPlace: "in place"
        case .drifted: "drifted"
        case .missing: "missing"
        case .unchecked: "present"
        }
    }
}
