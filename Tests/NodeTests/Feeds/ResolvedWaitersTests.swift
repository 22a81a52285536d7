import Base
import MVCC
@testable import Node
import Synchronization
import Testing

/// Feed long polls park in `ResolvedRevisions` instead of polling a timer: each parked poll
/// must come back exactly when its range's resolved revision passes what it waits beyond,
/// at its deadline, on cancel, when the range is dropped, or when the node stops — and not
/// before.
@Suite struct ResolvedWaitersTests {
    let range = RangeID(7)

    /// Set once a waiter returned.
    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
        func load(ordering _: AtomicLoadOrdering = .acquiring) -> Bool { value.load(ordering: .acquiring) }
    }

    /// Starts a waiter; returns a flag set when it returns.
    func park(_ r: ResolvedRevisions, beyond: Int64, deadlineNs: UInt64 = .max) -> (Task<Void, Never>, Flag) {
        let done = Flag()
        let task = Task { [range] in
            await r.waitForAdvance(range, beyond: beyond, deadlineNs: deadlineNs)
            done.value.store(true, ordering: .releasing)
        }
        return (task, done)
    }

    /// Waits (bounded) until `n` waiters are parked.
    func parked(_ r: ResolvedRevisions, _ n: Int) async -> Bool {
        for _ in 0..<2_000 {
            if r.waiterCount == n { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return false
    }

    @Test func advancePastBeyondWakesOnlyThoseItSatisfies() async {
        let r = ResolvedRevisions()
        _ = r.touch(range, now: 1)
        let (low, lowDone) = park(r, beyond: 0)
        let (high, highDone) = park(r, beyond: 10)
        #expect(await parked(r, 2))
        r.note(range, revision: 5, atIndex: 0)  // applied 0 >= index 0: resolved 5
        await low.value
        #expect(lowDone.load(ordering: .acquiring))
        #expect(r.waiterCount == 1)
        #expect(!highDone.load(ordering: .acquiring))
        r.resolve(range, at: 10)  // not past 10
        #expect(r.waiterCount == 1)
        r.resolve(range, at: 11)
        await high.value
        #expect(highDone.load(ordering: .acquiring))
        #expect(r.waiterCount == 0)
    }

    @Test func appliedIndexReachingAPendingCloseWakes() async {
        let r = ResolvedRevisions()
        _ = r.touch(range, now: 1)
        r.note(range, revision: 9, atIndex: 4)  // waits for index 4 to apply here
        let (t, done) = park(r, beyond: 0)
        #expect(await parked(r, 1))
        r.noteApplied { _ in (3, nil) }
        #expect(r.waiterCount == 1)
        r.noteApplied { _ in (4, nil) }
        await t.value
        #expect(done.load(ordering: .acquiring))
        #expect(r.resolved(of: range) == 9)
    }

    @Test func anAppliedWriteRevisionResolvesAndWakesWithoutAClose() async {
        let r = ResolvedRevisions()
        _ = r.touch(range, now: 1)
        let (t, done) = park(r, beyond: 6)
        #expect(await parked(r, 1))
        r.noteApplied { _ in (2, 6) }  // the write at 6 applied: not beyond 6 yet
        #expect(r.waiterCount == 1 && r.resolved(of: range) == 6)
        r.noteApplied { _ in (3, 5) }  // never goes back
        #expect(r.resolved(of: range) == 6)
        r.noteApplied { _ in (4, 8) }
        await t.value
        #expect(done.load(ordering: .acquiring))
        #expect(r.resolved(of: range) == 8)
    }

    @Test func deadlineCancelDropAndCloseAllReturn() async {
        let r = ResolvedRevisions()
        _ = r.touch(range, now: 1)
        let (expiring, _) = park(r, beyond: 0, deadlineNs: 100)
        let (kept, keptDone) = park(r, beyond: 0, deadlineNs: 1_000)
        #expect(await parked(r, 2))
        r.expireWaiters(now: 500)
        await expiring.value
        #expect(r.waiterCount == 1)
        #expect(!keptDone.load(ordering: .acquiring))
        kept.cancel()
        await kept.value
        #expect(r.waiterCount == 0)

        let (dropped, _) = park(r, beyond: 0)
        #expect(await parked(r, 1))
        r.forget(range)
        await dropped.value
        #expect(r.waiterCount == 0)

        _ = r.touch(range, now: 1)
        let (stopping, _) = park(r, beyond: 0)
        #expect(await parked(r, 1))
        r.close()
        await stopping.value
        // After close nothing parks: a new wait returns at once.
        await r.waitForAdvance(range, beyond: 0, deadlineNs: .max)
        #expect(r.waiterCount == 0)
    }

    @Test func alreadySatisfiedOrUntrackedReturnsAtOnce() async {
        let r = ResolvedRevisions()
        await r.waitForAdvance(range, beyond: 0, deadlineNs: .max)  // untracked
        _ = r.touch(range, now: 1)
        r.resolve(range, at: 3)
        await r.waitForAdvance(range, beyond: 2, deadlineNs: .max)
        #expect(r.waiterCount == 0)
    }
}
