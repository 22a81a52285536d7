import Base
import Node
@testable import Router
import Synchronization
import Testing

/// The router's bounded, coalescing queue of late lease re-checks (`LateLeaseRechecks`).
@Suite struct LateLeaseRechecksTests {
    let t0 = ContinuousClock.now

    @Test func coalescesLeasesAndSpans() {
        let q = LateLeaseRechecks(delay: .seconds(10), capacity: 8, maxSpans: 4, warn: nil)
        #expect(q.enqueue([g(1), g(2)], spans: [.point([1])], now: t0), "the first enqueue starts a worker")
        #expect(!q.enqueue([g(1)], spans: [.point([1]), .point([2])], now: t0 + .seconds(1)), "one worker only")
        #expect(q.counts.queued == 2)
        #expect(q.next(now: t0 + .seconds(5)) == .sleep(until: t0 + .seconds(10)))
        // Lease 2 is due at 10 s; lease 1 was queued again at 1 s, so it is due at 11 s.
        #expect(q.next(now: t0 + .seconds(10)) == .run([(g(2), [.point([1])])]))
        #expect(q.next(now: t0 + .seconds(11)) == .run([(g(1), [.point([1]), .point([2])])]))
        #expect(q.next(now: t0 + .seconds(11)) == .exit)
        #expect(q.counts.workerRunning == false)
        #expect(q.enqueue([g(3)], spans: [.all], now: t0), "an exited worker is started again")
    }

    @Test func tooManySpansCollapseIntoTheWholeKeyspace() {
        let q = LateLeaseRechecks(delay: .zero, capacity: 8, maxSpans: 2, warn: nil)
        _ = q.enqueue([g(7)], spans: [.point([1]), .point([2])], now: t0)
        _ = q.enqueue([g(7)], spans: [.point([3])], now: t0)
        #expect(q.next(now: t0) == .run([(g(7), [.all])]))
    }

    @Test func fullQueueDropsAndCountsAndLogs() {
        let lines = LineSink()
        let q = LateLeaseRechecks(delay: .seconds(1), capacity: 3, maxSpans: 4, warn: { lines.add($0) })
        for lease in 1...10 { _ = q.enqueue([g(Int64(lease))], spans: [.all], now: t0) }
        // A lease already queued still coalesces when the queue is full.
        _ = q.enqueue([g(2)], spans: [.point([9])], now: t0)
        let c = q.counts
        #expect(c.queued == 3)
        #expect(c.dropped == 7)
        // Logged at 1, 2 and 4 drops (powers of two), not once per drop.
        #expect(lines.all.count == 3, "\(lines.all)")
        #expect(lines.all.last?.contains("4 re-checks dropped") == true)
    }

    @Test func stopEndsTheWorkerAndRefusesItems() async {
        let q = LateLeaseRechecks(delay: .seconds(3_600), capacity: 8, maxSpans: 4, warn: nil)
        #expect(q.enqueue([g(1)], spans: [.all]))
        let worker = Task.detached {
            while true {
                switch q.next() {
                case .exit: return
                case .sleep(let until):
                    do { try await Task.sleep(until: until, clock: .continuous) } catch { _ = q.next(); return }
                case .run: continue
                }
            }
        }
        q.attach(worker)
        q.stop()
        await worker.value  // a worker sleeping for an hour ends at once
        #expect(q.counts.workerRunning == false)
        #expect(!q.enqueue([g(2)], spans: [.all]), "a stopped queue starts no worker")
        #expect(q.counts.queued == 0)
    }

    /// The router's worker re-checks (and sweeps) a timed-out lease put once, then exits.
    @Test func routerWorkerDrainsAndExits() async throws {
        let cluster = try FakeCluster(splitKeys: ["k10", "k20", "k30"].map(bytes))
        var config = Router.Config()
        config.initialBackoff = .microseconds(50)
        config.maxBackoff = .microseconds(400)
        config.lateLeaseRecheckDelay = .milliseconds(10)
        let router = Router(access: cluster, config: config)
        for i in 0..<100 { router.recheckLeasesLater([g(Int64(i % 5) + 1)], spans: [.point(key(12))]) }
        #expect(router.lateRechecks.counts.queued <= 5, "coalesced per lease")
        let deadline = ContinuousClock.now + .seconds(300)  // hang bound (a starved test pool can take minutes)
        while router.lateRechecks.counts.workerRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(router.lateRechecks.counts.queued == 0)
        #expect(!router.lateRechecks.counts.workerRunning)
    }
}

/// A grant of `lease` (grant revision 1).
func g(_ lease: Int64) -> LeaseGrant { LeaseGrant(lease: lease, grantRevision: 1) }

/// Collects warning lines (thread-safe).
final class LineSink: Sendable {
    private let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
