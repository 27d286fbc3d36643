/// Runs every command inside a network namespace by prefixing `ip netns exec <namespace>`, so
/// tests can point moat's code at a namespace they made and never at the machine's own.
public struct NamespacedRunner: CommandRunner {
    public var base: any CommandRunner
    public var namespace: String

    public init(namespace: String, base: any CommandRunner = SystemRunner()) {
        self.namespace = namespace
        self.base = base
    }

    public func run(_ argv: [String], input: String?) async throws -> CommandResult {
        var result = try await base.run(["ip", "netns", "exec", namespace] + argv, input: input)
        // `ip netns exec` reports a program it cannot find with its own status; give it the
        // shell's 127 so callers see "not found" the same way with and without a namespace.
        if result.status != 0, let program = argv.first,
            result.stderr.contains("exec of \"\(program)\" failed: No such file or directory")
        {
            result.status = 127
        }
        return result
    }
}
