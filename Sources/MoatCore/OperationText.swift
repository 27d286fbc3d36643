import Foundation
import MoatConfig

extension Operation {
    /// What the operation does, one line per command, rule or file, as a reviewer reads it:
    /// `ip link add …`, `iptables -t filter -A MOAT-IN-lab …`, `write /var/lib/moat/…`.
    /// Printed by `plan --verbose`, and kept in a saved plan, whose steps are compared with the
    /// ones planning its config gives, so an edited line makes the plan refused.
    public func lines(paths: Paths) -> [String] {
        switch self {
        case .link(let command): ["ip \(command.batchLine)"]
        case .deleteBridge(let device): ["ip link del dev \(device)"]
        case .disableIPv6(let device, let on): ["sysctl net.ipv6.conf.\(device).disable_ipv6=\(on ? 1 : 0)"]
        case .setARP(let device, let arp):
            ["sysctl net.ipv4.conf.\(device).arp_ignore=\(arp.ignore)", "sysctl net.ipv4.conf.\(device).arp_announce=\(arp.announce)"]
        case .ipForward(let on, let keeping):
            (keeping.map { ["write \(paths.ipForwardRecord): \($0 ? 1 : 0)"] } ?? []) + ["sysctl net.ipv4.ip_forward=\(on ? 1 : 0)"]
        case .forgetIPForwardRecord: ["remove \(paths.ipForwardRecord)"]
        case .writeChain(let chain, let rules) where chain.backend == .nftables:
            ["nft add chain inet moat \(NftablesBackend.name(of: chain)) (or flush it)"]
                + rules.map { "nft add rule inet moat \(NftablesBackend.name(of: chain)) \(NftablesBackend.text(of: $0, in: chain.table))" }
        case .deleteChain(let chain) where chain.backend == .nftables: ["nft delete chain inet moat \(NftablesBackend.name(of: chain))"]
        case .writeChain(let chain, let rules):
            ["iptables -t \(chain.table) -N \(chain.name) (or flush it)"]
                + rules.map { "iptables -t \(chain.table) -A \(chain.name) \(IptablesBackend.text(of: $0))" }
        case .deleteChain(let chain): ["iptables -t \(chain.table) -F \(chain.name)", "iptables -t \(chain.table) -X \(chain.name)"]
        case .replaceJumps(let builtin, let old, let new):
            old.map { "iptables -t \(builtin.table) -D \(builtin.name) \(IptablesBackend.text(of: $0))" }
                + new.map { "iptables -t \(builtin.table) -I \(builtin.name) \(IptablesBackend.text(of: $0))" }
        case .stopDnsmasq(let network, let pid): ["kill -TERM \(pid) (dnsmasq of \(network))"]
        case .writeDnsmasqFiles(let network, let instance):
            [
                "write \(paths.dnsmasqConfig(network)) (sha256 \(SHA256.hex(instance.config)))",
                "write \(paths.dhcpHostsFile(network)) (sha256 \(SHA256.hex(instance.dhcpHosts)))",
                "write \(paths.hostsFile(network)) (sha256 \(SHA256.hex(instance.hosts)))",
            ]
        case .startDnsmasq(let network): ["dnsmasq --conf-file=\(paths.dnsmasqConfig(network))"]
        case .reloadDnsmasq(let network, let pid): ["kill -HUP \(pid) (dnsmasq of \(network))"]
        case .removeFiles(let files): files.map { "remove \($0)" }
        case .writeInterfaceRecord(let network, let record):
            ["write \(paths.interfaceRecord(network)): \(record.text.trimmingCharacters(in: .newlines))"]
        case .cutConnections(let network, _): ["conntrack -D: the tracked connections of \(network) the new rules do not admit"]
        }
    }
}
