import Foundation
import FuzzSupport
import MoatCore

/// A dnsmasq lease file as `moat status --leases` reads it (`parseLeases`) and prints it, as
/// text and as JSON.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let leases = parseLeases(FuzzInput(data, size).text)
    let device = DeviceState(name: "virbr10", owned: true, addresses: [], arp: .strict)
    let live = HostState(networks: ["lab": NetworkState(name: "lab", device: device)])
    let report = Status.report(
        live: live, config: nil, file: nil, paths: Lab.paths, leases: ["lab": leases], pidFiles: [:], now: 1_750_000_000)
    keep(report.humanText(color: false, leases: true, now: 1_750_000_000, timeZone: utc))
    keep(report.json(leases: true))
    return 0
}

let utc = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? .autoupdatingCurrent
