import FuzzSupport
import MoatConfig
import MoatCore

/// `conntrack -L` output as an apply that tightened a network's rules reads it
/// (`Conntrack.parse`), what of it the lab configuration's rules would not admit
/// (`ConnectionCut.toCut`), and the `conntrack -D` argv that deletes each such entry.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let connections = Conntrack.parse(FuzzInput(data, size).text)
    let doomed = ConnectionCut.toCut(
        connections, config: Lab.placed, tightened: Set(Lab.placed.networks.map(\.name)), local: Lab.localAddresses)
    for connection in doomed {
        let argv = connection.deleteArguments
        // Each value is one argument: nothing read may add an option of its own.
        require(argv.allSatisfy { !$0.isEmpty && !$0.contains(" ") }, "conntrack -D argv \(argv)")
        keep(argv)
    }
    return 0
}
