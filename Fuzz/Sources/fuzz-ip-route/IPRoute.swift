import FuzzSupport
import MoatConfig
import MoatCore

/// The output of `ip -j route show` as the snapshot reads it (`parseRoutes(json:)`), and the
/// host those routes make, planned for (the conflict checks read the routes).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let routes: [Route]
    do {
        routes = try parseRoutes(json: FuzzInput(data, size).text)
    } catch {
        require(error is MoatError, "parseRoutes threw \(type(of: error)), not a MoatError")
        return 0
    }
    Lab.plan(on: Snapshot.assemble(Snapshot.Facts(routes: routes)))
    return 0
}
