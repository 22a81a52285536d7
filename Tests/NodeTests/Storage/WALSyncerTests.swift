import Base
import Foundation
import RaftCore
import Synchronization
import Testing
import WAL
@testable import Node

/// The WAL sync thread (`WALSyncer`) on its own, driven by the test as the poll loop would:
/// batches are submitted, durable reports arrive through the callback, and the "loop"
/// says when it has caught up with a report (`loopCaughtUp`).
@Suite struct WALSyncerTests {
    /// What the sync thread did, as seen from its hooks.
    final class Trace: Sendable {
        private let state = Mutex((durable: UInt64(0), appends: 0, caughtUp: false, appendsBeforeCaughtUp: 0))
        /// While true, the sync thread waits in `beforeSync` (a sync in progress).
        private let hold = Mutex(false)

        var durable: UInt64 { state.withLock { $0.durable } }
        var appends: Int { state.withLock { $0.appends } }
        var appendsBeforeCaughtUp: Int { state.withLock { $0.appendsBeforeCaughtUp } }
        func setHold(_ on: Bool) { hold.withLock { $0 = on } }
        func noteCaughtUp() { state.withLock { $0.caughtUp = true } }
        func resetCaughtUp() { state.withLock { $0.caughtUp = false; $0.appendsBeforeCaughtUp = 0 } }

        func beforeSync() {
            state.withLock { s in
                s.appends += 1
                if !s.caughtUp { s.appendsBeforeCaughtUp += 1 }
            }
            while hold.withLock({ $0 }) { usleep(500) }
        }

        func reported(_ seq: UInt64) { state.withLock { $0.durable = max($0.durable, seq) } }
    }

    final class Flag: Sendable {
        private let m = Mutex(false)
        func set() { m.withLock { $0 = true } }
        var isSet: Bool { m.withLock { $0 } }
    }

    static func openWAL() throws -> (WriteAheadLog, String) {
        let dir = NSTemporaryDirectory() + "flotilla-walsyncer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (wal, _) = try WriteAheadLog.open(directory: dir, options: WALOptions(preallocate: false))
        return (wal, dir)
    }

    static func entries(_ range: RangeID, from: UInt64, count: Int) -> WALRecord {
        .entries(range, (0..<UInt64(count)).map { Entry(term: 1, index: from + $0, data: [UInt8(truncatingIfNeeded: from + $0)]) })
    }

    /// Polls `condition` every millisecond for at most `seconds`.
    static func eventually(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(1_000)
        }
        return condition()
    }

    /// After a durable report, batches queued before the loop caught up with it are not
    /// written alone: they wait for `loopCaughtUp` and then share one append (one
    /// fdatasync) with the batches the loop queued in that round. (With the sync thread
    /// starting each append as soon as the last ended — the code before session 13 — the
    /// first such batch is written at once, alone.)
    @Test func batchesQueuedBeforeTheLoopCaughtUpShareOneAppend() throws {
        let (wal, dir) = try Self.openWAL()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trace = Trace()
        let syncer = WALSyncer(wal: wal, name: "test-wal", waitsForLoop: true, beforeSync: { trace.beforeSync() },
                               onDurable: { trace.reported($0) })
        defer { syncer.stop() }
        let a = RangeID(11), b = RangeID(12)
        trace.setHold(true)
        let first = syncer.submit([Self.entries(a, from: 1, count: 3)])
        #expect(Self.eventually { trace.appends == 1 }, "the first batch was never taken")
        trace.resetCaughtUp()
        trace.setHold(false)
        #expect(Self.eventually { trace.durable == first })
        // Range b was not syncing: its batch is queued right after the report, before the
        // loop's round that takes the report.
        _ = syncer.submit([Self.entries(b, from: 1, count: 2)])
        // Give a sync thread that does not wait every chance to write it alone.
        _ = Self.eventually(0.3) { trace.appends > 1 }
        // The loop's round: range a (released by the report) hands off its next entries.
        let third = syncer.submit([Self.entries(a, from: 4, count: 2)])
        trace.noteCaughtUp()
        syncer.loopCaughtUp(durableSeen: first)
        #expect(Self.eventually { trace.durable == third })
        #expect(trace.appendsBeforeCaughtUp == 0, "a batch was written before the loop caught up with the report")
        #expect(trace.appends == 2, "expected the two queued batches in one append, got \(trace.appends - 1) appends")
        #expect(wal.stats.fsyncs == 2)
        #expect(wal.bounds(of: a)?.last == 5)
        #expect(wal.bounds(of: b)?.last == 2)
        #expect(syncer.gatedAppends == 1)
    }

    /// `waitUntilIdle` (replica removal, called from the loop itself) does not wait for a
    /// `loopCaughtUp` that cannot come while it blocks the loop.
    @Test func waitUntilIdleDoesNotWaitForTheLoop() throws {
        let (wal, dir) = try Self.openWAL()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trace = Trace()
        let syncer = WALSyncer(wal: wal, name: "test-wal", waitsForLoop: true, beforeSync: { trace.beforeSync() },
                               onDurable: { trace.reported($0) })
        defer { syncer.stop() }
        let a = RangeID(21)
        let first = syncer.submit([Self.entries(a, from: 1, count: 1)])
        #expect(Self.eventually { trace.durable == first })
        _ = syncer.submit([Self.entries(a, from: 2, count: 1)])  // gated: the loop has not caught up
        syncer.waitUntilIdle()
        #expect(syncer.isIdle)
        #expect(wal.bounds(of: a)?.last == 2)
    }

    /// `waitUntilIdle` called while a sync is in progress (replica removal holds the loop's
    /// state, so no round can call `loopCaughtUp`): the report of the sync in progress closes
    /// the gate after the forced submit, and the forced batch must still be written. (With a
    /// forced submit that only opened the gate at submit time — the session 13 WIP — the
    /// thread waited for a round the blocked loop could not run, and this hung.)
    @Test func waitUntilIdleDuringASyncDoesNotWaitForTheLoop() throws {
        let (wal, dir) = try Self.openWAL()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trace = Trace()
        let syncer = WALSyncer(wal: wal, name: "test-wal", waitsForLoop: true, beforeSync: { trace.beforeSync() },
                               onDurable: { trace.reported($0) })
        defer { syncer.stop() }
        let a = RangeID(31), b = RangeID(32)
        trace.setHold(true)
        let first = syncer.submit([Self.entries(a, from: 1, count: 1)])
        #expect(Self.eventually { trace.appends == 1 }, "the first batch was never taken")
        // A batch queued during the sync, then the blocking caller's forced one.
        _ = syncer.submit([Self.entries(b, from: 1, count: 1)])
        let idle = Flag()
        let waiter = Thread {
            syncer.waitUntilIdle()
            idle.set()
        }
        waiter.start()
        #expect(Self.eventually { syncer.submittedBatches == first + 2 }, "waitUntilIdle never submitted")
        trace.setHold(false)
        // No `loopCaughtUp`: the loop is blocked behind the caller.
        let returned = Self.eventually(10) { idle.isSet }
        #expect(returned, "waitUntilIdle waited for the loop (durable \(trace.durable) of \(first + 2))")
        #expect(wal.bounds(of: a)?.last == 1)
        #expect(wal.bounds(of: b)?.last == 1)
        if !returned {
            // Let the waiter finish before the syncer goes away (`stop` opens the gate).
            syncer.loopCaughtUp(durableSeen: .max)
            _ = Self.eventually(10) { idle.isSet }
        }
    }

    /// A seeded model of the poll loop against the sync thread: rounds that submit synced
    /// and unsynced batches for random ranges, take durable reports at random moments and
    /// say they caught up (sometimes with an old report). Checks that every batch becomes
    /// durable (the thread never stalls waiting for the loop) with every range's entries in
    /// the log, in order. Both with and without waiting for the loop.
    @Test(arguments: [false, true]) func randomRoundsLoseNothingAndNeverStall(waits: Bool) throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("WALSyncerTests.randomRounds(waits: \(waits)) seed \(seed)")
        var rng = SeededGenerator(seed: seed)
        let (wal, dir) = try Self.openWAL()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trace = Trace()
        trace.noteCaughtUp()
        let syncer = WALSyncer(wal: wal, name: "test-wal", waitsForLoop: waits, beforeSync: { trace.beforeSync() },
                               onDurable: { trace.reported($0) })
        let ranges = (1...8).map { RangeID(UInt64(100 + $0)) }
        var next: [RangeID: UInt64] = Dictionary(uniqueKeysWithValues: ranges.map { ($0, 1) })
        var commit: [RangeID: UInt64] = [:]
        var submitted: UInt64 = 0
        var seen: UInt64 = 0
        for _ in 0..<300 {
            // Take the report as a round would (it may be older than the thread's latest).
            if Bool.random(using: &rng) { seen = max(seen, trace.durable) }
            var records: [WALRecord] = []
            for r in ranges where Int.random(in: 0..<4, using: &rng) == 0 {
                let n = Int.random(in: 1...3, using: &rng)
                records.append(Self.entries(r, from: next[r]!, count: n))
                next[r]! += UInt64(n)
                records.append(.hardState(r, HardState(term: 1, vote: 1, commit: next[r]! - 1)))
            }
            if !records.isEmpty {
                submitted = syncer.submit(records)
            } else if let r = ranges.randomElement(using: &rng), next[r]! > 1 {
                commit[r] = next[r]! - 1
                syncer.submitUnsynced([.hardState(r, HardState(term: 1, vote: 1, commit: commit[r]!))])
            }
            syncer.loopCaughtUp(durableSeen: seen)
            if Int.random(in: 0..<3, using: &rng) == 0 { usleep(UInt32.random(in: 0...2_000, using: &rng)) }
        }
        // The loop keeps taking reports until everything is durable (it is woken by each).
        let done = Self.eventually(30) {
            seen = trace.durable
            syncer.loopCaughtUp(durableSeen: seen)
            return trace.durable == submitted
        }
        #expect(done, "seed \(seed): durable \(trace.durable) of \(submitted) batches")
        syncer.waitUntilIdle()
        syncer.stop()
        for r in ranges {
            #expect(wal.bounds(of: r)?.last ?? 0 == next[r]! - 1, "seed \(seed): range \(r)")
            let entries = try wal.entries(of: r, from: 1, to: next[r]!)
            #expect(entries.map(\.index) == Array(1..<next[r]!), "seed \(seed): range \(r) entries")
        }
    }
}
