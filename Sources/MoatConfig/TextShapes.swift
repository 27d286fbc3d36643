// Shapes of small strings, checked byte by byte. Swift's Regex costs tens of microseconds
// a match, which a 1 MiB file of 100,000 scalars turns into seconds; these cost nanoseconds.

enum TextShape {
    static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
    static func isLower(_ byte: UInt8) -> Bool { (0x61...0x7a).contains(byte) }
    static func isLetter(_ byte: UInt8) -> Bool { isLower(byte) || (0x41...0x5a).contains(byte) }
    static func isHex(_ byte: UInt8) -> Bool { isDigit(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte) }

    /// `[-+]?(0|[1-9][0-9]*)` as an Int: the only integers moat reads.
    static func decimalInt(_ text: String) -> Int? {
        var body = Substring(text)
        if body.first == "-" || body.first == "+" { body = body.dropFirst() }
        guard !body.isEmpty, body.utf8.count <= 18, body.utf8.allSatisfy(isDigit), body == "0" || body.first != "0"
        else { return nil }
        return Int(text)
    }

    /// What YAML 1.1 (PyYAML) reads as a number besides plain decimals: underscores, octal,
    /// hex, binary, base 60, floats, infinities and NaN.
    static func isOtherYAML11Number(_ text: String) -> Bool {
        if [".nan", ".NaN", ".NAN"].contains(text) { return true }
        var body = Substring(text)
        if body.first == "-" || body.first == "+" { body = body.dropFirst() }
        let bytes = Array(body.utf8)
        guard let first = bytes.first else { return false }
        if [".inf", ".Inf", ".INF"].contains(body) { return true }
        func all(_ slice: ArraySlice<UInt8>, _ allowed: (UInt8) -> Bool) -> Bool {
            !slice.isEmpty && slice.allSatisfy { allowed($0) || $0 == 0x5f }  // digits and `_`
        }
        if bytes.starts(with: Array("0x".utf8)) { return all(bytes.dropFirst(2), isHex) }
        if bytes.starts(with: Array("0b".utf8)) { return all(bytes.dropFirst(2)) { $0 == 0x30 || $0 == 0x31 } }
        if first == 0x30, bytes.count > 1, all(bytes.dropFirst(), { (0x30...0x37).contains($0) }) { return true }
        if first != 0x30, isDigit(first) {
            let parts = body.split(separator: ":", omittingEmptySubsequences: false)
            if all(ArraySlice(Array(parts[0].utf8)), isDigit) {
                if parts.count == 1 { return true }
                // Base 60, like 1:30:00: each later part [0-5]?[0-9].
                if parts.dropFirst().allSatisfy({ part in
                    let digits = Array(part.utf8)
                    return (1...2).contains(digits.count) && digits.allSatisfy(isDigit)
                        && (digits.count == 1 || digits[0] <= 0x35)
                }) {
                    return true
                }
            }
        }
        // Floats: ([0-9][0-9_]*)?.[0-9_]*([eE][-+][0-9]+)?, with digits on at least one side.
        let halves = body.split(separator: ".", omittingEmptySubsequences: false)
        guard halves.count == 2 else { return false }
        let left = Array(halves[0].utf8)
        var right = ArraySlice(Array(halves[1].utf8))
        if let e = right.firstIndex(where: { $0 == 0x65 || $0 == 0x45 }) {
            let exponent = right[(e + 1)...]
            guard let sign = exponent.first, sign == 0x2b || sign == 0x2d,
                all(exponent.dropFirst(), isDigit)
            else { return false }
            right = right[..<e]
        }
        let leftOK = left.isEmpty || (isDigit(left[0]) && all(left[...], isDigit))
        let rightOK = right.isEmpty || all(right, isDigit)
        return leftOK && rightOK && (!left.isEmpty || !right.isEmpty)
    }

    /// `[0-9]{1,digits}` as an Int.
    static func number(_ text: Substring, digits: Int) -> Int? {
        guard (1...digits).contains(text.utf8.count), text.utf8.allSatisfy(isDigit) else { return nil }
        return Int(text)
    }

    /// `xx:xx:xx:xx:xx:xx`, hex digits in either case.
    static func isMAC(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { $0.utf8.count == 2 && $0.utf8.allSatisfy(isHex) }
    }

    /// `[a-z][a-z0-9-]{0,14}`.
    static func isNetworkName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, isLower(first), bytes.count <= 15 else { return false }
        return bytes.allSatisfy { isLower($0) || isDigit($0) || $0 == 0x2d }
    }

    /// 1-15 of `A-Za-z0-9_.-`, not `.` or `..`.
    static func isDeviceName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...15).contains(bytes.count), name != ".", name != ".." else { return false }
        return bytes.allSatisfy { isLetter($0) || isDigit($0) || $0 == 0x5f || $0 == 0x2e || $0 == 0x2d }
    }

    /// A DNS label: 1-63 letters, digits or `-`, not starting or ending with `-`.
    static func isHostName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), bytes.first != 0x2d, bytes.last != 0x2d else { return false }
        return bytes.allSatisfy { isLetter($0) || isDigit($0) || $0 == 0x2d }
    }

    /// Dot-separated labels, each `isHostName`; at most 253 bytes; no empty label, so no
    /// leading, trailing or doubled dot.
    static func isDomainName(_ name: String) -> Bool {
        guard (1...253).contains(name.utf8.count) else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isHostName(String($0)) }
    }

    /// A key printable in a path without quoting: `[A-Za-z0-9_-]{1,64}`.
    static func isBareKey(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...64).contains(bytes.count) && bytes.allSatisfy { isLetter($0) || isDigit($0) || $0 == 0x5f || $0 == 0x2d }
    }
}
