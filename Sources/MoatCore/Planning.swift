import MoatConfig

/// What `moat plan` and `moat destroy` make of a file and a host, without reading the host:
/// the reconciler adds the one read a plan may need (rail B's listeners) between `check` and
/// `plan`; the fuzz targets plan on made-up hosts with the same two calls.
public enum Planning {
    /// The file placed on `live` (each network's device named), and what of the host is in
    /// its way: placement, conflicts, and interfaces another network shares.
    public static func check(_ file: Config, on live: HostState) -> Placement {
        var placement = Placement.place(file, on: live)
        placement.problems += Conflicts.find(config: placement.config, live: live)
        placement.problems += SafetyRails.sharedInterfaces(
            config: placement.config, live: live, records: live.records.interfaces)
        return placement
    }

    /// The desired host and the plan from `live` to it, for a placed file with no problems:
    /// the backend (`FirewallDecision.choose`), the diff, the connections the new rules cut,
    /// the rails' and the other firewalls' warnings, and the networks that wait for a device.
    public static func plan(_ placement: Placement, live: HostState, paths: Paths) -> (desired: HostState, plan: Plan) {
        let config = placement.config
        let firewall = FirewallDecision.choose(config.firewall, host: live)
        let desired = DesiredState.render(config, paths: paths, upstream: live.resolvers, backend: firewall.backend)
        var plan = Diff.plan(desired: desired, live: live, context: DiffContext(live), paths: paths)
        plan.steps += ConnectionCut.steps(config: config, desired: desired, live: live)
        plan.warnings = SafetyRails.warnings(config: config, live: live) + firewall.warnings(config: config, host: live)
        plan.firewall = firewall
        plan.waiting = placement.waiting
        let gone = Set(placement.waiting.map(\.network))
        for index in plan.steps.indices where plan.steps[index].code == .notInFile && gone.contains(plan.steps[index].network ?? "") {
            plan.steps[index].reason = "its device is gone; the network waits for it"
            plan.steps[index].code = .waiting
        }
        return (desired, plan)
    }

    /// The plan that removes the networks `declared` (every network of moat's on the host
    /// when nil) from `live`, and nothing else.
    public static func destroy(_ declared: Set<String>?, live: HostState, paths: Paths) -> (leaving: Set<String>, plan: Plan) {
        let leaving = declared ?? Set(live.networks.keys)
        var context = DiffContext(live, leaving: declared == nil ? "moat destroy --all" : "moat destroy")
        context.code = .destroy
        context.restartDnsmasq = []  // what leaves is stopped, not restarted
        return (leaving, Diff.plan(desired: live.without(networks: leaving), live: live, context: context, paths: paths))
    }
}
