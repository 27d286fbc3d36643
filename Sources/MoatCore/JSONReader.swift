import Foundation

/// A strict JSON reader into plain Swift values: `[String: Any]`, `[Any]`, `String`, `Int`
/// (a number without fraction or exponent that fits), `Double`, `Bool` and `NSNull` for null.
/// For nft's listings, the largest output moat reads (800 kB for 100 networks):
/// Foundation's `JSONSerialization` gives Foundation objects there, which every `as?` cast
/// of the reader converts again, and with them the no-op plan spent most of its time and
/// memory on that listing. Anything that is not JSON (RFC 8259), or nests deeper than
/// `maxDepth`, is nil.
enum JSONReader {
    static let maxDepth = 512

    static func value(_ text: String) -> Any? {
        var reader = Reader(bytes: Array(text.utf8))
        reader.skipSpace()
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipSpace()
        return reader.index == reader.bytes.count ? value : nil
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var next: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = next, byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d { index += 1 }
        }

        /// Consumes `byte` (after any space) when it comes next.
        mutating func take(_ byte: UInt8) -> Bool {
            skipSpace()
            guard next == byte else { return false }
            index += 1
            return true
        }

        mutating func value(depth: Int) -> Any? {
            guard depth < JSONReader.maxDepth, let byte = next else { return nil }
            switch byte {
            case UInt8(ascii: "{"): return object(depth: depth)
            case UInt8(ascii: "["): return array(depth: depth)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return word("true") ? true : nil
            case UInt8(ascii: "f"): return word("false") ? false : nil
            case UInt8(ascii: "n"): return word("null") ? NSNull() : nil
            default: return number()
            }
        }

        mutating func word(_ text: String) -> Bool {
            let word = Array(text.utf8)
            guard bytes.count - index >= word.count, bytes[index..<index + word.count].elementsEqual(word) else { return false }
            index += word.count
            return true
        }

        mutating func object(depth: Int) -> Any? {
            index += 1
            var object: [String: Any] = [:]
            if take(UInt8(ascii: "}")) { return object }
            repeat {
                skipSpace()
                guard next == UInt8(ascii: "\""), let key = string(), take(UInt8(ascii: ":")) else { return nil }
                skipSpace()
                guard let value = value(depth: depth + 1) else { return nil }
                object[key] = value
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "}")) ? object : nil
        }

        mutating func array(depth: Int) -> Any? {
            index += 1
            var array: [Any] = []
            if take(UInt8(ascii: "]")) { return array }
            repeat {
                skipSpace()
                guard let value = value(depth: depth + 1) else { return nil }
                array.append(value)
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "]")) ? array : nil
        }

        /// A string, from its opening quote; its text must be UTF-8.
        mutating func string() -> String? {
            index += 1
            var text: [UInt8] = []
            while let byte = next {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(validating: text, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = next else { return nil }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escaped)
                    case UInt8(ascii: "b"): text.append(0x08)
                    case UInt8(ascii: "f"): text.append(0x0c)
                    case UInt8(ascii: "n"): text.append(0x0a)
                    case UInt8(ascii: "r"): text.append(0x0d)
                    case UInt8(ascii: "t"): text.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let scalar = unicodeEscape() else { return nil }
                        text.append(contentsOf: String(Character(scalar)).utf8)
                    default: return nil
                    }
                case 0..<0x20:
                    return nil
                default:
                    text.append(byte)
                }
            }
            return nil
        }

        /// The scalar of a `\u` escape (its `\u` read), a surrogate pair joined.
        mutating func unicodeEscape() -> Unicode.Scalar? {
            guard let unit = hex4() else { return nil }
            switch unit {
            case 0xd800..<0xdc00:
                guard word("\\u"), let low = hex4(), (0xdc00..<0xe000).contains(low) else { return nil }
                return Unicode.Scalar(0x10000 + (unit - 0xd800) << 10 + (low - 0xdc00))
            case 0xdc00..<0xe000:
                return nil
            default:
                return Unicode.Scalar(unit)
            }
        }

        mutating func hex4() -> UInt32? {
            guard bytes.count - index >= 4 else { return nil }
            var value: UInt32 = 0
            for byte in bytes[index..<index + 4] {
                guard let digit = hexDigit(byte) else { return nil }
                value = value << 4 | digit
            }
            index += 4
            return value
        }

        func hexDigit(_ byte: UInt8) -> UInt32? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
            default: nil
            }
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() -> Any? {
            let start = index
            func digits() -> Int {
                let from = index
                while let byte = next, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
                return index - from
            }
            if next == UInt8(ascii: "-") { index += 1 }
            let first = next
            let whole = digits()
            guard whole > 0, first != UInt8(ascii: "0") || whole == 1 else { return nil }
            var integral = true
            if next == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { return nil }
                integral = false
            }
            if next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
                index += 1
                if next == UInt8(ascii: "+") || next == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { return nil }
                integral = false
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if integral, let int = Int(text) { return int }
            return Double(text)
        }
    }
}
