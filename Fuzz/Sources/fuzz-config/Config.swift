import FuzzSupport
import MoatConfig
import MoatCore

/// A moat file as `moat validate FILE` reads it (`ConfigLoader.check(bytes:file:)`: size,
/// UTF-8, NUL, YAML, every rule) and prints it (compiler style, JSON, GitHub annotations).
/// A valid file goes on as `moat render` and `moat plan` on an empty host take it, and its
/// saved plan must read back as itself (else `moat apply PLANFILE` refuses what `plan` wrote).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FuzzInput(data, size)
    let check = ConfigLoader.check(bytes: input.bytes, file: "fuzz.yaml")
    keep(check.printed(check.diagnostics, color: true))
    keep(check.summary)
    keep(check.jsonReport)
    keep(DiagnosticPrinter.github(check.diagnostics))
    guard let config = check.config else {
        require(!check.errors.isEmpty, "an invalid file without an error")
        return 0
    }

    var renderable = config
    renderable.networks.removeAll { if case .interfaceWithMAC = $0.device { true } else { false } }
    keep(Render(renderable, paths: Lab.paths, upstream: ["192.0.2.53"]).text)

    let live = HostState()
    let placed = Placement.place(config, on: live).config
    keep(Conflicts.find(config: placed, live: live))
    let plan = Diff.plan(desired: DesiredState.render(placed, paths: Lab.paths), live: live, paths: Lab.paths)
    keep(plan.humanText(color: false, operations: Lab.paths))

    let text = String(decoding: input.bytes, as: UTF8.self)
    let saved = SavedPlan(
        plan: plan, arguments: ["/etc/moat/moat.yaml"], files: [.init(path: "/etc/moat/moat.yaml", text: text)],
        host: .init(hostname: "fuzz", machineID: "0"), live: live, config: placed, paths: Lab.paths, moatVersion: "0.0.0")
    require((try? SavedPlan(parsing: saved.text, from: "fuzz.plan")) == saved, "the saved plan of a valid file does not read back")
    return 0
}
