import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


@Suite("Parsing dnsmasq's lease file")
struct LeasesTests {
    func ip(_ text: String) throws -> IPv4Address { try #require(IPv4Address(text)) }

    @Test("a lease is EXPIRY MAC IP HOSTNAME CLIENTID")
    func fullLease() throws {
        let leases = parseLeases("1718000000 52:54:00:12:34:56 192.168.100.10 builder 01:52:54:00:12:34:56\n")
        #expect(
            leases == [
                Lease(expiry: 1_718_000_000, mac: "52:54:00:12:34:56", ip: try ip("192.168.100.10"), hostname: "builder", clientID: "01:52:54:00:12:34:56")
            ])
    }

    @Test("`*` means the guest sent no name or no client id")
    func starsAreAbsent() throws {
        let leases = parseLeases("1718000100 52:54:00:ab:cd:ef 192.168.100.150 * *\n")
        #expect(leases == [Lease(expiry: 1_718_000_100, mac: "52:54:00:ab:cd:ef", ip: try ip("192.168.100.150"))])
    }

    @Test("expiry 0 is an infinite lease, active at any time")
    func infinite() throws {
        let lease = try #require(parseLeases("0 02:00:00:00:00:01 10.20.0.2 board *").first)
        #expect(lease.expiry == nil)
        #expect(lease.isActive(at: Int.max))
    }

    @Test("a lease is active until its expiry, not at it")
    func activeUntilExpiry() throws {
        let lease = Lease(expiry: 100, mac: "02:00:00:00:00:01", ip: try ip("10.0.0.2"))
        #expect(lease.isActive(at: 99))
        #expect(!lease.isActive(at: 100))
    }

    @Test("the DUID line and IPv6 leases are skipped; the IPv4 leases around them are kept")
    func ipv6Skipped() throws {
        let text = """
            1718000000 52:54:00:12:34:56 192.168.100.10 builder 01:52:54:00:12:34:56
            duid 00:01:00:01:2c:4f:7e:1a:52:54:00:00:00:01
            1718000200 305419896 fd00::10 host6 00:01:00:01:2c:4f:7e:1a:52:54:00:00:00:02
            1718000300 52:54:00:00:00:03 192.168.100.11 tester *

            """
        #expect(parseLeases(text).map(\.hostname) == ["builder", "tester"])
    }

    @Test("a missing client id (four fields) is accepted")
    func fourFields() throws {
        #expect(parseLeases("1718000000 52:54:00:12:34:56 192.168.100.10 builder").first?.clientID == nil)
    }

    @Test("MACs are kept lower case, as dnsmasq compares them")
    func macCase() throws {
        #expect(parseLeases("1 52:54:00:AB:CD:EF 10.0.0.2 * *").first?.mac == "52:54:00:ab:cd:ef")
    }

    @Test(
        "malformed lines are skipped, never a crash",
        arguments: [
            "", "\n\n", "garbage", "1718000000", "1718000000 52:54:00:12:34:56", "x 52:54:00:12:34:56 10.0.0.2 a *",
            "-5 52:54:00:12:34:56 10.0.0.2 a *", "1 52:54:00:12:34 10.0.0.2 a *", "1 52:54:00:12:34:zz 10.0.0.2 a *",
            "1 52:54:00:12:34:56 10.0.0.256 a *", "1 52:54:00:12:34:56 010.0.0.2 a *", "\u{0}\u{1}\u{2} \u{FFFD}",
            "99999999999999999999999 52:54:00:12:34:56 10.0.0.2 a *",
        ])
    func malformed(line: String) {
        #expect(parseLeases(line).isEmpty)
    }

    @Test("a half-written last line does not hide the leases before it")
    func truncatedTail() throws {
        let text = "1718000000 52:54:00:12:34:56 192.168.100.10 builder *\n1718000300 52:54:00:00"
        #expect(parseLeases(text).count == 1)
    }

    @Test("Windows line ends are tolerated")
    func crlf() throws {
        #expect(parseLeases("1 52:54:00:12:34:56 10.0.0.2 a *\r\n2 52:54:00:12:34:57 10.0.0.3 b *\r\n").count == 2)
    }
}
