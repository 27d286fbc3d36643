import Foundation
import Testing

/// `contrib/moat.service` passes `systemd-analyze verify`. The unit names the installed
/// `/usr/local/bin/moat`, which a test machine need not have, and verify rightly fails on a
/// missing executable: so a copy that names the built binary is verified, and the test
/// checks that the copy differs from the original only in that path.
@Suite("The systemd unit", .enabled(if: Shell.exists("systemd-analyze")))
struct SystemdUnitTests {
    static let installed = "/usr/local/bin/moat"

    @Test("contrib/moat.service passes systemd-analyze verify, pointed at the built moat")
    func verifies() throws {
        let unit = try String(
            contentsOf: Environment.packageRoot.appendingPathComponent("contrib/moat.service"), encoding: .utf8)
        let binary = Environment.moatBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build moat first: \(binary)")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moat-unit-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("moat.service")
        try unit.replacingOccurrences(of: Self.installed, with: binary).write(to: copy, atomically: true, encoding: .utf8)

        let ran = try Shell.run(["systemd-analyze", "verify", copy.path])
        #expect(ran.status == 0, "\(ran)")
        #expect(ran.stderr.isEmpty && ran.stdout.isEmpty, "verify had something to say: \(ran)")
    }

    @Test("it applies at boot after the network is online, and destroys on stop")
    func shape() throws {
        let unit = try String(
            contentsOf: Environment.packageRoot.appendingPathComponent("contrib/moat.service"), encoding: .utf8)
        let lines = Set(unit.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for line in [
            "Type=oneshot", "RemainAfterExit=yes", "After=network-online.target", "Wants=network-online.target",
            "ExecStart=\(Self.installed) apply --auto-approve", "ExecStop=\(Self.installed) destroy --auto-approve", "WantedBy=multi-user.target",
        ] {
            #expect(lines.contains(line), "missing: \(line)")
        }
    }
}
