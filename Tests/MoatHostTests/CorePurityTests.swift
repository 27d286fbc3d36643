import Foundation
import Testing

/// The pure core (MoatConfig, MoatCore) decides from values alone: it depends on no package
/// that reaches the system, and its sources call no process, file, clock or environment
/// API. Foundation re-exports the C library on Linux, so the build alone cannot keep it so;
/// this test does.
@Suite("The core is pure")
struct CorePurityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let coreTargets = ["MoatConfig", "MoatCore"]

    /// What would let core code reach a process, a file, the clock or the environment, as
    /// patterns over a line of code (raw `open` shows by its flags).
    static let forbidden = [
        #"\bFileManager\b"#, #"\bFileHandle\b"#, #"\bFileDescriptor\b"#, #"contentsOfFile"#, #"(String|Data)\(contentsOf"#,
        #"\.write\((to|toFile):"#, #"\bProcess\("#, #"\bProcessInfo\b"#, #"\bCommandLine\b"#, #"\bgetpid\b"#, #"\bgetenv\b"#,
        #"\bDate\(\)"#, #"\bDate\.now\b"#, #"\.current\b"#, #"\bDispatchTime\b"#, #"\b(Continuous|Suspending)Clock\b"#,
        #"\bTask\.sleep\b"#, #"(^|[^\w.])u?sleep\("#, #"\bclock_gettime\b"#, #"(^|[^\w.])(flock|kill|stat|fopen|popen|system)\("#,
        #"\bO_(RDONLY|WRONLY|RDWR|CREAT)\b"#, #"\bisatty\b"#, #"\b(Glibc|Darwin|Subprocess|SystemPackage)\b"#,
    ]

    @Test("the package graph: the core targets depend on nothing but each other and Yams")
    func graph() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        for target in Self.coreTargets {
            let start = try #require(manifest.range(of: "name: \"\(target)\""), "\(target) is not in Package.swift")
            let rest = manifest[start.upperBound...]
            let end = rest.range(of: "swiftSettings")?.lowerBound ?? rest.endIndex
            let declaration = rest[..<end]
            for name in ["MoatReconcile", "MoatHost", "Subprocess", "SystemPackage", "swift-system", "swift-subprocess"] {
                #expect(!declaration.contains("\"\(name)\""), "\(target) depends on \(name)")
            }
        }
    }

    @Test("the core's sources import nothing that reaches the system and call no such API", arguments: coreTargets)
    func sources(_ target: String) throws {
        let folder = Self.root.appendingPathComponent("Sources/\(target)")
        let patterns = try Self.forbidden.map { try Regex($0) }
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty)
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                guard !code.hasPrefix("//") else { continue }
                if code.hasPrefix("import ") {
                    #expect(["import Foundation", "import MoatConfig", "import Yams"].contains(code), "\(target)/\(file):\(number + 1): \(code)")
                }
                for pattern in patterns where code.contains(pattern) {
                    Issue.record("\(target)/\(file):\(number + 1) reaches the system: \(code)")
                }
            }
        }
    }
}
