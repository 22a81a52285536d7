import Base
import Foundation
import Node
import PeerTransport
import Synchronization
import Testing

/// A node call handler for the transport tests: answers `[callers' node] + request` after
/// an optional delay, or a real `NodeCallAnswer` for `NodeCall.freshRevision`.
final class EchoNode: RaftTransportHandler, NodeCallHandler {
    let delayMs: Int
    let handled = Atomic<Int>(0)
    init(delayMs: Int = 0) { self.delayMs = delayMs }
    func deliver(from node: NodeID, messages: [RangeMessage]) {}
    func peerUnreachable(_ node: NodeID) {}
    func receiveSnapshot(from node: NodeID, header: SnapshotHeader,
                         chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {}
    func handleCall(from node: NodeID, _ request: [UInt8]) async -> [UInt8] {
        if delayMs > 0 { try? await Task.sleep(for: .milliseconds(delayMs)) }
        handled.add(1, ordering: .relaxed)
        if (try? NodeCall.decode(request)) == .freshRevision { return NodeCallAnswer.revision(4242).encoded() }
        return [UInt8(truncatingIfNeeded: node.rawValue)] + request
    }
}

@Suite struct CallFrameTests {
    @Test func callsAndAnswersRoundTrip() throws {
        let items = [CallFrame.Item(callID: 1, bytes: [1, 2, 3]), CallFrame.Item(callID: .max, bytes: []),
                     CallFrame.Item(callID: 7, bytes: Array(repeating: 9, count: 1000))]
        let (from, calls) = try CallFrame.decodeCalls(CallFrame.encodeCalls(from: NodeID(5), items))
        #expect(from == NodeID(5))
        #expect(calls == items)
        #expect(try CallFrame.decodeAnswers(CallFrame.encodeAnswers(items)) == items)
        #expect(try CallFrame.decodeCalls(CallFrame.encodeCalls(from: NodeID(1), [CallFrame.Item]())).items.isEmpty)
    }

    @Test func chunksKeepOrderAndBoundSize() {
        let items = (0..<50).map { CallFrame.Item(callID: UInt64($0), bytes: Array(repeating: 1, count: 100)) }
        let chunks = CallFrame.chunks(items, targetBytes: 1_000)
        #expect(chunks.flatMap { $0 } == items)
        #expect(chunks.count > 1)
        for c in chunks { #expect(c.reduce(0) { $0 + $1.bytes.count + 12 } <= 1_000 + 112) }
        #expect(CallFrame.chunks([], targetBytes: 10).isEmpty)
        // One item bigger than the target still travels (alone).
        #expect(CallFrame.chunks([CallFrame.Item(callID: 1, bytes: Array(repeating: 0, count: 50))], targetBytes: 10).count == 1)
    }

    @Test(arguments: [UInt64(11), 12, 13])
    func garbageNeverCrashesTheDecoder(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let valid = CallFrame.encodeCalls(from: NodeID(3), [CallFrame.Item(callID: 9, bytes: [1, 2]),
                                                              CallFrame.Item(callID: 10, bytes: [])])
        for i in 0..<3_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<48, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = valid
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                if i % 3 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng))) }
            }
            if let (from, items) = try? CallFrame.decodeCalls(bytes) {
                #expect(CallFrame.encodeCalls(from: from, items) == bytes, "seed \(seed) case \(i)")
            }
            if let items = try? CallFrame.decodeAnswers(bytes) {
                #expect(CallFrame.encodeAnswers(items) == bytes, "seed \(seed) case \(i)")
            }
        }
    }
}

@Suite("node calls over loopback (grpc and lean)", .serialized)
struct CallChannelTests {
    /// Two started transports; node 2 answers with `EchoNode(delayMs:)`.
    func startPair(_ kind: PeerTransportKind, delayMs: Int = 0) async throws -> (any NodePeerTransport, any NodePeerTransport, EchoNode) {
        let (a, b, _) = try makePair(kind)
        let echo = EchoNode(delayMs: delayMs)
        try await a.start(handler: EchoNode())
        try await b.start(handler: echo)
        #expect(await eventually { a.isCallStreamConnected(to: NodeID(2)) }, "call stream never came up")
        return (a, b, echo)
    }

    @Test(arguments: PeerTransportKind.allCases)
    func concurrentCallsAreMatchedBackAndCoalesced(kind: PeerTransportKind) async throws {
        let (a, b, echo) = try await startPair(kind)
        let answers = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for i in 0..<400 {
                group.addTask {
                    let payload = Array("call \(i)".utf8)
                    return (i, try await a.call(NodeID(2), payload, timeoutMs: 10_000))
                }
            }
            var out: [Int: [UInt8]] = [:]
            for try await (i, answer) in group { out[i] = answer }
            return out
        }
        #expect(answers.count == 400)
        for (i, answer) in answers { #expect(answer == [1] + Array("call \(i)".utf8), "call \(i)") }
        #expect(echo.handled.load(ordering: .relaxed) == 400)
        let sa = a.stats, sb = b.stats
        #expect(sa.callsSent == 400)
        #expect(sa.callMessagesSent < sa.callsSent, "no coalescing: \(sa.callMessagesSent) messages")
        #expect(sb.callsAnswered == 400)
        #expect(sb.callAnswerMessagesSent < sb.callsAnswered, "no coalescing: \(sb.callAnswerMessagesSent) messages")
        // A typed client over the same channel.
        let client = NodeCallClient(transport: a, timeoutMs: 5_000)
        #expect(try await client.freshRevision(on: NodeID(2)) == 4242)
        await a.stop()
        await b.stop()
    }

    @Test(arguments: PeerTransportKind.allCases)
    func unreachableSlowStoppedAndSelf(kind: PeerTransportKind) async throws {
        let (a, b, _) = try await startPair(kind, delayMs: 300_000)
        // A slow answer (5 minutes): the caller gets .timeout after its 100 ms deadline (the
        // bound is loose: a loaded 2-core machine can starve the test for seconds).
        let start = ContinuousClock.now
        await #expect(throws: NodeCallError.timeout(NodeID(2))) { try await a.call(NodeID(2), [1], timeoutMs: 100) }
        #expect(ContinuousClock.now - start < .seconds(120))
        // Unknown node: unreachable; own node: the local handler answers.
        await #expect(throws: NodeCallError.unreachable(NodeID(9))) { try await a.call(NodeID(9), [1], timeoutMs: 100) }
        #expect(try await a.call(NodeID(1), [5], timeoutMs: 100) == [1, 5])
        // The peer stops while a call is in flight: outcome unknown (.timeout); then the
        // peer is unreachable at once.
        let inFlight = Task { () async throws(NodeCallError) -> [UInt8] in try await a.call(NodeID(2), [2], timeoutMs: 20_000) }
        try await Task.sleep(for: .milliseconds(100))
        await b.stop()
        await #expect(throws: NodeCallError.timeout(NodeID(2))) { try await inFlight.value }
        #expect(await eventually { !a.isCallStreamConnected(to: NodeID(2)) })
        await #expect(throws: NodeCallError.unreachable(NodeID(2))) { try await a.call(NodeID(2), [3], timeoutMs: 1_000) }
        await a.stop()
        await #expect(throws: NodeCallError.closed) { try await a.call(NodeID(2), [4], timeoutMs: 100) }
    }

    @Test(arguments: PeerTransportKind.allCases)
    func theCallStreamReconnectsWhenThePeerReturns(kind: PeerTransportKind) async throws {
        let (a, _, addrs) = try makePair(kind)
        try await a.start(handler: EchoNode())
        await #expect(throws: NodeCallError.unreachable(NodeID(2))) { try await a.call(NodeID(2), [1], timeoutMs: 100) }
        var c2 = PeerTransportConfig(nodeID: NodeID(2), listen: addrs[NodeID(2)]!, peers: addrs)
        c2.reconnectInitialMs = 20
        let b = try kind.make(config: c2)
        try await b.start(handler: EchoNode())
        #expect(await eventually { a.isCallStreamConnected(to: NodeID(2)) })
        #expect(try await a.call(NodeID(2), [7], timeoutMs: 5_000) == [1, 7])
        await b.stop()
        #expect(await eventually { !a.isCallStreamConnected(to: NodeID(2)) })
        let b2 = try kind.make(config: c2)
        try await b2.start(handler: EchoNode())
        #expect(await eventually { a.isCallStreamConnected(to: NodeID(2)) })
        #expect(try await a.call(NodeID(2), [8], timeoutMs: 5_000) == [1, 8])
        #expect(a.stats.callStreamReconnects >= 1)
        await a.stop()
        await b2.stop()
    }
}
