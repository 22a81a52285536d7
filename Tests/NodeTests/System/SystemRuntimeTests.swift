import Base
import MVCC
@testable import Node
import Testing

/// `SystemRangeRuntime` without a cluster: sessions start from the replicated state, a
/// session serves only its own term, and a low block asks for exactly one refill.
@Suite struct SystemRuntimeTests {
    @Test func takeServesTheSessionTermAndAsksForOneRefill() throws {
        let store = try MVCCStore.create(backend: InMemoryBackend(), rangeID: .system, start: [], end: nil)
        _ = try SystemStateMachine.apply(.allocateRevisions(count: 500), to: store)
        _ = try SystemStateMachine.apply(.grantLease(id: 9, ttl: 30), to: store)
        let runtime = SystemRangeRuntime(blockSize: 100)
        #expect(isStale(runtime.take(1, term: 4)))
        try runtime.startSession(term: 4, store: store, nowNs: 0)
        #expect(runtime.withSession(term: 4) { $0.floor } == 500)
        #expect(runtime.withSession(term: 4) { $0.leases[9]?.ttl } == 30)
        #expect(isNeedBlock(runtime.take(1, term: 4)))
        _ = runtime.withSession(term: 4) { $0.adopt(first: 501, last: 600) }
        guard case .served(let first, let refill1) = runtime.take(60, term: 4) else {
            Issue.record("not served")
            return
        }
        #expect(first == 501...560 && refill1)  // 40 left < half a block: one refill
        guard case .served(_, let refill2) = runtime.take(10, term: 4) else {
            Issue.record("not served")
            return
        }
        #expect(!refill2)  // already in flight
        #expect(isStale(runtime.take(1, term: 5)))
        // An older term never replaces a newer session.
        try runtime.startSession(term: 3, store: store, nowNs: 0)
        #expect(runtime.withSession(term: 4) { $0.remaining } == 30)
        // A newer term starts over above the persisted mark (the old block is dropped).
        _ = try SystemStateMachine.apply(.allocateRevisions(count: 100), to: store)
        try runtime.startSession(term: 6, store: store, nowNs: 0)
        #expect(runtime.withSession(term: 6) { ($0.floor, $0.remaining) } ?? (0, -1) == (600, 0))
    }

    func isStale(_ t: SystemRangeRuntime.Take) -> Bool {
        if case .staleTerm = t { return true }
        return false
    }

    func isNeedBlock(_ t: SystemRangeRuntime.Take) -> Bool {
        if case .needBlock = t { return true }
        return false
    }
}
