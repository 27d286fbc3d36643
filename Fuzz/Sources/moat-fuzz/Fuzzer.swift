import Foundation
import MoatFuzzTargets

/// The libFuzzer entry points of `moat-fuzz`: one binary for every target of
/// `FuzzTarget.all`, which `--target=NAME` picks (libFuzzer leaves arguments that start
/// with `--` to the program). `--list` prints the targets' names; `--write-plan-seeds=DIR
/// FILE...` writes the seeds of `saved-plan` from moat files. Both then exit.
nonisolated(unsafe) var selected: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let arguments = (0..<Int(argc.pointee)).compactMap { argv.pointee?[$0].map { String(cString: $0) } }
    func value(_ flag: String) -> String? {
        arguments.first { $0.hasPrefix(flag + "=") }.map { String($0.dropFirst(flag.count + 1)) }
    }
    if arguments.contains("--list") {
        print(FuzzTarget.all.keys.sorted().joined(separator: "\n"))
        exit(0)
    }
    if let folder = value("--write-plan-seeds") {
        let files = arguments.dropFirst().filter { !$0.hasPrefix("-") }
        do {
            let written = try FuzzTarget.writePlanSeeds(into: URL(fileURLWithPath: folder, isDirectory: true), from: files)
            print("moat-fuzz: \(written) saved plans written into \(folder)")
            exit(0)
        } catch {
            fatalError("moat-fuzz: cannot write the plan seeds into \(folder): \(error)")
        }
    }
    guard let name = value("--target"), let target = FuzzTarget.all[name] else {
        fatalError("moat-fuzz: --target=NAME is needed, one of: \(FuzzTarget.all.keys.sorted().joined(separator: " "))")
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    do {
        try selected?.run(Array(UnsafeBufferPointer(start: data, count: size)))
    } catch {
        fatalError("\(error)")  // libFuzzer keeps the input as a crash
    }
    return 0
}
