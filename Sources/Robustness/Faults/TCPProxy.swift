import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A fault-injecting TCP proxy in front of one node's peer port (plain sockets, one thread
/// per direction of each connection). Every accepted connection is attributed to the node
/// process that opened it (via /proc), so a link between two nodes can be cut in both
/// directions: `isolate` blackholes (silently discards) the traffic of the chosen source
/// nodes, or of everyone; `delay` holds every chunk back. A connection that lost data is
/// closed once the fault heals (a real partition's stream would reset too).
public final class TCPProxy: Sendable {
    public let node: Int
    public let listenPort: Int
    public let targetPort: Int
    /// Node index -> pid of the cluster's processes, to attribute connections.
    let pids: @Sendable () -> [Int: Int32]
    let state = Mutex(State())

    struct State {
        var listenFD: Int32 = -1
        var blockAll = false
        var blockedSources: Set<Int> = []
        var delay: Duration = .zero
        /// Delay for connections opened by these nodes only (the other direction of a delayed
        /// node's links: the connections it dials).
        var delayedSources: Set<Int> = []
        var sourceDelay: Duration = .zero
        /// Descriptors of live connections, each closed exactly once: by the last pump of its
        /// pair (`pumpsLeft`), never by `stop`, which only shuts them down. A second close of a
        /// number the process has since reused closes someone else's file (it crashed a test
        /// run: a `FileHandle` reading /proc/net/tcp lost its descriptor).
        var open: Set<Int32> = []
        /// Pumps still running per connection pair, keyed by the client descriptor.
        var pumpsLeft: [Int32: Int] = [:]
        var stopped = false
    }

    public init(node: Int, listenPort: Int, targetPort: Int, pids: @escaping @Sendable () -> [Int: Int32]) {
        self.node = node
        self.listenPort = listenPort
        self.targetPort = targetPort
        self.pids = pids
    }

    /// Blackholes every connection (this node cut off from everyone) or heals it.
    public func setBlockAll(_ on: Bool) { state.withLock { $0.blockAll = on } }
    /// Blackholes connections opened by these nodes.
    public func setBlockedSources(_ nodes: Set<Int>) { state.withLock { $0.blockedSources = nodes } }
    /// Delays every chunk of every connection (both directions) by `d`.
    public func setDelay(_ d: Duration) { state.withLock { $0.delay = d } }
    /// Delays every chunk (both directions) of the connections these nodes opened.
    public func setDelayedSources(_ nodes: Set<Int>, delay d: Duration) {
        state.withLock {
            $0.delayedSources = nodes
            $0.sourceDelay = d
        }
    }
    public func heal() {
        state.withLock {
            $0.blockAll = false
            $0.blockedSources = []
            $0.delay = .zero
            $0.delayedSources = []
            $0.sourceDelay = .zero
        }
    }

    public func start() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError.socket(errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(port: listenPort)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ProxyError.bind(listenPort, errno)
        }
        state.withLock { $0.listenFD = fd }
        Thread.detachNewThread { [self] in acceptLoop(fd) }
    }

    /// Stops accepting and shuts every live connection down. Descriptors are closed by their
    /// owners only: the accept loop closes the listening socket, the pumps their connection.
    public func stop() {
        state.withLock { s in
            s.stopped = true
            if s.listenFD >= 0 { shutdown(s.listenFD, Int32(SHUT_RDWR)) }
            // Under the lock: a descriptor in `open` is not closed yet (pumps remove before closing).
            for fd in s.open { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }

    /// Owns the listening socket: closes it when it stops accepting.
    func acceptLoop(_ listenFD: Int32) {
        defer {
            state.withLock { $0.listenFD = -1 }
            close(listenFD)
        }
        while !state.withLock({ $0.stopped }) {
            var peer = sockaddr_in()
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let client = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &len) }
            }
            if client < 0 {
                if state.withLock({ $0.stopped }) { return }
                if errno == EINTR { continue }
                return
            }
            let sourcePort = Int(UInt16(bigEndian: peer.sin_port))
            let source = SocketOwner.node(connectedFrom: sourcePort, to: listenPort, pids: pids())
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var target = Self.loopback(port: targetPort)
            let ok = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if ok != 0 {
                close(client)
                close(upstream)
                continue
            }
            let accepted: Bool = state.withLock { s in
                if s.stopped { return false }
                s.open.insert(client)
                s.open.insert(upstream)
                s.pumpsLeft[client] = 2
                return true
            }
            if !accepted {
                close(client)
                close(upstream)
                return
            }
            let tainted = Shared(false)
            Thread.detachNewThread { [self] in pump(from: client, to: upstream, pair: client, source: source, tainted: tainted) }
            Thread.detachNewThread { [self] in pump(from: upstream, to: client, pair: client, source: source, tainted: tainted) }
        }
    }

    func pump(from: Int32, to: Int32, pair: Int32, source: Int?, tainted: Shared<Bool>) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        defer {
            // Both descriptors stay open until the pair's last pump is done, so shutting them
            // down here cannot touch a reused number; the last pump closes both, once.
            shutdown(from, Int32(SHUT_RDWR))
            shutdown(to, Int32(SHUT_RDWR))
            let last: Bool = state.withLock { s in
                let left = (s.pumpsLeft[pair] ?? 1) - 1
                if left > 0 {
                    s.pumpsLeft[pair] = left
                    return false
                }
                s.pumpsLeft[pair] = nil
                s.open.remove(from)
                s.open.remove(to)
                return true
            }
            if last {
                close(from)
                close(to)
            }
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            let (blocked, delay) = state.withLock { s in
                let fromDelayed = source.map { s.delayedSources.contains($0) } ?? false
                return (s.blockAll || (source.map { s.blockedSources.contains($0) } ?? false), max(s.delay, fromDelayed ? s.sourceDelay : .zero))
            }
            if blocked {
                tainted.withLock { $0 = true }
                continue
            }
            if tainted.withLock({ $0 }) { return }
            if delay > .zero {
                let c = delay.components
                usleep(useconds_t(c.seconds * 1_000_000 + c.attoseconds / 1_000_000_000_000))
            }
            var off = 0
            while off < n {
                // send with MSG_NOSIGNAL: a peer that closed (a killed node) must not SIGPIPE the
                // whole harness process (it killed a loaded test run once).
                let w = buffer.withUnsafeBytes { send(to, $0.baseAddress! + off, n - off, Int32(MSG_NOSIGNAL)) }
                if w <= 0 { return }
                off += w
            }
        }
    }
}

public enum ProxyError: Error {
    case socket(Int32)
    case bind(Int, Int32)
}

/// Finds which of the cluster's processes owns the client end of a loopback connection:
/// /proc/net/tcp maps the connection (127.0.0.1:from -> 127.0.0.1:to) to a socket inode,
/// and /proc/<pid>/fd shows which process holds that inode.
enum SocketOwner {
    static func node(connectedFrom sourcePort: Int, to port: Int, pids: [Int: Int32]) -> Int? {
        // Read to EOF: procfs files report size 0, and a one-shot read may stop at the first
        // page (4 KiB), missing connections further down a long table.
        guard let handle = FileHandle(forReadingAtPath: "/proc/net/tcp") else { return nil }
        defer { try? handle.close() }
        let table = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        let local = String(format: "0100007F:%04X", sourcePort)
        let remote = String(format: "0100007F:%04X", port)
        var inode: String?
        for line in table.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if f.count > 9, f[1] == local, f[2] == remote {
                inode = String(f[9])
                break
            }
        }
        guard let inode else { return nil }
        let needle = "socket:[\(inode)]"
        for (node, pid) in pids {
            let dir = "/proc/\(pid)/fd"
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for fd in fds {
                if linkTarget(dir + "/" + fd) == needle { return node }
            }
        }
        return nil
    }

    /// The raw target of a symbolic link (readlink(2); Foundation would treat "socket:[n]" as a path).
    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
