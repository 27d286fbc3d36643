// From the node tree to drafts: every field read, typed and checked where it stands.
// Rules that compare networks live in ConfigRules.swift; defaults in ConfigDefaults.swift.

/// A value with the node it came from, so later rules can point at it.
struct Located<Value> {
    var value: Value
    var node: YAMLNode
    var path: ConfigPath
}

/// The file as written: nothing defaulted yet, invalid fields left out.
struct ConfigDraft {
    var block: [Located<BlockEntry>]?
    var uplinks: [Located<String>] = []
    var networks: [NetworkDraft] = []
    var firewall: FirewallChoice?
    /// Where `block`, `uplinks` and `firewall` were given, so a second file giving them can
    /// point back.
    var blockNode: YAMLNode?
    var uplinksNode: YAMLNode?
    var firewallNode: YAMLNode?

    enum BlockEntry {
        case privateRanges
        case cidr(IPv4CIDR)
    }
}

struct NetworkDraft {
    var name: String
    var nameNode: YAMLNode
    var path: ConfigPath
    var device: Located<Network.Device>?
    var address: Located<IPv4CIDR>?
    var mode: Network.Mode?
    var dhcp: DHCPDraft = .defaults
    var dns: Bool?
    /// Lower-case, in file order (`dns: {private-domains: [...]}`).
    var privateDomains: [String] = []
    var sharedWithHost: Bool?
    var optional: Bool?
    /// Each rule with its `to` value, where a warning about it points.
    var allow: [Located<AllowRule>] = []
    var forwards: [Located<PortForwardDraft>] = []

    enum DHCPDraft {
        case off
        /// `dhcp: true` or no `dhcp` key.
        case defaults
        case configured(range: RangeDraft?, leaseTime: LeaseTime?, hosts: [StaticHost])
    }
    enum RangeDraft {
        case staticOnly
        case range(AddressRange)
    }
    struct PortForwardDraft {
        var forward: PortForward
        var portNode: YAMLNode
    }
}

/// Reads the document into a draft, reporting every problem it meets.
struct ConfigDecoder {
    var reader = NodeReader()

    static let topKeys = ["version", "block", "uplinks", "firewall", "networks"]
    static let networkKeys = [
        "bridge", "interface", "optional", "shared-with-host", "address", "mode", "dhcp", "dns", "allow", "forwards",
    ]
    static let dnsKeys = ["private-domains"]
    static let interfaceKeys = ["mac"]
    static let dhcpKeys = ["range", "lease-time", "hosts"]
    static let hostKeys = ["mac", "ip", "name"]
    static let allowKeys = ["to", "proto", "ports"]
    static let forwardKeys = ["proto", "port", "to", "override-host-port"]

    mutating func decode(_ root: YAMLNode) -> ConfigDraft? {
        guard case .mapping = root.kind else {
            reader.error(
                root, .root,
                "the file must be a mapping with `version: 1` and `networks:`, found \(root.kindName)")
            return nil
        }
        guard let fields = reader.fields(root, .root, known: Self.topKeys, required: ["version", "networks"]) else {
            return nil
        }
        var draft = ConfigDraft()
        if let node = fields["version"], let version = reader.int(node, .root.key("version"), what: "the number 1"),
            version != 1
        {
            reader.error(node, .root.key("version"), "unsupported version \(version); this moat reads version 1")
        }
        if let node = fields["block"] {
            draft.block = decodeBlock(node, .root.key("block"))
            draft.blockNode = node
        }
        if let node = fields["uplinks"] {
            draft.uplinks = decodeUplinks(node, .root.key("uplinks"))
            draft.uplinksNode = node
        }
        if let node = fields["firewall"] {
            draft.firewallNode = node
            if let word = reader.word(node, .root.key("firewall"), oneOf: FirewallChoice.allCases.map(\.rawValue)) {
                draft.firewall = FirewallChoice(rawValue: word)
            }
        }
        if let node = fields["networks"],
            let entries = reader.entries(node, .root.key("networks"), what: "a mapping of network names to networks")
        {
            for entry in entries {
                draft.networks.append(
                    decodeNetwork(name: entry.key, nameNode: entry.keyNode, entry.value, .root.key("networks")))
            }
        }
        return draft
    }

    // MARK: Top level

    private mutating func decodeBlock(_ node: YAMLNode, _ path: ConfigPath) -> [Located<ConfigDraft.BlockEntry>] {
        guard let items = reader.list(node, path) else { return [] }
        var result: [Located<ConfigDraft.BlockEntry>] = []
        for (index, item) in items.enumerated() {
            let itemPath = path.index(index)
            guard let text = reader.string(item, itemPath, what: "`private` or a CIDR like 10.0.0.0/8") else {
                continue
            }
            if text == "private" {
                result.append(Located(value: .privateRanges, node: item, path: itemPath))
            } else if let cidr = destinationCIDR(text, item, itemPath) {
                result.append(Located(value: .cidr(cidr), node: item, path: itemPath))
            }
        }
        return result
    }

    private mutating func decodeUplinks(_ node: YAMLNode, _ path: ConfigPath) -> [Located<String>] {
        guard let items = reader.list(node, path) else { return [] }
        var result: [Located<String>] = []
        for (index, item) in items.enumerated() {
            let itemPath = path.index(index)
            guard let name = deviceName(item, itemPath) else { continue }
            if let earlier = result.first(where: { $0.value == name }) {
                reader.error(item, itemPath, "uplink \(quoted(name)) is already listed at \(earlier.path)")
                continue
            }
            result.append(Located(value: name, node: item, path: itemPath))
        }
        return result
    }

    // MARK: Networks

    private mutating func decodeNetwork(name: String, nameNode: YAMLNode, _ node: YAMLNode, _ parent: ConfigPath)
        -> NetworkDraft
    {
        let path = parent.key(name)
        var network = NetworkDraft(name: name, nameNode: nameNode, path: path)
        if !isValidNetworkName(name) {
            reader.error(
                nameNode, path,
                "network name \(quoted(name)) must be 1-15 characters: a lower-case letter, then lower-case letters, digits or `-`"
            )
        }
        guard let fields = reader.fields(node, path, known: Self.networkKeys) else { return network }
        if fields["address"] == nil {
            reader.error(nameNode, path, "missing required key `address` (the host's address with a prefix, like 192.168.100.1/24)")
        }

        switch (fields["bridge"], fields["interface"]) {
        case (nil, nil):
            reader.error(
                nameNode, path,
                "needs `bridge:` (a bridge moat creates) or `interface:` (an existing device), found neither")
        case (let bridge?, let interface?):
            let later = bridge.line > interface.line || (bridge.line == interface.line && bridge.column > interface.column)
            let (node, key) = later ? (bridge, "bridge") : (interface, "interface")
            reader.error(node, path.key(key), "set either `bridge` or `interface`, not both")
        case (let bridge?, nil):
            if let name = deviceName(bridge, path.key("bridge")) {
                network.device = Located(value: .bridge(name), node: bridge, path: path.key("bridge"))
            }
        case (nil, let interface?):
            if let device = decodeInterface(interface, path.key("interface")) {
                network.device = Located(value: device, node: interface, path: path.key("interface"))
            }
        }
        if let node = fields["optional"], let optional = reader.bool(node, path.key("optional")) {
            if case .bridge = network.device?.value, optional {
                reader.error(node, path.key("optional"), "`optional` is for `interface:` networks; a bridge moat creates is never missing")
            } else {
                network.optional = optional
            }
        }

        if let node = fields["address"] { network.address = decodeAddress(node, path.key("address")) }
        if let node = fields["mode"], let word = reader.word(node, path.key("mode"), oneOf: ["nat", "isolated"]) {
            network.mode = Network.Mode(rawValue: word)
        }
        if let node = fields["shared-with-host"] {
            let keyPath = path.key("shared-with-host")
            if let shared = reader.bool(node, keyPath) {
                if case .bridge = network.device?.value {
                    reader.error(
                        node, keyPath,
                        "`shared-with-host` is only for `interface:` networks; "
                            + "a bridge moat creates never carries the host's own addresses or route")
                } else {
                    network.sharedWithHost = shared
                }
            }
        }
        if let node = fields["dns"] { decodeDNS(node, path.key("dns"), into: &network) }
        if let node = fields["dhcp"] {
            network.dhcp = decodeDHCP(node, path.key("dhcp"), subnet: network.address?.value)
        }
        if let node = fields["allow"] {
            network.allow = decodeAllow(node, path.key("allow"), mode: network.mode ?? .nat)
        }
        if let node = fields["forwards"] {
            network.forwards = decodeForwards(node, path.key("forwards"), subnet: network.address?.value)
            if network.mode == .isolated, case .sequence(let items) = node.kind, !items.isEmpty {
                reader.error(
                    node, path.key("forwards"),
                    "isolated networks forward nothing; remove `forwards` or use `mode: nat`")
            }
        }
        return network
    }

    private mutating func decodeAddress(_ node: YAMLNode, _ path: ConfigPath) -> Located<IPv4CIDR>? {
        guard let text = reader.string(node, path, what: "an address with a prefix, like 192.168.100.1/24") else {
            return nil
        }
        if IPv4Address(text) != nil {
            reader.error(node, path, "\(quoted(text)) needs a prefix length, like \(text)/24")
            return nil
        }
        guard let cidr = IPv4CIDR(text) else {
            reader.error(node, path, "\(quoted(text)) is not an IPv4 address with a prefix, like 192.168.100.1/24")
            return nil
        }
        guard (8...30).contains(cidr.prefix) else {
            reader.error(node, path, "prefix /\(cidr.prefix) is out of range; use /8 to /30")
            return nil
        }
        let first = cidr.address.value >> 24
        guard first != 0, first != 127, first < 224 else {
            reader.error(node, path, "\(cidr.address) is not a unicast address a network can use")
            return nil
        }
        if cidr.address == cidr.network {
            reader.error(
                node, path,
                "\(cidr.address) is the network address of \(cidr.subnet); "
                    + "the host needs an address inside it, like \(cidr.firstHost)/\(cidr.prefix)"
            )
            return nil
        }
        if cidr.address == cidr.broadcast {
            reader.error(node, path, "\(cidr.address) is the broadcast address of \(cidr.subnet)")
            return nil
        }
        return Located(value: cidr, node: node, path: path)
    }

    // MARK: DNS

    /// `true`, `false` or `{private-domains: [DOMAIN, ...]}` (DNS on).
    private mutating func decodeDNS(_ node: YAMLNode, _ path: ConfigPath, into network: inout NetworkDraft) {
        if case .scalar(let scalar) = node.kind, case .bool(let on) = ScalarValue(scalar) {
            network.dns = on
            return
        }
        guard case .mapping = node.kind else {
            reader.error(node, path, "expected true, false or a mapping with `private-domains`, found \(node.kindName)")
            return
        }
        network.dns = true
        if case .mapping(let pairs) = node.kind, pairs.isEmpty {
            reader.error(node, path, "missing required key `private-domains`; for DNS without them, write `dns: true`")
            return
        }
        // A mapping with keys but no `private-domains` has had each of them reported as unknown.
        guard let fields = reader.fields(node, path, known: Self.dnsKeys), let listNode = fields["private-domains"]
        else { return }
        let listPath = path.key("private-domains")
        guard let items = reader.list(listNode, listPath) else { return }
        if items.isEmpty {
            reader.error(listNode, listPath, "an empty list of private domains; leave `private-domains` out")
            return
        }
        if network.mode == .isolated {
            reader.error(
                listNode, listPath,
                "an isolated network's DNS forwards nothing, so `private-domains` has no effect; "
                    + "remove it or use `mode: nat`")
            return
        }
        var seen: [String: ConfigPath] = [:]
        for (index, item) in items.enumerated() {
            let itemPath = listPath.index(index)
            guard let text = reader.string(item, itemPath, what: "a DNS domain like lan.example.com") else { continue }
            guard isValidDomainName(text) else {
                reader.error(
                    item, itemPath,
                    "\(quoted(text)) is not a DNS domain: dot-separated labels of 1-63 letters, digits or `-` "
                        + "(not starting or ending with `-`), at most 253 characters, no leading or trailing dot")
                continue
            }
            let domain = text.lowercased()
            if let earlier = seen[domain] {
                reader.error(item, itemPath, "domain \(quoted(text)) is already listed at \(earlier)")
                continue
            }
            seen[domain] = itemPath
            network.privateDomains.append(domain)
        }
    }

    // MARK: DHCP

    private mutating func decodeDHCP(_ node: YAMLNode, _ path: ConfigPath, subnet: IPv4CIDR?)
        -> NetworkDraft.DHCPDraft
    {
        if case .scalar(let scalar) = node.kind, case .bool(let on) = ScalarValue(scalar) {
            return on ? .defaults : .off
        }
        guard case .mapping = node.kind else {
            reader.error(node, path, "expected true, false or a mapping (range, lease-time, hosts), found \(node.kindName)")
            return .defaults
        }
        guard let fields = reader.fields(node, path, known: Self.dhcpKeys) else { return .defaults }
        var range: NetworkDraft.RangeDraft?
        var leaseTime: LeaseTime?
        var hosts: [StaticHost] = []
        if let node = fields["range"] { range = decodeRange(node, path.key("range"), subnet: subnet) }
        if let node = fields["lease-time"] { leaseTime = decodeLeaseTime(node, path.key("lease-time")) }
        if let node = fields["hosts"] { hosts = decodeHosts(node, path.key("hosts"), subnet: subnet) }
        return .configured(range: range, leaseTime: leaseTime, hosts: hosts)
    }

    private mutating func decodeRange(_ node: YAMLNode, _ path: ConfigPath, subnet: IPv4CIDR?)
        -> NetworkDraft.RangeDraft?
    {
        let expected = "`static` or a range like 192.168.100.2-192.168.100.254"
        guard let text = reader.string(node, path, what: expected) else { return nil }
        if text == "static" { return .staticOnly }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let first = IPv4Address(parts[0].trimmed), let last = IPv4Address(parts[1].trimmed) else {
            reader.error(node, path, "\(quoted(text)) is not \(expected)")
            return nil
        }
        guard first <= last else {
            reader.error(node, path, "the range starts at \(first), after its end \(last)")
            return nil
        }
        guard let subnet else { return .range(AddressRange(first: first, last: last)) }
        guard subnet.contains(first), subnet.contains(last) else {
            reader.error(node, path, "the range \(first)-\(last) is not inside the network's subnet \(subnet.subnet)")
            return nil
        }
        if first == subnet.network || last == subnet.broadcast {
            let which = first == subnet.network ? "network address \(first)" : "broadcast address \(last)"
            reader.error(node, path, "the range includes the \(which); use \(subnet.firstHost)-\(subnet.lastHost) at most")
            return nil
        }
        let range = AddressRange(first: first, last: last)
        if range.contains(subnet.address) {
            reader.error(node, path, "the range includes the host address \(subnet.address); leave it out")
            return nil
        }
        return .range(range)
    }

    private mutating func decodeLeaseTime(_ node: YAMLNode, _ path: ConfigPath) -> LeaseTime? {
        let expected = "a duration like 30m, 12h, 7d, 2w, or `infinite`"
        guard let text = reader.string(node, path, what: expected) else { return nil }
        if text == "infinite" { return .infinite }
        guard let unitName = text.last, let amount = TextShape.number(text.dropLast(), digits: 9),
            let unit = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800][String(unitName)]
        else {
            reader.error(node, path, "\(quoted(text)) is not \(expected)")
            return nil
        }
        let seconds = amount * unit
        guard seconds >= 120 else {
            reader.error(node, path, "lease time \(text) is shorter than 2m, the least dnsmasq accepts")
            return nil
        }
        // dnsmasq counts lease times in 32 bits, and takes the largest value for infinite.
        guard seconds < Int(UInt32.max) else {
            reader.error(node, path, "lease time \(text) is longer than dnsmasq can count; use `infinite`")
            return nil
        }
        return .seconds(seconds)
    }

    private mutating func decodeHosts(_ node: YAMLNode, _ path: ConfigPath, subnet: IPv4CIDR?) -> [StaticHost] {
        guard let items = reader.list(node, path) else { return [] }
        var hosts: [StaticHost] = []
        var macs: [String: ConfigPath] = [:]
        var ips: [IPv4Address: ConfigPath] = [:]
        var names: [String: ConfigPath] = [:]
        for (index, item) in items.enumerated() {
            let itemPath = path.index(index)
            guard let fields = reader.fields(item, itemPath, known: Self.hostKeys, required: ["mac", "ip"]) else {
                continue
            }
            var mac: String?
            var ip: IPv4Address?
            var name: String?
            if let node = fields["mac"], let text = reader.string(node, itemPath.key("mac"), what: "a MAC address") {
                if !TextShape.isMAC(text) {
                    reader.error(node, itemPath.key("mac"), "\(quoted(text)) is not a MAC address like 52:54:00:12:34:56")
                } else if let earlier = macs[text.lowercased()] {
                    reader.error(node, itemPath.key("mac"), "MAC \(text) is already given to \(earlier)")
                } else {
                    mac = text.lowercased()
                    macs[text.lowercased()] = itemPath
                }
            }
            if let node = fields["ip"], let text = reader.string(node, itemPath.key("ip"), what: "an IPv4 address") {
                if let address = IPv4Address(text) {
                    if let problem = guestAddressProblem(address, subnet: subnet) {
                        reader.error(node, itemPath.key("ip"), problem)
                    } else if let earlier = ips[address] {
                        reader.error(node, itemPath.key("ip"), "\(address) is already given to \(earlier)")
                    } else {
                        ip = address
                        ips[address] = itemPath
                    }
                } else {
                    reader.error(node, itemPath.key("ip"), "\(quoted(text)) is not an IPv4 address")
                }
            }
            if let node = fields["name"], let text = reader.string(node, itemPath.key("name"), what: "a host name") {
                if !isValidHostName(text) {
                    reader.error(
                        node, itemPath.key("name"),
                        "host name \(quoted(text)) must be 1-63 letters, digits or `-`, not starting or ending with `-`")
                } else if let earlier = names[text.lowercased()] {
                    reader.error(node, itemPath.key("name"), "host name \(text) is already given to \(earlier)")
                } else {
                    name = text
                    names[text.lowercased()] = itemPath
                }
            }
            if let mac, let ip { hosts.append(StaticHost(mac: mac, ip: ip, name: name)) }
        }
        return hosts
    }

    // MARK: Allow and forwards

    private mutating func decodeAllow(_ node: YAMLNode, _ path: ConfigPath, mode: Network.Mode)
        -> [Located<AllowRule>]
    {
        guard let items = reader.list(node, path) else { return [] }
        var rules: [Located<AllowRule>] = []
        for (index, item) in items.enumerated() {
            let itemPath = path.index(index)
            guard let fields = reader.fields(item, itemPath, known: Self.allowKeys, required: ["to"]) else {
                continue
            }
            var valid = true
            var destination: AllowRule.Destination?
            if let node = fields["to"] {
                let toPath = itemPath.key("to")
                if let text = reader.string(node, toPath, what: "`host` or a CIDR like 192.168.0.5/32") {
                    if text == "host" {
                        destination = .host
                    } else if let cidr = destinationCIDR(text, node, toPath) {
                        if mode == .isolated {
                            reader.error(
                                node, toPath,
                                "isolated networks forward nothing, so an allow rule to \(cidr) has no effect; "
                                    + "use `to: host` or `mode: nat`"
                            )
                        } else {
                            destination = .cidr(cidr)
                        }
                    }
                }
            }
            var proto = Proto.all
            if let node = fields["proto"] {
                if let word = reader.word(node, itemPath.key("proto"), oneOf: Proto.allCases.map(\.rawValue)),
                    let value = Proto(rawValue: word)
                {
                    proto = value
                } else {
                    valid = false
                }
            }
            var ports: [PortRange] = []
            if let node = fields["ports"] {
                let portsPath = itemPath.key("ports")
                if valid, proto != .tcp, proto != .udp {
                    reader.error(
                        node, portsPath, "`ports` needs `proto: tcp` or `proto: udp`; this rule's proto is \(proto.rawValue)")
                    valid = false
                }
                if let items = reader.list(node, portsPath) {
                    if items.isEmpty {
                        reader.error(node, portsPath, "an empty list of ports; leave `ports` out to allow every port")
                        valid = false
                    }
                    for (portIndex, portNode) in items.enumerated() {
                        if let range = portRange(portNode, portsPath.index(portIndex)) {
                            ports.append(range)
                        } else {
                            valid = false
                        }
                    }
                } else {
                    valid = false
                }
            }
            if valid, let destination, let toNode = fields["to"] {
                rules.append(
                    Located(
                        value: AllowRule(to: destination, proto: proto, ports: ports), node: toNode,
                        path: itemPath.key("to")))
            }
        }
        return rules
    }

    private mutating func decodeForwards(_ node: YAMLNode, _ path: ConfigPath, subnet: IPv4CIDR?)
        -> [Located<NetworkDraft.PortForwardDraft>]
    {
        guard let items = reader.list(node, path) else { return [] }
        var forwards: [Located<NetworkDraft.PortForwardDraft>] = []
        for (index, item) in items.enumerated() {
            let itemPath = path.index(index)
            guard let fields = reader.fields(item, itemPath, known: Self.forwardKeys, required: ["proto", "port", "to"])
            else { continue }
            var proto: PortForward.Proto?
            var port: Int?
            var target: (IPv4Address, Int?)?
            if let node = fields["proto"], let word = reader.word(node, itemPath.key("proto"), oneOf: ["tcp", "udp"]) {
                proto = PortForward.Proto(rawValue: word)
            }
            if let node = fields["port"] { port = portNumber(node, itemPath.key("port")) }
            if let node = fields["to"] { target = forwardTarget(node, itemPath.key("to"), subnet: subnet) }
            var override: Bool? = false
            if let node = fields["override-host-port"] { override = reader.bool(node, itemPath.key("override-host-port")) }
            if let proto, let port, let portNode = fields["port"], let (address, toPort) = target, let override {
                let forward = PortForward(
                    proto: proto, port: port, toAddress: address, toPort: toPort ?? port, overrideHostPort: override)
                forwards.append(
                    Located(value: .init(forward: forward, portNode: portNode), node: item, path: itemPath))
            }
        }
        return forwards
    }

    private mutating func forwardTarget(_ node: YAMLNode, _ path: ConfigPath, subnet: IPv4CIDR?)
        -> (IPv4Address, Int?)?
    {
        let expected = "a guest address and port like 192.168.100.10:22"
        guard let text = reader.string(node, path, what: expected) else { return nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPv4Address(parts[0]) else {
            reader.error(node, path, "\(quoted(text)) is not \(expected)")
            return nil
        }
        var port: Int?
        if parts.count == 2 {
            guard let value = Int(parts[1]), parts[1].allSatisfy(\.isASCII), (1...65535).contains(value) else {
                reader.error(node, path, "\(quoted(String(parts[1]))) in \(quoted(text)) is not a port number (1-65535)")
                return nil
            }
            port = value
        }
        if let problem = guestAddressProblem(address, subnet: subnet) {
            reader.error(node, path, problem)
            return nil
        }
        return (address, port)
    }

    // MARK: Small values

    private mutating func portNumber(_ node: YAMLNode, _ path: ConfigPath) -> Int? {
        guard let port = reader.int(node, path, what: "a port number (1-65535)") else { return nil }
        guard (1...65535).contains(port) else {
            reader.error(node, path, "port \(port) is out of range 1-65535")
            return nil
        }
        return port
    }

    /// `22`, `"22"` or `"8000-8100"`.
    private mutating func portRange(_ node: YAMLNode, _ path: ConfigPath) -> PortRange? {
        if case .scalar(let scalar) = node.kind, case .int = ScalarValue(scalar) {
            return portNumber(node, path).map { PortRange($0) }
        }
        let expected = "a port (1-65535) or a range like \"8000-8100\""
        guard let text = reader.string(node, path, what: expected) else { return nil }
        let bounds = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let low = TextShape.number(bounds[0], digits: 5),
            let high = bounds.count == 2 ? TextShape.number(bounds[1], digits: 5) : low
        else {
            reader.error(node, path, "\(quoted(text)) is not \(expected)")
            return nil
        }
        guard (1...65535).contains(low), (1...65535).contains(high) else {
            reader.error(node, path, "\(quoted(text)) is out of range 1-65535")
            return nil
        }
        guard low <= high else {
            reader.error(node, path, "the range \(quoted(text)) starts after it ends")
            return nil
        }
        return PortRange(low, high)
    }

    /// `interface: NAME`, or `interface: {mac: "00:e0:4c:68:00:01"}`: the device found by its MAC.
    private mutating func decodeInterface(_ node: YAMLNode, _ path: ConfigPath) -> Network.Device? {
        guard case .mapping = node.kind else { return deviceName(node, path).map(Network.Device.interface) }
        guard let fields = reader.fields(node, path, known: Self.interfaceKeys, required: ["mac"]),
            let macNode = fields["mac"], let text = reader.string(macNode, path.key("mac"), what: "a MAC address")
        else { return nil }
        guard TextShape.isMAC(text) else {
            reader.error(macNode, path.key("mac"), "\(quoted(text)) is not a MAC address like 00:e0:4c:68:00:01")
            return nil
        }
        return .interfaceWithMAC(text.lowercased())
    }

    private mutating func deviceName(_ node: YAMLNode, _ path: ConfigPath) -> String? {
        guard let name = reader.string(node, path, what: "a device name") else { return nil }
        guard isValidDeviceName(name) else {
            reader.error(
                node, path,
                "device name \(quoted(name)) must be 1-15 characters of letters, digits, `_`, `.` or `-`, and not `.` or `..`"
            )
            return nil
        }
        return name
    }

    /// A destination: a CIDR with no host bits, or a bare address meaning /32.
    private mutating func destinationCIDR(_ text: String, _ node: YAMLNode, _ path: ConfigPath) -> IPv4CIDR? {
        guard let cidr = IPv4CIDR(text, hostIfBare: true) else {
            reader.error(node, path, "\(quoted(text)) is not an IPv4 address or CIDR like 192.168.0.0/16")
            return nil
        }
        guard cidr.address == cidr.network else {
            reader.error(node, path, "\(text) has host bits set; did you mean \(cidr.subnet)?")
            return nil
        }
        return cidr
    }

    private func guestAddressProblem(_ address: IPv4Address, subnet: IPv4CIDR?) -> String? {
        guard let subnet else { return nil }
        if !subnet.contains(address) { return "\(address) is not inside the network's subnet \(subnet.subnet)" }
        if address == subnet.address { return "\(address) is the host's own address on this network" }
        if address == subnet.network { return "\(address) is the network address of \(subnet.subnet)" }
        if address == subnet.broadcast { return "\(address) is the broadcast address of \(subnet.subnet)" }
        return nil
    }
}

extension Substring {
    fileprivate var trimmed: Substring {
        let start = firstIndex { $0 != " " } ?? endIndex
        let end = lastIndex { $0 != " " }.map { index(after: $0) } ?? start
        return self[start..<Swift.max(start, end)]
    }
}

/// `[a-z][a-z0-9-]{0,14}`: it names chains, files and the device's mark.
func isValidNetworkName(_ name: String) -> Bool {
    TextShape.isNetworkName(name)
}

/// What the kernel accepts as an interface name (IFNAMSIZ, no `/`, no spaces), narrowed
/// to characters that are safe in every command and file name moat builds from it.
public func isValidDeviceName(_ name: String) -> Bool {
    TextShape.isDeviceName(name)
}

/// A DNS label (RFC 1123): what dnsmasq will hand out as a host name.
func isValidHostName(_ name: String) -> Bool {
    TextShape.isHostName(name)
}

/// Dot-separated DNS labels, at most 253 characters, no leading or trailing dot: it reaches
/// a dnsmasq config line, so nothing but letters, digits, `-` and `.` passes.
func isValidDomainName(_ name: String) -> Bool {
    TextShape.isDomainName(name)
}
