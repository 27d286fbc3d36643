// Reading typed values out of YAMLNodes, with a diagnostic at the node for every mismatch.

/// Where a value sits in the file, printed like `networks.lab.dhcp.hosts[0].mac`.
struct ConfigPath: Sendable, CustomStringConvertible {
    private enum Component: Sendable {
        case key(String)
        case index(Int)
    }
    private var components: [Component] = []

    static let root = ConfigPath()

    func key(_ name: String) -> ConfigPath {
        var copy = self
        copy.components.append(.key(name))
        return copy
    }
    func index(_ index: Int) -> ConfigPath {
        var copy = self
        copy.components.append(.index(index))
        return copy
    }

    var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let name) where Self.isBareKey(name):
                text += text.isEmpty ? name : ".\(name)"
            case .key(let name):
                // A hostile name (spaces, newlines, `$(...)`) must not break the line it is printed on.
                text += "[\(quoted(name))]"
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }

    private static func isBareKey(_ name: String) -> Bool {
        TextShape.isBareKey(name)
    }
}

/// User text inside a message: quoted, control characters escaped, long text cut.
func quoted(_ text: String) -> String {
    var out = "\""
    for (count, scalar) in text.unicodeScalars.enumerated() {
        if count == 60 {
            out += "…"
            break
        }
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// A scalar's value as YAML 1.1 (the dialect PyYAML and most editors use) reads it, so
/// that the Swift validator and the JSON Schema test see the same types.
enum ScalarValue: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    /// Floats, octal, hex, sexagesimal: numbers moat never wants.
    case otherNumber
    case string(String)

    init(_ scalar: YAMLNode.Scalar) {
        guard scalar.isPlain else {
            self = .string(scalar.text)
            return
        }
        let text = scalar.text
        switch text {
        case "", "~", "null", "Null", "NULL":
            self = .null
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON":
            self = .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF":
            self = .bool(false)
        default:
            if let value = TextShape.decimalInt(text) {
                self = .int(value)
            } else if TextShape.isOtherYAML11Number(text) {
                self = .otherNumber
            } else {
                self = .string(text)
            }
        }
    }

    var kindName: String {
        switch self {
        case .null: "nothing (null)"
        case .bool: "a boolean"
        case .int, .otherNumber: "a number"
        case .string: "a string"
        }
    }
}

extension YAMLNode {
    var kindName: String {
        switch kind {
        case .scalar(let scalar): ScalarValue(scalar).kindName
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

/// A mapping's entries by key, after unknown and duplicate keys were reported.
struct Fields {
    var node: YAMLNode
    var path: ConfigPath
    private(set) var entries: [(key: String, keyNode: YAMLNode, value: YAMLNode)] = []

    init(node: YAMLNode, path: ConfigPath) {
        self.node = node
        self.path = path
    }
    mutating func add(_ key: String, _ keyNode: YAMLNode, _ value: YAMLNode) {
        entries.append((key, keyNode, value))
    }
    subscript(_ key: String) -> YAMLNode? {
        entries.first { $0.key == key }?.value
    }
}

/// Collects diagnostics while reading nodes; every `read*` returns nil after reporting.
/// A diagnostic at a node names the node's file; one at a bare position names `file`.
struct NodeReader {
    private(set) var diagnostics: [Diagnostic] = []

    mutating func error(file: String, _ line: Int, _ column: Int, _ path: ConfigPath, _ message: String) {
        diagnostics.append(
            Diagnostic(path: path.description, message: message, file: file, line: line, column: column))
    }
    /// A diagnostic found before any node was read (a file that is not text).
    mutating func add(_ diagnostic: Diagnostic) { diagnostics.append(diagnostic) }
    mutating func error(_ node: YAMLNode, _ path: ConfigPath, _ message: String) {
        error(file: node.file, node.line, node.column, path, message)
    }

    /// Legal but almost certainly wrong: reported, and the file stays valid.
    mutating func warning(_ node: YAMLNode, _ path: ConfigPath, _ message: String) {
        diagnostics.append(
            Diagnostic(
                severity: .warning, path: path.description, message: message, file: node.file, line: node.line,
                column: node.column))
    }

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// Keys as strings, in file order; reports non-string keys and duplicates (at the later one).
    mutating func entries(_ node: YAMLNode, _ path: ConfigPath, what: String = "a mapping")
        -> [(key: String, keyNode: YAMLNode, value: YAMLNode)]?
    {
        guard case .mapping(let pairs) = node.kind else {
            error(node, path, "expected \(what), found \(node.kindName)")
            return nil
        }
        var seen: [String: YAMLNode] = [:]
        var result: [(key: String, keyNode: YAMLNode, value: YAMLNode)] = []
        for pair in pairs {
            guard case .scalar(let scalar) = pair.key.kind else {
                error(pair.key, path, "a key must be a plain string, found \(pair.key.kindName)")
                continue
            }
            let key = scalar.text
            if scalar.isPlain, key == "<<" {
                error(pair.key, path, "merge keys (`<<`) are not supported; write the keys out")
                continue
            }
            if let first = seen[key] {
                error(
                    pair.key, path.key(key),
                    "duplicate key \(quoted(key)); it is already set at line \(first.line), column \(first.column)")
                continue
            }
            seen[key] = pair.key
            result.append((key, pair.key, pair.value))
        }
        return result
    }

    /// A mapping with a fixed set of keys: unknown keys get a "did you mean".
    mutating func fields(_ node: YAMLNode, _ path: ConfigPath, known: [String], required: [String] = [])
        -> Fields?
    {
        guard let entries = entries(node, path) else { return nil }
        var fields = Fields(node: node, path: path)
        for entry in entries {
            if known.contains(entry.key) {
                fields.add(entry.key, entry.keyNode, entry.value)
            } else {
                error(entry.keyNode, path.key(entry.key), unknownKeyMessage(entry.key, known: known))
            }
        }
        for key in required where fields[key] == nil {
            error(node, path, "missing required key `\(key)`")
        }
        return fields
    }

    mutating func string(_ node: YAMLNode, _ path: ConfigPath, what: String = "a string") -> String? {
        if case .scalar(let scalar) = node.kind, case .string(let text) = ScalarValue(scalar) {
            return text
        }
        error(node, path, "expected \(what), found \(node.kindName)")
        return nil
    }

    mutating func bool(_ node: YAMLNode, _ path: ConfigPath) -> Bool? {
        if case .scalar(let scalar) = node.kind, case .bool(let value) = ScalarValue(scalar) {
            return value
        }
        error(node, path, "expected true or false, found \(node.kindName)")
        return nil
    }

    mutating func int(_ node: YAMLNode, _ path: ConfigPath, what: String) -> Int? {
        if case .scalar(let scalar) = node.kind, case .int(let value) = ScalarValue(scalar) {
            return value
        }
        error(node, path, "expected \(what), found \(node.kindName)")
        return nil
    }

    mutating func list(_ node: YAMLNode, _ path: ConfigPath) -> [YAMLNode]? {
        guard case .sequence(let items) = node.kind else {
            error(node, path, "expected a list, found \(node.kindName)")
            return nil
        }
        return items
    }

    /// One of a fixed set of words.
    mutating func word(_ node: YAMLNode, _ path: ConfigPath, oneOf words: [String]) -> String? {
        let expected = words.map { "`\($0)`" }.joined(separator: ", ")
        guard case .scalar(let scalar) = node.kind, case .string(let text) = ScalarValue(scalar) else {
            error(node, path, "expected one of \(expected), found \(node.kindName)")
            return nil
        }
        guard words.contains(text) else {
            var message = "\(quoted(text)) is not one of \(expected)"
            if let close = closest(to: text, in: words) { message += "; did you mean `\(close)`?" }
            error(node, path, message)
            return nil
        }
        return text
    }

    private func unknownKeyMessage(_ key: String, known: [String]) -> String {
        if let close = closest(to: key, in: known) {
            return "unknown key \(quoted(key)); did you mean `\(close)`?"
        }
        return "unknown key \(quoted(key)); expected one of " + known.map { "`\($0)`" }.joined(separator: ", ")
    }
}

/// The candidate nearest to `word` when it is near enough to be a typo.
func closest(to word: String, in candidates: [String]) -> String? {
    let lowered = word.lowercased()
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let distance = editDistance(lowered, candidate)
        if distance <= max(1, min(3, candidate.count / 3)), distance < (best?.distance ?? Int.max) {
            best = (candidate, distance)
        }
    }
    return best?.candidate
}

/// Levenshtein distance, over characters; long input is cut since no key is long.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.prefix(64))
    let b = Array(b.prefix(64))
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
