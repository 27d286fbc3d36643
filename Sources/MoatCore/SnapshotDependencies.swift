import Foundation
import MoatConfig

/// The programs moat runs and the Debian packages that provide them, so that a missing one
/// is an error the user can act on before anything is touched.
public enum Dependencies {
    /// Program → Debian package. dnsmasq comes from `dnsmasq-base`: the `dnsmasq` package
    /// also starts a system-wide dnsmasq that would take port 53 on every interface.
    public static let packages: [String: String] = [
        "ip": "iproute2",
        "iptables": "iptables",
        "iptables-save": "iptables",
        "iptables-restore": "iptables",
        "dnsmasq": "dnsmasq-base",
        "conntrack": "conntrack",
        "nft": "nftables",
    ]

    /// What every `apply` and `destroy` runs. `conntrack` is needed only by an apply that cuts
    /// connections, `nft` only by one that changes nftables' rules; each is checked then
    /// (still before anything is touched).
    public static let always = ["dnsmasq", "ip", "iptables", "iptables-restore", "iptables-save"]

    /// The error for programs that cannot be found, naming the packages to install.
    public static func missing(_ programs: [String]) -> MoatError {
        let names = programs.map { "`\($0)`" }.joined(separator: ", ")
        let packages = Array(Set(programs.map { Self.packages[$0] ?? $0 })).sorted()
        let verb = programs.count == 1 ? "is" : "are"
        return MoatError(
            .failed,
            "\(names) \(verb) not installed (not found on PATH): install the Debian package"
                + (packages.count == 1 ? " " : "s ") + packages.joined(separator: ", ")
                + " (apt install \(packages.joined(separator: " ")))")
    }
}
