/// A problem in the file, with the place it was found, printed the way compilers print them.
public struct Diagnostic: Hashable, Sendable {
    public enum Severity: String, Hashable, Sendable { case error, warning }

    public var severity: Severity
    /// Like `networks.lab.dhcp.range`; empty for the document itself.
    public var path: String
    public var message: String
    public var file: String
    /// 1-based.
    public var line: Int
    /// 1-based.
    public var column: Int

    public init(severity: Severity = .error, path: String, message: String, file: String, line: Int, column: Int) {
        self.severity = severity
        self.path = path
        self.message = message
        self.file = file
        self.line = line
        self.column = column
    }
}

/// The one error type moat reports: what failed, what the user can do, and the exit code.
public struct MoatError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Invalid config, missing dependency, conflict, failed and rolled back: exit 1.
        case failed
        /// Apply failed and so did its rollback: exit 3.
        case rollbackFailed
        /// The lock is held by another moat: exit 75.
        case locked
        /// Bad command-line usage: exit 64.
        case usage
        /// `status --check` could not judge the host (invalid file, unreadable host): exit 3,
        /// a Nagios plugin's UNKNOWN.
        case unknown
    }

    public var kind: Kind
    public var message: String
    /// Diagnostics of an invalid file, printed before the message.
    public var diagnostics: [Diagnostic]
    /// The text of each file the diagnostics point into, by name, for their source lines.
    public var sources: [String: String]

    public init(_ kind: Kind, _ message: String, diagnostics: [Diagnostic] = [], sources: [String: String] = [:]) {
        self.kind = kind
        self.message = message
        self.diagnostics = diagnostics
        self.sources = sources
    }

    /// A failure: exit 1.
    public init(_ message: String, diagnostics: [Diagnostic] = [], sources: [String: String] = [:]) {
        self.init(.failed, message, diagnostics: diagnostics, sources: sources)
    }

    public var exitCode: Int32 {
        switch kind {
        case .failed: 1
        case .rollbackFailed, .unknown: 3
        case .locked: 75
        case .usage: 64
        }
    }

    public var description: String { message }
}
