import Foundation

/// One of a configuration's files, as read: its text, or why it has none.
public struct ConfigSource: Sendable {
    /// The name diagnostics carry, as the user gave it (or as found in a directory).
    public var file: String
    /// The text; nil when the file could not be read as text (`problem` says why).
    public var text: String?
    public var problem: Diagnostic?

    public init(file: String, text: String) {
        self.file = file
        self.text = text
    }

    public init(file: String, problem: String, line: Int = 0, column: Int = 0) {
        self.file = file
        self.problem = Diagnostic(path: "", message: problem, file: file, line: line, column: column)
    }
}

/// The outcome of reading a configuration (one file, or several read as one): the config
/// when it is valid, and every diagnostic.
public struct ConfigCheck: Sendable {
    /// What the configuration is called in messages: the file, or the files and folders
    /// as the user gave them.
    public var file: String
    /// Each file read, in the order read, with its text (empty when it was not text).
    public var sources: [(file: String, text: String)]
    /// nil exactly when there is an error; warnings leave it set.
    public var config: Config?
    /// Errors and warnings: file by file, in file order; file-level problems (line 0) first.
    public var diagnostics: [Diagnostic]

    public var isValid: Bool { config != nil }
    /// What is legal but almost certainly wrong; only ever found in a file without errors.
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    /// The text of the first file: the whole of a one-file configuration.
    public var source: String { sources.first?.text ?? "" }
    /// Each file's text by its name, for printing source lines under diagnostics.
    public var texts: [String: String] {
        Dictionary(sources.map { ($0.file, $0.text) }, uniquingKeysWith: { first, _ in first })
    }
}

/// Reads moat files: size and encoding limits, YAML, every rule of the format, defaults.
/// Several files are one configuration: their networks are put together, and every rule
/// that compares networks compares them all.
///
/// Pure: the files themselves are read by `check(paths:)` (MoatHost), which hands the bytes here.
public enum ConfigLoader {
    /// Real files are a few KiB; anything bigger than this is refused before parsing.
    public static let maxFileSize = 1 << 20

    /// Checks raw bytes: refuses what is too big, not UTF-8, or holds NUL bytes.
    public static func check(bytes: [UInt8], file: String) -> ConfigCheck {
        check([source(bytes: bytes, file: file)], name: file)
    }

    /// The file's text, or why it is not a moat file: too big, not UTF-8, or holding NUL bytes.
    public static func source(bytes: [UInt8], file: String) -> ConfigSource {
        if bytes.count > maxFileSize {
            return ConfigSource(
                file: file, problem: "the file is larger than \(maxFileSize) bytes (1 MiB), the most moat reads; it is not a moat file")
        }
        var scalars = String.UnicodeScalarView()
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var line = 1
        var column = 1
        decoding: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\0" {
                    return ConfigSource(file: file, problem: "the file holds a NUL byte; it is not a text file", line: line, column: column)
                }
                scalars.append(scalar)
                if scalar == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .emptyInput:
                break decoding
            case .error:
                return ConfigSource(file: file, problem: "the file is not UTF-8 text", line: line, column: column)
            }
        }
        return ConfigSource(file: file, text: String(scalars))
    }

    /// Checks YAML text; `file` is only the name diagnostics carry.
    public static func check(text: String, file: String) -> ConfigCheck {
        check([ConfigSource(file: file, text: text)], name: file)
    }

    /// Checks several files as one configuration, called `name` in messages. Each file is a
    /// whole moat document (`version: 1` and `networks:`); a network is declared in one of
    /// them only, and `block` and `uplinks` are given in one at most.
    public static func check(_ sources: [ConfigSource], name: String) -> ConfigCheck {
        var decoder = ConfigDecoder()
        var drafts: [ConfigDraft] = []
        var texts: [(file: String, text: String)] = []
        for source in sources {
            texts.append((source.file, source.text ?? ""))
            guard let text = source.text else {
                if let problem = source.problem { decoder.reader.add(problem) }
                continue
            }
            if text.utf8.count > maxFileSize {
                decoder.reader.error(
                    file: source.file, 0, 0, .root, "the file is larger than \(maxFileSize) bytes (1 MiB), the most moat reads")
                continue
            }
            switch YAMLComposer.compose(text, file: source.file) {
            case .failure(let error):
                decoder.reader.error(file: source.file, error.line, error.column, .root, error.message)
            case .success(nil):
                decoder.reader.error(
                    file: source.file, 1, 1, .root, "the file is empty; it needs at least `version: 1` and `networks:`")
            case .success(let root?):
                if let draft = decoder.decode(root) { drafts.append(draft) }
            }
        }
        var config: Config?
        if !drafts.isEmpty {
            let draft = decoder.merge(drafts)
            decoder.checkAcrossNetworks(draft)
            if !decoder.reader.hasErrors {
                let resolved = draft.resolved()
                decoder.checkWarnings(draft, resolved)
                config = resolved
            }
        }
        let order = Dictionary(sources.enumerated().map { ($1.file, $0) }, uniquingKeysWith: { first, _ in first })
        return ConfigCheck(
            file: name, sources: texts, config: config, diagnostics: inFileOrder(decoder.reader.diagnostics, order))
    }

    /// The config in `text`, or a MoatError carrying every diagnostic.
    public static func load(text: String, file: String) throws(MoatError) -> Config {
        try check(text: text, file: file).get()
    }

    /// A check that failed before any YAML was read: the file is unreadable, too big, or not text.
    public static func failure(file: String, line: Int = 0, column: Int = 0, _ message: String) -> ConfigCheck {
        check([ConfigSource(file: file, problem: message, line: line, column: column)], name: file)
    }

    private static func inFileOrder(_ diagnostics: [Diagnostic], _ order: [String: Int]) -> [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            (order[a.element.file] ?? 0, a.element.line, a.element.column, a.offset)
                < (order[b.element.file] ?? 0, b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }
}

extension ConfigCheck {
    /// The config, or a MoatError whose diagnostics say why there is none.
    public func get() throws(MoatError) -> Config {
        if let config { return config }
        let count = errors.count
        throw MoatError(
            .failed, "\(file) is invalid: \(count) error\(count == 1 ? "" : "s")", diagnostics: diagnostics, sources: texts)
    }

    /// Diagnostics as compilers print them, each under its own file's source line.
    public func printed(_ diagnostics: [Diagnostic], color: Bool) -> String {
        DiagnosticPrinter.render(diagnostics, sources: texts, color: color)
    }

    /// `moat validate`'s line for a valid file: `moat.yaml: valid, 2 networks (lab, board).`,
    /// with `, 1 warning` before the full stop when there are warnings.
    public var summary: String {
        guard let config else {
            let count = errors.count
            return "\(file): invalid, \(count) error\(count == 1 ? "" : "s")."
        }
        let names = config.networks.map(\.name)
        var text = "\(file): valid, \(names.count) network\(names.count == 1 ? "" : "s")"
        if !names.isEmpty { text += " (\(names.joined(separator: ", ")))" }
        let warningCount = warnings.count
        if warningCount > 0 { text += ", \(warningCount) warning\(warningCount == 1 ? "" : "s")" }
        return text + "."
    }

    /// `moat validate --json`: `{"diagnostics": [...], "file": ..., "files": [...], "networks": [...], "valid": ...}`,
    /// keys sorted, so it diffs cleanly.
    public var jsonReport: String {
        let networks: [[String: Any]] = (config?.networks ?? []).map { network in
            [
                "name": network.name,
                "device": network.device.name,
                "kind": network.device.isBridge ? "bridge" : "interface",
                "found_by": { if case .interfaceWithMAC = network.device { "mac" } else { "name" } }(),
                "optional": network.optional,
                "address": network.address.description,
                "mode": network.mode.rawValue,
            ]
        }
        let report: [String: Any] = [
            "valid": isValid,
            "file": file,
            "files": sources.map(\.file),
            "diagnostics": diagnostics.map(\.jsonObject),
            "networks": networks,
        ]
        return JSONText.document(report)
    }
}
