import Foundation

/// The one switch that re-records golden files (iptables payloads, dnsmasq configs, plan
/// text and JSON, diagnostics): `MOAT_RECORD=1 swift test`, then rebuild, since fixtures are
/// copied into the test bundles at build time.
public enum Golden {
    public static var recording: Bool { ProcessInfo.processInfo.environment["MOAT_RECORD"] == "1" }
}
