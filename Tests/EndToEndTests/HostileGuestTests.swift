import Foundation
import Testing

/// Runs `body` with the hostile-guest lab (SPEC §3 "Against a hostile guest") applied.
func withAttackLab<T>(_ tag: String, file: String = AttackLab.file(), _ body: (AttackLab) async throws -> T) async throws -> T {
    try await withWorld(tag) { world in try await body(try AttackLab.make(world, file: file)) }
}

extension EndToEnd {
    /// A guest controls its own packets (SPEC §3, issue 10). Each attack is sent from a
    /// guest namespace and judged by what arrives where it is aimed: captures on the LAN's
    /// wire to the host, at the NAS and the internet host, or the victim's own socket.
    /// Every "nothing arrived" follows a legitimate packet on the same path that did, and
    /// the crafted packets are followed by a legitimate one sent after them: once that one
    /// is in, a crafted one that got through would be in too, so no test waits for a time.
    @Suite("hostile guest")
    struct HostileGuestTests {
        @Test("a lab guest's spoofed sources, a documentation address and the NAS's own, reach neither the LAN nor the internet")
        func spoofedSources() async throws {
            try await withAttackLab("spoof") { lab in
                let world = lab.world
                let (builder, lease) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                try #require(lease.ip == AttackLab.builder)
                let wire = try lab.capture(in: world.routerNamespace, on: "to-host", as: "the LAN's wire to the host")
                let nas = try lab.capture(in: world.nasNamespace, on: "eth0", as: "the NAS")
                let internet = try lab.capture(in: world.internetNamespace, on: "eth0", as: "the internet host")

                // Controls: from the guest's own address, both paths carry its packets (masqueraded).
                try lab.send(
                    from: builder, via: "lab0",
                    [
                        .udp(AttackLab.builder, 40000, World.internet, 9, "control-internet"),
                        .tcp(AttackLab.builder, 40001, World.fileServer, 445, "control-hole"),
                    ])
                let toInternet = try #require(internet.arrival(of: "control-internet"), "\(internet.packets)")
                #expect(toInternet.source == World.hostLAN)
                let throughHole = try #require(nas.arrival(of: "control-hole"), "\(nas.packets)")
                #expect(throughHole.source == World.hostLAN)

                let spoofs = [
                    Crafted.udp("198.51.100.77", 40002, World.internet, 9, "spoof-doc-internet"),
                    .tcp("198.51.100.77", 40003, World.fileServer, 445, "spoof-doc-hole"),
                    .tcp(World.nas, 40004, World.fileServer, 445, "spoof-nas-hole"),
                    .udp(World.nas, 40005, World.internet, 9, "spoof-nas-internet"),
                ]
                try lab.send(
                    from: builder, via: "lab0",
                    spoofs + [
                        .udp(AttackLab.builder, 40006, World.internet, 9, "after-internet"),
                        .tcp(AttackLab.builder, 40007, World.fileServer, 445, "after-hole"),
                    ])
                try #require(internet.arrival(of: "after-internet") != nil, "\(internet.packets)")
                try #require(nas.arrival(of: "after-hole") != nil, "\(nas.packets)")

                for capture in [wire, nas, internet] {
                    for spoof in ["spoof-doc-internet", "spoof-doc-hole", "spoof-nas-hole", "spoof-nas-internet"] {
                        let arrived = capture.carrying(spoof)
                        #expect(arrived.isEmpty, "\(spoof) reached \(capture.place): \(arrived)")
                    }
                }
            }
        }

        @Test("a ci guest's forged reply into a lab guest's flow does not reach the lab guest")
        func forgedReplyIntoAnotherNetwork() async throws {
            try await withAttackLab("forge") { lab in
                let world = lab.world
                let (builder, _) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                let (ci, _) = try lab.guest("c", mac: "52:54:00:78:00:10", on: "ci0")

                // A lab guest's UDP flow to the internet, and the tuple its replies come back to.
                let victim = try lab.udpSocket(in: builder.namespace, bound: "0.0.0.0", port: 7000, opening: (World.internet, 7001))
                let outside = try #require(try lab.trackedReplyDestination(ofUDPFrom: AttackLab.builder, port: 7000))
                #expect(outside.address == World.hostLAN)
                let replyFromInternet = { (payload: String) in
                    try lab.udpSend(
                        from: world.internetNamespace, source: "\(World.internet):7001", to: outside.address, port: outside.port, payload)
                }
                try replyFromInternet("control-reply")
                try #require(victim.arrival(of: "control-reply") != nil, "a real reply reaches the guest: \(victim.received)")

                try lab.send(from: ci, via: "ci0", [.udp(World.internet, 7001, outside.address, outside.port, "forged-by-ci")])
                try replyFromInternet("after-reply")
                try #require(victim.arrival(of: "after-reply") != nil, "\(victim.received)")
                #expect(!victim.payloads().contains("forged-by-ci"), "the ci guest's forgery reached the lab guest: \(victim.received)")
            }
        }

        @Test("a lab guest's forged reply into a flow of the host itself does not reach the host's socket")
        func forgedReplyIntoTheHost() async throws {
            try await withAttackLab("forgehost") { lab in
                let world = lab.world
                let (builder, _) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                // A UDP socket of the host itself with a flow to the internet.
                let hostSocket = try lab.udpSocket(in: lab.host.namespace, bound: World.hostLAN, port: 7100, opening: (World.internet, 7101))
                let replyToHost = { (payload: String) in
                    try lab.udpSend(from: world.internetNamespace, source: "\(World.internet):7101", to: World.hostLAN, port: 7100, payload)
                }
                try replyToHost("control-host")
                try #require(hostSocket.arrival(of: "control-host") != nil, "\(hostSocket.received)")

                try lab.send(from: builder, via: "lab0", [.udp(World.internet, 7101, World.hostLAN, 7100, "forged-by-lab")])
                try replyToHost("after-host")
                try #require(hostSocket.arrival(of: "after-host") != nil, "\(hostSocket.received)")
                #expect(!hostSocket.payloads().contains("forged-by-lab"), "the lab guest's forgery reached the host's socket: \(hostSocket.received)")
            }
        }

        @Test("a guest of the isolated network re-sending a lab flow's tuple gets nothing out")
        func isolatedGuestForgesLabTuple() async throws {
            try await withAttackLab("isoforge") { lab in
                let world = lab.world
                let (builder, _) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                let (isolated, _) = try lab.guest("i", mac: "52:54:00:79:00:20", on: "iso0")
                let wire = try lab.capture(in: world.routerNamespace, on: "to-host", as: "the LAN's wire to the host")
                let internet = try lab.capture(in: world.internetNamespace, on: "eth0", as: "the internet host")

                // Control: the lab guest's flow, answered (conntrack calls it established), carries
                // its datagrams out, masqueraded.
                let flow = try lab.udpSocket(in: builder.namespace, bound: "0.0.0.0", port: 7000, opening: (World.internet, 7001))
                let opening = try #require(internet.arrival(of: "open"), "\(internet.packets)")
                #expect(opening.source == World.hostLAN)
                let outside = try #require(try lab.trackedReplyDestination(ofUDPFrom: AttackLab.builder, port: 7000))
                try lab.udpSend(
                    from: world.internetNamespace, source: "\(World.internet):7001", to: outside.address, port: outside.port, "reply")
                try #require(flow.arrival(of: "reply") != nil, "\(flow.received)")

                try lab.send(from: isolated, via: "iso0", [.udp(AttackLab.builder, 7000, World.internet, 7001, "forged-by-isolated")])
                try lab.udpSend(from: builder.namespace, source: "\(AttackLab.builder):7000", to: World.internet, port: 7001, "after-lab")
                try #require(internet.arrival(of: "after-lab") != nil, "\(internet.packets)")
                for capture in [wire, internet] {
                    let arrived = capture.carrying("forged-by-isolated")
                    #expect(arrived.isEmpty, "the isolated guest's packet reached \(capture.place): \(arrived)")
                }
            }
        }

        @Test("a bad-checksum SYN and a SYN+FIN from a lab guest never leave the host, with the guest's source or any")
        func invalidPackets() async throws {
            try await withAttackLab("invalid") { lab in
                let world = lab.world
                let (builder, _) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                let wire = try lab.capture(in: world.routerNamespace, on: "to-host", as: "the LAN's wire to the host")

                try lab.send(from: builder, via: "lab0", [.tcp(AttackLab.builder, 41000, World.internet, 80, "control-syn")])
                let control = try #require(wire.arrival(of: "control-syn"), "\(wire.packets)")
                #expect(control.source == World.hostLAN, "a valid SYN leaves masqueraded")

                try lab.send(
                    from: builder, via: "lab0",
                    [
                        .tcp(AttackLab.builder, 41001, World.internet, 80, "bad-checksum", badChecksum: true),
                        .tcp(AttackLab.builder, 41002, World.internet, 80, "syn-fin", flags: "SF"),
                        .tcp(AttackLab.builder, 41003, World.internet, 80, "after-syn"),
                    ])
                try #require(wire.arrival(of: "after-syn") != nil, "\(wire.packets)")
                let privateSources = wire.packets.filter { $0.source.hasPrefix("10.77.0.") }
                #expect(privateSources.isEmpty, "packets left the host with the guest's own source: \(privateSources)")
                for invalid in ["bad-checksum", "syn-fin"] {
                    #expect(wire.carrying(invalid).isEmpty, "\(invalid) left the host: \(wire.carrying(invalid))")
                }
            }
        }

        @Test("open connections through a removed allow and a removed forward stop right after the apply; an unrelated one goes on")
        func holesDoNotOutliveTheFile() async throws {
            try await withAttackLab("holes") { lab in
                let world = lab.world
                let (builder, _) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                try lab.echoServer(in: world.nasNamespace, ports: [445])
                try lab.echoServer(in: world.internetNamespace, ports: [7])
                try lab.echoServer(in: builder.namespace, ports: [22])

                let hole = try lab.echoClient(from: builder.namespace, to: World.fileServer, port: 445)
                let forward = try lab.echoClient(from: world.nasNamespace, to: World.hostLAN, port: 2222)
                let unrelated = try lab.echoClient(from: builder.namespace, to: World.internet, port: 7)
                for (name, connection) in [("through the allow", hole), ("through the forward", forward), ("to the internet", unrelated)] {
                    let trip = try connection.roundTrip()
                    try #require(trip.ok, "the connection \(name) works before: \(trip.report)")
                }

                let tightened = try lab.apply(AttackLab.file(holes: false))
                try #require(tightened.status == 0, "\(tightened)")

                let keeps = try unrelated.roundTrip()
                #expect(keeps.ok, "the unrelated connection keeps working: \(keeps.report)")
                #expect(try hole.firstFailure() != nil, "the connection through the removed allow still works")
                #expect(try forward.firstFailure() != nil, "the connection through the removed forward still works")
                let still = try unrelated.roundTrip()
                #expect(still.ok, "the unrelated connection still works afterwards: \(still.report)")
            }
        }

        @Test("udp/67 on the host's LAN address is out of a guest's reach")
        func dhcpPortOnlyOnTheNetwork() async throws {
            try await withAttackLab("dhcp67") { lab in
                let world = lab.world
                let (builder, lease) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                try #require(lease.ip == AttackLab.builder, "the guest's own DHCP works")
                // As a DHCP server or relay of the LAN listening on the host would.
                let relay = try lab.udpSocket(in: lab.host.namespace, bound: World.hostLAN, port: 67)
                try lab.udpSend(from: world.nasNamespace, to: World.hostLAN, port: 67, "control-nas")
                try #require(relay.arrival(of: "control-nas") != nil, "the LAN reaches it: \(relay.received)")

                try lab.udpSend(from: builder.namespace, to: World.hostLAN, port: 67, "guest-any-port")
                try lab.udpSend(from: builder.namespace, source: "\(AttackLab.builder):68", to: World.hostLAN, port: 67, "guest-port-68")
                try lab.udpSend(from: world.nasNamespace, to: World.hostLAN, port: 67, "after-nas")
                try #require(relay.arrival(of: "after-nas") != nil, "\(relay.received)")
                #expect(!relay.payloads().contains("guest-any-port"), "\(relay.received)")
                #expect(!relay.payloads().contains("guest-port-68"), "\(relay.received)")
            }
        }

        @Test("the host answers ARP on the bridge only for the network's own address")
        func arpOnlyForTheBridge() async throws {
            try await withAttackLab("arp") { lab in
                let (builder, _) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                let ran = try Shell.run(
                    [
                        "ip", "netns", "exec", builder.namespace, "timeout", "30", World.python, AttackLab.attackScript, "arp", "eth0",
                        AttackLab.labGateway, World.hostLAN, AttackLab.ciGateway,
                    ])
                try #require(ran.status == 0, "\(ran)")
                let answers = ran.stdout
                try #require(answers.contains("\(AttackLab.labGateway) answered"), "the gateway answers: \(answers)")
                #expect(answers.contains("\(World.hostLAN) unanswered"), "the host's LAN address is answered on the bridge: \(answers)")
                #expect(answers.contains("\(AttackLab.ciGateway) unanswered"), "ci's gateway is answered on lab's bridge: \(answers)")
            }
        }

        @Test("a guest learns no LAN address through the DNS forwarder, while internet names still resolve")
        func dnsHidesLANAddresses() async throws {
            try await withAttackLab("dns") { lab in
                let (builder, _) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                try lab.startUpstreamResolver()
                let upstream = try lab.world.lookup("nas.lan", server: AttackLab.resolver, from: lab.host.namespace)
                try #require(upstream?.contains(World.nas) == true, "the upstream tells the host: \(upstream ?? "no answer")")
                let internet = try lab.world.lookup("www.example", server: AttackLab.labGateway, from: builder.namespace)
                try #require(internet?.contains(AttackLab.publicAnswer) == true, "the forwarder works: \(internet ?? "no answer")")

                let nas = try lab.world.lookup("nas.lan", server: AttackLab.labGateway, from: builder.namespace)
                #expect(nas?.contains(World.nas) != true, "the guest learnt the NAS's address: \(nas ?? "")")
                let again = try lab.world.lookup("www.example", server: AttackLab.labGateway, from: builder.namespace)
                #expect(again?.contains(AttackLab.publicAnswer) == true, "\(again ?? "no answer")")
            }
        }

        @Test("with dns private-domains, that domain's names resolve to their LAN addresses")
        func dnsPrivateDomains() async throws {
            let file = AttackLab.file(dns: "{ private-domains: [lan] }")
            // `dns: {private-domains: [...]}` is new: today the file does not apply at all.
            try await withAttackLab("dnspriv", file: file) { lab in
                let world = lab.world
                let (builder, _) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                try lab.startUpstreamResolver()
                let nas = try world.lookup("nas.lan", server: AttackLab.labGateway, from: builder.namespace)
                #expect(nas?.contains(World.nas) == true, "\(nas ?? "no answer")")
                let internet = try world.lookup("www.example", server: AttackLab.labGateway, from: builder.namespace)
                #expect(internet?.contains(AttackLab.publicAnswer) == true, "\(internet ?? "no answer")")
            }
        }
    }

    /// The same world used as intended: what the hardening must not break, beyond what
    /// MissionTests and BoardTests already show.
    @Suite("hostile guest: what worked still works")
    struct HostileGuestStillWorksTests {
        @Test("renewals, forwards from the host and from a guest of the network, its bridge, and the isolated network")
        func stillWorks() async throws {
            try await withAttackLab("works") { lab in
                let world = lab.world
                let host = lab.host
                let (builder, builderLease) = try lab.guest("b", mac: AttackLab.builderMAC, on: "lab0")
                let (peer, peerLease) = try lab.guest("p", mac: "52:54:00:77:00:20", on: "lab0")
                let (sensor, sensorLease) = try lab.guest("i", mac: AttackLab.sensorMAC, on: "iso0")
                let (other, otherLease) = try lab.guest("j", mac: "52:54:00:79:00:20", on: "iso0")
                try world.serve(in: builder.namespace, as: "builder", ports: [22, 80])
                try world.serve(in: sensor.namespace, as: "sensor", ports: [80])
                try world.serve(in: world.internetNamespace, as: "internet", ports: [80])
                try world.serve(in: world.nasNamespace, as: "nas", ports: [80])
                try world.serve(in: host.namespace, as: "host", ports: [80])
                #expect(builderLease.ip == AttackLab.builder)

                // Renewal: a bound client's unicast DHCPREQUEST from its leased address.
                for (guest, lease, mac) in [(builder, builderLease, AttackLab.builderMAC), (peer, peerLease, "52:54:00:77:00:20")] {
                    let renew = try Shell.run(
                        [
                            "ip", "netns", "exec", guest.namespace, "timeout", "30", World.python, AttackLab.attackScript, "dhcp-renew", mac,
                            lease.ip, AttackLab.labGateway,
                        ])
                    #expect(renew.stdout.contains("ack \(lease.ip)"), "\(renew)")
                }

                // Forwards: from the host itself, and hairpin from another guest of lab.
                #expect(try world.reach(from: host.namespace, to: World.hostLAN, port: 2222)?.hasPrefix("builder ") == true)
                #expect(try world.reach(from: peer.namespace, to: World.hostLAN, port: 2222)?.hasPrefix("builder ") == true)
                // The bridge: guests of one network reach each other directly.
                #expect(try world.reach(from: peer.namespace, to: AttackLab.builder, port: 80) == "builder \(peerLease.ip)")

                // Isolated: a lease without a router, the host's DNS, the peer on the bridge.
                #expect(sensorLease.ip == AttackLab.sensor)
                #expect(sensorLease.router.isEmpty, "\(sensorLease)")
                #expect(sensorLease.dns == AttackLab.isolatedGateway)
                let name = try world.lookup("sensor", server: AttackLab.isolatedGateway, from: other.namespace)
                #expect(name?.contains(AttackLab.sensor) == true, "\(name ?? "no answer")")
                #expect(try world.reach(from: other.namespace, to: AttackLab.sensor, port: 80) == "sensor \(otherLease.ip)")
                // ... and nothing else, even for a guest that routes through the host itself.
                // Controls first: every target answers from where moat has no say.
                for (address, port) in [(World.internet, 80), (World.nas, 80), (AttackLab.builder, 80)] {
                    #expect(try world.reach(from: host.namespace, to: address, port: port) != nil, "\(address):\(port) is up")
                }
                #expect(try world.reach(from: world.nasNamespace, to: World.hostLAN, port: 80) != nil)
                try world.exec(sensor.namespace, ["ip", "route", "replace", "default", "via", AttackLab.isolatedGateway])
                for (address, port) in [
                    (World.internet, 80), (World.nas, 80), (World.hostLAN, 80), (AttackLab.isolatedGateway, 80), (AttackLab.builder, 80),
                ] {
                    #expect(try world.connect(from: sensor.namespace, to: address, port: port) == nil, "the isolated guest reached \(address):\(port)")
                }
            }
        }
    }
}
