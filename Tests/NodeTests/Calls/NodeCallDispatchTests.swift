import Base
import Foundation
import MVCC
import Node
import Synchronization
import Testing

/// A call handler for transport tests: echoes the request after an optional delay and
/// counts what it answered.
final class EchoCallHandler: RaftTransportHandler, NodeCallHandler {
    let delayMs: Int
    let answered = Atomic<Int>(0)
    init(delayMs: Int = 0) { self.delayMs = delayMs }
    func deliver(from node: NodeID, messages: [RangeMessage]) {}
    func peerUnreachable(_ node: NodeID) {}
    func receiveSnapshot(from node: NodeID, header: SnapshotHeader,
                         chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {}
    func handleCall(from node: NodeID, _ request: [UInt8]) async -> [UInt8] {
        if delayMs > 0 { try? await Task.sleep(for: .milliseconds(delayMs)) }
        answered.add(1, ordering: .relaxed)
        return [UInt8(truncatingIfNeeded: node.rawValue)] + request
    }
}

/// `LocalTransport` as a `NodeCallTransport`: delivery, down nodes, cut links, timeouts.
@Suite struct LocalCallTransportTests {
    @Test func callsReachTheHandlerAndAnswerBack() async throws {
        let net = LocalNetwork()
        net.register(NodeID(2), EchoCallHandler())
        let answer = try await net.transport(for: NodeID(1)).call(NodeID(2), [7, 8], timeoutMs: 1_000)
        #expect(answer == [1, 7, 8])
        #expect(net.deliveredCalls == 1)
    }

    @Test func downNodesAndCutLinksAreUnreachable() async throws {
        let net = LocalNetwork()
        let echo = EchoCallHandler()
        net.register(NodeID(2), echo)
        net.register(NodeID(3), EchoCallHandler())
        let t1 = net.transport(for: NodeID(1))
        await #expect(throws: NodeCallError.unreachable(NodeID(4))) { try await t1.call(NodeID(4), [1], timeoutMs: 100) }
        net.setDown(NodeID(2), true)
        await #expect(throws: NodeCallError.unreachable(NodeID(2))) { try await t1.call(NodeID(2), [1], timeoutMs: 100) }
        net.setDown(NodeID(2), false)
        net.partition(NodeID(1), NodeID(2))
        await #expect(throws: NodeCallError.unreachable(NodeID(2))) { try await t1.call(NodeID(2), [1], timeoutMs: 100) }
        #expect(echo.answered.load(ordering: .relaxed) == 0)
        // Other links still work.
        #expect(try await t1.call(NodeID(3), [5], timeoutMs: 100) == [1, 5])
        net.partition(NodeID(1), NodeID(2), cut: false)
        #expect(try await t1.call(NodeID(2), [6], timeoutMs: 100) == [1, 6])
    }

    @Test func aSlowAnswerTimesOutWithoutWaitingForTheHandler() async {
        let net = LocalNetwork()
        // The handler would take 10 minutes; the caller is back after its 50 ms deadline
        // (the bound is loose: a loaded 2-core machine can starve the test for seconds).
        net.register(NodeID(2), EchoCallHandler(delayMs: 600_000))
        let start = ContinuousClock.now
        await #expect(throws: NodeCallError.timeout(NodeID(2))) {
            try await net.transport(for: NodeID(1)).call(NodeID(2), [1], timeoutMs: 50)
        }
        #expect(ContinuousClock.now - start < .seconds(120))
    }

    @Test func aLinkCutWhileTheCallRunsLosesTheAnswer() async {
        let net = LocalNetwork()
        let echo = EchoCallHandler(delayMs: 100)
        net.register(NodeID(2), echo)
        let t1 = net.transport(for: NodeID(1))
        let result = Task { () async throws(NodeCallError) -> [UInt8] in try await t1.call(NodeID(2), [1], timeoutMs: 2_000) }
        try? await Task.sleep(for: .milliseconds(20))
        net.partition(NodeID(1), NodeID(2))
        await #expect(throws: NodeCallError.timeout(NodeID(2))) { try await result.value }
        #expect(echo.answered.load(ordering: .relaxed) == 1)
    }

    @Test func typedClientMapsTransportFailures() async {
        let net = LocalNetwork()
        let client = NodeCallClient(transport: net.transport(for: NodeID(1)), timeoutMs: 100)
        await #expect(throws: ProposalError.notLeader(leaderHint: .none)) {
            try await client.freshRevision(on: NodeID(9))
        }
        // An echo is not a valid answer: the client reports it instead of crashing.
        net.register(NodeID(2), EchoCallHandler())
        do {
            _ = try await client.freshRevision(on: NodeID(2))
            Issue.record("an echoed request must not decode as an answer")
        } catch {
            guard case .proposalDropped = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
    }
}

extension NodeClusterTests {
    /// `NodeHost.handleCall` over a 3-node in-process cluster: each call runs the NodeHost
    /// method it names and answers what a direct call answers.
    @Suite struct NodeCallDispatchTests {
        @Test func callsRunTheNamedNodeHostMethod() async throws {
            let c = try TestCluster(ranges: 2)
            defer { c.shutdown() }
            let (n1, n2) = (NodeID(1), NodeID(2))
            for (_, h) in c.hosts { h.callTransport = c.network.transport(for: h.nodeID) }
            let client = c.hosts[n1]!.callClient(timeoutMs: 5_000)
            let host2 = c.hosts[n2]!

            #expect(try await client.systemLeader(on: n2) == host2.systemLeader())
            #expect(try await client.routingTable(on: n2) == host2.routingTable())
            let range = c.rangeIDs[0]
            #expect(try await client.resolvedRevision(of: range, on: n2) == host2.resolvedRevision(of: range))
            #expect(c.network.deliveredCalls == 3)

            // localRead: the remote answer equals the direct one (value or error).
            let request = RangeRequest(key: c.key(range: 0, "a"))
            let direct: Result<RangeResponse, ProposalError> = Result { () throws(ProposalError) in
                try host2.localRead(request, in: range)
            }
            var remote: Result<RangeResponse, ProposalError>
            do { remote = .success(try await client.localRead(request, range: range, on: n2)) } catch { remote = .failure(error) }
            #expect(remote == direct)

            // A forwarded proposal to the range's leader: applied there, or refused with the
            // same kind of error a direct proposal gets.
            #expect(await c.eventually { c.leader(of: range) != nil })
            let leader = c.leader(of: range)!
            let key = c.key(range: 0, "forwarded")
            do {
                let result = try await client.propose(.put(PutRequest(key: key, value: [42])), range: range,
                                                      epoch: nil, requestID: 0xF00D, on: leader)
                guard case .put(let p) = result else {
                    Issue.record("unexpected \(result)")
                    return
                }
                #expect(p.revision > 0)
                #expect(await c.eventually { c.value(on: leader, key) == [42] })
            } catch {
                var directError: ProposalError?
                do {
                    _ = try await c.hosts[leader]!.propose(.put(PutRequest(key: key, value: [42])), to: range,
                                                          epoch: nil, requestID: 0xF00E)
                } catch let e { directError = e }
                #expect(directError == error, "forwarded \(error) vs direct \(String(describing: directError))")
            }
        }

        @Test func malformedCallsAreAnsweredWithAFailure() async throws {
            let c = try TestCluster(ranges: 1)
            defer { c.shutdown() }
            let t = c.network.transport(for: NodeID(1))
            var rng = SeededGenerator(seed: 99)
            for i in 0..<300 {
                var bytes = (0..<Int.random(in: 0..<40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if !bytes.isEmpty { bytes[0] = UInt8.random(in: 0x10...0x3F, using: &rng) }
                let answer = try await t.call(NodeID(2), bytes, timeoutMs: 5_000)
                let decoded = try NodeCallAnswer.decode(answer)
                if (try? NodeCall.decode(bytes)) == nil {
                    guard case .failure(.proposalDropped) = decoded else {
                        Issue.record("seed 99 case \(i): \(bytes) answered \(decoded)")
                        return
                    }
                }
            }
            let empty = try NodeCallAnswer.decode(try await t.call(NodeID(2), [], timeoutMs: 1_000))
            guard case .failure(.proposalDropped) = empty else {
                Issue.record("empty call answered \(empty)")
                return
            }
        }
    }
}
