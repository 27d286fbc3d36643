import Foundation
import Testing

extension EndToEnd {
    /// An embedded board on a USB-Ethernet adapter: a device moat configures, never owns.
    @Suite("embedded board")
    struct BoardTests {
        @Test("an existing interface gives its board a lease and the internet, and survives destroy without moat's address")
        func board() async throws {
            try await withWorld("board") { world in
                let host = world.host
                let board = host.namespace + "-bd"
                try host.makeNamespace(board)
                try world.exec(board, ["ip", "link", "set", "lo", "up"])
                // The adapter as the host sees it: a veth end, its peer the board's eth0.
                try host.exec(["ip", "link", "add", "usb0", "type", "veth", "peer", "name", "eth0", "netns", board])
                try world.exec(board, ["ip", "link", "set", "eth0", "address", "52:54:00:cc:00:01"])
                try world.exec(board, ["ip", "link", "set", "eth0", "up"])
                let deviceBefore = try device(host)
                let arpBefore = try arp(host)
                try world.serve(in: world.internetNamespace, as: "internet", ports: [80])

                let file = try host.file(
                    "moat.yaml",
                    """
                    version: 1
                    networks:
                      board:
                        interface: usb0
                        address: 10.20.0.1/24

                    """)
                let apply = try host.moat(["apply", file])
                try #require(apply.status == 0, "\(apply)")
                let lease = try world.lease(namespace: board, device: "eth0")
                #expect(lease.ip.hasPrefix("10.20.0."), "\(lease)")
                #expect(lease.router == "10.20.0.1")
                #expect(try world.reach(from: board, to: World.internet, port: 80) == "internet \(World.hostLAN)")
                #expect(try world.connect(from: board, to: World.nas, port: 80) == nil)
                #expect(try arp(host) == "1 2", "the board's device answers ARP only for its own addresses")

                let destroy = try host.moat(["destroy", file])
                #expect(destroy.status == 0, "\(destroy)")
                let after = try device(host)
                #expect(after.exists, "usb0 is the user's: destroy never deletes it")
                #expect(!after.addresses.contains("10.20.0.1/24"))
                #expect(after.addresses == deviceBefore.addresses)
                #expect(after.up == deviceBefore.up, "usb0 is left up or down as it was")
                #expect(try arp(host) == arpBefore, "usb0's arp_ignore and arp_announce are put back")
                #expect(!(try Rules.text(host).contains("MOAT")))
            }
        }

        /// usb0's `arp_ignore arp_announce`.
        func arp(_ host: TestHost) throws -> String {
            let conf = "/proc/sys/net/ipv4/conf/usb0"
            return try host.exec(["cat", "\(conf)/arp_ignore", "\(conf)/arp_announce"]).split(separator: "\n").joined(separator: " ")
        }

        /// usb0 as `ip -j addr` shows it: whether it exists, is administratively up, its IPv4 addresses.
        func device(_ host: TestHost) throws -> (exists: Bool, up: Bool, addresses: [String]) {
            let ran = try Shell.run(["ip", "netns", "exec", host.namespace, "ip", "-j", "addr", "show", "dev", "usb0"])
            guard ran.status == 0,
                let data = ran.stdout.data(using: .utf8),
                let links = try JSONSerialization.jsonObject(with: data) as? [[String: Any]],
                let link = links.first
            else { return (false, false, []) }
            let flags = link["flags"] as? [String] ?? []
            let addresses = (link["addr_info"] as? [[String: Any]] ?? []).compactMap { info -> String? in
                guard info["family"] as? String == "inet", let local = info["local"] as? String, let prefix = info["prefixlen"] as? Int else { return nil }
                return "\(local)/\(prefix)"
            }
            return (true, flags.contains("UP"), addresses)
        }
    }
}
