import Base
import Foundation
import Logging
import Node
import Server
import Testing

/// In-process `FlotillaServer`s: the node call channel is wired both ways — each node's
/// host calls out through its peer transport and answers the other node's calls.
@Suite(.serialized) struct NodeCallWiringTests {
    @Test(arguments: ServerConfig.peerTransports)
    func serversAnswerEachOthersNodeCalls(peerTransport: String) async throws {
        let root = NSTemporaryDirectory() + "flotilla-calls-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let peerPorts = [freePort(), freePort()]
        var servers: [FlotillaServer] = []
        for i in 1...2 {
            var c = ServerConfig()
            c.nodeID = i
            c.dataDir = "\(root)/node-\(i)"
            c.clientAddress = "127.0.0.1:0"
            c.metricsAddress = "127.0.0.1:0"
            c.peerAddress = "127.0.0.1:\(peerPorts[i - 1])"
            c.peers = ["1=127.0.0.1:\(peerPorts[0])", "2=127.0.0.1:\(peerPorts[1])"]
            c.rangeCount = 1
            c.peerTransport = peerTransport
            c.tickIntervalMs = 50
            c.reconnectInitialMs = 20
            var logger = Logger(label: "test")
            logger.logLevel = .error
            servers.append(try FlotillaServer(config: c, logger: logger))
        }
        for s in servers { try await s.start() }
        let (s1, s2) = (servers[0], servers[1])
        #expect("\(type(of: s1.transport))" == (peerTransport == "lean" ? "LeanPeerTransport" : "GRPCPeerTransport"))
        var up = false
        for _ in 0..<500 where !up {
            up = s1.transport.isCallStreamConnected(to: NodeID(2)) && s2.transport.isCallStreamConnected(to: NodeID(1))
            if !up { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(up, "call streams did not come up")
        // Node 1's host calls node 2 through the transport the server set on it, and back.
        let c1 = s1.host.callClient(timeoutMs: 5_000)
        // Its leader hints change while the ranges elect: the answer must be node 2's table
        // from just before or just after the call (in one of a few tries).
        var tableMatched = false
        for _ in 0..<20 where !tableMatched {
            let before = s2.host.routingTable()
            let answer = try await c1.routingTable(on: NodeID(2))
            tableMatched = answer == before || answer == s2.host.routingTable()
        }
        #expect(tableMatched, "node 2's routing table never matched its answer")
        // Once range 1 has elected, node 2 answers with the leader it knows.
        for _ in 0..<500 where s2.host.systemLeader() == .none { try await Task.sleep(for: .milliseconds(20)) }
        let known = s2.host.systemLeader()
        #expect(known != .none, "the system range elected no leader")
        // Node 2's answer is its belief at the time of the call; with 50 ms ticks on a loaded
        // machine the leader can move in between, so the answer must match node 2's belief
        // just before or just after the call (in one of a few tries), not a stale `known`.
        var matched = false
        for _ in 0..<20 where !matched {
            let before = s2.host.systemLeader()
            let answered = try await c1.systemLeader(on: NodeID(2))
            let after = s2.host.systemLeader()
            matched = answered != .none && (answered == before || answered == after)
        }
        #expect(matched, "node 2 never answered the system leader it believed in")
        let c2 = s2.host.callClient(timeoutMs: 5_000)
        #expect(try await c2.resolvedRevision(of: RangeID(2), on: NodeID(1)) == s1.host.resolvedRevision(of: RangeID(2)))
        #expect(s1.transport.stats.callsSent >= 2)
        #expect(s1.transport.stats.callsAnswered >= 1)
        for s in servers { await s.stop() }
    }
}
