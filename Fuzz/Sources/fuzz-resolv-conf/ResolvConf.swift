import FuzzSupport
import MoatCore

/// /etc/resolv.conf as the snapshot reads it (`DnsmasqConfig.upstream(resolvConf:)`), and the
/// `server=` lines a `nat` network's dnsmasq config gets from it: one line per resolver, so
/// nothing in the file can add a line of its own to dnsmasq's config.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let resolvers = DnsmasqConfig.upstream(resolvConf: FuzzInput(data, size).text)
    let desired = DesiredState.render(Lab.placed, paths: Lab.paths, upstream: resolvers)
    let config = desired.networks["lab"]?.dnsmasq?.config ?? ""
    let servers = config.split(separator: "\n").filter { $0.hasPrefix("server=") }.map { String($0.dropFirst("server=".count)) }
    require(servers == resolvers, "resolvers \(resolvers) became the lines \(servers)")
    return 0
}
