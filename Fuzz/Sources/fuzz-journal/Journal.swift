import FuzzSupport
import MoatCore

/// The run dir's journal.json as the snapshot reads it (`Journal(parsing:)`), the message the
/// next run prints about it, and the host with it, planned for.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let journal = Journal(parsing: FuzzInput(data, size).text) else { return 0 }
    keep(journal.interruptedMessage)
    keep(journal.text)
    Lab.plan(on: Snapshot.assemble(Snapshot.Facts(journal: journal, journalInterrupted: true)))
    return 0
}
