import Base
import Foundation
import Server
import Synchronization
@_exported import TestSupport

/// Runs real `flotilla serve` processes (the binary at .build/debug/flotilla, built by
/// Tools/test before the suite) on loopback ports in a temporary directory, for tests.
/// Owns the child processes: kill -9, restart, and cleanup.
final class ClusterHarness: @unchecked Sendable {
    // @unchecked: mutable state (`processes`) is only touched from the test's own task,
    // one call at a time; the class is Sendable only so async helpers can capture it.
    let root: String
    let nodes: Int
    let ranges: Int
    let clientPorts: [Int]
    let peerPorts: [Int]
    let metricsPorts: [Int]
    let extra: [String]
    var processes: [Int: Process] = [:]
    /// Extra environment variables of node `i`'s process (e.g. `FLOTILLA_CRASHPOINT`).
    var environment: [Int: [String: String]] = [:]
    let cluster: ClusterClient

    static var binary: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/flotilla").path
    }

    static var binaryExists: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    init(nodes: Int = 3, ranges: Int, extra: [String] = []) throws {
        self.nodes = nodes
        self.ranges = ranges
        self.extra = extra
        root = NSTemporaryDirectory() + "flotilla-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var used = Set<Int>()
        func port() -> Int {
            while true {
                let p = freePort()
                if used.insert(p).inserted { return p }
            }
        }
        clientPorts = (0..<nodes).map { _ in port() }
        peerPorts = (0..<nodes).map { _ in port() }
        metricsPorts = (0..<nodes).map { _ in port() }
        var addrs: [NodeID: NodeAddress] = [:]
        for i in 1...nodes { addrs[NodeID(UInt64(i))] = .init(host: "127.0.0.1", port: clientPorts[i - 1]) }
        cluster = try ClusterClient(addresses: addrs)
    }

    func start(_ i: Int) throws {
        let peers = (1...nodes).map { "\($0)=127.0.0.1:\(peerPorts[$0 - 1])" }.joined(separator: ",")
        let clients = (1...nodes).map { "\($0)=127.0.0.1:\(clientPorts[$0 - 1])" }.joined(separator: ",")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["serve", "--nodeID", "\(i)", "--dataDir", "\(root)/node-\(i)",
                       "--clientAddress", "127.0.0.1:\(clientPorts[i - 1])",
                       "--peerAddress", "127.0.0.1:\(peerPorts[i - 1])",
                       "--metricsAddress", "127.0.0.1:\(metricsPorts[i - 1])",
                       "--peers", peers, "--clients", clients, "--rangeCount", "\(ranges)", "--level", "warning"] + extra
        let logPath = "\(root)/node-\(i).log"
        if !FileManager.default.fileExists(atPath: logPath) { FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        p.standardError = log
        p.standardOutput = log
        if let extra = environment[i] {
            p.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        }
        try p.run()
        processes[i] = p
    }

    func startAll() throws { for i in 1...nodes { try start(i) } }

    func kill9(_ i: Int) {
        guard let p = processes.removeValue(forKey: i) else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// Sends `signal` to node `i`'s process (nothing if it is not running).
    func signal(_ i: Int, _ signal: Int32) {
        guard let p = processes[i] else { return }
        kill(p.processIdentifier, signal)
    }

    /// Waits up to `timeout` for node `i`'s process to exit on its own; returns its exit
    /// status and forgets it, or nil if it is still running (or was never started).
    func waitExit(_ i: Int, timeout: Duration) async -> Int32? {
        guard let p = processes[i] else { return nil }
        guard await eventually(timeout, { !p.isRunning }) else { return nil }
        processes[i] = nil
        return p.terminationStatus
    }

    /// SIGTERM and wait; returns the exit status.
    func terminate(_ i: Int) -> Int32 {
        guard let p = processes.removeValue(forKey: i) else { return -1 }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        return p.terminationStatus
    }

    func shutdown() {
        cluster.close()
        for i in Array(processes.keys) { kill9(i) }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The etcd endpoint (host:port) of node `i`.
    func endpoint(_ i: Int) -> String { "127.0.0.1:\(clientPorts[i - 1])" }

    func log(_ i: Int) -> String { (try? String(contentsOfFile: "\(root)/node-\(i).log", encoding: .utf8)) ?? "" }

    /// The status of every range on node `i` (nil if unreachable).
    func status(_ i: Int) async -> [AdminProtocol.RangeStatus]? {
        try? await cluster.clients[NodeID(UInt64(i))]!.status(timeout: .seconds(2))
    }

    /// Leaders per node, among the running nodes.
    func leaderCounts() async -> [Int: Int] {
        var out: [Int: Int] = [:]
        for i in processes.keys {
            out[i] = await status(i)?.filter(\.isLeader).count ?? 0
        }
        return out
    }

    /// True once every range is led by a running node.
    func waitAllLed(timeout: Duration = .seconds(60)) async -> Bool {
        await eventually(timeout) {
            var led = Set<RangeID>()
            for i in processes.keys {
                for s in await status(i) ?? [] where s.isLeader { led.insert(s.rangeID) }
            }
            return led.count >= ranges
        }
    }

    func getLocal(_ i: Int, _ key: [UInt8]) async -> AdminProtocol.Reply? {
        try? await cluster.clients[NodeID(UInt64(i))]!.call(.getLocal, key: key, timeout: .seconds(3))
    }
}

/// Polls `condition` until true or `timeout`.
func eventually(_ timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return await condition()
}

/// A blocking HTTP/1.1 GET on 127.0.0.1 (the metrics port closes after each response).
func httpGet(port: Int, path: String) -> (status: Int, body: String)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let c = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard c == 0 else { return nil }
    let req = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    _ = req.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        data += buf[0..<n]
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let headEnd = text.range(of: "\r\n\r\n") else { return nil }
    let statusLine = text[..<headEnd.lowerBound].split(separator: "\r\n").first ?? ""
    let code = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
    return (code, String(text[headEnd.upperBound...]))
}
