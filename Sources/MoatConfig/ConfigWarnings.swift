// What is legal but almost certainly wrong. Checked only on a file without errors, against
// the resolved config (the expanded `block`), pointing at the drafts' nodes.

extension ConfigDecoder {
    mutating func checkWarnings(_ draft: ConfigDraft, _ config: Config) {
        var hostAddresses: [IPv4Address: ConfigPath] = [:]
        for network in draft.networks {
            if let address = network.address, hostAddresses[address.value.address] == nil {
                hostAddresses[address.value.address] = address.path
            }
        }
        for network in draft.networks {
            for rule in network.allow {
                guard case .cidr(let cidr) = rule.value.to else { continue }
                let reopened = config.block.filter { cidr.covers($0) }
                if !reopened.isEmpty {
                    let ranges = reopened.map(\.description).joined(separator: ", ")
                    let what = reopened.count == 1 ? "the whole blocked range" : "the whole blocked ranges"
                    reader.warning(
                        rule.node, rule.path,
                        "an allow to \(cidr) re-opens \(what) \(ranges) to the guests; "
                            + "narrow `to` to the addresses they need")
                }
                if cidr.prefix == 32, let owner = hostAddresses[cidr.address] {
                    reader.warning(
                        rule.node, rule.path,
                        "\(cidr.address) is the host's own address (\(owner)); an allow to it has no effect, "
                            + "since traffic to the host is not forwarded: use `to: host`")
                }
            }
        }
    }
}
