import FuzzSupport
import MoatCore

/// The output of `iptables-save` as the snapshot reads it (`IptablesBackend.parseSave`), and
/// the host those chains and jumps make, planned for. Every rule read must print back as the
/// text it was read from (a typed rule only when it renders so, else opaque).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let dump = IptablesBackend.parseSave(FuzzInput(data, size).text)
    for rule in Array(dump.chains.values.joined()) + dump.jumps.values.joined() {
        let text = IptablesBackend.text(of: rule)
        require(IptablesBackend.parseRule(text) == rule, "a rule does not read back from its text: \(text)")
    }
    Lab.plan(on: Snapshot.assemble(Snapshot.Facts(firewall: dump)))
    return 0
}
