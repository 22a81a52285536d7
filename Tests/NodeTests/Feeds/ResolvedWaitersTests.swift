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
    func park(_ r: ResolvedRevisions, beyond: Int64, deadlineNs: UInt64 = .max,
              interest: FeedInterest? = nil) -> (Task<Void, Never>, Flag) {
        let done = Flag()
        let task = Task { [range] in
            await r.waitForAdvance(range, beyond: beyond, deadlineNs: deadlineNs, interest: interest)
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
        r.noteApplied { _ in (3, nil, AppliedWrites()) }
        #expect(r.waiterCount == 1)
        r.noteApplied { _ in (4, nil, AppliedWrites()) }
        await t.value
        #expect(done.load(ordering: .acquiring))
        #expect(r.resolved(of: range) == 9)
    }

    @Test func anAppliedWriteRevisionResolvesAndWakesWithoutAClose() async {
        let r = ResolvedRevisions()
        _ = r.touch(range, now: 1)
        let (t, done) = park(r, beyond: 6)
        #expect(await parked(r, 1))
        r.noteApplied { _ in (2, 6, AppliedWrites()) }  // the write at 6 applied: not beyond 6 yet
        #expect(r.waiterCount == 1 && r.resolved(of: range) == 6)
        r.noteApplied { _ in (3, 5, AppliedWrites()) }  // never goes back
        #expect(r.resolved(of: range) == 6)
        r.noteApplied { _ in (4, 8, AppliedWrites()) }
        await t.value
        #expect(done.load(ordering: .acquiring))
        #expect(r.resolved(of: range) == 8)
    }

    /// A long poll naming what its consumers watch (`FeedInterest`) is woken by applied writes
    /// only when they wrote a watched key or something the loop cannot name (a delete range, a
    /// txn); a close wakes it whatever was written. A poll without interest is woken by every
    /// advance, as before.
    @Test func appliedWritesWakeOnlyPollsTheyConcern() async {
        let r = ResolvedRevisions()
        _ = r.touch(range, now: 1)
        let interest = FeedInterest()
        interest.add(key: [1])
        let (watching, watchingDone) = park(r, beyond: 0, interest: interest)
        let (plain, plainDone) = park(r, beyond: 0)
        #expect(await parked(r, 2))
        r.noteApplied { _ in (1, 5, AppliedWrites(keys: [[2], [1, 0]])) }  // not key [1]
        await plain.value
        #expect(plainDone.load() && !watchingDone.load() && r.waiterCount == 1 && r.resolved(of: range) == 5)
        r.noteApplied { _ in (2, 6, AppliedWrites(keys: [[3], [1]])) }
        await watching.value
        #expect(watchingDone.load() && r.waiterCount == 0)

        // Unknown writes wake it; so does a close, whatever was written with it.
        let (unknown, unknownDone) = park(r, beyond: 6, interest: interest)
        #expect(await parked(r, 1))
        r.noteApplied { _ in (3, 7, AppliedWrites(keys: [[2]])) }
        #expect(r.waiterCount == 1)
        r.noteApplied { _ in (4, 8, AppliedWrites(unknown: true)) }
        await unknown.value
        #expect(unknownDone.load())
        let (closed, closedDone) = park(r, beyond: 8, interest: interest)
        #expect(await parked(r, 1))
        r.noteApplied { _ in (5, 9, AppliedWrites(keys: [[2]])) }
        #expect(r.waiterCount == 1 && r.resolved(of: range) == 9)
        r.note(range, revision: 12, atIndex: 5)
        await closed.value
        #expect(closedDone.load() && r.resolved(of: range) == 12)
        // A close resolved in the same report as unrelated writes wakes it too.
        let (both, bothDone) = park(r, beyond: 12, interest: interest)
        #expect(await parked(r, 1))
        r.note(range, revision: 20, atIndex: 7)
        r.noteApplied { _ in (7, 14, AppliedWrites(keys: [[2]])) }
        await both.value
        #expect(bothDone.load() && r.resolved(of: range) == 20)
        // Interest in everything (a span, an eager consumer) wakes on any write.
        let everything = FeedInterest()
        everything.addEverything()
        let (any, anyDone) = park(r, beyond: 20, interest: everything)
        #expect(await parked(r, 1))
        r.noteApplied { _ in (8, 21, AppliedWrites(keys: [[9]])) }
        await any.value
        #expect(anyDone.load())
    }

    /// What a replica's applied writes record for the feeds: put keys while collecting (after
    /// the loop took the set once), `unknown` for anything else, for writes before the first
    /// take, and past the key bound; consumers counted per key.
    @Test func appliedWritesAndInterestBookkeeping() {
        var w = AppliedWrites()
        w.note(.put(PutRequest(key: [1], value: [])))
        #expect(w.unknown && w.keys.isEmpty)  // not collecting yet
        let first = w.take()
        #expect(first.unknown && w.collecting && !w.unknown)
        w.note(.put(PutRequest(key: [1], value: [])))
        w.note(.granted([], .put(PutRequest(key: [2], value: []))))
        w.note(.noOp)
        #expect(w.keys == [[1], [2]] && !w.unknown)
        w.note(.deleteRange(DeleteRangeRequest(key: [3])))
        #expect(w.unknown)
        _ = w.take()
        for i in 0...AppliedWrites.maxKeys { w.note(.put(PutRequest(key: [UInt8(i & 0xFF), 7], value: []))) }
        #expect(w.unknown && w.keys.isEmpty && !w.collecting)

        let interest = FeedInterest()
        interest.add(key: [1])
        interest.add(key: [1])
        interest.remove(key: [1])
        #expect(interest.concerns(AppliedWrites(keys: [[1]])))
        interest.remove(key: [1])
        #expect(!interest.concerns(AppliedWrites(keys: [[1]])))
        #expect(interest.concerns(AppliedWrites(unknown: true)))
        interest.addEverything()
        #expect(interest.concerns(AppliedWrites(keys: [[5]])))
        interest.removeEverything()
        #expect(!interest.concerns(AppliedWrites(keys: [[5]])))
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
