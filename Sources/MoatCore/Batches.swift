import MoatConfig

extension LinkCommand {
    /// The `ip -batch` lines of one phase's link commands: by `order` (deletions first),
    /// otherwise in the plan's order.
    public static func batch(_ commands: [LinkCommand]) -> [String] {
        commands.enumerated().sorted { ($0.element.order, $0.offset) < ($1.element.order, $1.offset) }.map(\.element.batchLine)
    }
}

extension IptablesBackend {
    /// A plan's firewall operations as one `iptables-restore --noflush` transaction (see
    /// `restorePayload(write:delete:removeJumps:insertJumps:)`); other operations are ignored.
    public static func restorePayload(operations: [Operation]) -> String {
        var write: [ChainID: [FirewallRule]] = [:]
        var delete: Set<ChainID> = []
        var removeJumps: [ChainID: [FirewallRule]] = [:]
        var insertJumps: [ChainID: [FirewallRule]] = [:]
        for operation in operations {
            switch operation {
            case .writeChain(let chain, let rules): write[chain] = rules
            case .deleteChain(let chain): delete.insert(chain)
            case .replaceJumps(let builtin, let old, let new):
                removeJumps[builtin] = old
                insertJumps[builtin] = new
            default: break
            }
        }
        return restorePayload(write: write, delete: delete, removeJumps: removeJumps, insertJumps: insertJumps)
    }
}
