import Base
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import WAL

/// The node's WAL sync thread. Owns the queue of record batches the poll loop hands over
/// (one batch per round that had anything to persist) and the thread that writes them:
/// everything queued when the thread looks is written with ONE `WriteAheadLog.append`
/// (one write, one fdatasync: group commit across rounds), then `onDurable` reports the
/// sequence number of the last batch that is now durable. Batches are written in the order
/// they were submitted. The loop never waits for the disk; it holds back what depends on a
/// batch (the replicas' Readies, their acknowledgements, their applies) until the report.
///
/// Records that need no sync of their own (`submitUnsynced`: hard states whose commit index
/// alone moved) join the queue without a batch number and without waking the thread: they
/// are written, in queue order, with the next batch that needs a sync (or at
/// `waitUntilIdle` / `stop`), so they never cost an fdatasync of their own.
///
/// **Waiting for the loop after a report** (session 13, `waitsForLoop`): after reporting a
/// batch durable the thread starts no new append until the loop has run the round that
/// took the report (`loopCaughtUp`), so the next Readies of every replica that batch
/// released share one write and one fdatasync with the batches queued meanwhile. Without
/// it, with several ranges on a node, a batch queued during a sync (a range that was not
/// syncing) was written alone right after it, and the released replicas' next Readies
/// waited behind that second sync: more, smaller fdatasyncs and a longer wait for the
/// ranges of the first batch (figures: docs/bench.md, "Results, session 14: 8-range put").
/// Only the start of a write moves; what is written, its order and the reports are unchanged.
///
/// Why the gate never stays closed with batches queued (liveness):
/// 1. It closes only in `run`, at report R, under the lock, *before* `onDurable(R)`; the
///    node's `onDurable` enqueues `durableBatch >= R` in the mailbox and wakes the loop
///    (`NodeHost.noteDurable`). The loop can therefore not take R before the gate is closed
///    at R, and a round that ran just before only leaves the gate closed.
/// 2. Every round calls `loopCaughtUp(durableSeen:)` unconditionally (no early return in
///    `NodeHost.round`) with the highest report it took, after handing off its records; the
///    round woken by R opens the gate and wakes the thread when batches are queued. A
///    submit while the gate is closed does not wake the thread; the same round's
///    `loopCaughtUp` does. Semaphore signals are counted, so a wake between the thread's
///    check and its wait is not lost.
/// 3. The loop blocks, inside a round, on the sync thread only through `waitUntilIdle`
///    (`removeReplica`, which holds the loop's state): that submit is *forced*
///    (`forcedThrough`): the gate holds no append while a forced batch is not yet taken,
///    even when a report closes the gate after the forced submit (the sync in progress
///    ending), which left the thread waiting for a round the blocked loop could not run.
/// 4. When the loop exits (`stop`), `stop()` opens the gate for good (`stopping`) and the
///    thread writes everything queued. A test hook that pauses the loop
///    (`beforeLoopIteration`) keeps the gate closed only while it pauses it.
/// 5. Nothing is submitted before `NodeHost.init` sets the report's host (the loop and
///    `removeReplica` need a started host), so no report is dropped for a missing host.
/// With `waitsForLoop` false (`NodeConfig.syncWaitsForLoop`, the default since session 14:
/// fewer fdatasyncs but no measured gain, docs/bench.md) the gate never closes.
///
/// Must not: touch Raft or the replicas (the report goes through the node's mailbox).
final class WALSyncer: Sendable {
    private struct State {
        var queue: [WALRecord] = []
        /// Sequence number of the last submitted batch (batches are numbered from 1).
        var submitted: UInt64 = 0
        /// Sequence number of the last batch known durable.
        var durable: UInt64 = 0
        /// Sequence number of the last batch the thread has taken from the queue.
        var taken: UInt64 = 0
        /// Records of `queue` up to the end of its last synced batch (the rest are unsynced
        /// records queued after it).
        var syncedPrefix = 0
        /// A durable report (its sequence number) the loop has not yet caught up with: no
        /// new append starts meanwhile (`waitsForLoop`). 0: open.
        var gate: UInt64 = 0
        /// The last batch a caller blocks on (`waitUntilIdle`): the gate holds no append
        /// while it is not taken (liveness, point 3).
        var forcedThrough: UInt64 = 0
        /// Appends that waited for the loop before they started (`waitsForLoop`).
        var gatedAppends: UInt64 = 0
        var stopping = false
        var exited = false
    }

    private let wal: WriteAheadLog
    private let state = Mutex(State())
    private let work = DispatchSemaphore(value: 0)
    private let onDurable: @Sendable (UInt64) -> Void
    /// Test hook, called on the sync thread before each append (a test may block in it).
    private let beforeSync: (@Sendable () -> Void)?
    /// Whether a new append waits, after a durable report, for the loop's round that took it.
    let waitsForLoop: Bool

    init(wal: WriteAheadLog, name: String, waitsForLoop: Bool = false, beforeSync: (@Sendable () -> Void)?,
         onDurable: @escaping @Sendable (UInt64) -> Void) {
        self.wal = wal
        self.onDurable = onDurable
        self.beforeSync = beforeSync
        self.waitsForLoop = waitsForLoop
        let thread = Thread { [self] in
            nameOSThread("flotilla-wal")
            run()
        }
        thread.name = name
        thread.start()
    }

    /// Queues `records` for the next sync; returns the batch's sequence number. While the
    /// loop has not caught up with the last durable report the thread is not woken: the
    /// loop's `loopCaughtUp` at the end of the same round does it. `force` (for callers that
    /// block until the batch is durable) lets the batch be written without that wait.
    func submit(_ records: [WALRecord], force: Bool = false) -> UInt64 {
        let (seq, wake) = state.withLock { s -> (UInt64, Bool) in
            s.queue += records
            s.syncedPrefix = s.queue.count
            s.submitted += 1
            if force { s.forcedThrough = s.submitted }
            return (s.submitted, s.gate == 0 || force)
        }
        if wake { work.signal() }
        return seq
    }

    /// The poll loop has finished the Readies of every batch up to `durableSeen` and
    /// handed off the records of its round: if that covers the last durable report, the
    /// next append may start (and the thread is woken when batches are queued).
    func loopCaughtUp(durableSeen: UInt64) {
        let wake = state.withLock { s -> Bool in
            guard s.gate != 0, durableSeen >= s.gate else { return false }
            s.gate = 0
            guard s.submitted > s.taken else { return false }
            s.gatedAppends += 1
            return true
        }
        if wake { work.signal() }
    }

    /// Appends that waited for the loop's round after a durable report.
    var gatedAppends: UInt64 { state.withLock { $0.gatedAppends } }

    /// Sequence number of the last submitted batch (tests).
    var submittedBatches: UInt64 { state.withLock { $0.submitted } }

    /// Queues `records` without a sync of their own: they are written (and made durable)
    /// with the next batch submitted by `submit`, or at `waitUntilIdle` / `stop`. Until
    /// then a crash loses them; only records whose loss is harmless may go this way.
    func submitUnsynced(_ records: [WALRecord]) {
        state.withLock { $0.queue += records }
    }

    /// Whether every submitted batch is durable.
    var isIdle: Bool { state.withLock { $0.submitted == $0.durable } }

    /// Blocks until every batch submitted so far is durable (replica removal, stop). Call
    /// from the poll loop or a thread of its own, never from the cooperative pool.
    func waitUntilIdle() {
        // Unsynced records still queued are written too (an empty batch takes them).
        let target = submit([], force: true)
        while state.withLock({ $0.durable < target && !$0.exited }) { usleep(100) }
    }

    /// Writes what is queued, then ends the thread (blocks until it has). `dropUnsynced`
    /// (a simulated crash) drops the unsynced records queued after the last synced batch,
    /// which a crash would lose.
    func stop(dropUnsynced: Bool = false) {
        state.withLock { s in
            if dropUnsynced { s.queue.removeSubrange(s.syncedPrefix...) }
            s.stopping = true
            s.gate = 0
        }
        work.signal()
        while !state.withLock({ $0.exited }) { usleep(100) }
    }

    private func run() {
        while true {
            work.wait()
            let (records, through, stopping) = state.withLock { s -> ([WALRecord], UInt64, Bool) in
                // Only unsynced records queued (this wake-up's batch was taken earlier):
                // they wait for the next batch.
                guard s.submitted > s.taken || s.stopping else { return ([], 0, false) }
                // Waiting for the loop's round after the last report (`loopCaughtUp`
                // wakes the thread again).
                guard s.gate == 0 || s.stopping || s.forcedThrough > s.taken else { return ([], 0, false) }
                let taken = s.queue
                s.queue = []
                s.syncedPrefix = 0
                s.taken = s.submitted
                return (taken, s.submitted, s.stopping)
            }
            if !records.isEmpty {
                beforeSync?()
                do {
                    try wal.append(records)
                } catch {
                    // Durability can no longer be promised for anything: stop the process.
                    fatalError("WAL append failed: \(error)")
                }
            }
            if through > 0 {
                let advanced = state.withLock { s -> Bool in
                    guard through > s.durable else { return false }
                    s.durable = through
                    if waitsForLoop && !s.stopping { s.gate = through }
                    return true
                }
                if advanced { onDurable(through) }
            }
            if stopping {
                state.withLock { $0.exited = true }
                return
            }
        }
    }
}

/// Lets the sync thread (created before its `NodeHost` exists) report to the host without
/// owning it: a weak reference set once at the end of `NodeHost.init`.
final class DurableReport: Sendable {
    private struct Weak { weak var host: NodeHost? }
    private let box = Mutex(Weak())

    var host: NodeHost? {
        get { box.withLock { $0.host } }
        set { box.withLock { $0.host = newValue } }
    }
}

/// Names the calling thread for the OS (`/proc/*/task/*/comm`, `top -H`, `perf`; at most 15
/// bytes on Linux): Foundation's `Thread.name` does not reach it there, so the poll loop and
/// the WAL thread showed up as `com.apple.root.default-qos` like the cooperative pool.
func nameOSThread(_ name: String) {
    #if os(Linux)
    // Glibc's module does not export pthread_setname_np; the thread's comm file is its name.
    let fd = open("/proc/thread-self/comm", O_WRONLY)
    guard fd >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    #endif
}
