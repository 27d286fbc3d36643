import MoatCore

// Tests that want to see rules as iptables-save prints them compare through the backend.

extension Array where Element == FirewallRule {
    /// The rules as the iptables backend prints them.
    var text: [String] { map(IptablesBackend.text(of:)) }
}

extension Dictionary where Value == [FirewallRule] {
    /// Every chain's rules as the iptables backend prints them.
    var text: [Key: [String]] { mapValues(\.text) }
}
