import FuzzSupport
import MoatCore

/// A pid file (`Snapshot.parsePid`, for dnsmasq's pid files) and a `/proc/PID/cmdline`
/// (`Snapshot.isDnsmasq(cmdline:config:)` for dnsmasq's, `Snapshot.isMoat(cmdline:)` for the
/// journal's writer), the input read as either.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = FuzzInput(data, size).text
    if let pid = Snapshot.parsePid(text) { require(pid > 0, "a pid file names pid \(pid)") }
    keep(Snapshot.isDnsmasq(cmdline: text, config: Lab.paths.dnsmasqConfig("lab")))
    keep(Snapshot.isMoat(cmdline: text))
    return 0
}
