import Base
import Node
@testable import PeerTransport
import Testing

@Suite("SendQueue and PeerFrame")
struct SendQueueTests {
    @Test("a full queue drops the oldest frames and hands out the rest in order")
    func dropsOldest() async {
        let q = SendQueue<Int>(capacity: 4)
        var kept: [Bool] = []
        for i in 0..<10 { kept.append(q.push(i)) }
        #expect(kept == [true, true, true, true, false, false, false, false, false, false])
        #expect(q.droppedCount == 6)
        #expect(await q.next() == [6, 7, 8, 9])
        q.push(10)
        #expect(await q.next() == [10])
    }

    @Test("a waiting consumer is woken by a push, and released by close and by cancellation")
    func wakes() async throws {
        let q = SendQueue<Int>(capacity: 4)
        let waiter = Task { await q.next() }
        try await Task.sleep(for: .milliseconds(50))
        q.push(1)
        #expect(await waiter.value == [1])
        let cancelled = Task { await q.next() }
        try await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        #expect(await cancelled.value == nil)
        let closed = Task { await q.next() }
        try await Task.sleep(for: .milliseconds(50))
        q.close()
        #expect(await closed.value == nil)
    }

    @Test("frames round-trip the sender and the batch, and reject short input")
    func frames() throws {
        let batch = (0..<5 as Range<UInt64>).map(message)
        let (from, got) = try PeerFrame.decode(PeerFrame.encode(from: NodeID(9), batch: batch))
        #expect(from == NodeID(9))
        #expect(got == batch)
        let (_, empty) = try PeerFrame.decode(PeerFrame.encode(from: NodeID(3), batch: []))
        #expect(empty.isEmpty)
        #expect(throws: (any Error).self) { try PeerFrame.decode([1, 2, 3]) }
    }
}
