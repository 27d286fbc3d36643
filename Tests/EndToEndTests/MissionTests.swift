import Foundation
import Testing

extension EndToEnd {
    /// What moat is for: a guest reaches the internet and nothing else.
    @Suite("mission")
    struct MissionTests {
        @Test("guests of the VM lab get leases and the internet, and reach nothing else but what the file allows")
        func mission() async throws {
            try await withWorld("mission") { world in
                let host = world.host
                let file = try host.file("moat.yaml", Files.lab)
                let apply = try host.moat(["apply", file])
                try #require(apply.status == 0, "\(apply)")

                let builder = try world.addGuest("b", mac: Files.builderMAC)
                let peer = try world.addGuest("p", mac: "52:54:00:aa:00:02")
                let dmz = try world.addGuest("d", mac: "52:54:00:bb:00:01")
                try world.attach(builder, to: "virbr10")
                try world.attach(peer, to: "virbr10")
                try world.attach(dmz, to: "virbr11")

                try world.serve(in: world.internetNamespace, as: "internet", ports: [80])
                try world.serve(in: world.nasNamespace, as: "nas", ports: [80, 445])
                try world.serve(in: world.routerNamespace, as: "router", ports: [80])
                try world.serve(in: host.namespace, as: "host", ports: [22, 80])
                try world.serve(in: builder.namespace, as: "builder", ports: [22, 80])
                try world.serve(in: peer.namespace, as: "peer", ports: [80])
                try world.serve(in: dmz.namespace, as: "dmz", ports: [80])

                // Leases: the static one where declared, the gateway and DNS on the host.
                let builderLease = try world.lease(builder)
                #expect(builderLease.ip == "192.168.100.10")
                #expect(builderLease.router == "192.168.100.1")
                #expect(builderLease.dns == "192.168.100.1")
                let peerLease = try world.lease(peer)
                #expect(peerLease.ip.hasPrefix("192.168.100.") && peerLease.ip != "192.168.100.10", "\(peerLease)")
                let dmzLease = try world.lease(dmz)
                #expect(dmzLease.ip.hasPrefix("192.168.101."), "\(dmzLease)")
                #expect(dmzLease.router == "192.168.101.1")

                // Controls: every target below is up and reachable from where moat has no say,
                // so a "not reached" is the firewall's doing, not a dead listener.
                #expect(try world.reach(from: host.namespace, to: World.nas, port: 445) != nil)
                #expect(try world.reach(from: host.namespace, to: World.nas, port: 80) != nil)
                #expect(try world.reach(from: host.namespace, to: World.fileServer, port: 80) != nil)
                #expect(try world.reach(from: host.namespace, to: World.router, port: 80) != nil)
                #expect(try world.ping(from: host.namespace, to: World.router))
                #expect(try world.reach(from: world.nasNamespace, to: World.hostLAN, port: 80) != nil)
                #expect(try world.reach(from: host.namespace, to: dmzLease.ip, port: 80) != nil)
                #expect(try world.reach(from: host.namespace, to: "192.168.100.10", port: 80) != nil)

                let b = builder.namespace
                // Reaches: the internet (masqueraded behind the host's LAN address), its own
                // bridge, the host's DNS, and exactly the allowed holes.
                #expect(try world.reach(from: b, to: World.internet, port: 80) == "internet \(World.hostLAN)")
                #expect(try world.reach(from: b, to: peerLease.ip, port: 80) == "peer 192.168.100.10")
                let answer = try world.lookup("builder", server: "192.168.100.1", from: b)
                #expect(answer?.contains("192.168.100.10") == true, "\(answer ?? "no answer")")
                #expect(try world.reach(from: b, to: "192.168.100.1", port: 22)?.hasPrefix("host ") == true)
                #expect(try world.reach(from: b, to: World.hostLAN, port: 22)?.hasPrefix("host ") == true)
                #expect(try world.reach(from: b, to: World.fileServer, port: 445)?.hasPrefix("nas ") == true)

                // Does not reach: the LAN, the router, the host's other services, the other network.
                #expect(try world.connect(from: b, to: World.nas, port: 445) == nil)
                #expect(try world.connect(from: b, to: World.nas, port: 80) == nil)
                #expect(try world.connect(from: b, to: World.fileServer, port: 80) == nil, "the hole is port 445 only")
                #expect(try world.connect(from: b, to: World.router, port: 80) == nil)
                #expect(try world.ping(from: b, to: World.router) == false)
                #expect(try world.ping(from: b, to: World.nas) == false)
                #expect(try world.connect(from: b, to: World.hostLAN, port: 80) == nil)
                #expect(try world.connect(from: b, to: "192.168.100.1", port: 80) == nil)
                #expect(try world.ping(from: b, to: World.hostLAN) == false)
                #expect(try world.connect(from: b, to: dmzLease.ip, port: 80) == nil)
                #expect(try world.ping(from: b, to: dmzLease.ip) == false)

                // The other network: the internet yes; lab's guests, lab's holes, the host no.
                let d = dmz.namespace
                #expect(try world.reach(from: d, to: World.internet, port: 80) == "internet \(World.hostLAN)")
                #expect(try world.connect(from: d, to: "192.168.100.10", port: 80) == nil)
                #expect(try world.connect(from: d, to: "192.168.100.10", port: 22) == nil)
                #expect(try world.connect(from: d, to: World.fileServer, port: 445) == nil)
                #expect(try world.connect(from: d, to: World.hostLAN, port: 22) == nil)
                #expect(try world.connect(from: d, to: "192.168.101.1", port: 22) == nil)

                // A port forward from the LAN side lands on the builder's port 22.
                #expect(try world.reach(from: world.nasNamespace, to: World.hostLAN, port: 2222) == "builder \(World.nas)")
                // A guest of the other network cannot use the forward to get into lab.
                #expect(try world.connect(from: d, to: World.hostLAN, port: 2222) == nil)
            }
        }
    }
}
