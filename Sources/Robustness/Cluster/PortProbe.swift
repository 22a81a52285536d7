import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Asks the kernel whether a loopback TCP port can be listened on right now (a bind with
/// SO_REUSEADDR, so a port in TIME_WAIT from the previous run counts as free, as it does for
/// the servers). Stateless.
enum PortProbe {
    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = TCPProxy.loopback(port: port)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return bound == 0 && listen(fd, 1) == 0
    }

    /// Frees `port` when an orphaned `swift-backtrace` holds it: the Swift runtime's crash
    /// reporter inherits a crashed node's listening sockets and, once the harness has killed the
    /// node, may outlive it by minutes. Only a `swift-backtrace` whose parent is gone (ppid 1)
    /// and which listens on this loopback port is killed: that can only come from a node of this
    /// port block. Returns true when one was killed.
    static func reclaimFromOrphanedBacktracer(_ port: Int) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: "/proc/net/tcp") else { return false }
        defer { try? handle.close() }
        let table = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        let local = String(format: "0100007F:%04X", port)
        var inodes = Set<String>()
        for line in table.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if f.count > 9, f[1] == local, f[3] == "0A" { inodes.insert("socket:[\(f[9])]") }
        }
        guard !inodes.isEmpty, let procs = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return false }
        var killed = false
        for e in procs {
            guard let pid = Int32(e),
                let comm = try? String(contentsOfFile: "/proc/\(e)/comm", encoding: .utf8),
                comm.trimmingCharacters(in: .whitespacesAndNewlines) == "swift-backtrace",
                let stat = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, fields[1] == "1" else { continue }
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(e)/fd")) ?? []
            if fds.contains(where: { SocketOwner.linkTarget("/proc/\(e)/fd/\($0)").map(inodes.contains) ?? false }) {
                _ = kill(pid, SIGKILL)
                killed = true
            }
        }
        return killed
    }
}
