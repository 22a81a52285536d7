import Foundation
import Synchronization

/// Ports this test process has handed out (never twice, so concurrent tests do not clash).
private let handedOut = Mutex<Set<Int>>([])

/// A TCP port on 127.0.0.1 that was free a moment ago, drawn from 10000..<22000: below the
/// kernel's ephemeral range (32768–60999 here), so an outgoing connection of a test cluster
/// cannot take it as its source port between this call and the node binding it (binding
/// port 0 drew from that range, and a node's port was once lost to a peer connection), and
/// clear of the fixed ports of `flotilla dev` (2379+), the robustness harness (28000+) and
/// the benchmarks (31000+). Still racy against other processes; tests that need several take
/// them together.
public func freePort() -> Int {
    for _ in 0..<1_000 {
        let port = Int.random(in: 10_000..<22_000)
        let fresh = handedOut.withLock { $0.insert(port).inserted }
        if fresh && canBind(port) { return port }
    }
    fatalError("no free TCP port in 10000..<22000 after 1,000 tries")
}

/// Whether 127.0.0.1:`port` can be bound now (the probe socket is closed at once).
private func canBind(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let len = socklen_t(MemoryLayout<sockaddr_in>.size)
    return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } } == 0
}
