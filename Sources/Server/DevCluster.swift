import Base
import Dispatch
import Foundation
public import Logging
import PeerTransport
import Synchronization

/// `flotilla dev`: a local 3-node cluster of child `flotilla serve` processes (this same
/// binary) on loopback. Owns the children: writes one config per node under the data
/// directory, starts them, waits until every range has a leader, prints the endpoints line,
/// and on SIGINT/SIGTERM stops them (SIGTERM, then SIGKILL after a grace period).
public final class DevCluster: Sendable {
    public struct Options: Sendable {
        public var executable: String
        public var dataDir: String = "./flotilla-data"
        public var ranges: Int = 8
        public var basePort: Int = 2379
        public var nodes: Int = 3
        public var extraArguments: [String] = []
        /// `listen.clientTransport` of every node.
        public var clientTransport = "lean"
        /// `peer.transport` of every node.
        public var peerTransport = "lean"
        /// `placement.policy` of every node (nil: the config default).
        public var placementPolicy: String? = nil
        public init(executable: String) { self.executable = executable }
    }

    public let options: Options
    let logger: Logger
    let children = Mutex<[Int32]>([])

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Port layout: client ports P, P+1, P+2; peer ports P+100...; metrics ports P+200...
    public func clientPort(_ i: Int) -> Int { options.basePort + i - 1 }
    public func peerPort(_ i: Int) -> Int { options.basePort + 100 + i - 1 }
    public func metricsPort(_ i: Int) -> Int { options.basePort + 200 + i - 1 }

    public var endpointsLine: String {
        "endpoints: " + (1...options.nodes).map { "127.0.0.1:\(clientPort($0))" }.joined(separator: ",")
    }

    /// Writes the configs and starts the children.
    public func start() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: options.dataDir, withIntermediateDirectories: true,
                               attributes: [.posixPermissions: 0o700])
        let peers = (1...options.nodes).map { "\($0)=127.0.0.1:\(peerPort($0))" }
        let clients = (1...options.nodes).map { "\($0)=127.0.0.1:\(clientPort($0))" }
        for i in 1...options.nodes {
            var c = ServerConfig()
            c.nodeID = i
            c.dataDir = options.dataDir + "/node-\(i)"
            c.clientAddress = "127.0.0.1:\(clientPort(i))"
            c.peerAddress = "127.0.0.1:\(peerPort(i))"
            c.metricsAddress = "127.0.0.1:\(metricsPort(i))"
            c.peers = peers
            c.clients = clients
            c.rangeCount = options.ranges
            c.clientTransport = options.clientTransport
            c.peerTransport = options.peerTransport
            if let policy = options.placementPolicy { c.placementPolicy = policy }
            let configPath = options.dataDir + "/node-\(i).toml"
            try c.renderTOML().write(toFile: configPath, atomically: true, encoding: .utf8)
            let logPath = options.dataDir + "/node-\(i).log"
            _ = fm.createFile(atPath: logPath, contents: nil)
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            log.seekToEndOfFile()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: options.executable)
            p.arguments = ["serve", "--config", configPath] + options.extraArguments
            p.standardError = log
            p.standardOutput = log
            try p.run()
            children.withLock { $0.append(p.processIdentifier) }
            logger.info("started node", metadata: ["node": "\(i)", "pid": "\(p.processIdentifier)", "log": "\(logPath)"])
        }
    }

    /// Waits until, on every node, every range has a leader that claims it.
    public func waitUntilServing(timeout: Duration = .seconds(60)) async throws {
        let clients = try (1...options.nodes).map {
            try AdminClient(address: .init(host: "127.0.0.1", port: clientPort($0)))
        }
        defer { clients.forEach { $0.close() } }
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if let ready = try? await allRangesLed(clients), ready { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw DevClusterError.notServing(timeout)
    }

    func allRangesLed(_ clients: [AdminClient]) async throws -> Bool {
        var leaders: [RangeID: NodeID] = [:]
        var ranges = Set<RangeID>()
        for (i, c) in clients.enumerated() {
            for s in try await c.status(timeout: .seconds(2)) {
                ranges.insert(s.rangeID)
                if s.isLeader { leaders[s.rangeID] = NodeID(UInt64(i + 1)) }
            }
        }
        return !ranges.isEmpty && ranges.allSatisfy { leaders[$0] != nil }
    }

    /// SIGTERM to every child, SIGKILL to those still alive after `graceSeconds`.
    public func stop(graceSeconds: Double = 10) {
        let pids = children.withLock { c in
            defer { c = [] }
            return c
        }
        for pid in pids { kill(pid, SIGTERM) }
        let end = Date().addingTimeInterval(graceSeconds)
        var alive = Set(pids)
        while !alive.isEmpty && Date() < end {
            for pid in alive {
                var status: Int32 = 0
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid || r < 0 { alive.remove(pid) }
            }
            usleep(50_000)
        }
        for pid in alive {
            logger.warning("child did not stop; killing", metadata: ["pid": "\(pid)"])
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// Runs the whole `flotilla dev` lifecycle; returns when signalled.
    public func run() async throws {
        let signals = TerminationSignals()
        defer { signals.cancel() }
        try start()
        do {
            try await waitUntilServing()
        } catch {
            stop()
            throw error
        }
        FileHandle.standardOutput.write(Data((endpointsLine + "\n").utf8))
        _ = await signals.next()
        logger.notice("stopping the cluster")
        stop()
    }
}

public enum DevClusterError: Error, CustomStringConvertible {
    case notServing(Duration)
    public var description: String {
        switch self {
        case .notServing(let d): "the cluster did not elect a leader for every range within \(d)"
        }
    }
}
