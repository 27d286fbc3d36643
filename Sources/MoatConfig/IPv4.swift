/// An IPv4 address as its 32-bit value, so that subnet arithmetic is integer arithmetic.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad text strictly: four decimal octets, no leading zeros, nothing else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                part == "0" || !part.hasPrefix("0"), let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        self.value = value
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }
}

/// An address with a prefix length, like `192.168.100.1/24`: the host's address on a
/// network, or a destination such as `10.0.0.0/8`.
public struct IPv4CIDR: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var prefix: Int

    public init(address: IPv4Address, prefix: Int) {
        precondition((0...32).contains(prefix), "prefix out of range")
        self.address = address
        self.prefix = prefix
    }

    /// Parses `a.b.c.d/n`; without `/n` it is `/32` only when `hostIfBare` is true.
    public init?(_ text: some StringProtocol, hostIfBare: Bool = false) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard let first = parts.first, let address = IPv4Address(first) else { return nil }
        switch parts.count {
        case 1 where hostIfBare:
            self.init(address: address, prefix: 32)
        case 2:
            let bits = parts[1]
            guard !bits.isEmpty, bits.count <= 2, bits.allSatisfy({ $0.isASCII && $0.isNumber }),
                let prefix = Int(bits), prefix <= 32
            else { return nil }
            self.init(address: address, prefix: prefix)
        default:
            return nil
        }
    }

    public var mask: UInt32 { prefix == 0 ? 0 : UInt32.max << (32 - UInt32(prefix)) }
    public var network: IPv4Address { IPv4Address(address.value & mask) }
    public var broadcast: IPv4Address { IPv4Address(address.value | ~mask) }
    /// The subnet this address lies in, as `network/prefix`.
    public var subnet: IPv4CIDR { IPv4CIDR(address: network, prefix: prefix) }
    public var firstHost: IPv4Address { IPv4Address(network.value &+ (prefix >= 31 ? 0 : 1)) }
    public var lastHost: IPv4Address { IPv4Address(broadcast.value &- (prefix >= 31 ? 0 : 1)) }
    /// Dotted netmask, as dnsmasq wants it.
    public var netmask: IPv4Address { IPv4Address(mask) }

    public func contains(_ other: IPv4Address) -> Bool { other.value & mask == network.value }
    /// Whether every address of `other` lies in this one.
    public func covers(_ other: IPv4CIDR) -> Bool { prefix <= other.prefix && contains(other.network) }
    public func overlaps(_ other: IPv4CIDR) -> Bool {
        let common = min(prefix, other.prefix)
        let m: UInt32 = common == 0 ? 0 : UInt32.max << (32 - UInt32(common))
        return address.value & m == other.address.value & m
    }

    public var description: String { "\(address)/\(prefix)" }
}
