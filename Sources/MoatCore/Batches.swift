import MoatConfig

extension LinkCommand {
    /// The `ip -batch` lines of one phase's link commands: by `order` (deletions first),
    /// otherwise in the plan's order.
    public static func batch(_ commands: [LinkCommand]) -> [String] {
        commands.enumerated().sorted { ($0.element.order, $0.offset) < ($1.element.order, $1.offset) }.map(\.element.batchLine)
    }

    /// The link group ("moat" in ASCII) that the bridges of one deletion join, so that one
    /// kernel request deletes them all: the kernel unregisters a group's devices together,
    /// waiting for the network stack's grace period once rather than once per bridge.
    public static let deletionGroup: UInt32 = 0x6D6F_6174

    /// The `ip -batch` lines that delete `bridges` (moat's, after verification): each joins
    /// `deletionGroup`, then `link del group` deletes the group. One `link del dev` a bridge
    /// instead when there is one, or when a link that stays may be in that group: a bridge a
    /// killed deletion left there and the file wants again, or a foreign device (whose group
    /// `ip` may print by a name of /etc/iproute2/group, so only another number tells it apart).
    public static func deletion(of bridges: [String], host: HostState) -> [String] {
        let doomed = Set(bridges)
        let groupIsMoats = host.linkGroups.allSatisfy { name, group in
            doomed.contains(name) || UInt32(group).map { $0 != deletionGroup } == true
        }
        guard doomed.count > 1, groupIsMoats else { return bridges.map { LinkCommand.delete($0).batchLine } }
        return bridges.map { "link set dev \($0) group \(deletionGroup)" } + ["link del group \(deletionGroup)"]
    }
}

extension IptablesBackend {
    /// A plan's iptables operations as one `iptables-restore --noflush` transaction (see
    /// `restorePayload(write:delete:removeJumps:insertJumps:)`); other operations, and those of
    /// nftables' chains, are ignored.
    public static func restorePayload(operations: [Operation]) -> String {
        var write: [ChainID: [FirewallRule]] = [:]
        var delete: Set<ChainID> = []
        var removeJumps: [ChainID: [FirewallRule]] = [:]
        var insertJumps: [ChainID: [FirewallRule]] = [:]
        for operation in operations {
            switch operation {
            case .writeChain(let chain, let rules) where chain.backend == .iptables: write[chain] = rules
            case .deleteChain(let chain) where chain.backend == .iptables: delete.insert(chain)
            case .replaceJumps(let builtin, let old, let new):
                removeJumps[builtin] = old
                insertJumps[builtin] = new
            default: break
            }
        }
        return restorePayload(write: write, delete: delete, removeJumps: removeJumps, insertJumps: insertJumps)
    }
}
