import Testing

/// Every end-to-end test, one at a time: each builds namespaces, starts dnsmasq and
/// listeners, and waits on one-second network timeouts, which crowding would make flaky.
@Suite("moat end to end, in network namespaces", .serialized, .enabled(if: Environment.ready))
struct EndToEnd {}

/// The files the tests apply. Plain, valid files of the documented format.
enum Files {
    /// The two-network VM lab of SPEC §2.
    static let lab = """
        version: 1
        networks:
          lab:
            bridge: virbr10
            address: 192.168.100.1/24
            dhcp:
              hosts:
                - { mac: "52:54:00:12:34:56", ip: 192.168.100.10, name: builder }
            allow:
              - { to: 192.168.0.5/32, proto: tcp, ports: [445] }
              - { to: host, proto: tcp, ports: [22] }
            forwards:
              - { proto: tcp, port: 2222, to: "192.168.100.10:22" }
          dmz:
            bridge: virbr11
            address: 192.168.101.1/24

        """

    /// The lab changed: lab's range narrowed and a third network added.
    static let labChanged = """
        version: 1
        networks:
          lab:
            bridge: virbr10
            address: 192.168.100.1/24
            dhcp:
              range: 192.168.100.50-192.168.100.99
              hosts:
                - { mac: "52:54:00:12:34:56", ip: 192.168.100.10, name: builder }
            allow:
              - { to: 192.168.0.5/32, proto: tcp, ports: [445] }
              - { to: host, proto: tcp, ports: [22] }
            forwards:
              - { proto: tcp, port: 2222, to: "192.168.100.10:22" }
          dmz:
            bridge: virbr11
            address: 192.168.101.1/24
          ops:
            bridge: virbr12
            address: 192.168.102.1/24

        """

    /// The builder VM's MAC, the static host of `lab`.
    static let builderMAC = "52:54:00:12:34:56"
}
