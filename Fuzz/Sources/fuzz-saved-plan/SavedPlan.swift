import Foundation
import FuzzSupport
import MoatConfig
import MoatCore

/// A plan file as `moat show` and `moat apply PLANFILE` read it: told from a config by its
/// start (`looksLikePlan`), refused unless UTF-8, read as untrusted input
/// (`SavedPlan(parsing:from:)`), printed, and its embedded files checked as the apply does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FuzzInput(data, size)
    keep(SavedPlan.looksLikePlan(String(decoding: input.bytes.prefix(4096), as: UTF8.self)))
    guard let text = String(data: Data(input.bytes), encoding: .utf8) else { return 0 }
    let plan: SavedPlan
    do {
        plan = try SavedPlan(parsing: text, from: "fuzz.plan")
    } catch {
        keep(error.description)
        return 0
    }
    keep(plan.humanText(color: true))
    let check = ConfigLoader.check(plan.sources, name: plan.files.map(\.path).joined(separator: ", "))
    keep(check.summary)
    return 0
}

/// `fuzz-saved-plan --write-seeds=DIR FILE...`: writes into DIR the plan `moat plan --out`
/// saves for each valid moat FILE on an empty host, then exits. No plan file is kept in the
/// tree (the format changes with moat); the seeds are made from the config fixtures instead.
/// libFuzzer leaves arguments that start with `--` to the target.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let arguments = (0..<Int(argc.pointee)).compactMap { argv.pointee?[$0].map { String(cString: $0) } }
    guard let flag = arguments.dropFirst().first, flag.hasPrefix("--write-seeds=") else { return 0 }
    let folder = URL(fileURLWithPath: String(flag.dropFirst("--write-seeds=".count)), isDirectory: true)
    var written = 0
    for file in arguments.dropFirst(2) {
        guard let data = FileManager.default.contents(atPath: file),
            let config = ConfigLoader.check(bytes: [UInt8](data), file: file).config
        else { continue }
        let path = "/etc/moat/" + URL(fileURLWithPath: file).lastPathComponent
        let live = HostState()
        let placed = Placement.place(config, on: live).config
        let plan = Diff.plan(desired: DesiredState.render(placed, paths: Lab.paths), live: live, paths: Lab.paths)
        let saved = SavedPlan(
            plan: plan, arguments: [path], files: [.init(path: path, text: String(decoding: data, as: UTF8.self))],
            host: .init(hostname: "lab-host", machineID: "0123456789abcdef0123456789abcdef"), live: live, config: placed,
            paths: Lab.paths, moatVersion: "0.1.0")
        // Named by the whole path: the diff cases' files are all `config.yaml`.
        let name = file.split(separator: "/").joined(separator: "_") + ".plan.json"
        do {
            try saved.text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
            written += 1
        } catch {
            fatalError("cannot write \(name) into \(folder.path): \(error)")
        }
    }
    print("fuzz-saved-plan: \(written) saved plans written into \(folder.path)")
    exit(0)
}
