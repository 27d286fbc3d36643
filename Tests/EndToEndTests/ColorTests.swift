import Foundation
import Testing

/// Colour only on a terminal, never with NO_COLOR (SPEC §1). moat's diagnostics are run
/// on a pseudo-terminal that python3's `pty` module provides, and through a pipe.
@Suite("Colour", .enabled(if: Shell.exists("python3")))
struct ColorTests {
    /// Runs argv[2...] on a pseudo-terminal ("tty"), or with its output to a pipe ("pipe");
    /// NO_COLOR is removed from its environment, unless argv[1] is "tty-no-color" (set to 1).
    static let runner = """
        import os, pty, subprocess, sys
        mode, argv = sys.argv[1], sys.argv[2:]
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        if mode == "tty-no-color":
            env["NO_COLOR"] = "1"
        if mode == "pipe":
            done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            sys.stdout.buffer.write(done.stdout)
            sys.exit(0)
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(argv[0], argv, env)
        out = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.waitpid(pid, 0)
        sys.stdout.buffer.write(out)
        """

    func validate(_ mode: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moat-color-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("moat.yaml")
        try "version: 1\nnetworks:\n  lab:\n    bridge: virbr10\n    address: 300.1.1.1/24\n".write(
            to: file, atomically: true, encoding: .utf8)
        let ran = try Shell.run(["python3", "-c", Self.runner, mode, Environment.moatBinary, "validate", file.path])
        #expect(ran.status == 0, "\(ran)")
        #expect(ran.stdout.contains("address"), "the diagnostic is missing: \(ran)")
        return ran.stdout
    }

    @Test("diagnostics are coloured on a terminal")
    func colouredOnATerminal() throws {
        #expect(try validate("tty").contains("\u{1B}["))
    }

    @Test("never with NO_COLOR, and never when the output is not a terminal")
    func plainOtherwise() throws {
        #expect(try !validate("tty-no-color").contains("\u{1B}["))
        #expect(try !validate("pipe").contains("\u{1B}["))
    }
}
