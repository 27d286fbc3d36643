import Foundation
import MoatFuzzTargets
import Testing

/// The inputs the fuzzer (`make fuzz`) once failed on, kept as `Fuzz/regressions/<target>/<name>`.
/// Each goes through its target (`FuzzTarget`, the same function the fuzzer runs), which must
/// give a value or a clean error, never a crash or a broken property.
@Suite("Inputs the fuzzers found")
struct FuzzRegressionTests {
    static let regressions = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions")

    /// One kept input: the target it is for (its folder) and its file name.
    struct Input: Sendable, CustomTestStringConvertible {
        var target: String
        var name: String
        var testDescription: String { "\(target)/\(name)" }
        var bytes: [UInt8] {
            get throws { [UInt8](try Data(contentsOf: regressions.appendingPathComponent(target).appendingPathComponent(name))) }
        }
    }

    static let inputs: [Input] = entries(of: regressions).flatMap { target in
        entries(of: regressions.appendingPathComponent(target)).map { Input(target: target, name: $0) }
    }

    @Test("each kept input goes through its fuzz target: a value or a clean error, never a crash", arguments: inputs)
    func replay(_ input: Input) throws {
        let target = try #require(FuzzTarget.all[input.target], "Fuzz/regressions/\(input.target) is no fuzz target's")
        try target.run(try input.bytes)
    }

    @Test("every target takes an empty input and the smallest documents")
    func smallest() throws {
        let samples: [[UInt8]] = [[], Array("{}".utf8), Array("[]".utf8), Array("networks:\n".utf8)]
        for target in FuzzTarget.all.values {
            for sample in samples { try target.run(sample) }
        }
    }

    /// The names in a folder, hidden ones left out, sorted; none when there is no folder.
    static func entries(of folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
}
