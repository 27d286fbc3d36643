import FuzzSupport
import MoatConfig
import MoatCore

/// The output of `ip -j -d addr show` as the snapshot reads it (`parseIPAddr(json:)`), the
/// devices whose /proc files it then reads, and the host those links make, planned for.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let links: [Link]
    do {
        links = try parseIPAddr(json: FuzzInput(data, size).text)
    } catch {
        require(error is MoatError, "parseIPAddr threw \(type(of: error)), not a MoatError")
        return 0
    }
    let devices = Snapshot.devicesToInspect(links: links)
    // Each name goes into a /proc path.
    require(devices.allSatisfy { !$0.isEmpty && !$0.contains("/") && $0 != "." && $0 != ".." }, "a device name leaves its folder: \(devices)")
    Lab.plan(on: Snapshot.assemble(Snapshot.Facts(links: links)))
    return 0
}
