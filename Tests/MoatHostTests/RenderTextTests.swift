import Foundation
import MoatConfig
import MoatCore
import MoatTestSupport
import Testing

/// `moat render`: the plan of an empty host, batched as the executor sends it.
@Suite("moat render: what apply loads on an empty host")
struct RenderTextTests {
    static let paths = Paths(stateDir: "/var/lib/moat", runDir: "/run/moat")

    static func render(_ file: String) throws -> Render {
        Render(try RenderCases.example(file).config, paths: paths, upstream: ["192.0.2.53"])
    }

    @Test("each example renders exactly as its golden text", arguments: RenderCases.exampleFiles)
    func golden(_ file: String) throws {
        let name = "render-" + file.dropLast(".yaml".count)
        let text = try Self.render(file).text
        if Golden.recording {
            try GoldenFiles.record(["render.txt": text], as: name)
            return
        }
        let golden = try GoldenFiles.load(name)["render.txt"]
        #expect(golden != nil, "no golden text for \(name): run with MOAT_RECORD=1 and rebuild")
        if let golden, golden != text {
            Issue.record("\(name)/render.txt differs (- golden, + rendered):\n\(lineDiff(expected: golden, actual: text))")
        }
    }

    @Test("the firewall is the desired state's, whole, and the dnsmasq files are its instances")
    func sameAsDesiredState() throws {
        let config = try RenderCases.example("vm-lab.yaml").config
        let desired = DesiredState.render(config, paths: Self.paths, upstream: ["192.0.2.53"])
        let render = Render(config, paths: Self.paths, upstream: ["192.0.2.53"])
        #expect(render.iptablesRestore == IptablesBackend.restorePayload(desired))
        #expect(render.dnsmasq.map(\.network) == ["dmz", "lab"])
        for files in render.dnsmasq {
            #expect(files.instance == desired.networks[files.network]?.dnsmasq)
            #expect(files.configPath == "/var/lib/moat/networks/\(files.network)/dnsmasq.conf")
        }
    }

    @Test("bridges: created, marked, addressed, then up, in one batch; sysctls per device, ip_forward last")
    func bridges() throws {
        let render = try Self.render("vm-lab.yaml")
        #expect(
            render.ipBatch == [
                "link add name virbr11 type bridge forward_delay 0", "link add name virbr10 type bridge forward_delay 0",
                "link set dev virbr11 alias moat:dmz", "link set dev virbr10 alias moat:lab",
                "addr add 192.168.101.1/24 dev virbr11", "addr add 192.168.100.1/24 dev virbr10",
                "link set dev virbr11 up", "link set dev virbr10 up",
            ])
        #expect(render.sysctls.last == Render.Sysctl(key: "net.ipv4.ip_forward", value: "1"))
        #expect(render.sysctls.map(\.line).contains("net.ipv4.conf.virbr10.arp_ignore = 1"))
    }

    @Test("an interface network's device is taken as found bare: its address and up, nothing created")
    func interface() throws {
        let render = try Self.render("embedded-board.yaml")
        #expect(render.ipBatch == ["addr add 10.20.0.1/24 dev enp6s0", "link set dev enp6s0 up"])
        #expect(render.sysctls.first?.line == "net.ipv6.conf.enp6s0.disable_ipv6 = 1")
    }

    @Test("a dot in a device name is a slash in its sysctl.conf key")
    func dottedDevice() {
        #expect(Render.Sysctl(procPath: "net/ipv4/conf/eth0.10/arp_ignore", value: "1").line == "net.ipv4.conf.eth0/10.arp_ignore = 1")
    }

    @Test("--out files: one per part, dnsmasq by network; both backends for firewall: auto")
    func files() throws {
        let render = try Self.render("vm-lab.yaml")
        #expect(
            render.files.map(\.path) == [
                "iptables.rules", "nftables.nft", "ip.batch", "sysctl.conf", "dnsmasq/dmz/dnsmasq.conf", "dnsmasq/dmz/dhcp-hosts",
                "dnsmasq/dmz/hosts", "dnsmasq/lab/dnsmasq.conf", "dnsmasq/lab/dhcp-hosts", "dnsmasq/lab/hosts",
            ])
        #expect(render.files.first?.text == render.iptablesRestore)
        #expect(render.text.hasPrefix("# iptables-restore --noflush (if firewall: auto picks iptables)\n*raw\n"))
        #expect(render.text.contains("\n# nft -f - (if firewall: auto picks nftables)\nadd table inet moat\ndelete table inet moat\ntable inet moat {\n"))
    }

    @Test("a file that names its backend renders that one only", arguments: FirewallBackend.allCases)
    func oneBackend(_ backend: FirewallBackend) throws {
        var config = try RenderCases.example("vm-lab.yaml").config
        config.firewall = backend == .iptables ? .iptables : .nftables
        let render = Render(config, paths: Self.paths, upstream: ["192.0.2.53"])
        let auto = try Self.render("vm-lab.yaml")
        #expect(render.files.map(\.path).first == (backend == .iptables ? "iptables.rules" : "nftables.nft"))
        #expect(render.files.map(\.path).dropFirst().first == "ip.batch")
        #expect(render.iptablesRestore == (backend == .iptables ? auto.iptablesRestore : nil))
        #expect(render.nftables == (backend == .nftables ? auto.nftables : nil))
        #expect(render.text.hasPrefix(backend == .iptables ? "# iptables-restore --noflush\n" : "# nft -f -\n"))
    }

    @Test("rendering is pure: the same file gives the same text")
    func deterministic() throws {
        #expect(try Self.render("vm-lab.yaml").text == Self.render("vm-lab.yaml").text)
    }
}
