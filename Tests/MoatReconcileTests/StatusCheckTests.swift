import MoatConfig
import Testing
@testable import MoatCore

/// `status --check` and `--format prometheus` from a report built by hand.
@Suite("The monitoring check and metrics")
struct StatusCheckTests {
    func network(_ name: String, firewall: FirewallStatus.State = .inPlace, dnsmasq: Bool = true, waiting: String? = nil) -> NetworkStatus {
        NetworkStatus(
            name: name, declared: true, applied: waiting == nil, device: waiting == nil ? "br-\(name)" : nil, kind: "bridge",
            exists: waiting == nil, up: waiting == nil, addresses: [], firewall: FirewallStatus(firewall),
            dnsmasq: waiting == nil ? DnsmasqStatus(pid: 7, running: dnsmasq) : nil, leases: [], pending: [], waiting: waiting,
            poolSize: 253)
    }

    func report(_ networks: [NetworkStatus]) -> StatusReport {
        StatusReport(file: "moat.yaml", networks: networks, sharedFirewall: FirewallStatus(.inPlace), ipForward: true)
    }

    @Test("in place, with a network waiting for its device: OK with a note")
    func ok() {
        let check = report([network("lab"), network("board", waiting: "interface with MAC 00:e0:4c:68:00:01")]).check
        #expect(check.state == .ok)
        #expect(
            check.text
                == "MOAT OK - 1 network in place; board waiting for its device (interface with MAC 00:e0:4c:68:00:01) | networks_in_place=1 problems=0\n")
    }

    @Test("drift and a dead dnsmasq: CRITICAL, each problem on a line of its own; a `|` cannot cut the line")
    func critical() {
        let check = report([network("lab", firewall: .drifted), network("ci", dnsmasq: false)]).check
        #expect(check.state == .critical)
        #expect(
            check.text
                == "MOAT CRITICAL - lab: firewall drifted; ci: dnsmasq not running | networks_in_place=0 problems=2\nlab: firewall drifted\nci: dnsmasq not running\n")
        #expect(StatusCheck.unknown("bad | file\nsecond").text == "MOAT UNKNOWN - bad / file second | networks_in_place=0 problems=1\n")
    }

    @Test("metrics: a gauge per fact, label values escaped, facts that cannot be known left out")
    func metrics() {
        var odd = network("lab")
        odd.device = "a\"b\\c\nd"
        let text = report([odd, network("board", waiting: "interface usb0")]).prometheus
        #expect(text.contains(#"moat_network_up{network="lab",device="a\"b\\c\nd"} 1"#))
        #expect(text.contains(#"moat_network_waiting{network="board",device="interface usb0"} 1"#))
        #expect(!text.contains(#"moat_network_firewall_in_place{network="board""#), "a waiting network's firewall is not judged")
        #expect(text.contains("moat_network_dhcp_pool_size{network=\"lab\",device=\"a\\\"b\\\\c\\nd\"} 253"))
        #expect(text.hasSuffix("# TYPE moat_check_status gauge\nmoat_check_status 0\n"))
        #expect(StatusReport.unknownMetrics.hasSuffix("moat_check_status 3\n"))
    }
}
