import Foundation
import Testing

extension EndToEnd {
    /// `firewall:` at work: a destroy that leaves the rulesets as they were, switching
    /// backends in one apply, `auto` next to Docker, and a firewalld-like table in the way.
    @Suite("firewall backends")
    struct FirewallBackendTests {
        /// The lab with `firewall:` set (nil: not given, so `auto`).
        static func lab(_ firewall: String?) -> String {
            (firewall.map { "firewall: \($0)\n" } ?? "") + Files.lab
        }

        /// Both rulesets as the kernel holds them: what "byte-identical" compares.
        static func rulesets(_ host: TestHost) throws -> String {
            let save = try host.exec(["iptables-save"]).split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
            return try host.exec(["nft", "list", "ruleset"]) + "\n---\n" + save
        }

        /// `moat` with `auto` left to its own rule, whatever the suite's backend.
        static func auto(_ host: TestHost, _ arguments: [String]) throws -> Ran {
            try host.moat(arguments, environment: ["MOAT_TEST_FIREWALL": ""])
        }

        @Test(
            "nftables: destroy, and an apply rolled back on an empty host, leave nft list ruleset and iptables-save byte-identical",
            .enabled(if: Shell.exists("nft")))
        func byteIdentical() async throws {
            try await withHost("nft-bytes") { host in
                let file = try host.file("moat.yaml", Self.lab("nftables"))
                let before = try Self.rulesets(host)
                let apply = try host.moat(["apply", file])
                try #require(apply.status == 0, "\(apply)")
                #expect(try host.exec(["nft", "list", "table", "inet", "moat"]).contains("iifname vmap @moat-forward-in"))
                #expect(!(try host.exec(["iptables-save"]).contains("MOAT")), "no rule of moat's in iptables")
                #expect(try host.moat(["plan", "--detailed-exitcode", file]).status == 0)
                #expect(try host.moat(["destroy", "--all"]).status == 0)
                #expect(try Self.rulesets(host) == before)

                // A failure after the firewall phase (dnsmasq cannot start): rolled back.
                let standIns = try StandIns(in: host)
                try standIns.failing("dnsmasq", message: "dnsmasq: cannot start")
                let failed = try host.moat(["apply", file], environment: standIns.environment)
                #expect(failed.status == 1 && failed.stderr.contains("rolled back"), "\(failed)")
                #expect(try Self.rulesets(host) == before)
            }
        }

        @Test("switching backends moves every network in one apply, and back; the guest keeps its lease and the internet")
        func switching() async throws {
            try await withWorld("nft-switch") { world in
                let host = world.host
                let iptables = try host.file("iptables.yaml", Self.lab("iptables"))
                let nftables = try host.file("nftables.yaml", Self.lab("nftables"))
                try #require(try host.moat(["apply", iptables]).status == 0)
                let guest = try world.addGuest("g", mac: Files.builderMAC)
                try world.attach(guest, to: "virbr10")
                try world.serve(in: world.internetNamespace, as: "internet", ports: [80])
                try world.serve(in: world.nasNamespace, as: "nas", ports: [80])
                #expect(try world.lease(guest).ip == "192.168.100.10")
                let bridge = try RollbackTests.link("virbr10", in: host)["ifindex"] as? Int

                for (file, to, from) in [(nftables, "nftables", "iptables"), (iptables, "iptables", "nftables")] {
                    let plan = try host.moat(["plan", file])
                    #expect(plan.stdout.contains("~ firewall: \(from) → \(to)"), "\(plan)")
                    #expect(plan.stdout.contains("Firewall: \(to) (the file says firewall: \(to))."), "\(plan)")
                    let apply = try host.moat(["apply", file])
                    #expect(apply.status == 0, "\(apply)")
                    #expect(try host.moat(["plan", "--detailed-exitcode", file]).status == 0, "converged in \(to)")
                    let save = try host.exec(["iptables-save"])
                    let table = try host.nftablesTable()
                    #expect(save.contains("MOAT") == (to == "iptables"), "iptables holds moat's rules only with iptables")
                    #expect(table.isEmpty == (to == "iptables"), "table inet moat only with nftables")
                    #expect(try world.reach(from: guest.namespace, to: World.internet, port: 80) == "internet \(World.hostLAN)")
                    #expect(try world.reach(from: guest.namespace, to: World.nas, port: 80, tries: 1) == nil, "the LAN stays out of reach")
                    #expect(try world.lease(guest).ip == "192.168.100.10")
                }
                #expect(try RollbackTests.link("virbr10", in: host)["ifindex"] as? Int == bridge, "the bridge was re-created")
                // auto keeps the backend the rules are in.
                let auto = try host.file("auto.yaml", Self.lab(nil))
                let stays = try Self.auto(host, ["plan", "--detailed-exitcode", auto])
                #expect(stays.status == 0, "\(stays)")
            }
        }

        @Test("a switch that fails is rolled back: the rules stay in the old backend, as they were")
        func failedSwitch() async throws {
            try await withHost("nft-switch-fail") { host in
                let iptables = try host.file("iptables.yaml", Self.lab("iptables"))
                let nftables = try host.file("nftables.yaml", Self.lab("nftables"))
                try #require(try host.moat(["apply", iptables]).status == 0)
                let before = try host.fingerprint()
                let standIns = try StandIns(in: host)
                try standIns.failing("nft", when: "-f", message: "nft: netlink: Error: Could not process rule")
                let failed = try host.moat(["apply", nftables], environment: standIns.environment)
                #expect(failed.status == 1 && failed.stderr.contains("rolled back"), "\(failed)")
                #expect(try host.fingerprint() == before)
                #expect(try host.moat(["plan", "--detailed-exitcode", iptables]).status == 0)
            }
        }

        @Test("next to Docker (FORWARD policy DROP, a DOCKER chain, its masquerade), auto picks iptables and guests get leases and the internet; forced nftables warns, and guests get a lease but no internet")
        func dockerLike() async throws {
            try await withWorld("nft-docker") { world in
                let host = world.host
                try host.exec(["iptables", "-N", "DOCKER"])
                try host.exec(["iptables", "-A", "FORWARD", "-o", "docker0", "-j", "DOCKER"])
                try host.exec(["iptables", "-P", "FORWARD", "DROP"])
                try host.exec(["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "172.17.0.0/16", "!", "-o", "docker0", "-j", "MASQUERADE"])
                try world.serve(in: world.internetNamespace, as: "internet", ports: [80])
                let guest = try world.addGuest("g", mac: Files.builderMAC)

                let auto = try host.file("auto.yaml", Self.lab(nil))
                let plan = try Self.auto(host, ["plan", auto])
                #expect(plan.stdout.contains("Firewall: iptables (auto: iptables' FORWARD policy is DROP"), "\(plan)")
                try #require(try Self.auto(host, ["apply", auto]).status == 0)
                try world.attach(guest, to: "virbr10")
                #expect(try world.lease(guest).ip == "192.168.100.10")
                #expect(try world.reach(from: guest.namespace, to: World.internet, port: 80) == "internet \(World.hostLAN)")
                #expect(try host.exec(["iptables", "-S", "FORWARD"]).contains("-P FORWARD DROP"), "Docker's policy is untouched")

                // Forced nftables: Docker's DROP drops what moat's table accepts.
                let nftables = try host.file("nftables.yaml", Self.lab("nftables"))
                let forced = try host.moat(["apply", nftables])
                #expect(forced.status == 0, "\(forced)")
                #expect(forced.stderr.contains("iptables' FORWARD policy is DROP: traffic of guests"), "\(forced)")
                #expect(try world.lease(guest).ip == "192.168.100.10", "DHCP and DNS are input, which Docker leaves alone")
                #expect(try world.reach(from: guest.namespace, to: World.internet, port: 80, tries: 1) == nil)
                // auto, from there, stays where the rules are: it never moves them by itself.
                #expect(try Self.auto(host, ["plan", "--detailed-exitcode", auto]).status == 0)
            }
        }

        @Test("a firewalld-like table that drops by policy: plan names it and the remedy, with either backend; after the remedy guests work")
        func firewalldLike() async throws {
            try await withWorld("nft-firewalld") { world in
                let host = world.host
                try host.exec(["nft", "-f", "-"], input: """
                    table inet firewalld {
                    \tchain filter_INPUT { type filter hook input priority filter + 10; policy drop; ct state established,related accept; iifname "lo" accept; }
                    \tchain filter_FORWARD { type filter hook forward priority filter + 10; policy drop; ct state established,related accept; }
                    }
                    """)
                try world.serve(in: world.internetNamespace, as: "internet", ports: [80])
                let guest = try world.addGuest("g", mac: Files.builderMAC)
                for backend in ["iptables", "nftables"] {
                    let plan = try host.moat(["plan", try host.file("\(backend).yaml", Self.lab(backend))])
                    #expect(plan.stderr.contains("table inet firewalld, chain filter_FORWARD (hook forward) drops what it does not accept"), "\(plan)")
                    #expect(plan.stderr.contains("table inet firewalld, chain filter_INPUT (hook input)"), "\(plan)")
                    #expect(plan.stderr.contains("`firewall-cmd --permanent --zone=trusted --add-interface=virbr10`"), "\(plan)")
                }
                try #require(try host.moat(["apply", try host.file("nftables.yaml", Self.lab("nftables"))]).status == 0)
                try world.attach(guest, to: "virbr10")
                // What the trusted zone does for moat's devices, input first: the guest gets its
                // lease, but its traffic through the host is still dropped there.
                for device in ["virbr10", "virbr11"] {
                    try host.exec(["nft", "insert", "rule", "inet", "firewalld", "filter_INPUT", "iifname", device, "accept"])
                }
                #expect(try world.lease(guest).ip == "192.168.100.10")
                #expect(try world.reach(from: guest.namespace, to: World.internet, port: 80, tries: 1) == nil)
                for device in ["virbr10", "virbr11"] {
                    try host.exec(["nft", "insert", "rule", "inet", "firewalld", "filter_FORWARD", "iifname", device, "accept"])
                }
                #expect(try world.reach(from: guest.namespace, to: World.internet, port: 80) == "internet \(World.hostLAN)")
            }
        }
    }
}
