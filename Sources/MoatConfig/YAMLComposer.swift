// Builds a node tree from libyaml's event stream (the libyaml that ships inside Yams).
//
// Why not `Yams.compose(yaml:)`: its composer recurses once per nesting level (a deep
// file overflows the stack before libyaml's own limit of 1,000 levels), it stops at the
// first duplicate key (we want every error at once, pointing at the second key), and
// its duplicate check hashes whole key nodes, which for an alias bomb used as a key
// walks an exponentially large tree. This composer is iterative, caps the depth and
// charges every alias the full size of what it stands for, so no later walk of the
// tree can cost more than `maxNodes`.
internal import CYaml

/// One node of the document, with the place it starts (1-based, columns in characters).
struct YAMLNode: Sendable {
    struct Scalar: Sendable {
        var text: String
        /// Unquoted and untagged: the only scalars whose type is read from their text.
        var isPlain: Bool
        /// `!!str` forces a string even when the text looks like a number.
        var forcedString: Bool
    }
    struct Pair: Sendable {
        var key: YAMLNode
        var value: YAMLNode
    }
    indirect enum Kind: Sendable {
        case scalar(Scalar)
        case sequence([YAMLNode])
        case mapping([Pair])
    }

    var kind: Kind
    /// The file the node was read from: diagnostics about it name this file, whichever of
    /// a configuration's files the rule that found the problem compared it with.
    var file: String
    var line: Int
    var column: Int
    /// Nodes in this subtree, aliases counted as what they expand to.
    var size: Int
}

/// Why the text could not be read as YAML at all.
struct YAMLSyntaxError: Error, Sendable {
    var message: String
    var line: Int
    var column: Int
}

enum YAMLComposer {
    /// Deeper than any moat file needs (about 6 levels), far below what could hurt.
    static let maxDepth = 64
    /// A 1 MiB file of short scalars holds fewer; an alias bomb expands to far more.
    static let maxNodes = 100_000
    static let tooDeep = "nesting deeper than \(maxDepth) levels; a moat file needs about 6"

    /// The document's root, nil for an empty stream.
    static func compose(_ text: String, file: String) -> Result<YAMLNode?, YAMLSyntaxError> {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0x0a] }  // libyaml wants a non-null buffer
        return bytes.withUnsafeBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                return .failure(YAMLSyntaxError(message: "out of memory reading YAML", line: 1, column: 1))
            }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = Builder(file: file)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    return .failure(syntaxError(parser, text: text))
                }
                defer { yaml_event_delete(&event) }
                switch builder.consume(event) {
                case .next: continue
                case .done: return .success(builder.root)
                case .failed(let error): return .failure(error)
                }
            }
        }
    }

    private static func syntaxError(_ parser: yaml_parser_t, text: String) -> YAMLSyntaxError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unreadable YAML"
        let context = parser.context.map { String(cString: $0) }
        var line = parser.problem_mark.line + 1
        var column = parser.problem_mark.column + 1
        if parser.error == YAML_READER_ERROR {
            // Reader errors carry a byte offset, not a mark.
            (line, column) = position(ofByte: parser.problem_offset, in: text)
        }
        if character(atLine: line, column: column, in: text) == "\t" || problem.contains("tab") {
            return YAMLSyntaxError(
                message: "a tab character where YAML expects indentation; indent with spaces",
                line: line, column: column)
        }
        if problem.contains("Maximum nesting level") {
            // libyaml's own limit (1,000), met first when its scanner reads ahead in flow style.
            return YAMLSyntaxError(message: YAMLComposer.tooDeep, line: line, column: column)
        }
        var message = "YAML syntax error: \(problem)"
        if let context {
            // The context mark says where the unfinished construct began, often far above.
            let mark = parser.context_mark
            message += " (\(context) started at line \(mark.line + 1), column \(mark.column + 1))"
        }
        return YAMLSyntaxError(message: message, line: line, column: column)
    }

    /// 1-based line and character column of a byte offset.
    static func position(ofByte offset: Int, in text: String) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        var consumed = 0
        for scalar in text.unicodeScalars {
            if consumed >= offset { break }
            consumed += String(scalar).utf8.count
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    private static func character(atLine line: Int, column: Int, in text: String) -> Unicode.Scalar? {
        guard line >= 1, column >= 1 else { return nil }
        let lines = text.split(separator: "\n", maxSplits: line, omittingEmptySubsequences: false)
        guard line - 1 < lines.count else { return nil }
        let scalars = Array(lines[line - 1].unicodeScalars.prefix(column))
        return column - 1 < scalars.count ? scalars[column - 1] : nil
    }
}

/// Turns events into nodes with an explicit stack, so depth costs heap, not stack.
private struct Builder {
    enum Step {
        case next, done
        case failed(YAMLSyntaxError)
    }

    private struct Frame {
        var isMapping: Bool
        var anchor: String?
        var line: Int
        var column: Int
        var size: Int
        var items: [YAMLNode] = []
        var pairs: [YAMLNode.Pair] = []
        var pendingKey: YAMLNode?
    }

    let file: String
    init(file: String) { self.file = file }

    private(set) var root: YAMLNode?
    private var stack: [Frame] = []
    private var anchors: [String: YAMLNode] = [:]
    private var total = 0
    private var documents = 0

    mutating func consume(_ event: yaml_event_t) -> Step {
        let line = event.start_mark.line + 1
        let column = event.start_mark.column + 1
        switch event.type {
        case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
            return .next
        case YAML_STREAM_END_EVENT:
            return .done
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                return .failed(
                    YAMLSyntaxError(
                        message: "a second YAML document (after `---`); moat reads one document per file",
                        line: line, column: column))
            }
            return .next
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let text =
                data.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: data.length), as: UTF8.self) }
                ?? ""
            let tag = data.tag.map { String(cString: $0) }
            let scalar = YAMLNode.Scalar(
                text: text,
                isPlain: data.style == YAML_PLAIN_SCALAR_STYLE && tag == nil,
                forcedString: tag == "tag:yaml.org,2002:str")
            let node = YAMLNode(kind: .scalar(scalar), file: file, line: line, column: column, size: 1)
            if let anchor = data.anchor.map({ String(cString: $0) }) { anchors[anchor] = node }
            return attach(node)
        case YAML_ALIAS_EVENT:
            let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
            guard var node = anchors[name] else {
                return .failed(
                    YAMLSyntaxError(
                        message: "alias *\(name) refers to no anchor defined before it", line: line, column: column))
            }
            // Errors about the alias's value should point at the alias, not the anchor.
            node.line = line
            node.column = column
            return attach(node)
        case YAML_SEQUENCE_START_EVENT:
            let anchor = event.data.sequence_start.anchor.map { String(cString: $0) }
            return open(Frame(isMapping: false, anchor: anchor, line: line, column: column, size: 1))
        case YAML_MAPPING_START_EVENT:
            let anchor = event.data.mapping_start.anchor.map { String(cString: $0) }
            return open(Frame(isMapping: true, anchor: anchor, line: line, column: column, size: 1))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return .next }
            let kind: YAMLNode.Kind = frame.isMapping ? .mapping(frame.pairs) : .sequence(frame.items)
            let node = YAMLNode(kind: kind, file: file, line: frame.line, column: frame.column, size: frame.size)
            if let anchor = frame.anchor { anchors[anchor] = node }
            return attach(node, counted: true)
        default:
            return .next
        }
    }

    private mutating func open(_ frame: Frame) -> Step {
        guard stack.count < YAMLComposer.maxDepth else {
            return .failed(
YAMLSyntaxError(message: YAMLComposer.tooDeep, line: frame.line, column: frame.column))
        }
        total += 1
        stack.append(frame)
        return .next
    }

    /// `counted`: a closed collection whose own node was charged when it opened.
    private mutating func attach(_ node: YAMLNode, counted: Bool = false) -> Step {
        if !counted {
            total += node.size
            if total > YAMLComposer.maxNodes {
                return .failed(
                    YAMLSyntaxError(
                        message: "the document expands to more than \(YAMLComposer.maxNodes) nodes "
                            + "(aliases that multiply, like a \"billion laughs\" bomb?)",
                        line: node.line, column: node.column))
            }
        }
        let top = stack.count - 1
        guard top >= 0 else {
            root = node
            return .next
        }
        // Mutate in place: copying the frame out and back would copy its children each time.
        stack[top].size = min(stack[top].size + node.size, Int.max / 2)
        if !stack[top].isMapping {
            stack[top].items.append(node)
        } else if let key = stack[top].pendingKey {
            stack[top].pairs.append(YAMLNode.Pair(key: key, value: node))
            stack[top].pendingKey = nil
        } else {
            stack[top].pendingKey = node
        }
        return .next
    }
}
