import FuzzSupport
import MoatCore

/// A network's interface.json as the snapshot reads it (`InterfaceRecord(parsing:)`), and the
/// host with that record: planned for with the lab file, and destroyed (the record is what
/// `destroy` puts the device back from, `Lab.plan`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let record = try? InterfaceRecord(parsing: FuzzInput(data, size).text) else { return 0 }
    keep(record.text)
    let live = Snapshot.assemble(Snapshot.Facts(links: [Lab.boardDevice], files: ["board": Snapshot.NetworkFiles(record: record)]))
    Lab.plan(on: live)
    return 0
}
