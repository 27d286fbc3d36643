import Foundation
import MoatConfig
import MoatHost

#if canImport(Glibc)
    import Glibc
#endif

/// One unit of work: what the journal records before it runs and progress shows.
struct Unit: Sendable {
    var title: String
    var work: @Sendable () async throws -> Void
}

/// Turns a plan into batched units: one `ip -batch` for every link change, one
/// `iptables-restore --noflush` for every firewall change, one unit per dnsmasq.
struct Executor: Sendable {
    let system: any HostSystem
    let paths: Paths

    func units(for plan: Plan) -> [Unit] {
        let operations = plan.steps.flatMap(\.operations)
        let phases = Dictionary(grouping: operations, by: \.phase)
        return phases.keys.sorted().flatMap { units(phase: phases[$0] ?? []) }
    }

    /// The units of one phase: batched kinds become one unit, the others one unit each.
    func units(phase operations: [Operation]) -> [Unit] {
        var units: [Unit] = []
        var links: [LinkCommand] = []
        var firewall: [Operation] = []
        var sysctls: [(String, Bool)] = []
        var removals: [String] = []
        for operation in operations {
            switch operation {
            case .link(let command): links.append(command)
            case .disableIPv6(let device, let on): sysctls.append((device, on))
            case .writeChain, .deleteChain, .replaceJumps: firewall.append(operation)
            case .removeFiles(let files): removals += files
            case .forgetIPForwardRecord: removals.append(paths.ipForwardRecord)
            case .stopDnsmasq(let network, let pid):
                units.append(Unit(title: "stop dnsmasq of \(network) (pid \(pid))") { try await stopDnsmasq(pid: pid) })
            case .writeInterfaceRecord(let network, let record):
                units.append(Unit(title: "record interface \(record.device) as it is, for network \(network)") {
                    let data = try JSONEncoder.sorted.encode(record)
                    try system.write(paths.interfaceRecord(network), String(decoding: data, as: UTF8.self) + "\n")
                })
            case .ipForward(let on, let recordPrevious):
                units.append(Unit(title: "set net.ipv4.ip_forward=\(on ? 1 : 0)") {
                    if recordPrevious, system.read(paths.ipForwardRecord) == nil {
                        let current = system.read("/proc/sys/net/ipv4/ip_forward")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "0"
                        try system.write(paths.ipForwardRecord, current + "\n")
                    }
                    try system.setSysctl("net/ipv4/ip_forward", on ? "1" : "0")
                })
            case .writeDnsmasqFiles(let network, let instance):
                units.append(Unit(title: "write dnsmasq files of \(network)") {
                    try system.write(paths.dhcpHostsFile(network), instance.dhcpHosts)
                    try system.write(paths.hostsFile(network), instance.hosts)
                    try system.write(paths.dnsmasqConfig(network), instance.config)
                })
            case .startDnsmasq(let network):
                units.append(Unit(title: "start dnsmasq of \(network)") {
                    try await system.runner.check(["dnsmasq", "--conf-file=\(paths.dnsmasqConfig(network))"])
                })
            case .reloadDnsmasq(let network, let pid):
                units.append(Unit(title: "reload dnsmasq of \(network) (SIGHUP to pid \(pid))") { try system.signal(pid, SIGHUP) })
            }
        }
        if !links.isEmpty {
            let lines = links.enumerated().sorted { ($0.element.order, $0.offset) < ($1.element.order, $1.offset) }.map(\.element.batchLine)
            units.append(Unit(title: "ip -batch: \(count(lines.count, "device and address change"))") {
                try await system.runner.check(["ip", "-batch", "-"], input: lines.joined(separator: "\n") + "\n")
            })
        }
        if !sysctls.isEmpty {
            let sysctls = sysctls
            units.append(Unit(title: "set disable_ipv6 on \(sysctls.map(\.0).joined(separator: ", "))") {
                for (device, on) in sysctls { try system.setSysctl("net/ipv6/conf/\(device)/disable_ipv6", on ? "1" : "0") }
            })
        }
        if !firewall.isEmpty {
            let payload = Self.restorePayload(firewall)
            units.append(Unit(title: "iptables-restore --noflush: \(count(firewall.count, "chain change"))") {
                try await system.runner.check(["iptables-restore", "--noflush"], input: payload)
            })
        }
        if !removals.isEmpty {
            let removals = removals
            units.append(Unit(title: "remove \(count(removals.count, "file")) moat no longer needs") {
                for file in removals { try system.remove(file) }
            })
        }
        return units
    }

    /// One transaction: chains declared (created or flushed) first, old jumps removed, rules
    /// appended, new jumps inserted at the top, chains no longer needed deleted last.
    static func restorePayload(_ operations: [Operation]) -> String {
        var text = ""
        for table in FirewallTable.allCases {
            var declare: [String] = []
            var removeJumps: [String] = []
            var append: [String] = []
            var insertJumps: [String] = []
            var delete: [String] = []
            for operation in operations {
                switch operation {
                case .writeChain(let chain, let rules) where chain.table == table:
                    declare.append(":\(chain.name) - [0:0]")
                    append += rules.map { "-A \(chain.name) \($0)" }
                case .deleteChain(let chain) where chain.table == table:
                    declare.append(":\(chain.name) - [0:0]")
                    delete.append("-X \(chain.name)")
                case .replaceJumps(let builtin, let old, let new) where builtin.table == table:
                    removeJumps += old.map { "-D \(builtin.name) \($0)" }
                    insertJumps += new.reversed().map { "-I \(builtin.name) 1 \($0)" }
                default:
                    break
                }
            }
            let lines = declare + removeJumps + append + insertJumps + delete
            guard !lines.isEmpty else { continue }
            text += "*\(table.rawValue)\n" + lines.joined(separator: "\n") + "\nCOMMIT\n"
        }
        return text
    }

    /// SIGTERM, then wait for it to go; SIGKILL if it will not within five seconds.
    func stopDnsmasq(pid: Int32) async throws {
        guard system.isRunning(pid) else { return }
        try system.signal(pid, SIGTERM)
        for attempt in 0..<500 {
            if !system.isRunning(pid) { return }
            if attempt == 250 { try system.signal(pid, SIGKILL) }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw MoatError("dnsmasq (pid \(pid)) did not stop after SIGTERM and SIGKILL")
    }
}

func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
