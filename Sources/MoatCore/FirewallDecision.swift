import MoatConfig

/// What of the host's other firewalls decides where moat's rules go, and whether guests get
/// through whatever moat does (live only).
public struct FirewallHost: Hashable, Sendable {
    /// `nft` ran: nftables can hold moat's rules.
    public var nftables: Bool
    /// The policy of iptables' filter `FORWARD` (`DROP` next to Docker).
    public var forwardPolicy: String?
    /// iptables filter chains named `DOCKER…`.
    public var dockerChains: [String]
    /// Other nftables tables' base chains that drop what they do not accept (`NftablesDump`).
    public var droppingChains: [NftablesDump.ForeignChain]

    public init(nftables: Bool = false, forwardPolicy: String? = nil, dockerChains: [String] = [], droppingChains: [NftablesDump.ForeignChain] = []) {
        self.nftables = nftables
        self.forwardPolicy = forwardPolicy
        self.dockerChains = dockerChains
        self.droppingChains = droppingChains
    }

    /// Docker, or a firewall like it: iptables drops forwarded traffic by policy, or has
    /// Docker's chains (whose rules may drop it).
    public var dockerLike: Bool { forwardPolicy == "DROP" || !dockerChains.isEmpty }
}

/// The backend a plan uses, and why (`plan` prints it).
public struct FirewallDecision: Hashable, Sendable, CustomStringConvertible {
    public var backend: FirewallBackend
    public var reason: String

    public init(_ backend: FirewallBackend, _ reason: String) {
        self.backend = backend
        self.reason = reason
    }

    public var description: String { "\(backend) (\(reason))" }

    /// The backend for `choice` on `host`. `auto`, in order:
    /// 1. where moat's rules are already (one backend only): a later Docker, say, never moves them;
    /// 2. iptables when `nft` cannot run;
    /// 3. iptables next to Docker (a `FORWARD` policy of DROP, or a `DOCKER` chain): an accept
    ///    in one nftables table is not final, and iptables' drop at the same hook would still
    ///    drop what moat's table let through; in iptables, moat's jump at the top of `FORWARD`
    ///    decides first;
    /// 4. nftables otherwise.
    public static func choose(_ choice: FirewallChoice, host: HostState) -> FirewallDecision {
        switch choice {
        case .iptables: return FirewallDecision(.iptables, "the file says firewall: iptables")
        case .nftables: return FirewallDecision(.nftables, "the file says firewall: nftables")
        case .auto: break
        }
        let live = host.firewallBackends
        if live.count == 1, let backend = live.first {
            return FirewallDecision(backend, "auto: moat's rules are in \(backend) already")
        }
        if !host.firewallHost.nftables { return FirewallDecision(.iptables, "auto: nft cannot run on this host") }
        if host.firewallHost.forwardPolicy == "DROP" {
            return FirewallDecision(.iptables, "auto: iptables' FORWARD policy is DROP (Docker, or like it), and moat's jump at its top decides first")
        }
        if let docker = host.firewallHost.dockerChains.first {
            return FirewallDecision(.iptables, "auto: iptables has Docker's chain \(docker), and moat's jump at the top of FORWARD decides first")
        }
        return FirewallDecision(.nftables, "auto: no Docker-like iptables FORWARD on this host")
    }

    /// What the plan warns of: other firewalls that drop what moat's rules let through,
    /// with what to do, for the devices of `config`.
    public func warnings(config: Config, host: HostState) -> [String] {
        guard !config.networks.isEmpty else { return [] }
        var warnings: [String] = []
        let devices = config.networks.map(\.device.name).filter { !$0.isEmpty }
        if backend == .nftables, host.firewallHost.forwardPolicy == "DROP" {
            warnings.append(
                "iptables' FORWARD policy is DROP: traffic of guests that moat's nftables table accepts is still dropped there "
                    + "(an accept in one table is not final); use `firewall: iptables`, or `auto`, which picks it here")
        }
        for chain in host.firewallHost.droppingChains {
            let remedy =
                chain.table == "firewalld"
                ? devices.map { "`firewall-cmd --permanent --zone=trusted --add-interface=\($0)`" }.joined(separator: ", ")
                    + ", then `firewall-cmd --reload`"
                : "accept moat's devices there first ("
                    + devices.map { "`iifname \"\($0)\" accept`" + (chain.hook == "forward" ? ", `oifname \"\($0)\" accept`" : "") }
                    .joined(separator: ", ") + ")"
            warnings.append(
                "\(chain) drops what it does not accept, whatever moat's rules say: guests get no "
                    + (chain.hook == "input" ? "DHCP or DNS" : "internet") + " through it; \(remedy)")
        }
        return warnings
    }
}

extension HostState {
    /// The backends that hold any of moat's chains.
    public var firewallBackends: Set<FirewallBackend> {
        Set(sharedChains.keys.map(\.backend) + networks.values.flatMap { $0.chains.keys.map(\.backend) })
    }
}
