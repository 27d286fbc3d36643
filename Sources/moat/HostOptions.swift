import ArgumentParser
import Foundation
import MoatConfig
import MoatCore
import MoatHost
import MoatReconcile

/// The configuration and the folders every host command takes.
struct HostOptions: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            "Moat files, or directories of *.yaml files, read as one configuration; `-` reads one from standard input (default: /etc/moat/moat.yaml and /etc/moat/moat.d/*.yaml).",
            valueName: "file"),
        completion: .file(extensions: ["yaml", "yml"]))
    var files: [String] = []

    @Option(name: .customLong("state-dir"), help: "dnsmasq configs, hosts and lease files (default /var/lib/moat, env MOAT_STATE_DIR).")
    var stateDir: String?

    @Option(name: .customLong("run-dir"), help: "pid files, the lock and the journal (default /run/moat, env MOAT_RUN_DIR).")
    var runDir: String?

    var paths: Paths {
        let environment = ProcessInfo.processInfo.environment
        return Paths(
            stateDir: stateDir ?? environment["MOAT_STATE_DIR"] ?? Paths.defaultStateDir,
            runDir: runDir ?? environment["MOAT_RUN_DIR"] ?? Paths.defaultRunDir)
    }

    /// The configuration, valid, or an error carrying every diagnostic. Warnings go to stderr.
    func loadConfig() throws -> Config {
        try loadChecked().config
    }

    /// The configuration, valid, with the check that read it (its files and their text).
    func loadChecked() throws -> (config: Config, check: ConfigCheck) {
        let check = ConfigLoader.check(paths: files)
        return (try Self.load(check), check)
    }

    /// A checked configuration, valid, or an error carrying every diagnostic. Warnings go to stderr.
    static func load(_ check: ConfigCheck) throws -> Config {
        if !check.warnings.isEmpty {
            Terminal.standardError.write(check.printed(check.warnings, color: Terminal.standardError.color))
        }
        var config = try check.get()
        if config.firewall == .auto, let forced = TestFirewall.forced { config.firewall = forced }
        return config
    }

    /// What the configuration is called in the lock holder's line: the files as given.
    var named: String { files.isEmpty ? "(default configuration)" : files.joined(separator: " ") }

    /// `path` made absolute: what a saved plan records.
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL.path
    }

    func reconciler() -> Reconciler {
        // The test points are off unless a test sets their variables (see TestPointSystem).
        let system = TestPointSystem.wrapping(LocalSystem(), environment: ProcessInfo.processInfo.environment)
        return Reconciler(system: system, paths: paths, progress: { Terminal.standardError.write($0) })
    }
}

/// `--auto-approve`, and the question `apply` and `destroy` ask before they change anything
/// when a person is at a terminal.
struct ApprovalOptions: ParsableArguments {
    @Flag(name: .customLong("auto-approve"), help: "Act without asking for 'yes', even on a terminal.")
    var autoApprove = false

    /// The exit code of a question not answered `yes`: nothing was changed.
    static let declinedExitCode: Int32 = 1

    /// Shows a plan that changes something and, when a person is at a terminal (standard input
    /// and output both are), asks for `yes`. Returns whether to act. An empty plan, or one
    /// seen by no terminal (systemd, scripts, CI) or run with `--auto-approve`, goes ahead
    /// without a question. With `--json` the plan is shown (on stderr) only when asking, so
    /// standard output stays one JSON document.
    func showAndConfirm(_ plan: Plan, json: Bool, question: String) -> Bool {
        let asking = !plan.isEmpty && !autoApprove && Terminal.isInteractive
        let screen = json ? Terminal.standardError : Terminal.standardOutput
        if !plan.isEmpty && (!json || asking) { screen.write(plan.humanText(color: screen.color), newline: false) }
        guard asking else { return true }
        screen.write("\n\(question) Only 'yes' will be accepted: ", newline: false)
        let answer = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces)
        return answer == "yes"
    }

    /// Says that the answer was not `yes` and exits with `declinedExitCode`.
    func declined(_ command: String) -> ExitCode {
        Terminal.standardError.write("moat: \(command) cancelled: the answer was not 'yes'; nothing was changed.")
        return ExitCode(Self.declinedExitCode)
    }
}

/// Where output goes, and whether it may be coloured (a TTY, and no NO_COLOR).
struct Terminal: Sendable {
    let descriptor: Int32

    static let standardOutput = Terminal(descriptor: 1)
    static let standardError = Terminal(descriptor: 2)

    var color: Bool { isatty(descriptor) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil }

    /// A person at a terminal: standard input and standard output both are one.
    static var isInteractive: Bool { isatty(0) == 1 && isatty(1) == 1 }

    /// Writes `line`, ending it with a newline unless it has one or `newline` is false.
    func write(_ line: String, newline: Bool = true) {
        let text = line.hasSuffix("\n") || !newline ? line : line + "\n"
        // What `print` buffered goes first, so the two ways of writing keep their order.
        fflush(nil)
        let handle = descriptor == 1 ? FileHandle.standardOutput : FileHandle.standardError
        handle.write(Data(text.utf8))
    }
}

/// The plan's warnings on stderr, one `moat: warning:` line each.
func printWarnings(of plan: Plan) {
    for warning in plan.warnings { Terminal.standardError.write("moat: warning: \(warning)") }
}

/// Runs a command body and turns moat's errors into their message and exit code.
/// With `json`, the error is also printed on stdout as a JSON document
/// (`{"error": {"exit_code", "message", "diagnostics"}, "format_version"}`), so a program
/// reading stdout always gets one document.
func reportingErrors(json: Bool = false, _ body: () async throws -> Void) async throws {
    let failure: MoatError
    do {
        try await body()
        return
    } catch let error as MoatError {
        failure = error
    } catch let error as CommandFailure {
        failure = MoatError("\(error)")
    }
    if !failure.diagnostics.isEmpty {
        Terminal.standardError.write(
            DiagnosticPrinter.render(failure.diagnostics, sources: failure.sources, color: Terminal.standardError.color))
    }
    if !failure.message.isEmpty { Terminal.standardError.write("moat: error: \(failure.message)") }
    if json {
        let error: [String: Any] = [
            "exit_code": Int(failure.exitCode), "message": failure.message, "diagnostics": failure.diagnostics.map(\.jsonObject),
        ]
        print(JSONText.document(["error": error]), terminator: "")
    }
    throw ExitCode(failure.exitCode)
}
