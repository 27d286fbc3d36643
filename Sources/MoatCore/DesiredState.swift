import MoatConfig

/// The host as a validated `Config` wants it: devices, firewall chains, dnsmasq files and
/// `ip_forward`. Pure: the same config and paths always give the same value.
public enum DesiredState {
    /// Renders `config` (already validated) into the state the host should be in.
    ///
    /// `ipForward` is true when any network routes traffic: a `nat` network, or any network
    /// with `forwards` (DNAT into an isolated network is routed too). false means "moat
    /// does not need it", not "turn it off": other software may rely on it, and the value
    /// found before moat is put back only when the last network goes.
    ///
    /// `upstream`: the host's resolvers (`DnsmasqConfig.upstream(resolvConf:)`), where `nat`
    /// networks forward DNS. `backend`: where the chains go; nftables has no jumps from
    /// built-in chains (its shared chains are base chains).
    public static func render(_ config: Config, paths: Paths, upstream: [String] = [], backend: FirewallBackend = .iptables) -> HostState {
        func placed(_ chains: [ChainID: [FirewallRule]]) -> [ChainID: [FirewallRule]] {
            Dictionary(uniqueKeysWithValues: chains.map { ($0.key.in(backend), $0.value) })
        }
        var networks: [String: NetworkState] = [:]
        for network in config.networks {
            let device = DeviceState(
                name: network.device.name, owned: network.device.isBridge, exists: true, up: true,
                addresses: [network.address], ipv6Disabled: true, arp: .strict)
            networks[network.name] = NetworkState(
                name: network.name, device: device, chains: placed(FirewallChains.chains(of: network, in: config)),
                dnsmasq: DnsmasqConfig.instance(for: network, paths: paths, upstream: upstream, block: config.block))
        }
        let shared = FirewallChains.sharedChains(of: config, backend: backend)
        return HostState(
            ipForward: config.networks.contains { $0.mode == .nat || !$0.forwards.isEmpty },
            networks: networks, sharedChains: placed(shared), jumps: backend == .iptables ? FirewallChains.jumps(to: shared) : [:])
    }
}
