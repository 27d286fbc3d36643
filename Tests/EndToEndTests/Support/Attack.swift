import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The world of the hostile-guest tests (issue 10): the LAN with its NAS and file server,
/// the internet, and on the host three moat networks: `lab` (with an allow hole to the file
/// server, one to the host's ssh, and a forward to its builder), `ci`, and `isolated`.
/// Guests get leases like VMs; what they send beyond that is crafted by `attack.py`.
final class AttackLab: @unchecked Sendable {
    static let labGateway = "10.77.0.1"
    static let ciGateway = "10.78.0.1"
    static let isolatedGateway = "10.79.0.1"
    static let builder = "10.77.0.10"
    static let builderMAC = "52:54:00:77:00:10"
    static let sensor = "10.79.0.10"
    static let sensorMAC = "52:54:00:79:00:10"
    /// What the upstream answers for `www.example`: a public address outside dnsmasq's
    /// rebinding list (which counts the documentation ranges, this world's internet, as
    /// private). Only ever an answer: no test sends a packet to it.
    static let publicAnswer = "198.18.0.10"
    static let resolver = "203.0.113.53"

    /// The lab of the issue. `dns` is lab's `dns:` value, `holes` says whether the allow to
    /// the file server and the forward to the builder are there.
    static func file(holes: Bool = true, dns: String = "true") -> String {
        // Interpolated lines carry the indentation of the file, not of this literal.
        let hole = holes ? "\n      - { to: 192.168.0.5/32, proto: tcp, ports: [445] }" : ""
        let forwards = holes ? "\n    forwards:\n      - { proto: tcp, port: 2222, to: \"10.77.0.10:22\" }" : ""
        return """
            version: 1
            networks:
              lab:
                bridge: lab0
                address: 10.77.0.1/24
                dhcp:
                  hosts:
                    - { mac: "\(builderMAC)", ip: \(builder), name: builder }
                dns: \(dns)
                allow:\(hole)
                  - { to: host, proto: tcp, ports: [22] }\(forwards)
              ci:
                bridge: ci0
                address: 10.78.0.1/24
              isolated:
                bridge: iso0
                address: 10.79.0.1/24
                mode: isolated
                dhcp:
                  hosts:
                    - { mac: "\(sensorMAC)", ip: \(sensor), name: sensor }

            """
    }

    let world: World
    var host: TestHost { world.host }
    let path: String

    private init(world: World, path: String) {
        self.world = world
        self.path = path
    }

    /// A world with the lab applied. Reverse-path filtering is off in the host and the
    /// router (as in a fresh namespace, made explicit): the isolation must not rest on it.
    static func make(_ world: World, file: String = AttackLab.file()) throws -> AttackLab {
        for key in ["all", "default"] {
            try world.host.exec(["sysctl", "-q", "-w", "net.ipv4.conf.\(key).rp_filter=0"])
            try world.exec(world.routerNamespace, ["sysctl", "-q", "-w", "net.ipv4.conf.\(key).rp_filter=0"])
        }
        let path = try world.host.file("moat.yaml", file)
        let apply = try world.host.moat(["apply", path])
        guard apply.status == 0 else { throw TestFailure("the lab does not apply: \(apply)") }
        return AttackLab(world: world, path: path)
    }

    /// Applies another version of the lab file.
    func apply(_ text: String) throws -> Ran {
        try host.moat(["apply", try host.file("moat.yaml", text)])
    }

    /// A guest plugged into `bridge` that got its lease.
    func guest(_ name: String, mac: String, on bridge: String) throws -> (guest: Guest, lease: Lease) {
        let guest = try world.addGuest(name, mac: mac)
        try world.attach(guest, to: bridge)
        return (guest, try world.lease(guest))
    }

    /// The MAC of a moat bridge: where a guest sends what it routes.
    func gatewayMAC(_ bridge: String) throws -> String {
        try host.exec(["cat", "/sys/class/net/\(bridge)/address"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static var attackScript: String { World.support.appendingPathComponent("attack.py").path }
    static var netScript: String { World.support.appendingPathComponent("net.py").path }

    /// Starts a helper in `namespace` that `close()` ends by its pid; waits for its first line.
    func start(in namespace: String, _ arguments: [String], ready: String) throws -> Background {
        let process = try Background.start(["ip", "netns", "exec", namespace, World.python] + arguments)
        host.onClose { process.stop() }
        guard poll(tries: 200, every: 0.025, { process.stdout.contains(ready) || !process.isRunning }), process.isRunning else {
            throw TestFailure("\(arguments.prefix(2).joined(separator: " ")) in \(namespace) did not start: \(process.wait(seconds: 1)?.description ?? "")")
        }
        return process
    }

    /// Everything `interface` in `namespace` receives from now on.
    func capture(in namespace: String, on interface: String, as place: String) throws -> Capture {
        Capture(place: place, process: try start(in: namespace, [Self.attackScript, "capture", interface], ready: "ready"))
    }

    /// Crafted packets sent by `guest` to its gateway's MAC, in order.
    func send(from guest: Guest, via bridge: String, _ packets: [Crafted]) throws {
        let mac = try gatewayMAC(bridge)
        let ran = try Shell.run(
            ["ip", "netns", "exec", guest.namespace, "timeout", "30", World.python, Self.attackScript, "send", "eth0", mac]
                + packets.map(\.spec))
        guard ran.status == 0, ran.stdout.contains("sent \(packets.count)") else { throw TestFailure("crafting failed: \(ran)") }
    }

    /// A UDP socket bound to `address:port` in `namespace`, optionally opening a flow to
    /// `peer` first; its datagrams are `received`.
    func udpSocket(in namespace: String, bound address: String, port: Int, opening peer: (String, Int)? = nil) throws -> UDPSocket {
        let opening = peer.map { [$0.0, String($0.1)] } ?? []
        return UDPSocket(process: try start(in: namespace, [Self.netScript, "udp-listen", address, String(port)] + opening, ready: "ready"))
    }

    /// One UDP datagram from `namespace`, from `source` ("ADDR:PORT") when given.
    func udpSend(from namespace: String, source: String? = nil, to address: String, port: Int, _ payload: String) throws {
        let from = source.map { ["--from", $0] } ?? []
        try world.exec(namespace, ["timeout", "10", World.python, Self.netScript, "udp-send"] + from + [address, String(port), payload])
    }

    /// An echo server on `ports` in `namespace`.
    func echoServer(in namespace: String, ports: [Int]) throws {
        _ = try start(in: namespace, [Self.netScript, "echo-serve"] + ports.map(String.init), ready: "ready")
    }

    /// A long-lived connection from `namespace` to an echo server.
    func echoClient(from namespace: String, to address: String, port: Int) throws -> EchoClient {
        EchoClient(process: try start(in: namespace, [Self.netScript, "echo-client", address, String(port), "2"], ready: "connected"))
    }

    /// Where the host's conntrack says a guest's UDP flow from `address:port` goes out as
    /// (the masqueraded destination of its replies), once the flow is tracked.
    func trackedReplyDestination(ofUDPFrom address: String, port: Int) throws -> (address: String, port: Int)? {
        var found: (String, Int)?
        try poll(tries: 100, every: 0.05) {
            let ran = try Shell.run(
                [
                    "ip", "netns", "exec", host.namespace, "conntrack", "-L", "-p", "udp", "--orig-src", address, "--orig-port-src",
                    String(port),
                ])
            for line in ran.stdout.split(separator: "\n") {
                // The original tuple's four keys, then the reply's: the reply's dst and dport.
                let pairs = line.split(separator: " ").compactMap { field -> (String, String)? in
                    let parts = field.split(separator: "=", maxSplits: 1)
                    return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
                }
                let destinations = pairs.filter { $0.0 == "dst" }.map(\.1)
                let ports = pairs.filter { $0.0 == "dport" }.compactMap { Int($0.1) }
                if destinations.count >= 2, ports.count >= 2 { found = (destinations[1], ports[1]) }
            }
            return found != nil
        }
        return found
    }

    /// A resolver on the internet at 203.0.113.53, the one the host's resolv.conf names:
    /// it knows the LAN's `nas.lan` (as a home router's resolver does) and `www.example`.
    func startUpstreamResolver() throws {
        let internet = world.internetNamespace
        try world.exec(internet, ["ip", "addr", "add", "\(Self.resolver)/24", "dev", "eth0"])
        let folder = host.folder.appendingPathComponent("resolver").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // Daemonised, as moat runs its own: a dnsmasq child of the test would close the
        // descriptor Foundation watches and leave Process believing it exited.
        try world.exec(internet, [
            "dnsmasq", "--no-resolv", "--no-hosts", "--port", "53", "--listen-address", Self.resolver, "--bind-interfaces",
            "--pid-file=\(folder)/dnsmasq.pid", "--dhcp-leasefile=\(folder)/leases",
            // Local data only, so a name's missing AAAA is NODATA (not REFUSED, which fails nslookup).
            "--local=/lan/", "--local=/example/", "--host-record=nas.lan,\(World.nas)", "--host-record=www.example,\(Self.publicAnswer)",
        ])
        host.onClose {
            // By the pid it wrote, and only if that pid is still this resolver.
            let text = (try? String(contentsOfFile: "\(folder)/dnsmasq.pid", encoding: .utf8)) ?? ""
            guard let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
            let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            if cmdline.contains(folder) { kill(pid, SIGTERM) }
        }
        let answers = try poll(tries: 50, every: 0.1) {
            let ran = try Shell.run(["ip", "netns", "exec", host.namespace, "timeout", "3", "busybox", "nslookup", "www.example", Self.resolver])
            return ran.stdout.contains(Self.publicAnswer)
        }
        guard answers else { throw TestFailure("the upstream resolver at \(Self.resolver) does not answer") }
    }
}

/// One packet for `attack.py send`.
struct Crafted: Sendable {
    let spec: String

    static func udp(_ source: String, _ sourcePort: Int, _ destination: String, _ destinationPort: Int, _ payload: String) -> Crafted {
        Crafted(spec: "udp,\(source),\(sourcePort),\(destination),\(destinationPort),\(payload)")
    }

    /// A TCP segment, a SYN unless `flags` says otherwise.
    static func tcp(
        _ source: String, _ sourcePort: Int, _ destination: String, _ destinationPort: Int, _ payload: String, flags: String = "S",
        badChecksum: Bool = false
    ) -> Crafted {
        Crafted(spec: "tcp,\(source),\(sourcePort),\(destination),\(destinationPort),\(payload),flags=\(flags)" + (badChecksum ? ",bad-checksum" : ""))
    }
}

/// An IPv4 packet as `attack.py capture` saw it arrive.
struct Packet: Sendable, CustomStringConvertible {
    var source: String
    var destination: String
    var proto: String
    var sourcePort: String
    var destinationPort: String
    var flags: String
    var payload: String

    init?(line: Substring) {
        let words = line.split(separator: " ").map(String.init)
        guard words.count == 8, words[0] == "ip" else { return nil }
        (source, destination, proto, sourcePort, destinationPort, flags, payload) =
            (words[1], words[2], words[3], words[4], words[5], words[6], words[7])
    }

    var description: String { "\(proto) \(source):\(sourcePort) → \(destination):\(destinationPort) [\(flags)] \(payload)" }
}

/// What one interface received since the capture started.
final class Capture: @unchecked Sendable {
    let place: String
    private let process: Background

    init(place: String, process: Background) {
        self.place = place
        self.process = process
    }

    var packets: [Packet] { process.stdout.split(separator: "\n").compactMap(Packet.init(line:)) }

    /// TCP or UDP packets that carry exactly `payload` (an ICMP error quoting one is not one).
    func carrying(_ payload: String) -> [Packet] {
        packets.filter { ($0.proto == "tcp" || $0.proto == "udp") && $0.payload == payload }
    }

    /// The first packet carrying `payload`, waiting for it (bounded).
    func arrival(of payload: String, seconds: Double = 5) -> Packet? {
        var found: Packet?
        poll(tries: Int(seconds * 20), every: 0.05) {
            found = carrying(payload).first
            return found != nil
        }
        return found
    }
}

/// A UDP socket of `net.py udp-listen`: what it received, as "FROM-ADDR FROM-PORT PAYLOAD".
final class UDPSocket: @unchecked Sendable {
    private let process: Background
    init(process: Background) { self.process = process }

    var received: [String] {
        process.stdout.split(separator: "\n").filter { $0.hasPrefix("got ") }.map { String($0.dropFirst(4)) }
    }

    func payloads() -> [String] { received.compactMap { $0.split(separator: " ").last.map(String.init) } }

    /// Waits (bounded) for a datagram carrying `payload`; the line that shows it.
    func arrival(of payload: String, seconds: Double = 5) -> String? {
        var found: String?
        poll(tries: Int(seconds * 20), every: 0.05) {
            found = received.first { $0.hasSuffix(" \(payload)") }
            return found != nil
        }
        return found
    }
}

/// One open TCP connection of `net.py echo-client`.
final class EchoClient: @unchecked Sendable {
    private let process: Background
    private var sent = 0
    init(process: Background) { self.process = process }

    /// The client's local address, as it printed it.
    var local: String {
        process.stdout.split(separator: "\n").first { $0.hasPrefix("connected ") }.map { String($0.dropFirst(10)) } ?? "?"
    }

    /// Sends the next line and says whether its echo came back (within the client's 2 s);
    /// the client's report either way.
    func roundTrip() throws -> (ok: Bool, report: String) {
        sent += 1
        let prefix = "echo \(sent) "
        process.signal(SIGUSR1)
        var report: String?
        poll(tries: 100, every: 0.05) {
            report = process.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
            return report != nil
        }
        guard let report else { throw TestFailure("the echo client did not report round trip \(sent): \(process.stdout)") }
        return (report == prefix + "ok", report)
    }

    /// Round trips until one fails, at most `tries`: the report of the failed one, or nil
    /// when every one came back.
    func firstFailure(tries: Int = 3) throws -> String? {
        for _ in 0..<tries {
            let trip = try roundTrip()
            if !trip.ok { return trip.report }
        }
        return nil
    }
}
