import FuzzSupport
import MoatCore

/// A `/proc/net/{tcp,tcp6,udp,udp6}` table as the port-forward safety rail reads it
/// (`Listeners.parseProcNet`, the input as each of the four), a `/proc/PID/fd` link
/// (`socketInode`) and a `/proc/PID/comm` (`parseComm`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = FuzzInput(data, size).text
    for table in Listeners.tables {
        for socket in Listeners.parseProcNet(text, proto: table.proto, ipv6: table.ipv6) {
            require((0...65535).contains(socket.port), "port \(socket.port)")
            keep(socket.description)
        }
    }
    keep(Listeners.socketInode(link: text))
    if let comm = Listeners.parseComm(text) {
        require(comm.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }, "comm keeps a control character")
    }
    return 0
}
