import Foundation
import MoatConfig

/// `moat status --check`: the report judged as a monitoring check, with the exit codes of a
/// Nagios plugin (SPEC §1), and `--format prometheus`: the same facts as metrics.
public struct StatusCheck: Hashable, Sendable {
    public enum State: Int32, Sendable {
        /// Every declared network in place (one waiting for its device counts, with a note).
        case ok = 0
        /// Something missing, drifted, or a dnsmasq not running.
        case critical = 2
        /// The file is invalid or the host could not be read.
        case unknown = 3

        public var word: String {
            switch self {
            case .ok: "OK"
            case .critical: "CRITICAL"
            case .unknown: "UNKNOWN"
            }
        }
    }

    public var state: State
    /// What is wrong, one line each (empty when OK).
    public var problems: [String]
    /// What is fine but worth saying (a network waiting for its device).
    public var notes: [String]
    /// How many networks are in place.
    public var inPlace: Int

    /// The plugin's output: one status line (`MOAT OK - 2 networks in place | ...`), then a
    /// line per problem and note.
    public var text: String {
        let summary: String
        switch state {
        case .ok: summary = "\(inPlace) network\(inPlace == 1 ? "" : "s") in place" + (notes.isEmpty ? "" : "; " + notes.joined(separator: "; "))
        case .critical, .unknown: summary = problems.joined(separator: "; ")
        }
        let perfdata = "networks_in_place=\(inPlace) problems=\(problems.count)"
        let details = (problems + notes).map { $0 + "\n" }.joined()
        return "MOAT \(state.word) - \(Self.oneLine(summary)) | \(perfdata)\n" + (problems.count + notes.count > 1 ? details : "")
    }

    /// An error that stopped the check before a report: exit 3.
    public static func unknown(_ message: String) -> StatusCheck {
        StatusCheck(state: .unknown, problems: [message.split(separator: "\n").map(String.init).joined(separator: " ")], notes: [], inPlace: 0)
    }

    /// The status line stays one line whatever a message holds.
    static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "/")
    }
}

extension StatusReport {
    /// The report as a monitoring check. Without a file, only what can be told without one
    /// is judged: each live network's device and dnsmasq.
    public var check: StatusCheck {
        var problems = self.problems
        var notes: [String] = []
        var inPlace = 0
        for n in networks {
            if let device = n.waiting {
                notes.append("\(n.name) waiting for its device (\(device))")
                continue
            }
            var wrong: [String] = []
            if !n.applied {
                wrong.append("not applied")
            } else {
                if n.declared == false { wrong.append("not in the file") }
                if !n.exists { wrong.append("device \(n.device ?? "-") missing") } else if !n.up { wrong.append("device \(n.device ?? "-") down") }
                switch n.firewall.state {
                case .drifted: wrong.append("firewall drifted")
                case .missing: wrong.append("firewall missing")
                case .inPlace, .unchecked: break
                }
                if let d = n.dnsmasq, !d.running { wrong.append("dnsmasq not running") }
                if n.firewall.state != .drifted, n.pending.contains(where: { $0.subject != .firewallChains }) {
                    wrong.append("apply would change it")
                }
            }
            if wrong.isEmpty { inPlace += 1 } else { problems.append("\(n.name): \(wrong.joined(separator: ", "))") }
        }
        if file != nil, !networks.filter(\.applied).isEmpty {
            switch sharedFirewall.state {
            case .drifted: problems.append("shared firewall drifted")
            case .missing: problems.append("shared firewall missing")
            case .inPlace, .unchecked: break
            }
        }
        if interrupted, let journal { problems.append("journal: \(journal)") }
        return StatusCheck(state: problems.isEmpty ? .ok : .critical, problems: problems, notes: notes, inPlace: inPlace)
    }

    /// The Prometheus text format (version 0.0.4), for node_exporter's textfile collector:
    /// a gauge per fact, each network's labelled with its name and device. A fact that
    /// cannot be known is left out rather than guessed (the firewall of a network no file
    /// declares, the pool without a file, dnsmasq of a network that runs none).
    public var prometheus: String {
        var out = ""
        func gauge(_ name: String, _ help: String, _ samples: [(labels: String, value: Int)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        func labels(_ n: NetworkStatus) -> String {
            "{network=\"\(Self.escape(n.name))\",device=\"\(Self.escape(n.device ?? n.waiting ?? ""))\"}"
        }
        func each(_ value: (NetworkStatus) -> Int?) -> [(labels: String, value: Int)] {
            networks.compactMap { n in value(n).map { (labels(n), $0) } }
        }
        gauge("moat_network_declared", "1 when the file declares the network.", each { n in n.declared.map { $0 ? 1 : 0 } })
        gauge("moat_network_applied", "1 when anything of the network is on the host.", each { $0.applied ? 1 : 0 })
        gauge("moat_network_waiting", "1 when the network is optional and waits for its device.", each { $0.waiting == nil ? 0 : 1 })
        gauge("moat_network_up", "1 when the network's device exists and is up.", each { $0.exists && $0.up ? 1 : 0 })
        gauge(
            "moat_network_firewall_in_place", "1 when the network's rules are exactly what the file renders, 0 when drifted or missing.",
            each { n in n.firewall.state == .unchecked || !n.applied ? nil : n.firewall.state == .inPlace ? 1 : 0 })
        gauge("moat_network_dnsmasq_running", "1 when the network's dnsmasq runs.", each { n in n.dnsmasq.map { $0.running ? 1 : 0 } })
        gauge("moat_network_leases", "DHCP leases that have not expired.", each { $0.applied ? $0.leases.count : nil })
        gauge("moat_network_dhcp_pool_size", "Addresses the network's DHCP hands out: its range and the static hosts outside it.", each(\.poolSize))
        if sharedFirewall.state != .unchecked {
            gauge(
                "moat_shared_firewall_in_place", "1 when the chains every network shares, and the jumps to them, are in place.",
                [("", sharedFirewall.state == .inPlace ? 1 : 0)])
        }
        gauge("moat_ip_forward", "net.ipv4.ip_forward on the host.", [("", ipForward ? 1 : 0)])
        out += Self.checkGauge(check.state)
        return out
    }

    static func checkGauge(_ state: StatusCheck.State) -> String {
        "# HELP moat_check_status What `moat status --check` would exit with: 0 OK, 2 CRITICAL, 3 UNKNOWN.\n"
            + "# TYPE moat_check_status gauge\nmoat_check_status \(state.rawValue)\n"
    }

    /// The metrics when the host could not be judged (an invalid file, an unreadable host):
    /// the check's UNKNOWN alone, so a collector's file never keeps a stale OK.
    public static var unknownMetrics: String { checkGauge(.unknown) }

    /// A label value as the text format wants it: backslash, double quote and newline escaped.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
