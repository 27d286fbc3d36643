import MoatConfig

/// One DHCP lease as dnsmasq keeps it in its lease file.
public struct Lease: Hashable, Sendable {
    /// When the lease ends, in seconds since 1970; nil for an infinite lease (dnsmasq writes 0).
    public var expiry: Int?
    /// The guest's MAC address, lower case as dnsmasq writes it.
    public var mac: String
    public var ip: IPv4Address
    /// The name the guest sent; nil when it sent none (dnsmasq writes `*`).
    public var hostname: String?
    /// The DHCP client identifier; nil when the guest sent none (`*`).
    public var clientID: String?

    public init(expiry: Int?, mac: String, ip: IPv4Address, hostname: String? = nil, clientID: String? = nil) {
        self.expiry = expiry
        self.mac = mac
        self.ip = ip
        self.hostname = hostname
        self.clientID = clientID
    }

    /// Whether the lease still holds at `now` (seconds since 1970). dnsmasq leaves expired
    /// leases in its file until it next rewrites it.
    public func isActive(at now: Int) -> Bool {
        guard let expiry else { return true }
        return expiry > now
    }
}

/// Parses dnsmasq's lease file: one lease per line, `EXPIRY MAC IP HOSTNAME CLIENTID`
/// (`1700000000 52:54:00:12:34:56 192.168.100.10 builder 01:52:54:00:12:34:56`). Pure.
///
/// Lines moat has no use for are skipped rather than failing the whole file, because the
/// file belongs to dnsmasq and a status must still show the other leases: the `duid` line
/// and IPv6 leases (moat declares no IPv6), and anything malformed (a half-written line).
/// A lease's fields are separated by single spaces; a hostname never contains one.
public func parseLeases(_ text: String) -> [Lease] {
    var leases: [Lease] = []
    for line in text.split(whereSeparator: \.isNewline) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 4, let expiry = Int(fields[0]), expiry >= 0,
            isMAC(fields[1]), let ip = IPv4Address(fields[2])
        else { continue }
        let hostname = fields[3] == "*" ? nil : String(fields[3])
        let clientID = fields.count >= 5 && fields[4] != "*" ? String(fields[4]) : nil
        leases.append(
            Lease(expiry: expiry == 0 ? nil : expiry, mac: fields[1].lowercased(), ip: ip, hostname: hostname, clientID: clientID))
    }
    return leases
}

/// An Ethernet MAC as dnsmasq writes it: six pairs of hex digits separated by colons. (Other
/// hardware types have other lengths; moat's bridges carry Ethernet only.)
private func isMAC(_ text: Substring) -> Bool {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    return parts.count == 6 && parts.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isHexDigit) }
}
